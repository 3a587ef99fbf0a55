//! Fuzz target: decoding WAL records from bytes. The first input byte picks:
//! - a record payload (`tandem_storage::record::decode`, what redo, decoding
//!   and slot synchronization read) of the kind given by the second byte;
//! - a WAL byte stream from LSN 0: record after record as the reader reads
//!   them (`tandem_wal::decode_slice`: header checks, CRC, prev-link), and the
//!   payload of every record that checks out decoded as above;
//! - a timeline history file (`tandem_wal::parse_history`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_storage::record::decode;
use tandem_types::Lsn;
use tandem_wal::{decode_slice, DEFAULT_SEGMENT_SIZE};

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
    let mut pos = Lsn(0);
    let mut prev: Option<Lsn> = None;
    while let Ok(r) = decode_slice(bytes, Lsn(0), pos, prev, DEFAULT_SEGMENT_SIZE) {
        let _ = decode(r.kind, &r.payload);
        prev = Some(r.lsn);
        pos = r.end_lsn;
    }
}
