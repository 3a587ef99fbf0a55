//! Fuzz target: the server's decoding of what a client sends (`tandem-protocol`):
//! typed messages (`frontend::parse_message`, with an encode → decode round
//! trip for every message that decodes), startup packets, password and SASL
//! bodies, SCRAM client messages, and the CopyBoth replication payloads.
//! The first input byte picks the decoder; the rest is its input.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tandem_protocol::frontend;
use tandem_protocol::replication::{decode_primary_message, decode_standby_message};
use tandem_protocol::scram::{make_verifier, ScramServer};

/// One SCRAM verifier for the whole run (deriving it costs 4096 PBKDF2 rounds).
static VERIFIER: LazyLock<String> = LazyLock::new(|| make_verifier("secret"));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => typed_messages(input),
        1 => {
            if input.len() >= 4 {
                let _ = frontend::startup_packet_len([input[0], input[1], input[2], input[3]]);
            }
            if let Ok(frontend::StartupPacket::Startup { major, minor, .. }) =
                frontend::decode_startup(input)
            {
                let _ = frontend::check_protocol_version(major, minor);
            }
        }
        2 => {
            let _ = frontend::decode_password(input);
            let _ = frontend::decode_sasl_initial(input);
        }
        3 => {
            // client-first, then (split at the first NUL) client-final.
            let (first, last) = match input.iter().position(|&b| b == 0) {
                Some(i) => (&input[..i], &input[i + 1..]),
                None => (input, &input[input.len()..]),
            };
            let mut server = ScramServer::with_nonce(Some(&VERIFIER), "fuzznonce");
            if server.client_first(first).is_ok() {
                let _ = server.client_final(last);
            }
        }
        _ => {
            let _ = decode_standby_message(input);
            let _ = decode_primary_message(input);
        }
    }
});

/// Decodes messages one after another as the server reads them; each message
/// that decodes must encode back to bytes that decode to the same message.
fn typed_messages(mut buf: &[u8]) {
    while let Ok(Some((msg, used))) = frontend::parse_message(buf) {
        let mut again = Vec::new();
        msg.encode(&mut again);
        match frontend::parse_message(&again) {
            Ok(Some((back, n))) => {
                assert_eq!(back, msg, "round trip changed the message");
                assert_eq!(n, again.len(), "round trip left bytes over");
            }
            other => panic!("{msg:?} encodes to bytes that do not decode: {other:?}"),
        }
        buf = &buf[used..];
    }
}
