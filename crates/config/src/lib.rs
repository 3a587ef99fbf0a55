//! Settings (GUCs): the typed registry, postgresql.conf / postgresql.auto.conf parsing,
//! reload, `ALTER SYSTEM`, and per-session values for `SET`/`SHOW`/`RESET`.
//!
//! PostgreSQL's `guc.c`, `guc-file.l`, `guc_tables.c` and `guc_funcs.c`, cut by noun:
//!
//! ```text
//!   tables.rs     the registry: names, types, units, limits, contexts, boot values
//!   value.rs      text <-> typed value: units, booleans, enums, SHOW formatting
//!   file.rs       postgresql.conf syntax, includes          -> [(name, value, file, line)]
//!   global.rs     Config: files + command line, reload (SIGHUP) with PG's LOG lines
//!   auto_conf.rs  ALTER SYSTEM -> postgresql.auto.conf (atomic rewrite), initdb sample
//!   session.rs    SessionConfig: startup parameters, SET/SET LOCAL/RESET, transactions
//! ```
//!
//! Life of a value: `shared_buffers = 256MB` in postgresql.conf is read by `file.rs`
//! as the pair ("shared_buffers", "256MB"), converted by `value.rs` into 32768 (8kB
//! pages, the base unit), stored in `Config`'s slot with source "configuration file",
//! and printed by `SHOW` as `256MB` and in `pg_settings.setting` as `32768`.
//!
//! Errors carry PostgreSQL's SQLSTATEs and texts (`42704 unrecognized configuration
//! parameter "x"`, `22023 invalid value for parameter ...`, `55P02 parameter "x"
//! cannot be changed without restarting the server`, ...).

mod auto_conf;
mod file;
mod global;
mod session;
mod tables;
mod value;

pub use auto_conf::{auto_conf_header, sample_postgresql_conf, AUTO_CONF_FILE};
pub use global::{Config, GucId, Source, SyncCommit, CONFIG_FILE_ERROR};
pub use session::{parse_startup_options, ConfigSavepoint, SessionConfig};
pub use tables::Context;
pub use value::parse_bool;

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

#[cfg(test)]
mod tests;
