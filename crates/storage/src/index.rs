//! Secondary index entries: their keys, and the key bounds of an index scan.
//!
//! A secondary index ([`IndexDef`]) is a hidden relation with the index's oid.
//! Each live row of the table has one entry in it: the key is the indexed
//! values in memcomparable form ([`crate::keycode`]) followed, unless the entry
//! must be unique, by the row's own key; the entry's row is one `bytea`, the
//! row's key. Entries are written by the transaction that writes the row
//! (`mvcc/txn/index.rs`), as ordinary changes of the index relation: the WAL,
//! the recent heap, the table store, checkpoints, standbys and MVCC treat
//! them like any row, and logical decoding skips them (the index is not a
//! table of the catalog). An entry that must be unique (a UNIQUE index, no
//! NULL among its values: NULLs are distinct, as in PostgreSQL) is keyed by
//! the values alone, so that two rows with the same values collide on one
//! key, and its row lock is the uniqueness lock, as a primary key's is.
//!
//! Read `docs/storage.md` §15 for the design; the planner's use is in the
//! query crate (`exec/scan.rs`).

use std::ops::Bound;

use tandem_types::Value;

use crate::keycode::{encode_key, encode_key_into};
use crate::{IndexDef, KeyBytes, RowKey};

/// Marker bytes of an encoded value (`keycode.rs`): non-null values sort
/// before NULLs.
const NON_NULL: u8 = 0x01;
const NULL: u8 = 0x02;

/// The indexed values of `row`, in index column order.
pub fn entry_values(idx: &IndexDef, row: &[Value]) -> Vec<Value> {
    idx.columns
        .iter()
        .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
        .collect()
}

/// Whether an entry of these values must be the only one: a unique index,
/// no NULL among them.
pub fn is_unique_entry(idx: &IndexDef, values: &[Value]) -> bool {
    idx.unique && values.iter().all(|v| !v.is_null())
}

/// The key of the entry of the row at `rowkey` with indexed `values`.
pub fn entry_key(idx: &IndexDef, values: &[Value], rowkey: &RowKey) -> RowKey {
    let mut key = KeyBytes::new();
    encode_key_into(values, &mut key);
    if !is_unique_entry(idx, values) {
        key.extend_from_slice(&rowkey.0);
    }
    RowKey(key)
}

/// An entry's row: the key of the table row it stands for.
pub fn entry_row(rowkey: &RowKey) -> Vec<Value> {
    vec![Value::Bytea(rowkey.0.to_vec())]
}

/// The table row key an entry's row holds.
pub fn entry_rowkey(row: &[Value]) -> Option<RowKey> {
    match row.first() {
        Some(Value::Bytea(b)) => Some(RowKey::new(b)),
        _ => None,
    }
}

/// Which entries an index scan visits: those whose leading columns equal
/// `prefix` and, when `range` is set, whose next column lies within it
/// (never NULL there: no range bound is met by NULL). Values must have the
/// indexed columns' types (the planner casts them first).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexScan {
    pub prefix: Vec<Value>,
    pub range: Option<(Bound<Value>, Bound<Value>)>,
}

/// [`IndexScan`] in key bytes: where to start, and how to tell an entry
/// past the end or to be skipped.
pub(crate) struct KeyBounds {
    pub start: RowKey,
    /// Entries with this prefix are skipped (an excluded lower bound).
    skip: Option<RowKey>,
    end: End,
}

enum End {
    /// Past once the key no longer starts with it.
    Prefix(RowKey),
    /// Past at this key and after (`true`: the key itself is inside, and
    /// so is every key it is a prefix of).
    At(RowKey, bool),
}

/// Keys with `prefix` then `byte`.
fn with_byte(prefix: &RowKey, byte: u8) -> RowKey {
    let mut k = prefix.0.clone();
    k.push(byte);
    RowKey(k)
}

fn with_value(prefix: &RowKey, v: &Value) -> RowKey {
    let mut k = prefix.0.clone();
    encode_key_into(std::slice::from_ref(v), &mut k);
    RowKey(k)
}

impl KeyBounds {
    pub fn of(scan: &IndexScan) -> KeyBounds {
        let prefix = encode_key(&scan.prefix);
        let Some((lower, upper)) = &scan.range else {
            return KeyBounds {
                start: prefix.clone(),
                skip: None,
                end: End::Prefix(prefix),
            };
        };
        let (start, skip) = match lower {
            Bound::Included(v) => (with_value(&prefix, v), None),
            Bound::Excluded(v) => {
                let k = with_value(&prefix, v);
                (k.clone(), Some(k))
            }
            Bound::Unbounded => (with_byte(&prefix, NON_NULL), None),
        };
        let end = match upper {
            Bound::Included(v) => End::At(with_value(&prefix, v), true),
            Bound::Excluded(v) => End::At(with_value(&prefix, v), false),
            Bound::Unbounded => End::At(with_byte(&prefix, NULL), false),
        };
        KeyBounds { start, skip, end }
    }

    /// Whether `key` and every key after it are outside the scan.
    pub fn past(&self, key: &RowKey) -> bool {
        match &self.end {
            End::Prefix(p) => !key.0.starts_with(&p.0),
            End::At(k, inclusive) => {
                if *inclusive && key.0.starts_with(&k.0) {
                    return false;
                }
                key >= k
            }
        }
    }

    /// Whether `key` (not past) is to be skipped.
    pub fn skips(&self, key: &RowKey) -> bool {
        self.skip.as_ref().is_some_and(|s| key.0.starts_with(&s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycode::rowid_key;
    use tandem_types::Oid;

    fn idx(unique: bool) -> IndexDef {
        IndexDef {
            oid: Oid(16390),
            name: "t_a_idx".into(),
            table: Oid(16384),
            columns: vec![1],
            unique,
            constraint: false,
        }
    }

    fn key(unique: bool, v: Value, rowid: u64) -> RowKey {
        entry_key(&idx(unique), &[v], &rowid_key(rowid))
    }

    #[test]
    fn unique_entries_collide_and_nulls_do_not() {
        assert_eq!(
            key(true, Value::Int4(1), 1),
            key(true, Value::Int4(1), 2),
            "same values, one key"
        );
        assert_ne!(key(true, Value::Null, 1), key(true, Value::Null, 2));
        assert_ne!(key(false, Value::Int4(1), 1), key(false, Value::Int4(1), 2));
        let row = entry_row(&rowid_key(7));
        assert_eq!(entry_rowkey(&row), Some(rowid_key(7)));
    }

    #[test]
    fn bounds_select_the_entries_of_the_scan() {
        let keys: Vec<RowKey> = [
            Value::Int4(1),
            Value::Int4(2),
            Value::Int4(2),
            Value::Int4(3),
            Value::Null,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, v)| key(false, v, i as u64))
        .collect();
        let visit = |scan: IndexScan| -> Vec<usize> {
            let b = KeyBounds::of(&scan);
            let mut sorted: Vec<(usize, &RowKey)> = keys.iter().enumerate().collect();
            sorted.sort_by(|a, b| a.1.cmp(b.1));
            sorted
                .into_iter()
                .filter(|(_, k)| **k >= b.start)
                .take_while(|(_, k)| !b.past(k))
                .filter(|(_, k)| !b.skips(k))
                .map(|(i, _)| i)
                .collect()
        };
        let eq = |v| IndexScan {
            prefix: vec![v],
            range: None,
        };
        assert_eq!(visit(eq(Value::Int4(2))), vec![1, 2]);
        assert_eq!(visit(eq(Value::Int4(4))), Vec::<usize>::new());
        let range = |lo, hi| IndexScan {
            prefix: vec![],
            range: Some((lo, hi)),
        };
        use Bound::*;
        assert_eq!(
            visit(range(Excluded(Value::Int4(1)), Unbounded)),
            vec![1, 2, 3]
        );
        assert_eq!(
            visit(range(Unbounded, Included(Value::Int4(2)))),
            vec![0, 1, 2]
        );
        assert_eq!(visit(range(Unbounded, Excluded(Value::Int4(2)))), vec![0]);
        assert_eq!(visit(range(Unbounded, Unbounded)), vec![0, 1, 2, 3]);
        assert_eq!(
            visit(range(Included(Value::Int4(2)), Excluded(Value::Int4(3)))),
            vec![1, 2]
        );
    }
}
