//! One subscription's apply worker (PostgreSQL's `replication/logical/worker.c`,
//! `ApplyWorkerMain` / `LogicalRepApplyLoop`), run on its own thread by the
//! launcher (`launcher.rs`). The file is over 600 lines because each
//! message handler stays beside the transaction state it changes; the pure
//! parts live elsewhere (`tandem_replication::apply_feedback`, `changes.rs`,
//! `libpqwalreceiver.rs`, `defaults.rs`).
//!
//! A run: read the subscription; make sure its replication origin `pg_<oid>`
//! exists; copy the tables still in state `i`/`d` (`tablesync.rs`); connect to
//! the publisher and start streaming from the slot at the origin's progress
//! (`libpqwalreceiver.rs`); then apply every remote transaction in one local
//! transaction whose COMMIT record carries the origin and the remote end LSN.
//! That commit is what makes apply exactly-once: the data and "applied up to
//! X" become durable together, and the next run starts streaming at X.
//!
//! Durability and feedback: each applied transaction commits locally without
//! waiting and, as PostgreSQL's asynchronous commit, is visible to other
//! sessions at once (`Database::show_before_flush`); at the end of every batch
//! of received messages one WAL flush makes the batch's commits durable (a
//! group flush). With `synchronous_commit` other than `off` each commit is
//! flushed at once (and visible once flushed). Standby status updates report as `flush` only remote
//! positions whose local COMMIT is on disk (`tandem_replication::apply_feedback`);
//! the publisher moves the slot's `confirmed_flush_lsn` only on `flush`, so it
//! never passes a transaction that a crash here could lose. After half of
//! `wal_receiver_timeout` in silence the worker asks the publisher for a
//! keepalive (PostgreSQL's ping; the schedule is
//! `tandem_replication::walreceiver::Timers`).
//!
//! A table in state `s` (copied at a consistent point C) gets changes only from
//! transactions whose commit LSN is at or after C (PostgreSQL's
//! `should_apply_changes_for_rel`); it becomes `r` once the stream passes C.
//! Changes to tables that are not in `pg_subscription_rel` are ignored, as in
//! PostgreSQL.
//!
//! The run ends with an error (logged as ERROR with a CONTEXT line; the
//! launcher restarts the worker after `wal_retrieve_retry_interval`, or the
//! subscription is disabled when `disable_on_error` is set), when the
//! subscription is dropped or disabled, or when one of its connection
//! parameters changes (the worker restarts at once, as PostgreSQL's does).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_decoding::pgoutput_read::{parse_message, LogicalMessage};
use tandem_protocol::replication::{
    decode_primary_message, encode_standby_message, PrimaryMessage, StandbyMessage,
};
use tandem_protocol::BackendMessage;
use tandem_replication::apply_feedback::ApplyFeedback;
use tandem_replication::walreceiver::Timers;
use tandem_storage::{
    CommitOrigin, Database, IsolationLevel, SubscriptionDef, SubscriptionRelState, Transaction,
};
use tandem_types::elog::log;
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState};

use super::changes::{self, Outcome, RelationMap, RemoteRel, RemoteXact};
use super::defaults::{Defaults, LazyEval};
use super::libpqwalreceiver::{start_on, start_streaming};
use super::worker_internal::{ensure_origin, RunEnd, WorkerCtx};
use tandem_client::ReplClient;
use tandem_replication::origin::origin_name;
use tandem_storage::acl;
use tandem_types::PgTimestamp;

/// The parts of a subscription whose change restarts the worker.
fn run_parameters(s: &SubscriptionDef) -> impl PartialEq {
    (
        s.conninfo.clone(),
        s.slot_name.clone(),
        s.publications.clone(),
        s.binary,
        s.origin.clone(),
        s.synchronous_commit.clone(),
        s.skip_lsn,
        s.disable_on_error,
    )
}

/// One run of the worker; see the module comment.
pub(crate) fn run(ctx: &WorkerCtx) -> PgResult<RunEnd> {
    let db = &ctx.db;
    let cat = db.catalog();
    let Some(sub) = cat.subscriptions.get(&ctx.subid).cloned() else {
        return Ok(RunEnd::Stopped);
    };
    if !sub.enabled {
        return Ok(RunEnd::Stopped);
    }
    let Some(slot) = sub.slot_name.clone() else {
        return Ok(RunEnd::Stopped);
    };
    let origin = origin_name(sub.oid);
    let origin_id = ensure_origin(db, &origin)?;
    // tables waiting for their initial copy: copy them before streaming
    if super::tablesync::sync_pending(ctx, &sub)? == RunEnd::Stopped {
        return Ok(RunEnd::Stopped);
    }
    let sub = match db.catalog().subscriptions.get(&ctx.subid).cloned() {
        Some(s) if s.enabled => s,
        _ => return Ok(RunEnd::Stopped),
    };
    // A multi-host connection follows the primary: a broken stream is not
    // the end of the run, the hosts are probed again (`follow.rs`).
    let multi = super::follow::targets(&sub).is_some();
    let mut skipped = std::collections::HashMap::new();
    loop {
        let start = db
            .origin_progress(origin_id)
            .map(|p| p.remote_lsn)
            .unwrap_or(Lsn::INVALID);
        let client = if multi {
            let changed = || {
                !db.catalog()
                    .subscriptions
                    .get(&ctx.subid)
                    .is_some_and(|now| now.enabled && run_parameters(now) == run_parameters(&sub))
            };
            let found =
                super::follow::find_publisher(ctx, &sub, &slot, start, &mut skipped, &changed)?;
            match found {
                Some(c) => start_on(ctx, c, &sub, &slot, start),
                None if ctx.should_stop() => return Ok(RunEnd::Stopped),
                None => return Ok(RunEnd::Restart),
            }
        } else {
            start_streaming(ctx, &sub, &slot, start)
        };
        let end = client.and_then(|c| stream_from(ctx, &sub, &origin, origin_id, start, c));
        match end {
            Err(e) if multi && !ctx.data_error.load(Ordering::Acquire) => {
                // the publisher went away: log as PostgreSQL's worker would
                // and look for the primary again
                tandem_types::elog::emit_error(&PgError {
                    severity: tandem_types::error::Severity::Error,
                    ..e
                });
            }
            end => return end,
        }
    }
}

/// Applies what one streaming connection sends, from `start`.
fn stream_from(
    ctx: &WorkerCtx,
    sub: &SubscriptionDef,
    origin: &str,
    origin_id: u16,
    start: Lsn,
    mut client: ReplClient,
) -> PgResult<RunEnd> {
    let db = &ctx.db;
    {
        let mut st = ctx.stat.lock();
        st.received_lsn = Some(start);
    }
    let mut apply = Apply {
        ctx,
        sub: sub.clone(),
        origin: origin.to_string(),
        origin_id,
        relmap: RelationMap::default(),
        txn: None,
        xact: RemoteXact::default(),
        skipping: false,
        duplicate: false,
        resume_from: start,
        feedback: ApplyFeedback::new(start),
        timers: Timers::new(0, Lsn::INVALID),
        epoch: Instant::now(),
        syncing: false,
        catalog_seen: db.catalog(),
        defaults: None,
    };
    apply.timers.set_status_interval(
        ctx.config
            .get_ms("wal_receiver_status_interval")
            .unwrap_or(10_000),
    );
    apply.refresh_syncing();
    let end = apply.stream(&mut client);
    if let Some(t) = apply.txn.take() {
        t.rollback();
    }
    match end {
        Ok(e) => {
            let _ = client.send_copy_done();
            client.close();
            Ok(e)
        }
        Err(e) => Err(e),
    }
}

/// The apply state of one streaming connection.
struct Apply<'a> {
    ctx: &'a WorkerCtx,
    sub: SubscriptionDef,
    origin: String,
    origin_id: u16,
    relmap: RelationMap,
    /// The local transaction of the open remote transaction (created at the
    /// first change that applies).
    txn: Option<Transaction>,
    /// The open remote transaction (`final_lsn` valid between Begin and Commit).
    xact: RemoteXact,
    /// Skipping the transaction at `subskiplsn` (ALTER SUBSCRIPTION SKIP).
    skipping: bool,
    /// Skipping a transaction applied before (commit LSN before the origin
    /// progress this run started from: a publisher whose slot is behind, e.g.
    /// a promoted standby, may send it again).
    duplicate: bool,
    /// The origin progress this run started from.
    resume_from: Lsn,
    /// The positions reported to the publisher.
    feedback: ApplyFeedback,
    /// Status updates, keepalive requests and `wal_receiver_timeout`
    /// (`wal_receiver_status_interval` is read when the run starts).
    timers: Timers,
    /// The start of the timers' clock (microseconds since then).
    epoch: Instant,
    /// Some table is in state `s` (waits for the stream to pass its LSN).
    syncing: bool,
    catalog_seen: Arc<tandem_storage::Catalog>,
    /// Evaluation context for subscriber-side column defaults (made on first use).
    defaults: Option<Defaults>,
}

impl Apply<'_> {
    fn db(&self) -> &Arc<Database> {
        &self.ctx.db
    }

    fn in_remote_xact(&self) -> bool {
        self.xact.final_lsn.is_valid()
    }

    /// The timers' clock: microseconds since the run started.
    fn now(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    fn stream(&mut self, client: &mut ReplClient) -> PgResult<RunEnd> {
        client.set_read_timeout(Some(Duration::from_millis(100)));
        let now = self.now();
        self.timers.heard_from_primary(now);
        loop {
            if self.ctx.should_stop() {
                return Ok(RunEnd::Stopped);
            }
            let mut force = false;
            if let Some(msg) = client.try_read_message()? {
                let now = self.now();
                self.timers.heard_from_primary(now);
                match msg {
                    BackendMessage::CopyData(payload) => match decode_primary_message(&payload)? {
                        PrimaryMessage::XLogData {
                            start,
                            wal_end,
                            send_time,
                            data,
                        } => {
                            self.note(start.max(wal_end), send_time, false);
                            if let Err(e) = self.dispatch(&data) {
                                self.ctx.data_error.store(true, Ordering::Release);
                                return Err(e);
                            }
                        }
                        PrimaryMessage::Keepalive {
                            wal_end,
                            send_time,
                            reply_requested,
                        } => {
                            self.note(wal_end, send_time, true);
                            force = reply_requested;
                        }
                    },
                    BackendMessage::CopyDone => {
                        // the publisher ended streaming: reconnect
                        return Ok(RunEnd::Restart);
                    }
                    BackendMessage::ErrorResponse(e) => {
                        let e = e.to_pg_error();
                        return Err(PgError {
                            message: format!(
                                "could not receive data from WAL stream: ERROR:  {}",
                                e.message
                            ),
                            ..e
                        });
                    }
                    _ => {}
                }
                if client.has_buffered_message() && !force {
                    continue;
                }
            } else {
                self.timers.set_timeout(
                    self.ctx
                        .config
                        .get_ms("wal_receiver_timeout")
                        .unwrap_or(60_000),
                );
                let now = self.now();
                if self.timers.timed_out(now) {
                    return Err(PgError::new(
                        SqlState::CONNECTION_FAILURE,
                        "terminating logical replication worker due to timeout",
                    ));
                }
                // half the timeout in silence: ask the publisher for a keepalive
                if self.timers.ping_due(now) {
                    self.send_status(client, true)?;
                    self.timers.pinged();
                }
            }
            // the end of a batch: make the applied commits durable (and
            // visible) in one WAL flush
            self.flush_local()?;
            // between batches: parameter changes, table states, feedback
            if !self.in_remote_xact() {
                if let Some(end) = self.check_catalog()? {
                    self.send_feedback(client, true)?;
                    return Ok(end);
                }
                if self.syncing && !self.feedback.has_pending() {
                    self.mark_ready(self.feedback.last_received())?;
                }
            }
            self.send_feedback(client, force)?;
        }
    }

    /// Message receipt bookkeeping (`pg_stat_subscription`).
    fn note(&mut self, pos: Lsn, send_time: i64, keepalive: bool) {
        self.feedback.received(pos);
        let mut st = self.ctx.stat.lock();
        st.last_msg_send_time = Some(send_time);
        st.last_msg_receipt_time = Some(PgTimestamp::now().as_micros());
        if pos > st.received_lsn.unwrap_or(Lsn::INVALID) {
            st.received_lsn = Some(pos);
        }
        if keepalive {
            st.latest_end_lsn = Some(pos);
            st.latest_end_time = Some(send_time);
        }
    }

    /// Whether the catalog changed in a way that ends this run.
    fn check_catalog(&mut self) -> PgResult<Option<RunEnd>> {
        let cat = self.db().catalog();
        if Arc::ptr_eq(&cat, &self.catalog_seen) {
            return Ok(None);
        }
        self.catalog_seen = cat.clone();
        let Some(now) = cat.subscriptions.get(&self.sub.oid) else {
            log(&format!(
                "logical replication apply worker for subscription \"{}\" will stop because the subscription was removed",
                self.sub.name
            ));
            return Ok(Some(RunEnd::Stopped));
        };
        if !now.enabled {
            log(&format!(
                "logical replication apply worker for subscription \"{}\" will stop because the subscription was disabled",
                now.name
            ));
            return Ok(Some(RunEnd::Stopped));
        }
        if run_parameters(now) != run_parameters(&self.sub) || now.name != self.sub.name {
            log(&format!(
                "logical replication apply worker for subscription \"{}\" will restart because of a parameter change",
                now.name
            ));
            return Ok(Some(RunEnd::Restart));
        }
        if super::tablesync::needs_sync(now, &cat) {
            // REFRESH PUBLICATION added tables: copy them, then stream again
            return Ok(Some(RunEnd::Restart));
        }
        self.sub = now.clone();
        self.refresh_syncing();
        Ok(None)
    }

    fn refresh_syncing(&mut self) {
        self.syncing = self.sub.relations.values().any(|r| r.state == b's');
    }

    /// Tables in state `s` whose sync LSN the stream has passed become `r`.
    fn mark_ready(&mut self, reached: Lsn) -> PgResult<()> {
        let ready: Vec<SubscriptionRelState> = self
            .sub
            .relations
            .values()
            .filter(|r| r.state == b's' && r.lsn.is_some_and(|l| l <= reached))
            .map(|r| SubscriptionRelState {
                relid: r.relid,
                state: b'r',
                lsn: Some(reached),
            })
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        let mut txn = self.db().begin(IsolationLevel::ReadCommitted, false);
        for r in &ready {
            txn.set_subscription_rel_state(self.sub.oid, r.clone())?;
        }
        if let Some(end) = txn.commit()? {
            self.db().wal().flush(end)?;
        }
        for r in ready {
            self.sub.relations.insert(r.relid, r);
        }
        self.catalog_seen = self.db().catalog();
        self.refresh_syncing();
        Ok(())
    }

    /// Whether changes to local table `relid` apply in the open transaction.
    fn applies_to(&self, relid: Oid) -> bool {
        match self.sub.relations.get(&relid) {
            Some(r) if r.state == b'r' => true,
            Some(r) if r.state == b's' => r.lsn.is_some_and(|l| l <= self.xact.final_lsn),
            _ => false,
        }
    }

    fn dispatch(&mut self, data: &[u8]) -> PgResult<()> {
        let msg = parse_message(data)?;
        match msg {
            LogicalMessage::Begin { final_lsn, xid, .. } => {
                self.xact = RemoteXact { xid, final_lsn };
                self.duplicate = final_lsn < self.resume_from;
                if self.sub.skip_lsn.is_valid() && self.sub.skip_lsn == final_lsn {
                    self.skipping = true;
                    log(&format!(
                        "logical replication starts skipping transaction at LSN {final_lsn}"
                    ));
                }
                Ok(())
            }
            LogicalMessage::Commit {
                end_lsn,
                commit_time,
                ..
            } => self.commit(end_lsn, commit_time),
            LogicalMessage::Relation {
                oid,
                namespace,
                name,
                columns,
                ..
            } => {
                self.relmap.define(
                    oid,
                    RemoteRel {
                        namespace,
                        name,
                        columns,
                    },
                );
                Ok(())
            }
            LogicalMessage::Insert { relid, new, .. } => {
                let mut eval = self.evaluator();
                let r = self.change("INSERT", relid, |txn, local, remote| {
                    changes::insert(txn, local, remote, &new, &mut eval)
                });
                self.defaults = eval.defaults;
                r
            }
            LogicalMessage::Update {
                relid, old, new, ..
            } => {
                let mut eval = self.evaluator();
                let r = self.change("UPDATE", relid, |txn, local, remote| {
                    changes::update(txn, local, remote, old.as_ref(), &new, &mut eval)
                });
                self.defaults = eval.defaults;
                r
            }
            LogicalMessage::Delete { relid, old, .. } => {
                self.change("DELETE", relid, |txn, local, remote| {
                    changes::delete(txn, local, remote, &old)
                })
            }
            LogicalMessage::Truncate { flags, relids, .. } => self.truncate(flags, &relids),
            // Origin, Type and Message carry nothing to apply
            LogicalMessage::Origin { .. }
            | LogicalMessage::Type { .. }
            | LogicalMessage::Message { .. } => Ok(()),
            other => Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("invalid logical replication message type \"{other:?}\""),
            )),
        }
    }

    fn local_txn(&mut self) -> &mut Transaction {
        let db = self.ctx.db.clone();
        self.txn.get_or_insert_with(|| changes::begin_apply(&db))
    }

    /// One INSERT / UPDATE / DELETE.
    /// The evaluation context of this change's DEFAULTs and CHECKs (made on
    /// first use, kept for the next change: hand `defaults` back).
    fn evaluator(&mut self) -> LazyEval {
        LazyEval::new(self.defaults.take(), &self.ctx.db, &self.ctx.config)
    }

    fn change(
        &mut self,
        kind: &str,
        relid: Oid,
        f: impl FnOnce(&mut Transaction, &changes::LocalRel, &RemoteRel) -> PgResult<Outcome>,
    ) -> PgResult<()> {
        if self.skipping || self.duplicate {
            return Ok(());
        }
        let cat = self.db().catalog();
        let remote = self.relmap.remote(relid)?;
        // (the relation's name is only formatted for an error or a conflict)
        let context = |xact: &RemoteXact, origin: &str| {
            changes::error_context(origin, kind, Some(&remote.qualified()), xact)
        };
        let local = match self.relmap.resolve(relid, &cat) {
            Ok(l) => l,
            Err(e) => return Err(e.with_context(context(&self.xact, &self.origin))),
        };
        if !self.applies_to(local.table.oid) {
            return Ok(());
        }
        let mask = match kind {
            "INSERT" => acl::INSERT,
            "UPDATE" => acl::UPDATE,
            _ => acl::DELETE,
        };
        let sub = cat.subscriptions.get(&self.sub.oid).unwrap_or(&self.sub);
        if let Err(e) = changes::check_privileges(&cat, sub, &local.table, mask) {
            return Err(e.with_context(context(&self.xact, &self.origin)));
        }
        let mut txn = match self.txn.take() {
            Some(t) => t,
            None => changes::begin_apply(self.db()),
        };
        let outcome = f(&mut txn, &local, &remote);
        self.txn = Some(txn);
        match outcome {
            Ok(Outcome::Applied) => Ok(()),
            Ok(Outcome::Missing) => {
                changes::log_missing(
                    kind,
                    &remote.qualified(),
                    &context(&self.xact, &self.origin),
                );
                Ok(())
            }
            Err(e) => Err(e.with_context(context(&self.xact, &self.origin))),
        }
    }

    fn truncate(&mut self, flags: u8, relids: &[Oid]) -> PgResult<()> {
        if self.skipping || self.duplicate {
            return Ok(());
        }
        let cat = self.db().catalog();
        let mut tables = Vec::new();
        for relid in relids {
            let local = self.relmap.resolve(*relid, &cat).map_err(|e| {
                e.with_context(changes::error_context(
                    &self.origin,
                    "TRUNCATE",
                    None,
                    &self.xact,
                ))
            })?;
            let oid = local.table.oid;
            if self.applies_to(oid) && !tables.contains(&oid) {
                let sub = cat.subscriptions.get(&self.sub.oid).unwrap_or(&self.sub);
                changes::check_privileges(&cat, sub, &local.table, acl::TRUNCATE).map_err(|e| {
                    e.with_context(changes::error_context(
                        &self.origin,
                        "TRUNCATE",
                        None,
                        &self.xact,
                    ))
                })?;
                tables.push(oid);
            }
        }
        if tables.is_empty() {
            return Ok(());
        }
        let (xact, origin) = (self.xact, self.origin.clone());
        let txn = self.local_txn();
        txn.start_statement();
        txn.truncate_with(&tables, flags & 2 != 0, flags & 1 != 0)
            .map_err(|e| e.with_context(changes::error_context(&origin, "TRUNCATE", None, &xact)))
    }

    /// Commit: the local transaction commits with the origin and the remote
    /// end LSN; a skipped or empty remote transaction still moves the origin
    /// (an empty local commit carrying it) so a restart does not ask for it
    /// again.
    fn commit(&mut self, end_lsn: Lsn, commit_time: i64) -> PgResult<()> {
        let origin = Some(CommitOrigin {
            origin: self.origin_id,
            remote_lsn: end_lsn,
            remote_time: commit_time,
        });
        if std::mem::take(&mut self.duplicate) {
            self.xact = RemoteXact::default();
            return Ok(());
        }
        let skipped = std::mem::take(&mut self.skipping);
        let mut txn = match self.txn.take() {
            Some(t) => t,
            None if skipped => self.db().begin(IsolationLevel::ReadCommitted, false),
            None => {
                // nothing applied locally: no commit needed; the position can
                // be confirmed once earlier commits are durable
                self.feedback.applied(end_lsn, None);
                self.xact = RemoteXact::default();
                return Ok(());
            }
        };
        if skipped {
            // clear subskiplsn in the same commit
            if let Some(mut s) = self
                .db()
                .catalog()
                .subscriptions
                .get(&self.sub.oid)
                .cloned()
            {
                s.skip_lsn = Lsn::INVALID;
                txn.put_subscription(s.clone())?;
                self.sub.skip_lsn = Lsn::INVALID;
            }
            txn.assign_xid();
        }
        txn.set_origin(origin);
        let local_end = txn.commit().map_err(|e| {
            e.with_context(changes::error_context(
                &self.origin,
                "COMMIT",
                None,
                &self.xact,
            ))
        })?;
        if skipped {
            log(&format!(
                "logical replication completed skipping transaction at LSN {}",
                self.xact.final_lsn
            ));
            self.catalog_seen = self.db().catalog();
        }
        if let Some(end) = local_end {
            if self.sub.synchronous_commit != "off" {
                self.db().wal().flush(end)?;
            } else {
                // PostgreSQL's apply worker commits asynchronously: the rows
                // are visible at once, the flush follows at the end of the
                // batch, and feedback reports `end` as flushed only then
                self.db().show_before_flush(end);
            }
        }
        self.feedback.applied(end_lsn, local_end);
        self.xact = RemoteXact::default();
        Ok(())
    }

    /// Flushes WAL up to the newest local commit of an applied transaction.
    fn flush_local(&mut self) -> PgResult<()> {
        match self.feedback.newest_local_commit() {
            Some(l) if l > self.ctx.db.wal().flush_lsn() => self.ctx.db.wal().flush(l),
            _ => Ok(()),
        }
    }

    /// A status update when one is due, forced, or the positions changed.
    fn send_feedback(&mut self, client: &mut ReplClient, force: bool) -> PgResult<()> {
        let due = self.timers.status_due(self.now());
        let flushed = self.db().wal().flush_lsn();
        if !force && !due && !self.feedback.changed(flushed, self.in_remote_xact()) {
            return Ok(());
        }
        self.send_status(client, false)
    }

    /// One standby status update (`r`); `reply_requested` asks for a keepalive.
    fn send_status(&mut self, client: &mut ReplClient, reply_requested: bool) -> PgResult<()> {
        let flushed = self.db().wal().flush_lsn();
        let st = self.feedback.status(flushed, self.in_remote_xact());
        client.send_copy_data(&encode_standby_message(&StandbyMessage::Status {
            write: st.write,
            flush: st.flush,
            apply: st.apply,
            send_time: PgTimestamp::now().as_micros(),
            reply_requested,
        }))?;
        self.feedback.sent(&st);
        let now = self.now();
        self.timers.replied(now, st.apply);
        Ok(())
    }
}
