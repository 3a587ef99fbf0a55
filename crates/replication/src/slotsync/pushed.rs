//! Slot state pushed by the primary in its WAL: the partial cycle a standby's
//! slot sync worker runs for the slots of one replayed SLOT_STATE record (or
//! several, merged), with the same per-slot rules as [`plan_cycle`]
//! (`synchronize_one_slot`). PostgreSQL has no counterpart: its worker only
//! polls (`slotsync.c`).
//!
//! A SLOT_STATE record lists the primary's failover slots that changed (their
//! whole state) and the names of those that stopped being failover slots. It
//! differs from a connection cycle's view in three ways, and the plan follows:
//!
//! - it is **partial**: a local synced slot it does not mention is left alone
//!   (only the names it lists as gone are dropped);
//! - it **follows the WAL it describes**: the standby has every byte up to its
//!   positions when it replays it, so a new slot is sync-ready at once;
//! - it **may be older** than what a connection cycle copied in between (that
//!   cycle reads the primary's slots as they are now, the record as they were
//!   when it was written, and the primary caps the positions it writes at the
//!   end of the last WAL record that is not a SLOT_STATE record). A record
//!   behind the local slot is therefore no anomaly: it changes nothing and is
//!   not reported, except a remote slot needing WAL older than this standby
//!   still has, which is reported as a cycle reports it.
//!
//! [`plan_cycle`]: super::plan_cycle

use std::collections::{BTreeMap, BTreeSet};

use crate::slot::SlotData;

use super::{synchronize_one_slot, Action, DropReason, RemoteSlot, SkipReason, StandbyState};

/// The decisions for pushed slot state: drops of the local synced slots named
/// in `dropped` (and of those invalidated here while valid in `pushed`), then,
/// per slot of `pushed`, what a cycle would do with it, without the reports of
/// a record older than the local slot. `local` is every slot of this standby.
pub fn plan_pushed(
    pushed: &[RemoteSlot],
    dropped: &[String],
    local: &[SlotData],
    standby: &StandbyState,
) -> Vec<Action> {
    let mut out = Vec::new();
    let gone: BTreeSet<&str> = dropped.iter().map(String::as_str).collect();
    let mut removed = BTreeSet::new();
    for l in local.iter().filter(|l| l.synced) {
        let reason = if gone.contains(l.name.as_str()) && !pushed.iter().any(|r| r.name == l.name) {
            Some(DropReason::NotOnPrimary)
        } else if l.invalidated.is_some()
            && pushed
                .iter()
                .any(|r| r.name == l.name && !r.being_created() && r.invalidated.is_none())
        {
            Some(DropReason::InvalidatedLocally)
        } else {
            None
        };
        if let Some(reason) = reason {
            removed.insert(l.name.as_str());
            out.push(Action::Drop {
                name: l.name.clone(),
                database: l.database.unwrap_or_default(),
                reason,
            });
        }
    }
    let by_name: BTreeMap<&str, &SlotData> = local
        .iter()
        .filter(|l| !removed.contains(l.name.as_str()))
        .map(|l| (l.name.as_str(), l))
        .collect();
    for r in pushed {
        if r.being_created() {
            continue;
        }
        let existing = by_name.get(r.name.as_str()).copied();
        let mut step = Vec::new();
        synchronize_one_slot(r, existing, standby, &mut step);
        out.extend(step.into_iter().filter(|a| !stale(a, standby)));
    }
    out
}

/// Whether an action only says that the record is older than the local slot.
fn stale(action: &Action, standby: &StandbyState) -> bool {
    match action {
        Action::Skip {
            reason: SkipReason::LocalAhead { .. },
            ..
        } => true,
        Action::Skip {
            reason: SkipReason::RemoteBehind {
                remote_restart_lsn, ..
            },
            ..
        } => *remote_restart_lsn >= standby.oldest_available,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::{Invalidation, Persistency};
    use tandem_types::{Lsn, Oid, Xid};

    const DB: Oid = Oid(5);

    fn standby() -> StandbyState {
        StandbyState {
            flush: Lsn(0x9000),
            oldest_available: Lsn(0x1000),
            oldest_safe_xmin: None,
            databases: [("postgres".to_string(), DB)].into(),
            active: Default::default(),
        }
    }

    fn remote(name: &str, cf: u64) -> RemoteSlot {
        RemoteSlot {
            name: name.to_string(),
            plugin: "pgoutput".to_string(),
            confirmed_flush: Some(Lsn(cf)),
            restart_lsn: Some(Lsn(0x4000)),
            catalog_xmin: Some(Xid(750)),
            two_phase: false,
            failover: true,
            database: "postgres".to_string(),
            invalidated: None,
        }
    }

    fn synced(name: &str, cf: u64) -> SlotData {
        SlotData {
            database: Some(DB),
            plugin: Some("pgoutput".to_string()),
            restart_lsn: Some(Lsn(0x4000)),
            confirmed_flush: Some(Lsn(cf)),
            catalog_xmin: Some(Xid(750)),
            failover: true,
            synced: true,
            ..SlotData::physical(name, Persistency::Persistent)
        }
    }

    #[test]
    fn a_new_slot_is_created_and_sync_ready_in_one_step() {
        let actions = plan_pushed(&[remote("s", 0x5000)], &[], &[], &standby());
        assert!(
            matches!(&actions[0], Action::Create { slot } if slot.name == "s"
            && slot.confirmed_flush == Some(Lsn(0x5000)))
        );
        assert_eq!(
            actions[1],
            Action::Persist {
                name: "s".to_string()
            }
        );
        assert_eq!(actions.len(), 2);
    }

    #[test]
    fn unlisted_slots_are_left_alone_and_listed_drops_happen() {
        let local = [synced("a", 0x5000), synced("b", 0x5000)];
        let actions = plan_pushed(&[], &["b".to_string()], &local, &standby());
        assert_eq!(
            actions,
            vec![Action::Drop {
                name: "b".into(),
                database: DB,
                reason: DropReason::NotOnPrimary
            }]
        );
        // a user slot of a dropped name is not touched
        let mut user = synced("b", 0x5000);
        user.synced = false;
        assert!(plan_pushed(&[], &["b".to_string()], &[user], &standby()).is_empty());
    }

    #[test]
    fn positions_follow_and_an_older_record_is_silent() {
        let local = [synced("s", 0x5000)];
        let actions = plan_pushed(&[remote("s", 0x6000)], &[], &local, &standby());
        assert!(matches!(&actions[..], [Action::Update { change, .. }]
            if change.confirmed_flush == Some(Lsn(0x6000))));
        // a record older than what a connection cycle copied: nothing at all
        let local = [synced("s", 0x7000)];
        assert!(plan_pushed(&[remote("s", 0x6000)], &[], &local, &standby()).is_empty());
        let mut ahead = synced("s", 0x7000);
        ahead.restart_lsn = Some(Lsn(0x6000));
        assert!(plan_pushed(&[remote("s", 0x7000)], &[], &[ahead], &standby()).is_empty());
    }

    #[test]
    fn a_slot_needing_wal_gone_here_is_still_reported() {
        let mut r = remote("s", 0x5000);
        r.restart_lsn = Some(Lsn(0x800));
        let actions = plan_pushed(&[r], &[], &[], &standby());
        assert!(matches!(
            &actions[..],
            [
                Action::Create { .. },
                Action::Skip {
                    reason: SkipReason::RemoteBehind {
                        temporary: true,
                        ..
                    },
                    ..
                }
            ]
        ));
    }

    #[test]
    fn invalidations_are_copied_and_local_ones_recreated() {
        let mut r = remote("s", 0x5000);
        r.invalidated = Some(Invalidation::WalRemoved);
        let actions = plan_pushed(&[r], &[], &[synced("s", 0x5000)], &standby());
        assert_eq!(
            actions,
            vec![Action::CopyInvalidation {
                name: "s".into(),
                cause: Invalidation::WalRemoved
            }]
        );
        let mut l = synced("s", 0x5000);
        l.invalidated = Some(Invalidation::WalRemoved);
        let actions = plan_pushed(&[remote("s", 0x5000)], &[], &[l], &standby());
        assert!(matches!(
            &actions[..],
            [
                Action::Drop {
                    reason: DropReason::InvalidatedLocally,
                    ..
                },
                Action::Create { .. },
                Action::Persist { .. }
            ]
        ));
    }
}
