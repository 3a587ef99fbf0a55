//! tandem's failover readiness views (no PostgreSQL counterpart):
//!
//! - `pg_catalog.pg_failover_readiness`, on a standby: one row per failover
//!   slot of the primary as of the last sync cycle, whether this standby's
//!   copy would let its consumer resume after a promotion and, if not, why
//!   (`FailoverReadinessRow`, built by the server from
//!   `tandem_replication::readiness::assess`). Empty on a primary.
//! - `pg_catalog.pg_failover_slot_standbys`, on a primary: one row per
//!   (failover slot, physical slot of a standby), whether that standby could
//!   take the slot over (`FailoverSlotStandbyRow`, from
//!   `tandem_replication::readiness::takeovers`). Empty on a standby.
//!
//! Each view's columns and their source fields are one table below.

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::{FailoverReadinessRow, FailoverSlotStandbyRow};

use DataType as T;

pub static FAILOVER_READINESS: View = View {
    schema: "pg_catalog",
    name: "pg_failover_readiness",
    oid: 12_090,
    relkind: b'v',
    columns: readiness_columns,
    rows: readiness_rows,
};

pub static FAILOVER_SLOT_STANDBYS: View = View {
    schema: "pg_catalog",
    name: "pg_failover_slot_standbys",
    oid: 12_091,
    relkind: b'v',
    columns: standbys_columns,
    rows: standbys_rows,
};

type R = FailoverReadinessRow;

static READINESS: &[Column<R>] = &[
    Column {
        name: "slot_name",
        ty: T::Name,
        value: |r: &R| text(&r.slot_name),
    },
    Column {
        name: "ready",
        ty: T::Bool,
        value: |r: &R| b(r.ready),
    },
    Column {
        name: "reason",
        ty: T::Text,
        value: |r: &R| opt_text(r.reason.as_deref()),
    },
    Column {
        name: "lag_bytes",
        ty: T::Int8,
        value: |r: &R| r.lag_bytes.map(Value::Int8).unwrap_or(Value::Null),
    },
    Column {
        name: "last_sync",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.last_sync),
    },
];

type S = FailoverSlotStandbyRow;

static STANDBYS: &[Column<S>] = &[
    Column {
        name: "slot_name",
        ty: T::Name,
        value: |r: &S| text(&r.slot_name),
    },
    Column {
        name: "standby_slot",
        ty: T::Name,
        value: |r: &S| text(&r.standby_slot),
    },
    Column {
        name: "standby_flush_lsn",
        ty: T::PgLsn,
        value: |r: &S| opt_lsn(r.standby_flush_lsn),
    },
    Column {
        name: "slot_confirmed_flush_lsn",
        ty: T::PgLsn,
        value: |r: &S| opt_lsn(r.slot_confirmed_flush_lsn),
    },
    Column {
        name: "could_take_over",
        ty: T::Bool,
        value: |r: &S| b(r.could_take_over),
    },
    Column {
        name: "reason",
        ty: T::Text,
        value: |r: &S| opt_text(r.reason.as_deref()),
    },
];

fn readiness_columns() -> Vec<(&'static str, DataType)> {
    column_list(READINESS)
}

fn readiness_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx
        .hooks
        .failover_readiness()
        .iter()
        .map(|r| row_values(READINESS, r))
        .collect())
}

fn standbys_columns() -> Vec<(&'static str, DataType)> {
    column_list(STANDBYS)
}

fn standbys_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx
        .hooks
        .failover_slot_standbys()
        .iter()
        .map(|r| row_values(STANDBYS, r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::Lsn;

    #[test]
    fn readiness_columns_and_values() {
        let names: Vec<&str> = readiness_columns().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["slot_name", "ready", "reason", "lag_bytes", "last_sync"]
        );
        let row = FailoverReadinessRow {
            slot_name: "s".into(),
            ready: false,
            reason: Some("not synced yet".into()),
            lag_bytes: None,
            last_sync: Some(5),
        };
        assert_eq!(
            row_values(READINESS, &row),
            [
                text("s"),
                Value::Bool(false),
                text("not synced yet"),
                Value::Null,
                Value::TimestampTz(5)
            ]
        );
    }

    #[test]
    fn standbys_columns_and_values() {
        let names: Vec<&str> = standbys_columns().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "slot_name",
                "standby_slot",
                "standby_flush_lsn",
                "slot_confirmed_flush_lsn",
                "could_take_over",
                "reason"
            ]
        );
        let row = FailoverSlotStandbyRow {
            slot_name: "s".into(),
            standby_slot: "sb1".into(),
            standby_flush_lsn: Some(Lsn(0x20)),
            slot_confirmed_flush_lsn: None,
            could_take_over: true,
            reason: None,
        };
        assert_eq!(
            row_values(STANDBYS, &row),
            [
                text("s"),
                text("sb1"),
                Value::PgLsn(Lsn(0x20)),
                Value::Null,
                Value::Bool(true),
                Value::Null
            ]
        );
    }
}
