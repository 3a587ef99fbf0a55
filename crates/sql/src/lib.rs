//! SQL sessions: the statement dispatcher behind every client connection.
//!
//! INTERFACE STUB (written by the lead): the sql helper owns this crate and replaces
//! the bodies; keep the signatures (extend freely).
//!
//! A [`Session`] receives simple-query strings and extended-protocol steps from the
//! server crate, and answers through a [`QuerySink`]. It owns transaction state
//! (implicit, explicit, failed), prepared statements and portals, SET/SHOW, DDL,
//! COPY, utility statements. SELECT/INSERT/UPDATE/DELETE are planned and run by
//! `tandem-query`; scalar functions and catalog views come from `tandem-expr`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tandem_config::Config;
use tandem_expr::context::ServerHooks;
use tandem_expr::SessionInfo;
use tandem_storage::Database;
use tandem_types::{DataType, PgError, PgResult, Value};

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
}

/// Outcome of an extended-protocol Execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecuteOutcome {
    /// CommandComplete was sent.
    Complete,
    /// `max_rows` reached; PortalSuspended must be sent.
    Suspended,
}

/// One client session (a backend, in PostgreSQL's words).
pub struct Session {
    _private: (),
}

impl Session {
    /// `startup` are the StartupMessage parameters (user, database, options...).
    /// Fails with FATAL for an unknown database (`3D000 database "x" does not exist`).
    pub fn new(engine: Arc<Engine>, info: SessionInfo, startup: &[(String, String)]) -> PgResult<Session> {
        let _ = (engine, info, startup);
        todo!()
    }

    /// ParameterStatus values to send after authentication.
    pub fn reported_parameters(&self) -> Vec<(String, String)> {
        todo!()
    }

    /// The cancel flag a CancelRequest for this backend sets.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        todo!()
    }

    /// Simple query protocol: runs every statement of `sql` in order (an implicit
    /// transaction around them unless they manage transactions), answering into
    /// `sink`. An error aborts the rest and is returned (the caller sends
    /// ErrorResponse); ReadyForQuery is the caller's.
    pub fn simple_query(&mut self, sql: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        let _ = (sql, sink);
        todo!()
    }

    /// Parse: `param_oids` as sent (0 = unspecified).
    pub fn parse(&mut self, name: &str, sql: &str, param_oids: &[u32]) -> PgResult<()> {
        let _ = (name, sql, param_oids);
        todo!()
    }

    pub fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        param_formats: &[i16],
        params: &[Option<Vec<u8>>],
        result_formats: &[i16],
    ) -> PgResult<()> {
        let _ = (portal, statement, param_formats, params, result_formats);
        todo!()
    }

    /// Describe 'S': ParameterDescription then RowDescription or NoData.
    pub fn describe_statement(&mut self, name: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        let _ = (name, sink);
        todo!()
    }

    /// Describe 'P': RowDescription or NoData.
    pub fn describe_portal(&mut self, name: &str, sink: &mut dyn QuerySink) -> PgResult<()> {
        let _ = (name, sink);
        todo!()
    }

    /// Execute: `max_rows == 0` means all.
    pub fn execute(&mut self, portal: &str, max_rows: u32, sink: &mut dyn QuerySink) -> PgResult<ExecuteOutcome> {
        let _ = (portal, max_rows, sink);
        todo!()
    }

    pub fn close_statement(&mut self, name: &str) {
        let _ = name;
        todo!()
    }
    pub fn close_portal(&mut self, name: &str) {
        let _ = name;
        todo!()
    }

    /// Sync: ends an implicit extended-protocol transaction (commit, or rollback if
    /// it failed). Errors from the commit are returned.
    pub fn sync(&mut self) -> PgResult<()> {
        todo!()
    }

    /// Marks the current transaction failed after an error (the server calls this
    /// for errors it reports, so later statements get 25P02 until ROLLBACK).
    pub fn on_error(&mut self) {
        todo!()
    }

    /// ReadyForQuery status: `b'I'` idle, `b'T'` in transaction, `b'E'` failed.
    pub fn transaction_status(&self) -> u8 {
        todo!()
    }

    /// Ends the session: rolls back any open transaction.
    pub fn terminate(&mut self) {
        todo!()
    }
}
