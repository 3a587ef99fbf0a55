//! Settings (GUCs): the typed registry, postgresql.conf / postgresql.auto.conf parsing,
//! reload, `ALTER SYSTEM`, and per-session values for `SET`/`SHOW`/`RESET`.
//!
//! INTERFACE STUB (written by the lead): the signatures below are what other crates
//! call. The config helper owns this crate and replaces the bodies; keep signatures
//! (extend freely).

use std::path::Path;
use std::sync::Arc;

use tandem_types::PgResult;

/// Server-wide settings: file values plus command-line overrides. Shared by all
/// sessions and background tasks; `reload()` re-reads the files (SIGHUP).
pub struct Config {
    _private: (),
}

impl Config {
    /// Reads `DATADIR/postgresql.conf` then `DATADIR/postgresql.auto.conf`; `overrides`
    /// are `-c name=value` options from the command line (they win over files).
    pub fn load(datadir: &Path, overrides: &[(String, String)]) -> PgResult<Arc<Config>> {
        let _ = (datadir, overrides);
        todo!()
    }

    /// An in-memory config with built-in defaults (tests, tools).
    pub fn defaults() -> Arc<Config> {
        todo!()
    }

    /// Re-reads the files (SIGHUP / `pg_reload_conf()`), logging PostgreSQL's lines.
    pub fn reload(&self) -> PgResult<()> {
        todo!()
    }

    /// Current server-wide value in SHOW format, `None` for an unknown name.
    pub fn show(&self, name: &str) -> Option<String> {
        let _ = name;
        todo!()
    }

    /// Typed getters for server code (values in the setting's base unit: ms for time,
    /// kB for memory). Unknown names are a programming error and panic.
    pub fn get_bool(&self, name: &str) -> bool {
        let _ = name;
        todo!()
    }
    pub fn get_int(&self, name: &str) -> i64 {
        let _ = name;
        todo!()
    }
    pub fn get_real(&self, name: &str) -> f64 {
        let _ = name;
        todo!()
    }
    pub fn get_str(&self, name: &str) -> String {
        let _ = name;
        todo!()
    }

    /// `ALTER SYSTEM SET name = value` (`Some`) or `ALTER SYSTEM RESET name` (`None`);
    /// `name == "all"` with `None` is `RESET ALL`. Validates, then rewrites
    /// postgresql.auto.conf atomically. Does not change live values (needs reload).
    pub fn alter_system(&self, name: &str, value: Option<&str>) -> PgResult<()> {
        let _ = (name, value);
        todo!()
    }
}

/// One row of `pg_settings` (subset of its columns that tandem fills).
#[derive(Clone, Debug)]
pub struct SettingRow {
    pub name: String,
    pub setting: String,
    pub unit: Option<String>,
    pub category: String,
    pub short_desc: String,
    pub context: String,
    pub vartype: String,
    pub source: String,
    pub min_val: Option<String>,
    pub max_val: Option<String>,
    pub enumvals: Option<Vec<String>>,
    pub boot_val: String,
    pub reset_val: String,
    pub pending_restart: bool,
}

/// A session's view: server-wide values plus its own `SET`s, with transactional
/// semantics (`SET LOCAL` ends with the transaction; `SET` inside an aborted
/// transaction is undone).
pub struct SessionConfig {
    _private: (),
}

impl SessionConfig {
    /// `startup` are the StartupMessage options (e.g. `application_name`,
    /// `client_encoding`, `DateStyle`, `options`-derived `-c` settings).
    pub fn new(global: Arc<Config>, startup: &[(String, String)]) -> PgResult<SessionConfig> {
        let _ = (global, startup);
        todo!()
    }

    pub fn global(&self) -> &Arc<Config> {
        todo!()
    }

    /// `SHOW name` / `current_setting(name)`. Unknown name:
    /// `42704 unrecognized configuration parameter "name"`.
    pub fn show(&self, name: &str) -> PgResult<String> {
        let _ = name;
        todo!()
    }

    /// `SET [LOCAL] name TO value` (`value == None` is `TO DEFAULT`).
    /// Returns `Some((name, value))` when the change must be reported to the client
    /// with ParameterStatus (GUC_REPORT settings such as `application_name`).
    pub fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
        local: bool,
        superuser: bool,
    ) -> PgResult<Option<(String, String)>> {
        let _ = (name, value, local, superuser);
        todo!()
    }

    /// `RESET name`; `RESET ALL` with `name == "all"`.
    pub fn reset(&mut self, name: &str) -> PgResult<Option<(String, String)>> {
        let _ = name;
        todo!()
    }

    /// Call at transaction start / end so SET LOCAL and rolled-back SETs revert.
    pub fn begin_transaction(&mut self) {
        todo!()
    }
    pub fn end_transaction(&mut self, committed: bool) {
        let _ = committed;
        todo!()
    }

    /// Values the server reports at startup (`server_version`, `client_encoding`,
    /// `DateStyle`, `integer_datetimes`, `TimeZone`, `standard_conforming_strings`,
    /// `application_name`, `is_superuser`, `session_authorization`, ...).
    pub fn reported(&self) -> Vec<(String, String)> {
        todo!()
    }

    /// `SHOW ALL` rows: (name, setting, description).
    pub fn show_all(&self) -> Vec<(String, String, String)> {
        todo!()
    }

    /// `pg_settings` rows with this session's effective values.
    pub fn settings_rows(&self) -> Vec<SettingRow> {
        todo!()
    }

    pub fn get_bool(&self, name: &str) -> bool {
        let _ = name;
        todo!()
    }
    pub fn get_int(&self, name: &str) -> i64 {
        let _ = name;
        todo!()
    }
    pub fn get_str(&self, name: &str) -> String {
        let _ = name;
        todo!()
    }
}
