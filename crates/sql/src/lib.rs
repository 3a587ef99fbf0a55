//! SQL sessions: the statement dispatcher behind every client connection
//! (PostgreSQL's `tcop/postgres.c`, `tcop/utility.c`, `access/transam/xact.c`'s
//! block states, `commands/*`).
//!
//! A [`Session`] receives simple-query strings and extended-protocol steps from the
//! server crate, and answers through a [`QuerySink`]. It owns transaction state
//! (implicit, explicit, failed), prepared statements and portals, SET/SHOW, DDL,
//! COPY, utility statements. SELECT/INSERT/UPDATE/DELETE are planned and run by
//! `tandem-query`; scalar functions and catalog views come from `tandem-expr`.
//!
//! The life of one simple-query message:
//!
//! ```text
//! simple_query(sql)
//!   shapes::shape_of            a single SELECT/INSERT/UPDATE/DELETE seen before
//!                               with other numbers: its plan runs with them
//!   front_parser::parse_query   split on `;` (quotes, dollar quotes, comments
//!                               respected), then per piece: hand parser for what
//!                               sqlparser rejects (ALTER SYSTEM, CHECKPOINT, VACUUM,
//!                               ANALYZE, COPY, CREATE SEQUENCE, publications), else
//!                               sqlparser. Any syntax error: nothing runs.
//!   for each statement:
//!     transaction::Xact          25P02 check, implicit transaction start
//!     dispatch::execute          query plans, DDL (ddl/*), utilities, COPY
//!     commit (last statement of an implicit transaction), notices, CommandComplete
//! ```
//!
//! Contract with the server crate:
//! - Errors returned from [`Session::simple_query`] / [`Session::execute`] and the
//!   other extended steps are to be sent as ErrorResponse; the session has already
//!   marked its transaction failed (calling [`Session::on_error`] again is harmless).
//!   An error with FATAL/PANIC severity ([`PgError::is_fatal`]) ends the connection
//!   (a WAL flush failure at commit is PANIC).
//! - COPY FROM STDIN: the session sends CopyInResponse through
//!   [`QuerySink::copy_in_response`] and reads with [`QuerySink::copy_in_read`] until
//!   it returns `Ok(None)` (CopyDone). If the session returns an error before it saw
//!   CopyDone (bad data, constraint violation), **the server must discard the
//!   client's remaining CopyData messages up to CopyDone/CopyFail** before sending
//!   ErrorResponse and ReadyForQuery, as PostgreSQL does. `copy_in_read` returning
//!   `Err` (CopyFail) ends the COPY with that error.
//! - Extended protocol: after an error the server skips messages until Sync, then
//!   calls [`Session::sync`]; ReadyForQuery uses [`Session::transaction_status`].

mod copy;
mod cursor;
mod ddl;
mod dispatch;
mod extended;
mod front_parser;
mod scan;
mod session;
mod shapes;
mod tags;
mod transaction;
mod types;
mod utility;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use tandem_config::Config;
use tandem_expr::context::ServerHooks;
use tandem_storage::Database;
use tandem_types::{DataType, PgError, PgResult, Value};

pub use copy::split_copy_text_line;
pub use session::{Session, SnapshotRefusal};

/// A RowDescription field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDescription {
    pub name: String,
    pub table_oid: u32,
    pub column_id: i16,
    pub data_type: DataType,
    /// 0 text, 1 binary
    pub format: i16,
}

impl FieldDescription {
    /// A result column not taken from a table (SHOW output, replication
    /// command results), sent in text format.
    pub fn computed(name: &str, data_type: DataType) -> FieldDescription {
        FieldDescription {
            name: name.to_string(),
            table_oid: 0,
            column_id: 0,
            data_type,
            format: 0,
        }
    }

    /// [`FieldDescription::computed`] of type text.
    pub fn text(name: &str) -> FieldDescription {
        FieldDescription::computed(name, DataType::Text)
    }
}

/// Where a session's answers go. The server crate implements it over the socket;
/// tests implement it in memory.
pub trait QuerySink {
    fn row_description(&mut self, fields: &[FieldDescription]) -> PgResult<()>;
    /// One row; `formats` has one entry per column (0 text, 1 binary) or is empty
    /// for all-text. Encode with `tandem_expr::text_out` / `binary_out`.
    fn data_row(&mut self, row: &[Value], types: &[DataType], formats: &[i16]) -> PgResult<()>;
    fn command_complete(&mut self, tag: &str) -> PgResult<()>;
    fn empty_query(&mut self) -> PgResult<()>;
    fn no_data(&mut self) -> PgResult<()>;
    fn parameter_description(&mut self, types: &[DataType]) -> PgResult<()>;
    fn notice(&mut self, notice: &PgError) -> PgResult<()>;
    /// A setting reported with ParameterStatus changed (`SET application_name`).
    fn parameter_status(&mut self, name: &str, value: &str) -> PgResult<()>;
    /// COPY FROM STDIN: send CopyInResponse (text format, `ncols` columns) ...
    fn copy_in_response(&mut self, ncols: usize) -> PgResult<()>;
    /// ... then read: `Ok(Some(bytes))` per CopyData, `Ok(None)` at CopyDone,
    /// `Err` for CopyFail (`57014 COPY from stdin failed: <msg>`) or a broken client.
    fn copy_in_read(&mut self) -> PgResult<Option<Vec<u8>>>;
    /// COPY TO STDOUT: CopyOutResponse, CopyData per line, CopyDone.
    fn copy_out_response(&mut self, ncols: usize) -> PgResult<()>;
    fn copy_out_data(&mut self, data: &[u8]) -> PgResult<()>;
    fn copy_out_done(&mut self) -> PgResult<()>;
}

/// Shared by all sessions of a node.
pub struct Engine {
    pub db: Arc<Database>,
    pub config: Arc<Config>,
    pub hooks: Arc<dyn ServerHooks>,
    /// Where commits wait for synchronous standbys (None: never wait).
    pub syncrep: Option<Arc<tandem_replication::syncrep::SyncRepWaiters>>,
    /// LISTEN / NOTIFY routing between the sessions.
    pub notify: Arc<tandem_expr::notify::NotifyHub>,
    /// The advisory locks sessions hold.
    pub advisory: Arc<tandem_expr::advisory::AdvisoryLocks>,
}

/// Outcome of an extended-protocol Execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecuteOutcome {
    /// CommandComplete was sent.
    Complete,
    /// `max_rows` reached; PortalSuspended must be sent.
    Suspended,
}
