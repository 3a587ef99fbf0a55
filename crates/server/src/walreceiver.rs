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
//!   stores each XLogData byte-identically with `Wal::append_raw`, flushes, and
//!   answers with a standby status update `r` (write / flush / apply) after each
//!   flush, when replay has advanced past the last reported apply position
//!   (checked every 100 ms read timeout; this releases `remote_apply` commits),
//!   when asked by a keepalive and every `wal_receiver_status_interval`;
//!   with `hot_standby_feedback` it also sends `h`. A broken connection, an error
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
//!
//! The thread stops when its stop flag is set (promotion or server shutdown).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use tandem_config::Config;
use tandem_protocol::replication::{
    decode_primary_message, encode_standby_message, PrimaryMessage, StandbyMessage,
};
use tandem_protocol::BackendMessage;
use tandem_storage::Database;
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, TimeLineId};
use tandem_wal::{Timelines, Wal};

use crate::procarray::now_pg_micros;
use crate::replclient::{quote_conninfo_value, ReplClient};

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
    match crate::replclient::parse_conninfo(conninfo) {
        Ok(opts) => {
            let mut keys: Vec<_> = opts.into_iter().collect();
            keys.sort();
            keys.into_iter()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "********".to_string()
                    } else {
                        v
                    };
                    if v.is_empty() || v.contains([' ', '\'', '\\']) {
                        format!("{k}={}", quote_conninfo_value(&v))
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        Err(_) => String::new(),
    }
}

fn log(msg: &str) {
    elog::emit(Level::Log, msg, None, None);
}

/// The walreceiver thread's body: connect, stream, retry, until `stop` is set
/// (promotion or shutdown).
pub(crate) fn run(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    info: &WalRcvShared,
) {
    while !stop.load(Ordering::Acquire) {
        let conninfo = config.get_str("primary_conninfo");
        if !conninfo.is_empty() {
            let attempt = stream_once(db, config, stop, &conninfo, info);
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
        send_time: now_pg_micros(),
        reply_requested,
    })
}

fn feedback(db: &Database) -> Vec<u8> {
    let next = db.control().next_xid.0;
    encode_standby_message(&StandbyMessage::HotStandbyFeedback {
        send_time: now_pg_micros(),
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

/// `XX000` error text of the walreceiver.
fn rcv_error(msg: String) -> PgError {
    PgError::new(tandem_types::SqlState::INTERNAL_ERROR, msg)
}

/// IDENTIFY_SYSTEM: the primary's system identifier and timeline.
fn identify_system(client: &mut ReplClient) -> PgResult<(String, TimeLineId)> {
    let rows = client.query("IDENTIFY_SYSTEM")?;
    let row = rows
        .first()
        .filter(|r| r.len() >= 3)
        .ok_or_else(|| rcv_error("invalid response from primary server".into()))?;
    let sysid = row[0].clone().unwrap_or_default();
    let tli = row[1]
        .as_deref()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| rcv_error("invalid response from primary server".into()))?;
    Ok((sysid, TimeLineId(tli)))
}

/// Fetches the history files of timelines `(ours, primary]` that are missing
/// locally (`WalRcvFetchTimeLineHistoryFiles`).
fn fetch_history_files(
    client: &mut ReplClient,
    wal: &Wal,
    ours: TimeLineId,
    primary: TimeLineId,
) -> PgResult<()> {
    for t in (ours.0 + 1)..=primary.0 {
        let tli = TimeLineId(t);
        if t == 1 || wal.has_history_file(tli) {
            continue;
        }
        log(&format!(
            "fetching timeline history file for timeline {t} from primary server"
        ));
        let rows = client.query(&format!("TIMELINE_HISTORY {t}"))?;
        let content = rows
            .first()
            .and_then(|r| r.get(1).cloned().flatten())
            .ok_or_else(|| rcv_error("invalid response from primary server".into()))?;
        wal.store_history_file(tli, content.as_bytes())?;
    }
    Ok(())
}

/// Moves the local WAL onto the next timeline(s) of `target` for every switch
/// point it has reached (PostgreSQL's startup process picks the new recovery
/// target timeline, `rescanLatestTimeLine`).
fn follow_switch_points(wal: &Wal, target: &Timelines) -> PgResult<()> {
    loop {
        let tli = wal.timeline();
        let Some((switch, next)) = target.switch_point(tli) else {
            return Ok(());
        };
        let end = wal.insert_lsn();
        if end < switch {
            return Ok(());
        }
        if end > switch {
            return Err(rcv_error(format!(
                "new timeline {} forked off current database system timeline {} before current recovery point {end}",
                next.0, tli.0
            )));
        }
        wal.follow_timeline(next, switch)?;
        log(&format!("new target timeline is {}", next.0));
    }
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
    conninfo_setting: &str,
    info: &WalRcvShared,
) -> PgResult<Attempt> {
    let conninfo = if conninfo_setting.contains("application_name") {
        conninfo_setting.to_string()
    } else {
        let name = config.get_str("cluster_name");
        let name = if name.is_empty() {
            "walreceiver".to_string()
        } else {
            name
        };
        format!(
            "{conninfo_setting} application_name={}",
            quote_conninfo_value(&name)
        )
    };
    let mut client = ReplClient::connect(&conninfo).map_err(|e| PgError {
        message: format!("could not connect to the primary server: {}", e.message),
        ..e
    })?;
    let slot = config.get_str("primary_slot_name");
    let wal = db.wal().clone();
    let (sysid, primary_tli) = identify_system(&mut client)?;
    let ours = db.control().system_identifier.to_string();
    if sysid != ours {
        return Err(rcv_error(
            "database system identifier differs between the primary and standby".into(),
        )
        .with_detail(format!(
            "The primary's identifier is {sysid}, the standby's identifier is {ours}."
        )));
    }
    let tli = wal.timeline();
    if primary_tli < tli {
        return Err(rcv_error(format!(
            "highest timeline {} of the primary is behind recovery timeline {}",
            primary_tli.0, tli.0
        )));
    }
    fetch_history_files(&mut client, &wal, tli, primary_tli)?;
    let target = wal.read_history(primary_tli)?;
    if !target.contains(tli) {
        return Err(rcv_error(format!(
            "new timeline {} is not a child of database system timeline {}",
            primary_tli.0, tli.0
        )));
    }
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
        if copy {
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
            {
                let opts = crate::replclient::parse_conninfo(&conninfo).unwrap_or_default();
                let mut i = info.lock();
                *i = WalRcvInfo {
                    status: Some("streaming"),
                    receive_start_lsn: start,
                    receive_start_tli: tli.0,
                    received_tli: tli.0,
                    slot_name: slot.clone(),
                    sender_host: opts.get("host").cloned(),
                    sender_port: opts.get("port").and_then(|p| p.parse().ok()).or(Some(5432)),
                    conninfo: masked_conninfo(&conninfo),
                    ..WalRcvInfo::default()
                };
            }
            match stream_copy(db, config, stop, &mut client, &changed, info)? {
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
        match read_end_of_streaming(&mut client, stop)? {
            // the primary moved on to a newer timeline: switch and stream it
            Some((next, _)) if next.0 > tli.0 && target.contains(next) => {}
            _ => {
                client.close();
                return Ok(Attempt::Done);
            }
        }
        if wal.insert_lsn()
            < target
                .switch_point(tli)
                .map(|(s, _)| s)
                .unwrap_or(Lsn::INVALID)
        {
            // not all of the old timeline arrived: start over
            client.close();
            return Ok(Attempt::Done);
        }
    }
}

/// Message times and the primary's WAL end for `pg_stat_wal_receiver`.
fn note_message(info: &WalRcvShared, wal_end: Lsn, send_time: i64) {
    let now = now_pg_micros();
    let mut i = info.lock();
    i.last_msg_send_time = Some(send_time);
    i.last_msg_receipt_time = Some(now);
    if wal_end != i.latest_end_lsn {
        i.latest_end_lsn = wal_end;
        i.latest_end_time = Some(send_time);
    }
}

/// The COPY phase of one START_REPLICATION: stores XLogData, flushes, replies.
fn stream_copy(
    db: &Arc<Database>,
    config: &Arc<Config>,
    stop: &AtomicBool,
    client: &mut ReplClient,
    settings_changed: &dyn Fn() -> bool,
    info: &WalRcvShared,
) -> PgResult<Streamed> {
    let wal = db.wal().clone();
    let mut last_recv = Instant::now();
    let mut last_status = Instant::now();
    // the apply position last reported: a reply goes out when replay passes
    // it, so a primary's remote_apply commits are released promptly
    let mut reported_apply = db.replay_lsn();
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(Streamed::Stopped);
        }
        if settings_changed() {
            return Ok(Streamed::Reconnect);
        }
        // (units: a bare number is seconds / milliseconds, as in PostgreSQL)
        let status_interval = config
            .get_ms("wal_receiver_status_interval")
            .unwrap_or(10_000);
        let timeout = config.get_ms("wal_receiver_timeout").unwrap_or(60_000);
        let hsf = config.get_bool("hot_standby_feedback");
        let mut received = false;
        let mut reply_now = false;
        // Wait (up to the read timeout) for the first message, then take only what
        // has already arrived, and flush and reply at once: a primary waiting for
        // this standby (synchronous replication) must not wait for a read timeout.
        let mut first = true;
        loop {
            if !first && !client.has_buffered_message() {
                break;
            }
            first = false;
            let Some(msg) = client.try_read_message()? else {
                break;
            };
            last_recv = Instant::now();
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
                        reply_now |= reply_requested
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
            if received && wal.insert_lsn().0 - wal.flush_lsn().0 > 1 << 20 {
                break;
            }
        }
        if received {
            wal.flush(wal.insert_lsn())?;
            reply_now = true;
        }
        if status_interval > 0 && last_status.elapsed() >= Duration::from_millis(status_interval) {
            reply_now = true;
        }
        let applied = db.replay_lsn();
        if applied > reported_apply {
            reply_now = true;
        }
        if reply_now {
            reported_apply = applied;
            client.send_copy_data(&status(db, false))?;
            if hsf {
                client.send_copy_data(&feedback(db))?;
            }
            last_status = Instant::now();
        }
        if timeout > 0 && last_recv.elapsed() >= Duration::from_millis(timeout) {
            return Err(PgError::new(
                tandem_types::SqlState("08006"),
                "terminating walreceiver due to timeout",
            ));
        }
    }
}
