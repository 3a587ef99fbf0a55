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
    .map(|(o, n, owner)| vec![oid(*o), name(n), oid(*owner), acl(cat, *o)])
    .collect();
    // the schemas CREATE SCHEMA made
    rows.extend(cat.schemas.values().map(|s| {
        vec![
            oid(s.oid.0),
            name(&s.name),
            oid(s.owner.0),
            acl(cat, s.oid.0),
        ]
    }));
    rows
}

/// `nspacl`: the grants made (initdb's on `public`: its owner all, everyone
/// USAGE), else NULL.
fn acl(cat: &tandem_storage::Catalog, schema: u32) -> Value {
    match cat.schema_acl_shown(tandem_types::Oid(schema)) {
        Some(items) => Value::Array(
            items
                .iter()
                .map(|i| Value::Text(tandem_storage::acl::aclitem_text(cat, i)))
                .collect(),
        ),
        None => Value::Null,
    }
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
