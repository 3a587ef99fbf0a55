//! Messages the server sends: authentication requests, ParameterStatus,
//! BackendKeyData, ReadyForQuery, query results, errors and notices, the
//! extended-protocol acknowledgements and the COPY sub-protocol.
//!
//! [`BackendMessage::encode`] is the server's side; [`BackendMessage::decode`] is
//! the client's (walreceiver, apply worker), including CopyBothResponse (`W`) that
//! starts replication streaming. ErrorResponse and NoticeResponse are built from a
//! [`PgError`] in exactly one place, [`encode_error`], with the fields PostgreSQL
//! sends: `S` (localized severity), `V` (severity), `C` (SQLSTATE), `M`, and when
//! present `D`, `H`, `P`.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/pqformat.c` and the senders in
//! `src/backend/tcop/dest.c`, `src/backend/utils/error/elog.c`
//! (`send_message_to_frontend`) and `src/interfaces/libpq/fe-protocol3.c` (decoding).

use std::collections::HashSet;
use std::sync::Mutex;

use tandem_types::{PgError, PgResult, Severity, SqlState};

use tandem_types::bytes_io::{BufMut, PutBytes};

use crate::buf::{begin_message, check_utf8, finish_message, protocol_violation, GetStr, Reader};

/// One RowDescription field, in wire terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    pub name: String,
    pub table_oid: u32,
    pub column_id: i16,
    pub type_oid: u32,
    pub type_size: i16,
    pub type_modifier: i32,
    /// 0 text, 1 binary
    pub format: i16,
}

/// The fields of an ErrorResponse/NoticeResponse as a client received them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ErrorFields {
    pub fields: Vec<(u8, String)>,
}

impl ErrorFields {
    pub fn get(&self, code: u8) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> &str {
        self.get(b'C').unwrap_or("XX000")
    }

    pub fn message(&self) -> &str {
        self.get(b'M').unwrap_or("")
    }

    /// Rebuilds a [`PgError`] (SQLSTATE codes are interned: there are few of them).
    pub fn to_pg_error(&self) -> PgError {
        let severity = match self.get(b'V').or(self.get(b'S')).unwrap_or("ERROR") {
            "FATAL" => Severity::Fatal,
            "PANIC" => Severity::Panic,
            "WARNING" => Severity::Warning,
            "NOTICE" => Severity::Notice,
            "DEBUG" => Severity::Debug,
            "INFO" => Severity::Info,
            "LOG" => Severity::Log,
            _ => Severity::Error,
        };
        PgError {
            severity,
            code: SqlState(intern_sqlstate(self.code())),
            message: self.message().to_string(),
            detail: self.get(b'D').map(str::to_string),
            hint: self.get(b'H').map(Box::from),
            position: self.get(b'P').and_then(|p| p.parse().ok()),
            context: self.get(b'W').map(Box::from),
            extra: match (self.get(b's'), self.get(b't')) {
                (Some(schema), Some(table)) => Some(Box::new(tandem_types::ErrorExtra {
                    locate: None,
                    objects: Some(tandem_types::ErrorObjects {
                        schema: schema.to_string(),
                        table: table.to_string(),
                        column: self.get(b'c').map(str::to_string),
                        constraint: self.get(b'n').map(str::to_string),
                    }),
                })),
                _ => None,
            },
        }
    }
}

fn intern_sqlstate(code: &str) -> &'static str {
    static CODES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut guard = match CODES.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(c) = set.get(code) {
        return c;
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

/// A backend message (both directions of the codec use this type).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendMessage {
    AuthenticationOk,
    AuthenticationCleartextPassword,
    AuthenticationMd5Password {
        salt: [u8; 4],
    },
    /// Mechanisms offered, e.g. `["SCRAM-SHA-256"]`.
    AuthenticationSasl {
        mechanisms: Vec<String>,
    },
    AuthenticationSaslContinue(Vec<u8>),
    AuthenticationSaslFinal(Vec<u8>),
    ParameterStatus {
        name: String,
        value: String,
    },
    BackendKeyData {
        pid: i32,
        secret: u32,
    },
    /// `b'I'`, `b'T'` or `b'E'`.
    ReadyForQuery(u8),
    /// NotificationResponse: a NOTIFY on a channel this session listens to.
    NotificationResponse {
        pid: i32,
        channel: String,
        payload: String,
    },
    RowDescription(Vec<FieldDesc>),
    DataRow(Vec<Option<Vec<u8>>>),
    CommandComplete(String),
    EmptyQueryResponse,
    ErrorResponse(ErrorFields),
    NoticeResponse(ErrorFields),
    ParseComplete,
    BindComplete,
    CloseComplete,
    NoData,
    ParameterDescription(Vec<u32>),
    PortalSuspended,
    CopyInResponse {
        format: u8,
        column_formats: Vec<i16>,
    },
    CopyOutResponse {
        format: u8,
        column_formats: Vec<i16>,
    },
    CopyBothResponse {
        format: u8,
        column_formats: Vec<i16>,
    },
    CopyData(Vec<u8>),
    CopyDone,
    NegotiateProtocolVersion {
        newest_minor: u32,
        unrecognized: Vec<String>,
    },
}

/// Appends an ErrorResponse (`E`) or, for warnings and below, a NoticeResponse
/// (`N`) built from `err`.
pub fn encode_error(err: &PgError, buf: &mut Vec<u8>) {
    let tag = match err.severity {
        Severity::Error | Severity::Fatal | Severity::Panic => b'E',
        _ => b'N',
    };
    let at = begin_message(buf, tag);
    let sev = err.severity.as_str();
    field(buf, b'S', sev);
    field(buf, b'V', sev);
    field(buf, b'C', err.code.code());
    field(buf, b'M', &err.message);
    if let Some(d) = &err.detail {
        field(buf, b'D', d);
    }
    if let Some(h) = &err.hint {
        field(buf, b'H', h);
    }
    if let Some(p) = err.position {
        field(buf, b'P', &p.to_string());
    }
    if let Some(w) = &err.context {
        field(buf, b'W', w);
    }
    if let Some(o) = err.objects() {
        field(buf, b's', &o.schema);
        field(buf, b't', &o.table);
        if let Some(c) = &o.column {
            field(buf, b'c', c);
        }
        if let Some(n) = &o.constraint {
            field(buf, b'n', n);
        }
    }
    buf.push(0);
    finish_message(buf, at);
}

fn field(buf: &mut Vec<u8>, code: u8, value: &str) {
    buf.push(code);
    buf.put_cstr(value);
}

/// Appends a RowDescription.
pub fn encode_row_description(fields: &[FieldDesc], buf: &mut Vec<u8>) {
    let at = begin_message(buf, b'T');
    buf.put_i16(fields.len() as i16);
    for f in fields {
        buf.put_cstr(&f.name);
        buf.put_u32(f.table_oid);
        buf.put_i16(f.column_id);
        buf.put_u32(f.type_oid);
        buf.put_i16(f.type_size);
        buf.put_i32(f.type_modifier);
        buf.put_i16(f.format);
    }
    finish_message(buf, at);
}

fn copy_response(buf: &mut Vec<u8>, tag: u8, format: u8, column_formats: &[i16]) {
    let at = begin_message(buf, tag);
    buf.push(format);
    buf.put_i16(column_formats.len() as i16);
    for f in column_formats {
        buf.put_i16(*f);
    }
    finish_message(buf, at);
}

fn auth(buf: &mut Vec<u8>, code: i32, payload: &[u8]) {
    let at = begin_message(buf, b'R');
    buf.put_i32(code);
    buf.extend_from_slice(payload);
    finish_message(buf, at);
}

fn simple(buf: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    let at = begin_message(buf, tag);
    buf.extend_from_slice(payload);
    finish_message(buf, at);
}

impl BackendMessage {
    /// Appends the framed message to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            BackendMessage::AuthenticationOk => auth(buf, 0, &[]),
            BackendMessage::AuthenticationCleartextPassword => auth(buf, 3, &[]),
            BackendMessage::AuthenticationMd5Password { salt } => auth(buf, 5, salt),
            BackendMessage::AuthenticationSasl { mechanisms } => {
                let mut payload = Vec::new();
                for m in mechanisms {
                    payload.put_cstr(m);
                }
                payload.push(0);
                auth(buf, 10, &payload)
            }
            BackendMessage::AuthenticationSaslContinue(d) => auth(buf, 11, d),
            BackendMessage::AuthenticationSaslFinal(d) => auth(buf, 12, d),
            BackendMessage::ParameterStatus { name, value } => {
                let at = begin_message(buf, b'S');
                buf.put_cstr(name);
                buf.put_cstr(value);
                finish_message(buf, at);
            }
            BackendMessage::BackendKeyData { pid, secret } => {
                let at = begin_message(buf, b'K');
                buf.put_i32(*pid);
                buf.put_u32(*secret);
                finish_message(buf, at);
            }
            BackendMessage::ReadyForQuery(s) => simple(buf, b'Z', &[*s]),
            BackendMessage::NotificationResponse {
                pid,
                channel,
                payload,
            } => {
                let at = begin_message(buf, b'A');
                buf.put_i32(*pid);
                buf.put_cstr(channel);
                buf.put_cstr(payload);
                finish_message(buf, at);
            }
            BackendMessage::RowDescription(fields) => encode_row_description(fields, buf),
            BackendMessage::DataRow(values) => {
                let at = begin_message(buf, b'D');
                buf.put_i16(values.len() as i16);
                for v in values {
                    match v {
                        None => buf.put_i32(-1),
                        Some(b) => {
                            buf.put_i32(b.len() as i32);
                            buf.extend_from_slice(b);
                        }
                    }
                }
                finish_message(buf, at);
            }
            BackendMessage::CommandComplete(tag) => {
                let at = begin_message(buf, b'C');
                buf.put_cstr(tag);
                finish_message(buf, at);
            }
            BackendMessage::EmptyQueryResponse => simple(buf, b'I', &[]),
            BackendMessage::ErrorResponse(f) | BackendMessage::NoticeResponse(f) => {
                let tag = if matches!(self, BackendMessage::ErrorResponse(_)) {
                    b'E'
                } else {
                    b'N'
                };
                let at = begin_message(buf, tag);
                for (code, value) in &f.fields {
                    field(buf, *code, value);
                }
                buf.push(0);
                finish_message(buf, at);
            }
            BackendMessage::ParseComplete => simple(buf, b'1', &[]),
            BackendMessage::BindComplete => simple(buf, b'2', &[]),
            BackendMessage::CloseComplete => simple(buf, b'3', &[]),
            BackendMessage::NoData => simple(buf, b'n', &[]),
            BackendMessage::PortalSuspended => simple(buf, b's', &[]),
            BackendMessage::ParameterDescription(oids) => {
                let at = begin_message(buf, b't');
                buf.put_i16(oids.len() as i16);
                for o in oids {
                    buf.put_u32(*o);
                }
                finish_message(buf, at);
            }
            BackendMessage::CopyInResponse {
                format,
                column_formats,
            } => copy_response(buf, b'G', *format, column_formats),
            BackendMessage::CopyOutResponse {
                format,
                column_formats,
            } => copy_response(buf, b'H', *format, column_formats),
            BackendMessage::CopyBothResponse {
                format,
                column_formats,
            } => copy_response(buf, b'W', *format, column_formats),
            BackendMessage::CopyData(d) => simple(buf, b'd', d),
            BackendMessage::CopyDone => simple(buf, b'c', &[]),
            BackendMessage::NegotiateProtocolVersion {
                newest_minor,
                unrecognized,
            } => {
                let at = begin_message(buf, b'v');
                buf.put_u32(*newest_minor);
                buf.put_u32(unrecognized.len() as u32);
                for o in unrecognized {
                    buf.put_cstr(o);
                }
                finish_message(buf, at);
            }
        }
    }

    /// Decodes one message body (client side). Unknown tags and malformed bodies
    /// are `08P01` errors.
    pub fn decode(tag: u8, body: &[u8]) -> PgResult<BackendMessage> {
        let mut r = Reader::new(body);
        let msg = match tag {
            b'R' => match r.get_i32()? {
                0 => BackendMessage::AuthenticationOk,
                3 => BackendMessage::AuthenticationCleartextPassword,
                5 => {
                    let s = r.get_bytes(4)?;
                    BackendMessage::AuthenticationMd5Password {
                        salt: [s[0], s[1], s[2], s[3]],
                    }
                }
                10 => {
                    let mut mechanisms = Vec::new();
                    loop {
                        let m = r.get_cstr()?;
                        if m.is_empty() {
                            break;
                        }
                        mechanisms.push(m.to_string());
                    }
                    BackendMessage::AuthenticationSasl { mechanisms }
                }
                11 => BackendMessage::AuthenticationSaslContinue(r.get_rest().to_vec()),
                12 => BackendMessage::AuthenticationSaslFinal(r.get_rest().to_vec()),
                other => {
                    return Err(protocol_violation(format!(
                        "unsupported authentication request {other}"
                    )))
                }
            },
            b'S' => BackendMessage::ParameterStatus {
                name: r.get_cstr()?.to_string(),
                value: r.get_cstr()?.to_string(),
            },
            b'K' => BackendMessage::BackendKeyData {
                pid: r.get_i32()?,
                secret: r.get_u32()?,
            },
            b'Z' => BackendMessage::ReadyForQuery(r.get_u8()?),
            b'A' => BackendMessage::NotificationResponse {
                pid: r.get_i32()?,
                channel: r.get_cstr()?.to_string(),
                payload: r.get_cstr()?.to_string(),
            },
            b'T' => {
                let n = r.get_i16()? as u16 as usize;
                let mut fields = Vec::with_capacity(n.min(r.remaining() / 19));
                for _ in 0..n {
                    fields.push(FieldDesc {
                        name: r.get_cstr()?.to_string(),
                        table_oid: r.get_u32()?,
                        column_id: r.get_i16()?,
                        type_oid: r.get_u32()?,
                        type_size: r.get_i16()?,
                        type_modifier: r.get_i32()?,
                        format: r.get_i16()?,
                    });
                }
                BackendMessage::RowDescription(fields)
            }
            b'D' => {
                let n = r.get_i16()? as u16 as usize;
                let mut values = Vec::with_capacity(n.min(r.remaining() / 4));
                for _ in 0..n {
                    let len = r.get_i32()?;
                    if len == -1 {
                        values.push(None);
                    } else if len < 0 {
                        return Err(protocol_violation("insufficient data left in message"));
                    } else {
                        values.push(Some(r.get_bytes(len as usize)?.to_vec()));
                    }
                }
                BackendMessage::DataRow(values)
            }
            b'C' => BackendMessage::CommandComplete(r.get_cstr()?.to_string()),
            b'I' => BackendMessage::EmptyQueryResponse,
            b'E' | b'N' => {
                let mut fields = Vec::new();
                loop {
                    let code = r.get_u8()?;
                    if code == 0 {
                        break;
                    }
                    fields.push((code, r.get_cstr()?.to_string()));
                }
                let f = ErrorFields { fields };
                if tag == b'E' {
                    BackendMessage::ErrorResponse(f)
                } else {
                    BackendMessage::NoticeResponse(f)
                }
            }
            b'1' => BackendMessage::ParseComplete,
            b'2' => BackendMessage::BindComplete,
            b'3' => BackendMessage::CloseComplete,
            b'n' => BackendMessage::NoData,
            b's' => BackendMessage::PortalSuspended,
            b't' => {
                let n = r.get_i16()? as u16 as usize;
                let mut oids = Vec::with_capacity(n.min(r.remaining() / 4));
                for _ in 0..n {
                    oids.push(r.get_u32()?);
                }
                BackendMessage::ParameterDescription(oids)
            }
            b'G' | b'H' | b'W' => {
                let format = r.get_u8()?;
                let n = r.get_i16()? as u16 as usize;
                let mut column_formats = Vec::with_capacity(n.min(r.remaining() / 2));
                for _ in 0..n {
                    column_formats.push(r.get_i16()?);
                }
                match tag {
                    b'G' => BackendMessage::CopyInResponse {
                        format,
                        column_formats,
                    },
                    b'H' => BackendMessage::CopyOutResponse {
                        format,
                        column_formats,
                    },
                    _ => BackendMessage::CopyBothResponse {
                        format,
                        column_formats,
                    },
                }
            }
            b'd' => BackendMessage::CopyData(r.get_rest().to_vec()),
            b'c' => BackendMessage::CopyDone,
            b'v' => {
                let newest_minor = r.get_u32()?;
                let n = r.get_u32()? as usize;
                let mut unrecognized = Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n {
                    unrecognized.push(check_utf8(r.get_cstr_bytes()?)?.to_string());
                }
                BackendMessage::NegotiateProtocolVersion {
                    newest_minor,
                    unrecognized,
                }
            }
            other => {
                return Err(protocol_violation(format!(
                    "unexpected message type 0x{other:02X}"
                )))
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

/// Longest backend message a client accepts (PostgreSQL sends up to 1 GB rows).
pub const MAX_BACKEND_MESSAGE: usize = 0x3fff_ffff;

/// Splits a buffered stream (client side): `Ok(None)` until a whole message is
/// there, else the message and the bytes it used.
pub fn parse_backend_message(buf: &[u8]) -> PgResult<Option<(BackendMessage, usize)>> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len < 4 || len - 4 > MAX_BACKEND_MESSAGE {
        return Err(PgError::new(
            SqlState::PROTOCOL_VIOLATION,
            "invalid message length",
        ));
    }
    if buf.len() < 1 + len {
        return Ok(None);
    }
    Ok(Some((
        BackendMessage::decode(buf[0], &buf[5..1 + len])?,
        1 + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(msg: BackendMessage) {
        let mut buf = Vec::new();
        msg.encode(&mut buf);
        let (back, used) = parse_backend_message(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(back, msg);
    }

    #[test]
    fn constraint_errors_carry_their_objects() {
        let err = PgError::new(
            tandem_types::SqlState::UNIQUE_VIOLATION,
            "duplicate key value violates unique constraint \"t_a_key\"",
        )
        .with_constraint("public", "t", "t_a_key");
        let mut buf = Vec::new();
        encode_error(&err, &mut buf);
        let fields: Vec<(u8, String)> = match parse_backend_message(&buf) {
            Ok(Some((BackendMessage::ErrorResponse(f), _))) => f.fields,
            other => panic!("{other:?}"),
        };
        let get = |c: u8| {
            fields
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            (get(b's'), get(b't'), get(b'n')),
            (Some("public"), Some("t"), Some("t_a_key"))
        );
        assert_eq!(get(b'c'), None);
        let back = ErrorFields { fields }.to_pg_error();
        assert_eq!(back.objects(), err.objects());
    }

    #[test]
    fn every_message_roundtrips() {
        use BackendMessage::*;
        for m in [
            AuthenticationOk,
            AuthenticationCleartextPassword,
            AuthenticationMd5Password { salt: [1, 2, 3, 4] },
            AuthenticationSasl {
                mechanisms: vec!["SCRAM-SHA-256".into()],
            },
            AuthenticationSaslContinue(b"r=abc".to_vec()),
            AuthenticationSaslFinal(b"v=xyz".to_vec()),
            ParameterStatus {
                name: "server_version".into(),
                value: "17.0".into(),
            },
            BackendKeyData {
                pid: 1234,
                secret: 0xdead_beef,
            },
            ReadyForQuery(b'I'),
            NotificationResponse {
                pid: 42,
                channel: "jobs".into(),
                payload: "done".into(),
            },
            RowDescription(vec![FieldDesc {
                name: "a".into(),
                table_oid: 16384,
                column_id: 1,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: 0,
            }]),
            DataRow(vec![Some(b"1".to_vec()), None, Some(vec![])]),
            CommandComplete("SELECT 1".into()),
            EmptyQueryResponse,
            ErrorResponse(ErrorFields {
                fields: vec![(b'S', "ERROR".into()), (b'C', "42P01".into())],
            }),
            NoticeResponse(ErrorFields {
                fields: vec![(b'M', "hi".into())],
            }),
            ParseComplete,
            BindComplete,
            CloseComplete,
            NoData,
            ParameterDescription(vec![23, 25]),
            PortalSuspended,
            CopyInResponse {
                format: 0,
                column_formats: vec![0, 0],
            },
            CopyOutResponse {
                format: 0,
                column_formats: vec![0],
            },
            CopyBothResponse {
                format: 0,
                column_formats: vec![],
            },
            CopyData(b"x".to_vec()),
            CopyDone,
            NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized: vec!["_pq_.foo".into()],
            },
        ] {
            roundtrip(m);
        }
    }

    #[test]
    fn error_response_carries_every_field() {
        let err = PgError::new(SqlState::UNDEFINED_TABLE, "relation \"t\" does not exist")
            .with_detail("d")
            .with_hint("h")
            .with_position(15);
        let mut buf = Vec::new();
        encode_error(&err, &mut buf);
        assert_eq!(buf[0], b'E');
        let (msg, _) = parse_backend_message(&buf).unwrap().unwrap();
        let BackendMessage::ErrorResponse(f) = msg else {
            panic!("not an error: {msg:?}")
        };
        assert_eq!(f.get(b'S'), Some("ERROR"));
        assert_eq!(f.get(b'V'), Some("ERROR"));
        assert_eq!(f.code(), "42P01");
        assert_eq!(f.to_pg_error(), err);
        let mut buf = Vec::new();
        encode_error(&PgError::notice("n"), &mut buf);
        assert_eq!(buf[0], b'N');
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let tags = b"RSKZTDCIEN123nstGHWdcvx";
        for _ in 0..20_000 {
            let len = rng.gen_range(0..40);
            let body: Vec<u8> = (0..len)
                .map(|_| if rng.gen_bool(0.3) { 0 } else { rng.gen() })
                .collect();
            let tag = tags[rng.gen_range(0..tags.len())];
            let _ = BackendMessage::decode(tag, &body);
            let _ = parse_backend_message(&body);
        }
    }
}
