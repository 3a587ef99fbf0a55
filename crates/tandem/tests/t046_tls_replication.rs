//! Replication over TLS, and pg_hba.conf rules for replication connections.
//!
//! The server's certificates are made at test time
//! (`tandem_testkit::tls::TestPki`); clients are PostgreSQL 17's.
//!
//! - `pg_receivewal` streams WAL from a tandem primary over
//!   `sslmode=verify-full` (the slot follows its flush reports);
//! - `pg_recvlogical` streams test_decoding changes over `verify-full`, and
//!   with a status interval keeps the slot's `confirmed_flush_lsn` moving;
//! - a PostgreSQL 17 subscriber follows a tandem publisher with
//!   `sslmode=require` in its CONNECTION (inserts, updates, deletes);
//! - `replication=database` commands over TLS (IDENTIFY_SYSTEM,
//!   CREATE_REPLICATION_SLOT, SQL);
//! - `wal_sender_timeout` ends a TLS client that stopped answering, with
//!   PostgreSQL's LOG line;
//! - `pg_stat_ssl` shows each of those walsenders encrypted;
//! - pg_hba.conf: with only `hostssl` lines a plain replication connection
//!   (physical or logical) is refused with PostgreSQL's FATAL text and a TLS
//!   one accepted; a role without REPLICATION is refused for both kinds. The
//!   texts are compared with a PostgreSQL 17 node given the same rules.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use tandem_testkit::tls::TestPki;
use tandem_testkit::{
    pg17_program, require_pg17, wait_for, wait_tables_equal, wait_value, Node, DEADLINE,
};

/// A tandem node with TLS on (certificates for `localhost` and `127.0.0.1`)
/// and `extra` in postgresql.conf; `hba` replaces pg_hba.conf when given.
/// Not started. The PKI lives in the node's temporary directory.
fn tls_node(name: &str, extra: &str, hba: Option<&str>) -> (Node, TestPki) {
    let node = Node::init(name);
    let pki_dir = node.datadir.parent().expect("parent").join("pki");
    let pki = TestPki::generate(&pki_dir, &["localhost", "127.0.0.1"], "postgres").expect("pki");
    let conf = pki
        .install_server(&node.datadir)
        .expect("install certificates");
    node.append_conf(&conf);
    node.append_conf(extra);
    if let Some(h) = hba {
        std::fs::write(node.datadir.join("pg_hba.conf"), h).expect("write pg_hba.conf");
    }
    (node, pki)
}

const LOGICAL: &str = "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n";

fn conninfo(node: &Node, extra: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres {extra}",
        node.port
    )
}

/// `sslmode=verify-full` against the test root.
fn verify_full(pki: &TestPki) -> String {
    format!("sslmode=verify-full sslrootcert={}", pki.root_crt.display())
}

fn pg17(program: &str) -> PathBuf {
    pg17_program(program).unwrap_or_else(|| panic!("PostgreSQL 17's {program}"))
}

/// PostgreSQL 17's psql on `conninfo`, running `sql`.
fn psql(conninfo: &str, sql: &str) -> Output {
    Command::new(pg17("psql"))
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql")
}

fn psql_ok(conninfo: &str, sql: &str) -> String {
    let out = psql(conninfo, sql);
    assert!(
        out.status.success(),
        "psql {conninfo} -c {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// The FATAL/DETAIL lines of a refused connection (without psql's prefix,
/// which names the port).
fn refusal(out: &Output) -> String {
    assert!(!out.status.success(), "connection was accepted");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| {
            l.find("FATAL:")
                .or_else(|| l.find("DETAIL:"))
                .map(|i| l[i..].trim().to_string())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kills a child process on drop (a failing test must not leave it running).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut c: Command, what: &str) -> ChildGuard {
    ChildGuard(
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}")),
    )
}

/// The `pg_stat_ssl` row (`ssl|version|bits > 0`) of the walsender whose
/// `pg_stat_replication.application_name` is `app`, once it exists.
fn walsender_ssl(node: &Node, app: &str) -> String {
    let sql = format!(
        "SELECT s.ssl, s.version, s.bits > 0 \
         FROM pg_stat_ssl s JOIN pg_stat_replication r USING (pid) \
         WHERE r.application_name = '{app}'"
    );
    wait_for(&format!("walsender {app}"), DEADLINE, || {
        let v = node.safe_psql(&sql);
        (!v.is_empty()).then_some(v)
    })
}

fn lsn(s: &str) -> u64 {
    let (hi, lo) = s.trim().split_once('/').expect("lsn");
    (u64::from_str_radix(hi, 16).expect("hex") << 32) | u64::from_str_radix(lo, 16).expect("hex")
}

fn lsn_text(l: u64) -> String {
    format!("{:X}/{:X}", l >> 32, l & 0xffff_ffff)
}

/// Waits until `sql` (an LSN) reaches `target`.
fn wait_lsn_reaches(node: &Node, what: &str, sql: &str, target: u64) {
    wait_for(what, DEADLINE, || {
        let v = node.safe_psql(sql);
        (!v.is_empty() && lsn(&v) >= target).then_some(())
    });
}

#[test]
fn pg_receivewal_streams_over_verify_full() {
    if !require_pg17("pg_receivewal_streams_over_verify_full") {
        return;
    }
    let (mut node, pki) = tls_node("tls-receivewal", "max_wal_senders = 5\n", None);
    node.start();
    node.safe_psql("CREATE TABLE filler (a int, b text)");
    let recv = node.datadir.parent().expect("parent").join("recv");
    std::fs::create_dir_all(&recv).expect("mkdir");
    let dsn = conninfo(
        &node,
        &format!("{} application_name=recvwal", verify_full(&pki)),
    );
    let receivewal = |args: &[&str]| {
        let mut c = Command::new(pg17("pg_receivewal"));
        c.arg("-d").arg(&dsn).arg("-D").arg(&recv).args(args);
        c
    };
    let out = receivewal(&["--slot", "rw", "--create-slot"])
        .output()
        .expect("pg_receivewal --create-slot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _stream = spawn(
        receivewal(&["--slot", "rw", "--synchronous", "-s", "1", "-n"]),
        "pg_receivewal",
    );
    assert_eq!(walsender_ssl(&node, "recvwal"), "t|TLSv1.3|t");
    node.safe_psql("INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g");
    let target = lsn(&node.safe_psql("SELECT pg_current_wal_lsn()"));
    wait_lsn_reaches(
        &node,
        "the slot to follow pg_receivewal's flushes",
        "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'rw'",
        target,
    );
    wait_lsn_reaches(
        &node,
        "flush_lsn in pg_stat_replication",
        "SELECT flush_lsn FROM pg_stat_replication WHERE application_name = 'recvwal'",
        target,
    );
    // what arrived is the server's WAL: the segment holding the target, up to it
    let name = node.safe_psql(&format!(
        "SELECT pg_walfile_name('{}'::pg_lsn - 1)",
        lsn_text(target)
    ));
    let received = [recv.join(&name), recv.join(format!("{name}.partial"))]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("segment {name} received"));
    let ours = std::fs::read(received).expect("read received");
    let theirs = std::fs::read(node.datadir.join("pg_wal").join(&name)).expect("read server");
    let upto = ((target - 1) % theirs.len() as u64) as usize + 1;
    assert!(upto <= ours.len());
    assert!(
        ours[..upto] == theirs[..upto],
        "received WAL differs from the server's"
    );
}

#[test]
fn pg_recvlogical_streams_and_confirms_over_verify_full() {
    if !require_pg17("pg_recvlogical_streams_and_confirms_over_verify_full") {
        return;
    }
    let (mut node, pki) = tls_node("tls-recvlogical", LOGICAL, None);
    node.start();
    node.safe_psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let dsn = conninfo(
        &node,
        &format!("{} application_name=recvlog", verify_full(&pki)),
    );
    let recvlogical = |args: &[&str]| {
        let mut c = Command::new(pg17("pg_recvlogical"));
        c.arg("-d").arg(&dsn).args(args);
        c
    };
    let out = recvlogical(&["--slot", "rl", "--create-slot", "--plugin", "test_decoding"])
        .output()
        .expect("pg_recvlogical --create-slot");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = node.datadir.parent().expect("parent").join("changes.txt");
    let _stream = spawn(
        {
            let mut c = recvlogical(&["--slot", "rl", "--start", "-s", "1", "-F", "1", "-f"]);
            c.arg(&file);
            c
        },
        "pg_recvlogical",
    );
    assert_eq!(walsender_ssl(&node, "recvlog"), "t|TLSv1.3|t");
    node.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
    node.safe_psql("UPDATE t SET v = 'changed' WHERE id = 7");
    node.safe_psql("DELETE FROM t WHERE id = 8");
    let text = wait_for("the changes in pg_recvlogical's file", DEADLINE, || {
        let t = std::fs::read_to_string(&file).unwrap_or_default();
        t.contains("table public.t: DELETE: id[integer]:8")
            .then_some(t)
    });
    assert_eq!(text.matches(": INSERT: ").count(), 100, "{text}");
    assert!(
        text.contains("table public.t: UPDATE: id[integer]:7 v[text]:'changed'"),
        "{text}"
    );
    // the status interval keeps confirmed_flush moving, also past WAL that
    // decodes to nothing (keepalives carry the position)
    for round in 0..2 {
        node.safe_psql(&format!("INSERT INTO t VALUES ({}, 'more')", 1000 + round));
        node.safe_psql("CREATE TABLE IF NOT EXISTS other (a int)");
        let target = lsn(&node.safe_psql("SELECT pg_current_wal_lsn()"));
        wait_lsn_reaches(
            &node,
            "confirmed_flush_lsn to follow pg_recvlogical",
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'rl'",
            target,
        );
    }
}

#[test]
fn pg17_subscriber_follows_tandem_over_sslmode_require() {
    if !require_pg17("pg17_subscriber_follows_tandem_over_sslmode_require") {
        return;
    }
    let (mut publ, _pki) = tls_node("tls-publisher", LOGICAL, None);
    publ.start();
    let mut sub = Node::init_pg17(
        "tls-subscriber",
        &[
            ("wal_retrieve_retry_interval", "'200ms'"),
            ("timezone", "'UTC'"),
        ],
    );
    sub.start();
    let ddl = "CREATE TABLE kv (k int PRIMARY KEY, v text)";
    publ.safe_psql(ddl);
    sub.safe_psql(ddl);
    publ.safe_psql("INSERT INTO kv SELECT g, 'initial ' || g FROM generate_series(1, 50) g");
    publ.safe_psql("CREATE PUBLICATION p FOR TABLE kv");
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION tlssub CONNECTION '{}' PUBLICATION p",
        // the subscriber's libpq runs with this process's HOME, where it
        // must not look for a client certificate
        conninfo(&publ, "sslmode=require sslcert=/nonexistent/client.crt")
    ));
    wait_tables_equal(&publ, &sub, "kv", "k", DEADLINE);
    assert_eq!(walsender_ssl(&publ, "tlssub"), "t|TLSv1.3|t");
    publ.safe_psql("INSERT INTO kv SELECT g, 'streamed ' || g FROM generate_series(51, 300) g");
    publ.safe_psql("UPDATE kv SET v = 'updated' WHERE k % 10 = 0");
    publ.safe_psql("DELETE FROM kv WHERE k % 7 = 0");
    wait_tables_equal(&publ, &sub, "kv", "k", DEADLINE);
    wait_value(&sub, "SELECT count(*) FROM kv WHERE v = 'updated'", "26");
}

#[test]
fn replication_database_commands_over_tls() {
    if !require_pg17("replication_database_commands_over_tls") {
        return;
    }
    let (mut node, pki) = tls_node("tls-repl-commands", LOGICAL, None);
    node.start();
    let logical = conninfo(
        &node,
        &format!("replication=database {}", verify_full(&pki)),
    );
    let system = psql_ok(&logical, "IDENTIFY_SYSTEM");
    let fields: Vec<&str> = system.split('|').collect();
    assert_eq!(fields.len(), 4, "{system}");
    assert_eq!(fields[1], "1");
    assert_eq!(fields[3], "postgres");
    let created = psql_ok(
        &logical,
        "CREATE_REPLICATION_SLOT tls_slot LOGICAL test_decoding (SNAPSHOT 'nothing')",
    );
    assert!(created.starts_with("tls_slot|"), "{created}");
    assert_eq!(
        psql_ok(
            &logical,
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ),
        "t|TLSv1.3"
    );
    let physical = conninfo(&node, "replication=true sslmode=require");
    let created = psql_ok(&physical, "CREATE_REPLICATION_SLOT tls_phys PHYSICAL");
    assert!(created.starts_with("tls_phys|"), "{created}");
    assert_eq!(
        node.safe_psql("SELECT slot_name, slot_type FROM pg_replication_slots ORDER BY 1"),
        "tls_phys|physical\ntls_slot|logical"
    );
    // a plain session next to them says it is not encrypted
    assert_eq!(
        psql_ok(
            &conninfo(&node, "sslmode=disable"),
            "SELECT ssl, version IS NULL FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ),
        "f|t"
    );
}

#[test]
fn wal_sender_timeout_ends_a_silent_tls_client() {
    if !require_pg17("wal_sender_timeout_ends_a_silent_tls_client") {
        return;
    }
    let (mut node, _pki) = tls_node(
        "tls-timeout",
        &format!("{LOGICAL}wal_sender_timeout = '3s'\n"),
        None,
    );
    node.start();
    node.safe_psql("CREATE TABLE t (id int)");
    node.safe_psql("SELECT pg_create_logical_replication_slot('quiet', 'test_decoding')");
    let mut c = Command::new(pg17("pg_recvlogical"));
    c.arg("-d")
        .arg(conninfo(&node, "sslmode=require application_name=quiet"))
        .args(["--slot", "quiet", "--start", "-s", "1", "-f", "-"]);
    let stream = spawn(c, "pg_recvlogical");
    assert_eq!(walsender_ssl(&node, "quiet"), "t|TLSv1.3|t");
    // alive while it answers: it outlives several timeouts
    let started = std::time::Instant::now();
    for i in 0..3 {
        node.safe_psql(&format!("INSERT INTO t VALUES ({i})"));
    }
    wait_for("more than two timeouts to pass", DEADLINE, || {
        (started.elapsed() > std::time::Duration::from_secs(7)).then_some(())
    });
    assert_eq!(
        node.safe_psql("SELECT active FROM pg_replication_slots WHERE slot_name = 'quiet'"),
        "t"
    );
    assert!(!node
        .log()
        .contains("terminating walsender process due to replication timeout"));
    // stopped: it neither reads nor answers
    let stopped = Command::new("kill")
        .args(["-STOP", &stream.0.id().to_string()])
        .status()
        .expect("kill -STOP");
    assert!(stopped.success());
    wait_for("the replication timeout", DEADLINE, || {
        node.log()
            .contains("LOG:  terminating walsender process due to replication timeout")
            .then_some(())
    });
    wait_value(
        &node,
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'quiet'",
        "f",
    );
}

const HOSTSSL_ONLY: &str = "\
hostssl replication all 127.0.0.1/32 trust
hostssl all all 127.0.0.1/32 trust
";

/// The refusals a client sees from `node` (tandem or PostgreSQL 17), for
/// connections described by `cases` (conninfo extras).
fn refusals(node: &Node, cases: &[&str]) -> Vec<String> {
    cases
        .iter()
        .map(|extra| refusal(&psql(&conninfo_as(node, extra), "IDENTIFY_SYSTEM")))
        .collect()
}

fn conninfo_as(node: &Node, extra: &str) -> String {
    format!("host=127.0.0.1 port={} dbname=postgres {extra}", node.port)
}

/// A PostgreSQL 17 node with TLS on (the certificates of `pki`) and `hba` as
/// its pg_hba.conf. Not started.
fn pg_tls_node(name: &str, pki: &TestPki, hba: &str) -> Node {
    let pg = Node::init_pg17(name, &[("wal_level", "logical")]);
    let conf = pki
        .install_server(&pg.datadir)
        .expect("install certificates");
    pg.append_conf(&conf);
    std::fs::write(pg.datadir.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
    // the server's user must own its key
    let meta = std::fs::metadata(&pg.datadir).expect("datadir");
    for f in ["server.crt", "server.key", "root.crt", "pg_hba.conf"] {
        std::os::unix::fs::chown(pg.datadir.join(f), Some(meta.uid()), Some(meta.gid()))
            .expect("chown");
    }
    pg
}

#[test]
fn hba_hostssl_and_replication_role_rules_match_pg17() {
    if !require_pg17("hba_hostssl_and_replication_role_rules_match_pg17") {
        return;
    }
    let (mut node, pki) = tls_node("tls-hba", LOGICAL, Some(HOSTSSL_ONLY));
    node.start();
    let mut pg = pg_tls_node("tls-hba-pg", &pki, HOSTSSL_ONLY);
    pg.start();
    for n in [&node, &pg] {
        n.safe_psql("CREATE ROLE norepl LOGIN");
        n.safe_psql("CREATE ROLE repl LOGIN REPLICATION");
    }

    // plain: refused by pg_hba.conf (physical: the replication wording;
    // logical: matched by its database name)
    let plain = [
        "user=repl replication=true sslmode=disable",
        "user=repl replication=database sslmode=disable",
    ];
    let refused = refusals(&node, &plain);
    assert_eq!(
        refused,
        [
            "FATAL:  no pg_hba.conf entry for replication connection from host \"127.0.0.1\", user \"repl\", no encryption",
            "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"repl\", database \"postgres\", no encryption",
        ]
    );
    assert_eq!(refused, refusals(&pg, &plain));

    // over TLS: accepted, physical and logical
    for n in [&node, &pg] {
        for kind in ["replication=true", "replication=database"] {
            let system = psql_ok(
                &conninfo_as(n, &format!("user=repl {kind} sslmode=require")),
                "IDENTIFY_SYSTEM",
            );
            assert_eq!(system.split('|').count(), 4, "{kind}: {system}");
        }
    }

    // a role without REPLICATION: refused for both kinds, as by PostgreSQL 17
    let no_role = [
        "user=norepl replication=true sslmode=require",
        "user=norepl replication=database sslmode=require",
    ];
    let refused = refusals(&node, &no_role);
    assert_eq!(
        refused[0],
        "FATAL:  permission denied to start WAL sender\nDETAIL:  Only roles with the REPLICATION attribute may start a WAL sender process."
    );
    assert_eq!(refused[0], refused[1]);
    assert_eq!(refused, refusals(&pg, &no_role));
    // an ordinary session of that role is fine
    assert_eq!(
        psql_ok(
            &conninfo_as(&node, "user=norepl sslmode=require"),
            "SELECT 1"
        ),
        "1"
    );
}
