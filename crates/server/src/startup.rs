//! The startup process of a standby: the replay thread, and promotion.
//!
//! A standby runs two threads, started here from `standby.signal` at server
//! start: the startup (replay) thread, which applies WAL records as they become
//! durable (`StandbyReplay::replay_available`, waking on the WAL's flush
//! condition once the flush position passes what its last read saw), and the
//! walreceiver ([`crate::walreceiver`]), which fetches them. After replaying,
//! the startup thread sets the walreceiver's latch, so the new apply position
//! reaches the primary at once (PostgreSQL wakes its walreceiver this way for
//! `remote_apply` commits, `WalRcvForceReply`).
//!
//! Promotion (`pg_promote()`, `tandem promote`, a `promote` file with SIGUSR1)
//! is carried out by the startup thread, which the request wakes from its
//! wait for WAL at once (`Database::request_promote` ends the WAL's flush
//! waits; PostgreSQL's `pg_promote` signals the startup process), in this
//! order: stop the walreceiver and
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
use tandem_types::elog::{self, log};
use tandem_types::PgError;

use crate::latch::Latch;
use crate::walreceiver::WalRcvShared;

/// The running standby threads.
pub(crate) struct Standby {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The walreceiver thread (stopped by its own flag: at promotion or shutdown).
    receiver: Arc<Mutex<Option<JoinHandle<()>>>>,
    receiver_stop: Arc<AtomicBool>,
    /// The walreceiver's latch: set after replay progress and to stop it.
    latch: Arc<Latch>,
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
        let latch = Arc::new(Latch::new());
        let mut threads = Vec::new();
        let (db2, stop2, latch2) = (db.clone(), stop.clone(), latch.clone());
        let (config2, receiver_stop2, receiver2) =
            (config.clone(), receiver_stop.clone(), receiver.clone());
        let mut replay = replay;
        let pushed_to = slotsync.clone();
        replay.set_slot_state_sink(Box::new(move |rec, end| pushed_to.push(rec, end)));
        let mut replay = Some(replay);
        if let Ok(h) = std::thread::Builder::new()
            .name("startup".into())
            .spawn(move || {
                while !stop2.load(Ordering::Acquire) {
                    if db2.promote_requested() {
                        log("received promote request");
                        receiver_stop2.store(true, Ordering::Release);
                        latch2.set();
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
                    match replay.replay_available(&db2) {
                        // the walreceiver reports the new apply position
                        Ok(n) if n > 0 => latch2.set(),
                        Ok(_) => {}
                        Err(e) => {
                            elog::emit_error(&PgError {
                                severity: tandem_types::error::Severity::Log,
                                ..e
                            });
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                    // (not past `replayed()`: a record partly flushed would
                    // wake this at once, again and again)
                    db2.wal()
                        .wait_for_flush(replay.flush_seen(), Duration::from_millis(100));
                }
            })
        {
            threads.push(h);
        }
        if let Ok(h) = std::thread::Builder::new()
            .name("walreceiver".into())
            .spawn({
                let receiver_stop = receiver_stop.clone();
                let latch = latch.clone();
                move || {
                    crate::walreceiver::run(&db, &config, &receiver_stop, &latch, &info);
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
            latch,
        }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.receiver_stop.store(true, Ordering::Release);
        self.latch.set();
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
    // The configured default is restored before storage leaves recovery, so a
    // transaction that starts once `pg_promote()` has seen the end of
    // recovery is read-write (while in recovery, storage refuses writes
    // whatever the session's default says).
    let _ = config.set_runtime("default_transaction_read_only", configured_read_only);
    match tandem_storage::recovery::promote(db, replay) {
        Ok(_) => {
            let _ = config.set_runtime("in_hot_standby", "off");
            let _ = std::fs::remove_file(datadir.join("standby.signal"));
            log("database system is ready to accept connections");
        }
        Err(e) => {
            let _ = config.set_runtime("default_transaction_read_only", "on");
            elog::emit_error(&PgError {
                severity: tandem_types::error::Severity::Log,
                ..e
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use tandem_types::TimeLineId;

    use super::*;

    use crate::test_support::{primary_and_standby, ship};

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A slot sync state for the threads (its worker never starts: the
    /// defaults have `sync_replication_slots = off`).
    fn no_slotsync(db: &Arc<Database>, dir: &Path) -> Arc<crate::slot::slotsync::SlotSync> {
        let slots =
            tandem_replication::slot::SlotRegistry::open(&dir.join("pg_replslot"), 10, 0).unwrap();
        crate::slot::slotsync::SlotSync::new(
            db.clone(),
            Config::defaults(),
            Arc::new(slots),
            crate::procarray::Registry::new(),
        )
    }

    #[test]
    fn the_startup_thread_replays_wal_once_it_is_flushed() {
        let (pdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (primary, standby, replay) = primary_and_standby(pdir.path(), sdir.path());
        let config = Config::defaults();
        let threads = Standby::start(
            standby.clone(),
            config,
            replay,
            sdir.path().to_path_buf(),
            "off".into(),
            WalRcvShared::default(),
            no_slotsync(&standby, sdir.path()),
        );
        let before = standby.wal().insert_lsn();
        assert_eq!(standby.replay_lsn(), before);
        primary.checkpoint("immediate force wait").unwrap();
        let end = ship(&primary, standby.wal(), before);
        assert!(end > before);
        wait_until("replay", || standby.replay_lsn() == end);
        // the replay pass set the walreceiver's latch (it reports the new
        // apply position without waiting for more WAL)
        let (sock, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let woken = threads.latch.wait_or_socket(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            Duration::from_secs(20),
        );
        assert!(woken.latch);
        threads.stop();
        // stopping is not promoting: still a standby
        assert!(standby.in_recovery());
        assert!(sdir.path().join("standby.signal").exists());
    }

    #[test]
    fn promotion_stops_the_walreceiver_then_leaves_recovery() {
        let (pdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (_primary, standby, replay) = primary_and_standby(pdir.path(), sdir.path());
        let config = Config::defaults();
        // as the postmaster starts a standby
        config
            .set_runtime("default_transaction_read_only", "on")
            .unwrap();
        config.set_runtime("in_hot_standby", "on").unwrap();
        let threads = Standby::start(
            standby.clone(),
            config.clone(),
            replay,
            sdir.path().to_path_buf(),
            "off".into(),
            WalRcvShared::default(),
            no_slotsync(&standby, sdir.path()),
        );
        assert!(threads.receiver.lock().is_some());
        assert!(standby.request_promote());
        let signal = sdir.path().join("standby.signal");
        wait_until("promotion", || !signal.exists());
        assert!(!standby.in_recovery());
        assert_eq!(standby.wal().timeline(), TimeLineId(2));
        assert_eq!(config.get_str("default_transaction_read_only"), "off");
        assert_eq!(config.get_str("in_hot_standby"), "off");
        // the walreceiver was stopped and joined before the timeline switch
        assert!(threads.receiver_stop.load(Ordering::Acquire));
        assert!(threads.receiver.lock().is_none());
        threads.stop();
    }
}
