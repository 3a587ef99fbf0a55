//! The write-ahead log: record format, segment files, group commit, reading.
//!
//! The WAL is one endless byte stream; an [`Lsn`] is a byte offset in it. Segment
//! files in `pg_wal/` hold consecutive slices of the stream (16 MiB each by default,
//! named like PostgreSQL's: `TTTTTTTTXXXXXXXXYYYYYYYY`). A record is
//! `header (len, crc32c, prev, kind, xid) + payload`, 8-byte aligned; the payload is
//! opaque here (the storage crate defines it). The end of WAL is the first record
//! that does not check out (torn tail). Byte layout, invariants and what is assumed
//! of the disk: `docs/wal-format.md`.
//!
//! The life of a commit through this crate:
//! 1. `append(records)` encodes the records into the in-memory pending buffer under
//!    a short lock, assigning consecutive LSNs (`writer`); no I/O.
//! 2. `flush(end)` makes them durable by group commit: one leader pwrites every
//!    pending byte to the segment files ([`segment`]), fdatasyncs once, publishes
//!    `flush_lsn` and wakes every waiter (also [`Wal::wait_for_flush`] callers),
//!    then calls the flush listener ([`Wal::set_flush_listener`]: walsenders).
//! 3. Readers ([`WalReader`], [`Wal::read_raw`]) see bytes up to `flush_lsn` only.
//! 4. After a crash, `open(redo)` scans to the end of valid WAL (`startup`) and
//!    wipes what lies behind it before appends continue there.
//!
//! Modules: [`record`] (format, pure), [`segment`] (files), [`timeline`]
//! (history files, which timeline's file holds a segment), `writer` (insert
//! buffer, group commit), [`reader`] (decoding, sequential reader), `startup`
//! (create/open).
//!
//! PostgreSQL counterpart: `src/backend/access/transam/xlog.c`, `xlogreader.c`,
//! `src/include/access/xlogrecord.h`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tandem_types::{Lsn, PgError, TimeLineId, Xid};

pub mod reader;
pub mod record;
pub mod segment;
mod startup;
pub mod timeline;
mod writer;

#[cfg(test)]
mod tests;

pub use reader::{decode_slice, WalReader};
pub use record::{EndOfWal, Invalid, HEADER_SIZE, MAX_RECORD_SIZE, RECORD_ALIGN};
pub use segment::{
    history_file_name, list_segments, parse_segment_name, segment_file_name, segment_name,
    SegmentFile, DEFAULT_SEGMENT_SIZE,
};
pub use timeline::{parse_history, Timelines};
pub use writer::FlushListener;

/// What a record is. Values 0..=15 are reserved for the WAL itself; storage uses
/// 16.. for heap and catalog records, replication later uses its own range.
pub type RecordKind = u8;

/// Record kinds the WAL crate itself understands.
pub mod kinds {
    use super::RecordKind;
    /// pg_switch_wal(): the rest of the segment is unused; next record starts at the
    /// next segment boundary. Written only by [`crate::Wal::switch_segment`].
    pub const SWITCH: RecordKind = 1;
    /// A no-op record (tests, padding).
    pub const NOOP: RecordKind = 2;
}

/// A record to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub xid: Xid,
    pub payload: Vec<u8>,
}

/// A record read back, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// Where the record starts.
    pub lsn: Lsn,
    /// Where the next record starts (this record's end, 8-aligned; for a SWITCH
    /// record the next segment boundary).
    pub end_lsn: Lsn,
    pub kind: RecordKind,
    pub xid: Xid,
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// `DATADIR/pg_wal`
    pub dir: PathBuf,
    pub timeline: TimeLineId,
    /// bytes; default 16 MiB; a power of two between 1 KiB and 1 GiB
    pub segment_size: u64,
    /// `fsync` setting; when false, flush() only writes (no fdatasync).
    pub fsync: bool,
}

/// Counters in the spirit of `pg_stat_wal` (since this `Wal` was opened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended.
    pub wal_records: u64,
    /// Bytes appended (padding included; raw bytes for a standby).
    pub wal_bytes: u64,
    /// Write passes to the segment files (each may cover many records).
    pub wal_write: u64,
    /// fdatasync calls.
    pub wal_sync: u64,
    /// Time spent in fdatasync.
    pub wal_sync_time: Duration,
}

/// The WAL of one node. Thread-safe; share it as `Arc<Wal>`.
pub struct Wal {
    shared: Arc<writer::Shared>,
}

impl Wal {
    /// Creates an empty WAL whose first record will be at `start` (initdb). `start`
    /// must be non-zero and 8-aligned; the directory must hold no segments.
    pub fn create(opts: WalOptions, start: Lsn) -> Result<Arc<Wal>, PgError> {
        let shared = startup::create(opts, start)?;
        Ok(Arc::new(Wal {
            shared: Arc::new(shared),
        }))
    }

    /// Opens an existing WAL, scanning forward from `from` (the checkpoint's redo LSN,
    /// which must be a record start) to the end of valid WAL. Appends continue at
    /// that end; anything after it (a torn tail) is wiped before this returns.
    ///
    /// If there is no valid record at `from` at all, the next record is written
    /// there with an invalid prev-link (it cannot be known): callers should pass
    /// the start of a record that exists, e.g. the checkpoint record.
    pub fn open(opts: WalOptions, from: Lsn) -> Result<Arc<Wal>, PgError> {
        let shared = startup::open(opts, from)?;
        Ok(Arc::new(Wal {
            shared: Arc::new(shared),
        }))
    }

    /// Appends records contiguously (no other append interleaves). Returns the start
    /// LSN of each record and the end LSN of the last. The bytes are not yet durable:
    /// call [`Wal::flush`]. Kind [`kinds::SWITCH`] is refused (use
    /// [`Wal::switch_segment`]); a record over [`MAX_RECORD_SIZE`] fails with
    /// `54000 oversized WAL record`.
    pub fn append(&self, records: &[Record]) -> Result<(Vec<Lsn>, Lsn), PgError> {
        self.shared.append(records)
    }

    /// Appends the records `next` fills in, piece by piece, until it returns
    /// `false`; returns the end of the last. No other record falls between
    /// them, as with one [`Wal::append`], but only one piece is in memory at
    /// a time (a large transaction's records read back from where they
    /// waited for the commit). `next` gets the previous piece back, so that
    /// it can reuse its records' buffers, and leaves in it exactly the
    /// records to append next. The pieces are appended as they come: if
    /// `next` fails midway, the records before are in the WAL without the
    /// rest (a transaction's records without its COMMIT, which replay and
    /// decoding ignore).
    pub fn append_stream(
        &self,
        next: &mut dyn FnMut(&mut Vec<Record>) -> Result<bool, PgError>,
    ) -> Result<Lsn, PgError> {
        self.shared.append_stream(next)
    }

    /// Has the segments that will hold the next `bytes` of WAL (at most 1 GiB)
    /// created in the background, ahead of a large append such as a bulk
    /// load's commit, so that the appending session does not zero-fill them.
    /// A hint: segments it could not create are created when needed.
    pub fn preallocate(&self, bytes: u64) {
        self.shared.preallocate(bytes)
    }

    /// Blocks until everything up to `upto` is written and fsynced (group commit:
    /// one fdatasync serves every waiter whose LSN it covers). An fsync failure is
    /// fatal for the server (PostgreSQL's PANIC): returns an error (severity PANIC)
    /// the caller must treat as fatal; every later call fails the same way.
    /// `upto` past the insert position is cut to it.
    pub fn flush(&self, upto: Lsn) -> Result<(), PgError> {
        self.shared.flush(upto)
    }

    /// Writes everything appended to the segment files without fsync and
    /// returns the write position ([`Wal::write_lsn`]). It never waits for an
    /// fdatasync in progress (a flush syncs outside the lock that writes take),
    /// so one thread can write and report the write position while another
    /// makes it durable with [`Wal::flush`] (PostgreSQL's walreceiver order,
    /// `XLogWalRcvWrite` before `XLogWalRcvFlush`; tandem's walreceiver does
    /// not use it: `docs/replication.md`, "Standby write and flush, measured").
    pub fn write(&self) -> Result<Lsn, PgError> {
        self.shared.write()
    }

    /// Registers `f` (replacing any earlier one; `None` removes it): whoever
    /// flushes calls it with the new flush position right after publishing it
    /// and waking [`Wal::wait_for_flush`] callers, holding no WAL lock. It runs
    /// on the committing (or receiving) thread, so it must be brief: wake
    /// someone, do no I/O.
    pub fn set_flush_listener(&self, f: Option<FlushListener>) {
        self.shared.set_flush_listener(f)
    }

    /// Waits until `flush_lsn() > after` or `timeout` passes; returns the flush LSN.
    /// (A standby's startup thread waits for received WAL with it.)
    pub fn wait_for_flush(&self, after: Lsn, timeout: Duration) -> Lsn {
        self.shared.wait_for_flush(after, timeout)
    }

    /// Ends the [`Wal::wait_for_flush`] calls in progress at once, as if their
    /// timeout passed (a promotion request wakes the startup thread).
    pub fn wake_flush_waiters(&self) {
        self.shared.wake_flush_waiters()
    }

    /// End of the last appended record (`pg_current_wal_insert_lsn`). After a
    /// segment switch: the next segment's start.
    pub fn insert_lsn(&self) -> Lsn {
        Lsn(self
            .shared
            .insert_lsn
            .load(std::sync::atomic::Ordering::Acquire))
    }
    /// Written to the OS (`pg_current_wal_lsn`).
    pub fn write_lsn(&self) -> Lsn {
        Lsn(self
            .shared
            .write_lsn
            .load(std::sync::atomic::Ordering::Acquire))
    }
    /// Durable (`pg_current_wal_flush_lsn`).
    pub fn flush_lsn(&self) -> Lsn {
        Lsn(self
            .shared
            .flush_lsn
            .load(std::sync::atomic::Ordering::Acquire))
    }
    /// Start of the last appended record (the next record's prev-link);
    /// `Lsn::INVALID` if unknown.
    pub fn last_record_lsn(&self) -> Lsn {
        self.shared.last_record_lsn()
    }

    /// `pg_switch_wal()`: appends a SWITCH record (unless the insert position is at a
    /// segment start, i.e. nothing was written since the last switch), flushes, and
    /// returns the switch record's end LSN as PostgreSQL returns it (the current
    /// position when nothing was switched). The next record starts at the next
    /// segment boundary.
    pub fn switch_segment(&self) -> Result<Lsn, PgError> {
        self.shared.switch_segment()
    }

    /// Reader over durable records starting at `from` (a record start).
    pub fn reader(&self, from: Lsn) -> WalReader {
        WalReader::new(self.shared.clone(), from)
    }

    /// Durable WAL bytes from `from`, at most `max`, cut at the flush LSN (empty if
    /// `from` is at or past it). Byte-identical to what was appended, so a standby
    /// can store it with [`Wal::append_raw`]. Fails with `58P01 requested WAL
    /// segment ... has already been removed` if the segment is gone.
    pub fn read_raw(&self, from: Lsn, max: usize) -> Result<Vec<u8>, PgError> {
        self.shared.read_raw(from, max)
    }

    /// Standby side of physical replication: stores WAL bytes received from the
    /// primary at `at` byte-identically (flush them with [`Wal::flush`]). `at` may
    /// be before the insert position (the overlap is assumed identical and
    /// skipped) but not after it. Returns the new insert position. Once raw bytes
    /// were appended, record appends and switches are refused until the WAL is
    /// reopened (promotion reopens it to find the last record).
    pub fn append_raw(&self, at: Lsn, bytes: &[u8]) -> Result<Lsn, PgError> {
        self.shared.append_raw(at, bytes)
    }

    /// Removes whole segments (of any timeline) that end at or before `keep_from`,
    /// never the segment of the insert position. Returns how many were removed.
    pub fn remove_segments_before(&self, keep_from: Lsn) -> Result<usize, PgError> {
        self.shared.remove_segments_before(keep_from)
    }

    /// Segment files in this WAL's directory, oldest first.
    pub fn segments(&self) -> Result<Vec<SegmentFile>, PgError> {
        list_segments(&self.shared.opts.dir, self.shared.opts.segment_size)
    }

    /// Why the scan of [`Wal::open`] stopped (`None` for a created WAL), e.g.
    /// `invalid record length at 0/16B3748: expected at least 24, got 0`; the
    /// caller logs it as PostgreSQL logs the end of redo.
    pub fn end_of_wal_at_open(&self) -> Option<&EndOfWal> {
        self.shared.opened_end.as_ref()
    }

    pub fn stats(&self) -> WalStats {
        self.shared.stats()
    }

    pub fn timeline(&self) -> TimeLineId {
        self.shared.timeline()
    }
    /// Promotion: continues this WAL on timeline `new` from `switch` (the end of
    /// the last valid record, which starts at `last_record`), copying the switch
    /// segment's prefix into the new timeline's segment. Ends raw (standby) mode.
    pub fn switch_timeline(
        &self,
        new: TimeLineId,
        switch: Lsn,
        last_record: Lsn,
    ) -> Result<(), PgError> {
        self.shared.change_timeline(new, switch, Some(last_record))
    }

    /// A standby following a promoted node: the received WAL ends at `switch`,
    /// the end of the current timeline in `new`'s history; received bytes from
    /// `switch` on belong to timeline `new`. Like [`Wal::switch_timeline`] it
    /// copies the switch segment's prefix, but stays in raw mode. Fails unless
    /// the WAL ends exactly at `switch`.
    pub fn follow_timeline(&self, new: TimeLineId, switch: Lsn) -> Result<(), PgError> {
        self.shared.change_timeline(new, switch, None)
    }

    /// The current timeline's history (ancestors with their switch points).
    pub fn timelines(&self) -> Arc<Timelines> {
        self.shared.timelines()
    }

    /// The timeline that owns the byte at `lsn` in the current history.
    pub fn timeline_of(&self, lsn: Lsn) -> TimeLineId {
        self.shared.timelines().timeline_of(lsn)
    }

    /// Writes `pg_wal/<new>.history` (PostgreSQL's format): the parent's history
    /// lines, then `parent<TAB>switch<TAB>reason`. Written to a temporary file,
    /// fsynced, renamed.
    pub fn write_history_file(
        &self,
        new: TimeLineId,
        parent: TimeLineId,
        switch: Lsn,
        reason: &str,
    ) -> Result<(), PgError> {
        segment::write_history_file(&self.shared.opts.dir, new, parent, switch, reason)
    }

    /// Stores a history file received from a primary (`TIMELINE_HISTORY`)
    /// byte-identically, durably. The content must parse.
    pub fn store_history_file(&self, tli: TimeLineId, content: &[u8]) -> Result<(), PgError> {
        parse_history(&String::from_utf8_lossy(content))?;
        timeline::write_history_bytes(&self.shared.opts.dir, tli, content)
    }

    /// Whether `pg_wal/<tli>.history` exists.
    pub fn has_history_file(&self, tli: TimeLineId) -> bool {
        self.shared.opts.dir.join(history_file_name(tli)).exists()
    }

    /// The history of timeline `tli` as its history file in this WAL's directory
    /// says (no ancestors when there is no file).
    pub fn read_history(&self, tli: TimeLineId) -> Result<Timelines, PgError> {
        timeline::read_history(&self.shared.opts.dir, tli)
    }

    pub fn segment_size(&self) -> u64 {
        self.shared.opts.segment_size
    }
}

impl Drop for Wal {
    /// Closing the WAL does not flush: unflushed records are lost, as in a crash.
    /// It waits for a background segment preallocation to finish.
    fn drop(&mut self) {
        self.shared.join_preallocation();
    }
}
