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
//! catalog (`subscriber_queries.rs`, docs/logical-decoding.md).
//!
//! This file is connection setup and command dispatch; the rest of the folder:
//!
//! | file | what it holds |
//! |---|---|
//! | `sender.rs` | the connection's state ([`WalSender`]) and helpers shared by the command files |
//! | `copyboth.rs` | the CopyBoth streaming loop both kinds of START_REPLICATION run (the client's replies, keepalives, `wal_sender_timeout`) |
//! | `physical.rs` | START_REPLICATION PHYSICAL: WAL bytes, standby replies, historic timelines |
//! | `logical.rs` | logical slots over the replication protocol and START_REPLICATION LOGICAL |
//! | `subscriber_queries.rs` | canned answers to subscribers' catalog queries |
//! | `basebackup.rs` | BASE_BACKUP |
//! | `walsndctl.rs` | the walsender array (`pg_stat_replication`, wakeups, synchronous replication) |
//!
//! Imports go one way: `mod.rs` uses the command files; the command files use
//! `copyboth.rs`, `sender.rs` and `walsndctl.rs`; `copyboth.rs` uses the other
//! two; none of these three imports a command file.
//!
//! Corresponds to PostgreSQL's `src/backend/replication/walsender.c`
//! (`exec_replication_command`, `IdentifySystem`, `SendTimeLineHistory`,
//! `ReadReplicationSlot`, `CreateReplicationSlot`, `DropReplicationSlot`).

use std::sync::Arc;

use tandem_protocol::{BackendMessage, FrontendMessage};
use tandem_replication::command::{self, Options, ReplCommand, SlotKind};
use tandem_replication::physical::WalSndState;
use tandem_sql::{FieldDescription, QuerySink, Session};
use tandem_types::elog::{self, Level};
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, TimeLineId, Value};

use crate::backend::pqcomm::{Conn, ReadError};
use crate::backend::printtup::{drain_copy_in, SocketSink};
use crate::backend::startup::{admin_shutdown_error, fail, Replication, StartupInfo};
use crate::procarray::BackendEntry;
use crate::shared::Shared;
use crate::walsender::sender::{send_created_slot, WalSender};
use crate::walsender::walsndctl::{StopPhase, WalSndGuard};

pub(crate) mod basebackup;
mod copyboth;
mod logical;
mod physical;
mod sender;
mod subscriber_queries;
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
        "IntervalStyle",
        "default_transaction_read_only",
        "in_hot_standby",
        "scram_iterations",
    ]
    .iter()
    .filter_map(|n| shared.config.show(n).map(|v| (n.to_string(), v)))
    .collect()
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
            // An error ending a walsender at shutdown (a standby of
            // `synchronized_standby_slots` gone) goes to the log as well.
            if ws.walsnd.stop_phase() >= StopPhase::Stopping {
                elog::emit_error(&e);
            }
            conn.send_error(&e);
            if let Some(s) = ws.session.as_mut() {
                s.on_error();
            }
        }
        // A walsender that left streaming while the server shuts down ends
        // (PostgreSQL's `WalSndErrorCleanup` exiting when `got_STOPPING`).
        if ws.exit || ws.walsnd.stop_phase() >= StopPhase::Stopping {
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

impl WalSender<'_> {
    fn query(&mut self, conn: &mut Conn, sql: &str) -> PgResult<()> {
        if !command::is_replication_command(sql) {
            return match (self.startup.replication, self.session.as_mut()) {
                (Replication::Logical, Some(session)) => {
                    let mut sink = SocketSink {
                        conn,
                        entry: self.entry,
                    };
                    let canned = (session.transaction_status() != b'E')
                        .then(|| {
                            subscriber_queries::subscriber_catalog_query(
                                &self.shared.db.catalog(),
                                sql,
                            )
                        })
                        .flatten();
                    match canned {
                        Some(result) => result.send(&mut sink),
                        None => session.simple_query(sql, &mut sink),
                    }
                }
                _ => Err(PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cannot execute SQL commands in WAL sender for physical replication",
                )),
            };
        }
        // An over-long identifier is truncated with a NOTICE, as PostgreSQL's
        // replication scanner does.
        let (cmd, notices) = command::parse_with_notices(sql)?;
        for notice in &notices {
            conn.send_error(notice);
        }
        self.command(conn, cmd)
    }

    /// Executes one replication command (`exec_replication_command`).
    fn command(&mut self, conn: &mut Conn, cmd: ReplCommand) -> PgResult<()> {
        let entry = self.entry;
        match cmd {
            ReplCommand::IdentifySystem => self.identify_system(&mut SocketSink { conn, entry }),
            ReplCommand::Show(name) => self.show(&mut SocketSink { conn, entry }, &name),
            ReplCommand::TimelineHistory(tli) => {
                self.timeline_history(&mut SocketSink { conn, entry }, tli)
            }
            ReplCommand::CreateReplicationSlot {
                name,
                temporary,
                kind: SlotKind::Logical,
                options,
                plugin,
            } => self.create_logical_slot(
                &mut SocketSink { conn, entry },
                name,
                temporary,
                plugin,
                &options,
            ),
            ReplCommand::CreateReplicationSlot {
                name,
                temporary,
                kind: SlotKind::Physical,
                options,
                ..
            } => self.create_physical_slot(
                &mut SocketSink { conn, entry },
                name,
                temporary,
                &options,
            ),
            ReplCommand::DropReplicationSlot { name, wait } => {
                self.drop_slot(&mut SocketSink { conn, entry }, &name, wait)
            }
            ReplCommand::ReadReplicationSlot(name) => {
                self.read_replication_slot(&mut SocketSink { conn, entry }, &name)
            }
            ReplCommand::AlterReplicationSlot { name, options } => {
                self.alter_slot(&mut SocketSink { conn, entry }, name, &options)
            }
            ReplCommand::StartReplication {
                slot,
                kind: SlotKind::Logical,
                start,
                options,
                ..
            } => self.start_logical(conn, slot, start, &options),
            ReplCommand::StartReplication {
                slot,
                kind: SlotKind::Physical,
                start,
                timeline,
                ..
            } => self.start_physical(conn, slot, start, timeline),
            ReplCommand::BaseBackup { options } => {
                basebackup::send(self.shared, &mut SocketSink { conn, entry }, &options)
            }
        }
    }

    /// `IDENTIFY_SYSTEM`.
    fn identify_system(&self, sink: &mut SocketSink<'_>) -> PgResult<()> {
        let db = &self.shared.db;
        let wal = db.wal();
        sink.row_description(&[
            FieldDescription::text("systemid"),
            FieldDescription::computed("timeline", DataType::Int4),
            FieldDescription::text("xlogpos"),
            FieldDescription::text("dbname"),
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

    /// `SHOW name`.
    fn show(&self, sink: &mut SocketSink<'_>, name: &str) -> PgResult<()> {
        // PostgreSQL answers inside a transaction, which is read-only on a
        // standby or with default_transaction_read_only = on (the setting a
        // standby runs with): libpq's target_session_attrs=read-write asks
        // this of a replication connection.
        let value = if name.eq_ignore_ascii_case("transaction_read_only") {
            let on = |n: &str| self.shared.config.show(n).is_some_and(|v| v == "on");
            Some(
                if on("default_transaction_read_only") || on("in_hot_standby") {
                    "on"
                } else {
                    "off"
                }
                .to_string(),
            )
        } else {
            self.shared.config.show(name)
        };
        let value = value.ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })?;
        sink.row_description(&[FieldDescription::text(name)])?;
        sink.data_row(&[Value::Text(value)], &[DataType::Text], &[])?;
        sink.command_complete("SHOW")
    }

    /// `TIMELINE_HISTORY n`: the history file's name and raw content.
    fn timeline_history(&self, sink: &mut SocketSink<'_>, tli: TimeLineId) -> PgResult<()> {
        let file = tandem_wal::history_file_name(tli);
        // named relative to the data directory in messages, as PostgreSQL does
        let name = format!("pg_wal/{file}");
        let content = std::fs::read(self.shared.datadir.join(&name)).map_err(|e| {
            PgError::new(
                SqlState::UNDEFINED_FILE,
                format!(
                    "could not open file \"{name}\": {}",
                    crate::postmaster::listen::os_text(&e)
                ),
            )
        })?;
        sink.row_description(&[
            FieldDescription::text("filename"),
            FieldDescription::computed("content", DataType::Bytea),
        ])?;
        // content goes out as the file's raw bytes, as PostgreSQL sends it
        sink.conn.send(&BackendMessage::DataRow(vec![
            Some(file.into_bytes()),
            Some(content),
        ]));
        sink.command_complete("TIMELINE_HISTORY")
    }

    /// `CREATE_REPLICATION_SLOT s [TEMPORARY] PHYSICAL [(RESERVE_WAL)]`.
    fn create_physical_slot(
        &self,
        sink: &mut SocketSink<'_>,
        name: String,
        temporary: bool,
        options: &Options,
    ) -> PgResult<()> {
        let mut reserve = false;
        let mut seen = false;
        for (opt, value) in options {
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
        let shared = self.shared;
        crate::slot::create_physical(
            &shared.slots,
            &shared.db,
            &shared.config,
            self.entry.pid,
            &name,
            reserve,
            temporary,
        )?;
        send_created_slot(sink, name, Lsn::INVALID, None, None)
    }

    /// `DROP_REPLICATION_SLOT s [WAIT]`.
    fn drop_slot(&self, sink: &mut SocketSink<'_>, name: &str, wait: bool) -> PgResult<()> {
        let shared = self.shared;
        crate::slot::drop_slot(
            &shared.slots,
            &shared.db,
            &shared.config,
            self.entry.pid,
            name,
            wait,
        )?;
        sink.command_complete("DROP_REPLICATION_SLOT")
    }

    /// `READ_REPLICATION_SLOT s`: a physical slot's `restart_lsn` and the
    /// timeline it belongs to.
    fn read_replication_slot(&self, sink: &mut SocketSink<'_>, name: &str) -> PgResult<()> {
        let shared = self.shared;
        let info = shared.slots.get(name);
        if info.as_ref().is_some_and(|i| i.data.is_logical()) {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "cannot use READ_REPLICATION_SLOT with a logical replication slot",
            ));
        }
        sink.row_description(&[
            FieldDescription::text("slot_type"),
            FieldDescription::text("restart_lsn"),
            FieldDescription::computed("restart_tli", DataType::Int8),
        ])?;
        let mut row = vec![Value::Null, Value::Null, Value::Null];
        if let Some(i) = info {
            row[0] = Value::Text("physical".into());
            if let Some(l) = i.data.restart_lsn.filter(|l| l.is_valid()) {
                row[1] = Value::Text(l.to_string());
                row[2] = Value::Int8(shared.db.wal().timeline_of(l).0 as i64);
            }
        }
        sink.data_row(&row, &[DataType::Text, DataType::Text, DataType::Int8], &[])?;
        sink.command_complete("READ_REPLICATION_SLOT")
    }
}
