//! Text input and output functions (`typinput` / `typoutput`) for every type.
//!
//! `text_in` parses what a client or a literal wrote into a [`Value`] of the
//! requested type, with PostgreSQL's error texts; `text_out` prints a value the
//! way PostgreSQL's output function does. The shapes of composite text (array
//! literals `{1,"a b",NULL}` and records `(1,"a b",)`) live here too.
//! Corresponds to the `*in`/`*out` functions of PostgreSQL's `utils/adt/`
//! (`int.c`, `bool.c`, `varlena.c`, `arrayfuncs.c`, `rowtypes.c`, `uuid.c`, ...).

use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, Value};

use crate::errors::{invalid_syntax, too_long, value_out_of_range};
use crate::{datetime, float, numeric};

/// PostgreSQL's NAMEDATALEN - 1.
pub const NAME_MAX_BYTES: usize = 63;

/// Checks that `bytes` are valid UTF-8, failing as PostgreSQL does:
/// `22021 invalid byte sequence for encoding "UTF8": 0xc3 0x28`.
pub fn validate_utf8(bytes: &[u8]) -> PgResult<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if let Some(pos) = s.bytes().position(|b| b == 0) {
                return Err(crate::errors::invalid_utf8(&bytes[pos..pos + 1]));
            }
            Ok(s)
        }
        Err(e) => {
            let at = e.valid_up_to();
            let lead = bytes[at];
            let want = match lead {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            let end = (at + want).min(bytes.len());
            Err(crate::errors::invalid_utf8(&bytes[at..end]))
        }
    }
}

/// Parses an integer as PostgreSQL 16+ does: surrounding spaces, a sign, decimal
/// digits with `_` separators, or `0x`/`0o`/`0b` prefixes.
fn parse_int(text: &str, min: i128, max: i128, type_name: &str) -> PgResult<i128> {
    let syntax = || invalid_syntax(type_name, text);
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    // Plain decimal digits (nearly every value a client sends): no copy.
    if !body.is_empty() && body.len() <= 30 && body.bytes().all(|c| c.is_ascii_digit()) {
        let v = body
            .bytes()
            .fold(0i128, |v, c| v * 10 + i128::from(c - b'0'));
        let v = if neg { -v } else { v };
        if v < min || v > max {
            return Err(value_out_of_range(text, type_name));
        }
        return Ok(v);
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r)
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(syntax());
    }
    let mut v: i128 = 0;
    let mut overflow = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or_else(syntax)? as i128;
        if !overflow {
            v = v * radix as i128 + d;
            if v > (1i128 << 70) {
                overflow = true;
            }
        }
    }
    let v = if neg { -v } else { v };
    if overflow || v < min || v > max {
        return Err(value_out_of_range(text, type_name));
    }
    Ok(v)
}

/// `boolin`: `t`, `true`, `yes`, `on`, `1` and their negatives, any unique prefix.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return None;
    }
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// Applies a `varchar(n)` / `char(n)` length as the input function does: extra
/// characters are allowed only if they are spaces (they are dropped).
pub fn fit_length(s: &str, ty: &DataType, explicit: bool) -> PgResult<String> {
    let (limit, pad) = match ty {
        DataType::Varchar(Some(n)) => (*n as usize, false),
        DataType::Bpchar(Some(n)) => (*n as usize, true),
        DataType::Name => return Ok(truncate_name(s)),
        _ => return Ok(s.to_string()),
    };
    let count = s.chars().count();
    if count > limit {
        let cut = s
            .char_indices()
            .nth(limit)
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        if !explicit && !s[cut..].chars().all(|c| c == ' ') {
            return Err(too_long(ty));
        }
        return Ok(s[..cut].to_string());
    }
    if pad && count < limit {
        const SPACES: &str = "                                "; // 32
        let mut out = String::with_capacity(s.len() + (limit - count));
        out.push_str(s);
        let mut n = limit - count;
        while n > 0 {
            let m = n.min(SPACES.len());
            out.push_str(&SPACES[..m]);
            n -= m;
        }
        return Ok(out);
    }
    Ok(s.to_string())
}

/// `name` keeps at most 63 bytes (cut at a character boundary).
pub fn truncate_name(s: &str) -> String {
    if s.len() <= NAME_MAX_BYTES {
        return s.to_string();
    }
    let mut end = NAME_MAX_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `byteain`: `\x` hex (whitespace between digit pairs allowed) or escape format.
pub fn parse_bytea(text: &str) -> PgResult<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(h) = chars.next() {
            let hi = h.to_digit(16).ok_or_else(|| bad_hex(h))?;
            let l = chars.next().ok_or_else(|| {
                PgError::new(
                    SqlState::INVALID_TEXT_REPRESENTATION,
                    "invalid hexadecimal data: odd number of digits",
                )
            })?;
            let lo = l.to_digit(16).ok_or_else(|| bad_hex(l))?;
            out.push((hi * 16 + lo) as u8);
        }
        return Ok(out);
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(PgError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid input syntax for type bytea",
            ));
        }
    }
    Ok(out)
}

fn bad_hex(c: char) -> PgError {
    PgError::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid hexadecimal digit: \"{c}\""),
    )
}

/// `byteaout` with `bytea_output = hex`.
pub fn format_bytea(b: &[u8], out: &mut String) {
    out.push_str("\\x");
    for byte in b {
        out.push_str(&format!("{byte:02x}"));
    }
}

/// `uuid_in`: 32 hex digits, optionally in braces, hyphens after any group of four.
pub fn parse_uuid(text: &str) -> PgResult<[u8; 16]> {
    let err = || invalid_syntax("uuid", text);
    let mut t = text;
    if let Some(inner) = t.strip_prefix('{') {
        t = inner.strip_suffix('}').ok_or_else(err)?;
    }
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut since_hyphen = 0;
    let mut prev_hyphen = false;
    for c in t.chars() {
        if c == '-' {
            if n == 0 || prev_hyphen || since_hyphen % 4 != 0 || n == 32 {
                return Err(err());
            }
            prev_hyphen = true;
            since_hyphen = 0;
            continue;
        }
        let d = c.to_digit(16).ok_or_else(err)? as u8;
        if n >= 32 {
            return Err(err());
        }
        out[n / 2] = if n % 2 == 0 { d << 4 } else { out[n / 2] | d };
        n += 1;
        since_hyphen += 1;
        prev_hyphen = false;
    }
    if n != 32 || prev_hyphen {
        return Err(err());
    }
    Ok(out)
}

pub fn format_uuid(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `charin`: the first byte, or `\ooo` octal.
fn parse_char(text: &str) -> u8 {
    let b = text.as_bytes();
    if b.len() == 4 && b[0] == b'\\' && b[1..].iter().all(|c| (b'0'..=b'7').contains(c)) {
        return ((b[1] - b'0') as u32 * 64 + (b[2] - b'0') as u32 * 8 + (b[3] - b'0') as u32) as u8;
    }
    b.first().copied().unwrap_or(0)
}

/// Resolves a builtin type name (`int4`, `integer`, `character varying`) for
/// `regtype` input and `format_type`-style lookups.
pub fn type_by_name(name: &str) -> Option<DataType> {
    let n = name.trim().to_ascii_lowercase();
    let n = n.strip_prefix("pg_catalog.").unwrap_or(&n);
    if let Some(elem) = n.strip_suffix("[]") {
        return type_by_name(elem).map(|t| DataType::Array(Box::new(t)));
    }
    if let Some(elem) = n.strip_prefix('_') {
        return type_by_name(elem).map(|t| DataType::Array(Box::new(t)));
    }
    Some(match n {
        "bool" | "boolean" => DataType::Bool,
        "int2" | "smallint" => DataType::Int2,
        "int4" | "int" | "integer" => DataType::Int4,
        "int8" | "bigint" => DataType::Int8,
        "float4" | "real" => DataType::Float4,
        "float8" | "double precision" | "float" => DataType::Float8,
        "numeric" | "decimal" => DataType::Numeric(None),
        "text" => DataType::Text,
        "varchar" | "character varying" => DataType::Varchar(None),
        "bpchar" | "character" | "char" => DataType::Bpchar(None),
        "name" => DataType::Name,
        "bytea" => DataType::Bytea,
        "date" => DataType::Date,
        "time" | "time without time zone" => DataType::Time,
        "timestamp" | "timestamp without time zone" => DataType::Timestamp,
        "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
        "interval" => DataType::Interval,
        "oid" => DataType::Oid,
        "xid" => DataType::Xid,
        "pg_lsn" => DataType::PgLsn,
        "\"char\"" => DataType::Char,
        "json" => DataType::Json,
        "jsonb" => DataType::Jsonb,
        "uuid" => DataType::Uuid,
        "regclass" => DataType::RegClass,
        "regtype" => DataType::RegType,
        "regproc" => DataType::RegProc,
        "regnamespace" => DataType::RegNamespace,
        "unknown" => DataType::Unknown,
        "void" => DataType::Void,
        "record" => DataType::Record,
        _ => return None,
    })
}

/// All types tandem knows, one per OID (for `pg_type` and OID → type lookups).
pub fn builtin_types() -> Vec<DataType> {
    use DataType::*;
    let scalars = vec![
        Bool,
        Bytea,
        Char,
        Name,
        Int8,
        Int2,
        Int4,
        RegProc,
        RegNamespace,
        Text,
        Oid,
        Xid,
        Json,
        Jsonb,
        Float4,
        Float8,
        Unknown,
        Bpchar(None),
        Varchar(None),
        Date,
        Time,
        Timestamp,
        TimestampTz,
        Interval,
        Numeric(None),
        RegClass,
        RegType,
        Uuid,
        Record,
        Void,
        PgLsn,
    ];
    let arrays = [
        Bool,
        Bytea,
        Char,
        Name,
        Int2,
        Int4,
        Text,
        Bpchar(None),
        Varchar(None),
        Int8,
        Float4,
        Float8,
        Oid,
        Timestamp,
        Date,
        Time,
        TimestampTz,
        Numeric(None),
        Json,
        Jsonb,
    ];
    let mut all = scalars;
    all.extend(arrays.into_iter().map(|t| Array(Box::new(t))));
    all
}

/// The builtin type with this OID.
pub fn type_by_oid(oid: u32) -> Option<DataType> {
    builtin_types().into_iter().find(|t| t.oid() == oid)
}

/// [`type_by_oid`], knowing also the enum types of `cat` and their arrays.
pub fn type_by_oid_in(oid: u32, cat: &tandem_storage::Catalog) -> Option<DataType> {
    type_by_oid(oid).or_else(|| {
        cat.types.values().find_map(|t| {
            if t.oid == oid {
                Some(DataType::Enum(t.clone()))
            } else if t.array_oid == oid {
                Some(DataType::Array(Box::new(DataType::Enum(t.clone()))))
            } else {
                None
            }
        })
    })
}

/// [`type_by_name`], knowing also the enum types of `cat` (`mood`,
/// `s.mood`, `"Mood"`, `mood[]`, `_mood`), an unqualified name looked up
/// along `path` (a `search_path`).
pub fn type_by_name_in(
    name: &str,
    cat: &tandem_storage::Catalog,
    path: &[String],
) -> Option<DataType> {
    if let Some(t) = type_by_name(name) {
        return Some(t);
    }
    let name = name.trim();
    if let Some(elem) = name.strip_suffix("[]") {
        return type_by_name_in(elem, cat, path).map(|t| DataType::Array(Box::new(t)));
    }
    let (schema, n) = crate::reg::parse_qualified(name);
    if let Some(t) = cat.lookup_type(path, schema.as_deref(), &n) {
        return Some(DataType::Enum(t.clone()));
    }
    let t = cat.lookup_type(path, schema.as_deref(), n.strip_prefix('_')?)?;
    Some(DataType::Array(Box::new(DataType::Enum(t.clone()))))
}

/// PostgreSQL's text input function for `ty`.
pub fn text_in(text: &str, ty: &DataType) -> PgResult<Value> {
    Ok(match ty {
        DataType::Bool => {
            Value::Bool(parse_bool(text).ok_or_else(|| invalid_syntax("boolean", text))?)
        }
        DataType::Int2 => {
            Value::Int2(parse_int(text, i16::MIN as i128, i16::MAX as i128, "smallint")? as i16)
        }
        DataType::Int4 => {
            Value::Int4(parse_int(text, i32::MIN as i128, i32::MAX as i128, "integer")? as i32)
        }
        DataType::Int8 => {
            Value::Int8(parse_int(text, i64::MIN as i128, i64::MAX as i128, "bigint")? as i64)
        }
        DataType::Oid
        | DataType::RegClass
        | DataType::RegType
        | DataType::RegProc
        | DataType::RegNamespace => {
            let name = match ty {
                DataType::Oid => "oid",
                DataType::RegClass => "regclass",
                DataType::RegType => "regtype",
                DataType::RegNamespace => "regnamespace",
                _ => "regproc",
            };
            if !matches!(ty, DataType::Oid) && !text.trim().bytes().all(|b| b.is_ascii_digit()) {
                if let (DataType::RegType, Some(t)) = (ty, type_by_name(text)) {
                    return Ok(Value::Oid(t.oid()));
                }
                if *ty == DataType::RegNamespace {
                    let name = crate::reg::parse_qualified(text).1;
                    return tandem_storage::BUILTIN_SCHEMAS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, o)| Value::Oid(*o))
                        .ok_or_else(|| {
                            PgError::new(
                                SqlState::UNDEFINED_SCHEMA,
                                format!("schema \"{name}\" does not exist"),
                            )
                        });
                }
                // names of tables need the catalog: see `cast::cast_in_context`
                return Err(PgError::new(
                    SqlState::UNDEFINED_OBJECT,
                    match ty {
                        DataType::RegType => format!("type \"{text}\" does not exist"),
                        DataType::RegProc => format!("function \"{text}\" does not exist"),
                        _ => format!("relation \"{text}\" does not exist"),
                    },
                ));
            }
            let v = parse_int(text, i32::MIN as i128, u32::MAX as i128, name).map_err(|e| {
                if e.code == SqlState::NUMERIC_VALUE_OUT_OF_RANGE {
                    value_out_of_range(text, name)
                } else {
                    invalid_syntax(name, text)
                }
            })?;
            Value::Oid(v as i64 as u32)
        }
        DataType::Xid => {
            let v = parse_int(text, 0, u32::MAX as i128, "xid")
                .map_err(|_| invalid_syntax("xid", text))?;
            Value::Xid(v as u32)
        }
        DataType::Float4 => Value::Float4(float::parse_f32(text)?),
        DataType::Float8 => Value::Float8(float::parse_f64(text)?),
        DataType::Numeric(tm) => numeric::with_typmod(numeric::parse_datum(text)?, tm)?,
        DataType::Text | DataType::Unknown => Value::Text(text.to_string()),
        DataType::Varchar(_) | DataType::Bpchar(_) | DataType::Name => {
            Value::Text(fit_length(text, ty, false)?)
        }
        DataType::Json => {
            crate::json::check(text)?;
            Value::Text(text.to_string())
        }
        DataType::Jsonb => Value::Text(crate::json::jsonb_in(text)?),
        DataType::Uuid => Value::Text(format_uuid(&parse_uuid(text)?)),
        DataType::Bytea => Value::Bytea(parse_bytea(text)?),
        DataType::Char => Value::Char(parse_char(text)),
        DataType::Date => Value::Date(datetime::parse_date(text)?),
        DataType::Time => Value::Time(datetime::parse_time_of_day(text)?),
        DataType::Timestamp => Value::Timestamp(datetime::parse_timestamp(text, false)?),
        DataType::TimestampTz => Value::TimestampTz(datetime::parse_timestamp(text, true)?),
        DataType::Interval => {
            let (m, d, u) = datetime::parse_interval(text)?;
            Value::Interval(m, d, u)
        }
        DataType::PgLsn => Value::PgLsn(
            text.trim()
                .parse::<Lsn>()
                .map_err(|_| invalid_syntax("pg_lsn", text))?,
        ),
        DataType::Array(elem) => crate::array::parse_array(text, elem)?,
        DataType::Int2Vector | DataType::OidVector => {
            let elem = match ty {
                DataType::Int2Vector => DataType::Int2,
                _ => DataType::Oid,
            };
            Value::Array(
                text.split_ascii_whitespace()
                    .map(|w| text_in(w, &elem))
                    .collect::<PgResult<_>>()?,
            )
        }
        DataType::Void => Value::Null,
        DataType::Enum(t) => t.value(text).ok_or_else(|| {
            PgError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!(
                    "invalid input value for enum {}: \"{text}\"",
                    t.display_name()
                ),
            )
        })?,
        DataType::Record => {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "input of anonymous composite types is not implemented",
            ))
        }
    })
}

/// PostgreSQL's text output function for the value's type.
pub fn text_out(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int2(v) => out.push_str(&v.to_string()),
        Value::Int4(v) => out.push_str(&v.to_string()),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Float4(v) => float::format_f32(*v, out),
        Value::Float8(v) => float::format_f64(*v, out),
        Value::Numeric(d) => numeric::format(d, out),
        Value::Text(s) => out.push_str(s),
        Value::Enum(_, label) => out.push_str(label),
        Value::NumericSpecial(s) => out.push_str(s.text()),
        Value::Bytea(b) => format_bytea(b, out),
        Value::Date(d) => datetime::format_date(*d, out),
        Value::Time(t) => datetime::format_time(*t, out),
        Value::Timestamp(t) => datetime::format_timestamp(*t, false, out),
        Value::TimestampTz(t) => datetime::format_timestamp(*t, true, out),
        Value::Interval(m, d, u) => datetime::format_interval(*m, *d, *u, out),
        Value::Oid(o) | Value::Xid(o) => out.push_str(&o.to_string()),
        Value::PgLsn(l) => out.push_str(&l.to_string()),
        Value::Char(c) => match *c {
            0 => {}
            c if c < 0x80 => out.push(c as char),
            c => out.push_str(&format!("\\{c:03o}")),
        },
        Value::Array(items) => crate::array::format_array(items, out),
        Value::Record(fields) => format_record(fields, out),
    }
}

/// Convenience: `text_out` into a new string.
pub fn to_text(value: &Value) -> String {
    let mut s = String::new();
    text_out(value, &mut s);
    s
}

/// `record_out`: `(1,"a b",,"")`; quotes double as `""`, backslashes as `\\`.
pub fn format_record(fields: &[Value], out: &mut String) {
    out.push('(');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.is_null() {
            continue;
        }
        let s = to_text(f);
        let quote = s.is_empty()
            || s.chars()
                .any(|c| matches!(c, '(' | ')' | ',' | '"' | '\\') || c.is_ascii_whitespace());
        if quote {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push(c);
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&s);
        }
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn rt(text: &str, ty: DataType) -> String {
        to_text(&text_in(text, &ty).unwrap())
    }
    fn err(text: &str, ty: DataType) -> (String, String) {
        let e = text_in(text, &ty).unwrap_err();
        (e.code.0.to_string(), e.message)
    }

    #[test]
    fn booleans() {
        for t in ["t", "true", "TRUE", "yes", "y", "on", "1", " tr "] {
            assert_eq!(rt(t, DataType::Bool), "t", "{t}");
        }
        for t in ["f", "false", "no", "off", "of", "0"] {
            assert_eq!(rt(t, DataType::Bool), "f", "{t}");
        }
        assert_eq!(
            err("o", DataType::Bool),
            (
                "22P02".into(),
                "invalid input syntax for type boolean: \"o\"".into()
            )
        );
        assert!(text_in("", &DataType::Bool).is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(rt(" 12 ", DataType::Int4), "12");
        assert_eq!(rt("-2147483648", DataType::Int4), "-2147483648");
        assert_eq!(rt("0x1F", DataType::Int4), "31");
        assert_eq!(rt("1_000", DataType::Int8), "1000");
        assert_eq!(rt("+5", DataType::Int2), "5");
        assert_eq!(
            err("2147483648", DataType::Int4),
            (
                "22003".into(),
                "value \"2147483648\" is out of range for type integer".into()
            )
        );
        assert_eq!(
            err("40000", DataType::Int2).1,
            "value \"40000\" is out of range for type smallint"
        );
        assert_eq!(
            err("99999999999999999999", DataType::Int8).1,
            "value \"99999999999999999999\" is out of range for type bigint"
        );
        assert_eq!(
            err("1.5", DataType::Int4),
            (
                "22P02".into(),
                "invalid input syntax for type integer: \"1.5\"".into()
            )
        );
        assert_eq!(
            err("", DataType::Int4).1,
            "invalid input syntax for type integer: \"\""
        );
        assert_eq!(
            err("x", DataType::Int8).1,
            "invalid input syntax for type bigint: \"x\""
        );
    }

    #[test]
    fn oids_and_lsns() {
        assert_eq!(rt("-1", DataType::Oid), "4294967295");
        assert_eq!(
            err("4294967296", DataType::Oid).1,
            "value \"4294967296\" is out of range for type oid"
        );
        assert_eq!(
            err("x", DataType::Oid).1,
            "invalid input syntax for type oid: \"x\""
        );
        assert_eq!(rt("0/16b3748", DataType::PgLsn), "0/16B3748");
        assert_eq!(
            err("x", DataType::PgLsn),
            (
                "22P02".into(),
                "invalid input syntax for type pg_lsn: \"x\"".into()
            )
        );
        assert_eq!(rt("16", DataType::RegClass), "16");
        assert_eq!(
            text_in("integer", &DataType::RegType).unwrap(),
            Value::Oid(23)
        );
        assert_eq!(rt("42", DataType::Xid), "42");
    }

    #[test]
    fn numerics_and_floats() {
        assert_eq!(rt("1.50", DataType::Numeric(None)), "1.50");
        assert_eq!(rt("2.345", DataType::Numeric(Some((5, 2)))), "2.35");
        assert_eq!(
            err("1000", DataType::Numeric(Some((5, 2)))).1,
            "numeric field overflow"
        );
        assert_eq!(rt("1e100", DataType::Float8), "1e+100");
        assert_eq!(rt("-0", DataType::Float8), "-0");
        assert_eq!(rt("inf", DataType::Float4), "Infinity");
        assert_eq!(to_text(&Value::Numeric(Decimal::new(-5, 1))), "-0.5");
    }

    #[test]
    fn character_types() {
        assert_eq!(rt("ab", DataType::Bpchar(Some(4))), "ab  ");
        assert_eq!(rt("abc  ", DataType::Varchar(Some(3))), "abc");
        assert_eq!(
            err("abcd", DataType::Varchar(Some(3))),
            (
                "22001".into(),
                "value too long for type character varying(3)".into()
            )
        );
        assert_eq!(
            err("abcd", DataType::Bpchar(Some(3))).1,
            "value too long for type character(3)"
        );
        assert_eq!(rt(&"x".repeat(70), DataType::Name).len(), 63);
        assert_eq!(rt("é", DataType::Char), "\\303");
        assert_eq!(rt("", DataType::Char), "");
        assert_eq!(rt("r", DataType::Char), "r");
    }

    #[test]
    fn bytea_hex_and_escape() {
        assert_eq!(rt("\\x0102", DataType::Bytea), "\\x0102");
        assert_eq!(rt("\\x0a 0B", DataType::Bytea), "\\x0a0b");
        assert_eq!(rt("a\\000b", DataType::Bytea), "\\x610062");
        assert_eq!(rt("ab\\\\c", DataType::Bytea), "\\x61625c63");
        assert_eq!(rt("abc", DataType::Bytea), "\\x616263");
        assert_eq!(
            err("\\xg0", DataType::Bytea).1,
            "invalid hexadecimal digit: \"g\""
        );
        assert_eq!(
            err("\\x0", DataType::Bytea).1,
            "invalid hexadecimal data: odd number of digits"
        );
        assert_eq!(
            err("a\\9", DataType::Bytea).1,
            "invalid input syntax for type bytea"
        );
    }

    #[test]
    fn uuids_and_json() {
        let want = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        assert_eq!(
            rt("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", DataType::Uuid),
            want
        );
        assert_eq!(rt("a0eebc999c0b4ef8bb6d6bb9bd380a11", DataType::Uuid), want);
        assert_eq!(
            err("x", DataType::Uuid).1,
            "invalid input syntax for type uuid: \"x\""
        );
        assert_eq!(
            rt("{\"a\": [1, 2.5, null, true]}", DataType::Json),
            "{\"a\": [1, 2.5, null, true]}"
        );
        assert_eq!(
            err("{a}", DataType::Json).1,
            "invalid input syntax for type json"
        );
        assert_eq!(
            text_in("{a}", &DataType::Json)
                .unwrap_err()
                .detail
                .as_deref(),
            Some("Token \"a\" is invalid.")
        );
        assert_eq!(
            text_in("[1,", &DataType::Json)
                .unwrap_err()
                .detail
                .as_deref(),
            Some("The input string ended unexpectedly.")
        );
    }

    #[test]
    fn dates_times_intervals() {
        assert_eq!(rt("2026-11-21", DataType::Date), "2026-11-21");
        assert_eq!(
            rt("2026-11-21 10:00:00.123456", DataType::Timestamp),
            "2026-11-21 10:00:00.123456"
        );
        assert_eq!(
            rt("2026-11-21 10:00:00.123+00", DataType::TimestampTz),
            "2026-11-21 10:00:00.123+00"
        );
        assert_eq!(rt("1 day 2 hours", DataType::Interval), "1 day 02:00:00");
        assert_eq!(rt("1.5 seconds", DataType::Interval), "00:00:01.5");
    }

    #[test]
    fn records() {
        let r = Value::Record(vec![
            Value::Int4(1),
            Value::Text("a b".into()),
            Value::Null,
            Value::Text(String::new()),
            Value::Text("x\"y".into()),
        ]);
        assert_eq!(to_text(&r), "(1,\"a b\",,\"\",\"x\"\"y\")");
    }

    #[test]
    fn invalid_utf8_is_reported_like_postgres() {
        let e = validate_utf8(b"ab\xc3\x28").unwrap_err();
        assert_eq!(e.code.0, "22021");
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28"
        );
        assert_eq!(
            validate_utf8(b"a\x00").unwrap_err().message,
            "invalid byte sequence for encoding \"UTF8\": 0x00"
        );
        assert_eq!(
            validate_utf8(b"\xff").unwrap_err().message,
            "invalid byte sequence for encoding \"UTF8\": 0xff"
        );
        assert_eq!(validate_utf8("héllo".as_bytes()).unwrap(), "héllo");
    }
}
