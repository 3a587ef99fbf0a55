//! One node, basic use over tokio-postgres: startup parameters, simple and extended
//! query, DDL/DML round trips, types in text and binary format, errors.

use tandem_testkit::{message, sqlstate, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_reports_a_postgres_17_server() {
    let mut node = Node::init("basics-startup");
    node.start();
    let c = node.connect().await;
    let v: String = c
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(v.starts_with("17."), "server_version = {v}");
    let n: String = c
        .query_one("SHOW server_version_num", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n.parse::<i32>().unwrap() / 10000, 17);
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    let rows = c
        .simple_query("SELECT 1 AS a, 'x' AS b; SELECT 2")
        .await
        .unwrap();
    // two result sets: RowDescription + row + CommandComplete each
    let data: Vec<_> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(data, vec!["1", "2"]);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_dml_round_trip() {
    let mut node = Node::init("basics-dml");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE bdt (a integer PRIMARY KEY, b text, c numeric(10,2), d boolean DEFAULT true);
         INSERT INTO bdt VALUES (1, 'one', 1.5), (2, 'two', 2.25), (3, NULL, NULL);",
    )
    .await
    .unwrap();
    let rows = c
        .query("SELECT a, b, c::text, d FROM bdt ORDER BY a", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, Option<String>>(1).as_deref(), Some("one"));
    assert_eq!(rows[0].get::<_, Option<String>>(2).as_deref(), Some("1.50"));
    assert!(rows[0].get::<_, bool>(3));
    assert_eq!(rows[2].get::<_, Option<String>>(1), None);

    let n = c
        .execute("UPDATE bdt SET b = upper(b) WHERE a <= $1", &[&2i32])
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = c
        .execute("DELETE FROM bdt WHERE b IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let rows = c.query("SELECT b FROM bdt ORDER BY a", &[]).await.unwrap();
    let bs: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(bs, vec!["ONE", "TWO"]);

    let ret = c
        .query(
            "INSERT INTO bdt (a, b) VALUES (10, 'ten') RETURNING a, d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ret[0].get::<_, i32>(0), 10);
    assert!(ret[0].get::<_, bool>(1));

    let e = c
        .execute("INSERT INTO bdt VALUES (1, 'dup')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("23505"));
    assert_eq!(
        message(&e),
        "duplicate key value violates unique constraint \"bdt_pkey\""
    );

    let e = c.query("SELECT * FROM nosuch", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42P01"));
    assert_eq!(message(&e), "relation \"nosuch\" does not exist");

    let e = c.query("SELECT nosuchfn(1)", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42883"));
    assert_eq!(message(&e), "function nosuchfn(integer) does not exist");

    let e = c.query("SELECT 1 + 'a'::text", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42883"));

    let e = c.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22012"));
    // the session is still usable
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_text_types() {
    let mut node = Node::init("basics-types");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE ty (id bigserial PRIMARY KEY, s smallint, i integer, b bigint, r real,
           d double precision, t text, v varchar(5), ch char(3), flag boolean, by bytea)",
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO ty (s, i, b, r, d, t, v, ch, flag, by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        &[&7i16, &-42i32, &9_000_000_000i64, &1.5f32, &-2.25f64, &"héllo", &"abc", &"x", &true, &vec![0u8, 1, 255]],
    )
    .await
    .unwrap();
    let r = c
        .query_one("SELECT id, s, i, b, r, d, t, v, ch, flag, by FROM ty", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 1);
    assert_eq!(r.get::<_, i16>(1), 7);
    assert_eq!(r.get::<_, i32>(2), -42);
    assert_eq!(r.get::<_, i64>(3), 9_000_000_000);
    assert_eq!(r.get::<_, f32>(4), 1.5);
    assert_eq!(r.get::<_, f64>(5), -2.25);
    assert_eq!(r.get::<_, String>(6), "héllo");
    assert_eq!(r.get::<_, String>(7), "abc");
    assert_eq!(r.get::<_, String>(8), "x  ");
    assert!(r.get::<_, bool>(9));
    assert_eq!(r.get::<_, Vec<u8>>(10), vec![0u8, 1, 255]);

    // text format through the simple protocol
    let msgs = c
        .simple_query("SELECT by, flag, r, ch FROM ty")
        .await
        .unwrap();
    let row = msgs
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..4)
                    .map(|i| r.get(i).unwrap().to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(row, vec!["\\x0001ff", "t", "1.5", "x  "]);

    let e = c
        .execute("INSERT INTO ty (v) VALUES ('toolong')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("22001"));
    assert_eq!(message(&e), "value too long for type character varying(5)");
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_joins_aggregates_subqueries() {
    let mut node = Node::init("basics-select");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE dept (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE emp (id int PRIMARY KEY, dept int, salary int, name text);
         INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty');
         INSERT INTO emp SELECT g, 1 + g % 2, g * 100, 'e' || g FROM generate_series(1, 10) AS g;",
    )
    .await
    .unwrap();
    let rows = c
        .query(
            "SELECT d.name, count(e.id), sum(e.salary), max(e.salary)
               FROM dept d LEFT JOIN emp e ON e.dept = d.id
              GROUP BY d.name HAVING count(e.id) >= 0 ORDER BY d.name",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, Option<i64>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("empty".into(), 0, None),
            ("eng".into(), 5, Some(3000)),
            ("ops".into(), 5, Some(2500))
        ]
    );
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM emp WHERE dept IN (SELECT id FROM dept WHERE name = 'eng')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
    let names: Vec<String> = c
        .query("SELECT DISTINCT name FROM dept WHERE EXISTS (SELECT 1 FROM emp WHERE emp.dept = dept.id) ORDER BY 1 DESC LIMIT 1 OFFSET 0", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["ops".to_string()]);
    let s: String = c
        .query_one(
            "SELECT string_agg(name, ',' ORDER BY id) FROM (SELECT * FROM emp WHERE id < 4) sub",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(s, "e1,e2,e3");
    let v: String = c
        .query_one(
            "SELECT CASE WHEN count(*) > 5 THEN 'many' ELSE 'few' END FROM emp CROSS JOIN dept",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "many");
    let q: String = c
        .query_one("SELECT quote_literal('it''s') || quote_ident('Mixed')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(q, "'it''s'\"Mixed\"");
    let co: String = c
        .query_one("SELECT coalesce(NULL, concat('a', 1, NULL, 'b'))", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(co, "a1b");
    node.stop();
}

/// INSERT ... SELECT reading its own target sees the table as it was when
/// the statement started (no row inserted by the statement is read again),
/// through a subquery too; from another table the rows stream in, all of
/// them once, with more rows than a scan hands on at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_select_reads_the_table_as_the_statement_began() {
    let mut node = Node::init("basics-insert-select");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE src (a int PRIMARY KEY, b text);
         INSERT INTO src SELECT g, 'r' || g FROM generate_series(1, 20000) g;
         CREATE TABLE grow (a int);
         INSERT INTO grow SELECT g FROM generate_series(1, 10000) g;",
    )
    .await
    .unwrap();
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    // twice over itself: 10 000 -> 20 000 -> 40 000, not more
    for want in [20_000i64, 40_000] {
        let n = c
            .execute("INSERT INTO grow SELECT a + 100000 FROM grow", &[])
            .await
            .unwrap();
        assert_eq!(n as i64, want / 2);
        assert_eq!(count("SELECT count(*) FROM grow").await, want);
    }
    let n = c
        .execute(
            "INSERT INTO grow SELECT s.a FROM src s WHERE s.a <= (SELECT count(*) FROM grow) / 10",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 4000);
    // from another table: every row once
    c.batch_execute("CREATE TABLE dst (a int, b text)")
        .await
        .unwrap();
    let n = c
        .execute("INSERT INTO dst SELECT a, b FROM src", &[])
        .await
        .unwrap();
    assert_eq!(n, 20_000);
    let r = c
        .query_one("SELECT count(*), count(DISTINCT a), sum(a) FROM dst", &[])
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)),
        (20_000, 20_000, 20_000 * 20_001 / 2)
    );
    node.stop();
}
