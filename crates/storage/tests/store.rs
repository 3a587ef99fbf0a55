//! The on-disk table store at size and across a crash: a store many times its
//! cache written, read, updated, persisted, reopened; and a writer SIGKILLed
//! without persisting, whose reopened store must be exactly the batches up to its
//! `applied_lsn`.
//!
//! The crash test re-runs this test binary as the writer (`crash_writer`, a no-op
//! unless `TANDEM_STORE_CRASH_DIR` is set) and kills it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tandem_storage::heap::Row;
use tandem_storage::keycode::encode_key;
use tandem_storage::store::{StoreBatch, StoreOptions, TableStore, WriteKind};
use tandem_storage::RowKey;
use tandem_types::{Lsn, Oid, Value};

const T: Oid = Oid(16384);

/// `VmRSS` and `VmHWM` of this process, in MB.
fn rss_mb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn key(id: i64) -> RowKey {
    encode_key(&[Value::Int8(id)])
}

/// A row of about 200 encoded bytes.
fn wide_row(id: i64, version: i32) -> Row {
    vec![
        Value::Int8(id),
        Value::Int4(version),
        Value::Text(format!("{id:0>180}")),
    ]
    .into()
}

/// Visits every row of `T` visible at `snapshot` in key order, reading batches of
/// 1 000 as a scan does (so the test itself holds no more than one batch).
fn scan_each(store: &TableStore, snapshot: Lsn, mut f: impl FnMut(usize, &RowKey, &Row)) {
    let mut batch: Vec<(RowKey, Row)> = Vec::new();
    let mut from: Option<RowKey> = None;
    let mut n = 0;
    loop {
        batch.clear();
        let more = store
            .visible_batch(
                T,
                from.as_ref().map_or(Bound::Unbounded, Bound::Excluded),
                snapshot,
                1000,
                &mut batch,
            )
            .unwrap();
        for (k, r) in &batch {
            f(n, k, r);
            n += 1;
        }
        from = batch.last().map(|(k, _)| k.clone());
        if !more {
            return;
        }
    }
}

/// Every row of `T` visible at `snapshot`.
fn scan(store: &TableStore, snapshot: Lsn) -> Vec<(RowKey, Row)> {
    let mut out = Vec::new();
    scan_each(store, snapshot, |_, k, r| out.push((k.clone(), r.clone())));
    out
}

#[test]
fn a_store_larger_than_its_cache_reads_back_after_reopen() {
    const ROWS: i64 = 200_000;
    const PER_BATCH: i64 = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        cache_bytes: 8 << 20,
        memtable_bytes: 4 << 20,
    };
    let t = Instant::now();
    let store = TableStore::open(dir.path(), opts).unwrap();
    // Load: one commit per batch of rows.
    for b in 0..ROWS / PER_BATCH {
        let lsn = Lsn(1000 + b as u64);
        let mut batch = StoreBatch::new(lsn, lsn);
        for id in b * PER_BATCH..(b + 1) * PER_BATCH {
            batch.put(T, key(id), wide_row(id, 0), lsn);
        }
        store.apply(&batch).unwrap();
    }
    let loaded = Lsn(1000 + (ROWS / PER_BATCH) as u64 - 1);
    let load_s = t.elapsed().as_secs_f64();
    let rss_load = rss_mb();

    let mut n = 0;
    scan_each(&store, loaded, |i, k, r| {
        assert_eq!(k, &key(i as i64));
        assert_eq!(r, &wide_row(i as i64, 0));
        n += 1;
    });
    assert_eq!(n, ROWS as usize);

    // Update every other row, in commits of 1 000 rows, the horizon at the
    // load: the load's versions stay visible to a snapshot taken before.
    let mut lsn = loaded.0;
    for chunk in (0..ROWS).step_by(2).collect::<Vec<_>>().chunks(1000) {
        lsn += 1;
        let mut batch = StoreBatch::new(Lsn(lsn), loaded);
        for &id in chunk {
            batch.put(T, key(id), wide_row(id, 1), Lsn(lsn));
        }
        store.apply(&batch).unwrap();
    }
    let updated = Lsn(lsn);
    let rss_update = rss_mb();
    let check = |store: &TableStore| {
        let mut n = 0;
        scan_each(store, updated, |i, k, r| {
            assert_eq!(k, &key(i as i64));
            assert_eq!(r, &wide_row(i as i64, (i % 2 == 0) as i32), "row {i}");
            n += 1;
        });
        assert_eq!(n, ROWS as usize);
        // The snapshot before the updates still reads every loaded version.
        let mut n = 0;
        scan_each(store, loaded, |i, _, r| {
            assert_eq!(r, &wide_row(i as i64, 0), "row {i}");
            n += 1;
        });
        assert_eq!(n, ROWS as usize);
        for id in [0, 1, 99_998, 99_999, ROWS - 1] {
            let want = wide_row(id, (id % 2 == 0) as i32);
            assert_eq!(store.get(T, &key(id), updated).unwrap(), Some(want));
        }
        assert_eq!(store.get(T, &key(ROWS), updated).unwrap(), None);
    };
    check(&store);
    store.persist().unwrap();
    let disk_mb = store.disk_space().unwrap() / (1 << 20);
    drop(store);

    let t2 = Instant::now();
    let store = TableStore::open(dir.path(), opts).unwrap();
    let reopen_s = t2.elapsed().as_secs_f64();
    assert_eq!(store.applied_lsn(), updated);
    check(&store);
    let rss_end = rss_mb();
    println!(
        "store: {ROWS} rows of ~200 B, 8 MB cache, 4 MB memtable: load {load_s:.1} s, \
         {disk_mb} MB on disk, reopen {reopen_s:.2} s; RSS/peak MB after load {rss_load:?}, \
         after updates {rss_update:?}, after reopen and reads {rss_end:?}"
    );
}

// ------------------------------------------------------------------ crash

const CRASH_ENV: &str = "TANDEM_STORE_CRASH_DIR";
const KEYS: u64 = 5_000;
const PERSIST_AT: u64 = 40;

/// Batch `n` (from 1) of the crash workload, a pure function of `n`: two
/// commits of puts and deletes over `KEYS` keys, `applied_lsn` = 100 n; every
/// 25th batch truncates the table first (a new range, the old one retired).
fn crash_batch(n: u64) -> StoreBatch {
    let mut rng = StdRng::seed_from_u64(n);
    let mut next = || rng.next_u64();
    let mut batch = StoreBatch::new(Lsn(n * 100), Lsn((n * 100).saturating_sub(300)));
    if n.is_multiple_of(25) {
        batch.new_storage(T, Lsn(n * 100 - 50));
    }
    for commit in [n * 100 - 50, n * 100] {
        for _ in 0..40 {
            let id = (next() % KEYS) as i64;
            if next() % 5 == 0 {
                batch.delete(T, key(id), Lsn(commit));
            } else {
                batch.put(T, key(id), wide_row(id, commit as i32), Lsn(commit));
            }
        }
    }
    batch
}

/// The rows of `T` after batches 1..=n: the model the store must match.
fn crash_model(n: u64) -> BTreeMap<RowKey, Row> {
    let mut m = BTreeMap::new();
    for b in 1..=n {
        for w in crash_batch(b).writes {
            match w.kind {
                WriteKind::Row(key, tandem_storage::heap::ChainWrite::Put(r)) => {
                    m.insert(key, r);
                }
                WriteKind::Row(key, tandem_storage::heap::ChainWrite::Delete) => {
                    m.remove(&key);
                }
                WriteKind::NewStorage | WriteKind::DropStorage => m.clear(),
                WriteKind::Rekey(_) | WriteKind::Adopt(_) => {
                    unreachable!("crash batches do not re-key or adopt")
                }
            }
        }
    }
    m
}

/// The writer the crash test kills: applies batches forever, persists once
/// after `PERSIST_AT`, reports progress on stdout.
#[test]
fn crash_writer() {
    let Ok(dir) = std::env::var(CRASH_ENV) else {
        return;
    };
    let opts = StoreOptions {
        cache_bytes: 8 << 20,
        memtable_bytes: 1 << 20,
    };
    let store = TableStore::open(Path::new(&dir), opts).unwrap();
    let mut out = std::io::stdout();
    for n in 1.. {
        store.apply(&crash_batch(n)).unwrap();
        if n == PERSIST_AT {
            store.persist().unwrap();
            writeln!(out, "persisted {}", n * 100).unwrap();
        }
        if n % 10 == 0 {
            writeln!(out, "applied {} rss {}", n * 100, rss_mb().0).unwrap();
            out.flush().unwrap();
        }
    }
}

/// Runs the writer until it reports batch `kill_at`, SIGKILLs it, reopens its
/// store and checks it is exactly the model at its `applied_lsn`.
fn crash_once(kill_at: u64) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
        .env(CRASH_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (mut persisted, mut seen, mut child_rss) = (0u64, 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("persisted ") {
            persisted = v.parse().unwrap();
        }
        if let Some(v) = line.strip_prefix("applied ") {
            let mut f = v.split(" rss ");
            seen = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            child_rss = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if seen >= kill_at * 100 || Instant::now() > deadline {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(persisted, PERSIST_AT * 100, "the writer never persisted");
    assert!(seen >= kill_at * 100, "the writer stopped at {seen}");

    let store = TableStore::open(dir.path(), StoreOptions::default()).unwrap();
    let applied = store.applied_lsn();
    assert!(
        applied.0 >= persisted,
        "{applied} is before the persisted {persisted}"
    );
    assert_eq!(applied.0 % 100, 0, "{applied} is not a batch boundary");
    let want: Vec<(RowKey, Row)> = crash_model(applied.0 / 100).into_iter().collect();
    assert_eq!(scan(&store, applied), want);
    assert_eq!(scan(&store, Lsn(u64::MAX)), want);
    println!(
        "crash: persisted at {persisted}, writer reported {seen}, store reopened at {} \
         ({} batches past the persist), {} rows, exact; writer RSS {child_rss} MB",
        applied.0,
        (applied.0 - persisted) / 100,
        want.len()
    );
}

#[test]
fn a_killed_writer_leaves_exactly_a_prefix_of_its_batches() {
    // Kill points well past the persist, so the journal holds unpersisted batches.
    for kill_at in [60, 250, 610] {
        crash_once(kill_at);
    }
}
