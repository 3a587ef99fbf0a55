//! The total order of values for ORDER BY, GROUP BY, DISTINCT, joins and the
//! comparison operators.
//!
//! NULL sorts after everything (ascending, as PostgreSQL's default `NULLS LAST`).
//! Numbers compare across widths and kinds (`1::int2 = 1.0::numeric`); float NaN
//! is greater than every other number and equal to itself, as in PostgreSQL;
//! strings compare bytewise (the C collation); `date` compares with timestamps
//! as its midnight. Corresponds to PostgreSQL's btree comparison support
//! functions (`btint4cmp`, `float8_cmp_internal`, `numeric_cmp`, ...).

use std::cmp::Ordering;

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use tandem_types::Value;

use crate::datetime::{
    interval_key, DATE_INFINITY, DATE_NEG_INFINITY, TS_INFINITY, TS_NEG_INFINITY, USECS_PER_DAY,
};

/// A number lifted to the widest kind needed to compare it.
enum Num {
    Int(i128),
    Dec(Decimal),
    Float(f64),
}

fn as_num(v: &Value) -> Option<Num> {
    Some(match v {
        Value::Int2(x) => Num::Int(*x as i128),
        Value::Int4(x) => Num::Int(*x as i128),
        Value::Int8(x) => Num::Int(*x as i128),
        Value::Oid(x) | Value::Xid(x) => Num::Int(*x as i128),
        Value::Numeric(d) => Num::Dec(*d),
        Value::Float4(f) => Num::Float(*f as f64),
        Value::Float8(f) => Num::Float(*f),
        _ => return None,
    })
}

/// A special numeric against a number: infinities outside every number,
/// NaN above them (against a float, as that float: NaN equals NaN).
fn special_vs(s: tandem_types::NumericSpecial, other: &Value) -> Ordering {
    match as_num(other) {
        Some(Num::Float(f)) => cmp_f64(s.to_f64(), f),
        _ if s == tandem_types::NumericSpecial::NegInfinity => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `float8_cmp_internal`: NaN above everything, `-0 = 0`.
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

fn to_f64(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::Dec(d) => crate::numeric::to_f64(d),
        Num::Float(f) => *f,
    }
}

fn cmp_num(a: &Num, b: &Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(y),
        (Num::Dec(x), Num::Dec(y)) => x.cmp(y),
        (Num::Int(x), Num::Dec(y)) => Decimal::from_i128(*x)
            .map(|x| x.cmp(y))
            .unwrap_or_else(|| cmp_f64(*x as f64, crate::numeric::to_f64(y))),
        (Num::Dec(_), Num::Int(_)) => cmp_num(b, a).reverse(),
        _ => cmp_f64(to_f64(a), to_f64(b)),
    }
}

/// A date as a timestamp (midnight), keeping infinities infinite.
fn date_ts(d: i32) -> i64 {
    match d {
        DATE_INFINITY => TS_INFINITY,
        DATE_NEG_INFINITY => TS_NEG_INFINITY,
        d => d as i64 * USECS_PER_DAY,
    }
}

fn as_ts(v: &Value) -> Option<i64> {
    match v {
        Value::Date(d) => Some(date_ts(*d)),
        Value::Timestamp(t) | Value::TimestampTz(t) => Some(*t),
        _ => None,
    }
}

/// Rank of a variant, for the (unexpected) comparison of unrelated kinds.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Int2(_)
        | Value::Int4(_)
        | Value::Int8(_)
        | Value::Float4(_)
        | Value::Float8(_)
        | Value::Numeric(_)
        | Value::NumericSpecial(_) => 1,
        Value::Oid(_) | Value::Xid(_) => 1,
        Value::Text(_) => 2,
        Value::Bytea(_) => 3,
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => 4,
        Value::Interval(..) => 5,
        Value::Time(_) => 11,
        Value::Enum(..) => 12,
        Value::PgLsn(_) => 6,
        Value::Char(_) => 7,
        Value::Array(_) => 8,
        Value::Record(_) => 9,
        Value::Null => 10,
    }
}

/// SQL comparison: NULLs last, numbers across widths.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bytea(x), Value::Bytea(y)) => x.cmp(y),
        (Value::Interval(m1, d1, u1), Value::Interval(m2, d2, u2)) => {
            interval_key(*m1, *d1, *u1).cmp(&interval_key(*m2, *d2, *u2))
        }
        (Value::PgLsn(x), Value::PgLsn(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::Enum(x, _), Value::Enum(y, _)) => x.total_cmp(y),
        (Value::NumericSpecial(x), Value::NumericSpecial(y)) => x.cmp(y),
        (Value::NumericSpecial(x), other) if as_num(other).is_some() => special_vs(*x, other),
        (other, Value::NumericSpecial(y)) if as_num(other).is_some() => {
            special_vs(*y, other).reverse()
        }
        (Value::Char(x), Value::Char(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) | (Value::Record(x), Value::Record(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = compare(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => {
            if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
                return cmp_num(&x, &y);
            }
            if let (Some(x), Some(y)) = (as_ts(a), as_ts(b)) {
                return x.cmp(&y);
            }
            rank(a).cmp(&rank(b))
        }
    }
}

/// SQL equality for non-NULL values of comparable types (`compare == Equal`).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_last_and_cross_width_numbers() {
        let mut v = [
            Value::Null,
            Value::Int8(3),
            Value::Int2(1),
            Value::Numeric(Decimal::new(25, 1)),
            Value::Float8(f64::NAN),
            Value::Float4(-1.0),
        ];
        v.sort_by(compare);
        let shown: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        assert_eq!(
            shown,
            [
                "Float4(-1.0)",
                "Int2(1)",
                "Numeric(2.5)",
                "Int8(3)",
                "Float8(NaN)",
                "Null"
            ]
        );
        assert!(values_equal(
            &Value::Int4(1),
            &Value::Numeric(Decimal::new(100, 2))
        ));
        assert!(values_equal(&Value::Float8(-0.0), &Value::Float8(0.0)));
    }

    #[test]
    fn strings_dates_arrays() {
        assert_eq!(
            compare(&Value::Text("B".into()), &Value::Text("a".into())),
            Ordering::Less
        );
        assert_eq!(
            compare(&Value::Date(1), &Value::Timestamp(USECS_PER_DAY)),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Value::Date(DATE_INFINITY), &Value::Timestamp(0)),
            Ordering::Greater
        );
        assert_eq!(
            compare(
                &Value::Array(vec![Value::Int4(1)]),
                &Value::Array(vec![Value::Int4(1), Value::Int4(0)])
            ),
            Ordering::Less
        );
        assert_eq!(
            compare(&Value::Interval(1, 0, 0), &Value::Interval(0, 30, 0)),
            Ordering::Equal
        );
    }
}
