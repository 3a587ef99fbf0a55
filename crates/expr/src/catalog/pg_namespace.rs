//! `pg_catalog.pg_namespace`: the schemas (`pg_catalog`, `public`,
//! `information_schema`, `pg_toast`).

use tandem_types::{DataType, PgResult, Value};

use super::*;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_namespace",
    oid: 2615,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", DataType::Oid),
        ("nspname", DataType::Name),
        ("nspowner", DataType::Oid),
        ("nspacl", DataType::Array(Box::new(DataType::Text))),
    ]
}

/// `pg_database_owner`, owner of `public` since PostgreSQL 15.
const PG_DATABASE_OWNER: u32 = 6171;

pub fn build() -> Vec<Vec<Value>> {
    [
        (PG_CATALOG_NAMESPACE, "pg_catalog", BOOTSTRAP_SUPERUSER),
        (PG_TOAST_NAMESPACE, "pg_toast", BOOTSTRAP_SUPERUSER),
        (PUBLIC_NAMESPACE, "public", PG_DATABASE_OWNER),
        (
            INFORMATION_SCHEMA_NAMESPACE,
            "information_schema",
            BOOTSTRAP_SUPERUSER,
        ),
    ]
    .iter()
    .map(|(o, n, owner)| vec![oid(*o), name(n), oid(*owner), Value::Null])
    .collect()
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build())
}
