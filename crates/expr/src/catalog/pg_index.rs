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
                b(matches!(
                    t.replica_identity,
                    tandem_storage::ReplicaIdentity::Index { index, .. } if index.0 == i.oid
                )),
                Value::Array(keys),
                Value::Array(colls),
                Value::Array(
                    i.columns
                        .iter()
                        .map(|c| oid(t.columns.get(*c).map_or(0, |c| btree_opclass(&c.data_type))))
                        .collect(),
                ),
                Value::Array(i.columns.iter().map(|_| i2(0)).collect()),
                Value::Null,
                Value::Null,
            ]
        })
        .collect()
}

/// The OID of the default btree operator class of a column type
/// (`pg_opclass`; `int4_ops` is 1978, `text_ops` 3126).
fn btree_opclass(ty: &DataType) -> u32 {
    match ty {
        T::Bool => 424,
        T::Bytea => 421,
        T::Char => 429,
        T::Name => 1986,
        T::Int8 => 3124,
        T::Int2 => 1979,
        T::Int4 => 1978,
        T::Text | T::Varchar(_) => 3126,
        T::Bpchar(_) => 426,
        T::Oid => 1981,
        T::Float4 => 1970,
        T::Float8 => 3123,
        T::Numeric(_) => 3125,
        T::Date => 3122,
        T::Timestamp => 3128,
        T::TimestampTz => 3127,
        T::Interval => 3135,
        T::Uuid => 2968,
        T::PgLsn => 3380,
        T::Jsonb => 4033,
        T::Array(_) => 397,
        _ => 0,
    }
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}
