//! Checkpoints: a consistent image of the heap as of a redo LSN, written to
//! `base/checkpoint`, after which WAL before the redo LSN is no longer needed.
//!
//! Order of a checkpoint (each step durable before the next):
//! 1. Under the commit mutex, briefly: `redo = wal.insert_lsn()`, snapshot
//!    `S = applied_lsn` (registered so pruning keeps what `S` sees), the catalog,
//!    the sequences' logged states, the replication origins' progress. Every commit ending at or before `redo` is in
//!    `S`; every later one will be replayed from WAL.
//! 2. `wal.flush(redo)`: the image never holds a commit the WAL could lose.
//! 3. Write rows visible at `S` to `base/checkpoint.tmp`, fsync, rename to
//!    `base/checkpoint`, fsync `base/`.
//! 4. Append a CHECKPOINT record (its start is the checkpoint LSN), flush it.
//! 5. Write `global/control` (redo, checkpoint LSN, state, next ids).
//! 6. Remove WAL segments wholly before `min(redo, retention floor)`.
//! 7. Prune dead row versions (sweep) below the snapshot horizon.
//!
//! A crash between 3 and 5 leaves a newer image than the control file names;
//! recovery uses the image's own redo LSN (its WAL is still there: segments go only
//! after step 5). File layout (little-endian, CRC32C of everything before it at the
//! end):
//! ```text
//! "TNDMCKP2" | redo u64 | timeline u32 | next_xid u32 | next_oid u32 | next_rowid u64 | time i64
//! catalog (len u32 + bytes) | nseq u32 + (oid u32, last_value i64, is_called u8)*
//! norigins u32 + (roident u16, remote_lsn u64, local_lsn u64)*
//! ntables u32 + (oid u32, (1u8, key bytes, row values)*, 0u8)* | crc32c u32
//! ```
//! A `"TNDMCKP1"` image (before replication origins) has no origins section
//! and is read as "no origin progress".
//! PostgreSQL counterpart: `checkpointer.c`, `xlog.c` (CreateCheckPoint).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tandem_types::elog::{emit, Level};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, TimeLineId, Xid};

use crate::codec::{Reader, Writer};
use crate::control::{write_control, DbState};
use crate::fileutil::durable_rename;
use crate::heap::{Row, TableHeap};
use crate::origin::OriginProgress;
use crate::record::{self, CheckpointRecord};
use crate::{Catalog, CheckpointStats, Database, RowKey};

const MAGIC: &[u8; 8] = b"TNDMCKP2";
/// Images written before replication origins: no origins section.
const MAGIC_V1: &[u8; 8] = b"TNDMCKP1";

pub fn checkpoint_path(datadir: &Path) -> PathBuf {
    datadir.join("base").join("checkpoint")
}

/// Header facts of a checkpoint image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    pub redo: Lsn,
    pub timeline: TimeLineId,
    pub next_xid: Xid,
    pub next_oid: Oid,
    pub next_rowid: u64,
    /// seconds since the Unix epoch
    pub time: i64,
}

/// A loaded checkpoint image.
pub struct Image {
    pub header: ImageHeader,
    pub catalog: Catalog,
    pub sequences: Vec<(Oid, i64, bool)>,
    /// Replication origin progress as of the redo LSN, by roident.
    pub origins: Vec<(u16, OriginProgress)>,
    pub tables: Vec<(Oid, TableHeap)>,
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> PgError {
    PgError::io(format_args!("{what} file \"{}\"", path.display()), e)
}

/// Streams an image to `checkpoint.tmp`; `finish` makes it `checkpoint`.
pub struct ImageWriter {
    out: BufWriter<File>,
    crc: u32,
    tmp: PathBuf,
    target: PathBuf,
    pub rows: u64,
    buf: Writer,
}

impl ImageWriter {
    pub fn create(
        datadir: &Path,
        header: &ImageHeader,
        catalog: &Catalog,
        sequences: &[(Oid, i64, bool)],
        origins: &[(u16, OriginProgress)],
        ntables: usize,
    ) -> PgResult<ImageWriter> {
        let target = checkpoint_path(datadir);
        let tmp = target.with_extension("tmp");
        let file = File::create(&tmp).map_err(|e| io_err("create", &tmp, &e))?;
        let mut w = ImageWriter {
            out: BufWriter::new(file),
            crc: 0,
            tmp,
            target,
            rows: 0,
            buf: Writer::new(),
        };
        let b = &mut w.buf;
        b.buf.extend_from_slice(MAGIC);
        b.lsn(header.redo);
        b.u32(header.timeline.0);
        b.xid(header.next_xid);
        b.oid(header.next_oid);
        b.u64(header.next_rowid);
        b.i64(header.time);
        let mut cat = Writer::new();
        record::catalog(&mut cat, catalog);
        b.bytes(&cat.buf);
        b.u32(sequences.len() as u32);
        for (oid, last, called) in sequences {
            b.oid(*oid);
            b.i64(*last);
            b.bool(*called);
        }
        b.u32(origins.len() as u32);
        for (id, p) in origins {
            b.u16(*id);
            b.lsn(p.remote_lsn);
            b.lsn(p.local_lsn);
        }
        b.u32(ntables as u32);
        w.flush_buf()?;
        Ok(w)
    }

    fn flush_buf(&mut self) -> PgResult<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf.buf);
        self.out
            .write_all(&self.buf.buf)
            .map_err(|e| io_err("write", &self.tmp, &e))?;
        self.buf.buf.clear();
        Ok(())
    }

    pub fn begin_table(&mut self, oid: Oid) -> PgResult<()> {
        self.buf.oid(oid);
        self.flush_buf()
    }

    pub fn row(&mut self, key: &RowKey, row: &[tandem_types::Value]) -> PgResult<()> {
        self.buf.u8(1);
        self.buf.bytes(&key.0);
        self.buf.values(row);
        self.rows += 1;
        if self.buf.buf.len() > 64 * 1024 {
            self.flush_buf()?;
        }
        Ok(())
    }

    pub fn end_table(&mut self) -> PgResult<()> {
        self.buf.u8(0);
        self.flush_buf()
    }

    /// Writes the CRC, fsyncs, renames over `base/checkpoint`, fsyncs `base/`.
    pub fn finish(mut self, fsync: bool) -> PgResult<u64> {
        let crc = self.crc;
        self.out
            .write_all(&crc.to_le_bytes())
            .map_err(|e| io_err("write", &self.tmp, &e))?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| io_err("write", &self.tmp, e.error()))?;
        if fsync {
            file.sync_all()
                .map_err(|e| io_err("fsync", &self.tmp, &e))?;
        }
        drop(file);
        durable_rename(&self.tmp, &self.target, fsync)?;
        Ok(self.rows)
    }
}

fn corrupt_image() -> PgError {
    PgError::fatal(
        SqlState::DATA_CORRUPTED,
        "invalid checkpoint image in \"base/checkpoint\"",
    )
}

/// Reads and verifies `base/checkpoint`.
pub fn load_image(datadir: &Path) -> PgResult<Image> {
    let path = checkpoint_path(datadir);
    let bytes = std::fs::read(&path).map_err(|e| io_err("read", &path, &e))?;
    if bytes.len() < 12 || (&bytes[..8] != MAGIC && &bytes[..8] != MAGIC_V1) {
        return Err(corrupt_image());
    }
    let has_origins = &bytes[..8] == MAGIC;
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(corrupt_image());
    }
    let mut r = Reader::new(&body[8..], "checkpoint");
    let header = ImageHeader {
        redo: r.lsn()?,
        timeline: TimeLineId(r.u32()?),
        next_xid: r.xid()?,
        next_oid: r.oid()?,
        next_rowid: r.u64()?,
        time: r.i64()?,
    };
    let cat_bytes = r.bytes()?;
    let catalog = record::read_catalog(&mut Reader::new(cat_bytes, "checkpoint"))?;
    let mut sequences = Vec::new();
    for _ in 0..r.u32()? {
        sequences.push((r.oid()?, r.i64()?, r.bool()?));
    }
    let mut origins = Vec::new();
    if has_origins {
        for _ in 0..r.u32()? {
            let id = r.u16()?;
            origins.push((
                id,
                OriginProgress {
                    remote_lsn: r.lsn()?,
                    local_lsn: r.lsn()?,
                },
            ));
        }
    }
    let mut tables = Vec::new();
    for _ in 0..r.u32()? {
        let oid = r.oid()?;
        let mut heap = TableHeap::default();
        while r.u8()? == 1 {
            let key = RowKey(r.bytes()?.to_vec());
            let row: Row = r.values()?.into();
            heap.load(key, row);
        }
        tables.push((oid, heap));
    }
    if !r.is_empty() {
        return Err(corrupt_image());
    }
    Ok(Image {
        header,
        catalog,
        sequences,
        origins,
        tables,
    })
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Rows of `table` visible at `snapshot`, streamed in batches.
fn write_table(db: &Database, w: &mut ImageWriter, oid: Oid, snapshot: Lsn) -> PgResult<()> {
    w.begin_table(oid)?;
    if let Some(t) = db.heap.table(oid) {
        let mut lower: Option<RowKey> = None;
        loop {
            let mut batch = Vec::new();
            let from = lower.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            let more = t.read().visible_batch(from, snapshot, 1024, &mut batch);
            for (k, row) in &batch {
                w.row(k, row)?;
            }
            match batch.pop() {
                Some((k, _)) if more => lower = Some(k),
                _ => break,
            }
        }
    }
    w.end_table()
}

/// Runs one checkpoint (see the module comment for the order of steps).
pub fn run(db: &Database, reason: &str) -> PgResult<CheckpointStats> {
    let _only_one = db.checkpoint_lock.lock();
    let shutdown = reason == "shutdown";
    let shown = if shutdown {
        "shutdown immediate"
    } else {
        reason
    };
    emit(
        Level::Log,
        &format!("checkpoint starting: {shown}"),
        None,
        None,
    );
    let started = Instant::now();
    let prev_redo = db.control.lock().redo_lsn;

    // 1. The consistent point.
    let (redo, snapshot, snap_id, catalog, sequences, origins) = {
        let _commit = db.commit_lock.lock();
        let snapshot = db.applied_lsn();
        let redo = db.wal.insert_lsn();
        let snap_id = db.snapshots.register(snapshot);
        (
            redo,
            snapshot,
            snap_id,
            db.catalog(),
            db.sequences.logged_states(),
            db.origin_progress_all(),
        )
    };
    let result = (|| {
        // 2. The image must not get ahead of durable WAL.
        db.wal.flush(redo)?;
        // 2b. Catalog history logical slots still need (before the image, so
        // any image startup finds is covered), and pruning of the rest.
        let floor = db.catalog_floor.read().as_ref().and_then(|f| f());
        let keep = match floor {
            Some(f) if f < redo => db.catalog.read().versions_between(f, redo),
            _ => Vec::new(),
        };
        crate::catalog_file::write(&db.datadir, &keep, db.fsync)?;
        let horizon = [Some(snapshot), floor, db.snapshots.oldest()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(snapshot);
        db.catalog.write().prune_before(horizon);
        // 3. The image.
        let header = ImageHeader {
            redo,
            timeline: db.wal.timeline(),
            next_xid: Xid(db.next_xid.load(Ordering::Relaxed)),
            next_oid: Oid(db.next_oid.load(Ordering::Relaxed)),
            next_rowid: db.next_rowid.load(Ordering::Relaxed),
            time: unix_now(),
        };
        let mut w = ImageWriter::create(
            &db.datadir,
            &header,
            &catalog,
            &sequences,
            &origins,
            catalog.tables.len(),
        )?;
        for oid in catalog.tables.keys() {
            write_table(db, &mut w, *oid, snapshot)?;
        }
        let write_done = Instant::now();
        let rows = w.finish(db.fsync)?;
        Ok::<_, PgError>((header, rows, write_done))
    })();
    db.snapshots.release(snap_id);
    let (header, rows, write_done) = result?;
    let sync_done = Instant::now();

    // 4. The CHECKPOINT record.
    let rec = CheckpointRecord {
        redo,
        timeline: header.timeline,
        next_xid: header.next_xid,
        next_oid: header.next_oid,
        shutdown,
    };
    let (starts, end) = db.wal.append(&[record::checkpoint_record(&rec)])?;
    db.wal.flush(end)?;
    let checkpoint_lsn = starts.first().copied().unwrap_or(redo);

    // 5. The control file.
    {
        let mut c = db.control.lock();
        let mut next = c.clone();
        next.checkpoint_lsn = checkpoint_lsn;
        next.redo_lsn = redo;
        next.checkpoint_time = header.time;
        next.next_xid = Xid(db.next_xid.load(Ordering::Relaxed));
        next.next_oid = Oid(db.next_oid.load(Ordering::Relaxed));
        next.next_rowid = db.next_rowid.load(Ordering::Relaxed);
        next.state = if shutdown {
            DbState::ShutDown
        } else {
            DbState::InProduction
        };
        write_control(&db.datadir, &next, db.fsync)?;
        *c = next;
    }

    // 6. WAL no longer needed.
    let floor = db.retention_floor.read().as_ref().and_then(|f| f());
    let keep = floor.map_or(redo, |f| f.min(redo));
    let seg = db.wal.segment_size().max(1);
    let removed = db.wal.remove_segments_before(Lsn(keep.0 - keep.0 % seg))?;

    // 7. Garbage.
    db.heap.sweep(db.snapshots.horizon(db));

    let total = started.elapsed();
    let distance_kb = redo.0.saturating_sub(prev_redo.0) / 1024;
    emit(
        Level::Log,
        &format!(
            "checkpoint complete: wrote {rows} rows; 0 WAL file(s) added, {removed} removed, 0 recycled; \
             write={:.3} s, sync={:.3} s, total={:.3} s; distance={distance_kb} kB; lsn={checkpoint_lsn}, redo lsn={redo}",
            write_done.duration_since(started).as_secs_f64(),
            sync_done.duration_since(write_done).as_secs_f64(),
            total.as_secs_f64(),
        ),
        None,
        None,
    );
    Ok(CheckpointStats {
        redo_lsn: redo,
        rows_written: rows,
        segments_removed: removed,
        duration_ms: total.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::bootstrap_catalog;
    use tandem_types::Value;

    #[test]
    fn image_round_trips_and_rejects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("base")).unwrap();
        let header = ImageHeader {
            redo: Lsn(0x1000000),
            timeline: TimeLineId(1),
            next_xid: Xid(750),
            next_oid: Oid(16390),
            next_rowid: 9,
            time: 1_700_000_000,
        };
        let cat = bootstrap_catalog("postgres", None);
        let origins = vec![(
            3u16,
            OriginProgress {
                remote_lsn: Lsn(0x3000),
                local_lsn: Lsn(0x1000100),
            },
        )];
        let mut w = ImageWriter::create(
            dir.path(),
            &header,
            &cat,
            &[(Oid(16385), 33, true)],
            &origins,
            2,
        )
        .unwrap();
        w.begin_table(Oid(16384)).unwrap();
        w.row(&RowKey(vec![1]), &[Value::Int4(1), Value::Text("a".into())])
            .unwrap();
        w.row(&RowKey(vec![2]), &[Value::Int4(2), Value::Null])
            .unwrap();
        w.end_table().unwrap();
        w.begin_table(Oid(16386)).unwrap();
        w.end_table().unwrap();
        assert_eq!(w.finish(true).unwrap(), 2);
        let img = load_image(dir.path()).unwrap();
        assert_eq!(img.header, header);
        assert_eq!(img.sequences, vec![(Oid(16385), 33, true)]);
        assert_eq!(img.origins, origins);
        assert_eq!(
            img.catalog.roles.len(),
            1 + crate::acl::PREDEFINED_ROLES.len()
        );
        assert_eq!(img.tables.len(), 2);
        assert_eq!(
            img.tables[0]
                .1
                .get(&RowKey(vec![2]), Lsn(0))
                .map(|r| r.to_vec()),
            Some(vec![Value::Int4(2), Value::Null])
        );
        let path = checkpoint_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(load_image(dir.path()).is_err());
    }

    #[test]
    fn version_1_image_reads_as_no_origins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("base")).unwrap();
        let header = ImageHeader {
            redo: Lsn(0x1000000),
            timeline: TimeLineId(1),
            next_xid: Xid(740),
            next_oid: Oid(16384),
            next_rowid: 1,
            time: 1_700_000_000,
        };
        let cat = bootstrap_catalog("postgres", None);
        ImageWriter::create(dir.path(), &header, &cat, &[], &[], 0)
            .unwrap()
            .finish(false)
            .unwrap();
        // A version 1 image is this one without the origins count (the four
        // bytes before ntables and the CRC), under the old magic.
        let path = checkpoint_path(dir.path());
        let v2 = std::fs::read(&path).unwrap();
        let n = v2.len();
        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC_V1);
        v1.extend_from_slice(&v2[8..n - 12]);
        v1.extend_from_slice(&v2[n - 8..n - 4]);
        let crc = crc32c::crc32c(&v1);
        v1.extend_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &v1).unwrap();
        let img = load_image(dir.path()).unwrap();
        assert_eq!(img.header, header);
        assert!(img.origins.is_empty());
        assert_eq!(
            img.catalog.roles.len(),
            1 + crate::acl::PREDEFINED_ROLES.len()
        );
        assert!(img.tables.is_empty());
    }
}
