//! One accepted connection, on its own thread (PostgreSQL's backend process):
//! registered in the procarray (virtual pid, cancel key), the startup packet
//! and authentication read ([`crate::backend::startup`]), a walsender slot taken
//! for `replication=...` connections, the session created, ParameterStatus and
//! BackendKeyData sent, then either the SQL query loop
//! ([`crate::backend::postgres`]) or a walsender ([`crate::walsender`]) until the
//! connection ends. Temporary slots of the session are dropped however it ended.
//!
//! Corresponds to PostgreSQL's `postmaster/backend_startup.c` (`BackendStartup`,
//! `BackendInitialize`) and the dispatch at the top of `PostgresMain`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use tandem_expr::SessionInfo;
use tandem_protocol::BackendMessage;
use tandem_sql::Session;
use tandem_types::elog::{self, Level};
use tandem_types::{PgError, SqlState};

use crate::backend::postgres::QueryLoop;
use crate::backend::pqcomm::{Conn, Peer, Stream};
use crate::backend::startup::{authenticate, fail, panic_text, read_startup, Replication};
use crate::procarray::Registration;
use crate::shared::Shared;
use crate::walsender;

/// Entry point of a connection thread.
pub(crate) fn serve(shared: Arc<Shared>, stream: Stream, peer: Peer) {
    let conn = Conn::new(stream, peer);
    let reg = shared.registry.register(
        conn.peer.addr.map(|_| conn.peer.host()),
        conn.socket_handle(),
    );
    if shared.config.get_bool("log_connections") {
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

fn run_backend(shared: &Arc<Shared>, conn: Conn, reg: &Registration) {
    let Some((mut conn, startup)) = read_startup(shared, conn) else {
        return;
    };
    let started = Instant::now();
    reg.entry.activity.lock().ssl = conn.tls_info();
    // A walsender takes one of max_wal_senders slots before authenticating (as
    // PostgreSQL's InitProcess), held until the connection ends.
    let walsnd = if startup.replication == Replication::No {
        None
    } else {
        let max = shared.config.get_int("max_wal_senders").max(0) as usize;
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
    if shared.config.get_bool("log_connections") {
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
    if shared.config.get_bool("log_disconnections") {
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
