//! One client connection from accept to exit, on its own thread (PostgreSQL's
//! backend process): startup packet (SSL/GSS negotiation, cancel requests,
//! protocol version), pg_hba.conf and authentication, then either the SQL query
//! loop or a walsender.
//!
//! The query loop (PostgreSQL's `PostgresMain`):
//!
//! ```text
//! loop
//!   if send_ready: ReadyForQuery(session.transaction_status()); flush
//!   read message                          EOF -> terminate session, exit
//!   ignore_till_sync and not Sync/Terminate -> skip
//!   Q  simple_query -> (error: ErrorResponse, drain COPY data) ; send_ready
//!   P/B/D/E/C  extended step -> ack ; error: ErrorResponse, ignore_till_sync
//!   H  flush        S  sync() ; send_ready        X  exit
//!   d/c/f  ignored (left over from a failed COPY)   p  FATAL bad message type
//! ```
//!
//! Errors: the session has marked its transaction failed; the loop sends the
//! ErrorResponse and calls `on_error()` (harmless twice). A FATAL error (or a
//! panic in a lower layer, reported as FATAL XX000) ends the connection. A
//! terminate request (pg_terminate_backend, fast shutdown) ends it with
//! `FATAL 57P01 terminating connection due to administrator command`.
//!
//! Corresponds to PostgreSQL's `postmaster/backend_startup.c`,
//! `tcop/postgres.c` (`PostgresMain`, `exec_*_message`) and
//! `utils/init/postinit.c` (`InitPostgres`: role and database checks).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tandem_expr::SessionInfo;
use tandem_protocol::frontend::{self, StartupPacket};
use tandem_protocol::{BackendMessage, FrontendMessage, Target};
use tandem_sql::{ExecuteOutcome, Session};
use tandem_storage::RoleDef;
use tandem_types::elog::{self, Level};
use tandem_types::{PgError, PgResult, SqlState};

use crate::auth::{self, AuthOutcome};
use crate::hba::{self, ConnInfo, Method};
use crate::postmaster::Shared;
use crate::registry::{BackendEntry, Registration};
use crate::settings;
use crate::sink::{drain_copy_in, SocketSink};
use crate::stream::{fatal, Conn, Peer, ReadError, Stream};
use crate::walsender;

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

/// Entry point of a connection thread.
pub(crate) fn serve(shared: Arc<Shared>, stream: Stream, peer: Peer) {
    let conn = Conn::new(stream, peer);
    let reg = shared.registry.register(
        conn.peer.addr.map(|_| conn.peer.host()),
        conn.socket_handle(),
    );
    if settings::get_bool(&shared.config, "log_connections", false) {
        let msg = match conn.peer.addr {
            Some(a) => format!(
                "connection received: host={} port={}",
                conn.peer.host(),
                a.port()
            ),
            None => "connection received: host=[local]".to_string(),
        };
        elog::emit(Level::Log, &msg, None, None);
    }
    let pid = reg.entry.pid;
    let outcome = catch_unwind(AssertUnwindSafe(|| run_backend(&shared, conn, &reg)));
    // Temporary slots die with their session, however it ended; slots it was
    // using become inactive.
    shared.slots.cleanup_session(pid);
    if let Err(panic) = outcome {
        let what = panic_text(&panic);
        elog::emit(
            Level::Log,
            &format!("server process (PID {pid}) was terminated by a panic: {what}"),
            None,
            None,
        );
    }
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

fn run_backend(shared: &Arc<Shared>, conn: Conn, reg: &Registration) {
    let Some((mut conn, startup)) = read_startup(shared, conn) else {
        return;
    };
    let started = Instant::now();
    // A walsender takes one of max_wal_senders slots before authenticating (as
    // PostgreSQL's InitProcess), held until the connection ends.
    let walsnd = if startup.replication == Replication::No {
        None
    } else {
        let max = settings::get_int(&shared.config, "max_wal_senders", 10).max(0) as usize;
        let port = conn.peer.addr.map(|a| a.port());
        match shared.walsenders.register(reg.entry.clone(), port, max) {
            Ok(g) => Some(g),
            Err(e) => return fail(&mut conn, &e, None),
        }
    };
    let Some(role) = authenticate(shared, &mut conn, &startup, reg) else {
        return;
    };
    {
        let mut a = reg.entry.activity.lock();
        a.user = startup.user.clone();
        a.application_name = startup.application_name.clone();
    }
    if settings::get_bool(&shared.config, "log_connections", false) {
        let ssl = conn
            .tls_description()
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        let msg = match startup.replication {
            Replication::Physical => format!(
                "replication connection authorized: user={}{ssl}",
                startup.user
            ),
            _ => format!(
                "connection authorized: user={} database={} application_name={}{ssl}",
                startup.user, startup.database, startup.application_name
            ),
        };
        elog::emit(Level::Log, &msg, None, None);
    }
    let info = SessionInfo {
        pid: reg.entry.pid,
        user: startup.user.clone(),
        user_oid: role.oid.0,
        superuser: role.superuser,
        database: startup.database.clone(),
        application_name: startup.application_name.clone(),
        client_addr: conn.peer.addr.map(|_| conn.peer.host()),
        backend_start: reg.entry.backend_start,
    };
    let session = if startup.replication == Replication::Physical {
        None
    } else {
        let created = catch_unwind(AssertUnwindSafe(|| {
            Session::new(shared.engine.clone(), info, &startup.params)
        }));
        match created {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => return fail(&mut conn, &e, None),
            Err(panic) => {
                let e = PgError::fatal(
                    SqlState::INTERNAL_ERROR,
                    format!("internal error: {}", panic_text(&panic)),
                );
                return fail(&mut conn, &e, None);
            }
        }
    };
    if let Some(s) = &session {
        *reg.entry.cancel.lock() = s.cancel_flag();
        for (name, value) in s.reported_parameters() {
            conn.send(&BackendMessage::ParameterStatus { name, value });
        }
    } else {
        for (name, value) in walsender::reported_parameters(shared) {
            conn.send(&BackendMessage::ParameterStatus { name, value });
        }
    }
    conn.send(&BackendMessage::BackendKeyData {
        pid: reg.entry.pid,
        secret: reg.entry.secret,
    });
    match startup.replication {
        Replication::No => {
            if let Some(session) = session {
                QueryLoop {
                    conn: &mut conn,
                    entry: &reg.entry,
                    slots: &shared.slots,
                    session,
                    ignore_till_sync: false,
                }
                .run();
            }
        }
        Replication::Physical | Replication::Logical => {
            if let Some(w) = &walsnd {
                walsender::run(shared, &mut conn, &reg.entry, w, &startup, session)
            }
        }
    }
    if settings::get_bool(&shared.config, "log_disconnections", false) {
        let t = started.elapsed();
        let ms = t.as_millis();
        let host = match conn.peer.addr {
            Some(a) => format!("host={} port={}", conn.peer.host(), a.port()),
            None => "host=[local]".to_string(),
        };
        elog::emit(
            Level::Log,
            &format!(
                "disconnection: session time: {}:{:02}:{:02}.{:03} user={} database={} {host}",
                ms / 3_600_000,
                (ms / 60_000) % 60,
                (ms / 1000) % 60,
                ms % 1000,
                startup.user,
                startup.database
            ),
            None,
            None,
        );
    }
}

/// Reads startup packets until a StartupMessage (answering SSLRequest and
/// GSSENCRequest, serving a CancelRequest); validates it.
fn read_startup(shared: &Arc<Shared>, mut conn: Conn) -> Option<(Conn, StartupInfo)> {
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
fn authenticate(
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
        let max = settings::get_int(&shared.config, "max_connections", 100).max(1) as usize;
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
    let client_ip = conn.peer.addr.map(|a| crate::stream::normalize_ip(a.ip()));
    let ci = ConnInfo {
        client: client_ip,
        local: conn.peer.local.map(|a| crate::stream::normalize_ip(a.ip())),
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
    if startup.replication != Replication::No && !(role.superuser || role.replication) {
        let e = PgError::fatal(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "must be superuser or replication role to start walsender",
        );
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

struct QueryLoop<'a> {
    conn: &'a mut Conn,
    entry: &'a Arc<BackendEntry>,
    /// Temporary slots of this backend are dropped on any error, as
    /// PostgreSQL's `ReplicationSlotCleanup` does.
    slots: &'a tandem_replication::slot::SlotRegistry,
    session: Session,
    ignore_till_sync: bool,
}

enum Step {
    Continue,
    Ready,
    Exit,
}

impl QueryLoop<'_> {
    fn run(mut self) {
        let mut send_ready = true;
        loop {
            if self.entry.terminating() {
                self.session.terminate();
                fail(self.conn, &admin_shutdown_error(), None);
                return;
            }
            if send_ready {
                let status = self.session.transaction_status();
                self.conn.send(&BackendMessage::ReadyForQuery(status));
                let state = match status {
                    b'T' => "idle in transaction",
                    b'E' => "idle in transaction (aborted)",
                    _ => "idle",
                };
                self.entry.set_state(state, None);
                if self.conn.flush().is_err() {
                    self.session.terminate();
                    return;
                }
                send_ready = false;
            }
            let (tag, msg) = match self.conn.read_message() {
                Ok(Some(m)) => m,
                Ok(None) | Err(ReadError::Eof) => {
                    if self.entry.terminating() {
                        continue; // reports 57P01 at the top of the loop
                    }
                    self.session.terminate();
                    return;
                }
                Err(ReadError::Protocol { err, send }) => {
                    self.session.terminate();
                    if send {
                        fail(self.conn, &err, None);
                    } else {
                        elog::emit(Level::Log, &err.message, None, None);
                    }
                    return;
                }
            };
            if self.ignore_till_sync && tag != b'S' && tag != b'X' {
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| self.dispatch(tag, msg)));
            let step = match outcome {
                Ok(step) => step,
                Err(panic) => {
                    let text = panic_text(&panic);
                    self.session.terminate();
                    fail(
                        self.conn,
                        &PgError::fatal(
                            SqlState::INTERNAL_ERROR,
                            format!("internal error: {text}"),
                        ),
                        None,
                    );
                    return;
                }
            };
            match step {
                Step::Continue => {}
                Step::Ready => send_ready = true,
                Step::Exit => return,
            }
            if self.conn.broken {
                self.session.terminate();
                return;
            }
        }
    }

    fn reset_cancel(&self) {
        self.session.cancel_flag().store(false, Ordering::SeqCst);
    }

    /// Reports an error; returns `false` if the connection must end.
    fn report(&mut self, mut err: PgError, extended: bool) -> bool {
        if self.entry.terminating() && err.code == SqlState::QUERY_CANCELED {
            err = admin_shutdown_error();
        }
        drain_copy_in(self.conn);
        if err.is_fatal() {
            self.session.terminate();
            fail(self.conn, &err, None);
            return false;
        }
        self.conn.send_error(&err);
        self.session.on_error();
        self.slots.cleanup_session(self.entry.pid);
        if extended {
            self.ignore_till_sync = true;
        }
        true
    }

    fn dispatch(&mut self, tag: u8, msg: Result<FrontendMessage, PgError>) -> Step {
        let extended = matches!(tag, b'P' | b'B' | b'D' | b'E' | b'C' | b'H');
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                if !self.report(e, extended) {
                    return Step::Exit;
                }
                return if extended {
                    Step::Continue
                } else {
                    Step::Ready
                };
            }
        };
        let result: PgResult<Step> = match msg {
            FrontendMessage::Query(sql) => {
                self.reset_cancel();
                self.entry.set_state("active", Some(&sql));
                let mut sink = SocketSink {
                    conn: self.conn,
                    entry: self.entry,
                };
                let r = self.session.simple_query(&sql, &mut sink);
                if let Err(e) = r {
                    if !self.report(e, false) {
                        return Step::Exit;
                    }
                }
                return Step::Ready;
            }
            FrontendMessage::Parse {
                name,
                query,
                param_types,
            } => {
                self.reset_cancel();
                self.entry.set_state("active", Some(&query));
                self.session.parse(&name, &query, &param_types).map(|_| {
                    self.conn.send(&BackendMessage::ParseComplete);
                    Step::Continue
                })
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => {
                self.reset_cancel();
                self.session
                    .bind(
                        &portal,
                        &statement,
                        &param_formats,
                        &params,
                        &result_formats,
                    )
                    .map(|_| {
                        self.conn.send(&BackendMessage::BindComplete);
                        Step::Continue
                    })
            }
            FrontendMessage::Describe { target, name } => {
                let mut sink = SocketSink {
                    conn: self.conn,
                    entry: self.entry,
                };
                match target {
                    Target::Statement => self.session.describe_statement(&name, &mut sink),
                    Target::Portal => self.session.describe_portal(&name, &mut sink),
                }
                .map(|_| Step::Continue)
            }
            FrontendMessage::Execute { portal, max_rows } => {
                self.reset_cancel();
                self.entry.set_state("active", None);
                let mut sink = SocketSink {
                    conn: self.conn,
                    entry: self.entry,
                };
                self.session
                    .execute(&portal, max_rows, &mut sink)
                    .map(|outcome| {
                        if outcome == ExecuteOutcome::Suspended {
                            self.conn.send(&BackendMessage::PortalSuspended);
                        }
                        Step::Continue
                    })
            }
            FrontendMessage::Close { target, name } => {
                match target {
                    Target::Statement => self.session.close_statement(&name),
                    Target::Portal => self.session.close_portal(&name),
                }
                self.conn.send(&BackendMessage::CloseComplete);
                Ok(Step::Continue)
            }
            FrontendMessage::Flush => {
                let _ = self.conn.flush();
                Ok(Step::Continue)
            }
            FrontendMessage::Sync => {
                self.ignore_till_sync = false;
                if let Err(e) = self.session.sync() {
                    if !self.report(e, false) {
                        return Step::Exit;
                    }
                    self.ignore_till_sync = false;
                }
                return Step::Ready;
            }
            FrontendMessage::Terminate => {
                self.session.terminate();
                self.conn.close();
                return Step::Exit;
            }
            // Left over from a COPY that failed: accepted and ignored, per protocol.
            FrontendMessage::CopyData(_)
            | FrontendMessage::CopyDone
            | FrontendMessage::CopyFail(_) => Ok(Step::Continue),
            FrontendMessage::FunctionCall => {
                let e = PgError::unsupported("the fastpath function call interface");
                if !self.report(e, false) {
                    return Step::Exit;
                }
                return Step::Ready;
            }
            FrontendMessage::AuthResponse(_) => {
                self.session.terminate();
                fail(self.conn, &frontend::invalid_message_type(tag), None);
                return Step::Exit;
            }
        };
        match result {
            Ok(step) => step,
            Err(e) => {
                if self.report(e, extended) {
                    Step::Continue
                } else {
                    Step::Exit
                }
            }
        }
    }
}
