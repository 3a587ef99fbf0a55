//! `postmaster.pid`: the data directory lock and the server's announcement.
//!
//! ```text
//! line 1  PID
//! line 2  data directory
//! line 3  start time (seconds since the Unix epoch)
//! line 4  port
//! line 5  first Unix socket directory (empty if none)
//! line 6  first listen address (empty if none)
//! line 7  shared memory key (placeholder: tandem has no SysV shared memory)
//! line 8  status: "starting", "ready   ", "stopping" (padded to 8 as PostgreSQL)
//! ```
//!
//! Created with O_EXCL. If the file exists and names a live process (or a server
//! of this very process), startup fails with PostgreSQL's
//! `lock file "postmaster.pid" already exists` and its hint; a file left by a
//! dead process is removed and creation retried. The same scheme locks each Unix
//! socket (`.s.PGSQL.<port>.lock`). Every lock file is removed at exit.
//!
//! Corresponds to `CreateLockFile`/`AddToDataDirLockFile` in PostgreSQL's
//! `src/backend/utils/init/miscinit.c`.

use std::collections::HashSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tandem_types::{PgError, PgResult, SqlState};

/// Lock files held by servers running inside this process (a second in-process
/// server on the same directory must fail even though the PID is ours).
static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn held() -> std::sync::MutexGuard<'static, Option<HashSet<PathBuf>>> {
    match HELD.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A created lock file; removed on drop.
pub(crate) struct LockFile {
    pub path: PathBuf,
    lines: Vec<String>,
}

impl LockFile {
    /// Creates `path` holding `lines`. `what_hint` builds the HINT from the PID of
    /// the live owner.
    pub fn create(
        path: &Path,
        display_name: &str,
        lines: Vec<String>,
        hint: &dyn Fn(i32) -> String,
    ) -> PgResult<LockFile> {
        for _attempt in 0..100 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    let text = lines.join("\n") + "\n";
                    f.write_all(text.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| {
                            PgError::fatal(
                                SqlState::IO_ERROR,
                                format!("could not write lock file \"{display_name}\": {e}"),
                            )
                        })?;
                    held()
                        .get_or_insert_with(HashSet::new)
                        .insert(path.to_path_buf());
                    return Ok(LockFile {
                        path: path.to_path_buf(),
                        lines,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(path).unwrap_or_default();
                    let pid: i32 = text
                        .lines()
                        .next()
                        .and_then(|l| l.trim().parse().ok())
                        .unwrap_or(0);
                    let ours = held().as_ref().is_some_and(|s| s.contains(path));
                    let me = std::process::id() as i32;
                    if ours || (pid != me && process_alive(pid)) {
                        return Err(PgError::fatal(
                            SqlState::OBJECT_IN_USE,
                            format!("lock file \"{display_name}\" already exists"),
                        )
                        .with_hint(hint(pid)));
                    }
                    // Stale: left by a dead process.
                    if let Err(e) = fs::remove_file(path) {
                        if e.kind() != ErrorKind::NotFound {
                            return Err(PgError::fatal(
                                SqlState::IO_ERROR,
                                format!("could not remove old lock file \"{display_name}\": {e}"),
                            ));
                        }
                    }
                }
                Err(e) => {
                    return Err(PgError::fatal(
                        SqlState::IO_ERROR,
                        format!("could not create lock file \"{display_name}\": {e}"),
                    ))
                }
            }
        }
        Err(PgError::fatal(
            SqlState::IO_ERROR,
            format!("could not create lock file \"{display_name}\""),
        ))
    }

    /// Rewrites line `n` (1-based), as `AddToDataDirLockFile`.
    pub fn set_line(&mut self, n: usize, value: &str) {
        while self.lines.len() < n {
            self.lines.push(String::new());
        }
        self.lines[n - 1] = value.to_string();
        let text = self.lines.join("\n") + "\n";
        let tmp = self.path.with_extension("pid.tmp");
        // Write in place (pg_ctl may read concurrently; a short write is retried by it).
        let _ = fs::write(&tmp, text).and_then(|_| fs::rename(&tmp, &self.path));
    }
}

impl LockFile {
    /// Leaves the file in place for a restart of this same process (which
    /// finds its own PID in it, never a live rival, and takes it over).
    pub fn keep(self) {
        if let Some(s) = held().as_mut() {
            s.remove(&self.path);
        }
        // not removed: the restart takes the file over
        let _ = std::mem::ManuallyDrop::new(self);
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        if let Some(s) = held().as_mut() {
            s.remove(&self.path);
        }
    }
}

pub(crate) const STATUS_STARTING: &str = "starting";
pub(crate) const STATUS_READY: &str = "ready   ";
pub(crate) const STATUS_STOPPING: &str = "stopping";

/// Creates `DATADIR/postmaster.pid` with status `starting`.
pub(crate) fn create_postmaster_pid(
    datadir: &Path,
    port: u16,
    socket_dir: &str,
    listen: &str,
) -> PgResult<LockFile> {
    let start = chrono::Utc::now().timestamp();
    let shown_dir = datadir.display().to_string();
    let lines = vec![
        std::process::id().to_string(),
        shown_dir.clone(),
        start.to_string(),
        port.to_string(),
        socket_dir.to_string(),
        listen.to_string(),
        format!("{:>9} {:>9}", 0, 0),
        STATUS_STARTING.to_string(),
    ];
    LockFile::create(
        &datadir.join("postmaster.pid"),
        "postmaster.pid",
        lines,
        &|pid| {
            format!("Is another postmaster (PID {pid}) running in data directory \"{shown_dir}\"?")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_and_stale_lock_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = create_postmaster_pid(dir.path(), 5432, "/tmp", "localhost").unwrap();
        let text = fs::read_to_string(dir.path().join("postmaster.pid")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8);
        assert_eq!(lines[0], std::process::id().to_string());
        assert_eq!(lines[3], "5432");
        assert_eq!(lines[7], "starting");
        let e = create_postmaster_pid(dir.path(), 5432, "", "")
            .err()
            .unwrap();
        assert_eq!(e.message, "lock file \"postmaster.pid\" already exists");
        assert_eq!(
            e.hint.as_deref(),
            Some(
                format!(
                    "Is another postmaster (PID {}) running in data directory \"{}\"?",
                    std::process::id(),
                    dir.path().display()
                )
                .as_str()
            )
        );
        first.set_line(8, STATUS_READY);
        let text = fs::read_to_string(dir.path().join("postmaster.pid")).unwrap();
        assert_eq!(text.lines().nth(7), Some("ready   "));
        drop(first);
        assert!(!dir.path().join("postmaster.pid").exists());
        // a stale file naming a dead process is replaced
        fs::write(dir.path().join("postmaster.pid"), "999999999\n/x\n").unwrap();
        let again = create_postmaster_pid(dir.path(), 5432, "", "").unwrap();
        drop(again);
    }
}
