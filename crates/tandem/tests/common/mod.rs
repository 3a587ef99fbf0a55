//! Test kit: real tandem nodes on 127.0.0.1 for end-to-end tests.
//!
//! Vocabulary from PostgreSQL's TAP suites (`PostgreSQL::Test::Cluster`): a [`Node`]
//! is `init`ed into a temporary data directory with a port chosen at run time,
//! `start`ed (the `tandem server` binary as a child process, its log captured in
//! the data directory), queried (`connect` for tokio-postgres, `psql` for the real
//! client), stopped, or killed with SIGKILL. Every wait polls a condition with a
//! deadline and names what it waited for when it fails; `Drop` kills and reaps the
//! child, so a failing test never leaves a server behind.

#![allow(dead_code)]

pub mod pg17;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

pub const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// Default deadline for waits in tests.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Picks a free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Polls `cond` until it returns `Some` or the deadline passes (then panics with `what`).
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

pub struct Node {
    pub name: String,
    _tmp: tempfile::TempDir,
    pub datadir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Node {
    /// `tandem initdb` into a fresh temporary directory, listening on a free port
    /// of 127.0.0.1 only, with no Unix socket.
    pub fn init(name: &str) -> Node {
        Node::init_with(name, &[])
    }

    pub fn init_with(name: &str, extra_initdb_args: &[&str]) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("tandem-{name}-"))
            .tempdir()
            .expect("tempdir");
        let datadir = tmp.path().join("data");
        let port = free_port();
        let out = Command::new(TANDEM)
            .arg("initdb")
            .arg("-D")
            .arg(&datadir)
            .arg("--port")
            .arg(port.to_string())
            .args(extra_initdb_args)
            .output()
            .expect("run tandem initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let node = Node {
            name: name.to_string(),
            _tmp: tmp,
            datadir,
            port,
            child: None,
        };
        node.append_conf("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n");
        node
    }

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

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts `tandem server` and waits until postmaster.pid says `ready`.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} already started", self.name);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let log2 = log.try_clone().expect("clone log");
        let child = Command::new(TANDEM)
            .arg("server")
            .arg("-D")
            .arg(&self.datadir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("spawn tandem server");
        let pid = child.id();
        self.child = Some(child);
        let pidfile = self.datadir.join("postmaster.pid");
        let what = format!("node {} to be ready (pid {pid})", self.name);
        let end = Instant::now() + DEADLINE;
        loop {
            if let Ok(text) = fs::read_to_string(&pidfile) {
                let lines: Vec<&str> = text.lines().collect();
                if lines.first().map(|l| l.trim()) == Some(&pid.to_string())
                    && lines.get(7).map(|l| l.trim()) == Some("ready")
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
                panic!("timed out waiting for {what}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn signal_and_wait(&mut self, sig: libc::c_int) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child's PID.
        unsafe {
            libc::kill(child.id() as i32, sig);
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

    /// Smart shutdown (SIGTERM).
    pub fn stop_smart(&mut self) {
        self.signal_and_wait(libc::SIGTERM);
    }

    /// SIGKILL: a crash, no shutdown checkpoint.
    pub fn kill9(&mut self) {
        self.signal_and_wait(libc::SIGKILL);
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

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

    pub async fn connect_as(&self, user: &str) -> Client {
        connect(&self.conninfo(user))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name))
    }

    /// Runs `psql -X -A -t -v ON_ERROR_STOP=1 -c sql` and returns stdout; panics on failure.
    pub fn safe_psql(&self, sql: &str) -> String {
        let out = self.psql(sql);
        assert!(
            out.status.success(),
            "psql failed on {}: {}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr),
            sql
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    pub fn psql(&self, sql: &str) -> Output {
        Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql)
            .output()
            .expect("run psql")
    }

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
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Connects with tokio-postgres and drives the connection on the runtime.
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

/// The message of a server error.
pub fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

pub fn have_program(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Requires a client program; in CI (`CI` set) its absence fails the test instead of skipping.
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

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

impl Node {
    /// `tandem basebackup -d <primary conninfo> -D <new dir> <args>` into a fresh
    /// temporary directory; the new node gets its own free port (appended to
    /// postgresql.conf). Panics if the backup fails.
    pub fn basebackup(name: &str, primary: &Node, args: &[&str]) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("tandem-{name}-"))
            .tempdir()
            .expect("tempdir");
        let datadir = tmp.path().join("data");
        let out = Command::new(TANDEM)
            .arg("basebackup")
            .arg("-d")
            .arg(primary.conninfo("postgres"))
            .arg("-D")
            .arg(&datadir)
            .args(args)
            .output()
            .expect("run tandem basebackup");
        assert!(
            out.status.success(),
            "basebackup failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            primary.log()
        );
        let node = Node {
            name: name.to_string(),
            _tmp: tmp,
            datadir,
            port: free_port(),
            child: None,
        };
        let _ = fs::remove_file(node.log_path());
        node.append_conf(&format!("port = {}", node.port));
        node
    }
}
