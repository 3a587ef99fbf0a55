//! The decoding statistics of logical slots (`pg_stat_replication_slots`):
//! per slot, the transactions and bytes decoded (`total_txns`,
//! `total_bytes`) and when the counters were last reset (`stats_reset`).
//!
//! Kept in memory, as PostgreSQL's cumulative statistics are. A clean
//! shutdown writes them to `pg_stat/replslot.stat` ([`SlotStats::save`]); the
//! next start reads that file and removes it ([`SlotStats::load`]), so after a
//! crash (no file) every counter starts again from zero, as in PostgreSQL.
//! Creating a slot starts its counters from zero ([`SlotStats::create`]); the
//! counters of slots that no longer exist are not written.
//!
//! tandem decodes whole committed transactions and never spills them to
//! disk nor streams them in progress, so the `spill_*` and `stream_*`
//! columns are always 0 and are not kept.
//!
//! Corresponds to PostgreSQL's `utils/activity/pgstat_replslot.c` (and the
//! replication slot part of `pgstat.c`'s stats file).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use tandem_types::{PgError, PgResult, SqlState};

/// One slot's counters (PostgreSQL's `PgStat_StatReplSlotEntry`, less the
/// spill and stream counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotCounters {
    pub total_txns: i64,
    pub total_bytes: i64,
    /// Microseconds since 2000-01-01 UTC; `None` until the first reset.
    pub stats_reset: Option<i64>,
}

/// The counters of every logical slot of the server.
#[derive(Default)]
pub struct SlotStats {
    slots: Mutex<HashMap<String, SlotCounters>>,
}

/// The statistics file under the data directory.
pub fn stats_file(datadir: &Path) -> PathBuf {
    datadir.join("pg_stat").join("replslot.stat")
}

const MAGIC: &str = "tandem replication slot statistics 1";

impl SlotStats {
    pub fn new() -> SlotStats {
        SlotStats::default()
    }

    /// The counters of `slot` (zero for a slot that decoded nothing yet).
    pub fn get(&self, slot: &str) -> SlotCounters {
        self.slots.lock().get(slot).copied().unwrap_or_default()
    }

    /// Decoding `slot` replayed `txns` transactions of `bytes` bytes
    /// (PostgreSQL's `pgstat_report_replslot`).
    pub fn add(&self, slot: &str, txns: i64, bytes: i64) {
        if txns == 0 && bytes == 0 {
            return;
        }
        let mut map = self.slots.lock();
        let c = map.entry(slot.to_string()).or_default();
        c.total_txns = c.total_txns.saturating_add(txns);
        c.total_bytes = c.total_bytes.saturating_add(bytes);
    }

    /// A new slot: counters from zero, no reset time.
    pub fn create(&self, slot: &str) {
        self.slots.lock().remove(slot);
    }

    /// `pg_stat_reset_replication_slot`: zero the counters of `slot`, or of
    /// every slot (`None`), stamping `now` as `stats_reset`. `slots` are the
    /// logical slots that exist; the caller checks that `slot` is a slot.
    pub fn reset(&self, slot: Option<&str>, logical_slots: &[String], now: i64) {
        let mut map = self.slots.lock();
        let fresh = SlotCounters {
            stats_reset: Some(now),
            ..SlotCounters::default()
        };
        match slot {
            Some(name) => {
                map.insert(name.to_string(), fresh);
            }
            None => {
                map.clear();
                for name in logical_slots {
                    map.insert(name.clone(), fresh);
                }
            }
        }
    }

    /// Writes the counters of `logical_slots` to the statistics file (clean
    /// shutdown), replacing it atomically.
    pub fn save(&self, datadir: &Path, logical_slots: &[String]) -> PgResult<()> {
        let path = stats_file(datadir);
        let io = |what: &str, e: std::io::Error| {
            PgError::new(
                SqlState::IO_ERROR,
                format!("could not {what} file \"{}\": {e}", path.display()),
            )
        };
        let mut text = format!("{MAGIC}\n");
        {
            let map = self.slots.lock();
            for name in logical_slots {
                if let Some(c) = map.get(name) {
                    let reset = c.stats_reset.map_or("-".to_string(), |t| t.to_string());
                    text.push_str(&format!(
                        "{name}\t{}\t{}\t{reset}\n",
                        c.total_txns, c.total_bytes
                    ));
                }
            }
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create directory for", e))?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", e))
    }

    /// Reads the statistics file a clean shutdown left and removes it, so a
    /// crash after this start finds none. A missing file means zeros; an
    /// unreadable one is reported in the returned error's message, and
    /// zeros are used.
    pub fn load(datadir: &Path) -> (SlotStats, Option<String>) {
        let path = stats_file(datadir);
        let stats = SlotStats::new();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (stats, None),
            Err(e) => {
                return (
                    stats,
                    Some(format!(
                        "could not open statistics file \"{}\": {e}",
                        path.display()
                    )),
                )
            }
        };
        let _ = std::fs::remove_file(&path);
        match parse(&text) {
            Some(map) => {
                *stats.slots.lock() = map;
                (stats, None)
            }
            None => (
                stats,
                Some(format!("corrupted statistics file \"{}\"", path.display())),
            ),
        }
    }
}

fn parse(text: &str) -> Option<HashMap<String, SlotCounters>> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut map = HashMap::new();
    for line in lines {
        let mut f = line.split('\t');
        let name = f.next()?.to_string();
        let total_txns = f.next()?.parse().ok()?;
        let total_bytes = f.next()?.parse().ok()?;
        let stats_reset = match f.next()? {
            "-" => None,
            t => Some(t.parse().ok()?),
        };
        if f.next().is_some() {
            return None;
        }
        map.insert(
            name,
            SlotCounters {
                total_txns,
                total_bytes,
                stats_reset,
            },
        );
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let s = SlotStats::new();
        s.add("a", 2, 300);
        s.add("a", 1, 100);
        s.add("b", 1, 10);
        assert_eq!(
            s.get("a"),
            SlotCounters {
                total_txns: 3,
                total_bytes: 400,
                stats_reset: None
            }
        );
        s.reset(Some("a"), &[], 77);
        assert_eq!(
            s.get("a"),
            SlotCounters {
                total_txns: 0,
                total_bytes: 0,
                stats_reset: Some(77)
            }
        );
        assert_eq!(s.get("b").total_txns, 1);
        s.reset(None, &["a".into(), "b".into()], 88);
        assert_eq!(s.get("b").stats_reset, Some(88));
        assert_eq!(s.get("b").total_txns, 0);
        s.add("b", 1, 1);
        s.create("b");
        assert_eq!(s.get("b"), SlotCounters::default());
    }

    #[test]
    fn survives_a_save_and_a_load_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = SlotStats::new();
        s.add("a", 5, 500);
        s.add("gone", 1, 1);
        s.reset(Some("c"), &[], 42);
        s.save(dir.path(), &["a".into(), "c".into()]).unwrap();
        let (loaded, err) = SlotStats::load(dir.path());
        assert_eq!(err, None);
        assert_eq!(loaded.get("a").total_txns, 5);
        assert_eq!(loaded.get("a").total_bytes, 500);
        assert_eq!(loaded.get("c").stats_reset, Some(42));
        assert_eq!(loaded.get("gone"), SlotCounters::default());
        // read once: a crash after this start would start from zero
        let (again, _) = SlotStats::load(dir.path());
        assert_eq!(again.get("a"), SlotCounters::default());
    }

    #[test]
    fn a_corrupted_file_is_reported_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pg_stat")).unwrap();
        std::fs::write(stats_file(dir.path()), "nonsense\n").unwrap();
        let (s, err) = SlotStats::load(dir.path());
        assert!(err.unwrap().starts_with("corrupted statistics file"));
        assert_eq!(s.get("a"), SlotCounters::default());
    }
}
