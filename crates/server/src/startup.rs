//! The startup process of a standby: the replay thread, and promotion.
//!
//! A standby runs two threads, started here from `standby.signal` at server
//! start: the startup (replay) thread, which applies WAL records as they become
//! durable (`StandbyReplay::replay_available`, waking on the WAL's flush
//! condition), and the walreceiver ([`crate::walreceiver`]), which fetches them.
//!
//! Promotion (`pg_promote()`, `tandem promote`, a `promote` file with SIGUSR1)
//! is carried out by the startup thread, in this order: stop the walreceiver and
//! wait for it (nothing more arrives), replay everything received, then storage
//! switches to a new timeline and leaves recovery (`recovery::promote`), the
//! configured `default_transaction_read_only` is restored and `standby.signal`
//! removed. Both threads stop when [`Standby::stop`] is called (server shutdown).
//!
//! Corresponds to PostgreSQL's `postmaster/startup.c` and the standby loop and
//! end of recovery of `access/transam/xlogrecovery.c` / `xlog.c`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use tandem_config::Config;
use tandem_storage::recovery::StandbyReplay;
use tandem_storage::Database;
use tandem_types::elog::{self, Level};
use tandem_types::PgError;

use crate::walreceiver::WalRcvShared;

/// The running standby threads.
pub(crate) struct Standby {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The walreceiver thread (stopped by its own flag: at promotion or shutdown).
    receiver: Arc<Mutex<Option<JoinHandle<()>>>>,
    receiver_stop: Arc<AtomicBool>,
}

impl Standby {
    /// `configured_read_only`: `default_transaction_read_only` as configured,
    /// restored when the node is promoted.
    pub fn start(
        db: Arc<Database>,
        config: Arc<Config>,
        replay: StandbyReplay,
        datadir: PathBuf,
        configured_read_only: String,
        info: WalRcvShared,
        slotsync: Arc<crate::slot::slotsync::SlotSync>,
    ) -> Standby {
        let stop = Arc::new(AtomicBool::new(false));
        let receiver_stop = Arc::new(AtomicBool::new(false));
        let receiver: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
        let mut threads = Vec::new();
        let (db2, stop2) = (db.clone(), stop.clone());
        let (config2, receiver_stop2, receiver2) =
            (config.clone(), receiver_stop.clone(), receiver.clone());
        let mut replay = Some(replay);
        if let Ok(h) = std::thread::Builder::new()
            .name("startup".into())
            .spawn(move || {
                while !stop2.load(Ordering::Acquire) {
                    if db2.promote_requested() {
                        log("received promote request");
                        receiver_stop2.store(true, Ordering::Release);
                        if let Some(h) = receiver2.lock().take() {
                            let _ = h.join();
                        }
                        slotsync.shutdown_for_promotion();
                        if let Some(r) = replay.take() {
                            promote(&db2, &config2, r, &datadir, &configured_read_only);
                        }
                        return;
                    }
                    let Some(replay) = replay.as_mut() else {
                        return;
                    };
                    if let Err(e) = replay.replay_available(&db2) {
                        elog::emit_error(&PgError {
                            severity: tandem_types::error::Severity::Log,
                            ..e
                        });
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    db2.wal()
                        .wait_for_flush(replay.replayed(), Duration::from_millis(100));
                }
            })
        {
            threads.push(h);
        }
        if let Ok(h) = std::thread::Builder::new()
            .name("walreceiver".into())
            .spawn({
                let receiver_stop = receiver_stop.clone();
                move || {
                    crate::walreceiver::run(&db, &config, &receiver_stop, &info);
                    info.lock().status = None;
                }
            })
        {
            *receiver.lock() = Some(h);
        }
        Standby {
            stop,
            threads,
            receiver,
            receiver_stop,
        }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.receiver_stop.store(true, Ordering::Release);
        // the startup thread first: a promotion in progress finishes
        for t in self.threads {
            let _ = t.join();
        }
        let receiver = self.receiver.lock().take();
        if let Some(h) = receiver {
            let _ = h.join();
        }
    }
}

/// The end of recovery, after the walreceiver stopped: storage switches the
/// timeline and leaves recovery; then the server allows writes again and
/// removes `standby.signal`.
fn promote(
    db: &Arc<Database>,
    config: &Config,
    replay: StandbyReplay,
    datadir: &Path,
    configured_read_only: &str,
) {
    match tandem_storage::recovery::promote(db, replay) {
        Ok(_) => {
            let _ = config.set_runtime("default_transaction_read_only", configured_read_only);
            let _ = config.set_runtime("in_hot_standby", "off");
            let _ = std::fs::remove_file(datadir.join("standby.signal"));
            log("database system is ready to accept connections");
        }
        Err(e) => elog::emit_error(&PgError {
            severity: tandem_types::error::Severity::Log,
            ..e
        }),
    }
}

fn log(msg: &str) {
    elog::emit(Level::Log, msg, None, None);
}
