//! The in-memory MVCC heap: per table an ordered map from [`RowKey`] to the row's
//! version chain.
//!
//! ```text
//!  key ──► [ v1 created=0/1A0 deleted=0/2F8 ] [ v2 created=0/2F8 deleted=- ]
//!            └ visible to snapshots in [0/1A0, 0/2F8)   └ visible from 0/2F8 on
//! ```
//! A version is stamped with the end LSN of the COMMIT record that created it and of
//! the one that deleted it (`Lsn::INVALID` = not deleted; rows loaded from a
//! checkpoint are created at `Lsn::INVALID`, i.e. frozen). A snapshot is an LSN `S`;
//! a version is visible when `created <= S` and it was not deleted at or before `S`.
//! Versions of one key never overlap in time, so at most one is visible.
//!
//! Only the commit path changes the heap, under the database's commit mutex and in
//! LSN order (`apply_change`); readers take a table's read lock briefly and copy
//! out `Arc`ed rows in batches, so a slow client never blocks commits.
//! Garbage: a version deleted at or before the oldest live snapshot (the horizon) is
//! pruned when its key is written again, and by a sweep at checkpoint.
//! The chain rules ([`visible_version`], [`write_chain`]) are generic over the row
//! representation so the on-disk table store (`store/`) applies the same ones.
//! PostgreSQL counterparts: `heapam.c`, `heapam_visibility.c`, `pruneheap.c`.

use std::collections::{btree_map, BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;
use tandem_types::{Lsn, Oid, Value};

use crate::catalog::CatalogOp;
use crate::keycode::encode_key_into;
use crate::record::Change;
use crate::{Catalog, RowKey};

pub type Row = Arc<[Value]>;

/// One version of a row. `R` is the row: `Row` in memory, its encoded bytes in the
/// on-disk store (`store/`); the chain rules below do not look at it.
#[derive(Clone, Debug, PartialEq)]
pub struct Version<R = Row> {
    pub row: R,
    pub created: Lsn,
    /// `Lsn::INVALID` while live.
    pub deleted: Lsn,
}

impl<R> Version<R> {
    pub fn live(&self) -> bool {
        !self.deleted.is_valid()
    }
    /// The visibility rule: created at or before `snapshot`, not deleted at or before it.
    pub fn visible_at(&self, snapshot: Lsn) -> bool {
        self.created <= snapshot && (self.live() || self.deleted > snapshot)
    }
}

/// The version of `chain` (oldest first) that `snapshot` sees, if any.
pub fn visible_version<R>(chain: &[Version<R>], snapshot: Lsn) -> Option<&Version<R>> {
    let v = chain.iter().rev().find(|v| v.created <= snapshot)?;
    v.visible_at(snapshot).then_some(v)
}

/// What ending a chain's live version did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// There was no live version.
    Nothing,
    /// The live version now carries the deleting commit: one more dead version.
    Ended,
    /// The live version was created by the same commit, so nobody ever saw it: it
    /// was removed from the chain.
    Discarded,
}

/// Removes the versions deleted at or before `horizon` (no snapshot can see them);
/// returns how many.
pub fn prune_chain<R>(chain: &mut Vec<Version<R>>, horizon: Lsn) -> usize {
    let before = chain.len();
    chain.retain(|v| v.live() || v.deleted > horizon);
    before - chain.len()
}

/// Ends the live version (always the last one) at `commit`.
pub fn end_live<R>(chain: &mut Vec<Version<R>>, commit: Lsn) -> Ended {
    let Some(last) = chain.last_mut().filter(|v| v.live()) else {
        return Ended::Nothing;
    };
    if last.created == commit {
        chain.pop();
        Ended::Discarded
    } else {
        last.deleted = commit;
        Ended::Ended
    }
}

/// One committed write to a key.
#[derive(Clone, Debug, PartialEq)]
pub enum ChainWrite<R> {
    /// A new version (insert, or the new image of an update).
    Put(R),
    /// The key's row is deleted.
    Delete,
}

/// The chain rule of a committed write at `commit`, with `horizon` the oldest
/// snapshot anyone can still take: a put prunes, ends the live version and appends
/// the new one; a delete ends the live version and prunes. Returns the versions
/// pruned and what happened to the live one. An empty chain afterwards means the
/// key is gone.
pub fn write_chain<R>(
    chain: &mut Vec<Version<R>>,
    write: ChainWrite<R>,
    commit: Lsn,
    horizon: Lsn,
) -> (usize, Ended) {
    match write {
        ChainWrite::Put(row) => {
            let pruned = prune_chain(chain, horizon);
            // A live version here would be a uniqueness bug upstream; end it rather
            // than keep two live versions of one key.
            let ended = end_live(chain, commit);
            chain.push(Version {
                row,
                created: commit,
                deleted: Lsn::INVALID,
            });
            (pruned, ended)
        }
        ChainWrite::Delete => {
            let ended = end_live(chain, commit);
            (prune_chain(chain, horizon), ended)
        }
    }
}

/// One table's rows.
#[derive(Default)]
pub struct TableHeap {
    rows: BTreeMap<RowKey, Vec<Version>>,
    /// Versions deleted but not yet pruned.
    dead: usize,
    /// Set when DROP TABLE committed; older snapshots still read the rows until a
    /// sweep removes the table.
    dropped_at: Option<Lsn>,
}

impl TableHeap {
    fn hidden_at(&self, snapshot: Lsn) -> bool {
        self.dropped_at.is_some_and(|d| d <= snapshot)
    }

    /// The version of `key` visible at `snapshot`.
    pub fn get(&self, key: &RowKey, snapshot: Lsn) -> Option<Row> {
        if self.hidden_at(snapshot) {
            return None;
        }
        visible_version(self.rows.get(key)?, snapshot).map(|v| v.row.clone())
    }

    /// The latest committed version of `key` if it is live (whatever any snapshot says).
    pub fn latest(&self, key: &RowKey) -> Option<&Version> {
        if self.dropped_at.is_some() {
            return None;
        }
        self.rows.get(key)?.last().filter(|v| v.live())
    }

    /// Copies up to `limit` rows visible at `snapshot` with keys after `from` into
    /// `out`; returns true when there may be more.
    pub fn visible_batch(
        &self,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> bool {
        if self.hidden_at(snapshot) {
            return false;
        }
        for (key, chain) in self.rows.range::<RowKey, _>((from, Bound::Unbounded)) {
            if out.len() >= limit {
                return true;
            }
            if let Some(v) = visible_version(chain, snapshot) {
                out.push((key.clone(), v.row.clone()));
            }
        }
        false
    }

    /// Copies the rows (not their keys) visible at `snapshot` among the next
    /// `limit` keys after `from` into `out`; returns the last key looked at
    /// when there are more (a bulk read: ADD PRIMARY KEY).
    pub fn visible_rows(
        &self,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<Row>,
    ) -> Option<RowKey> {
        if self.hidden_at(snapshot) {
            return None;
        }
        let mut last: Option<&RowKey> = None;
        for (n, (key, chain)) in self
            .rows
            .range::<RowKey, _>((from, Bound::Unbounded))
            .enumerate()
        {
            if n == limit {
                return last.cloned();
            }
            if let Some(v) = visible_version(chain, snapshot) {
                out.push(v.row.clone());
            }
            last = Some(key);
        }
        None
    }

    /// Number of keys (live or not) in the map.
    pub fn key_count(&self) -> usize {
        self.rows.len()
    }

    pub fn dead_versions(&self) -> usize {
        self.dead
    }

    /// Adjusts the dead-version count after a chain write.
    fn count(&mut self, pruned: usize, ended: Ended) {
        if ended == Ended::Ended {
            self.dead += 1;
        }
        self.dead -= pruned;
    }

    /// A new version of `key` by the chain rule ([`write_chain`]).
    fn insert(&mut self, key: RowKey, row: Row, commit: Lsn, horizon: Lsn) {
        // One probe: a new key gets its one-version chain at once, an
        // existing chain takes the new version by the chain rule.
        let (pruned, ended) = match self.rows.entry(key) {
            btree_map::Entry::Vacant(e) => {
                e.insert(vec![Version {
                    row,
                    created: commit,
                    deleted: Lsn::INVALID,
                }]);
                return;
            }
            btree_map::Entry::Occupied(e) => {
                write_chain(e.into_mut(), ChainWrite::Put(row), commit, horizon)
            }
        };
        self.count(pruned, ended);
    }

    /// Inserts a run of rows committed at `commit` (one transaction's inserts
    /// into this table, in order). Into an empty table (created or first filled
    /// by this commit: a bulk load) the map is built in one pass instead of key
    /// by key; a key inserted twice keeps its last row, as key by key.
    fn insert_run(&mut self, run: Vec<(RowKey, Row)>, commit: Lsn, horizon: Lsn) {
        if self.rows.is_empty() && run.len() > 1 {
            // from_iter sorts stably (linear on sorted input), keeps the last
            // of equal keys, and builds the tree bottom-up.
            self.rows = run
                .into_iter()
                .map(|(key, row)| {
                    let version = Version {
                        row,
                        created: commit,
                        deleted: Lsn::INVALID,
                    };
                    (key, vec![version])
                })
                .collect();
            return;
        }
        for (key, row) in run {
            self.insert(key, row, commit, horizon);
        }
    }

    /// A committed delete of `key` by the chain rule ([`write_chain`]).
    fn delete_and_prune(&mut self, key: &RowKey, commit: Lsn, horizon: Lsn) {
        let Some(chain) = self.rows.get_mut(key) else {
            return;
        };
        let (pruned, ended) = write_chain(chain, ChainWrite::Delete, commit, horizon);
        if chain.is_empty() {
            self.rows.remove(key);
        }
        self.count(pruned, ended);
    }

    /// Ends the live version of `key` at `commit`, without pruning.
    fn delete(&mut self, key: &RowKey, commit: Lsn) {
        let Some(chain) = self.rows.get_mut(key) else {
            return;
        };
        let ended = end_live(chain, commit);
        if chain.is_empty() {
            self.rows.remove(key);
        }
        self.count(0, ended);
    }

    fn truncate(&mut self, commit: Lsn) {
        let keys: Vec<RowKey> = self
            .rows
            .iter()
            .filter(|(_, c)| c.last().is_some_and(|v| v.live()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.delete(&k, commit);
        }
    }

    /// Re-keys the table by primary key columns (ALTER TABLE ADD PRIMARY KEY): keeps
    /// the latest live version of each row. Rows too short for the key are padded
    /// with the table's missing values first. The new map is built in one pass
    /// from the sorted keys (a key met twice keeps its last row).
    fn rekey(&mut self, table: Oid, pk: &[usize], cat: &Catalog) {
        let old = std::mem::take(&mut self.rows);
        self.dead = 0;
        let ncols = cat.tables.get(&table).map_or(0, |t| t.columns.len());
        let mut keyed: Vec<(RowKey, Vec<Version>)> = Vec::with_capacity(old.len());
        let mut key_vals = Vec::with_capacity(pk.len());
        for (RowKey(mut key), mut chain) in old {
            let Some(v) = chain.pop().filter(|v| v.live()) else {
                continue;
            };
            let row: Row = match (v.row.len() < ncols)
                .then(|| cat.pad_row(table, &v.row))
                .flatten()
            {
                Some(padded) => padded.into(),
                None => v.row,
            };
            key_vals.clear();
            key_vals.extend(
                pk.iter()
                    .map(|&c| row.get(c).cloned().unwrap_or(Value::Null)),
            );
            // The old key's and the chain's allocations are re-used.
            key.clear();
            encode_key_into(&key_vals, &mut key);
            chain.clear();
            chain.push(Version {
                row,
                created: v.created,
                deleted: Lsn::INVALID,
            });
            keyed.push((RowKey(key), chain));
        }
        self.rows = keyed.into_iter().collect();
    }

    /// Removes every version invisible to all snapshots at or after `horizon`.
    pub fn sweep(&mut self, horizon: Lsn) {
        if self.dead == 0 {
            return;
        }
        let mut dead = 0;
        self.rows.retain(|_, chain| {
            chain.retain(|v| v.live() || v.deleted > horizon);
            dead += chain.iter().filter(|v| !v.live()).count();
            !chain.is_empty()
        });
        self.dead = dead;
    }

    /// Loads one row from a checkpoint (frozen).
    pub fn load(&mut self, key: RowKey, row: Row) {
        self.rows.insert(
            key,
            vec![Version {
                row,
                created: Lsn::INVALID,
                deleted: Lsn::INVALID,
            }],
        );
    }
}

/// All tables' heaps.
#[derive(Default)]
pub struct Heap {
    tables: RwLock<HashMap<Oid, Arc<RwLock<TableHeap>>>>,
}

impl Heap {
    pub fn table(&self, oid: Oid) -> Option<Arc<RwLock<TableHeap>>> {
        self.tables.read().get(&oid).cloned()
    }

    fn table_or_create(&self, oid: Oid) -> Arc<RwLock<TableHeap>> {
        if let Some(t) = self.table(oid) {
            return t;
        }
        self.tables.write().entry(oid).or_default().clone()
    }

    pub fn table_oids(&self) -> Vec<Oid> {
        let mut v: Vec<Oid> = self.tables.read().keys().copied().collect();
        v.sort();
        v
    }

    /// Applies a committed transaction's changes, in order, with commit stamp
    /// `commit` (see [`Heap::apply_change`]); their keys and rows move into the
    /// heap. A run of inserts into one table takes the table's lock once, and
    /// fills an empty table in one pass.
    pub fn apply_changes(&self, changes: Vec<Change>, commit: Lsn, cat: &Catalog, horizon: Lsn) {
        let mut changes = changes.into_iter().peekable();
        while let Some(change) = changes.next() {
            let Change::Insert { table, key, row } = change else {
                self.apply_change(&change, commit, cat, horizon);
                continue;
            };
            let mut run = vec![(key, row)];
            while let Some(Change::Insert { key, row, .. }) =
                changes.next_if(|c| matches!(c, Change::Insert { table: t, .. } if *t == table))
            {
                run.push((key, row));
            }
            self.table_or_create(table)
                .write()
                .insert_run(run, commit, horizon);
        }
    }

    /// Applies one committed change with commit stamp `commit`. `cat` is the catalog
    /// as the committing transaction left it; `horizon` the oldest live snapshot.
    /// Called only under the commit mutex (or single-threaded recovery).
    pub fn apply_change(&self, change: &Change, commit: Lsn, cat: &Catalog, horizon: Lsn) {
        match change {
            Change::Insert { table, key, row } => {
                self.table_or_create(*table).write().insert(
                    key.clone(),
                    row.clone(),
                    commit,
                    horizon,
                );
            }
            Change::Update {
                table,
                old_key,
                key,
                row,
                ..
            } => {
                let t = self.table_or_create(*table);
                let mut t = t.write();
                if old_key != key {
                    t.delete(old_key, commit);
                }
                t.insert(key.clone(), row.clone(), commit, horizon);
            }
            Change::Delete { table, key, .. } => {
                if let Some(t) = self.table(*table) {
                    let mut t = t.write();
                    t.delete_and_prune(key, commit, horizon);
                }
            }
            Change::Truncate { tables, .. } => {
                for oid in tables {
                    if let Some(t) = self.table(*oid) {
                        t.write().truncate(commit);
                    }
                }
            }
            Change::Catalog(op) => match op.as_ref() {
                CatalogOp::PutTable { def, .. } => {
                    self.table_or_create(def.oid);
                }
                CatalogOp::DropTable(oid) => {
                    if let Some(t) = self.table(*oid) {
                        t.write().dropped_at = Some(commit);
                    }
                }
                CatalogOp::AddPrimaryKey { table, pk } => {
                    self.table_or_create(*table)
                        .write()
                        .rekey(*table, &pk.columns, cat);
                }
                _ => {}
            },
        }
    }

    /// Prunes dead versions and forgets dropped tables no snapshot can read.
    pub fn sweep(&self, horizon: Lsn) {
        let mut gone = Vec::new();
        for oid in self.table_oids() {
            if let Some(t) = self.table(oid) {
                let mut t = t.write();
                if t.dropped_at.is_some_and(|d| d <= horizon) {
                    gone.push(oid);
                } else {
                    t.sweep(horizon);
                }
            }
        }
        if !gone.is_empty() {
            let mut tables = self.tables.write();
            for oid in gone {
                tables.remove(&oid);
            }
        }
    }

    /// Installs a table loaded from a checkpoint.
    pub fn install(&self, oid: Oid, table: TableHeap) {
        self.tables
            .write()
            .insert(oid, Arc::new(RwLock::new(table)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::OldTuple;

    fn row(v: i32) -> Row {
        vec![Value::Int4(v)].into()
    }
    fn k(b: u8) -> RowKey {
        RowKey(vec![b])
    }
    const T: Oid = Oid(16384);

    #[test]
    fn versions_are_visible_between_their_commit_stamps() {
        let heap = Heap::default();
        let cat = Catalog::default();
        heap.apply_change(
            &Change::Insert {
                table: T,
                key: k(1),
                row: row(1),
            },
            Lsn(100),
            &cat,
            Lsn(0),
        );
        heap.apply_change(
            &Change::Update {
                table: T,
                old_key: k(1),
                key: k(1),
                row: row(2),
                old: OldTuple::None,
            },
            Lsn(200),
            &cat,
            Lsn(0),
        );
        heap.apply_change(
            &Change::Delete {
                table: T,
                key: k(1),
                old: OldTuple::None,
            },
            Lsn(300),
            &cat,
            Lsn(0),
        );
        let t = heap.table(T).unwrap();
        let t = t.read();
        assert_eq!(t.get(&k(1), Lsn(99)), None);
        assert_eq!(t.get(&k(1), Lsn(100)), Some(row(1)));
        assert_eq!(t.get(&k(1), Lsn(199)), Some(row(1)));
        assert_eq!(t.get(&k(1), Lsn(200)), Some(row(2)));
        assert_eq!(t.get(&k(1), Lsn(300)), None);
        assert!(t.latest(&k(1)).is_none());
        assert_eq!(t.dead_versions(), 2);
    }

    #[test]
    fn pruning_keeps_what_the_horizon_can_see() {
        let heap = Heap::default();
        let cat = Catalog::default();
        for (i, lsn) in [100u64, 200, 300, 400].iter().enumerate() {
            heap.apply_change(
                &Change::Update {
                    table: T,
                    old_key: k(1),
                    key: k(1),
                    row: row(i as i32),
                    old: OldTuple::None,
                },
                Lsn(*lsn),
                &cat,
                Lsn(250),
            );
        }
        let t = heap.table(T).unwrap();
        // v0 (deleted at 200) is gone; v1 (deleted at 300 > horizon 250) stays.
        assert_eq!(t.read().get(&k(1), Lsn(150)), None);
        assert_eq!(t.read().get(&k(1), Lsn(250)), Some(row(1)));
        heap.sweep(Lsn(1000));
        assert_eq!(t.read().dead_versions(), 0);
        assert_eq!(t.read().get(&k(1), Lsn(1000)), Some(row(3)));
    }

    #[test]
    fn same_transaction_insert_then_delete_leaves_nothing() {
        let heap = Heap::default();
        let cat = Catalog::default();
        heap.apply_change(
            &Change::Insert {
                table: T,
                key: k(1),
                row: row(1),
            },
            Lsn(100),
            &cat,
            Lsn(0),
        );
        heap.apply_change(
            &Change::Delete {
                table: T,
                key: k(1),
                old: OldTuple::None,
            },
            Lsn(100),
            &cat,
            Lsn(0),
        );
        assert_eq!(heap.table(T).unwrap().read().key_count(), 0);
    }

    #[test]
    fn batches_resume_after_the_last_key() {
        let heap = Heap::default();
        let cat = Catalog::default();
        for b in 0..10u8 {
            heap.apply_change(
                &Change::Insert {
                    table: T,
                    key: k(b),
                    row: row(b as i32),
                },
                Lsn(100),
                &cat,
                Lsn(0),
            );
        }
        let t = heap.table(T).unwrap();
        let mut out = Vec::new();
        assert!(t
            .read()
            .visible_batch(Bound::Unbounded, Lsn(100), 4, &mut out));
        let last = out[3].0.clone();
        assert!(!t
            .read()
            .visible_batch(Bound::Excluded(&last), Lsn(100), 100, &mut out));
        assert_eq!(out.len(), 10);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn row_batches_resume_after_the_last_key_looked_at() {
        let heap = Heap::default();
        let cat = Catalog::default();
        let inserts = (0..10u8)
            .map(|b| Change::Insert {
                table: T,
                key: k(b),
                row: row(b as i32),
            })
            .collect();
        heap.apply_changes(inserts, Lsn(100), &cat, Lsn(0));
        // Keys 2 and 3 deleted at 200: invisible from there on.
        for b in [2u8, 3] {
            heap.apply_change(
                &Change::Delete {
                    table: T,
                    key: k(b),
                    old: OldTuple::None,
                },
                Lsn(200),
                &cat,
                Lsn(0),
            );
        }
        let t = heap.table(T).unwrap();
        let t = t.read();
        let mut out = Vec::new();
        let mut from = None;
        let mut batches = 0;
        loop {
            batches += 1;
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            from = t.visible_rows(lower, Lsn(200), 4, &mut out);
            if from.is_none() {
                break;
            }
        }
        assert_eq!(batches, 3, "4 + 4 + 2 keys looked at");
        let want: Vec<Row> = [0, 1, 4, 5, 6, 7, 8, 9].map(row).to_vec();
        assert_eq!(out, want);
    }
}
