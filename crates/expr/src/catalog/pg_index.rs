//! `pg_catalog.pg_index`: primary key and secondary indexes.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_index",
    oid: 2610,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("indexrelid", T::Oid),
        ("indrelid", T::Oid),
        ("indnatts", T::Int2),
        ("indnkeyatts", T::Int2),
        ("indisunique", T::Bool),
        ("indnullsnotdistinct", T::Bool),
        ("indisprimary", T::Bool),
        ("indisexclusion", T::Bool),
        ("indimmediate", T::Bool),
        ("indisclustered", T::Bool),
        ("indisvalid", T::Bool),
        ("indcheckxmin", T::Bool),
        ("indisready", T::Bool),
        ("indislive", T::Bool),
        ("indisreplident", T::Bool),
        ("indkey", T::Int2Vector),
        ("indcollation", T::OidVector),
        ("indclass", T::OidVector),
        ("indoption", T::Int2Vector),
        ("indexprs", T::Text),
        ("indpred", T::Text),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    index_views(cat)
        .iter()
        .map(|i| {
            let t = i.table;
            let n = i.columns.len() as i16;
            let keys = i.columns.iter().map(|c| i2(*c as i16 + 1)).collect();
            let colls = i
                .columns
                .iter()
                .map(|c| {
                    let text = t.columns.get(*c).is_some_and(|c| {
                        matches!(c.data_type, T::Text | T::Varchar(_) | T::Bpchar(_))
                    });
                    oid(if text { DEFAULT_COLLATION } else { 0 })
                })
                .collect();
            vec![
                oid(i.oid),
                oid(t.oid.0),
                i2(n),
                i2(n),
                b(i.unique),
                b(false),
                b(i.primary),
                b(false),
                b(true),
                b(false),
                b(true),
                b(false),
                b(true),
                b(true),
                b(false),
                Value::Array(keys),
                Value::Array(colls),
                Value::Array(i.columns.iter().map(|_| oid(1978)).collect()),
                Value::Array(i.columns.iter().map(|_| i2(0)).collect()),
                Value::Null,
                Value::Null,
            ]
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}
