//! [`Config`]: the server-wide values, loaded from postgresql.conf, then
//! postgresql.auto.conf, then `-c` command-line overrides, and re-read on SIGHUP.
//!
//! Corresponds to PostgreSQL's `ProcessConfigFileInternal` (guc-file.l / guc.c).
//! Priority of sources, lowest first: built-in default < configuration file <
//! command line < override (values tandem computes: `data_directory`, `wal_buffers`
//! auto-tuning, runtime states like `in_hot_standby`). A reload never touches a value
//! whose source ranks above the files.
//!
//! Reload rules (PostgreSQL's, with its LOG texts):
//! - a syntax error or an unrecognized name anywhere: nothing is applied,
//!   `configuration file "F" contains errors; no changes were applied`;
//! - a bad value, or a changed `postmaster` setting (kept at its old value and marked
//!   `pending_restart`): the rest is applied,
//!   `configuration file "F" contains errors; unaffected changes were applied`;
//! - each applied change logs `parameter "x" changed to "v"`; a setting that left the
//!   files goes back to its default (`... removed from configuration file, reset to
//!   default`).
//!
//! At startup any of these errors is FATAL: `configuration file "F" contains errors`.
//!
//! Locking: all values sit behind one `parking_lot::RwLock`; getters take the read
//! lock for a few nanoseconds. Hot paths can resolve a name once ([`Config::lookup`])
//! and read by [`GucId`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tandem_types::elog::{self, Level};
use tandem_types::{PgError, PgResult, SqlState};

use crate::auto_conf::AUTO_CONF_FILE;
use crate::file::{self, ConfItem, Parsed};
use crate::tables::{is_custom_name, registry, Context, GucDef, Kind, Unit, NOT_IN_FILE};
use crate::value::{format_value, parse_value, Val};

/// Where a value came from (pg_settings.source), in priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Default,
    File,
    CommandLine,
    Override,
    Client,
    Session,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "configuration file",
            Source::CommandLine => "command line",
            Source::Override => "override",
            Source::Client => "client",
            Source::Session => "session",
        }
    }
}

/// A resolved setting name, for reading hot settings without a name lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GucId(pub(crate) usize);

/// `synchronous_commit`, typed (read on every commit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCommit {
    Off,
    Local,
    RemoteWrite,
    /// `on`: wait for the standby to flush.
    On,
    RemoteApply,
}

/// One setting's server-wide state.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub val: Val,
    pub source: Source,
    pub pending_restart: bool,
    pub file: Option<(PathBuf, u32)>,
}

#[derive(Default)]
pub(crate) struct State {
    pub slots: Vec<Slot>,
    /// Custom (`ext.name`) settings from files or command line: lower-case name to
    /// (name as written, value).
    pub custom: BTreeMap<String, (String, String, Source)>,
}

/// Server-wide settings: file values plus command-line overrides. Shared by all
/// sessions and background tasks; `reload()` re-reads the files (SIGHUP).
pub struct Config {
    pub(crate) datadir: Option<PathBuf>,
    overrides: Vec<(String, String)>,
    pub(crate) state: RwLock<State>,
    /// Serializes ALTER SYSTEM rewrites of postgresql.auto.conf.
    pub(crate) alter_lock: Mutex<()>,
}

pub(crate) fn boot_value(def: &GucDef) -> Val {
    match parse_value(def, def.name, def.boot) {
        Ok(v) => v,
        Err(e) => panic!("boot value of {} is invalid: {e}", def.name),
    }
}

fn log(message: &str) {
    elog::emit(Level::Log, message, None, None);
}

fn log_error(e: &PgError) {
    elog::emit(
        Level::Log,
        &e.message,
        e.detail.as_deref(),
        e.hint.as_deref(),
    );
}

/// PostgreSQL's ERRCODE_CONFIG_FILE_ERROR.
pub const CONFIG_FILE_ERROR: SqlState = SqlState("F0000");

/// `ERRCODE_CANT_CHANGE_RUNTIME_PARAM` refusals, by context.
pub(crate) fn cannot_change(name: &str, context: Context) -> PgError {
    let msg = match context {
        Context::Postmaster => {
            format!("parameter \"{name}\" cannot be changed without restarting the server")
        }
        Context::Sighup => format!("parameter \"{name}\" cannot be changed now"),
        Context::Backend | Context::SuBackend => {
            format!("parameter \"{name}\" cannot be set after connection start")
        }
        _ => format!("parameter \"{name}\" cannot be changed"),
    };
    PgError::new(SqlState::CANT_CHANGE_RUNTIME_PARAM, msg)
}

pub(crate) fn unrecognized(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

impl Config {
    fn new_default(datadir: Option<PathBuf>, overrides: Vec<(String, String)>) -> Config {
        let reg = registry();
        let slots = reg
            .defs
            .iter()
            .map(|d| Slot {
                val: boot_value(d),
                source: Source::Default,
                pending_restart: false,
                file: None,
            })
            .collect();
        let cfg = Config {
            datadir,
            overrides,
            state: RwLock::new(State {
                slots,
                custom: BTreeMap::new(),
            }),
            alter_lock: Mutex::new(()),
        };
        cfg.autotune();
        cfg
    }

    /// Reads `DATADIR/postgresql.conf` then `DATADIR/postgresql.auto.conf`; `overrides`
    /// are `-c name=value` options from the command line (they win over files).
    pub fn load(datadir: &Path, overrides: &[(String, String)]) -> PgResult<Arc<Config>> {
        let cfg = Config::new_default(Some(datadir.to_path_buf()), overrides.to_vec());
        {
            let mut st = cfg.state.write();
            let dir = datadir.display().to_string();
            for (name, value) in [
                ("data_directory", dir.clone()),
                ("config_file", format!("{dir}/postgresql.conf")),
                ("hba_file", format!("{dir}/pg_hba.conf")),
                ("ident_file", format!("{dir}/pg_ident.conf")),
            ] {
                if let Some(i) = registry().find(name) {
                    st.slots[i].val = Val::Str(Arc::from(value));
                    st.slots[i].source = Source::Override;
                }
            }
        }
        cfg.apply_overrides()?;
        cfg.process_files(false)?;
        cfg.autotune();
        cfg.sync_log_level();
        Ok(Arc::new(cfg))
    }

    /// An in-memory config with built-in defaults (tests, tools).
    pub fn defaults() -> Arc<Config> {
        Arc::new(Config::new_default(None, Vec::new()))
    }

    /// Re-reads the files (SIGHUP / `pg_reload_conf()`), logging PostgreSQL's lines.
    pub fn reload(&self) -> PgResult<()> {
        log("received SIGHUP, reloading configuration files");
        if self.datadir.is_none() {
            return Ok(());
        }
        self.process_files(true)?;
        self.autotune();
        self.sync_log_level();
        Ok(())
    }

    fn main_file(&self) -> PathBuf {
        self.datadir
            .as_deref()
            .unwrap_or(Path::new("."))
            .join("postgresql.conf")
    }

    /// `-c name=value` options: unknown names, bad values and internal settings are
    /// FATAL at startup, as in PostgreSQL.
    fn apply_overrides(&self) -> PgResult<()> {
        let mut st = self.state.write();
        for (name, value) in &self.overrides {
            let name = name.replace('-', "_");
            match registry().find(&name) {
                Some(i) => {
                    let def = registry().def(i);
                    let fatal = |e: PgError| PgError {
                        severity: tandem_types::Severity::Fatal,
                        ..e
                    };
                    if def.context == Context::Internal {
                        return Err(fatal(cannot_change(&name, def.context)));
                    }
                    let v = parse_value(def, &name, value).map_err(fatal)?;
                    let slot = &mut st.slots[i];
                    slot.val = v;
                    slot.source = Source::CommandLine;
                }
                None if is_custom_name(&name) => {
                    st.custom.insert(
                        name.to_ascii_lowercase(),
                        (name.clone(), value.clone(), Source::CommandLine),
                    );
                }
                None => {
                    return Err(PgError::fatal(
                        SqlState::UNDEFINED_OBJECT,
                        unrecognized(&name).message,
                    ))
                }
            }
        }
        Ok(())
    }

    /// Reads both files and applies them (see the module comment for the rules).
    fn process_files(&self, reloading: bool) -> PgResult<()> {
        let main = self.main_file();
        let mut parsed = Parsed::default();
        file::parse_file(&main, true, &mut parsed);
        // postgresql.auto.conf is optional (initdb normally creates it).
        if let Some(auto) = self.datadir.as_ref().map(|d| d.join(AUTO_CONF_FILE)) {
            if auto.exists() {
                file::parse_file(&auto, true, &mut parsed);
            }
        }
        for note in &parsed.notes {
            log(note);
        }
        let mut error_file: Option<PathBuf> = None;
        for err in &parsed.errors {
            log(err);
            error_file.get_or_insert_with(|| main.clone());
        }
        // Resolve names; an unknown one spoils the whole file set.
        let reg = registry();
        let mut last: HashMap<usize, &ConfItem> = HashMap::new();
        let mut custom = BTreeMap::new();
        for item in &parsed.items {
            match reg.find(&item.name) {
                Some(i) => {
                    last.insert(i, item);
                }
                None if is_custom_name(&item.name) => {
                    custom.insert(
                        item.name.to_ascii_lowercase(),
                        (item.name.clone(), item.value.clone()),
                    );
                }
                None => {
                    log(&format!(
                        "unrecognized configuration parameter \"{}\" in file \"{}\" line {}",
                        item.name,
                        item.file.display(),
                        item.line
                    ));
                    error_file.get_or_insert_with(|| item.file.clone());
                }
            }
        }
        if let Some(f) = error_file {
            return self.bail(reloading, &f, false);
        }
        let mut st = self.state.write();
        let mut error_file: Option<PathBuf> = None;
        for i in 0..reg.len() {
            if let Err(f) = apply_one(&mut st, i, last.get(&i).copied(), reloading) {
                error_file.get_or_insert(f.unwrap_or_else(|| main.clone()));
            }
        }
        st.custom.retain(|_, (_, _, src)| *src != Source::File);
        for (k, (name, value)) in custom {
            st.custom.entry(k).or_insert((name, value, Source::File));
        }
        drop(st);
        match error_file {
            Some(f) => self.bail(reloading, &f, true),
            None => Ok(()),
        }
    }

    fn bail(&self, reloading: bool, file: &Path, applied: bool) -> PgResult<()> {
        if !reloading {
            return Err(PgError::fatal(
                CONFIG_FILE_ERROR,
                format!("configuration file \"{}\" contains errors", file.display()),
            ));
        }
        let what = if applied {
            "unaffected changes were applied"
        } else {
            "no changes were applied"
        };
        log(&format!(
            "configuration file \"{}\" contains errors; {what}",
            file.display()
        ));
        Ok(())
    }
}

/// `wal_buffers = -1` means 1/32 of `shared_buffers`, between 8 pages and a segment.
fn normalize(st: &State, i: usize, v: Val) -> Val {
    let reg = registry();
    if reg.def(i).name == "wal_buffers" && v == Val::Int(-1) {
        let sb = reg
            .find("shared_buffers")
            .and_then(|s| match st.slots[s].val {
                Val::Int(n) => Some(n),
                _ => None,
            })
            .unwrap_or(16384);
        return Val::Int((sb / 32).clamp(8, 2048));
    }
    v
}

/// Applies one setting's file value (or its absence). `Err(file)` counts as an error
/// in that file (`None`: the main file).
fn apply_one(
    st: &mut State,
    i: usize,
    item: Option<&ConfItem>,
    reloading: bool,
) -> Result<(), Option<PathBuf>> {
    let def = registry().def(i);
    if st.slots[i].source > Source::File {
        return Ok(());
    }
    let Some(item) = item else {
        if st.slots[i].source != Source::File {
            return Ok(());
        }
        if reloading && def.context <= Context::Postmaster {
            log_error(&cannot_change(def.name, Context::Postmaster));
            st.slots[i].pending_restart = true;
            return Err(None);
        }
        let boot = normalize(st, i, boot_value(def));
        if reloading {
            log(&format!(
                "parameter \"{}\" removed from configuration file, reset to default",
                def.name
            ));
        }
        let slot = &mut st.slots[i];
        slot.val = boot;
        slot.source = Source::Default;
        slot.file = None;
        slot.pending_restart = false;
        return Ok(());
    };
    if def.context == Context::Internal || def.has(NOT_IN_FILE) {
        log_error(&cannot_change(&item.name, Context::Internal));
        return Err(Some(item.file.clone()));
    }
    let v = match parse_value(def, &item.name, &item.value) {
        Ok(v) => normalize(st, i, v),
        Err(e) => {
            log_error(&e);
            return Err(Some(item.file.clone()));
        }
    };
    let slot = &mut st.slots[i];
    let location = Some((item.file.clone(), item.line));
    if v == slot.val {
        slot.source = Source::File;
        slot.file = location;
        slot.pending_restart = false;
        return Ok(());
    }
    if reloading && def.context == Context::Postmaster {
        log_error(&cannot_change(def.name, Context::Postmaster));
        slot.pending_restart = true;
        return Err(Some(item.file.clone()));
    }
    slot.val = v;
    slot.source = Source::File;
    slot.file = location;
    slot.pending_restart = false;
    if reloading {
        log(&format!(
            "parameter \"{}\" changed to \"{}\"",
            def.name, item.value
        ));
    }
    Ok(())
}

fn index_of(name: &str) -> usize {
    match registry().find(name) {
        Some(i) => i,
        None => panic!("unknown configuration parameter \"{name}\" (a programming error)"),
    }
}

impl Config {
    fn autotune(&self) {
        let mut st = self.state.write();
        if let Some(i) = registry().find("wal_buffers") {
            let v = if st.slots[i].source == Source::Default {
                Val::Int(-1)
            } else {
                st.slots[i].val.clone()
            };
            let v = normalize(&st, i, v);
            st.slots[i].val = v;
        }
    }

    fn sync_log_level(&self) {
        if let Some(level) = Level::from_setting(&self.get_str("log_min_messages")) {
            elog::set_min_level(level);
        }
    }

    /// The data directory this config was loaded from (`None` for [`Config::defaults`]).
    pub fn datadir(&self) -> Option<&Path> {
        self.datadir.as_deref()
    }

    /// Resolves a name once, for the `*_at` getters.
    pub fn lookup(name: &str) -> Option<GucId> {
        registry().find(name).map(GucId)
    }

    /// Current server-wide value in SHOW format, `None` for an unknown name.
    pub fn show(&self, name: &str) -> Option<String> {
        let reg = registry();
        let st = self.state.read();
        match reg.find(name) {
            Some(i) => Some(format_value(reg.def(i), &st.slots[i].val, true)),
            None => st
                .custom
                .get(&name.to_ascii_lowercase())
                .map(|(_, v, _)| v.clone()),
        }
    }

    pub(crate) fn val_at(&self, i: usize) -> Val {
        self.state.read().slots[i].val.clone()
    }

    pub(crate) fn custom_value(&self, lower: &str) -> Option<(String, String)> {
        self.state
            .read()
            .custom
            .get(lower)
            .map(|(n, v, _)| (n.clone(), v.clone()))
    }

    /// Typed getters for server code (values in the setting's base unit: ms for time,
    /// kB for memory). Unknown names are a programming error and panic.
    pub fn get_bool(&self, name: &str) -> bool {
        self.bool_at(GucId(index_of(name)))
    }
    /// Integers in the base unit; for an enum, the index of its value in the
    /// registry's list.
    pub fn get_int(&self, name: &str) -> i64 {
        self.int_at(GucId(index_of(name)))
    }
    pub fn get_real(&self, name: &str) -> f64 {
        self.real_at(GucId(index_of(name)))
    }
    /// Any setting, formatted as SHOW prints it (strings and enums as they are).
    pub fn get_str(&self, name: &str) -> String {
        self.str_at(GucId(index_of(name)))
    }

    /// A time setting in milliseconds, whatever its base unit (`checkpoint_timeout`
    /// is stored in seconds, `wal_sender_timeout` in ms); `None` when the value is
    /// negative, PostgreSQL's "disabled" (-1).
    pub fn get_ms(&self, name: &str) -> Option<u64> {
        self.scaled(name, Unit::is_time)
    }

    /// A memory setting in bytes, whatever its base unit (`max_wal_size` is stored
    /// in MB); `None` when negative (-1, "no limit").
    pub fn get_bytes(&self, name: &str) -> Option<u64> {
        self.scaled(name, Unit::is_memory)
    }

    /// A comma-separated list setting (`listen_addresses`,
    /// `unix_socket_directories`, `output_plugin_libraries`): items trimmed, double
    /// quotes removed, empty items dropped.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        self.get_str(name)
            .split(',')
            .map(|s| s.trim().trim_matches('"').trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn scaled(&self, name: &str, unit_ok: fn(Unit) -> bool) -> Option<u64> {
        let idx = index_of(name);
        let unit = registry().def(idx).unit;
        assert!(
            unit_ok(unit),
            "{name} has no unit of this kind (a programming error)"
        );
        let v = self.int_at(GucId(idx));
        (v >= 0).then(|| (v as f64 * unit.base_size()) as u64)
    }

    pub fn bool_at(&self, id: GucId) -> bool {
        match self.state.read().slots[id.0].val {
            Val::Bool(b) => b,
            ref other => panic!("{} is not a bool: {other:?}", registry().def(id.0).name),
        }
    }
    pub fn int_at(&self, id: GucId) -> i64 {
        match self.state.read().slots[id.0].val {
            Val::Int(i) => i,
            Val::Enum(e) => i64::from(e),
            ref other => panic!("{} is not an integer: {other:?}", registry().def(id.0).name),
        }
    }
    pub fn real_at(&self, id: GucId) -> f64 {
        match self.state.read().slots[id.0].val {
            Val::Real(r) => r,
            Val::Int(i) => i as f64,
            ref other => panic!("{} is not a real: {other:?}", registry().def(id.0).name),
        }
    }
    pub fn str_at(&self, id: GucId) -> String {
        let def = registry().def(id.0);
        format_value(def, &self.state.read().slots[id.0].val, true)
    }

    /// `synchronous_commit`, without a name lookup or allocation.
    pub fn synchronous_commit(&self) -> SyncCommit {
        static ID: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let i = *ID.get_or_init(|| index_of("synchronous_commit"));
        let v = match self.state.read().slots[i].val {
            Val::Enum(e) => e,
            _ => 3,
        };
        sync_commit_from_index(v)
    }

    /// Sets a value the server itself owns at run time (`in_hot_standby`,
    /// `transaction_read_only` defaults, ...), bypassing context checks. Source
    /// becomes `override`; reloads leave it alone.
    pub fn set_runtime(&self, name: &str, value: &str) -> PgResult<()> {
        let i = registry().find(name).ok_or_else(|| unrecognized(name))?;
        let def = registry().def(i);
        let v = parse_value(def, name, value)?;
        let mut st = self.state.write();
        st.slots[i].val = v;
        st.slots[i].source = Source::Override;
        Ok(())
    }

    /// Names of settings changed in the files that need a restart to take effect.
    pub fn pending_restart(&self) -> Vec<String> {
        let st = self.state.read();
        registry()
            .sorted
            .iter()
            .filter(|&&i| st.slots[i].pending_restart)
            .map(|&i| registry().def(i).name.to_string())
            .collect()
    }

    pub(crate) fn slot(&self, i: usize) -> Slot {
        self.state.read().slots[i].clone()
    }
}

/// Maps `synchronous_commit`'s enum index (local, remote_write, remote_apply, on,
/// off) to [`SyncCommit`].
pub(crate) fn sync_commit_from_index(i: u16) -> SyncCommit {
    match i {
        0 => SyncCommit::Local,
        1 => SyncCommit::RemoteWrite,
        2 => SyncCommit::RemoteApply,
        4 => SyncCommit::Off,
        _ => SyncCommit::On,
    }
}

/// The enum value list of a setting (for `pg_settings.enumvals`).
pub(crate) fn enum_values(def: &GucDef) -> Option<Vec<String>> {
    match def.kind {
        Kind::Enum { values, .. } => Some(values.iter().map(|s| s.to_string()).collect()),
        _ => None,
    }
}
