//! `pg_catalog.pg_stat_replication_slots`: one row per logical slot (those
//! `pg_replication_slots` shows with a database), PostgreSQL 17's columns in
//! order. `total_txns`, `total_bytes` and `stats_reset` come from the
//! server's counters (`ServerHooks::replication_slot_stats`; how they are
//! counted: `tandem_decoding::stats`); tandem never spills or streams
//! transactions, so the `spill_*` and `stream_*` columns are always 0.
//! After them, PostgreSQL 19's `slotsync_skip_count` and
//! `slotsync_last_skip` (failover slot sync cycles on a standby that skipped
//! the slot, and the last one's time).
//! PostgreSQL: `system_views.sql`, `pgstat_replslot.c`,
//! `pgstatfuncs.c` (`pg_stat_get_replication_slot`).

use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static STAT_REPLICATION_SLOTS: View = View {
    schema: "pg_catalog",
    name: "pg_stat_replication_slots",
    oid: 12_023,
    relkind: b'v',
    columns,
    rows,
};

/// One slot's statistics (PostgreSQL's `PgStat_StatReplSlotEntry`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SlotStats {
    slot_name: String,
    spill_txns: i64,
    spill_count: i64,
    spill_bytes: i64,
    stream_txns: i64,
    stream_count: i64,
    stream_bytes: i64,
    total_txns: i64,
    total_bytes: i64,
    /// microseconds since 2000-01-01 UTC
    stats_reset: Option<i64>,
    /// PostgreSQL 19: failover slot sync cycles that skipped the slot.
    slotsync_skip_count: i64,
    slotsync_last_skip: Option<i64>,
}

type R = SlotStats;

/// The columns, in PostgreSQL 17's order, and where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "slot_name",
        ty: T::Text,
        value: |r: &R| text(&r.slot_name),
    },
    Column {
        name: "spill_txns",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.spill_txns),
    },
    Column {
        name: "spill_count",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.spill_count),
    },
    Column {
        name: "spill_bytes",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.spill_bytes),
    },
    Column {
        name: "stream_txns",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.stream_txns),
    },
    Column {
        name: "stream_count",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.stream_count),
    },
    Column {
        name: "stream_bytes",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.stream_bytes),
    },
    Column {
        name: "total_txns",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.total_txns),
    },
    Column {
        name: "total_bytes",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.total_bytes),
    },
    Column {
        name: "stats_reset",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.stats_reset),
    },
    // PostgreSQL 19's sync skip counters (there before `stats_reset`; here
    // after PostgreSQL 17's columns, which keep their positions)
    Column {
        name: "slotsync_skip_count",
        ty: T::Int8,
        value: |r: &R| Value::Int8(r.slotsync_skip_count),
    },
    Column {
        name: "slotsync_last_skip",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.slotsync_last_skip),
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

/// The statistics rows of the logical slots among `slots`, in their order,
/// with the counters `counters` gives for each.
fn stats_of(
    slots: &[crate::context::ReplicationSlotRow],
    counters: impl Fn(&str) -> crate::context::ReplicationSlotStats,
) -> Vec<SlotStats> {
    slots
        .iter()
        .filter(|s| s.datoid.is_some())
        .map(|s| {
            let c = counters(&s.slot_name);
            SlotStats {
                slot_name: s.slot_name.clone(),
                total_txns: c.total_txns,
                total_bytes: c.total_bytes,
                stats_reset: c.stats_reset,
                slotsync_skip_count: s.slotsync_skip_count,
                slotsync_last_skip: s.slotsync_last_skip,
                ..SlotStats::default()
            }
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let hooks = ctx.hooks;
    Ok(stats_of(&hooks.replication_slots(), |name| {
        hooks.replication_slot_stats(name)
    })
    .iter()
    .map(|r| row_values(COLUMNS, r))
    .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ReplicationSlotRow;
    use tandem_types::Oid;

    #[test]
    fn columns_are_postgresql_17s() {
        let cols = columns();
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "slot_name",
                "spill_txns",
                "spill_count",
                "spill_bytes",
                "stream_txns",
                "stream_count",
                "stream_bytes",
                "total_txns",
                "total_bytes",
                "stats_reset",
                "slotsync_skip_count",
                "slotsync_last_skip",
            ]
        );
        assert_eq!(cols[0].1, T::Text);
        assert!(cols[1..9].iter().all(|(_, t)| *t == T::Int8));
        assert_eq!(cols[9].1, T::TimestampTz);
        assert_eq!(cols[10].1, T::Int8);
        assert_eq!(cols[11].1, T::TimestampTz);
    }

    #[test]
    fn one_zero_row_per_logical_slot() {
        let slots = [
            ReplicationSlotRow {
                slot_name: "a_logical".into(),
                slot_type: "logical",
                datoid: Some(Oid(5)),
                slotsync_skip_count: 4,
                slotsync_last_skip: Some(77),
                ..Default::default()
            },
            ReplicationSlotRow {
                slot_name: "b_physical".into(),
                slot_type: "physical",
                ..Default::default()
            },
        ];
        let stats = stats_of(&slots, |_| Default::default());
        assert_eq!(stats.len(), 1);
        let v = row_values(COLUMNS, &stats[0]);
        assert_eq!(v[0], text("a_logical"));
        assert!(v[1..9].iter().all(|x| *x == Value::Int8(0)));
        assert_eq!(v[9], Value::Null);
        let counted = stats_of(&slots, |name| crate::context::ReplicationSlotStats {
            total_txns: name.len() as i64,
            total_bytes: 100,
            stats_reset: Some(5),
        });
        let v = row_values(COLUMNS, &counted[0]);
        assert!(v[1..7].iter().all(|x| *x == Value::Int8(0)));
        assert_eq!(v[7], Value::Int8(9));
        assert_eq!(v[8], Value::Int8(100));
        assert_ne!(v[9], Value::Null);
        assert_eq!(v[10], Value::Int8(4));
        assert_eq!(v[11], Value::TimestampTz(77));
    }
}
