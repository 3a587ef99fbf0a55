//! Concurrent writers: no lost updates, deadlock detection, cancellation.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandem_storage::IsolationLevel;
use tandem_types::{SqlState, Value};

#[test]
fn eight_threads_incrementing_one_row_never_lose_an_update() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "counter", true);
    insert_rows(&db, t, &[(1, 0)]);
    const THREADS: i32 = 8;
    const EACH: i32 = 100;
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let db = db.clone();
            std::thread::spawn(move || {
                for n in 0..EACH {
                    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
                    assert!(increment(&mut txn, t, 1, 1).unwrap());
                    // Mix synchronous and asynchronous commits.
                    if (i + n) % 2 == 0 {
                        commit(&db, txn);
                    } else {
                        txn.commit().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    db.wal().flush(db.wal().insert_lsn()).unwrap();
    assert_eq!(snapshot_rows(&db, t), vec![row(1, THREADS * EACH)]);
    assert_eq!(db.locks_held(), 0);
    // versions older than the flushed horizon go at the next update of the
    // row (while the threads ran, a slow flush may have kept more of them),
    // once the store has the others: a slow applier may otherwise write the
    // update in one batch with older commits, under their older horizon
    db.wait_for_store(db.applied_lsn()).unwrap();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    assert!(increment(&mut txn, t, 1, 1).unwrap());
    commit(&db, txn);
    assert_eq!(snapshot_rows(&db, t), vec![row(1, THREADS * EACH + 1)]);
    // in the table store, once it has every commit; the recent heap then
    // holds nothing of the table
    db.wait_for_store(db.applied_lsn()).unwrap();
    assert_eq!(db.recent_stats(t).map_or(0, |(_, versions)| versions), 0);
    let key = tandem_storage::keycode::encode_key(&[Value::Int4(1)]);
    let versions = db.table_store().unwrap().versions(t, &key).unwrap();
    assert!(
        versions < 20,
        "old versions are pruned as the row is updated ({versions} kept)"
    );
}

#[test]
fn ddl_transactions_are_serialized() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    let mut first = db.begin(IsolationLevel::ReadCommitted, false);
    let mut def = (**first.catalog().tables.get(&t).unwrap()).clone();
    def.name = "renamed".into();
    first.put_table(def, None).unwrap();
    let db2 = db.clone();
    let second = std::thread::spawn(move || {
        let mut txn = db2.begin(IsolationLevel::ReadCommitted, false);
        txn.drop_table(t).unwrap();
        // It started from the catalog the first DDL transaction committed.
        assert!(txn.catalog().table_by_name("public", "renamed").is_none());
        commit(&db2, txn);
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !second.is_finished(),
        "the second DDL transaction waits for the DDL lock"
    );
    commit(&db, first);
    second.join().unwrap();
    assert!(db.catalog().tables.is_empty());
}

#[test]
fn database_and_transaction_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<tandem_storage::Database>();
    assert_send::<tandem_storage::Transaction>();
}

#[test]
fn deadlock_is_detected_and_the_survivor_proceeds() {
    let (_dir, db) = fresh();
    db.set_deadlock_timeout(Duration::from_millis(200));
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 0), (2, 0)]);
    let mut a = db.begin(IsolationLevel::ReadCommitted, false);
    a.set_pid(1001);
    assert!(increment(&mut a, t, 1, 1).unwrap());
    let db2 = db.clone();
    let b = std::thread::spawn(move || {
        let mut b = db2.begin(IsolationLevel::ReadCommitted, false);
        b.set_pid(1002);
        increment(&mut b, t, 2, 1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let r = increment(&mut b, t, 1, 1);
        // A victim's error aborts its transaction at once (releasing its locks).
        let b = if r.is_ok() { Some(b) } else { None };
        (r, b)
    });
    std::thread::sleep(Duration::from_millis(20));
    let ra = increment(&mut a, t, 2, 1);
    // A victim's error aborts its transaction at once (releasing its locks).
    let a = ra.is_ok().then_some(a);
    let (rb, b) = b.join().unwrap();
    // Exactly one of them is the victim (the first to check after the timeout).
    let victim = match (ra, rb) {
        (Err(e), Ok(_)) => {
            commit(&db, b.unwrap());
            e
        }
        (Ok(_), Err(e)) => {
            commit(&db, a.unwrap());
            e
        }
        other => panic!("expected one deadlock victim, got {other:?}"),
    };
    assert_eq!(victim.code, SqlState::T_R_DEADLOCK_DETECTED);
    assert_eq!(victim.message, "deadlock detected");
    let detail = victim.detail.unwrap();
    assert!(
        detail.contains("Process 1001 waits for ShareLock on transaction"),
        "{detail}"
    );
    assert!(
        detail.contains("Process 1002 waits for ShareLock on transaction"),
        "{detail}"
    );
    assert_eq!(detail.lines().count(), 2);
    assert_eq!(
        victim.hint.as_deref(),
        Some("See server log for query details.")
    );
    let total: i32 = snapshot_rows(&db, t).iter().map(|r| int(&r[1])).sum();
    assert_eq!(total, 2, "the survivor's two increments committed");
}

#[test]
fn a_lock_wait_ends_on_cancel() {
    let (_dir, db) = fresh();
    let t = create_table(&db, "t", true);
    insert_rows(&db, t, &[(1, 0)]);
    let mut holder = db.begin(IsolationLevel::ReadCommitted, false);
    increment(&mut holder, t, 1, 1).unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    let db2 = db.clone();
    let f2 = flag.clone();
    let waiter = std::thread::spawn(move || {
        let mut txn = db2.begin(IsolationLevel::ReadCommitted, false);
        txn.set_cancel_flag(f2);
        increment(&mut txn, t, 1, 1)
    });
    std::thread::sleep(Duration::from_millis(100));
    flag.store(true, std::sync::atomic::Ordering::Relaxed);
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.code, SqlState::QUERY_CANCELED);
    assert_eq!(err.message, "canceling statement due to user request");
    commit(&db, holder);
    assert_eq!(
        snapshot_rows(&db, t),
        vec![vec![Value::Int4(1), Value::Int4(1)]]
    );
}
