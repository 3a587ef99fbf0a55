//! Quorum forms of `synchronized_standby_slots` (`ANY n (...)`, `FIRST n
//! (...)`, the `synchronous_standby_names` grammar): with one of two listed
//! standbys stopped, `ANY 1 (s1, s2)` keeps a failover slot's consumer
//! flowing, while the plain list `s1, s2` (every slot, PostgreSQL's meaning)
//! holds it back and reports the stopped standby's slot.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use tandem_testkit::{pg_recvlogical, wait_for, Node, DEADLINE};

/// Kills a child process on drop (a failing test must not leave it running).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn set_standby_slots(primary: &Node, value: &str) {
    primary.safe_psql(&format!(
        "ALTER SYSTEM SET synchronized_standby_slots = '{value}'"
    ));
    primary.safe_psql("SELECT pg_reload_conf()");
    wait_for("the reload", DEADLINE, || {
        (primary.safe_psql("SHOW synchronized_standby_slots") == value).then_some(())
    });
}

fn stream(primary: &Node, bin: &Path, slot: &str, out: &Path) -> ChildGuard {
    let child = Command::new(bin)
        .arg("-d")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            primary.port
        ))
        .args(["--slot", slot, "--start", "--no-loop", "-F", "0", "-s", "1"])
        .args(["-o", "include-xids=0", "-f"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn pg_recvlogical: {e}"));
    let guard = ChildGuard(child);
    wait_for(&format!("pg_recvlogical on {slot}"), DEADLINE, || {
        (primary.safe_psql(&format!(
            "SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
        )) == "t")
            .then_some(())
    });
    guard
}

fn has_row(out: &Path, a: i32) -> bool {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .contains(&format!("table public.t: INSERT: a[integer]:{a}\n"))
}

fn wait_row(out: &Path, a: i32, who: &str) {
    wait_for(&format!("row {a} at {who}"), DEADLINE, || {
        has_row(out, a).then_some(())
    });
}

fn slot_active(primary: &Node, slot: &str) -> String {
    primary.safe_psql(&format!(
        "SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

#[test]
fn any_one_of_two_keeps_flowing_while_all_of_holds_back() {
    let Some(bin) = pg_recvlogical() else {
        eprintln!("skipped: no pg_recvlogical");
        return;
    };
    let mut primary = Node::init_with("t054-primary", &["--wal-segsize", "1"]);
    primary.append_conf(
        "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n\
         wal_sender_timeout = 60s\nwal_receiver_status_interval = 1s",
    );
    primary.start();
    primary.safe_psql("CREATE TABLE t (a int PRIMARY KEY)");
    let mut s1 = Node::standby("t054-s1", &primary, "s1");
    s1.start();
    let mut s2 = Node::standby("t054-s2", &primary, "s2");
    s2.start();
    wait_for("both standbys streaming", DEADLINE, || {
        (slot_active(&primary, "s1") == "t" && slot_active(&primary, "s2") == "t").then_some(())
    });
    primary.safe_psql(
        "SELECT pg_create_logical_replication_slot('fo_slot', 'test_decoding', false, false, true)",
    );
    primary.safe_psql("SELECT pg_create_logical_replication_slot('plain_slot', 'test_decoding')");
    set_standby_slots(&primary, "ANY 1 (s1, s2)");
    s2.stop();
    wait_for("s2 to stop streaming", DEADLINE, || {
        (slot_active(&primary, "s2") == "f").then_some(())
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (fo_out, plain_out) = (dir.path().join("fo.txt"), dir.path().join("plain.txt"));
    let _fo = stream(&primary, &bin, "fo_slot", &fo_out);
    let _plain = stream(&primary, &bin, "plain_slot", &plain_out);

    // ANY 1: s1 alone is a quorum
    primary.safe_psql("INSERT INTO t VALUES (1)");
    wait_row(&fo_out, 1, "the failover consumer under ANY 1");

    // every slot: s2 is stopped and behind, so row 2 waits and s2 is reported
    set_standby_slots(&primary, "s1, s2");
    let from = primary.log().len();
    primary.safe_psql("INSERT INTO t VALUES (2)");
    wait_row(&plain_out, 2, "the plain consumer");
    wait_for("the WARNING about s2", DEADLINE, || {
        primary.log().get(from..).is_some_and(|l| l.contains(
            "WARNING:  replication slot \"s2\" specified in parameter \"synchronized_standby_slots\" does not have active_pid",
        )).then_some(())
    });
    assert!(
        !has_row(&fo_out, 2),
        "the failover consumer got row 2 past the stopped standby"
    );

    // back to the quorum: row 2 goes out
    set_standby_slots(&primary, "FIRST 1 (s2, s1)");
    wait_row(&fo_out, 2, "the failover consumer under FIRST 1");
}
