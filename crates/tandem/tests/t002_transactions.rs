//! Transactions: blocks, isolation levels, the failed-transaction state (25P02),
//! and no lost updates under concurrent sessions.

use tandem_testkit::{message, sqlstate, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_failed_transactions() {
    let mut node = Node::init("tx-basic");
    node.start();
    let c = node.connect().await;
    c.batch_execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
        .await
        .unwrap();
    c.batch_execute("BEGIN; INSERT INTO t VALUES (1, 1); ROLLBACK")
        .await
        .unwrap();
    c.batch_execute("START TRANSACTION; INSERT INTO t VALUES (2, 2); COMMIT")
        .await
        .unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    c.batch_execute("BEGIN").await.unwrap();
    let e = c.batch_execute("SELECT 1/0").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22012"));
    let e = c.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("25P02"));
    assert_eq!(
        message(&e),
        "current transaction is aborted, commands ignored until end of transaction block"
    );
    // COMMIT of a failed transaction rolls back
    let msgs = c.simple_query("COMMIT").await.unwrap();
    assert!(msgs
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::CommandComplete(_))));
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);

    // a multi-statement simple query is one implicit transaction
    let e = c
        .batch_execute("INSERT INTO t VALUES (3, 3); SELECT 1/0")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22012"));
    let n: i64 = c
        .query_one("SELECT count(*) FROM t WHERE k = 3", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    // DDL is transactional
    c.batch_execute("BEGIN; CREATE TABLE gone (a int); ROLLBACK")
        .await
        .unwrap();
    let e = c.query("SELECT * FROM gone", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42P01"));
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_and_repeatable_read() {
    let mut node = Node::init("tx-iso");
    node.start();
    let a = node.connect().await;
    let b = node.connect().await;
    a.batch_execute("CREATE TABLE t (k int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 10)")
        .await
        .unwrap();

    b.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    let v: i32 = b
        .query_one("SELECT v FROM t WHERE k = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 10);
    a.batch_execute("UPDATE t SET v = 20 WHERE k = 1")
        .await
        .unwrap();
    let v: i32 = b
        .query_one("SELECT v FROM t WHERE k = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 10, "repeatable read keeps its snapshot");
    let e = b
        .batch_execute("UPDATE t SET v = v + 1 WHERE k = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("40001"));
    assert_eq!(
        message(&e),
        "could not serialize access due to concurrent update"
    );
    b.batch_execute("ROLLBACK").await.unwrap();

    b.batch_execute("BEGIN").await.unwrap();
    let v: i32 = b
        .query_one("SELECT v FROM t WHERE k = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 20);
    a.batch_execute("UPDATE t SET v = 30 WHERE k = 1")
        .await
        .unwrap();
    let v: i32 = b
        .query_one("SELECT v FROM t WHERE k = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 30, "read committed sees new commits per statement");
    b.batch_execute("COMMIT").await.unwrap();
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_lose_no_update() {
    let mut node = Node::init("tx-lost-update");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE counter (k int PRIMARY KEY, v bigint); INSERT INTO counter VALUES (1, 0)",
    )
    .await
    .unwrap();
    let clients = 8;
    let per_client = 200;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let cl = node.connect().await;
        tasks.push(tokio::spawn(async move {
            let stmt = cl
                .prepare("UPDATE counter SET v = v + $1 WHERE k = 1")
                .await
                .unwrap();
            for _ in 0..per_client {
                cl.execute(&stmt, &[&1i64]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v: i64 = c
        .query_one("SELECT v FROM counter WHERE k = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, (clients * per_client) as i64);
    node.stop();
}
