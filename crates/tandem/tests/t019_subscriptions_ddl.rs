//! Subscriptions as catalog state, without the apply worker: two tandem
//! nodes, a publisher (`wal_level = logical`, a publication) and a
//! subscriber. CREATE SUBSCRIPTION creates the logical slot on the publisher
//! (pgoutput, failover per option) and fills `pg_subscription` /
//! `pg_subscription_rel` from the publisher's published tables; ALTER ... SET
//! (failover) is refused while enabled and reaches the remote slot when
//! disabled; DROP SUBSCRIPTION drops the remote slot unless `slot_name = NONE`;
//! the catalog survives a restart. The subscriber runs no apply workers
//! (`max_logical_replication_workers = 0`), so table states stay as the DDL
//! left them; `t022_apply.rs` tests apply.

use tandem_testkit::Node;

const SUBS: &str = "select subname, subenabled, subfailover, subslotname, subpublications, \
                    substream, subtwophasestate, subsynccommit, suborigin, subconninfo \
                    from pg_subscription order by 1";
const RELS: &str = "select s.subname, c.relname, r.srsubstate, r.srsublsn is null \
                    from pg_subscription_rel r join pg_subscription s on s.oid = r.srsubid \
                    join pg_class c on c.oid = r.srrelid order by 1, 2";
const SLOTS: &str = "select slot_name, plugin, slot_type, failover, two_phase \
                     from pg_replication_slots order by 1";

fn err(node: &Node, sql: &str) -> String {
    let out = node.psql(sql);
    assert!(!out.status.success(), "expected failure: {sql}");
    String::from_utf8_lossy(&out.stderr).trim_end().to_string()
}

#[test]
fn subscription_ddl_against_a_tandem_publisher() {
    let mut publisher = Node::init("t019_pub");
    publisher.append_conf("wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10");
    publisher.start();
    publisher.safe_psql(
        "create table t (a int primary key); create table u (b text); \
         create table only_pub (x int); \
         create publication p for table t, u; create publication p_more for table only_pub",
    );
    let mut sub = Node::init("t019_sub");
    // catalog state only: no apply workers (t022 tests apply)
    sub.append_conf("max_logical_replication_workers = 0");
    sub.start();
    sub.safe_psql("create table t (a int primary key); create table u (b text)");
    let conn = publisher.conninfo("postgres");

    // A table the publisher publishes must exist locally.
    let e = err(
        &sub,
        &format!("create subscription sx connection '{conn}' publication p_more"),
    );
    assert!(
        e.contains("ERROR:  relation \"public.only_pub\" does not exist"),
        "{e}"
    );
    assert_eq!(
        publisher.safe_psql(SLOTS),
        "",
        "no slot after a failed CREATE"
    );

    // Option rules and texts.
    let e = err(
        &sub,
        &format!("create subscription sx connection '{conn}' publication p with (connect = false, enabled = true)"),
    );
    assert!(e.contains("connect = false and enabled = true are mutually exclusive options"));
    let e = err(
        &sub,
        &format!("create subscription sx connection '{conn}' publication p with (slot_name = none, enabled = false)"),
    );
    assert!(e.contains("subscription with slot_name = NONE must also set create_slot = false"));
    let e = err(
        &sub,
        "create subscription sx connection 'foo' publication p",
    );
    assert!(e.contains(
        "ERROR:  invalid connection string syntax: missing \"=\" after \"foo\" in connection info string"
    ));
    let e = err(
        &sub,
        "create subscription sx connection 'host=127.0.0.1 port=1 dbname=postgres' publication p",
    );
    assert!(
        e.contains("ERROR:  could not connect to the publisher: connection to server at \"127.0.0.1\", port 1 failed"),
        "{e}"
    );
    let e = err(
        &sub,
        &format!("begin; create subscription sx connection '{conn}' publication p; commit"),
    );
    assert!(e.contains(
        "CREATE SUBSCRIPTION ... WITH (create_slot = true) cannot run inside a transaction block"
    ));

    // s1: slot created on the publisher with failover; tables in state i.
    let out = sub.psql(&format!(
        "create subscription s1 connection '{conn}' publication p, nosuch with (failover = true)"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("WARNING:  publication \"nosuch\" does not exist on the publisher"));
    assert!(stderr.contains("NOTICE:  created replication slot \"s1\" on publisher"));
    // s2: copy_data = false gives state r; own slot name.
    sub.safe_psql(&format!(
        "create subscription s2 connection '{conn}' publication p \
         with (copy_data = false, slot_name = 's2_slot', streaming = parallel, origin = none)"
    ));
    // s3: not connected, no slot.
    sub.safe_psql(&format!(
        "create subscription s3 connection '{conn}' publication p with (connect = false)"
    ));
    let e = err(
        &sub,
        &format!("create subscription s3 connection '{conn}' publication p with (connect = false)"),
    );
    assert!(e.contains("ERROR:  subscription \"s3\" already exists"));

    assert_eq!(
        publisher.safe_psql(SLOTS),
        "s1|pgoutput|logical|t|f\ns2_slot|pgoutput|logical|f|f"
    );
    let subs = sub.safe_psql(SUBS);
    assert_eq!(
        subs,
        format!(
            "s1|t|t|s1|{{p,nosuch}}|f|d|off|any|{conn}\n\
             s2|t|f|s2_slot|{{p}}|p|d|off|none|{conn}\n\
             s3|f|f|s3|{{p}}|f|d|off|any|{conn}"
        )
    );
    let rels = sub.safe_psql(RELS);
    assert_eq!(rels, "s1|t|i|t\ns1|u|i|t\ns2|t|r|t\ns2|u|r|t");
    assert_eq!(
        sub.safe_psql("select subname, pid is null from pg_stat_subscription order by 1"),
        "s1|t\ns2|t\ns3|t"
    );

    // failover: refused while enabled, accepted when disabled, sent to the slot.
    let e = err(&sub, "alter subscription s1 set (failover = false)");
    assert!(e.contains("ERROR:  cannot set failover for enabled subscription"));
    sub.safe_psql("alter subscription s1 disable");
    sub.safe_psql("alter subscription s1 set (failover = false)");
    assert_eq!(
        publisher.safe_psql("select failover from pg_replication_slots where slot_name = 's1'"),
        "f"
    );
    let e = err(&sub, "alter subscription s1 refresh publication");
    assert!(e.contains(
        "ERROR:  ALTER SUBSCRIPTION ... REFRESH is not allowed for disabled subscriptions"
    ));
    let e = err(&sub, "alter subscription s1 set publication p");
    assert!(e.contains(
        "ERROR:  ALTER SUBSCRIPTION with refresh is not allowed for disabled subscriptions"
    ));
    sub.safe_psql("alter subscription s1 drop publication nosuch with (refresh = false)");
    let e = err(
        &sub,
        "alter subscription s1 add publication p with (refresh = false)",
    );
    assert!(e.contains("ERROR:  publication \"p\" is already in subscription \"s1\""));

    // refresh on an enabled subscription picks up a newly published table.
    publisher.safe_psql("create table v (c int); alter publication p add table v");
    sub.safe_psql("create table v (c int)");
    sub.safe_psql("alter subscription s2 refresh publication with (copy_data = true)");
    assert_eq!(
        sub.safe_psql(RELS),
        "s1|t|i|t\ns1|u|i|t\ns2|t|r|t\ns2|u|r|t\ns2|v|i|t"
    );

    // CONNECTION, SKIP, RENAME.
    let conn2 = format!("{conn} application_name=sub_x");
    sub.safe_psql(&format!("alter subscription s3 connection '{conn2}'"));
    let e = err(&sub, "alter subscription s3 connection 'bad'");
    assert!(e.contains("invalid connection string syntax"));
    sub.safe_psql("alter subscription s3 skip (lsn = '0/10')");
    let e = err(
        &sub,
        "alter subscription s3 enable; alter subscription s3 rename to s2",
    );
    assert!(e.contains("ERROR:  subscription \"s2\" already exists"));
    assert_eq!(
        sub.safe_psql("select subconninfo, subskiplsn from pg_subscription where subname = 's3'"),
        format!("{conn2}|0/10")
    );

    // Survives a restart (WAL replay) and a checkpoint image.
    let subs = sub.safe_psql(SUBS);
    let rels = sub.safe_psql(RELS);
    sub.restart();
    assert_eq!(sub.safe_psql(SUBS), subs);
    assert_eq!(sub.safe_psql(RELS), rels);
    sub.safe_psql("checkpoint");
    sub.kill9();
    sub.start();
    assert_eq!(sub.safe_psql(SUBS), subs);
    assert_eq!(sub.safe_psql(RELS), rels);

    // DROP: inside a block refused while a slot is set; drops the remote slot.
    let e = err(&sub, "begin; drop subscription s1; commit");
    assert!(e.contains("DROP SUBSCRIPTION cannot run inside a transaction block"));
    let out = sub.psql("drop subscription s1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("NOTICE:  dropped replication slot \"s1\" on publisher"));
    assert_eq!(
        publisher.safe_psql("select slot_name from pg_replication_slots order by 1"),
        "s2_slot"
    );
    // slot_name = NONE keeps the remote slot.
    sub.safe_psql("alter subscription s2 disable");
    let e = err(
        &sub,
        "alter subscription s2 enable; alter subscription s2 set (slot_name = none)",
    );
    assert!(e.contains("ERROR:  cannot set slot_name = NONE for enabled subscription"));
    sub.safe_psql("alter subscription s2 set (slot_name = none)");
    sub.safe_psql("drop subscription s2");
    // s3 never had a slot on the publisher: dropping it fails like PostgreSQL.
    let e = err(&sub, "drop subscription s3");
    assert!(
        e.contains("ERROR:  could not drop replication slot \"s3\" on publisher: ERROR:  replication slot \"s3\" does not exist"),
        "{e}"
    );
    sub.safe_psql("alter subscription s3 disable");
    sub.safe_psql("alter subscription s3 set (slot_name = none)");
    sub.safe_psql("drop subscription s3");
    let out = sub.psql("drop subscription if exists s3");
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("NOTICE:  subscription \"s3\" does not exist, skipping"));
    assert_eq!(sub.safe_psql("select count(*) from pg_subscription"), "0");
    assert_eq!(
        publisher.safe_psql("select slot_name from pg_replication_slots order by 1"),
        "s2_slot"
    );
    sub.stop();
    publisher.stop();
}
