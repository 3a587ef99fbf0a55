//! `pg_catalog.pg_stat_ssl`: one row per client connection (a session or a
//! walsender), saying whether it is encrypted and with what, from the
//! `ssl` field of the server's [`BackendActivityRow`]s. Client certificates
//! are not requested, so `client_dn`, `client_serial` and `issuer_dn` are NULL.
//! PostgreSQL: `system_views.sql` (`pg_stat_ssl`), `pgstatfuncs.c`.

use tandem_types::{DataType, PgResult, Value};

use super::*;
use crate::context::BackendActivityRow;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_stat_ssl",
    oid: 12_008,
    relkind: b'v',
    columns,
    rows,
};

type R = BackendActivityRow;

fn null(_: &R) -> Value {
    Value::Null
}

/// The columns, in PostgreSQL 17's order, and where each value comes from.
static COLUMNS: &[Column<R>] = &[
    Column {
        name: "pid",
        ty: T::Int4,
        value: |r: &R| i4(r.pid),
    },
    Column {
        name: "ssl",
        ty: T::Bool,
        value: |r: &R| b(r.ssl.is_some()),
    },
    Column {
        name: "version",
        ty: T::Text,
        value: |r: &R| opt_text(r.ssl.as_ref().map(|s| s.version.as_str())),
    },
    Column {
        name: "cipher",
        ty: T::Text,
        value: |r: &R| opt_text(r.ssl.as_ref().map(|s| s.cipher.as_str())),
    },
    Column {
        name: "bits",
        ty: T::Int4,
        value: |r: &R| opt_i4(r.ssl.as_ref().map(|s| s.bits)),
    },
    Column {
        name: "client_dn",
        ty: T::Text,
        value: null,
    },
    Column {
        name: "client_serial",
        ty: T::Numeric(None),
        value: null,
    },
    Column {
        name: "issuer_dn",
        ty: T::Text,
        value: null,
    },
];

fn columns() -> Vec<(&'static str, DataType)> {
    column_list(COLUMNS)
}

/// The rows for the server's sessions: those with a client connection
/// (PostgreSQL shows the backends whose `client_port` is not NULL).
pub fn build(activity: Vec<BackendActivityRow>) -> Vec<Vec<Value>> {
    activity
        .iter()
        .filter(|r| r.backend_type.is_empty() || r.backend_type == "walsender")
        .map(|r| row_values(COLUMNS, r))
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(ctx.hooks.activity()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SslStatus;

    #[test]
    fn columns_are_postgresql_17s() {
        let names: Vec<&str> = columns().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "pid",
                "ssl",
                "version",
                "cipher",
                "bits",
                "client_dn",
                "client_serial",
                "issuer_dn"
            ]
        );
    }

    #[test]
    fn encrypted_and_plain_sessions() {
        let rows = build(vec![
            BackendActivityRow {
                pid: 1,
                ssl: Some(SslStatus {
                    version: "TLSv1.3".into(),
                    cipher: "TLS_AES_256_GCM_SHA384".into(),
                    bits: 256,
                }),
                ..Default::default()
            },
            BackendActivityRow {
                pid: 2,
                ..Default::default()
            },
            BackendActivityRow {
                pid: 3,
                backend_type: "slotsync worker".into(),
                ..Default::default()
            },
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1], Value::Bool(true));
        assert_eq!(rows[0][2], text("TLSv1.3"));
        assert_eq!(rows[0][4], Value::Int4(256));
        assert_eq!(rows[1][1], Value::Bool(false));
        assert_eq!(rows[1][2], Value::Null);
    }
}
