//! The decisions of a physical walsender, as pure functions of its state and the
//! clock, so they are tested without sockets (PostgreSQL's `walsender.c`:
//! `XLogSendPhysical`, `WalSndKeepaliveIfNecessary`, `WalSndCheckTimeOut`,
//! `WalSndComputeSleeptime`, and the lag tracker `LagTrackerWrite/Read`).
//!
//! The server's loop (`server::walsender`) is:
//! ```text
//! loop
//!   process standby messages (reply -> lag tracker, slot; 'h' -> slot xmins)
//!   timed_out?  -> LOG "terminating walsender process due to replication timeout", exit
//!   next_chunk(sent, flush) -> send 'w', lag.write(chunk end, now)
//!   keepalive_due? -> send 'k' with replyRequested
//!   sleep until new WAL is flushed, a message arrives, or sleep_time() passes
//! ```
//! Times are microseconds (PostgreSQL's `TimestampTz`, since 2000-01-01 UTC).

use std::collections::VecDeque;

use tandem_types::Lsn;

/// Most WAL bytes in one XLogData message (PostgreSQL's `MAX_SEND_SIZE`, 16 pages).
pub const MAX_SEND_SIZE: u64 = 16 * 8192;

/// `pg_stat_replication.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalSndState {
    Startup,
    Catchup,
    Streaming,
    Stopping,
}

impl WalSndState {
    pub fn as_str(self) -> &'static str {
        match self {
            WalSndState::Startup => "startup",
            WalSndState::Catchup => "catchup",
            WalSndState::Streaming => "streaming",
            WalSndState::Stopping => "stopping",
        }
    }
}

/// The next range of WAL to send: from `sent` up to at most `max` bytes, never
/// past `flush`. Like PostgreSQL, a chunk that is cut by `max` ends on a page
/// (8 KiB) boundary so later chunks are page aligned. `None` when caught up.
pub fn next_chunk(sent: Lsn, flush: Lsn, max: u64) -> Option<(Lsn, Lsn)> {
    if sent >= flush {
        return None;
    }
    let mut end = sent.0.saturating_add(max.max(1));
    if end >= flush.0 {
        end = flush.0;
    } else {
        let page_end = end - end % 8192;
        if page_end > sent.0 {
            end = page_end;
        }
    }
    Some((sent, Lsn(end)))
}

/// Timeout bookkeeping of one walsender (`last_reply_timestamp`,
/// `waiting_for_ping_response`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// `wal_sender_timeout` in microseconds; 0 disables timeouts and keepalives.
    pub timeout_us: i64,
    /// When the standby last sent anything.
    pub last_reply: i64,
    /// A keepalive asking for a reply is outstanding.
    pub waiting_for_ping: bool,
}

impl Timers {
    pub fn new(timeout_ms: u64, now: i64) -> Timers {
        Timers {
            timeout_us: (timeout_ms as i64).saturating_mul(1000),
            last_reply: now,
            waiting_for_ping: false,
        }
    }

    /// Any message from the standby.
    pub fn heard_from_standby(&mut self, now: i64) {
        self.last_reply = now;
        self.waiting_for_ping = false;
    }

    /// Whether the standby has been silent for `wal_sender_timeout`.
    pub fn timed_out(&self, now: i64) -> bool {
        self.timeout_us > 0 && now >= self.last_reply.saturating_add(self.timeout_us)
    }

    /// Whether to send a keepalive requesting a reply now: half the timeout has
    /// passed in silence and no such ping is outstanding. The caller then calls
    /// [`Timers::pinged`].
    pub fn keepalive_due(&self, now: i64) -> bool {
        self.timeout_us > 0
            && !self.waiting_for_ping
            && now >= self.last_reply.saturating_add(self.timeout_us / 2)
    }

    pub fn pinged(&mut self) {
        self.waiting_for_ping = true;
    }

    /// How long to sleep (microseconds) before a timer needs attention, at most
    /// `cap`: until the keepalive is due, or (ping outstanding) until the timeout.
    pub fn sleep_time(&self, now: i64, cap: i64) -> i64 {
        if self.timeout_us <= 0 {
            return cap;
        }
        let wake = if self.waiting_for_ping {
            self.last_reply.saturating_add(self.timeout_us)
        } else {
            self.last_reply.saturating_add(self.timeout_us / 2)
        };
        (wake - now).clamp(0, cap)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sample {
    lsn: Lsn,
    time: i64,
}

/// Samples per reader kept by the lag tracker (PostgreSQL keeps 8192).
pub const LAG_TRACKER_SIZE: usize = 8192;

/// One reader of the lag tracker (write, flush or apply position).
#[derive(Clone, Debug, Default)]
struct LagReader {
    pending: VecDeque<Sample>,
    last_read: Option<Sample>,
}

/// Computes write/flush/replay lag as PostgreSQL does: each time WAL up to `lsn`
/// is sent, (lsn, now) is recorded; when the standby reports a position, the lag
/// is the time since the newest recorded sample at or before it was sent, or an
/// interpolation towards the next sample when the position lies between two.
#[derive(Clone, Debug, Default)]
pub struct LagTracker {
    last_lsn: Lsn,
    readers: [LagReader; 3],
}

/// Which reported position a lag reading is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LagKind {
    Write = 0,
    Flush = 1,
    Apply = 2,
}

impl LagTracker {
    /// WAL up to `lsn` was sent (flushed locally) at `now`.
    pub fn write(&mut self, lsn: Lsn, now: i64) {
        if lsn == self.last_lsn {
            return;
        }
        self.last_lsn = lsn;
        let s = Sample { lsn, time: now };
        for r in &mut self.readers {
            if r.pending.len() >= LAG_TRACKER_SIZE {
                // full: overwrite the newest sample (lowers the sampling rate)
                r.pending.pop_back();
            }
            r.pending.push_back(s);
        }
    }

    /// The lag in microseconds of a reported position, or `None` when nothing
    /// new can be said (no sample crossed and none to interpolate towards).
    pub fn read(&mut self, kind: LagKind, lsn: Lsn, now: i64) -> Option<i64> {
        let r = &mut self.readers[kind as usize];
        let mut crossed: Option<i64> = None;
        while let Some(s) = r.pending.front().copied() {
            if s.lsn > lsn {
                break;
            }
            crossed = Some(s.time);
            r.last_read = Some(s);
            r.pending.pop_front();
        }
        if r.pending.is_empty() {
            // everything sent was processed: forget the stale interpolation base
            r.last_read = None;
        }
        let time = match crossed {
            Some(t) => t,
            None => {
                let next = *r.pending.front()?;
                match r.last_read {
                    Some(prev) => {
                        if lsn < prev.lsn || prev.time > next.time || next.lsn <= prev.lsn {
                            return None;
                        }
                        let fraction =
                            (lsn.0 - prev.lsn.0) as f64 / (next.lsn.0 - prev.lsn.0) as f64;
                        prev.time + ((next.time - prev.time) as f64 * fraction) as i64
                    }
                    None => next.time,
                }
            }
        };
        if time > now {
            return None;
        }
        Some(now - time)
    }
}

/// What a standby's status update does to the displayed lags: PostgreSQL keeps
/// the previous lag when a reading gives nothing new, and clears all three when
/// the standby reported having applied everything sent in two consecutive
/// replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lags {
    pub write: Option<i64>,
    pub flush: Option<i64>,
    pub apply: Option<i64>,
    fully_applied_last_time: bool,
}

impl Lags {
    /// Applies one status update (`write`, `flush`, `apply`) given what was sent.
    pub fn on_reply(
        &mut self,
        tracker: &mut LagTracker,
        sent: Lsn,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        now: i64,
    ) {
        let w = tracker.read(LagKind::Write, write, now);
        let f = tracker.read(LagKind::Flush, flush, now);
        let a = tracker.read(LagKind::Apply, apply, now);
        let mut clear = false;
        if apply == sent {
            clear = self.fully_applied_last_time;
            self.fully_applied_last_time = true;
        } else {
            self.fully_applied_last_time = false;
        }
        if w.is_some() || clear {
            self.write = w;
        }
        if f.is_some() || clear {
            self.flush = f;
        }
        if a.is_some() || clear {
            self.apply = a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_never_pass_the_flush_position_and_align_to_pages() {
        assert_eq!(next_chunk(Lsn(100), Lsn(100), MAX_SEND_SIZE), None);
        assert_eq!(next_chunk(Lsn(200), Lsn(100), MAX_SEND_SIZE), None);
        assert_eq!(
            next_chunk(Lsn(100), Lsn(5000), MAX_SEND_SIZE),
            Some((Lsn(100), Lsn(5000)))
        );
        // cut by the size limit: ends on a page boundary
        let (s, e) = next_chunk(Lsn(100), Lsn(1 << 20), MAX_SEND_SIZE).unwrap();
        assert_eq!(s, Lsn(100));
        assert_eq!(e.0 % 8192, 0);
        assert!(e.0 - s.0 <= MAX_SEND_SIZE);
        // a tiny max inside one page still makes progress
        assert_eq!(
            next_chunk(Lsn(100), Lsn(1000), 10),
            Some((Lsn(100), Lsn(110)))
        );
    }

    #[test]
    fn keepalive_and_timeout_schedule() {
        let mut t = Timers::new(60_000, 0);
        assert!(!t.keepalive_due(29_999_999));
        assert!(t.keepalive_due(30_000_000));
        assert_eq!(t.sleep_time(10_000_000, i64::MAX), 20_000_000);
        t.pinged();
        assert!(!t.keepalive_due(31_000_000));
        assert_eq!(t.sleep_time(31_000_000, i64::MAX), 29_000_000);
        assert!(!t.timed_out(59_999_999));
        assert!(t.timed_out(60_000_000));
        t.heard_from_standby(40_000_000);
        assert!(!t.timed_out(60_000_000));
        assert!(!t.keepalive_due(69_000_000));
        assert!(t.keepalive_due(70_000_000));
        let off = Timers::new(0, 0);
        assert!(!off.timed_out(i64::MAX / 2));
        assert!(!off.keepalive_due(i64::MAX / 2));
        assert_eq!(off.sleep_time(5, 1000), 1000);
    }

    #[test]
    fn lag_is_time_since_the_position_was_sent() {
        let mut lt = LagTracker::default();
        lt.write(Lsn(100), 1_000);
        lt.write(Lsn(100), 1_500); // same LSN: no new sample
        lt.write(Lsn(200), 2_000);
        lt.write(Lsn(300), 3_000);
        // flushed up to 200 at 2_600: sample (200, 2_000) crossed
        assert_eq!(lt.read(LagKind::Flush, Lsn(200), 2_600), Some(600));
        // halfway between 200 and 300: interpolated send time 2_500
        assert_eq!(lt.read(LagKind::Flush, Lsn(250), 2_700), Some(200));
        // nothing sent beyond: caught up, no new reading
        assert_eq!(lt.read(LagKind::Flush, Lsn(300), 3_100), Some(100));
        assert_eq!(lt.read(LagKind::Flush, Lsn(300), 3_200), None);
        // apply reader is independent and has only a future sample at first
        assert_eq!(lt.read(LagKind::Apply, Lsn(50), 1_200), Some(200));
    }

    #[test]
    fn lags_clear_after_two_fully_applied_replies() {
        let mut lt = LagTracker::default();
        let mut lags = Lags::default();
        lt.write(Lsn(100), 1_000);
        lags.on_reply(&mut lt, Lsn(100), Lsn(100), Lsn(100), Lsn(100), 1_300);
        assert_eq!(
            (lags.write, lags.flush, lags.apply),
            (Some(300), Some(300), Some(300))
        );
        // second fully-applied reply with nothing new: lags are cleared
        lags.on_reply(&mut lt, Lsn(100), Lsn(100), Lsn(100), Lsn(100), 5_000);
        assert_eq!((lags.write, lags.flush, lags.apply), (None, None, None));
        // a partial reply keeps the old value when there is nothing new to say
        lt.write(Lsn(200), 6_000);
        lags.on_reply(&mut lt, Lsn(200), Lsn(200), Lsn(150), Lsn(100), 6_100);
        assert_eq!(lags.write, Some(100));
        assert_eq!(lags.flush, Some(100)); // only a future sample: its age
    }
}
