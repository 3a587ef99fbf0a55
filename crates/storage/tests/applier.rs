//! The table store written by the applier (`applier.rs`) through `Database`:
//! the store equals the heap once the WAL is flushed, it never holds a commit
//! past the flush LSN, checkpoints write no rows and a crash after one loses
//! nothing, an old image with rows opens into the store, truncated and
//! dropped tables retire their ranges, and a process SIGKILLed while committing and checkpointing
//! comes back with every acknowledged commit and exactly a prefix of its
//! commits.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tandem_storage::checkpoint::{checkpoint_path, load_image};
use tandem_storage::store::{StoreOptions, TableStore};
use tandem_storage::{Database, IsolationLevel, LockResult, PrimaryKey, RowKey};
use tandem_types::{Lsn, Oid, Value};

/// Rows of `table` in the store visible at `snapshot`, in key order.
/// The table store of the data directory `dir`, opened on its own (as the
/// next start would find it).
fn open_store(dir: &std::path::Path) -> TableStore {
    TableStore::open(
        &dir.join("base/store"),
        StoreOptions {
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
        },
    )
    .unwrap()
}

fn store_rows(db: &Database, table: Oid, snapshot: Lsn) -> Vec<(RowKey, Vec<Value>)> {
    let store = db.table_store().unwrap();
    let mut out = Vec::new();
    let mut from: Option<RowKey> = None;
    loop {
        let mut batch = Vec::new();
        let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
        let more = store
            .visible_batch(table, lower, snapshot, 100, &mut batch)
            .unwrap();
        from = batch.last().map(|(k, _)| k.clone());
        out.extend(batch.into_iter().map(|(k, r)| (k, r.to_vec())));
        if !more || from.is_none() {
            return out;
        }
    }
}

/// Rows of `table` a new snapshot reads (the heap), with their keys.
fn heap_rows(db: &Arc<Database>, table: Oid) -> Vec<(RowKey, Vec<Value>)> {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, true);
    txn.start_statement();
    let mut out = Vec::new();
    txn.scan(table, &mut |k, r| {
        out.push((k.clone(), r.to_vec()));
        Ok(true)
    })
    .unwrap();
    out
}

/// Flushes, waits for the applier, and compares store and heap for `tables`.
fn assert_store_equals_heap(db: &Arc<Database>, tables: &[Oid]) {
    db.wal().flush(db.wal().insert_lsn()).unwrap();
    let applied = db.applied_lsn();
    db.wait_for_store(applied).unwrap();
    let store = db.table_store().unwrap();
    assert!(store.applied_lsn() <= applied);
    for t in tables {
        assert_eq!(
            store_rows(db, *t, applied),
            heap_rows(db, *t),
            "table {t} at {applied}"
        );
    }
}

fn delete_id(db: &Arc<Database>, table: Oid, id: i32) {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    if let Some((k, _)) = txn.get_by_pk(table, &[Value::Int4(id)]).unwrap() {
        txn.lock_row(table, &k, None).unwrap();
        txn.delete(table, &k).unwrap();
    }
    commit(db, txn);
}

#[test]
fn the_store_equals_the_heap_once_flushed() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let k = create_table(&db, "k", false);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..200 {
        let id = (next() % 50) as i32;
        match next() % 5 {
            0 | 1 => {
                let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
                txn.start_statement();
                if txn.get_by_pk(t, &[Value::Int4(id)]).unwrap().is_none() {
                    txn.insert(t, row(id, round)).unwrap();
                }
                txn.insert(k, row(id, round)).unwrap();
                commit(&db, txn);
            }
            2 => {
                let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
                increment(&mut txn, t, id, 1).unwrap();
                commit(&db, txn);
            }
            3 => delete_id(&db, t, id),
            _ => {
                // a key change: the row moves to another key
                let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
                txn.start_statement();
                let new_id = id + 1000;
                if let Some((key, r)) = txn.get_by_pk(t, &[Value::Int4(id)]).unwrap() {
                    if txn.get_by_pk(t, &[Value::Int4(new_id)]).unwrap().is_none() {
                        txn.lock_row(t, &key, None).unwrap();
                        txn.update(t, &key, row(new_id, int(&r[1]))).unwrap();
                    }
                }
                commit(&db, txn);
            }
        }
        if round % 40 == 0 {
            assert_store_equals_heap(&db, &[t, k]);
        }
    }
    assert_store_equals_heap(&db, &[t, k]);
    assert!(!store_rows(&db, t, db.applied_lsn()).is_empty());

    // TRUNCATE with inserts after it in the same transaction
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.truncate(&[k]).unwrap();
    txn.insert(k, row(7, 7)).unwrap();
    commit(&db, txn);
    assert_store_equals_heap(&db, &[t, k]);
    assert_eq!(store_rows(&db, k, db.applied_lsn()).len(), 1);

    // ADD PRIMARY KEY re-keys the rows of a keyless table
    insert_rows(&db, k, &[(1, 1), (2, 2), (3, 3)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.add_primary_key(
        k,
        PrimaryKey {
            name: "k_pkey".into(),
            columns: vec![0],
        },
    )
    .unwrap();
    commit(&db, txn);
    assert_store_equals_heap(&db, &[t, k]);
    let ids: Vec<i32> = store_rows(&db, k, db.applied_lsn())
        .iter()
        .map(|(_, r)| int(&r[0]))
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 7]);
}

/// The writer of [`readers_see_their_snapshot_while_versions_move_to_the_store`]:
/// random inserts, updates (some moving a row to another key), deletes and
/// now and then a TRUNCATE; every third commit flushed (the others reach the
/// store only with a later flush, so the recent heap holds them meanwhile).
/// Records each commit's end LSN with the table it left.
fn random_writer(
    db: &Arc<Database>,
    t: Oid,
    commits: usize,
    history: &parking_lot::Mutex<Vec<(Lsn, BTreeMap<i32, i32>)>>,
) {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0A99_11E5);
    let mut model: BTreeMap<i32, i32> = BTreeMap::new();
    for n in 0..commits {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.start_statement();
        if n % 97 == 96 {
            txn.truncate(&[t]).unwrap();
            model.clear();
        }
        for _ in 0..1 + rng.next_u64() % 4 {
            let id = (rng.next_u64() % 40) as i32;
            let found = txn.get_by_pk(t, &[Value::Int4(id)]).unwrap();
            match (found, rng.next_u64() % 4) {
                (None, _) => {
                    txn.insert(t, row(id, n as i32)).unwrap();
                    model.insert(id, n as i32);
                }
                (Some((key, _)), 0) => {
                    txn.lock_row(t, &key, None).unwrap();
                    txn.delete(t, &key).unwrap();
                    model.remove(&id);
                }
                (Some((key, _)), 1) => {
                    let to = id + 40;
                    if txn.get_by_pk(t, &[Value::Int4(to)]).unwrap().is_none() {
                        txn.lock_row(t, &key, None).unwrap();
                        txn.update(t, &key, row(to, n as i32)).unwrap();
                        model.remove(&id);
                        model.insert(to, n as i32);
                    }
                }
                (Some((key, _)), _) => {
                    txn.lock_row(t, &key, None).unwrap();
                    txn.update(t, &key, row(id, n as i32)).unwrap();
                    model.insert(id, n as i32);
                }
            }
        }
        let Some(end) = txn.commit().unwrap() else {
            continue;
        };
        if n % 3 == 0 {
            db.wal().flush(end).unwrap();
        }
        history.lock().push((end, model.clone()));
    }
    db.wal().flush(db.wal().insert_lsn()).unwrap();
}

/// Readers at snapshots taken while a writer commits and the applier moves
/// flushed commits into the table store (the recent heap forgetting them)
/// see exactly the table of the commit their snapshot names: a version is
/// never found in neither place nor twice, by scans and point reads.
#[test]
fn readers_see_their_snapshot_while_versions_move_to_the_store() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let history = Arc::new(parking_lot::Mutex::new(vec![(
        db.applied_lsn(),
        BTreeMap::new(),
    )]));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, history, done) = (db.clone(), history.clone(), done.clone());
        std::thread::spawn(move || {
            random_writer(&db, t, 5000, &history);
            done.store(true, std::sync::atomic::Ordering::Release);
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, history, done) = (db.clone(), history.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut checked, mut with_recent) = (0usize, 0usize);
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    if db.recent_stats(t).is_some_and(|(keys, _)| keys > 0) {
                        with_recent += 1;
                    }
                    let mut txn = db.begin(IsolationLevel::ReadCommitted, true);
                    txn.start_statement();
                    let at = txn.snapshot_lsn();
                    let seen: BTreeMap<i32, i32> = rows_of(&txn, t)
                        .iter()
                        .map(|r| (int(&r[0]), int(&r[1])))
                        .collect();
                    let point: Vec<(i32, Option<i32>)> = (0..80)
                        .filter(|id| (id + r + checked as i32) % 7 == 0)
                        .map(|id| {
                            let got = txn.get_by_pk(t, &[Value::Int4(id)]).unwrap();
                            (id, got.map(|(_, row)| int(&row[1])))
                        })
                        .collect();
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let want = loop {
                        let found = history
                            .lock()
                            .iter()
                            .rev()
                            .find(|(end, _)| *end <= at)
                            .filter(|(end, _)| *end == at)
                            .map(|(_, m)| m.clone());
                        if let Some(m) = found {
                            break m;
                        }
                        assert!(Instant::now() < deadline, "no commit ends at {at}");
                        std::thread::yield_now();
                    };
                    assert_eq!(seen, want, "scan at {at}");
                    for (id, got) in point {
                        assert_eq!(got, want.get(&id).copied(), "row {id} at {at}");
                    }
                    checked += 1;
                }
                (checked, with_recent)
            })
        })
        .collect();
    writer.join().unwrap();
    let mut checked = 0;
    let mut with_recent = 0;
    for r in readers {
        let (c, w) = r.join().unwrap();
        checked += c;
        with_recent += w;
    }
    assert!(checked > 50, "only {checked} snapshots checked");
    assert!(with_recent > 0, "the recent heap was never in use");
    // everything reaches the store, and the recent heap empties
    db.wait_for_store(db.applied_lsn()).unwrap();
    assert_eq!(db.recent_stats(t).map_or(0, |(_, v)| v), 0);
    let last = history.lock().last().map(|(_, m)| m.clone()).unwrap();
    let rows: BTreeMap<i32, i32> = store_rows(&db, t, db.applied_lsn())
        .iter()
        .map(|(_, r)| (int(&r[0]), int(&r[1])))
        .collect();
    assert_eq!(rows, last);
}

#[test]
fn the_store_never_holds_a_commit_past_the_flush_lsn() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1)]);
    let flushed_end = db.applied_lsn();
    // synchronous_commit = off: committed, applied to the heap, not flushed
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(2, 2)).unwrap();
    let unflushed_end = txn.commit().unwrap().unwrap();
    assert!(db.wal().flush_lsn() < unflushed_end);
    db.wait_for_store(flushed_end).unwrap();
    let store = db.table_store().unwrap();
    assert_eq!(store.applied_lsn(), flushed_end);
    let at_end = Lsn(u64::MAX);
    assert_eq!(store_rows(&db, t, at_end).len(), 1);
    drop(store);
    // a crash: the unflushed commit is lost from the WAL and never reached
    // the store
    drop(db);
    let store = open_store(dir.path());
    assert_eq!(store.applied_lsn(), flushed_end);
    let key = tandem_storage::keycode::encode_key(&[Value::Int4(2)]);
    assert_eq!(store.get(t, &key, at_end).unwrap(), None);
    drop(store);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 1)]);

    // once flushed, the same kind of commit reaches the store
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(3, 3)).unwrap();
    let end = txn.commit().unwrap().unwrap();
    db.wal().flush(end).unwrap();
    db.wait_for_store(end).unwrap();
    assert_eq!(db.table_store().unwrap().applied_lsn(), end);
    assert_store_equals_heap(&db, &[t]);
}

#[test]
fn a_checkpoint_writes_no_rows_and_a_crash_after_it_loses_nothing() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let rows: Vec<(i32, i32)> = (1..=2000).map(|i| (i, i)).collect();
    insert_rows(&db, t, &rows);
    let empty_image = std::fs::metadata(checkpoint_path(dir.path()))
        .unwrap()
        .len();
    let stats = db.checkpoint("immediate force wait").unwrap();
    assert_eq!(stats.rows_written, 2000, "rows the applier wrote");
    let image = load_image(dir.path()).unwrap();
    assert!(!image.has_rows);
    assert!(image.tables.is_empty());
    // the image holds the catalog, not 2000 rows
    let size = std::fs::metadata(checkpoint_path(dir.path()))
        .unwrap()
        .len();
    assert!(size < empty_image + 1024, "{size} vs {empty_image}");
    // after the checkpoint: updates, deletes, inserts, a truncated table
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    for id in [5, 6, 7] {
        increment(&mut txn, t, id, 100).unwrap();
    }
    commit(&db, txn);
    delete_id(&db, t, 9);
    insert_rows(&db, t, &[(3000, 1)]);
    let u = create_table(&db, "u", false);
    insert_rows(&db, u, &[(1, 1), (2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.truncate(&[u]).unwrap();
    txn.insert(u, row(3, 3)).unwrap();
    commit(&db, txn);
    let want_t = snapshot_rows(&db, t);
    let want_u = snapshot_rows(&db, u);
    assert_eq!(want_t.len(), 2000);
    drop(db); // crash

    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), want_t);
    assert_eq!(snapshot_rows(&db, u), want_u);
    assert_store_equals_heap(&db, &[t, u]);
    // a second checkpoint after recovery, a crash, and the same again
    db.checkpoint("time").unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), want_t);
    assert_eq!(snapshot_rows(&db, u), want_u);
}

#[test]
fn an_image_with_rows_opens_into_the_store() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let k = create_table(&db, "k", false);
    insert_rows(&db, t, &(1..=500).map(|i| (i, i)).collect::<Vec<_>>());
    insert_rows(&db, k, &[(1, 1), (1, 1), (2, 2)]);
    // a version 2 image, as data directories from before the table store
    // have it (and as base backups of servers from then shipped it)
    let stats = db.checkpoint("immediate force wait").unwrap();
    let want_t = snapshot_rows(&db, t);
    let want_k = snapshot_rows(&db, k);
    let v3 = load_image(dir.path()).unwrap();
    let mut w = tandem_storage::checkpoint::ImageWriter::in_memory(
        &v3.header,
        &v3.catalog,
        &v3.sequences,
        &v3.origins,
        2,
    )
    .unwrap();
    for oid in [t, k] {
        w.begin_table(oid).unwrap();
        for (key, row) in heap_rows(&db, oid) {
            w.row(&key, &row).unwrap();
        }
        w.end_table().unwrap();
    }
    let image = w.finish_in_memory().unwrap();
    assert_eq!(&image[..8], b"TNDMCKP2");
    db.shutdown().unwrap();
    drop(db);
    std::fs::remove_dir_all(dir.path().join("base/store")).unwrap();
    std::fs::write(checkpoint_path(dir.path()), &image).unwrap();
    assert!(load_image(dir.path()).unwrap().has_rows);

    let db = open(dir.path());
    let store = db.table_store().unwrap();
    assert_eq!(store.applied_lsn(), stats.redo_lsn);
    drop(store);
    assert_eq!(snapshot_rows(&db, t), want_t);
    assert_eq!(snapshot_rows(&db, k), want_k);
    assert_eq!(store_rows(&db, t, db.applied_lsn()).len(), 500);
    assert_eq!(store_rows(&db, k, db.applied_lsn()).len(), 3);
    assert_store_equals_heap(&db, &[t, k]);
    // more commits, a crash: the store is ahead of the (still version 2)
    // image, which is not ingested again
    insert_rows(&db, t, &[(501, 501)]);
    delete_id(&db, t, 1);
    let want_t = snapshot_rows(&db, t);
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), want_t);
    assert_eq!(snapshot_rows(&db, k), want_k);
    // the next checkpoint writes a version 3 image
    db.checkpoint("time").unwrap();
    assert!(!load_image(dir.path()).unwrap().has_rows);
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), want_t);
    assert_store_equals_heap(&db, &[t, k]);
}

#[test]
fn truncated_and_dropped_tables_retire_their_ranges_with_the_commit() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let u = create_table(&db, "u", true);
    insert_rows(&db, t, &[(1, 1), (2, 2)]);
    insert_rows(&db, u, &[(1, 1), (2, 2)]);
    db.checkpoint("immediate force wait").unwrap();
    let store = db.table_store().unwrap();
    assert!(store.retired_ranges().is_empty());

    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.truncate(&[t]).unwrap();
    txn.insert(t, row(3, 3)).unwrap();
    commit(&db, txn);
    let truncated_at = db.applied_lsn();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.drop_table(u).unwrap();
    commit(&db, txn);
    let dropped_at = db.applied_lsn();
    assert_store_equals_heap(&db, &[t]);
    // no checkpoint needed: the store left both with their commits
    let at_end = Lsn(u64::MAX);
    assert_eq!(store_rows(&db, t, at_end).len(), 1);
    assert!(store_rows(&db, u, at_end).is_empty());
    assert_eq!(store.tables(), [t]);
    assert_eq!(store.retired_ranges(), [(t, truncated_at), (u, dropped_at)]);
    drop(store);

    // a crash: the store comes back without u, t holds only its new row
    drop(db);
    let db = open(dir.path());
    assert!(!db.catalog().tables.contains_key(&u));
    let store = db.table_store().unwrap();
    assert_eq!(store.tables(), [t]);
    assert!(store_rows(&db, u, at_end).is_empty());
    assert_store_equals_heap(&db, &[t]);
    // nothing reads the retired ranges after a restart: compaction empties
    // them and the next checkpoint forgets them
    store.compact().unwrap();
    db.checkpoint("immediate force wait").unwrap();
    assert!(store.retired_ranges().is_empty());
}

// ---- a process killed while committing and checkpointing ----

const KILL_ENV: &str = "TANDEM_APPLIER_KILL_DIR";

/// The rows after commits 1..=n of [`killed_writer`]: commit i inserts
/// (i, 0), adds 1 to row i / 2, and every 7th deletes row i - 5.
fn model(n: u64) -> BTreeMap<i32, i32> {
    let mut m = BTreeMap::new();
    for i in 1..=n as i32 {
        m.insert(i, 0);
        if let Some(v) = m.get_mut(&(i / 2)) {
            *v += 1;
        }
        if i % 7 == 0 {
            m.remove(&(i - 5));
        }
    }
    m
}

/// The child the kill test SIGKILLs: commits forever (each flushed, then
/// reported), checkpointing every 150 commits.
#[test]
fn killed_writer() {
    let Ok(dir) = std::env::var(KILL_ENV) else {
        return;
    };
    let db = open(std::path::Path::new(&dir));
    let t = db
        .catalog()
        .table_by_name("public", "t")
        .map(|d| d.oid)
        .unwrap();
    let mut out = std::io::stdout();
    for i in 1.. {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.start_statement();
        txn.insert(t, row(i, 0)).unwrap();
        increment(&mut txn, t, i / 2, 1).unwrap();
        if i % 7 == 0 {
            txn.start_statement();
            if let Some((k, _)) = txn.get_by_pk(t, &[Value::Int4(i - 5)]).unwrap() {
                txn.lock_row(t, &k, None).unwrap();
                txn.delete(t, &k).unwrap();
            }
        }
        commit(&db, txn);
        writeln!(out, "acked {i}").unwrap();
        out.flush().unwrap();
        if i % 150 == 0 {
            db.checkpoint("time").unwrap();
        }
    }
}

#[test]
fn a_killed_process_keeps_its_acknowledged_commits_and_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    {
        bootstrap(dir.path());
        let db = open(dir.path());
        create_table(&db, "t", true);
        db.shutdown().unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    for kill_at in [40u64, 410, 777] {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "killed_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut acked = 0u64;
        // kept open until the child is killed (a closed pipe would end it
        // with an error instead of SIGKILL)
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(v) = line.strip_prefix("acked ") {
                acked = v.parse().unwrap();
                if acked >= kill_at || Instant::now() > deadline {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        drop(lines);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "the writer ended by itself: {status}"
        );
        assert!(acked >= kill_at, "the writer stopped at {acked}");

        // what the killed process left: the store (fjall replays its journal)
        // against the last checkpoint's redo
        let (store_at, redo) = {
            let store = open_store(dir.path());
            let redo = tandem_storage::read_control(dir.path()).unwrap().redo_lsn;
            (store.applied_lsn(), redo)
        };
        let db = open(dir.path());
        let t = db
            .catalog()
            .table_by_name("public", "t")
            .map(|d| d.oid)
            .unwrap();
        let got: BTreeMap<i32, i32> = snapshot_rows(&db, t)
            .iter()
            .map(|r| (int(&r[0]), int(&r[1])))
            .collect();
        let n = got.keys().max().copied().unwrap_or(0) as u64;
        // the child runs on while the parent reads its reports: it may have
        // acknowledged more than the parent saw, never less
        assert!(n >= acked, "recovered {n} commits, {acked} acknowledged");
        assert_eq!(got, model(n), "state after {n} commits");
        println!(
            "killed after {acked} acknowledged commits: recovered {n}, \
             store left at {store_at}, last checkpoint's redo {redo}"
        );
        assert_store_equals_heap(&db, &[t]);
        // the next round continues from here: make the next ids line up
        db.shutdown().unwrap();
        drop(db);
        // only a prefix the model can continue: restart numbering by
        // removing the rows, so the next child starts from an empty table
        let db = open(dir.path());
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.truncate(&[t]).unwrap();
        commit(&db, txn);
        db.shutdown().unwrap();
    }
}

/// A lock taken for an UPDATE finds a row changed since its snapshot even
/// once the newer version has left the recent heap for the store; a row not
/// changed since is updated from the row the statement saw.
#[test]
fn a_lock_sees_changes_since_its_snapshot_that_reached_the_store() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10), (2, 20)]);
    assert_store_equals_heap(&db, &[t]);
    let mut a = db.begin(IsolationLevel::ReadCommitted, false);
    a.start_statement();
    let (k1, r1) = a.get_by_pk(t, &[Value::Int4(1)]).unwrap().unwrap();
    let (k2, r2) = a.get_by_pk(t, &[Value::Int4(2)]).unwrap().unwrap();
    let mut b = db.begin(IsolationLevel::ReadCommitted, false);
    b.start_statement();
    b.lock_row(t, &k1, Some(&r1)).unwrap();
    b.update(t, &k1, row(1, 11)).unwrap();
    commit(&db, b);
    assert_store_equals_heap(&db, &[t]);
    match a.lock_row(t, &k1, Some(&r1)).unwrap() {
        LockResult::Updated(_, newer) => assert_eq!(newer, row(1, 11)),
        other => panic!("row 1 changed since the snapshot, lock said {other:?}"),
    }
    assert!(matches!(
        a.lock_row(t, &k2, Some(&r2)).unwrap(),
        LockResult::Unchanged
    ));
    a.update(t, &k2, row(2, 21)).unwrap();
    a.update(t, &k1, row(1, 12)).unwrap();
    commit(&db, a);
    let mut c = db.begin(IsolationLevel::ReadCommitted, false);
    c.start_statement();
    let rows: Vec<Vec<Value>> = [1, 2]
        .iter()
        .map(|&id| {
            c.get_by_pk(t, &[Value::Int4(id)])
                .unwrap()
                .unwrap()
                .1
                .to_vec()
        })
        .collect();
    assert_eq!(rows, [row(1, 12), row(2, 21)]);
    // REPEATABLE READ refuses a row changed since its snapshot
    let mut rr = db.begin(IsolationLevel::RepeatableRead, false);
    rr.start_statement();
    let (k1, r1) = rr.get_by_pk(t, &[Value::Int4(1)]).unwrap().unwrap();
    let mut d = db.begin(IsolationLevel::ReadCommitted, false);
    d.start_statement();
    d.lock_row(t, &k1, None).unwrap();
    d.update(t, &k1, row(1, 13)).unwrap();
    commit(&db, d);
    assert_store_equals_heap(&db, &[t]);
    let e = rr.lock_row(t, &k1, Some(&r1)).unwrap_err();
    assert_eq!(
        e.message,
        "could not serialize access due to concurrent update"
    );
}

/// An updated row's previous version goes into the store only while a
/// snapshot can still see it: the applier prunes with the horizon of when it
/// writes, not of the commit (when the updater's own and others' snapshots
/// were still open).
#[test]
fn the_store_keeps_a_previous_version_only_for_a_snapshot_that_sees_it() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10)]);
    let bump = |delta: i32| {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        assert!(increment(&mut txn, t, 1, delta).unwrap());
        commit(&db, txn).unwrap()
    };
    let stored = |end: Lsn| {
        db.wait_for_store(end).unwrap();
        let key = heap_rows(&db, t)[0].0.clone();
        db.table_store().unwrap().versions(t, &key).unwrap()
    };
    // a reader whose snapshot predates the update keeps the old version
    let mut reader = db.begin(IsolationLevel::RepeatableRead, true);
    reader.start_statement();
    let before = db.applied_lsn();
    let end = bump(1);
    assert_eq!(stored(end), 2);
    assert_eq!(store_rows(&db, t, before)[0].1, row(1, 10));
    assert_eq!(rows_of(&reader, t), [row(1, 10)]);
    drop(reader);
    // with no such snapshot the store takes the new version alone
    let end = bump(1);
    assert_eq!(stored(end), 1);
    assert_eq!(snapshot_rows(&db, t), [row(1, 12)]);
}
