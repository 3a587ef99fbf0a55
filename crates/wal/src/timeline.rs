//! Timeline histories: which timeline owns which stretch of the WAL stream, and
//! which segment file holds a given segment when the WAL has crossed timeline
//! switches (promotion, or a standby following a promoted node).
//!
//! A history file `pg_wal/TTTTTTTT.history` lists, one line per ancestor, the
//! ancestor's timeline and its switch point (`parent<TAB>X/X<TAB>reason`, the
//! oldest first). Timeline `t`'s range is `[end of the previous line, its own
//! switch point)`; the current timeline runs from the last switch point on.
//!
//! Segment choice (as PostgreSQL's walsender and recovery do): segment `n` is read
//! from the newest timeline whose range starts before the end of the segment. At
//! a switch the new timeline's copy of the switch segment holds the old
//! timeline's bytes up to the switch point, so that file serves both sides of it.
//!
//! PostgreSQL counterpart: `src/backend/access/transam/timeline.c`
//! (`readTimeLineHistory`, `tliOfPointInHistory`, `tliSwitchPoint`,
//! `writeTimeLineHistoryFile`).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use tandem_types::fsutil::{fsync_dir, fsync_error};
use tandem_types::{Lsn, PgError, TimeLineId};

use crate::segment::history_file_name;

/// The history of the current timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timelines {
    /// The current (newest) timeline.
    pub current: TimeLineId,
    /// Ancestors, oldest first: (timeline, switch point = end of its range).
    pub ancestors: Vec<(TimeLineId, Lsn)>,
}

impl Timelines {
    /// A timeline with no known ancestors.
    pub fn new(current: TimeLineId) -> Timelines {
        Timelines {
            current,
            ancestors: Vec::new(),
        }
    }

    /// The timeline that owns the byte at `lsn` (`tliOfPointInHistory`).
    pub fn timeline_of(&self, lsn: Lsn) -> TimeLineId {
        self.ancestors
            .iter()
            .find(|(_, end)| lsn < *end)
            .map(|(t, _)| *t)
            .unwrap_or(self.current)
    }

    /// Where timeline `tli` ends and which timeline follows it
    /// (`tliSwitchPoint`): `Some((switch point, next))` for an ancestor, `None`
    /// for the current timeline or a timeline not in the history.
    pub fn switch_point(&self, tli: TimeLineId) -> Option<(Lsn, TimeLineId)> {
        let i = self.ancestors.iter().position(|(t, _)| *t == tli)?;
        let next = self
            .ancestors
            .get(i + 1)
            .map(|(t, _)| *t)
            .unwrap_or(self.current);
        Some((self.ancestors[i].1, next))
    }

    /// Whether `tli` is the current timeline or one of its ancestors.
    pub fn contains(&self, tli: TimeLineId) -> bool {
        tli == self.current || self.ancestors.iter().any(|(t, _)| *t == tli)
    }

    /// The history after switching from the current timeline to `new` at `switch`.
    pub fn child(&self, new: TimeLineId, switch: Lsn) -> Timelines {
        let mut ancestors = self.ancestors.clone();
        ancestors.push((self.current, switch));
        Timelines {
            current: new,
            ancestors,
        }
    }

    /// Candidate timelines whose file may hold segment `segno`, best first: the
    /// newest timeline whose range begins before the segment's end, then older
    /// timelines whose range overlaps the segment. With no history (timeline 1,
    /// or a missing history file) every older timeline is a fallback candidate.
    pub(crate) fn segment_candidates(&self, segno: u64, segsize: u64) -> Vec<TimeLineId> {
        let seg_start = segno * segsize;
        let seg_end = seg_start + segsize;
        if self.ancestors.is_empty() {
            return (1..=self.current.0).rev().map(TimeLineId).collect();
        }
        let mut out = Vec::new();
        // ranges, newest first
        let mut begin_of_current = Lsn(0);
        if let Some((_, end)) = self.ancestors.last() {
            begin_of_current = *end;
        }
        if begin_of_current.0 < seg_end {
            out.push(self.current);
        }
        for (i, (t, end)) in self.ancestors.iter().enumerate().rev() {
            let begin = if i == 0 {
                0
            } else {
                self.ancestors[i - 1].1 .0
            };
            if begin < seg_end && end.0 > seg_start {
                out.push(*t);
            }
        }
        out
    }
}

/// Parses a history file's text into (timeline, switch point) lines, oldest
/// first. Blank lines and `#` comments are skipped, as PostgreSQL does; a
/// malformed line is an error.
pub fn parse_history(text: &str) -> Result<Vec<(TimeLineId, Lsn)>, PgError> {
    let mut out: Vec<(TimeLineId, Lsn)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let tli = fields.next().and_then(|f| f.parse::<u32>().ok());
        let lsn = fields.next().and_then(|f| f.parse::<Lsn>().ok());
        let (Some(tli), Some(lsn)) = (tli, lsn) else {
            return Err(PgError::new(
                tandem_types::SqlState::DATA_CORRUPTED,
                "syntax error in history file",
            )
            .with_detail(
                "Expected a numeric timeline ID and a write-ahead log switchpoint location.",
            ));
        };
        if out.last().is_some_and(|(t, _)| t.0 >= tli) {
            return Err(PgError::new(
                tandem_types::SqlState::DATA_CORRUPTED,
                "invalid data in history file",
            )
            .with_detail("Timeline IDs must be in increasing sequence."));
        }
        out.push((TimeLineId(tli), lsn));
    }
    Ok(out)
}

/// Reads the history of timeline `tli` from `dir` (`readTimeLineHistory`): its
/// ancestors from `TTTTTTTT.history`, none if the file does not exist.
pub fn read_history(dir: &Path, tli: TimeLineId) -> Result<Timelines, PgError> {
    let path = dir.join(history_file_name(tli));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Timelines::new(tli)),
        Err(e) => {
            return Err(PgError::io(
                format_args!("open file \"{}\"", path.display()),
                &e,
            ))
        }
    };
    Ok(Timelines {
        current: tli,
        ancestors: parse_history(&text)?,
    })
}

/// Writes `TTTTTTTT.history` of `tli` with `content` durably: temporary file,
/// fsync, rename, directory fsync (a reader never sees a partial file).
pub fn write_history_bytes(dir: &Path, tli: TimeLineId, content: &[u8]) -> Result<(), PgError> {
    let path = dir.join(history_file_name(tli));
    let tmp = dir.join(format!("{}.tmp", history_file_name(tli)));
    let io_err = |e: io::Error| PgError::io(format_args!("write file \"{}\"", tmp.display()), &e);
    {
        let mut f = File::create(&tmp).map_err(io_err)?;
        f.write_all(content).map_err(io_err)?;
        f.sync_all().map_err(|e| fsync_error(&tmp, &e))?;
    }
    std::fs::rename(&tmp, &path)
        .map_err(|e| PgError::io(format_args!("rename file \"{}\"", tmp.display()), &e))?;
    fsync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_switches() -> Timelines {
        Timelines {
            current: TimeLineId(3),
            ancestors: vec![(TimeLineId(1), Lsn(0x1800)), (TimeLineId(2), Lsn(0x2400))],
        }
    }

    #[test]
    fn points_and_switches_follow_the_history() {
        let h = two_switches();
        assert_eq!(h.timeline_of(Lsn(0x17F8)), TimeLineId(1));
        assert_eq!(h.timeline_of(Lsn(0x1800)), TimeLineId(2));
        assert_eq!(h.timeline_of(Lsn(0x2400)), TimeLineId(3));
        assert_eq!(h.timeline_of(Lsn(0x9000)), TimeLineId(3));
        assert_eq!(
            h.switch_point(TimeLineId(1)),
            Some((Lsn(0x1800), TimeLineId(2)))
        );
        assert_eq!(
            h.switch_point(TimeLineId(2)),
            Some((Lsn(0x2400), TimeLineId(3)))
        );
        assert_eq!(h.switch_point(TimeLineId(3)), None);
        assert_eq!(h.switch_point(TimeLineId(4)), None);
        assert!(h.contains(TimeLineId(2)) && !h.contains(TimeLineId(4)));
        let child = Timelines::new(TimeLineId(1)).child(TimeLineId(2), Lsn(0x1800));
        assert_eq!(child.ancestors, vec![(TimeLineId(1), Lsn(0x1800))]);
    }

    #[test]
    fn segments_come_from_the_newest_timeline_that_reaches_them() {
        let h = two_switches();
        // 1 KiB segments: segment 5 = [0x1400, 0x1800) is timeline 1's only
        assert_eq!(h.segment_candidates(5, 1024), vec![TimeLineId(1)]);
        // segment 6 = [0x1800, 0x1C00) starts timeline 2
        assert_eq!(h.segment_candidates(6, 1024), vec![TimeLineId(2)]);
        // segment 9 = [0x2400, 0x2800): timeline 3 starts at its first byte
        assert_eq!(h.segment_candidates(9, 1024), vec![TimeLineId(3)]);
        // 4 KiB segments: segment 1 = [0x1000, 0x2000) holds the 1 -> 2 switch
        assert_eq!(
            h.segment_candidates(1, 4096),
            vec![TimeLineId(2), TimeLineId(1)]
        );
        assert_eq!(
            h.segment_candidates(2, 4096),
            vec![TimeLineId(3), TimeLineId(2)]
        );
        assert_eq!(
            Timelines::new(TimeLineId(2)).segment_candidates(0, 1024),
            vec![TimeLineId(2), TimeLineId(1)]
        );
    }

    #[test]
    fn history_files_parse_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let text = "1\t0/3000060\tno recovery target specified\n\n# c\n2\t0/5000000\tx\n";
        write_history_bytes(dir.path(), TimeLineId(3), text.as_bytes()).unwrap();
        let h = read_history(dir.path(), TimeLineId(3)).unwrap();
        assert_eq!(
            h.ancestors,
            vec![
                (TimeLineId(1), Lsn(0x3000060)),
                (TimeLineId(2), Lsn(0x5000000))
            ]
        );
        assert_eq!(
            read_history(dir.path(), TimeLineId(1)).unwrap(),
            Timelines::new(TimeLineId(1))
        );
        assert!(parse_history("x\t0/1\n").is_err());
        assert!(parse_history("2\t0/1\n1\t0/2\n").is_err());
    }
}
