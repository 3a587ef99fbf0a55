//! A transaction's constraint work: the foreign key checks its row writes
//! queue, and running them (with the ON DELETE / ON UPDATE actions) when the
//! statement ends; adding and dropping foreign keys and CHECK constraints
//! (a CHECK is evaluated by the executor, which can run SQL:
//! `tandem_query::checks`).
//!
//! Every row write that touches a foreign key queues a check (PostgreSQL's
//! RI triggers, which fire after the statement):
//! - a row of a referencing table written with a new key: the referenced
//!   key must exist ([`FkCheck::Child`]);
//! - a referenced key deleted or changed: the rows that reference it are
//!   refused (NO ACTION, RESTRICT), deleted or updated (CASCADE), or set to
//!   NULL ([`FkCheck::Parent`]); the rows an action writes queue their own
//!   checks, so cascades go as deep as the references do.
//!
//! [`Transaction::finish_statement`] runs the queue; commit runs whatever a
//! caller left in it. Checks read the latest committed state (not the
//! statement's snapshot) under a key-share lock on the referenced key
//! ([`LockTag::KeyShare`]): a referencing writer holds it shared, a writer
//! that removes the key holds it exclusive, so one of two concurrent
//! writers always waits for the other and then sees what it committed.
//! The apply worker of a subscription writes with the checks off, as
//! PostgreSQL's does (`session_replication_role = replica`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tandem_types::{DataType, Lsn, Oid, PgError, PgResult, SqlState, Value};

use super::{column_names, Transaction};
use crate::display::values_text;
use crate::heap::Row;
use crate::index::IndexScan;
use crate::keycode::encode_key;
use crate::locks::{LockMode, LockTag};
use crate::{ConstraintDef, FkAction, ForeignKey, LockResult, RowKey, TableDef};

/// A foreign key check a row write left for the end of its statement.
pub(crate) enum FkCheck {
    /// A referencing row was written with these values of the key columns.
    Child {
        fk: Arc<ConstraintDef>,
        values: Vec<Value>,
    },
    /// A referenced key (these values of the referenced columns, none NULL)
    /// was deleted, or updated to `new`.
    Parent {
        fk: Arc<ConstraintDef>,
        old: Vec<Value>,
        new: Option<Vec<Value>>,
    },
}

fn fk_of(c: &ConstraintDef) -> PgResult<&ForeignKey> {
    c.foreign_key()
        .ok_or_else(|| PgError::internal(format!("constraint \"{}\" is no foreign key", c.name)))
}

fn pick(row: &[Value], columns: &[usize]) -> Vec<Value> {
    columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
}

/// Do two rows differ in these columns (as keys compare)?
fn key_changed(old: &[Value], new: &[Value], columns: &[usize]) -> bool {
    columns
        .iter()
        .any(|&c| encode_key(&pick(old, &[c])) != encode_key(&pick(new, &[c])))
}

/// `v` as a value of a column of type `ty` (a referenced key copied into a
/// referencing column of another integer width).
fn fit(v: &Value, ty: &DataType) -> PgResult<Value> {
    let wide = match v {
        Value::Int2(i) => i64::from(*i),
        Value::Int4(i) => i64::from(*i),
        Value::Int8(i) => *i,
        _ => return Ok(v.clone()),
    };
    let out_of_range = |what: &str| {
        PgError::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{what} out of range"),
        )
    };
    Ok(match ty {
        DataType::Int2 => Value::Int2(i16::try_from(wide).map_err(|_| out_of_range("smallint"))?),
        DataType::Int4 => Value::Int4(i32::try_from(wide).map_err(|_| out_of_range("integer"))?),
        DataType::Int8 => Value::Int8(wide),
        _ => v.clone(),
    })
}

impl Transaction {
    /// Turns the foreign key checks of this transaction's row writes on or
    /// off (off: a subscription's apply worker, `session_replication_role
    /// = replica`).
    pub fn set_foreign_key_checks(&mut self, on: bool) {
        self.fk_checks = on;
    }

    /// Queues the checks of a row inserted into `def`.
    pub(super) fn fk_inserted(&mut self, def: &TableDef, row: &[Value]) {
        if !self.fk_checks || self.cat().constraints.is_empty() {
            return;
        }
        for c in self.cat().foreign_keys_of(def.oid) {
            if let Some(fk) = c.foreign_key() {
                let values = pick(row, &fk.columns);
                self.fk_pending.push(FkCheck::Child { fk: c, values });
            }
        }
    }

    /// Queues the checks of a row of `def` updated from `old` to `new`: a
    /// changed reference, a changed referenced key.
    pub(super) fn fk_updated(&mut self, def: &TableDef, old: &Row, new: &[Value]) {
        if !self.fk_checks || self.cat().constraints.is_empty() {
            return;
        }
        let old = &self.pad(def.oid, old);
        for c in self.cat().foreign_keys_of(def.oid) {
            if let Some(fk) = c
                .foreign_key()
                .filter(|fk| key_changed(old, new, &fk.columns))
            {
                let values = pick(new, &fk.columns);
                self.fk_pending.push(FkCheck::Child { fk: c, values });
            }
        }
        self.fk_parent_changed(def, old, Some(new));
    }

    /// Queues the checks of a row of `def` deleted.
    pub(super) fn fk_deleted(&mut self, def: &TableDef, old: &Row) {
        if !self.fk_checks || self.cat().constraints.is_empty() {
            return;
        }
        let old = &self.pad(def.oid, old);
        self.fk_parent_changed(def, old, None);
    }

    fn fk_parent_changed(&mut self, def: &TableDef, old: &[Value], new: Option<&[Value]>) {
        for c in self.cat().foreign_keys_to(def.oid) {
            let Some(fk) = c.foreign_key() else { continue };
            if new.is_some_and(|new| !key_changed(old, new, &fk.ref_columns)) {
                continue;
            }
            let old = pick(old, &fk.ref_columns);
            // a key with a NULL is referenced by nobody
            if old.iter().any(Value::is_null) {
                continue;
            }
            let new = new.map(|n| pick(n, &fk.ref_columns));
            self.fk_pending.push(FkCheck::Parent { fk: c, old, new });
        }
    }

    /// Ends a statement: runs the foreign key checks its row writes queued
    /// (and the actions they call for). An error fails the statement.
    pub fn finish_statement(&mut self) -> PgResult<()> {
        if self.fk_pending.is_empty() {
            return Ok(());
        }
        let saved = self.snapshot;
        self.read_latest();
        let result = self.run_fk_checks();
        self.snapshot = saved;
        if result.is_err() {
            self.fk_pending.clear();
        }
        result
    }

    fn run_fk_checks(&mut self) -> PgResult<()> {
        loop {
            let queue = std::mem::take(&mut self.fk_pending);
            if queue.is_empty() {
                return Ok(());
            }
            for check in queue {
                self.check_cancel()?;
                match check {
                    FkCheck::Child { fk, values } => self.check_reference(&fk, &values, true)?,
                    FkCheck::Parent { fk, old, new } => self.check_referenced(&fk, &old, new)?,
                }
            }
        }
    }

    /// The relation and key whose entry stands for referenced `values`
    /// (in `fk.ref_columns` order, none NULL): the referenced table's row
    /// key, or the entry key of the unique index the reference uses.
    fn referenced_key(&self, fk: &ForeignKey, values: &[Value]) -> PgResult<(Oid, RowKey)> {
        let cat = self.cat();
        let (rel, columns) = match fk.ref_index {
            None => {
                let t = cat
                    .tables
                    .get(&fk.ref_table)
                    .ok_or_else(|| super::no_table(fk.ref_table))?;
                let pk = t.primary_key.as_ref().ok_or_else(|| {
                    PgError::internal(format!("table \"{}\" has no primary key", t.name))
                })?;
                (fk.ref_table, pk.columns.clone())
            }
            Some(ix) => {
                let idx = cat.indexes.get(&ix).ok_or_else(|| super::no_table(ix))?;
                (ix, idx.columns.clone())
            }
        };
        let mut ordered = Vec::with_capacity(columns.len());
        for c in columns {
            let at = fk.ref_columns.iter().position(|&r| r == c).ok_or_else(|| {
                PgError::internal("a foreign key's columns are not its unique key's")
            })?;
            ordered.push(values[at].clone());
        }
        // the entry of a unique index for values without NULL is keyed by
        // the values alone (`crate::index::entry_key`)
        Ok((rel, encode_key(&ordered)))
    }

    /// Takes the key-share lock of a referenced key, then reads from the
    /// latest commit on (the holder waited for has committed by then).
    fn lock_key(&mut self, rel: Oid, key: &RowKey, mode: LockMode) -> PgResult<()> {
        let xid = self.assign_xid();
        self.db.locks.acquire_in(
            xid,
            LockTag::KeyShare(rel, key.clone()),
            mode,
            &self.wait_options(),
        )?;
        self.read_latest();
        Ok(())
    }

    /// Moves the reads of the running checks to every commit applied so
    /// far (reading past the registered snapshot is safe: pruning removes
    /// only versions superseded before it).
    fn read_latest(&mut self) {
        let latest = Lsn(self.db.applied_lsn.load(Ordering::Acquire));
        self.snapshot = self.snapshot.max(latest);
    }

    fn table_name(&self, table: Oid) -> String {
        self.cat()
            .tables
            .get(&table)
            .map_or_else(|| table.to_string(), |t| t.name.clone())
    }

    /// `ALTER TABLE ADD FOREIGN KEY` (and a REFERENCES of CREATE TABLE):
    /// installs the constraint and checks every row of the table, which is
    /// watched, with the referenced one, until this transaction commits (a
    /// commit of another that wrote either since the snapshot makes this
    /// one fail with `40001`, as for CREATE INDEX).
    pub fn add_foreign_key(&mut self, def: ConstraintDef) -> PgResult<()> {
        if self.read_only {
            return Err(super::read_only_error("ALTER TABLE"));
        }
        let fk = fk_of(&def)?.clone();
        self.settle(def.table)?;
        self.watch_table(def.table)?;
        self.watch_table(fk.ref_table)?;
        self.ddl(crate::CatalogOp::PutConstraint(def.clone()))?;
        let mut keys: Vec<(RowKey, Vec<Value>)> = Vec::new();
        self.scan(def.table, &mut |_, row| {
            let values = pick(row, &fk.columns);
            keys.push((encode_key(&values), values));
            Ok(true)
        })?;
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keys.dedup_by(|a, b| a.0 == b.0);
        for (_, values) in keys {
            self.check_cancel()?;
            // the watch stands for the key-share locks
            self.check_reference(&def, &values, false)?;
        }
        Ok(())
    }

    /// A CHECK constraint (CREATE TABLE, ALTER TABLE ADD CONSTRAINT): the
    /// table is watched from this transaction's snapshot, as for ADD
    /// FOREIGN KEY; the caller checks the rows it reads at that snapshot.
    pub fn add_check(&mut self, def: ConstraintDef) -> PgResult<()> {
        if self.read_only {
            return Err(super::read_only_error("ALTER TABLE"));
        }
        self.watch_table(def.table)?;
        self.ddl(crate::CatalogOp::PutConstraint(def))
    }

    /// `ALTER TABLE DROP CONSTRAINT` of a foreign key or CHECK (also each
    /// one of a dropped table).
    pub fn drop_constraint(&mut self, constraint: Oid) -> PgResult<()> {
        self.ddl(crate::CatalogOp::DropConstraint(constraint))
    }

    /// A referencing row's key `values` must be NULL (as its MATCH allows)
    /// or exist in the referenced table (`lock`: under a key-share lock on
    /// the referenced key).
    fn check_reference(&mut self, c: &ConstraintDef, values: &[Value], lock: bool) -> PgResult<()> {
        let fk = fk_of(c)?;
        let nulls = values.iter().filter(|v| v.is_null()).count();
        if nulls == values.len() || (nulls > 0 && !fk.match_full) {
            return Ok(());
        }
        let child = self.table_def(c.table)?;
        let violation = || {
            PgError::new(
                SqlState::FOREIGN_KEY_VIOLATION,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    child.name, c.name
                ),
            )
            .with_constraint(&child.schema, &child.name, &c.name)
        };
        if nulls > 0 {
            return Err(violation()
                .with_detail("MATCH FULL does not allow mixing of null and nonnull key values."));
        }
        let (rel, key) = self.referenced_key(fk, values)?;
        if lock {
            self.lock_key(rel, &key, LockMode::Shared)?;
        }
        if self.visible(rel, &key)?.is_some() {
            return Ok(());
        }
        Err(violation().with_detail(format!(
            "Key ({})=({}) is not present in table \"{}\".",
            column_names(&child, &fk.columns),
            values_text(values),
            self.table_name(fk.ref_table)
        )))
    }

    /// A referenced key `old` went away (deleted, or changed to `new`):
    /// the rows referencing it get the constraint's action.
    fn check_referenced(
        &mut self,
        c: &ConstraintDef,
        old: &[Value],
        new: Option<Vec<Value>>,
    ) -> PgResult<()> {
        let fk = fk_of(c)?;
        let action = match new {
            Some(_) => fk.on_update,
            None => fk.on_delete,
        };
        let (rel, key) = self.referenced_key(fk, old)?;
        self.lock_key(rel, &key, LockMode::Exclusive)?;
        // NO ACTION looks at the end: the key may be back (another row
        // took it in the same statement)
        if action == FkAction::NoAction && self.visible(rel, &key)?.is_some() {
            return Ok(());
        }
        let referencing = self.referencing_rows(c.table, &fk.columns, old)?;
        if referencing.is_empty() {
            return Ok(());
        }
        let child = self.table_def(c.table)?;
        match action {
            FkAction::NoAction | FkAction::Restrict => {
                let parent = self.table_def(fk.ref_table)?;
                Err(PgError::new(
                    SqlState::FOREIGN_KEY_VIOLATION,
                    format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        parent.name, c.name, child.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is still referenced from table \"{}\".",
                    column_names(&parent, &fk.ref_columns),
                    values_text(old),
                    child.name
                ))
                .with_constraint(&parent.schema, &parent.name, &c.name))
            }
            FkAction::SetDefault => Err(PgError::unsupported("ON DELETE/UPDATE SET DEFAULT")),
            FkAction::Cascade | FkAction::SetNull => {
                for (rowkey, row) in referencing {
                    let row = match self.lock_row(c.table, &rowkey, Some(&row))? {
                        LockResult::Unchanged => row,
                        LockResult::Deleted => continue,
                        LockResult::Updated(_, newer) => {
                            if pick(&newer, &fk.columns) != pick(&row, &fk.columns) {
                                continue;
                            }
                            newer
                        }
                    };
                    match (&new, action) {
                        (None, FkAction::Cascade) => self.delete(c.table, &rowkey)?,
                        (Some(new), FkAction::Cascade) => {
                            let mut row = row;
                            for (i, &col) in fk.columns.iter().enumerate() {
                                row[col] = fit(&new[i], &child.columns[col].data_type)?;
                            }
                            self.update(c.table, &rowkey, row)?;
                        }
                        _ => {
                            let mut row = row;
                            for &col in &fk.columns {
                                row[col] = Value::Null;
                            }
                            self.update(c.table, &rowkey, row)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The rows of `table` whose `columns` hold `values`: through an index
    /// (or the primary key) that leads with those columns when there is
    /// one, else by a scan.
    fn referencing_rows(
        &self,
        table: Oid,
        columns: &[usize],
        values: &[Value],
    ) -> PgResult<Vec<(RowKey, Vec<Value>)>> {
        let wanted = encode_key(values);
        let matches = |row: &[Value]| encode_key(&pick(row, columns)) == wanted;
        let mut out = Vec::new();
        let mut collect = |key: &RowKey, row: &[Value]| {
            if matches(row) {
                out.push((key.clone(), row.to_vec()));
            }
            Ok(true)
        };
        let leading = |index_columns: &[usize]| {
            let lead = index_columns.get(..columns.len())?;
            let prefix: Option<Vec<Value>> = lead
                .iter()
                .map(|c| {
                    columns
                        .iter()
                        .position(|x| x == c)
                        .map(|i| values[i].clone())
                })
                .collect();
            prefix
        };
        let def = self.table_def(table)?;
        let pk_prefix = def.primary_key.as_ref().and_then(|pk| leading(&pk.columns));
        let index = self
            .indexes_of(table)
            .into_iter()
            .find_map(|i| leading(&i.columns).map(|p| (i.oid, p)));
        let via = match (pk_prefix, index) {
            (Some(p), _) => Some((table, p)),
            (None, Some(ip)) => Some(ip),
            (None, None) => None,
        };
        match via {
            Some((rel, prefix)) => self.index_scan(
                rel,
                &IndexScan {
                    prefix,
                    range: None,
                },
                &mut collect,
            )?,
            None => self.scan(table, &mut collect)?,
        }
        Ok(out)
    }
}
