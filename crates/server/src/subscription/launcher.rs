//! The logical replication launcher (PostgreSQL's
//! `replication/logical/launcher.c`).
//!
//! The launcher thread keeps one worker thread per enabled subscription with
//! a slot, on a primary (none run during recovery; they start after a
//! promotion). It wakes when a commit changes the catalog (CREATE / ALTER
//! SUBSCRIPTION ... ENABLE start a worker at once) or a worker ends, and
//! otherwise sleeps until the earliest worker restart is due
//! ([`next_wakeup`]; at most [`MAX_NAP`], every second during recovery so a
//! promotion is noticed). A worker that failed is restarted after
//! `wal_retrieve_retry_interval`, however short (PostgreSQL's launcher
//! throttles the same way); one that ended because its subscription changed
//! is restarted at once, and a change of a subscription's CONNECTION drops
//! its retry hold-back, so `ALTER SUBSCRIPTION ... CONNECTION` re-points a
//! failing worker at once. At most `max_logical_replication_workers` run (PostgreSQL's
//! WARNING `out of logical replication worker slots` otherwise; 0 runs none).
//! Each worker is registered like a backend (a pid in `pg_stat_activity`) and
//! reports its position in `pg_stat_subscription`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tandem_config::Config;
use tandem_expr::SubscriptionWorkerStat;
use tandem_storage::{Database, IsolationLevel};
use tandem_types::elog::{self, Level};
use tandem_types::{Oid, PgError};

use super::worker;
use super::worker_internal::{RunEnd, WorkerCtx, WorkerStat};
use crate::procarray::Registry;

struct Running {
    stop: Arc<AtomicBool>,
    stat: Arc<Mutex<WorkerStat>>,
    thread: JoinHandle<()>,
    /// Set by the thread as it ends: whether to restart at once (a parameter
    /// change) rather than after the retry interval.
    restart_now: Arc<AtomicBool>,
    /// Set by the thread just before it wakes the launcher on its way out:
    /// the launcher reaps it then, even if the thread has not quite finished
    /// (it would otherwise sleep until the next wakeup).
    ended: Arc<AtomicBool>,
}

impl Running {
    fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire) || self.thread.is_finished()
    }
}

#[derive(Default)]
struct State {
    running: HashMap<Oid, Running>,
    /// When each subscription's worker may start again.
    not_before: HashMap<Oid, Instant>,
    /// Each subscription's connection string as last seen: a new one ends
    /// its hold-back.
    conninfo: HashMap<Oid, String>,
}

/// The longest the launcher sleeps with nothing due (PostgreSQL's
/// `DEFAULT_NAPTIME_PER_CYCLE`, 180 s).
const MAX_NAP: Duration = Duration::from_secs(180);

/// How long the launcher may sleep at `now`: until the earliest of
/// `not_before` (at once if one is past), at most `cap`.
fn next_wakeup(not_before: &HashMap<Oid, Instant>, now: Instant, cap: Duration) -> Duration {
    not_before
        .values()
        .map(|t| t.saturating_duration_since(now))
        .min()
        .map_or(cap, |d| d.min(cap))
}

/// The launcher; shared with the SQL hooks.
pub(crate) struct Launcher {
    state: Mutex<State>,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Set when started (the hooks exist before the database is open).
    env: Mutex<Option<Env>>,
}

#[derive(Clone)]
struct Env {
    db: Arc<Database>,
    config: Arc<Config>,
    registry: Arc<Registry>,
}

impl Launcher {
    pub fn new() -> Arc<Launcher> {
        Arc::new(Launcher {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            env: Mutex::new(None),
        })
    }

    /// Starts the launcher thread.
    pub fn start(
        self: &Arc<Self>,
        db: Arc<Database>,
        config: Arc<Config>,
        registry: Arc<Registry>,
    ) {
        let env = Env {
            db,
            config,
            registry,
        };
        *self.env.lock() = Some(env.clone());
        let me = self.clone();
        if let Ok(h) = std::thread::Builder::new()
            .name("logical replication launcher".into())
            .spawn(move || me.run(&env))
        {
            *self.thread.lock() = Some(h);
        }
    }

    /// Stops the launcher and every worker, and waits for them.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(env) = self.env.lock().clone() {
            // wake the launcher out of its wait
            env.db.notify_waiters();
        }
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
        let running: Vec<Running> = self.state.lock().running.drain().map(|(_, r)| r).collect();
        for r in &running {
            r.stop.store(true, Ordering::Release);
        }
        for r in running {
            let _ = r.thread.join();
        }
    }

    /// DROP SUBSCRIPTION: stops the subscription's worker and keeps it from
    /// being restarted for a while (until the drop has committed).
    pub fn stop_workers(&self, subid: Oid) {
        let r = {
            let mut st = self.state.lock();
            st.not_before
                .insert(subid, Instant::now() + Duration::from_secs(5));
            st.running.remove(&subid)
        };
        if let Some(r) = r {
            r.stop.store(true, Ordering::Release);
            let _ = r.thread.join();
        }
    }

    /// Rows for `pg_stat_subscription`.
    pub fn stats(&self) -> Vec<SubscriptionWorkerStat> {
        let st = self.state.lock();
        let mut out = Vec::new();
        for (subid, r) in st.running.iter().filter(|(_, r)| !r.thread.is_finished()) {
            let s = r.stat.lock().clone();
            out.push(SubscriptionWorkerStat {
                subid: *subid,
                worker_type: "apply",
                pid: s.pid,
                relid: None,
                received_lsn: s.received_lsn,
                last_msg_send_time: s.last_msg_send_time,
                last_msg_receipt_time: s.last_msg_receipt_time,
                latest_end_lsn: s.latest_end_lsn,
                latest_end_time: s.latest_end_time,
            });
            if let Some(relid) = s.syncing {
                out.push(SubscriptionWorkerStat {
                    subid: *subid,
                    worker_type: "table synchronization",
                    pid: s.pid,
                    relid: Some(relid),
                    received_lsn: None,
                    last_msg_send_time: None,
                    last_msg_receipt_time: None,
                    latest_end_lsn: None,
                    latest_end_time: None,
                });
            }
        }
        out
    }

    fn run(self: &Arc<Self>, env: &Env) {
        let mut seen_version = env.db.catalog_version();
        let mut seen_catalog = None;
        while !self.stop.load(Ordering::Acquire) {
            let recovery = env.db.in_recovery();
            if !recovery {
                let cat = env.db.catalog();
                let changed = !seen_catalog.as_ref().is_some_and(|c| Arc::ptr_eq(c, &cat));
                seen_catalog = Some(cat.clone());
                self.reconcile(env, &cat, changed);
            }
            // wake on the next catalog change (or a worker's exit), else when
            // the next restart is due
            let cap = if recovery {
                Duration::from_secs(1)
            } else {
                MAX_NAP
            };
            let nap = next_wakeup(&self.state.lock().not_before, Instant::now(), cap);
            if nap.is_zero() {
                continue;
            }
            seen_version = env.db.wait_for_catalog_change(seen_version, nap);
        }
    }

    /// Reaps ended workers and starts missing ones.
    fn reconcile(self: &Arc<Self>, env: &Env, cat: &tandem_storage::Catalog, changed: bool) {
        let mut st = self.state.lock();
        let ended: Vec<Oid> = st
            .running
            .iter()
            .filter(|(_, r)| r.has_ended())
            .map(|(id, _)| *id)
            .collect();
        let retry = Duration::from_millis(
            env.config
                .get_ms("wal_retrieve_retry_interval")
                .unwrap_or(5000)
                .max(1),
        );
        for id in ended {
            if let Some(r) = st.running.remove(&id) {
                let now = r.restart_now.load(Ordering::Acquire);
                let _ = r.thread.join();
                if !now {
                    st.not_before.insert(id, Instant::now() + retry);
                }
            }
        }
        if changed {
            // a new connection string: no waiting for the retry interval
            let st = &mut *st;
            for sub in cat.subscriptions.values() {
                let before = st.conninfo.insert(sub.oid, sub.conninfo.clone());
                if before.is_some_and(|c| c != sub.conninfo) {
                    st.not_before.remove(&sub.oid);
                }
            }
            st.conninfo
                .retain(|id, _| cat.subscriptions.contains_key(id));
        }
        if !changed && st.not_before.is_empty() && st.running.len() >= cat.subscriptions.len() {
            return;
        }
        let now = Instant::now();
        st.not_before.retain(|_, t| *t > now);
        let max_workers = env.config.get_int("max_logical_replication_workers");
        for sub in cat.subscriptions.values() {
            if !sub.enabled || sub.slot_name.is_none() || st.running.contains_key(&sub.oid) {
                continue;
            }
            if st.not_before.contains_key(&sub.oid) {
                continue;
            }
            if st.running.len() as i64 >= max_workers {
                elog::emit(
                    Level::Warning,
                    "out of logical replication worker slots",
                    None,
                    Some("You might need to increase \"max_logical_replication_workers\"."),
                );
                st.not_before.insert(sub.oid, now + retry);
                continue;
            }
            if let Some(r) = self.spawn(env, sub.oid) {
                st.running.insert(sub.oid, r);
            }
        }
    }

    fn spawn(self: &Arc<Self>, env: &Env, subid: Oid) -> Option<Running> {
        let stop = Arc::new(AtomicBool::new(false));
        let stat = Arc::new(Mutex::new(WorkerStat::default()));
        let restart_now = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let (env2, stop2, stat2, restart2, ended2) = (
            env.clone(),
            stop.clone(),
            stat.clone(),
            restart_now.clone(),
            ended.clone(),
        );
        let launcher = self.clone();
        let thread = std::thread::Builder::new()
            .name(format!("apply {}", subid.0))
            .spawn(move || {
                let reg = env2.registry.register(None, None);
                stat2.lock().pid = reg.entry.pid;
                reg.entry.set_state("active", None);
                let entry = reg.entry.clone();
                let ctx = WorkerCtx {
                    db: env2.db.clone(),
                    config: env2.config.clone(),
                    subid,
                    stop: stop2,
                    stat: stat2,
                    terminating: Box::new(move || entry.terminating()),
                    data_error: AtomicBool::new(false),
                };
                let end = run_worker(&ctx);
                restart2.store(end == Some(RunEnd::Restart), Ordering::Release);
                if end.is_none() {
                    elog::emit(
                        Level::Log,
                        &format!(
                            "background worker \"logical replication apply worker\" (PID {}) exited with exit code 1",
                            reg.entry.pid
                        ),
                        None,
                        None,
                    );
                }
                drop(reg);
                // let the launcher reap and restart promptly
                let _ = &launcher;
                ended2.store(true, Ordering::Release);
                env2.db.notify_waiters();
            })
            .ok()?;
        Some(Running {
            stop,
            stat,
            thread,
            restart_now,
            ended,
        })
    }
}

/// One worker's life: `None` when it ended with an error.
fn run_worker(ctx: &WorkerCtx) -> Option<RunEnd> {
    let name = ctx
        .db
        .catalog()
        .subscriptions
        .get(&ctx.subid)
        .map(|s| s.name.clone())?;
    elog::emit(
        Level::Log,
        &format!("logical replication apply worker for subscription \"{name}\" has started"),
        None,
        None,
    );
    match worker::run(ctx) {
        Ok(end) => Some(end),
        Err(e) => {
            elog::emit_error(&PgError {
                severity: tandem_types::error::Severity::Error,
                ..e
            });
            if ctx.data_error.load(Ordering::Acquire) {
                disable_on_error(&ctx.db, ctx.subid);
            }
            None
        }
    }
}

/// `disable_on_error`: the subscription is disabled after an apply error.
fn disable_on_error(db: &Arc<Database>, subid: Oid) {
    let Some(mut sub) = db.catalog().subscriptions.get(&subid).cloned() else {
        return;
    };
    if !sub.disable_on_error || !sub.enabled {
        return;
    }
    sub.enabled = false;
    let name = sub.name.clone();
    let mut txn = db.begin(IsolationLevel::ReadCommitted, false);
    let done = txn
        .put_subscription(sub)
        .and_then(|_| txn.commit())
        .and_then(|end| end.map_or(Ok(()), |e| db.wal().flush(e)));
    match done {
        Ok(_) => elog::emit(
            Level::Log,
            &format!("subscription \"{name}\" has been disabled because of an error"),
            None,
            None,
        ),
        Err(e) => elog::emit_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_until_the_earliest_restart() {
        let now = Instant::now();
        let cap = Duration::from_secs(180);
        assert_eq!(next_wakeup(&HashMap::new(), now, cap), cap);
        let due: HashMap<Oid, Instant> = [
            (Oid(1), now + Duration::from_millis(300)),
            (Oid(2), now + Duration::from_millis(20)),
        ]
        .into_iter()
        .collect();
        assert_eq!(next_wakeup(&due, now, cap), Duration::from_millis(20));
        assert_eq!(
            next_wakeup(&due, now, Duration::from_millis(5)),
            Duration::from_millis(5)
        );
        // a restart already due: no sleep
        assert_eq!(
            next_wakeup(&due, now + Duration::from_secs(1), cap),
            Duration::ZERO
        );
    }
}
