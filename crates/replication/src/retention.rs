//! WAL retention for replication: which segments checkpoints must keep for slots
//! and `wal_keep_size`, when `max_slot_wal_keep_size` gives up on a slot, and the
//! `wal_status` / `safe_wal_size` columns of `pg_replication_slots`
//! (PostgreSQL's `xlog.c`: `KeepLogSeg`, `GetWALAvailability`;
//! `slot.c`: `InvalidateObsoleteReplicationSlots`; `slotfuncs.c`).
//!
//! Pure functions of positions and settings; segment numbers are `lsn / size`.

use tandem_types::Lsn;

const MB: u64 = 1024 * 1024;

/// The settings that govern retention (sizes as PostgreSQL's GUCs, in MB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    pub segment_size: u64,
    pub wal_keep_size_mb: u64,
    /// `-1`: slots may keep any amount.
    pub max_slot_wal_keep_size_mb: i64,
    pub max_wal_size_mb: u64,
}

impl RetentionSettings {
    fn seg(&self) -> u64 {
        self.segment_size.max(1)
    }
    fn segno(&self, lsn: Lsn) -> u64 {
        lsn.0 / self.seg()
    }
    /// MB to whole segments (PostgreSQL's `ConvertToXSegs`, rounding down).
    fn mb_to_segs(&self, mb: u64) -> u64 {
        mb.saturating_mul(MB) / self.seg()
    }
    fn seg_start(&self, segno: u64) -> Lsn {
        Lsn(segno.saturating_mul(self.seg()))
    }
}

/// The oldest segment number to keep given the current position `curr`, the
/// oldest `restart_lsn` of valid slots, and the settings (`KeepLogSeg`). The
/// result never exceeds `curr`'s segment.
pub fn keep_segno(curr: Lsn, slots_min: Option<Lsn>, s: &RetentionSettings) -> u64 {
    let curr_seg = s.segno(curr);
    let mut segno = curr_seg;
    if let Some(keep) = slots_min.filter(|k| k.is_valid() && *k < curr) {
        segno = s.segno(keep);
        if s.max_slot_wal_keep_size_mb >= 0 {
            let limit = s.mb_to_segs(s.max_slot_wal_keep_size_mb as u64);
            if curr_seg - segno > limit {
                segno = curr_seg - limit;
            }
        }
    }
    if s.wal_keep_size_mb > 0 {
        let keep_segs = s.mb_to_segs(s.wal_keep_size_mb);
        if curr_seg - segno < keep_segs {
            segno = if curr_seg <= keep_segs {
                1
            } else {
                curr_seg - keep_segs
            };
        }
    }
    segno.min(curr_seg)
}

/// The LSN below which WAL may go (start of [`keep_segno`]'s segment).
pub fn keep_floor(curr: Lsn, slots_min: Option<Lsn>, s: &RetentionSettings) -> Lsn {
    s.seg_start(keep_segno(curr, slots_min, s))
}

/// Slots a checkpoint must invalidate: those whose `restart_lsn` lies before the
/// floor that `max_slot_wal_keep_size` allows, with how many bytes they exceed it.
/// Empty when `max_slot_wal_keep_size` is -1.
pub fn slots_to_invalidate(
    curr: Lsn,
    slots: &[(String, Lsn)],
    s: &RetentionSettings,
) -> Vec<(String, Lsn, u64)> {
    if s.max_slot_wal_keep_size_mb < 0 {
        return Vec::new();
    }
    let min = slots.iter().map(|(_, l)| *l).filter(|l| l.is_valid()).min();
    let floor = keep_floor(curr, min, s);
    slots
        .iter()
        .filter(|(_, l)| l.is_valid() && *l < floor)
        .map(|(n, l)| (n.clone(), *l, floor.0 - l.0))
        .collect()
}

/// `pg_replication_slots.wal_status` (NULL when the slot reserves no WAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalStatus {
    Reserved,
    Extended,
    Unreserved,
    Lost,
}

impl WalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WalStatus::Reserved => "reserved",
            WalStatus::Extended => "extended",
            WalStatus::Unreserved => "unreserved",
            WalStatus::Lost => "lost",
        }
    }
}

/// `wal_status` of a slot with `restart_lsn` (`GetWALAvailability`).
/// `curr` is the current write position, `slots_min` the oldest restart_lsn of
/// all valid slots, `oldest_segno` the oldest segment still on disk, `active`
/// whether a process uses the slot (a lost segment then shows `unreserved`, as
/// the walsender may already be past it), `invalidated` whether the slot was
/// invalidated for removed WAL.
pub fn wal_status(
    restart_lsn: Option<Lsn>,
    invalidated: bool,
    curr: Lsn,
    slots_min: Option<Lsn>,
    oldest_segno: u64,
    active: bool,
    s: &RetentionSettings,
) -> Option<WalStatus> {
    if invalidated {
        return Some(WalStatus::Lost);
    }
    let target = restart_lsn.filter(|l| l.is_valid())?;
    let oldest_slot_seg = keep_segno(curr, slots_min, s);
    let curr_seg = s.segno(curr);
    let keep_segs = s.mb_to_segs(s.max_wal_size_mb) + 1;
    let oldest_max_wal_size = if curr_seg > keep_segs {
        curr_seg - keep_segs
    } else {
        1
    };
    let target_seg = s.segno(target);
    Some(if target_seg >= oldest_slot_seg {
        if target_seg >= oldest_max_wal_size {
            WalStatus::Reserved
        } else {
            WalStatus::Extended
        }
    } else if target_seg >= oldest_segno || active {
        WalStatus::Unreserved
    } else {
        WalStatus::Lost
    })
}

/// `safe_wal_size`: bytes that can still be written before the slot's WAL is
/// beyond `max_slot_wal_keep_size` (NULL when unlimited or lost).
pub fn safe_wal_size(
    restart_lsn: Option<Lsn>,
    status: Option<WalStatus>,
    curr: Lsn,
    s: &RetentionSettings,
) -> Option<i64> {
    if s.max_slot_wal_keep_size_mb < 0 || status == Some(WalStatus::Lost) {
        return None;
    }
    let target = restart_lsn.filter(|l| l.is_valid())?;
    let slot_segs = s.mb_to_segs(s.max_slot_wal_keep_size_mb as u64);
    let keep_segs = s.mb_to_segs(s.wal_keep_size_mb);
    let fail_seg = s.segno(target) + slot_segs.max(keep_segs) + 1;
    Some(s.seg_start(fail_seg).0 as i64 - curr.0 as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(keep: u64, max_slot: i64) -> RetentionSettings {
        RetentionSettings {
            segment_size: MB,
            wal_keep_size_mb: keep,
            max_slot_wal_keep_size_mb: max_slot,
            max_wal_size_mb: 4,
        }
    }

    #[test]
    fn floor_follows_slots_capped_by_max_slot_wal_keep_size() {
        let curr = Lsn(10 * MB + 100);
        // no slot, no wal_keep_size: only the current segment
        assert_eq!(keep_floor(curr, None, &settings(0, -1)), Lsn(10 * MB));
        // a slot at segment 3 keeps segment 3
        assert_eq!(
            keep_floor(curr, Some(Lsn(3 * MB + 5)), &settings(0, -1)),
            Lsn(3 * MB)
        );
        // capped at 2 segments behind the current one
        assert_eq!(
            keep_floor(curr, Some(Lsn(3 * MB + 5)), &settings(0, 2)),
            Lsn(8 * MB)
        );
        // wal_keep_size keeps 5 segments even without slots
        assert_eq!(keep_floor(curr, None, &settings(5, -1)), Lsn(5 * MB));
        // ... and never goes below segment 1
        assert_eq!(keep_floor(Lsn(2 * MB), None, &settings(5, -1)), Lsn(MB));
    }

    #[test]
    fn invalidation_reports_the_excess() {
        let curr = Lsn(10 * MB + 100);
        let slots = vec![
            ("old".to_string(), Lsn(3 * MB + 5)),
            ("new".to_string(), Lsn(9 * MB)),
        ];
        let inv = slots_to_invalidate(curr, &slots, &settings(0, 2));
        assert_eq!(inv, vec![("old".to_string(), Lsn(3 * MB + 5), 5 * MB - 5)]);
        assert!(slots_to_invalidate(curr, &slots, &settings(0, -1)).is_empty());
    }

    #[test]
    fn wal_status_and_safe_size() {
        let s = settings(0, 6);
        let curr = Lsn(10 * MB);
        let st = |lsn: u64, oldest: u64, active: bool| {
            wal_status(
                Some(Lsn(lsn)),
                false,
                curr,
                Some(Lsn(lsn)),
                oldest,
                active,
                &s,
            )
        };
        assert_eq!(st(9 * MB, 1, false), Some(WalStatus::Reserved));
        // behind max_wal_size (4 MB + 1 segment) but within max_slot_wal_keep_size
        assert_eq!(st(4 * MB, 1, false), Some(WalStatus::Extended));
        // beyond max_slot_wal_keep_size but still on disk
        let s2 = settings(0, 2);
        assert_eq!(
            wal_status(
                Some(Lsn(3 * MB)),
                false,
                curr,
                Some(Lsn(3 * MB)),
                1,
                false,
                &s2
            ),
            Some(WalStatus::Unreserved)
        );
        assert_eq!(
            wal_status(
                Some(Lsn(3 * MB)),
                false,
                curr,
                Some(Lsn(3 * MB)),
                5,
                false,
                &s2
            ),
            Some(WalStatus::Lost)
        );
        assert_eq!(st(0, 1, false), None);
        assert_eq!(
            wal_status(None, true, curr, None, 1, false, &s),
            Some(WalStatus::Lost)
        );
        // safe_wal_size: restart in segment 9, 6 segments allowed -> fail at 16 MB
        assert_eq!(
            safe_wal_size(Some(Lsn(9 * MB)), Some(WalStatus::Reserved), curr, &s),
            Some((16 * MB - 10 * MB) as i64)
        );
        assert_eq!(
            safe_wal_size(Some(Lsn(9 * MB)), None, curr, &settings(0, -1)),
            None
        );
    }
}
