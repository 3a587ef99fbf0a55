//! `pg_catalog.pg_tables`: user tables plus the catalog tables, as PostgreSQL
//! lists them.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_tables",
    oid: 12_005,
    relkind: b'v',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("schemaname", T::Name),
        ("tablename", T::Name),
        ("tableowner", T::Name),
        ("tablespace", T::Name),
        ("hasindexes", T::Bool),
        ("hasrules", T::Bool),
        ("hastriggers", T::Bool),
        ("rowsecurity", T::Bool),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = cat
        .tables
        .values()
        .map(|t| {
            vec![
                name(&t.schema),
                name(&t.name),
                name(&role_name(cat, t.owner.0)),
                Value::Null,
                b(t.primary_key.is_some() || !cat.indexes_of(t.oid).is_empty()),
                b(false),
                b(false),
                b(false),
            ]
        })
        .collect();
    let owner = role_name(cat, BOOTSTRAP_SUPERUSER);
    for v in VIEWS.iter().filter(|v| v.relkind == b'r') {
        out.push(vec![
            name(v.schema),
            name(v.name),
            name(&owner),
            Value::Null,
            b(false),
            b(false),
            b(false),
            b(false),
        ]);
    }
    out
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_table_listed_with_owner() {
        let rows = build(&testing::sample());
        assert_eq!(
            rows[0][..5],
            [
                name("public"),
                name("t"),
                name("postgres"),
                Value::Null,
                b(true)
            ]
        );
    }
}
