//! Slot sync decisions, one table per rule: remote rows, local slots and the
//! standby's state in, actions and PostgreSQL's messages out.

use super::*;

const DB: Oid = Oid(5);

fn standby() -> StandbyState {
    StandbyState {
        flush: Lsn(0x9000),
        oldest_available: Lsn(0x1000),
        oldest_safe_xmin: Some(Xid(700)),
        databases: [("postgres".to_string(), DB), ("other".to_string(), Oid(6))].into(),
        active: BTreeMap::new(),
    }
}

fn remote(name: &str) -> RemoteSlot {
    RemoteSlot {
        name: name.to_string(),
        plugin: "pgoutput".to_string(),
        confirmed_flush: Some(Lsn(0x5000)),
        restart_lsn: Some(Lsn(0x4000)),
        catalog_xmin: Some(Xid(750)),
        two_phase: false,
        failover: true,
        database: "postgres".to_string(),
        invalidated: None,
    }
}

/// A local synced slot equal to `remote(name)`.
fn synced(name: &str, persistency: Persistency) -> SlotData {
    SlotData {
        database: Some(DB),
        plugin: Some("pgoutput".to_string()),
        restart_lsn: Some(Lsn(0x4000)),
        confirmed_flush: Some(Lsn(0x5000)),
        catalog_xmin: Some(Xid(750)),
        failover: true,
        synced: true,
        ..SlotData::physical(name, persistency)
    }
}

/// A logical slot of the standby's own (`failover = false`).
fn user(name: &str) -> SlotData {
    SlotData {
        synced: false,
        failover: false,
        ..synced(name, Persistency::Persistent)
    }
}

/// A failover slot left over from the node's time as a primary.
fn leftover(name: &str) -> SlotData {
    SlotData {
        synced: false,
        confirmed_flush: Some(Lsn(0x6000)),
        ..synced(name, Persistency::Persistent)
    }
}

fn skip(name: &str, reason: SkipReason) -> Action {
    Action::Skip {
        name: name.to_string(),
        reason,
    }
}

fn persist(name: &str) -> Action {
    Action::Persist {
        name: name.to_string(),
    }
}

fn update(name: &str, change: SlotChange) -> Action {
    Action::Update {
        name: name.to_string(),
        change,
    }
}

fn report(a: &Action, caller: Caller) -> (Level, &'static str, String, Option<String>) {
    let r = a.report(caller).unwrap();
    (r.level, r.code.0, r.message, r.detail)
}

#[test]
fn a_new_remote_slot_is_created_temporary_and_made_sync_ready() {
    let actions = plan_cycle(&[remote("lsub1_slot")], &[], &standby());
    let created = synced("lsub1_slot", Persistency::Temporary);
    assert_eq!(
        actions,
        vec![Action::Create { slot: created }, persist("lsub1_slot")]
    );
    assert_eq!(
        report(&actions[1], Caller::Worker),
        (
            Level::Log,
            "00000",
            "newly created replication slot \"lsub1_slot\" is sync-ready now".to_string(),
            None
        )
    );
    assert!(actions[0].report(Caller::Worker).is_none());
    assert!(any_slot_updated(&actions));
}

#[test]
fn a_new_slot_reserves_no_older_than_the_standby_has_and_waits() {
    // the remote slot needs WAL this standby has already removed
    let st = StandbyState {
        oldest_available: Lsn(0x4800),
        ..standby()
    };
    let actions = plan_cycle(&[remote("s")], &[], &st);
    let reserved = SlotData {
        restart_lsn: Some(Lsn(0x4800)),
        confirmed_flush: None,
        ..synced("s", Persistency::Temporary)
    };
    let behind = SkipReason::RemoteBehind {
        remote_restart_lsn: Lsn(0x4000),
        remote_catalog_xmin: Xid(750),
        local_restart_lsn: Lsn(0x4800),
        local_catalog_xmin: Xid(750),
        temporary: true,
    };
    assert_eq!(
        actions,
        vec![Action::Create { slot: reserved }, skip("s", behind)]
    );
    assert_eq!(
        report(&actions[1], Caller::Worker),
        (
            Level::Log,
            "00000",
            "could not synchronize replication slot \"s\"".to_string(),
            Some(
                "Synchronization could lead to data loss, because the remote slot needs WAL at \
                 LSN 0/4000 and catalog xmin 750, but the standby has LSN 0/4800 and catalog \
                 xmin 750."
                    .to_string()
            )
        )
    );
    // catalog rows: the standby keeps none older than xid 800
    let st = StandbyState {
        oldest_safe_xmin: Some(Xid(800)),
        ..standby()
    };
    let actions = plan_cycle(&[remote("s")], &[], &st);
    match &actions[..] {
        [Action::Create { slot }, Action::Skip { reason, .. }] => {
            assert_eq!(slot.catalog_xmin, Some(Xid(800)));
            assert!(matches!(reason, SkipReason::RemoteBehind { .. }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_temporary_slot_is_persisted_once_the_remote_slot_caught_up() {
    let local = SlotData {
        restart_lsn: Some(Lsn(0x3000)),
        confirmed_flush: None,
        catalog_xmin: Some(Xid(740)),
        ..synced("s", Persistency::Temporary)
    };
    let actions = plan_cycle(&[remote("s")], &[local], &standby());
    let change = SlotChange {
        restart_lsn: Some(Lsn(0x4000)),
        confirmed_flush: Some(Lsn(0x5000)),
        catalog_xmin: Some(Xid(750)),
        ..SlotChange::default()
    };
    assert_eq!(actions, vec![update("s", change), persist("s")]);
    // nothing to copy: still sync-ready, no snapshot wait
    let actions = plan_cycle(
        &[remote("s")],
        &[synced("s", Persistency::Temporary)],
        &standby(),
    );
    assert_eq!(actions, vec![persist("s")]);
}

#[test]
fn a_temporary_slot_stays_temporary_while_the_remote_slot_is_behind() {
    let local = SlotData {
        restart_lsn: Some(Lsn(0x4800)),
        confirmed_flush: None,
        ..synced("s", Persistency::Temporary)
    };
    let actions = plan_cycle(&[remote("s")], &[local], &standby());
    assert_eq!(
        actions,
        vec![skip(
            "s",
            SkipReason::RemoteBehind {
                remote_restart_lsn: Lsn(0x4000),
                remote_catalog_xmin: Xid(750),
                local_restart_lsn: Lsn(0x4800),
                local_catalog_xmin: Xid(750),
                temporary: true,
            }
        )]
    );
    assert!(!any_slot_updated(&actions));
}

#[test]
fn a_persistent_slot_follows_the_remote_slot_forward() {
    let r = RemoteSlot {
        restart_lsn: Some(Lsn(0x4400)),
        confirmed_flush: Some(Lsn(0x8000)),
        catalog_xmin: Some(Xid(760)),
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[synced("s", Persistency::Persistent)], &standby());
    let change = SlotChange {
        restart_lsn: Some(Lsn(0x4400)),
        confirmed_flush: Some(Lsn(0x8000)),
        catalog_xmin: Some(Xid(760)),
        ..SlotChange::default()
    };
    assert_eq!(actions, vec![update("s", change.clone())]);
    assert!(change.moves_horizons());
    // in step: nothing at all
    let actions = plan_cycle(
        &[remote("s")],
        &[synced("s", Persistency::Persistent)],
        &standby(),
    );
    assert_eq!(actions, vec![]);
}

#[test]
fn positions_move_forward_field_by_field_never_backward() {
    // only confirmed_flush moved on the primary
    let r = RemoteSlot {
        confirmed_flush: Some(Lsn(0x6000)),
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[synced("s", Persistency::Persistent)], &standby());
    let change = SlotChange {
        confirmed_flush: Some(Lsn(0x6000)),
        ..SlotChange::default()
    };
    assert!(!change.moves_horizons());
    assert_eq!(actions, vec![update("s", change)]);
}

#[test]
fn a_persistent_slot_ahead_of_the_primary_keeps_its_positions() {
    // local restart_lsn further than the primary's; the plugin changed there
    let local = SlotData {
        restart_lsn: Some(Lsn(0x4800)),
        ..synced("s", Persistency::Persistent)
    };
    let r = RemoteSlot {
        plugin: "test_decoding".to_string(),
        confirmed_flush: Some(Lsn(0x6000)),
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[local], &standby());
    let config_only = SlotChange {
        plugin: Some("test_decoding".to_string()),
        ..SlotChange::default()
    };
    let behind = SkipReason::RemoteBehind {
        remote_restart_lsn: Lsn(0x4000),
        remote_catalog_xmin: Xid(750),
        local_restart_lsn: Lsn(0x4800),
        local_catalog_xmin: Xid(750),
        temporary: false,
    };
    assert_eq!(actions, vec![update("s", config_only), skip("s", behind)]);
    assert_eq!(report(&actions[1], Caller::Worker).0, Level::Debug);
}

#[test]
fn configuration_is_copied_when_it_differs() {
    let r = RemoteSlot {
        database: "other".to_string(),
        plugin: "test_decoding".to_string(),
        two_phase: true,
        ..remote("s")
    };
    let local = SlotData {
        failover: false,
        ..synced("s", Persistency::Persistent)
    };
    let actions = plan_cycle(&[r], &[local], &standby());
    let change = SlotChange {
        database: Some(Oid(6)),
        plugin: Some("test_decoding".to_string()),
        two_phase: Some(true),
        failover: Some(true),
        ..SlotChange::default()
    };
    assert_eq!(actions, vec![update("s", change.clone())]);
    let mut d = synced("s", Persistency::Persistent);
    change.apply(&mut d);
    assert_eq!(
        (d.database, d.plugin.as_deref(), d.two_phase, d.failover),
        (Some(Oid(6)), Some("test_decoding"), true, true)
    );
}

#[test]
fn a_slot_gone_from_the_primary_is_dropped_and_user_slots_are_kept() {
    let local = [
        synced("lsub2_slot", Persistency::Persistent),
        synced("half", Persistency::Temporary),
        user("mine"),
    ];
    let actions = plan_cycle(&[], &local, &standby());
    let drop = |name: &str| Action::Drop {
        name: name.to_string(),
        database: DB,
        reason: DropReason::NotOnPrimary,
    };
    assert_eq!(actions, vec![drop("lsub2_slot"), drop("half")]);
    assert_eq!(
        report(&actions[0], Caller::Function),
        (
            Level::Log,
            "00000",
            "dropped replication slot \"lsub2_slot\" of database with OID 5".to_string(),
            None
        )
    );
    // drops alone do not reset the worker's nap, as in PostgreSQL
    assert!(!any_slot_updated(&actions));
}

#[test]
fn a_slot_invalidated_here_but_valid_there_is_dropped_and_created_again() {
    let local = SlotData {
        invalidated: Some(Invalidation::WalRemoved),
        restart_lsn: None,
        ..synced("lsub1_slot", Persistency::Persistent)
    };
    let actions = plan_cycle(&[remote("lsub1_slot")], &[local], &standby());
    assert_eq!(
        actions,
        vec![
            Action::Drop {
                name: "lsub1_slot".to_string(),
                database: DB,
                reason: DropReason::InvalidatedLocally,
            },
            Action::Create {
                slot: synced("lsub1_slot", Persistency::Temporary)
            },
            persist("lsub1_slot"),
        ]
    );
}

#[test]
fn an_invalidation_on_the_primary_is_copied_once() {
    let r = RemoteSlot {
        invalidated: Some(Invalidation::RowsRemoved),
        ..remote("s")
    };
    let valid = synced("s", Persistency::Persistent);
    let actions = plan_cycle(std::slice::from_ref(&r), &[valid], &standby());
    assert_eq!(
        actions,
        vec![Action::CopyInvalidation {
            name: "s".to_string(),
            cause: Invalidation::RowsRemoved,
        }]
    );
    assert!(actions[0].report(Caller::Worker).is_none());
    // next cycle: both invalidated, the local slot is kept and left alone
    let invalid = SlotData {
        invalidated: Some(Invalidation::RowsRemoved),
        ..synced("s", Persistency::Persistent)
    };
    let actions = plan_cycle(&[r], &[invalid], &standby());
    assert_eq!(actions, vec![skip("s", SkipReason::LocalInvalidated)]);
}

#[test]
fn an_invalidated_remote_slot_is_never_created() {
    let r = RemoteSlot {
        invalidated: Some(Invalidation::WalRemoved),
        restart_lsn: None,
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[], &standby());
    assert_eq!(
        actions,
        vec![skip("s", SkipReason::RemoteInvalidatedNoLocal)]
    );
    assert!(actions[0].report(Caller::Function).is_none());
}

#[test]
fn a_remote_slot_being_created_is_left_for_a_later_cycle() {
    for r in [
        RemoteSlot {
            restart_lsn: None,
            ..remote("s")
        },
        RemoteSlot {
            confirmed_flush: None,
            ..remote("s")
        },
        RemoteSlot {
            catalog_xmin: None,
            ..remote("s")
        },
    ] {
        assert_eq!(
            plan_cycle(&[r], &[], &standby()),
            vec![skip("s", SkipReason::RemoteBeingCreated)]
        );
    }
    // it does not count as present: a synced slot of that name is obsolete
    let r = RemoteSlot {
        restart_lsn: None,
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[synced("s", Persistency::Persistent)], &standby());
    assert_eq!(actions.len(), 2);
    assert!(matches!(
        actions[1],
        Action::Drop {
            reason: DropReason::NotOnPrimary,
            ..
        }
    ));
}

#[test]
fn a_remote_position_beyond_the_standby_flush_is_skipped() {
    let r = RemoteSlot {
        confirmed_flush: Some(Lsn(0x1_0000_A000)),
        ..remote("s")
    };
    let behind = skip(
        "s",
        SkipReason::StandbyBehind {
            remote_confirmed_flush: Lsn(0x1_0000_A000),
            standby_flush: Lsn(0x9000),
        },
    );
    assert_eq!(
        plan_cycle(std::slice::from_ref(&r), &[], &standby()),
        vec![behind.clone()]
    );
    let persistent = synced("s", Persistency::Persistent);
    assert_eq!(
        plan_cycle(&[r], &[persistent], &standby()),
        vec![behind.clone()]
    );
    let text = "skipping slot synchronization because the received slot sync LSN 1/A000 for \
                slot \"s\" is ahead of the standby position 0/9000"
        .to_string();
    assert_eq!(
        report(&behind, Caller::Worker),
        (Level::Log, "00000", text.clone(), None)
    );
    assert_eq!(
        report(&behind, Caller::Function),
        (Level::Error, "XX000", text, None)
    );
}

#[test]
fn a_user_slot_with_the_remote_name_is_never_touched() {
    let r = RemoteSlot {
        confirmed_flush: Some(Lsn(0x8000)),
        ..remote("taken")
    };
    let actions = plan_cycle(&[r], &[user("taken")], &standby());
    let a = skip("taken", SkipReason::NameTakenByUserSlot);
    assert_eq!(actions, vec![a.clone()]);
    let e = a.report(Caller::Worker).unwrap().to_error();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "exiting from slot synchronization because same name slot \"taken\" already \
             exists on the standby"
        )
    );
}

#[test]
fn a_persistent_slot_confirmed_beyond_the_remote_one_is_reported() {
    let local = SlotData {
        confirmed_flush: Some(Lsn(0x6000)),
        ..synced("s", Persistency::Persistent)
    };
    let actions = plan_cycle(&[remote("s")], &[local], &standby());
    let a = skip(
        "s",
        SkipReason::LocalAhead {
            local_confirmed_flush: Lsn(0x6000),
            remote_confirmed_flush: Lsn(0x5000),
        },
    );
    assert_eq!(actions, vec![a.clone()]);
    let e = a.report(Caller::Worker).unwrap().to_error();
    assert_eq!(e.code, SqlState::INTERNAL_ERROR);
    assert_eq!(e.message, "cannot synchronize local slot \"s\"");
    assert_eq!(
        e.detail.as_deref(),
        Some("Local slot's start streaming location LSN(0/6000) is ahead of remote slot's LSN(0/5000).")
    );
}

#[test]
fn an_upstream_standby_behind_the_local_copy_is_forgiven() {
    let ahead = SlotData {
        confirmed_flush: Some(Lsn(0x6000)),
        ..synced("ahead", Persistency::Persistent)
    };
    let behind = RemoteSlot {
        confirmed_flush: Some(Lsn(0x7000)),
        ..remote("moves")
    };
    let mut actions = plan_cycle(
        &[remote("ahead"), behind],
        &[ahead.clone(), synced("moves", Persistency::Persistent)],
        &standby(),
    );
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Skip {
            reason: SkipReason::LocalAhead { .. },
            ..
        }
    )));
    forgive_upstream_replay_lag(&mut actions);
    // the slot ahead is left alone without a report; the other still moves
    assert!(
        actions.iter().all(|a| a.slot_name() == "moves"),
        "{actions:?}"
    );
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Update { name, .. } if name == "moves")));
}

#[test]
fn a_slot_of_a_database_missing_here_is_reported() {
    let r = RemoteSlot {
        database: "gone".to_string(),
        ..remote("s")
    };
    let actions = plan_cycle(&[r], &[], &standby());
    assert_eq!(
        actions,
        vec![skip(
            "s",
            SkipReason::DatabaseMissing {
                database: "gone".to_string()
            }
        )]
    );
    let e = actions[0].report(Caller::Worker).unwrap().to_error();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::UNDEFINED_DATABASE,
            "database \"gone\" does not exist"
        )
    );
}

#[test]
fn one_bad_slot_does_not_stop_the_others() {
    let remote_slots = [
        remote("taken"),
        RemoteSlot {
            confirmed_flush: Some(Lsn(0xA000)),
            ..remote("ahead")
        },
        remote("fresh"),
        RemoteSlot {
            database: "gone".to_string(),
            ..remote("nodb")
        },
        RemoteSlot {
            confirmed_flush: Some(Lsn(0x7000)),
            ..remote("kept")
        },
    ];
    let local = [
        user("taken"),
        synced("kept", Persistency::Persistent),
        synced("obsolete", Persistency::Persistent),
    ];
    let actions = plan_cycle(&remote_slots, &local, &standby());
    assert_eq!(
        actions,
        vec![
            Action::Drop {
                name: "obsolete".to_string(),
                database: DB,
                reason: DropReason::NotOnPrimary,
            },
            skip("taken", SkipReason::NameTakenByUserSlot),
            skip(
                "ahead",
                SkipReason::StandbyBehind {
                    remote_confirmed_flush: Lsn(0xA000),
                    standby_flush: Lsn(0x9000),
                }
            ),
            Action::Create {
                slot: synced("fresh", Persistency::Temporary)
            },
            persist("fresh"),
            skip(
                "nodb",
                SkipReason::DatabaseMissing {
                    database: "gone".to_string()
                }
            ),
            update(
                "kept",
                SlotChange {
                    confirmed_flush: Some(Lsn(0x7000)),
                    ..SlotChange::default()
                }
            ),
        ]
    );
}

/// A small deterministic generator (no dependency, same cases every run).
struct Gen(u64);

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
    fn lsn(&mut self) -> Option<Lsn> {
        (self.below(8) != 0).then(|| Lsn(0x1000 * (1 + self.below(10))))
    }
    fn xid(&mut self) -> Option<Xid> {
        (self.below(8) != 0).then(|| Xid(700 + self.below(10) as u32))
    }
}

fn apply(actions: &[Action], local: &mut Vec<SlotData>) {
    for a in actions {
        let slot = local.iter_mut().position(|l| l.name == a.slot_name());
        match (a, slot) {
            (Action::Drop { name, .. }, _) => local.retain(|l| &l.name != name),
            (Action::Create { slot }, None) => local.push(slot.clone()),
            (Action::Update { change, .. }, Some(i)) => change.apply(&mut local[i]),
            (Action::Persist { .. }, Some(i)) => local[i].persistency = Persistency::Persistent,
            (Action::CopyInvalidation { cause, .. }, Some(i)) => {
                local[i].invalidated = Some(*cause)
            }
            (Action::Skip { .. }, _) => {}
            (a, _) => panic!("{a:?} does not fit the local slots"),
        }
    }
}

#[test]
fn generated_cycles_keep_the_invariants() {
    let names = ["a", "b", "c", "d", "e"];
    let mut g = Gen(0x5107_5e4c);
    // how often each kind of action came up: every rule must be exercised
    let mut seen = BTreeMap::<String, usize>::new();
    for _ in 0..3000 {
        let flush = Lsn(0x1000 * (1 + g.below(12)));
        let st = StandbyState {
            flush,
            oldest_available: Lsn(0x1000 * (1 + g.below(6))),
            oldest_safe_xmin: g.xid(),
            ..standby()
        };
        let mut remote_slots = Vec::new();
        let mut local = Vec::new();
        for n in names {
            if g.below(4) != 0 {
                remote_slots.push(RemoteSlot {
                    confirmed_flush: g.lsn(),
                    restart_lsn: g.lsn(),
                    catalog_xmin: g.xid(),
                    two_phase: g.below(2) == 0,
                    database: ["postgres", "other", "gone"][g.below(3) as usize].to_string(),
                    invalidated: (g.below(6) == 0).then_some(Invalidation::WalRemoved),
                    ..remote(n)
                });
            }
            let kind = g.below(4);
            if kind != 0 {
                let persistency =
                    [Persistency::Temporary, Persistency::Persistent][g.below(2) as usize];
                local.push(SlotData {
                    synced: kind != 1,
                    failover: kind != 1 || g.below(2) == 0,
                    restart_lsn: g.lsn(),
                    confirmed_flush: g.lsn(),
                    catalog_xmin: g.xid(),
                    database: Some(Oid(5 + g.below(2) as u32)),
                    invalidated: (g.below(6) == 0).then_some(Invalidation::RowsRemoved),
                    ..synced(n, persistency)
                });
            }
        }
        let st = StandbyState {
            active: local
                .iter()
                .filter(|_| g.below(3) == 0)
                .map(|l| (l.name.clone(), 77))
                .collect(),
            ..st
        };
        let actions = plan_cycle(&remote_slots, &local, &st);
        let mut model = local.clone();
        for (i, a) in actions.iter().enumerate() {
            let before = model.iter().find(|l| l.name == a.slot_name()).cloned();
            if let Some(b) = before.as_ref().filter(|b| !b.synced) {
                // only a leftover failover slot not in use is replaced, by a
                // synced copy created right after
                let replaced = matches!(
                    a,
                    Action::Drop {
                        reason: DropReason::LeftoverOfPrimary,
                        ..
                    }
                );
                assert!(
                    matches!(a, Action::Skip { .. }) || replaced,
                    "a user slot was touched: {a:?}"
                );
                if replaced {
                    assert!(b.failover && !st.active.contains_key(&b.name), "{b:?}");
                    assert!(
                        matches!(actions.get(i + 1), Some(Action::Create { slot }) if slot.name == b.name)
                            || matches!(
                                actions.get(i + 1),
                                Some(Action::Skip {
                                    reason: SkipReason::RemoteInvalidatedNoLocal,
                                    ..
                                })
                            ),
                        "{actions:?}"
                    );
                }
            }
            match a {
                Action::Create { slot } => {
                    assert!(before.is_none());
                    assert!(slot.synced && slot.persistency == Persistency::Temporary);
                    assert!(slot.restart_lsn >= Some(st.oldest_available));
                    assert!(slot.catalog_xmin >= st.oldest_safe_xmin);
                    assert!(slot.confirmed_flush.is_none_or(|cf| cf <= flush));
                }
                Action::Update { change, .. } => {
                    let b = before.clone().unwrap();
                    assert!(change.restart_lsn.is_none_or(|l| Some(l) > b.restart_lsn));
                    assert!(change.catalog_xmin.is_none_or(|x| Some(x) > b.catalog_xmin));
                    assert!(change
                        .confirmed_flush
                        .is_none_or(|l| Some(l) > b.confirmed_flush && l <= flush));
                }
                Action::Persist { .. } => {
                    let b = before.clone().unwrap();
                    let r = remote_slots.iter().find(|r| r.name == b.name).unwrap();
                    assert_eq!(b.persistency, Persistency::Temporary);
                    assert!(b.restart_lsn >= Some(st.oldest_available));
                    assert!(r.restart_lsn >= b.restart_lsn && r.catalog_xmin >= b.catalog_xmin);
                    assert!(b.confirmed_flush.is_some_and(|cf| cf <= flush));
                }
                Action::Drop {
                    reason: DropReason::LeftoverOfPrimary,
                    ..
                } => {}
                Action::Drop { .. } | Action::CopyInvalidation { .. } => {
                    assert!(before.is_some_and(|b| b.synced));
                }
                Action::Skip { .. } => {}
            }
            let kind = match a {
                Action::Skip { reason, .. } => format!("{reason:?}"),
                other => format!("{other:?}"),
            };
            let kind = kind
                .split([' ', '('])
                .next()
                .unwrap_or_default()
                .to_string();
            *seen.entry(kind).or_default() += 1;
            apply(std::slice::from_ref(a), &mut model);
        }
        // a second cycle over the result has nothing left to change
        let again = plan_cycle(&remote_slots, &model, &st);
        assert!(
            again.iter().all(|a| matches!(a, Action::Skip { .. })),
            "{remote_slots:?}\n{local:?}\n{actions:?}\n{again:?}"
        );
    }
    for kind in [
        "Drop",
        "LeftoverInUse",
        "Create",
        "Update",
        "Persist",
        "CopyInvalidation",
        "RemoteBeingCreated",
        "DatabaseMissing",
        "StandbyBehind",
        "NameTakenByUserSlot",
        "RemoteInvalidatedNoLocal",
        "LocalInvalidated",
        "LocalAhead",
        "RemoteBehind",
    ] {
        assert!(seen.get(kind).is_some_and(|&n| n >= 10), "{kind}: {seen:?}");
    }
}

#[test]
fn rows_from_the_primary_are_parsed() {
    let row = [
        Some("lsub1_slot"),
        Some("pgoutput"),
        Some("0/5000"),
        Some("0/4000"),
        Some("750"),
        Some("f"),
        Some("t"),
        Some("postgres"),
        None,
    ];
    assert_eq!(RemoteSlot::from_row(&row).unwrap(), remote("lsub1_slot"));
    let invalid = [
        Some("s"),
        Some("pgoutput"),
        Some("0/5000"),
        None,
        None,
        Some("t"),
        Some("t"),
        Some("postgres"),
        Some("wal_removed"),
    ];
    let r = RemoteSlot::from_row(&invalid).unwrap();
    assert_eq!(
        (r.restart_lsn, r.catalog_xmin, r.two_phase, r.invalidated),
        (None, None, true, Some(Invalidation::WalRemoved))
    );
    let mut bad = row;
    bad[8] = Some("sleepy");
    let e = RemoteSlot::from_row(&bad).unwrap_err();
    assert_eq!(
        e.message,
        "invalid invalidation_reason \"sleepy\" of replication slot \"lsub1_slot\" from the primary server"
    );
    let mut bad = row;
    bad[2] = Some("5000");
    assert!(RemoteSlot::from_row(&bad).is_err());
    assert!(RemoteSlot::from_row(&row[..8]).is_err());
    assert_eq!(
        invalidation_from_name("wal_level_insufficient"),
        Some(Invalidation::WalLevelInsufficient)
    );
    assert_eq!(
        FETCH_FAILOVER_SLOTS_QUERY,
        "SELECT slot_name, plugin, confirmed_flush_lsn, restart_lsn, catalog_xmin, two_phase, \
         failover, database, invalidation_reason FROM pg_catalog.pg_replication_slots WHERE \
         failover and NOT temporary"
    );
}

#[test]
fn the_worker_naps_longer_while_nothing_changes() {
    assert_eq!(next_nap_ms(NAP_MIN_MS, false), 400);
    assert_eq!(next_nap_ms(20_000, false), NAP_MAX_MS);
    assert_eq!(next_nap_ms(NAP_MAX_MS, false), NAP_MAX_MS);
    assert_eq!(next_nap_ms(NAP_MAX_MS, true), NAP_MIN_MS);
}

/// The names `pg_replication_slots.slotsync_skip_reason` shows, and which
/// skip a cycle reports for each remote slot.
#[test]
fn skip_reason_names_and_outcomes() {
    let lsn = Lsn(0x10);
    let cases = [
        (SkipReason::RemoteBeingCreated, "remote_being_created"),
        (
            SkipReason::DatabaseMissing {
                database: "gone".into(),
            },
            "database_missing",
        ),
        (
            SkipReason::StandbyBehind {
                remote_confirmed_flush: lsn,
                standby_flush: lsn,
            },
            "wal_not_flushed",
        ),
        (SkipReason::NameTakenByUserSlot, "name_taken_by_user_slot"),
        (SkipReason::RemoteInvalidatedNoLocal, "slot_invalidated"),
        (SkipReason::LocalInvalidated, "slot_invalidated"),
        (
            SkipReason::LocalAhead {
                local_confirmed_flush: lsn,
                remote_confirmed_flush: lsn,
            },
            "local_ahead",
        ),
        (
            SkipReason::RemoteBehind {
                remote_restart_lsn: lsn,
                remote_catalog_xmin: Xid(3),
                local_restart_lsn: lsn,
                local_catalog_xmin: Xid(3),
                temporary: true,
            },
            "wal_or_rows_removed",
        ),
    ];
    for (reason, name) in cases {
        assert_eq!(reason.name(), name, "{reason:?}");
    }
    // a remote slot beyond the standby's flush is skipped; the other synced
    let mut ahead = remote("ahead");
    ahead.confirmed_flush = Some(Lsn(0xA000));
    let remotes = [ahead, remote("fine")];
    let local = [
        synced("ahead", Persistency::Persistent),
        synced("fine", Persistency::Persistent),
    ];
    let actions = plan_cycle(&remotes, &local, &standby());
    let outcomes: Vec<(&str, Option<&str>)> = skip_outcomes(&remotes, &actions)
        .into_iter()
        .map(|(r, s)| (r.name.as_str(), s.map(SkipReason::name)))
        .collect();
    assert_eq!(
        outcomes,
        [("ahead", Some("wal_not_flushed")), ("fine", None)]
    );
}

#[test]
fn a_failover_slot_left_over_from_the_primary_is_replaced_by_a_synced_copy() {
    let actions = plan_cycle(
        &[remote("lsub1_slot")],
        &[leftover("lsub1_slot")],
        &standby(),
    );
    let dropped = Action::Drop {
        name: "lsub1_slot".to_string(),
        database: DB,
        reason: DropReason::LeftoverOfPrimary,
    };
    assert_eq!(
        actions,
        vec![
            dropped.clone(),
            Action::Create {
                slot: synced("lsub1_slot", Persistency::Temporary)
            },
            persist("lsub1_slot"),
        ]
    );
    assert_eq!(
        report(&dropped, Caller::Worker),
        (
            Level::Log,
            "00000",
            "replacing replication slot \"lsub1_slot\" by a synced copy of the primary server's slot"
                .to_string(),
            Some(
                "The local slot has failover enabled and is not synced: it is left over from \
                 the time this server was a primary."
                    .to_string()
            )
        )
    );
    // the copy follows the remote slot, even where the leftover was ahead
    let mut model = vec![leftover("lsub1_slot")];
    apply(&actions, &mut model);
    assert_eq!(model, vec![synced("lsub1_slot", Persistency::Persistent)]);
}

#[test]
fn a_leftover_in_use_or_not_yet_syncable_is_kept() {
    // in use: reported, replaced once released
    let st = StandbyState {
        active: [("lsub1_slot".to_string(), 4242)].into(),
        ..standby()
    };
    let actions = plan_cycle(&[remote("lsub1_slot")], &[leftover("lsub1_slot")], &st);
    let a = skip("lsub1_slot", SkipReason::LeftoverInUse { pid: 4242 });
    assert_eq!(actions, vec![a.clone()]);
    let e = a.report(Caller::Worker).unwrap().to_error();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::OBJECT_IN_USE,
            "replication slot \"lsub1_slot\" is active for PID 4242"
        )
    );
    // the standby has not flushed up to the remote slot yet: nothing dropped
    let ahead = RemoteSlot {
        confirmed_flush: Some(Lsn(0xA000)),
        ..remote("lsub1_slot")
    };
    let actions = plan_cycle(&[ahead], &[leftover("lsub1_slot")], &standby());
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Skip {
                reason: SkipReason::StandbyBehind { .. },
                ..
            }]
        ),
        "{actions:?}"
    );
    // a database missing here: nothing dropped either
    let nodb = RemoteSlot {
        database: "gone".to_string(),
        ..remote("lsub1_slot")
    };
    let actions = plan_cycle(&[nodb], &[leftover("lsub1_slot")], &standby());
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Skip {
                reason: SkipReason::DatabaseMissing { .. },
                ..
            }]
        ),
        "{actions:?}"
    );
    // a leftover the primary no longer lists is not a synced slot: kept
    assert_eq!(plan_cycle(&[], &[leftover("old")], &standby()), vec![]);
    assert!(is_leftover_of_primary(&leftover("x")));
    assert!(!is_leftover_of_primary(&user("x")));
    assert!(!is_leftover_of_primary(&synced(
        "x",
        Persistency::Persistent
    )));
}

#[test]
fn pushed_state_replaces_a_leftover_as_a_cycle_does() {
    // one rule for both planners: the partial (pushed) plan of a leftover is
    // the connection cycle's plan of it, action for action
    let local = [
        leftover("lsub1_slot"),
        synced("other", Persistency::Persistent),
    ];
    let cycle = plan_cycle(&[remote("lsub1_slot"), remote("other")], &local, &standby());
    let pushed = plan_pushed(&[remote("lsub1_slot")], &[], &local, &standby());
    assert_eq!(pushed, cycle);
    assert!(matches!(
        &pushed[..],
        [
            Action::Drop {
                reason: DropReason::LeftoverOfPrimary,
                ..
            },
            Action::Create { .. },
            Action::Persist { .. }
        ]
    ));
    let mut model = local.to_vec();
    apply(&pushed, &mut model);
    assert!(model.contains(&synced("lsub1_slot", Persistency::Persistent)));
    // in use: reported, kept; the same when the standby lacks the WAL
    let busy = StandbyState {
        active: [("lsub1_slot".to_string(), 4242)].into(),
        ..standby()
    };
    assert_eq!(
        plan_pushed(&[remote("lsub1_slot")], &[], &local, &busy),
        vec![skip("lsub1_slot", SkipReason::LeftoverInUse { pid: 4242 })]
    );
    let ahead = RemoteSlot {
        confirmed_flush: Some(Lsn(0xA000)),
        ..remote("lsub1_slot")
    };
    assert!(matches!(
        plan_pushed(&[ahead], &[], &local, &standby()).as_slice(),
        [Action::Skip {
            reason: SkipReason::StandbyBehind { .. },
            ..
        }]
    ));
    // a drop pushed for the name leaves the leftover alone: it is no synced slot
    assert!(plan_pushed(&[], &["lsub1_slot".to_string()], &local, &standby()).is_empty());
}

#[test]
fn one_bad_slot_never_stops_the_leftover_replacement_of_another() {
    let actions = plan_cycle(
        &[remote("taken"), remote("old")],
        &[user("taken"), leftover("old")],
        &standby(),
    );
    assert_eq!(actions[0], skip("taken", SkipReason::NameTakenByUserSlot));
    assert!(matches!(
        &actions[1],
        Action::Drop {
            reason: DropReason::LeftoverOfPrimary,
            ..
        }
    ));
    assert!(matches!(&actions[2], Action::Create { slot } if slot.name == "old"));
}

fn physical_remote(name: &str, restart: u64) -> RemotePhysicalSlot {
    RemotePhysicalSlot {
        name: name.to_string(),
        restart_lsn: Some(Lsn(restart)),
        active_pid: None,
    }
}

fn physical_copy(name: &str, restart: u64) -> SlotData {
    SlotData {
        restart_lsn: Some(Lsn(restart)),
        synced: true,
        ..SlotData::physical(name, Persistency::Persistent)
    }
}

#[test]
fn physical_slots_are_copied_except_the_standbys_own() {
    let remote_slots = [
        physical_remote("sb1_slot", 0x8000),
        physical_remote("sb_b", 0x3000),
        // ahead of what this standby flushed: capped
        physical_remote("sb_c", 0xB000),
        // older than the WAL still here: holds what is here
        physical_remote("sb_d", 0x800),
        RemotePhysicalSlot {
            name: "unreserved".to_string(),
            restart_lsn: None,
            active_pid: None,
        },
    ];
    let actions = plan_physical(&remote_slots, &[], "sb1_slot", &standby());
    let create = |name: &str, restart: Option<u64>| Action::Create {
        slot: SlotData {
            restart_lsn: restart.map(Lsn),
            ..physical_copy(name, 0)
        },
    };
    assert_eq!(
        actions,
        vec![
            create("sb_b", Some(0x3000)),
            create("sb_c", Some(0x9000)),
            create("sb_d", Some(0x1000)),
            create("unreserved", None),
        ]
    );
    assert!(actions.iter().all(|a| a.report(Caller::Worker).is_none()));
    assert!(any_slot_updated(&actions));
    // a second cycle over the result changes nothing
    let mut model = Vec::new();
    apply(&actions, &mut model);
    assert_eq!(
        plan_physical(&remote_slots, &model, "sb1_slot", &standby()),
        vec![]
    );
}

#[test]
fn a_physical_copy_moves_forward_only_and_never_past_the_flush() {
    let local = [physical_copy("sb_b", 0x3000)];
    let at = |restart: u64| {
        plan_physical(
            &[physical_remote("sb_b", restart)],
            &local,
            "own",
            &standby(),
        )
    };
    let moved = |to: u64| {
        vec![update(
            "sb_b",
            SlotChange {
                restart_lsn: Some(Lsn(to)),
                ..SlotChange::default()
            },
        )]
    };
    assert_eq!(at(0x5000), moved(0x5000));
    assert_eq!(at(0xC000), moved(0x9000));
    assert_eq!(at(0x2000), vec![]);
    assert_eq!(at(0x3000), vec![]);
    let unreserved = RemotePhysicalSlot {
        name: "sb_b".to_string(),
        restart_lsn: None,
        active_pid: None,
    };
    assert_eq!(
        plan_physical(&[unreserved], &local, "own", &standby()),
        vec![]
    );
}

#[test]
fn physical_copies_are_dropped_when_gone_and_local_slots_are_left_alone() {
    let local = [
        physical_copy("gone", 0x3000),
        // this standby now streams through it: not a copy any more
        physical_copy("own", 0x3000),
        SlotData {
            restart_lsn: Some(Lsn(0x2000)),
            ..SlotData::physical("cascade", Persistency::Persistent)
        },
        user("logical_mine"),
        SlotData {
            invalidated: Some(Invalidation::WalRemoved),
            restart_lsn: None,
            ..physical_copy("lost", 0)
        },
    ];
    let remote_slots = [
        physical_remote("own", 0x4000),
        physical_remote("cascade", 0x4000),
        physical_remote("logical_mine", 0x4000),
        physical_remote("lost", 0x4000),
    ];
    let actions = plan_physical(&remote_slots, &local, "own", &standby());
    let drop = |name: &str, reason| Action::Drop {
        name: name.to_string(),
        database: Oid(0),
        reason,
    };
    assert_eq!(
        actions,
        vec![
            drop("gone", DropReason::NotOnPrimary),
            drop("own", DropReason::NotOnPrimary),
            drop("lost", DropReason::InvalidatedLocally),
            skip("cascade", SkipReason::NameTakenByLocalPhysicalSlot),
            skip("logical_mine", SkipReason::NameTakenByUserSlot),
            Action::Create {
                slot: physical_copy("lost", 0x4000)
            },
        ]
    );
    assert_eq!(
        report(&actions[0], Caller::Worker),
        (
            Level::Log,
            "00000",
            "dropped synced physical replication slot \"gone\"".to_string(),
            None
        )
    );
    assert!(actions[3].report(Caller::Worker).is_none());
}

#[test]
fn physical_rows_from_the_primary_are_parsed() {
    assert_eq!(
        RemotePhysicalSlot::from_row(&[Some("sb_b"), Some("0/3000"), None]).unwrap(),
        physical_remote("sb_b", 0x3000)
    );
    assert_eq!(
        RemotePhysicalSlot::from_row(&[Some("sb_b"), None, Some("4242")]).unwrap(),
        RemotePhysicalSlot {
            name: "sb_b".to_string(),
            restart_lsn: None,
            active_pid: Some(4242),
        }
    );
    assert!(RemotePhysicalSlot::from_row(&[Some("sb_b"), Some("x"), None]).is_err());
    assert!(RemotePhysicalSlot::from_row(&[Some("sb_b"), None, Some("x")]).is_err());
    assert!(RemotePhysicalSlot::from_row(&[Some("sb_b"), None]).is_err());
    assert_eq!(
        FETCH_PHYSICAL_SLOTS_QUERY,
        "SELECT slot_name, restart_lsn, active_pid FROM pg_catalog.pg_replication_slots \
         WHERE slot_type = 'physical' AND NOT temporary"
    );
}

#[test]
fn the_logical_half_leaves_physical_copies_alone() {
    let local = [
        physical_copy("sb_b", 0x3000),
        physical_copy("clash", 0x3000),
    ];
    assert_eq!(
        plan_cycle(&[remote("clash")], &local, &standby()),
        vec![skip("clash", SkipReason::NameTakenByUserSlot)]
    );
}
