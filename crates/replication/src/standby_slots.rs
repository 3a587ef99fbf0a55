//! `synchronized_standby_slots` on a primary: the physical slots whose
//! standbys must have flushed WAL before logical walsenders and the SQL
//! decoding functions hand changes of a failover slot to their consumers, so a
//! subscriber never gets ahead of the standby it would fail over to.
//!
//! This module owns the setting's language ([`parse`], the check a `SET`,
//! reload or `ALTER SYSTEM` runs) and the caught-up test ([`caught_up`]) with
//! its problem reports ([`Problem::report`]), as pure functions of the list and
//! a snapshot of the slot registry. The waits that use them are in the server
//! crate: the logical walsender's streaming loop and the SQL decoding
//! functions.
//!
//! Besides PostgreSQL's plain list (every listed slot must have flushed), the
//! setting takes the quorum forms of `synchronous_standby_names`, parsed by
//! the same grammar (`syncrep.rs`): `ANY n (a, b, c)` (any n listed slots
//! have flushed) and `FIRST n (a, b, c)` or `n (a, b, c)` (the n
//! highest-priority slots, earliest listed first, among those whose standby
//! is streaming, have flushed: PostgreSQL's priority rule for synchronous
//! standbys, applied to slots). A missing, logical, invalidated or inactive
//! slot is reported only while it keeps the quorum from being reached.
//!
//! Corresponds to PostgreSQL's `slot.c`: `check_synchronized_standby_slots`
//! (the check hook) and `StandbySlotsHaveCaughtup`.

use tandem_types::error::Severity;
use tandem_types::ident::NAMEDATALEN;
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::slot::{validate_name, SlotInfo, SlotRegistry};
use crate::syncrep::{parse_standby_list, SyncMethod};

/// Which of the listed slots must have flushed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quorum {
    /// The plain list: every slot (PostgreSQL's meaning).
    #[default]
    All,
    /// `ANY n (...)`: any n slots.
    Any(usize),
    /// `FIRST n (...)`, `n (...)`: the n earliest listed slots whose
    /// standby streams.
    First(usize),
}

/// A parsed `synchronized_standby_slots`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StandbySlots {
    pub quorum: Quorum,
    pub names: Vec<String>,
}

impl StandbySlots {
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The setting's name, as errors and reports spell it.
pub const SETTING: &str = "synchronized_standby_slots";

/// The name the setting had before PostgreSQL 17.0, still accepted.
pub const OLD_SETTING: &str = "standby_slot_names";

fn invalid_value(value: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{SETTING}\": \"{value}\""),
    )
}

/// Parses the setting: a comma-separated identifier list (double quotes keep
/// a name as written, other names are folded to lower case; white space
/// around names is ignored), or a quorum form of the
/// `synchronous_standby_names` grammar (names as written there), each name a
/// valid slot name. Existence and slot type are not checked here. Errors:
/// `22023 invalid value for parameter "synchronized_standby_slots": "..."`
/// with detail `List syntax is invalid.` (plain list) or the grammar's
/// syntax error (quorum form), or with the slot-name error as detail.
pub fn parse(value: &str) -> PgResult<StandbySlots> {
    let parsed = if value.contains('(') {
        let Some(cfg) = parse_standby_list(SETTING, value)? else {
            return Ok(StandbySlots::default());
        };
        StandbySlots {
            quorum: match cfg.method {
                SyncMethod::Quorum => Quorum::Any(cfg.num_sync),
                SyncMethod::Priority => Quorum::First(cfg.num_sync),
            },
            names: cfg.names,
        }
    } else {
        let Some(names) = split_identifiers(value) else {
            return Err(invalid_value(value).with_detail("List syntax is invalid."));
        };
        StandbySlots {
            quorum: Quorum::All,
            names,
        }
    };
    let names = &parsed.names;
    for name in names {
        if let Err(e) = validate_name(name) {
            let mut err = invalid_value(value).with_detail(e.message);
            err.code = e.code;
            return Err(err);
        }
    }
    Ok(parsed)
}

/// An identifier list separated by commas (PostgreSQL's
/// `SplitIdentifierString(s, ',')`); `None` on bad syntax. Names longer than
/// `NAMEDATALEN - 1` bytes are truncated, as identifiers are.
fn split_identifiers(s: &str) -> Option<Vec<String>> {
    let space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches(space);
    if rest.is_empty() {
        return Some(out);
    }
    loop {
        let mut name = String::new();
        if let Some(body) = rest.strip_prefix('"') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c != '"' {
                    name.push(c);
                } else if chars.peek().is_some_and(|&(_, n)| n == '"') {
                    name.push('"');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            }
            let end = end?;
            if name.is_empty() {
                return None;
            }
            rest = &body[end..];
        } else {
            let end = rest
                .find(|c: char| c == ',' || space(c))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            name = rest[..end].to_ascii_lowercase();
            rest = &rest[end..];
        }
        truncate(&mut name);
        out.push(name);
        rest = rest.trim_start_matches(space);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start_matches(space);
        } else if rest.is_empty() {
            return Some(out);
        } else {
            return None;
        }
    }
}

fn truncate(name: &mut String) {
    if name.len() < NAMEDATALEN {
        return;
    }
    let mut cut = NAMEDATALEN - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name.truncate(cut);
}

/// Why a listed slot holds logical replication back in a way someone must
/// fix (a lagging standby that is connected is not a problem, only a wait).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No slot of that name.
    Missing(String),
    /// The slot is a logical slot.
    Logical(String),
    /// The physical slot was invalidated.
    Invalidated(String),
    /// The physical slot is behind and no standby streams from it.
    Inactive(String),
}

impl Problem {
    /// PostgreSQL's report of the problem at `severity` (WARNING while
    /// waiting, ERROR when a stopping walsender waits): message, detail,
    /// hint; SQLSTATE 22023 for a missing or logical slot, 55000 otherwise.
    pub fn report(&self, severity: Severity) -> PgError {
        let waiting_on = |name: &str| {
            format!("Logical replication is waiting on the standby associated with replication slot \"{name}\".")
        };
        let mut err = match self {
            Problem::Missing(name) => PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("replication slot \"{name}\" specified in parameter \"{SETTING}\" does not exist"),
            )
            .with_detail(waiting_on(name))
            .with_hint(format!(
                "Create the replication slot \"{name}\" or amend parameter \"{SETTING}\"."
            )),
            Problem::Logical(name) => PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("cannot specify logical replication slot \"{name}\" in parameter \"{SETTING}\""),
            )
            .with_detail(format!(
                "Logical replication is waiting for correction on replication slot \"{name}\"."
            ))
            .with_hint(format!(
                "Remove the logical replication slot \"{name}\" from parameter \"{SETTING}\"."
            )),
            Problem::Invalidated(name) => PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("physical replication slot \"{name}\" specified in parameter \"{SETTING}\" has been invalidated"),
            )
            .with_detail(waiting_on(name))
            .with_hint(format!(
                "Drop and recreate the replication slot \"{name}\", or amend parameter \"{SETTING}\"."
            )),
            Problem::Inactive(name) => PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!("replication slot \"{name}\" specified in parameter \"{SETTING}\" does not have active_pid"),
            )
            .with_detail(waiting_on(name))
            .with_hint(format!(
                "Start the standby associated with the replication slot \"{name}\", or amend parameter \"{SETTING}\"."
            )),
        };
        err.severity = severity;
        err
    }
}

/// A listed slot's problem, if it has one, and whether its standby has
/// flushed `lsn` (a physical slot's `restart_lsn` is its standby's flush
/// position).
fn judge(name: &str, slots: &[SlotInfo], lsn: Lsn) -> Result<bool, Problem> {
    let Some(slot) = slots.iter().find(|s| s.data.name == name) else {
        return Err(Problem::Missing(name.to_string()));
    };
    if slot.data.is_logical() {
        return Err(Problem::Logical(name.to_string()));
    }
    if slot.data.invalidated.is_some() {
        return Err(Problem::Invalidated(name.to_string()));
    }
    let flushed = slot
        .data
        .restart_lsn
        .is_some_and(|r| r.is_valid() && r >= lsn);
    if !flushed && slot.active_pid.is_none() {
        return Err(Problem::Inactive(name.to_string()));
    }
    Ok(flushed)
}

/// The listed slots that count for a `FIRST n` quorum, in priority order:
/// valid physical slots whose standby streams.
fn by_priority<'a>(list: &'a StandbySlots, slots: &'a [SlotInfo]) -> Vec<&'a SlotInfo> {
    list.names
        .iter()
        .filter_map(|n| slots.iter().find(|s| &s.data.name == n))
        .filter(|s| !s.data.is_logical() && s.data.invalidated.is_none())
        .filter(|s| s.active_pid.is_some())
        .collect()
}

/// Whether the slots of `list` have flushed `lsn` as its quorum asks
/// (PostgreSQL's `StandbySlotsHaveCaughtup`, without its cache). The plain
/// list walks the slots in order and stops at the first that is behind
/// (`Ok(false)`) or has a [`Problem`]; a quorum that is not reached reports
/// the first listed slot with a problem, if any. An empty list is always
/// caught up. `slots` is a snapshot of the registry.
pub fn caught_up(list: &StandbySlots, slots: &[SlotInfo], lsn: Lsn) -> Result<bool, Problem> {
    let reached = match list.quorum {
        Quorum::All => {
            for name in &list.names {
                if !judge(name, slots, lsn)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        Quorum::Any(n) => {
            list.names
                .iter()
                .filter(|name| judge(name, slots, lsn) == Ok(true))
                .count()
                >= n
        }
        Quorum::First(n) => {
            let chosen = by_priority(list, slots);
            chosen.len() >= n
                && chosen[..n]
                    .iter()
                    .all(|s| s.data.restart_lsn.is_some_and(|r| r.is_valid() && r >= lsn))
        }
    };
    if reached || list.names.is_empty() {
        return Ok(true);
    }
    match list
        .names
        .iter()
        .find_map(|name| judge(name, slots, lsn).err())
    {
        Some(p) => Err(p),
        None => Ok(false),
    }
}

/// The newest position the slots of `list` have flushed as its quorum asks:
/// for the plain list the oldest `restart_lsn` of them all, `None` if one is
/// missing, logical, invalidated or has none (nothing is known to be safe),
/// or the list is empty; for `ANY n` the n-th newest among the valid
/// physical slots; for `FIRST n` the oldest of the n chosen slots.
pub fn oldest_flush(list: &StandbySlots, slots: &[SlotInfo]) -> Option<Lsn> {
    let flushed = |s: &SlotInfo| s.data.restart_lsn.filter(|r| r.is_valid());
    match list.quorum {
        Quorum::All => {
            let mut oldest: Option<Lsn> = None;
            for name in &list.names {
                let slot = slots.iter().find(|s| &s.data.name == name)?;
                if slot.data.is_logical() || slot.data.invalidated.is_some() {
                    return None;
                }
                let r = flushed(slot)?;
                oldest = Some(oldest.map_or(r, |o| o.min(r)));
            }
            oldest
        }
        Quorum::Any(n) => {
            let mut positions: Vec<Lsn> = list
                .names
                .iter()
                .filter_map(|name| slots.iter().find(|s| &s.data.name == name))
                .filter(|s| !s.data.is_logical() && s.data.invalidated.is_none())
                .filter_map(flushed)
                .collect();
            positions.sort_unstable_by(|a, b| b.cmp(a));
            n.checked_sub(1).and_then(|i| positions.get(i).copied())
        }
        Quorum::First(n) => {
            let chosen = by_priority(list, slots);
            if n == 0 || chosen.len() < n {
                return None;
            }
            chosen[..n].iter().map(|s| flushed(s)).min().flatten()
        }
    }
}

/// The listed slots as they are now (missing ones left out), without
/// copying every slot of the server.
pub fn listed_slots(list: &StandbySlots, registry: &SlotRegistry) -> Vec<SlotInfo> {
    list.names
        .iter()
        .filter_map(|name| registry.get(name))
        .collect()
}

/// How far a failover slot's consumer may be sent changes when WAL is flushed
/// up to `end`: `end` when the listed standbys have flushed it as the quorum
/// asks, otherwise the newest position they flushed so ([`oldest_flush`], at
/// most `end`), and the problem to report if one holds replication back.
/// `None` as the position: nothing is known to be safe.
pub fn send_limit(
    list: &StandbySlots,
    slots: &[SlotInfo],
    end: Lsn,
) -> (Option<Lsn>, Option<Problem>) {
    match caught_up(list, slots, end) {
        Ok(true) => (Some(end), None),
        Ok(false) => (oldest_flush(list, slots).map(|o| o.min(end)), None),
        Err(p) => (oldest_flush(list, slots).map(|o| o.min(end)), Some(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{Invalidation, Persistency, SlotData};
    use tandem_types::Oid;

    fn physical(name: &str, restart: Option<u64>, active: bool) -> SlotInfo {
        let mut data = SlotData::physical(name, Persistency::Persistent);
        data.restart_lsn = restart.map(Lsn);
        SlotInfo {
            data,
            active_pid: active.then_some(4242),
            inactive_since: None,
            retained_restart_lsn: None,
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn all(v: &[&str]) -> StandbySlots {
        StandbySlots {
            quorum: Quorum::All,
            names: names(v),
        }
    }

    #[test]
    fn parses_identifier_lists() {
        assert_eq!(parse("").unwrap(), StandbySlots::default());
        assert_eq!(parse("  ").unwrap(), StandbySlots::default());
        assert_eq!(parse("sb1_slot").unwrap(), all(&["sb1_slot"]));
        assert_eq!(
            parse(" SB1_slot , \"sb2_slot\",x").unwrap(),
            all(&["sb1_slot", "sb2_slot", "x"])
        );
    }

    #[test]
    fn bad_syntax_is_refused_with_the_list_detail() {
        for bad in ["a,", ",a", "a b", "\"a", "\"\"", "a,,b"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE, "{bad}");
            assert_eq!(
                e.message,
                format!("invalid value for parameter \"synchronized_standby_slots\": \"{bad}\"")
            );
            assert_eq!(e.detail.as_deref(), Some("List syntax is invalid."));
        }
    }

    #[test]
    fn bad_slot_names_are_refused_with_the_slot_name_error() {
        let e = parse("ok, \"Bad-Name\"").unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_NAME);
        assert_eq!(
            e.detail.as_deref(),
            Some("replication slot name \"Bad-Name\" contains invalid character")
        );
        let e = parse("*").unwrap_err();
        assert_eq!(
            e.detail.as_deref(),
            Some("replication slot name \"*\" contains invalid character")
        );
    }

    #[test]
    fn empty_list_is_caught_up() {
        let empty = StandbySlots::default();
        assert_eq!(caught_up(&empty, &[], Lsn(0x1000)), Ok(true));
        assert_eq!(
            send_limit(&empty, &[], Lsn(0x1000)),
            (Some(Lsn(0x1000)), None)
        );
    }

    #[test]
    fn caught_up_when_every_slot_flushed_past() {
        let slots = [
            physical("a", Some(0x2000), true),
            physical("b", Some(0x1000), false),
        ];
        assert_eq!(caught_up(&all(&["a", "b"]), &slots, Lsn(0x1000)), Ok(true));
        assert_eq!(oldest_flush(&all(&["a", "b"]), &slots), Some(Lsn(0x1000)));
    }

    #[test]
    fn a_missing_slot_is_a_problem() {
        let slots = [physical("a", Some(0x2000), true)];
        let p = caught_up(&all(&["a", "nope"]), &slots, Lsn(0x1000)).unwrap_err();
        assert_eq!(p, Problem::Missing("nope".into()));
        let e = p.report(Severity::Warning);
        assert_eq!(e.severity, Severity::Warning);
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(e.message, "replication slot \"nope\" specified in parameter \"synchronized_standby_slots\" does not exist");
        assert_eq!(e.detail.as_deref(), Some("Logical replication is waiting on the standby associated with replication slot \"nope\"."));
        assert_eq!(e.hint.as_deref(), Some("Create the replication slot \"nope\" or amend parameter \"synchronized_standby_slots\"."));
    }

    #[test]
    fn a_logical_slot_is_a_problem() {
        let mut l = physical("l", Some(0x2000), true);
        l.data.database = Some(Oid(5));
        let p = caught_up(&all(&["l"]), &[l], Lsn(0x1000)).unwrap_err();
        assert_eq!(p, Problem::Logical("l".into()));
        let e = p.report(Severity::Error);
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(e.message, "cannot specify logical replication slot \"l\" in parameter \"synchronized_standby_slots\"");
        assert_eq!(
            e.detail.as_deref(),
            Some("Logical replication is waiting for correction on replication slot \"l\".")
        );
        assert_eq!(e.hint.as_deref(), Some("Remove the logical replication slot \"l\" from parameter \"synchronized_standby_slots\"."));
    }

    #[test]
    fn an_invalidated_slot_is_a_problem() {
        let mut s = physical("s", Some(0x2000), true);
        s.data.invalidated = Some(Invalidation::WalRemoved);
        let p = caught_up(&all(&["s"]), &[s], Lsn(0x1000)).unwrap_err();
        assert_eq!(p, Problem::Invalidated("s".into()));
        let e = p.report(Severity::Warning);
        assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(e.message, "physical replication slot \"s\" specified in parameter \"synchronized_standby_slots\" has been invalidated");
        assert_eq!(e.detail.as_deref(), Some("Logical replication is waiting on the standby associated with replication slot \"s\"."));
        assert_eq!(e.hint.as_deref(), Some("Drop and recreate the replication slot \"s\", or amend parameter \"synchronized_standby_slots\"."));
    }

    #[test]
    fn an_inactive_slot_behind_is_a_problem() {
        for restart in [None, Some(0x800)] {
            let s = physical("sb1_slot", restart, false);
            let p = caught_up(&all(&["sb1_slot"]), &[s], Lsn(0x1000)).unwrap_err();
            assert_eq!(p, Problem::Inactive("sb1_slot".into()));
            let e = p.report(Severity::Warning);
            assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
            assert_eq!(e.message, "replication slot \"sb1_slot\" specified in parameter \"synchronized_standby_slots\" does not have active_pid");
            assert_eq!(e.detail.as_deref(), Some("Logical replication is waiting on the standby associated with replication slot \"sb1_slot\"."));
            assert_eq!(e.hint.as_deref(), Some("Start the standby associated with the replication slot \"sb1_slot\", or amend parameter \"synchronized_standby_slots\"."));
        }
    }

    #[test]
    fn an_active_slot_behind_is_a_silent_wait_and_stops_the_walk() {
        let slots = [physical("a", Some(0x800), true)];
        // "b" is missing, but the walk stops at the lagging "a" first
        assert_eq!(caught_up(&all(&["a", "b"]), &slots, Lsn(0x1000)), Ok(false));
        assert_eq!(
            send_limit(&all(&["a"]), &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), None)
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_problem() {
        let slots = [physical("a", Some(0x800), false)];
        assert_eq!(
            caught_up(&all(&["nope", "a"]), &slots, Lsn(0x1000)),
            Err(Problem::Missing("nope".into()))
        );
        assert_eq!(
            caught_up(&all(&["a", "nope"]), &slots, Lsn(0x1000)),
            Err(Problem::Inactive("a".into()))
        );
    }

    #[test]
    fn send_limit_is_the_oldest_flush_with_the_problem() {
        let slots = [
            physical("a", Some(0x800), false),
            physical("b", Some(0x900), true),
        ];
        assert_eq!(
            send_limit(&all(&["a", "b"]), &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), Some(Problem::Inactive("a".into())))
        );
        assert_eq!(
            send_limit(&all(&["a", "gone"]), &slots, Lsn(0x1000)),
            (None, Some(Problem::Inactive("a".into())))
        );
    }

    fn quorum(q: Quorum, v: &[&str]) -> StandbySlots {
        StandbySlots {
            quorum: q,
            names: names(v),
        }
    }

    #[test]
    fn parses_the_quorum_forms_with_the_synchronous_standby_names_grammar() {
        assert_eq!(
            parse("ANY 1 (s1, s2)").unwrap(),
            quorum(Quorum::Any(1), &["s1", "s2"])
        );
        assert_eq!(
            parse("first 2 (a, \"b\", c)").unwrap(),
            quorum(Quorum::First(2), &["a", "b", "c"])
        );
        assert_eq!(
            parse("2 (a, b)").unwrap(),
            quorum(Quorum::First(2), &["a", "b"])
        );
        let e = parse("ANY 1 (a,").unwrap_err();
        assert_eq!(
            e.message,
            "invalid value for parameter \"synchronized_standby_slots\": \"ANY 1 (a,\""
        );
        assert_eq!(e.detail.as_deref(), Some("syntax error at end of input"));
        let e = parse("ANY 0 (a)").unwrap_err();
        assert_eq!(
            e.message,
            "number of synchronous standbys (0) must be greater than zero"
        );
        let e = parse("ANY 1 (a, \"B-c\")").unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_NAME);
        assert!(parse("ANY 1 (s1, s2)").unwrap().contains("s2"));
    }

    #[test]
    fn any_n_needs_n_slots_and_ignores_the_others_problems() {
        let slots = [
            physical("s1", Some(0x2000), true),
            physical("s2", Some(0x800), false),
        ];
        let any1 = quorum(Quorum::Any(1), &["s1", "s2", "gone"]);
        assert_eq!(caught_up(&any1, &slots, Lsn(0x1000)), Ok(true));
        assert_eq!(
            send_limit(&any1, &slots, Lsn(0x1000)),
            (Some(Lsn(0x1000)), None)
        );
        // the plain list is held back by s2, reported
        let every = all(&["s1", "s2"]);
        assert_eq!(
            caught_up(&every, &slots, Lsn(0x1000)),
            Err(Problem::Inactive("s2".into()))
        );
        // two of them: not reached; the first problem is reported and the
        // limit is the second newest flush
        let any2 = quorum(Quorum::Any(2), &["s1", "s2", "gone"]);
        assert_eq!(
            send_limit(&any2, &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), Some(Problem::Inactive("s2".into())))
        );
        // an active standby behind is a silent wait
        let slots = [
            physical("s1", Some(0x900), true),
            physical("s2", Some(0x800), true),
        ];
        assert_eq!(
            send_limit(&quorum(Quorum::Any(1), &["s1", "s2"]), &slots, Lsn(0x1000)),
            (Some(Lsn(0x900)), None)
        );
    }

    #[test]
    fn first_n_waits_for_the_highest_priority_streaming_slots() {
        let slots = [
            physical("a", Some(0x800), true),
            physical("b", Some(0x2000), true),
            physical("c", Some(0x3000), false),
        ];
        let first1 = quorum(Quorum::First(1), &["a", "b", "c"]);
        // "a" streams and comes first: it decides, though "b" is ahead
        assert_eq!(caught_up(&first1, &slots, Lsn(0x1000)), Ok(false));
        assert_eq!(
            send_limit(&first1, &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), None)
        );
        // once "a" stops streaming, "b" takes its place
        let slots = [
            physical("a", Some(0x800), false),
            physical("b", Some(0x2000), true),
            physical("c", Some(0x3000), false),
        ];
        assert_eq!(caught_up(&first1, &slots, Lsn(0x1000)), Ok(true));
        // two streaming slots are needed for FIRST 2: only "b" streams
        let first2 = quorum(Quorum::First(2), &["a", "b", "c"]);
        assert_eq!(
            send_limit(&first2, &slots, Lsn(0x1000)),
            (None, Some(Problem::Inactive("a".into())))
        );
    }
}
