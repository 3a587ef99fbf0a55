//! Evaluating subscriber-side expressions in the apply worker: a remote
//! INSERT that does not carry a column gets the local table's DEFAULT, computed
//! as a superuser session would (PostgreSQL's apply worker fills missing
//! columns with `slot_fill_defaults` in `replication/logical/worker.c`), and
//! every applied row must pass the local table's CHECK constraints.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tandem_types::PgTimestamp;

use tandem_config::Config;
use tandem_storage::{Database, Transaction};
use tandem_types::{PgError, PgResult};

/// What evaluating a column DEFAULT needs (a session's settings and
/// identity: the apply worker runs as a superuser session would).
pub(super) struct Defaults {
    config: tandem_config::SessionConfig,
    info: tandem_expr::SessionInfo,
    cancel: Arc<AtomicBool>,
}

/// Server hooks for default expressions: none of them act on the server.
struct NoHooks;

impl tandem_expr::context::ServerHooks for NoHooks {
    fn reload_conf(&self) -> bool {
        false
    }
    fn signal_backend(&self, _pid: i32, _terminate: bool) -> bool {
        false
    }
}

impl Defaults {
    pub(super) fn new(config: &Arc<Config>) -> PgResult<Defaults> {
        Ok(Defaults {
            config: tandem_config::SessionConfig::new(config.clone(), &[])?,
            info: tandem_expr::SessionInfo {
                pid: 0,
                user: "postgres".into(),
                user_oid: 10,
                superuser: true,
                database: "postgres".into(),
                application_name: String::new(),
                client_addr: None,
                backend_start: PgTimestamp::now().as_micros(),
            },
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(super) fn eval(
        &mut self,
        db: &Arc<Database>,
        txn: &mut Transaction,
        expr: &str,
        ty: &tandem_types::DataType,
    ) -> PgResult<tandem_types::Value> {
        self.with_ctx(db, txn, |ctx| {
            tandem_query::eval_expr_text(expr, Some(ty), ctx)
        })
    }

    /// `23514` unless `row` passes the CHECK constraints `checks` of `def`.
    pub(super) fn check(
        &mut self,
        db: &Arc<Database>,
        txn: &mut Transaction,
        checks: &tandem_query::checks::RowChecks,
        def: &tandem_storage::TableDef,
        row: &[tandem_types::Value],
    ) -> PgResult<()> {
        self.with_ctx(db, txn, |ctx| checks.check_in(ctx, def, row))
    }

    /// Runs `f` with a superuser session's context over `txn`.
    fn with_ctx<R>(
        &mut self,
        db: &Arc<Database>,
        txn: &mut Transaction,
        f: impl FnOnce(&mut tandem_expr::ExecContext<'_>) -> PgResult<R>,
    ) -> PgResult<R> {
        let now = PgTimestamp::now().as_micros();
        let mut notices = Vec::new();
        let mut notify = tandem_expr::notify::NotifyState::detached(self.info.pid);
        let advisory = tandem_expr::advisory::AdvisoryState::detached(self.info.pid);
        let mut ctx = tandem_expr::ExecContext {
            db,
            txn,
            config: &mut self.config,
            session: &self.info,
            hooks: &NoHooks,
            params: &[],
            txn_start: now,
            stmt_start: now,
            cancel: &self.cancel,
            notices: &mut notices,
            notify: &mut notify,
            advisory: &advisory,
        };
        f(&mut ctx)
    }
}

/// [`super::changes::RowEval`] over a [`Defaults`] context made when first needed.
pub(super) struct LazyEval {
    /// The context, once made (hand it on to the next change).
    pub defaults: Option<Defaults>,
    db: Arc<Database>,
    config: Arc<Config>,
}

impl LazyEval {
    pub(super) fn new(
        defaults: Option<Defaults>,
        db: &Arc<Database>,
        config: &Arc<Config>,
    ) -> LazyEval {
        LazyEval {
            defaults,
            db: db.clone(),
            config: config.clone(),
        }
    }

    /// The context (made now if it was not yet) and the database.
    fn context(&mut self) -> PgResult<(&mut Defaults, &Arc<Database>)> {
        if self.defaults.is_none() {
            self.defaults = Some(Defaults::new(&self.config)?);
        }
        match self.defaults.as_mut() {
            Some(d) => Ok((d, &self.db)),
            None => Err(PgError::internal("no evaluation context")),
        }
    }
}

impl super::changes::RowEval for LazyEval {
    fn default_value(
        &mut self,
        txn: &mut Transaction,
        expr: &str,
        ty: &tandem_types::DataType,
    ) -> PgResult<tandem_types::Value> {
        let (d, db) = self.context()?;
        d.eval(db, txn, expr, ty)
    }

    fn check(
        &mut self,
        txn: &mut Transaction,
        checks: &tandem_query::checks::RowChecks,
        def: &tandem_storage::TableDef,
        row: &[tandem_types::Value],
    ) -> PgResult<()> {
        let (d, db) = self.context()?;
        d.check(db, txn, checks, def, row)
    }
}
