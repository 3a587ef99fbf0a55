//! Bulk loads that move to the table store before their commit (runs of
//! inserts into a table the transaction created or truncated): the
//! transaction reads and changes its rows there, the WAL gets exactly the
//! records an in-memory transaction writes, a rollback or a crash leaves
//! nothing, and the rows survive a restart.

mod common;

use std::sync::Arc;

use common::*;
use tandem_storage::{Database, IsolationLevel, RowKey};
use tandem_types::{Lsn, Oid, Value};

/// Moves runs to the store after about 60 rows of this test's tables.
const SMALL_SPILL: usize = 8 << 10;

/// Everything after `from` in the WAL as (kind, xid, payload), COMMIT
/// payloads (which carry the commit time) left out.
fn wal_records(db: &Database, from: Lsn) -> Vec<(u8, u32, Vec<u8>)> {
    let wal = db.wal();
    wal.flush(wal.insert_lsn()).unwrap();
    let mut reader = wal.reader(from);
    let mut out = Vec::new();
    while let Some(r) = reader.next_record().unwrap() {
        let commit = r.kind == tandem_storage::record::kinds::COMMIT;
        out.push((r.kind, r.xid.0, if commit { Vec::new() } else { r.payload }));
    }
    out
}

/// The keys of `table`'s visible rows whose id is in `ids`.
fn keys_of(txn: &tandem_storage::Transaction, table: Oid, ids: &[i32]) -> Vec<RowKey> {
    let mut keys = Vec::new();
    txn.scan(table, &mut |k, r| {
        if ids.contains(&int(&r[0])) {
            keys.push(k.clone());
        }
        Ok(true)
    })
    .unwrap();
    keys
}

/// One transaction: TRUNCATE t, 400 rows, a message and a write to `u` in
/// the middle, 400 more rows, reads, an update and a delete of rows that
/// moved to the store, a few more rows; then commits. Returns the WAL
/// position before it.
fn bulk_transaction(db: &Arc<Database>, t: Oid, u: Oid) -> Lsn {
    let from = db.wal().insert_lsn();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    for i in 0..400 {
        txn.insert(t, row(i, i)).unwrap();
    }
    txn.emit_message("bulk", b"halfway").unwrap();
    txn.insert(u, row(1, 1)).unwrap();
    for i in 400..800 {
        txn.insert(t, row(i, i)).unwrap();
    }
    txn.start_statement();
    // every row, in insertion order, whether it moved or not
    let ids: Vec<i32> = rows_of(&txn, t).iter().map(|r| int(&r[0])).collect();
    assert_eq!(ids, (0..800).collect::<Vec<_>>());
    for key in keys_of(&txn, t, &[5, 450]) {
        assert_eq!(
            txn.lock_row(t, &key, None).unwrap(),
            tandem_storage::LockResult::Unchanged
        );
        let mut r = txn.get(t, &key).unwrap().unwrap();
        r[1] = Value::Int4(-int(&r[1]));
        txn.update(t, &key, r).unwrap();
    }
    for key in keys_of(&txn, t, &[6, 451]) {
        txn.lock_row(t, &key, None).unwrap();
        txn.delete(t, &key).unwrap();
    }
    for i in 800..810 {
        txn.insert(t, row(i, i)).unwrap();
    }
    commit(db, txn);
    from
}

fn expected() -> Vec<Vec<Value>> {
    (0..810)
        .filter(|i| *i != 6 && *i != 451)
        .map(|i| match i {
            5 | 450 => row(i, -i),
            _ => row(i, i),
        })
        .collect()
}

#[test]
fn a_bulk_load_in_the_store_commits_the_records_of_one_in_memory() {
    let (_d1, spilling) = fresh();
    let (dir2, in_memory) = fresh();
    spilling.set_bulk_spill_bytes(SMALL_SPILL);
    let mut wals = Vec::new();
    for db in [&spilling, &in_memory] {
        let t = create_table(db, "t", false);
        let u = create_table(db, "u", true);
        insert_rows(db, t, &[(-1, -1)]);
        let from = bulk_transaction(db, t, u);
        assert_eq!(snapshot_rows(db, t), expected());
        assert_eq!(snapshot_rows(db, u), vec![row(1, 1)]);
        wals.push(wal_records(db, from));
    }
    assert!(wals[0].len() > 800);
    assert_eq!(wals[0], wals[1], "the same records, in the same order");
    let store = spilling.table_store().unwrap();
    assert!(
        store.retired_ranges().iter().all(|(_, at)| *at > Lsn(0)),
        "the bulk range was adopted, not abandoned"
    );
    drop(store);
    // the rows come back after a crash from either side: the store (the
    // spilling one, checkpointed) or the WAL
    spilling.checkpoint("time").unwrap();
    let t = spilling.catalog().table_by_name("public", "t").unwrap().oid;
    let dir1 = _d1.path().to_path_buf();
    drop(spilling);
    drop(in_memory);
    for dir in [&dir1, &dir2.path().to_path_buf()] {
        let db = open(dir);
        assert_eq!(snapshot_rows(&db, t), expected());
    }
}

const CHILD_ENV: &str = "TANDEM_BULK_CHILD_DIR";

/// The child [`a_bulk_load_rolled_back_or_cut_by_a_crash_leaves_nothing`]
/// SIGKILLs: moves a bulk load to the store, checkpoints, says so, waits.
#[test]
fn bulk_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = open(std::path::Path::new(&dir));
    db.set_bulk_spill_bytes(SMALL_SPILL);
    let t = db.catalog().table_by_name("public", "t").unwrap().oid;
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    for i in 0..1000 {
        txn.insert(t, row(i, i)).unwrap();
    }
    db.checkpoint("time").unwrap();
    println!("loaded");
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_bulk_load_rolled_back_or_cut_by_a_crash_leaves_nothing() {
    use std::io::BufRead;
    let (dir, db) = fresh();
    db.set_bulk_spill_bytes(SMALL_SPILL);
    let t = create_table(&db, "t", false);
    insert_rows(&db, t, &[(1, 1), (2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    for i in 0..1000 {
        txn.insert(t, row(i, i)).unwrap();
    }
    assert_eq!(rows_of(&txn, t).len(), 1000);
    drop(txn);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 1), row(2, 2)]);
    let store = db.table_store().unwrap();
    assert!(
        store.retired_ranges().contains(&(t, Lsn(0))),
        "the bulk range is dead"
    );
    drop(store);
    db.shutdown().unwrap();
    drop(db);

    // a process killed with the load open (and checkpointed meanwhile)
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "bulk_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let loaded = lines
        .by_ref()
        .any(|l| l.is_ok_and(|l| l.ends_with("loaded")));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(lines);
    assert!(loaded, "the child did not load");

    let tmp = dir.path().join("base/pgsql_tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        1,
        "the load's records"
    );
    let db = open(dir.path());
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "removed at startup"
    );
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 1), row(2, 2)]);
    let store = db.table_store().unwrap();
    assert!(store.retired_ranges().contains(&(t, Lsn(0))));
    drop(store);
    // the dead ranges' ids are not handed out again: new loads work
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    for i in 0..1000 {
        txn.insert(t, row(i, 0)).unwrap();
    }
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t).len(), 1000);
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t).len(), 1000);
}
