//! The insert buffer and the writer: appending records under a short lock, writing
//! them to segment files and group commit.
//!
//! ```text
//!   append()  --insert lock-->  pending chunks [write_lsn .. insert_lsn)   (memory)
//!   write()   --any thread-->   pwrite to segments                -> write_lsn
//!   flush()   --leader only-->  pwrite, then (io lock released) fdatasync
//!                                                                 -> flush_lsn, notify_all
//! ```
//!
//! Four locks, always taken in this order, never the other way round:
//! 0. `gate`: held by an appender around its records (and a segment switch),
//!    so that the pieces of one `append_stream` stay contiguous; never taken
//!    by writers or flushers.
//! 1. `sync` (flush state + condvar): who is the flush leader, the flush LSN, a
//!    recorded failure. Held only to read/update those fields, never across I/O.
//! 2. `io` (open segment files, which are dirty): held by whoever writes, for the
//!    whole take-write sequence, so chunks reach the files in LSN order and
//!    `write_lsn` only moves forward. The flush leader takes the handles of the
//!    dirty segments under it and fdatasyncs them after releasing it, so a
//!    write (`write()`, a write-behind) never waits for a sync.
//! 3. `insert` (insert position, prev-link, pending bytes): held only to encode
//!    records into the pending buffer or to take it. No I/O under it.
//!
//! Group commit: `flush(upto)` returns at once if `flush_lsn >= upto`. Otherwise,
//! if a flush is in progress the caller waits on the condvar (its LSN may be
//! covered; if not, it retries when woken); if none is, it becomes the leader:
//! it takes *every* pending byte (not just up to `upto`), writes, fdatasyncs each
//! dirtied segment once, publishes the new flush LSN and wakes every waiter. While
//! a leader syncs, new commits pile up and the next leader syncs them all at once.
//!
//! Ordering decisions:
//! - `flush_lsn` is published only after fdatasync returned for every segment that
//!   holds bytes below it (or after the write, with `fsync = off`).
//! - A failed write or fsync poisons the WAL: the bytes taken are gone from memory
//!   and may or may not be on disk, so every later append/flush fails too and the
//!   caller must PANIC (PostgreSQL PANICs on `XLogWrite`/`issue_xlog_fsync` errors).
//! - Appenders that let the pending buffer grow past [`WRITE_BEHIND_BYTES`] write
//!   it out (without fsync) after releasing the insert lock, bounding memory.
//! - After publishing a new flush position the leader wakes the condvar's
//!   waiters, then calls the flush listener, if one is registered, itself
//!   (outside every lock): the walsenders are woken by the thread that
//!   flushed, with no thread in between (PostgreSQL's `WalSndWakeup` after
//!   `XLogFlush`).
//!
//! PostgreSQL counterpart: `XLogInsertRecord`, `XLogWrite`, `XLogFlush`,
//! `RequestXLogSwitch` in `src/backend/access/transam/xlog.c`.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use tandem_types::fsutil::{fsync_dir, fsync_error};
use tandem_types::{Lsn, PgError, SqlState, TimeLineId, Xid};

use crate::record::{
    align_up, encode_record, payload_crc, EndOfWal, HEADER_SIZE, MAX_RECORD_SIZE, RECORD_ALIGN,
};
use crate::segment::{
    create_segment, list_segments, open_segment_rw, removed_error, segment_path, ReadError,
    SegmentSource,
};
use crate::timeline::Timelines;
use crate::{kinds, Record, WalOptions, WalStats};

/// Pending bytes above which an appender writes them out itself.
pub const WRITE_BEHIND_BYTES: usize = 8 << 20;

/// A run of contiguous pending bytes starting at `start`.
struct Chunk {
    start: Lsn,
    bytes: Vec<u8>,
}

/// What the insert lock protects.
struct InsertState {
    /// Where the next record starts.
    insert_lsn: Lsn,
    /// Start of the last record (the next record's prev-link); INVALID if unknown.
    prev_lsn: Lsn,
    /// Appended but not yet taken by a writer, in LSN order.
    pending: Vec<Chunk>,
    pending_bytes: usize,
    /// Raw (received) WAL was appended: the last record start is unknown, so record
    /// appends are refused until the WAL is reopened.
    raw: bool,
}

/// What the sync lock protects.
struct SyncState {
    flush_lsn: Lsn,
    in_progress: bool,
    failed: Option<PgError>,
    /// Bumped by [`Shared::wake_flush_waiters`]: waits return early.
    wakeups: u64,
}

/// What the io lock protects: open segment files.
struct Io {
    /// Shared so that a flush leader syncs a file after releasing the lock.
    files: BTreeMap<u64, Arc<File>>,
    dirty: BTreeSet<u64>,
}

/// The state shared by a [`crate::Wal`] and its readers.
pub(crate) struct Shared {
    pub(crate) opts: WalOptions,
    /// The current timeline (starts as `opts.timeline`; promotion switches it).
    tli: std::sync::atomic::AtomicU32,
    /// The current timeline's history (replaced together with `tli`).
    timelines: Mutex<Arc<Timelines>>,
    insert: Mutex<InsertState>,
    /// Taken around every record append, and held across the pieces of a
    /// [`Shared::append_stream`]: no other record falls between them.
    gate: Mutex<()>,
    io: Mutex<Io>,
    sync: Mutex<SyncState>,
    flushed: Condvar,
    pub(crate) insert_lsn: AtomicU64,
    pub(crate) write_lsn: AtomicU64,
    pub(crate) flush_lsn: AtomicU64,
    poisoned: AtomicBool,
    pub(crate) opened_end: Option<EndOfWal>,
    stats: Counters,
    prealloc: Prealloc,
    /// Called by the flush leader with each new flush position.
    flush_listener: RwLock<Option<FlushListener>>,
}

/// What [`crate::Wal::set_flush_listener`] registers.
pub type FlushListener = Arc<dyn Fn(Lsn) + Send + Sync>;

/// The background creation of segments ahead of the writes.
#[derive(Default)]
struct Prealloc {
    /// Highest segment number known to exist.
    ready: Arc<AtomicU64>,
    /// Highest segment number asked for ahead of need ([`Shared::preallocate`]).
    wanted: Arc<AtomicU64>,
    /// Set when the WAL closes: the thread stops after the segment in hand.
    closing: Arc<AtomicBool>,
    handle: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// How far ahead of the write position [`Shared::preallocate`] may create
/// segments.
const PREALLOCATE_MAX_BYTES: u64 = 1 << 30;

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
    sync_micros: AtomicU64,
}

impl Shared {
    /// A WAL whose next record starts at `end`, after the record at `prev`; every
    /// byte before `end` is durable.
    pub(crate) fn new(
        opts: WalOptions,
        end: Lsn,
        prev: Lsn,
        opened_end: Option<EndOfWal>,
        timelines: Timelines,
    ) -> Shared {
        Shared {
            tli: std::sync::atomic::AtomicU32::new(opts.timeline.0),
            timelines: Mutex::new(Arc::new(timelines)),
            gate: Mutex::new(()),
            insert: Mutex::new(InsertState {
                insert_lsn: end,
                prev_lsn: prev,
                pending: Vec::new(),
                pending_bytes: 0,
                raw: false,
            }),
            io: Mutex::new(Io {
                files: BTreeMap::new(),
                dirty: BTreeSet::new(),
            }),
            sync: Mutex::new(SyncState {
                flush_lsn: end,
                in_progress: false,
                failed: None,
                wakeups: 0,
            }),
            flushed: Condvar::new(),
            insert_lsn: AtomicU64::new(end.0),
            write_lsn: AtomicU64::new(end.0),
            flush_lsn: AtomicU64::new(end.0),
            poisoned: AtomicBool::new(false),
            opened_end,
            stats: Counters::default(),
            prealloc: Prealloc::default(),
            flush_listener: RwLock::new(None),
            opts,
        }
    }

    pub(crate) fn timeline(&self) -> TimeLineId {
        TimeLineId(self.tli.load(Ordering::Acquire))
    }

    /// The current timeline's history.
    pub(crate) fn timelines(&self) -> Arc<Timelines> {
        self.timelines.lock().clone()
    }

    /// Continues the WAL on timeline `new` from `switch`. Promotion passes the
    /// start of the last replayed record as `prev` (record appends follow); a
    /// standby following a promoted node passes `None` and stays in raw mode
    /// (received bytes follow). The switch segment's valid prefix
    /// `[segment start, switch)` is copied into the new timeline's segment (as
    /// PostgreSQL does; the rest of that file is zeroed and later files of the new
    /// timeline are removed, in case an earlier attempt left some); later appends
    /// go to the new timeline's files. Everything appended must end at `switch`.
    pub(crate) fn change_timeline(
        &self,
        new: TimeLineId,
        switch: Lsn,
        prev: Option<Lsn>,
    ) -> Result<(), PgError> {
        self.check_poisoned()?;
        self.flush(Lsn(self.insert_lsn.load(Ordering::Acquire)))?;
        let mut ins = self.insert.lock();
        let mut io = self.io.lock();
        if !ins.pending.is_empty() {
            return Err(PgError::internal("WAL timeline switch with unflushed WAL"));
        }
        if prev.is_none() && ins.insert_lsn != switch {
            return Err(PgError::internal(format!(
                "cannot switch to timeline {} at {switch}: the WAL ends at {}",
                new.0, ins.insert_lsn
            )));
        }
        let segsize = self.opts.segment_size;
        let old = self.timelines();
        let segno = switch.0 / segsize;
        let prefix_len = (switch.0 - segno * segsize) as usize;
        let mut prefix = vec![0u8; prefix_len];
        if prefix_len > 0 {
            let mut src = SegmentSource::new(self.opts.dir.clone(), old.clone(), segsize, switch.0);
            match src.read(segno * segsize, &mut prefix) {
                Ok(n) if n == prefix_len => {}
                Ok(_) | Err(ReadError::Missing(_)) => {
                    return Err(PgError::internal(format!(
                        "could not read WAL up to the switch point {switch}"
                    )))
                }
                Err(ReadError::Io(e)) => return Err(e),
            }
        }
        io.files.clear();
        io.dirty.clear();
        let created = create_segment(&self.opts.dir, new, segno, segsize, self.opts.fsync)?;
        let path = segment_path(&self.opts.dir, new, segno, segsize);
        let file = open_segment_rw(&path)?;
        file.write_all_at(&prefix, 0)
            .map_err(|e| PgError::io(format_args!("write to file \"{}\"", path.display()), &e))?;
        if !created {
            crate::segment::write_zeros(&file, &path, prefix_len as u64, segsize)?;
            let mut removed = false;
            for seg in list_segments(&self.opts.dir, segsize)? {
                if seg.timeline == new && seg.segno > segno {
                    std::fs::remove_file(&seg.path).map_err(|e| {
                        PgError::io(format_args!("remove file \"{}\"", seg.path.display()), &e)
                    })?;
                    removed = true;
                }
            }
            if removed && self.opts.fsync {
                fsync_dir(&self.opts.dir)?;
            }
        }
        if self.opts.fsync {
            file.sync_data().map_err(|e| fsync_error(&path, &e))?;
        }
        *self.timelines.lock() = Arc::new(old.child(new, switch));
        self.tli.store(new.0, Ordering::Release);
        io.files.insert(segno, Arc::new(file));
        ins.insert_lsn = switch;
        match prev {
            Some(last_record) => {
                ins.prev_lsn = last_record;
                ins.raw = false;
            }
            None => ins.prev_lsn = Lsn::INVALID,
        }
        self.insert_lsn.store(switch.0, Ordering::Release);
        self.write_lsn.store(switch.0, Ordering::Release);
        {
            let mut st = self.sync.lock();
            st.flush_lsn = switch;
        }
        self.flush_lsn.store(switch.0, Ordering::Release);
        self.prealloc.ready.store(segno, Ordering::Release);
        Ok(())
    }

    fn check_poisoned(&self) -> Result<(), PgError> {
        if self.poisoned.load(Ordering::Acquire) {
            if let Some(e) = &self.sync.lock().failed {
                return Err(e.clone());
            }
        }
        Ok(())
    }

    pub(crate) fn append(&self, records: &[Record]) -> Result<(Vec<Lsn>, Lsn), PgError> {
        let _gate = self.gate.lock();
        self.append_gated(records)
    }

    /// Appends the records `next` hands out, piece by piece, as one run: no
    /// other record falls between them (see [`crate::Wal::append_stream`]).
    pub(crate) fn append_stream(
        &self,
        next: &mut dyn FnMut(&mut Vec<Record>) -> Result<bool, PgError>,
    ) -> Result<Lsn, PgError> {
        let _gate = self.gate.lock();
        let mut piece = Vec::new();
        let mut end = Lsn(self.insert_lsn.load(Ordering::Acquire));
        loop {
            let more = next(&mut piece)?;
            if !piece.is_empty() {
                end = self.append_gated(&piece)?.1;
            }
            if !more {
                return Ok(end);
            }
        }
    }

    fn append_gated(&self, records: &[Record]) -> Result<(Vec<Lsn>, Lsn), PgError> {
        self.check_poisoned()?;
        // Everything that does not depend on the position happens before the lock.
        let mut crcs = Vec::with_capacity(records.len());
        let mut total = 0usize;
        for r in records {
            let len = HEADER_SIZE + r.payload.len();
            if len > MAX_RECORD_SIZE {
                return Err(
                    PgError::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "oversized WAL record")
                        .with_detail(format!(
                            "WAL record would be {len} bytes (of maximum {MAX_RECORD_SIZE} bytes)."
                        )),
                );
            }
            if r.kind == kinds::SWITCH {
                return Err(PgError::internal(
                    "SWITCH records are written by switch_segment only",
                ));
            }
            crcs.push(payload_crc(&r.payload));
            total += align_up(len as u64, RECORD_ALIGN) as usize;
        }
        let mut starts = Vec::with_capacity(records.len());
        let (end, pending) = {
            let mut ins = self.insert.lock();
            if ins.raw {
                return Err(PgError::internal(
                    "cannot append WAL records after received WAL without reopening the WAL",
                ));
            }
            let start = ins.insert_lsn;
            let ins = &mut *ins;
            let buf = chunk_for(&mut ins.pending, start, total);
            let mut pos = start;
            for (r, crc) in records.iter().zip(crcs) {
                starts.push(pos);
                let n = encode_record(buf, ins.prev_lsn, r.kind, r.xid, &r.payload, crc);
                ins.prev_lsn = pos;
                pos = pos.advance(n);
            }
            ins.insert_lsn = pos;
            ins.pending_bytes += total;
            self.insert_lsn.store(pos.0, Ordering::Release);
            (pos, ins.pending_bytes)
        };
        self.stats
            .records
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        self.stats.bytes.fetch_add(total as u64, Ordering::Relaxed);
        if pending > WRITE_BEHIND_BYTES {
            self.write_behind()?;
        }
        Ok((starts, end))
    }

    /// Appends a SWITCH record unless the insert position is on a segment boundary,
    /// moves the insert position to the next boundary and flushes. Returns the end
    /// of the switch record (or the boundary when nothing was switched).
    pub(crate) fn switch_segment(&self) -> Result<Lsn, PgError> {
        self.check_poisoned()?;
        let _gate = self.gate.lock();
        let segsize = self.opts.segment_size;
        let (switch_end, boundary) = {
            let mut ins = self.insert.lock();
            if ins.raw {
                return Err(PgError::internal(
                    "cannot switch WAL segments on received WAL",
                ));
            }
            let start = ins.insert_lsn;
            if start.0.is_multiple_of(segsize) {
                (start, start)
            } else {
                let ins = &mut *ins;
                let buf = chunk_for(&mut ins.pending, start, HEADER_SIZE);
                let n = encode_record(
                    buf,
                    ins.prev_lsn,
                    kinds::SWITCH,
                    Xid::INVALID,
                    &[],
                    payload_crc(&[]),
                );
                let end = start.advance(n);
                let boundary = Lsn(align_up(end.0, segsize));
                ins.prev_lsn = start;
                ins.insert_lsn = boundary;
                ins.pending_bytes += n as usize;
                self.insert_lsn.store(boundary.0, Ordering::Release);
                (end, boundary)
            }
        };
        self.flush(boundary)?;
        Ok(switch_end)
    }

    /// Queues bytes received from a primary at `at` (byte-identical WAL). Bytes
    /// before the current insert position are assumed identical and skipped.
    pub(crate) fn append_raw(&self, at: Lsn, bytes: &[u8]) -> Result<Lsn, PgError> {
        self.check_poisoned()?;
        let pending = {
            let mut ins = self.insert.lock();
            let cur = ins.insert_lsn;
            if at > cur {
                return Err(PgError::internal(format!(
                    "received WAL at {at} does not continue the local WAL ending at {cur}"
                )));
            }
            let skip = (cur.0 - at.0).min(bytes.len() as u64) as usize;
            let rest = &bytes[skip..];
            if !rest.is_empty() {
                let ins = &mut *ins;
                chunk_for(&mut ins.pending, cur, rest.len()).extend_from_slice(rest);
                ins.insert_lsn = cur.advance(rest.len() as u64);
                ins.pending_bytes += rest.len();
                ins.raw = true;
                ins.prev_lsn = Lsn::INVALID;
                self.insert_lsn.store(ins.insert_lsn.0, Ordering::Release);
                self.stats
                    .bytes
                    .fetch_add(rest.len() as u64, Ordering::Relaxed);
            }
            ins.pending_bytes
        };
        if pending > WRITE_BEHIND_BYTES {
            self.write_behind()?;
        }
        Ok(Lsn(self.insert_lsn.load(Ordering::Acquire)))
    }

    /// Group commit (see the module comment).
    pub(crate) fn flush(&self, upto: Lsn) -> Result<(), PgError> {
        let upto = upto.min(Lsn(self.insert_lsn.load(Ordering::Acquire)));
        if self.flush_lsn.load(Ordering::Acquire) >= upto.0
            && !self.poisoned.load(Ordering::Acquire)
        {
            return Ok(());
        }
        let mut st = self.sync.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(e.clone());
            }
            if st.flush_lsn >= upto {
                return Ok(());
            }
            if !st.in_progress {
                break;
            }
            self.flushed.wait(&mut st);
        }
        st.in_progress = true;
        drop(st);
        let result = self.write_pending(self.opts.fsync);
        let mut st = self.sync.lock();
        st.in_progress = false;
        let mut advanced = None;
        let out = match result {
            Ok(lsn) => {
                if lsn > st.flush_lsn {
                    st.flush_lsn = lsn;
                    self.flush_lsn.store(lsn.0, Ordering::Release);
                    advanced = Some(lsn);
                }
                Ok(())
            }
            Err(e) => {
                st.failed = Some(e.clone());
                self.poisoned.store(true, Ordering::Release);
                Err(e)
            }
        };
        drop(st);
        self.flushed.notify_all();
        if let Some(lsn) = advanced {
            let listener = self.flush_listener.read().clone();
            if let Some(f) = listener {
                f(lsn);
            }
        }
        if out.is_ok() {
            self.maybe_preallocate();
        }
        out
    }

    pub(crate) fn set_flush_listener(&self, f: Option<FlushListener>) {
        *self.flush_listener.write() = f;
    }

    /// Once the write position is past the middle of its segment, creates the next
    /// segment in a background thread (one thread at a time), so that no commit
    /// waits for a 16 MiB zero-fill; and the segments [`Shared::preallocate`] asked
    /// for. Racing with the writer is harmless: creation never replaces an
    /// existing file.
    fn maybe_preallocate(&self) {
        let segsize = self.opts.segment_size;
        let written = self.write_lsn.load(Ordering::Acquire);
        let mut want = self.prealloc.wanted.load(Ordering::Acquire);
        if written % segsize >= segsize / 2 {
            want = want.max(written / segsize + 1);
        }
        if self.prealloc.ready.load(Ordering::Acquire) >= want {
            return;
        }
        let mut handle = self.prealloc.handle.lock();
        if handle.as_ref().is_some_and(|h| !h.is_finished()) {
            // it reads `wanted` again before it stops
            return;
        }
        if let Some(h) = handle.take() {
            let _ = h.join();
        }
        let (dir, tli, fsync) = (self.opts.dir.clone(), self.timeline(), self.opts.fsync);
        let (ready, wanted) = (
            Arc::clone(&self.prealloc.ready),
            Arc::clone(&self.prealloc.wanted),
        );
        let closing = Arc::clone(&self.prealloc.closing);
        let first = written / segsize + 1;
        let spawned = std::thread::Builder::new()
            .name("wal prealloc".into())
            .spawn(move || {
                let mut segno = first.max(ready.load(Ordering::Acquire) + 1);
                // the first one even if the WAL closes meanwhile; then until
                // the wanted one, or the close
                while segno <= want.max(wanted.load(Ordering::Acquire)) {
                    // An error here is not fatal: the writer creates the segment
                    // itself when it gets there, and reports failure then.
                    if create_segment(&dir, tli, segno, segsize, fsync).is_err() {
                        return;
                    }
                    ready.fetch_max(segno, Ordering::AcqRel);
                    segno += 1;
                    if closing.load(Ordering::Acquire) {
                        return;
                    }
                }
            });
        *handle = spawned.ok();
    }

    /// Asks for the segments that will hold the next `bytes` of WAL (at most
    /// 1 GiB ahead) to be created in the background: a large transaction
    /// about to be appended, so that its writer does not zero-fill them.
    pub(crate) fn preallocate(&self, bytes: u64) {
        let segsize = self.opts.segment_size;
        let at = self.insert_lsn.load(Ordering::Acquire);
        let last = at.saturating_add(bytes.min(PREALLOCATE_MAX_BYTES)) / segsize;
        if last > at / segsize {
            self.prealloc.wanted.fetch_max(last, Ordering::AcqRel);
            self.maybe_preallocate();
        }
    }

    /// Waits for a background preallocation to finish (at drop, so that no file
    /// appears in the directory after the WAL is closed).
    pub(crate) fn join_preallocation(&self) {
        self.prealloc.closing.store(true, Ordering::Release);
        if let Some(h) = self.prealloc.handle.lock().take() {
            let _ = h.join();
        }
    }

    /// Writes pending bytes without fsync (the buffer grew large).
    fn write_behind(&self) -> Result<(), PgError> {
        if let Err(e) = self.write_pending(false) {
            let mut st = self.sync.lock();
            st.failed = Some(e.clone());
            self.poisoned.store(true, Ordering::Release);
            drop(st);
            self.flushed.notify_all();
            return Err(e);
        }
        self.maybe_preallocate();
        Ok(())
    }

    /// Takes every pending byte, writes it to the segment files and, if `sync`,
    /// fdatasyncs every segment written since the last sync. Returns the position
    /// up to which everything is written (and synced, if `sync`).
    ///
    /// The writes happen under the `io` lock; the fdatasyncs do not: the dirty
    /// segments' handles are taken (and the dirty set emptied) under the lock
    /// together with the write, then synced after releasing it, so a writer
    /// (the walreceiver's [`Shared::write`], a write-behind) never waits for a
    /// sync. Only the flush leader syncs (one at a time, `SyncState::in_progress`),
    /// so a position is published only after every segment dirtied below it was
    /// synced by this leader or an earlier one, segments closed meanwhile
    /// included (their handles stay open until synced).
    fn write_pending(&self, sync: bool) -> Result<Lsn, PgError> {
        let (upto, to_sync) = {
            let mut io = self.io.lock();
            let (chunks, upto) = {
                let mut ins = self.insert.lock();
                ins.pending_bytes = 0;
                (std::mem::take(&mut ins.pending), ins.insert_lsn)
            };
            for chunk in &chunks {
                self.write_chunk(&mut io, chunk.start, &chunk.bytes)?;
            }
            if !chunks.is_empty() {
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            self.write_lsn.fetch_max(upto.0, Ordering::AcqRel);
            if !sync {
                return Ok(upto);
            }
            let dirty = std::mem::take(&mut io.dirty);
            let to_sync: Vec<(u64, Arc<File>)> = dirty
                .iter()
                .filter_map(|segno| io.files.get(segno).map(|f| (*segno, Arc::clone(f))))
                .collect();
            // Keep only the newest file open; older ones are complete, and
            // those still dirty are synced below through `to_sync`.
            while io.files.len() > 1 {
                io.files.pop_first();
            }
            (upto, to_sync)
        };
        let started = Instant::now();
        for (segno, f) in &to_sync {
            f.sync_data()
                .map_err(|e| fsync_error(&self.path(*segno), &e))?;
            self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        let micros = started.elapsed().as_micros() as u64;
        self.stats.sync_micros.fetch_add(micros, Ordering::Relaxed);
        Ok(upto)
    }

    /// Writes every pending byte to the segment files without fsync and
    /// returns the write position. Never waits for an fdatasync in progress.
    pub(crate) fn write(&self) -> Result<Lsn, PgError> {
        self.check_poisoned()?;
        self.write_behind()?;
        Ok(Lsn(self.write_lsn.load(Ordering::Acquire)))
    }

    fn path(&self, segno: u64) -> std::path::PathBuf {
        segment_path(
            &self.opts.dir,
            self.timeline(),
            segno,
            self.opts.segment_size,
        )
    }

    fn write_chunk(&self, io: &mut Io, start: Lsn, bytes: &[u8]) -> Result<(), PgError> {
        let segsize = self.opts.segment_size;
        let mut done = 0usize;
        while done < bytes.len() {
            let pos = start.0 + done as u64;
            let segno = pos / segsize;
            let offset = pos % segsize;
            let n = ((segsize - offset) as usize).min(bytes.len() - done);
            let file = match io.files.entry(segno) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let dir = &self.opts.dir;
                    create_segment(dir, self.timeline(), segno, segsize, self.opts.fsync)?;
                    e.insert(Arc::new(open_segment_rw(&self.path(segno))?))
                }
            };
            file.write_all_at(&bytes[done..done + n], offset)
                .map_err(|e| {
                    let mut err = PgError::io(
                        format_args!(
                            "write to log file \"{}\" at offset {offset}, length {n}",
                            self.path(segno).display()
                        ),
                        &e,
                    );
                    err.severity = tandem_types::Severity::Panic;
                    err
                })?;
            io.dirty.insert(segno);
            done += n;
        }
        Ok(())
    }

    pub(crate) fn wait_for_flush(&self, after: Lsn, timeout: Duration) -> Lsn {
        let deadline = Instant::now() + timeout;
        let mut st = self.sync.lock();
        let wakeups = st.wakeups;
        while st.flush_lsn <= after && st.failed.is_none() && st.wakeups == wakeups {
            if self.flushed.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.flush_lsn
    }

    /// Ends every [`Shared::wait_for_flush`] in progress as if it timed out.
    pub(crate) fn wake_flush_waiters(&self) {
        let mut st = self.sync.lock();
        st.wakeups = st.wakeups.wrapping_add(1);
        self.flushed.notify_all();
    }

    /// Durable bytes `[from, from + max)`, cut at the flush LSN.
    pub(crate) fn read_raw(&self, from: Lsn, max: usize) -> Result<Vec<u8>, PgError> {
        let limit = self.flush_lsn.load(Ordering::Acquire);
        if from.0 >= limit {
            return Ok(Vec::new());
        }
        let len = ((limit - from.0).min(max as u64)) as usize;
        // the history is taken after the limit: bytes below a flush position on
        // a new timeline are only published after the switch
        let timelines = self.timelines();
        let mut src = SegmentSource::new(
            self.opts.dir.clone(),
            timelines.clone(),
            self.opts.segment_size,
            limit,
        );
        let mut out = vec![0u8; len];
        match src.read(from.0, &mut out) {
            Ok(n) if n == len => Ok(out),
            Ok(n) => {
                let at = from.advance(n as u64);
                let name =
                    crate::segment_file_name(timelines.timeline_of(at), at, self.opts.segment_size);
                Err(removed_error(&name))
            }
            Err(ReadError::Missing(name)) => Err(removed_error(&name)),
            Err(ReadError::Io(e)) => Err(e),
        }
    }

    /// Removes segments (of any timeline) that end at or before `keep_from` and are
    /// older than the segment of the insert position.
    pub(crate) fn remove_segments_before(&self, keep_from: Lsn) -> Result<usize, PgError> {
        let segsize = self.opts.segment_size;
        let current = self.insert_lsn.load(Ordering::Acquire) / segsize;
        let mut removed = 0;
        for seg in list_segments(&self.opts.dir, segsize)? {
            if (seg.segno + 1) * segsize <= keep_from.0 && seg.segno < current {
                std::fs::remove_file(&seg.path).map_err(|e| {
                    PgError::io(format_args!("remove file \"{}\"", seg.path.display()), &e)
                })?;
                removed += 1;
            }
        }
        if removed > 0 && self.opts.fsync {
            fsync_dir(&self.opts.dir)?;
        }
        Ok(removed)
    }

    pub(crate) fn last_record_lsn(&self) -> Lsn {
        self.insert.lock().prev_lsn
    }

    pub(crate) fn stats(&self) -> WalStats {
        let s = &self.stats;
        WalStats {
            wal_records: s.records.load(Ordering::Relaxed),
            wal_bytes: s.bytes.load(Ordering::Relaxed),
            wal_write: s.writes.load(Ordering::Relaxed),
            wal_sync: s.syncs.load(Ordering::Relaxed),
            wal_sync_time: Duration::from_micros(s.sync_micros.load(Ordering::Relaxed)),
        }
    }
}

/// The pending buffer to which bytes starting at `start` go: the last chunk if it
/// ends at `start`, else a new chunk (after a segment switch).
fn chunk_for(pending: &mut Vec<Chunk>, start: Lsn, reserve: usize) -> &mut Vec<u8> {
    let contiguous =
        matches!(pending.last(), Some(c) if c.start.0 + c.bytes.len() as u64 == start.0);
    if !contiguous {
        pending.push(Chunk {
            start,
            bytes: Vec::with_capacity(reserve.max(64 * 1024)),
        });
    }
    let Some(last) = pending.last_mut() else {
        unreachable!("a chunk was just pushed")
    };
    last.bytes.reserve(reserve);
    &mut last.bytes
}
