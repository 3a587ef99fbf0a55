//! Logical replication slots in the running server: creating them (SQL and
//! replication command), decoding changes through them for the SQL functions
//! (`pg_logical_slot_get_changes` and friends), advancing and copying them, and
//! the position bookkeeping shared with the logical walsender.
//!
//! Positions: tandem writes each transaction's records contiguously at commit,
//! so any record boundary between transactions is a consistent point. A slot's
//! `restart_lsn` is always such a boundary (where decoding resumes) and its
//! `confirmed_flush_lsn` is what the consumer confirmed; transactions whose
//! COMMIT record starts before `confirmed_flush_lsn` are not sent again, as
//! PostgreSQL's `SnapBuildXactNeedsSkip`. The catalog as of `restart_lsn` is
//! kept by storage's catalog history.
//!
//! Corresponds to PostgreSQL's `replication/logical/logicalfuncs.c`,
//! `replication/logical/logical.c` (`CreateInitDecodingContext`,
//! `CheckLogicalDecodingRequirements`) and `slotfuncs.c`.

use std::sync::Arc;
use std::time::Duration;

use tandem_config::Config;
use tandem_decoding::{Decoded, OutputRow};
use tandem_replication::slot::{
    advance_logical, advance_physical, catalog_xmin_after, Invalidation, Persistency, RestartPoint,
    SlotData, SlotRegistry,
};
use tandem_replication::slot_stats::SlotStats;
use tandem_replication::standby_slots::{self, Problem};
use tandem_storage::Database;
use tandem_types::elog;
use tandem_types::{Lsn, Oid, PgError, PgResult, PgTimestamp, Severity, SqlState, Xid};

use super::synced::SlotOp;

/// `CheckLogicalDecodingRequirements`: slots enabled and `wal_level = logical`.
pub(crate) fn check_requirements(config: &Config) -> PgResult<()> {
    super::registry::check_requirements(config)?;
    if config.get_str("wal_level") != "logical" {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "logical decoding requires \"wal_level\" >= \"logical\"",
        ));
    }
    Ok(())
}

/// Where a new logical slot starts: the end of WAL written so far, a boundary
/// between transactions (each transaction's records are appended as one batch).
/// On a standby, the end of replayed WAL.
fn consistent_point(db: &Database) -> Lsn {
    if db.in_recovery() {
        db.replay_lsn()
    } else {
        db.wal().insert_lsn()
    }
}

/// How far decoding may read: flushed WAL on a primary, replayed WAL on a
/// standby (a standby must not decode what it has not applied).
pub(crate) fn end_of_wal(db: &Database) -> Lsn {
    if db.in_recovery() {
        db.replay_lsn()
    } else {
        db.wal().flush_lsn()
    }
}

/// The xid shown as a slot's `catalog_xmin`: the oldest transaction whose
/// catalog view decoding may still need (the next one to be assigned when
/// nothing is in flight).
fn catalog_xmin_now(db: &Database) -> Xid {
    db.next_xid()
}

/// What `CREATE_REPLICATION_SLOT ... LOGICAL` and
/// `pg_create_logical_replication_slot` ask for.
pub(crate) struct NewLogicalSlot<'a> {
    pub name: &'a str,
    pub plugin: &'a str,
    pub temporary: bool,
    pub two_phase: bool,
    pub failover: bool,
    pub database: Oid,
    /// `output_plugin_libraries` of the requesting session.
    pub allowed_plugins: &'a str,
}

/// Creates a logical slot owned by `pid` and returns its consistent point.
/// The slot stays acquired by `pid` (the caller releases it, or keeps it for
/// a walsender's SNAPSHOT 'use').
pub(crate) fn create(
    slots: &SlotRegistry,
    db: &Database,
    config: &Config,
    pid: i32,
    req: &NewLogicalSlot<'_>,
) -> PgResult<Lsn> {
    check_requirements(config)?;
    tandem_replication::slot::validate_name(req.name)?;
    if req.failover && req.temporary {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot enable failover for a temporary replication slot",
        ));
    }
    if req.failover && db.in_recovery() {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot enable failover for a replication slot created on the standby",
        ));
    }
    tandem_decoding::check_plugin_allowed(req.plugin, req.allowed_plugins)?;
    tandem_decoding::check_plugin(req.plugin)?;
    let start = consistent_point(db);
    let data = SlotData {
        name: req.name.to_string(),
        database: Some(req.database),
        plugin: Some(req.plugin.to_string()),
        persistency: if req.temporary {
            Persistency::Temporary
        } else {
            Persistency::Persistent
        },
        xmin: None,
        catalog_xmin: Some(catalog_xmin_now(db)),
        restart_lsn: Some(start),
        confirmed_flush: Some(start),
        invalidated: None,
        two_phase: req.two_phase,
        two_phase_at: req.two_phase.then_some(start),
        failover: req.failover,
        synced: false,
    };
    slots.create(data, pid)?;
    Ok(start)
}

/// The names of the logical slots (those with statistics).
pub(crate) fn logical_slot_names(slots: &SlotRegistry) -> Vec<String> {
    slots
        .list()
        .into_iter()
        .filter(|s| s.data.is_logical())
        .map(|s| s.data.name)
        .collect()
}

/// `cannot use physical replication slot for logical decoding` and the other
/// checks of `CreateDecodingContext` on an acquired slot, in PostgreSQL 17's
/// order: kind, database, a synced slot on a standby ([`super::synced`];
/// `allow_synced` for slot synchronization itself), invalidation.
pub(crate) fn check_usable(
    data: &SlotData,
    database: Option<Oid>,
    in_recovery: bool,
    allow_synced: bool,
) -> PgResult<()> {
    if !data.is_logical() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "cannot use physical replication slot for logical decoding",
        ));
    }
    if let (Some(want), Some(have)) = (database, data.database) {
        if want != have {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "replication slot \"{}\" was not created in this database",
                    data.name
                ),
            ));
        }
    }
    super::synced::refuse(SlotOp::Decode, data, in_recovery, allow_synced)?;
    if let Some(inv) = data.invalidated {
        let detail = match inv {
            Invalidation::WalRemoved => {
                "This slot has been invalidated because it exceeded the maximum reserved size."
            }
            Invalidation::RowsRemoved | Invalidation::WalLevelInsufficient => {
                "This slot has been invalidated because it was conflicting with recovery."
            }
        };
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "can no longer get changes from replication slot \"{}\"",
                data.name
            ),
        )
        .with_detail(detail));
    }
    Ok(())
}

/// A decoding session over one acquired slot: decoder, plugin and the
/// positions it has reached.
pub(crate) struct Session {
    decoder: tandem_decoding::Decoder,
    plugin: Box<dyn tandem_decoding::OutputPlugin>,
    /// Transactions whose COMMIT starts before this were already confirmed.
    skip_before: Lsn,
    /// Transactions and bytes handed to the plugin since the last
    /// [`Session::report_stats`] (`pg_stat_replication_slots`).
    decoded: (i64, i64),
    /// Whether a part of the transaction being decoded had changes (it
    /// counts as a transaction at its last part).
    had_changes: bool,
}

/// What [`Session::step_part`] consumed.
pub(crate) enum Stepped {
    /// A part of a large transaction; more parts follow.
    Part,
    /// The end of an item.
    Item(ItemEnd),
}

impl Session {
    /// Starts decoding `data` (an acquired logical slot) from its
    /// `restart_lsn`, skipping what is confirmed before `start_at` (at least
    /// the slot's `confirmed_flush_lsn`).
    pub(crate) fn start(
        db: &Arc<Database>,
        data: &SlotData,
        options: &[(String, Option<String>)],
        start_at: Lsn,
        allowed_plugins: &str,
    ) -> PgResult<Session> {
        let plugin_name = data.plugin.clone().unwrap_or_default();
        tandem_decoding::check_plugin_allowed(&plugin_name, allowed_plugins)?;
        let plugin = tandem_decoding::start_plugin(&plugin_name, options).map_err(|e| {
            e.with_context(format!(
                "slot \"{}\", output plugin \"{plugin_name}\", in the startup callback",
                data.name
            ))
        })?;
        Ok(Session::with_plugin(db, data, plugin, start_at))
    }

    /// Fast-forward decoding (`pg_replication_slot_advance`): the slot's
    /// output plugin is not started, as in PostgreSQL.
    pub(crate) fn fast_forward(db: &Arc<Database>, data: &SlotData) -> Session {
        Session::with_plugin(
            db,
            data,
            Box::new(tandem_decoding::FastForward),
            Lsn::INVALID,
        )
    }

    fn with_plugin(
        db: &Arc<Database>,
        data: &SlotData,
        plugin: Box<dyn tandem_decoding::OutputPlugin>,
        start_at: Lsn,
    ) -> Session {
        let restart = data.restart_lsn.unwrap_or(Lsn::INVALID);
        let confirmed = data.confirmed_flush.unwrap_or(restart);
        let decoder = tandem_decoding::decoder(db.wal().clone(), db.catalog_at(restart), restart);
        Session {
            decoder,
            plugin,
            skip_before: confirmed.max(start_at),
            decoded: (0, 0),
            had_changes: false,
        }
    }

    /// Adds what was decoded since the last call to `slot`'s statistics
    /// (PostgreSQL's `UpdateDecodingStats`). Fast-forwarding (advancing a
    /// slot) does not call it: PostgreSQL does not count that either.
    pub(crate) fn report_stats(&mut self, stats: &SlotStats, slot: &str) {
        let (txns, bytes) = std::mem::take(&mut self.decoded);
        stats.add(slot, txns, bytes);
    }

    pub(crate) fn textual(&self) -> bool {
        self.plugin.textual()
    }

    /// Decodes the next item ending at or before `limit`, sending its output
    /// rows to `out`. `Ok(None)`: nothing complete before `limit` yet.
    /// `Ok(Some(end))`: an item was consumed (maybe skipped or filtered, then
    /// nothing was output); `end` is the consistent point after it. A large
    /// transaction reaches the plugin in parts, each part's rows going to
    /// `out` before the next part is decoded, so neither its changes nor its
    /// rows are held whole here (`out` may send them on).
    pub(crate) fn step(
        &mut self,
        limit: Lsn,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<Option<ItemEnd>> {
        loop {
            match self.step_part(limit, out)? {
                None => return Ok(None),
                Some(Stepped::Part) => continue,
                Some(Stepped::Item(end)) => return Ok(Some(end)),
            }
        }
    }

    /// [`Session::step`] returning after each part of a large transaction
    /// (`Stepped::Part`: more of the same transaction follows), for a caller
    /// that hands the rows on between parts.
    pub(crate) fn step_part(
        &mut self,
        limit: Lsn,
        out: &mut dyn FnMut(OutputRow) -> PgResult<()>,
    ) -> PgResult<Option<Stepped>> {
        let Some(item) = self.decoder.next(limit)? else {
            return Ok(None);
        };
        match &item {
            Decoded::Txn(txn) => {
                if txn.info.commit_lsn >= self.skip_before {
                    self.had_changes |= !txn.changes.is_empty();
                    let bytes = tandem_decoding::stats::transaction_bytes(txn);
                    self.decoded.1 = self.decoded.1.saturating_add(bytes as i64);
                    if txn.part.last
                        && tandem_decoding::stats::counts_as_transaction(
                            self.had_changes,
                            txn.has_catalog_changes,
                        )
                    {
                        self.decoded.0 += 1;
                    }
                    self.plugin.transaction(txn, self.decoder.catalog(), out)?;
                }
                if !txn.part.last {
                    return Ok(Some(Stepped::Part));
                }
                self.had_changes = false;
                Ok(Some(Stepped::Item(ItemEnd {
                    end: self.decoder.position(),
                    xid: Some(txn.info.xid),
                })))
            }
            Decoded::Message(msg) => {
                if msg.lsn >= self.skip_before {
                    self.plugin.message(msg, self.decoder.catalog(), out)?;
                }
                Ok(Some(Stepped::Item(ItemEnd {
                    end: self.decoder.position(),
                    xid: None,
                })))
            }
        }
    }

    /// Where decoding stands (a consistent point).
    pub(crate) fn position(&self) -> Lsn {
        self.decoder.position()
    }
}

/// The end of one decoded item.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ItemEnd {
    /// Consistent point after the item.
    pub end: Lsn,
    pub xid: Option<Xid>,
}

/// Arguments of `pg_logical_slot_{get,peek}_[binary_]changes`.
pub(crate) struct GetChanges<'a> {
    pub name: &'a str,
    pub upto_lsn: Option<Lsn>,
    pub upto_nchanges: Option<i64>,
    pub options: Vec<(String, Option<String>)>,
    pub peek: bool,
    pub binary: bool,
    pub database: Option<Oid>,
    pub allowed_plugins: &'a str,
    /// Checked while waiting for `synchronized_standby_slots`: query cancel
    /// and terminate end the wait with their error.
    pub interrupted: &'a dyn Fn() -> PgResult<()>,
    /// Where what is decoded is counted (`pg_stat_replication_slots`).
    pub stats: Option<Arc<SlotStats>>,
}

/// Starts `pg_logical_slot_get_changes_guts` for session `pid`: acquires the
/// slot, checks it, starts its plugin and, for a failover slot, waits for the
/// standbys of `synchronized_standby_slots`; the rows then come from
/// [`SqlDecoding::next_row`] as they are decoded, so a large transaction is
/// never held whole (PostgreSQL fills a tuplestore that spills to disk).
pub(crate) fn open_changes(
    slots: &Arc<SlotRegistry>,
    db: &Arc<Database>,
    config: &Config,
    pid: i32,
    req: GetChanges<'_>,
) -> PgResult<SqlDecoding> {
    check_requirements(config)?;
    let data = slots.acquire(req.name, pid, false)?;
    let release = || slots.release(req.name, pid, PgTimestamp::now().as_micros());
    let started = (|| {
        check_usable(&data, req.database, db.in_recovery(), false)?;
        let session = Session::start(db, &data, &req.options, Lsn::INVALID, req.allowed_plugins)?;
        if !req.binary && !session.textual() {
            let func = format!(
                "pg_logical_slot_{}_changes(name,pg_lsn,integer,text[])",
                if req.peek { "peek" } else { "get" }
            );
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "logical decoding output plugin \"{}\" produces binary output, but function \"{func}\" expects textual data",
                    data.plugin.clone().unwrap_or_default()
                ),
            ));
        }
        let end_of_wal = end_of_wal(db);
        if data.failover {
            let target = req.upto_lsn.map_or(end_of_wal, |u| u.min(end_of_wal));
            wait_for_standby_confirmation(slots, db, config, target, req.interrupted)?;
        }
        Ok((session, end_of_wal))
    })();
    let (session, end_of_wal) = match started {
        Ok(s) => s,
        Err(e) => {
            release();
            return Err(e);
        }
    };
    Ok(SqlDecoding {
        slots: slots.clone(),
        db: db.clone(),
        name: req.name.to_string(),
        pid,
        session,
        end_of_wal,
        upto_lsn: req.upto_lsn,
        upto_nchanges: req.upto_nchanges,
        peek: req.peek,
        stats: req.stats,
        pending: std::collections::VecDeque::new(),
        produced: 0,
        last: None,
        in_item: false,
        done: false,
        released: false,
    })
}

/// A SQL decoding function's rows, decoded one step (a transaction, or a
/// part of a large one) at a time while the slot stays acquired by the
/// session. The last row taken confirms the slot (unless peeking) and
/// releases it; dropped before that (an error, the statement ended), the
/// slot is released with nothing confirmed.
pub(crate) struct SqlDecoding {
    slots: Arc<SlotRegistry>,
    db: Arc<Database>,
    name: String,
    pid: i32,
    session: Session,
    end_of_wal: Lsn,
    upto_lsn: Option<Lsn>,
    upto_nchanges: Option<i64>,
    peek: bool,
    stats: Option<Arc<SlotStats>>,
    /// Rows of the last step not taken yet.
    pending: std::collections::VecDeque<OutputRow>,
    /// Rows produced so far (`upto_nchanges` counts them).
    produced: i64,
    last: Option<ItemEnd>,
    /// Inside a large transaction: more of its parts follow.
    in_item: bool,
    done: bool,
    released: bool,
}

impl SqlDecoding {
    /// The next row, `None` once decoding reached its end (the slot is then
    /// confirmed and released).
    pub(crate) fn next_row(&mut self) -> PgResult<Option<OutputRow>> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                return Ok(Some(row));
            }
            if self.done {
                return Ok(None);
            }
            // `upto_lsn` cuts between items: an item is read when it starts
            // before `upto_lsn` (PostgreSQL stops once a record ends past
            // it). PostgreSQL checks `upto_nchanges` after each record; a
            // negative one stops before any transaction is complete. Never
            // between the parts of a transaction.
            let stop = !self.in_item
                && (self.upto_lsn.is_some_and(|u| self.session.position() >= u)
                    || self
                        .upto_nchanges
                        .is_some_and(|n| n != 0 && self.produced >= n));
            let stepped = if stop {
                None
            } else {
                let (pending, produced) = (&mut self.pending, &mut self.produced);
                self.session.step_part(self.end_of_wal, &mut |row| {
                    pending.push_back(row);
                    *produced += 1;
                    Ok(())
                })?
            };
            match stepped {
                Some(Stepped::Part) => self.in_item = true,
                Some(Stepped::Item(e)) => {
                    self.in_item = false;
                    self.last = Some(e);
                }
                None => self.finish()?,
            }
        }
    }

    /// Counts what was decoded, confirms the slot unless peeking, releases it.
    fn finish(&mut self) -> PgResult<()> {
        self.done = true;
        if let Some(stats) = &self.stats {
            self.session.report_stats(stats, &self.name);
        }
        let confirmed = if self.peek {
            Ok(())
        } else {
            let reached = self.session.position();
            let xid = self.last.and_then(|l| l.xid);
            confirm(&self.slots, &self.db, &self.name, reached, xid)
        };
        self.release();
        confirmed
    }

    fn release(&mut self) {
        if !self.released {
            self.released = true;
            self.slots
                .release(&self.name, self.pid, PgTimestamp::now().as_micros());
        }
    }
}

impl tandem_expr::ChangeStream for SqlDecoding {
    fn next_row(&mut self) -> PgResult<Option<tandem_expr::ChangeRow>> {
        Ok(
            SqlDecoding::next_row(self)?.map(|o| tandem_expr::ChangeRow {
                lsn: o.lsn,
                xid: o.xid.0,
                data: o.data,
            }),
        )
    }
}

impl Drop for SqlDecoding {
    fn drop(&mut self) {
        self.release();
    }
}

/// How long a SQL-side wait for the standbys of `synchronized_standby_slots`
/// sleeps at most before it looks again (PostgreSQL: 1 s).
const STANDBY_WAIT: Duration = Duration::from_secs(1);

/// Waits until every standby of `synchronized_standby_slots` has flushed
/// `target` (PostgreSQL's `WaitForStandbyConfirmation`, run by the SQL
/// decoding functions and `pg_replication_slot_advance` on a failover slot
/// before they decode). The setting is re-read on every round, so a reload
/// that shortens or clears the list releases the wait; a slot change (a
/// standby's reply moving its slot) wakes it, else it looks again after 1 s.
/// A problem is logged as WARNING when it appears. `interrupted` is asked
/// every round: an error from it (query cancel) ends the wait. Returns at
/// once on a standby.
pub(crate) fn wait_for_standby_confirmation(
    slots: &SlotRegistry,
    db: &Database,
    config: &Config,
    target: Lsn,
    interrupted: &dyn Fn() -> PgResult<()>,
) -> PgResult<()> {
    let mut reported: Option<Problem> = None;
    loop {
        interrupted()?;
        if db.in_recovery() {
            return Ok(());
        }
        let seen = slots.change_count();
        let list =
            standby_slots::parse(&config.get_str(standby_slots::SETTING)).unwrap_or_default();
        match standby_slots::caught_up(&list, &standby_slots::listed_slots(&list, slots), target) {
            Ok(true) => return Ok(()),
            Ok(false) => reported = None,
            Err(p) => {
                if reported.as_ref() != Some(&p) {
                    elog::emit_error(&p.report(Severity::Warning));
                    reported = Some(p);
                }
            }
        }
        slots.wait_for_change(seen, STANDBY_WAIT);
    }
}

/// Moves an acquired slot's `confirmed_flush_lsn` and `restart_lsn` to
/// `reached` (a consistent point), persisting it when it moved
/// ([`advance_logical`]: forward only; `catalog_xmin` follows `restart_lsn`,
/// to the xid after `last_xid`, or the next xid when no transaction was read).
pub(crate) fn confirm(
    slots: &SlotRegistry,
    db: &Database,
    name: &str,
    reached: Lsn,
    last_xid: Option<Xid>,
) -> PgResult<()> {
    let restart = RestartPoint {
        lsn: reached,
        catalog_xmin: Some(last_xid.map_or_else(|| db.next_xid(), catalog_xmin_after)),
    };
    slots.update(name, |d| {
        if let Some(adv) = advance_logical(d, reached, Some(restart)) {
            adv.apply(d);
        }
    })?;
    Ok(())
}

/// `pg_replication_slot_advance(slot_name, upto_lsn)`: moves a slot forward
/// (logical: by decoding without output up to the last consistent point at or
/// before `upto`; physical: straight to `upto`). Returns the slot's new end
/// position. A synced slot on a standby is refused as decoding from it is
/// (slot synchronization moves synced slots through the registry, not here);
/// a wait for `synchronized_standby_slots` ends when `interrupted` returns an
/// error (query cancel, terminate).
pub(crate) fn advance(
    slots: &SlotRegistry,
    db: &Arc<Database>,
    config: &Config,
    pid: i32,
    name: &str,
    upto: Lsn,
    interrupted: &dyn Fn() -> PgResult<()>,
) -> PgResult<Lsn> {
    if !upto.is_valid() {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "invalid target WAL LSN",
        ));
    }
    let data = slots.acquire(name, pid, false)?;
    let result = (|| {
        if data.restart_lsn.is_none() || data.invalidated.is_some() {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("replication slot \"{name}\" cannot be advanced"),
            )
            .with_detail(
                "This slot has never previously reserved WAL, or it has been invalidated.",
            ));
        }
        let end = end_of_wal(db);
        let target = upto.min(end);
        let minimum = if data.is_logical() {
            data.confirmed_flush.unwrap_or(Lsn::INVALID)
        } else {
            data.restart_lsn.unwrap_or(Lsn::INVALID)
        };
        if target < minimum {
            return Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("cannot advance replication slot to {target}, minimum is {minimum}"),
            ));
        }
        if !data.is_logical() {
            super::synced::refuse(SlotOp::Advance, &data, db.in_recovery(), false)?;
            slots.update(name, |d| {
                if let Some(adv) = advance_physical(d, target) {
                    adv.apply(d);
                }
            })?;
            return Ok(target);
        }
        // PostgreSQL's decoding context (fast-forward: any database).
        super::synced::refuse(SlotOp::Decode, &data, db.in_recovery(), false)?;
        // A failover slot is not moved past what the standbys listed in
        // synchronized_standby_slots have flushed (PostgreSQL waits the same way).
        if data.failover {
            wait_for_standby_confirmation(slots, db, config, target, interrupted)?;
        }
        // Advancing runs no plugin code, so no plugin check either.
        let mut session = Session::fast_forward(db, &data);
        let mut last_xid = None;
        while session.position() < target {
            match session.step(target, &mut |_| Ok(()))? {
                Some(e) => last_xid = e.xid.or(last_xid),
                None => break,
            }
        }
        let reached = session.position();
        confirm(slots, db, name, reached, last_xid)?;
        // PostgreSQL moves confirmed_flush_lsn to the target even inside a
        // transaction; the next decoding then skips that transaction.
        slots.update(name, |d| {
            if let Some(adv) = advance_logical(d, target, None) {
                adv.apply(d);
            }
        })?;
        Ok(target)
    })();
    slots.release(name, pid, PgTimestamp::now().as_micros());
    result
}

/// `pg_copy_logical_replication_slot(src, dst [, temporary [, plugin]])`: a new
/// slot at the source's positions.
pub(crate) fn copy(
    slots: &SlotRegistry,
    config: &Config,
    pid: i32,
    req: &tandem_expr::CopySlotRequest,
) -> PgResult<Lsn> {
    let (src, dst, logical) = (req.src.as_str(), req.dst.as_str(), req.logical);
    let (temporary, plugin) = (req.temporary, req.plugin.as_deref());
    let info = slots.get(src).ok_or_else(|| {
        PgError::new(
            SqlState::UNDEFINED_OBJECT,
            format!("replication slot \"{src}\" does not exist"),
        )
    })?;
    let s = info.data;
    if logical {
        check_requirements(config)?;
        if !s.is_logical() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                // PostgreSQL's wording (the adjectives are swapped there too)
                format!(
                    "cannot copy logical replication slot \"{src}\" as a physical replication slot"
                ),
            ));
        }
    } else if s.is_logical() {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!(
                "cannot copy physical replication slot \"{src}\" as a logical replication slot"
            ),
        ));
    }
    if s.restart_lsn.is_none() {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot copy a replication slot that doesn't reserve WAL",
        ));
    }
    if s.invalidated.is_some() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot copy invalidated replication slot \"{src}\""),
        ));
    }
    if let Some(p) = plugin {
        tandem_decoding::check_plugin_allowed(p, &config.get_str("output_plugin_libraries"))?;
        tandem_decoding::check_plugin(p)?;
    }
    let temporary = temporary.unwrap_or(s.persistency == Persistency::Temporary);
    let data = SlotData {
        name: dst.to_string(),
        database: s.database,
        plugin: plugin.map(str::to_string).or(s.plugin.clone()),
        persistency: if temporary {
            Persistency::Temporary
        } else {
            Persistency::Persistent
        },
        xmin: s.xmin,
        catalog_xmin: s.catalog_xmin,
        restart_lsn: s.restart_lsn,
        confirmed_flush: s.confirmed_flush,
        invalidated: None,
        two_phase: s.two_phase,
        two_phase_at: s.two_phase_at,
        // PostgreSQL does not copy the failover property.
        failover: false,
        synced: false,
    };
    slots.create(data, pid)?;
    slots.release(dst, pid, PgTimestamp::now().as_micros());
    Ok(if logical {
        s.confirmed_flush.or(s.restart_lsn).unwrap_or(Lsn::INVALID)
    } else {
        s.restart_lsn.unwrap_or(Lsn::INVALID)
    })
}
