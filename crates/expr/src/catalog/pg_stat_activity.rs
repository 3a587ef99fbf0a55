//! `pg_catalog.pg_stat_activity`: one row per session, from the server's
//! [`BackendActivityRow`]s (`ServerHooks::activity()`). The view adds the
//! database (the one tandem serves), `usesysid` from the role name, and the
//! columns tandem does not track (NULL; `backend_type` is `client backend`
//! unless the server names another, e.g. `slotsync worker`).
//! PostgreSQL: `system_views.sql`, `pgstatfuncs.c` (`pg_stat_get_activity`).

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::BackendActivityRow;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_stat_activity",
    oid: 12_004,
    relkind: b'v',
    columns,
    rows,
};

/// A session as the view shows it: the server's row and what the view adds.
struct Session {
    row: BackendActivityRow,
    datname: String,
    usesysid: Option<u32>,
}

type R = Session;

fn null(_: &R) -> Value {
    Value::Null
}

/// The columns, in PostgreSQL 17's order, and where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "datid",
        ty: T::Oid,
        value: |_: &R| oid(DATABASE_OID),
    },
    Column {
        name: "datname",
        ty: T::Name,
        value: |s: &R| name(&s.datname),
    },
    Column {
        name: "pid",
        ty: T::Int4,
        value: |s: &R| i4(s.row.pid),
    },
    Column {
        name: "leader_pid",
        ty: T::Int4,
        value: null,
    },
    Column {
        name: "usesysid",
        ty: T::Oid,
        value: |s: &R| s.usesysid.map(oid).unwrap_or(Value::Null),
    },
    Column {
        name: "usename",
        ty: T::Name,
        value: |s: &R| opt_text(s.row.usename.as_deref()),
    },
    Column {
        name: "application_name",
        ty: T::Text,
        value: |s: &R| text(&s.row.application_name),
    },
    Column {
        name: "client_addr",
        ty: T::Text,
        value: |s: &R| opt_text(s.row.client_addr.as_deref()),
    },
    Column {
        name: "client_hostname",
        ty: T::Text,
        value: null,
    },
    Column {
        name: "client_port",
        ty: T::Int4,
        // -1 for a Unix-domain socket; the TCP port is not tracked
        value: |s: &R| match s.row.client_addr {
            None => i4(-1),
            Some(_) => Value::Null,
        },
    },
    Column {
        name: "backend_start",
        ty: T::TimestampTz,
        value: |s: &R| Value::TimestampTz(s.row.backend_start),
    },
    Column {
        name: "xact_start",
        ty: T::TimestampTz,
        value: null,
    },
    Column {
        name: "query_start",
        ty: T::TimestampTz,
        value: null,
    },
    Column {
        name: "state_change",
        ty: T::TimestampTz,
        value: null,
    },
    Column {
        name: "wait_event_type",
        ty: T::Text,
        value: null,
    },
    Column {
        name: "wait_event",
        ty: T::Text,
        value: null,
    },
    Column {
        name: "state",
        ty: T::Text,
        value: |s: &R| text(&s.row.state),
    },
    Column {
        name: "backend_xid",
        ty: T::Xid,
        value: null,
    },
    Column {
        name: "backend_xmin",
        ty: T::Xid,
        value: null,
    },
    Column {
        name: "query_id",
        ty: T::Int8,
        value: null,
    },
    Column {
        name: "query",
        ty: T::Text,
        value: |s: &R| text(&s.row.query),
    },
    Column {
        name: "backend_type",
        ty: T::Text,
        value: |s: &R| {
            text(if s.row.backend_type.is_empty() {
                "client backend"
            } else {
                &s.row.backend_type
            })
        },
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

/// The view's rows for the server's sessions, seen from database `datname`
/// (`role_oid` looks a role up by name).
pub fn build(
    activity: Vec<BackendActivityRow>,
    datname: &str,
    role_oid: impl Fn(&str) -> Option<u32>,
) -> Vec<Vec<Value>> {
    activity
        .into_iter()
        .map(|row| {
            let session = Session {
                usesysid: row.usename.as_deref().and_then(&role_oid),
                datname: datname.to_string(),
                row,
            };
            row_values(COLUMNS, &session)
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    Ok(build(ctx.hooks.activity(), &ctx.session.database, |u| {
        cat.role_by_name(u).map(|r| r.oid.0)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 17's `pg_stat_activity` (`system_views.sql`).
    const PG17: &[&str] = &[
        "datid",
        "datname",
        "pid",
        "leader_pid",
        "usesysid",
        "usename",
        "application_name",
        "client_addr",
        "client_hostname",
        "client_port",
        "backend_start",
        "xact_start",
        "query_start",
        "state_change",
        "wait_event_type",
        "wait_event",
        "state",
        "backend_xid",
        "backend_xmin",
        "query_id",
        "query",
        "backend_type",
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
        let rows = build(
            vec![
                BackendActivityRow {
                    pid: 1001,
                    usename: Some("alice".into()),
                    application_name: "psql".into(),
                    client_addr: Some("127.0.0.1".into()),
                    backend_start: 42,
                    state: "active".into(),
                    query: "select 1".into(),
                    backend_type: String::new(),
                    ssl: None,
                },
                BackendActivityRow {
                    pid: 1002,
                    backend_type: "slotsync worker".into(),
                    ..Default::default()
                },
            ],
            "postgres",
            |u| (u == "alice").then_some(16_500),
        );
        assert_eq!(rows.len(), 2);
        let v = &rows[0];
        assert_eq!(v.len(), PG17.len());
        assert_eq!(v[col("datid")], Value::Oid(DATABASE_OID));
        assert_eq!(v[col("datname")], text("postgres"));
        assert_eq!(v[col("pid")], Value::Int4(1001));
        assert_eq!(v[col("usesysid")], Value::Oid(16_500));
        assert_eq!(v[col("usename")], text("alice"));
        assert_eq!(v[col("application_name")], text("psql"));
        assert_eq!(v[col("client_addr")], text("127.0.0.1"));
        assert_eq!(v[col("client_port")], Value::Null);
        assert_eq!(v[col("backend_start")], Value::TimestampTz(42));
        assert_eq!(v[col("state")], text("active"));
        assert_eq!(v[col("query")], text("select 1"));
        assert_eq!(v[col("backend_type")], text("client backend"));
        assert_eq!(rows[1][col("backend_type")], text("slotsync worker"));
        // not yet authenticated, over a Unix-domain socket
        let v = &rows[1];
        assert_eq!(v[col("usesysid")], Value::Null);
        assert_eq!(v[col("usename")], Value::Null);
        assert_eq!(v[col("client_addr")], Value::Null);
        assert_eq!(v[col("client_port")], Value::Int4(-1));
    }
}
