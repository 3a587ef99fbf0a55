//! WAL → decoded transactions. Keeps its own copy of the catalog, applying each
//! committed transaction's CATALOG records in order, so every change is
//! decoded with the table definition in force at that point in WAL.
//! PostgreSQL counterpart: `replication/logical/decode.c` (and the part of
//! `reorderbuffer.c` that collects a transaction's changes until its commit).
//!
//! tandem appends a transaction's records contiguously at commit, so the decoder
//! only buffers the records read since the last complete item: records of one
//! transaction until its COMMIT, or a single stand-alone record (a
//! non-transactional MESSAGE, or a record decoding skips: SEQUENCE, CHECKPOINT, SLOT_STATE,
//! the WAL's own SWITCH/NOOP, other crates' kinds).
//!
//! A transaction whose records outgrow [`WHOLE_TXN_BYTES`] is decoded in two
//! passes instead, so that its size costs no memory: the first reads on to
//! its COMMIT keeping only its CATALOG records (for the catalog plugins see),
//! the second reads its records again from the start and yields its changes
//! in parts of [`PART_CHANGES`] ([`Part`]). PostgreSQL's reorder buffer spills
//! a large transaction's changes to disk past `logical_decoding_work_mem`
//! instead; the WAL already holds them here.
//!
//! Old row images follow what PostgreSQL logs: storage always logs the key with
//! REPLICA IDENTITY DEFAULT; the decoder drops it from an UPDATE whose key did
//! not change (PostgreSQL's `ExtractReplicaIdentity` logs it only then).

use std::sync::Arc;

use tandem_storage::catalog::apply_op;
use tandem_storage::record::{self, kinds, Change, StorageRecord};
use tandem_storage::{Catalog, OldTuple, ReplicaIdentity, TableDef};
use tandem_types::{Lsn, Oid, PgError, PgResult, Value};
use tandem_wal::{ReadRecord, Wal, WalReader};

use crate::{Decoded, DecodedChange, DecodedMessage, DecodedTxn, OldRow, Part, TxnInfo};

/// Bytes of one transaction's records the decoder holds to decode it whole;
/// a larger transaction is decoded in parts.
pub const WHOLE_TXN_BYTES: usize = 4 << 20;

/// Changes per part of a transaction decoded in parts.
pub const PART_CHANGES: usize = 1024;

/// Reads WAL from a consistent point and yields committed transactions and
/// non-transactional messages.
pub struct Decoder {
    wal: Arc<Wal>,
    catalog: Catalog,
    /// Start of `pending[0]` (end of the last item consumed).
    pos: Lsn,
    /// Reads the records after `pending`; created at the first `next`.
    reader: Option<WalReader>,
    /// Records read from `pos` on that do not yet form a complete item below the
    /// caller's limit.
    pending: Vec<ReadRecord>,
    /// Payload bytes in `pending`.
    pending_bytes: usize,
    /// Past this many bytes of records a transaction is decoded in parts.
    whole_limit: usize,
    /// First pass over a large transaction: looking for its COMMIT.
    scan: Option<Scan>,
    /// Second pass: yielding a large transaction's changes part by part.
    parts: Option<Parts>,
}

/// The first pass over a transaction decoded in parts.
struct Scan {
    /// Start of its first record.
    first_lsn: Lsn,
    /// Its CATALOG records (few: DDL), for the catalog after it.
    catalog_records: Vec<ReadRecord>,
}

/// The second pass over a transaction decoded in parts.
struct Parts {
    /// Reads its records again, from the first.
    reader: WalReader,
    info: TxnInfo,
    /// The catalog once the transaction is done: what plugins see, as for a
    /// transaction decoded whole.
    end_catalog: Catalog,
    /// A part has been yielded.
    yielded: bool,
    has_catalog_changes: bool,
}

/// What [`Decoder::complete_item`] found.
enum Complete {
    /// `pending[..=i]` is an item.
    Whole(usize),
    /// A large transaction's COMMIT: its parts are ready (`Decoder::parts`).
    InParts,
}

/// How a record takes part in decoding.
enum Role {
    /// One of a transaction's records before its COMMIT.
    TxnPart,
    Commit,
    /// A complete item by itself (non-transactional message) or a record to skip.
    Standalone,
}

fn role(rec: &ReadRecord) -> Role {
    match rec.kind {
        kinds::INSERT | kinds::UPDATE | kinds::DELETE | kinds::TRUNCATE | kinds::CATALOG => {
            Role::TxnPart
        }
        kinds::COMMIT => Role::Commit,
        // The first payload byte is the transactional flag.
        kinds::MESSAGE if rec.payload.first() == Some(&1) => Role::TxnPart,
        _ => Role::Standalone,
    }
}

impl Decoder {
    /// `start` must be a record boundary between transactions (a slot's
    /// `restart_lsn`); `catalog` is the catalog in force at `start`.
    pub fn new(wal: Arc<Wal>, catalog: Arc<Catalog>, start: Lsn) -> Decoder {
        Decoder {
            wal,
            catalog: (*catalog).clone(),
            pos: start,
            reader: None,
            pending: Vec::new(),
            pending_bytes: 0,
            whole_limit: WHOLE_TXN_BYTES,
            scan: None,
            parts: None,
        }
    }

    /// Decodes transactions larger than `bytes` of records in parts (tests
    /// use a small value; the default is [`WHOLE_TXN_BYTES`]).
    pub fn with_whole_limit(mut self, bytes: usize) -> Decoder {
        self.whole_limit = bytes;
        self
    }

    /// The next item whose records all end at or before `limit` (normally the
    /// WAL flush LSN), or `None` when there is none yet. After `None` the caller
    /// may wait for more WAL and call again; an incomplete transaction at the
    /// end is re-read from its start then.
    ///
    /// Transactions that changed nothing decodable (only row locks) are skipped,
    /// as PostgreSQL skips transactions without a base snapshot.
    ///
    /// A large transaction comes in parts ([`DecodedTxn::part`]): once its
    /// first part is returned, the following calls return the next parts
    /// whatever `limit` is (its COMMIT is below the limit that started it),
    /// and [`Decoder::position`] moves only with the last.
    pub fn next(&mut self, limit: Lsn) -> PgResult<Option<Decoded>> {
        loop {
            if self.parts.is_some() {
                match self.next_part()? {
                    Some(part) => return Ok(Some(part)),
                    None => continue,
                }
            }
            let last = match self.complete_item(limit)? {
                None => return Ok(None),
                Some(Complete::InParts) => continue,
                Some(Complete::Whole(last)) => last,
            };
            let recs: Vec<ReadRecord> = self.pending.drain(..=last).collect();
            self.pending_bytes = self.pending.iter().map(|r| r.payload.len()).sum();
            if let Some(rec) = recs.last() {
                self.pos = rec.end_lsn;
            }
            if let Some(item) = self.decode_item(recs)? {
                return Ok(Some(item));
            }
        }
    }

    /// Where decoding continues: the end of the last item returned (a
    /// consistent point; the start of a transaction whose parts are not all
    /// returned yet).
    pub fn position(&self) -> Lsn {
        self.pos
    }

    /// The catalog as of [`Decoder::position`]; while a transaction comes in
    /// parts, the catalog once it is done (what its plugin sees).
    pub fn catalog(&self) -> &Catalog {
        match &self.parts {
            Some(p) => &p.end_catalog,
            None => &self.catalog,
        }
    }

    /// The first complete item ending at or before `limit`, reading more WAL
    /// as needed: `Whole(i)`, `pending[..=i]`, or a large transaction whose
    /// parts are ready.
    fn complete_item(&mut self, limit: Lsn) -> PgResult<Option<Complete>> {
        if self.scan.is_some() {
            return self.scan_to_commit(limit);
        }
        let mut i = 0;
        loop {
            if i == self.pending.len() {
                let Some(rec) = self.read_record()? else {
                    return Ok(None);
                };
                self.pending_bytes += rec.payload.len();
                self.pending.push(rec);
            }
            let rec = &self.pending[i];
            if rec.end_lsn > limit {
                return Ok(None);
            }
            match role(rec) {
                Role::TxnPart => {
                    i += 1;
                    if i == self.pending.len() && self.pending_bytes > self.whole_limit {
                        self.start_scan();
                        return self.scan_to_commit(limit);
                    }
                }
                Role::Commit => return Ok(Some(Complete::Whole(i))),
                // A stand-alone record cannot fall inside a transaction's
                // records (they are appended in one piece); if one did, it is
                // dropped with them.
                Role::Standalone if i == 0 => return Ok(Some(Complete::Whole(0))),
                Role::Standalone => i += 1,
            }
        }
    }

    /// The next record after those read (from `pos` at first).
    fn read_record(&mut self) -> PgResult<Option<ReadRecord>> {
        let pos = self.pos;
        let wal = &self.wal;
        self.reader
            .get_or_insert_with(|| wal.reader(pos))
            .next_record()
    }

    /// The transaction in `pending` has outgrown `whole_limit`: its records are
    /// dropped (but its CATALOG records) and the first pass goes on.
    fn start_scan(&mut self) {
        let first_lsn = self.pending.first().map_or(self.pos, |r| r.lsn);
        let catalog_records = self
            .pending
            .drain(..)
            .filter(|r| r.kind == kinds::CATALOG)
            .collect();
        self.pending_bytes = 0;
        self.scan = Some(Scan {
            first_lsn,
            catalog_records,
        });
    }

    /// The first pass of a large transaction: reads on to its COMMIT (holding
    /// at most one record, one past `limit`), then prepares its parts.
    fn scan_to_commit(&mut self, limit: Lsn) -> PgResult<Option<Complete>> {
        loop {
            let rec = match self.pending.pop() {
                Some(rec) => rec,
                None => match self.read_record()? {
                    Some(rec) => rec,
                    None => return Ok(None),
                },
            };
            if rec.end_lsn > limit {
                self.pending.push(rec);
                return Ok(None);
            }
            match role(&rec) {
                Role::Commit => {
                    self.start_parts(rec)?;
                    return Ok(Some(Complete::InParts));
                }
                Role::TxnPart if rec.kind == kinds::CATALOG => {
                    if let Some(scan) = self.scan.as_mut() {
                        scan.catalog_records.push(rec);
                    }
                }
                _ => {}
            }
        }
    }

    /// Found the COMMIT of the transaction being scanned: the second pass
    /// starts at its first record.
    fn start_parts(&mut self, commit: ReadRecord) -> PgResult<()> {
        let Some(scan) = self.scan.take() else {
            return Ok(());
        };
        let c = commit_of(&commit)?;
        let mut end_catalog = self.catalog.clone();
        for rec in scan.catalog_records.iter().filter(|r| r.xid == commit.xid) {
            if let Some(StorageRecord::Change(Change::Catalog(op))) =
                record::decode(rec.kind, &rec.payload)?
            {
                apply_op(&mut end_catalog, &op);
            }
        }
        self.parts = Some(Parts {
            reader: self.wal.reader(scan.first_lsn),
            info: TxnInfo {
                xid: commit.xid,
                first_lsn: scan.first_lsn,
                commit_lsn: commit.lsn,
                end_lsn: commit.end_lsn,
                commit_time: c.commit_time,
                origin: c.origin,
            },
            end_catalog,
            yielded: false,
            has_catalog_changes: false,
        });
        Ok(())
    }

    /// The next part of the transaction being decoded in parts: up to
    /// [`PART_CHANGES`] changes, none empty but the last. `None`: the
    /// transaction is done and had nothing to decode (skipped as a whole
    /// transaction would be).
    fn next_part(&mut self) -> PgResult<Option<Decoded>> {
        let Some(mut parts) = self.parts.take() else {
            return Ok(None);
        };
        let mut changes = Vec::new();
        let mut done = false;
        while changes.len() < PART_CHANGES {
            let Some(rec) = parts.reader.next_record()? else {
                return Err(PgError::internal(format!(
                    "WAL ends inside the transaction committed at {}",
                    parts.info.commit_lsn
                )));
            };
            if rec.lsn >= parts.info.commit_lsn {
                done = true;
                break;
            }
            if rec.xid == parts.info.xid {
                parts.has_catalog_changes |= self.decode_record(&rec, &mut changes)?;
            }
        }
        let first = !parts.yielded;
        if done {
            // the pass-one reader stands after the COMMIT
            self.pos = parts.info.end_lsn;
            if changes.is_empty() && first && !parts.has_catalog_changes {
                return Ok(None);
            }
        }
        parts.yielded = true;
        let txn = DecodedTxn {
            info: parts.info.clone(),
            changes,
            has_catalog_changes: parts.has_catalog_changes,
            part: Part { first, last: done },
        };
        if !done {
            self.parts = Some(parts);
        }
        Ok(Some(Decoded::Txn(txn)))
    }

    fn decode_item(&mut self, recs: Vec<ReadRecord>) -> PgResult<Option<Decoded>> {
        let Some(last) = recs.last() else {
            return Ok(None);
        };
        match role(last) {
            Role::Commit => self.decode_txn(&recs),
            _ => Ok(match record::decode(last.kind, &last.payload)? {
                Some(StorageRecord::Message(m)) if !m.transactional => {
                    Some(Decoded::Message(DecodedMessage {
                        lsn: last.lsn,
                        end_lsn: last.end_lsn,
                        xid: last.xid,
                        prefix: m.prefix,
                        content: m.content,
                    }))
                }
                _ => None,
            }),
        }
    }

    fn rel(&self, table: Oid) -> Option<Arc<TableDef>> {
        self.catalog.tables.get(&table).cloned()
    }

    /// A logged row padded to the table's current width.
    fn padded(&self, table: Oid, row: &[Value]) -> Vec<Value> {
        match self.catalog.pad_row(table, row) {
            Some(p) => p,
            None => row.to_vec(),
        }
    }

    fn decode_txn(&mut self, recs: &[ReadRecord]) -> PgResult<Option<Decoded>> {
        let (Some(first), Some(commit)) = (recs.first(), recs.last()) else {
            return Ok(None);
        };
        let xid = commit.xid;
        let c = commit_of(commit)?;
        let mut changes = Vec::new();
        let mut has_catalog_changes = false;
        for rec in &recs[..recs.len() - 1] {
            if rec.xid == xid {
                has_catalog_changes |= self.decode_record(rec, &mut changes)?;
            }
        }
        if changes.is_empty() && !has_catalog_changes {
            return Ok(None);
        }
        Ok(Some(Decoded::Txn(DecodedTxn {
            info: TxnInfo {
                xid,
                first_lsn: first.lsn,
                commit_lsn: commit.lsn,
                end_lsn: commit.end_lsn,
                commit_time: c.commit_time,
                origin: c.origin,
            },
            changes,
            has_catalog_changes,
            part: Part::WHOLE,
        })))
    }

    /// Decodes one of a transaction's records onto `changes` (with its LSN);
    /// true when it changed the catalog instead. Records that are not part of
    /// a transaction are skipped.
    fn decode_record(
        &mut self,
        rec: &ReadRecord,
        changes: &mut Vec<(Lsn, DecodedChange)>,
    ) -> PgResult<bool> {
        if !matches!(role(rec), Role::TxnPart) {
            return Ok(false);
        }
        let Some(decoded) = record::decode(rec.kind, &rec.payload)? else {
            return Ok(false);
        };
        let change = match decoded {
            StorageRecord::Message(m) => DecodedChange::Message {
                prefix: m.prefix,
                content: m.content,
            },
            StorageRecord::Change(ch) => match self.decode_change(ch) {
                Some(c) => c,
                None => return Ok(rec.kind == kinds::CATALOG),
            },
            _ => return Ok(false),
        };
        // PostgreSQL reports a message at the END of its record.
        let lsn = match change {
            DecodedChange::Message { .. } => rec.end_lsn,
            _ => rec.lsn,
        };
        changes.push((lsn, change));
        Ok(false)
    }

    /// One change in terms of the current catalog; CATALOG ops are applied to it
    /// and yield `None`, as do changes of tables the catalog does not know.
    fn decode_change(&mut self, ch: Change) -> Option<DecodedChange> {
        match ch {
            Change::Catalog(op) => {
                apply_op(&mut self.catalog, &op);
                None
            }
            Change::Insert { table, row, .. } => {
                let rel = self.rel(table)?;
                let new = self.padded(table, &row).into();
                Some(DecodedChange::Insert { rel, new })
            }
            // a table rewrite: nothing of it is decoded, as in PostgreSQL
            Change::Update {
                old: OldTuple::Rewrite,
                ..
            } => None,
            Change::Update {
                table,
                old_key,
                key,
                row,
                old,
            } => {
                let rel = self.rel(table)?;
                let new = self.padded(table, &row);
                let old = match old {
                    OldTuple::None => None,
                    OldTuple::Full(r) => Some(OldRow::Full(self.padded(table, &r))),
                    OldTuple::Key(k) => {
                        // a new row key is a new primary key, which is the
                        // identity only under DEFAULT
                        let rekeyed = old_key != key
                            && matches!(rel.replica_identity, ReplicaIdentity::Default);
                        let changed = rekeyed || key_changed(&rel, &k, &new);
                        changed.then(|| OldRow::Key(key_row(&rel, k)))
                    }
                    // the key did not change (and WAL never holds this
                    // form); a rewrite is skipped above
                    OldTuple::KeyOfNew { .. } | OldTuple::Rewrite => None,
                };
                Some(DecodedChange::Update {
                    rel,
                    old,
                    new: new.into(),
                })
            }
            Change::Delete { table, old, .. } => {
                let rel = self.rel(table)?;
                let old = match old {
                    OldTuple::None => None,
                    OldTuple::Full(r) => Some(OldRow::Full(self.padded(table, &r))),
                    OldTuple::Key(k) => Some(OldRow::Key(key_row(&rel, k))),
                    // only an UPDATE's (and WAL never holds KeyOfNew)
                    OldTuple::KeyOfNew { .. } | OldTuple::Rewrite => None,
                };
                Some(DecodedChange::Delete { rel, old })
            }
            Change::Truncate {
                tables,
                restart_seqs,
                cascade,
            } => {
                let rels: Vec<_> = tables.iter().filter_map(|t| self.rel(*t)).collect();
                if rels.is_empty() {
                    return None;
                }
                Some(DecodedChange::Truncate {
                    rels,
                    restart_seqs,
                    cascade,
                })
            }
        }
    }
}

/// The facts of a COMMIT record.
fn commit_of(rec: &ReadRecord) -> PgResult<record::CommitRecord> {
    match record::decode(rec.kind, &rec.payload)? {
        Some(StorageRecord::Commit(c)) => Ok(c),
        _ => Err(PgError::internal(format!(
            "invalid COMMIT record at {}",
            rec.lsn
        ))),
    }
}

/// A key image padded with NULLs to the table's width.
fn key_row(rel: &TableDef, mut k: Vec<Value>) -> Vec<Value> {
    if k.len() < rel.columns.len() {
        k.resize(rel.columns.len(), Value::Null);
    }
    k
}

/// Did an UPDATE change a key column? PostgreSQL compares the stored datums
/// bytewise; comparing output text is the same test for tandem's values (it
/// tells `1.0` from `1.00`, which value equality would not).
fn key_changed(rel: &TableDef, old_key: &[Value], new: &[Value]) -> bool {
    let Some(columns) = rel.identity_key_columns() else {
        return false;
    };
    columns.iter().any(|&c| {
        let (a, b) = (old_key.get(c), new.get(c));
        match (a, b) {
            (Some(a), Some(b)) => {
                a.is_null() != b.is_null() || tandem_expr::to_text(a) != tandem_expr::to_text(b)
            }
            _ => true,
        }
    })
}

#[cfg(test)]
mod tests;
