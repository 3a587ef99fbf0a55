//! The registry of live backends: what a CancelRequest, `pg_cancel_backend`,
//! `pg_terminate_backend`, `pg_stat_activity`, `max_connections` and shutdown need
//! to know about every connection.
//!
//! Backend PIDs: tandem runs sessions as threads of one process, so a backend has
//! no OS pid of its own. Each connection gets a *virtual pid* from a counter that
//! starts just above the server's OS pid, so it looks like a PostgreSQL backend pid,
//! is unique within the server's lifetime, and is what BackendKeyData,
//! `pg_backend_pid()`, `pg_stat_activity.pid` and the cancel protocol use.
//!
//! Terminating a backend (pg_terminate_backend, fast shutdown) sets its
//! `terminate` and `cancel` flags, then shuts down the read side of its socket:
//! a session blocked reading wakes with end-of-file, a running statement stops at
//! its next cancel check; either way the session thread then sends
//! `FATAL 57P01 terminating connection due to administrator command` and exits.
//!
//! Corresponds to PostgreSQL's `src/backend/storage/ipc/procarray.c` (the PGPROC
//! array), `utils/activity/backend_status.c` and `storage/ipc/procsignal.c`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tandem_expr::BackendActivityRow;

use crate::backend::pqcomm::SocketHandle;
use tandem_types::PgTimestamp;

/// Bytes of query text kept for pg_stat_activity (`track_activity_query_size`).
const QUERY_TEXT_LIMIT: usize = 1024;

/// Mutable, displayed state of one backend.
#[derive(Clone, Debug, Default)]
pub(crate) struct Activity {
    pub user: String,
    pub application_name: String,
    pub state: String,
    pub query: String,
    /// `pg_stat_activity.backend_type`; empty for a client backend.
    pub backend_type: String,
    /// The connection's encryption (`pg_stat_ssl`), set once TLS is up.
    pub ssl: Option<tandem_expr::SslStatus>,
}

pub(crate) struct BackendEntry {
    pub pid: i32,
    pub secret: u32,
    pub client_addr: Option<String>,
    /// microseconds since 2000-01-01 UTC
    pub backend_start: i64,
    /// The session's cancel flag once it exists; until then a private one.
    pub cancel: Mutex<Arc<AtomicBool>>,
    pub terminate: AtomicBool,
    /// The session ends (FATAL 57P01) right after its current reply, and a
    /// fast shutdown lets that reply finish: set by `tandem_demote()` for
    /// its caller, whose result would otherwise be cut by the shutdown it
    /// starts.
    pub end_after_reply: AtomicBool,
    /// Counted against max_connections (walsenders are not).
    pub counted: AtomicBool,
    pub socket: Option<SocketHandle>,
    pub activity: Mutex<Activity>,
}

impl BackendEntry {
    pub fn cancel(&self) {
        self.cancel.lock().store(true, Ordering::SeqCst);
    }

    pub fn request_terminate(&self) {
        self.terminate.store(true, Ordering::SeqCst);
        if self.ends_after_reply() {
            // not interrupted: it leaves on its own once it has replied
            return;
        }
        self.cancel();
        if let Some(s) = &self.socket {
            s.wake_reader();
        }
    }

    pub fn terminating(&self) -> bool {
        self.terminate.load(Ordering::SeqCst)
    }

    pub fn set_end_after_reply(&self, on: bool) {
        self.end_after_reply.store(on, Ordering::SeqCst);
    }

    pub fn ends_after_reply(&self) -> bool {
        self.end_after_reply.load(Ordering::SeqCst)
    }

    pub fn set_state(&self, state: &str, query: Option<&str>) {
        let mut a = self.activity.lock();
        a.state.clear();
        a.state.push_str(state);
        if let Some(q) = query {
            let mut end = q.len().min(QUERY_TEXT_LIMIT);
            while !q.is_char_boundary(end) {
                end -= 1;
            }
            a.query.clear();
            a.query.push_str(&q[..end]);
        }
    }
}

pub(crate) struct Registry {
    next_pid: AtomicI32,
    backends: Mutex<HashMap<i32, Arc<BackendEntry>>>,
    /// Signalled whenever a backend leaves (shutdown waits on it).
    left: Condvar,
    /// Set whenever a backend leaves: the postmaster polls it with its
    /// listening sockets while it waits for sessions to end at shutdown.
    left_latch: crate::latch::Latch,
}

/// Removes the backend from the registry when its thread ends, however it ends.
pub(crate) struct Registration {
    pub entry: Arc<BackendEntry>,
    registry: Arc<Registry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.registry.backends.lock();
        map.remove(&self.entry.pid);
        self.registry.left.notify_all();
        self.registry.left_latch.set();
    }
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        let base = std::process::id().min(i32::MAX as u32 - 1_000_000) as i32;
        Arc::new(Registry {
            next_pid: AtomicI32::new(base + 1),
            backends: Mutex::new(HashMap::new()),
            left: Condvar::new(),
            left_latch: crate::latch::Latch::new(),
        })
    }

    pub fn register(
        self: &Arc<Self>,
        client_addr: Option<String>,
        socket: Option<SocketHandle>,
    ) -> Registration {
        let pid = self.next_pid.fetch_add(1, Ordering::SeqCst);
        let entry = Arc::new(BackendEntry {
            pid,
            secret: rand::random(),
            client_addr,
            backend_start: PgTimestamp::now().as_micros(),
            cancel: Mutex::new(Arc::new(AtomicBool::new(false))),
            terminate: AtomicBool::new(false),
            end_after_reply: AtomicBool::new(false),
            counted: AtomicBool::new(false),
            socket,
            activity: Mutex::new(Activity {
                state: "starting".into(),
                ..Activity::default()
            }),
        });
        self.backends.lock().insert(pid, entry.clone());
        Registration {
            entry,
            registry: self.clone(),
        }
    }

    pub fn get(&self, pid: i32) -> Option<Arc<BackendEntry>> {
        self.backends.lock().get(&pid).cloned()
    }

    pub fn len(&self) -> usize {
        self.backends.lock().len()
    }

    /// Backends counted against max_connections, other than `me`.
    pub fn counted_except(&self, me: i32) -> usize {
        self.backends
            .lock()
            .values()
            .filter(|b| b.pid != me && b.counted.load(Ordering::SeqCst))
            .count()
    }

    /// Backends of `user` other than `me` (for rolconnlimit).
    pub fn count_user_except(&self, user: &str, me: i32) -> usize {
        self.backends
            .lock()
            .values()
            .filter(|b| {
                b.pid != me && b.counted.load(Ordering::SeqCst) && b.activity.lock().user == user
            })
            .count()
    }

    /// CancelRequest: cancels the backend if the secret matches; PostgreSQL
    /// answers nothing either way.
    pub fn cancel_request(&self, pid: i32, secret: u32) -> bool {
        match self.get(pid) {
            Some(b) if b.secret == secret => {
                b.cancel();
                true
            }
            _ => false,
        }
    }

    pub fn terminate_all(&self) {
        self.terminate_where(|_| true);
    }

    /// Terminates the backends whose pid `pick` chooses.
    pub fn terminate_where(&self, pick: impl Fn(i32) -> bool) {
        let entries: Vec<Arc<BackendEntry>> = self.backends.lock().values().cloned().collect();
        for b in entries {
            if pick(b.pid) {
                b.request_terminate();
            }
        }
    }

    /// Waits up to `timeout` for every backend to leave; true if none is left.
    /// Set whenever a backend leaves (the postmaster resets it).
    pub(crate) fn left_latch(&self) -> &crate::latch::Latch {
        &self.left_latch
    }

    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let mut map = self.backends.lock();
        if map.is_empty() {
            return true;
        }
        self.left.wait_for(&mut map, timeout);
        map.is_empty()
    }

    /// The sessions as `pg_stat_activity` shows them, in pid order.
    pub(crate) fn activity_rows(&self) -> Vec<BackendActivityRow> {
        let mut entries: Vec<Arc<BackendEntry>> = self.backends.lock().values().cloned().collect();
        entries.sort_by_key(|b| b.pid);
        entries
            .iter()
            .map(|b| {
                let a = b.activity.lock().clone();
                BackendActivityRow {
                    pid: b.pid,
                    usename: Some(a.user).filter(|u| !u.is_empty()),
                    application_name: a.application_name,
                    client_addr: b.client_addr.clone(),
                    backend_start: b.backend_start,
                    state: a.state,
                    query: a.query,
                    backend_type: a.backend_type,
                    ssl: a.ssl,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_unique_and_cancel_needs_the_secret() {
        let r = Registry::new();
        let a = r.register(Some("127.0.0.1".into()), None);
        let b = r.register(None, None);
        assert_ne!(a.entry.pid, b.entry.pid);
        assert!(a.entry.pid > std::process::id() as i32);
        let flag = a.entry.cancel.lock().clone();
        assert!(!r.cancel_request(a.entry.pid, a.entry.secret.wrapping_add(1)));
        assert!(!flag.load(Ordering::SeqCst));
        assert!(r.cancel_request(a.entry.pid, a.entry.secret));
        assert!(flag.load(Ordering::SeqCst));
        assert_eq!(r.len(), 2);
        drop(b);
        assert_eq!(r.len(), 1);
    }
}
