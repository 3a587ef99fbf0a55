//! Row locks and the DDL lock, with waiting, cancellation and deadlock detection.
//!
//! A lock is owned by a transaction id and held until the transaction ends
//! (`release_all` after its commit was applied to the heap, or at rollback). Row
//! locks are taken by UPDATE/DELETE (`lock_row`) and by inserts of a primary key
//! (so a second inserter of the same key waits for the first to finish, then
//! re-checks). The single DDL lock serializes catalog changes.
//!
//! Waiting: a blocked transaction records whom it waits for (the wait-for graph)
//! and sleeps on one condition variable, woken when any lock is released and at
//! least every 100 ms to look at its cancel flag (`57014 canceling statement due to
//! user request`). After each `deadlock_timeout` of waiting it walks the graph; if
//! the chain of holders leads back to itself it fails with `40P01 deadlock
//! detected`, reporting the cycle as PostgreSQL does. Lock order inside the crate:
//! the lock manager's mutex is never held while taking another storage lock.
//! PostgreSQL counterparts: `lmgr.c` (XactLockTableWait), `lock.c`, `deadlock.c`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustc_hash::FxHashMap as HashMap;
use tandem_types::{Oid, PgError, PgResult, SqlState, Xid};

use crate::RowKey;

/// What is locked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockTag {
    Row(Oid, RowKey),
    /// The global DDL lock.
    Ddl,
}

#[derive(Default)]
struct LockState {
    owners: HashMap<LockTag, Xid>,
    held: HashMap<Xid, Vec<LockTag>>,
    /// waiter -> holder it waits for
    waiting: HashMap<Xid, Xid>,
    /// backend pid of each transaction that holds or waits (for DETAIL lines)
    pids: HashMap<Xid, i32>,
    sleepers: usize,
}

/// How a wait behaves.
pub struct WaitOptions<'a> {
    pub pid: i32,
    pub cancel: Option<&'a AtomicBool>,
    pub deadlock_timeout: Duration,
}

pub struct LockManager {
    state: Mutex<LockState>,
    cond: Condvar,
}

const POLL: Duration = Duration::from_millis(100);

/// Capacity of the lock table above which it shrinks once mostly empty.
const SHRINK_ABOVE: usize = 1 << 16;

/// `57014 canceling statement due to user request`
pub fn canceled() -> PgError {
    PgError::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

impl Default for LockManager {
    fn default() -> Self {
        LockManager {
            state: Mutex::new(LockState::default()),
            cond: Condvar::new(),
        }
    }
}

impl LockManager {
    /// Takes `tag` for `xid`, waiting while another transaction holds it.
    /// Returns true if it had to wait.
    pub fn acquire(&self, xid: Xid, tag: LockTag, opts: &WaitOptions<'_>) -> PgResult<bool> {
        let mut st = self.state.lock();
        let mut waited = false;
        let mut next_check = Instant::now() + opts.deadlock_timeout;
        loop {
            // one probe: the tag (a row key in place) is cheap to copy
            let held_by = match st.owners.entry(tag.clone()) {
                std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(xid);
                    None
                }
            };
            match held_by {
                None => {
                    match st.held.get_mut(&xid) {
                        Some(tags) => tags.push(tag),
                        None => {
                            st.held.insert(xid, vec![tag]);
                            st.pids.insert(xid, opts.pid);
                        }
                    }
                    if waited {
                        st.waiting.remove(&xid);
                    }
                    return Ok(waited);
                }
                Some(owner) if owner == xid => {
                    if waited {
                        st.waiting.remove(&xid);
                    }
                    return Ok(waited);
                }
                Some(owner) => {
                    waited = true;
                    st.pids.insert(xid, opts.pid);
                    st.waiting.insert(xid, owner);
                    if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                        st.waiting.remove(&xid);
                        return Err(canceled());
                    }
                    if Instant::now() >= next_check {
                        next_check = Instant::now() + opts.deadlock_timeout;
                        if let Some(detail) = deadlock_cycle(&st, xid) {
                            st.waiting.remove(&xid);
                            return Err(PgError::new(
                                SqlState::T_R_DEADLOCK_DETECTED,
                                "deadlock detected",
                            )
                            .with_detail(detail)
                            .with_hint("See server log for query details."));
                        }
                    }
                    st.sleepers += 1;
                    let until = (Instant::now() + POLL).min(next_check);
                    self.cond.wait_until(&mut st, until);
                    st.sleepers -= 1;
                }
            }
        }
    }

    /// Does `xid` hold `tag`?
    pub fn holds(&self, xid: Xid, tag: &LockTag) -> bool {
        self.state.lock().owners.get(tag) == Some(&xid)
    }

    /// Releases every lock of `xid` and wakes waiters.
    pub fn release_all(&self, xid: Xid) {
        let mut st = self.state.lock();
        st.pids.remove(&xid);
        st.waiting.remove(&xid);
        let Some(tags) = st.held.remove(&xid) else {
            return;
        };
        if tags.len() * 2 >= st.owners.len() {
            // most of the table is this transaction's (a bulk write): one
            // pass over it beats hashing every tag again
            st.owners.retain(|_, owner| *owner != xid);
        } else {
            for tag in &tags {
                // a tag is in `held` only while `xid` owns it
                if let Some(owner) = st.owners.remove(tag) {
                    if owner != xid {
                        st.owners.insert(tag.clone(), owner);
                    }
                }
            }
        }
        // a transaction of millions of row locks leaves a table that size
        if st.owners.capacity() > SHRINK_ABOVE && st.owners.len() < st.owners.capacity() / 8 {
            st.owners.shrink_to_fit();
        }
        if st.sleepers > 0 {
            self.cond.notify_all();
        }
        drop(st);
        // freed outside the mutex
        drop(tags);
    }

    /// Number of locks held (tests, monitoring).
    pub fn held_count(&self) -> usize {
        self.state.lock().owners.len()
    }
}

/// If `me` is on a wait-for cycle, PostgreSQL's DETAIL lines for it.
fn deadlock_cycle(st: &LockState, me: Xid) -> Option<String> {
    let mut path = vec![me];
    let mut cur = me;
    while let Some(&holder) = st.waiting.get(&cur) {
        if holder == me {
            let pid = |x: &Xid| st.pids.get(x).copied().unwrap_or(0);
            let lines: Vec<String> = path
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let blocker = path[(i + 1) % path.len()];
                    format!(
                        "Process {} waits for ShareLock on transaction {}; blocked by process {}.",
                        pid(x),
                        blocker,
                        pid(&blocker)
                    )
                })
                .collect();
            return Some(lines.join("\n"));
        }
        if path.contains(&holder) || path.len() > st.waiting.len() {
            return None;
        }
        path.push(holder);
        cur = holder;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn opts(pid: i32) -> WaitOptions<'static> {
        WaitOptions {
            pid,
            cancel: None,
            deadlock_timeout: Duration::from_millis(200),
        }
    }
    fn row(b: u8) -> LockTag {
        LockTag::Row(Oid(1), RowKey::from(vec![b]))
    }

    #[test]
    fn second_locker_waits_until_release() {
        let lm = Arc::new(LockManager::default());
        assert!(!lm.acquire(Xid(1), row(1), &opts(1)).unwrap());
        let lm2 = lm.clone();
        let t = std::thread::spawn(move || lm2.acquire(Xid(2), row(1), &opts(2)).unwrap());
        std::thread::sleep(Duration::from_millis(50));
        lm.release_all(Xid(1));
        assert!(t.join().unwrap(), "the second locker waited");
        assert!(lm.holds(Xid(2), &row(1)));
    }

    #[test]
    fn a_transaction_of_many_locks_leaves_a_small_table() {
        let lm = LockManager::default();
        lm.acquire(Xid(1), row(1), &opts(1)).unwrap();
        for i in 0..200_000u32 {
            let tag = LockTag::Row(Oid(2), RowKey::new(&i.to_be_bytes()));
            lm.acquire(Xid(2), tag, &opts(2)).unwrap();
        }
        assert!(lm.state.lock().owners.capacity() >= 200_000);
        // a small holder beside it releases its own tags only
        lm.acquire(Xid(3), row(2), &opts(3)).unwrap();
        lm.release_all(Xid(3));
        assert_eq!(lm.held_count(), 200_001);
        assert!(!lm.acquire(Xid(4), row(2), &opts(4)).unwrap());
        lm.release_all(Xid(2));
        let st = lm.state.lock();
        assert_eq!(st.owners.len(), 2);
        assert!(st.owners.values().all(|&x| x == Xid(1) || x == Xid(4)));
        assert!(
            st.owners.capacity() <= SHRINK_ABOVE,
            "{}",
            st.owners.capacity()
        );
    }

    #[test]
    fn cancel_flag_ends_a_wait() {
        let lm = LockManager::default();
        lm.acquire(Xid(1), row(1), &opts(1)).unwrap();
        let flag = AtomicBool::new(true);
        let o = WaitOptions {
            pid: 2,
            cancel: Some(&flag),
            deadlock_timeout: Duration::from_secs(1),
        };
        let err = lm.acquire(Xid(2), row(1), &o).unwrap_err();
        assert_eq!(err.code, SqlState::QUERY_CANCELED);
    }

    #[test]
    fn deadlock_is_detected_with_postgres_detail() {
        let lm = Arc::new(LockManager::default());
        lm.acquire(Xid(10), row(1), &opts(100)).unwrap();
        lm.acquire(Xid(11), row(2), &opts(101)).unwrap();
        let lm2 = lm.clone();
        // 11 waits for 10 with a long timeout; 10 then waits for 11 and detects.
        let t = std::thread::spawn(move || {
            let o = WaitOptions {
                pid: 101,
                cancel: None,
                deadlock_timeout: Duration::from_secs(30),
            };
            lm2.acquire(Xid(11), row(1), &o)
        });
        std::thread::sleep(Duration::from_millis(50));
        let err = lm.acquire(Xid(10), row(2), &opts(100)).unwrap_err();
        assert_eq!(err.code, SqlState::T_R_DEADLOCK_DETECTED);
        assert_eq!(
            err.detail.as_deref(),
            Some(
                "Process 100 waits for ShareLock on transaction 11; blocked by process 101.\n\
                 Process 101 waits for ShareLock on transaction 10; blocked by process 100."
            )
        );
        lm.release_all(Xid(10));
        assert!(t.join().unwrap().is_ok());
    }
}
