//! TLS for `ssl = on`: loading `ssl_cert_file` / `ssl_key_file` (PEM, relative to
//! the data directory) into a rustls server configuration, and the encrypted
//! byte stream of one connection.
//!
//! The configuration is loaded at startup (a missing file is FATAL, as
//! PostgreSQL) and again on SIGHUP (a failure then keeps the old configuration
//! and is logged).
//!
//! One connection ([`TlsStream`]) reads socket bytes into a buffer of its own
//! and hands them to the rustls session as it takes them (it takes no more
//! while its plaintext buffer is full); writes are encrypted into a buffer
//! that goes to the socket at once.
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/be-secure-openssl.c`
//! (`be_tls_init`, `be_tls_read`, `be_tls_write`).

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use tandem_expr::SslStatus;
use tandem_types::{PgError, PgResult, SqlState};

/// `F0000 config_file_error`, FATAL at startup.
fn config_error(message: String) -> PgError {
    PgError::fatal(SqlState("F0000"), message)
}

fn os_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// Builds the server TLS configuration from the named files.
pub(crate) fn load(datadir: &Path, cert_file: &str, key_file: &str) -> PgResult<Arc<ServerConfig>> {
    let cert_path = datadir.join(cert_file);
    let key_path = datadir.join(key_file);
    let cert_text = std::fs::read(&cert_path).map_err(|e| {
        config_error(format!(
            "could not load server certificate file \"{cert_file}\": {}",
            os_reason(&e)
        ))
    })?;
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut BufReader::new(&cert_text[..]))
            .collect::<Result<_, _>>()
            .map_err(|e| {
                config_error(format!(
                    "could not load server certificate file \"{cert_file}\": {e}"
                ))
            })?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "could not load server certificate file \"{cert_file}\": no certificate found"
        )));
    }
    let key_text = std::fs::read(&key_path).map_err(|e| {
        config_error(format!(
            "could not load private key file \"{key_file}\": {}",
            os_reason(&e)
        ))
    })?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut BufReader::new(&key_text[..]))
            .map_err(|e| {
                config_error(format!(
                    "could not load private key file \"{key_file}\": {e}"
                ))
            })?
            .ok_or_else(|| {
                config_error(format!(
                    "could not load private key file \"{key_file}\": no private key found"
                ))
            })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("could not create SSL context: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            config_error(format!(
                "could not load private key file \"{key_file}\": {e}"
            ))
        })?;
    Ok(Arc::new(config))
}

/// Bytes read from the socket at a time.
const RAW_READ: usize = 16 * 1024;

/// The TLS session and the bytes read from the socket it has not taken yet
/// (it takes no more while its plaintext buffer is full).
struct TlsState {
    tls: ServerConnection,
    raw: Vec<u8>,
}

impl TlsState {
    /// Hands received bytes to the session until it takes no more. `Ok(())`
    /// also when some are left for later.
    fn feed(&mut self) -> io::Result<()> {
        while !self.raw.is_empty() {
            match self.tls.read_tls(&mut &self.raw[..]) {
                // close_notify seen: nothing after it is read
                Ok(0) => self.raw.clear(),
                Ok(n) => {
                    self.raw.drain(..n);
                    self.process()?;
                }
                // from a byte slice, the only error is a full buffer
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn process(&mut self) -> io::Result<()> {
        self.tls
            .process_new_packets()
            .map(|_| ())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Decrypted bytes into `buf`: `Some` when there were any (or the stream
    /// ended), `None` when more must be read from the socket.
    fn take_plaintext(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        loop {
            match self.tls.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Some(r),
            }
            if self.raw.is_empty() {
                return None;
            }
            let before = self.raw.len();
            if let Err(e) = self.feed() {
                return Some(Err(e));
            }
            if self.raw.len() == before {
                return None;
            }
        }
    }

    /// Socket bytes `bytes` (empty: the peer closed the socket) received.
    fn received(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            if self.raw.is_empty() {
                // marks the end of the stream: the reader reports
                // UnexpectedEof, or end of file after close_notify
                let _ = self.tls.read_tls(&mut &bytes[..]);
                return self.process();
            }
            return Ok(());
        }
        self.raw.extend_from_slice(bytes);
        self.feed()
    }

    /// Moves the TLS output the session has ready to `out`.
    fn drain_output(&mut self, out: &mut Vec<u8>) {
        while self.tls.wants_write() {
            // writing into a Vec cannot fail
            if self.tls.write_tls(out).is_err() {
                break;
            }
        }
    }
}

/// One TLS connection after its handshake.
pub(crate) struct TlsStream {
    state: TlsState,
    sock: TcpStream,
    raw_buf: Vec<u8>,
    /// Encrypted output waiting for the socket (kept to reuse its memory).
    out: Vec<u8>,
}

impl TlsStream {
    /// Wraps a session whose handshake completed over `sock`.
    pub(crate) fn new(mut tls: ServerConnection, sock: TcpStream) -> TlsStream {
        // each write is encrypted and moved out at once
        tls.set_buffer_limit(None);
        TlsStream {
            state: TlsState {
                tls,
                raw: Vec::new(),
            },
            sock,
            raw_buf: vec![0; RAW_READ],
            out: Vec::new(),
        }
    }

    pub(crate) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// Whether input is waiting that a socket poll would not show: received
    /// bytes not yet decrypted, or plaintext not yet read.
    pub(crate) fn has_pending_input(&mut self) -> bool {
        let st = &mut self.state;
        if !st.raw.is_empty() {
            return true;
        }
        st.tls
            .process_new_packets()
            .map(|io| io.plaintext_bytes_to_read() > 0)
            .unwrap_or(true)
    }

    /// What was negotiated: the protocol version (`TLSv1.3`) and cipher suite
    /// name, as OpenSSL names them for `pg_stat_ssl`.
    pub(crate) fn negotiated(&self) -> SslStatus {
        let st = &self.state;
        let version = match st.tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let (cipher, bits) = match st.tls.negotiated_cipher_suite() {
            Some(cs) => openssl_cipher_name(cs.suite()),
            None => (String::new(), 0),
        };
        SslStatus {
            version,
            cipher,
            bits,
        }
    }

    /// Sends a close_notify alert.
    pub(crate) fn close(&mut self) {
        self.state.tls.send_close_notify();
        self.state.drain_output(&mut self.out);
        let _ = self.send_out();
    }

    fn send_out(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = (&self.sock).write_all(&self.out);
        self.out.clear();
        r
    }
}

impl Read for TlsStream {
    /// Plaintext into `buf`: what the session has decrypted already, else
    /// socket bytes read and decrypted.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(r) = self.state.take_plaintext(buf) {
                return r;
            }
            let n = (&self.sock).read(&mut self.raw_buf)?;
            self.state.received(&self.raw_buf[..n])?;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.state.tls.writer().write(buf)?;
        self.state.drain_output(&mut self.out);
        self.send_out()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.state.drain_output(&mut self.out);
        self.send_out()
    }
}

/// OpenSSL's name of a cipher suite and its key bits (PostgreSQL reports
/// OpenSSL's names).
fn openssl_cipher_name(suite: rustls::CipherSuite) -> (String, i32) {
    use rustls::CipherSuite as C;
    let (name, bits) = match suite {
        C::TLS13_AES_256_GCM_SHA384 => ("TLS_AES_256_GCM_SHA384", 256),
        C::TLS13_AES_128_GCM_SHA256 => ("TLS_AES_128_GCM_SHA256", 128),
        C::TLS13_CHACHA20_POLY1305_SHA256 => ("TLS_CHACHA20_POLY1305_SHA256", 256),
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-ECDSA-AES256-GCM-SHA384", 256),
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-ECDSA-AES128-GCM-SHA256", 128),
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => ("ECDHE-ECDSA-CHACHA20-POLY1305", 256),
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => ("ECDHE-RSA-AES256-GCM-SHA384", 256),
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => ("ECDHE-RSA-AES128-GCM-SHA256", 128),
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => ("ECDHE-RSA-CHACHA20-POLY1305", 256),
        other => return (format!("{other:?}"), 0),
    };
    (name.to_string(), bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_certificate_is_fatal_with_postgresql_text() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), "server.crt", "server.key").unwrap_err();
        assert!(e.is_fatal());
        assert_eq!(
            e.message,
            "could not load server certificate file \"server.crt\": No such file or directory"
        );
        std::fs::write(dir.path().join("server.crt"), "not pem").unwrap();
        let e = load(dir.path(), "server.crt", "server.key").unwrap_err();
        assert!(
            e.message
                .starts_with("could not load server certificate file"),
            "{}",
            e.message
        );
    }
}
