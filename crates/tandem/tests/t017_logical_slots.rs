//! Logical slots end to end:
//!
//! - the real `pg_recvlogical` creates a slot, streams test_decoding output
//!   while rows are inserted, stops at an end position, resumes from the
//!   confirmed position without repeating anything, and drops the slot;
//! - a consumer using peek + advance survives SIGKILL of the node: after the
//!   restart the slot's `confirmed_flush_lsn` is the last one confirmed
//!   before the crash and re-reading yields every committed change after it;
//! - the slot's columns and PostgreSQL's errors for misuse (slot active,
//!   physical slot, `wal_level` too low, advancing backwards, unknown plugin);
//! - the SQL decoding functions in FROM hand a large transaction's rows on
//!   as they are decoded (the server's memory does not grow with it), stop
//!   for `upto_nchanges` only at a transaction's end, and consume everything
//!   under a LIMIT, as PostgreSQL does.
//!
//! pg_recvlogical: PostgreSQL 17's (`PG17_BIN`, see `tandem_testkit::pg17`)
//! when installed, else the system's (15 works against newer servers).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use tandem_testkit::{message, pg_recvlogical, sqlstate, wait_for, Node, DEADLINE};

fn logical_node(name: &str) -> Node {
    let mut node = Node::init(name);
    node.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    node.start();
    node
}

fn recvlogical(node: &Node, bin: &PathBuf, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("-d")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            node.port
        ))
        .args(args);
    c
}

fn run_ok(mut c: Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills a child process on drop (a failing test must not leave it running).
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn wait_exit(&mut self, what: &str) -> std::process::ExitStatus {
        let child = self.0.as_mut().expect("child");
        let status = wait_for(what, DEADLINE, || child.try_wait().ok().flatten());
        self.0 = None;
        status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// INSERT lines of test_decoding output (tables keyed by `id`): the `id` values.
fn inserted_ids(text: &str) -> Vec<i64> {
    text.lines()
        .filter_map(|l| l.split_once(": INSERT: id[integer]:"))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn pg_recvlogical_create_stream_resume_drop() {
    let Some(bin) = pg_recvlogical() else {
        return;
    };
    let node = logical_node("recvlogical");
    node.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    run_ok(
        recvlogical(
            &node,
            &bin,
            &["--slot", "rl", "--create-slot", "--plugin", "test_decoding"],
        ),
        "pg_recvlogical --create-slot",
    );
    assert_eq!(
        node.safe_psql(
            "SELECT slot_type, plugin, database, temporary, active FROM pg_replication_slots WHERE slot_name = 'rl'"
        ),
        "logical|test_decoding|postgres|f|f"
    );

    // Stream while rows are inserted, up to an end position set afterwards.
    let dir = tempfile::tempdir().expect("tempdir");
    let out1 = dir.path().join("out1.txt");
    let mut stream = ChildGuard(Some(
        recvlogical(
            &node,
            &bin,
            &[
                "--slot",
                "rl",
                "--start",
                "--no-loop",
                "-F",
                "0",
                "-s",
                "1",
                "-o",
                "include-xids=0",
                "-f",
            ],
        )
        .arg(&out1)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pg_recvlogical"),
    ));
    wait_for("pg_recvlogical to attach", DEADLINE, || {
        (node.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'rl'") == "t")
            .then_some(())
    });
    for i in 1..=50 {
        node.safe_psql(&format!("INSERT INTO t VALUES ({i}, 'row {i}')"));
    }
    let seen = wait_for("all 50 rows in pg_recvlogical's file", DEADLINE, || {
        let text = std::fs::read_to_string(&out1).unwrap_or_default();
        (inserted_ids(&text).len() >= 50).then_some(text)
    });
    assert_eq!(inserted_ids(&seen), (1..=50).collect::<Vec<_>>());
    assert!(
        seen.contains("BEGIN\n"),
        "include-xids=0 prints a bare BEGIN:\n{seen}"
    );
    assert!(seen.contains("table public.t: INSERT: id[integer]:1 v[text]:'row 1'"));
    // The client confirms what it wrote (-F 0 / -s 1): the slot follows.
    let end = node.safe_psql("SELECT pg_current_wal_lsn()");
    wait_for("confirmed_flush_lsn to reach the inserts", DEADLINE, || {
        let ok = node.safe_psql(&format!(
            "SELECT confirmed_flush_lsn >= '{end}' FROM pg_replication_slots WHERE slot_name = 'rl'"
        ));
        (ok == "t").then_some(())
    });
    // Stop the client (SIGINT: it sends its final feedback and exits).
    if let Some(c) = stream.0.as_ref() {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    }
    stream.wait_exit("pg_recvlogical to exit");
    wait_for("slot released", DEADLINE, || {
        (node.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'rl'") == "f")
            .then_some(())
    });

    // More rows while no one streams; a restarted client gets only those.
    for i in 51..=60 {
        node.safe_psql(&format!("INSERT INTO t VALUES ({i}, 'row {i}')"));
    }
    node.safe_psql("UPDATE t SET v = 'changed' WHERE id = 51");
    node.safe_psql("DELETE FROM t WHERE id = 52");
    let endpos = node.safe_psql("SELECT pg_current_wal_lsn()");
    let out2 = dir.path().join("out2.txt");
    let mut again = recvlogical(
        &node,
        &bin,
        &[
            "--slot",
            "rl",
            "--start",
            "--no-loop",
            "-o",
            "include-xids=0",
            "--endpos",
            &endpos,
            "-f",
        ],
    );
    again.arg(&out2);
    run_ok(again, "pg_recvlogical --start --endpos");
    let text = std::fs::read_to_string(&out2).expect("out2");
    assert_eq!(inserted_ids(&text), (51..=60).collect::<Vec<_>>(), "{text}");
    assert!(
        text.contains("table public.t: UPDATE: id[integer]:51 v[text]:'changed'"),
        "{text}"
    );
    assert!(
        text.contains("table public.t: DELETE: id[integer]:52"),
        "{text}"
    );

    run_ok(
        recvlogical(&node, &bin, &["--slot", "rl", "--drop-slot"]),
        "pg_recvlogical --drop-slot",
    );
    assert_eq!(
        node.safe_psql("SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
}

/// Every committed id, read back through the slot, none lost across SIGKILL.
#[tokio::test]
async fn consumer_survives_sigkill() {
    let mut node = logical_node("crash");
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    c.execute(
        "SELECT pg_create_logical_replication_slot('s', 'test_decoding')",
        &[],
    )
    .await
    .unwrap();
    // Peek, remember, then confirm with advance: a crash can only make us read
    // something twice, never miss it.
    async fn consume(
        c: &tokio_postgres::Client,
        seen: &mut Vec<i64>,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        let rows = c
            .query(
                "SELECT lsn::text, data FROM pg_logical_slot_peek_changes('s', NULL, NULL)",
                &[],
            )
            .await?;
        let mut last_commit = None;
        for r in &rows {
            let data: String = r.get(1);
            seen.extend(inserted_ids(&data));
            if data.starts_with("COMMIT") {
                last_commit = Some(r.get::<_, String>(0));
            }
        }
        if let Some(l) = &last_commit {
            c.execute(
                &format!("SELECT pg_replication_slot_advance('s', '{l}')"),
                &[],
            )
            .await?;
        }
        Ok(last_commit)
    }
    let mut seen = Vec::new();
    let mut confirmed_before_crash = None;
    for i in 1..=200 {
        c.execute(&format!("INSERT INTO t VALUES ({i}, 'v{i}')"), &[])
            .await
            .unwrap();
        if i % 25 == 0 {
            if let Some(l) = consume(&c, &mut seen).await.unwrap() {
                confirmed_before_crash = Some(l);
            }
        }
    }
    // Rows after the last confirmation, then the crash.
    for i in 201..=230 {
        c.execute(&format!("INSERT INTO t VALUES ({i}, 'v{i}')"), &[])
            .await
            .unwrap();
    }
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let confirmed: String = c
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 's'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        Some(confirmed.clone()),
        confirmed_before_crash,
        "the slot keeps the position confirmed before the crash"
    );
    let mut after = Vec::new();
    consume(&c, &mut after).await.unwrap();
    assert_eq!(
        after,
        (201..=230).collect::<Vec<_>>(),
        "re-reading yields exactly the changes after the confirmed position"
    );
    seen.extend(after);
    let committed: BTreeSet<i64> = c
        .query("SELECT id FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0) as i64)
        .collect();
    let got: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(got, committed);
    assert_eq!(seen.len(), committed.len(), "no change delivered twice");
}

/// DDL between changes, then a checkpoint and a crash: decoding after the
/// restart still uses the table definitions as of each change (with only the
/// checkpoint's catalog, row 1 would show `extra` and `gone` would be unknown).
#[tokio::test]
async fn catalog_history_survives_checkpoint_and_crash() {
    let mut node = logical_node("cathist");
    let c = node.connect().await;
    for sql in [
        "CREATE TABLE h (id int PRIMARY KEY)",
        "SELECT pg_create_logical_replication_slot('h', 'test_decoding')",
        "CREATE TABLE gone (g int)",
        "INSERT INTO h VALUES (1)",
        "INSERT INTO gone VALUES (7)",
        "ALTER TABLE h ADD COLUMN extra text",
        "INSERT INTO h VALUES (2, 'two')",
        "DROP TABLE gone",
        "CHECKPOINT",
    ] {
        c.batch_execute(sql).await.unwrap();
    }
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let rows = c
        .query(
            "SELECT data FROM pg_logical_slot_get_changes('h', NULL, NULL, 'skip-empty-xacts', '1', 'include-xids', '0')",
            &[],
        )
        .await
        .unwrap();
    let data: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let changes: Vec<&String> = data.iter().filter(|d| d.starts_with("table")).collect();
    assert_eq!(
        changes,
        vec![
            "table public.h: INSERT: id[integer]:1",
            "table public.gone: INSERT: g[integer]:7",
            "table public.h: INSERT: id[integer]:2 extra[text]:'two'",
        ],
        "{data:?}"
    );
}

#[tokio::test]
async fn slot_misuse_errors() {
    let node = logical_node("errors");
    let c = node.connect().await;
    c.execute(
        "SELECT pg_create_logical_replication_slot('e', 'test_decoding')",
        &[],
    )
    .await
    .unwrap();
    let err = c
        .execute(
            "SELECT pg_create_logical_replication_slot('e', 'test_decoding')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42710"));
    assert_eq!(message(&err), "replication slot \"e\" already exists");

    let err = c
        .execute(
            "SELECT pg_create_logical_replication_slot('x', 'no_such_plugin')",
            &[],
        )
        .await
        .unwrap_err();
    // PostgreSQL 17.11 checks output_plugin_libraries before loading anything.
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"));
    assert_eq!(
        message(&err),
        "library \"no_such_plugin\" may not be used as an output plugin"
    );

    c.execute("SELECT pg_create_physical_replication_slot('p', true)", &[])
        .await
        .unwrap();
    let err = c
        .query(
            "SELECT * FROM pg_logical_slot_get_changes('p', NULL, NULL)",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("55000"));
    assert_eq!(
        message(&err),
        "cannot use physical replication slot for logical decoding"
    );

    // Advancing backwards.
    c.batch_execute("CREATE TABLE a (x int)").await.unwrap();
    c.batch_execute("INSERT INTO a VALUES (1)").await.unwrap();
    c.query(
        "SELECT * FROM pg_logical_slot_get_changes('e', NULL, NULL)",
        &[],
    )
    .await
    .unwrap();
    let err = c
        .query("SELECT pg_replication_slot_advance('e', '0/1')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("22023"));
    assert!(
        message(&err).starts_with("cannot advance replication slot to 0/1, minimum is "),
        "{}",
        message(&err)
    );

    // A slot in use by another session: 55006, also for dropping it.
    let bin = pg_recvlogical();
    if let Some(bin) = bin {
        let _stream = ChildGuard(Some(
            recvlogical(
                &node,
                &bin,
                &["--slot", "e", "--start", "--no-loop", "-f", "-"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pg_recvlogical"),
        ));
        wait_for("slot e active", DEADLINE, || {
            (node.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'e'") == "t")
                .then_some(())
        });
        for sql in [
            "SELECT * FROM pg_logical_slot_get_changes('e', NULL, NULL)",
            "SELECT pg_drop_replication_slot('e')",
        ] {
            let err = c.query(sql, &[]).await.unwrap_err();
            assert_eq!(sqlstate(&err).as_deref(), Some("55006"), "{sql}");
            assert!(
                message(&err).starts_with("replication slot \"e\" is active for PID "),
                "{}",
                message(&err)
            );
        }
    }
}

#[test]
fn wal_level_replica_refuses_logical_slots() {
    let mut node = Node::init("replica");
    node.start();
    let out = node.psql("SELECT pg_create_logical_replication_slot('s', 'test_decoding')");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  logical decoding requires \"wal_level\" >= \"logical\""),
        "{err}"
    );
}

/// Decoding on a hot standby (PostgreSQL 16+): a logical slot created on the
/// standby decodes what the standby replayed; the primary's
/// `pg_log_standby_snapshot()` answers; failover slots cannot be created there.
#[test]
fn logical_slot_on_standby() {
    let primary = logical_node("lstandby-p");
    primary.safe_psql("CREATE TABLE s (id int PRIMARY KEY, v text)");
    let mut standby = Node::basebackup(
        "lstandby-s",
        &primary,
        &["-R", "-C", "-S", "sb", "-c", "fast"],
    );
    standby.append_conf("hot_standby_feedback = on");
    standby.start();
    assert_eq!(standby.safe_psql("SELECT pg_is_in_recovery()"), "t");
    let out = standby.psql(
        "SELECT pg_create_logical_replication_slot('fo', 'test_decoding', false, false, true)",
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot enable failover for a replication slot created on the standby"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    standby.safe_psql("SELECT pg_create_logical_replication_slot('onstandby', 'test_decoding')");
    assert!(primary
        .safe_psql("SELECT pg_log_standby_snapshot()")
        .contains('/'));
    for i in 1..=20 {
        primary.safe_psql(&format!("INSERT INTO s VALUES ({i}, 'x{i}')"));
    }
    primary.safe_psql("UPDATE s SET v = 'y' WHERE id = 3");
    let lsn = primary.safe_psql("SELECT pg_current_wal_lsn()");
    wait_for("standby replays the inserts", DEADLINE, || {
        (standby.safe_psql(&format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'")) == "t")
            .then_some(())
    });
    let text = standby.safe_psql(
        "SELECT data FROM pg_logical_slot_get_changes('onstandby', NULL, NULL, 'include-xids', '0')",
    );
    assert_eq!(inserted_ids(&text), (1..=20).collect::<Vec<_>>(), "{text}");
    assert!(
        text.contains("table public.s: UPDATE: id[integer]:3 v[text]:'y'"),
        "{text}"
    );
    // Consumed: a second read is empty, and the slot survives a standby restart.
    assert_eq!(
        standby
            .safe_psql("SELECT count(*) FROM pg_logical_slot_get_changes('onstandby', NULL, NULL)"),
        "0"
    );
    standby.restart();
    primary.safe_psql("INSERT INTO s VALUES (21, 'after restart')");
    let lsn = primary.safe_psql("SELECT pg_current_wal_lsn()");
    wait_for("standby replays row 21", DEADLINE, || {
        (standby.safe_psql(&format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'")) == "t")
            .then_some(())
    });
    let text = standby.safe_psql(
        "SELECT data FROM pg_logical_slot_get_changes('onstandby', NULL, NULL, 'include-xids', '0')",
    );
    assert_eq!(inserted_ids(&text), vec![21], "{text}");
}

/// SIGKILL while pg_recvlogical streams and a writer inserts: after the
/// restart, a new pg_recvlogical resumes at the slot's confirmed position.
/// Every committed row reaches one of the two files, and the only rows both
/// files hold are the first file's unconfirmed tail.
#[test]
fn sigkill_while_pg_recvlogical_streams() {
    let Some(bin) = pg_recvlogical() else {
        return;
    };
    let mut node = logical_node("crash-stream");
    node.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    node.safe_psql("SELECT pg_create_logical_replication_slot('cs', 'test_decoding')");
    let dir = tempfile::tempdir().expect("tempdir");
    let out1 = dir.path().join("before.txt");
    let mut stream = ChildGuard(Some(
        recvlogical(
            &node,
            &bin,
            &[
                "--slot",
                "cs",
                "--start",
                "--no-loop",
                "-F",
                "0",
                "-s",
                "1",
                "-f",
            ],
        )
        .arg(&out1)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pg_recvlogical"),
    ));
    let port = node.port;
    let writer = std::thread::spawn(move || {
        let mut committed = 0;
        for i in 1..=100_000 {
            let ok = Command::new("psql")
                .args([
                    "-X",
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .arg("-p")
                .arg(port.to_string())
                .arg("-c")
                .arg(format!("INSERT INTO t VALUES ({i}, 'v')"))
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                break;
            }
            committed = i;
        }
        committed
    });
    wait_for("pg_recvlogical to receive 40 rows", DEADLINE, || {
        let text = std::fs::read_to_string(&out1).unwrap_or_default();
        (inserted_ids(&text).len() >= 40).then_some(())
    });
    node.kill9();
    let last_attempted = writer.join().expect("writer");
    stream.wait_exit("pg_recvlogical to notice the crash");
    node.start();
    let committed: Vec<i64> = node
        .safe_psql("SELECT id FROM t ORDER BY id")
        .lines()
        .map(|l| l.parse().expect("id"))
        .collect();
    assert!(committed.len() as i64 >= last_attempted.min(40));
    let endpos = node.safe_psql("SELECT pg_current_wal_lsn()");
    let out2 = dir.path().join("after.txt");
    let mut again = recvlogical(
        &node,
        &bin,
        &[
            "--slot",
            "cs",
            "--start",
            "--no-loop",
            "--endpos",
            &endpos,
            "-f",
        ],
    );
    again.arg(&out2);
    run_ok(again, "pg_recvlogical after the crash");
    let before = inserted_ids(&std::fs::read_to_string(&out1).expect("before"));
    let after = inserted_ids(&std::fs::read_to_string(&out2).expect("after"));
    let mut all: Vec<i64> = before.iter().chain(after.iter()).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, committed, "every committed row was delivered");
    // Overlap only in the first file's unconfirmed tail, in order.
    let overlap: Vec<i64> = before
        .iter()
        .copied()
        .filter(|i| after.contains(i))
        .collect();
    assert_eq!(overlap, before[before.len() - overlap.len()..].to_vec());
    assert_eq!(
        after,
        (after.first().copied().unwrap_or(0)..=committed.last().copied().unwrap_or(0))
            .collect::<Vec<_>>()
    );
}

/// Crash recovery keeps what the slots on disk need: a slot left behind
/// several WAL segments (no checkpoint since) still decodes every change
/// after SIGKILL, although the end-of-recovery checkpoint moves the redo
/// point past those segments. (That checkpoint runs before the server opens
/// its slots; it used to remove their WAL.)
#[test]
fn crash_recovery_keeps_the_wal_a_slot_needs() {
    let mut node = Node::init_with("t017-keep", &["--wal-segsize", "1"]);
    node.append_conf(
        "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n\
         checkpoint_timeout = 1h\nmax_wal_size = 1GB",
    );
    node.start();
    node.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    node.safe_psql("SELECT pg_create_logical_replication_slot('behind', 'test_decoding')");
    node.safe_psql("CHECKPOINT");
    let before = node.safe_psql("SELECT restart_lsn FROM pg_replication_slots");
    // several 1 MB segments of changes the slot has not consumed
    node.safe_psql("INSERT INTO t SELECT g, repeat('x', 400) FROM generate_series(1, 12000) g");
    node.kill9();
    node.start();
    assert_eq!(
        node.safe_psql("SELECT restart_lsn FROM pg_replication_slots"),
        before
    );
    let decoded = node.safe_psql(
        "SELECT count(*) FROM pg_logical_slot_get_changes('behind', NULL, NULL) \
         WHERE data LIKE 'table public.t: INSERT:%'",
    );
    assert_eq!(decoded, "12000");
}

/// Resident memory of process `pid`, in kB.
fn resident_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_decoding_hands_a_large_transaction_on_as_it_is_decoded() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    const ROWS: i64 = 200_000;
    let node = logical_node("t017_sql_stream");
    let c = node.connect().await;
    // one transaction of about 90 MB of output rows, then a small one (each
    // statement its own transaction)
    for sql in [
        "CREATE TABLE big (a int PRIMARY KEY, b text)".to_string(),
        "SELECT 1 FROM pg_create_logical_replication_slot('big', 'test_decoding')".to_string(),
        format!(
            "INSERT INTO big SELECT g, repeat(md5(g::text), 12) \
             FROM generate_series(1, {ROWS}) g"
        ),
        "INSERT INTO big VALUES (0, 'after')".to_string(),
        "CHECKPOINT".to_string(),
    ] {
        c.batch_execute(&sql).await.unwrap();
    }

    // the server's resident memory while it decodes, sampled every 10 ms
    let pid = node.pid().expect("server pid");
    // first the memory the INSERT freed goes back to the system (decoding
    // would otherwise reuse it unseen): wait until two readings agree
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut before = resident_kb(pid);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = resident_kb(pid);
        let settled = now.abs_diff(before) < 2048;
        before = now;
        if settled || std::time::Instant::now() > deadline {
            break;
        }
    }
    let (stop, peak) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(before)),
    );
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(resident_kb(pid), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    let r = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE data LIKE 'table public.big: INSERT:%'), \
             sum(length(data)) FROM pg_logical_slot_peek_changes('big', NULL, NULL)",
            &[],
        )
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let (rows, inserts, bytes): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    assert_eq!((rows, inserts), (ROWS + 5, ROWS + 1));
    let grown = peak.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("decoding {bytes} bytes of rows: resident {before} kB before, grew {grown} kB");
    assert!(
        grown * 1024 < bytes as u64 / 4,
        "the server grew by {grown} kB while decoding {bytes} bytes of rows"
    );

    // upto_nchanges stops only once a transaction is complete: all of the
    // large one (its parts included), none of the next
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_logical_slot_get_changes('big', NULL, 10)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, ROWS + 2);
    let rest: Vec<String> = c
        .query(
            "SELECT data FROM pg_logical_slot_peek_changes('big', NULL, NULL)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert!(rest[1].contains("a[integer]:0 b[text]:'after'"), "{rest:?}");

    // a LIMIT takes one row, and the call still consumes everything
    let first: String = c
        .query_one(
            "SELECT data FROM pg_logical_slot_get_changes('big', NULL, NULL) LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(first.starts_with("BEGIN"), "{first}");
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_logical_slot_peek_changes('big', NULL, NULL)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
