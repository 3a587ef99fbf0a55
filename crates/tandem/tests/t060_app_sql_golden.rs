//! Golden tests for the SQL applications and their tools use: each
//! `tests/app_sql/NAME.sql` is run by the real psql against a fresh tandem
//! node, and its output must equal `NAME.out`, recorded from PostgreSQL 17
//! by `scripts/record-golden.sh app_sql` (masking and comparison:
//! `tandem_testkit::golden`). Errors are part of each script: SQLSTATE
//! texts, DETAIL lines and command results are compared line by line.

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/app_sql");

tandem_testkit::golden_tests! {
    DIR;
    savepoints => "01_savepoints",
    on_conflict => "02_on_conflict",
    window_functions => "03_window_functions",
    with_recursive => "04_with_recursive",
    update_from => "05_update_from",
    psql_describe => "06_psql_describe",
    oid_aliases => "07_oid_aliases",
    functions => "08_functions",
    indexes => "09_indexes",
    json => "10_json",
    defaults => "11_defaults",
    json_sets => "12_json_sets",
    foreign_keys => "13_foreign_keys",
    check_constraints => "14_check_constraints",
    views => "15_views",
    identity => "16_identity",
    psql_lists => "17_psql_lists",
    information_schema_constraints => "18_information_schema_constraints",
    comments => "19_comments",
    listen_notify => "20_listen_notify",
    alter_sequence => "21_alter_sequence",
    time_zones => "22_time_zones",
    time => "23_time",
    arrays => "24_arrays",
    replica_identity_index => "25_replica_identity_index",
    order_by_index => "26_order_by_index",
    overriding => "27_overriding",
    check_rename => "28_check_rename",
    enums => "29_enum",
    numeric_special => "30_numeric_special",
    view_privileges => "31_view_privileges",
    psql_dx => "32_psql_dx",
    advisory_locks => "33_advisory_locks",
    cursors => "34_cursors",
    schemas => "35_schemas",
    alter_column_type => "36_alter_column_type",
    schema_privileges => "37_schema_privileges",
    schema_describe => "38_schema_describe",
    view_definitions => "39_view_definitions",
    group_by_primary_key => "40_group_by_primary_key",
    alter_schema => "41_alter_schema",
    alter_column_convert => "42_alter_column_convert",
    data_modifying_cte => "43_data_modifying_cte",
    more_functions => "44_more_functions",
    row_json => "45_row_json",
    grouping_sets => "46_grouping_sets",
    alter_column_rewrite => "47_alter_column_rewrite",
    column_errors => "48_column_errors",
    enum_schemas => "49_enum_schemas",
    psql_replication => "50_psql_replication",
    create_table_like => "51_create_table_like",
}

/// An upsert racing an uncommitted insert of the same key waits for it and
/// then updates the row it committed (READ COMMITTED), or inserts when that
/// insert rolled back; under REPEATABLE READ a row committed after the
/// snapshot is a serialization failure, as in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_conflict_waits_for_a_concurrent_insert_of_its_key() {
    use tandem_testkit::{sqlstate, Node};
    let mut node = Node::init("upsert-race");
    node.start();
    let a = node.connect().await;
    let b = node.connect().await;
    a.batch_execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        .await
        .expect("create");

    // DO UPDATE after the other insert commits
    a.batch_execute("BEGIN").await.expect("begin");
    a.batch_execute("INSERT INTO kv VALUES (1, 'a')")
        .await
        .expect("insert");
    let upsert = tokio::spawn(async move {
        let r = b
            .query_one(
                "INSERT INTO kv VALUES (1, 'b') ON CONFLICT (k) DO UPDATE SET v = kv.v || excluded.v RETURNING v",
                &[],
            )
            .await
            .map(|row| row.get::<_, String>(0));
        (b, r)
    });
    a.batch_execute("COMMIT").await.expect("commit");
    let (b, r) = upsert.await.expect("upsert task");
    assert_eq!(r.expect("upsert after the insert committed"), "ab");

    // DO NOTHING after the other insert rolls back: the row goes in
    a.batch_execute("BEGIN").await.expect("begin");
    a.batch_execute("INSERT INTO kv VALUES (2, 'a')")
        .await
        .expect("insert");
    let insert = tokio::spawn(async move {
        let r = b
            .execute("INSERT INTO kv VALUES (2, 'b') ON CONFLICT DO NOTHING", &[])
            .await;
        (b, r)
    });
    a.batch_execute("ROLLBACK").await.expect("rollback");
    let (b, r) = insert.await.expect("insert task");
    assert_eq!(r.expect("insert after the rollback"), 1);
    let v: String = a
        .query_one("SELECT v FROM kv WHERE k = 2", &[])
        .await
        .expect("select")
        .get(0);
    assert_eq!(v, "b");

    // REPEATABLE READ: a conflicting row newer than the snapshot
    b.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM kv")
        .await
        .expect("snapshot");
    a.batch_execute("INSERT INTO kv VALUES (3, 'a')")
        .await
        .expect("insert");
    let e = b
        .batch_execute("INSERT INTO kv VALUES (3, 'b') ON CONFLICT DO NOTHING")
        .await
        .expect_err("serialization failure");
    assert_eq!(sqlstate(&e).as_deref(), Some("40001"));
    b.batch_execute("ROLLBACK").await.expect("rollback");
    node.stop();
}
