//! Smoke tests of the postmaster and the connection startup path over real TCP:
//! pid file lock, protocol version check, SSL negotiation without TLS,
//! pg_hba.conf decisions, SCRAM and password authentication with PostgreSQL's
//! error texts, and a clean smart shutdown. A tiny client speaks the protocol with
//! `tandem_protocol` (the same codec tandem's own replication clients will use).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use tandem_protocol::backend::parse_backend_message;
use tandem_protocol::frontend::{
    encode_password, encode_sasl_initial, encode_special, encode_startup,
};
use tandem_protocol::scram::{make_verifier, ScramClient};
use tandem_protocol::{BackendMessage, FrontendMessage, StartupPacket};
use tandem_server::{ServerHandle, ShutdownMode};
use tandem_storage::{BootstrapOptions, Database};

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Node {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    port: u16,
}

fn init(hba: &str) -> Node {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    Database::bootstrap(
        &dir,
        BootstrapOptions {
            superuser: "postgres".into(),
            password_verifier: Some(make_verifier("sekret")),
            wal_segment_size: 16 * 1024 * 1024,
        },
    )
    .unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("postgresql.conf"),
        format!("port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"),
    )
    .unwrap();
    std::fs::write(dir.join("pg_hba.conf"), hba).unwrap();
    Node {
        _tmp: tmp,
        dir,
        port,
    }
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client { s, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn startup(&mut self, user: &str, db: &str) {
        let mut b = Vec::new();
        encode_startup(&[("user", user), ("database", db)], &mut b);
        self.send(&b);
    }

    /// Next message, `None` at EOF.
    fn recv(&mut self) -> Option<BackendMessage> {
        loop {
            if let Some((m, used)) = parse_backend_message(&self.buf).unwrap() {
                self.buf.drain(..used);
                return Some(m);
            }
            let mut chunk = [0u8; 8192];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads until an ErrorResponse (returned as (code, message)) or EOF/ReadyForQuery.
    fn expect_error(&mut self) -> (String, String) {
        while let Some(m) = self.recv() {
            if let BackendMessage::ErrorResponse(f) = m {
                return (f.code().to_string(), f.message().to_string());
            }
        }
        panic!("connection ended without an error");
    }

    /// Reads until an ErrorResponse (`Some((code, message))`) or until the
    /// session is ready for queries (`None`).
    fn error_or_ready(&mut self) -> Option<(String, String)> {
        while let Some(m) = self.recv() {
            match m {
                BackendMessage::ErrorResponse(f) => {
                    return Some((f.code().to_string(), f.message().to_string()))
                }
                BackendMessage::ReadyForQuery(_) => return None,
                _ => {}
            }
        }
        panic!("connection ended without an error or ReadyForQuery");
    }

    /// SCRAM exchange; returns the first message after it.
    fn scram(&mut self, password: &str) -> Option<BackendMessage> {
        match self.recv() {
            Some(BackendMessage::AuthenticationSasl { mechanisms }) => {
                assert_eq!(mechanisms, vec!["SCRAM-SHA-256"])
            }
            other => panic!("expected AuthenticationSASL, got {other:?}"),
        }
        let mut c = ScramClient::new("", password);
        let mut b = Vec::new();
        encode_sasl_initial("SCRAM-SHA-256", &c.client_first(), &mut b);
        self.send(&b);
        let Some(BackendMessage::AuthenticationSaslContinue(sf)) = self.recv() else {
            panic!("no SASLContinue")
        };
        let fin = c.server_first(&sf).unwrap();
        let mut b = Vec::new();
        FrontendMessage::AuthResponse(fin).encode(&mut b);
        self.send(&b);
        let next = self.recv();
        if let Some(BackendMessage::AuthenticationSaslFinal(v)) = &next {
            c.server_final(v).unwrap();
            return self.recv();
        }
        next
    }
}

fn pid_file(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("postmaster.pid")).ok()
}

#[test]
fn hba_decisions_and_password_failures_use_postgresql_texts() {
    let node = init(
        "host all alice 127.0.0.1/32 reject\n\
         host postgres postgres 127.0.0.1/32 scram-sha-256\n\
         host pwdb all 127.0.0.1/32 password\n\
         host trustdb all 127.0.0.1/32 trust\n",
    );
    let server = ServerHandle::start(&node.dir, vec![]).unwrap();
    let pf = pid_file(&node.dir).unwrap();
    let lines: Vec<&str> = pf.lines().collect();
    assert_eq!(lines[0], std::process::id().to_string());
    assert_eq!(lines[3], node.port.to_string());
    assert_eq!(lines[7].trim(), "ready");

    // a second server on the same directory is refused
    let e = ServerHandle::start(&node.dir, vec![]).err().unwrap();
    assert_eq!(e.message, "lock file \"postmaster.pid\" already exists");
    assert!(e.hint.unwrap().starts_with("Is another postmaster (PID "));

    let mut c = Client::connect(node.port);
    c.startup("alice", "postgres");
    assert_eq!(
        c.expect_error(),
        (
            "28000".into(),
            "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"alice\", database \"postgres\", no encryption".into()
        )
    );

    let mut c = Client::connect(node.port);
    c.startup("bob", "template1");
    assert_eq!(
        c.expect_error(),
        (
            "28000".into(),
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"bob\", database \"template1\", no encryption".into()
        )
    );

    let mut c = Client::connect(node.port);
    c.startup("postgres", "postgres");
    match c.scram("wrong") {
        Some(BackendMessage::ErrorResponse(f)) => {
            assert_eq!(f.code(), "28P01");
            assert_eq!(
                f.message(),
                "password authentication failed for user \"postgres\""
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }

    {
        // an authenticated session; it ends here, before the smart shutdown
        // below, which (as PostgreSQL's) waits for every session to end
        let mut c = Client::connect(node.port);
        c.startup("postgres", "postgres");
        assert_eq!(c.scram("sekret"), Some(BackendMessage::AuthenticationOk));
    }

    // cleartext password method, unknown role: the same 28P01
    let mut c = Client::connect(node.port);
    c.startup("ghost", "pwdb");
    assert_eq!(
        c.recv(),
        Some(BackendMessage::AuthenticationCleartextPassword)
    );
    let mut b = Vec::new();
    encode_password("x", &mut b);
    c.send(&b);
    assert_eq!(
        c.expect_error(),
        (
            "28P01".into(),
            "password authentication failed for user \"ghost\"".into()
        )
    );

    let mut c = Client::connect(node.port);
    c.startup("ghost", "trustdb");
    assert_eq!(
        c.expect_error(),
        ("28000".into(), "role \"ghost\" does not exist".into())
    );

    server.shutdown(ShutdownMode::Smart).unwrap();
    assert!(
        pid_file(&node.dir).is_none(),
        "postmaster.pid removed at exit"
    );
}

#[test]
fn startup_packet_checks() {
    let node = init("host all all 127.0.0.1/32 trust\n");
    let server = ServerHandle::start(&node.dir, vec![]).unwrap();

    // protocol 2.0 is refused
    let mut c = Client::connect(node.port);
    let mut body = 0x0002_0000u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0postgres\0\0");
    let mut pkt = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    pkt.extend(body);
    c.send(&pkt);
    assert_eq!(
        c.expect_error(),
        (
            "0A000".into(),
            "unsupported frontend protocol 2.0: server supports 3.0 to 3.0".into()
        )
    );

    // SSLRequest without ssl: 'N', then a normal startup works on the same socket
    let mut c = Client::connect(node.port);
    let mut b = Vec::new();
    encode_special(&StartupPacket::SslRequest, &mut b);
    c.send(&b);
    let mut answer = [0u8; 1];
    c.s.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"N");
    c.startup("nobody", "postgres");
    assert_eq!(
        c.expect_error(),
        ("28000".into(), "role \"nobody\" does not exist".into())
    );

    // no user name
    let mut c = Client::connect(node.port);
    let mut b = Vec::new();
    encode_startup(&[("database", "postgres")], &mut b);
    c.send(&b);
    assert_eq!(
        c.expect_error(),
        (
            "28000".into(),
            "no PostgreSQL user name specified in startup packet".into()
        )
    );

    // an absurd startup length: the server just closes
    let mut c = Client::connect(node.port);
    c.send(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(c.recv(), None);

    // a cancel request for no backend: closed without an answer
    let mut c = Client::connect(node.port);
    let mut b = Vec::new();
    encode_special(&StartupPacket::CancelRequest { pid: 1, secret: 2 }, &mut b);
    c.send(&b);
    assert_eq!(c.recv(), None);

    server.shutdown(ShutdownMode::Fast).unwrap();
    assert!(pid_file(&node.dir).is_none());
}

#[test]
fn unix_socket_and_hba_reload() {
    let node = init("local all all trust\nhost all all 127.0.0.1/32 trust\n");
    let sockdir = node.dir.join("sock");
    std::fs::create_dir_all(&sockdir).unwrap();
    let server = ServerHandle::start(
        &node.dir,
        vec![(
            "unix_socket_directories".into(),
            sockdir.display().to_string(),
        )],
    )
    .unwrap();
    let sock = sockdir.join(format!(".s.PGSQL.{}", node.port));
    assert!(sock.exists());
    assert!(sockdir
        .join(format!(".s.PGSQL.{}.lock", node.port))
        .exists());
    let pf = pid_file(&node.dir).unwrap();
    assert_eq!(
        pf.lines().nth(4),
        Some(sockdir.display().to_string().as_str())
    );

    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = Vec::new();
    encode_startup(&[("user", "nobody"), ("database", "postgres")], &mut b);
    u.write_all(&b).unwrap();
    let mut got = Vec::new();
    let _ = u.read_to_end(&mut got);
    let (msg, _) = parse_backend_message(&got).unwrap().unwrap();
    let BackendMessage::ErrorResponse(f) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(f.message(), "role \"nobody\" does not exist");

    // SIGHUP-equivalent reload picks up a new pg_hba.conf
    std::fs::write(
        node.dir.join("pg_hba.conf"),
        "host all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    server.reload();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = Client::connect(node.port);
        c.startup("postgres", "postgres");
        // until the reload lands, the old trust rule lets the session in
        let outcome = c.error_or_ready();
        if let Some((code, message)) = &outcome {
            if message.starts_with("pg_hba.conf rejects connection") {
                assert_eq!(code, "28000");
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reload not applied: {outcome:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // a broken file is not loaded: the old rules stay
    std::fs::write(
        node.dir.join("pg_hba.conf"),
        "host all all 127.0.0.1/32 bogus\n",
    )
    .unwrap();
    server.reload();
    // An absence cannot be waited for: give the reload a bounded window (the
    // postmaster handles reload requests within its 100 ms tick), then check
    // that the old rules still apply.
    std::thread::sleep(Duration::from_millis(300));
    let mut c = Client::connect(node.port);
    c.startup("postgres", "postgres");
    assert!(c
        .expect_error()
        .1
        .starts_with("pg_hba.conf rejects connection"));

    server.shutdown(ShutdownMode::Smart).unwrap();
    assert!(!sock.exists(), "socket file removed");
    assert!(
        !sockdir
            .join(format!(".s.PGSQL.{}.lock", node.port))
            .exists(),
        "socket lock removed"
    );
}

impl Client {
    fn send_msg(&mut self, m: FrontendMessage) {
        let mut b = Vec::new();
        m.encode(&mut b);
        self.send(&b);
    }

    /// Messages up to and including ReadyForQuery, as short names.
    fn until_ready(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(m) = self.recv() {
            let name = match &m {
                BackendMessage::ErrorResponse(f) => format!("E:{}:{}", f.code(), f.message()),
                BackendMessage::DataRow(v) => {
                    format!(
                        "D:{}",
                        v.iter()
                            .map(|c| c
                                .as_ref()
                                .map(|b| String::from_utf8_lossy(b).to_string())
                                .unwrap_or("NULL".into()))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
                BackendMessage::CommandComplete(t) => format!("C:{t}"),
                BackendMessage::ReadyForQuery(s) => format!("Z:{}", *s as char),
                BackendMessage::RowDescription(_) => "T".into(),
                BackendMessage::ParseComplete => "1".into(),
                BackendMessage::BindComplete => "2".into(),
                other => format!("{other:?}"),
            };
            let done = name.starts_with("Z:");
            out.push(name);
            if done {
                break;
            }
        }
        out
    }

    fn login_trust(port: u16) -> Client {
        let mut c = Client::connect(port);
        c.startup("postgres", "postgres");
        assert_eq!(c.recv(), Some(BackendMessage::AuthenticationOk));
        let rest = c.until_ready();
        assert_eq!(rest.last().map(String::as_str), Some("Z:I"), "{rest:?}");
        c
    }
}

/// The query loop end to end (needs the sql layer; skipped while it is a stub).
#[test]
fn query_loop_simple_extended_and_errors() {
    let node = init("host all all 127.0.0.1/32 trust\n");
    let server = ServerHandle::start(&node.dir, vec![]).unwrap();
    let mut probe = Client::connect(node.port);
    probe.startup("postgres", "postgres");
    let first = probe.recv();
    let second = probe.recv();
    if matches!(second, Some(BackendMessage::ErrorResponse(ref f)) if f.code() == "XX000") {
        eprintln!("sql layer not ready: skipping ({first:?})");
        return;
    }
    drop(probe);
    let mut c = Client::login_trust(node.port);
    c.send_msg(FrontendMessage::Query("SELECT 1".into()));
    assert_eq!(c.until_ready(), vec!["T", "D:1", "C:SELECT 1", "Z:I"]);

    // invalid UTF-8: an ERROR, the connection stays usable
    let q = b"SELECT '\xff'\0";
    let mut raw = vec![b'Q'];
    raw.extend_from_slice(&((q.len() + 4) as u32).to_be_bytes());
    raw.extend_from_slice(q);
    c.send(&raw);
    assert_eq!(
        c.until_ready(),
        vec![
            "E:22021:invalid byte sequence for encoding \"UTF8\": 0xff",
            "Z:I"
        ]
    );

    // extended protocol, then an error that skips everything until Sync
    c.send_msg(FrontendMessage::Parse {
        name: "".into(),
        query: "SELECT 2".into(),
        param_types: vec![],
    });
    c.send_msg(FrontendMessage::Bind {
        portal: "".into(),
        statement: "".into(),
        param_formats: vec![],
        params: vec![],
        result_formats: vec![],
    });
    c.send_msg(FrontendMessage::Execute {
        portal: "".into(),
        max_rows: 0,
    });
    c.send_msg(FrontendMessage::Sync);
    assert_eq!(c.until_ready(), vec!["1", "2", "D:2", "C:SELECT 1", "Z:I"]);
    c.send_msg(FrontendMessage::Parse {
        name: "".into(),
        query: "SELEC 2".into(),
        param_types: vec![],
    });
    c.send_msg(FrontendMessage::Bind {
        portal: "".into(),
        statement: "".into(),
        param_formats: vec![],
        params: vec![],
        result_formats: vec![],
    });
    c.send_msg(FrontendMessage::Execute {
        portal: "".into(),
        max_rows: 0,
    });
    c.send_msg(FrontendMessage::Sync);
    let got = c.until_ready();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("E:42601:"), "{got:?}");

    // an unknown message type is FATAL and closes the connection
    c.send(&[b'!', 0, 0, 0, 4]);
    assert_eq!(
        c.until_ready(),
        vec!["E:08P01:invalid frontend message type 33"]
    );
    assert_eq!(c.recv(), None);

    // fast shutdown ends an idle session with 57P01
    let mut idle = Client::login_trust(node.port);
    server.shutdown(ShutdownMode::Fast).unwrap();
    assert_eq!(
        idle.until_ready(),
        vec!["E:57P01:terminating connection due to administrator command"]
    );
}

/// `ssl = on`: SSLRequest is answered 'S' and a TLS handshake follows (checked with
/// `openssl s_client -starttls postgres`; skipped where openssl is missing). A
/// missing certificate file stops startup with PostgreSQL's FATAL text.
#[test]
fn tls_when_ssl_is_on() {
    let node = init("hostssl all all 127.0.0.1/32 trust\n");
    let e = ServerHandle::start(&node.dir, vec![("ssl".into(), "on".into())])
        .err()
        .unwrap();
    assert_eq!(
        e.message,
        "could not load server certificate file \"server.crt\": No such file or directory"
    );
    assert!(
        pid_file(&node.dir).is_none(),
        "a failed start leaves no postmaster.pid"
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(node.dir.join("server.key"))
        .arg("-out")
        .arg(node.dir.join("server.crt"))
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        eprintln!("openssl not available: skipping the handshake check");
        return;
    }
    let server = ServerHandle::start(&node.dir, vec![("ssl".into(), "on".into())]).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-starttls", "postgres", "-connect"])
        .arg(format!("127.0.0.1:{}", node.port))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("Cipher is") && !text.contains("Cipher is (NONE)"),
        "{text}"
    );
    // without SSL the hostssl line does not match
    let mut c = Client::connect(node.port);
    c.startup("postgres", "postgres");
    assert_eq!(
        c.expect_error().1,
        "no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption"
    );
    server.shutdown(ShutdownMode::Fast).unwrap();
}
