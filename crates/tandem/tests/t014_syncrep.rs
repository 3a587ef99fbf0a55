//! Synchronous replication end to end: a primary with one standby whose
//! `primary_conninfo` carries `application_name=s1` and
//! `synchronous_standby_names = 's1'`: `pg_stat_replication` shows it `sync`
//! (priority 1); with the standby stopped a commit blocks after committing
//! locally, and returns when the standby comes back; emptying the setting and
//! reloading releases a waiter; a cancel ends the wait with PostgreSQL's WARNING
//! and the commit stands; `synchronous_commit = local` does not wait.
//!
//! "Blocked" is shown by a condition, not by a sleep: the row is visible to
//! another session on the primary (so the commit happened and the session is in
//! the standby wait) and `pg_stat_replication` is empty (the standby is down),
//! yet the INSERT has not returned. The only fixed delay is a bounded
//! observation window (`OBSERVE`) during which the INSERT must stay blocked.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tandem_testkit::{wait_value, Node, DEADLINE};

/// How long a blocked commit is watched to stay blocked.
const OBSERVE: Duration = Duration::from_millis(1500);

fn set_names(p: &Node, value: &str) {
    p.append_conf(&format!("synchronous_standby_names = '{value}'"));
    p.safe_psql("SELECT pg_reload_conf()");
    wait_value(p, "SHOW synchronous_standby_names", value);
}

/// Waits until the commit of `id` is visible on the primary while the standby
/// is down, then checks the committing task stays unfinished for `OBSERVE`.
async fn assert_blocked(p: &Node, id: i32, task: &tokio::task::JoinHandle<()>) {
    wait_value(p, &format!("SELECT count(*) FROM t WHERE id = {id}"), "1");
    assert_eq!(p.safe_psql("SELECT count(*) FROM pg_stat_replication"), "0");
    let end = Instant::now() + OBSERVE;
    while Instant::now() < end {
        assert!(
            !task.is_finished(),
            "commit of {id} returned while the standby is down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !task.is_finished(),
        "commit of {id} returned while the standby is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_waits_for_sync_standby() {
    let mut p = Node::init_with("t014-primary", &["--wal-segsize", "1"]);
    p.append_conf("wal_sender_timeout = 60s");
    p.start();
    p.safe_psql("CREATE TABLE t (id int PRIMARY KEY)");

    let mut s = Node::basebackup(
        "t014-standby",
        &p,
        &["-R", "-C", "-S", "s1slot", "-c", "fast"],
    );
    // a later primary_conninfo line overrides the one -R wrote
    let auto = s.datadir.join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).expect("read auto conf");
    text.push_str(&format!(
        "primary_conninfo = '{} application_name=s1'\n",
        p.conninfo("postgres")
    ));
    std::fs::write(&auto, text).expect("write auto conf");
    s.append_conf("wal_retrieve_retry_interval = 200ms\nwal_receiver_status_interval = 1s");
    s.start();
    wait_value(
        &p,
        "SELECT application_name || ' ' || state FROM pg_stat_replication",
        "s1 streaming",
    );
    assert_eq!(
        p.safe_psql("SELECT sync_priority || ' ' || sync_state FROM pg_stat_replication"),
        "0 async"
    );

    set_names(&p, "s1");
    wait_value(
        &p,
        "SELECT sync_priority || ' ' || sync_state FROM pg_stat_replication",
        "1 sync",
    );
    // with the standby up, commits return; remote_apply makes the row visible there
    p.safe_psql("INSERT INTO t VALUES (1)");
    p.safe_psql("SET synchronous_commit = remote_apply; INSERT INTO t VALUES (100)");
    assert_eq!(s.safe_psql("SELECT count(*) FROM t WHERE id = 100"), "1");

    // standby down: a commit waits, and is released when the standby returns
    s.stop();
    wait_value(&p, "SELECT count(*) FROM pg_stat_replication", "0");
    let c = p.connect().await;
    let task = tokio::spawn(async move {
        c.batch_execute("INSERT INTO t VALUES (2)")
            .await
            .expect("insert 2");
    });
    assert_blocked(&p, 2, &task).await;
    s.start();
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("commit released by the returning standby")
        .expect("task");
    assert_eq!(s.safe_psql("SELECT count(*) FROM t WHERE id = 2"), "1");

    // emptying synchronous_standby_names + reload releases a waiter
    s.stop();
    wait_value(&p, "SELECT count(*) FROM pg_stat_replication", "0");
    let c = p.connect().await;
    let task = tokio::spawn(async move {
        c.batch_execute("INSERT INTO t VALUES (3)")
            .await
            .expect("insert 3");
    });
    assert_blocked(&p, 3, &task).await;
    set_names(&p, "");
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("commit released by emptying synchronous_standby_names")
        .expect("task");

    // synchronous_commit = local does not wait
    set_names(&p, "s1");
    let c = p.connect().await;
    tokio::time::timeout(
        DEADLINE,
        c.batch_execute("SET synchronous_commit = local; INSERT INTO t VALUES (4)"),
    )
    .await
    .expect("local commit does not wait")
    .expect("insert 4");

    // a cancel ends the wait with a WARNING; the commit stands
    let child = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ])
        .arg("-p")
        .arg(p.port.to_string())
        .arg("-c")
        .arg("INSERT INTO t VALUES (5)")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    wait_value(&p, "SELECT count(*) FROM t WHERE id = 5", "1");
    wait_value(
        &p,
        "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity \
         WHERE query = 'INSERT INTO t VALUES (5)'",
        "1",
    );
    let out = child.wait_with_output().expect("psql output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("WARNING:  canceling wait for synchronous replication due to user request"),
        "{err}"
    );
    assert!(
        err.contains(
            "DETAIL:  The transaction has already committed locally, but might not have been replicated to the standby."
        ),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "INSERT 0 1");
    assert_eq!(p.safe_psql("SELECT count(*) FROM t"), "6");
    drop(s);
}
