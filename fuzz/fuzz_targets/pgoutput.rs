//! Fuzz target: the subscriber's decoding of pgoutput messages
//! (`tandem_decoding::pgoutput_read`). The first input byte says whether the
//! message arrives inside a streamed transaction; the rest is the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_decoding::pgoutput_read::parse_message_in;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, msg)) = data.split_first() else {
        return;
    };
    let _ = parse_message_in(msg, flags & 1 != 0);
});
