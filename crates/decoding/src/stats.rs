//! What decoding a transaction counts in `pg_stat_replication_slots`:
//! whether it counts as a transaction (`total_txns`) and how many bytes its
//! changes are (`total_bytes`).
//!
//! PostgreSQL adds, for every transaction its reorder buffer replays, the
//! memory size of the transaction's changes (`ReorderBufferChangeSize`): the
//! change struct (80 bytes on 64-bit builds) plus, for a row change, a
//! `HeapTupleData` (24 bytes) and the tuple's length for each of the old and
//! new row images, for a message its prefix and content, for a TRUNCATE an
//! OID per table. tandem has no reorder buffer and keeps rows in its own
//! format, so it computes the same sum from the decoded change: the length of
//! the heap tuple PostgreSQL would have built for the row (header, null
//! bitmap, each value in its on-disk size and alignment, short varlena
//! headers for short text). It is exact for fixed-width and short text
//! columns; long values (PostgreSQL may compress or TOAST them) and numerics
//! are approximations. PostgreSQL also counts the internal changes of
//! catalog-changing transactions (invalidations, command ids), which tandem
//! does not decode: a DDL transaction counts as a transaction with 0 bytes.
//!
//! Corresponds to PostgreSQL's `ReorderBufferChangeSize` and the
//! `totalTxns`/`totalBytes` accounting of `ReorderBufferProcessTXN`
//! (`replication/logical/reorderbuffer.c`).

use tandem_types::Value;

use crate::{DecodedChange, DecodedTxn, OldRow};

/// `sizeof(ReorderBufferChange)`.
const CHANGE: u64 = 80;
/// `sizeof(HeapTupleData)`.
const HEAP_TUPLE_DATA: u64 = 24;
/// `SizeofHeapTupleHeader`.
const TUPLE_HEADER: u64 = 23;
/// `MAXIMUM_ALIGNOF`.
const MAXALIGN: u64 = 8;

/// Whether decoding a transaction counts as a transaction: PostgreSQL replays
/// (and counts) only transactions that queued a change (`had_changes`: in any
/// of its parts), catalog changes included.
pub fn counts_as_transaction(had_changes: bool, has_catalog_changes: bool) -> bool {
    had_changes || has_catalog_changes
}

/// The bytes decoding `txn` adds to `total_bytes`.
pub fn transaction_bytes(txn: &DecodedTxn) -> u64 {
    txn.changes.iter().map(|(_, c)| change_size(c)).sum()
}

/// `ReorderBufferChangeSize` of one change.
pub fn change_size(change: &DecodedChange) -> u64 {
    let tuple = |values: &[Value]| HEAP_TUPLE_DATA + tuple_len(values);
    let old = |o: &Option<OldRow>| match o {
        Some(OldRow::Key(v)) | Some(OldRow::Full(v)) => tuple(v),
        None => 0,
    };
    CHANGE
        + match change {
            DecodedChange::Insert { new, .. } => tuple(new),
            DecodedChange::Update { old: o, new, .. } => old(o) + tuple(new),
            DecodedChange::Delete { old: o, .. } => old(o),
            DecodedChange::Truncate { rels, .. } => 4 * rels.len() as u64,
            // prefix with its terminator, content, and two length words
            DecodedChange::Message { prefix, content } => {
                prefix.len() as u64 + 1 + content.len() as u64 + 16
            }
        }
}

fn align(off: u64, to: u64) -> u64 {
    off.div_ceil(to) * to
}

/// `t_len` of the heap tuple PostgreSQL forms for `values` (NULL for a
/// missing or dropped column): the header with its null bitmap, aligned,
/// then each value aligned by its type.
pub fn tuple_len(values: &[Value]) -> u64 {
    let has_null = values.iter().any(Value::is_null);
    let bitmap = if has_null {
        (values.len() as u64).div_ceil(8)
    } else {
        0
    };
    let mut off = align(TUPLE_HEADER + bitmap, MAXALIGN);
    for v in values {
        off = value_end(off, v);
    }
    off
}

/// Where the value ends when stored at `off` (after its alignment).
fn value_end(off: u64, v: &Value) -> u64 {
    let fixed = |size: u64, al: u64| align(off, al) + size;
    match v {
        Value::Null => off,
        Value::Bool(_) | Value::Char(_) => fixed(1, 1),
        Value::Int2(_) => fixed(2, 2),
        // an enum label is stored as its pg_enum OID
        Value::Int4(_)
        | Value::Float4(_)
        | Value::Date(_)
        | Value::Oid(_)
        | Value::Xid(_)
        | Value::Enum(..) => fixed(4, 4),
        Value::Int8(_)
        | Value::Float8(_)
        | Value::Timestamp(_)
        | Value::TimestampTz(_)
        | Value::Time(_)
        | Value::PgLsn(_) => fixed(8, 8),
        Value::Interval(..) => fixed(16, 8),
        Value::Text(s) => varlena(off, s.len() as u64),
        Value::Bytea(b) => varlena(off, b.len() as u64),
        Value::Numeric(d) => varlena(off, 2 + 2 * numeric_digits(&d.to_string())),
        // a header word and no digits
        Value::NumericSpecial(_) => varlena(off, 2),
        Value::Array(items) | Value::Record(items) => {
            // header, dimensions, then the elements as a tuple body would hold them
            let body = items.iter().fold(0, value_end);
            varlena(off, 20 + body)
        }
    }
}

/// A varlena of `len` data bytes: a 1-byte header and no alignment when it
/// fits a short varlena, else a 4-byte header aligned to 4.
fn varlena(off: u64, len: u64) -> u64 {
    if len < 127 {
        off + 1 + len
    } else {
        align(off, 4) + 4 + len
    }
}

/// Base-10000 digits of a numeric written in decimal (`-12.5000` -> 2).
fn numeric_digits(text: &str) -> u64 {
    let t = text.trim_start_matches('-');
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    // all-zero groups right after the point are not stored when nothing
    // precedes them
    let skipped = if int.is_empty() {
        (frac.len() - frac.trim_start_matches('0').len()) as u64 / 4
    } else {
        0
    };
    (int.len() as u64).div_ceil(4) + (frac.len() as u64).div_ceil(4) - skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_lengths_follow_heap_tuple_layout() {
        // header 23 -> 24, int4 at 24..28
        assert_eq!(tuple_len(&[Value::Int4(1)]), 28);
        // int4, then int8 aligned to 32
        assert_eq!(tuple_len(&[Value::Int4(1), Value::Int8(2)]), 40);
        // int4, short text "abc" (1 + 3 bytes, unaligned)
        assert_eq!(tuple_len(&[Value::Int4(1), Value::Text("abc".into())]), 32);
        // a NULL adds the bitmap byte (23 + 1 = 24 still)
        assert_eq!(tuple_len(&[Value::Int4(1), Value::Null]), 28);
        // 9 columns with a NULL: a 2-byte bitmap, header 25 -> 32
        let mut v = vec![Value::Null];
        v.extend(std::iter::repeat_n(Value::Int2(1), 8));
        assert_eq!(tuple_len(&v), 32 + 16);
    }

    #[test]
    fn long_text_gets_a_four_byte_header() {
        let s = "x".repeat(200);
        // int2 at 24..26, text header aligned to 28, 4 + 200 bytes
        assert_eq!(tuple_len(&[Value::Int2(1), Value::Text(s)]), 232);
    }

    #[test]
    fn numerics_count_base_10000_digits() {
        assert_eq!(numeric_digits("0"), 0);
        assert_eq!(numeric_digits("12345"), 2);
        assert_eq!(numeric_digits("-12.5000"), 2);
        assert_eq!(numeric_digits("0.00001"), 1);
        assert_eq!(numeric_digits("1.00001"), 3);
    }
}
