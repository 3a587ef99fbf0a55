//! One client connection's byte stream: plain TCP, a Unix-domain socket, or TLS
//! over TCP, with a read buffer, an output buffer flushed when the protocol says
//! so, and message framing on top (startup packets and typed messages, validated
//! by `tandem_protocol::frontend`).
//!
//! Output is buffered: nothing reaches the client until [`Conn::flush`] (called
//! before ReadyForQuery, on Flush, before blocking on COPY input, and whenever the
//! buffer passes [`AUTO_FLUSH`]), as PostgreSQL's `pq_flush`.
//!
//! A streaming walsender reads its client's replies between its sends, without
//! waiting for them: [`Conn::try_read`] reads only what has arrived.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/pqcomm.c` and `be-secure.c`.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection};
use tandem_protocol::frontend::{self, FrontendMessage};
use tandem_protocol::BackendMessage;
use tandem_types::{PgError, SqlState};

use crate::backend::tls::TlsStream;

/// Output past this size is sent without waiting for a flush point.
const AUTO_FLUSH: usize = 64 * 1024;

pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A handle another thread uses to wake a session blocked reading its socket
/// (pg_terminate_backend, fast shutdown): shutting down the read side makes the
/// blocked read return end-of-file.
pub(crate) enum SocketHandle {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl SocketHandle {
    pub(crate) fn wake_reader(&self) {
        let _ = match self {
            SocketHandle::Tcp(s) => s.shutdown(Shutdown::Read),
            SocketHandle::Unix(s) => s.shutdown(Shutdown::Read),
        };
    }
}

/// Where a client connects from.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// `None` for a Unix-domain socket.
    pub addr: Option<SocketAddr>,
    /// The server-side address of a TCP connection (for `samehost`).
    pub local: Option<SocketAddr>,
}

impl Peer {
    /// Host as PostgreSQL prints it in messages: `127.0.0.1` or `[local]`.
    pub fn host(&self) -> String {
        match self.addr {
            Some(a) => normalize_ip(a.ip()).to_string(),
            None => "[local]".to_string(),
        }
    }
}

/// `::ffff:a.b.c.d` is the IPv4 client `a.b.c.d`.
pub(crate) fn normalize_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Why reading a message failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The client went away (or the socket failed, or was shut down for us).
    Eof,
    /// A framing error: the message is unusable and so is the connection.
    /// `send` tells whether PostgreSQL reports it to the client (FATAL) or only
    /// logs it (COMMERROR).
    Protocol { err: PgError, send: bool },
}

/// A message's tag and its decoded body (or the error decoding it gave).
pub(crate) type Decoded = (u8, Result<FrontendMessage, PgError>);

pub(crate) struct Conn {
    reader: BufReader<Stream>,
    out: Vec<u8>,
    pub peer: Peer,
    pub ssl: bool,
    /// CopyInResponse sent and CopyDone/CopyFail not yet read.
    pub copy_in_active: bool,
    /// The connection can no longer be used (EOF or I/O error seen).
    pub broken: bool,
    /// Scratch space for text output of values.
    pub scratch: String,
}

impl Conn {
    pub fn new(stream: Stream, peer: Peer) -> Conn {
        Conn {
            reader: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::with_capacity(8 * 1024),
            peer,
            ssl: false,
            copy_in_active: false,
            broken: false,
            scratch: String::new(),
        }
    }

    /// The handle used to wake this connection's reader from another thread.
    pub fn socket_handle(&self) -> Option<SocketHandle> {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.try_clone().ok().map(SocketHandle::Tcp),
            Stream::Unix(s) => s.try_clone().ok().map(SocketHandle::Unix),
            Stream::Tls(s) => s.socket().try_clone().ok().map(SocketHandle::Tcp),
        }
    }

    /// Reads what the client has sent, without waiting for more: from the
    /// read buffer, or with one read of the socket when it has input.
    /// `WouldBlock`: nothing has arrived. (Over TLS a record that arrived in
    /// part waits for its rest up to the socket's read timeout,
    /// [`Conn::set_read_timeout`]; then `WouldBlock` or `TimedOut`, the bytes
    /// received kept in the session.)
    pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.has_pending_input() && !crate::latch::socket_readable(self.raw_fd()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.reader.read(buf)
    }

    /// Sets the socket's read timeout (`None`: reads wait as long as it takes).
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::Tls(s) => s.socket().set_read_timeout(timeout),
        }
    }

    /// Output buffer, for encoders that append directly.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    pub fn send(&mut self, msg: &BackendMessage) {
        msg.encode(&mut self.out);
    }

    pub fn send_error(&mut self, err: &PgError) {
        tandem_protocol::encode_error(err, &mut self.out);
    }

    /// Sends buffered output if it has grown large.
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.out.len() >= AUTO_FLUSH {
            self.flush()
        } else {
            Ok(())
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let res = self
            .reader
            .get_mut()
            .write_all(&self.out)
            .and_then(|_| self.reader.get_mut().flush());
        self.out.clear();
        if res.is_err() {
            self.broken = true;
        }
        res
    }

    /// Writes raw bytes at once (the one-byte SSLRequest answer).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.flush()?;
        self.reader.get_mut().write_all(bytes)?;
        self.reader.get_mut().flush()
    }

    /// Whether the client sent bytes we have not consumed yet.
    pub fn has_buffered_input(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    /// Whether input is waiting that polling the socket would not show
    /// (buffered here, or inside the TLS session).
    pub fn has_pending_input(&mut self) -> bool {
        self.has_buffered_input()
            || match self.reader.get_mut() {
                Stream::Tls(s) => s.has_pending_input(),
                _ => false,
            }
    }

    /// The socket's descriptor, to poll it together with a latch.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self.reader.get_ref() {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(s) => s.socket().as_raw_fd(),
        }
    }

    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> Result<bool, ReadError> {
        // Returns Ok(false) on a clean EOF before the first byte.
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.broken = true;
                    return if filled == 0 {
                        Ok(false)
                    } else {
                        Err(ReadError::Eof)
                    };
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.broken = true;
                    return Err(ReadError::Eof);
                }
            }
        }
        Ok(true)
    }

    fn read_body(&mut self, len: usize) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::with_capacity(len.min(1 << 20));
        let got = (&mut self.reader).take(len as u64).read_to_end(&mut body);
        match got {
            Ok(n) if n == len => Ok(body),
            _ => {
                self.broken = true;
                Err(ReadError::Eof)
            }
        }
    }

    /// Reads one startup packet; `Ok(None)` if the client closed first.
    pub fn read_startup(&mut self) -> Result<Option<frontend::StartupPacket>, ReadError> {
        let mut hdr = [0u8; 4];
        if !self.read_exact_or_eof(&mut hdr)? {
            return Ok(None);
        }
        let len = frontend::startup_packet_len(hdr)
            .map_err(|err| ReadError::Protocol { err, send: false })?;
        let body = self.read_body(len)?;
        frontend::decode_startup(&body)
            .map(Some)
            .map_err(|err| ReadError::Protocol {
                err: fatal(err),
                send: true,
            })
    }

    /// Reads one typed message as (tag, body); `Ok(None)` at a clean EOF.
    pub fn read_raw_message(&mut self) -> Result<Option<(u8, Vec<u8>)>, ReadError> {
        let mut hdr = [0u8; 5];
        if !self.read_exact_or_eof(&mut hdr)? {
            return Ok(None);
        }
        let (tag, len) = frontend::decode_header(hdr).map_err(|err| {
            let send = err.message != "invalid message length";
            ReadError::Protocol { err, send }
        })?;
        let body = self.read_body(len)?;
        Ok(Some((tag, body)))
    }

    /// Reads and decodes one typed message. The outer error is a dead connection;
    /// the inner one a well-framed message with a bad body (an ERROR for the
    /// client, the connection stays usable).
    pub fn read_message(&mut self) -> Result<Option<Decoded>, ReadError> {
        Ok(self
            .read_raw_message()?
            .map(|(tag, body)| (tag, frontend::decode_message(tag, &body))))
    }

    /// Upgrades a plain TCP connection to TLS after answering `S` to SSLRequest.
    pub fn start_tls(self, config: Arc<ServerConfig>) -> io::Result<Conn> {
        let Conn {
            reader,
            out: _,
            peer,
            ..
        } = self;
        let Stream::Tcp(mut tcp) = reader.into_inner() else {
            return Err(io::Error::other("TLS is only offered on TCP connections"));
        };
        let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
        while tls.is_handshaking() {
            tls.complete_io(&mut tcp)?;
        }
        let mut conn = Conn::new(Stream::Tls(Box::new(TlsStream::new(tls, tcp))), peer);
        conn.ssl = true;
        Ok(conn)
    }

    /// What was negotiated, for a TLS connection.
    pub fn tls_info(&self) -> Option<tandem_expr::SslStatus> {
        match self.reader.get_ref() {
            Stream::Tls(s) => Some(s.negotiated()),
            _ => None,
        }
    }

    /// TLS protocol and cipher names for `connection authorized` log lines
    /// (PostgreSQL: `SSL enabled (protocol=TLSv1.3, cipher=..., bits=256)`).
    pub fn tls_description(&self) -> Option<String> {
        self.tls_info().map(|i| {
            format!(
                "SSL enabled (protocol={}, cipher={}, bits={})",
                i.version, i.cipher, i.bits
            )
        })
    }

    /// Sends a TLS close_notify if this is a TLS connection.
    pub fn close(&mut self) {
        let _ = self.flush();
        if let Stream::Tls(s) = self.reader.get_mut() {
            s.close();
        }
    }
}

/// Errors before the session exists are FATAL (PostgreSQL promotes ERRORs during
/// authentication: there is no transaction to abort).
pub(crate) fn fatal(mut err: PgError) -> PgError {
    if !err.is_fatal() {
        err.severity = tandem_types::error::Severity::Fatal;
    }
    err
}

/// `08P01` FATAL for an unexpected message during a fixed exchange.
pub(crate) fn protocol_fatal(message: impl Into<String>) -> PgError {
    PgError::fatal(SqlState::PROTOCOL_VIOLATION, message)
}
