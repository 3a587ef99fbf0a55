//! The on-disk table store: tables' version chains in one fjall keyspace, so that
//! tables can outgrow memory behind a bounded cache (`docs/storage.md`, "The table
//! store"; the engine choice is §9 there).
//!
//! ```text
//! keyspace "heap":  oid u32 BE ++ RowKey  ->  chain (created, deleted, row)*
//!                   0u32 ++ "applied_lsn" ->  u64 LE
//! ```
//! It owns the fjall database under its directory: opening it (fjall replays its
//! journal), applying batches of committed writes, reads at a snapshot LSN, making
//! it durable, dropping a table's keys, and consistent snapshots of the whole store.
//!
//! Rules kept here, each in one place:
//! - a batch ([`StoreBatch`]) is one atomic fjall batch: every key it writes and
//!   the new `applied_lsn`; after a crash the store holds exactly the batches up
//!   to its `applied_lsn` (fjall writes its journal in order and recovers a
//!   prefix of it);
//! - a key's new chain comes from `heap.rs`'s chain rule ([`write_chain`]) and a
//!   read sees what `heap.rs`'s visibility rule ([`visible_version`]) says, so
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

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fjall::{Keyspace, KeyspaceCreateOptions, PersistMode, Readable};
use parking_lot::Mutex;
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState};

use crate::codec::corrupt;
use crate::heap::{visible_version, write_chain, ChainWrite, Row};
use crate::RowKey;

use chain::{
    decode_chain, decode_row, encode_chain, encode_row, row_key, split_key, table_end, table_start,
    APPLIED_LSN_KEY, WHAT,
};

/// Keys removed per fjall batch when a table is dropped.
const DROP_BATCH: usize = 10_000;

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

/// One committed write to one row.
#[derive(Clone, Debug)]
pub struct StoreWrite {
    pub table: Oid,
    pub key: RowKey,
    /// End LSN of the COMMIT record: the version's stamp.
    pub commit: Lsn,
    pub write: ChainWrite<Row>,
}

/// Writes applied atomically, together with the store's new `applied_lsn`.
#[derive(Clone, Debug, Default)]
pub struct StoreBatch {
    /// The store's `applied_lsn` once the batch is in: where WAL replay resumes.
    pub applied_lsn: Lsn,
    /// The oldest snapshot that can still read the store: versions deleted at or
    /// before it are pruned from the chains the batch writes.
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
        self.writes.push(StoreWrite {
            table,
            key,
            commit,
            write: ChainWrite::Put(row),
        });
    }

    /// The row of `key` is deleted (or moved to another key by an update).
    pub fn delete(&mut self, table: Oid, key: RowKey, commit: Lsn) {
        self.writes.push(StoreWrite {
            table,
            key,
            commit,
            write: ChainWrite::Delete,
        });
    }
}

/// The on-disk table store (see the module header).
pub struct TableStore {
    dir: PathBuf,
    db: fjall::Database,
    heap: Keyspace,
    /// Mirrors the `applied_lsn` key as of the last batch.
    applied: AtomicU64,
    /// Serializes writers: a chain is read, changed and written back.
    writer: Mutex<()>,
}

/// How a fjall failure reads as a PostgreSQL error: an I/O failure is
/// `58030 could not <what> table store "<dir>": <os error>`, anything else (bad
/// checksums, undecodable blocks, an unrecoverable journal) is `XX001`.
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
    let chain = decode_chain(chain.unwrap_or_default())?;
    visible_version(&chain, snapshot)
        .map(|v| decode_row(v.row))
        .transpose()
}

/// The key range of table `oid`, starting at `from` within it.
fn table_range(oid: Oid, from: Bound<&RowKey>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lo = match from {
        Bound::Unbounded => Bound::Included(table_start(oid)),
        Bound::Included(k) => Bound::Included(row_key(oid, k)),
        Bound::Excluded(k) => Bound::Excluded(row_key(oid, k)),
    };
    let hi = match table_end(oid) {
        Some(end) => Bound::Excluded(end),
        None => Bound::Unbounded,
    };
    (lo, hi)
}

impl TableStore {
    /// Opens the store in `dir`, creating it if it does not exist. A store that was
    /// not persisted before a crash comes back as a prefix of its batches.
    pub fn open(dir: &Path, opts: StoreOptions) -> PgResult<TableStore> {
        let err = |e| store_error("open", dir, e);
        let db = fjall::Database::builder(dir)
            .cache_size(opts.cache_bytes)
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
        let applied = match heap.get(APPLIED_LSN_KEY).map_err(err)? {
            Some(v) => lsn_value(&v)?,
            None => Lsn::INVALID,
        };
        Ok(TableStore {
            dir: dir.to_path_buf(),
            db,
            heap,
            applied: AtomicU64::new(applied.0),
            writer: Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The WAL position up to which commits are in the store: replay resumes there.
    pub fn applied_lsn(&self) -> Lsn {
        Lsn(self.applied.load(Ordering::Acquire))
    }

    /// Applies `batch` atomically: every write by the chain rule, and the new
    /// `applied_lsn`. Not durable until [`TableStore::persist`].
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
        // Chains written by this batch so far (empty = key removed), and whether
        // the key existed in the store before the batch.
        let mut pending: HashMap<Vec<u8>, (bool, Vec<u8>)> = HashMap::new();
        for w in &batch.writes {
            if w.table == Oid(0) {
                return Err(PgError::internal("table store write to table oid 0"));
            }
            let key = row_key(w.table, &w.key);
            let (existed, old) = match pending.remove(&key) {
                Some(p) => p,
                None => match self.heap.get(&key).map_err(read_err)? {
                    Some(v) => (true, v.to_vec()),
                    None => (false, Vec::new()),
                },
            };
            let new_row;
            let write = match &w.write {
                ChainWrite::Put(row) => {
                    new_row = encode_row(row);
                    ChainWrite::Put(new_row.as_slice())
                }
                ChainWrite::Delete => ChainWrite::Delete,
            };
            let mut chain = decode_chain(&old)?;
            write_chain(&mut chain, write, w.commit, batch.horizon);
            let new = if chain.is_empty() {
                Vec::new()
            } else {
                encode_chain(&chain)
            };
            pending.insert(key, (existed, new));
        }
        let mut b = self.db.batch();
        for (key, (existed, chain)) in pending {
            if !chain.is_empty() {
                b.insert(&self.heap, key, chain);
            } else if existed {
                b.remove(&self.heap, key);
            }
        }
        b.insert(
            &self.heap,
            APPLIED_LSN_KEY,
            batch.applied_lsn.0.to_le_bytes().as_slice(),
        );
        b.commit()
            .map_err(|e| store_error("write to", &self.dir, e))?;
        self.applied.store(batch.applied_lsn.0, Ordering::Release);
        Ok(())
    }

    /// The version of `key` in table `oid` visible at `snapshot`.
    pub fn get(&self, oid: Oid, key: &RowKey, snapshot: Lsn) -> PgResult<Option<Row>> {
        let chain = self
            .heap
            .get(row_key(oid, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        visible_row(chain.as_deref(), snapshot)
    }

    /// Copies up to `limit` rows of table `oid` visible at `snapshot`, with keys
    /// after `from`, into `out` in key order (`out.len()` counts toward `limit`, as
    /// in `TableHeap::visible_batch`); returns true when there may be more.
    pub fn visible_batch(
        &self,
        oid: Oid,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> PgResult<bool> {
        let err = |e| store_error("read", &self.dir, e);
        for item in self.heap.range(table_range(oid, from)) {
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

    /// Makes every batch applied so far durable (fsync of fjall's journal).
    pub fn persist(&self) -> PgResult<()> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| store_error("fsync", &self.dir, e))
    }

    /// Removes every key of table `oid`. Only for a table no snapshot can read any
    /// more (its DROP committed before the horizon); not atomic as a whole and not
    /// tied to `applied_lsn`, so after a crash it is simply done again.
    pub fn drop_table(&self, oid: Oid) -> PgResult<()> {
        if oid == Oid(0) {
            return Err(PgError::internal("table store drop of table oid 0"));
        }
        let _writer = self.writer.lock();
        let read_err = |e| store_error("read", &self.dir, e);
        loop {
            let mut keys = Vec::with_capacity(DROP_BATCH);
            for item in self.heap.range(table_range(oid, Bound::Unbounded)) {
                keys.push(item.key().map_err(read_err)?);
                if keys.len() >= DROP_BATCH {
                    break;
                }
            }
            if keys.is_empty() {
                return Ok(());
            }
            let mut b = self.db.batch();
            for k in keys {
                b.remove(&self.heap, k);
            }
            b.commit()
                .map_err(|e| store_error("write to", &self.dir, e))?;
        }
    }

    /// A consistent view of the whole store as of now, with its `applied_lsn`.
    pub fn snapshot(&self) -> PgResult<StoreSnapshot> {
        // The writer lock keeps a batch from landing between the two reads below;
        // the fjall snapshot alone is already consistent.
        let _writer = self.writer.lock();
        let snap = self.db.snapshot();
        let applied_lsn = match snap
            .get(&self.heap, APPLIED_LSN_KEY)
            .map_err(|e| store_error("read", &self.dir, e))?
        {
            Some(v) => lsn_value(&v)?,
            None => Lsn::INVALID,
        };
        Ok(StoreSnapshot {
            applied_lsn,
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

/// A consistent, frozen view of the store (what a base backup streams). It pins
/// the versions it can see against compaction while it lives.
pub struct StoreSnapshot {
    applied_lsn: Lsn,
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

    /// Every table key of the view in key order (metadata keys are left out).
    pub fn entries(&self) -> impl Iterator<Item = PgResult<SnapshotEntry>> + '_ {
        let first_table = table_start(Oid(1));
        self.snap.range(&self.heap, first_table..).map(move |item| {
            let (k, v) = item
                .into_inner()
                .map_err(|e| store_error("read", &self.dir, e))?;
            let (table, key) = split_key(&k)?;
            Ok(SnapshotEntry {
                table,
                key,
                chain: v.to_vec(),
            })
        })
    }

    /// The version of `key` in table `oid` visible at `snapshot`, as of this view.
    pub fn get(&self, oid: Oid, key: &RowKey, snapshot: Lsn) -> PgResult<Option<Row>> {
        let chain = self
            .snap
            .get(&self.heap, row_key(oid, key))
            .map_err(|e| store_error("read", &self.dir, e))?;
        visible_row(chain.as_deref(), snapshot)
    }
}

#[cfg(test)]
mod tests;
