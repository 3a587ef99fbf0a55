//! One run: the topology on loopback, the workload, the faults of the
//! run's schedule, the samples of the standbys' synced slots, and at the
//! end what every node holds, handed to the checker.
//!
//! Topology: three tandem nodes `n0`, `n1`, `n2` (`n0` starts as the
//! primary, the others are its standbys made with `tandem basebackup`),
//! a tandem subscriber, and a PostgreSQL 17 subscriber when asked for.
//! Every node's `postgresql.conf` says what it needs in either role:
//! `primary_conninfo` naming the two other nodes (multi-host,
//! `target_session_attrs=read-write`, `application_name` = its name),
//! `primary_slot_name = 'slot_<name>'`, `synchronous_standby_names =
//! 'ANY 1 (<the other two>)'` and `synchronized_standby_slots` with their
//! slots. A commit is acknowledged once a standby has flushed it; a failover
//! promotes the standby that received the most, so every acknowledged
//! commit is on the new timeline. Subscriptions are `failover = true`, their
//! CONNECTION names all three nodes.
//!
//! Every connection between two nodes (standby to upstream, subscriber to
//! publisher, clients to the primary) goes through its own
//! `tandem_testkit::proxy::Proxy`, which is how a link is broken, stalled or
//! slowed, and how a rebuilt node (new port) is reached at the old address.
//!
//! Cascade (drawn from the seed, `schedule::topology`): `n2` streams from
//! `n1` whenever neither is the primary. `n2`'s `primary_conninfo` names
//! `n1` alone (no `target_session_attrs`: `n1` is a standby), its physical
//! slot `slot_n2` is on `n1`, and `n0` (the only node `n2` never streams
//! from) lists `slot_n1` alone in `synchronized_standby_slots` and `n1` in
//! `synchronous_standby_names`. `n2` waits while `n1` is down, follows `n1`'s
//! promotion, and a failover or switchover may promote `n2` instead of `n1`
//! once it replayed what `n1` has.
//!
//! A planned switchover runs by hand (fast stop, `pg_promote()`, rejoin), or
//! through the command given with `--switchover-command` (run by `sh -c`
//! with `FAULTS_OLD_PRIMARY_PORT`, `FAULTS_NEW_PRIMARY_PORT` and
//! `FAULTS_OLD_PRIMARY_DATADIR` set); the runner then waits until the new
//! primary is writable and re-points the subscriptions.

// node indices name nodes, links and proxies at once
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_testkit::proxy::Proxy;
use tandem_testkit::{wait_for_result, Kind as NodeKind, Node};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::check::{self, parse_lsn, Event, History, NodeState, Report, Row, SlotSample};
use crate::schedule::{schedule, topology, Fault, LinkFault, Params, Repoint, Role, Step};
use crate::workload::{Workload, PUBLISHER_DDL, SUBSCRIBER_DDL};

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Faults per run (`None`: drawn, 3 to 6).
    pub faults: Option<usize>,
    /// Shorter holds, gaps and waits.
    pub short: bool,
    /// Add a PostgreSQL 17 subscriber.
    pub pg17: bool,
    pub clients: u32,
    pub keys: u32,
    pub switchover_command: Option<String>,
    /// `Some`: cascade or not, whatever the seed draws.
    pub cascade: Option<bool>,
    /// Apply only these faults of the schedule (indices into it, in order);
    /// `None`: all. The topology stays the seed's.
    pub only: Option<Vec<usize>>,
    /// Where to copy the data directories (server logs included) of every
    /// node of a run that fails or cannot finish its final wait.
    pub keep: Option<std::path::PathBuf>,
}

/// What a run found.
pub struct Outcome {
    pub seed: u64,
    /// The seed's whole schedule (before `Config::only`).
    pub schedule: Vec<Step>,
    /// `n2` cascaded from `n1`.
    pub cascade: bool,
    pub faults: u64,
    pub skipped: u64,
    pub report: Report,
    pub history: History,
    /// The run could not finish (a node did not start, a wait timed out):
    /// the panic message.
    pub error: Option<String>,
    pub secs: f64,
    /// Where the nodes' data directories were copied (`Config::keep`).
    pub kept: Option<std::path::PathBuf>,
}

const NAMES: [&str; 3] = ["n0", "n1", "n2"];
/// Subscription names, one per subscriber (also their slots' names).
const SUBS: [&str; 2] = ["s_tandem", "s_pg17"];
/// `from` of the clients' links.
const CLIENTS: usize = 10;

fn sub_from(i: usize) -> usize {
    3 + i
}

/// The events of a run, shared with the progress display.
#[derive(Clone)]
pub struct Events {
    epoch: Instant,
    list: Arc<Mutex<Vec<Event>>>,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Events {
    pub fn new(epoch: Instant, progress: Arc<dyn Fn(&str) + Send + Sync>) -> Events {
        Events {
            epoch,
            list: Arc::default(),
            progress,
        }
    }

    fn ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn add(&self, what: impl Into<String>) {
        let what = what.into();
        (self.progress)(&what);
        let at_ms = self.ms();
        if let Ok(mut l) = self.list.lock() {
            l.push(Event { at_ms, what });
        }
    }

    fn take(&self) -> Vec<Event> {
        self.list.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

struct Cluster {
    nodes: Vec<Node>,
    primary: usize,
    subs: Vec<Node>,
    /// (from, to node) → the proxy of that link.
    links: HashMap<(usize, usize), Proxy>,
    /// Each subscription's CONNECTION names only this node (else all).
    sub_single: Vec<Option<usize>>,
    /// The nodes' direct ports, for the slot sampler.
    ports: Arc<Mutex<[u16; 3]>>,
    ev: Events,
    short: bool,
    /// `n2` streams from `n1` when neither is the primary.
    cascade: bool,
}

fn hosts(n: usize) -> String {
    vec!["127.0.0.1"; n].join(",")
}

impl Cluster {
    fn link(&self, from: usize, to: usize) -> &Proxy {
        match self.links.get(&(from, to)) {
            Some(p) => p,
            None => panic!("no link {from} -> {to}"),
        }
    }

    /// A multi-host connection string from `from` to `targets` in order.
    fn conninfo(&self, from: usize, targets: &[usize]) -> String {
        let ports: Vec<String> = targets
            .iter()
            .map(|t| self.link(from, *t).port.to_string())
            .collect();
        format!(
            "host={} port={} user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2",
            hosts(targets.len()),
            ports.join(",")
        )
    }

    /// The node `i` streams from while it is a standby: `n1` for the
    /// cascade `n2`, else the primary.
    fn upstream(&self, i: usize) -> usize {
        if self.cascade && i == 2 && self.primary != 2 {
            1
        } else {
            self.primary
        }
    }

    /// `n2` streams from the standby `n1` now.
    fn cascading(&self) -> bool {
        self.cascade && self.primary == 0
    }

    fn others(i: usize) -> [usize; 2] {
        match i {
            0 => [1, 2],
            1 => [0, 2],
            _ => [0, 1],
        }
    }

    /// The lines every node has, whatever its role.
    fn node_conf(&self, i: usize) -> String {
        let [a, b] = Cluster::others(i);
        // the cascade names its upstream standby alone, which is not
        // read-write
        let upstream = if self.cascade && i == 2 {
            let port = self.link(2, 1).port;
            format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=2")
        } else {
            self.conninfo(i, &[a, b])
        };
        format!(
            "wal_level = logical\nmax_wal_senders = 20\nmax_replication_slots = 20\n\
             wal_sender_timeout = 5s\nwal_receiver_timeout = 5s\n\
             wal_receiver_status_interval = 1s\nwal_retrieve_retry_interval = 100ms\n\
             hot_standby_feedback = on\nsync_replication_slots = on\n\
             primary_conninfo = '{} application_name={}'\nprimary_slot_name = 'slot_{}'",
            upstream, NAMES[i], NAMES[i]
        )
    }

    fn sync_conf(&self, i: usize) -> String {
        let [a, b] = Cluster::others(i);
        if self.cascade && i == 0 {
            // n2 never streams from n0: n1 is n0's only standby
            return "synchronous_standby_names = 'n1'\n\
                    synchronized_standby_slots = 'slot_n1'"
                .to_string();
        }
        format!(
            "synchronous_standby_names = 'ANY 1 ({}, {})'\n\
             synchronized_standby_slots = 'slot_{}, slot_{}'",
            NAMES[a], NAMES[b], NAMES[a], NAMES[b]
        )
    }

    fn standbys(&self) -> Vec<usize> {
        (0..3).filter(|i| *i != self.primary).collect()
    }

    fn resolve(&self, role: Role) -> Target {
        match role {
            Role::Primary => Target::Node(self.primary),
            Role::Standby(k) => Target::Node(self.standbys()[k.min(1)]),
            Role::Subscriber(k) => Target::Sub(k.min(self.subs.len() - 1)),
        }
    }

    fn retarget(&self, to: usize) {
        let port = self.nodes[to].port;
        for ((_, t), p) in &self.links {
            if *t == to {
                p.retarget(port);
            }
        }
        if let Ok(mut ports) = self.ports.lock() {
            ports[to] = port;
        }
    }

    fn wait(&self, what: &str, secs: u64, mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.ev
            .add(format!("gave up waiting for {what} after {secs} s"));
        false
    }

    fn psql_ok(node: &Node, sql: &str) -> Option<String> {
        let out = node.psql(sql);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Whether every subscription's slot is synced and persistent on every
    /// standby (what an operator checks before a failover).
    fn slots_ready(&self) -> bool {
        let names: Vec<String> = SUBS[..self.subs.len()]
            .iter()
            .map(|s| format!("'{s}'"))
            .collect();
        let sql = format!(
            "SELECT count(*) FROM pg_replication_slots WHERE synced AND NOT temporary \
             AND slot_name IN ({})",
            names.join(",")
        );
        let want = self.subs.len().to_string();
        self.standbys()
            .iter()
            .all(|s| Cluster::psql_ok(&self.nodes[*s], &sql).as_deref() == Some(&want))
    }

    /// The standby to promote, once it has replayed what the standbys
    /// received: the one that received the most WAL, or the cascade `n2`
    /// when `cascade` is asked for and `n2` streams from `n1` (`n1` still
    /// relays to it what it has; if `n2` does not get it in time, the most
    /// advanced standby is taken instead).
    fn candidate(&self, cascade: bool) -> usize {
        let lsn = |i: usize| -> u64 {
            Cluster::psql_ok(
                &self.nodes[i],
                "SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())",
            )
            .and_then(|t| parse_lsn(&t))
            .unwrap_or(0)
        };
        let replayed = |i: usize, target: u64| {
            Cluster::psql_ok(&self.nodes[i], "SELECT pg_last_wal_replay_lsn()")
                .and_then(|t| parse_lsn(&t))
                .is_some_and(|r| r >= target)
        };
        let s = self.standbys();
        let (a, b) = (lsn(s[0]), lsn(s[1]));
        let best = if b > a { s[1] } else { s[0] };
        let target = a.max(b);
        if cascade && self.cascading() {
            self.ev.add("the cascade n2 is the candidate");
            if self.wait("n2 to replay what n1 received", 15, || replayed(2, target)) {
                return 2;
            }
        }
        self.wait("the candidate to replay what it received", 15, || {
            replayed(best, target)
        });
        best
    }

    fn promote(&mut self, new: usize) {
        let node = &self.nodes[new];
        node.safe_psql("SELECT pg_promote()");
        wait_for_result(
            node,
            "SELECT pg_is_in_recovery()",
            "f",
            Duration::from_secs(30),
        );
        self.primary = new;
        self.ev.add(format!("{} promoted", NAMES[new]));
        self.create_slots();
    }

    /// The physical slot of standby `i` on `on`, made if missing; false if
    /// `on` did not answer (a node that is down: its slot is made when it
    /// is back, `rejoin`, `rebuild`).
    ///
    /// On a standby (the cascade's slot on `n1`) a slot of that name may be
    /// a synced copy of the primary's (tandem copies the primary's physical
    /// slots), which cannot be streamed through: the primary's is dropped
    /// (`create_slots`), and the copy goes with the standby's next sync
    /// cycle; it is waited for before the slot is made.
    fn ensure_slot(&self, on: usize, i: usize) -> bool {
        let p = &self.nodes[on];
        let slot = format!("slot_{}", NAMES[i]);
        let query = format!(
            "SELECT count(*) FILTER (WHERE synced), count(*) FROM pg_replication_slots \
             WHERE slot_name = '{slot}'"
        );
        let mut have = Cluster::psql_ok(p, &query);
        if have.as_deref() == Some("1|1") {
            self.ev.add(format!(
                "{slot} on {} is a synced copy of the primary's: waiting for it to go",
                NAMES[on]
            ));
            self.wait(&format!("the synced copy of {slot} to go"), 15, || {
                Cluster::psql_ok(p, &query).as_deref() != Some("1|1")
            });
            have = Cluster::psql_ok(p, &query);
        }
        match have.as_deref() {
            Some("0|0") => {
                let made = Cluster::psql_ok(
                    p,
                    &format!("SELECT pg_create_physical_replication_slot('{slot}', true)"),
                )
                .is_some();
                self.ev.add(format!(
                    "physical slot {slot} {} on {}",
                    if made { "made" } else { "could not be made" },
                    NAMES[on]
                ));
                made
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The physical slots of the two other nodes on their upstream: the
    /// primary, or for the cascade `n1` (if it answers).
    ///
    /// In the cascade, `n0` holds no slot for `n2` (which never streams
    /// from it): one it has (a synced copy kept from its time as a
    /// standby) is dropped, or `n1` would copy it and the cascade could not
    /// stream through its own.
    fn create_slots(&self) {
        if self.cascade && self.primary == 0 {
            let dropped = Cluster::psql_ok(
                &self.nodes[0],
                "SELECT slot_name, pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = 'slot_n2' AND active_pid IS NULL",
            );
            if dropped.is_some_and(|d| d.starts_with("slot_n2")) {
                self.ev.add("stale slot_n2 dropped on n0");
            }
        }
        for o in Cluster::others(self.primary) {
            let up = self.upstream(o);
            if !self.ensure_slot(up, o) && up == self.primary {
                panic!(
                    "could not make slot_{} on the primary {}",
                    NAMES[o], NAMES[up]
                );
            }
        }
    }

    /// Standby `i` streams from its upstream.
    fn streams(&self, i: usize) -> bool {
        Cluster::psql_ok(
            &self.nodes[self.upstream(i)],
            &format!(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = '{}' \
                 AND state = 'streaming'",
                NAMES[i]
            ),
        )
        .as_deref()
            == Some("1")
    }

    /// The stopped former primary `old` comes back as a standby of its
    /// upstream: standby.signal and a start; if it cannot follow (its WAL
    /// went past the switch point: there is no rewind), it is made afresh
    /// with a base backup. When `old` is `n1` and `n2` cascades from it,
    /// `n2` must stream again too (a rebuilt `n1` may no longer hold the WAL
    /// `n2` needs: then `n2` is rebuilt as well).
    fn rejoin(&mut self, old: usize, planned: bool) {
        let signal = self.nodes[old].datadir.join("standby.signal");
        if let Err(e) = std::fs::write(&signal, "") {
            panic!("write {}: {e}", signal.display());
        }
        self.ensure_slot(self.upstream(old), old);
        self.nodes[old].start();
        self.ev.add(format!(
            "{} rejoins as a standby of {}",
            NAMES[old],
            NAMES[self.upstream(old)]
        ));
        let mut rebuilt = false;
        if !self.wait(&format!("{} to stream", NAMES[old]), 8, || {
            self.streams(old)
        }) {
            let log = self.nodes[old].log();
            let forked = log.contains("forked off") || log.contains("is not a child");
            self.rebuild(
                old,
                &format!(
                    "{}{}",
                    if forked {
                        "forked off the new timeline"
                    } else {
                        "no stream"
                    },
                    if planned {
                        " after a planned switchover!"
                    } else {
                        ""
                    }
                ),
            );
            rebuilt = true;
        }
        if old == 1 && self.cascading() {
            self.ensure_slot(1, 2);
            if self.wait("n2 to stream from n1 again", 10, || self.streams(2)) {
                return;
            }
            let why = if rebuilt {
                "its upstream n1 was rebuilt"
            } else {
                "no stream from n1"
            };
            self.rebuild(2, why);
        }
    }

    /// Makes standby `i` afresh: a base backup of the primary, its slot on
    /// its upstream, the same proxies (retargeted to its new port).
    fn rebuild(&mut self, i: usize, why: &str) {
        self.ev.add(format!(
            "{} does not follow ({why}); rebuilt with a base backup",
            NAMES[i]
        ));
        self.nodes[i].kill9();
        self.ensure_slot(self.upstream(i), i);
        let fresh = Node::basebackup(NAMES[i], &self.nodes[self.primary], &["-c", "fast"]);
        fresh.append_conf(&self.node_conf(i));
        fresh.append_conf(&self.sync_conf(i));
        let signal = fresh.datadir.join("standby.signal");
        if let Err(e) = std::fs::write(&signal, "") {
            panic!("write {}: {e}", signal.display());
        }
        self.nodes[i] = fresh;
        self.retarget(i);
        self.nodes[i].start();
        self.wait(&format!("rebuilt {} to stream", NAMES[i]), 30, || {
            self.streams(i)
        });
        if i == 1 && self.cascading() {
            self.ensure_slot(1, 2);
        }
    }

    fn repoint(&mut self, how: Repoint) {
        for k in 0..self.subs.len() {
            let from = sub_from(k);
            let p = self.primary;
            let conn = match how {
                Repoint::Follow if self.sub_single[k].is_none() => continue,
                Repoint::Follow => self.conninfo(from, &[0, 1, 2]),
                Repoint::AlterSingle => self.conninfo(from, &[p]),
                Repoint::AlterMulti => {
                    let [a, b] = Cluster::others(p);
                    self.conninfo(from, &[p, a, b])
                }
            };
            self.subs[k].safe_psql(&format!(
                "ALTER SUBSCRIPTION {} CONNECTION '{conn}'",
                SUBS[k]
            ));
            self.sub_single[k] = (how == Repoint::AlterSingle).then_some(p);
            self.ev.add(format!(
                "ALTER SUBSCRIPTION {} CONNECTION to {}",
                SUBS[k],
                if how == Repoint::AlterSingle {
                    NAMES[p].to_string()
                } else {
                    "every node".to_string()
                }
            ));
        }
    }

    fn hold(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// Applies, holds and heals one fault; false if it was skipped.
    /// `to_cascade`: a failover or switchover promotes the cascade `n2`
    /// if it streams from `n1` then.
    fn apply(&mut self, step: &Step, to_cascade: bool, switchover_command: Option<&str>) -> bool {
        match step.fault {
            Fault::Kill(role) => {
                match self.resolve(role) {
                    Target::Node(i) => {
                        self.nodes[i].kill9();
                        self.ev.add(format!("kill -9 {} ({role})", NAMES[i]));
                        self.hold(step.hold_ms);
                        self.nodes[i].start();
                        self.ev.add(format!("{} started again", NAMES[i]));
                    }
                    Target::Sub(k) => {
                        self.subs[k].kill9();
                        self.ev.add(format!("kill -9 subscriber {}", SUBS[k]));
                        self.hold(step.hold_ms);
                        self.subs[k].start();
                        self.ev.add(format!("subscriber {} started again", SUBS[k]));
                    }
                }
                true
            }
            Fault::Link { from, fault } => {
                let (f, name, to) = match self.resolve(from) {
                    Target::Node(i) => (i, NAMES[i].to_string(), self.upstream(i)),
                    Target::Sub(k) => (sub_from(k), SUBS[k].to_string(), self.primary),
                };
                let proxy = self.link(f, to);
                match fault {
                    LinkFault::Break => proxy.break_connections(),
                    LinkFault::Stall => proxy.stall(),
                    LinkFault::Slow(ms) => proxy.slow(Duration::from_millis(u64::from(ms))),
                }
                self.ev
                    .add(format!("link {name} -> {} ({from}): {fault:?}", NAMES[to]));
                self.hold(step.hold_ms);
                self.link(f, to).pass();
                self.ev.add(format!("link {name} -> {} healed", NAMES[to]));
                true
            }
            Fault::Failover(how) => {
                if !self.wait("the failover slots to be ready on the standbys", 20, || {
                    self.slots_ready()
                }) {
                    self.ev.add("failover skipped: slots not ready");
                    return false;
                }
                let old = self.primary;
                self.nodes[old].kill9();
                self.ev
                    .add(format!("kill -9 primary {} (failover)", NAMES[old]));
                let new = self.candidate(to_cascade);
                self.promote(new);
                self.repoint(how);
                self.hold(step.hold_ms);
                self.rejoin(old, false);
                true
            }
            Fault::Switchover(how) => {
                if !self.wait("the failover slots to be ready on the standbys", 20, || {
                    self.slots_ready()
                }) {
                    self.ev.add("switchover skipped: slots not ready");
                    return false;
                }
                let old = self.primary;
                if let Some(cmd) = switchover_command {
                    let new = self.candidate(to_cascade);
                    self.ev.add(format!(
                        "switchover {} -> {} by command",
                        NAMES[old], NAMES[new]
                    ));
                    let st = Command::new("sh")
                        .arg("-c")
                        .arg(cmd)
                        .env("FAULTS_OLD_PRIMARY_PORT", self.nodes[old].port.to_string())
                        .env("FAULTS_NEW_PRIMARY_PORT", self.nodes[new].port.to_string())
                        .env("FAULTS_OLD_PRIMARY_DATADIR", &self.nodes[old].datadir)
                        .status();
                    if !st.is_ok_and(|s| s.success()) {
                        panic!("switchover command failed: {cmd}");
                    }
                    wait_for_result(
                        &self.nodes[new],
                        "SELECT pg_is_in_recovery()",
                        "f",
                        Duration::from_secs(30),
                    );
                    self.primary = new;
                    self.create_slots();
                    self.repoint(how);
                    return true;
                }
                self.nodes[old].stop();
                self.ev
                    .add(format!("fast stop of primary {} (switchover)", NAMES[old]));
                let new = self.candidate(to_cascade);
                self.promote(new);
                self.repoint(how);
                self.hold(step.hold_ms.min(500));
                self.rejoin(old, true);
                true
            }
        }
    }
}

enum Target {
    Node(usize),
    Sub(usize),
}

/// Samples the standbys' synced slots every 200 ms until stopped.
fn sampler(
    ports: Arc<Mutex<[u16; 3]>>,
    ev: Events,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<SlotSample>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return out;
        };
        // the most each node (by port: a rebuilt node has a new one) has
        // flushed: WAL on disk survives a kill
        let mut flushed: HashMap<u16, u64> = HashMap::new();
        let mut conns: HashMap<u16, tokio_postgres::Client> = HashMap::new();
        rt.block_on(async {
            while !stop.load(Ordering::SeqCst) {
                let now: [u16; 3] = ports.lock().map(|p| *p).unwrap_or([0; 3]);
                for (i, port) in now.iter().enumerate() {
                    if !conns.contains_key(port) {
                        let info = format!(
                            "host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=1"
                        );
                        let c = tokio::time::timeout(
                            Duration::from_secs(1),
                            tokio_postgres::connect(&info, NoTls),
                        )
                        .await;
                        let Ok(Ok((client, conn))) = c else { continue };
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                        conns.insert(*port, client);
                    }
                    let Some(c) = conns.get(port) else { continue };
                    let q = c.simple_query(
                        "SELECT slot_name, confirmed_flush_lsn, pg_last_wal_receive_lsn(), \
                         pg_last_wal_replay_lsn() FROM pg_replication_slots \
                         WHERE synced AND slot_type = 'logical' \
                         AND confirmed_flush_lsn IS NOT NULL AND pg_is_in_recovery()",
                    );
                    let rows = match tokio::time::timeout(Duration::from_secs(1), q).await {
                        Ok(Ok(rows)) => rows,
                        _ => {
                            conns.remove(port);
                            continue;
                        }
                    };
                    for m in rows {
                        let SimpleQueryMessage::Row(r) = m else {
                            continue;
                        };
                        let lsn = |k: usize| r.get(k).and_then(parse_lsn).unwrap_or(0);
                        let seen = flushed.entry(*port).or_insert(0);
                        *seen = (*seen).max(lsn(2)).max(lsn(3));
                        out.push(SlotSample {
                            at_ms: ev.ms(),
                            node: NAMES[i].to_string(),
                            slot: r.get(0).unwrap_or("").to_string(),
                            confirmed_flush: lsn(1),
                            flushed: *seen,
                        });
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        out
    })
}

/// Stops the sampler even when the run unwinds.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn read_state(node: &Node, name: &str, ordered: bool) -> NodeState {
    let cols = if ordered {
        "client, seq, k, v, applied"
    } else {
        "client, seq, k, v, 0"
    };
    let mut st = NodeState {
        name: name.to_string(),
        ordered,
        ..Default::default()
    };
    let num = |s: &str| s.trim().parse::<i64>().unwrap_or(-1);
    for line in node.safe_psql(&format!("SELECT {cols} FROM log")).lines() {
        let f: Vec<i64> = line.split('|').map(num).collect();
        if f.len() == 5 {
            st.log.push(Row {
                client: f[0] as u32,
                seq: f[1] as u32,
                key: f[2] as u32,
                v: f[3],
                applied: f[4],
            });
        }
    }
    for line in node.safe_psql("SELECT k, v FROM kv").lines() {
        let f: Vec<i64> = line.split('|').map(num).collect();
        if f.len() == 2 {
            st.kv.insert(f[0] as u32, f[1]);
        }
    }
    for line in node.safe_psql("SELECT client, seq FROM items").lines() {
        let f: Vec<i64> = line.split('|').map(num).collect();
        if f.len() == 2 {
            st.items.insert((f[0] as u32, f[1] as u32));
        }
    }
    st
}

/// The topology, ready: primary, two synchronous standbys holding the
/// subscriptions' slots, the subscribers with their tables copied.
fn setup(cfg: &Config, ev: Events, cascade: bool) -> Cluster {
    let mut links = HashMap::new();
    let nsubs = if cfg.pg17 { 2 } else { 1 };
    let froms: Vec<usize> = (0..3)
        .chain((0..nsubs).map(sub_from))
        .chain([CLIENTS])
        .collect();
    for f in &froms {
        for t in 0..3 {
            if *f != t {
                links.insert((*f, t), Proxy::start(0));
            }
        }
    }
    let mut c = Cluster {
        nodes: Vec::new(),
        primary: 0,
        subs: Vec::new(),
        links,
        sub_single: vec![None; nsubs],
        ports: Arc::new(Mutex::new([0; 3])),
        ev,
        short: cfg.short,
        cascade,
    };
    let mut n0 = Node::init_with(NAMES[0], &["--wal-segsize", "1"]);
    n0.append_conf(&c.node_conf(0));
    n0.start();
    n0.safe_psql(PUBLISHER_DDL);
    n0.safe_psql(&format!(
        "INSERT INTO kv SELECT g, 0 FROM generate_series(0, {}) g",
        cfg.keys - 1
    ));
    c.nodes.push(n0);
    c.retarget(0);
    for i in 1..3 {
        let slot = format!("slot_{}", NAMES[i]);
        let s = if c.cascade && i == 2 {
            // its slot on n1 first: it keeps n1's WAL from before the
            // backup's start
            c.wait("n1 to stream", 30, || c.streams(1));
            c.ensure_slot(1, 2);
            Node::basebackup(NAMES[i], &c.nodes[0], &["-c", "fast"])
        } else {
            Node::basebackup(NAMES[i], &c.nodes[0], &["-C", "-S", &slot, "-c", "fast"])
        };
        s.append_conf(&c.node_conf(i));
        s.append_conf(&c.sync_conf(i));
        let signal = s.datadir.join("standby.signal");
        if let Err(e) = std::fs::write(&signal, "") {
            panic!("write {}: {e}", signal.display());
        }
        c.nodes.push(s);
        c.retarget(i);
        c.nodes[i].start();
    }
    c.nodes[0].append_conf(&c.sync_conf(0));
    c.nodes[0].safe_psql("SELECT pg_reload_conf()");
    let direct = if c.cascade { "1" } else { "2" };
    c.wait(
        "the standbys synchronous (and the cascade streaming)",
        30,
        || {
            Cluster::psql_ok(
                &c.nodes[0],
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')",
            )
            .as_deref()
                == Some(direct)
                && (!c.cascade || c.streams(2))
        },
    );
    for k in 0..nsubs {
        let sub = if k == 0 {
            let mut s = Node::init("sub");
            s.append_conf("wal_retrieve_retry_interval = '100ms'");
            s.start();
            s
        } else {
            let mut s = Node::init_pg17("pgsub", &[("wal_retrieve_retry_interval", "'100ms'")]);
            s.start();
            s
        };
        sub.safe_psql(SUBSCRIBER_DDL);
        let conn = c.conninfo(sub_from(k), &[0, 1, 2]);
        sub.safe_psql(&format!(
            "CREATE SUBSCRIPTION {} CONNECTION '{conn}' PUBLICATION pub WITH (failover = true)",
            SUBS[k]
        ));
        wait_for_result(
            &sub,
            "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'",
            "0",
            Duration::from_secs(60),
        );
        if sub.kind() == NodeKind::Postgres17 {
            c.ev.add("PostgreSQL 17 subscriber ready");
        }
        c.subs.push(sub);
    }
    c.wait(
        "the subscriptions' slots synced on both standbys",
        60,
        || c.slots_ready(),
    );
    c.ev.add(if c.cascade {
        "topology ready (cascade: n2 streams from n1)"
    } else {
        "topology ready (flat: n1 and n2 stream from n0)"
    });
    c
}

/// Waits until the subscribers and standbys have everything the primary
/// has (same `log` count, standbys replayed its WAL end).
fn converge(c: &Cluster) -> bool {
    let secs = if c.short { 30 } else { 45 };
    let p = &c.nodes[c.primary];
    c.wait("the subscribers and standbys to catch up", secs, || {
        let Some(count) = Cluster::psql_ok(p, "SELECT count(*) FROM log") else {
            return false;
        };
        let Some(end) = Cluster::psql_ok(p, "SELECT pg_current_wal_lsn()") else {
            return false;
        };
        c.subs
            .iter()
            .all(|s| Cluster::psql_ok(s, "SELECT count(*) FROM log").as_deref() == Some(&count))
            && c.standbys().iter().all(|s| {
                Cluster::psql_ok(
                    &c.nodes[*s],
                    &format!("SELECT pg_last_wal_replay_lsn() >= '{end}'"),
                )
                .as_deref()
                    == Some("t")
            })
    })
}

impl Cluster {
    /// Copies every node's data directory (its `server.log` included) to
    /// `dir/seed-<seed>/<name>`; returns that directory.
    fn keep(&self, dir: &std::path::Path, seed: u64) -> std::path::PathBuf {
        let to = dir.join(format!("seed-{seed}"));
        let _ = std::fs::remove_dir_all(&to);
        if let Err(e) = std::fs::create_dir_all(&to) {
            self.ev.add(format!("could not make {}: {e}", to.display()));
            return to;
        }
        let all = self
            .nodes
            .iter()
            .zip(NAMES)
            .map(|(n, name)| (n, name.to_string()))
            .chain(self.subs.iter().zip(SUBS).map(|(n, s)| (n, s.to_string())));
        for (node, name) in all {
            let ok = Command::new("cp")
                .arg("-a")
                .arg(&node.datadir)
                .arg(to.join(&name))
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                self.ev
                    .add(format!("could not copy the data directory of {name}"));
            }
        }
        to
    }
}

/// One run of `cfg.seed`; `progress` gets each event as it happens.
pub fn run(cfg: &Config, progress: Arc<dyn Fn(&str) + Send + Sync>) -> Outcome {
    let started = Instant::now();
    let ev = Events::new(started, progress);
    let all = schedule(
        cfg.seed,
        &Params {
            faults: cfg.faults,
            subscribers: if cfg.pg17 { 2 } else { 1 },
            short: cfg.short,
        },
    );
    let topo = topology(cfg.seed, all.len());
    let cascade = cfg.cascade.unwrap_or(topo.cascade);
    // (index in the seed's schedule, step)
    let steps: Vec<(usize, Step)> = match &cfg.only {
        None => all.iter().copied().enumerate().collect(),
        Some(only) => only
            .iter()
            .filter_map(|i| all.get(*i).map(|s| (*i, *s)))
            .collect(),
    };
    let mut faults = 0;
    let mut skipped = 0;
    let mut history = History::default();
    let ev2 = ev.clone();
    let cfg2 = cfg.clone();
    let mut kept_cluster: Option<Cluster> = None;
    let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut c = setup(&cfg2, ev2.clone(), cascade);
        let stop = Arc::new(AtomicBool::new(false));
        let _stop = StopOnDrop(stop.clone());
        let samples = sampler(c.ports.clone(), ev2.clone(), stop.clone());
        let conn = c.conninfo(CLIENTS, &[0, 1, 2]);
        let load = Workload::start(cfg2.clients, cfg2.keys, cfg2.seed, conn, started);
        c.hold(if cfg2.short { 500 } else { 1000 });
        for (n, (index, step)) in steps.iter().enumerate() {
            ev2.add(format!(
                "fault {}/{} (#{index} of the schedule): {} (acked so far {})",
                n + 1,
                steps.len(),
                step.fault,
                load.acked.load(Ordering::Relaxed)
            ));
            let to_cascade = topo.promote_cascade.get(*index).copied().unwrap_or(false);
            if c.apply(step, to_cascade, cfg2.switchover_command.as_deref()) {
                faults += 1;
            } else {
                skipped += 1;
            }
            c.hold(step.gap_ms);
        }
        let txns = load.finish();
        ev2.add("workload stopped");
        let converged = converge(&c);
        stop.store(true, Ordering::SeqCst);
        history.samples = samples.join().unwrap_or_default();
        let per_node: Vec<String> = NAMES
            .iter()
            .map(|n| {
                let k = history.samples.iter().filter(|s| s.node == *n).count();
                format!("{n}={k}")
            })
            .collect();
        ev2.add(format!("synced slot samples: {}", per_node.join(" ")));
        history.txns = txns;
        history.primary = read_state(&c.nodes[c.primary], NAMES[c.primary], false);
        for s in c.standbys() {
            history
                .others
                .push(read_state(&c.nodes[s], NAMES[s], false));
        }
        for (k, s) in c.subs.iter().enumerate() {
            history.others.push(read_state(s, SUBS[k], true));
        }
        if !converged {
            ev2.add("not converged");
        }
        kept_cluster = Some(c);
    }));
    history.events = ev.take();
    let error = body.err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string())
    });
    let report = if error.is_none() {
        check::check(&history)
    } else {
        Report::default()
    };
    let mut kept = None;
    if let (Some(dir), Some(c)) = (&cfg.keep, &kept_cluster) {
        if !report.ok() {
            kept = Some(c.keep(dir, cfg.seed));
        }
    }
    drop(kept_cluster);
    Outcome {
        seed: cfg.seed,
        schedule: all,
        cascade,
        faults,
        skipped,
        report,
        history,
        error,
        secs: started.elapsed().as_secs_f64(),
        kept,
    }
}
