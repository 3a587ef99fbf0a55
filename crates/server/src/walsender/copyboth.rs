//! The CopyBoth streaming loop shared by physical and logical replication:
//! what `START_REPLICATION` runs once it answered with CopyBothResponse, until
//! both sides ended the copy or the connection must end.
//!
//! The loop owns everything the two kinds have in common: reading the
//! client's messages, keepalives, `wal_sender_timeout`, the catchup-to-
//! streaming state change and the sleep. A [`StreamSource`] supplies the
//! rest: what to send next (`physical.rs`: WAL bytes; `logical.rs`: decoded
//! changes) and what a standby's reply does (slot, lags,
//! `pg_stat_replication`). A rule on *what may be sent when* (for example
//! holding logical changes back until named standbys have flushed them)
//! belongs in [`stream`], just before `StreamSource::send`.
//!
//! ```text
//!  run_copy_both: CopyBothResponse, state = catchup
//!  stream, one round:
//!    ┌──> reset the latch
//!    │    terminating?                     -> ERROR (admin shutdown)
//!    │    drain_client: every message that has arrived (StandbyInput
//!    │      frames them from the socket without waiting for more)
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
//!    └─── sleep on the walsender's latch and the client's socket: new WAL
//!         flushed, a request, a message, or a timer due
//! ```
//!
//! One thread reads and writes, as PostgreSQL's walsender process: a reply
//! is read when it arrives if the walsender sleeps, and between two batches
//! if it is sending, with no second thread to wake on a busy machine. The
//! lags a reply gives are taken when it is read. Over TLS the reads and
//! writes go through the one session the same way (`backend/tls.rs`).
//!
//! The timing decisions are pure functions in `tandem_replication::physical`
//! ([`Timers`]).
//!
//! Corresponds to PostgreSQL's `walsender.c`: `WalSndLoop` ([`stream`]),
//! `ProcessRepliesIfAny` ([`drain_client`], [`StandbyInput`]),
//! `WalSndKeepaliveIfNecessary` and `WalSndCheckTimeOut` (the keepalive and
//! timeout steps), `WalSndWaitForWal` (the sleep; a logical walsender on a
//! standby wakes every 50 ms because replay does not signal it).

use std::io::ErrorKind;
use std::time::Duration;

use tandem_protocol::frontend::decode_header;
use tandem_protocol::replication::{self as wire, StandbyMessage};
use tandem_protocol::BackendMessage;
use tandem_replication::physical::{Timers, WalSndState};
use tandem_types::elog::{self, Level};
use tandem_types::{Lsn, PgError, PgResult, SqlState};

use crate::backend::pqcomm::Conn;
use crate::backend::printtup::SocketSink;
use crate::backend::startup::admin_shutdown_error;
use crate::walsender::sender::WalSender;
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

/// Enters CopyBoth mode and streams `source` until both sides ended the copy
/// (the source then completes the command) or the connection must end
/// (`ws.exit`).
pub(super) fn run_copy_both(
    ws: &mut WalSender<'_>,
    conn: &mut Conn,
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
    let outcome = match StandbyInput::new(conn) {
        Ok(mut input) => {
            let r = stream(ws, conn, &mut input, source);
            input.end(conn);
            r
        }
        Err(e) => Err(PgError::internal(format!(
            "could not set a timeout on the replication socket: {e}"
        ))),
    };
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
    input: &mut StandbyInput,
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
        // before anything is looked at: a wakeup from here on is not lost
        walsnd.latch.reset();
        if ws.entry.terminating() {
            return Err(admin_shutdown_error());
        }
        // 1. What the client said.
        if let Some(end) = drain_client(conn, input, &mut timers, &mut copy, source)? {
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
        if copy.done_receiving || !conn.has_pending_input() {
            // (once the client ended its copy, what it sends next is its
            // next command: only the latch and the timers wake the loop)
            let socket = if copy.done_receiving {
                -1
            } else {
                conn.raw_fd()
            };
            walsnd
                .latch
                .wait_or_socket(socket, Duration::from_micros(sleep_us as u64));
        }
    }
}

/// Which side has ended the copy.
#[derive(Default)]
struct CopyState {
    done_sending: bool,
    done_receiving: bool,
}

/// What the client sent, framed by [`StandbyInput`].
#[derive(Debug)]
enum ClientInput {
    /// A whole message: its tag and body.
    Message(u8, Vec<u8>),
    /// The connection ended.
    Eof,
    /// A framing error; the connection is unusable.
    Broken(PgError),
}

/// Handles every message the client has sent so far: standby messages go to
/// the source (with a keepalive when the standby asked for a reply), CopyDone
/// is answered (once) with CopyDone and ends the reading.
/// `Some(end)`: streaming must stop (client gone, both copies done).
fn drain_client(
    conn: &mut Conn,
    input: &mut StandbyInput,
    timers: &mut Timers,
    copy: &mut CopyState,
    source: &mut impl StreamSource,
) -> PgResult<Option<StreamEnd>> {
    while !copy.done_receiving {
        let Some(ev) = input.next(conn) else {
            break;
        };
        // (the lags a reply gives are taken as of now, as PostgreSQL's
        // walsender takes the time right after reading it)
        let now = PgTimestamp::now().as_micros();
        match ev {
            ClientInput::Eof => {
                elog::emit(
                    Level::Log,
                    "unexpected EOF on standby connection",
                    None,
                    None,
                );
                return Ok(Some(StreamEnd::Exit));
            }
            ClientInput::Broken(e) => {
                elog::emit(Level::Log, &e.message, None, None);
                return Ok(Some(StreamEnd::Exit));
            }
            ClientInput::Message(b'd', payload) => {
                timers.heard_from_standby(now);
                match wire::decode_standby_message(&payload) {
                    Ok(msg) => {
                        let reply = matches!(
                            msg,
                            StandbyMessage::Status {
                                reply_requested: true,
                                ..
                            }
                        );
                        source.on_standby_message(msg, now)?;
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
            ClientInput::Message(b'c', _) => {
                timers.heard_from_standby(now);
                if !copy.done_sending {
                    conn.send(&BackendMessage::CopyDone);
                    copy.done_sending = true;
                }
                copy.done_receiving = true;
            }
            ClientInput::Message(b'X', _) => return Ok(Some(StreamEnd::Exit)),
            ClientInput::Message(tag, _) => {
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

/// How long a read waits for the rest of a TLS record that arrived in part
/// (the socket's read timeout while streaming); then the loop goes on and
/// reads the rest later. A plain socket is read only when it has input, so
/// its reads never wait.
const PARTIAL_RECORD_WAIT: Duration = Duration::from_millis(10);

/// Frames the client's messages as they arrive, without waiting for the rest
/// of one: the part of a message read so far is kept until the rest comes.
/// Each read asks for no more than the current message needs, so what
/// follows CopyDone (the client's next command) stays in the connection's
/// buffer. Message types other than CopyData, CopyDone and Terminate are
/// handed on at once, as PostgreSQL rejects them before reading their length.
struct StandbyInput {
    /// The message read so far: its 5-byte header, then its body.
    partial: Vec<u8>,
    /// How many bytes the message has in all (header included), once its
    /// header is read.
    whole: Option<usize>,
}

impl StandbyInput {
    /// Starts reading; bounds a read's wait for the rest of a TLS record.
    fn new(conn: &Conn) -> std::io::Result<StandbyInput> {
        conn.set_read_timeout(Some(PARTIAL_RECORD_WAIT))?;
        Ok(StandbyInput {
            partial: Vec::with_capacity(64),
            whole: None,
        })
    }

    /// Streaming ended: reads wait as long as it takes again (the next
    /// command).
    fn end(&self, conn: &Conn) {
        let _ = conn.set_read_timeout(None);
    }

    /// The next whole message or the end of the input; `None` when the rest
    /// has not arrived yet.
    fn next(&mut self, conn: &mut Conn) -> Option<ClientInput> {
        loop {
            let need = self.whole.unwrap_or(5);
            if self.partial.len() == need {
                if self.whole.is_some() {
                    self.whole = None;
                    let mut msg = std::mem::replace(&mut self.partial, Vec::with_capacity(64));
                    let tag = msg[0];
                    msg.drain(..5);
                    return Some(ClientInput::Message(tag, msg));
                }
                let header = [
                    self.partial[0],
                    self.partial[1],
                    self.partial[2],
                    self.partial[3],
                    self.partial[4],
                ];
                let tag = header[0];
                if !matches!(tag, b'd' | b'c' | b'X') {
                    return Some(ClientInput::Message(tag, Vec::new()));
                }
                match decode_header(header) {
                    Ok((_, len)) if len + 4 <= MAX_STANDBY_MESSAGE => {
                        self.whole = Some(5 + len);
                        self.partial.reserve(len);
                    }
                    Ok(_) => {
                        return Some(ClientInput::Broken(PgError::new(
                            SqlState::PROTOCOL_VIOLATION,
                            "invalid message length",
                        )))
                    }
                    Err(e) => return Some(ClientInput::Broken(e)),
                }
                continue;
            }
            let have = self.partial.len();
            self.partial.resize(need, 0);
            let r = conn.try_read(&mut self.partial[have..]);
            let got = match r {
                Ok(0) => {
                    self.partial.truncate(have);
                    return Some(ClientInput::Eof);
                }
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) =>
                {
                    0
                }
                Err(_) => {
                    self.partial.truncate(have);
                    return Some(ClientInput::Eof);
                }
            };
            self.partial.truncate(have + got);
            if got == 0 {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::pqcomm::{Peer, Stream};
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn conn_pair() -> (Conn, UnixStream) {
        let (server, client) = UnixStream::pair().expect("socket pair");
        let peer = Peer {
            addr: None,
            local: None,
        };
        (Conn::new(Stream::Unix(server), peer), client)
    }

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn a_message_is_handed_on_once_whole_and_nothing_after_copydone_is_read() {
        let (mut conn, mut client) = conn_pair();
        let mut input = StandbyInput::new(&conn).expect("timeout");
        assert!(input.next(&mut conn).is_none(), "nothing sent yet");
        let reply = message(b'd', b"r0123456789");
        client.write_all(&reply[..3]).expect("write");
        assert!(input.next(&mut conn).is_none(), "half a header");
        client.write_all(&reply[3..8]).expect("write");
        assert!(input.next(&mut conn).is_none(), "half a body");
        client.write_all(&reply[8..]).expect("write");
        match input.next(&mut conn) {
            Some(ClientInput::Message(b'd', body)) => assert_eq!(body, b"r0123456789"),
            other => panic!("expected the reply, got {other:?}"),
        }
        // CopyDone and the next command in one write
        let mut rest = message(b'c', b"");
        rest.extend(message(b'Q', b"SELECT 1\0"));
        client.write_all(&rest).expect("write");
        assert!(matches!(
            input.next(&mut conn),
            Some(ClientInput::Message(b'c', _))
        ));
        input.end(&conn);
        match conn.read_raw_message() {
            Ok(Some((b'Q', body))) => assert_eq!(body, b"SELECT 1\0"),
            other => panic!("expected the query after CopyDone, got {other:?}"),
        }
    }

    #[test]
    fn a_closed_socket_an_unknown_type_and_a_huge_length_end_the_input() {
        let (mut conn, client) = conn_pair();
        let mut input = StandbyInput::new(&conn).expect("timeout");
        drop(client);
        assert!(matches!(input.next(&mut conn), Some(ClientInput::Eof)));

        let (mut conn, mut client) = conn_pair();
        let mut input = StandbyInput::new(&conn).expect("timeout");
        client.write_all(&message(b'Q', b"x\0")).expect("write");
        assert!(matches!(
            input.next(&mut conn),
            Some(ClientInput::Message(b'Q', _))
        ));

        let (mut conn, mut client) = conn_pair();
        let mut input = StandbyInput::new(&conn).expect("timeout");
        let mut huge = vec![b'd'];
        huge.extend_from_slice(&(MAX_STANDBY_MESSAGE as u32 + 1).to_be_bytes());
        client.write_all(&huge).expect("write");
        match input.next(&mut conn) {
            Some(ClientInput::Broken(e)) => assert_eq!(e.message, "invalid message length"),
            other => panic!("expected a framing error, got {other:?}"),
        }
    }
}
