//! Physical streaming: `START_REPLICATION [SLOT s] [PHYSICAL] X/X [TIMELINE n]`
//! sends WAL bytes over the CopyBoth loop (`copyboth.rs`) and applies the
//! standby's replies.
//!
//! Each round reads up to 16 × `MAX_SEND_SIZE` bytes of flushed WAL with
//! `Wal::read_raw` and sends them as XLogData messages
//! (`tandem_replication::physical::next_chunk`). A standby's status update
//! moves `pg_stat_replication`'s positions and lags, recomputes the
//! synchronous standbys, and advances the slot's `restart_lsn`
//! ([`tandem_replication::slot::advance_physical`]); hot standby feedback
//! holds the slot's `xmin`/`catalog_xmin`, or without a slot this backend's
//! xmin.
//!
//! Historic timelines (a standby of the old primary following a promoted
//! node): when the requested timeline `n` is an ancestor of the server's, the
//! request is checked against the timeline history (`tliSwitchPoint`), WAL is
//! streamed only up to `n`'s switch point, the copy ends with CopyDone and,
//! once the standby answered with its own CopyDone, a one-row result set
//! `next_tli int8, next_tli_startpos text` goes out before `START_STREAMING`
//! completes. A start exactly at the switch point skips the copy and answers
//! with the result set at once. A walsender whose node changes timeline while
//! it streams ends the old timeline the same way. Bytes before a switch point
//! are read by `Wal::read_raw`, which picks each segment's file by the history.
//! These decisions are functions of the history alone ([`Timelines`]).
//!
//! Corresponds to `StartReplication`, `XLogSendPhysical` and
//! `ProcessStandbyReplyMessage`/`ProcessStandbyHSFeedbackMessage` in
//! PostgreSQL's `src/backend/replication/walsender.c`.

use std::sync::Arc;

use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::BackendMessage;
use tandem_replication::physical::{next_chunk, LagTracker, MAX_SEND_SIZE};
use tandem_replication::slot::{advance_physical, LAZY_SAVE_INTERVAL};
use tandem_replication::standby_slots;
use tandem_sql::{FieldDescription, QuerySink};
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, TimeLineId, Value, Xid};
use tandem_wal::{Timelines, Wal};

use crate::backend::pqcomm::Conn;
use crate::backend::printtup::SocketSink;
use crate::shared::Shared;
use crate::walsender::copyboth::{self, Round, StreamSource};
use crate::walsender::sender::{move_slot, SlotUse, WalSender};
use crate::walsender::walsndctl::{StopPhase, WalSnd};
use tandem_types::PgTimestamp;

impl WalSender<'_> {
    /// `START_REPLICATION [SLOT s] [PHYSICAL] X/X [TIMELINE n]`.
    pub(super) fn start_physical(
        &mut self,
        conn: &mut Conn,
        slot: Option<String>,
        start: Lsn,
        timeline: Option<TimeLineId>,
    ) -> PgResult<()> {
        let shared = self.shared;
        let pid = self.entry.pid;
        let wal = shared.db.wal().clone();
        let _slot_use = match &slot {
            Some(name) => {
                let data = shared.slots.acquire(name, pid, false)?;
                let usage = SlotUse {
                    slots: &shared.slots,
                    name: name.clone(),
                    pid,
                };
                if data.is_logical() {
                    return Err(PgError::new(
                        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "cannot use a logical replication slot for physical replication",
                    ));
                }
                crate::slot::synced::refuse(
                    crate::slot::synced::SlotOp::Stream,
                    &data,
                    shared.db.in_recovery(),
                    false,
                )?;
                Some(usage)
            }
            None => None,
        };
        // an ancestor timeline streams up to its switch point
        let historic = historic_timeline(&wal.timelines(), start, timeline)?;
        if !enters_copy(historic.as_ref(), start) {
            if let Some(h) = &historic {
                let mut sink = SocketSink {
                    conn,
                    entry: self.entry,
                };
                send_next_timeline(&mut sink, h)?;
            }
            conn.send(&BackendMessage::CommandComplete("START_STREAMING".into()));
            return Ok(());
        }
        let mut source = PhysicalSource {
            shared,
            walsnd: self.walsnd,
            start_tli: wal.timeline(),
            wal,
            slot,
            start,
            historic,
            lag: LagTracker::default(),
            sent: start,
            all_sent: false,
        };
        copyboth::run_copy_both(self, conn, &mut source)
    }
}

/// WAL bytes for the CopyBoth loop, and what a standby's replies do.
struct PhysicalSource<'a> {
    shared: &'a Shared,
    walsnd: &'a WalSnd,
    wal: Arc<Wal>,
    /// The slot streamed from, held by the command.
    slot: Option<String>,
    start: Lsn,
    /// The node's timeline when streaming started.
    start_tli: TimeLineId,
    /// Set when streaming an ancestor of the node's timeline.
    historic: Option<Historic>,
    lag: LagTracker,
    sent: Lsn,
    /// The last round ran after the shutdown checkpoint and sent all WAL.
    all_sent: bool,
}

impl StreamSource for PhysicalSource<'_> {
    fn begin(&mut self) -> PgResult<Lsn> {
        self.start_tli = self.wal.timeline();
        let flush = self.wal.flush_lsn();
        let start = self.start;
        if flush < start {
            return Err(PgError::new(
                SqlState::INTERNAL_ERROR,
                format!(
                    "requested starting point {start} is ahead of the WAL flush position of this server {flush}"
                ),
            ));
        }
        Ok(start)
    }

    fn send(&mut self, conn: &mut Conn) -> PgResult<Option<Round>> {
        // a cascading walsender whose node changed timeline streams on only
        // up to the old timeline's end
        check_timeline_switch(&self.wal.timelines(), self.start_tli, &mut self.historic);
        // At shutdown the walsender shows `stopping` and streams on up to the
        // shutdown checkpoint (`XLogSendPhysical` when `got_STOPPING`).
        let phase = self.walsnd.stop_phase();
        if phase >= StopPhase::Stopping {
            self.walsnd.enter_stopping();
        }
        let flush = send_limit(self.wal.flush_lsn(), self.historic);
        let mut budget = 16 * MAX_SEND_SIZE;
        while let Some((from, to)) = next_chunk(self.sent, flush, MAX_SEND_SIZE) {
            let data = self.wal.read_raw(from, (to.0 - from.0) as usize)?;
            if data.is_empty() {
                break;
            }
            let end = from.advance(data.len() as u64);
            wire::put_xlog_data(
                conn.out(),
                from,
                flush,
                PgTimestamp::now().as_micros(),
                &data,
            );
            self.sent = end;
            self.lag.write(self.sent, PgTimestamp::now().as_micros());
            if conn.maybe_flush().is_err() {
                return Ok(None);
            }
            budget = budget.saturating_sub(data.len() as u64);
            if budget == 0 {
                break;
            }
        }
        self.all_sent = phase == StopPhase::Done && self.sent >= flush;
        Ok(Some(Round {
            caught_up: self.sent >= flush,
            // the end of a historic timeline ends the copy (XLogSendPhysical)
            end_of_copy: reached_end_of_timeline(self.historic, self.sent),
        }))
    }

    fn sent(&self) -> Lsn {
        self.sent
    }

    fn has_more(&self) -> bool {
        self.sent < send_limit(self.wal.flush_lsn(), self.historic)
    }

    fn on_standby_message(&mut self, msg: StandbyMessage, now: i64) -> PgResult<()> {
        match msg {
            StandbyMessage::Status {
                write,
                flush,
                apply,
                send_time,
                ..
            } => {
                {
                    let mut p = self.walsnd.progress.lock();
                    let mut lags = p.lags;
                    lags.on_reply(&mut self.lag, self.sent, write, flush, apply, now);
                    p.lags = lags;
                    p.write = write;
                    p.flush = flush;
                    p.apply = apply;
                    p.reply_time = Some(send_time);
                }
                self.shared.walsenders.sync_recompute();
                if let Some(name) = &self.slot {
                    let moved =
                        move_slot(&self.shared.slots, name, |d| advance_physical(d, flush))?;
                    // Logical walsenders of failover slots may be waiting for
                    // this standby (synchronized_standby_slots): woken before
                    // the slot's lazy write, which may wait for the disk.
                    if moved
                        && !self.shared.db.in_recovery()
                        && standby_slots::parse(&self.shared.config.get_str(standby_slots::SETTING))
                            .is_ok_and(|list| list.contains(name))
                    {
                        self.shared.walsenders.wakeup_all();
                    }
                    if moved {
                        self.shared.slots.save_lazily(name, LAZY_SAVE_INTERVAL)?;
                    }
                }
            }
            StandbyMessage::HotStandbyFeedback {
                xmin, catalog_xmin, ..
            } => {
                let xmin = (xmin != 0).then_some(Xid(xmin));
                let catalog_xmin = (catalog_xmin != 0).then_some(Xid(catalog_xmin));
                match &self.slot {
                    Some(name) => {
                        // Like PostgreSQL's PhysicalReplicationSlotNewXmin: the
                        // new horizon takes effect at once and reaches disk
                        // lazily (it is a hint to the primary, re-sent by the
                        // standby after a crash), not with three fsyncs per reply.
                        self.shared
                            .slots
                            .update_lazily(name, LAZY_SAVE_INTERVAL, |d| {
                                d.xmin = xmin;
                                d.catalog_xmin = catalog_xmin;
                            })?;
                        self.walsnd.progress.lock().backend_xmin = None;
                    }
                    None => {
                        // without a slot the feedback holds this backend's xmin
                        let both = match (xmin, catalog_xmin) {
                            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                            (a, b) => a.or(b),
                        };
                        self.walsnd.progress.lock().backend_xmin = both;
                    }
                }
            }
        }
        Ok(())
    }

    /// After the shutdown checkpoint: everything up to it was sent.
    fn sent_all_for_shutdown(&self) -> bool {
        self.all_sent
    }

    fn max_sleep_us(&self) -> i64 {
        10_000_000
    }

    fn finish(&mut self, sink: &mut SocketSink<'_>) -> PgResult<()> {
        if let Some(h) = &self.historic {
            send_next_timeline(sink, h)?;
        }
        sink.conn
            .send(&BackendMessage::CommandComplete("START_STREAMING".into()));
        Ok(())
    }
}

/// Streaming an ancestor timeline: where it ends and which timeline follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Historic {
    /// The timeline after the requested one (`sendTimeLineNextTLI`).
    next_tli: TimeLineId,
    /// The requested timeline's switch point (`sendTimeLineValidUpto`).
    valid_upto: Lsn,
}

/// Checks `START_REPLICATION ... start TIMELINE requested` against the WAL's
/// history ([`Wal::timelines`]): `None` streams the current timeline; `Some` an
/// ancestor up to its switch point. PostgreSQL's errors for a timeline not in
/// the history and for a start point past the fork.
fn historic_timeline(
    history: &Timelines,
    start: Lsn,
    requested: Option<TimeLineId>,
) -> PgResult<Option<Historic>> {
    let Some(tli) = requested else {
        return Ok(None);
    };
    if tli == history.current {
        return Ok(None);
    }
    let Some((switchpoint, next_tli)) = history.switch_point(tli) else {
        return Err(PgError::new(
            SqlState::INTERNAL_ERROR,
            format!(
                "requested timeline {} is not in this server's history",
                tli.0
            ),
        ));
    };
    if switchpoint < start {
        return Err(PgError::new(
            SqlState::INTERNAL_ERROR,
            format!(
                "requested starting point {start} on timeline {} is not in this server's history",
                tli.0
            ),
        )
        .with_detail(format!(
            "This server's history forked from timeline {} at {switchpoint}.",
            tli.0
        )));
    }
    Ok(Some(Historic {
        next_tli,
        valid_upto: switchpoint,
    }))
}

/// A walsender streaming the current timeline `streaming` of a node that has
/// since moved to a newer timeline (a cascading standby following its upstream,
/// or a promoted standby) now streams a historic timeline: it ends at the old
/// timeline's switch point, as PostgreSQL's `XLogSendPhysical` decides.
/// `history` is the node's current one ([`Wal::timelines`]).
fn check_timeline_switch(
    history: &Timelines,
    streaming: TimeLineId,
    historic: &mut Option<Historic>,
) {
    if historic.is_some() || history.current == streaming {
        return;
    }
    if let Some((valid_upto, next_tli)) = history.switch_point(streaming) {
        *historic = Some(Historic {
            next_tli,
            valid_upto,
        });
    }
}

/// Whether a START_REPLICATION enters COPY mode: always on the current
/// timeline, on a historic one only when there is WAL before its switch point.
fn enters_copy(historic: Option<&Historic>, start: Lsn) -> bool {
    historic.is_none_or(|h| start < h.valid_upto)
}

/// The position streaming may reach now: the flush position, or the switch
/// point of a historic timeline.
fn send_limit(flush: Lsn, historic: Option<Historic>) -> Lsn {
    match historic {
        Some(h) => h.valid_upto.min(flush),
        None => flush,
    }
}

/// Whether everything of a historic timeline has been sent (time to end the
/// copy with CopyDone).
fn reached_end_of_timeline(historic: Option<Historic>, sent: Lsn) -> bool {
    historic.is_some_and(|h| sent >= h.valid_upto)
}

/// The result set after streaming a historic timeline: `next_tli int8,
/// next_tli_startpos text` (the caller completes with `START_STREAMING`).
fn send_next_timeline(sink: &mut SocketSink<'_>, h: &Historic) -> PgResult<()> {
    sink.row_description(&[
        FieldDescription::computed("next_tli", DataType::Int8),
        FieldDescription::text("next_tli_startpos"),
    ])?;
    sink.data_row(
        &[
            Value::Int8(i64::from(h.next_tli.0)),
            Value::Text(h.valid_upto.to_string()),
        ],
        &[DataType::Int8, DataType::Text],
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn historic_requests_are_checked_against_the_history() {
        // timeline 1 ended at `end`, the node is on timeline 2
        let end = Lsn(0x1_0468);
        let history = Timelines {
            current: TimeLineId(2),
            ancestors: vec![(TimeLineId(1), end)],
        };
        assert_eq!(historic_timeline(&history, Lsn(1024), None).unwrap(), None);
        assert_eq!(
            historic_timeline(&history, Lsn(5000), Some(TimeLineId(2))).unwrap(),
            None
        );
        let h = historic_timeline(&history, Lsn(1024), Some(TimeLineId(1)))
            .unwrap()
            .unwrap();
        assert_eq!(
            h,
            Historic {
                next_tli: TimeLineId(2),
                valid_upto: end
            }
        );
        assert!(enters_copy(Some(&h), Lsn(1024)));
        assert!(!enters_copy(Some(&h), end));
        assert!(enters_copy(None, end));
        assert_eq!(send_limit(Lsn(0x9_9999), Some(h)), end);
        assert!(reached_end_of_timeline(Some(h), end));
        assert!(!reached_end_of_timeline(None, end));
        let past = end.advance(8);
        let e = historic_timeline(&history, past, Some(TimeLineId(1))).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "requested starting point {past} on timeline 1 is not in this server's history"
            )
        );
        assert_eq!(
            e.detail.as_deref(),
            Some(format!("This server's history forked from timeline 1 at {end}.").as_str())
        );
        // a walsender that was streaming timeline 1 when the node switched
        let mut streaming = None;
        check_timeline_switch(&history, TimeLineId(2), &mut streaming);
        assert_eq!(streaming, None);
        check_timeline_switch(&history, TimeLineId(1), &mut streaming);
        assert_eq!(streaming, Some(h));
        let e = historic_timeline(&history, Lsn(1024), Some(TimeLineId(3))).unwrap_err();
        assert_eq!(
            e.message,
            "requested timeline 3 is not in this server's history"
        );
    }
}
