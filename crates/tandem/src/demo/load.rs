//! The demo's write load: numbered transactions on one connection, and the
//! model of what the tables hold after transactions 1..=n.
//!
//! Transaction `i` inserts one row `(i, src)` into `log` (no key, so a
//! transaction applied twice shows as a second row), inserts `kv` row `i`,
//! updates row `i - 1`, deletes row `i - 4` every other time, and steps
//! `acc` by a function that does not commute, so a transaction applied
//! twice or out of order leaves a different value.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::sql::Sql;

/// The tables, created on the primary; the subscriber's `log` also numbers
/// rows in the order it applies them.
pub const PRIMARY_DDL: &str = "CREATE TABLE log (seq int, src text); \
     CREATE TABLE kv (k int PRIMARY KEY, v bigint); \
     CREATE TABLE acc (id int PRIMARY KEY, v bigint); \
     INSERT INTO acc VALUES (1, 1)";
pub const SUBSCRIBER_DDL: &str = "CREATE TABLE log (seq int, src text, applied bigserial); \
     CREATE TABLE kv (k int PRIMARY KEY, v bigint); \
     CREATE TABLE acc (id int PRIMARY KEY, v bigint)";

/// The SQL of transaction `i`; `src` tags the node it was written on.
pub fn transaction_sql(i: u32, src: &str) -> String {
    let mut sql = format!(
        "BEGIN; INSERT INTO log VALUES ({i}, '{src}'); INSERT INTO kv VALUES ({i}, {i} * 7); \
         UPDATE kv SET v = v * 3 + {i} WHERE k = {i} - 1; "
    );
    if i.is_multiple_of(2) {
        sql.push_str(&format!("DELETE FROM kv WHERE k = {i} - 4; "));
    }
    sql.push_str(&format!(
        "UPDATE acc SET v = (v * 31 + {i}) % 1000003; COMMIT"
    ));
    sql
}

/// `kv` (ordered by key) and `acc` after transactions 1..=n.
pub fn model(n: u32) -> (Vec<(i64, i64)>, i64) {
    let mut kv: BTreeMap<i64, i64> = BTreeMap::new();
    let mut acc: i64 = 1;
    for i in 1..=i64::from(n) {
        kv.insert(i, i * 7);
        if let Some(v) = kv.get_mut(&(i - 1)) {
            *v = *v * 3 + i;
        }
        if i % 2 == 0 {
            kv.remove(&(i - 4));
        }
        acc = (acc * 31 + i) % 1_000_003;
    }
    (kv.into_iter().collect(), acc)
}

/// What the writer and the rest of the demo share.
#[derive(Default)]
pub struct Progress {
    /// Transactions 1..=acked were acknowledged.
    pub acked: AtomicU32,
    /// When each was acknowledged (index `i - 1`; `None` for one whose
    /// outcome the writer never learned).
    pub ack_times: Mutex<Vec<Option<Instant>>>,
    /// Asks the writer to stop after the transaction in flight.
    pub stop: AtomicBool,
}

impl Progress {
    pub fn record_ack(&self, i: u32, at: Instant) {
        let Ok(idx) = usize::try_from(i) else {
            return;
        };
        if idx == 0 {
            return;
        }
        if let Ok(mut t) = self.ack_times.lock() {
            if t.len() < idx {
                t.resize(idx, None);
            }
            t[idx - 1] = Some(at);
        }
        self.acked.fetch_max(i, Ordering::AcqRel);
    }

    /// How long transaction `i` has been acknowledged (`None` if it is not).
    pub fn acked_for(&self, i: u32) -> Option<Duration> {
        let t = self.ack_times.lock().ok()?;
        let at = (*t.get(usize::try_from(i).ok()?.checked_sub(1)?)?)?;
        Some(at.elapsed())
    }
}

/// How the writer ended.
pub struct WriterEnd {
    /// Transactions 1..=acked were acknowledged.
    pub acked: u32,
    /// The transaction whose outcome the writer never learned (its
    /// connection broke while waiting for the commit), if any.
    pub in_flight: Option<u32>,
    /// Why it ended, if not asked to.
    pub error: Option<String>,
}

/// Runs transactions 1, 2, ... on `conn` until asked to stop or the
/// connection fails.
pub fn spawn_writer(mut conn: Sql, progress: Arc<Progress>) -> std::thread::JoinHandle<WriterEnd> {
    std::thread::spawn(move || {
        let mut i = 1;
        loop {
            if progress.stop.load(Ordering::Acquire) {
                return WriterEnd {
                    acked: i - 1,
                    in_flight: None,
                    error: None,
                };
            }
            if let Err(e) = conn.exec(&transaction_sql(i, "primary")) {
                return WriterEnd {
                    acked: i - 1,
                    in_flight: Some(i),
                    error: Some(format!("{e:#}")),
                };
            }
            progress.record_ack(i, Instant::now());
            i += 1;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_follows_the_transactions() {
        assert_eq!(model(0), (vec![], 1));
        // 1: kv {1: 7}; 2: {1: 7*3+2, 2: 14}; acc (1*31+1)=32, 32*31+2=994
        assert_eq!(model(2), (vec![(1, 23), (2, 14)], 994));
        // every other transaction deletes k = i - 4
        let (kv, _) = model(8);
        assert!(!kv.iter().any(|(k, _)| *k == 4 || *k == 2));
    }

    #[test]
    fn transaction_sql_is_one_block() {
        let s = transaction_sql(4, "primary");
        assert!(s.starts_with("BEGIN;") && s.ends_with("COMMIT"));
        assert!(s.contains("DELETE FROM kv WHERE k = 4 - 4"));
        assert!(!transaction_sql(3, "p").contains("DELETE"));
    }
}
