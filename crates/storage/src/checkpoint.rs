//! Checkpoints: the table store (`base/store`) made durable up to a redo LSN,
//! and an image of the rest of the state as of that LSN (catalog, sequences,
//! replication origins) written to `base/checkpoint`, after which WAL before
//! the redo LSN is no longer needed.
//!
//! Order of a checkpoint (each step durable before the next):
//! 1. Under the commit mutex, briefly: `redo = wal.insert_lsn()`, snapshot
//!    `S = applied_lsn` (registered so pruning keeps what `S` sees), the catalog,
//!    the sequences' logged states, the replication origins' progress. Every commit ending at or before `redo` is in
//!    `S`; every later one will be replayed from WAL.
//! 2. `wal.flush(redo)`: nothing durable ever holds a commit the WAL could lose.
//! 3. Wait until the applier (`applier.rs`) has handed every commit up to `S`
//!    to the table store, `TableStore::persist` (its journal fsynced); then the
//!    image without rows to `base/checkpoint.tmp`, fsync, rename to
//!    `base/checkpoint`, fsync `base/`.
//! 4. Append a CHECKPOINT record (its start is the checkpoint LSN), flush it.
//! 5. Write `global/control` (redo, checkpoint LSN, state, next ids).
//! 6. Remove WAL segments wholly before `min(redo, retention floor)`.
//! 7. Prune dead row versions (sweep) below the snapshot horizon (and `S`).
//!    (A dropped or truncated table's range in the store was retired by the
//!    applier with the commit; compaction removes its keys.)
//!
//! A crash between 3 and 5 leaves a newer image than the control file names;
//! recovery uses the image's own redo LSN (its WAL is still there: segments go only
//! after step 5). File layout (little-endian, CRC32C of everything before it at the
//! end):
//! ```text
//! "TNDMCKP3" | redo u64 | timeline u32 | next_xid u32 | next_oid u32 | next_rowid u64 | time i64
//! catalog (len u32 + bytes) | nseq u32 + (oid u32, last_value i64, is_called u8)*
//! norigins u32 + (roident u16, remote_lsn u64, local_lsn u64)*
//! ntables u32 + (oid u32, (1u8, key bytes, row values)*, 0u8)* | crc32c u32
//! ```
//! A version 3 image has no rows (`ntables` = 0): they are in the table store.
//! A `"TNDMCKP2"` image carries the rows visible at its redo LSN: written by
//! checkpoints before the table store, and sent by base backups of servers
//! from then; startup puts its rows into the store when the store is behind
//! its redo LSN (`recovery.rs`). A base backup now sends the version 3 image
//! and a view of the table store ([`run_for_backup`]). A
//! `"TNDMCKP1"` image (before replication origins) is a version 2 image
//! without the origins section, read as "no origin progress".
//!
//! Restartpoints ([`restartpoint`]) are a standby's checkpoints: the same image,
//! catalog history, control file, WAL removal and pruning, but no WAL record (a
//! standby's WAL stays the primary's byte for byte) and no flush (replay only
//! reads flushed WAL). Their redo LSN is the last replayed transaction boundary
//! (`Database::restart_boundary`, moved by the replay thread under the commit
//! mutex): the end of a record after which no transaction waits for its
//! COMMIT. Every commit before it is in the heap, none after it is, so the
//! image taken at that moment is the state as of that LSN, and the next start
//! of the standby replays from there instead of from the base backup's image.
//! WAL goes up to `min(redo, retention floor)`, the floor computed on the
//! standby from its own slots (synced logical slots, physical slots of
//! cascaded standbys) and `wal_keep_size` from the replay position.
//! PostgreSQL counterpart: `checkpointer.c`, `xlog.c` (CreateCheckPoint,
//! CreateRestartPoint).

use std::fs::File;
use std::io::{BufWriter, Write};
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
use crate::store::StoreSnapshot;
use crate::{Catalog, CheckpointStats, Database, RowKey};

/// Images without rows (the rows are in the table store).
const MAGIC: &[u8; 8] = b"TNDMCKP3";
/// Images carrying the rows visible at their redo LSN.
const MAGIC_V2: &[u8; 8] = b"TNDMCKP2";
/// Images written before replication origins: no origins section.
const MAGIC_V1: &[u8; 8] = b"TNDMCKP1";

/// Whether an image carries rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// Version 3: the rows are in the table store.
    NoRows,
    /// Version 2: the rows visible at the redo LSN follow the origins.
    WithRows,
}

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
    /// True for a version 1 or 2 image: `tables` are the rows as of the redo
    /// LSN (the table store is then filled from them if it is behind).
    pub has_rows: bool,
    pub tables: Vec<(Oid, TableHeap)>,
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> PgError {
    PgError::io(format_args!("{what} file \"{}\"", path.display()), e)
}

/// Where an image goes: `checkpoint.tmp` (renamed to `checkpoint` by
/// `finish`), or memory (a base backup's image).
enum Output {
    File(BufWriter<File>),
    Memory(Vec<u8>),
}

/// Streams an image to `checkpoint.tmp` (`finish` makes it `checkpoint`) or
/// to memory (`finish_in_memory`).
pub struct ImageWriter {
    out: Output,
    crc: u32,
    tmp: PathBuf,
    target: PathBuf,
    pub rows: u64,
    buf: Writer,
}

impl ImageWriter {
    /// An image file; `ntables` tables follow (0 for [`ImageFormat::NoRows`]).
    pub fn create(
        datadir: &Path,
        format: ImageFormat,
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
            out: Output::File(BufWriter::new(file)),
            crc: 0,
            tmp,
            target,
            rows: 0,
            buf: Writer::new(),
        };
        w.start(format, header, catalog, sequences, origins, ntables)?;
        Ok(w)
    }

    /// A version 2 image (with rows) built in memory.
    pub fn in_memory(
        header: &ImageHeader,
        catalog: &Catalog,
        sequences: &[(Oid, i64, bool)],
        origins: &[(u16, OriginProgress)],
        ntables: usize,
    ) -> PgResult<ImageWriter> {
        let mut w = ImageWriter {
            out: Output::Memory(Vec::new()),
            crc: 0,
            tmp: PathBuf::new(),
            target: PathBuf::new(),
            rows: 0,
            buf: Writer::new(),
        };
        w.start(
            ImageFormat::WithRows,
            header,
            catalog,
            sequences,
            origins,
            ntables,
        )?;
        Ok(w)
    }

    fn start(
        &mut self,
        format: ImageFormat,
        header: &ImageHeader,
        catalog: &Catalog,
        sequences: &[(Oid, i64, bool)],
        origins: &[(u16, OriginProgress)],
        ntables: usize,
    ) -> PgResult<()> {
        let b = &mut self.buf;
        b.buf.extend_from_slice(match format {
            ImageFormat::NoRows => MAGIC,
            ImageFormat::WithRows => MAGIC_V2,
        });
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
        self.flush_buf()
    }

    fn flush_buf(&mut self) -> PgResult<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf.buf);
        match &mut self.out {
            Output::File(f) => f
                .write_all(&self.buf.buf)
                .map_err(|e| io_err("write", &self.tmp, &e))?,
            Output::Memory(v) => v.extend_from_slice(&self.buf.buf),
        }
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

    /// The in-memory image with its CRC.
    pub fn finish_in_memory(mut self) -> PgResult<Vec<u8>> {
        self.flush_buf()?;
        match self.out {
            Output::Memory(mut v) => {
                v.extend_from_slice(&self.crc.to_le_bytes());
                Ok(v)
            }
            Output::File(_) => Err(PgError::internal("checkpoint image is not in memory")),
        }
    }

    /// Writes the CRC, fsyncs, renames over `base/checkpoint`, fsyncs `base/`.
    pub fn finish(mut self, fsync: bool) -> PgResult<u64> {
        self.flush_buf()?;
        let crc = self.crc;
        let Output::File(mut out) = self.out else {
            return Err(PgError::internal("checkpoint image is not a file"));
        };
        out.write_all(&crc.to_le_bytes())
            .map_err(|e| io_err("write", &self.tmp, &e))?;
        let file = out
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
    let magic = bytes.get(..8).unwrap_or_default();
    if bytes.len() < 12 || ![&MAGIC[..], MAGIC_V2, MAGIC_V1].contains(&magic) {
        return Err(corrupt_image());
    }
    let has_origins = magic != MAGIC_V1;
    let has_rows = magic != MAGIC;
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
            let key = RowKey::new(r.bytes()?);
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
        has_rows,
        tables,
    })
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The consistent point of a checkpoint or restartpoint, taken under the
/// commit mutex.
struct Point<'a> {
    redo: Lsn,
    timeline: TimeLineId,
    /// Rows visible at this LSN are the image's.
    snapshot: Lsn,
    catalog: &'a Catalog,
    sequences: &'a [(Oid, i64, bool)],
    origins: &'a [(u16, OriginProgress)],
}

/// Writes `pg_logical/catalog_history` (the versions from the decoding floor
/// up to `redo`) and prunes the in-memory history below what is still read.
/// `wal_floor` (a standby: the oldest WAL it keeps) lowers the decoding floor:
/// a standby keeps the catalog history its WAL covers, as PostgreSQL's standby
/// has the catalog rows its primary keeps, so that a slot synchronized later
/// can decode from any WAL still there. The first version kept carries the LSN
/// the history is exact from, read back at startup.
fn keep_catalog_history(
    db: &Database,
    redo: Lsn,
    snapshot: Lsn,
    wal_floor: Option<Lsn>,
) -> PgResult<()> {
    let slots = db.catalog_floor.read().as_ref().and_then(|f| f());
    let floor = [slots, wal_floor].into_iter().flatten().min();
    let mut keep = match floor {
        Some(f) if f < redo => db.catalog.read().versions_between(f, redo),
        _ if wal_floor.is_some() => db.catalog.read().versions_between(redo, redo),
        _ => Vec::new(),
    };
    // The version startup began with carries no install LSN: the file names
    // the position it is known exact from instead.
    if let Some(first) = keep.first_mut().filter(|(l, _)| !l.is_valid()) {
        first.0 = Lsn(db.catalog_exact_from.load(Ordering::Acquire));
    }
    crate::catalog_file::write(&db.datadir, &keep, db.fsync)?;
    let horizon = [Some(snapshot), floor, db.snapshots.oldest()]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(snapshot);
    let mut history = db.catalog.write();
    history.prune_before(horizon);
    // The oldest version kept is exact from its install LSN (INVALID: the
    // version startup began with, exact from where it already was).
    if let Some(first) = history.change_lsns().first().filter(|l| l.is_valid()) {
        db.catalog_exact_from.fetch_max(first.0, Ordering::AcqRel);
    }
    Ok(())
}

fn image_header(db: &Database, p: &Point) -> ImageHeader {
    ImageHeader {
        redo: p.redo,
        timeline: p.timeline,
        next_xid: Xid(db.next_xid.load(Ordering::Relaxed)),
        next_oid: Oid(db.next_oid.load(Ordering::Relaxed)),
        next_rowid: db.next_rowid.load(Ordering::Relaxed),
        time: unix_now(),
    }
}

/// Step 3: the table store durable up to `p.snapshot`, then the image of `p`
/// (no rows) durable under `base/checkpoint`. Returns the header, the rows
/// the applier wrote since the last checkpoint, and when the writing ended
/// (the rest is syncing).
fn write_image(db: &Database, p: &Point) -> PgResult<(ImageHeader, u64, Instant)> {
    db.applier.wait_written(p.snapshot)?;
    let rows = db.applier.take_rows_written();
    let write_done = Instant::now();
    db.applier.store()?.persist()?;
    let header = image_header(db, p);
    ImageWriter::create(
        &db.datadir,
        ImageFormat::NoRows,
        &header,
        p.catalog,
        p.sequences,
        p.origins,
        0,
    )?
    .finish(db.fsync)?;
    Ok((header, rows, write_done))
}

/// What a base backup sends of its checkpoint: the image as written (version
/// 3, no rows) and a view of the table store, which holds at least the
/// checkpoint's commits (the rows; WAL replay from the redo LSN skips what
/// the view already holds, as after a crash).
pub struct BackupPoint {
    pub redo: Lsn,
    pub image: Vec<u8>,
    pub store: StoreSnapshot,
}

/// The [`BackupPoint`] of the checkpoint whose image was just written
/// (under the checkpoint lock: no other checkpoint replaces the file).
fn backup_point(db: &Database, redo: Lsn) -> PgResult<BackupPoint> {
    let path = checkpoint_path(&db.datadir);
    let image = std::fs::read(&path).map_err(|e| {
        PgError::new(
            SqlState::IO_ERROR,
            format!("could not read file \"{}\": {e}", path.display()),
        )
    })?;
    Ok(BackupPoint {
        redo,
        image,
        store: db.applier.store()?.snapshot()?,
    })
}

/// Step 7: forgets the recent heaps of tables with nothing recent left (the
/// table store prunes versions no snapshot at or after `horizon` sees as it
/// writes their keys).
fn sweep(db: &Database, _horizon: Lsn) {
    db.heap.sweep();
}

/// Step 6, the decision: the start of the oldest segment to keep,
/// `min(upto, retention floor)` rounded down to its segment (`upto`: the redo
/// LSN; for a restartpoint the start of the record ending at its redo). The
/// floor hook also invalidates slots past `max_slot_wal_keep_size`.
fn wal_keep_point(db: &Database, upto: Lsn) -> Lsn {
    let floor = db.retention_floor.read().as_ref().and_then(|f| f());
    let keep = floor.map_or(upto, |f| f.min(upto));
    let seg = db.wal.segment_size().max(1);
    Lsn(keep.0 - keep.0 % seg)
}

/// Step 6: removes the segments wholly before `keep` (from
/// [`wal_keep_point`]). The WAL never removes the segment of its insert
/// position (on a standby, the one the walreceiver writes).
fn remove_old_wal(db: &Database, keep: Lsn) -> PgResult<usize> {
    db.wal.remove_segments_before(keep)
}

/// Runs one checkpoint (see the module comment for the order of steps).
pub fn run(db: &Database, reason: &str) -> PgResult<CheckpointStats> {
    run_inner(db, reason, false).map(|(stats, _)| stats)
}

/// A checkpoint for a base backup: also returns its image and a view of the
/// table store taken after it ([`BackupPoint`]).
pub fn run_for_backup(db: &Database, reason: &str) -> PgResult<(CheckpointStats, BackupPoint)> {
    let (stats, point) = run_inner(db, reason, true)?;
    let point = point.ok_or_else(|| PgError::internal("no base backup point"))?;
    Ok((stats, point))
}

fn run_inner(
    db: &Database,
    reason: &str,
    backup: bool,
) -> PgResult<(CheckpointStats, Option<BackupPoint>)> {
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
    let result = (|| -> PgResult<_> {
        // 2. The image must not get ahead of durable WAL.
        db.wal.flush(redo)?;
        // 2b. Catalog history logical slots still need (before the image, so
        // any image startup finds is covered), and pruning of the rest.
        keep_catalog_history(db, redo, snapshot, None)?;
        // 3. The table store, then the image.
        let point = Point {
            redo,
            timeline: db.wal.timeline(),
            snapshot,
            catalog: &catalog,
            sequences: &sequences,
            origins: &origins,
        };
        let (header, rows, write_done) = write_image(db, &point)?;
        let backup_image = if backup {
            Some(backup_point(db, redo)?)
        } else {
            None
        };
        Ok((header, rows, write_done, backup_image))
    })();
    db.snapshots.release(snap_id);
    let (header, rows, write_done, backup_image) = result?;
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
    let removed = remove_old_wal(db, wal_keep_point(db, redo))?;

    // 7. Garbage.
    sweep(db, db.snapshots.horizon(db).min(snapshot));

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
    Ok((
        CheckpointStats {
            redo_lsn: redo,
            rows_written: rows,
            segments_removed: removed,
            duration_ms: total.as_millis() as u64,
        },
        backup_image,
    ))
}

/// A standby's restartpoint (see the module comment): `reason` as for
/// [`run`] ("time", "wal", "immediate force wait", "shutdown"). Skipped when
/// no transaction boundary was replayed since the last one (a shutdown then
/// only records "shut down in recovery").
pub fn restartpoint(db: &Database, reason: &str) -> PgResult<CheckpointStats> {
    let _only_one = db.checkpoint_lock.lock();
    let shutdown = reason == "shutdown";
    let prev = db.control.lock().clone();
    let end_state = if shutdown {
        DbState::ShutDownInRecovery
    } else {
        DbState::InArchiveRecovery
    };

    // 1. The consistent point: the last replayed transaction boundary.
    let (redo, last_record, timeline, snapshot, snap_id, catalog, sequences, origins) = {
        let _commit = db.commit_lock.lock();
        let redo = Lsn(db.restart_boundary.load(Ordering::Acquire));
        let last_record = Lsn(db.restart_boundary_record.load(Ordering::Acquire));
        let snapshot = db.applied_lsn();
        (
            redo,
            last_record,
            db.control.lock().timeline,
            snapshot,
            db.snapshots.register(snapshot),
            db.catalog(),
            db.sequences.logged_states(),
            db.origin_progress_all(),
        )
    };
    if !redo.is_valid() || redo <= prev.redo_lsn {
        db.snapshots.release(snap_id);
        emit(
            Level::Debug,
            &format!(
                "skipping restartpoint, already performed at {}",
                prev.redo_lsn
            ),
            None,
            None,
        );
        if shutdown {
            let mut c = db.control.lock();
            c.state = end_state;
            write_control(&db.datadir, &c, db.fsync)?;
        }
        return Ok(CheckpointStats {
            redo_lsn: prev.redo_lsn,
            ..CheckpointStats::default()
        });
    }
    let shown = if shutdown {
        "shutdown immediate"
    } else {
        reason
    };
    emit(
        Level::Log,
        &format!("restartpoint starting: {shown}"),
        None,
        None,
    );
    let started = Instant::now();
    // The control file's checkpoint LSN names the record ending at `redo`
    // (the next start opens the WAL from it, see `recovery.rs`), or is `redo`
    // when that is unknown; WAL is kept from there or the slots' floor.
    let checkpoint_lsn = if last_record.is_valid() && last_record < redo {
        last_record
    } else {
        redo
    };
    let keep = wal_keep_point(db, checkpoint_lsn);

    // 2-3. Catalog history (as far back as the WAL kept), then the image
    // (replay only reads flushed WAL: nothing to flush).
    let result = (|| {
        keep_catalog_history(db, redo, snapshot, Some(keep))?;
        write_image(
            db,
            &Point {
                redo,
                timeline,
                snapshot,
                catalog: &catalog,
                sequences: &sequences,
                origins: &origins,
            },
        )
    })();
    db.snapshots.release(snap_id);
    let (header, rows, write_done) = result?;
    let sync_done = Instant::now();

    // 4. No WAL record. 5. The control file: the next start replays from here.
    {
        let mut c = db.control.lock();
        let mut next = c.clone();
        next.checkpoint_lsn = checkpoint_lsn;
        next.redo_lsn = redo;
        next.checkpoint_time = header.time;
        next.next_xid = header.next_xid;
        next.next_oid = header.next_oid;
        next.next_rowid = header.next_rowid;
        next.state = end_state;
        write_control(&db.datadir, &next, db.fsync)?;
        *c = next;
    }

    // 6. WAL no longer needed (the record ending at `redo` stays); 7. garbage.
    let removed = remove_old_wal(db, keep)?;
    sweep(db, db.snapshots.horizon(db).min(snapshot));

    let total = started.elapsed();
    let distance_kb = redo.0.saturating_sub(prev.redo_lsn.0) / 1024;
    emit(
        Level::Log,
        &format!(
            "restartpoint complete: wrote {rows} rows; 0 WAL file(s) added, {removed} removed, 0 recycled; \
             write={:.3} s, sync={:.3} s, total={:.3} s; distance={distance_kb} kB; lsn={checkpoint_lsn}, redo lsn={redo}",
            write_done.duration_since(started).as_secs_f64(),
            sync_done.duration_since(write_done).as_secs_f64(),
            total.as_secs_f64(),
        ),
        None,
        None,
    );
    let detail = db.last_replay_commit_time().map(|t| {
        format!(
            "Last completed transaction was at log time {}.",
            crate::display::value_text(&tandem_types::Value::TimestampTz(t))
        )
    });
    emit(
        Level::Log,
        &format!("recovery restart point at {redo}"),
        detail.as_deref(),
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

    /// The header the image tests write.
    fn sample_header() -> ImageHeader {
        ImageHeader {
            redo: Lsn(0x1000000),
            timeline: TimeLineId(1),
            next_xid: Xid(740),
            next_oid: Oid(16384),
            next_rowid: 1,
            time: 1_700_000_000,
        }
    }

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
            ImageFormat::WithRows,
            &header,
            &cat,
            &[(Oid(16385), 33, true)],
            &origins,
            2,
        )
        .unwrap();
        w.begin_table(Oid(16384)).unwrap();
        w.row(
            &RowKey::from(vec![1]),
            &[Value::Int4(1), Value::Text("a".into())],
        )
        .unwrap();
        w.row(&RowKey::from(vec![2]), &[Value::Int4(2), Value::Null])
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
            img.tables[0].1.seen(&RowKey::from(vec![2]), Lsn(0)),
            crate::heap::Seen::Row(vec![Value::Int4(2), Value::Null].into())
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
        let header = sample_header();
        let cat = bootstrap_catalog("postgres", None);
        ImageWriter::create(
            dir.path(),
            ImageFormat::WithRows,
            &header,
            &cat,
            &[],
            &[],
            0,
        )
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
        assert!(img.has_rows);
    }

    #[test]
    fn version_3_image_has_no_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("base")).unwrap();
        let header = sample_header();
        let cat = bootstrap_catalog("postgres", None);
        ImageWriter::create(dir.path(), ImageFormat::NoRows, &header, &cat, &[], &[], 0)
            .unwrap()
            .finish(false)
            .unwrap();
        let bytes = std::fs::read(checkpoint_path(dir.path())).unwrap();
        assert_eq!(&bytes[..8], b"TNDMCKP3");
        let img = load_image(dir.path()).unwrap();
        assert_eq!(img.header, header);
        assert!(!img.has_rows);
        assert!(img.tables.is_empty());
        // the in-memory image of a base backup is a version 2 image
        let mem = ImageWriter::in_memory(&header, &cat, &[], &[], 0)
            .unwrap()
            .finish_in_memory()
            .unwrap();
        std::fs::write(checkpoint_path(dir.path()), &mem).unwrap();
        let img = load_image(dir.path()).unwrap();
        assert!(img.has_rows);
        assert_eq!(img.header, header);
    }
}
