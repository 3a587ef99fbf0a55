//! The node: postmaster (listener, connection threads, background workers,
//! signals, shutdown order, postmaster.pid), connection handling (startup, TLS,
//! pg_hba.conf, authentication, the query loop for simple and extended protocol
//! and COPY, cancel requests), and the walsender entry.
//!
//! Process model: one OS thread per client connection with blocking I/O, like
//! PostgreSQL's process per backend. The life of a connection:
//!
//! ```text
//! postmaster::Postmaster::serve     poll listeners, accept, spawn a thread
//!   connection::serve               register (virtual pid, cancel key)
//!     read_startup                  SSLRequest -> 'S' + TLS / 'N', GSSENC -> 'N',
//!                                   CancelRequest -> registry, StartupMessage
//!     authenticate                  hba::find -> auth::authenticate (SCRAM...)
//!                                   -> AuthenticationOk, role checks
//!     Session::new                  (tandem-sql) ParameterStatus, BackendKeyData
//!     QueryLoop::run                simple + extended protocol, COPY (sink.rs)
//!   or walsender::run               replication=... connections
//! ```
//!
//! | file          | PostgreSQL |
//! |---------------|------------|
//! | postmaster.rs | postmaster/postmaster.c |
//! | listen.rs     | libpq/pqcomm.c (StreamServerPort) |
//! | pidfile.rs    | utils/init/miscinit.c (CreateLockFile) |
//! | connection.rs | postmaster/backend_startup.c, tcop/postgres.c |
//! | stream.rs     | libpq/pqcomm.c, libpq/be-secure.c |
//! | tls.rs        | libpq/be-secure-openssl.c |
//! | hba.rs        | libpq/hba.c |
//! | auth.rs       | libpq/auth.c |
//! | sink.rs       | access/common/printtup.c, commands/copyfromparse.c |
//! | registry.rs   | storage/ipc/procarray.c, utils/activity/backend_status.c |
//! | bgworker.rs   | postmaster/walwriter.c, postmaster/checkpointer.c |
//! | walsender.rs  | replication/walsender.c |
//! | walsenders.rs | WalSndCtl, pg_stat_get_wal_senders (walsender.c) |
//! | slots.rs      | replication/slot.c, slotfuncs.c (server side) |
//! | settings.rs   | unit parsing of utils/misc/guc.c |
//! | apply/        | replication/logical/launcher.c, worker.c, tablesync.c |

mod apply;
mod auth;
pub mod basebackup;
mod bgworker;
mod connection;
pub mod hba;
mod listen;
mod logical;
mod pidfile;
mod postmaster;
mod registry;
pub mod replclient;
mod settings;
mod sink;
mod slots;
mod stream;
mod subscription_remote;
mod tls;
mod walreceiver;
mod walsender;
mod walsender_physical;
mod walsenders;

use std::path::Path;

use tandem_types::PgResult;

pub use postmaster::{ServerHandle, ShutdownMode};

/// Runs the server in the foreground until shutdown (SIGTERM smart, SIGINT fast,
/// SIGQUIT immediate; SIGHUP reloads). `overrides` are `-c name=value` options.
/// Writes `postmaster.pid` (refusing to start if a live server holds it), opens
/// the database (crash recovery), listens, and logs `database system is ready to
/// accept connections`. A startup failure is logged as FATAL here and returned.
/// After an immediate shutdown the caller should exit the process promptly:
/// session threads were told to stop but are not waited for.
pub fn run(datadir: &Path, overrides: Vec<(String, String)>) -> PgResult<()> {
    postmaster::run(datadir, overrides)
}
