//! Fuzz target: the connection string parser (`tandem_client::conninfo`), both
//! the `key=value` and the URI form, and what callers derive from a parsed
//! string (targets, the masked form, the per-target string, which must parse
//! again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_client::conninfo::ConnInfo;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(info) = ConnInfo::parse(text) else {
        return;
    };
    let _ = info.masked();
    if let Ok(targets) = info.targets() {
        for t in &targets {
            let s = info.for_target(t);
            if let Err(e) = ConnInfo::parse(&s) {
                panic!("for_target({t:?}) of {text:?} gives {s:?}, which does not parse: {e:?}");
            }
        }
    }
});
