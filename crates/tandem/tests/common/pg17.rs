//! Real PostgreSQL 17 nodes for interoperability tests (tandem publishing to
//! a PostgreSQL subscriber and the other way round).
//!
//! A [`PgNode`] is `initdb`ed (`-U postgres --auth=trust`) into a temporary
//! directory with a port chosen at run time, listening on 127.0.0.1 only
//! with Unix sockets off, started with `pg_ctl` (log in the data directory)
//! and stopped with `pg_ctl -m immediate` when dropped, so a failing test
//! never leaves a server behind. PostgreSQL refuses to run as root: as root
//! every server program runs as the unprivileged user `pgref` (created with
//! `useradd --system --no-create-home` if missing) through `runuser`, and
//! the temporary directory is made reachable by that user.
//!
//! PostgreSQL is found through `PG17_BIN` or in `/opt/pgref/17/bin`
//! (`scripts/install-pg17.sh`). [`require_pg17`] tells a test whether it
//! can run: without PostgreSQL 17 it prints a SKIP line, except in CI (`CI`
//! set) where it panics, as [`super::require_program`] does.
//!
//! [`SqlNode`] abstracts over tandem's [`super::Node`] and [`PgNode`] for
//! the helpers comparing tables and waiting for query results on either.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{free_port, Node, DEADLINE};

/// The unprivileged OS user PostgreSQL runs as when the tests run as root.
pub const PG_USER: &str = "pgref";

/// Where PostgreSQL 17's programs are: `PG17_BIN`, else `/opt/pgref/17/bin`;
/// `None` unless `postgres`, `initdb`, `pg_ctl` and `psql` are all there.
pub fn pg17_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("PG17_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/pgref/17/bin"));
    ["postgres", "initdb", "pg_ctl", "psql"]
        .iter()
        .all(|p| dir.join(p).is_file())
        .then_some(dir)
}

/// Whether PostgreSQL 17 tests can run. Without it: panics in CI (`CI`
/// set), otherwise prints a SKIP line and returns false.
pub fn require_pg17(test: &str) -> bool {
    if pg17_bin().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: PostgreSQL 17 is required in CI (PG17_BIN or /opt/pgref/17/bin; \
             scripts/install-pg17.sh installs it)"
        );
    }
    eprintln!("SKIP {test}: PostgreSQL 17 not found (set PG17_BIN or run scripts/install-pg17.sh)");
    false
}

fn running_as_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `(uid, gid)` of `user`, if it exists.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(user).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// As root: the ids of [`PG_USER`], creating the user first if needed.
fn server_user() -> (u32, u32) {
    static CREATE: Mutex<()> = Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ids) = user_ids(PG_USER) {
        return ids;
    }
    let out = Command::new("useradd")
        .args(["--system", "--no-create-home", PG_USER])
        .output()
        .expect("run useradd");
    // 9: the user exists (created by someone else meanwhile)
    assert!(
        out.status.success() || out.status.code() == Some(9),
        "useradd {PG_USER} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    user_ids(PG_USER).unwrap_or_else(|| panic!("user {PG_USER} missing after useradd"))
}

/// A PostgreSQL 17 node in a temporary directory.
pub struct PgNode {
    pub name: String,
    _tmp: tempfile::TempDir,
    pub datadir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    running: bool,
}

impl PgNode {
    /// `initdb -U postgres --auth=trust` into a fresh temporary directory,
    /// then `postgresql.conf` gets port, `listen_addresses = '127.0.0.1'`,
    /// `unix_socket_directories = ''` and `settings` (`name = value` lines,
    /// values written as given: quote strings yourself). Not started.
    pub fn init(name: &str, settings: &[(&str, &str)]) -> PgNode {
        let bin = pg17_bin().expect("PostgreSQL 17 not found (check require_pg17 first)");
        let tmp = tempfile::Builder::new()
            .prefix(&format!("pg17-{name}-"))
            .tempdir_in("/tmp")
            .expect("tempdir");
        let datadir = tmp.path().join("data");
        fs::create_dir(&datadir).expect("create data dir");
        fs::set_permissions(&datadir, fs::Permissions::from_mode(0o700)).expect("chmod data");
        if running_as_root() {
            let (uid, gid) = server_user();
            // the server user must reach the data directory inside our tempdir
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))
                .expect("chmod tempdir");
            std::os::unix::fs::chown(&datadir, Some(uid), Some(gid)).expect("chown data dir");
        }
        let node = PgNode {
            name: name.to_string(),
            _tmp: tmp,
            datadir,
            port: free_port(),
            bin,
            running: false,
        };
        let out = node
            .server_command("initdb")
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C")
            .arg("-D")
            .arg(&node.datadir)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb of {name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
            node.port
        );
        for (k, v) in settings {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        node.append_conf(&conf);
        node
    }

    /// A PostgreSQL server program, run as [`PG_USER`] when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_USER, "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// Appends lines to `postgresql.conf` (takes effect at the next start or
    /// `SELECT pg_reload_conf()` for reloadable settings).
    pub fn append_conf(&self, text: &str) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.datadir.join("postgresql.conf"))
            .expect("open postgresql.conf");
        writeln!(f, "{text}").expect("append postgresql.conf");
    }

    pub fn log_path(&self) -> PathBuf {
        self.datadir.join("server.log")
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts the server (`pg_ctl start`, no wait) and polls until it
    /// answers `SELECT 1`; panics with the log after [`DEADLINE`].
    pub fn start(&mut self) {
        assert!(!self.running, "node {} already started", self.name);
        let out = self
            .server_command("pg_ctl")
            .arg("start")
            .arg("-W")
            .arg("-D")
            .arg(&self.datadir)
            .arg("-l")
            .arg(self.log_path())
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start of {} failed: {}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        self.running = true;
        // postmaster.pid's 8th line says "ready" once connections are
        // accepted (what `pg_ctl -w` waits for); polling it does not leave
        // "the database system is starting up" in the log as connecting does.
        let pidfile = self.datadir.join("postmaster.pid");
        let end = Instant::now() + DEADLINE;
        loop {
            let ready = fs::read_to_string(&pidfile)
                .map(|t| t.lines().nth(7).map(str::trim) == Some("ready"))
                .unwrap_or(false);
            if ready && self.psql("SELECT 1").status.success() {
                return;
            }
            if Instant::now() > end {
                panic!(
                    "timed out waiting for PostgreSQL node {} to accept connections; log:\n{}",
                    self.name,
                    self.log()
                );
            }
            if !pidfile.exists() && self.log().contains("FATAL") {
                panic!(
                    "PostgreSQL node {} failed to start:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `pg_ctl stop -m <mode>` (`fast`, `immediate`), waiting for the exit.
    pub fn stop_mode(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        self.running = false;
        let out = self
            .server_command("pg_ctl")
            .args(["stop", "-w", "-t", "60", "-m", mode, "-D"])
            .arg(&self.datadir)
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!(
                    "pg_ctl stop of {} failed: {}",
                    self.name,
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
    }

    /// Fast shutdown.
    pub fn stop(&mut self) {
        self.stop_mode("fast");
    }

    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// A tokio-postgres connection as `postgres`.
    pub async fn connect(&self) -> tokio_postgres::Client {
        super::connect(&self.conninfo())
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name))
    }

    /// PostgreSQL 17's `psql -X -A -t -v ON_ERROR_STOP=1 -c sql`.
    pub fn psql(&self, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .expect("run psql")
    }

    /// [`PgNode::psql`]'s stdout; panics (with the server log) on failure.
    pub fn safe_psql(&self, sql: &str) -> String {
        let out = self.psql(sql);
        assert!(
            out.status.success(),
            "psql failed on {}: {}\n{}\nlog:\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            sql,
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// Data directory path as a string.
    pub fn datadir_str(&self) -> String {
        path_string(&self.datadir)
    }
}

fn path_string(p: &Path) -> String {
    p.display().to_string()
}

impl Drop for PgNode {
    fn drop(&mut self) {
        self.stop_mode("immediate");
    }
}

/// A node SQL can be run on: tandem's [`Node`] or a [`PgNode`].
pub trait SqlNode {
    fn node_name(&self) -> &str;
    /// Runs `sql` with psql (unaligned, tuples only); panics on failure.
    fn run_sql(&self, sql: &str) -> String;
    /// The server log so far.
    fn server_log(&self) -> String;
}

impl SqlNode for Node {
    fn node_name(&self) -> &str {
        &self.name
    }
    fn run_sql(&self, sql: &str) -> String {
        self.safe_psql(sql)
    }
    fn server_log(&self) -> String {
        self.log()
    }
}

impl SqlNode for PgNode {
    fn node_name(&self) -> &str {
        &self.name
    }
    fn run_sql(&self, sql: &str) -> String {
        self.safe_psql(sql)
    }
    fn server_log(&self) -> String {
        self.log()
    }
}

/// `SELECT * FROM <table> ORDER BY <key>` as psql text on `node`.
pub fn table_contents(node: &dyn SqlNode, table: &str, key: &str) -> String {
    node.run_sql(&format!("SELECT * FROM {table} ORDER BY {key}"))
}

/// Panics unless `table` has the same rows (psql's text of every column,
/// ordered by `key`) on both nodes, naming the first difference.
pub fn assert_tables_equal(a: &dyn SqlNode, b: &dyn SqlNode, table: &str, key: &str) {
    let ta = table_contents(a, table, key);
    let tb = table_contents(b, table, key);
    if ta == tb {
        return;
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
    let first = la
        .iter()
        .zip(lb.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    panic!(
        "table {table} differs between {} ({} rows) and {} ({} rows); first difference at row {first}: {:?} vs {:?}",
        a.node_name(),
        la.len(),
        b.node_name(),
        lb.len(),
        la.get(first),
        lb.get(first)
    );
}

/// Polls until `table` is equal on both nodes; panics after `deadline` with
/// the difference and both logs.
pub fn wait_tables_equal(
    a: &dyn SqlNode,
    b: &dyn SqlNode,
    table: &str,
    key: &str,
    deadline: Duration,
) {
    let end = Instant::now() + deadline;
    loop {
        if table_contents(a, table, key) == table_contents(b, table, key) {
            return;
        }
        if Instant::now() > end {
            eprintln!("log of {}:\n{}", a.node_name(), a.server_log());
            eprintln!("log of {}:\n{}", b.node_name(), b.server_log());
            assert_tables_equal(a, b, table, key);
            panic!("timed out waiting for {table} to match");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `sql` on `node` until it returns `expected`; panics after
/// `deadline` with the last answer and the node's log.
pub fn wait_for_result(node: &dyn SqlNode, sql: &str, expected: &str, deadline: Duration) {
    let end = Instant::now() + deadline;
    loop {
        let got = node.run_sql(sql);
        if got == expected {
            return;
        }
        if Instant::now() > end {
            panic!(
                "timed out after {deadline:?} waiting for {sql:?} on {} to return {expected:?} (last: {got:?}); log:\n{}",
                node.node_name(),
                node.server_log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ERROR`/`FATAL`/`PANIC` lines of a server log, minus those matching one
/// of `allowed` (substrings).
pub fn log_errors(log: &str, allowed: &[&str]) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("ERROR:") || l.contains("FATAL:") || l.contains("PANIC:"))
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .map(str::to_string)
        .collect()
}
