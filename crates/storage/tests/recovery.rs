//! Crash recovery, checkpoints and DDL replay: drop the Database without a
//! shutdown (a crash: unflushed WAL is lost), reopen, compare.

mod common;

use common::*;
use tandem_storage::{DbState, IsolationLevel, PrimaryKey, SequenceDef};
use tandem_types::{DataType, Oid, SqlState, Value};

#[test]
fn crash_keeps_flushed_commits_and_drops_the_unflushed_tail() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1), (2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    increment(&mut txn, t, 1, 10).unwrap();
    commit(&db, txn);
    // Uncommitted: never in WAL.
    let mut open_txn = db.begin(IsolationLevel::ReadCommitted, false);
    open_txn.insert(t, row(3, 3)).unwrap();
    // Committed with synchronous_commit = off and never flushed: lost in the crash.
    let mut lost = db.begin(IsolationLevel::ReadCommitted, false);
    lost.insert(t, row(4, 4)).unwrap();
    lost.commit().unwrap();
    let last_xid = db.control().next_xid;
    drop(open_txn);
    assert_eq!(db.control_file().state, DbState::InProduction);
    drop(db);

    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), vec![row(1, 11), row(2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let xid = txn.assign_xid();
    assert!(xid.0 >= 740, "xids start in the 740s");
    assert!(
        xid >= tandem_types::Xid(last_xid.0 - 2),
        "xids continue after recovery"
    );
    txn.insert(t, row(4, 40)).unwrap();
    commit(&db, txn);
    drop(db);
    let db = open(dir.path());
    assert_eq!(
        snapshot_rows(&db, t),
        vec![row(1, 11), row(2, 2), row(4, 40)]
    );
}

#[test]
fn checkpoint_then_more_commits_then_crash() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &(1..=100).map(|i| (i, i)).collect::<Vec<_>>());
    let stats = db.checkpoint("immediate force wait").unwrap();
    assert_eq!(stats.rows_written, 100);
    assert_eq!(db.control().redo_lsn, stats.redo_lsn);
    assert!(db.control().checkpoint_lsn >= stats.redo_lsn);
    // More work after the checkpoint: update, delete, insert, truncate of another table.
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    increment(&mut txn, t, 5, 1000).unwrap();
    txn.start_statement();
    let (k, _) = txn.get_by_pk(t, &[Value::Int4(7)]).unwrap().unwrap();
    txn.lock_row(t, &k, None).unwrap();
    txn.delete(t, &k).unwrap();
    txn.insert(t, row(101, 101)).unwrap();
    commit(&db, txn);
    let u = create_table(&db, "u", false);
    insert_rows(&db, u, &[(1, 1)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.truncate(&[u]).unwrap();
    txn.insert(u, row(2, 2)).unwrap();
    commit(&db, txn);
    let expected = snapshot_rows(&db, t);
    assert_eq!(expected.len(), 100);
    drop(db);

    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), expected);
    assert_eq!(snapshot_rows(&db, u), vec![row(2, 2)]);
    // Checkpoint again and reopen without replay.
    db.checkpoint("time").unwrap();
    insert_rows(&db, u, &[(3, 3)]);
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t), expected);
    assert_eq!(snapshot_rows(&db, u), vec![row(2, 2), row(3, 3)]);
}

#[test]
fn ddl_replays_create_add_column_drop_column_add_primary_key() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", false);
    insert_rows(&db, t, &[(1, 10), (2, 20)]);
    let before_ddl = db.applied_lsn();

    // ADD COLUMN w int DEFAULT 5
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let mut def = (**txn.catalog().tables.get(&t).unwrap()).clone();
    def.columns.push(col("w", DataType::Int4));
    txn.put_table(def.clone(), Some(Value::Int4(5))).unwrap();
    commit(&db, txn);
    assert_eq!(
        snapshot_rows(&db, t),
        vec![
            vec![Value::Int4(1), Value::Int4(10), Value::Int4(5)],
            vec![Value::Int4(2), Value::Int4(20), Value::Int4(5)]
        ]
    );
    // DROP COLUMN v (kept in place, hidden), then ADD PRIMARY KEY (id).
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    def.columns[1].dropped = true;
    txn.put_table(def.clone(), None).unwrap();
    txn.add_primary_key(
        t,
        PrimaryKey {
            name: "t_pkey".into(),
            columns: vec![0],
        },
    )
    .unwrap();
    txn.start_statement();
    assert!(
        txn.get_by_pk(t, &[Value::Int4(2)]).unwrap().is_some(),
        "re-keyed inside the transaction"
    );
    txn.insert(t, vec![Value::Int4(3), Value::Null, Value::Int4(30)])
        .unwrap();
    commit(&db, txn);
    assert!(
        db.catalog_at(before_ddl).tables[&t].primary_key.is_none(),
        "catalog history"
    );
    assert_eq!(db.catalog_change_lsns().len(), 4);

    let check = |db: &std::sync::Arc<tandem_storage::Database>| {
        let cat = db.catalog();
        let def = &cat.tables[&t];
        assert_eq!(def.columns.len(), 3);
        assert!(def.columns[1].dropped);
        assert_eq!(
            def.primary_key.as_ref().map(|p| p.columns.clone()),
            Some(vec![0])
        );
        assert!(def.columns[0].not_null);
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.start_statement();
        let (_, r) = txn.get_by_pk(t, &[Value::Int4(1)]).unwrap().unwrap();
        assert_eq!(r[2], Value::Int4(5));
        let (_, r) = txn.get_by_pk(t, &[Value::Int4(3)]).unwrap().unwrap();
        assert_eq!(r[2], Value::Int4(30));
        let err = txn
            .insert(t, vec![Value::Int4(2), Value::Null, Value::Null])
            .unwrap_err();
        assert_eq!(err.detail.as_deref(), Some("Key (id)=(2) already exists."));
    };
    check(&db);
    drop(db);
    let db = open(dir.path());
    check(&db);
    db.checkpoint("time").unwrap();
    drop(db);
    let db = open(dir.path());
    check(&db);
    assert!(db.control().next_oid.0 > t.0, "oids continue");
}

#[test]
fn add_primary_key_refuses_duplicates_and_nulls() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", false);
    insert_rows(&db, t, &[(1, 1), (1, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn
        .add_primary_key(
            t,
            PrimaryKey {
                name: "t_pkey".into(),
                columns: vec![0],
            },
        )
        .unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(err.message, "could not create unique index \"t_pkey\"");
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(1) is duplicated."));
    drop(txn);
    let u = create_table(&db, "u", false);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.insert(u, row(5, 5)).unwrap();
    txn.insert(u, vec![Value::Null, Value::Int4(3)]).unwrap();
    let err = txn
        .add_primary_key(
            u,
            PrimaryKey {
                name: "u_pkey".into(),
                columns: vec![0],
            },
        )
        .unwrap_err();
    assert_eq!(err.code, SqlState::NOT_NULL_VIOLATION);
    assert_eq!(
        err.message,
        "column \"id\" of relation \"u\" contains null values"
    );
    txn.add_primary_key(
        u,
        PrimaryKey {
            name: "u_pkey".into(),
            columns: vec![1],
        },
    )
    .unwrap();
}

/// The ids of `rows`, in their order.
fn ids(rows: Vec<Vec<Value>>) -> Vec<i32> {
    rows.iter().map(|r| int(&r[0])).collect()
}

/// A transaction that just added primary key (id) to `u`, whose rows are
/// `ids` with (9, 3) among them, uses the table by its new key: reads in key
/// order and by key, a duplicate insert refused, an insert of 4 and an
/// update of 5.
fn use_rekeyed(txn: &mut tandem_storage::Transaction, u: Oid, want: &[i32]) {
    assert_eq!(ids(rows_of(txn, u)), want);
    assert_eq!(
        txn.get_by_pk(u, &[Value::Int4(9)]).unwrap().map(|(_, r)| r),
        Some(row(9, 3))
    );
    txn.start_statement();
    let err = txn.insert(u, row(3, 0)).unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    txn.insert(u, row(4, 6)).unwrap();
    assert!(increment(txn, u, 5, 10).unwrap());
}

#[test]
fn add_primary_key_over_rows_out_of_key_order() {
    let (dir, db) = fresh();
    let pk = |t: &str| PrimaryKey {
        name: format!("{t}_pkey"),
        columns: vec![0],
    };
    // A duplicate that is not next to its twin in scan order.
    let t = create_table(&db, "t", false);
    insert_rows(&db, t, &[(5, 1), (3, 2), (9, 3), (3, 4), (1, 5)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn.add_primary_key(t, pk("t")).unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(3) is duplicated."));
    drop(txn);

    // The same transaction goes on using the re-keyed table: reads by the
    // new key and in its order, writes checked against it.
    let u = create_table(&db, "u", false);
    insert_rows(&db, u, &[(5, 1), (3, 2), (9, 3), (1, 5)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.add_primary_key(u, pk("u")).unwrap();
    use_rekeyed(&mut txn, u, &[1, 3, 5, 9]);
    assert_eq!(ids(rows_of(&txn, u)), [1, 3, 4, 5, 9]);
    commit(&db, txn);
    let want = vec![row(1, 5), row(3, 2), row(4, 6), row(5, 11), row(9, 3)];
    assert_eq!(snapshot_rows(&db, u), want);
    db.checkpoint("time").unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, u), want);
}

#[test]
fn add_primary_key_over_rows_in_key_order() {
    // Rows already in key order, all committed: the session writes them
    // into the new range as it checks them, and the commit adopts it.
    let (dir, db) = fresh();
    let pk = |t: &str| PrimaryKey {
        name: format!("{t}_pkey"),
        columns: vec![0],
    };
    let u = create_table(&db, "u", false);
    insert_rows(&db, u, &[(1, 5), (3, 2)]);
    insert_rows(&db, u, &[(5, 1), (9, 3), (11, 0)]);

    // rolled back: the table is as it was, and keyless
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.add_primary_key(u, pk("u")).unwrap();
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(u, row(3, 7)).unwrap();
    txn.rollback();
    assert_eq!(ids(snapshot_rows(&db, u)), [1, 3, 5, 9, 11]);

    // the same transaction reads, inserts, updates and deletes by the new key
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.add_primary_key(u, pk("u")).unwrap();
    use_rekeyed(&mut txn, u, &[1, 3, 5, 9, 11]);
    txn.start_statement();
    let (key, _) = txn.get_by_pk(u, &[Value::Int4(11)]).unwrap().unwrap();
    txn.lock_row(u, &key, None).unwrap();
    txn.delete(u, &key).unwrap();
    assert_eq!(ids(rows_of(&txn, u)), [1, 3, 4, 5, 9]);
    commit(&db, txn);
    let want = vec![row(1, 5), row(3, 2), row(4, 6), row(5, 11), row(9, 3)];
    assert_eq!(snapshot_rows(&db, u), want);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn.insert(u, row(9, 0)).unwrap_err();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    drop(txn);

    // A duplicate and a NULL found on the way; nothing changes.
    let t = create_table(&db, "t", false);
    insert_rows(&db, t, &[(1, 1), (2, 2), (2, 3), (4, 4)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn.add_primary_key(t, pk("t")).unwrap_err();
    assert_eq!(err.detail.as_deref(), Some("Key (id)=(2) is duplicated."));
    drop(txn);
    let n = create_table(&db, "n", false);
    insert_rows(&db, n, &[(1, 1)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(n, vec![Value::Null, Value::Int4(2)]).unwrap();
    commit(&db, txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let err = txn.add_primary_key(n, pk("n")).unwrap_err();
    assert_eq!(err.code, SqlState::NOT_NULL_VIOLATION);
    drop(txn);
    assert_eq!(snapshot_rows(&db, t).len(), 4);

    // Another transaction commits a row between the build and the commit:
    // this commit re-keys the table as a whole instead, the row is kept.
    let w = create_table(&db, "w", false);
    insert_rows(&db, w, &[(1, 1), (2, 2)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.add_primary_key(w, pk("w")).unwrap();
    insert_rows(&db, w, &[(7, 7)]);
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, w), vec![row(1, 1), row(2, 2), row(7, 7)]);

    db.checkpoint("time").unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, u), want);
    assert_eq!(snapshot_rows(&db, w), vec![row(1, 1), row(2, 2), row(7, 7)]);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    assert_eq!(
        txn.get_by_pk(w, &[Value::Int4(7)]).unwrap().map(|(_, r)| r),
        Some(row(7, 7))
    );
}

fn sequence(oid: Oid, max: i64) -> SequenceDef {
    SequenceDef {
        oid,
        schema: "public".into(),
        name: "s".into(),
        data_type: DataType::Int8,
        start: 1,
        increment: 1,
        min_value: 1,
        max_value: max,
        cache: 1,
        cycle: false,
        owned_by: None,
    }
}

#[test]
fn sequences_survive_crash_and_shutdown() {
    let (dir, db) = fresh();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let s = txn.allocate_oid();
    txn.put_sequence(sequence(s, 1000)).unwrap();
    assert_eq!(
        txn.nextval(s).unwrap(),
        1,
        "usable by the creating transaction"
    );
    commit(&db, txn);
    assert_eq!(db.nextval(s).unwrap(), 2);
    assert_eq!(db.nextval(s).unwrap(), 3);
    // Something flushed after the sequence record makes it durable.
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1)]);
    drop(db);
    let db = open(dir.path());
    assert_eq!(
        db.nextval(s).unwrap(),
        34,
        "resumes after the 32 logged ahead"
    );
    db.setval(s, 500, true).unwrap();
    db.shutdown().unwrap();
    assert_eq!(db.control_file().state, DbState::ShutDown);
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.control_file().state, DbState::InProduction);
    assert_eq!(db.nextval(s).unwrap(), 501);
    db.setval(s, 1000, true).unwrap();
    let err = db.nextval(s).unwrap_err();
    assert_eq!(
        err.message,
        "nextval: reached maximum value of sequence \"s\" (1000)"
    );
}

#[test]
fn a_redefined_sequence_never_repeats_a_value_after_a_crash() {
    let (dir, db) = fresh();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let s = txn.allocate_oid();
    txn.put_sequence(sequence(s, i64::MAX)).unwrap();
    commit(&db, txn);
    assert_eq!(db.nextval(s).unwrap(), 1, "logs 32 steps of 1 ahead");
    // ALTER SEQUENCE ... INCREMENT 100: what was logged ahead counted
    // steps of 1, so the next nextval must log again
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.put_sequence(SequenceDef {
        increment: 100,
        ..sequence(s, i64::MAX)
    })
    .unwrap();
    commit(&db, txn);
    assert_eq!(db.nextval(s).unwrap(), 101);
    assert_eq!(db.nextval(s).unwrap(), 201);
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 1)]);
    drop(db);
    let db = open(dir.path());
    let next = db.nextval(s).unwrap();
    assert!(next > 201, "no value handed out twice: {next}");
    assert_eq!((next - 1) % 100, 0, "still steps of 100: {next}");
}

#[test]
fn checkpoint_removes_old_wal_segments() {
    let (dir, db) = fresh();
    let t = create_table(&db, "t", true);
    // About 3 MB of WAL with 1 MB segments: 3000 rows, updated 10 times.
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    for id in 0..3000 {
        txn.insert(t, row(id, id)).unwrap();
    }
    commit(&db, txn);
    for _ in 0..10 {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        for id in 0..3000 {
            increment(&mut txn, t, id, 1).unwrap();
        }
        commit(&db, txn);
    }
    assert!(db.wal_since_checkpoint() > 0);
    let segments_before = db.wal().segments().unwrap().len();
    let stats = db.checkpoint("wal").unwrap();
    let segments_after = db.wal().segments().unwrap().len();
    assert!(
        segments_before >= 2,
        "enough WAL for several segments ({segments_before})"
    );
    assert_eq!(stats.segments_removed, segments_before - segments_after);
    assert!(stats.segments_removed >= 1);
    drop(db);
    let db = open(dir.path());
    assert_eq!(snapshot_rows(&db, t).len(), 3000);
    assert_eq!(snapshot_rows(&db, t)[10], row(10, 20));
    let _ = dir;
}
