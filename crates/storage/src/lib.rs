//! Storage: the MVCC heap, transactions and row locks, the catalog, checkpoints,
//! crash recovery and the control file.
//!
//! Model: rows live in memory, per table an ordered map from [`RowKey`]
//! (memcomparable encoding of the primary key, or a hidden row id for tables
//! without one) to a version chain. Each version is stamped with the commit LSN
//! that created it and the one that deleted it. A snapshot is an LSN. A
//! transaction keeps its write set private and reads through it; at commit its
//! changes are appended to the WAL contiguously, followed by a commit record, then
//! applied to the heap under the commit lock, then row locks are released. Durability
//! waits (`Wal::flush`, then synchronous standbys) happen after, in the caller.
//!
//! Map of the crate (read in this order):
//! - `keycode.rs`: primary key values -> memcomparable [`RowKey`]
//! - `heap.rs`: per-table version chains, visibility, pruning
//! - `mvcc/`: snapshots (`mod.rs`) and [`Transaction`] (`txn.rs`)
//! - `locks.rs`: row and DDL locks, waits, deadlock detection
//! - `database.rs`: [`Database`] and the commit path
//! - `catalog.rs`: catalog operations, bootstrap catalog, history
//! - `record.rs` + `codec.rs`: WAL payloads; `sequence.rs`: nextval/setval
//! - `checkpoint.rs`, `control.rs`, `recovery.rs`: durability and startup
//! - `store/`: the on-disk table store (fjall), `base/store`; `applier.rs`: the
//!   thread that writes flushed commits into it
//!
//! `docs/storage.md` has the on-disk formats and the visibility rule.

pub mod acl;
mod applier;
pub mod catalog;
pub mod catalog_file;
pub mod checkpoint;
pub mod codec;
pub mod control;
mod database;
pub mod display;
mod fileutil;
pub mod heap;
pub mod index;
pub mod keycode;
pub mod locks;
mod mem;
pub mod mvcc;
pub mod origin;
pub mod record;
pub mod recovery;
pub mod sequence;
pub mod store;

use std::path::Path;
use std::sync::Arc;

use tandem_types::{DataType, Lsn, Oid, PgResult, TimeLineId, Value, Xid};
use tandem_wal::Wal;

pub use catalog::{CatalogOp, DatabaseDef};
pub use control::{read_control, ControlFile, DbState};
pub use database::{Database, RetentionFloor};
pub use index::IndexScan;
pub use locks::LockMode;
pub use mvcc::txn::{Savepoint, Transaction};
pub use origin::OriginProgress;
pub use record::{CommitOrigin, OldTuple};

/// The memcomparable key of a row inside its table (primary key columns encoded in
/// order, or an 8-byte hidden row id when the table has no primary key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey(pub KeyBytes);

/// A row key's bytes: up to 16 in place (an integer key takes 9, a row id
/// 8), so that the copies a write makes (write set, WAL change, recent heap,
/// row lock) allocate nothing for them; longer keys live on the heap.
pub type KeyBytes = smallvec::SmallVec<[u8; 16]>;

impl RowKey {
    /// A key of these bytes.
    pub fn new(bytes: &[u8]) -> RowKey {
        RowKey(KeyBytes::from_slice(bytes))
    }
}

impl From<Vec<u8>> for RowKey {
    fn from(bytes: Vec<u8>) -> RowKey {
        RowKey::new(&bytes)
    }
}

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
    /// `i`: old values of a unique index's columns (`REPLICA IDENTITY USING
    /// INDEX`): the index and its columns (bit `c` for column position
    /// `c`; identity columns are among the first 64).
    Index { index: Oid, columns: u64 },
}

impl TableDef {
    /// The columns whose old values identify a row to subscribers: the
    /// primary key's (DEFAULT) or the identity index's; `None` for FULL,
    /// NOTHING and a DEFAULT table without a primary key.
    pub fn identity_key_columns(&self) -> Option<Vec<usize>> {
        match self.replica_identity {
            ReplicaIdentity::Default => self.primary_key.as_ref().map(|pk| pk.columns.clone()),
            ReplicaIdentity::Index { columns, .. } => {
                Some((0..64).filter(|c| columns & (1 << c) != 0).collect())
            }
            ReplicaIdentity::Full | ReplicaIdentity::Nothing => None,
        }
    }
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

/// A schema made by CREATE SCHEMA (`pg_namespace`). The schemas every
/// database has (`pg_catalog`, `public`, `information_schema`, `pg_toast`)
/// are not stored: [`BUILTIN_SCHEMAS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaDef {
    pub oid: Oid,
    pub name: String,
    pub owner: Oid,
}

/// `search_path`'s schemas, in order: the setting's names split at commas,
/// unquoted names folded to lower case, `$user` read as the role `user`.
/// Names of schemas that do not exist stay (lookups skip them).
pub fn parse_search_path(setting: &str, user: &str) -> Vec<String> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                Some("$user") => user.to_string(),
                Some(q) => q.replace("\"\"", "\""),
                None if s == "$user" => user.to_string(),
                None => s.to_lowercase(),
            },
        )
        .collect()
}

/// The schemas of every database, with their OIDs (initdb's).
pub const BUILTIN_SCHEMAS: [(&str, u32); 4] = [
    ("pg_catalog", 11),
    ("public", 2200),
    ("information_schema", 13183),
    ("pg_toast", 99),
];

#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub oid: Oid,
    /// Its schema's name.
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub primary_key: Option<PrimaryKey>,
    pub replica_identity: ReplicaIdentity,
    pub owner: Oid,
}

/// A secondary index: `CREATE [UNIQUE] INDEX`, or the index of a UNIQUE
/// constraint. Its entries are the rows of a hidden relation with the
/// index's oid, written by the transaction that writes the table's rows
/// (`index.rs`; `docs/storage.md` §15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub oid: Oid,
    pub name: String,
    /// The indexed table.
    pub table: Oid,
    /// Column positions (0-based) in index order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// The index of a UNIQUE constraint of the same name (`pg_constraint`).
    pub constraint: bool,
}

/// A view: a stored SELECT read in place of a relation
/// (`CREATE [OR REPLACE] VIEW`; the binder expands it, the query crate's
/// `bind/select.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ViewDef {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    /// The SELECT as written (re-bound on each use).
    pub query: String,
    /// Output columns (`pg_attribute`), in order.
    pub columns: Vec<(String, DataType)>,
    /// The tables and views it reads (`pg_depend`): none of them can be
    /// dropped while it exists.
    pub depends_on: Vec<Oid>,
    pub owner: Oid,
}

/// A table constraint that is not an index: a FOREIGN KEY, checked by the
/// transactions that write either of its tables (`mvcc/txn/fk.rs`), or a
/// CHECK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstraintDef {
    pub oid: Oid,
    pub name: String,
    /// The constrained (for a foreign key: the referencing) table.
    pub table: Oid,
    pub kind: ConstraintKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    ForeignKey(ForeignKey),
    /// `CHECK (expr)`: the expression as `pg_get_constraintdef` prints it
    /// between the parentheses, plainly (`expr`, which is also what is
    /// evaluated) and pretty (`pretty`), and the columns it reads.
    Check {
        expr: String,
        pretty: String,
        columns: Vec<usize>,
    },
}

/// `FOREIGN KEY (columns) REFERENCES ref_table (ref_columns)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignKey {
    /// Referencing column positions (0-based), in constraint order.
    pub columns: Vec<usize>,
    pub ref_table: Oid,
    /// Referenced column positions, paired with `columns`.
    pub ref_columns: Vec<usize>,
    /// The unique key of `ref_table` the reference is checked against: its
    /// primary key (`None`) or a unique index.
    pub ref_index: Option<Oid>,
    pub on_update: FkAction,
    pub on_delete: FkAction,
    /// MATCH FULL (else MATCH SIMPLE).
    pub match_full: bool,
}

/// What deleting or updating a referenced key does to the rows that
/// reference it (`pg_constraint.confupdtype` / `confdeltype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// The `pg_constraint` letter.
    pub fn code(self) -> u8 {
        match self {
            FkAction::NoAction => b'a',
            FkAction::Restrict => b'r',
            FkAction::Cascade => b'c',
            FkAction::SetNull => b'n',
            FkAction::SetDefault => b'd',
        }
    }

    pub fn from_code(c: u8) -> Option<FkAction> {
        Some(match c {
            b'a' => FkAction::NoAction,
            b'r' => FkAction::Restrict,
            b'c' => FkAction::Cascade,
            b'n' => FkAction::SetNull,
            b'd' => FkAction::SetDefault,
            _ => return None,
        })
    }
}

impl ConstraintDef {
    pub fn foreign_key(&self) -> Option<&ForeignKey> {
        match &self.kind {
            ConstraintKind::ForeignKey(fk) => Some(fk),
            ConstraintKind::Check { .. } => None,
        }
    }
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

/// A publication (`pg_publication` row plus its `pg_publication_rel` members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicationDef {
    pub oid: Oid,
    pub name: String,
    pub owner: Oid,
    /// `FOR ALL TABLES`
    pub all_tables: bool,
    /// `publish = 'insert, update, delete, truncate'`
    pub pub_insert: bool,
    pub pub_update: bool,
    pub pub_delete: bool,
    pub pub_truncate: bool,
    /// `publish_via_partition_root` (no partitions in tandem; kept for the view)
    pub via_root: bool,
    /// Member tables of a `FOR TABLE` publication (empty with `all_tables`).
    pub tables: std::collections::BTreeSet<Oid>,
}

impl PublicationDef {
    /// Whether changes of `table` are published (membership only; the
    /// `pub_*` flags say which kinds).
    pub fn includes(&self, table: Oid) -> bool {
        self.all_tables || self.tables.contains(&table)
    }
}

/// The publisher a subscription with a multi-host connection last streamed
/// from: its system identifier and timeline, for the connection string they
/// were learnt with (a new CONNECTION makes them void). The apply worker
/// resumes only from a node whose history contains that timeline up to what
/// it applied (`docs/failover-slots.md`, "Subscriptions that follow the
/// primary").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowedPublisher {
    pub conninfo: String,
    pub system_identifier: String,
    pub timeline: u32,
}

/// One `pg_subscription_rel` row: a table a subscription replicates and how
/// far its initial synchronization got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRelState {
    pub relid: Oid,
    /// `srsubstate`: `i` init, `d` data copy, `f` copy finished, `s` synced,
    /// `r` ready.
    pub state: u8,
    /// `srsublsn`: the remote LSN of the state change (NULL for `i`/`d`).
    pub lsn: Option<Lsn>,
}

/// A subscription (`pg_subscription` row plus its `pg_subscription_rel` rows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionDef {
    pub oid: Oid,
    /// `subdbid`
    pub database: Oid,
    pub name: String,
    pub owner: Oid,
    pub enabled: bool,
    /// `subconninfo`: the publisher's libpq connection string.
    pub conninfo: String,
    /// `subslotname`; `None` is `slot_name = NONE`.
    pub slot_name: Option<String>,
    pub publications: Vec<String>,
    pub binary: bool,
    /// `substream`: `f` off, `t` on, `p` parallel.
    pub streaming: u8,
    /// `subtwophasestate`: `d` disabled, `p` pending, `e` enabled.
    pub two_phase: u8,
    pub disable_on_error: bool,
    pub failover: bool,
    /// `subsynccommit`: the apply worker's `synchronous_commit`.
    pub synchronous_commit: String,
    /// `suborigin`: `any` or `none`.
    pub origin: String,
    pub password_required: bool,
    pub run_as_owner: bool,
    /// `subskiplsn`: 0/0 when no transaction is to be skipped.
    pub skip_lsn: Lsn,
    /// `pg_subscription_rel`, by table oid.
    pub relations: std::collections::BTreeMap<Oid, SubscriptionRelState>,
}

/// The catalog as one immutable value; a DDL commit installs a new one.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub tables: std::collections::BTreeMap<Oid, Arc<TableDef>>,
    pub roles: std::collections::BTreeMap<Oid, RoleDef>,
    pub sequences: std::collections::BTreeMap<Oid, Arc<SequenceDef>>,
    /// `pg_database`: postgres (5), template1 (1), template0 (4), plus created ones.
    pub databases: std::collections::BTreeMap<Oid, DatabaseDef>,
    /// Per table, the value each column added by ALTER TABLE ADD COLUMN reads as in
    /// rows written before it (PostgreSQL's `attmissingval`); index = column position.
    pub missing_values: std::collections::BTreeMap<Oid, Vec<Value>>,
    /// `pg_publication`, by oid.
    pub publications: std::collections::BTreeMap<Oid, PublicationDef>,
    /// `pg_subscription` (with `pg_subscription_rel`), by oid.
    pub subscriptions: std::collections::BTreeMap<Oid, SubscriptionDef>,
    /// `pg_replication_origin`: roident -> roname.
    pub origins: std::collections::BTreeMap<u16, String>,
    /// `pg_class.relacl` of tables that have one (absent: the default ACL).
    pub acls: std::collections::BTreeMap<Oid, Vec<acl::AclItem>>,
    /// `pg_auth_members`, by oid.
    pub auth_members: std::collections::BTreeMap<Oid, acl::AuthMember>,
    /// The publisher each multi-host subscription last streamed from, by
    /// subscription oid (no PostgreSQL counterpart).
    pub subscription_followed: std::collections::BTreeMap<Oid, FollowedPublisher>,
    /// Secondary indexes, by oid (primary keys are [`TableDef::primary_key`]).
    pub indexes: std::collections::BTreeMap<Oid, Arc<IndexDef>>,
    /// Foreign keys and CHECK constraints, by oid.
    pub constraints: std::collections::BTreeMap<Oid, Arc<ConstraintDef>>,
    /// Views, by oid.
    pub views: std::collections::BTreeMap<Oid, Arc<ViewDef>>,
    /// Identity columns (`GENERATED ALWAYS|BY DEFAULT AS IDENTITY`): (table,
    /// column position) -> ALWAYS. Their DEFAULT is the owned sequence's
    /// `nextval`, as a serial column's.
    pub identities: std::collections::BTreeMap<(Oid, u32), bool>,
    /// `COMMENT ON` texts (`pg_description`): (object oid, catalog oid of
    /// its kind, column number or 0) -> comment.
    pub comments: std::collections::BTreeMap<(Oid, u32, i32), String>,
    /// Enum types (`pg_type` rows of `typtype = 'e'` and their `pg_enum`
    /// rows), by oid.
    pub types: std::collections::BTreeMap<Oid, Arc<tandem_types::EnumType>>,
    /// Schemas made by CREATE SCHEMA, by oid ([`BUILTIN_SCHEMAS`] are not
    /// here).
    pub schemas: std::collections::BTreeMap<Oid, SchemaDef>,
}

impl Catalog {
    /// The OID of schema `name`: a built-in one or one CREATE SCHEMA made.
    pub fn schema_oid(&self, name: &str) -> Option<Oid> {
        BUILTIN_SCHEMAS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, o)| Oid(*o))
            .or_else(|| {
                self.schemas
                    .values()
                    .find(|s| s.name == name)
                    .map(|s| s.oid)
            })
    }
    /// The name of the schema of OID `oid`.
    pub fn schema_name(&self, oid: Oid) -> Option<&str> {
        BUILTIN_SCHEMAS
            .iter()
            .find(|(_, o)| *o == oid.0)
            .map(|(n, _)| *n)
            .or_else(|| self.schemas.get(&oid).map(|s| s.name.as_str()))
    }
    /// The schema an unqualified `name` of a relation is found in: the
    /// first schema of `path` (from [`parse_search_path`]) that holds a
    /// relation of that name, `pg_catalog` searched first for its views.
    /// `None` when no schema has it.
    pub fn relation_schema<'p>(&self, path: &'p [String], name: &str) -> Option<&'p str> {
        path.iter()
            .map(String::as_str)
            .find(|s| self.schema_oid(s).is_some() && self.relation_exists(s, name))
    }
    /// The schema a relation (or type) named `[schema.]name` is looked up
    /// in: the one named, else where [`Catalog::relation_schema`] finds
    /// it, else the schema it would be created in (so that a lookup that
    /// fails names the relation as written).
    pub fn lookup_schema(&self, path: &[String], schema: Option<&str>, name: &str) -> String {
        match schema {
            Some(s) => s.to_string(),
            None => self
                .relation_schema(path, name)
                .or_else(|| self.first_schema(path))
                .unwrap_or("public")
                .to_string(),
        }
    }
    /// The first schema of `path` that exists (`current_schema()`).
    pub fn first_schema<'p>(&self, path: &'p [String]) -> Option<&'p str> {
        path.iter()
            .map(String::as_str)
            .find(|s| self.schema_oid(s).is_some())
    }
    /// The schema a new object named `[schema.]name` goes in: the one named
    /// (which must exist), else the first existing schema of `path`.
    pub fn creation_schema(&self, path: &[String], schema: Option<&str>) -> PgResult<String> {
        match schema {
            Some(s) if self.schema_oid(s).is_some() => Ok(s.to_string()),
            Some(s) => Err(tandem_types::PgError::new(
                tandem_types::SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{s}\" does not exist"),
            )),
            None => self.first_schema(path).map(str::to_string).ok_or_else(|| {
                tandem_types::PgError::new(
                    tandem_types::SqlState::INVALID_SCHEMA_NAME,
                    "no schema has been selected to create in",
                )
            }),
        }
    }
    /// Whether schema `schema` holds a relation (table, view, sequence or
    /// index) named `name`.
    pub fn relation_exists(&self, schema: &str, name: &str) -> bool {
        self.table_by_name(schema, name).is_some()
            || self.view_by_name(schema, name).is_some()
            || self.sequence_by_name(schema, name).is_some()
            || self.index_by_name(schema, name).is_some()
    }
    /// The enum type named `name` (as stored: unquoted, case kept).
    /// The enum type `name` of schema `schema`.
    pub fn type_in(&self, schema: &str, name: &str) -> Option<&Arc<tandem_types::EnumType>> {
        self.types
            .values()
            .find(|t| t.name == name && t.schema == schema)
    }

    /// The enum type a name finds: in `schema` when qualified, else in the
    /// first schema of `path` (a `search_path`) that has one.
    pub fn lookup_type(
        &self,
        path: &[String],
        schema: Option<&str>,
        name: &str,
    ) -> Option<&Arc<tandem_types::EnumType>> {
        match schema {
            Some(s) => self.type_in(s, name),
            None => path.iter().find_map(|s| self.type_in(s, name)),
        }
    }
    pub fn table_by_name(&self, schema: &str, name: &str) -> Option<&Arc<TableDef>> {
        self.tables
            .values()
            .find(|t| t.name == name && t.schema == schema)
    }
    pub fn role_by_name(&self, name: &str) -> Option<&RoleDef> {
        self.roles.values().find(|r| r.name == name)
    }
    pub fn publication_by_name(&self, name: &str) -> Option<&PublicationDef> {
        self.publications.values().find(|p| p.name == name)
    }
    /// `pg_replication_origin.roident` of origin `name`.
    pub fn origin_id(&self, name: &str) -> Option<u16> {
        self.origins
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| *id)
    }
    pub fn subscription_by_name(&self, name: &str) -> Option<&SubscriptionDef> {
        self.subscriptions.values().find(|s| s.name == name)
    }
    /// The secondary indexes of `table`, in oid (creation) order.
    pub fn indexes_of(&self, table: Oid) -> Vec<Arc<IndexDef>> {
        if self.indexes.is_empty() {
            return Vec::new();
        }
        self.indexes
            .values()
            .filter(|i| i.table == table)
            .cloned()
            .collect()
    }
    /// Whether column `column` of `table` is an identity column, and if so
    /// whether GENERATED ALWAYS.
    pub fn identity(&self, table: Oid, column: usize) -> Option<bool> {
        if self.identities.is_empty() {
            return None;
        }
        self.identities.get(&(table, column as u32)).copied()
    }
    /// The view named `name` in `schema`.
    pub fn view_by_name(&self, schema: &str, name: &str) -> Option<&Arc<ViewDef>> {
        self.views
            .values()
            .find(|v| v.name == name && v.schema == schema)
    }
    /// The views that read relation `oid` directly, in oid order.
    pub fn views_reading(&self, oid: Oid) -> Vec<Arc<ViewDef>> {
        self.views
            .values()
            .filter(|v| v.depends_on.contains(&oid))
            .cloned()
            .collect()
    }
    /// The foreign keys of `table` (it references), in oid order.
    pub fn foreign_keys_of(&self, table: Oid) -> Vec<Arc<ConstraintDef>> {
        self.constraints_where(|c| c.table == table && c.foreign_key().is_some())
    }
    /// The foreign keys that reference `table`, in oid order.
    pub fn foreign_keys_to(&self, table: Oid) -> Vec<Arc<ConstraintDef>> {
        self.constraints_where(|c| c.foreign_key().is_some_and(|fk| fk.ref_table == table))
    }
    /// The constraints of `table`, in oid order.
    pub fn constraints_of(&self, table: Oid) -> Vec<Arc<ConstraintDef>> {
        self.constraints_where(|c| c.table == table)
    }
    fn constraints_where(&self, f: impl Fn(&ConstraintDef) -> bool) -> Vec<Arc<ConstraintDef>> {
        if self.constraints.is_empty() {
            return Vec::new();
        }
        self.constraints
            .values()
            .filter(|c| f(c))
            .cloned()
            .collect()
    }
    /// The secondary index named `name` on a table of `schema`.
    pub fn index_by_name(&self, schema: &str, name: &str) -> Option<&Arc<IndexDef>> {
        self.indexes.values().find(|i| {
            i.name == name
                && self
                    .tables
                    .get(&i.table)
                    .is_some_and(|t| t.schema == schema)
        })
    }
    pub fn sequence_by_name(&self, schema: &str, name: &str) -> Option<&Arc<SequenceDef>> {
        self.sequences
            .values()
            .find(|s| s.name == name && s.schema == schema)
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
    /// The table store's block cache (`shared_buffers`).
    pub store_cache_bytes: u64,
    /// The table store's memtable size (cache / 8, at least 8 MB).
    pub store_memtable_bytes: u64,
    /// Memory of a run of inserts into a table created or truncated by its
    /// transaction above which the run moves to the table store (in
    /// transactions and in replay; `docs/storage.md` §3).
    pub bulk_spill_bytes: usize,
}

impl OpenOptions {
    /// Options for a given `shared_buffers` size in bytes: the table store's
    /// cache is `shared_buffers`, its memtable an eighth of it, at least 8 MB.
    pub fn with_shared_buffers(fsync: bool, shared_buffers: u64) -> OpenOptions {
        OpenOptions {
            fsync,
            store_cache_bytes: shared_buffers,
            store_memtable_bytes: (shared_buffers / 8).max(8 << 20),
            bulk_spill_bytes: crate::mvcc::txn::BULK_SPILL_BYTES,
        }
    }

    /// PostgreSQL's default `shared_buffers` (128MB).
    pub fn new(fsync: bool) -> OpenOptions {
        OpenOptions::with_shared_buffers(fsync, 128 << 20)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new(true)
    }
}

/// What the replication slots on disk need kept during crash recovery
/// ([`Database::open_keeping`]): the oldest `restart_lsn` of the valid
/// slots (WAL) and of the valid logical slots (catalog history).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotFloors {
    pub wal: Option<Lsn>,
    pub catalog: Option<Lsn>,
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

impl Database {
    /// initdb: creates `global/control`, an initial checkpoint in `base/` holding the
    /// bootstrap superuser (oid 10) and databases, and `pg_wal/`. Fails if `datadir`
    /// already has a control file.
    pub fn bootstrap(datadir: &Path, opts: BootstrapOptions) -> PgResult<()> {
        recovery::bootstrap(datadir, opts)
    }

    /// Opens the data directory: reads the control file, loads the last checkpoint,
    /// replays WAL from its redo LSN to the end of valid WAL (crash recovery), logging
    /// `database system was not properly shut down; automatic recovery in progress`,
    /// `redo starts at X/X`, `redo done at X/X` as PostgreSQL does.
    pub fn open(datadir: &Path, opts: OpenOptions) -> PgResult<Arc<Database>> {
        recovery::open(datadir, opts, SlotFloors::default())
    }

    /// [`Database::open`] for a data directory with replication slots: the
    /// end-of-recovery checkpoint of crash recovery keeps the WAL and the
    /// catalog history from `floors` (the slots' positions in their state
    /// files), as PostgreSQL restores its slots before recovery. Without
    /// them that checkpoint, which runs before the slots are opened, could
    /// remove WAL a slot still needs.
    pub fn open_keeping(
        datadir: &Path,
        opts: OpenOptions,
        floors: SlotFloors,
    ) -> PgResult<Arc<Database>> {
        recovery::open(datadir, opts, floors)
    }

    /// Opens a standby's data directory (`standby.signal`): see
    /// [`recovery::open_standby`].
    pub fn open_standby(
        datadir: &Path,
        opts: OpenOptions,
    ) -> PgResult<(Arc<Database>, recovery::StandbyReplay)> {
        recovery::open_standby(datadir, opts)
    }

    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    pub fn control(&self) -> ControlInfo {
        let c = self.control.lock();
        ControlInfo {
            system_identifier: c.system_identifier,
            timeline: c.timeline,
            checkpoint_lsn: c.checkpoint_lsn,
            redo_lsn: c.redo_lsn,
            checkpoint_time: c.checkpoint_time,
            next_xid: Xid(self.next_xid.load(std::sync::atomic::Ordering::Relaxed)),
            next_oid: Oid(self.next_oid.load(std::sync::atomic::Ordering::Relaxed)),
        }
    }

    /// The whole control file as last written (state, segment size, ...).
    pub fn control_file(&self) -> ControlFile {
        self.control.lock().clone()
    }

    /// The latest committed catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().latest().clone()
    }

    pub fn begin(self: &Arc<Self>, isolation: IsolationLevel, read_only: bool) -> Transaction {
        Transaction::new(self.clone(), isolation, read_only || self.in_recovery())
    }

    /// Writes a checkpoint (consistent heap snapshot at a redo LSN, control file
    /// update, WAL segment removal), on a standby a restartpoint. `reason` is
    /// logged: "time", "wal", "immediate force wait", "shutdown".
    /// A shutdown checkpoint then stops the table store's applier and closes
    /// the store (a later open in this process may open it again).
    pub fn checkpoint(&self, reason: &str) -> PgResult<CheckpointStats> {
        let stats = if self.in_recovery() {
            // A standby's WAL is the primary's, byte for byte: it writes a
            // restartpoint (image and control file, no WAL record).
            checkpoint::restartpoint(self, reason)?
        } else {
            checkpoint::run(self, reason)?
        };
        if reason == "shutdown" {
            self.applier.close();
        }
        Ok(stats)
    }

    /// The checkpoint of a base backup ([`Database::checkpoint`] on a
    /// primary), with what the backup sends of it: the image and a view of
    /// the table store taken after it (`checkpoint.rs`).
    pub fn checkpoint_for_backup(
        &self,
        reason: &str,
    ) -> PgResult<(CheckpointStats, checkpoint::BackupPoint)> {
        checkpoint::run_for_backup(self, reason)
    }

    /// Shutdown checkpoint; the control file then says "shut down" (on a
    /// standby: a shutdown restartpoint, then "shut down in recovery"). Later
    /// commits are not expected (the server stops sessions first).
    pub fn shutdown(&self) -> PgResult<CheckpointStats> {
        self.checkpoint("shutdown")
    }

    /// The oldest LSN from which the catalog history is exact: logical
    /// decoding (a slot created by slot synchronization on a standby) cannot
    /// start before it.
    pub fn catalog_exact_from(&self) -> Lsn {
        Lsn(self
            .catalog_exact_from
            .load(std::sync::atomic::Ordering::Acquire))
    }

    /// Bytes of WAL written since the last checkpoint's redo LSN (for max_wal_size).
    pub fn wal_since_checkpoint(&self) -> u64 {
        let redo = self.control.lock().redo_lsn;
        self.wal.insert_lsn().0.saturating_sub(redo.0)
    }

    /// `nextval()`: non-transactional, WAL-logged ahead in batches as PostgreSQL does.
    /// Errors: `2200H nextval: reached maximum value of sequence "s" (N)`.
    /// (A sequence created by a still-open transaction: use [`Transaction::nextval`].)
    pub fn nextval(&self, seq: Oid) -> PgResult<i64> {
        let def = self.committed_sequence(seq)?;
        self.nextval_def(&def)
    }

    /// `setval(seq, value, is_called)`.
    pub fn setval(&self, seq: Oid, value: i64, is_called: bool) -> PgResult<i64> {
        let def = self.committed_sequence(seq)?;
        self.setval_def(&def, value, is_called)
    }
}
