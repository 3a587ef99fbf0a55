//! `pg_catalog.pg_stat_wal_receiver`: the standby's walreceiver (no row when
//! none runs), each column mapped from a field of the server's
//! [`WalReceiverRow`] (`ServerHooks::stat_wal_receiver`).
//! PostgreSQL: `system_views.sql`, `walreceiver.c` (`pg_stat_get_wal_receiver`).

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::WalReceiverRow;

use DataType as T;

pub static STAT_WAL_RECEIVER: View = View {
    schema: "pg_catalog",
    name: "pg_stat_wal_receiver",
    oid: 12_022,
    relkind: b'v',
    columns,
    rows,
};

type R = WalReceiverRow;

/// A timeline column (`int4`, as PostgreSQL shows it).
fn tli(t: tandem_types::TimeLineId) -> Value {
    i4(t.0 as i32)
}

/// The columns, in PostgreSQL 17's order, and where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "pid",
        ty: T::Int4,
        value: |r: &R| i4(r.pid),
    },
    Column {
        name: "status",
        ty: T::Text,
        value: |r: &R| text(r.status),
    },
    Column {
        name: "receive_start_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.receive_start_lsn),
    },
    Column {
        name: "receive_start_tli",
        ty: T::Int4,
        value: |r: &R| tli(r.receive_start_tli),
    },
    Column {
        name: "written_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.written_lsn),
    },
    Column {
        name: "flushed_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.flushed_lsn),
    },
    Column {
        name: "received_tli",
        ty: T::Int4,
        value: |r: &R| tli(r.received_tli),
    },
    Column {
        name: "last_msg_send_time",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.last_msg_send_time),
    },
    Column {
        name: "last_msg_receipt_time",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.last_msg_receipt_time),
    },
    Column {
        name: "latest_end_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.latest_end_lsn),
    },
    Column {
        name: "latest_end_time",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.latest_end_time),
    },
    Column {
        name: "slot_name",
        ty: T::Text,
        value: |r: &R| opt_text(r.slot_name.as_deref()),
    },
    Column {
        name: "sender_host",
        ty: T::Text,
        value: |r: &R| opt_text(r.sender_host.as_deref()),
    },
    Column {
        name: "sender_port",
        ty: T::Int4,
        value: |r: &R| opt_i4(r.sender_port),
    },
    Column {
        name: "conninfo",
        ty: T::Text,
        value: |r: &R| text(&r.conninfo),
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx
        .hooks
        .stat_wal_receiver()
        .iter()
        .map(|r| row_values(COLUMNS, r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::{Lsn, TimeLineId};

    /// PostgreSQL 17's `pg_stat_wal_receiver` (`system_views.sql`).
    const PG17: &[&str] = &[
        "pid",
        "status",
        "receive_start_lsn",
        "receive_start_tli",
        "written_lsn",
        "flushed_lsn",
        "received_tli",
        "last_msg_send_time",
        "last_msg_receipt_time",
        "latest_end_lsn",
        "latest_end_time",
        "slot_name",
        "sender_host",
        "sender_port",
        "conninfo",
    ];

    fn col(name: &str) -> usize {
        PG17.iter().position(|c| *c == name).unwrap_or(usize::MAX)
    }

    #[test]
    fn columns_are_postgresql_17s() {
        let names: Vec<&str> = columns().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, PG17);
    }

    #[test]
    fn fields_land_in_their_columns() {
        let row = WalReceiverRow {
            pid: 99,
            status: "streaming",
            receive_start_lsn: Lsn(0x0300_0000),
            receive_start_tli: TimeLineId(1),
            written_lsn: Lsn(0x0300_0100),
            flushed_lsn: Lsn(0x0300_00F0),
            received_tli: TimeLineId(2),
            last_msg_send_time: Some(5),
            last_msg_receipt_time: Some(6),
            latest_end_lsn: Lsn::INVALID,
            latest_end_time: None,
            slot_name: Some("standby_slot".into()),
            sender_host: Some("localhost".into()),
            sender_port: Some(5432),
            conninfo: "host=localhost port=5432".into(),
        };
        let v = row_values(COLUMNS, &row);
        assert_eq!(v.len(), PG17.len());
        assert_eq!(v[col("pid")], Value::Int4(99));
        assert_eq!(v[col("status")], text("streaming"));
        assert_eq!(v[col("receive_start_lsn")], Value::PgLsn(Lsn(0x0300_0000)));
        assert_eq!(v[col("receive_start_tli")], Value::Int4(1));
        assert_eq!(v[col("written_lsn")], Value::PgLsn(Lsn(0x0300_0100)));
        assert_eq!(v[col("flushed_lsn")], Value::PgLsn(Lsn(0x0300_00F0)));
        assert_eq!(v[col("received_tli")], Value::Int4(2));
        assert_eq!(v[col("last_msg_send_time")], Value::TimestampTz(5));
        assert_eq!(v[col("last_msg_receipt_time")], Value::TimestampTz(6));
        assert_eq!(v[col("latest_end_lsn")], Value::Null);
        assert_eq!(v[col("latest_end_time")], Value::Null);
        assert_eq!(v[col("slot_name")], text("standby_slot"));
        assert_eq!(v[col("sender_host")], text("localhost"));
        assert_eq!(v[col("sender_port")], Value::Int4(5432));
        assert_eq!(v[col("conninfo")], text("host=localhost port=5432"));
    }
}
