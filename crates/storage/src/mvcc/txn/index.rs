//! A transaction's secondary index work: the entries its row writes add and
//! remove, CREATE INDEX's build, DROP INDEX, and index scans.
//!
//! Entries are rows of the index's hidden relation (`crate::index`), so they
//! live in the transaction's overlay and `ops` like any row and commit with
//! the table's changes. An entry that must be unique is locked before it is
//! written or removed, so that a second writer of the same values waits for
//! the first and then sees what it committed (as a primary key insert does).

use std::ops::Bound;
use std::sync::Arc;

use tandem_types::{Oid, PgError, PgResult, SqlState, Value};

use super::{column_names, duplicate_entry, read_only_error, Transaction};
use crate::index::{
    entry_key, entry_row, entry_rowkey, entry_values, is_unique_entry, IndexScan, KeyBounds,
};
use crate::locks::LockTag;
use crate::record::{Change, OldTuple};
use crate::{CatalogOp, IndexDef, RowKey, TableDef};

/// Entries looked at per step of an index scan at first (a point lookup
/// reads few); each further step reads eight times more, up to a scan's.
const FIRST_BATCH: usize = 16;

impl Transaction {
    /// The secondary indexes of `table` as this transaction sees them.
    pub fn indexes_of(&self, table: Oid) -> Vec<Arc<IndexDef>> {
        self.cat().indexes_of(table)
    }

    /// Adds the entries of a new row at `key`; fails on a unique value
    /// another row has (`23505`, naming the index).
    pub(super) fn index_insert(
        &mut self,
        def: &TableDef,
        indexes: &[Arc<IndexDef>],
        row: &[Value],
        key: &RowKey,
    ) -> PgResult<()> {
        for idx in indexes {
            let values = entry_values(idx, row);
            self.put_entry(def, idx, values, key)?;
        }
        Ok(())
    }

    /// Moves the entries of a row updated from `old` at `old_key` to `new`
    /// at `new_key`; entries whose values and row key stay are untouched.
    pub(super) fn index_update(
        &mut self,
        def: &TableDef,
        indexes: &[Arc<IndexDef>],
        (old, old_key): (&[Value], &RowKey),
        (new, new_key): (&[Value], &RowKey),
    ) -> PgResult<()> {
        for idx in indexes {
            let old_values = entry_values(idx, old);
            let new_values = entry_values(idx, new);
            if old_values == new_values && old_key == new_key {
                continue;
            }
            let old_entry = entry_key(idx, &old_values, old_key);
            let new_entry = entry_key(idx, &new_values, new_key);
            if old_entry == new_entry {
                // a unique entry whose row changed key: it points there now
                self.write_entry(idx.oid, new_entry, new_key, true);
                continue;
            }
            self.remove_entry(idx, &old_values, old_entry)?;
            self.put_entry(def, idx, new_values, new_key)?;
        }
        Ok(())
    }

    /// Removes the entries of a deleted row.
    pub(super) fn index_delete(
        &mut self,
        indexes: &[Arc<IndexDef>],
        old: &[Value],
        old_key: &RowKey,
    ) -> PgResult<()> {
        for idx in indexes {
            let values = entry_values(idx, old);
            let entry = entry_key(idx, &values, old_key);
            self.remove_entry(idx, &values, entry)?;
        }
        Ok(())
    }

    /// Adds the entry of `values` for the row at `rowkey`, checking that a
    /// unique one is free.
    fn put_entry(
        &mut self,
        def: &TableDef,
        idx: &IndexDef,
        values: Vec<Value>,
        rowkey: &RowKey,
    ) -> PgResult<()> {
        let entry = entry_key(idx, &values, rowkey);
        if is_unique_entry(idx, &values) && self.row_at_key(idx.oid, &entry)?.is_some() {
            return Err(duplicate_entry(
                def,
                &idx.name,
                &column_names(def, &idx.columns),
                &values,
            ));
        }
        self.write_entry(idx.oid, entry, rowkey, false);
        Ok(())
    }

    /// Logs and records an entry (`update`: it replaces one of the same key).
    fn write_entry(&mut self, index: Oid, entry: RowKey, rowkey: &RowKey, update: bool) {
        let row: crate::heap::Row = entry_row(rowkey).into();
        self.overlay_mut(index)
            .rows
            .insert(entry.clone(), Some(row.clone()));
        self.ops.push(match update {
            true => Change::Update {
                table: index,
                old_key: entry.clone(),
                key: entry,
                row,
                old: OldTuple::None,
            },
            false => Change::Insert {
                table: index,
                key: entry,
                row,
            },
        });
    }

    /// Removes an entry; a unique one is locked first, so that a writer of
    /// the same values waits for this transaction.
    fn remove_entry(&mut self, idx: &IndexDef, values: &[Value], entry: RowKey) -> PgResult<()> {
        let shadowed = self.overlay.get(&idx.oid).is_some_and(|o| o.shadow);
        if is_unique_entry(idx, values) && !shadowed {
            let xid = self.assign_xid();
            self.db.locks.acquire(
                xid,
                LockTag::Row(idx.oid, entry.clone()),
                &self.wait_options(),
            )?;
        }
        self.overlay_mut(idx.oid).rows.insert(entry.clone(), None);
        self.ops.push(Change::Delete {
            table: idx.oid,
            key: entry,
            old: OldTuple::None,
        });
        Ok(())
    }

    /// `INSERT ... ON CONFLICT`'s check on unique index `index` of `table`:
    /// the row that already has `row`'s values there, locked, with its key,
    /// or None (values with a NULL never conflict). The entry stays locked,
    /// so no one else can take the values before this transaction ends.
    /// Under REPEATABLE READ a row committed after the snapshot is a
    /// serialization failure, as for a primary key.
    pub fn conflicting_row_in(
        &mut self,
        table: Oid,
        index: Oid,
        row: &[Value],
    ) -> PgResult<Option<(RowKey, Vec<Value>)>> {
        self.settle(table)?;
        let Some(idx) = self.cat().indexes.get(&index).cloned() else {
            return Err(super::no_table(index));
        };
        let values = entry_values(&idx, row);
        if !is_unique_entry(&idx, &values) {
            return Ok(None);
        }
        let entry = entry_key(&idx, &values, &RowKey::new(&[]));
        let Some((_, found)) = self.row_at_key(idx.oid, &entry)? else {
            return Ok(None);
        };
        let Some(rowkey) = entry_rowkey(&found) else {
            return Err(PgError::internal(format!(
                "index \"{}\" has a malformed entry",
                idx.name
            )));
        };
        match self.row_at_key(table, &rowkey)? {
            None => Ok(None),
            Some((Some(created), _))
                if created > self.snapshot
                    && self.isolation != crate::IsolationLevel::ReadCommitted =>
            {
                Err(super::concurrent("update"))
            }
            Some((_, existing)) => Ok(Some((rowkey, self.pad(table, &existing).to_vec()))),
        }
    }

    /// `CREATE [UNIQUE] INDEX`: records the index and builds its entries
    /// from the rows this transaction sees. Rows other transactions commit
    /// to the table before this one commits are not in that read: such a
    /// commit makes this one fail (`40001`), as one that wrote the table
    /// without knowing the index fails at its own commit
    /// ([`crate::Database::check_index_writes`]). PostgreSQL blocks those
    /// writers with a table lock instead.
    pub fn create_index(&mut self, def: IndexDef) -> PgResult<()> {
        if self.read_only {
            return Err(read_only_error("CREATE INDEX"));
        }
        let table = self.table_def(def.table)?;
        self.settle(def.table)?;
        if self.prekeyed.iter().any(|p| p.0 == def.table) {
            return Err(PgError::unsupported(
                "CREATE INDEX after ADD PRIMARY KEY of the table in one transaction",
            ));
        }
        self.watch_table(def.table)?;
        self.ddl(CatalogOp::PutIndex(def.clone()))?;
        self.overlay_mut(def.oid).shadow = true;
        let mut entries: Vec<(RowKey, Vec<Value>, RowKey)> = Vec::new();
        self.scan(def.table, &mut |key, row| {
            let values = entry_values(&def, row);
            entries.push((entry_key(&def, &values, key), values, key.clone()));
            Ok(true)
        })?;
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PgError::new(
                SqlState::UNIQUE_VIOLATION,
                format!("could not create unique index \"{}\"", def.name),
            )
            .with_detail(format!(
                "Key ({})=({}) is duplicated.",
                column_names(&table, &def.columns),
                crate::display::values_text(&w[0].1)
            )));
        }
        for (entry, _, rowkey) in entries {
            self.write_entry(def.oid, entry, &rowkey, false);
        }
        Ok(())
    }

    /// Watches `table` for commits of others from this transaction's
    /// snapshot until it commits (a DDL step about to read the whole table:
    /// every commit up to the snapshot is in that read, one after it fails
    /// this transaction). A table this transaction created needs no watch.
    pub fn watch_table(&mut self, table: Oid) -> PgResult<()> {
        let created_here = !self.db.catalog().tables.contains_key(&table);
        if !created_here && !self.watched.contains(&table) {
            if !self.snapshot_fixed {
                self.start_statement();
            }
            if !self.db.start_prekey(table, self.snapshot) {
                return Err(super::concurrent("update"));
            }
            self.watched.push(table);
        }
        Ok(())
    }

    /// The rows of relation `rel` (a table, its keys being its primary key's
    /// encoding, or an index, its entries) whose keys `scan` selects, in
    /// key order, merged with this transaction's writes.
    fn key_range_scan(
        &self,
        rel: Oid,
        scan: &IndexScan,
        visit: &mut dyn FnMut(&RowKey, &[Value]) -> PgResult<bool>,
    ) -> PgResult<()> {
        let bounds = KeyBounds::of(scan);
        let overlay = self.overlay_of(rel)?;
        self.scan_merged_from(
            rel,
            overlay,
            Bound::Included(bounds.start.clone()),
            FIRST_BATCH,
            &mut |key, row| {
                if bounds.past(key) {
                    return Ok(false);
                }
                if bounds.skips(key) {
                    return Ok(true);
                }
                visit(key, row)
            },
        )
    }

    /// `DROP INDEX` (also each index of a dropped table).
    /// Drops an index; a table whose replica identity it was has none
    /// left (REPLICA IDENTITY NOTHING, which is how PostgreSQL then behaves).
    pub fn drop_index(&mut self, index: Oid) -> PgResult<()> {
        let table = self.cat().indexes.get(&index).map(|i| i.table);
        self.ddl(CatalogOp::DropIndex(index))?;
        self.overlay.remove(&index);
        if let Some(def) = table.and_then(|t| self.table_def(t).ok()) {
            if matches!(def.replica_identity, crate::ReplicaIdentity::Index { index: i, .. } if i == index)
            {
                let mut def = (*def).clone();
                def.replica_identity = crate::ReplicaIdentity::Nothing;
                self.put_table(def, None)?;
            }
        }
        Ok(())
    }

    /// Visits the rows of `index`'s table that `scan` selects, in index
    /// order, as this transaction sees them; the visitor returns `Ok(false)`
    /// to stop. `index` may be a table's own oid: its primary key (whose
    /// row keys are the key columns' encoding), read in place.
    pub fn index_scan(
        &self,
        index: Oid,
        scan: &IndexScan,
        visit: &mut dyn FnMut(&RowKey, &[Value]) -> PgResult<bool>,
    ) -> PgResult<()> {
        let Some(idx) = self.cat().indexes.get(&index).cloned() else {
            if self
                .cat()
                .tables
                .get(&index)
                .is_some_and(|t| t.primary_key.is_some())
            {
                return self.key_range_scan(index, scan, visit);
            }
            return Err(super::no_table(index));
        };
        let mut failed = None;
        self.key_range_scan(index, scan, &mut |_, entry| {
            let Some(rowkey) = entry_rowkey(entry) else {
                failed = Some(PgError::internal(format!(
                    "index \"{}\" has a malformed entry",
                    idx.name
                )));
                return Ok(false);
            };
            match self.get(idx.table, &rowkey)? {
                Some(r) => visit(&rowkey, &r),
                // written by the same commit as the row: never apart
                None => Ok(true),
            }
        })?;
        failed.map_or(Ok(()), Err)
    }
}
