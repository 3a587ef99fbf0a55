//! PostgreSQL-style log lines: `2026-11-21 10:00:00.123 UTC [4242] LOG:  message`.
//!
//! Everything the server logs goes through [`emit`]; the destination is stderr
//! unless [`set_log_file`] redirected it (`tandem start -l FILE`). Levels below
//! `log_min_messages` are dropped ([`set_min_level`]).

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::error::{PgError, Severity};

/// Log levels in increasing importance, as `log_min_messages` orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Notice = 2,
    Warning = 3,
    Error = 4,
    Log = 5,
    Fatal = 6,
    Panic = 7,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Log => "LOG",
            Level::Fatal => "FATAL",
            Level::Panic => "PANIC",
        }
    }

    /// Parses a `log_min_messages` value (`debug1`..`debug5` all map to Debug).
    pub fn from_setting(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug5" | "debug4" | "debug3" | "debug2" | "debug1" | "debug" => Level::Debug,
            "info" => Level::Info,
            "notice" => Level::Notice,
            "warning" => Level::Warning,
            "error" => Level::Error,
            "log" => Level::Log,
            "fatal" => Level::Fatal,
            "panic" => Level::Panic,
            _ => return None,
        })
    }
}

static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);
static LOG_FILE: Mutex<Option<File>> = Mutex::new(None);

pub fn set_min_level(level: Level) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Sends every later line to `file` (appending) instead of stderr.
pub fn set_log_file(file: File) {
    if let Ok(mut g) = LOG_FILE.lock() {
        *g = Some(file);
    }
}

/// Writes one log entry, plus `DETAIL:`/`HINT:` lines, if `level` passes the filter.
pub fn emit(level: Level, message: &str, detail: Option<&str>, hint: Option<&str>) {
    emit_with_context(level, message, detail, hint, None)
}

/// [`emit`] with a `CONTEXT:` line (after DETAIL and HINT, as PostgreSQL logs).
pub fn emit_with_context(
    level: Level,
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
    context: Option<&str>,
) {
    if (level as u8) < MIN_LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let prefix = format!(
        "{} [{}] ",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f UTC"),
        std::process::id()
    );
    let mut text = format!("{prefix}{}:  {message}\n", level.as_str());
    if let Some(d) = detail {
        text.push_str(&format!("{prefix}DETAIL:  {d}\n"));
    }
    if let Some(h) = hint {
        text.push_str(&format!("{prefix}HINT:  {h}\n"));
    }
    if let Some(c) = context {
        text.push_str(&format!("{prefix}CONTEXT:  {c}\n"));
    }
    let mut guard = match LOG_FILE.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    match guard.as_mut() {
        Some(f) => {
            let _ = f.write_all(text.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
}

/// Logs `msg` at LOG level (`elog(LOG, ...)`).
pub fn log(msg: &str) {
    emit(Level::Log, msg, None, None)
}

/// Logs a `PgError` at its own severity (ERROR, FATAL, WARNING, ...).
pub fn emit_error(err: &PgError) {
    let level = match err.severity {
        Severity::Error => Level::Error,
        Severity::Fatal => Level::Fatal,
        Severity::Panic => Level::Panic,
        Severity::Warning => Level::Warning,
        Severity::Notice => Level::Notice,
        Severity::Info => Level::Info,
        Severity::Log => Level::Log,
        Severity::Debug => Level::Debug,
    };
    emit_with_context(
        level,
        &err.message,
        err.detail.as_deref(),
        err.hint.as_deref(),
        err.context.as_deref(),
    );
}

/// `log!("...")`-style helpers.
#[macro_export]
macro_rules! log_line {
    ($level:expr, $($arg:tt)*) => {
        $crate::elog::emit($level, &format!($($arg)*), None, None)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_writes_a_log_line() {
        let path =
            std::env::temp_dir().join(format!("tandem-elog-test-{}.log", std::process::id()));
        let file = File::create(&path).expect("create temp log file");
        set_log_file(file);
        log("checkpoint starting: time");
        let text = std::fs::read_to_string(&path).expect("read temp log file");
        let _ = std::fs::remove_file(&path);
        assert!(
            text.ends_with(&format!(
                "[{}] LOG:  checkpoint starting: time\n",
                std::process::id()
            )),
            "{text}"
        );
    }
}
