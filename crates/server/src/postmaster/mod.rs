//! The postmaster: startup order, the accept loop, reloads and shutdown.
//!
//! Startup, in this order (each failure is FATAL, logged, and ends `run`):
//!
//! ```text
//! Config::load -> log_min_messages -> postmaster.pid (status "starting")
//! -> TLS files (ssl = on) -> pg_hba.conf -> listening sockets
//! -> Database::open (crash recovery) -> pg_replslot (slots), WAL retention
//! floor, walsender registry (woken on WAL flush) -> walwriter, checkpointer
//! -> postmaster.pid "ready" -> "database system is ready to accept connections"
//! ```
//!
//! The loop polls the listening sockets (100 ms ticks) and spawns one thread per
//! connection ([`backend_startup::serve`]). The poll also wakes when a backend
//! leaves or a walsender enters `stopping` (latches of the backend registry and
//! of the walsender registry), so the shutdown's waits for sessions and
//! walsenders move on at once rather than at the next tick, and when a request
//! is raised from inside the server or by [`ServerHandle`] (`tandem_demote()`,
//! `pg_reload_conf()`, a shutdown: the `wake` latch of [`Requests`]). Between ticks it
//! acts on flags that the signal handlers (or [`ServerHandle`], or
//! `pg_reload_conf()`) raise:
//!
//! | request | what happens |
//! |---|---|
//! | SIGHUP  | `Config::reload`, pg_hba.conf and TLS files re-read (kept if broken); slot sync worker and slot state writer woken |
//! | SIGTERM | smart: new connections get 57P03, wait until every session ended |
//! | SIGINT  | fast: every session but streaming walsenders ends with FATAL 57P01, then as smart |
//! | SIGQUIT | immediate: sessions and walsenders are cut, no checkpoint, exit at once |
//! | SIGUSR1 | a `promote` file in the data directory: removed, promotion requested |
//! | `tandem_demote()` | fast, then the server starts again as a standby (`demote.rs`) |
//!
//! Shutdown order (smart and fast): no session left (walsenders are not
//! sessions) -> status "stopping" -> background threads stopped -> walsenders
//! stopping: logical ones send what is left, failover slots' only once the
//! standbys of `synchronized_standby_slots` have it, and end once their
//! client confirmed it; physical ones show `stopping` -> shutdown checkpoint
//! -> physical walsenders send it and end once their standby confirmed it ->
//! lock files removed -> `database system is shut down`. The checkpoint comes
//! after the sessions so it covers every commit; the background threads stop
//! first so no other checkpoint runs concurrently; a standby has the whole
//! WAL of a cleanly shut down primary (`walsender/walsndctl.rs`).
//! PostgreSQL: `PM_STOP_BACKENDS` .. `PM_SHUTDOWN_2`.
//!
//! Corresponds to PostgreSQL's `src/backend/postmaster/postmaster.c`.

mod backend_startup;
pub(crate) mod bgworker;
pub(crate) mod listen;
mod pidfile;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tandem_config::Config;
use tandem_replication::slot_stats::SlotStats;
use tandem_sql::Engine;
use tandem_storage::{Database, OpenOptions};
use tandem_types::elog::{self, log, Level};
use tandem_types::{PgError, PgResult, PgTimestamp, SqlState};

use self::bgworker::BgWorkers;
use self::listen::Listeners;
use self::pidfile::LockFile;
use crate::backend::hba::{self, HbaLine};
use crate::backend::pqcomm::{Peer, Stream};
use crate::backend::tls;
use crate::procarray::Registry;
use crate::shared::{Requests, Shared, ShutdownMode};
use crate::sqlfuncs::{Hooks, ReplHooks};
use crate::walsender::walsndctl::WalSenders;

/// Logs a startup failure as FATAL and returns it.
fn fatal_startup(err: PgError) -> PgError {
    let err = crate::backend::pqcomm::fatal(err);
    elog::emit_error(&err);
    err
}

fn hba_path(datadir: &Path, config: &Config) -> PathBuf {
    match config.show("hba_file").filter(|s| !s.is_empty()) {
        Some(p) if Path::new(&p).is_absolute() => PathBuf::from(p),
        Some(p) => datadir.join(p),
        None => datadir.join("pg_hba.conf"),
    }
}

fn load_hba(path: &Path) -> PgResult<Vec<HbaLine>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        PgError::fatal(
            SqlState::UNDEFINED_FILE,
            format!(
                "could not open file \"{}\": {}",
                path.display(),
                listen::os_text(&e)
            ),
        )
    })?;
    hba::parse(&text, &path.display().to_string())
}

fn load_tls(datadir: &Path, config: &Config) -> PgResult<Option<Arc<rustls::ServerConfig>>> {
    if !config.get_bool("ssl") {
        return Ok(None);
    }
    let cert = config.get_str("ssl_cert_file");
    let key = config.get_str("ssl_key_file");
    tls::load(datadir, &cert, &key).map(Some)
}

fn apply_log_level(config: &Config) {
    if let Some(level) = config
        .show("log_min_messages")
        .and_then(|v| Level::from_setting(&v))
    {
        elog::set_min_level(level);
    }
}

/// How [`Postmaster::serve`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Shut down: the process may exit.
    Stopped,
    /// Shut down cleanly for `tandem_demote()`: start again, as a standby
    /// (`postmaster.pid` was kept for the restart, `demote.rs`).
    Demoted,
}

/// A started server: sockets bound, database open, ready for connections.
pub(crate) struct Postmaster {
    shared: Arc<Shared>,
    listeners: Listeners,
    pidfile: LockFile,
    workers: Option<BgWorkers>,
    /// Subscription apply workers (stopped first at shutdown).
    launcher: Arc<crate::subscription::Launcher>,
    /// Failover slot synchronization (the slot sync worker of a standby).
    slotsync: Arc<crate::slot::slotsync::SlotSync>,
    /// Writes the failover slots' state into the WAL (as a primary).
    pusher: Arc<crate::slot::push::SlotStatePusher>,
    /// Standby mode: the startup (replay) and walreceiver threads.
    standby: Option<crate::startup::Standby>,
    requests: Arc<Requests>,
    pub port: u16,
}

impl Postmaster {
    pub fn start(
        datadir: &Path,
        overrides: &[(String, String)],
        requests: Arc<Requests>,
    ) -> PgResult<Postmaster> {
        let config = Config::load(datadir, overrides).map_err(fatal_startup)?;
        apply_log_level(&config);
        let port = config.get_int("port");
        if !(1..=65535).contains(&port) {
            return Err(fatal_startup(PgError::fatal(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("{port} is outside the valid range for parameter \"port\" (1 .. 65535)"),
            )));
        }
        let port = port as u16;
        let listen = config.get_list("listen_addresses");
        let socket_dirs = config.get_list("unix_socket_directories");
        let mut pidfile = pidfile::create_postmaster_pid(
            datadir,
            port,
            socket_dirs.first().map(String::as_str).unwrap_or(""),
            listen.first().map(String::as_str).unwrap_or(""),
        )
        .map_err(fatal_startup)?;
        let tls = load_tls(datadir, &config).map_err(fatal_startup)?;
        let hba_path = hba_path(datadir, &config);
        let hba_lines = load_hba(&hba_path).map_err(|e| {
            elog::emit(Level::Log, &e.message, e.detail.as_deref(), None);
            fatal_startup(PgError::fatal(
                SqlState("F0000"),
                format!("could not load {}", hba_path.display()),
            ))
        })?;
        let listeners =
            listen::open(datadir, &listen, &socket_dirs, port).map_err(fatal_startup)?;
        let fsync = config.get_bool("fsync");
        // shared_buffers (in 8kB blocks) sizes the table store's cache
        let shared_buffers = (config.get_int("shared_buffers").max(16) as u64) * 8192;
        let open_options = || OpenOptions::with_shared_buffers(fsync, shared_buffers);
        let standby_mode = datadir.join("standby.signal").exists();
        let configured_read_only = config.get_str("default_transaction_read_only");
        // the slots first: crash recovery's end-of-recovery checkpoint keeps
        // what they need (PostgreSQL restores its slots before recovery)
        let slots = crate::slot::open(datadir, &config).map_err(fatal_startup)?;
        let (db, replay) = if standby_mode {
            let (db, replay) =
                Database::open_standby(datadir, open_options()).map_err(fatal_startup)?;
            // hot standby: every transaction is read-only
            let _ = config.set_runtime("default_transaction_read_only", "on");
            let _ = config.set_runtime("in_hot_standby", "on");
            (db, Some(replay))
        } else {
            (
                Database::open_keeping(
                    datadir,
                    open_options(),
                    crate::slot::floors_on_disk(&slots),
                )
                .map_err(fatal_startup)?,
                None,
            )
        };
        let registry = Registry::new();
        // SHOW wal_segment_size reports the data directory's segment size.
        let _ = config.set_runtime("wal_segment_size", &db.wal().segment_size().to_string());
        // statistics a clean shutdown saved (none after a crash)
        let (slot_stats, stats_problem) = SlotStats::load(datadir);
        if let Some(problem) = stats_problem {
            elog::emit(Level::Log, &problem, None, None);
        }
        let slot_stats = Arc::new(slot_stats);
        crate::slot::install_retention(&db, slots.clone(), config.clone(), registry.clone());
        let walsenders = WalSenders::start(db.wal().clone());
        walsenders.configure_syncrep(&config);
        let walrcv: crate::walreceiver::WalRcvShared = Default::default();
        let launcher = crate::subscription::Launcher::new();
        let slotsync = crate::slot::slotsync::SlotSync::new(
            db.clone(),
            config.clone(),
            slots.clone(),
            registry.clone(),
        );
        let hooks = Arc::new(Hooks {
            registry: registry.clone(),
            reload: requests.reload.clone(),
            start_time: PgTimestamp::now().as_micros(),
            demote: Some(crate::demote::Trigger {
                demote: requests.demote.clone(),
                fast: requests.fast.clone(),
                smart: requests.smart.clone(),
                immediate: requests.immediate.clone(),
                wake: requests.wake.clone(),
                datadir: datadir.to_path_buf(),
            }),
            repl: Some(ReplHooks {
                slots: slots.clone(),
                walsenders: walsenders.clone(),
                db: db.clone(),
                config: config.clone(),
                walrcv: walrcv.clone(),
                launcher: launcher.clone(),
                slotsync: slotsync.clone(),
                slot_stats: slot_stats.clone(),
            }),
        });
        let engine = Arc::new(Engine {
            db: db.clone(),
            config: config.clone(),
            hooks,
            syncrep: Some(walsenders.syncrep.clone()),
            notify: Arc::new(tandem_expr::notify::NotifyHub::new()),
            advisory: Arc::new(tandem_expr::advisory::AdvisoryLocks::new()),
        });
        let shared = Arc::new(Shared {
            datadir: datadir.to_path_buf(),
            config: config.clone(),
            db: db.clone(),
            engine,
            registry,
            slots,
            slot_stats,
            walsenders,
            hba: RwLock::new(Arc::new(hba_lines)),
            hba_path,
            tls: RwLock::new(tls),
            shutdown: AtomicU8::new(0),
        });
        let standby = replay.map(|r| {
            crate::startup::Standby::start(
                db.clone(),
                config.clone(),
                r,
                datadir.to_path_buf(),
                configured_read_only,
                walrcv.clone(),
                slotsync.clone(),
            )
        });
        launcher.start(db.clone(), config.clone(), shared.registry.clone());
        slotsync.maybe_start();
        let pusher = crate::slot::push::SlotStatePusher::start(
            db.clone(),
            shared.slots.clone(),
            config.clone(),
        );
        let workers = Some(BgWorkers::start(db, config));
        // Log before announcing readiness in postmaster.pid: whoever waits on the
        // pid file (pg_ctl-style tools, tests) then finds the line in the log.
        if standby.is_some() {
            log("database system is ready to accept read-only connections");
        } else {
            log("database system is ready to accept connections");
        }
        pidfile.set_line(8, pidfile::STATUS_READY);
        Ok(Postmaster {
            shared,
            listeners,
            pidfile,
            workers,
            launcher,
            slotsync,
            pusher,
            standby,
            requests,
            port,
        })
    }

    fn reload(&self) {
        let shared = &self.shared;
        if let Err(e) = shared.config.reload() {
            elog::emit_error(&PgError {
                severity: tandem_types::error::Severity::Log,
                ..e
            });
        }
        apply_log_level(&shared.config);
        shared.walsenders.configure_syncrep(&shared.config);
        self.slotsync.wake();
        self.pusher.wake();
        match load_hba(&shared.hba_path) {
            Ok(lines) => *shared.hba.write() = Arc::new(lines),
            Err(e) => {
                elog::emit(Level::Log, &e.message, e.detail.as_deref(), None);
                log(&format!(
                    "{} was not reloaded",
                    shared
                        .hba_path
                        .file_name()
                        .and_then(|f| f.to_str())
                        .unwrap_or("pg_hba.conf")
                ));
            }
        }
        match load_tls(&shared.datadir, &shared.config) {
            Ok(t) => *shared.tls.write() = t,
            Err(e) => elog::emit(Level::Log, &e.message, None, None),
        }
    }

    /// Requested shutdown mode (the strongest raised so far).
    fn requested(&self) -> Option<ShutdownMode> {
        let r = &self.requests;
        if r.immediate.load(Ordering::SeqCst) {
            Some(ShutdownMode::Immediate)
        } else if r.fast.load(Ordering::SeqCst) {
            Some(ShutdownMode::Fast)
        } else if r.smart.load(Ordering::SeqCst) {
            Some(ShutdownMode::Smart)
        } else {
            None
        }
    }

    /// Accepts the connections waiting on the listening sockets, after
    /// sleeping up to `timeout_ms` for one, or for a backend to leave or a
    /// walsender to enter `stopping` (the shutdown waits check at once).
    fn accept_ready(&self, timeout_ms: i32) {
        let latches = [
            self.shared.registry.left_latch(),
            self.shared.walsenders.shutdown_latch(),
            &*self.requests.wake,
        ];
        let mut fds: Vec<libc::pollfd> = self
            .listeners
            .tcp
            .iter()
            .map(|l| l.as_raw_fd())
            .chain(self.listeners.unix.iter().map(|(l, _)| l.as_raw_fd()))
            .chain(latches.iter().filter_map(|l| l.raw_fd()))
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        // reset before the caller looks at what changed: a later set is
        // seen by the next poll
        for l in latches {
            l.reset();
        }
        if n <= 0 {
            return;
        }
        let ntcp = self.listeners.tcp.len();
        let nlisten = ntcp + self.listeners.unix.len();
        for (i, fd) in fds.iter().enumerate().take(nlisten) {
            if fd.revents == 0 {
                continue;
            }
            if i < ntcp {
                self.accept_tcp(&self.listeners.tcp[i]);
            } else {
                self.accept_unix(&self.listeners.unix[i - ntcp].0);
            }
        }
    }

    fn accept_tcp(&self, l: &TcpListener) {
        while let Ok((s, addr)) = l.accept() {
            let _ = s.set_nonblocking(false);
            let _ = s.set_nodelay(true);
            let local = s.local_addr().ok();
            self.spawn(
                Stream::Tcp(s),
                Peer {
                    addr: Some(addr),
                    local,
                },
            );
        }
    }

    fn accept_unix(&self, l: &UnixListener) {
        while let Ok((s, _)) = l.accept() {
            let _ = UnixStream::set_nonblocking(&s, false);
            self.spawn(
                Stream::Unix(s),
                Peer {
                    addr: None,
                    local: None,
                },
            );
        }
    }

    fn spawn(&self, stream: Stream, peer: Peer) {
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("backend".into())
            .stack_size(16 * 1024 * 1024)
            .spawn(move || backend_startup::serve(shared, stream, peer));
        if let Err(e) = spawned {
            elog::emit(
                Level::Log,
                &format!("could not fork new process for connection: {e}"),
                None,
                None,
            );
        }
    }

    /// Serves until a shutdown request has been carried out.
    pub fn serve(self) -> PgResult<Exit> {
        let mut mode: Option<ShutdownMode> = None;
        loop {
            self.accept_ready(100);
            if self.requests.reload.swap(false, Ordering::SeqCst) {
                self.reload();
            }
            if self.requests.promote.swap(false, Ordering::SeqCst) {
                let file = self.shared.datadir.join("promote");
                if file.exists() {
                    let _ = std::fs::remove_file(&file);
                    self.shared.db.request_promote();
                }
            }
            if mode.is_none() {
                self.slotsync.maybe_start();
            }
            let wanted = self.requested();
            if wanted > mode {
                if let Some(w) = wanted {
                    self.begin_shutdown(w);
                }
                mode = wanted;
            }
            match mode {
                Some(ShutdownMode::Immediate) => return self.finish(false),
                Some(_) if self.sessions_left() == 0 => return self.finish(true),
                _ => {}
            }
        }
    }

    fn begin_shutdown(&self, mode: ShutdownMode) {
        self.shared.shutdown.store(mode as u8, Ordering::SeqCst);
        // apply workers are background workers: they end with any shutdown
        self.launcher.shutdown();
        self.slotsync.shutdown(false);
        match mode {
            ShutdownMode::Smart => log("received smart shutdown request"),
            ShutdownMode::Fast => {
                log("received fast shutdown request");
                log("aborting any active transactions");
                self.shared.walsenders.syncrep.shutdown();
                // walsenders stream on until the sessions are gone
                let walsenders = &self.shared.walsenders;
                self.shared
                    .registry
                    .terminate_where(|pid| !walsenders.contains(pid));
            }
            ShutdownMode::Immediate => {
                log("received immediate shutdown request");
                self.shared.walsenders.syncrep.shutdown();
                self.shared.registry.terminate_all();
            }
        }
    }

    /// Sessions still running, walsenders not counted (they end after them).
    fn sessions_left(&self) -> usize {
        let walsenders = self.shared.walsenders.count();
        self.shared.registry.len().saturating_sub(walsenders)
    }

    /// Serves the listening sockets (new connections are refused) until
    /// `done` holds; `false` if an immediate shutdown was requested first.
    fn wait_while_stopping(&self, done: impl Fn() -> bool, tick: impl Fn()) -> bool {
        loop {
            if done() {
                return true;
            }
            if self.requested() == Some(ShutdownMode::Immediate) {
                log("received immediate shutdown request");
                self.shared.walsenders.terminate_all();
                return false;
            }
            tick();
            self.accept_ready(100);
        }
    }

    fn finish(mut self, checkpoint: bool) -> PgResult<Exit> {
        self.pidfile.set_line(8, pidfile::STATUS_STOPPING);
        if let Some(s) = self.standby.take() {
            s.stop();
        }
        let mut result = Ok(());
        let mut checkpoint = checkpoint;
        if checkpoint {
            self.slotsync.shutdown(true);
            if let Some(w) = self.workers.take() {
                w.stop();
            }
            // Logical walsenders finish and end; physical ones wait in
            // `stopping` (WalSndInitStopping, WalSndWaitStopping).
            let walsenders = self.shared.walsenders.clone();
            walsenders.init_stopping();
            checkpoint = self
                .wait_while_stopping(|| walsenders.all_stopping(), || walsenders.init_stopping());
            // a logical walsender leaves the list before it lets its slot go
            // (its last confirmation may still move the slot): the final
            // slot state is taken once no logical slot is in use
            let slots = self.shared.slots.clone();
            checkpoint = checkpoint
                && self.wait_while_stopping(
                    || {
                        !slots
                            .list()
                            .iter()
                            .any(|s| s.data.database.is_some() && s.active_pid.is_some())
                    },
                    || {},
                );
        }
        // the last failover slot state, before the shutdown checkpoint
        self.pusher.stop();
        if checkpoint {
            log("shutting down");
            if let Err(e) = self.shared.db.checkpoint("shutdown") {
                elog::emit_error(&e);
                result = Err(e);
            }
            // Physical walsenders send the checkpoint record, wait for their
            // standby's confirmation and end.
            let walsenders = self.shared.walsenders.clone();
            walsenders.done();
            self.wait_while_stopping(|| walsenders.count() == 0, || {});
        } else {
            self.shared.walsenders.terminate_all();
        }
        // Threads still leaving (a terminated walsender writes its last message).
        self.shared.registry.wait_empty(Duration::from_secs(5));
        self.shared.walsenders.stop();
        if let Err(e) = self.shared.slots.save_dirty() {
            elog::emit_error(&e);
        }
        if checkpoint {
            // statistics survive a clean shutdown only (PostgreSQL's
            // pgstat_before_server_shutdown)
            let names = crate::slot::logical::logical_slot_names(&self.shared.slots);
            if let Err(e) = self.shared.slot_stats.save(&self.shared.datadir, &names) {
                elog::emit_error(&e);
            }
        }
        log("database system is shut down");
        result?;
        if checkpoint && self.requests.demote.load(Ordering::SeqCst) {
            // the restart takes postmaster.pid over (same PID): no moment
            // without it (`demote.rs`)
            self.pidfile.set_line(8, pidfile::STATUS_STARTING);
            let Postmaster { pidfile, .. } = self;
            pidfile.keep();
            return Ok(Exit::Demoted);
        }
        // Listeners (socket files, socket locks) and then postmaster.pid go away on drop.
        Ok(Exit::Stopped)
    }
}

/// A server running on its own thread inside this process (tests, tools).
pub struct ServerHandle {
    requests: Arc<Requests>,
    port: u16,
    thread: Option<std::thread::JoinHandle<PgResult<()>>>,
}

impl ServerHandle {
    /// Starts a server on `datadir` and returns once it accepts connections.
    /// No signal handlers are installed: use [`ServerHandle::shutdown`] and
    /// [`ServerHandle::reload`].
    pub fn start(datadir: &Path, overrides: Vec<(String, String)>) -> PgResult<ServerHandle> {
        let requests = Arc::new(Requests::default());
        let pm = Postmaster::start(datadir, &overrides, requests.clone())?;
        let port = pm.port;
        let (datadir, flags) = (datadir.to_path_buf(), requests.clone());
        let thread = std::thread::Builder::new()
            .name("postmaster".into())
            .spawn(move || {
                let mut pm = pm;
                // a demoted server starts again on this thread
                while pm.serve()? == Exit::Demoted {
                    for f in [&flags.demote, &flags.fast, &flags.smart] {
                        f.store(false, Ordering::SeqCst);
                    }
                    pm = Postmaster::start(&datadir, &overrides, flags.clone())?;
                }
                Ok(())
            })
            .map_err(|e| {
                PgError::fatal(
                    SqlState::INTERNAL_ERROR,
                    format!("could not start postmaster thread: {e}"),
                )
            })?;
        Ok(ServerHandle {
            requests,
            port,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What SIGHUP does.
    pub fn reload(&self) {
        self.requests.reload.store(true, Ordering::SeqCst);
        self.requests.wake.set();
    }

    /// What SIGTERM / SIGINT / SIGQUIT do; waits for the server to stop.
    pub fn shutdown(mut self, mode: ShutdownMode) -> PgResult<()> {
        self.request(mode);
        self.join()
    }

    fn request(&self, mode: ShutdownMode) {
        let flag = match mode {
            ShutdownMode::Smart => &self.requests.smart,
            ShutdownMode::Fast => &self.requests.fast,
            ShutdownMode::Immediate => &self.requests.immediate,
        };
        flag.store(true, Ordering::SeqCst);
        self.requests.wake.set();
    }

    fn join(&mut self) -> PgResult<()> {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(PgError::internal("postmaster thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.request(ShutdownMode::Fast);
            let _ = self.join();
        }
    }
}

/// `run`: installs the signal handlers, starts, serves until shutdown.
pub(crate) fn run(datadir: &Path, overrides: Vec<(String, String)>) -> PgResult<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
    let requests = Arc::new(Requests::default());
    let mut ids = Vec::new();
    for (sig, flag) in [
        (SIGHUP, &requests.reload),
        (SIGTERM, &requests.smart),
        (SIGINT, &requests.fast),
        (SIGQUIT, &requests.immediate),
        (SIGUSR1, &requests.promote),
    ] {
        match signal_hook::flag::register(sig, flag.clone()) {
            Ok(id) => ids.push(id),
            Err(e) => {
                return Err(fatal_startup(PgError::fatal(
                    SqlState::INTERNAL_ERROR,
                    format!("could not install signal handler: {e}"),
                )))
            }
        }
    }
    let result = Postmaster::start(datadir, &overrides, requests).and_then(|pm| pm.serve());
    for id in ids {
        signal_hook::low_level::unregister(id);
    }
    match result? {
        Exit::Stopped => Ok(()),
        // the same command line again, as a standby (`demote.rs`)
        Exit::Demoted => Err(fatal_startup(crate::demote::reexec())),
    }
}
