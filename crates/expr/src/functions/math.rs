//! Mathematical functions: `abs`, `round`, `trunc`, `ceil`, `floor`, `sqrt`,
//! `power`, `exp`, `ln`, `log`, `mod`, `sign`, `random`, trigonometry, and the
//! `greatest`/`least` helper.
//!
//! Numeric results keep PostgreSQL's display scales: `round(numeric)` has scale 0,
//! `sqrt(2::numeric)` 15 digits, `exp`/`ln`/`log` 16 significant digits.
//! Corresponds to PostgreSQL's `utils/adt/float.c`, `numeric.c`, `int.c`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{arg_f64, arg_i64, r, t, Arg, Def, Ret};
use crate::compare::compare;
use crate::errors::{division_by_zero, float_overflow, int_out_of_range};
use crate::numeric;
use crate::operators::{float_pow, numeric_pow};

use DataType as T;

fn n() -> Arg {
    t(T::Numeric(None))
}
fn f8() -> Arg {
    t(T::Float8)
}
fn rn() -> Ret {
    r(T::Numeric(None))
}
fn rf8() -> Ret {
    r(T::Float8)
}

pub(super) fn defs() -> Vec<Def> {
    let mut d = vec![
        Def::pure("abs", vec![t(T::Int2)], r(T::Int2), abs),
        Def::pure("abs", vec![t(T::Int4)], r(T::Int4), abs),
        Def::pure("abs", vec![t(T::Int8)], r(T::Int8), abs),
        Def::pure("abs", vec![t(T::Float4)], r(T::Float4), abs),
        Def::pure("abs", vec![f8()], rf8(), abs),
        Def::pure("abs", vec![n()], rn(), abs),
        Def::pure("round", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.round_ties_even()))
        }),
        Def::pure("round", vec![n()], rn(), |a| {
            round_numeric(a, RoundingStrategy::MidpointAwayFromZero)
        }),
        Def::pure("round", vec![n(), t(T::Int4)], rn(), |a| {
            round_numeric(a, RoundingStrategy::MidpointAwayFromZero)
        }),
        Def::pure("trunc", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.trunc()))
        }),
        Def::pure("trunc", vec![n()], rn(), |a| {
            round_numeric(a, RoundingStrategy::ToZero)
        }),
        Def::pure("trunc", vec![n(), t(T::Int4)], rn(), |a| {
            round_numeric(a, RoundingStrategy::ToZero)
        }),
        Def::pure("sqrt", vec![f8()], rf8(), |a| {
            let x = arg_f64(a, 0)?;
            if x < 0.0 {
                return Err(PgError::new(
                    SqlState("2201F"),
                    "cannot take square root of a negative number",
                ));
            }
            Ok(Value::Float8(x.sqrt()))
        }),
        Def::pure("sqrt", vec![n()], rn(), sqrt_numeric),
        Def::pure("cbrt", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.cbrt()))
        }),
        Def::pure("power", vec![f8(), f8()], rf8(), |a| {
            Ok(Value::Float8(float_pow(arg_f64(a, 0)?, arg_f64(a, 1)?)?))
        }),
        Def::pure("power", vec![n(), n()], rn(), |a| {
            Ok(Value::Numeric(numeric_pow(dec(a, 0), dec(a, 1))?))
        }),
        Def::pure("pow", vec![f8(), f8()], rf8(), |a| {
            Ok(Value::Float8(float_pow(arg_f64(a, 0)?, arg_f64(a, 1)?)?))
        }),
        Def::pure("pow", vec![n(), n()], rn(), |a| {
            Ok(Value::Numeric(numeric_pow(dec(a, 0), dec(a, 1))?))
        }),
        Def::pure("exp", vec![f8()], rf8(), |a| {
            let v = arg_f64(a, 0)?.exp();
            if v.is_infinite() {
                return Err(float_overflow());
            }
            Ok(Value::Float8(v))
        }),
        Def::pure("exp", vec![n()], rn(), |a| {
            let x = dec(a, 0);
            let v = x.checked_exp().ok_or_else(numeric::overflow)?;
            Ok(Value::Numeric(scaled16(v, x.scale())))
        }),
        Def::pure("ln", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(float_log(arg_f64(a, 0)?)?.ln()))
        }),
        Def::pure("ln", vec![n()], rn(), |a| {
            let x = check_log_arg(dec(a, 0))?;
            Ok(Value::Numeric(scaled16(
                x.checked_ln().ok_or_else(numeric::overflow)?,
                x.scale(),
            )))
        }),
        Def::pure("log", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(float_log(arg_f64(a, 0)?)?.log10()))
        }),
        Def::pure("log", vec![n()], rn(), log10_numeric),
        Def::pure("log10", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(float_log(arg_f64(a, 0)?)?.log10()))
        }),
        Def::pure("log10", vec![n()], rn(), log10_numeric),
        Def::pure("log", vec![n(), n()], rn(), |a| {
            let b = check_log_arg(dec(a, 0))?;
            let x = check_log_arg(dec(a, 1))?;
            let lb = b.checked_ln().ok_or_else(numeric::overflow)?;
            if lb.is_zero() {
                return Err(division_by_zero());
            }
            let v = x
                .checked_ln()
                .ok_or_else(numeric::overflow)?
                .checked_div(lb)
                .ok_or_else(numeric::overflow)?;
            Ok(Value::Numeric(scaled16(v, b.scale().max(x.scale()))))
        }),
        Def::pure("ceil", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.ceil()))
        }),
        Def::pure("ceil", vec![n()], rn(), |a| {
            Ok(Value::Numeric(numeric::normalize_zero(dec(a, 0).ceil())))
        }),
        Def::pure("ceiling", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.ceil()))
        }),
        Def::pure("ceiling", vec![n()], rn(), |a| {
            Ok(Value::Numeric(numeric::normalize_zero(dec(a, 0).ceil())))
        }),
        Def::pure("floor", vec![f8()], rf8(), |a| {
            Ok(Value::Float8(arg_f64(a, 0)?.floor()))
        }),
        Def::pure("floor", vec![n()], rn(), |a| {
            Ok(Value::Numeric(numeric::normalize_zero(dec(a, 0).floor())))
        }),
        Def::pure("sign", vec![f8()], rf8(), |a| {
            let x = arg_f64(a, 0)?;
            Ok(Value::Float8(if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }))
        }),
        Def::pure("sign", vec![n()], rn(), |a| {
            let x = dec(a, 0);
            Ok(Value::Numeric(Decimal::from(if x.is_zero() {
                0
            } else if x.is_sign_negative() {
                -1
            } else {
                1
            })))
        }),
        Def::pure("mod", vec![t(T::Int2), t(T::Int2)], r(T::Int2), int_mod),
        Def::pure("mod", vec![t(T::Int4), t(T::Int4)], r(T::Int4), int_mod),
        Def::pure("mod", vec![t(T::Int8), t(T::Int8)], r(T::Int8), int_mod),
        Def::pure("mod", vec![n(), n()], rn(), |a| {
            let (x, y) = (dec(a, 0), dec(a, 1));
            if y.is_zero() {
                return Err(division_by_zero());
            }
            Ok(Value::Numeric(numeric::normalize_zero(
                x.checked_rem(y).ok_or_else(numeric::overflow)?,
            )))
        }),
        Def::pure("div", vec![n(), n()], rn(), |a| {
            let (x, y) = (dec(a, 0), dec(a, 1));
            if y.is_zero() {
                return Err(division_by_zero());
            }
            Ok(Value::Numeric(numeric::normalize_zero(
                x.checked_div(y).ok_or_else(numeric::overflow)?.trunc(),
            )))
        }),
        Def::pure("gcd", vec![t(T::Int4), t(T::Int4)], r(T::Int4), gcd),
        Def::pure("gcd", vec![t(T::Int8), t(T::Int8)], r(T::Int8), gcd),
        Def::pure("lcm", vec![t(T::Int4), t(T::Int4)], r(T::Int4), lcm),
        Def::pure("lcm", vec![t(T::Int8), t(T::Int8)], r(T::Int8), lcm),
        Def::pure("pi", vec![], rf8(), |_| {
            Ok(Value::Float8(std::f64::consts::PI))
        }),
        Def::pure("random", vec![], rf8(), |_| {
            Ok(Value::Float8(rand::random::<f64>()))
        })
        .volatile(),
    ];
    let trig = [
        "sin", "cos", "tan", "asin", "acos", "atan", "degrees", "radians", "cot",
    ];
    for name in trig {
        d.push(Def::pure(name, vec![f8()], rf8(), trig_by_name(name)));
    }
    d.push(Def::pure("atan2", vec![f8(), f8()], rf8(), |a| {
        Ok(Value::Float8(arg_f64(a, 0)?.atan2(arg_f64(a, 1)?)))
    }));
    d
}

fn trig_by_name(name: &str) -> super::Pure {
    match name {
        "sin" => |a| Ok(Value::Float8(arg_f64(a, 0)?.sin())),
        "cos" => |a| Ok(Value::Float8(arg_f64(a, 0)?.cos())),
        "tan" => |a| Ok(Value::Float8(arg_f64(a, 0)?.tan())),
        "asin" => |a| domain(arg_f64(a, 0)?.asin()),
        "acos" => |a| domain(arg_f64(a, 0)?.acos()),
        "atan" => |a| Ok(Value::Float8(arg_f64(a, 0)?.atan())),
        "degrees" => |a| Ok(Value::Float8(arg_f64(a, 0)?.to_degrees())),
        "radians" => |a| Ok(Value::Float8(arg_f64(a, 0)?.to_radians())),
        _ => |a| Ok(Value::Float8(1.0 / arg_f64(a, 0)?.tan())),
    }
}

fn domain(v: f64) -> PgResult<Value> {
    if v.is_nan() {
        return Err(PgError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "input is out of range",
        ));
    }
    Ok(Value::Float8(v))
}

/// A numeric function of this module called with `NaN` or an infinity
/// (the functions here compute on finite `Decimal`s only): PostgreSQL's
/// answer, or `None` when no argument is special.
pub(super) fn special_numeric(name: &str, a: &[Value]) -> Option<PgResult<Value>> {
    use tandem_types::NumericSpecial::{Infinity, NaN, NegInfinity};
    let s = a.iter().find_map(|v| match v {
        Value::NumericSpecial(s) => Some(*s),
        _ => None,
    })?;
    let special = |s| Ok(Value::NumericSpecial(s));
    let negative = |what: &str, code: &'static str| {
        Err(PgError::new(
            SqlState(code),
            format!("cannot take {what} of a negative number"),
        ))
    };
    Some(match (name, s) {
        (_, NaN) => special(NaN),
        ("abs", _) => special(Infinity),
        ("ceil" | "ceiling" | "floor" | "round" | "trunc", _) => special(s),
        ("sign", _) => Ok(Value::Numeric(Decimal::from(if s == NegInfinity {
            -1
        } else {
            1
        }))),
        ("sqrt", Infinity) | ("exp", Infinity) => special(Infinity),
        ("sqrt", _) => negative("square root", "2201F"),
        ("exp", _) => Ok(Value::Numeric(Decimal::ZERO)),
        ("ln" | "log" | "log10", Infinity) if a.len() == 1 => special(Infinity),
        ("ln" | "log" | "log10", _) if a.len() == 1 => negative("logarithm", "2201E"),
        ("mod", _) => numeric::special_arith('%', &a[0], &a[1]),
        _ => Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("{name}() of an infinite numeric is not supported"),
        )),
    })
}

fn dec(a: &[Value], i: usize) -> Decimal {
    match a.get(i) {
        Some(Value::Numeric(d)) => *d,
        Some(v) => match crate::cast::cast(v.clone(), &T::Numeric(None)) {
            Ok(Value::Numeric(d)) => d,
            _ => Decimal::ZERO,
        },
        None => Decimal::ZERO,
    }
}

/// 16 significant digits (at least `min_scale` decimals), as PostgreSQL's
/// transcendental numeric functions.
fn scaled16(v: Decimal, min_scale: u32) -> Decimal {
    let f = numeric::to_f64(&v);
    let mag = if f != 0.0 {
        f.abs().log10().trunc() as i32
    } else {
        0
    };
    let scale = ((16 - mag).max(min_scale as i32).max(0) as u32).min(numeric::MAX_SCALE);
    numeric::round_to_scale(v, scale)
}

fn abs(a: &[Value]) -> PgResult<Value> {
    Ok(match &a[0] {
        Value::Int2(x) => Value::Int2(x.checked_abs().ok_or_else(|| int_out_of_range(&T::Int2))?),
        Value::Int4(x) => Value::Int4(x.checked_abs().ok_or_else(|| int_out_of_range(&T::Int4))?),
        Value::Int8(x) => Value::Int8(x.checked_abs().ok_or_else(|| int_out_of_range(&T::Int8))?),
        Value::Float4(x) => Value::Float4(x.abs()),
        Value::Float8(x) => Value::Float8(x.abs()),
        v => Value::Numeric(dec(std::slice::from_ref(v), 0).abs()),
    })
}

fn round_numeric(a: &[Value], strategy: RoundingStrategy) -> PgResult<Value> {
    let x = dec(a, 0);
    let places = if a.len() > 1 { arg_i64(a, 1)? } else { 0 };
    if places >= 0 {
        let p = (places as u32).min(numeric::MAX_SCALE);
        let mut v = x.round_dp_with_strategy(p, strategy);
        if v.scale() < p {
            v.rescale(p);
        }
        return Ok(Value::Numeric(numeric::normalize_zero(v)));
    }
    // negative places: round to tens, hundreds, ...
    let factor = Decimal::from_i128_with_scale(10i128.pow((-places).min(28) as u32), 0);
    let v = (x / factor).round_dp_with_strategy(0, strategy) * factor;
    Ok(Value::Numeric(numeric::normalize_zero(v.trunc())))
}

fn sqrt_numeric(a: &[Value]) -> PgResult<Value> {
    let x = dec(a, 0);
    if x.is_sign_negative() && !x.is_zero() {
        return Err(PgError::new(
            SqlState("2201F"),
            "cannot take square root of a negative number",
        ));
    }
    let root = x.sqrt().ok_or_else(numeric::overflow)?;
    // PostgreSQL: 16 significant digits counted from the argument's base-10000 weight
    let int_digits = numeric::integer_digits(&x) as i32;
    let weight = if int_digits > 0 {
        (int_digits - 1) / 4
    } else {
        -1
    };
    let sweight = (weight + 1) * 4 / 2 - 1;
    let scale = ((16 - sweight).max(x.scale() as i32).max(0) as u32).min(numeric::MAX_SCALE);
    Ok(Value::Numeric(numeric::round_to_scale(root, scale)))
}

fn check_log_arg(x: Decimal) -> PgResult<Decimal> {
    if x.is_zero() {
        return Err(PgError::new(
            SqlState("2201E"),
            "cannot take logarithm of zero",
        ));
    }
    if x.is_sign_negative() {
        return Err(PgError::new(
            SqlState("2201E"),
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(x)
}

fn float_log(x: f64) -> PgResult<f64> {
    if x == 0.0 {
        return Err(PgError::new(
            SqlState("2201E"),
            "cannot take logarithm of zero",
        ));
    }
    if x < 0.0 {
        return Err(PgError::new(
            SqlState("2201E"),
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(x)
}

fn log10_numeric(a: &[Value]) -> PgResult<Value> {
    let x = check_log_arg(dec(a, 0))?;
    let v = x.checked_log10().ok_or_else(numeric::overflow)?;
    // exact powers of ten come out exact
    let v = if let Some(f) = v.to_f64().filter(|f| (f - f.round()).abs() < 1e-20) {
        Decimal::from(f.round() as i64)
    } else {
        v
    };
    Ok(Value::Numeric(scaled16(v, x.scale())))
}

fn int_mod(a: &[Value]) -> PgResult<Value> {
    let x = arg_i64(a, 0)?;
    let y = arg_i64(a, 1)?;
    if y == 0 {
        return Err(division_by_zero());
    }
    let v = x.wrapping_rem(y);
    Ok(match &a[0] {
        Value::Int2(_) => Value::Int2(v as i16),
        Value::Int4(_) => Value::Int4(v as i32),
        _ => Value::Int8(v),
    })
}

fn gcd_u(mut x: u128, mut y: u128) -> u128 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

fn int_result(v: i128, like: &Value) -> PgResult<Value> {
    Ok(match like {
        Value::Int4(_) => Value::Int4(i32::try_from(v).map_err(|_| int_out_of_range(&T::Int4))?),
        _ => Value::Int8(i64::try_from(v).map_err(|_| int_out_of_range(&T::Int8))?),
    })
}

fn gcd(a: &[Value]) -> PgResult<Value> {
    let (x, y) = (arg_i64(a, 0)? as i128, arg_i64(a, 1)? as i128);
    int_result(gcd_u(x.unsigned_abs(), y.unsigned_abs()) as i128, &a[0])
}

fn lcm(a: &[Value]) -> PgResult<Value> {
    let (x, y) = (arg_i64(a, 0)? as i128, arg_i64(a, 1)? as i128);
    if x == 0 || y == 0 {
        return int_result(0, &a[0]);
    }
    let g = gcd_u(x.unsigned_abs(), y.unsigned_abs()) as i128;
    int_result((x / g * y).abs(), &a[0])
}

/// `GREATEST(...)` / `LEAST(...)`: NULLs are ignored; all NULL gives NULL.
/// (The syntax is the query crate's; it coerces the arguments to a common type.)
pub fn greatest_least(values: Vec<Value>, greatest: bool) -> Value {
    let mut best: Option<Value> = None;
    for v in values.into_iter().filter(|v| !v.is_null()) {
        best = Some(match best {
            None => v,
            Some(b) => {
                let o = compare(&v, &b);
                if (greatest && o == std::cmp::Ordering::Greater)
                    || (!greatest && o == std::cmp::Ordering::Less)
                {
                    v
                } else {
                    b
                }
            }
        });
    }
    best.unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::call_pure;
    use crate::io_text::to_text;

    fn num(s: &str) -> Value {
        Value::Numeric(numeric::parse(s).unwrap())
    }
    fn f(name: &str, args: Vec<Value>) -> String {
        match call_pure(name, args) {
            Ok(v) => to_text(&v),
            Err(e) => format!("ERROR {}: {}", e.code.0, e.message),
        }
    }

    /// Expected values checked against PostgreSQL 15.
    #[test]
    fn rounding_family() {
        assert_eq!(f("round", vec![Value::Int4(5)]), "5");
        assert_eq!(f("round", vec![num("2.5")]), "3");
        assert_eq!(f("round", vec![Value::Float8(2.5)]), "2");
        assert_eq!(f("round", vec![Value::Float8(-2.5)]), "-2");
        assert_eq!(f("round", vec![num("-2.567"), Value::Int4(2)]), "-2.57");
        assert_eq!(f("round", vec![num("1234.5"), Value::Int4(-2)]), "1200");
        assert_eq!(f("round", vec![num("2"), Value::Int4(2)]), "2.00");
        assert_eq!(f("trunc", vec![num("2.789"), Value::Int4(1)]), "2.7");
        assert_eq!(f("trunc", vec![num("-2.7")]), "-2");
        assert_eq!(f("trunc", vec![Value::Float8(2.7)]), "2");
        assert_eq!(f("ceil", vec![num("2.1")]), "3");
        assert_eq!(f("ceil", vec![num("-0.5")]), "0");
        assert_eq!(f("floor", vec![num("-2.1")]), "-3");
        assert_eq!(f("ceiling", vec![Value::Float8(2.5)]), "3");
        assert_eq!(f("floor", vec![num("2.5")]), "2");
    }

    #[test]
    fn transcendental() {
        assert_eq!(f("sqrt", vec![Value::Int4(2)]), "1.4142135623730951");
        assert_eq!(f("sqrt", vec![num("2")]), "1.414213562373095");
        assert_eq!(f("sqrt", vec![num("16.0")]), "4.000000000000000");
        assert_eq!(
            f("sqrt", vec![Value::Int4(-1)]),
            "ERROR 2201F: cannot take square root of a negative number"
        );
        assert_eq!(f("power", vec![Value::Int4(2), Value::Int4(10)]), "1024");
        assert_eq!(
            f("power", vec![num("2.0"), num("0.5")]),
            "1.4142135623730950"
        );
        assert_eq!(f("exp", vec![num("1.0")]), "2.7182818284590452");
        assert_eq!(f("ln", vec![num("2.0")]), "0.6931471805599453");
        assert_eq!(
            f("ln", vec![Value::Int4(0)]),
            "ERROR 2201E: cannot take logarithm of zero"
        );
        assert_eq!(f("log", vec![num("1000.0")]), "3.0000000000000000");
        assert_eq!(f("log", vec![Value::Int4(100)]), "2");
        assert_eq!(f("log", vec![num("2"), num("8")]), "3.0000000000000000");
        assert_eq!(f("exp", vec![Value::Int4(1)]), "2.718281828459045");
        assert_eq!(f("ln", vec![Value::Int4(10)]), "2.302585092994046");
        assert_eq!(f("pi", vec![]), "3.141592653589793");
        assert_eq!(f("cbrt", vec![Value::Float8(27.0)]), "3");
        assert_eq!(
            f("degrees", vec![Value::Float8(std::f64::consts::PI)]),
            "180"
        );
    }

    #[test]
    fn integer_helpers() {
        assert_eq!(f("abs", vec![Value::Int2(-2)]), "2");
        assert_eq!(
            f("abs", vec![Value::Int4(i32::MIN)]),
            "ERROR 22003: integer out of range"
        );
        assert_eq!(f("abs", vec![num("-1.50")]), "1.50");
        assert_eq!(f("mod", vec![Value::Int4(7), Value::Int4(3)]), "1");
        assert_eq!(f("mod", vec![num("-7.5"), Value::Int4(2)]), "-1.5");
        assert_eq!(
            f("mod", vec![Value::Int4(5), Value::Int4(0)]),
            "ERROR 22012: division by zero"
        );
        assert_eq!(f("div", vec![Value::Int4(7), Value::Int4(2)]), "3");
        assert_eq!(f("gcd", vec![Value::Int4(12), Value::Int4(18)]), "6");
        assert_eq!(f("lcm", vec![Value::Int4(4), Value::Int4(6)]), "12");
        assert_eq!(f("sign", vec![Value::Int4(-3)]), "-1");
        assert_eq!(f("sign", vec![num("-2.5")]), "-1");
        let r = call_pure("random", vec![]).unwrap();
        assert!(matches!(r, Value::Float8(x) if (0.0..1.0).contains(&x)));
        assert_eq!(
            greatest_least(vec![Value::Int4(1), Value::Null, Value::Int4(3)], true),
            Value::Int4(3)
        );
        assert_eq!(
            greatest_least(vec![Value::Int4(1), Value::Null, Value::Int4(3)], false),
            Value::Int4(1)
        );
        assert_eq!(greatest_least(vec![Value::Null], true), Value::Null);
    }
}
