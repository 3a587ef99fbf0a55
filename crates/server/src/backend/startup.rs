//! A connection's startup: the startup packet (SSLRequest and GSSENCRequest
//! answered, a CancelRequest served, the protocol version and parameters
//! checked), then pg_hba.conf and authentication, and the role and database
//! checks of `InitPostgres`. The outcome is a [`StartupInfo`]: who connected, to
//! what, and whether as a walsender (`replication=...`).
//!
//! Also the two ways a connection ends on an error that concern every kind of
//! backend: [`fail`] (FATAL sent, logged, socket closed) and
//! [`admin_shutdown_error`] (`pg_terminate_backend`, fast shutdown).
//!
//! Corresponds to PostgreSQL's `postmaster/backend_startup.c`
//! (`ProcessStartupPacket`), `libpq/auth.c` (`ClientAuthentication`) and
//! `utils/init/postinit.c` (`InitPostgres`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tandem_protocol::frontend::{self, StartupPacket};
use tandem_protocol::BackendMessage;
use tandem_storage::RoleDef;
use tandem_types::elog::{self, Level};
use tandem_types::{PgError, PgResult, SqlState};

use crate::backend::auth::{self, AuthOutcome};
use crate::backend::hba::{self, ConnInfo, Method};
use crate::backend::pqcomm::{fatal, Conn, ReadError};
use crate::procarray::Registration;
use crate::shared::Shared;

/// `replication` startup parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replication {
    No,
    /// `replication=true|on|yes|1`: a physical walsender.
    Physical,
    /// `replication=database`: a logical walsender connected to a database.
    Logical,
}

pub(crate) struct StartupInfo {
    pub user: String,
    pub database: String,
    pub application_name: String,
    pub params: Vec<(String, String)>,
    pub replication: Replication,
}

pub(crate) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Sends a FATAL error (if the connection still works), logs it, closes.
pub(crate) fn fail(conn: &mut Conn, err: &PgError, log_detail: Option<&str>) {
    let err = fatal(err.clone());
    conn.send_error(&err);
    conn.close();
    let detail = log_detail.or(err.detail.as_deref());
    elog::emit(Level::Fatal, &err.message, detail, err.hint.as_deref());
}

/// Reads startup packets until a StartupMessage (answering SSLRequest and
/// GSSENCRequest, serving a CancelRequest); validates it.
pub(crate) fn read_startup(shared: &Arc<Shared>, mut conn: Conn) -> Option<(Conn, StartupInfo)> {
    let mut ssl_done = false;
    let mut gss_done = false;
    loop {
        let packet = match conn.read_startup() {
            Ok(Some(p)) => p,
            Ok(None) | Err(ReadError::Eof) => return None,
            Err(ReadError::Protocol { err, send }) => {
                if send {
                    fail(&mut conn, &err, None);
                } else {
                    elog::emit(Level::Log, &err.message, None, None);
                }
                return None;
            }
        };
        match packet {
            StartupPacket::SslRequest if !ssl_done => {
                ssl_done = true;
                let tls = if conn.peer.addr.is_some() {
                    shared.tls.read().clone()
                } else {
                    None
                };
                match tls {
                    Some(cfg) => {
                        if conn.write_raw(b"S").is_err() {
                            return None;
                        }
                        if conn.has_buffered_input() {
                            fail(
                                &mut conn,
                                &PgError::fatal(
                                    SqlState::PROTOCOL_VIOLATION,
                                    "received unencrypted data after SSL request",
                                ),
                                None,
                            );
                            return None;
                        }
                        conn = match conn.start_tls(cfg) {
                            Ok(c) => c,
                            Err(e) => {
                                elog::emit(
                                    Level::Log,
                                    &format!("could not accept SSL connection: {e}"),
                                    None,
                                    None,
                                );
                                return None;
                            }
                        };
                    }
                    None => {
                        if conn.write_raw(b"N").is_err() {
                            return None;
                        }
                    }
                }
            }
            StartupPacket::GssEncRequest if !gss_done => {
                gss_done = true;
                if conn.write_raw(b"N").is_err() {
                    return None;
                }
            }
            StartupPacket::SslRequest | StartupPacket::GssEncRequest => {
                let code = if packet == StartupPacket::SslRequest {
                    5679
                } else {
                    5680
                };
                let err = PgError::fatal(
                    SqlState::PROTOCOL_VIOLATION,
                    format!(
                        "unsupported frontend protocol 1234.{code}: server supports 3.0 to 3.0"
                    ),
                );
                fail(&mut conn, &err, None);
                return None;
            }
            StartupPacket::CancelRequest { pid, secret } => {
                if !shared.registry.cancel_request(pid, secret) {
                    elog::emit(
                        Level::Log,
                        &format!("PID {pid} in cancel request did not match any process"),
                        None,
                        None,
                    );
                }
                return None;
            }
            StartupPacket::Startup {
                major,
                minor,
                params,
            } => {
                return match startup_info(&mut conn, major, minor, params) {
                    Ok(info) => Some((conn, info)),
                    Err(e) => {
                        fail(&mut conn, &e, None);
                        None
                    }
                };
            }
        }
    }
}

fn startup_info(
    conn: &mut Conn,
    major: u16,
    minor: u16,
    params: Vec<(String, String)>,
) -> PgResult<StartupInfo> {
    let negotiate = frontend::check_protocol_version(major, minor)?;
    let mut unrecognized = Vec::new();
    let mut kept = Vec::new();
    let mut user = None;
    let mut database = None;
    let mut application_name = String::new();
    let mut replication = Replication::No;
    for (k, v) in params {
        if k.starts_with("_pq_.") {
            unrecognized.push(k);
            continue;
        }
        match k.as_str() {
            "user" => user = Some(v.clone()),
            "database" => database = Some(v.clone()),
            "application_name" => application_name = v.clone(),
            "replication" => {
                replication = match v.to_ascii_lowercase().as_str() {
                    "database" => Replication::Logical,
                    "true" | "on" | "yes" | "1" => Replication::Physical,
                    "false" | "off" | "no" | "0" => Replication::No,
                    _ => {
                        return Err(PgError::fatal(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("invalid value for parameter \"replication\": \"{v}\""),
                        )
                        .with_hint("Valid values are: \"false\", 0, \"true\", 1, \"database\"."))
                    }
                };
                continue;
            }
            _ => {}
        }
        kept.push((k, v));
    }
    if negotiate.is_some() || !unrecognized.is_empty() {
        conn.send(&BackendMessage::NegotiateProtocolVersion {
            newest_minor: u32::from(negotiate.unwrap_or(minor)),
            unrecognized,
        });
    }
    let user = match user {
        Some(u) if !u.is_empty() => u,
        _ => {
            return Err(PgError::fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            ))
        }
    };
    let database = match database {
        Some(d) if !d.is_empty() => d,
        _ => user.clone(),
    };
    if !kept.iter().any(|(k, _)| k == "database") {
        kept.push(("database".to_string(), database.clone()));
    }
    Ok(StartupInfo {
        user,
        database,
        application_name,
        params: kept,
        replication,
    })
}

/// pg_hba.conf, authentication and the role checks of InitPostgres; sends
/// AuthenticationOk. `None` when the connection ended (error already sent).
pub(crate) fn authenticate(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    startup: &StartupInfo,
    reg: &Registration,
) -> Option<RoleDef> {
    if shared.shutdown_mode().is_some() {
        let msg = "the database system is shutting down";
        fail(
            conn,
            &PgError::fatal(SqlState::CANNOT_CONNECT_NOW, msg),
            None,
        );
        return None;
    }
    if startup.replication == Replication::No {
        reg.entry.counted.store(true, Ordering::SeqCst);
        let max = shared.config.get_int("max_connections").max(1) as usize;
        if shared.registry.counted_except(reg.entry.pid) >= max {
            fail(
                conn,
                &PgError::fatal(
                    SqlState::TOO_MANY_CONNECTIONS,
                    "sorry, too many clients already",
                ),
                None,
            );
            return None;
        }
    }
    let client_ip = conn
        .peer
        .addr
        .map(|a| crate::backend::pqcomm::normalize_ip(a.ip()));
    let ci = ConnInfo {
        client: client_ip,
        local: conn
            .peer
            .local
            .map(|a| crate::backend::pqcomm::normalize_ip(a.ip())),
        ssl: conn.ssl,
        database: &startup.database,
        user: &startup.user,
        physical_replication: startup.replication == Replication::Physical,
    };
    let host = conn.peer.host();
    let lines = shared.hba.read().clone();
    let Some(line) = hba::find(&lines, &ci) else {
        fail(conn, &hba::no_entry_error(&ci, &host), None);
        return None;
    };
    if line.method == Method::Reject {
        fail(conn, &hba::reject_error(&ci, &host), None);
        return None;
    }
    let role = shared.db.catalog().role_by_name(&startup.user).cloned();
    let hba_path = shared.hba_path.display().to_string();
    match auth::authenticate(conn, line, &hba_path, &startup.user, role.as_ref()) {
        AuthOutcome::Ok => {}
        AuthOutcome::ClientGone => return None,
        AuthOutcome::Failed { client, log_detail } => {
            fail(conn, &client, log_detail.as_deref());
            return None;
        }
    }
    conn.send(&BackendMessage::AuthenticationOk);
    let Some(role) = role else {
        fail(
            conn,
            &PgError::fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("role \"{}\" does not exist", startup.user),
            ),
            None,
        );
        return None;
    };
    if !role.login {
        let e = PgError::fatal(
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            format!("role \"{}\" is not permitted to log in", startup.user),
        );
        fail(conn, &e, None);
        return None;
    }
    // physical and logical (replication=database) walsenders alike; the
    // wording is PostgreSQL 16's and later (postinit.c)
    if startup.replication != Replication::No && !(role.superuser || role.replication) {
        let e = PgError::fatal(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied to start WAL sender",
        )
        .with_detail("Only roles with the REPLICATION attribute may start a WAL sender process.");
        fail(conn, &e, None);
        return None;
    }
    if role.connection_limit >= 0
        && !role.superuser
        && startup.replication == Replication::No
        && shared
            .registry
            .count_user_except(&startup.user, reg.entry.pid)
            >= role.connection_limit as usize
    {
        let e = PgError::fatal(
            SqlState::TOO_MANY_CONNECTIONS,
            format!("too many connections for role \"{}\"", startup.user),
        );
        fail(conn, &e, None);
        return None;
    }
    Some(role)
}

/// `FATAL 57P01 terminating connection due to administrator command`.
pub(crate) fn admin_shutdown_error() -> PgError {
    PgError::fatal(
        SqlState::ADMIN_SHUTDOWN,
        "terminating connection due to administrator command",
    )
}
