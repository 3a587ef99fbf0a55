//! The node: every thread of a running tandem server. Folders and files are
//! named after PostgreSQL's processes and concepts, so a reader who knows
//! PostgreSQL finds each one where its name says:
//!
//! | module | what it is | PostgreSQL |
//! |---|---|---|
//! | `postmaster/` | startup order, accept loop, signals, reload, shutdown; `backend_startup.rs` turns an accepted socket into a backend or a walsender; `bgworker.rs` the walwriter and checkpointer; `listen.rs`, `pidfile.rs` | `postmaster/postmaster.c`, `backend_startup.c`, `walwriter.c`, `checkpointer.c`, `libpq/pqcomm.c`, `utils/init/miscinit.c` |
//! | `backend/` | one client connection: startup packet and authentication (`startup.rs`, `hba.rs`, `auth.rs`, `tls.rs`), the query loop (`postgres.rs`), sockets and framing (`pqcomm.rs`), rows and COPY out (`printtup.rs`) | `backend_startup.c`, `postinit.c`, `tcop/postgres.c`, `libpq/*`, `printtup.c` |
//! | `walsender/` | replication connections: commands, physical and logical streaming over one CopyBoth loop, BASE_BACKUP, the walsender array (`walsndctl.rs`) | `replication/walsender.c`, `basebackup.c` |
//! | `walreceiver.rs` | a standby's connection to its primary | `replication/walreceiver.c` |
//! | `startup.rs` | a standby's replay thread and promotion | `postmaster/startup.c`, `xlogrecovery.c` |
//! | `slot/` | replication slots in the server: retention, physical and logical slots, decoding through the SQL functions | `replication/slot.c`, `logical/logical.c`, `logicalfuncs.c` |
//! | `subscription/` | the launcher, apply workers, table copies, publisher-side subscription calls | `replication/logical/launcher.c`, `worker.c`, `tablesync.c` |
//! | `procarray.rs` | live backends: virtual pids, cancel keys, terminate, `pg_stat_activity` | `storage/ipc/procarray.c`, `backend_status.c` |
//! | `sqlfuncs.rs` | the server side of SQL functions and views (`ServerHooks`) | `slotfuncs.c`, `walreceiverfuncs.c`, `pgstatfuncs.c` |
//! | `shared.rs` | what every thread shares | shared memory (`storage/ipc/ipci.c`) |
//! | `demote.rs` | `tandem_demote()`: a primary restarts in place as a standby | (none: PostgreSQL has no demote) |
//!
//! Where the server is a client of another server (the walreceiver, apply
//! workers and table copies, the publisher side of subscription commands) it
//! connects through the `tandem-client` crate, as PostgreSQL's backends reach
//! libpq through `libpqwalreceiver`; so does `tandem basebackup`.
//!
//! Process model: one OS thread per client connection with blocking I/O, like
//! PostgreSQL's process per backend. The life of a connection:
//!
//! ```text
//! postmaster::Postmaster::serve        poll listeners, accept, spawn a thread
//!   postmaster::backend_startup::serve register in the procarray (virtual pid, cancel key)
//!     backend::startup::read_startup   SSLRequest -> 'S' + TLS / 'N', GSSENC -> 'N',
//!                                      CancelRequest -> procarray, StartupMessage
//!     backend::startup::authenticate   hba::find -> auth::authenticate (SCRAM...)
//!                                      -> AuthenticationOk, role checks
//!     Session::new                     (tandem-sql) ParameterStatus, BackendKeyData
//!     backend::postgres::QueryLoop     simple + extended protocol, COPY
//!   or walsender::run                  replication=... connections
//! ```
//!
//! Import order (no cycles): `shared`, `procarray` and `backend::pqcomm` are
//! leaves that the rest uses; `postmaster` sits on top and starts everything.

mod backend;
mod demote;
mod latch;
mod postmaster;
mod procarray;
mod shared;
mod slot;
mod sqlfuncs;
mod startup;
mod subscription;
#[cfg(test)]
mod test_support;
mod walreceiver;
mod walsender;

use std::path::Path;

use tandem_types::PgResult;

pub use postmaster::ServerHandle;
pub use shared::ShutdownMode;

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
