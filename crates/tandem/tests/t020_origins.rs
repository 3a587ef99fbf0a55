//! Replication origins (PostgreSQL's `pg_replication_origin*`): one tandem
//! node driven with psql. Create / oid / advance / progress / drop, the
//! `pg_replication_origin` catalog and `pg_replication_origin_status` view,
//! PostgreSQL 17's error texts (duplicates, reserved names, unknown origins,
//! non-superusers), transactional create, the origin CREATE SUBSCRIPTION
//! makes (`pg_<suboid>`) and DROP SUBSCRIPTION removes, and persistence of
//! names and progress across a clean restart, CHECKPOINT + SIGKILL, and
//! SIGKILL without a checkpoint (progress recovered from WAL).

use tandem_testkit::Node;

const ORIGINS: &str = "select roident, roname from pg_replication_origin order by 1";
const STATUS: &str = "select local_id, external_id, remote_lsn, local_lsn \
                      from pg_replication_origin_status order by 1";

fn err(node: &Node, sql: &str) -> String {
    let out = node.psql(sql);
    assert!(!out.status.success(), "expected failure: {sql}");
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

/// Runs `sql` as role `user` (no superuser); returns (success, stdout, stderr).
fn psql_as(node: &Node, user: &str, sql: &str) -> (bool, String, String) {
    let out = node
        .bin_command("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            user,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
    )
}

#[test]
fn replication_origins_sql_views_errors_and_persistence() {
    let mut node = Node::init("t020");
    node.start();

    // Create: lowest free roident from 1.
    assert_eq!(
        node.safe_psql("select pg_replication_origin_create('a')"),
        "1"
    );
    assert_eq!(
        node.safe_psql("select pg_replication_origin_create('b')"),
        "2"
    );
    let e = err(&node, "select pg_replication_origin_create('a')");
    assert!(
        e.contains(
            "ERROR:  duplicate key value violates unique constraint \"pg_replication_origin_roname_index\""
        ) && e.contains("DETAIL:  Key (roname)=(a) already exists."),
        "{e}"
    );
    for reserved in ["pg_x", "ANY", "none"] {
        let e = err(
            &node,
            &format!("select pg_replication_origin_create('{reserved}')"),
        );
        assert!(
            e.contains(&format!(
                "ERROR:  replication origin name \"{reserved}\" is reserved"
            )) && e.contains(
                "DETAIL:  Origin names \"any\", \"none\", and names starting with \"pg_\" are reserved."
            ),
            "{e}"
        );
    }
    assert_eq!(
        node.safe_psql("select pg_replication_origin_create(NULL) is null"),
        "t"
    );
    assert_eq!(node.safe_psql(ORIGINS), "1|a\n2|b");
    assert_eq!(
        node.safe_psql(
            "select pg_replication_origin_oid('b'), pg_replication_origin_oid('nope') is null"
        ),
        "2|t"
    );

    // No progress yet: no status row, NULL progress.
    assert_eq!(node.safe_psql(STATUS), "");
    assert_eq!(
        node.safe_psql("select pg_replication_origin_progress('a', false) is null"),
        "t"
    );
    // Advance (backwards too): remote_lsn moves, local_lsn stays 0/0.
    node.safe_psql("select pg_replication_origin_advance('a', '0/1234')");
    assert_eq!(node.safe_psql(STATUS), "1|a|0/1234|0/0");
    node.safe_psql("select pg_replication_origin_advance('a', '0/1000')");
    assert_eq!(
        node.safe_psql("select pg_replication_origin_progress('a', true)"),
        "0/1000"
    );

    // Unknown origins.
    for sql in [
        "select pg_replication_origin_advance('nope', '0/1')",
        "select pg_replication_origin_progress('nope', false)",
        "select pg_replication_origin_drop('nope')",
    ] {
        let e = err(&node, sql);
        assert!(
            e.contains("ERROR:  replication origin \"nope\" does not exist"),
            "{sql}: {e}"
        );
    }
    // Verbose: SQLSTATE 42704.
    let out = node
        .bin_command("psql")
        .args(["-X", "-v", "VERBOSITY=verbose", "-c"])
        .arg("select pg_replication_origin_drop('nope')")
        .output()
        .expect("run psql");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("ERROR:  42704: replication origin \"nope\" does not exist"),
        "{e}"
    );

    // Non-superusers: the functions and the status view are refused, the
    // catalog is readable.
    node.safe_psql("create role bob login");
    for (f, args) in [
        ("pg_replication_origin_create", "'z'"),
        ("pg_replication_origin_oid", "'a'"),
        ("pg_replication_origin_progress", "'a', false"),
        ("pg_replication_origin_advance", "'a', '0/1'"),
        ("pg_replication_origin_drop", "'a'"),
    ] {
        let (ok, _, e) = psql_as(&node, "bob", &format!("select {f}({args})"));
        assert!(!ok);
        assert!(
            e.contains(&format!("ERROR:  permission denied for function {f}")),
            "{e}"
        );
    }
    let (ok, out, _) = psql_as(&node, "bob", ORIGINS);
    assert!(ok);
    assert_eq!(out, "1|a\n2|b");
    let (ok, _, e) = psql_as(&node, "bob", STATUS);
    assert!(!ok);
    assert!(
        e.contains("ERROR:  permission denied for view pg_replication_origin_status"),
        "{e}"
    );

    // Drop frees the id (and its progress); create is transactional.
    node.safe_psql("select pg_replication_origin_advance('b', '0/2222')");
    node.safe_psql("select pg_replication_origin_drop('b')");
    assert_eq!(node.safe_psql(STATUS), "1|a|0/1000|0/0");
    node.safe_psql("begin; select pg_replication_origin_create('gone'); rollback");
    assert_eq!(
        node.safe_psql("select pg_replication_origin_create('c')"),
        "2"
    );
    assert_eq!(node.safe_psql(ORIGINS), "1|a\n2|c");

    // CREATE SUBSCRIPTION makes origin pg_<oid>; DROP SUBSCRIPTION removes it.
    node.safe_psql(
        "create subscription s connection 'host=127.0.0.1 port=1 dbname=postgres' \
         publication p with (connect = false)",
    );
    let sub_oid = node.safe_psql("select oid from pg_subscription where subname = 's'");
    assert_eq!(node.safe_psql(ORIGINS), format!("1|a\n2|c\n3|pg_{sub_oid}"));
    assert_eq!(
        node.safe_psql(&format!("select pg_replication_origin_oid('pg_{sub_oid}')")),
        "3"
    );
    node.safe_psql("alter subscription s set (slot_name = none)");
    node.safe_psql("drop subscription s");
    assert_eq!(node.safe_psql(ORIGINS), "1|a\n2|c");

    // A clean restart keeps names and progress.
    node.safe_psql("select pg_replication_origin_advance('c', '0/3333')");
    node.restart();
    assert_eq!(node.safe_psql(ORIGINS), "1|a\n2|c");
    assert_eq!(node.safe_psql(STATUS), "1|a|0/1000|0/0\n2|c|0/3333|0/0");

    // CHECKPOINT, then SIGKILL: the progress comes from the image.
    node.safe_psql("select pg_replication_origin_advance('a', '0/4444')");
    node.safe_psql("checkpoint");
    node.kill9();
    node.start();
    assert_eq!(node.safe_psql(STATUS), "1|a|0/4444|0/0\n2|c|0/3333|0/0");

    // SIGKILL without a checkpoint: redo replays the advance and a new origin.
    node.safe_psql("select pg_replication_origin_create('d')");
    node.safe_psql("select pg_replication_origin_advance('d', '1/ABCD')");
    node.safe_psql("select pg_replication_origin_advance('c', '0/5555')");
    node.kill9();
    node.start();
    assert_eq!(node.safe_psql(ORIGINS), "1|a\n2|c\n3|d");
    assert_eq!(
        node.safe_psql(STATUS),
        "1|a|0/4444|0/0\n2|c|0/5555|0/0\n3|d|1/ABCD|0/0"
    );
    assert_eq!(
        node.safe_psql("select pg_replication_origin_progress('d', true)"),
        "1/ABCD"
    );
    node.stop();
}
