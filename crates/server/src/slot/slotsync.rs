//! Failover slot synchronization on a standby: the slot sync worker thread
//! and `pg_sync_replication_slots()`, around the pure planner
//! `tandem_replication::slotsync::plan_cycle`.
//!
//! One sync cycle connects to the primary with `primary_conninfo` as an
//! ordinary (non-replication) client, clears the remote `search_path`, checks
//! the upstream (`validate_remote_info`: the physical slot `primary_slot_name`
//! exists there), fetches its failover slots and its physical slots,
//! describes this standby (flushed WAL, oldest WAL on disk, databases by
//! name, slots in use), asks the planner what to do (`plan_cycle`, then
//! `plan_physical`) and carries the actions out through the
//! [`SlotRegistry`], in the planner's order: a slot is made persistent (state
//! file written and fsynced) before `... is sync-ready now` is logged; a
//! synced slot's move is shown first and written right after, outside the
//! registry lock (`SlotRegistry::update_lazily`, retention holding what the
//! state file still needs meanwhile); an invalidation or a drop is on disk
//! before it is reported. An
//! action that fails is reported and ends that slot's part of the cycle
//! only; the other slots are still synchronized.
//!
//! Beyond PostgreSQL 17 (see `docs/failover-slots.md`): the upstream may be a
//! standby itself (a cascading standby syncs the synced slots of its
//! upstream; PostgreSQL refuses with `cannot synchronize replication slots
//! from a standby server`), failover slots left over from this node's time as
//! a primary are replaced by synced copies, and physical slots are copied
//! too.
//!
//! Each cycle also reads the primary's `synchronized_standby_slots` and keeps
//! what it saw (the remote slots, the reason each was skipped, the setting
//! and the physical slots) for `pg_failover_readiness`
//! ([`SlotSync::readiness_rows`]), and records each synced slot's skip
//! reason and count in the registry (`slotsync_skip_reason`,
//! `slotsync_skip_count`, `slotsync_last_skip`). The primary also writes its
//! `synchronized_standby_slots` in its SLOT_STATE records (at each change of
//! it); the last one replayed is kept here and, when it came after the last
//! cycle asked, is what the view judges with
//! (`readiness::upstream_standby_slots`): a change of the primary's setting
//! shows as soon as it is replayed, whatever the worker's nap.
//!
//! The worker also applies the failover slot state the primary pushes in its
//! WAL: the replay thread hands each SLOT_STATE record it replays to
//! [`SlotSync::push`] (no file I/O on the replay thread), which keeps it for
//! the worker once a worker has started (`sync_replication_slots = on` with
//! valid settings; otherwise the records are ignored and
//! `pg_sync_replication_slots()` behaves as in PostgreSQL), also while the
//! worker is away after an error: the next worker applies what was kept, and
//! promotion applies what is left before the server leaves recovery. The worker
//! applies pushed state between its connection cycles, through the planner's
//! partial mode (`plan_pushed`), as its own actions, so slots follow the
//! primary as fast as the WAL arrives while the connection cycle (new slots
//! that existed before, drops, validation) keeps its long naps. The
//! primary's half is `push.rs`.
//!
//! Only one sync runs at a time ([`SlotSync`] holds PostgreSQL's
//! `SlotSyncCtx`: `syncing`, `stopSignaled`, the worker and its last start).
//! The worker runs while the server is a hot standby and
//! `sync_replication_slots` is on: the postmaster calls
//! [`SlotSync::maybe_start`] on every tick (at most one start per 10 s, the
//! parameters checked at LOG first), wakes it on reload
//! ([`SlotSync::wake`]), and the worker leaves when the setting is turned off
//! or restarts when `primary_conninfo`, `primary_slot_name` or
//! `hot_standby_feedback` change. At promotion the startup thread calls
//! [`SlotSync::shutdown_for_promotion`] before ending recovery.
//!
//! The connection to the primary is made by `ReplClient` with
//! `replication=false`, in the database `dbname` of `primary_conninfo`
//! (required, as in PostgreSQL). What the cycle reads (`pg_replication_slots`,
//! `pg_is_in_recovery()`) is the same in every database.
//!
//! Corresponds to PostgreSQL's `replication/logical/slotsync.c`
//! (`ReplSlotSyncWorkerMain`, `SyncReplicationSlots`, `ValidateSlotSyncParams`,
//! `validate_remote_info`, `synchronize_slots`, `ShutDownSlotSync`) and the
//! `pg_sync_replication_slots` part of `slotfuncs.c`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tandem_config::Config;
use tandem_replication::readiness::{
    assess, consumers_may_have_remote, listed_in, upstream_standby_slots, AskedSetting,
    PushedSetting, StandbyStatus,
};
use tandem_replication::slot::{Persistency, SlotData, SlotInfo, SlotRegistry};
use tandem_replication::slotsync::{
    any_slot_updated, forgive_upstream_replay_lag, invalidation_from_name, next_nap_ms, plan_cycle,
    plan_physical, plan_pushed, skip_outcomes, Action, Caller, RemotePhysicalSlot, RemoteSlot,
    SkipReason, StandbyState, FETCH_FAILOVER_SLOTS_QUERY, FETCH_PHYSICAL_SLOTS_QUERY, NAP_MIN_MS,
};
use tandem_storage::record::{SlotStateEntry, SlotStateRecord};
use tandem_storage::Database;
use tandem_types::elog::{self, log, Level};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use tandem_client::{
    parse_conninfo, quote_literal, with_application_name, Interrupter, ReplClient,
};
use tandem_types::PgTimestamp;

use crate::procarray::Registry;

/// The worker is started at most once per this interval
/// (`SLOTSYNC_RESTART_INTERVAL_SEC`).
const RESTART_INTERVAL: Duration = Duration::from_secs(10);

/// The worker's backend type and default application name.
pub(crate) const WORKER_BACKEND_TYPE: &str = "slotsync worker";

/// Shared sync state (PostgreSQL's `SlotSyncCtxStruct`).
#[derive(Default)]
struct State {
    /// A cycle (worker or function) is running.
    syncing: bool,
    /// Promotion asked slot sync to stop for good.
    stop_signaled: bool,
    /// The server is shutting down.
    shutdown: bool,
    worker_running: bool,
    /// When the worker was last started; `None` lets it start at once.
    last_start: Option<Instant>,
    /// Bumped to wake a napping worker (reload, stop).
    wake_seq: u64,
    /// Slot state pushed in the WAL and not yet applied by the worker, by
    /// slot name (later records replace earlier ones); `None`: the slot is
    /// gone from the primary's failover slots.
    pushed: BTreeMap<String, Option<RemoteSlot>>,
    /// Pushed state is kept: set when the worker starts with valid
    /// settings, cleared when it leaves because sync was turned off or the
    /// server stops. A worker that left on an error (its upstream went away)
    /// or for a restart keeps it set, so that what is replayed meanwhile (the
    /// old primary's final slot state above all) is applied by the next
    /// worker, or at promotion.
    accepting: bool,
    /// The primary's `synchronized_standby_slots` from the last SLOT_STATE
    /// record replayed that carried it, kept whether or not a worker runs.
    pushed_setting: Option<PushedSetting>,
    /// How many such records were replayed ([`PushedSetting::seq`]).
    setting_seq: u64,
}

/// A slot of a SLOT_STATE record as the planner reads a remote slot (zero
/// positions and xids are invalid, an empty invalidation is none).
fn remote_of(e: SlotStateEntry) -> RemoteSlot {
    let lsn = |l: Lsn| l.is_valid().then_some(l);
    RemoteSlot {
        confirmed_flush: lsn(e.confirmed_flush),
        restart_lsn: lsn(e.restart_lsn),
        catalog_xmin: e.catalog_xmin.is_valid().then_some(e.catalog_xmin),
        invalidated: invalidation_from_name(&e.invalidation),
        name: e.name,
        plugin: e.plugin,
        two_phase: e.two_phase,
        failover: e.failover,
        database: e.database,
    }
}

/// Whether the upstream is a standby itself (a cascade's upstream), read in
/// each cycle before its slots.
pub(crate) const IN_RECOVERY_QUERY: &str = "SELECT pg_catalog.pg_is_in_recovery()";

/// The primary's `synchronized_standby_slots`, read in each cycle: does it
/// name this standby's `primary_slot_name`, and what have its standbys
/// flushed as its quorum asks (`pg_failover_readiness`)?
pub(crate) const STANDBY_SLOTS_QUERY: &str =
    "SELECT pg_catalog.current_setting('synchronized_standby_slots')";

/// What the last sync cycle (worker or function) saw and decided, kept in
/// memory for `pg_failover_readiness`.
#[derive(Clone, Debug)]
struct LastCycle {
    /// microseconds since 2000-01-01 UTC
    at: i64,
    /// The primary's failover slots, each with the reason the cycle skipped it.
    slots: Vec<(RemoteSlot, Option<SkipReason>)>,
    /// The primary's `synchronized_standby_slots` as the cycle read it.
    setting: AskedSetting,
    /// The primary's physical slots: what its standbys have flushed
    /// (`readiness::consumers_may_have_remote`).
    physical: Vec<RemotePhysicalSlot>,
}

/// Slot synchronization of one server.
pub(crate) struct SlotSync {
    db: Arc<Database>,
    config: Arc<Config>,
    slots: Arc<SlotRegistry>,
    registry: Arc<Registry>,
    state: Mutex<State>,
    changed: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Breaks the current connection to the primary, so that promotion never
    /// waits for a read from a primary that no longer answers.
    connection: Mutex<Option<Interrupter>>,
    last_cycle: Mutex<Option<LastCycle>>,
}

/// The settings whose change restarts the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Params {
    conninfo: String,
    slot_name: String,
    feedback: bool,
}

impl Params {
    fn now(config: &Config) -> Params {
        Params {
            conninfo: config.get_str("primary_conninfo"),
            slot_name: config.get_str("primary_slot_name"),
            feedback: config.get_bool("hot_standby_feedback"),
        }
    }
}

/// Why the worker left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkerEnd {
    Disabled,
    Restart,
    Promotion,
    Shutdown,
    Error,
}

fn invalid(message: String) -> PgError {
    PgError::new(SqlState::INVALID_PARAMETER_VALUE, message)
}

/// `ValidateSlotSyncParams`: the settings slot sync needs, checked in
/// PostgreSQL's order (22023 each).
pub(crate) fn check_params(
    wal_level: &str,
    primary_slot_name: &str,
    hot_standby_feedback: bool,
    primary_conninfo: &str,
) -> PgResult<()> {
    if wal_level != "logical" {
        return Err(invalid(
            "replication slot synchronization requires \"wal_level\" >= \"logical\"".into(),
        ));
    }
    if primary_slot_name.is_empty() {
        return Err(invalid(
            "replication slot synchronization requires \"primary_slot_name\" to be set".into(),
        ));
    }
    if !hot_standby_feedback {
        return Err(invalid(
            "replication slot synchronization requires \"hot_standby_feedback\" to be enabled"
                .into(),
        ));
    }
    if primary_conninfo.is_empty() {
        return Err(invalid(
            "replication slot synchronization requires \"primary_conninfo\" to be set".into(),
        ));
    }
    Ok(())
}

/// `CheckAndGetDbnameFromConninfo`: the `dbname` of `primary_conninfo`.
pub(crate) fn dbname_of(conninfo: &str) -> PgResult<String> {
    let missing = || {
        invalid(
            "replication slot synchronization requires \"dbname\" to be specified in \"primary_conninfo\""
                .into(),
        )
    };
    let opts = parse_conninfo(conninfo).map_err(|e| {
        PgError::new(
            SqlState::SYNTAX_ERROR,
            format!("invalid connection string syntax: {}", e.message),
        )
    })?;
    match opts.get("dbname") {
        Some(d) if !d.is_empty() => Ok(d.to_string()),
        _ => Err(missing()),
    }
}

/// The remote validation query (`validate_remote_info`).
pub(crate) fn remote_info_query(primary_slot_name: &str) -> String {
    format!(
        "SELECT pg_is_in_recovery(), count(*) = 1 FROM pg_catalog.pg_replication_slots \
         WHERE slot_type='physical' AND slot_name={}",
        quote_literal(primary_slot_name)
    )
}

/// Judges the answer to [`remote_info_query`]. An upstream in recovery is
/// accepted (a cascading standby syncs from its upstream standby, whose
/// persistent synced slots it lists as failover slots); PostgreSQL 17
/// refuses it.
pub(crate) fn check_remote_info(
    primary_slot_name: &str,
    answer: PgResult<Vec<Vec<Option<String>>>>,
) -> PgResult<()> {
    let rows = answer.map_err(|e| {
        PgError::internal(format!(
            "could not fetch primary_slot_name \"{primary_slot_name}\" info from the primary server: {}",
            e.message
        ))
        .with_hint("Check if primary_slot_name is configured correctly.")
    })?;
    let Some(row) = rows.first() else {
        return Err(PgError::internal(
            "failed to fetch tuple for the primary server slot specified by primary_slot_name",
        ));
    };
    let flag = |i: usize| row.get(i).and_then(|v| v.as_deref()) == Some("t");
    if !flag(1) {
        return Err(invalid(format!(
            "replication slot \"{primary_slot_name}\" specified by \"primary_slot_name\" does not exist on primary server"
        )));
    }
    Ok(())
}

impl SlotSync {
    pub(crate) fn new(
        db: Arc<Database>,
        config: Arc<Config>,
        slots: Arc<SlotRegistry>,
        registry: Arc<Registry>,
    ) -> Arc<SlotSync> {
        Arc::new(SlotSync {
            db,
            config,
            slots,
            registry,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            worker: Mutex::new(None),
            connection: Mutex::new(None),
            last_cycle: Mutex::new(None),
        })
    }

    fn params_ok(&self) -> PgResult<()> {
        let p = Params::now(&self.config);
        check_params(
            &self.config.get_str("wal_level"),
            &p.slot_name,
            p.feedback,
            &p.conninfo,
        )
    }

    /// A SLOT_STATE record replayed here (the replay thread's sink): kept for
    /// the worker if it runs, ignored otherwise. Never waits for I/O.
    ///
    /// Once promotion has stopped the worker, the startup thread replays the
    /// last WAL itself: a record it replays then is applied at once, on that
    /// thread, before the server leaves recovery.
    ///
    /// The primary's `synchronized_standby_slots`, when the record carries
    /// it, is kept for `pg_failover_readiness` in any case; `end` is where
    /// the record ends (its timeline tells a cascade's upstream apart).
    pub(crate) fn push(&self, rec: SlotStateRecord, end: Lsn) {
        let timeline = self.db.wal().timeline_of(Lsn(end.0.saturating_sub(1)));
        let mut st = self.state.lock();
        if let Some(value) = rec.standby_slots {
            st.setting_seq += 1;
            st.pushed_setting = Some(PushedSetting {
                value,
                seq: st.setting_seq,
                timeline,
            });
        }
        if !st.accepting || st.shutdown {
            return;
        }
        for name in rec.dropped {
            st.pushed.insert(name, None);
        }
        for e in rec.slots {
            st.pushed.insert(e.name.clone(), Some(remote_of(e)));
        }
        if st.stop_signaled && !st.worker_running {
            let batch = std::mem::take(&mut st.pushed);
            drop(st);
            self.apply_pushed_at_promotion(batch);
            return;
        }
        self.changed.notify_all();
    }

    /// Applies pushed state no worker will apply any more (promotion), as a
    /// backend of its own whose temporary synced slots are dropped after.
    fn apply_pushed_at_promotion(&self, batch: BTreeMap<String, Option<RemoteSlot>>) {
        if batch.is_empty() || !self.config.get_bool("sync_replication_slots") {
            return;
        }
        let reg = self.registry.register(None, None);
        let pid = reg.entry.pid;
        if let Err(e) = self.apply_pushed(batch, pid) {
            elog::emit_error(&e);
        }
        self.slots.cleanup_synced(pid);
        self.slots.cleanup_session(pid);
    }

    /// Wakes a napping worker so that it looks at the settings again (reload).
    pub(crate) fn wake(&self) {
        let mut st = self.state.lock();
        st.wake_seq += 1;
        self.changed.notify_all();
    }

    /// `MaybeStartSlotSyncWorker`: starts the worker when none runs, the
    /// server is a hot standby not shutting down, `sync_replication_slots` is
    /// on, the last start is 10 s ago (or a parameter change asked for a
    /// restart) and the settings are valid (a bad one is logged).
    pub(crate) fn maybe_start(self: &Arc<Self>) {
        if !self.db.in_recovery() || !self.config.get_bool("sync_replication_slots") {
            return;
        }
        {
            let mut st = self.state.lock();
            if st.worker_running || st.stop_signaled || st.shutdown {
                return;
            }
            if st
                .last_start
                .is_some_and(|t| t.elapsed() < RESTART_INTERVAL)
            {
                return;
            }
            st.last_start = Some(Instant::now());
        }
        if let Err(e) = self.params_ok() {
            log(&e.message);
            let mut st = self.state.lock();
            st.accepting = false;
            st.pushed.clear();
            return;
        }
        {
            let mut st = self.state.lock();
            st.worker_running = true;
            st.accepting = true;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("slotsync worker".into())
            .spawn(move || me.worker_main());
        match spawned {
            Ok(h) => {
                if let Some(old) = self.worker.lock().replace(h) {
                    let _ = old.join();
                }
            }
            Err(e) => {
                self.state.lock().worker_running = false;
                log(&format!("could not fork slot sync worker process: {e}"));
            }
        }
    }

    /// Server shutdown: the worker leaves at its next check; `wait` waits
    /// for its thread (not after an immediate shutdown).
    pub(crate) fn shutdown(&self, wait: bool) {
        {
            let mut st = self.state.lock();
            st.shutdown = true;
            st.wake_seq += 1;
            self.changed.notify_all();
        }
        if !wait {
            return;
        }
        let h = self.worker.lock().take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }

    /// `ShutDownSlotSync`, run by the startup thread before ending recovery:
    /// stops slot sync for good, waits until no sync runs (the worker drops
    /// its temporary synced slots as it leaves), then stamps `inactive_since`
    /// of every synced slot.
    pub(crate) fn shutdown_for_promotion(&self) {
        {
            let mut st = self.state.lock();
            st.stop_signaled = true;
            st.wake_seq += 1;
            self.changed.notify_all();
            if let Some(c) = self.connection.lock().take() {
                c.interrupt();
            }
            while st.syncing || st.worker_running {
                self.changed.wait_for(&mut st, Duration::from_millis(10));
            }
        }
        let h = self.worker.lock().take();
        if let Some(h) = h {
            let _ = h.join();
        }
        // what was replayed while no worker ran (the old primary's final
        // slot state, when its shutdown ended the worker's connection)
        let batch = std::mem::take(&mut self.state.lock().pushed);
        self.apply_pushed_at_promotion(batch);
        self.slots
            .mark_synced_inactive(PgTimestamp::now().as_micros());
    }

    /// `check_and_set_sync_info`: claims the right to sync.
    fn begin_sync(&self) -> PgResult<()> {
        let mut st = self.state.lock();
        if st.stop_signaled {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "cannot synchronize replication slots when standby promotion is ongoing",
            ));
        }
        if st.syncing {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "cannot synchronize replication slots concurrently",
            ));
        }
        st.syncing = true;
        Ok(())
    }

    fn end_sync(&self) {
        let mut st = self.state.lock();
        st.syncing = false;
        self.changed.notify_all();
    }

    /// `pg_sync_replication_slots()` for session `pid`: the checks, one cycle,
    /// then the session's synced slots that did not become sync-ready are
    /// dropped again.
    pub(crate) fn sync_function(&self, pid: i32) -> PgResult<()> {
        if !self.db.in_recovery() {
            return Err(PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "replication slots can only be synchronized to a standby server",
            ));
        }
        self.params_ok()?;
        let params = Params::now(&self.config);
        dbname_of(&params.conninfo)?;
        let mut client = self.connect(&params, "slotsync")?;
        let result = match self.begin_sync() {
            Ok(()) => {
                let r = self
                    .validate_remote(&mut client, &params)
                    .and_then(|()| self.cycle(&mut client, &params, pid, Caller::Function));
                self.slots.cleanup_synced(pid);
                self.end_sync();
                r.map(|_| ())
            }
            Err(e) => Err(e),
        };
        client.close();
        self.connection.lock().take();
        result
    }

    /// Connects to the primary as an ordinary client and clears its
    /// `search_path`, so that only `pg_catalog` objects are found.
    fn connect(&self, params: &Params, app: &str) -> PgResult<ReplClient> {
        let cluster = self.config.get_str("cluster_name");
        let app = if cluster.is_empty() {
            app.to_string()
        } else {
            format!("{cluster}_{app}")
        };
        let conninfo = with_application_name(&params.conninfo, &app);
        let mut client = ReplClient::connect_mode(&conninfo, "false").map_err(|e| {
            PgError::new(
                SqlState::CONNECTION_FAILURE,
                format!("could not connect to the primary server: {}", e.message),
            )
        })?;
        *self.connection.lock() = client.interrupter();
        if let Err(e) = client.query("SELECT pg_catalog.set_config('search_path', '', false);") {
            client.close();
            return Err(PgError::new(
                SqlState::PROTOCOL_VIOLATION,
                format!("could not clear search path: {}", e.message),
            ));
        }
        Ok(client)
    }

    fn validate_remote(&self, client: &mut ReplClient, params: &Params) -> PgResult<()> {
        let answer = client.query(&remote_info_query(&params.slot_name));
        check_remote_info(&params.slot_name, answer)
    }

    /// WAL received and flushed (or replayed) here (`GetStandbyFlushRecPtr`).
    fn flushed(&self) -> Lsn {
        self.db.wal().flush_lsn().max(self.db.replay_lsn())
    }

    /// What the planner needs to know about this standby; `local` is the
    /// slot list of this cycle.
    fn standby_state(&self, local: &[SlotInfo]) -> StandbyState {
        let wal = self.db.wal();
        // Restartpoints remove WAL and prune the catalog history: a slot
        // cannot reserve from before either.
        let oldest_available = wal
            .segments()
            .ok()
            .and_then(|s| s.iter().map(|f| f.start_lsn).min())
            .unwrap_or(Lsn::INVALID)
            .max(self.db.catalog_exact_from());
        let databases: BTreeMap<String, tandem_types::Oid> = self
            .db
            .catalog()
            .databases
            .values()
            .map(|d| (d.name.clone(), d.oid))
            .collect();
        StandbyState {
            flush: self.flushed(),
            oldest_available,
            oldest_safe_xmin: None,
            databases,
            active: local
                .iter()
                .filter_map(|i| i.active_pid.map(|pid| (i.data.name.clone(), pid)))
                .collect(),
        }
    }

    /// `synchronize_slots`: one cycle (the failover slots, then the physical
    /// slots); true if a slot changed.
    fn cycle(
        &self,
        client: &mut ReplClient,
        params: &Params,
        pid: i32,
        caller: Caller,
    ) -> PgResult<bool> {
        let fetch_failed = |e: PgError| {
            PgError::internal(format!(
                "could not fetch failover logical slots info from the primary server: {}",
                e.message
            ))
        };
        // asked before the slots are read: an upstream promoted in between
        // is then judged as a standby, never the other way round
        let upstream_in_recovery = client
            .query(IN_RECOVERY_QUERY)
            .map_err(fetch_failed)?
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| v.as_deref() == Some("t"));
        let rows = client
            .query(FETCH_FAILOVER_SLOTS_QUERY)
            .map_err(fetch_failed)?;
        let mut remote = Vec::with_capacity(rows.len());
        for row in &rows {
            let cols: Vec<Option<&str>> = row.iter().map(|c| c.as_deref()).collect();
            remote.push(RemoteSlot::from_row(&cols)?);
        }
        let rows = client.query(FETCH_PHYSICAL_SLOTS_QUERY).map_err(|e| {
            PgError::internal(format!(
                "could not fetch physical slots info from the primary server: {}",
                e.message
            ))
        })?;
        let mut remote_physical = Vec::with_capacity(rows.len());
        for row in &rows {
            let cols: Vec<Option<&str>> = row.iter().map(|c| c.as_deref()).collect();
            remote_physical.push(RemotePhysicalSlot::from_row(&cols)?);
        }
        let setting = self.fetch_setting(client, upstream_in_recovery);
        let local_slots = self.slots.list();
        let standby = self.standby_state(&local_slots);
        let local: Vec<SlotData> = local_slots.into_iter().map(|i| i.data).collect();
        let mut actions = plan_cycle(&remote, &local, &standby);
        if upstream_in_recovery {
            forgive_upstream_replay_lag(&mut actions);
        }
        let now = PgTimestamp::now().as_micros();
        let outcomes: Vec<(RemoteSlot, Option<SkipReason>)> = skip_outcomes(&remote, &actions)
            .into_iter()
            .map(|(r, skip)| (r.clone(), skip.cloned()))
            .collect();
        actions.extend(plan_physical(
            &remote_physical,
            &local,
            &params.slot_name,
            &standby,
        ));
        let changed = self.carry_out(&actions, pid, caller);
        // slots created in this cycle get their reason too
        for (r, skip) in &outcomes {
            self.slots
                .record_sync_skip(&r.name, skip.as_ref().map(SkipReason::name), now);
        }
        *self.last_cycle.lock() = Some(LastCycle {
            at: now,
            slots: outcomes,
            setting,
            physical: remote_physical,
        });
        changed
    }

    /// Carries out a plan's actions in order and logs (worker) or returns
    /// (function) their reports; true if a slot changed. One slot's failure
    /// ends that slot's part of the plan only.
    fn carry_out(&self, actions: &[Action], pid: i32, caller: Caller) -> PgResult<bool> {
        let mut first_error = None;
        let mut report_error = |e: PgError| match caller {
            Caller::Worker => elog::emit_error(&e),
            Caller::Function => {
                first_error.get_or_insert(e);
            }
        };
        let mut failed = BTreeSet::new();
        for action in actions {
            if failed.contains(action.slot_name()) {
                continue;
            }
            if let Err(e) = self.apply(action, pid) {
                failed.insert(action.slot_name().to_string());
                report_error(e);
                continue;
            }
            let Some(report) = action.report(caller) else {
                continue;
            };
            if report.level == Level::Error {
                report_error(report.to_error());
            } else {
                elog::emit(
                    report.level,
                    &report.message,
                    report.detail.as_deref(),
                    None,
                );
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(any_slot_updated(actions)),
        }
    }

    /// The primary's `synchronized_standby_slots` (`None` when it cannot be
    /// read), with the pushed values replayed before it was asked and, for
    /// an upstream in recovery, the timeline this standby replays now.
    fn fetch_setting(&self, client: &mut ReplClient, upstream_in_recovery: bool) -> AskedSetting {
        let pushes_before = self.state.lock().setting_seq;
        let upstream_standby_on = upstream_in_recovery.then(|| {
            let replayed = self.db.replay_lsn();
            self.db.wal().timeline_of(Lsn(replayed.0.saturating_sub(1)))
        });
        let value = client
            .query(STANDBY_SLOTS_QUERY)
            .ok()
            .and_then(|rows| rows.first().and_then(|r| r.first()).and_then(|v| v.clone()));
        AskedSetting {
            value,
            pushes_before,
            upstream_standby_on,
        }
    }

    /// `pg_failover_readiness`: each failover slot of the primary as of the
    /// last cycle, judged against the local slots now; `streaming` says
    /// whether the walreceiver streams. Empty on a primary or before any
    /// cycle.
    pub(crate) fn readiness_rows(&self, streaming: bool) -> Vec<tandem_expr::FailoverReadinessRow> {
        if !self.db.in_recovery() {
            return Vec::new();
        }
        let Some(last) = self.last_cycle.lock().clone() else {
            return Vec::new();
        };
        let (sync_running, pushed) = {
            let st = self.state.lock();
            (st.worker_running, st.pushed_setting.clone())
        };
        let slot = self.config.get_str("primary_slot_name");
        let (listed, consumers_may_have) =
            match upstream_standby_slots(&last.setting, pushed.as_ref()) {
                Some(v) => (
                    listed_in(v, &slot),
                    consumers_may_have_remote(v, &last.physical),
                ),
                None => (false, None),
            };
        let status = StandbyStatus {
            streaming,
            sync_running,
            listed,
            flush: self.flushed(),
            consumers_may_have,
        };
        let local = self.slots.list();
        last.slots
            .iter()
            .map(|(remote, skip)| {
                let copy = local
                    .iter()
                    .find(|l| l.data.name == remote.name)
                    .map(|l| &l.data);
                let verdict = assess(remote, skip.as_ref(), copy, &status);
                tandem_expr::FailoverReadinessRow {
                    slot_name: remote.name.clone(),
                    ready: verdict.ready(),
                    reason: verdict.reason,
                    lag_bytes: verdict.lag_bytes,
                    last_sync: Some(last.at),
                }
            })
            .collect()
    }

    /// Carries out one planned action, owned by `pid`.
    fn apply(&self, action: &Action, pid: i32) -> PgResult<()> {
        let slots = &self.slots;
        match action {
            Action::Drop { name, .. } => slots.drop_slot(name, pid, false),
            Action::Create { slot } => {
                slots.create(slot.clone(), pid)?;
                // a physical copy is persistent from the start: released now
                if slot.persistency == Persistency::Persistent {
                    slots.release(&slot.name, pid, PgTimestamp::now().as_micros());
                }
                Ok(())
            }
            Action::Update { name, change } => {
                // shown first, written right after outside the registry
                // lock: retention keeps what the state file needs meanwhile
                slots.acquire(name, pid, false)?;
                let r = slots.update_lazily(name, Duration::ZERO, |d| change.apply(d));
                slots.release(name, pid, PgTimestamp::now().as_micros());
                r
            }
            Action::CopyInvalidation { name, cause } => {
                slots.acquire(name, pid, false)?;
                let r = slots.update(name, |d| d.invalidated = Some(*cause));
                slots.release(name, pid, PgTimestamp::now().as_micros());
                r.map(|_| ())
            }
            Action::Persist { name } => {
                // on disk first; only then is the slot reported sync-ready
                slots.persist(name)?;
                slots.release(name, pid, PgTimestamp::now().as_micros());
                Ok(())
            }
            Action::Skip { .. } => Ok(()),
        }
    }

    /// The worker thread: registered as a backend, it syncs until told to
    /// stop, then drops its temporary synced slots.
    fn worker_main(self: Arc<Self>) {
        let reg = self.registry.register(None, None);
        {
            let mut a = reg.entry.activity.lock();
            a.application_name = WORKER_BACKEND_TYPE.into();
            a.backend_type = WORKER_BACKEND_TYPE.into();
            a.state = String::new();
        }
        let pid = reg.entry.pid;
        let params = Params::now(&self.config);
        let claimed = self.begin_sync();
        let end = match &claimed {
            Ok(()) => {
                log("slot sync worker started");
                let end = self.worker_loop(pid, &params, &reg.entry);
                self.slots.cleanup_synced(pid);
                self.slots.cleanup_session(pid);
                end
            }
            Err(e) => {
                elog::emit_error(e);
                WorkerEnd::Error
            }
        };
        let mut st = self.state.lock();
        if claimed.is_ok() {
            st.syncing = false;
        }
        if end == WorkerEnd::Restart {
            st.last_start = None;
        }
        st.worker_running = false;
        if matches!(end, WorkerEnd::Disabled | WorkerEnd::Shutdown) {
            st.accepting = false;
            st.pushed.clear();
        }
        self.changed.notify_all();
        drop(st);
        drop(reg);
    }

    fn worker_loop(
        &self,
        pid: i32,
        params: &Params,
        entry: &crate::procarray::BackendEntry,
    ) -> WorkerEnd {
        let run = || -> PgResult<WorkerEnd> {
            dbname_of(&params.conninfo)?;
            let mut client = self.connect(params, WORKER_BACKEND_TYPE)?;
            let r = (|| {
                self.validate_remote(&mut client, params)?;
                let mut nap = NAP_MIN_MS;
                loop {
                    if let Some(end) = self.interrupts(params, entry) {
                        return Ok(end);
                    }
                    let updated = self.cycle(&mut client, params, pid, Caller::Worker)?;
                    nap = next_nap_ms(nap, updated);
                    self.nap_applying_pushed(Duration::from_millis(nap), pid)?;
                }
            })();
            client.close();
            self.connection.lock().take();
            r
        };
        match run() {
            Ok(end) => end,
            Err(e) => {
                elog::emit_error(&e);
                WorkerEnd::Error
            }
        }
    }

    /// `ProcessSlotSyncInterrupts`: promotion, shutdown and setting changes.
    fn interrupts(
        &self,
        params: &Params,
        entry: &crate::procarray::BackendEntry,
    ) -> Option<WorkerEnd> {
        let (stop, shutdown) = {
            let st = self.state.lock();
            (st.stop_signaled, st.shutdown)
        };
        if stop {
            log("replication slot synchronization worker is shutting down because promotion is triggered");
            return Some(WorkerEnd::Promotion);
        }
        if shutdown || entry.terminating() {
            return Some(WorkerEnd::Shutdown);
        }
        if !self.config.get_bool("sync_replication_slots") {
            log("replication slot synchronization worker will shut down because \"sync_replication_slots\" is disabled");
            return Some(WorkerEnd::Disabled);
        }
        if Params::now(&self.config) != *params {
            log("replication slot synchronization worker will restart because of a parameter change");
            return Some(WorkerEnd::Restart);
        }
        None
    }

    /// Sleeps up to `d`, woken early by [`SlotSync::wake`] or a stop, and
    /// applies pushed slot state as it arrives meanwhile.
    fn nap_applying_pushed(&self, d: Duration, pid: i32) -> PgResult<()> {
        let deadline = Instant::now() + d;
        let mut st = self.state.lock();
        let seq = st.wake_seq;
        while st.wake_seq == seq && !st.stop_signaled && !st.shutdown {
            if !st.pushed.is_empty() {
                let batch = std::mem::take(&mut st.pushed);
                drop(st);
                self.apply_pushed(batch, pid)?;
                st = self.state.lock();
                continue;
            }
            if self.changed.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        Ok(())
    }

    /// Applies pushed slot state (the planner's partial mode).
    fn apply_pushed(&self, batch: BTreeMap<String, Option<RemoteSlot>>, pid: i32) -> PgResult<()> {
        let mut remote = Vec::new();
        let mut dropped = Vec::new();
        for (name, slot) in batch {
            match slot {
                Some(r) => remote.push(r),
                None => dropped.push(name),
            }
        }
        let local_slots = self.slots.list();
        let standby = self.standby_state(&local_slots);
        let local: Vec<SlotData> = local_slots.into_iter().map(|i| i.data).collect();
        let actions = plan_pushed(&remote, &dropped, &local, &standby);
        self.carry_out(&actions, pid, Caller::Worker).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_in_postgresql_order() {
        let msg = |r: PgResult<()>| r.map_err(|e| (e.code, e.message)).err();
        let code = SqlState::INVALID_PARAMETER_VALUE;
        assert_eq!(
            msg(check_params("replica", "", false, "")),
            Some((
                code,
                "replication slot synchronization requires \"wal_level\" >= \"logical\"".into()
            ))
        );
        assert_eq!(
            msg(check_params("logical", "", false, "")),
            Some((
                code,
                "replication slot synchronization requires \"primary_slot_name\" to be set".into()
            ))
        );
        assert_eq!(
            msg(check_params("logical", "sb1", false, "")),
            Some((
                code,
                "replication slot synchronization requires \"hot_standby_feedback\" to be enabled"
                    .into()
            ))
        );
        assert_eq!(
            msg(check_params("logical", "sb1", true, "")),
            Some((
                code,
                "replication slot synchronization requires \"primary_conninfo\" to be set".into()
            ))
        );
        assert_eq!(msg(check_params("logical", "sb1", true, "host=x")), None);
    }

    #[test]
    fn dbname_is_required_in_conninfo() {
        assert_eq!(
            dbname_of("host=127.0.0.1 port=5 user=u dbname=postgres").ok(),
            Some("postgres".to_string())
        );
        let e = dbname_of("host=127.0.0.1 port=5").unwrap_err();
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(
            e.message,
            "replication slot synchronization requires \"dbname\" to be specified in \"primary_conninfo\""
        );
    }

    #[test]
    fn remote_info_outcomes() {
        assert_eq!(
            remote_info_query("sb'1"),
            "SELECT pg_is_in_recovery(), count(*) = 1 FROM pg_catalog.pg_replication_slots \
             WHERE slot_type='physical' AND slot_name='sb''1'"
        );
        let row = |a: &str, b: &str| Ok(vec![vec![Some(a.to_string()), Some(b.to_string())]]);
        assert!(check_remote_info("sb1", row("f", "t")).is_ok());
        // an upstream standby is accepted (cascading sync)
        assert!(check_remote_info("sb1", row("t", "t")).is_ok());
        let e = check_remote_info("sb1", row("t", "f")).unwrap_err();
        assert_eq!(
            e.message,
            "replication slot \"sb1\" specified by \"primary_slot_name\" does not exist on primary server"
        );
        let e = check_remote_info("sb1", row("f", "f")).unwrap_err();
        assert_eq!(
            e.message,
            "replication slot \"sb1\" specified by \"primary_slot_name\" does not exist on primary server"
        );
        let e = check_remote_info("sb1", Ok(vec![])).unwrap_err();
        assert_eq!(
            e.message,
            "failed to fetch tuple for the primary server slot specified by primary_slot_name"
        );
        let e = check_remote_info("sb1", Err(PgError::internal("boom"))).unwrap_err();
        assert_eq!(
            e.message,
            "could not fetch primary_slot_name \"sb1\" info from the primary server: boom"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("Check if primary_slot_name is configured correctly.")
        );
    }
}
