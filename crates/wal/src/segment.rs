//! Segment files: naming, listing, creating (zero-filled, durable), zeroing, removing,
//! and reading byte ranges of the stream back out of them.
//!
//! The WAL is one byte stream; segment `n` of timeline `t` holds stream bytes
//! `[n * segsize, (n + 1) * segsize)` in the file `pg_wal/TTTTTTTTXXXXXXXXYYYYYYYY`
//! (timeline, `n / segments-per-4GB`, `n % segments-per-4GB`; 8 upper-case hex digits
//! each), exactly as PostgreSQL names them.
//!
//! Durability rules enforced here:
//! - a segment appears under its final name only when it is full size, zero-filled
//!   and (with `fsync` on) fsynced, and the directory is fsynced after the link. A
//!   crash never leaves a short or garbage-filled segment under a real name.
//! - creation never replaces an existing file (hard link, not rename), so two
//!   creators racing for the same segment cannot clobber written WAL.
//!
//! PostgreSQL counterpart: `XLogFileInit`/`XLogFileInitInternal`,
//! `RemoveOldXlogFiles` in `src/backend/access/transam/xlog.c`, `XLogFileName` in
//! `xlog_internal.h` and `WALRead` in `xlogreader.c`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tandem_types::fsutil::{fsync_dir, fsync_error};
use tandem_types::{Lsn, PgError, SqlState, TimeLineId};

use crate::timeline::Timelines;

/// Bytes of zeros written per call when zero-filling.
const ZERO_CHUNK: usize = 1 << 20;

/// Read-ahead of a [`SegmentSource`].
const READ_AHEAD: usize = 128 * 1024;

/// Smallest and largest accepted segment sizes (powers of two). PostgreSQL's
/// minimum is 1 MB; we allow smaller ones so tests can cross many boundaries.
pub const MIN_SEGMENT_SIZE: u64 = 1024;
pub const MAX_SEGMENT_SIZE: u64 = 1 << 30;

/// The default segment size (`wal_segment_size`), 16 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 16 * 1024 * 1024;

/// `XLogSegmentsPerXLogId`: how many segments one 4 GB "log id" holds.
pub fn segments_per_xlogid(segsize: u64) -> u64 {
    0x1_0000_0000 / segsize
}

/// The segment number holding `lsn`.
pub fn segno_of(lsn: Lsn, segsize: u64) -> u64 {
    lsn.0 / segsize
}

/// The file name of segment `segno` (`XLogFileName`).
pub fn segment_name(tli: TimeLineId, segno: u64, segsize: u64) -> String {
    let per = segments_per_xlogid(segsize);
    format!("{:08X}{:08X}{:08X}", tli.0, segno / per, segno % per)
}

/// The file name of the segment that holds `lsn`. Note: PostgreSQL's
/// `pg_walfile_name()` names the *previous* segment for an LSN exactly on a
/// boundary (`XLByteToPrevSeg`); this names the segment the byte at `lsn` is in.
pub fn segment_file_name(tli: TimeLineId, lsn: Lsn, segsize: u64) -> String {
    segment_name(tli, segno_of(lsn, segsize), segsize)
}

/// Parses a segment file name into (timeline, segment number); `None` for anything
/// else (`.history`, `.partial`, temp files).
pub fn parse_segment_name(name: &str, segsize: u64) -> Option<(TimeLineId, u64)> {
    if name.len() != 24
        || !name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return None;
    }
    let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
    let per = segments_per_xlogid(segsize);
    if seg >= per {
        return None;
    }
    Some((TimeLineId(tli), log * per + seg))
}

/// One segment file found in the WAL directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    pub timeline: TimeLineId,
    pub segno: u64,
    /// The LSN of the segment's first byte.
    pub start_lsn: Lsn,
    pub name: String,
    pub path: PathBuf,
}

/// Lists the segment files in `dir`, ordered by (segment number, timeline).
pub fn list_segments(dir: &Path, segsize: u64) -> Result<Vec<SegmentFile>, PgError> {
    let entries = fs::read_dir(dir)
        .map_err(|e| PgError::io(format_args!("open directory \"{}\"", dir.display()), &e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| PgError::io(format_args!("read directory \"{}\"", dir.display()), &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((timeline, segno)) = parse_segment_name(name, segsize) {
            out.push(SegmentFile {
                timeline,
                segno,
                start_lsn: Lsn(segno * segsize),
                name: name.to_string(),
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| (s.segno, s.timeline));
    Ok(out)
}

pub(crate) fn segment_path(dir: &Path, tli: TimeLineId, segno: u64, segsize: u64) -> PathBuf {
    dir.join(segment_name(tli, segno, segsize))
}

/// Writes zeros to `[from, to)` of `file`.
pub(crate) fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<(), PgError> {
    let zeros = vec![0u8; ZERO_CHUNK.min((to - from) as usize)];
    let mut off = from;
    while off < to {
        let n = ((to - off) as usize).min(zeros.len());
        file.write_all_at(&zeros[..n], off)
            .map_err(|e| PgError::io(format_args!("write to file \"{}\"", path.display()), &e))?;
        off += n as u64;
    }
    Ok(())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Makes sure segment `segno` exists: if not, writes a zero-filled file under a
/// temporary name, fsyncs it, hard-links it into place (never replacing an existing
/// file) and fsyncs the directory. Returns true if this call created it.
pub(crate) fn create_segment(
    dir: &Path,
    tli: TimeLineId,
    segno: u64,
    segsize: u64,
    fsync: bool,
) -> Result<bool, PgError> {
    let path = segment_path(dir, tli, segno, segsize);
    if path.exists() {
        return Ok(false);
    }
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("xlogtemp.{}.{}", std::process::id(), n));
    let result = (|| {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| PgError::io(format_args!("create file \"{}\"", tmp.display()), &e))?;
        write_zeros(&file, &tmp, 0, segsize)?;
        if fsync {
            file.sync_all().map_err(|e| fsync_error(&tmp, &e))?;
        }
        match fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(PgError::io(
                format_args!("link file \"{}\" to \"{}\"", tmp.display(), path.display()),
                &e,
            )),
        }
    })();
    let _ = fs::remove_file(&tmp);
    let created = result?;
    if fsync {
        fsync_dir(dir)?;
    }
    Ok(created)
}

pub(crate) fn open_segment_rw(path: &Path) -> Result<File, PgError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| PgError::io(format_args!("open file \"{}\"", path.display()), &e))
}

/// `TTTTTTTT.history` of timeline `tli`.
pub fn history_file_name(tli: TimeLineId) -> String {
    format!("{:08X}.history", tli.0)
}

/// Writes the history file of timeline `new` (see `Wal::write_history_file`).
pub(crate) fn write_history_file(
    dir: &Path,
    new: TimeLineId,
    parent: TimeLineId,
    switch: Lsn,
    reason: &str,
) -> Result<(), PgError> {
    let mut text = std::fs::read_to_string(dir.join(history_file_name(parent))).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{}\t{switch}\t{reason}\n", parent.0));
    crate::timeline::write_history_bytes(dir, new, text.as_bytes())
}

/// Reads byte ranges of the stream out of the segment files, with read-ahead; the
/// file of each segment is chosen by the timeline history (`crate::timeline`). Never reads at or past `limit` (so nothing not yet durable is ever
/// cached: bytes below the flush LSN do not change).
pub(crate) struct SegmentSource {
    dir: PathBuf,
    timelines: Arc<Timelines>,
    segsize: u64,
    current: Option<(u64, File)>,
    buf: Vec<u8>,
    buf_start: u64,
    pub(crate) limit: u64,
}

/// Why a read came up short of what was asked.
pub(crate) enum ReadError {
    /// The segment file does not exist (name given).
    Missing(String),
    Io(PgError),
}

impl SegmentSource {
    pub(crate) fn new(
        dir: PathBuf,
        timelines: Arc<Timelines>,
        segsize: u64,
        limit: u64,
    ) -> SegmentSource {
        SegmentSource {
            dir,
            timelines,
            segsize,
            current: None,
            buf: Vec::new(),
            buf_start: 0,
            limit,
        }
    }

    /// The history this source reads by.
    pub(crate) fn timelines(&self) -> &Arc<Timelines> {
        &self.timelines
    }

    /// Reads by a new history from now on (the WAL switched timelines); drops the
    /// open file and the read-ahead.
    pub(crate) fn set_timelines(&mut self, timelines: Arc<Timelines>) {
        self.timelines = timelines;
        self.current = None;
        self.buf.clear();
    }

    /// Makes `current` the file of `segno`: the first candidate timeline's file
    /// that exists (see `Timelines::segment_candidates`).
    fn open_file(&mut self, segno: u64) -> Result<(), ReadError> {
        if matches!(&self.current, Some((s, _)) if *s == segno) {
            return Ok(());
        }
        let candidates = self.timelines.segment_candidates(segno, self.segsize);
        let first = candidates
            .first()
            .copied()
            .unwrap_or(self.timelines.current);
        for tli in candidates {
            let path = segment_path(&self.dir, tli, segno, self.segsize);
            match File::open(&path) {
                Ok(f) => {
                    self.current = Some((segno, f));
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ReadError::Io(PgError::io(
                        format_args!("open file \"{}\"", path.display()),
                        &e,
                    )))
                }
            }
        }
        Err(ReadError::Missing(segment_name(first, segno, self.segsize)))
    }

    /// Reads `out.len()` bytes at `lsn` (fewer if a file is short or `limit` is
    /// reached). A missing segment before anything was read is an error; a missing
    /// segment after some bytes were read ends the read short.
    pub(crate) fn read(&mut self, lsn: u64, out: &mut [u8]) -> Result<usize, ReadError> {
        let mut done = 0usize;
        while done < out.len() {
            let pos = lsn + done as u64;
            let buf_end = self.buf_start + self.buf.len() as u64;
            if pos >= self.buf_start && pos < buf_end {
                let from = (pos - self.buf_start) as usize;
                let n = (self.buf.len() - from).min(out.len() - done);
                out[done..done + n].copy_from_slice(&self.buf[from..from + n]);
                done += n;
                continue;
            }
            if pos >= self.limit {
                break;
            }
            let seg_left = self.segsize - pos % self.segsize;
            let max = seg_left.min(self.limit - pos) as usize;
            let want = out.len() - done;
            let offset = pos % self.segsize;
            match self.open_file(pos / self.segsize) {
                Ok(()) => {}
                Err(ReadError::Missing(_)) if done > 0 => break,
                Err(e) => return Err(e),
            }
            let Some((_, file)) = &self.current else {
                unreachable!("segment file was just opened")
            };
            let n = if want >= READ_AHEAD {
                let n = want.min(max);
                pread_full(file, &mut out[done..done + n], offset)
            } else {
                // Read ahead into the buffer; the next turn of the loop copies out.
                self.buf.resize(READ_AHEAD.min(max), 0);
                let got = pread_full(file, &mut self.buf, offset);
                self.buf_start = pos;
                if let Ok(n) = got {
                    self.buf.truncate(n);
                } else {
                    self.buf.clear();
                }
                got
            };
            match n {
                Ok(0) => break,
                Ok(n) if want >= READ_AHEAD => done += n,
                Ok(_) => {}
                Err(e) => return Err(self.read_err(pos, &e)),
            }
        }
        Ok(done)
    }

    fn read_err(&self, pos: u64, e: &io::Error) -> ReadError {
        let name = segment_name(
            self.timelines.timeline_of(Lsn(pos)),
            pos / self.segsize,
            self.segsize,
        );
        ReadError::Io(PgError::io(
            format_args!(
                "read from WAL segment {name}, offset {}",
                pos % self.segsize
            ),
            e,
        ))
    }
}

/// `pread` until `buf` is full or end of file; returns the bytes read.
fn pread_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// `requested WAL segment ... has already been removed`, as a walsender says it.
pub(crate) fn removed_error(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_FILE,
        format!("requested WAL segment {name} has already been removed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl1() -> Arc<Timelines> {
        Arc::new(Timelines::new(TimeLineId(1)))
    }

    #[test]
    fn names_match_postgres() {
        let seg = DEFAULT_SEGMENT_SIZE;
        assert_eq!(segments_per_xlogid(seg), 256);
        assert_eq!(
            segment_file_name(TimeLineId(1), Lsn(0x100_0000), seg),
            "000000010000000000000001"
        );
        assert_eq!(
            segment_file_name(TimeLineId(1), Lsn(0x16B3748), seg),
            "000000010000000000000001"
        );
        // 1/0 is the first segment of log id 1
        assert_eq!(
            segment_file_name(TimeLineId(2), Lsn(0x1_0000_0000), seg),
            "000000020000000100000000"
        );
        assert_eq!(
            segment_file_name(TimeLineId(1), Lsn(0x1_FF00_0000), seg),
            "0000000100000001000000FF"
        );
        assert_eq!(
            parse_segment_name("0000000100000001000000FF", seg),
            Some((TimeLineId(1), 511))
        );
        assert_eq!(parse_segment_name("00000001000000010000FFFF", seg), None);
        assert_eq!(parse_segment_name("00000002.history", seg), None);
        assert_eq!(
            parse_segment_name("000000010000000000000001.partial", seg),
            None
        );
        assert_eq!(parse_segment_name("0000000100000000000000a1", seg), None);
    }

    #[test]
    fn created_segments_are_full_size_zero_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert!(create_segment(dir.path(), TimeLineId(1), 3, 4096, true).unwrap());
        let path = segment_path(dir.path(), TimeLineId(1), 3, 4096);
        let f = open_segment_rw(&path).unwrap();
        f.write_all_at(b"data", 100).unwrap();
        assert!(!create_segment(dir.path(), TimeLineId(1), 3, 4096, true).unwrap());
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert_eq!(&bytes[100..104], b"data");
        let listed = list_segments(dir.path(), 4096).unwrap();
        assert_eq!(listed.len(), 1, "no temp files left: {listed:?}");
        assert_eq!(listed[0].segno, 3);
        assert_eq!(listed[0].start_lsn, Lsn(3 * 4096));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn source_reads_across_segments_and_stops_at_limit_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        for segno in 0..2 {
            create_segment(dir.path(), TimeLineId(1), segno, 1024, false).unwrap();
            let f = open_segment_rw(&segment_path(dir.path(), TimeLineId(1), segno, 1024)).unwrap();
            f.write_all_at(&[segno as u8 + 1; 1024], 0).unwrap();
        }
        let mut src = SegmentSource::new(dir.path().to_path_buf(), tl1(), 1024, u64::MAX);
        let mut out = vec![0u8; 16];
        assert_eq!(src.read(1016, &mut out).ok(), Some(16));
        assert_eq!(&out[..8], &[1; 8]);
        assert_eq!(&out[8..], &[2; 8]);
        // past the last file: short read
        assert_eq!(src.read(2040, &mut out).ok(), Some(8));
        assert!(matches!(
            src.read(2048, &mut out),
            Err(ReadError::Missing(_))
        ));
        let mut limited = SegmentSource::new(dir.path().to_path_buf(), tl1(), 1024, 1020);
        assert_eq!(limited.read(1010, &mut out).ok(), Some(10));
    }
}
