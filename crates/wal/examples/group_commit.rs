//! Group-commit benchmark: N threads each append a ~100-byte record and flush it,
//! in a loop, for a few seconds; prints commits/s and fsyncs/s.
//!
//! `cargo run -p tandem-wal --example group_commit -- [threads] [seconds] [dir] [fsync]`
//! (defaults: 8 threads, 5 s, a temp dir under the current directory, fsync on).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tandem_types::{Lsn, TimeLineId, Xid};
use tandem_wal::{Record, Wal, WalOptions, DEFAULT_SEGMENT_SIZE};

fn main() -> anyhow_free::Result {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let base = args.get(3).cloned().unwrap_or_else(|| ".".to_string());
    let fsync = args.get(4).map(|s| s != "off").unwrap_or(true);
    let dir = tempfile::Builder::new()
        .prefix("wal-bench")
        .tempdir_in(base)?;
    let opts = WalOptions {
        dir: dir.path().join("pg_wal"),
        timeline: TimeLineId(1),
        segment_size: DEFAULT_SEGMENT_SIZE,
        fsync,
    };
    let wal = Wal::create(opts, Lsn(DEFAULT_SEGMENT_SIZE))?;
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let latency_us = Arc::new(AtomicU64::new(0));
    let max_latency_us = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (wal, stop, commits, latency_us) = (
                wal.clone(),
                stop.clone(),
                commits.clone(),
                latency_us.clone(),
            );
            let max_latency_us = max_latency_us.clone();
            thread::spawn(move || -> Result<(), tandem_types::PgError> {
                let payload = vec![t as u8; 100];
                while !stop.load(Ordering::Relaxed) {
                    let begin = Instant::now();
                    let rec = Record {
                        kind: 16,
                        xid: Xid(t as u32 + 3),
                        payload: payload.clone(),
                    };
                    let (_, end) = wal.append(&[rec])?;
                    wal.flush(end)?;
                    let us = begin.elapsed().as_micros() as u64;
                    latency_us.fetch_add(us, Ordering::Relaxed);
                    max_latency_us.fetch_max(us, Ordering::Relaxed);
                    commits.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| "benchmark thread panicked")??;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = commits.load(Ordering::Relaxed);
    let stats = wal.stats();
    println!(
        "threads={threads} fsync={fsync} seconds={secs:.1} commits={n} commits/s={:.0} \
         fsyncs={} fsyncs/s={:.0} commits/fsync={:.2} avg_latency_us={:.0} max_latency_us={} avg_fsync_us={:.0} wal_mb={:.1}",
        n as f64 / secs,
        stats.wal_sync,
        stats.wal_sync as f64 / secs,
        n as f64 / stats.wal_sync.max(1) as f64,
        latency_us.load(Ordering::Relaxed) as f64 / n.max(1) as f64,
        max_latency_us.load(Ordering::Relaxed),
        stats.wal_sync_time.as_micros() as f64 / stats.wal_sync.max(1) as f64,
        stats.wal_bytes as f64 / 1e6,
    );
    Ok(())
}

/// Boxed errors for a binary without anyhow.
mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
