//! `ExecContext`: what evaluating SQL may touch (the transaction, the database,
//! the session's settings and identity, bound parameters).
//!
//! Shared vocabulary of the expr, query and sql crates (written by the lead).
//! Change only additively.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tandem_config::SessionConfig;
use tandem_storage::{Database, Transaction};
use tandem_types::Value;

/// Who and where the session is (for `current_user`, `pg_backend_pid()`, ...).
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub pid: i32,
    pub user: String,
    pub user_oid: u32,
    pub superuser: bool,
    pub database: String,
    pub application_name: String,
    pub client_addr: Option<String>,
    /// Session start, microseconds since 2000-01-01 UTC.
    pub backend_start: i64,
}

/// Server-wide hooks the session layer provides to functions that act on the
/// server (`pg_reload_conf()`, `pg_cancel_backend()`, CHECKPOINT, activity).
pub trait ServerHooks: Send + Sync {
    /// `pg_reload_conf()`: signal the server to reload; true if sent.
    fn reload_conf(&self) -> bool;
    /// `pg_cancel_backend(pid)` / `pg_terminate_backend(pid)`.
    fn signal_backend(&self, pid: i32, terminate: bool) -> bool;
    /// Rows for `pg_stat_activity`: (pid, usename, application_name, client_addr,
    /// backend_start, state, query).
    fn activity(&self) -> Vec<Vec<Value>>;
}

/// Everything an expression, query or statement may need while it runs.
pub struct ExecContext<'a> {
    pub db: &'a Arc<Database>,
    /// The current transaction (an implicit one for single statements).
    pub txn: &'a mut Transaction,
    pub config: &'a mut SessionConfig,
    pub session: &'a SessionInfo,
    pub hooks: &'a dyn ServerHooks,
    /// `$1..$n` values, already of their parameter types.
    pub params: &'a [Value],
    /// Transaction start (`now()`, `current_timestamp`), microseconds since 2000-01-01 UTC.
    pub txn_start: i64,
    /// Statement start (`statement_timestamp()`).
    pub stmt_start: i64,
    /// Set by a cancel request; long loops check it and fail with 57014.
    pub cancel: &'a Arc<AtomicBool>,
    /// NOTICEs raised while running (sent before the command completes).
    pub notices: &'a mut Vec<tandem_types::PgError>,
}
