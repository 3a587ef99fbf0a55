//! Functions over several nodes: the primary + standby pair of physical
//! replication tests (tandem's, and PostgreSQL 17's for benchmarks), waiting for a query result, comparing a table across
//! two nodes (tandem or PostgreSQL, in any combination), and reading errors
//! out of server logs.

use std::time::{Duration, Instant};

use crate::{Node, DEADLINE};

impl Node {
    /// A started tandem primary for physical replication: 1 MiB WAL
    /// segments (`--wal-segsize 1`), `wal_sender_timeout = 60s`,
    /// `wal_receiver_status_interval = 1s`.
    pub fn streaming_primary(name: &str) -> Node {
        let mut p = Node::init_with(name, &["--wal-segsize", "1"]);
        p.append_conf("wal_sender_timeout = 60s\nwal_receiver_status_interval = 1s");
        p.start();
        p
    }

    /// A standby of `primary` streaming from physical slot `slot`:
    /// `basebackup -R -C -S slot -c fast`, then
    /// `wal_retrieve_retry_interval = 200ms`. Not started.
    pub fn standby(name: &str, primary: &Node, slot: &str) -> Node {
        let s = Node::basebackup(name, primary, &["-R", "-C", "-S", slot, "-c", "fast"]);
        s.append_conf("wal_retrieve_retry_interval = 200ms");
        s
    }

    /// A PostgreSQL 17 standby of the PostgreSQL 17 `primary` streaming
    /// from physical slot `slot`: a node initialised by the kit (for its
    /// directory, port and cleanup) whose data directory is replaced by
    /// `pg_basebackup -R -C -S slot -c fast -X stream`; its own port is
    /// appended, and `primary_conninfo` names `dbname=postgres` (slot
    /// synchronization needs one). Not started.
    pub fn standby_pg17(name: &str, primary: &Node, slot: &str) -> Node {
        let node = Node::init_pg17(name, &[]);
        let entries = std::fs::read_dir(&node.datadir)
            .unwrap_or_else(|e| panic!("read {}: {e}", node.datadir.display()));
        for entry in entries {
            let p = entry
                .unwrap_or_else(|e| panic!("read {}: {e}", node.datadir.display()))
                .path();
            let removed = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            removed.unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
        }
        let out = node
            .server_program("pg_basebackup")
            .arg("-d")
            .arg(primary.conninfo("postgres"))
            .arg("-D")
            .arg(&node.datadir)
            .args(["-R", "-C", "-S", slot, "-c", "fast", "-X", "stream"])
            .output()
            .unwrap_or_else(|e| panic!("run pg_basebackup: {e}"));
        assert!(
            out.status.success(),
            "pg_basebackup of {name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        node.append_conf(&format!("port = {}", node.port));
        // the auto file (which pg_basebackup -R wrote) wins over postgresql.conf
        let auto = node.datadir.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto)
            .unwrap_or_else(|e| panic!("read {}: {e}", auto.display()));
        text.push_str(&format!(
            "primary_conninfo = '{}'\n",
            primary.conninfo("postgres")
        ));
        std::fs::write(&auto, text).unwrap_or_else(|e| panic!("write {}: {e}", auto.display()));
        node
    }
}

/// Polls `sql` on `node` (psql, see [`Node::psql`]) until it succeeds and
/// its output, trimmed, is `expected`; a failing psql (server starting,
/// in recovery, restarting) is polled again. Panics after `deadline` with
/// the last answer and the node's log.
pub fn wait_for_result(node: &Node, sql: &str, expected: &str, deadline: Duration) {
    let end = Instant::now() + deadline;
    loop {
        let out = node.psql(sql);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && got == expected {
            return;
        }
        if Instant::now() > end {
            let last = if out.status.success() {
                format!("{got:?}")
            } else {
                format!("error {:?}", String::from_utf8_lossy(&out.stderr).trim())
            };
            panic!(
                "timed out after {deadline:?} waiting for {sql:?} on {} to return {expected:?} \
                 (last: {last}); log:\n{}",
                node.name,
                node.log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for_result`] with the default [`DEADLINE`].
pub fn wait_value(node: &Node, sql: &str, expected: &str) {
    wait_for_result(node, sql, expected, DEADLINE)
}

/// Waits until standby `s` has replayed everything primary `p` has written
/// so far (`pg_current_wal_lsn()` on `p`, `pg_last_wal_replay_lsn()` on `s`).
pub fn wait_for_replay(p: &Node, s: &Node) {
    let lsn = p.safe_psql("SELECT pg_current_wal_lsn()");
    wait_value(
        s,
        &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
        "t",
    );
}

/// `SELECT * FROM <table> ORDER BY <key>` as psql text on `node`.
pub fn table_contents(node: &Node, table: &str, key: &str) -> String {
    node.safe_psql(&format!("SELECT * FROM {table} ORDER BY {key}"))
}

/// Panics unless `table` has the same rows (psql's text of every column,
/// ordered by `key`) on both nodes, naming the first difference.
pub fn assert_tables_equal(a: &Node, b: &Node, table: &str, key: &str) {
    let ta = table_contents(a, table, key);
    let tb = table_contents(b, table, key);
    if ta == tb {
        return;
    }
    let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
    let first = la
        .iter()
        .zip(lb.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    panic!(
        "table {table} differs between {} ({} rows) and {} ({} rows); first difference at row {first}: {:?} vs {:?}",
        a.name,
        la.len(),
        b.name,
        lb.len(),
        la.get(first),
        lb.get(first)
    );
}

/// Polls until `table` is equal on both nodes; panics after `deadline` with
/// the difference and both logs.
pub fn wait_tables_equal(a: &Node, b: &Node, table: &str, key: &str, deadline: Duration) {
    let end = Instant::now() + deadline;
    loop {
        if table_contents(a, table, key) == table_contents(b, table, key) {
            return;
        }
        if Instant::now() > end {
            eprintln!("log of {}:\n{}", a.name, a.log());
            eprintln!("log of {}:\n{}", b.name, b.log());
            assert_tables_equal(a, b, table, key);
            panic!("timed out waiting for {table} to match");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ERROR`/`FATAL`/`PANIC` lines of a server log, minus those matching one
/// of `allowed` (substrings).
pub fn log_errors(log: &str, allowed: &[&str]) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("ERROR:") || l.contains("FATAL:") || l.contains("PANIC:"))
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .map(str::to_string)
        .collect()
}
