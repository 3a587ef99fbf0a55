//! Settings: SHOW/SET/RESET, current_setting/set_config, ALTER SYSTEM + reload,
//! and PostgreSQL's errors for unknown names, bad values and restart-only settings.

use tandem_testkit::{message, sqlstate, wait_for, Node, DEADLINE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_set_reset_and_errors() {
    let mut node = Node::init("guc-basic");
    node.start();
    let c = node.connect().await;
    let show = |name: &'static str| {
        let c = &c;
        async move {
            c.query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(show("wal_level").await, "replica");
    assert_eq!(show("max_replication_slots").await, "10");
    assert_eq!(show("shared_buffers").await, "128MB");
    assert_eq!(show("wal_sender_timeout").await, "1min");
    assert_eq!(show("hot_standby_feedback").await, "off");
    assert_eq!(show("sync_replication_slots").await, "off");
    assert_eq!(show("synchronous_commit").await, "on");

    c.batch_execute("SET synchronous_commit = off")
        .await
        .unwrap();
    assert_eq!(show("synchronous_commit").await, "off");
    c.batch_execute("RESET synchronous_commit").await.unwrap();
    assert_eq!(show("synchronous_commit").await, "on");
    let v: String = c
        .query_one("SELECT current_setting('work_mem')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "4MB");
    let v: String = c
        .query_one("SELECT set_config('work_mem', '8MB', false)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "8MB");
    assert_eq!(show("work_mem").await, "8MB");

    // SET LOCAL ends with the transaction; SET in a rolled-back transaction is undone
    c.batch_execute("BEGIN; SET LOCAL work_mem = '16MB'; COMMIT")
        .await
        .unwrap();
    assert_eq!(show("work_mem").await, "8MB");
    c.batch_execute("BEGIN; SET work_mem = '32MB'; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(show("work_mem").await, "8MB");

    let e = c.batch_execute("SHOW no_such_setting").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42704"));
    assert_eq!(
        message(&e),
        "unrecognized configuration parameter \"no_such_setting\""
    );
    let e = c
        .batch_execute("SET default_transaction_read_only = maybe")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22023"));
    assert_eq!(
        message(&e),
        "parameter \"default_transaction_read_only\" requires a Boolean value"
    );
    // a reload-only setting is refused before its value is looked at (as PostgreSQL 17)
    let e = c
        .batch_execute("SET hot_standby_feedback = maybe")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("55P02"));
    assert_eq!(
        message(&e),
        "parameter \"hot_standby_feedback\" cannot be changed now"
    );
    let e = c
        .batch_execute("SET wal_level = logical")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("55P02"));
    assert_eq!(
        message(&e),
        "parameter \"wal_level\" cannot be changed without restarting the server"
    );
    let e = c
        .batch_execute("SET synchronous_commit = sometimes")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22023"));
    assert_eq!(
        message(&e),
        "invalid value for parameter \"synchronous_commit\": \"sometimes\""
    );
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_system_and_reload() {
    let mut node = Node::init("guc-alter-system");
    node.start();
    let c = node.connect().await;
    c.batch_execute("ALTER SYSTEM SET sync_replication_slots = on")
        .await
        .unwrap();
    let auto = std::fs::read_to_string(node.datadir.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("sync_replication_slots = 'on'"), "{auto}");
    // not live until reload
    let v: String = c
        .query_one("SHOW sync_replication_slots", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "off");
    let ok: bool = c
        .query_one("SELECT pg_reload_conf()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ok);
    let c2 = &c;
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        wait_for(
            "sync_replication_slots to become on after reload",
            DEADLINE,
            || {
                let v: String = rt.block_on(async {
                    c2.query_one("SHOW sync_replication_slots", &[])
                        .await
                        .unwrap()
                        .get(0)
                });
                (v == "on").then_some(())
            },
        )
    });
    // restart-only settings are reported, not applied
    c.batch_execute("ALTER SYSTEM SET max_wal_senders = 20")
        .await
        .unwrap();
    c.query_one("SELECT pg_reload_conf()", &[]).await.unwrap();
    tokio::task::block_in_place(|| {
        wait_for("reload log line for max_wal_senders", DEADLINE, || {
            node.log()
                .contains(
                    "parameter \"max_wal_senders\" cannot be changed without restarting the server",
                )
                .then_some(())
        })
    });
    let v: String = c
        .query_one("SHOW max_wal_senders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "10");
    let e = c
        .batch_execute("ALTER SYSTEM SET nonexistent = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42704"));
    let e = c
        .batch_execute("BEGIN; ALTER SYSTEM SET work_mem = '1MB'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("25001"));
    c.batch_execute("ROLLBACK").await.unwrap();
    drop(c);
    node.restart();
    let c = node.connect().await;
    let v: String = c
        .query_one("SHOW max_wal_senders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "20");
    c.batch_execute("ALTER SYSTEM RESET ALL").await.unwrap();
    node.stop();
}
