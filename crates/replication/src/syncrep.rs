//! Synchronous replication: the `synchronous_standby_names` language
//! (`FIRST n (a, b)`, `ANY n (a, b)`, `n (a, b)`, a plain list, `*`, quoted names),
//! the decision of which standbys are synchronous and which LSN is safe for each
//! wait mode (pure functions over a snapshot of the walsenders), and the shared
//! wait point where committing sessions sleep until the quorum reaches their
//! commit LSN (a condition variable woken when a standby reply moves the safe
//! positions, when the setting is reloaded, or when a waiter is canceled).
//!
//! Corresponds to PostgreSQL's `syncrep.c`, `syncrep_gram.y` and
//! `syncrep_scanner.l`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::physical::WalSndState;

/// How the listed standbys are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMethod {
    /// `FIRST n (...)`: the n highest-priority (earliest listed) standbys.
    Priority,
    /// `ANY n (...)`: any n of the listed standbys.
    Quorum,
}

/// A parsed, non-empty `synchronous_standby_names`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRepConfig {
    pub method: SyncMethod,
    pub num_sync: usize,
    pub names: Vec<String>,
}

/// The wait modes of `synchronous_commit` that involve standbys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    Write = 0,
    Flush = 1,
    Apply = 2,
}

fn invalid(setting: &str, value: &str, detail: String) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{setting}\": \"{value}\""),
    )
    .with_detail(detail)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Name(String),
    Num(String),
    First,
    Any,
    LParen,
    RParen,
    Comma,
}

fn scan(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '*' {
            out.push(Tok::Name("*".into()));
            i += 1;
        } else if c == '"' {
            let mut name = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quoted identifier".into()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        name.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        name.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Name(name));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' || !c.is_ascii() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.to_ascii_lowercase().as_str() {
                "first" => Tok::First,
                "any" => Tok::Any,
                _ => Tok::Name(word),
            });
        } else {
            return Err(format!("syntax error at or near \"{c}\""));
        }
    }
    Ok(out)
}

/// Parses `synchronous_standby_names`; `Ok(None)` for an empty value (no
/// synchronous replication).
pub fn parse_standby_names(value: &str) -> PgResult<Option<SyncRepConfig>> {
    parse_standby_list("synchronous_standby_names", value)
}

/// The `synchronous_standby_names` grammar for the setting `setting` (also
/// the quorum forms of `synchronized_standby_slots`); errors name `setting`.
pub fn parse_standby_list(setting: &str, value: &str) -> PgResult<Option<SyncRepConfig>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let toks = scan(value).map_err(|d| invalid(setting, value, d))?;
    let syntax = |t: Option<&Tok>| {
        invalid(
            setting,
            value,
            match t {
                None => "syntax error at end of input".to_string(),
                Some(t) => format!("syntax error at or near \"{}\"", tok_text(t)),
            },
        )
    };
    let (method, num, rest) = match toks.as_slice() {
        [Tok::First, Tok::Num(n), Tok::LParen, rest @ ..] => (SyncMethod::Priority, Some(n), rest),
        [Tok::Any, Tok::Num(n), Tok::LParen, rest @ ..] => (SyncMethod::Quorum, Some(n), rest),
        [Tok::Num(n), Tok::LParen, rest @ ..] => (SyncMethod::Priority, Some(n), rest),
        _ => (SyncMethod::Priority, None, toks.as_slice()),
    };
    let mut names = Vec::new();
    let mut i = 0;
    loop {
        match rest.get(i) {
            Some(Tok::Name(n)) | Some(Tok::Num(n)) => names.push(n.clone()),
            other => return Err(syntax(other)),
        }
        i += 1;
        match rest.get(i) {
            Some(Tok::Comma) => i += 1,
            Some(Tok::RParen) if num.is_some() => {
                if i + 1 != rest.len() {
                    return Err(syntax(rest.get(i + 1)));
                }
                break;
            }
            None if num.is_none() => break,
            other => return Err(syntax(other)),
        }
    }
    let num_sync = match num {
        None => 1,
        Some(n) => {
            let v: i64 = n.parse().unwrap_or(i64::MAX);
            if v <= 0 {
                return Err(PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("number of synchronous standbys ({v}) must be greater than zero"),
                ));
            }
            usize::try_from(v).unwrap_or(usize::MAX)
        }
    };
    Ok(Some(SyncRepConfig {
        method,
        num_sync,
        names,
    }))
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Name(n) | Tok::Num(n) => n.clone(),
        Tok::First => "FIRST".into(),
        Tok::Any => "ANY".into(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Comma => ",".into(),
    }
}

/// One walsender as the decision sees it.
#[derive(Clone, Debug)]
pub struct StandbyInfo {
    pub application_name: String,
    pub state: WalSndState,
    pub write: Lsn,
    pub flush: Lsn,
    pub apply: Lsn,
}

/// What the decision gives: per standby (same order as the input) its
/// `sync_priority` and `sync_state`, and the safe LSN per wait mode (`None`
/// when not enough synchronous standbys are connected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncDecision {
    pub priorities: Vec<i32>,
    pub states: Vec<&'static str>,
    /// indexed by [`WaitMode`]
    pub safe: [Option<Lsn>; 3],
}

/// A standby's priority: 1-based position of the first matching name (`*`
/// matches all; names compare case-insensitively); 0 = not listed (async).
/// Every listed standby has priority 1 under `ANY`.
pub fn standby_priority(cfg: &SyncRepConfig, application_name: &str) -> i32 {
    for (i, n) in cfg.names.iter().enumerate() {
        if n == "*" || n.eq_ignore_ascii_case(application_name) {
            return match cfg.method {
                SyncMethod::Priority => i32::try_from(i + 1).unwrap_or(i32::MAX),
                SyncMethod::Quorum => 1,
            };
        }
    }
    0
}

/// The synchronous standbys and safe positions, as PostgreSQL's
/// `SyncRepGetSyncRecPtr` / `pg_stat_get_wal_senders` compute them.
pub fn decide(cfg: Option<&SyncRepConfig>, standbys: &[StandbyInfo]) -> SyncDecision {
    let Some(cfg) = cfg else {
        return SyncDecision {
            priorities: vec![0; standbys.len()],
            states: vec!["async"; standbys.len()],
            safe: [None; 3],
        };
    };
    let priorities: Vec<i32> = standbys
        .iter()
        .map(|s| standby_priority(cfg, &s.application_name))
        .collect();
    // candidates: streaming, listed, with a valid flush position
    let mut cand: Vec<usize> = (0..standbys.len())
        .filter(|&i| {
            priorities[i] > 0
                && standbys[i].state == WalSndState::Streaming
                && standbys[i].flush.is_valid()
        })
        .collect();
    let sync: Vec<usize> = match cfg.method {
        SyncMethod::Quorum => cand.clone(),
        SyncMethod::Priority => {
            cand.sort_by_key(|&i| (priorities[i], i));
            cand.truncate(cfg.num_sync);
            cand.clone()
        }
    };
    let states = (0..standbys.len())
        .map(|i| {
            if priorities[i] == 0 {
                "async"
            } else if sync.contains(&i) {
                match cfg.method {
                    SyncMethod::Priority => "sync",
                    SyncMethod::Quorum => "quorum",
                }
            } else {
                "potential"
            }
        })
        .collect();
    let mut safe = [None; 3];
    if sync.len() >= cfg.num_sync {
        let pick = |f: fn(&StandbyInfo) -> Lsn| -> Lsn {
            let mut v: Vec<Lsn> = sync.iter().map(|&i| f(&standbys[i])).collect();
            match cfg.method {
                // the oldest of the chosen ones
                SyncMethod::Priority => v.into_iter().min().unwrap_or(Lsn::INVALID),
                // the num_sync-th newest
                SyncMethod::Quorum => {
                    v.sort_by(|a, b| b.cmp(a));
                    v.get(cfg.num_sync - 1).copied().unwrap_or(Lsn::INVALID)
                }
            }
        };
        safe = [
            Some(pick(|s| s.write)),
            Some(pick(|s| s.flush)),
            Some(pick(|s| s.apply)),
        ];
    }
    SyncDecision {
        priorities,
        states,
        safe,
    }
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The quorum reached the LSN (or synchronous replication is off).
    Released,
    /// The session's cancel flag was set.
    Canceled,
    /// Server shutdown.
    Shutdown,
}

struct WaitState {
    config: Option<SyncRepConfig>,
    /// highest safe LSN seen per mode (only moves forward, as WalSndCtl->lsn)
    released: [Lsn; 3],
    shutdown: bool,
}

/// The node-wide wait point of committing sessions (PostgreSQL's SyncRepQueue).
pub struct SyncRepWaiters {
    state: Mutex<WaitState>,
    cond: Condvar,
}

impl Default for SyncRepWaiters {
    fn default() -> Self {
        SyncRepWaiters::new()
    }
}

impl SyncRepWaiters {
    pub fn new() -> SyncRepWaiters {
        SyncRepWaiters {
            state: Mutex::new(WaitState {
                config: None,
                released: [Lsn::INVALID; 3],
                shutdown: false,
            }),
            cond: Condvar::new(),
        }
    }

    /// The current configuration (None = no synchronous replication).
    pub fn config(&self) -> Option<SyncRepConfig> {
        self.state.lock().config.clone()
    }

    /// A (re)loaded `synchronous_standby_names`; waking everyone (an empty value
    /// releases all waiters).
    pub fn set_config(&self, cfg: Option<SyncRepConfig>) {
        let mut s = self.state.lock();
        s.config = cfg;
        self.cond.notify_all();
    }

    /// New safe positions from a decision; wakes waiters when one moved.
    pub fn update(&self, safe: [Option<Lsn>; 3]) {
        let mut s = self.state.lock();
        let mut moved = false;
        for (r, n) in s.released.iter_mut().zip(safe) {
            if let Some(n) = n {
                if n > *r {
                    *r = n;
                    moved = true;
                }
            }
        }
        if moved {
            self.cond.notify_all();
        }
    }

    /// Wakes all waiters (so they look at their cancel flags).
    pub fn wake_all(&self) {
        let _guard = self.state.lock();
        self.cond.notify_all();
    }

    /// Server shutdown: releases every waiter for good.
    pub fn shutdown(&self) {
        let mut s = self.state.lock();
        s.shutdown = true;
        self.cond.notify_all();
    }

    /// Whether a commit at `lsn` would have to wait in `mode` right now.
    pub fn must_wait(&self, lsn: Lsn, mode: WaitMode) -> bool {
        let s = self.state.lock();
        s.config.is_some() && !s.shutdown && s.released[mode as usize] < lsn
    }

    /// Waits until the quorum has reached `lsn` in `mode`, the setting is
    /// emptied, the server shuts down, or `cancel` is set. Woken by
    /// [`update`](Self::update) / [`set_config`](Self::set_config) /
    /// [`wake_all`](Self::wake_all); the cancel flag is also looked at every
    /// 100 ms (as row-lock waits do), in case its setter did not wake us.
    pub fn wait(&self, lsn: Lsn, mode: WaitMode, cancel: &AtomicBool) -> WaitOutcome {
        let mut s = self.state.lock();
        loop {
            if s.config.is_none() || s.released[mode as usize] >= lsn {
                return WaitOutcome::Released;
            }
            if s.shutdown {
                return WaitOutcome::Shutdown;
            }
            if cancel.load(Ordering::SeqCst) {
                return WaitOutcome::Canceled;
            }
            self.cond.wait_for(&mut s, Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn cfg(s: &str) -> SyncRepConfig {
        match parse_standby_names(s) {
            Ok(Some(c)) => c,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_all_forms() {
        assert_eq!(parse_standby_names("").ok(), Some(None));
        assert_eq!(parse_standby_names("  ").ok(), Some(None));
        let c = cfg("FIRST 2 (a, b, c)");
        assert_eq!((c.method, c.num_sync), (SyncMethod::Priority, 2));
        assert_eq!(c.names, names(&["a", "b", "c"]));
        let c = cfg("any 1 (s1,s2)");
        assert_eq!((c.method, c.num_sync), (SyncMethod::Quorum, 1));
        assert_eq!(c.names, names(&["s1", "s2"]));
        let c = cfg("2 (a, b)");
        assert_eq!((c.method, c.num_sync), (SyncMethod::Priority, 2));
        let c = cfg("a, b");
        assert_eq!((c.method, c.num_sync), (SyncMethod::Priority, 1));
        assert_eq!(c.names, names(&["a", "b"]));
        let c = cfg("*");
        assert_eq!(c.names, names(&["*"]));
        let c = cfg("\"my \"\"node\"\"\", 42");
        assert_eq!(c.names, names(&["my \"node\"", "42"]));
        assert_eq!(cfg("s1").names, names(&["s1"]));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "FIRST 1 (a",
            "(a)",
            "a,",
            "ANY (a)",
            "FIRST 1 (a) b",
            "a b",
            "a;",
        ] {
            let e = parse_standby_names(bad).expect_err(bad);
            assert_eq!(
                e.message,
                format!("invalid value for parameter \"synchronous_standby_names\": \"{bad}\"")
            );
        }
        let e = parse_standby_names("0 (a)").expect_err("zero");
        assert_eq!(
            e.message,
            "number of synchronous standbys (0) must be greater than zero"
        );
    }

    fn sb(name: &str, state: WalSndState, w: u64, f: u64, a: u64) -> StandbyInfo {
        StandbyInfo {
            application_name: name.into(),
            state,
            write: Lsn(w),
            flush: Lsn(f),
            apply: Lsn(a),
        }
    }

    use WalSndState::{Catchup, Streaming};

    #[test]
    fn no_config_is_all_async() {
        let d = decide(None, &[sb("a", Streaming, 1, 1, 1)]);
        assert_eq!(d.priorities, vec![0]);
        assert_eq!(d.states, vec!["async"]);
        assert_eq!(d.safe, [None; 3]);
    }

    #[test]
    fn first_picks_highest_priority() {
        let c = cfg("FIRST 1 (b, a)");
        let list = [
            sb("a", Streaming, 300, 200, 100),
            sb("b", Streaming, 30, 20, 10),
            sb("c", Streaming, 999, 999, 999),
        ];
        let d = decide(Some(&c), &list);
        assert_eq!(d.priorities, vec![2, 1, 0]);
        assert_eq!(d.states, vec!["potential", "sync", "async"]);
        assert_eq!(d.safe, [Some(Lsn(30)), Some(Lsn(20)), Some(Lsn(10))]);
        // b not streaming: a takes over
        let mut l2 = list.clone();
        l2[1].state = Catchup;
        let d = decide(Some(&c), &l2);
        assert_eq!(d.states, vec!["sync", "potential", "async"]);
        assert_eq!(d.safe, [Some(Lsn(300)), Some(Lsn(200)), Some(Lsn(100))]);
        // FIRST 2: min over both
        let d = decide(Some(&cfg("FIRST 2 (b, a)")), &list);
        assert_eq!(d.states, vec!["sync", "sync", "async"]);
        assert_eq!(d.safe, [Some(Lsn(30)), Some(Lsn(20)), Some(Lsn(10))]);
        // FIRST 2 with one missing: nothing safe
        let d = decide(Some(&cfg("FIRST 2 (b, a)")), &l2);
        assert_eq!(d.safe, [None; 3]);
        assert_eq!(d.states, vec!["sync", "potential", "async"]);
    }

    #[test]
    fn star_and_case_insensitive_names() {
        let c = cfg("\"S1\"");
        let d = decide(Some(&c), &[sb("s1", Streaming, 5, 5, 5)]);
        assert_eq!(d.states, vec!["sync"]);
        let c = cfg("x, *");
        let d = decide(
            Some(&c),
            &[sb("q", Streaming, 5, 5, 5), sb("x", Streaming, 7, 7, 7)],
        );
        assert_eq!(d.priorities, vec![2, 1]);
        assert_eq!(d.states, vec!["potential", "sync"]);
        assert_eq!(d.safe[1], Some(Lsn(7)));
    }

    #[test]
    fn any_takes_nth_newest() {
        let c = cfg("ANY 2 (a, b, c)");
        let list = [
            sb("a", Streaming, 10, 10, 10),
            sb("b", Streaming, 30, 20, 5),
            sb("c", Streaming, 20, 30, 1),
            sb("d", Streaming, 99, 99, 99),
        ];
        let d = decide(Some(&c), &list);
        assert_eq!(d.priorities, vec![1, 1, 1, 0]);
        assert_eq!(d.states, vec!["quorum", "quorum", "quorum", "async"]);
        assert_eq!(d.safe, [Some(Lsn(20)), Some(Lsn(20)), Some(Lsn(5))]);
        let d = decide(Some(&c), &list[..1]);
        assert_eq!(d.safe, [None; 3]);
    }

    #[test]
    fn waiters_released_by_update_and_config() {
        let w = Arc::new(SyncRepWaiters::new());
        let cancel = Arc::new(AtomicBool::new(false));
        // no config: no wait
        assert_eq!(
            w.wait(Lsn(10), WaitMode::Flush, &cancel),
            WaitOutcome::Released
        );
        w.set_config(Some(cfg("s1")));
        assert!(w.must_wait(Lsn(10), WaitMode::Flush));
        let (w2, c2) = (w.clone(), cancel.clone());
        let t = std::thread::spawn(move || w2.wait(Lsn(10), WaitMode::Flush, &c2));
        w.update([Some(Lsn(20)), Some(Lsn(5)), None]);
        assert!(w.must_wait(Lsn(10), WaitMode::Flush));
        assert!(!w.must_wait(Lsn(10), WaitMode::Write));
        w.update([None, Some(Lsn(10)), None]);
        assert_eq!(t.join().ok(), Some(WaitOutcome::Released));
        // released positions never go back
        w.update([Some(Lsn(1)), Some(Lsn(1)), Some(Lsn(1))]);
        assert!(!w.must_wait(Lsn(10), WaitMode::Flush));
        // emptying the setting releases
        let w3 = w.clone();
        let c3 = cancel.clone();
        let t = std::thread::spawn(move || w3.wait(Lsn(100), WaitMode::Apply, &c3));
        w.set_config(None);
        assert_eq!(t.join().ok(), Some(WaitOutcome::Released));
        // cancel
        w.set_config(Some(cfg("s1")));
        cancel.store(true, Ordering::SeqCst);
        assert_eq!(
            w.wait(Lsn(100), WaitMode::Apply, &cancel),
            WaitOutcome::Canceled
        );
    }
}
