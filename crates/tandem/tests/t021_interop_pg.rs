//! Interoperability with real PostgreSQL 17 logical replication.
//!
//! tandem publishes, PostgreSQL 17 subscribes (`CREATE SUBSCRIPTION ...
//! CONNECTION '<tandem>'`): streaming without initial copy (DML of every
//! kind, a 20k-row transaction PostgreSQL asks to stream in parallel, data
//! types, DDL then data), the initial copy by PostgreSQL's tablesync worker
//! (`CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')` then COPY in one
//! REPEATABLE READ transaction), also with a concurrent writer, the sync slot
//! dropped at the end, and the `SNAPSHOT 'use'` errors compared with
//! PostgreSQL's. Tables are compared whole on both sides
//! (`tandem_testkit::assert_tables_equal`).
//!
//! The PostgreSQL nodes are `tandem_testkit::Node::init_pg17` (skipped
//! without PostgreSQL 17, a failure in CI). Tests where PostgreSQL publishes and
//! tandem subscribes belong here too: build them from [`tandem_publisher`]'s
//! counterparts and the same comparison helpers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tandem_testkit::{
    assert_tables_equal, log_errors, pg17, wait_for_result, wait_tables_equal, Node,
};

/// Long operations (the 20k-row transaction, initial sync).
const LONG: Duration = Duration::from_secs(120);

/// A tandem node with `wal_level = logical`, started.
fn tandem_publisher(name: &str) -> Node {
    let mut node = Node::init(name);
    node.append_conf("wal_level = logical\nmax_wal_senders = 20\nmax_replication_slots = 20");
    node.start();
    node
}

/// A PostgreSQL 17 node for subscribing, started.
fn pg_subscriber(name: &str) -> Node {
    let mut node = Node::init_pg17(
        name,
        &[
            ("wal_level", "logical"),
            ("timezone", "'UTC'"),
            ("wal_retrieve_retry_interval", "'200ms'"),
            ("max_logical_replication_workers", "8"),
            ("log_min_messages", "'log'"),
        ],
    );
    node.start();
    node
}

/// `CREATE SUBSCRIPTION <name> CONNECTION '<publisher>' PUBLICATION <publication> <with>`
/// on `sub`.
fn subscribe(sub: &Node, publisher: &Node, name: &str, publication: &str, with: &str) {
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION {name} CONNECTION '{}' PUBLICATION {publication} {with}",
        publisher.conninfo("postgres")
    ));
}

/// Waits until every table of PostgreSQL subscription `subname` is ready
/// (`pg_subscription_rel.srsubstate = 'r'`).
fn wait_subscription_ready(sub: &Node, subname: &str) {
    wait_for_result(
        sub,
        &format!(
            "SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') || '/' || count(*) \
             FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid \
             WHERE s.subname = '{subname}' HAVING count(*) > 0"
        ),
        &format!(
            "0/{}",
            sub.safe_psql(&format!(
                "SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s \
                 ON s.oid = r.srsubid WHERE s.subname = '{subname}'"
            ))
        ),
        LONG,
    );
}

/// No ERROR/FATAL/PANIC in either log except the `allowed` ones.
fn assert_clean_logs(nodes: &[&Node], allowed: &[&str]) {
    for n in nodes {
        let errors = log_errors(&n.log(), allowed);
        assert!(
            errors.is_empty(),
            "errors in the log of {}:\n{}\n\nfull log:\n{}",
            n.name,
            errors.join("\n"),
            n.log()
        );
    }
}

/// A column of each type, a UNIQUE constraint and a secondary index (kept
/// by the applying side as its own writes keep them).
const TYPES_TABLE: &str = "CREATE TABLE ty (id int PRIMARY KEY, a smallint, b bigint, \
    c numeric(12,3), d bool, e float8, f real, g date, h timestamp, i timestamptz, j bytea, \
    k varchar(20) UNIQUE, l uuid, m jsonb, n int[], o interval, p char(3), q text, r time); \
    CREATE INDEX ty_g_idx ON ty (g, id)";

const TYPES_ROWS: &str = "INSERT INTO ty VALUES \
    (1, 1, 9000000000, 123.456, true, 1.5, 2.25, '2024-01-02', '2024-01-02 03:04:05', \
     '2024-01-02 03:04:05+00', '\\xdeadbeef', 'vc', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', \
     '{\"a\": 1, \"b\": [true, null]}', '{1,2,3}', '1 day 2 hours', 'ab', 'tab\there ''quoted'' \\ back', '12:34:56.789'), \
    (2, -32768, -1, -0.001, false, -2.5e15, 3.5, '1999-12-31', '2000-01-01 00:00:00.000001', \
     '2030-06-15 12:00:00+02', '\\x', '', '00000000-0000-0000-0000-000000000000', '[]', '{}', \
     '-3 mons', 'xyz', 'ünïcödé ✓', '24:00:00'), \
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL, NULL, NULL)";

#[test]
fn pg17_subscribes_to_tandem_without_copy() {
    if !pg17::require_pg17("pg17_subscribes_to_tandem_without_copy") {
        return;
    }
    let publisher = tandem_publisher("t021_pub_a");
    let sub = pg_subscriber("t021_sub_a");
    let tables = format!("CREATE TABLE t (id int PRIMARY KEY, v text); {TYPES_TABLE}");
    publisher.safe_psql(&tables);
    publisher.safe_psql("CREATE PUBLICATION p FOR ALL TABLES");
    sub.safe_psql(&tables);
    subscribe(&sub, &publisher, "s", "p", "WITH (copy_data = false)");

    // inserts
    publisher.safe_psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);

    // updates (also of the primary key) and deletes
    publisher.safe_psql("UPDATE t SET v = v || '-u' WHERE id % 3 = 0");
    publisher.safe_psql("UPDATE t SET id = id + 1000 WHERE id <= 10");
    publisher.safe_psql("DELETE FROM t WHERE id BETWEEN 50 AND 60");
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);

    // a multi-statement transaction
    publisher.safe_psql(
        "BEGIN; INSERT INTO t VALUES (500, 'in txn'); UPDATE t SET v = 'txn' WHERE id = 20; \
         DELETE FROM t WHERE id = 21; INSERT INTO t VALUES (501, NULL); COMMIT",
    );
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);

    // truncate, then rows again
    publisher.safe_psql("TRUNCATE t");
    publisher.safe_psql("INSERT INTO t VALUES (1, 'after truncate'), (2, 'again')");
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);

    // a large transaction: PostgreSQL 17 asks for streaming = parallel, which
    // tandem satisfies by sending it whole at commit
    publisher.safe_psql(
        "INSERT INTO t SELECT g, repeat('x', 50) || g FROM generate_series(100000, 119999) g",
    );
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);
    assert_eq!(sub.safe_psql("SELECT count(*) FROM t"), "20002");

    // data types
    publisher.safe_psql(TYPES_ROWS);
    publisher.safe_psql("UPDATE ty SET q = q || '!', c = c * 2 WHERE id = 1");
    wait_tables_equal(&publisher, &sub, "ty", "id", LONG);

    // DDL on both sides, then data using the new column
    sub.safe_psql("ALTER TABLE t ADD COLUMN w int");
    publisher.safe_psql("ALTER TABLE t ADD COLUMN w int");
    publisher.safe_psql("INSERT INTO t VALUES (7, 'with w', 42)");
    publisher.safe_psql("UPDATE t SET w = id WHERE id < 3");
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);
    assert_eq!(sub.safe_psql("SELECT w FROM t WHERE id = 7"), "42");

    assert_tables_equal(&publisher, &sub, "t", "id");
    assert_tables_equal(&publisher, &sub, "ty", "id");
    assert_clean_logs(&[&publisher, &sub], &[]);
    // the subscription's slot on tandem is the only one; DROP SUBSCRIPTION
    // drops it (DROP_REPLICATION_SLOT "s" WAIT)
    assert_eq!(
        publisher.safe_psql("SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
        "s"
    );
    sub.safe_psql("DROP SUBSCRIPTION s");
    assert_eq!(
        publisher.safe_psql("SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
    assert_clean_logs(
        &[&publisher, &sub],
        &["terminating logical replication worker due to administrator command"],
    );
}

#[test]
fn pg17_initial_copy_from_tandem() {
    if !pg17::require_pg17("pg17_initial_copy_from_tandem") {
        return;
    }
    let publisher = tandem_publisher("t021_pub_b");
    let sub = pg_subscriber("t021_sub_b");
    let tables = format!("CREATE TABLE t (id int PRIMARY KEY, v text); {TYPES_TABLE}");
    publisher.safe_psql(&tables);
    publisher.safe_psql("INSERT INTO t SELECT g, 'before ' || g FROM generate_series(1, 3000) g");
    publisher.safe_psql("DELETE FROM t WHERE id % 10 = 0");
    publisher.safe_psql(TYPES_ROWS);
    publisher.safe_psql("CREATE PUBLICATION p FOR TABLE t, ty");
    sub.safe_psql(&tables);
    subscribe(&sub, &publisher, "s", "p", "");
    wait_subscription_ready(&sub, "s");
    assert_tables_equal(&publisher, &sub, "t", "id");
    assert_tables_equal(&publisher, &sub, "ty", "id");
    assert_eq!(sub.safe_psql("SELECT count(*) FROM t"), "2700");

    // streaming continues after the sync
    publisher
        .safe_psql("INSERT INTO t VALUES (10, 'after sync'); UPDATE t SET v = 'u' WHERE id = 1");
    wait_tables_equal(&publisher, &sub, "t", "id", LONG);

    // the tablesync slots are gone: only the subscription's slot is left
    wait_for_result(
        &publisher,
        "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots",
        "s",
        LONG,
    );
    assert_clean_logs(&[&publisher, &sub], &[]);
}

#[test]
fn pg17_initial_copy_with_concurrent_writer() {
    if !pg17::require_pg17("pg17_initial_copy_with_concurrent_writer") {
        return;
    }
    let publisher = tandem_publisher("t021_pub_c");
    let sub = pg_subscriber("t021_sub_c");
    let table = "CREATE TABLE t (id int PRIMARY KEY, v text)";
    publisher.safe_psql(table);
    publisher.safe_psql("INSERT INTO t SELECT g, 'base ' || g FROM generate_series(1, 5000) g");
    publisher.safe_psql("CREATE PUBLICATION p FOR TABLE t");
    sub.safe_psql(table);

    // A writer commits inserts and updates of older rows, one transaction
    // each, before, during and after the initial sync.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let conninfo = publisher.conninfo("postgres");
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = tandem_testkit::connect(&conninfo)
                    .await
                    .expect("writer connect");
                let mut i: i32 = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    client
                        .execute(
                            "INSERT INTO t VALUES ($1, $2)",
                            &[&(100_000 + i), &format!("w{i}")],
                        )
                        .await
                        .expect("writer insert");
                    let old: i32 = (i * 7919) % 5000 + 1;
                    client
                        .execute("UPDATE t SET v = v || '+' WHERE id = $1", &[&old])
                        .await
                        .expect("writer update");
                    written.fetch_add(1, Ordering::SeqCst);
                }
            });
        })
    };
    tandem_testkit::wait_for("the writer to start", LONG, || {
        (written.load(Ordering::SeqCst) >= 50).then_some(())
    });
    subscribe(&sub, &publisher, "s", "p", "");
    wait_subscription_ready(&sub, "s");
    let at_ready = written.load(Ordering::SeqCst);
    tandem_testkit::wait_for("more writes after the sync", LONG, || {
        (written.load(Ordering::SeqCst) >= at_ready + 100).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");

    wait_tables_equal(&publisher, &sub, "t", "id", LONG);
    // every key exactly once, on both sides
    let keys = "SELECT count(*) || ' ' || count(DISTINCT id) FROM t";
    let n = 5000 + written.load(Ordering::SeqCst);
    assert_eq!(publisher.safe_psql(keys), format!("{n} {n}"));
    assert_eq!(sub.safe_psql(keys), format!("{n} {n}"));
    wait_for_result(
        &publisher,
        "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots",
        "s",
        LONG,
    );
    // a row copied and then streamed again would be a duplicate key error
    assert_clean_logs(&[&publisher, &sub], &[]);
}

/// Runs replication commands and SQL, one `-c` each, on a
/// `replication=database` connection with PostgreSQL 17's psql; returns
/// (stdout, stderr).
fn replication_psql(port: u16, commands: &[&str]) -> (String, String) {
    let bin = pg17::pg17_bin().expect("PostgreSQL 17");
    let mut c = std::process::Command::new(bin.join("psql"));
    c.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(format!(
            "host=127.0.0.1 port={port} user=postgres dbname=postgres replication=database"
        ));
    for cmd in commands {
        c.arg("-c").arg(cmd);
    }
    let out = c.output().expect("run psql");
    (
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
    )
}

#[test]
fn snapshot_use_rules_match_pg17() {
    if !pg17::require_pg17("snapshot_use_rules_match_pg17") {
        return;
    }
    let tandem = tandem_publisher("t021_snap");
    let pg = pg_subscriber("t021_snap_pg");
    for n in [&tandem, &pg] {
        n.safe_psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
    }
    let create = "CREATE_REPLICATION_SLOT snap LOGICAL pgoutput (SNAPSHOT 'use')";
    let cases: [&[&str]; 4] = [
        &[create],
        &["BEGIN READ ONLY", create],
        &["BEGIN ISOLATION LEVEL REPEATABLE READ", create],
        &[
            "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ",
            "SELECT 1",
            create,
        ],
    ];
    for cmds in cases {
        let (_, e_tandem) = replication_psql(tandem.port, cmds);
        let (_, e_pg) = replication_psql(pg.port, cmds);
        assert!(e_pg.contains("SNAPSHOT 'use') must"), "{cmds:?}: {e_pg}");
        assert_eq!(e_tandem, e_pg, "{cmds:?}");
    }
    // the accepted form: the slot exists, the transaction reads as of it
    let (out, err) = replication_psql(
        tandem.port,
        &[
            "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ",
            create,
            "SELECT count(*) FROM t",
            "COPY t (id) TO STDOUT",
            "COMMIT",
            "DROP_REPLICATION_SLOT snap",
        ],
    );
    assert_eq!(err, "", "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(lines[0], "BEGIN", "{out}");
    assert!(lines[1].starts_with("snap|"), "{out}");
    assert_eq!(
        &lines[2..],
        &["2", "1", "2", "COMMIT", "DROP_REPLICATION_SLOT"],
        "{out}"
    );
}

// ---- PostgreSQL 17 publishes, tandem subscribes ----

/// A PostgreSQL 17 node with `wal_level = logical`, started.
fn pg_publisher(name: &str) -> Node {
    let mut node = Node::init_pg17(
        name,
        &[
            ("wal_level", "logical"),
            ("timezone", "'UTC'"),
            ("max_wal_senders", "20"),
            ("max_replication_slots", "20"),
        ],
    );
    node.start();
    node
}

/// A tandem node for subscribing (quick retries after errors), started.
fn tandem_subscriber(name: &str) -> Node {
    let mut node = Node::init(name);
    node.append_conf("wal_retrieve_retry_interval = '100ms'");
    node.start();
    node
}

/// Waits until every table of every tandem subscription is ready.
fn wait_tandem_ready(sub: &Node) {
    wait_for_result(
        sub,
        "select count(*) from pg_subscription_rel where srsubstate <> 'r'",
        "0",
        LONG,
    );
}

#[test]
fn tandem_subscribes_to_pg17_with_initial_copy() {
    if !pg17::require_pg17("tandem_subscribes_to_pg17_with_initial_copy") {
        return;
    }
    let publ = pg_publisher("t021_pgpub");
    let sub = tandem_subscriber("t021_tsub");
    // a table that references kv: the workers write with foreign keys
    // unchecked (copied in either order, cascaded deletes arriving as rows)
    let kv = "CREATE TABLE kv (k int PRIMARY KEY, v text); \
              CREATE TABLE kids (id int PRIMARY KEY, k int REFERENCES kv ON DELETE CASCADE)";
    publ.safe_psql(&format!("{kv}; {TYPES_TABLE}"));
    publ.safe_psql("INSERT INTO kv SELECT g, 'pre ' || g FROM generate_series(1, 2000) g");
    publ.safe_psql("INSERT INTO kids SELECT g, g % 50 + 1 FROM generate_series(1, 500) g");
    publ.safe_psql(TYPES_ROWS);
    publ.safe_psql("CREATE PUBLICATION pgp FOR ALL TABLES");
    sub.safe_psql(&format!("{kv}; {TYPES_TABLE}"));
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION ts CONNECTION '{}' PUBLICATION pgp",
        publ.conninfo("postgres")
    ));
    wait_tandem_ready(&sub);
    assert_tables_equal(&publ, &sub, "kv", "k");
    assert_tables_equal(&publ, &sub, "kids", "id");
    assert_tables_equal(&publ, &sub, "ty", "id");

    // every kind of change, also a key update and a truncate
    publ.safe_psql(
        "INSERT INTO kv SELECT g, 'new ' || g FROM generate_series(2001, 2500) g; \
         UPDATE kv SET v = v || '!' WHERE k % 3 = 0; \
         UPDATE kv SET k = k + 100000 WHERE k % 97 = 0; \
         DELETE FROM kv WHERE k % 5 = 0; \
         BEGIN; UPDATE ty SET q = 'changed', m = '{\"z\": 0}' WHERE id = 1; DELETE FROM ty WHERE id = 3; COMMIT",
    );
    wait_tables_equal(&publ, &sub, "kv", "k", LONG);
    wait_tables_equal(&publ, &sub, "ty", "id", LONG);
    // the cascade ran on the publisher; its deletes arrived as rows
    wait_tables_equal(&publ, &sub, "kids", "id", LONG);
    assert_eq!(
        sub.safe_psql("SELECT count(*) FROM kids WHERE k % 5 = 0"),
        "0"
    );
    // local writes on the subscriber are checked
    let out = sub.psql("INSERT INTO kids VALUES (99999, 777777)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("violates foreign key constraint \"kids_k_fkey\""),
        "{err}"
    );
    // the subscriber's UNIQUE index holds what the apply worker wrote
    let by_k = "SELECT id, m FROM ty WHERE k = 'vc'";
    assert_eq!(sub.safe_psql(by_k), publ.safe_psql(by_k));
    assert!(sub
        .safe_psql(&format!("EXPLAIN {by_k}"))
        .contains("Index Scan using ty_k_key on ty"));
    // a large transaction (PostgreSQL does not stream it: tandem asks for no streaming)
    publ.safe_psql(
        "INSERT INTO kv SELECT g, repeat('x', 50) FROM generate_series(200001, 220000) g",
    );
    wait_tables_equal(&publ, &sub, "kv", "k", LONG);
    publ.safe_psql("TRUNCATE ty; INSERT INTO ty (id, q) VALUES (9, 'after truncate')");
    wait_tables_equal(&publ, &sub, "ty", "id", LONG);
    // DDL then data
    sub.safe_psql("ALTER TABLE kv ADD COLUMN extra int");
    publ.safe_psql(
        "ALTER TABLE kv ADD COLUMN extra int; INSERT INTO kv VALUES (-1, 'with extra', 42)",
    );
    wait_tables_equal(&publ, &sub, "kv", "k", LONG);

    // the slot's confirmed position follows tandem's origin progress
    wait_for_result(
        &publ,
        "SELECT confirmed_flush_lsn >= pg_current_wal_lsn() - 1000000 FROM pg_replication_slots WHERE slot_name = 'ts'",
        "t",
        LONG,
    );
    assert_clean_logs(&[&sub], &[]);
    sub.safe_psql("DROP SUBSCRIPTION ts");
    assert_eq!(
        publ.safe_psql("SELECT count(*) FROM pg_replication_slots"),
        "0"
    );
}

#[test]
fn tandem_subscriber_killed_mid_stream_from_pg17_applies_each_transaction_once() {
    if !pg17::require_pg17(
        "tandem_subscriber_killed_mid_stream_from_pg17_applies_each_transaction_once",
    ) {
        return;
    }
    let publ = pg_publisher("t021_pgpub_k");
    let mut sub = tandem_subscriber("t021_tsub_k");
    let ddl = "CREATE TABLE applied (i int); CREATE TABLE acc (k int PRIMARY KEY, v bigint)";
    publ.safe_psql(ddl);
    publ.safe_psql(
        "ALTER TABLE applied REPLICA IDENTITY FULL; \
         INSERT INTO acc SELECT g, g FROM generate_series(1, 10) g; \
         CREATE PUBLICATION pgp FOR ALL TABLES",
    );
    sub.safe_psql(ddl);
    sub.safe_psql(&format!(
        "CREATE SUBSCRIPTION ts CONNECTION '{}' PUBLICATION pgp",
        publ.conninfo("postgres")
    ));
    wait_tandem_ready(&sub);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, done, conn) = (stop.clone(), done.clone(), publ.conninfo("postgres"));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = tandem_testkit::connect(&conn)
                    .await
                    .expect("connect writer");
                let mut i = 1u64;
                while !stop.load(Ordering::Acquire) {
                    let sql = format!(
                        "BEGIN; INSERT INTO applied VALUES ({i}); \
                         UPDATE acc SET v = (v * 31 + {i}) % 1000003; COMMIT"
                    );
                    if client.batch_execute(&sql).await.is_err() {
                        break;
                    }
                    done.store(i, Ordering::Release);
                    i += 1;
                }
            });
        })
    };
    for _ in 0..2 {
        let target = done.load(Ordering::Acquire) + 50;
        wait_for_result(
            &sub,
            &format!(
                "SELECT count(*) >= {} FROM applied",
                target.saturating_sub(25)
            ),
            "t",
            LONG,
        );
        sub.kill9();
        sub.start();
    }
    stop.store(true, Ordering::Release);
    writer.join().expect("writer");
    let n = done.load(Ordering::Acquire);
    assert_eq!(
        publ.safe_psql("SELECT count(*) FROM applied"),
        n.to_string()
    );
    wait_for_result(
        &sub,
        &format!("SELECT count(*) FROM applied WHERE i = {n}"),
        "1",
        LONG,
    );
    assert_eq!(
        sub.safe_psql("SELECT count(*), count(DISTINCT i), min(i), max(i) FROM applied"),
        format!("{n}|{n}|1|{n}"),
        "every transaction applied exactly once"
    );
    assert_tables_equal(&publ, &sub, "acc", "k");
}

/// Tables whose replica identity is a unique index (one without a primary
/// key, one with a primary key that is not the identity): updates and
/// deletes reach the other side keyed by the index's columns, both ways.
#[test]
fn replica_identity_using_index_both_ways() {
    if !pg17::require_pg17("replica_identity_using_index_both_ways") {
        return;
    }
    let tables = "CREATE TABLE nopk (a int NOT NULL, b text NOT NULL, v text); \
        CREATE UNIQUE INDEX nopk_ab ON nopk (a, b); \
        ALTER TABLE nopk REPLICA IDENTITY USING INDEX nopk_ab; \
        CREATE TABLE withpk (id int PRIMARY KEY, code text NOT NULL UNIQUE, v text); \
        ALTER TABLE withpk REPLICA IDENTITY USING INDEX withpk_code_key";
    let changes = "INSERT INTO nopk SELECT g, 'k' || g, 'v' FROM generate_series(1, 50) g; \
        INSERT INTO withpk SELECT g, 'c' || g, 'v' FROM generate_series(1, 50) g; \
        UPDATE nopk SET v = 'changed' WHERE a % 3 = 0; \
        UPDATE nopk SET b = b || '!' WHERE a % 5 = 0; \
        DELETE FROM nopk WHERE a % 7 = 0; \
        UPDATE withpk SET code = code || '!' WHERE id % 4 = 0; \
        UPDATE withpk SET v = 'changed' WHERE id % 6 = 0; \
        DELETE FROM withpk WHERE id % 9 = 0";

    // tandem publishes, PostgreSQL 17 applies
    let publisher = tandem_publisher("t021_ri_pub");
    let sub = pg_subscriber("t021_ri_sub");
    publisher.safe_psql(tables);
    sub.safe_psql(tables);
    publisher.safe_psql("CREATE PUBLICATION p FOR ALL TABLES");
    subscribe(&sub, &publisher, "s", "p", "WITH (copy_data = false)");
    publisher.safe_psql(changes);
    wait_tables_equal(&publisher, &sub, "nopk", "a, b", LONG);
    wait_tables_equal(&publisher, &sub, "withpk", "id", LONG);
    assert_eq!(sub.safe_psql("SELECT count(*) FROM nopk"), "43");
    assert_clean_logs(&[&publisher, &sub], &[]);

    // PostgreSQL 17 publishes, tandem applies
    let publ = pg_publisher("t021_ri_pgpub");
    let tsub = tandem_subscriber("t021_ri_tsub");
    publ.safe_psql(tables);
    tsub.safe_psql(tables);
    publ.safe_psql("CREATE PUBLICATION pgp FOR ALL TABLES");
    tsub.safe_psql(&format!(
        "CREATE SUBSCRIPTION ts CONNECTION '{}' PUBLICATION pgp",
        publ.conninfo("postgres")
    ));
    wait_tandem_ready(&tsub);
    publ.safe_psql(changes);
    wait_tables_equal(&publ, &tsub, "nopk", "a, b", LONG);
    wait_tables_equal(&publ, &tsub, "withpk", "id", LONG);
    assert_eq!(tsub.safe_psql("SELECT count(*) FROM withpk"), "45");
    assert_clean_logs(&[&tsub], &[]);
}

/// Enum columns (and arrays of them), with a label added on both sides
/// later: rows copied and streamed from tandem reach PostgreSQL 17 (which
/// is sent the Type messages it expects) and back, labels and their order
/// intact.
#[test]
fn enum_columns_both_ways() {
    if !pg17::require_pg17("enum_columns_both_ways") {
        return;
    }
    let schema = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); \
        CREATE TABLE e (id int PRIMARY KEY, m mood, ms mood[])";
    let before = "INSERT INTO e SELECT g, (enum_range(NULL::mood))[1 + g % 3], \
        ARRAY[(enum_range(NULL::mood))[1 + (g + 1) % 3]] FROM generate_series(1, 30) g";
    let after = "INSERT INTO e VALUES (31, 'meh', '{meh,sad}'), (32, NULL, NULL); \
        UPDATE e SET m = 'meh' WHERE id % 4 = 0; \
        DELETE FROM e WHERE id % 5 = 0";
    let add_label = "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'";
    let order = "SELECT string_agg(id::text, ',' ORDER BY m, id) FROM e";

    // tandem publishes (with the initial copy), PostgreSQL 17 applies
    let publisher = tandem_publisher("t021_enum_pub");
    let sub = pg_subscriber("t021_enum_sub");
    publisher.safe_psql(schema);
    sub.safe_psql(schema);
    publisher.safe_psql(before);
    publisher.safe_psql("CREATE PUBLICATION p FOR TABLE e");
    subscribe(&sub, &publisher, "s", "p", "");
    wait_subscription_ready(&sub, "s");
    sub.safe_psql(add_label);
    publisher.safe_psql(add_label);
    publisher.safe_psql(after);
    wait_tables_equal(&publisher, &sub, "e", "id", LONG);
    assert_eq!(sub.safe_psql(order), publisher.safe_psql(order));
    assert_eq!(sub.safe_psql("SELECT count(*) FROM e WHERE m = 'meh'"), "8");
    assert_clean_logs(&[&publisher, &sub], &[]);

    // PostgreSQL 17 publishes, tandem applies
    let publ = pg_publisher("t021_enum_pgpub");
    let tsub = tandem_subscriber("t021_enum_tsub");
    publ.safe_psql(schema);
    tsub.safe_psql(schema);
    publ.safe_psql(before);
    publ.safe_psql("CREATE PUBLICATION pgp FOR TABLE e");
    tsub.safe_psql(&format!(
        "CREATE SUBSCRIPTION ts CONNECTION '{}' PUBLICATION pgp",
        publ.conninfo("postgres")
    ));
    wait_tandem_ready(&tsub);
    tsub.safe_psql(add_label);
    publ.safe_psql(add_label);
    publ.safe_psql(after);
    wait_tables_equal(&publ, &tsub, "e", "id", LONG);
    assert_eq!(tsub.safe_psql(order), publ.safe_psql(order));
    assert_clean_logs(&[&tsub], &[]);
}

/// A table outside `public` (with a column of an enum type of its schema)
/// replicates both ways, initial copy and
/// streaming, beside a `public` table of the same name with other columns
/// (each side finds the one the Relation message names); a `varchar`
/// widened on both sides mid-stream (ALTER COLUMN TYPE) carries the longer
/// values after it.
#[test]
fn schema_qualified_tables_both_ways() {
    if !pg17::require_pg17("schema_qualified_tables_both_ways") {
        return;
    }
    let schema = "CREATE SCHEMA app; CREATE TYPE app.kind AS ENUM ('a', 'b'); \
        CREATE TABLE app.items (id int PRIMARY KEY, name varchar(10), qty int, k app.kind); \
        CREATE TABLE items (id int PRIMARY KEY, other text)";
    let before = "INSERT INTO app.items \
        SELECT g, 'n' || g, g * 2, (enum_range(NULL::app.kind))[1 + g % 2] \
        FROM generate_series(1, 40) g; \
        INSERT INTO items VALUES (1, 'public row')";
    let widen = "ALTER TABLE app.items ALTER COLUMN name TYPE varchar(40)";
    let after = "INSERT INTO app.items VALUES (41, repeat('w', 30), 1); \
        UPDATE app.items SET qty = qty + 1, name = name || '-longer-than-ten' WHERE id % 7 = 0; \
        DELETE FROM app.items WHERE id % 9 = 0";
    let summary = "SELECT count(*), sum(qty), max(length(name)), \
        string_agg(k::text, '' ORDER BY id) FROM app.items";

    // tandem publishes, PostgreSQL 17 applies
    let publisher = tandem_publisher("t021_schema_pub");
    let sub = pg_subscriber("t021_schema_sub");
    publisher.safe_psql(schema);
    sub.safe_psql(schema);
    publisher.safe_psql(before);
    publisher.safe_psql("CREATE PUBLICATION p FOR TABLE app.items");
    subscribe(&sub, &publisher, "s", "p", "");
    wait_subscription_ready(&sub, "s");
    sub.safe_psql(widen);
    publisher.safe_psql(widen);
    publisher.safe_psql(after);
    wait_tables_equal(&publisher, &sub, "app.items", "id", LONG);
    assert_eq!(sub.safe_psql(summary), publisher.safe_psql(summary));
    assert_eq!(sub.safe_psql("SELECT count(*) FROM items"), "0");
    assert_clean_logs(&[&publisher, &sub], &[]);

    // PostgreSQL 17 publishes, tandem applies
    let publ = pg_publisher("t021_schema_pgpub");
    let tsub = tandem_subscriber("t021_schema_tsub");
    publ.safe_psql(schema);
    tsub.safe_psql(schema);
    publ.safe_psql(before);
    publ.safe_psql("CREATE PUBLICATION pgp FOR TABLE app.items");
    tsub.safe_psql(&format!(
        "CREATE SUBSCRIPTION ts CONNECTION '{}' PUBLICATION pgp",
        publ.conninfo("postgres")
    ));
    wait_tandem_ready(&tsub);
    tsub.safe_psql(widen);
    publ.safe_psql(widen);
    publ.safe_psql(after);
    wait_tables_equal(&publ, &tsub, "app.items", "id", LONG);
    assert_eq!(tsub.safe_psql(summary), publ.safe_psql(summary));
    assert_eq!(tsub.safe_psql("SELECT count(*) FROM items"), "0");
    assert_clean_logs(&[&tsub], &[]);
}
