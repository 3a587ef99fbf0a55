//! BASE_BACKUP, the client's half of the protocol: [`start`] connects, creates
//! the slot if asked and sends the command; [`BaseBackupStream`] then yields
//! the archive as [`BackupEvent`]s, decoded by the pure [`BackupDecoder`].
//! Writing files and WAL is the caller's (`tandem basebackup`).
//!
//! The stream's format (tandem's own: PostgreSQL sends tar archives) is
//! defined by its writer, the server's `walsender/basebackup.rs`: a result
//! set with the start position, a COPY whose CopyData payloads are the
//! messages [`decode_payload`] reads (`t` total, `f` file, `s` table store,
//! `w` WAL range, `d` data; integers big-endian), and a result set with the
//! end position.
//!
//! PostgreSQL counterpart: the protocol side of `bin/pg_basebackup`
//! (`BaseBackup`, `ReceiveCopyData`), which reads tar archives instead.

use tandem_protocol::BackendMessage;
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::connection::{quote_literal, quote_repl_ident, ReplClient};

/// What to ask the primary for.
#[derive(Clone, Debug, Default)]
pub struct BackupRequest {
    /// The backup label.
    pub label: String,
    /// The replication slot (created first with `create_slot`).
    pub slot: Option<String>,
    pub create_slot: bool,
    /// `CHECKPOINT 'fast'` instead of `'spread'`.
    pub fast: bool,
}

/// One piece of the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupEvent<'a> {
    /// Bytes all `Data` events will carry together.
    Total(u64),
    /// A file begins (a relative path, checked: no `..`, not absolute).
    File { name: String, size: u64 },
    /// The table store's rows begin: `Data` events carry whole entries
    /// (`table u32, key length u32, key, chain length u32, chain`, big-endian
    /// lengths) of a view holding the commits up to `applied_lsn`.
    Store { applied_lsn: Lsn },
    /// A WAL range begins.
    Wal { start: Lsn, end: Lsn },
    /// Bytes of the current file or WAL range.
    Data(&'a [u8]),
    /// The archive's COPY ended; the current file or WAL range is complete.
    CopyDone,
}

fn malformed() -> PgError {
    stream_error("malformed base backup stream")
}

fn stream_error(msg: impl Into<String>) -> PgError {
    PgError::new(SqlState::IO_ERROR, msg)
}

/// A big-endian u64 that must be exactly `b`.
fn be_u64(b: &[u8]) -> PgResult<u64> {
    <[u8; 8]>::try_from(b)
        .map(u64::from_be_bytes)
        .map_err(|_| malformed())
}

/// Decodes one CopyData payload (`t`, `f`, `w` or `d`). Pure: anything it
/// does not understand is an error, never a panic.
pub fn decode_payload(payload: &[u8]) -> PgResult<BackupEvent<'_>> {
    let (&kind, body) = payload.split_first().ok_or_else(malformed)?;
    Ok(match kind {
        b't' => BackupEvent::Total(be_u64(body)?),
        b'f' => {
            let nul = body.iter().position(|&b| b == 0).ok_or_else(malformed)?;
            let name = String::from_utf8_lossy(&body[..nul]).into_owned();
            if name.contains("..") || name.starts_with('/') {
                return Err(stream_error(format!("invalid file name \"{name}\"")));
            }
            let size = be_u64(&body[nul + 1..])?;
            BackupEvent::File { name, size }
        }
        b's' => BackupEvent::Store {
            applied_lsn: Lsn(be_u64(body)?),
        },
        b'w' => {
            if body.len() != 16 {
                return Err(malformed());
            }
            let (start, end) = body.split_at(8);
            BackupEvent::Wal {
                start: Lsn(be_u64(start)?),
                end: Lsn(be_u64(end)?),
            }
        }
        b'd' => BackupEvent::Data(body),
        _ => return Err(malformed()),
    })
}

/// The order rules on top of [`decode_payload`]: data only inside a file or
/// WAL range.
#[derive(Debug, Default)]
pub struct BackupDecoder {
    open: bool,
}

impl BackupDecoder {
    /// The next payload's event.
    pub fn decode<'a>(&mut self, payload: &'a [u8]) -> PgResult<BackupEvent<'a>> {
        let event = decode_payload(payload)?;
        match event {
            BackupEvent::File { .. } | BackupEvent::Store { .. } | BackupEvent::Wal { .. } => {
                self.open = true
            }
            BackupEvent::Data(_) if !self.open => return Err(malformed()),
            _ => {}
        }
        Ok(event)
    }

    /// The COPY ended.
    pub fn copy_done(&mut self) -> BackupEvent<'static> {
        self.open = false;
        BackupEvent::CopyDone
    }
}

/// A running BASE_BACKUP: read it with [`BaseBackupStream::next_event`]
/// until `None`.
pub struct BaseBackupStream {
    /// `None` once the command completed and the connection was closed.
    client: Option<ReplClient>,
    decoder: BackupDecoder,
    payload: Vec<u8>,
    /// The positions of the result sets (start, then end).
    positions: Vec<Lsn>,
    error: Option<PgError>,
}

/// Connects with `replication=true`, creates the slot if asked (`PHYSICAL
/// RESERVE_WAL`), and sends `BASE_BACKUP ( LABEL ..., PROGRESS, CHECKPOINT ... )`.
pub fn start(conninfo: &str, request: &BackupRequest) -> PgResult<BaseBackupStream> {
    let mut client = ReplClient::connect(conninfo)?;
    if let (true, Some(slot)) = (request.create_slot, &request.slot) {
        client.query(&format!(
            "CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL",
            quote_repl_ident(slot)
        ))?;
    }
    client.set_read_timeout(None);
    client.send_query(&format!(
        "BASE_BACKUP ( LABEL {}, PROGRESS, CHECKPOINT '{}' )",
        quote_literal(&request.label),
        if request.fast { "fast" } else { "spread" }
    ))?;
    Ok(BaseBackupStream {
        client: Some(client),
        decoder: BackupDecoder::default(),
        payload: Vec::new(),
        positions: Vec::new(),
        error: None,
    })
}

impl BaseBackupStream {
    /// The next event; `Ok(None)` once the command completed (the connection
    /// is then closed). An error the server reported is returned when the
    /// command completes.
    pub fn next_event(&mut self) -> PgResult<Option<BackupEvent<'_>>> {
        loop {
            let Some(client) = self.client.as_mut() else {
                return Ok(None);
            };
            match client.read_message()? {
                BackendMessage::DataRow(cols) => {
                    if let Some(Some(text)) = cols.first() {
                        if let Ok(l) = String::from_utf8_lossy(text).parse::<Lsn>() {
                            self.positions.push(l);
                        }
                    }
                }
                // an empty payload carries nothing; skip it
                BackendMessage::CopyData(payload) if payload.is_empty() => {}
                BackendMessage::CopyData(payload) => {
                    self.payload = payload;
                    return self.decoder.decode(&self.payload).map(Some);
                }
                BackendMessage::CopyDone => return Ok(Some(self.decoder.copy_done())),
                BackendMessage::ErrorResponse(e) => self.error = Some(e.to_pg_error()),
                BackendMessage::ReadyForQuery(_) => {
                    if let Some(c) = self.client.take() {
                        c.close();
                    }
                    return match self.error.take() {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                _ => {}
            }
        }
    }

    /// The backup's end position (the last result set's), once the stream
    /// ended; `Lsn::INVALID` if the server sent none.
    pub fn end_lsn(&self) -> Lsn {
        self.positions.last().copied().unwrap_or(Lsn::INVALID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &[u8], size: u64) -> Vec<u8> {
        let mut p = vec![b'f'];
        p.extend_from_slice(name);
        p.push(0);
        p.extend_from_slice(&size.to_be_bytes());
        p
    }

    #[test]
    fn decodes_each_message() {
        let mut t = vec![b't'];
        t.extend_from_slice(&1234u64.to_be_bytes());
        assert_eq!(decode_payload(&t).unwrap(), BackupEvent::Total(1234));
        assert_eq!(
            decode_payload(&file(b"base/checkpoint", 9)).unwrap(),
            BackupEvent::File {
                name: "base/checkpoint".into(),
                size: 9
            }
        );
        let mut w = vec![b'w'];
        w.extend_from_slice(&0x100u64.to_be_bytes());
        w.extend_from_slice(&0x200u64.to_be_bytes());
        assert_eq!(
            decode_payload(&w).unwrap(),
            BackupEvent::Wal {
                start: Lsn(0x100),
                end: Lsn(0x200)
            }
        );
        let mut st = vec![b's'];
        st.extend_from_slice(&0x300u64.to_be_bytes());
        assert_eq!(
            decode_payload(&st).unwrap(),
            BackupEvent::Store {
                applied_lsn: Lsn(0x300)
            }
        );
        assert_eq!(decode_payload(b"dabc").unwrap(), BackupEvent::Data(b"abc"));
        assert_eq!(decode_payload(b"d").unwrap(), BackupEvent::Data(b""));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let msg = |p: &[u8]| decode_payload(p).map(|_| ()).unwrap_err().message;
        let m = "malformed base backup stream";
        assert_eq!(msg(b""), m);
        assert_eq!(msg(b"x123"), m);
        assert_eq!(msg(b"t"), m);
        assert_eq!(msg(b"s1234"), m);
        assert_eq!(msg(b"t1234567"), m);
        assert_eq!(msg(b"t123456789"), m);
        assert_eq!(msg(b"fname"), m);
        assert_eq!(msg(b"fname\0\x01"), m);
        assert_eq!(msg(&[b'w'; 9]), m);
        assert_eq!(msg(&[b'w'; 20]), m);
        assert_eq!(
            msg(&file(b"../etc/passwd", 1)),
            "invalid file name \"../etc/passwd\""
        );
        assert_eq!(
            msg(&file(b"/etc/passwd", 1)),
            "invalid file name \"/etc/passwd\""
        );
        // non-UTF-8 names do not panic
        assert!(decode_payload(&file(b"\xff\xfe", 0)).is_ok());
    }

    #[test]
    fn data_only_inside_a_file_or_wal_range() {
        let mut d = BackupDecoder::default();
        assert!(d.decode(b"dxx").is_err());
        let mut t = vec![b't'];
        t.extend_from_slice(&2u64.to_be_bytes());
        assert_eq!(d.decode(&t).unwrap(), BackupEvent::Total(2));
        assert!(d.decode(b"dxx").is_err());
        d.decode(&file(b"a", 2)).unwrap();
        assert_eq!(d.decode(b"dxx").unwrap(), BackupEvent::Data(b"xx"));
        assert_eq!(d.copy_done(), BackupEvent::CopyDone);
        assert!(d.decode(b"dxx").is_err());
    }
}
