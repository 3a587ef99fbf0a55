//! Reading records back: decoding the record at a position and checking it (length,
//! CRC, prev-link), and the sequential [`WalReader`] over durable WAL.
//!
//! One decoder (`decode_at`), reading its bytes through a closure, three users:
//! - [`decode_slice`]: the stream held in memory (pure; what the fuzz target
//!   `wal_decode` drives);
//! - startup (`Wal::open`) scans with no limit; the first record that does not check
//!   out is the end of WAL (torn tail), whatever the reason.
//! - a [`WalReader`] of a running WAL reads only below the flush LSN. There, a record
//!   that runs past the flush LSN is "not yet" (`Ok(None)`, call again later), while
//!   a bad record below it is corruption (`XX001`), and a removed segment is
//!   PostgreSQL's `requested WAL segment ... has already been removed`.
//!
//! After a SWITCH record the next record starts at the next segment boundary; the
//! reader reports the switch record with `end_lsn` at that boundary, as
//! PostgreSQL's xlogreader does.
//!
//! PostgreSQL counterpart: `XLogReadRecord`, `ValidXLogRecordHeader` and
//! `ValidXLogRecord` in `src/backend/access/transam/xlogreader.c`.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tandem_types::{Lsn, PgError, SqlState};

use crate::record::{
    check_header, payload_crc, record_crc, EndOfWal, Invalid, RecordHeader, HEADER_SIZE,
    RECORD_ALIGN,
};
use crate::segment::{removed_error, ReadError, SegmentSource};
use crate::writer::Shared;
use crate::{kinds, ReadRecord};

/// Payload bytes read per step by [`decode_at`].
const PAYLOAD_PIECE: usize = 1 << 20;

/// What [`decode_at`] found at a position.
pub(crate) enum Decoded {
    Record(ReadRecord),
    End(EndOfWal),
}

/// Decodes and checks the record at `pos`. `expected_prev` is the start of the
/// record read before it (`None` for the first record read: its prev-link cannot
/// be checked). `read(at, out)` fills `out` with the stream's bytes from `at`, or
/// says why it cannot (`Ok(Err(..))`: the end of WAL there); its errors (I/O other
/// than a missing segment) are returned as they are.
pub(crate) fn decode_at<E>(
    read: &mut impl FnMut(u64, &mut [u8]) -> Result<Result<(), Invalid>, E>,
    pos: Lsn,
    expected_prev: Option<Lsn>,
    segsize: u64,
) -> Result<Decoded, E> {
    let end = |reason| Ok(Decoded::End(EndOfWal { at: pos, reason }));
    let mut hb = [0u8; HEADER_SIZE];
    match read(pos.0, &mut hb)? {
        Ok(()) => {}
        Err(reason) => return end(reason),
    }
    let header = RecordHeader::decode(&hb);
    if let Err(reason) = check_header(&header) {
        return end(reason);
    }
    // A record, with its padding (a SWITCH: up to the next segment boundary),
    // ends inside the LSN space; a length running past it is garbage.
    let rec_end = pos.0.checked_add(u64::from(header.tot_len));
    let align = if header.kind == kinds::SWITCH {
        segsize
    } else {
        RECORD_ALIGN
    };
    let Some(end_lsn) = rec_end.and_then(|e| checked_align_up(e, align)) else {
        return end(Invalid::BadLength(header.tot_len));
    };
    // Read the payload in pieces so that a garbage length in a torn tail costs no
    // more memory than the bytes that really exist.
    let len = header.tot_len as usize - HEADER_SIZE;
    let mut payload = Vec::with_capacity(len.min(PAYLOAD_PIECE));
    while payload.len() < len {
        let old = payload.len();
        payload.resize(old + (len - old).min(PAYLOAD_PIECE), 0);
        let at = pos.0 + (HEADER_SIZE + old) as u64;
        if let Err(reason) = read(at, &mut payload[old..])? {
            return end(reason);
        }
    }
    if record_crc(payload_crc(&payload), &hb) != header.crc {
        return end(Invalid::BadCrc);
    }
    if let Some(expected) = expected_prev {
        if header.prev != expected {
            return end(Invalid::BadPrev {
                expected,
                found: header.prev,
            });
        }
    }
    Ok(Decoded::Record(ReadRecord {
        lsn: pos,
        end_lsn: Lsn(end_lsn),
        kind: header.kind,
        xid: header.xid,
        payload,
    }))
}

/// `x` rounded up to a multiple of `align` (a power of two), if that fits.
fn checked_align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Decodes and checks the record at `pos` of a stream held in memory: `bytes` are
/// the stream's bytes from `start` on (a record reaching past them is
/// `Invalid::Truncated`). The rules are the file reader's, which is the same
/// function over segment files: `expected_prev` as there, and a SWITCH record
/// ends at the next boundary of `segsize` (a power of two, at least
/// [`RECORD_ALIGN`], as every segment size is). Pure.
pub fn decode_slice(
    bytes: &[u8],
    start: Lsn,
    pos: Lsn,
    expected_prev: Option<Lsn>,
    segsize: u64,
) -> Result<ReadRecord, EndOfWal> {
    let mut read = |at: u64, out: &mut [u8]| -> Result<Result<(), Invalid>, Infallible> {
        let piece = at
            .checked_sub(start.0)
            .and_then(|from| usize::try_from(from).ok())
            .and_then(|from| Some(from..from.checked_add(out.len())?))
            .and_then(|range| bytes.get(range));
        Ok(match piece {
            Some(piece) => {
                out.copy_from_slice(piece);
                Ok(())
            }
            None => Err(Invalid::Truncated),
        })
    };
    match decode_at(&mut read, pos, expected_prev, segsize) {
        Ok(Decoded::Record(record)) => Ok(record),
        Ok(Decoded::End(end)) => Err(end),
        Err(never) => match never {},
    }
}

/// Fills `out` from `pos`, or says why it cannot (not durable yet, file short,
/// segment missing).
pub(crate) fn read_exact(
    src: &mut SegmentSource,
    pos: u64,
    out: &mut [u8],
) -> Result<Result<(), Invalid>, PgError> {
    if pos.saturating_add(out.len() as u64) > src.limit {
        return Ok(Err(Invalid::NotYetAvailable));
    }
    match src.read(pos, out) {
        Ok(n) if n == out.len() => Ok(Ok(())),
        Ok(_) => Ok(Err(Invalid::Truncated)),
        Err(ReadError::Missing(name)) => Ok(Err(Invalid::MissingSegment(name))),
        Err(ReadError::Io(e)) => Err(e),
    }
}

/// Sequential reader of durable records. `next_record()` returns `Ok(None)` when it
/// has reached the flush LSN (or a record not wholly flushed yet); calling it again
/// later continues as the WAL grows. Use [`crate::Wal::wait_for_flush`] to wait.
pub struct WalReader {
    shared: Arc<Shared>,
    src: SegmentSource,
    pos: Lsn,
    /// Start of the last record returned (checked against the next one's prev).
    prev: Option<Lsn>,
    /// The flush LSN the last `next_record` read up to.
    seen: Lsn,
}

impl WalReader {
    pub(crate) fn new(shared: Arc<Shared>, from: Lsn) -> WalReader {
        let src = SegmentSource::new(
            shared.opts.dir.clone(),
            shared.timelines(),
            shared.opts.segment_size,
            0,
        );
        WalReader {
            shared,
            src,
            pos: from,
            prev: None,
            seen: Lsn::INVALID,
        }
    }

    /// Where the next record is expected.
    pub fn position(&self) -> Lsn {
        self.pos
    }

    /// The flush LSN as of the last [`WalReader::next_record`]: once that
    /// returned `Ok(None)`, nothing more can be read until the flush LSN passes
    /// it (wait with `Wal::wait_for_flush(reader.flush_seen(), ..)`; the
    /// reader's position may lie before it, inside a record not wholly flushed).
    pub fn flush_seen(&self) -> Lsn {
        self.seen
    }

    pub fn next_record(&mut self) -> Result<Option<ReadRecord>, PgError> {
        let limit = self.shared.flush_lsn.load(Ordering::Acquire);
        self.seen = Lsn(limit);
        if self.pos.0 >= limit {
            return Ok(None);
        }
        // Follow a timeline switch (promotion, or a standby following a promoted
        // node). Checked after loading the limit: WAL on a new timeline is
        // published only after the switch.
        if self.shared.timeline() != self.src.timelines().current {
            self.src.set_timelines(self.shared.timelines());
        }
        self.src.limit = limit;
        let src = &mut self.src;
        match decode_at(
            &mut |at, out: &mut [u8]| read_exact(src, at, out),
            self.pos,
            self.prev,
            self.shared.opts.segment_size,
        )? {
            Decoded::Record(record) => {
                self.prev = Some(record.lsn);
                self.pos = record.end_lsn;
                Ok(Some(record))
            }
            Decoded::End(EndOfWal {
                reason: Invalid::NotYetAvailable,
                ..
            }) => Ok(None),
            Decoded::End(EndOfWal {
                reason: Invalid::MissingSegment(name),
                ..
            }) => Err(removed_error(&name)),
            Decoded::End(end) => Err(PgError::new(SqlState::DATA_CORRUPTED, end.to_string())),
        }
    }
}

impl Iterator for WalReader {
    type Item = Result<ReadRecord, PgError>;

    /// Records until the current flush LSN (`None` there; the iterator may yield
    /// more later).
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use tandem_types::Xid;

    use super::*;
    use crate::record::{align_up, encode_record};

    /// Three records from `start`: two of kind 20, then a SWITCH, the bytes
    /// zero up to the next boundary of `segsize`, then one more.
    fn stream(start: u64, segsize: u64) -> (Vec<u8>, Vec<Lsn>) {
        let mut out = Vec::new();
        let mut at = Vec::new();
        let mut prev = Lsn(0);
        let mut put = |out: &mut Vec<u8>, kind, payload: &[u8]| {
            let lsn = Lsn(start + out.len() as u64);
            encode_record(out, prev, kind, Xid(9), payload, payload_crc(payload));
            prev = lsn;
            at.push(lsn);
        };
        put(&mut out, 20, b"first");
        put(&mut out, 20, b"second record");
        put(&mut out, kinds::SWITCH, b"");
        let boundary = align_up(start + out.len() as u64, segsize);
        out.resize((boundary - start) as usize, 0);
        put(&mut out, 20, b"after the switch");
        (out, at)
    }

    #[test]
    fn slice_decoding_walks_records_and_switches_as_the_file_reader_does() {
        let start = 0x100_0000 - 0x80;
        let (bytes, at) = stream(start, 0x100_0000);
        let mut pos = Lsn(start);
        let mut prev = None;
        let mut got = Vec::new();
        let end = loop {
            match decode_slice(&bytes, Lsn(start), pos, prev, 0x100_0000) {
                Ok(r) => {
                    got.push((r.lsn, r.payload));
                    prev = Some(r.lsn);
                    pos = r.end_lsn;
                }
                Err(end) => break end,
            }
        };
        let lsns: Vec<Lsn> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lsns, at);
        assert_eq!(at[3], Lsn(0x100_0000), "after SWITCH: the next segment");
        assert_eq!(got[3].1, b"after the switch");
        assert_eq!(end.at, Lsn(start + bytes.len() as u64));
        assert_eq!(end.reason, Invalid::Truncated);
    }

    #[test]
    fn slice_decoding_applies_the_prev_link_crc_and_bounds() {
        let (mut bytes, at) = stream(0x4000, 0x1000);
        let second = decode_slice(&bytes, Lsn(0x4000), at[1], Some(Lsn(0x3ff8)), 0x1000);
        assert_eq!(
            second.err().map(|e| e.reason),
            Some(Invalid::BadPrev {
                expected: Lsn(0x3ff8),
                found: at[0]
            })
        );
        // before the slice, or beyond it
        for pos in [Lsn(0x3ff8), Lsn(0x4000 + bytes.len() as u64)] {
            let r = decode_slice(&bytes, Lsn(0x4000), pos, None, 0x1000);
            assert_eq!(r.err().map(|e| e.reason), Some(Invalid::Truncated));
        }
        bytes[HEADER_SIZE] ^= 1;
        let r = decode_slice(&bytes, Lsn(0x4000), at[0], None, 0x1000);
        assert_eq!(r.err().map(|e| e.reason), Some(Invalid::BadCrc));
    }

    /// Found by the `wal_decode` fuzz target: a header that checks out at an
    /// LSN so close to the end of the LSN space that the record cannot end
    /// inside it overflowed the position arithmetic. (The input's first 9 + 24
    /// bytes: the start LSN, the segment size byte, the header.)
    #[test]
    fn a_record_running_past_the_end_of_the_lsn_space_is_the_end_of_wal() {
        let input: [u8; 33] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x0c, 0x25, 0x00, 0x00, 0x00, 0x2d, 0x20, 0xee, 0x30, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let start = Lsn(u64::MAX);
        let r = decode_slice(&input[9..], start, start, None, 1);
        assert_eq!(r.err().map(|e| e.reason), Some(Invalid::BadLength(0x40)));
        // a well-formed record whose padding, or whose SWITCH boundary, would
        // end past the LSN space
        for (kind, at, segsize) in [
            (20, u64::MAX - 0x1c, 8),
            (kinds::SWITCH, u64::MAX - 0xff, 0x1000),
        ] {
            let mut bytes = Vec::new();
            encode_record(&mut bytes, Lsn(0), kind, Xid(1), b"", payload_crc(b""));
            bytes.truncate(HEADER_SIZE);
            let r = decode_slice(&bytes, Lsn(at), Lsn(at), None, segsize);
            assert_eq!(
                r.err().map(|e| e.reason),
                Some(Invalid::BadLength(24)),
                "kind {kind}"
            );
        }
    }
}
