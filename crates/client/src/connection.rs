//! The replication connection ([`ReplClient`]): connects to a server's
//! walsender with `replication=true` (physical) or `replication=database`
//! (logical), authenticates, runs replication commands as simple queries and
//! reads raw backend messages for the COPY streams. Blocking, with a read
//! timeout the caller sets.
//!
//! Authentication: trust, cleartext password and SCRAM-SHA-256 (md5 is
//! refused). The password comes from the connection string or `PGPASSWORD`;
//! the user from the string, `PGUSER` or `USER`.
//!
//! Of the connection string's [`Target`]s only the first is tried; libpq
//! would go on to the next host when one fails.
//!
//! PostgreSQL counterparts: `libpqrcv_connect` and friends in
//! `replication/libpqwalreceiver/libpqwalreceiver.c`, over libpq's
//! `fe-connect.c` (startup, authentication) and `fe-protocol3.c` (messages).

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

use crate::conninfo::{ConnInfo, Target};

/// A string literal for the commands this client sends, SQL and replication
/// commands alike: quotes doubled, never the `E'...'` form, because the
/// replication command grammar has only standard-conforming literals (SQL's
/// `quote_literal()` is `tandem_types::ident::quote_literal`).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A double-quoted identifier (replication commands: slot names).
pub fn quote_repl_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
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
    fn try_clone(&self) -> std::io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
        })
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

/// A handle that breaks a [`ReplClient`]'s connection from another thread: a
/// read or write blocked on it then fails at once (how a worker waiting on a
/// hung server is stopped).
pub struct Interrupter(Sock);

impl Interrupter {
    /// Shuts the connection down in both directions.
    pub fn interrupt(&self) {
        self.0.shutdown();
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
    /// The server asked for a password (libpq's `PQconnectionUsedPassword`).
    pub used_password: bool,
}

fn io_err(what: &str, e: &std::io::Error) -> PgError {
    conn_error(format!("{what}: {e}"))
}

/// Opens the socket to one target: `<dir>/.s.PGSQL.<port>` for a socket
/// directory, TCP (no Nagle) otherwise.
fn open_socket(target: &Target) -> PgResult<Sock> {
    let port = target.port;
    if target.is_socket_dir() {
        let path = format!("{}/.s.PGSQL.{port}", target.host);
        let s = UnixStream::connect(&path).map_err(|e| {
            io_err(
                &format!("connection to server on socket \"{path}\" failed"),
                &e,
            )
        })?;
        return Ok(Sock::Unix(s));
    }
    let host = &target.host;
    let (addr, shown) = match &target.hostaddr {
        Some(a) if a != host => (a, format!("\"{host}\" ({a})")),
        Some(a) => (a, format!("\"{a}\"")),
        None => (host, format!("\"{host}\"")),
    };
    let s = TcpStream::connect((addr.as_str(), port)).map_err(|e| {
        io_err(
            &format!("connection to server at {shown}, port {port} failed"),
            &e,
        )
    })?;
    let _ = s.set_nodelay(true);
    Ok(Sock::Tcp(s))
}

impl ReplClient {
    /// A handle that can break this connection from another thread (`None` if
    /// the socket cannot be duplicated).
    pub fn interrupter(&self) -> Option<Interrupter> {
        self.sock.try_clone().ok().map(Interrupter)
    }

    /// Connects and authenticates with `replication=true`.
    pub fn connect(conninfo: &str) -> PgResult<ReplClient> {
        Self::connect_mode(conninfo, "true")
    }

    /// Connects with `replication=<mode>`: `true` (physical), `database`
    /// (logical) or `false` (an ordinary session). All but a physical
    /// connection name `dbname` (default the user) in the startup packet.
    pub fn connect_mode(conninfo: &str, mode: &str) -> PgResult<ReplClient> {
        let opts = ConnInfo::parse(conninfo)?;
        let targets = opts.targets()?;
        let target = targets
            .first()
            .ok_or_else(|| conn_error("no host to connect to"))?;
        let sock = open_socket(target)?;
        let user = opts
            .get("user")
            .map(str::to_string)
            .or_else(|| std::env::var("PGUSER").ok())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".into());
        let password = opts
            .get("password")
            .map(str::to_string)
            .or_else(|| std::env::var("PGPASSWORD").ok());
        let appname = opts
            .get("application_name")
            .map(str::to_string)
            .unwrap_or_else(|| "walreceiver".into());
        let mut c = ReplClient {
            sock,
            inbuf: Vec::new(),
            params: HashMap::new(),
            used_password: false,
        };
        let _ = c.sock.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = Vec::new();
        let dbname = opts
            .get("dbname")
            .map_or_else(|| user.clone(), str::to_string);
        let mut startup = vec![
            ("user", user.as_str()),
            ("replication", mode),
            ("application_name", appname.as_str()),
        ];
        if mode != "true" {
            startup.push(("database", dbname.as_str()));
        }
        encode_startup(&startup, &mut buf);
        c.write_all(&buf)?;
        let mut scram: Option<ScramClient> = None;
        loop {
            match c.read_message()? {
                BackendMessage::AuthenticationOk => {}
                BackendMessage::AuthenticationCleartextPassword => {
                    c.used_password = true;
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
                    c.used_password = true;
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
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::{Interrupter, Sock};

    /// A read blocked on a silent server ends when another thread interrupts
    /// the connection: it sees end-of-file, not its read timeout.
    #[test]
    fn interrupt_ends_a_blocked_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(addr).unwrap();
        let _server_side = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let sock = Sock::Tcp(stream);
        let interrupter = Interrupter(sock.try_clone().unwrap());
        let reader = std::thread::spawn(move || {
            let Sock::Tcp(mut s) = sock else {
                unreachable!("a TCP socket")
            };
            let mut buf = [0u8; 16];
            s.read(&mut buf).map_err(|e| e.kind())
        });
        interrupter.interrupt();
        assert_eq!(reader.join().unwrap(), Ok(0));
    }
}
