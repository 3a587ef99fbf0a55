//! The logical side of the walsender: `CREATE_REPLICATION_SLOT ... LOGICAL`,
//! `ALTER_REPLICATION_SLOT`, and `START_REPLICATION SLOT s LOGICAL X/X
//! (options)` streaming decoded changes over the CopyBoth loop
//! (`copyboth.rs`; PostgreSQL's `XLogSendLogical`).
//!
//! Each output row of the plugin goes out as one XLogData message whose
//! dataStart and walEnd are the row's LSN. The client's standby status
//! updates confirm positions: `confirmed_flush_lsn` follows the client's flush
//! position, `restart_lsn` the last transaction boundary at or before it
//! (`crate::slot::logical` explains why boundaries suffice), by the rule
//! [`tandem_replication::slot::advance_logical`]. Keepalives carry the end of
//! what was decoded, so a client that saw no output can still confirm past
//! skipped WAL.
//!
//! Corresponds to PostgreSQL's `walsender.c` (`CreateReplicationSlot`,
//! `AlterReplicationSlot`, `StartLogicalReplication`, `XLogSendLogical`,
//! `ProcessStandbyReplyMessage`).

use std::collections::VecDeque;

use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::BackendMessage;
use tandem_replication::command::{OptionValue, Options};
use tandem_replication::slot::{advance_logical, catalog_xmin_after, RestartPoint};
use tandem_replication::standby_slots::{self, Problem};
use tandem_sql::{QuerySink, SnapshotRefusal};
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, Oid, PgError, PgResult, Severity, SqlState, Xid};

use std::sync::atomic::Ordering;

use crate::backend::pqcomm::Conn;
use crate::backend::printtup::SocketSink;
use crate::backend::startup::admin_shutdown_error;
use crate::backend::startup::Replication;
use crate::procarray::BackendEntry;
use crate::shared::Shared;
use crate::slot::logical::{self, NewLogicalSlot};
use crate::slot::synced::SlotOp;
use crate::walsender::copyboth::{self, Round, StreamSource};
use crate::walsender::sender::{advance_slot, send_created_slot, SlotUse, WalSender};
use crate::walsender::walsndctl::{StopPhase, WalSnd};
use tandem_types::PgTimestamp;

fn conflicting() -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, "conflicting or redundant options")
}

/// How often a command waiting for a slot checks for cancel and terminate.
const SLOT_WAIT_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether a command waiting on behalf of `entry` must stop: terminated
/// (`57P01`, FATAL) or cancelled (`57014`).
fn interrupted(entry: &BackendEntry) -> PgResult<()> {
    if entry.terminating() {
        return Err(admin_shutdown_error());
    }
    if entry.cancel.lock().swap(false, Ordering::SeqCst) {
        return Err(PgError::new(
            SqlState::QUERY_CANCELED,
            "canceling statement due to user request",
        ));
    }
    Ok(())
}

/// Plugin options of START_REPLICATION as `(name, value)` text pairs.
fn plugin_options(options: &Options) -> Vec<(String, Option<String>)> {
    options
        .iter()
        .map(|(k, v)| {
            let value = match v {
                OptionValue::None => None,
                OptionValue::Str(s) | OptionValue::Number(s) | OptionValue::Word(s) => {
                    Some(s.clone())
                }
            };
            (k.clone(), value)
        })
        .collect()
}

/// `output_plugin_libraries` (a walsender has no SET of its own for it).
fn allowed_plugins(config: &tandem_config::Config) -> String {
    config.get_str("output_plugin_libraries")
}

impl WalSender<'_> {
    /// The database a `replication=database` connection is attached to;
    /// logical commands need one.
    fn logical_database(&self) -> PgResult<Oid> {
        if self.startup.replication != Replication::Logical {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "logical decoding requires a database connection",
            ));
        }
        Ok(self
            .shared
            .db
            .catalog()
            .database_by_name(&self.startup.database)
            .map(|d| d.oid)
            .unwrap_or(Oid(5)))
    }

    /// `CREATE_REPLICATION_SLOT s [TEMPORARY] LOGICAL plugin [(FAILOVER,
    /// TWO_PHASE, SNAPSHOT 'export'|'use'|'nothing')]`.
    pub(super) fn create_logical_slot(
        &mut self,
        sink: &mut SocketSink<'_>,
        name: String,
        temporary: bool,
        plugin: Option<String>,
        options: &Options,
    ) -> PgResult<()> {
        let database = self.logical_database()?;
        let (mut two_phase, mut failover, mut snapshot) = (None, None, None);
        for (opt, value) in options {
            match opt.as_str() {
                "two_phase" => {
                    if two_phase.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "failover" => {
                    if failover.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "snapshot" => {
                    let v = value.as_text().unwrap_or_default().to_string();
                    if !matches!(v.as_str(), "export" | "use" | "nothing") {
                        return Err(PgError::new(
                            SqlState::SYNTAX_ERROR,
                            format!("unrecognized value for CREATE_REPLICATION_SLOT option \"snapshot\": \"{v}\""),
                        ));
                    }
                    if snapshot.replace(v).is_some() {
                        return Err(conflicting());
                    }
                }
                "reserve_wal" => return Err(conflicting()),
                other => {
                    return Err(PgError::internal(format!("unrecognized option: {other}")));
                }
            }
        }
        let snapshot = snapshot.unwrap_or_else(|| "export".into());
        let in_txn = self
            .session
            .as_ref()
            .is_some_and(|s| s.transaction_status() != b'I');
        if snapshot == "use" {
            // PostgreSQL's checks (errmsg only: XX000), in its order. The
            // storage transaction opens now, before the consistent point is
            // chosen, so pruning cannot pass it.
            const USE: &str = "CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')";
            let refusal = match self.session.as_mut() {
                Some(s) => s.prepare_snapshot_import().err(),
                None => Some(SnapshotRefusal::NotInBlock),
            };
            if let Some(r) = refusal {
                let what = match r {
                    SnapshotRefusal::NotInBlock => "must be called inside a transaction",
                    SnapshotRefusal::NotRepeatableRead => {
                        "must be called in REPEATABLE READ isolation mode transaction"
                    }
                    SnapshotRefusal::NotReadOnly => "must be called in a read-only transaction",
                    SnapshotRefusal::SnapshotTaken => "must be called before any query",
                };
                return Err(PgError::internal(format!("{USE} {what}")));
            }
        }
        if snapshot == "export" && in_txn {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') must not be called inside a transaction",
            ));
        }
        let plugin = plugin.unwrap_or_default();
        let pid = self.entry.pid;
        let shared = self.shared;
        let lsn = logical::create(
            &shared.slots,
            &shared.db,
            &shared.config,
            pid,
            &NewLogicalSlot {
                name: &name,
                plugin: &plugin,
                temporary,
                two_phase: two_phase.unwrap_or(false),
                failover: failover.unwrap_or(false),
                database,
                allowed_plugins: &allowed_plugins(&shared.config),
            },
        )?;
        shared.slot_stats.create(&name);
        shared
            .slots
            .release(&name, pid, PgTimestamp::now().as_micros());
        if snapshot == "use" {
            // The transaction reads exactly what committed up to the slot's
            // consistent point; decoding sends what commits after it.
            if let Some(s) = self.session.as_mut() {
                s.set_snapshot_lsn(lsn)?;
            }
        }
        // tandem cannot import snapshots yet: an exported snapshot is named
        // (clients print it) but SET TRANSACTION SNAPSHOT does not accept it.
        let snapshot_name = (snapshot == "export")
            .then(|| format!("{:08X}-{:08X}-1", pid as u32, shared.db.next_xid().0));
        send_created_slot(sink, name, lsn, snapshot_name, Some(plugin))
    }

    /// `ALTER_REPLICATION_SLOT s (FAILOVER [bool], TWO_PHASE [bool])`.
    pub(super) fn alter_slot(
        &mut self,
        sink: &mut SocketSink<'_>,
        name: String,
        options: &Options,
    ) -> PgResult<()> {
        let (mut failover, mut two_phase) = (None, None);
        for (opt, value) in options {
            match opt.as_str() {
                "failover" => {
                    if failover.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                "two_phase" => {
                    if two_phase.replace(value.as_bool(opt)?).is_some() {
                        return Err(conflicting());
                    }
                }
                other => {
                    return Err(PgError::internal(format!("unrecognized option: {other}")));
                }
            }
        }
        let shared = self.shared;
        let entry = self.entry;
        let pid = entry.pid;
        // PostgreSQL acquires the slot waiting for its user to release it: a
        // walsender still exiting after `ALTER SUBSCRIPTION ... DISABLE`.
        let data = shared
            .slots
            .acquire_waiting(&name, pid, SLOT_WAIT_TICK, || interrupted(entry))?;
        let _use = SlotUse {
            slots: &shared.slots,
            name: name.clone(),
            pid,
        };
        if !data.is_logical() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot use ALTER_REPLICATION_SLOT with a physical replication slot",
            ));
        }
        let in_recovery = shared.db.in_recovery();
        crate::slot::synced::refuse(SlotOp::Alter, &data, in_recovery, false)?;
        if in_recovery && failover == Some(true) {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot enable failover for a replication slot on the standby",
            ));
        }
        if failover == Some(true)
            && data.persistency == tandem_replication::slot::Persistency::Temporary
        {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot enable failover for a temporary replication slot",
            ));
        }
        shared.slots.update(&name, |d| {
            if let Some(f) = failover {
                d.failover = f;
            }
            if let Some(t) = two_phase {
                d.two_phase = t;
            }
        })?;
        sink.command_complete("ALTER_REPLICATION_SLOT")
    }

    /// `START_REPLICATION SLOT s LOGICAL X/X [(options)]`.
    pub(super) fn start_logical(
        &mut self,
        conn: &mut Conn,
        slot: Option<String>,
        start: Lsn,
        options: &Options,
    ) -> PgResult<()> {
        let database = self.logical_database()?;
        let Some(name) = slot else {
            return Err(PgError::new(
                SqlState::SYNTAX_ERROR,
                "syntax error: START_REPLICATION ... LOGICAL requires a slot",
            ));
        };
        let shared = self.shared;
        let pid = self.entry.pid;
        logical::check_requirements(&shared.config)?;
        let data = shared.slots.acquire(&name, pid, false)?;
        let _use = SlotUse {
            slots: &shared.slots,
            name: name.clone(),
            pid,
        };
        logical::check_usable(&data, Some(database), shared.db.in_recovery(), false)?;
        let session = logical::Session::start(
            &shared.db,
            &data,
            &plugin_options(options),
            start,
            &allowed_plugins(&shared.config),
        )?;
        let confirmed = data.confirmed_flush.unwrap_or(Lsn::INVALID);
        if start.is_valid() && start < confirmed {
            elog::emit(
                Level::Log,
                &format!("{start} has been already streamed, forwarding to {confirmed}"),
                None,
                None,
            );
        }
        elog::emit(
            Level::Log,
            &format!("starting logical decoding for slot \"{name}\""),
            Some(&format!(
                "Streaming transactions committing after {confirmed}, reading WAL from {}.",
                data.restart_lsn.unwrap_or(Lsn::INVALID)
            )),
            None,
        );
        let mut source = LogicalSource {
            shared,
            walsnd: self.walsnd,
            slot: name,
            shown_start: confirmed.max(start),
            sent: session.position(),
            session,
            boundaries: VecDeque::new(),
            more: false,
            failover: data.failover,
            problem: None,
            stopping: false,
            at_end: false,
        };
        copyboth::run_copy_both(self, conn, &mut source)
    }
}

/// Decoded changes for the CopyBoth loop, and what the client's
/// confirmations do to the slot.
struct LogicalSource<'a> {
    shared: &'a Shared,
    walsnd: &'a WalSnd,
    /// The slot decoded from, held by the command.
    slot: String,
    /// `sent_lsn` shown until the first round: where the client asked to
    /// start, at least the slot's `confirmed_flush_lsn`.
    shown_start: Lsn,
    session: logical::Session,
    /// Consistent points reached (item ends) not yet confirmed, with the
    /// last xid before each: `restart_lsn` moves to the newest one at or
    /// before the client's flush position.
    boundaries: VecDeque<(Lsn, Option<Xid>)>,
    sent: Lsn,
    /// The last round stopped at its item limit, not at the end of WAL.
    more: bool,
    /// The slot is a failover slot: changes wait for the standbys of
    /// `synchronized_standby_slots`.
    failover: bool,
    /// The problem last reported about those standbys (each is logged once,
    /// when it appears).
    problem: Option<Problem>,
    /// The last round ran with the server shutting down.
    stopping: bool,
    /// The last round decoded everything flushed (not held back by the
    /// standbys of `synchronized_standby_slots`).
    at_end: bool,
}

impl LogicalSource<'_> {
    /// How far changes may be sent with WAL flushed up to `end`: a failover
    /// slot's consumer gets only what every standby of
    /// `synchronized_standby_slots` has flushed (PostgreSQL's
    /// `WalSndWaitForWal` waiting in `StandbySlotsHaveCaughtup`). Problems
    /// holding it back are logged as WARNING when they appear; while the
    /// server shuts down a problem is an ERROR that ends the walsender
    /// instead of holding the shutdown up (PostgreSQL's
    /// `NeedToWaitForStandbys` when `got_STOPPING`). Standby replies wake the
    /// walsender ([`super::walsndctl::WalSenders::wakeup_all`]).
    fn send_limit(&mut self, end: Lsn) -> PgResult<Lsn> {
        if !self.failover || self.shared.db.in_recovery() {
            return Ok(end);
        }
        let setting = self.shared.config.get_str(standby_slots::SETTING);
        if setting.is_empty() && self.problem.is_none() {
            return Ok(end);
        }
        let list = standby_slots::parse(&setting).unwrap_or_default();
        let listed = standby_slots::listed_slots(&list, &self.shared.slots);
        let (limit, problem) = standby_slots::send_limit(&list, &listed, end);
        if self.stopping {
            if let Some(p) = &problem {
                return Err(p.report(Severity::Error));
            }
        }
        if problem != self.problem {
            if let Some(p) = &problem {
                elog::emit_error(&p.report(Severity::Warning));
            }
            self.problem = problem;
        }
        Ok(limit.unwrap_or(Lsn::INVALID))
    }
}

/// Takes the consistent points at or before `flush` off the front of
/// `boundaries`: the newest of them is where decoding may restart, with the
/// `catalog_xmin` after the last transaction among them.
fn confirmed_restart_point(
    boundaries: &mut VecDeque<(Lsn, Option<Xid>)>,
    flush: Lsn,
) -> Option<RestartPoint> {
    let mut restart = None;
    let mut last_xid = None;
    while let Some(&(b, xid)) = boundaries.front() {
        if b > flush {
            break;
        }
        restart = Some(b);
        last_xid = xid.or(last_xid);
        boundaries.pop_front();
    }
    restart.map(|lsn| RestartPoint {
        lsn,
        catalog_xmin: last_xid.map(catalog_xmin_after),
    })
}

impl StreamSource for LogicalSource<'_> {
    fn begin(&mut self) -> PgResult<Lsn> {
        Ok(self.shown_start)
    }

    /// Decodes a bounded number of items, so replies are read between
    /// batches; each output row goes out as one XLogData message.
    fn send(&mut self, conn: &mut Conn) -> PgResult<Option<Round>> {
        self.more = false;
        self.stopping = self.walsnd.stop_phase() >= StopPhase::Stopping;
        let end = logical::end_of_wal(&self.shared.db);
        let limit = self.send_limit(end)?;
        self.at_end = false;
        for _ in 0..64 {
            // (a large transaction's rows go out as its parts are decoded)
            let mut lost = false;
            let stepped = self.session.step(limit, &mut |row| {
                wire::put_xlog_data(
                    conn.out(),
                    row.lsn,
                    row.lsn,
                    PgTimestamp::now().as_micros(),
                    &row.data,
                );
                conn.maybe_flush().map_err(|e| {
                    lost = true;
                    PgError::new(SqlState::CONNECTION_FAILURE, e.to_string())
                })
            });
            if lost {
                return Ok(None);
            }
            let stepped = stepped?;
            let Some(end) = stepped else {
                // Records without output (checkpoints, ...) still move the
                // position: a consistent point like any item end.
                let pos = self.session.position();
                if pos > self.sent {
                    self.sent = pos;
                    self.boundaries.push_back((pos, None));
                }
                break;
            };
            self.sent = end.end;
            self.boundaries.push_back((end.end, end.xid));
            self.session
                .report_stats(&self.shared.slot_stats, &self.slot);
            if conn.maybe_flush().is_err() {
                return Ok(None);
            }
            self.more = true;
        }
        self.at_end = !self.more && limit >= end;
        Ok(Some(Round {
            caught_up: !self.more,
            end_of_copy: false,
        }))
    }

    fn sent(&self) -> Lsn {
        self.sent
    }

    fn has_more(&self) -> bool {
        self.more
    }

    /// A status update moves `pg_stat_replication`'s positions and confirms
    /// the client's flush position to the slot; hot standby feedback means
    /// nothing to a logical walsender.
    fn on_standby_message(&mut self, msg: StandbyMessage, _now: i64) -> PgResult<()> {
        let StandbyMessage::Status {
            write,
            flush,
            apply,
            send_time,
            ..
        } = msg
        else {
            return Ok(());
        };
        {
            let mut p = self.walsnd.progress.lock();
            p.write = write;
            p.flush = flush;
            p.apply = apply;
            p.reply_time = Some(send_time);
        }
        if !flush.is_valid() {
            return Ok(());
        }
        // written at most every LAZY_SAVE_INTERVAL: the subscriber's origin
        // (or the client's own position) covers what a crash would resend
        let restart = confirmed_restart_point(&mut self.boundaries, flush);
        advance_slot(&self.shared.slots, &self.slot, |d| {
            advance_logical(d, flush, restart)
        })
    }

    fn announces_progress(&self) -> bool {
        true
    }

    /// At shutdown a logical walsender ends once it decoded everything
    /// flushed and its client confirmed it (`XLogSendLogical` raising
    /// `got_SIGUSR2` when caught up and `got_STOPPING`); it does not wait for
    /// the shutdown checkpoint.
    fn sent_all_for_shutdown(&self) -> bool {
        self.stopping && self.at_end
    }

    fn max_sleep_us(&self) -> i64 {
        // On a standby decoding follows replay, which does not signal the
        // walsender: wake up often then.
        if self.shared.db.in_recovery() {
            50_000
        } else {
            10_000_000
        }
    }

    fn finish(&mut self, sink: &mut SocketSink<'_>) -> PgResult<()> {
        // PostgreSQL ends the COPY (`COPY 0`), then the command:
        // libpqrcv_endstreaming reads both results.
        sink.conn
            .send(&BackendMessage::CommandComplete("COPY 0".into()));
        sink.conn
            .send(&BackendMessage::CommandComplete("START_REPLICATION".into()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_takes_the_newest_boundary_at_or_before_it() {
        let mut b: VecDeque<(Lsn, Option<Xid>)> = [
            (Lsn(0x100), Some(Xid(740))),
            (Lsn(0x200), None),
            (Lsn(0x300), Some(Xid(742))),
        ]
        .into_iter()
        .collect();
        assert_eq!(confirmed_restart_point(&mut b, Lsn(0x80)), None);
        assert_eq!(
            confirmed_restart_point(&mut b, Lsn(0x250)),
            Some(RestartPoint {
                lsn: Lsn(0x200),
                catalog_xmin: Some(Xid(741)),
            })
        );
        assert_eq!(b.len(), 1);
        assert_eq!(
            confirmed_restart_point(&mut b, Lsn(0x300)),
            Some(RestartPoint {
                lsn: Lsn(0x300),
                catalog_xmin: Some(Xid(743)),
            })
        );
        assert!(b.is_empty());
    }
}
