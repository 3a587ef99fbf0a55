//! Subscription apply between two tandem nodes: a failover-enabled
//! subscription to a FOR ALL TABLES publication (initial copy, then an insert
//! shows up at the subscriber), every kind of change (insert, update also of the key,
//! delete, truncate, DDL then data, many types, text and binary), two
//! subscriptions on one publisher, exactly-once across a subscriber SIGKILLed
//! mid-stream and a publisher restarted and SIGKILLed mid-stream (a checker
//! counts applied transactions and compares every key and value), conflicts
//! (duplicate key: ERROR with CONTEXT and retry; missing row: logged and
//! skipped), disable_on_error, ALTER SUBSCRIPTION SKIP, DISABLE / ENABLE and
//! DROP SUBSCRIPTION stopping the worker.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use tandem_testkit::{wait_for, Node, DEADLINE};

fn publisher(name: &str) -> Node {
    let mut n = Node::init(name);
    n.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    n.start();
    n
}

fn subscriber(name: &str) -> Node {
    let mut n = Node::init(name);
    // quick retries after errors and restarts
    n.append_conf("wal_retrieve_retry_interval = '100ms'");
    n.start();
    n
}

/// Every row of `table` ordered by `order`, as psql prints them.
fn rows(node: &Node, table: &str, order: &str) -> String {
    node.safe_psql(&format!("select * from {table} order by {order}"))
}

/// Waits until `table` has the same rows on both nodes (on timeout: both
/// sides and the subscriber's log).
fn wait_converged(publ: &Node, sub: &Node, table: &str, order: &str) {
    let want = rows(publ, table, order);
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let have = rows(sub, table, order);
        if have == want {
            return;
        }
        if std::time::Instant::now() > end {
            panic!(
                "{table} on {} differs from {}'s:\n{have}\n---\n{want}\n--- log:\n{}",
                sub.name,
                publ.name,
                sub.log()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until every table of every subscription is ready.
fn wait_sync(sub: &Node) {
    wait_for("tables in state r", DEADLINE, || {
        (sub.safe_psql("select count(*) from pg_subscription_rel where srsubstate <> 'r'") == "0")
            .then_some(())
    });
}

#[test]
fn initial_copy_then_every_kind_of_change() {
    let publ = publisher("t022_pub");
    let sub = subscriber("t022_sub");
    // a failover-enabled subscription to a FOR ALL TABLES publication; rows
    // exist before the subscription (initial copy)
    publ.safe_psql("create table tab_rep(a int primary key, b int);");
    publ.safe_psql("insert into tab_rep values (100, 100), (101, 101)");
    publ.safe_psql("CREATE PUBLICATION mypub FOR ALL TABLES;");
    sub.safe_psql("create table tab_rep(a int primary key, b int);");
    let out = sub.psql(&format!(
        "CREATE SUBSCRIPTION mysub CONNECTION 'host=localhost port={} dbname=postgres' PUBLICATION mypub WITH (failover = true);",
        publ.port
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("NOTICE:  created replication slot \"mysub\" on publisher"));
    wait_sync(&sub);
    assert_eq!(rows(&sub, "tab_rep", "a"), "100|100\n101|101");
    publ.safe_psql("insert into tab_rep values (1, 1);");
    wait_for("the row at the subscriber", DEADLINE, || {
        (sub.safe_psql("select * from tab_rep where a = 1") == "1|1").then_some(())
    });
    assert!(sub
        .log()
        .contains("logical replication apply worker for subscription \"mysub\" has started"));

    // updates (also of the key), deletes, a multi-statement transaction
    publ.safe_psql(
        "update tab_rep set b = 2 where a = 1; \
         update tab_rep set a = 200 where a = 100; \
         delete from tab_rep where a = 101; \
         begin; insert into tab_rep select g, g * 10 from generate_series(2, 50) g; \
         update tab_rep set b = -b where a % 7 = 0; delete from tab_rep where a % 11 = 0; commit",
    );
    wait_converged(&publ, &sub, "tab_rep", "a");

    // a table without a primary key, REPLICA IDENTITY FULL; many types
    let types = "create table types (id int primary key, i2 smallint, i8 bigint, n numeric, \
                 f4 real, f8 double precision, t text, vc varchar(10), bo boolean, by bytea, \
                 d date, ts timestamp, tz timestamptz, iv interval, u uuid, j jsonb, arr int[])";
    let nokey = "create table nokey (x int, y text)";
    publ.safe_psql(&format!(
        "{types}; {nokey}; alter table nokey replica identity full"
    ));
    sub.safe_psql(&format!("{types}; {nokey}"));
    sub.safe_psql("alter subscription mysub refresh publication");
    wait_sync(&sub);
    publ.safe_psql(
        "insert into types values \
         (1, 1, 9000000000, 1.5, 2.25, 3.125, 'a\tb\nc''d', 'short', true, '\\x00ff', \
          '2024-02-29', '2024-01-01 10:00:00.5', '2024-01-01 10:00:00+00', '1 day 2 hours', \
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '{1,2,NULL}'), \
         (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null); \
         insert into nokey values (1, 'a'), (1, 'a'), (2, null); \
         update nokey set y = 'b' where x = 2; delete from nokey where x = 1",
    );
    wait_converged(&publ, &sub, "types", "id");
    wait_converged(&publ, &sub, "nokey", "x, y");

    // DDL then data: the column is added on both sides, then used
    sub.safe_psql("alter table tab_rep add column c text");
    publ.safe_psql(
        "alter table tab_rep add column c text; insert into tab_rep values (500, 5, 'five')",
    );
    wait_converged(&publ, &sub, "tab_rep", "a");

    // truncate
    publ.safe_psql("truncate tab_rep; insert into tab_rep values (7, 7, 'after')");
    wait_converged(&publ, &sub, "tab_rep", "a");

    // origin progress is visible and the slot has confirmed it: the slot may
    // be further on (keepalives confirm WAL past the last commit, such as the
    // failover slot's own state records), never behind
    let remote = sub.safe_psql(
        "select remote_lsn from pg_replication_origin_status where external_id = \
         (select 'pg_' || oid from pg_subscription where subname = 'mysub')",
    );
    assert!(!remote.is_empty(), "no origin progress");
    wait_for(
        "the slot to confirm the origin's progress",
        DEADLINE,
        || {
            (publ.safe_psql(&format!(
                "select confirmed_flush_lsn >= '{remote}'::pg_lsn from pg_replication_slots \
             where slot_name = 'mysub'"
            )) == "t")
                .then_some(())
        },
    );
    let last_commit = publ.safe_psql("select pg_current_wal_lsn()");
    assert!(
        sub.safe_psql(&format!(
            "select '{remote}'::pg_lsn <= '{last_commit}'::pg_lsn"
        )) == "t",
        "origin {remote} beyond the publisher's WAL {last_commit}"
    );
    let stat = sub.safe_psql("select worker_type, pid is not null from pg_stat_subscription");
    assert_eq!(stat, "apply|t");
}

#[test]
fn binary_subscription_and_two_subscriptions_on_one_publisher() {
    let publ = publisher("t022b_pub");
    let a = subscriber("t022b_a");
    let b = subscriber("t022b_b");
    let ddl = "create table t1 (id int primary key, v text, ts timestamptz, n numeric); \
               create table t2 (id int primary key, w int)";
    publ.safe_psql(ddl);
    publ.safe_psql("insert into t1 values (1, 'one', now(), 1.1); insert into t2 values (1, 1)");
    publ.safe_psql("create publication p_all for all tables; create publication p_t1 for table t1");
    a.safe_psql(ddl);
    b.safe_psql(ddl);
    // a subscriber-only column with a DEFAULT is filled as PostgreSQL does
    publ.safe_psql("create table t3 (id int primary key, v text)");
    a.safe_psql(
        "create table t3 (id int primary key, v text, origin text default 'sub-' || 'side', \
         seq serial)",
    );
    let conn = publ.conninfo("postgres");
    a.safe_psql(&format!(
        "create subscription sa connection '{conn}' publication p_all with (binary = true)"
    ));
    b.safe_psql(&format!(
        "create subscription sb connection '{conn}' publication p_t1"
    ));
    wait_sync(&a);
    wait_sync(&b);
    for i in 2..=20 {
        publ.safe_psql(&format!(
            "insert into t1 values ({i}, 'v{i}', now(), {i}.5); insert into t2 values ({i}, {i})"
        ));
    }
    publ.safe_psql("update t1 set v = v || '!' where id % 2 = 0; delete from t2 where id > 15");
    wait_converged(&publ, &a, "t1", "id");
    wait_converged(&publ, &a, "t2", "id");
    wait_converged(&publ, &b, "t1", "id");
    assert_eq!(
        b.safe_psql("select count(*) from t2"),
        "0",
        "t2 is not in p_t1"
    );
    assert_eq!(
        publ.safe_psql(
            "select string_agg(slot_name, ',' order by slot_name) from pg_replication_slots where active"
        ),
        "sa,sb"
    );
}

/// The publisher's writer: transaction i inserts `applied(i)` (no key: a
/// duplicate would show), updates the ten `acc` rows with a step that does
/// not commute (an out-of-order or repeated transaction changes the result),
/// and inserts 0-4 rows into `data`.
fn write_transactions(
    publ_conn: String,
    from: u32,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU32>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let client = match tandem_testkit::connect(&publ_conn).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("writer: cannot connect: {e}");
                    return;
                }
            };
            let mut i = from;
            while !stop.load(Ordering::Acquire) {
                let sql = format!(
                    "begin; insert into applied values ({i}); \
                     update acc set v = (v * 31 + {i}) % 1000003; \
                     insert into data select {i} * 10 + g, 'row ' || {i} from generate_series(1, {}) g; \
                     commit",
                    i % 5
                );
                if let Err(e) = client.batch_execute(&sql).await {
                    if !stop.load(Ordering::Acquire) {
                        eprintln!("writer: transaction {i} failed: {}", tandem_testkit::message(&e));
                    }
                    break;
                }
                done.store(i, Ordering::Release);
                i += 1;
            }
        });
    })
}

fn setup_exactly_once(publ: &Node, sub: &Node) {
    let ddl = "create table applied (i int); \
               create table acc (k int primary key, v bigint); \
               create table data (id int primary key, t text)";
    publ.safe_psql(ddl);
    publ.safe_psql(
        "alter table applied replica identity full; \
         insert into acc select g, g from generate_series(1, 10) g; \
         create publication p for all tables",
    );
    sub.safe_psql(ddl);
    sub.safe_psql(&format!(
        "create subscription s connection '{}' publication p",
        publ.conninfo("postgres")
    ));
    wait_sync(sub);
}

/// Every transaction exactly once and in order: `applied` holds 1..=n once
/// each (n: what the publisher committed, at least the `acked` the writer saw
/// acknowledged), and `acc` / `data` equal the publisher's.
fn check_exactly_once(publ: &Node, sub: &Node, acked: u32) {
    let n: u32 = publ
        .safe_psql("select max(i) from applied")
        .parse()
        .expect("publisher count");
    assert!(n >= acked, "the publisher lost acknowledged transactions");
    assert_eq!(
        publ.safe_psql("select count(*) from applied"),
        n.to_string()
    );
    wait_for("the last transaction at the subscriber", DEADLINE, || {
        (sub.safe_psql(&format!("select count(*) from applied where i = {n}")) == "1").then_some(())
    });
    assert_eq!(
        sub.safe_psql("select count(*), count(distinct i), min(i), max(i) from applied"),
        format!("{n}|{n}|1|{n}"),
        "every transaction applied exactly once"
    );
    assert_eq!(rows(sub, "acc", "k"), rows(publ, "acc", "k"), "order kept");
    assert_eq!(rows(sub, "data", "id"), rows(publ, "data", "id"));
}

#[test]
fn subscriber_killed_mid_stream_applies_each_transaction_once() {
    let publ = publisher("t022k_pub");
    let mut sub = subscriber("t022k_sub");
    setup_exactly_once(&publ, &sub);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU32::new(0));
    let writer = write_transactions(publ.conninfo("postgres"), 1, stop.clone(), done.clone());
    for round in 1..=3u32 {
        // let some transactions be applied, then crash the subscriber
        let target = done.load(Ordering::Acquire) + 40;
        wait_for("progress before the kill", DEADLINE, || {
            let n: u32 = sub
                .safe_psql("select count(*) from applied")
                .parse()
                .unwrap_or(0);
            (n >= target.saturating_sub(20) && done.load(Ordering::Acquire) >= target).then_some(())
        });
        sub.kill9();
        sub.start();
        eprintln!("round {round}: subscriber killed and restarted");
    }
    stop.store(true, Ordering::Release);
    writer.join().expect("writer");
    let n = done.load(Ordering::Acquire);
    assert!(n > 100, "only {n} transactions written");
    check_exactly_once(&publ, &sub, n);
}

#[test]
fn publisher_restart_and_crash_mid_stream_lose_nothing() {
    let mut publ = publisher("t022r_pub");
    let sub = subscriber("t022r_sub");
    setup_exactly_once(&publ, &sub);
    let done = Arc::new(AtomicU32::new(0));
    let mut from = 1;
    for kill in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer =
            write_transactions(publ.conninfo("postgres"), from, stop.clone(), done.clone());
        wait_for("transactions written", DEADLINE, || {
            assert!(
                !writer.is_finished(),
                "the writer stopped early (see its output)"
            );
            (done.load(Ordering::Acquire) >= from + 60).then_some(())
        });
        stop.store(true, Ordering::Release);
        if kill {
            publ.kill9();
        } else {
            publ.stop();
        }
        writer.join().expect("writer");
        publ.start();
        // a commit may have been durable without its acknowledgement arriving
        from = publ
            .safe_psql("select coalesce(max(i), 0) + 1 from applied")
            .parse()
            .expect("next transaction number");
        done.store(from - 1, Ordering::Release);
    }
    let n = done.load(Ordering::Acquire);
    check_exactly_once(&publ, &sub, n);
}

fn wait_log(node: &Node, what: &str) {
    wait_for(
        &format!("log line {what:?} on {}", node.name),
        DEADLINE,
        || node.log().contains(what).then_some(()),
    );
}

#[test]
fn conflicts_disable_on_error_skip_and_worker_lifecycle() {
    let publ = publisher("t022c_pub");
    let sub = subscriber("t022c_sub");
    publ.safe_psql("create table t (id int primary key, v text); create publication p for table t");
    sub.safe_psql("create table t (id int primary key, v text)");
    sub.safe_psql(&format!(
        "create subscription s connection '{}' publication p",
        publ.conninfo("postgres")
    ));
    wait_sync(&sub);

    // duplicate key: ERROR with CONTEXT, retried until the local row goes
    sub.safe_psql("insert into t values (5, 'local')");
    publ.safe_psql("insert into t values (5, 'remote'); insert into t values (6, 'next')");
    wait_log(
        &sub,
        "ERROR:  duplicate key value violates unique constraint \"t_pkey\"",
    );
    let log = sub.log();
    assert!(
        log.contains("DETAIL:  Key (id)=(5) already exists."),
        "{log}"
    );
    assert!(
        log.contains("CONTEXT:  processing remote data for replication origin \"pg_")
            && log.contains("during message type \"INSERT\" for replication target relation \"public.t\" in transaction"),
        "{log}"
    );
    assert!(log.contains("background worker \"logical replication apply worker\""));
    sub.safe_psql("delete from t where id = 5");
    wait_converged(&publ, &sub, "t", "id");

    // a missing row is logged and skipped
    sub.safe_psql("delete from t where id = 6");
    publ.safe_psql("update t set v = 'changed' where id = 6; insert into t values (7, 'seven')");
    wait_for("row 7", DEADLINE, || {
        (sub.safe_psql("select v from t where id = 7") == "seven").then_some(())
    });
    assert!(sub
        .log()
        .contains("conflict detected on relation \"public.t\": conflict=update_missing"));
    sub.safe_psql("insert into t values (6, 'changed')");

    // disable_on_error
    sub.safe_psql("alter subscription s set (disable_on_error = true)");
    sub.safe_psql("insert into t values (8, 'local')");
    publ.safe_psql("insert into t values (8, 'remote')");
    wait_log(
        &sub,
        "subscription \"s\" has been disabled because of an error",
    );
    assert_eq!(
        sub.safe_psql("select subenabled from pg_subscription"),
        "f",
        "{}",
        sub.log()
    );

    // SKIP the failing transaction by its finish LSN
    let log = sub.log();
    let after = log
        .rfind("Key (id)=(8) already exists.")
        .expect("the conflict on key 8 in the log");
    let at = log[after..]
        .lines()
        .find_map(|l| l.split("finished at ").nth(1))
        .expect("finish LSN in the log")
        .trim()
        .to_string();
    sub.safe_psql(&format!("alter subscription s skip (lsn = '{at}')"));
    sub.safe_psql("alter subscription s enable");
    wait_log(
        &sub,
        &format!("logical replication completed skipping transaction at LSN {at}"),
    );
    assert_eq!(sub.safe_psql("select v from t where id = 8"), "local");
    sub.safe_psql("update t set v = 'remote' where id = 8");
    assert_eq!(
        sub.safe_psql("select subskiplsn from pg_subscription"),
        "0/0"
    );
    publ.safe_psql("insert into t values (9, 'nine')");
    wait_for("row 9", DEADLINE, || {
        (sub.safe_psql("select v from t where id = 9") == "nine").then_some(())
    });

    // DISABLE stops the worker and frees the slot; ENABLE starts it again
    sub.safe_psql("alter subscription s disable");
    wait_for("slot inactive", DEADLINE, || {
        (publ.safe_psql("select active from pg_replication_slots where slot_name = 's'") == "f")
            .then_some(())
    });
    wait_for("no worker in pg_stat_subscription", DEADLINE, || {
        (sub.safe_psql("select pid is null from pg_stat_subscription") == "t").then_some(())
    });
    publ.safe_psql("insert into t values (10, 'while disabled')");
    sub.safe_psql("alter subscription s enable");
    wait_converged(&publ, &sub, "t", "id");

    // DROP SUBSCRIPTION stops the worker and drops the slot it was using
    let out = sub.psql("drop subscription s");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        publ.safe_psql("select count(*) from pg_replication_slots"),
        "0"
    );
    assert_eq!(
        sub.safe_psql("select count(*) from pg_replication_origin"),
        "0"
    );
}

/// A transaction larger than the walsender decodes whole (its records pass
/// 4 MB) reaches the subscriber as one transaction, every change once, in
/// order; the transactions around it too.
#[test]
fn a_large_transaction_decoded_in_parts_applies_whole() {
    let publ = publisher("t022_big_pub");
    let sub = subscriber("t022_big_sub");
    for n in [&publ, &sub] {
        n.safe_psql("create table big(a int primary key, b text, c int)");
    }
    publ.safe_psql("create publication bigpub for table big");
    sub.safe_psql(&format!(
        "create subscription bigsub connection 'host=localhost port={} dbname=postgres' \
         publication bigpub",
        publ.port
    ));
    wait_sync(&sub);
    publ.safe_psql("insert into big values (0, 'before', 0)");
    publ.safe_psql(
        "begin; \
         insert into big select g, repeat('x', 100) || g, g from generate_series(1, 60000) g; \
         update big set b = 'changed', c = -c where a % 3 = 0; \
         delete from big where a % 5 = 0; \
         update big set a = a + 100000 where a % 7 = 0 and a % 5 <> 0; \
         commit",
    );
    publ.safe_psql("insert into big values (-1, 'after', 0)");
    wait_converged(&publ, &sub, "big", "a");
    assert_eq!(
        sub.safe_psql("select count(*), sum(c) from big"),
        publ.safe_psql("select count(*), sum(c) from big")
    );
}

/// The subscriber's own CHECK constraints hold for what is applied, as in
/// PostgreSQL: the initial copy and a streamed INSERT or UPDATE that breaks
/// one fail (logged, retried) until the constraint goes; the copy fills the
/// DEFAULT of a column the publisher does not have.
#[test]
fn subscriber_check_constraints_and_copy_defaults() {
    let publ = publisher("t022k_pub");
    let sub = subscriber("t022k_sub");
    publ.safe_psql(
        "create table k (id int primary key, v int); \
         insert into k values (1, 10), (2, 20); create publication p for table k",
    );
    sub.safe_psql(
        "create table k (id int primary key, v int constraint v_small check (v < 100), \
         origin text default 'copied')",
    );
    sub.safe_psql(&format!(
        "create subscription s connection '{}' publication p",
        publ.conninfo("postgres")
    ));
    wait_sync(&sub);
    assert_eq!(
        sub.safe_psql("select string_agg(id || ':' || origin, ',' order by id) from k"),
        "1:copied,2:copied"
    );

    // an INSERT that breaks the subscriber's CHECK: refused, retried
    publ.safe_psql("insert into k values (3, 300); insert into k values (4, 40)");
    wait_log(
        &sub,
        "ERROR:  new row for relation \"k\" violates check constraint \"v_small\"",
    );
    assert!(sub
        .log()
        .contains("DETAIL:  Failing row contains (3, 300, copied)."));
    assert_eq!(sub.safe_psql("select count(*) from k where id >= 3"), "0");
    sub.safe_psql("alter table k drop constraint v_small");
    wait_for("rows 3 and 4", DEADLINE, || {
        (sub.safe_psql("select count(*) from k where id >= 3") == "2").then_some(())
    });

    // and an UPDATE
    sub.safe_psql("delete from k where id = 3; alter table k add constraint v_pos check (v > 0)");
    publ.safe_psql("delete from k where id = 3; update k set v = -1 where id = 1");
    wait_log(
        &sub,
        "ERROR:  new row for relation \"k\" violates check constraint \"v_pos\"",
    );
    assert_eq!(sub.safe_psql("select v from k where id = 1"), "10");
    sub.safe_psql("alter table k drop constraint v_pos");
    wait_for("row 1 updated", DEADLINE, || {
        (sub.safe_psql("select v from k where id = 1") == "-1").then_some(())
    });
}
