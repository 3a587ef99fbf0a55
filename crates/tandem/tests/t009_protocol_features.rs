//! Wire-protocol features beyond plain queries: COPY in both directions, cancel
//! requests, TLS (`sslmode=require`), the WAL position functions and `pg_lsn`,
//! and WAL recycling at checkpoints.

use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use tandem_testkit::{message, require_program, sqlstate, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_stdin_and_to_stdout() {
    let mut node = Node::init("copy");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE c (id int PRIMARY KEY, name text, note text)")
        .await
        .unwrap();
    let sink = c
        .copy_in("COPY c (id, name, note) FROM STDIN")
        .await
        .unwrap();
    futures_util::pin_mut!(sink);
    let mut data = String::new();
    for i in 0..1000 {
        data.push_str(&format!(
            "{i}\tname {i}\t{}\n",
            if i % 10 == 0 {
                "\\N".to_string()
            } else {
                format!("tab\\there {i}")
            }
        ));
    }
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    let n = sink.finish().await.unwrap();
    assert_eq!(n, 1000);
    let nulls: i64 = c
        .query_one("SELECT count(*) FROM c WHERE note IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(nulls, 100);
    let note: String = c
        .query_one("SELECT note FROM c WHERE id = 7", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "tab\there 7");

    let stream = c
        .copy_out("COPY (SELECT id, note FROM c WHERE id < 3 ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<_> = stream.collect().await;
    let text: String = chunks
        .into_iter()
        .map(|b| String::from_utf8(b.unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(text, "0\t\\N\n1\ttab\\there 1\n2\ttab\\there 2\n");

    // a bad row fails the whole COPY and the connection stays usable
    let sink = c.copy_in("COPY c FROM STDIN").await.unwrap();
    futures_util::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(
        b"5000\tok\tx\nnot-a-number\tx\tx\n",
    ))
    .await
    .unwrap();
    let e = sink.finish().await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22P02"));
    let n: i64 = c
        .query_one("SELECT count(*) FROM c", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1000);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_a_running_query() {
    let mut node = Node::init("cancel");
    node.start();
    let c = node.connect().await;
    let token = c.cancel_token();
    let watcher = node.connect().await;
    let canceller = tokio::spawn(async move {
        // cancel once the sleep is really running (pg_stat_activity says so)
        let deadline = std::time::Instant::now() + tandem_testkit::DEADLINE;
        loop {
            let n: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if n == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pg_sleep never showed up as active"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let started = std::time::Instant::now();
    let e = c.batch_execute("SELECT pg_sleep(30)").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("57014"));
    assert_eq!(message(&e), "canceling statement due to user request");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    canceller.await.unwrap();
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_functions_and_pg_lsn() {
    let mut node = Node::init("walfns");
    node.start();
    let c = node.connect().await;
    let r = c
        .query_one(
            "SELECT pg_current_wal_lsn() <= pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn() <= pg_current_wal_insert_lsn(),
                    pg_is_in_recovery(), pg_wal_lsn_diff('0/3000060', '0/3000000')::text,
                    '16/B374D848'::pg_lsn::text, '0/10'::pg_lsn > '0/F'::pg_lsn",
            &[],
        )
        .await
        .unwrap();
    assert!(r.get::<_, bool>(0));
    assert!(r.get::<_, bool>(1));
    assert!(!r.get::<_, bool>(2));
    assert_eq!(r.get::<_, String>(3), "96");
    assert_eq!(r.get::<_, String>(4), "16/B374D848");
    assert!(r.get::<_, bool>(5));
    let e = c.query("SELECT 'junk'::pg_lsn", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22P02"));
    assert_eq!(
        message(&e),
        "invalid input syntax for type pg_lsn: \"junk\""
    );

    let recent: bool = c
        .query_one(
            "SELECT pg_postmaster_start_time() BETWEEN now() - interval '10 minutes' AND now()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        recent,
        "pg_postmaster_start_time() is not the server's start"
    );
    let sysid: i64 = c
        .query_one("SELECT system_identifier FROM pg_control_system()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(sysid != 0);
    // the identifier is stable across restarts
    drop(c);
    node.restart();
    let c = node.connect().await;
    let again: i64 = c
        .query_one("SELECT system_identifier FROM pg_control_system()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sysid, again);

    // pg_switch_wal moves to the next segment
    c.batch_execute("CREATE TABLE w (a int); INSERT INTO w VALUES (1)")
        .await
        .unwrap();
    let (before, switched): (String, String) = {
        let r = c
            .query_one(
                "SELECT pg_walfile_name(pg_current_wal_lsn()), pg_switch_wal()::text",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    c.batch_execute("INSERT INTO w VALUES (2)").await.unwrap();
    let after: String = c
        .query_one("SELECT pg_walfile_name(pg_current_wal_lsn())", &[])
        .await
        .unwrap()
        .get(0);
    assert!(after > before, "{before} -> {after} (switch at {switched})");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_recycle_old_wal_segments() {
    let mut node = Node::init_with("recycle", &["--wal-segsize", "1"]);
    node.append_conf("max_wal_size = '64MB'\nwal_keep_size = 0");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE r (id int PRIMARY KEY, pad text)")
        .await
        .unwrap();
    for round in 0..8 {
        c.batch_execute(&format!(
            "INSERT INTO r SELECT g, repeat('x', 500) FROM generate_series({}, {}) g",
            round * 2000,
            round * 2000 + 1999
        ))
        .await
        .unwrap();
    }
    let segs = |n: &Node| {
        std::fs::read_dir(n.datadir.join("pg_wal"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().len() == 24)
            .count()
    };
    let before = segs(&node);
    assert!(before >= 6, "expected several 1 MB segments, got {before}");
    c.batch_execute("CHECKPOINT").await.unwrap();
    let after = segs(&node);
    assert!(
        after < before,
        "checkpoint removed no segment ({before} -> {after})"
    );
    drop(c);
    node.kill9();
    node.start();
    let c = node.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM r", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 16000);
    node.stop();
}

#[test]
fn tls_with_sslmode_require() {
    if !require_program("psql") || !require_program("openssl") {
        return;
    }
    let mut node = Node::init("tls");
    let out = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-newkey",
            "rsa:2048",
        ])
        .arg("-keyout")
        .arg(node.datadir.join("server.key"))
        .arg("-out")
        .arg(node.datadir.join("server.crt"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.append_conf("ssl = on");
    node.start();
    let out = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=require",
            node.port
        ))
        .args(["-X", "-c", "\\conninfo", "-c", "SELECT 42"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SSL connection"), "{stdout}");
    assert!(stdout.contains("42"));
    node.stop();
}

/// A client whose notifications arrive on a channel (tokio-postgres hands
/// them out while it drives the connection).
async fn listener(
    node: &Node,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) {
    let (client, mut conn) =
        tokio_postgres::connect(&node.conninfo("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let _ = tx.send(n);
            }
        }
    });
    (client, rx)
}

/// The next notification, failing the test after a deadline.
async fn next_notification(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) -> tokio_postgres::Notification {
    tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("a notification within 30 s")
        .expect("connection open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_notify_between_sessions() {
    let mut node = Node::init("notify");
    node.start();
    let (a, mut a_rx) = listener(&node).await;
    let b = node.connect().await;
    a.batch_execute("LISTEN jobs; LISTEN other").await.unwrap();
    let b_pid: i32 = b
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    // an idle listener hears a commit of another session without asking
    b.batch_execute("NOTIFY jobs, 'one'").await.unwrap();
    let n = next_notification(&mut a_rx).await;
    assert_eq!(
        (n.process_id(), n.channel(), n.payload()),
        (b_pid, "jobs", "one")
    );

    // in commit order, each (channel, payload) once per transaction; an
    // aborted transaction and a channel nobody listens on send nothing
    b.batch_execute("BEGIN; NOTIFY jobs, 'x'; ROLLBACK")
        .await
        .unwrap();
    b.batch_execute("NOTIFY nobody, 'y'").await.unwrap();
    b.batch_execute(
        "BEGIN; SELECT pg_notify('jobs', 'two'); NOTIFY jobs, 'two'; NOTIFY other; COMMIT",
    )
    .await
    .unwrap();
    let got = [
        next_notification(&mut a_rx).await,
        next_notification(&mut a_rx).await,
    ];
    let got: Vec<(&str, &str)> = got.iter().map(|n| (n.channel(), n.payload())).collect();
    assert_eq!(got, [("jobs", "two"), ("other", "")]);

    // a listener inside a transaction block hears nothing until it ends
    a.batch_execute("BEGIN").await.unwrap();
    b.batch_execute("NOTIFY jobs, 'held'").await.unwrap();
    let usage: f64 = b
        .query_one("SELECT pg_notification_queue_usage()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(usage > 0.0, "the held notification is queued: {usage}");
    assert!(a_rx.try_recv().is_err(), "nothing delivered inside a block");
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(next_notification(&mut a_rx).await.payload(), "held");

    // UNLISTEN, DISCARD ALL and a session's end stop the deliveries
    a.batch_execute("UNLISTEN other").await.unwrap();
    let channels: Vec<String> = a
        .query("SELECT pg_listening_channels()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(channels, ["jobs"]);
    a.batch_execute("DISCARD ALL").await.unwrap();
    b.batch_execute("NOTIFY jobs, 'after discard'")
        .await
        .unwrap();
    a.batch_execute("LISTEN jobs").await.unwrap();
    let a_pid: i32 = a
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    drop(a);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n: i64 = b
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&a_pid],
            )
            .await
            .unwrap()
            .get(0);
        if n == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "listener still connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    b.batch_execute("NOTIFY jobs, 'after exit'").await.unwrap();
    let usage: f64 = b
        .query_one("SELECT pg_notification_queue_usage()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(usage, 0.0, "an ended session's queue is gone");
    assert!(a_rx.try_recv().is_err());
    node.stop();
}

/// Advisory locks between sessions: an exclusive lock keeps another
/// session out (try: false; lock: waits until released), shared locks
/// share, a transaction-level lock goes at COMMIT, a session's locks go
/// when it disconnects, and a waiter can be canceled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisory_locks_between_sessions() {
    let mut node = Node::init("advisory");
    node.start();
    let a = node.connect().await;
    let b = std::sync::Arc::new(node.connect().await);
    async fn try_lock(c: &tokio_postgres::Client, sql: &str) -> bool {
        c.query_one(sql, &[]).await.unwrap().get::<_, bool>(0)
    }
    // until `query` runs in another session (pg_stat_activity, seen from c)
    async fn wait_running(c: &tokio_postgres::Client, query: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1",
                    &[&query],
                )
                .await
                .unwrap()
                .get(0);
            if n == 1 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{query} never ran");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    a.batch_execute("SELECT pg_advisory_lock(42)")
        .await
        .unwrap();
    assert!(!try_lock(&b, "SELECT pg_try_advisory_lock(42)").await);
    assert!(!try_lock(&b, "SELECT pg_try_advisory_lock_shared(42)").await);
    assert!(try_lock(&b, "SELECT pg_try_advisory_lock(0, 42)").await);

    // b waits for a's lock, and has it once a lets go
    let waiter = {
        let b = std::sync::Arc::clone(&b);
        tokio::spawn(async move { b.batch_execute("SELECT pg_advisory_lock(42)").await })
    };
    wait_running(&a, "SELECT pg_advisory_lock(42)").await;
    assert!(!waiter.is_finished(), "b got a lock a holds");
    a.batch_execute("SELECT pg_advisory_unlock(42)")
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("b still waits after the unlock")
        .unwrap()
        .unwrap();
    assert!(!try_lock(&a, "SELECT pg_try_advisory_lock(42)").await);
    b.batch_execute("SELECT pg_advisory_unlock_all()")
        .await
        .unwrap();

    // shared with shared; a transaction-level lock lasts to COMMIT
    assert!(try_lock(&a, "SELECT pg_try_advisory_lock_shared(7)").await);
    assert!(try_lock(&b, "SELECT pg_try_advisory_lock_shared(7)").await);
    a.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(8)")
        .await
        .unwrap();
    assert!(!try_lock(&b, "SELECT pg_try_advisory_xact_lock(8)").await);
    a.batch_execute("COMMIT").await.unwrap();
    assert!(try_lock(&b, "SELECT pg_try_advisory_xact_lock(8)").await);

    // a waiter canceled; a session's locks go with it
    a.batch_execute("SELECT pg_advisory_lock(9)").await.unwrap();
    let cancel = b.cancel_token();
    let waiter = {
        let b = std::sync::Arc::clone(&b);
        tokio::spawn(async move { b.batch_execute("SELECT pg_advisory_lock(9)").await })
    };
    // (the cancel must find the lock call running)
    wait_running(&a, "SELECT pg_advisory_lock(9)").await;
    cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let err = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .expect("the canceled waiter still waits")
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    drop(a);
    // (the server sees the disconnect a moment later)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !try_lock(&b, "SELECT pg_try_advisory_lock(9)").await {
        assert!(
            std::time::Instant::now() < deadline,
            "a's session lock outlived its session"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.stop();
}
