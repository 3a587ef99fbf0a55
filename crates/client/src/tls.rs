//! TLS for outgoing connections: the `sslmode` decision, the client
//! configuration built from `sslrootcert`, `sslcert`/`sslkey`, `sslcrl` and
//! `sslsni`, the handshake over an open TCP socket, and libpq's check of the
//! server certificate's names against the host for `verify-full`.
//!
//! libpq's rules, kept here:
//! - The chain is checked whenever the root certificate file exists
//!   (`sslrootcert`, default `~/.postgresql/root.crt`; `system` for the
//!   system's bundle), whatever the mode: `require` with a root file is
//!   `verify-ca`. Without the file, `verify-ca`/`verify-full` fail with
//!   libpq's "root certificate file ... does not exist" and its hint; the
//!   other modes accept any certificate.
//! - `verify-full` then matches the host name (not `hostaddr`) against the
//!   certificate's subject alternative names of the host's type (DNS names,
//!   or IP addresses for a numeric host), falling back to the common name
//!   when there is none of that type; a leading `*.` matches one label.
//!   rustls's own name check is not used: [`ChainOnly`] verifies the chain
//!   and ignores name errors, [`check_host_name`] applies libpq's rules after
//!   the handshake, as libpq does.
//! - SNI carries the host name unless `sslsni=0` or the host is an address.
//!
//! PostgreSQL counterparts: `interfaces/libpq/fe-secure-openssl.c`
//! (`initialize_SSL`, `open_client_SSL`,
//! `pgtls_verify_peer_name_matches_certificate_guts`),
//! `fe-secure-common.c` (`pq_verify_peer_name_matches_certificate*`,
//! `wildcard_certificate_match`) and the sslmode checks of `fe-connect.c`.

use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use crate::conninfo::ConnInfo;

/// A TLS session over TCP, as the connection reads and writes it.
pub type TlsStream = StreamOwned<ClientConnection, BufSock>;

/// Bytes read from the socket at a time under TLS (as much as one plain read
/// of the connection takes).
const SOCKET_READ: usize = 64 * 1024;

/// The TCP socket under a TLS session, read [`SOCKET_READ`] bytes at a time.
/// rustls takes at most 4 kB per `read_tls`: straight from the socket, a
/// stream of small records (a walsender's batch) would arrive in 4 kB reads,
/// and a reader that ends its batch when no whole message is left (the apply
/// worker, the walreceiver) would end it every 4 kB. Writes go straight to
/// the socket.
pub struct BufSock {
    sock: TcpStream,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
}

impl BufSock {
    fn new(sock: TcpStream) -> BufSock {
        BufSock {
            sock,
            buf: vec![0; SOCKET_READ].into_boxed_slice(),
            pos: 0,
            len: 0,
        }
    }

    /// Bytes read from the socket that the session has not taken yet.
    fn buffered(&self) -> usize {
        self.len - self.pos
    }
}

impl std::ops::Deref for BufSock {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.sock
    }
}

impl Read for BufSock {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.len = self.sock.read(&mut self.buf)?;
            self.pos = 0;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for BufSock {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.sock.write(b)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.sock.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Hands the session some of the bytes already read from the socket and
/// decrypts the records they complete. `Ok(false)` when it takes none (no
/// bytes are left, or its plaintext buffer is full).
fn decrypt_buffered(s: &mut TlsStream) -> io::Result<bool> {
    if s.sock.buffered() == 0 || s.conn.read_tls(&mut s.sock).is_err() {
        return Ok(false);
    }
    s.conn
        .process_new_packets()
        .map(|_| true)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads plaintext into `buf` as a read of a plain socket would: waits until
/// some arrives, then adds what that socket read brought along, as far as it
/// fits.
pub fn read_available(s: &mut TlsStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = s.read(buf)?;
    while n > 0 && n < buf.len() && decrypt_buffered(s)? {
        match s.conn.reader().read(&mut buf[n..]) {
            // close_notify: the next read reports the end
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether plaintext can be read without waiting for the socket: decrypted
/// already, or in whole records read from the socket.
pub fn plaintext_ready(s: &mut TlsStream) -> bool {
    loop {
        match s.conn.process_new_packets() {
            Ok(io) if io.plaintext_bytes_to_read() > 0 => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        if s.sock.buffered() == 0 || s.conn.read_tls(&mut s.sock).is_err() {
            return false;
        }
    }
}

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// libpq's hint after a missing root certificate file.
const ROOT_HINT: &str = "Either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.";

impl SslMode {
    /// The value of `sslmode` (unset: `prefer`).
    pub fn parse(v: Option<&str>) -> Result<SslMode, String> {
        Ok(match v.unwrap_or("prefer") {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(format!("invalid sslmode value: \"{other}\"")),
        })
    }

    /// Whether the first attempt on a TCP socket sends an SSLRequest
    /// (`disable` and `allow` start in plain text).
    pub fn tls_first(self) -> bool {
        !matches!(self, SslMode::Disable | SslMode::Allow)
    }

    /// The server answered the SSLRequest with `N`: `Ok` to go on in plain
    /// text on the same socket (`prefer`), libpq's error otherwise.
    pub fn on_refused(self) -> Result<(), String> {
        if self == SslMode::Prefer {
            Ok(())
        } else {
            Err("server does not support SSL, but SSL was required".into())
        }
    }

    /// A server rejected the startup with an error: whether libpq tries the
    /// same host once more with the other choice (`allow` after a plain
    /// attempt, `prefer` after a TLS one). Returns the retry's `tls`.
    pub fn retry_after_rejection(self, tls: bool) -> Option<bool> {
        match (self, tls) {
            (SslMode::Allow, false) => Some(true),
            (SslMode::Prefer, true) => Some(false),
            _ => None,
        }
    }

    fn verifies_chain_always(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// The TLS settings of a connection string.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub mode: SslMode,
    rootcert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    crl: Option<String>,
    sni: bool,
}

fn nonempty<'a>(c: &'a ConnInfo, k: &str) -> Option<&'a str> {
    c.get(k).filter(|v| !v.is_empty())
}

/// `$HOME/.postgresql/<name>` (libpq's defaults), if the home is known.
fn home_file(name: &str) -> Option<String> {
    std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("{h}/.postgresql/{name}"))
}

impl TlsOptions {
    /// Reads and checks the settings (libpq's `connectOptions2` checks: a
    /// bad `sslmode`, a weak one with `sslrootcert=system`, which otherwise
    /// makes `verify-full` the default). Values come from the string or
    /// libpq's environment variables (`PGSSLMODE`, `PGSSLROOTCERT`, ...).
    pub fn from_conninfo(c: &ConnInfo) -> Result<TlsOptions, String> {
        let get = |k: &str, env: &str| {
            nonempty(c, k)
                .map(str::to_string)
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let mode_text = get("sslmode", "PGSSLMODE");
        let rootcert = get("sslrootcert", "PGSSLROOTCERT");
        let mut mode = SslMode::parse(mode_text.as_deref())?;
        if rootcert.as_deref() == Some("system") {
            match mode_text.as_deref() {
                None => mode = SslMode::VerifyFull,
                Some("verify-full") => {}
                Some(weak) => {
                    return Err(format!(
                        "weak sslmode \"{weak}\" may not be used with sslrootcert=system (use \"verify-full\")"
                    ))
                }
            }
        }
        let sni = get("sslsni", "PGSSLSNI").is_none_or(|v| v == "1");
        Ok(TlsOptions {
            mode,
            rootcert,
            cert: get("sslcert", "PGSSLCERT"),
            key: get("sslkey", "PGSSLKEY"),
            crl: get("sslcrl", "PGSSLCRL"),
            sni,
        })
    }

    /// The client configuration for one host (libpq's `initialize_SSL`):
    /// roots, revocation lists, client certificate. Errors are libpq's texts.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = self.load_roots()?;
        let verifier: Arc<dyn ServerCertVerifier> = match roots {
            Some(roots) => {
                let crls = self.load_crls();
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .with_crls(crls)
                        .build()
                        .map_err(|e| format!("could not create SSL context: {e}"))?;
                Arc::new(ChainOnly(inner))
            }
            None => Arc::new(AnyCertificate(provider.clone())),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("could not create SSL context: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match self.load_client_cert()? {
            Some((certs, key, key_path)) => {
                builder.with_client_auth_cert(certs, key).map_err(|e| {
                    format!("certificate does not match private key file \"{key_path}\": {e}")
                })?
            }
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = self.sni;
        Ok(Arc::new(config))
    }

    /// The trust anchors, or `None` when the chain is not checked (no root
    /// file, and a mode below `verify-ca`).
    fn load_roots(&self) -> Result<Option<RootCertStore>, String> {
        let path = match self.rootcert.clone().or_else(|| home_file("root.crt")) {
            Some(p) => p,
            None if self.mode.verifies_chain_always() => {
                return Err(format!(
                    "could not get home directory to locate root certificate file\n{ROOT_HINT}"
                ))
            }
            None => return Ok(None),
        };
        let path =
            if path == "system" {
                match system_bundle() {
                    Some(p) => p,
                    None => return Err(
                        "could not load system root certificate paths: no certificate bundle found"
                            .into(),
                    ),
                }
            } else {
                path
            };
        if std::fs::metadata(&path).is_err() {
            if self.mode.verifies_chain_always() {
                return Err(format!(
                    "root certificate file \"{path}\" does not exist\n{ROOT_HINT}"
                ));
            }
            return Ok(None);
        }
        let certs = read_certs(&path)
            .map_err(|e| format!("could not read root certificate file \"{path}\": {e}"))?;
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "could not read root certificate file \"{path}\": no certificate found"
            ));
        }
        Ok(Some(roots))
    }

    /// `sslcrl` (default `~/.postgresql/root.crl`); a missing or unreadable
    /// file is ignored, as libpq does.
    fn load_crls(&self) -> Vec<CertificateRevocationListDer<'static>> {
        let Some(path) = self.crl.clone().or_else(|| home_file("root.crl")) else {
            return Vec::new();
        };
        let Ok(text) = std::fs::read(&path) else {
            return Vec::new();
        };
        rustls_pemfile::crls(&mut BufReader::new(&text[..]))
            .filter_map(Result::ok)
            .collect()
    }

    /// `sslcert`/`sslkey` (defaults `~/.postgresql/postgresql.crt` and
    /// `.key`): none if the certificate file does not exist; the key file
    /// must then exist, be a regular file and not be readable by others.
    #[allow(clippy::type_complexity)]
    fn load_client_cert(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)>, String>
    {
        let Some(cert_path) = self.cert.clone().or_else(|| home_file("postgresql.crt")) else {
            return Ok(None);
        };
        match std::fs::metadata(&cert_path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "could not open certificate file \"{cert_path}\": {}",
                    os_text(&e)
                ))
            }
        }
        let certs = read_certs(&cert_path)
            .map_err(|e| format!("could not read certificate file \"{cert_path}\": {e}"))?;
        if certs.is_empty() {
            return Err(format!(
                "could not read certificate file \"{cert_path}\": no certificate found"
            ));
        }
        let Some(key_path) = self.key.clone().or_else(|| home_file("postgresql.key")) else {
            return Ok(None);
        };
        let meta = match std::fs::metadata(&key_path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "certificate present, but not private key file \"{key_path}\""
                ))
            }
            Err(e) => {
                return Err(format!(
                    "could not stat private key file \"{key_path}\": {}",
                    os_text(&e)
                ))
            }
        };
        if !meta.is_file() {
            return Err(format!(
                "private key file \"{key_path}\" is not a regular file"
            ));
        }
        let loose = if meta.uid() == 0 {
            meta.mode() & 0o037 != 0
        } else {
            meta.mode() & 0o077 != 0
        };
        if loose {
            return Err(format!(
                "private key file \"{key_path}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root"
            ));
        }
        let text = std::fs::read(&key_path).map_err(|e| {
            format!(
                "could not load private key file \"{key_path}\": {}",
                os_text(&e)
            )
        })?;
        let key = rustls_pemfile::private_key(&mut BufReader::new(&text[..]))
            .map_err(|e| format!("could not load private key file \"{key_path}\": {e}"))?
            .or_else(|| {
                // a DER file, as libpq's second try
                PrivateKeyDer::try_from(text.clone()).ok()
            })
            .ok_or_else(|| {
                format!("could not load private key file \"{key_path}\": no private key found")
            })?;
        Ok(Some((certs, key, key_path)))
    }
}

/// The system's CA bundle (OpenSSL's default file, or `SSL_CERT_FILE`).
fn system_bundle() -> Option<String> {
    std::env::var("SSL_CERT_FILE")
        .ok()
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem",
            ]
            .map(String::from),
        )
        .find(|p| Path::new(p).is_file())
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| os_text(&e))?;
    rustls_pemfile::certs(&mut BufReader::new(&text[..]))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

/// An OS error as C's `strerror` words it (no Rust `(os error N)` suffix).
pub(crate) fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Verifies the chain against the roots (and revocation lists), not the
/// name: `verify-ca`, and the first half of `verify-full`.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name only once the chain is good
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// No root certificate and a mode below `verify-ca`: any certificate is
/// accepted (the handshake's signatures are still checked).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A handshake failure as libpq words it.
fn handshake_error(e: &std::io::Error) -> String {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidCertificate(_) => "SSL error: certificate verify failed".into(),
            other => format!("SSL error: {other}"),
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "SSL SYSCALL error: EOF detected".into(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timeout expired".into(),
        _ => format!("SSL SYSCALL error: {}", os_text(e)),
    }
}

/// Runs the handshake on `tcp` (after the server's `S`) and, for
/// `verify-full`, checks the certificate's names against `host`.
pub fn handshake(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
    host: &str,
    mode: SslMode,
) -> Result<TlsStream, String> {
    // rustls sends SNI only for a DNS name; an address (or a name rustls
    // cannot take) goes as the peer's address, without SNI, as libpq
    let name = ServerName::try_from(host.to_string())
        .ok()
        .or_else(|| tcp.peer_addr().ok().map(|a| ServerName::from(a.ip())))
        .ok_or_else(|| "could not establish SSL connection: no server name".to_string())?;
    let conn = ClientConnection::new(config, name)
        .map_err(|e| format!("could not establish SSL connection: {e}"))?;
    let mut stream = StreamOwned::new(conn, BufSock::new(tcp));
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| handshake_error(&e))?;
    }
    if mode == SslMode::VerifyFull {
        let cert = stream
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| "certificate could not be obtained".to_string())?;
        check_host_name(cert.as_ref(), host)?;
    }
    Ok(stream)
}

/// libpq's `wildcard_certificate_match`: `*.` then the rest, case-insensitive,
/// the star standing for one label.
fn wildcard_match(pattern: &str, host: &str) -> bool {
    let Some(rest) = pattern.strip_prefix('*') else {
        return false;
    };
    if pattern.len() < 3 || !rest.starts_with('.') || pattern.len() > host.len() {
        return false;
    }
    let cut = host.len() - rest.len();
    let (head, tail) = host.split_at_checked(cut).unwrap_or(("", ""));
    tail.eq_ignore_ascii_case(rest) && !head.contains('.')
}

/// One name of the certificate against the host: `Ok(true)` on a match.
fn name_matches(name: &[u8], host: &str) -> Result<(bool, String), String> {
    if name.contains(&0) {
        return Err("SSL certificate's name contains embedded null".into());
    }
    let text = String::from_utf8_lossy(name).into_owned();
    let ok = text.eq_ignore_ascii_case(host) || wildcard_match(&text, host);
    Ok((ok, text))
}

/// An address entry of the certificate against the host.
fn ip_matches(ip: &[u8], host: &str) -> Result<(bool, String), String> {
    let (addr, host_addr): (IpAddr, Option<IpAddr>) = match ip.len() {
        4 => (
            IpAddr::from(<[u8; 4]>::try_from(ip).unwrap_or_default()),
            host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        ),
        16 => (
            IpAddr::from(<[u8; 16]>::try_from(ip).unwrap_or_default()),
            host.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        ),
        n => {
            return Err(format!(
                "certificate contains IP address with invalid length {n}"
            ))
        }
    };
    Ok((host_addr == Some(addr), addr.to_string()))
}

/// libpq's check of the server certificate's names against the host
/// (`verify-full`); the error names the certificate's first name.
pub fn check_host_name(cert_der: &[u8], host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("host name must be specified for a verified SSL connection".into());
    }
    let names = der::cert_names(cert_der)
        .ok_or_else(|| "could not get server's host name from server certificate".to_string())?;
    let host_is_ip = host.parse::<IpAddr>().is_ok();
    let mut examined = 0usize;
    let mut first: Option<String> = None;
    let mut check_cn = true;
    for san in &names.sans {
        let (is_ip, data) = match san {
            der::San::Dns(d) => (false, d),
            der::San::Ip(d) => (true, d),
        };
        if is_ip == host_is_ip {
            check_cn = false;
        }
        examined += 1;
        let (ok, shown) = if is_ip {
            ip_matches(data, host)?
        } else {
            name_matches(data, host)?
        };
        first.get_or_insert(shown);
        if ok {
            return Ok(());
        }
    }
    if check_cn {
        if let Some(cn) = &names.common_name {
            examined += 1;
            let (ok, shown) = name_matches(cn, host)?;
            first.get_or_insert(shown);
            if ok {
                return Ok(());
            }
        }
    }
    let first = first.unwrap_or_default();
    Err(match examined {
        0 => "could not get server's host name from server certificate".into(),
        1 => format!("server certificate for \"{first}\" does not match host name \"{host}\""),
        2 => format!(
            "server certificate for \"{first}\" (and 1 other name) does not match host name \"{host}\""
        ),
        n => format!(
            "server certificate for \"{first}\" (and {} other names) does not match host name \"{host}\"",
            n - 1
        ),
    })
}

/// Just enough DER to read a certificate's subject common name and subject
/// alternative names.
mod der {
    /// A subject alternative name of a type libpq looks at.
    pub(super) enum San {
        Dns(Vec<u8>),
        Ip(Vec<u8>),
    }

    pub(super) struct Names {
        pub sans: Vec<San>,
        pub common_name: Option<Vec<u8>>,
    }

    /// Splits off one element: (tag, contents, rest).
    fn take(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = data.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    fn elements(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
        std::iter::from_fn(move || {
            let (tag, body, rest) = take(data)?;
            data = rest;
            Some((tag, body))
        })
    }

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    const OCTETS: u8 = 0x04;
    const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
    const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

    pub(super) fn cert_names(cert: &[u8]) -> Option<Names> {
        let (SEQUENCE, cert, _) = take(cert)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = take(cert)? else {
            return None;
        };
        let mut fields = elements(tbs).peekable();
        // [0] version
        fields.next_if(|(t, _)| *t == 0xa0);
        // serial, signature, issuer, validity, subject
        let subject = fields.nth(4)?.1;
        let mut names = Names {
            sans: Vec::new(),
            common_name: None,
        };
        'rdns: for (tag, rdn) in elements(subject) {
            if tag != SET {
                continue;
            }
            for (tag, atv) in elements(rdn) {
                let mut parts = elements(atv);
                if let (SEQUENCE, Some((OID, oid)), Some((_, value))) =
                    (tag, parts.next(), parts.next())
                {
                    if oid == OID_CN {
                        names.common_name = Some(value.to_vec());
                        break 'rdns;
                    }
                }
            }
        }
        // [3] extensions
        let Some((_, exts)) = fields.find(|(t, _)| *t == 0xa3) else {
            return Some(names);
        };
        let (SEQUENCE, exts, _) = take(exts)? else {
            return None;
        };
        for (_, ext) in elements(exts) {
            let mut parts = elements(ext);
            let Some((OID, oid)) = parts.next() else {
                continue;
            };
            if oid != OID_SAN {
                continue;
            }
            let Some((_, value)) = parts.find(|(t, _)| *t == OCTETS) else {
                continue;
            };
            let (SEQUENCE, general_names, _) = take(value)? else {
                return None;
            };
            for (tag, body) in elements(general_names) {
                match tag {
                    0x82 => names.sans.push(San::Dns(body.to_vec())),
                    0x87 => names.sans.push(San::Ip(body.to_vec())),
                    _ => {}
                }
            }
        }
        Some(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many small records sent at once arrive in one read, as over plain TCP
    /// (rustls alone would hand over what 4 kB of the socket held).
    #[test]
    fn one_read_takes_all_records_the_socket_holds() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent_tx, sent_rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
            let mut s = StreamOwned::new(conn, tcp);
            while s.conn.is_handshaking() {
                s.conn.complete_io(&mut s.sock).unwrap();
            }
            // 200 records of 100 bytes, written to the socket in one go
            for i in 0..200u8 {
                s.conn.writer().write_all(&[i; 100]).unwrap();
            }
            let mut out = Vec::new();
            while s.conn.wants_write() {
                s.conn.write_tls(&mut out).unwrap();
            }
            s.sock.write_all(&out).unwrap();
            sent_tx.send(out.len()).unwrap();
            // keep the socket open until the client is done
            let mut rest = [0u8; 1];
            let _ = s.sock.read(&mut rest);
        });
        let tcp = TcpStream::connect(addr).unwrap();
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        let mut stream = handshake(tcp, Arc::new(config), "localhost", SslMode::Require).unwrap();
        // wait until loopback holds every byte sent, then read once
        let sent = sent_rx.recv().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stream.sock.peek(&mut buf).unwrap() < sent {
            assert!(
                std::time::Instant::now() < deadline,
                "the records never arrived"
            );
            std::thread::yield_now();
        }
        let got = read_available(&mut stream, &mut buf).unwrap();
        assert_eq!(got, 20_000);
        assert!(buf[..got]
            .chunks(100)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b as usize == i)));
        stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn sslmode_decision_table() {
        use SslMode::*;
        assert_eq!(SslMode::parse(None), Ok(Prefer));
        assert_eq!(
            SslMode::parse(Some("foo")),
            Err("invalid sslmode value: \"foo\"".into())
        );
        let table = [
            // mode, SSLRequest first, 'N' accepted, retry after rejection (plain, tls)
            (Disable, false, false, None, None),
            (Allow, false, false, Some(true), None),
            (Prefer, true, true, None, Some(false)),
            (Require, true, false, None, None),
            (VerifyCa, true, false, None, None),
            (VerifyFull, true, false, None, None),
        ];
        for (mode, first, refused_ok, plain_retry, tls_retry) in table {
            assert_eq!(mode.tls_first(), first, "{mode:?}");
            assert_eq!(mode.on_refused().is_ok(), refused_ok, "{mode:?}");
            assert_eq!(mode.retry_after_rejection(false), plain_retry, "{mode:?}");
            assert_eq!(mode.retry_after_rejection(true), tls_retry, "{mode:?}");
        }
        assert_eq!(
            Require.on_refused(),
            Err("server does not support SSL, but SSL was required".into())
        );
    }

    fn opts(s: &str) -> Result<TlsOptions, String> {
        TlsOptions::from_conninfo(&ConnInfo::parse(s).map_err(|e| e.0)?)
    }

    #[test]
    fn sslrootcert_system_rules() {
        assert_eq!(
            opts("sslrootcert=system").map(|o| o.mode).ok(),
            Some(SslMode::VerifyFull)
        );
        assert_eq!(
            opts("sslrootcert=system sslmode=require").err(),
            Some(
                "weak sslmode \"require\" may not be used with sslrootcert=system (use \"verify-full\")"
                    .into()
            )
        );
        assert!(opts("sslsni=0").is_ok_and(|o| !o.sni));
        assert!(opts("").is_ok_and(|o| o.sni && o.mode == SslMode::Prefer));
    }

    #[test]
    fn missing_root_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothere.crt");
        let m = missing.display();
        let e = opts(&format!("sslmode=verify-ca sslrootcert={m}"))
            .and_then(|o| o.client_config().map(|_| ()))
            .unwrap_err();
        assert_eq!(
            e,
            format!("root certificate file \"{m}\" does not exist\nEither provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.")
        );
        // require without the file: no verification, no error
        assert!(opts(&format!("sslmode=require sslrootcert={m}"))
            .and_then(|o| o.client_config().map(|_| ()))
            .is_ok());
    }

    #[test]
    fn wildcards_as_libpq() {
        assert!(wildcard_match("*.example.com", "db.example.com"));
        assert!(wildcard_match("*.example.com", "DB.Example.COM"));
        assert!(!wildcard_match("*.example.com", "a.db.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(!wildcard_match("db.*.com", "db.example.com"));
        assert!(!wildcard_match("*", "x"));
    }

    fn cert(sans: &[&str], cn: &str) -> Vec<u8> {
        let mut p =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "tandem");
        dn.push(rcgen::DnType::CommonName, cn);
        p.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn host_name_check_as_libpq() {
        let c = cert(&["localhost"], "ignored.example");
        assert_eq!(check_host_name(&c, "localhost"), Ok(()));
        assert_eq!(check_host_name(&c, "LOCALHOST"), Ok(()));
        assert_eq!(
            check_host_name(&c, "127.0.0.1"),
            Err("server certificate for \"localhost\" (and 1 other name) does not match host name \"127.0.0.1\"".into())
        );
        let c = cert(&["localhost", "127.0.0.1"], "x");
        assert_eq!(check_host_name(&c, "127.0.0.1"), Ok(()));
        assert_eq!(
            check_host_name(&c, "other"),
            Err("server certificate for \"localhost\" (and 1 other name) does not match host name \"other\"".into())
        );
        // DNS entries only, DNS host: the common name is not looked at
        let c = cert(&["a.example", "b.example", "*.c.example"], "other");
        assert_eq!(check_host_name(&c, "x.c.example"), Ok(()));
        assert_eq!(
            check_host_name(&c, "other"),
            Err("server certificate for \"a.example\" (and 2 other names) does not match host name \"other\"".into())
        );
        // no SAN: the common name
        let c = cert(&[], "db.example");
        assert_eq!(check_host_name(&c, "db.example"), Ok(()));
        assert_eq!(
            check_host_name(&c, "localhost"),
            Err(
                "server certificate for \"db.example\" does not match host name \"localhost\""
                    .into()
            )
        );
        let c = cert(&["::1"], "x");
        assert_eq!(check_host_name(&c, "::1"), Ok(()));
        assert_eq!(
            check_host_name(&c, "127.0.0.1"),
            Err("server certificate for \"::1\" does not match host name \"127.0.0.1\"".into())
        );
    }
}
