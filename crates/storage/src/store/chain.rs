//! The table store's byte layouts: the key of a row and the encoded version chain
//! stored under it.
//!
//! ```text
//! key   = table oid (u32 big-endian) ++ RowKey bytes
//! value = n u32 ++ n * (created u64, deleted u64, row: u32 length ++ row values)
//! ```
//! Oid 0 is never a table: keys under it hold the store's metadata. The oid is
//! big-endian so that one table is one contiguous key range, in `RowKey` order.
//! Integers in the value are little-endian (`codec.rs`), the row is the WAL's row
//! encoding (`Writer::values`). The chain rules themselves are `heap.rs`'s; this
//! file only turns chains into bytes and back.

use tandem_types::{Oid, PgResult};

use crate::codec::{corrupt, Reader, Writer};
use crate::heap::{Row, Version};
use crate::RowKey;

/// Names the store in "invalid ... data" errors.
pub(super) const WHAT: &str = "table store";

/// The metadata key holding the LSN up to which commits were applied.
pub(super) const APPLIED_LSN_KEY: &[u8] = b"\0\0\0\0applied_lsn";

/// The store key of `key` in table `oid`.
pub(super) fn row_key(oid: Oid, key: &RowKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.0.len());
    k.extend_from_slice(&oid.0.to_be_bytes());
    k.extend_from_slice(&key.0);
    k
}

/// The first store key of table `oid`.
pub(super) fn table_start(oid: Oid) -> Vec<u8> {
    oid.0.to_be_bytes().to_vec()
}

/// The first store key after table `oid`, `None` for the last possible oid.
pub(super) fn table_end(oid: Oid) -> Option<Vec<u8>> {
    oid.0.checked_add(1).map(|o| o.to_be_bytes().to_vec())
}

/// Splits a store key into its table oid and row key.
pub(super) fn split_key(key: &[u8]) -> PgResult<(Oid, RowKey)> {
    let (oid, rest) = key.split_first_chunk::<4>().ok_or_else(|| corrupt(WHAT))?;
    Ok((Oid(u32::from_be_bytes(*oid)), RowKey(rest.to_vec())))
}

/// A row in the WAL's row encoding.
pub(super) fn encode_row(row: &[tandem_types::Value]) -> Vec<u8> {
    let mut w = Writer::new();
    w.values(row);
    w.buf
}

pub(super) fn decode_row(bytes: &[u8]) -> PgResult<Row> {
    let mut r = Reader::new(bytes, WHAT);
    let row = r.values()?;
    if !r.is_empty() {
        return Err(corrupt(WHAT));
    }
    Ok(row.into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::{visible_version, write_chain, ChainWrite, Ended};
    use tandem_types::{Lsn, Value};

    fn enc(v: i32) -> Vec<u8> {
        encode_row(&[Value::Int4(v), Value::Text("x".into())])
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

    fn stamps(bytes: &[u8]) -> Vec<(u64, u64)> {
        decode_chain(bytes)
            .unwrap()
            .iter()
            .map(|v| (v.created.0, v.deleted.0))
            .collect()
    }

    #[test]
    fn keys_order_by_table_then_row_key() {
        let a = row_key(Oid(16384), &RowKey(vec![0xFF, 0xFF]));
        let b = row_key(Oid(16385), &RowKey(vec![0x00]));
        assert!(a < b);
        assert!(table_start(Oid(16385)) <= b);
        assert!(Some(b.clone()) < table_end(Oid(16385)));
        assert_eq!(table_end(Oid(u32::MAX)), None);
        assert_eq!(split_key(&b).unwrap(), (Oid(16385), RowKey(vec![0x00])));
        assert!(split_key(&[0, 1]).is_err());
        assert!(APPLIED_LSN_KEY < table_start(Oid(1)).as_slice());
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
        // Horizon past everything: only the new live version is left.
        let c = apply(&c, ChainWrite::Put(&r), 500, 1000);
        assert_eq!(stamps(&c), [(400, 500), (500, 0)]);
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
