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
//! Corresponds to PostgreSQL's `slot.c`: `check_synchronized_standby_slots`
//! (the check hook) and `StandbySlotsHaveCaughtup`.

use tandem_types::error::Severity;
use tandem_types::ident::NAMEDATALEN;
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::slot::{validate_name, SlotInfo, SlotRegistry};

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
/// around names is ignored), each a valid slot name. Existence and slot type
/// are not checked here. Errors: `22023 invalid value for parameter
/// "synchronized_standby_slots": "..."` with detail `List syntax is
/// invalid.`, or with the slot-name error as detail.
pub fn parse(value: &str) -> PgResult<Vec<String>> {
    let Some(names) = split_identifiers(value) else {
        return Err(invalid_value(value).with_detail("List syntax is invalid."));
    };
    for name in &names {
        if let Err(e) = validate_name(name) {
            let mut err = invalid_value(value).with_detail(e.message);
            err.code = e.code;
            return Err(err);
        }
    }
    Ok(names)
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

/// Whether every slot in `list` has flushed `lsn` (PostgreSQL's
/// `StandbySlotsHaveCaughtup`, without its cache): walks the list in order
/// and stops at the first slot that is behind (`Ok(false)`) or has a
/// [`Problem`]. An empty list is always caught up. `slots` is a snapshot of
/// the registry; a physical slot's `restart_lsn` is its standby's flush
/// position.
pub fn caught_up(list: &[String], slots: &[SlotInfo], lsn: Lsn) -> Result<bool, Problem> {
    for name in list {
        let Some(slot) = slots.iter().find(|s| &s.data.name == name) else {
            return Err(Problem::Missing(name.clone()));
        };
        if slot.data.is_logical() {
            return Err(Problem::Logical(name.clone()));
        }
        if slot.data.invalidated.is_some() {
            return Err(Problem::Invalidated(name.clone()));
        }
        let behind = slot
            .data
            .restart_lsn
            .is_none_or(|r| !r.is_valid() || r < lsn);
        if behind {
            if slot.active_pid.is_none() {
                return Err(Problem::Inactive(name.clone()));
            }
            return Ok(false);
        }
    }
    Ok(true)
}

/// The oldest position all slots in `list` have flushed: the minimum of
/// their `restart_lsn`s, `None` if one is missing, logical, invalidated or
/// has none (nothing is known to be safe), or the list is empty.
pub fn oldest_flush(list: &[String], slots: &[SlotInfo]) -> Option<Lsn> {
    let mut oldest: Option<Lsn> = None;
    for name in list {
        let slot = slots.iter().find(|s| &s.data.name == name)?;
        if slot.data.is_logical() || slot.data.invalidated.is_some() {
            return None;
        }
        let r = slot.data.restart_lsn.filter(|r| r.is_valid())?;
        oldest = Some(oldest.map_or(r, |o| o.min(r)));
    }
    oldest
}

/// How far a failover slot's consumer may be sent changes when WAL is flushed
/// up to `end`: `end` when every listed standby has flushed it, otherwise the
/// oldest position they all flushed (at most `end`), and the problem to
/// report if one holds replication back. `None` as the position: nothing is
/// known to be safe.
/// The listed slots as they are now (missing ones left out), without
/// copying every slot of the server.
pub fn listed_slots(list: &[String], registry: &SlotRegistry) -> Vec<SlotInfo> {
    list.iter().filter_map(|name| registry.get(name)).collect()
}

pub fn send_limit(list: &[String], slots: &[SlotInfo], end: Lsn) -> (Option<Lsn>, Option<Problem>) {
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

    #[test]
    fn parses_identifier_lists() {
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("  ").unwrap(), Vec::<String>::new());
        assert_eq!(parse("sb1_slot").unwrap(), names(&["sb1_slot"]));
        assert_eq!(
            parse(" SB1_slot , \"sb2_slot\",x").unwrap(),
            names(&["sb1_slot", "sb2_slot", "x"])
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
        assert_eq!(caught_up(&[], &[], Lsn(0x1000)), Ok(true));
        assert_eq!(send_limit(&[], &[], Lsn(0x1000)), (Some(Lsn(0x1000)), None));
    }

    #[test]
    fn caught_up_when_every_slot_flushed_past() {
        let slots = [
            physical("a", Some(0x2000), true),
            physical("b", Some(0x1000), false),
        ];
        assert_eq!(
            caught_up(&names(&["a", "b"]), &slots, Lsn(0x1000)),
            Ok(true)
        );
        assert_eq!(oldest_flush(&names(&["a", "b"]), &slots), Some(Lsn(0x1000)));
    }

    #[test]
    fn a_missing_slot_is_a_problem() {
        let slots = [physical("a", Some(0x2000), true)];
        let p = caught_up(&names(&["a", "nope"]), &slots, Lsn(0x1000)).unwrap_err();
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
        let p = caught_up(&names(&["l"]), &[l], Lsn(0x1000)).unwrap_err();
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
        let p = caught_up(&names(&["s"]), &[s], Lsn(0x1000)).unwrap_err();
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
            let p = caught_up(&names(&["sb1_slot"]), &[s], Lsn(0x1000)).unwrap_err();
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
        assert_eq!(
            caught_up(&names(&["a", "b"]), &slots, Lsn(0x1000)),
            Ok(false)
        );
        assert_eq!(
            send_limit(&names(&["a"]), &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), None)
        );
    }

    #[test]
    fn the_walk_stops_at_the_first_problem() {
        let slots = [physical("a", Some(0x800), false)];
        assert_eq!(
            caught_up(&names(&["nope", "a"]), &slots, Lsn(0x1000)),
            Err(Problem::Missing("nope".into()))
        );
        assert_eq!(
            caught_up(&names(&["a", "nope"]), &slots, Lsn(0x1000)),
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
            send_limit(&names(&["a", "b"]), &slots, Lsn(0x1000)),
            (Some(Lsn(0x800)), Some(Problem::Inactive("a".into())))
        );
        assert_eq!(
            send_limit(&names(&["a", "gone"]), &slots, Lsn(0x1000)),
            (None, Some(Problem::Inactive("a".into())))
        );
    }
}
