//! `pg_catalog.pg_collation`: `default`, `C` and `POSIX` (tandem compares
//! strings bytewise).

use tandem_types::{DataType, PgResult, Value};

use super::*;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_collation",
    oid: 3456,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    use DataType as T;
    vec![
        ("oid", T::Oid),
        ("collname", T::Name),
        ("collnamespace", T::Oid),
        ("collowner", T::Oid),
        ("collprovider", T::Char),
        ("collisdeterministic", T::Bool),
        ("collencoding", T::Int4),
        ("collcollate", T::Text),
        ("collctype", T::Text),
        ("colllocale", T::Text),
        ("collicurules", T::Text),
        ("collversion", T::Text),
    ]
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let row = |o: u32, n: &str, provider: u8, enc: i32, locale: Option<&str>| {
        vec![
            oid(o),
            name(n),
            oid(PG_CATALOG_NAMESPACE),
            oid(BOOTSTRAP_SUPERUSER),
            ch(provider),
            b(true),
            i4(enc),
            opt_text(locale),
            opt_text(locale),
            Value::Null,
            Value::Null,
            Value::Null,
        ]
    };
    Ok(vec![
        row(DEFAULT_COLLATION, "default", b'd', -1, None),
        row(950, "C", b'c', -1, Some("C")),
        row(951, "POSIX", b'c', -1, Some("POSIX")),
    ])
}
