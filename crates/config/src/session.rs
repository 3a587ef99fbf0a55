//! [`SessionConfig`]: one connection's view of the settings, the server-wide
//! [`Config`] with the session's own values on top.
//!
//! Corresponds to the session half of PostgreSQL's `guc.c` (the GUC stack,
//! `AtEOXact_GUC`, `ResetAllOptions`) and `guc_funcs.c` (`SET`/`SHOW`), plus
//! `process_startup_options` from postinit.c.
//!
//! Layers, highest first:
//!
//! ```text
//!   SET / SET LOCAL value        (vals[i], source "session")
//!   startup-packet value         (reset_vals[i], source "client"; what RESET returns to)
//!   server-wide value            (Config: files, command line; follows reloads)
//! ```
//!
//! A setting the session never SET reads the server-wide value, so reloads reach it.
//!
//! Transactions: `begin_transaction` opens a save scope; the first change to a
//! setting inside it records the prior value. `SET` also records the value that
//! survives commit, `SET LOCAL` does not. At commit a setting takes its surviving
//! `SET` value if any, else the prior one (SET LOCAL lapses); at rollback the prior
//! one. A savepoint ([`SessionConfig::savepoint`]) is a copy of the session's values and
//! of that scope: `ROLLBACK TO` puts both back, so the SETs made after it are undone
//! and a SET LOCAL made before it still lapses at the end (PostgreSQL's GUC nesting
//! levels, flattened).
//!
//! `SET LOCAL` outside a transaction block has no effect here; PostgreSQL also
//! warns, and that WARNING is the caller's to send (see
//! [`SessionConfig::set_local_warning`]). When the caller wraps single statements in
//! begin/end_transaction, SET LOCAL lasts for that statement, as in PostgreSQL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tandem_types::{PgError, PgResult, Severity, SqlState};

use crate::global::{
    boot_value, cannot_change, enum_values, sync_commit_from_index, unrecognized, Config, Source,
    SyncCommit,
};
use crate::tables::{
    is_custom_name, registry, Context, GucDef, Kind, NO_RESET_ALL, NO_SHOW_ALL, REPORT,
};
use crate::value::{format_real, format_value, parse_value, Val};
use crate::SettingRow;

#[derive(Clone, Debug, PartialEq)]
struct SessVal {
    val: Val,
    source: Source,
}

/// What a setting is keyed by in the transaction save scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Guc(usize),
    /// Lower-cased custom name.
    Custom(String),
}

/// A session-level value: the spelling of the name (custom settings) and the value.
type Entry = Option<(String, SessVal)>;

#[derive(Clone, Debug)]
struct Saved {
    prior: Entry,
    /// `Some(v)`: a non-local SET/RESET happened; `v` survives commit.
    surviving: Option<Entry>,
}

/// The session's values as a SAVEPOINT found them ([`SessionConfig::savepoint`]).
#[derive(Clone, Debug)]
pub struct ConfigSavepoint {
    vals: Vec<Option<SessVal>>,
    custom: BTreeMap<String, (String, SessVal)>,
    saved: HashMap<Key, Saved>,
}

/// A session's view: server-wide values plus its own `SET`s, with transactional
/// semantics (`SET LOCAL` ends with the transaction; `SET` inside an aborted
/// transaction is undone).
pub struct SessionConfig {
    global: Arc<Config>,
    vals: Vec<Option<SessVal>>,
    reset_vals: Vec<Option<SessVal>>,
    custom: BTreeMap<String, (String, SessVal)>,
    in_xact: bool,
    saved: HashMap<Key, Saved>,
    last_reported: HashMap<usize, String>,
    superuser: bool,
}

fn fatal(e: PgError) -> PgError {
    PgError {
        severity: Severity::Fatal,
        ..e
    }
}

/// Splits a startup `options` string like PostgreSQL's `pg_split_opts`: whitespace
/// separates, a backslash makes the next character literal.
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            if in_word {
                out.push(std::mem::take(&mut cur));
                in_word = false;
            }
        } else if c == '\\' {
            if let Some(n) = chars.next() {
                cur.push(n);
            }
            in_word = true;
        } else {
            cur.push(c);
            in_word = true;
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Turns the `options` startup parameter into (name, value) pairs: `-c name=value`,
/// `-cname=value`, `--name=value`. Dashes in names become underscores.
pub fn parse_startup_options(options: &str) -> PgResult<Vec<(String, String)>> {
    let words = split_options(options);
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let (arg, switch) = if let Some(rest) = w.strip_prefix("--") {
            (rest.to_string(), "--")
        } else if w == "-c" {
            i += 1;
            match words.get(i) {
                Some(next) => (next.clone(), "-c "),
                None => {
                    return Err(fatal(PgError::syntax(
                        "invalid command-line argument for server process: -c",
                    )))
                }
            }
        } else if let Some(rest) = w.strip_prefix("-c") {
            (rest.to_string(), "-c ")
        } else {
            return Err(fatal(
                PgError::syntax(format!(
                    "invalid command-line argument for server process: {w}"
                ))
                .with_hint("Try \"postgres --help\" for more information."),
            ));
        };
        let Some((name, value)) = arg.split_once('=') else {
            let msg = if switch == "--" {
                format!("--{arg} requires a value")
            } else {
                format!("-c {arg} requires a value")
            };
            return Err(fatal(PgError::syntax(msg)));
        };
        out.push((name.replace('-', "_"), value.to_string()));
        i += 1;
    }
    Ok(out)
}

/// The checks `SET` (or, with `at_startup`, a startup parameter) must pass.
fn check_context(def: &GucDef, name: &str, superuser: bool, at_startup: bool) -> PgResult<()> {
    match def.context {
        Context::Internal | Context::Postmaster | Context::Sighup => {
            Err(cannot_change(name, def.context))
        }
        Context::SuBackend if at_startup && !superuser => Err(permission_denied(name)),
        Context::SuBackend | Context::Backend if !at_startup => {
            Err(cannot_change(name, def.context))
        }
        Context::Superuser if !superuser => Err(permission_denied(name)),
        _ => Ok(()),
    }
}

fn permission_denied(name: &str) -> PgError {
    PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied to set parameter \"{name}\""),
    )
}

impl SessionConfig {
    /// `startup` are the StartupMessage options (e.g. `application_name`,
    /// `client_encoding`, `DateStyle`, `options`-derived `-c` settings). `user`
    /// sets `session_authorization`; `database`, `replication` and `_pq_.*` are
    /// ignored. The role is assumed superuser until [`SessionConfig::set_session_user`]
    /// says otherwise. Errors are FATAL, as PostgreSQL rejects the connection.
    pub fn new(global: Arc<Config>, startup: &[(String, String)]) -> PgResult<SessionConfig> {
        SessionConfig::new_for_role(global, startup, true)
    }

    /// [`SessionConfig::new`] for a role whose superuser status is known.
    pub fn new_for_role(
        global: Arc<Config>,
        startup: &[(String, String)],
        superuser: bool,
    ) -> PgResult<SessionConfig> {
        let n = registry().len();
        let mut s = SessionConfig {
            global,
            vals: vec![None; n],
            reset_vals: vec![None; n],
            custom: BTreeMap::new(),
            in_xact: false,
            saved: HashMap::new(),
            last_reported: HashMap::new(),
            superuser,
        };
        s.force("is_superuser", if superuser { "on" } else { "off" });
        // `options` first, then the explicit parameters, which win (PostgreSQL's order).
        for (k, v) in startup {
            if k == "options" {
                for (name, value) in parse_startup_options(v)? {
                    s.apply_startup(&name, &value).map_err(fatal)?;
                }
            }
        }
        for (k, v) in startup {
            match k.as_str() {
                "options" | "database" | "replication" => {}
                "user" => s.force("session_authorization", v),
                _ if k.starts_with("_pq_.") => {}
                _ => s.apply_startup(k, v).map_err(fatal)?,
            }
        }
        // The server sends `reported()` right after startup: later changes only.
        for (name, v) in s.reported() {
            if let Some(i) = registry().find(&name) {
                s.last_reported.insert(i, v);
            }
        }
        Ok(s)
    }

    /// Sets a session value (and its reset value) without checks.
    fn force(&mut self, name: &str, value: &str) {
        if let Some(i) = registry().find(name) {
            let v = SessVal {
                val: Val::Str(Arc::from(value)),
                source: Source::Client,
            };
            let v = match registry().def(i).kind {
                Kind::Str => v,
                _ => match parse_value(registry().def(i), name, value) {
                    Ok(val) => SessVal { val, ..v },
                    Err(_) => return,
                },
            };
            self.vals[i] = Some(v.clone());
            self.reset_vals[i] = Some(v);
        }
    }

    fn apply_startup(&mut self, name: &str, value: &str) -> PgResult<()> {
        let Some(i) = registry().find(name) else {
            if is_custom_name(name) {
                let v = SessVal {
                    val: Val::Str(Arc::from(value)),
                    source: Source::Client,
                };
                self.custom
                    .insert(name.to_ascii_lowercase(), (name.to_string(), v));
                return Ok(());
            }
            return Err(unrecognized(name));
        };
        let def = registry().def(i);
        check_context(def, name, self.superuser, true)?;
        let v = SessVal {
            val: parse_value(def, name, value)?,
            source: Source::Client,
        };
        self.vals[i] = Some(v.clone());
        self.reset_vals[i] = Some(v);
        Ok(())
    }

    /// After authentication: the session user and whether it is a superuser
    /// (`session_authorization`, `is_superuser`; SUSET permission checks).
    pub fn set_session_user(&mut self, user: &str, superuser: bool) {
        self.superuser = superuser;
        self.force("session_authorization", user);
        self.force("is_superuser", if superuser { "on" } else { "off" });
    }

    pub fn global(&self) -> &Arc<Config> {
        &self.global
    }

    pub fn in_transaction(&self) -> bool {
        self.in_xact
    }

    /// The WARNING PostgreSQL sends for `SET LOCAL` outside a transaction block.
    pub fn set_local_warning() -> PgError {
        PgError {
            code: SqlState::NO_ACTIVE_SQL_TRANSACTION,
            ..PgError::warning("SET LOCAL can only be used in transaction blocks")
        }
    }

    fn current_val(&self, i: usize) -> Val {
        match &self.vals[i] {
            Some(v) => v.val.clone(),
            None => self.global.val_at(i),
        }
    }

    fn show_idx(&self, i: usize) -> String {
        format_value(registry().def(i), &self.current_val(i), true)
    }

    /// `SHOW name` / `current_setting(name)`. Unknown name:
    /// `42704 unrecognized configuration parameter "name"`.
    pub fn show(&self, name: &str) -> PgResult<String> {
        if let Some(i) = registry().find(name) {
            return Ok(self.show_idx(i));
        }
        let lower = name.to_ascii_lowercase();
        if let Some((_, v)) = self.custom.get(&lower) {
            return Ok(format!("{}", ShowStr(&v.val)));
        }
        match self.global.custom_value(&lower) {
            Some((_, v)) => Ok(v),
            None => Err(unrecognized(name)),
        }
    }

    fn entry(&self, key: &Key) -> Entry {
        match key {
            Key::Guc(i) => self.vals[*i].clone().map(|v| (String::new(), v)),
            Key::Custom(l) => self.custom.get(l).cloned(),
        }
    }

    fn put(&mut self, key: &Key, e: Entry) {
        match key {
            Key::Guc(i) => self.vals[*i] = e.map(|(_, v)| v),
            Key::Custom(l) => {
                match e {
                    Some(e) => self.custom.insert(l.clone(), e),
                    None => self.custom.remove(l),
                };
            }
        }
    }

    /// Installs a new session value, recording what a transaction end must restore.
    fn assign(&mut self, key: Key, new: Entry, local: bool) {
        if self.in_xact {
            let prior = self.entry(&key);
            let saved = self.saved.entry(key.clone()).or_insert(Saved {
                prior,
                surviving: None,
            });
            if !local {
                saved.surviving = Some(new.clone());
            }
        } else if local {
            return;
        }
        self.put(&key, new);
    }

    /// The ParameterStatus to send if `i` is reported and its value changed.
    fn report_if_changed(&mut self, i: usize) -> Option<(String, String)> {
        let def = registry().def(i);
        if !def.has(REPORT) {
            return None;
        }
        let shown = self.show_idx(i);
        if self.last_reported.get(&i) == Some(&shown) {
            return None;
        }
        self.last_reported.insert(i, shown.clone());
        Some((def.name.to_string(), shown))
    }

    /// `SET [LOCAL] name TO value` (`value == None` is `TO DEFAULT`).
    /// Returns `Some((name, value))` when the change must be reported to the client
    /// with ParameterStatus (GUC_REPORT settings such as `application_name`).
    /// List values (`SET search_path TO a, b`) come joined with `", "`.
    pub fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
        local: bool,
        superuser: bool,
    ) -> PgResult<Option<(String, String)>> {
        let Some(i) = registry().find(name) else {
            if !is_custom_name(name) {
                return Err(unrecognized(name));
            }
            let new = value.map(|v| {
                let sv = SessVal {
                    val: Val::Str(Arc::from(v)),
                    source: Source::Session,
                };
                (name.to_string(), sv)
            });
            self.assign(Key::Custom(name.to_ascii_lowercase()), new, local);
            return Ok(None);
        };
        let def = registry().def(i);
        check_context(def, name, superuser, false)?;
        let new = match value {
            Some(v) => Some(SessVal {
                val: parse_value(def, name, v)?,
                source: Source::Session,
            }),
            None => self.reset_vals[i].clone(),
        };
        self.assign(Key::Guc(i), new.map(|v| (String::new(), v)), local);
        Ok(self.report_if_changed(i))
    }

    /// `RESET name`; `RESET ALL` with `name == "all"` (which leaves settings marked
    /// NO_RESET_ALL and those a user cannot SET alone; call
    /// [`SessionConfig::take_reports`] afterwards for the ParameterStatus messages).
    pub fn reset(&mut self, name: &str) -> PgResult<Option<(String, String)>> {
        if !name.eq_ignore_ascii_case("all") {
            return self.set(name, None, false, self.superuser);
        }
        let reg = registry();
        for i in 0..reg.len() {
            let def = reg.def(i);
            if def.has(NO_RESET_ALL) || !matches!(def.context, Context::User | Context::Superuser) {
                continue;
            }
            if self.vals[i] != self.reset_vals[i] {
                let new = self.reset_vals[i].clone().map(|v| (String::new(), v));
                self.assign(Key::Guc(i), new, false);
            }
        }
        let customs: Vec<String> = self.custom.keys().cloned().collect();
        for c in customs {
            self.assign(Key::Custom(c), None, false);
        }
        Ok(None)
    }

    /// Call at transaction start / end so SET LOCAL and rolled-back SETs revert.
    pub fn begin_transaction(&mut self) {
        self.in_xact = true;
    }

    /// `SAVEPOINT`: the values and the transaction's save scope as they are now.
    pub fn savepoint(&self) -> ConfigSavepoint {
        ConfigSavepoint {
            vals: self.vals.clone(),
            custom: self.custom.clone(),
            saved: self.saved.clone(),
        }
    }

    /// `ROLLBACK TO SAVEPOINT`: undoes the SETs made since `sp` (reported
    /// settings may change: call [`SessionConfig::take_reports`] afterwards).
    pub fn rollback_to(&mut self, sp: &ConfigSavepoint) {
        self.vals.clone_from(&sp.vals);
        self.custom.clone_from(&sp.custom);
        self.saved.clone_from(&sp.saved);
    }

    /// Ends the save scope. Reported settings may change (a rolled-back
    /// `SET application_name`): call [`SessionConfig::take_reports`] afterwards.
    pub fn end_transaction(&mut self, committed: bool) {
        self.in_xact = false;
        let saved: Vec<(Key, Saved)> = self.saved.drain().collect();
        for (key, s) in saved {
            let restore = match (committed, s.surviving) {
                (true, Some(v)) => v,
                _ => s.prior,
            };
            self.put(&key, restore);
        }
    }

    /// Reported settings whose value differs from what the client last heard
    /// (ParameterStatus to send); remembers them as sent.
    pub fn take_reports(&mut self) -> Vec<(String, String)> {
        let reg = registry();
        reg.sorted
            .clone()
            .into_iter()
            .filter_map(|i| self.report_if_changed(i))
            .collect()
    }

    /// Values the server reports at startup (`server_version`, `client_encoding`,
    /// `DateStyle`, `integer_datetimes`, `TimeZone`, `standard_conforming_strings`,
    /// `application_name`, `is_superuser`, `session_authorization`, ...), in
    /// PostgreSQL's (alphabetical) order.
    pub fn reported(&self) -> Vec<(String, String)> {
        let reg = registry();
        reg.sorted
            .iter()
            .filter(|&&i| reg.def(i).has(REPORT))
            .map(|&i| (reg.def(i).name.to_string(), self.show_idx(i)))
            .collect()
    }

    /// `SHOW ALL` rows: (name, setting, description).
    pub fn show_all(&self) -> Vec<(String, String, String)> {
        let reg = registry();
        reg.sorted
            .iter()
            .filter(|&&i| !reg.def(i).has(NO_SHOW_ALL))
            .map(|&i| {
                let d = reg.def(i);
                (d.name.to_string(), self.show_idx(i), d.desc.to_string())
            })
            .collect()
    }

    /// `pg_settings` rows with this session's effective values.
    pub fn settings_rows(&self) -> Vec<SettingRow> {
        let reg = registry();
        reg.sorted
            .iter()
            .filter(|&&i| !reg.def(i).has(NO_SHOW_ALL))
            .map(|&i| self.row(i))
            .collect()
    }

    fn row(&self, i: usize) -> SettingRow {
        let def = registry().def(i);
        let slot = self.global.slot(i);
        let raw = |v: &Val| match v {
            Val::Int(n) => n.to_string(),
            other => format_value(def, other, false),
        };
        let (min_val, max_val) = match def.kind {
            Kind::Int { min, max } => (Some(min.to_string()), Some(max.to_string())),
            Kind::Real { min, max } => (Some(format_real(min)), Some(format_real(max))),
            _ => (None, None),
        };
        let source = match &self.vals[i] {
            Some(v) => v.source,
            None => slot.source,
        };
        let reset = match &self.reset_vals[i] {
            Some(v) => v.val.clone(),
            None => slot.val.clone(),
        };
        SettingRow {
            name: def.name.to_string(),
            setting: format_value(def, &self.current_val(i), false),
            unit: def.unit.pg_name().map(str::to_string),
            category: def.category.to_string(),
            short_desc: def.desc.to_string(),
            context: def.context.as_str().to_string(),
            vartype: def.kind.vartype().to_string(),
            source: source.as_str().to_string(),
            min_val,
            max_val,
            enumvals: enum_values(def),
            boot_val: raw(&boot_value(def)),
            reset_val: raw(&reset),
            pending_restart: slot.pending_restart,
        }
    }

    pub fn get_bool(&self, name: &str) -> bool {
        match self.current_val(index_of(name)) {
            Val::Bool(b) => b,
            other => panic!("{name} is not a bool: {other:?}"),
        }
    }
    /// Integers in the base unit (ms, kB, ...); enums as their index.
    pub fn get_int(&self, name: &str) -> i64 {
        match self.current_val(index_of(name)) {
            Val::Int(i) => i,
            Val::Enum(e) => i64::from(e),
            other => panic!("{name} is not an integer: {other:?}"),
        }
    }
    pub fn get_real(&self, name: &str) -> f64 {
        match self.current_val(index_of(name)) {
            Val::Real(r) => r,
            Val::Int(i) => i as f64,
            other => panic!("{name} is not a real: {other:?}"),
        }
    }
    /// An enum setting's current value, as its label (no allocation: read
    /// at every transaction start).
    pub fn get_enum(&self, name: &str) -> &'static str {
        let i = index_of(name);
        match (self.current_val(i), &registry().def(i).kind) {
            (Val::Enum(e), crate::tables::Kind::Enum { values, .. }) => {
                values.get(e as usize).copied().unwrap_or("")
            }
            (other, _) => panic!("{name} is not an enum: {other:?}"),
        }
    }
    /// Any setting as SHOW prints it.
    pub fn get_str(&self, name: &str) -> String {
        self.show_idx(index_of(name))
    }

    /// A string setting's current value, shared (no copy: read at every
    /// statement start).
    pub fn get_shared_str(&self, name: &str) -> Arc<str> {
        match self.current_val(index_of(name)) {
            Val::Str(s) => s,
            other => panic!("{name} is not a string: {other:?}"),
        }
    }

    /// This session's `synchronous_commit` (user-settable, so read it here at commit).
    pub fn synchronous_commit(&self) -> SyncCommit {
        match self.current_val(index_of("synchronous_commit")) {
            Val::Enum(e) => sync_commit_from_index(e),
            _ => SyncCommit::On,
        }
    }
}

fn index_of(name: &str) -> usize {
    match registry().find(name) {
        Some(i) => i,
        None => panic!("unknown configuration parameter \"{name}\" (a programming error)"),
    }
}

/// Displays a custom setting's string value.
struct ShowStr<'a>(&'a Val);

impl std::fmt::Display for ShowStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Val::Str(s) => f.write_str(s),
            other => write!(f, "{other:?}"),
        }
    }
}
