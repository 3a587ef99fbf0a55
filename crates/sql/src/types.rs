//! Names to types and identifiers: SQL type names as written in DDL
//! (`character varying(10)`, `serial`, `timestamp with time zone`) to
//! [`DataType`], parameter OIDs from Parse to [`DataType`], and PostgreSQL's
//! identifier folding (PostgreSQL's `parser/parse_type.c`, `scansup.c`).

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};
use std::sync::Arc;

use tandem_expr::ExecContext;
use tandem_storage::{IndexDef, SequenceDef, TableDef, ViewDef};
use tandem_types::{DataType, PgError, PgResult, SqlState};

/// Serial pseudo-types create an owned sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Serial {
    Small,
    Regular,
    Big,
}

impl Serial {
    pub(crate) fn max_value(self) -> i64 {
        match self {
            Serial::Small => i16::MAX as i64,
            Serial::Regular => i32::MAX as i64,
            Serial::Big => i64::MAX,
        }
    }
}

/// Parses a type name (case-insensitive, as sqlparser prints it or as written).
pub(crate) fn parse_type_name(name: &str) -> PgResult<(DataType, Option<Serial>)> {
    let raw = name.trim();
    if let Some(elem) = raw.strip_suffix("[]") {
        let (t, serial) = parse_type_name(elem)?;
        if serial.is_some() {
            return Err(undefined_type(raw));
        }
        return Ok((DataType::Array(Box::new(t)), None));
    }
    if raw == "\"char\"" {
        return Ok((DataType::Char, None));
    }
    let lower = raw.to_ascii_lowercase();
    // pull out "(args)" wherever it is: `timestamp(3) with time zone`
    let (base, args) = match (lower.find('('), lower.rfind(')')) {
        (Some(o), Some(c)) if c > o => {
            let args: Vec<String> = lower[o + 1..c]
                .split(',')
                .map(|a| a.trim().to_string())
                .collect();
            (format!("{} {}", &lower[..o], &lower[c + 1..]), args)
        }
        _ => (lower.clone(), Vec::new()),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = base.trim_start_matches("pg_catalog.");
    let num = |i: usize| -> PgResult<Option<u32>> {
        match args.get(i) {
            None => Ok(None),
            Some(a) => a.parse::<u32>().map(Some).map_err(|_| {
                PgError::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{a}\""),
                )
            }),
        }
    };
    let ty = match base {
        "smallint" | "int2" => DataType::Int2,
        "integer" | "int" | "int4" => DataType::Int4,
        "bigint" | "int8" => DataType::Int8,
        "smallserial" | "serial2" => return Ok((DataType::Int2, Some(Serial::Small))),
        "serial" | "serial4" => return Ok((DataType::Int4, Some(Serial::Regular))),
        "bigserial" | "serial8" => return Ok((DataType::Int8, Some(Serial::Big))),
        "real" | "float4" => DataType::Float4,
        "double precision" | "float8" => DataType::Float8,
        "float" => match num(0)? {
            Some(p) if p == 0 || p > 53 => {
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    if p == 0 {
                        "precision for type float must be at least 1 bit"
                    } else {
                        "precision for type float must be less than 54 bits"
                    },
                ))
            }
            Some(p) if p <= 24 => DataType::Float4,
            _ => DataType::Float8,
        },
        "numeric" | "decimal" | "dec" => match num(0)? {
            None => DataType::Numeric(None),
            Some(p) => {
                let s = num(1)?.unwrap_or(0);
                if p == 0 || p > 1000 {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("NUMERIC precision {p} must be between 1 and 1000"),
                    ));
                }
                if s > p {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("NUMERIC scale {s} must be between 0 and precision {p}"),
                    ));
                }
                DataType::Numeric(Some((p, s)))
            }
        },
        "text" => DataType::Text,
        "varchar" | "character varying" | "char varying" => {
            DataType::Varchar(length(num(0)?, "varchar")?)
        }
        "char" | "character" => DataType::Bpchar(Some(length(num(0)?, "char")?.unwrap_or(1))),
        "bpchar" => DataType::Bpchar(length(num(0)?, "char")?),
        "boolean" | "bool" => DataType::Bool,
        "bytea" => DataType::Bytea,
        "date" => DataType::Date,
        "time" | "time without time zone" => DataType::Time,
        "timestamp" | "timestamp without time zone" => DataType::Timestamp,
        "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
        "interval" => DataType::Interval,
        "name" => DataType::Name,
        "oid" => DataType::Oid,
        "xid" => DataType::Xid,
        "pg_lsn" => DataType::PgLsn,
        "uuid" => DataType::Uuid,
        "json" => DataType::Json,
        "jsonb" => DataType::Jsonb,
        "regclass" => DataType::RegClass,
        "regtype" => DataType::RegType,
        _ => return Err(undefined_type(raw)),
    };
    Ok((ty, None))
}

/// [`parse_type_name`], knowing also the enum types of `cat` (`mood`,
/// `s.mood`, `"Mood"`, `mood[]`, `_mood`; unqualified along `path`, a
/// `search_path`).
pub(crate) fn parse_type_name_in(
    name: &str,
    cat: &tandem_storage::Catalog,
    path: &[String],
) -> PgResult<(DataType, Option<Serial>)> {
    let err = match parse_type_name(name) {
        Err(e) if e.code == SqlState::UNDEFINED_OBJECT => e,
        other => return other,
    };
    // a user's type, found as regtype input finds it
    match tandem_expr::io_text::type_by_name_in(name, cat, path) {
        Some(t) if is_enum(&t) => Ok((t, None)),
        _ => Err(err),
    }
}

/// An enum type or an array of one.
fn is_enum(t: &DataType) -> bool {
    match t {
        DataType::Enum(_) => true,
        DataType::Array(e) => is_enum(e),
        _ => false,
    }
}

fn length(n: Option<u32>, what: &str) -> PgResult<Option<u32>> {
    match n {
        Some(0) => Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("length for type {what} must be at least 1"),
        )),
        n => Ok(n),
    }
}

fn undefined_type(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("type \"{}\" does not exist", name.to_ascii_lowercase()),
    )
}

/// A Parse message's parameter type OID (0: to be inferred).
pub(crate) fn type_from_oid(oid: u32) -> PgResult<DataType> {
    Ok(match oid {
        0 | 705 => DataType::Unknown,
        16 => DataType::Bool,
        17 => DataType::Bytea,
        18 => DataType::Char,
        19 => DataType::Name,
        20 => DataType::Int8,
        21 => DataType::Int2,
        23 => DataType::Int4,
        25 => DataType::Text,
        26 => DataType::Oid,
        28 => DataType::Xid,
        114 => DataType::Json,
        3802 => DataType::Jsonb,
        700 => DataType::Float4,
        701 => DataType::Float8,
        1042 => DataType::Bpchar(None),
        1043 => DataType::Varchar(None),
        1082 => DataType::Date,
        1114 => DataType::Timestamp,
        1184 => DataType::TimestampTz,
        1186 => DataType::Interval,
        1700 => DataType::Numeric(None),
        2205 => DataType::RegClass,
        2206 => DataType::RegType,
        2950 => DataType::Uuid,
        3220 => DataType::PgLsn,
        1000 => DataType::Array(Box::new(DataType::Bool)),
        1005 => DataType::Array(Box::new(DataType::Int2)),
        1007 => DataType::Array(Box::new(DataType::Int4)),
        1009 => DataType::Array(Box::new(DataType::Text)),
        1016 => DataType::Array(Box::new(DataType::Int8)),
        1022 => DataType::Array(Box::new(DataType::Float8)),
        1015 => DataType::Array(Box::new(DataType::Varchar(None))),
        // any other type tandem has (1083 time, 1183 time[], 1185 timestamptz[], ...)
        _ => tandem_expr::io_text::type_by_oid(oid).ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type with OID {oid} does not exist"),
            )
        })?,
    })
}

/// PostgreSQL folds unquoted identifiers to lower case.
pub(crate) fn ident(i: &Ident) -> String {
    match i.quote_style {
        None => i.value.to_lowercase(),
        Some(_) => i.value.clone(),
    }
}

/// A relation's (or type's) name as written: `[schema.]name`, folded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelName {
    pub schema: Option<String>,
    pub name: String,
    /// Where the name starts in the statement (line, column), when parsed
    /// from it: errors about its schema point there.
    pub at: Option<(u64, u64)>,
}

impl RelName {
    /// The name as PostgreSQL's messages show it: `schema.name` when
    /// written so.
    pub(crate) fn shown(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
    /// The schema to look the relation up in (the one written, else the
    /// first on the session's `search_path` that has it).
    pub(crate) fn lookup(&self, ctx: &ExecContext<'_>) -> String {
        ctx.txn
            .catalog()
            .lookup_schema(&search_path(ctx), self.schema.as_deref(), &self.name)
    }
    /// The table of this name.
    pub(crate) fn table(&self, ctx: &ExecContext<'_>) -> Option<Arc<TableDef>> {
        let schema = self.lookup(ctx);
        ctx.txn
            .catalog()
            .table_by_name(&schema, &self.name)
            .cloned()
    }
    /// The view of this name.
    pub(crate) fn view(&self, ctx: &ExecContext<'_>) -> Option<Arc<ViewDef>> {
        let schema = self.lookup(ctx);
        ctx.txn.catalog().view_by_name(&schema, &self.name).cloned()
    }
    /// The sequence of this name.
    pub(crate) fn sequence(&self, ctx: &ExecContext<'_>) -> Option<Arc<SequenceDef>> {
        let schema = self.lookup(ctx);
        ctx.txn
            .catalog()
            .sequence_by_name(&schema, &self.name)
            .cloned()
    }
    /// The secondary index of this name.
    pub(crate) fn index(&self, ctx: &ExecContext<'_>) -> Option<Arc<IndexDef>> {
        let schema = self.lookup(ctx);
        ctx.txn
            .catalog()
            .index_by_name(&schema, &self.name)
            .cloned()
    }
    /// The enum type of this name.
    pub(crate) fn enum_type(&self, ctx: &ExecContext<'_>) -> Option<Arc<tandem_types::EnumType>> {
        ctx.txn
            .catalog()
            .lookup_type(&search_path(ctx), self.schema.as_deref(), &self.name)
            .cloned()
    }
    /// The schema a new relation of this name goes in.
    pub(crate) fn create_in(&self, ctx: &ExecContext<'_>) -> PgResult<String> {
        let cat = ctx.txn.catalog();
        let (role, _) = crate::ddl::acting(ctx);
        let schema = cat
            .creation_schema(&search_path(ctx), self.schema.as_deref())
            .and_then(|s| {
                cat.check_schema_privilege(&s, role, tandem_storage::acl::CREATE)?;
                Ok(s)
            });
        match self.at {
            Some((line, column)) => {
                schema.map_err(|e| e.with_locate(tandem_types::Locate::LineColumn(line, column)))
            }
            None => schema,
        }
    }
}

/// The session's `search_path`, `$user` read as its role, without the
/// schemas the role may not use.
pub(crate) fn search_path(ctx: &ExecContext<'_>) -> Vec<String> {
    let path = tandem_expr::reg::session_search_path(ctx);
    let (role, _) = crate::ddl::acting(ctx);
    ctx.txn.catalog().usable_path(&path, role)
}

/// `[[database.]schema.]name` of a relation.
pub(crate) fn relation_name(name: &ObjectName) -> PgResult<RelName> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(ident(i)),
            ObjectNamePart::Function(_) => Err(PgError::syntax(format!(
                "syntax error at or near \"{name}\""
            ))),
        })
        .collect::<PgResult<_>>()?;
    let mut rel = split_qualified(&parts)?;
    rel.at = name.0.first().and_then(|p| p.as_ident()).map(|i| {
        let start = i.span.start;
        (start.line, start.column)
    });
    Ok(rel)
}

/// Splits already-folded parts into schema and name; a database part must
/// name this database.
pub(crate) fn split_qualified(parts: &[String]) -> PgResult<RelName> {
    match parts {
        [n] => Ok(RelName {
            schema: None,
            name: n.clone(),
            at: None,
        }),
        [s, n] => Ok(RelName {
            schema: Some(s.clone()),
            name: n.clone(),
            at: None,
        }),
        [db, s, n] if db == "postgres" || db == "template1" => Ok(RelName {
            schema: Some(s.clone()),
            name: n.clone(),
            at: None,
        }),
        _ => Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!(
                "cross-database references are not implemented: {}",
                parts.join(".")
            ),
        )),
    }
}

/// A front-parser name (`a`, `public.a`, already folded).
pub(crate) fn front_relation_name(name: &str) -> PgResult<RelName> {
    let parts: Vec<String> = name.split('.').map(str::to_string).collect();
    split_qualified(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::ident::quote_identifier;

    #[test]
    fn ddl_type_names() {
        let t = |s: &str| parse_type_name(s).expect(s);
        assert_eq!(t("INT"), (DataType::Int4, None));
        assert_eq!(t("int8"), (DataType::Int8, None));
        assert_eq!(t("serial"), (DataType::Int4, Some(Serial::Regular)));
        assert_eq!(t("bigserial"), (DataType::Int8, Some(Serial::Big)));
        assert_eq!(t("NUMERIC(10,2)"), (DataType::Numeric(Some((10, 2))), None));
        assert_eq!(t("DECIMAL(5)"), (DataType::Numeric(Some((5, 0))), None));
        assert_eq!(
            t("CHARACTER VARYING(5)"),
            (DataType::Varchar(Some(5)), None)
        );
        assert_eq!(t("CHAR(84)"), (DataType::Bpchar(Some(84)), None));
        assert_eq!(t("CHAR"), (DataType::Bpchar(Some(1)), None));
        assert_eq!(t("TIMESTAMP WITH TIME ZONE"), (DataType::TimestampTz, None));
        assert_eq!(t("TIMESTAMP(3)"), (DataType::Timestamp, None));
        assert_eq!(t("DOUBLE PRECISION"), (DataType::Float8, None));
        assert_eq!(t("FLOAT"), (DataType::Float8, None));
        assert_eq!(t("FLOAT(10)"), (DataType::Float4, None));
        assert_eq!(t("JSONB"), (DataType::Jsonb, None));
        assert_eq!(
            t("INT[]"),
            (DataType::Array(Box::new(DataType::Int4)), None)
        );
        assert_eq!(t("\"char\""), (DataType::Char, None));
        let e = parse_type_name("foo").unwrap_err();
        assert_eq!(e.message, "type \"foo\" does not exist");
    }

    #[test]
    fn qualified_names() {
        let n = front_relation_name("public.t").expect("ok");
        assert_eq!(
            (n.schema.as_deref(), n.name.as_str()),
            (Some("public"), "t")
        );
        assert_eq!(n.shown(), "public.t");
        assert_eq!(front_relation_name("t").expect("ok").schema, None);
        assert!(front_relation_name("a.b.c.d").is_err());
        assert_eq!(quote_identifier("abc_1"), "abc_1");
        assert_eq!(quote_identifier("Abc"), "\"Abc\"");
    }
}
