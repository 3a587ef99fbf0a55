//! `pg_catalog.pg_namespace`: the schemas (`pg_catalog`, `public`,
//! `information_schema`, `pg_toast`, and those CREATE SCHEMA made).

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

pub fn build(cat: &tandem_storage::Catalog) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = [
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
    .map(|(o, n, owner)| {
        // initdb's grants on public: its owner all, everyone USAGE
        let acl = if *o == PUBLIC_NAMESPACE {
            Value::Array(vec![
                text("pg_database_owner=UC/pg_database_owner"),
                text("=U/pg_database_owner"),
            ])
        } else {
            Value::Null
        };
        vec![oid(*o), name(n), oid(*owner), acl]
    })
    .collect();
    // the schemas CREATE SCHEMA made
    rows.extend(
        cat.schemas
            .values()
            .map(|s| vec![oid(s.oid.0), name(&s.name), oid(s.owner.0), Value::Null]),
    );
    rows
}

/// initdb's comments on the schemas (`pg_description` rows).
pub const DESCRIPTIONS: [(u32, &str); 3] = [
    (PG_CATALOG_NAMESPACE, "system catalog schema"),
    (PG_TOAST_NAMESPACE, "reserved schema for TOAST tables"),
    (PUBLIC_NAMESPACE, "standard public schema"),
];

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}
