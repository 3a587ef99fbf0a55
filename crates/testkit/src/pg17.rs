//! Where PostgreSQL 17 is, and running its server programs.
//!
//! One environment variable, `PG17_BIN`, names PostgreSQL 17's `bin`
//! directory; unset, it is [`PG17_BIN_DEFAULT`], where
//! `scripts/install-pg17.sh` installs it. Every lookup of a PostgreSQL 17
//! program (the server for [`crate::Node::init_pg17`], `pg_receivewal`,
//! `pg_recvlogical`, its psql) goes through [`pg17_bin_dir`].
//!
//! PostgreSQL refuses to run as root. When the tests run as root, its server
//! programs (`initdb`, `postgres`) run as the unprivileged user [`PG_USER`],
//! created with `useradd --system --no-create-home` if missing; the child
//! process switches user itself (no `su`/`runuser` in between), so the
//! process the test spawns is the postmaster.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The unprivileged OS user PostgreSQL runs as when the tests run as root.
pub const PG_USER: &str = "pgref";

/// PostgreSQL 17's `bin` directory when `PG17_BIN` is not set.
pub const PG17_BIN_DEFAULT: &str = "/opt/pgref/17/bin";

/// `PG17_BIN`, else [`PG17_BIN_DEFAULT`]; not checked for existence.
pub fn pg17_bin_dir() -> PathBuf {
    std::env::var_os("PG17_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(PG17_BIN_DEFAULT))
}

/// PostgreSQL 17's `bin` directory, if `postgres`, `initdb` and `psql` are
/// all there.
pub fn pg17_bin() -> Option<PathBuf> {
    let dir = pg17_bin_dir();
    ["postgres", "initdb", "psql"]
        .iter()
        .all(|p| dir.join(p).is_file())
        .then_some(dir)
}

/// PostgreSQL 17's program `name` (`pg_receivewal`, `pg_recvlogical`, ...),
/// if it is there.
pub fn pg17_program(name: &str) -> Option<PathBuf> {
    Some(pg17_bin_dir().join(name)).filter(|p| p.is_file())
}

/// `pg_recvlogical`: PostgreSQL 17's when installed, else the system's (15
/// works for logical streaming). Without one: panics in CI (`CI` set),
/// otherwise prints a skip line and returns `None`.
pub fn pg_recvlogical() -> Option<PathBuf> {
    if let Some(p) = pg17_program("pg_recvlogical") {
        return Some(p);
    }
    for c in [
        "/usr/bin/pg_recvlogical",
        "/usr/lib/postgresql/15/bin/pg_recvlogical",
    ] {
        let p = PathBuf::from(c);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("pg_recvlogical is required in CI");
    }
    eprintln!("skipping: no pg_recvlogical found");
    None
}

/// Whether PostgreSQL 17 tests can run. Without PostgreSQL 17: panics in CI
/// (`CI` set), otherwise prints a SKIP line naming `test` and returns false.
pub fn require_pg17(test: &str) -> bool {
    if pg17_bin().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: PostgreSQL 17 is required in CI (PG17_BIN, default {PG17_BIN_DEFAULT}; \
             scripts/install-pg17.sh installs it)"
        );
    }
    eprintln!("SKIP {test}: PostgreSQL 17 not found (set PG17_BIN or run scripts/install-pg17.sh)");
    false
}

/// PostgreSQL 17's program `name`, for a test that needs it. Without it:
/// panics in CI (`CI` set), otherwise prints a skip line and returns `None`.
pub fn require_pg17_program(name: &str) -> Option<PathBuf> {
    if let Some(p) = pg17_program(name) {
        return Some(p);
    }
    let dir = pg17_bin_dir();
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL 17's {name} is required in CI, not found in {} \
             (PG17_BIN; scripts/install-pg17.sh installs it)",
            dir.display()
        );
    }
    eprintln!(
        "skipping: PostgreSQL 17's {name} not found in {} (set PG17_BIN or run scripts/install-pg17.sh)",
        dir.display()
    );
    None
}

pub(crate) fn running_as_root() -> bool {
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
pub(crate) fn server_user() -> (u32, u32) {
    static CREATE: Mutex<()> = Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ids) = user_ids(PG_USER) {
        return ids;
    }
    let out = Command::new("useradd")
        .args(["--system", "--no-create-home", PG_USER])
        .output()
        .unwrap_or_else(|e| panic!("run useradd: {e}"));
    // 9: the user exists (created by someone else meanwhile)
    assert!(
        out.status.success() || out.status.code() == Some(9),
        "useradd {PG_USER} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    user_ids(PG_USER).unwrap_or_else(|| panic!("user {PG_USER} missing after useradd"))
}

/// A PostgreSQL server program from `bin`, run as [`PG_USER`] when we are
/// root (the child calls setgid/setuid, dropping supplementary groups).
pub(crate) fn server_command(bin: &std::path::Path, program: &str) -> Command {
    let mut c = Command::new(bin.join(program));
    if running_as_root() {
        let (uid, gid) = server_user();
        c.uid(uid).gid(gid);
    }
    c
}
