//! Secondary indexes: entries kept by every write, uniqueness (also between
//! concurrent writers), scans at a snapshot, crash recovery, and the checks
//! that keep an index whole while other transactions write its table.

mod common;

use std::ops::Bound;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use tandem_storage::{Database, IndexDef, IndexScan, IsolationLevel, LockResult};
use tandem_types::{Oid, SqlState, Value};

fn create_index(db: &Arc<Database>, table: Oid, unique: bool) -> Oid {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let oid = txn.allocate_oid();
    txn.create_index(IndexDef {
        oid,
        name: "t_v_key".into(),
        table,
        columns: vec![1],
        unique,
        constraint: unique,
    })
    .unwrap();
    commit(db, txn);
    oid
}

/// The ids of the rows an index scan for `v = value` finds.
fn ids_with(db: &Arc<Database>, index: Oid, value: i32) -> Vec<i32> {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, true);
    txn.start_statement();
    scan_ids(&txn, index, eq(value))
}

fn eq(value: i32) -> IndexScan {
    IndexScan {
        prefix: vec![Value::Int4(value)],
        range: None,
    }
}

fn scan_ids(txn: &tandem_storage::Transaction, index: Oid, scan: IndexScan) -> Vec<i32> {
    let mut ids = Vec::new();
    txn.index_scan(index, &scan, &mut |_, row| {
        ids.push(int(&row[0]));
        Ok(true)
    })
    .unwrap();
    ids
}

/// `UPDATE t SET v = new WHERE id = id` on a table with a primary key.
fn set_v(
    txn: &mut tandem_storage::Transaction,
    table: Oid,
    id: i32,
    v: i32,
) -> tandem_types::PgResult<()> {
    let (key, _) = txn.get_by_pk(table, &[Value::Int4(id)])?.expect("row");
    assert_eq!(txn.lock_row(table, &key, None)?, LockResult::Unchanged);
    txn.update(table, &key, row(id, v)).map(|_| ())
}

#[test]
fn entries_follow_inserts_updates_deletes_and_truncate() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10), (2, 20), (3, 10)]);
    let idx = create_index(&db, t, false);
    assert_eq!(ids_with(&db, idx, 10), vec![1, 3], "built from the rows");
    insert_rows(&db, t, &[(4, 10), (5, 30)]);
    assert_eq!(ids_with(&db, idx, 10), vec![1, 3, 4]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    set_v(&mut txn, t, 1, 30).unwrap();
    let (key, _) = txn.get_by_pk(t, &[Value::Int4(3)]).unwrap().unwrap();
    txn.lock_row(t, &key, None).unwrap();
    txn.delete(t, &key).unwrap();
    // the transaction reads its own entries
    assert_eq!(scan_ids(&txn, idx, eq(10)), vec![4]);
    assert_eq!(scan_ids(&txn, idx, eq(30)), vec![1, 5]);
    // others do not, until it commits
    assert_eq!(ids_with(&db, idx, 10), vec![1, 3, 4]);
    commit(&db, txn);
    assert_eq!(ids_with(&db, idx, 10), vec![4]);
    assert_eq!(ids_with(&db, idx, 30), vec![1, 5]);
    // a range: 10 < v <= 30
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let range = IndexScan {
        prefix: vec![],
        range: Some((
            Bound::Excluded(Value::Int4(10)),
            Bound::Included(Value::Int4(30)),
        )),
    };
    assert_eq!(scan_ids(&txn, idx, range.clone()), vec![2, 1, 5]);
    txn.truncate(&[t]).unwrap();
    assert!(scan_ids(&txn, idx, range).is_empty());
    commit(&db, txn);
    assert!(ids_with(&db, idx, 30).is_empty());
    insert_rows(&db, t, &[(7, 30)]);
    assert_eq!(ids_with(&db, idx, 30), vec![7]);
}

#[test]
fn a_unique_index_refuses_a_second_row_and_nulls_are_distinct() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10), (2, 10)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let oid = txn.allocate_oid();
    let e = txn
        .create_index(IndexDef {
            oid,
            name: "t_v_key".into(),
            table: t,
            columns: vec![1],
            unique: true,
            constraint: true,
        })
        .unwrap_err();
    assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(e.message, "could not create unique index \"t_v_key\"");
    assert_eq!(e.detail.as_deref(), Some("Key (v)=(10) is duplicated."));
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let (key, _) = txn.get_by_pk(t, &[Value::Int4(2)]).unwrap().unwrap();
    txn.lock_row(t, &key, None).unwrap();
    txn.delete(t, &key).unwrap();
    commit(&db, txn);
    let idx = create_index(&db, t, true);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let e = txn.insert(t, row(3, 10)).unwrap_err();
    assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"t_v_key\""
    );
    assert_eq!(e.detail.as_deref(), Some("Key (v)=(10) already exists."));
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(t, vec![Value::Int4(4), Value::Null]).unwrap();
    txn.insert(t, vec![Value::Int4(5), Value::Null]).unwrap();
    // moving the value away frees it in the same transaction
    set_v(&mut txn, t, 1, 11).unwrap();
    txn.insert(t, row(6, 10)).unwrap();
    commit(&db, txn);
    assert_eq!(ids_with(&db, idx, 10), vec![6]);
    assert_eq!(ids_with(&db, idx, 11), vec![1]);
}

#[test]
fn a_second_writer_of_a_unique_value_waits_for_the_first() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10)]);
    let idx = create_index(&db, t, true);
    // the first moves 10 away but has not committed
    let mut first = db.begin(IsolationLevel::ReadCommitted, false);
    first.start_statement();
    set_v(&mut first, t, 1, 11).unwrap();
    let db2 = db.clone();
    let second = thread::spawn(move || {
        let mut txn = db2.begin(IsolationLevel::ReadCommitted, false);
        txn.start_statement();
        txn.insert(t, row(2, 10)).map(|_| commit(&db2, txn))
    });
    // the second is waiting for the first's lock on the entry
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db.lock_waiters() == 0 {
        assert!(std::time::Instant::now() < deadline, "no waiter");
        thread::sleep(Duration::from_millis(5));
    }
    commit(&db, first);
    second.join().unwrap().unwrap();
    assert_eq!(ids_with(&db, idx, 10), vec![2]);
    assert_eq!(ids_with(&db, idx, 11), vec![1]);
    // a second inserter of a value an uncommitted insert holds fails once
    // that one commits
    let mut first = db.begin(IsolationLevel::ReadCommitted, false);
    first.start_statement();
    first.insert(t, row(3, 12)).unwrap();
    let db2 = db.clone();
    let second = thread::spawn(move || {
        let mut txn = db2.begin(IsolationLevel::ReadCommitted, false);
        txn.start_statement();
        txn.insert(t, row(4, 12)).map(|_| ())
    });
    while db.lock_waiters() == 0 {
        assert!(std::time::Instant::now() < deadline, "no waiter");
        thread::sleep(Duration::from_millis(5));
    }
    commit(&db, first);
    let e = second.join().unwrap().unwrap_err();
    assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
}

#[test]
fn writes_that_miss_a_new_index_fail_at_commit() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 10)]);
    // a writer that started before the index
    let mut writer = db.begin(IsolationLevel::ReadCommitted, false);
    writer.start_statement();
    writer.insert(t, row(2, 10)).unwrap();
    let idx = create_index(&db, t, false);
    let e = writer.commit().unwrap_err();
    assert_eq!(e.code, SqlState::T_R_SERIALIZATION_FAILURE);
    assert_eq!(ids_with(&db, idx, 10), vec![1]);
    // a CREATE INDEX that read the table before another commit wrote it
    let mut build = db.begin(IsolationLevel::ReadCommitted, false);
    build.start_statement();
    let oid = build.allocate_oid();
    build
        .create_index(IndexDef {
            oid,
            name: "t_v_idx2".into(),
            table: t,
            columns: vec![1],
            unique: false,
            constraint: false,
        })
        .unwrap();
    insert_rows(&db, t, &[(3, 10)]);
    let e = build.commit().unwrap_err();
    assert_eq!(e.code, SqlState::T_R_SERIALIZATION_FAILURE);
    assert!(!db.catalog().indexes.contains_key(&oid));
    assert_eq!(ids_with(&db, idx, 10), vec![1, 3]);
}

#[test]
fn entries_survive_a_crash_and_a_drop_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    bootstrap(dir.path());
    let (t, idx) = {
        let db = open(dir.path());
        let t = create_table(&db, "t", false);
        insert_rows(&db, t, &[(1, 10), (2, 20)]);
        let idx = create_index(&db, t, true);
        insert_rows(&db, t, &[(3, 30)]);
        db.checkpoint("immediate force wait").unwrap();
        insert_rows(&db, t, &[(4, 40)]);
        (t, idx)
        // dropped without a shutdown: crash recovery replays the WAL
    };
    let db = open(dir.path());
    for (v, id) in [(10, 1), (20, 2), (30, 3), (40, 4)] {
        assert_eq!(ids_with(&db, idx, v), vec![id]);
    }
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    assert_eq!(
        txn.insert(t, row(5, 40)).unwrap_err().code,
        SqlState::UNIQUE_VIOLATION
    );
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.drop_index(idx).unwrap();
    commit(&db, txn);
    assert!(db.catalog().indexes.is_empty());
    insert_rows(&db, t, &[(5, 40)]);
    assert_eq!(snapshot_rows(&db, t).len(), 5);
}
