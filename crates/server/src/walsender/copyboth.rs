//! The CopyBoth streaming loop shared by physical and logical replication:
//! what `START_REPLICATION` runs once it answered with CopyBothResponse, until
//! both sides ended the copy or the connection must end.
//!
//! The loop owns everything the two kinds have in common: the reader thread,
//! the inbox of client messages, keepalives, `wal_sender_timeout`, the
//! catchup-to-streaming state change and the sleep. A [`StreamSource`]
//! supplies the rest: what to send next (`physical.rs`: WAL bytes;
//! `logical.rs`: decoded changes) and what a standby's reply does (slot,
//! lags, `pg_stat_replication`). A rule on *what may be sent when* (for
//! example holding logical changes back until named standbys have flushed
//! them) belongs in [`stream`], just before `StreamSource::send`.
//!
//! ```text
//!  client socket ──> reader thread (read_standby) ──> WalSnd inbox ──┐
//!                    frames d / c / X messages,        + generation   │
//!                    stamped with the time read                       │
//!                                                                     │
//!  run_copy_both: CopyBothResponse, state = catchup                   │
//!  stream, one round:                                                 │
//!    ┌──> terminating?                  -> ERROR (admin shutdown)     │
//!    │    drain_client <─────────────────────────────────────────────┘
//!    │      'd' standby message -> source.on_standby_message,
//!    │                             keepalive if a reply was requested
//!    │      'c' CopyDone        -> answer CopyDone; both done -> Completed
//!    │      'X', EOF, bad frame -> Exit
//!    │    wal_sender_timeout passed in silence         -> LOG, Exit
//!    │    source.send (a bounded batch)                -> 'w' XLogData
//!    │      caught up -> state = streaming; end of a historic timeline -> CopyDone
//!    │      idle logical source -> keepalive with how far it read
//!    │    shutting down, all sent: client confirmed -> COPY 0, Exit;
//!    │      else keepalive asking for a reply (WalSndDone)
//!    │    half the timeout in silence -> keepalive asking for a reply
//!    │    flush the socket
//!    │    source.has_more? ──yes──> next round at once
//!    └─── sleep on the WalSnd condition variable until new WAL is
//!         flushed, a message arrives, or a timer is due
//! ```
//!
//! The timing decisions are pure functions in `tandem_replication::physical`
//! ([`Timers`]). The reader thread reads through a [`StreamReader`]: a second
//! handle on a plain socket, or, over TLS, a reader sharing the connection's
//! TLS session with the loop, which encrypts and writes while the reader
//! decrypts (`backend/tls.rs`). The loop is the same for both.
//!
//! Corresponds to PostgreSQL's `walsender.c`: `WalSndLoop` ([`stream`]),
//! `ProcessRepliesIfAny` ([`drain_client`] and the reader thread),
//! `WalSndKeepaliveIfNecessary` and `WalSndCheckTimeOut` (the keepalive and
//! timeout steps), `WalSndWaitForWal` (the sleep; a logical walsender on a
//! standby wakes every 50 ms because replay does not signal it).

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tandem_protocol::frontend::decode_header;
use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::BackendMessage;
use tandem_replication::physical::{Timers, WalSndState};
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::backend::pqcomm::{Conn, StreamReader};
use crate::backend::printtup::SocketSink;
use crate::backend::startup::admin_shutdown_error;
use crate::walsender::sender::WalSender;
use crate::walsender::walsndctl::{Event, WalSnd};
use tandem_types::PgTimestamp;

/// What one call of [`StreamSource::send`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Round {
    /// Everything available was sent: `pg_stat_replication.state` moves from
    /// catchup to streaming.
    pub caught_up: bool,
    /// Nothing more will ever be sent (the end of a historic timeline): the
    /// copy ends with CopyDone.
    pub end_of_copy: bool,
}

/// What streams over the CopyBoth loop: WAL (`physical.rs`) or decoded
/// changes (`logical.rs`).
pub(super) trait StreamSource {
    /// Called once after CopyBothResponse went out: checks the start (an
    /// error ends the command) and returns the position shown as `sent_lsn`.
    fn begin(&mut self) -> PgResult<Lsn>;

    /// Sends a bounded batch of what is ready (so the client's replies are
    /// read between batches). `Ok(None)`: writing to the client failed.
    fn send(&mut self, conn: &mut Conn) -> PgResult<Option<Round>>;

    /// Where sending stands; keepalives carry it.
    fn sent(&self) -> Lsn;

    /// Whether more is ready right away (the next round starts without sleeping).
    fn has_more(&self) -> bool;

    /// Applies a standby status update or hot standby feedback.
    fn on_standby_message(&mut self, msg: StandbyMessage, now: i64) -> PgResult<()>;

    /// Whether a round that found nothing to send tells the client how far
    /// the source has read (a logical client confirms past WAL that produced
    /// no output).
    fn announces_progress(&self) -> bool {
        false
    }

    /// The server is shutting down and everything this source will send has
    /// been sent: the stream ends once the client confirmed it.
    fn sent_all_for_shutdown(&self) -> bool {
        false
    }

    /// The longest sleep between rounds, in microseconds.
    fn max_sleep_us(&self) -> i64;

    /// Both sides ended the copy: completes the command.
    fn finish(&mut self, sink: &mut SocketSink<'_>) -> PgResult<()>;
}

/// How streaming ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StreamEnd {
    /// Both sides sent CopyDone: the command completes.
    Completed,
    /// The connection must end (client gone, timeout, Terminate).
    Exit,
}

/// The reader the reader thread reads the client with (plain or TLS).
pub(super) fn reader_handle(conn: &Conn) -> PgResult<StreamReader> {
    conn.stream_reader()
        .map_err(|e| PgError::internal(format!("could not duplicate the client socket: {e}")))
}

/// Enters CopyBoth mode and streams `source` until both sides ended the copy
/// (the source then completes the command) or the connection must end
/// (`ws.exit`).
pub(super) fn run_copy_both(
    ws: &mut WalSender<'_>,
    conn: &mut Conn,
    reader: StreamReader,
    source: &mut impl StreamSource,
) -> PgResult<()> {
    ws.walsnd.progress.lock().state = WalSndState::Catchup;
    conn.send(&BackendMessage::CopyBothResponse {
        format: 0,
        column_formats: Vec::new(),
    });
    if conn.flush().is_err() {
        ws.exit = true;
        return Ok(());
    }
    let first = source.begin()?;
    ws.walsnd.progress.lock().sent = first;
    ws.walsnd.inbox.lock().events.clear();
    let pre = conn.take_buffered();
    let stop = AtomicBool::new(false);
    let walsnd = ws.walsnd.clone();
    let outcome = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("walsender-reader".into())
            .spawn_scoped(scope, || read_standby(reader, pre, &walsnd, &stop));
        let r = match spawned {
            Ok(_) => stream(ws, conn, source),
            Err(e) => Err(PgError::internal(format!("could not start reader: {e}"))),
        };
        stop.store(true, Ordering::SeqCst);
        // The connection ends: wake the reader now rather than at its next
        // timeout, so an exiting walsender (a shutdown) does not wait for it.
        if matches!(r, Ok(StreamEnd::Exit)) {
            if let Some(h) = conn.socket_handle() {
                h.wake_reader();
            }
        }
        r
    });
    match outcome {
        Ok(StreamEnd::Completed) => source.finish(&mut SocketSink {
            conn,
            entry: ws.entry,
        }),
        Ok(StreamEnd::Exit) => {
            ws.exit = true;
            Ok(())
        }
        Err(e) => {
            if conn.broken {
                ws.exit = true;
            }
            Err(e)
        }
    }
}

/// The loop (`WalSndLoop`); returns when both sides ended the copy, or the
/// connection must end.
fn stream(
    ws: &WalSender<'_>,
    conn: &mut Conn,
    source: &mut impl StreamSource,
) -> PgResult<StreamEnd> {
    let walsnd = ws.walsnd;
    let timeout_ms = ws
        .shared
        .config
        .get_ms("wal_sender_timeout")
        .unwrap_or(60_000);
    let mut timers = Timers::new(timeout_ms, PgTimestamp::now().as_micros());
    let mut copy = CopyState::default();
    // Nothing announced yet: the first idle round tells the client where the
    // source stands (pg_recvlogical --endpos may already be reached).
    let mut announced = Lsn::INVALID;
    loop {
        let seen = walsnd.inbox.lock().generation;
        if ws.entry.terminating() {
            return Err(admin_shutdown_error());
        }
        // 1. What the client said.
        if let Some(end) = drain_client(walsnd, conn, &mut timers, &mut copy, source)? {
            return Ok(end);
        }
        let now = PgTimestamp::now().as_micros();
        // 2. A silent client is dropped (without telling it: the link is
        // presumably broken).
        if replication_timeout(&timers, now) {
            return Ok(StreamEnd::Exit);
        }
        // 3. The next batch.
        if !copy.done_sending {
            let Some(round) = source.send(conn)? else {
                return Ok(StreamEnd::Exit);
            };
            let caught_up = {
                let mut p = walsnd.progress.lock();
                p.sent = source.sent();
                let c = round.caught_up && p.state == WalSndState::Catchup;
                if c {
                    p.state = WalSndState::Streaming;
                }
                c
            };
            if caught_up {
                ws.shared.walsenders.sync_recompute();
            }
            if round.end_of_copy {
                conn.send(&BackendMessage::CopyDone);
                copy.done_sending = true;
            }
            // Tell an idle client how far the source read, so it can
            // confirm past what produced no output.
            let sent = source.sent();
            if source.announces_progress() && round.caught_up && sent > announced {
                wire::put_keepalive(conn.out(), sent, now, false);
                announced = sent;
                timers.pinged();
            }
        }
        // 3b. Shutting down with everything sent (`WalSndDone`): end with
        // `COPY 0` once the client confirmed it, asking it for a reply.
        if !copy.done_sending && source.sent_all_for_shutdown() {
            if walsnd.replicated() >= source.sent() {
                conn.send(&BackendMessage::CommandComplete("COPY 0".into()));
                let _ = conn.flush();
                return Ok(StreamEnd::Exit);
            }
            if !timers.waiting_for_ping {
                wire::put_keepalive(conn.out(), source.sent(), now, true);
                announced = source.sent();
                timers.pinged();
            }
        }
        // 4. A keepalive asking for a reply after half the timeout in silence.
        if !copy.done_sending && timers.keepalive_due(now) {
            let sent = source.sent();
            wire::put_keepalive(conn.out(), sent, now, true);
            announced = sent;
            timers.pinged();
        }
        if conn.flush().is_err() {
            return Ok(StreamEnd::Exit);
        }
        if !copy.done_sending && source.has_more() {
            continue;
        }
        // 5. Sleep until new WAL, a message, or a timer.
        let sleep_us = timers
            .sleep_time(PgTimestamp::now().as_micros(), source.max_sleep_us())
            .max(1);
        let mut inbox = walsnd.inbox.lock();
        if inbox.generation == seen && inbox.events.is_empty() {
            walsnd
                .wake
                .wait_for(&mut inbox, Duration::from_micros(sleep_us as u64));
        }
    }
}

/// Which side has ended the copy.
#[derive(Default)]
struct CopyState {
    done_sending: bool,
    done_receiving: bool,
}

/// Handles the client's messages queued by the reader thread: standby
/// messages go to the source (with a keepalive when the standby asked for a
/// reply), CopyDone is answered (once) with CopyDone.
/// `Some(end)`: streaming must stop (client gone, both copies done).
fn drain_client(
    walsnd: &WalSnd,
    conn: &mut Conn,
    timers: &mut Timers,
    copy: &mut CopyState,
    source: &mut impl StreamSource,
) -> PgResult<Option<StreamEnd>> {
    let events: Vec<Event> = walsnd.inbox.lock().events.drain(..).collect();
    for ev in events {
        let now = PgTimestamp::now().as_micros();
        match ev {
            Event::Eof => {
                elog::emit(
                    Level::Log,
                    "unexpected EOF on standby connection",
                    None,
                    None,
                );
                return Ok(Some(StreamEnd::Exit));
            }
            Event::Broken(e) => {
                elog::emit(Level::Log, &e.message, None, None);
                return Ok(Some(StreamEnd::Exit));
            }
            Event::Message(b'd', payload, read_at) => {
                // (as of the reading: the lags do not include the hand-over
                // from the reader thread)
                let read = read_at.min(now);
                timers.heard_from_standby(read);
                match wire::decode_standby_message(&payload) {
                    Ok(msg) => {
                        let reply = matches!(
                            msg,
                            StandbyMessage::Status {
                                reply_requested: true,
                                ..
                            }
                        );
                        source.on_standby_message(msg, read)?;
                        if reply {
                            wire::put_keepalive(conn.out(), source.sent(), now, false);
                        }
                    }
                    Err(e) => {
                        // PostgreSQL: COMMERROR and exit
                        elog::emit(Level::Log, &e.message, None, None);
                        return Ok(Some(StreamEnd::Exit));
                    }
                }
            }
            Event::Message(b'c', ..) => {
                timers.heard_from_standby(now);
                if !copy.done_sending {
                    conn.send(&BackendMessage::CopyDone);
                    copy.done_sending = true;
                }
                copy.done_receiving = true;
            }
            Event::Message(b'X', ..) => return Ok(Some(StreamEnd::Exit)),
            Event::Message(tag, ..) => {
                return Err(PgError::fatal(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("invalid standby message type \"{}\"", tag as char),
                ));
            }
        }
    }
    if copy.done_receiving && copy.done_sending {
        let _ = conn.flush();
        return Ok(Some(StreamEnd::Completed));
    }
    Ok(None)
}

/// `wal_sender_timeout` passed without a word from the client (logged).
fn replication_timeout(timers: &Timers, now: i64) -> bool {
    let out = timers.timed_out(now);
    if out {
        elog::emit(
            Level::Log,
            "terminating walsender process due to replication timeout",
            None,
            None,
        );
    }
    out
}

/// Largest CopyData a standby may send during streaming (length word included).
const MAX_STANDBY_MESSAGE: usize = 1 << 20;

/// How long the reader thread blocks on the socket before it checks whether
/// streaming ended.
const READER_WAKEUP: Duration = Duration::from_millis(200);

/// The reader thread: frames the client's messages from `sock` (after `pre`,
/// the bytes the connection had buffered) into the walsender's inbox, reading
/// exactly one message at a time so nothing after CopyDone is consumed. Stops
/// at CopyDone, Terminate, end of file, or when `stop` is set. Message types
/// other than CopyData, CopyDone and Terminate are handed on at once, as
/// PostgreSQL rejects them before reading their length.
fn read_standby(sock: StreamReader, pre: Vec<u8>, walsnd: &WalSnd, stop: &AtomicBool) {
    let mut input = match Input::new(sock, pre, stop) {
        Ok(i) => i,
        Err(e) => {
            walsnd.push(Event::Broken(PgError::internal(format!(
                "could not set a timeout on the replication socket: {e}"
            ))));
            return;
        }
    };
    loop {
        let mut header = [0u8; 5];
        if let Err(end) = input.fill(&mut header) {
            if let Some(ev) = end {
                walsnd.push(ev);
            }
            return;
        }
        let tag = header[0];
        if !matches!(tag, b'd' | b'c' | b'X') {
            walsnd.push(Event::Message(
                tag,
                Vec::new(),
                PgTimestamp::now().as_micros(),
            ));
            return;
        }
        let len = match decode_header(header) {
            Ok((_, len)) if len + 4 <= MAX_STANDBY_MESSAGE => len,
            Ok(_) => {
                walsnd.push(Event::Broken(PgError::new(
                    SqlState::PROTOCOL_VIOLATION,
                    "invalid message length",
                )));
                return;
            }
            Err(e) => {
                walsnd.push(Event::Broken(e));
                return;
            }
        };
        let mut body = vec![0u8; len];
        if let Err(end) = input.fill(&mut body) {
            if let Some(ev) = end {
                walsnd.push(ev);
            }
            return;
        }
        walsnd.push(Event::Message(tag, body, PgTimestamp::now().as_micros()));
        if tag == b'c' || tag == b'X' {
            return;
        }
    }
}

/// The reader thread's input: the bytes buffered before streaming, then the
/// socket, read with a timeout so `stop` is noticed. The timeout is on the
/// socket itself (shared with the connection's own handle), so it is removed
/// when the reader ends, before the walsender reads its next command.
struct Input<'a> {
    sock: StreamReader,
    pre: Vec<u8>,
    pos: usize,
    stop: &'a AtomicBool,
}

impl<'a> Input<'a> {
    fn new(sock: StreamReader, pre: Vec<u8>, stop: &'a AtomicBool) -> std::io::Result<Input<'a>> {
        sock.set_read_timeout(Some(READER_WAKEUP))?;
        Ok(Input {
            sock,
            pre,
            pos: 0,
            stop,
        })
    }

    /// Fills `buf` completely. `Err(Some(event))`: the input ended first;
    /// `Err(None)`: `stop` was set.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Option<Event>> {
        let buffered = &self.pre[self.pos..];
        let mut got = buffered.len().min(buf.len());
        buf[..got].copy_from_slice(&buffered[..got]);
        self.pos += got;
        while got < buf.len() {
            if self.stop.load(Ordering::SeqCst) {
                return Err(None);
            }
            match self.sock.read(&mut buf[got..]) {
                Ok(0) => return Err(Some(Event::Eof)),
                Ok(n) => got += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Err(Some(Event::Eof)),
            }
        }
        Ok(())
    }
}

impl Drop for Input<'_> {
    fn drop(&mut self) {
        let _ = self.sock.set_read_timeout(None);
    }
}
