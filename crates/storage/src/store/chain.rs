//! The table store's byte layouts: the key of a row, the encoded version chain
//! stored under it, and the metadata keys.
//!
//! ```text
//! key   = storage id (u32 big-endian) ++ RowKey bytes
//! value = n u32 ++ n * (created u64, deleted u64, row: u32 length ++ row values)
//!
//! 0u32 ++ "applied_lsn"         -> u64            where WAL replay resumes
//! 0u32 ++ "next_storage"        -> u32            the next storage id to hand out
//! 0u32 ++ "table/"   ++ oid BE  -> storage id u32 a table's current range
//! 0u32 ++ "retired/" ++ sid BE  -> oid u32, lsn u64  a range TRUNCATE, re-keying
//!                                                     or DROP left at that LSN
//! ```
//! A table's rows live under a storage id, as a PostgreSQL table's under its
//! relfilenode: TRUNCATE and ADD PRIMARY KEY give the table a new, empty range
//! and retire the old one whole instead of rewriting its keys. Storage id 0 is
//! never a range: keys under it hold the store's metadata (in a keyspace of
//! their own, `meta`, beside the rows' `heap`). The id is big-endian
//! so that one range is one contiguous key range, in `RowKey` order. Integers in
//! the value are little-endian (`codec.rs`), the row is the WAL's row encoding
//! (`Writer::values`). The chain rules themselves are `heap.rs`'s; this file
//! only turns chains into bytes and back.

use tandem_types::{Lsn, Oid, PgResult};

use crate::codec::{corrupt, Reader, Writer};
use crate::heap::{Row, Version};
use crate::RowKey;

/// Names the store in "invalid ... data" errors.
pub(super) const WHAT: &str = "table store";

/// The metadata key holding the LSN up to which commits were applied.
pub(super) const APPLIED_LSN_KEY: &[u8] = b"\0\0\0\0applied_lsn";
/// The metadata key holding the next storage id to hand out.
pub(super) const NEXT_STORAGE_KEY: &[u8] = b"\0\0\0\0next_storage";
/// Prefix of the keys mapping a table oid to its current storage id.
pub(super) const TABLE_PREFIX: &[u8] = b"\0\0\0\0table/";
/// Prefix of the keys naming a retired storage id.
pub(super) const RETIRED_PREFIX: &[u8] = b"\0\0\0\0retired/";
/// The first storage id handed out.
pub(super) const FIRST_STORAGE: u32 = 1;

/// The metadata key of `prefix` ++ a big-endian u32.
pub(super) fn meta_key(prefix: &[u8], id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 4);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The u32 after `prefix` in a metadata key.
pub(super) fn meta_id(prefix: &[u8], key: &[u8]) -> PgResult<u32> {
    let rest = key.strip_prefix(prefix).ok_or_else(|| corrupt(WHAT))?;
    let b: [u8; 4] = rest.try_into().map_err(|_| corrupt(WHAT))?;
    Ok(u32::from_be_bytes(b))
}

/// A little-endian u32 value.
pub(super) fn u32_value(bytes: &[u8]) -> PgResult<u32> {
    let b: [u8; 4] = bytes.try_into().map_err(|_| corrupt(WHAT))?;
    Ok(u32::from_le_bytes(b))
}

/// The value of a retired range: the table it belonged to and the LSN of the
/// commit that retired it.
pub(super) fn encode_retired(oid: Oid, at: Lsn) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.extend_from_slice(&oid.0.to_le_bytes());
    v.extend_from_slice(&at.0.to_le_bytes());
    v
}

pub(super) fn decode_retired(bytes: &[u8]) -> PgResult<(Oid, Lsn)> {
    let (oid, lsn) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt(WHAT))?;
    let lsn: [u8; 8] = lsn.try_into().map_err(|_| corrupt(WHAT))?;
    Ok((Oid(u32::from_le_bytes(*oid)), Lsn(u64::from_le_bytes(lsn))))
}

/// The store key of `key` in storage range `sid`.
pub(super) fn row_key(sid: u32, key: &RowKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.0.len());
    row_key_into(sid, key, &mut k);
    k
}

/// [`row_key`] into `out` (cleared first).
pub(super) fn row_key_into(sid: u32, key: &RowKey, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&sid.to_be_bytes());
    out.extend_from_slice(&key.0);
}

/// The first store key of range `sid`.
pub(super) fn range_start(sid: u32) -> Vec<u8> {
    sid.to_be_bytes().to_vec()
}

/// The first store key after range `sid`, `None` for the last possible id.
pub(super) fn range_end(sid: u32) -> Option<Vec<u8>> {
    sid.checked_add(1).map(|o| o.to_be_bytes().to_vec())
}

/// Splits a store key into its storage id and row key.
pub(super) fn split_key(key: &[u8]) -> PgResult<(u32, RowKey)> {
    let (sid, rest) = key.split_first_chunk::<4>().ok_or_else(|| corrupt(WHAT))?;
    Ok((u32::from_be_bytes(*sid), RowKey::new(rest)))
}

/// The storage id a store key belongs to (0 for metadata), if it has one.
pub(super) fn key_range(key: &[u8]) -> Option<u32> {
    key.split_first_chunk::<4>()
        .map(|(sid, _)| u32::from_be_bytes(*sid))
}

/// A row in the WAL's row encoding.
#[cfg(test)]
pub(super) fn encode_row(row: &[tandem_types::Value]) -> Vec<u8> {
    let mut w = Writer::new();
    w.values(row);
    w.buf
}

/// Decodes a row: its values go through a buffer the thread keeps, so the
/// row's one allocation is the shared row itself (a scan decodes millions).
pub(super) fn decode_row(bytes: &[u8]) -> PgResult<Row> {
    thread_local! {
        static VALUES: std::cell::RefCell<Vec<tandem_types::Value>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    VALUES.with_borrow_mut(|values| {
        values.clear();
        let mut r = Reader::new(bytes, WHAT);
        r.values_into(values)?;
        if !r.is_empty() {
            return Err(corrupt(WHAT));
        }
        // a draining iterator knows its length: one allocation, values moved
        Ok(values.drain(..).collect())
    })
}

/// The values of `columns` (in that order) of an encoded row of at least
/// `width` values, into `out`, decoding only the values up to the last of
/// them (through `leading`; both buffers are reused from row to row); false
/// for a shorter row (written before an ADD COLUMN: it needs padding).
pub(super) fn key_columns_into(
    bytes: &[u8],
    columns: &[usize],
    width: usize,
    leading: &mut Vec<tandem_types::Value>,
    out: &mut Vec<tandem_types::Value>,
) -> PgResult<bool> {
    let mut r = Reader::new(bytes, WHAT);
    let n = r.u32()? as usize;
    if n < width {
        return Ok(false);
    }
    let upto = columns.iter().max().map_or(0, |&c| c + 1);
    if upto > n {
        return Err(corrupt(WHAT));
    }
    leading.clear();
    for _ in 0..upto {
        leading.push(r.value()?);
    }
    out.clear();
    for &c in columns {
        out.push(leading[c].clone());
    }
    Ok(true)
}

/// [`encode_first_version`] of a row already encoded, appended to `w`
/// with its length first.
pub(super) fn first_version_prefixed(w: &mut Writer, row: &[u8], commit: Lsn) {
    w.u32((4 + 16 + 4 + row.len()) as u32);
    w.u32(1);
    w.lsn(commit);
    w.lsn(Lsn::INVALID);
    w.bytes(row);
}

/// Encodes a chain (oldest version first); rows are already encoded.
pub(super) fn encode_chain(chain: &[Version<&[u8]>]) -> Vec<u8> {
    let mut w = Writer {
        buf: Vec::with_capacity(4 + chain.iter().map(|v| 20 + v.row.len()).sum::<usize>()),
    };
    w.u32(chain.len() as u32);
    for v in chain {
        w.lsn(v.created);
        w.lsn(v.deleted);
        w.bytes(v.row);
    }
    w.buf
}

/// The chain of a key's first version: `row` created at `commit`, live. The
/// same bytes as `encode_chain` of that one version, written in one pass.
pub(super) fn encode_first_version(row: &[tandem_types::Value], commit: Lsn) -> Vec<u8> {
    let mut w = Writer {
        buf: Vec::with_capacity(32 + 16 * row.len()),
    };
    w.u32(1);
    w.lsn(commit);
    w.lsn(Lsn::INVALID);
    let at = w.buf.len();
    w.u32(0);
    w.values(row);
    let len = (w.buf.len() - at - 4) as u32;
    w.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    w.buf
}

/// Decodes a chain; the rows stay encoded, borrowed from `bytes`. Empty input is
/// the empty chain (a key not in the store).
pub(super) fn decode_chain(bytes: &[u8]) -> PgResult<Vec<Version<&[u8]>>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(bytes, WHAT);
    let n = r.u32()? as usize;
    // Each version takes at least 20 bytes: refuse counts the input cannot hold.
    if n > bytes.len() / 20 {
        return Err(corrupt(WHAT));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let created = r.lsn()?;
        let deleted = r.lsn()?;
        let row = r.bytes()?;
        out.push(Version {
            row,
            created,
            deleted,
        });
    }
    if !r.is_empty() {
        return Err(corrupt(WHAT));
    }
    Ok(out)
}

/// The encoded row of the version `snapshot` sees in an encoded chain
/// ([`crate::heap::visible_version`]'s rule: the newest version created at
/// or before it, if not ended by then), read in place with no allocation:
/// what a scan does for every key. Refuses what [`decode_chain`] refuses.
pub(super) fn visible_encoded(bytes: &[u8], snapshot: Lsn) -> PgResult<Option<&[u8]>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let mut r = Reader::new(bytes, WHAT);
    let n = r.u32()? as usize;
    if n > bytes.len() / 20 {
        return Err(corrupt(WHAT));
    }
    let mut newest: Option<Version<&[u8]>> = None;
    for _ in 0..n {
        let created = r.lsn()?;
        let deleted = r.lsn()?;
        let row = r.bytes()?;
        if created <= snapshot {
            newest = Some(Version {
                row,
                created,
                deleted,
            });
        }
    }
    if !r.is_empty() {
        return Err(corrupt(WHAT));
    }
    Ok(newest.filter(|v| v.visible_at(snapshot)).map(|v| v.row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{visible_version, write_chain, ChainWrite, Ended};
    use tandem_types::Value;

    fn enc(v: i32) -> Vec<u8> {
        encode_row(&[Value::Int4(v), Value::Text("x".into())])
    }

    #[test]
    fn first_versions_encode_alike_from_values_and_from_bytes() {
        let values = [Value::Int4(7), Value::Text("seven".into())];
        let row = encode_row(&values);
        let chain = encode_chain(&[Version {
            row: row.as_slice(),
            created: Lsn(40),
            deleted: Lsn::INVALID,
        }]);
        assert_eq!(encode_first_version(&values, Lsn(40)), chain);
        let mut w = Writer::new();
        first_version_prefixed(&mut w, &row, Lsn(40));
        let mut prefixed = Writer::new();
        prefixed.bytes(&chain);
        assert_eq!(w.buf, prefixed.buf);
        let (mut leading, mut out) = (Vec::new(), Vec::new());
        assert!(key_columns_into(&row, &[1, 0], 2, &mut leading, &mut out).unwrap());
        assert_eq!(out, [Value::Text("seven".into()), Value::Int4(7)]);
        assert!(!key_columns_into(&row, &[0], 3, &mut leading, &mut out).unwrap());
    }

    /// Applies `write` to the encoded chain `old` the way the store does.
    fn apply(old: &[u8], write: ChainWrite<&[u8]>, commit: u64, horizon: u64) -> Vec<u8> {
        let mut chain = decode_chain(old).unwrap();
        write_chain(&mut chain, write, Lsn(commit), Lsn(horizon));
        if chain.is_empty() {
            Vec::new()
        } else {
            encode_chain(&chain)
        }
    }

    #[test]
    fn reading_in_place_sees_what_the_decoded_chain_shows() {
        let mut chain = Vec::new();
        for (i, commit) in [100u64, 200, 300].iter().enumerate() {
            chain = apply(&chain, ChainWrite::Put(&enc(i as i32)), *commit, 0);
        }
        chain = apply(&chain, ChainWrite::Delete, 400, 0);
        for snapshot in [0u64, 99, 100, 150, 200, 299, 300, 399, 400, 500] {
            let decoded = decode_chain(&chain).unwrap();
            let want = visible_version(&decoded, Lsn(snapshot)).map(|v| v.row);
            assert_eq!(visible_encoded(&chain, Lsn(snapshot)).unwrap(), want);
        }
        assert_eq!(visible_encoded(&[], Lsn(1)).unwrap(), None);
        for cut in 1..chain.len() {
            assert!(visible_encoded(&chain[..cut], Lsn(1000)).is_err(), "{cut}");
        }
    }

    fn stamps(bytes: &[u8]) -> Vec<(u64, u64)> {
        decode_chain(bytes)
            .unwrap()
            .iter()
            .map(|v| (v.created.0, v.deleted.0))
            .collect()
    }

    #[test]
    fn a_first_version_encodes_as_its_one_version_chain() {
        let row = [Value::Int4(7), Value::Text("seven".into()), Value::Null];
        let direct = encode_first_version(&row, Lsn(42));
        let enc = encode_row(&row);
        let chain = encode_chain(&[Version {
            row: enc.as_slice(),
            created: Lsn(42),
            deleted: Lsn::INVALID,
        }]);
        assert_eq!(direct, chain);
        assert_eq!(stamps(&direct), vec![(42, 0)]);
    }

    #[test]
    fn keys_order_by_range_then_row_key_and_metadata_comes_first() {
        let a = row_key(7, &RowKey::from(vec![0xFF, 0xFF]));
        let b = row_key(8, &RowKey::from(vec![0x00]));
        assert!(a < b);
        assert!(range_start(8) <= b);
        assert!(Some(b.clone()) < range_end(8));
        assert_eq!(range_end(u32::MAX), None);
        assert_eq!(split_key(&b).unwrap(), (8, RowKey::from(vec![0x00])));
        assert_eq!(key_range(&b), Some(8));
        assert!(split_key(&[0, 1]).is_err());
        let first = range_start(FIRST_STORAGE);
        for meta in [
            APPLIED_LSN_KEY.to_vec(),
            NEXT_STORAGE_KEY.to_vec(),
            meta_key(TABLE_PREFIX, u32::MAX),
            meta_key(RETIRED_PREFIX, u32::MAX),
        ] {
            assert!(meta < first);
            assert_eq!(key_range(&meta), Some(0));
        }
        assert_eq!(
            meta_id(TABLE_PREFIX, &meta_key(TABLE_PREFIX, 16384)).unwrap(),
            16384
        );
        assert!(meta_id(TABLE_PREFIX, &meta_key(RETIRED_PREFIX, 1)).is_err());
        let r = encode_retired(Oid(16384), Lsn(0x1234));
        assert_eq!(decode_retired(&r).unwrap(), (Oid(16384), Lsn(0x1234)));
        assert!(decode_retired(&r[..11]).is_err());
    }

    #[test]
    fn chains_round_trip_and_reject_bad_bytes() {
        let r1 = enc(1);
        let r2 = enc(2);
        let chain = vec![
            Version {
                row: r1.as_slice(),
                created: Lsn(100),
                deleted: Lsn(200),
            },
            Version {
                row: r2.as_slice(),
                created: Lsn(200),
                deleted: Lsn::INVALID,
            },
        ];
        let bytes = encode_chain(&chain);
        assert_eq!(decode_chain(&bytes).unwrap(), chain);
        assert_eq!(
            decode_row(chain[1].row).unwrap().as_ref(),
            &[Value::Int4(2), Value::Text("x".into())]
        );
        for cut in 1..bytes.len() {
            assert!(decode_chain(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_chain(&long).is_err());
        assert!(decode_chain(&[]).unwrap().is_empty());
        assert!(decode_chain(&[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn put_appends_and_ends_the_live_version() {
        let (r1, r2) = (enc(1), enc(2));
        let c = apply(&[], ChainWrite::Put(&r1), 100, 0);
        assert_eq!(stamps(&c), [(100, 0)]);
        let c = apply(&c, ChainWrite::Put(&r2), 200, 50);
        assert_eq!(stamps(&c), [(100, 200), (200, 0)]);
        let chain = decode_chain(&c).unwrap();
        assert_eq!(
            visible_version(&chain, Lsn(150)).unwrap().row,
            r1.as_slice()
        );
        assert_eq!(
            visible_version(&chain, Lsn(200)).unwrap().row,
            r2.as_slice()
        );
    }

    #[test]
    fn put_prunes_versions_deleted_at_or_before_the_horizon() {
        let r = enc(0);
        let mut c = Vec::new();
        for lsn in [100, 200, 300] {
            c = apply(&c, ChainWrite::Put(&r), lsn, 0);
        }
        assert_eq!(stamps(&c), [(100, 200), (200, 300), (300, 0)]);
        // Horizon 200: the version deleted at 200 goes, the one deleted at 300 stays.
        let c = apply(&c, ChainWrite::Put(&r), 400, 200);
        assert_eq!(stamps(&c), [(200, 300), (300, 400), (400, 0)]);
        // Horizon at the put: the version it ends goes too.
        let c = apply(&c, ChainWrite::Put(&r), 500, 500);
        assert_eq!(stamps(&c), [(500, 0)]);
        // Horizon just before it: that version stays for the snapshot there.
        let c = apply(&c, ChainWrite::Put(&r), 600, 599);
        assert_eq!(stamps(&c), [(500, 600), (600, 0)]);
    }

    #[test]
    fn delete_ends_the_live_version_then_prunes() {
        let r = enc(0);
        let c = apply(&[], ChainWrite::Put(&r), 100, 0);
        let d = apply(&c, ChainWrite::Delete, 200, 150);
        assert_eq!(stamps(&d), [(100, 200)]);
        // With the horizon at the delete, nobody can see the row: the key goes.
        let gone = apply(&c, ChainWrite::Delete, 200, 200);
        assert!(gone.is_empty());
        // Deleting a missing key leaves nothing.
        assert!(apply(&[], ChainWrite::Delete, 300, 0).is_empty());
    }

    #[test]
    fn a_version_created_and_ended_by_one_commit_is_discarded() {
        let r = enc(0);
        let c = apply(&[], ChainWrite::Put(&r), 100, 0);
        let mut chain = decode_chain(&c).unwrap();
        let (pruned, ended) = write_chain(&mut chain, ChainWrite::Delete, Lsn(100), Lsn(0));
        assert_eq!((pruned, ended), (0, Ended::Discarded));
        assert!(chain.is_empty());
        let mut chain = decode_chain(&c).unwrap();
        let (_, ended) = write_chain(&mut chain, ChainWrite::Put(r.as_slice()), Lsn(100), Lsn(0));
        assert_eq!(ended, Ended::Discarded);
        assert_eq!(chain.len(), 1);
    }
}
