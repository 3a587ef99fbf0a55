//! `pg_catalog.pg_extension`: `plpgsql`, which every PostgreSQL database has.

use tandem_types::{DataType, PgResult, Value};

use super::*;

/// `pg_extension.oid` of `plpgsql`.
pub const PLPGSQL_OID: u32 = 13_566;

/// Its `pg_description` comment (what `\dx` shows).
pub const PLPGSQL_DESCRIPTION: &str = "PL/pgSQL procedural language";

/// The objects that belong to `plpgsql` (its `pg_depend` rows of type
/// `e`, what `\dx+` lists): catalog oid, object oid, description.
pub const PLPGSQL_MEMBERS: [(u32, u32, &str); 4] = [
    (PG_PROC, PLPGSQL_OID + 1, "function plpgsql_call_handler()"),
    (
        PG_PROC,
        PLPGSQL_OID + 2,
        "function plpgsql_inline_handler(internal)",
    ),
    (PG_PROC, PLPGSQL_OID + 3, "function plpgsql_validator(oid)"),
    (PG_LANGUAGE, PLPGSQL_OID + 4, "language plpgsql"),
];
const PG_PROC: u32 = 1255;
const PG_LANGUAGE: u32 = 2612;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_extension",
    oid: 3079,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    use DataType as T;
    vec![
        ("oid", T::Oid),
        ("extname", T::Name),
        ("extowner", T::Oid),
        ("extnamespace", T::Oid),
        ("extrelocatable", T::Bool),
        ("extversion", T::Text),
        ("extconfig", T::Array(Box::new(T::Oid))),
        ("extcondition", T::Array(Box::new(T::Text))),
    ]
}

fn rows(_: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(vec![vec![
        oid(PLPGSQL_OID),
        name("plpgsql"),
        oid(BOOTSTRAP_SUPERUSER),
        oid(PG_CATALOG_NAMESPACE),
        b(false),
        text("1.0"),
        Value::Null,
        Value::Null,
    ]])
}
