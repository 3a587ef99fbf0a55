//! The node: postmaster (listener, connection threads, background workers,
//! signals, shutdown order, postmaster.pid), connection handling (startup, TLS,
//! pg_hba.conf, authentication, the query loop for simple and extended protocol
//! and COPY, cancel requests).
//!
//! INTERFACE STUB (written by the lead): the server helper owns this crate.

use std::path::Path;

use tandem_types::PgResult;

/// Runs the server in the foreground until shutdown (SIGTERM smart, SIGINT fast,
/// SIGQUIT immediate). `overrides` are `-c name=value` options. Writes
/// `postmaster.pid` (refusing to start if a live server holds it), opens the
/// database (crash recovery), listens, and logs
/// `database system is ready to accept connections`.
pub fn run(datadir: &Path, overrides: Vec<(String, String)>) -> PgResult<()> {
    let _ = (datadir, overrides);
    todo!()
}
