//! `tandem_demote(primary_conninfo text, primary_slot_name text)`: a primary
//! turns itself into a standby of another server, in place. PostgreSQL has
//! no demote; its manual switchover stops the primary (`pg_ctl stop -m
//! fast`), writes `standby.signal` and `primary_conninfo` by hand and starts
//! it again. This is the same, done by the server on request, so that a tool
//! holding only connection strings (`tandem switchover`) can do it.
//!
//! What the function does, in this order (superuser only, on a primary):
//!
//! 1. checks its arguments (the connection string parses, the slot name is a
//!    valid replication slot name) and that no shutdown is under way;
//! 2. writes `primary_conninfo`, `primary_slot_name`, `hot_standby_feedback =
//!    on` and `sync_replication_slots = on` into `postgresql.auto.conf`, as
//!    ALTER SYSTEM does (`Config::alter_system`), then `standby.signal`
//!    (fsynced): from here on, any restart of the data directory is a
//!    standby's, even after a crash;
//! 3. raises the demote and fast shutdown flags, sets the postmaster's latch
//!    (its poll wakes and starts the shutdown at once) and returns `true`.
//!    The calling session was marked first to end right after its reply
//!    (`BackendEntry::end_after_reply`): the shutdown does not interrupt it,
//!    so the caller gets its `true`, then ReadyForQuery, then `FATAL 57P01`.
//!
//! The postmaster then performs an ordinary fast shutdown (sessions end,
//! logical walsenders send what is left -- failover slots' only what the
//! `synchronized_standby_slots` have --, the last SLOT_STATE record, the
//! shutdown checkpoint, physical walsenders wait for their standby's flush
//! of it; `postmaster/mod.rs`). When that shutdown completed cleanly, the
//! postmaster keeps `postmaster.pid` (the process is the same, so is the PID
//! in it) and [`reexec`] replaces the process image with a fresh start of
//! the same command line: the server comes back in the same data directory
//! as a standby. The new image finds `postmaster.pid` naming its own PID,
//! which is never a live rival, and rewrites it (`postmaster/pidfile.rs`).
//! A server running inside another program ([`crate::ServerHandle`])
//! restarts on its thread instead.
//!
//! An immediate shutdown requested during the demote ends the server
//! without a restart; the next start is a standby's (`standby.signal`).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tandem_config::Config;
use tandem_types::elog::log;
use tandem_types::{PgError, PgResult, SqlState};

/// The settings a demoted server restarts with, besides its upstream.
const STANDBY_SETTINGS: [(&str, &str); 2] = [
    ("hot_standby_feedback", "on"),
    ("sync_replication_slots", "on"),
];

/// The postmaster flags `tandem_demote()` raises.
#[derive(Clone)]
pub(crate) struct Trigger {
    /// The server restarts as a standby once the fast shutdown completed.
    pub demote: Arc<AtomicBool>,
    /// What SIGINT raises.
    pub fast: Arc<AtomicBool>,
    /// What SIGTERM and SIGQUIT raise (a shutdown already under way).
    pub smart: Arc<AtomicBool>,
    pub immediate: Arc<AtomicBool>,
    /// The postmaster's latch: set after the flags, so it starts the
    /// shutdown at once.
    pub wake: Arc<crate::latch::Latch>,
    /// Where `standby.signal` goes.
    pub datadir: PathBuf,
}

/// `tandem_demote(primary_conninfo, primary_slot_name)`; `in_recovery` is
/// the server's state. Permission is the caller's to check.
pub(crate) fn request(
    trigger: &Trigger,
    config: &Config,
    in_recovery: bool,
    primary_conninfo: &str,
    primary_slot_name: &str,
) -> PgResult<()> {
    if in_recovery {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "recovery is in progress",
        )
        .with_hint("A standby cannot be demoted."));
    }
    let flags = [
        &trigger.demote,
        &trigger.fast,
        &trigger.smart,
        &trigger.immediate,
    ];
    if flags.iter().any(|f| f.load(Ordering::SeqCst)) {
        return Err(PgError::new(
            SqlState("57P03"),
            "the database system is shutting down",
        ));
    }
    if primary_conninfo.trim().is_empty() {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "primary_conninfo must not be empty",
        ));
    }
    tandem_client::conninfo::parse_conninfo(primary_conninfo)?;
    if !primary_slot_name.is_empty() {
        tandem_replication::slot::validate_name(primary_slot_name)?;
    }
    config.alter_system("primary_conninfo", Some(primary_conninfo))?;
    config.alter_system("primary_slot_name", Some(primary_slot_name))?;
    for (name, value) in STANDBY_SETTINGS {
        config.alter_system(name, Some(value))?;
    }
    write_standby_signal(&trigger.datadir.join("standby.signal"))?;
    log(&format!(
        "demote requested: restarting as a standby after a fast shutdown (primary_slot_name \"{primary_slot_name}\")"
    ));
    trigger.demote.store(true, Ordering::SeqCst);
    trigger.fast.store(true, Ordering::SeqCst);
    trigger.wake.set();
    Ok(())
}

/// Creates `standby.signal` (empty) and makes it durable.
fn write_standby_signal(path: &std::path::Path) -> PgResult<()> {
    let io = |e: std::io::Error| {
        PgError::new(
            SqlState::IO_ERROR,
            format!("could not create file \"{}\": {e}", path.display()),
        )
    };
    let f = std::fs::File::create(path).map_err(io)?;
    f.sync_all().map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Replaces this process with a fresh start of its own command line (same
/// executable, arguments, environment, working directory, PID, and the
/// standard output and error it inherited). Returns only on failure.
pub(crate) fn reexec() -> PgError {
    log("demote: shutdown complete, restarting as a standby");
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            return PgError::fatal(
                SqlState::INTERNAL_ERROR,
                format!("could not find the server executable: {e}"),
            )
        }
    };
    let err = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    PgError::fatal(
        SqlState::INTERNAL_ERROR,
        format!(
            "could not execute server process \"{}\": {err}",
            exe.display()
        ),
    )
}
