//! Storage engine benchmark for tandem's tables: the in-memory model of today
//! (`btree`: a `BTreeMap` per node, a full image written at each checkpoint)
//! against two embedded on-disk engines, `redb` (copy-on-write B-tree) and
//! `fjall` (LSM tree), on tandem's data shapes.
//!
//! Shapes (as `crates/storage` stores them):
//! - key = table oid (u32 big-endian) + the memcomparable primary key of
//!   `keycode.rs` (an integer: marker 0x01 + 8 bytes big-endian, sign bit flipped);
//!   tables without a key use an 8-byte big-endian row id;
//! - value = the version chain `u16 n + n * (created u64, deleted u64, u32 len, row)`,
//!   the row in the WAL's row encoding (`u32 n + tagged values`), pgbench-like:
//!   `(int4, int4, int4, char(84))`, 108 bytes;
//! - every commit writes the key `applied_lsn` in the same atomic batch, so a
//!   reopened store names the WAL position to replay from.
//!
//! Commits are not durable one by one (the WAL is); a checkpoint makes the store
//! durable. Subcommands: `run ENGINE DIR ROWS TXNS` (load, TPC-B, checkpoint under
//! load, scans, reads, reopen; prints one table row), `crash ENGINE DIR ROWS TXNS`
//! (a child process loads, checkpoints, updates, is SIGKILLed; reopen time and an
//! exact prefix check), `crash-child` (that child).
//! Engines: `btree`, `redb`, `redb-qr` (redb with quick-repair at checkpoints), `fjall`.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::ops::Bound;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const CACHE_BYTES: u64 = 128 << 20;
const LOAD_BATCH: u64 = 10_000;
const OID_ACCOUNTS: u32 = 16384;
const OID_BRANCHES: u32 = 16385;
const OID_TELLERS: u32 = 16386;
const OID_HISTORY: u32 = 16387;
const META_KEY: &[u8] = b"\0\0\0\0applied_lsn";

// ---------------------------------------------------------------- shapes

fn int_key(oid: u32, v: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.extend_from_slice(&oid.to_be_bytes());
    k.push(0x01);
    k.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
    k
}

fn rowid_key(oid: u32, rowid: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(12);
    k.extend_from_slice(&oid.to_be_bytes());
    k.extend_from_slice(&rowid.to_be_bytes());
    k
}

fn table_range(oid: u32) -> (Vec<u8>, Vec<u8>) {
    (oid.to_be_bytes().to_vec(), (oid + 1).to_be_bytes().to_vec())
}

/// A pgbench-like row `(id int4, ref int4, balance int4, filler char(84))`.
fn row(id: i32, reference: i32, balance: i32) -> Vec<u8> {
    let mut r = Vec::with_capacity(108);
    r.extend_from_slice(&4u32.to_le_bytes());
    for v in [id, reference, balance] {
        r.push(3);
        r.extend_from_slice(&v.to_le_bytes());
    }
    r.push(8);
    r.extend_from_slice(&84u32.to_le_bytes());
    r.extend_from_slice(&[b' '; 84]);
    r
}

const BALANCE_AT: usize = 4 + 5 + 5 + 1;

fn balance_of(row: &[u8]) -> Res<i32> {
    let b: [u8; 4] = row
        .get(BALANCE_AT..BALANCE_AT + 4)
        .ok_or("short row")?
        .try_into()?;
    Ok(i32::from_le_bytes(b))
}

struct Version {
    created: u64,
    deleted: u64,
    row: Vec<u8>,
}

fn decode_chain(mut b: &[u8]) -> Res<Vec<Version>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Res<&'a [u8]> {
        if b.len() < n {
            return Err("truncated chain".into());
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    let n = u16::from_le_bytes(take(&mut b, 2)?.try_into()?);
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let created = u64::from_le_bytes(take(&mut b, 8)?.try_into()?);
        let deleted = u64::from_le_bytes(take(&mut b, 8)?.try_into()?);
        let len = u32::from_le_bytes(take(&mut b, 4)?.try_into()?) as usize;
        let row = take(&mut b, len)?.to_vec();
        out.push(Version {
            created,
            deleted,
            row,
        });
    }
    Ok(out)
}

fn encode_chain(vs: &[Version]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + vs.iter().map(|v| 20 + v.row.len()).sum::<usize>());
    out.extend_from_slice(&(vs.len() as u16).to_le_bytes());
    for v in vs {
        out.extend_from_slice(&v.created.to_le_bytes());
        out.extend_from_slice(&v.deleted.to_le_bytes());
        out.extend_from_slice(&(v.row.len() as u32).to_le_bytes());
        out.extend_from_slice(&v.row);
    }
    out
}

/// The live version of a chain.
fn latest(chain: &[u8]) -> Res<Option<Version>> {
    Ok(decode_chain(chain)?.into_iter().find(|v| v.deleted == 0))
}

/// The chain as a snapshot `s` sees it (what a checkpoint image holds), or None.
fn chain_as_of(chain: &[u8], s: u64) -> Res<Option<Vec<u8>>> {
    let vs: Vec<Version> = decode_chain(chain)?
        .into_iter()
        .filter(|v| v.created <= s && (v.deleted == 0 || v.deleted > s))
        .map(|v| Version { deleted: 0, ..v })
        .collect();
    Ok(if vs.is_empty() {
        None
    } else {
        Some(encode_chain(&vs))
    })
}

#[derive(Clone)]
enum Op {
    Insert(Vec<u8>),
    AddBalance(i32),
}

#[derive(Clone)]
struct Change {
    key: Vec<u8>,
    op: Op,
}

/// The one version-chain rule every engine applies: prune versions deleted at or
/// before `horizon`, end the live version at `lsn`, append the new one.
fn apply_versions(vs: &mut Vec<Version>, op: &Op, lsn: u64, horizon: u64) -> Res<()> {
    vs.retain(|v| v.deleted == 0 || v.deleted > horizon);
    let live = vs.iter_mut().find(|v| v.deleted == 0);
    let new_row = match (op, live) {
        (Op::Insert(_), Some(_)) => return Err("duplicate key".into()),
        (Op::Insert(r), None) => r.clone(),
        (Op::AddBalance(_), None) => return Err("update of a missing row".into()),
        (Op::AddBalance(d), Some(v)) => {
            let mut r = v.row.clone();
            let b = balance_of(&r)?.wrapping_add(*d);
            r[BALANCE_AT..BALANCE_AT + 4].copy_from_slice(&b.to_le_bytes());
            v.deleted = lsn;
            r
        }
    };
    vs.push(Version {
        created: lsn,
        deleted: 0,
        row: new_row,
    });
    Ok(())
}

/// [`apply_versions`] on an encoded chain (the on-disk engines' values).
fn apply_chain(old: Option<&[u8]>, op: &Op, lsn: u64, horizon: u64) -> Res<Vec<u8>> {
    let mut vs = match old {
        Some(b) => decode_chain(b)?,
        None => Vec::new(),
    };
    apply_versions(&mut vs, op, lsn, horizon)?;
    Ok(encode_chain(&vs))
}

struct Params {
    rows: u64,
    tellers: u64,
    branches: u64,
}

impl Params {
    fn new(rows: u64) -> Params {
        Params {
            rows,
            tellers: (rows / 10_000).max(1),
            branches: (rows / 100_000).max(1),
        }
    }
    /// Load batches: lsn 1 = branches and tellers, then one lsn per 10k accounts.
    fn load_batches(&self) -> u64 {
        1 + self.rows.div_ceil(LOAD_BATCH)
    }
    fn load_changes(&self, lsn: u64) -> Vec<Change> {
        if lsn == 1 {
            let mut c = Vec::new();
            for b in 1..=self.branches as i32 {
                c.push(Change {
                    key: int_key(OID_BRANCHES, b as i64),
                    op: Op::Insert(row(b, b, 0)),
                });
            }
            for t in 1..=self.tellers as i32 {
                let b = (t - 1) / 10 + 1;
                c.push(Change {
                    key: int_key(OID_TELLERS, t as i64),
                    op: Op::Insert(row(t, b, 0)),
                });
            }
            return c;
        }
        let first = (lsn - 2) * LOAD_BATCH + 1;
        let last = (first + LOAD_BATCH - 1).min(self.rows);
        (first..=last)
            .map(|aid| Change {
                key: int_key(OID_ACCOUNTS, aid as i64),
                op: Op::Insert(row(aid as i32, ((aid - 1) / 100_000 + 1) as i32, 0)),
            })
            .collect()
    }
    /// The TPC-B transaction committed at `lsn`: 3 updates and 1 insert, a pure
    /// function of `lsn` (so a crash check can recompute any prefix).
    fn txn(&self, lsn: u64) -> (u64, Vec<Change>) {
        let mut r = Rng(lsn.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let aid = 1 + r.next() % self.rows;
        let tid = 1 + r.next() % self.tellers;
        let bid = 1 + r.next() % self.branches;
        let delta = (r.next() % 10_001) as i32 - 5000;
        let changes = vec![
            Change {
                key: int_key(OID_ACCOUNTS, aid as i64),
                op: Op::AddBalance(delta),
            },
            Change {
                key: int_key(OID_TELLERS, tid as i64),
                op: Op::AddBalance(delta),
            },
            Change {
                key: int_key(OID_BRANCHES, bid as i64),
                op: Op::AddBalance(delta),
            },
            Change {
                key: rowid_key(OID_HISTORY, lsn),
                op: Op::Insert(row(tid as i32, bid as i32, delta)),
            },
        ];
        (aid, changes)
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

// ---------------------------------------------------------------- engines

trait Engine: Send + Sync {
    /// One atomic, non-durable commit of `changes` and `applied_lsn = lsn`.
    fn apply(&self, lsn: u64, changes: &[Change], horizon: u64) -> Res<()>;
    /// Makes everything applied so far durable.
    fn checkpoint(&self) -> Res<()>;
    fn get(&self, key: &[u8]) -> Res<Option<Vec<u8>>>;
    /// Visits every key of [lo, hi) that has a live version, with that version.
    fn scan(&self, lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &Version) -> Res<()>) -> Res<()>;
    fn applied_lsn(&self) -> Res<u64> {
        Ok(match self.get(META_KEY)? {
            Some(b) => u64::from_le_bytes(b.as_slice().try_into()?),
            None => 0,
        })
    }
    fn close(self: Box<Self>) -> Res<()>;
}

fn open_engine(name: &str, dir: &Path) -> Res<Box<dyn Engine>> {
    fs::create_dir_all(dir)?;
    Ok(match name {
        "btree" => Box::new(BTreeEngine::open(dir)?),
        "redb" => Box::new(RedbEngine::open(dir, false)?),
        "redb-qr" => Box::new(RedbEngine::open(dir, true)?),
        "fjall" => Box::new(FjallEngine::open(dir)?),
        other => return Err(format!("unknown engine {other}").into()),
    })
}

// The in-memory model: a map, a full image at checkpoint (copied in batches of 256
// rows under the read lock, as `checkpoint.rs` does), loaded whole at open.
struct BTreeEngine {
    map: RwLock<BTreeMap<Vec<u8>, Vec<Version>>>,
    applied: AtomicU64,
    floor: AtomicU64,
    path: PathBuf,
}

impl BTreeEngine {
    fn open(dir: &Path) -> Res<BTreeEngine> {
        let path = dir.join("checkpoint");
        let mut map = BTreeMap::new();
        let mut applied = 0;
        if path.exists() {
            let mut r = BufReader::with_capacity(1 << 20, fs::File::open(&path)?);
            let mut u64b = [0u8; 8];
            r.read_exact(&mut u64b)?;
            applied = u64::from_le_bytes(u64b);
            let mut u32b = [0u8; 4];
            loop {
                r.read_exact(&mut u32b)?;
                let kl = u32::from_le_bytes(u32b) as usize;
                if kl == 0 {
                    break;
                }
                let mut k = vec![0; kl];
                r.read_exact(&mut k)?;
                r.read_exact(&mut u32b)?;
                let mut v = vec![0; u32::from_le_bytes(u32b) as usize];
                r.read_exact(&mut v)?;
                map.insert(k, decode_chain(&v)?);
            }
        }
        Ok(BTreeEngine {
            map: RwLock::new(map),
            applied: AtomicU64::new(applied),
            floor: AtomicU64::new(u64::MAX),
            path,
        })
    }
}

impl Engine for BTreeEngine {
    fn apply(&self, lsn: u64, changes: &[Change], horizon: u64) -> Res<()> {
        let horizon = horizon.min(self.floor.load(Ordering::SeqCst));
        let mut map = self.map.write().map_err(|_| "poisoned")?;
        for c in changes {
            apply_versions(map.entry(c.key.clone()).or_default(), &c.op, lsn, horizon)?;
        }
        self.applied.store(lsn, Ordering::SeqCst);
        Ok(())
    }
    fn checkpoint(&self) -> Res<()> {
        let s = {
            let _g = self.map.read().map_err(|_| "poisoned")?;
            let s = self.applied.load(Ordering::SeqCst);
            self.floor.store(s, Ordering::SeqCst);
            s
        };
        let tmp = self.path.with_extension("tmp");
        let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(&tmp)?);
        w.write_all(&s.to_le_bytes())?;
        let mut from: Bound<Vec<u8>> = Bound::Unbounded;
        loop {
            let batch: Vec<(Vec<u8>, Vec<u8>)> = {
                let map = self.map.read().map_err(|_| "poisoned")?;
                let mut out = Vec::with_capacity(256);
                for (k, vs) in map.range((from.clone(), Bound::Unbounded)).take(256) {
                    out.push((k.clone(), encode_chain(vs)));
                }
                out
            };
            let Some(last) = batch.last() else { break };
            from = Bound::Excluded(last.0.clone());
            for (k, v) in &batch {
                if k.as_slice() == META_KEY {
                    continue;
                }
                if let Some(v) = chain_as_of(v, s)? {
                    w.write_all(&(k.len() as u32).to_le_bytes())?;
                    w.write_all(k)?;
                    w.write_all(&(v.len() as u32).to_le_bytes())?;
                    w.write_all(&v)?;
                }
            }
        }
        w.write_all(&0u32.to_le_bytes())?;
        let f = w.into_inner().map_err(|e| e.to_string())?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(d) = self.path.parent() {
            fs::File::open(d)?.sync_all()?;
        }
        self.floor.store(u64::MAX, Ordering::SeqCst);
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Res<Option<Vec<u8>>> {
        if key == META_KEY {
            return Ok(Some(
                self.applied.load(Ordering::SeqCst).to_le_bytes().to_vec(),
            ));
        }
        let map = self.map.read().map_err(|_| "poisoned")?;
        Ok(map.get(key).map(|vs| encode_chain(vs)))
    }
    fn scan(&self, lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &Version) -> Res<()>) -> Res<()> {
        let map = self.map.read().map_err(|_| "poisoned")?;
        for (k, vs) in map.range::<[u8], _>((Bound::Included(lo), Bound::Excluded(hi))) {
            if let Some(v) = vs.iter().find(|v| v.deleted == 0) {
                f(k, v)?;
            }
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        Ok(())
    }
}

const HEAP: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("heap");

struct RedbEngine {
    db: redb::Database,
    quick_repair: bool,
}

impl RedbEngine {
    fn open(dir: &Path, quick_repair: bool) -> Res<RedbEngine> {
        let db = redb::Database::builder()
            .set_cache_size(CACHE_BYTES as usize)
            .create(dir.join("heap.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(HEAP)?;
        tx.commit()?;
        Ok(RedbEngine { db, quick_repair })
    }
}

impl Engine for RedbEngine {
    fn apply(&self, lsn: u64, changes: &[Change], horizon: u64) -> Res<()> {
        use redb::ReadableTable;
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::None)?;
        {
            let mut t = tx.open_table(HEAP)?;
            for c in changes {
                let old = t.get(c.key.as_slice())?.map(|g| g.value().to_vec());
                let new = apply_chain(old.as_deref(), &c.op, lsn, horizon)?;
                t.insert(c.key.as_slice(), new.as_slice())?;
            }
            t.insert(META_KEY, lsn.to_le_bytes().as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }
    fn checkpoint(&self) -> Res<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(redb::Durability::Immediate)?;
        tx.set_quick_repair(self.quick_repair);
        tx.commit()?;
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Res<Option<Vec<u8>>> {
        use redb::ReadableDatabase;
        use redb::ReadableTable;
        let tx = self.db.begin_read()?;
        let t = tx.open_table(HEAP)?;
        let v = t.get(key)?.map(|g| g.value().to_vec());
        Ok(v)
    }
    fn scan(&self, lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &Version) -> Res<()>) -> Res<()> {
        use redb::ReadableDatabase;
        use redb::ReadableTable;
        let tx = self.db.begin_read()?;
        let t = tx.open_table(HEAP)?;
        for e in t.range(lo..hi)? {
            let (k, v) = e?;
            if let Some(live) = latest(v.value())? {
                f(k.value(), &live)?;
            }
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        drop(self.db);
        Ok(())
    }
}

struct FjallEngine {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl FjallEngine {
    fn open(dir: &Path) -> Res<FjallEngine> {
        let db = fjall::Database::builder(dir)
            .cache_size(CACHE_BYTES)
            .open()?;
        let ks = db.keyspace("heap", fjall::KeyspaceCreateOptions::default)?;
        Ok(FjallEngine { db, ks })
    }
}

impl Engine for FjallEngine {
    fn apply(&self, lsn: u64, changes: &[Change], horizon: u64) -> Res<()> {
        let mut b = self.db.batch();
        for c in changes {
            let old = self.ks.get(&c.key)?;
            let new = apply_chain(old.as_deref(), &c.op, lsn, horizon)?;
            b.insert(&self.ks, c.key.as_slice(), new);
        }
        b.insert(&self.ks, META_KEY, lsn.to_le_bytes().as_slice());
        b.commit()?;
        Ok(())
    }
    fn checkpoint(&self) -> Res<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Res<Option<Vec<u8>>> {
        Ok(self.ks.get(key)?.map(|v| v.to_vec()))
    }
    fn scan(&self, lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &Version) -> Res<()>) -> Res<()> {
        for g in self.ks.range(lo..hi) {
            let (k, v) = g.into_inner()?;
            if let Some(live) = latest(&v)? {
                f(&k, &live)?;
            }
        }
        Ok(())
    }
    fn close(self: Box<Self>) -> Res<()> {
        drop(self.ks);
        drop(self.db);
        Ok(())
    }
}

// ---------------------------------------------------------------- measuring

fn status_kb(field: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_mb() -> u64 {
    status_kb("VmRSS:") / 1024
}

fn hwm_mb() -> u64 {
    status_kb("VmHWM:") / 1024
}

/// Bytes allocated on disk under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(m) = e.metadata() {
                total += if m.is_dir() {
                    disk_bytes(&e.path())
                } else {
                    m.blocks() * 512
                };
            }
        }
    }
    total
}

/// Drops the page cache of the files under `dir` (clean pages only), so the next
/// reads come from disk.
fn drop_cache(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                drop_cache(&p);
            } else if let Ok(f) = fs::File::open(&p) {
                use std::os::fd::AsRawFd;
                let _ = f.sync_all();
                // SAFETY: a valid open descriptor; advice only.
                unsafe {
                    libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
                }
            }
        }
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Latencies in ns -> (p50 µs, p99 µs, max µs).
fn lat(mut v: Vec<u64>) -> (f64, f64, f64) {
    v.sort_unstable();
    (pct(&v, 0.5), pct(&v, 0.99), pct(&v, 1.0))
}

fn load(e: &dyn Engine, p: &Params) -> Res<u64> {
    let mut bytes = 0u64;
    for lsn in 1..=p.load_batches() {
        let changes = p.load_changes(lsn);
        for c in &changes {
            if let Op::Insert(r) = &c.op {
                bytes += (c.key.len() + r.len() + 22) as u64;
            }
        }
        e.apply(lsn, &changes, lsn - 1)?;
        if lsn.is_multiple_of(50) {
            eprint!(".");
        }
    }
    eprintln!();
    Ok(bytes)
}

fn tpcb(e: &dyn Engine, p: &Params, from: u64, n: u64) -> Res<Vec<u64>> {
    let mut lats = Vec::with_capacity(n as usize);
    for lsn in from..from + n {
        let (_, changes) = p.txn(lsn);
        let t = Instant::now();
        e.apply(lsn, &changes, lsn - 1)?;
        lats.push(t.elapsed().as_nanos() as u64);
    }
    Ok(lats)
}

fn random_gets(e: &dyn Engine, p: &Params, seed: u64, n: u64) -> Res<Vec<u64>> {
    let mut r = Rng(seed | 1);
    let mut lats = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let key = int_key(OID_ACCOUNTS, (1 + r.next() % p.rows) as i64);
        let t = Instant::now();
        let v = e.get(&key)?;
        lats.push(t.elapsed().as_nanos() as u64);
        if v.is_none() {
            return Err("account missing".into());
        }
    }
    Ok(lats)
}

fn run(engine: &str, dir: &Path, rows: u64, txns: u64) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    let p = Params::new(rows);
    let e: Arc<dyn Engine> = Arc::from(open_engine(engine, dir)?);

    // a. bulk load, then a checkpoint (the load is durable when it returns)
    let t = Instant::now();
    let bytes = load(e.as_ref(), &p)?;
    let load_apply = t.elapsed().as_secs_f64();
    e.checkpoint()?;
    let load_s = t.elapsed().as_secs_f64();
    let load_mbs = bytes as f64 / 1e6 / load_s;
    let size_mb = disk_bytes(dir) as f64 / 1e6;
    let rss_load = rss_mb();
    eprintln!("{engine}: load {load_s:.1}s (apply {load_apply:.1}s) {size_mb:.0} MB on disk, rss {rss_load} MB");

    // b. TPC-B, single writer; then with 2 readers doing point gets
    let mut lsn = p.load_batches() + 1;
    let half = txns / 2;
    let t = Instant::now();
    let l1 = tpcb(e.as_ref(), &p, lsn, half)?;
    let tps1 = half as f64 / t.elapsed().as_secs_f64();
    lsn += half;
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for i in 0..2u64 {
        let (e, stop, reads) = (e.clone(), stop.clone(), reads.clone());
        let rows = p.rows;
        readers.push(thread::spawn(move || -> Res<()> {
            let p = Params::new(rows);
            let mut r = Rng(0xABCD + i);
            while !stop.load(Ordering::Relaxed) {
                let key = int_key(OID_ACCOUNTS, (1 + r.next() % p.rows) as i64);
                if e.get(&key)?.is_none() {
                    return Err("account missing".into());
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let t = Instant::now();
    let l2 = tpcb(e.as_ref(), &p, lsn, half)?;
    let el = t.elapsed().as_secs_f64();
    let tps2 = half as f64 / el;
    let rps = reads.load(Ordering::Relaxed) as f64 / el;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().map_err(|_| "reader panicked")??;
    }
    lsn += half;
    let (b1p50, b1p99, _) = lat(l1);
    let (b2p50, b2p99, _) = lat(l2);
    let rss_tpcb = rss_mb();
    eprintln!("{engine}: tpcb {tps1:.0}/s p50 {b1p50:.0}us p99 {b1p99:.0}us; with readers {tps2:.0}/s ({rps:.0} gets/s)");

    // c. checkpoint after `txns` transactions, while a writer keeps committing
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (e, stop) = (e.clone(), stop.clone());
        let rows = p.rows;
        thread::spawn(move || -> Res<(Vec<(Instant, u64)>, u64)> {
            let p = Params::new(rows);
            let mut out = Vec::new();
            let mut lsn = lsn;
            while !stop.load(Ordering::Relaxed) {
                let (_, changes) = p.txn(lsn);
                let t = Instant::now();
                e.apply(lsn, &changes, lsn - 1)?;
                out.push((t, t.elapsed().as_nanos() as u64));
                lsn += 1;
            }
            Ok((out, lsn))
        })
    };
    thread::sleep(Duration::from_millis(300));
    let c0 = Instant::now();
    e.checkpoint()?;
    let c1 = Instant::now();
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (wl, _) = writer.join().map_err(|_| "writer panicked")??;
    let during: Vec<u64> = wl
        .iter()
        .filter(|(s, d)| *s <= c1 && *s + Duration::from_nanos(*d) >= c0)
        .map(|(_, d)| *d)
        .collect();
    let ndur = during.len();
    let ckpt_s = (c1 - c0).as_secs_f64();
    let (_, dp99, dmax) = lat(during);
    eprintln!("{engine}: checkpoint {ckpt_s:.2}s; {ndur} commits during it, p99 {dp99:.0}us max {dmax:.0}us");
    e.checkpoint()?;

    // d. full scan, warm point gets
    let (lo, hi) = table_range(OID_ACCOUNTS);
    let t = Instant::now();
    let mut n = 0u64;
    e.scan(&lo, &hi, &mut |_, _| {
        n += 1;
        Ok(())
    })?;
    let scan_rps = n as f64 / t.elapsed().as_secs_f64();
    if n != p.rows {
        return Err(format!("scan saw {n} rows, want {}", p.rows).into());
    }
    let (wp50, wp99, _) = lat(random_gets(e.as_ref(), &p, 77, 20_000)?);
    let rss_end = rss_mb();
    let hwm = hwm_mb();

    // reopen after a clean close, page cache of the files dropped: cold gets
    let applied = e.applied_lsn()?;
    drop(e);
    drop_cache(dir);
    let t = Instant::now();
    let e = open_engine(engine, dir)?;
    let reopen_s = t.elapsed().as_secs_f64();
    if e.applied_lsn()? != applied {
        return Err("reopened store lost commits".into());
    }
    let (cp50, cp99, _) = lat(random_gets(e.as_ref(), &p, 99, 2_000)?);
    e.close()?;

    println!(
        "| {engine} | {load_s:.1} | {load_mbs:.0} | {size_mb:.0} | {tps1:.0} | {b1p50:.0} / {b1p99:.0} | {tps2:.0} | {b2p50:.0} / {b2p99:.0} | {rps:.0} | {ckpt_s:.2} | {ndur} / {dp99:.0} / {dmax:.0} | {:.2} | {wp50:.1} / {wp99:.1} | {reopen_s:.2} | {cp50:.0} / {cp99:.0} | {rss_load} / {rss_tpcb} / {rss_end} / {hwm} |",
        scan_rps / 1e6
    );
    Ok(())
}

// ---------------------------------------------------------------- crash

const CRASH_CKPT_AFTER: u64 = 10_000;

fn crash_child(engine: &str, dir: &Path, rows: u64) -> Res<()> {
    let _ = fs::remove_dir_all(dir);
    let p = Params::new(rows);
    let e = open_engine(engine, dir)?;
    load(e.as_ref(), &p)?;
    e.checkpoint()?;
    let mut out = std::io::stdout();
    let first = p.load_batches() + 1;
    let mut lsn = first;
    loop {
        let (_, changes) = p.txn(lsn);
        e.apply(lsn, &changes, lsn - 1)?;
        if lsn - first + 1 == CRASH_CKPT_AFTER {
            e.checkpoint()?;
            writeln!(out, "checkpoint {lsn}")?;
        }
        if lsn.is_multiple_of(1000) {
            writeln!(out, "lsn {lsn}")?;
            out.flush()?;
        }
        lsn += 1;
    }
}

fn crash(engine: &str, dir: &Path, rows: u64, txns: u64) -> Res<()> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["crash-child", engine])
        .arg(dir)
        .arg(rows.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let p = Params::new(rows);
    let first = p.load_batches() + 1;
    let target = first + CRASH_CKPT_AFTER + txns;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut ckpt = 0;
    let mut last_seen = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(v) = line.strip_prefix("checkpoint ") {
            ckpt = v.parse()?;
        }
        if let Some(v) = line.strip_prefix("lsn ") {
            last_seen = v.parse()?;
            if last_seen >= target {
                child.kill()?; // SIGKILL
                break;
            }
        }
    }
    child.wait()?;
    if last_seen < target {
        return Err("child stopped early".into());
    }
    let t = Instant::now();
    let e = open_engine(engine, dir)?;
    let reopen_s = t.elapsed().as_secs_f64();
    let applied = e.applied_lsn()?;
    let verify = Instant::now();
    // The exact prefix: every account, teller and branch as the transactions up to
    // `applied` leave them, no history row after it.
    let mut expect: HashMap<Vec<u8>, (u64, i32)> = HashMap::new();
    for lsn in first..=applied {
        let (_, changes) = p.txn(lsn);
        for c in changes {
            if let Op::AddBalance(d) = c.op {
                let ent = expect.entry(c.key).or_insert((0, 0));
                ent.0 = lsn;
                ent.1 = ent.1.wrapping_add(d);
            }
        }
    }
    let mut rows_seen = 0u64;
    let mut bad = 0u64;
    for oid in [OID_ACCOUNTS, OID_BRANCHES, OID_TELLERS] {
        let (lo, hi) = table_range(oid);
        e.scan(&lo, &hi, &mut |k, live| {
            rows_seen += 1;
            let (want_lsn, want_bal) = expect.get(k).copied().unwrap_or((0, 0));
            let bal = balance_of(&live.row)?;
            let ok = if want_lsn == 0 {
                live.created < first && bal == 0
            } else {
                live.created == want_lsn && bal == want_bal
            };
            if !ok {
                bad += 1;
            }
            Ok(())
        })?;
    }
    let (lo, hi) = table_range(OID_HISTORY);
    let mut hist = 0u64;
    e.scan(&lo, &hi, &mut |k, _| {
        let id = u64::from_be_bytes(k.get(4..12).ok_or("short key")?.try_into()?);
        if id < first || id > applied {
            bad += 1;
        }
        hist += 1;
        Ok(())
    })?;
    if hist != applied + 1 - first {
        bad += 1;
    }
    if rows_seen != p.rows + p.tellers + p.branches {
        bad += 1;
    }
    let verify_s = verify.elapsed().as_secs_f64();
    e.close()?;
    let after_ckpt = applied as i64 - ckpt as i64;
    let verdict = if bad == 0 {
        "exact prefix"
    } else {
        "NOT a prefix"
    };
    println!(
        "| {engine} | {} | {ckpt} | {last_seen} | {applied} | {after_ckpt} | {reopen_s:.2} | {verdict} ({verify_s:.1} s check) |",
        first - 1
    );
    if bad != 0 {
        return Err(format!("{bad} mismatches").into());
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let res = match arg(1).as_str() {
        "run" => run(
            &arg(2),
            Path::new(&arg(3)),
            num(4, 3_000_000),
            num(5, 50_000),
        ),
        "crash" => crash(
            &arg(2),
            Path::new(&arg(3)),
            num(4, 3_000_000),
            num(5, 20_000),
        ),
        "crash-child" => crash_child(&arg(2), Path::new(&arg(3)), num(4, 3_000_000)),
        _ => Err("usage: engines-bench run|crash ENGINE DIR [ROWS] [TXNS]".into()),
    };
    if let Err(e) = res {
        eprintln!("engines-bench: {e}");
        std::process::exit(1);
    }
}
