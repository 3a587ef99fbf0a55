//! `tandem`: the command-line entry point, modelled on PostgreSQL's tools.
//!
//! | subcommand | PostgreSQL tool |
//! | --- | --- |
//! | `initdb -D DIR` | `initdb` |
//! | `server -D DIR` | `postgres -D DIR` (foreground) |
//! | `basebackup -d CONNINFO -D DIR` | `pg_basebackup` |
//! | `start` / `stop` / `restart` / `status` / `reload` / `promote` | `pg_ctl` |
//! | `demo` | (none: failover logical replication shown end to end on loopback) |
//! | `check-failover --standby CONNINFO [--subscriber CONNINFO ...]` | (none: the failover-readiness queries of PostgreSQL's documentation, run for you) |
//! | `switchover --primary CONNINFO --standby CONNINFO [--subscriber CONNINFO ...]` | (none: PostgreSQL's manual switchover, with zero loss, as one command) |
//!
//! Each subcommand lives in its own module; `ctl.rs` (the pg_ctl part) is the one
//! to read first. Exit codes follow pg_ctl: 0 success, 1 failure, 3 for `status`
//! when no server runs; `check-failover` exits 1 when something is not ready
//! and 2 when a server cannot be reached; `switchover` exits 1 when it
//! refuses (nothing changed) and 2 when it fails after the demote started.

mod basebackup;
mod check_failover;
mod ctl;
mod demo;
mod initdb;
mod switchover;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tandem",
    version,
    about = "A PostgreSQL-compatible server whose logical replication survives failover"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new data directory (like initdb).
    Initdb(initdb::InitdbArgs),
    /// Run the server in the foreground (like postgres -D).
    Server {
        #[arg(short = 'D', long = "pgdata")]
        datadir: PathBuf,
        /// Port to listen on (overrides postgresql.conf).
        #[arg(short = 'p', long)]
        port: Option<u16>,
        /// Set a run-time parameter, name=value (repeatable).
        #[arg(short = 'c', value_name = "NAME=VALUE")]
        settings: Vec<String>,
    },
    /// Start the server in the background and wait (unless -W) until it
    /// accepts connections.
    Start(ctl::StartArgs),
    /// Stop a running server.
    Stop(ctl::StopArgs),
    /// Stop, then start again.
    Restart(ctl::StartArgs),
    /// Tell whether a server runs on the data directory.
    Status {
        #[arg(short = 'D', long = "pgdata")]
        datadir: PathBuf,
    },
    /// Take a base backup of a running server (like pg_basebackup).
    Basebackup(basebackup::BasebackupArgs),
    /// Promote a standby to a primary (like pg_ctl promote).
    Promote(ctl::PromoteArgs),
    /// Make the server reload its configuration files (SIGHUP).
    Reload {
        #[arg(short = 'D', long = "pgdata")]
        datadir: PathBuf,
    },
    /// Show failover logical replication on loopback: primary, synchronous
    /// standby and subscriber, a write load, a killed primary, promotion,
    /// and a check that nothing was lost or applied twice.
    Demo(demo::DemoArgs),
    /// Check that a standby is ready to take over its primary's failover
    /// logical replication slots (exit 0 ready, 1 not ready, 2 error).
    CheckFailover(check_failover::CheckFailoverArgs),
    /// Planned switchover with zero loss: the primary becomes a standby of
    /// its standby, which is promoted; failover subscriptions follow
    /// (exit 0 done, 1 refused with nothing changed, 2 failed midway).
    Switchover(switchover::SwitchoverArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Initdb(args) => initdb::run(args),
        Command::Server {
            datadir,
            port,
            settings,
        } => run_server(datadir, port, settings),
        Command::Start(args) => return ctl::report(ctl::start(&args)),
        Command::Stop(args) => return ctl::report(ctl::stop(&args)),
        Command::Restart(args) => return ctl::report(ctl::restart(&args)),
        Command::Status { datadir } => return ctl::status(&datadir),
        Command::Reload { datadir } => return ctl::report(ctl::reload(&datadir)),
        Command::Promote(args) => return ctl::report(ctl::promote(&args)),
        Command::Basebackup(args) => basebackup::run(args),
        Command::Demo(args) => return demo::run(args),
        Command::CheckFailover(args) => return check_failover::run(args),
        Command::Switchover(args) => return switchover::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `-c name=value` options.
pub fn parse_settings(settings: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    settings
        .iter()
        .map(|s| {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("-c {s} requires a value (name=value)"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn run_server(datadir: PathBuf, port: Option<u16>, settings: Vec<String>) -> anyhow::Result<()> {
    // Work with an absolute path: the server resolves pg_hba.conf, pg_wal and
    // friends against it, and logs it.
    let datadir = std::fs::canonicalize(&datadir).map_err(|e| {
        anyhow::anyhow!("could not access directory \"{}\": {e}", datadir.display())
    })?;
    let mut overrides = parse_settings(&settings)?;
    if let Some(p) = port {
        overrides.push(("port".into(), p.to_string()));
    }
    // The server logs its own FATAL line; only the exit status is left to set.
    tandem_server::run(&datadir, overrides).map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// The allocator of every tandem process: jemalloc, which keeps freed
/// blocks of up to 32 KiB in a cache of the freeing thread where glibc's
/// malloc merges each freed chunk over 1 KiB with its neighbours under the
/// arena's lock (a tenth of a sequential scan went to freeing the block
/// cache's evicted blocks), and which gives freed memory back to the system
/// on its own (docs/storage.md, "Memory allocator").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its first allocation: one arena per CPU (a
/// thread allocates from the arena of the CPU it runs on, so the arenas'
/// memory does not grow with the number of backends), and a background
/// thread that returns pages freed for 200 ms to the system, so a large
/// transaction's memory goes back soon after the store has it, as
/// `malloc_trim` does for glibc.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] =
    b"background_thread:true,percpu_arena:percpu,dirty_decay_ms:200,muzzy_decay_ms:0\0";
