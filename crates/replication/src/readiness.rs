//! Is a failover slot ready for failover, and why not: the decisions behind
//! the views `pg_failover_readiness` (on a standby: would this standby's copy
//! of each of the primary's failover slots let its consumer resume after a
//! promotion, with nothing lost?) and `pg_failover_slot_standbys` (on a
//! primary: which standby could take over each failover slot), as pure
//! functions of what the last sync cycle saw and what the slot registry holds
//! now. The server gathers the inputs (`server::slot::slotsync` keeps the last
//! cycle, `server::sqlfuncs` builds the rows).
//!
//! PostgreSQL 17 documents a query for the standby side, `synced AND NOT
//! temporary AND NOT conflicting` on `pg_replication_slots`. It calls a slot
//! invalidated by `wal_removed` ready (`conflicting` is only true for
//! `rows_removed` and `wal_level_insufficient`), and it cannot see a copy that
//! lags the primary's slot, a standby that stopped streaming or slot sync
//! that stopped running. [`assess`] says "not ready" for each of those, with
//! the first reason that applies, in this order:
//!
//! 1. no local copy: the skip reasons that a later cycle will not cure by
//!    itself (`name_taken_by_user_slot`, `database_missing`), an invalidation
//!    on the primary (`invalidated: <cause>`), otherwise `not synced yet`;
//! 2. the local copy is invalidated: `invalidated: <cause>`;
//! 3. the local copy is temporary: `temporary (not sync-ready)` (its
//!    `slotsync_skip_reason` in `pg_replication_slots` says why);
//! 4. the copy is behind the primary's slot as of the last cycle:
//!    `behind the primary by N bytes`, followed by the skip reason in
//!    parentheses when the last cycle skipped it (`wal_not_flushed`, ...);
//! 5. the last cycle skipped the slot for another reason: that reason
//!    (`local_ahead`, `wal_or_rows_removed`);
//! 6. this standby: `not among the standbys that confirmed ...` (listed in
//!    a quorum form of `synchronized_standby_slots`, but the quorum was met
//!    without it and a consumer may have received WAL it lacks; below),
//!    `standby not streaming` (no walreceiver streaming),
//!    `slot sync not running` (no slot sync worker: a copy made by
//!    `pg_sync_replication_slots()` is not kept up to date),
//!    `this standby is not in the primary's synchronized_standby_slots`
//!    (the primary may send a consumer changes this standby has not flushed,
//!    so the copy can fall behind at any time).
//!
//! # Who confirmed: the rule behind both views
//!
//! A standby can take a failover slot over, losing nothing, iff it has
//! flushed every byte of WAL a consumer of the slot may have received, and
//! has the synced copy at the slot's position. A consumer may have received
//! more than the slot's `confirmed_flush_lsn` (sent, not yet confirmed), but
//! never more than `synchronized_standby_slots` let through: the position the
//! listed standbys have flushed as its quorum asks
//! ([`standby_slots::oldest_flush`]: the oldest of them all for the plain
//! list, the n-th newest for `ANY n`, the oldest of the n chosen for
//! `FIRST n`). So a listed standby is among those that confirmed iff its
//! flushed position is at least that one. With the plain list (PostgreSQL's
//! all-of meaning) every listed standby is by definition, and listing is
//! enough. With a quorum, a listed standby that lags or was stopped while the
//! others made the quorum is not, and must not be promoted: a subscriber may
//! already have changes it lacks. This is a snapshot (as of now on the
//! primary, as of the last sync cycle on a standby): under `ANY 1 (s1, s2)`
//! the slower of two streaming standbys is briefly not ready after each
//! commit, which is the truth about that setting.

use std::collections::BTreeSet;

use tandem_types::{Lsn, TimeLineId};

use crate::slot::{Persistency, SlotData, SlotInfo};
use crate::slotsync::{RemotePhysicalSlot, RemoteSlot, SkipReason};
use crate::standby_slots;

/// What the standby knows of itself when the view is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StandbyStatus {
    /// The walreceiver is streaming from the primary.
    pub streaming: bool,
    /// The slot sync worker runs.
    pub sync_running: bool,
    /// The primary's `synchronized_standby_slots` (as of the last cycle)
    /// names this standby's `primary_slot_name`.
    pub listed: bool,
    /// WAL flushed here now.
    pub flush: Lsn,
    /// The most a consumer of the primary's failover slots may have received
    /// as of the last cycle: what the standbys of `synchronized_standby_slots`
    /// had flushed as its quorum asks ([`consumers_may_have`]); `None` when
    /// nothing is let through or it is unknown.
    pub consumers_may_have: Option<Lsn>,
}

/// The verdict for one failover slot of the primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// `None` when the slot is ready.
    pub reason: Option<String>,
    /// The primary's `confirmed_flush` (as of the last cycle) minus the local
    /// copy's; `None` without a local synced copy or a position on either side.
    pub lag_bytes: Option<i64>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.reason.is_none()
    }
}

/// The reason text of this standby's problem, `None` when it streams, syncs,
/// is listed and is among the standbys that confirmed. Lacking WAL a
/// consumer may have received comes first: it rules the standby out even
/// once it streams again.
fn standby_problem(standby: &StandbyStatus) -> Option<String> {
    if standby.listed {
        if let Some(p) = not_among_confirmed(standby.flush, standby.consumers_may_have) {
            return Some(p);
        }
    }
    if !standby.streaming {
        Some("standby not streaming".to_string())
    } else if !standby.sync_running {
        Some("slot sync not running".to_string())
    } else if !standby.listed {
        Some("this standby is not in the primary's synchronized_standby_slots".to_string())
    } else {
        None
    }
}

/// The reason a listed standby that flushed `flush` is not among the
/// standbys that confirmed what consumers may have received (`may_have`,
/// [`consumers_may_have`]), `None` when it is.
fn not_among_confirmed(flush: Lsn, may_have: Option<Lsn>) -> Option<String> {
    let may_have = may_have.filter(|m| m.is_valid() && *m > flush)?;
    Some(format!(
        "not among the standbys that confirmed what consumers may have received \
         (synchronized_standby_slots is met without it; {} bytes behind)",
        lsn_diff(may_have, flush)
    ))
}

/// The most a consumer of a failover slot may have received: the position
/// the slots of `synchronized_standby_slots` (`list`) have flushed as its
/// quorum asks, which the logical walsenders and the SQL decoding functions
/// never send past ([`standby_slots::oldest_flush`]). `slots` are the
/// physical slots as the primary has them now (on a standby: as the last
/// cycle read them).
pub fn consumers_may_have(list: &standby_slots::StandbySlots, slots: &[SlotInfo]) -> Option<Lsn> {
    standby_slots::oldest_flush(list, slots)
}

/// The same from a sync cycle's reading of its upstream: the value of
/// `synchronized_standby_slots` and the upstream's physical slots (a value
/// that does not parse lets nothing through).
pub fn consumers_may_have_remote(
    synchronized_standby_slots: &str,
    physical: &[RemotePhysicalSlot],
) -> Option<Lsn> {
    let list = standby_slots::parse(synchronized_standby_slots).ok()?;
    let slots: Vec<SlotInfo> = physical
        .iter()
        .map(|r| {
            let mut data = SlotData::physical(&r.name, Persistency::Persistent);
            data.restart_lsn = r.restart_lsn;
            SlotInfo {
                data,
                active_pid: r.active_pid,
                inactive_since: None,
                retained_restart_lsn: None,
            }
        })
        .collect();
    consumers_may_have(&list, &slots)
}

/// Whether one failover slot of the primary is ready for failover here.
/// `remote` and `skip` are what the last sync cycle saw and decided for it;
/// `local` is the slot of that name on this standby now.
pub fn assess(
    remote: &RemoteSlot,
    skip: Option<&SkipReason>,
    local: Option<&SlotData>,
    standby: &StandbyStatus,
) -> Readiness {
    let not_ready = |reason: String, lag_bytes: Option<i64>| Readiness {
        reason: Some(reason),
        lag_bytes,
    };
    let local = match local {
        Some(l) if l.synced => l,
        _ => {
            let reason = match (skip, remote.invalidated) {
                (
                    Some(
                        s @ (SkipReason::NameTakenByUserSlot | SkipReason::DatabaseMissing { .. }),
                    ),
                    _,
                ) => s.name().to_string(),
                (_, Some(cause)) => format!("invalidated: {}", cause.as_str()),
                // a user slot of that name that this cycle did not see
                _ if local.is_some() => SkipReason::NameTakenByUserSlot.name().to_string(),
                _ => "not synced yet".to_string(),
            };
            return not_ready(reason, None);
        }
    };
    let lag_bytes = match (remote.confirmed_flush, local.confirmed_flush) {
        (Some(r), Some(l)) if r.is_valid() && l.is_valid() => Some(lsn_diff(r, l)),
        _ => None,
    };
    if let Some(cause) = local.invalidated {
        return not_ready(format!("invalidated: {}", cause.as_str()), lag_bytes);
    }
    if local.persistency != Persistency::Persistent {
        return not_ready("temporary (not sync-ready)".to_string(), lag_bytes);
    }
    if let Some(lag) = lag_bytes.filter(|l| *l > 0) {
        let mut reason = format!("behind the primary by {lag} bytes");
        if let Some(s) = skip {
            reason.push_str(&format!(" ({})", s.name()));
        }
        return not_ready(reason, lag_bytes);
    }
    if let Some(s) = skip {
        return not_ready(s.name().to_string(), lag_bytes);
    }
    match standby_problem(standby) {
        Some(p) => not_ready(p, lag_bytes),
        None => Readiness {
            reason: None,
            lag_bytes,
        },
    }
}

/// `a - b` in bytes, saturating at the ends of `i64`.
fn lsn_diff(a: Lsn, b: Lsn) -> i64 {
    if a >= b {
        i64::try_from(a.0 - b.0).unwrap_or(i64::MAX)
    } else {
        i64::try_from(b.0 - a.0).map_or(i64::MIN, |d| -d)
    }
}

/// The primary's `synchronized_standby_slots` as a standby last replayed it
/// from a SLOT_STATE record (the primary writes one when the setting
/// changes, with every slot state it pushes, and at promotion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedSetting {
    pub value: String,
    /// Counts the records with a setting this standby replayed: compared
    /// with [`AskedSetting::pushes_before`] it says which came later.
    pub seq: u64,
    /// The timeline the record was written on.
    pub timeline: TimeLineId,
}

/// The upstream's `synchronized_standby_slots` as the last sync cycle read
/// it (`current_setting`), with what that cycle knew of the pushed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskedSetting {
    /// `None` when it could not be read.
    pub value: Option<String>,
    /// [`PushedSetting::seq`] of the last record replayed before the cycle
    /// asked (0: none).
    pub pushes_before: u64,
    /// The cycle found its upstream in recovery (a cascade's upstream
    /// standby) while this standby replayed this timeline.
    pub upstream_standby_on: Option<TimeLineId>,
}

/// Which value of the upstream's `synchronized_standby_slots` a standby
/// judges with: the one replayed from the WAL when it came after the last
/// cycle asked (or that cycle could not read it), otherwise the cycle's.
///
/// Both describe the same setting: a record replayed before the cycle asked
/// was written before the upstream answered, so the answer is at least as
/// new; one replayed after is newer than the answer, up to the replication
/// delay. So a change of the primary's setting shows here as soon as its
/// record is replayed, with no cycle.
///
/// Except on a cascade: the records it replays were written by the primary
/// above its upstream standby, whose setting names that standby's slot, not
/// this one's. They are not used while the last cycle found the upstream in
/// recovery, unless written on a later timeline than this standby replayed
/// then: the upstream (or another node) was promoted since, and writes its
/// own setting at promotion.
pub fn upstream_standby_slots<'a>(
    asked: &'a AskedSetting,
    pushed: Option<&'a PushedSetting>,
) -> Option<&'a str> {
    let pushed = pushed.filter(|p| {
        asked.upstream_standby_on.is_none_or(|tli| p.timeline > tli)
            && (p.seq > asked.pushes_before || asked.value.is_none())
    });
    match pushed {
        Some(p) => Some(&p.value),
        None => asked.value.as_deref(),
    }
}

/// Whether the primary's `synchronized_standby_slots` value names
/// `primary_slot_name` (a value that does not parse names nothing).
pub fn listed_in(synchronized_standby_slots: &str, primary_slot_name: &str) -> bool {
    !primary_slot_name.is_empty()
        && standby_slots::parse(synchronized_standby_slots)
            .is_ok_and(|list| list.contains(primary_slot_name))
}

// ---- the primary's side ----

/// One (failover slot, standby) pair of `pg_failover_slot_standbys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Takeover {
    pub slot_name: String,
    pub standby_slot: String,
    /// The standby's flushed position: its physical slot's `restart_lsn`.
    pub standby_flush: Option<Lsn>,
    pub slot_confirmed_flush: Option<Lsn>,
    /// `None` when that standby could take the slot over.
    pub reason: Option<String>,
}

/// The standbys `pg_failover_slot_standbys` counts, as (physical slot,
/// connected): every persistent physical slot that a walsender streams from
/// (`walsender_pids` holds the walsenders' pids), and every physical slot named
/// in `synchronized_standby_slots` (`listed`) even when no standby is
/// connected, because a listed standby that is gone is what an operator must
/// see. A physical slot used by something other than a walsender (a session
/// that created it) does not count unless listed.
pub fn counted_standbys<'a>(
    slots: &'a [SlotInfo],
    listed: &[String],
    walsender_pids: &BTreeSet<i32>,
) -> Vec<(&'a SlotInfo, bool)> {
    slots
        .iter()
        .filter(|s| !s.data.is_logical() && s.data.persistency == Persistency::Persistent)
        .filter_map(|s| {
            let connected = s.active_pid.is_some_and(|p| walsender_pids.contains(&p));
            (connected || listed.contains(&s.data.name)).then_some((s, connected))
        })
        .collect()
}

/// Whether the standby streaming from `standby` could take over the failover
/// slot `slot`: it is listed in `synchronized_standby_slots`, has flushed up
/// to the slot's `confirmed_flush` and up to what the slot's consumers may
/// have received (`may_have`, [`consumers_may_have`]: with the plain list
/// every listed standby has), and is connected. The first reason it could
/// not, in this order: an invalidated failover slot, an invalidated physical
/// slot, not listed, not among the standbys that confirmed, not connected,
/// no flush position reported, behind the slot. A standby that lacks WAL a
/// consumer may have is reported so whether or not it is connected: that is
/// what rules it out even once it is back.
pub fn takeover(
    slot: &SlotData,
    standby: &SlotData,
    connected: bool,
    listed: bool,
    may_have: Option<Lsn>,
) -> Takeover {
    let cf = slot.confirmed_flush.filter(|l| l.is_valid());
    let flush = standby.restart_lsn.filter(|l| l.is_valid());
    let reason = if let Some(cause) = slot.invalidated {
        Some(format!("slot invalidated: {}", cause.as_str()))
    } else if let Some(cause) = standby.invalidated {
        Some(format!("standby slot invalidated: {}", cause.as_str()))
    } else if !listed {
        Some("not in synchronized_standby_slots".to_string())
    } else {
        match (flush, cf) {
            (Some(f), _) if not_among_confirmed(f, may_have).is_some() => {
                not_among_confirmed(f, may_have)
            }
            _ if !connected => Some("standby not connected".to_string()),
            (None, _) => Some("standby has not reported a flush position".to_string()),
            (Some(f), Some(c)) if f < c => Some(format!(
                "standby behind the slot by {} bytes",
                lsn_diff(c, f)
            )),
            _ => None,
        }
    };
    Takeover {
        slot_name: slot.name.clone(),
        standby_slot: standby.name.clone(),
        standby_flush: flush,
        slot_confirmed_flush: cf,
        reason,
    }
}

/// Every row of `pg_failover_slot_standbys` for a primary's slots: each
/// persistent failover logical slot with each counted standby
/// ([`counted_standbys`]), in slot name order; `list` is the primary's
/// `synchronized_standby_slots`.
pub fn takeovers(
    slots: &[SlotInfo],
    list: &standby_slots::StandbySlots,
    walsender_pids: &BTreeSet<i32>,
) -> Vec<Takeover> {
    let standbys = counted_standbys(slots, &list.names, walsender_pids);
    let may_have = consumers_may_have(list, slots);
    slots
        .iter()
        .map(|s| &s.data)
        .filter(|d| d.is_logical() && d.failover && d.persistency == Persistency::Persistent)
        .flat_map(|d| {
            standbys.iter().map(move |(sb, connected)| {
                takeover(
                    d,
                    &sb.data,
                    *connected,
                    list.contains(&sb.data.name),
                    may_have,
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
