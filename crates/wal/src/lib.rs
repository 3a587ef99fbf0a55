//! The write-ahead log: record format, segment files, group commit, reading.
//!
//! INTERFACE STUB (written by the lead): the wal helper owns this crate and replaces
//! the bodies; keep the signatures (extend freely).
//!
//! The WAL is one endless byte stream; an [`Lsn`] is a byte offset in it. Segment
//! files in `pg_wal/` hold consecutive slices of the stream (16 MB each by default,
//! named like PostgreSQL's: `TTTTTTTTXXXXXXXXYYYYYYYY`). A record is
//! `header (len, crc32c, prev, kind, xid) + payload`; the payload is opaque here
//! (the storage crate defines it). The end of WAL is the first record that does not
//! check out (torn tail).

use std::path::PathBuf;
use std::sync::Arc;

use tandem_types::{Lsn, PgError, TimeLineId, Xid};

/// What a record is. Values 0..=15 are reserved for the WAL itself; storage uses
/// 16.. for heap and catalog records, replication later uses its own range.
pub type RecordKind = u8;

/// Record kinds the WAL crate itself understands.
pub mod kinds {
    use super::RecordKind;
    /// pg_switch_wal(): the rest of the segment is unused; next record starts at the
    /// next segment boundary.
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
    /// Where the next record starts (this record's end).
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
    /// bytes; default 16 MiB
    pub segment_size: u64,
    /// `fsync` setting; when false, flush() only writes (no fdatasync).
    pub fsync: bool,
}

/// The WAL of one node. Thread-safe; share it as `Arc<Wal>`.
pub struct Wal {
    _private: (),
}

impl Wal {
    /// Creates an empty WAL whose first record will be at `start` (initdb).
    pub fn create(opts: WalOptions, start: Lsn) -> Result<Arc<Wal>, PgError> {
        let _ = (opts, start);
        todo!()
    }

    /// Opens an existing WAL, scanning forward from `from` (the checkpoint's redo LSN,
    /// which must be a record start) to the end of valid WAL. Appends continue at
    /// that end; anything after it (a torn tail) is overwritten.
    pub fn open(opts: WalOptions, from: Lsn) -> Result<Arc<Wal>, PgError> {
        let _ = (opts, from);
        todo!()
    }

    /// Appends records contiguously (no other append interleaves). Returns the start
    /// LSN of each record and the end LSN of the last. The bytes are not yet durable:
    /// call [`Wal::flush`].
    pub fn append(&self, records: &[Record]) -> Result<(Vec<Lsn>, Lsn), PgError> {
        let _ = records;
        todo!()
    }

    /// Blocks until everything up to `upto` is written and fsynced (group commit:
    /// one fdatasync serves every waiter whose LSN it covers). An fsync failure is
    /// fatal for the server (PostgreSQL's PANIC): returns an error the caller must
    /// treat as fatal.
    pub fn flush(&self, upto: Lsn) -> Result<(), PgError> {
        let _ = upto;
        todo!()
    }

    /// Waits until `flush_lsn() > after` or `timeout` passes; returns the flush LSN.
    /// (Walsenders and the walwriter use this instead of polling.)
    pub fn wait_for_flush(&self, after: Lsn, timeout: std::time::Duration) -> Lsn {
        let _ = (after, timeout);
        todo!()
    }

    /// End of the last appended record (`pg_current_wal_insert_lsn`).
    pub fn insert_lsn(&self) -> Lsn {
        todo!()
    }
    /// Written to the OS (`pg_current_wal_lsn`).
    pub fn write_lsn(&self) -> Lsn {
        todo!()
    }
    /// Durable (`pg_current_wal_flush_lsn`).
    pub fn flush_lsn(&self) -> Lsn {
        todo!()
    }

    /// `pg_switch_wal()`: appends a SWITCH record (if the current segment holds any
    /// record since the last switch), flushes, and returns the switch record's end
    /// LSN as PostgreSQL returns it.
    pub fn switch_segment(&self) -> Result<Lsn, PgError> {
        todo!()
    }

    /// Reader over durable records starting at `from` (a record start).
    pub fn reader(&self, from: Lsn) -> WalReader {
        let _ = from;
        todo!()
    }

    /// Removes (or recycles) whole segments that end at or before `keep_from`.
    /// Returns how many were removed.
    pub fn remove_segments_before(&self, keep_from: Lsn) -> Result<usize, PgError> {
        let _ = keep_from;
        todo!()
    }

    pub fn timeline(&self) -> TimeLineId {
        todo!()
    }
    pub fn segment_size(&self) -> u64 {
        todo!()
    }
}

/// Sequential reader of records. `next()` returns `Ok(None)` at the end of valid WAL.
pub struct WalReader {
    _private: (),
}

impl WalReader {
    pub fn next_record(&mut self) -> Result<Option<ReadRecord>, PgError> {
        todo!()
    }
}
