//! The walsender: what a `replication=true` (physical) or `replication=database`
//! (logical) connection runs after authentication instead of the SQL query loop.
//!
//! It speaks the simple query protocol only. Each Query is either a replication
//! command (`tandem_replication::command`) or, on a `replication=database`
//! connection, SQL run by an ordinary [`Session`]; a physical connection refuses
//! SQL. Commands and their result shapes (PostgreSQL's):
//!
//! | command | result |
//! |---|---|
//! | IDENTIFY_SYSTEM | systemid text, timeline int4, xlogpos text, dbname text (NULL if physical) |
//! | SHOW name | one text column |
//! | TIMELINE_HISTORY n | filename text, content bytea (no file for timeline 1: 58P01) |
//! | CREATE_REPLICATION_SLOT s [TEMPORARY] PHYSICAL [RESERVE_WAL] | slot_name, consistent_point, snapshot_name, output_plugin |
//! | DROP_REPLICATION_SLOT s [WAIT] | - |
//! | READ_REPLICATION_SLOT s | slot_type text, restart_lsn text, restart_tli int8 (NULLs if no slot) |
//! | START_REPLICATION [SLOT s] [PHYSICAL] X/X [TIMELINE n] | CopyBoth stream, then START_STREAMING |
//! | BASE_BACKUP [(options)] | start recptr/tli, CopyOut of tandem's backup format, end recptr/tli (`basebackup.rs`) |
//!
//! On a `replication=database` connection, the catalog queries of PostgreSQL
//! subscribers that call `pg_get_publication_tables` are answered from the
//! catalog (`logical::subscriber_catalog_query`, docs/logical-decoding.md).
//!
//! Streaming (PostgreSQL's `WalSndLoop` + `XLogSendPhysical`): after
//! CopyBothResponse a reader thread (a second handle on the socket) frames the
//! client's messages into the walsender's inbox ([`crate::walsenders`]); this
//! thread sends XLogData from `Wal::read_raw` up to the flush LSN, keepalives
//! when half of `wal_sender_timeout` passed in silence or the standby asks,
//! applies standby replies (slot `restart_lsn`, lags, `pg_stat_replication`)
//! and hot standby feedback (slot `xmin`/`catalog_xmin`), and sleeps on the
//! walsender's condition variable, which both new flushed WAL and new client
//! messages signal. The decisions are pure functions in
//! `tandem_replication::physical`. The client's CopyDone is answered with
//! CopyDone and the command completes; a silent client is dropped after
//! `wal_sender_timeout` (`LOG: terminating walsender process due to replication
//! timeout`). TLS connections cannot be read from a second thread and get 0A000
//! for START_REPLICATION.
//!
//! Corresponds to PostgreSQL's `src/backend/replication/walsender.c`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::{BackendMessage, FrontendMessage};
use tandem_replication::command::{self, ReplCommand, SlotKind};
use tandem_replication::physical::{LagTracker, Timers, WalSndState};
use tandem_replication::slot::SlotRegistry;
use tandem_sql::{FieldDescription, QuerySink, Session};
use tandem_types::elog::{self, Level};
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, TimeLineId, Value, Xid};

use crate::backend::pqcomm::{Conn, ReadError, SocketHandle};
use crate::backend::printtup::{drain_copy_in, SocketSink};
use crate::backend::startup::{admin_shutdown_error, fail, Replication, StartupInfo};
use crate::procarray::{now_pg_micros, BackendEntry};
use crate::shared::Shared;
use crate::walsender::walsndctl::{Event, WalSnd, WalSndGuard};

pub(crate) mod basebackup;
mod logical;
mod physical;
pub(crate) mod walsndctl;

/// ParameterStatus values a walsender without a session reports.
pub(crate) fn reported_parameters(shared: &Shared) -> Vec<(String, String)> {
    [
        "server_version",
        "server_encoding",
        "client_encoding",
        "DateStyle",
        "integer_datetimes",
        "TimeZone",
        "standard_conforming_strings",
    ]
    .iter()
    .filter_map(|n| shared.config.show(n).map(|v| (n.to_string(), v)))
    .collect()
}

struct WalSender<'a> {
    shared: &'a Arc<Shared>,
    entry: &'a Arc<BackendEntry>,
    walsnd: &'a Arc<WalSnd>,
    startup: &'a StartupInfo,
    /// The SQL session of a logical (`replication=database`) connection.
    session: Option<Session>,
    /// Set when streaming ended in a way that ends the connection.
    exit: bool,
}

fn text_field(name: &str) -> FieldDescription {
    FieldDescription {
        name: name.to_string(),
        table_oid: 0,
        column_id: 0,
        data_type: DataType::Text,
        format: 0,
    }
}

fn typed_field(name: &str, data_type: DataType) -> FieldDescription {
    FieldDescription {
        data_type,
        ..text_field(name)
    }
}

/// Runs the walsender loop until the client leaves.
pub(crate) fn run(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    entry: &Arc<BackendEntry>,
    guard: &WalSndGuard,
    startup: &StartupInfo,
    session: Option<Session>,
) {
    let mut ws = WalSender {
        shared,
        entry,
        walsnd: &guard.walsnd,
        startup,
        session,
        exit: false,
    };
    let mut send_ready = true;
    let mut ignore_till_sync = false;
    loop {
        if entry.terminating() {
            ws.end();
            fail(conn, &admin_shutdown_error(), None);
            return;
        }
        if send_ready {
            let status = ws
                .session
                .as_ref()
                .map(|s| s.transaction_status())
                .unwrap_or(b'I');
            conn.send(&BackendMessage::ReadyForQuery(status));
            entry.set_state("idle", None);
            if conn.flush().is_err() {
                ws.end();
                return;
            }
            send_ready = false;
        }
        let (tag, msg) = match conn.read_message() {
            Ok(Some(m)) => m,
            Ok(None) | Err(ReadError::Eof) => {
                if entry.terminating() {
                    continue;
                }
                ws.end();
                return;
            }
            Err(ReadError::Protocol { err, send }) => {
                ws.end();
                if send {
                    fail(conn, &err, None);
                } else {
                    elog::emit(Level::Log, &err.message, None, None);
                }
                return;
            }
        };
        if ignore_till_sync && tag != b'S' && tag != b'X' {
            continue;
        }
        let result = match msg {
            Ok(FrontendMessage::Query(sql)) => {
                entry.set_state("active", Some(&sql));
                send_ready = true;
                ws.query(conn, &sql)
            }
            Ok(FrontendMessage::Terminate) => {
                ws.end();
                conn.close();
                return;
            }
            Ok(FrontendMessage::Sync) => {
                ignore_till_sync = false;
                send_ready = true;
                Ok(())
            }
            Ok(FrontendMessage::CopyData(_))
            | Ok(FrontendMessage::CopyDone)
            | Ok(FrontendMessage::CopyFail(_)) => Ok(()),
            Ok(FrontendMessage::AuthResponse(_)) => {
                ws.end();
                fail(
                    conn,
                    &tandem_protocol::frontend::invalid_message_type(tag),
                    None,
                );
                return;
            }
            Ok(_) => {
                ignore_till_sync = true;
                Err(PgError::new(
                    SqlState::PROTOCOL_VIOLATION,
                    "extended query protocol not supported in a replication connection",
                ))
            }
            Err(e) => {
                send_ready = true;
                Err(e)
            }
        };
        ws.walsnd.progress.lock().state = WalSndState::Startup;
        if let Err(mut e) = result {
            if entry.terminating() && !e.is_fatal() {
                e = admin_shutdown_error();
            }
            drain_copy_in(conn);
            if e.is_fatal() {
                ws.end();
                fail(conn, &e, None);
                return;
            }
            conn.send_error(&e);
            if let Some(s) = ws.session.as_mut() {
                s.on_error();
            }
        }
        if ws.exit {
            ws.end();
            conn.close();
            return;
        }
        if conn.broken {
            ws.end();
            return;
        }
    }
}

/// Sends a result set the walsender computed itself (all columns text).
fn send_canned(sink: &mut SocketSink<'_>, result: &logical::CannedResult) -> PgResult<()> {
    let fields: Vec<FieldDescription> = result.columns.iter().map(|c| text_field(c)).collect();
    let types = vec![DataType::Text; fields.len()];
    sink.row_description(&fields)?;
    for row in &result.rows {
        let values: Vec<Value> = row
            .iter()
            .map(|v| v.clone().map(Value::Text).unwrap_or(Value::Null))
            .collect();
        sink.data_row(&values, &types, &[])?;
    }
    sink.command_complete(&format!("SELECT {}", result.rows.len()))
}

/// Releases an acquired slot when streaming ends, however it ends.
struct SlotUse<'a> {
    slots: &'a SlotRegistry,
    name: String,
    pid: i32,
}

impl Drop for SlotUse<'_> {
    fn drop(&mut self) {
        self.slots.release(&self.name, self.pid, now_pg_micros());
    }
}

/// `pg_wal/0000000N.history`, relative to the data directory (as PostgreSQL
/// names it in messages).
fn history_file_name(tli: TimeLineId) -> String {
    format!("pg_wal/{:08X}.history", tli.0)
}

/// The switch points of the current timeline's history: (timeline, end LSN)
/// for every ancestor. Empty on timeline 1. (The standby side writes history
/// files at promotion; this reads the `tli<TAB>X/X<TAB>reason` lines.)
fn timeline_history(shared: &Shared, current: TimeLineId) -> Vec<(TimeLineId, Lsn)> {
    let path = shared.datadir.join(history_file_name(current));
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let tli = f.next()?.parse().ok()?;
            let lsn = f.next()?.parse().ok()?;
            Some((TimeLineId(tli), lsn))
        })
        .collect()
}

impl WalSender<'_> {
    fn end(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.terminate();
        }
    }

    fn query(&mut self, conn: &mut Conn, sql: &str) -> PgResult<()> {
        if !command::is_replication_command(sql) {
            return match (self.startup.replication, self.session.as_mut()) {
                (Replication::Logical, Some(session)) => {
                    let mut sink = SocketSink {
                        conn,
                        entry: self.entry,
                    };
                    let canned = (session.transaction_status() != b'E')
                        .then(|| logical::subscriber_catalog_query(&self.shared.db.catalog(), sql))
                        .flatten();
                    match canned {
                        Some(result) => send_canned(&mut sink, &result),
                        None => session.simple_query(sql, &mut sink),
                    }
                }
                _ => Err(PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cannot execute SQL commands in WAL sender for physical replication",
                )),
            };
        }
        let cmd = command::parse(sql)?;
        self.command(conn, cmd)
    }

    /// Executes one replication command.
    fn command(&mut self, conn: &mut Conn, cmd: ReplCommand) -> PgResult<()> {
        let pid = self.entry.pid;
        let shared = self.shared;
        if let ReplCommand::StartReplication {
            slot,
            kind,
            start,
            timeline,
            options,
        } = cmd
        {
            if kind == SlotKind::Logical {
                return self.start_logical(conn, slot, start, &options);
            }
            return self.start_replication(conn, slot, kind, start, timeline);
        }
        let mut sink = SocketSink {
            conn,
            entry: self.entry,
        };
        match cmd {
            ReplCommand::IdentifySystem => {
                let db = &shared.db;
                let wal = db.wal();
                sink.row_description(&[
                    text_field("systemid"),
                    typed_field("timeline", DataType::Int4),
                    text_field("xlogpos"),
                    text_field("dbname"),
                ])?;
                let dbname = match self.startup.replication {
                    Replication::Logical => Value::Text(self.startup.database.clone()),
                    _ => Value::Null,
                };
                let row = [
                    Value::Text(db.control().system_identifier.to_string()),
                    Value::Int4(wal.timeline().0 as i32),
                    Value::Text(wal.flush_lsn().to_string()),
                    dbname,
                ];
                sink.data_row(
                    &row,
                    &[
                        DataType::Text,
                        DataType::Int4,
                        DataType::Text,
                        DataType::Text,
                    ],
                    &[],
                )?;
                sink.command_complete("IDENTIFY_SYSTEM")
            }
            ReplCommand::Show(name) => {
                let value = shared.config.show(&name).ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                sink.row_description(&[text_field(&name)])?;
                sink.data_row(&[Value::Text(value)], &[DataType::Text], &[])?;
                sink.command_complete("SHOW")
            }
            ReplCommand::TimelineHistory(tli) => {
                let name = history_file_name(tli);
                let content = std::fs::read(shared.datadir.join(&name)).map_err(|e| {
                    PgError::new(
                        SqlState::UNDEFINED_FILE,
                        format!(
                            "could not open file \"{name}\": {}",
                            crate::postmaster::listen::os_text(&e)
                        ),
                    )
                })?;
                sink.row_description(&[
                    text_field("filename"),
                    typed_field("content", DataType::Bytea),
                ])?;
                let file = name.trim_start_matches("pg_wal/").to_string();
                // content goes out as the file's raw bytes, as PostgreSQL sends it
                sink.conn.send(&BackendMessage::DataRow(vec![
                    Some(file.into_bytes()),
                    Some(content),
                ]));
                sink.command_complete("TIMELINE_HISTORY")
            }
            ReplCommand::CreateReplicationSlot {
                name,
                temporary,
                kind,
                options,
                plugin,
            } => {
                if kind == SlotKind::Logical {
                    return self.create_logical_slot(&mut sink, name, temporary, plugin, &options);
                }
                let mut reserve = false;
                let mut seen = false;
                for (opt, value) in &options {
                    if opt == "reserve_wal" {
                        if seen {
                            return Err(PgError::new(
                                SqlState::SYNTAX_ERROR,
                                "conflicting or redundant options",
                            ));
                        }
                        seen = true;
                        reserve = value.as_bool(opt)?;
                    } else if matches!(opt.as_str(), "snapshot" | "two_phase" | "failover") {
                        return Err(PgError::new(
                            SqlState::SYNTAX_ERROR,
                            "conflicting or redundant options",
                        ));
                    } else {
                        return Err(PgError::internal(format!("unrecognized option: {opt}")));
                    }
                }
                crate::slot::create_physical(
                    &shared.slots,
                    &shared.db,
                    &shared.config,
                    pid,
                    &name,
                    reserve,
                    temporary,
                )?;
                sink.row_description(&[
                    text_field("slot_name"),
                    text_field("consistent_point"),
                    text_field("snapshot_name"),
                    text_field("output_plugin"),
                ])?;
                sink.data_row(
                    &[
                        Value::Text(name),
                        Value::Text(Lsn::INVALID.to_string()),
                        Value::Null,
                        Value::Null,
                    ],
                    &[const { DataType::Text }; 4],
                    &[],
                )?;
                sink.command_complete("CREATE_REPLICATION_SLOT")
            }
            ReplCommand::DropReplicationSlot { name, wait } => {
                crate::slot::drop_slot(&shared.slots, &shared.config, pid, &name, wait)?;
                sink.command_complete("DROP_REPLICATION_SLOT")
            }
            ReplCommand::ReadReplicationSlot(name) => {
                let info = shared.slots.get(&name);
                if info.as_ref().is_some_and(|i| i.data.is_logical()) {
                    return Err(PgError::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        "cannot use READ_REPLICATION_SLOT with a logical replication slot",
                    ));
                }
                sink.row_description(&[
                    text_field("slot_type"),
                    text_field("restart_lsn"),
                    typed_field("restart_tli", DataType::Int8),
                ])?;
                let mut row = vec![Value::Null, Value::Null, Value::Null];
                if let Some(i) = info {
                    row[0] = Value::Text("physical".into());
                    if let Some(l) = i.data.restart_lsn.filter(|l| l.is_valid()) {
                        row[1] = Value::Text(l.to_string());
                        let current = shared.db.wal().timeline();
                        // the timeline the position belongs to: the first ancestor
                        // whose end lies past it, else the current one
                        let tli = timeline_history(shared, current)
                            .into_iter()
                            .find(|(_, end)| l < *end)
                            .map(|(t, _)| t)
                            .unwrap_or(current);
                        row[2] = Value::Int8(tli.0 as i64);
                    }
                }
                sink.data_row(&row, &[DataType::Text, DataType::Text, DataType::Int8], &[])?;
                sink.command_complete("READ_REPLICATION_SLOT")
            }
            ReplCommand::BaseBackup { options } => basebackup::send(shared, &mut sink, &options),
            ReplCommand::AlterReplicationSlot { name, options } => {
                self.alter_slot(&mut sink, name, &options)
            }
            other => Err(PgError::unsupported(format!(
                "replication command {}",
                command_name(&other)
            ))),
        }
    }

    /// START_REPLICATION [SLOT s] PHYSICAL X/X [TIMELINE n].
    fn start_replication(
        &mut self,
        conn: &mut Conn,
        slot: Option<String>,
        kind: SlotKind,
        start: Lsn,
        timeline: Option<TimeLineId>,
    ) -> PgResult<()> {
        if kind == SlotKind::Logical {
            return Err(PgError::unsupported("logical replication"));
        }
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
                Some(usage)
            }
            None => None,
        };
        // an ancestor timeline streams up to its switch point (walsender_physical)
        let mut historic = crate::walsender::physical::historic_timeline(&wal, start, timeline)?;
        if !crate::walsender::physical::enters_copy(historic.as_ref(), start) {
            if let Some(h) = &historic {
                let mut sink = SocketSink {
                    conn,
                    entry: self.entry,
                };
                crate::walsender::physical::send_next_timeline(&mut sink, h)?;
            }
            conn.send(&BackendMessage::CommandComplete("START_STREAMING".into()));
            return Ok(());
        }
        let Some(reader_handle) = conn.plain_read_clone() else {
            return Err(PgError::unsupported(
                "START_REPLICATION over an SSL connection",
            ));
        };
        self.walsnd.progress.lock().state = WalSndState::Catchup;
        conn.send(&BackendMessage::CopyBothResponse {
            format: 0,
            column_formats: Vec::new(),
        });
        if conn.flush().is_err() {
            self.exit = true;
            return Ok(());
        }
        let flush = wal.flush_lsn();
        if flush < start {
            return Err(PgError::new(
                SqlState::INTERNAL_ERROR,
                format!(
                    "requested starting point {start} is ahead of the WAL flush position of this server {flush}"
                ),
            ));
        }
        {
            let mut p = self.walsnd.progress.lock();
            p.sent = start;
        }
        self.walsnd.inbox.lock().events.clear();
        let pre = conn.take_buffered();
        let stop = AtomicBool::new(false);
        let walsnd = self.walsnd.clone();
        let outcome = std::thread::scope(|scope| {
            let reader = std::thread::Builder::new()
                .name("walsender-reader".into())
                .spawn_scoped(scope, || read_standby(reader_handle, pre, &walsnd, &stop));
            let r = match reader {
                Ok(_) => self.stream(conn, slot.as_deref(), start, &mut historic),
                Err(e) => Err(PgError::internal(format!("could not start reader: {e}"))),
            };
            stop.store(true, Ordering::SeqCst);
            r
        });
        match outcome {
            Ok(StreamEnd::Completed) => {
                if let Some(h) = &historic {
                    let mut sink = SocketSink {
                        conn,
                        entry: self.entry,
                    };
                    crate::walsender::physical::send_next_timeline(&mut sink, h)?;
                }
                conn.send(&BackendMessage::CommandComplete("START_STREAMING".into()));
                Ok(())
            }
            Ok(StreamEnd::Exit) => {
                self.exit = true;
                Ok(())
            }
            Err(e) => {
                if conn.broken {
                    self.exit = true;
                }
                Err(e)
            }
        }
    }

    /// The streaming loop; returns when both sides ended the copy, or the
    /// connection must end.
    fn stream(
        &mut self,
        conn: &mut Conn,
        slot: Option<&str>,
        start: Lsn,
        historic: &mut Option<crate::walsender::physical::Historic>,
    ) -> PgResult<StreamEnd> {
        let shared = self.shared;
        let wal = shared.db.wal().clone();
        let start_tli = wal.timeline();
        let timeout_ms = shared.config.get_ms("wal_sender_timeout").unwrap_or(60_000);
        let mut timers = Timers::new(timeout_ms, now_pg_micros());
        let mut lag = LagTracker::default();
        let mut sent = start;
        let mut done_sending = false;
        let mut done_receiving = false;
        loop {
            let seen = self.walsnd.inbox.lock().generation;
            if self.entry.terminating() {
                return Err(admin_shutdown_error());
            }
            // 1. What the standby said.
            let walsnd = self.walsnd.clone();
            let mut on_msg = |conn: &mut Conn, msg: StandbyMessage, now: i64| {
                if self.on_standby_message(conn, msg, slot, sent, &mut lag, now)? {
                    wire::put_keepalive(conn.out(), sent, now, false);
                }
                Ok(())
            };
            if let Some(end) = drain_client(
                &walsnd,
                conn,
                &mut timers,
                &mut done_sending,
                &mut done_receiving,
                &mut on_msg,
            )? {
                return Ok(end);
            }
            let now = now_pg_micros();
            // 2. A silent standby is dropped (without telling it: the link is
            // presumably broken).
            if replication_timeout(&timers, now) {
                return Ok(StreamEnd::Exit);
            }
            // 3. WAL, a bounded amount per round so replies are not starved.
            // (a cascading walsender whose node changed timeline streams on
            // only up to the old timeline's end)
            crate::walsender::physical::check_timeline_switch(&wal, start_tli, historic);
            let flush = crate::walsender::physical::send_limit(wal.flush_lsn(), *historic);
            if !done_sending {
                let mut budget = 16 * tandem_replication::physical::MAX_SEND_SIZE;
                while let Some((from, to)) = tandem_replication::physical::next_chunk(
                    sent,
                    flush,
                    tandem_replication::physical::MAX_SEND_SIZE,
                ) {
                    let data = wal.read_raw(from, (to.0 - from.0) as usize)?;
                    if data.is_empty() {
                        break;
                    }
                    let end = from.advance(data.len() as u64);
                    wire::put_xlog_data(conn.out(), from, flush, now_pg_micros(), &data);
                    sent = end;
                    lag.write(sent, now_pg_micros());
                    if conn.maybe_flush().is_err() {
                        return Ok(StreamEnd::Exit);
                    }
                    budget = budget.saturating_sub(data.len() as u64);
                    if budget == 0 {
                        break;
                    }
                }
                let caught_up = {
                    let mut p = self.walsnd.progress.lock();
                    p.sent = sent;
                    let c = sent >= flush && p.state == WalSndState::Catchup;
                    if c {
                        p.state = WalSndState::Streaming;
                    }
                    c
                };
                if caught_up {
                    self.shared.walsenders.sync_recompute();
                }
                // the end of a historic timeline: end the copy (XLogSendPhysical)
                if crate::walsender::physical::reached_end_of_timeline(*historic, sent) {
                    conn.send(&BackendMessage::CopyDone);
                    done_sending = true;
                }
            }
            // 4. Keepalive asking for a reply after half the timeout in silence.
            if !done_sending && timers.keepalive_due(now) {
                wire::put_keepalive(conn.out(), sent, now, true);
                timers.pinged();
            }
            if conn.flush().is_err() {
                return Ok(StreamEnd::Exit);
            }
            // 5. Sleep until new WAL, a message, or a timer.
            let limit = crate::walsender::physical::send_limit(wal.flush_lsn(), *historic);
            if sent < limit && !done_sending {
                continue;
            }
            let sleep_us = timers.sleep_time(now_pg_micros(), 10_000_000).max(1);
            let mut inbox = self.walsnd.inbox.lock();
            if inbox.generation == seen && inbox.events.is_empty() {
                self.walsnd
                    .wake
                    .wait_for(&mut inbox, Duration::from_micros(sleep_us as u64));
            }
        }
    }

    /// Applies a standby message; returns whether the standby asked for a reply.
    fn on_standby_message(
        &mut self,
        _conn: &mut Conn,
        msg: StandbyMessage,
        slot: Option<&str>,
        sent: Lsn,
        lag: &mut LagTracker,
        now: i64,
    ) -> PgResult<bool> {
        match msg {
            StandbyMessage::Status {
                write,
                flush,
                apply,
                send_time,
                reply_requested,
            } => {
                {
                    let mut p = self.walsnd.progress.lock();
                    let mut lags = p.lags;
                    lags.on_reply(lag, sent, write, flush, apply, now);
                    p.lags = lags;
                    p.write = write;
                    p.flush = flush;
                    p.apply = apply;
                    p.reply_time = Some(send_time);
                }
                self.shared.walsenders.sync_recompute();
                if let (Some(name), true) = (slot, flush.is_valid()) {
                    // restart_lsn only moves forward, and never on an
                    // invalidated slot (its WAL is gone)
                    let info = self.shared.slots.get(name);
                    let valid = info.as_ref().is_some_and(|i| i.data.invalidated.is_none());
                    let cur = info.and_then(|i| i.data.restart_lsn);
                    if valid && cur.is_none_or(|c| flush > c) {
                        self.shared.slots.update_lazily(
                            name,
                            tandem_replication::slot::LAZY_SAVE_INTERVAL,
                            |d| d.restart_lsn = Some(flush),
                        )?;
                    }
                }
                Ok(reply_requested)
            }
            StandbyMessage::HotStandbyFeedback {
                xmin, catalog_xmin, ..
            } => {
                let xmin = (xmin != 0).then_some(Xid(xmin));
                let catalog_xmin = (catalog_xmin != 0).then_some(Xid(catalog_xmin));
                match slot {
                    Some(name) => {
                        self.shared.slots.update(name, |d| {
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
                Ok(false)
            }
        }
    }
}

/// Handles the client's messages queued by the reader thread: standby
/// messages go to `on_msg`, CopyDone is answered (once) with CopyDone.
/// `Some(end)`: streaming must stop (client gone, both copies done).
fn drain_client(
    walsnd: &WalSnd,
    conn: &mut Conn,
    timers: &mut Timers,
    done_sending: &mut bool,
    done_receiving: &mut bool,
    on_msg: &mut dyn FnMut(&mut Conn, StandbyMessage, i64) -> PgResult<()>,
) -> PgResult<Option<StreamEnd>> {
    let events: Vec<Event> = walsnd.inbox.lock().events.drain(..).collect();
    for ev in events {
        let now = now_pg_micros();
        match ev {
            Event::Eof => {
                elog::emit(
                    Level::Log,
                    "unexpected EOF on standby connection",
                    None,
                    None,
                );
                return Ok(Some(StreamEnd::Exit));
            }
            Event::Broken(e) => {
                elog::emit(Level::Log, &e.message, None, None);
                return Ok(Some(StreamEnd::Exit));
            }
            Event::Message(b'd', payload) => {
                timers.heard_from_standby(now);
                match wire::decode_standby_message(&payload) {
                    Ok(msg) => on_msg(conn, msg, now)?,
                    Err(e) => {
                        // PostgreSQL: COMMERROR and exit
                        elog::emit(Level::Log, &e.message, None, None);
                        return Ok(Some(StreamEnd::Exit));
                    }
                }
            }
            Event::Message(b'c', _) => {
                timers.heard_from_standby(now);
                if !*done_sending {
                    conn.send(&BackendMessage::CopyDone);
                    *done_sending = true;
                }
                *done_receiving = true;
            }
            Event::Message(b'X', _) => return Ok(Some(StreamEnd::Exit)),
            Event::Message(tag, _) => {
                return Err(PgError::fatal(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("invalid standby message type \"{}\"", tag as char),
                ));
            }
        }
    }
    if *done_receiving && *done_sending {
        let _ = conn.flush();
        return Ok(Some(StreamEnd::Completed));
    }
    Ok(None)
}

/// `wal_sender_timeout` passed without a word from the client (logged).
fn replication_timeout(timers: &Timers, now: i64) -> bool {
    let out = timers.timed_out(now);
    if out {
        elog::emit(
            Level::Log,
            "terminating walsender process due to replication timeout",
            None,
            None,
        );
    }
    out
}

/// How streaming ended without an error.
enum StreamEnd {
    /// Both sides sent CopyDone: the command completes.
    Completed,
    /// The connection must end (client gone, timeout, Terminate).
    Exit,
}

/// Largest CopyData a standby may send during streaming.
const MAX_STANDBY_MESSAGE: usize = 1 << 20;

/// The reader thread: frames the client's messages from `sock` (after `pre`, the
/// bytes the connection had buffered) into the walsender's inbox, reading exactly
/// one message at a time so nothing after CopyDone is consumed. Stops at
/// CopyDone, Terminate, end of file, or when `stop` is set.
fn read_standby(mut sock: SocketHandle, pre: Vec<u8>, walsnd: &WalSnd, stop: &AtomicBool) {
    let mut buf = pre;
    let mut chunk = vec![0u8; 8192];
    loop {
        if buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if !(4..=MAX_STANDBY_MESSAGE).contains(&len) {
                walsnd.push(Event::Broken(PgError::new(
                    SqlState::PROTOCOL_VIOLATION,
                    "invalid message length",
                )));
                return;
            }
            let total = 1 + len;
            if buf.len() >= total {
                let tag = buf[0];
                let body = buf[5..total].to_vec();
                buf.drain(..total);
                walsnd.push(Event::Message(tag, body));
                if tag == b'c' || tag == b'X' {
                    return;
                }
                continue;
            }
        }
        let need = if buf.len() < 5 {
            5 - buf.len()
        } else {
            1 + u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize - buf.len()
        };
        // wait for input, checking `stop` a few times a second
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let mut pfd = libc::pollfd {
                fd: sock.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, exclusively borrowed for the call.
            let n = unsafe { libc::poll(&mut pfd, 1, 200) };
            if n > 0 {
                break;
            }
        }
        let want = need.min(chunk.len());
        match sock.read(&mut chunk[..want]) {
            Ok(0) => {
                walsnd.push(Event::Eof);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                walsnd.push(Event::Eof);
                return;
            }
        }
    }
}

fn command_name(cmd: &ReplCommand) -> &'static str {
    match cmd {
        ReplCommand::IdentifySystem => "IDENTIFY_SYSTEM",
        ReplCommand::Show(_) => "SHOW",
        ReplCommand::TimelineHistory(_) => "TIMELINE_HISTORY",
        ReplCommand::ReadReplicationSlot(_) => "READ_REPLICATION_SLOT",
        ReplCommand::CreateReplicationSlot { .. } => "CREATE_REPLICATION_SLOT",
        ReplCommand::AlterReplicationSlot { .. } => "ALTER_REPLICATION_SLOT",
        ReplCommand::DropReplicationSlot { .. } => "DROP_REPLICATION_SLOT",
        ReplCommand::StartReplication { .. } => "START_REPLICATION",
        ReplCommand::BaseBackup { .. } => "BASE_BACKUP",
    }
}
