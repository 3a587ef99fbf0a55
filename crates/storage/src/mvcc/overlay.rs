//! One table's private write set inside a transaction: key -> new row, or
//! `None` for a deletion (what the transaction's own reads merge over the heap).
//!
//! A bulk load writes keys in ascending order (hidden row ids come from a
//! rising counter; COPY input is often in key order). Such writes are appended
//! to `tail`, a sorted vector whose keys all follow the map's, instead of being
//! searched into the map one by one. Any other write first moves the tail into
//! the map. Reads look in both: a key at or after the tail's first key can only
//! be in the tail, and a range is the map's part followed by the tail's.
//! No PostgreSQL counterpart: PostgreSQL writes a transaction's rows into the
//! shared heap at once, marked with its xid.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::heap::Row;
use crate::RowKey;

/// Below this ratio of map to tail size, moving the tail into the map inserts
/// key by key; above it, merges both into a new tree at once.
const MERGE_BY_INSERT_RATIO: usize = 16;

#[derive(Clone, Default)]
pub(crate) struct OverlayRows {
    map: BTreeMap<RowKey, Option<Row>>,
    /// Strictly ascending, every key after every key of `map`.
    tail: Vec<(RowKey, Option<Row>)>,
}

impl OverlayRows {
    /// Rows already in strictly ascending key order (ADD PRIMARY KEY's sorted,
    /// duplicate-free rows).
    pub(crate) fn from_sorted(rows: Vec<(RowKey, Option<Row>)>) -> OverlayRows {
        debug_assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
        OverlayRows {
            map: BTreeMap::new(),
            tail: rows,
        }
    }

    fn in_tail(&self, key: &RowKey) -> bool {
        self.tail.first().is_some_and(|(first, _)| key >= first)
    }

    /// Forgets every entry at or after `key` (a bulk load's run of inserts,
    /// moved to the table store).
    pub(crate) fn remove_from(&mut self, key: &RowKey) {
        let keep = self.tail.partition_point(|(k, _)| k < key);
        self.tail.truncate(keep);
        if self.tail.is_empty() {
            // every key of the map is below the tail's; with no tail, the
            // map may hold keys at or after `key`
            drop(self.map.split_off(key));
        }
    }

    pub(crate) fn get(&self, key: &RowKey) -> Option<&Option<Row>> {
        // after every key (the next of rising keys): nothing to search
        if self.tail.last().is_some_and(|(last, _)| key > last) {
            return None;
        }
        if self.in_tail(key) {
            let i = self.tail.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
            return Some(&self.tail[i].1);
        }
        self.map.get(key)
    }

    pub(crate) fn insert(&mut self, key: RowKey, entry: Option<Row>) {
        let after_all = match self.tail.last() {
            Some((last, _)) => key > *last,
            None => self
                .map
                .last_key_value()
                .is_none_or(|(last, _)| key > *last),
        };
        if after_all {
            self.tail.push((key, entry));
            return;
        }
        if self.in_tail(&key) {
            if let Ok(i) = self.tail.binary_search_by(|(k, _)| k.cmp(&key)) {
                self.tail[i].1 = entry;
                return;
            }
            self.merge_tail();
        }
        self.map.insert(key, entry);
    }

    /// Moves the tail into the map.
    fn merge_tail(&mut self) {
        let tail = std::mem::take(&mut self.tail);
        if tail.len() * MERGE_BY_INSERT_RATIO < self.map.len() {
            self.map.extend(tail);
        } else {
            // Sorted input: built bottom-up, then merged in one pass.
            let mut tail: BTreeMap<RowKey, Option<Row>> = tail.into_iter().collect();
            self.map.append(&mut tail);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.tail.clear();
    }

    /// Entries with keys in `(lower, upper)`, in key order.
    pub(crate) fn range(
        &self,
        lower: Bound<RowKey>,
        upper: Bound<RowKey>,
    ) -> impl Iterator<Item = (&RowKey, &Option<Row>)> {
        let start = match &lower {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.tail.partition_point(|(x, _)| x < k),
            Bound::Excluded(k) => self.tail.partition_point(|(x, _)| x <= k),
        };
        let end = match &upper {
            Bound::Unbounded => self.tail.len(),
            Bound::Included(k) => self.tail.partition_point(|(x, _)| x <= k),
            Bound::Excluded(k) => self.tail.partition_point(|(x, _)| x < k),
        };
        let tail = &self.tail[start.min(end)..end];
        self.map
            .range((lower, upper))
            .chain(tail.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_types::Value;

    fn k(b: u8) -> RowKey {
        RowKey::from(vec![b])
    }
    fn r(v: i32) -> Option<Row> {
        Some(vec![Value::Int4(v)].into())
    }

    /// The overlay against a plain map, through appends, inserts inside and
    /// before the tail, overwrites, deletions and ranges.
    #[test]
    fn reads_as_a_map_does() {
        let mut o = OverlayRows::default();
        let mut m: BTreeMap<RowKey, Option<Row>> = BTreeMap::new();
        let writes: Vec<(u8, Option<Row>)> = vec![
            (10, r(1)),
            (20, r(2)),
            (30, r(3)),
            (20, None), // overwrite inside the tail
            (25, r(4)), // new key inside the tail: merge
            (40, r(5)), // append after the map
            (5, r(6)),  // before everything
            (50, r(7)), // append
            (45, r(8)), // inside the new tail
            (60, None), // append a deletion
            (30, r(9)), // overwrite in the map
        ];
        for (key, entry) in writes {
            o.insert(k(key), entry.clone());
            m.insert(k(key), entry);
            for probe in 0..70u8 {
                assert_eq!(o.get(&k(probe)), m.get(&k(probe)), "get {probe}");
            }
            let bounds = [
                Bound::Unbounded,
                Bound::Included(k(20)),
                Bound::Excluded(k(20)),
                Bound::Included(k(45)),
                Bound::Excluded(k(50)),
            ];
            for lo in &bounds {
                for hi in &bounds {
                    let ok = match (lo, hi) {
                        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b))
                        | (Bound::Included(a), Bound::Excluded(b)) => a <= b,
                        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
                        _ => true,
                    };
                    if !ok {
                        continue;
                    }
                    let got: Vec<_> = o.range(lo.clone(), hi.clone()).collect();
                    let want: Vec<_> = m.range((lo.clone(), hi.clone())).collect();
                    assert_eq!(got, want);
                }
            }
        }
        let sorted = OverlayRows::from_sorted(vec![(k(1), r(1)), (k(2), None)]);
        assert_eq!(sorted.get(&k(2)), Some(&None));
        assert_eq!(sorted.range(Bound::Unbounded, Bound::Unbounded).count(), 2);
    }
}
