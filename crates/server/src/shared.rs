//! What every connection thread, walsender and background thread of the
//! server shares: the configuration, the database, the procarray, the slots, the
//! walsenders, pg_hba.conf and TLS, and the shutdown state. The postmaster
//! builds it at startup and hands an `Arc` of it to each connection thread.
//!
//! Corresponds to PostgreSQL's shared memory (`storage/ipc/ipci.c`), which
//! holds the same structures for its processes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tandem_config::Config;
use tandem_replication::slot::SlotRegistry;
use tandem_sql::Engine;
use tandem_storage::Database;

use crate::backend::hba::HbaLine;
use crate::procarray::Registry;
use crate::walsender::walsndctl::WalSenders;

/// How the server is asked to stop (SIGTERM, SIGINT, SIGQUIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShutdownMode {
    Smart = 1,
    Fast = 2,
    Immediate = 3,
}

/// Requests raised by signal handlers or by an in-process owner.
#[derive(Default)]
pub(crate) struct Requests {
    pub reload: Arc<AtomicBool>,
    pub smart: Arc<AtomicBool>,
    pub fast: Arc<AtomicBool>,
    pub immediate: Arc<AtomicBool>,
    /// SIGUSR1: a `promote` signal file may be waiting in the data directory.
    pub promote: Arc<AtomicBool>,
    /// `tandem_demote()`: restart as a standby after the fast shutdown.
    pub demote: Arc<AtomicBool>,
    /// Set after raising a flag from a thread (not a signal handler): the
    /// postmaster's poll wakes and acts on it at once, not at its next tick.
    pub wake: Arc<crate::latch::Latch>,
}

/// What every connection thread shares.
pub(crate) struct Shared {
    pub datadir: PathBuf,
    pub config: Arc<Config>,
    pub db: Arc<Database>,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
    pub slots: Arc<SlotRegistry>,
    /// Decoding statistics of the logical slots (`pg_stat_replication_slots`).
    pub slot_stats: Arc<tandem_replication::slot_stats::SlotStats>,
    pub walsenders: Arc<WalSenders>,
    pub hba: RwLock<Arc<Vec<HbaLine>>>,
    pub hba_path: PathBuf,
    pub tls: RwLock<Option<Arc<rustls::ServerConfig>>>,
    pub(crate) shutdown: AtomicU8,
}

impl Shared {
    pub fn shutdown_mode(&self) -> Option<ShutdownMode> {
        match self.shutdown.load(Ordering::SeqCst) {
            1 => Some(ShutdownMode::Smart),
            2 => Some(ShutdownMode::Fast),
            3 => Some(ShutdownMode::Immediate),
            _ => None,
        }
    }
}
