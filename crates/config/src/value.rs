//! Setting values: parsing input text (`'128MB'`, `on`, `5min`, `0777`) into typed
//! values in the base unit, validating limits, and formatting them back the way
//! `SHOW` and `pg_settings` print them.
//!
//! Corresponds to the value half of PostgreSQL's `guc.c` (`parse_bool`, `parse_int`,
//! `parse_real`, `convert_to_base_unit`, `_ShowOption`) plus the check hooks of the
//! few string settings tandem validates (`client_encoding`, `DateStyle`, `TimeZone`).
//! Error texts are PostgreSQL's.

use std::sync::Arc;

use tandem_types::{PgError, PgResult, SqlState};

use crate::tables::{GucDef, Kind, Unit, OCTAL};

/// A typed setting value, integers and reals in the setting's base unit.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    Int(i64),
    Real(f64),
    Str(Arc<str>),
    /// Index into the enum's canonical `values`.
    Enum(u16),
}

const MEMORY_HINT: &str =
    "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".";
const TIME_HINT: &str =
    "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".";

const MEMORY_UNITS: &[(&str, f64)] = &[
    ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("GB", 1024.0 * 1024.0 * 1024.0),
    ("MB", 1024.0 * 1024.0),
    ("kB", 1024.0),
    ("B", 1.0),
];
const TIME_UNITS: &[(&str, f64)] = &[
    ("d", 86_400_000.0),
    ("h", 3_600_000.0),
    ("min", 60_000.0),
    ("s", 1000.0),
    ("ms", 1.0),
    ("us", 0.001),
];

fn unit_table(unit: Unit) -> &'static [(&'static str, f64)] {
    if unit.is_memory() {
        MEMORY_UNITS
    } else if unit.is_time() {
        TIME_UNITS
    } else {
        &[]
    }
}

/// PostgreSQL's `parse_bool`: case-insensitive `on`/`off`/`true`/`false`/`yes`/`no`/
/// `1`/`0` and unique prefixes (`t`, `y`, `of`).
pub fn parse_bool(s: &str) -> Option<bool> {
    let l = s.to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| l.len() >= min && word.starts_with(l.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || l == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || l == "0" {
        Some(false)
    } else {
        None
    }
}

/// Splits `text` into a leading number and the rest (after spaces). Accepts what
/// `strtol(..., 0)` and `strtod` accept: sign, `0x` hex, leading-zero octal, decimals
/// and exponents. `allow_int_forms` enables hex/octal.
fn split_number(text: &str, allow_int_forms: bool) -> Option<(f64, &str)> {
    let t = text.trim_start();
    let bytes = t.as_bytes();
    let mut pos = 0;
    let neg = match bytes.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let body = &t[pos..];
    if allow_int_forms {
        if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
            if n == 0 {
                return None;
            }
            let v = i64::from_str_radix(&hex[..n], 16).ok()? as f64;
            return Some((sign * v, hex[n..].trim_start()));
        }
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        let next = body.as_bytes().get(digits).copied();
        if digits > 1 && body.starts_with('0') && !matches!(next, Some(b'.' | b'e' | b'E')) {
            let v = i64::from_str_radix(&body[..digits], 8).ok()? as f64;
            return Some((sign * v, body[digits..].trim_start()));
        }
    }
    let b = body.as_bytes();
    let mut n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut any_digit = n > 0;
    if b.get(n) == Some(&b'.') {
        let frac = b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        any_digit |= frac > 0;
        n += 1 + frac;
    }
    if !any_digit {
        return None;
    }
    if matches!(b.get(n), Some(b'e' | b'E')) {
        let mut m = n + 1;
        if matches!(b.get(m), Some(b'+' | b'-')) {
            m += 1;
        }
        let exp = b[m..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp > 0 {
            n = m + exp;
        }
    }
    let v: f64 = body[..n].parse().ok()?;
    Some((sign * v, body[n..].trim_start()))
}

/// Converts `value` given in `unit_text` into `unit`'s base; `None` for a bad unit.
fn to_base(value: f64, unit_text: &str, unit: Unit) -> Option<f64> {
    let unit_text = unit_text.trim_end();
    if unit_text.is_empty() {
        return Some(value);
    }
    let (_, size) = unit_table(unit).iter().find(|(n, _)| *n == unit_text)?;
    Some(value * size / unit.base_size())
}

/// Parses an integer setting's text into its base unit. `Err(hint)` on failure.
pub fn parse_int(text: &str, unit: Unit) -> Result<i64, Option<&'static str>> {
    let (v, rest) = split_number(text, true).ok_or(None)?;
    if !rest.trim_end().is_empty() && unit == Unit::None {
        return Err(None);
    }
    let hint = if unit.is_memory() {
        MEMORY_HINT
    } else {
        TIME_HINT
    };
    let v = to_base(v, rest, unit).ok_or(Some(hint))?.round();
    if v > i32::MAX as f64 || v < i32::MIN as f64 || v.is_nan() {
        return Err(Some("Value exceeds integer range."));
    }
    Ok(v as i64)
}

/// Parses a real setting's text into its base unit.
pub fn parse_real(text: &str, unit: Unit) -> Result<f64, Option<&'static str>> {
    let (v, rest) = split_number(text, false).ok_or(None)?;
    if !rest.trim_end().is_empty() && unit == Unit::None {
        return Err(None);
    }
    let hint = if unit.is_memory() {
        MEMORY_HINT
    } else {
        TIME_HINT
    };
    let v = to_base(v, rest, unit).ok_or(Some(hint))?;
    if v.is_nan() {
        return Err(None);
    }
    Ok(v)
}

pub fn invalid_value(name: &str, value: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// Parses and validates `text` for `def`, with PostgreSQL's error texts. `name` is
/// the spelling the user wrote (PostgreSQL echoes it); check hooks use the canonical.
pub fn parse_value(def: &GucDef, name: &str, text: &str) -> PgResult<Val> {
    match def.kind {
        Kind::Bool => parse_bool(text).map(Val::Bool).ok_or_else(|| {
            PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("parameter \"{name}\" requires a Boolean value"),
            )
        }),
        Kind::Int { min, max } => {
            let v = parse_int(text, def.unit).map_err(|hint| {
                let e = invalid_value(name, text);
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            })?;
            if v < min || v > max {
                let u = def
                    .unit
                    .pg_name()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "{v}{u} is outside the valid range for parameter \"{name}\" ({min}{u} .. {max}{u})"
                    ),
                ));
            }
            Ok(Val::Int(v))
        }
        Kind::Real { min, max } => {
            let v = parse_real(text, def.unit).map_err(|hint| {
                let e = invalid_value(name, text);
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            })?;
            if v < min || v > max {
                let u = def
                    .unit
                    .pg_name()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "{}{u} is outside the valid range for parameter \"{name}\" ({}{u} .. {}{u})",
                        format_real(v),
                        format_real(min),
                        format_real(max)
                    ),
                ));
            }
            Ok(Val::Real(v))
        }
        Kind::Enum { values, aliases } => {
            let canonical = aliases
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(text))
                .map(|(_, c)| *c)
                .unwrap_or(text);
            values
                .iter()
                .position(|v| v.eq_ignore_ascii_case(canonical))
                .map(|i| Val::Enum(i as u16))
                .ok_or_else(|| {
                    invalid_value(name, text)
                        .with_hint(format!("Available values: {}.", values.join(", ")))
                })
        }
        Kind::Str => check_string(def, text).map(|s| Val::Str(Arc::from(s))),
    }
}

/// Check hooks for the string settings whose values tandem interprets.
fn check_string(def: &GucDef, text: &str) -> PgResult<String> {
    match def.name {
        "client_encoding" => check_client_encoding(text),
        "DateStyle" => check_datestyle(text),
        "TimeZone" | "log_timezone" => check_timezone(def.name, text),
        "synchronized_standby_slots" => {
            tandem_replication::standby_slots::parse(text).map(|_| text.to_string())
        }
        _ => Ok(text.to_string()),
    }
}

/// PostgreSQL's encoding names, for telling "unsupported" from "unknown".
const KNOWN_ENCODINGS: &[&str] = &[
    "LATIN1",
    "LATIN2",
    "LATIN3",
    "LATIN4",
    "LATIN5",
    "LATIN6",
    "LATIN7",
    "LATIN8",
    "LATIN9",
    "LATIN10",
    "WIN1250",
    "WIN1251",
    "WIN1252",
    "WIN1253",
    "WIN1254",
    "WIN1255",
    "WIN1256",
    "WIN1257",
    "WIN1258",
    "WIN866",
    "WIN874",
    "KOI8R",
    "KOI8U",
    "EUC_JP",
    "EUC_CN",
    "EUC_KR",
    "EUC_TW",
    "EUC_JIS_2004",
    "SJIS",
    "SHIFT_JIS_2004",
    "BIG5",
    "GBK",
    "GB18030",
    "UHC",
    "JOHAB",
    "MULE_INTERNAL",
    "ISO_8859_5",
    "ISO_8859_6",
    "ISO_8859_7",
    "ISO_8859_8",
];

fn clean_encoding_name(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// tandem speaks UTF8 only (plus SQL_ASCII, which passes bytes through, as libpq
/// asks for it under the C locale).
fn check_client_encoding(text: &str) -> PgResult<String> {
    let clean = clean_encoding_name(text);
    match clean.as_str() {
        "utf8" | "unicode" => return Ok("UTF8".into()),
        "sqlascii" => return Ok("SQL_ASCII".into()),
        _ => {}
    }
    if let Some(known) = KNOWN_ENCODINGS
        .iter()
        .find(|k| clean_encoding_name(k) == clean)
    {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("invalid value for parameter \"client_encoding\": \"{text}\""),
        )
        .with_detail(format!(
            "Conversion between {known} and UTF8 is not supported."
        )));
    }
    Err(invalid_value("client_encoding", text))
}

/// PostgreSQL's `check_datestyle`: output style plus field order, canonicalized.
fn check_datestyle(text: &str) -> PgResult<String> {
    let mut style: Option<&str> = None;
    let mut order: Option<&str> = None;
    let conflict = || {
        invalid_value("DateStyle", text).with_detail("Conflicting \"datestyle\" specifications.")
    };
    for tok in text.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (is_style, v) = match tok.to_ascii_lowercase().as_str() {
            "iso" => (true, "ISO"),
            "sql" => (true, "SQL"),
            "postgres" => (true, "Postgres"),
            "german" => (true, "German"),
            "ymd" => (false, "YMD"),
            "dmy" | "euro" | "european" => (false, "DMY"),
            "mdy" | "us" | "noneuro" | "noneuropean" => (false, "MDY"),
            "default" => {
                style.get_or_insert("ISO");
                order.get_or_insert("MDY");
                continue;
            }
            _ => {
                return Err(invalid_value("DateStyle", text)
                    .with_detail(format!("Unrecognized key word: \"{tok}\".")))
            }
        };
        let slot = if is_style { &mut style } else { &mut order };
        if slot.is_some_and(|old| old != v) {
            return Err(conflict());
        }
        *slot = Some(v);
    }
    let style = style.unwrap_or("ISO");
    let order = order.unwrap_or(if style == "German" { "DMY" } else { "MDY" });
    Ok(format!("{style}, {order}"))
}

/// tandem has no time zone database: it accepts UTC spellings, numeric offsets and
/// `Area/Location` names, and canonicalizes the UTC spellings.
fn check_timezone(name: &str, text: &str) -> PgResult<String> {
    let t = text.trim();
    let utc = ["utc", "etc/utc", "uct", "universal", "zulu", "z"];
    if utc.iter().any(|u| u.eq_ignore_ascii_case(t)) {
        return Ok("UTC".into());
    }
    if ["gmt", "etc/gmt", "greenwich"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(t))
    {
        return Ok("GMT".into());
    }
    let numeric =
        split_number(t, false).is_some_and(|(v, rest)| rest.is_empty() && v.abs() <= 15.0 * 60.0);
    let offset = t.contains(':')
        && t.trim_start_matches(['+', '-'])
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':');
    if numeric {
        // hours east, shown as PostgreSQL's POSIX form: `-5` is `<-05>+05`
        let secs = split_number(t, false).map_or(0, |(v, _)| (v * 3600.0).round() as i64);
        if secs == 0 {
            return Ok("UTC".into());
        }
        let hhmm = |s: i64| {
            let (h, m) = (s.abs() / 3600, s.abs() / 60 % 60);
            let sign = if s < 0 { '-' } else { '+' };
            if m == 0 {
                format!("{sign}{h:02}")
            } else {
                format!("{sign}{h:02}:{m:02}")
            }
        };
        return Ok(format!("<{}>{}", hhmm(secs), hhmm(-secs)));
    }
    if offset {
        return Ok(t.to_string());
    }
    // a zone of the IANA database (the one tandem carries), in its own
    // spelling: `europe/paris` shows as `Europe/Paris`
    match jiff::tz::TimeZone::get(t) {
        Ok(tz) => Ok(tz.iana_name().unwrap_or(t).to_string()),
        Err(_) => Err(invalid_value(name, text)),
    }
}

/// `%g`-like formatting of reals (`0.9`, `4`, `1e+10`).
pub fn format_real(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 1e15 || v.abs() < 1e-4 {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        }
    } else {
        // Six significant digits at most, like %g, then strip trailing zeros.
        let exponent = v.abs().log10().floor() as i32;
        let keep = (5 - exponent).max(0) as usize;
        let s = format!("{v:.keep$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Formats a value as `SHOW` prints it (`with_units`) or as pg_settings.setting.
pub fn format_value(def: &GucDef, v: &Val, with_units: bool) -> String {
    match (v, def.kind) {
        (Val::Bool(b), _) => if *b { "on" } else { "off" }.to_string(),
        (Val::Int(i), _) if def.has(OCTAL) => format!("{i:04o}"),
        (Val::Int(i), _) => {
            if with_units && *i > 0 && def.unit != Unit::None {
                int_with_unit(*i, def.unit)
            } else {
                i.to_string()
            }
        }
        (Val::Real(r), _) => {
            if with_units && *r > 0.0 && def.unit != Unit::None {
                real_with_unit(*r, def.unit)
            } else {
                format_real(*r)
            }
        }
        (Val::Str(s), _) => s.to_string(),
        (Val::Enum(i), Kind::Enum { values, .. }) => {
            values.get(*i as usize).copied().unwrap_or("").to_string()
        }
        (Val::Enum(i), _) => i.to_string(),
    }
}

/// The largest unit that represents `v` exactly (`16384` 8kB pages is `128MB`).
fn int_with_unit(v: i64, unit: Unit) -> String {
    let base = unit.base_size();
    for (name, size) in unit_table(unit) {
        let mult = size / base;
        if mult <= 1.0 {
            return format!("{}{name}", (v as f64 / mult).round() as i64);
        }
        let m = mult as i64;
        if mult.fract() == 0.0 && v % m == 0 {
            return format!("{}{name}", v / m);
        }
    }
    v.to_string()
}

fn real_with_unit(v: f64, unit: Unit) -> String {
    let base = unit.base_size();
    for (name, size) in unit_table(unit) {
        let mult = size / base;
        let scaled = v / mult;
        if mult <= 1.0 || (scaled.round() - scaled).abs() < 1e-8 {
            return format!("{}{name}", format_real(scaled));
        }
    }
    format_real(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::registry;

    fn def(name: &str) -> &'static GucDef {
        let reg = registry();
        reg.def(reg.find(name).unwrap_or_else(|| panic!("no {name}")))
    }

    fn show(name: &str, text: &str) -> String {
        let d = def(name);
        format_value(
            d,
            &parse_value(d, d.name, text).unwrap_or_else(|e| panic!("{e}")),
            true,
        )
    }

    #[test]
    fn every_boot_value_parses() {
        for d in registry().defs {
            assert!(
                parse_value(d, d.name, d.boot).is_ok(),
                "boot value of {} does not parse",
                d.name
            );
        }
    }

    #[test]
    fn bools_accept_postgres_spellings_and_prefixes() {
        for t in ["on", "ON", "true", "t", "yes", "y", "1", "tr"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for t in ["off", "of", "false", "f", "no", "n", "0"] {
            assert_eq!(parse_bool(t), Some(false), "{t}");
        }
        assert_eq!(parse_bool("o"), None);
        assert_eq!(parse_bool("maybe"), None);
        let e = parse_value(def("fsync"), "fsync", "maybe").unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(e.message, "parameter \"fsync\" requires a Boolean value");
    }

    #[test]
    fn memory_and_time_show_with_largest_exact_unit() {
        assert_eq!(show("shared_buffers", "128MB"), "128MB");
        assert_eq!(show("shared_buffers", "16385"), "131080kB");
        assert_eq!(show("wal_segment_size", "16777216"), "16MB");
        assert_eq!(show("work_mem", "4MB"), "4MB");
        assert_eq!(show("work_mem", "1.5MB"), "1536kB");
        assert_eq!(show("max_wal_size", "1GB"), "1GB");
        assert_eq!(show("min_wal_size", "80MB"), "80MB");
        assert_eq!(show("max_slot_wal_keep_size", "-1"), "-1");
        assert_eq!(show("wal_keep_size", "0"), "0");
        assert_eq!(show("checkpoint_timeout", "300"), "5min");
        assert_eq!(show("checkpoint_timeout", "1h"), "1h");
        assert_eq!(show("wal_writer_delay", "200"), "200ms");
        assert_eq!(show("wal_sender_timeout", "60000"), "1min");
        assert_eq!(show("wal_receiver_status_interval", "10"), "10s");
        assert_eq!(show("statement_timeout", "1500ms"), "1500ms");
        assert_eq!(show("statement_timeout", "2s"), "2s");
        assert_eq!(show("deadlock_timeout", "1s"), "1s");
        assert_eq!(show("wal_writer_flush_after", "128"), "1MB");
        assert_eq!(show("unix_socket_permissions", "0777"), "0777");
    }

    #[test]
    fn ints_report_postgres_errors() {
        let e = parse_value(def("work_mem"), "work_mem", "10 parsecs").unwrap_err();
        assert_eq!(
            e.message,
            "invalid value for parameter \"work_mem\": \"10 parsecs\""
        );
        assert_eq!(e.hint.as_deref(), Some(MEMORY_HINT));
        let e = parse_value(
            def("statement_timeout"),
            "statement_timeout",
            "5 fortnights",
        )
        .unwrap_err();
        assert_eq!(e.hint.as_deref(), Some(TIME_HINT));
        let e = parse_value(def("port"), "port", "abc").unwrap_err();
        assert_eq!(e.message, "invalid value for parameter \"port\": \"abc\"");
        assert_eq!(e.hint, None);
        let e = parse_value(def("work_mem"), "work_mem", "1kB").unwrap_err();
        assert_eq!(
            e.message,
            "1 kB is outside the valid range for parameter \"work_mem\" (64 kB .. 2097151 kB)"
        );
        let e = parse_value(def("port"), "port", "70000").unwrap_err();
        assert_eq!(
            e.message,
            "70000 is outside the valid range for parameter \"port\" (1 .. 65535)"
        );
        assert_eq!(parse_int("0x10", Unit::None), Ok(16));
        assert_eq!(parse_int("2.6", Unit::None), Ok(3));
        assert!(
            parse_int("10mb", Unit::Kb).is_err(),
            "units are case-sensitive"
        );
        assert_eq!(parse_int("1 GB", Unit::Kb), Ok(1024 * 1024));
        assert_eq!(parse_int("100us", Unit::Ms), Ok(0));
    }

    #[test]
    fn enums_accept_aliases_and_list_values() {
        assert_eq!(show("synchronous_commit", "remote_apply"), "remote_apply");
        assert_eq!(show("synchronous_commit", "true"), "on");
        assert_eq!(show("synchronous_commit", "0"), "off");
        assert_eq!(show("synchronous_commit", "LOCAL"), "local");
        let e = parse_value(def("wal_level"), "wal_level", "archiveish").unwrap_err();
        assert_eq!(
            e.message,
            "invalid value for parameter \"wal_level\": \"archiveish\""
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("Available values: minimal, replica, logical.")
        );
        let e = parse_value(def("synchronous_commit"), "synchronous_commit", "maybe").unwrap_err();
        assert_eq!(
            e.hint.as_deref(),
            Some("Available values: local, remote_write, remote_apply, on, off.")
        );
    }

    #[test]
    fn string_check_hooks() {
        assert_eq!(show("client_encoding", "utf-8"), "UTF8");
        assert_eq!(show("client_encoding", "unicode"), "UTF8");
        let e = parse_value(def("client_encoding"), "client_encoding", "LATIN1").unwrap_err();
        assert_eq!(e.code, SqlState::FEATURE_NOT_SUPPORTED);
        let e = parse_value(def("client_encoding"), "client_encoding", "klingon").unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(
            e.message,
            "invalid value for parameter \"client_encoding\": \"klingon\""
        );
        assert_eq!(show("DateStyle", "german"), "German, DMY");
        assert_eq!(show("DateStyle", "iso, dmy"), "ISO, DMY");
        assert_eq!(show("DateStyle", "SQL"), "SQL, MDY");
        assert!(parse_value(def("DateStyle"), "DateStyle", "iso, sql").is_err());
        assert_eq!(show("TimeZone", "utc"), "UTC");
        assert_eq!(show("TimeZone", "Europe/Berlin"), "Europe/Berlin");
        assert!(parse_value(def("TimeZone"), "TimeZone", "not a zone!").is_err());
    }

    #[test]
    fn reals_format_like_printf_g() {
        assert_eq!(format_real(0.9), "0.9");
        assert_eq!(format_real(4.0), "4");
        assert_eq!(format_real(1.0 / 3.0), "0.333333");
        assert_eq!(show("checkpoint_completion_target", "0.5"), "0.5");
        let e = parse_value(
            def("checkpoint_completion_target"),
            "checkpoint_completion_target",
            "1.5",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "1.5 is outside the valid range for parameter \"checkpoint_completion_target\" (0 .. 1)"
        );
    }
}
