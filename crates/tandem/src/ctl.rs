//! The pg_ctl part of the CLI: `start`, `stop`, `restart`, `status`, `reload`,
//! `promote`.
//!
//! The server announces itself in `DATADIR/postmaster.pid` exactly as PostgreSQL's
//! postmaster does: line 1 is its PID, line 3 its start time and line 8 its
//! status (`starting` from before crash recovery on, `ready` once it accepts
//! connections, a hot standby included, `stopping`). `start` launches
//! `tandem server` in a new session (detached from the terminal). `stop`
//! signals the PID (SIGTERM smart, SIGINT fast, SIGQUIT immediate).
//!
//! Waiting follows `pg_ctl` 17 (`src/bin/pg_ctl/pg_ctl.c`): on by default
//! (`-w`), off with `-W`; at most `-t` seconds, else `PGCTLTIMEOUT`, else 60.
//! The pid file is read ten times a second and a dot printed every second
//! (the CLI is a separate process with nothing to subscribe to). A start is
//! done when the pid file names the child we launched, was written no earlier
//! than two seconds before we launched it, and says `ready` or `standby`
//! (PostgreSQL's status for a standby that does not accept connections);
//! a pid file left by an older server is ignored. A start is reported as
//! failed only when the launched process has exited; a server still in crash
//! recovery when the time is up is reported as not started in time, and
//! keeps starting. `stop` is done when the pid file is gone or names a
//! process that no longer exists; `promote` when `standby.signal` is gone.
//! A Ctrl-C during a waited start is passed on to the server being started,
//! as pg_ctl does. Messages, and which of them go to stderr, are pg_ctl's, with `tandem` as
//! the program name; every failure exits 1 (`status`: 3 when no server runs).

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

/// pg_ctl's `DEFAULT_WAIT`: seconds to wait when neither `-t` nor
/// `PGCTLTIMEOUT` says otherwise.
const DEFAULT_WAIT: i64 = 60;
/// pg_ctl's `WAITS_PER_SEC`: checks a second while waiting.
const WAITS_PER_SEC: i64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShutdownMode {
    Smart,
    Fast,
    Immediate,
}

impl ShutdownMode {
    fn signal(self) -> libc::c_int {
        match self {
            ShutdownMode::Smart => libc::SIGTERM,
            ShutdownMode::Fast => libc::SIGINT,
            ShutdownMode::Immediate => libc::SIGQUIT,
        }
    }
}

/// `-w`/`-W`/`-t`, shared by start, stop, restart and promote.
#[derive(Args, Debug, Clone)]
pub struct WaitArgs {
    /// Wait until the operation completes (default).
    #[arg(short = 'w', long = "wait", overrides_with = "no_wait")]
    pub wait: bool,
    /// Do not wait until the operation completes.
    #[arg(short = 'W', long = "no-wait", overrides_with = "wait")]
    pub no_wait: bool,
    /// Seconds to wait when waiting (default: PGCTLTIMEOUT, else 60).
    #[arg(short = 't', long = "timeout", value_name = "SECS")]
    pub timeout: Option<u64>,
}

impl WaitArgs {
    fn wait(&self) -> bool {
        !self.no_wait
    }

    /// `-t`, else `PGCTLTIMEOUT` (read as pg_ctl reads it, with atoi), else 60.
    fn seconds(&self) -> i64 {
        match self.timeout {
            Some(t) => i64::try_from(t).unwrap_or(i64::MAX / WAITS_PER_SEC),
            None => std::env::var("PGCTLTIMEOUT")
                .map(|v| atoi(&v))
                .unwrap_or(DEFAULT_WAIT),
        }
    }
}

/// C's `atoi`: optional blanks and sign, then the leading digits; 0 if none.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(short = 'D', long = "pgdata")]
    pub datadir: PathBuf,
    /// Append the server's log output to this file.
    #[arg(short = 'l', long = "log")]
    pub logfile: Option<PathBuf>,
    /// Port to listen on (overrides postgresql.conf).
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
    /// Set a run-time parameter, name=value (repeatable).
    #[arg(short = 'c', value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Shutdown mode used by restart.
    #[arg(short = 'm', long = "mode", value_enum, default_value_t = ShutdownMode::Fast)]
    pub mode: ShutdownMode,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    #[arg(short = 'D', long = "pgdata")]
    pub datadir: PathBuf,
    #[arg(short = 'm', long = "mode", value_enum, default_value_t = ShutdownMode::Fast)]
    pub mode: ShutdownMode,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Ends a pg_ctl-style command: a failure is printed as pg_ctl prints its
/// own (`tandem: MESSAGE`, further lines as they are) and exits 1.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// pg_ctl's `print_msg`: progress on stdout, shown at once.
fn print_msg(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// pg_ctl's waiting loop: checks `done` `WAITS_PER_SEC` times a second for
/// `seconds`, printing a dot at the start of every second; `None` when the
/// time is up first.
fn wait_with_dots<T>(seconds: i64, mut done: impl FnMut() -> Option<T>) -> Option<T> {
    for i in 0..seconds.max(0).saturating_mul(WAITS_PER_SEC) {
        if let Some(v) = done() {
            return Some(v);
        }
        if i % WAITS_PER_SEC == 0 {
            print_msg(".");
        }
        std::thread::sleep(Duration::from_millis((1000 / WAITS_PER_SEC) as u64));
    }
    None
}

/// Contents of postmaster.pid that the CLI uses.
struct PidFile {
    pid: i32,
    /// Line 3, seconds since the Unix epoch (absent in a partly written file).
    start_time: Option<i64>,
    /// Line 8 without its padding (absent in a partly written file).
    status: Option<String>,
}

fn pid_file_path(datadir: &Path) -> PathBuf {
    datadir.join("postmaster.pid")
}

fn read_pid_file(datadir: &Path) -> Option<PidFile> {
    let text = fs::read_to_string(pid_file_path(datadir)).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    Some(PidFile {
        pid,
        start_time: lines.get(2).and_then(|l| l.trim().parse().ok()),
        status: lines.get(7).map(|s| s.trim().to_string()),
    })
}

fn no_pid_file(datadir: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "PID file \"{}\" does not exist\nIs server running?",
        pid_file_path(datadir).display()
    )
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for the process's existence.
    pid > 0 && unsafe { libc::kill(pid, 0) == 0 }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What a wait for a launched server ended with (pg_ctl's `WaitPMResult`).
enum StartWait {
    Ready,
    StillStarting,
    Failed,
}

/// pg_ctl's `wait_for_postmaster_start`: ready once the pid file is the one
/// of `child` (its PID, written at or after `start_time` less two seconds of
/// clock slop) and says `ready` or `standby`; failed once `child` exited.
fn wait_for_start(child: &mut Child, datadir: &Path, start_time: i64, seconds: i64) -> StartWait {
    let child_pid = child.id() as i32;
    wait_with_dots(seconds, || {
        if let Some(pf) = read_pid_file(datadir) {
            let ours = pf.pid == child_pid && pf.start_time.is_some_and(|t| t >= start_time - 2);
            if ours && matches!(pf.status.as_deref(), Some("ready" | "standby")) {
                return Some(StartWait::Ready);
            }
        }
        match child.try_wait() {
            Ok(Some(_)) => Some(StartWait::Failed),
            _ => None,
        }
    })
    .unwrap_or(StartWait::StillStarting)
}

pub fn start(args: &StartArgs) -> anyhow::Result<()> {
    do_start(args, false)
}

/// pg_ctl's `do_start`; `restarting` leaves out the warning about a pid file
/// (restart has just dealt with it).
fn do_start(args: &StartArgs, restarting: bool) -> anyhow::Result<()> {
    let dir = &args.datadir;
    if !dir.join("global").join("control").exists() && !dir.join("postgresql.conf").exists() {
        bail!(
            "directory \"{}\" is not a database cluster directory",
            dir.display()
        );
    }
    if !restarting && read_pid_file(dir).is_some() {
        eprintln!("tandem: another server might be running; trying to start server anyway");
    }
    let exe = std::env::current_exe().context("could not find own executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("server").arg("-D").arg(dir);
    if let Some(p) = args.port {
        cmd.arg("-p").arg(p.to_string());
    }
    for s in &args.settings {
        cmd.arg("-c").arg(s);
    }
    cmd.stdin(Stdio::null());
    match &args.logfile {
        Some(path) => {
            let f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("could not open log file \"{}\"", path.display()))?;
            let f2 = f
                .try_clone()
                .context("could not duplicate log file handle")?;
            cmd.stdout(f).stderr(f2);
        }
        None => {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        }
    }
    // SAFETY: setsid() in the child before exec only detaches it from our terminal
    // session, so a Ctrl-C at the shell does not reach the server.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let start_time = now_unix();
    let mut child = cmd.spawn().context("could not start server")?;
    if !args.wait.wait() {
        print_msg("server starting\n");
        return Ok(());
    }
    forward_sigint_to(child.id() as i32);
    print_msg("waiting for server to start...");
    match wait_for_start(&mut child, dir, start_time, args.wait.seconds()) {
        StartWait::Ready => {
            print_msg(" done\n");
            print_msg("server started\n");
            Ok(())
        }
        StartWait::StillStarting => {
            print_msg(" stopped waiting\n");
            bail!("server did not start in time")
        }
        StartWait::Failed => {
            print_msg(" stopped waiting\n");
            bail!("could not start server\nExamine the log output.")
        }
    }
}

/// pg_ctl's `trap_sigint_during_startup`: a Ctrl-C while the start is waited
/// for also stops the server being started (it runs in a session of its
/// own, out of the terminal's reach), then ends this process as SIGINT does.
/// Left in place until exit.
fn forward_sigint_to(pid: i32) {
    let action = move || {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let _ = signal_hook::low_level::emulate_default_handler(libc::SIGINT);
    };
    // SAFETY: the action only calls async-signal-safe functions (kill(2) and
    // signal-hook's default-handler emulation) and allocates nothing.
    if let Err(e) = unsafe { signal_hook::low_level::register(libc::SIGINT, action) } {
        // only the forwarding is lost: Ctrl-C still ends the wait
        eprintln!("tandem: could not install SIGINT handler: {e}");
    }
}

/// pg_ctl's `wait_for_postmaster_stop`: true once the pid file is gone or
/// names a process that no longer exists.
fn wait_for_stop(datadir: &Path, seconds: i64) -> bool {
    wait_with_dots(seconds, || match read_pid_file(datadir) {
        None => Some(()),
        Some(pf) if !process_alive(pf.pid) => Some(()),
        Some(_) => None,
    })
    .is_some()
}

/// Sends the shutdown signal of `mode` to `pid`.
fn send_stop_signal(pid: i32, mode: ShutdownMode) -> anyhow::Result<()> {
    // SAFETY: plain kill(2) on a PID read from the pid file.
    if unsafe { libc::kill(pid, mode.signal()) } != 0 {
        bail!(
            "could not send stop signal (PID: {pid}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Waits for the stop of a signalled server, with pg_ctl's messages.
fn wait_stopped(datadir: &Path, mode: ShutdownMode, seconds: i64) -> anyhow::Result<()> {
    print_msg("waiting for server to shut down...");
    if !wait_for_stop(datadir, seconds) {
        print_msg(" failed\n");
        if mode == ShutdownMode::Smart {
            bail!(
                "server does not shut down\n\
                 HINT: The \"-m fast\" option immediately disconnects sessions rather than\n\
                 waiting for session-initiated disconnection."
            );
        }
        bail!("server does not shut down");
    }
    print_msg(" done\n");
    print_msg("server stopped\n");
    Ok(())
}

pub fn stop(args: &StopArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    let pf = read_pid_file(dir).ok_or_else(|| no_pid_file(dir))?;
    send_stop_signal(pf.pid, args.mode)?;
    if !args.wait.wait() {
        print_msg("server shutting down\n");
        return Ok(());
    }
    wait_stopped(dir, args.mode, args.wait.seconds())
}

/// pg_ctl's `do_restart`: the stop is always waited for; `-W` applies to
/// the start.
pub fn restart(args: &StartArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    match read_pid_file(dir) {
        None => {
            eprintln!(
                "tandem: PID file \"{}\" does not exist",
                pid_file_path(dir).display()
            );
            eprintln!("Is server running?");
            eprintln!("trying to start server anyway");
        }
        Some(pf) if process_alive(pf.pid) => {
            send_stop_signal(pf.pid, args.mode)?;
            wait_stopped(dir, args.mode, args.wait.seconds())?;
        }
        Some(pf) => {
            eprintln!(
                "tandem: old server process (PID: {}) seems to be gone",
                pf.pid
            );
            eprintln!("starting server anyway");
        }
    }
    do_start(args, true)
}

pub fn status(datadir: &Path) -> ExitCode {
    match read_pid_file(datadir) {
        Some(pf) if process_alive(pf.pid) => {
            println!("tandem: server is running (PID: {})", pf.pid);
            if let Ok(cmdline) = fs::read(format!("/proc/{}/cmdline", pf.pid)) {
                let args: Vec<String> = cmdline
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| format!("\"{}\"", String::from_utf8_lossy(a)))
                    .collect();
                println!("{}", args.join(" "));
            }
            ExitCode::SUCCESS
        }
        _ => {
            println!("tandem: no server running");
            ExitCode::from(3)
        }
    }
}

pub fn reload(datadir: &Path) -> anyhow::Result<()> {
    let pf = read_pid_file(datadir).ok_or_else(|| no_pid_file(datadir))?;
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(pf.pid, libc::SIGHUP) } != 0 {
        bail!(
            "could not send reload signal (PID: {}): {}",
            pf.pid,
            std::io::Error::last_os_error()
        );
    }
    print_msg("server signaled\n");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    #[arg(short = 'D', long = "pgdata")]
    pub datadir: PathBuf,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `pg_ctl promote`: writes `DATADIR/promote` and sends SIGUSR1; with wait, waits
/// until the server removed `standby.signal` (the end of its promotion).
pub fn promote(args: &PromoteArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    let pf = read_pid_file(dir)
        .filter(|pf| process_alive(pf.pid))
        .ok_or_else(|| no_pid_file(dir))?;
    let signal_file = dir.join("standby.signal");
    if !signal_file.exists() {
        bail!("cannot promote server; server is not in standby mode");
    }
    let promote_file = dir.join("promote");
    fs::write(&promote_file, b"").map_err(|e| {
        anyhow::anyhow!(
            "could not create promote signal file \"{}\": {e}",
            promote_file.display()
        )
    })?;
    // SAFETY: plain kill(2) on a PID read from the pid file.
    if unsafe { libc::kill(pf.pid, libc::SIGUSR1) } != 0 {
        let err = std::io::Error::last_os_error();
        let _ = fs::remove_file(&promote_file);
        bail!("could not send promote signal (PID: {}): {err}", pf.pid);
    }
    if !args.wait.wait() {
        print_msg("server promoting\n");
        return Ok(());
    }
    print_msg("waiting for server to promote...");
    let promoted = || (!signal_file.exists()).then_some(());
    // pg_ctl looks once more when the time is up
    if wait_with_dots(args.wait.seconds(), promoted)
        .or_else(promoted)
        .is_none()
    {
        print_msg(" stopped waiting\n");
        bail!("server did not promote in time");
    }
    print_msg(" done\n");
    print_msg("server promoted\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::atoi;

    #[test]
    fn pgctltimeout_is_read_like_atoi() {
        assert_eq!(atoi("90"), 90);
        assert_eq!(atoi("  5s"), 5);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("soon"), 0);
        assert_eq!(atoi(""), 0);
    }
}
