//! Starting a WAL: creating an empty one (initdb) and opening an existing one, which
//! means finding the end of valid WAL and cleaning up the torn tail behind it.
//!
//! Opening scans forward from a known record start (the checkpoint's redo LSN). The
//! first record that does not check out (zero length, bad length, CRC mismatch,
//! wrong prev-link, bytes running past the existing files, missing segment) is the
//! end of WAL. Before any append is accepted, everything after that end is
//! destroyed durably:
//! - the rest of the segment holding the end is overwritten with zeros (the file is
//!   recreated or extended to full size if it is missing or short), and
//! - later segment files of the timeline are removed,
//!
//! then the file and the directory are fsynced. This is what makes the prev-link
//! check sufficient: without it, a record appended at the end could happen to line
//! up with a stale record from before the crash whose prev-link points at the same
//! position (same start, same length), and a later scan would accept that stale
//! record. With it, every byte past the end of WAL is zero or written after the
//! open. A crash during the cleanup is harmless: the next open finds the same end
//! and cleans again.
//!
//! PostgreSQL counterpart: the end-of-WAL part of `StartupXLOG`
//! (`src/backend/access/transam/xlog.c`) and `xlogrecovery.c`'s read loop.

use std::path::Path;
use std::sync::Arc;

use tandem_types::fsutil::{fsync_dir, fsync_error};
use tandem_types::{Lsn, PgError, SqlState};

use crate::reader::{decode_at, read_exact, Decoded};
use crate::record::{EndOfWal, RECORD_ALIGN};
use crate::segment::{
    create_segment, list_segments, segment_path, write_zeros, SegmentSource, MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
};
use crate::timeline::{read_history, Timelines};
use crate::writer::Shared;
use crate::WalOptions;

/// What the scan found.
pub(crate) struct ScanResult {
    /// Where the next record goes.
    pub end: Lsn,
    /// Start of the last valid record (INVALID if none was found).
    pub last_record: Lsn,
    pub reason: EndOfWal,
}

pub(crate) fn check_options(opts: &WalOptions) -> Result<(), PgError> {
    let s = opts.segment_size;
    if !s.is_power_of_two() || !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&s) {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid WAL segment size {s}"),
        )
        .with_detail(format!(
            "The WAL segment size must be a power of two between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes."
        )));
    }
    Ok(())
}

fn check_start(lsn: Lsn) -> Result<(), PgError> {
    if !lsn.is_valid() || !lsn.0.is_multiple_of(RECORD_ALIGN) {
        return Err(PgError::internal(format!("invalid WAL record start {lsn}")));
    }
    Ok(())
}

pub(crate) fn create(opts: WalOptions, start: Lsn) -> Result<Shared, PgError> {
    check_options(&opts)?;
    check_start(start)?;
    std::fs::create_dir_all(&opts.dir).map_err(|e| {
        PgError::io(
            format_args!("create directory \"{}\"", opts.dir.display()),
            &e,
        )
    })?;
    if let Some(seg) = list_segments(&opts.dir, opts.segment_size)?.first() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "WAL directory \"{}\" already contains segment {}",
                opts.dir.display(),
                seg.name
            ),
        ));
    }
    let segno = start.0 / opts.segment_size;
    create_segment(
        &opts.dir,
        opts.timeline,
        segno,
        opts.segment_size,
        opts.fsync,
    )?;
    let timelines = Timelines::new(opts.timeline);
    Ok(Shared::new(opts, start, Lsn::INVALID, None, timelines))
}

pub(crate) fn open(opts: WalOptions, from: Lsn) -> Result<Shared, PgError> {
    check_options(&opts)?;
    check_start(from)?;
    let timelines = read_history(&opts.dir, opts.timeline)?;
    let scan = scan(&opts, &timelines, from)?;
    clean_tail(&opts, scan.end)?;
    Ok(Shared::new(
        opts,
        scan.end,
        scan.last_record,
        Some(scan.reason),
        timelines,
    ))
}

/// Reads records from `from` until one does not check out.
pub(crate) fn scan(
    opts: &WalOptions,
    timelines: &Timelines,
    from: Lsn,
) -> Result<ScanResult, PgError> {
    let mut src = SegmentSource::new(
        opts.dir.clone(),
        Arc::new(timelines.clone()),
        opts.segment_size,
        u64::MAX,
    );
    let mut pos = from;
    let mut prev = None;
    loop {
        let read = &mut |at, out: &mut [u8]| read_exact(&mut src, at, out);
        match decode_at(read, pos, prev, opts.segment_size)? {
            Decoded::Record(record) => {
                prev = Some(record.lsn);
                pos = record.end_lsn;
            }
            Decoded::End(reason) => {
                return Ok(ScanResult {
                    end: pos,
                    last_record: prev.unwrap_or(Lsn::INVALID),
                    reason,
                })
            }
        }
    }
}

/// Zeroes the rest of the segment holding `end` and removes later segments of the
/// timeline (see the module comment), durably.
fn clean_tail(opts: &WalOptions, end: Lsn) -> Result<(), PgError> {
    let segsize = opts.segment_size;
    let segno = end.0 / segsize;
    let path = segment_path(&opts.dir, opts.timeline, segno, segsize);
    if !create_segment(&opts.dir, opts.timeline, segno, segsize, opts.fsync)? {
        let file = crate::segment::open_segment_rw(&path)?;
        let len = file
            .metadata()
            .map_err(|e| PgError::io(format_args!("stat file \"{}\"", path.display()), &e))?
            .len();
        if len > segsize {
            file.set_len(segsize).map_err(|e| {
                PgError::io(format_args!("truncate file \"{}\"", path.display()), &e)
            })?;
        }
        write_zeros(&file, &path, end.0 % segsize, segsize)?;
        if opts.fsync {
            file.sync_all().map_err(|e| fsync_error(&path, &e))?;
        }
    }
    let mut removed = false;
    for seg in list_segments(&opts.dir, segsize)? {
        if seg.timeline == opts.timeline && seg.segno > segno {
            remove(&seg.path)?;
            removed = true;
        }
    }
    if removed && opts.fsync {
        fsync_dir(&opts.dir)?;
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), PgError> {
    std::fs::remove_file(path)
        .map_err(|e| PgError::io(format_args!("remove file \"{}\"", path.display()), &e))
}
