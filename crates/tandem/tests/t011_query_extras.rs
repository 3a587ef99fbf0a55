//! Query features beyond the basics, over tokio-postgres: set-returning functions
//! in target lists (ProjectSet semantics of PostgreSQL 10+) and aggregate FILTER.
//! Expected results were checked against PostgreSQL 17.

use tandem_testkit::{message, sqlstate, Node};

/// Rows of a simple-protocol query as text cells (`None` for NULL).
async fn texts(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let msgs = c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    msgs.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

fn rows(cells: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    cells
        .iter()
        .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_returning_functions_in_the_select_list() {
    let mut node = Node::init("query-extras-srf");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE t (x int, v int); INSERT INTO t VALUES (1, 1), (2, 2), (3, NULL), (0, 5)",
    )
    .await
    .unwrap();

    let stmt = c.prepare("SELECT generate_series(1, 3)").await.unwrap();
    assert_eq!(stmt.columns()[0].name(), "generate_series");
    let got: Vec<i32> = c
        .query(&stmt, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, vec![1, 2, 3]);

    let got: Vec<(i32, i32)> = c
        .query("SELECT x, generate_series(1, x) FROM t ORDER BY 1, 2", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(got, vec![(1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3)]);

    // extended protocol with a parameter as the SRF argument
    let got: Vec<i32> = c
        .query("SELECT unnest($1::int[])", &[&vec![7i32, 8, 9]])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, vec![7, 8, 9]);
    assert_eq!(
        texts(&c, "SELECT unnest(ARRAY[1,2,3])").await,
        rows(&[&[Some("1")], &[Some("2")], &[Some("3")]])
    );

    // several SRFs run in lockstep; shorter ones are padded with NULL
    assert_eq!(
        texts(
            &c,
            "SELECT generate_series(1,3) a, generate_series(1,5) b, unnest(ARRAY['x','y']) c"
        )
        .await,
        rows(&[
            &[Some("1"), Some("1"), Some("x")],
            &[Some("2"), Some("2"), Some("y")],
            &[Some("3"), Some("3"), None],
            &[None, Some("4"), None],
            &[None, Some("5"), None],
        ])
    );

    let stmt = c.prepare("SELECT generate_series(1,3) * 2").await.unwrap();
    assert_eq!(stmt.columns()[0].name(), "?column?");
    assert_eq!(
        texts(&c, "SELECT generate_series(1,3) * 2").await,
        rows(&[&[Some("2")], &[Some("4")], &[Some("6")]])
    );
    assert_eq!(
        texts(
            &c,
            "SELECT count(*), generate_series(1, count(*)::int) FROM t"
        )
        .await,
        rows(&[
            &[Some("4"), Some("1")],
            &[Some("4"), Some("2")],
            &[Some("4"), Some("3")],
            &[Some("4"), Some("4")],
        ])
    );
    assert_eq!(
        texts(
            &c,
            "SELECT generate_series(1,3) AS g ORDER BY g DESC LIMIT 2"
        )
        .await,
        rows(&[&[Some("3")], &[Some("2")]])
    );
    assert!(texts(&c, "SELECT generate_series(1, 0), 5")
        .await
        .is_empty());
    let n = c
        .execute("SELECT generate_series(1, 1000)", &[])
        .await
        .unwrap();
    assert_eq!(n, 1000);

    let e = c
        .simple_query("SELECT * FROM t WHERE generate_series(1,2) = 1")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("0A000"));
    assert_eq!(
        message(&e),
        "set-returning functions are not allowed in WHERE"
    );
    let e = c
        .simple_query("SELECT count(generate_series(1,3))")
        .await
        .unwrap_err();
    assert_eq!(
        message(&e),
        "aggregate function calls cannot contain set-returning function calls"
    );
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_filter() {
    let mut node = Node::init("query-extras-filter");
    node.start();
    let c = node.connect().await;
    c.batch_execute(
        "CREATE TABLE t (x int, v int); INSERT INTO t VALUES (1, 1), (2, 2), (3, NULL), (0, 5)",
    )
    .await
    .unwrap();
    let r = c
        .query_one(
            "SELECT count(*) FILTER (WHERE v > 1), sum(x) FILTER (WHERE v IS NOT NULL), \
             count(*) FILTER (WHERE x > 100) FROM t",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 2);
    assert_eq!(r.get::<_, Option<i64>>(1), Some(3));
    assert_eq!(r.get::<_, i64>(2), 0);
    assert_eq!(
        texts(
            &c,
            "SELECT x % 2, count(*) FILTER (WHERE v > 1), \
             array_agg(x ORDER BY x) FILTER (WHERE x > 0) FROM t GROUP BY 1 ORDER BY 1"
        )
        .await,
        rows(&[
            &[Some("0"), Some("2"), Some("{2}")],
            &[Some("1"), Some("0"), Some("{1,3}")],
        ])
    );
    let e = c
        .simple_query("SELECT sum(x) FILTER (WHERE count(*) > 1) FROM t")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42803"));
    assert_eq!(message(&e), "aggregate functions are not allowed in FILTER");
    let e = c
        .simple_query("SELECT abs(x) FILTER (WHERE x > 1) FROM t")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e).as_deref(), Some("42809"));
    assert_eq!(
        message(&e),
        "FILTER specified, but abs is not an aggregate function"
    );
    node.stop();
}
