//! Operators: type resolution (`binary_op_type`) and evaluation (`binary_op`,
//! `unary_op`).
//!
//! Resolution mirrors what PostgreSQL's `oper()` picks from `pg_operator` for the
//! types tandem has: `int2 + int2 = int2`, mixed integer widths widen, integers
//! with numeric give numeric, anything with a float gives `double precision`
//! (`real` only for `real op real`), `^` is `double precision` unless numeric is
//! involved, `date - date = integer`, `timestamp - timestamp = interval`,
//! `pg_lsn - pg_lsn = numeric`, `text || anynonarray = text`. An unknown literal
//! adopts the other side's type. No match is `42883 operator does not exist:
//! integer + text` with PostgreSQL's hint.
//!
//! Evaluation first coerces both operands to the resolved operand types, then
//! computes with PostgreSQL's errors (`22003 integer out of range`,
//! `22012 division by zero`, `22003 value out of range: overflow`).
//! Corresponds to PostgreSQL's `parser/parse_oper.c` and the operator functions
//! in `utils/adt/` (`int.c`, `int8.c`, `float.c`, `numeric.c`, `timestamp.c`,
//! `pg_lsn.c`, `varlena.c`).

use rust_decimal::{Decimal, MathematicalOps};
use tandem_types::{DataType, Lsn, NumericSpecial, PgError, PgResult, SqlState, Value};

use crate::cast::{base_type, can_implicit_cast, cast, is_string_type, numeric_rank, value_type};
use crate::compare::compare;
use crate::datetime::{interval_mul, ts_add_interval, ts_diff, tstz_add_interval, USECS_PER_DAY};
use crate::errors::{
    division_by_zero, float_overflow, float_underflow, int_out_of_range, type_name,
};
use crate::io_text::to_text;
use crate::{numeric, pattern, BinOp, UnaryOp};

/// PostgreSQL's spelling of the operator (`~~` for LIKE).
pub fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Pow => "^",
        BinOp::Eq => "=",
        BinOp::NotEq => "<>",
        BinOp::Lt => "<",
        BinOp::LtEq => "<=",
        BinOp::Gt => ">",
        BinOp::GtEq => ">=",
        BinOp::Concat => "||",
        BinOp::Like => "~~",
        BinOp::NotLike => "!~~",
        BinOp::ILike => "~~*",
        BinOp::NotILike => "!~~*",
        BinOp::RegexMatch => "~",
        BinOp::RegexIMatch => "~*",
        BinOp::RegexNotMatch => "!~",
        BinOp::RegexNotIMatch => "!~*",
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "#",
        BinOp::ShiftLeft => "<<",
        BinOp::ShiftRight => ">>",
        BinOp::Contains => "@>",
        BinOp::ContainedBy => "<@",
        BinOp::Overlaps => "&&",
        BinOp::JsonGet => "->",
        BinOp::JsonGetText => "->>",
        BinOp::JsonPath => "#>",
        BinOp::JsonPathText => "#>>",
        BinOp::JsonExists => "?",
        BinOp::JsonExistsAny => "?|",
        BinOp::JsonExistsAll => "?&",
        BinOp::JsonContains => "@>",
        BinOp::JsonContainedBy => "<@",
        BinOp::JsonConcat => "||",
        BinOp::JsonDelete => "-",
    }
}

/// `@>`, `<@`, `&&` on arrays (PostgreSQL's `arraycontains` and friends):
/// elements compared by equality, duplicates and order ignored; a NULL
/// element never matches.
fn array_containment(op: BinOp, l: &Value, r: &Value) -> PgResult<Value> {
    let (Value::Array(a), Value::Array(b)) = (l, r) else {
        return Err(PgError::internal(
            "array operator on a value that is not an array",
        ));
    };
    let has = |xs: &[Value], v: &Value| {
        !v.is_null() && xs.iter().any(|x| !x.is_null() && compare(x, v).is_eq())
    };
    // every element of `inner` is in `outer`
    let contains = |outer: &[Value], inner: &[Value]| inner.iter().all(|v| has(outer, v));
    Ok(Value::Bool(match op {
        BinOp::Contains => contains(a, b),
        BinOp::ContainedBy => contains(b, a),
        _ => a.iter().any(|v| has(b, v)),
    }))
}

fn no_operator(op: BinOp, l: &DataType, r: &DataType) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {} {}", type_name(l), op_symbol(op), type_name(r)),
    )
    .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

fn not_unique(op: BinOp, l: &DataType, r: &DataType) -> PgError {
    PgError::new(
        SqlState("42725"),
        format!(
            "operator is not unique: {} {} {}",
            type_name(l),
            op_symbol(op),
            type_name(r)
        ),
    )
    .with_hint(
        "Could not choose a best candidate operator. You might need to add explicit type casts.",
    )
}

fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date | DataType::Timestamp | DataType::TimestampTz
    )
}

/// Arithmetic result type of two numeric types.
fn numeric_result(l: &DataType, r: &DataType) -> DataType {
    match (l, r) {
        (DataType::Float4, DataType::Float4) => DataType::Float4,
        _ if matches!(l, DataType::Float4 | DataType::Float8)
            || matches!(r, DataType::Float4 | DataType::Float8) =>
        {
            DataType::Float8
        }
        _ if matches!(l, DataType::Numeric(_)) || matches!(r, DataType::Numeric(_)) => {
            DataType::Numeric(None)
        }
        _ => {
            if numeric_rank(l) >= numeric_rank(r) {
                base_type(l)
            } else {
                base_type(r)
            }
        }
    }
}

/// The unknown side of a date/time operator: what the literal must be.
fn datetime_partner(op: BinOp, known: &DataType) -> DataType {
    match (op, known) {
        (BinOp::Add, DataType::Timestamp | DataType::TimestampTz | DataType::Time) => {
            DataType::Interval
        }
        (BinOp::Sub, DataType::Timestamp | DataType::TimestampTz | DataType::Time) => known.clone(),
        (BinOp::Add, DataType::Date) => DataType::Int4,
        (BinOp::Mul | BinOp::Div, DataType::Interval) => DataType::Float8,
        (BinOp::Add | BinOp::Sub, DataType::PgLsn) => DataType::PgLsn,
        _ => known.clone(),
    }
}

/// Resolved operator: (left operand type, right operand type, result type).
pub fn resolve_binary(
    op: BinOp,
    l: &DataType,
    r: &DataType,
) -> PgResult<(DataType, DataType, DataType)> {
    use DataType as T;
    let (l_orig, r_orig) = (l, r);
    let unknown_l = *l == T::Unknown;
    let unknown_r = *r == T::Unknown;
    if unknown_l && unknown_r {
        if matches!(op, BinOp::Concat) || op.is_comparison() || op.is_pattern() {
            let ret = if op == BinOp::Concat {
                T::Text
            } else {
                T::Bool
            };
            return Ok((T::Text, T::Text, ret));
        }
        return Err(not_unique(op, l, r));
    }
    // an unknown literal adopts the other side's type (or the one the operator needs)
    let (l, r) = if unknown_l {
        let t = match op {
            BinOp::Concat | BinOp::Like | BinOp::NotLike | BinOp::ILike | BinOp::NotILike => {
                if matches!(r, T::Array(_)) {
                    r.clone()
                } else if *r == T::Bytea {
                    T::Bytea
                } else {
                    T::Text
                }
            }
            _ if op.is_pattern() => T::Text,
            _ if op.is_comparison() => r.clone(),
            _ => match r {
                T::Interval if op == BinOp::Add => T::Timestamp,
                T::Date | T::Timestamp | T::TimestampTz if op == BinOp::Add => T::Interval,
                _ => r.clone(),
            },
        };
        (t, r.clone())
    } else if unknown_r {
        let t = match op {
            BinOp::Concat => {
                if let T::Array(_) = l {
                    l.clone()
                } else if *l == T::Bytea {
                    T::Bytea
                } else {
                    T::Text
                }
            }
            _ if op.is_pattern() => {
                if *l == T::Bytea {
                    T::Bytea
                } else {
                    T::Text
                }
            }
            BinOp::ShiftLeft | BinOp::ShiftRight => T::Int4,
            _ if op.is_comparison() => l.clone(),
            _ => datetime_partner(op, l),
        };
        (l.clone(), t)
    } else {
        (l.clone(), r.clone())
    };
    resolve_known(op, &l, &r).ok_or_else(|| no_operator(op, l_orig, r_orig))
}

fn resolve_known(op: BinOp, l: &DataType, r: &DataType) -> Option<(DataType, DataType, DataType)> {
    use DataType as T;
    let num_l = numeric_rank(l).is_some();
    let num_r = numeric_rank(r).is_some();
    let same = |t: DataType, ret: DataType| Some((t.clone(), t, ret));
    match op {
        _ if op.is_comparison() => {
            if num_l && num_r {
                let t = numeric_result(l, r);
                return Some((t.clone(), t, T::Bool));
            }
            if (is_string_type(l) || *l == T::Char) && (is_string_type(r) || *r == T::Char) {
                return same(T::Text, T::Bool);
            }
            if is_datetime(l) && is_datetime(r) {
                let t = if *l == T::TimestampTz || *r == T::TimestampTz {
                    T::TimestampTz
                } else if *l == T::Timestamp || *r == T::Timestamp {
                    T::Timestamp
                } else {
                    T::Date
                };
                return same(t, T::Bool);
            }
            let reg = |t: &T| {
                matches!(
                    t,
                    T::Oid | T::RegClass | T::RegType | T::RegProc | T::RegNamespace
                )
            };
            if (reg(l) && (reg(r) || is_int(r))) || (is_int(l) && reg(r)) {
                return same(T::Oid, T::Bool);
            }
            if *l == T::Xid && (*r == T::Xid || *r == T::Int4) {
                return same(T::Xid, T::Bool);
            }
            if matches!(l, T::Json) || matches!(r, T::Json) {
                return None;
            }
            if let (T::Array(a), T::Array(b)) = (l, r) {
                resolve_known(op, a, b)?;
                return Some((l.clone(), r.clone(), T::Bool));
            }
            if base_type(l) == base_type(r) && !matches!(l, T::Void | T::Unknown) {
                return Some((l.clone(), r.clone(), T::Bool));
            }
            None
        }
        BinOp::Contains | BinOp::ContainedBy | BinOp::Overlaps => match (l, r) {
            // anyarray op anyarray: both sides of one element type
            (T::Array(a), T::Array(b)) if base_type(a) == base_type(b) => {
                Some((l.clone(), r.clone(), T::Bool))
            }
            _ => None,
        },
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arith(op, l, r),
        BinOp::Pow => {
            if !(num_l && num_r) {
                return None;
            }
            let t = if matches!(numeric_result(l, r), T::Numeric(_)) {
                T::Numeric(None)
            } else {
                T::Float8
            };
            Some((t.clone(), t.clone(), t))
        }
        BinOp::Concat => {
            match (l, r) {
                (T::Array(a), T::Array(b))
                    if can_implicit_cast(b, a) || can_implicit_cast(a, b) =>
                {
                    let t = if can_implicit_cast(b, a) {
                        l.clone()
                    } else {
                        r.clone()
                    };
                    return Some((t.clone(), t.clone(), t));
                }
                (T::Array(a), e) if can_implicit_cast(e, a) => {
                    return Some((l.clone(), (**a).clone(), l.clone()))
                }
                (e, T::Array(a)) if can_implicit_cast(e, a) => {
                    return Some(((**a).clone(), r.clone(), r.clone()))
                }
                (T::Bytea, T::Bytea) => return same(T::Bytea, T::Bytea),
                _ => {}
            }
            let stringish = |t: &T| is_string_type(t) || *t == T::Char;
            let nonarray = |t: &T| !matches!(t, T::Array(_) | T::Void);
            if (stringish(l) && nonarray(r)) || (stringish(r) && nonarray(l)) {
                return Some((l.clone(), r.clone(), T::Text));
            }
            None
        }
        _ if op.is_pattern() => {
            let like = matches!(
                op,
                BinOp::Like | BinOp::NotLike | BinOp::ILike | BinOp::NotILike
            );
            if (is_string_type(l) || *l == T::Char) && is_string_type(r) {
                return same(T::Text, T::Bool);
            }
            if like
                && *l == T::Bytea
                && *r == T::Bytea
                && matches!(op, BinOp::Like | BinOp::NotLike)
            {
                return same(T::Bytea, T::Bool);
            }
            None
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            if is_int(l) && is_int(r) {
                let t = numeric_result(l, r);
                return Some((t.clone(), t.clone(), t));
            }
            None
        }
        BinOp::ShiftLeft | BinOp::ShiftRight => {
            if is_int(l) && is_int(r) {
                return Some((l.clone(), T::Int4, l.clone()));
            }
            None
        }
        _ => None,
    }
}

fn arith(op: BinOp, l: &DataType, r: &DataType) -> Option<(DataType, DataType, DataType)> {
    use DataType as T;
    if numeric_rank(l).is_some() && numeric_rank(r).is_some() {
        let t = numeric_result(l, r);
        if op == BinOp::Mod && matches!(t, T::Float4 | T::Float8) {
            return None;
        }
        return Some((t.clone(), t.clone(), t));
    }
    let ts = |t: &T| matches!(t, T::Timestamp | T::TimestampTz);
    match (op, l, r) {
        (BinOp::Add, T::Date, r) if is_int(r) => Some((T::Date, T::Int4, T::Date)),
        (BinOp::Add, l, T::Date) if is_int(l) => Some((T::Int4, T::Date, T::Date)),
        (BinOp::Sub, T::Date, r) if is_int(r) => Some((T::Date, T::Int4, T::Date)),
        (BinOp::Sub, T::Date, T::Date) => Some((T::Date, T::Date, T::Int4)),
        (BinOp::Add | BinOp::Sub, T::Date, T::Interval) => {
            Some((T::Timestamp, T::Interval, T::Timestamp))
        }
        (BinOp::Add, T::Interval, T::Date) => Some((T::Interval, T::Timestamp, T::Timestamp)),
        (BinOp::Add | BinOp::Sub, l, T::Interval) if ts(l) => {
            Some((l.clone(), T::Interval, l.clone()))
        }
        (BinOp::Add, T::Interval, r) if ts(r) => Some((T::Interval, r.clone(), r.clone())),
        (BinOp::Add | BinOp::Sub, T::Time, T::Interval) => Some((T::Time, T::Interval, T::Time)),
        (BinOp::Add, T::Interval, T::Time) => Some((T::Interval, T::Time, T::Time)),
        (BinOp::Sub, T::Time, T::Time) => Some((T::Time, T::Time, T::Interval)),
        (BinOp::Add, T::Date, T::Time) => Some((T::Date, T::Time, T::Timestamp)),
        (BinOp::Add, T::Time, T::Date) => Some((T::Time, T::Date, T::Timestamp)),
        (BinOp::Sub, l, r) if is_datetime(l) && is_datetime(r) => {
            let t = if *l == T::TimestampTz || *r == T::TimestampTz {
                T::TimestampTz
            } else {
                T::Timestamp
            };
            Some((t.clone(), t, T::Interval))
        }
        (BinOp::Add | BinOp::Sub, T::Interval, T::Interval) => {
            Some((T::Interval, T::Interval, T::Interval))
        }
        (BinOp::Mul, T::Interval, r) if numeric_rank(r).is_some() => {
            Some((T::Interval, T::Float8, T::Interval))
        }
        (BinOp::Mul, l, T::Interval) if numeric_rank(l).is_some() => {
            Some((T::Float8, T::Interval, T::Interval))
        }
        (BinOp::Div, T::Interval, r) if numeric_rank(r).is_some() => {
            Some((T::Interval, T::Float8, T::Interval))
        }
        (BinOp::Sub, T::PgLsn, T::PgLsn) => Some((T::PgLsn, T::PgLsn, T::Numeric(None))),
        (BinOp::Add | BinOp::Sub, T::PgLsn, r) if numeric_rank(r).is_some_and(|k| k <= 3) => {
            Some((T::PgLsn, T::Numeric(None), T::PgLsn))
        }
        (BinOp::Add, l, T::PgLsn) if numeric_rank(l).is_some_and(|k| k <= 3) => {
            Some((T::Numeric(None), T::PgLsn, T::PgLsn))
        }
        _ => None,
    }
}

/// Result type of `l op r`, or `42883 operator does not exist: integer + text`.
pub fn binary_op_type(op: BinOp, l: &DataType, r: &DataType) -> PgResult<DataType> {
    if op.is_json() {
        return crate::json::op_type(op, l, r).ok_or_else(|| no_operator(op, l, r));
    }
    resolve_binary(op, l, r).map(|(_, _, ret)| ret)
}

/// The type a runtime value stands for: a string next to a non-string is an
/// unknown literal that was never coerced.
fn runtime_types(l: &Value, r: &Value) -> (DataType, DataType) {
    let lt = value_type(l);
    let rt = value_type(r);
    let stringish = |t: &DataType| {
        is_string_type(t) || matches!(t, DataType::Char | DataType::Array(_) | DataType::Bytea)
    };
    let lt2 = if lt == DataType::Text && !stringish(&rt) {
        DataType::Unknown
    } else {
        lt.clone()
    };
    let rt2 = if rt == DataType::Text && !stringish(&lt) {
        DataType::Unknown
    } else {
        rt
    };
    (lt2, rt2)
}

fn coerce(v: Value, to: &DataType) -> PgResult<Value> {
    let vt = value_type(&v);
    if base_type(&vt) == base_type(to) && !matches!(to, DataType::Array(_)) {
        return Ok(v);
    }
    cast(v, to)
}

/// Evaluates `l op r`; NULL in gives NULL out.
pub fn binary_op(op: BinOp, l: Value, r: Value) -> PgResult<Value> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    if op.is_json() {
        return crate::json::binary_op(op, l, r);
    }
    let (lt, rt) = runtime_types(&l, &r);
    let (lc, rc, ret) = resolve_binary(op, &lt, &rt)?;
    let l = coerce(l, &lc)?;
    let r = coerce(r, &rc)?;
    if op.is_comparison() {
        let o = compare(&l, &r);
        use std::cmp::Ordering::*;
        return Ok(Value::Bool(match op {
            BinOp::Eq => o == Equal,
            BinOp::NotEq => o != Equal,
            BinOp::Lt => o == Less,
            BinOp::LtEq => o != Greater,
            BinOp::Gt => o == Greater,
            _ => o != Less,
        }));
    }
    match op {
        BinOp::Concat => concat(l, r),
        BinOp::Contains | BinOp::ContainedBy | BinOp::Overlaps => array_containment(op, &l, &r),
        BinOp::Like | BinOp::NotLike | BinOp::ILike | BinOp::NotILike => {
            let negate = matches!(op, BinOp::NotLike | BinOp::NotILike);
            let m = match (&l, &r) {
                (Value::Bytea(a), Value::Bytea(b)) => pattern::like_bytes(a, b)?,
                _ => pattern::like(
                    &to_text(&l),
                    &to_text(&r),
                    Some('\\'),
                    matches!(op, BinOp::ILike | BinOp::NotILike),
                )?,
            };
            Ok(Value::Bool(m != negate))
        }
        BinOp::RegexMatch | BinOp::RegexIMatch | BinOp::RegexNotMatch | BinOp::RegexNotIMatch => {
            let ci = matches!(op, BinOp::RegexIMatch | BinOp::RegexNotIMatch);
            let negate = matches!(op, BinOp::RegexNotMatch | BinOp::RegexNotIMatch);
            Ok(Value::Bool(
                pattern::regex_match(&to_text(&l), &to_text(&r), ci)? != negate,
            ))
        }
        _ => arithmetic(op, l, r, &ret),
    }
}

fn concat(l: Value, r: Value) -> PgResult<Value> {
    Ok(match (l, r) {
        (Value::Array(mut a), Value::Array(b)) => {
            if a.is_empty() {
                Value::Array(b)
            } else if b.is_empty() {
                Value::Array(a)
            } else if matches!(a.first(), Some(Value::Array(_)))
                && !matches!(b.first(), Some(Value::Array(_)))
            {
                // 2-D || 1-D appends a row
                a.push(Value::Array(b));
                Value::Array(a)
            } else {
                a.extend(b);
                Value::Array(a)
            }
        }
        (Value::Array(mut a), e) => {
            a.push(e);
            Value::Array(a)
        }
        (e, Value::Array(mut a)) => {
            a.insert(0, e);
            Value::Array(a)
        }
        (Value::Bytea(mut a), Value::Bytea(b)) => {
            a.extend(b);
            Value::Bytea(a)
        }
        (a, b) => {
            let mut s = to_text(&a);
            s.push_str(&to_text(&b));
            Value::Text(s)
        }
    })
}

fn int_value(v: &Value) -> Option<i128> {
    match v {
        Value::Int2(x) => Some(*x as i128),
        Value::Int4(x) => Some(*x as i128),
        Value::Int8(x) => Some(*x as i128),
        _ => None,
    }
}

fn make_int(v: i128, ty: &DataType) -> PgResult<Value> {
    let err = || int_out_of_range(ty);
    Ok(match ty {
        DataType::Int2 => Value::Int2(i16::try_from(v).map_err(|_| err())?),
        DataType::Int4 => Value::Int4(i32::try_from(v).map_err(|_| err())?),
        _ => Value::Int8(i64::try_from(v).map_err(|_| err())?),
    })
}

fn float_result(r: f64, a: f64, b: f64, zero_ok: bool) -> PgResult<f64> {
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    if r == 0.0 && !zero_ok {
        return Err(float_underflow());
    }
    Ok(r)
}

fn pow_error(msg: &str) -> PgError {
    PgError::new(SqlState("2201F"), msg.to_string())
}

/// `float8 ^ float8` with PostgreSQL's domain errors.
pub fn float_pow(a: f64, b: f64) -> PgResult<f64> {
    if a == 0.0 && b < 0.0 {
        return Err(pow_error("zero raised to a negative power is undefined"));
    }
    if a < 0.0 && b.fract() != 0.0 && b.is_finite() {
        return Err(pow_error(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = a.powf(b);
    float_result(r, a, b, a == 0.0 || r != 0.0 || b.is_infinite())
}

/// `numeric ^ numeric`: exact for integer exponents, 16 significant digits.
pub fn numeric_pow(a: Decimal, b: Decimal) -> PgResult<Decimal> {
    if a.is_zero() && b.is_sign_negative() && !b.is_zero() {
        return Err(pow_error("zero raised to a negative power is undefined"));
    }
    if a.is_sign_negative() && !a.is_zero() && !b.fract().is_zero() {
        return Err(pow_error(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    if b.fract().is_zero() && b.abs() <= Decimal::from(1000) {
        let e = i64::try_from(b.trunc()).unwrap_or(0);
        let powi = |n: i64| (0..n).try_fold(Decimal::ONE, |acc, _| acc.checked_mul(a));
        let exact = if e >= 0 {
            powi(e)
        } else {
            powi(-e).and_then(|p| Decimal::ONE.checked_div(p))
        };
        if let Some(p) = exact {
            let scale = 16u32.max(a.scale()).max(b.scale());
            return Ok(numeric::round_to_scale(p, scale));
        }
    }
    let approx = numeric::to_f64(&a).powf(numeric::to_f64(&b));
    if !approx.is_finite() {
        return Err(numeric::overflow());
    }
    let mag = if approx != 0.0 {
        approx.abs().log10() as i32
    } else {
        0
    };
    let scale = ((16 - mag)
        .max(a.scale() as i32)
        .max(b.scale() as i32)
        .max(0) as u32)
        .min(numeric::MAX_SCALE);
    match a.checked_powd(b) {
        Some(p) => Ok(numeric::round_to_scale(p, scale)),
        None => numeric::from_f64_scaled(approx, scale),
    }
}

fn arithmetic(op: BinOp, l: Value, r: Value, ret: &DataType) -> PgResult<Value> {
    if let (Some(a), Some(b)) = (int_value(&l), int_value(&r)) {
        return int_arith(op, a, b, ret);
    }
    match (l, r) {
        (Value::Numeric(a), Value::Numeric(b)) => numeric_arith(op, a, b).map(Value::Numeric),
        (l @ (Value::Numeric(_) | Value::NumericSpecial(_)), r @ Value::NumericSpecial(_))
        | (l @ Value::NumericSpecial(_), r @ Value::Numeric(_)) => {
            let symbol = match op {
                BinOp::Add => '+',
                BinOp::Sub => '-',
                BinOp::Mul => '*',
                BinOp::Div => '/',
                BinOp::Mod => '%',
                _ => '^',
            };
            numeric::special_arith(symbol, &l, &r)
        }
        (Value::Float4(a), Value::Float4(b)) if *ret == DataType::Float4 => {
            float_arith(op, a as f64, b as f64).map(|v| Value::Float4(v as f32))
        }
        (Value::Float8(a), Value::Float8(b)) => float_arith(op, a, b).map(Value::Float8),
        (l, r) => datetime_arith(op, l, r),
    }
}

fn int_arith(op: BinOp, a: i128, b: i128, ret: &DataType) -> PgResult<Value> {
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0 {
                return Err(division_by_zero());
            }
            a / b
        }
        BinOp::Mod => {
            if b == 0 {
                return Err(division_by_zero());
            }
            a % b
        }
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
        BinOp::ShiftLeft | BinOp::ShiftRight => {
            let bits = match ret {
                DataType::Int2 => 16,
                DataType::Int4 => 32,
                _ => 64,
            };
            let sh = (b.rem_euclid(bits)) as u32;
            match ret {
                DataType::Int2 => {
                    let x = a as i16;
                    (if op == BinOp::ShiftLeft {
                        x.wrapping_shl(sh)
                    } else {
                        x.wrapping_shr(sh)
                    }) as i128
                }
                DataType::Int4 => {
                    let x = a as i32;
                    (if op == BinOp::ShiftLeft {
                        x.wrapping_shl(sh)
                    } else {
                        x.wrapping_shr(sh)
                    }) as i128
                }
                _ => {
                    let x = a as i64;
                    (if op == BinOp::ShiftLeft {
                        x.wrapping_shl(sh)
                    } else {
                        x.wrapping_shr(sh)
                    }) as i128
                }
            }
        }
        _ => {
            return Err(PgError::internal(format!(
                "unexpected integer operator {}",
                op_symbol(op)
            )))
        }
    };
    make_int(v, ret)
}

fn numeric_arith(op: BinOp, a: Decimal, b: Decimal) -> PgResult<Decimal> {
    let r = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => return numeric::div(a, b),
        BinOp::Mod => {
            if b.is_zero() {
                return Err(division_by_zero());
            }
            a.checked_rem(b)
        }
        BinOp::Pow => return numeric_pow(a, b),
        _ => None,
    };
    r.map(numeric::normalize_zero).ok_or_else(numeric::overflow)
}

fn float_arith(op: BinOp, a: f64, b: f64) -> PgResult<f64> {
    match op {
        BinOp::Add => float_result(a + b, a, b, true),
        BinOp::Sub => float_result(a - b, a, b, true),
        BinOp::Mul => float_result(a * b, a, b, a == 0.0 || b == 0.0),
        BinOp::Div => {
            if b == 0.0 {
                return Err(division_by_zero());
            }
            float_result(a / b, a, b, a == 0.0 || b.is_infinite())
        }
        BinOp::Pow => float_pow(a, b),
        _ => Err(PgError::internal(format!(
            "unexpected float operator {}",
            op_symbol(op)
        ))),
    }
}

fn interval_overflow() -> PgError {
    PgError::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

fn interval_add(a: (i32, i32, i64), b: (i32, i32, i64), sign: i32) -> PgResult<Value> {
    let m =
        a.0.checked_add(b.0.checked_mul(sign).ok_or_else(interval_overflow)?)
            .ok_or_else(interval_overflow)?;
    let d =
        a.1.checked_add(b.1.checked_mul(sign).ok_or_else(interval_overflow)?)
            .ok_or_else(interval_overflow)?;
    let u =
        a.2.checked_add(b.2.checked_mul(sign as i64).ok_or_else(interval_overflow)?)
            .ok_or_else(interval_overflow)?;
    Ok(Value::Interval(m, d, u))
}

fn date_out_of_range() -> PgError {
    PgError::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")
}

fn lsn_out_of_range() -> PgError {
    PgError::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "pg_lsn out of range")
}

fn datetime_arith(op: BinOp, l: Value, r: Value) -> PgResult<Value> {
    use Value as V;
    let neg = |m: i32, d: i32, u: i64| (m.wrapping_neg(), d.wrapping_neg(), u.wrapping_neg());
    match (op, l, r) {
        (BinOp::Add, V::Date(d), V::Int4(n)) | (BinOp::Add, V::Int4(n), V::Date(d)) => {
            Ok(V::Date(d.checked_add(n).ok_or_else(date_out_of_range)?))
        }
        (BinOp::Sub, V::Date(d), V::Int4(n)) => {
            Ok(V::Date(d.checked_sub(n).ok_or_else(date_out_of_range)?))
        }
        (BinOp::Sub, V::Date(a), V::Date(b)) => Ok(V::Int4(a.checked_sub(b).ok_or_else(|| {
            PgError::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")
        })?)),
        (BinOp::Add, V::Timestamp(t), V::Interval(m, d, u))
        | (BinOp::Add, V::Interval(m, d, u), V::Timestamp(t)) => {
            Ok(V::Timestamp(ts_add_interval(t, m, d, u)?))
        }
        (BinOp::Sub, V::Timestamp(t), V::Interval(m, d, u)) => {
            let (m, d, u) = neg(m, d, u);
            Ok(V::Timestamp(ts_add_interval(t, m, d, u)?))
        }
        (BinOp::Add, V::TimestampTz(t), V::Interval(m, d, u))
        | (BinOp::Add, V::Interval(m, d, u), V::TimestampTz(t)) => {
            Ok(V::TimestampTz(tstz_add_interval(t, m, d, u)?))
        }
        (BinOp::Sub, V::TimestampTz(t), V::Interval(m, d, u)) => {
            let (m, d, u) = neg(m, d, u);
            Ok(V::TimestampTz(tstz_add_interval(t, m, d, u)?))
        }
        // time +/- interval wraps around midnight (the interval's time part only)
        (BinOp::Add, V::Time(t), V::Interval(_, _, u))
        | (BinOp::Add, V::Interval(_, _, u), V::Time(t)) => Ok(V::Time(
            (t + u.rem_euclid(USECS_PER_DAY)).rem_euclid(USECS_PER_DAY),
        )),
        (BinOp::Sub, V::Time(t), V::Interval(_, _, u)) => Ok(V::Time(
            (t - u.rem_euclid(USECS_PER_DAY)).rem_euclid(USECS_PER_DAY),
        )),
        (BinOp::Sub, V::Time(a), V::Time(b)) => Ok(V::Interval(0, 0, a - b)),
        (BinOp::Add, V::Date(d), V::Time(t)) | (BinOp::Add, V::Time(t), V::Date(d)) => {
            Ok(V::Timestamp(crate::datetime::ts_add_interval(
                d as i64 * USECS_PER_DAY,
                0,
                0,
                t,
            )?))
        }
        (BinOp::Sub, V::Timestamp(a), V::Timestamp(b))
        | (BinOp::Sub, V::TimestampTz(a), V::TimestampTz(b)) => {
            let (m, d, u) = ts_diff(a, b)?;
            Ok(V::Interval(m, d, u))
        }
        (BinOp::Add, V::Interval(m1, d1, u1), V::Interval(m2, d2, u2)) => {
            interval_add((m1, d1, u1), (m2, d2, u2), 1)
        }
        (BinOp::Sub, V::Interval(m1, d1, u1), V::Interval(m2, d2, u2)) => {
            interval_add((m1, d1, u1), (m2, d2, u2), -1)
        }
        (BinOp::Mul, V::Interval(m, d, u), V::Float8(f))
        | (BinOp::Mul, V::Float8(f), V::Interval(m, d, u)) => {
            let (m, d, u) = interval_mul(m, d, u, f)?;
            Ok(V::Interval(m, d, u))
        }
        (BinOp::Div, V::Interval(m, d, u), V::Float8(f)) => {
            if f == 0.0 {
                return Err(division_by_zero());
            }
            let (m, d, u) = interval_mul(m, d, u, 1.0 / f)?;
            Ok(V::Interval(m, d, u))
        }
        (BinOp::Sub, V::PgLsn(a), V::PgLsn(b)) => {
            Ok(V::Numeric(Decimal::from_i128_with_scale(a.diff(b), 0)))
        }
        (BinOp::Add | BinOp::Sub, V::PgLsn(a), V::Numeric(n))
        | (BinOp::Add | BinOp::Sub, V::Numeric(n), V::PgLsn(a)) => {
            if !n.fract().is_zero() {
                return Err(lsn_out_of_range());
            }
            let n = i128::try_from(n.trunc()).map_err(|_| lsn_out_of_range())?;
            let v = if op == BinOp::Add {
                a.0 as i128 + n
            } else {
                a.0 as i128 - n
            };
            if !(0..=u64::MAX as i128).contains(&v) {
                return Err(lsn_out_of_range());
            }
            Ok(V::PgLsn(Lsn(v as u64)))
        }
        (op, l, r) => Err(no_operator(op, &value_type(&l), &value_type(&r))),
    }
}

fn no_unary(op: UnaryOp, t: &DataType) -> PgError {
    let sym = match op {
        UnaryOp::Neg => "-",
        UnaryOp::Plus => "+",
        UnaryOp::BitNot => "~",
    };
    PgError::new(SqlState::UNDEFINED_FUNCTION, format!("operator does not exist: {sym} {}", type_name(t)))
        .with_hint("No operator matches the given name and argument type. You might need to add an explicit type cast.")
}

/// Result type of a prefix operator.
pub fn unary_op_type(op: UnaryOp, t: &DataType) -> PgResult<DataType> {
    match (op, t) {
        (UnaryOp::Neg | UnaryOp::Plus, t) if numeric_rank(t).is_some() => Ok(base_type(t)),
        (UnaryOp::Neg | UnaryOp::Plus, DataType::Interval) => Ok(DataType::Interval),
        (UnaryOp::BitNot, t) if is_int(t) => Ok(t.clone()),
        (_, DataType::Unknown) if op != UnaryOp::BitNot => Ok(DataType::Numeric(None)),
        _ => Err(no_unary(op, t)),
    }
}

/// Evaluates a prefix operator (`-x`, `+x`, `~x`).
pub fn unary_op(op: UnaryOp, v: Value) -> PgResult<Value> {
    let v = match v {
        Value::Text(s) => crate::io_text::text_in(&s, &DataType::Numeric(None))?,
        v => v,
    };
    Ok(match (op, v) {
        (_, Value::Null) => Value::Null,
        (
            UnaryOp::Plus,
            v @ (Value::Int2(_)
            | Value::Int4(_)
            | Value::Int8(_)
            | Value::Float4(_)
            | Value::Float8(_)
            | Value::Numeric(_)
            | Value::NumericSpecial(_)
            | Value::Interval(..)),
        ) => v,
        (UnaryOp::Neg, Value::Int2(x)) => Value::Int2(
            x.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int2))?,
        ),
        (UnaryOp::Neg, Value::Int4(x)) => Value::Int4(
            x.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int4))?,
        ),
        (UnaryOp::Neg, Value::Int8(x)) => Value::Int8(
            x.checked_neg()
                .ok_or_else(|| int_out_of_range(&DataType::Int8))?,
        ),
        (UnaryOp::Neg, Value::Float4(x)) => Value::Float4(-x),
        (UnaryOp::Neg, Value::Float8(x)) => Value::Float8(-x),
        (UnaryOp::Neg, Value::Numeric(x)) => Value::Numeric(numeric::normalize_zero(-x)),
        (UnaryOp::Neg, Value::NumericSpecial(s)) => Value::NumericSpecial(match s {
            NumericSpecial::Infinity => NumericSpecial::NegInfinity,
            NumericSpecial::NegInfinity => NumericSpecial::Infinity,
            NumericSpecial::NaN => NumericSpecial::NaN,
        }),
        (UnaryOp::Neg, Value::Interval(m, d, u)) => Value::Interval(
            m.checked_neg().ok_or_else(interval_overflow)?,
            d.checked_neg().ok_or_else(interval_overflow)?,
            u.checked_neg().ok_or_else(interval_overflow)?,
        ),
        (UnaryOp::BitNot, Value::Int2(x)) => Value::Int2(!x),
        (UnaryOp::BitNot, Value::Int4(x)) => Value::Int4(!x),
        (UnaryOp::BitNot, Value::Int8(x)) => Value::Int8(!x),
        (op, v) => return Err(no_unary(op, &value_type(&v))),
    })
}

/// Days between a date and 2000-01-01 as a timestamp (helper for functions).
pub fn date_to_ts(d: i32) -> i64 {
    d as i64 * USECS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType as T;

    fn ty(op: BinOp, l: T, r: T) -> String {
        binary_op_type(op, &l, &r)
            .map(|t| t.display_name())
            .unwrap_or_else(|e| e.message)
    }
    fn ev(op: BinOp, l: Value, r: Value) -> String {
        match binary_op(op, l, r) {
            Ok(v) => to_text(&v),
            Err(e) => format!("{}: {}", e.code.0, e.message),
        }
    }
    fn num(s: &str) -> Value {
        Value::Numeric(numeric::parse(s).unwrap())
    }

    /// Result types checked against `pg_typeof(...)` in PostgreSQL 15.
    #[test]
    fn result_types_match_postgres() {
        assert_eq!(ty(BinOp::Add, T::Float4, T::Int4), "double precision");
        assert_eq!(ty(BinOp::Add, T::Float4, T::Float4), "real");
        assert_eq!(ty(BinOp::Add, T::Int2, T::Int2), "smallint");
        assert_eq!(ty(BinOp::Add, T::Int2, T::Int4), "integer");
        assert_eq!(ty(BinOp::Mul, T::Int2, T::Int8), "bigint");
        assert_eq!(ty(BinOp::Add, T::Int8, T::Numeric(None)), "numeric");
        assert_eq!(
            ty(BinOp::Add, T::Numeric(None), T::Float8),
            "double precision"
        );
        assert_eq!(ty(BinOp::Pow, T::Int4, T::Int4), "double precision");
        assert_eq!(ty(BinOp::Pow, T::Numeric(None), T::Int4), "numeric");
        assert_eq!(ty(BinOp::Sub, T::TimestampTz, T::TimestampTz), "interval");
        assert_eq!(ty(BinOp::Sub, T::Date, T::Date), "integer");
        assert_eq!(ty(BinOp::Add, T::Date, T::Int4), "date");
        assert_eq!(
            ty(BinOp::Add, T::Date, T::Interval),
            "timestamp without time zone"
        );
        assert_eq!(ty(BinOp::Sub, T::PgLsn, T::PgLsn), "numeric");
        assert_eq!(ty(BinOp::BitXor, T::Int8, T::Int4), "bigint");
        assert_eq!(ty(BinOp::ShiftLeft, T::Int2, T::Int4), "smallint");
        assert_eq!(ty(BinOp::Mod, T::Int4, T::Int8), "bigint");
        assert_eq!(
            ty(BinOp::Add, T::TimestampTz, T::Unknown),
            "timestamp with time zone"
        );
        assert_eq!(ty(BinOp::Concat, T::Int8, T::Unknown), "text");
        assert_eq!(
            ty(BinOp::Concat, T::Array(Box::new(T::Int4)), T::Int4),
            "integer[]"
        );
        assert_eq!(ty(BinOp::Eq, T::Varchar(Some(3)), T::Text), "boolean");
        assert_eq!(ty(BinOp::Eq, T::Oid, T::Int4), "boolean");
    }

    #[test]
    fn missing_operators_are_reported_like_postgres() {
        let e = binary_op_type(BinOp::Add, &T::Int4, &T::Text).unwrap_err();
        assert_eq!(e.code.0, "42883");
        assert_eq!(e.message, "operator does not exist: integer + text");
        assert_eq!(
            e.hint.as_deref(),
            Some("No operator matches the given name and argument types. You might need to add explicit type casts.")
        );
        assert_eq!(
            ty(BinOp::Like, T::Int4, T::Unknown),
            "operator does not exist: integer ~~ unknown"
        );
        assert_eq!(
            ty(BinOp::Concat, T::Int4, T::Int4),
            "operator does not exist: integer || integer"
        );
        assert_eq!(
            ty(BinOp::Add, T::Varchar(Some(3)), T::Int4),
            "operator does not exist: character varying + integer"
        );
        assert_eq!(
            ty(BinOp::Add, T::Array(Box::new(T::Int4)), T::Int4),
            "operator does not exist: integer[] + integer"
        );
        assert_eq!(
            ty(BinOp::Add, T::Bool, T::Int4),
            "operator does not exist: boolean + integer"
        );
        assert_eq!(
            ty(BinOp::Mod, T::Float8, T::Int4),
            "operator does not exist: double precision % integer"
        );
        let e = binary_op_type(BinOp::Add, &T::Unknown, &T::Unknown).unwrap_err();
        assert_eq!(
            (e.code.0, e.message.as_str()),
            ("42725", "operator is not unique: unknown + unknown")
        );
        let e = unary_op_type(UnaryOp::Neg, &T::Text).unwrap_err();
        assert_eq!(e.message, "operator does not exist: - text");
        assert_eq!(e.hint.as_deref(), Some("No operator matches the given name and argument type. You might need to add an explicit type cast."));
    }

    #[test]
    fn integer_arithmetic() {
        assert_eq!(ev(BinOp::Div, Value::Int4(-7), Value::Int4(2)), "-3");
        assert_eq!(ev(BinOp::Mod, Value::Int4(7), Value::Int4(-3)), "1");
        assert_eq!(ev(BinOp::Mod, Value::Int4(-7), Value::Int4(3)), "-1");
        assert_eq!(
            ev(BinOp::Add, Value::Int4(i32::MAX), Value::Int4(1)),
            "22003: integer out of range"
        );
        assert_eq!(
            ev(BinOp::Mul, Value::Int8(i64::MAX), Value::Int4(2)),
            "22003: bigint out of range"
        );
        assert_eq!(
            ev(BinOp::Add, Value::Int2(i16::MAX), Value::Int2(1)),
            "22003: smallint out of range"
        );
        assert_eq!(
            ev(BinOp::Div, Value::Int4(1), Value::Int4(0)),
            "22012: division by zero"
        );
        assert_eq!(
            ev(BinOp::Div, Value::Int4(i32::MIN), Value::Int4(-1)),
            "22003: integer out of range"
        );
        assert_eq!(ev(BinOp::Mod, Value::Int4(i32::MIN), Value::Int4(-1)), "0");
        assert_eq!(
            ev(BinOp::Add, Value::Int4(1), Value::Text("41".into())),
            "42"
        );
        assert_eq!(ev(BinOp::BitXor, Value::Int4(5), Value::Int4(3)), "6");
        assert_eq!(ev(BinOp::ShiftLeft, Value::Int4(1), Value::Int4(4)), "16");
        assert_eq!(
            unary_op(UnaryOp::Neg, Value::Int4(i32::MIN))
                .unwrap_err()
                .message,
            "integer out of range"
        );
        assert_eq!(
            to_text(&unary_op(UnaryOp::BitNot, Value::Int4(0)).unwrap()),
            "-1"
        );
    }

    #[test]
    fn numeric_and_float_arithmetic() {
        assert_eq!(
            ev(BinOp::Div, num("10"), Value::Int4(4)),
            "2.5000000000000000"
        );
        assert_eq!(ev(BinOp::Mod, num("5.5"), Value::Int4(2)), "1.5");
        assert_eq!(ev(BinOp::Add, num("1.50"), num("1")), "2.50");
        assert_eq!(ev(BinOp::Pow, Value::Int4(2), Value::Int4(3)), "8");
        assert_eq!(
            ev(BinOp::Pow, num("2"), Value::Int4(10)),
            "1024.0000000000000000"
        );
        assert_eq!(
            ev(BinOp::Pow, num("10"), Value::Int4(-2)),
            "0.0100000000000000"
        );
        assert_eq!(ev(BinOp::Pow, num("2.0"), num("0.5")), "1.4142135623730950");
        assert_eq!(
            ev(BinOp::Pow, Value::Int4(0), Value::Int4(-1)),
            "2201F: zero raised to a negative power is undefined"
        );
        assert_eq!(
            ev(BinOp::Pow, Value::Float8(-8.0), Value::Float8(0.5)),
            "2201F: a negative number raised to a non-integer power yields a complex result"
        );
        assert_eq!(
            ev(BinOp::Mul, Value::Float8(1e300), Value::Float8(1e300)),
            "22003: value out of range: overflow"
        );
        assert_eq!(
            ev(BinOp::Div, Value::Float8(1.0), Value::Int4(0)),
            "22012: division by zero"
        );
        assert_eq!(ev(BinOp::Add, Value::Float4(1.5), Value::Int4(1)), "2.5");
        assert_eq!(
            ev(BinOp::Div, Value::Float8(1.0), Value::Float8(3.0)),
            "0.3333333333333333"
        );
    }

    #[test]
    fn comparisons_and_strings() {
        assert_eq!(ev(BinOp::Eq, Value::Int4(1), num("1.0")), "t");
        assert_eq!(
            ev(BinOp::Lt, Value::Text("a".into()), Value::Text("b".into())),
            "t"
        );
        assert_eq!(ev(BinOp::Eq, Value::Int4(1), Value::Text("1".into())), "t");
        assert_eq!(ev(BinOp::Eq, Value::Int4(1), Value::Null), "");
        assert_eq!(
            ev(BinOp::Concat, Value::Text("x".into()), Value::Bool(true)),
            "xt"
        );
        assert_eq!(
            ev(BinOp::Concat, Value::Text("x".into()), num("1.50")),
            "x1.50"
        );
        assert_eq!(ev(BinOp::Concat, Value::Text("x".into()), Value::Null), "");
        assert_eq!(
            ev(
                BinOp::Concat,
                Value::Array(vec![Value::Int4(1)]),
                Value::Int4(2)
            ),
            "{1,2}"
        );
        assert_eq!(
            ev(
                BinOp::Concat,
                Value::Array(vec![Value::Int4(1)]),
                Value::Array(vec![Value::Int4(2)])
            ),
            "{1,2}"
        );
        assert_eq!(
            ev(
                BinOp::Like,
                Value::Text("abc".into()),
                Value::Text("a%".into())
            ),
            "t"
        );
        assert_eq!(
            ev(
                BinOp::NotILike,
                Value::Text("ABC".into()),
                Value::Text("a%".into())
            ),
            "f"
        );
        assert_eq!(
            ev(
                BinOp::RegexNotMatch,
                Value::Text("pg_toast".into()),
                Value::Text("^pg_toast".into())
            ),
            "f"
        );
    }

    #[test]
    fn dates_intervals_lsns() {
        let d = |s: &str| crate::io_text::text_in(s, &T::Date).unwrap();
        let ts = |s: &str| crate::io_text::text_in(s, &T::Timestamp).unwrap();
        let iv = |s: &str| crate::io_text::text_in(s, &T::Interval).unwrap();
        assert_eq!(ev(BinOp::Sub, d("2026-03-01"), d("2026-02-01")), "28");
        assert_eq!(
            ev(BinOp::Add, d("2026-02-28"), Value::Int4(1)),
            "2026-03-01"
        );
        assert_eq!(
            ev(BinOp::Add, d("2026-01-31"), iv("1 mon")),
            "2026-02-28 00:00:00"
        );
        assert_eq!(
            ev(BinOp::Sub, ts("2026-01-02 01:00"), ts("2026-01-01")),
            "1 day 01:00:00"
        );
        assert_eq!(
            ev(BinOp::Add, ts("2026-01-01"), Value::Text("1 day".into())),
            "2026-01-02 00:00:00"
        );
        assert_eq!(ev(BinOp::Mul, iv("1 year"), num("1.5")), "1 year 6 mons");
        assert_eq!(ev(BinOp::Div, iv("1 day"), Value::Int4(3)), "08:00:00");
        assert_eq!(
            ev(BinOp::Lt, d("2026-01-01"), ts("2026-01-01 00:00:01")),
            "t"
        );
        let l = |s: &str| crate::io_text::text_in(s, &T::PgLsn).unwrap();
        assert_eq!(ev(BinOp::Sub, l("0/16B3748"), l("0/16B3700")), "72");
        assert_eq!(ev(BinOp::Sub, l("0/0"), l("0/10")), "-16");
        assert_eq!(ev(BinOp::Add, l("0/10"), num("16")), "0/20");
        assert_eq!(ev(BinOp::Gt, l("1/0"), l("0/FFFFFFFF")), "t");
        assert_eq!(
            ev(BinOp::Sub, l("0/10"), num("17")),
            "22003: pg_lsn out of range"
        );
    }
}
