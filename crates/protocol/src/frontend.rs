//! Messages a client sends: the untyped startup packets (StartupMessage,
//! SSLRequest, GSSENCRequest, CancelRequest) and the typed messages that follow
//! (`Q`, `P`, `B`, `D`, `E`, `S`, `H`, `C`, `X`, `d`, `c`, `f`, `p`, `F`).
//!
//! Decoding is what the server does; encoding is what tandem's own clients (the
//! walreceiver and the apply worker, later) do. Decoding is strict in the way
//! PostgreSQL is: a length outside the per-type limit, a field running past the
//! end of the body, a missing NUL or trailing garbage is an `08P01` error with
//! PostgreSQL's text, and no input makes a decoder panic.
//!
//! Framing (all integers big-endian):
//!
//! ```text
//! startup:  int32 len | int32 code/version | body...      (len counts itself)
//! typed:    byte tag  | int32 len | body...               (len counts itself, not the tag)
//! ```
//!
//! Corresponds to PostgreSQL's `src/backend/postmaster/backend_startup.c`
//! (`ProcessStartupPacket`), `src/backend/tcop/postgres.c` (`SocketBackend`, the
//! `exec_*_message` decoders) and `src/backend/libpq/auth.c` (`p` messages).

use tandem_types::{PgError, PgResult, SqlState};

use tandem_types::bytes_io::{BufMut, PutBytes};

use crate::buf::{begin_message, check_utf8, finish_message, protocol_violation, GetStr, Reader};

/// Longest startup packet accepted (`MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_PACKET_LENGTH: usize = 10_000;
/// Limit for short typed messages (`PQ_SMALL_MESSAGE_LIMIT`).
pub const SMALL_MESSAGE_LIMIT: usize = 10_000;
/// Limit for messages that carry SQL or data (`PQ_LARGE_MESSAGE_LIMIT`, 1 GB - 1).
pub const LARGE_MESSAGE_LIMIT: usize = 0x3fff_ffff;
/// Limit for `p` messages (`PG_MAX_AUTH_TOKEN_LENGTH`).
pub const AUTH_MESSAGE_LIMIT: usize = 65_535;

pub const CANCEL_REQUEST_CODE: u32 = (1234 << 16) | 5678;
pub const SSL_REQUEST_CODE: u32 = (1234 << 16) | 5679;
pub const GSSENC_REQUEST_CODE: u32 = (1234 << 16) | 5680;

/// The protocol this server speaks: 3.0.
pub const PROTOCOL_MAJOR: u16 = 3;
pub const PROTOCOL_MINOR: u16 = 0;

/// The first packet of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    CancelRequest {
        pid: i32,
        secret: u32,
    },
    Startup {
        major: u16,
        minor: u16,
        params: Vec<(String, String)>,
    },
}

/// Validates the 4-byte length word of a startup packet; returns the length of
/// what follows it. PostgreSQL only logs this failure and closes the connection.
pub fn startup_packet_len(header: [u8; 4]) -> PgResult<usize> {
    let len = u32::from_be_bytes(header) as usize;
    if !(8..=MAX_STARTUP_PACKET_LENGTH).contains(&len) {
        return Err(protocol_violation("invalid length of startup packet"));
    }
    Ok(len - 4)
}

/// Decodes a startup packet body (everything after the length word).
pub fn decode_startup(body: &[u8]) -> PgResult<StartupPacket> {
    let mut r = Reader::new(body);
    let code = r.get_u32()?;
    match code {
        SSL_REQUEST_CODE => {
            r.finish()?;
            Ok(StartupPacket::SslRequest)
        }
        GSSENC_REQUEST_CODE => {
            r.finish()?;
            Ok(StartupPacket::GssEncRequest)
        }
        CANCEL_REQUEST_CODE => {
            let pid = r.get_i32()?;
            let secret = r.get_u32()?;
            r.finish()?;
            Ok(StartupPacket::CancelRequest { pid, secret })
        }
        version => {
            let (major, minor) = ((version >> 16) as u16, (version & 0xffff) as u16);
            if major != PROTOCOL_MAJOR {
                // The parameters of other versions have another layout: stop here.
                return Ok(StartupPacket::Startup {
                    major,
                    minor,
                    params: Vec::new(),
                });
            }
            let params = decode_startup_params(r.get_rest())?;
            Ok(StartupPacket::Startup {
                major,
                minor,
                params,
            })
        }
    }
}

fn decode_startup_params(rest: &[u8]) -> PgResult<Vec<(String, String)>> {
    let layout =
        || protocol_violation("invalid startup packet layout: expected terminator as last byte");
    if rest.last() != Some(&0) {
        return Err(layout());
    }
    let mut r = Reader::new(rest);
    let mut params = Vec::new();
    loop {
        let name = r.get_cstr().map_err(|e| {
            if e.code == SqlState::PROTOCOL_VIOLATION {
                layout()
            } else {
                e
            }
        })?;
        if name.is_empty() {
            break;
        }
        let value = r.get_cstr().map_err(|e| {
            if e.code == SqlState::PROTOCOL_VIOLATION {
                layout()
            } else {
                e
            }
        })?;
        params.push((name.to_string(), value.to_string()));
    }
    r.finish().map_err(|_| layout())?;
    Ok(params)
}

/// `FATAL 0A000 unsupported frontend protocol M.m: server supports 3.0 to 3.0` for
/// another major version. For 3.x with x > 0 returns `Some(0)`: the server answers
/// with NegotiateProtocolVersion naming the newest minor it supports.
pub fn check_protocol_version(major: u16, minor: u16) -> PgResult<Option<u16>> {
    if major != PROTOCOL_MAJOR {
        return Err(PgError::fatal(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!(
                "unsupported frontend protocol {major}.{minor}: server supports {PROTOCOL_MAJOR}.0 to {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"
            ),
        ));
    }
    Ok((minor > PROTOCOL_MINOR).then_some(PROTOCOL_MINOR))
}

/// Describe/Close target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Statement,
    Portal,
}

impl Target {
    fn byte(self) -> u8 {
        match self {
            Target::Statement => b'S',
            Target::Portal => b'P',
        }
    }
}

/// A typed frontend message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrontendMessage {
    Query(String),
    Parse {
        name: String,
        query: String,
        param_types: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Vec<u8>>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: Target,
        name: String,
    },
    /// `max_rows == 0` means all rows (a negative count on the wire also does).
    Execute {
        portal: String,
        max_rows: u32,
    },
    Sync,
    Flush,
    Close {
        target: Target,
        name: String,
    },
    Terminate,
    CopyData(Vec<u8>),
    CopyDone,
    CopyFail(String),
    /// `p`: PasswordMessage, SASLInitialResponse or SASLResponse; which one depends
    /// on what the server asked for (see [`decode_password`], [`decode_sasl_initial`]).
    AuthResponse(Vec<u8>),
    /// `F`: the fast-path function call interface (not supported by tandem).
    FunctionCall,
}

/// The largest body accepted for message type `tag`, or PostgreSQL's
/// `FATAL 08P01 invalid frontend message type N` for a type it does not know.
pub fn message_limit(tag: u8) -> PgResult<usize> {
    match tag {
        b'Q' | b'P' | b'B' | b'F' | b'd' => Ok(LARGE_MESSAGE_LIMIT),
        b'p' => Ok(AUTH_MESSAGE_LIMIT),
        b'E' | b'S' | b'H' | b'C' | b'D' | b'X' | b'c' | b'f' => Ok(SMALL_MESSAGE_LIMIT),
        _ => Err(invalid_message_type(tag)),
    }
}

pub fn invalid_message_type(tag: u8) -> PgError {
    PgError::fatal(
        SqlState::PROTOCOL_VIOLATION,
        format!("invalid frontend message type {tag}"),
    )
}

/// Validates a typed message header (tag and length word); returns the body
/// length. A length outside `4..=limit+4` is `invalid message length`, which
/// PostgreSQL logs before dropping the connection without an answer.
pub fn decode_header(header: [u8; 5]) -> PgResult<(u8, usize)> {
    let tag = header[0];
    let limit = message_limit(tag)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len < 4 || len - 4 > limit {
        return Err(PgError::fatal(
            SqlState::PROTOCOL_VIOLATION,
            "invalid message length",
        ));
    }
    Ok((tag, len - 4))
}

/// Decodes the body of a typed message whose header passed [`decode_header`].
pub fn decode_message(tag: u8, body: &[u8]) -> PgResult<FrontendMessage> {
    let mut r = Reader::new(body);
    let msg = match tag {
        b'Q' => FrontendMessage::Query(r.get_cstr()?.to_string()),
        b'P' => {
            let name = r.get_cstr()?.to_string();
            let query = r.get_cstr()?.to_string();
            let n = r.get_i16()? as u16 as usize;
            let mut param_types = Vec::with_capacity(n.min(r.remaining() / 4));
            for _ in 0..n {
                param_types.push(r.get_u32()?);
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            }
        }
        b'B' => decode_bind(&mut r)?,
        b'D' | b'C' => {
            let kind = r.get_u8()?;
            let target = match kind {
                b'S' => Target::Statement,
                b'P' => Target::Portal,
                other => {
                    let what = if tag == b'D' { "DESCRIBE" } else { "CLOSE" };
                    return Err(protocol_violation(format!(
                        "invalid {what} message subtype {other}"
                    )));
                }
            };
            let name = r.get_cstr()?.to_string();
            if tag == b'D' {
                FrontendMessage::Describe { target, name }
            } else {
                FrontendMessage::Close { target, name }
            }
        }
        b'E' => {
            let portal = r.get_cstr()?.to_string();
            let max_rows = r.get_i32()?.max(0) as u32;
            FrontendMessage::Execute { portal, max_rows }
        }
        b'S' => FrontendMessage::Sync,
        b'H' => FrontendMessage::Flush,
        b'X' => FrontendMessage::Terminate,
        b'd' => FrontendMessage::CopyData(r.get_rest().to_vec()),
        b'c' => FrontendMessage::CopyDone,
        b'f' => FrontendMessage::CopyFail(r.get_cstr()?.to_string()),
        b'p' => FrontendMessage::AuthResponse(r.get_rest().to_vec()),
        b'F' => {
            let _ = r.get_rest();
            FrontendMessage::FunctionCall
        }
        other => return Err(invalid_message_type(other)),
    };
    r.finish()?;
    Ok(msg)
}

fn decode_bind(r: &mut Reader<'_>) -> PgResult<FrontendMessage> {
    let portal = r.get_cstr()?.to_string();
    let statement = r.get_cstr()?.to_string();
    let nformats = r.get_i16()? as u16 as usize;
    let mut param_formats = Vec::with_capacity(nformats.min(r.remaining() / 2));
    for _ in 0..nformats {
        param_formats.push(r.get_i16()?);
    }
    let nparams = r.get_i16()? as u16 as usize;
    if nformats > 1 && nformats != nparams {
        return Err(protocol_violation(format!(
            "bind message has {nformats} parameter formats but {nparams} parameters"
        )));
    }
    let mut params = Vec::with_capacity(nparams.min(r.remaining() / 4));
    for _ in 0..nparams {
        let len = r.get_i32()?;
        if len == -1 {
            params.push(None);
        } else if len < 0 {
            return Err(protocol_violation("insufficient data left in message"));
        } else {
            params.push(Some(r.get_bytes(len as usize)?.to_vec()));
        }
    }
    let nresults = r.get_i16()? as u16 as usize;
    let mut result_formats = Vec::with_capacity(nresults.min(r.remaining() / 2));
    for _ in 0..nresults {
        result_formats.push(r.get_i16()?);
    }
    Ok(FrontendMessage::Bind {
        portal,
        statement,
        param_formats,
        params,
        result_formats,
    })
}

/// Decodes a whole buffer: `Ok(None)` while it holds less than one complete
/// message, else the message and the bytes it used. For tests, fuzzing and
/// clients that buffer.
pub fn parse_message(buf: &[u8]) -> PgResult<Option<(FrontendMessage, usize)>> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let (tag, len) = decode_header([buf[0], buf[1], buf[2], buf[3], buf[4]])?;
    if buf.len() < 5 + len {
        return Ok(None);
    }
    Ok(Some((decode_message(tag, &buf[5..5 + len])?, 5 + len)))
}

/// A PasswordMessage body (cleartext password).
pub fn decode_password(body: &[u8]) -> PgResult<String> {
    let mut r = Reader::new(body);
    let pw = r
        .get_cstr_bytes()
        .map_err(|_| protocol_violation("invalid password packet size"))?;
    if r.remaining() != 0 {
        return Err(protocol_violation("invalid password packet size"));
    }
    Ok(check_utf8(pw)?.to_string())
}

/// A SASLInitialResponse body: the mechanism and the client's first message.
pub fn decode_sasl_initial(body: &[u8]) -> PgResult<(String, Option<Vec<u8>>)> {
    let mut r = Reader::new(body);
    let mechanism = r.get_cstr()?.to_string();
    let len = r.get_i32()?;
    let data = if len == -1 {
        None
    } else if len < 0 {
        return Err(protocol_violation("insufficient data left in message"));
    } else {
        Some(r.get_bytes(len as usize)?.to_vec())
    };
    r.finish()?;
    Ok((mechanism, data))
}

/// Encodes a StartupMessage for protocol 3.0 (client side).
pub fn encode_startup(params: &[(&str, &str)], buf: &mut Vec<u8>) {
    let at = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.put_u32(((PROTOCOL_MAJOR as u32) << 16) | PROTOCOL_MINOR as u32);
    for (k, v) in params {
        buf.put_cstr(k);
        buf.put_cstr(v);
    }
    buf.push(0);
    finish_message(buf, at);
}

/// Encodes an SSLRequest, GSSENCRequest or CancelRequest (client side).
pub fn encode_special(packet: &StartupPacket, buf: &mut Vec<u8>) {
    match packet {
        StartupPacket::SslRequest => {
            buf.put_i32(8);
            buf.put_u32(SSL_REQUEST_CODE);
        }
        StartupPacket::GssEncRequest => {
            buf.put_i32(8);
            buf.put_u32(GSSENC_REQUEST_CODE);
        }
        StartupPacket::CancelRequest { pid, secret } => {
            buf.put_i32(16);
            buf.put_u32(CANCEL_REQUEST_CODE);
            buf.put_i32(*pid);
            buf.put_u32(*secret);
        }
        StartupPacket::Startup { params, .. } => {
            let refs: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            encode_startup(&refs, buf);
        }
    }
}

/// A SASLInitialResponse body (client side), wrapped as a `p` message.
pub fn encode_sasl_initial(mechanism: &str, data: &[u8], buf: &mut Vec<u8>) {
    let at = begin_message(buf, b'p');
    buf.put_cstr(mechanism);
    buf.put_i32(data.len() as i32);
    buf.extend_from_slice(data);
    finish_message(buf, at);
}

/// A PasswordMessage (client side).
pub fn encode_password(password: &str, buf: &mut Vec<u8>) {
    let at = begin_message(buf, b'p');
    buf.put_cstr(password);
    finish_message(buf, at);
}

impl FrontendMessage {
    /// Appends the framed message to `buf` (client side).
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            FrontendMessage::Query(q) => {
                let at = begin_message(buf, b'Q');
                buf.put_cstr(q);
                finish_message(buf, at);
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            } => {
                let at = begin_message(buf, b'P');
                buf.put_cstr(name);
                buf.put_cstr(query);
                buf.put_i16(param_types.len() as i16);
                for t in param_types {
                    buf.put_u32(*t);
                }
                finish_message(buf, at);
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => {
                let at = begin_message(buf, b'B');
                buf.put_cstr(portal);
                buf.put_cstr(statement);
                buf.put_i16(param_formats.len() as i16);
                for f in param_formats {
                    buf.put_i16(*f);
                }
                buf.put_i16(params.len() as i16);
                for p in params {
                    match p {
                        None => buf.put_i32(-1),
                        Some(b) => {
                            buf.put_i32(b.len() as i32);
                            buf.extend_from_slice(b);
                        }
                    }
                }
                buf.put_i16(result_formats.len() as i16);
                for f in result_formats {
                    buf.put_i16(*f);
                }
                finish_message(buf, at);
            }
            FrontendMessage::Describe { target, name }
            | FrontendMessage::Close { target, name } => {
                let tag = if matches!(self, FrontendMessage::Describe { .. }) {
                    b'D'
                } else {
                    b'C'
                };
                let at = begin_message(buf, tag);
                buf.push(target.byte());
                buf.put_cstr(name);
                finish_message(buf, at);
            }
            FrontendMessage::Execute { portal, max_rows } => {
                let at = begin_message(buf, b'E');
                buf.put_cstr(portal);
                buf.put_u32(*max_rows);
                finish_message(buf, at);
            }
            FrontendMessage::Sync => empty(buf, b'S'),
            FrontendMessage::Flush => empty(buf, b'H'),
            FrontendMessage::Terminate => empty(buf, b'X'),
            FrontendMessage::CopyDone => empty(buf, b'c'),
            FrontendMessage::FunctionCall => empty(buf, b'F'),
            FrontendMessage::CopyData(data) => {
                let at = begin_message(buf, b'd');
                buf.extend_from_slice(data);
                finish_message(buf, at);
            }
            FrontendMessage::CopyFail(msg) => {
                let at = begin_message(buf, b'f');
                buf.put_cstr(msg);
                finish_message(buf, at);
            }
            FrontendMessage::AuthResponse(data) => {
                let at = begin_message(buf, b'p');
                buf.extend_from_slice(data);
                finish_message(buf, at);
            }
        }
    }
}

fn empty(buf: &mut Vec<u8>, tag: u8) {
    let at = begin_message(buf, tag);
    finish_message(buf, at);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(msg: FrontendMessage) {
        let mut buf = Vec::new();
        msg.encode(&mut buf);
        let (back, used) = parse_message(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(back, msg);
    }

    #[test]
    fn every_message_roundtrips() {
        roundtrip(FrontendMessage::Query("select 1".into()));
        roundtrip(FrontendMessage::Parse {
            name: "s1".into(),
            query: "select $1".into(),
            param_types: vec![23, 0],
        });
        roundtrip(FrontendMessage::Bind {
            portal: "".into(),
            statement: "s1".into(),
            param_formats: vec![1],
            params: vec![Some(vec![0, 0, 0, 1]), None],
            result_formats: vec![0, 1],
        });
        roundtrip(FrontendMessage::Describe {
            target: Target::Statement,
            name: "s1".into(),
        });
        roundtrip(FrontendMessage::Close {
            target: Target::Portal,
            name: "p".into(),
        });
        roundtrip(FrontendMessage::Execute {
            portal: "p".into(),
            max_rows: 10,
        });
        roundtrip(FrontendMessage::Sync);
        roundtrip(FrontendMessage::Flush);
        roundtrip(FrontendMessage::Terminate);
        roundtrip(FrontendMessage::CopyData(b"1\tx\n".to_vec()));
        roundtrip(FrontendMessage::CopyDone);
        roundtrip(FrontendMessage::CopyFail("nope".into()));
        roundtrip(FrontendMessage::AuthResponse(b"secret\0".to_vec()));
    }

    #[test]
    fn startup_packets() {
        let mut buf = Vec::new();
        encode_startup(&[("user", "alice"), ("database", "db")], &mut buf);
        let len = startup_packet_len([buf[0], buf[1], buf[2], buf[3]]).unwrap();
        assert_eq!(len + 4, buf.len());
        let p = decode_startup(&buf[4..]).unwrap();
        assert_eq!(
            p,
            StartupPacket::Startup {
                major: 3,
                minor: 0,
                params: vec![
                    ("user".into(), "alice".into()),
                    ("database".into(), "db".into())
                ]
            }
        );
        for special in [
            StartupPacket::SslRequest,
            StartupPacket::GssEncRequest,
            StartupPacket::CancelRequest { pid: 42, secret: 7 },
        ] {
            let mut buf = Vec::new();
            encode_special(&special, &mut buf);
            assert_eq!(decode_startup(&buf[4..]).unwrap(), special);
        }
        assert_eq!(
            decode_startup(&80877103u32.to_be_bytes()).unwrap(),
            StartupPacket::SslRequest
        );
        // missing final terminator
        let mut body = 0x0003_0000u32.to_be_bytes().to_vec();
        body.extend_from_slice(b"user\0a\0");
        let e = decode_startup(&body).unwrap_err();
        assert_eq!(
            e.message,
            "invalid startup packet layout: expected terminator as last byte"
        );
        assert_eq!(
            startup_packet_len(3u32.to_be_bytes()).unwrap_err().message,
            "invalid length of startup packet"
        );
        assert!(startup_packet_len(20_000u32.to_be_bytes()).is_err());
    }

    #[test]
    fn protocol_versions() {
        let e = check_protocol_version(2, 0).unwrap_err();
        assert_eq!(e.code.code(), "0A000");
        assert!(e.is_fatal());
        assert_eq!(
            e.message,
            "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
        );
        assert_eq!(check_protocol_version(3, 0).unwrap(), None);
        assert_eq!(check_protocol_version(3, 2).unwrap(), Some(0));
    }

    #[test]
    fn malformed_messages_are_protocol_violations() {
        let e = decode_header([b'z', 0, 0, 0, 4]).unwrap_err();
        assert_eq!(e.message, "invalid frontend message type 122");
        assert!(e.is_fatal());
        assert_eq!(
            decode_header([b'Q', 0, 0, 0, 3]).unwrap_err().message,
            "invalid message length"
        );
        assert_eq!(
            decode_header([b'Q', 0x40, 0, 0, 4]).unwrap_err().message,
            "invalid message length"
        );
        assert!(decode_header([b'Q', 0x3f, 0xff, 0xff, 0xff]).is_ok());
        assert_eq!(
            decode_header([b'S', 0, 1, 0, 0]).unwrap_err().message,
            "invalid message length"
        );
        assert_eq!(
            decode_message(b'Q', b"select 1").unwrap_err().message,
            "invalid string in message"
        );
        assert_eq!(
            decode_message(b'Q', b"a\0b\0").unwrap_err().message,
            "invalid message format"
        );
        assert_eq!(
            decode_message(b'S', b"x").unwrap_err().message,
            "invalid message format"
        );
        assert_eq!(
            decode_message(b'D', b"Xa\0").unwrap_err().message,
            "invalid DESCRIBE message subtype 88"
        );
        assert_eq!(
            decode_message(b'E', b"p\0\0\0").unwrap_err().message,
            "insufficient data left in message"
        );
        let e = decode_message(b'Q', b"select \xc3\x28\0").unwrap_err();
        assert_eq!(e.code.code(), "22021");
        assert!(!e.is_fatal());
        // bind with a parameter length pointing past the end
        let mut body = b"\0\0\0\0\0\x01\0\0\0\x10ab".to_vec();
        body.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode_message(b'B', &body).unwrap_err().message,
            "insufficient data left in message"
        );
        assert_eq!(
            decode_message(b'E', b"\0\xff\xff\xff\xff").unwrap(),
            FrontendMessage::Execute {
                portal: String::new(),
                max_rows: 0
            }
        );
    }

    #[test]
    fn auth_bodies() {
        assert_eq!(decode_password(b"pw\0").unwrap(), "pw");
        assert!(decode_password(b"pw\0x").is_err());
        assert!(decode_password(b"pw").is_err());
        let mut buf = Vec::new();
        encode_sasl_initial("SCRAM-SHA-256", b"n,,n=,r=abc", &mut buf);
        let (m, d) = decode_sasl_initial(&buf[5..]).unwrap();
        assert_eq!(m, "SCRAM-SHA-256");
        assert_eq!(d.unwrap(), b"n,,n=,r=abc");
        assert!(decode_sasl_initial(b"SCRAM\0\0\0\0\x09ab").is_err());
    }

    /// Fuzz-style: no byte string makes a decoder panic.
    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let tags = b"QPBDESHCXdcfpFz";
        for i in 0..20_000 {
            let len = rng.gen_range(0..40);
            let mut body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if i % 3 == 0 {
                // bias toward plausible content: NULs and small integers
                for b in body.iter_mut().step_by(3) {
                    *b = 0;
                }
            }
            let tag = tags[rng.gen_range(0..tags.len())];
            let _ = decode_message(tag, &body);
            let _ = decode_startup(&body);
            let _ = decode_password(&body);
            let _ = decode_sasl_initial(&body);
            let mut framed = vec![tag];
            framed.extend_from_slice(&body);
            let _ = parse_message(&framed);
        }
    }
}
