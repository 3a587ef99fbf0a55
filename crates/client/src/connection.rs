//! The replication connection ([`ReplClient`]): connects to a server's
//! walsender with `replication=true` (physical) or `replication=database`
//! (logical), or as an ordinary session, authenticates, runs commands as
//! simple queries and reads raw backend messages for the COPY streams.
//! Blocking, with a read timeout the caller sets.
//!
//! Connecting follows libpq's `PQconnectPoll`: the connection string's
//! [`Target`]s are tried in order, and each address a host name resolves
//! to; on a TCP socket `sslmode` decides between an SSLRequest and plain
//! text ([`crate::tls`] owns TLS itself), a server that rejects the startup
//! gets the one retry `allow`/`prefer` allow, and `target_session_attrs`
//! (`any`, `read-write`, `read-only`, `primary`, `standby`,
//! `prefer-standby`) is checked from the `default_transaction_read_only` /
//! `in_hot_standby` reports, or by libpq's queries when a server does not
//! send them. `connect_timeout` bounds each address's attempt (at least 2
//! s; 0 or unset: none). Every failed attempt adds a line
//! `connection to server at "host" (address), port N failed: ...` to the
//! error, as libpq's `PQerrorMessage` shows them.
//!
//! Authentication: trust, cleartext password and SCRAM-SHA-256 (md5 is
//! refused). The password comes from the connection string or `PGPASSWORD`;
//! the user from the string, `PGUSER` or `USER`.
//!
//! PostgreSQL counterparts: `libpqrcv_connect` and friends in
//! `replication/libpqwalreceiver/libpqwalreceiver.c`, over libpq's
//! `fe-connect.c` (hosts, SSL negotiation, startup, authentication,
//! `target_session_attrs`) and `fe-protocol3.c` (messages).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use tandem_protocol::backend::parse_backend_message;
use tandem_protocol::frontend::{
    encode_password, encode_sasl_initial, encode_special, encode_startup, StartupPacket,
};
use tandem_protocol::scram::ScramClient;
use tandem_protocol::{BackendMessage, FrontendMessage};
use tandem_types::{PgError, PgResult, SqlState};

use crate::conninfo::{ConnInfo, Target};
use crate::tls::{self, os_text, TlsOptions, TlsStream};
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

/// The default read timeout of an established connection.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

impl Sock {
    fn set_read_timeout(&self, d: Option<Duration>) -> std::io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_read_timeout(d),
            Sock::Unix(s) => s.set_read_timeout(d),
            Sock::Tls(s) => s.sock.set_read_timeout(d),
        }
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> std::io::Result<()> {
        match self {
            Sock::Tcp(s) => s.set_write_timeout(d),
            Sock::Unix(s) => s.set_write_timeout(d),
            Sock::Tls(s) => s.sock.set_write_timeout(d),
        }
    }
    fn shutdown(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Sock::Tls(s) => s.sock.shutdown(std::net::Shutdown::Both),
        };
    }
    /// A second handle on the socket itself (under TLS: the TCP socket,
    /// good for shutting it down, not for reading).
    fn try_clone(&self) -> std::io::Result<Sock> {
        Ok(match self {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone()?),
            Sock::Unix(s) => Sock::Unix(s.try_clone()?),
            Sock::Tls(s) => Sock::Tcp(s.sock.try_clone()?),
        })
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
            Sock::Tls(s) => tls::read_available(s, buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
            Sock::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sock::Tcp(s) => s.flush(),
            Sock::Unix(s) => s.flush(),
            Sock::Tls(s) => s.flush(),
        }
    }
}

/// A handle that breaks a [`ReplClient`]'s connection from another thread: a
/// read or write blocked on it then fails at once (how a worker waiting on a
/// hung server is stopped). Under TLS it shuts the TCP socket down.
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
    conn_error(format!("{what}: {}", os_text(e)))
}

/// libpq's `target_session_attrs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    PreferStandby,
}

impl SessionAttrs {
    /// The setting's value (unset: `any`).
    pub fn parse(v: Option<&str>) -> Result<SessionAttrs, String> {
        Ok(match v.unwrap_or("any") {
            "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            other => return Err(format!("invalid target_session_attrs value: \"{other}\"")),
        })
    }

    /// The passes over the hosts: `prefer-standby` looks for a standby
    /// first, then takes any server.
    fn passes(self) -> &'static [SessionAttrs] {
        match self {
            SessionAttrs::Any => &[SessionAttrs::Any],
            SessionAttrs::ReadWrite => &[SessionAttrs::ReadWrite],
            SessionAttrs::ReadOnly => &[SessionAttrs::ReadOnly],
            SessionAttrs::Primary => &[SessionAttrs::Primary],
            SessionAttrs::Standby => &[SessionAttrs::Standby],
            SessionAttrs::PreferStandby => &[SessionAttrs::Standby, SessionAttrs::Any],
        }
    }
}

/// `connect_timeout` (or `PGCONNECT_TIMEOUT`): `None` for no limit, at least
/// two seconds otherwise; a bad value is libpq's per-host error.
fn connect_timeout(opts: &ConnInfo) -> Result<Option<Duration>, String> {
    let Some(v) = opts
        .get("connect_timeout")
        .map(str::to_string)
        .or_else(|| std::env::var("PGCONNECT_TIMEOUT").ok())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let secs: i32 = v.trim_end().parse().map_err(|_| {
        format!("invalid integer value \"{v}\" for connection option \"connect_timeout\"")
    })?;
    Ok((secs > 0).then(|| Duration::from_secs(secs.max(2) as u64)))
}

/// Why one attempt failed.
enum Failure {
    /// The server rejected the startup (an ErrorResponse): `allow` and
    /// `prefer` may retry, and its SQLSTATE is kept.
    Server(PgError),
    /// Anything else, worded as libpq.
    Other(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Other(s)
    }
}

impl Failure {
    fn text(&self) -> String {
        match self {
            Failure::Other(s) => s.clone(),
            // libpq's default verbosity: severity, message, detail, hint
            Failure::Server(e) => {
                let mut s = format!("{}:  {}", e.severity.as_str(), e.message);
                if let Some(d) = &e.detail {
                    s.push_str(&format!("\nDETAIL:  {d}"));
                }
                if let Some(h) = &e.hint {
                    s.push_str(&format!("\nHINT:  {h}"));
                }
                s
            }
        }
    }
}

/// A read or write failure during the startup, as libpq words it.
fn startup_io(e: &std::io::Error) -> Failure {
    Failure::Other(match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout expired".into(),
        std::io::ErrorKind::UnexpectedEof => "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.".into(),
        _ => format!("could not send data to server: {}", os_text(e)),
    })
}

/// `connect()`'s failure text, with libpq's hint for a refused connection.
fn connect_failure(e: &std::io::Error, socket: bool) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return "timeout expired".into();
    }
    let mut s = os_text(e);
    if e.kind() == std::io::ErrorKind::ConnectionRefused
        || (socket && e.kind() == std::io::ErrorKind::NotFound)
    {
        s.push_str(if socket {
            "\n\tIs the server running locally and accepting connections on that socket?"
        } else {
            "\n\tIs the server running on that host and accepting TCP/IP connections?"
        });
    }
    s
}

/// What every attempt of one connection string shares.
struct Plan {
    tls: TlsOptions,
    timeout: Result<Option<Duration>, String>,
    startup: Vec<(&'static str, String)>,
    password: Option<String>,
}

impl Plan {
    fn new(opts: &ConnInfo, mode: &str) -> PgResult<Plan> {
        let tls = TlsOptions::from_conninfo(opts).map_err(conn_error)?;
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
        let dbname = opts
            .get("dbname")
            .map_or_else(|| user.clone(), str::to_string);
        let mut startup = vec![
            ("user", user),
            ("replication", mode.to_string()),
            ("application_name", appname),
        ];
        if mode != "true" {
            startup.push(("database", dbname));
        }
        Ok(Plan {
            tls,
            timeout: connect_timeout(opts),
            startup,
            password,
        })
    }

    /// One Unix-socket target (never TLS, as libpq).
    fn attempt_socket(&self, path: &str, want: SessionAttrs) -> Result<ReplClient, Failure> {
        let timeout = self.timeout.clone()?;
        let deadline = timeout.map(|d| Instant::now() + d);
        let s = UnixStream::connect(path).map_err(|e| connect_failure(&e, true))?;
        self.startup(Sock::Unix(s), deadline, want)
    }

    /// One TCP address of a target: socket, SSL negotiation, startup, and
    /// the one retry `allow` makes after a rejected plain startup and
    /// `prefer` after a failed handshake or a rejected TLS startup.
    fn attempt_tcp(
        &self,
        addr: SocketAddr,
        host: &str,
        want: SessionAttrs,
    ) -> Result<ReplClient, Failure> {
        let timeout = self.timeout.clone()?;
        let deadline = timeout.map(|d| Instant::now() + d);
        let mode = self.tls.mode;
        let mut use_tls = mode.tls_first();
        let mut retried = false;
        loop {
            let tcp = match timeout {
                Some(t) => TcpStream::connect_timeout(&addr, t),
                None => TcpStream::connect(addr),
            }
            .map_err(|e| connect_failure(&e, false))?;
            let _ = tcp.set_nodelay(true);
            let sock = if use_tls {
                match self.negotiate(tcp, host, deadline) {
                    Ok(s) => s,
                    // a failed handshake: prefer goes on in plain text
                    Err(_) if !retried && mode.retry_after_rejection(true).is_some() => {
                        use_tls = false;
                        retried = true;
                        continue;
                    }
                    Err(f) => return Err(f),
                }
            } else {
                Sock::Tcp(tcp)
            };
            let was_tls = matches!(sock, Sock::Tls(_));
            match self.startup(sock, deadline, want) {
                Err(Failure::Server(e)) if !retried => match mode.retry_after_rejection(was_tls) {
                    Some(next) => {
                        use_tls = next;
                        retried = true;
                    }
                    None => return Err(Failure::Server(e)),
                },
                other => return other,
            }
        }
    }

    /// SSLRequest, the server's one-byte answer, then the handshake (`S`)
    /// or plain text (`N`, when the mode allows it).
    fn negotiate(
        &self,
        mut tcp: TcpStream,
        host: &str,
        deadline: Option<Instant>,
    ) -> Result<Sock, Failure> {
        set_deadline(&tcp, deadline);
        let mut b = Vec::new();
        encode_special(&StartupPacket::SslRequest, &mut b);
        tcp.write_all(&b).map_err(|e| startup_io(&e))?;
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer).map_err(|e| startup_io(&e))?;
        match answer[0] {
            b'S' => {
                // the certificates are read only now, as libpq does
                let config = self.tls.client_config()?;
                Ok(Sock::Tls(Box::new(tls::handshake(
                    tcp,
                    config,
                    host,
                    self.tls.mode,
                )?)))
            }
            b'N' => {
                self.tls.mode.on_refused()?;
                Ok(Sock::Tcp(tcp))
            }
            // an ErrorResponse here comes from a server too old for SSL
            c => Err(Failure::Other(format!(
                "received invalid response to SSL negotiation: {}",
                char::from(c)
            ))),
        }
    }

    /// Startup packet, authentication, then the `target_session_attrs`
    /// check; the returned client has the default read timeout.
    fn startup(
        &self,
        sock: Sock,
        deadline: Option<Instant>,
        want: SessionAttrs,
    ) -> Result<ReplClient, Failure> {
        let mut c = ReplClient {
            sock,
            inbuf: Vec::new(),
            params: HashMap::new(),
            used_password: false,
        };
        match deadline {
            Some(_) => c.set_deadline(deadline),
            None => {
                let _ = c.sock.set_read_timeout(Some(READ_TIMEOUT));
            }
        }
        let startup: Vec<(&str, &str)> =
            self.startup.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut buf = Vec::new();
        encode_startup(&startup, &mut buf);
        c.startup_write(&buf)?;
        let mut scram: Option<ScramClient> = None;
        let password = || {
            self.password
                .as_deref()
                .ok_or_else(|| Failure::Other("fe_sendauth: no password supplied".into()))
        };
        loop {
            let msg = match c.try_read_message() {
                Ok(Some(m)) => m,
                Ok(None) => return Err(Failure::Other("timeout expired".into())),
                Err(e) => return Err(Failure::Other(e.message)),
            };
            match msg {
                BackendMessage::AuthenticationOk => {}
                BackendMessage::AuthenticationCleartextPassword => {
                    c.used_password = true;
                    let mut b = Vec::new();
                    encode_password(password()?, &mut b);
                    c.startup_write(&b)?;
                }
                BackendMessage::AuthenticationSasl { mechanisms } => {
                    if !mechanisms.iter().any(|m| m == "SCRAM-SHA-256") {
                        return Err(Failure::Other("no supported SASL mechanism".into()));
                    }
                    c.used_password = true;
                    let client = ScramClient::new("", password()?);
                    let mut b = Vec::new();
                    encode_sasl_initial("SCRAM-SHA-256", &client.client_first(), &mut b);
                    c.startup_write(&b)?;
                    scram = Some(client);
                }
                BackendMessage::AuthenticationSaslContinue(data) => {
                    let client = scram
                        .as_mut()
                        .ok_or_else(|| Failure::Other("unexpected SASL message".into()))?;
                    let reply = client
                        .server_first(&data)
                        .map_err(|e| Failure::Other(e.message))?;
                    let mut b = Vec::new();
                    FrontendMessage::AuthResponse(reply).encode(&mut b);
                    c.startup_write(&b)?;
                }
                BackendMessage::AuthenticationSaslFinal(data) => {
                    let client = scram
                        .as_ref()
                        .ok_or_else(|| Failure::Other("unexpected SASL message".into()))?;
                    client
                        .server_final(&data)
                        .map_err(|e| Failure::Other(e.message))?;
                }
                BackendMessage::AuthenticationMd5Password { .. } => {
                    return Err(Failure::Other("md5 authentication is not supported".into()));
                }
                BackendMessage::ParameterStatus { name, value } => {
                    c.params.insert(name, value);
                }
                BackendMessage::ErrorResponse(e) => return Err(Failure::Server(e.to_pg_error())),
                BackendMessage::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        if let Err(reason) = c.check_session_attrs(want) {
            c.close();
            return Err(Failure::Other(reason));
        }
        let _ = c.sock.set_read_timeout(Some(READ_TIMEOUT));
        let _ = c.sock.set_write_timeout(None);
        Ok(c)
    }
}

/// Read and write timeouts running out at `deadline` (none: block).
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    })
}

fn set_deadline(tcp: &TcpStream, deadline: Option<Instant>) {
    let _ = tcp.set_read_timeout(remaining(deadline));
    let _ = tcp.set_write_timeout(remaining(deadline));
}

/// `host` as libpq shows it before the address it connected to: the
/// address in parentheses when it differs from the name.
fn shown_host(host: &str, addr: &IpAddr) -> String {
    let a = addr.to_string();
    if host == a {
        format!("\"{host}\"")
    } else {
        format!("\"{host}\" ({a})")
    }
}

/// The addresses of one TCP target (`hostaddr`, or the host name resolved).
fn resolve(target: &Target) -> Result<Vec<SocketAddr>, String> {
    if let Some(a) = &target.hostaddr {
        let ip: IpAddr = a
            .parse()
            .map_err(|_| format!("could not parse network address \"{a}\""))?;
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| {
            let text = os_text(&e);
            let reason = text
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&text);
            format!(
                "could not translate host name \"{}\" to address: {reason}",
                target.host
            )
        })
}

impl ReplClient {
    /// A handle that can break this connection from another thread (`None` if
    /// the socket cannot be duplicated).
    pub fn interrupter(&self) -> Option<Interrupter> {
        self.sock.try_clone().ok().map(Interrupter)
    }

    /// Whether the connection is encrypted with TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.sock, Sock::Tls(_))
    }

    /// Connects and authenticates with `replication=true`.
    pub fn connect(conninfo: &str) -> PgResult<ReplClient> {
        Self::connect_mode(conninfo, "true")
    }

    /// Connects with `replication=<mode>`: `true` (physical), `database`
    /// (logical) or `false` (an ordinary session). All but a physical
    /// connection name `dbname` (default the user) in the startup packet.
    /// Hosts are tried in order until one accepts; the error lists every
    /// failed attempt, one per line, as libpq's.
    pub fn connect_mode(conninfo: &str, mode: &str) -> PgResult<ReplClient> {
        let opts = ConnInfo::parse(conninfo)?;
        let plan = Plan::new(&opts, mode)?;
        let attrs = SessionAttrs::parse(
            opts.get("target_session_attrs")
                .map(str::to_string)
                .or_else(|| std::env::var("PGTARGETSESSIONATTRS").ok())
                .as_deref()
                .filter(|v| !v.is_empty()),
        )
        .map_err(conn_error)?;
        let targets = opts.targets()?;
        let mut lines: Vec<String> = Vec::new();
        let mut code = SqlState("08001");
        for &want in attrs.passes() {
            for target in &targets {
                if target.is_socket_dir() {
                    let path = format!("{}/.s.PGSQL.{}", target.host, target.port);
                    match plan.attempt_socket(&path, want) {
                        Ok(c) => return Ok(c),
                        Err(f) => {
                            if let Failure::Server(e) = &f {
                                code = e.code;
                            }
                            lines.push(format!(
                                "connection to server on socket \"{path}\" failed: {}",
                                f.text()
                            ));
                        }
                    }
                    continue;
                }
                let addrs = match resolve(target) {
                    Ok(a) => a,
                    Err(e) => {
                        lines.push(e);
                        continue;
                    }
                };
                for addr in addrs {
                    match plan.attempt_tcp(addr, &target.host, want) {
                        Ok(c) => return Ok(c),
                        Err(f) => {
                            if let Failure::Server(e) = &f {
                                code = e.code;
                            }
                            lines.push(format!(
                                "connection to server at {}, port {} failed: {}",
                                shown_host(&target.host, &addr.ip()),
                                target.port,
                                f.text()
                            ));
                        }
                    }
                }
            }
        }
        if lines.is_empty() {
            lines.push("no host to connect to".into());
        }
        Err(PgError::new(code, lines.join("\n")))
    }

    /// Read and write timeouts that end at `deadline`.
    fn set_deadline(&self, deadline: Option<Instant>) {
        let _ = self.sock.set_read_timeout(remaining(deadline));
        let _ = self.sock.set_write_timeout(remaining(deadline));
    }

    fn startup_write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.sock
            .write_all(bytes)
            .and_then(|()| self.sock.flush())
            .map_err(|e| startup_io(&e))
    }

    /// libpq's `target_session_attrs` check on an established session:
    /// `Err` with libpq's reason when the server is not the kind wanted.
    fn check_session_attrs(&mut self, want: SessionAttrs) -> Result<(), String> {
        let reported = |c: &ReplClient, name: &str| c.params.get(name).map(|v| v == "on");
        match want {
            SessionAttrs::Any | SessionAttrs::PreferStandby => Ok(()),
            SessionAttrs::ReadWrite | SessionAttrs::ReadOnly => {
                let read_only = match (
                    reported(self, "default_transaction_read_only"),
                    reported(self, "in_hot_standby"),
                ) {
                    (Some(d), Some(h)) => d || h,
                    _ => self
                        .query("SHOW transaction_read_only")
                        .ok()
                        .and_then(|r| r.into_iter().next())
                        .and_then(|r| r.into_iter().next().flatten())
                        .map(|v| v == "on")
                        .ok_or("\"SHOW transaction_read_only\" failed")?,
                };
                match (want, read_only) {
                    (SessionAttrs::ReadWrite, true) => Err("session is read-only".into()),
                    (SessionAttrs::ReadOnly, false) => Err("session is not read-only".into()),
                    _ => Ok(()),
                }
            }
            SessionAttrs::Primary | SessionAttrs::Standby => {
                let standby = match reported(self, "in_hot_standby") {
                    Some(h) => h,
                    None => self
                        .query("SELECT pg_catalog.pg_is_in_recovery()")
                        .ok()
                        .and_then(|r| r.into_iter().next())
                        .and_then(|r| r.into_iter().next().flatten())
                        .map(|v| v == "t")
                        .ok_or("\"SELECT pg_is_in_recovery()\" failed")?,
                };
                match (want, standby) {
                    (SessionAttrs::Primary, true) => Err("server is in hot standby mode".into()),
                    (SessionAttrs::Standby, false) => {
                        Err("server is not in hot standby mode".into())
                    }
                    _ => Ok(()),
                }
            }
        }
    }

    /// Read timeout for the following reads (`None`: block).
    pub fn set_read_timeout(&self, d: Option<Duration>) {
        let _ = self.sock.set_read_timeout(d);
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> PgResult<()> {
        // a TLS write may keep records buffered until flushed
        self.sock
            .write_all(bytes)
            .and_then(|()| self.sock.flush())
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
                // TLS: the socket closed without close_notify
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(conn_error("server closed the connection unexpectedly"))
                }
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

    /// The socket's file descriptor, for waiting on it together with other
    /// events (`poll`). Check [`ReplClient::input_buffered`] first: input
    /// already read from the socket does not make it readable again.
    pub fn socket_fd(&self) -> RawFd {
        match &self.sock {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
            Sock::Tls(s) => s.sock.as_raw_fd(),
        }
    }

    /// Whether input is waiting above the socket: a whole message in this
    /// client's buffer, or TLS records already received and not yet read
    /// (the next `try_read_message` then does not wait for the socket).
    pub fn input_buffered(&mut self) -> bool {
        if self.has_buffered_message() {
            return true;
        }
        match &mut self.sock {
            Sock::Tls(s) => tls::plaintext_ready(s),
            Sock::Tcp(_) | Sock::Unix(_) => false,
        }
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
        if let Sock::Tls(s) = &mut self.sock {
            s.conn.send_close_notify();
        }
        let _ = self.sock.flush();
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

#[cfg(test)]
mod connect_tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    use super::{connect_timeout, ReplClient, SessionAttrs};
    use crate::conninfo::ConnInfo;

    /// A server that answers the SSLRequest with `answer` and then closes.
    fn one_byte_server(answer: u8) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 8];
            s.read_exact(&mut req).unwrap();
            s.write_all(&[answer]).unwrap();
            // what the client sends next (a startup packet for prefer)
            let mut next = vec![0u8; 4];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let n = s.read(&mut next).unwrap_or(0);
            next.truncate(n);
            next
        });
        (port, h)
    }

    fn dead_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn require_refused_by_server() {
        let (port, h) = one_byte_server(b'N');
        let e = ReplClient::connect_mode(
            &format!("host=127.0.0.1 port={port} sslmode=require"),
            "false",
        )
        .err()
        .unwrap();
        assert_eq!(
            e.message,
            format!("connection to server at \"127.0.0.1\", port {port} failed: server does not support SSL, but SSL was required")
        );
        assert!(h.join().unwrap().is_empty());
    }

    #[test]
    fn prefer_goes_on_in_plain_text() {
        let (port, h) = one_byte_server(b'N');
        // the fake server sends nothing more: the attempt fails afterwards
        let _ = ReplClient::connect_mode(
            &format!("host=127.0.0.1 port={port} connect_timeout=2"),
            "false",
        );
        // the startup packet followed on the same socket
        let next = h.join().unwrap();
        assert_eq!(next.len(), 4, "a startup packet after 'N'");
    }

    #[test]
    fn every_host_is_tried_and_reported() {
        let (a, b) = (dead_port(), dead_port());
        let e = ReplClient::connect_mode(
            &format!("host=127.0.0.1,127.0.0.1 port={a},{b} sslmode=disable"),
            "false",
        )
        .err()
        .unwrap();
        let hint = "\tIs the server running on that host and accepting TCP/IP connections?";
        assert_eq!(
            e.message,
            format!("connection to server at \"127.0.0.1\", port {a} failed: Connection refused\n{hint}\nconnection to server at \"127.0.0.1\", port {b} failed: Connection refused\n{hint}")
        );
    }

    #[test]
    fn connect_timeout_on_a_silent_server() {
        // listening, never accepting: connect() succeeds, nothing answers
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let started = Instant::now();
        let e = ReplClient::connect_mode(
            &format!("host=127.0.0.1 port={port} connect_timeout=1"),
            "false",
        )
        .err()
        .unwrap();
        let took = started.elapsed();
        assert_eq!(
            e.message,
            format!("connection to server at \"127.0.0.1\", port {port} failed: timeout expired")
        );
        // one second is raised to libpq's minimum of two
        assert!(took >= Duration::from_secs(2), "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        drop(l);
    }

    #[test]
    fn option_values_as_libpq() {
        let t = |s: &str| connect_timeout(&ConnInfo::parse(s).unwrap());
        assert_eq!(t("connect_timeout=0"), Ok(None));
        assert_eq!(t("connect_timeout=-3"), Ok(None));
        assert_eq!(t("connect_timeout=1"), Ok(Some(Duration::from_secs(2))));
        assert_eq!(t("connect_timeout=10"), Ok(Some(Duration::from_secs(10))));
        assert_eq!(
            t("connect_timeout=x"),
            Err("invalid integer value \"x\" for connection option \"connect_timeout\"".into())
        );
        assert_eq!(
            SessionAttrs::parse(Some("foo")),
            Err("invalid target_session_attrs value: \"foo\"".into())
        );
        assert_eq!(SessionAttrs::parse(None), Ok(SessionAttrs::Any));
        assert_eq!(
            SessionAttrs::PreferStandby.passes(),
            &[SessionAttrs::Standby, SessionAttrs::Any]
        );
        let port = dead_port();
        let e = ReplClient::connect_mode(
            &format!("host=127.0.0.1 port={port} connect_timeout=x"),
            "false",
        )
        .err()
        .unwrap();
        assert_eq!(
            e.message,
            format!("connection to server at \"127.0.0.1\", port {port} failed: invalid integer value \"x\" for connection option \"connect_timeout\"")
        );
        let e = ReplClient::connect_mode("host=127.0.0.1 sslmode=foo", "false")
            .err()
            .unwrap();
        assert_eq!(e.message, "invalid sslmode value: \"foo\"");
    }
}
