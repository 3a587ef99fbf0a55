//! Dates, timestamps and intervals: the calendar arithmetic and the text forms.
//!
//! Representation is PostgreSQL's: a `date` is days since 2000-01-01, a `timestamp`
//! is microseconds since 2000-01-01 00:00:00 (UTC for `timestamptz`), an interval is
//! (months, days, microseconds). `infinity`/`-infinity` are the extreme integers,
//! as PostgreSQL's `DATE_NOEND`/`DT_NOEND`. A `timestamptz` prints in the
//! session's time zone and text without an offset is read in it
//! (`crate::timezone`).
//!
//! Years are astronomical inside (year 0 is 1 BC) and printed with ` BC` as
//! PostgreSQL does. Corresponds to PostgreSQL's `utils/adt/date.c`,
//! `timestamp.c` and `datetime.c` (parsing and `EncodeInterval`).

use tandem_types::{PgError, PgResult, PgTimestamp, SqlState};

pub const USECS_PER_SEC: i64 = 1_000_000;
pub const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
pub const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
pub const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
/// Days from 1970-01-01 to 2000-01-01.
pub const UNIX_EPOCH_DAYS: i64 = 10_957;

pub const DATE_NEG_INFINITY: i32 = i32::MIN;
pub const DATE_INFINITY: i32 = i32::MAX;
pub const TS_NEG_INFINITY: i64 = i64::MIN;
pub const TS_INFINITY: i64 = i64::MAX;

/// Days since 2000-01-01 of a proleptic Gregorian (astronomical) date.
pub fn days_from_ymd(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - UNIX_EPOCH_DAYS
}

/// (year, month, day) of days since 2000-01-01.
pub fn ymd_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_EPOCH_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// ISO day of week, Monday = 1 .. Sunday = 7. (2000-01-01 was a Saturday.)
pub fn iso_dow(days: i64) -> u32 {
    ((days + 5).rem_euclid(7) + 1) as u32
}

/// Broken-down timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tm {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub usec: u32,
}

pub fn tm_from_ts(ts: i64) -> Tm {
    let days = ts.div_euclid(USECS_PER_DAY);
    let rest = ts.rem_euclid(USECS_PER_DAY);
    let (year, month, day) = ymd_from_days(days);
    Tm {
        year,
        month,
        day,
        hour: (rest / USECS_PER_HOUR) as u32,
        minute: (rest % USECS_PER_HOUR / USECS_PER_MINUTE) as u32,
        second: (rest % USECS_PER_MINUTE / USECS_PER_SEC) as u32,
        usec: (rest % USECS_PER_SEC) as u32,
    }
}

pub fn ts_from_tm(tm: &Tm) -> i64 {
    days_from_ymd(tm.year, tm.month, tm.day) * USECS_PER_DAY
        + tm.hour as i64 * USECS_PER_HOUR
        + tm.minute as i64 * USECS_PER_MINUTE
        + tm.second as i64 * USECS_PER_SEC
        + tm.usec as i64
}

/// Timestamps PostgreSQL accepts: 4714-11-24 BC .. 294276 AD.
fn ts_in_range(ts: i128) -> bool {
    let min = (days_from_ymd(-4713, 11, 24) as i128) * USECS_PER_DAY as i128;
    let max = (days_from_ymd(294_277, 1, 1) as i128) * USECS_PER_DAY as i128;
    ts >= min && ts < max
}

fn push_year(out: &mut String, year: i64) {
    let y = if year <= 0 { 1 - year } else { year };
    out.push_str(&format!("{y:04}"));
}

fn push_bc(out: &mut String, year: i64) {
    if year <= 0 {
        out.push_str(" BC");
    }
}

pub fn format_date(days: i32, out: &mut String) {
    match days {
        DATE_INFINITY => out.push_str("infinity"),
        DATE_NEG_INFINITY => out.push_str("-infinity"),
        _ => {
            let (y, m, d) = ymd_from_days(days as i64);
            push_year(out, y);
            out.push_str(&format!("-{m:02}-{d:02}"));
            push_bc(out, y);
        }
    }
}

fn push_seconds(out: &mut String, sec: u32, usec: u32) {
    out.push_str(&format!("{sec:02}"));
    if usec != 0 {
        let frac = format!("{usec:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// `timestamp` (`with_tz == false`) or `timestamptz` in UTC (`+00`).
pub fn format_timestamp(ts: i64, with_tz: bool, out: &mut String) {
    match ts {
        TS_INFINITY => out.push_str("infinity"),
        TS_NEG_INFINITY => out.push_str("-infinity"),
        _ => {
            // a timestamptz prints in the session's zone, with its offset
            let offset = if with_tz {
                crate::timezone::session_offset(ts)
            } else {
                0
            };
            let tm = tm_from_ts(ts.saturating_add(offset as i64 * USECS_PER_SEC));
            push_year(out, tm.year);
            out.push_str(&format!(
                "-{:02}-{:02} {:02}:{:02}:",
                tm.month, tm.day, tm.hour, tm.minute
            ));
            push_seconds(out, tm.second, tm.usec);
            if with_tz {
                crate::timezone::push_offset(out, offset);
            }
            push_bc(out, tm.year);
        }
    }
}

/// PostgreSQL's `postgres` IntervalStyle: `1 year 2 mons 3 days 04:05:06.5`.
pub fn format_interval(months: i32, days: i32, usecs: i64, out: &mut String) {
    let start = out.len();
    let mut is_before = false;
    let mut is_zero = true;
    let years = months / 12;
    let mons = months % 12;
    for (v, unit) in [
        (years as i64, "year"),
        (mons as i64, "mon"),
        (days as i64, "day"),
    ] {
        if v == 0 {
            continue;
        }
        if out.len() > start {
            out.push(' ');
        }
        let sign = if is_before && v > 0 { "+" } else { "" };
        let plural = if v != 1 { "s" } else { "" };
        out.push_str(&format!("{sign}{v} {unit}{plural}"));
        is_before = v < 0;
        is_zero = false;
    }
    if is_zero || usecs != 0 {
        let minus = usecs < 0;
        let abs = usecs.unsigned_abs();
        let hours = abs / USECS_PER_HOUR as u64;
        let minutes = abs % USECS_PER_HOUR as u64 / USECS_PER_MINUTE as u64;
        let secs = (abs % USECS_PER_MINUTE as u64 / USECS_PER_SEC as u64) as u32;
        let frac = (abs % USECS_PER_SEC as u64) as u32;
        if !is_zero {
            out.push(' ');
        }
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        out.push_str(&format!("{sign}{hours:02}:{minutes:02}:"));
        push_seconds(out, secs, frac);
    }
}

fn syntax(type_name: &str, text: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

fn out_of_range(text: &str) -> PgError {
    PgError::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{text}\""),
    )
}

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `Nov`, `November`, `sept` (at least three letters).
fn month_by_name(word: &str) -> Option<u32> {
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    if w == "sept" {
        return Some(9);
    }
    MONTH_NAMES
        .iter()
        .position(|m| m.starts_with(&w))
        .map(|i| i as u32 + 1)
}

/// What a date/time string said, before it is turned into a value.
#[derive(Debug, Default)]
struct Parsed {
    date: Option<(i64, u32, u32)>,
    time: Option<(u32, u32, u32, u32)>,
    /// seconds east of UTC
    offset: Option<i64>,
    /// a zone named in the text (`2024-01-01 12:00 Europe/Paris`)
    zone: Option<crate::timezone::Zone>,
    special: Option<Special>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    Infinity,
    NegInfinity,
    Epoch,
    Now,
    Today,
    Tomorrow,
    Yesterday,
}

/// Splits `s` into tokens: numbers (with `-`/`/`/`.`/`:` inside), words, and signs
/// that start a time zone offset.
fn tokenize(s: &str) -> Vec<String> {
    let mut toks = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, toks: &mut Vec<String>| {
        if !cur.is_empty() {
            toks.push(std::mem::take(cur));
        }
    };
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' {
            flush(&mut cur, &mut toks);
        } else if (c == '+' || c == '-')
            && !cur.is_empty()
            && !cur.chars().all(|c| c.is_ascii_digit())
        {
            // `10:00:00+05` or `2026-11-21T10:00-08`: a sign after a time starts an offset
            if cur.contains(':') || cur.chars().any(|c| c.is_ascii_alphabetic()) {
                flush(&mut cur, &mut toks);
            }
            cur.push(c);
        } else if c.is_ascii_alphabetic() && cur.chars().last().is_some_and(|p| p.is_ascii_digit())
        {
            // `2026-11-21T10:00:00Z`
            flush(&mut cur, &mut toks);
            cur.push(c);
        } else if c.is_ascii_digit() && cur.chars().last().is_some_and(|p| p.is_ascii_alphabetic())
        {
            flush(&mut cur, &mut toks);
            cur.push(c);
        } else {
            cur.push(c);
        }
        i += 1;
    }
    flush(&mut cur, &mut toks);
    toks
}

fn parse_num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `HH:MM[:SS[.frac]]` → (h, m, s, usec).
fn parse_time(s: &str) -> Option<(u32, u32, u32, u32, bool)> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: u32 = parse_num(parts[0])?;
    let m: u32 = parse_num(parts[1])?;
    let (sec, usec, carry) = match parts.get(2) {
        Some(p) => parse_seconds(p)?,
        None => (0, 0, false),
    };
    Some((h, m, sec, usec, carry))
}

/// `SS[.ffffff...]`, rounded to microseconds; the flag says it rounded up to 60.
fn parse_seconds(p: &str) -> Option<(u32, u32, bool)> {
    let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
    let sec: u32 = parse_num(whole)?;
    if !frac.is_empty() && !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = frac.chars().take(7).collect();
    while digits.len() < 7 {
        digits.push('0');
    }
    let tenths: u64 = digits.parse().ok()?;
    let usec = (tenths + 5) / 10;
    if usec >= 1_000_000 {
        return Some((sec + 1, 0, true));
    }
    Some((sec, usec as u32, false))
}

/// `+05`, `+05:30`, `-0800`, `Z`, `UTC`, `GMT`.
fn parse_offset(tok: &str) -> Option<i64> {
    let lower = tok.to_ascii_lowercase();
    if matches!(lower.as_str(), "z" | "utc" | "gmt" | "zulu" | "ut") {
        return Some(0);
    }
    let named = [
        ("pst", -8),
        ("pdt", -7),
        ("est", -5),
        ("edt", -4),
        ("cst", -6),
        ("cdt", -5),
        ("mst", -7),
        ("mdt", -6),
        ("cet", 1),
        ("cest", 2),
        ("jst", 9),
    ];
    if let Some((_, h)) = named.iter().find(|(n, _)| *n == lower) {
        return Some(h * 3600);
    }
    let (sign, rest) = match tok.as_bytes().first()? {
        b'+' => (1, &tok[1..]),
        b'-' => (-1, &tok[1..]),
        _ => return None,
    };
    let (h, m, s) = if let Some((h, rest)) = rest.split_once(':') {
        let (m, s) = rest.split_once(':').unwrap_or((rest, "0"));
        (
            parse_num::<i64>(h)?,
            parse_num::<i64>(m)?,
            parse_num::<i64>(s)?,
        )
    } else if rest.len() <= 2 {
        (parse_num::<i64>(rest)?, 0, 0)
    } else if rest.len() == 4 {
        (
            parse_num::<i64>(&rest[..2])?,
            parse_num::<i64>(&rest[2..])?,
            0,
        )
    } else {
        return None;
    };
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

/// A date token: `2026-11-21`, `20261121`, `11/21/2026` (MDY), `2026/11/21`.
fn parse_date_token(tok: &str) -> Option<(i64, u32, u32)> {
    if let Some(parts) = split3(tok, '-')
        .or_else(|| split3(tok, '/'))
        .or_else(|| split3(tok, '.'))
    {
        let (a, b, c) = parts;
        if a.len() >= 3 {
            return Some((parse_num(a)?, parse_num(b)?, parse_num(c)?));
        }
        // month/day/year (DateStyle MDY)
        let mut y: i64 = parse_num(c)?;
        if c.len() <= 2 {
            y += if y < 70 { 2000 } else { 1900 };
        }
        return Some((y, parse_num(a)?, parse_num(b)?));
    }
    if tok.len() == 8 && tok.bytes().all(|b| b.is_ascii_digit()) {
        return Some((
            parse_num(&tok[..4])?,
            parse_num(&tok[4..6])?,
            parse_num(&tok[6..])?,
        ));
    }
    None
}

fn split3(s: &str, sep: char) -> Option<(&str, &str, &str)> {
    let mut it = s.split(sep);
    let a = it.next()?;
    let b = it.next()?;
    let c = it.next()?;
    if it.next().is_some() || a.is_empty() || b.is_empty() || c.is_empty() {
        return None;
    }
    Some((a, b, c))
}

/// Parses the date/time forms PostgreSQL's `ParseDateTime`/`DecodeDateTime` accept
/// that clients actually send.
fn parse_datetime(text: &str, type_name: &str) -> PgResult<Parsed> {
    let err = || syntax(type_name, text);
    let mut p = Parsed::default();
    let toks = tokenize(text.trim());
    if toks.is_empty() {
        return Err(err());
    }
    let mut bc = false;
    let mut loose: Vec<i64> = Vec::new();
    let mut month_word: Option<u32> = None;
    let mut pending_carry = false;
    for tok in &toks {
        let lower = tok.to_ascii_lowercase();
        let special = match lower.as_str() {
            "infinity" | "+infinity" => Some(Special::Infinity),
            "-infinity" => Some(Special::NegInfinity),
            "epoch" => Some(Special::Epoch),
            "now" => Some(Special::Now),
            "today" => Some(Special::Today),
            "tomorrow" => Some(Special::Tomorrow),
            "yesterday" => Some(Special::Yesterday),
            _ => None,
        };
        if let Some(s) = special {
            if p.special.is_some() || p.date.is_some() {
                return Err(err());
            }
            p.special = Some(s);
            continue;
        }
        if lower == "bc" {
            bc = true;
            continue;
        }
        if lower == "ad" || lower == "t" || lower == "allballs" {
            if lower == "allballs" {
                p.time = Some((0, 0, 0, 0));
            }
            continue;
        }
        if p.date.is_none() && p.time.is_none() {
            if let Some(d) = parse_date_token(tok) {
                p.date = Some(d);
                continue;
            }
        }
        if tok.contains(':') && !tok.starts_with(['+', '-']) {
            if p.time.is_some() {
                return Err(err());
            }
            let (h, m, s, us, carry) = parse_time(tok).ok_or_else(err)?;
            pending_carry = carry;
            p.time = Some((h, m, s, us));
            continue;
        }
        if p.time.is_some() || p.date.is_some() {
            if let Some(off) = parse_offset(tok) {
                if p.offset.is_some() {
                    return Err(err());
                }
                p.offset = Some(off);
                continue;
            }
            if tok.contains('/') && p.zone.is_none() && p.offset.is_none() {
                if let Some(z) = crate::timezone::Zone::parse(tok) {
                    p.zone = Some(z);
                    continue;
                }
            }
        }
        if let Some(m) = month_by_name(tok) {
            month_word = Some(m);
            continue;
        }
        if let Some(n) = parse_num::<i64>(tok) {
            loose.push(n);
            continue;
        }
        return Err(err());
    }
    if let Some(m) = month_word {
        // `Nov 21 2026` / `21 Nov 2026`
        if p.date.is_some() || loose.len() != 2 {
            return Err(err());
        }
        let (d, y) = if loose[0] > 31 {
            (loose[1], loose[0])
        } else {
            (loose[0], loose[1])
        };
        p.date = Some((y, m, d as u32));
    } else if !loose.is_empty() {
        return Err(err());
    }
    if let Some((y, m, d)) = p.date {
        if y == 0 && bc {
            return Err(
                out_of_range(text).with_hint("Perhaps you need a different \"datestyle\" setting.")
            );
        }
        let y = if bc { 1 - y } else { y };
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return Err(
                out_of_range(text).with_hint("Perhaps you need a different \"datestyle\" setting.")
            );
        }
        p.date = Some((y, m, d));
    }
    if let Some((h, m, s, us)) = p.time {
        let ok = (h < 24 && m < 60 && s <= 60) || (h == 24 && m == 0 && s == 0 && us == 0);
        if !ok || (s == 60 && !pending_carry && us != 0) {
            return Err(out_of_range(text));
        }
    }
    Ok(p)
}

fn resolve_special(s: Special, now_ts: i64) -> i64 {
    let today = now_ts.div_euclid(USECS_PER_DAY) * USECS_PER_DAY;
    match s {
        Special::Infinity => TS_INFINITY,
        Special::NegInfinity => TS_NEG_INFINITY,
        Special::Epoch => -UNIX_EPOCH_DAYS * USECS_PER_DAY,
        Special::Now => now_ts,
        Special::Today => today,
        Special::Tomorrow => today + USECS_PER_DAY,
        Special::Yesterday => today - USECS_PER_DAY,
    }
}

/// `time_in`: a time of day (a date before it is ignored, as is an
/// offset), `24:00:00` included; microseconds since midnight.
pub fn parse_time_of_day(text: &str) -> PgResult<i64> {
    const TYPE: &str = "time";
    let p = parse_datetime(text, TYPE)?;
    match p.special {
        Some(Special::Now) => {
            let local = crate::timezone::to_local(PgTimestamp::now().as_micros());
            return Ok(local.rem_euclid(USECS_PER_DAY));
        }
        Some(_) => return Err(syntax(TYPE, text)),
        None => {}
    }
    let (h, m, s, us) = p.time.ok_or_else(|| syntax(TYPE, text))?;
    Ok(h as i64 * USECS_PER_HOUR
        + m as i64 * USECS_PER_MINUTE
        + s as i64 * USECS_PER_SEC
        + us as i64)
}

/// `time_out`: `HH:MM:SS[.ffffff]`.
pub fn format_time(us: i64, out: &mut String) {
    let us = us.clamp(0, USECS_PER_DAY);
    out.push_str(&format!(
        "{:02}:{:02}:",
        us / USECS_PER_HOUR,
        us / USECS_PER_MINUTE % 60
    ));
    push_seconds(
        out,
        (us / USECS_PER_SEC % 60) as u32,
        (us % USECS_PER_SEC) as u32,
    );
}

/// `date_in`.
pub fn parse_date(text: &str) -> PgResult<i32> {
    let p = parse_datetime(text, "date")?;
    if let Some(s) = p.special {
        return Ok(match s {
            Special::Infinity => DATE_INFINITY,
            Special::NegInfinity => DATE_NEG_INFINITY,
            other => resolve_special(other, PgTimestamp::now().as_micros())
                .div_euclid(USECS_PER_DAY) as i32,
        });
    }
    let (y, m, d) = p.date.ok_or_else(|| syntax("date", text))?;
    let days = days_from_ymd(y, m, d);
    if days < days_from_ymd(-4713, 11, 24) || days > days_from_ymd(5_874_897, 12, 31) {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date out of range: \"{text}\""),
        ));
    }
    Ok(days as i32)
}

/// `timestamp_in` / `timestamptz_in` (offsets are applied only `with_tz`).
pub fn parse_timestamp(text: &str, with_tz: bool) -> PgResult<i64> {
    // timestamp_in names its type "timestamp" in its errors
    let type_name = if with_tz {
        "timestamp with time zone"
    } else {
        "timestamp"
    };
    let p = parse_datetime(text, type_name)?;
    if let Some(s) = p.special {
        if p.time.is_some() && matches!(s, Special::Infinity | Special::NegInfinity | Special::Now)
        {
            return Err(syntax(type_name, text));
        }
        let mut ts = resolve_special(s, PgTimestamp::now().as_micros());
        if let Some((h, m, sec, us)) = p.time {
            ts += h as i64 * USECS_PER_HOUR
                + m as i64 * USECS_PER_MINUTE
                + sec as i64 * USECS_PER_SEC
                + us as i64;
        }
        return Ok(ts);
    }
    let (y, mo, d) = p.date.ok_or_else(|| syntax(type_name, text))?;
    let (h, mi, s, us) = p.time.unwrap_or((0, 0, 0, 0));
    let mut ts = days_from_ymd(y, mo, d) as i128 * USECS_PER_DAY as i128
        + h as i128 * USECS_PER_HOUR as i128
        + mi as i128 * USECS_PER_MINUTE as i128
        + s as i128 * USECS_PER_SEC as i128
        + us as i128;
    if with_tz {
        // an explicit offset or zone, else the session's zone
        match (p.offset, &p.zone) {
            (Some(off), _) => ts -= off as i128 * USECS_PER_SEC as i128,
            (None, Some(zone)) if ts_in_range(ts) => ts = zone.to_utc(ts as i64) as i128,
            (None, None) if ts_in_range(ts) => ts = crate::timezone::to_utc(ts as i64) as i128,
            _ => {}
        }
    }
    if !ts_in_range(ts) {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("timestamp out of range: \"{text}\""),
        ));
    }
    Ok(ts as i64)
}

/// An interval being accumulated from its parts (fractions cascade down as in
/// PostgreSQL: 1.5 months = 1 month 15 days, 1.5 days = 1 day 12 hours).
#[derive(Default)]
struct IntervalAcc {
    months: f64,
    days: f64,
    usecs: f64,
}

impl IntervalAcc {
    fn add_months(&mut self, v: f64) {
        let whole = v.trunc();
        self.months += whole;
        self.add_days((v - whole) * 30.0);
    }
    fn add_days(&mut self, v: f64) {
        let whole = v.trunc();
        self.days += whole;
        self.usecs += (v - whole) * USECS_PER_DAY as f64;
    }
}

/// `interval_in` (postgres style, `@ ... ago`, `HH:MM:SS`, ISO 8601 `P1DT2H`).
pub fn parse_interval(text: &str) -> PgResult<(i32, i32, i64)> {
    let err = || syntax("interval", text);
    let t = text.trim();
    if t.starts_with(['P', 'p']) && t.len() > 1 {
        return parse_iso_interval(&t[1..]).ok_or_else(err);
    }
    let toks: Vec<&str> = t.split_whitespace().collect();
    if toks.is_empty() {
        return Err(err());
    }
    let mut acc = IntervalAcc::default();
    let mut ago = false;
    let mut i = 0;
    let mut any = false;
    while i < toks.len() {
        let tok = toks[i];
        let lower = tok.to_ascii_lowercase();
        if lower == "@" {
            i += 1;
            continue;
        }
        if lower == "ago" {
            ago = true;
            i += 1;
            continue;
        }
        if tok.contains(':') {
            let (neg, body) = match tok.as_bytes()[0] {
                b'-' => (true, &tok[1..]),
                b'+' => (false, &tok[1..]),
                _ => (false, tok),
            };
            let parts: Vec<&str> = body.split(':').collect();
            if parts.len() < 2 || parts.len() > 3 {
                return Err(err());
            }
            let h: f64 = parse_num::<u64>(parts[0]).ok_or_else(err)? as f64;
            let m: f64 = parse_num::<u64>(parts[1]).ok_or_else(err)? as f64;
            let s: f64 = match parts.get(2) {
                Some(s) => s.parse::<f64>().map_err(|_| err())?,
                None => 0.0,
            };
            let total = (h * 3600.0 + m * 60.0 + s) * USECS_PER_SEC as f64;
            acc.usecs += if neg { -total } else { total };
            any = true;
            i += 1;
            continue;
        }
        // number, optionally glued to its unit (`10min`)
        let split = tok
            .char_indices()
            .find(|&(j, c)| c.is_ascii_alphabetic() && j > 0)
            .map(|(j, _)| j)
            .unwrap_or(tok.len());
        let (num_s, glued_unit) = tok.split_at(split);
        let num: f64 = num_s.parse().map_err(|_| err())?;
        if !num.is_finite()
            || num_s.eq_ignore_ascii_case("nan")
            || num_s.contains(['e', 'E', 'i', 'I', 'n', 'N'])
        {
            return Err(err());
        }
        let unit = if !glued_unit.is_empty() {
            glued_unit.to_ascii_lowercase()
        } else if i + 1 < toks.len()
            && toks[i + 1].chars().all(|c| c.is_ascii_alphabetic())
            && toks[i + 1] != "ago"
        {
            i += 1;
            toks[i].to_ascii_lowercase()
        } else {
            "second".to_string()
        };
        match unit.as_str() {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => {
                acc.usecs += num
            }
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => {
                acc.usecs += num * 1000.0
            }
            "second" | "seconds" | "s" | "sec" | "secs" => acc.usecs += num * USECS_PER_SEC as f64,
            "minute" | "minutes" | "m" | "min" | "mins" => {
                acc.usecs += num * USECS_PER_MINUTE as f64
            }
            "hour" | "hours" | "h" | "hr" | "hrs" => acc.usecs += num * USECS_PER_HOUR as f64,
            "day" | "days" | "d" => acc.add_days(num),
            "week" | "weeks" | "w" => acc.add_days(num * 7.0),
            "month" | "months" | "mon" | "mons" => acc.add_months(num),
            "year" | "years" | "y" | "yr" | "yrs" => acc.add_months(num * 12.0),
            "decade" | "decades" => acc.add_months(num * 120.0),
            "century" | "centuries" => acc.add_months(num * 1200.0),
            "millennium" | "millennia" | "millenniums" => acc.add_months(num * 12000.0),
            _ => return Err(err()),
        }
        any = true;
        i += 1;
    }
    if !any {
        return Err(err());
    }
    finish_interval(acc, ago).ok_or_else(|| {
        PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("interval out of range: \"{text}\""),
        )
    })
}

fn finish_interval(acc: IntervalAcc, negate: bool) -> Option<(i32, i32, i64)> {
    let sign = if negate { -1.0 } else { 1.0 };
    let months = (acc.months * sign).round();
    let days = (acc.days * sign).round();
    let usecs = (acc.usecs * sign).round();
    if months.abs() > i32::MAX as f64 || days.abs() > i32::MAX as f64 || usecs.abs() > 9.2e18 {
        return None;
    }
    Some((months as i32, days as i32, usecs as i64))
}

fn parse_iso_interval(s: &str) -> Option<(i32, i32, i64)> {
    let mut acc = IntervalAcc::default();
    let mut in_time = false;
    let mut num = String::new();
    for c in s.chars() {
        match c {
            'T' | 't' => in_time = true,
            '0'..='9' | '.' | '-' => num.push(c),
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => acc.add_months(v * 12.0),
                    ('M', false) => acc.add_months(v),
                    ('W', false) => acc.add_days(v * 7.0),
                    ('D', false) => acc.add_days(v),
                    ('H', true) => acc.usecs += v * USECS_PER_HOUR as f64,
                    ('M', true) => acc.usecs += v * USECS_PER_MINUTE as f64,
                    ('S', true) => acc.usecs += v * USECS_PER_SEC as f64,
                    _ => return None,
                }
            }
        }
    }
    if !num.is_empty() {
        return None;
    }
    finish_interval(acc, false)
}

/// `timestamp + interval` (months first, clamping the day, then days, then time).
pub fn ts_add_interval(ts: i64, months: i32, days: i32, usecs: i64) -> PgResult<i64> {
    if ts == TS_INFINITY || ts == TS_NEG_INFINITY {
        return Ok(ts);
    }
    let overflow = || PgError::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range");
    let mut tm = tm_from_ts(ts);
    if months != 0 {
        let total = tm.year * 12 + (tm.month as i64 - 1) + months as i64;
        tm.year = total.div_euclid(12);
        tm.month = (total.rem_euclid(12) + 1) as u32;
        tm.day = tm.day.min(days_in_month(tm.year, tm.month));
    }
    let base = ts_from_tm(&tm) as i128 + days as i128 * USECS_PER_DAY as i128 + usecs as i128;
    if !ts_in_range(base) {
        return Err(overflow());
    }
    Ok(base as i64)
}

/// `timestamptz + interval`: months and days move the session's local
/// date (so `+ '1 day'` keeps the wall-clock time across a DST change),
/// microseconds the instant, as PostgreSQL's `timestamptz_pl_interval`.
pub fn tstz_add_interval(ts: i64, months: i32, days: i32, usecs: i64) -> PgResult<i64> {
    if ts == TS_INFINITY || ts == TS_NEG_INFINITY {
        return Ok(ts);
    }
    let moved = if months != 0 || days != 0 {
        let local = ts_add_interval(crate::timezone::to_local(ts), months, days, 0)?;
        crate::timezone::to_utc(local)
    } else {
        ts
    };
    ts_add_interval(moved, 0, 0, usecs)
}

/// `timestamp - timestamp`: days and a time part below 24 hours (`justify_hours`).
pub fn ts_diff(a: i64, b: i64) -> PgResult<(i32, i32, i64)> {
    if [a, b]
        .iter()
        .any(|t| *t == TS_INFINITY || *t == TS_NEG_INFINITY)
    {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite timestamps",
        ));
    }
    let diff = a as i128 - b as i128;
    let days = diff / USECS_PER_DAY as i128;
    let rest = diff % USECS_PER_DAY as i128;
    if days.abs() > i32::MAX as i128 {
        return Err(PgError::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "interval out of range",
        ));
    }
    Ok((0, days as i32, rest as i64))
}

/// Interval as total microseconds with PostgreSQL's 30-day months (for comparison).
pub fn interval_key(months: i32, days: i32, usecs: i64) -> i128 {
    (months as i128 * 30 + days as i128) * USECS_PER_DAY as i128 + usecs as i128
}

/// `interval * factor` with the fractional cascade of `interval_mul`.
pub fn interval_mul(months: i32, days: i32, usecs: i64, factor: f64) -> PgResult<(i32, i32, i64)> {
    let err = || {
        PgError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "interval out of range",
        )
    };
    if !factor.is_finite() {
        return Err(err());
    }
    let m = months as f64 * factor;
    let whole_m = m.trunc();
    let d = days as f64 * factor + (m - whole_m) * 30.0;
    let whole_d = d.trunc();
    let u = usecs as f64 * factor + (d - whole_d) * USECS_PER_DAY as f64;
    if whole_m.abs() > i32::MAX as f64 || whole_d.abs() > i32::MAX as f64 || u.abs() > 9.2e18 {
        return Err(err());
    }
    Ok((whole_m as i32, whole_d as i32, u.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        let mut o = String::new();
        format_timestamp(parse_timestamp(s, false).unwrap(), false, &mut o);
        o
    }
    fn tstz(s: &str) -> String {
        let mut o = String::new();
        format_timestamp(parse_timestamp(s, true).unwrap(), true, &mut o);
        o
    }
    fn iv(s: &str) -> String {
        let (m, d, u) = parse_interval(s).unwrap();
        let mut o = String::new();
        format_interval(m, d, u, &mut o);
        o
    }
    fn date(s: &str) -> String {
        let mut o = String::new();
        format_date(parse_date(s).unwrap(), &mut o);
        o
    }

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_ymd(2000, 1, 1), 0);
        assert_eq!(days_from_ymd(1970, 1, 1), -10957);
        for d in [-800_000i64, -1, 0, 1, 59, 60, 366, 9000, 2_000_000] {
            let (y, m, dd) = ymd_from_days(d);
            assert_eq!(days_from_ymd(y, m, dd), d);
        }
        assert_eq!(iso_dow(0), 6); // 2000-01-01 was a Saturday
    }

    #[test]
    fn dates_as_postgres_prints_them() {
        assert_eq!(date("2026-11-21"), "2026-11-21");
        assert_eq!(date("0044-03-15 BC"), "0044-03-15 BC");
        assert_eq!(date("2026-11-21 10:00"), "2026-11-21");
        assert_eq!(date("20261121"), "2026-11-21");
        assert_eq!(date("11/21/2026"), "2026-11-21");
        assert_eq!(date("Nov 21, 2026"), "2026-11-21");
        assert_eq!(date("infinity"), "infinity");
        let e = parse_date("2026-13-01").unwrap_err();
        assert_eq!(
            e.message,
            "date/time field value out of range: \"2026-13-01\""
        );
        assert_eq!(e.code, SqlState::DATETIME_FIELD_OVERFLOW);
        assert_eq!(parse_date("2026-02-30").unwrap_err().code.0, "22008");
        let e = parse_date("x").unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type date: \"x\"");
        assert_eq!(e.code.0, "22007");
    }

    #[test]
    fn timestamps_as_postgres_prints_them() {
        assert_eq!(
            ts("2026-11-21 10:00:00.123456"),
            "2026-11-21 10:00:00.123456"
        );
        assert_eq!(
            ts("2026-11-21 10:00:00.1234567"),
            "2026-11-21 10:00:00.123457"
        );
        assert_eq!(ts("2026-11-21 10:00:00.120"), "2026-11-21 10:00:00.12");
        assert_eq!(ts("2026-11-21"), "2026-11-21 00:00:00");
        assert_eq!(ts("infinity"), "infinity");
        assert_eq!(tstz("2026-11-21T10:00:00+05:30"), "2026-11-21 04:30:00+00");
        assert_eq!(tstz("2026-11-21 10:00:00-0800"), "2026-11-21 18:00:00+00");
        assert_eq!(tstz("2026-11-21 10:00:00Z"), "2026-11-21 10:00:00+00");
        assert_eq!(
            tstz("2026-11-21 10:00:00.123+00"),
            "2026-11-21 10:00:00.123+00"
        );
        assert_eq!(tstz("epoch"), "1970-01-01 00:00:00+00");
        assert_eq!(tstz("2026-11-21 10:00:00 PST"), "2026-11-21 18:00:00+00");
        let e = parse_timestamp("2026-11-21 25:00", false).unwrap_err();
        assert_eq!(
            e.message,
            "date/time field value out of range: \"2026-11-21 25:00\""
        );
        let e = parse_timestamp("x", true).unwrap_err();
        assert_eq!(
            e.message,
            "invalid input syntax for type timestamp with time zone: \"x\""
        );
    }

    #[test]
    fn intervals_in_postgres_style() {
        assert_eq!(iv("-1 day"), "-1 days");
        assert_eq!(iv("1 day -2 hours"), "1 day -02:00:00");
        assert_eq!(iv("-1 day +2 hours"), "-1 days +02:00:00");
        assert_eq!(
            iv("1 year 2 mons 3 days 04:05:06.5"),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(iv("-00:00:01.5"), "-00:00:01.5");
        assert_eq!(iv("1 mon -1 day"), "1 mon -1 days");
        assert_eq!(iv("25 hours"), "25:00:00");
        assert_eq!(iv("0"), "00:00:00");
        assert_eq!(iv("1.5 days"), "1 day 12:00:00");
        assert_eq!(iv("1.5 months"), "1 mon 15 days");
        assert_eq!(iv("@ 2 hours ago"), "-02:00:00");
        assert_eq!(iv("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(iv("10min"), "00:10:00");
        assert_eq!(
            parse_interval("x").unwrap_err().message,
            "invalid input syntax for type interval: \"x\""
        );
    }

    #[test]
    fn interval_arithmetic() {
        let jan31 = days_from_ymd(2026, 1, 31) * USECS_PER_DAY;
        let r = ts_add_interval(jan31, 1, 0, 0).unwrap();
        let mut o = String::new();
        format_timestamp(r, false, &mut o);
        assert_eq!(o, "2026-02-28 00:00:00");
        let a = parse_timestamp("2026-03-02", false).unwrap();
        let b = parse_timestamp("2026-01-01 12:00", false).unwrap();
        assert_eq!(ts_diff(a, b).unwrap(), (0, 59, 12 * USECS_PER_HOUR));
        assert_eq!(interval_mul(12, 0, 0, 1.5).unwrap(), (18, 0, 0));
        assert_eq!(
            interval_mul(0, 1, 0, 1.0 / 3.0).unwrap(),
            (0, 0, 8 * USECS_PER_HOUR)
        );
    }
}
