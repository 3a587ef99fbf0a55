//! `pg_catalog.pg_replication_slots`: every PostgreSQL 17 column, in order,
//! then PostgreSQL 19's `slotsync_skip_reason` (why the last failover slot
//! sync cycle skipped a synced slot; NULL when it synchronized it), each
//! mapped from a field of the server's [`ReplicationSlotRow`]
//! (`ServerHooks::replication_slots`; the server owns the slot registry).
//! PostgreSQL: `system_views.sql`, `slotfuncs.c` (`pg_get_replication_slots`).

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::ReplicationSlotRow;

use DataType as T;

pub static SLOTS: View = View {
    schema: "pg_catalog",
    name: "pg_replication_slots",
    oid: 12_020,
    relkind: b'v',
    columns,
    rows,
};

type R = ReplicationSlotRow;

/// The columns, in PostgreSQL 17's order plus PostgreSQL 19's last one, and
/// where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "slot_name",
        ty: T::Name,
        value: |r: &R| text(&r.slot_name),
    },
    Column {
        name: "plugin",
        ty: T::Name,
        value: |r: &R| opt_text(r.plugin.as_deref()),
    },
    Column {
        name: "slot_type",
        ty: T::Text,
        value: |r: &R| text(r.slot_type),
    },
    Column {
        name: "datoid",
        ty: T::Oid,
        value: |r: &R| r.datoid.map(|o| oid(o.0)).unwrap_or(Value::Null),
    },
    Column {
        name: "database",
        ty: T::Name,
        value: |r: &R| opt_text(r.database.as_deref()),
    },
    Column {
        name: "temporary",
        ty: T::Bool,
        value: |r: &R| b(r.temporary),
    },
    Column {
        name: "active",
        ty: T::Bool,
        value: |r: &R| b(r.active),
    },
    Column {
        name: "active_pid",
        ty: T::Int4,
        value: |r: &R| opt_i4(r.active_pid),
    },
    Column {
        name: "xmin",
        ty: T::Xid,
        value: |r: &R| opt_xid(r.xmin),
    },
    Column {
        name: "catalog_xmin",
        ty: T::Xid,
        value: |r: &R| opt_xid(r.catalog_xmin),
    },
    Column {
        name: "restart_lsn",
        ty: T::PgLsn,
        value: |r: &R| opt_lsn(r.restart_lsn),
    },
    Column {
        name: "confirmed_flush_lsn",
        ty: T::PgLsn,
        value: |r: &R| opt_lsn(r.confirmed_flush_lsn),
    },
    Column {
        name: "wal_status",
        ty: T::Text,
        value: |r: &R| opt_text(r.wal_status),
    },
    Column {
        name: "safe_wal_size",
        ty: T::Int8,
        value: |r: &R| r.safe_wal_size.map(Value::Int8).unwrap_or(Value::Null),
    },
    Column {
        name: "two_phase",
        ty: T::Bool,
        value: |r: &R| b(r.two_phase),
    },
    Column {
        name: "inactive_since",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.inactive_since),
    },
    Column {
        name: "conflicting",
        ty: T::Bool,
        value: |r: &R| r.conflicting.map(b).unwrap_or(Value::Null),
    },
    Column {
        name: "invalidation_reason",
        ty: T::Text,
        value: |r: &R| opt_text(r.invalidation_reason),
    },
    Column {
        name: "failover",
        ty: T::Bool,
        value: |r: &R| b(r.failover),
    },
    Column {
        name: "synced",
        ty: T::Bool,
        value: |r: &R| b(r.synced),
    },
    // PostgreSQL 19
    Column {
        name: "slotsync_skip_reason",
        ty: T::Text,
        value: |r: &R| opt_text(r.slotsync_skip_reason),
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx
        .hooks
        .replication_slots()
        .iter()
        .map(|r| row_values(COLUMNS, r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::{Lsn, Oid, Xid};

    /// PostgreSQL 17's `pg_replication_slots` (`system_views.sql`).
    const PG17: &[&str] = &[
        "slot_name",
        "plugin",
        "slot_type",
        "datoid",
        "database",
        "temporary",
        "active",
        "active_pid",
        "xmin",
        "catalog_xmin",
        "restart_lsn",
        "confirmed_flush_lsn",
        "wal_status",
        "safe_wal_size",
        "two_phase",
        "inactive_since",
        "conflicting",
        "invalidation_reason",
        "failover",
        "synced",
    ];

    /// What PostgreSQL 19 adds after them.
    const PG19_ADDED: &[&str] = &["slotsync_skip_reason"];

    fn all() -> Vec<&'static str> {
        PG17.iter().chain(PG19_ADDED).copied().collect()
    }

    fn col(name: &str) -> usize {
        all().iter().position(|c| *c == name).unwrap_or(usize::MAX)
    }

    #[test]
    fn columns_are_postgresql_17s_then_19s() {
        let names: Vec<&str> = columns().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[..PG17.len()], *PG17);
        assert_eq!(names, all());
    }

    #[test]
    fn fields_land_in_their_columns() {
        let row = ReplicationSlotRow {
            slot_name: "s1".into(),
            plugin: Some("pgoutput".into()),
            slot_type: "logical",
            datoid: Some(Oid(5)),
            database: Some("postgres".into()),
            temporary: false,
            active: true,
            active_pid: Some(4242),
            xmin: None,
            catalog_xmin: Some(Xid(750)),
            restart_lsn: Some(Lsn(0x0100_0028)),
            confirmed_flush_lsn: Some(Lsn::INVALID),
            wal_status: Some("reserved"),
            safe_wal_size: None,
            two_phase: true,
            inactive_since: Some(123),
            conflicting: Some(false),
            invalidation_reason: None,
            failover: true,
            synced: false,
            slotsync_skip_reason: Some("wal_not_flushed"),
            slotsync_skip_count: 3,
            slotsync_last_skip: Some(9),
        };
        let v = row_values(COLUMNS, &row);
        assert_eq!(v.len(), all().len());
        assert_eq!(v[col("slot_name")], text("s1"));
        assert_eq!(v[col("plugin")], text("pgoutput"));
        assert_eq!(v[col("slot_type")], text("logical"));
        assert_eq!(v[col("datoid")], Value::Oid(5));
        assert_eq!(v[col("database")], text("postgres"));
        assert_eq!(v[col("temporary")], Value::Bool(false));
        assert_eq!(v[col("active")], Value::Bool(true));
        assert_eq!(v[col("active_pid")], Value::Int4(4242));
        assert_eq!(v[col("xmin")], Value::Null);
        assert_eq!(v[col("catalog_xmin")], Value::Xid(750));
        assert_eq!(v[col("restart_lsn")], Value::PgLsn(Lsn(0x0100_0028)));
        assert_eq!(v[col("confirmed_flush_lsn")], Value::Null);
        assert_eq!(v[col("wal_status")], text("reserved"));
        assert_eq!(v[col("safe_wal_size")], Value::Null);
        assert_eq!(v[col("two_phase")], Value::Bool(true));
        assert_eq!(v[col("inactive_since")], Value::TimestampTz(123));
        assert_eq!(v[col("conflicting")], Value::Bool(false));
        assert_eq!(v[col("invalidation_reason")], Value::Null);
        assert_eq!(v[col("failover")], Value::Bool(true));
        assert_eq!(v[col("synced")], Value::Bool(false));
        assert_eq!(v[col("slotsync_skip_reason")], text("wal_not_flushed"));
    }

    #[test]
    fn a_physical_slot_has_null_logical_columns() {
        let row = ReplicationSlotRow {
            slot_name: "phys".into(),
            slot_type: "physical",
            synced: true,
            ..Default::default()
        };
        let v = row_values(COLUMNS, &row);
        for c in [
            "plugin",
            "datoid",
            "database",
            "conflicting",
            "restart_lsn",
            "slotsync_skip_reason",
        ] {
            assert_eq!(v[col(c)], Value::Null, "{c}");
        }
        assert_eq!(v[col("synced")], Value::Bool(true));
        assert_eq!(v[col("failover")], Value::Bool(false));
    }
}
