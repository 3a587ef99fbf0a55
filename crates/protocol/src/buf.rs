//! Byte-level helpers shared by both directions of the codec: [`Reader`], the
//! bounds-checked reader of `tandem_types::bytes_io` over one message body whose
//! every failure is PostgreSQL's `08P01` protocol-violation error, its UTF-8
//! checked string read, and the framing of a message (`tag`, then a length
//! that counts itself but not the tag). Integers and strings are written with
//! `BufMut` and `PutBytes` from `tandem_types::bytes_io`.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/pqformat.c` (`pq_getmsg*`,
//! `pq_beginmessage`/`pq_endmessage`).

use tandem_types::{ByteReader, PgError, PgResult, SqlState};

/// `08P01` with PostgreSQL's wording for a malformed message.
pub fn protocol_violation(message: impl Into<String>) -> PgError {
    PgError::new(SqlState::PROTOCOL_VIOLATION, message)
}

/// Checks that `bytes` is valid UTF-8; otherwise PostgreSQL's
/// `22021 invalid byte sequence for encoding "UTF8": 0x..` naming the bytes of the
/// first bad character (as many as its lead byte announces, at most what is left).
pub fn check_utf8(bytes: &[u8]) -> PgResult<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let rest = &bytes[e.valid_up_to()..];
            let lead = rest.first().copied().unwrap_or(0);
            let want = if lead & 0x80 == 0 {
                1
            } else if lead & 0xe0 == 0xc0 {
                2
            } else if lead & 0xf0 == 0xe0 {
                3
            } else if lead & 0xf8 == 0xf0 {
                4
            } else {
                1
            };
            let shown: Vec<String> = rest
                .iter()
                .take(want)
                .map(|b| format!("0x{b:02x}"))
                .collect();
            Err(PgError::new(
                SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                format!(
                    "invalid byte sequence for encoding \"UTF8\": {}",
                    shown.join(" ")
                ),
            ))
        }
    }
}

/// A cursor over one message body: every read fails with `08P01` (the texts of
/// `pqformat.c`) instead of reading past the end, so decoding arbitrary bytes
/// never panics.
pub type Reader<'a> = ByteReader<'a, PgError>;

/// The encoding-checked string read of a message body.
pub trait GetStr<'a> {
    /// A NUL-terminated UTF-8 string (`pq_getmsgstring`).
    fn get_cstr(&mut self) -> PgResult<&'a str>;
}

impl<'a> GetStr<'a> for Reader<'a> {
    fn get_cstr(&mut self) -> PgResult<&'a str> {
        check_utf8(self.get_cstr_bytes()?)
    }
}

/// Starts a message with type byte `tag`; returns the offset of its length field
/// for [`finish_message`].
pub fn begin_message(buf: &mut Vec<u8>, tag: u8) -> usize {
    buf.push(tag);
    let at = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    at
}

/// Patches the length of the message begun at `at` (length field included).
pub fn finish_message(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_to_read_past_the_end() {
        let mut r = Reader::new(&[0, 1, b'a', 0, 7]);
        assert_eq!(r.get_i16().unwrap(), 1);
        assert_eq!(r.get_cstr().unwrap(), "a");
        assert!(r.finish().is_err());
        assert_eq!(r.get_i32().unwrap_err().code, SqlState::PROTOCOL_VIOLATION);
        assert_eq!(r.get_u8().unwrap(), 7);
        assert!(r.finish().is_ok());
        let e = Reader::new(b"abc").get_cstr().unwrap_err();
        assert_eq!(e.message, "invalid string in message");
    }

    #[test]
    fn invalid_utf8_names_the_bad_bytes() {
        let e = check_utf8(b"select \xff").unwrap_err();
        assert_eq!(e.code.code(), "22021");
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xff"
        );
        let e = check_utf8(b"x\xe2\x82").unwrap_err();
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xe2 0x82"
        );
        assert_eq!(check_utf8("é".as_bytes()).unwrap(), "é");
    }

    #[test]
    fn framing_counts_the_length_field() {
        let mut buf = Vec::new();
        let at = begin_message(&mut buf, b'Z');
        buf.push(b'I');
        finish_message(&mut buf, at);
        assert_eq!(buf, vec![b'Z', 0, 0, 0, 5, b'I']);
    }
}
