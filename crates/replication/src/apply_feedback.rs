//! What a subscription's apply worker reports to its publisher in standby status
//! updates, as a pure tracker of positions (PostgreSQL's `worker.c`:
//! `store_flush_position`, `get_flush_position`, the positions of
//! `send_feedback`). The local WAL flush position is an input, so the rule that
//! makes exactly-once apply safe is tested without a database:
//!
//! *report as flushed only remote positions whose local commit is durable.*
//!
//! Each applied remote transaction is recorded with its remote end LSN and the
//! end of its local COMMIT record. `flush` is the remote end of the newest
//! such transaction whose local commit is at or before the local flush
//! position; when nothing is pending and no remote transaction is open,
//! everything received is accounted for and `flush` is the last position
//! received. The publisher moves the slot's `confirmed_flush_lsn` only on
//! `flush`, so it never passes a transaction a crash of the subscriber could
//! lose. When the updates are sent is the walreceiver's schedule
//! ([`crate::walreceiver::Timers`]).

use std::collections::VecDeque;

use tandem_types::Lsn;

/// One standby status update's positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The last position received.
    pub write: Lsn,
    /// See the module comment.
    pub flush: Lsn,
    /// The remote end of the last applied transaction (never behind `flush`).
    pub apply: Lsn,
}

/// The apply worker's positions towards its publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyFeedback {
    /// Applied remote transactions whose local commit may not be durable yet:
    /// (remote end LSN, local commit end LSN or invalid when nothing was
    /// committed locally), in commit order.
    pending: VecDeque<(Lsn, Lsn)>,
    /// Remote end LSN of the newest applied transaction found durable.
    flushed: Lsn,
    last_received: Lsn,
    /// Remote end LSN of the last applied (or skipped) transaction.
    last_applied: Lsn,
    /// (write, flush) last reported.
    reported: (Lsn, Lsn),
}

impl ApplyFeedback {
    /// Streaming starts at `start` (the replication origin's progress).
    pub fn new(start: Lsn) -> ApplyFeedback {
        ApplyFeedback {
            pending: VecDeque::new(),
            flushed: Lsn::INVALID,
            last_received: start,
            last_applied: start,
            reported: (Lsn::INVALID, Lsn::INVALID),
        }
    }

    /// A message from the publisher reached `pos`.
    pub fn received(&mut self, pos: Lsn) {
        if pos > self.last_received {
            self.last_received = pos;
        }
    }

    pub fn last_received(&self) -> Lsn {
        self.last_received
    }

    /// The remote transaction ending at `remote_end` was applied; its local
    /// commit ends at `local_end` (`None`: nothing was committed locally).
    pub fn applied(&mut self, remote_end: Lsn, local_end: Option<Lsn>) {
        self.pending
            .push_back((remote_end, local_end.unwrap_or(Lsn::INVALID)));
        self.last_applied = remote_end;
        self.received(remote_end);
    }

    /// Whether some applied transaction's local commit may not be durable yet.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The newest local commit of a pending transaction: flushing WAL up to
    /// it makes every pending transaction durable.
    pub fn newest_local_commit(&self) -> Option<Lsn> {
        // commit order: the newest local commit is the last valid one
        self.pending
            .iter()
            .rev()
            .map(|(_, l)| *l)
            .find(|l| l.is_valid())
    }

    /// The flush position to report, the local WAL being durable up to
    /// `local_flush`; `in_remote_xact`: a remote transaction is open (received
    /// in part). Moves the pending transactions that became durable into the
    /// flushed position; asking again gives the same answer.
    pub fn flush_position(&mut self, local_flush: Lsn, in_remote_xact: bool) -> Lsn {
        while let Some(&(remote, local)) = self.pending.front() {
            if local > local_flush {
                break;
            }
            // commit order: remote ends increase
            self.flushed = remote;
            self.pending.pop_front();
        }
        if self.pending.is_empty() && !in_remote_xact {
            return self.last_received;
        }
        self.flushed.max(self.reported.1)
    }

    /// Whether the positions differ from those last reported.
    pub fn changed(&mut self, local_flush: Lsn, in_remote_xact: bool) -> bool {
        let flush = self.flush_position(local_flush, in_remote_xact);
        (self.last_received, flush) != self.reported
    }

    /// The positions of a status update sent now.
    pub fn status(&mut self, local_flush: Lsn, in_remote_xact: bool) -> Status {
        let flush = self.flush_position(local_flush, in_remote_xact);
        Status {
            write: self.last_received,
            flush,
            apply: self.last_applied.max(flush),
        }
    }

    /// `status` was sent.
    pub fn sent(&mut self, status: &Status) {
        self.reported = (status.write, status.flush);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_never_passes_a_commit_that_is_not_durable() {
        let mut f = ApplyFeedback::new(Lsn(100));
        f.received(Lsn(150));
        f.applied(Lsn(200), Some(Lsn(1_000)));
        f.applied(Lsn(300), Some(Lsn(2_000)));
        assert_eq!(f.newest_local_commit(), Some(Lsn(2_000)));
        // (local flush, reported flush)
        let cases = [
            (Lsn(999), Lsn::INVALID), // nothing durable, nothing reported yet
            (Lsn(1_000), Lsn(200)),   // the first commit is durable
            (Lsn(2_000), Lsn(300)),   // both: nothing pending, all received
        ];
        for (local, want) in cases {
            let st = f.status(local, false);
            assert_eq!(st.flush, want, "local flush {local}");
            assert_eq!(st.write, Lsn(300));
            f.sent(&st);
        }
        assert!(!f.has_pending());
    }

    #[test]
    fn a_durable_position_is_reported_even_when_computed_before() {
        let mut f = ApplyFeedback::new(Lsn(100));
        f.applied(Lsn(200), Some(Lsn(1_000)));
        f.applied(Lsn(300), Some(Lsn(2_000)));
        // the worker first asks whether anything changed, then builds the update
        assert!(f.changed(Lsn(1_500), false));
        let st = f.status(Lsn(1_500), false);
        assert_eq!(st.flush, Lsn(200));
        f.sent(&st);
        assert!(!f.changed(Lsn(1_500), false));
        assert_eq!(f.flush_position(Lsn(1_500), false), Lsn(200));
    }

    #[test]
    fn nothing_pending_reports_everything_received() {
        let mut f = ApplyFeedback::new(Lsn(100));
        f.received(Lsn(500));
        f.received(Lsn(400)); // never backwards
        let st = f.status(Lsn(0), false);
        assert_eq!(
            st,
            Status {
                write: Lsn(500),
                flush: Lsn(500),
                apply: Lsn(500),
            }
        );
        // within a remote transaction the received position is not flushed
        let mut f = ApplyFeedback::new(Lsn(100));
        f.received(Lsn(500));
        assert_eq!(f.status(Lsn(0), true).flush, Lsn::INVALID);
    }

    #[test]
    fn a_transaction_without_a_local_commit_waits_for_earlier_ones() {
        let mut f = ApplyFeedback::new(Lsn(100));
        f.applied(Lsn(200), Some(Lsn(1_000)));
        f.applied(Lsn(300), None); // nothing applied locally
        assert_eq!(f.newest_local_commit(), Some(Lsn(1_000)));
        assert_eq!(f.status(Lsn(500), false).flush, Lsn::INVALID);
        assert!(f.has_pending());
        assert_eq!(f.status(Lsn(1_000), false).flush, Lsn(300));
        assert!(!f.has_pending());
    }

    #[test]
    fn the_reported_flush_does_not_go_back() {
        let mut f = ApplyFeedback::new(Lsn(100));
        f.applied(Lsn(200), Some(Lsn(1_000)));
        let st = f.status(Lsn(1_000), false);
        f.sent(&st);
        assert_eq!(st.flush, Lsn(200));
        f.applied(Lsn(300), Some(Lsn(2_000)));
        assert_eq!(f.status(Lsn(1_500), false).flush, Lsn(200));
        // a remote transaction is open: the last report stands
        assert_eq!(f.status(Lsn(1_500), true).flush, Lsn(200));
    }

    #[test]
    fn changes_are_what_differs_from_the_last_report() {
        let mut f = ApplyFeedback::new(Lsn(100));
        assert!(f.changed(Lsn(0), false));
        let st = f.status(Lsn(0), false);
        f.sent(&st);
        assert!(!f.changed(Lsn(0), false));
        f.received(Lsn(150));
        assert!(f.changed(Lsn(0), false));
        // apply is never behind flush
        f.applied(Lsn(120), Some(Lsn(10)));
        let st = f.status(Lsn(10), false);
        assert_eq!((st.flush, st.apply), (Lsn(150), Lsn(150)));
    }
}
