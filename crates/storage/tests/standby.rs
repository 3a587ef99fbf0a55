//! Standby mode: a copy made of a checkpoint image, the control file and the WAL
//! from the image's redo (what BASE_BACKUP ships) opens with `open_standby`,
//! replays, is read-only, writes no WAL of its own, and applies WAL bytes shipped
//! later with `Wal::append_raw` once they are flushed.

mod common;

use common::*;
use tandem_storage::{Database, DbState, IsolationLevel, OpenOptions};
use tandem_types::{Lsn, SqlState};
use tandem_wal::{Wal, WalOptions};

/// A standby's directory as BASE_BACKUP makes it: the backup checkpoint's
/// image (with rows: the standby's table store is filled from it at its first
/// start) and the control file; the WAL is shipped by the caller.
fn backup_dir(
    pdir: &std::path::Path,
    point: &tandem_storage::checkpoint::BackupPoint,
) -> tempfile::TempDir {
    let sdir = tempfile::tempdir().unwrap();
    for sub in ["base", "global"] {
        std::fs::create_dir_all(sdir.path().join(sub)).unwrap();
    }
    std::fs::write(sdir.path().join("base/checkpoint"), &point.image).unwrap();
    // the table store, as `tandem basebackup` rebuilds it from the stream
    let store = tandem_storage::store::TableStore::open(
        &tandem_storage::recovery::store_path(sdir.path()),
        tandem_storage::store::StoreOptions {
            cache_bytes: 1 << 20,
            memtable_bytes: 1 << 20,
        },
    )
    .unwrap();
    let mut restore = store.restore().unwrap();
    for e in point.store.entries() {
        let e = e.unwrap();
        restore.push(e.table, &e.key.0, &e.chain).unwrap();
    }
    restore.finish(point.store.applied_lsn()).unwrap();
    drop(store);
    std::fs::copy(
        pdir.join("global/control"),
        sdir.path().join("global/control"),
    )
    .unwrap();
    sdir
}

/// [`backup_dir`] with the primary's WAL from the backup's redo shipped.
fn backup_with_wal(
    pdir: &std::path::Path,
    primary: &Database,
    point: &tandem_storage::checkpoint::BackupPoint,
) -> tempfile::TempDir {
    let sdir = backup_dir(pdir, point);
    let redo = primary.control().redo_lsn;
    let wal = Wal::create(
        WalOptions {
            dir: sdir.path().join("pg_wal"),
            timeline: primary.wal().timeline(),
            segment_size: primary.wal().segment_size(),
            fsync: false,
        },
        redo,
    )
    .unwrap();
    ship(primary, &wal, redo);
    sdir
}

fn ship(primary: &Database, standby_wal: &Wal, from: Lsn) -> Lsn {
    let pw = primary.wal();
    pw.flush(pw.insert_lsn()).unwrap();
    let mut pos = from;
    loop {
        let bytes = pw.read_raw(pos, 64 * 1024).unwrap();
        if bytes.is_empty() {
            break;
        }
        pos = standby_wal.append_raw(pos, &bytes).unwrap();
    }
    standby_wal.flush(pos).unwrap();
    pos
}

#[test]
fn standby_replays_shipped_wal_and_stays_read_only() {
    let (pdir, primary) = fresh();
    let t = create_table(&primary, "t", true);
    insert_rows(&primary, t, &[(1, 1), (2, 2)]);
    let (_, image) = primary
        .checkpoint_for_backup("immediate force wait")
        .unwrap();
    insert_rows(&primary, t, &[(3, 3)]);

    // the "backup": image, control file, WAL from the image's redo
    let sdir = backup_with_wal(pdir.path(), &primary, &image);

    let (standby, mut replay) =
        Database::open_standby(sdir.path(), OpenOptions::new(false)).unwrap();
    assert!(standby.in_recovery());
    assert!(!primary.in_recovery());
    assert_eq!(standby.control_file().state, DbState::InArchiveRecovery);
    assert_eq!(
        snapshot_rows(&standby, t),
        vec![row(1, 1), row(2, 2), row(3, 3)]
    );
    assert_eq!(standby.replay_lsn(), standby.wal().flush_lsn());

    // read-only: even a transaction begun read-write refuses writes
    let mut txn = standby.begin(IsolationLevel::ReadCommitted, false);
    let e = txn.insert(t, row(9, 9)).unwrap_err();
    assert_eq!(e.code, SqlState::READ_ONLY_SQL_TRANSACTION);
    drop(txn);
    // checkpoints write nothing: the WAL stays the primary's byte for byte
    let before = standby.wal().insert_lsn();
    standby.checkpoint("time").unwrap();
    assert_eq!(standby.wal().insert_lsn(), before);

    // more WAL arrives: not visible until flushed and replayed
    insert_rows(&primary, t, &[(4, 4)]);
    let end = ship(&primary, standby.wal(), before);
    assert!(end > before);
    assert_eq!(snapshot_rows(&standby, t).len(), 3);
    assert!(replay.replay_available(&standby).unwrap() > 0);
    assert_eq!(replay.replayed(), end);
    assert!(replay.last_commit_time().is_some());
    assert_eq!(standby.last_replay_commit_time(), replay.last_commit_time());
    assert_eq!(primary.last_replay_commit_time(), None);
    assert_eq!(snapshot_rows(&standby, t).len(), 4);

    // shutdown keeps it a standby; reopening replays again to the same state
    standby.checkpoint("shutdown").unwrap();
    assert_eq!(standby.control_file().state, DbState::ShutDownInRecovery);
    drop(replay);
    drop(standby);
    let (standby, _replay) = Database::open_standby(sdir.path(), OpenOptions::new(false)).unwrap();
    assert_eq!(snapshot_rows(&standby, t).len(), 4);
}

#[test]
fn restartpoint_is_taken_at_a_replayed_boundary_and_restarts_from_it() {
    let (pdir, primary) = fresh();
    let t = create_table(&primary, "t", true);
    insert_rows(&primary, t, &[(1, 1)]);
    let (_, image) = primary
        .checkpoint_for_backup("immediate force wait")
        .unwrap();
    let sdir = backup_dir(pdir.path(), &image);
    let redo = primary.control().redo_lsn;
    let seg = primary.wal().segment_size();
    {
        let wal = Wal::create(
            WalOptions {
                dir: sdir.path().join("pg_wal"),
                timeline: primary.wal().timeline(),
                segment_size: seg,
                fsync: false,
            },
            redo,
        )
        .unwrap();
        ship(&primary, &wal, redo);
    }
    let (standby, mut replay) =
        Database::open_standby(sdir.path(), OpenOptions::new(false)).unwrap();
    let first_segment = standby.wal().segments().unwrap()[0].segno;
    // rows over a few segments
    for i in 2..5 {
        insert_rows(&primary, t, &[(i, i)]);
        primary.wal().switch_segment().unwrap();
    }
    insert_rows(&primary, t, &[(5, 5)]);
    let end = ship(&primary, standby.wal(), standby.wal().insert_lsn());
    replay.replay_available(&standby).unwrap();
    assert_eq!(replay.replayed(), end);

    // the last record replayed ends a transaction: the restartpoint's redo
    let stats = standby.checkpoint("immediate force wait").unwrap();
    assert_eq!(stats.redo_lsn, end);
    assert!(stats.segments_removed > 0);
    // no WAL of its own
    assert_eq!(standby.wal().insert_lsn(), end);
    let c = standby.control_file();
    assert_eq!(c.redo_lsn, end);
    assert_eq!(c.state, DbState::InArchiveRecovery);
    assert!(standby.wal().segments().unwrap()[0].segno > first_segment);
    assert_eq!(standby.wal().segments().unwrap()[0].segno, end.0 / seg);
    // a second one without new WAL is skipped
    let again = standby.checkpoint("time").unwrap();
    assert_eq!((again.redo_lsn, again.rows_written), (end, 0));

    // a transaction shipped only in part: the boundary stays before it
    insert_rows(&primary, t, &[(6, 6)]);
    let full_end = primary.wal().insert_lsn();
    let bytes = primary.wal().read_raw(end, 64 * 1024).unwrap();
    let cut = end.0 + bytes.len() as u64 - 16;
    let part = standby
        .wal()
        .append_raw(end, &bytes[..bytes.len() - 16])
        .unwrap();
    assert_eq!(part.0, cut);
    standby.wal().flush(part).unwrap();
    replay.replay_available(&standby).unwrap();
    assert_eq!(standby.checkpoint("time").unwrap().redo_lsn, end);

    // the rest arrives; a crash (no shutdown) and a restart replay from the
    // restartpoint to every committed row
    ship(&primary, standby.wal(), part);
    replay.replay_available(&standby).unwrap();
    assert_eq!(replay.replayed(), full_end);
    drop(replay);
    drop(standby);
    let (standby, replay) = Database::open_standby(sdir.path(), OpenOptions::new(false)).unwrap();
    assert_eq!(replay.replayed(), full_end);
    assert_eq!(snapshot_rows(&standby, t).len(), 6);
    // a shutdown restartpoint, then "shut down in recovery"
    let stats = standby.shutdown().unwrap();
    assert_eq!(stats.redo_lsn, full_end);
    assert_eq!(standby.control_file().state, DbState::ShutDownInRecovery);
    drop(replay);
    drop(standby);
    let (standby, replay) = Database::open_standby(sdir.path(), OpenOptions::new(false)).unwrap();
    assert_eq!(replay.replayed(), full_end);
    assert_eq!(snapshot_rows(&standby, t).len(), 6);
}

#[test]
fn a_standby_replays_a_bulk_load_through_the_table_store() {
    let small = |mut o: OpenOptions| {
        o.bulk_spill_bytes = 8 << 10;
        o
    };
    let (pdir, primary) = fresh();
    primary.set_bulk_spill_bytes(8 << 10);
    let t = create_table(&primary, "t", false);
    insert_rows(&primary, t, &[(-1, -1)]);
    let (_, image) = primary
        .checkpoint_for_backup("immediate force wait")
        .unwrap();
    let sdir = backup_with_wal(pdir.path(), &primary, &image);
    let (standby, mut replay) =
        Database::open_standby(sdir.path(), small(OpenOptions::new(false))).unwrap();

    // TRUNCATE and 1000 rows in one transaction
    let before = standby.wal().insert_lsn();
    let mut txn = primary.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    for i in 0..1000 {
        txn.insert(t, row(i, i)).unwrap();
    }
    commit(&primary, txn);
    ship(&primary, standby.wal(), before);
    replay.replay_available(&standby).unwrap();
    let want: Vec<_> = (0..1000).map(|i| row(i, i)).collect();
    assert_eq!(snapshot_rows(&standby, t), want);
    // the rows that moved to the store during replay carry no commit stamp
    // of their own (LSN 0: their range became the table's at the commit)
    let store = standby.table_store().unwrap();
    let mut first = Vec::new();
    store
        .visible_batch(t, std::ops::Bound::Unbounded, Lsn(u64::MAX), 1, &mut first)
        .unwrap();
    let (key, _) = &first[0];
    assert_eq!(
        store.latest(t, key).unwrap().map(|(at, _)| at),
        Some(Lsn(0))
    );
    drop(store);

    // a table created, loaded, truncated and loaded again in one
    // transaction: only the second load is there
    let before = standby.wal().insert_lsn();
    let mut txn = primary.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let u = txn.allocate_oid();
    txn.put_table(
        tandem_storage::TableDef {
            oid: u,
            schema: "public".into(),
            name: "u".into(),
            columns: vec![
                col("id", tandem_types::DataType::Int4),
                col("v", tandem_types::DataType::Int4),
            ],
            primary_key: None,
            replica_identity: tandem_storage::ReplicaIdentity::Default,
            owner: tandem_types::Oid(10),
        },
        None,
    )
    .unwrap();
    for i in 0..1000 {
        txn.insert(u, row(i, i)).unwrap();
    }
    txn.truncate(&[u]).unwrap();
    for i in 0..500 {
        txn.insert(u, row(i, -i)).unwrap();
    }
    commit(&primary, txn);
    ship(&primary, standby.wal(), before);
    replay.replay_available(&standby).unwrap();
    let want: Vec<_> = (0..500).map(|i| row(i, -i)).collect();
    assert_eq!(snapshot_rows(&primary, u), want);
    assert_eq!(snapshot_rows(&standby, u), want);

    // promoted, new rows get new row ids
    tandem_storage::recovery::promote(&standby, replay).unwrap();
    insert_rows(&standby, t, &[(1000, 1000)]);
    assert_eq!(snapshot_rows(&standby, t).len(), 1001);
}
