//! Time zones: the session's `TimeZone` (PostgreSQL's `session_timezone`) and
//! the zones `AT TIME ZONE` and input text name.
//!
//! A `timestamptz` is UTC microseconds; only its text form and the
//! operations that work in local time (casts to and from `timestamp` and
//! `date`, `date_trunc`, `extract`, adding months or days) look at a zone.
//! A [`Zone`] is UTC, a fixed offset, or a zone of the IANA database that
//! `jiff` bundles (so no files of the host are read, as PostgreSQL ships its
//! own copy). Local times that a transition skips (spring forward) take the
//! offset from before it and times it repeats (fall back) the offset from
//! after it, as PostgreSQL's `DetermineTimeZoneOffset`.
//!
//! The session's zone lives in a thread-local: each backend runs its
//! statements on its own thread, and the session installs its setting with
//! [`set_session_zone`] before each statement (a no-op while it is
//! unchanged). A thread that never sets one (walsenders, decoding) works in
//! UTC, the server's default.

use std::cell::RefCell;
use std::rc::Rc;

use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::datetime::{days_from_ymd, tm_from_ts, USECS_PER_DAY, USECS_PER_SEC};

/// A time zone.
#[derive(Clone, Debug)]
pub enum Zone {
    Utc,
    /// Seconds east of UTC.
    Fixed(i32),
    Named(TimeZone),
}

impl Zone {
    /// The zone a `TimeZone` setting or an `AT TIME ZONE` operand names:
    /// an IANA name (any case), `UTC`-likes, or a POSIX-style offset
    /// (`+05:30` is five and a half hours *west*, as in PostgreSQL); `None`
    /// if it names none.
    pub fn parse(name: &str) -> Option<Zone> {
        let t = name.trim();
        if [
            "utc",
            "etc/utc",
            "uct",
            "universal",
            "zulu",
            "z",
            "gmt",
            "etc/gmt",
            "greenwich",
        ]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(t))
        {
            return Some(Zone::Utc);
        }
        // a bare number is hours east (SQL's sense), `[+-]hh:mm[:ss]` is
        // POSIX's (hours west), as PostgreSQL's check_timezone reads them
        if let Some(hours) = bare_hours(t) {
            let secs = (hours * 3600.0).round() as i32;
            return Some(if secs == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(secs)
            });
        }
        // `<-05>+05`: what SHOW prints for `SET TIME ZONE -5`
        if let Some((_, off)) = t.strip_prefix('<').and_then(|r| r.split_once('>')) {
            return posix_offset(off, true).map(|secs| Zone::Fixed(-secs));
        }
        if let Some(secs) = posix_offset(t, false) {
            return Some(if secs == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(-secs)
            });
        }
        TimeZone::get(t).ok().map(Zone::Named)
    }

    /// The zone's offset from UTC (seconds east) at UTC instant `ts`.
    pub fn offset_at(&self, ts: i64) -> i32 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => tz.to_offset(instant(ts)).seconds(),
        }
    }

    /// The UTC instant of local time `local` (microseconds since
    /// 2000-01-01 on the zone's clock).
    pub fn to_utc(&self, local: i64) -> i64 {
        let off = match self {
            Zone::Utc => 0,
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => match tz.to_ambiguous_timestamp(civil(local)).offset() {
                AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
                // skipped: the offset in force before the transition
                AmbiguousOffset::Gap { before, .. } => before.seconds(),
                // repeated: the offset in force after it
                AmbiguousOffset::Fold { after, .. } => after.seconds(),
            },
        };
        local.saturating_sub(off as i64 * USECS_PER_SEC)
    }

    /// The local time (microseconds since 2000-01-01) of UTC instant `ts`.
    pub fn to_local(&self, ts: i64) -> i64 {
        ts.saturating_add(self.offset_at(ts) as i64 * USECS_PER_SEC)
    }

    /// The abbreviation in use at `ts` (`EST`, `CEST`, `UTC`, `+0530`), for
    /// `to_char`'s `TZ`.
    pub fn abbreviation(&self, ts: i64) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Fixed(s) => {
                let mut out = String::new();
                push_offset(&mut out, *s);
                out
            }
            Zone::Named(tz) => tz.to_offset_info(instant(ts)).abbreviation().to_string(),
        }
    }
}

/// A number of hours (`-5`, `5.5`), within PostgreSQL's 15-hour limit.
fn bare_hours(t: &str) -> Option<f64> {
    let digits = t.trim_start_matches(['+', '-']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let h: f64 = t.parse().ok()?;
    (h.abs() <= 15.0).then_some(h)
}

/// `[+-]hh:mm[:ss]` (`hours_alone`: also `[+-]hh`) as seconds, in the
/// sign written.
fn posix_offset(t: &str, hours_alone: bool) -> Option<i32> {
    if !hours_alone && !t.contains(':') {
        return None;
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        b'0'..=b'9' => (1, t),
        _ => return None,
    };
    let mut parts = rest.split(':');
    let mut secs = 0i32;
    for (i, unit) in [3600, 60, 1].into_iter().enumerate() {
        match parts.next() {
            Some(p) if !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let v: i32 = p.parse().ok()?;
                if i > 0 && v > 59 {
                    return None;
                }
                secs += v * unit;
            }
            Some(_) => return None,
            None if i == 0 => return None,
            None => break,
        }
    }
    if parts.next().is_some() || secs > 15 * 3600 {
        return None;
    }
    Some(sign * secs)
}

/// Appends a UTC offset as PostgreSQL prints it: `+00`, `-05`, `+05:30`,
/// `-03:30:52`.
pub fn push_offset(out: &mut String, secs_east: i32) {
    use std::fmt::Write;
    let sign = if secs_east < 0 { '-' } else { '+' };
    let a = secs_east.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let _ = write!(out, "{sign}{h:02}");
    if m != 0 || s != 0 {
        let _ = write!(out, ":{m:02}");
    }
    if s != 0 {
        let _ = write!(out, ":{s:02}");
    }
}

/// A jiff instant for `ts`, clamped into jiff's range (years -9999..9999;
/// the zone's rules at the ends of that range hold beyond it).
fn instant(ts: i64) -> jiff::Timestamp {
    // 2000-01-01 is 946684800 s after the Unix epoch
    const UNIX_2000_US: i64 = 946_684_800 * USECS_PER_SEC;
    let unix = ts.saturating_add(UNIX_2000_US);
    jiff::Timestamp::from_microsecond(unix).unwrap_or(if unix < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// A jiff civil date-time for local time `local`, clamped into jiff's range.
fn civil(local: i64) -> jiff::civil::DateTime {
    let lo = days_from_ymd(-9998, 1, 2) * USECS_PER_DAY;
    let hi = days_from_ymd(9999, 12, 30) * USECS_PER_DAY;
    let tm = tm_from_ts(local.clamp(lo, hi));
    jiff::civil::DateTime::new(
        tm.year as i16,
        tm.month as i8,
        tm.day as i8,
        tm.hour as i8,
        tm.minute as i8,
        tm.second as i8,
        tm.usec as i32 * 1000,
    )
    .unwrap_or(jiff::civil::DateTime::ZERO)
}

thread_local! {
    /// The zone statements of this thread's session use, with its setting.
    static SESSION: RefCell<(String, Rc<Zone>)> = RefCell::new(("UTC".into(), Rc::new(Zone::Utc)));
}

/// Installs the session's `TimeZone` setting for this thread (a no-op when
/// it is the one installed). A name no zone answers to (the setting was
/// validated, so only a zone the database lost) means UTC.
pub fn set_session_zone(setting: &str) {
    SESSION.with(|s| {
        let mut s = s.borrow_mut();
        if s.0 != setting {
            let zone = Zone::parse(setting).unwrap_or(Zone::Utc);
            *s = (setting.to_string(), Rc::new(zone));
        }
    })
}

/// The session's zone.
pub fn session_zone() -> Rc<Zone> {
    SESSION.with(|s| Rc::clone(&s.borrow().1))
}

/// Whether the session works in UTC (the fast path of every conversion).
fn session_is_utc() -> bool {
    SESSION.with(|s| matches!(*s.borrow().1, Zone::Utc))
}

/// The session zone's offset (seconds east) at UTC instant `ts`.
pub fn session_offset(ts: i64) -> i32 {
    if session_is_utc() {
        return 0;
    }
    session_zone().offset_at(ts)
}

/// Session local time of UTC instant `ts` (`timestamptz` to `timestamp`).
pub fn to_local(ts: i64) -> i64 {
    if session_is_utc() {
        return ts;
    }
    session_zone().to_local(ts)
}

/// UTC instant of session local time `local` (`timestamp` to `timestamptz`).
pub fn to_utc(local: i64) -> i64 {
    if session_is_utc() {
        return local;
    }
    session_zone().to_utc(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(y: i64, m: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_ymd(y, m, d) * USECS_PER_DAY + (h * 3600 + mi * 60) * USECS_PER_SEC
    }

    #[test]
    fn named_zones_follow_their_rules_and_postgresql_s_gap_and_fold_choices() {
        let ny = Zone::parse("america/new_york").expect("a zone");
        assert_eq!(ny.offset_at(ts(2024, 1, 1, 12, 0)), -5 * 3600);
        assert_eq!(ny.offset_at(ts(2024, 7, 1, 12, 0)), -4 * 3600);
        // 02:30 does not exist on 2024-03-10: the offset before (EST)
        assert_eq!(ny.to_utc(ts(2024, 3, 10, 2, 30)), ts(2024, 3, 10, 7, 30));
        // 01:30 happens twice on 2024-11-03: the offset after (EST)
        assert_eq!(ny.to_utc(ts(2024, 11, 3, 1, 30)), ts(2024, 11, 3, 6, 30));
        assert_eq!(ny.abbreviation(ts(2024, 7, 1, 12, 0)), "EDT");
        assert!(Zone::parse("Foo/Bar").is_none());
    }

    #[test]
    fn posix_offsets_are_west_positive_and_print_as_postgresql_does() {
        let z = Zone::parse("+05:30").expect("an offset");
        assert_eq!(z.offset_at(0), -(5 * 3600 + 1800));
        // a bare number is SQL's hours east
        let z = Zone::parse("-5").expect("an offset");
        assert_eq!(z.offset_at(0), -5 * 3600);
        let z = Zone::parse("<-05>+05").expect("an offset");
        assert_eq!(z.offset_at(0), -5 * 3600);
        let mut s = String::new();
        for off in [0, -5 * 3600, 5 * 3600 + 1800, -(3 * 3600 + 30 * 60 + 52)] {
            push_offset(&mut s, off);
            s.push(' ');
        }
        assert_eq!(s, "+00 -05 +05:30 -03:30:52 ");
    }

    #[test]
    fn the_session_zone_is_per_thread_and_utc_by_default() {
        set_session_zone("Asia/Kolkata");
        assert_eq!(session_offset(0), 5 * 3600 + 1800);
        let other = std::thread::spawn(|| session_offset(0))
            .join()
            .expect("joins");
        assert_eq!(other, 0);
        set_session_zone("UTC");
        assert_eq!(to_local(12345), 12345);
    }
}
