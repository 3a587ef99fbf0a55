//! The streaming replication sub-protocol carried inside CopyData messages once
//! START_REPLICATION has answered CopyBothResponse (PostgreSQL's "Streaming
//! Replication Protocol" documentation; `walsender.c` and `walreceiver.c`).
//!
//! Primary to standby (payload of a CopyData `d`):
//! ```text
//! 'w' XLogData         dataStart i64 | walEnd i64 | sendTime i64 | WAL bytes
//! 'k' keepalive        walEnd i64 | sendTime i64 | replyRequested u8
//! ```
//! Standby to primary:
//! ```text
//! 'r' status update    write i64 | flush i64 | apply i64 | sendTime i64 | replyRequested u8
//! 'h' hot standby fb   sendTime i64 | xmin u32 | xmin epoch u32 | catalog_xmin u32 | epoch u32
//! ```
//! Integers are big-endian; times are microseconds since 2000-01-01 UTC. Both
//! directions are encoded and decoded here (the server's walsender and, later,
//! the walreceiver), with PostgreSQL's `08P01` texts for malformed input.

use tandem_types::{Lsn, PgError, PgResult, SqlState};

/// Bytes of the XLogData header inside the CopyData payload ('w' + 3 x i64).
pub const XLOG_DATA_HEADER: usize = 25;

/// A message from the standby.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandbyMessage {
    Status {
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        send_time: i64,
        reply_requested: bool,
    },
    HotStandbyFeedback {
        send_time: i64,
        xmin: u32,
        xmin_epoch: u32,
        catalog_xmin: u32,
        catalog_xmin_epoch: u32,
    },
}

/// A message from the primary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrimaryMessage {
    XLogData {
        start: Lsn,
        wal_end: Lsn,
        send_time: i64,
        data: Vec<u8>,
    },
    Keepalive {
        wal_end: Lsn,
        send_time: i64,
        reply_requested: bool,
    },
}

fn put_copy_data_header(out: &mut Vec<u8>, payload_len: usize) {
    out.push(b'd');
    out.extend_from_slice(&((payload_len + 4) as u32).to_be_bytes());
}

/// Appends a whole CopyData message holding XLogData for `data` starting at `start`.
pub fn put_xlog_data(out: &mut Vec<u8>, start: Lsn, wal_end: Lsn, send_time: i64, data: &[u8]) {
    put_copy_data_header(out, XLOG_DATA_HEADER + data.len());
    out.push(b'w');
    out.extend_from_slice(&start.0.to_be_bytes());
    out.extend_from_slice(&wal_end.0.to_be_bytes());
    out.extend_from_slice(&send_time.to_be_bytes());
    out.extend_from_slice(data);
}

/// Appends a whole CopyData message holding a primary keepalive.
pub fn put_keepalive(out: &mut Vec<u8>, wal_end: Lsn, send_time: i64, reply_requested: bool) {
    put_copy_data_header(out, 18);
    out.push(b'k');
    out.extend_from_slice(&wal_end.0.to_be_bytes());
    out.extend_from_slice(&send_time.to_be_bytes());
    out.push(reply_requested as u8);
}

/// The CopyData payload of a standby message (for the walreceiver side).
pub fn encode_standby_message(msg: &StandbyMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(34);
    match *msg {
        StandbyMessage::Status {
            write,
            flush,
            apply,
            send_time,
            reply_requested,
        } => {
            out.push(b'r');
            for v in [write.0, flush.0, apply.0] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend_from_slice(&send_time.to_be_bytes());
            out.push(reply_requested as u8);
        }
        StandbyMessage::HotStandbyFeedback {
            send_time,
            xmin,
            xmin_epoch,
            catalog_xmin,
            catalog_xmin_epoch,
        } => {
            out.push(b'h');
            out.extend_from_slice(&send_time.to_be_bytes());
            for v in [xmin, xmin_epoch, catalog_xmin, catalog_xmin_epoch] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    out
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

fn insufficient() -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        "insufficient data left in message",
    )
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> PgResult<&[u8]> {
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or_else(insufficient)?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> PgResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> PgResult<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self) -> PgResult<i64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn lsn(&mut self) -> PgResult<Lsn> {
        Ok(Lsn(self.i64()? as u64))
    }
    fn end(&self) -> PgResult<()> {
        if self.pos == self.b.len() {
            Ok(())
        } else {
            Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                "invalid message format",
            ))
        }
    }
}

/// Decodes the CopyData payload of a standby message. Errors as PostgreSQL's
/// walsender: `08P01 unexpected message type "x"`, `insufficient data left in
/// message`, `invalid message format`.
pub fn decode_standby_message(payload: &[u8]) -> PgResult<StandbyMessage> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err(insufficient());
    };
    let mut c = Cursor { b: rest, pos: 0 };
    let msg = match kind {
        b'r' => StandbyMessage::Status {
            write: c.lsn()?,
            flush: c.lsn()?,
            apply: c.lsn()?,
            send_time: c.i64()?,
            reply_requested: c.u8()? != 0,
        },
        b'h' => StandbyMessage::HotStandbyFeedback {
            send_time: c.i64()?,
            xmin: c.u32()?,
            xmin_epoch: c.u32()?,
            catalog_xmin: c.u32()?,
            catalog_xmin_epoch: c.u32()?,
        },
        other => {
            return Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("unexpected message type \"{}\"", other as char),
            ))
        }
    };
    c.end()?;
    Ok(msg)
}

/// Decodes the CopyData payload of a primary message (walreceiver side).
pub fn decode_primary_message(payload: &[u8]) -> PgResult<PrimaryMessage> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err(insufficient());
    };
    let mut c = Cursor { b: rest, pos: 0 };
    match kind {
        b'w' => {
            let start = c.lsn()?;
            let wal_end = c.lsn()?;
            let send_time = c.i64()?;
            Ok(PrimaryMessage::XLogData {
                start,
                wal_end,
                send_time,
                data: rest[c.pos..].to_vec(),
            })
        }
        b'k' => {
            let m = PrimaryMessage::Keepalive {
                wal_end: c.lsn()?,
                send_time: c.i64()?,
                reply_requested: c.u8()? != 0,
            };
            c.end()?;
            Ok(m)
        }
        other => Err(PgError::new(
            SqlState::PROTOCOL_VIOLATION,
            format!("unrecognized streaming header: \"{}\"", other as char),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlog_data_and_keepalive_bytes() {
        let mut out = Vec::new();
        put_xlog_data(&mut out, Lsn(0x0100_0000), Lsn(0x0100_0010), 7, b"abc");
        assert_eq!(out[0], b'd');
        assert_eq!(
            u32::from_be_bytes([out[1], out[2], out[3], out[4]]),
            4 + 25 + 3
        );
        assert_eq!(out[5], b'w');
        assert_eq!(&out[6..14], &0x0100_0000u64.to_be_bytes());
        assert_eq!(&out[14..22], &0x0100_0010u64.to_be_bytes());
        assert_eq!(&out[22..30], &7i64.to_be_bytes());
        assert_eq!(&out[30..], b"abc");
        assert_eq!(
            decode_primary_message(&out[5..]).unwrap(),
            PrimaryMessage::XLogData {
                start: Lsn(0x0100_0000),
                wal_end: Lsn(0x0100_0010),
                send_time: 7,
                data: b"abc".to_vec()
            }
        );
        let mut k = Vec::new();
        put_keepalive(&mut k, Lsn(5), -1, true);
        assert_eq!(k.len(), 1 + 4 + 18);
        assert_eq!(
            decode_primary_message(&k[5..]).unwrap(),
            PrimaryMessage::Keepalive {
                wal_end: Lsn(5),
                send_time: -1,
                reply_requested: true
            }
        );
    }

    #[test]
    fn standby_messages_round_trip_and_reject_garbage() {
        let r = StandbyMessage::Status {
            write: Lsn(3),
            flush: Lsn(2),
            apply: Lsn(1),
            send_time: 99,
            reply_requested: false,
        };
        let bytes = encode_standby_message(&r);
        assert_eq!(bytes.len(), 34);
        assert_eq!(decode_standby_message(&bytes).unwrap(), r);
        let h = StandbyMessage::HotStandbyFeedback {
            send_time: 1,
            xmin: 750,
            xmin_epoch: 0,
            catalog_xmin: 0,
            catalog_xmin_epoch: 0,
        };
        let bytes = encode_standby_message(&h);
        assert_eq!(bytes.len(), 25);
        assert_eq!(decode_standby_message(&bytes).unwrap(), h);
        let e = decode_standby_message(&bytes[..10]).unwrap_err();
        assert_eq!(e.message, "insufficient data left in message");
        let e = decode_standby_message(b"zzz").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::PROTOCOL_VIOLATION,
                "unexpected message type \"z\""
            )
        );
    }
}
