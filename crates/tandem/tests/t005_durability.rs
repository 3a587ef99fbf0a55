//! Nothing lost: every commit acknowledged to a client survives SIGKILL, including
//! in the middle of a pgbench run; recovery stops cleanly at a torn WAL tail;
//! checkpoints and WAL recycling do not lose data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tandem_testkit::{require_program, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_survive_sigkill() {
    let mut node = Node::init("dur-kill");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY, payload text)")
        .await
        .unwrap();
    drop(c);

    // Four writers insert rows one commit at a time and remember what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4i64 {
        let cl = node.connect().await;
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let id = w * 1_000_000 + i;
                match cl
                    .execute("INSERT INTO acked VALUES ($1, repeat('x', 100))", &[&id])
                    .await
                {
                    Ok(_) => acked.push(id),
                    Err(_) => break,
                }
                i += 1;
            }
            acked
        }));
    }
    // Let them commit a while, then crash the server under them.
    let probe = node.connect().await;
    let deadline = std::time::Instant::now() + tandem_testkit::DEADLINE;
    loop {
        let n: i64 = probe
            .query_one("SELECT count(*) FROM acked", &[])
            .await
            .unwrap()
            .get(0);
        if n >= 2000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "writers made no progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(probe);
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(acked.len() >= 2000);

    node.start();
    let c = node.connect().await;
    let present: std::collections::HashSet<i64> = c
        .query("SELECT id FROM acked", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<_> = acked.iter().filter(|id| !present.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged commits lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(node
        .log()
        .contains("database system was not properly shut down; automatic recovery in progress"));
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_then_crash_then_recover() {
    let mut node = Node::init("dur-ckpt");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE t (k int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'before' FROM generate_series(1, 1000) g")
        .await
        .unwrap();
    c.batch_execute("CHECKPOINT").await.unwrap();
    c.batch_execute("UPDATE t SET v = 'after' WHERE k <= 500; DELETE FROM t WHERE k > 900; ALTER TABLE t ADD COLUMN extra int DEFAULT 7")
        .await
        .unwrap();
    let lsn_before: String = c
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let r = c
        .query_one(
            "SELECT count(*), sum(CASE WHEN v = 'after' THEN 1 ELSE 0 END), sum(extra) FROM t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 900);
    assert_eq!(r.get::<_, i64>(1), 500);
    assert_eq!(r.get::<_, i64>(2), 6300);
    let ge: bool = c
        .query_one(
            "SELECT pg_current_wal_lsn() >= $1::text::pg_lsn",
            &[&lsn_before],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ge, "WAL position went backwards across recovery");
    node.stop();
}

/// An enum type, created before a checkpoint and given a label after it,
/// comes back from a crash with its labels in order, and the rows and index
/// entries written with both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enum_type_survives_checkpoint_and_crash() {
    let mut node = Node::init("dur-enum");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); \
         CREATE TABLE e (k int PRIMARY KEY, m mood); CREATE INDEX e_m ON e (m); \
         INSERT INTO e VALUES (1, 'happy'), (2, 'sad'); CHECKPOINT; \
         ALTER TYPE mood ADD VALUE 'ok' AFTER 'sad'; INSERT INTO e VALUES (3, 'ok')",
    )
    .await
    .unwrap();
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let row = c
        .query_one(
            "SELECT enum_range(NULL::mood)::text, \
             (SELECT string_agg(k::text, ',' ORDER BY m) FROM e), \
             (SELECT k FROM e WHERE m = 'ok')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "{sad,ok,happy}");
    assert_eq!(row.get::<_, String>(1), "2,3,1");
    assert_eq!(row.get::<_, i32>(2), 3);
    node.stop();
}

/// Schemas and the relations in them survive a crash: one made before a
/// checkpoint (from the catalog image), one after it (from the WAL), and a
/// schema dropped after it stays dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_survive_checkpoint_and_crash() {
    let mut node = Node::init("dur-schema");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE SCHEMA app; CREATE TABLE app.t (k serial PRIMARY KEY, v text); \
         CREATE SCHEMA gone; CREATE TABLE gone.x (a int); \
         INSERT INTO app.t (v) VALUES ('a'); CHECKPOINT; \
         CREATE SCHEMA late; CREATE VIEW late.v AS SELECT v FROM app.t; \
         INSERT INTO app.t (v) VALUES ('b'); DROP SCHEMA gone CASCADE",
    )
    .await
    .unwrap();
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let row = c
        .query_one(
            "SELECT (SELECT string_agg(k || v, ',' ORDER BY k) FROM app.t), \
             (SELECT string_agg(v, ',' ORDER BY v) FROM late.v), \
             (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace \
              WHERE oid >= 16384)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "1a,2b");
    assert_eq!(row.get::<_, String>(1), "a,b");
    assert_eq!(row.get::<_, String>(2), "app,late");
    // the serial column's sequence is app's, past the values handed out
    // (after a crash, past those it logged ahead, as PostgreSQL's)
    c.batch_execute("INSERT INTO app.t (v) VALUES ('c')")
        .await
        .unwrap();
    let row = c
        .query_one(
            "SELECT max(k), pg_get_serial_sequence('app.t', 'k') FROM app.t",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i32>(0) > 2);
    assert_eq!(row.get::<_, String>(1), "app.t_k_seq");
    node.stop();
}

/// ALTER COLUMN TYPE that converts values leaves the rows as they are and
/// converts on read: rows stored before it (in the checkpoint image and in
/// the WAL) and a row a transaction bound to the old types commits after it
/// read as the new types after a crash, in binary results and by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_column_types_read_as_the_new_type_after_a_crash() {
    let mut node = Node::init("dur-retype");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE rt (id int PRIMARY KEY, n smallint, r real); \
         INSERT INTO rt VALUES (1, 10, 0.5); CHECKPOINT; INSERT INTO rt VALUES (2, 20, 1.5)",
    )
    .await
    .unwrap();
    let w = node.connect().await;
    w.batch_execute("BEGIN; INSERT INTO rt VALUES (3, 30, 2.5)")
        .await
        .unwrap();
    let alter = tokio::spawn(async move {
        c.batch_execute(
            "ALTER TABLE rt ALTER COLUMN id TYPE bigint; \
             ALTER TABLE rt ALTER COLUMN n TYPE numeric; \
             ALTER TABLE rt ALTER COLUMN r TYPE double precision",
        )
        .await
        .map(|_| c)
    });
    // the writer commits once the ALTER is in (were the ALTER to wait for
    // it, after a deadline)
    let deadline = std::time::Instant::now() + tandem_testkit::DEADLINE;
    while !alter.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    w.batch_execute("COMMIT").await.unwrap();
    let c = alter.await.unwrap().unwrap();
    c.batch_execute("INSERT INTO rt VALUES (5000000000, 40, 3.25)")
        .await
        .unwrap();
    drop(c);
    drop(w);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let rows = c
        .query("SELECT id, n::text, r FROM rt ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, String, f64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = [
        (1, "10", 0.5),
        (2, "20", 1.5),
        (3, "30", 2.5),
        (5_000_000_000, "40", 3.25),
    ];
    let want: Vec<(i64, String, f64)> = want
        .iter()
        .map(|&(i, n, r)| (i, n.to_string(), r))
        .collect();
    assert_eq!(got, want);
    let row = c
        .query_one("SELECT id, n FROM rt WHERE id = $1", &[&3i64])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
    node.stop();
}

/// ALTER COLUMN TYPE that rewrites the rows (a USING expression, a
/// narrower type): the converted rows, from the checkpoint image and the
/// WAL, survive SIGKILL with their index; a writer that built its row for
/// the old type and commits after the ALTER fails with 40001, and an ALTER
/// whose snapshot misses a commit that wrote the table fails with 40001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewritten_column_types_survive_a_crash_and_refuse_stale_writers() {
    use tandem_testkit::sqlstate;
    let mut node = Node::init("dur-rewrite");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE rw (id int PRIMARY KEY, t text, v varchar(10)); \
         CREATE INDEX rw_t ON rw (t); \
         INSERT INTO rw VALUES (1, '10', 'abc'); CHECKPOINT; \
         INSERT INTO rw VALUES (2, '20', 'de'), (3, NULL, NULL)",
    )
    .await
    .unwrap();
    // a writer of the old types, still open when the ALTER commits
    let w = node.connect().await;
    w.batch_execute("BEGIN; INSERT INTO rw VALUES (4, 'forty', 'x')")
        .await
        .unwrap();
    c.batch_execute(
        "ALTER TABLE rw ALTER COLUMN t TYPE bigint USING t::bigint * 2; \
         ALTER TABLE rw ALTER COLUMN v TYPE varchar(3)",
    )
    .await
    .unwrap();
    let e = w.batch_execute("COMMIT").await.expect_err("stale writer");
    assert_eq!(sqlstate(&e).as_deref(), Some("40001"), "{e:?}");
    // an ALTER whose snapshot is older than a commit that wrote the table
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .await
        .unwrap();
    w.batch_execute("INSERT INTO rw VALUES (5, 50, 'y')")
        .await
        .unwrap();
    let e = c
        .batch_execute("ALTER TABLE rw ALTER COLUMN t TYPE int")
        .await
        .expect_err("snapshot older than a write");
    assert_eq!(sqlstate(&e).as_deref(), Some("40001"), "{e:?}");
    c.batch_execute("ROLLBACK").await.unwrap();
    drop(c);
    drop(w);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let rows = c
        .query("SELECT id, t, v FROM rw ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, Option<i64>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = vec![
        (1, Some(20), Some("abc".to_string())),
        (2, Some(40), Some("de".to_string())),
        (3, None, None),
        (5, Some(50), Some("y".to_string())),
    ];
    assert_eq!(got, want);
    let by_index: i32 = c
        .query_one("SELECT id FROM rw WHERE t = $1", &[&40i64])
        .await
        .unwrap()
        .get(0);
    assert_eq!(by_index, 2);
    let e = c
        .batch_execute("INSERT INTO rw VALUES (6, 1, 'long')")
        .await
        .expect_err("varchar(3)");
    assert_eq!(sqlstate(&e).as_deref(), Some("22001"));
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_wal_tail_is_ignored() {
    let mut node = Node::init("dur-torn");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3)")
        .await
        .unwrap();
    // Where the WAL ends, as the server says, and in which segment file.
    let (end_lsn, segment): (String, String) = {
        let r = c
            .query_one(
                "SELECT pg_current_wal_flush_lsn()::text, pg_walfile_name(pg_current_wal_flush_lsn())",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    drop(c);
    node.kill9();
    // Garbage right after the end of WAL: what a torn write leaves behind.
    let (hi, lo) = end_lsn.split_once('/').unwrap();
    let lsn = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    let offset = (lsn % (16 * 1024 * 1024)) as usize;
    let path = node.datadir.join("pg_wal").join(&segment);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes[offset..offset + 64].iter().all(|b| *b == 0),
        "WAL continues past the flush LSN"
    );
    for (i, b) in bytes.iter_mut().enumerate().skip(offset).take(64) {
        *b = (i * 37 % 251) as u8 | 1;
    }
    std::fs::write(&path, &bytes).unwrap();
    node.start();
    let c = node.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    c.batch_execute("INSERT INTO t VALUES (4)").await.unwrap();
    drop(c);
    node.restart();
    let c = node.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    node.stop();
}

/// pgbench's balance invariants: every delta in pgbench_history is in the balances.
pub async fn check_pgbench_invariants(c: &tokio_postgres::Client) {
    let r = c
        .query_one(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts)::bigint, (SELECT sum(tbalance) FROM pgbench_tellers)::bigint,
                    (SELECT sum(bbalance) FROM pgbench_branches)::bigint, (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::bigint",
            &[],
        )
        .await
        .unwrap();
    let (a, t, b, h): (i64, i64, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
    assert_eq!(a, h, "sum(abalance) != sum(delta)");
    assert_eq!(t, h, "sum(tbalance) != sum(delta)");
    assert_eq!(b, h, "sum(bbalance) != sum(delta)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_killed_mid_run_loses_nothing() {
    if !require_program("pgbench") {
        return;
    }
    let mut node = Node::init("dur-pgbench");
    node.start();
    let out = node
        .bin_command("pgbench")
        .args(["-i", "-s", "1", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child = node
        .bin_command("pgbench")
        .args(["-c", "4", "-j", "2", "-T", "30", "-n"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the server once enough transactions have committed.
    let probe = node.connect().await;
    let deadline = std::time::Instant::now() + tandem_testkit::DEADLINE;
    loop {
        let n: i64 = probe
            .query_one("SELECT count(*) FROM pgbench_history", &[])
            .await
            .unwrap()
            .get(0);
        if n >= 1000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pgbench made no progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(probe);
    node.kill9();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let processed: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no transaction count in pgbench output:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    node.start();
    let c = node.connect().await;
    let history: i64 = c
        .query_one("SELECT count(*) FROM pgbench_history", &[])
        .await
        .unwrap()
        .get(0);
    // Each committed TPC-B transaction inserts one history row; transactions in
    // flight at the kill may have committed without pgbench hearing of it.
    assert!(
        history >= processed,
        "pgbench counted {processed} commits but only {history} survived"
    );
    check_pgbench_invariants(&c).await;
    node.stop();
}
