//! Replication slots: the registry, acquire/release, persistence
//! (PostgreSQL's `slot.c`; the SQL functions live elsewhere, as `slotfuncs.c` does).
//!
//! A slot is a named promise to keep WAL (`restart_lsn`) and, for logical slots,
//! catalog history (`catalog_xmin`) until its consumer has confirmed it. Slots are
//! not catalog rows: they must exist and change on a read-only standby, so each
//! persistent slot is a file `pg_replslot/<name>/state`:
//!
//! ```text
//! magic u32 | version u32 | crc32c u32 (over the body) | body length u32 | body
//! ```
//!
//! written to `state.tmp`, fsynced, renamed over `state`, and the directory fsynced.
//!
//! Ordering rules:
//! - **Persist before effect.** A change that lets WAL or catalog history go
//!   (advancing `restart_lsn`, `xmin`, `catalog_xmin`) is written to disk before the
//!   in-memory horizon that retention reads ([`SlotRegistry::horizons`]) moves, so a
//!   crash can never leave a slot needing data that was already removed.
//!   A move may be shown first and written after, outside the registry lock
//!   ([`SlotRegistry::update_lazily`]: streaming clients' confirmations,
//!   slot synchronization on a standby); retention then keeps using the
//!   position in the state file until the write is done
//!   ([`SlotInfo::retained_restart_lsn`], one rule for both). Invalidations
//!   and drops are on disk before they return.
//! - Positions never move backward ([`SlotRegistry::update`] rejects it). How a
//!   consumer's report moves them is one pure rule per slot kind,
//!   [`advance_physical`] and [`advance_logical`], which every caller applies.
//! - One active user per slot: [`SlotRegistry::acquire`] fails with
//!   `55006 replication slot "x" is active for PID n` otherwise.
//! - Ephemeral slots (being created) and temporary slots are never restored at
//!   startup; temporary ones are dropped when their session ends.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use tandem_types::fsutil::fsync_dir;
use tandem_types::ident::NAMEDATALEN;
use tandem_types::ByteReader;
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState, Xid};

const STATE_MAGIC: u32 = 0x0105_1CA1;
const STATE_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistency {
    Persistent,
    /// being created; dropped on release or error
    Ephemeral,
    /// dropped at session end
    Temporary,
}

/// Why a slot was invalidated (`invalidation_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalidation {
    WalRemoved,
    RowsRemoved,
    WalLevelInsufficient,
}

impl Invalidation {
    pub fn as_str(self) -> &'static str {
        match self {
            Invalidation::WalRemoved => "wal_removed",
            Invalidation::RowsRemoved => "rows_removed",
            Invalidation::WalLevelInsufficient => "wal_level_insufficient",
        }
    }
}

/// The persistent part of a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotData {
    pub name: String,
    /// `None` for physical slots.
    pub database: Option<Oid>,
    pub plugin: Option<String>,
    pub persistency: Persistency,
    pub xmin: Option<Xid>,
    pub catalog_xmin: Option<Xid>,
    pub restart_lsn: Option<Lsn>,
    pub confirmed_flush: Option<Lsn>,
    pub invalidated: Option<Invalidation>,
    pub two_phase: bool,
    pub two_phase_at: Option<Lsn>,
    pub failover: bool,
    pub synced: bool,
}

impl SlotData {
    pub fn physical(name: &str, persistency: Persistency) -> SlotData {
        SlotData {
            name: name.to_string(),
            database: None,
            plugin: None,
            persistency,
            xmin: None,
            catalog_xmin: None,
            restart_lsn: None,
            confirmed_flush: None,
            invalidated: None,
            two_phase: false,
            two_phase_at: None,
            failover: false,
            synced: false,
        }
    }

    pub fn is_logical(&self) -> bool {
        self.database.is_some()
    }
}

/// New positions for a slot, computed by [`advance_physical`] or
/// [`advance_logical`]; a `None` field stays as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotAdvance {
    pub restart_lsn: Option<Lsn>,
    pub confirmed_flush: Option<Lsn>,
    pub catalog_xmin: Option<Xid>,
}

impl SlotAdvance {
    /// Writes the moved positions into `data` (inside a registry update).
    pub fn apply(&self, data: &mut SlotData) {
        if let Some(l) = self.restart_lsn {
            data.restart_lsn = Some(l);
        }
        if let Some(l) = self.confirmed_flush {
            data.confirmed_flush = Some(l);
        }
        if let Some(x) = self.catalog_xmin {
            data.catalog_xmin = Some(x);
        }
    }
}

/// A consistent point a logical slot may restart decoding from, with the
/// `catalog_xmin` it needs from there on (the xid after the last transaction
/// decoded before it, [`catalog_xmin_after`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPoint {
    pub lsn: Lsn,
    pub catalog_xmin: Option<Xid>,
}

/// The `catalog_xmin` a logical slot needs after decoding transaction `last`:
/// the next xid (catalog rows older than it are no longer read).
pub fn catalog_xmin_after(last: Xid) -> Xid {
    Xid(last.0.wrapping_add(1))
}

/// The advance rule of a physical slot: a consumer (a standby's status
/// update, `pg_replication_slot_advance`, or slot synchronization applying a
/// remote slot's position) reports that everything before `flush` is safe.
/// `restart_lsn` moves to `flush` only forward, never from an invalid
/// position, and never on an invalidated slot (its WAL is gone). `None` when
/// nothing moves (PostgreSQL's `PhysicalConfirmReceivedLocation`).
pub fn advance_physical(slot: &SlotData, flush: Lsn) -> Option<SlotAdvance> {
    if !flush.is_valid() || slot.invalidated.is_some() {
        return None;
    }
    if slot.restart_lsn.is_some_and(|r| flush <= r) {
        return None;
    }
    Some(SlotAdvance {
        restart_lsn: Some(flush),
        ..SlotAdvance::default()
    })
}

/// The advance rule of a logical slot: the consumer confirmed everything
/// before `confirmed_flush` (a walsender's client, the SQL decoding
/// functions, `pg_replication_slot_advance`, or slot synchronization applying
/// a remote slot's positions), and decoding may restart at `restart` (a
/// consistent point at or before it, if one was reached). Each position
/// moves only forward and an invalid one moves nothing; `catalog_xmin` moves
/// (forward) with `restart_lsn` only. `None` when nothing moves (PostgreSQL's
/// `LogicalConfirmReceivedLocation` and `LogicalIncreaseRestartDecodingForSlot`).
pub fn advance_logical(
    slot: &SlotData,
    confirmed_flush: Lsn,
    restart: Option<RestartPoint>,
) -> Option<SlotAdvance> {
    let mut adv = SlotAdvance::default();
    if confirmed_flush.is_valid() && slot.confirmed_flush.is_none_or(|c| c < confirmed_flush) {
        adv.confirmed_flush = Some(confirmed_flush);
    }
    if let Some(r) = restart.filter(|r| r.lsn.is_valid()) {
        if slot.restart_lsn.is_none_or(|c| c < r.lsn) {
            adv.restart_lsn = Some(r.lsn);
            adv.catalog_xmin = r
                .catalog_xmin
                .filter(|x| slot.catalog_xmin.is_none_or(|c| c.0 < x.0));
        }
    }
    (adv != SlotAdvance::default()).then_some(adv)
}

/// A slot as the registry shows it (`pg_replication_slots`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub data: SlotData,
    pub active_pid: Option<i32>,
    /// microseconds since 2000-01-01 UTC
    pub inactive_since: Option<i64>,
    /// The oldest WAL position the slot needs after a crash: its `restart_lsn`,
    /// or for a persistent slot with unsaved moves, the one on disk.
    pub retained_restart_lsn: Option<Lsn>,
}

/// The skip bookkeeping of a synced slot on a standby, kept in memory only
/// (PostgreSQL 19's `slotsync_skip_reason` in `pg_replication_slots`,
/// `slotsync_skip_count` and `slotsync_last_skip` in
/// `pg_stat_replication_slots`): the reason the last sync cycle skipped the
/// slot (`None` when it synchronized it), how many cycles skipped it since
/// the slot was created here or the server started, and when the last did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncSkip {
    pub reason: Option<&'static str>,
    pub count: i64,
    /// microseconds since 2000-01-01 UTC
    pub last: Option<i64>,
}

/// How often a streaming client's confirmations are written to a slot's
/// state file at most ([`SlotRegistry::update_lazily`]).
pub const LAZY_SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

struct Entry {
    data: SlotData,
    active_pid: Option<i32>,
    inactive_since: Option<i64>,
    /// `restart_lsn` in the slot's state file (persistent slots): never
    /// ahead of what the file holds.
    saved_restart_lsn: Option<Lsn>,
    /// The version of `data`: a registry-wide count, taken anew at each change.
    version: u64,
    /// The version `saved_restart_lsn` was written with.
    saved_version: u64,
    last_write: Option<Instant>,
    /// What slot synchronization last said about this (synced) slot.
    sync_skip: SyncSkip,
}

impl Entry {
    fn new(
        data: SlotData,
        version: u64,
        active_pid: Option<i32>,
        inactive_since: Option<i64>,
    ) -> Entry {
        Entry {
            saved_restart_lsn: data.restart_lsn,
            data,
            version,
            saved_version: version,
            active_pid,
            inactive_since,
            last_write: None,
            sync_skip: SyncSkip::default(),
        }
    }

    /// A persistent slot whose state file is older than its state in memory
    /// ([`SlotRegistry::move_lazily`]).
    fn dirty(&self) -> bool {
        self.data.persistency == Persistency::Persistent && self.saved_version < self.version
    }

    /// Records that the state file holds version `version` of the slot,
    /// with `restart_lsn`; an older write landing late changes nothing.
    fn saved(&mut self, version: u64, restart_lsn: Option<Lsn>) {
        if version >= self.saved_version {
            self.saved_version = version;
            self.saved_restart_lsn = restart_lsn;
            self.last_write = Some(Instant::now());
        }
    }

    /// The retention rule: WAL and catalog history are kept from the older
    /// of the slot's `restart_lsn` and the one in its state file, so that a
    /// crash, which brings back the file's, never finds them gone.
    fn retained_restart_lsn(&self) -> Option<Lsn> {
        if self.data.persistency == Persistency::Persistent {
            min_opt(self.data.restart_lsn, self.saved_restart_lsn)
        } else {
            self.data.restart_lsn
        }
    }

    fn info(&self) -> SlotInfo {
        SlotInfo {
            data: self.data.clone(),
            active_pid: self.active_pid,
            inactive_since: self.inactive_since,
            retained_restart_lsn: self.retained_restart_lsn(),
        }
    }
}

/// The retention horizons over all slots: what WAL and catalog history must stay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Horizons {
    pub restart_lsn: Option<Lsn>,
    pub xmin: Option<Xid>,
    pub catalog_xmin: Option<Xid>,
}

/// All slots of a node. Share as `Arc<SlotRegistry>`.
pub struct SlotRegistry {
    dir: PathBuf,
    max_slots: usize,
    slots: Mutex<BTreeMap<String, Entry>>,
    /// signalled whenever a slot is released or dropped (DROP_REPLICATION_SLOT WAIT)
    released: Condvar,
    /// Counts changes to any slot (created, acquired, released, moved,
    /// dropped); `changed` is signalled with each, for waits on other
    /// slots' positions ([`SlotRegistry::wait_for_change`]), and
    /// `failover_changed` with those of logical failover slots only, so the
    /// primary's slot state writer sleeps through a standby's physical slot
    /// moving at every reply ([`SlotRegistry::wait_for_failover_change`]).
    changes: Mutex<ChangeCounts>,
    changed: Condvar,
    failover_changed: Condvar,
    /// Where each slot's state file has come to: the version written last,
    /// for every slot that has a state file (none: never written, or
    /// dropped). Serializes writes and removals of state files. Taken inside
    /// `slots` by the writes made under it, and alone by
    /// [`SlotRegistry::save_lazily`], which writes without holding `slots`
    /// (never the other order).
    io: Mutex<BTreeMap<String, u64>>,
    /// The source of [`Entry::version`].
    versions: AtomicU64,
}

/// How many slot changes a registry has seen: of any slot, and of logical
/// failover slots (counted in both).
#[derive(Clone, Copy, Debug, Default)]
struct ChangeCounts {
    any: u64,
    failover: u64,
}

/// Whether changes of the slot `data` count as failover slot changes.
fn failover_logical(data: &SlotData) -> bool {
    data.failover && data.is_logical()
}

/// PostgreSQL's `ReplicationSlotValidateName`: a slot name is 1 to
/// `NAMEDATALEN - 1` bytes of `[a-z0-9_]` (it names a directory). Errors:
/// `42602` too short, `42622` too long, `42602` invalid character (with a hint).
pub fn validate_name(name: &str) -> PgResult<()> {
    if name.is_empty() {
        return Err(PgError::new(
            SqlState::INVALID_NAME,
            format!("replication slot name \"{name}\" is too short"),
        ));
    }
    if name.len() >= NAMEDATALEN {
        return Err(PgError::new(
            SqlState::NAME_TOO_LONG,
            format!("replication slot name \"{name}\" is too long"),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(PgError::new(
            SqlState::INVALID_NAME,
            format!("replication slot name \"{name}\" contains invalid character"),
        )
        .with_hint(
            "Replication slot names may only contain lower case letters, numbers, and the underscore character.",
        ));
    }
    Ok(())
}

fn not_found(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("replication slot \"{name}\" does not exist"),
    )
}

fn active_for(name: &str, pid: i32) -> PgError {
    PgError::new(
        SqlState::OBJECT_IN_USE,
        format!("replication slot \"{name}\" is active for PID {pid}"),
    )
}

impl SlotRegistry {
    /// Opens `pg_replslot` (creating it), restoring every persistent slot and
    /// removing leftovers of ephemeral/temporary ones. `now` stamps `inactive_since`.
    pub fn open(dir: &Path, max_slots: usize, now: i64) -> PgResult<SlotRegistry> {
        fs::create_dir_all(dir)
            .map_err(|e| PgError::io(format!("create directory \"{}\"", dir.display()), &e))?;
        let mut slots = BTreeMap::new();
        let mut on_disk = BTreeMap::new();
        let entries = fs::read_dir(dir)
            .map_err(|e| PgError::io(format!("open directory \"{}\"", dir.display()), &e))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| PgError::io(format!("read directory \"{}\"", dir.display()), &e))?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let state = path.join("state");
            let data = match fs::read(&state) {
                Ok(bytes) => decode_state(&bytes, &state)?,
                Err(_) => {
                    // a slot directory without state: an interrupted creation
                    let _ = fs::remove_dir_all(&path);
                    continue;
                }
            };
            if data.persistency != Persistency::Persistent {
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            let version = on_disk.len() as u64 + 1;
            on_disk.insert(data.name.clone(), version);
            slots.insert(
                data.name.clone(),
                Entry::new(data, version, None, Some(now)),
            );
        }
        let versions = AtomicU64::new(on_disk.len() as u64 + 1);
        Ok(SlotRegistry {
            dir: dir.to_path_buf(),
            max_slots,
            slots: Mutex::new(slots),
            released: Condvar::new(),
            changes: Mutex::new(ChangeCounts::default()),
            changed: Condvar::new(),
            failover_changed: Condvar::new(),
            io: Mutex::new(on_disk),
            versions,
        })
    }

    fn next_version(&self) -> u64 {
        self.versions.fetch_add(1, Ordering::Relaxed)
    }

    /// How many changes slots have seen so far (for [`SlotRegistry::wait_for_change`]).
    pub fn change_count(&self) -> u64 {
        self.changes.lock().any
    }

    /// Waits until a slot changed after `seen` (a [`SlotRegistry::change_count`])
    /// or `timeout` passed; returns the current count. The wait of logical
    /// decoding for the standbys of `synchronized_standby_slots`.
    pub fn wait_for_change(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let mut n = self.changes.lock();
        if n.any == seen {
            self.changed.wait_for(&mut n, timeout);
        }
        n.any
    }

    /// How many changes logical failover slots have seen so far (for
    /// [`SlotRegistry::wait_for_failover_change`]).
    pub fn failover_change_count(&self) -> u64 {
        self.changes.lock().failover
    }

    /// Waits until a logical failover slot changed (created, acquired,
    /// released, moved, dropped, or its `failover` turned on or off) after
    /// `seen` (a [`SlotRegistry::failover_change_count`]) or `timeout`
    /// passed; returns the current count. Other slots' changes do not wake it.
    pub fn wait_for_failover_change(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let mut n = self.changes.lock();
        if n.failover == seen {
            self.failover_changed.wait_for(&mut n, timeout);
        }
        n.failover
    }

    /// Wakes [`SlotRegistry::wait_for_failover_change`] with no slot changed:
    /// something else the primary's slot state writer carries changed (its
    /// `synchronized_standby_slots`, at a reload). Other waiters are not woken.
    pub fn note_failover_setting_change(&self) {
        let mut n = self.changes.lock();
        n.failover = n.failover.wrapping_add(1);
        self.failover_changed.notify_all();
    }

    /// Counts a change; `failover` when a logical failover slot changed.
    fn note_change(&self, failover: bool) {
        let mut n = self.changes.lock();
        n.any = n.any.wrapping_add(1);
        self.changed.notify_all();
        if failover {
            n.failover = n.failover.wrapping_add(1);
            self.failover_changed.notify_all();
        }
    }

    /// Creates a slot owned (active) by `pid`. Errors as PostgreSQL:
    /// `42710 replication slot "x" already exists`,
    /// `53400 all replication slots are in use`.
    pub fn create(&self, data: SlotData, pid: i32) -> PgResult<()> {
        validate_name(&data.name)?;
        let mut slots = self.slots.lock();
        if slots.contains_key(&data.name) {
            return Err(PgError::new(
                SqlState::DUPLICATE_OBJECT,
                format!("replication slot \"{}\" already exists", data.name),
            ));
        }
        if slots.len() >= self.max_slots {
            return Err(PgError::new(
                SqlState::CONFIGURATION_LIMIT_EXCEEDED,
                "all replication slots are in use",
            )
            .with_hint("Free one or increase \"max_replication_slots\"."));
        }
        let version = self.next_version();
        if data.persistency == Persistency::Persistent {
            self.write_state(&data, version)?;
        }
        let failover = failover_logical(&data);
        slots.insert(
            data.name.clone(),
            Entry::new(data, version, Some(pid), None),
        );
        self.note_change(failover);
        Ok(())
    }

    /// Makes `pid` the slot's active user. With `wait`, waits for another user to
    /// release it; without, `55006 replication slot "x" is active for PID n`.
    pub fn acquire(&self, name: &str, pid: i32, wait: bool) -> PgResult<SlotData> {
        let mut slots = self.slots.lock();
        loop {
            let entry = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            match entry.active_pid {
                Some(other) if other != pid => {
                    if !wait {
                        return Err(active_for(name, other));
                    }
                    self.released.wait(&mut slots);
                }
                _ => {
                    entry.active_pid = Some(pid);
                    entry.inactive_since = None;
                    let data = entry.data.clone();
                    self.note_change(failover_logical(&data));
                    return Ok(data);
                }
            }
        }
    }

    /// [`SlotRegistry::acquire`] waiting for another user to release the slot
    /// (PostgreSQL's `ReplicationSlotAcquire(name, nowait = false)`), in
    /// steps of `tick`: between steps `interrupted` is asked whether to stop
    /// waiting (a cancelled or terminating session), and its error is returned.
    pub fn acquire_waiting(
        &self,
        name: &str,
        pid: i32,
        tick: std::time::Duration,
        mut interrupted: impl FnMut() -> PgResult<()>,
    ) -> PgResult<SlotData> {
        let mut slots = self.slots.lock();
        loop {
            let entry = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            match entry.active_pid {
                Some(other) if other != pid => {
                    interrupted()?;
                    self.released.wait_for(&mut slots, tick);
                }
                _ => {
                    entry.active_pid = Some(pid);
                    entry.inactive_since = None;
                    return Ok(entry.data.clone());
                }
            }
        }
    }

    /// Ends `pid`'s use. Ephemeral slots are dropped; temporary slots stay owned by
    /// the session (as PostgreSQL keeps their `active_pid`); persistent ones become
    /// inactive.
    pub fn release(&self, name: &str, pid: i32, now: i64) {
        let mut slots = self.slots.lock();
        let Some(entry) = slots.get_mut(name) else {
            return;
        };
        if entry.active_pid != Some(pid) {
            return;
        }
        if entry.dirty() {
            if let Err(e) = self.save(entry) {
                tandem_types::elog::emit_error(&e);
            }
        }
        let failover = failover_logical(&entry.data);
        match entry.data.persistency {
            Persistency::Ephemeral => {
                slots.remove(name);
            }
            Persistency::Temporary => entry.inactive_since = Some(now),
            Persistency::Persistent => {
                entry.active_pid = None;
                entry.inactive_since = Some(now);
            }
        }
        self.released.notify_all();
        self.note_change(failover);
    }

    /// Turns an ephemeral slot into a persistent one (end of creation).
    pub fn persist(&self, name: &str) -> PgResult<()> {
        let mut slots = self.slots.lock();
        let entry = slots.get_mut(name).ok_or_else(|| not_found(name))?;
        let mut data = entry.data.clone();
        data.persistency = Persistency::Persistent;
        let version = self.next_version();
        self.write_state(&data, version)?;
        let failover = failover_logical(&data);
        entry.data = data;
        entry.version = version;
        entry.saved(version, entry.data.restart_lsn);
        self.note_change(failover);
        Ok(())
    }

    /// Drops a slot not in use by another process (`wait` waits for it to be released).
    pub fn drop_slot(&self, name: &str, pid: i32, wait: bool) -> PgResult<()> {
        let mut slots = self.slots.lock();
        loop {
            let entry = slots.get(name).ok_or_else(|| not_found(name))?;
            match entry.active_pid {
                Some(other) if other != pid => {
                    if !wait {
                        return Err(active_for(name, other));
                    }
                    self.released.wait(&mut slots);
                }
                _ => break,
            }
        }
        let dir = self.dir.join(name);
        {
            // a lazy write of the slot still under way finds it gone
            let mut io = self.io.lock();
            if dir.exists() {
                // rename first so a crash mid-removal never leaves a half-deleted slot
                let doomed = self.dir.join(format!("{name}.tmp"));
                fs::rename(&dir, &doomed)
                    .map_err(|e| PgError::io(format!("rename file \"{}\"", dir.display()), &e))?;
                fsync_dir(&self.dir)?;
                let _ = fs::remove_dir_all(&doomed);
            }
            io.remove(name);
        }
        let failover = slots
            .remove(name)
            .is_some_and(|e| failover_logical(&e.data));
        self.released.notify_all();
        self.note_change(failover);
        Ok(())
    }

    /// Drops every temporary slot owned by `pid` (session end or error).
    pub fn cleanup_session(&self, pid: i32) {
        let mut slots = self.slots.lock();
        let mut failover = false;
        slots.retain(|_, e| {
            let gone = e.active_pid == Some(pid) && e.data.persistency != Persistency::Persistent;
            failover |= gone && failover_logical(&e.data);
            !gone
        });
        for e in slots.values_mut() {
            if e.active_pid == Some(pid) {
                e.active_pid = None;
                failover |= failover_logical(&e.data);
            }
        }
        self.released.notify_all();
        self.note_change(failover);
    }

    /// Drops the temporary synced slots owned by `pid`, leaving its other
    /// slots alone (`ReplicationSlotCleanup(synced_only = true)`: the end of
    /// `pg_sync_replication_slots()`, and slot sync stopping).
    pub fn cleanup_synced(&self, pid: i32) {
        let mut slots = self.slots.lock();
        slots.retain(|_, e| {
            !(e.active_pid == Some(pid)
                && e.data.synced
                && e.data.persistency != Persistency::Persistent)
        });
        self.released.notify_all();
    }

    /// Sets `inactive_since` of every synced slot to `now` (slot sync
    /// stopping at promotion).
    pub fn mark_synced_inactive(&self, now: i64) {
        let mut slots = self.slots.lock();
        for e in slots.values_mut().filter(|e| e.data.synced) {
            e.inactive_since = Some(now);
        }
    }

    /// Changes a slot's positions/fields through `change`, persisting first when the
    /// slot is persistent. Positions moving backward are a broken invariant and are
    /// refused with an internal error.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut SlotData)) -> PgResult<SlotData> {
        let mut slots = self.slots.lock();
        let entry = slots.get_mut(name).ok_or_else(|| not_found(name))?;
        let mut data = entry.data.clone();
        change(&mut data);
        let backward =
            |old: Option<Lsn>, new: Option<Lsn>| matches!((old, new), (Some(o), Some(n)) if n < o);
        if backward(entry.data.confirmed_flush, data.confirmed_flush) {
            return Err(PgError::internal(format!(
                "confirmed_flush_lsn of replication slot \"{name}\" cannot move backward"
            )));
        }
        let version = if data != entry.data {
            self.next_version()
        } else {
            entry.version
        };
        let failover = failover_logical(&entry.data) || failover_logical(&data);
        if data.persistency == Persistency::Persistent && (data != entry.data || entry.dirty()) {
            self.write_state(&data, version)?;
            entry.saved(version, data.restart_lsn);
        }
        entry.data = data.clone();
        entry.version = version;
        self.note_change(failover);
        Ok(data)
    }

    /// [`SlotRegistry::update`] with the state file written after the move
    /// is visible, outside the registry lock, and at most once per
    /// `interval`. A streaming client's confirmations use
    /// [`LAZY_SAVE_INTERVAL`] (PostgreSQL writes a logical slot's confirmed
    /// position only at checkpoints); slot synchronization on a standby uses
    /// zero, writing every change right after showing it (as PostgreSQL's
    /// slot sync updates the slot in shared memory, then saves it). Moves
    /// not yet written stay in memory until the next write, the slot's
    /// release, or [`SlotRegistry::save_dirty`]. After a crash the slot
    /// resumes from the saved, older position, so a client may receive some
    /// changes again (PostgreSQL's behaviour too) and a synced copy is moved
    /// again by the next sync; the WAL and catalog history they need are
    /// kept, because retention looks at [`SlotInfo::retained_restart_lsn`].
    /// An invalidation or a drop is never made this way: [`SlotRegistry::update`]
    /// and [`SlotRegistry::drop_slot`] are on disk before they return.
    pub fn update_lazily(
        &self,
        name: &str,
        interval: std::time::Duration,
        change: impl FnOnce(&mut SlotData),
    ) -> PgResult<()> {
        if self.move_lazily(name, change)? {
            self.save_lazily(name, interval)?;
        }
        Ok(())
    }

    /// The in-memory half of [`SlotRegistry::update_lazily`]: applies
    /// `change` and marks the slot dirty; `true` when the slot moved (a
    /// persistent one then wants [`SlotRegistry::save_lazily`]).
    pub fn move_lazily(&self, name: &str, change: impl FnOnce(&mut SlotData)) -> PgResult<bool> {
        let mut slots = self.slots.lock();
        let entry = slots.get_mut(name).ok_or_else(|| not_found(name))?;
        let before = entry.data.clone();
        change(&mut entry.data);
        if entry.data.confirmed_flush < before.confirmed_flush {
            entry.data = before;
            return Err(PgError::internal(format!(
                "confirmed_flush_lsn of replication slot \"{name}\" cannot move backward"
            )));
        }
        if entry.data == before {
            return Ok(false);
        }
        entry.version = self.next_version();
        self.note_change(failover_logical(&before) || failover_logical(&entry.data));
        Ok(true)
    }

    /// The disk half of [`SlotRegistry::update_lazily`]: writes the slot's
    /// state if it has unsaved moves and the last write is `interval` ago.
    /// The write (three fsyncs) happens outside the registry lock, so
    /// readers of any slot (a failover slot's walsender checking the standbys
    /// of `synchronized_standby_slots`, the views) do not wait for the disk.
    /// A write made meanwhile under the lock (an invalidation) is newer and
    /// is not overwritten; a slot dropped meanwhile is not written back; what
    /// is recorded as saved is never ahead of the disk.
    pub fn save_lazily(&self, name: &str, interval: std::time::Duration) -> PgResult<()> {
        let Some((data, version)) = self.lazy_snapshot(name, interval) else {
            return Ok(());
        };
        if self.write_if_newer(&data, version)? {
            self.note_saved(name, version, data.restart_lsn);
        }
        Ok(())
    }

    /// The state [`SlotRegistry::save_lazily`] writes, with its version:
    /// `None` when the file is up to date or was written less than
    /// `interval` ago.
    fn lazy_snapshot(&self, name: &str, interval: std::time::Duration) -> Option<(SlotData, u64)> {
        let mut slots = self.slots.lock();
        let entry = slots.get_mut(name)?;
        if !entry.dirty() || entry.last_write.is_some_and(|t| t.elapsed() < interval) {
            return None;
        }
        entry.last_write = Some(Instant::now());
        Some((entry.data.clone(), entry.version))
    }

    /// Writes version `version` of a slot's state unless the file holds that
    /// version or a newer one, or the slot was dropped; true if written.
    /// Called without the registry lock.
    fn write_if_newer(&self, data: &SlotData, version: u64) -> PgResult<bool> {
        let mut io = self.io.lock();
        if io.get(&data.name).is_none_or(|&on_disk| on_disk >= version) {
            return Ok(false);
        }
        self.write_unlocked(data)?;
        io.insert(data.name.clone(), version);
        Ok(true)
    }

    fn note_saved(&self, name: &str, version: u64, restart_lsn: Option<Lsn>) {
        let mut slots = self.slots.lock();
        if let Some(entry) = slots.get_mut(name) {
            entry.saved(version, restart_lsn);
        }
    }

    /// Writes every slot with unsaved moves (checkpoints and restartpoints,
    /// before retention is computed; shutdown).
    pub fn save_dirty(&self) -> PgResult<()> {
        let mut slots = self.slots.lock();
        for entry in slots.values_mut().filter(|e| e.dirty()) {
            self.save(entry)?;
        }
        Ok(())
    }

    fn save(&self, entry: &mut Entry) -> PgResult<()> {
        self.write_state(&entry.data, entry.version)?;
        entry.saved(entry.version, entry.data.restart_lsn);
        Ok(())
    }

    /// Records what a sync cycle at `now` said about the synced slot `name`
    /// (`reason` `None`: synchronized). Slots that are not synced, or gone,
    /// are left alone.
    pub fn record_sync_skip(&self, name: &str, reason: Option<&'static str>, now: i64) {
        let mut slots = self.slots.lock();
        let Some(entry) = slots.get_mut(name).filter(|e| e.data.synced) else {
            return;
        };
        entry.sync_skip.reason = reason;
        if reason.is_some() {
            entry.sync_skip.count = entry.sync_skip.count.saturating_add(1);
            entry.sync_skip.last = Some(now);
        }
    }

    /// The skip bookkeeping of slot `name` (all empty for an unknown slot).
    pub fn sync_skip(&self, name: &str) -> SyncSkip {
        let slots = self.slots.lock();
        slots.get(name).map(|e| e.sync_skip).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<SlotInfo> {
        let slots = self.slots.lock();
        slots.get(name).map(Entry::info)
    }

    /// Every slot, in name order (for `pg_replication_slots`).
    pub fn list(&self) -> Vec<SlotInfo> {
        let slots = self.slots.lock();
        slots.values().map(Entry::info).collect()
    }

    /// The oldest WAL and xids any valid slot still needs.
    pub fn horizons(&self) -> Horizons {
        let slots = self.slots.lock();
        let mut h = Horizons::default();
        for e in slots.values().filter(|e| e.data.invalidated.is_none()) {
            h.restart_lsn = min_opt(h.restart_lsn, e.retained_restart_lsn());
            h.xmin = min_opt(h.xmin, e.data.xmin);
            h.catalog_xmin = min_opt(h.catalog_xmin, e.data.catalog_xmin);
        }
        h
    }

    /// Writes version `version` of a slot's state (under the registry lock).
    fn write_state(&self, data: &SlotData, version: u64) -> PgResult<()> {
        let mut io = self.io.lock();
        self.write_unlocked(data)?;
        io.insert(data.name.clone(), version);
        Ok(())
    }

    /// [`SlotRegistry::write_state`] with the `io` lock held by the caller.
    fn write_unlocked(&self, data: &SlotData) -> PgResult<()> {
        let dir = self.dir.join(&data.name);
        fs::create_dir_all(&dir)
            .map_err(|e| PgError::io(format!("create directory \"{}\"", dir.display()), &e))?;
        let tmp = dir.join("state.tmp");
        let path = dir.join("state");
        let bytes = encode_state(data);
        let mut f = fs::File::create(&tmp)
            .map_err(|e| PgError::io(format!("create file \"{}\"", tmp.display()), &e))?;
        f.write_all(&bytes)
            .map_err(|e| PgError::io(format!("write to file \"{}\"", tmp.display()), &e))?;
        f.sync_all()
            .map_err(|e| PgError::io(format!("fsync file \"{}\"", tmp.display()), &e))?;
        fs::rename(&tmp, &path)
            .map_err(|e| PgError::io(format!("rename file \"{}\"", tmp.display()), &e))?;
        fsync_dir(&dir)?;
        fsync_dir(&self.dir)
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    out.push(v.is_some() as u8);
    out.extend_from_slice(&v.unwrap_or(0).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn encode_state(d: &SlotData) -> Vec<u8> {
    let mut body = Vec::new();
    put_str(&mut body, Some(&d.name));
    put_opt_u64(&mut body, d.database.map(|o| o.0 as u64));
    put_str(&mut body, d.plugin.as_deref());
    body.push(match d.persistency {
        Persistency::Persistent => 0,
        Persistency::Ephemeral => 1,
        Persistency::Temporary => 2,
    });
    put_opt_u64(&mut body, d.xmin.map(|x| x.0 as u64));
    put_opt_u64(&mut body, d.catalog_xmin.map(|x| x.0 as u64));
    put_opt_u64(&mut body, d.restart_lsn.map(|l| l.0));
    put_opt_u64(&mut body, d.confirmed_flush.map(|l| l.0));
    body.push(match d.invalidated {
        None => 0,
        Some(Invalidation::WalRemoved) => 1,
        Some(Invalidation::RowsRemoved) => 2,
        Some(Invalidation::WalLevelInsufficient) => 3,
    });
    body.push(d.two_phase as u8);
    put_opt_u64(&mut body, d.two_phase_at.map(|l| l.0));
    body.push(d.failover as u8);
    body.push(d.synced as u8);
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(&STATE_MAGIC.to_le_bytes());
    out.extend_from_slice(&STATE_VERSION.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A presence byte, then eight little-endian bytes (zero when absent).
fn get_opt_u64(r: &mut ByteReader) -> Option<Option<u64>> {
    let present = r.get_u8().ok()? != 0;
    let v = r.get_u64_le().ok()?;
    Some(present.then_some(v))
}

/// A little-endian `u32` length (`u32::MAX` for none), then UTF-8 bytes.
fn get_str(r: &mut ByteReader) -> Option<Option<String>> {
    let n = r.get_u32_le().ok()?;
    if n == u32::MAX {
        return Some(None);
    }
    let s = r.get_bytes(n as usize).ok()?;
    Some(Some(String::from_utf8(s.to_vec()).ok()?))
}

/// Decodes the contents of a slot's `state` file (read at startup by
/// [`SlotRegistry::open`]); `path` only names the file in errors. Any damage
/// (truncation, wrong magic or version, checksum mismatch, a malformed body) is
/// `XX001 replication slot file "..." ...`; no input makes it panic.
pub fn decode_state(bytes: &[u8], path: &Path) -> PgResult<SlotData> {
    let corrupt = |what: &str| {
        PgError::new(
            SqlState::DATA_CORRUPTED,
            format!("replication slot file \"{}\" {what}", path.display()),
        )
    };
    let mut r: ByteReader = ByteReader::new(bytes);
    let (Ok(magic), Ok(version), Ok(crc), Ok(len)) = (
        r.get_u32_le(),
        r.get_u32_le(),
        r.get_u32_le(),
        r.get_u32_le(),
    ) else {
        return Err(corrupt("is truncated"));
    };
    if magic != STATE_MAGIC {
        return Err(corrupt(&format!(
            "has wrong magic number: {magic} instead of {STATE_MAGIC}"
        )));
    }
    if version != STATE_VERSION {
        return Err(corrupt(&format!("has unsupported version {version}")));
    }
    let body = r
        .get_bytes(len as usize)
        .map_err(|_| corrupt("has wrong length"))?;
    let actual = crc32c::crc32c(body);
    if actual != crc {
        return Err(corrupt(&format!(
            "checksum mismatch: is {actual}, should be {crc}"
        )));
    }
    let mut r: ByteReader = ByteReader::new(body);
    let parse = |r: &mut ByteReader| -> Option<SlotData> {
        let name = get_str(r)??;
        let database = get_opt_u64(r)?.map(|o| Oid(o as u32));
        let plugin = get_str(r)?;
        let persistency = match r.get_u8().ok()? {
            0 => Persistency::Persistent,
            1 => Persistency::Ephemeral,
            _ => Persistency::Temporary,
        };
        let xmin = get_opt_u64(r)?.map(|x| Xid(x as u32));
        let catalog_xmin = get_opt_u64(r)?.map(|x| Xid(x as u32));
        let restart_lsn = get_opt_u64(r)?.map(Lsn);
        let confirmed_flush = get_opt_u64(r)?.map(Lsn);
        let invalidated = match r.get_u8().ok()? {
            0 => None,
            1 => Some(Invalidation::WalRemoved),
            2 => Some(Invalidation::RowsRemoved),
            _ => Some(Invalidation::WalLevelInsufficient),
        };
        let two_phase = r.get_u8().ok()? != 0;
        let two_phase_at = get_opt_u64(r)?.map(Lsn);
        let failover = r.get_u8().ok()? != 0;
        let synced = r.get_u8().ok()? != 0;
        Some(SlotData {
            name,
            database,
            plugin,
            persistency,
            xmin,
            catalog_xmin,
            restart_lsn,
            confirmed_flush,
            invalidated,
            two_phase,
            two_phase_at,
            failover,
            synced,
        })
    };
    parse(&mut r).ok_or_else(|| corrupt("is malformed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(name: &str) -> SlotData {
        SlotData {
            database: Some(Oid(5)),
            plugin: Some("test_decoding".into()),
            restart_lsn: Some(Lsn(0x1000)),
            confirmed_flush: Some(Lsn(0x1100)),
            catalog_xmin: Some(Xid(740)),
            failover: true,
            ..SlotData::physical(name, Persistency::Persistent)
        }
    }

    #[test]
    fn sync_skips_are_counted_on_synced_slots_only() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 4, 0).unwrap();
        let synced = SlotData {
            synced: true,
            ..logical("copy")
        };
        reg.create(synced, 7).unwrap();
        reg.create(logical("mine"), 7).unwrap();
        assert_eq!(reg.sync_skip("copy"), SyncSkip::default());
        reg.record_sync_skip("copy", Some("wal_not_flushed"), 100);
        reg.record_sync_skip("copy", Some("wal_not_flushed"), 200);
        assert_eq!(
            reg.sync_skip("copy"),
            SyncSkip {
                reason: Some("wal_not_flushed"),
                count: 2,
                last: Some(200)
            }
        );
        // a cycle that synchronizes it clears the reason, keeps the history
        reg.record_sync_skip("copy", None, 300);
        assert_eq!(
            reg.sync_skip("copy"),
            SyncSkip {
                reason: None,
                count: 2,
                last: Some(200)
            }
        );
        // a user slot, or none at all, is left alone
        reg.record_sync_skip("mine", Some("name_taken_by_user_slot"), 400);
        reg.record_sync_skip("gone", Some("wal_not_flushed"), 400);
        assert_eq!(reg.sync_skip("mine"), SyncSkip::default());
        assert_eq!(reg.sync_skip("gone"), SyncSkip::default());
    }

    #[test]
    fn slot_changes_wake_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let reg = std::sync::Arc::new(SlotRegistry::open(dir.path(), 4, 0).unwrap());
        let seen = reg.change_count();
        // nothing changed: the wait times out with the same count
        let t = std::time::Duration::from_millis(10);
        assert_eq!(reg.wait_for_change(seen, t), seen);
        reg.create(SlotData::physical("p", Persistency::Temporary), 7)
            .unwrap();
        let created = reg.change_count();
        assert!(created != seen);
        let r2 = reg.clone();
        let waiter = std::thread::spawn(move || {
            r2.wait_for_change(created, std::time::Duration::from_secs(30))
        });
        reg.update_lazily("p", LAZY_SAVE_INTERVAL, |d| {
            d.restart_lsn = Some(Lsn(0x100))
        })
        .unwrap();
        assert!(waiter.join().unwrap() != created);
        // an update that moves nothing is no change
        let now = reg.change_count();
        reg.update_lazily("p", LAZY_SAVE_INTERVAL, |_| {}).unwrap();
        assert_eq!(reg.change_count(), now);
    }

    #[test]
    fn only_failover_slots_wake_failover_waiters() {
        let dir = tempfile::tempdir().unwrap();
        let reg = std::sync::Arc::new(SlotRegistry::open(dir.path(), 4, 0).unwrap());
        reg.create(SlotData::physical("p", Persistency::Persistent), 7)
            .unwrap();
        let plain = SlotData {
            failover: false,
            ..logical("plain")
        };
        reg.create(plain, 7).unwrap();
        let seen = reg.failover_change_count();
        let any = reg.change_count();
        // a physical slot and a logical slot without failover move: no wake
        reg.update_lazily("p", LAZY_SAVE_INTERVAL, |d| {
            d.restart_lsn = Some(Lsn(0x100))
        })
        .unwrap();
        reg.update("plain", |d| d.confirmed_flush = Some(Lsn(0x1200)))
            .unwrap();
        reg.release("p", 7, 1);
        assert!(reg.change_count() != any);
        let t = std::time::Duration::from_millis(10);
        assert_eq!(reg.wait_for_failover_change(seen, t), seen);
        // turning failover on is a failover change, and so are its moves
        let r2 = reg.clone();
        let waiter = std::thread::spawn(move || {
            r2.wait_for_failover_change(seen, std::time::Duration::from_secs(30))
        });
        reg.update("plain", |d| d.failover = true).unwrap();
        let on = waiter.join().unwrap();
        assert!(on != seen);
        reg.update("plain", |d| d.confirmed_flush = Some(Lsn(0x1300)))
            .unwrap();
        let moved = reg.failover_change_count();
        assert!(moved != on);
        // and so is its drop
        reg.drop_slot("plain", 7, false).unwrap();
        let dropped = reg.failover_change_count();
        assert!(dropped != moved);
        // a setting change wakes the failover waiters only
        let any = reg.change_count();
        let r2 = reg.clone();
        let waiter = std::thread::spawn(move || {
            r2.wait_for_failover_change(dropped, std::time::Duration::from_secs(30))
        });
        reg.note_failover_setting_change();
        assert!(waiter.join().unwrap() != dropped);
        assert_eq!(reg.change_count(), any);
    }

    #[test]
    fn physical_advance_moves_restart_lsn_forward_only() {
        let mut s = SlotData::physical("p", Persistency::Persistent);
        // a slot that reserved nothing starts at the first valid position
        assert_eq!(advance_physical(&s, Lsn::INVALID), None);
        let adv = advance_physical(&s, Lsn(0x100)).unwrap();
        assert_eq!(
            adv,
            SlotAdvance {
                restart_lsn: Some(Lsn(0x100)),
                ..SlotAdvance::default()
            }
        );
        adv.apply(&mut s);
        assert_eq!(s.restart_lsn, Some(Lsn(0x100)));
        assert_eq!(advance_physical(&s, Lsn(0x100)), None);
        assert_eq!(advance_physical(&s, Lsn(0x80)), None);
        assert!(advance_physical(&s, Lsn(0x101)).is_some());
        s.invalidated = Some(Invalidation::WalRemoved);
        assert_eq!(advance_physical(&s, Lsn(0x200)), None);
    }

    #[test]
    fn logical_advance_moves_each_position_forward_only() {
        let s = logical("l"); // restart 0x1000, confirmed 0x1100, catalog_xmin 740
        let at = |lsn, xid: Option<u32>| {
            Some(RestartPoint {
                lsn: Lsn(lsn),
                catalog_xmin: xid.map(Xid),
            })
        };
        // nothing new
        assert_eq!(advance_logical(&s, Lsn(0x1100), None), None);
        assert_eq!(
            advance_logical(&s, Lsn(0x1000), at(0x1000, Some(900))),
            None
        );
        assert_eq!(advance_logical(&s, Lsn::INVALID, at(0, Some(900))), None);
        // confirmed only
        assert_eq!(
            advance_logical(&s, Lsn(0x1200), at(0x0800, Some(900))),
            Some(SlotAdvance {
                confirmed_flush: Some(Lsn(0x1200)),
                ..SlotAdvance::default()
            })
        );
        // restart with its catalog_xmin; an older xid keeps the slot's
        let mut d = s.clone();
        let adv = advance_logical(&s, Lsn(0x1050), at(0x1050, Some(800))).unwrap();
        adv.apply(&mut d);
        assert_eq!(
            (d.restart_lsn, d.confirmed_flush, d.catalog_xmin),
            (Some(Lsn(0x1050)), Some(Lsn(0x1100)), Some(Xid(800)))
        );
        let adv = advance_logical(&d, Lsn(0x1300), at(0x1300, Some(700))).unwrap();
        assert_eq!(adv.catalog_xmin, None);
        adv.apply(&mut d);
        assert_eq!(
            (d.restart_lsn, d.confirmed_flush, d.catalog_xmin),
            (Some(Lsn(0x1300)), Some(Lsn(0x1300)), Some(Xid(800)))
        );
        // a restart point without a transaction leaves catalog_xmin
        let adv = advance_logical(&d, Lsn(0x1300), at(0x1400, None)).unwrap();
        assert_eq!(
            adv,
            SlotAdvance {
                restart_lsn: Some(Lsn(0x1400)),
                ..SlotAdvance::default()
            }
        );
        assert_eq!(catalog_xmin_after(Xid(u32::MAX)), Xid(0));
        assert_eq!(catalog_xmin_after(Xid(799)), Xid(800));
    }

    #[test]
    fn slots_survive_reopen_and_temporary_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("keep"), 1).unwrap();
        reg.create(SlotData::physical("temp", Persistency::Temporary), 1)
            .unwrap();
        reg.create(SlotData::physical("half", Persistency::Ephemeral), 1)
            .unwrap();
        reg.update("keep", |d| d.confirmed_flush = Some(Lsn(0x2000)))
            .unwrap();
        drop(reg); // a crash: nothing else is written
        let reg = SlotRegistry::open(dir.path(), 10, 7).unwrap();
        let all = reg.list();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].data.name, "keep");
        assert_eq!(all[0].data.confirmed_flush, Some(Lsn(0x2000)));
        assert_eq!(
            all[0].data,
            SlotData {
                confirmed_flush: Some(Lsn(0x2000)),
                ..logical("keep")
            }
        );
        assert_eq!(all[0].active_pid, None);
        assert_eq!(all[0].inactive_since, Some(7));
    }

    #[test]
    fn lazy_updates_keep_the_saved_restart_lsn_for_retention() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("s"), 1).unwrap();
        reg.update("s", |d| d.restart_lsn = Some(Lsn(0x1000)))
            .unwrap();
        let long = std::time::Duration::from_secs(3600);
        // the first lazy move is written (no write yet), the next waits
        reg.update_lazily("s", long, |d| d.restart_lsn = Some(Lsn(0x2000)))
            .unwrap();
        reg.update_lazily("s", long, |d| {
            d.restart_lsn = Some(Lsn(0x3000));
            d.confirmed_flush = Some(Lsn(0x3000));
        })
        .unwrap();
        let info = reg.get("s").unwrap();
        assert_eq!(info.data.restart_lsn, Some(Lsn(0x3000)));
        assert_eq!(info.retained_restart_lsn, Some(Lsn(0x2000)));
        assert_eq!(reg.horizons().restart_lsn, Some(Lsn(0x2000)));
        // a crash now: the file has the older position
        let crashed = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        assert_eq!(
            crashed.get("s").unwrap().data.restart_lsn,
            Some(Lsn(0x2000))
        );
        drop(crashed);
        // release writes what is pending
        reg.release("s", 1, 0);
        let reopened = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        let d = reopened.get("s").unwrap().data;
        assert_eq!(
            (d.restart_lsn, d.confirmed_flush),
            (Some(Lsn(0x3000)), Some(Lsn(0x3000)))
        );
        assert!(reg
            .update_lazily("s", long, |d| d.confirmed_flush = Some(Lsn(0x10)))
            .is_err());
    }

    /// The file's `restart_lsn` after a crash now.
    fn on_disk(dir: &Path, name: &str) -> Option<SlotData> {
        let reg = SlotRegistry::open(dir, 10, 0).unwrap();
        reg.get(name).map(|i| i.data)
    }

    #[test]
    fn a_synced_move_is_shown_before_its_write_and_retention_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        let copy = SlotData {
            synced: true,
            ..logical("copy") // restart 0x1000
        };
        reg.create(copy, 1).unwrap();
        reg.release("copy", 1, 0);
        // the move is in memory, the file not written yet
        reg.acquire("copy", 1, false).unwrap();
        assert!(reg
            .move_lazily("copy", |d| {
                d.restart_lsn = Some(Lsn(0x4000));
                d.confirmed_flush = Some(Lsn(0x4000));
            })
            .unwrap());
        let info = reg.get("copy").unwrap();
        assert_eq!(info.data.restart_lsn, Some(Lsn(0x4000)));
        assert_eq!(info.retained_restart_lsn, Some(Lsn(0x1000)));
        assert_eq!(reg.horizons().restart_lsn, Some(Lsn(0x1000)));
        let file = on_disk(dir.path(), "copy").unwrap();
        assert_eq!(file.restart_lsn, Some(Lsn(0x1000)));
        // written at once (interval zero): retention moves with the file
        reg.save_lazily("copy", std::time::Duration::ZERO).unwrap();
        assert_eq!(
            reg.get("copy").unwrap().retained_restart_lsn,
            Some(Lsn(0x4000))
        );
        assert_eq!(
            on_disk(dir.path(), "copy").unwrap().restart_lsn,
            Some(Lsn(0x4000))
        );
        // update_lazily with interval zero: both halves, file written
        reg.update_lazily("copy", std::time::Duration::ZERO, |d| {
            d.restart_lsn = Some(Lsn(0x5000))
        })
        .unwrap();
        assert_eq!(
            on_disk(dir.path(), "copy").unwrap().restart_lsn,
            Some(Lsn(0x5000))
        );
        assert_eq!(reg.horizons().restart_lsn, Some(Lsn(0x5000)));
    }

    #[test]
    fn a_late_lazy_write_never_overwrites_an_invalidation_nor_revives_a_drop() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("s"), 1).unwrap();
        reg.move_lazily("s", |d| d.restart_lsn = Some(Lsn(0x2000)))
            .unwrap();
        // the lazy write took its copy, then (before it reached the disk)
        // retention invalidated the slot, on disk before returning
        let (stale, version) = reg.lazy_snapshot("s", std::time::Duration::ZERO).unwrap();
        reg.update("s", |d| {
            d.invalidated = Some(Invalidation::WalRemoved);
            d.restart_lsn = None;
        })
        .unwrap();
        assert!(!reg.write_if_newer(&stale, version).unwrap());
        let file = on_disk(dir.path(), "s").unwrap();
        assert_eq!(
            (file.invalidated, file.restart_lsn),
            (Some(Invalidation::WalRemoved), None)
        );
        // a drop in the same window: the slot stays gone
        reg.create(logical("t"), 1).unwrap();
        reg.move_lazily("t", |d| d.restart_lsn = Some(Lsn(0x2000)))
            .unwrap();
        let (stale, version) = reg.lazy_snapshot("t", std::time::Duration::ZERO).unwrap();
        reg.drop_slot("t", 1, false).unwrap();
        assert!(!reg.write_if_newer(&stale, version).unwrap());
        assert!(!dir.path().join("t").exists());
        assert!(on_disk(dir.path(), "t").is_none());
        // a slot created again under the name is not overwritten by the old copy
        reg.create(logical("t"), 1).unwrap();
        assert!(!reg.write_if_newer(&stale, version).unwrap());
        assert_eq!(
            on_disk(dir.path(), "t").unwrap().restart_lsn,
            Some(Lsn(0x1000))
        );
    }

    #[test]
    fn the_saved_position_is_never_ahead_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("s"), 1).unwrap(); // restart 0x1000 on disk
                                              // an older lazy copy (0x2000) lands after a newer write (0x3000)
        reg.move_lazily("s", |d| d.restart_lsn = Some(Lsn(0x2000)))
            .unwrap();
        let (older, older_version) = reg.lazy_snapshot("s", std::time::Duration::ZERO).unwrap();
        reg.move_lazily("s", |d| d.restart_lsn = Some(Lsn(0x3000)))
            .unwrap();
        let (newer, newer_version) = reg.lazy_snapshot("s", std::time::Duration::ZERO).unwrap();
        // the newer one first
        assert!(reg.write_if_newer(&newer, newer_version).unwrap());
        reg.note_saved("s", newer_version, newer.restart_lsn);
        assert!(!reg.write_if_newer(&older, older_version).unwrap());
        // a late note of the older write moves nothing
        reg.note_saved("s", older_version, older.restart_lsn);
        let file = on_disk(dir.path(), "s").unwrap().restart_lsn;
        let retained = reg.get("s").unwrap().retained_restart_lsn;
        assert_eq!((file, retained), (Some(Lsn(0x3000)), Some(Lsn(0x3000))));
        // a move not yet written: retention stays at the file
        reg.move_lazily("s", |d| d.restart_lsn = Some(Lsn(0x4000)))
            .unwrap();
        let retained = reg.get("s").unwrap().retained_restart_lsn;
        let file = on_disk(dir.path(), "s").unwrap().restart_lsn;
        assert!(retained <= file, "{retained:?} ahead of {file:?}");
        // release writes it
        reg.release("s", 1, 0);
        assert_eq!(
            on_disk(dir.path(), "s").unwrap().restart_lsn,
            Some(Lsn(0x4000))
        );
        assert_eq!(
            reg.get("s").unwrap().retained_restart_lsn,
            Some(Lsn(0x4000))
        );
    }

    #[test]
    fn errors_as_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 2, 0).unwrap();
        reg.create(logical("a"), 1).unwrap();
        let e = reg.create(logical("a"), 2).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::DUPLICATE_OBJECT,
                "replication slot \"a\" already exists"
            )
        );
        let e = reg.acquire("a", 2, false).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::OBJECT_IN_USE,
                "replication slot \"a\" is active for PID 1"
            )
        );
        let e = reg.drop_slot("a", 2, false).unwrap_err();
        assert_eq!(e.code, SqlState::OBJECT_IN_USE);
        let e = reg.acquire("nope", 2, false).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::UNDEFINED_OBJECT,
                "replication slot \"nope\" does not exist"
            )
        );
        reg.create(SlotData::physical("b", Persistency::Persistent), 3)
            .unwrap();
        let e = reg
            .create(SlotData::physical("c", Persistency::Persistent), 3)
            .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::CONFIGURATION_LIMIT_EXCEEDED,
                "all replication slots are in use"
            )
        );
        let e = validate_name("Bad-Name").unwrap_err();
        assert_eq!(
            e.message,
            "replication slot name \"Bad-Name\" contains invalid character"
        );
        reg.release("a", 1, 5);
        reg.drop_slot("a", 2, false).unwrap();
        assert!(reg.get("a").is_none());
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn synced_cleanup_drops_only_temporary_synced_slots_of_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        let synced = |name: &str, persistency| SlotData {
            synced: true,
            persistency,
            ..logical(name)
        };
        reg.create(synced("tmp_synced", Persistency::Temporary), 1)
            .unwrap();
        reg.create(synced("other_owner", Persistency::Temporary), 2)
            .unwrap();
        reg.create(synced("ready", Persistency::Persistent), 1)
            .unwrap();
        reg.create(SlotData::physical("user_tmp", Persistency::Temporary), 1)
            .unwrap();
        reg.cleanup_synced(1);
        let names: Vec<String> = reg.list().into_iter().map(|i| i.data.name).collect();
        assert_eq!(names, ["other_owner", "ready", "user_tmp"]);
        reg.mark_synced_inactive(42);
        assert_eq!(reg.get("ready").unwrap().inactive_since, Some(42));
        assert_eq!(reg.get("other_owner").unwrap().inactive_since, Some(42));
        assert_eq!(reg.get("user_tmp").unwrap().inactive_since, None);
    }

    #[test]
    fn drop_wait_waits_for_release() {
        let dir = tempfile::tempdir().unwrap();
        let reg = std::sync::Arc::new(SlotRegistry::open(dir.path(), 10, 0).unwrap());
        reg.create(logical("busy"), 1).unwrap();
        let r2 = reg.clone();
        let t = std::thread::spawn(move || r2.drop_slot("busy", 2, true));
        // the dropper must not finish while pid 1 holds the slot
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(reg.get("busy").is_some());
        reg.release("busy", 1, 0);
        t.join().unwrap().unwrap();
        assert!(reg.get("busy").is_none());
    }

    #[test]
    fn horizons_skip_invalidated_slots_and_backward_moves_fail() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("a"), 1).unwrap();
        reg.create(
            SlotData {
                restart_lsn: Some(Lsn(0x500)),
                ..logical("b")
            },
            1,
        )
        .unwrap();
        assert_eq!(reg.horizons().restart_lsn, Some(Lsn(0x500)));
        reg.update("b", |d| d.invalidated = Some(Invalidation::WalRemoved))
            .unwrap();
        assert_eq!(reg.horizons().restart_lsn, Some(Lsn(0x1000)));
        assert!(reg
            .update("a", |d| d.confirmed_flush = Some(Lsn(0x10)))
            .is_err());
        assert_eq!(
            reg.get("a").unwrap().data.confirmed_flush,
            Some(Lsn(0x1100))
        );
    }

    #[test]
    fn corrupt_state_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SlotRegistry::open(dir.path(), 10, 0).unwrap();
        reg.create(logical("x"), 1).unwrap();
        drop(reg);
        let state = dir.path().join("x").join("state");
        let mut b = fs::read(&state).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        fs::write(&state, b).unwrap();
        let e = SlotRegistry::open(dir.path(), 10, 0).err().unwrap();
        assert_eq!(e.code, SqlState::DATA_CORRUPTED);
        assert!(e.message.contains("checksum mismatch"), "{}", e.message);
    }

    #[test]
    fn slot_names_are_checked_as_postgresql_does() {
        assert!(validate_name("sub_1").is_ok());
        assert!(validate_name(&"a".repeat(63)).is_ok());
        let short = validate_name("").unwrap_err();
        assert_eq!(
            (short.code, short.message.as_str()),
            (
                SqlState::INVALID_NAME,
                "replication slot name \"\" is too short"
            )
        );
        let name = "a".repeat(64);
        let long = validate_name(&name).unwrap_err();
        assert_eq!(long.code, SqlState::NAME_TOO_LONG);
        assert_eq!(
            long.message,
            format!("replication slot name \"{name}\" is too long")
        );
        let bad = validate_name("Bad-Name").unwrap_err();
        assert_eq!(bad.code, SqlState::INVALID_NAME);
        assert_eq!(
            bad.hint.as_deref(),
            Some("Replication slot names may only contain lower case letters, numbers, and the underscore character.")
        );
    }

    #[test]
    fn acquire_waiting_waits_for_release_and_stops_when_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let reg = std::sync::Arc::new(SlotRegistry::open(dir.path(), 10, 0).unwrap());
        reg.create(logical("s"), 1).unwrap();
        let tick = std::time::Duration::from_millis(5);
        // interrupted while another user holds it: the interruption's error
        let mut asked = 0;
        let e = reg
            .acquire_waiting("s", 2, tick, || {
                asked += 1;
                if asked < 3 {
                    Ok(())
                } else {
                    Err(PgError::new(SqlState::QUERY_CANCELED, "canceled"))
                }
            })
            .unwrap_err();
        assert_eq!((e.code, asked), (SqlState::QUERY_CANCELED, 3));
        assert_eq!(reg.get("s").unwrap().active_pid, Some(1));
        // released by its user meanwhile: acquired
        let other = reg.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            other.release("s", 1, 9);
        });
        let d = reg.acquire_waiting("s", 2, tick, || Ok(())).unwrap();
        releaser.join().unwrap();
        assert_eq!(d.name, "s");
        let info = reg.get("s").unwrap();
        assert_eq!((info.active_pid, info.inactive_since), (Some(2), None));
        // a free slot is acquired at once; a missing one is an error
        reg.release("s", 2, 10);
        reg.acquire_waiting("s", 3, tick, || panic!("no wait"))
            .unwrap();
        let e = reg
            .acquire_waiting("nosuch", 3, tick, || Ok(()))
            .unwrap_err();
        assert_eq!(e.message, "replication slot \"nosuch\" does not exist");
    }
}
