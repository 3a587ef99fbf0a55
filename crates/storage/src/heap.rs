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
use tandem_types::{Lsn, Oid, PgError, PgResult, Value};

use crate::record::Change;
use crate::store::TableStore;
use crate::RowKey;

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
/// snapshot anyone can still take: a put ends the live version, prunes (the
/// version it ended too, when no snapshot can see it any more) and appends
/// the new one; a delete ends the live version and prunes. Returns the
/// versions pruned and what happened to the live one. An empty chain
/// afterwards means the key is gone.
pub fn write_chain<R>(
    chain: &mut Vec<Version<R>>,
    write: ChainWrite<R>,
    commit: Lsn,
    horizon: Lsn,
) -> (usize, Ended) {
    match write {
        ChainWrite::Put(row) => {
            // A live version here would be a uniqueness bug upstream; end it rather
            // than keep two live versions of one key.
            let ended = end_live(chain, commit);
            let pruned = prune_chain(chain, horizon);
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

/// A version in the recent heap: `None` is a tombstone, the key has no row
/// from `created` on (the delete of a row whose live version is in the store).
pub type RecentVersion = Version<Option<Row>>;

/// What the recent heap knows about a key at a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Row(Row),
    Absent,
    /// No version of the key committed at or before the snapshot is here: the
    /// table store decides.
    Unknown,
}

/// What a recent chain says at `snapshot`: its newest version committed at or
/// before it decides, if there is one.
fn decide(chain: &[RecentVersion], snapshot: Lsn) -> Seen {
    match chain.iter().rev().find(|v| v.created <= snapshot) {
        None => Seen::Unknown,
        Some(v) if v.visible_at(snapshot) => v.row.clone().map_or(Seen::Absent, Seen::Row),
        Some(_) => Seen::Absent,
    }
}

/// One table's recent versions: those of commits the table store does not
/// hold yet (see the module header).
#[derive(Default)]
pub struct TableHeap {
    rows: BTreeMap<RowKey, Vec<RecentVersion>>,
}

impl TableHeap {
    /// What this heap says about `key` at `snapshot`.
    pub fn seen(&self, key: &RowKey, snapshot: Lsn) -> Seen {
        self.rows
            .get(key)
            .map_or(Seen::Unknown, |c| decide(c, snapshot))
    }

    /// The latest committed version of `key` as this heap has it: `Row` with
    /// its commit if live, `Absent` if deleted, `Unknown` if not here.
    fn latest(&self, key: &RowKey) -> Option<Option<(Lsn, Row)>> {
        let last = self.rows.get(key)?.last()?;
        Some(match (&last.row, last.live()) {
            (Some(row), true) => Some((last.created, row.clone())),
            _ => None,
        })
    }

    /// The keys after `from` (up to `limit` of them) with what they show
    /// `snapshot`, `Unknown` ones left out; returns true when there may be more.
    fn seen_batch(
        &self,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Seen)>,
    ) -> bool {
        for (n, (key, chain)) in self
            .rows
            .range::<RowKey, _>((from, Bound::Unbounded))
            .enumerate()
        {
            if n >= limit {
                return true;
            }
            match decide(chain, snapshot) {
                Seen::Unknown => {}
                seen => out.push((key.clone(), seen)),
            }
        }
        false
    }

    /// Number of keys with recent versions.
    pub fn key_count(&self) -> usize {
        self.rows.len()
    }

    /// Number of recent versions.
    pub fn versions(&self) -> usize {
        self.rows.values().map(Vec::len).sum()
    }

    /// A new version of `key` committed at `commit` (insert, or the new image
    /// of an update): the live version here, if any, ends (or goes, when the
    /// same commit made it).
    fn put(&mut self, key: RowKey, row: Row, commit: Lsn) {
        let version = Version {
            row: Some(row),
            created: commit,
            deleted: Lsn::INVALID,
        };
        match self.rows.entry(key) {
            btree_map::Entry::Vacant(e) => {
                e.insert(vec![version]);
            }
            btree_map::Entry::Occupied(e) => {
                let chain = e.into_mut();
                end_live(chain, commit);
                chain.push(version);
            }
        }
    }

    /// Inserts a run of rows committed at `commit` (one transaction's inserts
    /// into this table, in order). Into an empty heap the map is built in one
    /// pass instead of key by key; a key inserted twice keeps its last row.
    fn put_run(&mut self, run: Vec<(RowKey, Row)>, commit: Lsn) {
        if self.rows.is_empty() && run.len() > 1 {
            // from_iter sorts stably (linear on sorted input), keeps the last
            // of equal keys, and builds the tree bottom-up.
            self.rows = run
                .into_iter()
                .map(|(key, row)| {
                    let version = Version {
                        row: Some(row),
                        created: commit,
                        deleted: Lsn::INVALID,
                    };
                    (key, vec![version])
                })
                .collect();
            return;
        }
        for (key, row) in run {
            self.put(key, row, commit);
        }
    }

    /// The row of `key` is deleted at `commit`: its live version here ends; a
    /// row that lives only in the store gets a tombstone.
    fn delete(&mut self, key: &RowKey, commit: Lsn) {
        let tombstone = Version {
            row: None,
            created: commit,
            deleted: Lsn::INVALID,
        };
        let Some(chain) = self.rows.get_mut(key) else {
            self.rows.insert(key.clone(), vec![tombstone]);
            return;
        };
        if end_live(chain, commit) == Ended::Discarded && chain.is_empty() {
            // made and deleted by this commit over a row the store may have
            chain.push(tombstone);
        }
    }

    /// Forgets the versions of `key` the table store holds (commits up to
    /// `applied`): the oldest ones, as long as both their creation and their
    /// end are at or before `applied`.
    fn forget_through(&mut self, key: &RowKey, applied: Lsn) {
        let Some(chain) = self.rows.get_mut(key) else {
            return;
        };
        let held = chain
            .iter()
            .take_while(|v| v.created <= applied && (v.live() || v.deleted <= applied))
            .count();
        if held == chain.len() {
            self.rows.remove(key);
        } else if held > 0 {
            chain.drain(..held);
        }
    }

    /// Loads one row of an old checkpoint image (frozen), for its ingestion
    /// into the table store.
    pub fn load(&mut self, key: RowKey, row: Row) {
        self.rows.insert(
            key,
            vec![Version {
                row: Some(row),
                created: Lsn::INVALID,
                deleted: Lsn::INVALID,
            }],
        );
    }

    /// Copies up to `limit` rows visible at `snapshot` with keys after `from`
    /// into `out`, from this heap alone; returns true when there may be more
    /// (an old checkpoint image's rows: every version is here).
    pub fn visible_batch(
        &self,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> bool {
        for (key, chain) in self.rows.range::<RowKey, _>((from, Bound::Unbounded)) {
            if out.len() >= limit {
                return true;
            }
            if let Seen::Row(row) = decide(chain, snapshot) {
                out.push((key.clone(), row));
            }
        }
        false
    }
}

/// What lies below the recent heap.
enum Below {
    /// Nothing: the heap holds every version (unit tests).
    Nothing,
    Store(Arc<TableStore>),
    /// The store was closed (shutdown, demotion): reads fail.
    Closed,
}

/// All tables' recent heaps, and the table store below them.
pub struct Heap {
    tables: RwLock<HashMap<Oid, Arc<RwLock<TableHeap>>>>,
    below: RwLock<Below>,
}

impl Default for Heap {
    fn default() -> Heap {
        Heap {
            tables: RwLock::default(),
            below: RwLock::new(Below::Nothing),
        }
    }
}

/// Rows read from the recent heap per merge step of a scan.
const RECENT_BATCH: usize = 1024;

impl Heap {
    /// Reads fall through to `store` (`None`: the store closed).
    pub fn set_store(&self, store: Option<Arc<TableStore>>) {
        *self.below.write() = store.map_or(Below::Closed, Below::Store);
    }

    fn store(&self) -> PgResult<Option<Arc<TableStore>>> {
        match &*self.below.read() {
            Below::Nothing => Ok(None),
            Below::Store(s) => Ok(Some(s.clone())),
            Below::Closed => Err(PgError::internal("the table store is closed")),
        }
    }

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

    /// The row of `key` in `table` visible at `snapshot`: the recent heap's
    /// if it knows, else the table store's. The recent heap is read first: a
    /// version leaves it only after the store has it, so it is found in one
    /// or both, never in neither.
    pub fn get(&self, table: Oid, key: &RowKey, snapshot: Lsn) -> PgResult<Option<Row>> {
        let seen = match self.table(table) {
            Some(t) => t.read().seen(key, snapshot),
            None => Seen::Unknown,
        };
        match seen {
            Seen::Row(row) => Ok(Some(row)),
            Seen::Absent => Ok(None),
            Seen::Unknown => match self.store()? {
                Some(s) => s.get(table, key, snapshot),
                None => Ok(None),
            },
        }
    }

    /// The latest committed version of `key` if it is live (whatever any
    /// snapshot sees), with the commit that created it.
    pub fn latest(&self, table: Oid, key: &RowKey) -> PgResult<Option<(Lsn, Row)>> {
        if let Some(latest) = self.table(table).and_then(|t| t.read().latest(key)) {
            return Ok(latest);
        }
        match self.store()? {
            Some(s) => s.latest(table, key),
            None => Ok(None),
        }
    }

    /// [`Heap::latest`] when a version of `key` may have been committed
    /// after `snapshot`; `None` when none was, known without reading the
    /// store: the recent heap has no version of it, and the store no commit
    /// after `snapshot` (a version leaves the recent heap only after the
    /// store's applied position covers it).
    pub fn latest_since(
        &self,
        table: Oid,
        key: &RowKey,
        snapshot: Lsn,
    ) -> PgResult<Option<Option<(Lsn, Row)>>> {
        if let Some(latest) = self.table(table).and_then(|t| t.read().latest(key)) {
            return Ok(Some(latest));
        }
        match self.store()? {
            Some(s) if s.applied_lsn() <= snapshot => Ok(None),
            Some(s) => s.latest(table, key).map(Some),
            None => Ok(Some(None)),
        }
    }

    /// Copies rows of `table` visible at `snapshot` with keys after `from`
    /// into `out`, in key order, merging the recent heap over the store (about
    /// `limit` keys looked at per call); returns the key to resume after when
    /// there may be more (it need not be the last row copied).
    pub fn visible_batch(
        &self,
        table: Oid,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<(RowKey, Row)>,
    ) -> PgResult<Option<RowKey>> {
        let limit = limit.max(1);
        // the recent heap first (see `get`)
        let mut recent = Vec::new();
        let recent_more = match self.table(table) {
            Some(t) => t.read().seen_batch(from, snapshot, limit, &mut recent),
            None => false,
        };
        // the store's rows after `from`, `limit` more than `into` holds
        let store = self.store()?;
        let from_store = |into: &mut Vec<(RowKey, Row)>| match &store {
            Some(s) => s.visible_batch(table, from, snapshot, into.len() + limit, into),
            None => Ok(false),
        };
        if recent.is_empty() && !recent_more {
            // nothing recent in the range: the store's rows as they come
            let start = out.len();
            let more = from_store(out)?;
            return Ok(more
                .then(|| out[start..].last().map(|(k, _)| k.clone()))
                .flatten());
        }
        let mut stored = Vec::new();
        let store_more = from_store(&mut stored)?;
        // Merge up to the first key either side may have more after.
        let recent_upper = recent_more
            .then(|| recent.last().map(|(k, _)| k.clone()))
            .flatten();
        let store_upper = store_more
            .then(|| stored.last().map(|(k, _)| k.clone()))
            .flatten();
        let upper = match (recent_upper, store_upper) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let below = |k: &RowKey| upper.as_ref().is_none_or(|u| k <= u);
        let mut recent = recent.into_iter().filter(|(k, _)| below(k)).peekable();
        let mut stored = stored.into_iter().filter(|(k, _)| below(k)).peekable();
        loop {
            let take_recent = match (recent.peek(), stored.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) => a <= b,
            };
            if take_recent {
                let Some((key, seen)) = recent.next() else {
                    break;
                };
                if stored.peek().is_some_and(|(k, _)| *k == key) {
                    stored.next();
                }
                if let Seen::Row(row) = seen {
                    out.push((key, row));
                }
            } else if let Some(pair) = stored.next() {
                out.push(pair);
            }
        }
        Ok(upper)
    }

    /// Copies the rows (not their keys) of `table` visible at `snapshot` among
    /// the keys after `from` into `out`; returns the last key looked at when
    /// there are more (a bulk read: ADD PRIMARY KEY).
    pub fn visible_rows(
        &self,
        table: Oid,
        from: Bound<&RowKey>,
        snapshot: Lsn,
        limit: usize,
        out: &mut Vec<Row>,
    ) -> PgResult<Option<RowKey>> {
        let mut batch = Vec::with_capacity(limit);
        let resume = self.visible_batch(table, from, snapshot, limit, &mut batch)?;
        out.extend(batch.into_iter().map(|(_, row)| row));
        Ok(resume)
    }

    /// Applies a committed transaction's row changes, in order, with commit
    /// stamp `commit`; the recent heap keeps copies of their keys and shares
    /// their rows. A run of
    /// inserts into one table takes the table's lock once. Changes that
    /// replace a table's storage (TRUNCATE, ADD PRIMARY KEY, DROP TABLE) are
    /// not for this path: the table store takes them before they are visible
    /// (`Database::apply_committed`), and [`Heap::forget_table`] follows.
    pub fn apply_changes(&self, changes: &[Change], commit: Lsn) {
        let mut changes = changes.iter().peekable();
        while let Some(change) = changes.next() {
            let Change::Insert { table, key, row } = change else {
                self.apply_change(change, commit);
                continue;
            };
            let mut run = vec![(key.clone(), row.clone())];
            while let Some(Change::Insert { key, row, .. }) =
                changes.next_if(|c| matches!(c, Change::Insert { table: t, .. } if t == table))
            {
                run.push((key.clone(), row.clone()));
            }
            self.table_or_create(*table).write().put_run(run, commit);
        }
    }

    /// One row change (see [`Heap::apply_changes`]). Called only under the
    /// commit mutex (or by the single redo thread).
    fn apply_change(&self, change: &Change, commit: Lsn) {
        match change {
            Change::Insert { table, key, row } => {
                self.table_or_create(*table)
                    .write()
                    .put(key.clone(), row.clone(), commit);
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
                t.put(key.clone(), row.clone(), commit);
            }
            Change::Delete { table, key, .. } => {
                self.table_or_create(*table).write().delete(key, commit);
            }
            Change::Truncate { .. } | Change::Catalog(_) => {}
        }
    }

    /// Forgets every recent version of `table` (the table store holds them all:
    /// its storage was just replaced, or it was dropped).
    pub fn forget_table(&self, table: Oid) {
        self.tables.write().remove(&table);
    }

    /// Forgets the recent versions of `keys` of `table` the table store holds
    /// (commits up to `applied`); called by the applier once it wrote them.
    pub fn forget_written<'a>(
        &self,
        table: Oid,
        keys: impl Iterator<Item = &'a RowKey>,
        applied: Lsn,
    ) {
        let Some(t) = self.table(table) else {
            return;
        };
        // in chunks, so that readers of the table never wait long
        let mut keys = keys.peekable();
        while keys.peek().is_some() {
            let mut t = t.write();
            for key in keys.by_ref().take(RECENT_BATCH) {
                t.forget_through(key, applied);
            }
        }
    }

    /// [`Heap::forget_written`] for every key `table` has here (after a
    /// commit too large to keep its keys for this: the applier's parts).
    pub fn forget_table_through(&self, table: Oid, applied: Lsn) {
        let Some(t) = self.table(table) else {
            return;
        };
        let mut from: Option<RowKey> = None;
        loop {
            let mut t = t.write();
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            let mut keys: Vec<RowKey> = t
                .rows
                .range::<RowKey, _>((lower, Bound::Unbounded))
                .take(RECENT_BATCH)
                .map(|(k, _)| k.clone())
                .collect();
            for key in &keys {
                t.forget_through(key, applied);
            }
            if keys.len() < RECENT_BATCH {
                return;
            }
            from = keys.pop();
        }
    }

    /// Forgets the heaps of tables with no recent versions left.
    pub fn sweep(&self) {
        self.tables.write().retain(|_, t| t.read().key_count() > 0);
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
        RowKey::from(vec![b])
    }
    const T: Oid = Oid(16384);

    fn update(key: RowKey, v: i32) -> Change {
        Change::Update {
            table: T,
            old_key: key.clone(),
            key,
            row: row(v),
            old: OldTuple::None,
        }
    }

    fn delete(key: RowKey) -> Change {
        Change::Delete {
            table: T,
            key,
            old: OldTuple::None,
        }
    }

    fn insert(key: RowKey, v: i32) -> Change {
        Change::Insert {
            table: T,
            key,
            row: row(v),
        }
    }

    fn seen(heap: &Heap, key: &RowKey, at: u64) -> Seen {
        heap.table(T).unwrap().read().seen(key, Lsn(at))
    }

    #[test]
    fn versions_are_visible_between_their_commit_stamps() {
        let heap = Heap::default();
        heap.apply_changes(&[insert(k(1), 1)], Lsn(100));
        heap.apply_changes(&[update(k(1), 2)], Lsn(200));
        heap.apply_changes(&[delete(k(1))], Lsn(300));
        assert_eq!(seen(&heap, &k(1), 99), Seen::Unknown);
        assert_eq!(seen(&heap, &k(1), 100), Seen::Row(row(1)));
        assert_eq!(seen(&heap, &k(1), 250), Seen::Row(row(2)));
        assert_eq!(seen(&heap, &k(1), 300), Seen::Absent);
        assert_eq!(heap.latest(T, &k(1)).unwrap(), None);
    }

    #[test]
    fn a_delete_of_a_row_only_the_store_has_leaves_a_tombstone() {
        let heap = Heap::default();
        heap.apply_changes(&[delete(k(1))], Lsn(100));
        assert_eq!(seen(&heap, &k(1), 99), Seen::Unknown);
        assert_eq!(seen(&heap, &k(1), 100), Seen::Absent);
        // an update and a delete in one commit over a stored row
        heap.apply_changes(&[update(k(2), 5), delete(k(2))], Lsn(200));
        assert_eq!(seen(&heap, &k(2), 199), Seen::Unknown);
        assert_eq!(seen(&heap, &k(2), 200), Seen::Absent);
        // an update over a stored row, then its delete by a later commit
        heap.apply_changes(&[update(k(3), 5)], Lsn(300));
        heap.apply_changes(&[delete(k(3))], Lsn(400));
        assert_eq!(seen(&heap, &k(3), 299), Seen::Unknown);
        assert_eq!(seen(&heap, &k(3), 300), Seen::Row(row(5)));
        assert_eq!(seen(&heap, &k(3), 400), Seen::Absent);
    }

    #[test]
    fn versions_go_once_the_store_holds_their_creation_and_end() {
        let heap = Heap::default();
        heap.apply_changes(&[insert(k(1), 1)], Lsn(100));
        heap.apply_changes(&[update(k(1), 2)], Lsn(200));
        heap.apply_changes(&[delete(k(2))], Lsn(200));
        let t = heap.table(T).unwrap();
        // the store has commit 100 only: version 1 ends at 200, it stays
        heap.forget_written(T, [k(1), k(2)].iter(), Lsn(150));
        assert_eq!(t.read().versions(), 3);
        // the store has 200: everything goes
        heap.forget_written(T, [k(1), k(2)].iter(), Lsn(200));
        assert_eq!(t.read().key_count(), 0);
        assert_eq!(seen(&heap, &k(1), 250), Seen::Unknown);
        heap.sweep();
        assert!(heap.table(T).is_none());
    }

    #[test]
    fn a_live_version_goes_and_later_ones_stay() {
        let heap = Heap::default();
        heap.apply_changes(&[insert(k(1), 1)], Lsn(100));
        heap.apply_changes(&[update(k(1), 2)], Lsn(200));
        heap.forget_written(T, [k(1)].iter(), Lsn(200));
        assert!(heap.table(T).unwrap().read().latest(&k(1)).is_none());
        heap.apply_changes(&[update(k(1), 3)], Lsn(300));
        heap.apply_changes(&[update(k(1), 4)], Lsn(400));
        heap.forget_written(T, [k(1)].iter(), Lsn(300));
        // version 3 ends at 400, which the store does not have
        assert_eq!(heap.table(T).unwrap().read().versions(), 2);
        assert_eq!(heap.latest(T, &k(1)).unwrap(), Some((Lsn(400), row(4))));
    }

    #[test]
    fn batches_resume_after_the_last_key() {
        let heap = Heap::default();
        let run: Vec<Change> = (0..10).map(|i| insert(k(i), i as i32)).collect();
        heap.apply_changes(&run, Lsn(100));
        heap.apply_changes(&[delete(k(3))], Lsn(200));
        let mut out = Vec::new();
        let mut from: Option<RowKey> = None;
        loop {
            let lower = from.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            from = heap.visible_batch(T, lower, Lsn(200), 4, &mut out).unwrap();
            if from.is_none() {
                break;
            }
        }
        let keys: Vec<u8> = out.iter().map(|(k, _)| k.0[0]).collect();
        assert_eq!(keys, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
        let mut rows = Vec::new();
        assert_eq!(
            heap.visible_rows(T, Bound::Unbounded, Lsn(150), 100, &mut rows)
                .unwrap(),
            None
        );
        assert_eq!(rows.len(), 10);
    }
}
