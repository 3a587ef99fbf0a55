//! Fuzz target: the reader of a replication slot's on-disk state file
//! (`pg_replslot/<name>/state`, `tandem_replication::slot::decode_state`).
//! The checksum is recomputed over the body the input claims, so that most
//! inputs reach the body parser rather than stopping at a checksum mismatch;
//! the first input byte says whether to do so.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tandem_replication::slot::decode_state;

fuzz_target!(|data: &[u8]| {
    let Some((&fix, file)) = data.split_first() else {
        return;
    };
    let mut file = file.to_vec();
    if fix & 1 == 0 && file.len() >= 16 {
        let len = u32::from_le_bytes([file[12], file[13], file[14], file[15]]) as usize;
        if let Some(body) = file.get(16..16usize.saturating_add(len)) {
            let crc = crc32c::crc32c(body);
            file[8..12].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let _ = decode_state(&file, Path::new("pg_replslot/fuzz/state"));
});
