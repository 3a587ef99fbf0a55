//! What the demo shows while it runs: a thread that polls the nodes every
//! 200 ms over connections of its own (the failover slot's
//! `pg_replication_slots` row on the primary and on the standby, WAL
//! positions, the standby's `pg_stat_replication` row, the rows at the
//! subscriber) into a [`Snapshot`], and hands it to the view.
//!
//! A node that does not answer (the killed primary) keeps its last slot row,
//! marked gone; the monitor never holds the demo up.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_types::ids::Lsn;

use super::load::Progress;
use super::sql::Sql;
use super::view::View;
use super::{SLOT, STANDBY_NAME};

/// One `pg_replication_slots` row of the failover slot.
#[derive(Clone, Debug, Default)]
pub struct SlotRow {
    pub confirmed_flush_lsn: String,
    pub restart_lsn: String,
    pub synced: String,
    pub temporary: String,
}

/// The demo's state as last seen.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub started: Instant,
    pub phase: String,
    /// Transactions acknowledged, and the recent rate.
    pub acked: u32,
    pub tps: f64,
    /// `log` rows at the subscriber.
    pub sub_rows: Option<u64>,
    /// Standby: bytes it has not replayed, and `replay_lag`.
    pub standby_lag_bytes: Option<u64>,
    pub standby_lag_ms: Option<f64>,
    /// Subscriber: bytes past the slot's `confirmed_flush_lsn`, and how long
    /// the oldest acknowledged transaction it has not applied has waited.
    pub sub_lag_bytes: Option<u64>,
    pub sub_lag_ms: Option<f64>,
    pub slot_primary: Option<SlotRow>,
    pub primary_up: bool,
    pub slot_standby: Option<SlotRow>,
    pub standby_promoted: bool,
}

impl Snapshot {
    pub fn new(started: Instant) -> Snapshot {
        Snapshot {
            started,
            phase: "setup".into(),
            acked: 0,
            tps: 0.0,
            sub_rows: None,
            standby_lag_bytes: None,
            standby_lag_ms: None,
            sub_lag_bytes: None,
            sub_lag_ms: None,
            slot_primary: None,
            primary_up: true,
            slot_standby: None,
            standby_promoted: false,
        }
    }
}

/// Ports of the nodes the monitor polls.
pub struct Ports {
    pub primary: u16,
    pub standby: u16,
    pub subscriber: u16,
}

/// A connection opened on demand and dropped when it fails; after a failure
/// it is not tried again for a second.
struct Lazy {
    port: u16,
    conn: Option<Sql>,
    next_try: Instant,
}

impl Lazy {
    fn new(port: u16) -> Lazy {
        Lazy {
            port,
            conn: None,
            next_try: Instant::now(),
        }
    }

    fn run<T>(&mut self, f: impl FnOnce(&mut Sql) -> anyhow::Result<T>) -> Option<T> {
        if self.conn.is_none() {
            if Instant::now() < self.next_try {
                return None;
            }
            match Sql::connect(self.port, Duration::from_secs(2)) {
                Ok(c) => self.conn = Some(c),
                Err(_) => {
                    self.next_try = Instant::now() + Duration::from_secs(1);
                    return None;
                }
            }
        }
        let conn = self.conn.as_mut()?;
        match f(conn) {
            Ok(v) => Some(v),
            Err(_) => {
                self.conn = None;
                self.next_try = Instant::now() + Duration::from_secs(1);
                None
            }
        }
    }
}

fn lsn(s: &str) -> Option<Lsn> {
    Lsn::from_str(s).ok()
}

/// Bytes from `from` up to `to` (0 if `from` is ahead).
fn bytes_between(from: &str, to: &str) -> Option<u64> {
    let d = lsn(to)?.diff(lsn(from)?);
    Some(u64::try_from(d.max(0)).unwrap_or(u64::MAX))
}

/// An interval as `pg_stat_replication` prints a short one
/// (`00:00:00.001234`), in milliseconds.
fn interval_ms(s: &str) -> Option<f64> {
    let mut parts = s.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(((h * 60.0 + m) * 60.0 + sec) * 1000.0)
}

fn slot_row(c: &mut Sql) -> anyhow::Result<Option<SlotRow>> {
    let rows = c.exec(&format!(
        "SELECT confirmed_flush_lsn, restart_lsn, synced, temporary \
         FROM pg_replication_slots WHERE slot_name = '{SLOT}'"
    ))?;
    Ok(rows.into_iter().next().map(|r| {
        let col = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        SlotRow {
            confirmed_flush_lsn: col(0),
            restart_lsn: col(1),
            synced: col(2),
            temporary: col(3),
        }
    }))
}

/// The polling thread; stops when `stop` is set.
pub fn spawn(
    ports: Ports,
    snap: Arc<Mutex<Snapshot>>,
    progress: Arc<Progress>,
    view: Arc<View>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut primary = Lazy::new(ports.primary);
        let mut standby = Lazy::new(ports.standby);
        let mut subscriber = Lazy::new(ports.subscriber);
        let mut last_rate = (Instant::now(), progress.acked.load(Ordering::Acquire));
        while !stop.load(Ordering::Acquire) {
            let (primary_up, promoted) = match snap.lock() {
                Ok(s) => (s.primary_up, s.standby_promoted),
                Err(_) => return,
            };
            // the old primary, while it lives
            let p = if primary_up {
                primary.run(|c| {
                    let current = c.value("SELECT pg_current_wal_lsn()")?;
                    let slot = slot_row(c)?;
                    let rep = c.exec(&format!(
                        "SELECT replay_lsn, replay_lag FROM pg_stat_replication \
                         WHERE application_name = '{STANDBY_NAME}'"
                    ))?;
                    Ok((current, slot, rep.into_iter().next()))
                })
            } else {
                None
            };
            // the standby: its replay position until promoted, then its own WAL end
            let st = standby.run(|c| {
                let pos = if promoted {
                    c.value("SELECT pg_current_wal_lsn()")?
                } else {
                    c.value("SELECT pg_last_wal_replay_lsn()")?
                };
                Ok((pos, slot_row(c)?))
            });
            let sub = subscriber.run(|c| {
                let rows = c.exec("SELECT max(seq), count(*) FROM log")?;
                let row = rows.into_iter().next().unwrap_or_default();
                let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                Ok(col(0).parse::<u32>().ok().zip(col(1).parse::<u64>().ok()))
            });

            let acked = progress.acked.load(Ordering::Acquire);
            let now = Instant::now();
            let mut s = match snap.lock() {
                Ok(s) => s,
                Err(_) => return,
            };
            // transactions per second over the last second or so
            let dt = now.duration_since(last_rate.0).as_secs_f64();
            if dt >= 0.2 {
                s.tps = f64::from(acked.saturating_sub(last_rate.1)) / dt;
            }
            if dt >= 1.0 {
                last_rate = (now, acked);
            }
            s.acked = acked;
            if let Some((current, slot, rep)) = p {
                if let Some(slot) = &slot {
                    s.sub_lag_bytes = bytes_between(&slot.confirmed_flush_lsn, &current);
                }
                s.slot_primary = slot;
                if let Some(r) = rep {
                    let col = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                    s.standby_lag_bytes = bytes_between(&col(0), &current);
                    s.standby_lag_ms = interval_ms(&col(1));
                }
            }
            if let Some((pos, slot)) = st {
                if promoted {
                    if let Some(slot) = &slot {
                        s.sub_lag_bytes = bytes_between(&slot.confirmed_flush_lsn, &pos);
                    }
                    s.standby_lag_bytes = None;
                    s.standby_lag_ms = None;
                }
                s.slot_standby = slot;
            }
            if let Some(applied) = sub {
                let (max, rows) = applied.unwrap_or((0, 0));
                s.sub_rows = Some(rows);
                // the oldest acknowledged transaction not applied yet
                s.sub_lag_ms = Some(
                    (max + 1..=acked.min(max + 2))
                        .find_map(|i| progress.acked_for(i))
                        .map_or(0.0, |d| d.as_secs_f64() * 1000.0),
                );
            }
            let shown = s.clone();
            drop(s);
            view.status(&shown);
            std::thread::sleep(Duration::from_millis(200));
        }
    })
}
