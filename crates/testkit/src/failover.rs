//! Builders and waits for failover tests: a primary whose failover slots a
//! standby synchronizes, that standby (with its physical slot and the slot
//! sync worker on or off), a subscriber with a failover subscription, and
//! the conditions these tests wait on (rows at the subscriber, a synced slot
//! following its source, a promotion finished). The nodes are those of
//! PostgreSQL's `src/test/recovery/t/040_standby_failover_slots_sync.pl`.
//!
//! One setup in one place: a test that needs other settings appends them
//! (a later line of `postgresql.conf` wins), so what every failover test
//! shares stays here.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::{wait_for, wait_value, Node, DEADLINE};

/// The primary's settings: logical decoding, physical streaming, room for
/// ten walsenders and ten slots, status from a standby every second.
pub const PRIMARY_CONF: &str = "wal_sender_timeout = 60s\nwal_receiver_status_interval = 1s\n\
                                wal_level = logical\nmax_wal_senders = 10\n\
                                max_replication_slots = 10";

impl Node {
    /// A started tandem primary for logical decoding and physical
    /// streaming: 1 MiB WAL segments and [`PRIMARY_CONF`].
    pub fn logical_primary(name: &str) -> Node {
        Node::logical_primary_with(name, "")
    }

    /// [`Node::logical_primary`] with `extra` lines appended after
    /// [`PRIMARY_CONF`] (where they repeat a setting, theirs wins).
    pub fn logical_primary_with(name: &str, extra: &str) -> Node {
        let mut p = Node::init_with(name, &["--wal-segsize", "1"]);
        if extra.is_empty() {
            p.append_conf(PRIMARY_CONF);
        } else {
            p.append_conf(&format!("{PRIMARY_CONF}\n{extra}"));
        }
        p.start();
        p
    }

    /// A standby of `primary` streaming from physical slot `slot`, set up
    /// for slot sync (`hot_standby_feedback = on`, `wal_level = logical`;
    /// the base backup's `primary_conninfo` names `dbname=postgres`), with
    /// `sync_replication_slots = on` when `sync` is. Not started.
    pub fn failover_standby(name: &str, primary: &Node, slot: &str, sync: bool) -> Node {
        let s = Node::standby(name, primary, slot);
        s.append_conf("hot_standby_feedback = on\nwal_level = logical");
        if sync {
            s.append_conf("sync_replication_slots = on");
        }
        s
    }

    /// A started [`Node::failover_standby`] with the slot sync worker on.
    pub fn syncing_standby(name: &str, primary: &Node, slot: &str) -> Node {
        let mut s = Node::failover_standby(name, primary, slot, true);
        s.start();
        s
    }

    /// A started tandem subscriber whose apply workers retry quickly
    /// (`wal_retrieve_retry_interval = '100ms'`).
    pub fn subscriber(name: &str) -> Node {
        let mut n = Node::init(name);
        n.append_conf("wal_retrieve_retry_interval = '100ms'");
        n.start();
        n
    }

    /// `SELECT pg_promote()` (which waits for the end of recovery) returns
    /// `t`, and the node then accepts writes.
    pub fn promote(&self) {
        assert_eq!(
            self.safe_psql("SELECT pg_promote()"),
            "t",
            "pg_promote() on {}",
            self.name
        );
        wait_value(self, "SELECT pg_is_in_recovery()", "f");
    }
}

/// A started cascading standby `name` of standby `upstream` (whose
/// primary is `primary`), streaming through physical slot `cascade_slot`
/// made on `upstream`, with the slot sync worker on. tandem makes no base
/// backup from a standby, so it starts as a [`Node::failover_standby`] of
/// `primary` through slot `c_slot`, is re-pointed at `upstream` with
/// `ALTER SYSTEM`, and `c_slot` is dropped once it no longer streams from
/// there.
pub fn cascading_standby(name: &str, primary: &Node, upstream: &Node) -> Node {
    upstream.safe_psql("SELECT pg_create_physical_replication_slot('cascade_slot', true)");
    let mut c = Node::failover_standby(name, primary, "c_slot", false);
    c.start();
    c.safe_psql(&format!(
        "ALTER SYSTEM SET primary_conninfo = '{}'",
        upstream.conninfo("postgres")
    ));
    c.safe_psql("ALTER SYSTEM SET primary_slot_name = 'cascade_slot'");
    c.safe_psql("ALTER SYSTEM SET sync_replication_slots = on");
    c.safe_psql("SELECT pg_reload_conf()");
    wait_value(
        upstream,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'cascade_slot'",
        "t",
    );
    wait_value(
        primary,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'c_slot'",
        "f",
    );
    primary.safe_psql("SELECT pg_drop_replication_slot('c_slot')");
    c
}

/// `ALTER SYSTEM SET setting = 'value'`, a reload, and a wait until `SHOW`
/// gives the new value.
pub fn set_and_reload(node: &Node, setting: &str, value: &str) {
    node.safe_psql(&format!("ALTER SYSTEM SET {setting} = '{value}'"));
    node.safe_psql("SELECT pg_reload_conf()");
    wait_value(node, &format!("SHOW {setting}"), value);
}

/// Sets the primary's `synchronized_standby_slots` (see [`set_and_reload`]).
pub fn set_standby_slots(primary: &Node, value: &str) {
    set_and_reload(primary, "synchronized_standby_slots", value);
}

/// Creates subscription `name` on `sub` to publication `publication` of
/// `publisher` with `failover = true`, and waits until its tables are
/// ready.
pub fn subscribe_failover(sub: &Node, name: &str, publisher: &Node, publication: &str) {
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION {name} CONNECTION '{}' PUBLICATION {publication} \
         WITH (failover = true)",
        publisher.conninfo("postgres")
    ));
    wait_tables_ready(sub);
}

/// Waits until every table of every subscription on `sub` is ready.
pub fn wait_tables_ready(sub: &Node) {
    wait_value(
        sub,
        "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'",
        "0",
    );
}

/// Points subscription `name` on `sub` at `node`.
pub fn repoint_subscription(sub: &Node, name: &str, node: &Node) {
    sub.safe_psql(&format!(
        "ALTER SUBSCRIPTION {name} CONNECTION '{}'",
        node.conninfo("postgres")
    ));
}

/// Inserts `from..=to` into the one-column `table` on `node`, one
/// transaction each.
pub fn insert_seq(node: &Node, table: &str, from: u32, to: u32) {
    for i in from..=to {
        node.safe_psql(&format!("INSERT INTO {table} VALUES ({i})"));
    }
}

/// `from..=to` as `from,from+1,...,to` (empty when `from > to`).
pub fn seq_list(from: u32, to: u32) -> String {
    (from..=to)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits until `column` of `table` on `node` holds exactly `1..=n`, each
/// once.
pub fn wait_rows(node: &Node, table: &str, column: &str, n: u32) {
    wait_value(
        node,
        &format!(
            "SELECT coalesce(string_agg({column}::text, ',' ORDER BY {column}), '') FROM {table}"
        ),
        &seq_list(1, n),
    );
}

/// `field` of `pg_replication_slots` for `slot` on `node` ("" when there is
/// no such slot).
pub fn slot_field(node: &Node, slot: &str, field: &str) -> String {
    node.safe_psql(&format!(
        "SELECT {field} FROM pg_replication_slots WHERE slot_name = '{slot}'"
    ))
}

/// `slot`'s confirmed_flush_lsn on `node` ("" when there is no such slot).
pub fn confirmed(node: &Node, slot: &str) -> String {
    slot_field(node, slot, "confirmed_flush_lsn")
}

/// Waits until `slot` is on standby `s`, synced and persistent.
pub fn wait_synced(s: &Node, slot: &str) {
    wait_value(
        s,
        &format!(
            "SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ),
        "t",
    );
}

/// Waits until `copy` has `slot` synced and persistent, at `source`'s
/// confirmed_flush_lsn (read again at each poll: for a source that stands
/// still).
pub fn wait_slot_follows(copy: &Node, source: &Node, slot: &str) {
    wait_for(
        &format!("{slot} on {} equal to {}'s", copy.name, source.name),
        DEADLINE,
        || {
            let want = confirmed(source, slot);
            let got = copy.safe_psql(&format!(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots \
                 WHERE slot_name = '{slot}' AND synced AND NOT temporary"
            ));
            (!want.is_empty() && got == want).then_some(())
        },
    );
}

/// Waits until `copy` has `slot` synced and persistent, at or past the
/// confirmed_flush_lsn `source` shows now (for a source a writer keeps
/// moving, so that the two are rarely equal at one instant).
pub fn wait_slot_reaches(copy: &Node, source: &Node, slot: &str) {
    let want = confirmed(source, slot);
    assert!(!want.is_empty(), "no slot {slot} on {}", source.name);
    wait_value(
        copy,
        &format!(
            "SELECT confirmed_flush_lsn >= '{want}' FROM pg_replication_slots \
             WHERE slot_name = '{slot}' AND synced AND NOT temporary"
        ),
        "t",
    );
}

/// Refuses (or again allows) new physical replication connections to
/// `primary` (a `reject` line first in `pg_hba.conf`, then a reload);
/// with `end_current` a refusal also ends the walsenders streaming now,
/// else connected standbys stream on. Ordinary connections (slot sync)
/// go on.
pub fn refuse_replication(primary: &Node, refuse: bool, end_current: bool) {
    let path = primary.datadir.join("pg_hba.conf");
    let hba = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read pg_hba.conf: {e}"));
    let reject = "host replication all 127.0.0.1/32 reject\n";
    let hba = hba.replace(reject, "");
    let hba = if refuse {
        format!("{reject}{hba}")
    } else {
        hba
    };
    std::fs::write(&path, hba).unwrap_or_else(|e| panic!("write pg_hba.conf: {e}"));
    primary.safe_psql("SELECT pg_reload_conf()");
    if refuse && end_current {
        wait_for("the standby's walsender to end", DEADLINE, || {
            let n = primary
                .safe_psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication");
            (n == "0").then_some(())
        });
    }
}

/// Parses `X/Y` as an LSN.
pub fn lsn(text: &str) -> u64 {
    let (hi, lo) = text
        .trim()
        .split_once('/')
        .unwrap_or_else(|| panic!("not an LSN: {text:?}"));
    let hi = u64::from_str_radix(hi, 16).unwrap_or_else(|e| panic!("{text}: {e}"));
    let lo = u64::from_str_radix(lo, 16).unwrap_or_else(|e| panic!("{text}: {e}"));
    (hi << 32) | lo
}

/// Kills a child process on drop (a failing test must not leave it running).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Streams logical slot `slot` of `node` with the `pg_recvlogical` at
/// `bin` (`--start --no-loop -F 0 -s 1`, then `options`, then `-f out`)
/// and waits until the slot is active.
pub fn recvlogical(
    bin: &Path,
    node: &Node,
    slot: &str,
    options: &[&str],
    out: &Path,
) -> ChildGuard {
    let child = Command::new(bin)
        .arg("-d")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            node.port
        ))
        .args(["--slot", slot, "--start", "--no-loop", "-F", "0", "-s", "1"])
        .args(options)
        .arg("-f")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn pg_recvlogical: {e}"));
    let guard = ChildGuard(child);
    wait_for(
        &format!("pg_recvlogical to attach to {slot}"),
        DEADLINE,
        || (slot_field(node, slot, "active") == "t").then_some(()),
    );
    guard
}

/// Writes `segments` segments of WAL on `primary`: rows into table
/// `filler` (made if missing; no assertion on decoded changes looks at it),
/// then a segment switch, each time.
pub fn fill_wal(primary: &Node, segments: usize) {
    primary.safe_psql("CREATE TABLE IF NOT EXISTS filler (a int PRIMARY KEY, b text)");
    for _ in 0..segments {
        let n: i64 = primary
            .safe_psql("SELECT count(*) FROM filler")
            .parse()
            .unwrap_or(0);
        primary.safe_psql(&format!(
            "INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series({}, {}) AS g",
            n + 1,
            n + 500
        ));
        primary.safe_psql("SELECT pg_switch_wal()");
    }
}

/// The subscription most failover tests make: table `tab` published as
/// `pub` on `publisher` (made there by `publisher_ddl`, keyed or not) and
/// failover subscription `mysub` on `sub` into a keyless `tab (a int)` (a
/// row applied twice would show), its table ready.
pub fn subscribe_tab(publisher: &Node, sub: &Node, publisher_ddl: &str) {
    sub.safe_psql("CREATE TABLE tab (a int)");
    publisher.safe_psql(publisher_ddl);
    publisher.safe_psql("CREATE PUBLICATION pub FOR TABLE tab");
    subscribe_failover(sub, "mysub", publisher, "pub");
}

/// [`recvlogical`] with test_decoding's `include-xids=0`: the output that
/// [`has_decoded_row`] reads.
pub fn recvlogical_rows(bin: &Path, node: &Node, slot: &str, out: &Path) -> ChildGuard {
    recvlogical(bin, node, slot, &["-o", "include-xids=0"], out)
}

/// Whether `out`, written by [`recvlogical_rows`], holds the insert of `a` into table `t (a int)`.
pub fn has_decoded_row(out: &Path, a: i32) -> bool {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .contains(&format!("table public.t: INSERT: a[integer]:{a}\n"))
}

/// Waits until [`has_decoded_row`] holds; `who` names the consumer.
pub fn wait_decoded_row(out: &Path, a: i32, who: &str) {
    wait_for(&format!("row {a} at {who}"), DEADLINE, || {
        has_decoded_row(out, a).then_some(())
    });
}
