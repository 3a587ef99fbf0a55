//! `pg_catalog.pg_type`: the built-in types tandem has, with PostgreSQL's OIDs,
//! names, lengths, categories and array links, and the enum types users made
//! (with their arrays).

use tandem_types::{DataType, PgResult, Value};

use super::{
    b, ch, i2, i4, name, oid, View, BOOTSTRAP_SUPERUSER, DEFAULT_COLLATION, PG_CATALOG_NAMESPACE,
    PUBLIC_NAMESPACE,
};
use crate::io_text::builtin_types;
use crate::ExecContext;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_type",
    oid: 1247,
    relkind: b'r',
    columns,
    rows,
};

/// `typnamespace`'s place in a row.
const TYPNAMESPACE: usize = 2;

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("typname", T::Name),
        ("typnamespace", T::Oid),
        ("typowner", T::Oid),
        ("typlen", T::Int2),
        ("typbyval", T::Bool),
        ("typtype", T::Char),
        ("typcategory", T::Char),
        ("typispreferred", T::Bool),
        ("typisdefined", T::Bool),
        ("typdelim", T::Char),
        ("typrelid", T::Oid),
        ("typsubscript", T::Oid),
        ("typelem", T::Oid),
        ("typarray", T::Oid),
        ("typinput", T::Oid),
        ("typoutput", T::Oid),
        ("typreceive", T::Oid),
        ("typsend", T::Oid),
        ("typmodin", T::Oid),
        ("typmodout", T::Oid),
        ("typanalyze", T::Oid),
        ("typalign", T::Char),
        ("typstorage", T::Char),
        ("typnotnull", T::Bool),
        ("typbasetype", T::Oid),
        ("typtypmod", T::Int4),
        ("typndims", T::Int4),
        ("typcollation", T::Oid),
        ("typdefaultbin", T::Text),
        ("typdefault", T::Text),
        ("typacl", T::Array(Box::new(T::Text))),
    ]
}

/// PostgreSQL's internal type name (`int4`, `varchar`, `_int4`).
pub fn type_internal_name(ty: &DataType) -> String {
    match ty {
        T::Bool => "bool".into(),
        T::Int2 => "int2".into(),
        T::Int4 => "int4".into(),
        T::Int8 => "int8".into(),
        T::Float4 => "float4".into(),
        T::Float8 => "float8".into(),
        T::Numeric(_) => "numeric".into(),
        T::Text => "text".into(),
        T::Varchar(_) => "varchar".into(),
        T::Bpchar(_) => "bpchar".into(),
        T::Name => "name".into(),
        T::Bytea => "bytea".into(),
        T::Date => "date".into(),
        T::Time => "time".into(),
        T::Timestamp => "timestamp".into(),
        T::TimestampTz => "timestamptz".into(),
        T::Interval => "interval".into(),
        T::Oid => "oid".into(),
        T::Xid => "xid".into(),
        T::PgLsn => "pg_lsn".into(),
        T::Char => "char".into(),
        T::Json => "json".into(),
        T::Jsonb => "jsonb".into(),
        T::Int2Vector => "int2vector".into(),
        T::OidVector => "oidvector".into(),
        T::Uuid => "uuid".into(),
        T::RegClass => "regclass".into(),
        T::RegType => "regtype".into(),
        T::RegProc => "regproc".into(),
        T::RegNamespace => "regnamespace".into(),
        T::Array(e) => format!("_{}", type_internal_name(e)),
        T::Unknown => "unknown".into(),
        T::Void => "void".into(),
        T::Record => "record".into(),
        T::Enum(t) => t.name.clone(),
    }
}

/// `typcategory`.
pub fn type_category(ty: &DataType) -> u8 {
    match ty {
        T::Bool => b'B',
        T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8 | T::Numeric(_) | T::Oid => b'N',
        T::RegClass | T::RegType | T::RegProc | T::RegNamespace => b'N',
        T::Text | T::Varchar(_) | T::Bpchar(_) | T::Name => b'S',
        T::Date | T::Timestamp | T::TimestampTz => b'D',
        T::Interval | T::Time => b'T',
        T::Array(_) | T::Int2Vector | T::OidVector => b'A',
        T::Char => b'Z',
        T::Unknown => b'X',
        T::Void | T::Record => b'P',
        T::Enum(_) => b'E',
        T::Bytea | T::Json | T::Jsonb | T::Uuid | T::PgLsn | T::Xid => b'U',
    }
}

fn array_of(ty: &DataType) -> u32 {
    let arr = T::Array(Box::new(ty.clone()));
    let o = arr.oid();
    // DataType::oid falls back to text[] for element types without an array type
    if o == 1009 && !matches!(ty, T::Text) {
        0
    } else {
        o
    }
}

fn row(ty: &DataType) -> Vec<Value> {
    let len = ty.typlen();
    let byval = matches!(len, 1 | 2 | 4 | 8) && !matches!(ty, T::Name);
    let typtype = match ty {
        T::Void | T::Record | T::Unknown => b'p',
        T::Enum(_) => b'e',
        _ => b'b',
    };
    // an enum type and its array are the user's (in its schema: `rows`)
    let (namespace, owner) = match ty {
        T::Enum(t) => (PUBLIC_NAMESPACE, t.owner),
        T::Array(e) => match &**e {
            T::Enum(t) => (PUBLIC_NAMESPACE, t.owner),
            _ => (PG_CATALOG_NAMESPACE, BOOTSTRAP_SUPERUSER),
        },
        _ => (PG_CATALOG_NAMESPACE, BOOTSTRAP_SUPERUSER),
    };
    let (elem, arr) = match ty {
        T::Array(e) => (e.oid(), 0),
        t => (0, array_of(t)),
    };
    let align = match len {
        1 => b'c',
        2 => b's',
        4 => b'i',
        8 => b'd',
        _ if matches!(ty, T::Name | T::Uuid) => b'c',
        _ if matches!(ty, T::Array(e) if matches!(**e, T::Enum(_))) => b'i',
        _ if matches!(ty, T::Interval | T::Array(_)) => b'd',
        _ => b'i',
    };
    let collation = match ty {
        T::Text | T::Varchar(_) | T::Bpchar(_) => DEFAULT_COLLATION,
        T::Name => 950,
        _ => 0,
    };
    vec![
        oid(ty.oid()),
        name(&type_internal_name(ty)),
        oid(namespace),
        oid(owner),
        i2(len),
        b(byval),
        ch(typtype),
        ch(type_category(ty)),
        b(matches!(
            ty,
            T::Text | T::Float8 | T::Bool | T::TimestampTz | T::Interval | T::Oid
        )),
        b(true),
        ch(b','),
        oid(0),
        oid(0),
        oid(elem),
        oid(arr),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        oid(0),
        ch(align),
        ch(typstorage(ty, len)),
        b(false),
        oid(0),
        i4(-1),
        i4(0),
        oid(collation),
        Value::Null,
        Value::Null,
        Value::Null,
    ]
}

pub fn build() -> Vec<Vec<Value>> {
    builtin_types().iter().map(row).collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let mut rows = build();
    let cat = ctx.txn.catalog();
    for t in cat.types.values() {
        // the enum type and its array, in the type's schema
        let namespace = cat.schema_oid(&t.schema).map_or(PUBLIC_NAMESPACE, |o| o.0);
        let ty = T::Enum(t.clone());
        for ty in [ty.clone(), T::Array(Box::new(ty))] {
            let mut r = row(&ty);
            r[TYPNAMESPACE] = Value::Oid(namespace);
            rows.push(r);
        }
    }
    Ok(rows)
}

/// `typstorage`: `p` (plain) for fixed-length types, `m` (main) for numeric,
/// `x` (extended) for the other variable-length ones.
pub(crate) fn typstorage(ty: &T, len: i16) -> u8 {
    match (ty, len) {
        (T::Numeric(_), _) => b'm',
        (_, -1) => b'x',
        _ => b'p',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_have_postgres_names_and_array_links() {
        let rows = build();
        let int4 = rows.iter().find(|r| r[0] == Value::Oid(23)).unwrap();
        assert_eq!(int4[1], Value::Text("int4".into()));
        assert_eq!(int4[4], Value::Int2(4));
        assert_eq!(int4[7], Value::Char(b'N'));
        assert_eq!(int4[14], Value::Oid(1007));
        let arr = rows.iter().find(|r| r[0] == Value::Oid(1007)).unwrap();
        assert_eq!(arr[1], Value::Text("_int4".into()));
        assert_eq!(arr[13], Value::Oid(23));
        let lsn = rows.iter().find(|r| r[0] == Value::Oid(3220)).unwrap();
        assert_eq!(lsn[14], Value::Oid(0));
        assert_eq!(rows[0].len(), columns().len());
    }
}
