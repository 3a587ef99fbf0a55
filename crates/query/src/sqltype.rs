//! SQL type names: sqlparser's `DataType` to tandem's [`DataType`], and the
//! internal type names PostgreSQL uses as output column names of casts
//! (`SELECT 1::int` is named `int4`).
//!
//! Corresponds to PostgreSQL's `parser/parse_type.c` (typenameType) and the type
//! aliases of `gram.y`.

use sqlparser::ast::{
    self, ArrayElemTypeDef, CharacterLength, ExactNumberInfo, ObjectNamePart, TimezoneInfo,
};
use tandem_storage::Catalog;
use tandem_types::{DataType, PgError, PgResult, SqlState};

fn char_len(l: &Option<CharacterLength>) -> Option<u32> {
    match l {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
        _ => None,
    }
}

fn numeric(info: &ExactNumberInfo) -> DataType {
    match info {
        ExactNumberInfo::None => DataType::Numeric(None),
        ExactNumberInfo::Precision(p) => DataType::Numeric(Some((*p as u32, 0))),
        ExactNumberInfo::PrecisionAndScale(p, s) => {
            DataType::Numeric(Some((*p as u32, (*s).max(0) as u32)))
        }
    }
}

/// Converts a type name as parsed to tandem's type: a builtin one, or an
/// enum type of `cat` (an unqualified name looked up along `path`, a
/// `search_path`). Unknown names: `42704 type "x" does not exist`.
pub fn convert_type(dt: &ast::DataType, cat: &Catalog, path: &[String]) -> PgResult<DataType> {
    convert(dt, Some((cat, path))).map_err(|e| at_type_name(e, dt))
}

/// A type name's error (no such type, no such schema) pointed at the name,
/// as PostgreSQL points at it.
pub fn at_type_name(err: PgError, dt: &ast::DataType) -> PgError {
    let unresolved = matches!(
        err.code,
        SqlState::UNDEFINED_OBJECT | SqlState::INVALID_SCHEMA_NAME
    );
    let first = match dt {
        ast::DataType::Custom(name, _) => name.0.first().and_then(|p| p.as_ident()),
        _ => None,
    };
    match first {
        Some(id) if unresolved => err.pointed_at(tandem_types::Locate::LineColumn(
            id.span.start.line,
            id.span.start.column,
        )),
        _ => err,
    }
}

/// The output column name of a cast to `dt` (`SELECT 1::int` is `int4`): the
/// internal name of a builtin type, the name of any other.
pub fn cast_column_name(dt: &ast::DataType) -> Option<String> {
    match convert(dt, None) {
        Ok(t) => Some(internal_name(&t)),
        Err(_) => match dt {
            ast::DataType::Custom(name, _) => match name.0.last() {
                Some(ObjectNamePart::Identifier(id)) if id.quote_style.is_some() => {
                    Some(id.value.clone())
                }
                Some(ObjectNamePart::Identifier(id)) => Some(id.value.to_lowercase()),
                _ => None,
            },
            _ => None,
        },
    }
}

fn convert(dt: &ast::DataType, cat: Option<(&Catalog, &[String])>) -> PgResult<DataType> {
    use ast::DataType as A;
    Ok(match dt {
        A::Character(l) | A::Char(l) => DataType::Bpchar(Some(char_len(l).unwrap_or(1))),
        A::CharacterVarying(l) | A::CharVarying(l) | A::Varchar(l) | A::Nvarchar(l) => {
            DataType::Varchar(char_len(l))
        }
        A::Uuid => DataType::Uuid,
        A::Numeric(i) | A::Decimal(i) | A::Dec(i) => numeric(i),
        A::Float(i) => match i {
            ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Float4,
            _ => DataType::Float8,
        },
        A::Int2(_) | A::SmallInt(_) => DataType::Int2,
        A::Int(_) | A::Int4(_) | A::Integer(_) => DataType::Int4,
        A::Int8(_) | A::BigInt(_) => DataType::Int8,
        A::Float4 | A::Real => DataType::Float4,
        A::Float8 | A::Double(_) | A::DoublePrecision => DataType::Float8,
        A::Bool | A::Boolean => DataType::Bool,
        A::Date => DataType::Date,
        A::Timestamp(_, tz) => match tz {
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => DataType::TimestampTz,
            _ => DataType::Timestamp,
        },
        A::Time(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
            return Err(PgError::unsupported("type time with time zone"))
        }
        A::Time(..) => DataType::Time,
        A::Interval { .. } => DataType::Interval,
        A::JSON => DataType::Json,
        A::JSONB => DataType::Jsonb,
        A::Regclass => DataType::RegClass,
        A::Text => DataType::Text,
        A::Bytea => DataType::Bytea,
        A::Array(elem) => match elem {
            ArrayElemTypeDef::SquareBracket(t, _)
            | ArrayElemTypeDef::AngleBracket(t)
            | ArrayElemTypeDef::Parenthesis(t) => DataType::Array(Box::new(convert(t, cat)?)),
            _ => return Err(PgError::unsupported(format!("type {dt}"))),
        },
        A::Custom(name, mods) => {
            let Some(ObjectNamePart::Identifier(last)) = name.0.last() else {
                return Err(PgError::unsupported(format!("type {dt}")));
            };
            let quoted = last.quote_style.is_some();
            let n = if quoted {
                last.value.clone()
            } else {
                last.value.to_lowercase()
            };
            let len = mods.first().and_then(|m| m.parse::<u32>().ok());
            match n.as_str() {
                "char" if quoted => DataType::Char,
                "int2" | "smallint" => DataType::Int2,
                "int4" | "integer" | "int" => DataType::Int4,
                "int8" | "bigint" => DataType::Int8,
                "float4" => DataType::Float4,
                "float8" => DataType::Float8,
                "bool" | "boolean" => DataType::Bool,
                "name" => DataType::Name,
                "oid" => DataType::Oid,
                "xid" => DataType::Xid,
                "pg_lsn" => DataType::PgLsn,
                "regclass" => DataType::RegClass,
                "regtype" => DataType::RegType,
                "regproc" => DataType::RegProc,
                "regnamespace" => DataType::RegNamespace,
                "timestamptz" => DataType::TimestampTz,
                "timestamp" => DataType::Timestamp,
                "varchar" => DataType::Varchar(len),
                "bpchar" => DataType::Bpchar(len),
                "text" => DataType::Text,
                "json" => DataType::Json,
                "jsonb" => DataType::Jsonb,
                "uuid" => DataType::Uuid,
                "numeric" | "decimal" => DataType::Numeric(None),
                "record" => DataType::Record,
                "void" => DataType::Void,
                "date" => DataType::Date,
                "time" => DataType::Time,
                "interval" => DataType::Interval,
                "bytea" => DataType::Bytea,
                _ => match cat.and_then(|(c, path)| {
                    let schema = schema_of(&name.0);
                    match &schema {
                        Some(s) if c.schema_oid(s).is_none() => Some(Err(s.clone())),
                        _ => c.lookup_type(path, schema.as_deref(), &n).map(Ok),
                    }
                }) {
                    Some(Ok(t)) => DataType::Enum(t.clone()),
                    Some(Err(schema)) => {
                        return Err(PgError::new(
                            SqlState::INVALID_SCHEMA_NAME,
                            format!("schema \"{schema}\" does not exist"),
                        ));
                    }
                    None => {
                        return Err(PgError::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("type \"{n}\" does not exist"),
                        ));
                    }
                },
            }
        }
        other => return Err(PgError::unsupported(format!("type {other}"))),
    })
}

/// The schema a type name names, if it names one.
fn schema_of(parts: &[ObjectNamePart]) -> Option<String> {
    match parts {
        [ObjectNamePart::Identifier(s), _] if s.quote_style.is_some() => Some(s.value.clone()),
        [ObjectNamePart::Identifier(s), _] => Some(s.value.to_lowercase()),
        _ => None,
    }
}

/// PostgreSQL's internal name of a type (`typname`), used as the output column
/// name of a cast.
pub fn internal_name(ty: &DataType) -> String {
    match ty {
        DataType::Bool => "bool",
        DataType::Int2 => "int2",
        DataType::Int4 => "int4",
        DataType::Int8 => "int8",
        DataType::Float4 => "float4",
        DataType::Float8 => "float8",
        DataType::Numeric(_) => "numeric",
        DataType::Text => "text",
        DataType::Varchar(_) => "varchar",
        DataType::Bpchar(_) => "bpchar",
        DataType::Name => "name",
        DataType::Bytea => "bytea",
        DataType::Date => "date",
        DataType::Time => "time",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamptz",
        DataType::Interval => "interval",
        DataType::Oid => "oid",
        DataType::Xid => "xid",
        DataType::PgLsn => "pg_lsn",
        DataType::Char => "char",
        DataType::Json => "json",
        DataType::Jsonb => "jsonb",
        DataType::Int2Vector => "int2vector",
        DataType::OidVector => "oidvector",
        DataType::Uuid => "uuid",
        DataType::RegClass => "regclass",
        DataType::RegType => "regtype",
        DataType::RegProc => "regproc",
        DataType::RegNamespace => "regnamespace",
        DataType::Array(e) => return internal_name(e),
        DataType::Unknown => "unknown",
        DataType::Void => "void",
        DataType::Record => "record",
        DataType::Enum(t) => return t.name.clone(),
    }
    .to_string()
}

/// The type without modifiers (`varchar(3)` -> `varchar`): what an unknown literal
/// or parameter becomes when it meets a column of type `ty` in an operator.
pub fn base_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Bpchar(_) => DataType::Bpchar(None),
        DataType::Numeric(_) => DataType::Numeric(None),
        other => other.clone(),
    }
}

/// The type category for operator/UNION resolution.
pub fn is_numeric(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric(_)
    )
}

pub fn is_string(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Text | DataType::Varchar(_) | DataType::Bpchar(_) | DataType::Name
    )
}

/// The common type of CASE branches, COALESCE, UNION columns, ARRAY elements
/// (PostgreSQL's `select_common_type`, simplified): unknown yields to any known
/// type; numeric types widen; string types become text.
pub fn common_type(types: &[DataType]) -> PgResult<DataType> {
    let mut out = DataType::Unknown;
    for t in types {
        if *t == DataType::Unknown {
            continue;
        }
        if out == DataType::Unknown {
            out = t.clone();
            continue;
        }
        if base_type(&out) == base_type(t) {
            if out != *t {
                out = base_type(t);
            }
            continue;
        }
        if is_numeric(&out) && is_numeric(t) {
            out = wider_numeric(&out, t);
            continue;
        }
        if is_string(&out) && is_string(t) {
            out = DataType::Text;
            continue;
        }
        if matches!(
            (&out, t),
            (DataType::Timestamp, DataType::TimestampTz)
                | (DataType::TimestampTz, DataType::Timestamp)
        ) {
            out = DataType::TimestampTz;
            continue;
        }
        if matches!(
            (&out, t),
            (DataType::Date, DataType::Timestamp | DataType::TimestampTz)
        ) {
            out = t.clone();
            continue;
        }
        if matches!(
            (t, &out),
            (DataType::Date, DataType::Timestamp | DataType::TimestampTz)
        ) {
            continue;
        }
        if matches!(
            out,
            DataType::Oid
                | DataType::RegClass
                | DataType::RegType
                | DataType::RegProc
                | DataType::RegNamespace
        ) && matches!(
            t,
            DataType::Oid
                | DataType::RegClass
                | DataType::RegType
                | DataType::RegProc
                | DataType::RegNamespace
                | DataType::Int4
                | DataType::Int8
        ) {
            out = DataType::Oid;
            continue;
        }
        return Err(PgError::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "types {} and {} cannot be matched",
                out.display_name(),
                t.display_name()
            ),
        ));
    }
    Ok(out)
}

fn numeric_rank(t: &DataType) -> u8 {
    match t {
        DataType::Int2 => 1,
        DataType::Int4 => 2,
        DataType::Int8 => 3,
        DataType::Numeric(_) => 4,
        DataType::Float4 => 5,
        _ => 6,
    }
}

fn wider_numeric(a: &DataType, b: &DataType) -> DataType {
    if numeric_rank(a) >= numeric_rank(b) {
        base_type(a)
    } else {
        base_type(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types_follow_postgres() {
        assert_eq!(
            common_type(&[DataType::Int4, DataType::Int8]).unwrap(),
            DataType::Int8
        );
        assert_eq!(
            common_type(&[DataType::Unknown, DataType::Int4]).unwrap(),
            DataType::Int4
        );
        assert_eq!(
            common_type(&[DataType::Int4, DataType::Numeric(None)]).unwrap(),
            DataType::Numeric(None)
        );
        assert_eq!(
            common_type(&[DataType::Varchar(Some(3)), DataType::Text]).unwrap(),
            DataType::Text
        );
        assert_eq!(
            common_type(&[DataType::Unknown, DataType::Unknown]).unwrap(),
            DataType::Unknown
        );
        let err = common_type(&[DataType::Int4, DataType::Text]).unwrap_err();
        assert_eq!(err.message, "types integer and text cannot be matched");
    }

    #[test]
    fn cast_names_are_internal_type_names() {
        assert_eq!(internal_name(&DataType::Int4), "int4");
        assert_eq!(internal_name(&DataType::TimestampTz), "timestamptz");
        assert_eq!(internal_name(&DataType::Varchar(Some(3))), "varchar");
    }
}
