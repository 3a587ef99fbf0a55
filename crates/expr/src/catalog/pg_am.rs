//! `pg_catalog.pg_am`: access methods (`heap` for tables, `btree` for the
//! primary-key indexes).

use tandem_types::{DataType, PgResult, Value};

use super::*;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_am",
    oid: 2601,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", DataType::Oid),
        ("amname", DataType::Name),
        ("amhandler", DataType::Oid),
        ("amtype", DataType::Char),
    ]
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(vec![
        vec![oid(HEAP_AM), name("heap"), oid(3), ch(b't')],
        vec![oid(BTREE_AM), name("btree"), oid(330), ch(b'i')],
        vec![oid(405), name("hash"), oid(331), ch(b'i')],
    ])
}
