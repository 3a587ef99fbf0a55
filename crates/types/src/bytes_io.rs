//! Reading and writing fixed binary layouts: the one bounds-checked reader and
//! the one set of writer helpers behind every wire message and on-disk format
//! of tandem (frontend/backend protocol, streaming replication messages,
//! `pgoutput`, binary send/receive, WAL payloads, checkpoint and slot files).
//!
//! - [`ByteReader`]: a cursor over a `&[u8]` whose every read returns a
//!   `Result` when the input is too short, so truncated or hostile bytes never
//!   panic. Integers come in network order (`get_i32`) or little-endian
//!   (`get_i32_le`); the reads themselves are `bytes::Buf`'s `try_get_*`.
//!   A [`ReadError`] says what went wrong; each reader is built with the
//!   function that turns it into the caller's error, so call sites stay `?`.
//! - [`BufMut`] (re-exported from the `bytes` crate) writes integers onto a
//!   `Vec<u8>`; [`PutBytes`] adds C strings and length-prefixed byte strings,
//!   and [`put_i32_sized`] writes a body after its not-yet-known `int32` length.
//!
//! `From<ReadError> for PgError` gives PostgreSQL's wording for a malformed
//! message (`08P01`), as `src/backend/libpq/pqformat.c` (`pq_getmsgbyte`,
//! `pq_copymsgbytes`, `pq_getmsgstring`, `pq_getmsgend`) raises it.

pub use bytes::BufMut;
use bytes::{Buf, TryGetError};

use crate::{PgError, SqlState};

/// Why a read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// A one-byte read found nothing left (`pq_getmsgbyte`).
    NoData,
    /// A read needed `wanted` bytes and only `left` were there
    /// (`pq_copymsgbytes`).
    Insufficient { wanted: usize, left: usize },
    /// A C string had no terminating NUL (`pq_getmsgstring`).
    Unterminated,
    /// [`ByteReader::finish`] found `left` bytes not consumed (`pq_getmsgend`).
    Trailing { left: usize },
}

impl From<TryGetError> for ReadError {
    fn from(e: TryGetError) -> ReadError {
        ReadError::Insufficient {
            wanted: e.requested,
            left: e.available,
        }
    }
}

/// `08P01` with PostgreSQL's text for each failure.
impl From<ReadError> for PgError {
    fn from(e: ReadError) -> PgError {
        let message = match e {
            ReadError::NoData => "no data left in message",
            ReadError::Insufficient { .. } => "insufficient data left in message",
            ReadError::Unterminated => "invalid string in message",
            ReadError::Trailing { .. } => "invalid message format",
        };
        PgError::new(SqlState::PROTOCOL_VIOLATION, message)
    }
}

/// A cursor over a byte slice. Every read either returns the value and moves
/// past it, or fails with `E` (made from a [`ReadError`]) and moves nothing.
pub struct ByteReader<'a, E = ReadError> {
    rest: &'a [u8],
    len: usize,
    error: fn(ReadError) -> E,
}

impl<'a, E: From<ReadError>> ByteReader<'a, E> {
    /// A reader whose errors are `E::from(ReadError)`; name the type where it
    /// is not otherwise known (`let r: ByteReader = ByteReader::new(data)` for
    /// plain [`ReadError`]s, `ByteReader::<PgError>::new(data)` for `08P01`).
    pub fn new(data: &'a [u8]) -> ByteReader<'a, E> {
        ByteReader::with_errors(data, E::from)
    }
}

impl<'a, E> ByteReader<'a, E> {
    /// A reader whose errors are `error(ReadError)`.
    pub fn with_errors(data: &'a [u8], error: fn(ReadError) -> E) -> ByteReader<'a, E> {
        ByteReader {
            rest: data,
            len: data.len(),
            error,
        }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.len - self.rest.len()
    }

    fn fail<T>(&self, e: ReadError) -> Result<T, E> {
        Err((self.error)(e))
    }

    fn num<T>(
        &mut self,
        get: impl FnOnce(&mut &'a [u8]) -> Result<T, TryGetError>,
    ) -> Result<T, E> {
        get(&mut self.rest).or_else(|e| self.fail(e.into()))
    }

    pub fn get_u8(&mut self) -> Result<u8, E> {
        match self.rest.try_get_u8() {
            Ok(b) => Ok(b),
            Err(_) => self.fail(ReadError::NoData),
        }
    }

    pub fn get_i16(&mut self) -> Result<i16, E> {
        self.num(Buf::try_get_i16)
    }

    pub fn get_u16(&mut self) -> Result<u16, E> {
        self.num(Buf::try_get_u16)
    }

    pub fn get_i32(&mut self) -> Result<i32, E> {
        self.num(Buf::try_get_i32)
    }

    pub fn get_u32(&mut self) -> Result<u32, E> {
        self.num(Buf::try_get_u32)
    }

    pub fn get_i64(&mut self) -> Result<i64, E> {
        self.num(Buf::try_get_i64)
    }

    pub fn get_u64(&mut self) -> Result<u64, E> {
        self.num(Buf::try_get_u64)
    }

    pub fn get_i16_le(&mut self) -> Result<i16, E> {
        self.num(Buf::try_get_i16_le)
    }

    pub fn get_u16_le(&mut self) -> Result<u16, E> {
        self.num(Buf::try_get_u16_le)
    }

    pub fn get_i32_le(&mut self) -> Result<i32, E> {
        self.num(Buf::try_get_i32_le)
    }

    pub fn get_u32_le(&mut self) -> Result<u32, E> {
        self.num(Buf::try_get_u32_le)
    }

    pub fn get_i64_le(&mut self) -> Result<i64, E> {
        self.num(Buf::try_get_i64_le)
    }

    pub fn get_u64_le(&mut self) -> Result<u64, E> {
        self.num(Buf::try_get_u64_le)
    }

    /// The next `N` bytes as an array.
    pub fn get_array<const N: usize>(&mut self) -> Result<[u8; N], E> {
        let mut out = [0u8; N];
        self.num(|b| b.try_copy_to_slice(&mut out))?;
        Ok(out)
    }

    /// The next `n` bytes (`pq_getmsgbytes`).
    pub fn get_bytes(&mut self, n: usize) -> Result<&'a [u8], E> {
        match self.rest.split_at_checked(n) {
            Some((out, rest)) => {
                self.rest = rest;
                Ok(out)
            }
            None => self.fail(ReadError::Insufficient {
                wanted: n,
                left: self.rest.len(),
            }),
        }
    }

    /// Everything not yet read.
    pub fn get_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// A NUL-terminated string's bytes, without the NUL (`pq_getmsgstring`
    /// before its encoding check).
    pub fn get_cstr_bytes(&mut self) -> Result<&'a [u8], E> {
        let Some(end) = self.rest.iter().position(|&b| b == 0) else {
            return self.fail(ReadError::Unterminated);
        };
        let out = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Ok(out)
    }

    /// A byte string after its little-endian `uint32` length.
    pub fn get_u32_le_prefixed(&mut self) -> Result<&'a [u8], E> {
        let start = self.rest;
        let n = self.get_u32_le()?;
        match self.get_bytes(n as usize) {
            Ok(b) => Ok(b),
            Err(e) => {
                self.rest = start;
                Err(e)
            }
        }
    }

    /// A byte string after its network-order `int32` length, where a negative
    /// length is `None` (SQL NULL on the wire).
    pub fn get_i32_prefixed(&mut self) -> Result<Option<&'a [u8]>, E> {
        let start = self.rest;
        let n = self.get_i32()?;
        let Ok(n) = usize::try_from(n) else {
            return Ok(None);
        };
        match self.get_bytes(n) {
            Ok(b) => Ok(Some(b)),
            Err(e) => {
                self.rest = start;
                Err(e)
            }
        }
    }

    /// Fails unless everything has been read (`pq_getmsgend`).
    pub fn finish(&self) -> Result<(), E> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            self.fail(ReadError::Trailing {
                left: self.rest.len(),
            })
        }
    }
}

/// Writers for what [`BufMut`] lacks: C strings and length-prefixed bytes.
pub trait PutBytes: BufMut {
    /// `s` and its terminating NUL (`pq_sendstring`).
    fn put_cstr(&mut self, s: &str) {
        self.put_slice(s.as_bytes());
        self.put_u8(0);
    }

    /// `b` after its network-order `uint32` length.
    fn put_u32_prefixed(&mut self, b: &[u8]) {
        self.put_u32(b.len() as u32);
        self.put_slice(b);
    }

    /// `b` after its little-endian `uint32` length.
    fn put_u32_le_prefixed(&mut self, b: &[u8]) {
        self.put_u32_le(b.len() as u32);
        self.put_slice(b);
    }
}

impl<B: BufMut + ?Sized> PutBytes for B {}

/// Writes a network-order `int32` length, then whatever `body` appends, then
/// sets the length to the number of bytes `body` wrote.
pub fn put_i32_sized(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.put_i32(0);
    body(out);
    let len = (out.len() - at - 4) as i32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One of each kind of read, in order.
    fn read_all(data: &[u8]) -> Result<(), ReadError> {
        let mut r = ByteReader::<ReadError>::new(data);
        r.get_u8()?;
        r.get_i16()?;
        r.get_u16_le()?;
        r.get_u32()?;
        r.get_i32_le()?;
        r.get_i64()?;
        r.get_u64_le()?;
        r.get_array::<3>()?;
        r.get_cstr_bytes()?;
        r.get_u32_le_prefixed()?;
        r.get_i32_prefixed()?;
        r.get_bytes(2)?;
        r.finish()
    }

    fn sample() -> Vec<u8> {
        let mut w = Vec::new();
        w.put_u8(7);
        w.put_i16(-2);
        w.put_u16_le(0x0102);
        w.put_u32(0xdead_beef);
        w.put_i32_le(-5);
        w.put_i64(i64::MIN);
        w.put_u64_le(u64::MAX - 1);
        w.put_slice(b"abc");
        w.put_cstr("héllo");
        w.put_u32_le_prefixed(b"xyz");
        put_i32_sized(&mut w, |w| w.put_slice(b"pq"));
        w.put_slice(b"zz");
        w
    }

    #[test]
    fn reads_back_what_was_written() {
        let data = sample();
        let mut r = ByteReader::<ReadError>::new(&data);
        assert_eq!(r.get_u8(), Ok(7));
        assert_eq!(r.get_i16(), Ok(-2));
        assert_eq!(r.get_u16_le(), Ok(0x0102));
        assert_eq!(r.get_u32(), Ok(0xdead_beef));
        assert_eq!(r.get_i32_le(), Ok(-5));
        assert_eq!(r.get_i64(), Ok(i64::MIN));
        assert_eq!(r.get_u64_le(), Ok(u64::MAX - 1));
        assert_eq!(r.get_array(), Ok(*b"abc"));
        assert_eq!(r.get_cstr_bytes(), Ok("héllo".as_bytes()));
        assert_eq!(r.get_u32_le_prefixed(), Ok(&b"xyz"[..]));
        assert_eq!(r.get_i32_prefixed(), Ok(Some(&b"pq"[..])));
        assert_eq!(r.finish(), Err(ReadError::Trailing { left: 2 }));
        assert_eq!(r.position(), data.len() - 2);
        assert_eq!(r.get_rest(), b"zz");
        assert!(r.is_empty());
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(read_all(&data), Ok(()));
    }

    #[test]
    fn every_truncation_is_an_error_that_moves_nothing() {
        let data = sample();
        for cut in 0..data.len() {
            assert!(read_all(&data[..cut]).is_err(), "cut at {cut}");
        }
        let mut r = ByteReader::<ReadError>::new(&[0, 0, 0, 9, 1]);
        assert_eq!(
            r.get_i32_prefixed(),
            Err(ReadError::Insufficient { wanted: 9, left: 1 })
        );
        assert_eq!(r.remaining(), 5);
        assert_eq!(
            r.get_u64(),
            Err(ReadError::Insufficient { wanted: 8, left: 5 })
        );
        assert_eq!(r.remaining(), 5);
        assert_eq!(
            r.get_bytes(6).map(|_| ()),
            Err(ReadError::Insufficient { wanted: 6, left: 5 })
        );
        assert_eq!(
            ByteReader::<ReadError>::new(b"ab").get_cstr_bytes(),
            Err(ReadError::Unterminated)
        );
        assert_eq!(r.get_rest().len(), 5);
        assert_eq!(r.get_u8(), Err(ReadError::NoData));
    }

    #[test]
    fn negative_lengths_are_null_and_huge_ones_fail() {
        let mut r = ByteReader::<ReadError>::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.get_i32_prefixed(), Ok(None));
        let mut r = ByteReader::<ReadError>::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(r.get_u32_le_prefixed().is_err());
        assert!(r.get_bytes(usize::MAX).is_err());
    }

    #[test]
    fn errors_map_to_postgres_texts() {
        let e = ByteReader::<PgError>::new(&[]).get_u8().unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (SqlState::PROTOCOL_VIOLATION, "no data left in message")
        );
        let e = ByteReader::<PgError>::new(&[1]).get_i16().unwrap_err();
        assert_eq!(e.message, "insufficient data left in message");
        let e = ByteReader::<PgError>::new(b"ab")
            .get_cstr_bytes()
            .unwrap_err();
        assert_eq!(e.message, "invalid string in message");
        let e = ByteReader::<PgError>::new(b"ab").finish().unwrap_err();
        assert_eq!(e.message, "invalid message format");
        let mut r = ByteReader::with_errors(&[], |_| "custom");
        assert_eq!(r.get_u32(), Err("custom"));
    }

    /// Arbitrary reads over arbitrary bytes: errors, never panics, and the
    /// position only moves by what a successful read consumed.
    fn any_reads(data: &[u8], ops: &[(u8, u8)]) {
        let mut r = ByteReader::<ReadError>::new(data);
        for &(op, n) in ops {
            let before = r.remaining();
            let taken = match op % 16 {
                0 => r.get_u8().map(|_| 1),
                1 => r.get_i16().map(|_| 2),
                2 => r.get_u16_le().map(|_| 2),
                3 => r.get_i32().map(|_| 4),
                4 => r.get_u32_le().map(|_| 4),
                5 => r.get_i64().map(|_| 8),
                6 => r.get_u64_le().map(|_| 8),
                7 => r.get_array::<5>().map(|_| 5),
                8 => r.get_bytes(n as usize).map(|b| b.len()),
                9 => r.get_cstr_bytes().map(|b| b.len() + 1),
                10 => r.get_u32_le_prefixed().map(|b| b.len() + 4),
                11 => r.get_i32_prefixed().map(|b| b.map_or(0, <[u8]>::len) + 4),
                12 => r.finish().map(|_| 0),
                13 => Ok(r.get_rest().len()),
                14 => r.get_i16_le().map(|_| 2),
                _ => r.get_u64().map(|_| 8),
            };
            match taken {
                Ok(k) => assert_eq!(r.remaining(), before - k),
                Err(_) => assert_eq!(r.remaining(), before),
            }
            assert_eq!(r.position() + r.remaining(), data.len());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            ops in proptest::collection::vec(any::<(u8, u8)>(), 0..32),
        ) {
            any_reads(&data, &ops);
        }
    }
}
