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

use tandem_types::bytes_io::BufMut;
use tandem_types::{ByteReader, Lsn, PgError, PgResult, ReadError, SqlState};

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
    out.put_u8(b'd');
    out.put_u32((payload_len + 4) as u32);
}

/// Appends a whole CopyData message holding XLogData for `data` starting at `start`.
pub fn put_xlog_data(out: &mut Vec<u8>, start: Lsn, wal_end: Lsn, send_time: i64, data: &[u8]) {
    put_copy_data_header(out, XLOG_DATA_HEADER + data.len());
    out.put_u8(b'w');
    out.put_u64(start.0);
    out.put_u64(wal_end.0);
    out.put_i64(send_time);
    out.put_slice(data);
}

/// Appends a whole CopyData message holding a primary keepalive.
pub fn put_keepalive(out: &mut Vec<u8>, wal_end: Lsn, send_time: i64, reply_requested: bool) {
    put_copy_data_header(out, 18);
    out.put_u8(b'k');
    out.put_u64(wal_end.0);
    out.put_i64(send_time);
    out.put_u8(reply_requested as u8);
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
            out.put_u8(b'r');
            for v in [write.0, flush.0, apply.0] {
                out.put_u64(v);
            }
            out.put_i64(send_time);
            out.put_u8(reply_requested as u8);
        }
        StandbyMessage::HotStandbyFeedback {
            send_time,
            xmin,
            xmin_epoch,
            catalog_xmin,
            catalog_xmin_epoch,
        } => {
            out.put_u8(b'h');
            out.put_i64(send_time);
            for v in [xmin, xmin_epoch, catalog_xmin, catalog_xmin_epoch] {
                out.put_u32(v);
            }
        }
    }
    out
}

fn insufficient() -> PgError {
    PgError::new(
        SqlState::PROTOCOL_VIOLATION,
        "insufficient data left in message",
    )
}

/// A reader over a message after its type byte: every short read, single
/// bytes included, is `insufficient data left in message`.
fn reader(payload: &[u8]) -> ByteReader<'_, PgError> {
    ByteReader::with_errors(payload, |e| match e {
        ReadError::Trailing { .. } => e.into(),
        _ => insufficient(),
    })
}

fn get_lsn(r: &mut ByteReader<'_, PgError>) -> PgResult<Lsn> {
    Ok(Lsn(r.get_u64()?))
}

/// Decodes the CopyData payload of a standby message. Errors as PostgreSQL's
/// walsender: `08P01 unexpected message type "x"`, `insufficient data left in
/// message`, `invalid message format`.
pub fn decode_standby_message(payload: &[u8]) -> PgResult<StandbyMessage> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err(insufficient());
    };
    let mut c = reader(rest);
    let msg = match kind {
        b'r' => StandbyMessage::Status {
            write: get_lsn(&mut c)?,
            flush: get_lsn(&mut c)?,
            apply: get_lsn(&mut c)?,
            send_time: c.get_i64()?,
            reply_requested: c.get_u8()? != 0,
        },
        b'h' => StandbyMessage::HotStandbyFeedback {
            send_time: c.get_i64()?,
            xmin: c.get_u32()?,
            xmin_epoch: c.get_u32()?,
            catalog_xmin: c.get_u32()?,
            catalog_xmin_epoch: c.get_u32()?,
        },
        other => {
            return Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("unexpected message type \"{}\"", other as char),
            ))
        }
    };
    c.finish()?;
    Ok(msg)
}

/// Decodes the CopyData payload of a primary message (walreceiver side).
pub fn decode_primary_message(payload: &[u8]) -> PgResult<PrimaryMessage> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err(insufficient());
    };
    let mut c = reader(rest);
    match kind {
        b'w' => {
            let start = get_lsn(&mut c)?;
            let wal_end = get_lsn(&mut c)?;
            let send_time = c.get_i64()?;
            Ok(PrimaryMessage::XLogData {
                start,
                wal_end,
                send_time,
                data: c.get_rest().to_vec(),
            })
        }
        b'k' => {
            let m = PrimaryMessage::Keepalive {
                wal_end: get_lsn(&mut c)?,
                send_time: c.get_i64()?,
                reply_requested: c.get_u8()? != 0,
            };
            c.finish()?;
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
