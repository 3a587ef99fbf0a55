//! `tandem start`, `stop`, `restart` and `promote` wait as `pg_ctl` 17 does:
//! a dot a second while waiting, `-t` / `PGCTLTIMEOUT` / 60 s, `-W` not to
//! wait, and failure reported only when the launched server has exited.
//!
//! A slow start is made without timing luck: `pg_hba.conf` is replaced by a
//! named pipe, so the server (already announced as `starting` in
//! `postmaster.pid`) blocks reading it until the test writes the file's
//! contents into the pipe. A real crash recovery (SIGKILL after writes) is
//! waited through as well, with the dead server's `postmaster.pid`, which
//! still says `ready`, left in place.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tandem_testkit::{tandem_bin, wait_for, wait_value, Node, DEADLINE};

const STOP_HINT: &str = "HINT: The \"-m fast\" option immediately disconnects sessions rather than\nwaiting for session-initiated disconnection.\n";

/// Runs the CLI with `env` (and never an inherited `PGCTLTIMEOUT`).
fn tandem(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(tandem_bin());
    c.args(args).env_remove("PGCTLTIMEOUT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output()
        .unwrap_or_else(|e| panic!("run tandem {args:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn d(node: &Node) -> &str {
    node.datadir
        .to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", node.datadir.display()))
}

fn log(node: &Node) -> String {
    node.log_path().display().to_string()
}

/// `postmaster.pid`'s PID and status line (trimmed), if the file is there.
fn pid_file(dir: &Path) -> Option<(i32, String)> {
    let t = fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = t.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    Some((pid, lines.get(7).map_or("", |s| s.trim()).to_string()))
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// A server that `tandem start` launched (not a child of the test): killed
/// with SIGKILL when dropped, also while a failing test unwinds, before the
/// node's temporary directory goes. Declare it after its [`Node`].
struct Launched(PathBuf);

impl Drop for Launched {
    fn drop(&mut self) {
        let Some((pid, _)) = pid_file(&self.0) else {
            return;
        };
        if !alive(pid) {
            return;
        }
        // SAFETY: kill(2) on the PID our own start wrote into the pid file.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while alive(pid) && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Replaces the node's `pg_hba.conf` by a named pipe; returns the contents,
/// which [`feed`] writes into the pipe to let a blocked start go on.
fn hba_as_pipe(node: &Node) -> String {
    let path = node.datadir.join("pg_hba.conf");
    let contents = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read pg_hba.conf: {e}"));
    fs::remove_file(&path).unwrap_or_else(|e| panic!("remove pg_hba.conf: {e}"));
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .unwrap_or_else(|e| panic!("path with NUL: {e}"));
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(r, 0, "mkfifo: {}", std::io::Error::last_os_error());
    contents
}

/// Writes `contents` into the pipe once the server has opened it for
/// reading (opening the write end without a reader fails with ENXIO).
fn feed(node: &Node, contents: &str) {
    let path = node.datadir.join("pg_hba.conf");
    let mut pipe =
        wait_for(
            "the server to open pg_hba.conf",
            DEADLINE,
            || match fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            {
                Ok(f) => Some(f),
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => None,
                Err(e) => panic!("open the pg_hba.conf pipe: {e}"),
            },
        );
    // far below a pipe's capacity: one write, no reader wait
    pipe.write_all(contents.as_bytes())
        .unwrap_or_else(|e| panic!("write into the pg_hba.conf pipe: {e}"));
}

/// `waiting for server to start...`, one dot or more, then `end`.
fn assert_waited(stdout: &str, what: &str, end: &str) {
    let head = format!("waiting for server to {what}...");
    let dots = stdout
        .strip_prefix(&head)
        .and_then(|r| r.strip_suffix(end))
        .unwrap_or_else(|| panic!("expected {head:?}, dots, {end:?}; got {stdout:?}"));
    assert!(
        !dots.is_empty() && dots.bytes().all(|b| b == b'.'),
        "expected dots between {head:?} and {end:?}; got {stdout:?}"
    );
}

/// `tandem start` of `node` running in the background (default timeout),
/// its stdout piped to the test.
fn spawn_start(node: &Node, stderr: Stdio) -> (std::process::Child, std::process::ChildStdout) {
    let mut cli = Command::new(tandem_bin())
        .args(["start", "-D", d(node), "-l", &log(node)])
        .env_remove("PGCTLTIMEOUT")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("run tandem start: {e}"));
    let stdout = cli.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    (cli, stdout)
}

/// A start held up before it is ready is waited for, a dot a second, and
/// reported as started once it is.
#[test]
fn start_waits_with_dots_until_ready() {
    let node = Node::init("t058-dots");
    let _server = Launched(node.datadir.clone());
    let hba = hba_as_pipe(&node);
    let (mut cli, mut stdout) = spawn_start(&node, Stdio::piped());
    // three dots of the message, the one printed at once, and one after a
    // second of waiting
    let mut seen = Vec::new();
    let want = b"waiting for server to start.....";
    while seen.len() < want.len() {
        let mut b = [0u8; 1];
        match stdout.read(&mut b) {
            Ok(0) => panic!("tandem start ended early: {:?}", text(&seen)),
            Ok(_) => seen.push(b[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read tandem start's output: {e}"),
        }
    }
    assert_eq!(&seen[..], &want[..]);
    // still starting, the CLI still waiting
    let (pid, status) = pid_file(&node.datadir).unwrap_or_else(|| panic!("no postmaster.pid"));
    assert_eq!(status, "starting");
    assert!(alive(pid));
    assert_eq!(cli.try_wait().ok().flatten(), None, "tandem start ended");

    feed(&node, &hba);
    let mut rest = Vec::new();
    stdout
        .read_to_end(&mut rest)
        .unwrap_or_else(|e| panic!("read tandem start's output: {e}"));
    let out = cli
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for tandem start: {e}"));
    seen.extend_from_slice(&rest);
    let stdout = text(&seen);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_waited(&stdout, "start", " done\nserver started\n");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(node.safe_psql("SELECT 1"), "1");

    let out = tandem(&["stop", "-D", d(&node)], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_waited(&text(&out.stdout), "shut down", " done\nserver stopped\n");
    assert!(!node.datadir.join("postmaster.pid").exists());
}

/// `-t` and `PGCTLTIMEOUT` bound the wait: the CLI stops waiting and says
/// so, the server goes on starting and comes up later. `-W` does not wait.
#[test]
fn timeouts_stop_waiting_and_no_wait_returns_at_once() {
    let node = Node::init("t058-timeout");
    let _server = Launched(node.datadir.clone());
    let hba = hba_as_pipe(&node);

    let out = tandem(
        &["start", "-D", d(&node), "-l", &log(&node), "-t", "1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "waiting for server to start.... stopped waiting\n"
    );
    assert_eq!(text(&out.stderr), "tandem: server did not start in time\n");
    let (pid, status) = pid_file(&node.datadir).unwrap_or_else(|| panic!("no postmaster.pid"));
    assert_eq!(status, "starting");
    assert!(alive(pid), "the server was given up on but must still run");
    feed(&node, &hba);
    wait_for("the server to come up after all", DEADLINE, || {
        (pid_file(&node.datadir) == Some((pid, "ready".into()))).then_some(())
    });
    assert_eq!(node.safe_psql("SELECT 1"), "1");
    let out = tandem(&["stop", "-D", d(&node), "-m", "fast"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // -W: back at once, the server still held up before ready
    let out = tandem(
        &["start", "-D", d(&node), "-l", &log(&node), "-W"],
        &[("PGCTLTIMEOUT", "1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "server starting\n");
    assert_eq!(text(&out.stderr), "");
    let pid = wait_for("postmaster.pid of the new start", DEADLINE, || {
        pid_file(&node.datadir).and_then(|(pid, s)| (s == "starting").then_some(pid))
    });
    // a smart stop cannot end a start held up: PGCTLTIMEOUT=1 bounds the wait
    let out = tandem(
        &["stop", "-D", d(&node), "-m", "smart"],
        &[("PGCTLTIMEOUT", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "waiting for server to shut down.... failed\n"
    );
    assert_eq!(
        text(&out.stderr),
        format!("tandem: server does not shut down\n{STOP_HINT}")
    );
    // once started, the server carries out the smart shutdown it was sent
    feed(&node, &hba);
    wait_for("the server to start and then stop", DEADLINE, || {
        (!alive(pid) && pid_file(&node.datadir).is_none()).then_some(())
    });
    let l = node.log();
    assert!(l.contains("received smart shutdown request"), "{l}");
    assert!(l.contains("database system is shut down"), "{l}");
}

/// A server that cannot start (its port is taken) exits; only then does the
/// CLI report the start as failed.
#[test]
fn failed_start_reports_could_not_start_server() {
    let node = Node::init("t058-fail");
    let _server = Launched(node.datadir.clone());
    let _taken = std::net::TcpListener::bind(("127.0.0.1", node.port))
        .unwrap_or_else(|e| panic!("bind port {}: {e}", node.port));
    let out = tandem(&["start", "-D", d(&node), "-l", &log(&node)], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_waited(&text(&out.stdout), "start", " stopped waiting\n");
    assert_eq!(
        text(&out.stderr),
        "tandem: could not start server\nExamine the log output.\n"
    );
    let l = node.log();
    assert!(l.contains("could not bind"), "{l}");
    assert!(!node.datadir.join("postmaster.pid").exists());
}

/// After a crash the dead server's `postmaster.pid` still says `ready`: the
/// CLI warns, ignores it (not its child's) and waits through crash recovery.
#[test]
fn start_after_crash_waits_through_recovery() {
    let mut node = Node::init("t058-crash");
    node.append_conf("max_wal_size = '4GB'\ncheckpoint_timeout = '1h'");
    node.start();
    node.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    node.safe_psql("INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g");
    node.kill9();
    let _server = Launched(node.datadir.clone());
    let (old_pid, status) =
        pid_file(&node.datadir).unwrap_or_else(|| panic!("SIGKILL left no postmaster.pid"));
    assert_eq!(status, "ready");

    let out = tandem(&["start", "-D", d(&node), "-l", &log(&node)], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_waited(&stdout, "start", " done\nserver started\n");
    assert_eq!(
        text(&out.stderr),
        "tandem: another server might be running; trying to start server anyway\n"
    );
    let (pid, status) = pid_file(&node.datadir).unwrap_or_else(|| panic!("no postmaster.pid"));
    assert_ne!(pid, old_pid);
    assert_eq!(status, "ready");
    let l = node.log();
    assert!(l.contains("redo starts at"), "{l}");
    assert_eq!(node.safe_psql("SELECT count(*) FROM t"), "200000");

    // restart: a waited stop, then a waited start
    let out = tandem(&["restart", "-D", d(&node), "-l", &log(&node)], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let (stop, start) = stdout
        .split_once("server stopped\n")
        .unwrap_or_else(|| panic!("no stop in {stdout:?}"));
    assert_waited(
        &format!("{stop}server stopped\n"),
        "shut down",
        " done\nserver stopped\n",
    );
    assert_waited(start, "start", " done\nserver started\n");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(node.safe_psql("SELECT count(*) FROM t"), "200000");
}

/// A hot standby is started once it accepts read-only connections (its
/// `postmaster.pid` says `ready`, as PostgreSQL 17's does); `promote` waits
/// with dots as well.
#[test]
fn standby_start_waits_until_it_accepts_connections() {
    let p = Node::streaming_primary("t058-primary");
    p.safe_psql("CREATE TABLE t (id int)");
    p.safe_psql("INSERT INTO t SELECT generate_series(1, 10)");
    let s = Node::standby("t058-standby", &p, "s1");
    let _server = Launched(s.datadir.clone());

    let out = tandem(&["start", "-D", d(&s), "-l", &log(&s)], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_waited(&stdout, "start", " done\nserver started\n");
    // no wait needed: started means accepting connections
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(
        pid_file(&s.datadir).map(|(_, st)| st),
        Some("ready".to_string())
    );
    wait_value(&s, "SELECT count(*) FROM t", "10");

    let out = tandem(&["promote", "-D", d(&s)], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_waited(&stdout, "promote", " done\nserver promoted\n");
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "f");

    let out = tandem(&["stop", "-D", d(&s), "-W"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "server shutting down\n");
    wait_for("the promoted standby to stop", DEADLINE, || {
        pid_file(&s.datadir).is_none().then_some(())
    });
}

/// Ctrl-C while a start is waited for stops the server being started too
/// (pg_ctl passes SIGINT on: the server is in a session of its own), and
/// ends the CLI as SIGINT does.
#[test]
fn interrupted_start_stops_the_server() {
    use std::os::unix::process::ExitStatusExt;
    let node = Node::init("t058-sigint");
    let _server = Launched(node.datadir.clone());
    let hba = hba_as_pipe(&node);
    let (mut cli, mut stdout) = spawn_start(&node, Stdio::null());
    // the first dot: the CLI is in its wait
    let want = b"waiting for server to start....";
    let mut seen = vec![0u8; want.len()];
    stdout
        .read_exact(&mut seen)
        .unwrap_or_else(|e| panic!("read tandem start's output: {e}"));
    assert_eq!(&seen[..], &want[..]);
    let pid = wait_for("postmaster.pid of the start", DEADLINE, || {
        pid_file(&node.datadir).map(|(pid, _)| pid)
    });
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe {
        libc::kill(cli.id() as libc::pid_t, libc::SIGINT);
    }
    let status = cli
        .wait()
        .unwrap_or_else(|e| panic!("wait for tandem start: {e}"));
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status}");
    // the server got the fast shutdown request: it ends once it can act on it
    feed(&node, &hba);
    wait_for("the interrupted server to stop", DEADLINE, || {
        (!alive(pid) && pid_file(&node.datadir).is_none()).then_some(())
    });
    let l = node.log();
    assert!(l.contains("received fast shutdown request"), "{l}");
}
