//! Every user path (SQL decoding, advance, drop) refuses a synced slot on a
//! standby through `synced::refuse`, and accepts it on a primary (a promoted
//! standby). Kept apart from `synced.rs` so that the rule does not import the
//! paths it guards.

use std::path::Path;
use std::sync::Arc;

use tandem_config::Config;
use tandem_replication::slot::{Persistency, SlotData, SlotRegistry};
use tandem_storage::Database;
use tandem_types::{Lsn, Oid, PgError, PgResult, Xid};

use super::logical::{self, GetChanges};

/// A primary, and a standby opened from its checkpoint and WAL (left
/// in recovery: nothing replays or promotes it).
fn primary_and_standby(pdir: &Path, sdir: &Path) -> (Arc<Database>, Arc<Database>) {
    let (primary, standby, _replay) = crate::test_support::primary_and_standby(pdir, sdir);
    (primary, standby)
}

/// A registry holding a persistent synced failover slot at `at`.
fn synced_slot(dir: &Path, at: Lsn, next_xid: Xid) -> SlotRegistry {
    let slots = SlotRegistry::open(dir, 10, 0).unwrap();
    let data = SlotData {
        database: Some(Oid(5)),
        plugin: Some("test_decoding".into()),
        restart_lsn: Some(at),
        confirmed_flush: Some(at),
        catalog_xmin: Some(next_xid),
        failover: true,
        synced: true,
        ..SlotData::physical("lsub1_slot", Persistency::Persistent)
    };
    slots.create(data, 1).unwrap();
    slots.release("lsub1_slot", 1, 0);
    slots
}

fn config() -> Arc<Config> {
    let config = Config::defaults();
    config.set_runtime("wal_level", "logical").unwrap();
    config
}

/// The rows of a SQL decoding call, collected.
fn get_changes(
    slots: &Arc<SlotRegistry>,
    db: &Arc<Database>,
    config: &Config,
    pid: i32,
    req: GetChanges<'_>,
) -> PgResult<Vec<tandem_decoding::OutputRow>> {
    let mut stream = logical::open_changes(slots, db, config, pid, req)?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next_row()? {
        rows.push(row);
    }
    Ok(rows)
}

fn changes(name: &str, peek: bool, binary: bool) -> GetChanges<'_> {
    GetChanges {
        name,
        upto_lsn: None,
        upto_nchanges: None,
        options: Vec::new(),
        peek,
        binary,
        database: Some(Oid(5)),
        allowed_plugins: "test_decoding",
        interrupted: &|| Ok(()),
        stats: None,
    }
}

fn message(r: PgResult<impl std::fmt::Debug>) -> String {
    r.map_err(|e: PgError| e.message).unwrap_err()
}

#[test]
fn decoding_advancing_and_dropping_follow_the_rule() {
    let (pdir, sdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (primary, standby) = primary_and_standby(pdir.path(), sdir.path());
    assert!(standby.in_recovery() && !primary.in_recovery());
    let config = config();
    const DECODE: &str = "cannot use replication slot \"lsub1_slot\" for logical decoding";

    // a standby: refused, and the slot stays inactive
    let rdir = tempfile::tempdir().unwrap();
    let at = standby.replay_lsn();
    let slots = Arc::new(synced_slot(rdir.path(), at, standby.next_xid()));
    for (peek, binary) in [(false, false), (true, false), (false, true), (true, true)] {
        let r = get_changes(
            &slots,
            &standby,
            &config,
            7,
            changes("lsub1_slot", peek, binary),
        );
        assert_eq!(message(r), DECODE);
    }
    let r = logical::advance(&slots, &standby, &config, 7, "lsub1_slot", at, &|| Ok(()));
    assert_eq!(message(r), DECODE);
    let r = crate::slot::drop_slot(&slots, &standby, &config, 7, "lsub1_slot", false);
    assert_eq!(message(r), "cannot drop replication slot \"lsub1_slot\"");
    let info = slots.get("lsub1_slot").unwrap();
    assert_eq!(info.active_pid, None);
    assert!(info.inactive_since.is_some());

    // a primary (what a promoted standby is): an ordinary slot
    let rdir = tempfile::tempdir().unwrap();
    let at = primary.wal().insert_lsn();
    let slots = Arc::new(synced_slot(rdir.path(), at, primary.next_xid()));
    let rows = get_changes(
        &slots,
        &primary,
        &config,
        7,
        changes("lsub1_slot", true, false),
    )
    .unwrap();
    assert!(rows.is_empty());
    get_changes(
        &slots,
        &primary,
        &config,
        7,
        changes("lsub1_slot", false, false),
    )
    .unwrap();
    logical::advance(&slots, &primary, &config, 7, "lsub1_slot", at, &|| Ok(())).unwrap();
    crate::slot::drop_slot(&slots, &primary, &config, 7, "lsub1_slot", false).unwrap();
    assert!(slots.get("lsub1_slot").is_none());
}
