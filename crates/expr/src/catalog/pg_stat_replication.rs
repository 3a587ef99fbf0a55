//! `pg_catalog.pg_stat_replication`: one row per walsender, each column mapped
//! from a field of the server's [`WalSenderRow`]
//! (`ServerHooks::stat_replication`; the server owns the walsenders). The view
//! fills `usesysid` from the role name when the server leaves it unset.
//! PostgreSQL: `system_views.sql`, `walsender.c` (`pg_stat_get_wal_senders`).

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::WalSenderRow;

use DataType as T;

pub static STAT_REPLICATION: View = View {
    schema: "pg_catalog",
    name: "pg_stat_replication",
    oid: 12_021,
    relkind: b'v',
    columns,
    rows,
};

type R = WalSenderRow;

fn lag(us: Option<i64>) -> Value {
    us.map(|u| Value::Interval(0, 0, u)).unwrap_or(Value::Null)
}

/// The columns, in PostgreSQL 17's order, and where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "pid",
        ty: T::Int4,
        value: |r: &R| i4(r.pid),
    },
    Column {
        name: "usesysid",
        ty: T::Oid,
        value: |r: &R| r.usesysid.map(|o| oid(o.0)).unwrap_or(Value::Null),
    },
    Column {
        name: "usename",
        ty: T::Name,
        value: |r: &R| text(&r.usename),
    },
    Column {
        name: "application_name",
        ty: T::Text,
        value: |r: &R| text(&r.application_name),
    },
    Column {
        name: "client_addr",
        ty: T::Text,
        value: |r: &R| opt_text(r.client_addr.as_deref()),
    },
    Column {
        name: "client_hostname",
        ty: T::Text,
        value: |r: &R| opt_text(r.client_hostname.as_deref()),
    },
    Column {
        name: "client_port",
        ty: T::Int4,
        value: |r: &R| match (&r.client_addr, r.client_port) {
            (Some(_), Some(port)) => i4(i32::from(port)),
            _ => i4(-1),
        },
    },
    Column {
        name: "backend_start",
        ty: T::TimestampTz,
        value: |r: &R| Value::TimestampTz(r.backend_start),
    },
    Column {
        name: "backend_xmin",
        ty: T::Xid,
        value: |r: &R| opt_xid(r.backend_xmin),
    },
    Column {
        name: "state",
        ty: T::Text,
        value: |r: &R| text(r.state),
    },
    Column {
        name: "sent_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.sent_lsn),
    },
    Column {
        name: "write_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.write_lsn),
    },
    Column {
        name: "flush_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.flush_lsn),
    },
    Column {
        name: "replay_lsn",
        ty: T::PgLsn,
        value: |r: &R| lsn(r.replay_lsn),
    },
    Column {
        name: "write_lag",
        ty: T::Interval,
        value: |r: &R| lag(r.write_lag),
    },
    Column {
        name: "flush_lag",
        ty: T::Interval,
        value: |r: &R| lag(r.flush_lag),
    },
    Column {
        name: "replay_lag",
        ty: T::Interval,
        value: |r: &R| lag(r.replay_lag),
    },
    Column {
        name: "sync_priority",
        ty: T::Int4,
        value: |r: &R| i4(r.sync_priority),
    },
    Column {
        name: "sync_state",
        ty: T::Text,
        value: |r: &R| text(r.sync_state),
    },
    Column {
        name: "reply_time",
        ty: T::TimestampTz,
        value: |r: &R| opt_ts(r.reply_time),
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    Ok(ctx
        .hooks
        .stat_replication()
        .into_iter()
        .map(|mut r| {
            if r.usesysid.is_none() {
                r.usesysid = cat.role_by_name(&r.usename).map(|role| role.oid);
            }
            row_values(COLUMNS, &r)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::{Lsn, Oid, Xid};

    /// PostgreSQL 17's `pg_stat_replication` (`system_views.sql`).
    const PG17: &[&str] = &[
        "pid",
        "usesysid",
        "usename",
        "application_name",
        "client_addr",
        "client_hostname",
        "client_port",
        "backend_start",
        "backend_xmin",
        "state",
        "sent_lsn",
        "write_lsn",
        "flush_lsn",
        "replay_lsn",
        "write_lag",
        "flush_lag",
        "replay_lag",
        "sync_priority",
        "sync_state",
        "reply_time",
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
        let row = WalSenderRow {
            pid: 77,
            usesysid: Some(Oid(10)),
            usename: "postgres".into(),
            application_name: "standby1".into(),
            client_addr: Some("127.0.0.1".into()),
            client_hostname: None,
            client_port: Some(5433),
            backend_start: 11,
            backend_xmin: Some(Xid(900)),
            state: "streaming",
            sent_lsn: Lsn(0x0300_0060),
            write_lsn: Lsn(0x0300_0050),
            flush_lsn: Lsn(0x0300_0040),
            replay_lsn: Lsn::INVALID,
            write_lag: Some(1500),
            flush_lag: None,
            replay_lag: Some(0),
            sync_priority: 1,
            sync_state: "sync",
            reply_time: Some(22),
        };
        let v = row_values(COLUMNS, &row);
        assert_eq!(v.len(), PG17.len());
        assert_eq!(v[col("pid")], Value::Int4(77));
        assert_eq!(v[col("usesysid")], Value::Oid(10));
        assert_eq!(v[col("usename")], text("postgres"));
        assert_eq!(v[col("application_name")], text("standby1"));
        assert_eq!(v[col("client_addr")], text("127.0.0.1"));
        assert_eq!(v[col("client_hostname")], Value::Null);
        assert_eq!(v[col("client_port")], Value::Int4(5433));
        assert_eq!(v[col("backend_start")], Value::TimestampTz(11));
        assert_eq!(v[col("backend_xmin")], Value::Xid(900));
        assert_eq!(v[col("state")], text("streaming"));
        assert_eq!(v[col("sent_lsn")], Value::PgLsn(Lsn(0x0300_0060)));
        assert_eq!(v[col("write_lsn")], Value::PgLsn(Lsn(0x0300_0050)));
        assert_eq!(v[col("flush_lsn")], Value::PgLsn(Lsn(0x0300_0040)));
        assert_eq!(v[col("replay_lsn")], Value::Null);
        assert_eq!(v[col("write_lag")], Value::Interval(0, 0, 1500));
        assert_eq!(v[col("flush_lag")], Value::Null);
        assert_eq!(v[col("replay_lag")], Value::Interval(0, 0, 0));
        assert_eq!(v[col("sync_priority")], Value::Int4(1));
        assert_eq!(v[col("sync_state")], text("sync"));
        assert_eq!(v[col("reply_time")], Value::TimestampTz(22));
    }

    #[test]
    fn a_unix_socket_client_has_port_minus_one() {
        let row = WalSenderRow {
            client_addr: None,
            client_port: Some(5433),
            ..Default::default()
        };
        let v = row_values(COLUMNS, &row);
        assert_eq!(v[col("client_addr")], Value::Null);
        assert_eq!(v[col("client_port")], Value::Int4(-1));
        assert_eq!(v[col("usesysid")], Value::Null);
    }
}
