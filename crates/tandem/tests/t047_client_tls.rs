//! tandem's outgoing connections (the client crate) with libpq's TLS and
//! multi-host behaviour.
//!
//! - A tandem subscriber follows a PostgreSQL 17 publisher with `ssl = on`
//!   over `sslmode=verify-full` (the publisher's `pg_stat_ssl` shows the
//!   walsender's connection encrypted); a wrong CA (the apply worker's log,
//!   after ALTER SUBSCRIPTION ... CONNECTION) and a wrong host name (the
//!   CREATE SUBSCRIPTION error) are refused with the words PostgreSQL 17's
//!   own libpq (`psql`) uses for the same connection string.
//! - `sslmode=require` against a server without TLS fails with libpq's
//!   text; `prefer` (the default) falls back to plain text.
//! - `host=127.0.0.1,127.0.0.1 port=<dead>,<live>`: the subscription
//!   connects to the second host; an unanswering listener runs into
//!   `connect_timeout`.
//! - Against a tandem server with `ssl = on`: `tandem basebackup` over
//!   `verify-full` (a wrong CA refused) and CREATE SUBSCRIPTION's slot; a
//!   tandem standby streaming over `verify-full`, TLS on both ends.
//! - A tandem subscriber following a tandem publisher over `verify-full`:
//!   the initial copy and streamed rows arrive, the publisher's `pg_stat_ssl`
//!   shows the apply walsender encrypted, and after a fast restart and a
//!   SIGKILL of the publisher the apply worker reconnects over TLS and every
//!   row arrives exactly once (a keyless table, so a transaction applied twice
//!   would show as a duplicate rather than a conflict).
//!
//! Certificates are made at run time (`tandem_testkit::tls::TestPki`).

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use tandem_testkit::tls::TestPki;
use tandem_testkit::{free_port, pg17, tandem_bin, wait_for, wait_value, Node, DEADLINE};

/// Installs the server certificate into `node`'s data directory (owned by
/// the data directory's owner, as the server demands) and turns TLS on.
fn enable_tls(node: &Node, pki: &TestPki) {
    let conf = pki
        .install_server(&node.datadir)
        .unwrap_or_else(|e| panic!("install certificates: {e}"));
    let meta = std::fs::metadata(&node.datadir).unwrap_or_else(|e| panic!("stat datadir: {e}"));
    for f in ["server.crt", "server.key", "root.crt"] {
        std::os::unix::fs::chown(node.datadir.join(f), Some(meta.uid()), Some(meta.gid()))
            .unwrap_or_else(|e| panic!("chown {f}: {e}"));
    }
    node.append_conf(&conf);
}

fn pki(dir: &Path) -> TestPki {
    // the certificate names localhost only: 127.0.0.1 is a wrong host name
    TestPki::generate(dir, &["localhost"], "postgres").unwrap_or_else(|e| panic!("pki: {e}"))
}

/// What PostgreSQL 17's libpq says about `conninfo`: psql's error without
/// its `psql: error: ` prefix.
fn libpq_says(conninfo: &str) -> String {
    let psql = pg17::pg17_program("psql").unwrap_or_else(|| panic!("no psql"));
    let out = std::process::Command::new(psql)
        .arg("-X")
        .arg(conninfo)
        .arg("-c")
        .arg("select 1")
        .env_remove("PGSSLMODE")
        .output()
        .unwrap_or_else(|e| panic!("run psql: {e}"));
    assert!(!out.status.success(), "psql connected with {conninfo}");
    let err = String::from_utf8_lossy(&out.stderr);
    err.trim_end()
        .strip_prefix("psql: error: ")
        .unwrap_or_else(|| panic!("psql said {err}"))
        .to_string()
}

/// psql's stderr for `sql` on `node`, which must fail.
fn psql_error(node: &Node, sql: &str) -> String {
    let out = node.psql(sql);
    assert!(!out.status.success(), "{sql} succeeded on {}", node.name);
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

fn tandem_subscriber(name: &str) -> Node {
    let mut n = Node::init(name);
    n.append_conf("wal_retrieve_retry_interval = '100ms'");
    n.start();
    n.safe_psql("create table t (a int primary key)");
    n
}

fn tandem_publisher(name: &str) -> Node {
    let mut n = Node::init(name);
    n.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    n.start();
    n.safe_psql("create table t (a int primary key); create publication p for table t");
    n
}

#[test]
fn subscriber_follows_postgres_over_verify_full() {
    if !pg17::require_pg17("subscriber_follows_postgres_over_verify_full") {
        return;
    }
    let certs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pki = pki(certs.path());
    let mut publ = Node::init_pg17(
        "t047_pgpub",
        &[
            ("wal_level", "logical"),
            ("max_wal_senders", "10"),
            ("max_replication_slots", "10"),
        ],
    );
    enable_tls(&publ, &pki);
    publ.start();
    publ.safe_psql("create table t (a int primary key); insert into t values (1), (2)");
    publ.safe_psql("create publication p for table t");
    let sub = tandem_subscriber("t047_sub");

    let root = pki.root_crt.display();
    let good = format!(
        "host=localhost port={} dbname=postgres user=postgres sslmode=verify-full sslrootcert={root}",
        publ.port
    );
    sub.safe_psql(&format!(
        "create subscription s connection '{good}' publication p"
    ));
    wait_value(&sub, "select count(*) from t", "2");
    publ.safe_psql("insert into t values (3)");
    wait_value(&sub, "select count(*) from t", "3");
    // the walsender serving the apply worker is on TLS
    assert_eq!(
        publ.safe_psql(
            "select bool_and(ssl) from pg_stat_ssl join pg_stat_replication using (pid) \
             where application_name = 's'"
        ),
        "t"
    );

    // wrong host name: the CREATE SUBSCRIPTION error, in libpq's words
    let by_ip = format!(
        "host=127.0.0.1 port={} dbname=postgres user=postgres sslmode=verify-full sslrootcert={root}",
        publ.port
    );
    let expected = libpq_says(&by_ip);
    assert!(
        expected.ends_with("server certificate for \"localhost\" (and 1 other name) does not match host name \"127.0.0.1\""),
        "{expected}"
    );
    let err = psql_error(
        &sub,
        &format!("create subscription s2 connection '{by_ip}' publication p"),
    );
    assert_eq!(
        err,
        format!("ERROR:  could not connect to the publisher: {expected}")
    );

    // wrong CA: the apply worker, restarted with the new connection, logs it
    let wrong_ca = format!(
        "host=127.0.0.1 port={} dbname=postgres user=postgres sslmode=verify-ca sslrootcert={}",
        publ.port,
        pki.wrong_root_crt.display()
    );
    let expected = libpq_says(&wrong_ca);
    assert!(
        expected.ends_with("SSL error: certificate verify failed"),
        "{expected}"
    );
    sub.safe_psql(&format!("alter subscription s connection '{wrong_ca}'"));
    let line = format!("could not connect to the publisher: {expected}");
    wait_for("the wrong CA in the subscriber's log", DEADLINE, || {
        sub.log().contains(&line).then_some(())
    });

    // a missing root file under verify-ca
    let missing = certs.path().join("missing.crt");
    let no_root = format!(
        "host=127.0.0.1 port={} dbname=postgres user=postgres sslmode=verify-ca sslrootcert={}",
        publ.port,
        missing.display()
    );
    let expected = libpq_says(&no_root);
    let err = psql_error(
        &sub,
        &format!("create subscription s3 connection '{no_root}' publication p"),
    );
    assert_eq!(
        err,
        format!("ERROR:  could not connect to the publisher: {expected}")
    );

    // back to the good string: streaming resumes
    sub.safe_psql(&format!("alter subscription s connection '{good}'"));
    publ.safe_psql("insert into t values (4)");
    wait_value(&sub, "select count(*) from t", "4");
    sub.safe_psql("drop subscription s");
    publ.stop();
}

#[test]
fn require_without_server_tls_and_prefer_fallback() {
    let publ = tandem_publisher("t047_plainpub");
    let sub = tandem_subscriber("t047_plainsub");
    let require = format!(
        "host=127.0.0.1 port={} dbname=postgres sslmode=require",
        publ.port
    );
    let err = psql_error(
        &sub,
        &format!("create subscription s connection '{require}' publication p"),
    );
    assert_eq!(
        err,
        format!(
            "ERROR:  could not connect to the publisher: connection to server at \"127.0.0.1\", port {} failed: server does not support SSL, but SSL was required",
            publ.port
        )
    );
    if pg17::pg17_program("psql").is_some() {
        assert!(err.ends_with(&libpq_says(&require)), "{err}");
    }
    // prefer (also the default) goes on in plain text
    publ.safe_psql("insert into t values (1)");
    sub.safe_psql(&format!(
        "create subscription s connection 'host=127.0.0.1 port={} dbname=postgres sslmode=prefer' publication p",
        publ.port
    ));
    wait_value(&sub, "select count(*) from t", "1");
    sub.safe_psql("drop subscription s");
}

#[test]
fn multi_host_string_reaches_the_second_host() {
    let publ = tandem_publisher("t047_mhpub");
    let sub = tandem_subscriber("t047_mhsub");
    let dead = free_port();
    publ.safe_psql("insert into t values (1), (2), (3)");
    sub.safe_psql(&format!(
        "create subscription s connection 'host=127.0.0.1,127.0.0.1 port={dead},{} dbname=postgres target_session_attrs=read-write' publication p",
        publ.port
    ));
    wait_value(&sub, "select count(*) from t", "3");
    publ.safe_psql("insert into t values (4)");
    wait_value(&sub, "select count(*) from t", "4");
    sub.safe_psql("drop subscription s");

    // both hosts failing: one line per host, as libpq
    let dead2 = free_port();
    let err = psql_error(
        &sub,
        &format!(
            "create subscription s2 connection 'host=127.0.0.1,127.0.0.1 port={dead},{dead2} dbname=postgres' publication p"
        ),
    );
    let hint = "\tIs the server running on that host and accepting TCP/IP connections?";
    assert_eq!(
        err,
        format!(
            "ERROR:  could not connect to the publisher: connection to server at \"127.0.0.1\", port {dead} failed: Connection refused\n{hint}\nconnection to server at \"127.0.0.1\", port {dead2} failed: Connection refused\n{hint}"
        )
    );
}

#[test]
fn connect_timeout_against_a_silent_listener() {
    let sub = tandem_subscriber("t047_tosub");
    // accepts connections into its backlog and never answers
    let silent = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = silent
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"))
        .port();
    let started = std::time::Instant::now();
    let err = psql_error(
        &sub,
        &format!(
            "create subscription s connection 'host=127.0.0.1 port={port} dbname=postgres connect_timeout=2' publication p"
        ),
    );
    assert_eq!(
        err,
        format!("ERROR:  could not connect to the publisher: connection to server at \"127.0.0.1\", port {port} failed: timeout expired")
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    drop(silent);
}

/// What works against a tandem server with `ssl = on` today: replication
/// commands and COPY over TLS (`tandem basebackup` over `verify-full`, with
/// a wrong CA refused), and the subscription commands' connection (the slot
/// made by CREATE SUBSCRIPTION over `verify-full`).
#[test]
fn tandem_server_over_tls() {
    let certs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pki = pki(certs.path());
    let mut publ = Node::init("t047_tlspub");
    publ.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    enable_tls(&publ, &pki);
    publ.start();
    publ.safe_psql("create table t (a int primary key); create publication p for table t");
    let verified = |root: &Path| {
        format!(
            "host=localhost port={} user=postgres sslmode=verify-full sslrootcert={}",
            publ.port,
            root.display()
        )
    };

    let out_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let backup = |conninfo: &str, dir: &Path| {
        std::process::Command::new(tandem_bin())
            .arg("basebackup")
            .arg("-d")
            .arg(conninfo)
            .arg("-D")
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("run tandem basebackup: {e}"))
    };
    let good = backup(&verified(&pki.root_crt), &out_dir.path().join("good"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(out_dir.path().join("good/global/control").is_file());
    let bad = backup(&verified(&pki.wrong_root_crt), &out_dir.path().join("bad"));
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(&format!(
            "port {} failed: SSL error: certificate verify failed",
            publ.port
        )),
        "{err}"
    );

    let sub = tandem_subscriber("t047_tlssub");
    sub.safe_psql(&format!(
        "create subscription s connection '{} dbname=postgres' publication p with (enabled = false)",
        verified(&pki.root_crt)
    ));
    assert_eq!(
        publ.safe_psql("select slot_name from pg_replication_slots where slot_name = 's'"),
        "s"
    );
}

#[test]
fn standby_streams_over_verify_full() {
    let certs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pki = pki(certs.path());
    let mut primary = Node::init_with("t047_primary", &["--wal-segsize", "1"]);
    primary.append_conf("wal_sender_timeout = 60s\nwal_receiver_status_interval = 1s");
    enable_tls(&primary, &pki);
    primary.start();
    primary.safe_psql("create table s (a int); insert into s values (1)");
    let mut standby = Node::standby("t047_standby", &primary, "sb");
    // the standby's postgresql.conf came with ssl = on, and the base backup
    // brought the certificate and key with it (the key private to its owner)
    for f in ["server.crt", "server.key"] {
        let read =
            |n: &Node| std::fs::read(n.datadir.join(f)).unwrap_or_else(|e| panic!("read {f}: {e}"));
        assert_eq!(read(&standby), read(&primary), "{f}");
    }
    let key_mode = std::fs::metadata(standby.datadir.join("server.key"))
        .unwrap_or_else(|e| panic!("stat server.key: {e}"))
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    standby.append_conf(&format!(
        "primary_conninfo = 'host=localhost port={} user=postgres sslmode=verify-full sslrootcert={}'",
        primary.port,
        pki.root_crt.display()
    ));
    standby.start();
    primary.safe_psql("insert into s values (2)");
    wait_value(&standby, "select count(*) from s", "2");
    wait_value(
        &standby,
        "select status from pg_stat_wal_receiver",
        "streaming",
    );
    // the primary's walsender for this standby runs over TLS
    wait_value(
        &primary,
        "select s.ssl from pg_stat_ssl s join pg_stat_replication r using (pid)",
        "t",
    );
}

/// `select ssl from pg_stat_ssl` for the walsender serving the subscription
/// `s`, once there is one.
fn apply_walsender_ssl(publ: &Node) -> String {
    wait_for("the apply walsender streaming", DEADLINE, || {
        let v = publ.safe_psql(
            "select s.ssl from pg_stat_ssl s join pg_stat_replication r using (pid) \
             where r.application_name = 's' and r.state = 'streaming'",
        );
        (!v.is_empty()).then_some(v)
    })
}

#[test]
fn tandem_subscription_over_verify_full_across_publisher_restarts() {
    let certs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let pki = pki(certs.path());
    let mut publ = Node::init("t047_e2epub");
    publ.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    enable_tls(&publ, &pki);
    publ.start();
    // `t` has a key; `applied` has none: a transaction applied twice shows
    // there as duplicate rows instead of stopping the apply worker
    publ.safe_psql(
        "create table t (a int primary key); create table applied (a int); \
         insert into t select generate_series(1, 3); \
         insert into applied select generate_series(1, 3); \
         create publication p for table t, applied",
    );
    let mut sub = Node::init("t047_e2esub");
    sub.append_conf("wal_retrieve_retry_interval = '100ms'");
    sub.start();
    sub.safe_psql("create table t (a int primary key); create table applied (a int)");
    sub.safe_psql(&format!(
        "create subscription s connection 'host=localhost port={} dbname=postgres user=postgres \
         sslmode=verify-full sslrootcert={}' publication p",
        publ.port,
        pki.root_crt.display()
    ));
    // the initial copy, then streamed changes
    wait_value(&sub, "select count(*) from applied", "3");
    let insert = |publ: &Node, from: i32, to: i32| {
        for a in from..=to {
            publ.safe_psql(&format!(
                "begin; insert into t values ({a}); insert into applied values ({a}); commit"
            ));
        }
    };
    insert(&publ, 4, 10);
    wait_value(&sub, "select count(*) from applied", "10");
    assert_eq!(apply_walsender_ssl(&publ), "t");

    // a fast restart: the apply worker reconnects over TLS
    publ.restart();
    insert(&publ, 11, 20);
    wait_value(&sub, "select count(*) from applied", "20");
    assert_eq!(apply_walsender_ssl(&publ), "t");

    // a crash right after the subscriber applied the last rows: the slot on
    // disk may be behind them, the publisher sends them again and the
    // subscriber's origin skips them
    insert(&publ, 21, 30);
    wait_value(&sub, "select count(*) from applied", "30");
    publ.kill9();
    publ.start();
    insert(&publ, 31, 40);
    wait_value(&sub, "select count(*) from applied", "40");
    assert_eq!(apply_walsender_ssl(&publ), "t");
    assert_eq!(
        sub.safe_psql(
            "select count(distinct a), min(a), max(a), (select count(*) from t) from applied"
        ),
        "40|1|40|40"
    );
    sub.safe_psql("drop subscription s");
    sub.stop();
}
