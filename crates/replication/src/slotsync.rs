//! Failover slot synchronization: what one sync cycle on a standby does, as one
//! pure function of the primary's failover slots, the standby's own slots and
//! its WAL position (PostgreSQL's `replication/logical/slotsync.c`:
//! `synchronize_slots`, `drop_local_obsolete_slots`, `synchronize_one_slot`,
//! `update_local_synced_slot`, `update_and_persist_local_synced_slot`).
//!
//! A logical slot created with `failover = true` on the primary should survive
//! a failover: after promotion, its subscriber must find a slot on the new
//! primary that holds every change it has not confirmed. So a standby copies
//! those slots, either in the slot sync worker (`sync_replication_slots = on`,
//! a cycle every 200 ms to 30 s, [`next_nap_ms`]) or once per call of
//! `pg_sync_replication_slots()`. A cycle reads the primary's failover slots
//! ([`FETCH_FAILOVER_SLOTS_QUERY`], [`RemoteSlot::from_row`]), lists the local
//! ones, calls [`plan_cycle`] and carries out the returned [`Action`]s in
//! order. A copied slot is marked `synced`: it cannot be used, altered or
//! dropped while the server is a standby, and it follows the primary's slot:
//!
//! - it is created **temporary**, with WAL reserved from the remote
//!   `restart_lsn` (or from the oldest WAL the standby still has, when that is
//!   later) and catalog rows from the remote `catalog_xmin` (or the oldest the
//!   standby still keeps, when that is later);
//! - positions and configuration are copied forward each cycle; a position
//!   never moves backward, and `confirmed_flush` is never set beyond the WAL
//!   this standby has flushed, so after promotion the slot never claims
//!   changes the new primary does not have;
//! - it becomes **persistent** ("sync-ready") once the remote slot no longer
//!   needs older WAL or catalog rows than the local one holds and the standby
//!   has flushed WAL up to the remote `confirmed_flush`;
//! - an invalidation on the primary is copied (the slot then stays as it is);
//! - a slot that left the primary's list (dropped, `failover = false`) is
//!   dropped here; one invalidated here while valid on the primary is dropped
//!   and created afresh in the same cycle.
//!
//! **Why tandem needs no snapshot wait.** PostgreSQL may only copy a remote
//! position when logical decoding could start there: at a WAL position with
//! transactions in progress, the decoder must first see them all finish
//! before it has a consistent snapshot. So PostgreSQL advances a new synced
//! slot by fast-forward decoding and keeps it temporary ("could not build a
//! consistent snapshot") until a consistent point is reached. tandem writes
//! each transaction's WAL contiguously at commit, so every transaction
//! boundary is a consistent decoding point and no such wait exists: a synced
//! slot is sync-ready as soon as the standby holds the WAL from its
//! `restart_lsn` and has flushed up to its `confirmed_flush`.
//!
//! **Ordering rule.** A slot counts as sync-ready only once its persistent
//! state is on disk: [`Action::Persist`] writes (and fsyncs) the state file,
//! and only then is `newly created replication slot "x" is sync-ready now`
//! logged. Updates of a persistent synced slot go through
//! [`SlotRegistry::update`](crate::slot::SlotRegistry::update), which writes
//! the file before the in-memory horizons move.
//!
//! Beyond PostgreSQL 17 (`docs/failover-slots.md`): the upstream may be a
//! standby (its persistent synced slots are listed as failover slots, so a
//! cascading standby copies them with the same rules); a logical slot with
//! `failover = true` and `synced = false` on a standby can only be left over
//! from the node's time as a primary, and is replaced by a synced copy
//! ([`DropReason::LeftoverOfPrimary`], never while in use); and
//! [`plan_physical`] keeps synced copies of the upstream's physical slots.
//!
//! A primary also pushes its failover slots' state in its WAL (SLOT_STATE
//! records); a standby whose worker runs applies each replayed record at once
//! through [`plan_pushed`], the same per-slot rules for only the slots the
//! record lists.
//!
//! Where tandem differs from PostgreSQL 17 on purpose: a user slot that holds
//! a remote slot's name, a database missing locally and a local slot ahead of
//! the remote one are reported for that slot ([`SkipReason`]) while the other
//! slots are still synchronized (PostgreSQL aborts the cycle with an ERROR);
//! positions move forward field by field (PostgreSQL copies the three
//! together). Transaction ids compare as the rest of tandem compares them
//! (plainly, without wraparound).

use std::collections::{BTreeMap, BTreeSet};

use tandem_types::elog::Level;
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, Xid};

use crate::slot::{Invalidation, Persistency, SlotData};

mod pushed;
pub use pushed::plan_pushed;

/// The primary's failover slots, as PostgreSQL 17's sync sends it (nine
/// columns, read by [`RemoteSlot::from_row`]).
pub const FETCH_FAILOVER_SLOTS_QUERY: &str = "SELECT slot_name, plugin, confirmed_flush_lsn, \
     restart_lsn, catalog_xmin, two_phase, failover, database, invalidation_reason \
     FROM pg_catalog.pg_replication_slots WHERE failover and NOT temporary";

/// The primary's persistent physical slots, for [`plan_physical`] and for
/// the readiness view (which of the standbys of `synchronized_standby_slots`
/// confirmed what: `restart_lsn` is a standby's flushed position,
/// `active_pid` says whether it streams); three columns, read by
/// [`RemotePhysicalSlot::from_row`]. Every server that answers
/// [`FETCH_FAILOVER_SLOTS_QUERY`] answers this one.
pub const FETCH_PHYSICAL_SLOTS_QUERY: &str = "SELECT slot_name, restart_lsn, active_pid \
     FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND NOT temporary";

/// The worker's shortest and longest nap between cycles.
pub const NAP_MIN_MS: u64 = 200;
pub const NAP_MAX_MS: u64 = 30_000;

/// The worker's next nap: back to the minimum after a cycle that changed a
/// slot, otherwise twice the previous one up to the maximum
/// (`wait_for_slot_activity`).
pub fn next_nap_ms(previous_ms: u64, some_slot_updated: bool) -> u64 {
    if some_slot_updated {
        NAP_MIN_MS
    } else {
        previous_ms.saturating_mul(2).clamp(NAP_MIN_MS, NAP_MAX_MS)
    }
}

/// An `invalidation_reason` as `pg_replication_slots` shows it.
pub fn invalidation_from_name(reason: &str) -> Option<Invalidation> {
    [
        Invalidation::WalRemoved,
        Invalidation::RowsRemoved,
        Invalidation::WalLevelInsufficient,
    ]
    .into_iter()
    .find(|c| c.as_str() == reason)
}

/// One row of [`FETCH_FAILOVER_SLOTS_QUERY`]. Invalid LSNs and xids (NULL or
/// zero) are `None`; a NULL `invalidation_reason` is `None` (valid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSlot {
    pub name: String,
    pub plugin: String,
    pub confirmed_flush: Option<Lsn>,
    pub restart_lsn: Option<Lsn>,
    pub catalog_xmin: Option<Xid>,
    pub two_phase: bool,
    pub failover: bool,
    /// The database's name; the standby maps it to its own OID.
    pub database: String,
    pub invalidated: Option<Invalidation>,
}

impl RemoteSlot {
    /// Parses one text-format row, columns in the query's order.
    pub fn from_row(row: &[Option<&str>]) -> PgResult<RemoteSlot> {
        if row.len() != 9 {
            return Err(PgError::internal(format!(
                "failover slot info from the primary server has {} columns instead of 9",
                row.len()
            )));
        }
        let r = SlotRow::new(row);
        let catalog_xmin = r.parsed(4, "catalog_xmin")?.map(Xid);
        let invalidated = match row[8] {
            None => None,
            Some(v) => {
                Some(invalidation_from_name(v).ok_or_else(|| r.bad("invalidation_reason", v))?)
            }
        };
        Ok(RemoteSlot {
            name: r.text(0, "slot_name")?.to_string(),
            plugin: r.text(1, "plugin")?.to_string(),
            confirmed_flush: r.lsn(2, "confirmed_flush_lsn")?,
            restart_lsn: r.lsn(3, "restart_lsn")?,
            catalog_xmin: catalog_xmin.filter(|x| x.is_valid()),
            two_phase: r.boolean(5, "two_phase")?,
            failover: r.boolean(6, "failover")?,
            database: r.text(7, "database")?.to_string(),
            invalidated,
        })
    }

    /// A valid slot without positions yet is still being created on the
    /// primary (it is ephemeral there): it is left for a later cycle.
    fn being_created(&self) -> bool {
        self.invalidated.is_none()
            && (self.restart_lsn.is_none_or(|l| !l.is_valid())
                || self.confirmed_flush.is_none_or(|l| !l.is_valid())
                || self.catalog_xmin.is_none_or(|x| !x.is_valid()))
    }
}

/// One row of [`FETCH_PHYSICAL_SLOTS_QUERY`]; a NULL (or zero) `restart_lsn`
/// (a slot that reserves no WAL, or an invalidated one) is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemotePhysicalSlot {
    pub name: String,
    pub restart_lsn: Option<Lsn>,
    /// The process streaming from it on the upstream, if any.
    pub active_pid: Option<i32>,
}

impl RemotePhysicalSlot {
    /// Parses one text-format row, columns in the query's order.
    pub fn from_row(row: &[Option<&str>]) -> PgResult<RemotePhysicalSlot> {
        if row.len() != 3 {
            return Err(PgError::internal(format!(
                "physical slot info from the primary server has {} columns instead of 3",
                row.len()
            )));
        }
        let r = SlotRow::new(row);
        let restart_lsn = r.lsn(1, "restart_lsn")?;
        let active_pid = r.parsed(2, "active_pid")?;
        Ok(RemotePhysicalSlot {
            name: r.name,
            restart_lsn,
            active_pid,
        })
    }
}

/// One text-format row of a slot query read column by column: every value
/// that does not parse is reported as "invalid COLUMN "VALUE" of replication
/// slot "NAME" from the primary server", NAME from the first column.
struct SlotRow<'a> {
    row: &'a [Option<&'a str>],
    name: String,
}

impl<'a> SlotRow<'a> {
    fn new(row: &'a [Option<&'a str>]) -> SlotRow<'a> {
        let name = row
            .first()
            .copied()
            .flatten()
            .unwrap_or_default()
            .to_string();
        SlotRow { row, name }
    }

    fn value(&self, i: usize) -> Option<&'a str> {
        self.row.get(i).copied().flatten()
    }

    fn bad(&self, column: &str, value: &str) -> PgError {
        PgError::internal(format!(
            "invalid {column} \"{value}\" of replication slot \"{}\" from the primary server",
            self.name
        ))
    }

    /// A column that must not be NULL.
    fn text(&self, i: usize, column: &str) -> PgResult<&'a str> {
        self.value(i).ok_or_else(|| self.bad(column, "NULL"))
    }

    /// A nullable column parsed as `T`.
    fn parsed<T: std::str::FromStr>(&self, i: usize, column: &str) -> PgResult<Option<T>> {
        self.value(i)
            .map(|v| v.parse::<T>().map_err(|_| self.bad(column, v)))
            .transpose()
    }

    /// A nullable LSN; NULL and the invalid LSN are `None`.
    fn lsn(&self, i: usize, column: &str) -> PgResult<Option<Lsn>> {
        Ok(self.parsed::<Lsn>(i, column)?.filter(|l| l.is_valid()))
    }

    /// A boolean column (`t`/`true`, `f`/`false`); NULL is an error.
    fn boolean(&self, i: usize, column: &str) -> PgResult<bool> {
        match self.text(i, column)? {
            "t" | "true" => Ok(true),
            "f" | "false" => Ok(false),
            v => Err(self.bad(column, v)),
        }
    }
}

/// Who runs the cycle: the slot sync worker or `pg_sync_replication_slots()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Worker,
    Function,
}

/// What the standby knows of itself at the start of a cycle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandbyState {
    /// WAL received and flushed (or replayed) here (`GetStandbyFlushRecPtr`).
    pub flush: Lsn,
    /// The oldest WAL position still on disk here: a new slot cannot reserve
    /// WAL from before it.
    pub oldest_available: Lsn,
    /// The oldest transaction whose catalog rows this standby still keeps
    /// (`GetOldestSafeDecodingTransactionId`); `None` when it keeps them all.
    pub oldest_safe_xmin: Option<Xid>,
    /// Local database OIDs by name, to place the remote slots.
    pub databases: BTreeMap<String, Oid>,
    /// The local slots in use, by name, with the process using them.
    pub active: BTreeMap<String, i32>,
}

/// Why a local synced slot is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Not in the primary's list: dropped there, `failover` turned off, or
    /// temporary.
    NotOnPrimary,
    /// Invalidated here while valid on the primary; created afresh.
    InvalidatedLocally,
    /// A logical slot of this standby with `failover = true` and
    /// `synced = false`: a standby cannot create one, so it is left over from
    /// the server's time as a primary (a switchover). It is replaced by a
    /// synced copy of the remote slot of the same name.
    LeftoverOfPrimary,
}

/// Why a remote slot is not (fully) synchronized in this cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Valid but without positions: still being created on the primary.
    RemoteBeingCreated,
    /// The slot's database does not exist on this standby.
    DatabaseMissing { database: String },
    /// The remote `confirmed_flush` is beyond what this standby has flushed.
    StandbyBehind {
        remote_confirmed_flush: Lsn,
        standby_flush: Lsn,
    },
    /// A slot of the same name that is not synced exists here; it is left alone.
    NameTakenByUserSlot,
    /// A slot left over from this server's time as a primary
    /// ([`DropReason::LeftoverOfPrimary`]) is in use by process `pid`: it is
    /// replaced once released.
    LeftoverInUse { pid: i32 },
    /// A physical slot of this standby's own has the name of one of the
    /// primary's physical slots: it is left alone (it holds WAL for the same
    /// standby), without a report.
    NameTakenByLocalPhysicalSlot,
    /// The remote slot is invalidated and none exists here: never created.
    RemoteInvalidatedNoLocal,
    /// The local slot is invalidated (as is the remote one): nothing to do.
    LocalInvalidated,
    /// A persistent local slot confirmed more than the remote slot has.
    LocalAhead {
        local_confirmed_flush: Lsn,
        remote_confirmed_flush: Lsn,
    },
    /// The remote slot needs older WAL or catalog rows than the local slot
    /// holds; its positions are not copied. A temporary slot stays temporary.
    RemoteBehind {
        remote_restart_lsn: Lsn,
        remote_catalog_xmin: Xid,
        local_restart_lsn: Lsn,
        local_catalog_xmin: Xid,
        temporary: bool,
    },
}

impl SkipReason {
    /// The reason as `pg_replication_slots.slotsync_skip_reason` shows it.
    /// PostgreSQL 19's names where it has one: `wal_or_rows_removed` (the
    /// remote slot needs older WAL or catalog rows than the local one holds),
    /// `wal_not_flushed` (the remote `confirmed_flush` is beyond this
    /// standby's flush), `slot_invalidated`; PostgreSQL's fourth,
    /// `no_consistent_snapshot`, never happens here (every transaction
    /// boundary is a consistent point). tandem's own for what PostgreSQL
    /// aborts the cycle on or does not report: `name_taken_by_user_slot`,
    /// `database_missing`, `local_ahead`, `remote_being_created`,
    /// `leftover_in_use` (a failover slot left from this server's time as a
    /// primary is in use, so it cannot be replaced yet),
    /// `name_taken_by_local_physical_slot` (physical slot copies only).
    pub fn name(&self) -> &'static str {
        match self {
            SkipReason::RemoteBeingCreated => "remote_being_created",
            SkipReason::DatabaseMissing { .. } => "database_missing",
            SkipReason::StandbyBehind { .. } => "wal_not_flushed",
            SkipReason::NameTakenByUserSlot => "name_taken_by_user_slot",
            SkipReason::NameTakenByLocalPhysicalSlot => "name_taken_by_local_physical_slot",
            SkipReason::LeftoverInUse { .. } => "leftover_in_use",
            SkipReason::RemoteInvalidatedNoLocal | SkipReason::LocalInvalidated => {
                "slot_invalidated"
            }
            SkipReason::LocalAhead { .. } => "local_ahead",
            SkipReason::RemoteBehind { .. } => "wal_or_rows_removed",
        }
    }
}

/// What a cycle decided for each remote slot, in the primary's order: the
/// reason its sync was skipped (the last one planned for it), `None` when it
/// was synchronized.
pub fn skip_outcomes<'a>(
    remote: &'a [RemoteSlot],
    actions: &'a [Action],
) -> Vec<(&'a RemoteSlot, Option<&'a SkipReason>)> {
    remote
        .iter()
        .map(|r| {
            let skip = actions.iter().rev().find_map(|a| match a {
                Action::Skip { name, reason } if *name == r.name => Some(reason),
                _ => None,
            });
            (r, skip)
        })
        .collect()
}

/// Fields of a synced slot to set; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotChange {
    pub restart_lsn: Option<Lsn>,
    pub confirmed_flush: Option<Lsn>,
    pub catalog_xmin: Option<Xid>,
    pub database: Option<Oid>,
    pub plugin: Option<String>,
    pub two_phase: Option<bool>,
    pub failover: Option<bool>,
}

impl SlotChange {
    pub fn is_empty(&self) -> bool {
        *self == SlotChange::default()
    }

    /// Whether WAL or catalog retention changes (PostgreSQL then recomputes
    /// the global xmin and the minimum required LSN).
    pub fn moves_horizons(&self) -> bool {
        self.restart_lsn.is_some() || self.catalog_xmin.is_some()
    }

    pub fn apply(&self, d: &mut SlotData) {
        d.restart_lsn = self.restart_lsn.or(d.restart_lsn);
        d.confirmed_flush = self.confirmed_flush.or(d.confirmed_flush);
        d.catalog_xmin = self.catalog_xmin.or(d.catalog_xmin);
        d.database = self.database.or(d.database);
        d.plugin = self.plugin.clone().or(d.plugin.take());
        d.two_phase = self.two_phase.unwrap_or(d.two_phase);
        d.failover = self.failover.unwrap_or(d.failover);
    }
}

/// One step of a cycle, for one slot. Carry them out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Drop a local synced slot.
    Drop {
        name: String,
        database: Oid,
        reason: DropReason,
    },
    /// Create this slot (temporary, synced), owned by the syncing process.
    Create { slot: SlotData },
    /// Change a local synced slot's positions or configuration.
    Update { name: String, change: SlotChange },
    /// Make a temporary synced slot persistent: it is sync-ready.
    Persist { name: String },
    /// Mark a local synced slot invalidated with the primary's cause.
    CopyInvalidation { name: String, cause: Invalidation },
    /// Leave this slot (or part of its sync) for a later cycle.
    Skip { name: String, reason: SkipReason },
}

/// A log entry or error, with PostgreSQL's texts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub level: Level,
    pub code: SqlState,
    pub message: String,
    pub detail: Option<String>,
}

impl Report {
    /// The report as an ERROR for a client.
    pub fn to_error(&self) -> PgError {
        let e = PgError::new(self.code, self.message.clone());
        match &self.detail {
            Some(d) => e.with_detail(d.clone()),
            None => e,
        }
    }
}

impl Action {
    pub fn slot_name(&self) -> &str {
        match self {
            Action::Create { slot } => &slot.name,
            Action::Drop { name, .. }
            | Action::Update { name, .. }
            | Action::Persist { name }
            | Action::CopyInvalidation { name, .. }
            | Action::Skip { name, .. } => name,
        }
    }

    /// Whether the action changes a slot, which resets the worker's nap
    /// (drops do not, as in PostgreSQL).
    pub fn updates_slot(&self) -> bool {
        matches!(
            self,
            Action::Create { .. }
                | Action::Update { .. }
                | Action::Persist { .. }
                | Action::CopyInvalidation { .. }
        )
    }

    /// What PostgreSQL logs (or raises) for this action; `None` when it says
    /// nothing. Only the SQL function turns "standby behind" into an ERROR.
    pub fn report(&self, caller: Caller) -> Option<Report> {
        use SkipReason as R;
        let (level, code, message, detail) = match self {
            Action::Create { .. } | Action::Update { .. } | Action::CopyInvalidation { .. } => {
                return None
            }
            Action::Drop {
                name,
                reason: DropReason::LeftoverOfPrimary,
                ..
            } => (
                Level::Log,
                SqlState::SUCCESSFUL_COMPLETION,
                format!(
                    "replacing replication slot \"{name}\" by a synced copy of the primary \
                     server's slot"
                ),
                Some(
                    "The local slot has failover enabled and is not synced: it is left over \
                     from the time this server was a primary."
                        .to_string(),
                ),
            ),
            Action::Drop { name, database, .. } if database.0 == 0 => (
                Level::Log,
                SqlState::SUCCESSFUL_COMPLETION,
                format!("dropped synced physical replication slot \"{name}\""),
                None,
            ),
            Action::Drop { name, database, .. } => (
                Level::Log,
                SqlState::SUCCESSFUL_COMPLETION,
                format!("dropped replication slot \"{name}\" of database with OID {database}"),
                None,
            ),
            Action::Persist { name } => (
                Level::Log,
                SqlState::SUCCESSFUL_COMPLETION,
                format!("newly created replication slot \"{name}\" is sync-ready now"),
                None,
            ),
            Action::Skip { name, reason } => match reason {
                R::RemoteBeingCreated
                | R::RemoteInvalidatedNoLocal
                | R::LocalInvalidated
                | R::NameTakenByLocalPhysicalSlot => return None,
                R::LeftoverInUse { pid } => (
                    Level::Error,
                    SqlState::OBJECT_IN_USE,
                    format!("replication slot \"{name}\" is active for PID {pid}"),
                    Some(
                        "The slot has failover enabled and is not synced: it is left over from \
                         the time this server was a primary, and is replaced by a synced copy \
                         once it is released."
                            .to_string(),
                    ),
                ),
                R::DatabaseMissing { database } => (
                    Level::Error,
                    SqlState::UNDEFINED_DATABASE,
                    format!("database \"{database}\" does not exist"),
                    None,
                ),
                R::StandbyBehind {
                    remote_confirmed_flush: remote,
                    standby_flush: flush,
                } => (
                    if caller == Caller::Worker {
                        Level::Log
                    } else {
                        Level::Error
                    },
                    if caller == Caller::Worker {
                        SqlState::SUCCESSFUL_COMPLETION
                    } else {
                        SqlState::INTERNAL_ERROR
                    },
                    format!(
                        "skipping slot synchronization because the received slot sync LSN \
                         {remote} for slot \"{name}\" is ahead of the standby position {flush}"
                    ),
                    None,
                ),
                R::NameTakenByUserSlot => (
                    Level::Error,
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "exiting from slot synchronization because same name slot \"{name}\" \
                         already exists on the standby"
                    ),
                    None,
                ),
                R::LocalAhead {
                    local_confirmed_flush: local,
                    remote_confirmed_flush: remote,
                } => (
                    Level::Error,
                    SqlState::INTERNAL_ERROR,
                    format!("cannot synchronize local slot \"{name}\""),
                    Some(format!(
                        "Local slot's start streaming location LSN({local}) is ahead of remote \
                         slot's LSN({remote})."
                    )),
                ),
                R::RemoteBehind {
                    remote_restart_lsn,
                    remote_catalog_xmin,
                    local_restart_lsn,
                    local_catalog_xmin,
                    temporary,
                } => (
                    if *temporary { Level::Log } else { Level::Debug },
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("could not synchronize replication slot \"{name}\""),
                    Some(format!(
                        "Synchronization could lead to data loss, because the remote slot needs \
                         WAL at LSN {remote_restart_lsn} and catalog xmin {remote_catalog_xmin}, \
                         but the standby has LSN {local_restart_lsn} and catalog xmin \
                         {local_catalog_xmin}."
                    )),
                ),
            },
        };
        Some(Report {
            level,
            code,
            message,
            detail,
        })
    }
}

/// Whether any action of a cycle changed a slot (the worker's nap resets).
pub fn any_slot_updated(actions: &[Action]) -> bool {
    actions.iter().any(Action::updates_slot)
}

/// The decisions of one sync cycle (`synchronize_slots`): first the drops of
/// obsolete local synced slots, then, per remote slot in the primary's order,
/// what to do with it. `local` is every slot of this standby.
pub fn plan_cycle(
    remote: &[RemoteSlot],
    local: &[SlotData],
    standby: &StandbyState,
) -> Vec<Action> {
    let mut out = Vec::new();
    let mut listed = Vec::with_capacity(remote.len());
    for r in remote {
        if r.being_created() {
            out.push(skip(&r.name, SkipReason::RemoteBeingCreated));
        } else {
            listed.push(r);
        }
    }
    // drop_local_obsolete_slots (synced physical slots are plan_physical's)
    let mut dropped = BTreeSet::new();
    for l in local.iter().filter(|l| l.synced && l.is_logical()) {
        let reason = match listed.iter().find(|r| r.name == l.name) {
            None => Some(DropReason::NotOnPrimary),
            Some(r) if r.invalidated.is_none() && l.invalidated.is_some() => {
                Some(DropReason::InvalidatedLocally)
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            dropped.insert(l.name.as_str());
            out.push(Action::Drop {
                name: l.name.clone(),
                database: l.database.unwrap_or_default(),
                reason,
            });
        }
    }
    let by_name: BTreeMap<&str, &SlotData> = local
        .iter()
        .filter(|l| !dropped.contains(l.name.as_str()))
        .map(|l| (l.name.as_str(), l))
        .collect();
    for r in listed {
        let existing = by_name.get(r.name.as_str()).copied();
        synchronize_one_slot(r, existing, standby, &mut out);
    }
    out
}

/// A cascading standby's cycle reads its upstream standby's synced copies,
/// and both standbys replay the same pushed slot state: this one may have
/// applied a record its upstream has not applied yet. A local slot ahead of
/// the upstream's copy is then no anomaly; its report is dropped and the slot
/// left as it is (as for a pushed record older than the local slot). Call it
/// on [`plan_cycle`]'s actions when the upstream said it is in recovery
/// before its slots were read.
pub fn forgive_upstream_replay_lag(actions: &mut Vec<Action>) {
    actions.retain(|a| {
        !matches!(
            a,
            Action::Skip {
                reason: SkipReason::LocalAhead { .. },
                ..
            }
        )
    });
}

/// The physical half of a sync cycle (a tandem extension: PostgreSQL 17
/// copies no physical slot). The standby keeps a synced copy of each of the
/// primary's persistent physical slots except `primary_slot_name` (the one
/// it streams through itself), so that after its promotion the sibling
/// standbys stream from it through their own slots, with the WAL they need
/// retained. A copy:
///
/// - is created persistent and synced, with `restart_lsn` the remote one but
///   never ahead of this standby's flushed WAL nor older than the oldest WAL
///   still here (`None` when the remote slot reserves none);
/// - moves forward only, to the remote `restart_lsn` capped at the flush;
/// - is dropped when the slot is gone from the primary (or is this standby's
///   own `primary_slot_name`), and dropped and created afresh when it was
///   invalidated here while the remote one reserves WAL;
/// - never replaces a slot of this standby's own: a physical one of the same
///   name is left alone ([`SkipReason::NameTakenByLocalPhysicalSlot`]), a
///   logical one that is not synced is reported
///   ([`SkipReason::NameTakenByUserSlot`]); a synced logical one is the
///   logical half's to drop, and the copy is made in a later cycle.
///
/// Actions come in [`plan_cycle`]'s order: drops first, then per remote slot.
pub fn plan_physical(
    remote: &[RemotePhysicalSlot],
    local: &[SlotData],
    primary_slot_name: &str,
    standby: &StandbyState,
) -> Vec<Action> {
    let mut out = Vec::new();
    let listed: Vec<&RemotePhysicalSlot> = remote
        .iter()
        .filter(|r| r.name != primary_slot_name)
        .collect();
    let cap = |l: Lsn| l.min(standby.flush).max(standby.oldest_available);
    let mut dropped = BTreeSet::new();
    for l in local.iter().filter(|l| l.synced && !l.is_logical()) {
        let reason = match listed.iter().find(|r| r.name == l.name) {
            None => Some(DropReason::NotOnPrimary),
            Some(r) if l.invalidated.is_some() && r.restart_lsn.is_some() => {
                Some(DropReason::InvalidatedLocally)
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            dropped.insert(l.name.as_str());
            out.push(Action::Drop {
                name: l.name.clone(),
                database: Oid(0),
                reason,
            });
        }
    }
    for r in listed {
        let existing = local
            .iter()
            .find(|l| l.name == r.name && !dropped.contains(l.name.as_str()));
        match existing {
            None => out.push(Action::Create {
                slot: SlotData {
                    restart_lsn: r.restart_lsn.map(cap),
                    synced: true,
                    ..SlotData::physical(&r.name, Persistency::Persistent)
                },
            }),
            Some(l) if !l.synced && l.is_logical() => {
                out.push(skip(&r.name, SkipReason::NameTakenByUserSlot))
            }
            Some(l) if !l.synced => {
                out.push(skip(&r.name, SkipReason::NameTakenByLocalPhysicalSlot))
            }
            Some(l) if l.is_logical() => {}
            Some(l) if l.invalidated.is_some() => {
                out.push(skip(&r.name, SkipReason::LocalInvalidated))
            }
            Some(l) => {
                let target = r.restart_lsn.map(cap);
                if target > l.restart_lsn {
                    out.push(Action::Update {
                        name: r.name.clone(),
                        change: SlotChange {
                            restart_lsn: target,
                            ..SlotChange::default()
                        },
                    });
                }
            }
        }
    }
    out
}

fn skip(name: &str, reason: SkipReason) -> Action {
    Action::Skip {
        name: name.to_string(),
        reason,
    }
}

fn synchronize_one_slot(
    remote: &RemoteSlot,
    local: Option<&SlotData>,
    standby: &StandbyState,
    out: &mut Vec<Action>,
) {
    let name = remote.name.as_str();
    let Some(&database) = standby.databases.get(&remote.database) else {
        let database = remote.database.clone();
        return out.push(skip(name, SkipReason::DatabaseMissing { database }));
    };
    let remote_cf = remote.confirmed_flush.unwrap_or_default();
    if remote_cf > standby.flush {
        return out.push(skip(
            name,
            SkipReason::StandbyBehind {
                remote_confirmed_flush: remote_cf,
                standby_flush: standby.flush,
            },
        ));
    }
    let Some(local) = local else {
        return create_slot(remote, database, standby, out);
    };
    if !local.synced || !local.is_logical() {
        if !is_leftover_of_primary(local) {
            return out.push(skip(name, SkipReason::NameTakenByUserSlot));
        }
        if let Some(&pid) = standby.active.get(name) {
            return out.push(skip(name, SkipReason::LeftoverInUse { pid }));
        }
        out.push(Action::Drop {
            name: name.to_string(),
            database: local.database.unwrap_or_default(),
            reason: DropReason::LeftoverOfPrimary,
        });
        return create_slot(remote, database, standby, out);
    }
    if local.invalidated.is_some() {
        return out.push(skip(name, SkipReason::LocalInvalidated));
    }
    if let Some(cause) = remote.invalidated {
        return out.push(Action::CopyInvalidation {
            name: name.to_string(),
            cause,
        });
    }
    // a temporary slot (not yet sync-ready) can hold no WAL older than is here
    let temporary = local.persistency != Persistency::Persistent;
    let local_cf = local.confirmed_flush.unwrap_or_default();
    if !temporary && remote_cf < local_cf {
        return out.push(skip(
            name,
            SkipReason::LocalAhead {
                local_confirmed_flush: local_cf,
                remote_confirmed_flush: remote_cf,
            },
        ));
    }
    let floor = if temporary {
        standby.oldest_available
    } else {
        Lsn::INVALID
    };
    let (change, behind) = plan_update(remote, database, local, floor);
    let mut after = local.clone();
    change.apply(&mut after);
    if !change.is_empty() {
        out.push(Action::Update {
            name: name.to_string(),
            change,
        });
    }
    if temporary {
        persist_if_ready(&after, behind, standby, out);
    } else {
        out.extend(behind.map(|reason| skip(name, reason)));
    }
}

/// Whether a local slot is a failover slot left over from the server's time
/// as a primary: logical, `failover = true`, not synced. A standby refuses to
/// create such a slot (`cannot enable failover for a replication slot created
/// on the standby`) or to turn failover on (`cannot enable failover for a
/// replication slot on the standby`), so nothing else can have made it.
pub fn is_leftover_of_primary(local: &SlotData) -> bool {
    local.is_logical() && local.failover && !local.synced
}

/// No local slot: create it temporary, reserving WAL and catalog rows no
/// older than the standby still has, then copy what the remote slot allows.
fn create_slot(remote: &RemoteSlot, database: Oid, standby: &StandbyState, out: &mut Vec<Action>) {
    if remote.invalidated.is_some() {
        return out.push(skip(&remote.name, SkipReason::RemoteInvalidatedNoLocal));
    }
    let restart = remote.restart_lsn.unwrap_or_default();
    let xmin = remote.catalog_xmin.unwrap_or_default();
    let mut slot = SlotData {
        database: Some(database),
        plugin: Some(remote.plugin.clone()),
        restart_lsn: Some(restart.max(standby.oldest_available)),
        catalog_xmin: Some(xmin.max(standby.oldest_safe_xmin.unwrap_or_default())),
        two_phase: remote.two_phase,
        failover: remote.failover,
        synced: true,
        ..SlotData::physical(&remote.name, Persistency::Temporary)
    };
    let (change, behind) = plan_update(remote, database, &slot, standby.oldest_available);
    change.apply(&mut slot);
    let after = slot.clone();
    out.push(Action::Create { slot });
    persist_if_ready(&after, behind, standby, out);
}

/// `update_and_persist_local_synced_slot`'s verdict for a temporary slot
/// whose update is already planned: sync-ready unless the remote slot is
/// behind, as soon as its WAL is here and flushed up to `confirmed_flush`.
fn persist_if_ready(
    after: &SlotData,
    behind: Option<SkipReason>,
    standby: &StandbyState,
    out: &mut Vec<Action>,
) {
    if let Some(reason) = behind {
        return out.push(skip(&after.name, reason));
    }
    let cf = after.confirmed_flush.unwrap_or_default();
    if cf.is_valid() && cf > standby.flush {
        // only with a local position beyond the remote one, which the primary
        // never gives; the slot stays temporary
        return out.push(skip(
            &after.name,
            SkipReason::StandbyBehind {
                remote_confirmed_flush: cf,
                standby_flush: standby.flush,
            },
        ));
    }
    out.push(Action::Persist {
        name: after.name.clone(),
    });
}

/// `update_local_synced_slot` for a valid local slot and a valid remote slot:
/// the change to make and, when the remote slot needs older WAL or catalog
/// rows than the local one holds (`wal_floor` raises what a temporary slot
/// can hold to the oldest WAL still here), the reason its positions are not
/// copied. Positions only move forward, field by field; the configuration is
/// copied even when the positions are not (as PostgreSQL 17 does).
fn plan_update(
    remote: &RemoteSlot,
    database: Oid,
    local: &SlotData,
    wal_floor: Lsn,
) -> (SlotChange, Option<SkipReason>) {
    let r_restart = remote.restart_lsn.unwrap_or_default();
    let r_cf = remote.confirmed_flush.unwrap_or_default();
    let r_xmin = remote.catalog_xmin.unwrap_or_default();
    let l_restart = local.restart_lsn.unwrap_or_default();
    let l_cf = local.confirmed_flush.unwrap_or_default();
    let l_xmin = local.catalog_xmin.unwrap_or_default();
    let held_restart = l_restart.max(wal_floor);
    let mut change = SlotChange::default();
    let behind = if r_restart < held_restart || r_xmin < l_xmin {
        Some(SkipReason::RemoteBehind {
            remote_restart_lsn: r_restart,
            remote_catalog_xmin: r_xmin,
            local_restart_lsn: held_restart,
            local_catalog_xmin: l_xmin,
            temporary: local.persistency != Persistency::Persistent,
        })
    } else {
        change.restart_lsn = (r_restart > l_restart).then_some(r_restart);
        change.confirmed_flush = (r_cf > l_cf).then_some(r_cf);
        change.catalog_xmin = (r_xmin > l_xmin).then_some(r_xmin);
        None
    };
    change.database = (local.database != Some(database)).then_some(database);
    change.plugin =
        (local.plugin.as_deref() != Some(remote.plugin.as_str())).then(|| remote.plugin.clone());
    change.two_phase = (local.two_phase != remote.two_phase).then_some(remote.two_phase);
    change.failover = (local.failover != remote.failover).then_some(remote.failover);
    (change, behind)
}

#[cfg(test)]
mod tests;
