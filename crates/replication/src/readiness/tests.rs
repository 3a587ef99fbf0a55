//! Readiness decisions, one case per reason: the last cycle's view of a remote
//! slot, its skip, the local copy and the standby in; ready or the reason out.

use super::*;
use crate::slot::Invalidation;
use tandem_types::{Oid, Xid};

const HEALTHY: StandbyStatus = StandbyStatus {
    streaming: true,
    sync_running: true,
    listed: true,
    flush: Lsn(0x9000),
    consumers_may_have: Some(Lsn(0x9000)),
};

fn remote(cf: u64) -> RemoteSlot {
    RemoteSlot {
        name: "s".to_string(),
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

fn copy(cf: u64, persistency: Persistency) -> SlotData {
    SlotData {
        database: Some(Oid(5)),
        plugin: Some("pgoutput".to_string()),
        restart_lsn: Some(Lsn(0x4000)),
        confirmed_flush: Some(Lsn(cf)),
        catalog_xmin: Some(Xid(750)),
        failover: true,
        synced: true,
        ..SlotData::physical("s", persistency)
    }
}

fn reason(r: &Readiness) -> Option<&str> {
    r.reason.as_deref()
}

#[test]
fn a_persistent_caught_up_copy_on_a_healthy_standby_is_ready() {
    let r = assess(
        &remote(0x5000),
        None,
        Some(&copy(0x5000, Persistency::Persistent)),
        &HEALTHY,
    );
    assert!(r.ready());
    assert_eq!(r.lag_bytes, Some(0));
}

#[test]
fn without_a_local_copy() {
    let r = assess(&remote(0x5000), None, None, &HEALTHY);
    assert_eq!(reason(&r), Some("not synced yet"));
    assert_eq!(r.lag_bytes, None);
    // a transient skip (the standby has not flushed the slot's position yet)
    let behind = SkipReason::StandbyBehind {
        remote_confirmed_flush: Lsn(0x5000),
        standby_flush: Lsn(0x4000),
    };
    let r = assess(&remote(0x5000), Some(&behind), None, &HEALTHY);
    assert_eq!(reason(&r), Some("not synced yet"));
    // skips a later cycle does not cure by itself are named
    let missing = SkipReason::DatabaseMissing {
        database: "gone".into(),
    };
    let r = assess(&remote(0x5000), Some(&missing), None, &HEALTHY);
    assert_eq!(reason(&r), Some("database_missing"));
    let user = SlotData {
        synced: false,
        ..copy(0x5000, Persistency::Persistent)
    };
    let taken = SkipReason::NameTakenByUserSlot;
    let r = assess(&remote(0x5000), Some(&taken), Some(&user), &HEALTHY);
    assert_eq!(reason(&r), Some("name_taken_by_user_slot"));
    // a user slot created after the last cycle
    let r = assess(&remote(0x5000), None, Some(&user), &HEALTHY);
    assert_eq!(reason(&r), Some("name_taken_by_user_slot"));
    // invalidated on the primary before it was ever copied
    let mut gone = remote(0x5000);
    gone.invalidated = Some(Invalidation::RowsRemoved);
    let r = assess(
        &gone,
        Some(&SkipReason::RemoteInvalidatedNoLocal),
        None,
        &HEALTHY,
    );
    assert_eq!(reason(&r), Some("invalidated: rows_removed"));
}

/// PostgreSQL 17's documented check (`synced AND NOT temporary AND NOT
/// conflicting`) passes a copy invalidated by `wal_removed`; this does not.
#[test]
fn an_invalidated_copy_is_never_ready() {
    for cause in [
        Invalidation::WalRemoved,
        Invalidation::RowsRemoved,
        Invalidation::WalLevelInsufficient,
    ] {
        let mut c = copy(0x5000, Persistency::Persistent);
        c.invalidated = Some(cause);
        let r = assess(
            &remote(0x5000),
            Some(&SkipReason::LocalInvalidated),
            Some(&c),
            &HEALTHY,
        );
        assert_eq!(r.reason, Some(format!("invalidated: {}", cause.as_str())));
    }
}

#[test]
fn a_temporary_copy_is_not_sync_ready() {
    let held = SkipReason::RemoteBehind {
        remote_restart_lsn: Lsn(0x1000),
        remote_catalog_xmin: Xid(700),
        local_restart_lsn: Lsn(0x4000),
        local_catalog_xmin: Xid(750),
        temporary: true,
    };
    let r = assess(
        &remote(0x5000),
        Some(&held),
        Some(&copy(0x4800, Persistency::Temporary)),
        &HEALTHY,
    );
    assert_eq!(reason(&r), Some("temporary (not sync-ready)"));
    assert_eq!(r.lag_bytes, Some(0x800));
}

#[test]
fn a_lagging_copy_says_by_how_much_and_why() {
    let skip = SkipReason::StandbyBehind {
        remote_confirmed_flush: Lsn(0x5000),
        standby_flush: Lsn(0x4800),
    };
    let local = copy(0x4800, Persistency::Persistent);
    let r = assess(&remote(0x5000), Some(&skip), Some(&local), &HEALTHY);
    assert_eq!(
        reason(&r),
        Some("behind the primary by 2048 bytes (wal_not_flushed)")
    );
    assert_eq!(r.lag_bytes, Some(2048));
    let r = assess(&remote(0x5000), None, Some(&local), &HEALTHY);
    assert_eq!(reason(&r), Some("behind the primary by 2048 bytes"));
    // behind comes before the standby's own problems
    let down = StandbyStatus {
        streaming: false,
        ..HEALTHY
    };
    let r = assess(&remote(0x5000), Some(&skip), Some(&local), &down);
    assert_eq!(
        reason(&r),
        Some("behind the primary by 2048 bytes (wal_not_flushed)")
    );
}

#[test]
fn other_skips_of_a_caught_up_copy_are_named() {
    let ahead = SkipReason::LocalAhead {
        local_confirmed_flush: Lsn(0x5800),
        remote_confirmed_flush: Lsn(0x5000),
    };
    let r = assess(
        &remote(0x5000),
        Some(&ahead),
        Some(&copy(0x5800, Persistency::Persistent)),
        &HEALTHY,
    );
    assert_eq!(reason(&r), Some("local_ahead"));
    assert_eq!(r.lag_bytes, Some(-0x800));
    let removed = SkipReason::RemoteBehind {
        remote_restart_lsn: Lsn(0x1000),
        remote_catalog_xmin: Xid(700),
        local_restart_lsn: Lsn(0x4000),
        local_catalog_xmin: Xid(750),
        temporary: false,
    };
    let r = assess(
        &remote(0x5000),
        Some(&removed),
        Some(&copy(0x5000, Persistency::Persistent)),
        &HEALTHY,
    );
    assert_eq!(reason(&r), Some("wal_or_rows_removed"));
}

#[test]
fn the_standbys_own_problems_in_order() {
    let local = copy(0x5000, Persistency::Persistent);
    let cases = [
        (
            StandbyStatus {
                streaming: false,
                sync_running: false,
                listed: false,
                ..HEALTHY
            },
            "standby not streaming",
        ),
        (
            StandbyStatus {
                sync_running: false,
                listed: false,
                ..HEALTHY
            },
            "slot sync not running",
        ),
        (
            StandbyStatus {
                listed: false,
                ..HEALTHY
            },
            "this standby is not in the primary's synchronized_standby_slots",
        ),
        (
            // lacking WAL a consumer may have comes first
            StandbyStatus {
                streaming: false,
                consumers_may_have: Some(Lsn(0x9800)),
                ..HEALTHY
            },
            "not among the standbys that confirmed what consumers may have received \
             (synchronized_standby_slots is met without it; 2048 bytes behind)",
        ),
    ];
    for (standby, want) in cases {
        let r = assess(&remote(0x5000), None, Some(&local), &standby);
        assert_eq!(reason(&r), Some(want), "{standby:?}");
        assert_eq!(r.lag_bytes, Some(0));
    }
    // not listed: what the others confirmed says nothing about this standby
    let r = assess(
        &remote(0x5000),
        None,
        Some(&local),
        &StandbyStatus {
            listed: false,
            consumers_may_have: Some(Lsn(0x9800)),
            ..HEALTHY
        },
    );
    assert_eq!(
        reason(&r),
        Some("this standby is not in the primary's synchronized_standby_slots")
    );
    // caught up with what the quorum confirmed, or ahead of it: ready
    for may_have in [Some(Lsn(0x9000)), Some(Lsn(0x8000)), None] {
        let r = assess(
            &remote(0x5000),
            None,
            Some(&local),
            &StandbyStatus {
                consumers_may_have: may_have,
                ..HEALTHY
            },
        );
        assert!(r.ready(), "{may_have:?}");
    }
}

#[test]
fn listed_in_parses_the_setting() {
    assert!(listed_in("sb1_slot", "sb1_slot"));
    assert!(listed_in("other, \"sb1_slot\"", "sb1_slot"));
    assert!(listed_in("OTHER,SB1_SLOT", "sb1_slot"));
    assert!(!listed_in("", "sb1_slot"));
    assert!(!listed_in("sb2_slot", "sb1_slot"));
    assert!(!listed_in("sb1_slot", ""));
    assert!(!listed_in("bad name!", "sb1_slot"));
}

fn physical(name: &str, restart: Option<u64>, active: Option<i32>) -> SlotInfo {
    let mut data = SlotData::physical(name, Persistency::Persistent);
    data.restart_lsn = restart.map(Lsn);
    SlotInfo {
        data,
        active_pid: active,
        inactive_since: None,
        retained_restart_lsn: None,
    }
}

fn failover(name: &str, cf: u64) -> SlotInfo {
    SlotInfo {
        data: SlotData {
            name: name.to_string(),
            synced: false,
            ..copy(cf, Persistency::Persistent)
        },
        active_pid: None,
        inactive_since: None,
        retained_restart_lsn: None,
    }
}

#[test]
fn counted_standbys_are_streaming_or_listed() {
    let walsenders: BTreeSet<i32> = [10, 11].into();
    let slots = [
        physical("streaming", Some(0x5000), Some(10)),
        physical("listed_gone", Some(0x5000), None),
        physical("unlisted_gone", Some(0x5000), None),
        // held by a session, not a walsender
        physical("held", Some(0x5000), Some(99)),
        SlotInfo {
            data: SlotData::physical("temp", Persistency::Temporary),
            active_pid: Some(11),
            inactive_since: None,
            retained_restart_lsn: None,
        },
        failover("lsub", 0x5000),
    ];
    let listed = vec!["listed_gone".to_string()];
    let counted: Vec<(&str, bool)> = counted_standbys(&slots, &listed, &walsenders)
        .into_iter()
        .map(|(s, c)| (s.data.name.as_str(), c))
        .collect();
    assert_eq!(counted, [("streaming", true), ("listed_gone", false)]);
}

#[test]
fn takeover_reasons_in_order() {
    let slot = failover("lsub", 0x5000).data;
    let sb = physical("sb", Some(0x5000), Some(10)).data;
    let t = takeover(&slot, &sb, true, true, Some(Lsn(0x5000)));
    assert_eq!(t.reason, None);
    assert_eq!(
        (t.standby_flush, t.slot_confirmed_flush),
        (Some(Lsn(0x5000)), Some(Lsn(0x5000)))
    );
    let behind = physical("sb", Some(0x4000), Some(10)).data;
    assert_eq!(
        takeover(&slot, &behind, true, true, None).reason.as_deref(),
        Some("standby behind the slot by 4096 bytes")
    );
    let nothing = physical("sb", None, Some(10)).data;
    assert_eq!(
        takeover(&slot, &nothing, true, true, None)
            .reason
            .as_deref(),
        Some("standby has not reported a flush position")
    );
    assert_eq!(
        takeover(&slot, &behind, true, false, None)
            .reason
            .as_deref(),
        Some("not in synchronized_standby_slots")
    );
    assert_eq!(
        takeover(&slot, &sb, false, true, None).reason.as_deref(),
        Some("standby not connected")
    );
    let mut lost = sb.clone();
    lost.invalidated = Some(Invalidation::WalRemoved);
    assert_eq!(
        takeover(&slot, &lost, false, false, None).reason.as_deref(),
        Some("standby slot invalidated: wal_removed")
    );
    let mut dead = slot.clone();
    dead.invalidated = Some(Invalidation::RowsRemoved);
    assert_eq!(
        takeover(&dead, &lost, false, false, None).reason.as_deref(),
        Some("slot invalidated: rows_removed")
    );
}

#[test]
fn takeovers_pair_failover_slots_with_counted_standbys() {
    let walsenders: BTreeSet<i32> = [10].into();
    let mut not_failover = failover("plain", 0x5000);
    not_failover.data.failover = false;
    let slots = [
        failover("a", 0x5000),
        failover("b", 0x6000),
        not_failover,
        physical("sb1", Some(0x5800), Some(10)),
        physical("sb2", Some(0x5800), None),
    ];
    let listed = standby_slots::parse("sb1, sb2").unwrap();
    let rows: Vec<(String, String, Option<String>)> = takeovers(&slots, &listed, &walsenders)
        .into_iter()
        .map(|t| (t.slot_name, t.standby_slot, t.reason))
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        rows,
        [
            (s("a"), s("sb1"), None),
            (s("a"), s("sb2"), Some(s("standby not connected"))),
            (
                s("b"),
                s("sb1"),
                Some(s("standby behind the slot by 2048 bytes"))
            ),
            (s("b"), s("sb2"), Some(s("standby not connected"))),
        ]
    );
}

#[test]
fn the_consumers_may_have_what_the_quorum_flushed() {
    let slots = [
        physical("s1", Some(0x5000), Some(10)),
        physical("s2", Some(0x3000), None),
    ];
    let list = |v: &str| standby_slots::parse(v).unwrap();
    // the plain list: the oldest of them all, so every listed standby has it
    assert_eq!(
        consumers_may_have(&list("s1, s2"), &slots),
        Some(Lsn(0x3000))
    );
    // ANY 1: the newest; FIRST 1: the first streaming one
    assert_eq!(
        consumers_may_have(&list("ANY 1 (s1, s2)"), &slots),
        Some(Lsn(0x5000))
    );
    assert_eq!(
        consumers_may_have(&list("FIRST 1 (s2, s1)"), &slots),
        Some(Lsn(0x5000))
    );
    assert_eq!(consumers_may_have(&list(""), &slots), None);
    // the same from a cycle's reading of the upstream
    let remote = |name: &str, restart: u64, pid: Option<i32>| RemotePhysicalSlot {
        name: name.to_string(),
        restart_lsn: Some(Lsn(restart)),
        active_pid: pid,
    };
    let upstream = [remote("s1", 0x5000, Some(10)), remote("s2", 0x3000, None)];
    assert_eq!(
        consumers_may_have_remote("ANY 1 (s1, s2)", &upstream),
        Some(Lsn(0x5000))
    );
    assert_eq!(
        consumers_may_have_remote("FIRST 1 (s2, s1)", &upstream),
        Some(Lsn(0x5000))
    );
    assert_eq!(
        consumers_may_have_remote("s1, s2", &upstream),
        Some(Lsn(0x3000))
    );
    assert_eq!(consumers_may_have_remote("bad name!", &upstream), None);
}

#[test]
fn a_listed_standby_the_quorum_was_met_without_cannot_take_over() {
    let walsenders: BTreeSet<i32> = [10, 11].into();
    let slots = [
        failover("lsub", 0x5000),
        physical("s1", Some(0x5000), Some(10)),
        // stopped after flushing 0x3000; the consumer went on with s1 alone
        physical("s2", Some(0x3000), None),
    ];
    let rows = |setting: &str| -> Vec<(String, Option<String>)> {
        takeovers(&slots, &standby_slots::parse(setting).unwrap(), &walsenders)
            .into_iter()
            .map(|t| (t.standby_slot, t.reason))
            .collect()
    };
    let behind = "not among the standbys that confirmed what consumers may have received \
                  (synchronized_standby_slots is met without it; 8192 bytes behind)";
    for setting in ["ANY 1 (s1, s2)", "FIRST 1 (s2, s1)"] {
        assert_eq!(
            rows(setting),
            [
                ("s1".to_string(), None),
                ("s2".to_string(), Some(behind.to_string()))
            ],
            "{setting}"
        );
    }
    // the plain list keeps PostgreSQL's all-of meaning: the consumer waits
    // for s2, so s2 is only reported as not connected
    assert_eq!(
        rows("s1, s2")[1],
        ("s2".to_string(), Some("standby not connected".to_string()))
    );
    // back and caught up: among those that confirmed again
    let slots = [
        failover("lsub", 0x5000),
        physical("s1", Some(0x5000), Some(10)),
        physical("s2", Some(0x5000), Some(11)),
    ];
    let back: Vec<Option<String>> = takeovers(
        &slots,
        &standby_slots::parse("ANY 1 (s1, s2)").unwrap(),
        &walsenders,
    )
    .into_iter()
    .map(|t| t.reason)
    .collect();
    assert_eq!(back, [None, None]);
    // a standby the FIRST quorum does not wait for but that is ahead is fine
    let slots = [
        failover("lsub", 0x4000),
        physical("s1", Some(0x4000), Some(10)),
        physical("s2", Some(0x6000), Some(11)),
    ];
    let ahead: Vec<Option<String>> = takeovers(
        &slots,
        &standby_slots::parse("FIRST 1 (s1, s2)").unwrap(),
        &walsenders,
    )
    .into_iter()
    .map(|t| t.reason)
    .collect();
    assert_eq!(ahead, [None, None]);
}

#[test]
fn the_later_of_the_pushed_and_the_asked_setting_is_judged_with() {
    let asked = |value: Option<&str>, pushes_before: u64| AskedSetting {
        value: value.map(str::to_string),
        pushes_before,
        upstream_standby_on: None,
    };
    let pushed = |value: &str, seq: u64, tli: u32| PushedSetting {
        value: value.to_string(),
        seq,
        timeline: TimeLineId(tli),
    };
    // no record seen: the cycle's answer, as before
    let a = asked(Some("sb1_slot"), 0);
    assert_eq!(upstream_standby_slots(&a, None), Some("sb1_slot"));
    // a record replayed after the cycle asked: the primary changed it since
    let p = pushed("", 1, 1);
    assert_eq!(upstream_standby_slots(&a, Some(&p)), Some(""));
    assert!(!listed_in(
        upstream_standby_slots(&a, Some(&p)).unwrap_or_default(),
        "sb1_slot"
    ));
    // a record replayed before the cycle asked: the answer is at least as new
    let a = asked(Some("sb1_slot"), 1);
    assert_eq!(upstream_standby_slots(&a, Some(&p)), Some("sb1_slot"));
    // the cycle could not read it: the record, however old
    let a = asked(None, 1);
    assert_eq!(upstream_standby_slots(&a, Some(&p)), Some(""));
    assert_eq!(upstream_standby_slots(&a, None), None);
}

#[test]
fn a_cascade_ignores_the_setting_of_the_primary_above_its_upstream() {
    let asked = AskedSetting {
        value: Some("cascade_slot".to_string()),
        pushes_before: 3,
        upstream_standby_on: Some(TimeLineId(1)),
    };
    // written by the primary above the upstream standby, same timeline
    let above = PushedSetting {
        value: "upstream_slot".to_string(),
        seq: 4,
        timeline: TimeLineId(1),
    };
    assert_eq!(
        upstream_standby_slots(&asked, Some(&above)),
        Some("cascade_slot")
    );
    // written after a promotion: the promoted upstream's own setting
    let promoted = PushedSetting {
        value: "".to_string(),
        seq: 5,
        timeline: TimeLineId(2),
    };
    assert_eq!(upstream_standby_slots(&asked, Some(&promoted)), Some(""));
}
