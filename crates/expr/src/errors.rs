//! The errors the scalar world raises, worded exactly as PostgreSQL words them.
//!
//! One constructor per message so that every caller spells it the same way.

use tandem_types::{DataType, PgError, SqlState};

/// `22P02 invalid input syntax for type integer: "abc"`.
pub fn invalid_syntax(type_name: &str, text: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

/// `22003 value "99999999999" is out of range for type integer`.
pub fn value_out_of_range(text: &str, type_name: &str) -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("value \"{text}\" is out of range for type {type_name}"),
    )
}

/// `22003 integer out of range` / `bigint out of range` / `smallint out of range`.
pub fn int_out_of_range(ty: &DataType) -> PgError {
    let what = match ty {
        DataType::Int2 => "smallint",
        DataType::Int8 => "bigint",
        DataType::Oid => "OID",
        _ => "integer",
    };
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{what} out of range"),
    )
}

/// `22003 value out of range: overflow` (float arithmetic).
pub fn float_overflow() -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: overflow",
    )
}

/// `22003 value out of range: underflow` (float arithmetic).
pub fn float_underflow() -> PgError {
    PgError::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: underflow",
    )
}

pub fn division_by_zero() -> PgError {
    PgError::new(SqlState::DIVISION_BY_ZERO, "division by zero")
}

/// `22001 value too long for type character varying(3)`.
pub fn too_long(ty: &DataType) -> PgError {
    PgError::new(
        SqlState::STRING_DATA_RIGHT_TRUNCATION,
        format!("value too long for type {}", ty.display_name()),
    )
}

/// `42846 cannot cast type integer to date`.
pub fn cannot_cast(from: &DataType, to: &DataType) -> PgError {
    PgError::new(
        SqlState("42846"),
        format!("cannot cast type {} to {}", type_name(from), type_name(to)),
    )
}

/// A type's name in operator/function messages: no type modifiers
/// (`character varying`, not `character varying(3)`).
pub fn type_name(ty: &DataType) -> String {
    match ty {
        DataType::Varchar(_) => "character varying".into(),
        DataType::Bpchar(_) => "character".into(),
        DataType::Numeric(_) => "numeric".into(),
        DataType::Array(e) => format!("{}[]", type_name(e)),
        other => other.display_name(),
    }
}

/// `22021 invalid byte sequence for encoding "UTF8": 0xc3 0x28`.
pub fn invalid_utf8(bytes: &[u8]) -> PgError {
    let shown: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    PgError::new(
        SqlState::CHARACTER_NOT_IN_REPERTOIRE,
        format!(
            "invalid byte sequence for encoding \"UTF8\": {}",
            shown.join(" ")
        ),
    )
}

/// `42883 function foo(integer) does not exist` with PostgreSQL's hint.
pub fn undefined_function(name: &str, args: &[DataType]) -> PgError {
    let list: Vec<String> = args.iter().map(type_name).collect();
    PgError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", list.join(", ")),
    )
    .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}
