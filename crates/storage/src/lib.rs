//! Storage: the MVCC heap, transactions and row locks, the catalog, checkpoints,
//! crash recovery and the control file.
//!
//! INTERFACE STUB (written by the lead): the storage helper owns this crate and
//! replaces the bodies; keep the signatures (extend freely).
//!
//! Model (DESIGN.md §3-4): rows live in memory, per table an ordered map from
//! [`RowKey`] (memcomparable encoding of the primary key, or a hidden row id for
//! tables without one) to a version chain. Each version is stamped with the commit
//! LSN that created it and the one that deleted it. A snapshot is an LSN. A
//! transaction keeps its write set private and reads through it; at commit its
//! changes are appended to the WAL contiguously, followed by a commit record, then
//! applied to the heap under the commit lock, then row locks are released. Durability
//! waits (fsync, later standbys) happen after, in the caller, via `Wal::flush`.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tandem_types::{DataType, Lsn, Oid, PgResult, TimeLineId, Value, Xid};
use tandem_wal::Wal;

/// The memcomparable key of a row inside its table (primary key columns encoded in
/// order, or an 8-byte hidden row id when the table has no primary key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey(pub Vec<u8>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadCommitted,
    RepeatableRead,
    /// Accepted and run as RepeatableRead (documented difference).
    Serializable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: old primary key
    Default,
    /// `n`
    Nothing,
    /// `f`: whole old row
    Full,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub not_null: bool,
    /// SQL text of the DEFAULT expression (e.g. `nextval('t_id_seq'::regclass)`);
    /// evaluated by the sql crate.
    pub default: Option<String>,
    /// Dropped columns keep their position (attnum) and are hidden, as in PostgreSQL.
    pub dropped: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrimaryKey {
    /// Constraint/index name, e.g. `t_pkey`.
    pub name: String,
    /// Column positions (0-based) in key order.
    pub columns: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub oid: Oid,
    /// Always `public` for now.
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Option<PrimaryKey>,
    pub replica_identity: ReplicaIdentity,
    pub owner: Oid,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDef {
    pub oid: Oid,
    pub name: String,
    pub superuser: bool,
    pub inherit: bool,
    pub createrole: bool,
    pub createdb: bool,
    pub login: bool,
    pub replication: bool,
    pub bypassrls: bool,
    pub connection_limit: i32,
    /// SCRAM verifier `SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`, if any.
    pub password: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDef {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    pub data_type: DataType,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `(table oid, column position)` for serial columns.
    pub owned_by: Option<(Oid, usize)>,
}

/// The catalog as one immutable value; a DDL commit installs a new one.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub tables: std::collections::BTreeMap<Oid, Arc<TableDef>>,
    pub roles: std::collections::BTreeMap<Oid, RoleDef>,
    pub sequences: std::collections::BTreeMap<Oid, Arc<SequenceDef>>,
}

impl Catalog {
    pub fn table_by_name(&self, schema: &str, name: &str) -> Option<&Arc<TableDef>> {
        self.tables.values().find(|t| t.name == name && t.schema == schema)
    }
    pub fn role_by_name(&self, name: &str) -> Option<&RoleDef> {
        self.roles.values().find(|r| r.name == name)
    }
    pub fn sequence_by_name(&self, schema: &str, name: &str) -> Option<&Arc<SequenceDef>> {
        self.sequences.values().find(|s| s.name == name && s.schema == schema)
    }
}

/// Facts of `global/control` (pg_control_system, pg_control_checkpoint).
#[derive(Clone, Debug)]
pub struct ControlInfo {
    pub system_identifier: u64,
    pub timeline: TimeLineId,
    pub checkpoint_lsn: Lsn,
    pub redo_lsn: Lsn,
    pub checkpoint_time: i64,
    pub next_xid: Xid,
    pub next_oid: Oid,
}

pub struct BootstrapOptions {
    pub superuser: String,
    pub password_verifier: Option<String>,
    pub wal_segment_size: u64,
}

pub struct OpenOptions {
    /// the `fsync` setting
    pub fsync: bool,
}

#[derive(Clone, Debug, Default)]
pub struct CheckpointStats {
    pub redo_lsn: Lsn,
    pub rows_written: u64,
    pub segments_removed: usize,
    pub duration_ms: u64,
}

/// Result of locking a row for UPDATE/DELETE (PostgreSQL's EvalPlanQual cases).
#[derive(Clone, Debug, PartialEq)]
pub enum LockResult {
    /// The version the caller saw is still the latest; the row is now locked.
    Unchanged,
    /// Another transaction committed a newer version (READ COMMITTED only): here it
    /// is; the row is locked; re-check the WHERE clause against it.
    Updated(RowKey, Vec<Value>),
    /// Deleted by a committed transaction: skip it.
    Deleted,
}

/// One node's database. Share as `Arc<Database>`.
pub struct Database {
    _private: (),
}

impl Database {
    /// initdb: creates `global/control`, an initial checkpoint in `base/` holding the
    /// bootstrap superuser (oid 10), and `pg_wal/`. Fails if `datadir` already has a
    /// control file.
    pub fn bootstrap(datadir: &Path, opts: BootstrapOptions) -> PgResult<()> {
        let _ = (datadir, opts);
        todo!()
    }

    /// Opens the data directory: reads the control file, loads the last checkpoint,
    /// replays WAL from its redo LSN to the end of valid WAL (crash recovery), logging
    /// `database system was not properly shut down; automatic recovery in progress`,
    /// `redo starts at X/X`, `redo done at X/X` as PostgreSQL does.
    pub fn open(datadir: &Path, opts: OpenOptions) -> PgResult<Arc<Database>> {
        let _ = (datadir, opts);
        todo!()
    }

    pub fn wal(&self) -> &Arc<Wal> {
        todo!()
    }

    pub fn control(&self) -> ControlInfo {
        todo!()
    }

    /// The latest committed catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        todo!()
    }

    pub fn begin(self: &Arc<Self>, isolation: IsolationLevel, read_only: bool) -> Transaction {
        let _ = (isolation, read_only);
        todo!()
    }

    /// Writes a checkpoint (consistent heap snapshot at a redo LSN, control file
    /// update, WAL segment removal). `reason` is logged: "time", "wal",
    /// "immediate force wait", "shutdown".
    pub fn checkpoint(&self, reason: &str) -> PgResult<CheckpointStats> {
        let _ = reason;
        todo!()
    }

    /// Bytes of WAL written since the last checkpoint's redo LSN (for max_wal_size).
    pub fn wal_since_checkpoint(&self) -> u64 {
        todo!()
    }

    /// `nextval()`: non-transactional, WAL-logged ahead in batches as PostgreSQL does.
    /// Errors: `2200H nextval: reached maximum value of sequence "s" (N)`.
    pub fn nextval(&self, seq: Oid) -> PgResult<i64> {
        let _ = seq;
        todo!()
    }

    /// `setval(seq, value, is_called)`.
    pub fn setval(&self, seq: Oid, value: i64, is_called: bool) -> PgResult<i64> {
        let _ = (seq, value, is_called);
        todo!()
    }
}

/// A transaction. Dropping it without `commit` rolls it back.
pub struct Transaction {
    _private: (),
}

impl Transaction {
    /// Assigned at the first write (or by `txid_current()` via [`Transaction::assign_xid`]).
    pub fn xid(&self) -> Option<Xid> {
        todo!()
    }
    pub fn assign_xid(&mut self) -> Xid {
        todo!()
    }
    pub fn isolation(&self) -> IsolationLevel {
        todo!()
    }
    pub fn read_only(&self) -> bool {
        todo!()
    }
    /// Set by the session so lock waits end with `57014 canceling statement due to user request`.
    pub fn set_cancel_flag(&mut self, flag: Arc<AtomicBool>) {
        let _ = flag;
        todo!()
    }

    /// Starts a statement: READ COMMITTED takes a fresh snapshot here.
    pub fn start_statement(&mut self) {
        todo!()
    }

    /// The snapshot LSN of the current statement.
    pub fn snapshot_lsn(&self) -> Lsn {
        todo!()
    }

    /// The catalog as this transaction sees it (committed + its own DDL).
    pub fn catalog(&self) -> Arc<Catalog> {
        todo!()
    }

    /// Visits every visible row in key order; the visitor returns `Ok(false)` to stop.
    pub fn scan(
        &self,
        table: Oid,
        visit: &mut dyn FnMut(&RowKey, &[Value]) -> PgResult<bool>,
    ) -> PgResult<()> {
        let _ = (table, visit);
        todo!()
    }

    /// Point lookup by primary key values (in key-column order, already of the
    /// columns' types).
    pub fn get_by_pk(&self, table: Oid, pk: &[Value]) -> PgResult<Option<(RowKey, Vec<Value>)>> {
        let _ = (table, pk);
        todo!()
    }

    /// Encodes primary key values as the table's RowKey.
    pub fn encode_key(&self, table: Oid, pk: &[Value]) -> PgResult<RowKey> {
        let _ = (table, pk);
        todo!()
    }

    /// Inserts a row (all columns, dropped ones as NULL). Enforces the primary key:
    /// waits for an in-progress inserter of the same key, then
    /// `23505 duplicate key value violates unique constraint "t_pkey"` with
    /// `DETAIL:  Key (id)=(1) already exists.`
    pub fn insert(&mut self, table: Oid, row: Vec<Value>) -> PgResult<RowKey> {
        let _ = (table, row);
        todo!()
    }

    /// Locks a row seen by this statement before UPDATE/DELETE, waiting for another
    /// writer to finish. REPEATABLE READ: a concurrent committed change is
    /// `40001 could not serialize access due to concurrent update`.
    /// Deadlocks: `40P01 deadlock detected`.
    pub fn lock_row(&mut self, table: Oid, key: &RowKey) -> PgResult<LockResult> {
        let _ = (table, key);
        todo!()
    }

    /// Replaces a locked row (the key may change if primary key columns change).
    pub fn update(&mut self, table: Oid, key: &RowKey, new_row: Vec<Value>) -> PgResult<RowKey> {
        let _ = (table, key, new_row);
        todo!()
    }

    /// Deletes a locked row.
    pub fn delete(&mut self, table: Oid, key: &RowKey) -> PgResult<()> {
        let _ = (table, key);
        todo!()
    }

    pub fn truncate(&mut self, tables: &[Oid]) -> PgResult<()> {
        let _ = tables;
        todo!()
    }

    /// Allocates an OID for a new catalog object.
    pub fn allocate_oid(&mut self) -> Oid {
        todo!()
    }

    /// Creates or replaces a table definition (CREATE TABLE, ADD/DROP COLUMN,
    /// REPLICA IDENTITY). Adding a column fills existing rows with `fill` for it.
    pub fn put_table(&mut self, def: TableDef, fill: Option<Value>) -> PgResult<()> {
        let _ = (def, fill);
        todo!()
    }

    /// ALTER TABLE ADD PRIMARY KEY: re-keys the table; duplicates give
    /// `23505 could not create unique index "t_pkey"` /
    /// `DETAIL:  Key (id)=(1) is duplicated.`; NULLs give 23502.
    pub fn add_primary_key(&mut self, table: Oid, pk: PrimaryKey) -> PgResult<()> {
        let _ = (table, pk);
        todo!()
    }

    pub fn drop_table(&mut self, table: Oid) -> PgResult<()> {
        let _ = table;
        todo!()
    }

    pub fn put_role(&mut self, role: RoleDef) -> PgResult<()> {
        let _ = role;
        todo!()
    }
    pub fn drop_role(&mut self, role: Oid) -> PgResult<()> {
        let _ = role;
        todo!()
    }
    pub fn put_sequence(&mut self, seq: SequenceDef) -> PgResult<()> {
        let _ = seq;
        todo!()
    }
    pub fn drop_sequence(&mut self, seq: Oid) -> PgResult<()> {
        let _ = seq;
        todo!()
    }

    /// Commits. Returns the commit record's end LSN if anything was written (the
    /// caller then waits for `Wal::flush` according to `synchronous_commit`), `None`
    /// for a read-only transaction.
    pub fn commit(self) -> PgResult<Option<Lsn>> {
        todo!()
    }

    pub fn rollback(self) {
        todo!()
    }
}
