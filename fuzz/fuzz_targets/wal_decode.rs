//! Fuzz target: the WAL record reader's decode entry,
//! `tandem_wal::decode_slice`, the same function (`decode_at`) that startup
//! and `WalReader` run over segment files, here over bytes in memory.
//!
//! Input: 8 bytes little endian, the LSN the bytes start at; 1 byte, the
//! segment size (`1 << (3 + b % 37)`: a power of two, at least the record
//! alignment; a SWITCH record ends at its next boundary);
//! then the stream. The target walks the stream from its start as the reader
//! does (each record's prev-link checked against the record before) and
//! checks what a record that checks out promises: it starts where asked, ends
//! 8-aligned after its bytes, and its header and payload are exactly what the
//! encoder (`encode_record`) writes for them, so nothing but a correctly
//! written record is accepted. An end of WAL names the position asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_types::Lsn;
use tandem_wal::record::{encode_record, payload_crc};
use tandem_wal::{decode_slice, HEADER_SIZE, RECORD_ALIGN};

/// Records walked at most per input (a stream of minimal records is long).
const MAX_RECORDS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_at_checked(9) else {
        return;
    };
    let mut start = [0u8; 8];
    start.copy_from_slice(&head[..8]);
    let start = Lsn(u64::from_le_bytes(start));
    let segsize = 1u64 << (3 + head[8] % 37);
    let mut pos = start;
    let mut prev = None;
    for _ in 0..MAX_RECORDS {
        let r = match decode_slice(bytes, start, pos, prev, segsize) {
            Ok(r) => r,
            Err(end) => {
                assert_eq!(end.at, pos);
                let _ = end.to_string();
                return;
            }
        };
        assert_eq!(r.lsn, pos);
        assert!(r.end_lsn > r.lsn);
        assert_eq!(r.end_lsn.0 % RECORD_ALIGN, 0);
        // the bytes of the record as they were read
        let from = (pos.0 - start.0) as usize;
        let tot_len = HEADER_SIZE + r.payload.len();
        let raw = &bytes[from..from + tot_len];
        assert!(r.end_lsn.0 - r.lsn.0 >= tot_len as u64);
        let mut prev_link = [0u8; 8];
        prev_link.copy_from_slice(&raw[8..16]);
        let prev_link = Lsn(u64::from_le_bytes(prev_link));
        if let Some(p) = prev {
            assert_eq!(prev_link, p);
        }
        let mut again = Vec::with_capacity(tot_len + 8);
        encode_record(
            &mut again,
            prev_link,
            r.kind,
            r.xid,
            &r.payload,
            payload_crc(&r.payload),
        );
        assert_eq!(&again[..tot_len], raw);
        prev = Some(r.lsn);
        pos = r.end_lsn;
    }
});
