//! The query loop (PostgreSQL's `PostgresMain`):
//!
//! ```text
//! loop
//!   if send_ready: notifications (when idle); ReadyForQuery(session.transaction_status()); flush
//!   idle and listening: wait for input or the latch, sending notifications as they come
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
//! `FATAL 57P01 terminating connection due to administrator command`; a
//! session marked to end after its reply (the caller of `tandem_demote()`)
//! ends so right after its next ReadyForQuery instead, and is not
//! interrupted meanwhile.
//!
//! Notifications (LISTEN / NOTIFY) reach a session outside a transaction
//! block only: before its ReadyForQuery, and while it waits for input, when
//! a commit of another session sets its latch (PostgreSQL's
//! `ProcessNotifyInterrupt` from `ProcessClientReadInterrupt`).
//!
//! Corresponds to PostgreSQL's `tcop/postgres.c` (`PostgresMain`, `exec_*_message`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tandem_protocol::frontend;
use tandem_protocol::{BackendMessage, FrontendMessage, Target};
use tandem_sql::{ExecuteOutcome, Session};
use tandem_types::elog::{self, Level};
use tandem_types::{PgError, PgResult, SqlState};

use crate::backend::pqcomm::{Conn, ReadError};
use crate::backend::printtup::{drain_copy_in, SocketSink};
use crate::backend::startup::{admin_shutdown_error, fail, panic_text};
use crate::latch::Latch;
use crate::procarray::BackendEntry;

pub(crate) struct QueryLoop<'a> {
    pub conn: &'a mut Conn,
    pub entry: &'a Arc<BackendEntry>,
    /// Temporary slots of this backend are dropped on any error, as
    /// PostgreSQL's `ReplicationSlotCleanup` does.
    pub slots: &'a tandem_replication::slot::SlotRegistry,
    pub session: Session,
    pub ignore_till_sync: bool,
}

enum Step {
    Continue,
    Ready,
    Exit,
}

impl QueryLoop<'_> {
    pub(crate) fn run(mut self) {
        let latch = Arc::new(Latch::new());
        let waker = Arc::clone(&latch);
        self.session.set_notify_waker(Arc::new(move || waker.set()));
        let mut send_ready = true;
        loop {
            // a session that ends after its reply sends ReadyForQuery first
            if self.entry.terminating() && !self.entry.ends_after_reply() {
                self.session.terminate();
                fail(self.conn, &admin_shutdown_error(), None);
                return;
            }
            if send_ready {
                self.send_notifications();
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
                // (tandem_demote()'s caller, once its reply is complete)
                if self.entry.ends_after_reply() {
                    self.session.terminate();
                    fail(self.conn, &admin_shutdown_error(), None);
                    return;
                }
            }
            if self.session.is_listening() && !self.wait_for_input(&latch) {
                self.session.terminate();
                return;
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

    /// Queues the session's pending notifications (none inside a block).
    fn send_notifications(&mut self) {
        for n in self.session.take_notifications() {
            self.conn.send(&BackendMessage::NotificationResponse {
                pid: n.pid,
                channel: n.channel,
                payload: n.payload,
            });
        }
    }

    /// A listening session waits for client input, sending each notification
    /// as it is queued (outside a transaction block). `false`: the client
    /// is gone.
    fn wait_for_input(&mut self, latch: &Latch) -> bool {
        const NAP: std::time::Duration = std::time::Duration::from_secs(3600);
        loop {
            latch.reset();
            self.send_notifications();
            if self.conn.flush().is_err() {
                return false;
            }
            if self.conn.has_pending_input() || self.entry.terminating() {
                return true;
            }
            let woken = latch.wait_or_socket(self.conn.raw_fd(), NAP);
            if woken.socket {
                return true;
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
