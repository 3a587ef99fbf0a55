//! The walsender registry: one entry per replication connection, holding what
//! `pg_stat_replication` shows (state, sent/write/flush/replay LSN, lags, reply
//! time), the `max_wal_senders` limit, and each walsender's wakeup: a
//! [`Latch`] set whenever WAL is flushed (or a request needs it), which a
//! streaming walsender sleeps on together with its client's socket, so it
//! wakes for either (PostgreSQL's `MyLatch` and `WalSndWait`).
//!
//! The flush side of the wakeup is the WAL's flush listener
//! ([`tandem_wal::Wal::set_flush_listener`]): whichever thread flushed WAL
//! (a committing backend, the walwriter, a standby's walreceiver) sets every
//! walsender's latch itself, as PostgreSQL's `WalSndWakeup` is called after a flush.
//!
//! Synchronous replication: the registry owns the node's
//! [`SyncRepWaiters`]; after each standby reply (and when a walsender comes or
//! goes, or `synchronous_standby_names` is reloaded) it recomputes the sync
//! standbys and safe LSNs with [`syncrep::decide`] and releases waiting commits.
//!
//! Shutdown ([`StopPhase`]): once the regular sessions are gone the postmaster
//! moves every walsender to *stopping* ([`WalSenders::init_stopping`]): one
//! that is not streaming ends at once; a logical one sends what is left to
//! decode (a failover slot's only once the standbys of
//! `synchronized_standby_slots` have flushed it), waits for its client to
//! confirm it and ends; a physical one keeps streaming and shows `stopping`.
//! When they are all `stopping` the shutdown checkpoint is written, then
//! *done* ([`WalSenders::done`]) lets the physical walsenders send it, wait
//! for the standby's confirmation and end. Every wait ends at the latest with
//! `wal_sender_timeout` of silence from the client. The postmaster sleeps on
//! [`WalSenders::shutdown_latch`] between its checks: a walsender entering
//! `stopping` or leaving sets it (PostgreSQL's walsenders signal the
//! postmaster likewise).
//!
//! Corresponds to PostgreSQL's `WalSndCtl` shared memory (`walsender_private.h`),
//! `WalSndWakeup`, `WalSndInitStopping`, `WalSndWaitStopping`, and
//! `pg_stat_get_wal_senders`.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tandem_config::Config;
use tandem_expr::WalSenderRow;
use tandem_replication::physical::{Lags, WalSndState};
use tandem_replication::syncrep::{self, StandbyInfo, SyncDecision, SyncRepWaiters};
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, SqlState, Xid};
use tandem_wal::Wal;

use crate::latch::Latch;
use crate::procarray::BackendEntry;

/// Displayed replication state of one walsender.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    pub state: WalSndState,
    pub sent: Lsn,
    pub write: Lsn,
    pub flush: Lsn,
    pub apply: Lsn,
    pub lags: Lags,
    /// microseconds since 2000-01-01 UTC
    pub reply_time: Option<i64>,
    pub backend_xmin: Option<Xid>,
}

pub(crate) struct WalSnd {
    pub entry: Arc<BackendEntry>,
    pub client_port: Option<u16>,
    pub progress: Mutex<Progress>,
    /// Set to wake the walsender (new WAL flushed, a request).
    pub latch: Latch,
    /// The server's [`StopPhase`], shared by every walsender.
    phase: Arc<AtomicU8>,
    /// [`WalSenders::shutdown_latch`], shared by every walsender.
    shutdown_latch: Arc<Latch>,
}

/// Where the server's shutdown stands for its walsenders (PostgreSQL's
/// `got_STOPPING` and `got_SIGUSR2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum StopPhase {
    /// No shutdown: stream as usual.
    Running = 0,
    /// The regular sessions are gone: logical walsenders send what is left
    /// and end, physical ones keep streaming up to the shutdown checkpoint.
    Stopping = 1,
    /// The shutdown checkpoint is written: physical walsenders send it and end.
    Done = 2,
}

impl StopPhase {
    fn from_u8(v: u8) -> StopPhase {
        match v {
            0 => StopPhase::Running,
            1 => StopPhase::Stopping,
            _ => StopPhase::Done,
        }
    }
}

impl WalSnd {
    /// The server's shutdown phase.
    pub fn stop_phase(&self) -> StopPhase {
        StopPhase::from_u8(self.phase.load(Ordering::SeqCst))
    }

    /// Shows `stopping` (a physical walsender at shutdown); the first time,
    /// wakes the postmaster waiting for every walsender to be stopping.
    pub fn enter_stopping(&self) {
        let mut p = self.progress.lock();
        if p.state != WalSndState::Stopping {
            p.state = WalSndState::Stopping;
            drop(p);
            self.shutdown_latch.set();
        }
    }

    /// How far the client has confirmed: its flush position, or its write
    /// position when it reports no flush (`pg_receivewal` without `--synchronous`),
    /// as PostgreSQL's `WalSndDone` decides.
    pub fn replicated(&self) -> Lsn {
        let p = self.progress.lock();
        if p.flush.is_valid() {
            p.flush
        } else {
            p.write
        }
    }

    /// Wakes the walsender (new WAL, a request).
    pub fn wakeup(&self) {
        self.latch.set();
    }
}

pub(crate) struct WalSenders {
    list: Mutex<Vec<Arc<WalSnd>>>,
    stop: AtomicBool,
    /// [`StopPhase`] of the server's shutdown.
    phase: Arc<AtomicU8>,
    /// Set when a walsender enters `stopping` or leaves: the postmaster polls
    /// it while it waits for them at shutdown.
    shutdown_latch: Arc<Latch>,
    /// Where commits wait for synchronous standbys.
    pub syncrep: Arc<SyncRepWaiters>,
}

/// Removes the walsender from the registry when its connection ends.
pub(crate) struct WalSndGuard {
    pub walsnd: Arc<WalSnd>,
    senders: Arc<WalSenders>,
}

impl Drop for WalSndGuard {
    fn drop(&mut self) {
        self.senders
            .list
            .lock()
            .retain(|w| !Arc::ptr_eq(w, &self.walsnd));
        self.senders.sync_recompute();
        self.senders.shutdown_latch.set();
    }
}

impl WalSenders {
    /// The registry; every flush of `wal` wakes its walsenders.
    pub fn start(wal: Arc<Wal>) -> Arc<WalSenders> {
        let senders = Arc::new(WalSenders {
            list: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            phase: Arc::new(AtomicU8::new(StopPhase::Running as u8)),
            shutdown_latch: Arc::new(Latch::new()),
            syncrep: Arc::new(SyncRepWaiters::new()),
        });
        let weak = Arc::downgrade(&senders);
        wal.set_flush_listener(Some(Arc::new(move |_| {
            if let Some(s) = weak.upgrade() {
                if !s.stop.load(Ordering::Acquire) {
                    s.wakeup_all();
                }
            }
        })));
        senders
    }

    /// Stops the flush wakeups (server shutdown).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.syncrep.shutdown();
    }

    /// Whether backend `pid` is a walsender (it took a walsender slot).
    pub fn contains(&self, pid: i32) -> bool {
        self.list.lock().iter().any(|w| w.entry.pid == pid)
    }

    /// Set when a walsender enters `stopping` or leaves (the postmaster
    /// resets it).
    pub fn shutdown_latch(&self) -> &Latch {
        &self.shutdown_latch
    }

    /// How many walsenders there are.
    pub fn count(&self) -> usize {
        self.list.lock().len()
    }

    /// Moves the walsenders to [`StopPhase::Stopping`] (PostgreSQL's
    /// `WalSndInitStopping`): one that is not streaming is terminated as a
    /// regular session would be; the others are woken to finish. Called again
    /// while waiting, it terminates a walsender that left streaming since.
    pub fn init_stopping(&self) {
        self.phase
            .fetch_max(StopPhase::Stopping as u8, Ordering::SeqCst);
        let list = self.list.lock().clone();
        for w in list {
            if w.progress.lock().state == WalSndState::Startup {
                w.entry.request_terminate();
            }
            w.wakeup();
        }
    }

    /// Whether every walsender left is a physical one in state `stopping`
    /// (PostgreSQL's `WalSndWaitStopping`): the logical ones have ended, so
    /// the shutdown checkpoint may be written.
    pub fn all_stopping(&self) -> bool {
        self.list
            .lock()
            .iter()
            .all(|w| w.progress.lock().state == WalSndState::Stopping)
    }

    /// [`StopPhase::Done`]: the shutdown checkpoint is written; physical
    /// walsenders send what is left, wait for their standby and end.
    pub fn done(&self) {
        self.phase.store(StopPhase::Done as u8, Ordering::SeqCst);
        self.wakeup_all();
    }

    /// Terminates every walsender at once (immediate shutdown).
    pub fn terminate_all(&self) {
        let list = self.list.lock().clone();
        for w in list {
            w.entry.request_terminate();
            w.wakeup();
        }
    }

    /// (Re)reads `synchronous_standby_names` (startup, reload). An invalid value
    /// is logged and the previous one kept, as a failed GUC check would.
    /// Every walsender is woken too: logical walsenders re-read
    /// `synchronized_standby_slots` (a shorter list may release them).
    pub fn configure_syncrep(&self, config: &Config) {
        self.wakeup_all();
        let value = config.get_str("synchronous_standby_names");
        match syncrep::parse_standby_names(&value) {
            Ok(cfg) => {
                if cfg != self.syncrep.config() {
                    self.syncrep.set_config(cfg);
                    self.sync_recompute();
                }
            }
            Err(e) => elog::emit(Level::Log, &e.message, e.detail.as_deref(), None),
        }
    }

    /// Wakes every walsender: a physical slot listed in
    /// `synchronized_standby_slots` moved, or the setting changed, so logical
    /// walsenders of failover slots may send more (PostgreSQL broadcasts
    /// `wal_confirm_rcv_cv`).
    pub fn wakeup_all(&self) {
        let list = self.list.lock().clone();
        for w in list {
            w.wakeup();
        }
    }

    fn decision(&self, list: &[Arc<WalSnd>]) -> SyncDecision {
        let infos: Vec<StandbyInfo> = list
            .iter()
            .map(|w| {
                let p = w.progress.lock();
                StandbyInfo {
                    application_name: w.entry.activity.lock().application_name.clone(),
                    state: p.state,
                    write: p.write,
                    flush: p.flush,
                    apply: p.apply,
                }
            })
            .collect();
        syncrep::decide(self.syncrep.config().as_ref(), &infos)
    }

    /// Recomputes the safe LSNs and releases the commits they cover (called
    /// after every standby reply, PostgreSQL's `SyncRepReleaseWaiters`).
    pub fn sync_recompute(&self) {
        let list = self.list.lock().clone();
        let d = self.decision(&list);
        self.syncrep.update(d.safe);
    }

    /// Takes a walsender slot; `FATAL 53300 number of requested standby
    /// connections exceeds "max_wal_senders" (currently N)` when all are used.
    pub fn register(
        self: &Arc<Self>,
        entry: Arc<BackendEntry>,
        client_port: Option<u16>,
        max: usize,
    ) -> PgResult<WalSndGuard> {
        let mut list = self.list.lock();
        if list.len() >= max {
            return Err(PgError::fatal(
                SqlState::TOO_MANY_CONNECTIONS,
                format!(
                    "number of requested standby connections exceeds \"max_wal_senders\" (currently {max})"
                ),
            ));
        }
        let walsnd = Arc::new(WalSnd {
            entry,
            client_port,
            progress: Mutex::new(Progress {
                state: WalSndState::Startup,
                sent: Lsn::INVALID,
                write: Lsn::INVALID,
                flush: Lsn::INVALID,
                apply: Lsn::INVALID,
                lags: Lags::default(),
                reply_time: None,
                backend_xmin: None,
            }),
            latch: Latch::new(),
            phase: self.phase.clone(),
            shutdown_latch: self.shutdown_latch.clone(),
        });
        list.push(walsnd.clone());
        Ok(WalSndGuard {
            walsnd,
            senders: self.clone(),
        })
    }

    /// The walsenders as `pg_stat_replication` shows them, in pid order
    /// (`usesysid` left for the view to fill from the role name).
    pub fn rows(&self) -> Vec<WalSenderRow> {
        let mut list = self.list.lock().clone();
        list.sort_by_key(|w| w.entry.pid);
        let d = self.decision(&list);
        list.iter()
            .enumerate()
            .map(|(i, w)| {
                let a = w.entry.activity.lock().clone();
                let p = w.progress.lock().clone();
                WalSenderRow {
                    pid: w.entry.pid,
                    usesysid: None,
                    usename: a.user,
                    application_name: a.application_name,
                    client_addr: w.entry.client_addr.clone(),
                    client_hostname: None,
                    client_port: w.client_port,
                    backend_start: w.entry.backend_start,
                    backend_xmin: p.backend_xmin,
                    state: p.state.as_str(),
                    sent_lsn: p.sent,
                    write_lsn: p.write,
                    flush_lsn: p.flush,
                    replay_lsn: p.apply,
                    write_lag: p.lags.write,
                    flush_lag: p.lags.flush,
                    replay_lag: p.lags.apply,
                    sync_priority: d.priorities.get(i).copied().unwrap_or(0),
                    sync_state: d.states.get(i).copied().unwrap_or("async"),
                    reply_time: p.reply_time,
                }
            })
            .collect()
    }
}
