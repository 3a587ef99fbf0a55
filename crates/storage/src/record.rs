//! WAL payloads written by storage: row changes, DDL, commits, sequences,
//! checkpoints. The WAL crate frames them (length, CRC, kind, xid); this module
//! defines the kinds (16..=31) and the payload bytes.
//!
//! A transaction's records are appended at commit, contiguously, in the order its
//! statements made the changes, followed by its COMMIT record; rollback writes
//! nothing. Rows are logged whole so logical decoding needs only WAL plus the table
//! definition as of the change (see `docs/storage.md` for byte layouts):
//!
//! ```text
//! INSERT    table oid | key | new row
//! UPDATE    table oid | old key | new key | new row | old tuple
//! DELETE    table oid | key | old tuple
//! TRUNCATE  n | table oids | restart_seqs | cascade
//! MESSAGE   transactional | prefix | content             (pg_logical_emit_message)
//! CATALOG   op tag | op body (whole TableDef / RoleDef / SequenceDef / DatabaseDef /
//!           PublicationDef / SubscriptionDef, a pg_subscription_rel row, an oid,
//!           a replication origin: id u16 [+ name], a table's ACL: oid | present |
//!           n | (grantee, grantor, mode u64)*, a pg_auth_members row, or a
//!           subscription's followed publisher: oid | conninfo | sysid | timeline)
//! COMMIT    commit time (us since 2000-01-01 UTC) | origin? (id, remote lsn, remote time)
//! SEQUENCE  sequence oid | last_value | is_called         (non-transactional, xid 0)
//! CHECKPOINT redo | timeline | next xid | next oid | shutdown
//! SLOT_STATE n | n × (name | plugin | database name | restart_lsn | confirmed_flush
//!           | catalog_xmin | two_phase | failover | invalidation name or "")
//!           | m | m × dropped name
//!           [| present | synchronized_standby_slots]   (non-transactional, xid 0)
//! ```
//! SLOT_STATE carries a primary's failover slots as they are after a change
//! (`docs/failover-slots.md`, "Pushed slot state"), and the primary's
//! `synchronized_standby_slots` when it writes one (a record without the
//! trailing field, as older servers wrote it, carries none); redo and decoding
//! skip it, a standby's replay hands it to slot synchronization
//! ([`SlotStateRecord`]).
//! A transactional MESSAGE is one of its transaction's records (between its
//! changes, in order); a non-transactional one is appended at once, with the xid of
//! the emitting transaction if it had one, else 0. Redo ignores messages.
//! An "old tuple" is a tag: 0 none, 1 key (row-shaped, non-key columns NULL: REPLICA
//! IDENTITY DEFAULT with a primary key), 2 full (REPLICA IDENTITY FULL), then the row.
//! PostgreSQL counterparts: `heapam_xlog.h` (xl_heap_insert/update/delete),
//! `xact.h` (xl_xact_commit), `sequence.h` (xl_seq_rec), `pg_control.h` (CheckPoint), `message.h` (xl_logical_message).

use std::sync::Arc;

use tandem_types::{Lsn, Oid, PgResult, TimeLineId, Value, Xid};
use tandem_wal::{Record, RecordKind};

use crate::acl::{AclItem, AuthMember};
use crate::catalog::{CatalogOp, DatabaseDef};
use crate::codec::{corrupt, Reader, Writer};
use crate::{
    Catalog, ColumnDef, PrimaryKey, PublicationDef, ReplicaIdentity, RoleDef, RowKey, SequenceDef,
    SubscriptionDef, SubscriptionRelState, TableDef,
};

/// Record kinds owned by storage.
pub mod kinds {
    use tandem_wal::RecordKind;
    pub const INSERT: RecordKind = 16;
    pub const UPDATE: RecordKind = 17;
    pub const DELETE: RecordKind = 18;
    pub const TRUNCATE: RecordKind = 19;
    pub const CATALOG: RecordKind = 20;
    pub const COMMIT: RecordKind = 21;
    pub const SEQUENCE: RecordKind = 22;
    pub const CHECKPOINT: RecordKind = 23;
    pub const MESSAGE: RecordKind = 24;
    pub const SLOT_STATE: RecordKind = 25;
}

/// The old row image logged with an UPDATE or DELETE.
#[derive(Clone, Debug, PartialEq)]
pub enum OldTuple {
    None,
    /// Row-shaped; only the primary key columns are set (REPLICA IDENTITY DEFAULT).
    Key(Vec<Value>),
    /// [`OldTuple::Key`] of an UPDATE that kept the primary key: made, when
    /// the record is encoded, of the new row's key columns (bit `i` of
    /// `columns` set for column `i`) in a row of `width` columns, so that a
    /// large UPDATE holds nothing per row for it. Never decoded: the record
    /// reads back as `Key`.
    KeyOfNew {
        width: u32,
        columns: u64,
    },
    /// The whole old row (REPLICA IDENTITY FULL).
    Full(Vec<Value>),
    /// Not a change of the row's contents: the row converted to a column's
    /// new type by ALTER COLUMN TYPE (a table rewrite). Replayed as an
    /// UPDATE; logical decoding skips it, as PostgreSQL's decodes nothing of
    /// a rewrite.
    Rewrite,
}

/// One change of a transaction, in statement order.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Insert {
        table: Oid,
        key: RowKey,
        row: Arc<[Value]>,
    },
    Update {
        table: Oid,
        old_key: RowKey,
        key: RowKey,
        row: Arc<[Value]>,
        old: OldTuple,
    },
    Delete {
        table: Oid,
        key: RowKey,
        old: OldTuple,
    },
    Truncate {
        tables: Vec<Oid>,
        /// `TRUNCATE ... RESTART IDENTITY`
        restart_seqs: bool,
        /// `TRUNCATE ... CASCADE`
        cascade: bool,
    },
    /// Boxed: DDL is rare, and a bulk load holds millions of changes.
    Catalog(Box<CatalogOp>),
}

impl Change {
    /// Whether the change writes `table`'s rows or storage.
    pub fn touches(&self, table: Oid) -> bool {
        match self {
            Change::Insert { table: t, .. }
            | Change::Update { table: t, .. }
            | Change::Delete { table: t, .. } => *t == table,
            Change::Truncate { tables, .. } => tables.contains(&table),
            Change::Catalog(op) => match op.as_ref() {
                CatalogOp::AddPrimaryKey { table: t, .. }
                | CatalogOp::DropTable(t)
                | CatalogOp::DropIndex(t) => *t == table,
                _ => false,
            },
        }
    }

    /// Drops the old row image of an UPDATE or DELETE once it is logged
    /// (the recent heap and the table store need none of it).
    pub fn drop_old_tuple(&mut self) {
        if let Change::Update { old, .. } | Change::Delete { old, .. } = self {
            *old = OldTuple::None;
        }
    }

    /// The memory the change holds, roughly (its keys and rows included):
    /// what write sets and queues of changes budget with.
    pub fn mem_size(&self) -> usize {
        let row = |r: &[Value]| 16 + r.iter().map(Value::mem_size).sum::<usize>();
        let key = |k: &RowKey| 24 + k.0.len();
        std::mem::size_of::<Change>()
            + match self {
                Change::Insert { key: k, row: r, .. } => key(k) + row(r),
                Change::Update {
                    old_key,
                    key: k,
                    row: r,
                    ..
                } => key(old_key) + key(k) + row(r),
                Change::Delete { key: k, .. } => key(k),
                _ => 0,
            }
    }
}

/// Replication origin of a commit (a subscription's apply worker sets it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitOrigin {
    pub origin: u16,
    pub remote_lsn: Lsn,
    pub remote_time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRecord {
    /// Microseconds since 2000-01-01 UTC.
    pub commit_time: i64,
    pub origin: Option<CommitOrigin>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceRecord {
    pub seq: Oid,
    pub last_value: i64,
    pub is_called: bool,
}

/// `pg_logical_emit_message(transactional, prefix, content)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    pub transactional: bool,
    pub prefix: String,
    pub content: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub redo: Lsn,
    pub timeline: TimeLineId,
    pub next_xid: Xid,
    pub next_oid: Oid,
    pub shutdown: bool,
}

/// One failover slot of a primary as a SLOT_STATE record carries it (the
/// columns slot synchronization reads from `pg_replication_slots`). Invalid
/// positions and xids are zero; `invalidation` is `pg_replication_slots`'
/// `invalidation_reason`, empty for a valid slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotStateEntry {
    pub name: String,
    pub plugin: String,
    pub database: String,
    pub restart_lsn: Lsn,
    pub confirmed_flush: Lsn,
    pub catalog_xmin: Xid,
    pub two_phase: bool,
    pub failover: bool,
    pub invalidation: String,
}

/// The failover slots of a primary that changed since the last SLOT_STATE
/// record (their whole state), and those that stopped being failover slots
/// (dropped, or `failover` turned off).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotStateRecord {
    pub slots: Vec<SlotStateEntry>,
    pub dropped: Vec<String>,
    /// The writer's `synchronized_standby_slots` when the record was written
    /// (a standby's `pg_failover_readiness` judges with it); `None` in a
    /// record that does not carry it.
    pub standby_slots: Option<String>,
}

/// A decoded storage record.
#[derive(Clone, Debug, PartialEq)]
pub enum StorageRecord {
    Change(Change),
    Commit(CommitRecord),
    Sequence(SequenceRecord),
    Checkpoint(CheckpointRecord),
    Message(MessageRecord),
    SlotState(SlotStateRecord),
}

/// Encodes `old`; `new` is the UPDATE's new row (empty for a DELETE).
fn old_tuple(w: &mut Writer, old: &OldTuple, new: &[Value]) {
    match old {
        OldTuple::None => w.u8(0),
        OldTuple::Key(r) => {
            w.u8(1);
            w.values(r);
        }
        OldTuple::KeyOfNew { width, columns } => {
            w.u8(1);
            w.u32(*width);
            for i in 0..*width as usize {
                match new.get(i) {
                    Some(v) if i < 64 && columns & (1 << i) != 0 => w.value(v),
                    _ => w.value(&Value::Null),
                }
            }
        }
        OldTuple::Full(r) => {
            w.u8(2);
            w.values(r);
        }
        OldTuple::Rewrite => w.u8(3),
    }
}

fn read_old_tuple(r: &mut Reader<'_>) -> PgResult<OldTuple> {
    Ok(match r.u8()? {
        0 => OldTuple::None,
        1 => OldTuple::Key(r.values()?),
        2 => OldTuple::Full(r.values()?),
        3 => OldTuple::Rewrite,
        _ => return Err(corrupt("WAL record")),
    })
}

/// Encodes a change as a WAL record of transaction `xid`.
pub fn change_record(change: &Change, xid: Xid) -> Record {
    change_record_in(change, xid, &mut Writer::new())
}

/// [`change_record`] encoding into `scratch` first (cleared; kept for the next
/// record), so a large write set grows one buffer instead of every payload:
/// each payload is allocated once, at its exact size.
pub fn change_record_in(change: &Change, xid: Xid, scratch: &mut Writer) -> Record {
    let (kind, _) = change_payload(change, scratch);
    Record {
        kind,
        xid,
        payload: scratch.buf.as_slice().to_vec(),
    }
}

/// [`change_record`] into `rec`, whose payload buffer it reuses (a large
/// commit's records encoded a piece at a time).
pub fn change_record_into(change: &Change, xid: Xid, rec: &mut Record) {
    let mut w = Writer {
        buf: std::mem::take(&mut rec.payload),
    };
    let (kind, _) = change_payload(change, &mut w);
    rec.kind = kind;
    rec.xid = xid;
    rec.payload = w.buf;
}

/// A change's WAL record kind and payload, the payload into `w` (cleared
/// first); for an INSERT also where the row's encoding starts in `w.buf`
/// (the table store keeps rows in the same encoding), else its length.
pub fn change_payload(change: &Change, w: &mut Writer) -> (RecordKind, usize) {
    w.buf.clear();
    let kind = match change {
        Change::Insert { table, key, row } => {
            return (kinds::INSERT, insert_payload(*table, key, row, w));
        }
        Change::Update {
            table,
            old_key,
            key,
            row,
            old,
        } => {
            w.oid(*table);
            w.bytes(&old_key.0);
            w.bytes(&key.0);
            w.values(row);
            old_tuple(w, old, row);
            kinds::UPDATE
        }
        Change::Delete { table, key, old } => {
            w.oid(*table);
            w.bytes(&key.0);
            old_tuple(w, old, &[]);
            kinds::DELETE
        }
        Change::Truncate {
            tables,
            restart_seqs,
            cascade,
        } => {
            w.u32(tables.len() as u32);
            for t in tables {
                w.oid(*t);
            }
            w.bool(*restart_seqs);
            w.bool(*cascade);
            kinds::TRUNCATE
        }
        Change::Catalog(op) => {
            catalog_op(w, op);
            kinds::CATALOG
        }
    };
    (kind, w.buf.len())
}

/// An INSERT record's payload into `w` (cleared first); returns where the
/// row's encoding starts in `w.buf`.
pub fn insert_payload(table: Oid, key: &RowKey, row: &[Value], w: &mut Writer) -> usize {
    w.buf.clear();
    w.oid(table);
    w.bytes(&key.0);
    let row_at = w.buf.len();
    w.values(row);
    row_at
}

pub fn commit_record(c: &CommitRecord, xid: Xid) -> Record {
    let mut w = Writer::new();
    w.i64(c.commit_time);
    match &c.origin {
        Some(o) => {
            w.u8(1);
            w.u16(o.origin);
            w.lsn(o.remote_lsn);
            w.i64(o.remote_time);
        }
        None => w.u8(0),
    }
    Record {
        kind: kinds::COMMIT,
        xid,
        payload: w.buf,
    }
}

pub fn sequence_record(s: &SequenceRecord) -> Record {
    let mut w = Writer::new();
    w.oid(s.seq);
    w.i64(s.last_value);
    w.bool(s.is_called);
    Record {
        kind: kinds::SEQUENCE,
        xid: Xid::INVALID,
        payload: w.buf,
    }
}

/// A MESSAGE record of transaction `xid` (`Xid::INVALID` for a
/// non-transactional message emitted outside a transaction with an xid).
pub fn message_record(m: &MessageRecord, xid: Xid) -> Record {
    let mut w = Writer::new();
    w.bool(m.transactional);
    w.str(&m.prefix);
    w.bytes(&m.content);
    Record {
        kind: kinds::MESSAGE,
        xid,
        payload: w.buf,
    }
}

pub fn checkpoint_record(c: &CheckpointRecord) -> Record {
    let mut w = Writer::new();
    w.lsn(c.redo);
    w.u32(c.timeline.0);
    w.xid(c.next_xid);
    w.oid(c.next_oid);
    w.bool(c.shutdown);
    Record {
        kind: kinds::CHECKPOINT,
        xid: Xid::INVALID,
        payload: w.buf,
    }
}

/// A SLOT_STATE record (non-transactional).
pub fn slot_state_record(s: &SlotStateRecord) -> Record {
    let mut w = Writer::new();
    w.u32(s.slots.len() as u32);
    for e in &s.slots {
        w.str(&e.name);
        w.str(&e.plugin);
        w.str(&e.database);
        w.lsn(e.restart_lsn);
        w.lsn(e.confirmed_flush);
        w.xid(e.catalog_xmin);
        w.bool(e.two_phase);
        w.bool(e.failover);
        w.str(&e.invalidation);
    }
    w.u32(s.dropped.len() as u32);
    for name in &s.dropped {
        w.str(name);
    }
    if s.standby_slots.is_some() {
        w.opt_str(s.standby_slots.as_deref());
    }
    Record {
        kind: kinds::SLOT_STATE,
        xid: Xid::INVALID,
        payload: w.buf,
    }
}

fn read_slot_state(r: &mut Reader<'_>) -> PgResult<SlotStateRecord> {
    let mut s = SlotStateRecord::default();
    for _ in 0..r.u32()? {
        s.slots.push(SlotStateEntry {
            name: r.string()?,
            plugin: r.string()?,
            database: r.string()?,
            restart_lsn: r.lsn()?,
            confirmed_flush: r.lsn()?,
            catalog_xmin: r.xid()?,
            two_phase: r.bool()?,
            failover: r.bool()?,
            invalidation: r.string()?,
        });
    }
    for _ in 0..r.u32()? {
        s.dropped.push(r.string()?);
    }
    if !r.is_empty() {
        s.standby_slots = r.opt_string()?;
    }
    Ok(s)
}

impl crate::Database {
    /// Appends a SLOT_STATE record and flushes it, under the commit mutex so
    /// that no transaction's WAL lands between the look at the end of WAL and
    /// the record: `build` gets the end of WAL before the record (the end of
    /// the last record written) and returns the record to write, or `None`
    /// to write nothing. Returns the record's (start, end). On a standby:
    /// `XX000 cannot make new WAL entries during recovery`.
    pub fn append_slot_state(
        &self,
        build: impl FnOnce(Lsn) -> Option<SlotStateRecord>,
    ) -> PgResult<Option<(Lsn, Lsn)>> {
        if self.in_recovery() {
            return Err(tandem_types::PgError::internal(
                "cannot make new WAL entries during recovery",
            ));
        }
        let (start, end) = {
            let _commit = self.commit_lock.lock();
            let Some(rec) = build(self.wal.insert_lsn()) else {
                return Ok(None);
            };
            let (starts, end) = self.wal.append(&[slot_state_record(&rec)])?;
            (starts.first().copied().unwrap_or(end), end)
        };
        self.wal.flush(end)?;
        Ok(Some((start, end)))
    }
}

/// Decodes a record payload; `Ok(None)` for kinds storage does not own.
pub fn decode(kind: RecordKind, payload: &[u8]) -> PgResult<Option<StorageRecord>> {
    let mut r = Reader::new(payload, "WAL record");
    let rec = match kind {
        kinds::INSERT => StorageRecord::Change(Change::Insert {
            table: r.oid()?,
            key: RowKey::new(r.bytes()?),
            row: r.values()?.into(),
        }),
        kinds::UPDATE => StorageRecord::Change(Change::Update {
            table: r.oid()?,
            old_key: RowKey::new(r.bytes()?),
            key: RowKey::new(r.bytes()?),
            row: r.values()?.into(),
            old: read_old_tuple(&mut r)?,
        }),
        kinds::DELETE => StorageRecord::Change(Change::Delete {
            table: r.oid()?,
            key: RowKey::new(r.bytes()?),
            old: read_old_tuple(&mut r)?,
        }),
        kinds::TRUNCATE => {
            let n = r.u32()? as usize;
            let mut tables = Vec::new();
            for _ in 0..n {
                tables.push(r.oid()?);
            }
            StorageRecord::Change(Change::Truncate {
                tables,
                restart_seqs: r.bool()?,
                cascade: r.bool()?,
            })
        }
        kinds::CATALOG => {
            StorageRecord::Change(Change::Catalog(Box::new(read_catalog_op(&mut r)?)))
        }
        kinds::COMMIT => StorageRecord::Commit(CommitRecord {
            commit_time: r.i64()?,
            origin: if r.bool()? {
                Some(CommitOrigin {
                    origin: r.u16()?,
                    remote_lsn: r.lsn()?,
                    remote_time: r.i64()?,
                })
            } else {
                None
            },
        }),
        kinds::SEQUENCE => StorageRecord::Sequence(SequenceRecord {
            seq: r.oid()?,
            last_value: r.i64()?,
            is_called: r.bool()?,
        }),
        kinds::CHECKPOINT => StorageRecord::Checkpoint(CheckpointRecord {
            redo: r.lsn()?,
            timeline: TimeLineId(r.u32()?),
            next_xid: r.xid()?,
            next_oid: r.oid()?,
            shutdown: r.bool()?,
        }),
        kinds::MESSAGE => StorageRecord::Message(MessageRecord {
            transactional: r.bool()?,
            prefix: r.string()?,
            content: r.bytes()?.to_vec(),
        }),
        kinds::SLOT_STATE => StorageRecord::SlotState(read_slot_state(&mut r)?),
        _ => return Ok(None),
    };
    Ok(Some(rec))
}

// ---- catalog objects ----

/// `d`, `n`, `f`, or `i` then the index oid and its column bits.
fn replica_identity(w: &mut Writer, ri: ReplicaIdentity) {
    match ri {
        ReplicaIdentity::Default => w.u8(b'd'),
        ReplicaIdentity::Nothing => w.u8(b'n'),
        ReplicaIdentity::Full => w.u8(b'f'),
        ReplicaIdentity::Index { index, columns } => {
            w.u8(b'i');
            w.oid(index);
            w.u64(columns);
        }
    }
}

fn read_replica_identity(r: &mut Reader<'_>) -> PgResult<ReplicaIdentity> {
    Ok(match r.u8()? {
        b'd' => ReplicaIdentity::Default,
        b'n' => ReplicaIdentity::Nothing,
        b'f' => ReplicaIdentity::Full,
        b'i' => ReplicaIdentity::Index {
            index: r.oid()?,
            columns: r.u64()?,
        },
        _ => return Err(corrupt("catalog")),
    })
}

fn primary_key(w: &mut Writer, pk: &PrimaryKey) {
    w.str(&pk.name);
    w.u32(pk.columns.len() as u32);
    for c in &pk.columns {
        w.u32(*c as u32);
    }
}

fn read_primary_key(r: &mut Reader<'_>) -> PgResult<PrimaryKey> {
    let name = r.string()?;
    let n = r.u32()? as usize;
    let mut columns = Vec::new();
    for _ in 0..n {
        columns.push(r.u32()? as usize);
    }
    Ok(PrimaryKey { name, columns })
}

pub fn table_def(w: &mut Writer, t: &TableDef) {
    w.oid(t.oid);
    w.str(&t.schema);
    w.str(&t.name);
    w.u32(t.columns.len() as u32);
    for c in &t.columns {
        w.str(&c.name);
        w.data_type(&c.data_type);
        w.bool(c.not_null);
        w.opt_str(c.default.as_deref());
        w.bool(c.dropped);
    }
    match &t.primary_key {
        Some(pk) => {
            w.u8(1);
            primary_key(w, pk);
        }
        None => w.u8(0),
    }
    replica_identity(w, t.replica_identity);
    w.oid(t.owner);
}

pub fn read_table_def(r: &mut Reader<'_>) -> PgResult<TableDef> {
    let oid = r.oid()?;
    let schema = r.string()?;
    let name = r.string()?;
    let n = r.u32()? as usize;
    let mut columns = Vec::new();
    for _ in 0..n {
        columns.push(ColumnDef {
            name: r.string()?,
            data_type: r.data_type()?,
            not_null: r.bool()?,
            default: r.opt_string()?,
            dropped: r.bool()?,
        });
    }
    let primary_key = if r.bool()? {
        Some(read_primary_key(r)?)
    } else {
        None
    };
    Ok(TableDef {
        oid,
        schema,
        name,
        columns,
        primary_key,
        replica_identity: read_replica_identity(r)?,
        owner: r.oid()?,
    })
}

pub fn role_def(w: &mut Writer, ro: &RoleDef) {
    w.oid(ro.oid);
    w.str(&ro.name);
    for b in [
        ro.superuser,
        ro.inherit,
        ro.createrole,
        ro.createdb,
        ro.login,
        ro.replication,
        ro.bypassrls,
    ] {
        w.bool(b);
    }
    w.i32(ro.connection_limit);
    w.opt_str(ro.password.as_deref());
}

pub fn read_role_def(r: &mut Reader<'_>) -> PgResult<RoleDef> {
    Ok(RoleDef {
        oid: r.oid()?,
        name: r.string()?,
        superuser: r.bool()?,
        inherit: r.bool()?,
        createrole: r.bool()?,
        createdb: r.bool()?,
        login: r.bool()?,
        replication: r.bool()?,
        bypassrls: r.bool()?,
        connection_limit: r.i32()?,
        password: r.opt_string()?,
    })
}

pub fn sequence_def(w: &mut Writer, s: &SequenceDef) {
    w.oid(s.oid);
    w.str(&s.schema);
    w.str(&s.name);
    w.data_type(&s.data_type);
    for v in [s.start, s.increment, s.min_value, s.max_value, s.cache] {
        w.i64(v);
    }
    w.bool(s.cycle);
    match s.owned_by {
        Some((t, c)) => {
            w.u8(1);
            w.oid(t);
            w.u32(c as u32);
        }
        None => w.u8(0),
    }
}

pub fn read_sequence_def(r: &mut Reader<'_>) -> PgResult<SequenceDef> {
    Ok(SequenceDef {
        oid: r.oid()?,
        schema: r.string()?,
        name: r.string()?,
        data_type: r.data_type()?,
        start: r.i64()?,
        increment: r.i64()?,
        min_value: r.i64()?,
        max_value: r.i64()?,
        cache: r.i64()?,
        cycle: r.bool()?,
        owned_by: if r.bool()? {
            Some((r.oid()?, r.u32()? as usize))
        } else {
            None
        },
    })
}

pub fn database_def(w: &mut Writer, d: &DatabaseDef) {
    w.oid(d.oid);
    w.str(&d.name);
    w.oid(d.owner);
    w.bool(d.is_template);
    w.bool(d.allow_connections);
}

pub fn read_database_def(r: &mut Reader<'_>) -> PgResult<DatabaseDef> {
    Ok(DatabaseDef {
        oid: r.oid()?,
        name: r.string()?,
        owner: r.oid()?,
        is_template: r.bool()?,
        allow_connections: r.bool()?,
    })
}

pub fn publication_def(w: &mut Writer, p: &PublicationDef) {
    w.oid(p.oid);
    w.str(&p.name);
    w.oid(p.owner);
    for b in [
        p.all_tables,
        p.pub_insert,
        p.pub_update,
        p.pub_delete,
        p.pub_truncate,
        p.via_root,
    ] {
        w.bool(b);
    }
    w.u32(p.tables.len() as u32);
    for t in &p.tables {
        w.oid(*t);
    }
}

pub fn read_publication_def(r: &mut Reader<'_>) -> PgResult<PublicationDef> {
    let mut p = PublicationDef {
        oid: r.oid()?,
        name: r.string()?,
        owner: r.oid()?,
        all_tables: r.bool()?,
        pub_insert: r.bool()?,
        pub_update: r.bool()?,
        pub_delete: r.bool()?,
        pub_truncate: r.bool()?,
        via_root: r.bool()?,
        tables: Default::default(),
    };
    for _ in 0..r.u32()? {
        p.tables.insert(r.oid()?);
    }
    Ok(p)
}

fn subscription_rel(w: &mut Writer, rel: &SubscriptionRelState) {
    w.oid(rel.relid);
    w.u8(rel.state);
    match rel.lsn {
        Some(l) => {
            w.u8(1);
            w.lsn(l);
        }
        None => w.u8(0),
    }
}

fn read_subscription_rel(r: &mut Reader<'_>) -> PgResult<SubscriptionRelState> {
    Ok(SubscriptionRelState {
        relid: r.oid()?,
        state: r.u8()?,
        lsn: if r.bool()? { Some(r.lsn()?) } else { None },
    })
}

pub fn subscription_def(w: &mut Writer, s: &SubscriptionDef) {
    w.oid(s.oid);
    w.oid(s.database);
    w.str(&s.name);
    w.oid(s.owner);
    w.bool(s.enabled);
    w.str(&s.conninfo);
    w.opt_str(s.slot_name.as_deref());
    w.u32(s.publications.len() as u32);
    for p in &s.publications {
        w.str(p);
    }
    w.bool(s.binary);
    w.u8(s.streaming);
    w.u8(s.two_phase);
    for b in [s.disable_on_error, s.failover] {
        w.bool(b);
    }
    w.str(&s.synchronous_commit);
    w.str(&s.origin);
    for b in [s.password_required, s.run_as_owner] {
        w.bool(b);
    }
    w.lsn(s.skip_lsn);
    w.u32(s.relations.len() as u32);
    for rel in s.relations.values() {
        subscription_rel(w, rel);
    }
}

pub fn read_subscription_def(r: &mut Reader<'_>) -> PgResult<SubscriptionDef> {
    let oid = r.oid()?;
    let database = r.oid()?;
    let name = r.string()?;
    let owner = r.oid()?;
    let enabled = r.bool()?;
    let conninfo = r.string()?;
    let slot_name = r.opt_string()?;
    let mut publications = Vec::new();
    for _ in 0..r.u32()? {
        publications.push(r.string()?);
    }
    let mut s = SubscriptionDef {
        oid,
        database,
        name,
        owner,
        enabled,
        conninfo,
        slot_name,
        publications,
        binary: r.bool()?,
        streaming: r.u8()?,
        two_phase: r.u8()?,
        disable_on_error: r.bool()?,
        failover: r.bool()?,
        synchronous_commit: r.string()?,
        origin: r.string()?,
        password_required: r.bool()?,
        run_as_owner: r.bool()?,
        skip_lsn: r.lsn()?,
        relations: Default::default(),
    };
    for _ in 0..r.u32()? {
        let rel = read_subscription_rel(r)?;
        s.relations.insert(rel.relid, rel);
    }
    Ok(s)
}

fn catalog_op(w: &mut Writer, op: &CatalogOp) {
    match op {
        CatalogOp::PutTable { def, fill } => {
            w.u8(1);
            table_def(w, def);
            w.opt_value(fill.as_ref());
        }
        CatalogOp::DropTable(o) => {
            w.u8(2);
            w.oid(*o);
        }
        CatalogOp::AddPrimaryKey { table, pk } => {
            w.u8(3);
            w.oid(*table);
            primary_key(w, pk);
        }
        CatalogOp::PutRole(r) => {
            w.u8(4);
            role_def(w, r);
        }
        CatalogOp::DropRole(o) => {
            w.u8(5);
            w.oid(*o);
        }
        CatalogOp::PutSequence(s) => {
            w.u8(6);
            sequence_def(w, s);
        }
        CatalogOp::DropSequence(o) => {
            w.u8(7);
            w.oid(*o);
        }
        CatalogOp::PutDatabase(d) => {
            w.u8(8);
            database_def(w, d);
        }
        CatalogOp::DropDatabase(o) => {
            w.u8(9);
            w.oid(*o);
        }
        CatalogOp::PutPublication(p) => {
            w.u8(10);
            publication_def(w, p);
        }
        CatalogOp::DropPublication(o) => {
            w.u8(11);
            w.oid(*o);
        }
        CatalogOp::PutSubscription(sub) => {
            w.u8(12);
            subscription_def(w, sub);
        }
        CatalogOp::DropSubscription(o) => {
            w.u8(13);
            w.oid(*o);
        }
        CatalogOp::PutSubscriptionRel { subscription, rel } => {
            w.u8(14);
            w.oid(*subscription);
            subscription_rel(w, rel);
        }
        CatalogOp::DropSubscriptionRel {
            subscription,
            relid,
        } => {
            w.u8(15);
            w.oid(*subscription);
            w.oid(*relid);
        }
        CatalogOp::PutOrigin { id, name } => {
            w.u8(16);
            w.u16(*id);
            w.str(name);
        }
        CatalogOp::DropOrigin(id) => {
            w.u8(17);
            w.u16(*id);
        }
        CatalogOp::SetAcl { object, acl } => {
            w.u8(18);
            w.oid(*object);
            w.bool(acl.is_some());
            if let Some(acl) = acl {
                acl_items(w, acl);
            }
        }
        CatalogOp::PutAuthMember(m) => {
            w.u8(19);
            auth_member(w, m);
        }
        CatalogOp::DropAuthMember(o) => {
            w.u8(20);
            w.oid(*o);
        }
        CatalogOp::PutSubscriptionFollowed {
            subscription,
            followed,
        } => {
            w.u8(21);
            w.oid(*subscription);
            followed_publisher(w, followed);
        }
        CatalogOp::PutIndex(i) => {
            w.u8(22);
            index_def(w, i);
        }
        CatalogOp::DropIndex(o) => {
            w.u8(23);
            w.oid(*o);
        }
        CatalogOp::PutConstraint(c) => {
            w.u8(24);
            constraint_def(w, c);
        }
        CatalogOp::DropConstraint(o) => {
            w.u8(25);
            w.oid(*o);
        }
        CatalogOp::PutView(v) => {
            w.u8(26);
            view_def(w, v);
        }
        CatalogOp::DropView(o) => {
            w.u8(27);
            w.oid(*o);
        }
        CatalogOp::PutType(t) => {
            w.u8(30);
            w.enum_type(t);
        }
        CatalogOp::DropType(o) => {
            w.u8(31);
            w.oid(*o);
        }
        CatalogOp::PutSchema(s) => {
            w.u8(32);
            schema_def(w, s);
        }
        CatalogOp::DropSchema(o) => {
            w.u8(33);
            w.oid(*o);
        }
        CatalogOp::SetComment {
            object,
            class,
            sub,
            text,
        } => {
            w.u8(29);
            w.oid(*object);
            w.u32(*class);
            w.u32(*sub as u32);
            w.opt_str(text.as_deref());
        }
        CatalogOp::SetIdentity {
            table,
            column,
            always,
        } => {
            w.u8(28);
            w.oid(*table);
            w.u32(*column);
            w.u8(match always {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            });
        }
    }
}

fn schema_def(w: &mut Writer, s: &crate::SchemaDef) {
    w.oid(s.oid);
    w.str(&s.name);
    w.oid(s.owner);
}

fn read_schema_def(r: &mut Reader<'_>) -> PgResult<crate::SchemaDef> {
    Ok(crate::SchemaDef {
        oid: r.oid()?,
        name: r.string()?,
        owner: r.oid()?,
    })
}

fn view_def(w: &mut Writer, v: &crate::ViewDef) {
    w.oid(v.oid);
    w.str(&v.schema);
    w.str(&v.name);
    w.str(&v.query);
    w.u32(v.columns.len() as u32);
    for (name, ty) in &v.columns {
        w.str(name);
        w.data_type(ty);
    }
    w.u32(v.depends_on.len() as u32);
    for o in &v.depends_on {
        w.oid(*o);
    }
    w.oid(v.owner);
}

fn read_view_def(r: &mut Reader<'_>) -> PgResult<crate::ViewDef> {
    let oid = r.oid()?;
    let schema = r.string()?;
    let name = r.string()?;
    let query = r.string()?;
    let n = r.u32()? as usize;
    let mut columns = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        columns.push((r.string()?, r.data_type()?));
    }
    let n = r.u32()? as usize;
    let mut depends_on = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        depends_on.push(r.oid()?);
    }
    Ok(crate::ViewDef {
        oid,
        schema,
        name,
        query,
        columns,
        depends_on,
        owner: r.oid()?,
    })
}

fn positions(w: &mut Writer, p: &[usize]) {
    w.u32(p.len() as u32);
    for &c in p {
        w.u32(c as u32);
    }
}

fn read_positions(r: &mut Reader<'_>) -> PgResult<Vec<usize>> {
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(r.u32()? as usize);
    }
    Ok(out)
}

fn constraint_def(w: &mut Writer, c: &crate::ConstraintDef) {
    w.oid(c.oid);
    w.str(&c.name);
    w.oid(c.table);
    match &c.kind {
        crate::ConstraintKind::ForeignKey(fk) => {
            w.u8(1);
            positions(w, &fk.columns);
            w.oid(fk.ref_table);
            positions(w, &fk.ref_columns);
            w.oid(fk.ref_index.unwrap_or(Oid(0)));
            w.u8(fk.on_update.code());
            w.u8(fk.on_delete.code());
            w.bool(fk.match_full);
        }
        crate::ConstraintKind::Check {
            expr,
            pretty,
            columns,
        } => {
            w.u8(2);
            w.str(expr);
            w.str(pretty);
            positions(w, columns);
        }
    }
}

fn read_constraint_def(r: &mut Reader<'_>) -> PgResult<crate::ConstraintDef> {
    let oid = r.oid()?;
    let name = r.string()?;
    let table = r.oid()?;
    let action = |c: u8| crate::FkAction::from_code(c).ok_or_else(|| corrupt("constraint"));
    let kind = match r.u8()? {
        1 => crate::ConstraintKind::ForeignKey(crate::ForeignKey {
            columns: read_positions(r)?,
            ref_table: r.oid()?,
            ref_columns: read_positions(r)?,
            ref_index: Some(r.oid()?).filter(|o| o.0 != 0),
            on_update: action(r.u8()?)?,
            on_delete: action(r.u8()?)?,
            match_full: r.bool()?,
        }),
        2 => crate::ConstraintKind::Check {
            expr: r.string()?,
            pretty: r.string()?,
            columns: read_positions(r)?,
        },
        _ => return Err(corrupt("constraint")),
    };
    Ok(crate::ConstraintDef {
        oid,
        name,
        table,
        kind,
    })
}

fn index_def(w: &mut Writer, i: &crate::IndexDef) {
    w.oid(i.oid);
    w.str(&i.name);
    w.oid(i.table);
    w.u32(i.columns.len() as u32);
    for c in &i.columns {
        w.u32(*c as u32);
    }
    w.bool(i.unique);
    w.bool(i.constraint);
}

fn read_index_def(r: &mut Reader<'_>) -> PgResult<crate::IndexDef> {
    let oid = r.oid()?;
    let name = r.string()?;
    let table = r.oid()?;
    let n = r.u32()? as usize;
    let mut columns = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        columns.push(r.u32()? as usize);
    }
    Ok(crate::IndexDef {
        oid,
        name,
        table,
        columns,
        unique: r.bool()?,
        constraint: r.bool()?,
    })
}

fn followed_publisher(w: &mut Writer, f: &crate::FollowedPublisher) {
    w.str(&f.conninfo);
    w.str(&f.system_identifier);
    w.u32(f.timeline);
}

fn read_followed_publisher(r: &mut Reader<'_>) -> PgResult<crate::FollowedPublisher> {
    Ok(crate::FollowedPublisher {
        conninfo: r.string()?,
        system_identifier: r.string()?,
        timeline: r.u32()?,
    })
}

fn acl_items(w: &mut Writer, acl: &[AclItem]) {
    w.u32(acl.len() as u32);
    for item in acl {
        w.oid(item.grantee);
        w.oid(item.grantor);
        w.u64(item.mode);
    }
}

fn read_acl_items(r: &mut Reader<'_>) -> PgResult<Vec<AclItem>> {
    let mut acl = Vec::new();
    for _ in 0..r.u32()? {
        acl.push(AclItem {
            grantee: r.oid()?,
            grantor: r.oid()?,
            mode: r.u64()?,
        });
    }
    Ok(acl)
}

fn auth_member(w: &mut Writer, m: &AuthMember) {
    for o in [m.oid, m.role, m.member, m.grantor] {
        w.oid(o);
    }
    for b in [m.admin, m.inherit, m.set] {
        w.bool(b);
    }
}

fn read_auth_member(r: &mut Reader<'_>) -> PgResult<AuthMember> {
    Ok(AuthMember {
        oid: r.oid()?,
        role: r.oid()?,
        member: r.oid()?,
        grantor: r.oid()?,
        admin: r.bool()?,
        inherit: r.bool()?,
        set: r.bool()?,
    })
}

fn read_catalog_op(r: &mut Reader<'_>) -> PgResult<CatalogOp> {
    Ok(match r.u8()? {
        1 => CatalogOp::PutTable {
            def: read_table_def(r)?,
            fill: r.opt_value()?,
        },
        2 => CatalogOp::DropTable(r.oid()?),
        3 => CatalogOp::AddPrimaryKey {
            table: r.oid()?,
            pk: read_primary_key(r)?,
        },
        4 => CatalogOp::PutRole(read_role_def(r)?),
        5 => CatalogOp::DropRole(r.oid()?),
        6 => CatalogOp::PutSequence(read_sequence_def(r)?),
        7 => CatalogOp::DropSequence(r.oid()?),
        8 => CatalogOp::PutDatabase(read_database_def(r)?),
        9 => CatalogOp::DropDatabase(r.oid()?),
        10 => CatalogOp::PutPublication(read_publication_def(r)?),
        11 => CatalogOp::DropPublication(r.oid()?),
        12 => CatalogOp::PutSubscription(read_subscription_def(r)?),
        13 => CatalogOp::DropSubscription(r.oid()?),
        14 => CatalogOp::PutSubscriptionRel {
            subscription: r.oid()?,
            rel: read_subscription_rel(r)?,
        },
        15 => CatalogOp::DropSubscriptionRel {
            subscription: r.oid()?,
            relid: r.oid()?,
        },
        16 => CatalogOp::PutOrigin {
            id: r.u16()?,
            name: r.string()?,
        },
        17 => CatalogOp::DropOrigin(r.u16()?),
        18 => {
            let object = r.oid()?;
            let acl = if r.bool()? {
                Some(read_acl_items(r)?)
            } else {
                None
            };
            CatalogOp::SetAcl { object, acl }
        }
        19 => CatalogOp::PutAuthMember(read_auth_member(r)?),
        20 => CatalogOp::DropAuthMember(r.oid()?),
        21 => CatalogOp::PutSubscriptionFollowed {
            subscription: r.oid()?,
            followed: read_followed_publisher(r)?,
        },
        22 => CatalogOp::PutIndex(read_index_def(r)?),
        23 => CatalogOp::DropIndex(r.oid()?),
        24 => CatalogOp::PutConstraint(read_constraint_def(r)?),
        25 => CatalogOp::DropConstraint(r.oid()?),
        26 => CatalogOp::PutView(read_view_def(r)?),
        27 => CatalogOp::DropView(r.oid()?),
        30 => CatalogOp::PutType(r.enum_type()?),
        31 => CatalogOp::DropType(r.oid()?),
        32 => CatalogOp::PutSchema(read_schema_def(r)?),
        33 => CatalogOp::DropSchema(r.oid()?),
        29 => CatalogOp::SetComment {
            object: r.oid()?,
            class: r.u32()?,
            sub: r.u32()? as i32,
            text: r.opt_string()?,
        },
        28 => CatalogOp::SetIdentity {
            table: r.oid()?,
            column: r.u32()?,
            always: match r.u8()? {
                0 => None,
                1 => Some(false),
                2 => Some(true),
                _ => return Err(corrupt("WAL record")),
            },
        },
        _ => return Err(corrupt("WAL record")),
    })
}

/// A whole catalog (checkpoint file).
pub fn catalog(w: &mut Writer, cat: &Catalog) {
    w.u32(cat.tables.len() as u32);
    for t in cat.tables.values() {
        table_def(w, t);
    }
    w.u32(cat.roles.len() as u32);
    for ro in cat.roles.values() {
        role_def(w, ro);
    }
    w.u32(cat.sequences.len() as u32);
    for s in cat.sequences.values() {
        sequence_def(w, s);
    }
    w.u32(cat.databases.len() as u32);
    for d in cat.databases.values() {
        database_def(w, d);
    }
    w.u32(cat.missing_values.len() as u32);
    for (oid, vals) in &cat.missing_values {
        w.oid(*oid);
        w.values(vals);
    }
    w.u32(cat.publications.len() as u32);
    for p in cat.publications.values() {
        publication_def(w, p);
    }
    w.u32(cat.subscriptions.len() as u32);
    for sub in cat.subscriptions.values() {
        subscription_def(w, sub);
    }
    w.u32(cat.origins.len() as u32);
    for (id, name) in &cat.origins {
        w.u16(*id);
        w.str(name);
    }
    w.u32(cat.acls.len() as u32);
    for (table, acl) in &cat.acls {
        w.oid(*table);
        acl_items(w, acl);
    }
    w.u32(cat.auth_members.len() as u32);
    for m in cat.auth_members.values() {
        auth_member(w, m);
    }
    w.u32(cat.subscription_followed.len() as u32);
    for (oid, f) in &cat.subscription_followed {
        w.oid(*oid);
        followed_publisher(w, f);
    }
    w.u32(cat.indexes.len() as u32);
    for i in cat.indexes.values() {
        index_def(w, i);
    }
    w.u32(cat.constraints.len() as u32);
    for c in cat.constraints.values() {
        constraint_def(w, c);
    }
    w.u32(cat.views.len() as u32);
    for v in cat.views.values() {
        view_def(w, v);
    }
    w.u32(cat.identities.len() as u32);
    for ((table, column), always) in &cat.identities {
        w.oid(*table);
        w.u32(*column);
        w.bool(*always);
    }
    w.u32(cat.comments.len() as u32);
    for ((object, class, sub), text) in &cat.comments {
        w.oid(*object);
        w.u32(*class);
        w.u32(*sub as u32);
        w.str(text);
    }
    w.u32(cat.types.len() as u32);
    for t in cat.types.values() {
        w.enum_type(t);
    }
    w.u32(cat.schemas.len() as u32);
    for s in cat.schemas.values() {
        schema_def(w, s);
    }
}

pub fn read_catalog(r: &mut Reader<'_>) -> PgResult<Catalog> {
    let mut cat = Catalog::default();
    for _ in 0..r.u32()? {
        let t = read_table_def(r)?;
        cat.tables.insert(t.oid, Arc::new(t));
    }
    for _ in 0..r.u32()? {
        let ro = read_role_def(r)?;
        cat.roles.insert(ro.oid, ro);
    }
    for _ in 0..r.u32()? {
        let s = read_sequence_def(r)?;
        cat.sequences.insert(s.oid, Arc::new(s));
    }
    for _ in 0..r.u32()? {
        let d = read_database_def(r)?;
        cat.databases.insert(d.oid, d);
    }
    for _ in 0..r.u32()? {
        let oid = r.oid()?;
        cat.missing_values.insert(oid, r.values()?);
    }
    // Publications came last and later: an image written before them ends here.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let p = read_publication_def(r)?;
            cat.publications.insert(p.oid, p);
        }
    }
    // Subscriptions came after publications: older images end before them.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let sub = read_subscription_def(r)?;
            cat.subscriptions.insert(sub.oid, sub);
        }
    }
    // Replication origins came after subscriptions.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let id = r.u16()?;
            cat.origins.insert(id, r.string()?);
        }
    }
    // Table ACLs and role memberships came after origins; an image that ends
    // before them predates the predefined roles too, which are added here.
    if r.is_empty() {
        crate::acl::add_predefined_roles(&mut cat);
    } else {
        for _ in 0..r.u32()? {
            let table = r.oid()?;
            cat.acls.insert(table, read_acl_items(r)?);
        }
        for _ in 0..r.u32()? {
            let m = read_auth_member(r)?;
            cat.auth_members.insert(m.oid, m);
        }
    }
    // The followed publishers of multi-host subscriptions came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let oid = r.oid()?;
            let f = read_followed_publisher(r)?;
            cat.subscription_followed.insert(oid, f);
        }
    }
    // Secondary indexes came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let i = read_index_def(r)?;
            cat.indexes.insert(i.oid, Arc::new(i));
        }
    }
    // Foreign keys and CHECK constraints came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let c = read_constraint_def(r)?;
            cat.constraints.insert(c.oid, Arc::new(c));
        }
    }
    // Views came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let v = read_view_def(r)?;
            cat.views.insert(v.oid, Arc::new(v));
        }
    }
    // Identity columns came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let key = (r.oid()?, r.u32()?);
            cat.identities.insert(key, r.bool()?);
        }
    }
    // Comments came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let key = (r.oid()?, r.u32()?, r.u32()? as i32);
            cat.comments.insert(key, r.string()?);
        }
    }
    // Enum types came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let t = r.enum_type()?;
            cat.types.insert(Oid(t.oid), Arc::new(t));
        }
    }
    // Schemas came last.
    if !r.is_empty() {
        for _ in 0..r.u32()? {
            let s = read_schema_def(r)?;
            cat.schemas.insert(s.oid, s);
        }
    }
    Ok(cat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog_change(op: CatalogOp) -> Change {
        Change::Catalog(Box::new(op))
    }
    use crate::catalog::bootstrap_catalog;
    use tandem_types::DataType;

    fn def() -> TableDef {
        TableDef {
            oid: Oid(16384),
            schema: "public".into(),
            name: "t".into(),
            columns: vec![ColumnDef {
                name: "id".into(),
                data_type: DataType::Int4,
                not_null: true,
                default: Some("nextval('t_id_seq'::regclass)".into()),
                dropped: false,
            }],
            primary_key: Some(PrimaryKey {
                name: "t_pkey".into(),
                columns: vec![0],
            }),
            replica_identity: ReplicaIdentity::Full,
            owner: Oid(10),
        }
    }

    fn round_trip(change: Change) {
        let rec = change_record(&change, Xid(741));
        assert_eq!(rec.xid, Xid(741));
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::Change(change))
        );
    }

    #[test]
    fn key_of_new_row_is_logged_as_the_key() {
        let row: Arc<[Value]> =
            vec![Value::Int4(7), Value::Text("a".into()), Value::Int8(9)].into();
        let update = |old| Change::Update {
            table: Oid(16384),
            old_key: RowKey::from(vec![1]),
            key: RowKey::from(vec![1]),
            row: row.clone(),
            old,
        };
        let held = change_record(
            &update(OldTuple::Key(vec![
                Value::Int4(7),
                Value::Null,
                Value::Int8(9),
            ])),
            Xid(741),
        );
        let derived = change_record(
            &update(OldTuple::KeyOfNew {
                width: 3,
                columns: 0b101,
            }),
            Xid(741),
        );
        assert_eq!(held.payload, derived.payload);
    }

    #[test]
    fn changes_round_trip() {
        let row: Arc<[Value]> = vec![Value::Int4(1), Value::Text("a".into())].into();
        round_trip(Change::Insert {
            table: Oid(16384),
            key: RowKey::from(vec![1, 2]),
            row: row.clone(),
        });
        round_trip(Change::Update {
            table: Oid(16384),
            old_key: RowKey::from(vec![1]),
            key: RowKey::from(vec![2]),
            row: row.clone(),
            old: OldTuple::Key(vec![Value::Int4(0), Value::Null]),
        });
        round_trip(Change::Update {
            table: Oid(16384),
            old_key: RowKey::from(vec![1]),
            key: RowKey::from(vec![1]),
            row: row.clone(),
            old: OldTuple::Rewrite,
        });
        round_trip(Change::Delete {
            table: Oid(1),
            key: RowKey::from(vec![]),
            old: OldTuple::Full(row.to_vec()),
        });
        round_trip(Change::Truncate {
            tables: vec![Oid(1), Oid(2)],
            restart_seqs: true,
            cascade: false,
        });
        round_trip(catalog_change(CatalogOp::PutTable {
            def: def(),
            fill: Some(Value::Int4(3)),
        }));
        round_trip(catalog_change(CatalogOp::PutTable {
            def: TableDef {
                replica_identity: ReplicaIdentity::Index {
                    index: Oid(16390),
                    columns: 0b101,
                },
                ..def()
            },
            fill: None,
        }));
        round_trip(catalog_change(CatalogOp::AddPrimaryKey {
            table: Oid(5),
            pk: PrimaryKey {
                name: "x_pkey".into(),
                columns: vec![1, 0],
            },
        }));
        round_trip(catalog_change(CatalogOp::PutPublication(publication())));
        round_trip(catalog_change(CatalogOp::DropPublication(Oid(16400))));
        let sub = crate::catalog::test_subscription(16410);
        round_trip(catalog_change(CatalogOp::PutSubscription(sub.clone())));
        let bare = SubscriptionDef {
            slot_name: None,
            relations: Default::default(),
            ..sub
        };
        round_trip(catalog_change(CatalogOp::PutSubscription(bare)));
        round_trip(catalog_change(CatalogOp::DropSubscription(Oid(16410))));
        round_trip(catalog_change(CatalogOp::PutSubscriptionRel {
            subscription: Oid(16410),
            rel: SubscriptionRelState {
                relid: Oid(16384),
                state: b's',
                lsn: Some(Lsn(0x2000)),
            },
        }));
        round_trip(catalog_change(CatalogOp::DropSubscriptionRel {
            subscription: Oid(16410),
            relid: Oid(16384),
        }));
    }

    #[test]
    fn catalog_image_with_subscriptions() {
        let mut cat = bootstrap_catalog("alice", None);
        cat.publications.insert(Oid(16400), publication());
        let sub = crate::catalog::test_subscription(16410);
        cat.subscriptions.insert(sub.oid, sub);
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.subscriptions, cat.subscriptions);
        assert_eq!(back.publications, cat.publications);
        // An image from before subscriptions (ends after publications) still reads.
        let mut sw = Writer::new();
        subscription_def(&mut sw, &crate::catalog::test_subscription(16410));
        // (the empty origins section, 4 bytes, and the ACL sections come
        // after the subscriptions)
        let old = &w.buf[..w.buf.len() - acl_tail(&cat) - 4 - 4 - sw.buf.len()];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.subscriptions.is_empty());
        assert_eq!(back.publications, cat.publications);
    }

    #[test]
    fn acls_and_memberships_round_trip() {
        let mut cat = bootstrap_catalog("alice", None);
        let acl = vec![AclItem {
            grantee: Oid(16390),
            grantor: Oid(10),
            mode: crate::acl::SELECT | crate::acl::grant_option_for(crate::acl::SELECT),
        }];
        let member = AuthMember {
            oid: Oid(16400),
            role: crate::acl::PG_CREATE_SUBSCRIPTION,
            member: Oid(16390),
            grantor: Oid(10),
            admin: true,
            inherit: false,
            set: true,
        };
        for op in [
            CatalogOp::SetAcl {
                object: Oid(16384),
                acl: Some(acl.clone()),
            },
            CatalogOp::SetAcl {
                object: Oid(16384),
                acl: None,
            },
            CatalogOp::PutAuthMember(member.clone()),
            CatalogOp::DropAuthMember(Oid(16400)),
        ] {
            round_trip(catalog_change(op));
        }
        cat.acls.insert(Oid(16384), acl);
        cat.auth_members.insert(member.oid, member);
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.acls, cat.acls);
        assert_eq!(back.auth_members, cat.auth_members);
        // An image from before ACLs (ends after the origins) reads with the
        // predefined roles and their memberships added.
        let bare = Catalog {
            roles: bootstrap_catalog("alice", None)
                .roles
                .into_iter()
                .filter(|(o, _)| o.0 == 10)
                .collect(),
            ..Catalog::default()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        let old = &w.buf[..w.buf.len() - 40];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.role_by_name("pg_create_subscription").is_some());
        assert_eq!(back.auth_members.len(), 3);
        assert!(back.acls.is_empty());
    }

    fn publication() -> PublicationDef {
        PublicationDef {
            oid: Oid(16400),
            name: "pub".into(),
            owner: Oid(10),
            all_tables: false,
            pub_insert: true,
            pub_update: false,
            pub_delete: true,
            pub_truncate: false,
            via_root: true,
            tables: [Oid(16384), Oid(16390)].into_iter().collect(),
        }
    }

    #[test]
    fn commit_sequence_checkpoint_round_trip() {
        let c = CommitRecord {
            commit_time: 12345,
            origin: Some(CommitOrigin {
                origin: 1,
                remote_lsn: Lsn(99),
                remote_time: 5,
            }),
        };
        let rec = commit_record(&c, Xid(750));
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::Commit(c))
        );
        let s = SequenceRecord {
            seq: Oid(16390),
            last_value: 33,
            is_called: true,
        };
        let rec = sequence_record(&s);
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::Sequence(s))
        );
        let m = MessageRecord {
            transactional: true,
            prefix: "p".into(),
            content: b"abc".to_vec(),
        };
        let rec = message_record(&m, Xid(751));
        assert_eq!(rec.kind, kinds::MESSAGE);
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::Message(m))
        );
        let st = SlotStateRecord {
            slots: vec![SlotStateEntry {
                name: "s".into(),
                plugin: "pgoutput".into(),
                database: "postgres".into(),
                restart_lsn: Lsn(0x1000),
                confirmed_flush: Lsn(0x1100),
                catalog_xmin: Xid(740),
                two_phase: false,
                failover: true,
                invalidation: String::new(),
            }],
            dropped: vec!["gone".into()],
            standby_slots: None,
        };
        let rec = slot_state_record(&st);
        assert_eq!((rec.kind, rec.xid), (kinds::SLOT_STATE, Xid::INVALID));
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::SlotState(st.clone()))
        );
        // the setting rides after the slots; without it the bytes are the
        // layout older servers wrote, and such a record carries no setting
        let without = rec.payload.clone();
        for setting in ["ANY 1 (sb1_slot, sb2_slot)", ""] {
            let with = SlotStateRecord {
                standby_slots: Some(setting.into()),
                ..st.clone()
            };
            let rec = slot_state_record(&with);
            assert!(rec.payload.starts_with(&without) && rec.payload.len() > without.len());
            assert_eq!(
                decode(rec.kind, &rec.payload).unwrap(),
                Some(StorageRecord::SlotState(with))
            );
        }
        // a record with the setting only (the primary reloaded)
        let only = SlotStateRecord {
            standby_slots: Some("sb1_slot".into()),
            ..SlotStateRecord::default()
        };
        let rec = slot_state_record(&only);
        assert_eq!(
            decode(rec.kind, &rec.payload).unwrap(),
            Some(StorageRecord::SlotState(only))
        );
        assert_eq!(decode(200, &[]).unwrap(), None);
        assert!(decode(kinds::INSERT, &[1, 2]).is_err());
    }

    #[test]
    fn catalog_round_trips() {
        let mut cat = bootstrap_catalog("postgres", Some("SCRAM-SHA-256$4096:x$y:z".into()));
        cat.tables.insert(Oid(16384), Arc::new(def()));
        cat.missing_values
            .insert(Oid(16384), vec![Value::Null, Value::Int4(4)]);
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.tables, cat.tables);
        assert_eq!(back.roles, cat.roles);
        assert_eq!(back.databases, cat.databases);
        assert_eq!(back.missing_values, cat.missing_values);
        assert!(back.publications.is_empty());

        cat.publications.insert(Oid(16400), publication());
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.publications, cat.publications);
        assert_eq!(back.tables, cat.tables);
        // An image from before publications (no trailing section) still reads.
        let old = &w.buf[..w.buf.len() - acl_tail(&cat) - 4 - 4 - 4 - publication_bytes()];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.publications.is_empty());
        assert_eq!(back.missing_values, cat.missing_values);
    }

    #[test]
    fn followed_publisher_round_trips_in_ops_and_images() {
        let followed = crate::FollowedPublisher {
            conninfo: "host=a,b port=1,2".into(),
            system_identifier: "7412345678901234567".into(),
            timeline: 3,
        };
        round_trip(catalog_change(CatalogOp::PutSubscriptionFollowed {
            subscription: Oid(16410),
            followed: followed.clone(),
        }));
        let mut cat = bootstrap_catalog("alice", None);
        let sub = crate::catalog::test_subscription(16410);
        cat.subscriptions.insert(sub.oid, sub);
        cat.subscription_followed.insert(Oid(16410), followed);
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.subscription_followed, cat.subscription_followed);
        // an image from before the section reads with none
        let old = &w.buf[..image_len_without_followed(&cat)];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.subscription_followed.is_empty());
    }

    fn image_len_without_followed(cat: &Catalog) -> usize {
        let bare = Catalog {
            subscription_followed: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        // the counts of the sections after them
        w.buf.len() - 4 * 8
    }

    #[test]
    fn indexes_round_trip_in_ops_and_images() {
        let def = crate::IndexDef {
            oid: Oid(16390),
            name: "t_v_key".into(),
            table: Oid(16384),
            columns: vec![1, 0],
            unique: true,
            constraint: true,
        };
        round_trip(catalog_change(CatalogOp::PutIndex(def.clone())));
        round_trip(catalog_change(CatalogOp::DropIndex(Oid(16390))));
        let mut cat = bootstrap_catalog("alice", None);
        cat.indexes.insert(def.oid, Arc::new(def));
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.indexes, cat.indexes);
        // an image from before the section reads with none
        let bare = Catalog {
            indexes: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        // (the counts of the indexes and the sections after them)
        let old = &w.buf[..w.buf.len() - 4 * 7];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.indexes.is_empty());
    }

    #[test]
    fn constraints_round_trip_in_ops_and_images() {
        let fk = crate::ConstraintDef {
            oid: Oid(16395),
            name: "c_p_fkey".into(),
            table: Oid(16390),
            kind: crate::ConstraintKind::ForeignKey(crate::ForeignKey {
                columns: vec![2, 1],
                ref_table: Oid(16384),
                ref_columns: vec![0, 1],
                ref_index: Some(Oid(16388)),
                on_update: crate::FkAction::Cascade,
                on_delete: crate::FkAction::SetNull,
                match_full: true,
            }),
        };
        let check = crate::ConstraintDef {
            oid: Oid(16396),
            name: "c_a_check".into(),
            table: Oid(16390),
            kind: crate::ConstraintKind::Check {
                expr: "(a > 0)".into(),
                pretty: "a > 0".into(),
                columns: vec![0],
            },
        };
        for c in [&fk, &check] {
            round_trip(catalog_change(CatalogOp::PutConstraint(c.clone())));
        }
        round_trip(catalog_change(CatalogOp::DropConstraint(Oid(16395))));
        let mut cat = bootstrap_catalog("alice", None);
        cat.constraints.insert(fk.oid, Arc::new(fk));
        cat.constraints.insert(check.oid, Arc::new(check));
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.constraints, cat.constraints);
        // an image from before the section reads with none
        let bare = Catalog {
            constraints: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        // (the counts of the constraints and the sections after them)
        let old = &w.buf[..w.buf.len() - 4 * 6];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.constraints.is_empty());
    }

    #[test]
    fn views_round_trip_in_ops_and_images() {
        let v = crate::ViewDef {
            oid: Oid(16400),
            schema: "public".into(),
            name: "v".into(),
            query: "SELECT a FROM t".into(),
            columns: vec![("a".into(), DataType::Int4)],
            depends_on: vec![Oid(16384)],
            owner: Oid(10),
        };
        round_trip(catalog_change(CatalogOp::PutView(v.clone())));
        round_trip(catalog_change(CatalogOp::DropView(Oid(16400))));
        let mut cat = bootstrap_catalog("alice", None);
        cat.views.insert(v.oid, Arc::new(v));
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.views, cat.views);
        let bare = Catalog {
            views: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        // (the counts of the views and the sections after them)
        let old = &w.buf[..w.buf.len() - 4 * 5];
        assert!(read_catalog(&mut Reader::new(old, "catalog"))
            .unwrap()
            .views
            .is_empty());
    }

    #[test]
    fn identity_columns_round_trip_in_ops_and_images() {
        for always in [None, Some(false), Some(true)] {
            round_trip(catalog_change(CatalogOp::SetIdentity {
                table: Oid(16384),
                column: 2,
                always,
            }));
        }
        let mut cat = bootstrap_catalog("alice", None);
        cat.identities.insert((Oid(16384), 0), true);
        cat.identities.insert((Oid(16390), 1), false);
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.identities, cat.identities);
        let bare = Catalog {
            identities: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        // (the identity columns' and the comments' counts)
        let old = &w.buf[..w.buf.len() - 4 * 4];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.identities.is_empty());
    }

    #[test]
    fn comments_round_trip_in_ops_and_images() {
        for text in [Some("it's the key".to_string()), None] {
            round_trip(catalog_change(CatalogOp::SetComment {
                object: Oid(16384),
                class: 1259,
                sub: 2,
                text,
            }));
        }
        let mut cat = bootstrap_catalog("alice", None);
        cat.comments.insert((Oid(16384), 1259, 0), "people".into());
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.comments, cat.comments);
        let bare = Catalog {
            comments: Default::default(),
            ..cat.clone()
        };
        let mut w = Writer::new();
        catalog(&mut w, &bare);
        let old = &w.buf[..w.buf.len() - 4 * 3];
        assert!(read_catalog(&mut Reader::new(old, "catalog"))
            .unwrap()
            .comments
            .is_empty());
    }

    #[test]
    fn enum_types_round_trip_in_ops_images_and_columns() {
        let mood = tandem_types::EnumType {
            oid: 16400,
            array_oid: 16399,
            schema: "public".into(),
            name: "mood".into(),
            owner: 10,
            labels: vec![
                tandem_types::EnumLabel {
                    oid: 16402,
                    sort_order: 1.0,
                    name: "sad".into(),
                },
                tandem_types::EnumLabel {
                    oid: 16403,
                    sort_order: 1.5,
                    name: "ok".into(),
                },
            ],
        };
        round_trip(catalog_change(CatalogOp::PutType(mood.clone())));
        round_trip(catalog_change(CatalogOp::DropType(Oid(16400))));
        // a type outside public keeps its schema (types compare by OID)
        for schema in ["public", "app"] {
            let t = tandem_types::EnumType {
                schema: schema.into(),
                ..mood.clone()
            };
            let rec = change_record(&catalog_change(CatalogOp::PutType(t)), Xid(1));
            let Some(StorageRecord::Change(Change::Catalog(op))) =
                decode(rec.kind, &rec.payload).unwrap()
            else {
                panic!("not a catalog change");
            };
            let CatalogOp::PutType(back) = *op else {
                panic!("not PutType");
            };
            assert_eq!((back.schema.as_str(), back.name.as_str()), (schema, "mood"));
        }
        let mut cat = bootstrap_catalog("alice", None);
        let mut t = def();
        t.columns[0].data_type = DataType::Array(Box::new(DataType::Enum(Arc::new(mood.clone()))));
        round_trip(catalog_change(CatalogOp::PutTable {
            def: t.clone(),
            fill: None,
        }));
        cat.tables.insert(t.oid, Arc::new(t));
        crate::catalog::apply_op(&mut cat, &CatalogOp::PutType(mood.clone()));
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.types, cat.types);
        assert_eq!(back.types[&Oid(16400)].labels, mood.labels);
        // a label added later reaches the columns of the type
        let mut more = mood.clone();
        more.labels.push(tandem_types::EnumLabel {
            oid: 16404,
            sort_order: 2.0,
            name: "happy".into(),
        });
        crate::catalog::apply_op(&mut cat, &CatalogOp::PutType(more));
        let DataType::Array(e) = &cat.tables[&Oid(16384)].columns[0].data_type else {
            panic!("array column expected");
        };
        let DataType::Enum(t) = &**e else {
            panic!("enum element expected");
        };
        assert_eq!(t.labels.len(), 3);
        // an image from before the section reads with none
        let bare = Catalog {
            types: Default::default(),
            ..cat.clone()
        };
        let mut wb = Writer::new();
        catalog(&mut wb, &bare);
        assert!(
            read_catalog(&mut Reader::new(&wb.buf[..wb.buf.len() - 8], "catalog"))
                .unwrap()
                .types
                .is_empty()
        );
    }

    #[test]
    fn schemas_round_trip_in_ops_and_images() {
        let s = crate::SchemaDef {
            oid: Oid(16420),
            name: "app".into(),
            owner: Oid(10),
        };
        round_trip(catalog_change(CatalogOp::PutSchema(s.clone())));
        round_trip(catalog_change(CatalogOp::DropSchema(Oid(16420))));
        let mut cat = bootstrap_catalog("alice", None);
        crate::catalog::apply_op(&mut cat, &CatalogOp::PutSchema(s.clone()));
        assert_eq!(cat.schema_oid("app"), Some(Oid(16420)));
        assert_eq!(cat.schema_oid("public"), Some(Oid(2200)));
        assert_eq!(cat.schema_name(Oid(16420)), Some("app"));
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.schemas, cat.schemas);
        // an image from before the section reads with none
        let bare = Catalog {
            schemas: Default::default(),
            ..cat.clone()
        };
        let mut wb = Writer::new();
        catalog(&mut wb, &bare);
        let old = &wb.buf[..wb.buf.len() - 4];
        assert!(read_catalog(&mut Reader::new(old, "catalog"))
            .unwrap()
            .schemas
            .is_empty());
        crate::catalog::apply_op(&mut cat, &CatalogOp::DropSchema(Oid(16420)));
        assert_eq!(cat.schema_oid("app"), None);
    }

    #[test]
    fn origins_round_trip_in_ops_and_images() {
        for op in [
            CatalogOp::PutOrigin {
                id: 7,
                name: "pg_16400".into(),
            },
            CatalogOp::DropOrigin(7),
        ] {
            let rec = change_record(&catalog_change(op.clone()), Xid(741));
            assert_eq!(
                decode(rec.kind, &rec.payload).unwrap(),
                Some(StorageRecord::Change(catalog_change(op)))
            );
        }
        let mut cat = bootstrap_catalog("alice", None);
        cat.origins.insert(1, "a".into());
        cat.origins.insert(3, "".into());
        let mut w = Writer::new();
        catalog(&mut w, &cat);
        let back = read_catalog(&mut Reader::new(&w.buf, "catalog")).unwrap();
        assert_eq!(back.origins, cat.origins);
        // An image from before origins (ends after subscriptions) still reads.
        let mut ow = Writer::new();
        ow.u32(2);
        ow.u16(1);
        ow.str("a");
        ow.u16(3);
        ow.str("");
        let old = &w.buf[..w.buf.len() - acl_tail(&cat) - ow.buf.len()];
        let back = read_catalog(&mut Reader::new(old, "catalog")).unwrap();
        assert!(back.origins.is_empty());
        assert_eq!(back.roles, cat.roles);
    }

    /// Bytes of the table ACL and membership sections of `cat`'s image.
    fn acl_tail(cat: &Catalog) -> usize {
        let mut w = Writer::new();
        w.u32(cat.acls.len() as u32);
        for (table, acl) in &cat.acls {
            w.oid(*table);
            acl_items(&mut w, acl);
        }
        w.u32(cat.auth_members.len() as u32);
        for m in cat.auth_members.values() {
            auth_member(&mut w, m);
        }
        // and the (empty) followed publishers, indexes, constraints, views,
        // identity columns, comments, enum types, schemas
        w.buf.len() + 4 * 8
    }

    fn publication_bytes() -> usize {
        let mut w = Writer::new();
        publication_def(&mut w, &publication());
        w.buf.len()
    }
}
