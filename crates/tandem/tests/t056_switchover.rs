//! `tandem switchover`: a planned switchover with zero loss, run against
//! real nodes on loopback (primary, syncing standby, subscriber with a
//! failover subscription).
//!
//! - Under a steady insert load (each row acknowledged or retried on
//!   whichever node accepts writes, a unique violation meaning "already
//!   committed"), a switchover and a switchover back: the subscriber holds
//!   every row exactly once, the former primary streams from the new one,
//!   its leftover failover slot is replaced by a synced copy, and slot sync
//!   works in the new direction.
//! - Refusals: a standby that does not stream from the given primary, a
//!   failover slot not ready on the standby, an unreachable server: each
//!   prints its reason, exits 1, and leaves the primary a primary that
//!   accepts writes, with no slot created on the standby.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tandem_client::ReplClient;
use tandem_testkit::failover::{confirmed, subscribe_tab, wait_slot_reaches, wait_synced};
use tandem_testkit::{free_port, log_errors, tandem_bin, wait_for, wait_value, Node, DEADLINE};

/// A started primary for logical decoding and physical streaming.
fn primary(name: &str) -> Node {
    Node::logical_primary_with(name, "wal_retrieve_retry_interval = 200ms")
}

/// Table `tab` (keyed) published on `p`, and the failover subscription
/// `mysub` on `sub`, its table ready and its slot synced on `s`.
fn subscribe(p: &Node, s: &Node, sub: &Node) {
    subscribe_tab(p, sub, "CREATE TABLE tab (a int PRIMARY KEY)");
    wait_synced(s, "mysub");
}

fn switchover(primary: &Node, standby: &Node, subscribers: &[&Node]) -> Output {
    switchover_args(
        &primary.conninfo("postgres"),
        &standby.conninfo("postgres"),
        &subscribers
            .iter()
            .map(|n| n.conninfo("postgres"))
            .collect::<Vec<_>>(),
    )
}

fn switchover_args(primary: &str, standby: &str, subscribers: &[String]) -> Output {
    let mut c = Command::new(tandem_bin());
    c.args(["switchover", "--primary", primary, "--standby", standby]);
    for s in subscribers {
        c.args(["--subscriber", s]);
    }
    c.output()
        .unwrap_or_else(|e| panic!("run tandem switchover: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Inserts 1, 2, 3, ... into `tab`, one transaction each, on whichever of
/// `targets` accepts writes: an error moves to the other node and retries
/// the same row; a unique violation there means the row was committed
/// before the error. `acked` is the last row known committed.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(targets: [String; 2]) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU32::new(0));
        let (stop2, acked2) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let mut at = 0;
            let mut conn: Option<ReplClient> = None;
            let mut next = 1u32;
            while !stop2.load(Ordering::SeqCst) {
                if conn.is_none() {
                    conn = ReplClient::connect_mode(&targets[at], "false").ok();
                }
                let result = match conn.as_mut() {
                    Some(c) => c
                        .query(&format!("INSERT INTO tab VALUES ({next})"))
                        .map(|_| ())
                        .map_err(|e| e.code.0.to_string()),
                    None => Err("connect".to_string()),
                };
                match result {
                    Ok(()) => {}
                    Err(code) if code == "23505" => {}
                    Err(_) => {
                        conn = None;
                        at = 1 - at;
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                }
                acked2.store(next, Ordering::SeqCst);
                next += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        Writer {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    fn acked(&self) -> u32 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Waits until `n` more rows were committed.
    fn wait_more(&self, n: u32) {
        let want = self.acked() + n;
        wait_for("the writer to commit more rows", DEADLINE, || {
            (self.acked() >= want).then_some(())
        });
    }

    /// Stops the load; the last committed row.
    fn finish(mut self) -> u32 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.acked()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Waits until the subscriber holds exactly the rows `1..=n`, each once.
fn wait_exactly_once(sub: &Node, n: u32) {
    wait_value(
        sub,
        "SELECT count(*) || ',' || count(DISTINCT a) || ',' || min(a) || ',' || max(a) FROM tab",
        &format!("{n},{n},1,{n}"),
    );
}

/// The switchover as the command prints it: the steps in order and a
/// summary with both durations.
fn assert_done(out: &Output) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let order = [
        "checked: ",
        "demoting: fast shutdown, writes refused from now on",
        "restarted as a standby; its shutdown checkpoint is at",
        "replayed it; 1 failover slot synced at the final position (mysub ",
        "promoted: it accepts writes",
        "new primary: synchronized_standby_slots = ",
        "subscription \"mysub\" re-pointed to",
        "subscriptions streaming from the new primary",
        "streams from the new primary through slot",
        "former primary: 1 failover slot replaced by synced copies",
        "former primary: failover-ready (pg_failover_readiness)",
        "switchover complete: writes refused for ",
    ];
    let mut from = 0;
    for line in order {
        let at = stdout[from..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing or out of order in:\n{t}"));
        from += at + line.len();
    }
    assert!(
        stdout.contains(" ms, subscribers applying again after "),
        "{t}"
    );
}

#[test]
fn switchover_under_load_and_back() {
    let p = primary("t056-p");
    let s = Node::syncing_standby("t056-s", &p, "sb_s");
    p.safe_psql("ALTER SYSTEM SET synchronized_standby_slots = 'sb_s'");
    p.safe_psql("SELECT pg_reload_conf()");
    let sub = Node::subscriber("t056-sub");
    subscribe(&p, &s, &sub);

    let writer = Writer::start([p.conninfo("postgres"), s.conninfo("postgres")]);
    writer.wait_more(20);
    let out = switchover(&p, &s, &[&sub]);
    assert_done(&out);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    writer.wait_more(20);

    // the roles are swapped; the former primary streams from the new one
    assert_eq!(p.safe_psql("SELECT pg_is_in_recovery()"), "t");
    assert_eq!(s.safe_psql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(
        p.safe_psql("SELECT status, slot_name FROM pg_stat_wal_receiver"),
        "streaming|tandem_former_primary"
    );
    assert_eq!(
        s.safe_psql("SHOW synchronized_standby_slots"),
        "tandem_former_primary"
    );
    // the subscriber streams from the new primary
    assert_eq!(
        sub.safe_psql("SELECT subconninfo FROM pg_subscription WHERE subname = 'mysub'"),
        s.conninfo("postgres")
    );
    // slot sync in the new direction: the slot moved on S shows on P
    let before = confirmed(&s, "mysub");
    writer.wait_more(10);
    wait_for("mysub to move on the new primary", DEADLINE, || {
        (confirmed(&s, "mysub") != before).then_some(())
    });
    wait_slot_reaches(&p, &s, "mysub");
    assert_eq!(
        p.safe_psql(
            "SELECT failover, synced, temporary FROM pg_replication_slots \
             WHERE slot_name = 'mysub'"
        ),
        "t|t|f"
    );

    // and back: S becomes P's standby again through its old slot sb_s
    let out = switchover(&s, &p, &[&sub]);
    assert_done(&out);
    writer.wait_more(20);
    assert_eq!(p.safe_psql("SELECT pg_is_in_recovery()"), "f");
    assert_eq!(
        s.safe_psql("SELECT status, slot_name FROM pg_stat_wal_receiver"),
        "streaming|sb_s"
    );
    let before = confirmed(&p, "mysub");
    writer.wait_more(10);
    wait_for("mysub to move on the primary", DEADLINE, || {
        (confirmed(&p, "mysub") != before).then_some(())
    });
    wait_slot_reaches(&s, &p, "mysub");

    // exactly once: every committed row, none twice
    let last = writer.finish();
    assert!(last > 90, "{last}");
    wait_exactly_once(&sub, last);
    for node in [&p, &s, &sub] {
        let errors = log_errors(
            &node.log(),
            &[
                // sessions, walreceivers, slot sync workers and apply
                // workers while their upstream shuts down or restarts
                "could not connect to the primary server",
                "could not connect to the publisher",
                "could not fetch failover logical slots info from the primary server",
                "could not fetch physical slots info from the primary server",
                "terminating walreceiver",
                "replication terminated by primary server",
                "the database system is shutting down",
                "the database system is starting up",
                "terminating connection due to administrator command",
                "cannot execute INSERT in a read-only transaction",
                "duplicate key value violates unique constraint",
                "terminating logical replication worker",
                "recovery is in progress",
                "cannot be executed during recovery",
                "could not receive data from WAL stream",
                "error reading result of streaming command",
                "replication slot \"mysub\" is active",
                "logical decoding on standby",
                "cannot use replication slot",
                "server closed the connection unexpectedly",
                // the same, when the closing server still had unread input
                "Connection reset by peer",
                // the apply worker on the former primary, before it is
                // re-pointed, while that one replaces its leftover slot
                "replication slot \"mysub\" does not exist",
                // a slot sync worker between the restart of the former
                // primary and the promotion, when each node is a standby of
                // the other for a moment (the slot is skipped, not changed)
                "cannot synchronize local slot \"mysub\"",
            ],
        );
        assert!(errors.is_empty(), "{}: {errors:#?}", node.name);
    }
}

/// The primary is still a primary that accepts writes, and the standby has
/// no slot for a former primary.
fn assert_unchanged(p: &Node, s: &Node, row: u32) {
    assert_eq!(p.safe_psql("SELECT pg_is_in_recovery()"), "f");
    p.safe_psql(&format!("INSERT INTO tab VALUES ({row})"));
    assert_eq!(
        s.safe_psql(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tandem_former_primary'"
        ),
        "0"
    );
    assert!(!p.datadir.join("standby.signal").exists());
}

fn assert_refused(out: &Output, reason: &str) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tandem switchover: refused: "), "{t}");
    assert!(stderr.contains(reason), "{reason:?} not in:\n{t}");
    assert!(stderr.contains("nothing was changed"), "{t}");
}

#[test]
fn refusals_change_nothing() {
    let p = primary("t056-r-p");
    let s = Node::syncing_standby("t056-r-s", &p, "sb_s");
    p.safe_psql("ALTER SYSTEM SET synchronized_standby_slots = 'sb_s'");
    p.safe_psql("SELECT pg_reload_conf()");
    let sub = Node::subscriber("t056-r-sub");
    subscribe(&p, &s, &sub);
    let other = primary("t056-r-other");

    // the standby does not stream from that primary
    let out = switchover(&other, &s, &[&sub]);
    assert_refused(&out, "is not a standby of");
    other.safe_psql("CREATE TABLE t (a int); INSERT INTO t VALUES (1)");
    assert_unchanged(&p, &s, 1);
    // a failover subscription of the subscriber that connects elsewhere
    other.safe_psql("CREATE TABLE tab2 (a int); CREATE PUBLICATION pub2 FOR TABLE tab2");
    sub.safe_psql("CREATE TABLE tab2 (a int)");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION elsewhere CONNECTION '{}' PUBLICATION pub2 WITH (failover = true)",
        other.conninfo("postgres")
    ));
    let out = switchover(&p, &s, &[&sub]);
    assert_refused(&out, "subscription \"elsewhere\" on ");
    assert_refused(&out, "does not connect to the primary");
    assert_unchanged(&p, &s, 2);
    sub.safe_psql("DROP SUBSCRIPTION elsewhere");

    // a failover slot not ready: the standby's own slot holds its name
    s.safe_psql("SELECT pg_create_logical_replication_slot('clash', 'pgoutput')");
    p.safe_psql(
        "SELECT pg_create_logical_replication_slot('clash', 'pgoutput', false, false, true)",
    );
    // once the standby's sync has met the name (before, it is "not synced")
    wait_value(
        &s,
        "SELECT reason FROM pg_failover_readiness WHERE slot_name = 'clash'",
        "name_taken_by_user_slot",
    );
    let out = switchover(&p, &s, &[&sub]);
    assert_refused(
        &out,
        "failover slot \"clash\" not ready on the standby: name_taken_by_user_slot",
    );
    assert_unchanged(&p, &s, 3);
    p.safe_psql("SELECT pg_drop_replication_slot('clash')");
    s.safe_psql("SELECT pg_drop_replication_slot('clash')");

    // a wrong connection string
    let nobody = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=2",
        free_port()
    );
    let out = switchover_args(
        &p.conninfo("postgres"),
        &nobody,
        &[sub.conninfo("postgres")],
    );
    assert_refused(&out, "connection to server at");
    assert_unchanged(&p, &s, 4);

    // the primary given as the standby
    let out = switchover(&p, &p, &[&sub]);
    assert_refused(&out, "is not in recovery: it is not a standby");
    assert_unchanged(&p, &s, 5);

    // and the subscriber still gets the rows from the primary
    wait_value(
        &sub,
        "SELECT string_agg(a::text, ',' ORDER BY a) FROM tab",
        "1,2,3,4,5",
    );
}
