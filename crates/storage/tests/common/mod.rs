//! Helpers shared by the storage scenario tests: a fresh data directory, tables,
//! synchronous commits.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use tandem_storage::{
    BootstrapOptions, ColumnDef, Database, IsolationLevel, OpenOptions, PrimaryKey,
    ReplicaIdentity, TableDef, Transaction,
};
use tandem_types::{DataType, Lsn, Oid, PgResult, Value};

pub fn bootstrap(dir: &Path) {
    Database::bootstrap(
        dir,
        BootstrapOptions {
            superuser: "postgres".into(),
            password_verifier: None,
            wal_segment_size: 1 << 20,
        },
    )
    .unwrap();
}

pub fn open(dir: &Path) -> Arc<Database> {
    Database::open(dir, OpenOptions::new(false)).unwrap()
}

pub fn fresh() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    bootstrap(dir.path());
    let db = open(dir.path());
    (dir, db)
}

pub fn col(name: &str, data_type: DataType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type,
        not_null: false,
        default: None,
        dropped: false,
    }
}

/// `CREATE TABLE name (id int4 PRIMARY KEY?, v int4)`.
pub fn create_table(db: &Arc<Database>, name: &str, with_pk: bool) -> Oid {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let oid = txn.allocate_oid();
    let mut id = col("id", DataType::Int4);
    id.not_null = with_pk;
    txn.put_table(
        TableDef {
            oid,
            schema: "public".into(),
            name: name.into(),
            columns: vec![id, col("v", DataType::Int4)],
            primary_key: with_pk.then(|| PrimaryKey {
                name: format!("{name}_pkey"),
                columns: vec![0],
            }),
            replica_identity: ReplicaIdentity::Default,
            owner: Oid(10),
        },
        None,
    )
    .unwrap();
    commit(db, txn);
    oid
}

/// Commits and waits for the flush (synchronous_commit = on).
pub fn commit(db: &Arc<Database>, txn: Transaction) -> Option<Lsn> {
    let end = txn.commit().unwrap();
    if let Some(end) = end {
        db.wal().flush(end).unwrap();
    }
    end
}

pub fn row(id: i32, v: i32) -> Vec<Value> {
    vec![Value::Int4(id), Value::Int4(v)]
}

pub fn insert_rows(db: &Arc<Database>, table: Oid, rows: &[(i32, i32)]) {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    txn.start_statement();
    for (id, v) in rows {
        txn.insert(table, row(*id, *v)).unwrap();
    }
    commit(db, txn);
}

/// All visible rows of `table` as (id, v) pairs (NULL as -1).
pub fn rows_of(txn: &Transaction, table: Oid) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    txn.scan(table, &mut |_, r| {
        out.push(r.to_vec());
        Ok(true)
    })
    .unwrap();
    out
}

pub fn snapshot_rows(db: &Arc<Database>, table: Oid) -> Vec<Vec<Value>> {
    let mut txn = db.begin(IsolationLevel::ReadCommitted, true);
    txn.start_statement();
    rows_of(&txn, table)
}

pub fn int(v: &Value) -> i32 {
    match v {
        Value::Int4(i) => *i,
        other => panic!("not an int4: {other:?}"),
    }
}

/// `UPDATE table SET v = v + delta WHERE id = id` in READ COMMITTED, as the
/// executor does it: read, lock (re-read if updated), write.
pub fn increment(txn: &mut Transaction, table: Oid, id: i32, delta: i32) -> PgResult<bool> {
    txn.start_statement();
    let Some((key, current)) = txn.get_by_pk(table, &[Value::Int4(id)])? else {
        return Ok(false);
    };
    let current = match txn.lock_row(table, &key, None)? {
        tandem_storage::LockResult::Unchanged => current,
        tandem_storage::LockResult::Updated(_, latest) => latest,
        tandem_storage::LockResult::Deleted => return Ok(false),
    };
    txn.update(table, &key, row(id, int(&current[1]) + delta))?;
    Ok(true)
}
