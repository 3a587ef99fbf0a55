//! Replication slots in the running server: opening the registry at startup
//! (`pg_replslot/`, `max_replication_slots`), the WAL retention floor that
//! checkpoints consult (slots' `restart_lsn`, `wal_keep_size`, and invalidation
//! past `max_slot_wal_keep_size`), creating/dropping slots for SQL functions and
//! replication commands, and the rows of `pg_replication_slots`.
//!
//! Corresponds to PostgreSQL's `replication/slot.c` (`StartupReplicationSlots`,
//! `InvalidateObsoleteReplicationSlots`, `ReplicationSlotReserveWal`) and
//! `slotfuncs.c` (`pg_get_replication_slots`).

use std::sync::Arc;

use tandem_config::Config;
use tandem_expr::ReplicationSlotRow;
use tandem_replication::retention::{self, RetentionSettings};
use tandem_replication::slot::{Invalidation, Persistency, SlotData, SlotRegistry};
use tandem_storage::Database;
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use super::synced::SlotOp;
use crate::procarray::Registry;
use tandem_types::PgTimestamp;

/// Opens `DATADIR/pg_replslot` with `max_replication_slots`.
pub(crate) fn open(datadir: &std::path::Path, config: &Config) -> PgResult<Arc<SlotRegistry>> {
    let max = config.get_int("max_replication_slots").max(0) as usize;
    SlotRegistry::open(
        &datadir.join("pg_replslot"),
        max,
        PgTimestamp::now().as_micros(),
    )
    .map(Arc::new)
}

/// What the slots just opened from disk need kept while the database
/// recovers from a crash, before [`install_retention`] runs: the oldest
/// `restart_lsn` of the valid slots, and of the valid logical slots.
pub(crate) fn floors_on_disk(slots: &SlotRegistry) -> tandem_storage::SlotFloors {
    tandem_storage::SlotFloors {
        wal: slots.horizons().restart_lsn,
        catalog: catalog_floor(slots),
    }
}

/// The oldest `restart_lsn` (as retention counts it) of the valid logical
/// slots: the catalog history older than it may go.
fn catalog_floor(slots: &SlotRegistry) -> Option<Lsn> {
    slots
        .list()
        .into_iter()
        .filter(|i| i.data.is_logical() && i.data.invalidated.is_none())
        .filter_map(|i| i.retained_restart_lsn)
        .min()
}

/// The retention settings as they are now (they change on reload).
pub(crate) fn retention_settings(config: &Config, segment_size: u64) -> RetentionSettings {
    RetentionSettings {
        segment_size,
        wal_keep_size_mb: config.get_int("wal_keep_size").max(0) as u64,
        max_slot_wal_keep_size_mb: config.get_int("max_slot_wal_keep_size"),
        max_wal_size_mb: config.get_int("max_wal_size").max(0) as u64,
    }
}

/// Installs the checkpoint's retention floor: invalidates slots that hold more
/// WAL than `max_slot_wal_keep_size` allows (terminating a walsender using one),
/// then keeps what the remaining slots and `wal_keep_size` need. The same rule
/// serves a standby's restartpoints, over its own slots (synced logical slots,
/// physical slots of cascaded standbys).
pub(crate) fn install_retention(
    db: &Arc<Database>,
    slots: Arc<SlotRegistry>,
    config: Arc<Config>,
    registry: Arc<Registry>,
) {
    let logical_slots = slots.clone();
    db.set_catalog_floor(Box::new(move || catalog_floor(&logical_slots)));
    let wal = db.wal().clone();
    let node = Arc::downgrade(db);
    db.set_retention_floor(Box::new(move || {
        // Slots with unsaved moves are written first, so that retention
        // counts their new restart_lsn, not the one on disk (PostgreSQL's
        // CheckPointReplicationSlots comes before the invalidation too).
        if let Err(e) = slots.save_dirty() {
            elog::emit_error(&e);
        }
        let s = retention_settings(&config, wal.segment_size());
        // A standby measures from what it replayed (PostgreSQL's restartpoint
        // keeps segments from the replay position), a primary from its inserts.
        let curr = match node.upgrade() {
            Some(db) if db.in_recovery() => db.replay_lsn(),
            _ => wal.insert_lsn(),
        };
        let holding: Vec<(String, Lsn)> = slots
            .list()
            .into_iter()
            .filter(|i| i.data.invalidated.is_none())
            .filter_map(|i| i.retained_restart_lsn.map(|l| (i.data.name, l)))
            .collect();
        for (name, restart, excess) in retention::slots_to_invalidate(curr, &holding, &s) {
            let detail =
                format!("The slot's restart_lsn {restart} exceeds the limit by {excess} bytes.");
            let hint = "You might need to increase \"max_slot_wal_keep_size\".";
            if let Some(pid) = slots.get(&name).and_then(|i| i.active_pid) {
                if let Some(b) = registry.get(pid) {
                    elog::emit(
                        Level::Log,
                        &format!(
                            "terminating process {pid} to release replication slot \"{name}\""
                        ),
                        Some(&detail),
                        Some(hint),
                    );
                    b.request_terminate();
                }
            }
            let done = slots.update(&name, |d| {
                d.invalidated = Some(Invalidation::WalRemoved);
                d.restart_lsn = None;
            });
            match done {
                Ok(_) => elog::emit(
                    Level::Log,
                    &format!("invalidating obsolete replication slot \"{name}\""),
                    Some(&detail),
                    Some(hint),
                ),
                Err(e) => elog::emit_error(&e),
            }
        }
        Some(retention::keep_floor(
            curr,
            slots.horizons().restart_lsn,
            &s,
        ))
    }));
}

/// `55000 replication slots can only be used if max_replication_slots > 0`.
pub(super) fn check_requirements(config: &Config) -> PgResult<()> {
    if config.get_int("max_replication_slots") <= 0 {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "replication slots can only be used if max_replication_slots > 0",
        ));
    }
    Ok(())
}

/// Creates a physical slot for `pid` (released at once; a temporary one stays
/// owned by `pid` until its session ends). With `reserve`, its `restart_lsn` is
/// the last checkpoint's redo position, as PostgreSQL reserves WAL on a primary.
pub(crate) fn create_physical(
    slots: &SlotRegistry,
    db: &Database,
    config: &Config,
    pid: i32,
    name: &str,
    reserve: bool,
    temporary: bool,
) -> PgResult<Option<Lsn>> {
    check_requirements(config)?;
    let persistency = if temporary {
        Persistency::Temporary
    } else {
        Persistency::Persistent
    };
    let mut data = SlotData::physical(name, persistency);
    if reserve {
        let redo = db.control().redo_lsn;
        data.restart_lsn = Some(if redo.is_valid() {
            redo
        } else {
            db.wal().insert_lsn()
        });
    }
    let restart = data.restart_lsn;
    slots.create(data, pid)?;
    slots.release(name, pid, PgTimestamp::now().as_micros());
    Ok(restart)
}

/// Drops a slot (`wait`: wait for its user to release it), as PostgreSQL's
/// `ReplicationSlotDrop`: the slot is acquired first (`replication slot "s"
/// is active for PID n` without `wait`), then a synced slot on a standby is
/// refused ([`super::synced`]). Slot synchronization drops its slots through
/// [`SlotRegistry::drop_slot`] directly.
pub(crate) fn drop_slot(
    slots: &SlotRegistry,
    db: &Database,
    config: &Config,
    pid: i32,
    name: &str,
    wait: bool,
) -> PgResult<()> {
    check_requirements(config)?;
    let data = slots.acquire(name, pid, wait)?;
    if let Err(e) = super::synced::refuse(SlotOp::Drop, &data, db.in_recovery(), false) {
        slots.release(name, pid, PgTimestamp::now().as_micros());
        return Err(e);
    }
    slots.drop_slot(name, pid, false)
}

/// The slots as `pg_replication_slots` shows them.
pub(crate) fn rows(
    slots: &SlotRegistry,
    db: &Database,
    config: &Config,
) -> Vec<ReplicationSlotRow> {
    let wal = db.wal();
    let s = retention_settings(config, wal.segment_size());
    let curr = wal.write_lsn();
    let slots_min = slots.horizons().restart_lsn;
    let oldest_segno = wal
        .segments()
        .ok()
        .and_then(|segs| segs.first().map(|f| f.segno))
        .unwrap_or(1);
    let catalog = db.catalog();
    slots
        .list()
        .into_iter()
        .map(|info| {
            let d = info.data;
            let status = retention::wal_status(
                d.restart_lsn,
                d.invalidated == Some(Invalidation::WalRemoved),
                curr,
                slots_min,
                oldest_segno,
                info.active_pid.is_some(),
                &s,
            );
            let safe_wal_size = retention::safe_wal_size(d.restart_lsn, status, curr, &s);
            let logical = d.is_logical();
            let skip = slots.sync_skip(&d.name);
            ReplicationSlotRow {
                slot_type: if logical { "logical" } else { "physical" },
                datoid: d.database,
                database: d
                    .database
                    .and_then(|oid| catalog.databases.get(&oid).map(|db| db.name.clone())),
                temporary: d.persistency == Persistency::Temporary,
                active: info.active_pid.is_some(),
                active_pid: info.active_pid,
                xmin: d.xmin,
                catalog_xmin: d.catalog_xmin,
                restart_lsn: d.restart_lsn,
                confirmed_flush_lsn: d.confirmed_flush,
                wal_status: status.map(|w| w.as_str()),
                safe_wal_size,
                two_phase: d.two_phase,
                inactive_since: info.inactive_since,
                conflicting: logical.then_some(matches!(
                    d.invalidated,
                    Some(Invalidation::RowsRemoved | Invalidation::WalLevelInsufficient)
                )),
                invalidation_reason: d.invalidated.map(|i| i.as_str()),
                failover: d.failover,
                synced: d.synced,
                slotsync_skip_reason: skip.reason,
                slotsync_skip_count: skip.count,
                slotsync_last_skip: skip.last,
                slot_name: d.name,
                plugin: d.plugin,
            }
        })
        .collect()
}
