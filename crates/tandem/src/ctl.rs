//! The pg_ctl part of the CLI: `start`, `stop`, `restart`, `status`, `reload`.
//!
//! The server announces itself in `DATADIR/postmaster.pid` exactly as PostgreSQL's
//! postmaster does: line 1 is its PID and line 8 its status (`starting`, `ready`,
//! `stopping`). `start` launches `tandem server` in a new session (detached from
//! the terminal) and returns once that file says `ready` for the child it started,
//! like `pg_ctl -w start`. `stop` signals the PID (SIGTERM smart, SIGINT fast,
//! SIGQUIT immediate) and waits for the file to go away.
//!
//! Waiting here re-reads the pid file a few times a second: the CLI is a separate
//! process with nothing to subscribe to, which is also what pg_ctl does.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

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
    /// Seconds to wait for start (and, for restart, stop).
    #[arg(short = 't', long = "timeout", default_value_t = 60)]
    pub timeout: u64,
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
    /// Seconds to wait.
    #[arg(short = 't', long = "timeout", default_value_t = 60)]
    pub timeout: u64,
}

/// Contents of postmaster.pid that the CLI uses.
struct PidFile {
    pid: i32,
    status: String,
}

fn pid_file_path(datadir: &Path) -> PathBuf {
    datadir.join("postmaster.pid")
}

fn read_pid_file(datadir: &Path) -> Option<PidFile> {
    let text = fs::read_to_string(pid_file_path(datadir)).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let status = lines
        .get(7)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Some(PidFile { pid, status })
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for the process's existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

pub fn start(args: &StartArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    if !dir.join("global").join("control").exists() && !dir.join("postgresql.conf").exists() {
        bail!(
            "directory \"{}\" is not a database cluster directory",
            dir.display()
        );
    }
    if let Some(pf) = read_pid_file(dir) {
        if process_alive(pf.pid) {
            eprintln!("tandem: another server might be running; trying to start server anyway");
        }
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
    let mut child = cmd.spawn().context("could not start server")?;
    let child_pid = child.id() as i32;
    print!("waiting for server to start....");
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        if let Some(pf) = read_pid_file(dir) {
            if pf.pid == child_pid && pf.status == "ready" {
                println!(" done\nserver started");
                return Ok(());
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            println!(" stopped waiting");
            bail!("could not start server ({status})\nExamine the log output.");
        }
        if Instant::now() > deadline {
            println!(" stopped waiting");
            bail!("server did not start in time\nExamine the log output.");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn stop(args: &StopArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    let Some(pf) = read_pid_file(dir) else {
        bail!(
            "PID file \"{}\" does not exist\nIs server running?",
            pid_file_path(dir).display()
        );
    };
    // SAFETY: plain kill(2) on a PID read from the pid file.
    if unsafe { libc::kill(pf.pid, args.mode.signal()) } != 0 {
        bail!(
            "could not send stop signal (PID: {}): {}",
            pf.pid,
            std::io::Error::last_os_error()
        );
    }
    print!("waiting for server to shut down....");
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let gone = match read_pid_file(dir) {
            None => true,
            Some(now) => now.pid != pf.pid,
        };
        if gone || !process_alive(pf.pid) {
            println!(" done\nserver stopped");
            return Ok(());
        }
        if Instant::now() > deadline {
            println!(" failed");
            bail!("server does not shut down");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn restart(args: &StartArgs) -> anyhow::Result<()> {
    if read_pid_file(&args.datadir).is_some_and(|pf| process_alive(pf.pid)) {
        stop(&StopArgs {
            datadir: args.datadir.clone(),
            mode: args.mode,
            timeout: args.timeout,
        })?;
    } else {
        eprintln!(
            "tandem: PID file \"{}\" does not exist",
            pid_file_path(&args.datadir).display()
        );
        eprintln!("Is server running?");
        eprintln!("trying to start server anyway");
    }
    start(args)
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
    let Some(pf) = read_pid_file(datadir) else {
        bail!(
            "PID file \"{}\" does not exist\nIs server running?",
            pid_file_path(datadir).display()
        );
    };
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(pf.pid, libc::SIGHUP) } != 0 {
        bail!(
            "could not send reload signal (PID: {}): {}",
            pf.pid,
            std::io::Error::last_os_error()
        );
    }
    println!("server signaled");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    #[arg(short = 'D', long = "pgdata")]
    pub datadir: PathBuf,
    /// Wait for the promotion to complete (default).
    #[arg(short = 'w', long = "wait")]
    pub wait: bool,
    /// Do not wait.
    #[arg(short = 'W', long = "no-wait", conflicts_with = "wait")]
    pub no_wait: bool,
    /// Seconds to wait (default 60).
    #[arg(short = 't', long = "timeout", default_value_t = 60)]
    pub timeout: u64,
}

/// `pg_ctl promote`: writes `DATADIR/promote` and sends SIGUSR1; with wait, waits
/// until the server removed `standby.signal` (the end of its promotion).
pub fn promote(args: &PromoteArgs) -> anyhow::Result<()> {
    let dir = &args.datadir;
    let Some(pf) = read_pid_file(dir).filter(|pf| process_alive(pf.pid)) else {
        bail!(
            "PID file \"{}\" does not exist\nIs server running?",
            pid_file_path(dir).display()
        );
    };
    let signal_file = dir.join("standby.signal");
    if !signal_file.exists() {
        eprintln!("tandem: cannot promote server; server is not in standby mode");
        std::process::exit(1);
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
    if args.no_wait {
        println!("server promoting");
        return Ok(());
    }
    print!("waiting for server to promote...");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.timeout);
    while std::time::Instant::now() < deadline {
        if !signal_file.exists() {
            println!(" done");
            println!("server promoted");
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        print!(".");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
    println!(" stopped waiting");
    bail!("server did not promote in time");
}
