//! Foreign keys in the storage layer: the checks a statement's writes queue,
//! the ON DELETE actions, two concurrent writers of both sides (one always
//! waits for the other and then sees its commit), the checks surviving
//! crash recovery, and the apply worker writing with the checks off.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use tandem_storage::{
    ConstraintDef, ConstraintKind, Database, FkAction, ForeignKey, IsolationLevel, LockResult,
    Transaction,
};
use tandem_types::{Oid, PgResult, SqlState, Value};

/// `ALTER TABLE child ADD FOREIGN KEY (v) REFERENCES parent ON DELETE action`.
fn add_fk(db: &Arc<Database>, child: Oid, parent: Oid, on_delete: FkAction) -> PgResult<Oid> {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    let oid = txn.allocate_oid();
    txn.add_foreign_key(ConstraintDef {
        oid,
        name: "child_v_fkey".into(),
        table: child,
        kind: ConstraintKind::ForeignKey(ForeignKey {
            columns: vec![1],
            ref_table: parent,
            ref_columns: vec![0],
            ref_index: None,
            on_update: FkAction::NoAction,
            on_delete,
            match_full: false,
        }),
    })?;
    commit(db, txn);
    Ok(oid)
}

fn statement_insert(txn: &mut Transaction, table: Oid, id: i32, v: i32) -> PgResult<()> {
    txn.start_statement();
    txn.insert(table, row(id, v))?;
    txn.finish_statement()
}

fn statement_delete(txn: &mut Transaction, table: Oid, id: i32) -> PgResult<()> {
    txn.start_statement();
    let Some((key, seen)) = txn.get_by_pk(table, &[Value::Int4(id)])? else {
        return Ok(());
    };
    match txn.lock_row(table, &key, Some(&seen))? {
        LockResult::Deleted => return Ok(()),
        LockResult::Unchanged | LockResult::Updated(..) => txn.delete(table, &key)?,
    }
    txn.finish_statement()
}

fn setup() -> (tempfile::TempDir, Arc<Database>, Oid, Oid) {
    let (dir, db) = fresh();
    let parent = create_table(&db, "parent", true);
    let child = create_table(&db, "child", true);
    insert_rows(&db, parent, &[(1, 0), (2, 0)]);
    (dir, db, parent, child)
}

fn ids(db: &Arc<Database>, table: Oid) -> Vec<i32> {
    snapshot_rows(db, table)
        .iter()
        .map(|r| int(&r[0]))
        .collect()
}

#[test]
fn references_are_checked_at_the_end_of_the_statement() {
    let (_dir, db, parent, child) = setup();
    insert_rows(&db, child, &[(10, 1)]);
    // existing rows are checked when the key is added
    let fk = add_fk(&db, child, parent, FkAction::NoAction).unwrap();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let err = statement_insert(&mut txn, child, 11, 7).unwrap_err();
    assert_eq!(err.code, SqlState::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        err.detail.as_deref(),
        Some("Key (v)=(7) is not present in table \"parent\".")
    );
    drop(txn);
    // a referencing row before its referenced one, in one statement
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(child, row(12, 3)).unwrap();
    txn.insert(parent, row(3, 0)).unwrap();
    txn.finish_statement().unwrap();
    commit(&db, txn);
    // a referenced row still referenced
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let err = statement_delete(&mut txn, parent, 1).unwrap_err();
    assert_eq!(
        err.message,
        "update or delete on table \"parent\" violates foreign key constraint \"child_v_fkey\" on table \"child\""
    );
    assert_eq!(
        err.detail.as_deref(),
        Some("Key (id)=(1) is still referenced from table \"child\".")
    );
    drop(txn);
    // a check left unrun fails the commit
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.insert(child, row(13, 9)).unwrap();
    assert_eq!(
        txn.commit().unwrap_err().code,
        SqlState::FOREIGN_KEY_VIOLATION
    );
    assert_eq!(ids(&db, child), vec![10, 12]);
    // rows that break the key keep it from being added
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    txn.drop_constraint(fk).unwrap();
    commit(&db, txn);
    insert_rows(&db, child, &[(14, 8)]);
    let err = add_fk(&db, child, parent, FkAction::NoAction).unwrap_err();
    assert_eq!(
        err.detail.as_deref(),
        Some("Key (v)=(8) is not present in table \"parent\".")
    );
}

#[test]
fn on_delete_cascade_goes_down_every_level() {
    let (_dir, db, parent, _) = setup();
    // a table referencing itself: each row names its boss
    let staff = create_table(&db, "staff", true);
    insert_rows(&db, staff, &[(1, 1), (2, 1), (3, 2), (4, 3), (5, 5)]);
    add_fk(&db, staff, staff, FkAction::Cascade).unwrap();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    statement_delete(&mut txn, staff, 2).unwrap();
    commit(&db, txn);
    assert_eq!(ids(&db, staff), vec![1, 5]);
    // SET NULL
    let child = create_table(&db, "kids", true);
    insert_rows(&db, child, &[(1, 1), (2, 2), (3, 1)]);
    add_fk(&db, child, parent, FkAction::SetNull).unwrap();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    statement_delete(&mut txn, parent, 1).unwrap();
    commit(&db, txn);
    let rows = snapshot_rows(&db, child);
    assert_eq!(
        rows,
        vec![
            vec![Value::Int4(1), Value::Null],
            row(2, 2),
            vec![Value::Int4(3), Value::Null]
        ]
    );
}

/// Waits until a transaction waits for a lock.
fn wait_for_waiter(db: &Arc<Database>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.lock_waiters() == 0 {
        assert!(Instant::now() < deadline, "nobody waited for a lock");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_reference_and_a_delete_of_its_key_never_both_commit() {
    let (_dir, db, parent, child) = setup();
    add_fk(&db, child, parent, FkAction::NoAction).unwrap();
    // the referencing insert first: the delete waits, then sees it
    let mut ins = db.begin(IsolationLevel::ReadCommitted, false);
    statement_insert(&mut ins, child, 10, 1).unwrap();
    let db2 = db.clone();
    let deleter = thread::spawn(move || {
        let mut del = db2.begin(IsolationLevel::ReadCommitted, false);
        statement_delete(&mut del, parent, 1)
    });
    wait_for_waiter(&db);
    commit(&db, ins);
    let err = deleter.join().unwrap().unwrap_err();
    assert_eq!(err.code, SqlState::FOREIGN_KEY_VIOLATION);
    // the delete first: the insert waits, then finds the key gone
    let mut del = db.begin(IsolationLevel::ReadCommitted, false);
    statement_delete(&mut del, parent, 2).unwrap();
    let db2 = db.clone();
    let inserter = thread::spawn(move || {
        let mut ins = db2.begin(IsolationLevel::ReadCommitted, false);
        statement_insert(&mut ins, child, 11, 2)
    });
    wait_for_waiter(&db);
    commit(&db, del);
    let err = inserter.join().unwrap().unwrap_err();
    assert_eq!(err.code, SqlState::FOREIGN_KEY_VIOLATION);
    assert_eq!(ids(&db, parent), vec![1]);
    assert_eq!(ids(&db, child), vec![10]);
    // two referencing writers do not wait for each other
    let mut a = db.begin(IsolationLevel::ReadCommitted, false);
    let mut b = db.begin(IsolationLevel::ReadCommitted, false);
    statement_insert(&mut a, child, 12, 1).unwrap();
    statement_insert(&mut b, child, 13, 1).unwrap();
    commit(&db, a);
    commit(&db, b);
    assert_eq!(ids(&db, child), vec![10, 12, 13]);
}

#[test]
fn a_writer_that_missed_a_new_foreign_key_fails_its_commit() {
    let (_dir, db, parent, child) = setup();
    let mut w = db.begin(IsolationLevel::ReadCommitted, false);
    statement_insert(&mut w, child, 10, 9).unwrap();
    add_fk(&db, child, parent, FkAction::NoAction).unwrap();
    let err = w.commit().unwrap_err();
    assert_eq!(err.code, SqlState::T_R_SERIALIZATION_FAILURE);
    assert!(ids(&db, child).is_empty());
}

#[test]
fn foreign_keys_survive_recovery_and_the_apply_worker_skips_them() {
    let (dir, db, parent, child) = setup();
    add_fk(&db, child, parent, FkAction::NoAction).unwrap();
    // once from the WAL, once from a checkpoint's catalog image
    drop(db);
    let db = open(dir.path());
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let err = statement_insert(&mut txn, child, 10, 9).unwrap_err();
    assert_eq!(err.code, SqlState::FOREIGN_KEY_VIOLATION);
    drop(txn);
    db.checkpoint("test").unwrap();
    drop(db);
    let db = open(dir.path());
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let err = statement_insert(&mut txn, child, 10, 9).unwrap_err();
    assert_eq!(err.code, SqlState::FOREIGN_KEY_VIOLATION);
    drop(txn);
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.set_foreign_key_checks(false);
    statement_insert(&mut txn, child, 10, 9).unwrap();
    commit(&db, txn);
    assert_eq!(ids(&db, child), vec![10]);
}
