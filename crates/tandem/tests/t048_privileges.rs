//! Privileges: table ACLs and role membership checked against PostgreSQL 17
//! (the same statements on a tandem node and a PostgreSQL node give the same
//! `relacl` text, the same refusals and the same successes after GRANT),
//! GRANT / REVOKE reaching a streaming standby and surviving a restart, and a
//! subscription owned by a non-superuser member of pg_create_subscription
//! that may write only what its owner was granted.

use tandem_testkit::{message, require_pg17, sqlstate, wait_for, wait_value, Node, DEADLINE};

/// The statements both nodes run as the superuser.
const SETUP: &str = "CREATE ROLE bob LOGIN; CREATE ROLE grp; CREATE ROLE \"Odd Name\"; \
     CREATE TABLE t (a int PRIMARY KEY, b text); CREATE TABLE u (a int PRIMARY KEY, b text); \
     INSERT INTO u VALUES (1, 'one'); \
     GRANT SELECT, INSERT ON t TO bob; \
     GRANT ALL ON TABLE t TO grp WITH GRANT OPTION; \
     GRANT UPDATE, TRUNCATE ON t TO PUBLIC; \
     GRANT MAINTAIN, REFERENCES ON t TO \"Odd Name\"; \
     REVOKE INSERT ON t FROM bob; \
     GRANT grp TO bob WITH INHERIT FALSE";

/// Runs `sql` as `bob` and returns its error as (SQLSTATE, message), or
/// `None` when it succeeds.
async fn as_bob(node: &Node, sql: &str) -> Option<(String, String)> {
    let c = node.connect_as("bob").await;
    match c.batch_execute(sql).await {
        Ok(()) => None,
        Err(e) => Some((sqlstate(&e).unwrap_or_default(), message(&e))),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_and_refusals_match_postgres() {
    if !require_pg17("t048 acls_and_refusals_match_postgres") {
        return;
    }
    let mut tandem = Node::init("priv-tandem");
    tandem.start();
    let mut pg = Node::init_pg17("priv-pg", &[]);
    pg.start();
    for node in [&tandem, &pg] {
        node.safe_psql(SETUP);
    }
    let acl = "SELECT relacl FROM pg_class WHERE relname = 't'";
    let want = pg.safe_psql(acl);
    assert_eq!(
        want,
        r#"{postgres=arwdDxtm/postgres,bob=r/postgres,grp=a*r*w*d*D*x*t*m*/postgres,=wD/postgres,"\"Odd Name\"=xm/postgres"}"#
    );
    assert_eq!(tandem.safe_psql(acl), want);
    let members = "SELECT r.rolname, m.rolname, admin_option, inherit_option, set_option \
         FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid \
         JOIN pg_roles m ON m.oid = a.member ORDER BY 1, 2";
    assert_eq!(tandem.safe_psql(members), pg.safe_psql(members));
    let roles = "SELECT oid, rolname FROM pg_roles WHERE rolname LIKE 'pg\\_%' ORDER BY oid";
    assert_eq!(tandem.safe_psql(roles), pg.safe_psql(roles));

    // bob has nothing on u: every kind of access is refused alike.
    for sql in [
        "SELECT * FROM u",
        "INSERT INTO u VALUES (2, 'two')",
        "UPDATE u SET b = 'x'",
        "DELETE FROM u",
        "TRUNCATE u",
        "INSERT INTO t VALUES (5, 'five')",
        "DELETE FROM t WHERE a = 1",
    ] {
        let theirs = as_bob(&pg, sql).await;
        let ours = as_bob(&tandem, sql).await;
        assert_eq!(ours, theirs, "{sql}");
        assert!(ours.is_some(), "{sql} must be refused");
    }
    assert_eq!(
        as_bob(&tandem, "SELECT * FROM u").await,
        Some(("42501".into(), "permission denied for table u".into()))
    );
    // Allowed: what bob holds directly and through PUBLIC.
    for sql in ["SELECT * FROM t", "UPDATE t SET b = 'x'", "TRUNCATE t"] {
        assert_eq!(as_bob(&tandem, sql).await, None, "{sql}");
        assert_eq!(as_bob(&pg, sql).await, None, "{sql}");
    }
    // After GRANT, allowed; after REVOKE, refused again.
    for node in [&tandem, &pg] {
        node.safe_psql("GRANT SELECT, INSERT, UPDATE, DELETE ON u TO bob");
    }
    for sql in [
        "SELECT * FROM u",
        "INSERT INTO u VALUES (2, 'two')",
        "UPDATE u SET b = 'x' WHERE a = 2",
        "DELETE FROM u WHERE a = 1",
    ] {
        assert_eq!(as_bob(&tandem, sql).await, None, "{sql}");
        assert_eq!(as_bob(&pg, sql).await, None, "{sql}");
    }
    let rows = "SELECT * FROM u ORDER BY a";
    assert_eq!(tandem.safe_psql(rows), pg.safe_psql(rows));
    // Membership with INHERIT: grp's privileges on t come to bob.
    for node in [&tandem, &pg] {
        node.safe_psql(
            "REVOKE ALL ON u FROM bob; GRANT ALL ON u TO grp; GRANT grp TO bob WITH INHERIT TRUE",
        );
    }
    assert_eq!(as_bob(&tandem, "DELETE FROM u").await, None);
    assert_eq!(as_bob(&pg, "DELETE FROM u").await, None);
    let probe = "SELECT has_table_privilege('bob', 'u', 'delete'), pg_has_role('bob', 'grp', 'usage'), \
         pg_has_role('bob', 'grp', 'member WITH ADMIN OPTION'), has_schema_privilege('bob', 'public', 'create')";
    assert_eq!(tandem.safe_psql(probe), pg.safe_psql(probe));
    assert_eq!(tandem.safe_psql(acl), pg.safe_psql(acl));
}

#[test]
fn grants_reach_a_standby_and_survive_a_restart() {
    let mut primary = Node::streaming_primary("priv-primary");
    let mut standby = Node::standby("priv-standby", &primary, "s1");
    standby.start();
    primary.safe_psql(
        "CREATE ROLE bob LOGIN; CREATE TABLE t (a int PRIMARY KEY); \
         GRANT SELECT, INSERT ON t TO bob WITH GRANT OPTION; GRANT pg_create_subscription TO bob",
    );
    let acl = "SELECT relacl FROM pg_class WHERE relname = 't'";
    let granted = "{postgres=arwdDxtm/postgres,bob=a*r*/postgres}";
    wait_value(&standby, acl, granted);
    wait_value(
        &standby,
        "SELECT pg_has_role('bob', 'pg_create_subscription', 'member')",
        "t",
    );
    primary.safe_psql("REVOKE INSERT ON t FROM bob; REVOKE pg_create_subscription FROM bob");
    let revoked = "{postgres=arwdDxtm/postgres,bob=r*/postgres}";
    wait_value(&standby, acl, revoked);
    wait_value(
        &standby,
        "SELECT has_table_privilege('bob', 't', 'insert'), has_table_privilege('bob', 't', 'select')",
        "f|t",
    );
    wait_value(
        &standby,
        "SELECT count(*) FROM pg_auth_members WHERE member = (SELECT oid FROM pg_roles WHERE rolname = 'bob')",
        "0",
    );
    // From the checkpoint image and from WAL replay after a crash alike.
    primary.safe_psql("CHECKPOINT; GRANT DELETE ON t TO bob");
    primary.kill9();
    primary.start();
    assert_eq!(
        primary.safe_psql(acl),
        "{postgres=arwdDxtm/postgres,bob=r*d/postgres}"
    );
    primary.restart();
    assert_eq!(
        primary.safe_psql(acl),
        "{postgres=arwdDxtm/postgres,bob=r*d/postgres}"
    );
    wait_value(
        &standby,
        acl,
        "{postgres=arwdDxtm/postgres,bob=r*d/postgres}",
    );
}

fn wait_log(node: &Node, what: &str) {
    wait_for(
        &format!("log line {what:?} on {}", node.name),
        DEADLINE,
        || node.log().contains(what).then_some(()),
    );
}

/// psql as `user` (no password: the subscriber trusts local connections).
fn psql_as(node: &Node, user: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "VERBOSITY=verbose",
        ])
        .args(["-h", "127.0.0.1", "-U", user, "-d", "postgres"])
        .arg("-p")
        .arg(node.port.to_string())
        .arg("-c")
        .arg(sql)
        .output()
        .unwrap_or_else(|e| panic!("run psql: {e}"));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[test]
fn non_superuser_subscription_writes_only_what_its_owner_may() {
    // The publisher asks subown for a SCRAM password; postgres is trusted.
    let mut publ = Node::init("priv-pub");
    publ.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    std::fs::write(
        publ.datadir.join("pg_hba.conf"),
        "host all subown 127.0.0.1/32 scram-sha-256\n\
         host replication subown 127.0.0.1/32 scram-sha-256\n\
         host all all 127.0.0.1/32 trust\n\
         host replication all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    publ.start();
    publ.safe_psql(
        "CREATE ROLE subown LOGIN REPLICATION PASSWORD 'pw'; \
         CREATE TABLE t (a int PRIMARY KEY, b text); GRANT SELECT ON t TO subown; \
         CREATE PUBLICATION p FOR TABLE t",
    );
    let mut sub = Node::init("priv-sub");
    sub.append_conf("wal_retrieve_retry_interval = '100ms'");
    sub.start();
    sub.safe_psql("CREATE ROLE subown LOGIN; CREATE TABLE t (a int PRIMARY KEY, b text)");
    let p = publ.port;
    let with_pw = format!("host=127.0.0.1 port={p} user=subown dbname=postgres password=pw");
    let without_pw = format!("host=127.0.0.1 port={p} user=subown dbname=postgres");
    let create = |conninfo: &str, opts: &str| {
        psql_as(
            &sub,
            "subown",
            &format!("CREATE SUBSCRIPTION s CONNECTION '{conninfo}' PUBLICATION p WITH ({opts})"),
        )
    };
    let e = create(&with_pw, "copy_data = false").unwrap_err();
    assert!(
        e.contains("ERROR:  42501: permission denied to create subscription"),
        "{e}"
    );
    assert!(e.contains("DETAIL:  Only roles with privileges of the \"pg_create_subscription\" role may create subscriptions."), "{e}");
    sub.safe_psql("GRANT pg_create_subscription TO subown");
    let e = create(&with_pw, "copy_data = false").unwrap_err();
    assert!(
        e.contains("ERROR:  42501: permission denied for database postgres"),
        "{e}"
    );
    sub.safe_psql("GRANT CREATE ON DATABASE postgres TO subown");
    let e = create(&without_pw, "copy_data = false").unwrap_err();
    assert!(e.contains("ERROR:  2F003: password is required"), "{e}");
    assert!(
        e.contains("DETAIL:  Non-superusers must provide a password in the connection string."),
        "{e}"
    );
    let e = create(&without_pw, "copy_data = false, password_required = false").unwrap_err();
    assert!(
        e.contains("ERROR:  42501: password_required=false is superuser-only"),
        "{e}"
    );
    create(&with_pw, "copy_data = false, run_as_owner = true").unwrap();
    assert_eq!(
        sub.safe_psql("SELECT s.subpasswordrequired, s.subrunasowner, r.rolname FROM pg_subscription s JOIN pg_roles r ON r.oid = s.subowner"),
        "t|t|subown"
    );

    // No INSERT on t: the change is refused, logged, retried; nothing lands.
    publ.safe_psql("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    wait_log(&sub, "ERROR:  permission denied for table t");
    let log = sub.log();
    let at = log
        .find("ERROR:  permission denied for table t")
        .unwrap_or(0);
    assert!(
        log[at..].contains("CONTEXT:  processing remote data for replication origin"),
        "{}",
        &log[at..]
    );
    assert_eq!(sub.safe_psql("SELECT count(*) FROM t"), "0");
    // Granted: the retry applies every row once.
    sub.safe_psql("GRANT INSERT ON t TO subown");
    wait_value(&sub, "SELECT count(*) FROM t", "2");
    publ.safe_psql("INSERT INTO t VALUES (3, 'three')");
    wait_value(
        &sub,
        "SELECT string_agg(a || b, ',' ORDER BY a) FROM t",
        "1one,2two,3three",
    );

    // run_as_owner = false: changes run as the table's owner, whom subown
    // may not become.
    psql_as(
        &sub,
        "subown",
        "ALTER SUBSCRIPTION s SET (run_as_owner = false)",
    )
    .unwrap();
    publ.safe_psql("INSERT INTO t VALUES (4, 'four')");
    wait_log(
        &sub,
        "ERROR:  role \"subown\" cannot SET ROLE to \"postgres\"",
    );
    assert_eq!(sub.safe_psql("SELECT count(*) FROM t"), "3");
    sub.safe_psql("ALTER TABLE t OWNER TO subown");
    wait_value(&sub, "SELECT count(*) FROM t", "4");
    assert_eq!(
        sub.safe_psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM t"),
        publ.safe_psql("SELECT string_agg(a::text, ',' ORDER BY a) FROM t")
    );
}
