//! initdb and startup: [`bootstrap`] creates a data directory; [`open`] loads the
//! last checkpoint image and replays WAL from its redo LSN (crash recovery).
//!
//! Replay reads records from the redo LSN to the end of valid WAL. A transaction's
//! changes are buffered by xid until its COMMIT record, then applied exactly as the
//! live commit path applies them (`Database::apply_committed`, stamped with the
//! COMMIT record's end LSN), so the recovered heap and catalog equal the committed
//! ones. Changes without a COMMIT (the torn tail of a crash) are dropped. SEQUENCE
//! records apply at once (non-transactional); MESSAGE records (logical decoding
//! messages) are skipped, and so are SLOT_STATE records, which a standby's
//! replay hands to slot synchronization instead ([`StandbyReplay::set_slot_state_sink`]). A COMMIT carrying a replication origin moves that
//! origin's progress (`origin.rs`), so standbys and restarts keep it. Id counters (xid, OID, row id) are
//! raised past every value seen. After crash recovery an end-of-recovery checkpoint
//! is written; the control file says "in production" while the node runs. A
//! standby ([`open_standby`]) starts from its last restartpoint's image when it
//! has one.
//!
//! Rows live in the table store (`base/store`, `store/`), which the applier
//! (`applier.rs`) fills with flushed commits. At startup the store is opened;
//! if the image still carries rows (a version 1 or 2 image: a data directory
//! written before the store, or a base backup) and the store is behind the
//! image's redo LSN, the image's rows are put into the store first. The heap
//! is then filled from the store (its rows as of its `applied_lsn`), and
//! replay skips the row changes of commits at or before that LSN (they are in
//! the store) while applying their catalog, sequence, id and origin effects.
//! PostgreSQL counterparts: `initdb.c`, `xlogrecovery.c`, `xlog.c` (StartupXLOG).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tandem_types::elog::{emit, Level};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, TimeLineId, Value, Xid};
use tandem_wal::{ReadRecord, Wal, WalOptions};

use crate::catalog::{apply_op, bootstrap_catalog, op_oid, FIRST_NORMAL_OID};
use crate::checkpoint::{self, load_image, unix_now, ImageFormat, ImageHeader, ImageWriter};
use crate::control::{
    control_path, new_system_identifier, read_control, write_control, ControlFile, DbState,
};
use crate::database::Loaded;
use crate::display::value_text;
use crate::heap::Heap;
use crate::keycode::rowid_of;
use crate::mvcc::spill::InsertRun;
use crate::mvcc::txn::FIRST_XID;
use crate::record::{self, Change, CheckpointRecord, StorageRecord};
use crate::sequence::Sequences;
use crate::store::{RangeLoad, StoreBatch, StoreOptions, TableStore};
use crate::SlotFloors;
use crate::{BootstrapOptions, Database, OpenOptions};

const DEFAULT_SEGMENT_SIZE: u64 = 16 * 1024 * 1024;

/// Rows per batch when an image's rows are put into the table store.
const INGEST_BATCH: usize = 10_000;

/// The table store of a data directory.
pub fn store_path(datadir: &Path) -> std::path::PathBuf {
    datadir.join("base").join("store")
}

fn mkdir(path: &Path) -> PgResult<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| PgError::io(format_args!("create directory \"{}\"", path.display()), &e))
}

/// initdb: control file, bootstrap catalog image, first WAL segment.
pub fn bootstrap(datadir: &Path, opts: BootstrapOptions) -> PgResult<()> {
    if control_path(datadir).exists() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "data directory \"{}\" already contains a database cluster",
                datadir.display()
            ),
        ));
    }
    for sub in ["global", "base", "pg_wal"] {
        mkdir(&datadir.join(sub))?;
    }
    let segment_size = if opts.wal_segment_size == 0 {
        DEFAULT_SEGMENT_SIZE
    } else {
        opts.wal_segment_size
    };
    let timeline = TimeLineId(1);
    let wal = Wal::create(
        WalOptions {
            dir: datadir.join("pg_wal"),
            timeline,
            segment_size,
            fsync: true,
        },
        Lsn(segment_size),
    )?;
    let redo = wal.insert_lsn();
    let catalog = bootstrap_catalog(&opts.superuser, opts.password_verifier);
    let header = ImageHeader {
        redo,
        timeline,
        next_xid: Xid(FIRST_XID),
        next_oid: Oid(FIRST_NORMAL_OID),
        next_rowid: 1,
        time: unix_now(),
    };
    // the table store, empty
    drop(TableStore::open(
        &store_path(datadir),
        StoreOptions {
            cache_bytes: 8 << 20,
            memtable_bytes: 8 << 20,
        },
    )?);
    ImageWriter::create(datadir, ImageFormat::NoRows, &header, &catalog, &[], &[], 0)?
        .finish(true)?;
    let rec = CheckpointRecord {
        redo,
        timeline,
        next_xid: header.next_xid,
        next_oid: header.next_oid,
        shutdown: true,
    };
    let (starts, end) = wal.append(&[record::checkpoint_record(&rec)])?;
    wal.flush(end)?;
    let control = ControlFile {
        system_identifier: new_system_identifier(),
        state: DbState::ShutDown,
        timeline,
        checkpoint_lsn: starts.first().copied().unwrap_or(redo),
        redo_lsn: redo,
        checkpoint_time: header.time,
        next_xid: header.next_xid,
        next_oid: header.next_oid,
        wal_segment_size: segment_size,
        next_rowid: 1,
    };
    write_control(datadir, &control, true)
}

fn pg_time_text(unix_secs: i64) -> String {
    format!(
        "{} UTC",
        value_text(&Value::Timestamp((unix_secs - 946_684_800) * 1_000_000))
    )
}

/// Startup: load the image, replay WAL, mark the cluster in production.
pub fn open(datadir: &Path, opts: OpenOptions, floors: SlotFloors) -> PgResult<Arc<Database>> {
    let control = read_control(datadir)?;
    let image = load_image(datadir)?;
    let redo = image.header.redo;
    let crash = control.state != DbState::ShutDown;
    if crash {
        if control.state == DbState::InProduction {
            emit(
                Level::Log,
                &format!(
                    "database system was interrupted; last known up at {}",
                    pg_time_text(control.checkpoint_time)
                ),
                None,
                None,
            );
        }
        emit(
            Level::Log,
            "database system was not properly shut down; automatic recovery in progress",
            None,
            None,
        );
    } else {
        emit(
            Level::Log,
            &format!(
                "database system was shut down at {}",
                pg_time_text(control.checkpoint_time)
            ),
            None,
            None,
        );
    }
    let db = assemble_from_image(datadir, &opts, &control, image)?;
    // until the server installs its hooks over the live slots
    if let Some(wal) = floors.wal {
        db.set_retention_floor(Box::new(move || Some(wal)));
    }
    if let Some(catalog) = floors.catalog {
        db.set_catalog_floor(Box::new(move || Some(catalog)));
    }
    let replayed = replay(&db, redo, crash)?;
    if crash && replayed > 0 {
        checkpoint::run(&db, "end-of-recovery immediate wait")?;
    } else {
        let mut c = db.control.lock();
        c.state = DbState::InProduction;
        write_control(datadir, &c, opts.fsync)?;
    }
    Ok(db)
}

/// Applies WAL records to a database in order: crash recovery here, and a
/// standby's startup process later. Changes wait per xid for their COMMIT;
/// a bulk load's inserts move to the table store as they come, as they did
/// on the primary (`docs/storage.md` §3), so that replaying one transaction
/// does not hold all its rows.
#[derive(Default)]
pub struct Redo {
    pending: HashMap<Xid, PendingTxn>,
    /// Where pending transactions' bulk ranges are (given up if the
    /// transaction never commits).
    store: Option<Arc<TableStore>>,
}

/// A transaction's changes read so far.
#[derive(Default)]
struct PendingTxn {
    changes: Vec<Change>,
    /// Tables the transaction created or truncated, keyed by row ids (its
    /// inserts into them may move to the table store), with the bulk range
    /// they moved to, once they have.
    bulk: HashMap<Oid, Option<u32>>,
    /// The inserts `changes` ends with.
    run: Option<InsertRun>,
    /// The bulk ranges the commit adopts (before which change, table, range).
    adopts: Vec<(usize, Oid, u32)>,
    /// Those still being written, by range.
    loads: HashMap<u32, RangeLoad>,
}

impl PendingTxn {
    /// Adds a change; moves the run of inserts it ends to the table store
    /// once the run is large (the rows of a table the transaction created or
    /// truncated, when the store does not have the transaction yet).
    fn push(
        &mut self,
        db: &Database,
        mut c: Change,
        lsn: Lsn,
    ) -> PgResult<Option<Arc<TableStore>>> {
        match &c {
            Change::Truncate { tables, .. } => {
                // later runs go to a new range (the truncate retires the
                // one before, if any)
                let cat = db.catalog();
                for t in tables {
                    let keyless = self.bulk.contains_key(t)
                        || cat.tables.get(t).is_some_and(|d| d.primary_key.is_none());
                    if keyless {
                        self.bulk.insert(*t, None);
                    }
                }
            }
            Change::Catalog(op) => match op.as_ref() {
                crate::CatalogOp::PutTable { def, .. } => {
                    let new = !db.catalog().tables.contains_key(&def.oid);
                    if new && def.primary_key.is_none() {
                        self.bulk.insert(def.oid, None);
                    } else if def.primary_key.is_some() {
                        self.bulk.remove(&def.oid);
                    }
                }
                crate::CatalogOp::AddPrimaryKey { table, .. }
                | crate::CatalogOp::DropTable(table) => {
                    self.bulk.remove(table);
                }
                _ => {}
            },
            _ => {}
        }
        let inserted = match &c {
            Change::Insert { table, .. } => Some(*table),
            _ => None,
        };
        let bytes = c.mem_size();
        // replay needs no old row image: not held until the COMMIT
        c.drop_old_tuple();
        self.changes.push(c);
        let at = self.changes.len() - 1;
        self.run = InsertRun::next(self.run, at, inserted, bytes);
        let Some(InsertRun {
            table,
            start,
            bytes: n,
            ..
        }) = self.run
        else {
            return Ok(None);
        };
        if n < db.bulk_spill_bytes() || !self.bulk.contains_key(&table) {
            return Ok(None);
        }
        let store = db.table_store()?;
        if store.applied_lsn() > lsn {
            // the store has this transaction already: its rows are not needed
            return Ok(None);
        }
        self.run = None;
        let rows: Vec<(crate::RowKey, crate::heap::Row)> = self
            .changes
            .drain(start..)
            .filter_map(|c| match c {
                Change::Insert { key, row, .. } => Some((key, row)),
                _ => None,
            })
            .collect();
        if let Some((last, _)) = rows.last() {
            db.bump_ids(None, None, rowid_of(last));
        }
        let sid = match self.bulk.get(&table).copied().flatten() {
            Some(sid) => sid,
            None => {
                let sid = store.reserve_range(table)?;
                self.bulk.insert(table, Some(sid));
                self.adopts.push((self.changes.len(), table, sid));
                sid
            }
        };
        RangeLoad::of(&mut self.loads, &store, sid)?.send(&rows)?;
        Ok(Some(store))
    }

    /// Waits until every bulk range holds the rows sent to it.
    fn loaded(&mut self) -> PgResult<()> {
        RangeLoad::finish_all(self.loads.drain().map(|(_, l)| l))
    }

    /// Gives up the bulk ranges (the transaction did not commit, or the
    /// store had it already).
    fn abandon(&mut self, store: &TableStore) {
        let _ = self.loaded();
        for &(_, table, sid) in &self.adopts {
            store.abandon_range(sid, table);
        }
    }
}

impl Drop for Redo {
    fn drop(&mut self) {
        if let Some(store) = &self.store {
            for p in self.pending.values_mut() {
                p.abandon(store);
            }
        }
    }
}

impl Redo {
    pub fn new() -> Redo {
        Redo::default()
    }

    /// Applies one record; returns false for records storage ignores (CHECKPOINT,
    /// other crates' kinds).
    pub fn apply(&mut self, db: &Database, rec: &ReadRecord) -> PgResult<bool> {
        let Some(decoded) = record::decode(rec.kind, &rec.payload)? else {
            return Ok(false);
        };
        match decoded {
            StorageRecord::Change(c) => {
                db.bump_ids(Some(rec.xid), None, None);
                let pending = self.pending.entry(rec.xid).or_default();
                if let Some(store) = pending.push(db, c, rec.lsn)? {
                    self.store = Some(store);
                }
            }
            StorageRecord::Commit(c) => {
                db.bump_ids(Some(rec.xid), None, None);
                let pending = self.pending.remove(&rec.xid).unwrap_or_default();
                replay_commit(db, pending, rec.end_lsn, c.origin)?;
            }
            StorageRecord::Sequence(s) => db.sequences.redo(&s),
            StorageRecord::Checkpoint(_) | StorageRecord::SlotState(_) => return Ok(false),
            // Logical decoding messages change nothing; only keep the xid counter
            // past the emitting transaction's xid.
            StorageRecord::Message(_) => {
                if rec.xid.is_valid() {
                    db.bump_ids(Some(rec.xid), None, None);
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Transactions whose changes were read but whose COMMIT was not (yet).
    pub fn pending_xids(&self) -> Vec<Xid> {
        self.pending.keys().copied().collect()
    }
}

/// Replays WAL from `redo`; returns how many records were applied.
fn replay(db: &Database, redo: Lsn, crash: bool) -> PgResult<u64> {
    let started = Instant::now();
    let mut reader = db.wal.reader(redo);
    let mut redo_state = Redo::new();
    let mut applied = 0u64;
    let mut last: Option<Lsn> = None;
    while let Some(rec) = reader.next_record()? {
        if !redo_state.apply(db, &rec)? {
            continue;
        }
        if last.is_none() && crash {
            emit(Level::Log, &format!("redo starts at {redo}"), None, None);
        }
        last = Some(rec.lsn);
        applied += 1;
    }
    if crash {
        if let (Some(_), Some(end)) = (last, db.wal.end_of_wal_at_open()) {
            emit(Level::Log, &end.to_string(), None, None);
        }
        match last {
            Some(l) => emit(
                Level::Log,
                &format!(
                    "redo done at {l} system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: {:.2} s",
                    started.elapsed().as_secs_f64()
                ),
                None,
                None,
            ),
            None => emit(Level::Log, "redo is not required", None, None),
        }
    }
    Ok(applied)
}

fn replay_commit(
    db: &Database,
    mut pending: PendingTxn,
    end: Lsn,
    origin: Option<record::CommitOrigin>,
) -> PgResult<()> {
    // the rows of a commit the table store already holds are read from it:
    // only the rest of the commit applies
    let store = db.applier.store().ok();
    let rows = end > store.as_ref().map_or(Lsn::INVALID, |s| s.applied_lsn());
    match (rows, &store) {
        (false, Some(store)) => pending.abandon(store),
        _ => pending.loaded()?,
    }
    let PendingTxn {
        changes, adopts, ..
    } = std::mem::take(&mut pending);
    let adopts = if rows { adopts } else { Vec::new() };
    let mut new_catalog = None;
    for c in &changes {
        if let Change::Catalog(op) = c {
            let cat = new_catalog.get_or_insert_with(|| (*db.catalog()).clone());
            apply_op(cat, op);
            db.bump_ids(None, Some(op_oid(op)), None);
        }
    }
    let new_catalog = new_catalog.map(Arc::new);
    {
        let cat = new_catalog.clone().unwrap_or_else(|| db.catalog());
        for c in &changes {
            if let Change::Insert { table, key, .. } = c {
                let keyless = cat
                    .tables
                    .get(table)
                    .is_some_and(|t| t.primary_key.is_none());
                if keyless {
                    db.bump_ids(None, None, rowid_of(key));
                }
            }
        }
    }
    db.apply_committed_rows(changes, end, new_catalog, origin, rows, adopts);
    Ok(())
}

/// Puts an image's rows (visible at its redo LSN) into the table store, which
/// is behind that LSN: whatever it held is removed first, the rows go in
/// batches, and the last batch moves its `applied_lsn` to `redo`, so that a
/// crash in between makes the next start do it again.
fn ingest_image_rows(
    store: &TableStore,
    tables: Vec<(Oid, crate::heap::TableHeap)>,
    redo: Lsn,
) -> PgResult<()> {
    let keep = store.applied_lsn();
    let mut clear = StoreBatch::new(keep, Lsn::INVALID);
    for oid in store.tables() {
        clear.drop_storage(oid, Lsn::INVALID);
    }
    store.apply(&clear)?;
    let mut rows = Vec::new();
    for (oid, t) in &tables {
        let mut from: Option<crate::RowKey> = None;
        loop {
            rows.clear();
            let lower = from
                .as_ref()
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
            let more = t.visible_batch(lower, Lsn::INVALID, INGEST_BATCH, &mut rows);
            let mut batch = StoreBatch::new(keep, Lsn::INVALID);
            from = rows.last().map(|(k, _)| k.clone());
            for (k, row) in rows.drain(..) {
                batch.put(*oid, k, row, Lsn::INVALID);
            }
            store.apply(&batch)?;
            if !more || from.is_none() {
                break;
            }
        }
    }
    store.apply(&StoreBatch::new(redo, Lsn::INVALID))?;
    store.persist()
}

/// Opens the table store; fills it from the image's rows when the image has
/// rows and the store is behind the image's redo LSN (a data directory from
/// before the store, a base backup); returns it with an empty heap (reads of
/// rows fall through to the store).
fn open_store(
    datadir: &Path,
    opts: &OpenOptions,
    image: &mut crate::checkpoint::Image,
) -> PgResult<(TableStore, Heap)> {
    let store = TableStore::open(
        &store_path(datadir),
        StoreOptions {
            cache_bytes: opts.store_cache_bytes,
            memtable_bytes: opts.store_memtable_bytes,
        },
    )?;
    let tables = std::mem::take(&mut image.tables);
    if image.has_rows && store.applied_lsn() < image.header.redo {
        ingest_image_rows(&store, tables, image.header.redo)?;
    }
    // the rows stay in the store: the heap only takes commits after it
    let heap = Heap::default();
    Ok((store, heap))
}

/// Receives each SLOT_STATE record a standby replays, with the record's end
/// LSN, once `Database::replay_lsn` has reached that end. Runs on the replay
/// thread: it must only hand the record over, never wait.
pub type SlotStateSink = Box<dyn Fn(record::SlotStateRecord, Lsn) + Send>;

/// A standby's replay state (PostgreSQL's startup process in standby mode): the
/// redo buffer and the reader position over the node's own, growing WAL.
pub struct StandbyReplay {
    slot_state_sink: Option<SlotStateSink>,
    redo: Redo,
    reader: tandem_wal::WalReader,
    replayed: Lsn,
    /// Start of the last record replayed (INVALID: none yet).
    last_record: Lsn,
    last_commit_time: Option<i64>,
    /// The timeline of the last record replayed (the control file's).
    timeline: TimeLineId,
}

impl StandbyReplay {
    /// Applies every durable record not yet applied; returns how many were applied.
    /// Records past the WAL's flush LSN wait for the next call.
    pub fn replay_available(&mut self, db: &Database) -> PgResult<u64> {
        let mut n = 0;
        while let Some(rec) = self.reader.next_record()? {
            if rec.kind == record::kinds::COMMIT {
                if let Ok(Some(StorageRecord::Commit(c))) = record::decode(rec.kind, &rec.payload) {
                    self.last_commit_time = Some(c.commit_time);
                    db.replay_commit_time
                        .store(c.commit_time, std::sync::atomic::Ordering::Release);
                }
            }
            // Under the commit mutex, so that a restartpoint sees the heap,
            // sequences and origins exactly as of the boundary it reads.
            {
                let _commit = db.commit_lock.lock();
                self.redo.apply(db, &rec)?;
                if self.redo.pending.is_empty() {
                    db.restart_boundary
                        .store(rec.end_lsn.0, std::sync::atomic::Ordering::Release);
                    db.restart_boundary_record
                        .store(rec.lsn.0, std::sync::atomic::Ordering::Release);
                }
            }
            if db.wal.timeline() != self.timeline {
                self.follow_timeline(db, rec.lsn)?;
            }
            self.replayed = rec.end_lsn;
            self.last_record = rec.lsn;
            db.replay_lsn
                .store(rec.end_lsn.0, std::sync::atomic::Ordering::Release);
            if rec.kind == record::kinds::SLOT_STATE {
                if let Some(sink) = &self.slot_state_sink {
                    if let Some(StorageRecord::SlotState(s)) =
                        record::decode(rec.kind, &rec.payload)?
                    {
                        sink(s, rec.end_lsn);
                    }
                }
            }
            n += 1;
        }
        Ok(n)
    }

    /// Where replayed SLOT_STATE records go (slot synchronization); without
    /// a sink they are skipped.
    pub fn set_slot_state_sink(&mut self, sink: SlotStateSink) {
        self.slot_state_sink = Some(sink);
    }

    /// The WAL moved to a new timeline (the walreceiver follows a promoted
    /// node): once replay reaches a record of the new timeline, the control
    /// file records it (IDENTIFY_SYSTEM and `pg_control_checkpoint()` report it,
    /// and a restart opens the WAL on it).
    fn follow_timeline(&mut self, db: &Database, lsn: Lsn) -> PgResult<()> {
        let tli = db.wal.timeline_of(lsn);
        if tli != self.timeline {
            self.timeline = tli;
            let mut c = db.control.lock();
            c.timeline = tli;
            write_control(&db.datadir, &c, db.fsync)?;
        }
        Ok(())
    }

    /// End of the last record replayed.
    pub fn replayed(&self) -> Lsn {
        self.replayed
    }

    /// The WAL flush position the last [`StandbyReplay::replay_available`]
    /// read up to: more can be replayed only once the flush position passes
    /// it (the caller waits with `Wal::wait_for_flush(flush_seen, ..)`).
    pub fn flush_seen(&self) -> Lsn {
        self.reader.flush_seen()
    }

    /// Commit time of the last replayed COMMIT (µs since 2000-01-01).
    pub fn last_commit_time(&self) -> Option<i64> {
        self.last_commit_time
    }
}

/// Opens a data directory in standby mode (`standby.signal`): loads the image,
/// replays the WAL present, and stays in recovery: read-only, restartpoints
/// instead of checkpoints, no WAL appends except received bytes
/// (`Wal::append_raw`). Replay moves `Database::restart_boundary`, the redo
/// LSN of the next restartpoint (`checkpoint.rs`). The returned
/// [`StandbyReplay`] applies WAL as it becomes durable.
pub fn open_standby(datadir: &Path, opts: OpenOptions) -> PgResult<(Arc<Database>, StandbyReplay)> {
    let control = read_control(datadir)?;
    let image = load_image(datadir)?;
    let redo = image.header.redo;
    emit(Level::Log, "entering standby mode", None, None);
    let db = assemble_from_image(datadir, &opts, &control, image)?;
    db.in_recovery
        .store(true, std::sync::atomic::Ordering::Release);
    db.replay_lsn
        .store(redo.0, std::sync::atomic::Ordering::Release);
    let mut replay = StandbyReplay {
        slot_state_sink: None,
        redo: Redo::new(),
        reader: db.wal.reader(redo),
        replayed: redo,
        last_record: Lsn::INVALID,
        last_commit_time: None,
        timeline: control.timeline,
    };
    emit(Level::Log, &format!("redo starts at {redo}"), None, None);
    replay.replay_available(&db)?;
    {
        let mut c = db.control.lock();
        c.state = DbState::InArchiveRecovery;
        write_control(datadir, &c, opts.fsync)?;
    }
    emit(
        Level::Log,
        &format!("consistent recovery state reached at {}", replay.replayed()),
        None,
        None,
    );
    Ok((db, replay))
}

/// Promotion (PostgreSQL's end of archive recovery in `StartupXLOG`): replays
/// every durable record left, picks timeline N+1, continues the WAL on it from the
/// end of the replayed WAL (the switch point), writes its history file, writes the
/// control file with the new timeline, takes an end-of-recovery checkpoint and
/// leaves recovery (writes allowed). The caller has stopped the walreceiver and
/// removes `standby.signal`. Returns the new timeline.
pub fn promote(db: &Database, mut replay: StandbyReplay) -> PgResult<TimeLineId> {
    replay.replay_available(db)?;
    let switch = replay.replayed();
    if replay.last_record.is_valid() {
        emit(
            Level::Log,
            &format!(
                "redo done at {} system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.00 s",
                replay.last_record
            ),
            None,
            None,
        );
    }
    let old = db.wal.timeline();
    let dir = db.datadir.join("pg_wal");
    let mut new = TimeLineId(old.0 + 1);
    while dir.join(tandem_wal::history_file_name(new)).exists() {
        new = TimeLineId(new.0 + 1);
    }
    let last_record = if replay.last_record.is_valid() {
        replay.last_record
    } else {
        db.wal.last_record_lsn()
    };
    emit(
        Level::Log,
        &format!("selected new timeline ID: {}", new.0),
        None,
        None,
    );
    db.wal
        .write_history_file(new, old, switch, "no recovery target specified")?;
    db.wal.switch_timeline(new, switch, last_record)?;
    {
        let mut c = db.control.lock();
        c.timeline = new;
        write_control(&db.datadir, &c, db.fsync)?;
    }
    emit(Level::Log, "archive recovery complete", None, None);
    db.leave_recovery();
    db.promote_requested
        .store(false, std::sync::atomic::Ordering::Release);
    checkpoint::run(db, "end-of-recovery immediate wait")?;
    Ok(new)
}

/// Builds the in-memory database from a checkpoint image (heap, sequences,
/// catalog) with the WAL opened at the image's redo LSN; shared by crash
/// recovery and standby mode, which differ only in what they replay after.
fn assemble_from_image(
    datadir: &Path,
    opts: &OpenOptions,
    control: &ControlFile,
    mut image: crate::checkpoint::Image,
) -> PgResult<Arc<Database>> {
    // temporary files of transactions a crash ended
    crate::mvcc::spill::remove_temp_files(datadir)?;
    let redo = image.header.redo;
    // A restartpoint has no record of its own at its redo LSN; its control
    // file names the record ending there (`checkpoint_lsn` before `redo_lsn`),
    // and the WAL is opened from that record so that it knows the last record
    // (the back-link of the next one, the switch point of a promotion).
    let from = if control.redo_lsn == redo
        && control.checkpoint_lsn.is_valid()
        && control.checkpoint_lsn < redo
    {
        control.checkpoint_lsn
    } else {
        redo
    };
    let wal = Wal::open(
        WalOptions {
            dir: datadir.join("pg_wal"),
            timeline: control.timeline,
            segment_size: control.wal_segment_size,
            fsync: opts.fsync,
        },
        from,
    )?;
    let (store, heap) = open_store(datadir, opts, &mut image)?;
    let sequences = Sequences::default();
    for (seq, last_value, is_called) in &image.sequences {
        sequences.redo(&record::SequenceRecord {
            seq: *seq,
            last_value: *last_value,
            is_called: *is_called,
        });
    }
    let mut start_control = control.clone();
    start_control.next_xid = control.next_xid.max(image.header.next_xid);
    start_control.next_oid = control.next_oid.max(image.header.next_oid);
    start_control.next_rowid = control.next_rowid.max(image.header.next_rowid);
    let db = Arc::new(Database::assemble(
        datadir.to_path_buf(),
        opts.fsync,
        wal,
        start_control,
        Loaded {
            catalog: image.catalog,
            heap,
            sequences,
            applied: redo,
            origins: image.origins.into_iter().collect(),
            store,
        },
    )?);
    db.set_bulk_spill_bytes(opts.bulk_spill_bytes);
    Ok(db)
}
