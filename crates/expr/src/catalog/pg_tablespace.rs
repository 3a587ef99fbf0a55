//! `pg_catalog.pg_tablespace`: `pg_default` and `pg_global`.

use tandem_types::{DataType, PgResult, Value};

use super::*;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_tablespace",
    oid: 1213,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", DataType::Oid),
        ("spcname", DataType::Name),
        ("spcowner", DataType::Oid),
        ("spcacl", DataType::Array(Box::new(DataType::Text))),
        ("spcoptions", DataType::Array(Box::new(DataType::Text))),
    ]
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(vec![
        vec![
            oid(DEFAULT_TABLESPACE),
            name("pg_default"),
            oid(BOOTSTRAP_SUPERUSER),
            Value::Null,
            Value::Null,
        ],
        vec![
            oid(1664),
            name("pg_global"),
            oid(BOOTSTRAP_SUPERUSER),
            Value::Null,
            Value::Null,
        ],
    ])
}
