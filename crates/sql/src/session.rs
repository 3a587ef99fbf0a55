//! `Session`: one client backend (PostgreSQL's `tcop/postgres.c` main loop
//! without the socket). Owns the session's settings, its transaction
//! ([`crate::transaction::Xact`]), prepared statements and portals, and pending
//! notices; runs simple-query messages statement by statement.
//!
//! Ordering rules enforced here:
//! - the whole message is parsed before any statement runs;
//! - an implicit transaction commits after its last statement and *before* that
//!   statement's CommandComplete (a commit failure replaces it), as PostgreSQL;
//! - a commit waits for WAL durability (`wait_for_commit_durability`) before the
//!   client hears about it; a flush failure is PANIC.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tandem_config::{SessionConfig, SyncCommit};
use tandem_expr::notify::NotifyState;
use tandem_expr::{ExecContext, SessionInfo};
use tandem_replication::syncrep::{WaitMode, WaitOutcome};
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, PgTimestamp, Severity, SqlState, Value};

use crate::dispatch::{self, Output, RowMode};
use crate::extended::{Portal, Prepared};
use crate::front_parser::{self, FrontStmt, ParsedStmt, StmtKind};
use crate::shapes::Shapes;
use crate::transaction::{
    find_savepoint, parse_isolation, savepoint_outside_block, BlockState, Effect, NamedSavepoint,
    Xact,
};
use crate::{Engine, QuerySink};

/// One client session (a backend, in PostgreSQL's words).
pub struct Session {
    pub(crate) engine: Arc<Engine>,
    pub(crate) info: SessionInfo,
    pub(crate) config: SessionConfig,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) xact: Xact,
    /// `config.begin_transaction()` was called and not yet ended.
    xact_open: bool,
    pub(crate) prepared: HashMap<String, Arc<Prepared>>,
    pub(crate) portals: HashMap<String, Portal>,
    /// NOTICEs and WARNINGs to send before the next CommandComplete.
    pub(crate) notices: Vec<PgError>,
    /// Incremented per statement; the storage transaction starts a statement
    /// (fresh READ COMMITTED snapshot) when it sees a new value.
    pub(crate) statement_seq: u64,
    pub(crate) stmt_start: i64,
    /// Running a simple-query message of more than one statement (VACUUM and
    /// friends refuse to run then).
    pub(crate) multi_statement: bool,
    /// Plans of simple-query statements by shape ([`crate::shapes`]).
    pub(crate) shapes: Shapes,
    /// LISTEN / NOTIFY of this session and its transaction.
    pub(crate) notify: NotifyState,
    /// Open SQL cursors, by name.
    pub(crate) cursors: HashMap<String, crate::cursor::Cursor>,
    /// The advisory locks this session holds (released when it ends).
    pub(crate) advisory: tandem_expr::advisory::AdvisoryState,
}

/// Why the open transaction cannot adopt a given snapshot
/// ([`Session::prepare_snapshot_import`]), in the order PostgreSQL's
/// `CreateReplicationSlot` checks for `SNAPSHOT 'use'`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotRefusal {
    /// Not inside a `BEGIN` block.
    NotInBlock,
    /// The block's isolation level is not REPEATABLE READ.
    NotRepeatableRead,
    /// The block is not READ ONLY.
    NotReadOnly,
    /// A query already took the transaction snapshot.
    SnapshotTaken,
}

impl Session {
    /// `startup` are the StartupMessage parameters (user, database, options...).
    /// Fails with FATAL for an unknown database (`3D000 database "x" does not exist`).
    pub fn new(
        engine: Arc<Engine>,
        info: SessionInfo,
        startup: &[(String, String)],
    ) -> PgResult<Session> {
        let database = startup
            .iter()
            .find(|(k, _)| k == "database")
            .map(|(_, v)| v.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| info.database.clone());
        if database != "postgres" && database != "template1" {
            return Err(PgError::fatal(
                SqlState::UNDEFINED_DATABASE,
                format!("database \"{database}\" does not exist"),
            ));
        }
        let config = SessionConfig::new(Arc::clone(&engine.config), startup)?;
        let notify = NotifyState::new(Arc::clone(&engine.notify), info.pid);
        let advisory =
            tandem_expr::advisory::AdvisoryState::new(Arc::clone(&engine.advisory), info.pid);
        Ok(Session {
            engine,
            info,
            config,
            cancel: Arc::new(AtomicBool::new(false)),
            xact: Xact::new(),
            xact_open: false,
            prepared: HashMap::new(),
            portals: HashMap::new(),
            notices: Vec::new(),
            statement_seq: 0,
            stmt_start: 0,
            multi_statement: false,
            shapes: Shapes::default(),
            notify,
            advisory,
            cursors: HashMap::new(),
        })
    }

    /// ParameterStatus values to send after authentication.
    pub fn reported_parameters(&self) -> Vec<(String, String)> {
        let mut params = self.config.reported();
        let mut put = |name: &str, value: String| match params.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = value,
            None => params.push((name.to_string(), value)),
        };
        put(
            "is_superuser",
            if self.info.superuser { "on" } else { "off" }.to_string(),
        );
        put("session_authorization", self.info.user.clone());
        params
    }

    /// The cancel flag a CancelRequest for this backend sets.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Simple query protocol: runs every statement of `sql` in order (an implicit
    /// transaction around them unless they manage transactions), answering into
    /// `sink`. An error aborts the rest and is returned (the caller sends
    /// ErrorResponse); ReadyForQuery is the caller's.
    pub fn simple_query(&mut self, sql: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        let result = self.simple_query_inner(sql, sink);
        self.multi_statement = false;
        if result.is_err() {
            let _ = self.flush_notices(sink);
            self.on_error();
        }
        result
    }

    fn simple_query_inner(&mut self, sql: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        if let Some(done) = self.run_by_shape(sql, sink) {
            return done;
        }
        let stmts = front_parser::parse_query(sql)?;
        self.log_statement(sql, &stmts);
        if stmts.is_empty() {
            return sink.empty_query();
        }
        self.multi_statement = stmts.len() > 1;
        let count = stmts.len();
        for (i, stmt) in stmts.iter().enumerate() {
            self.begin_statement();
            self.enter_statement(is_exit_statement(stmt))?;
            let mut out = Output::new(sink, RowMode::Simple);
            let tag = dispatch::execute(self, stmt, &mut out).map_err(|e| stmt.locate(e))?;
            if i + 1 == count {
                self.end_of_batch()?;
            }
            self.flush_notices(sink)?;
            sink.command_complete(&tag)?;
        }
        Ok(())
    }

    /// Marks the current transaction failed after an error (the server calls this
    /// for errors it reports, so later statements get 25P02 until ROLLBACK).
    pub fn on_error(&mut self) {
        let (state, effect) = self.xact.state.error();
        self.xact.state = state;
        // a failed block with a savepoint keeps its transaction for ROLLBACK TO
        let keep = state == BlockState::Failed && !self.xact.savepoints.is_empty();
        if effect == Effect::Rollback && !keep {
            self.rollback_storage();
        }
    }

    /// First step of giving the open transaction block a snapshot chosen by
    /// the caller (a logical slot's consistent point): checks that the block
    /// is a READ ONLY, REPEATABLE READ block whose snapshot was not taken
    /// yet, and opens its storage transaction now, which holds back pruning
    /// from this moment on. Then [`Session::set_snapshot_lsn`].
    pub fn prepare_snapshot_import(&mut self) -> Result<(), SnapshotRefusal> {
        if self.xact.state != BlockState::InBlock {
            return Err(SnapshotRefusal::NotInBlock);
        }
        if self.xact.isolation != tandem_storage::IsolationLevel::RepeatableRead {
            return Err(SnapshotRefusal::NotRepeatableRead);
        }
        if !self.xact.read_only {
            return Err(SnapshotRefusal::NotReadOnly);
        }
        if self.xact.txn.as_ref().is_some_and(|t| t.snapshot_taken()) {
            return Err(SnapshotRefusal::SnapshotTaken);
        }
        if self.xact.txn.is_none() {
            self.xact.begun(&self.engine.db, &self.cancel);
            // This statement must not take the snapshot.
            self.xact.statement_seen = self.statement_seq;
        }
        Ok(())
    }

    /// Makes the open transaction block (after a successful
    /// [`Session::prepare_snapshot_import`]) read exactly the data committed
    /// at or before `lsn`: no later commit, as PostgreSQL's tablesync needs
    /// for `CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')` then COPY. `lsn`
    /// must be a boundary between transactions not older than the moment of
    /// `prepare_snapshot_import` (a slot created after it).
    pub fn set_snapshot_lsn(&mut self, lsn: Lsn) -> PgResult<()> {
        match self.xact.txn.as_mut() {
            Some(t) => t.set_snapshot(lsn),
            None => Err(PgError::internal(
                "no transaction to set the snapshot of (prepare_snapshot_import first)",
            )),
        }
    }

    /// What wakes this session, idle, when a notification is queued for it.
    pub fn set_notify_waker(&mut self, waker: tandem_expr::notify::Waker) {
        self.notify.set_waker(waker);
    }

    /// Whether the session listens on a channel (and must watch for
    /// notifications while idle).
    pub fn is_listening(&self) -> bool {
        self.notify.is_listening()
    }

    /// Notifications to send now: only outside a transaction block, as
    /// PostgreSQL delivers them (before ReadyForQuery, or while idle).
    pub fn take_notifications(&mut self) -> Vec<tandem_expr::notify::Notification> {
        if self.xact.state != BlockState::Idle {
            return Vec::new();
        }
        self.notify.take()
    }

    /// ReadyForQuery status: `b'I'` idle, `b'T'` in transaction, `b'E'` failed.
    pub fn transaction_status(&self) -> u8 {
        self.xact.state.status_byte()
    }

    /// Ends the session: rolls back any open transaction.
    pub fn terminate(&mut self) {
        self.xact.state = BlockState::Idle;
        self.rollback_storage();
        self.prepared.clear();
        // currval()/lastval() state lives in expr, keyed by backend pid
        tandem_expr::session_ended(self.info.pid);
    }

    // ---- statement and transaction plumbing (used by dispatch/extended) ----

    /// A new statement: cancel flag reset, statement timestamp, new snapshot.
    pub(crate) fn begin_statement(&mut self) {
        self.cancel.store(false, Ordering::Relaxed);
        self.statement_seq += 1;
        self.stmt_start = PgTimestamp::now().as_micros();
        self.sync_time_zone();
    }

    /// Installs this session's `TimeZone` for the thread's timestamptz text
    /// in and out (each statement start, and Bind, which reads parameters).
    pub(crate) fn sync_time_zone(&self) {
        tandem_expr::timezone::set_session_zone(&self.config.get_shared_str("TimeZone"));
    }

    /// Applies the block-state rule for a statement about to run: 25P02 in a
    /// failed block (unless `exit`), implicit transaction start when idle.
    pub(crate) fn enter_statement(&mut self, exit: bool) -> PgResult<()> {
        let prev = self.xact.state;
        let next = prev.statement(exit)?;
        if prev == BlockState::Idle {
            self.start_transaction();
        }
        self.xact.state = next;
        Ok(())
    }

    /// Transaction start: characteristics from the session defaults.
    fn start_transaction(&mut self) {
        self.xact.isolation =
            parse_isolation(self.config.get_enum("default_transaction_isolation"))
                .unwrap_or(tandem_storage::IsolationLevel::ReadCommitted);
        self.xact.read_only = self.config.get_bool("default_transaction_read_only");
        self.xact.start_time = PgTimestamp::now().as_micros();
        self.config.begin_transaction();
        self.xact_open = true;
    }

    /// End of a simple-query message or Sync: commits an implicit transaction.
    pub(crate) fn end_of_batch(&mut self) -> PgResult<()> {
        let (state, effect) = self.xact.state.end_of_batch();
        self.xact.state = state;
        self.apply(effect)
    }

    /// Carries out a transition's effect on the storage transaction.
    pub(crate) fn apply(&mut self, effect: Effect) -> PgResult<()> {
        match effect {
            Effect::None => Ok(()),
            Effect::Commit => self.commit_storage(),
            Effect::Rollback => {
                self.rollback_storage();
                Ok(())
            }
            Effect::Warn(w) => {
                self.notices.push(w);
                Ok(())
            }
            Effect::WarnThen(w, then) => {
                self.notices.push(w);
                self.apply(*then)
            }
        }
    }

    fn commit_storage(&mut self) -> PgResult<()> {
        if let Err(e) = self.notify.check_queue() {
            self.rollback_storage();
            return Err(e);
        }
        let result = match self.xact.txn.take() {
            Some(t) => t.commit(),
            None => Ok(None),
        };
        self.end_xact(result.is_ok());
        let durable = match result? {
            Some(lsn) => self.wait_for_commit_durability(lsn),
            None => Ok(()),
        };
        // committed: LISTEN / UNLISTEN take effect, notifications go out
        // (after the commit is durable, as PostgreSQL's AtCommit_Notify)
        self.notify.at_commit();
        self.advisory.end_xact();
        durable
    }

    /// `SAVEPOINT name`: only in a transaction block (a failed one refuses
    /// every statement but ROLLBACK before this is reached).
    pub(crate) fn savepoint(&mut self, name: String) -> PgResult<()> {
        if self.xact.state != BlockState::InBlock {
            return Err(savepoint_outside_block("SAVEPOINT"));
        }
        let storage = self.xact.begun(&self.engine.db, &self.cancel).savepoint();
        let config = self.config.savepoint();
        let notify = self.notify.mark();
        self.xact.savepoints.push(NamedSavepoint {
            name,
            storage,
            config,
            notify,
        });
        Ok(())
    }

    /// `RELEASE [SAVEPOINT] name`: forgets it and every savepoint after it,
    /// keeping what was done since.
    pub(crate) fn release_savepoint(&mut self, name: &str) -> PgResult<()> {
        if self.xact.state != BlockState::InBlock {
            return Err(savepoint_outside_block("RELEASE SAVEPOINT"));
        }
        let at = find_savepoint(&self.xact.savepoints, name)?;
        self.xact.savepoints.truncate(at);
        Ok(())
    }

    /// `ROLLBACK TO [SAVEPOINT] name`: undoes the writes, DDL and settings
    /// since it, forgets the savepoints after it (it stays), and reopens a
    /// failed block. Returns the reported settings that changed.
    pub(crate) fn rollback_to_savepoint(&mut self, name: &str) -> PgResult<Vec<(String, String)>> {
        if !matches!(self.xact.state, BlockState::InBlock | BlockState::Failed) {
            return Err(savepoint_outside_block("ROLLBACK TO SAVEPOINT"));
        }
        let at = find_savepoint(&self.xact.savepoints, name)?;
        self.xact.savepoints.truncate(at + 1);
        let sp = &self.xact.savepoints[at];
        if let Some(txn) = self.xact.txn.as_mut() {
            txn.rollback_to(&sp.storage);
        }
        self.config.rollback_to(&sp.config);
        self.notify.rollback_to(&sp.notify);
        self.xact.state = BlockState::InBlock;
        Ok(self.config.take_reports())
    }

    pub(crate) fn rollback_storage(&mut self) {
        if let Some(t) = self.xact.txn.take() {
            t.rollback();
        }
        self.end_xact(false);
    }

    fn end_xact(&mut self, committed: bool) {
        self.xact.savepoints.clear();
        crate::cursor::end_transaction(self, committed);
        if !committed {
            self.notify.at_abort();
            self.advisory.end_xact();
        }
        if self.xact_open {
            self.config.end_transaction(committed);
            self.xact_open = false;
        }
        self.portals.clear();
    }

    /// The one place a commit waits to be durable: local WAL flush unless
    /// `synchronous_commit = off`, then, with `remote_write` / `on` /
    /// `remote_apply` and a non-empty `synchronous_standby_names`, the
    /// synchronous standbys' acknowledgement (PostgreSQL's `SyncRepWaitForLSN`).
    /// A flush failure is PANIC: the commit record's fate is unknown. A cancel
    /// during the standby wait is a WARNING: the commit has happened locally.
    pub(crate) fn wait_for_commit_durability(&mut self, lsn: Lsn) -> PgResult<()> {
        let sync = self.config.synchronous_commit();
        if sync == SyncCommit::Off {
            return Ok(());
        }
        self.engine.db.wal().flush(lsn).map_err(|e| PgError {
            severity: Severity::Panic,
            ..e
        })?;
        let mode = match sync {
            SyncCommit::Off | SyncCommit::Local => return Ok(()),
            SyncCommit::RemoteWrite => WaitMode::Write,
            SyncCommit::On => WaitMode::Flush,
            SyncCommit::RemoteApply => WaitMode::Apply,
        };
        let Some(waiters) = self.engine.syncrep.clone() else {
            return Ok(());
        };
        if waiters.wait(lsn, mode, &self.cancel) == WaitOutcome::Canceled {
            self.cancel.store(false, Ordering::SeqCst);
            self.notices.push(
                PgError::warning("canceling wait for synchronous replication due to user request")
                    .with_detail(
                        "The transaction has already committed locally, but might not have been replicated to the standby.",
                    ),
            );
        }
        Ok(())
    }

    /// Refuses writes in a read-only transaction (later also on a hot standby).
    pub(crate) fn check_writable(&self, command: &str) -> PgResult<()> {
        if self.xact.read_only {
            return Err(PgError::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                format!("cannot execute {command} in a read-only transaction"),
            ));
        }
        Ok(())
    }

    /// PostgreSQL's `PreventInTransactionBlock`.
    /// Whether a statement runs in a transaction block (or in an implicit
    /// one of several statements in one query).
    pub(crate) fn in_block(&self) -> bool {
        match self.xact.state {
            BlockState::InBlock | BlockState::Failed => true,
            BlockState::Implicit => self.multi_statement,
            BlockState::Idle => false,
        }
    }

    pub(crate) fn prevent_in_block(&self, what: &str) -> PgResult<()> {
        if self.in_block() {
            return Err(PgError::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                format!("{what} cannot run inside a transaction block"),
            ));
        }
        Ok(())
    }

    /// Runs `f` with an execution context over the (lazily started) transaction.
    pub(crate) fn with_ctx<R>(
        &mut self,
        params: &[Value],
        f: impl FnOnce(&mut ExecContext<'_>) -> PgResult<R>,
    ) -> PgResult<R> {
        let engine = Arc::clone(&self.engine);
        let txn_start = self.xact.start_time;
        let txn = self
            .xact
            .storage(&engine.db, &self.cancel, self.statement_seq);
        let mut ctx = ExecContext {
            db: &engine.db,
            txn,
            config: &mut self.config,
            session: &self.info,
            hooks: &*engine.hooks,
            params,
            txn_start,
            stmt_start: self.stmt_start,
            cancel: &self.cancel,
            notices: &mut self.notices,
            notify: &mut self.notify,
            advisory: &self.advisory,
        };
        f(&mut ctx)
    }

    pub(crate) fn flush_notices(&mut self, sink: &mut dyn QuerySink) -> PgResult<()> {
        for n in std::mem::take(&mut self.notices) {
            sink.notice(&n)?;
        }
        Ok(())
    }

    /// The session user's superuser flag (from the catalog when it is there).
    pub(crate) fn is_superuser(&self) -> bool {
        self.info.superuser
    }

    /// `log_statement`: logs the whole message once if any statement qualifies.
    fn log_statement(&self, sql: &str, stmts: &[ParsedStmt]) {
        let threshold = match self.config.get_enum("log_statement") {
            "all" => 0,
            "mod" => 1,
            "ddl" => 2,
            _ => return,
        };
        if stmts.iter().any(|s| log_class(s) >= threshold) {
            elog::emit(Level::Log, &format!("statement: {sql}"), None, None);
        }
    }

    pub(crate) fn log_extended(&self, what: &str, name: &str, sql: &str) {
        if self.config.get_enum("log_statement") == "all" {
            let name = if name.is_empty() { "<unnamed>" } else { name };
            elog::emit(Level::Log, &format!("{what} {name}: {sql}"), None, None);
        }
    }
}

/// ROLLBACK and COMMIT are accepted in a failed transaction block.
pub(crate) fn is_exit_statement(stmt: &ParsedStmt) -> bool {
    use sqlparser::ast::Statement;
    matches!(
        &stmt.kind,
        StmtKind::Sql { stmt, .. } if matches!(**stmt, Statement::Commit { .. } | Statement::Rollback { .. })
    )
}

/// 0: logged only with `all`; 1: `mod`; 2: `ddl`.
fn log_class(stmt: &ParsedStmt) -> u8 {
    use sqlparser::ast::Statement as S;
    match &stmt.kind {
        StmtKind::Front(FrontStmt::Copy(c)) if c.from => 1,
        StmtKind::Front(
            FrontStmt::AlterSystem { .. }
            | FrontStmt::CreateSequence(_)
            | FrontStmt::AlterSequence(_)
            | FrontStmt::Grant(_),
        ) => 2,
        StmtKind::Front(_) => 0,
        StmtKind::Sql { stmt, .. } => match &**stmt {
            S::Insert(_) | S::Update(_) | S::Delete(_) | S::Truncate(_) => 1,
            S::CreateTable(_)
            | S::AlterTable(_)
            | S::Drop { .. }
            | S::CreateRole(_)
            | S::AlterRole { .. }
            | S::CreateIndex(_)
            | S::CreateView(_)
            | S::CreateType { .. }
            | S::AlterType(_) => 2,
            _ => 0,
        },
    }
}
