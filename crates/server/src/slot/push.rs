//! The primary's half of pushed slot synchronization: a background thread
//! that writes the state of the failover slots into the WAL (SLOT_STATE
//! records, `tandem_storage::record`) whenever it changes, so that standbys
//! replaying the WAL learn it without polling (their half is
//! `slotsync.rs`, [`super::slotsync::SlotSync::push`]). PostgreSQL has no
//! counterpart: its standbys poll the primary (`slotsync.c`).
//!
//! Rules:
//!
//! - **What is written.** The persistent logical slots with `failover = true`,
//!   each with the columns slot synchronization reads (positions, plugin,
//!   database name, `two_phase`, `failover`, invalidation), and the names of
//!   slots that stopped being such (dropped, `failover` turned off). Only
//!   slots whose written state would differ from the last one written are in a
//!   record; nothing changed, no record (an idle primary writes nothing).
//! - **Coalescing.** The thread wakes on every change of a logical failover
//!   slot ([`SlotRegistry::wait_for_failover_change`]; a standby's physical
//!   slot moving at each of its replies does not wake it) and writes at most one record per
//!   [`INTERVAL`], covering every slot changed since, so many moving slots
//!   cost a bounded number of records.
//! - **No feedback loop.** A consumer confirms up to the end of the WAL it was
//!   sent (keepalives), so a record would move the end of WAL, the
//!   confirmation, the slot, and call for another record. Positions written
//!   are capped at the end of the last WAL record that is not a SLOT_STATE
//!   record: no decodable change lies between, so nothing is lost, and a
//!   confirmation of a SLOT_STATE record changes nothing written. The last
//!   record, at shutdown, is not capped: the standbys get the exact final
//!   positions (a planned switchover compares them, `docs/switchover.md`).
//! - **Durability.** Each record is flushed at once (the walsenders stream
//!   only flushed WAL). The thread ends before the shutdown checkpoint,
//!   writing what changed last, so the checkpoint stays the last record.
//! - **`synchronized_standby_slots`.** Every record also carries the
//!   primary's `synchronized_standby_slots`, and a change of the setting
//!   from the value last written (or, before any record, the value the
//!   server started with) is a change to write; a reload wakes the thread
//!   ([`SlotStatePusher::wake`]). A standby's `pg_failover_readiness`
//!   follows it as soon as it replays the record, not at its next sync
//!   cycle (`slotsync.rs`).
//!
//! While the server is a standby the thread writes nothing; at promotion it
//! writes one record (every failover slot and the setting: cascading
//! standbys and a former primary rejoining as a standby learn the new
//! primary's setting from it), then goes on as on any primary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tandem_config::Config;
use tandem_replication::slot::{Persistency, SlotRegistry};
use tandem_replication::standby_slots;
use tandem_storage::record::{SlotStateEntry, SlotStateRecord};
use tandem_storage::Database;
use tandem_types::elog;
use tandem_types::Lsn;

/// The shortest time between two SLOT_STATE records.
pub(crate) const INTERVAL: Duration = Duration::from_millis(2);

/// How long the thread sleeps without slot changes before it looks at the
/// stop flag and the server's recovery state again.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// The running slot state writer.
pub(crate) struct SlotStatePusher {
    stop: Mutex<bool>,
    stopped: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    slots: Arc<SlotRegistry>,
    config: Arc<Config>,
}

/// What was written last: the state of each slot, the setting, and where the
/// last record ended with the cap it used (a record right after it repeats
/// that cap).
#[derive(Default)]
struct Written {
    slots: BTreeMap<String, SlotStateEntry>,
    standby_slots: Option<String>,
    last_end: Lsn,
    last_cap: Lsn,
}

impl SlotStatePusher {
    /// Starts the thread for this server.
    pub(crate) fn start(
        db: Arc<Database>,
        slots: Arc<SlotRegistry>,
        config: Arc<Config>,
    ) -> Arc<SlotStatePusher> {
        let me = Arc::new(SlotStatePusher {
            stop: Mutex::new(false),
            stopped: Condvar::new(),
            thread: Mutex::new(None),
            slots,
            config,
        });
        let run = me.clone();
        match std::thread::Builder::new()
            .name("slot state pusher".into())
            .spawn(move || run.main(&db))
        {
            Ok(h) => *me.thread.lock() = Some(h),
            Err(e) => elog::log(&format!("could not start slot state pusher: {e}")),
        }
        me
    }

    /// Stops the thread after it wrote what changed last, and waits for it.
    pub(crate) fn stop(&self) {
        *self.stop.lock() = true;
        self.stopped.notify_all();
        let h = self.thread.lock().take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }

    /// The configuration was reloaded: `synchronized_standby_slots` may have
    /// changed, and a record carries the new value at once.
    pub(crate) fn wake(&self) {
        self.slots.note_failover_setting_change();
    }

    fn stopping(&self) -> bool {
        *self.stop.lock()
    }

    fn main(&self, db: &Database) {
        // the setting the server started with is no change: a reload that
        // leaves it as it was writes nothing
        let mut written = Written {
            standby_slots: Some(self.config.get_str(standby_slots::SETTING)),
            ..Written::default()
        };
        let mut seen = self.slots.failover_change_count();
        let mut last_write: Option<Instant> = None;
        let mut was_standby = db.in_recovery();
        loop {
            if self.stopping() {
                // the last changes, before the shutdown checkpoint
                if !db.in_recovery() {
                    self.write(db, &mut written, true);
                }
                return;
            }
            let now = self.slots.wait_for_failover_change(seen, IDLE_CHECK);
            if db.in_recovery() {
                was_standby = true;
                seen = now;
                continue;
            }
            // promoted: the standbys below learn this primary's setting now
            let promoted = std::mem::take(&mut was_standby);
            if promoted {
                written.standby_slots = None;
            } else if now == seen {
                continue;
            }
            if let Some(t) = last_write {
                let since = t.elapsed();
                if since < INTERVAL {
                    let mut stop = self.stop.lock();
                    if !*stop {
                        self.stopped.wait_for(&mut stop, INTERVAL - since);
                    }
                }
            }
            // changes that arrived during the pause are covered by this write
            seen = self.slots.failover_change_count();
            if self.write(db, &mut written, false) {
                last_write = Some(Instant::now());
            }
        }
    }

    /// Writes one record with every slot whose capped state changed; true if
    /// a record was written. The `last` record (at shutdown, before the
    /// checkpoint) is capped at the end of WAL only: no record can follow
    /// that a confirmation would pass, so the standbys get the slots'
    /// final positions exactly.
    fn write(&self, db: &Database, written: &mut Written, last: bool) -> bool {
        let setting = self.config.get_str(standby_slots::SETTING);
        let mut pending = None;
        let result = db.append_slot_state(|end_of_wal| {
            let cap = if last {
                end_of_wal
            } else if end_of_wal == written.last_end {
                written.last_cap
            } else {
                end_of_wal
            };
            let now = current(db, &self.slots, cap);
            let rec = SlotStateRecord {
                slots: now
                    .values()
                    .filter(|e| written.slots.get(&e.name) != Some(*e))
                    .cloned()
                    .collect(),
                dropped: written
                    .slots
                    .keys()
                    .filter(|n| !now.contains_key(*n))
                    .cloned()
                    .collect(),
                standby_slots: Some(setting.clone()),
            };
            if rec.slots.is_empty()
                && rec.dropped.is_empty()
                && written.standby_slots.as_ref() == Some(&setting)
            {
                return None;
            }
            pending = Some((now, cap));
            Some(rec)
        });
        match (result, pending) {
            (Ok(Some((_, end))), Some((now, cap))) => {
                written.slots = now;
                written.standby_slots = Some(setting);
                written.last_end = end;
                written.last_cap = cap;
                true
            }
            (Ok(_), _) => false,
            (Err(e), _) => {
                elog::emit_error(&e);
                false
            }
        }
    }
}

/// The failover slots as a record would carry them, positions capped at `cap`.
fn current(db: &Database, slots: &SlotRegistry, cap: Lsn) -> BTreeMap<String, SlotStateEntry> {
    let capped = |l: Option<Lsn>| l.map_or(Lsn::INVALID, |l| l.min(cap));
    let catalog = db.catalog();
    slots
        .list()
        .into_iter()
        .map(|i| i.data)
        .filter(|d| d.failover && d.is_logical() && d.persistency == Persistency::Persistent)
        .map(|d| {
            let database = d
                .database
                .and_then(|oid| catalog.databases.get(&oid))
                .map(|db| db.name.clone())
                .unwrap_or_default();
            let e = SlotStateEntry {
                name: d.name.clone(),
                plugin: d.plugin.unwrap_or_default(),
                database,
                restart_lsn: capped(d.restart_lsn),
                confirmed_flush: capped(d.confirmed_flush),
                catalog_xmin: d.catalog_xmin.unwrap_or_default(),
                two_phase: d.two_phase,
                failover: d.failover,
                invalidation: d
                    .invalidated
                    .map(|i| i.as_str().to_string())
                    .unwrap_or_default(),
            };
            (d.name, e)
        })
        .collect()
}
