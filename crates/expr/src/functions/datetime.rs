//! Date/time functions: `now()` and friends, `date_trunc`, `extract`/`date_part`,
//! `to_char`, `age`, `make_date`, `to_timestamp`.
//!
//! `now()`, `current_timestamp` and `transaction_timestamp()` are the
//! transaction's start (`ExecContext::txn_start`); `statement_timestamp()` the
//! statement's; `clock_timestamp()` the wall clock. Fields, truncation and
//! `to_char` of a `timestamptz` follow the session's time zone
//! (`crate::timezone`); `timezone(zone, ts)` is `AT TIME ZONE`.
//! Corresponds to PostgreSQL's `utils/adt/timestamp.c`, `date.c`, `formatting.c`.

use rust_decimal::Decimal;
use tandem_types::{DataType, PgError, PgResult, PgTimestamp, SqlState, Value};

use super::{arg_f64, arg_i64, arg_text, r, t, Def, Ret};
use crate::datetime::*;
use crate::numeric;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    let text = || t(T::Text);
    let mut d = vec![
        Def::ctx("now", vec![], r(T::TimestampTz), |_, _, c| {
            Ok(Value::TimestampTz(c.txn_start))
        })
        .stable(),
        Def::ctx("current_timestamp", vec![], r(T::TimestampTz), |_, _, c| {
            Ok(Value::TimestampTz(c.txn_start))
        })
        .stable(),
        Def::ctx(
            "transaction_timestamp",
            vec![],
            r(T::TimestampTz),
            |_, _, c| Ok(Value::TimestampTz(c.txn_start)),
        )
        .stable(),
        Def::ctx(
            "statement_timestamp",
            vec![],
            r(T::TimestampTz),
            |_, _, c| Ok(Value::TimestampTz(c.stmt_start)),
        )
        .stable(),
        Def::ctx("clock_timestamp", vec![], r(T::TimestampTz), |_, _, _| {
            Ok(Value::TimestampTz(PgTimestamp::now().as_micros()))
        }),
        Def::ctx("localtimestamp", vec![], r(T::Timestamp), |_, _, c| {
            Ok(Value::Timestamp(crate::cast::tz_to_local(c.txn_start)))
        })
        .stable(),
        Def::ctx("localtime", vec![], r(T::Time), |_, _, c| {
            Ok(Value::Time(
                crate::cast::tz_to_local(c.txn_start).rem_euclid(USECS_PER_DAY),
            ))
        })
        .stable(),
        Def::ctx("current_date", vec![], r(T::Date), |_, _, c| {
            Ok(Value::Date(
                crate::cast::tz_to_local(c.txn_start).div_euclid(USECS_PER_DAY) as i32,
            ))
        })
        .stable(),
        Def::ctx("timeofday", vec![], r(T::Text), |_, _, _| {
            let mut s = String::new();
            format_timestamp(PgTimestamp::now().as_micros(), true, &mut s);
            Ok(Value::Text(s))
        }),
        Def::pure(
            "date_trunc",
            vec![text(), t(T::Timestamp)],
            r(T::Timestamp),
            date_trunc,
        ),
        Def::pure(
            "date_trunc",
            vec![text(), t(T::TimestampTz)],
            r(T::TimestampTz),
            date_trunc,
        ),
        Def::pure(
            "date_trunc",
            vec![text(), t(T::Interval)],
            r(T::Interval),
            date_trunc,
        ),
        Def::pure(
            "make_date",
            vec![t(T::Int4), t(T::Int4), t(T::Int4)],
            r(T::Date),
            make_date,
        ),
        Def::pure(
            "make_timestamp",
            vec![
                t(T::Int4),
                t(T::Int4),
                t(T::Int4),
                t(T::Int4),
                t(T::Int4),
                t(T::Float8),
            ],
            r(T::Timestamp),
            make_timestamp,
        ),
        // `ts AT TIME ZONE zone`
        Def::pure(
            "timezone",
            vec![text(), t(T::TimestampTz)],
            r(T::Timestamp),
            |a| match a[1] {
                Value::TimestampTz(t @ (TS_INFINITY | TS_NEG_INFINITY)) => Ok(Value::Timestamp(t)),
                Value::TimestampTz(t) => Ok(Value::Timestamp(named_zone(a)?.to_local(t))),
                _ => Ok(Value::Null),
            },
        ),
        Def::pure(
            "timezone",
            vec![text(), t(T::Timestamp)],
            r(T::TimestampTz),
            |a| match a[1] {
                Value::Timestamp(t @ (TS_INFINITY | TS_NEG_INFINITY)) => Ok(Value::TimestampTz(t)),
                Value::Timestamp(t) => Ok(Value::TimestampTz(named_zone(a)?.to_utc(t))),
                _ => Ok(Value::Null),
            },
        ),
        Def::pure(
            "to_timestamp",
            vec![t(T::Float8)],
            r(T::TimestampTz),
            to_timestamp,
        ),
        Def::pure(
            "age",
            vec![t(T::Timestamp), t(T::Timestamp)],
            r(T::Interval),
            |a| age(ts(&a[0]), ts(&a[1])),
        ),
        Def::pure(
            "age",
            vec![t(T::TimestampTz), t(T::TimestampTz)],
            r(T::Interval),
            |a| age(local_ts(&a[0]), local_ts(&a[1])),
        ),
        Def::ctx("age", vec![t(T::Timestamp)], r(T::Interval), |a, _, c| {
            age(
                crate::cast::tz_to_local(c.txn_start).div_euclid(USECS_PER_DAY) * USECS_PER_DAY,
                ts(&a[0]),
            )
        })
        .stable(),
        Def::pure("isfinite", vec![t(T::Date)], r(T::Bool), |a| {
            Ok(Value::Bool(!matches!(
                a[0],
                Value::Date(DATE_INFINITY | DATE_NEG_INFINITY)
            )))
        }),
        Def::pure("isfinite", vec![t(T::Timestamp)], r(T::Bool), |a| {
            Ok(Value::Bool(!matches!(
                ts(&a[0]),
                TS_INFINITY | TS_NEG_INFINITY
            )))
        }),
        Def::pure("isfinite", vec![t(T::Interval)], r(T::Bool), |_| {
            Ok(Value::Bool(true))
        }),
        Def::pure(
            "justify_hours",
            vec![t(T::Interval)],
            r(T::Interval),
            |a| match a[0] {
                Value::Interval(m, d, u) => Ok(Value::Interval(
                    m,
                    d + (u / USECS_PER_DAY) as i32,
                    u % USECS_PER_DAY,
                )),
                _ => Ok(Value::Null),
            },
        ),
        Def::pure(
            "justify_days",
            vec![t(T::Interval)],
            r(T::Interval),
            |a| match a[0] {
                Value::Interval(m, d, u) => Ok(Value::Interval(m + d / 30, d % 30, u)),
                _ => Ok(Value::Null),
            },
        ),
    ];
    for ty in [T::Timestamp, T::TimestampTz, T::Date, T::Interval, T::Time] {
        d.push(Def::typed(
            "date_part",
            vec![text(), t(ty.clone())],
            r(T::Float8),
            |a, _| {
                let v = extract(&arg_text(a, 0), &a[1])?;
                Ok(Value::Float8(numeric::to_f64(&v)))
            },
        ));
        d.push(Def::typed(
            "extract",
            vec![text(), t(ty.clone())],
            r(T::Numeric(None)),
            |a, _| Ok(Value::Numeric(extract(&arg_text(a, 0), &a[1])?)),
        ));
    }
    for ty in [
        T::Timestamp,
        T::TimestampTz,
        T::Interval,
        T::Numeric(None),
        T::Float8,
        T::Int8,
        T::Int4,
    ] {
        let ret: Ret = r(T::Text);
        d.push(Def::pure("to_char", vec![t(ty), text()], ret, to_char));
    }
    d
}

fn ts(v: &Value) -> i64 {
    match v {
        Value::Timestamp(t) | Value::TimestampTz(t) => *t,
        Value::Date(d) => match *d {
            DATE_INFINITY => TS_INFINITY,
            DATE_NEG_INFINITY => TS_NEG_INFINITY,
            d => d as i64 * USECS_PER_DAY,
        },
        _ => 0,
    }
}

fn type_label(v: &Value) -> &'static str {
    match v {
        Value::Timestamp(_) => "timestamp without time zone",
        Value::Date(_) => "date",
        Value::Interval(..) => "interval",
        Value::Time(_) => "time without time zone",
        _ => "timestamp with time zone",
    }
}

fn unit_error(unit: &str, v: &Value) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("unit \"{unit}\" not recognized for type {}", type_label(v)),
    )
}

fn normalize_unit(unit: &str) -> String {
    let u = unit.trim().to_ascii_lowercase();
    let u = match u.as_str() {
        "microseconds" | "microsecond" | "us" | "usec" | "usecs" => "microseconds",
        "milliseconds" | "millisecond" | "ms" | "msec" | "msecs" => "milliseconds",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "minute" | "minutes" | "m" | "min" | "mins" => "minute",
        "hour" | "hours" | "h" | "hr" | "hrs" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "quarter" | "qtr" => "quarter",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" => "decade",
        "century" | "centuries" => "century",
        "millennium" | "millennia" | "millenniums" => "millennium",
        other => other,
    };
    u.to_string()
}

fn date_trunc(a: &[Value]) -> PgResult<Value> {
    let unit = normalize_unit(&arg_text(a, 0));
    if let Value::Interval(m, d, u) = a[1] {
        let (mut m, mut d, mut u) = (m, d, u);
        let trunc_us = |u: i64, step: i64| u - u % step;
        match unit.as_str() {
            "microseconds" => {}
            "milliseconds" => u = trunc_us(u, 1000),
            "second" => u = trunc_us(u, USECS_PER_SEC),
            "minute" => u = trunc_us(u, USECS_PER_MINUTE),
            "hour" => u = trunc_us(u, USECS_PER_HOUR),
            "day" => u = 0,
            "month" => (d, u) = (0, 0),
            "quarter" => (m, d, u) = (m - m % 3, 0, 0),
            "year" => (m, d, u) = (m - m % 12, 0, 0),
            "decade" => (m, d, u) = (m - m % 120, 0, 0),
            "century" => (m, d, u) = (m - m % 1200, 0, 0),
            "millennium" => (m, d, u) = (m - m % 12000, 0, 0),
            _ => return Err(unit_error(&arg_text(a, 0), &a[1])),
        }
        return Ok(Value::Interval(m, d, u));
    }
    let t = local_ts(&a[1]);
    if t == TS_INFINITY || t == TS_NEG_INFINITY {
        return Ok(a[1].clone());
    }
    let mut tm = tm_from_ts(t);
    match unit.as_str() {
        "microseconds" => {}
        "milliseconds" => tm.usec -= tm.usec % 1000,
        "second" => tm.usec = 0,
        "minute" => (tm.second, tm.usec) = (0, 0),
        "hour" => (tm.minute, tm.second, tm.usec) = (0, 0, 0),
        "day" => (tm.hour, tm.minute, tm.second, tm.usec) = (0, 0, 0, 0),
        "week" => {
            let days = t.div_euclid(USECS_PER_DAY);
            let monday = days - (iso_dow(days) as i64 - 1);
            return Ok(rewrap(&a[1], monday * USECS_PER_DAY));
        }
        "month" | "quarter" | "year" | "decade" | "century" | "millennium" => {
            (tm.day, tm.hour, tm.minute, tm.second, tm.usec) = (1, 0, 0, 0, 0);
            match unit.as_str() {
                "quarter" => tm.month = (tm.month - 1) / 3 * 3 + 1,
                "year" => tm.month = 1,
                "decade" => (tm.month, tm.year) = (1, tm.year - tm.year.rem_euclid(10)),
                "century" => {
                    tm.month = 1;
                    tm.year = if tm.year > 0 {
                        (tm.year - 1) / 100 * 100 + 1
                    } else {
                        tm.year
                    };
                }
                "millennium" => {
                    tm.month = 1;
                    tm.year = if tm.year > 0 {
                        (tm.year - 1) / 1000 * 1000 + 1
                    } else {
                        tm.year
                    };
                }
                _ => {}
            }
        }
        _ => return Err(unit_error(&arg_text(a, 0), &a[1])),
    }
    Ok(rewrap(&a[1], ts_from_tm(&tm)))
}

/// A truncated local time back as the input's type (a `timestamptz` read
/// in the session's zone).
fn rewrap(like: &Value, t: i64) -> Value {
    match like {
        Value::Timestamp(_) => Value::Timestamp(t),
        _ => Value::TimestampTz(crate::cast::local_to_tz(t)),
    }
}

/// The zone `AT TIME ZONE` names (first argument): `22023 time zone "x"
/// not recognized` if none.
fn named_zone(a: &[Value]) -> PgResult<crate::timezone::Zone> {
    let name = arg_text(a, 0);
    crate::timezone::Zone::parse(&name).ok_or_else(|| {
        PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("time zone \"{name}\" not recognized"),
        )
    })
}

/// A value's local time: a `timestamptz` as the session's zone shows it.
fn local_ts(v: &Value) -> i64 {
    match v {
        Value::TimestampTz(t) => crate::cast::tz_to_local(*t),
        v => ts(v),
    }
}

fn dec(v: i64) -> Decimal {
    Decimal::from(v)
}

/// Microseconds as seconds with `scale` decimals (PostgreSQL's numeric extract).
fn usec_scaled(us: i128, scale: u32) -> Decimal {
    let d = Decimal::from_i128_with_scale(us, 6);
    numeric::round_to_scale(d, scale)
}

/// `extract(field from source)` as numeric (PostgreSQL 14+).
pub fn extract(unit_raw: &str, v: &Value) -> PgResult<Decimal> {
    let unit = normalize_unit(unit_raw);
    if let Value::Interval(m, d, u) = *v {
        let secs_part = u % USECS_PER_MINUTE;
        return Ok(match unit.as_str() {
            "microseconds" => dec(secs_part),
            "milliseconds" => usec_scaled(secs_part as i128 * 1000, 3).round_dp(3),
            "second" => usec_scaled(secs_part as i128, 6),
            "minute" => dec(u / USECS_PER_MINUTE % 60),
            "hour" => dec(u / USECS_PER_HOUR),
            "day" => dec(d as i64),
            "month" => dec((m % 12) as i64),
            "quarter" => dec(((m % 12) / 3 + 1) as i64),
            "year" => dec((m / 12) as i64),
            "decade" => dec((m / 120) as i64),
            "century" => dec((m / 1200) as i64),
            "millennium" => dec((m / 12000) as i64),
            "epoch" => {
                let years = (m / 12) as i128;
                let months = (m % 12) as i128;
                // 365.25 days per year, 30 per month, as PostgreSQL
                let us = years * 36_525 * USECS_PER_DAY as i128 / 100
                    + months * 30 * USECS_PER_DAY as i128
                    + d as i128 * USECS_PER_DAY as i128
                    + u as i128;
                usec_scaled(us, 6)
            }
            _ => return Err(unit_error(unit_raw, v)),
        });
    }
    if let Value::Time(t) = *v {
        let sec_us = (t % USECS_PER_MINUTE) as i128;
        return Ok(match unit.as_str() {
            "microseconds" => Decimal::from_i128_with_scale(sec_us, 0),
            "milliseconds" => usec_scaled(sec_us * 1000, 3).round_dp(3),
            "second" => usec_scaled(sec_us, 6),
            "minute" => dec(t / USECS_PER_MINUTE % 60),
            "hour" => dec(t / USECS_PER_HOUR),
            "epoch" => usec_scaled(t as i128, 6),
            "day" | "week" | "month" | "quarter" | "year" | "decade" | "century" | "millennium"
            | "dow" | "isodow" | "doy" | "isoyear" | "julian" | "timezone" | "timezone_hour"
            | "timezone_minute" => {
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("unit \"{unit_raw}\" not supported for type time without time zone"),
                ))
            }
            _ => return Err(unit_error(unit_raw, v)),
        });
    }
    let is_date = matches!(v, Value::Date(_));
    let utc = ts(v);
    // fields of a timestamptz are those of the session's local time
    let t = local_ts(v);
    if t == TS_INFINITY || t == TS_NEG_INFINITY {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "infinite values are not supported by extract",
        ));
    }
    let tm = tm_from_ts(t);
    let days = t.div_euclid(USECS_PER_DAY);
    let time_unit = matches!(
        unit.as_str(),
        "microseconds" | "milliseconds" | "second" | "minute" | "hour"
    );
    if is_date && time_unit {
        return Err(unit_error(unit_raw, v));
    }
    let sec_us = tm.second as i128 * 1_000_000 + tm.usec as i128;
    Ok(match unit.as_str() {
        "microseconds" => Decimal::from_i128_with_scale(sec_us, 0),
        "milliseconds" => usec_scaled(sec_us * 1000, 3).round_dp(3),
        "second" => usec_scaled(sec_us, 6),
        "minute" => dec(tm.minute as i64),
        "hour" => dec(tm.hour as i64),
        "day" => dec(tm.day as i64),
        "month" => dec(tm.month as i64),
        "quarter" => dec(((tm.month - 1) / 3 + 1) as i64),
        "year" => dec(if tm.year > 0 { tm.year } else { tm.year - 1 }),
        "decade" => dec(tm.year.div_euclid(10)),
        "century" => dec(if tm.year > 0 {
            (tm.year + 99) / 100
        } else {
            -((99 - (tm.year - 1)) / 100)
        }),
        "millennium" => dec(if tm.year > 0 {
            (tm.year + 999) / 1000
        } else {
            -((999 - (tm.year - 1)) / 1000)
        }),
        "dow" => dec((iso_dow(days) % 7) as i64),
        "isodow" => dec(iso_dow(days) as i64),
        "doy" => dec(days - days_from_ymd(tm.year, 1, 1) + 1),
        "week" => dec(iso_week(days).1 as i64),
        "isoyear" => dec(iso_week(days).0),
        "julian" => {
            let jd = days + 2_451_545;
            if is_date {
                dec(jd)
            } else {
                let frac = Decimal::from_i128_with_scale((t.rem_euclid(USECS_PER_DAY)) as i128, 6)
                    / Decimal::from(86_400);
                Decimal::from(jd) + frac
            }
        }
        "epoch" => {
            let us = utc as i128 + UNIX_EPOCH_DAYS as i128 * USECS_PER_DAY as i128;
            if is_date {
                Decimal::from_i128_with_scale(us / 1_000_000, 0)
            } else {
                usec_scaled(us, 6)
            }
        }
        "timezone" | "timezone_hour" | "timezone_minute" if matches!(v, Value::TimestampTz(_)) => {
            let off = crate::timezone::session_offset(utc) as i64;
            dec(match unit.as_str() {
                "timezone" => off,
                "timezone_hour" => off / 3600,
                _ => off / 60 % 60,
            })
        }
        _ => return Err(unit_error(unit_raw, v)),
    })
}

/// ISO 8601 (year, week) of a day.
fn iso_week(days: i64) -> (i64, u32) {
    let dow = iso_dow(days) as i64;
    let thursday = days - dow + 4;
    let (y, _, _) = ymd_from_days(thursday);
    let week = (thursday - days_from_ymd(y, 1, 1)) / 7 + 1;
    (y, week as u32)
}

fn make_date(a: &[Value]) -> PgResult<Value> {
    let (y, m, d) = (arg_i64(a, 0)?, arg_i64(a, 1)?, arg_i64(a, 2)?);
    let bad = || {
        PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 || !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    let yy = if y < 0 { y + 1 } else { y };
    if d > days_in_month(yy, m as u32) as i64 {
        return Err(bad());
    }
    Ok(Value::Date(days_from_ymd(yy, m as u32, d as u32) as i32))
}

fn make_timestamp(a: &[Value]) -> PgResult<Value> {
    let Value::Date(day) = make_date(a)? else {
        return Ok(Value::Null);
    };
    let (h, mi, s) = (arg_i64(a, 3)?, arg_i64(a, 4)?, arg_f64(a, 5)?);
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..60.0).contains(&s) {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("time field value out of range: {h}:{mi:02}:{s:02}"),
        ));
    }
    let us = day as i64 * USECS_PER_DAY
        + h * USECS_PER_HOUR
        + mi * USECS_PER_MINUTE
        + (s * 1e6).round() as i64;
    Ok(Value::Timestamp(us))
}

fn to_timestamp(a: &[Value]) -> PgResult<Value> {
    let secs = arg_f64(a, 0)?;
    if secs.is_nan() {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "timestamp cannot be NaN",
        ));
    }
    if secs.is_infinite() {
        return Ok(Value::TimestampTz(if secs > 0.0 {
            TS_INFINITY
        } else {
            TS_NEG_INFINITY
        }));
    }
    let us = (secs * 1e6).round() - (UNIX_EPOCH_DAYS * USECS_PER_DAY) as f64;
    if us.abs() > 9.2e18 {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("timestamp out of range: \"{secs}\""),
        ));
    }
    Ok(Value::TimestampTz(us as i64))
}

/// `age(a, b)`: symbolic difference in years, months, days and time.
fn age(a: i64, b: i64) -> PgResult<Value> {
    let (t1, t2) = (tm_from_ts(a), tm_from_ts(b));
    let neg = a < b;
    let (hi, lo) = if neg { (t2, t1) } else { (t1, t2) };
    let mut us = (hi.hour as i64 * USECS_PER_HOUR
        + hi.minute as i64 * USECS_PER_MINUTE
        + hi.second as i64 * USECS_PER_SEC
        + hi.usec as i64)
        - (lo.hour as i64 * USECS_PER_HOUR
            + lo.minute as i64 * USECS_PER_MINUTE
            + lo.second as i64 * USECS_PER_SEC
            + lo.usec as i64);
    let mut days = hi.day as i64 - lo.day as i64;
    let mut months = hi.month as i64 - lo.month as i64;
    let mut years = hi.year - lo.year;
    if us < 0 {
        us += USECS_PER_DAY;
        days -= 1;
    }
    while days < 0 {
        // borrow the length of the earlier timestamp's month (timestamp_age)
        days += days_in_month(lo.year, lo.month) as i64;
        months -= 1;
    }
    if months < 0 {
        months += 12;
        years -= 1;
    }
    let sign = if neg { -1 } else { 1 };
    Ok(Value::Interval(
        ((years * 12 + months) * sign) as i32,
        (days * sign) as i32,
        us * sign,
    ))
}

const MONTH_FULL: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_FULL: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `to_char`: the common template patterns of PostgreSQL's `formatting.c`.
fn to_char(a: &[Value]) -> PgResult<Value> {
    let fmt = arg_text(a, 1);
    match &a[0] {
        Value::Timestamp(_) | Value::TimestampTz(_) => Ok(Value::Text(to_char_ts(
            ts(&a[0]),
            &fmt,
            matches!(a[0], Value::TimestampTz(_)),
        ))),
        Value::Interval(m, d, u) => Ok(Value::Text(to_char_interval(*m, *d, *u, &fmt))),
        v => Ok(Value::Text(to_char_number(v, &fmt)?)),
    }
}

fn to_char_interval(m: i32, d: i32, u: i64, fmt: &str) -> String {
    let tm = Tm {
        year: (m / 12) as i64,
        month: (m % 12) as u32,
        day: d as u32,
        hour: (u / USECS_PER_HOUR) as u32,
        minute: (u / USECS_PER_MINUTE % 60) as u32,
        second: (u / USECS_PER_SEC % 60) as u32,
        usec: (u % USECS_PER_SEC) as u32,
    };
    format_tm(&tm, 0, fmt, None)
}

fn to_char_ts(t: i64, fmt: &str, tz: bool) -> String {
    if t == TS_INFINITY || t == TS_NEG_INFINITY {
        return String::new();
    }
    if tz {
        let local = crate::timezone::to_local(t);
        return format_tm(
            &tm_from_ts(local),
            local.div_euclid(USECS_PER_DAY),
            fmt,
            Some(t),
        );
    }
    format_tm(&tm_from_ts(t), t.div_euclid(USECS_PER_DAY), fmt, None)
}

/// `tz`: the UTC instant of a `timestamptz` (its zone fields TZ and OF are
/// the session zone's at that instant).
fn format_tm(tm: &Tm, days: i64, fmt: &str, tz: Option<i64>) -> String {
    let mut out = String::new();
    let b = fmt.as_bytes();
    let mut i = 0;
    let mut fm = false;
    let starts =
        |i: usize, p: &str| fmt.len() >= i + p.len() && fmt[i..i + p.len()].eq_ignore_ascii_case(p);
    let exact = |i: usize, p: &str| fmt.len() >= i + p.len() && &fmt[i..i + p.len()] == p;
    while i < b.len() {
        if starts(i, "FM") {
            fm = true;
            i += 2;
            continue;
        }
        let num = |v: i64, w: usize, fm: bool| {
            if fm {
                v.to_string()
            } else {
                format!("{v:0w$}")
            }
        };
        let pad = |s: &str, w: usize, fm: bool| {
            if fm {
                s.to_string()
            } else {
                format!("{s:<w$}")
            }
        };
        let h12 = if tm.hour.is_multiple_of(12) {
            12
        } else {
            tm.hour % 12
        } as i64;
        let dow = iso_dow(days) % 7;
        let (piece, len): (String, usize) = if starts(i, "YYYY") {
            (
                num(if tm.year > 0 { tm.year } else { 1 - tm.year }, 4, fm),
                4,
            )
        } else if starts(i, "YY") {
            (num(tm.year.rem_euclid(100), 2, fm), 2)
        } else if starts(i, "HH24") {
            (num(tm.hour as i64, 2, fm), 4)
        } else if starts(i, "HH12") {
            (num(h12, 2, fm), 4)
        } else if starts(i, "HH") {
            (num(h12, 2, fm), 2)
        } else if starts(i, "MI") {
            (num(tm.minute as i64, 2, fm), 2)
        } else if starts(i, "SS") {
            (num(tm.second as i64, 2, fm), 2)
        } else if starts(i, "MS") {
            (num((tm.usec / 1000) as i64, 3, fm), 2)
        } else if starts(i, "US") {
            (num(tm.usec as i64, 6, fm), 2)
        } else if starts(i, "AM") || starts(i, "PM") {
            let s = if tm.hour < 12 { "AM" } else { "PM" };
            (
                if b[i].is_ascii_lowercase() {
                    s.to_lowercase()
                } else {
                    s.to_string()
                },
                2,
            )
        } else if exact(i, "Month") {
            (pad(MONTH_FULL[(tm.month.max(1) - 1) as usize], 9, fm), 5)
        } else if exact(i, "MONTH") {
            (
                pad(
                    &MONTH_FULL[(tm.month.max(1) - 1) as usize].to_uppercase(),
                    9,
                    fm,
                ),
                5,
            )
        } else if exact(i, "month") {
            (
                pad(
                    &MONTH_FULL[(tm.month.max(1) - 1) as usize].to_lowercase(),
                    9,
                    fm,
                ),
                5,
            )
        } else if exact(i, "Mon") {
            (
                MONTH_FULL[(tm.month.max(1) - 1) as usize][..3].to_string(),
                3,
            )
        } else if exact(i, "MON") {
            (
                MONTH_FULL[(tm.month.max(1) - 1) as usize][..3].to_uppercase(),
                3,
            )
        } else if exact(i, "mon") {
            (
                MONTH_FULL[(tm.month.max(1) - 1) as usize][..3].to_lowercase(),
                3,
            )
        } else if starts(i, "MM") {
            (num(tm.month as i64, 2, fm), 2)
        } else if exact(i, "Day") {
            (pad(DAY_FULL[dow as usize], 9, fm), 3)
        } else if exact(i, "DAY") {
            (pad(&DAY_FULL[dow as usize].to_uppercase(), 9, fm), 3)
        } else if exact(i, "day") {
            (pad(&DAY_FULL[dow as usize].to_lowercase(), 9, fm), 3)
        } else if exact(i, "Dy") {
            (DAY_FULL[dow as usize][..3].to_string(), 2)
        } else if exact(i, "DY") {
            (DAY_FULL[dow as usize][..3].to_uppercase(), 2)
        } else if exact(i, "dy") {
            (DAY_FULL[dow as usize][..3].to_lowercase(), 2)
        } else if starts(i, "DDD") {
            (num(days - days_from_ymd(tm.year, 1, 1) + 1, 3, fm), 3)
        } else if starts(i, "DD") {
            (num(tm.day as i64, 2, fm), 2)
        } else if starts(i, "D") && !starts(i, "DY") {
            ((dow + 1).to_string(), 1)
        } else if starts(i, "Q") {
            (((tm.month.max(1) - 1) / 3 + 1).to_string(), 1)
        } else if starts(i, "WW") {
            (num((days - days_from_ymd(tm.year, 1, 1)) / 7 + 1, 2, fm), 2)
        } else if starts(i, "IW") {
            (num(iso_week(days).1 as i64, 2, fm), 2)
        } else if exact(i, "TZ") || exact(i, "tz") {
            let abbrev = tz
                .map(|t| crate::timezone::session_zone().abbreviation(t))
                .unwrap_or_default();
            (
                if b[i] == b'T' {
                    abbrev.to_uppercase()
                } else {
                    abbrev.to_lowercase()
                },
                2,
            )
        } else if exact(i, "OF") {
            let mut of = String::new();
            if let Some(t) = tz {
                crate::timezone::push_offset(&mut of, crate::timezone::session_offset(t));
            }
            (of, 2)
        } else if b[i] == b'"' {
            let end = fmt[i + 1..]
                .find('"')
                .map(|e| i + 1 + e)
                .unwrap_or(fmt.len());
            (fmt[i + 1..end].to_string(), end + 1 - i)
        } else {
            let ch = fmt[i..].chars().next().unwrap_or(' ');
            (ch.to_string(), ch.len_utf8())
        };
        out.push_str(&piece);
        i += len;
        fm = false;
    }
    out
}

/// Number templates: `9` (digit or space), `0` (digit), `.`/`D`, `,`/`G`, `FM`,
/// `S`, `MI`, `PR`-less subset.
fn to_char_number(v: &Value, fmt: &str) -> PgResult<String> {
    let d = match crate::cast::cast(v.clone(), &T::Numeric(None)) {
        Ok(Value::Numeric(d)) => d,
        _ => {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "to_char of this value is not supported",
            ));
        }
    };
    let fm = fmt.to_ascii_uppercase().contains("FM");
    let body: String = fmt.replace("FM", "").replace("fm", "");
    let (int_fmt, frac_fmt) = match body.find(['.', 'D']) {
        Some(p) => (&body[..p], &body[p + 1..]),
        None => (body.as_str(), ""),
    };
    let frac_digits = frac_fmt.chars().filter(|c| *c == '9' || *c == '0').count() as u32;
    let rounded = numeric::round_to_scale(d.abs(), frac_digits);
    let s = rounded.to_string();
    let (ip, fp) = s.split_once('.').unwrap_or((&s, ""));
    let int_slots = int_fmt.chars().filter(|c| *c == '9' || *c == '0').count();
    if ip.len() > int_slots && !(ip == "0" && int_slots == 0) {
        let hashes: String = body
            .chars()
            .map(|c| if c == '9' || c == '0' { '#' } else { c })
            .collect();
        return Ok(format!(" {hashes}"));
    }
    // lay the integer digits right-aligned into the template
    let digits: Vec<char> = ip.chars().collect();
    let mut out_rev = Vec::new();
    let mut di = digits.len();
    let tmpl: Vec<char> = int_fmt.chars().collect();
    let first_zero = tmpl.iter().position(|c| *c == '0');
    for (ti, c) in tmpl.iter().enumerate().rev() {
        match c {
            '9' | '0' => {
                if di > 0 {
                    di -= 1;
                    out_rev.push(digits[di]);
                } else if *c == '0'
                    || first_zero.is_some_and(|z| ti >= z)
                    || (ti + 1 == tmpl.len() && ip == "0" && frac_digits == 0)
                {
                    out_rev.push('0');
                } else {
                    out_rev.push(' ');
                }
            }
            ',' | 'G' => {
                let more = di > 0 || first_zero.is_some_and(|z| ti > z);
                out_rev.push(if more { ',' } else { ' ' });
            }
            _ => {}
        }
    }
    let mut int_part: String = out_rev.into_iter().rev().collect();
    let sign = if d.is_sign_negative() && !d.is_zero() {
        '-'
    } else {
        ' '
    };
    // the sign goes right before the first printed digit
    let first = int_part.find(|c: char| c != ' ').unwrap_or(int_part.len());
    int_part.insert(first, sign);
    let mut out = int_part;
    if !frac_fmt.is_empty() || body.contains('.') {
        out.push('.');
        let mut fp_chars = fp.chars();
        for c in frac_fmt.chars() {
            if c == '9' || c == '0' {
                out.push(fp_chars.next().unwrap_or('0'));
            }
        }
    }
    if fm {
        out = out.trim().to_string();
        if sign == ' ' {
            out = out.trim_start().to_string();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::call_pure;
    use crate::io_text::{text_in, to_text};

    fn tsv(s: &str) -> Value {
        text_in(s, &T::Timestamp).unwrap()
    }
    fn tz(s: &str) -> Value {
        text_in(s, &T::TimestampTz).unwrap()
    }
    fn f(name: &str, args: Vec<Value>) -> String {
        match call_pure(name, args) {
            Ok(v) => to_text(&v),
            Err(e) => format!("ERROR {}: {}", e.code.0, e.message),
        }
    }
    fn tx(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// Expected values checked against PostgreSQL 15.
    #[test]
    fn extract_fields() {
        assert_eq!(
            f("extract", vec![tx("epoch"), tz("2026-01-01 00:00:01.5+00")]),
            "1767225601.500000"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("second"), tsv("2026-01-01 00:00:05.123456")]
            ),
            "5.123456"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("milliseconds"), tsv("2026-01-01 00:00:05.123456")]
            ),
            "5123.456"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("dow"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "6"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("epoch"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "1795219200"
        );
        assert_eq!(
            f(
                "date_part",
                vec![tx("year"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "2026"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("epoch"), text_in("1 day 1 hour", &T::Interval).unwrap()]
            ),
            "90000.000000"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("epoch"), text_in("1 year", &T::Interval).unwrap()]
            ),
            "31557600.000000"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("week"), text_in("2026-01-01", &T::Date).unwrap()]
            ),
            "1"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("quarter"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "4"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("julian"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "2461366"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("century"), text_in("2026-11-21", &T::Date).unwrap()]
            ),
            "21"
        );
        assert_eq!(
            f(
                "extract",
                vec![tx("hour"), text_in("26 hours", &T::Interval).unwrap()]
            ),
            "26"
        );
        assert_eq!(
            f("extract", vec![tx("foo"), tz("2026-01-01")]),
            "ERROR 22023: unit \"foo\" not recognized for type timestamp with time zone"
        );
    }

    #[test]
    fn trunc_age_make() {
        assert_eq!(
            f("date_trunc", vec![tx("month"), tsv("2026-11-21 10:11:12")]),
            "2026-11-01 00:00:00"
        );
        assert_eq!(
            f("date_trunc", vec![tx("week"), tz("2026-11-21 10:11:12")]),
            "2026-11-16 00:00:00+00"
        );
        assert_eq!(
            f(
                "date_trunc",
                vec![tx("hour"), text_in("1 day 02:03:04", &T::Interval).unwrap()]
            ),
            "1 day 02:00:00"
        );
        assert_eq!(
            f("date_trunc", vec![tx("year"), tsv("2026-11-21 10:11:12")]),
            "2026-01-01 00:00:00"
        );
        assert_eq!(
            f("age", vec![tsv("2026-11-21"), tsv("2001-04-10 12:00")]),
            "25 years 7 mons 10 days 12:00:00"
        );
        assert_eq!(
            f(
                "make_date",
                vec![Value::Int4(2026), Value::Int4(2), Value::Int4(28)]
            ),
            "2026-02-28"
        );
        assert_eq!(
            f(
                "make_date",
                vec![Value::Int4(2026), Value::Int4(2), Value::Int4(30)]
            ),
            "ERROR 22008: date field value out of range: 2026-02-30"
        );
        assert_eq!(
            f("to_timestamp", vec![Value::Float8(1_700_000_000.5)]),
            "2023-11-14 22:13:20.5+00"
        );
    }

    #[test]
    fn to_char_patterns() {
        assert_eq!(
            f(
                "to_char",
                vec![
                    tsv("2026-11-21 13:04:05.123456"),
                    tx("YYYY-MM-DD HH24:MI:SS.MS US HH12 AM Mon Month Dy Day DDD D Q WW IW TZ")
                ]
            ),
            "2026-11-21 13:04:05.123 123456 01 PM Nov November  Sat Saturday  325 7 4 47 47 "
        );
        assert_eq!(
            f(
                "to_char",
                vec![tz("2026-11-21 13:04:05"), tx("FMDD FMMonth YYYY TZ")]
            ),
            "21 November 2026 UTC"
        );
        assert_eq!(
            f(
                "to_char",
                vec![Value::Numeric(Decimal::new(12345, 1)), tx("9999.99")]
            ),
            " 1234.50"
        );
        assert_eq!(
            f(
                "to_char",
                vec![Value::Numeric(Decimal::new(12345, 1)), tx("FM9,999.00")]
            ),
            "1,234.50"
        );
        assert_eq!(f("to_char", vec![Value::Int4(-12), tx("999")]), " -12");
        assert_eq!(f("to_char", vec![Value::Int4(5), tx("000")]), " 005");
    }
}
