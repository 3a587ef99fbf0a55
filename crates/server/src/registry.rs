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
use tandem_expr::context::ServerHooks;
use tandem_types::Value;

use crate::stream::SocketHandle;

/// Bytes of query text kept for pg_stat_activity (`track_activity_query_size`).
const QUERY_TEXT_LIMIT: usize = 1024;

/// Mutable, displayed state of one backend.
#[derive(Clone, Debug, Default)]
pub(crate) struct Activity {
    pub user: String,
    pub application_name: String,
    pub state: String,
    pub query: String,
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
        self.cancel();
        if let Some(s) = &self.socket {
            s.wake_reader();
        }
    }

    pub fn terminating(&self) -> bool {
        self.terminate.load(Ordering::SeqCst)
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
    }
}

pub(crate) fn now_pg_micros() -> i64 {
    const UNIX_TO_PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
    chrono::Utc::now().timestamp_micros() - UNIX_TO_PG_EPOCH_MICROS
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        let base = std::process::id().min(i32::MAX as u32 - 1_000_000) as i32;
        Arc::new(Registry {
            next_pid: AtomicI32::new(base + 1),
            backends: Mutex::new(HashMap::new()),
            left: Condvar::new(),
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
            backend_start: now_pg_micros(),
            cancel: Mutex::new(Arc::new(AtomicBool::new(false))),
            terminate: AtomicBool::new(false),
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
        for b in self.backends.lock().values() {
            b.request_terminate();
        }
    }

    /// Waits up to `timeout` for every backend to leave; true if none is left.
    pub fn wait_empty(&self, timeout: Duration) -> bool {
        let mut map = self.backends.lock();
        if map.is_empty() {
            return true;
        }
        self.left.wait_for(&mut map, timeout);
        map.is_empty()
    }

    fn activity_rows(&self) -> Vec<Vec<Value>> {
        let mut entries: Vec<Arc<BackendEntry>> = self.backends.lock().values().cloned().collect();
        entries.sort_by_key(|b| b.pid);
        entries
            .iter()
            .map(|b| {
                let a = b.activity.lock().clone();
                vec![
                    Value::Int4(b.pid),
                    if a.user.is_empty() {
                        Value::Null
                    } else {
                        Value::Text(a.user)
                    },
                    Value::Text(a.application_name),
                    b.client_addr
                        .clone()
                        .map(Value::Text)
                        .unwrap_or(Value::Null),
                    Value::TimestampTz(b.backend_start),
                    Value::Text(a.state),
                    Value::Text(a.query),
                ]
            })
            .collect()
    }
}

/// [`ServerHooks`] for sessions of this server.
pub(crate) struct Hooks {
    pub registry: Arc<Registry>,
    /// Set to ask the postmaster loop to reload (what SIGHUP does).
    pub reload: Arc<AtomicBool>,
    /// When the postmaster started, microseconds since 2000-01-01 UTC.
    pub start_time: i64,
    /// Slots and walsenders (`None` only in unit tests).
    pub repl: Option<ReplHooks>,
}

/// What the replication functions and views reach through the hooks.
pub(crate) struct ReplHooks {
    pub slots: Arc<tandem_replication::slot::SlotRegistry>,
    pub walsenders: Arc<crate::walsenders::WalSenders>,
    pub db: Arc<tandem_storage::Database>,
    pub config: Arc<tandem_config::Config>,
    /// The walreceiver's state (`pg_stat_wal_receiver`).
    pub walrcv: crate::walreceiver::WalRcvShared,
    /// Subscription apply workers.
    pub launcher: Arc<crate::apply::Launcher>,
}

fn no_slots() -> tandem_types::PgError {
    tandem_types::PgError::unsupported("replication slots")
}

impl ServerHooks for Hooks {
    fn in_recovery(&self) -> bool {
        self.repl.as_ref().is_some_and(|r| r.db.in_recovery())
    }

    /// `pg_reload_conf()`: raises the same flag SIGHUP raises, so the postmaster
    /// loop reloads postgresql.conf and pg_hba.conf within its next tick. (Setting
    /// the flag instead of `kill(getpid(), SIGHUP)` also works when the server runs
    /// inside a test process that installed no handler.)
    fn reload_conf(&self) -> bool {
        self.reload.store(true, Ordering::SeqCst);
        true
    }

    fn signal_backend(&self, pid: i32, terminate: bool) -> bool {
        match self.registry.get(pid) {
            Some(b) => {
                if terminate {
                    b.request_terminate();
                } else {
                    b.cancel();
                }
                true
            }
            None => false,
        }
    }

    fn activity(&self) -> Vec<Vec<Value>> {
        self.registry.activity_rows()
    }

    fn stop_subscription_workers(&self, subid: tandem_types::Oid) {
        if let Some(r) = &self.repl {
            r.launcher.stop_workers(subid);
        }
    }

    fn subscription_workers(&self) -> Vec<tandem_expr::SubscriptionWorkerStat> {
        self.repl
            .as_ref()
            .map(|r| r.launcher.stats())
            .unwrap_or_default()
    }

    fn create_physical_slot(
        &self,
        pid: i32,
        name: &str,
        reserve: bool,
        temporary: bool,
    ) -> tandem_types::PgResult<(String, Option<tandem_types::Lsn>)> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let lsn = crate::slots::create_physical(
            &r.slots, &r.db, &r.config, pid, name, reserve, temporary,
        )?;
        Ok((name.to_string(), lsn))
    }

    fn drop_replication_slot(&self, pid: i32, name: &str) -> tandem_types::PgResult<()> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        crate::slots::drop_slot(&r.slots, &r.config, pid, name, false)
    }

    fn create_logical_slot(
        &self,
        pid: i32,
        req: &tandem_expr::LogicalSlotRequest,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let lsn = crate::logical::create(
            &r.slots,
            &r.db,
            &r.config,
            pid,
            &crate::logical::NewLogicalSlot {
                name: &req.name,
                plugin: &req.plugin,
                temporary: req.temporary,
                two_phase: req.two_phase,
                failover: req.failover,
                database: tandem_types::Oid(req.database),
                allowed_plugins: &req.allowed_plugins,
            },
        )?;
        r.slots.release(&req.name, pid, now_pg_micros());
        Ok(lsn)
    }

    fn logical_slot_changes(
        &self,
        pid: i32,
        req: &tandem_expr::ChangesRequest,
    ) -> tandem_types::PgResult<Vec<tandem_expr::ChangeRow>> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        let rows = crate::logical::get_changes(
            &r.slots,
            &r.db,
            &r.config,
            pid,
            crate::logical::GetChanges {
                name: &req.name,
                upto_lsn: req.upto_lsn,
                upto_nchanges: req.upto_nchanges,
                options: req.options.clone(),
                peek: req.peek,
                binary: req.binary,
                database: Some(tandem_types::Oid(req.database)),
                allowed_plugins: &req.allowed_plugins,
            },
        )?;
        Ok(rows
            .into_iter()
            .map(|o| tandem_expr::ChangeRow {
                lsn: o.lsn,
                xid: o.xid.0,
                data: o.data,
            })
            .collect())
    }

    fn advance_slot(
        &self,
        pid: i32,
        name: &str,
        upto: tandem_types::Lsn,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        crate::logical::advance(&r.slots, &r.db, pid, name, upto)
    }

    fn copy_slot(
        &self,
        pid: i32,
        req: &tandem_expr::CopySlotRequest,
    ) -> tandem_types::PgResult<tandem_types::Lsn> {
        let r = self.repl.as_ref().ok_or_else(no_slots)?;
        crate::logical::copy(&r.slots, &r.config, pid, req)
    }

    fn replication_slots(&self) -> Vec<Vec<Value>> {
        match &self.repl {
            Some(r) => crate::slots::rows(&r.slots, &r.db, &r.config),
            None => Vec::new(),
        }
    }

    fn stat_wal_receiver(&self) -> Vec<Vec<Value>> {
        match &self.repl {
            Some(r) => crate::walreceiver::stat_row(&r.walrcv, &r.db),
            None => Vec::new(),
        }
    }

    fn stat_replication(&self) -> Vec<Vec<Value>> {
        match &self.repl {
            Some(r) => r.walsenders.rows(),
            None => Vec::new(),
        }
    }

    /// CREATE / ALTER / DROP SUBSCRIPTION's actions on the publisher.
    fn subscription_remote(
        &self,
        req: &tandem_expr::SubscriptionRemoteRequest,
    ) -> tandem_types::PgResult<tandem_expr::SubscriptionRemoteResult> {
        crate::subscription_remote::run(req)
    }

    fn postmaster_start_time(&self) -> i64 {
        self.start_time
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

    #[test]
    fn activity_rows_and_terminate() {
        let r = Registry::new();
        let reg = r.register(Some("127.0.0.1".into()), None);
        {
            let mut a = reg.entry.activity.lock();
            a.user = "alice".into();
            a.application_name = "psql".into();
        }
        reg.entry.set_state("active", Some("select 1"));
        let hooks = Hooks {
            registry: r.clone(),
            reload: Arc::new(AtomicBool::new(false)),
            start_time: 0,
            repl: None,
        };
        let rows = hooks.activity();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], Value::Int4(reg.entry.pid));
        assert_eq!(rows[0][1], Value::Text("alice".into()));
        assert_eq!(rows[0][5], Value::Text("active".into()));
        assert_eq!(rows[0][6], Value::Text("select 1".into()));
        assert!(hooks.signal_backend(reg.entry.pid, true));
        assert!(reg.entry.terminating());
        assert!(!hooks.signal_backend(-5, false));
        assert!(hooks.reload_conf());
        assert!(hooks.reload.load(Ordering::SeqCst));
        assert!(!r.wait_empty(Duration::from_millis(10)));
        drop(reg);
        assert!(r.wait_empty(Duration::from_millis(10)));
    }
}
