//! The demo's nodes: `tandem` server processes (this very executable) in one
//! temporary directory, each on a loopback port picked at run time, and the
//! waits the demo does on them.
//!
//! A node's server runs in its own session (`setsid`), like `tandem start`
//! does, so a Ctrl-C at the terminal reaches only the demo, which then stops
//! the nodes itself. [`Cluster`] owns the directory: dropping it stops every
//! node still running (fast shutdown, SIGKILL if that hangs) and removes the
//! directory, unless the nodes are kept (`--keep`).

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Set by SIGINT / SIGTERM; every wait of the demo checks it.
#[derive(Clone)]
pub struct Interrupt(pub Arc<AtomicBool>);

impl Interrupt {
    pub fn check(&self) -> anyhow::Result<()> {
        if self.0.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        Ok(())
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Polls `cond` every `every` until it returns `Some`; fails naming `what`
/// after `deadline`, or when interrupted.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    every: Duration,
    intr: &Interrupt,
    mut cond: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        intr.check()?;
        if Instant::now() > end {
            bail!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(every);
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("could not bind a port on 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

/// One node of the demo.
pub struct DemoNode {
    pub name: &'static str,
    pub datadir: PathBuf,
    pub logfile: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl DemoNode {
    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Appends lines to `postgresql.conf`.
    pub fn append_conf(&self, text: &str) -> anyhow::Result<()> {
        let path = self.datadir.join("postgresql.conf");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("could not open \"{}\"", path.display()))?;
        writeln!(f, "{text}").with_context(|| format!("could not write \"{}\"", path.display()))
    }

    /// Starts the server and waits until `postmaster.pid` says `ready`.
    pub fn start(&mut self, exe: &Path, intr: &Interrupt) -> anyhow::Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.logfile)
            .with_context(|| format!("could not open \"{}\"", self.logfile.display()))?;
        let log2 = log.try_clone()?;
        let mut cmd = Command::new(exe);
        cmd.arg("server")
            .arg("-D")
            .arg(&self.datadir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: setsid() between fork and exec only puts the child in a
        // session of its own, away from the terminal's Ctrl-C.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("could not start the {} server", self.name))?;
        let pid = child.id().to_string();
        self.child = Some(child);
        let pidfile = self.datadir.join("postmaster.pid");
        let what = format!("the {} server to accept connections", self.name);
        let mut exited = None;
        let ready = wait_until(
            &what,
            Duration::from_secs(60),
            Duration::from_millis(20),
            intr,
            || {
                if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                    exited = Some(status);
                    return Some(false);
                }
                let text = fs::read_to_string(&pidfile).ok()?;
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                (lines.first() == Some(&pid.as_str()) && lines.get(7) == Some(&"ready"))
                    .then_some(true)
            },
        )?;
        if !ready {
            self.child = None;
            bail!(
                "the {} server exited during start ({}); see \"{}\"",
                self.name,
                exited.map_or_else(String::new, |s| s.to_string()),
                self.logfile.display()
            );
        }
        Ok(())
    }

    /// Sends `sig` and waits up to `patience` for the process to exit; then
    /// SIGKILL. Nothing to do if it does not run.
    fn signal_and_reap(&mut self, sig: libc::c_int, patience: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, sig);
        }
        let end = Instant::now() + patience;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// A crash: SIGKILL, no shutdown checkpoint, connections reset.
    pub fn kill9(&mut self) {
        self.signal_and_reap(libc::SIGKILL, Duration::from_secs(10));
    }

    /// Fast shutdown (SIGINT), SIGKILL after 20 s.
    pub fn stop(&mut self) {
        self.signal_and_reap(libc::SIGINT, Duration::from_secs(20));
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

/// The temporary directory and the nodes in it.
pub struct Cluster {
    pub exe: PathBuf,
    dir: Option<tempfile::TempDir>,
    pub nodes: Vec<DemoNode>,
    keep: bool,
}

impl Cluster {
    pub fn new(keep: bool) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe().context("could not find the tandem executable")?;
        let dir = tempfile::Builder::new()
            .prefix("tandem-demo-")
            .tempdir()
            .context("could not create a temporary directory")?;
        Ok(Cluster {
            exe,
            dir: Some(dir),
            nodes: Vec::new(),
            keep,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    fn new_node(&mut self, name: &'static str) -> anyhow::Result<usize> {
        let datadir = self.path().join(name);
        let logfile = self.path().join(format!("{name}.log"));
        self.nodes.push(DemoNode {
            name,
            datadir,
            logfile,
            port: free_port()?,
            child: None,
        });
        Ok(self.nodes.len() - 1)
    }

    /// Runs `tandem <args>`, failing with its error output.
    fn tandem(&self, args: &[&str], what: &str) -> anyhow::Result<()> {
        let out = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("could not run {}", self.exe.display()))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// `tandem initdb` for a new node listening on 127.0.0.1 only; not started.
    pub fn initdb(&mut self, name: &'static str, conf: &str) -> anyhow::Result<usize> {
        let i = self.new_node(name)?;
        let n = &self.nodes[i];
        let (dir, port) = (n.datadir.to_string_lossy().into_owned(), n.port.to_string());
        self.tandem(
            &["initdb", "-D", &dir, "--port", &port],
            &format!("initdb of the {name}"),
        )?;
        let n = &self.nodes[i];
        n.append_conf(&format!(
            "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n{conf}"
        ))?;
        Ok(i)
    }

    /// `tandem basebackup -R -C -S slot -c fast` of the node on
    /// `source_port` into a new node, connecting with `conninfo` (which
    /// becomes its `primary_conninfo`); not started.
    pub fn basebackup(
        &mut self,
        name: &'static str,
        conninfo: &str,
        slot: &str,
        conf: &str,
    ) -> anyhow::Result<usize> {
        let i = self.new_node(name)?;
        let dir = self.nodes[i].datadir.to_string_lossy().into_owned();
        self.tandem(
            &[
                "basebackup",
                "-d",
                conninfo,
                "-D",
                &dir,
                "-R",
                "-C",
                "-S",
                slot,
                "-c",
                "fast",
            ],
            &format!("basebackup for the {name}"),
        )?;
        let n = &self.nodes[i];
        n.append_conf(&format!("port = {}\n{conf}", n.port))?;
        Ok(i)
    }

    pub fn start(&mut self, i: usize, intr: &Interrupt) -> anyhow::Result<()> {
        let exe = self.exe.clone();
        self.nodes[i].start(&exe, intr)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        if self.keep {
            // the servers run on in their own sessions
            let _ = dir.keep();
            return;
        }
        for n in &mut self.nodes {
            n.stop();
        }
        drop(dir);
    }
}
