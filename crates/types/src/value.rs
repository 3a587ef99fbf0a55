//! SQL datums ([`Value`]) and types ([`DataType`]).
//!
//! Every layer agrees on this representation: the executor computes with it, the
//! storage layer keeps rows as `Vec<Value>` and serializes them into WAL, and the
//! wire layer prints them in text or binary format. Type OIDs are PostgreSQL's, so
//! clients (`RowDescription`) and catalog queries see the types they expect.
//!
//! Text output follows PostgreSQL's output functions (`t`/`f` for booleans, `\x..`
//! hex for bytea, shortest round-trip floats, ISO dates).

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::ids::Lsn;
use crate::EnumType;

/// A SQL type. Type modifiers that matter for semantics are kept
/// (`varchar(n)`, `char(n)`, `numeric(p,s)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` is unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    Text,
    /// `varchar(n)`; `None` is unbounded.
    Varchar(Option<u32>),
    /// `char(n)` (blank-padded).
    Bpchar(Option<u32>),
    /// PostgreSQL's `name` (63-byte identifiers in catalogs).
    Name,
    Bytea,
    Date,
    /// `time without time zone`: microseconds since midnight.
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Oid,
    /// Transaction id (`xid`), shown in `pg_replication_slots.xmin`.
    Xid,
    PgLsn,
    /// `"char"`, the one-byte internal type of catalogs (`relkind`, `srsubstate`).
    Char,
    Json,
    /// `jsonb`: held as the text of its normal form.
    Jsonb,
    /// `int2vector` and `oidvector` (`pg_index.indkey`, `indclass`): held
    /// as arrays, printed as space-separated lists.
    Int2Vector,
    OidVector,
    Uuid,
    /// `regclass`, `regtype`, `regproc`: an OID printed as a name.
    RegClass,
    RegType,
    RegProc,
    /// `regnamespace`: a schema OID printed as its name.
    RegNamespace,
    /// One-dimensional arrays.
    Array(Box<DataType>),
    /// A literal whose type is still to be decided (`'abc'` before coercion).
    Unknown,
    /// `void`, the result of functions that return nothing (`pg_sleep`).
    Void,
    /// A composite/record value (row constructors).
    Record,
    /// A type made by `CREATE TYPE ... AS ENUM`.
    Enum(Arc<EnumType>),
}

impl DataType {
    /// PostgreSQL's type OID.
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Bytea => 17,
            DataType::Char => 18,
            DataType::Name => 19,
            DataType::Int8 => 20,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::RegProc => 24,
            DataType::RegNamespace => 4089,
            DataType::Text => 25,
            DataType::Oid => 26,
            DataType::Xid => 28,
            DataType::Json => 114,
            DataType::Jsonb => 3802,
            DataType::Int2Vector => 22,
            DataType::OidVector => 30,
            DataType::Float4 => 700,
            DataType::Float8 => 701,
            DataType::Unknown => 705,
            DataType::Bpchar(_) => 1042,
            DataType::Varchar(_) => 1043,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Numeric(_) => 1700,
            DataType::RegClass => 2205,
            DataType::RegType => 2206,
            DataType::Uuid => 2950,
            DataType::Record => 2249,
            DataType::Void => 2278,
            DataType::PgLsn => 3220,
            DataType::Enum(t) => t.oid,
            DataType::Array(elem) => match &**elem {
                DataType::Enum(t) => t.array_oid,
                DataType::Bool => 1000,
                DataType::Bytea => 1001,
                DataType::Char => 1002,
                DataType::Name => 1003,
                DataType::Int2 => 1005,
                DataType::Int4 => 1007,
                DataType::Text => 1009,
                DataType::Bpchar(_) => 1014,
                DataType::Varchar(_) => 1015,
                DataType::Int8 => 1016,
                DataType::Float4 => 1021,
                DataType::Float8 => 1022,
                DataType::Oid => 1028,
                DataType::Timestamp => 1115,
                DataType::Date => 1182,
                DataType::Time => 1183,
                DataType::TimestampTz => 1185,
                DataType::Numeric(_) => 1231,
                DataType::Json => 199,
                DataType::Jsonb => 3807,
                _ => 1009,
            },
        }
    }

    /// `RowDescription` type length (`typlen`): -1 for varlena types.
    pub fn typlen(&self) -> i16 {
        match self {
            DataType::Bool | DataType::Char => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Oid | DataType::Xid | DataType::Date => 4,
            DataType::RegClass | DataType::RegType | DataType::RegProc | DataType::RegNamespace => {
                4
            }
            DataType::Int8
            | DataType::Float8
            | DataType::Time
            | DataType::Timestamp
            | DataType::TimestampTz => 8,
            DataType::PgLsn => 8,
            DataType::Name => 64,
            DataType::Interval | DataType::Uuid => 16,
            DataType::Void | DataType::Enum(_) => 4,
            _ => -1,
        }
    }

    /// `RowDescription` type modifier (`atttypmod`): -1 when none.
    pub fn typmod(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Bpchar(Some(n)) => *n as i32 + 4,
            DataType::Numeric(Some((p, s))) => (((*p as i32) << 16) | *s as i32) + 4,
            _ => -1,
        }
    }

    /// The type's name as `format_type` prints it (`integer`, `character varying(10)`).
    pub fn display_name(&self) -> String {
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Bpchar(None) => "character".into(),
            DataType::Bpchar(Some(n)) => format!("character({n})"),
            DataType::Name => "name".into(),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Oid => "oid".into(),
            DataType::Xid => "xid".into(),
            DataType::PgLsn => "pg_lsn".into(),
            DataType::Char => "\"char\"".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Int2Vector => "int2vector".into(),
            DataType::OidVector => "oidvector".into(),
            DataType::Uuid => "uuid".into(),
            DataType::RegClass => "regclass".into(),
            DataType::RegType => "regtype".into(),
            DataType::RegProc => "regproc".into(),
            DataType::RegNamespace => "regnamespace".into(),
            DataType::Array(e) => format!("{}[]", e.display_name()),
            DataType::Unknown => "unknown".into(),
            DataType::Void => "void".into(),
            DataType::Record => "record".into(),
            DataType::Enum(t) => t.display_name(),
        }
    }
}

/// A SQL datum. `Null` is SQL NULL of any type.
///
/// Dates and timestamps are stored as PostgreSQL stores them: days / microseconds
/// since 2000-01-01 (UTC for `timestamptz`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Decimal),
    /// text, varchar, bpchar, name, json, uuid (as text), unknown literals
    Text(String),
    Bytea(Vec<u8>),
    /// days since 2000-01-01
    Date(i32),
    /// microseconds since midnight (`time`, 0..=24:00:00)
    Time(i64),
    /// microseconds since 2000-01-01 00:00:00
    Timestamp(i64),
    /// microseconds since 2000-01-01 00:00:00 UTC
    TimestampTz(i64),
    /// months, days, microseconds
    Interval(i32, i32, i64),
    Oid(u32),
    Xid(u32),
    PgLsn(Lsn),
    /// `"char"`
    Char(u8),
    Array(Vec<Value>),
    Record(Vec<Value>),
    /// A label of an enum type: its sort order (what comparisons use) and
    /// its name (what is printed). See [`crate::enum_type`].
    Enum(f32, Arc<str>),
    /// A `numeric` that is not a finite number (`Numeric` holds the finite ones).
    NumericSpecial(NumericSpecial),
}

/// The `numeric` values that are not numbers, in their sort order: below
/// every number, above every number, above that (PostgreSQL sorts NaN last
/// and makes it equal to itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NumericSpecial {
    NegInfinity,
    Infinity,
    NaN,
}

impl NumericSpecial {
    /// Its text form (`numeric_out`).
    pub fn text(self) -> &'static str {
        match self {
            NumericSpecial::NegInfinity => "-Infinity",
            NumericSpecial::Infinity => "Infinity",
            NumericSpecial::NaN => "NaN",
        }
    }

    /// The same as a float.
    pub fn to_f64(self) -> f64 {
        match self {
            NumericSpecial::NegInfinity => f64::NEG_INFINITY,
            NumericSpecial::Infinity => f64::INFINITY,
            NumericSpecial::NaN => f64::NAN,
        }
    }

    /// The special value a float that is not finite stands for.
    pub fn of_f64(f: f64) -> Option<NumericSpecial> {
        if f.is_nan() {
            Some(NumericSpecial::NaN)
        } else if f == f64::INFINITY {
            Some(NumericSpecial::Infinity)
        } else if f == f64::NEG_INFINITY {
            Some(NumericSpecial::NegInfinity)
        } else {
            None
        }
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The memory the value holds, roughly: its own size and what it points
    /// to (allocator overheads aside). For budgets, not accounting.
    pub fn mem_size(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Text(s) => s.capacity(),
                Value::Bytea(b) => b.capacity(),
                Value::Enum(_, l) => l.len(),
                Value::Array(v) | Value::Record(v) => v.iter().map(Value::mem_size).sum(),
                _ => 0,
            }
    }
}
