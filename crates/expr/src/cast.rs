//! Casts between types: explicit (`CAST(x AS t)`, `x::t`), assignment (INSERT /
//! UPDATE targets) and the implicit-cast lattice used by operator and function
//! resolution.
//!
//! Rules as PostgreSQL's `pg_cast`:
//! - float → integer rounds to nearest, ties to even (`rint`); numeric → integer
//!   rounds ties away from zero; out of range is `22003 integer out of range`.
//! - `varchar(n)`/`char(n)`: an explicit cast truncates; an assignment fails with
//!   `22001 value too long for type character varying(n)` unless only spaces are cut.
//! - Anything converts to and from text through its I/O functions (explicitly;
//!   to text also in assignment), `bool::text` is `true`/`false`.
//! - Implicit: `int2 < int4 < int8 < numeric < float4 < float8`, the string types
//!   among themselves, `date < timestamp < timestamptz`, integers → `oid` and the
//!   `reg*` aliases, `unknown` literals → anything.
//!
//! Corresponds to PostgreSQL's `parser/parse_coerce.c` and the cast functions in
//! `utils/adt/`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tandem_types::{DataType, Lsn, NumericSpecial, PgError, PgResult, SqlState, Value};

use crate::datetime::{
    DATE_INFINITY, DATE_NEG_INFINITY, TS_INFINITY, TS_NEG_INFINITY, USECS_PER_DAY,
};
use crate::errors::{cannot_cast, int_out_of_range};
use crate::io_text::{fit_length, text_in, to_text};
use crate::numeric;

/// The type a value carries by itself (`Text` for every string kind, `Unknown`
/// for NULL, arrays by their first non-NULL element).
pub fn value_type(v: &Value) -> DataType {
    match v {
        Value::Null => DataType::Unknown,
        Value::Bool(_) => DataType::Bool,
        Value::Int2(_) => DataType::Int2,
        Value::Int4(_) => DataType::Int4,
        Value::Int8(_) => DataType::Int8,
        Value::Float4(_) => DataType::Float4,
        Value::Float8(_) => DataType::Float8,
        Value::Numeric(_) | Value::NumericSpecial(_) => DataType::Numeric(None),
        Value::Text(_) => DataType::Text,
        Value::Bytea(_) => DataType::Bytea,
        Value::Date(_) => DataType::Date,
        Value::Time(_) => DataType::Time,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::TimestampTz(_) => DataType::TimestampTz,
        Value::Interval(..) => DataType::Interval,
        Value::Oid(_) => DataType::Oid,
        Value::Xid(_) => DataType::Xid,
        Value::PgLsn(_) => DataType::PgLsn,
        Value::Char(_) => DataType::Char,
        Value::Array(items) => {
            let elem = items
                .iter()
                .find(|v| !v.is_null())
                .map(|v| match value_type(v) {
                    DataType::Array(inner) => *inner,
                    t => t,
                })
                .unwrap_or(DataType::Text);
            DataType::Array(Box::new(elem))
        }
        Value::Record(_) => DataType::Record,
        // a label does not carry its type; its text stands in
        Value::Enum(..) => DataType::Text,
    }
}

/// The type ignoring modifiers (`varchar(3)` → `varchar`), for lattice checks.
pub fn base_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Bpchar(_) => DataType::Bpchar(None),
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Array(e) => DataType::Array(Box::new(base_type(e))),
        t => t.clone(),
    }
}

pub fn is_string_type(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Text | DataType::Varchar(_) | DataType::Bpchar(_) | DataType::Name
    )
}

pub fn is_numeric_type(ty: &DataType) -> bool {
    numeric_rank(ty).is_some()
}

/// Position in `int2 < int4 < int8 < numeric < float4 < float8`.
pub fn numeric_rank(ty: &DataType) -> Option<u8> {
    Some(match ty {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

fn is_reg(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Oid
            | DataType::RegClass
            | DataType::RegType
            | DataType::RegProc
            | DataType::RegNamespace
    )
}

/// Whether `from` converts to `to` implicitly (function/operator resolution).
pub fn can_implicit_cast(from: &DataType, to: &DataType) -> bool {
    if base_type(from) == base_type(to) || *from == DataType::Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (numeric_rank(from), numeric_rank(to)) {
        return a <= b;
    }
    match (from, to) {
        (f, t) if is_string_type(f) && is_string_type(t) => true,
        (DataType::Char, t) if is_string_type(t) => true,
        (DataType::Json | DataType::Jsonb, DataType::Text) => false,
        (DataType::Date, DataType::Timestamp | DataType::TimestampTz) => true,
        (DataType::Timestamp, DataType::TimestampTz) => true,
        (DataType::Time, DataType::Interval) => true,
        (DataType::Int2 | DataType::Int4 | DataType::Int8, t) if is_reg(t) => true,
        (f, t) if is_reg(f) && is_reg(t) => true,
        (f, DataType::RegClass) if is_string_type(f) => true,
        (DataType::Array(a), DataType::Array(b)) => can_implicit_cast(a, b),
        _ => false,
    }
}

/// Whether an assignment (INSERT/UPDATE target) of `from` to `to` is allowed:
/// implicit casts, numeric narrowing, anything to a string type, and
/// `timestamptz → date/timestamp` style narrowing.
pub fn can_assign_cast(from: &DataType, to: &DataType) -> bool {
    if can_implicit_cast(from, to) || is_string_type(to) {
        return true;
    }
    if is_numeric_type(from) && is_numeric_type(to) {
        return true;
    }
    matches!(
        (from, to),
        (
            DataType::TimestampTz | DataType::Timestamp,
            DataType::Date | DataType::Timestamp | DataType::Time
        ) | (DataType::Interval, DataType::Time)
    ) || (is_reg(from) && matches!(to, DataType::Int4 | DataType::Int8))
        || matches!((from, to), (DataType::Array(a), DataType::Array(b)) if can_assign_cast(a, b))
}

/// Rounds a float to an integer type as `rint` + range check does.
fn float_to_int(f: f64, to: &DataType) -> PgResult<Value> {
    let r = f.round_ties_even();
    let err = || int_out_of_range(to);
    if r.is_nan() {
        return Err(err());
    }
    Ok(match to {
        DataType::Int2 if (i16::MIN as f64..=i16::MAX as f64).contains(&r) => Value::Int2(r as i16),
        DataType::Int4 if (i32::MIN as f64..=i32::MAX as f64).contains(&r) => Value::Int4(r as i32),
        // i64::MAX as f64 rounds up to 2^63, which does not fit
        DataType::Int8
            if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) =>
        {
            Value::Int8(r as i64)
        }
        _ => return Err(err()),
    })
}

fn int_to(v: i128, to: &DataType) -> PgResult<Value> {
    let err = || int_out_of_range(to);
    Ok(match to {
        DataType::Int2 => Value::Int2(i16::try_from(v).map_err(|_| err())?),
        DataType::Int4 => Value::Int4(i32::try_from(v).map_err(|_| err())?),
        DataType::Int8 => Value::Int8(i64::try_from(v).map_err(|_| err())?),
        DataType::Float4 => Value::Float4(v as f32),
        DataType::Float8 => Value::Float8(v as f64),
        DataType::Numeric(tm) => with_typmod(Decimal::from_i128_with_scale(v, 0), tm)?,
        DataType::Bool => Value::Bool(v != 0),
        DataType::Oid
        | DataType::RegClass
        | DataType::RegType
        | DataType::RegProc
        | DataType::RegNamespace => {
            if v < i32::MIN as i128 || v > u32::MAX as i128 {
                return Err(int_out_of_range(&DataType::Oid));
            }
            Value::Oid(v as i64 as u32)
        }
        DataType::Char => Value::Char(v as i8 as u8),
        DataType::Xid => Value::Xid(v as u32),
        _ => return Err(cannot_cast(&DataType::Int4, to)),
    })
}

fn with_typmod(d: Decimal, tm: &Option<(u32, u32)>) -> PgResult<Value> {
    numeric::with_typmod(Value::Numeric(d), tm)
}

/// A special numeric (`NaN`, `Infinity`) to `to`.
fn numeric_special_to(s: NumericSpecial, to: &DataType) -> PgResult<Value> {
    match to {
        DataType::Numeric(tm) => numeric::with_typmod(Value::NumericSpecial(s), tm),
        DataType::Float4 => Ok(Value::Float4(s.to_f64() as f32)),
        DataType::Float8 => Ok(Value::Float8(s.to_f64())),
        DataType::Int2 | DataType::Int4 | DataType::Int8 => Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            match s {
                NumericSpecial::NaN => format!("cannot convert NaN to {}", to.display_name()),
                _ => format!("cannot convert infinity to {}", to.display_name()),
            },
        )),
        _ => Err(cannot_cast(&DataType::Numeric(None), to)),
    }
}

fn numeric_to(d: Decimal, to: &DataType) -> PgResult<Value> {
    match to {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => {
            let r =
                d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            let v = r.to_i128().ok_or_else(|| int_out_of_range(to))?;
            int_to(v, to)
        }
        DataType::Float4 => Ok(Value::Float4(numeric::to_f64(&d) as f32)),
        DataType::Float8 => Ok(Value::Float8(numeric::to_f64(&d))),
        DataType::Numeric(tm) => with_typmod(d, tm),
        DataType::PgLsn => {
            let v = d
                .trunc()
                .to_u64()
                .filter(|_| d.fract().is_zero())
                .ok_or_else(|| {
                    tandem_types::PgError::new(
                        tandem_types::SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                        "pg_lsn out of range",
                    )
                })?;
            Ok(Value::PgLsn(Lsn(v)))
        }
        _ => Err(cannot_cast(&DataType::Numeric(None), to)),
    }
}

fn float_to(f: f64, from: &DataType, to: &DataType) -> PgResult<Value> {
    match to {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => float_to_int(f, to),
        DataType::Float4 => {
            let r = f as f32;
            if r.is_infinite() && f.is_finite() {
                return Err(crate::errors::float_overflow());
            }
            Ok(Value::Float4(r))
        }
        DataType::Float8 => Ok(Value::Float8(f)),
        DataType::Numeric(tm) => match NumericSpecial::of_f64(f) {
            Some(s) => numeric::with_typmod(Value::NumericSpecial(s), tm),
            None => {
                let digits = if *from == DataType::Float4 { 6 } else { 15 };
                with_typmod(numeric::from_f64(f, digits)?, tm)
            }
        },
        _ => Err(cannot_cast(from, to)),
    }
}

/// Explicit cast (`CAST(x AS t)`, `x::t`).
pub fn cast(value: Value, to: &DataType) -> PgResult<Value> {
    convert(value, to, true)
}

/// Assignment cast (INSERT/UPDATE targets): as explicit, but too-long strings fail.
pub fn assign_cast(value: Value, to: &DataType) -> PgResult<Value> {
    convert(value, to, false)
}

fn convert(value: Value, to: &DataType, explicit: bool) -> PgResult<Value> {
    if value.is_null() || matches!(to, DataType::Unknown) {
        return Ok(value);
    }
    // anything → a string type goes through its output function
    if is_string_type(to) || matches!(to, DataType::Json | DataType::Jsonb) {
        let s = match &value {
            Value::Text(s) => s.clone(),
            Value::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
            Value::Char(c) if *c >= 0x80 => String::from_utf8_lossy(&[*c]).into_owned(),
            v => to_text(v),
        };
        if matches!(to, DataType::Json | DataType::Jsonb) {
            return text_in(&s, to);
        }
        return Ok(Value::Text(fit_length(&s, to, explicit)?));
    }
    let from = value_type(&value);
    match value {
        Value::Text(s) => text_in(&s, to),
        // to the same enum type (a label of another type is refused by the binder)
        Value::Enum(sort, label) => match to {
            DataType::Enum(_) => Ok(Value::Enum(sort, label)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Int2(v) => int_to(v as i128, to),
        Value::Int4(v) => int_to(v as i128, to),
        Value::Int8(v) => int_to(v as i128, to),
        Value::Numeric(d) => numeric_to(d, to),
        Value::NumericSpecial(s) => numeric_special_to(s, to),
        Value::Float4(f) => float_to(f as f64, &from, to),
        Value::Float8(f) => float_to(f, &from, to),
        Value::Bool(b) => match to {
            DataType::Bool => Ok(Value::Bool(b)),
            DataType::Int4 => Ok(Value::Int4(b as i32)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Oid(o) => match to {
            DataType::Oid
            | DataType::RegClass
            | DataType::RegType
            | DataType::RegProc
            | DataType::RegNamespace => Ok(Value::Oid(o)),
            DataType::Int4 => Ok(Value::Int4(o as i32)),
            DataType::Int8 => Ok(Value::Int8(o as i64)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Xid(x) => match to {
            DataType::Xid => Ok(Value::Xid(x)),
            DataType::Int8 => Ok(Value::Int8(x as i64)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Char(c) => match to {
            DataType::Char => Ok(Value::Char(c)),
            DataType::Int4 => Ok(Value::Int4(c as i8 as i32)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Date(d) => match to {
            DataType::Date => Ok(Value::Date(d)),
            DataType::Timestamp | DataType::TimestampTz => {
                let ts = match d {
                    DATE_INFINITY => TS_INFINITY,
                    DATE_NEG_INFINITY => TS_NEG_INFINITY,
                    d => d as i64 * USECS_PER_DAY,
                };
                Ok(if *to == DataType::Timestamp {
                    Value::Timestamp(ts)
                } else {
                    // midnight in the session's zone
                    Value::TimestampTz(local_to_tz(ts))
                })
            }
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Timestamp(ts) => match to {
            DataType::Timestamp => Ok(Value::Timestamp(ts)),
            DataType::TimestampTz => Ok(Value::TimestampTz(local_to_tz(ts))),
            DataType::Date => Ok(Value::Date(ts_date(ts))),
            DataType::Time => Ok(ts_time(ts)),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::TimestampTz(ts) => match to {
            DataType::Timestamp => Ok(Value::Timestamp(tz_to_local(ts))),
            DataType::TimestampTz => Ok(Value::TimestampTz(ts)),
            DataType::Date => Ok(Value::Date(ts_date(tz_to_local(ts)))),
            DataType::Time => Ok(ts_time(tz_to_local(ts))),
            _ => Err(cannot_cast(&from, to)),
        },
        Value::Time(t) => match to {
            DataType::Time => Ok(Value::Time(t)),
            DataType::Interval => Ok(Value::Interval(0, 0, t)),
            _ => Err(cannot_cast(&from, to)),
        },
        // PostgreSQL's interval_time: the time part, modulo a day
        Value::Interval(_, _, us) if *to == DataType::Time => {
            Ok(Value::Time(us.rem_euclid(USECS_PER_DAY)))
        }
        Value::Array(items) => match to {
            DataType::Array(elem) => {
                let items = items
                    .into_iter()
                    .map(|v| match v {
                        Value::Array(_) => convert(v, to, explicit),
                        v => convert(v, elem, explicit),
                    })
                    .collect::<PgResult<Vec<_>>>()?;
                Ok(Value::Array(items))
            }
            _ => Err(cannot_cast(&from, to)),
        },
        Value::PgLsn(l) => match to {
            DataType::PgLsn => Ok(Value::PgLsn(l)),
            DataType::Numeric(tm) => with_typmod(Decimal::from(l.0), tm),
            _ => Err(cannot_cast(&from, to)),
        },
        v @ (Value::Bytea(_) | Value::Interval(..) | Value::Record(_)) => {
            if value_type(&v) == base_type(to)
                || (matches!(v, Value::Record(_)) && *to == DataType::Record)
            {
                Ok(v)
            } else {
                Err(cannot_cast(&from, to))
            }
        }
        Value::Null => Ok(Value::Null),
    }
}

/// The time of day of a `timestamp` (none for an infinite one).
fn ts_time(ts: i64) -> Value {
    match ts {
        TS_INFINITY | TS_NEG_INFINITY => Value::Null,
        ts => Value::Time(ts.rem_euclid(USECS_PER_DAY)),
    }
}

/// The date of a `timestamp` (infinities stay infinite).
fn ts_date(ts: i64) -> i32 {
    match ts {
        TS_INFINITY => DATE_INFINITY,
        TS_NEG_INFINITY => DATE_NEG_INFINITY,
        ts => ts.div_euclid(USECS_PER_DAY) as i32,
    }
}

/// A `timestamp` read in the session's zone (infinities stay infinite).
pub fn local_to_tz(ts: i64) -> i64 {
    match ts {
        TS_INFINITY | TS_NEG_INFINITY => ts,
        ts => crate::timezone::to_utc(ts),
    }
}

/// A `timestamptz` as the session's zone shows it (infinities stay infinite).
pub fn tz_to_local(ts: i64) -> i64 {
    match ts {
        TS_INFINITY | TS_NEG_INFINITY => ts,
        ts => crate::timezone::to_local(ts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: Value, to: DataType) -> String {
        to_text(&cast(v, &to).unwrap())
    }
    fn ce(v: Value, to: DataType) -> String {
        cast(v, &to).unwrap_err().message
    }

    #[test]
    fn float_to_int_rounds_half_even_numeric_half_away() {
        assert_eq!(c(Value::Float8(2.5), DataType::Int4), "2");
        assert_eq!(c(Value::Float8(3.5), DataType::Int4), "4");
        assert_eq!(c(Value::Float8(-2.5), DataType::Int4), "-2");
        assert_eq!(c(Value::Numeric(Decimal::new(25, 1)), DataType::Int4), "3");
        assert_eq!(
            c(Value::Numeric(Decimal::new(-25, 1)), DataType::Int4),
            "-3"
        );
        assert_eq!(
            ce(Value::Float8(f64::NAN), DataType::Int4),
            "integer out of range"
        );
        assert_eq!(
            ce(Value::Float8(1e30), DataType::Int8),
            "bigint out of range"
        );
        assert_eq!(
            ce(Value::Int4(40000), DataType::Int2),
            "smallint out of range"
        );
        assert_eq!(
            cast(Value::Int4(40000), &DataType::Int2)
                .unwrap_err()
                .code
                .0,
            "22003"
        );
    }

    #[test]
    fn text_conversions() {
        assert_eq!(c(Value::Bool(true), DataType::Text), "true");
        assert_eq!(
            c(Value::Text("abcd".into()), DataType::Varchar(Some(3))),
            "abc"
        );
        assert_eq!(
            c(Value::Text("ab".into()), DataType::Bpchar(Some(3))),
            "ab "
        );
        let e = assign_cast(Value::Text("abcd".into()), &DataType::Varchar(Some(3))).unwrap_err();
        assert_eq!(
            (e.code.0, e.message.as_str()),
            ("22001", "value too long for type character varying(3)")
        );
        assert_eq!(c(Value::Text(" 42 ".into()), DataType::Int8), "42");
        assert_eq!(c(Value::Interval(0, 1, 0), DataType::Text), "1 day");
        assert_eq!(c(Value::Int4(42), DataType::Varchar(Some(1))), "4");
        assert_eq!(c(Value::Char(b'r'), DataType::Int4), "114");
        assert_eq!(c(Value::Int4(65), DataType::Char), "A");
    }

    #[test]
    fn numeric_and_float_conversions() {
        assert_eq!(c(Value::Float4(1.5), DataType::Numeric(None)), "1.5");
        assert_eq!(
            c(Value::Float8(1.0 / 3.0), DataType::Numeric(None)),
            "0.333333333333333"
        );
        assert_eq!(c(Value::Int4(7), DataType::Numeric(Some((5, 2)))), "7.00");
        assert_eq!(c(Value::Int4(12), DataType::Bool), "t");
        assert_eq!(c(Value::Int8(3_000_000_000), DataType::Oid), "3000000000");
    }

    #[test]
    fn impossible_casts_name_both_types() {
        let e = cast(Value::Date(0), &DataType::Int4).unwrap_err();
        assert_eq!(
            (e.code.0, e.message.as_str()),
            ("42846", "cannot cast type date to integer")
        );
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(
            c(Value::Date(0), DataType::Timestamp),
            "2000-01-01 00:00:00"
        );
        assert_eq!(
            c(Value::Timestamp(USECS_PER_DAY + 5), DataType::Date),
            "2000-01-02"
        );
        assert_eq!(c(Value::Timestamp(-1), DataType::Date), "1999-12-31");
    }

    #[test]
    fn implicit_lattice() {
        use DataType::*;
        assert!(can_implicit_cast(&Int2, &Int8));
        assert!(can_implicit_cast(&Int8, &Numeric(None)));
        assert!(can_implicit_cast(&Numeric(Some((5, 2))), &Float8));
        assert!(!can_implicit_cast(&Float8, &Int4));
        assert!(!can_implicit_cast(&Int4, &Text));
        assert!(can_implicit_cast(&Unknown, &Date));
        assert!(can_implicit_cast(&Varchar(Some(3)), &Text));
        assert!(can_implicit_cast(&Text, &Bpchar(None)));
        assert!(can_implicit_cast(&Date, &TimestampTz));
        assert!(can_implicit_cast(&Int4, &RegClass));
        assert!(can_implicit_cast(&Text, &RegClass));
        assert!(can_assign_cast(&Float8, &Int4));
        assert!(can_assign_cast(&Int4, &Text));
        assert!(!can_assign_cast(&Text, &Int4));
    }
}
