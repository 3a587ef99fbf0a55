//! What the launcher, an apply worker and its table copies share: the worker's
//! context ([`WorkerCtx`]: database, settings, stop flags, the row it reports in
//! `pg_stat_subscription`), how a run ends ([`RunEnd`]), and the subscription's
//! replication origin and connection string.
//!
//! Corresponds to PostgreSQL's `replication/worker_internal.h`
//! (`LogicalRepWorker`) and the origin naming of `replication/logical/worker.c`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tandem_client::with_application_name;
use tandem_config::Config;
use tandem_storage::{Database, IsolationLevel, SubscriptionDef};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState};

/// What a worker reports for `pg_stat_subscription`.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerStat {
    pub pid: i32,
    pub received_lsn: Option<Lsn>,
    pub last_msg_send_time: Option<i64>,
    pub last_msg_receipt_time: Option<i64>,
    pub latest_end_lsn: Option<Lsn>,
    pub latest_end_time: Option<i64>,
    /// The table being copied, while a copy runs.
    pub syncing: Option<Oid>,
}

/// Why a run ended without an error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Stop requested (shutdown, DROP SUBSCRIPTION) or the subscription is
    /// gone / disabled: do not restart.
    Stopped,
    /// A parameter changed or tables need a sync: start a new run at once.
    Restart,
}

/// What a worker thread shares with the launcher.
pub(crate) struct WorkerCtx {
    pub db: Arc<Database>,
    pub config: Arc<Config>,
    pub subid: Oid,
    pub stop: Arc<AtomicBool>,
    pub stat: Arc<Mutex<WorkerStat>>,
    pub terminating: Box<dyn Fn() -> bool + Send + Sync>,
    /// Set when the run failed while applying or copying data (not while
    /// connecting): only such errors disable a subscription with
    /// `disable_on_error`, as in PostgreSQL.
    pub data_error: AtomicBool,
}

impl WorkerCtx {
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire) || (self.terminating)()
    }
}

/// The origin id, created if missing (a subscription from before origins).
pub(crate) fn ensure_origin(db: &Arc<Database>, name: &str) -> PgResult<u16> {
    if let Some(id) = db.catalog().origin_id(name) {
        return Ok(id);
    }
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let id = txn.create_origin(name)?;
    if let Some(end) = txn.commit()? {
        db.wal().flush(end)?;
    }
    Ok(id)
}

/// The subscription's connection string with `application_name` as default.
pub(crate) fn conninfo_for(sub: &SubscriptionDef, application_name: &str) -> String {
    with_application_name(&sub.conninfo, application_name)
}

/// Whether a subscription's connections must authenticate with the password
/// of its connection string: `password_required` and an owner who is not a
/// superuser (PostgreSQL's `must_use_password`).
pub(crate) fn must_use_password(db: &Database, sub: &SubscriptionDef) -> bool {
    sub.password_required && !db.catalog().is_superuser(sub.owner)
}

/// Refuses a connection made without a password when one is required
/// (`libpqrcv_connect`'s `PQconnectionUsedPassword` check).
pub(crate) fn check_password_used(must_use_password: bool, used_password: bool) -> PgResult<()> {
    if !must_use_password || used_password {
        return Ok(());
    }
    Err(PgError::new(SqlState("2F003"), "password is required")
        .with_detail("Non-superuser cannot connect if the server does not request a password.")
        .with_hint("Target server's authentication method must be changed, or set password_required=false in the subscription parameters."))
}
