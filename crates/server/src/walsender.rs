//! The walsender: what a `replication=true` (physical) or `replication=database`
//! (logical) connection runs after authentication instead of the SQL query loop.
//!
//! It speaks the simple query protocol only. Each Query is either a replication
//! command (`tandem_replication::command`: IDENTIFY_SYSTEM, SHOW, ...) or, on a
//! logical connection, SQL run by an ordinary [`Session`]. A physical connection
//! refuses SQL. Commands not implemented yet answer `0A000`; START_REPLICATION
//! (CopyBoth streaming) slots in at [`WalSender::command`] with direct access to
//! the connection.
//!
//! IDENTIFY_SYSTEM answers one row: `systemid` (text), `timeline` (int4),
//! `xlogpos` (text, the flushed WAL position), `dbname` (text, NULL when physical).
//!
//! Corresponds to PostgreSQL's `src/backend/replication/walsender.c`
//! (`exec_replication_command`, `IdentifySystem`).

use std::sync::Arc;

use tandem_protocol::{BackendMessage, FrontendMessage};
use tandem_replication::command::{self, ReplCommand};
use tandem_sql::{FieldDescription, QuerySink, Session};
use tandem_types::elog::{self, Level};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::connection::{admin_shutdown_error, fail, Replication, StartupInfo};
use crate::postmaster::Shared;
use crate::registry::BackendEntry;
use crate::sink::{drain_copy_in, SocketSink};
use crate::stream::{Conn, ReadError};

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
    startup: &'a StartupInfo,
    /// The SQL session of a logical (`replication=database`) connection.
    session: Option<Session>,
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

/// Runs the walsender loop until the client leaves.
pub(crate) fn run(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    entry: &Arc<BackendEntry>,
    startup: &StartupInfo,
    session: Option<Session>,
) {
    let mut ws = WalSender {
        shared,
        entry,
        startup,
        session,
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
        if let Err(e) = result {
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
        if conn.broken {
            ws.end();
            return;
        }
    }
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
                    session.simple_query(sql, &mut sink)
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
        let mut sink = SocketSink {
            conn,
            entry: self.entry,
        };
        match cmd {
            ReplCommand::IdentifySystem => {
                let db = &self.shared.db;
                let wal = db.wal();
                sink.row_description(&[
                    text_field("systemid"),
                    FieldDescription {
                        data_type: DataType::Int4,
                        ..text_field("timeline")
                    },
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
                let value = self.shared.config.show(&name).ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
                sink.row_description(&[text_field(&name)])?;
                sink.data_row(&[Value::Text(value)], &[DataType::Text], &[])?;
                sink.command_complete("SHOW")
            }
            other => Err(PgError::unsupported(format!(
                "replication command {}",
                command_name(&other)
            ))),
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
