//! Subscriptions that follow the primary: when a subscription's connection
//! string names several hosts (`host=a,b port=1,2`), the apply worker probes
//! every host and resumes on the one that is a primary, holds the slot, and
//! whose history contains what the subscription has applied
//! (`docs/failover-slots.md`, "Subscriptions that follow the primary").
//! A single-host subscription never comes here: it connects as PostgreSQL's
//! worker does (`libpqwalreceiver.rs`).
//!
//! The rule ([`judge`], [`choose`]) is pure and unit-tested; [`probe`] asks
//! one host (IDENTIFY_SYSTEM, `pg_is_in_recovery()`, the slot's row of
//! `pg_replication_slots`, TIMELINE_HISTORY) and [`find_publisher`] polls the
//! hosts until one passes, logging why each other host was skipped. The
//! publisher followed (system identifier, timeline) is kept in the catalog
//! (`Catalog::subscription_followed`, WAL-logged) before streaming starts, so
//! the rule survives a restart of the subscriber.
//!
//! No PostgreSQL counterpart: PostgreSQL's apply worker connects with libpq's
//! host list and takes the first server that passes `target_session_attrs`.

use std::collections::HashMap;
use std::time::Duration;

use tandem_client::{ConnInfo, ReplClient, Target};
use tandem_storage::{FollowedPublisher, IsolationLevel, SubscriptionDef};
use tandem_types::elog::log;
use tandem_types::{Lsn, PgError, PgResult, SqlState, TimeLineId};
use tandem_wal::Timelines;

use super::libpqwalreceiver::connect;
use super::worker_internal::WorkerCtx;

/// The targets of a subscription's connection string when it names more than
/// one server; `None` for a single server (or a string that does not parse:
/// connecting reports that).
pub(super) fn targets(sub: &SubscriptionDef) -> Option<(ConnInfo, Vec<Target>)> {
    let info = ConnInfo::parse(&sub.conninfo).ok()?;
    let targets = info.targets().ok()?;
    (targets.len() > 1).then_some((info, targets))
}

/// What the subscription knows when it looks for a publisher.
#[derive(Clone, Debug)]
pub(super) struct Known {
    /// The publisher it last streamed from (for this connection string).
    pub followed: Option<FollowedPublisher>,
    /// The end of the last remote transaction applied (origin progress).
    pub applied: Lsn,
    pub slot: String,
}

/// The subscription's slot as a host shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SlotRow {
    pub slot_type: String,
    pub active_pid: Option<String>,
    pub invalidation_reason: Option<String>,
}

/// What one host answered.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    pub in_recovery: bool,
    pub system_identifier: String,
    pub timeline: TimeLineId,
    /// IDENTIFY_SYSTEM's `xlogpos`: the end of its WAL.
    pub xlogpos: Lsn,
    /// Its timeline history, fetched when its timeline is newer than the
    /// one followed.
    pub history: Option<Timelines>,
    pub slot: Option<SlotRow>,
}

/// Whether the subscription may resume from a host: `Err` with the reason it
/// is skipped. See the module comment for the rule.
pub(super) fn judge(known: &Known, p: &Probe) -> Result<(), String> {
    if p.in_recovery {
        return Err("server is in recovery, not a primary".into());
    }
    if let Some(f) = &known.followed {
        if p.system_identifier != f.system_identifier {
            return Err(format!(
                "its database system identifier {} differs from {} of the publisher this subscription streamed from",
                p.system_identifier, f.system_identifier
            ));
        }
        let ours = TimeLineId(f.timeline);
        if p.timeline < ours {
            return Err(format!(
                "its timeline {} is behind timeline {} this subscription streamed from",
                p.timeline.0, ours.0
            ));
        }
        if p.timeline > ours {
            let Some(history) = &p.history else {
                return Err(format!(
                    "the history of its timeline {} is unknown",
                    p.timeline.0
                ));
            };
            match history.switch_point(ours) {
                None => {
                    return Err(format!(
                        "its timeline {} is not a child of timeline {} this subscription streamed from",
                        p.timeline.0, ours.0
                    ))
                }
                Some((switch, next)) if known.applied > switch => {
                    return Err(format!(
                        "its timeline {} left timeline {} at {switch}, before {} which this subscription has applied",
                        next.0, ours.0, known.applied
                    ))
                }
                Some(_) => {}
            }
        }
    }
    if p.xlogpos < known.applied {
        return Err(format!(
            "its WAL ends at {}, before {} which this subscription has applied",
            p.xlogpos, known.applied
        ));
    }
    let slot = &known.slot;
    match &p.slot {
        None => Err(format!("replication slot \"{slot}\" does not exist")),
        Some(s) if s.slot_type != "logical" => {
            Err(format!("replication slot \"{slot}\" is not a logical slot"))
        }
        Some(SlotRow {
            invalidation_reason: Some(r),
            ..
        }) => Err(format!("replication slot \"{slot}\" is invalidated ({r})")),
        Some(SlotRow {
            active_pid: Some(pid),
            ..
        }) => Err(format!(
            "replication slot \"{slot}\" is active for PID {pid}"
        )),
        Some(_) => Ok(()),
    }
}

/// The host to resume from among those that passed [`judge`]: the highest
/// timeline, the first listed among equals.
pub(super) fn choose(passed: &[(usize, TimeLineId)]) -> Option<usize> {
    let best = passed.iter().map(|(_, t)| *t).max()?;
    passed.iter().find(|(_, t)| *t == best).map(|(i, _)| *i)
}

/// A host as the log lines show it (also the walreceiver's).
pub(crate) fn shown(t: &Target) -> String {
    format!("host \"{}\" port {}", t.host, t.port)
}

fn first_text(rows: &[Vec<Option<String>>], col: usize) -> Option<String> {
    rows.first().and_then(|r| r.get(col).cloned().flatten())
}

fn invalid(what: &str) -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        format!("invalid response to {what}"),
    )
}

/// Asks one connected host what [`judge`] needs.
fn probe(client: &mut ReplClient, known: &Known) -> PgResult<Probe> {
    let rows = client.query("IDENTIFY_SYSTEM")?;
    let system_identifier = first_text(&rows, 0).ok_or_else(|| invalid("IDENTIFY_SYSTEM"))?;
    let timeline = first_text(&rows, 1)
        .and_then(|t| t.parse::<u32>().ok())
        .map(TimeLineId)
        .ok_or_else(|| invalid("IDENTIFY_SYSTEM"))?;
    let xlogpos = first_text(&rows, 2)
        .and_then(|t| t.parse::<Lsn>().ok())
        .ok_or_else(|| invalid("IDENTIFY_SYSTEM"))?;
    let rows = client.query("SELECT pg_catalog.pg_is_in_recovery()")?;
    let in_recovery = first_text(&rows, 0).as_deref() != Some("f");
    let rows = client.query(&format!(
        "SELECT slot_type, active_pid, invalidation_reason FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
        tandem_client::quote_literal(&known.slot)
    ))?;
    let slot = rows.first().map(|r| SlotRow {
        slot_type: r.first().cloned().flatten().unwrap_or_default(),
        active_pid: r.get(1).cloned().flatten(),
        invalidation_reason: r.get(2).cloned().flatten(),
    });
    let history = match &known.followed {
        Some(f) if timeline.0 > f.timeline && !in_recovery => {
            let rows = client.query(&format!("TIMELINE_HISTORY {}", timeline.0))?;
            let text = first_text(&rows, 1).ok_or_else(|| invalid("TIMELINE_HISTORY"))?;
            Some(Timelines {
                current: timeline,
                ancestors: tandem_wal::parse_history(&text)?,
            })
        }
        _ => None,
    };
    Ok(Probe {
        in_recovery,
        system_identifier,
        timeline,
        xlogpos,
        history,
        slot,
    })
}

/// The publisher followed, if it was learnt with this connection string.
fn followed(ctx: &WorkerCtx, sub: &SubscriptionDef) -> Option<FollowedPublisher> {
    ctx.db
        .catalog()
        .subscription_followed
        .get(&sub.oid)
        .filter(|f| f.conninfo == sub.conninfo)
        .cloned()
}

/// Polls the hosts of a multi-host subscription until one passes the rule
/// and returns its connection (not yet streaming), after recording it as the
/// publisher followed. `None` when the worker is to stop, or the
/// subscription changed meanwhile (`changed` says so). `skipped` keeps the
/// last reason logged per host, so a poll repeats no line.
pub(super) fn find_publisher(
    ctx: &WorkerCtx,
    sub: &SubscriptionDef,
    slot: &str,
    applied: Lsn,
    skipped: &mut HashMap<String, String>,
    changed: &dyn Fn() -> bool,
) -> PgResult<Option<ReplClient>> {
    let Some((info, targets)) = targets(sub) else {
        return Err(PgError::internal("not a multi-host subscription"));
    };
    let retry = Duration::from_millis(
        ctx.config
            .get_ms("wal_retrieve_retry_interval")
            .unwrap_or(5000)
            .clamp(1, 100),
    );
    loop {
        if ctx.should_stop() || changed() {
            return Ok(None);
        }
        let known = Known {
            followed: followed(ctx, sub),
            applied,
            slot: slot.to_string(),
        };
        let mut passed: Vec<(usize, TimeLineId, ReplClient, Probe)> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let conninfo = tandem_client::with_application_name(&info.for_target(t), &sub.name);
            let outcome = connect(ctx, sub, &conninfo).and_then(|mut c| {
                let p = probe(&mut c, &known);
                match p {
                    Ok(p) => Ok((c, p)),
                    Err(e) => {
                        c.close();
                        Err(e)
                    }
                }
            });
            let reason = match outcome {
                Ok((c, p)) => match judge(&known, &p) {
                    Ok(()) => {
                        passed.push((i, p.timeline, c, p));
                        continue;
                    }
                    Err(r) => {
                        c.close();
                        r
                    }
                },
                Err(e) => e.message.replace('\n', " "),
            };
            let host = shown(t);
            if skipped.get(&host) != Some(&reason) {
                log(&format!(
                    "logical replication apply worker for subscription \"{}\" skips {host}: {reason}",
                    sub.name
                ));
                skipped.insert(host, reason);
            }
        }
        let pick = choose(
            &passed
                .iter()
                .map(|(i, t, _, _)| (*i, *t))
                .collect::<Vec<_>>(),
        );
        let mut chosen = None;
        for (i, _, c, p) in passed {
            if Some(i) == pick {
                chosen = Some((i, c, p));
            } else {
                c.close();
            }
        }
        if let Some((i, client, p)) = chosen {
            let now = FollowedPublisher {
                conninfo: sub.conninfo.clone(),
                system_identifier: p.system_identifier.clone(),
                timeline: p.timeline.0,
            };
            if known.followed.as_ref() != Some(&now) {
                let mut txn = ctx.db.begin(IsolationLevel::ReadCommitted, false);
                txn.set_subscription_followed(sub.oid, now)?;
                if let Some(end) = txn.commit()? {
                    ctx.db.wal().flush(end)?;
                }
            }
            skipped.clear();
            log(&format!(
                "logical replication apply worker for subscription \"{}\" streams from {} on timeline {}",
                sub.name,
                shown(&targets[i]),
                p.timeline.0
            ));
            return Ok(Some(client));
        }
        std::thread::sleep(retry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn followed(tli: u32) -> Option<FollowedPublisher> {
        Some(FollowedPublisher {
            conninfo: "host=a,b".into(),
            system_identifier: "42".into(),
            timeline: tli,
        })
    }

    fn known(tli: u32, applied: u64) -> Known {
        Known {
            followed: followed(tli),
            applied: Lsn(applied),
            slot: "s".into(),
        }
    }

    fn primary(tli: u32, xlogpos: u64) -> Probe {
        Probe {
            in_recovery: false,
            system_identifier: "42".into(),
            timeline: TimeLineId(tli),
            xlogpos: Lsn(xlogpos),
            history: None,
            slot: Some(SlotRow {
                slot_type: "logical".into(),
                active_pid: None,
                invalidation_reason: None,
            }),
        }
    }

    fn promoted_at(tli: u32, switch: u64, xlogpos: u64) -> Probe {
        Probe {
            history: Some(Timelines {
                current: TimeLineId(tli),
                ancestors: vec![(TimeLineId(tli - 1), Lsn(switch))],
            }),
            ..primary(tli, xlogpos)
        }
    }

    #[test]
    fn a_standby_is_never_used() {
        let p = Probe {
            in_recovery: true,
            ..primary(1, 500)
        };
        assert_eq!(
            judge(&known(1, 100), &p),
            Err("server is in recovery, not a primary".into())
        );
        // with nothing known either
        let k = Known {
            followed: None,
            ..known(1, 0)
        };
        assert!(judge(&k, &p).is_err());
    }

    #[test]
    fn the_same_timeline_must_have_what_was_applied() {
        assert_eq!(judge(&known(1, 100), &primary(1, 100)), Ok(()));
        assert_eq!(
            judge(&known(1, 100), &primary(1, 99)),
            Err("its WAL ends at 0/63, before 0/64 which this subscription has applied".into())
        );
    }

    #[test]
    fn an_older_timeline_is_a_stale_node() {
        // the old primary back as a primary after the subscription moved on
        assert_eq!(
            judge(&known(2, 100), &primary(1, 5000)),
            Err("its timeline 1 is behind timeline 2 this subscription streamed from".into())
        );
    }

    #[test]
    fn a_newer_timeline_must_contain_what_was_applied() {
        assert_eq!(judge(&known(1, 100), &promoted_at(2, 100, 200)), Ok(()));
        assert_eq!(judge(&known(1, 100), &promoted_at(2, 150, 200)), Ok(()));
        // promoted before what this subscription got from the old primary
        assert_eq!(
            judge(&known(1, 100), &promoted_at(2, 99, 200)),
            Err("its timeline 2 left timeline 1 at 0/63, before 0/64 which this subscription has applied".into())
        );
        // a branch that never was on timeline 1... of ours
        assert!(judge(&known(3, 100), &promoted_at(5, 90, 200))
            .unwrap_err()
            .contains("not a child of timeline 3"));
        // history not known
        assert!(judge(&known(1, 100), &primary(2, 200)).is_err());
    }

    #[test]
    fn another_system_is_refused() {
        let p = Probe {
            system_identifier: "7".into(),
            ..primary(1, 500)
        };
        assert!(judge(&known(1, 100), &p)
            .unwrap_err()
            .starts_with("its database system identifier 7 differs from 42"));
    }

    #[test]
    fn the_slot_must_be_there_and_usable() {
        let k = known(1, 100);
        let mut p = primary(1, 500);
        p.slot = None;
        assert_eq!(
            judge(&k, &p),
            Err("replication slot \"s\" does not exist".into())
        );
        p.slot = Some(SlotRow {
            slot_type: "logical".into(),
            active_pid: None,
            invalidation_reason: Some("wal_removed".into()),
        });
        assert_eq!(
            judge(&k, &p),
            Err("replication slot \"s\" is invalidated (wal_removed)".into())
        );
        p.slot = Some(SlotRow {
            slot_type: "logical".into(),
            active_pid: Some("77".into()),
            invalidation_reason: None,
        });
        assert_eq!(
            judge(&k, &p),
            Err("replication slot \"s\" is active for PID 77".into())
        );
        p.slot = Some(SlotRow {
            slot_type: "physical".into(),
            active_pid: None,
            invalidation_reason: None,
        });
        assert!(judge(&k, &p).is_err());
    }

    #[test]
    fn nothing_known_takes_a_primary_with_the_slot() {
        let k = Known {
            followed: None,
            ..known(1, 0)
        };
        assert_eq!(judge(&k, &primary(3, 10)), Ok(()));
    }

    #[test]
    fn the_highest_timeline_wins_then_the_order() {
        assert_eq!(choose(&[]), None);
        assert_eq!(
            choose(&[(0, TimeLineId(1)), (1, TimeLineId(2)), (2, TimeLineId(2))]),
            Some(1)
        );
        assert_eq!(choose(&[(3, TimeLineId(1))]), Some(3));
    }
}
