//! A transaction: snapshot, private write set, row locks, DDL, commit.
//!
//! Reads merge the private write set over the heap as of the snapshot. Writes go
//! to the write set only: `overlay` (per table, key -> new row or deletion) is what
//! this transaction's reads see, `ops` is the list of changes in statement order
//! that commit logs to WAL and applies to the heap.
//!
//! Row locks (see `locks.rs`): inserting a primary key and `lock_row` before
//! UPDATE/DELETE take the row's lock, waiting for another writer to finish, then
//! look at the latest committed version (PostgreSQL's EvalPlanQual):
//! - unchanged since the snapshot: go ahead;
//! - READ COMMITTED: a newer version is returned for the caller to re-check
//!   (`LockResult::Updated`), a deletion makes the caller skip the row;
//! - REPEATABLE READ / SERIALIZABLE: `40001 could not serialize access ...`.
//!
//! Tables created, truncated or re-keyed by this transaction are "shadowed": its
//! reads ignore the heap for them and need no row locks (nobody else can see the
//! new contents before commit). DDL takes the global DDL lock (held to the end) and
//! changes a private copy of the latest catalog. Transactional logical decoding
//! messages (`pg_logical_emit_message(true, ...)`) are queued beside `ops` and
//! logged among its changes in emission order. PostgreSQL counterparts: `xact.c`,
//! `heapam.c` (heap_update/heap_lock_tuple), `nodeModifyTable.c` (EPQ),
//! `replication/logical/message.c`.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tandem_types::{Lsn, Oid, PgError, PgResult, PgTimestamp, SqlState, Value, Xid};

use crate::catalog::{apply_op, CatalogOp, DatabaseDef};
use crate::codec::Writer;
use crate::display::values_text;
use crate::heap::Row;
use crate::keycode::{encode_key, encode_key_into, rowid_key};
use crate::locks::{LockTag, WaitOptions};
use crate::mvcc::overlay::OverlayRows;
use crate::mvcc::spill::{InsertRun, SpillFile};
use crate::record::{self, Change, CommitOrigin, CommitRecord, MessageRecord, OldTuple};
use crate::store::RangeLoad;
use crate::{
    Catalog, Database, IsolationLevel, KeyBytes, LockResult, PrimaryKey, PublicationDef,
    ReplicaIdentity, RoleDef, RowKey, SequenceDef, SubscriptionDef, SubscriptionRelState, TableDef,
};

/// Rows a scan copies out of the heap and the table store per step (the
/// recent heap's lock is held only while its part is copied; each step
/// opens a new store iterator).
const SCAN_BATCH: usize = 1024;

/// [`SCAN_BATCH`] of the reads that go over a whole table with no visitor
/// calling back (ADD PRIMARY KEY's checks).
const TABLE_READ_BATCH: usize = 4096;

/// Estimated bytes of a run of inserts into a table this transaction
/// created or truncated above which the run moves to the table store before
/// the commit (see [`Transaction::spill`]); `Database::set_bulk_spill_bytes`
/// changes it for tests.
pub const BULK_SPILL_BYTES: usize = 8 << 20;

/// Records handed to the WAL per piece when a commit reads its bulk loaded
/// rows back.
const COMMIT_PIECE: usize = 4096;

/// Rows streamed to the store between two calls for WAL segments
/// ([`Wal::preallocate`](tandem_wal::Wal::preallocate)).
const STREAM_PREALLOCATE_ROWS: usize = 16384;

/// This process's id, asked of the kernel once (each transaction names it;
/// `getpid` is a system call).
fn process_id() -> i32 {
    static PID: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *PID.get_or_init(|| std::process::id() as i32)
}

/// ADD PRIMARY KEY's error for a NULL in key column `i` (of the key).
fn new_key_null(def: &TableDef, pk: &PrimaryKey, i: usize) -> PgError {
    let col = def
        .columns
        .get(pk.columns.get(i).copied().unwrap_or(usize::MAX))
        .map_or("?", |c| c.name.as_str());
    PgError::new(
        SqlState::NOT_NULL_VIOLATION,
        format!(
            "column \"{col}\" of relation \"{}\" contains null values",
            def.name
        ),
    )
}

/// ADD PRIMARY KEY's error for key values `vals` met twice.
fn new_key_duplicated(def: &TableDef, pk: &PrimaryKey, vals: &[Value]) -> PgError {
    PgError::new(
        SqlState::UNIQUE_VIOLATION,
        format!("could not create unique index \"{}\"", pk.name),
    )
    .with_detail(format!(
        "Key ({})=({}) is duplicated.",
        key_columns(def, pk),
        values_text(vals)
    ))
}

/// The xid PostgreSQL's first user transaction gets in a fresh cluster is in the
/// 700s; we start here so outputs look familiar.
pub const FIRST_XID: u32 = 740;

#[derive(Clone, Default)]
struct TableOverlay {
    /// Ignore the heap (created, truncated or re-keyed by this transaction).
    shadow: bool,
    rows: OverlayRows,
    /// ADD PRIMARY KEY by this transaction, not yet applied to `shadow` and
    /// `rows` (which are still the table's write set before it): the table
    /// reads as its rows re-keyed by this key. Applied when the transaction
    /// next writes the table ([`Transaction::settle`]); a transaction that
    /// commits right after the ALTER never builds the re-keyed rows (the
    /// table store re-keys the table at commit).
    rekey: Option<PrimaryKey>,
    /// The re-keyed overlay once a read needed it (kept for the next reads
    /// and for [`Transaction::settle`]).
    rekeyed: OnceCell<Box<TableOverlay>>,
    /// The table store range holding this transaction's rows of the table
    /// that moved there before the commit (a bulk load: [`Spilled`]); with
    /// `shadow`, reads look there under `rows` instead of in the heap.
    bulk: Option<u32>,
}

/// A run of inserts moved to the table store (range `sid`) before the
/// commit; its `records` INSERT records wait in the transaction's spill file
/// (after those of the runs before it). At commit they go into the WAL in
/// their place among the others, and the range becomes the table's.
struct Spilled {
    /// Logged before `ops[at]`.
    at: usize,
    /// `messages.len()` when it moved: logged after those messages.
    seq: usize,
    table: Oid,
    sid: u32,
    records: usize,
}

impl TableOverlay {
    /// The overlay reads merge: this one, or the re-keyed one if a re-key is
    /// pending (built by the first read that needs it).
    fn effective(&self, txn: &Transaction, table: Oid) -> PgResult<&TableOverlay> {
        let Some(pk) = &self.rekey else {
            return Ok(self);
        };
        if self.rekeyed.get().is_none() {
            let _ = self.rekeyed.set(Box::new(txn.rekeyed(table, pk)?));
        }
        self.rekeyed
            .get()
            .map(|b| &**b)
            .ok_or_else(|| PgError::internal("re-keyed rows missing"))
    }
}

mod fk;
mod index;

/// A point to roll back to inside a transaction (SAVEPOINT). Rolling back undoes
/// the writes and DDL made after it; row locks taken since stay held until the
/// transaction ends, and `nextval` calls are never undone (as in PostgreSQL).
pub struct Savepoint {
    ops_len: usize,
    fk_len: usize,
    messages_len: usize,
    overlay: HashMap<Oid, TableOverlay>,
    ddl_catalog: Option<Arc<Catalog>>,
}

/// A transaction. Dropping it without `commit` rolls it back.
pub struct Transaction {
    db: Arc<Database>,
    isolation: IsolationLevel,
    read_only: bool,
    xid: Option<Xid>,
    snapshot: Lsn,
    snapshot_id: u64,
    /// RR/SERIALIZABLE: the first statement has taken the transaction snapshot.
    snapshot_fixed: bool,
    /// Catalog as of the snapshot (when this transaction did no DDL).
    snapshot_catalog: Arc<Catalog>,
    /// Private catalog of a DDL transaction.
    ddl_catalog: Option<Arc<Catalog>>,
    overlay: HashMap<Oid, TableOverlay>,
    ops: Vec<Change>,
    /// Transactional messages, each with `ops.len()` when it was emitted (it is
    /// logged before `ops[n]`).
    messages: Vec<(usize, MessageRecord)>,
    cancel: Option<Arc<AtomicBool>>,
    pid: i32,
    origin: Option<CommitOrigin>,
    /// Sequences this transaction registered in `Database::pending_sequences`.
    pending_sequences: Vec<Oid>,
    /// The run of inserts `ops` ends with, if any.
    run: Option<InsertRun>,
    /// Runs of inserts moved to the table store, in the order they moved.
    spilled: Vec<Spilled>,
    /// Their records, in that order.
    spill_file: Option<SpillFile>,
    /// The bulk ranges still being written, by storage id: finished before
    /// anything reads them (this transaction, or its commit).
    loads: std::cell::RefCell<HashMap<u32, RangeLoad>>,
    /// Tables whose ADD PRIMARY KEY wrote their re-keyed rows into a range
    /// of `spilled` ([`Transaction::prekey`]), with that range.
    prekeyed: Vec<(Oid, u32)>,
    /// A savepoint was taken: runs stay in memory (a rollback to it must be
    /// able to forget them).
    savepoint_taken: std::cell::Cell<bool>,
    /// Where records moved to the store are encoded, one after the other.
    spill_scratch: Writer,
    /// The current row [`Transaction::lock_row`] found for the key it
    /// locked, for the UPDATE or DELETE of that row that follows (no second
    /// read: nobody else can change the row while the lock is held).
    locked: Option<(Oid, RowKey, Row)>,
    /// The catalog of this transaction's first row write: the secondary
    /// indexes it maintains are that catalog's, which the commit checks
    /// against the latest ([`Database::check_index_writes`]).
    write_catalog: Option<Arc<Catalog>>,
    /// The committed catalog under that first row write (this
    /// transaction's own DDL not in it): the column types its rows were
    /// built for, which the commit checks against the latest.
    write_base: Option<Arc<Catalog>>,
    /// Relations a statement with data-modifying WITH reads as they were
    /// before its WITH queries ran ([`Transaction::freeze_reads`]), each
    /// with this transaction's overlay of it then (None: none).
    frozen: HashMap<Oid, Option<TableOverlay>>,
    /// Tables a CREATE INDEX of this transaction read, watched for commits
    /// of others until this one commits ([`Database::start_prekey`]).
    watched: Vec<Oid>,
    /// Foreign key checks this statement's row writes queued, run when
    /// it ends (`fk.rs`).
    fk_pending: Vec<fk::FkCheck>,
    /// Whether row writes check foreign keys (off for the apply worker).
    fk_checks: bool,
    finished: bool,
}

fn read_only_error(what: &str) -> PgError {
    PgError::new(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        format!("cannot execute {what} in a read-only transaction"),
    )
}

fn no_table(oid: Oid) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation with OID {oid} does not exist"),
    )
}

fn concurrent(what: &str) -> PgError {
    PgError::new(
        SqlState::T_R_SERIALIZATION_FAILURE,
        format!("could not serialize access due to concurrent {what}"),
    )
}

fn key_columns(def: &TableDef, pk: &PrimaryKey) -> String {
    column_names(def, &pk.columns)
}

/// The names of columns `columns` of `def`, comma-separated (as a DETAIL
/// names a key).
fn column_names(def: &TableDef, columns: &[usize]) -> String {
    columns
        .iter()
        .map(|&c| def.columns.get(c).map_or("?", |col| col.name.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_values(pk: &PrimaryKey, row: &[Value]) -> Vec<Value> {
    pk.columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
}

fn duplicate_key(def: &TableDef, pk: &PrimaryKey, row: &[Value]) -> PgError {
    duplicate_entry(def, &pk.name, &key_columns(def, pk), &key_values(pk, row))
}

/// `23505`: a row of `def` with these values of the columns named already
/// exists.
fn duplicate_entry(def: &TableDef, constraint: &str, columns: &str, values: &[Value]) -> PgError {
    PgError::new(
        SqlState::UNIQUE_VIOLATION,
        format!("duplicate key value violates unique constraint \"{constraint}\""),
    )
    .with_detail(format!(
        "Key ({columns})=({}) already exists.",
        values_text(values)
    ))
    .with_constraint(&def.schema, &def.name, constraint)
}

impl Transaction {
    pub(crate) fn new(
        db: Arc<Database>,
        isolation: IsolationLevel,
        read_only: bool,
    ) -> Transaction {
        let (snapshot_id, snapshot) = db.snapshots.take(&db, None);
        let snapshot_catalog = db.catalog_at(snapshot);
        Transaction {
            db,
            isolation,
            read_only,
            xid: None,
            snapshot,
            snapshot_id,
            snapshot_fixed: false,
            snapshot_catalog,
            ddl_catalog: None,
            overlay: HashMap::new(),
            ops: Vec::new(),
            messages: Vec::new(),
            cancel: None,
            pid: process_id(),
            origin: None,
            pending_sequences: Vec::new(),
            run: None,
            spilled: Vec::new(),
            spill_file: None,
            loads: std::cell::RefCell::new(HashMap::new()),
            prekeyed: Vec::new(),
            write_catalog: None,
            write_base: None,
            frozen: HashMap::new(),
            watched: Vec::new(),
            fk_pending: Vec::new(),
            fk_checks: true,
            savepoint_taken: std::cell::Cell::new(false),
            spill_scratch: Writer::new(),
            locked: None,
            finished: false,
        }
    }

    pub fn xid(&self) -> Option<Xid> {
        self.xid
    }

    pub fn assign_xid(&mut self) -> Xid {
        match self.xid {
            Some(x) => x,
            None => {
                let x = self.db.allocate_xid();
                self.xid = Some(x);
                x
            }
        }
    }

    pub fn isolation(&self) -> IsolationLevel {
        self.isolation
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn set_cancel_flag(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = Some(flag);
    }

    /// The backend pid named in deadlock reports (defaults to the process id).
    pub fn set_pid(&mut self, pid: i32) {
        self.pid = pid;
    }

    /// Replication origin recorded in the COMMIT record (subscription apply).
    pub fn set_origin(&mut self, origin: Option<CommitOrigin>) {
        self.origin = origin;
    }

    /// Starts a statement: READ COMMITTED takes a fresh snapshot; REPEATABLE READ
    /// takes its one snapshot at its first statement, as PostgreSQL does.
    pub fn start_statement(&mut self) {
        self.locked = None;
        if self.isolation == IsolationLevel::ReadCommitted || !self.snapshot_fixed {
            let (_, lsn) = self.db.snapshots.take(&self.db, Some(self.snapshot_id));
            self.snapshot = lsn;
            self.snapshot_catalog = self.db.catalog_at(lsn);
            self.snapshot_fixed = true;
        }
    }

    pub fn snapshot_lsn(&self) -> Lsn {
        self.snapshot
    }

    /// Has the transaction snapshot been taken (a REPEATABLE READ statement
    /// ran, or [`Transaction::set_snapshot`])? PostgreSQL's `FirstSnapshotSet`.
    pub fn snapshot_taken(&self) -> bool {
        self.snapshot_fixed
    }

    /// Makes this REPEATABLE READ transaction read exactly the commits that
    /// ended at or before `lsn`, a boundary between transactions at or
    /// before the end of WAL (a logical slot's consistent point: the
    /// walsender's `CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')`). Only
    /// before the snapshot was taken, and `lsn` must not be older than the
    /// snapshot registered when the transaction began (which keeps pruning
    /// from removing what `lsn` sees). Waits for WAL up to `lsn` to be
    /// durable and for every commit appended before now to be applied.
    pub fn set_snapshot(&mut self, lsn: Lsn) -> PgResult<()> {
        if self.snapshot_fixed {
            return Err(PgError::internal(
                "cannot set the snapshot of a transaction after its first query",
            ));
        }
        if lsn < self.snapshot || lsn > self.db.wal.insert_lsn() {
            return Err(PgError::internal(format!(
                "snapshot {lsn} is outside {}..{}",
                self.snapshot,
                self.db.wal.insert_lsn()
            )));
        }
        if !self.db.in_recovery() {
            self.db.wal.flush(lsn)?;
        }
        // Commits append and apply under the commit lock: once we hold it,
        // every commit that ended at or before `lsn` is in the heap.
        drop(self.db.commit_lock.lock());
        self.db.snapshots.set(self.snapshot_id, lsn);
        self.snapshot = lsn;
        self.snapshot_catalog = self.db.catalog_at(lsn);
        self.snapshot_fixed = true;
        Ok(())
    }

    /// Has this transaction written anything (rows, catalog or transactional
    /// messages)?
    pub fn has_writes(&self) -> bool {
        !self.ops.is_empty() || !self.messages.is_empty() || !self.spilled.is_empty()
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.ddl_catalog
            .clone()
            .unwrap_or_else(|| self.snapshot_catalog.clone())
    }

    fn cat(&self) -> &Catalog {
        self.ddl_catalog
            .as_deref()
            .unwrap_or(&self.snapshot_catalog)
    }

    fn table_def(&self, table: Oid) -> PgResult<Arc<TableDef>> {
        self.cat()
            .tables
            .get(&table)
            .cloned()
            .ok_or_else(|| no_table(table))
    }

    fn wait_options(&self) -> WaitOptions<'_> {
        WaitOptions {
            pid: self.pid,
            cancel: self.cancel.as_deref(),
            deadlock_timeout: self.db.deadlock_timeout(),
        }
    }

    fn check_cancel(&self) -> PgResult<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(crate::locks::canceled());
        }
        Ok(())
    }

    fn pad(&self, table: Oid, row: &Row) -> Row {
        match self.cat().pad_row(table, row) {
            Some(p) => p.into(),
            None => row.clone(),
        }
    }

    /// This transaction's overlay of `table` as reads merge it (a pending
    /// re-key applied).
    fn overlay_of(&self, table: Oid) -> PgResult<Option<&TableOverlay>> {
        let overlay = match self.frozen_overlay(table) {
            Some(then) => then.as_ref(),
            None => self.overlay.get(&table),
        };
        match overlay {
            Some(o) => o.effective(self, table).map(Some),
            None => Ok(None),
        }
    }

    /// The row at `key` as this transaction sees it (unpadded).
    fn visible(&self, table: Oid, key: &RowKey) -> PgResult<Option<Row>> {
        let overlay = self.overlay_of(table)?;
        if let Some(o) = overlay {
            if let Some(entry) = o.rows.get(key) {
                return Ok(entry.clone());
            }
            if o.shadow {
                return self.bulk_row(o, key);
            }
        }
        self.db.heap.get(table, key, self.snapshot)
    }

    // ---- reads ----

    /// Visits every visible row in key order; the visitor returns `Ok(false)` to stop.
    pub fn scan(
        &self,
        table: Oid,
        visit: &mut dyn FnMut(&RowKey, &[Value]) -> PgResult<bool>,
    ) -> PgResult<()> {
        self.scan_rows(table, &mut |key, row| visit(key, row))
    }

    /// [`Transaction::scan`] of the rows with keys after `after` (all rows
    /// when `None`): a scan taken up again where a visitor stopped it.
    /// The visitor gets the shared rows themselves (keeping one is cheap).
    pub fn scan_after(
        &self,
        table: Oid,
        after: Option<&RowKey>,
        visit: &mut dyn FnMut(&RowKey, &Row) -> PgResult<bool>,
    ) -> PgResult<()> {
        let overlay = self.overlay_of(table)?;
        let lower = after.map_or(Bound::Unbounded, |k| Bound::Excluded(k.clone()));
        self.scan_merged_from(table, overlay, lower, SCAN_BATCH, visit)
    }

    /// [`Transaction::scan`] handing out the shared rows themselves.
    fn scan_rows(
        &self,
        table: Oid,
        visit: &mut dyn FnMut(&RowKey, &Row) -> PgResult<bool>,
    ) -> PgResult<()> {
        let overlay = self.overlay_of(table)?;
        self.scan_merged(table, overlay, visit)
    }

    /// The heap's rows of `table` at the snapshot merged with `overlay` (a
    /// pending re-key of it ignored), padded, in key order.
    fn scan_merged(
        &self,
        table: Oid,
        overlay: Option<&TableOverlay>,
        visit: &mut dyn FnMut(&RowKey, &Row) -> PgResult<bool>,
    ) -> PgResult<()> {
        self.scan_merged_from(table, overlay, Bound::Unbounded, SCAN_BATCH, visit)
    }

    /// [`Transaction::scan_merged`] from `lower` on.
    /// The first step reads `first` rows; each step after reads eight times
    /// more, up to [`SCAN_BATCH`].
    fn scan_merged_from(
        &self,
        table: Oid,
        overlay: Option<&TableOverlay>,
        mut lower: Bound<RowKey>,
        first: usize,
        visit: &mut dyn FnMut(&RowKey, &Row) -> PgResult<bool>,
    ) -> PgResult<()> {
        let mut step = first;
        let shadowed = overlay.is_some_and(|o| o.shadow);
        // rows shorter than the table (written before an ADD COLUMN) are
        // padded, values stored under a column's earlier type converted
        let def = self.cat().tables.get(&table).cloned();
        let width = def.as_ref().map_or(0, |d| d.columns.len());
        loop {
            self.check_cancel()?;
            let mut batch = Vec::new();
            let resume = if let Some(sid) = overlay.and_then(|o| o.bulk).filter(|_| shadowed) {
                self.range_loaded(sid)?;
                let store = self.db.table_store()?;
                let more = store.range_batch(sid, lower.as_ref(), step, &mut batch)?;
                match more {
                    true => batch.last().map(|(k, _)| k.clone()),
                    false => None,
                }
            } else if shadowed {
                None
            } else {
                self.db.heap.visible_batch(
                    table,
                    lower.as_ref(),
                    self.snapshot,
                    step,
                    &mut batch,
                )?
            };
            let upper = match &resume {
                Some(k) => Bound::Included(k.clone()),
                None => Bound::Unbounded,
            };
            let mut mine = overlay.map(|o| o.rows.range(lower.clone(), upper).peekable());
            let mut theirs = batch.iter().peekable();
            loop {
                let take_mine = match (mine.as_mut().and_then(|m| m.peek()), theirs.peek()) {
                    (None, None) => break,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (Some((mk, _)), Some((tk, _))) => *mk <= tk,
                };
                let (key, row) = if take_mine {
                    let Some((mk, entry)) = mine.as_mut().and_then(|m| m.next()) else {
                        break;
                    };
                    if theirs.peek().is_some_and(|(tk, _)| tk == mk) {
                        theirs.next();
                    }
                    match entry {
                        Some(r) => (mk, r),
                        None => continue,
                    }
                } else {
                    let Some((tk, r)) = theirs.next() else { break };
                    (tk, r)
                };
                let padded;
                let stale = || {
                    def.as_ref()
                        .is_some_and(|d| crate::catalog::row_is_stale(d, row))
                };
                let row = if row.len() < width || stale() {
                    padded = self.pad(table, row);
                    &padded
                } else {
                    row
                };
                if !visit(key, row)? {
                    return Ok(());
                }
            }
            step = (step * 8).min(SCAN_BATCH);
            match resume {
                Some(k) => lower = Bound::Excluded(k),
                None => return Ok(()),
            }
        }
    }

    /// Point lookup by primary key values (in key-column order).
    pub fn get_by_pk(&self, table: Oid, pk: &[Value]) -> PgResult<Option<(RowKey, Vec<Value>)>> {
        let key = encode_key(pk);
        Ok(self.visible(table, &key)?.map(|r| {
            let r = self.pad(table, &r);
            (key, r.to_vec())
        }))
    }

    /// Point lookup by RowKey.
    pub fn get(&self, table: Oid, key: &RowKey) -> PgResult<Option<Vec<Value>>> {
        Ok(self
            .visible(table, key)?
            .map(|r| self.pad(table, &r).to_vec()))
    }

    pub fn encode_key(&self, table: Oid, pk: &[Value]) -> PgResult<RowKey> {
        let _ = table;
        Ok(encode_key(pk))
    }

    // ---- writes ----

    /// Pads a short row with NULLs and enforces NOT NULL.
    fn prepare_row(&self, def: &TableDef, mut row: Vec<Value>) -> PgResult<Row> {
        if row.len() > def.columns.len() {
            return Err(PgError::internal(format!(
                "row has {} values but relation \"{}\" has {} columns",
                row.len(),
                def.name,
                def.columns.len()
            )));
        }
        row.resize(def.columns.len(), Value::Null);
        for (col, v) in def.columns.iter().zip(&row) {
            if col.not_null && !col.dropped && v.is_null() {
                let live = def
                    .columns
                    .iter()
                    .zip(&row)
                    .filter(|(c, _)| !c.dropped)
                    .map(|(_, v)| v);
                return Err(PgError::new(
                    SqlState::NOT_NULL_VIOLATION,
                    format!("null value in column \"{}\" of relation \"{}\" violates not-null constraint", col.name, def.name),
                )
                .with_detail(format!("Failing row contains ({}).", values_text(live)))
                .with_column(&def.schema, &def.name, &col.name));
            }
        }
        Ok(row.into())
    }

    /// Makes sure no other row has `key` (waiting for an in-progress inserter).
    fn check_unique(
        &mut self,
        def: &TableDef,
        pk: &PrimaryKey,
        key: &RowKey,
        row: &[Value],
    ) -> PgResult<()> {
        match self.row_at_key(def.oid, key)? {
            Some(_) => Err(duplicate_key(def, pk, row)),
            None => Ok(()),
        }
    }

    /// The row a new row with primary key `key` would collide with: this
    /// transaction's own, or (the key locked first, so no writer of it is
    /// still running) the latest committed one with the LSN that created
    /// it, whether or not the snapshot sees it.
    fn row_at_key(&mut self, rel: Oid, key: &RowKey) -> PgResult<Option<(Option<Lsn>, Row)>> {
        if let Some(o) = self.overlay.get(&rel) {
            match o.rows.get(key) {
                Some(Some(r)) => return Ok(Some((None, r.clone()))),
                Some(None) => return Ok(None),
                // a table re-keyed in a range of this transaction's
                None if o.shadow => return Ok(self.bulk_row(o, key)?.map(|r| (None, r))),
                None => {}
            }
        }
        let xid = self.assign_xid();
        self.db
            .locks
            .acquire(xid, LockTag::Row(rel, key.clone()), &self.wait_options())?;
        Ok(self
            .db
            .heap
            .latest(rel, key)?
            .map(|(created, row)| (Some(created), row)))
    }

    /// `INSERT ... ON CONFLICT`'s check (PostgreSQL's speculative insertion):
    /// the row already at `row`'s primary key, with that key, or None when
    /// inserting `row` would not conflict. The key stays locked, so an
    /// UPDATE of the row found can follow. Under REPEATABLE READ a row
    /// committed after the snapshot is a serialization failure.
    pub fn conflicting_row(
        &mut self,
        table: Oid,
        row: &[Value],
    ) -> PgResult<Option<(RowKey, Vec<Value>)>> {
        self.settle(table)?;
        let def = self.table_def(table)?;
        let Some(pk) = &def.primary_key else {
            return Ok(None);
        };
        let key = encode_key(&key_values(pk, row));
        match self.row_at_key(def.oid, &key)? {
            None => Ok(None),
            Some((Some(created), _))
                if created > self.snapshot && self.isolation != IsolationLevel::ReadCommitted =>
            {
                Err(concurrent("update"))
            }
            Some((_, found)) => {
                let found = self.pad(table, &found).to_vec();
                Ok(Some((key, found)))
            }
        }
    }

    fn overlay_mut(&mut self, table: Oid) -> &mut TableOverlay {
        self.locked = None;
        self.overlay.entry(table).or_default()
    }

    /// Inserts a row (all columns, dropped ones as NULL); enforces the primary key.
    pub fn insert(&mut self, table: Oid, row: Vec<Value>) -> PgResult<()> {
        if self.read_only {
            return Err(read_only_error("INSERT"));
        }
        self.settle(table)?;
        let def = self.table_def(table)?;
        let row = self.prepare_row(&def, row)?;
        self.assign_xid();
        let key = match &def.primary_key {
            Some(pk) => {
                let key = encode_key(&key_values(pk, &row));
                self.check_unique(&def, pk, &key, &row)?;
                key
            }
            None => rowid_key(self.db.allocate_rowid()),
        };
        self.fk_inserted(&def, &row);
        let indexes = self.indexes_written(table);
        if self.streams_to_store(table) {
            return self.stream_insert(table, key, row);
        }
        if !indexes.is_empty() {
            self.index_insert(&def, &indexes, &row, &key)?;
        }
        self.overlay_mut(table)
            .rows
            .insert(key.clone(), Some(row.clone()));
        let change = Change::Insert { table, key, row };
        // the change, and the key and row pointer the overlay keeps
        let bytes = change.mem_size() + 64;
        self.ops.push(change);
        if !indexes.is_empty() {
            // the index entries end the run of inserts
            self.run = None;
            return Ok(());
        }
        self.count_insert(table, bytes)
    }

    /// The secondary indexes a row write of `table` maintains; remembers
    /// the catalog of the first row write ([`Transaction::write_catalog`]).
    fn indexes_written(&mut self, table: Oid) -> Vec<Arc<crate::IndexDef>> {
        if self.write_catalog.is_none() {
            self.write_catalog = Some(self.catalog());
            self.write_base = Some(self.snapshot_catalog.clone());
        }
        self.cat().indexes_of(table)
    }

    /// Extends (or starts) the run of inserts `ops` ends with; moves it to
    /// the table store once it is large and may move.
    fn count_insert(&mut self, table: Oid, bytes: usize) -> PgResult<()> {
        let at = self.ops.len() - 1;
        self.run = InsertRun::next(self.run, at, Some(table), bytes);
        let large = self
            .run
            .as_ref()
            .is_some_and(|r| r.bytes >= self.db.bulk_spill_bytes());
        if large && self.may_spill(table) {
            self.spill()?;
        }
        Ok(())
    }

    /// Whether the run of inserts into `table` may move to the table store:
    /// nobody else can see the table's new contents (created or truncated
    /// by this transaction, no re-key pending), its keys are row ids (they
    /// rise, so the run comes after every key the range has), and no
    /// savepoint could ask to forget it.
    fn may_spill(&self, table: Oid) -> bool {
        let shadow_only = self
            .overlay
            .get(&table)
            .is_some_and(|o| o.shadow && o.rekey.is_none());
        shadow_only
            && !self.savepoint_taken.get()
            && self
                .cat()
                .tables
                .get(&table)
                .is_some_and(|d| d.primary_key.is_none())
            && self.cat().indexes_of(table).is_empty()
    }

    /// Moves the run of inserts `ops` ends with to the table store: its rows
    /// go into the table's bulk range (reserved at the first move, written by
    /// ingestion), its changes leave `ops` and its rows the overlay. Reads
    /// find them in the range under the overlay; the commit reads them back
    /// for the WAL and makes the range the table's (PostgreSQL writes a
    /// bulk load into the new relfilenode of a table created or truncated
    /// in the same transaction).
    fn spill(&mut self) -> PgResult<()> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        let first = match self.ops.get(run.start) {
            Some(Change::Insert { key, .. }) => key.clone(),
            _ => return Ok(()),
        };
        let store = self.db.table_store()?;
        let xid = self.assign_xid();
        if self.spill_file.is_none() {
            self.spill_file = Some(SpillFile::create(&self.db.datadir)?);
        }
        let o = self.overlay_mut(run.table);
        o.rows.remove_from(&first);
        let sid = match o.bulk {
            Some(sid) => sid,
            None => {
                let sid = store.reserve_range(run.table)?;
                self.overlay_mut(run.table).bulk = Some(sid);
                sid
            }
        };
        // Registered before the write: a failure leaves the range to be
        // abandoned with the transaction.
        self.spilled.push(Spilled {
            at: run.start,
            seq: self.messages.len(),
            table: run.table,
            sid,
            records: self.ops.len() - run.start,
        });
        let mut loads = self.loads.borrow_mut();
        let load = RangeLoad::of(&mut loads, &store, sid)?;
        let Some(file) = self.spill_file.as_mut() else {
            return Err(PgError::internal("bulk load temporary file missing"));
        };
        // each row encoded once: its INSERT record to the file, the same
        // row bytes to the range
        let scratch = &mut self.spill_scratch;
        for c in self.ops.drain(run.start..) {
            let (kind, row_at) = record::change_payload(&c, scratch);
            file.append_parts(kind, xid, &scratch.buf)?;
            if let Change::Insert { key, .. } = &c {
                load.push_encoded(key, &scratch.buf[row_at..])?;
            }
        }
        // the commit will append all of it at once: its WAL segments are
        // made ready while the load goes on
        self.db.wal.preallocate(file.len());
        Ok(())
    }

    /// Whether an insert into `table` goes straight to the store: the last
    /// run moved was this table's, nothing was done since (no change, no
    /// message), its load is still open, and the table may still move.
    fn streams_to_store(&self, table: Oid) -> bool {
        self.spilled.last().is_some_and(|sp| {
            sp.table == table
                && sp.at == self.ops.len()
                && sp.seq == self.messages.len()
                && self.loads.borrow().contains_key(&sp.sid)
        }) && self.may_spill(table)
    }

    /// An insert the last run moved takes at once ([`Transaction::spill`]
    /// one row at a time, without the overlay and `ops` in between).
    fn stream_insert(&mut self, table: Oid, key: RowKey, row: Row) -> PgResult<()> {
        let xid = self.assign_xid();
        let (Some(sp), Some(file)) = (self.spilled.last_mut(), self.spill_file.as_mut()) else {
            return Err(PgError::internal("bulk load run missing"));
        };
        let scratch = &mut self.spill_scratch;
        let row_at = record::insert_payload(table, &key, &row, scratch);
        file.append_parts(record::kinds::INSERT, xid, &scratch.buf)?;
        sp.records += 1;
        let mut loads = self.loads.borrow_mut();
        let Some(load) = loads.get_mut(&sp.sid) else {
            return Err(PgError::internal("bulk load missing"));
        };
        load.push_encoded(&key, &scratch.buf[row_at..])?;
        if sp.records % STREAM_PREALLOCATE_ROWS == 0 {
            self.db.wal.preallocate(file.len());
        }
        Ok(())
    }

    /// Waits until the rows sent to bulk range `sid` are readable.
    fn range_loaded(&self, sid: u32) -> PgResult<()> {
        let load = self.loads.borrow_mut().remove(&sid);
        load.map_or(Ok(()), RangeLoad::finish)
    }

    /// [`Transaction::range_loaded`] for every bulk range.
    fn ranges_loaded(&self) -> PgResult<()> {
        let loads: Vec<RangeLoad> = self.loads.borrow_mut().drain().map(|(_, l)| l).collect();
        RangeLoad::finish_all(loads)
    }

    /// A row of the table's bulk range (rows this transaction moved to the
    /// table store) that `o`, shadowing the table, does not have.
    fn bulk_row(&self, o: &TableOverlay, key: &RowKey) -> PgResult<Option<Row>> {
        match o.bulk {
            Some(sid) => {
                self.range_loaded(sid)?;
                self.db.table_store()?.range_get(sid, key)
            }
            None => Ok(None),
        }
    }

    /// Locks a row seen by this statement before UPDATE/DELETE; `seen` is
    /// the row as the statement saw it, when an UPDATE or DELETE of it
    /// follows.
    pub fn lock_row(
        &mut self,
        table: Oid,
        key: &RowKey,
        seen: Option<&[Value]>,
    ) -> PgResult<LockResult> {
        self.locked = None;
        self.settle(table)?;
        if let Some(then) = self.frozen_overlay(table) {
            // read as it was before the statement's WITH queries: a row
            // one of them changed is not the statement's to change again
            // (PostgreSQL skips a row already modified by the same command)
            let before = then.as_ref().and_then(|o| o.rows.get(key));
            let now = self.overlay.get(&table).and_then(|o| o.rows.get(key));
            let same = match (before, now) {
                (None, None) | (Some(None), Some(None)) => true,
                (Some(Some(a)), Some(Some(b))) => Arc::ptr_eq(a, b),
                _ => false,
            };
            if !same {
                return Ok(LockResult::Deleted);
            }
        }
        if let Some(o) = self.overlay.get(&table) {
            match o.rows.get(key) {
                Some(Some(_)) => return Ok(LockResult::Unchanged),
                Some(None) => return Ok(LockResult::Deleted),
                None if o.shadow => {
                    return Ok(match self.bulk_row(o, key)? {
                        Some(_) => LockResult::Unchanged,
                        None => LockResult::Deleted,
                    })
                }
                None => {}
            }
        }
        let xid = self.assign_xid();
        self.db
            .locks
            .acquire(xid, LockTag::Row(table, key.clone()), &self.wait_options())?;
        let Some(latest) = self.db.heap.latest_since(table, key, self.snapshot)? else {
            // nothing committed to the row since the snapshot: the row seen
            // is the current one
            self.locked = seen.map(|row| (table, key.clone(), Row::from(row)));
            return Ok(LockResult::Unchanged);
        };
        if seen.is_some() {
            self.locked = latest
                .as_ref()
                .map(|(_, row)| (table, key.clone(), row.clone()));
        }
        let rr = self.isolation != IsolationLevel::ReadCommitted;
        match latest {
            None if rr => Err(concurrent("delete")),
            None => Ok(LockResult::Deleted),
            Some((created, _)) if created <= self.snapshot => Ok(LockResult::Unchanged),
            Some(_) if rr => Err(concurrent("update")),
            Some((_, row)) => Ok(LockResult::Updated(
                key.clone(),
                self.pad(table, &row).to_vec(),
            )),
        }
    }

    /// The current row at a key this transaction has locked (or written).
    fn locked_row(&mut self, table: Oid, key: &RowKey) -> PgResult<Row> {
        self.settle(table)?;
        if let Some((t, k, row)) = self.locked.take() {
            // found by lock_row, the overlay without the key then and
            // unwritten since (`overlay_mut` forgets it)
            if t == table && k == *key {
                return Ok(row);
            }
        }
        if let Some(o) = self.overlay.get(&table) {
            match o.rows.get(key) {
                Some(Some(r)) => return Ok(r.clone()),
                Some(None) => return Err(concurrent("delete")),
                None if o.shadow => {
                    return self.bulk_row(o, key)?.ok_or_else(|| concurrent("delete"));
                }
                None => {}
            }
        }
        let xid = self.assign_xid();
        self.db
            .locks
            .acquire(xid, LockTag::Row(table, key.clone()), &self.wait_options())?;
        let row = self.db.heap.latest(table, key)?.map(|(_, row)| row);
        row.ok_or_else(|| concurrent("delete"))
    }

    /// The old tuple an UPDATE or DELETE of `old` logs; `key_kept`: an
    /// UPDATE whose new row has the same primary key (its key columns then
    /// stand for the old ones: [`OldTuple::KeyOfNew`]).
    fn old_tuple(&self, def: &TableDef, old: &Row, key_kept: bool) -> OldTuple {
        match def.replica_identity {
            ReplicaIdentity::Full => OldTuple::Full(self.pad(def.oid, old).to_vec()),
            ReplicaIdentity::Nothing => OldTuple::None,
            // the index's columns, always (the decoder tells whether they changed)
            ReplicaIdentity::Index { .. } => {
                let mut r = vec![Value::Null; def.columns.len()];
                for c in def.identity_key_columns().unwrap_or_default() {
                    if let (Some(slot), Some(v)) = (r.get_mut(c), old.get(c)) {
                        *slot = v.clone();
                    }
                }
                OldTuple::Key(r)
            }
            ReplicaIdentity::Default => match &def.primary_key {
                Some(pk) if key_kept && pk.columns.iter().all(|&c| c < 64) => OldTuple::KeyOfNew {
                    width: def.columns.len() as u32,
                    columns: pk.columns.iter().fold(0, |m, &c| m | 1 << c),
                },
                Some(pk) => {
                    let mut r = vec![Value::Null; def.columns.len()];
                    for &c in &pk.columns {
                        if let (Some(slot), Some(v)) = (r.get_mut(c), old.get(c)) {
                            *slot = v.clone();
                        }
                    }
                    OldTuple::Key(r)
                }
                None => OldTuple::None,
            },
        }
    }

    /// Replaces a locked row (the key changes if primary key columns change).
    pub fn update(&mut self, table: Oid, key: &RowKey, new_row: Vec<Value>) -> PgResult<RowKey> {
        if self.read_only {
            return Err(read_only_error("UPDATE"));
        }
        let def = self.table_def(table)?;
        let row = self.prepare_row(&def, new_row)?;
        let old_row = self.locked_row(table, key)?;
        let new_key = match &def.primary_key {
            Some(pk) => {
                let nk = encode_key(&key_values(pk, &row));
                if &nk != key {
                    self.check_unique(&def, pk, &nk, &row)?;
                }
                nk
            }
            None => key.clone(),
        };
        self.fk_updated(&def, &old_row, &row);
        let indexes = self.indexes_written(table);
        if !indexes.is_empty() {
            self.index_update(&def, &indexes, (&old_row, key), (&row, &new_key))?;
        }
        let old = self.old_tuple(&def, &old_row, &new_key == key);
        let o = self.overlay_mut(table);
        if &new_key != key {
            o.rows.insert(key.clone(), None);
        }
        o.rows.insert(new_key.clone(), Some(row.clone()));
        self.ops.push(Change::Update {
            table,
            old_key: key.clone(),
            key: new_key.clone(),
            row,
            old,
        });
        Ok(new_key)
    }

    /// ALTER COLUMN TYPE's rewrite of a row: `row` (the row at `key`
    /// converted to the column types the ALTER gives the table, which it
    /// puts in after its last row) replaces it under the same key, its
    /// index entries following, logged as an UPDATE that decoding skips
    /// ([`OldTuple::Rewrite`]). The caller watches the table
    /// ([`Transaction::watch_table`]) before reading the rows it converts.
    pub fn rewrite_row(&mut self, table: Oid, key: &RowKey, row: Vec<Value>) -> PgResult<()> {
        let def = self.table_def(table)?;
        let row = self.prepare_row(&def, row)?;
        if def
            .primary_key
            .as_ref()
            .is_some_and(|pk| &encode_key(&key_values(pk, &row)) != key)
        {
            return Err(PgError::unsupported(
                "ALTER COLUMN TYPE changing the values of a primary key column",
            ));
        }
        let old_row = self.locked_row(table, key)?;
        let indexes = self.indexes_written(table);
        if !indexes.is_empty() {
            self.index_update(&def, &indexes, (&old_row, key), (&row, key))?;
        }
        self.overlay_mut(table)
            .rows
            .insert(key.clone(), Some(row.clone()));
        self.ops.push(Change::Update {
            table,
            old_key: key.clone(),
            key: key.clone(),
            row,
            old: OldTuple::Rewrite,
        });
        Ok(())
    }

    /// Deletes a locked row.
    pub fn delete(&mut self, table: Oid, key: &RowKey) -> PgResult<()> {
        if self.read_only {
            return Err(read_only_error("DELETE"));
        }
        let def = self.table_def(table)?;
        let old_row = self.locked_row(table, key)?;
        self.fk_deleted(&def, &old_row);
        let indexes = self.indexes_written(table);
        if !indexes.is_empty() {
            self.index_delete(&indexes, &old_row, key)?;
        }
        let old = self.old_tuple(&def, &old_row, false);
        self.overlay_mut(table).rows.insert(key.clone(), None);
        self.ops.push(Change::Delete {
            table,
            key: key.clone(),
            old,
        });
        Ok(())
    }

    /// TRUNCATE: this transaction sees the tables empty; at commit every row
    /// visible then is deleted. Same as [`Transaction::truncate_with`] without
    /// RESTART IDENTITY or CASCADE.
    pub fn truncate(&mut self, tables: &[Oid]) -> PgResult<()> {
        self.truncate_with(tables, false, false)
    }

    /// TRUNCATE with PostgreSQL's flags as logged for logical decoding:
    /// `restart_seqs` for `RESTART IDENTITY`, `cascade` for `CASCADE` (the caller
    /// restarts the owned sequences and lists the cascaded tables in `tables`).
    pub fn truncate_with(
        &mut self,
        tables: &[Oid],
        restart_seqs: bool,
        cascade: bool,
    ) -> PgResult<()> {
        if self.read_only {
            return Err(read_only_error("TRUNCATE TABLE"));
        }
        for &t in tables {
            self.table_def(t)?;
        }
        self.assign_xid();
        // their indexes are emptied with them (decoding lists only tables)
        let mut tables = tables.to_vec();
        let indexes: Vec<Oid> = tables
            .iter()
            .flat_map(|&t| self.cat().indexes_of(t))
            .map(|i| i.oid)
            .collect();
        tables.extend(indexes);
        for &t in &tables {
            let o = self.overlay_mut(t);
            o.shadow = true;
            o.rows.clear();
            o.rekey = None;
            o.rekeyed = OnceCell::new();
            o.bulk = None;
        }
        self.ops.push(Change::Truncate {
            tables,
            restart_seqs,
            cascade,
        });
        Ok(())
    }

    // ---- logical decoding messages ----

    /// `pg_logical_emit_message(true, prefix, content)`: queues a transactional
    /// message, logged at commit among this transaction's changes in the order
    /// they were made (nothing is logged if the transaction rolls back). Assigns
    /// an xid, so the transaction writes a COMMIT even with no other change.
    ///
    /// PostgreSQL returns the end LSN of the message record; tandem logs a
    /// transaction's records only at commit, so the position is not known yet:
    /// this returns the WAL insert position now (a lower bound of the real one).
    /// Errors as PostgreSQL's on a standby: `XX000 cannot assign TransactionIds
    /// during recovery`.
    pub fn emit_message(&mut self, prefix: &str, content: &[u8]) -> PgResult<Lsn> {
        if self.db.in_recovery() {
            return Err(PgError::internal(
                "cannot assign TransactionIds during recovery",
            ));
        }
        self.assign_xid();
        self.run = None;
        self.messages.push((
            self.ops.len(),
            MessageRecord {
                transactional: true,
                prefix: prefix.to_string(),
                content: content.to_vec(),
            },
        ));
        Ok(self.db.wal.insert_lsn())
    }

    // ---- DDL ----

    pub fn allocate_oid(&mut self) -> Oid {
        self.db.allocate_oid()
    }

    /// Takes the DDL lock (first time): from then on the private catalog is
    /// the latest committed one plus this transaction's DDL.
    fn take_ddl_lock(&mut self) -> PgResult<()> {
        if self.read_only {
            return Err(read_only_error("DDL"));
        }
        if self.ddl_catalog.is_none() {
            let xid = self.assign_xid();
            self.db
                .locks
                .acquire(xid, LockTag::Ddl, &self.wait_options())?;
            self.ddl_catalog = Some(self.db.catalog());
        }
        Ok(())
    }

    /// Takes the DDL lock (first time) and applies `op` to the private catalog.
    fn ddl(&mut self, op: CatalogOp) -> PgResult<()> {
        self.take_ddl_lock()?;
        if let Some(cat) = self.ddl_catalog.as_mut() {
            apply_op(Arc::make_mut(cat), &op);
        }
        self.ops.push(Change::Catalog(Box::new(op)));
        Ok(())
    }

    /// Creates or replaces a table definition; a new column reads as `fill` in
    /// existing rows.
    pub fn put_table(&mut self, def: TableDef, fill: Option<Value>) -> PgResult<()> {
        let oid = def.oid;
        let is_new =
            !self.cat().tables.contains_key(&oid) && !self.db.catalog().tables.contains_key(&oid);
        self.ddl(CatalogOp::PutTable { def, fill })?;
        if is_new {
            self.overlay_mut(oid).shadow = true;
        }
        Ok(())
    }

    /// ALTER TABLE ADD PRIMARY KEY: validates the visible rows, then re-keys.
    /// The rows are read once, keyed as they come: keys that rise in scan
    /// order (a table filled in key order) are checked against their
    /// predecessor and nothing is kept; otherwise the keys are gathered,
    /// sorted and checked side by side (as PostgreSQL's index build sorts).
    /// The re-keyed rows are built only if this transaction goes on to use
    /// the table ([`TableOverlay::rekey`]).
    ///
    /// When nothing of this transaction's own touches the table yet and no
    /// savepoint could ask to forget it, that one read also writes the rows
    /// under their new keys into a table store range of the transaction's
    /// (while the keys rise), on the loading thread beside it; the commit
    /// makes that range the table's (`Spilled`, as a bulk load's), so the
    /// store does not read the table again. A commit of another transaction
    /// that writes the table meanwhile makes this commit re-key as usual
    /// ([`Database::start_prekey`]).
    pub fn add_primary_key(&mut self, table: Oid, pk: PrimaryKey) -> PgResult<()> {
        self.settle(table)?;
        let def = self.table_def(table)?;
        if !self.cat().indexes_of(table).is_empty() {
            // its entries hold the row keys the primary key replaces
            return Err(PgError::unsupported(
                "ALTER TABLE ADD PRIMARY KEY on a table with secondary indexes",
            ));
        }
        self.take_ddl_lock()?;
        if let Some(sid) = self.prekey(&def, &pk)? {
            self.ddl(CatalogOp::AddPrimaryKey {
                table,
                pk: pk.clone(),
            })?;
            self.spilled.push(Spilled {
                at: self.ops.len(),
                seq: self.messages.len(),
                table,
                sid,
                records: 0,
            });
            self.prekeyed.push((table, sid));
            let o = self.overlay_mut(table);
            o.shadow = true;
            o.bulk = Some(sid);
            return Ok(());
        }
        self.check_new_key(&def, &pk)?;
        self.ddl(CatalogOp::AddPrimaryKey {
            table,
            pk: pk.clone(),
        })?;
        self.overlay_mut(table).rekey = Some(pk);
        Ok(())
    }

    /// ADD PRIMARY KEY's check that also writes the re-keyed rows into a new
    /// range (see [`Transaction::add_primary_key`]), reading the table store
    /// in place: the rows' bytes move as they are, only their key columns
    /// are decoded. The range, or None (nothing checked, nothing kept) when
    /// the table does not qualify, its keys do not rise in the table's order
    /// or a row predates an ADD COLUMN. A failed check fails as it does
    /// without.
    fn prekey(&mut self, def: &TableDef, pk: &PrimaryKey) -> PgResult<Option<u32>> {
        let table = def.oid;
        let qualifies = !self.savepoint_taken.get()
            && !self.overlay.contains_key(&table)
            && self.prekeyed.iter().all(|p| p.0 != table);
        if !qualifies {
            return Ok(None);
        }
        let Ok(store) = self.db.table_store() else {
            return Ok(None);
        };
        if !self.db.start_prekey(table, self.snapshot) {
            return Ok(None);
        }
        let built = (|| {
            // every commit this snapshot sees in the store
            self.db.wait_for_store(self.snapshot)?;
            let sid = store.reserve_range(table)?;
            let mut load = match store.load_range(sid) {
                Ok(l) => l,
                Err(e) => {
                    store.abandon_range(sid, table);
                    return Err(e);
                }
            };
            let mut key = KeyBytes::new();
            let mut prev = RowKey(KeyBytes::new());
            let mut failure = None;
            // stopped by a row the usual way handles
            let mut stopped = false;
            let mut seen = 0u64;
            let scanned = store.scan_key_columns(
                table,
                self.snapshot,
                &pk.columns,
                def.columns.len(),
                &mut |vals, bytes| {
                    seen += 1;
                    if seen.is_multiple_of(TABLE_READ_BATCH as u64) {
                        self.check_cancel()?;
                    }
                    // narrower than the table: the usual way
                    let Some(vals) = vals else {
                        stopped = true;
                        return Ok(false);
                    };
                    if let Some(i) = vals.iter().position(|v| v.is_null()) {
                        failure = Some(new_key_null(def, pk, i));
                        return Ok(false);
                    }
                    key.clear();
                    encode_key_into(vals, &mut key);
                    if !prev.0.is_empty() && key <= prev.0 {
                        match key == prev.0 {
                            true => failure = Some(new_key_duplicated(def, pk, vals)),
                            false => stopped = true,
                        }
                        return Ok(false);
                    }
                    std::mem::swap(&mut key, &mut prev.0);
                    load.push_encoded(&prev, bytes)?;
                    Ok(true)
                },
            );
            let loaded = load.finish();
            match (scanned, loaded, failure) {
                (Ok(()), Ok(()), None) if !stopped => Ok(Some(sid)),
                (Ok(()), Ok(()), None) => {
                    store.abandon_range(sid, table);
                    Ok(None)
                }
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Some(e)) => {
                    store.abandon_range(sid, table);
                    Err(e)
                }
            }
        })();
        if !matches!(built, Ok(Some(_))) {
            self.db.end_prekey(table);
        }
        built
    }

    /// Visits the rows of `table` as this transaction sees them before a
    /// pending re-key (padded; in the order of their old keys).
    fn scan_before_rekey(
        &self,
        table: Oid,
        visit: &mut dyn FnMut(&Row) -> PgResult<bool>,
    ) -> PgResult<()> {
        if let Some(o) = self.overlay.get(&table) {
            return self.scan_merged(table, Some(o), &mut |_, row| visit(row));
        }
        // Nothing of this transaction's own to merge: the rows straight from
        // the heap, without copying their keys.
        let mut from: Option<RowKey> = None;
        let mut batch = Vec::with_capacity(TABLE_READ_BATCH);
        loop {
            self.check_cancel()?;
            batch.clear();
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            from = self.db.heap.visible_rows(
                table,
                lower,
                self.snapshot,
                TABLE_READ_BATCH,
                &mut batch,
            )?;
            for row in &batch {
                if !visit(&self.pad(table, row))? {
                    return Ok(());
                }
            }
            if from.is_none() {
                return Ok(());
            }
        }
    }

    /// The checks of ADD PRIMARY KEY on the rows this transaction sees: no
    /// NULL in a key column, no key twice.
    fn check_new_key(&self, def: &TableDef, pk: &PrimaryKey) -> PgResult<()> {
        let null_error = |i: usize| new_key_null(def, pk, i);
        let duplicated = |row: &[Value]| new_key_duplicated(def, pk, &key_values(pk, row));
        let mut vals = Vec::with_capacity(pk.columns.len());
        let mut key = KeyBytes::new();
        let mut prev = KeyBytes::new();
        let mut failure = None;
        let mut rising = true;
        // the key columns of `row` into `vals`; a NULL among them fails
        let key_of = |row: &[Value], vals: &mut Vec<Value>| -> Result<(), PgError> {
            vals.clear();
            vals.extend(key_values(pk, row));
            match vals.iter().position(|v| v.is_null()) {
                Some(i) => Err(null_error(i)),
                None => Ok(()),
            }
        };
        // Pass 1: while the keys rise, each is checked against the previous.
        self.scan_before_rekey(def.oid, &mut |row| {
            if let Err(e) = key_of(row, &mut vals) {
                failure = Some(e);
                return Ok(false);
            }
            key.clear();
            encode_key_into(&vals, &mut key);
            if !prev.is_empty() && key <= prev {
                if key == prev {
                    failure = Some(duplicated(row));
                } else {
                    rising = false;
                }
                return Ok(false);
            }
            std::mem::swap(&mut key, &mut prev);
            Ok(true)
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if rising {
            return Ok(());
        }
        // Pass 2: the keys gathered and sorted.
        let mut keys: Vec<RowKey> = Vec::new();
        self.scan_before_rekey(def.oid, &mut |row| {
            if let Err(e) = key_of(row, &mut vals) {
                failure = Some(e);
                return Ok(false);
            }
            keys.push(encode_key(&vals));
            Ok(true)
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        keys.sort_unstable();
        let Some(dup) = keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].clone()) else {
            return Ok(());
        };
        drop(keys);
        // Pass 3, on failure only: a row with the duplicated key, for the detail.
        self.scan_before_rekey(def.oid, &mut |row| {
            if encode_key(&key_values(pk, row)) == dup {
                failure = Some(duplicated(row));
                return Ok(false);
            }
            Ok(true)
        })?;
        Err(failure.unwrap_or_else(|| duplicated(&[])))
    }

    /// The rows of `table` re-keyed by `pk` (a pending ADD PRIMARY KEY) as
    /// this transaction's overlay of it, read at the current snapshot.
    fn rekeyed(&self, table: Oid, pk: &PrimaryKey) -> PgResult<TableOverlay> {
        let mut keyed: Vec<(RowKey, Option<Row>)> = Vec::new();
        self.scan_before_rekey(table, &mut |row| {
            keyed.push((encode_key(&key_values(pk, row)), Some(row.clone())));
            Ok(true)
        })?;
        // Stable and linear when the rows already come in key order.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
            // Another transaction's commit since the check made a key twice.
            let def = self.table_def(table)?;
            let row = pair[0].1.as_deref().unwrap_or_default();
            return Err(new_key_duplicated(&def, pk, &key_values(pk, row)));
        }
        Ok(TableOverlay {
            shadow: true,
            rows: OverlayRows::from_sorted(keyed),
            ..TableOverlay::default()
        })
    }

    /// Applies a pending re-key of `table` to its overlay before this
    /// transaction writes it.
    fn settle(&mut self, table: Oid) -> PgResult<()> {
        let Some(o) = self.overlay.get_mut(&table) else {
            return Ok(());
        };
        let Some(pk) = o.rekey.clone() else {
            return Ok(());
        };
        let settled = match o.rekeyed.take() {
            Some(done) => *done,
            None => self.rekeyed(table, &pk)?,
        };
        self.locked = None;
        self.overlay.insert(table, settled);
        Ok(())
    }

    pub fn drop_table(&mut self, table: Oid) -> PgResult<()> {
        for idx in self.cat().indexes_of(table) {
            self.drop_index(idx.oid)?;
        }
        self.ddl(CatalogOp::DropTable(table))?;
        self.overlay.remove(&table);
        Ok(())
    }

    pub fn put_role(&mut self, role: RoleDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutRole(role))
    }
    pub fn drop_role(&mut self, role: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropRole(role))
    }
    /// Sets an object's ACL (`None`: the default ACL).
    pub fn set_acl(&mut self, object: Oid, acl: Option<Vec<crate::acl::AclItem>>) -> PgResult<()> {
        self.ddl(CatalogOp::SetAcl { object, acl })
    }
    /// Inserts or updates one `pg_auth_members` row.
    pub fn put_auth_member(&mut self, m: crate::acl::AuthMember) -> PgResult<()> {
        self.ddl(CatalogOp::PutAuthMember(m))
    }
    pub fn drop_auth_member(&mut self, oid: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropAuthMember(oid))
    }
    pub fn put_sequence(&mut self, seq: SequenceDef) -> PgResult<()> {
        let (oid, def) = (seq.oid, Arc::new(seq.clone()));
        self.ddl(CatalogOp::PutSequence(seq))?;
        self.db.pending_sequences.lock().insert(oid, def);
        self.pending_sequences.push(oid);
        Ok(())
    }
    /// Marks a column an identity column (`always`), or an ordinary one
    /// again (`None`).
    pub fn set_identity(
        &mut self,
        table: Oid,
        column: usize,
        always: Option<bool>,
    ) -> PgResult<()> {
        self.ddl(CatalogOp::SetIdentity {
            table,
            column: column as u32,
            always,
        })
    }

    /// `COMMENT ON`: sets (`None`: removes) an object's comment.
    pub fn set_comment(
        &mut self,
        object: Oid,
        class: u32,
        sub: i32,
        text: Option<String>,
    ) -> PgResult<()> {
        self.ddl(CatalogOp::SetComment {
            object,
            class,
            sub,
            text,
        })
    }

    /// CREATE [OR REPLACE] VIEW.
    pub fn put_view(&mut self, view: crate::ViewDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutView(view))
    }
    pub fn drop_view(&mut self, view: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropView(view))
    }
    /// Creates an enum type, or replaces one with more labels.
    pub fn put_type(&mut self, t: tandem_types::EnumType) -> PgResult<()> {
        self.ddl(CatalogOp::PutType(t))
    }
    pub fn drop_type(&mut self, t: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropType(t))
    }
    /// CREATE SCHEMA (or ALTER SCHEMA's new name or owner).
    pub fn put_schema(&mut self, s: crate::SchemaDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutSchema(s))
    }
    pub fn drop_schema(&mut self, s: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropSchema(s))
    }
    pub fn drop_sequence(&mut self, seq: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropSequence(seq))
    }
    pub fn put_database(&mut self, db: DatabaseDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutDatabase(db))
    }
    pub fn drop_database(&mut self, db: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropDatabase(db))
    }
    /// Creates or replaces a publication (membership included); visible to this
    /// transaction at once, to others at commit.
    pub fn put_publication(&mut self, def: PublicationDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutPublication(def))
    }
    pub fn drop_publication(&mut self, publication: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropPublication(publication))
    }
    /// Creates or replaces a subscription (its `pg_subscription_rel` rows
    /// included); visible to this transaction at once, to others at commit.
    pub fn put_subscription(&mut self, def: SubscriptionDef) -> PgResult<()> {
        self.ddl(CatalogOp::PutSubscription(def))
    }
    pub fn drop_subscription(&mut self, subscription: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropSubscription(subscription))
    }
    /// Inserts or updates one `pg_subscription_rel` row (what the apply and
    /// table-sync workers change as a table's synchronization advances); it
    /// commits or rolls back with this transaction.
    pub fn set_subscription_rel_state(
        &mut self,
        subscription: Oid,
        rel: SubscriptionRelState,
    ) -> PgResult<()> {
        self.ddl(CatalogOp::PutSubscriptionRel { subscription, rel })
    }
    /// Records the publisher a multi-host subscription streams from; it
    /// commits or rolls back with this transaction.
    pub fn set_subscription_followed(
        &mut self,
        subscription: Oid,
        followed: crate::FollowedPublisher,
    ) -> PgResult<()> {
        self.ddl(CatalogOp::PutSubscriptionFollowed {
            subscription,
            followed,
        })
    }
    /// Removes one `pg_subscription_rel` row.
    pub fn drop_subscription_rel(&mut self, subscription: Oid, relid: Oid) -> PgResult<()> {
        self.ddl(CatalogOp::DropSubscriptionRel {
            subscription,
            relid,
        })
    }

    /// `pg_replication_origin_create`: adds origin `name` with the lowest free
    /// roident from 1 (as PostgreSQL's `replorigin_create`), committed with
    /// this transaction. Names are not checked for reservation here (the SQL
    /// function does that; subscriptions use `pg_<oid>`). A duplicate name:
    /// `23505 duplicate key value violates unique constraint
    /// "pg_replication_origin_roname_index"`; no free id: `54000 could not
    /// find free replication origin ID`.
    pub fn create_origin(&mut self, name: &str) -> PgResult<u16> {
        self.take_ddl_lock()?;
        let cat = self.cat();
        if cat.origin_id(name).is_some() {
            return Err(PgError::new(
                SqlState::UNIQUE_VIOLATION,
                "duplicate key value violates unique constraint \"pg_replication_origin_roname_index\"",
            )
            .with_detail(format!("Key (roname)=({name}) already exists.")));
        }
        let id = (1..=u16::MAX)
            .find(|i| !cat.origins.contains_key(i))
            .ok_or_else(|| {
                PgError::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    "could not find free replication origin ID",
                )
            })?;
        self.ddl(CatalogOp::PutOrigin {
            id,
            name: name.to_string(),
        })?;
        Ok(id)
    }

    /// `pg_replication_origin_drop`: removes origin `id` and, at commit, its
    /// progress. Unknown id: `42704 replication origin with ID N does not
    /// exist`.
    pub fn drop_origin(&mut self, id: u16) -> PgResult<()> {
        self.take_ddl_lock()?;
        if !self.cat().origins.contains_key(&id) {
            return Err(crate::origin::undefined_origin_id(id));
        }
        self.ddl(CatalogOp::DropOrigin(id))
    }

    /// `nextval()` of a sequence this transaction can see (also one it created).
    pub fn nextval(&self, seq: Oid) -> PgResult<i64> {
        let def = self.sequence_def(seq)?;
        self.db.nextval_def(&def)
    }

    pub fn setval(&self, seq: Oid, value: i64, is_called: bool) -> PgResult<i64> {
        let def = self.sequence_def(seq)?;
        self.db.setval_def(&def, value, is_called)
    }

    fn sequence_def(&self, seq: Oid) -> PgResult<Arc<SequenceDef>> {
        self.cat()
            .sequences
            .get(&seq)
            .cloned()
            .ok_or_else(|| no_table(seq))
    }

    // ---- savepoints ----

    /// `SAVEPOINT`: remembers the write set as it is now.
    pub fn savepoint(&self) -> Savepoint {
        self.savepoint_taken.set(true);
        Savepoint {
            ops_len: self.ops.len(),
            fk_len: self.fk_pending.len(),
            messages_len: self.messages.len(),
            overlay: self.overlay.clone(),
            ddl_catalog: self.ddl_catalog.clone(),
        }
    }

    /// A statement with data-modifying WITH queries, before they run: until
    /// [`Transaction::thaw_reads`], reads of `tables` and their indexes see
    /// them as they are now, as PostgreSQL's statement and its WITH queries
    /// all read one snapshot, and a row changed meanwhile cannot be locked
    /// again (an UPDATE or DELETE of the statement skips it).
    pub fn freeze_reads(&mut self, tables: &[Oid]) {
        let mut rels = tables.to_vec();
        for &t in tables {
            rels.extend(self.cat().indexes_of(t).iter().map(|i| i.oid));
        }
        for r in rels {
            if !self.frozen.contains_key(&r) {
                let then = self.overlay.get(&r).cloned();
                self.frozen.insert(r, then);
            }
        }
    }

    /// Ends [`Transaction::freeze_reads`].
    pub fn thaw_reads(&mut self) {
        self.frozen.clear();
    }

    /// This transaction's overlay of `table` as it was when a statement
    /// froze its reads (`Some(None)`: it had none), or `None` when the
    /// table's reads are not frozen.
    fn frozen_overlay(&self, table: Oid) -> Option<&Option<TableOverlay>> {
        if self.frozen.is_empty() {
            return None;
        }
        self.frozen.get(&table)
    }

    /// `ROLLBACK TO SAVEPOINT`: forgets the writes and DDL made since `sp`.
    pub fn rollback_to(&mut self, sp: &Savepoint) {
        self.run = None;
        self.locked = None;
        self.ops.truncate(sp.ops_len);
        self.fk_pending.truncate(sp.fk_len);
        self.messages.truncate(sp.messages_len);
        self.overlay = sp.overlay.clone();
        if self.ddl_catalog.is_some() {
            // Keep the DDL lock (held to the end), but go back to the catalog then:
            // the latest committed one if there was no DDL before the savepoint.
            self.ddl_catalog = Some(sp.ddl_catalog.clone().unwrap_or_else(|| self.db.catalog()));
        }
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    // ---- end ----

    /// Commits: logs the changes and a COMMIT record, applies them, releases locks.
    /// Returns the COMMIT record's end LSN (the caller waits for `Wal::flush`), or
    /// `None` when no xid was assigned.
    pub fn commit(mut self) -> PgResult<Option<Lsn>> {
        // checks a caller did not run at its statement's end
        self.finish_statement()?;
        let Some(xid) = self.xid else {
            self.finish();
            return Ok(None);
        };
        // What this transaction read is no longer needed: freed before its
        // records and the heap grow by the same rows.
        self.overlay = HashMap::new();
        if !self.spilled.is_empty() {
            return self.commit_spilled(xid);
        }
        if self.ops.len() + self.messages.len() >= COMMIT_PIECE {
            return self.commit_in_pieces(xid);
        }
        let mut records = Vec::with_capacity(self.ops.len() + self.messages.len() + 1);
        let mut messages = self.messages.iter().peekable();
        let mut scratch = Writer::new();
        for (i, c) in self.ops.iter().enumerate() {
            while let Some((_, m)) = messages.next_if(|(at, _)| *at <= i) {
                records.push(record::message_record(m, xid));
            }
            records.push(record::change_record_in(c, xid, &mut scratch));
        }
        for (_, m) in messages {
            records.push(record::message_record(m, xid));
        }
        records.push(self.commit_record(xid));
        let ops = std::mem::take(&mut self.ops);
        let result = self.db.commit_changes(
            ops,
            records,
            self.ddl_catalog.clone(),
            self.origin,
            &self.index_check(),
        );
        self.finish();
        let end = result?;
        crate::mvcc::note_own_commit(&self.db, end);
        Ok(Some(end))
    }

    /// What the commit checks of this transaction's index writes.
    fn index_check(&self) -> crate::database::CommitChecks<'_> {
        crate::database::CommitChecks {
            wrote_with: self.write_catalog.as_ref(),
            wrote_on: self.write_base.as_ref(),
            watched: &self.watched,
            prekeyed: &[],
        }
    }

    /// This transaction's COMMIT record, stamped now.
    fn commit_record(&self, xid: Xid) -> tandem_wal::Record {
        record::commit_record(
            &CommitRecord {
                commit_time: PgTimestamp::now().as_micros(),
                origin: self.origin,
            },
            xid,
        )
    }

    /// [`Transaction::commit`] of a large transaction: its records are
    /// encoded under the commit mutex a piece of [`COMMIT_PIECE`] at a time,
    /// each appended before the next is made, so that they are never all in
    /// memory (beside the changes) at once.
    fn commit_in_pieces(&mut self, xid: Xid) -> PgResult<Option<Lsn>> {
        let messages = std::mem::take(&mut self.messages);
        let mut messages = messages.iter().peekable();
        let mut commit = Some(self.commit_record(xid));
        let mut next = 0usize;
        let mut fill = |ops: &[Change], piece: &mut Vec<tandem_wal::Record>| -> PgResult<bool> {
            let mut n = 0;
            let more = loop {
                if n == COMMIT_PIECE {
                    break true;
                }
                if n == piece.len() {
                    piece.push(tandem_wal::Record {
                        kind: 0,
                        xid,
                        payload: Vec::new(),
                    });
                }
                let slot = &mut piece[n];
                n += 1;
                if let Some((_, m)) = messages.next_if(|(at, _)| *at <= next) {
                    *slot = record::message_record(m, xid);
                } else if let Some(c) = ops.get(next) {
                    record::change_record_into(c, xid, slot);
                    next += 1;
                } else {
                    match commit.take() {
                        Some(c) => *slot = c,
                        None => n -= 1,
                    }
                    break false;
                }
            };
            piece.truncate(n);
            Ok(more)
        };
        let ops = std::mem::take(&mut self.ops);
        let result = self.db.commit_streamed(
            ops,
            &mut fill,
            self.ddl_catalog.clone(),
            self.origin,
            Vec::new(),
            &self.index_check(),
        );
        self.finish();
        let (end, _) = result?;
        crate::mvcc::note_own_commit(&self.db, end);
        Ok(Some(end))
    }

    /// [`Transaction::commit`] of a transaction with runs of inserts in the
    /// table store: the records of `ops` and the messages are encoded first,
    /// as usual; under the commit mutex the WAL then takes them in their
    /// order with the runs' INSERT records read back from the store, a piece
    /// at a time, and the commit makes each bulk range its table's.
    fn commit_spilled(&mut self, xid: Xid) -> PgResult<Option<Lsn>> {
        if let Err(e) = self.ranges_loaded() {
            self.finish();
            return Err(e);
        }
        let mut scratch = Writer::new();
        // (at, seq, kind, index): runs before messages of the same seq,
        // both before the op they precede
        let mut order: Vec<(usize, usize, u8, usize)> = Vec::new();
        order.extend(
            self.spilled
                .iter()
                .enumerate()
                .map(|(k, sp)| (sp.at, sp.seq, 0, k)),
        );
        order.extend(
            self.messages
                .iter()
                .enumerate()
                .map(|(j, (at, _))| (*at, j, 1, j)),
        );
        order.extend((0..self.ops.len()).map(|i| (i, usize::MAX, 2, i)));
        order.sort_unstable();
        let mut encoded: Vec<Option<tandem_wal::Record>> = Vec::with_capacity(order.len());
        for &(_, _, kind, i) in &order {
            encoded.push(match kind {
                1 => Some(record::message_record(&self.messages[i].1, xid)),
                2 => Some(record::change_record_in(&self.ops[i], xid, &mut scratch)),
                _ => None,
            });
        }
        let mut adopts: Vec<(usize, Oid, u32)> = Vec::new();
        for sp in &self.spilled {
            if !adopts.iter().any(|a| a.2 == sp.sid) {
                adopts.push((sp.at, sp.table, sp.sid));
            }
        }
        let commit = self.commit_record(xid);
        // none when the ranges are only re-keyed tables'
        let mut reader = self.spill_file.as_mut().map(|f| f.reader()).transpose()?;
        let spilled = &self.spilled;
        let mut next = 0usize;
        // records of the run being read back still to come
        let mut left = 0usize;
        let mut commit = Some(commit);
        // the piece comes back from the WAL each time: the records read
        // back reuse its records' buffers
        let mut fill = |_: &[Change], piece: &mut Vec<tandem_wal::Record>| -> PgResult<bool> {
            let mut n = 0;
            let more = loop {
                if n == COMMIT_PIECE {
                    break true;
                }
                if left > 0 {
                    let Some(reader) = reader.as_mut() else {
                        return Err(PgError::internal("bulk load records missing"));
                    };
                    if n == piece.len() {
                        piece.push(tandem_wal::Record {
                            kind: 0,
                            xid,
                            payload: Vec::new(),
                        });
                    }
                    reader.next_into(&mut piece[n])?;
                    n += 1;
                    left -= 1;
                    continue;
                }
                let (rec, more) = match order.get(next) {
                    None => (commit.take(), false),
                    Some(&(_, _, 0, k)) => {
                        left = spilled[k].records;
                        (None, true)
                    }
                    Some(_) => (encoded[next].take(), true),
                };
                if let Some(rec) = rec {
                    match piece.get_mut(n) {
                        Some(slot) => *slot = rec,
                        None => piece.push(rec),
                    }
                    n += 1;
                }
                if !more {
                    break false;
                }
                next += 1;
            };
            piece.truncate(n);
            Ok(more)
        };
        let ops = std::mem::take(&mut self.ops);
        let prekeyed = std::mem::take(&mut self.prekeyed);
        let result = self.db.commit_streamed(
            ops,
            &mut fill,
            self.ddl_catalog.clone(),
            self.origin,
            adopts,
            &crate::database::CommitChecks {
                prekeyed: &prekeyed,
                ..self.index_check()
            },
        );
        if let Ok((_, dropped)) = &result {
            // adopted by the commit, but for the ranges of re-keys the
            // store did at commit after all
            self.spilled
                .retain(|sp| dropped.iter().any(|d| d.1 == sp.sid));
        } else {
            self.prekeyed = prekeyed;
        }
        self.finish();
        let (end, _) = result?;
        crate::mvcc::note_own_commit(&self.db, end);
        Ok(Some(end))
    }

    pub fn rollback(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        for (table, _) in std::mem::take(&mut self.prekeyed) {
            self.db.end_prekey(table);
        }
        for table in std::mem::take(&mut self.watched) {
            self.db.end_prekey(table);
        }
        // every load done before its range is given up
        let _ = self.ranges_loaded();
        if !self.spilled.is_empty() {
            // rolled back (or the commit failed): the bulk ranges stay dead
            if let Ok(store) = self.db.table_store() {
                let mut sids: Vec<(u32, Oid)> =
                    self.spilled.iter().map(|sp| (sp.sid, sp.table)).collect();
                sids.dedup();
                for (sid, table) in sids {
                    store.abandon_range(sid, table);
                }
            }
            self.spilled.clear();
        }
        self.spill_file = None;
        if !self.pending_sequences.is_empty() {
            let mut pending = self.db.pending_sequences.lock();
            for oid in &self.pending_sequences {
                pending.remove(oid);
            }
        }
        if let Some(xid) = self.xid {
            self.db.locks.release_all(xid);
        }
        self.db.snapshots.release(self.snapshot_id);
    }
}

impl Database {
    /// `pg_logical_emit_message(false, prefix, content, flush)`: appends a
    /// non-transactional MESSAGE record now, stamped with `xid` (the emitting
    /// transaction's xid if it has one; decoding reports it), and flushes it when
    /// `flush` (PostgreSQL 17's fourth argument, default false). Returns the END
    /// LSN of the record, as PostgreSQL's `LogLogicalMessage` does. On a standby:
    /// `XX000 cannot make new WAL entries during recovery`.
    pub fn emit_message_nontransactional(
        &self,
        prefix: &str,
        content: &[u8],
        xid: Option<Xid>,
        flush: bool,
    ) -> PgResult<Lsn> {
        if self.in_recovery() {
            return Err(PgError::internal(
                "cannot make new WAL entries during recovery",
            ));
        }
        let rec = record::message_record(
            &MessageRecord {
                transactional: false,
                prefix: prefix.to_string(),
                content: content.to_vec(),
            },
            xid.unwrap_or(Xid::INVALID),
        );
        let end = {
            let _commit = self.commit_lock.lock();
            self.wal.append(&[rec])?.1
        };
        if flush {
            self.wal.flush(end)?;
        }
        Ok(end)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.finish();
    }
}
