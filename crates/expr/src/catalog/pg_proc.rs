//! `pg_catalog.pg_proc`: the functions of tandem's registry (name, argument
//! count, volatility), enough for clients that check whether a function exists.

use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_proc",
    oid: 1255,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("proname", T::Name),
        ("pronamespace", T::Oid),
        ("proowner", T::Oid),
        ("prolang", T::Oid),
        ("procost", T::Float4),
        ("prorows", T::Float4),
        ("provariadic", T::Oid),
        ("prosupport", T::Oid),
        ("prokind", T::Char),
        ("prosecdef", T::Bool),
        ("proleakproof", T::Bool),
        ("proisstrict", T::Bool),
        ("proretset", T::Bool),
        ("provolatile", T::Char),
        ("proparallel", T::Char),
        ("pronargs", T::Int2),
        ("pronargdefaults", T::Int2),
        ("prorettype", T::Oid),
        ("proargtypes", T::Array(Box::new(T::Oid))),
        ("prosrc", T::Text),
    ]
}

/// First synthetic `pg_proc` OID.
const PROC_OID_BASE: u32 = 0x4000_0000;

pub fn build() -> Vec<Vec<Value>> {
    crate::functions::function_names()
        .into_iter()
        .enumerate()
        .map(|(i, (fname, nargs))| {
            vec![
                oid(PROC_OID_BASE + i as u32),
                name(fname),
                oid(PG_CATALOG_NAMESPACE),
                oid(BOOTSTRAP_SUPERUSER),
                oid(12),
                Value::Float4(1.0),
                Value::Float4(0.0),
                oid(0),
                oid(0),
                ch(b'f'),
                b(false),
                b(false),
                b(true),
                b(false),
                ch(b'v'),
                ch(b's'),
                i2(nargs as i16),
                i2(0),
                oid(0),
                Value::Array(Vec::new()),
                text(fname),
            ]
        })
        .collect()
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_functions_are_listed() {
        let rows = build();
        assert!(rows.iter().any(|r| r[1] == name("pg_current_wal_lsn")));
        assert!(rows.iter().all(|r| r.len() == columns().len()));
    }
}
