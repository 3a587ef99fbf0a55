//! The applier: the one thread per [`Database`](crate::Database) that writes
//! committed changes into the table store (`store/`) once the WAL has flushed
//! them (`docs/storage.md` §9 "The commit path", §11 Steps 1-2).
//!
//! ```text
//!  commit mutex: apply_committed ──enqueue(end, changes)──► queue (bounded)
//!                                                          │
//!  applier thread: wait until wal.flush_lsn() >= first end ┘
//!                  take every queued commit ending at or before the flush LSN
//!                  translate them into one StoreBatch (applied_lsn = last end)
//!                  TableStore::apply
//! ```
//! It owns the store handle (so that closing the store is stopping this
//! thread and dropping the handle), the queue and its bound, and the
//! translation of [`Change`]s into store writes, and telling the recent heap
//! (`heap.rs`) which of its versions the store now holds:
//! - INSERT → put; UPDATE → delete of the old key if the key changed, put of
//!   the new one; DELETE → delete;
//! - TRUNCATE → a new, empty storage range for the table
//!   ([`StoreBatch::new_storage`]; the old range is retired whole);
//! - ADD PRIMARY KEY → the live rows re-keyed (padded to the table's width,
//!   keyed by the primary key columns) into a new range: streamed by the
//!   store from the old range ([`WriteKind::Rekey`]; a commit that re-keys
//!   ends its group, so nothing earlier in the batch writes the table), or,
//!   when the same commit writes the table too, gathered here from the store
//!   and the writes of the batch so far;
//! - DROP TABLE → the table's range retired ([`StoreBatch::drop_storage`]).
//!
//! Each group's batch prunes with the horizon taken when the group is
//! written ([`Horizon`]), not at its commits: by then the snapshots that could see a row's previous version have mostly ended, so
//! an updated row's chain goes into the store without it instead of keeping
//! it until the key's next write or a checkpoint's sweep (a third fewer
//! journal bytes per `pgbench -N` transaction: 260 against 386).
//!
//! The store never holds a commit the WAL could lose: a commit is handed to
//! it only after `Wal::flush_lsn` passed its end (waited for with
//! `Wal::wait_for_flush`, a notification). Commits that already are in the
//! store (`end <= TableStore::applied_lsn`, replayed after a crash) are
//! skipped. Backpressure: a committer waits while the queue holds more than
//! [`QUEUE_BOUND`] bytes of changes (estimated); the applier then flushes the
//! WAL itself instead of waiting for a committer or the walwriter to do it,
//! as PostgreSQL's backends write WAL themselves when its buffers are full.
//! A failed store write stops the applier; checkpoints then fail with that
//! error (the WAL still holds everything, recovery replays it).
//! PostgreSQL has no counterpart thread: its backends write heap pages into
//! shared buffers and the checkpointer writes them out (`bufmgr.c`).

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tandem_types::{Lsn, Oid, PgError, PgResult, Value};
use tandem_wal::Wal;

use crate::catalog::CatalogOp;
use crate::heap::{ChainWrite, Heap, Row};
use crate::keycode::encode_key;
use crate::mvcc::SnapshotRegistry;
use crate::record::Change;
use crate::store::{Rekey, StoreBatch, StoreWrite, TableStore, WriteKind};
use crate::{Catalog, RowKey};

/// Estimated bytes of queued changes above which committers wait.
pub const QUEUE_BOUND: usize = 64 << 20;
/// Writes after which a group of commits is closed (a single larger commit
/// is still one batch: a batch is atomic).
const GROUP_WRITES: usize = 100_000;
/// Rows read from the store per call when a table's live keys are needed.
const READ_BATCH: usize = 4096;
/// How long the applier lets commits gather before it writes them, unless
/// someone waits for them ([`Applier::wait_written`]) or they pass
/// [`GATHER_BYTES`]: one store batch per few milliseconds instead of one per
/// commit, so that a busy server spends less of its CPU, and wakes this
/// thread less often, on the store's per-batch costs (the journal write, the
/// batch's metadata). Nothing waits for the store but checkpoints and the
/// statements that replace a table's storage, which ask for it at once.
const GATHER: Duration = Duration::from_millis(5);
/// Queued bytes at which the applier stops gathering.
const GATHER_BYTES: usize = 4 << 20;

/// A commit ready to be queued ([`Applier::prepare`], [`Applier::enqueue`]).
pub(crate) struct Queued(Item);

/// One committed transaction waiting for the store.
struct Item {
    end: Lsn,
    changes: Vec<Change>,
    /// The catalog as the transaction left it (padding rows re-keyed by ADD
    /// PRIMARY KEY).
    catalog: Arc<Catalog>,
    /// Bulk load ranges the commit adopts ([`StoreBatch::adopt`]): before
    /// which change (its index; `changes.len()`: after the last), the table,
    /// the range.
    adopts: Vec<(usize, Oid, u32)>,
    bytes: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Item>,
    queued_bytes: usize,
    /// End of the first commit of the group being written, if any.
    in_flight: Option<Lsn>,
    stop: bool,
    exited: bool,
    failed: Option<PgError>,
    /// The applier waits for a first commit to be queued (an enqueue then
    /// wakes it; while it gathers, only a full gather does).
    idle: bool,
    /// Threads in [`Applier::wait_written`]: the applier stops gathering.
    waiters: usize,
}

/// Where the applier takes the GC horizon from: the database's snapshot
/// registry, applied LSN and WAL (the database itself owns the applier).
pub(crate) struct Horizon {
    pub snapshots: Arc<SnapshotRegistry>,
    pub applied: Arc<AtomicU64>,
    pub wal: Arc<Wal>,
}

impl Horizon {
    /// [`SnapshotRegistry::horizon`] now.
    fn now(&self) -> Lsn {
        self.snapshots.horizon_with(&self.applied, &self.wal)
    }
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on every state change (new item, group written, space freed,
    /// stop, failure).
    cv: Condvar,
    wal: Arc<Wal>,
    /// Store writes handed to the store since the last checkpoint took them.
    rows_written: AtomicU64,
    horizon: Horizon,
}

/// The applier thread and the store it writes (see the module header).
pub(crate) struct Applier {
    shared: Arc<Shared>,
    /// Reads through to the store while it is open.
    heap: Arc<Heap>,
    store: Mutex<Option<Arc<TableStore>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Whether a change writes to the store.
fn writes_store(c: &Change) -> bool {
    match c {
        Change::Insert { .. }
        | Change::Update { .. }
        | Change::Delete { .. }
        | Change::Truncate { .. } => true,
        Change::Catalog(op) => matches!(
            op.as_ref(),
            CatalogOp::AddPrimaryKey { .. } | CatalogOp::DropTable(_) | CatalogOp::DropIndex(_)
        ),
    }
}

fn estimate(changes: &[Change]) -> usize {
    changes.iter().map(Change::mem_size).sum()
}

fn closed() -> PgError {
    PgError::internal("the table store is closed")
}

impl Applier {
    /// Starts the thread writing into `store` commits the WAL has flushed,
    /// and makes `heap` read through to the store and forget what it wrote.
    pub(crate) fn start(
        store: TableStore,
        wal: Arc<Wal>,
        heap: Arc<Heap>,
        horizon: Horizon,
    ) -> PgResult<Applier> {
        let store = Arc::new(store);
        heap.set_store(Some(store.clone()));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            wal,
            rows_written: AtomicU64::new(0),
            horizon,
        });
        let (s, st, h) = (shared.clone(), store.clone(), heap.clone());
        let thread = std::thread::Builder::new()
            .name("applier".into())
            .spawn(move || run(&s, &st, &h))
            .map_err(|e| PgError::io("start the table store applier", &e))?;
        Ok(Applier {
            shared,
            heap,
            store: Mutex::new(Some(store)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The store, while it is open.
    pub(crate) fn store(&self) -> PgResult<Arc<TableStore>> {
        self.store.lock().clone().ok_or_else(closed)
    }

    /// The queue entry of a commit, `None` when it writes nothing to the
    /// store.
    pub(crate) fn prepare(
        &self,
        end: Lsn,
        changes: Vec<Change>,
        catalog: &Arc<Catalog>,
        adopts: Vec<(usize, Oid, u32)>,
    ) -> Option<Queued> {
        if adopts.is_empty() && !changes.iter().any(writes_store) {
            return None;
        }
        Some(Queued(Item {
            end,
            bytes: estimate(&changes),
            changes,
            catalog: catalog.clone(),
            adopts,
        }))
    }

    /// Queues a prepared commit (called in commit order, under the commit
    /// mutex or by the single redo thread); waits while the queue is over its
    /// bound.
    pub(crate) fn enqueue(&self, queued: Option<Queued>) {
        let Some(Queued(item)) = queued else {
            return;
        };
        let mut st = self.shared.state.lock();
        while st.queued_bytes >= QUEUE_BOUND && !st.stop && st.failed.is_none() && !st.exited {
            // the applier may be waiting for a flush: it flushes itself now
            drop(st);
            self.shared.wal.wake_flush_waiters();
            st = self.shared.state.lock();
            if st.queued_bytes < QUEUE_BOUND {
                break;
            }
            self.shared.cv.wait(&mut st);
        }
        if st.stop || st.failed.is_some() || st.exited {
            // Recovery replays it from the WAL: the store's applied LSN stays
            // before it.
            return;
        }
        st.queued_bytes += item.bytes;
        st.queue.push_back(item);
        if st.idle || st.queued_bytes >= GATHER_BYTES {
            self.shared.cv.notify_all();
        }
    }

    /// Waits until every queued commit ending at or before `upto` is in the
    /// store (not yet durable: [`TableStore::persist`]). Fails if the applier
    /// failed or stopped before that.
    pub(crate) fn wait_written(&self, upto: Lsn) -> PgResult<()> {
        let mut st = self.shared.state.lock();
        st.waiters += 1;
        // the applier may be gathering: it writes at once now
        self.shared.cv.notify_all();
        let r = self.wait_written_locked(&mut st, upto);
        st.waiters -= 1;
        r
    }

    fn wait_written_locked(
        &self,
        st: &mut parking_lot::MutexGuard<'_, State>,
        upto: Lsn,
    ) -> PgResult<()> {
        loop {
            let pending = st.queue.front().is_some_and(|i| i.end <= upto)
                || st.in_flight.is_some_and(|f| f <= upto);
            if !pending {
                return Ok(());
            }
            if let Some(e) = &st.failed {
                return Err(e.clone());
            }
            if st.exited {
                return Err(closed());
            }
            // The commits wait for a flush nobody may do (synchronous_commit
            // off and no walwriter): do it.
            let flushed = self.shared.wal.flush_lsn();
            if flushed < upto {
                parking_lot::MutexGuard::unlocked(st, || self.shared.wal.flush(upto))?;
                continue;
            }
            self.shared.cv.wait(st);
        }
    }

    /// Store writes made since the last call (a checkpoint's "wrote N rows").
    pub(crate) fn take_rows_written(&self) -> u64 {
        self.shared.rows_written.swap(0, Ordering::AcqRel)
    }

    /// Stops the thread (commits not yet flushed stay out of the store, as a
    /// crash would leave them) and closes the store. Idempotent.
    pub(crate) fn close(&self) {
        {
            let mut st = self.shared.state.lock();
            st.stop = true;
            self.shared.cv.notify_all();
        }
        self.shared.wal.wake_flush_waiters();
        if let Some(t) = self.thread.lock().take() {
            // wake it again in case it was between its checks and the wait
            while !t.is_finished() {
                self.shared.wal.wake_flush_waiters();
                {
                    let _st = self.shared.state.lock();
                    self.shared.cv.notify_all();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = t.join();
        }
        self.heap.set_store(None);
        self.store.lock().take();
    }
}

/// The thread's loop (see the module header).
fn run(shared: &Shared, store: &TableStore, heap: &Heap) {
    loop {
        let mut st = shared.state.lock();
        while st.queue.is_empty() && !st.stop {
            st.idle = true;
            shared.cv.wait(&mut st);
        }
        st.idle = false;
        let gather_until = std::time::Instant::now() + GATHER;
        while !st.stop && st.waiters == 0 && st.queued_bytes < GATHER_BYTES {
            if shared.cv.wait_until(&mut st, gather_until).timed_out() {
                break;
            }
        }
        let (Some(first), Some(last)) = (
            st.queue.front().map(|i| i.end),
            st.queue.back().map(|i| i.end),
        ) else {
            break; // stopping with nothing queued
        };
        let full = st.queued_bytes >= QUEUE_BOUND;
        let stop = st.stop;
        drop(st);
        let mut flushed = shared.wal.flush_lsn();
        if flushed < first {
            if stop {
                break;
            }
            if full {
                if let Err(e) = shared.wal.flush(last) {
                    fail(shared, e);
                    break;
                }
            } else {
                flushed = shared
                    .wal
                    .wait_for_flush(Lsn(first.0 - 1), Duration::from_secs(1));
            }
            if flushed < first {
                continue;
            }
        }
        let mut group = Vec::new();
        {
            let mut st = shared.state.lock();
            let mut writes = 0usize;
            while let Some(front) = st.queue.front() {
                let rekeying = rekeys(front);
                if front.end > flushed
                    || (!group.is_empty() && (writes >= GROUP_WRITES || rekeying))
                {
                    break;
                }
                writes += front.changes.len();
                let Some(item) = st.queue.pop_front() else {
                    break;
                };
                st.queued_bytes -= item.bytes;
                group.push(item);
                if rekeying {
                    break;
                }
            }
            st.in_flight = group.first().map(|i| i.end);
            shared.cv.notify_all();
        }
        let result = write_group(store, heap, group, shared.horizon.now());
        let mut st = shared.state.lock();
        st.in_flight = None;
        match result {
            Ok(n) => {
                shared.rows_written.fetch_add(n, Ordering::AcqRel);
                shared.cv.notify_all();
            }
            Err(e) => {
                drop(st);
                fail(shared, e);
                break;
            }
        }
    }
    let mut st = shared.state.lock();
    st.exited = true;
    shared.cv.notify_all();
}

fn fail(shared: &Shared, e: PgError) {
    tandem_types::elog::emit_error(&e);
    let mut st = shared.state.lock();
    st.failed = Some(e);
    st.in_flight = None;
    shared.cv.notify_all();
}

/// Writes one group of flushed commits; returns the writes made. The group
/// is one batch, but for a commit of more than [`GROUP_WRITES`] row writes,
/// which goes in parts of its own ([`write_in_parts`]). `horizon`: the GC
/// horizon now, which the batches prune with.
fn write_group(store: &TableStore, heap: &Heap, group: Vec<Item>, horizon: Lsn) -> PgResult<u64> {
    let done = store.applied_lsn();
    let todo = group.into_iter().filter(|i| i.end > done);
    // one large transaction's (a group of many small ones gives back little)
    let mut largest = 0;
    let mut writes = 0u64;
    let mut batch: Option<StoreBatch> = None;
    for item in todo {
        largest = largest.max(item.changes.len());
        if item.changes.len() > GROUP_WRITES && in_parts(&item) {
            if let Some(b) = batch.take() {
                writes += apply_batch(store, heap, b)?;
            }
            writes += write_in_parts(store, heap, item, horizon)?;
            continue;
        }
        let b = batch.get_or_insert_with(|| StoreBatch::new(item.end, horizon));
        b.applied_lsn = item.end;
        translate(store, b, item)?;
    }
    if let Some(b) = batch {
        writes += apply_batch(store, heap, b)?;
    }
    if largest as u64 >= crate::mem::TRIM_AFTER_WRITES {
        crate::mem::give_back_freed();
    }
    Ok(writes)
}

/// Writes `batch` into the store and makes the recent heap forget what it
/// wrote; returns the writes made.
fn apply_batch(store: &TableStore, heap: &Heap, batch: StoreBatch) -> PgResult<u64> {
    store.apply(&batch)?;
    forget_written(heap, &batch);
    Ok(batch.writes.len() as u64)
}

/// Whether a commit may go into the store in several batches: it only writes
/// rows (no storage range made, adopted, re-keyed or dropped), so that every
/// part is an ordinary write of versions stamped with its end.
fn in_parts(item: &Item) -> bool {
    item.adopts.is_empty()
        && item.changes.iter().all(|c| match c {
            Change::Insert { .. } | Change::Update { .. } | Change::Delete { .. } => true,
            Change::Truncate { .. } => false,
            Change::Catalog(_) => !writes_store(c),
        })
}

/// Writes one large commit in parts of [`GROUP_WRITES`] changes, so that
/// the store's batch (the chains it rewrites, then the write batch) never
/// holds the whole commit. Every part but the last leaves the store's
/// applied LSN where it was: after a crash between parts recovery writes the
/// whole commit again, which the chains take as they are (a put stamped
/// with an LSN a version already has ends that version where it begins, and
/// a delete finds nothing live to end: nobody sees either). The recent heap
/// forgets the commit's versions only once the last part is in, since until
/// then a reader trusting the applied LSN would not look in the store for
/// them ([`Heap::latest_since`]).
fn write_in_parts(store: &TableStore, heap: &Heap, item: Item, horizon: Lsn) -> PgResult<u64> {
    let before = store.applied_lsn();
    let Item {
        end,
        changes,
        catalog,
        ..
    } = item;
    let mut tables: Vec<Oid> = Vec::new();
    for c in &changes {
        if let Change::Insert { table, .. }
        | Change::Update { table, .. }
        | Change::Delete { table, .. } = c
        {
            if !tables.contains(table) {
                tables.push(*table);
            }
        }
    }
    let mut changes = changes.into_iter();
    let mut writes = 0u64;
    loop {
        let part: Vec<Change> = changes.by_ref().take(GROUP_WRITES).collect();
        let last = changes.len() == 0;
        let mut batch = StoreBatch::new(if last { end } else { before }, horizon);
        translate(
            store,
            &mut batch,
            Item {
                end,
                changes: part,
                catalog: catalog.clone(),
                adopts: Vec::new(),
                bytes: 0,
            },
        )?;
        store.apply(&batch)?;
        writes += batch.writes.len() as u64;
        if last {
            break;
        }
    }
    for table in tables {
        heap.forget_table_through(table, end);
    }
    Ok(writes)
}

/// Makes the recent heap forget the versions `batch` put into the store, one
/// run of writes to a table at a time.
fn forget_written(heap: &Heap, batch: &StoreBatch) {
    let key = |w: &'_ StoreWrite| match &w.kind {
        WriteKind::Row(key, _) => Some(key.clone()),
        _ => None,
    };
    let mut writes = batch.writes.iter().peekable();
    while let Some(first) = writes.next() {
        let table = first.table;
        let mut keys: Vec<RowKey> = key(first).into_iter().collect();
        while let Some(w) = writes.next_if(|w| w.table == table) {
            keys.extend(key(w));
        }
        heap.forget_written(table, keys.iter(), batch.applied_lsn);
    }
}

/// Whether a commit re-keys a table (ADD PRIMARY KEY): it ends its group, and
/// starts one, so that the store can stream the table's rows
/// ([`WriteKind::Rekey`]).
fn rekeys(item: &Item) -> bool {
    item.changes.iter().any(|c| {
        matches!(c, Change::Catalog(op) if matches!(op.as_ref(), CatalogOp::AddPrimaryKey { .. }))
    })
}

/// A stored row of `table` as ADD PRIMARY KEY leaves it: padded to the
/// table's width (`catalog` as the transaction left it), keyed by `columns`.
fn rekey_row(catalog: &Catalog, table: Oid, columns: &[usize], row: Row) -> (RowKey, Row) {
    let row: Row = match catalog.pad_row(table, &row) {
        Some(padded) => padded.into(),
        None => row,
    };
    let key_vals: Vec<Value> = columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect();
    (encode_key(&key_vals), row)
}

/// Appends the store writes of one commit to `batch`.
fn translate(store: &TableStore, batch: &mut StoreBatch, item: Item) -> PgResult<()> {
    let end = item.end;
    batch.writes.reserve(item.changes.len());
    let total = item.changes.len();
    let mut adopts = item.adopts.iter().peekable();
    let mut changes = item.changes.into_iter();
    loop {
        let at = total - changes.len();
        while let Some(&(_, table, sid)) = adopts.next_if(|a| a.0 <= at) {
            batch.adopt(table, end, sid);
        }
        let Some(change) = changes.next() else {
            break;
        };
        match change {
            Change::Insert { table, key, row } => batch.put(table, key, row, end),
            Change::Update {
                table,
                old_key,
                key,
                row,
                ..
            } => {
                if old_key != key {
                    batch.delete(table, old_key, end);
                }
                batch.put(table, key, row, end);
            }
            Change::Delete { table, key, .. } => batch.delete(table, key, end),
            Change::Truncate { tables, .. } => {
                for oid in tables {
                    batch.new_storage(oid, end);
                }
            }
            Change::Catalog(op) => match op.as_ref() {
                CatalogOp::AddPrimaryKey { table, pk } => {
                    let table = *table;
                    // re-keyed by its transaction into the range adopted
                    // right after it
                    if item.adopts.iter().any(|a| a.0 == at + 1 && a.1 == table) {
                        continue;
                    }
                    // The store streams the rows when nothing else of the
                    // batch writes the table (the usual ALTER TABLE on its
                    // own); otherwise they are gathered here.
                    let alone = !batch.writes.iter().any(|w| w.table == table)
                        && !changes.as_slice().iter().any(|c| c.touches(table));
                    if alone {
                        let catalog = item.catalog.clone();
                        let columns = pk.columns.clone();
                        let width = catalog.tables.get(&table).map_or(0, |d| d.columns.len());
                        batch.rekey(
                            table,
                            end,
                            Rekey {
                                columns: pk.columns.clone(),
                                width,
                                pad: Arc::new(move |row| rekey_row(&catalog, table, &columns, row)),
                            },
                        );
                        continue;
                    }
                    let rows = live_rows(store, batch, table)?;
                    batch.new_storage(table, end);
                    for (_, row) in rows {
                        let (key, row) = rekey_row(&item.catalog, table, &pk.columns, row);
                        batch.put(table, key, row, end);
                    }
                }
                CatalogOp::DropTable(oid) | CatalogOp::DropIndex(oid) => {
                    batch.drop_storage(*oid, end)
                }
                _ => {}
            },
        }
    }
    Ok(())
}

/// The live rows of `table` as the store and the writes of `batch` so far
/// leave them, in key order.
fn live_rows(store: &TableStore, batch: &StoreBatch, table: Oid) -> PgResult<Vec<(RowKey, Row)>> {
    let writes: Vec<&StoreWrite> = batch.writes.iter().filter(|w| w.table == table).collect();
    // After a new or dropped range earlier in the batch the store's rows are
    // not the table's any more: only the writes after it count.
    let restart = writes
        .iter()
        .rposition(|w| !matches!(w.kind, WriteKind::Row(..)));
    let mut stored = Vec::new();
    if let Some(WriteKind::Adopt(sid)) = restart.map(|i| &writes[i].kind) {
        // a bulk load's range: its rows are the table's
        let mut from: Option<RowKey> = None;
        loop {
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            let more = store.range_batch(*sid, lower, stored.len() + READ_BATCH, &mut stored)?;
            from = stored.last().map(|(k, _)| k.clone());
            if !more || from.is_none() {
                break;
            }
        }
    } else if restart.is_none() {
        let mut from: Option<RowKey> = None;
        loop {
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            let more = store.visible_batch(
                table,
                lower,
                Lsn(u64::MAX),
                stored.len() + READ_BATCH,
                &mut stored,
            )?;
            from = stored.last().map(|(k, _)| k.clone());
            if !more || from.is_none() {
                break;
            }
        }
    }
    let writes = &writes[restart.map_or(0, |i| i + 1)..];
    if writes.is_empty() {
        return Ok(stored);
    }
    let mut rows: BTreeMap<RowKey, Row> = stored.into_iter().collect();
    for w in writes {
        if let WriteKind::Row(key, write) = &w.kind {
            match write {
                ChainWrite::Put(row) => {
                    rows.insert(key.clone(), row.clone());
                }
                ChainWrite::Delete => {
                    rows.remove(key);
                }
            }
        }
    }
    Ok(rows.into_iter().collect())
}
