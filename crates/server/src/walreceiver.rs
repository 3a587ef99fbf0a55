//! The walreceiver: a standby's connection to its primary, writing the WAL it
//! receives (the startup thread, `startup.rs`, replays it).
//! PostgreSQL counterpart: `replication/walreceiver.c`.
//!
//! - The walreceiver connects to `primary_conninfo` (re-read at every attempt; a
//!   reload that changes it or `primary_slot_name` ends the current connection
//!   and reconnects at once, as PostgreSQL restarts its walreceiver), checks
//!   IDENTIFY_SYSTEM (same system identifier; the primary's timeline not behind
//!   ours), runs
//!   `START_REPLICATION [SLOT primary_slot_name] PHYSICAL <local WAL end> TIMELINE n`,
//!   stores each XLogData byte-identically with `Wal::append_raw`, has each
//!   batch of what was readable flushed by its flusher thread (the walreceiver
//!   reads and replies on meanwhile: an fdatasync never holds back a report),
//!   and answers with a standby status update `r` (write / flush / apply) when
//!   a flush completed, when replay has advanced past the last reported apply
//!   position (the flusher and the startup thread set the walreceiver's
//!   [`Latch`] after flushing / replaying, so the reply goes out at once:
//!   `replay_lag` and `remote_apply` commits wait neither for more WAL nor for
//!   the next flush), when asked by a keepalive and every
//!   `wal_receiver_status_interval`;
//!   with `hot_standby_feedback` it also sends `h`. Between batches it sleeps
//!   in `poll` on the socket and the latch, never on a read timeout. A broken connection, an error
//!   or `wal_receiver_timeout` of silence ends the attempt; the next comes after
//!   `wal_retrieve_retry_interval`.
//! - Timeline following (a primary on a newer timeline, e.g. a promoted
//!   standby): the missing history files are fetched with TIMELINE_HISTORY and
//!   stored; while our timeline is an ancestor of the primary's, we ask for our
//!   own timeline, the primary streams it up to the switch point and ends the
//!   copy with the next-timeline result set (`replication terminated by primary
//!   server`); once the local WAL ends exactly at the switch point it moves to
//!   the next timeline (`Wal::follow_timeline`: `new target timeline is N`) and
//!   streaming restarts on it over the same connection. A local WAL past the
//!   switch point cannot follow (PostgreSQL's "forked off" error, retried).
//!   When the primary itself moves to a newer timeline while we stream (it
//!   was promoted), the end of the old timeline announces one we have no
//!   history for: its history files are fetched then and streaming goes on
//!   on the new timeline over the same connection, without waiting for
//!   `wal_retrieve_retry_interval` (PostgreSQL's walreceiver fetches them at
//!   the end of streaming and restarts on the new timeline).
//! - A multi-host `primary_conninfo` (`host=a,b`): the hosts are tried in
//!   order and one that fails the checks above (a timeline behind ours, a
//!   history without our timeline or that left it before the end of our WAL:
//!   a stale old primary back on its old timeline) is skipped with a LOG line
//!   naming host and reason, as is one that refuses the connection.
//!
//! The thread stops when its stop flag is set (promotion or server shutdown;
//! the latch is set with it, so a streaming walreceiver stops at once).
//!
//! This file is the socket shell: what is checked, followed and sent when is
//! decided in `tandem_replication::walreceiver`. A connection is
//! `stream_once`: connect, `identify_primary`, then per timeline
//! `follow_switch_points`, `start_streaming` and the COPY loop `stream_copy`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use tandem_client::{parse_conninfo, with_application_name, ConnInfo, ReplClient};
use tandem_config::Config;
use tandem_protocol::replication::{
    decode_primary_message, encode_standby_message, PrimaryMessage, StandbyMessage,
};
use tandem_protocol::BackendMessage;
use tandem_replication::walreceiver::{self as walrcv, Follow, Identity, Timers};
use tandem_storage::Database;
use tandem_types::elog::{self, log, Level};
use tandem_types::{Lsn, PgError, PgResult, PgTimestamp, TimeLineId};
use tandem_wal::{Timelines, Wal};

use crate::latch::{socket_readable, Latch};

/// What `pg_stat_wal_receiver` shows (PostgreSQL's `WalRcvData`), shared
/// between the walreceiver thread and the SQL hooks.
#[derive(Clone, Debug, Default)]
pub(crate) struct WalRcvInfo {
    /// `streaming` while connected, `waiting` between attempts; `None`: no
    /// walreceiver (not a standby, or promoted) and the view has no row.
    pub status: Option<&'static str>,
    pub receive_start_lsn: Lsn,
    pub receive_start_tli: u32,
    pub received_tli: u32,
    /// microseconds since 2000-01-01 UTC
    pub last_msg_send_time: Option<i64>,
    pub last_msg_receipt_time: Option<i64>,
    pub latest_end_lsn: Lsn,
    pub latest_end_time: Option<i64>,
    pub slot_name: String,
    pub sender_host: Option<String>,
    pub sender_port: Option<i32>,
    /// `primary_conninfo` with any password masked.
    pub conninfo: String,
}

pub(crate) type WalRcvShared = Arc<Mutex<WalRcvInfo>>;

/// The walreceiver as `pg_stat_wal_receiver` shows it (`None`: no walreceiver).
pub(crate) fn stat_row(info: &WalRcvShared, db: &Database) -> Option<tandem_expr::WalReceiverRow> {
    let i = info.lock().clone();
    let status = i.status?;
    let wal = db.wal();
    Some(tandem_expr::WalReceiverRow {
        pid: std::process::id() as i32,
        status,
        receive_start_lsn: i.receive_start_lsn,
        receive_start_tli: TimeLineId(i.receive_start_tli),
        written_lsn: wal.write_lsn(),
        flushed_lsn: wal.flush_lsn(),
        received_tli: TimeLineId(i.received_tli),
        last_msg_send_time: i.last_msg_send_time,
        last_msg_receipt_time: i.last_msg_receipt_time,
        latest_end_lsn: i.latest_end_lsn,
        latest_end_time: i.latest_end_time,
        slot_name: Some(i.slot_name).filter(|s| !s.is_empty()),
        sender_host: i.sender_host,
        sender_port: i.sender_port,
        conninfo: i.conninfo,
    })
}

/// `primary_conninfo` as PostgreSQL shows it: passwords replaced.
fn masked_conninfo(conninfo: &str) -> String {
    parse_conninfo(conninfo)
        .map(|c| c.masked())
        .unwrap_or_default()
}

/// The walreceiver thread's body: connect, stream, retry, until `stop` is set
/// (promotion or shutdown).
pub(crate) fn run(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    latch: &Latch,
    info: &WalRcvShared,
) {
    while !stop.load(Ordering::Acquire) {
        let conninfo = config.get_str("primary_conninfo");
        if !conninfo.is_empty() {
            let attempt = stream_once(db, config, stop, latch, &conninfo, info);
            info.lock().status = None;
            match attempt {
                // primary_conninfo / primary_slot_name changed: reconnect at once
                Ok(Attempt::Reconnect) => continue,
                Ok(Attempt::Done) => {}
                Err(e) => elog::emit(Level::Log, &e.message, e.detail.as_deref(), None),
            }
        }
        // (a reload that changes primary_conninfo ends the wait: PostgreSQL
        // restarts its walreceiver for a new primary_conninfo)
        let retry = config
            .get_ms("wal_retrieve_retry_interval")
            .unwrap_or(5000)
            .max(1);
        let until = Instant::now() + Duration::from_millis(retry);
        while Instant::now() < until
            && !stop.load(Ordering::Acquire)
            && config.get_str("primary_conninfo") == conninfo
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn status(db: &Database, reply_requested: bool) -> Vec<u8> {
    let wal = db.wal();
    encode_standby_message(&StandbyMessage::Status {
        write: wal.write_lsn(),
        flush: wal.flush_lsn(),
        apply: db.replay_lsn(),
        send_time: PgTimestamp::now().as_micros(),
        reply_requested,
    })
}

fn feedback(db: &Database) -> Vec<u8> {
    let next = db.control().next_xid.0;
    encode_standby_message(&StandbyMessage::HotStandbyFeedback {
        send_time: PgTimestamp::now().as_micros(),
        xmin: next,
        xmin_epoch: 0,
        catalog_xmin: next,
        catalog_xmin_epoch: 0,
    })
}

/// How a connection attempt ended without an error.
enum Attempt {
    /// Stopped, or the primary ended streaming: retry after the retry interval.
    Done,
    /// The connection settings changed (reload): connect again at once.
    Reconnect,
}

/// How one START_REPLICATION ended.
enum Streamed {
    Stopped,
    Reconnect,
    /// The primary ended the copy (the end of a historic timeline).
    EndOfStream,
}

/// IDENTIFY_SYSTEM: the primary's system identifier and timeline.
fn identify_system(client: &mut ReplClient) -> PgResult<Identity> {
    let rows = client.query("IDENTIFY_SYSTEM")?;
    let row = rows
        .first()
        .filter(|r| r.len() >= 3)
        .ok_or_else(|| walrcv::error("invalid response from primary server"))?;
    let sysid = row[0].clone().unwrap_or_default();
    let tli = row[1]
        .as_deref()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| walrcv::error("invalid response from primary server"))?;
    Ok(Identity {
        system_identifier: sysid,
        timeline: TimeLineId(tli),
    })
}

/// Fetches the history files of timelines `(ours, primary]` that are missing
/// locally (`WalRcvFetchTimeLineHistoryFiles`).
fn fetch_history_files(
    client: &mut ReplClient,
    wal: &Wal,
    ours: TimeLineId,
    primary: TimeLineId,
) -> PgResult<()> {
    for tli in walrcv::history_to_fetch(ours, primary) {
        if wal.has_history_file(tli) {
            continue;
        }
        log(&format!(
            "fetching timeline history file for timeline {} from primary server",
            tli.0
        ));
        let rows = client.query(&format!("TIMELINE_HISTORY {}", tli.0))?;
        let content = rows
            .first()
            .and_then(|r| r.get(1).cloned().flatten())
            .ok_or_else(|| walrcv::error("invalid response from primary server"))?;
        wal.store_history_file(tli, content.as_bytes())?;
    }
    Ok(())
}

/// Checks the primary (IDENTIFY_SYSTEM) and returns its timeline history,
/// which must contain our timeline and the local WAL's end; the history files
/// it has and we lack are stored only once it passed.
fn identify_primary(client: &mut ReplClient, db: &Database, wal: &Wal) -> PgResult<Timelines> {
    let primary = identify_system(client)?;
    let ours = Identity {
        system_identifier: db.control().system_identifier.to_string(),
        timeline: wal.timeline(),
    };
    walrcv::check_primary(&ours, &primary)?;
    let target = peek_history(client, wal, primary.timeline)?;
    walrcv::check_history(&target, ours.timeline)?;
    // a local WAL past our timeline's switch point there: "forked off"
    walrcv::follow(&target, ours.timeline, wal.insert_lsn())?;
    fetch_history_files(client, wal, ours.timeline, primary.timeline)?;
    Ok(target)
}

/// The primary's timeline history (`tli` and its ancestors): the local
/// history file if there is one, else its TIMELINE_HISTORY, not stored yet.
fn peek_history(client: &mut ReplClient, wal: &Wal, tli: TimeLineId) -> PgResult<Timelines> {
    if tli.0 == 1 || wal.has_history_file(tli) {
        return wal.read_history(tli);
    }
    let rows = client.query(&format!("TIMELINE_HISTORY {}", tli.0))?;
    let content = rows
        .first()
        .and_then(|r| r.get(1).cloned().flatten())
        .ok_or_else(|| walrcv::error("invalid response from primary server"))?;
    Ok(Timelines {
        current: tli,
        ancestors: tandem_wal::parse_history(&content)?,
    })
}

/// Connects to `primary_conninfo` and checks the primary
/// ([`identify_primary`]). With several hosts, each is tried in the order
/// listed, and one that fails the check (a timeline behind ours, a history
/// without our timeline or our WAL's end: an old primary back on its old
/// timeline) is skipped with a LOG line, as one that refuses the connection;
/// the first that passes is used. Returns the connection string of the host
/// used.
fn connect_primary(
    db: &Database,
    wal: &Wal,
    conninfo: &str,
) -> PgResult<(ReplClient, Timelines, String)> {
    let connect = |conninfo: &str| -> PgResult<(ReplClient, Timelines)> {
        let mut client = ReplClient::connect(conninfo).map_err(|e| PgError {
            message: format!("could not connect to the primary server: {}", e.message),
            ..e
        })?;
        match identify_primary(&mut client, db, wal) {
            Ok(target) => Ok((client, target)),
            Err(e) => {
                client.close();
                Err(e)
            }
        }
    };
    let hosts = ConnInfo::parse(conninfo)
        .ok()
        .and_then(|info| Some((info.targets().ok()?, info)))
        .filter(|(targets, _)| targets.len() > 1);
    let Some((targets, info)) = hosts else {
        return connect(conninfo).map(|(c, t)| (c, t, conninfo.to_string()));
    };
    let mut last = None;
    for t in &targets {
        let one = info.for_target(t);
        match connect(&one) {
            Ok((client, target)) => return Ok((client, target, one)),
            Err(e) => {
                log(&format!(
                    "walreceiver skips {}: {}",
                    crate::subscription::follow::shown(t),
                    e.message.replace('\n', " ")
                ));
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| walrcv::error("no host in primary_conninfo")))
}

/// At the end of a timeline the primary announced `next`: when it is newer
/// than the history known so far (the primary was promoted while we streamed
/// from it), fetches and stores the missing history files and returns the
/// new history, so streaming goes on on the next timeline over the same
/// connection (PostgreSQL's walreceiver fetches the history files at the end
/// of streaming and waits for the startup process to pick the new timeline).
fn learn_next_timeline(
    client: &mut ReplClient,
    wal: &Wal,
    target: Timelines,
    next: Option<TimeLineId>,
) -> PgResult<Timelines> {
    match next {
        Some(n) if n > target.current => {
            let newer = peek_history(client, wal, n)?;
            walrcv::check_history(&newer, wal.timeline())?;
            fetch_history_files(client, wal, wal.timeline(), n)?;
            Ok(newer)
        }
        _ => Ok(target),
    }
}

/// Moves the local WAL onto the next timeline(s) of `target` for every switch
/// point it has reached (PostgreSQL's startup process picks the new recovery
/// target timeline, `rescanLatestTimeLine`).
fn follow_switch_points(wal: &Wal, target: &Timelines) -> PgResult<()> {
    while let Follow::Switch { next, at } =
        walrcv::follow(target, wal.timeline(), wal.insert_lsn())?
    {
        wal.follow_timeline(next, at)?;
        log(&format!("new target timeline is {}", next.0));
    }
    Ok(())
}

/// Sends START_REPLICATION for timeline `tli` from `start`: `true` when the
/// primary starts streaming (CopyBoth), `false` when the timeline is a historic
/// one with nothing left to send (the next-timeline result set follows).
fn start_streaming(
    client: &mut ReplClient,
    slot: &str,
    start: Lsn,
    tli: TimeLineId,
) -> PgResult<bool> {
    let cmd = if slot.is_empty() {
        format!("START_REPLICATION PHYSICAL {start} TIMELINE {}", tli.0)
    } else {
        format!(
            "START_REPLICATION SLOT \"{slot}\" PHYSICAL {start} TIMELINE {}",
            tli.0
        )
    };
    client.set_read_timeout(Some(Duration::from_secs(30)));
    client.send_query(&cmd)?;
    let copy = loop {
        match client.read_message()? {
            BackendMessage::CopyBothResponse { .. } => break true,
            // a historic timeline with nothing left: the next-timeline row
            BackendMessage::RowDescription(_) => break false,
            BackendMessage::ErrorResponse(e) => return Err(e.to_pg_error()),
            _ => {}
        }
    };
    client.set_read_timeout(Some(Duration::from_millis(100)));
    Ok(copy)
}

/// After START_REPLICATION ended without (more) COPY: reads up to ReadyForQuery;
/// returns the next timeline's result set if there is one.
fn read_end_of_streaming(
    client: &mut ReplClient,
    stop: &AtomicBool,
) -> PgResult<Option<(TimeLineId, Lsn)>> {
    let mut next = None;
    let mut err = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if stop.load(Ordering::Acquire) || Instant::now() > deadline {
            return Ok(None);
        }
        let Some(msg) = client.try_read_message()? else {
            continue;
        };
        match msg {
            BackendMessage::DataRow(cols) => {
                let text = |i: usize| {
                    cols.get(i)
                        .cloned()
                        .flatten()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                };
                let tli = text(0).and_then(|t| t.parse::<u32>().ok());
                let pos = text(1).and_then(|p| p.parse::<Lsn>().ok());
                if let (Some(t), Some(p)) = (tli, pos) {
                    next = Some((TimeLineId(t), p));
                }
            }
            BackendMessage::ErrorResponse(e) => err = Some(e.to_pg_error()),
            BackendMessage::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(next),
    }
}

/// One connection: identifies the primary, follows its timeline history, and
/// streams (again after each end of a historic timeline) until an error, the
/// primary ends streaming, a settings change, or stop.
fn stream_once(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    latch: &Latch,
    conninfo_setting: &str,
    info: &WalRcvShared,
) -> PgResult<Attempt> {
    // application_name defaults to cluster_name, else "walreceiver"
    let name = config.get_str("cluster_name");
    let name = if name.is_empty() {
        "walreceiver"
    } else {
        &name
    };
    let conninfo = with_application_name(conninfo_setting, name);
    let slot = config.get_str("primary_slot_name");
    let wal = db.wal().clone();
    let (mut client, mut target, conninfo) = connect_primary(db, &wal, &conninfo)?;
    let settings_now = || {
        (
            config.get_str("primary_conninfo"),
            config.get_str("primary_slot_name"),
        )
    };
    let used = (conninfo_setting.to_string(), slot.clone());
    let changed = || settings_now() != used;
    let mut first = true;
    loop {
        follow_switch_points(&wal, &target)?;
        let tli = wal.timeline();
        let start = wal.insert_lsn();
        if start_streaming(&mut client, &slot, start, tli)? {
            if first {
                log(&format!(
                    "started streaming WAL from primary at {start} on timeline {}",
                    tli.0
                ));
            } else {
                log(&format!(
                    "restarted WAL streaming at {start} on timeline {}",
                    tli.0
                ));
            }
            first = false;
            *info.lock() = streaming_info(&conninfo, &slot, start, tli);
            match stream_copy(db, config, stop, latch, &mut client, &changed, info)? {
                Streamed::Stopped => {
                    let _ = client.send_copy_done();
                    client.close();
                    return Ok(Attempt::Done);
                }
                Streamed::Reconnect => {
                    let _ = client.send_copy_done();
                    client.close();
                    return Ok(Attempt::Reconnect);
                }
                Streamed::EndOfStream => {
                    elog::emit(
                        Level::Log,
                        "replication terminated by primary server",
                        Some(&format!(
                            "End of WAL reached on timeline {} at {}.",
                            tli.0,
                            wal.write_lsn()
                        )),
                        None,
                    );
                }
            }
        } else {
            log(&format!(
                "primary server contains no more WAL on requested timeline {}",
                tli.0
            ));
        }
        // the primary moved on to a newer timeline: switch and stream it, once
        // all of the old timeline arrived; otherwise start over
        let next = read_end_of_streaming(&mut client, stop)?.map(|(t, _)| t);
        target = learn_next_timeline(&mut client, &wal, target, next)?;
        if !walrcv::stream_next_timeline(&target, tli, next, wal.insert_lsn()) {
            client.close();
            return Ok(Attempt::Done);
        }
    }
}

/// The `pg_stat_wal_receiver` state of a connection that started streaming.
fn streaming_info(conninfo: &str, slot: &str, start: Lsn, tli: TimeLineId) -> WalRcvInfo {
    let opts = parse_conninfo(conninfo).unwrap_or_default();
    WalRcvInfo {
        status: Some("streaming"),
        receive_start_lsn: start,
        receive_start_tli: tli.0,
        received_tli: tli.0,
        slot_name: slot.to_string(),
        sender_host: opts.get("host").map(str::to_string),
        sender_port: opts.get("port").and_then(|p| p.parse().ok()).or(Some(5432)),
        conninfo: masked_conninfo(conninfo),
        ..WalRcvInfo::default()
    }
}

/// Message times and the primary's WAL end for `pg_stat_wal_receiver`.
fn note_message(info: &WalRcvShared, wal_end: Lsn, send_time: i64) {
    let now = PgTimestamp::now().as_micros();
    let mut i = info.lock();
    i.last_msg_send_time = Some(send_time);
    i.last_msg_receipt_time = Some(now);
    if wal_end != i.latest_end_lsn {
        i.latest_end_lsn = wal_end;
        i.latest_end_time = Some(send_time);
    }
}

/// The longest the COPY loop sleeps without a timer due: it looks at the
/// settings (a reload that changes `primary_conninfo`) at least this often.
const SETTINGS_CHECK: Duration = Duration::from_millis(100);

/// The walreceiver's WAL flusher: a thread of the COPY phase that makes the
/// received WAL durable while the walreceiver goes on reading, so a status
/// update never waits for an fdatasync (a slow disk delays only the flush
/// position, not the report of replay progress made meanwhile). The
/// walreceiver asks for a flush up to a position; the flusher flushes (one
/// fdatasync covers every request made during the previous one) and sets the
/// walreceiver's latch, which then reports the new flush position.
struct Flusher {
    state: Mutex<FlushState>,
    wake: parking_lot::Condvar,
}

#[derive(Default)]
struct FlushState {
    /// The walreceiver asked for a flush up to here.
    requested: Lsn,
    /// The COPY phase ended: the flusher returns.
    stop: bool,
    /// A flush failed (the WAL is poisoned): the walreceiver reports it.
    failed: Option<PgError>,
}

impl Flusher {
    fn new() -> Flusher {
        Flusher {
            state: Mutex::new(FlushState::default()),
            wake: parking_lot::Condvar::new(),
        }
    }

    /// Asks for WAL up to `upto` to be flushed (at once, or right after the
    /// flush in progress).
    fn request(&self, upto: Lsn) {
        let mut st = self.state.lock();
        if upto > st.requested {
            st.requested = upto;
            self.wake.notify_one();
        }
    }

    /// The error of a failed flush, if one failed.
    fn failed(&self) -> Option<PgError> {
        self.state.lock().failed.clone()
    }

    fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_one();
    }

    /// The flusher thread's body: flushes what is requested until stopped,
    /// setting `latch` after each flush (and after a failure).
    fn run(&self, wal: &Wal, latch: &Latch) {
        loop {
            let upto = {
                let mut st = self.state.lock();
                while !st.stop && st.requested <= wal.flush_lsn() {
                    self.wake.wait(&mut st);
                }
                if st.stop {
                    return;
                }
                st.requested
            };
            if let Err(e) = wal.flush(upto) {
                self.state.lock().failed = Some(e);
                latch.set();
                return;
            }
            latch.set();
        }
    }
}

/// The COPY phase of one START_REPLICATION: stores XLogData, has it flushed,
/// replies.
///
/// Each turn sleeps until the primary sent something, the latch is set (the
/// flusher made more WAL durable, the startup thread replayed more, or a stop
/// request) or a timer is due; then reads everything already readable (up to
/// [`walrcv::MAX_UNFLUSHED`]) and hands it to the [`Flusher`], and replies at
/// once when the flush or apply position moved past what was last reported,
/// when asked, or when the status interval passed (`XLogWalRcvProcessMsg`,
/// `XLogWalRcvFlush`, `XLogWalRcvSendReply`; PostgreSQL flushes on the
/// walreceiver itself, so its replies wait for each fdatasync).
fn stream_copy(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    latch: &Latch,
    client: &mut ReplClient,
    settings_changed: &dyn Fn() -> bool,
    info: &WalRcvShared,
) -> PgResult<Streamed> {
    let wal = db.wal().clone();
    let flusher = Flusher::new();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("walrcv flush".into())
            .spawn_scoped(scope, || flusher.run(&wal, latch));
        if let Err(e) = spawned {
            return Err(PgError::internal(format!(
                "could not start the WAL flusher: {e}"
            )));
        }
        let r = receive(
            db,
            config,
            stop,
            latch,
            client,
            settings_changed,
            info,
            &flusher,
        );
        flusher.stop();
        // everything received is durable when the walreceiver ends (a
        // promotion replays what was received)
        let flushed = wal.flush(wal.insert_lsn());
        r.and_then(|streamed| flushed.map(|()| streamed))
    })
}

/// The loop of [`stream_copy`], with its flusher running.
#[allow(clippy::too_many_arguments)]
fn receive(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    latch: &Latch,
    client: &mut ReplClient,
    settings_changed: &dyn Fn() -> bool,
    info: &WalRcvShared,
    flusher: &Flusher,
) -> PgResult<Streamed> {
    let wal = db.wal().clone();
    let epoch = Instant::now();
    let now = || i64::try_from(epoch.elapsed().as_micros()).unwrap_or(i64::MAX);
    let mut timers = Timers::new(now(), db.replay_lsn());
    let mut reported_flush = wal.flush_lsn();
    let socket = client.socket_fd();
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(Streamed::Stopped);
        }
        if settings_changed() {
            return Ok(Streamed::Reconnect);
        }
        if let Some(e) = flusher.failed() {
            return Err(e);
        }
        // (units: a bare number is seconds / milliseconds, as in PostgreSQL)
        timers.set_intervals(
            config
                .get_ms("wal_receiver_status_interval")
                .unwrap_or(10_000),
            config.get_ms("wal_receiver_timeout").unwrap_or(60_000),
        );
        let hsf = config.get_bool("hot_standby_feedback");
        if !client.input_buffered() {
            let sleep = Duration::from_micros(timers.sleep_us(now()).max(0) as u64);
            let woken = latch.wait_or_socket(socket, sleep.min(SETTINGS_CHECK));
            if woken.latch {
                // before the flush and replay positions are read below, so
                // no progress is missed
                latch.reset();
            }
        }
        let mut received = false;
        let mut requested = false;
        // Take everything readable now, without waiting, then flush and reply
        // at once: a primary waiting for this standby (synchronous
        // replication) must not wait for more.
        while client.input_buffered() || socket_readable(socket) {
            let Some(msg) = client.try_read_message()? else {
                break;
            };
            timers.heard_from_primary(now());
            match msg {
                BackendMessage::CopyData(payload) => match decode_primary_message(&payload)? {
                    PrimaryMessage::XLogData {
                        start,
                        wal_end,
                        send_time,
                        data,
                    } => {
                        note_message(info, wal_end, send_time);
                        if !data.is_empty() {
                            wal.append_raw(start, &data)?;
                            received = true;
                        }
                    }
                    PrimaryMessage::Keepalive {
                        wal_end,
                        send_time,
                        reply_requested,
                    } => {
                        note_message(info, wal_end, send_time);
                        requested |= reply_requested
                    }
                },
                BackendMessage::CopyDone => {
                    wal.flush(wal.insert_lsn())?;
                    client.send_copy_data(&status(db, false))?;
                    client.send_copy_done()?;
                    return Ok(Streamed::EndOfStream);
                }
                BackendMessage::ErrorResponse(e) => return Err(e.to_pg_error()),
                _ => {}
            }
            if received && walrcv::batch_full(wal.insert_lsn(), wal.flush_lsn()) {
                break;
            }
        }
        if received {
            if walrcv::batch_full(wal.insert_lsn(), wal.flush_lsn()) {
                // a full batch: wait for it to be durable before reading on
                wal.flush(wal.insert_lsn())?;
            } else {
                // (the flush wakes the startup thread: it waits on the WAL's
                // flush condition)
                flusher.request(wal.insert_lsn());
            }
        }
        let flushed = wal.flush_lsn();
        let applied = db.replay_lsn();
        if timers.reply_due(now(), flushed > reported_flush, requested, applied) {
            client.send_copy_data(&status(db, false))?;
            if hsf {
                client.send_copy_data(&feedback(db))?;
            }
            timers.replied(now(), applied);
            reported_flush = flushed;
        }
        if timers.timed_out(now()) {
            return Err(PgError::new(
                tandem_types::SqlState("08006"),
                "terminating walreceiver due to timeout",
            ));
        }
    }
}
