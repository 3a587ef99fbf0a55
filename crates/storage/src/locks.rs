//! Row locks and the DDL lock, with waiting, cancellation and deadlock detection.
//!
//! A lock is owned by a transaction id and held until the transaction ends
//! (`release_all` after its commit was applied to the heap, or at rollback). Row
//! locks are taken by UPDATE/DELETE (`lock_row`) and by inserts of a primary key
//! (so a second inserter of the same key waits for the first to finish, then
//! re-checks). The single DDL lock serializes catalog changes. A key-share
//! lock ([`LockTag::KeyShare`]) guards a referenced key of a foreign key: the
//! writers of referencing rows take it shared (many at once), a transaction
//! that deletes the key or changes it takes it exclusive (PostgreSQL's FOR
//! KEY SHARE against FOR UPDATE), so neither misses the other. Locks live in
//! one hash table, but for a large transaction's row locks taken in rising
//! key order in a table (COPY, an UPDATE over a scan in key order), which
//! go to a sorted run of that transaction's keys: no hashing, no table
//! growth, nothing allocated per key.
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
    /// A referenced key (of a table's primary key, or of a unique index:
    /// then the index's oid and entry key), apart from the row's own lock
    /// so that updates which keep the key do not conflict with it.
    KeyShare(Oid, RowKey),
    /// The global DDL lock.
    Ddl,
}

/// How a lock is held: by one transaction, or by any number at once (a
/// shared holder conflicts only with an exclusive one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Exclusive,
    Shared,
}

#[derive(Default)]
struct LockState {
    owners: HashMap<LockTag, Xid>,
    held: HashMap<Xid, Vec<LockTag>>,
    /// Row locks a transaction took in rising key order in one table once
    /// it held [`RUN_AFTER`] locks (a bulk write: COPY, an UPDATE over a
    /// scan in key order), kept as a sorted run instead of in `owners`:
    /// appending is cheap and holds a key in place; a lookup searches each
    /// run of the table (there are few: only large transactions have one).
    runs: Vec<Run>,
    /// Shared holders of each tag held shared, and the tags each
    /// transaction holds shared.
    shared: HashMap<LockTag, Vec<Xid>>,
    held_shared: HashMap<Xid, Vec<LockTag>>,
    /// waiter -> holder it waits for
    waiting: HashMap<Xid, Xid>,
    /// backend pid of each transaction that holds or waits (for DETAIL lines)
    pids: HashMap<Xid, i32>,
    sleepers: usize,
}

/// The row locks of `xid` in `table` taken in rising key order (see
/// [`LockState::runs`]).
struct Run {
    xid: Xid,
    table: Oid,
    keys: Vec<RowKey>,
}

impl LockState {
    /// The transaction holding `tag`, if any.
    fn owner(&self, tag: &LockTag) -> Option<Xid> {
        if let (false, LockTag::Row(table, key)) = (self.runs.is_empty(), tag) {
            let in_run = self
                .runs
                .iter()
                .find(|r| r.table == *table && r.keys.binary_search(key).is_ok());
            if let Some(r) = in_run {
                return Some(r.xid);
            }
        }
        self.owners.get(tag).copied()
    }

    /// Another transaction whose hold on `tag` keeps `xid` from taking it
    /// in `mode`.
    fn conflict(&self, xid: Xid, tag: &LockTag, mode: LockMode) -> Option<Xid> {
        if let Some(owner) = self.owner(tag).filter(|&o| o != xid) {
            return Some(owner);
        }
        if mode == LockMode::Exclusive && !self.shared.is_empty() {
            let holders = self.shared.get(tag)?;
            return holders.iter().copied().find(|&h| h != xid);
        }
        None
    }

    /// Records that `xid` holds `tag` shared (unless it holds it already).
    fn take_shared(&mut self, xid: Xid, tag: LockTag, pid: i32) {
        if self.owner(&tag) == Some(xid) {
            return;
        }
        let holders = self.shared.entry(tag.clone()).or_default();
        if holders.contains(&xid) {
            return;
        }
        holders.push(xid);
        self.pids.entry(xid).or_insert(pid);
        self.held_shared.entry(xid).or_default().push(tag);
    }

    /// Records that `xid` holds `tag` (free until now): in `xid`'s run of
    /// the table when the key comes after the run's last, or starts that run
    /// once `xid` holds [`RUN_AFTER`] locks; else in `owners`.
    fn take(&mut self, xid: Xid, tag: LockTag, pid: i32) {
        let held = match self.held.get_mut(&xid) {
            Some(tags) => tags,
            None => {
                self.pids.insert(xid, pid);
                self.held.entry(xid).or_default()
            }
        };
        if let LockTag::Row(table, key) = &tag {
            let run = self
                .runs
                .iter_mut()
                .find(|r| r.xid == xid && r.table == *table);
            match run {
                Some(run) if run.keys.last().is_some_and(|last| last < key) => {
                    run.keys.push(key.clone());
                    return;
                }
                None if held.len() >= RUN_AFTER => {
                    self.runs.push(Run {
                        xid,
                        table: *table,
                        keys: vec![key.clone()],
                    });
                    return;
                }
                _ => {}
            }
        }
        held.push(tag.clone());
        self.owners.insert(tag, xid);
    }

    /// Locks held, runs and shared holds included.
    fn count(&self) -> usize {
        self.owners.len()
            + self.runs.iter().map(|r| r.keys.len()).sum::<usize>()
            + self.shared.values().map(Vec::len).sum::<usize>()
    }
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

/// Locks a transaction holds in the table before its further row locks in
/// rising key order go to a run ([`LockState::runs`]).
const RUN_AFTER: usize = 1024;

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
        self.acquire_in(xid, tag, LockMode::Exclusive, opts)
    }

    /// Takes `tag` for `xid` in `mode`, waiting while another transaction
    /// holds it in a conflicting mode. Returns true if it had to wait.
    pub fn acquire_in(
        &self,
        xid: Xid,
        tag: LockTag,
        mode: LockMode,
        opts: &WaitOptions<'_>,
    ) -> PgResult<bool> {
        let mut st = self.state.lock();
        let mut waited = false;
        let mut next_check = Instant::now() + opts.deadlock_timeout;
        loop {
            match st.conflict(xid, &tag, mode) {
                None => {
                    match mode {
                        LockMode::Exclusive if st.owner(&tag) != Some(xid) => {
                            st.take(xid, tag, opts.pid)
                        }
                        LockMode::Exclusive => {}
                        LockMode::Shared => st.take_shared(xid, tag, opts.pid),
                    }
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
        self.state.lock().owner(tag) == Some(xid)
    }

    /// Releases every lock of `xid` and wakes waiters.
    pub fn release_all(&self, xid: Xid) {
        let mut st = self.state.lock();
        st.pids.remove(&xid);
        st.waiting.remove(&xid);
        if let Some(tags) = st.held_shared.remove(&xid) {
            for tag in tags {
                if let Some(holders) = st.shared.get_mut(&tag) {
                    holders.retain(|&h| h != xid);
                    if holders.is_empty() {
                        st.shared.remove(&tag);
                    }
                }
            }
            if st.sleepers > 0 {
                self.cond.notify_all();
            }
        }
        let Some(tags) = st.held.remove(&xid) else {
            return;
        };
        let mut runs = Vec::new();
        let mut i = 0;
        while i < st.runs.len() {
            if st.runs[i].xid == xid {
                runs.push(st.runs.swap_remove(i));
            } else {
                i += 1;
            }
        }
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
        drop(runs);
    }

    /// Number of locks held (tests, monitoring).
    pub fn held_count(&self) -> usize {
        self.state.lock().count()
    }

    /// Number of transactions waiting for a lock now (tests, monitoring).
    pub fn waiter_count(&self) -> usize {
        self.state.lock().waiting.len()
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
        // falling keys: no run, every lock in the table
        for i in (0..200_000u32).rev() {
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
    fn locks_taken_in_rising_key_order_go_to_a_run() {
        let tag = |i: u32| LockTag::Row(Oid(2), RowKey::new(&i.to_be_bytes()));
        let lm = Arc::new(LockManager::default());
        for i in 0..5000u32 {
            assert!(!lm.acquire(Xid(2), tag(i * 2), &opts(2)).unwrap());
        }
        {
            let st = lm.state.lock();
            assert_eq!(st.owners.len(), RUN_AFTER);
            assert_eq!(st.runs.len(), 1);
            assert_eq!(st.runs[0].keys.len(), 5000 - RUN_AFTER);
        }
        assert_eq!(lm.held_count(), 5000);
        // held already (in the run), and a key behind the run's last: the table
        assert!(!lm.acquire(Xid(2), tag(9000), &opts(2)).unwrap());
        assert!(!lm.acquire(Xid(2), tag(9001), &opts(2)).unwrap());
        assert_eq!(lm.held_count(), 5001);
        assert!(lm.holds(Xid(2), &tag(9998)));
        assert!(!lm.holds(Xid(2), &tag(9999)));
        // another transaction waits for a key of the run until the release
        let lm2 = lm.clone();
        let t = std::thread::spawn(move || lm2.acquire(Xid(3), tag(9000), &opts(3)).unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        while lm.state.lock().sleepers == 0 {
            assert!(Instant::now() < deadline, "the second locker never waited");
            std::thread::sleep(Duration::from_millis(1));
        }
        lm.release_all(Xid(2));
        assert!(t.join().unwrap(), "the second locker waited");
        assert!(lm.holds(Xid(3), &tag(9000)));
        assert!(lm.state.lock().runs.is_empty());
        assert_eq!(lm.held_count(), 1);
    }

    #[test]
    fn shared_holders_exclude_an_exclusive_one_only() {
        let key = || LockTag::KeyShare(Oid(1), RowKey::from(vec![7]));
        let lm = Arc::new(LockManager::default());
        for x in [1, 2] {
            let waited = lm.acquire_in(Xid(x), key(), LockMode::Shared, &opts(x as i32));
            assert!(!waited.unwrap(), "sharers do not wait for each other");
        }
        assert_eq!(lm.held_count(), 2);
        // the row's own lock is another tag
        assert!(!lm.acquire(Xid(3), row(7), &opts(3)).unwrap());
        let lm2 = lm.clone();
        let t = std::thread::spawn(move || {
            lm2.acquire_in(Xid(3), key(), LockMode::Exclusive, &opts(3))
                .unwrap()
        });
        lm.release_all(Xid(1));
        let deadline = Instant::now() + Duration::from_secs(10);
        while lm.state.lock().sleepers == 0 {
            assert!(
                Instant::now() < deadline,
                "the exclusive locker never waited"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        lm.release_all(Xid(2));
        assert!(t.join().unwrap(), "the exclusive locker waited for both");
        assert!(lm.holds(Xid(3), &key()));
        // and a new sharer waits for it
        let lm2 = lm.clone();
        let t = std::thread::spawn(move || {
            lm2.acquire_in(Xid(4), key(), LockMode::Shared, &opts(4))
                .unwrap()
        });
        while lm.state.lock().sleepers == 0 {
            assert!(Instant::now() < deadline, "the sharer never waited");
            std::thread::sleep(Duration::from_millis(1));
        }
        lm.release_all(Xid(3));
        assert!(t.join().unwrap());
        lm.release_all(Xid(4));
        assert_eq!(lm.held_count(), 0);
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
