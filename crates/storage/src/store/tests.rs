//! Unit tests of the table store: visibility, batches, range reads, drops,
//! snapshots, and agreement with the in-memory heap on a random workload.

use std::ops::Bound;

use rand::{RngCore, SeedableRng};
use tandem_types::{Lsn, Oid, SqlState, Value};

use super::*;
use crate::heap::{Heap, Row};
use crate::record::{Change, OldTuple};
use crate::RowKey;

const T: Oid = Oid(16384);

fn row(v: i32) -> Row {
    vec![Value::Int4(v), Value::Text(format!("row {v}"))].into()
}

fn k(b: u8) -> RowKey {
    RowKey::from(vec![b])
}

fn small() -> StoreOptions {
    StoreOptions {
        cache_bytes: 1 << 20,
        memtable_bytes: 1 << 20,
    }
}

fn open(dir: &tempfile::TempDir) -> TableStore {
    TableStore::open(dir.path(), small()).unwrap()
}

fn all(store: &TableStore, oid: Oid, snapshot: Lsn) -> Vec<(RowKey, Row)> {
    let mut out = Vec::new();
    assert!(!store
        .visible_batch(oid, Bound::Unbounded, snapshot, usize::MAX, &mut out)
        .unwrap());
    out
}

#[test]
fn versions_are_visible_between_their_commit_stamps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.applied_lsn(), Lsn::INVALID);
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    b.put(T, k(1), row(1), Lsn(100));
    store.apply(&b).unwrap();
    let mut b = StoreBatch::new(Lsn(300), Lsn(0));
    b.put(T, k(1), row(2), Lsn(200));
    b.delete(T, k(1), Lsn(300));
    store.apply(&b).unwrap();
    assert_eq!(store.applied_lsn(), Lsn(300));
    for (snap, want) in [
        (99, None),
        (100, Some(row(1))),
        (199, Some(row(1))),
        (200, Some(row(2))),
        (299, Some(row(2))),
        (300, None),
        (u64::MAX, None),
    ] {
        assert_eq!(store.get(T, &k(1), Lsn(snap)).unwrap(), want, "at {snap}");
        let rows = all(&store, T, Lsn(snap));
        assert_eq!(rows.into_iter().next().map(|(_, r)| r), want, "at {snap}");
    }
    assert_eq!(store.get(Oid(T.0 + 1), &k(1), Lsn(150)).unwrap(), None);
}

#[test]
fn a_batch_is_applied_in_commit_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        let mut b = StoreBatch::new(Lsn(400), Lsn(0));
        b.put(T, k(1), row(1), Lsn(100));
        b.put(T, k(2), row(2), Lsn(100));
        // An update that changes the key: the old key is deleted, the new one put.
        b.delete(T, k(1), Lsn(200));
        b.put(T, k(3), row(1), Lsn(200));
        // Inserted and deleted by one commit: never visible, nothing stored.
        b.put(T, k(4), row(4), Lsn(300));
        b.delete(T, k(4), Lsn(300));
        store.apply(&b).unwrap();
        store.persist().unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.applied_lsn(), Lsn(400));
    let keys = |s| -> Vec<RowKey> { all(&store, T, Lsn(s)).into_iter().map(|r| r.0).collect() };
    assert_eq!(keys(150), [k(1), k(2)]);
    assert_eq!(keys(250), [k(2), k(3)]);
    assert_eq!(keys(400), [k(2), k(3)]);
    let snap = store.snapshot().unwrap();
    assert!(snap.entries().all(|e| e.unwrap().key != k(4)));
}

#[test]
fn the_applied_lsn_never_moves_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.apply(&StoreBatch::new(Lsn(500), Lsn(0))).unwrap();
    let e = store.apply(&StoreBatch::new(Lsn(400), Lsn(0))).unwrap_err();
    assert_eq!(e.code, SqlState::INTERNAL_ERROR);
    assert_eq!(store.applied_lsn(), Lsn(500));
    let mut b = StoreBatch::new(Lsn(600), Lsn(0));
    b.put(Oid(0), k(1), row(1), Lsn(600));
    assert!(store.apply(&b).is_err());
    assert_eq!(store.applied_lsn(), Lsn(500));
}

#[test]
fn batches_resume_after_the_last_key_and_stay_in_their_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    for i in 0..10u8 {
        b.put(T, k(i), row(i.into()), Lsn(100));
        b.put(Oid(T.0 + 1), k(i), row(100), Lsn(100));
        b.put(Oid(T.0 - 1), k(i), row(100), Lsn(100));
    }
    store.apply(&b).unwrap();
    let mut out = Vec::new();
    assert!(store
        .visible_batch(T, Bound::Unbounded, Lsn(100), 4, &mut out)
        .unwrap());
    assert_eq!(out.len(), 4);
    let last = out[3].0.clone();
    assert!(!store
        .visible_batch(T, Bound::Excluded(&last), Lsn(100), 100, &mut out)
        .unwrap());
    assert_eq!(out.len(), 10);
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(out[9].1, row(9));
    let mut from5 = Vec::new();
    store
        .visible_batch(T, Bound::Included(&k(5)), Lsn(100), 100, &mut from5)
        .unwrap();
    assert_eq!(from5.first().map(|r| r.0.clone()), Some(k(5)));
    assert_eq!(from5.len(), 5);
    // The last possible oid has no upper neighbour.
    let mut b = StoreBatch::new(Lsn(200), Lsn(0));
    b.put(Oid(u32::MAX), k(1), row(1), Lsn(200));
    store.apply(&b).unwrap();
    assert_eq!(all(&store, Oid(u32::MAX), Lsn(200)).len(), 1);
}

#[test]
fn truncate_and_drop_retire_ranges_that_compaction_empties() {
    let dir = tempfile::tempdir().unwrap();
    let u = Oid(T.0 + 1);
    let n = 20_000u32;
    {
        let store = open(&dir);
        let mut b = StoreBatch::new(Lsn(100), Lsn(0));
        for i in 0..n {
            b.put(T, RowKey::new(&i.to_be_bytes()), row(1), Lsn(100));
        }
        b.put(u, k(1), row(2), Lsn(100));
        store.apply(&b).unwrap();
        assert_eq!(all(&store, T, Lsn(100)).len(), n as usize);
        store.persist().unwrap();

        // TRUNCATE with an insert before it (lost) and one after it (kept)
        let mut b = StoreBatch::new(Lsn(200), Lsn(150));
        b.put(T, k(8), row(8), Lsn(200));
        b.new_storage(T, Lsn(200));
        b.put(T, k(9), row(9), Lsn(200));
        store.apply(&b).unwrap();
        assert_eq!(all(&store, T, Lsn(200)), [(k(9), row(9))]);
        assert_eq!(all(&store, u, Lsn(200)), [(k(1), row(2))]);
        assert_eq!(store.retired_ranges(), [(T, Lsn(200))]);
        // still readable by a snapshot before 200: not dead, compaction keeps it
        store.compact().unwrap();
        store.persist().unwrap();
        assert_eq!(store.retired_ranges(), [(T, Lsn(200))]);

        // DROP TABLE u; the horizon passes the truncate
        let mut b = StoreBatch::new(Lsn(300), Lsn(250));
        b.drop_storage(u, Lsn(300));
        store.apply(&b).unwrap();
        assert!(all(&store, u, Lsn(300)).is_empty());
        assert_eq!(store.tables(), [T]);
        store.compact().unwrap();
        store.persist().unwrap();
        // T's old range is empty: its keys are gone, not just hidden
        assert_eq!(store.retired_ranges(), [(u, Lsn(300))]);
    }
    // after a restart no snapshot predates the applied LSN: u's range is dead
    let store = open(&dir);
    assert_eq!(store.applied_lsn(), Lsn(300));
    assert_eq!(store.tables(), [T]);
    assert_eq!(all(&store, T, Lsn(300)), [(k(9), row(9))]);
    assert!(all(&store, u, Lsn(300)).is_empty());
    store.compact().unwrap();
    store.persist().unwrap();
    assert!(store.retired_ranges().is_empty());
    // the ids handed out before the restart are not handed out again
    let mut b = StoreBatch::new(Lsn(400), Lsn(400));
    b.new_storage(T, Lsn(400));
    b.put(T, k(3), row(3), Lsn(400));
    b.put(u, k(4), row(4), Lsn(400));
    store.apply(&b).unwrap();
    assert_eq!(all(&store, T, Lsn(400)), [(k(3), row(3))]);
    assert_eq!(all(&store, u, Lsn(400)), [(k(4), row(4))]);
}

#[test]
fn a_snapshot_does_not_see_later_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    b.put(T, k(1), row(1), Lsn(100));
    b.put(T, k(2), row(2), Lsn(100));
    store.apply(&b).unwrap();
    let snap = store.snapshot().unwrap();
    let mut b = StoreBatch::new(Lsn(200), Lsn(150));
    b.put(T, k(1), row(10), Lsn(200));
    b.delete(T, k(2), Lsn(200));
    b.put(T, k(3), row(3), Lsn(200));
    store.apply(&b).unwrap();
    let mut b = StoreBatch::new(Lsn(300), Lsn(300));
    b.new_storage(T, Lsn(300));
    store.apply(&b).unwrap();
    assert_eq!(snap.applied_lsn(), Lsn(100));
    let entries: Vec<SnapshotEntry> = snap.entries().map(|e| e.unwrap()).collect();
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.table, e.key.clone()))
            .collect::<Vec<_>>(),
        [(T, k(1)), (T, k(2))]
    );
    assert_eq!(snap.get(T, &k(1), Lsn(u64::MAX)).unwrap(), Some(row(1)));
    assert_eq!(store.get(T, &k(1), Lsn(u64::MAX)).unwrap(), None);
    // The entries carry the stored chain bytes.
    let chain = super::chain::decode_chain(&entries[0].chain).unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(store.snapshot().unwrap().applied_lsn(), Lsn(300));
}

/// Writes to a range the batch created skip the chain lookup; a key written
/// several times in the batch still gets every version, in commit order.
#[test]
fn keys_written_several_times_in_a_new_range_keep_their_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    for i in 1..=5 {
        b.put(T, k(i), row(i32::from(i)), Lsn(100));
    }
    store.apply(&b).unwrap();
    let mut b = StoreBatch::new(Lsn(220), Lsn(0));
    b.new_storage(T, Lsn(200));
    b.put(T, k(1), row(11), Lsn(200));
    b.put(T, k(2), row(12), Lsn(200));
    b.delete(T, k(3), Lsn(200));
    b.put(T, k(4), row(14), Lsn(200));
    b.put(T, k(1), row(21), Lsn(210));
    b.delete(T, k(4), Lsn(210));
    b.delete(T, k(2), Lsn(220));
    b.put(T, k(4), row(34), Lsn(220));
    store.apply(&b).unwrap();
    assert_eq!(
        all(&store, T, Lsn(150)),
        (1..=5)
            .map(|i| (k(i), row(i32::from(i))))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        all(&store, T, Lsn(205)),
        [(k(1), row(11)), (k(2), row(12)), (k(4), row(14))]
    );
    assert_eq!(all(&store, T, Lsn(215)), [(k(1), row(21)), (k(2), row(12))]);
    assert_eq!(all(&store, T, Lsn(225)), [(k(1), row(21)), (k(4), row(34))]);
    assert_eq!(store.versions(T, &k(1)).unwrap(), 2);
    assert_eq!(store.versions(T, &k(3)).unwrap(), 0);
    // with a horizon past the ends: a delete prunes what it ended, and so
    // does a put (as on a key the store had)
    let mut b = StoreBatch::new(Lsn(320), Lsn(315));
    b.new_storage(T, Lsn(300));
    b.put(T, k(1), row(41), Lsn(300));
    b.put(T, k(1), row(51), Lsn(310));
    b.put(T, k(2), row(42), Lsn(300));
    b.delete(T, k(2), Lsn(310));
    store.apply(&b).unwrap();
    assert_eq!(all(&store, T, Lsn(320)), [(k(1), row(51))]);
    assert_eq!(store.versions(T, &k(1)).unwrap(), 1);
    assert_eq!(store.versions(T, &k(2)).unwrap(), 0);
}

#[test]
fn open_failures_are_postgres_style_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let e = TableStore::open(dir.path(), small()).err().unwrap();
    assert_eq!(
        e.message,
        format!(
            "could not open table store \"{}\": it is in use by another process",
            dir.path().display()
        )
    );
    assert_eq!(e.code, SqlState::IO_ERROR);
    drop(store);
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let e = TableStore::open(&file, small()).err().unwrap();
    assert!(
        e.message.starts_with(&format!(
            "could not open table store \"{}\"",
            file.display()
        )),
        "{}",
        e.message
    );
    assert_eq!(e.code, SqlState::IO_ERROR);
}

/// The store and the in-memory heap, fed the same committed changes, show every
/// snapshot at or after the last horizon the same rows.
#[test]
fn the_store_agrees_with_the_heap() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let heap = Heap::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    let mut horizon = Lsn(0);
    let mut commit = 0u64;
    for batch_no in 0..60u64 {
        let mut batch = StoreBatch::new(Lsn(0), horizon);
        for _ in 0..1 + rng.next_u64() % 4 {
            commit += 10;
            let c = Lsn(commit);
            for _ in 0..1 + rng.next_u64() % 6 {
                let key = k((rng.next_u64() % 24) as u8);
                let r = row((rng.next_u64() % 1000) as i32);
                let change = match rng.next_u64() % 3 {
                    0 => {
                        batch.put(T, key.clone(), r.clone(), c);
                        Change::Insert {
                            table: T,
                            key,
                            row: r,
                        }
                    }
                    1 => {
                        let new_key = k((rng.next_u64() % 24) as u8);
                        if new_key != key {
                            batch.delete(T, key.clone(), c);
                        }
                        batch.put(T, new_key.clone(), r.clone(), c);
                        Change::Update {
                            table: T,
                            old_key: key,
                            key: new_key,
                            row: r,
                            old: OldTuple::None,
                        }
                    }
                    _ => {
                        batch.delete(T, key.clone(), c);
                        Change::Delete {
                            table: T,
                            key,
                            old: OldTuple::None,
                        }
                    }
                };
                heap.apply_changes(&[change], c);
            }
        }
        batch.applied_lsn = Lsn(commit);
        store.apply(&batch).unwrap();
        if batch_no % 7 == 6 {
            horizon = Lsn(commit.saturating_sub(40));
        }
    }
    let table = heap.table(T).unwrap();
    let mut snap = horizon.0;
    let mut shapes: Vec<Vec<(RowKey, Row)>> = Vec::new();
    while snap <= commit + 10 {
        let mut from_heap = Vec::new();
        table
            .read()
            .visible_batch(Bound::Unbounded, Lsn(snap), usize::MAX, &mut from_heap);
        if !shapes.contains(&from_heap) {
            shapes.push(from_heap.clone());
        }
        assert_eq!(all(&store, T, Lsn(snap)), from_heap, "at {snap}");
        for b in 0..24 {
            assert_eq!(
                store.get(T, &k(b), Lsn(snap)).unwrap(),
                heap.get(T, &k(b), Lsn(snap)).unwrap(),
                "key {b} at {snap}"
            );
        }
        snap += 5;
    }
    // The snapshots compared saw many different tables, not one empty one.
    assert!(shapes.len() > 5 && !shapes.iter().all(|s| s.is_empty()));
    assert!(horizon > Lsn(0));
}

#[test]
fn a_large_new_range_is_ingested_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let n = super::INGEST_MIN as u32 + 10;
    {
        let store = open(&dir);
        let mut b = StoreBatch::new(Lsn(100), Lsn(0));
        b.put(T, k(0), row(0), Lsn(100));
        store.apply(&b).unwrap();
        // TRUNCATE + COPY in one commit, and a small write to another table
        let mut b = StoreBatch::new(Lsn(200), Lsn(100));
        b.new_storage(T, Lsn(200));
        for i in (0..n).rev() {
            b.put(T, RowKey::new(&i.to_be_bytes()), row(i as i32), Lsn(200));
        }
        b.delete(T, RowKey::new(&5u32.to_be_bytes()), Lsn(200));
        b.put(Oid(T.0 + 1), k(1), row(1), Lsn(200));
        store.apply(&b).unwrap();
        let rows = all(&store, T, Lsn(200));
        assert_eq!(rows.len(), n as usize - 1);
        assert_eq!(rows[0], (RowKey::new(&0u32.to_be_bytes()), row(0)));
        assert_eq!(store.get(T, &k(0), Lsn(200)).unwrap(), None);
        assert!(store.retired_ranges().iter().all(|(_, at)| *at == Lsn(200)));
        // later commits update ingested keys through the journal
        let mut b = StoreBatch::new(Lsn(300), Lsn(200));
        b.put(T, RowKey::new(&7u32.to_be_bytes()), row(-7), Lsn(300));
        store.apply(&b).unwrap();
        store.persist().unwrap();
    }
    let store = open(&dir);
    let rows = all(&store, T, Lsn(300));
    assert_eq!(rows.len(), n as usize - 1);
    assert_eq!(
        store
            .get(T, &RowKey::new(&7u32.to_be_bytes()), Lsn(300))
            .unwrap(),
        Some(row(-7))
    );
    assert_eq!(all(&store, Oid(T.0 + 1), Lsn(300)), [(k(1), row(1))]);
}

#[test]
fn a_range_ingested_before_a_crash_but_never_mapped_is_dead() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        // what apply does before the batch that maps the range commits
        let sid = store.ranges.read().next;
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..super::INGEST_MIN as u32)
            .map(|i| {
                (
                    super::chain::row_key(sid, &RowKey::new(&i.to_be_bytes())),
                    super::chain::encode_first_version(&row(1), Lsn(100)),
                )
            })
            .collect();
        let fresh = HashMap::from([(sid, T)]);
        assert_eq!(
            store.ingest_fresh(&mut entries, &fresh, sid + 1).unwrap(),
            [sid]
        );
        assert!(entries.is_empty());
        // the process dies here
    }
    let store = open(&dir);
    assert!(store.tables().is_empty());
    assert!(all(&store, T, Lsn(100)).is_empty());
    assert_eq!(store.retired_ranges(), [(T, Lsn::INVALID)]);
    // its id is not handed out again, and compaction drops its keys
    let mut b = StoreBatch::new(Lsn(200), Lsn(200));
    b.put(T, k(1), row(2), Lsn(200));
    store.apply(&b).unwrap();
    assert_eq!(all(&store, T, Lsn(200)), [(k(1), row(2))]);
    store.compact().unwrap();
    store.persist().unwrap();
    assert!(store.retired_ranges().is_empty());
}

/// A store restored from another's snapshot (what a base backup does) reads
/// the same at every snapshot the source's current ranges serve, survives a
/// reopen, and refuses keys out of order.
#[test]
fn a_snapshot_restores_into_an_empty_store() {
    let u = Oid(16390);
    let src_dir = tempfile::tempdir().unwrap();
    let src = open(&src_dir);
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    for i in 0..50 {
        b.put(T, k(i), row(i32::from(i)), Lsn(100));
        b.put(u, k(i), row(1000 + i32::from(i)), Lsn(100));
    }
    src.apply(&b).unwrap();
    let mut b = StoreBatch::new(Lsn(300), Lsn(0));
    b.put(T, k(1), row(-1), Lsn(200));
    b.delete(T, k(2), Lsn(200));
    b.new_storage(u, Lsn(300));
    b.put(u, k(7), row(7), Lsn(300));
    src.apply(&b).unwrap();
    let snap = src.snapshot().unwrap();

    let dst_dir = tempfile::tempdir().unwrap();
    {
        let dst = open(&dst_dir);
        let mut r = dst.restore().unwrap();
        for e in snap.entries() {
            let e = e.unwrap();
            r.push(e.table, &e.key.0, &e.chain).unwrap();
        }
        assert_eq!(r.finish(snap.applied_lsn()).unwrap(), 50 + 1);
        assert!(dst.restore().is_err(), "a restored store is not empty");
    }
    let dst = open(&dst_dir);
    assert_eq!(dst.applied_lsn(), Lsn(300));
    for at in [150, 250, 300, 400] {
        assert_eq!(all(&dst, T, Lsn(at)), all(&src, T, Lsn(at)), "T at {at}");
    }
    assert_eq!(all(&dst, u, Lsn(300)), [(k(7), row(7))]);
    // later batches write on top of the restored ranges
    let mut b = StoreBatch::new(Lsn(500), Lsn(0));
    b.put(T, k(2), row(2), Lsn(500));
    b.put(Oid(16400), k(1), row(1), Lsn(500));
    dst.apply(&b).unwrap();
    assert_eq!(dst.get(T, &k(2), Lsn(500)).unwrap(), Some(row(2)));
    assert_eq!(dst.get(T, &k(1), Lsn(500)).unwrap(), Some(row(-1)));
    assert_eq!(dst.get(Oid(16400), &k(1), Lsn(500)).unwrap(), Some(row(1)));
    assert_eq!(all(&dst, u, Lsn(500)), [(k(7), row(7))]);

    // keys must rise within a table, and a table comes once
    let bad_dir = tempfile::tempdir().unwrap();
    let bad = open(&bad_dir);
    let chain = super::chain::encode_first_version(&row(1), Lsn(100));
    let mut r = bad.restore().unwrap();
    r.push(T, &[5], &chain).unwrap();
    assert!(r.push(T, &[5], &chain).is_err());
    let mut r = bad.restore().unwrap();
    r.push(T, &[5], &chain).unwrap();
    r.push(u, &[1], &chain).unwrap();
    assert!(r.push(T, &[9], &chain).is_err());
    let mut r = bad.restore().unwrap();
    assert!(r.push(T, &[1], b"not a chain").is_err());
}

/// The re-keying of [`a_rekey_streams_the_live_rows_into_a_new_range`]: the
/// row's first value, big-endian, as the new key.
fn by_first_value() -> Rekey {
    Rekey {
        columns: vec![0],
        width: 2,
        pad: Arc::new(|row: Row| (crate::keycode::encode_key(&row[..1]), row)),
    }
}

/// The row a re-key by [`by_first_value`] puts under `v`'s key.
fn rekeyed_key(v: u32) -> RowKey {
    crate::keycode::encode_key(&[Value::Int4(v as i32)])
}

#[test]
fn a_rekey_streams_the_live_rows_into_a_new_range() {
    let dir = tempfile::tempdir().unwrap();
    let n = super::INGEST_MIN as u32 + 100;
    let old_key = |i: u32| RowKey::new(&i.to_be_bytes());
    // Old keys rise with the values, except a few rows whose values are low:
    // those come out of order and take the batch's path.
    let value = |i: u32| {
        if i % 10_000 == 9_999 {
            i / 10_000
        } else {
            i + 100
        }
    };
    {
        let store = open(&dir);
        let mut b = StoreBatch::new(Lsn(100), Lsn(0));
        for i in 0..n {
            b.put(T, old_key(i), row(value(i) as i32), Lsn(100));
        }
        store.apply(&b).unwrap();
        // a deleted row is not carried over
        let mut b = StoreBatch::new(Lsn(150), Lsn(0));
        b.delete(T, old_key(3), Lsn(150));
        store.apply(&b).unwrap();
        // a small table re-keyed in the same batch
        let u = Oid(T.0 + 1);
        let mut b = StoreBatch::new(Lsn(160), Lsn(0));
        b.put(u, k(1), row(20), Lsn(160));
        b.put(u, k(2), row(10), Lsn(160));
        // a row written before an ADD COLUMN: the re-key's padding path
        let short: Row = vec![Value::Int4(30)].into();
        b.put(u, k(3), short.clone(), Lsn(160));
        store.apply(&b).unwrap();
        let mut b = StoreBatch::new(Lsn(200), Lsn(0));
        b.rekey(T, Lsn(200), by_first_value());
        b.rekey(u, Lsn(200), by_first_value());
        store.apply(&b).unwrap();
        let rows = all(&store, u, Lsn(200));
        assert_eq!(
            rows,
            [
                (rekeyed_key(10), row(10)),
                (rekeyed_key(20), row(20)),
                (rekeyed_key(30), short)
            ]
        );
        // an old snapshot still reads the old range
        assert_eq!(all(&store, T, Lsn(150)).len(), n as usize - 1);
        assert_eq!(store.get(T, &old_key(0), Lsn(150)).unwrap(), Some(row(100)));
        // a write to the table after the re-keying in the same batch is refused
        let mut b = StoreBatch::new(Lsn(250), Lsn(0));
        b.rekey(u, Lsn(250), by_first_value());
        b.put(u, k(9), row(9), Lsn(250));
        assert!(store.apply(&b).is_err());
        store.persist().unwrap();
    }
    let store = open(&dir);
    let rows = all(&store, T, Lsn(200));
    let mut want: Vec<u32> = (0..n).filter(|&i| i != 3).map(value).collect();
    want.sort_unstable();
    let got: Vec<u32> = rows
        .iter()
        .map(|(key, r)| {
            let Value::Int4(v) = r[0] else {
                panic!("not an int4: {:?}", r[0])
            };
            assert_eq!(key, &rekeyed_key(v as u32), "the row under its new key");
            assert_eq!(r, &row(v), "the row as it was");
            v as u32
        })
        .collect();
    assert_eq!(got, want);
    // the rising rows went in by ingestion: the range was reserved and mapped
    assert!(store.retired_ranges().iter().all(|(_, at)| *at == Lsn(200)));
}

#[test]
fn metadata_in_the_row_keyspace_moves_to_its_own_at_open() {
    // a store as written before the metadata had a keyspace of its own
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        let mut b = StoreBatch::new(Lsn(100), Lsn(0));
        b.put(T, k(1), row(1), Lsn(100));
        store.apply(&b).unwrap();
        store.persist().unwrap();
        let mut legacy = store.db.batch();
        for item in store.meta.prefix(range_start(0)) {
            let (key, v) = item.into_inner().unwrap();
            legacy.insert(&store.heap, key.clone(), v);
            legacy.remove(&store.meta, key);
        }
        legacy.commit().unwrap();
        store.persist().unwrap();
        assert_eq!(store.meta.prefix(range_start(0)).count(), 0);
    }
    let store = open(&dir);
    assert_eq!(store.applied_lsn(), Lsn(100));
    assert_eq!(all(&store, T, Lsn(100)), vec![(k(1), row(1))]);
    assert_eq!(store.heap.prefix(range_start(0)).count(), 0);
    // and it goes on as any store
    let mut b = StoreBatch::new(Lsn(200), Lsn(0));
    b.put(T, k(2), row(2), Lsn(200));
    store.apply(&b).unwrap();
    drop(store);
    let store = open(&dir);
    assert_eq!(store.applied_lsn(), Lsn(200));
    assert_eq!(all(&store, T, Lsn(200)).len(), 2);
}

#[test]
fn a_dead_bulk_range_gives_its_files_back_without_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let empty = store.disk_space().unwrap();
    let sid = store.reserve_range(T).unwrap();
    let mut load = store.load_range(sid).unwrap();
    let wide: Row = vec![Value::Int4(1), Value::Text("x".repeat(400))].into();
    let rows: Vec<(RowKey, Row)> = (0..20_000u32)
        .map(|i| (RowKey::new(&i.to_be_bytes()), wide.clone()))
        .collect();
    load.send(&rows).unwrap();
    load.finish().unwrap();
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    b.adopt(T, Lsn(100), sid);
    store.apply(&b).unwrap();
    store.persist().unwrap();
    assert_eq!(all(&store, T, Lsn(100)).len(), 20_000);
    let loaded = store.disk_space().unwrap() - empty;
    assert!(loaded > 1 << 20, "{loaded} bytes loaded");
    // TRUNCATE, then a batch whose horizon passes it: the range is dead
    let mut b = StoreBatch::new(Lsn(200), Lsn(100));
    b.new_storage(T, Lsn(200));
    store.apply(&b).unwrap();
    let mut b = StoreBatch::new(Lsn(300), Lsn(300));
    b.put(T, k(1), row(1), Lsn(300));
    store.apply(&b).unwrap();
    store.persist().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // (the engine's journal and the new row take a little)
    while store.disk_space().unwrap().saturating_sub(empty) * 4 > loaded {
        assert!(
            std::time::Instant::now() < deadline,
            "the dead range's files are still there: {} of {loaded} bytes",
            store.disk_space().unwrap().saturating_sub(empty)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(all(&store, T, Lsn(300)), [(k(1), row(1))]);
}

/// The applier writes a large commit in parts and, after a crash between
/// them, recovery writes the whole commit again over the parts that are in:
/// every snapshot must read what one write of the commit gives.
#[test]
fn a_commit_written_again_over_a_part_of_it_reads_as_written_once() {
    let base = |b: &mut StoreBatch| {
        for i in 1..=4 {
            b.put(T, k(i), row(i32::from(i)), Lsn(100));
        }
    };
    // updates k1, deletes k2, moves k3 to k5, inserts k6 and writes it again
    let commit: Vec<(RowKey, Option<Row>)> = vec![
        (k(1), Some(row(11))),
        (k(2), None),
        (k(3), None),
        (k(5), Some(row(13))),
        (k(6), Some(row(6))),
        (k(6), Some(row(66))),
    ];
    let write = |b: &mut StoreBatch, writes: &[(RowKey, Option<Row>)]| {
        for (key, r) in writes {
            match r {
                Some(r) => b.put(T, key.clone(), r.clone(), Lsn(200)),
                None => b.delete(T, key.clone(), Lsn(200)),
            }
        }
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let stores: Vec<TableStore> = dirs.iter().map(open).collect();
    for (n, store) in stores.iter().enumerate() {
        let mut b = StoreBatch::new(Lsn(100), Lsn(0));
        base(&mut b);
        store.apply(&b).unwrap();
        if n == 1 {
            // the first part, the applied LSN left where it was
            let mut b = StoreBatch::new(Lsn(100), Lsn(0));
            write(&mut b, &commit[..5]);
            store.apply(&b).unwrap();
            assert_eq!(store.applied_lsn(), Lsn(100));
        }
        let mut b = StoreBatch::new(Lsn(200), Lsn(0));
        write(&mut b, &commit);
        store.apply(&b).unwrap();
        // a later commit, pruning below its horizon
        let mut b = StoreBatch::new(Lsn(300), Lsn(250));
        b.put(T, k(1), row(21), Lsn(300));
        store.apply(&b).unwrap();
    }
    for snap in [99, 100, 199, 200, 299, 300, u64::MAX] {
        let once = all(&stores[0], T, Lsn(snap));
        assert_eq!(all(&stores[1], T, Lsn(snap)), once, "at {snap}");
        for i in 1..=6 {
            assert_eq!(
                stores[1].get(T, &k(i), Lsn(snap)).unwrap(),
                stores[0].get(T, &k(i), Lsn(snap)).unwrap(),
                "key {i} at {snap}"
            );
        }
    }
    let at = |snap| all(&stores[1], T, Lsn(snap));
    assert_eq!(at(200).len(), 4);
    assert_eq!(at(200)[3], (k(6), row(66)));
}

/// A heap whose table has nothing recent reads the store's rows straight
/// into the caller's batch: `limit` more rows per call however many the
/// batch already holds, resuming after the key it returns, and a recent
/// version of one key still goes over the stored one.
#[test]
fn a_heap_with_nothing_recent_reads_the_store_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let mut b = StoreBatch::new(Lsn(100), Lsn(0));
    for i in 0..10u8 {
        b.put(T, k(i), row(i.into()), Lsn(100));
    }
    store.apply(&b).unwrap();
    let heap = Heap::default();
    heap.set_store(Some(store.clone()));
    let read_all = |heap: &Heap| {
        let mut out = Vec::new();
        let mut from: Option<RowKey> = None;
        let mut calls = 0;
        loop {
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            let before = out.len();
            from = heap.visible_batch(T, lower, Lsn(100), 3, &mut out).unwrap();
            calls += 1;
            assert!(out.len() - before <= 3);
            if from.is_none() {
                return (out, calls);
            }
        }
    };
    let (out, calls) = read_all(&heap);
    let keys: Vec<u8> = out.iter().map(|(k, _)| k.0[0]).collect();
    assert_eq!(keys, (0..10).collect::<Vec<u8>>());
    assert_eq!(out[7].1, row(7));
    assert!(calls >= 4, "{calls} calls");
    // a recent version over the stored one
    heap.apply_changes(
        &[Change::Update {
            table: T,
            old_key: k(4),
            key: k(4),
            row: row(44),
            old: OldTuple::None,
        }],
        Lsn(100),
    );
    let (out, _) = read_all(&heap);
    assert_eq!(out.len(), 10);
    assert_eq!(out[4].1, row(44));
}
