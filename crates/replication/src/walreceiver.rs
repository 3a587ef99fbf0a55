//! The decisions of a standby's walreceiver, as pure functions of its state,
//! the timeline history and an integer clock, so they are tested without
//! sockets (PostgreSQL's `walreceiver.c`: the checks of `WalReceiverMain` after
//! IDENTIFY_SYSTEM, `WalRcvFetchTimeLineHistoryFiles`, the reply and timeout
//! schedule of `XLogWalRcvSendReply` / `WalRcvComputeNextWakeup`; and the
//! timeline switch of `xlogrecovery.c`'s `rescanLatestTimeLine`).
//!
//! The server's loop (`server::walreceiver`) is:
//! ```text
//! connect, IDENTIFY_SYSTEM         -> check_primary(ours, primary)
//! fetch history_to_fetch(..)       -> TIMELINE_HISTORY n, stored
//! read the primary's history       -> check_history(target, our timeline)
//! loop
//!   follow(target, timeline, end)  -> Switch: move the local WAL on; Stay
//!   START_REPLICATION ... TIMELINE t
//!   loop
//!     sleep until input, replay progress or Timers::sleep_us
//!     read what is readable (batch_full -> stop reading and flush)
//!     Timers::reply_due?           -> send 'r' (and 'h'), Timers::replied
//!     Timers::timed_out?           -> "terminating walreceiver due to timeout"
//!   end of the timeline            -> stream_next_timeline? again : reconnect later
//! ```
//! Times are microseconds of any clock that does not go backwards.

use tandem_types::{Lsn, PgError, PgResult, SqlState, TimeLineId};
use tandem_wal::Timelines;

/// An error of the walreceiver: PostgreSQL reports these without an error
/// code, i.e. `XX000`.
pub fn error(message: impl Into<String>) -> PgError {
    PgError::new(SqlState::INTERNAL_ERROR, message)
}

/// A system as IDENTIFY_SYSTEM describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The database system identifier, as text.
    pub system_identifier: String,
    pub timeline: TimeLineId,
}

/// Whether the primary can feed this standby: the same database system, and a
/// timeline not behind ours.
pub fn check_primary(ours: &Identity, primary: &Identity) -> PgResult<()> {
    if primary.system_identifier != ours.system_identifier {
        return Err(
            error("database system identifier differs between the primary and standby")
                .with_detail(format!(
                    "The primary's identifier is {}, the standby's identifier is {}.",
                    primary.system_identifier, ours.system_identifier
                )),
        );
    }
    if primary.timeline < ours.timeline {
        return Err(error(format!(
            "highest timeline {} of the primary is behind recovery timeline {}",
            primary.timeline.0, ours.timeline.0
        )));
    }
    Ok(())
}

/// The timelines whose history files the standby needs before it can follow
/// the primary from `ours` to `primary`: ours and every later one up to the
/// primary's (timeline 1 has no history file), as PostgreSQL's walreceiver
/// fetches them. Ours is included: a standby made on a timeline without its
/// history file would otherwise never get it, and a timeline it creates by
/// promotion would list no ancestor before ours. The caller skips those it
/// has.
pub fn history_to_fetch(ours: TimeLineId, primary: TimeLineId) -> impl Iterator<Item = TimeLineId> {
    (ours.0..=primary.0).filter(|t| *t > 1).map(TimeLineId)
}

/// Whether our timeline `ours` is in the primary's history `target` (the
/// primary's current timeline and its ancestors); otherwise the primary is on a
/// branch that is not ours.
pub fn check_history(target: &Timelines, ours: TimeLineId) -> PgResult<()> {
    if target.contains(ours) {
        return Ok(());
    }
    Err(error(format!(
        "new timeline {} is not a child of database system timeline {}",
        target.current.0, ours.0
    )))
}

/// What to do with the local WAL before streaming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Stream the current timeline.
    Stay,
    /// The local WAL ends exactly where timeline `tli` ends in the target
    /// history: move it onto `next` at `at` (`new target timeline is N`), then
    /// decide again.
    Switch { next: TimeLineId, at: Lsn },
}

/// Whether local WAL on timeline `tli` ending at `end` moves to the next
/// timeline of the primary's history `target`. WAL past the switch point is
/// history the primary does not have: PostgreSQL's "forked off" error.
pub fn follow(target: &Timelines, tli: TimeLineId, end: Lsn) -> PgResult<Follow> {
    let Some((switch, next)) = target.switch_point(tli) else {
        return Ok(Follow::Stay);
    };
    if end < switch {
        return Ok(Follow::Stay);
    }
    if end > switch {
        return Err(error(format!(
            "new timeline {} forked off current database system timeline {} before current recovery point {end}",
            next.0, tli.0
        )));
    }
    Ok(Follow::Switch { next, at: switch })
}

/// After the primary ended streaming timeline `tli` (announcing `next`, if it
/// did): whether to stream the next timeline over the same connection. Only a
/// newer timeline of the target history, and only once the local WAL (ending
/// at `end`) has all of `tli`; otherwise the attempt ends and a later one
/// starts over.
pub fn stream_next_timeline(
    target: &Timelines,
    tli: TimeLineId,
    next: Option<TimeLineId>,
    end: Lsn,
) -> bool {
    match next {
        Some(n) if n > tli && target.contains(n) => {}
        _ => return false,
    }
    let switch = target
        .switch_point(tli)
        .map(|(s, _)| s)
        .unwrap_or(Lsn::INVALID);
    end >= switch
}

/// Unflushed received WAL after which the walreceiver stops reading and flushes
/// (and replies) even though more messages are waiting.
pub const MAX_UNFLUSHED: u64 = 1 << 20;

/// Whether a batch of received WAL (written up to `written`, flushed up to
/// `flushed`) is large enough to flush before reading on.
pub fn batch_full(written: Lsn, flushed: Lsn) -> bool {
    written.0.saturating_sub(flushed.0) > MAX_UNFLUSHED
}

/// The walreceiver's schedule: when it sends a standby status update, when it
/// asks the primary for a keepalive, when it gives up on a silent primary.
/// The apply worker of a subscription keeps the same schedule towards its
/// publisher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// `wal_receiver_timeout` in microseconds; 0 disables the timeout and pings.
    pub timeout_us: i64,
    /// `wal_receiver_status_interval` in microseconds; 0 disables periodic
    /// status updates.
    pub status_interval_us: i64,
    /// When the primary last sent anything.
    pub last_recv: i64,
    /// When the last status update was sent.
    pub last_reply: i64,
    /// A status update asking for a keepalive is outstanding.
    pub ping_sent: bool,
    /// The apply (replay) position last reported: a reply goes out when replay
    /// passes it, so the primary's `remote_apply` commits are released promptly.
    pub reported_apply: Lsn,
}

impl Timers {
    /// Streaming starts at `now` with replay at `applied`; the intervals are
    /// set with [`Timers::set_intervals`].
    pub fn new(now: i64, applied: Lsn) -> Timers {
        Timers {
            timeout_us: 0,
            status_interval_us: 0,
            last_recv: now,
            last_reply: now,
            ping_sent: false,
            reported_apply: applied,
        }
    }

    /// `wal_receiver_status_interval` and `wal_receiver_timeout` in
    /// milliseconds (read again at each turn: a reload changes them).
    pub fn set_intervals(&mut self, status_interval_ms: u64, timeout_ms: u64) {
        self.set_status_interval(status_interval_ms);
        self.set_timeout(timeout_ms);
    }

    /// `wal_receiver_status_interval` in milliseconds.
    pub fn set_status_interval(&mut self, status_interval_ms: u64) {
        self.status_interval_us = (status_interval_ms as i64).saturating_mul(1000);
    }

    /// `wal_receiver_timeout` in milliseconds.
    pub fn set_timeout(&mut self, timeout_ms: u64) {
        self.timeout_us = (timeout_ms as i64).saturating_mul(1000);
    }

    /// Any message from the primary.
    pub fn heard_from_primary(&mut self, now: i64) {
        self.last_recv = now;
        self.ping_sent = false;
    }

    /// Whether `wal_receiver_status_interval` has passed since the last status
    /// update.
    pub fn status_due(&self, now: i64) -> bool {
        self.status_interval_us > 0
            && now >= self.last_reply.saturating_add(self.status_interval_us)
    }

    /// Whether to send a status update now: WAL was just flushed (`flushed`),
    /// the primary asked for one (`requested`), the status interval passed, or
    /// replay has passed the last reported apply position (replay is at
    /// `applied`). The caller then calls [`Timers::replied`].
    pub fn reply_due(&self, now: i64, flushed: bool, requested: bool, applied: Lsn) -> bool {
        flushed || requested || self.status_due(now) || applied > self.reported_apply
    }

    /// A status update reporting replay at `applied` was sent at `now`.
    pub fn replied(&mut self, now: i64, applied: Lsn) {
        self.last_reply = now;
        self.reported_apply = applied;
    }

    /// How long the walreceiver may sleep at `now` before a timer is due (a
    /// status update, or the timeout of a silent primary), in microseconds;
    /// `i64::MAX` when neither is set. The loop also wakes for input from the
    /// primary and for the startup thread's replay progress
    /// (`WalRcvComputeNextWakeup`).
    pub fn sleep_us(&self, now: i64) -> i64 {
        let mut until = i64::MAX;
        if self.status_interval_us > 0 {
            until = until.min(self.last_reply.saturating_add(self.status_interval_us));
        }
        if self.timeout_us > 0 {
            until = until.min(self.last_recv.saturating_add(self.timeout_us));
        }
        if until == i64::MAX {
            return i64::MAX;
        }
        until.saturating_sub(now).max(0)
    }

    /// Whether the primary has been silent for `wal_receiver_timeout`.
    pub fn timed_out(&self, now: i64) -> bool {
        self.timeout_us > 0 && now >= self.last_recv.saturating_add(self.timeout_us)
    }

    /// Whether to send a status update asking for a keepalive: half the timeout
    /// has passed in silence and no such request is outstanding. The caller
    /// then calls [`Timers::pinged`].
    pub fn ping_due(&self, now: i64) -> bool {
        self.timeout_us > 0
            && !self.ping_sent
            && now >= self.last_recv.saturating_add(self.timeout_us / 2)
    }

    pub fn pinged(&mut self) {
        self.ping_sent = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sysid: &str, tli: u32) -> Identity {
        Identity {
            system_identifier: sysid.into(),
            timeline: TimeLineId(tli),
        }
    }

    /// Timeline 1 until 0/3000000, timeline 2 until 0/5000000, then 3.
    fn history() -> Timelines {
        Timelines {
            current: TimeLineId(3),
            ancestors: vec![
                (TimeLineId(1), Lsn(0x300_0000)),
                (TimeLineId(2), Lsn(0x500_0000)),
            ],
        }
    }

    #[test]
    fn primary_must_be_the_same_system_and_not_behind() {
        // (ours, primary, error message or None)
        let cases = [
            (id("7", 1), id("7", 1), None),
            (id("7", 1), id("7", 3), None),
            (
                id("7", 1),
                id("8", 1),
                Some("database system identifier differs between the primary and standby"),
            ),
            (
                id("7", 3),
                id("7", 2),
                Some("highest timeline 2 of the primary is behind recovery timeline 3"),
            ),
        ];
        for (ours, primary, want) in cases {
            let got = check_primary(&ours, &primary);
            assert_eq!(
                got.as_ref().err().map(|e| e.message.as_str()),
                want,
                "{ours:?} {primary:?}"
            );
            if let Err(e) = got {
                assert_eq!(e.code, SqlState::INTERNAL_ERROR);
            }
        }
        let e = check_primary(&id("7", 1), &id("8", 1)).unwrap_err();
        assert_eq!(
            e.detail.as_deref(),
            Some("The primary's identifier is 8, the standby's identifier is 7.")
        );
    }

    #[test]
    fn history_files_from_ours_up_to_the_primarys() {
        let list = |a: u32, b: u32| {
            history_to_fetch(TimeLineId(a), TimeLineId(b))
                .map(|t| t.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(list(1, 1), Vec::<u32>::new());
        assert_eq!(list(1, 3), vec![2, 3]);
        assert_eq!(list(3, 3), vec![3]);
        assert_eq!(list(2, 4), vec![2, 3, 4]);
        assert_eq!(list(0, 2), vec![2]); // timeline 1 has no history file
        assert_eq!(list(3, 2), Vec::<u32>::new());
    }

    #[test]
    fn our_timeline_must_be_in_the_primarys_history() {
        for (ours, ok) in [(1, true), (2, true), (3, true), (4, false)] {
            let r = check_history(&history(), TimeLineId(ours));
            assert_eq!(r.is_ok(), ok, "timeline {ours}");
        }
        assert_eq!(
            check_history(&history(), TimeLineId(4))
                .unwrap_err()
                .message,
            "new timeline 3 is not a child of database system timeline 4"
        );
    }

    #[test]
    fn follow_switches_exactly_at_the_switch_point() {
        let h = history();
        // (our timeline, local WAL end, decision)
        let cases = [
            (1, 0x100_0000, Ok(Follow::Stay)),
            (
                1,
                0x300_0000,
                Ok(Follow::Switch {
                    next: TimeLineId(2),
                    at: Lsn(0x300_0000),
                }),
            ),
            (
                2,
                0x500_0000,
                Ok(Follow::Switch {
                    next: TimeLineId(3),
                    at: Lsn(0x500_0000),
                }),
            ),
            (3, 0x900_0000, Ok(Follow::Stay)), // the primary's current timeline
            (
                1,
                0x300_0001,
                Err("new timeline 2 forked off current database system timeline 1 before current recovery point 0/3000001"),
            ),
        ];
        for (tli, end, want) in cases {
            let got = follow(&h, TimeLineId(tli), Lsn(end));
            let got = got.map_err(|e| e.message);
            assert_eq!(
                got,
                want.map_err(String::from),
                "timeline {tli} end {end:x}"
            );
        }
    }

    #[test]
    fn next_timeline_is_streamed_only_when_it_is_newer_known_and_reached() {
        let h = history();
        let t = TimeLineId;
        // (streamed timeline, announced next, local WAL end, stream it)
        let cases = [
            (1, Some(2), 0x300_0000, true),
            (1, Some(2), 0x400_0000, true),
            (1, Some(2), 0x2ff_ffff, false), // not all of timeline 1 arrived
            (1, None, 0x300_0000, false),    // the primary announced nothing
            (2, Some(2), 0x500_0000, false), // not newer
            (2, Some(7), 0x500_0000, false), // not in the history
            (2, Some(3), 0x500_0000, true),
        ];
        for (tli, next, end, want) in cases {
            assert_eq!(
                stream_next_timeline(&h, t(tli), next.map(t), Lsn(end)),
                want,
                "{tli} {next:?} {end:x}"
            );
        }
    }

    #[test]
    fn a_batch_is_flushed_after_a_mebibyte() {
        assert!(!batch_full(Lsn(MAX_UNFLUSHED), Lsn(0)));
        assert!(batch_full(Lsn(MAX_UNFLUSHED + 1), Lsn(0)));
        assert!(!batch_full(Lsn(5), Lsn(10)));
    }

    #[test]
    fn replies_follow_flushes_requests_the_interval_and_replay() {
        let mut t = Timers::new(0, Lsn(100));
        t.set_intervals(10_000, 60_000);
        // (now, flushed, requested, applied, due)
        let cases = [
            (1_000_000, false, false, Lsn(100), false),
            (1_000_000, true, false, Lsn(100), true),
            (1_000_000, false, true, Lsn(100), true),
            (1_000_000, false, false, Lsn(101), true),
            (9_999_999, false, false, Lsn(100), false),
            (10_000_000, false, false, Lsn(100), true),
        ];
        for (now, flushed, requested, applied, due) in cases {
            assert_eq!(
                t.reply_due(now, flushed, requested, applied),
                due,
                "{now} {flushed} {requested} {applied}"
            );
        }
        t.replied(10_000_000, Lsn(200));
        assert!(!t.reply_due(19_999_999, false, false, Lsn(200)));
        assert!(t.reply_due(20_000_000, false, false, Lsn(200)));
        // interval 0: no periodic replies
        t.set_intervals(0, 60_000);
        assert!(!t.reply_due(i64::MAX / 2, false, false, Lsn(200)));
    }

    #[test]
    fn the_sleep_ends_at_the_next_status_update_or_timeout() {
        let mut t = Timers::new(0, Lsn(100));
        t.set_intervals(10_000, 60_000);
        assert_eq!(t.sleep_us(0), 10_000_000);
        assert_eq!(t.sleep_us(4_000_000), 6_000_000);
        // overdue: no sleep
        assert_eq!(t.sleep_us(12_000_000), 0);
        t.replied(55_000_000, Lsn(100));
        // the timeout (60 s after the primary was last heard) comes first
        assert_eq!(t.sleep_us(55_000_000), 5_000_000);
        t.heard_from_primary(55_000_000);
        assert_eq!(t.sleep_us(55_000_000), 10_000_000);
        // no status updates: only the timeout
        t.set_intervals(0, 60_000);
        assert_eq!(t.sleep_us(55_000_000), 60_000_000);
        // neither
        t.set_intervals(0, 0);
        assert_eq!(t.sleep_us(55_000_000), i64::MAX);
    }

    #[test]
    fn timeout_and_ping_schedule() {
        let mut t = Timers::new(0, Lsn::INVALID);
        t.set_intervals(10_000, 60_000);
        assert!(!t.ping_due(29_999_999));
        assert!(t.ping_due(30_000_000));
        t.pinged();
        assert!(!t.ping_due(31_000_000));
        assert!(!t.timed_out(59_999_999));
        assert!(t.timed_out(60_000_000));
        t.heard_from_primary(40_000_000);
        assert!(!t.timed_out(60_000_000));
        assert!(!t.ping_due(69_999_999));
        assert!(t.ping_due(70_000_000));
        // a reply does not count as hearing from the primary
        t.replied(99_000_000, Lsn::INVALID);
        assert!(t.timed_out(100_000_000));
        t.set_intervals(10_000, 0);
        assert!(!t.timed_out(i64::MAX / 2));
        assert!(!t.ping_due(i64::MAX / 2));
    }
}
