//! Roles and authentication: CREATE/ALTER/DROP ROLE, pg_hba.conf with trust,
//! reject and scram-sha-256, and PostgreSQL's FATAL texts.

use tandem_testkit::{connect, message, sqlstate, Node};

fn write_hba(node: &Node, lines: &str) {
    std::fs::write(node.datadir.join("pg_hba.conf"), lines).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_passwords_and_hba() {
    let dir = tempfile::tempdir().unwrap();
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, "sekret\n").unwrap();
    let mut node = Node::init_with(
        "auth-scram",
        &[
            "--auth",
            "scram-sha-256",
            "--pwfile",
            pwfile.to_str().unwrap(),
        ],
    );
    node.start();
    let p = node.port;
    let ok = connect(&format!(
        "host=127.0.0.1 port={p} user=postgres dbname=postgres password=sekret"
    ))
    .await
    .unwrap();
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=postgres dbname=postgres password=wrong"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28P01"));
    assert_eq!(
        message(&e),
        "password authentication failed for user \"postgres\""
    );
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=nobody dbname=postgres password=x"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28P01"));

    ok.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'a1'; CREATE ROLE bob NOLOGIN PASSWORD 'b1'; CREATE USER repl REPLICATION PASSWORD 'r1'")
        .await
        .unwrap();
    let e = ok.batch_execute("CREATE ROLE alice").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42710"));
    assert_eq!(message(&e), "role \"alice\" already exists");
    let alice = connect(&format!(
        "host=127.0.0.1 port={p} user=alice dbname=postgres password=a1"
    ))
    .await
    .unwrap();
    let who: String = alice
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, "alice");
    let e = alice
        .batch_execute("CREATE ROLE mallory")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42501"));
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=bob dbname=postgres password=b1"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28000"));
    assert_eq!(message(&e), "role \"bob\" is not permitted to log in");
    ok.batch_execute("ALTER ROLE alice PASSWORD 'a2'")
        .await
        .unwrap();
    connect(&format!(
        "host=127.0.0.1 port={p} user=alice dbname=postgres password=a2"
    ))
    .await
    .unwrap();
    let (rolsuper, rolrepl): (bool, bool) = {
        let r = ok
            .query_one(
                "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = 'repl'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(!rolsuper && rolrepl);
    ok.batch_execute("DROP ROLE bob").await.unwrap();
    let e = ok.batch_execute("DROP ROLE bob").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42704"));
    assert_eq!(message(&e), "role \"bob\" does not exist");

    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=postgres dbname=nodb password=sekret"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("3D000"));
    assert_eq!(message(&e), "database \"nodb\" does not exist");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hba_reject_and_no_entry() {
    let mut node = Node::init("auth-hba");
    write_hba(
        &node,
        "host all alice 127.0.0.1/32 reject\nhost postgres all 127.0.0.1/32 trust\n",
    );
    node.start();
    let p = node.port;
    let c = node.connect().await;
    c.batch_execute("CREATE ROLE alice LOGIN").await.unwrap();
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=alice dbname=postgres"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28000"));
    assert_eq!(
        message(&e),
        "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"alice\", database \"postgres\", no encryption"
    );
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=postgres dbname=template1"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28000"));
    assert_eq!(
        message(&e),
        "no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"template1\", no encryption"
    );
    let e = connect(&format!(
        "host=127.0.0.1 port={p} user=ghost dbname=postgres"
    ))
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("28000"));
    assert_eq!(message(&e), "role \"ghost\" does not exist");
    node.stop();
}
