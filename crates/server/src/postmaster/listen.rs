//! Listening sockets: TCP on each `listen_addresses` entry (`*` is every IPv4
//! address, `localhost` the loopback addresses, an empty list none) and a
//! Unix-domain socket `.s.PGSQL.<port>` in each `unix_socket_directories` entry,
//! guarded by its `.s.PGSQL.<port>.lock` file. Logs PostgreSQL's
//! `listening on IPv4 address "127.0.0.1", port 5432` lines.
//!
//! A TCP address that cannot be bound is a WARNING
//! (`could not create listen socket for "x"`) as long as another socket works;
//! no socket at all is FATAL.
//!
//! Differences: `*` binds IPv4 only (0.0.0.0); host names other than
//! `localhost` are resolved once with the system resolver.
//!
//! Corresponds to `StreamServerPort` in PostgreSQL's `src/backend/libpq/pqcomm.c`
//! and the socket part of `postmaster.c`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use tandem_types::elog::{self, Level};
use tandem_types::{PgError, PgResult, SqlState};

use super::pidfile::LockFile;

pub(crate) struct Listeners {
    pub tcp: Vec<TcpListener>,
    pub unix: Vec<(UnixListener, PathBuf)>,
    /// Socket lock files, removed with the sockets.
    pub locks: Vec<LockFile>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for (_, path) in &self.unix {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn addresses_for(entry: &str, port: u16) -> Vec<SocketAddr> {
    match entry {
        "*" => vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)],
        "localhost" => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ],
        other => match other.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (other, port)
                .to_socket_addrs()
                .map(|a| a.collect())
                .unwrap_or_default(),
        },
    }
}

fn family(addr: &SocketAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Binds every configured socket. `datadir` resolves relative socket directories.
pub(crate) fn open(
    datadir: &Path,
    listen: &[String],
    socket_dirs: &[String],
    port: u16,
) -> PgResult<Listeners> {
    let mut out = Listeners {
        tcp: Vec::new(),
        unix: Vec::new(),
        locks: Vec::new(),
    };
    for entry in listen {
        let mut bound_any = false;
        let addrs = addresses_for(entry, port);
        for addr in &addrs {
            match TcpListener::bind(addr) {
                Ok(l) => {
                    elog::emit(
                        Level::Log,
                        &format!(
                            "listening on {} address \"{}\", port {port}",
                            family(addr),
                            addr.ip()
                        ),
                        None,
                        None,
                    );
                    out.tcp.push(l);
                    bound_any = true;
                }
                Err(e) => {
                    // ::1 missing on an IPv4-only host is normal for "localhost"
                    if entry == "localhost" && addr.is_ipv6() {
                        continue;
                    }
                    let hint = (e.kind() == std::io::ErrorKind::AddrInUse).then(|| {
                        format!("Is another postmaster already running on port {port}? If not, wait a few seconds and retry.")
                    });
                    elog::emit(
                        Level::Log,
                        &format!(
                            "could not bind {} address \"{}\": {}",
                            family(addr),
                            addr.ip(),
                            os_text(&e)
                        ),
                        None,
                        hint.as_deref(),
                    );
                }
            }
        }
        if !bound_any {
            elog::emit(
                Level::Warning,
                &format!("could not create listen socket for \"{entry}\""),
                None,
                None,
            );
        }
    }
    if !listen.is_empty() && out.tcp.is_empty() {
        return Err(PgError::fatal(
            SqlState::IO_ERROR,
            "could not create any TCP/IP sockets",
        ));
    }
    for dir in socket_dirs {
        let dir_path = if Path::new(dir).is_absolute() {
            PathBuf::from(dir)
        } else {
            datadir.join(dir)
        };
        let sock = dir_path.join(format!(".s.PGSQL.{port}"));
        let sock_name = sock.display().to_string();
        let lock_path = dir_path.join(format!(".s.PGSQL.{port}.lock"));
        let lock = LockFile::create(
            &lock_path,
            &lock_path.display().to_string(),
            vec![
                std::process::id().to_string(),
                datadir.display().to_string(),
            ],
            &|pid| format!("Is another postmaster (PID {pid}) using socket file \"{sock_name}\"?"),
        )?;
        let _ = std::fs::remove_file(&sock);
        match UnixListener::bind(&sock) {
            Ok(l) => {
                let _ = std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777));
                elog::emit(
                    Level::Log,
                    &format!("listening on Unix socket \"{sock_name}\""),
                    None,
                    None,
                );
                out.unix.push((l, sock));
                out.locks.push(lock);
            }
            Err(e) => {
                elog::emit(
                    Level::Log,
                    &format!(
                        "could not bind Unix address \"{sock_name}\": {}",
                        os_text(&e)
                    ),
                    None,
                    None,
                );
                elog::emit(
                    Level::Warning,
                    &format!("could not create Unix-domain socket in directory \"{dir}\""),
                    None,
                    None,
                );
            }
        }
    }
    if !socket_dirs.is_empty() && out.unix.is_empty() {
        return Err(PgError::fatal(
            SqlState::IO_ERROR,
            "could not create any Unix-domain sockets",
        ));
    }
    if out.tcp.is_empty() && out.unix.is_empty() {
        return Err(PgError::fatal(
            SqlState::IO_ERROR,
            "no socket created for listening",
        ));
    }
    for l in &out.tcp {
        l.set_nonblocking(true).map_err(|e| {
            PgError::fatal(
                SqlState::IO_ERROR,
                format!("could not set socket to nonblocking mode: {e}"),
            )
        })?;
    }
    for (l, _) in &out.unix {
        l.set_nonblocking(true).map_err(|e| {
            PgError::fatal(
                SqlState::IO_ERROR,
                format!("could not set socket to nonblocking mode: {e}"),
            )
        })?;
    }
    Ok(out)
}

/// An OS error as PostgreSQL prints it (`Address already in use`).
pub(crate) fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
