//! A small blocking client for replication connections: what the walreceiver and
//! `tandem basebackup` use to talk to a primary's walsender (libpq's role in
//! PostgreSQL's `libpqwalreceiver.c` / `pg_basebackup`).
//!
//! It parses a key=value connection string (`host`, `port`, `user`, `password`,
//! `dbname`, `application_name`; `host` may be a Unix socket directory), sends a
//! startup packet with `replication=true`, answers trust, cleartext and
//! SCRAM-SHA-256 authentication, runs simple-query replication commands and reads
//! raw backend messages for COPY streams. Everything is blocking with an optional
//! read timeout.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use tandem_protocol::backend::parse_backend_message;
use tandem_protocol::frontend::{encode_password, encode_sasl_initial, encode_startup};
use tandem_protocol::scram::ScramClient;
use tandem_protocol::{BackendMessage, FrontendMessage};
use tandem_types::{PgError, PgResult, SqlState};

/// Parses `key=value key2='quoted value'` (libpq's conninfo keyword form).
pub fn parse_conninfo(s: &str) -> PgResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(conn_error(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => {
                        return Err(conn_error(
                            "unterminated quoted string in connection info string",
                        ))
                    }
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(c) = chars.next() {
                        value.push(c);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key, value);
    }
}

/// Quotes a value for a conninfo string.
pub fn quote_conninfo_value(v: &str) -> String {
    let mut s = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

/// A quoted SQL string literal for queries this client sends.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A double-quoted identifier (replication commands: slot names).
pub fn quote_repl_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `conninfo` with `name` as default `application_name` (a setting in
/// `conninfo` itself wins: later keys override earlier ones).
pub fn with_application_name(conninfo: &str, name: &str) -> String {
    format!("application_name={} {conninfo}", quote_conninfo_value(name))
}

fn conn_error(msg: impl Into<String>) -> PgError {
    PgError::new(SqlState("08001"), msg)
}

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    fn set_read_timeout(&self, d: Option<Duration>) -> std::io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(d),
            Sock::Unix(s) => s.set_read_timeout(d),
        }
    }
    fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sock::Tcp(s) => s.flush(),
            Sock::Unix(s) => s.flush(),
        }
    }
}

/// One rows-as-text result of a simple query.
pub type TextRows = Vec<Vec<Option<String>>>;

/// A replication connection to a primary.
pub struct ReplClient {
    sock: Sock,
    inbuf: Vec<u8>,
    /// `ParameterStatus` values the server reported.
    pub params: HashMap<String, String>,
}

fn io_err(what: &str, e: &std::io::Error) -> PgError {
    conn_error(format!("{what}: {e}"))
}

impl ReplClient {
    /// Connects and authenticates with `replication=true`.
    pub fn connect(conninfo: &str) -> PgResult<ReplClient> {
        Self::connect_mode(conninfo, "true")
    }

    /// Connects with `replication=<mode>`: `true` (physical) or `database`
    /// (logical; the startup packet then names `dbname`, default the user).
    pub fn connect_mode(conninfo: &str, mode: &str) -> PgResult<ReplClient> {
        let opts = parse_conninfo(conninfo)?;
        let host = opts.get("host").cloned().unwrap_or_else(|| "/tmp".into());
        let port: u16 = opts
            .get("port")
            .map(|p| p.parse())
            .transpose()
            .map_err(|_| conn_error("invalid port number"))?
            .unwrap_or(5432);
        let sock = if host.starts_with('/') {
            let path = format!("{host}/.s.PGSQL.{port}");
            Sock::Unix(UnixStream::connect(&path).map_err(|e| {
                io_err(
                    &format!("connection to server on socket \"{path}\" failed"),
                    &e,
                )
            })?)
        } else {
            let s = TcpStream::connect((host.as_str(), port)).map_err(|e| {
                io_err(
                    &format!("connection to server at \"{host}\", port {port} failed"),
                    &e,
                )
            })?;
            let _ = s.set_nodelay(true);
            Sock::Tcp(s)
        };
        let user = opts
            .get("user")
            .cloned()
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        let password = opts
            .get("password")
            .cloned()
            .or_else(|| std::env::var("PGPASSWORD").ok());
        let appname = opts
            .get("application_name")
            .cloned()
            .unwrap_or_else(|| "walreceiver".into());
        let mut c = ReplClient {
            sock,
            inbuf: Vec::new(),
            params: HashMap::new(),
        };
        let _ = c.sock.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = Vec::new();
        let dbname = opts.get("dbname").cloned().unwrap_or_else(|| user.clone());
        let mut startup = vec![
            ("user", user.as_str()),
            ("replication", mode),
            ("application_name", appname.as_str()),
        ];
        if mode == "database" {
            startup.push(("database", dbname.as_str()));
        }
        encode_startup(&startup, &mut buf);
        c.write_all(&buf)?;
        let mut scram: Option<ScramClient> = None;
        loop {
            match c.read_message()? {
                BackendMessage::AuthenticationOk => {}
                BackendMessage::AuthenticationCleartextPassword => {
                    let pw = password
                        .as_deref()
                        .ok_or_else(|| conn_error("fe_sendauth: no password supplied"))?;
                    let mut b = Vec::new();
                    encode_password(pw, &mut b);
                    c.write_all(&b)?;
                }
                BackendMessage::AuthenticationSasl { mechanisms } => {
                    if !mechanisms.iter().any(|m| m == "SCRAM-SHA-256") {
                        return Err(conn_error("no supported SASL mechanism"));
                    }
                    let pw = password
                        .as_deref()
                        .ok_or_else(|| conn_error("fe_sendauth: no password supplied"))?;
                    let client = ScramClient::new("", pw);
                    let mut b = Vec::new();
                    encode_sasl_initial("SCRAM-SHA-256", &client.client_first(), &mut b);
                    c.write_all(&b)?;
                    scram = Some(client);
                }
                BackendMessage::AuthenticationSaslContinue(data) => {
                    let client = scram
                        .as_mut()
                        .ok_or_else(|| conn_error("unexpected SASL message"))?;
                    let reply = client.server_first(&data)?;
                    let mut b = Vec::new();
                    FrontendMessage::AuthResponse(reply).encode(&mut b);
                    c.write_all(&b)?;
                }
                BackendMessage::AuthenticationSaslFinal(data) => {
                    let client = scram
                        .as_ref()
                        .ok_or_else(|| conn_error("unexpected SASL message"))?;
                    client.server_final(&data)?;
                }
                BackendMessage::AuthenticationMd5Password { .. } => {
                    return Err(conn_error("md5 authentication is not supported"));
                }
                BackendMessage::ParameterStatus { name, value } => {
                    c.params.insert(name, value);
                }
                BackendMessage::ErrorResponse(e) => return Err(e.to_pg_error()),
                BackendMessage::ReadyForQuery(_) => return Ok(c),
                _ => {}
            }
        }
    }

    /// Read timeout for the following reads (`None`: block).
    pub fn set_read_timeout(&self, d: Option<Duration>) {
        let _ = self.sock.set_read_timeout(d);
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> PgResult<()> {
        self.sock
            .write_all(bytes)
            .map_err(|e| io_err("could not send data to server", &e))
    }

    /// Sends one CopyData message.
    pub fn send_copy_data(&mut self, payload: &[u8]) -> PgResult<()> {
        let mut b = Vec::with_capacity(payload.len() + 5);
        FrontendMessage::CopyData(payload.to_vec()).encode(&mut b);
        self.write_all(&b)
    }

    /// Sends CopyDone.
    pub fn send_copy_done(&mut self) -> PgResult<()> {
        let mut b = Vec::new();
        FrontendMessage::CopyDone.encode(&mut b);
        self.write_all(&b)
    }

    /// Next message; `Ok(None)` when the read timeout passed with nothing complete.
    pub fn try_read_message(&mut self) -> PgResult<Option<BackendMessage>> {
        loop {
            if let Some((msg, used)) = parse_backend_message(&self.inbuf)? {
                self.inbuf.drain(..used);
                return Ok(Some(msg));
            }
            let mut chunk = [0u8; 65536];
            match self.sock.read(&mut chunk) {
                Ok(0) => return Err(conn_error("server closed the connection unexpectedly")),
                Ok(n) => self.inbuf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("could not receive data from server", &e)),
            }
        }
    }

    /// Whether a whole message is already buffered (the next `try_read_message`
    /// returns it without touching the socket).
    pub fn has_buffered_message(&self) -> bool {
        if self.inbuf.len() < 5 {
            return false;
        }
        let len = u32::from_be_bytes([self.inbuf[1], self.inbuf[2], self.inbuf[3], self.inbuf[4]]);
        // one type byte plus `len` (which counts itself)
        self.inbuf.len() > len as usize
    }

    /// Next message, failing if the read timeout passes.
    pub fn read_message(&mut self) -> PgResult<BackendMessage> {
        self.try_read_message()?
            .ok_or_else(|| conn_error("timeout expired while waiting for the server"))
    }

    /// Sends a simple query.
    pub fn send_query(&mut self, sql: &str) -> PgResult<()> {
        let mut b = Vec::new();
        FrontendMessage::Query(sql.to_string()).encode(&mut b);
        self.write_all(&b)
    }

    /// Runs a command returning at most one result set, as text.
    pub fn query(&mut self, sql: &str) -> PgResult<TextRows> {
        self.send_query(sql)?;
        let mut rows = Vec::new();
        let mut err = None;
        loop {
            match self.read_message()? {
                BackendMessage::DataRow(cols) => rows.push(
                    cols.into_iter()
                        .map(|c| c.map(|b| String::from_utf8_lossy(&b).into_owned()))
                        .collect(),
                ),
                BackendMessage::ErrorResponse(e) => err = Some(e.to_pg_error()),
                BackendMessage::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// Closes the connection (Terminate, then shutdown).
    pub fn close(mut self) {
        let mut b = Vec::new();
        FrontendMessage::Terminate.encode(&mut b);
        let _ = self.sock.write_all(&b);
        self.sock.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_parses_quotes_and_escapes() {
        let m = parse_conninfo("host=127.0.0.1 port = 5433 password='a b\\'c' user=rep").unwrap();
        assert_eq!(m["host"], "127.0.0.1");
        assert_eq!(m["port"], "5433");
        assert_eq!(m["password"], "a b'c");
        assert_eq!(m["user"], "rep");
        assert!(parse_conninfo("host").is_err());
        let q = quote_conninfo_value("a'b");
        assert_eq!(parse_conninfo(&format!("x={q}")).unwrap()["x"], "a'b");
    }
}
