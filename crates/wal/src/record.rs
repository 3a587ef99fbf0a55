//! The record format: how one WAL record is laid out in the byte stream, how it is
//! encoded on append and how a header read back is checked.
//!
//! This module is pure (no I/O). Byte layout (little endian, every record starts at
//! an 8-byte aligned LSN; see `docs/wal-format.md` for the invariants):
//!
//! ```text
//!  0      4      8              16     17        20     24          tot_len   align 8
//!  +------+------+--------------+------+---------+------+-------------+---------+
//!  |tot_  | crc  | prev (u64)   | kind | 3 bytes | xid  | payload     | zeros   |
//!  |len   |      | start of the |      | reserved|      | (tot_len-24)|         |
//!  +------+------+--------------+------+---------+------+-------------+---------+
//! ```
//!
//! `crc` is CRC-32C over the payload, then the header without the crc field
//! (bytes 0..4 and 8..24). Covering the length and the prev-link means a record
//! only checks out where it was written, after the record it was written after.
//!
//! PostgreSQL counterpart: `XLogRecord` in `src/include/access/xlogrecord.h` and the
//! header/CRC checks of `src/backend/access/transam/xlogreader.c`.

use std::fmt;

use tandem_types::{Lsn, Xid};

use crate::RecordKind;

/// Size of the record header in bytes.
pub const HEADER_SIZE: usize = 24;

/// Every record starts at a multiple of this.
pub const RECORD_ALIGN: u64 = 8;

/// Largest record (header + payload) accepted, as PostgreSQL's `XLogRecordMaxSize`
/// keeps a record well below 1 GB.
pub const MAX_RECORD_SIZE: usize = 1020 * 1024 * 1024;

/// Rounds `x` up to a multiple of `align` (a power of two).
pub fn align_up(x: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    (x + align - 1) & !(align - 1)
}

/// A decoded record header (not yet checked against its payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Header plus payload, without the alignment padding.
    pub tot_len: u32,
    pub crc: u32,
    /// Start of the previous record (`xl_prev`); `Lsn::INVALID` for the first record.
    pub prev: Lsn,
    pub kind: RecordKind,
    pub xid: Xid,
    /// Must be zero.
    pub reserved: [u8; 3],
}

impl RecordHeader {
    pub fn decode(b: &[u8; HEADER_SIZE]) -> RecordHeader {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut prev = [0u8; 8];
        prev.copy_from_slice(&b[8..16]);
        RecordHeader {
            tot_len: u32_at(0),
            crc: u32_at(4),
            prev: Lsn(u64::from_le_bytes(prev)),
            kind: b[16],
            reserved: [b[17], b[18], b[19]],
            xid: Xid(u32_at(20)),
        }
    }

    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&self.tot_len.to_le_bytes());
        b[4..8].copy_from_slice(&self.crc.to_le_bytes());
        b[8..16].copy_from_slice(&self.prev.0.to_le_bytes());
        b[16] = self.kind;
        b[17..20].copy_from_slice(&self.reserved);
        b[20..24].copy_from_slice(&self.xid.0.to_le_bytes());
        b
    }

    /// Bytes the record occupies in the stream, padding included.
    pub fn aligned_len(&self) -> u64 {
        align_up(u64::from(self.tot_len), RECORD_ALIGN)
    }
}

/// The record CRC given the payload's CRC (see [`payload_crc`]) and the encoded
/// header (whose crc field is ignored).
pub fn record_crc(payload_crc: u32, header: &[u8; HEADER_SIZE]) -> u32 {
    let crc = crc32c::crc32c_append(payload_crc, &header[0..4]);
    crc32c::crc32c_append(crc, &header[8..HEADER_SIZE])
}

/// CRC-32C of a payload: the part of the record CRC that can be computed before the
/// record's position (and so its prev-link) is known, outside the insert lock.
pub fn payload_crc(payload: &[u8]) -> u32 {
    crc32c::crc32c(payload)
}

/// Appends one encoded record (header, payload, zero padding) to `out` and returns
/// the number of bytes appended. `pcrc` must be `payload_crc(payload)`.
pub fn encode_record(
    out: &mut Vec<u8>,
    prev: Lsn,
    kind: RecordKind,
    xid: Xid,
    payload: &[u8],
    pcrc: u32,
) -> u64 {
    debug_assert!(HEADER_SIZE + payload.len() <= MAX_RECORD_SIZE);
    let mut header = RecordHeader {
        tot_len: (HEADER_SIZE + payload.len()) as u32,
        crc: 0,
        prev,
        kind,
        xid,
        reserved: [0; 3],
    };
    header.crc = record_crc(pcrc, &header.encode());
    let before = out.len();
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    let padded = header.aligned_len() as usize;
    out.resize(before + padded, 0);
    padded as u64
}

/// Why a record at some position does not check out. The first such record is the
/// end of WAL (torn tail) when scanning at startup, and corruption when it lies
/// below the flush LSN of a running server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The length field is zero: never-written (zero-filled) space.
    ZeroLength,
    /// The length is below the header size or above [`MAX_RECORD_SIZE`].
    BadLength(u32),
    /// Reserved header bytes are not zero.
    BadHeader,
    /// The CRC does not match.
    BadCrc,
    /// The prev-link does not point at the record read before (a stale record).
    BadPrev { expected: Lsn, found: Lsn },
    /// The bytes run past the end of the existing files.
    Truncated,
    /// The segment file holding the position does not exist.
    MissingSegment(String),
    /// The record extends past the limit the reader may read (the flush LSN): not
    /// an error, the rest is not durable yet.
    NotYetAvailable,
}

/// The end of valid WAL: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndOfWal {
    pub at: Lsn,
    pub reason: Invalid,
}

impl fmt::Display for EndOfWal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        match &self.reason {
            Invalid::ZeroLength => write!(
                f,
                "invalid record length at {at}: expected at least {HEADER_SIZE}, got 0"
            ),
            Invalid::BadLength(len) if (*len as usize) < HEADER_SIZE => write!(
                f,
                "invalid record length at {at}: expected at least {HEADER_SIZE}, got {len}"
            ),
            Invalid::BadLength(len) => write!(f, "record length {len} at {at} too long"),
            Invalid::BadHeader => write!(f, "invalid record header at {at}"),
            Invalid::BadCrc => write!(
                f,
                "incorrect resource manager data checksum in record at {at}"
            ),
            Invalid::BadPrev { found, .. } => {
                write!(f, "record with incorrect prev-link {found} at {at}")
            }
            Invalid::Truncated => write!(f, "unexpected end of WAL at {at}"),
            Invalid::MissingSegment(name) => {
                write!(f, "WAL segment {name} for {at} does not exist")
            }
            Invalid::NotYetAvailable => write!(f, "WAL at {at} is not flushed yet"),
        }
    }
}

/// Checks a header on its own (before the payload is read).
pub fn check_header(h: &RecordHeader) -> Result<(), Invalid> {
    if h.tot_len == 0 {
        return Err(Invalid::ZeroLength);
    }
    if (h.tot_len as usize) < HEADER_SIZE || h.tot_len as usize > MAX_RECORD_SIZE {
        return Err(Invalid::BadLength(h.tot_len));
    }
    if h.reserved != [0; 3] {
        return Err(Invalid::BadHeader);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_and_pads_to_eight() {
        let mut out = Vec::new();
        let payload = b"hello wal";
        let n = encode_record(
            &mut out,
            Lsn(0x1234),
            42,
            Xid(7),
            payload,
            payload_crc(payload),
        );
        assert_eq!(n, 40); // 24 + 9 = 33, padded to 40
        assert_eq!(out.len(), 40);
        assert!(out[33..].iter().all(|&b| b == 0));
        let mut hb = [0u8; HEADER_SIZE];
        hb.copy_from_slice(&out[..HEADER_SIZE]);
        let h = RecordHeader::decode(&hb);
        assert_eq!(h.tot_len, 33);
        assert_eq!(h.prev, Lsn(0x1234));
        assert_eq!(h.kind, 42);
        assert_eq!(h.xid, Xid(7));
        assert_eq!(check_header(&h), Ok(()));
        assert_eq!(h.crc, record_crc(payload_crc(&out[24..33]), &hb));
    }

    #[test]
    fn crc_covers_length_prev_and_payload() {
        let payload = b"abc";
        let mut out = Vec::new();
        encode_record(&mut out, Lsn(8), 20, Xid(1), payload, payload_crc(payload));
        let mut hb = [0u8; HEADER_SIZE];
        hb.copy_from_slice(&out[..HEADER_SIZE]);
        let good = RecordHeader::decode(&hb).crc;
        for byte in [0usize, 8, 16, 20] {
            let mut changed = hb;
            changed[byte] ^= 1;
            assert_ne!(
                record_crc(payload_crc(payload), &changed),
                good,
                "byte {byte}"
            );
        }
        assert_ne!(record_crc(payload_crc(b"abd"), &hb), good);
    }

    #[test]
    fn header_checks_name_postgres_style_reasons() {
        let mut h = RecordHeader::decode(&[0u8; HEADER_SIZE]);
        assert_eq!(check_header(&h), Err(Invalid::ZeroLength));
        h.tot_len = 12;
        assert_eq!(check_header(&h), Err(Invalid::BadLength(12)));
        h.tot_len = 24;
        h.reserved = [0, 1, 0];
        assert_eq!(check_header(&h), Err(Invalid::BadHeader));
        let end = EndOfWal {
            at: Lsn(0x16B3748),
            reason: Invalid::ZeroLength,
        };
        assert_eq!(
            end.to_string(),
            "invalid record length at 0/16B3748: expected at least 24, got 0"
        );
        let end = EndOfWal {
            at: Lsn(0x100),
            reason: Invalid::BadPrev {
                expected: Lsn(0x80),
                found: Lsn(0x40),
            },
        };
        assert_eq!(
            end.to_string(),
            "record with incorrect prev-link 0/40 at 0/100"
        );
    }
}
