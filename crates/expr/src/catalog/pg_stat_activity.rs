//! `pg_catalog.pg_stat_activity`: one row per session, from
//! `ServerHooks::activity()` whose rows are (pid, usename, application_name,
//! client_addr, backend_start, state, query).

use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_stat_activity",
    oid: 12_004,
    relkind: b'v',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("datid", T::Oid),
        ("datname", T::Name),
        ("pid", T::Int4),
        ("leader_pid", T::Int4),
        ("usesysid", T::Oid),
        ("usename", T::Name),
        ("application_name", T::Text),
        ("client_addr", T::Text),
        ("client_hostname", T::Text),
        ("client_port", T::Int4),
        ("backend_start", T::TimestampTz),
        ("xact_start", T::TimestampTz),
        ("query_start", T::TimestampTz),
        ("state_change", T::TimestampTz),
        ("wait_event_type", T::Text),
        ("wait_event", T::Text),
        ("state", T::Text),
        ("backend_xid", T::Xid),
        ("backend_xmin", T::Xid),
        ("query_id", T::Int8),
        ("query", T::Text),
        ("backend_type", T::Text),
    ]
}

/// Maps the hook's 7-column rows onto the view's columns.
pub fn build(
    activity: Vec<Vec<Value>>,
    datname: &str,
    role_oid: impl Fn(&str) -> Option<u32>,
) -> Vec<Vec<Value>> {
    activity
        .into_iter()
        .map(|a| {
            let get = |i: usize| a.get(i).cloned().unwrap_or(Value::Null);
            let user = crate::to_text(&get(1));
            vec![
                oid(DATABASE_OID),
                name(datname),
                get(0),
                Value::Null,
                role_oid(&user).map(oid).unwrap_or(Value::Null),
                get(1),
                get(2),
                get(3),
                Value::Null,
                if get(3).is_null() {
                    i4(-1)
                } else {
                    Value::Null
                },
                get(4),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                get(5),
                Value::Null,
                Value::Null,
                Value::Null,
                get(6),
                text("client backend"),
            ]
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    Ok(build(ctx.hooks.activity(), &ctx.session.database, |u| {
        cat.role_by_name(u).map(|r| r.oid.0)
    }))
}
