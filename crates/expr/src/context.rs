//! `ExecContext`: what evaluating SQL may touch (the transaction, the database,
//! the session's settings and identity, bound parameters).
//!
//! Shared vocabulary of the expr, query and sql crates.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tandem_config::SessionConfig;
use tandem_storage::{Database, Transaction};
use tandem_types::{Lsn, Oid, PgError, PgResult, TimeLineId, Value, Xid};

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
/// server (`pg_reload_conf()`, `pg_cancel_backend()`, CHECKPOINT) and to the
/// system views whose rows live in the server (`pg_stat_activity`,
/// `pg_replication_slots`, `pg_stat_replication`, `pg_stat_wal_receiver`,
/// `pg_stat_subscription`). View rows cross as typed structs (`*Row` below);
/// each view in `catalog/` maps their fields onto its columns.
pub trait ServerHooks: Send + Sync {
    /// `pg_reload_conf()`: signal the server to reload; true if sent.
    fn reload_conf(&self) -> bool;
    /// `tandem_demote(primary_conninfo, primary_slot_name)` called by
    /// session `pid`: the primary restarts as a standby of that server after
    /// a fast shutdown; the calling session ends once its reply is sent.
    fn demote(&self, pid: i32, primary_conninfo: &str, primary_slot_name: &str) -> PgResult<()> {
        let _ = (pid, primary_conninfo, primary_slot_name);
        Err(PgError::unsupported("tandem_demote"))
    }
    /// `pg_get_viewdef(view, pretty)`: the view's query as PostgreSQL
    /// prints it (the query engine's deparser). Default: none (the query
    /// as written is shown).
    fn view_definition(
        &self,
        view: &tandem_storage::ViewDef,
        ctx: &ExecContext<'_>,
        pretty: bool,
    ) -> Option<String> {
        let _ = (view, ctx, pretty);
        None
    }
    /// `pg_cancel_backend(pid)` / `pg_terminate_backend(pid)`.
    fn signal_backend(&self, pid: i32, terminate: bool) -> bool;
    /// The sessions for `pg_stat_activity`, in pid order. Default: none.
    fn activity(&self) -> Vec<BackendActivityRow> {
        Vec::new()
    }
    /// `pg_is_in_recovery()` (a standby replaying WAL). Default: false.
    fn in_recovery(&self) -> bool {
        false
    }
    /// `pg_postmaster_start_time()`, microseconds since 2000-01-01 UTC.
    /// Default: unknown (0 = 2000-01-01).
    fn postmaster_start_time(&self) -> i64 {
        0
    }
    /// `pg_conf_load_time()`, microseconds since 2000-01-01 UTC. Default: the
    /// postmaster start time.
    fn conf_load_time(&self) -> i64 {
        self.postmaster_start_time()
    }
    /// `pg_create_physical_replication_slot(name, immediately_reserve, temporary)`
    /// for the session `pid` (a temporary slot belongs to that session): the
    /// slot name and its `restart_lsn` when WAL was reserved.
    fn create_physical_slot(
        &self,
        pid: i32,
        name: &str,
        reserve: bool,
        temporary: bool,
    ) -> PgResult<(String, Option<Lsn>)> {
        let _ = (pid, name, reserve, temporary);
        Err(PgError::unsupported("replication slots"))
    }
    /// `pg_drop_replication_slot(name)` from session `pid`.
    fn drop_replication_slot(&self, pid: i32, name: &str) -> PgResult<()> {
        let _ = (pid, name);
        Err(PgError::unsupported("replication slots"))
    }
    /// `pg_create_logical_replication_slot(name, plugin, temporary, twophase,
    /// failover)` for session `pid` connected to `database`: the consistent
    /// point.
    fn create_logical_slot(&self, pid: i32, req: &LogicalSlotRequest) -> PgResult<Lsn> {
        let _ = (pid, req);
        Err(PgError::unsupported("logical replication slots"))
    }
    /// `pg_logical_slot_{get,peek}_[binary_]changes`: rows `(lsn, xid,
    /// data)`, decoded as they are taken from the stream.
    fn logical_slot_changes(
        &self,
        pid: i32,
        req: &ChangesRequest,
    ) -> PgResult<Box<dyn ChangeStream>> {
        let _ = (pid, req);
        Err(PgError::unsupported("logical decoding"))
    }
    /// `pg_replication_slot_advance(name, upto_lsn)`: the slot's new position.
    fn advance_slot(&self, pid: i32, name: &str, upto: Lsn) -> PgResult<Lsn> {
        let _ = (pid, name, upto);
        Err(PgError::unsupported("replication slots"))
    }
    /// `pg_copy_{logical,physical}_replication_slot(src, dst [, temporary [,
    /// plugin]])`: the new slot's position.
    fn copy_slot(&self, pid: i32, req: &CopySlotRequest) -> PgResult<Lsn> {
        let _ = (pid, req);
        Err(PgError::unsupported("replication slots"))
    }
    /// `pg_sync_replication_slots()` from session `pid`: one failover slot
    /// sync cycle on a standby.
    fn sync_replication_slots(&self, pid: i32) -> PgResult<()> {
        let _ = pid;
        Err(PgError::unsupported("replication slot synchronization"))
    }
    /// The slots for `pg_replication_slots`.
    fn replication_slots(&self) -> Vec<ReplicationSlotRow> {
        Vec::new()
    }
    /// The decoding statistics of logical slot `slot`
    /// (`pg_stat_replication_slots`; zeros when the server keeps none).
    fn replication_slot_stats(&self, slot: &str) -> ReplicationSlotStats {
        let _ = slot;
        ReplicationSlotStats::default()
    }
    /// `pg_stat_reset_replication_slot(slot)`: resets the statistics of one
    /// slot, or of every slot when `slot` is `None`.
    fn reset_replication_slot_stats(&self, slot: Option<&str>) -> PgResult<()> {
        let _ = slot;
        Err(PgError::unsupported("replication slots"))
    }
    /// The walreceiver for `pg_stat_wal_receiver` (none when no walreceiver
    /// runs: the view is empty).
    fn stat_wal_receiver(&self) -> Option<WalReceiverRow> {
        None
    }
    /// What CREATE / ALTER / DROP SUBSCRIPTION ask of a publisher (slot
    /// creation, drop and failover change over a `replication=database`
    /// connection; the list of published tables). Errors carry PostgreSQL's
    /// texts (`could not connect to the publisher: ...`, 08006, ...).
    fn subscription_remote(
        &self,
        req: &SubscriptionRemoteRequest,
    ) -> PgResult<SubscriptionRemoteResult> {
        let _ = req;
        Err(PgError::unsupported("subscriptions"))
    }
    /// Stops the apply and tablesync workers of subscription `subid` and waits
    /// until they are gone (DROP SUBSCRIPTION, before it drops the remote slot
    /// that the apply worker's walsender holds). The launcher does not restart
    /// them for a while. Default: nothing runs.
    fn stop_subscription_workers(&self, subid: tandem_types::Oid) {
        let _ = subid;
    }
    /// Running subscription workers for `pg_stat_subscription`.
    fn subscription_workers(&self) -> Vec<SubscriptionWorkerStat> {
        Vec::new()
    }
    /// The walsenders for `pg_stat_replication`, in pid order.
    fn stat_replication(&self) -> Vec<WalSenderRow> {
        Vec::new()
    }
    /// `pg_failover_readiness`: on a standby, one row per failover slot of
    /// the primary as of the last sync cycle; none on a primary.
    fn failover_readiness(&self) -> Vec<FailoverReadinessRow> {
        Vec::new()
    }
    /// `pg_failover_slot_standbys`: on a primary, one row per (failover
    /// slot, standby's physical slot); none on a standby.
    fn failover_slot_standbys(&self) -> Vec<FailoverSlotStandbyRow> {
        Vec::new()
    }
}

// ---- rows of the server-side system views ----
//
// Fields carry PostgreSQL's column names and domain types; the view files in
// `catalog/` own the column lists and map fields to columns. Timestamps are
// microseconds since 2000-01-01 UTC (`timestamptz`). An `Lsn` field shows
// NULL when it is `Lsn::INVALID` (PostgreSQL's InvalidXLogRecPtr), as does an
// `Option` that is `None`.

/// One session of `pg_stat_activity` (what the server tracks of a backend;
/// the view adds the database, `usesysid` and the constant columns).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackendActivityRow {
    pub pid: i32,
    /// The session's role; `None` before authentication.
    pub usename: Option<String>,
    pub application_name: String,
    /// `None` for a Unix-domain socket (the view shows `client_port` -1).
    pub client_addr: Option<String>,
    pub backend_start: i64,
    /// `active`, `idle`, `idle in transaction`, ...
    pub state: String,
    pub query: String,
    /// `client backend` when empty.
    pub backend_type: String,
    /// What the connection negotiated, if it is encrypted (`pg_stat_ssl`).
    pub ssl: Option<SslStatus>,
}

/// The encryption of one TLS connection, as `pg_stat_ssl` shows it (OpenSSL's
/// names: `TLSv1.3`, `TLS_AES_256_GCM_SHA384`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SslStatus {
    pub version: String,
    pub cipher: String,
    pub bits: i32,
}

/// One slot of `pg_replication_slots` (PostgreSQL's
/// `pg_get_replication_slots()` plus the database name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicationSlotRow {
    pub slot_name: String,
    /// The output plugin; `None` for a physical slot.
    pub plugin: Option<String>,
    /// `physical` or `logical`.
    pub slot_type: &'static str,
    pub datoid: Option<Oid>,
    /// The name of `datoid` (`None` if that database is gone).
    pub database: Option<String>,
    pub temporary: bool,
    pub active: bool,
    pub active_pid: Option<i32>,
    pub xmin: Option<Xid>,
    pub catalog_xmin: Option<Xid>,
    pub restart_lsn: Option<Lsn>,
    pub confirmed_flush_lsn: Option<Lsn>,
    /// `reserved`, `extended`, `unreserved` or `lost`.
    pub wal_status: Option<&'static str>,
    pub safe_wal_size: Option<i64>,
    pub two_phase: bool,
    pub inactive_since: Option<i64>,
    /// `None` for a physical slot.
    pub conflicting: Option<bool>,
    /// `wal_removed`, `rows_removed`, `wal_level_insufficient`, ...
    pub invalidation_reason: Option<&'static str>,
    pub failover: bool,
    pub synced: bool,
    /// Why the last sync cycle skipped this synced slot (PostgreSQL 19's
    /// `slotsync_skip_reason`); `None` when it was synchronized.
    pub slotsync_skip_reason: Option<&'static str>,
    /// Sync cycles that skipped the slot (`pg_stat_replication_slots`).
    pub slotsync_skip_count: i64,
    /// When a cycle last skipped it.
    pub slotsync_last_skip: Option<i64>,
}

/// One failover slot of the primary in `pg_failover_readiness` (a standby).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailoverReadinessRow {
    pub slot_name: String,
    pub ready: bool,
    /// `None` when ready.
    pub reason: Option<String>,
    /// The primary's `confirmed_flush` minus the synced copy's.
    pub lag_bytes: Option<i64>,
    /// The last sync cycle that looked at the slot.
    pub last_sync: Option<i64>,
}

/// One (failover slot, standby) pair of `pg_failover_slot_standbys` (a
/// primary).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailoverSlotStandbyRow {
    pub slot_name: String,
    /// The standby's physical slot.
    pub standby_slot: String,
    pub standby_flush_lsn: Option<Lsn>,
    pub slot_confirmed_flush_lsn: Option<Lsn>,
    pub could_take_over: bool,
    /// `None` when it could.
    pub reason: Option<String>,
}

/// The decoding statistics of one logical slot (`pg_stat_replication_slots`;
/// the spill and stream counters are always 0 in tandem).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicationSlotStats {
    pub total_txns: i64,
    pub total_bytes: i64,
    /// Microseconds since 2000-01-01 UTC; `None` until the first reset.
    pub stats_reset: Option<i64>,
}

/// One walsender of `pg_stat_replication` (its backend's activity joined with
/// PostgreSQL's `pg_stat_get_wal_senders()`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WalSenderRow {
    pub pid: i32,
    /// `None`: the view looks the role up by `usename`.
    pub usesysid: Option<Oid>,
    pub usename: String,
    pub application_name: String,
    /// `None` for a Unix-domain socket.
    pub client_addr: Option<String>,
    pub client_hostname: Option<String>,
    /// The client's TCP port (shown only with a `client_addr`; -1 otherwise).
    pub client_port: Option<u16>,
    pub backend_start: i64,
    pub backend_xmin: Option<Xid>,
    /// `startup`, `catchup`, `streaming`, `backup` or `stopping`.
    pub state: &'static str,
    pub sent_lsn: Lsn,
    pub write_lsn: Lsn,
    pub flush_lsn: Lsn,
    pub replay_lsn: Lsn,
    /// Lags in microseconds (`interval`).
    pub write_lag: Option<i64>,
    pub flush_lag: Option<i64>,
    pub replay_lag: Option<i64>,
    pub sync_priority: i32,
    /// `async`, `potential`, `sync` or `quorum`.
    pub sync_state: &'static str,
    pub reply_time: Option<i64>,
}

/// The walreceiver of `pg_stat_wal_receiver` (PostgreSQL's
/// `pg_stat_get_wal_receiver()`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WalReceiverRow {
    pub pid: i32,
    /// `streaming`, `waiting`, ...
    pub status: &'static str,
    pub receive_start_lsn: Lsn,
    pub receive_start_tli: TimeLineId,
    pub written_lsn: Lsn,
    pub flushed_lsn: Lsn,
    pub received_tli: TimeLineId,
    pub last_msg_send_time: Option<i64>,
    pub last_msg_receipt_time: Option<i64>,
    pub latest_end_lsn: Lsn,
    pub latest_end_time: Option<i64>,
    pub slot_name: Option<String>,
    pub sender_host: Option<String>,
    pub sender_port: Option<i32>,
    /// `primary_conninfo` with its password masked.
    pub conninfo: String,
}

/// One running logical replication worker (`pg_stat_subscription` row).
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionWorkerStat {
    pub subid: tandem_types::Oid,
    /// `apply` or `table synchronization`.
    pub worker_type: &'static str,
    pub pid: i32,
    /// The table a tablesync worker copies.
    pub relid: Option<tandem_types::Oid>,
    pub received_lsn: Option<Lsn>,
    /// Microseconds since 2000-01-01 UTC.
    pub last_msg_send_time: Option<i64>,
    pub last_msg_receipt_time: Option<i64>,
    pub latest_end_lsn: Option<Lsn>,
    pub latest_end_time: Option<i64>,
}

/// One action of a subscription command on its publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionRemoteAction {
    /// `CREATE_REPLICATION_SLOT "slot" LOGICAL pgoutput (TWO_PHASE b,
    /// FAILOVER b, SNAPSHOT 'nothing')`.
    CreateSlot {
        slot: String,
        two_phase: bool,
        failover: bool,
    },
    /// `DROP_REPLICATION_SLOT "slot" WAIT`.
    DropSlot { slot: String },
    /// `ALTER_REPLICATION_SLOT "slot" (FAILOVER b)`.
    AlterSlot { slot: String, failover: bool },
    /// The tables the publications publish (`pg_publication_tables`) and which
    /// of the publications exist on the publisher.
    PublishedTables { publications: Vec<String> },
}

/// A remote action with where to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRemoteRequest {
    /// The subscription's `subconninfo`.
    pub conninfo: String,
    /// The subscription's name (the connection's default `application_name`).
    pub subscription: String,
    pub action: SubscriptionRemoteAction,
    /// The connection must authenticate with a password (a non-superuser's
    /// subscription with `password_required`).
    pub must_use_password: bool,
}

/// What a remote action returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionRemoteResult {
    /// Slot dropped or altered.
    Done,
    /// Slot created; its consistent point.
    SlotCreated { lsn: Lsn },
    /// `(schema, table)` pairs published (no duplicates), and the requested
    /// publications that exist on the publisher.
    Tables {
        tables: Vec<(String, String)>,
        existing_publications: Vec<String>,
    },
}

/// Arguments of `pg_create_logical_replication_slot`.
#[derive(Clone, Debug)]
pub struct LogicalSlotRequest {
    pub name: String,
    pub plugin: String,
    pub temporary: bool,
    pub two_phase: bool,
    pub failover: bool,
    /// Oid of the session's database.
    pub database: u32,
    /// The session's `output_plugin_libraries`.
    pub allowed_plugins: String,
}

/// Arguments of `pg_logical_slot_{get,peek}_[binary_]changes`.
#[derive(Clone, Debug)]
pub struct ChangesRequest {
    pub name: String,
    pub upto_lsn: Option<Lsn>,
    pub upto_nchanges: Option<i64>,
    pub options: Vec<(String, Option<String>)>,
    pub peek: bool,
    pub binary: bool,
    /// Oid of the session's database.
    pub database: u32,
    /// The session's `output_plugin_libraries`.
    pub allowed_plugins: String,
}

/// The rows of a logical decoding function, decoded as they are taken: the
/// slot stays acquired until the last one (which confirms it, unless
/// peeking) or until the stream is dropped (nothing confirmed).
pub trait ChangeStream {
    /// The next row; `None` at the end.
    fn next_row(&mut self) -> PgResult<Option<ChangeRow>>;
}

/// One output row of a logical decoding function.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub lsn: Lsn,
    pub xid: u32,
    pub data: Vec<u8>,
}

/// Arguments of `pg_copy_{logical,physical}_replication_slot`.
#[derive(Clone, Debug)]
pub struct CopySlotRequest {
    pub src: String,
    pub dst: String,
    pub temporary: Option<bool>,
    pub plugin: Option<String>,
    pub logical: bool,
}

/// Per-session state that functions keep between statements (`currval`,
/// `lastval`). Kept by the expr crate per backend pid (see
/// `functions::sequence`); the session calls `tandem_expr::session_ended(pid)`
/// when it exits.
#[derive(Clone, Debug, Default)]
pub struct SessionState {
    /// `currval()`: last value `nextval()` returned in this session, per sequence oid.
    pub currval: HashMap<u32, i64>,
    /// `lastval()`: the last value `nextval()` returned in this session.
    pub lastval: Option<i64>,
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
    /// The session's LISTEN / NOTIFY state (`pg_notify()`, `pg_listening_channels()`).
    pub notify: &'a mut crate::notify::NotifyState,
    /// The session's advisory locks (`pg_advisory_lock()`, ...).
    pub advisory: &'a crate::advisory::AdvisoryState,
}
