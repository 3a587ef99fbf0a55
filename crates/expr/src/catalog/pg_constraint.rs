//! `pg_catalog.pg_constraint`: primary keys (`contype = 'p'`), UNIQUE
//! constraints (`u`), foreign keys (`f`) and CHECK constraints (`c`).

use tandem_storage::{Catalog, ConstraintKind};
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_constraint",
    oid: 2606,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    let arr = |t: T| T::Array(Box::new(t));
    vec![
        ("oid", T::Oid),
        ("conname", T::Name),
        ("connamespace", T::Oid),
        ("contype", T::Char),
        ("condeferrable", T::Bool),
        ("condeferred", T::Bool),
        ("convalidated", T::Bool),
        ("conrelid", T::Oid),
        ("contypid", T::Oid),
        ("conindid", T::Oid),
        ("conparentid", T::Oid),
        ("confrelid", T::Oid),
        ("confupdtype", T::Char),
        ("confdeltype", T::Char),
        ("confmatchtype", T::Char),
        ("conislocal", T::Bool),
        ("coninhcount", T::Int2),
        ("connoinherit", T::Bool),
        ("conkey", arr(T::Int2)),
        ("confkey", arr(T::Int2)),
        ("conpfeqop", arr(T::Oid)),
        ("conppeqop", arr(T::Oid)),
        ("conffeqop", arr(T::Oid)),
        ("confdelsetcols", arr(T::Int2)),
        ("conexclop", arr(T::Oid)),
        ("conbin", T::Text),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    let mut rows = index_rows(cat);
    for c in cat.constraints.values() {
        let Some(t) = cat.tables.get(&c.table) else {
            continue;
        };
        let attnums =
            |cols: &[usize]| Value::Array(cols.iter().map(|&c| i2(c as i16 + 1)).collect());
        let mut row = vec![
            oid(c.oid.0),
            name(&c.name),
            oid(namespace_oid(cat, &t.schema).unwrap_or(PUBLIC_NAMESPACE)),
        ];
        match &c.kind {
            ConstraintKind::ForeignKey(fk) => {
                row.extend([
                    ch(b'f'),
                    b(false),
                    b(false),
                    b(true),
                    oid(t.oid.0),
                    oid(0),
                    oid(foreign_key_index(fk)),
                    oid(0),
                    oid(fk.ref_table.0),
                    ch(fk.on_update.code()),
                    ch(fk.on_delete.code()),
                    ch(if fk.match_full { b'f' } else { b's' }),
                    b(true),
                    i2(0),
                    b(true),
                    attnums(&fk.columns),
                    attnums(&fk.ref_columns),
                ]);
                row.extend(std::iter::repeat_n(Value::Null, 6));
            }
            ConstraintKind::Check { columns, .. } => {
                row.extend([
                    ch(b'c'),
                    b(false),
                    b(false),
                    b(true),
                    oid(t.oid.0),
                    oid(0),
                    oid(0),
                    oid(0),
                    oid(0),
                    ch(b' '),
                    ch(b' '),
                    ch(b' '),
                    b(true),
                    i2(0),
                    b(false),
                    attnums(columns),
                ]);
                row.extend(std::iter::repeat_n(Value::Null, 7));
            }
        }
        rows.push(row);
    }
    rows
}

/// The rows of the primary key and UNIQUE constraints.
fn index_rows(cat: &Catalog) -> Vec<Vec<Value>> {
    index_views(cat)
        .iter()
        .filter_map(|i| {
            let (con, contype) = i.constraint?;
            let t = i.table;
            let mut row = vec![
                oid(con),
                name(i.name),
                oid(namespace_oid(cat, &t.schema).unwrap_or(PUBLIC_NAMESPACE)),
                ch(contype),
                b(false),
                b(false),
                b(true),
                oid(t.oid.0),
                oid(0),
                oid(i.oid),
                oid(0),
                oid(0),
                ch(b' '),
                ch(b' '),
                ch(b' '),
                b(true),
                i2(0),
                b(true),
                Value::Array(i.columns.iter().map(|c| i2(*c as i16 + 1)).collect()),
            ];
            row.extend(std::iter::repeat_n(Value::Null, 7));
            Some(row)
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_keys() {
        let rows = build(&testing::sample());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], Value::Text("t_pkey".into()));
        assert_eq!(rows[0][18], Value::Array(vec![Value::Int2(1)]));
        assert_eq!(rows[0].len(), columns().len());
    }
}
