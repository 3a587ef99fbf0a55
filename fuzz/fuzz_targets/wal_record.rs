//! Fuzz target: decoding WAL records from bytes. The first input byte picks:
//! - a record payload (`tandem_storage::record::decode`, what redo, decoding
//!   and slot synchronization read) of the kind given by the second byte;
//! - a WAL byte stream: record after record, header checks, CRC and prev-link
//!   as the reader applies them (`tandem_wal::record`), and the payload of
//!   every record that checks out decoded as above;
//! - a timeline history file (`tandem_wal::parse_history`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_storage::record::decode;
use tandem_types::Lsn;
use tandem_wal::record::{check_header, payload_crc, record_crc, RecordHeader};
use tandem_wal::{HEADER_SIZE, RECORD_ALIGN};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Some((&kind, payload)) = input.split_first() {
                let _ = decode(kind, payload);
            }
        }
        1 => stream(input),
        _ => {
            if let Ok(text) = std::str::from_utf8(input) {
                let _ = tandem_wal::parse_history(text);
            }
        }
    }
});

fn stream(bytes: &[u8]) {
    let mut pos = 0usize;
    let mut prev: Option<Lsn> = None;
    while let Some(hb) = bytes.get(pos..pos + HEADER_SIZE) {
        let mut h = [0u8; HEADER_SIZE];
        h.copy_from_slice(hb);
        let header = RecordHeader::decode(&h);
        if check_header(&header).is_err() {
            return;
        }
        let Some(payload) = bytes.get(pos + HEADER_SIZE..pos + header.tot_len as usize) else {
            return;
        };
        if record_crc(payload_crc(payload), &h) != header.crc {
            return;
        }
        if prev.is_some_and(|p| p != header.prev) {
            return;
        }
        let _ = decode(header.kind, payload);
        prev = Some(Lsn(pos as u64));
        pos += header.aligned_len() as usize;
        debug_assert_eq!(pos % RECORD_ALIGN as usize, 0);
    }
}
