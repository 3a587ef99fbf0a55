//! Physical streaming of a historic timeline: what `START_REPLICATION PHYSICAL X/X
//! TIMELINE n` does when `n` is an ancestor of the server's timeline (a standby of
//! the old primary following a promoted node).
//!
//! The walsender checks the request against the server's timeline history
//! (`tliSwitchPoint`), streams timeline `n`'s WAL only up to its switch point,
//! then ends the copy with CopyDone and, once the standby answered with its own
//! CopyDone, sends a one-row result set `next_tli int8, next_tli_startpos text`
//! before `START_STREAMING` completes. A start exactly at the switch point skips
//! the copy and answers with the result set at once. Bytes before a switch point
//! are read by `Wal::read_raw`, which picks each segment's file by the history.
//!
//! Corresponds to the historic-timeline parts of `StartReplication` and
//! `XLogSendPhysical` in PostgreSQL's `src/backend/replication/walsender.c`.

use tandem_sql::{FieldDescription, QuerySink};
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, TimeLineId, Value};
use tandem_wal::Wal;

use crate::backend::printtup::SocketSink;

/// Streaming an ancestor timeline: where it ends and which timeline follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Historic {
    /// The timeline after the requested one (`sendTimeLineNextTLI`).
    pub next_tli: TimeLineId,
    /// The requested timeline's switch point (`sendTimeLineValidUpto`).
    pub valid_upto: Lsn,
}

/// Checks `START_REPLICATION ... start TIMELINE requested` against the WAL's
/// history: `None` streams the current timeline; `Some` an ancestor up to its
/// switch point. PostgreSQL's errors for a timeline not in the history and for a
/// start point past the fork.
pub(crate) fn historic_timeline(
    wal: &Wal,
    start: Lsn,
    requested: Option<TimeLineId>,
) -> PgResult<Option<Historic>> {
    let Some(tli) = requested else {
        return Ok(None);
    };
    let history = wal.timelines();
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
pub(crate) fn check_timeline_switch(
    wal: &Wal,
    streaming: TimeLineId,
    historic: &mut Option<Historic>,
) {
    if historic.is_some() || wal.timeline() == streaming {
        return;
    }
    if let Some((valid_upto, next_tli)) = wal.timelines().switch_point(streaming) {
        *historic = Some(Historic {
            next_tli,
            valid_upto,
        });
    }
}

/// Whether a START_REPLICATION enters COPY mode: always on the current
/// timeline, on a historic one only when there is WAL before its switch point.
pub(crate) fn enters_copy(historic: Option<&Historic>, start: Lsn) -> bool {
    historic.is_none_or(|h| start < h.valid_upto)
}

/// The position streaming may reach now: the flush position, or the switch
/// point of a historic timeline.
pub(crate) fn send_limit(flush: Lsn, historic: Option<Historic>) -> Lsn {
    match historic {
        Some(h) => h.valid_upto.min(flush),
        None => flush,
    }
}

/// Whether everything of a historic timeline has been sent (time to end the
/// copy with CopyDone).
pub(crate) fn reached_end_of_timeline(historic: Option<Historic>, sent: Lsn) -> bool {
    historic.is_some_and(|h| sent >= h.valid_upto)
}

/// The result set after streaming a historic timeline: `next_tli int8,
/// next_tli_startpos text` (the caller completes with `START_STREAMING`).
pub(crate) fn send_next_timeline(sink: &mut SocketSink<'_>, h: &Historic) -> PgResult<()> {
    let field = |name: &str, data_type| FieldDescription {
        name: name.to_string(),
        table_oid: 0,
        column_id: 0,
        data_type,
        format: 0,
    };
    sink.row_description(&[
        field("next_tli", DataType::Int8),
        field("next_tli_startpos", DataType::Text),
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
    use tandem_wal::{Record, WalOptions};

    #[test]
    fn historic_requests_are_checked_against_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::create(
            WalOptions {
                dir: dir.path().to_path_buf(),
                timeline: TimeLineId(1),
                segment_size: 1024,
                fsync: false,
            },
            Lsn(1024),
        )
        .unwrap();
        let (starts, end) = wal
            .append(&[Record {
                kind: 2,
                xid: tandem_types::Xid(0),
                payload: vec![1; 100],
            }])
            .unwrap();
        wal.flush(end).unwrap();
        wal.write_history_file(TimeLineId(2), TimeLineId(1), end, "x")
            .unwrap();
        wal.switch_timeline(TimeLineId(2), end, starts[0]).unwrap();
        assert_eq!(historic_timeline(&wal, Lsn(1024), None).unwrap(), None);
        assert_eq!(
            historic_timeline(&wal, Lsn(5000), Some(TimeLineId(2))).unwrap(),
            None
        );
        let h = historic_timeline(&wal, Lsn(1024), Some(TimeLineId(1)))
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
        assert_eq!(send_limit(Lsn(9999), Some(h)), end);
        assert!(reached_end_of_timeline(Some(h), end));
        assert!(!reached_end_of_timeline(None, end));
        let past = end.advance(8);
        let e = historic_timeline(&wal, past, Some(TimeLineId(1))).unwrap_err();
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
        check_timeline_switch(&wal, TimeLineId(2), &mut streaming);
        assert_eq!(streaming, None);
        check_timeline_switch(&wal, TimeLineId(1), &mut streaming);
        assert_eq!(streaming, Some(h));
        let e = historic_timeline(&wal, Lsn(1024), Some(TimeLineId(3))).unwrap_err();
        assert_eq!(
            e.message,
            "requested timeline 3 is not in this server's history"
        );
    }
}
