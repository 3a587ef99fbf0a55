//! `pg_catalog.pg_attribute`: columns of tables (dropped ones as
//! `........pg.dropped.N........`), of primary-key indexes, and of the virtual
//! catalogs.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_attribute",
    oid: 1249,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("attrelid", T::Oid),
        ("attname", T::Name),
        ("atttypid", T::Oid),
        ("attlen", T::Int2),
        ("attnum", T::Int2),
        ("attcacheoff", T::Int4),
        ("atttypmod", T::Int4),
        ("attndims", T::Int2),
        ("attbyval", T::Bool),
        ("attalign", T::Char),
        ("attstorage", T::Char),
        ("attcompression", T::Char),
        ("attnotnull", T::Bool),
        ("atthasdef", T::Bool),
        ("atthasmissing", T::Bool),
        ("attidentity", T::Char),
        ("attgenerated", T::Char),
        ("attisdropped", T::Bool),
        ("attislocal", T::Bool),
        ("attinhcount", T::Int2),
        ("attstattarget", T::Int2),
        ("attcollation", T::Oid),
        ("attacl", T::Array(Box::new(T::Text))),
        ("attoptions", T::Array(Box::new(T::Text))),
        ("attfdwoptions", T::Array(Box::new(T::Text))),
        ("attmissingval", T::Text),
    ]
}

struct Att<'a> {
    rel: u32,
    name: &'a str,
    ty: Option<&'a DataType>,
    num: usize,
    not_null: bool,
    has_default: bool,
    /// `attidentity`: `a` (ALWAYS), `d` (BY DEFAULT) or 0.
    identity: u8,
}

fn row(a: Att<'_>) -> Vec<Value> {
    let (typid, len, typmod, ndims, collation) = match a.ty {
        Some(t) => {
            let coll = match t {
                T::Text | T::Varchar(_) | T::Bpchar(_) => DEFAULT_COLLATION,
                T::Name => 950,
                _ => 0,
            };
            (
                t.oid(),
                t.typlen(),
                t.typmod(),
                matches!(t, T::Array(_)) as i16,
                coll,
            )
        }
        None => (0, -1, -1, 0, 0),
    };
    let byval = matches!(len, 1 | 2 | 4 | 8);
    let align = match len {
        1 => b'c',
        2 => b's',
        8 => b'd',
        _ => b'i',
    };
    vec![
        oid(a.rel),
        name(a.name),
        oid(typid),
        i2(len),
        i2(a.num as i16),
        i4(-1),
        i4(typmod),
        i2(ndims),
        b(byval),
        ch(align),
        ch(a.ty.map_or(b'x', |t| super::pg_type::typstorage(t, len))),
        ch(0),
        b(a.not_null),
        b(a.has_default && a.identity == 0),
        b(false),
        ch(a.identity),
        ch(0),
        b(a.ty.is_none()),
        b(true),
        i2(0),
        Value::Null,
        oid(collation),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in cat.tables.values() {
        for (i, c) in t.columns.iter().enumerate() {
            let dropped_name = format!("........pg.dropped.{}........", i + 1);
            out.push(row(Att {
                rel: t.oid.0,
                name: if c.dropped { &dropped_name } else { &c.name },
                ty: if c.dropped { None } else { Some(&c.data_type) },
                num: i + 1,
                not_null: c.not_null && !c.dropped,
                has_default: c.default.is_some() && !c.dropped,
                identity: match cat.identity(t.oid, i) {
                    Some(true) => b'a',
                    Some(false) => b'd',
                    None => 0,
                },
            }));
        }
    }
    for idx in index_views(cat) {
        for (k, &ci) in idx.columns.iter().enumerate() {
            if let Some(c) = idx.table.columns.get(ci) {
                out.push(row(Att {
                    rel: idx.oid,
                    name: &c.name,
                    ty: Some(&c.data_type),
                    num: k + 1,
                    not_null: false,
                    has_default: false,
                    identity: 0,
                }));
            }
        }
    }
    for v in cat.views.values() {
        for (i, (n, ty)) in v.columns.iter().enumerate() {
            out.push(row(Att {
                rel: v.oid.0,
                name: n,
                ty: Some(ty),
                num: i + 1,
                not_null: false,
                has_default: false,
                identity: 0,
            }));
        }
    }
    let seq_cols = [
        ("last_value", T::Int8),
        ("log_cnt", T::Int8),
        ("is_called", T::Bool),
    ];
    for s in cat.sequences.values() {
        for (i, (n, ty)) in seq_cols.iter().enumerate() {
            out.push(row(Att {
                rel: s.oid.0,
                name: n,
                ty: Some(ty),
                num: i + 1,
                not_null: true,
                has_default: false,
                identity: 0,
            }));
        }
    }
    for v in VIEWS {
        for (i, (n, ty)) in (v.columns)().iter().enumerate() {
            out.push(row(Att {
                rel: v.oid,
                name: n,
                ty: Some(ty),
                num: i + 1,
                not_null: false,
                has_default: false,
                identity: 0,
            }));
        }
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
    fn table_columns_with_types_and_modifiers() {
        let rows = build(&testing::sample());
        let t: Vec<&Vec<Value>> = rows.iter().filter(|r| r[0] == Value::Oid(16384)).collect();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0][1], Value::Text("id".into()));
        assert_eq!(t[0][2], Value::Oid(23));
        assert_eq!(t[0][12], Value::Bool(true));
        assert_eq!(t[0][13], Value::Bool(true));
        assert_eq!(t[1][6], Value::Int4(14));
        assert_eq!(t[1][21], Value::Oid(DEFAULT_COLLATION));
        let idx: Vec<&Vec<Value>> = rows
            .iter()
            .filter(|r| r[0] == Value::Oid(pkey_index_oid(16384)))
            .collect();
        assert_eq!(idx.len(), 1);
        assert!(rows.iter().all(|r| r.len() == columns().len()));
    }
}
