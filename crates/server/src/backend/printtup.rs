//! [`SocketSink`]: the [`QuerySink`] a session answers into, encoding each answer
//! as a backend message in the connection's output buffer, plus the COPY FROM
//! STDIN reader.
//!
//! COPY in (PostgreSQL's `copyfromparse.c`, `CopyGetData`): after CopyInResponse
//! the output is flushed and messages are read: CopyData gives data, CopyDone
//! ends, CopyFail fails with `57014 COPY from stdin failed: <msg>`, Flush and Sync
//! are ignored, anything else is `08P01 unexpected message type 0x.. during COPY
//! from stdin`. While `copy_in_active` is set the client may still be sending data;
//! [`drain_copy_in`] discards it up to CopyDone/CopyFail after a failed COPY.
//!
//! Corresponds to PostgreSQL's `src/backend/access/common/printtup.c` (DataRow,
//! RowDescription) and `commands/copyfromparse.c` / `copyto.c` (COPY messages).

use std::sync::Arc;

use tandem_protocol::buf::{begin_message, finish_message};
use tandem_protocol::{BackendMessage, FieldDesc};
use tandem_sql::{FieldDescription, QuerySink};
use tandem_types::bytes_io::{put_i32_sized, BufMut};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::backend::pqcomm::{Conn, ReadError};
use crate::procarray::BackendEntry;

pub(crate) struct SocketSink<'a> {
    pub conn: &'a mut Conn,
    pub entry: &'a Arc<BackendEntry>,
}

fn io_failure() -> PgError {
    PgError::fatal(
        SqlState::CONNECTION_FAILURE,
        "could not send data to client: Broken pipe",
    )
}

impl SocketSink<'_> {
    fn flush_if_big(&mut self) -> PgResult<()> {
        self.conn.maybe_flush().map_err(|_| io_failure())
    }
}

/// Appends one DataRow: text via `text_out`, binary via `binary_out`, NULL as -1.
pub(crate) fn encode_data_row(conn: &mut Conn, row: &[Value], types: &[DataType], formats: &[i16]) {
    let mut scratch = std::mem::take(&mut conn.scratch);
    let out = conn.out();
    let at = begin_message(out, b'D');
    out.put_i16(row.len() as i16);
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            out.put_i32(-1);
            continue;
        }
        let format = match formats.len() {
            0 => 0,
            1 => formats[0],
            _ => formats.get(i).copied().unwrap_or(0),
        };
        put_i32_sized(out, |out| {
            if format == 1 {
                let ty = types.get(i).cloned().unwrap_or(DataType::Text);
                tandem_expr::binary_out(value, &ty, out);
            } else {
                scratch.clear();
                tandem_expr::text_out(value, &mut scratch);
                out.extend_from_slice(scratch.as_bytes());
            }
        });
    }
    finish_message(out, at);
    conn.scratch = scratch;
}

impl QuerySink for SocketSink<'_> {
    fn row_description(&mut self, fields: &[FieldDescription]) -> PgResult<()> {
        let wire: Vec<FieldDesc> = fields
            .iter()
            .map(|f| FieldDesc {
                name: f.name.clone(),
                table_oid: f.table_oid,
                column_id: f.column_id,
                type_oid: f.data_type.oid(),
                type_size: f.data_type.typlen(),
                type_modifier: f.data_type.typmod(),
                format: f.format,
            })
            .collect();
        tandem_protocol::backend::encode_row_description(&wire, self.conn.out());
        Ok(())
    }

    fn data_row(&mut self, row: &[Value], types: &[DataType], formats: &[i16]) -> PgResult<()> {
        encode_data_row(self.conn, row, types, formats);
        self.flush_if_big()
    }

    fn command_complete(&mut self, tag: &str) -> PgResult<()> {
        self.conn
            .send(&BackendMessage::CommandComplete(tag.to_string()));
        Ok(())
    }

    fn empty_query(&mut self) -> PgResult<()> {
        self.conn.send(&BackendMessage::EmptyQueryResponse);
        Ok(())
    }

    fn no_data(&mut self) -> PgResult<()> {
        self.conn.send(&BackendMessage::NoData);
        Ok(())
    }

    fn parameter_description(&mut self, types: &[DataType]) -> PgResult<()> {
        self.conn.send(&BackendMessage::ParameterDescription(
            types.iter().map(|t| t.oid()).collect(),
        ));
        Ok(())
    }

    fn notice(&mut self, notice: &PgError) -> PgResult<()> {
        self.conn.send_error(notice);
        Ok(())
    }

    fn parameter_status(&mut self, name: &str, value: &str) -> PgResult<()> {
        if name == "application_name" {
            self.entry.activity.lock().application_name = value.to_string();
        }
        self.conn.send(&BackendMessage::ParameterStatus {
            name: name.to_string(),
            value: value.to_string(),
        });
        Ok(())
    }

    fn copy_in_response(&mut self, ncols: usize) -> PgResult<()> {
        self.conn.send(&BackendMessage::CopyInResponse {
            format: 0,
            column_formats: vec![0; ncols],
        });
        self.conn.copy_in_active = true;
        self.conn.flush().map_err(|_| io_failure())
    }

    fn copy_in_read(&mut self) -> PgResult<Option<Vec<u8>>> {
        if !self.conn.copy_in_active {
            return Ok(None);
        }
        loop {
            match self.conn.read_raw_message() {
                Ok(Some((b'd', body))) => return Ok(Some(body)),
                Ok(Some((b'c', _))) => {
                    self.conn.copy_in_active = false;
                    return Ok(None);
                }
                Ok(Some((b'f', body))) => {
                    self.conn.copy_in_active = false;
                    let msg = tandem_protocol::frontend::decode_message(b'f', &body)
                        .ok()
                        .and_then(|m| match m {
                            tandem_protocol::FrontendMessage::CopyFail(s) => Some(s),
                            _ => None,
                        })
                        .unwrap_or_default();
                    return Err(PgError::new(
                        SqlState::QUERY_CANCELED,
                        format!("COPY from stdin failed: {msg}"),
                    ));
                }
                Ok(Some((b'H', _))) | Ok(Some((b'S', _))) => continue,
                Ok(Some((tag, _))) => {
                    self.conn.copy_in_active = false;
                    return Err(PgError::new(
                        SqlState::PROTOCOL_VIOLATION,
                        format!("unexpected message type 0x{tag:02X} during COPY from stdin"),
                    ));
                }
                Ok(None) | Err(ReadError::Eof) => {
                    self.conn.copy_in_active = false;
                    return Err(PgError::fatal(
                        SqlState::CONNECTION_FAILURE,
                        "unexpected EOF on client connection with an open transaction",
                    ));
                }
                Err(ReadError::Protocol { err, .. }) => {
                    self.conn.copy_in_active = false;
                    self.conn.broken = true;
                    return Err(err);
                }
            }
        }
    }

    fn copy_out_response(&mut self, ncols: usize) -> PgResult<()> {
        self.conn.send(&BackendMessage::CopyOutResponse {
            format: 0,
            column_formats: vec![0; ncols],
        });
        Ok(())
    }

    fn copy_out_data(&mut self, data: &[u8]) -> PgResult<()> {
        let out = self.conn.out();
        let at = begin_message(out, b'd');
        out.extend_from_slice(data);
        finish_message(out, at);
        self.flush_if_big()
    }

    fn copy_out_done(&mut self) -> PgResult<()> {
        self.conn.send(&BackendMessage::CopyDone);
        Ok(())
    }
}

/// After a COPY FROM STDIN failed before CopyDone: discards the client's
/// remaining CopyData up to CopyDone/CopyFail (or EOF).
pub(crate) fn drain_copy_in(conn: &mut Conn) {
    while conn.copy_in_active && !conn.broken {
        match conn.read_raw_message() {
            Ok(Some((b'd', _))) | Ok(Some((b'H', _))) | Ok(Some((b'S', _))) => {}
            Ok(Some(_)) => conn.copy_in_active = false,
            Ok(None) | Err(_) => {
                conn.copy_in_active = false;
                conn.broken = true;
            }
        }
    }
}
