//! The workload: clients, each on its own thread and connection, running
//! numbered transactions until told to stop, and recording what they were
//! told about each (`check::Txn`).
//!
//! Transaction `s` of client `c` on key `k` (keys drawn from the run's
//! seed):
//!
//! ```sql
//! BEGIN; UPDATE kv SET v = v + 1 WHERE k = $k RETURNING v;
//! INSERT INTO log VALUES ($c, $s, $k, $v);
//! DELETE FROM items WHERE client = $c AND seq = $s - 2;
//! INSERT INTO items VALUES ($c, $s);
//! COMMIT;
//! ```
//!
//! The row lock on `kv(k)` makes the counter values the commit order per
//! key. An error or a timeout before COMMIT is sent makes the transaction
//! failed (the connection is dropped, so the server rolls it back); once
//! COMMIT is sent, only its success makes it acknowledged, anything else
//! (error, broken connection, no answer within the timeout) makes its outcome
//! unknown. After an error the client reconnects through a multi-host
//! connection string with `target_session_attrs=read-write`, so it finds
//! the primary after a failover.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::check::{Outcome, Txn};

/// The publisher's tables.
pub const PUBLISHER_DDL: &str = "CREATE TABLE log (client int, seq int, k int, v bigint);
ALTER TABLE log REPLICA IDENTITY FULL;
CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE items (client int, seq int, PRIMARY KEY (client, seq));
CREATE PUBLICATION pub FOR TABLE log, kv, items;";

/// A subscriber's tables: `log` has the apply order.
pub const SUBSCRIBER_DDL: &str =
    "CREATE TABLE log (client int, seq int, k int, v bigint, applied bigserial);
CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE items (client int, seq int, PRIMARY KEY (client, seq));";

/// How long one statement may take before the client gives up on it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(4);

/// The running clients of one run.
pub struct Workload {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<Vec<Txn>>>,
    /// Acknowledged transactions so far, all clients.
    pub acked: Arc<AtomicU64>,
}

impl Workload {
    /// Starts `clients` clients on `conninfo`; times are measured from
    /// `epoch`; keys are `0..keys`, drawn from `seed`.
    pub fn start(clients: u32, keys: u32, seed: u64, conninfo: String, epoch: Instant) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let handles = (1..=clients)
            .map(|c| {
                let (stop, acked, conninfo) = (stop.clone(), acked.clone(), conninfo.clone());
                let rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(c) << 32));
                std::thread::spawn(move || client(c, keys, rng, conninfo, epoch, stop, acked))
            })
            .collect();
        Workload {
            stop,
            handles,
            acked,
        }
    }

    /// Stops the clients and returns every transaction they ran.
    pub fn finish(mut self) -> Vec<Txn> {
        self.stop.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        for h in self.handles.drain(..) {
            if let Ok(txns) = h.join() {
                out.extend(txns);
            }
        }
        out
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn ms(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

async fn connect(conninfo: &str) -> Option<Client> {
    let (client, conn) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(conninfo, NoTls),
    )
    .await
    .ok()?
    .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(client)
}

/// Runs `sql` (simple protocol) with the timeout; the first value of the
/// first row, if any.
async fn run(c: &Client, sql: &str) -> Result<Option<String>, ()> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, c.simple_query(sql)).await {
        Ok(Ok(msgs)) => Ok(msgs.into_iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })),
        _ => Err(()),
    }
}

fn client(
    c: u32,
    keys: u32,
    mut rng: ChaCha8Rng,
    conninfo: String,
    epoch: Instant,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> Vec<Txn> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    rt.block_on(async move {
        let mut txns = Vec::new();
        let mut conn: Option<Client> = None;
        let mut seq = 0u32;
        while !stop.load(Ordering::SeqCst) {
            let Some(cl) = conn.as_ref() else {
                conn = connect(&conninfo).await;
                if conn.is_none() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            };
            seq += 1;
            let key = rng.gen_range(0..keys);
            let mut t = Txn {
                client: c,
                seq,
                key,
                v: None,
                outcome: Outcome::Failed,
                start_ms: ms(epoch),
                end_ms: 0,
            };
            let body = async {
                let v = run(
                    cl,
                    &format!("BEGIN; UPDATE kv SET v = v + 1 WHERE k = {key} RETURNING v"),
                )
                .await?
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or(())?;
                t.v = Some(v);
                run(
                    cl,
                    &format!(
                        "INSERT INTO log VALUES ({c}, {seq}, {key}, {v}); \
                         DELETE FROM items WHERE client = {c} AND seq = {}; \
                         INSERT INTO items VALUES ({c}, {seq})",
                        i64::from(seq) - 2
                    ),
                )
                .await?;
                Ok::<(), ()>(())
            };
            if body.await.is_err() {
                t.end_ms = ms(epoch);
                txns.push(t);
                conn = None;
                continue;
            }
            t.outcome = match run(cl, "COMMIT").await {
                Ok(_) => Outcome::Acked,
                Err(()) => Outcome::Unknown,
            };
            t.end_ms = ms(epoch);
            if t.outcome == Outcome::Acked {
                acked.fetch_add(1, Ordering::Relaxed);
            } else {
                conn = None;
            }
            txns.push(t);
        }
        txns
    })
}
