//! Background threads of the postmaster: the walwriter and the checkpointer.
//!
//! - walwriter: every `wal_writer_delay`, flushes WAL that commits with
//!   `synchronous_commit = off` left unflushed (`wal.flush(wal.insert_lsn())`).
//!   A flush failure is PANIC, as PostgreSQL: the process stops, since WAL that
//!   could not be made durable cannot be trusted.
//! - checkpointer: a checkpoint every `checkpoint_timeout` ("time"), or earlier
//!   when the WAL written since the last one passes half of `max_wal_size`
//!   ("wal"). The shutdown checkpoint is not its job: the postmaster writes it
//!   after both threads stopped, so no two checkpoints overlap at shutdown.
//!
//! Both wait on one condition variable so that [`BgWorkers::stop`] ends them at
//! once. Settings are re-read every round, so a reload takes effect.
//!
//! Corresponds to PostgreSQL's `postmaster/walwriter.c` and
//! `postmaster/checkpointer.c`.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tandem_config::Config;
use tandem_storage::Database;
use tandem_types::elog::{self, Level};

struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    /// Sleeps up to `d`; true if asked to stop.
    fn sleep(&self, d: Duration) -> bool {
        let mut g = self.stopped.lock();
        if !*g {
            self.cv.wait_for(&mut g, d);
        }
        *g
    }
}

pub(crate) struct BgWorkers {
    stop: Arc<StopSignal>,
    threads: Vec<JoinHandle<()>>,
}

impl BgWorkers {
    pub fn start(db: Arc<Database>, config: Arc<Config>) -> BgWorkers {
        let stop = Arc::new(StopSignal {
            stopped: Mutex::new(false),
            cv: Condvar::new(),
        });
        let mut threads = Vec::new();
        {
            let (db, config, stop) = (db.clone(), config.clone(), stop.clone());
            if let Ok(h) = std::thread::Builder::new()
                .name("walwriter".into())
                .spawn(move || walwriter(&db, &config, &stop))
            {
                threads.push(h);
            }
        }
        {
            let stop2 = stop.clone();
            if let Ok(h) = std::thread::Builder::new()
                .name("checkpointer".into())
                .spawn(move || checkpointer(&db, &config, &stop2))
            {
                threads.push(h);
            }
        }
        BgWorkers { stop, threads }
    }

    /// Stops both threads and waits for them.
    pub fn stop(self) {
        *self.stop.stopped.lock() = true;
        self.stop.cv.notify_all();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn walwriter(db: &Database, config: &Config, stop: &StopSignal) {
    loop {
        let delay = config.get_ms("wal_writer_delay").unwrap_or(200).max(1);
        if stop.sleep(Duration::from_millis(delay)) {
            return;
        }
        let wal = db.wal();
        let target = wal.insert_lsn();
        if target > wal.flush_lsn() {
            if let Err(e) = wal.flush(target) {
                elog::emit(
                    Level::Panic,
                    &format!("could not flush write-ahead log: {}", e.message),
                    None,
                    None,
                );
                std::process::abort();
            }
        }
    }
}

fn checkpointer(db: &Database, config: &Config, stop: &StopSignal) {
    let mut last = Instant::now();
    loop {
        if stop.sleep(Duration::from_millis(1000)) {
            return;
        }
        db.release_retired_ranges();
        let timeout = Duration::from_millis(
            config
                .get_ms("checkpoint_timeout")
                .unwrap_or(300_000)
                .max(1000),
        );
        let max_wal = config.get_bytes("max_wal_size").unwrap_or(1 << 30);
        let reason = if last.elapsed() >= timeout {
            Some("time")
        } else if db.wal_since_checkpoint() > max_wal / 2 {
            Some("wal")
        } else {
            None
        };
        if let Some(reason) = reason {
            if let Err(e) = db.checkpoint(reason) {
                elog::emit(
                    Level::Error,
                    &format!("checkpoint request failed: {}", e.message),
                    None,
                    None,
                );
            }
            last = Instant::now();
        }
    }
}
