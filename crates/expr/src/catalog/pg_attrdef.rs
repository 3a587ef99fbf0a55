//! `pg_catalog.pg_attrdef`: column defaults. `adbin` holds the default's SQL
//! text, which is also what `pg_get_expr(adbin, adrelid)` returns.

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_attrdef",
    oid: 2604,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", DataType::Oid),
        ("adrelid", DataType::Oid),
        ("adnum", DataType::Int2),
        ("adbin", DataType::Text),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in cat.tables.values() {
        for (i, c) in t.columns.iter().enumerate() {
            // an identity column's sequence is no default (attidentity)
            let identity = cat.identity(t.oid, i).is_some();
            if let (Some(d), false, false) = (&c.default, c.dropped, identity) {
                let num = i as i16 + 1;
                out.push(vec![
                    oid(attrdef_oid(t.oid.0, num)),
                    oid(t.oid.0),
                    i2(num),
                    text(d),
                ]);
            }
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
    fn defaults_as_sql_text() {
        let rows = build(&testing::sample());
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0][3],
            Value::Text("nextval('t_id_seq'::regclass)".into())
        );
        assert_eq!(rows[1][2], Value::Int2(2));
    }
}
