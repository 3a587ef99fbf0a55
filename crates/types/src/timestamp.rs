//! [`PgTimestamp`]: a point in time as PostgreSQL's `TimestampTz` counts it,
//! microseconds since 2000-01-01 00:00:00 UTC (`datatype/timestamp.h`).
//!
//! Replication messages, commit timestamps, backend start times and the SQL
//! `now()` all use this count; `PgTimestamp::now()` is the one place that reads
//! the clock for them. Text formatting belongs to the SQL datetime code
//! (`tandem-expr`), which knows about time zones and `DateStyle`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since 2000-01-01 00:00:00 UTC, PostgreSQL's `TimestampTz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PgTimestamp(pub i64);

impl PgTimestamp {
    /// Microseconds from the Unix epoch (1970-01-01) to PostgreSQL's (2000-01-01).
    pub const UNIX_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

    /// The current time (`GetCurrentTimestamp`).
    pub fn now() -> PgTimestamp {
        PgTimestamp::from_system_time(SystemTime::now())
    }

    pub const fn from_micros(micros: i64) -> PgTimestamp {
        PgTimestamp(micros)
    }

    /// Microseconds since 2000-01-01 UTC.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// From microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> PgTimestamp {
        PgTimestamp(micros.saturating_sub(Self::UNIX_EPOCH_OFFSET_MICROS))
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0.saturating_add(Self::UNIX_EPOCH_OFFSET_MICROS)
    }

    /// From a `SystemTime` (times before 1970 included), saturating at the i64 range.
    pub fn from_system_time(t: SystemTime) -> PgTimestamp {
        let unix = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_micros())
                .map(|m| -m)
                .unwrap_or(i64::MIN),
        };
        PgTimestamp::from_unix_micros(unix)
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        let unix = self.unix_micros();
        let d = Duration::from_micros(unix.unsigned_abs());
        if unix >= 0 {
            UNIX_EPOCH + d
        } else {
            UNIX_EPOCH - d
        }
    }
}

impl From<PgTimestamp> for i64 {
    fn from(t: PgTimestamp) -> i64 {
        t.0
    }
}

impl From<i64> for PgTimestamp {
    fn from(micros: i64) -> PgTimestamp {
        PgTimestamp(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs() {
        assert_eq!(
            PgTimestamp::from_system_time(UNIX_EPOCH).as_micros(),
            -946_684_800_000_000
        );
        let y2k = UNIX_EPOCH + Duration::from_secs(946_684_800);
        assert_eq!(PgTimestamp::from_system_time(y2k), PgTimestamp(0));
        assert_eq!(PgTimestamp(0).to_system_time(), y2k);
        let before_1970 = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(PgTimestamp::from_system_time(before_1970).unix_micros(), -1);
        assert_eq!(
            PgTimestamp::from_unix_micros(946_684_800_000_001),
            PgTimestamp(1)
        );
    }

    #[test]
    fn now_is_after_2024() {
        // 2024-01-01 00:00 UTC is 24 years (6 of them leap) after 2000-01-01.
        let jan_2024 = (24 * 365 + 6) * 86_400 * 1_000_000i64;
        assert!(PgTimestamp::now().as_micros() > jan_2024);
        assert_eq!(i64::from(PgTimestamp(5)), 5);
    }
}
