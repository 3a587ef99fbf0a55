//! [`Database`]: one node's storage, shared by every session as `Arc<Database>`.
//!
//! It owns the WAL handle, the heap, the table store's applier (`applier.rs`),
//! the catalog history, the row lock manager,
//! the snapshot registry, the sequence counters, the id counters (xid, OID, hidden
//! row id) and the control file. The commit path lives here:
//!
//! ```text
//!  Transaction::commit
//!    encode records (outside any lock; a large transaction's under
//!    the mutex, a piece at a time as the WAL takes them)
//!    ┌ commit mutex ───────────────────────────────────────────────┐
//!    │ wal.append(changes.., COMMIT)  -> end LSN                   │
//!    │ heap.apply_changes(&changes, stamp = end) (recent heap)     │
//!    │ applier.enqueue(end, changes)  (to base/store once flushed) │
//!    │   TRUNCATE / ADD PRIMARY KEY / DROP TABLE: written to the   │
//!    │   store now, the table's recent versions forgotten          │
//!    │ install catalog version (DDL)                                │
//!    │ applied_lsn = end                                           │
//!    └─────────────────────────────────────────────────────────────┘
//!    release row locks, DDL lock
//!  caller: wal.flush(end) per synchronous_commit  (no fsync under the mutex)
//! ```
//! Appends and heap application happen in the same order because both are under
//! the one mutex; this is what makes "a snapshot is an LSN" sound. Sequence
//! records are appended under the same mutex (see `sequence.rs`).
//! Bootstrap and open are in `recovery.rs`, checkpoints in `checkpoint.rs`.
//! PostgreSQL counterparts: `xact.c` (RecordTransactionCommit), `postinit.c`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, Xid};
use tandem_wal::{Record, Wal};

use crate::applier::{Applier, Horizon};
use crate::catalog::{CatalogHistory, CatalogOp};
use crate::control::ControlFile;
use crate::heap::Heap;
use crate::locks::LockManager;
use crate::mvcc::SnapshotRegistry;
use crate::origin::ProgressMap;
use crate::record::{self, Change, CommitOrigin};
use crate::sequence::Sequences;
use crate::store::TableStore;
use crate::{Catalog, SequenceDef};

/// A function giving the oldest LSN some other component (slots, wal_keep_size)
/// needs kept; checkpoints never remove WAL at or after it.
pub type RetentionFloor = Box<dyn Fn() -> Option<Lsn> + Send + Sync>;

/// What startup loaded from the checkpoint image.
pub(crate) struct Loaded {
    pub catalog: Catalog,
    pub heap: Heap,
    pub sequences: Sequences,
    /// The image's redo LSN: everything before it is in the heap.
    pub applied: Lsn,
    /// Replication origin progress as of the image's redo LSN.
    pub origins: ProgressMap,
    /// `base/store`, opened (`heap` is empty: reads fall through to it).
    pub store: TableStore,
}

static NEXT_DB_ID: AtomicU64 = AtomicU64::new(1);

/// What a commit checks under the commit mutex about the tables it read
/// whole or wrote ([`Database::check_index_writes`],
/// [`Database::commit_streamed`]).
#[derive(Default)]
pub(crate) struct CommitChecks<'a> {
    /// The catalog of the commit's first row write.
    pub wrote_with: Option<&'a Arc<Catalog>>,
    /// The committed catalog under that write (without the transaction's
    /// own DDL): the column types its rows were built for.
    pub wrote_on: Option<&'a Arc<Catalog>>,
    /// The tables its CREATE INDEX read.
    pub watched: &'a [Oid],
    /// The tables whose ADD PRIMARY KEY it built in a range of its own
    /// ([`Database::start_prekey`]), with that range.
    pub prekeyed: &'a [(Oid, u32)],
}

/// The tables a change gives new storage (TRUNCATE, ADD PRIMARY KEY) or drops.
fn replaced_tables(change: &Change) -> Vec<Oid> {
    match change {
        Change::Truncate { tables, .. } => tables.clone(),
        Change::Catalog(op) => match op.as_ref() {
            CatalogOp::AddPrimaryKey { table, .. } => vec![*table],
            CatalogOp::DropTable(oid) | CatalogOp::DropIndex(oid) => vec![*oid],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A commit that must be in the table store before it is visible could not
/// be written there: the server stops, as PostgreSQL PANICs when it cannot
/// write its data files' changes; the WAL holds the commit and recovery
/// replays it.
fn table_store_failed(mut e: PgError) -> ! {
    e.severity = tandem_types::Severity::Panic;
    tandem_types::elog::emit_error(&e);
    std::process::abort()
}

/// Fills the next piece of a commit's records streamed into the WAL
/// ([`Database::commit_streamed`]), given the commit's changes; false once
/// the piece it filled is the last.
pub(crate) type FillPiece<'a> = dyn FnMut(&[Change], &mut Vec<Record>) -> PgResult<bool> + 'a;

/// One node's database. Share as `Arc<Database>`.
pub struct Database {
    /// Distinguishes instances in one process (per-thread own-commit LSN).
    pub(crate) id: u64,
    pub(crate) datadir: PathBuf,
    pub(crate) fsync: bool,
    pub(crate) wal: Arc<Wal>,
    pub(crate) commit_lock: Mutex<()>,
    pub(crate) applied_lsn: Arc<AtomicU64>,
    /// Tables whose ADD PRIMARY KEY builds the new range in its session
    /// ([`Database::start_prekey`]), each with whether a commit wrote the
    /// table since; `prekeying_count` is their number (the commit path looks
    /// at the map only when it is not zero).
    prekeying: Mutex<HashMap<Oid, bool>>,
    prekeying_count: AtomicUsize,
    /// Commits up to here are visible before they are durable (asynchronous
    /// commits that asked for it: [`Database::show_before_flush`]).
    pub(crate) shown_before_flush: AtomicU64,
    /// Signalled whenever `applied_lsn` advances (waiters: remote_apply, standbys).
    applied_cv: (Mutex<()>, Condvar),
    /// Catalog changes committed (or wake-ups requested) so far, signalled on
    /// each (waiters: the subscription launcher).
    catalog_cv: (Mutex<u64>, Condvar),
    /// Signalled when recovery ends (waiters: `pg_promote(true)`).
    recovery_end_cv: (Mutex<()>, Condvar),
    pub(crate) heap: Arc<Heap>,
    pub(crate) catalog: RwLock<CatalogHistory>,
    pub(crate) locks: LockManager,
    pub(crate) snapshots: Arc<SnapshotRegistry>,
    pub(crate) sequences: Sequences,
    pub(crate) next_xid: AtomicU32,
    pub(crate) next_oid: AtomicU32,
    pub(crate) next_rowid: AtomicU64,
    pub(crate) control: Mutex<ControlFile>,
    pub(crate) checkpoint_lock: Mutex<()>,
    pub(crate) retention_floor: RwLock<Option<RetentionFloor>>,
    /// The oldest LSN logical decoding needs the catalog for (the server's
    /// logical slots); checkpoints keep catalog history from there.
    pub(crate) catalog_floor: RwLock<Option<RetentionFloor>>,
    /// Sequences created or altered by still-open transactions, so `nextval(oid)`
    /// works inside the creating transaction (CREATE TABLE ... serial; INSERT).
    pub(crate) pending_sequences: Mutex<HashMap<Oid, Arc<SequenceDef>>>,
    deadlock_timeout_ms: AtomicU64,
    bulk_spill_bytes: std::sync::atomic::AtomicUsize,
    /// A standby replaying WAL (read-only, no checkpoints, no WAL appends).
    pub(crate) in_recovery: std::sync::atomic::AtomicBool,
    /// End of the last WAL record replayed (standby).
    pub(crate) replay_lsn: AtomicU64,
    /// A standby's last replayed transaction boundary: the end of the last
    /// record after which no transaction's changes wait for their COMMIT; a
    /// restartpoint's redo LSN (`checkpoint.rs`). Moved under the commit mutex.
    pub(crate) restart_boundary: AtomicU64,
    /// Start of the record ending at `restart_boundary` (INVALID: unknown), kept
    /// by a restartpoint so that the next start knows the record before its redo.
    pub(crate) restart_boundary_record: AtomicU64,
    /// The oldest LSN from which the catalog history is exact (decoding from an
    /// older position could see a wrong table definition); raised when
    /// checkpoints and restartpoints prune the history.
    pub(crate) catalog_exact_from: AtomicU64,
    /// Commit time of the last COMMIT a standby replayed (µs since 2000-01-01;
    /// `i64::MIN`: none yet).
    pub(crate) replay_commit_time: std::sync::atomic::AtomicI64,
    /// `pg_promote()` / `tandem promote` asked a standby to end recovery.
    pub(crate) promote_requested: std::sync::atomic::AtomicBool,
    /// Replication origin progress (`origin.rs`); changed only under the
    /// commit mutex (or by the single redo thread).
    pub(crate) origin_progress: Mutex<ProgressMap>,
    /// The table store and the thread writing flushed commits into it
    /// (`applier.rs`).
    pub(crate) applier: Applier,
}

impl Drop for Database {
    fn drop(&mut self) {
        self.applier.close();
    }
}

impl Database {
    pub(crate) fn assemble(
        datadir: PathBuf,
        fsync: bool,
        wal: Arc<Wal>,
        control: ControlFile,
        state: Loaded,
    ) -> PgResult<Database> {
        let Loaded {
            catalog,
            heap,
            sequences,
            applied,
            origins,
            store,
        } = state;
        let heap = Arc::new(heap);
        let applied_lsn = Arc::new(AtomicU64::new(applied.0));
        let snapshots = Arc::new(SnapshotRegistry::default());
        let horizon = Horizon {
            snapshots: snapshots.clone(),
            applied: applied_lsn.clone(),
            wal: wal.clone(),
        };
        let applier = Applier::start(store, wal.clone(), heap.clone(), horizon)?;
        // Catalog versions older than the image that logical slots still need
        // (see `catalog_file`); an unreadable file only costs decoding history.
        let older_catalogs: Vec<(Lsn, Arc<Catalog>)> = match crate::catalog_file::load(&datadir) {
            Ok(v) => v.into_iter().filter(|(l, _)| *l <= applied).collect(),
            Err(e) => {
                tandem_types::elog::emit_error(&e);
                Vec::new()
            }
        };
        // The history is exact from the first kept version's LSN, or (with
        // none kept) from the image's redo point.
        let catalog_exact_from = older_catalogs.first().map_or(applied, |(l, _)| *l);
        Ok(Database {
            id: NEXT_DB_ID.fetch_add(1, Ordering::Relaxed),
            datadir,
            fsync,
            wal,
            commit_lock: Mutex::new(()),
            applied_lsn,
            prekeying: Mutex::new(HashMap::new()),
            prekeying_count: AtomicUsize::new(0),
            shown_before_flush: AtomicU64::new(0),
            applied_cv: (Mutex::new(()), Condvar::new()),
            catalog_cv: (Mutex::new(0), Condvar::new()),
            recovery_end_cv: (Mutex::new(()), Condvar::new()),
            heap,
            catalog: RwLock::new(CatalogHistory::with_older(
                older_catalogs,
                Arc::new(catalog),
            )),
            locks: LockManager::default(),
            snapshots,
            sequences,
            next_xid: AtomicU32::new(control.next_xid.0),
            next_oid: AtomicU32::new(control.next_oid.0),
            next_rowid: AtomicU64::new(control.next_rowid),
            control: Mutex::new(control),
            checkpoint_lock: Mutex::new(()),
            retention_floor: RwLock::new(None),
            catalog_floor: RwLock::new(None),
            pending_sequences: Mutex::new(HashMap::new()),
            deadlock_timeout_ms: AtomicU64::new(1000),
            bulk_spill_bytes: std::sync::atomic::AtomicUsize::new(
                crate::mvcc::txn::BULK_SPILL_BYTES,
            ),
            in_recovery: std::sync::atomic::AtomicBool::new(false),
            replay_lsn: AtomicU64::new(0),
            restart_boundary: AtomicU64::new(applied.0),
            restart_boundary_record: AtomicU64::new(0),
            catalog_exact_from: AtomicU64::new(catalog_exact_from.0),
            replay_commit_time: std::sync::atomic::AtomicI64::new(i64::MIN),
            promote_requested: std::sync::atomic::AtomicBool::new(false),
            origin_progress: Mutex::new(origins),
            applier,
        })
    }

    pub(crate) fn allocate_xid(&self) -> Xid {
        Xid(self.next_xid.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn allocate_oid(&self) -> Oid {
        Oid(self.next_oid.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn allocate_rowid(&self) -> u64 {
        self.next_rowid.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps a counter above a value seen in recovered WAL.
    pub(crate) fn bump_ids(&self, xid: Option<Xid>, oid: Option<Oid>, rowid: Option<u64>) {
        if let Some(x) = xid {
            self.next_xid
                .fetch_max(x.0.saturating_add(1), Ordering::Relaxed);
        }
        if let Some(o) = oid {
            self.next_oid
                .fetch_max(o.0.saturating_add(1), Ordering::Relaxed);
        }
        if let Some(r) = rowid {
            self.next_rowid
                .fetch_max(r.saturating_add(1), Ordering::Relaxed);
        }
    }

    pub(crate) fn deadlock_timeout(&self) -> Duration {
        Duration::from_millis(self.deadlock_timeout_ms.load(Ordering::Relaxed))
    }

    /// Memory of a run of inserts into a table created or truncated by its
    /// transaction above which the run moves to the table store before the
    /// commit (`OpenOptions::bulk_spill_bytes`; tests set it low).
    pub fn set_bulk_spill_bytes(&self, bytes: usize) {
        self.bulk_spill_bytes.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn bulk_spill_bytes(&self) -> usize {
        self.bulk_spill_bytes.load(Ordering::Relaxed)
    }

    /// The `deadlock_timeout` setting (default 1s).
    pub fn set_deadlock_timeout(&self, d: Duration) {
        self.deadlock_timeout_ms
            .store(d.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Installs the WAL retention hook consulted by checkpoints (replication slots,
    /// `wal_keep_size`).
    pub fn set_retention_floor(&self, f: RetentionFloor) {
        *self.retention_floor.write() = Some(f);
    }

    /// Installs the hook giving the oldest LSN logical decoding needs table
    /// definitions for (the oldest logical slot's `restart_lsn`).
    pub fn set_catalog_floor(&self, f: RetentionFloor) {
        *self.catalog_floor.write() = Some(f);
    }

    /// True while the node is a standby replaying WAL (`pg_is_in_recovery()`).
    pub fn in_recovery(&self) -> bool {
        self.in_recovery.load(Ordering::Acquire)
    }

    /// Asks a standby to promote (the startup thread acts on it); false when the
    /// node is not in recovery.
    pub fn request_promote(&self) -> bool {
        if !self.in_recovery() {
            return false;
        }
        self.promote_requested.store(true, Ordering::Release);
        // the startup thread waits for WAL: it looks at the request at once
        self.wal().wake_flush_waiters();
        true
    }

    /// Ends recovery: the node is a primary from now on; wakes
    /// [`Database::wait_recovery_end`].
    pub(crate) fn leave_recovery(&self) {
        let _g = self.recovery_end_cv.0.lock();
        self.in_recovery.store(false, Ordering::Release);
        self.recovery_end_cv.1.notify_all();
    }

    /// Waits until recovery has ended or `timeout` passed; true if it ended.
    pub fn wait_recovery_end(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut g = self.recovery_end_cv.0.lock();
        while self.in_recovery() {
            if self
                .recovery_end_cv
                .1
                .wait_until(&mut g, deadline)
                .timed_out()
            {
                return !self.in_recovery();
            }
        }
        true
    }

    /// True once a promotion was requested and not yet carried out.
    pub fn promote_requested(&self) -> bool {
        self.promote_requested.load(Ordering::Acquire)
    }

    /// End of the last WAL record a standby replayed (`pg_last_wal_replay_lsn()`).
    pub fn replay_lsn(&self) -> Lsn {
        Lsn(self.replay_lsn.load(Ordering::Acquire))
    }

    /// Commit time of the last transaction a standby replayed, µs since
    /// 2000-01-01 UTC (`pg_last_xact_replay_timestamp()`); `None` before any.
    pub fn last_replay_commit_time(&self) -> Option<i64> {
        let t = self.replay_commit_time.load(Ordering::Acquire);
        (t != i64::MIN).then_some(t)
    }

    /// End of the last COMMIT applied to the heap (every commit up to here is
    /// visible to a snapshot at this LSN once durable).
    pub fn applied_lsn(&self) -> Lsn {
        Lsn(self.applied_lsn.load(Ordering::Acquire))
    }

    /// The catalog as of `lsn` (logical decoding: definitions as of a change).
    pub fn catalog_at(&self, lsn: Lsn) -> Arc<Catalog> {
        self.catalog.read().at(lsn)
    }

    /// LSNs at which committed DDL changed the catalog.
    pub fn catalog_change_lsns(&self) -> Vec<Lsn> {
        self.catalog.read().change_lsns()
    }

    /// The oldest snapshot any transaction still reads at.
    pub fn oldest_snapshot(&self) -> Option<Lsn> {
        self.snapshots.oldest()
    }

    /// The xid the next writing transaction will get (`pg_current_xact_id()`
    /// of a new writer; a new logical slot's `catalog_xmin`).
    pub fn next_xid(&self) -> Xid {
        Xid(self.next_xid.load(Ordering::Relaxed))
    }

    /// The table store (`base/store`) while the database is open.
    pub fn table_store(&self) -> PgResult<Arc<TableStore>> {
        self.applier.store()
    }

    /// Lets the table store delete the files of ranges (tables dropped,
    /// truncated or re-keyed) that no snapshot can read any more. Each
    /// commit's batch does this with the horizon of its commit, which still
    /// counts the retiring transaction's own snapshot: without a later
    /// commit (a quiet server after a load or a DROP TABLE) the space would
    /// wait. Cheap when nothing is retired; the checkpointer calls it every
    /// second.
    pub fn release_retired_ranges(&self) {
        if let Ok(store) = self.table_store() {
            if store.has_retired_alive() {
                store.mark_dead(self.snapshots.horizon(self));
            }
        }
    }

    /// Waits until every commit ending at or before `upto` was handed to the
    /// table store (durable only at the next checkpoint).
    pub fn wait_for_store(&self, upto: Lsn) -> PgResult<()> {
        self.applier.wait_written(upto)
    }

    /// The recent heap of a table: (keys, versions) of commits the table
    /// store does not hold yet (tests, monitoring).
    pub fn recent_stats(&self, table: Oid) -> Option<(usize, usize)> {
        let t = self.heap.table(table)?;
        let t = t.read();
        Some((t.key_count(), t.versions()))
    }

    /// Number of row/DDL locks held right now (monitoring, tests).
    pub fn locks_held(&self) -> usize {
        self.locks.held_count()
    }

    /// Sequence counter: (last_value, is_called, log_cnt) for `SELECT * FROM seq`.
    pub fn sequence_state(&self, seq: Oid) -> Option<(i64, bool, i64)> {
        self.sequences
            .state(seq)
            .map(|s| (s.last_value, s.is_called, s.log_cnt))
    }

    /// Starts watching `table` for an ADD PRIMARY KEY that reads its rows at
    /// `snapshot` into a new range before committing: true if every commit
    /// so far is in that snapshot (else the range could miss rows: false, and
    /// nothing is watched). From now on a commit that writes the table marks
    /// it ([`Database::end_prekey`] tells).
    pub(crate) fn start_prekey(&self, table: Oid, snapshot: Lsn) -> bool {
        let _commit = self.commit_lock.lock();
        if self.applied_lsn() > snapshot {
            return false;
        }
        let mut m = self.prekeying.lock();
        if m.contains_key(&table) {
            return false;
        }
        m.insert(table, false);
        self.prekeying_count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Stops watching `table` ([`Database::start_prekey`]); true if a commit
    /// wrote it meanwhile. The re-keying commit asks under the commit mutex,
    /// before its own changes apply.
    pub(crate) fn end_prekey(&self, table: Oid) -> bool {
        let mut m = self.prekeying.lock();
        match m.remove(&table) {
            Some(written) => {
                self.prekeying_count.fetch_sub(1, Ordering::AcqRel);
                written
            }
            None => false,
        }
    }

    /// Marks the watched tables `changes` write (commit mutex held).
    fn mark_prekeyed(&self, changes: &[Change]) {
        if self.prekeying_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut m = self.prekeying.lock();
        for (table, written) in m.iter_mut() {
            if !*written && changes.iter().any(|c| c.touches(*table)) {
                *written = true;
            }
        }
    }

    /// Whether a commit may go in as far as secondary indexes and foreign
    /// keys go (commit
    /// mutex held, before anything is appended): `40001` when it wrote a
    /// table that has an index the catalog of its writes (`wrote_with`)
    /// did not have (its rows would be missing from it) or a constraint
    /// on it (or a foreign key to it) that catalog did not have
    /// (unchecked), or a column whose type a rewrite changed since its
    /// rows were built (`wrote_on`), or when another
    /// commit wrote a table a CREATE INDEX of it read (`watched`) since
    /// that read. PostgreSQL's CREATE INDEX locks writers out instead.
    pub(crate) fn check_index_writes(
        &self,
        changes: &[Change],
        check: &CommitChecks<'_>,
    ) -> PgResult<()> {
        let mut failed = false;
        for &table in check.watched {
            failed |= self.end_prekey(table);
        }
        if !failed {
            if let Some(wrote_with) = check.wrote_with {
                let history = self.catalog.read();
                let latest = history.latest();
                let changed = !Arc::ptr_eq(latest, wrote_with);
                if changed && !latest.constraints.is_empty() {
                    let new_constraint = |t: Oid| {
                        let mut cs = latest.constraints_of(t);
                        cs.extend(latest.foreign_keys_to(t));
                        cs.iter()
                            .any(|c| !wrote_with.constraints.contains_key(&c.oid))
                    };
                    if written_tables(changes).into_iter().any(new_constraint) {
                        return Err(PgError::new(
                            SqlState::T_R_SERIALIZATION_FAILURE,
                            "could not serialize access due to concurrent constraint creation",
                        ));
                    }
                }
                if let Some(base) = check.wrote_on.filter(|b| !Arc::ptr_eq(latest, b)) {
                    // a column type changed by a rewrite since the rows
                    // were built: they hold values of the type before
                    let retyped = |t: Oid| match (base.tables.get(&t), latest.tables.get(&t)) {
                        (Some(then), Some(now)) => then
                            .columns
                            .iter()
                            .zip(&now.columns)
                            .any(|(a, b)| !crate::catalog::reads_as(&a.data_type, &b.data_type)),
                        _ => false,
                    };
                    if written_tables(changes).into_iter().any(retyped) {
                        return Err(PgError::new(
                            SqlState::T_R_SERIALIZATION_FAILURE,
                            "could not serialize access due to concurrent update",
                        ));
                    }
                }
                if changed && !latest.indexes.is_empty() {
                    failed = written_tables(changes).iter().any(|&t| {
                        latest
                            .indexes_of(t)
                            .iter()
                            .any(|i| !wrote_with.indexes.contains_key(&i.oid))
                    });
                }
            }
        }
        match failed {
            true => Err(PgError::new(
                SqlState::T_R_SERIALIZATION_FAILURE,
                "could not serialize access due to concurrent index creation",
            )),
            false => Ok(()),
        }
    }

    /// Number of transactions waiting for a row or DDL lock now.
    pub fn lock_waiters(&self) -> usize {
        self.locks.waiter_count()
    }

    /// Appends a commit's records and applies its changes, in LSN order.
    /// `origin` is the COMMIT record's replication origin (progress moves with
    /// the commit, under the same mutex). The records are freed once appended
    /// and the changes move into the heap, so a bulk load does not hold every
    /// row's bytes in both forms at once.
    pub(crate) fn commit_changes(
        &self,
        changes: Vec<Change>,
        records: Vec<Record>,
        new_catalog: Option<Arc<Catalog>>,
        origin: Option<CommitOrigin>,
        check: &CommitChecks<'_>,
    ) -> PgResult<Lsn> {
        let _commit = self.commit_lock.lock();
        self.check_index_writes(&changes, check)?;
        let (_, end) = self.wal.append(&records)?;
        drop(records);
        self.apply_committed(changes, end, new_catalog, origin);
        Ok(end)
    }

    /// [`Database::commit_changes`] for a transaction whose records come in
    /// pieces (a bulk load's rows read back from the ranges it wrote before
    /// committing, a large transaction's records encoded as they go): `next`
    /// fills each piece, given `changes` to read from, appended under the
    /// commit mutex as one run ([`Wal::append_stream`]); the commit makes
    /// `adopts` (before
    /// which change, table, range) the tables' storage.
    ///
    /// `check.prekeyed`: the tables whose ADD PRIMARY KEY the transaction built in
    /// a range of `adopts` ([`Database::start_prekey`]); a table another
    /// commit wrote meanwhile is re-keyed by the store at this commit
    /// instead, as usual, and its range is returned to be given up.
    pub(crate) fn commit_streamed(
        &self,
        changes: Vec<Change>,
        next: &mut FillPiece<'_>,
        new_catalog: Option<Arc<Catalog>>,
        origin: Option<CommitOrigin>,
        mut adopts: Vec<(usize, Oid, u32)>,
        check: &CommitChecks<'_>,
    ) -> PgResult<(Lsn, Vec<(Oid, u32)>)> {
        let _commit = self.commit_lock.lock();
        self.check_index_writes(&changes, check)?;
        let mut dropped = Vec::new();
        for &(table, sid) in check.prekeyed {
            if self.end_prekey(table) {
                adopts.retain(|a| a.2 != sid);
                dropped.push((table, sid));
            }
        }
        let end = self.wal.append_stream(&mut |piece| next(&changes, piece))?;
        self.apply_committed_rows(changes, end, new_catalog, origin, true, adopts);
        Ok((end, dropped))
    }

    /// Applies a committed transaction's changes stamped `end` (commit path and
    /// recovery; the caller serializes), and the progress of its replication
    /// origin, if any, before it becomes visible.
    pub(crate) fn apply_committed(
        &self,
        changes: Vec<Change>,
        end: Lsn,
        new_catalog: Option<Arc<Catalog>>,
        origin: Option<CommitOrigin>,
    ) {
        self.apply_committed_rows(changes, end, new_catalog, origin, true, Vec::new())
    }

    /// [`Database::apply_committed`]; `rows` false for a replayed commit the
    /// table store already holds: only its catalog, sequence and origin
    /// effects apply. `adopts`: the bulk load ranges the commit makes its
    /// tables' storage ([`Database::commit_streamed`]).
    ///
    /// The commit's row changes go to the recent heap and then to the
    /// applier's queue (in that order, so that the applier never writes a
    /// commit before the heap has it and can forget it there). A commit that
    /// replaces a table's storage (TRUNCATE, ADD PRIMARY KEY) or drops a table
    /// is written into the table store before it becomes visible instead, and
    /// those tables' recent versions (all older) are forgotten: the store then
    /// answers for them at every snapshot, as PostgreSQL's new relfilenode does.
    pub(crate) fn apply_committed_rows(
        &self,
        changes: Vec<Change>,
        end: Lsn,
        new_catalog: Option<Arc<Catalog>>,
        origin: Option<CommitOrigin>,
        rows: bool,
        adopts: Vec<(usize, Oid, u32)>,
    ) {
        self.mark_prekeyed(&changes);
        let cat = new_catalog
            .clone()
            .unwrap_or_else(|| self.catalog.read().latest().clone());
        let replaced: Vec<Oid> = if rows {
            let adopted = adopts.iter().map(|&(_, table, _)| table);
            changes
                .iter()
                .flat_map(replaced_tables)
                .chain(adopted)
                .collect()
        } else {
            Vec::new()
        };
        for change in &changes {
            if let Change::Catalog(op) = change {
                match op.as_ref() {
                    CatalogOp::PutSequence(def) if self.sequences.state(def.oid).is_none() => {
                        self.sequences.reset(def)
                    }
                    CatalogOp::DropSequence(oid) => self.sequences.remove(*oid),
                    _ => {}
                }
            }
        }
        self.apply_origin_progress(&changes, end, &cat, origin);
        if !replaced.is_empty() {
            // the recent heap never sees this commit: the changes move to
            // the applier as they are
            let queued = self.applier.prepare(end, changes, &cat, adopts);
            self.applier.enqueue(queued);
            if let Err(e) = self.applier.wait_written(end) {
                table_store_failed(e);
            }
            for table in replaced {
                self.heap.forget_table(table);
            }
        } else if rows {
            // the recent heap takes copies of the keys (rows are shared),
            // the applier the changes themselves
            self.heap.apply_changes(&changes, end);
            let mut changes = changes;
            changes.iter_mut().for_each(Change::drop_old_tuple);
            let queued = self.applier.prepare(end, changes, &cat, Vec::new());
            self.applier.enqueue(queued);
        }
        let catalog_changed = new_catalog.is_some();
        if let Some(c) = new_catalog {
            self.catalog.write().install(end, c);
        }
        self.applied_lsn.store(end.0, Ordering::Release);
        if catalog_changed {
            self.bump_catalog_version();
        }
        let _g = self.applied_cv.0.lock();
        self.applied_cv.1.notify_all();
    }

    /// Moves the commit's origin (if it exists as of the commit) and forgets
    /// the progress of origins the transaction dropped.
    fn apply_origin_progress(
        &self,
        changes: &[Change],
        end: Lsn,
        cat: &Catalog,
        origin: Option<CommitOrigin>,
    ) {
        let dropped = changes.iter().filter_map(|c| match c {
            Change::Catalog(op) => match op.as_ref() {
                CatalogOp::DropOrigin(id) => Some(*id),
                _ => None,
            },
            _ => None,
        });
        let dropped: Vec<u16> = dropped.collect();
        if origin.is_none() && dropped.is_empty() {
            return;
        }
        let mut map = self.origin_progress.lock();
        if let Some(o) = origin.filter(|o| cat.origins.contains_key(&o.origin)) {
            crate::origin::note_commit(&mut map, &o, end, !changes.is_empty());
        }
        for id in dropped {
            map.remove(&id);
        }
    }

    /// Waits until `applied_lsn() > after` or `timeout` passes; returns it.
    /// Commits advance it in LSN order (the commit order of the node).
    pub fn wait_for_applied(&self, after: Lsn, timeout: Duration) -> Lsn {
        let deadline = Instant::now() + timeout;
        let mut g = self.applied_cv.0.lock();
        loop {
            let now = self.applied_lsn();
            if now > after || Instant::now() >= deadline {
                return now;
            }
            self.applied_cv.1.wait_until(&mut g, deadline);
        }
    }

    /// Wakes every [`Database::wait_for_applied`] waiter without a commit (a
    /// background thread asked to stop, or to look at its work again).
    pub fn notify_waiters(&self) {
        {
            let _g = self.applied_cv.0.lock();
            self.applied_cv.1.notify_all();
        }
        self.bump_catalog_version();
    }

    fn bump_catalog_version(&self) {
        let mut v = self.catalog_cv.0.lock();
        *v += 1;
        self.catalog_cv.1.notify_all();
    }

    /// A counter that moves with every committed catalog change (and every
    /// [`Database::notify_waiters`]).
    pub fn catalog_version(&self) -> u64 {
        *self.catalog_cv.0.lock()
    }

    /// Waits until [`Database::catalog_version`] differs from `seen` or
    /// `timeout` passes; returns the version.
    pub fn wait_for_catalog_change(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut v = self.catalog_cv.0.lock();
        while *v == seen && Instant::now() < deadline {
            self.catalog_cv.1.wait_until(&mut v, deadline);
        }
        *v
    }

    fn append_sequence(&self, rec: &record::SequenceRecord) -> PgResult<()> {
        if self.in_recovery() {
            return Err(PgError::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot execute nextval() in a read-only transaction",
            ));
        }
        self.wal.append(&[record::sequence_record(rec)]).map(|_| ())
    }

    /// nextval of a sequence given its definition.
    pub fn nextval_def(&self, def: &SequenceDef) -> PgResult<i64> {
        if let Some(v) = self.sequences.nextval_fast(def)? {
            return Ok(v);
        }
        let _commit = self.commit_lock.lock();
        self.sequences
            .nextval_logged(def, |rec| self.append_sequence(rec))
    }

    /// setval of a sequence given its definition.
    pub fn setval_def(&self, def: &SequenceDef, value: i64, is_called: bool) -> PgResult<i64> {
        let _commit = self.commit_lock.lock();
        self.sequences
            .setval(def, value, is_called, |rec| self.append_sequence(rec))
    }

    pub(crate) fn committed_sequence(&self, seq: Oid) -> PgResult<Arc<SequenceDef>> {
        if let Some(def) = self.catalog().sequences.get(&seq) {
            return Ok(def.clone());
        }
        self.pending_sequences
            .lock()
            .get(&seq)
            .cloned()
            .ok_or_else(|| {
                PgError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation with OID {seq} does not exist"),
                )
            })
    }
}

/// The tables whose rows `changes` write, each once.
fn written_tables(changes: &[Change]) -> Vec<Oid> {
    let mut tables: Vec<Oid> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Insert { table, .. }
            | Change::Update { table, .. }
            | Change::Delete { table, .. } => Some(*table),
            _ => None,
        })
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}
