//! [`Node`]: one tandem or PostgreSQL 17 server in a temporary directory,
//! owned by the test that made it.
//!
//! Both kinds are a child process of the test (`tandem server -D DIR` or
//! `postgres -D DIR`) with its output in `DIR/server.log`, readiness read
//! from `DIR/postmaster.pid` (eighth line `ready`, as `pg_ctl -w` reads it),
//! and shutdowns sent as signals to that child, so init / start / stop /
//! kill9 / psql are written once for both.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::pg17::{self, pg17_bin, running_as_root, server_command, server_user};
use crate::{free_port, DEADLINE};

/// Which server a [`Node`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `tandem server`.
    Tandem,
    /// PostgreSQL 17's `postgres`.
    Postgres17,
}

/// One server: a data directory in a temporary directory, a port on
/// 127.0.0.1, and the server process while it runs. Dropping it stops the
/// process and removes the directory.
pub struct Node {
    pub name: String,
    pub datadir: PathBuf,
    pub port: u16,
    kind: Kind,
    /// tandem: the `tandem` executable; PostgreSQL: its `bin` directory.
    bin: PathBuf,
    child: Option<Child>,
    // Declared last: removed after `Drop::drop` has stopped the server.
    _tmp: tempfile::TempDir,
}

/// The `tandem` executable: `TANDEM_BIN` if set, else `CARGO_BIN_EXE_tandem`
/// if set at run time, else `tandem` in the running program's directory or
/// its parent (cargo's `target/<profile>/`, seen from `target/<profile>/` or
/// `target/<profile>/deps/`). Panics, saying how to provide it, if none is
/// there.
pub fn tandem_bin() -> PathBuf {
    for var in ["TANDEM_BIN", "CARGO_BIN_EXE_tandem"] {
        if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(p);
        }
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current executable: {e}"));
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("tandem"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no tandem executable beside {}: build it into the same target directory \
                 (cargo build -p tandem, with the same profile) or set TANDEM_BIN",
                exe.display()
            )
        })
}

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("create a temporary directory: {e}"))
}

impl Node {
    /// `tandem initdb` into a fresh temporary directory, listening on a free
    /// port of 127.0.0.1 only, with no Unix socket. Not started.
    pub fn init(name: &str) -> Node {
        Node::init_with(name, &[])
    }

    /// [`Node::init`] with more `tandem initdb` arguments.
    pub fn init_with(name: &str, extra_initdb_args: &[&str]) -> Node {
        Node::init_tandem(tandem_bin(), name, extra_initdb_args)
    }

    /// [`Node::init_with`] for the `tandem` executable at `bin`.
    pub fn init_tandem(bin: impl Into<PathBuf>, name: &str, extra_initdb_args: &[&str]) -> Node {
        let bin = bin.into();
        let tmp = tempdir(&format!("tandem-{name}-"));
        let datadir = tmp.path().join("data");
        let port = free_port();
        let out = Command::new(&bin)
            .arg("initdb")
            .arg("-D")
            .arg(&datadir)
            .arg("--port")
            .arg(port.to_string())
            .args(extra_initdb_args)
            .output()
            .unwrap_or_else(|e| panic!("run {} initdb: {e}", bin.display()));
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let node = Node {
            name: name.to_string(),
            datadir,
            port,
            kind: Kind::Tandem,
            bin,
            child: None,
            _tmp: tmp,
        };
        node.append_conf("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n");
        node
    }

    /// PostgreSQL 17's `initdb -U postgres --auth=trust` into a fresh
    /// temporary directory under `/tmp`; `postgresql.conf` then gets the
    /// port, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = ''`
    /// and `settings` (`name = value` lines, values written as given: quote
    /// strings yourself). Not started. Check [`crate::require_pg17`] first.
    pub fn init_pg17(name: &str, settings: &[(&str, &str)]) -> Node {
        let bin = pg17_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL 17 not found in {} (check require_pg17 first)",
                pg17::pg17_bin_dir().display()
            )
        });
        // under /tmp: TMPDIR may be a place the server user cannot reach
        let tmp = tempfile::Builder::new()
            .prefix(&format!("pg17-{name}-"))
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("create a temporary directory: {e}"));
        let datadir = tmp.path().join("data");
        let chmod = |p: &Path, mode: u32| {
            fs::set_permissions(p, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()))
        };
        fs::create_dir(&datadir).unwrap_or_else(|e| panic!("create {}: {e}", datadir.display()));
        chmod(&datadir, 0o700);
        if running_as_root() {
            let (uid, gid) = server_user();
            // the server user must reach the data directory inside our tempdir
            chmod(tmp.path(), 0o755);
            std::os::unix::fs::chown(&datadir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", datadir.display()));
        }
        let node = Node {
            name: name.to_string(),
            datadir,
            port: free_port(),
            kind: Kind::Postgres17,
            bin,
            child: None,
            _tmp: tmp,
        };
        let out = node
            .server_program("initdb")
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C")
            .arg("-D")
            .arg(&node.datadir)
            .output()
            .unwrap_or_else(|e| panic!("run initdb: {e}"));
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

    /// `tandem basebackup -d <primary conninfo> -D <new dir> <args>` into a
    /// fresh temporary directory; the new node gets its own free port
    /// (appended to postgresql.conf). Not started. Panics if the backup fails
    /// or `primary` is not a tandem node.
    pub fn basebackup(name: &str, primary: &Node, args: &[&str]) -> Node {
        assert_eq!(
            primary.kind,
            Kind::Tandem,
            "basebackup of {}: only tandem nodes are backed up",
            primary.name
        );
        let tmp = tempdir(&format!("tandem-{name}-"));
        let datadir = tmp.path().join("data");
        let out = Command::new(&primary.bin)
            .arg("basebackup")
            .arg("-d")
            .arg(primary.conninfo("postgres"))
            .arg("-D")
            .arg(&datadir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run tandem basebackup: {e}"));
        assert!(
            out.status.success(),
            "basebackup failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            primary.log()
        );
        let node = Node {
            name: name.to_string(),
            datadir,
            port: free_port(),
            kind: Kind::Tandem,
            bin: primary.bin.clone(),
            child: None,
            _tmp: tmp,
        };
        let _ = fs::remove_file(node.log_path());
        node.append_conf(&format!("port = {}", node.port));
        node
    }

    /// Which server this node runs.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A PostgreSQL server program (run as [`crate::PG_USER`] when we are root).
    pub(crate) fn server_program(&self, program: &str) -> Command {
        let mut c = server_command(&self.bin, program);
        // a directory the server user can enter whatever our own is
        c.current_dir(self._tmp.path());
        c
    }

    /// Appends `text` and a newline to `postgresql.conf`.
    pub fn append_conf(&self, text: &str) {
        let path = self.datadir.join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        writeln!(f, "{text}").unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
    }

    pub fn log_path(&self) -> PathBuf {
        self.datadir.join("server.log")
    }

    /// The server log so far (empty if there is none yet).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Spawns the server and waits until `postmaster.pid` names it and says
    /// `ready` (PostgreSQL: and `SELECT 1` answers); panics with the log if it
    /// exits or is not ready within [`DEADLINE`].
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already started", self.name);
        let log_path = self.log_path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", log_path.display()));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("duplicate the log descriptor: {e}"));
        let mut cmd = match self.kind {
            Kind::Tandem => {
                let mut c = Command::new(&self.bin);
                c.arg("server");
                c
            }
            Kind::Postgres17 => self.server_program("postgres"),
        };
        let child = cmd
            .arg("-D")
            .arg(&self.datadir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the server of node {}: {e}", self.name));
        let pid = child.id();
        self.child = Some(child);
        let pidfile = self.datadir.join("postmaster.pid");
        let end = Instant::now() + DEADLINE;
        loop {
            if let Ok(text) = fs::read_to_string(&pidfile) {
                let lines: Vec<&str> = text.lines().collect();
                if lines.first().map(|l| l.trim()) == Some(&pid.to_string())
                    && lines.get(7).map(|l| l.trim()) == Some("ready")
                    && (self.kind == Kind::Tandem || self.psql("SELECT 1").status.success())
                {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                panic!(
                    "node {} exited during start ({status}); log:\n{}",
                    self.name,
                    self.log()
                );
            }
            if Instant::now() > end {
                panic!(
                    "timed out waiting for node {} to be ready (pid {pid}); log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends `sig` to the server and reaps it; panics (after SIGKILL) if it
    /// has not exited within [`DEADLINE`]. Nothing to do if it is not running.
    fn signal_and_wait(&mut self, sig: libc::c_int) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child's PID, not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, sig);
        }
        let end = Instant::now() + DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "node {} did not stop after signal {sig}; log:\n{}",
                        self.name,
                        self.log()
                    );
                }
            }
        }
    }

    /// Fast shutdown (SIGINT), waiting for the process to exit.
    pub fn stop(&mut self) {
        self.signal_and_wait(libc::SIGINT);
    }

    /// Smart shutdown (SIGTERM), waiting for the process to exit.
    pub fn stop_smart(&mut self) {
        self.signal_and_wait(libc::SIGTERM);
    }

    /// SIGKILL: a crash, no shutdown checkpoint.
    pub fn kill9(&mut self) {
        self.signal_and_wait(libc::SIGKILL);
    }

    /// [`Node::stop`], then [`Node::start`].
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// A libpq connection string for `user` on database `postgres`.
    pub fn conninfo(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres",
            self.port
        )
    }

    /// A tokio-postgres connection as `postgres`.
    pub async fn connect(&self) -> Client {
        self.connect_as("postgres").await
    }

    /// A tokio-postgres connection as `user`.
    pub async fn connect_as(&self, user: &str) -> Client {
        crate::connect(&self.conninfo(user))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name))
    }

    /// `psql -X -A -t -v ON_ERROR_STOP=1 -c sql` as `postgres`; psql from
    /// `PATH` for tandem, PostgreSQL 17's own (with a 5 s connect timeout)
    /// for PostgreSQL.
    pub fn psql(&self, sql: &str) -> Output {
        let mut c = match self.kind {
            Kind::Tandem => Command::new("psql"),
            Kind::Postgres17 => {
                let mut c = Command::new(self.bin.join("psql"));
                c.env("PGCONNECT_TIMEOUT", "5");
                c
            }
        };
        c.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("run psql: {e}"))
    }

    /// [`Node::psql`]'s stdout without trailing whitespace; panics (with the
    /// server log) if psql fails.
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

    /// `program` from `PATH` with `PGHOST`, `PGPORT`, `PGUSER` and
    /// `PGDATABASE` pointing at this node.
    pub fn bin_command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "postgres")
            .env("PGDATABASE", "postgres");
        c
    }
}

impl Drop for Node {
    /// Stops the server without panicking: tandem gets SIGKILL; PostgreSQL
    /// an immediate shutdown (SIGQUIT, so its children exit with it), then
    /// SIGKILL if it is still there after 10 s.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.kind == Kind::Postgres17 {
            // SAFETY: kill(2) on our own child's PID, not yet reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGQUIT);
            }
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                match child.try_wait() {
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                    _ => return,
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
