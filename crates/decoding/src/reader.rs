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
//! Old row images follow what PostgreSQL logs: storage always logs the key with
//! REPLICA IDENTITY DEFAULT; the decoder drops it from an UPDATE whose key did
//! not change (PostgreSQL's `ExtractReplicaIdentity` logs it only then).

use std::sync::Arc;

use tandem_storage::catalog::apply_op;
use tandem_storage::record::{self, kinds, Change, StorageRecord};
use tandem_storage::{Catalog, OldTuple, TableDef};
use tandem_types::{Lsn, Oid, PgError, PgResult, Value};
use tandem_wal::{ReadRecord, Wal, WalReader};

use crate::{Decoded, DecodedChange, DecodedMessage, DecodedTxn, OldRow, TxnInfo};

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
        }
    }

    /// The next item whose records all end at or before `limit` (normally the
    /// WAL flush LSN), or `None` when there is none yet. After `None` the caller
    /// may wait for more WAL and call again; an incomplete transaction at the
    /// end is re-read from its start then.
    ///
    /// Transactions that changed nothing decodable (only row locks) are skipped,
    /// as PostgreSQL skips transactions without a base snapshot.
    pub fn next(&mut self, limit: Lsn) -> PgResult<Option<Decoded>> {
        loop {
            let Some(last) = self.complete_item(limit)? else {
                return Ok(None);
            };
            let recs: Vec<ReadRecord> = self.pending.drain(..=last).collect();
            if let Some(rec) = recs.last() {
                self.pos = rec.end_lsn;
            }
            if let Some(item) = self.decode_item(recs)? {
                return Ok(Some(item));
            }
        }
    }

    /// Where decoding continues: the end of the last item returned (a
    /// consistent point).
    pub fn position(&self) -> Lsn {
        self.pos
    }

    /// The catalog as of [`Decoder::position`].
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Index in `pending` of the last record of the first complete item ending
    /// at or before `limit`, reading more WAL as needed.
    fn complete_item(&mut self, limit: Lsn) -> PgResult<Option<usize>> {
        let mut i = 0;
        loop {
            if i == self.pending.len() {
                let pos = self.pos;
                let wal = &self.wal;
                let reader = self.reader.get_or_insert_with(|| wal.reader(pos));
                match reader.next_record()? {
                    Some(rec) => self.pending.push(rec),
                    None => return Ok(None),
                }
            }
            let rec = &self.pending[i];
            if rec.end_lsn > limit {
                return Ok(None);
            }
            match role(rec) {
                Role::TxnPart => i += 1,
                Role::Commit => return Ok(Some(i)),
                // A stand-alone record cannot fall inside a transaction's
                // records (they are appended in one piece); if one did, it is
                // dropped with them.
                Role::Standalone if i == 0 => return Ok(Some(0)),
                Role::Standalone => i += 1,
            }
        }
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
        let Some(StorageRecord::Commit(c)) = record::decode(commit.kind, &commit.payload)? else {
            return Err(PgError::internal(format!(
                "invalid COMMIT record at {}",
                commit.lsn
            )));
        };
        let mut changes = Vec::new();
        let mut has_catalog_changes = false;
        for rec in &recs[..recs.len() - 1] {
            if rec.xid != xid || !matches!(role(rec), Role::TxnPart) {
                continue;
            }
            let Some(decoded) = record::decode(rec.kind, &rec.payload)? else {
                continue;
            };
            let change = match decoded {
                StorageRecord::Message(m) => DecodedChange::Message {
                    prefix: m.prefix,
                    content: m.content,
                },
                StorageRecord::Change(ch) => match self.decode_change(ch) {
                    Some(c) => c,
                    None => {
                        has_catalog_changes |= rec.kind == kinds::CATALOG;
                        continue;
                    }
                },
                _ => continue,
            };
            // PostgreSQL reports a message at the END of its record.
            let lsn = match change {
                DecodedChange::Message { .. } => rec.end_lsn,
                _ => rec.lsn,
            };
            changes.push((lsn, change));
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
        })))
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
                        let changed = old_key != key || key_changed(&rel, &k, &new);
                        changed.then(|| OldRow::Key(key_row(&rel, k)))
                    }
                    // the key did not change (and WAL never holds this form)
                    OldTuple::KeyOfNew { .. } => None,
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
                    // only an UPDATE's (and WAL never holds this form)
                    OldTuple::KeyOfNew { .. } => None,
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
    let Some(pk) = &rel.primary_key else {
        return false;
    };
    pk.columns.iter().any(|&c| {
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
