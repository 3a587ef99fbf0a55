//! Multi-version concurrency control: snapshots, the visibility rule, and
//! transactions ([`txn`], their per-table write sets in `overlay`, the records
//! of bulk loads waiting for their commit in [`spill`]).
//!
//! A snapshot is one LSN. Commits append their WAL (changes, then the COMMIT
//! record, contiguously) and apply their changes to the heap under one commit
//! mutex, in LSN order, then advance `applied_lsn` to the COMMIT record's end. A
//! version created by a commit is stamped with that end LSN, so a snapshot `S`
//! sees exactly the commits that ended at or before `S`.
//!
//! ```text
//!  snapshot = min(applied_lsn, max(wal.flush_lsn(), own_last_commit, shown_before_flush))
//! ```
//! - `applied_lsn` bounds it: nothing beyond is in the heap yet.
//! - `flush_lsn` keeps other sessions' commits invisible until they are durable
//!   (PostgreSQL likewise makes a synchronous commit visible only after its flush):
//!   nobody reads data that a crash could take back.
//! - `own_last_commit` (per session thread) lets a `synchronous_commit = off`
//!   session read its own writes before the walwriter flushes them.
//! - `shown_before_flush` makes asynchronous commits visible to everyone at
//!   once, before their flush, as PostgreSQL shows a `synchronous_commit = off`
//!   commit at once ([`Database::show_before_flush`]; the subscription apply
//!   worker uses it). A snapshot is one LSN, so every commit before such a
//!   commit in the WAL is shown with it, durable or not: a crash can take
//!   back what a reader saw, as with any asynchronous commit.
//!
//! The [`SnapshotRegistry`] records every live snapshot; the oldest is the GC
//! horizon (no version deleted after it may be pruned). Taking a snapshot and
//! computing the horizon both happen under the registry mutex, so a snapshot being
//! taken can never fall below a horizon that is being used for pruning.
//! PostgreSQL counterparts: `snapmgr.c`, `procarray.c` (GetSnapshotData, the xmin
//! horizon).

mod overlay;
pub mod spill;
pub mod txn;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tandem_types::Lsn;
use tandem_wal::Wal;

use crate::Database;

thread_local! {
    /// (database instance id, end LSN of this thread's last commit there)
    static OWN_COMMIT: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl Database {
    /// Shows every commit up to `end` (the end of a COMMIT record this thread
    /// appended) to new snapshots now, before it is durable: an asynchronous
    /// commit (PostgreSQL's `synchronous_commit = off`), flushed later.
    pub fn show_before_flush(&self, end: Lsn) {
        self.shown_before_flush.fetch_max(end.0, Ordering::AcqRel);
    }
}

/// Remembers the calling session thread's last commit in `db`.
pub(crate) fn note_own_commit(db: &Database, lsn: Lsn) {
    OWN_COMMIT.with(|c| c.set((db.id, lsn.0)));
}

fn own_commit(db: &Database) -> Lsn {
    OWN_COMMIT.with(|c| {
        let (id, lsn) = c.get();
        if id == db.id {
            Lsn(lsn)
        } else {
            Lsn::INVALID
        }
    })
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    active: HashMap<u64, Lsn>,
}

/// Live snapshots (transactions, checkpoints).
#[derive(Default)]
pub struct SnapshotRegistry {
    inner: Mutex<Registry>,
}

fn visible_point(db: &Database) -> Lsn {
    let applied = Lsn(db.applied_lsn.load(Ordering::Acquire));
    let flush = db.wal.flush_lsn();
    let shown = Lsn(db.shown_before_flush.load(Ordering::Acquire));
    applied.min(flush.max(own_commit(db)).max(shown))
}

impl SnapshotRegistry {
    /// Takes a fresh snapshot, registering it under `id` (re-using the id of a
    /// READ COMMITTED transaction's previous statement).
    pub fn take(&self, db: &Database, id: Option<u64>) -> (u64, Lsn) {
        let mut reg = self.inner.lock();
        let lsn = visible_point(db);
        let id = id.unwrap_or_else(|| {
            reg.next_id += 1;
            reg.next_id
        });
        reg.active.insert(id, lsn);
        (id, lsn)
    }

    /// Registers a snapshot at a known LSN (checkpoints).
    pub fn register(&self, lsn: Lsn) -> u64 {
        let mut reg = self.inner.lock();
        reg.next_id += 1;
        let id = reg.next_id;
        reg.active.insert(id, lsn);
        id
    }

    /// Moves snapshot `id` to `lsn` (a transaction adopting a given
    /// snapshot, `Transaction::set_snapshot`).
    pub(crate) fn set(&self, id: u64, lsn: Lsn) {
        self.inner.lock().active.insert(id, lsn);
    }

    pub fn release(&self, id: u64) {
        self.inner.lock().active.remove(&id);
    }

    /// The GC horizon: no live or future snapshot is older than this.
    pub fn horizon(&self, db: &Database) -> Lsn {
        self.horizon_with(&db.applied_lsn, &db.wal)
    }

    /// [`SnapshotRegistry::horizon`] from the database's applied LSN and WAL
    /// (for the applier, which has them but not the database). Taken later
    /// it is never lower: a snapshot taken since is at least what it was.
    pub(crate) fn horizon_with(&self, applied: &AtomicU64, wal: &Wal) -> Lsn {
        let reg = self.inner.lock();
        let now = Lsn(applied.load(Ordering::Acquire)).min(wal.flush_lsn());
        reg.active.values().copied().fold(now, Lsn::min)
    }

    /// The oldest live snapshot, if any.
    pub fn oldest(&self) -> Option<Lsn> {
        self.inner.lock().active.values().copied().min()
    }
}
