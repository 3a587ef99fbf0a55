//! Replication origins (PostgreSQL's `replication/logical/origin.c`): named
//! sources of changes (`pg_replication_origin`: roident u16 -> roname) and each
//! origin's progress (`pg_replication_origin_status`: the remote LSN up to which
//! changes from it were committed here, and the local commit's end LSN).
//!
//! Names live in the catalog ([`crate::Catalog::origins`], WAL-logged as
//! `CatalogOp::PutOrigin` / `DropOrigin` and committed with their transaction:
//! [`crate::Transaction::create_origin`], [`crate::Transaction::drop_origin`]).
//! Progress moves only with a COMMIT record that carries a
//! [`crate::CommitOrigin`] (the apply worker sets it with
//! `Transaction::set_origin`), so applying a remote transaction and recording
//! that it was applied are one atomic, durable step: that is what makes
//! subscription apply exactly-once across crashes.
//!
//! The progress map is updated under the commit mutex when such a COMMIT is
//! applied (live commit path and redo alike, so standbys follow too), and a
//! checkpoint image carries the map as of its redo point. Rules, as
//! PostgreSQL's `replorigin_advance` on commit: `remote_lsn` is set (not
//! maxed) to the commit's remote LSN; `local_lsn` becomes the COMMIT's end LSN
//! when the transaction changed something. A commit without changes
//! ([`Database::advance_origin`], `pg_replication_origin_advance`) leaves
//! `local_lsn` as it was (0/0 for a fresh origin), as PostgreSQL's advance
//! passes no local LSN. Dropping an origin forgets its progress.

use std::collections::BTreeMap;

use tandem_types::{Lsn, PgError, PgResult, PgTimestamp, SqlState};

use crate::record::{self, CommitOrigin, CommitRecord};
use crate::Database;

/// One origin's progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginProgress {
    /// End LSN (on the origin's node) of the last remote transaction committed here.
    pub remote_lsn: Lsn,
    /// End LSN of the local COMMIT record that applied it.
    pub local_lsn: Lsn,
}

/// The progress of every origin that has any, by roident.
pub(crate) type ProgressMap = BTreeMap<u16, OriginProgress>;

/// `replication origin "x" does not exist` (42704).
pub fn undefined_origin(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("replication origin \"{name}\" does not exist"),
    )
}

/// `replication origin with ID N does not exist` (42704).
pub fn undefined_origin_id(id: u16) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("replication origin with ID {id} does not exist"),
    )
}

/// Records a COMMIT carrying `origin` that ended at `end`; `had_changes` says
/// whether the transaction changed anything (see the module comment).
pub(crate) fn note_commit(
    map: &mut ProgressMap,
    origin: &CommitOrigin,
    end: Lsn,
    had_changes: bool,
) {
    let p = map.entry(origin.origin).or_insert(OriginProgress {
        remote_lsn: Lsn::INVALID,
        local_lsn: Lsn::INVALID,
    });
    p.remote_lsn = origin.remote_lsn;
    if had_changes {
        p.local_lsn = end;
    }
}

impl Database {
    /// Progress of origin `id`, or `None` if nothing was committed with it yet.
    pub fn origin_progress(&self, id: u16) -> Option<OriginProgress> {
        self.origin_progress.lock().get(&id).copied()
    }

    /// Every origin with progress, by id (`pg_replication_origin_status`).
    pub fn origin_progress_all(&self) -> Vec<(u16, OriginProgress)> {
        self.origin_progress
            .lock()
            .iter()
            .map(|(id, p)| (*id, *p))
            .collect()
    }

    /// `pg_replication_origin_advance`: moves origin `id` to `remote_lsn`
    /// (backwards too, as PostgreSQL's advance does) by committing a
    /// transaction with an xid, no changes and a [`CommitOrigin`], so the move
    /// is WAL-logged and replayed like any commit. Returns the COMMIT's end
    /// LSN (not flushed: the caller waits for `Wal::flush` as it wishes).
    /// Errors: `42704 replication origin with ID N does not exist`; on a
    /// standby `25006 cannot manipulate replication origins during
    /// recovery`.
    pub fn advance_origin(&self, id: u16, remote_lsn: Lsn) -> PgResult<Lsn> {
        if self.in_recovery() {
            return Err(PgError::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot manipulate replication origins during recovery",
            ));
        }
        if !self.catalog().origins.contains_key(&id) {
            return Err(undefined_origin_id(id));
        }
        let xid = self.allocate_xid();
        let origin = CommitOrigin {
            origin: id,
            remote_lsn,
            remote_time: 0,
        };
        let rec = record::commit_record(
            &CommitRecord {
                commit_time: PgTimestamp::now().as_micros(),
                origin: Some(origin),
            },
            xid,
        );
        let end = self.commit_changes(
            Vec::new(),
            vec![rec],
            None,
            Some(origin),
            &crate::database::CommitChecks::default(),
        )?;
        crate::mvcc::note_own_commit(self, end);
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use tandem_types::{DataType, Oid, Value};

    use super::*;
    use crate::{
        BootstrapOptions, ColumnDef, IsolationLevel, OpenOptions, ReplicaIdentity, TableDef,
    };

    fn open(dir: &Path) -> Arc<Database> {
        Database::open(dir, OpenOptions::new(false)).unwrap()
    }

    fn fresh() -> (tempfile::TempDir, Arc<Database>) {
        let dir = tempfile::tempdir().unwrap();
        Database::bootstrap(
            dir.path(),
            BootstrapOptions {
                superuser: "postgres".into(),
                password_verifier: None,
                wal_segment_size: 1 << 20,
            },
        )
        .unwrap();
        let db = open(dir.path());
        (dir, db)
    }

    fn commit(db: &Arc<Database>, txn: crate::Transaction) -> Lsn {
        let end = txn.commit().unwrap().unwrap();
        db.wal().flush(end).unwrap();
        end
    }

    fn create_table(db: &Arc<Database>) -> Oid {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        let oid = txn.allocate_oid();
        txn.put_table(
            TableDef {
                oid,
                schema: "public".into(),
                name: "t".into(),
                columns: vec![ColumnDef {
                    name: "v".into(),
                    data_type: DataType::Int4,
                    not_null: false,
                    default: None,
                    dropped: false,
                }],
                primary_key: None,
                replica_identity: ReplicaIdentity::Default,
                owner: Oid(10),
            },
            None,
        )
        .unwrap();
        commit(db, txn);
        oid
    }

    /// Inserts a row in a transaction committed with origin `id` at `remote`.
    fn apply_remote(db: &Arc<Database>, table: Oid, id: u16, remote: u64) -> Lsn {
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.insert(table, vec![Value::Int4(remote as i32)]).unwrap();
        txn.set_origin(Some(CommitOrigin {
            origin: id,
            remote_lsn: Lsn(remote),
            remote_time: 1,
        }));
        commit(db, txn)
    }

    fn progress(remote: u64, local: Lsn) -> Option<OriginProgress> {
        Some(OriginProgress {
            remote_lsn: Lsn(remote),
            local_lsn: local,
        })
    }

    fn names(db: &Database) -> Vec<(u16, String)> {
        db.catalog()
            .origins
            .iter()
            .map(|(i, n)| (*i, n.clone()))
            .collect()
    }

    #[test]
    fn create_allocates_lowest_free_id_and_rejects_duplicates() {
        let (_dir, db) = fresh();
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        assert_eq!(txn.create_origin("a").unwrap(), 1);
        assert_eq!(txn.create_origin("b").unwrap(), 2);
        let e = txn.create_origin("a").unwrap_err();
        assert_eq!(e.code, SqlState::UNIQUE_VIOLATION);
        assert_eq!(
            e.message,
            "duplicate key value violates unique constraint \"pg_replication_origin_roname_index\""
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("Key (roname)=(a) already exists.")
        );
        // not visible to others before commit
        assert!(db.catalog().origins.is_empty());
        txn.commit().unwrap();
        assert_eq!(db.catalog().origin_id("b"), Some(2));
        // rolled back: nothing
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        assert_eq!(txn.create_origin("c").unwrap(), 3);
        txn.rollback();
        assert_eq!(db.catalog().origin_id("c"), None);
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.drop_origin(1).unwrap();
        assert_eq!(
            txn.drop_origin(9).unwrap_err().message,
            "replication origin with ID 9 does not exist"
        );
        commit(&db, txn);
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        assert_eq!(txn.create_origin("c").unwrap(), 1);
        commit(&db, txn);
        assert_eq!(names(&db), vec![(1, "c".into()), (2, "b".into())]);
    }

    #[test]
    fn progress_moves_with_commits_and_survives_crash_recovery() {
        let (dir, db) = fresh();
        let table = create_table(&db);
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        let a = txn.create_origin("a").unwrap();
        let b = txn.create_origin("b").unwrap();
        commit(&db, txn);
        assert_eq!(db.origin_progress(a), None);
        let end1 = apply_remote(&db, table, a, 0x5000);
        assert_eq!(db.origin_progress(a), progress(0x5000, end1));
        // set on commit, not maxed
        let end2 = apply_remote(&db, table, a, 0x4000);
        assert_eq!(db.origin_progress(a), progress(0x4000, end2));
        // advance: WAL-logged empty commit; local_lsn stays (0/0 when fresh)
        let adv = db.advance_origin(b, Lsn(0x7000)).unwrap();
        assert!(adv > end2);
        db.wal().flush(adv).unwrap();
        assert_eq!(db.origin_progress(b), progress(0x7000, Lsn::INVALID));
        assert_eq!(
            db.advance_origin(42, Lsn(1)).unwrap_err().message,
            "replication origin with ID 42 does not exist"
        );
        let before = db.origin_progress_all();
        assert_eq!(before.len(), 2);
        drop(db);
        let db = open(dir.path());
        assert_eq!(db.origin_progress_all(), before);
        assert_eq!(names(&db), vec![(1, "a".into()), (2, "b".into())]);
    }

    #[test]
    fn progress_survives_checkpoint_and_drop_forgets_it() {
        let (dir, db) = fresh();
        let table = create_table(&db);
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        let a = txn.create_origin("a").unwrap();
        let b = txn.create_origin("b").unwrap();
        commit(&db, txn);
        let end_a = apply_remote(&db, table, a, 0x5000);
        let end_b = apply_remote(&db, table, b, 0x6000);
        let stats = db.checkpoint("immediate force wait").unwrap();
        assert!(stats.redo_lsn >= end_b);
        // the image holds the progress as of its redo point
        let img = crate::checkpoint::load_image(dir.path()).unwrap();
        assert_eq!(
            img.origins,
            vec![
                (a, progress(0x5000, end_a).unwrap()),
                (b, progress(0x6000, end_b).unwrap())
            ]
        );
        drop(db);
        let db = open(dir.path());
        assert_eq!(db.origin_progress(a), progress(0x5000, end_a));
        assert_eq!(db.origin_progress(b), progress(0x6000, end_b));
        // drop forgets the progress, live and after restart
        let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
        txn.drop_origin(b).unwrap();
        commit(&db, txn);
        assert_eq!(db.origin_progress(b), None);
        assert_eq!(db.origin_progress_all().len(), 1);
        // a commit naming a dropped origin moves nothing
        apply_remote(&db, table, b, 0x9000);
        assert_eq!(db.origin_progress(b), None);
        db.shutdown().unwrap();
        drop(db);
        let db = open(dir.path());
        assert_eq!(db.origin_progress(b), None);
        assert_eq!(db.origin_progress(a), progress(0x5000, end_a));
        assert_eq!(names(&db), vec![(1, "a".into())]);
    }
}
