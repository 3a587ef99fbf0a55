//! The Python client programs' interpreter (psycopg 3, SQLAlchemy 2 and asyncpg in a
//! virtual environment that `scripts/install-pyclients.sh` makes), and a
//! runner that gives a program's output.

use std::path::PathBuf;
use std::process::Command;

/// Where `scripts/install-pyclients.sh` puts the interpreter by default.
pub const TANDEM_PYTHON_DEFAULT: &str = "/opt/tandem-py/bin/python";

/// The interpreter with psycopg, SQLAlchemy and asyncpg (`TANDEM_PYTHON`, else the
/// default), for a test that needs it. Without it: panics in CI (`CI`
/// set), otherwise prints a skip line and returns `None`.
pub fn require_python_clients(test: &str) -> Option<PathBuf> {
    let py = std::env::var_os("TANDEM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(TANDEM_PYTHON_DEFAULT));
    let ok = Command::new(&py)
        .args(["-c", "import psycopg, sqlalchemy, asyncpg"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: psycopg, SQLAlchemy and asyncpg are required in CI ({}: run scripts/install-pyclients.sh)",
            py.display()
        );
    }
    eprintln!(
        "SKIP {test}: no Python with psycopg and SQLAlchemy at {} (set TANDEM_PYTHON or run scripts/install-pyclients.sh)",
        py.display()
    );
    None
}

/// Runs `script` with `args`; returns (success, stdout, stderr).
pub fn run(python: &PathBuf, script: &str, args: &[&str]) -> (bool, String, String) {
    match Command::new(python).arg(script).args(args).output() {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (
            false,
            String::new(),
            format!("cannot run {}: {e}", python.display()),
        ),
    }
}
