//! LISTEN / NOTIFY: what a session's transaction collects (channels to start
//! or stop listening to, notifications to send) and the node-wide hub that
//! hands committed notifications to the sessions listening.
//!
//! A session's [`NotifyState`] records `LISTEN` / `UNLISTEN` actions and
//! `NOTIFY` / `pg_notify()` events while its transaction runs; a savepoint
//! remembers their lengths ([`NotifyMark`]) and `ROLLBACK TO` cuts back to
//! them; an abort forgets them. At commit, [`NotifyState::at_commit`] first
//! applies the actions (so a session hears the NOTIFY of its own
//! transaction, as in PostgreSQL), then publishes the events, each
//! (channel, payload) pair once per transaction, in the order first sent:
//! every session listening on an event's channel gets it queued, and its
//! waker runs (the server sets the latch an idle session waits on with its
//! socket). A session takes its queue when it is outside a transaction
//! block: before ReadyForQuery, or at once while idle
//! ([`NotifyState::take`]). Nothing is written to WAL: notifications are
//! for the sessions connected to this node, as in PostgreSQL.
//!
//! PostgreSQL counterpart: `commands/async.c`. Differences: the queue is in
//! memory and bounded by [`QUEUE_LIMIT_BYTES`] (PostgreSQL's is 8 GB of
//! SLRU pages on disk), and two transactions committing at the same moment
//! may publish in either order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tandem_types::{PgError, PgResult, SqlState};

/// Wakes a listening session (sets its latch).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// One notification, as NotificationResponse carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// The notifying backend.
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

impl Notification {
    /// Queue space it takes (what the queue limit counts).
    fn size(&self) -> usize {
        self.channel.len() + self.payload.len() + 32
    }
}

/// Queued notifications the sessions have not taken may use this much memory;
/// a commit that would add to a fuller queue fails (PostgreSQL's queue is
/// 8 GB on disk).
pub const QUEUE_LIMIT_BYTES: usize = 1 << 30;

/// Channel names are identifiers: at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
const CHANNEL_MAX: usize = 63;

/// A payload must be shorter than this (PostgreSQL's NOTIFY_PAYLOAD_MAX_LENGTH).
const PAYLOAD_MAX: usize = 8000;

struct Listener {
    /// The channels it listens on (committed).
    channels: HashSet<String>,
    queue: VecDeque<Arc<Notification>>,
    waker: Option<Waker>,
}

#[derive(Default)]
struct HubInner {
    listeners: HashMap<i32, Listener>,
    /// What all queues hold, by [`Notification::size`].
    queued_bytes: usize,
}

/// The node's listeners and their queues (one per node, shared by sessions).
#[derive(Default)]
pub struct NotifyHub {
    inner: Mutex<HubInner>,
}

impl NotifyHub {
    pub fn new() -> NotifyHub {
        NotifyHub::default()
    }

    /// `pid` now listens on exactly `channels` (none: it stops listening and
    /// its queue is dropped). Queued notifications of channels it left are
    /// dropped too: PostgreSQL delivers only those of channels a session
    /// listens on when it reads them.
    fn set_channels(&self, pid: i32, channels: &[String], waker: Option<&Waker>) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        if channels.is_empty() {
            if let Some(l) = inner.listeners.remove(&pid) {
                inner.queued_bytes -= l.queue.iter().map(|n| n.size()).sum::<usize>();
            }
            return;
        }
        let l = inner.listeners.entry(pid).or_insert_with(|| Listener {
            channels: HashSet::new(),
            queue: VecDeque::new(),
            waker: waker.cloned(),
        });
        l.channels = channels.iter().cloned().collect();
        let before: usize = l.queue.iter().map(|n| n.size()).sum();
        let kept = &l.channels;
        l.queue.retain(|n| kept.contains(&n.channel));
        let after: usize = l.queue.iter().map(|n| n.size()).sum();
        inner.queued_bytes -= before - after;
    }

    /// Queues `events` for every session listening on their channels and
    /// wakes those sessions.
    fn publish(&self, events: &[Notification]) {
        let mut wake = Vec::new();
        {
            let mut inner = self.inner.lock();
            let inner = &mut *inner;
            let shared: Vec<Arc<Notification>> = events.iter().cloned().map(Arc::new).collect();
            for l in inner.listeners.values_mut() {
                let mut got = false;
                for n in &shared {
                    if l.channels.contains(&n.channel) {
                        inner.queued_bytes += n.size();
                        l.queue.push_back(Arc::clone(n));
                        got = true;
                    }
                }
                if got {
                    if let Some(w) = &l.waker {
                        wake.push(Arc::clone(w));
                    }
                }
            }
        }
        for w in wake {
            w();
        }
    }

    /// Takes what is queued for `pid`.
    fn take(&self, pid: i32) -> Vec<Notification> {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let Some(l) = inner.listeners.get_mut(&pid) else {
            return Vec::new();
        };
        let taken: Vec<Notification> = l
            .queue
            .drain(..)
            .map(|n| Arc::try_unwrap(n).unwrap_or_else(|n| (*n).clone()))
            .collect();
        inner.queued_bytes -= taken.iter().map(|n| n.size()).sum::<usize>();
        taken
    }

    /// `pg_notification_queue_usage()`: the fraction of the queue in use.
    pub fn usage(&self) -> f64 {
        self.inner.lock().queued_bytes as f64 / QUEUE_LIMIT_BYTES as f64
    }

    fn queued_bytes(&self) -> usize {
        self.inner.lock().queued_bytes
    }
}

#[derive(Clone, Debug)]
enum Action {
    Listen(String),
    Unlisten(String),
    UnlistenAll,
}

/// Lengths of a session's pending actions and events at a savepoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotifyMark {
    actions: usize,
    events: usize,
}

/// One session's LISTEN / NOTIFY state.
pub struct NotifyState {
    hub: Arc<NotifyHub>,
    pid: i32,
    waker: Option<Waker>,
    /// Channels listened on (committed), in the order first listened.
    listening: Vec<String>,
    /// This transaction's LISTEN / UNLISTEN, in order.
    actions: Vec<Action>,
    /// This transaction's notifications, each (channel, payload) once.
    events: Vec<Notification>,
    seen: HashSet<(String, String)>,
}

impl NotifyState {
    pub fn new(hub: Arc<NotifyHub>, pid: i32) -> NotifyState {
        NotifyState {
            hub,
            pid,
            waker: None,
            listening: Vec::new(),
            actions: Vec::new(),
            events: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// A state tied to a hub of its own (contexts that never deliver: the
    /// apply worker's default expressions, tests).
    pub fn detached(pid: i32) -> NotifyState {
        NotifyState::new(Arc::new(NotifyHub::new()), pid)
    }

    /// What wakes this session when a notification is queued for it.
    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = Some(waker);
    }

    /// `LISTEN channel` (takes effect at commit).
    pub fn listen(&mut self, channel: &str) {
        self.actions.push(Action::Listen(channel.to_string()));
    }

    /// `UNLISTEN channel`, or `UNLISTEN *` for `None` (at commit).
    pub fn unlisten(&mut self, channel: Option<&str>) {
        self.actions.push(match channel {
            Some(c) => Action::Unlisten(c.to_string()),
            None => Action::UnlistenAll,
        });
    }

    /// `NOTIFY channel, payload` / `pg_notify(channel, payload)` (sent at
    /// commit; a repeat of a pair already sent by this transaction is
    /// dropped).
    pub fn notify(&mut self, channel: &str, payload: &str) -> PgResult<()> {
        if channel.is_empty() {
            return Err(invalid("channel name cannot be empty"));
        }
        if channel.len() > CHANNEL_MAX {
            return Err(invalid("channel name too long"));
        }
        if payload.len() >= PAYLOAD_MAX {
            return Err(invalid("payload string too long"));
        }
        if self.seen.insert((channel.to_string(), payload.to_string())) {
            self.events.push(Notification {
                pid: self.pid,
                channel: channel.to_string(),
                payload: payload.to_string(),
            });
        }
        Ok(())
    }

    /// `pg_notification_queue_usage()`: the fraction of the node's queue in use.
    pub fn queue_usage(&self) -> f64 {
        self.hub.usage()
    }

    /// `pg_listening_channels()`: the committed channels.
    pub fn listening(&self) -> &[String] {
        &self.listening
    }

    /// Whether the session listens on any channel (it must then be woken
    /// while idle).
    pub fn is_listening(&self) -> bool {
        !self.listening.is_empty()
    }

    pub fn mark(&self) -> NotifyMark {
        NotifyMark {
            actions: self.actions.len(),
            events: self.events.len(),
        }
    }

    /// `ROLLBACK TO SAVEPOINT`: forgets what was done after `mark`.
    pub fn rollback_to(&mut self, mark: &NotifyMark) {
        self.actions.truncate(mark.actions);
        if self.events.len() > mark.events {
            self.events.truncate(mark.events);
            self.seen = self
                .events
                .iter()
                .map(|n| (n.channel.clone(), n.payload.clone()))
                .collect();
        }
    }

    /// Before the commit: refuses a transaction whose notifications would
    /// find the queue full (`54000`, PostgreSQL's text).
    pub fn check_queue(&self) -> PgResult<()> {
        if self.events.is_empty() || self.hub.queued_bytes() < QUEUE_LIMIT_BYTES {
            return Ok(());
        }
        Err(PgError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            "too many notifications in the NOTIFY queue",
        ))
    }

    /// After the commit: applies LISTEN / UNLISTEN, then sends the
    /// notifications.
    pub fn at_commit(&mut self) {
        if !self.actions.is_empty() {
            for a in std::mem::take(&mut self.actions) {
                match a {
                    Action::Listen(c) => {
                        if !self.listening.contains(&c) {
                            self.listening.push(c);
                        }
                    }
                    Action::Unlisten(c) => self.listening.retain(|l| *l != c),
                    Action::UnlistenAll => self.listening.clear(),
                }
            }
            self.hub
                .set_channels(self.pid, &self.listening, self.waker.as_ref());
        }
        if !self.events.is_empty() {
            self.hub.publish(&self.events);
            self.events.clear();
            self.seen.clear();
        }
    }

    /// After an abort: forgets the transaction's actions and notifications.
    pub fn at_abort(&mut self) {
        self.actions.clear();
        self.events.clear();
        self.seen.clear();
    }

    /// Notifications queued for this session (to send now).
    pub fn take(&self) -> Vec<Notification> {
        if self.listening.is_empty() {
            return Vec::new();
        }
        self.hub.take(self.pid)
    }
}

impl Drop for NotifyState {
    /// A session that ends stops listening (PostgreSQL's `Async_UnlistenOnExit`).
    fn drop(&mut self) {
        if !self.listening.is_empty() {
            self.hub.set_channels(self.pid, &[], None);
        }
    }
}

fn invalid(message: &str) -> PgError {
    PgError::new(SqlState::INVALID_PARAMETER_VALUE, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn session(hub: &Arc<NotifyHub>, pid: i32) -> NotifyState {
        NotifyState::new(Arc::clone(hub), pid)
    }

    #[test]
    fn listen_takes_effect_at_commit_and_hears_its_own_notify() {
        let hub = Arc::new(NotifyHub::new());
        let mut a = session(&hub, 1);
        a.listen("jobs");
        assert!(!a.is_listening());
        a.notify("jobs", "x").unwrap();
        a.at_commit();
        assert_eq!(a.listening(), ["jobs".to_string()]);
        let got = a.take();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].pid, got[0].payload.as_str()), (1, "x"));
        assert!(a.take().is_empty());
    }

    #[test]
    fn events_are_deduplicated_ordered_and_routed_by_channel() {
        let hub = Arc::new(NotifyHub::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let mut l = session(&hub, 1);
        let w = Arc::clone(&woken);
        l.set_waker(Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        l.listen("a");
        l.at_commit();
        let mut n = session(&hub, 2);
        for (c, p) in [("a", "1"), ("b", "2"), ("a", "1"), ("a", "3")] {
            n.notify(c, p).unwrap();
        }
        n.at_commit();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        let got: Vec<String> = l.take().into_iter().map(|n| n.payload).collect();
        assert_eq!(got, ["1", "3"]);
        assert_eq!(hub.usage(), 0.0);
    }

    #[test]
    fn abort_and_rollback_to_forget_and_unlisten_drops_the_queue() {
        let hub = Arc::new(NotifyHub::new());
        let mut l = session(&hub, 1);
        l.listen("a");
        l.at_commit();
        let mut n = session(&hub, 2);
        n.notify("a", "lost").unwrap();
        n.at_abort();
        n.at_commit();
        n.notify("a", "kept").unwrap();
        let m = n.mark();
        n.notify("a", "undone").unwrap();
        n.rollback_to(&m);
        n.notify("a", "undone").unwrap();
        n.notify("a", "undone").unwrap();
        n.at_commit();
        let got: Vec<String> = l.take().into_iter().map(|n| n.payload).collect();
        assert_eq!(got, ["kept", "undone"]);
        n.notify("a", "late").unwrap();
        n.at_commit();
        l.unlisten(None);
        l.at_commit();
        assert!(l.take().is_empty());
        assert!(hub.usage() == 0.0);
    }

    #[test]
    fn bad_channel_and_payload_are_postgresql_errors() {
        let mut n = NotifyState::detached(1);
        assert_eq!(
            n.notify("", "x").unwrap_err().message,
            "channel name cannot be empty"
        );
        assert_eq!(
            n.notify(&"c".repeat(64), "x").unwrap_err().message,
            "channel name too long"
        );
        assert_eq!(
            n.notify("c", &"p".repeat(8000)).unwrap_err().message,
            "payload string too long"
        );
        n.notify("c", &"p".repeat(7999)).unwrap();
    }

    #[test]
    fn a_dropped_session_stops_listening() {
        let hub = Arc::new(NotifyHub::new());
        let mut l = session(&hub, 1);
        l.listen("a");
        l.at_commit();
        drop(l);
        let mut n = session(&hub, 2);
        n.notify("a", "x").unwrap();
        n.at_commit();
        assert_eq!(hub.usage(), 0.0);
    }
}
