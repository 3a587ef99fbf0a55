//! The on-disk table store: tables' version chains in one fjall keyspace, so that
//! tables can outgrow memory behind a bounded cache (`docs/storage.md`, "The table
//! store"; the engine choice is §9 there).
//!
//! ```text
//! keyspace "heap":  storage id u32 BE ++ RowKey  ->  chain (created, deleted, row)*
//! keyspace "meta":  0u32 ++ metadata name        ->  applied LSN, storage ids
//! ```
//! (`chain.rs` has the layouts.) It owns the fjall database under its
//! directory: opening it (fjall replays its journal), applying batches of
//! committed writes, reads at a snapshot LSN, making it durable, the storage
//! id of each table, and consistent snapshots of the whole store.
//!
//! Rules kept here, each in one place:
//! - a batch ([`StoreBatch`]) is one atomic fjall batch: every key it writes and
//!   the new `applied_lsn`; after a crash the store holds exactly the batches up
//!   to its `applied_lsn` (fjall writes its journal in order and recovers a
//!   prefix of it);
//! - a table's rows live in the range of its current storage id; TRUNCATE,
//!   re-keying (ADD PRIMARY KEY) and DROP TABLE are batch writes
//!   ([`StoreBatch::new_storage`], [`StoreBatch::drop_storage`]) that move the
//!   table to a new, empty range or none, and retire the old range whole, as
//!   PostgreSQL gives a truncated table a new relfilenode. A retired range
//!   becomes dead once the batch horizon passes the LSN that retired it (no
//!   snapshot can read it); a compaction filter then removes its keys as fjall
//!   compacts them, so no statement pays for the table's size;
//! - a key's new chain comes from `heap.rs`'s chain rule ([`write_chain`]) and a
//!   read sees what `heap.rs`'s visibility rule ([`crate::heap::visible_version`]) says, so
//!   the store and the in-memory heap cannot disagree on MVCC;
//! - nothing is durable until [`TableStore::persist`] (fsync of fjall's journal);
//!   fjall may write earlier on its own schedule, which is why its writer must
//!   only ever give it commits the WAL has already flushed.
//!
//! Batches are applied one at a time (an internal writer lock): a chain is read,
//! changed and written back, which needs a single writer. Reads never wait for it.
//! PostgreSQL has no counterpart file: its tables are heap pages under the buffer
//! manager (`bufmgr.c`); fjall's block cache plays `shared_buffers`' part.

mod chain;

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fjall::compaction::filter::{CompactionFilter, Context, Factory, ItemAccessor, Verdict};
use fjall::{Keyspace, KeyspaceCreateOptions, PersistMode, Readable};
use parking_lot::{Mutex, RwLock};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState};

use crate::codec::corrupt;
use crate::heap::{write_chain, ChainWrite, Row, Version};
use crate::keycode::encode_key;
use crate::RowKey;

use chain::{
    decode_chain, decode_retired, decode_row, encode_chain, encode_first_version, encode_retired,
    first_version_prefixed, key_columns_into, key_range, meta_id, meta_key, range_end, range_start,
    row_key, row_key_into, split_key, u32_value, visible_encoded, APPLIED_LSN_KEY, FIRST_STORAGE,
    NEXT_STORAGE_KEY, RETIRED_PREFIX, TABLE_PREFIX, WHAT,
};

/// Memory the store may use, fixed at open.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// fjall's block cache (the part `shared_buffers` pays for).
    pub cache_bytes: u64,
    /// Size at which fjall seals a memtable and flushes it to a table file.
    pub memtable_bytes: u64,
}

impl Default for StoreOptions {
    /// The sizes `docs/storage.md` §9 measured: 128 MB cache, 64 MB memtable.
    fn default() -> StoreOptions {
        StoreOptions {
            cache_bytes: 128 << 20,
            memtable_bytes: 64 << 20,
        }
    }
}

/// What one write of a batch does.
#[derive(Clone, Debug)]
pub enum WriteKind {
    /// A new version of the row (insert, or the new image of an update), or its
    /// end (delete, or an update that moved it to another key).
    Row(RowKey, ChainWrite<Row>),
    /// TRUNCATE or re-keying: the table's later writes go to a new, empty
    /// range; the old one is retired as of the write's commit.
    NewStorage,
    /// DROP TABLE: the table's range is retired as of the write's commit.
    DropStorage,
    /// ADD PRIMARY KEY: the table's live rows, each passed through the
    /// [`Rekey`] function, move to a new range; the old range is retired as
    /// of the write's commit. The store streams the rows from the old range
    /// into the new one ([`TableStore::apply`]); no other write of the batch
    /// may touch the table.
    Rekey(Rekey),
    /// A bulk load's range becomes the table's: the rows its transaction
    /// wrote there before committing ([`TableStore::reserve_range`],
    /// [`TableStore::load_range`]); the old range is retired as of the
    /// write's commit. Later writes of the batch to the table go on top of
    /// those rows.
    Adopt(u32),
}

/// A reserved range being loaded by a thread of its own
/// ([`TableStore::load_range`]). Dropped without [`RangeLoad::finish`], it
/// still finishes (the rows of a range nobody adopts are dead anyway).
pub struct RangeLoad {
    sid: u32,
    /// The store key of the last row taken, and room for the next one's.
    last: Vec<u8>,
    next: Vec<u8>,
    /// Rows taken and not sent yet: store keys and chains, each a
    /// length-prefixed byte string (encoded by the sender, so that rows are
    /// freed where they were allocated).
    run: crate::codec::Writer,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    /// Runs the thread is done with, emptied, to be filled again (a fresh
    /// buffer of a few megabytes costs its growth and first-touch faults).
    used: std::sync::mpsc::Receiver<Vec<u8>>,
    thread: Option<std::thread::JoinHandle<PgResult<()>>>,
}

/// What [`TableStore::scan_key_columns`] calls with each row: its key
/// columns (None for a row narrower than the table) and its bytes.
pub type KeyColumnsVisit<'a> =
    dyn FnMut(Option<&[tandem_types::Value]>, &[u8]) -> PgResult<bool> + 'a;

/// How much [`RangeLoad::push_encoded`] gathers before it hands a run to
/// the loading thread.
const LOAD_RUN_BYTES: usize = 4 << 20;

/// A run buffer's capacity: the run plus the row that crosses its end.
const LOAD_RUN_CAPACITY: usize = LOAD_RUN_BYTES + (64 << 10);

impl RangeLoad {
    /// Hands a run of rows, keys rising after every key taken before, to the
    /// loading thread; waits while it still works on the previous run.
    pub fn send(&mut self, rows: &[(RowKey, Row)]) -> PgResult<()> {
        let mut row_bytes = crate::codec::Writer::new();
        for (k, row) in rows {
            row_bytes.buf.clear();
            row_bytes.values(row);
            self.push_encoded(k, &row_bytes.buf)?;
        }
        self.flush()
    }

    /// The load of range `sid` among `loads`, started (on `store`) if it is
    /// not there yet.
    pub fn of<'l>(
        loads: &'l mut HashMap<u32, RangeLoad>,
        store: &TableStore,
        sid: u32,
    ) -> PgResult<&'l mut RangeLoad> {
        Ok(match loads.entry(sid) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(store.load_range(sid)?),
        })
    }

    /// Finishes every load (all of them, even after one failed); the first
    /// failure.
    pub fn finish_all(loads: impl IntoIterator<Item = RangeLoad>) -> PgResult<()> {
        let mut out = Ok(());
        for load in loads {
            let r = load.finish();
            if out.is_ok() {
                out = r;
            }
        }
        out
    }

    /// Takes one row under `key` (rising after every key taken before),
    /// already encoded (`row`, a stored version's bytes, kept as they are);
    /// hands the rows taken to the loading thread every few megabytes.
    pub fn push_encoded(&mut self, key: &RowKey, row: &[u8]) -> PgResult<()> {
        self.key(key)?;
        first_version_prefixed(&mut self.run, row, Lsn::INVALID);
        if self.run.buf.len() >= LOAD_RUN_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends `key`'s store key to the run, after checking that it rises.
    fn key(&mut self, key: &RowKey) -> PgResult<()> {
        row_key_into(self.sid, key, &mut self.next);
        // an empty `last` is none: a store key is never empty
        if !self.last.is_empty() && self.next <= self.last {
            return Err(PgError::internal("bulk load keys out of order"));
        }
        self.run.bytes(&self.next);
        std::mem::swap(&mut self.next, &mut self.last);
        Ok(())
    }

    /// Hands the rows taken so far to the loading thread.
    fn flush(&mut self) -> PgResult<()> {
        if self.run.buf.is_empty() {
            return Ok(());
        }
        let fresh = self
            .used
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(LOAD_RUN_CAPACITY));
        let run = std::mem::replace(&mut self.run.buf, fresh);
        let sent = match &self.tx {
            Some(tx) => tx.send(run).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // the thread stopped: its error says why
        self.join()?;
        Err(PgError::internal("bulk load thread stopped"))
    }

    /// Waits until every row taken is in the range, readable.
    pub fn finish(mut self) -> PgResult<()> {
        let flushed = self.flush();
        let joined = self.join();
        flushed.and(joined)
    }

    fn join(&mut self) -> PgResult<()> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(PgError::internal("bulk load thread panicked")),
        }
    }
}

impl Drop for RangeLoad {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// How ADD PRIMARY KEY turns a stored row into its new key and row.
#[derive(Clone)]
pub struct Rekey {
    /// The new key's columns, in key order.
    pub columns: Vec<usize>,
    /// The table's width: a stored row that wide keeps its bytes, keyed by
    /// its `columns` read in place.
    pub width: usize,
    /// A shorter row (written before an ADD COLUMN), padded and keyed.
    pub pad: Arc<dyn Fn(Row) -> (RowKey, Row) + Send + Sync>,
}

impl std::fmt::Debug for Rekey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rekey")
    }
}

/// A [`WriteKind::Rekey`] of a batch, done after the batch's other writes
/// are read.
struct RekeyJob {
    table: Oid,
    /// The range the rows are read from (`None`: the table has none yet).
    from: Option<u32>,
    to: u32,
    commit: Lsn,
    rekey: Rekey,
}

/// One committed write to one table.
#[derive(Clone, Debug)]
pub struct StoreWrite {
    pub table: Oid,
    /// End LSN of the COMMIT record: the version's stamp.
    pub commit: Lsn,
    pub kind: WriteKind,
}

/// Writes applied atomically, together with the store's new `applied_lsn`.
#[derive(Clone, Debug, Default)]
pub struct StoreBatch {
    /// The store's `applied_lsn` once the batch is in: where WAL replay resumes.
    pub applied_lsn: Lsn,
    /// The oldest snapshot that can still read the store: versions deleted at or
    /// before it are pruned from the chains the batch writes, and ranges retired
    /// at or before it are dead.
    pub horizon: Lsn,
    /// In commit order (a key may be written by several commits of the batch).
    pub writes: Vec<StoreWrite>,
}

impl StoreBatch {
    pub fn new(applied_lsn: Lsn, horizon: Lsn) -> StoreBatch {
        StoreBatch {
            applied_lsn,
            horizon,
            writes: Vec::new(),
        }
    }

    /// A new version of `key` (insert, or the new image of an update).
    pub fn put(&mut self, table: Oid, key: RowKey, row: Row, commit: Lsn) {
        self.push(table, commit, WriteKind::Row(key, ChainWrite::Put(row)));
    }

    /// The row of `key` is deleted (or moved to another key by an update).
    pub fn delete(&mut self, table: Oid, key: RowKey, commit: Lsn) {
        self.push(table, commit, WriteKind::Row(key, ChainWrite::Delete));
    }

    /// The table starts over in a new, empty range (TRUNCATE, re-keying).
    pub fn new_storage(&mut self, table: Oid, commit: Lsn) {
        self.push(table, commit, WriteKind::NewStorage);
    }

    /// The table is gone (DROP TABLE).
    pub fn drop_storage(&mut self, table: Oid, commit: Lsn) {
        self.push(table, commit, WriteKind::DropStorage);
    }

    /// The table's live rows move to a new range under new keys (ADD PRIMARY
    /// KEY); no other write of the batch may touch the table.
    pub fn rekey(&mut self, table: Oid, commit: Lsn, rekey: Rekey) {
        self.push(table, commit, WriteKind::Rekey(rekey));
    }

    /// The reserved range `sid`, written before the commit, becomes the
    /// table's (see [`WriteKind::Adopt`]).
    pub fn adopt(&mut self, table: Oid, commit: Lsn, sid: u32) {
        self.push(table, commit, WriteKind::Adopt(sid));
    }

    fn push(&mut self, table: Oid, commit: Lsn, kind: WriteKind) {
        self.writes.push(StoreWrite {
            table,
            commit,
            kind,
        });
    }
}

/// Which range each table's rows are in (mirrors the metadata keys).
#[derive(Clone, Debug, Default)]
struct Ranges {
    /// The current storage id of every table the store holds.
    tables: HashMap<Oid, u32>,
    next: u32,
    /// Retired ranges not yet known to be empty: the table and the commit
    /// that retired them.
    retired: HashMap<u32, (Oid, Lsn)>,
}

impl Ranges {
    /// The range a snapshot at `snapshot` reads table `oid` from: the retired
    /// range with the earliest retirement after `snapshot` (the one current
    /// then), else the current one. A range retired at LSN 0 (reserved by an
    /// ingestion that never became current) is never chosen.
    fn at(&self, oid: Oid, snapshot: Lsn) -> Option<u32> {
        let older = self
            .retired
            .iter()
            .filter(|(_, (t, at))| *t == oid && *at > snapshot)
            .min_by_key(|(_, (_, at))| *at)
            .map(|(sid, _)| *sid);
        older.or_else(|| self.tables.get(&oid).copied())
    }
}

/// Keys of one new range in one batch from which the batch writes the range
/// by ingestion (table files) instead of through the journal and memtable.
const INGEST_MIN: usize = 50_000;

/// The ranges no snapshot can read, shared with the compaction filter.
type DeadRanges = Arc<std::sync::RwLock<HashSet<u32>>>;

fn dead_contains(dead: &DeadRanges, sid: u32) -> bool {
    dead.read()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&sid)
}

/// Makes the compaction filter that drops the keys of dead ranges.
struct DeadRangeFilterFactory(DeadRanges);

impl Factory for DeadRangeFilterFactory {
    fn name(&self) -> &str {
        "tandem dead storage ranges"
    }

    fn make_filter(&self, _ctx: &Context) -> Box<dyn CompactionFilter> {
        let dead = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        Box::new(DeadRangeFilter(dead))
    }
}

/// Drops keys of ranges that were dead when the compaction started. Nothing
/// reads a dead range and its id is never handed out again, so its keys go
/// without tombstones.
struct DeadRangeFilter(HashSet<u32>);

impl CompactionFilter for DeadRangeFilter {
    fn filter_item(
        &mut self,
        item: ItemAccessor<'_>,
        _ctx: &Context,
    ) -> Result<Verdict, fjall::LsmError> {
        Ok(match key_range(item.key()) {
            Some(sid) if sid != 0 && self.0.contains(&sid) => Verdict::Destroy,
            _ => Verdict::Keep,
        })
    }
}

/// The on-disk table store (see the module header).
pub struct TableStore {
    dir: PathBuf,
    db: fjall::Database,
    heap: Keyspace,
    /// The metadata keys (`applied_lsn`, the storage ids), in a keyspace of
    /// their own: in `heap` they sat below every range, so every memtable
    /// flush spanned the whole key space and the engine merged a bulk
    /// load's ingested files into the level below (rewriting the tables
    /// there) instead of moving them.
    meta: Keyspace,
    /// Mirrors the `applied_lsn` key as of the last batch.
    applied: AtomicU64,
    /// Mirrors the storage metadata keys as of the last batch.
    ranges: RwLock<Ranges>,
    dead: DeadRanges,
    /// Serializes writers: a chain is read, changed and written back.
    writer: Mutex<()>,
    /// The thread that deletes dead ranges' files ([`DeadRangeDropper`]).
    dropper: Mutex<Option<DeadRangeDropper>>,
}

/// A thread that hands each range, once dead, to the engine's `drop_range`,
/// which deletes the table files holding nothing else. A bulk load's range
/// is files of its own that later writes rarely touch, so waiting for a
/// compaction to filter their keys out (which still removes what files share
/// with live ranges) would leave a dropped or truncated table's disk space
/// taken for long.
struct DeadRangeDropper {
    tx: std::sync::mpsc::Sender<u32>,
    thread: std::thread::JoinHandle<()>,
}

impl DeadRangeDropper {
    fn start(heap: &Keyspace, meta: &Keyspace) -> Option<DeadRangeDropper> {
        use fjall::AbstractTree;
        let (heap, meta) = (heap.clone(), meta.clone());
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        let thread = std::thread::Builder::new()
            .name("store cleanup".into())
            .spawn(move || {
                for sid in rx {
                    let start = range_start(sid);
                    // A failure leaves the files to compaction.
                    let dropped = match range_end(sid) {
                        Some(end) => heap.tree.drop_range(start..end),
                        None => heap.tree.drop_range(start..),
                    };
                    if dropped.is_ok() {
                        let _ = release_dropped_files(&meta);
                    }
                }
            })
            .ok()?;
        Some(DeadRangeDropper { tx, thread })
    }
}

/// The metadata key written after a range's files were dropped (see
/// [`release_dropped_files`]); it holds nothing.
const RELEASE_KEY: &[u8] = b"\0\0\0\0release";

/// Lets the engine delete the files a `drop_range` just took out of the
/// tree. The engine keeps the tree's previous version (which still lists
/// them) until its garbage-collection watermark passes the new version's
/// sequence number, and it moves that watermark and collects old versions
/// only when a memtable is rotated after a write: on a quiet server that
/// would be never. So: one write to the metadata keyspace (a key removed),
/// then a rotation of its memtable (a flush of a few bytes).
fn release_dropped_files(meta: &Keyspace) -> fjall::Result<()> {
    meta.remove(RELEASE_KEY)?;
    meta.rotate_memtable()?;
    Ok(())
}

impl Drop for TableStore {
    /// Stops the dead range thread before the engine closes.
    fn drop(&mut self) {
        if let Some(d) = self.dropper.get_mut().take() {
            drop(d.tx);
            let _ = d.thread.join();
        }
    }
}

/// How a fjall failure reads as a PostgreSQL error: an I/O failure is
/// `58030 could not <what> table store "<dir>": <os error>`, anything else (bad
/// checksums, undecodable blocks, an unrecoverable journal) is `XX001`.
/// A key's new chain in a batch (empty: the key is removed), and whether the
/// key was in the store before the batch.
struct Pending {
    existed: bool,
    chain: Vec<u8>,
}

/// A write to a range the batch created.
struct FreshWrite {
    key: Vec<u8>,
    commit: Lsn,
    /// A put: the chain of its version alone; `None`: a delete.
    first_version: Option<Vec<u8>>,
}

/// The chains of a batch's writes to fresh ranges, sorted by key, keys that
/// end up without a version left out. A key written once (a bulk load: every
/// key) keeps its one-version chain as it is; a key written several times
/// gets the chain rule applied in commit order (the sort is stable). Keys
/// that arrive in order (a row id counter, a re-keyed table read in key
/// order) sort in linear time.
fn fold_fresh(mut writes: Vec<FreshWrite>, horizon: Lsn) -> PgResult<Vec<(Vec<u8>, Vec<u8>)>> {
    writes.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::with_capacity(writes.len());
    let mut writes = writes.into_iter().peekable();
    while let Some(first) = writes.next() {
        let mut chain = first.first_version.unwrap_or_default();
        while let Some(next) = writes.next_if(|n| n.key == first.key) {
            let mut versions = decode_chain(&chain)?;
            let put = next
                .first_version
                .as_deref()
                .map(decode_chain)
                .transpose()?;
            let write = match put.as_ref().and_then(|p| p.first()) {
                Some(v) => ChainWrite::Put(v.row),
                None => ChainWrite::Delete,
            };
            write_chain(&mut versions, write, next.commit, horizon);
            chain = if versions.is_empty() {
                Vec::new()
            } else {
                encode_chain(&versions)
            };
        }
        if !chain.is_empty() {
            out.push((first.key, chain));
        }
    }
    Ok(out)
}

fn store_error(what: &str, dir: &Path, e: fjall::Error) -> PgError {
    match e {
        fjall::Error::Io(io) | fjall::Error::Storage(fjall::LsmError::Io(io)) => PgError::io(
            format_args!("{what} table store \"{}\"", dir.display()),
            &io,
        ),
        fjall::Error::Poisoned => PgError::new(
            SqlState::IO_ERROR,
            format!(
                "could not {what} table store \"{}\": an earlier write failed",
                dir.display()
            ),
        ),
        fjall::Error::Locked => PgError::new(
            SqlState::IO_ERROR,
            format!(
                "could not {what} table store \"{}\": it is in use by another process",
                dir.display()
            ),
        ),
        other => PgError::new(
            SqlState::DATA_CORRUPTED,
            format!(
                "could not {what} table store \"{}\": {other:?}",
                dir.display()
            ),
        ),
    }
}

fn lsn_value(bytes: &[u8]) -> PgResult<Lsn> {
    let b: [u8; 8] = bytes.try_into().map_err(|_| corrupt(WHAT))?;
    Ok(Lsn(u64::from_le_bytes(b)))
}

/// The row an encoded chain shows `snapshot` (`None` for a missing key).
fn visible_row(chain: Option<&[u8]>, snapshot: Lsn) -> PgResult<Option<Row>> {
    visible_encoded(chain.unwrap_or_default(), snapshot)?
        .map(decode_row)
        .transpose()
}

/// The key range of storage range `sid`, starting at `from` within it.
fn key_bounds(sid: u32, from: Bound<&RowKey>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lo = match from {
        Bound::Unbounded => Bound::Included(range_start(sid)),
        Bound::Included(k) => Bound::Included(row_key(sid, k)),
        Bound::Excluded(k) => Bound::Excluded(row_key(sid, k)),
    };
    let hi = match range_end(sid) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    (lo, hi)
}

/// The metadata keyspace's memtable: a few keys, one rewritten by every
/// batch, flushed often.
const META_MEMTABLE_BYTES: u64 = 1 << 20;

/// Moves the metadata keys of a store written before they had a keyspace
/// of their own out of `heap`, in one batch.
fn move_legacy_metadata(
    db: &fjall::Database,
    heap: &Keyspace,
    meta: &Keyspace,
    dir: &Path,
) -> PgResult<()> {
    let err = |e| store_error("open", dir, e);
    let mut b = db.batch();
    let mut moved = false;
    for item in heap.prefix(range_start(0)) {
        let (k, v) = item.into_inner().map_err(err)?;
        b.insert(meta, k.clone(), v);
        b.remove(heap, k);
        moved = true;
    }
    if moved {
        b.commit().map_err(err)?;
        db.persist(PersistMode::SyncAll).map_err(err)?;
    }
    Ok(())
}

/// Reads the storage metadata keys.
fn read_ranges(meta: &Keyspace, dir: &Path) -> PgResult<Ranges> {
    let err = |e| store_error("read", dir, e);
    let mut r = Ranges {
        next: FIRST_STORAGE,
        ..Ranges::default()
    };
    if let Some(v) = meta.get(NEXT_STORAGE_KEY).map_err(err)? {
        r.next = u32_value(&v)?;
    }
    for item in meta.prefix(TABLE_PREFIX) {
        let (k, v) = item.into_inner().map_err(err)?;
        r.tables
            .insert(Oid(meta_id(TABLE_PREFIX, &k)?), u32_value(&v)?);
    }
    for item in meta.prefix(RETIRED_PREFIX) {
        let (k, v) = item.into_inner().map_err(err)?;
        r.retired
            .insert(meta_id(RETIRED_PREFIX, &k)?, decode_retired(&v)?);
    }
    if r.tables
        .values()
        .chain(r.retired.keys())
        .any(|&s| s == 0 || s >= r.next)
    {
        return Err(corrupt(WHAT));
    }
    Ok(r)
}

/// The storage changes of one batch, on top of the store's [`Ranges`].
struct RangeChanges<'a> {
    base: &'a Ranges,
    /// New current range of a table (`None`: dropped).
    tables: HashMap<Oid, Option<u32>>,
    retired: Vec<(u32, Oid, Lsn)>,
    next: u32,
}

impl RangeChanges<'_> {
    fn current(&self, table: Oid) -> Option<u32> {
        match self.tables.get(&table) {
            Some(s) => *s,
            None => self.base.tables.get(&table).copied(),
        }
    }

    /// A new range for `table`, retiring the one it had as of `at`.
    fn renew(&mut self, table: Oid, at: Lsn) -> PgResult<u32> {
        self.retire(table, at);
        let sid = self.next;
        self.next = sid
            .checked_add(1)
            .ok_or_else(|| PgError::internal("table store storage ids are exhausted"))?;
        self.tables.insert(table, Some(sid));
        Ok(sid)
    }

    /// The reserved range `sid` becomes `table`'s, retiring the one it had as
    /// of `at`.
    fn adopt(&mut self, table: Oid, at: Lsn, sid: u32) {
        self.retire(table, at);
        self.tables.insert(table, Some(sid));
    }

    fn retire(&mut self, table: Oid, at: Lsn) {
        if let Some(old) = self.current(table) {
            self.retired.push((old, table, at));
        }
        self.tables.insert(table, None);
    }
}

/// The engine's flush and compaction threads. Its first worker hands every
/// compaction request on to the others and takes the next message at once:
/// with one other worker, busy with a long compaction, the first spins on
/// the same request for as long (a core lost, seen as most of a bulk load's
/// profile). With three others one is nearly always free to take it.
const BACKGROUND_WORKERS: usize = 4;

impl TableStore {
    /// Opens the store in `dir`, creating it if it does not exist. A store that was
    /// not persisted before a crash comes back as a prefix of its batches.
    pub fn open(dir: &Path, opts: StoreOptions) -> PgResult<TableStore> {
        let err = |e| store_error("open", dir, e);
        let dead: DeadRanges = Arc::default();
        let factory: Arc<dyn Factory> = Arc::new(DeadRangeFilterFactory(dead.clone()));
        let db = fjall::Database::builder(dir)
            .cache_size(opts.cache_bytes)
            .worker_threads(BACKGROUND_WORKERS)
            .with_compaction_filter_factories(Arc::new(move |_| Some(factory.clone())))
            .open()
            .map_err(err)?;
        let memtable = opts.memtable_bytes;
        let heap = db
            .keyspace("heap", || {
                let o = KeyspaceCreateOptions::default();
                if memtable > 0 {
                    o.max_memtable_size(memtable)
                } else {
                    o
                }
            })
            .map_err(err)?;
        let meta = db
            .keyspace("meta", || {
                KeyspaceCreateOptions::default().max_memtable_size(META_MEMTABLE_BYTES)
            })
            .map_err(err)?;
        move_legacy_metadata(&db, &heap, &meta, dir)?;
        let applied = match meta.get(APPLIED_LSN_KEY).map_err(err)? {
            Some(v) => lsn_value(&v)?,
            None => Lsn::INVALID,
        };
        let ranges = read_ranges(&meta, dir)?;
        let dropper = Mutex::new(DeadRangeDropper::start(&heap, &meta));
        let store = TableStore {
            dir: dir.to_path_buf(),
            db,
            heap,
            meta,
            applied: AtomicU64::new(applied.0),
            ranges: RwLock::new(ranges),
            dead,
            writer: Mutex::new(()),
            dropper,
        };
        // ranges retired before the crash are dead once nothing reads them:
        // after a restart no snapshot predates the store's applied LSN
        store.mark_dead(applied);
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The WAL position up to which commits are in the store: replay resumes there.
    pub fn applied_lsn(&self) -> Lsn {
        Lsn(self.applied.load(Ordering::Acquire))
    }

    /// The tables the store holds a range for, in oid order.
    pub fn tables(&self) -> Vec<Oid> {
        let mut t: Vec<Oid> = self.ranges.read().tables.keys().copied().collect();
        t.sort_unstable();
        t
    }

    /// Whether a retired range is not yet dead (still readable by an old
    /// snapshot, or waiting for a horizon to pass it).
    pub(crate) fn has_retired_alive(&self) -> bool {
        let ranges = self.ranges.read();
        ranges
            .retired
            .keys()
            .any(|sid| !dead_contains(&self.dead, *sid))
    }

    /// Adds the retired ranges no snapshot at or after `horizon` can read to
    /// the dead set the compaction filter drops.
    pub(crate) fn mark_dead(&self, horizon: Lsn) {
        let ranges = self.ranges.read();
        let newly: Vec<u32> = ranges
            .retired
            .iter()
            .filter(|(sid, (_, at))| *at <= horizon && !dead_contains(&self.dead, **sid))
            .map(|(sid, _)| *sid)
            .collect();
        if !newly.is_empty() {
            if let Some(d) = self.dropper.lock().as_ref() {
                for &sid in &newly {
                    let _ = d.tx.send(sid);
                }
            }
            self.dead
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .extend(newly);
        }
    }

    /// Applies `batch` atomically: every write by the chain rule, the storage
    /// changes, and the new `applied_lsn`. Not durable until
    /// [`TableStore::persist`].
    pub fn apply(&self, batch: &StoreBatch) -> PgResult<()> {
        let _writer = self.writer.lock();
        let current = self.applied_lsn();
        if batch.applied_lsn < current {
            return Err(PgError::internal(format!(
                "table store batch at {} is behind the store's applied LSN {}",
                batch.applied_lsn, current
            )));
        }
        let read_err = |e| store_error("read", &self.dir, e);
        let base = self.ranges.read().clone();
        let mut changes = RangeChanges {
            base: &base,
            tables: HashMap::new(),
            retired: Vec::new(),
            next: base.next,
        };
        // Ranges created by this batch (and their table): nothing of them is
        // in the store yet.
        let mut fresh: HashMap<u32, Oid> = HashMap::new();
        // Chains of keys in ranges the store has, written by this batch so far.
        let mut pending: FxHashMap<Vec<u8>, Pending> =
            FxHashMap::with_capacity_and_hasher(batch.writes.len(), Default::default());
        // the new row of a put, encoded (reused from write to write)
        let mut new_row = crate::codec::Writer::new();
        // Writes to fresh ranges, in batch order: no chain to read or merge
        // until a key turns out to be written twice (`fold_fresh`).
        let mut fresh_writes: Vec<FreshWrite> = Vec::new();
        // Tables the batch wrote so far, and the re-keyings to stream.
        let mut touched: HashSet<Oid> = HashSet::new();
        let mut rekeys: Vec<RekeyJob> = Vec::new();
        let mut adopted: Vec<u32> = Vec::new();
        for w in &batch.writes {
            if w.table == Oid(0) {
                return Err(PgError::internal("table store write to table oid 0"));
            }
            if rekeys.iter().any(|j| j.table == w.table) {
                return Err(PgError::internal(format!(
                    "table store batch writes table {} after re-keying it",
                    w.table
                )));
            }
            let first_write = touched.insert(w.table);
            let (key, write) = match &w.kind {
                WriteKind::Row(key, write) => (key, write),
                WriteKind::Rekey(rekey) => {
                    if !first_write {
                        return Err(PgError::internal(format!(
                            "table store batch re-keys table {} after writing it",
                            w.table
                        )));
                    }
                    rekeys.push(RekeyJob {
                        table: w.table,
                        from: changes.current(w.table),
                        to: changes.renew(w.table, w.commit)?,
                        commit: w.commit,
                        rekey: rekey.clone(),
                    });
                    continue;
                }
                WriteKind::NewStorage => {
                    fresh.insert(changes.renew(w.table, w.commit)?, w.table);
                    continue;
                }
                WriteKind::Adopt(sid) => {
                    changes.adopt(w.table, w.commit, *sid);
                    adopted.push(*sid);
                    continue;
                }
                WriteKind::DropStorage => {
                    changes.retire(w.table, w.commit);
                    continue;
                }
            };
            let sid = match changes.current(w.table) {
                Some(sid) => sid,
                None => {
                    let sid = changes.renew(w.table, w.commit)?;
                    fresh.insert(sid, w.table);
                    sid
                }
            };
            let key = row_key(sid, key);
            if fresh.contains_key(&sid) {
                fresh_writes.push(FreshWrite {
                    key,
                    commit: w.commit,
                    first_version: match write {
                        ChainWrite::Put(row) => Some(encode_first_version(row, w.commit)),
                        ChainWrite::Delete => None,
                    },
                });
                continue;
            }
            let write = match write {
                ChainWrite::Put(row) => {
                    new_row.buf.clear();
                    new_row.values(row);
                    ChainWrite::Put(new_row.buf.as_slice())
                }
                ChainWrite::Delete => ChainWrite::Delete,
            };
            let rewrite = |old: &[u8]| -> PgResult<Vec<u8>> {
                let mut chain = decode_chain(old)?;
                write_chain(&mut chain, write, w.commit, batch.horizon);
                Ok(if chain.is_empty() {
                    Vec::new()
                } else {
                    encode_chain(&chain)
                })
            };
            if let Some(p) = pending.get_mut(&key) {
                p.chain = rewrite(&p.chain)?;
                continue;
            }
            let p = match self.heap.get(&key).map_err(read_err)? {
                Some(v) => Pending {
                    existed: true,
                    chain: rewrite(&v)?,
                },
                None => Pending {
                    existed: false,
                    chain: rewrite(&[])?,
                },
            };
            pending.insert(key, p);
        }
        // in key order: a memtable takes sorted keys faster, ingestion only them
        let mut entries: Vec<(Vec<u8>, Pending)> = pending.into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut fresh_entries = fold_fresh(fresh_writes, batch.horizon)?;
        let RangeChanges {
            tables,
            retired,
            next,
            ..
        } = changes;
        let mut ingested = self.ingest_fresh(&mut fresh_entries, &fresh, next)?;
        ingested.extend(adopted);
        let mut rekeyed = Vec::new();
        for job in &rekeys {
            if self.rekey_range(job, next, &mut rekeyed)? {
                ingested.push(job.to);
            }
        }
        let mut b = self.db.batch();
        for (key, chain) in rekeyed {
            b.insert(&self.heap, key, chain);
        }
        for (key, p) in entries {
            if !p.chain.is_empty() {
                b.insert(&self.heap, key, p.chain);
            } else if p.existed {
                b.remove(&self.heap, key);
            }
        }
        for (key, chain) in fresh_entries {
            b.insert(&self.heap, key, chain);
        }
        for sid in &ingested {
            // reserved by ingest_fresh; mapped (or retired) by this batch
            if !retired.iter().any(|(r, _, _)| r == sid) {
                b.remove(&self.meta, meta_key(RETIRED_PREFIX, *sid));
            }
        }
        for (table, sid) in &tables {
            let k = meta_key(TABLE_PREFIX, table.0);
            match sid {
                Some(sid) => b.insert(&self.meta, k, sid.to_le_bytes().as_slice()),
                None => b.remove(&self.meta, k),
            }
        }
        for (sid, table, at) in &retired {
            b.insert(
                &self.meta,
                meta_key(RETIRED_PREFIX, *sid),
                encode_retired(*table, *at),
            );
        }
        if next != base.next {
            b.insert(&self.meta, NEXT_STORAGE_KEY, next.to_le_bytes().as_slice());
        }
        b.insert(
            &self.meta,
            APPLIED_LSN_KEY,
            batch.applied_lsn.0.to_le_bytes().as_slice(),
        );
        b.commit()
            .map_err(|e| store_error("write to", &self.dir, e))?;
        if !tables.is_empty() || !retired.is_empty() {
            let mut r = self.ranges.write();
            for (table, sid) in tables {
                match sid {
                    Some(sid) => r.tables.insert(table, sid),
                    None => r.tables.remove(&table),
                };
            }
            for (sid, table, at) in retired {
                r.retired.insert(sid, (table, at));
            }
            r.next = next;
        }
        self.applied.store(batch.applied_lsn.0, Ordering::Release);
        self.mark_dead(batch.horizon);
        Ok(())
    }

    /// Writes the new ranges of a batch that hold at least [`INGEST_MIN`]
    /// keys straight into table files (fjall's ingestion: no journal, no
    /// memtable), taking their keys out of `entries` (the batch's keys in
    /// fresh ranges, sorted, each with its chain); returns those
    /// ranges. The ranges are reserved durably first, marked retired at LSN 0
    /// with `next_storage` past them: if the process dies before the batch
    /// that maps them commits, the next open finds them dead (compaction
    /// drops the keys) and never hands their ids out again.
    fn ingest_fresh(
        &self,
        entries: &mut Vec<(Vec<u8>, Vec<u8>)>,
        fresh: &HashMap<u32, Oid>,
        next: u32,
    ) -> PgResult<Vec<u32>> {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for (key, _) in entries.iter() {
            if let Some(sid) = key_range(key).filter(|s| fresh.contains_key(s)) {
                *counts.entry(sid).or_default() += 1;
            }
        }
        let mut bulk: Vec<u32> = counts
            .into_iter()
            .filter(|&(_, n)| n >= INGEST_MIN)
            .map(|(sid, _)| sid)
            .collect();
        if bulk.is_empty() {
            return Ok(bulk);
        }
        bulk.sort_unstable();
        let err = |e| store_error("write to", &self.dir, e);
        let reserved: Vec<(u32, Oid)> = bulk
            .iter()
            .map(|sid| (*sid, fresh.get(sid).copied().unwrap_or(Oid(0))))
            .collect();
        self.reserve(&reserved, next)?;
        let mut ingestion = self.heap.start_ingestion().map_err(err)?;
        let mut rest = Vec::with_capacity(entries.len());
        // sorted and unique: the order ingestion requires
        for (key, chain) in entries.drain(..) {
            let in_bulk = key_range(&key).is_some_and(|s| bulk.binary_search(&s).is_ok());
            if in_bulk {
                ingestion.write(key, chain).map_err(err)?;
            } else {
                rest.push((key, chain));
            }
        }
        ingestion.finish().map_err(err)?;
        *entries = rest;
        Ok(bulk)
    }

    /// Reserves new ranges durably before rows are ingested into them:
    /// marked retired at LSN 0 (dead until the batch that maps them commits)
    /// with `next_storage` past them, so that a crash in between leaves
    /// them dead and their ids are never handed out again.
    fn reserve(&self, ranges: &[(u32, Oid)], next: u32) -> PgResult<()> {
        let mut reserve = self.db.batch();
        for &(sid, table) in ranges {
            reserve.insert(
                &self.meta,
                meta_key(RETIRED_PREFIX, sid),
                encode_retired(table, Lsn::INVALID),
            );
        }
        reserve.insert(&self.meta, NEXT_STORAGE_KEY, next.to_le_bytes().as_slice());
        reserve
            .commit()
            .map_err(|e| store_error("write to", &self.dir, e))?;
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| store_error("fsync", &self.dir, e))
    }

    /// Streams the live rows of a re-keyed table from its old range through
    /// the [`Rekey`] function into its new one. Rows whose new keys come out
    /// rising (a table filled in key order: no sort, nothing held) go into
    /// table files by ingestion once [`INGEST_MIN`] of them are seen, the
    /// new range reserved first ([`TableStore::reserve`]); the others (all
    /// rows of a smaller table, rows out of order) are added to `batch_rows`
    /// in key order, for the batch to insert. Returns whether it ingested.
    fn rekey_range(
        &self,
        job: &RekeyJob,
        next: u32,
        batch_rows: &mut Vec<(Vec<u8>, Vec<u8>)>,
    ) -> PgResult<bool> {
        let Some(from) = job.from else {
            return Ok(false);
        };
        let write_err = |e| store_error("write to", &self.dir, e);
        // rising keys not yet ingested (until INGEST_MIN), and the others
        let mut rising: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut rest: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut last: Vec<u8> = Vec::new();
        let mut ingestion: Option<IngestFn<'_>> = None;
        let rk = &job.rekey;
        self.scan_range_key_columns(
            from,
            Lsn(u64::MAX),
            &rk.columns,
            rk.width,
            &mut |vals, bytes| {
                let (key, chain) = match vals {
                    // the row's bytes move as they are
                    Some(vals) => {
                        let first = Version {
                            row: bytes,
                            created: job.commit,
                            deleted: Lsn::INVALID,
                        };
                        (encode_key(vals), encode_chain(&[first]))
                    }
                    None => {
                        let (key, row) = (rk.pad)(decode_row(bytes)?);
                        (key, encode_first_version(&row, job.commit))
                    }
                };
                let key = row_key(job.to, &key);
                if !last.is_empty() && key <= last {
                    rest.push((key, chain));
                    return Ok(true);
                }
                last.clone_from(&key);
                match ingestion.as_mut() {
                    Some(write) => write(Some((&key, &chain))).map_err(write_err)?,
                    None => {
                        rising.push((key, chain));
                        if rising.len() >= INGEST_MIN {
                            self.reserve(&[(job.to, job.table)], next)?;
                            let mut write = ingest_fn(&self.heap).map_err(write_err)?;
                            for (k, c) in rising.drain(..) {
                                write(Some((&k, &c))).map_err(write_err)?;
                            }
                            ingestion = Some(write);
                        }
                    }
                }
                Ok(true)
            },
        )?;
        let ingested = ingestion.is_some();
        if let Some(mut finish) = ingestion {
            finish(None).map_err(write_err)?;
        }
        // A key met twice (only if the table's rows broke the new key's
        // uniqueness) keeps its last row.
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        rest.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        batch_rows.append(&mut rising);
        batch_rows.append(&mut rest);
        Ok(ingested)
    }

    /// A new range for the rows a transaction writes before it commits (a
    /// bulk load into a table it created or truncated), reserved durably as
    /// [`TableStore::reserve`] does: it stays dead unless a batch adopts it
    /// ([`WriteKind::Adopt`]), so a crash or a rollback leaves nothing.
    pub fn reserve_range(&self, table: Oid) -> PgResult<u32> {
        let _writer = self.writer.lock();
        let sid = self.ranges.read().next;
        let next = sid
            .checked_add(1)
            .ok_or_else(|| PgError::internal("table store storage ids are exhausted"))?;
        self.reserve(&[(sid, table)], next)?;
        self.ranges.write().next = next;
        Ok(sid)
    }

    /// Starts writing rows into the reserved range `sid` by ingestion (table
    /// files, no journal), on a thread of its own for all the runs sent to
    /// it ([`RangeLoad::send`]): the session goes on building the next run
    /// meanwhile, and the range becomes one sorted run of table files, which
    /// the engine moves down its levels without rewriting them (an ingestion
    /// per run made a run of files each, merged again by compaction). Keys
    /// must rise. Each row is one version created at LSN 0: until a batch
    /// adopts the range only its transaction reads it, and from then on only
    /// snapshots at or after the adopting commit, which see it whole. The
    /// rows are readable once [`RangeLoad::finish`] returned.
    pub fn load_range(&self, sid: u32) -> PgResult<RangeLoad> {
        let heap = self.heap.clone();
        let dir = self.dir.clone();
        // one run in the thread's hands, at most one waiting to be taken
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(0);
        let (used_tx, used) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
        let thread = std::thread::Builder::new()
            .name("bulk load".into())
            .spawn(move || -> PgResult<()> {
                let err = |e| store_error("write to", &dir, e);
                let mut write = ingest_fn(&heap).map_err(err)?;
                for mut run in rx {
                    let mut r = crate::codec::Reader::new(&run, "bulk load run");
                    while !r.is_empty() {
                        let key = r.bytes()?;
                        let chain = r.bytes()?;
                        write(Some((key, chain))).map_err(err)?;
                    }
                    run.clear();
                    // full: the sender has one to fill already
                    let _ = used_tx.try_send(run);
                }
                write(None).map_err(err)
            })
            .map_err(|e| PgError::io("start a bulk load thread", &e))?;
        Ok(RangeLoad {
            sid,
            last: Vec::new(),
            next: Vec::new(),
            run: crate::codec::Writer {
                buf: Vec::with_capacity(LOAD_RUN_CAPACITY),
            },
            tx: Some(tx),
            used,
            thread: Some(thread),
        })
    }

    /// The rows of table `oid` visible at `snapshot`, in key order, read in
    /// place: `visit` gets each row's `columns`, in that order (None for a
    /// row narrower than `width`, written before an ADD COLUMN), and its
    /// encoded bytes, and returns false to stop. Only commits the store holds
    /// are seen (up to [`TableStore::applied_lsn`]).
    pub fn scan_key_columns(
        &self,
        oid: Oid,
        snapshot: Lsn,
        columns: &[usize],
        width: usize,
        visit: &mut KeyColumnsVisit<'_>,
    ) -> PgResult<()> {
        match self.range_at(oid, snapshot) {
            Some(sid) => self.scan_range_key_columns(sid, snapshot, columns, width, visit),
            None => Ok(()),
        }
    }

    /// [`TableStore::scan_key_columns`] of range `sid`.
    fn scan_range_key_columns(
        &self,
        sid: u32,
        snapshot: Lsn,
        columns: &[usize],
        width: usize,
        visit: &mut KeyColumnsVisit<'_>,
    ) -> PgResult<()> {
        let (mut leading, mut vals) = (Vec::new(), Vec::new());
        for item in self.heap.range(key_bounds(sid, Bound::Unbounded)) {
            let (_, chain) = item
                .into_inner()
                .map_err(|e| store_error("read", &self.dir, e))?;
            let Some(bytes) = visible_encoded(&chain, snapshot)? else {
                continue;
            };
            let wide = key_columns_into(bytes, columns, width, &mut leading, &mut vals)?;
            if !visit(wide.then_some(vals.as_slice()), bytes)? {
                break;
            }
        }
        Ok(())
    }

    /// The row under `key` in the reserved range `sid`.
    pub fn range_get(&self, sid: u32, key: &RowKey) -> PgResult<Option<Row>> {
        let v = self
            .heap
            .get(row_key(sid, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        visible_row(v.as_deref(), Lsn(u64::MAX))
    }

    /// Up to `limit` rows of the reserved range `sid` with keys after
    /// `from`, as [`TableStore::visible_batch`] reads a table.
    pub fn range_batch(
        &self,
        sid: u32,
        from: Bound<&RowKey>,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> PgResult<bool> {
        self.batch_in(sid, from, Lsn(u64::MAX), limit, out)
    }

    /// Gives up the reserved range `sid` of `table` (its transaction rolled
    /// back): dead at once, compaction drops its rows.
    pub fn abandon_range(&self, sid: u32, table: Oid) {
        let _writer = self.writer.lock();
        self.ranges
            .write()
            .retired
            .insert(sid, (table, Lsn::INVALID));
        self.mark_dead(Lsn::INVALID);
    }

    /// The range table `oid` is read from at `snapshot` (see [`Ranges::at`]).
    fn range_at(&self, oid: Oid, snapshot: Lsn) -> Option<u32> {
        let r = self.ranges.read();
        if r.retired.is_empty() {
            return r.tables.get(&oid).copied();
        }
        r.at(oid, snapshot)
    }

    /// The version of `key` in table `oid` visible at `snapshot`, read from the
    /// range the table had then.
    pub fn get(&self, oid: Oid, key: &RowKey, snapshot: Lsn) -> PgResult<Option<Row>> {
        let Some(sid) = self.range_at(oid, snapshot) else {
            return Ok(None);
        };
        let chain = self
            .heap
            .get(row_key(sid, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        visible_row(chain.as_deref(), snapshot)
    }

    /// The latest version of `key` in table `oid` if it is live (whatever any
    /// snapshot sees), with the commit that created it.
    pub fn latest(&self, oid: Oid, key: &RowKey) -> PgResult<Option<(Lsn, Row)>> {
        let Some(sid) = self.range_at(oid, Lsn(u64::MAX)) else {
            return Ok(None);
        };
        let Some(bytes) = self
            .heap
            .get(row_key(sid, key))
            .map_err(|e| store_error("read", &self.dir, e))?
        else {
            return Ok(None);
        };
        let chain = decode_chain(&bytes)?;
        match chain.last() {
            Some(v) if v.live() => Ok(Some((v.created, decode_row(v.row)?))),
            _ => Ok(None),
        }
    }

    /// The number of versions `key` of table `oid` keeps (monitoring, tests).
    pub fn versions(&self, oid: Oid, key: &RowKey) -> PgResult<usize> {
        let Some(sid) = self.range_at(oid, Lsn(u64::MAX)) else {
            return Ok(0);
        };
        let chain = self
            .heap
            .get(row_key(sid, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        Ok(decode_chain(chain.as_deref().unwrap_or_default())?.len())
    }

    /// Copies up to `limit` rows of table `oid` visible at `snapshot`, with keys
    /// after `from`, into `out` in key order (`out.len()` counts toward `limit`, as
    /// in `TableHeap::visible_batch`); returns true when there may be more. Reads
    /// the range the table had at `snapshot`.
    pub fn visible_batch(
        &self,
        oid: Oid,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> PgResult<bool> {
        let Some(sid) = self.range_at(oid, snapshot) else {
            return Ok(false);
        };
        self.batch_in(sid, from, snapshot, limit, out)
    }

    /// [`TableStore::visible_batch`] in range `sid`.
    fn batch_in(
        &self,
        sid: u32,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> PgResult<bool> {
        let err = |e| store_error("read", &self.dir, e);
        for item in self.heap.range(key_bounds(sid, from)) {
            if out.len() >= limit {
                return Ok(true);
            }
            let (k, v) = item.into_inner().map_err(err)?;
            if let Some(row) = visible_row(Some(&v), snapshot)? {
                let (_, key) = split_key(&k)?;
                out.push((key, row));
            }
        }
        Ok(false)
    }

    /// Makes every batch applied so far durable (fsync of fjall's journal), and
    /// forgets dead ranges compaction has emptied.
    pub fn persist(&self) -> PgResult<()> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| store_error("fsync", &self.dir, e))?;
        self.forget_empty_dead_ranges()
    }

    /// Removes the metadata of dead ranges that hold no key any more.
    fn forget_empty_dead_ranges(&self) -> PgResult<()> {
        let _writer = self.writer.lock();
        let err = |e| store_error("read", &self.dir, e);
        let dead: Vec<u32> = self
            .dead
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        let mut empty = Vec::new();
        for sid in dead {
            match self.heap.range(key_bounds(sid, Bound::Unbounded)).next() {
                Some(item) => {
                    item.key().map_err(err)?;
                }
                None => empty.push(sid),
            }
        }
        if empty.is_empty() {
            return Ok(());
        }
        let mut b = self.db.batch();
        for sid in &empty {
            b.remove(&self.meta, meta_key(RETIRED_PREFIX, *sid));
        }
        b.commit()
            .map_err(|e| store_error("write to", &self.dir, e))?;
        let mut r = self.ranges.write();
        let mut d = self.dead.write().unwrap_or_else(|e| e.into_inner());
        for sid in empty {
            r.retired.remove(&sid);
            d.remove(&sid);
        }
        Ok(())
    }

    /// The ranges retired and not yet emptied, with their table and the LSN
    /// that retired them (tests and monitoring).
    pub fn retired_ranges(&self) -> Vec<(Oid, Lsn)> {
        let mut v: Vec<(Oid, Lsn)> = self.ranges.read().retired.values().copied().collect();
        v.sort_unstable();
        v
    }

    /// Compacts the whole store now, which drops the keys of dead ranges
    /// (tests; fjall compacts on its own schedule otherwise).
    pub fn compact(&self) -> PgResult<()> {
        let err = |e| store_error("compact", &self.dir, e);
        self.heap.rotate_memtable_and_wait().map_err(err)?;
        self.heap.major_compact().map_err(err)
    }

    /// A consistent view of the whole store as of now, with its `applied_lsn`.
    pub fn snapshot(&self) -> PgResult<StoreSnapshot> {
        // The writer lock keeps a batch from landing between the reads below;
        // the fjall snapshot alone is already consistent.
        let _writer = self.writer.lock();
        let snap = self.db.snapshot();
        let applied_lsn = match snap
            .get(&self.meta, APPLIED_LSN_KEY)
            .map_err(|e| store_error("read", &self.dir, e))?
        {
            Some(v) => lsn_value(&v)?,
            None => Lsn::INVALID,
        };
        let mut tables: Vec<(Oid, u32)> = self
            .ranges
            .read()
            .tables
            .iter()
            .map(|(o, s)| (*o, *s))
            .collect();
        tables.sort_unstable();
        Ok(StoreSnapshot {
            applied_lsn,
            tables,
            snap,
            heap: self.heap.clone(),
            dir: self.dir.clone(),
        })
    }

    /// Bytes the store takes on disk.
    pub fn disk_space(&self) -> PgResult<u64> {
        self.db
            .disk_space()
            .map_err(|e| store_error("read", &self.dir, e))
    }
}

/// Fills an empty store with another store's rows as a [`StoreSnapshot`]
/// listed them (`tandem basebackup`): entries in table then key order, each
/// table given the next storage id, every key written by fjall's ingestion
/// (straight into table files, nothing held in memory); [`finish`] maps the
/// tables, sets `applied_lsn` and persists.
///
/// [`finish`]: StoreRestore::finish
pub struct StoreRestore<'a> {
    store: &'a TableStore,
    /// fjall's ingestion (its type is not exported), started at the first
    /// key: `Some((key, chain))` writes, `None` finishes.
    ingestion: Option<IngestFn<'a>>,
    /// The tables restored so far with their new storage ids, in order.
    tables: Vec<(Oid, u32)>,
    /// The last key written (storage id ++ row key): keys must rise.
    last: Vec<u8>,
    rows: u64,
}

type IngestFn<'a> = Box<dyn FnMut(Option<(&[u8], &[u8])>) -> fjall::Result<()> + 'a>;

/// An ingestion into `heap` as an [`IngestFn`].
fn ingest_fn(heap: &Keyspace) -> fjall::Result<IngestFn<'_>> {
    let mut ingestion = Some(heap.start_ingestion()?);
    Ok(Box::new(move |item| match (item, ingestion.as_mut()) {
        (Some((key, chain)), Some(i)) => i.write(key, chain),
        (None, _) => ingestion.take().map_or(Ok(()), |i| i.finish()),
        (Some(_), None) => Err(fjall::Error::Poisoned),
    }))
}

impl TableStore {
    /// Starts a [`StoreRestore`]; the store must be empty (just created).
    pub fn restore(&self) -> PgResult<StoreRestore<'_>> {
        let empty = {
            let r = self.ranges.read();
            r.tables.is_empty() && r.retired.is_empty()
        };
        if !empty || self.applied_lsn() != Lsn::INVALID {
            return Err(PgError::internal(format!(
                "table store \"{}\" is not empty",
                self.dir.display()
            )));
        }
        Ok(StoreRestore {
            store: self,
            ingestion: None,
            tables: Vec::new(),
            last: Vec::new(),
            rows: 0,
        })
    }
}

impl<'a> StoreRestore<'a> {
    /// Writes one key of table `table` (`key`: the row key's bytes) with its
    /// encoded version chain, as [`SnapshotEntry`] carries them.
    pub fn push(&mut self, table: Oid, key: &[u8], chain: &[u8]) -> PgResult<()> {
        let out_of_order = || corrupt("table store stream (keys out of order)");
        if table == Oid(0) {
            return Err(corrupt(WHAT));
        }
        decode_chain(chain)?;
        let sid = match self.tables.last() {
            Some(&(t, sid)) if t == table => sid,
            last => {
                if self.tables.iter().any(|&(t, _)| t == table) {
                    return Err(out_of_order());
                }
                let sid = last.map_or(FIRST_STORAGE, |&(_, sid)| sid + 1);
                self.tables.push((table, sid));
                sid
            }
        };
        let full = row_key(sid, &RowKey::new(key));
        if full <= self.last {
            return Err(out_of_order());
        }
        let err = |e| store_error("write to", &self.store.dir, e);
        if self.ingestion.is_none() {
            self.ingestion = Some(ingest_fn(&self.store.heap).map_err(err)?);
        }
        if let Some(write) = self.ingestion.as_mut() {
            write(Some((full.as_slice(), chain))).map_err(err)?;
        }
        self.last = full;
        self.rows += 1;
        Ok(())
    }

    /// Ends the restore: the rows are in table files, the tables mapped to
    /// their ranges, `applied_lsn` set, all durable. Returns the rows written.
    pub fn finish(self, applied_lsn: Lsn) -> PgResult<u64> {
        let store = self.store;
        let err = |e| store_error("write to", &store.dir, e);
        if let Some(mut finish) = self.ingestion {
            finish(None).map_err(err)?;
        }
        let next = self
            .tables
            .last()
            .map_or(FIRST_STORAGE, |&(_, sid)| sid + 1);
        let mut b = store.db.batch();
        for &(table, sid) in &self.tables {
            b.insert(
                &store.meta,
                meta_key(TABLE_PREFIX, table.0),
                sid.to_le_bytes().as_slice(),
            );
        }
        b.insert(&store.meta, NEXT_STORAGE_KEY, next.to_le_bytes().as_slice());
        b.insert(
            &store.meta,
            APPLIED_LSN_KEY,
            applied_lsn.0.to_le_bytes().as_slice(),
        );
        b.commit().map_err(err)?;
        {
            let mut r = store.ranges.write();
            r.tables.extend(self.tables.iter().copied());
            r.next = next;
        }
        store.applied.store(applied_lsn.0, Ordering::Release);
        store
            .db
            .persist(PersistMode::SyncAll)
            .map_err(|e| store_error("fsync", &store.dir, e))?;
        Ok(self.rows)
    }
}

/// A consistent, frozen view of the store (what a base backup streams). It pins
/// the versions it can see against compaction while it lives.
pub struct StoreSnapshot {
    applied_lsn: Lsn,
    /// Every table's current range as of the view, in oid order.
    tables: Vec<(Oid, u32)>,
    snap: fjall::Snapshot,
    heap: Keyspace,
    dir: PathBuf,
}

/// One key of a [`StoreSnapshot`]: the row key and its encoded version chain (the
/// stored bytes, as a receiver would store them again).
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotEntry {
    pub table: Oid,
    pub key: RowKey,
    pub chain: Vec<u8>,
}

impl SnapshotEntry {
    /// The row this entry's chain shows `snapshot`, if any.
    pub fn visible(&self, snapshot: Lsn) -> PgResult<Option<Row>> {
        visible_row(Some(&self.chain), snapshot)
    }
}

impl StoreSnapshot {
    /// The store's `applied_lsn` in this view: WAL from here on completes it.
    pub fn applied_lsn(&self) -> Lsn {
        self.applied_lsn
    }

    /// Every row key of the view's tables, in table oid then key order
    /// (metadata and retired ranges are left out).
    pub fn entries(&self) -> impl Iterator<Item = PgResult<SnapshotEntry>> + '_ {
        self.tables.iter().flat_map(move |&(table, sid)| {
            self.snap
                .range(&self.heap, key_bounds(sid, Bound::Unbounded))
                .map(move |item| {
                    let (k, v) = item
                        .into_inner()
                        .map_err(|e| store_error("read", &self.dir, e))?;
                    let (_, key) = split_key(&k)?;
                    Ok(SnapshotEntry {
                        table,
                        key,
                        chain: v.to_vec(),
                    })
                })
        })
    }

    /// The version of `key` in table `oid` visible at `snapshot`, as of this view.
    pub fn get(&self, oid: Oid, key: &RowKey, snapshot: Lsn) -> PgResult<Option<Row>> {
        let Ok(i) = self.tables.binary_search_by_key(&oid, |&(o, _)| o) else {
            return Ok(None);
        };
        let chain = self
            .snap
            .get(&self.heap, row_key(self.tables[i].1, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        visible_row(chain.as_deref(), snapshot)
    }
}

#[cfg(test)]
mod tests;
