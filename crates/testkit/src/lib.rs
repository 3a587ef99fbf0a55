//! End-to-end test kit: real server processes on loopback, driven the way
//! PostgreSQL's TAP suites drive theirs (`PostgreSQL::Test::Cluster`).
//!
//! # Nodes
//!
//! A [`Node`] is one database server owned by the test: a data directory in a
//! fresh temporary directory, a TCP port, and (while it runs) a child process
//! whose standard output and error go to `server.log` in the data directory.
//! A node is either a tandem server or a real PostgreSQL 17 server; both have
//! the same methods, so a function written for one works on the other (tables
//! compared across a tandem publisher and a PostgreSQL subscriber, a wait
//! for a query result on either).
//!
//! # Vocabulary
//!
//! The names follow the TAP suites:
//!
//! - [`Node::init`] / [`Node::init_with`] run `tandem initdb`;
//!   [`Node::init_pg17`] runs PostgreSQL's `initdb` (`-U postgres
//!   --auth=trust`). Neither starts the server.
//! - [`Node::basebackup`] makes a new tandem node from a running one
//!   (`tandem basebackup`); [`Node::streaming_primary`] and [`Node::standby`]
//!   are the usual primary + standby pair built on it.
//! - [`Node::append_conf`] appends lines to `postgresql.conf`; they take
//!   effect at the next start, or at `SELECT pg_reload_conf()` for reloadable
//!   settings.
//! - [`Node::start`] spawns the server and returns once `postmaster.pid` says
//!   `ready`; [`Node::stop`] is a fast shutdown (SIGINT), [`Node::stop_smart`]
//!   a smart one (SIGTERM), [`Node::kill9`] a crash (SIGKILL, no shutdown
//!   checkpoint), [`Node::restart`] a stop then a start.
//! - [`Node::psql`] runs `psql -X -A -t -v ON_ERROR_STOP=1 -c SQL` and returns
//!   its output; [`Node::safe_psql`] returns stdout and panics (with the
//!   server log) when psql fails. [`Node::connect`] opens a tokio-postgres
//!   connection for tests that need the extended protocol or COPY.
//! - [`wait_for`] polls a condition until it holds or a deadline passes; the
//!   condition has a name, and a timeout panics with "timed out after ...
//!   waiting for NAME", never with a bare assertion. [`wait_for_result`] (and
//!   [`wait_value`], the same with [`DEADLINE`]) waits for a query to return
//!   a given text; [`wait_tables_equal`] waits for a table to have the same
//!   rows on two nodes. No test sleeps for a fixed time and hopes.
//!
//! # Cleanup
//!
//! A node's process stops when the [`Node`] is dropped, which also happens
//! while a failing test unwinds: a tandem server gets SIGKILL, a PostgreSQL
//! server an immediate shutdown (SIGQUIT, then SIGKILL if it lingers), the
//! child is reaped, and the temporary directory is removed. A failed test
//! never leaves a server or a data directory behind.
//!
//! # Network
//!
//! Nodes listen on 127.0.0.1 only, with Unix-domain sockets off
//! (`unix_socket_directories = ''`). Ports are chosen at run time
//! ([`free_port`]), so tests run in parallel and beside other servers on
//! the machine.
//!
//! # Programs
//!
//! - tandem: [`tandem_bin`] finds the `tandem` executable: `TANDEM_BIN` if
//!   set, else `CARGO_BIN_EXE_tandem` if set at run time, else the `tandem`
//!   beside the running program in cargo's target directory
//!   (`target/<profile>/tandem`, also from `target/<profile>/deps/`). The
//!   tandem crate's integration tests always find it there: cargo builds a
//!   package's binaries before its integration tests. Other users (a demo, a
//!   fault runner) either build `-p tandem` into the same target directory
//!   or pass a path to [`Node::init_tandem`].
//! - PostgreSQL 17: one environment variable, `PG17_BIN`, names its `bin`
//!   directory; the default is [`PG17_BIN_DEFAULT`] (`/opt/pgref/17/bin`),
//!   where `scripts/install-pg17.sh` installs it. [`require_pg17`] and
//!   [`require_pg17_program`] tell a test whether it can run: without
//!   PostgreSQL 17 they print a SKIP line, except in CI (`CI` set) where they
//!   panic. PostgreSQL refuses to run as root; as root its server programs
//!   run as the unprivileged user [`PG_USER`] (created if missing).
//! - psql, pgbench: from `PATH` for tandem nodes, PostgreSQL 17's own for
//!   PostgreSQL nodes; [`require_program`] skips (or fails in CI) when a
//!   client is missing.
//!
//! # Failover
//!
//! [`failover`] holds the nodes of failover tests: [`Node::logical_primary`],
//! [`Node::failover_standby`] / [`Node::syncing_standby`] (slot sync off or
//! on), [`Node::subscriber`], [`Node::promote`], and the waits on rows, on
//! a synced slot following its source and on subscription tables.
//!
//! # Golden SQL scripts
//!
//! [`golden`] runs a directory of `.sql` scripts through the real psql
//! against fresh nodes and compares their masked output with outputs
//! recorded from PostgreSQL 17 (`scripts/record-golden.sh`);
//! [`golden_tests!`] declares one test per script.
//! [`pyclients`] finds the Python with psycopg and SQLAlchemy that the
//! client-program tests run against tandem and PostgreSQL 17 alike.
//!
//! # Example
//!
//! ```no_run
//! use tandem_testkit::{wait_value, Node};
//!
//! let primary = Node::streaming_primary("example-primary");
//! primary.safe_psql("CREATE TABLE t (id int PRIMARY KEY)");
//! let mut standby = Node::standby("example-standby", &primary, "s1");
//! standby.start();
//! primary.safe_psql("INSERT INTO t VALUES (1), (2)");
//! wait_value(&standby, "SELECT count(*) FROM t", "2");
//! ```

pub mod bench;
mod cluster;
pub mod failover;
pub mod golden;
mod node;
pub mod pg17;
pub mod proxy;
pub mod pyclients;
pub mod tls;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

pub use cluster::{
    assert_tables_equal, log_errors, table_contents, wait_for_replay, wait_for_result,
    wait_tables_equal, wait_value,
};
pub use node::{tandem_bin, Kind, Node};
pub use pg17::{
    pg17_bin, pg17_bin_dir, pg17_program, pg_recvlogical, require_pg17, require_pg17_program,
    PG17_BIN_DEFAULT, PG_USER,
};

/// Default deadline for waits in tests.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Picks a free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Polls `cond` every 20 ms until it returns `Some`, or panics naming `what`
/// once `deadline` has passed.
pub fn wait_for<T>(what: &str, deadline: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Connects with tokio-postgres and drives the connection on the current
/// tokio runtime.
pub async fn connect(conninfo: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The SQLSTATE of a tokio-postgres error, if it came from the server.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.as_db_error().map(|d| d.code().code().to_string())
}

/// The message of a server error (the client error's text otherwise).
pub fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

/// Whether `name` is a program on `PATH`.
pub fn have_program(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether a client program is on `PATH`. Without it: panics in CI (`CI`
/// set), otherwise prints a skip line and returns false.
pub fn require_program(name: &str) -> bool {
    if have_program(name) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{name} is required in CI but not installed");
    }
    eprintln!("skipping: {name} not installed");
    false
}
