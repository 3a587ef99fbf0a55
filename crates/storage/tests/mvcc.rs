//! MVCC scenarios: visibility, READ COMMITTED vs REPEATABLE READ, durability-gated
//! visibility, uniqueness, NOT NULL, truncate.

mod common;

use common::*;
use tandem_storage::{IsolationLevel, LockResult};
use tandem_types::{SqlState, Value};

#[test]
fn uncommitted_rows_are_private_and_commits_show_to_new_snapshots() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut writer = db.begin(IsolationLevel::ReadCommitted, false);
    writer.start_statement();
    writer.insert(t, row(1, 10)).unwrap();
    assert_eq!(
        rows_of(&writer, t),
        vec![row(1, 10)],
        "a transaction reads its own writes"
    );
    assert!(snapshot_rows(&db, t).is_empty(), "others do not");

    let mut rc = db.begin(IsolationLevel::ReadCommitted, true);
    rc.start_statement();
    let mut rr = db.begin(IsolationLevel::RepeatableRead, true);
    rr.start_statement();
    commit(&db, writer);

    assert!(rows_of(&rc, t).is_empty(), "same statement, same snapshot");
    rc.start_statement();
    assert_eq!(
        rows_of(&rc, t),
        vec![row(1, 10)],
        "READ COMMITTED: next statement sees it"
    );
    rr.start_statement();
    assert!(
        rows_of(&rr, t).is_empty(),
        "REPEATABLE READ keeps its snapshot"
    );
}

#[test]
fn a_commit_is_invisible_to_others_until_flushed_but_visible_to_its_session() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(1, 1)).unwrap();
    let end = txn.commit().unwrap().unwrap(); // synchronous_commit = off: no flush
    assert!(db.wal().flush_lsn() < end);
    assert_eq!(db.applied_lsn(), end);
    assert_eq!(
        snapshot_rows(&db, t),
        vec![row(1, 1)],
        "own session reads its own commit"
    );
    let db2 = db.clone();
    let other = std::thread::spawn(move || snapshot_rows(&db2, t))
        .join()
        .unwrap();
    assert!(
        other.is_empty(),
        "another session must not see a commit that is not durable"
    );
    db.wal().flush(end).unwrap();
    let db2 = db.clone();
    let other = std::thread::spawn(move || snapshot_rows(&db2, t))
        .join()
        .unwrap();
    assert_eq!(other, vec![row(1, 1)]);
}

#[test]
fn a_commit_shown_before_flush_is_visible_to_others_at_once() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(1, 1)).unwrap();
    let end = txn.commit().unwrap().unwrap();
    assert!(db.wal().flush_lsn() < end);
    let other = |db: &std::sync::Arc<tandem_storage::Database>| {
        let db2 = db.clone();
        std::thread::spawn(move || snapshot_rows(&db2, t))
            .join()
            .unwrap()
    };
    assert!(other(&db).is_empty());
    // an asynchronous commit (the apply worker's): visible before its flush
    db.show_before_flush(end);
    assert!(db.wal().flush_lsn() < end);
    assert_eq!(other(&db), vec![row(1, 1)]);
    // a later commit not shown stays invisible to others until flushed
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(2, 2)).unwrap();
    let end2 = txn.commit().unwrap().unwrap();
    assert_eq!(other(&db), vec![row(1, 1)]);
    db.wal().flush(end2).unwrap();
    assert_eq!(other(&db), vec![row(1, 1), row(2, 2)]);
}

#[test]
fn scan_merges_own_writes_in_key_order() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &(0..600).map(|i| (i * 2, i)).collect::<Vec<_>>());
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(t, row(1, -1)).unwrap();
    txn.insert(t, row(5000, -1)).unwrap();
    let (k, _) = txn.get_by_pk(t, &[Value::Int4(4)]).unwrap().unwrap();
    assert_eq!(txn.lock_row(t, &k, None).unwrap(), LockResult::Unchanged);
    txn.delete(t, &k).unwrap();
    let (k, _) = txn.get_by_pk(t, &[Value::Int4(600)]).unwrap().unwrap();
    txn.lock_row(t, &k, None).unwrap();
    txn.update(t, &k, row(600, 7)).unwrap();
    let rows = rows_of(&txn, t);
    let ids: Vec<i32> = rows.iter().map(|r| int(&r[0])).collect();
    assert_eq!(rows.len(), 600 + 2 - 1);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "key order");
    assert!(ids.contains(&1) && ids.contains(&5000) && !ids.contains(&4));
    assert!(rows.contains(&row(600, 7)));
    // Stop early.
    let mut n = 0;
    txn.scan(t, &mut |_, _| {
        n += 1;
        Ok(n < 3)
    })
    .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn duplicate_keys_and_nulls_fail_like_postgres() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn.insert(t, row(1, 2)).unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(
        err.message,
        "duplicate key value violates unique constraint \"t_pkey\""
    );
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(1) already exists."));
    drop(txn);

    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(t, row(2, 2)).unwrap();
    assert_eq!(
        txn.insert(t, row(2, 3)).unwrap_err().code,
        SqlState::UNIQUE_VIOLATION
    );
    drop(txn);

    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let err = txn
        .insert(t, vec![Value::Null, Value::Int4(1)])
        .unwrap_err();
    assert_eq!(err.code, SqlState::NOT_NULL_VIOLATION);
    assert_eq!(
        err.message,
        "null value in column \"id\" of relation \"t\" violates not-null constraint"
    );
    assert_eq!(
        err.detail.as_deref(),
        Some("Failing row contains (null, 1).")
    );
    drop(txn);

    // Key-changing update onto an existing key; delete then re-insert is fine.
    insert_rows(&db, t, &[(3, 3)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let (k3, _) = txn.get_by_pk(t, &[Value::Int4(3)]).unwrap().unwrap();
    txn.lock_row(t, &k3, None).unwrap();
    let err = txn.update(t, &k3, row(1, 3)).unwrap_err();
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(1) already exists."));
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let (k1, _) = txn.get_by_pk(t, &[Value::Int4(1)]).unwrap().unwrap();
    txn.lock_row(t, &k1, None).unwrap();
    txn.delete(t, &k1).unwrap();
    txn.insert(t, row(1, 100)).unwrap();
    let (k3, _) = txn.get_by_pk(t, &[Value::Int4(3)]).unwrap().unwrap();
    txn.lock_row(t, &k3, None).unwrap();
    let moved = txn.update(t, &k3, row(30, 3)).unwrap();
    assert_ne!(moved, k3);
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 100), row(30, 3)]);
}

#[test]
fn concurrent_insert_of_same_key_waits_for_the_first_inserter() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    for first_commits in [true, false] {
        let id = if first_commits { 1 } else { 2 };
        let mut first = db.begin(IsolationLevel::ReadCommitted, false);
        first.insert(t, row(id, 1)).unwrap();
        let db2 = db.clone();
        let second = std::thread::spawn(move || {
            let mut txn = db2.begin(IsolationLevel::ReadCommitted, false);
            let r = txn.insert(t, row(id, 2));
            if r.is_ok() {
                commit(&db2, txn);
            }
            r
        });
        std::thread::sleep(std::time::Duration::from_millis(150));
        assert!(!second.is_finished(), "the second inserter waits");
        if first_commits {
            commit(&db, first);
            let err = second.join().unwrap().unwrap_err();
            assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
        } else {
            first.rollback();
            second.join().unwrap().unwrap();
            assert!(snapshot_rows(&db, t).contains(&row(2, 2)));
        }
    }
}

#[test]
fn repeatable_read_fails_on_concurrent_update_and_read_committed_follows_it() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 0)]);
    let mut rr = db.begin(IsolationLevel::RepeatableRead, false);
    rr.start_statement();
    let mut rc = db.begin(IsolationLevel::ReadCommitted, false);
    rc.start_statement();
    let (key, _) = rr.get_by_pk(t, &[Value::Int4(1)]).unwrap().unwrap();

    let mut other = db.begin(IsolationLevel::ReadCommitted, false);
    assert!(increment(&mut other, t, 1, 5).unwrap());
    commit(&db, other);

    let err = rr.lock_row(t, &key, None).unwrap_err();
    assert_eq!(err.code, SqlState::T_R_SERIALIZATION_FAILURE);
    assert_eq!(
        err.message,
        "could not serialize access due to concurrent update"
    );
    drop(rr); // the error aborts it (and releases its row lock)
    assert_eq!(
        rc.lock_row(t, &key, None).unwrap(),
        LockResult::Updated(key.clone(), row(1, 5))
    );

    // A concurrent delete: RC skips the row.
    drop(rc);
    let mut rc = db.begin(IsolationLevel::ReadCommitted, false);
    rc.start_statement();
    let mut del = db.begin(IsolationLevel::ReadCommitted, false);
    del.start_statement();
    del.lock_row(t, &key, None).unwrap();
    del.delete(t, &key).unwrap();
    commit(&db, del);
    assert_eq!(rc.lock_row(t, &key, None).unwrap(), LockResult::Deleted);
}

#[test]
fn truncate_empties_at_commit_and_keeps_later_inserts() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1), (2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.truncate(&[t]).unwrap();
    assert!(rows_of(&txn, t).is_empty());
    txn.insert(t, row(1, 10)).unwrap();
    assert_eq!(
        snapshot_rows(&db, t).len(),
        2,
        "others still see the old rows"
    );
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 10)]);
}

#[test]
fn tables_without_primary_key_use_hidden_row_ids() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "nopk", false);
    insert_rows(&db, t, &[(1, 1), (1, 1), (2, 2)]);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 1), row(1, 1), row(2, 2)]);
}

#[test]
fn read_only_transactions_refuse_writes() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, true);
    let err = txn.insert(t, row(1, 1)).unwrap_err();
    assert_eq!(err.code, SqlState::READ_ONLY_SQL_TRANSACTION);
    assert_eq!(
        err.message,
        "cannot execute INSERT in a read-only transaction"
    );
    assert_eq!(txn.commit().unwrap(), None);
}

#[test]
fn rollback_to_savepoint_undoes_later_writes_and_ddl() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(t, row(1, 1)).unwrap();
    let sp = txn.savepoint();
    txn.insert(t, row(2, 2)).unwrap();
    let u = txn.allocate_oid();
    let mut def = (**txn.catalog().tables.get(&t).unwrap()).clone();
    def.oid = u;
    def.name = "u".into();
    txn.put_table(def, None).unwrap();
    assert!(txn.catalog().tables.contains_key(&u));
    assert!(txn.insert(t, row(1, 9)).is_err());
    txn.rollback_to(&sp);
    assert!(!txn.catalog().tables.contains_key(&u));
    assert_eq!(rows_of(&txn, t), vec![row(1, 1)]);
    txn.insert(t, row(2, 20)).unwrap();
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 1), row(2, 20)]);
    assert!(db.catalog().table_by_name("public", "u").is_none());
}

#[test]
fn wait_for_applied_wakes_on_commit() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let before = db.applied_lsn();
    let db2 = db.clone();
    let waiter = std::thread::spawn(move || {
        db2.wait_for_applied(before, std::time::Duration::from_secs(10))
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    insert_rows(&db, t, &[(1, 1)]);
    let seen = waiter.join().unwrap();
    assert!(seen > before);
    assert_eq!(
        db.wait_for_applied(db.applied_lsn(), std::time::Duration::from_millis(10)),
        db.applied_lsn()
    );
}

/// A bulk load into a table created by the same transaction: rows written in
/// key order, then out of order, updated, deleted and duplicated, read back by
/// the transaction, by others after commit, and after a crash.
#[test]
fn bulk_load_into_a_new_table_reads_back_in_and_after_its_transaction() {
    use tandem_storage::{PrimaryKey, ReplicaIdentity, TableDef};
    use tandem_types::{DataType, Oid};
    let (dir, db) = fresh();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let t = txn.allocate_oid();
    let mut id = col("id", DataType::Int4);
    id.not_null = true;
    txn.put_table(
        TableDef {
            oid: t,
            schema: "public".into(),
            name: "bulk".into(),
            columns: vec![id, col("v", DataType::Int4)],
            primary_key: Some(PrimaryKey {
                name: "bulk_pkey".into(),
                columns: vec![0],
            }),
            replica_identity: ReplicaIdentity::Default,
            owner: Oid(10),
        },
        None,
    )
    .unwrap();
    txn.start_statement();
    let mut want: std::collections::BTreeMap<i32, i32> = std::collections::BTreeMap::new();
    for i in 1..=1000 {
        txn.insert(t, row(i, i)).unwrap();
        want.insert(i, i);
    }
    txn.insert(t, row(0, 0)).unwrap();
    want.insert(0, 0);
    let err = txn.insert(t, row(500, 1)).unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    assert!(increment(&mut txn, t, 700, 5).unwrap());
    *want.entry(700).or_default() += 5;
    let (key, _) = txn.get_by_pk(t, &[Value::Int4(300)]).unwrap().unwrap();
    txn.delete(t, &key).unwrap();
    want.remove(&300);
    txn.insert(t, row(1500, 1500)).unwrap();
    want.insert(1500, 1500);
    let want: Vec<Vec<Value>> = want.into_iter().map(|(i, v)| row(i, v)).collect();
    assert_eq!(rows_of(&txn, t), want, "inside the transaction");
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t), want, "after commit");
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), want, "after redo");
}
