//! Fuzz target: the replication command parser (`tandem_replication::command`),
//! the text of a simple Query on a walsender connection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_replication::command;

fuzz_target!(|data: &[u8]| {
    // Query text reaches the parser as UTF-8 (the protocol layer checks it).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = command::is_replication_command(text);
    let _ = command::parse_with_notices(text);
});
