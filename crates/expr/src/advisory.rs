//! Advisory locks (`pg_advisory_lock` and its family): locks on numbers
//! that applications take for their own purposes, held by a session until
//! it releases them (or ends), or by a transaction until it ends.
//!
//! [`AdvisoryLocks`] is the node-wide table (one per server, in the
//! engine), [`AdvisoryState`] a session's view of what it holds. A key is
//! one `bigint` or a pair of `int`s (PostgreSQL keeps the two kinds apart).
//! Shared locks conflict only with other sessions' exclusive ones; a
//! session's own locks never conflict with each other. A waiter sleeps on a
//! condition variable woken by every release, and looks at its cancel flag
//! at least every 100 ms. Corresponds to PostgreSQL's `utils/adt/lockfuncs.c`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tandem_types::{PgError, PgResult, SqlState};

/// What an advisory lock is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdvisoryKey {
    Big(i64),
    Pair(i32, i32),
}

/// One holder of a lock: its session, mode and level, and how many times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Hold {
    pid: i32,
    shared: bool,
    /// Held to the end of the transaction (else to the end of the session
    /// or an unlock).
    xact: bool,
}

/// The node's advisory locks.
#[derive(Default)]
pub struct AdvisoryLocks {
    held: Mutex<HashMap<AdvisoryKey, HashMap<Hold, u32>>>,
    released: Condvar,
}

impl AdvisoryLocks {
    pub fn new() -> AdvisoryLocks {
        AdvisoryLocks::default()
    }

    /// Takes the lock if no other session holds it in a conflicting mode.
    fn try_take(&self, key: AdvisoryKey, hold: Hold) -> bool {
        take(&mut self.held.lock(), key, hold)
    }

    /// Releases one count of `hold` on `key`; false when it is not held.
    fn release(&self, key: AdvisoryKey, hold: Hold) -> bool {
        let mut held = self.held.lock();
        let Some(holders) = held.get_mut(&key) else {
            return false;
        };
        let Some(n) = holders.get_mut(&hold) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            holders.remove(&hold);
            if holders.is_empty() {
                held.remove(&key);
            }
        }
        drop(held);
        self.released.notify_all();
        true
    }

    /// Releases every lock of session `pid` at level `xact` (`None`: both).
    fn release_all(&self, pid: i32, xact: Option<bool>) {
        let mut held = self.held.lock();
        let mut any = false;
        held.retain(|_, holders| {
            holders.retain(|h, _| {
                let mine = h.pid == pid && xact.is_none_or(|x| x == h.xact);
                any |= mine;
                !mine
            });
            !holders.is_empty()
        });
        drop(held);
        if any {
            self.released.notify_all();
        }
    }
}

/// [`AdvisoryLocks::try_take`] with the table's mutex held.
fn take(held: &mut HashMap<AdvisoryKey, HashMap<Hold, u32>>, key: AdvisoryKey, hold: Hold) -> bool {
    let holders = held.entry(key).or_default();
    let conflict = holders
        .keys()
        .any(|h| h.pid != hold.pid && (!hold.shared || !h.shared));
    if conflict {
        return false;
    }
    *holders.entry(hold).or_insert(0) += 1;
    true
}

/// A session's advisory locks: the node's table and its own process id.
/// Dropping it (the session ends) releases everything it holds.
pub struct AdvisoryState {
    locks: Arc<AdvisoryLocks>,
    pid: i32,
}

impl AdvisoryState {
    pub fn new(locks: Arc<AdvisoryLocks>, pid: i32) -> AdvisoryState {
        AdvisoryState { locks, pid }
    }

    /// A state of its own (a context outside any client session).
    pub fn detached(pid: i32) -> AdvisoryState {
        AdvisoryState::new(Arc::new(AdvisoryLocks::new()), pid)
    }

    fn hold(&self, shared: bool, xact: bool) -> Hold {
        Hold {
            pid: self.pid,
            shared,
            xact,
        }
    }

    /// `pg_try_advisory_[xact_]lock[_shared]`.
    pub fn try_lock(&self, key: AdvisoryKey, shared: bool, xact: bool) -> bool {
        self.locks.try_take(key, self.hold(shared, xact))
    }

    /// `pg_advisory_[xact_]lock[_shared]`: waits for the lock; `57014`
    /// when the statement is canceled meanwhile.
    pub fn lock(
        &self,
        key: AdvisoryKey,
        shared: bool,
        xact: bool,
        cancel: &AtomicBool,
    ) -> PgResult<()> {
        let hold = self.hold(shared, xact);
        // the check and the wait under one mutex: no release is missed
        let mut held = self.locks.held.lock();
        loop {
            if take(&mut held, key, hold) {
                return Ok(());
            }
            if cancel.load(Ordering::Acquire) {
                return Err(PgError::new(
                    SqlState::QUERY_CANCELED,
                    "canceling statement due to user request",
                ));
            }
            self.locks
                .released
                .wait_for(&mut held, Duration::from_millis(100));
        }
    }

    /// `pg_advisory_unlock[_shared]`: releases one session-level hold;
    /// false (and PostgreSQL's WARNING for the caller to raise) when the
    /// session holds none.
    pub fn unlock(&self, key: AdvisoryKey, shared: bool) -> bool {
        self.locks.release(key, self.hold(shared, false))
    }

    /// `pg_advisory_unlock_all()`: every session-level lock.
    pub fn unlock_all(&self) {
        self.locks.release_all(self.pid, Some(false));
    }

    /// At the end of a transaction: its transaction-level locks go.
    pub fn end_xact(&self) {
        self.locks.release_all(self.pid, Some(true));
    }
}

impl Drop for AdvisoryState {
    fn drop(&mut self) {
        self.locks.release_all(self.pid, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_levels_and_release() {
        let hub = Arc::new(AdvisoryLocks::new());
        let a = AdvisoryState::new(hub.clone(), 1);
        let b = AdvisoryState::new(hub.clone(), 2);
        let k = AdvisoryKey::Big(7);
        assert!(a.try_lock(k, false, false));
        // reentrant for its holder, refused to others in any mode
        assert!(a.try_lock(k, true, false));
        assert!(!b.try_lock(k, true, false));
        assert!(a.unlock(k, false));
        assert!(a.unlock(k, true));
        assert!(!a.unlock(k, false));
        // shared with shared
        assert!(a.try_lock(k, true, false) && b.try_lock(k, true, false));
        assert!(!b.try_lock(k, false, true));
        // the two key kinds are apart
        assert!(b.try_lock(AdvisoryKey::Pair(0, 7), false, true));
        a.unlock_all();
        assert!(b.try_lock(k, false, true));
        b.end_xact();
        assert!(b.unlock(k, true));
        assert!(a.try_lock(k, false, false));
        drop(a);
        assert!(b.try_lock(k, false, false));
        let cancel = AtomicBool::new(true);
        let c = AdvisoryState::new(hub, 3);
        assert_eq!(
            c.lock(k, false, false, &cancel).unwrap_err().code,
            SqlState::QUERY_CANCELED
        );
    }
}
