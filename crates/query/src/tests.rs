//! End-to-end tests of the query engine over a real (temporary) database: bind,
//! plan and execute statements as a session would, and check rows, names, types,
//! parameter inference and PostgreSQL's error texts.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tandem_config::{Config, SessionConfig};
use tandem_expr::context::ServerHooks;
use tandem_expr::{ExecContext, SessionInfo};
use tandem_storage::{
    BootstrapOptions, ColumnDef, Database, IsolationLevel, OpenOptions, PrimaryKey,
    ReplicaIdentity, TableDef, Transaction,
};
use tandem_types::{DataType, Oid, PgError, PgResult, Value};

use crate::{execute, plan, Plan};

struct NoHooks;

impl ServerHooks for NoHooks {
    fn reload_conf(&self) -> bool {
        false
    }
    fn signal_backend(&self, _pid: i32, _terminate: bool) -> bool {
        false
    }
}

struct Harness {
    db: Arc<Database>,
    _dir: Option<tempfile::TempDir>,
    config: SessionConfig,
    session: SessionInfo,
    cancel: Arc<AtomicBool>,
    txn: Option<Transaction>,
}

struct Outcome {
    plan: Plan,
    params: Vec<DataType>,
    rows: Vec<Vec<String>>,
    count: u64,
}

fn text(v: &Value) -> String {
    if v.is_null() {
        return "NULL".into();
    }
    let mut s = String::new();
    tandem_expr::text_out(v, &mut s);
    s
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        Database::bootstrap(
            dir.path(),
            BootstrapOptions {
                superuser: "postgres".into(),
                password_verifier: None,
                wal_segment_size: 16 * 1024 * 1024,
            },
        )
        .expect("bootstrap");
        let db = Database::open(dir.path(), OpenOptions::new(false)).expect("open");
        let mut h = Harness::attach(db);
        h._dir = Some(dir);
        h
    }

    /// A second session on the same database.
    fn attach(db: Arc<Database>) -> Harness {
        let config = SessionConfig::new(Config::defaults(), &[]).expect("config");
        let session = SessionInfo {
            pid: 42,
            user: "postgres".into(),
            user_oid: 10,
            superuser: true,
            database: "postgres".into(),
            application_name: String::new(),
            client_addr: None,
            backend_start: 0,
        };
        let txn = Some(db.begin(IsolationLevel::ReadCommitted, false));
        Harness {
            db,
            _dir: None,
            config,
            session,
            cancel: Arc::new(AtomicBool::new(false)),
            txn,
        }
    }

    fn txn(&mut self) -> &mut Transaction {
        if self.txn.is_none() {
            self.txn = Some(self.db.begin(IsolationLevel::ReadCommitted, false));
        }
        self.txn.as_mut().expect("txn")
    }

    fn commit(&mut self) {
        if let Some(t) = self.txn.take() {
            t.commit().expect("commit");
        }
    }

    /// `cols`: (name, type, not null); `pk`: key column positions.
    fn create(
        &mut self,
        name: &str,
        cols: &[(&str, DataType, bool, Option<&str>)],
        pk: &[usize],
    ) -> Oid {
        let txn = self.txn();
        let oid = txn.allocate_oid();
        let def = TableDef {
            oid,
            schema: "public".into(),
            name: name.into(),
            columns: cols
                .iter()
                .map(|(n, t, nn, d)| ColumnDef {
                    name: n.to_string(),
                    data_type: t.clone(),
                    not_null: *nn,
                    default: d.map(str::to_string),
                    dropped: false,
                })
                .collect(),
            primary_key: if pk.is_empty() {
                None
            } else {
                Some(PrimaryKey {
                    name: format!("{name}_pkey"),
                    columns: pk.to_vec(),
                })
            },
            replica_identity: ReplicaIdentity::Default,
            owner: Oid(10),
        };
        txn.put_table(def, None).expect("put_table");
        oid
    }

    fn run(&mut self, sql: &str, params: Vec<Value>) -> PgResult<Outcome> {
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .map_err(|e| PgError::syntax(e.to_string()))?;
        let mut ptypes = Vec::new();
        self.txn();
        let txn = self.txn.as_mut().expect("txn");
        txn.start_statement();
        let mut notices = Vec::new();
        let mut notify = tandem_expr::notify::NotifyState::detached(0);
        let hooks = NoHooks;
        let mut ctx = ExecContext {
            db: &self.db,
            txn,
            config: &mut self.config,
            session: &self.session,
            hooks: &hooks,
            params: &params,
            txn_start: 0,
            stmt_start: 0,
            cancel: &self.cancel,
            notices: &mut notices,
            notify: &mut notify,
            advisory: &tandem_expr::advisory::AdvisoryState::detached(0),
        };
        let p = plan(&stmts[0], &mut ptypes, &mut ctx)?;
        let mut rows = Vec::new();
        let count = execute(&p, &mut ctx, &mut |r| {
            rows.push(r.iter().map(text).collect());
            Ok(())
        })?;
        Ok(Outcome {
            plan: p,
            params: ptypes,
            rows,
            count,
        })
    }

    fn rows(&mut self, sql: &str) -> Vec<Vec<String>> {
        match self.run(sql, Vec::new()) {
            Ok(o) => o.rows,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    fn err(&mut self, sql: &str) -> PgError {
        match self.run(sql, Vec::new()) {
            Ok(_) => panic!("{sql}: expected an error"),
            Err(e) => e,
        }
    }
}

fn r(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn pgbench(h: &mut Harness) {
    h.create(
        "pgbench_accounts",
        &[
            ("aid", DataType::Int4, true, None),
            ("bid", DataType::Int4, false, None),
            ("abalance", DataType::Int4, false, None),
            ("filler", DataType::Bpchar(Some(84)), false, None),
        ],
        &[0],
    );
    h.create(
        "pgbench_history",
        &[
            ("tid", DataType::Int4, false, None),
            ("bid", DataType::Int4, false, None),
            ("aid", DataType::Int4, false, None),
            ("delta", DataType::Int4, false, None),
            ("mtime", DataType::Timestamp, false, None),
            ("filler", DataType::Bpchar(Some(22)), false, None),
        ],
        &[],
    );
    let o = h
        .run(
            "insert into pgbench_accounts(aid,bid,abalance,filler) select aid, (aid - 1) / 100000 + 1, 0, '' from generate_series(1, 1000) as aid",
            vec![],
        )
        .expect("insert select");
    assert_eq!(o.count, 1000);
}

#[test]
fn pgbench_statements_use_point_lookups_and_infer_params() {
    let mut h = Harness::new();
    pgbench(&mut h);
    h.commit();
    let o = h
        .run(
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
            vec![Value::Int4(5), Value::Int4(7)],
        )
        .unwrap();
    assert_eq!(o.params, vec![DataType::Int4, DataType::Int4]);
    assert_eq!(o.count, 1);
    assert!(format!("{:?}", o.plan).contains("PkLookup"), "{:?}", o.plan);
    let o = h
        .run(
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            vec![Value::Int4(7)],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["5"])]);
    assert_eq!(o.plan.columns[0].name, "abalance");
    assert_eq!(o.plan.columns[0].attnum, 3);
    assert!(format!("{:?}", o.plan).contains("PkLookup"));
    let o = h
        .run(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
            vec![Value::Int4(1), Value::Int4(1), Value::Int4(7), Value::Int4(5)],
        )
        .unwrap();
    assert_eq!(o.params, vec![DataType::Int4; 4]);
    assert_eq!(o.count, 1);
    assert_eq!(
        h.rows("select count(*), sum(delta) from pgbench_history"),
        vec![r(&["1", "5"])]
    );
    assert_eq!(
        h.rows("select count(*) from pgbench_accounts"),
        vec![r(&["1000"])]
    );
    // simple-protocol form with literals
    let o = h
        .run(
            "UPDATE pgbench_accounts SET abalance = abalance + -3 WHERE aid = 7",
            vec![],
        )
        .unwrap();
    assert_eq!(o.count, 1);
    assert_eq!(
        h.rows("SELECT abalance FROM pgbench_accounts WHERE aid = 7"),
        vec![r(&["2"])]
    );
}

#[test]
fn pgbench_partition_probe_query_runs() {
    let mut h = Harness::new();
    pgbench(&mut h);
    h.commit();
    let sql = "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1";
    let o = h.run(sql, vec![]).unwrap();
    let names: Vec<&str> = o.plan.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["n", "partstrat", "count"]);
    assert_eq!(o.rows.len(), 1, "{:?}", o.rows);
    assert_eq!(o.rows[0][1], "NULL");
    assert_eq!(o.rows[0][2], "0");
}

#[test]
fn select_basics_names_and_types() {
    let mut h = Harness::new();
    let o = h
        .run(
            "select 1, 'a', 1::int, now() is not null, current_timestamp is not null, 2.5 as x",
            vec![],
        )
        .unwrap();
    let names: Vec<&str> = o.plan.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["?column?", "?column?", "int4", "?column?", "?column?", "x"]
    );
    assert_eq!(o.plan.columns[1].data_type, DataType::Text);
    assert_eq!(o.rows, vec![r(&["1", "a", "1", "t", "t", "2.5"])]);
    let o = h
        .run(
            "select count(*) from generate_series(1, 10) as bid where bid > 3",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["7"])]);
    let o = h
        .run(
            "select bid from generate_series(1, 3) as bid order by bid desc",
            vec![],
        )
        .unwrap();
    assert_eq!(o.plan.columns[0].name, "bid");
    assert_eq!(o.rows, vec![r(&["3"]), r(&["2"]), r(&["1"])]);
    assert_eq!(
        h.rows("select avg(x), sum(x), min(x), max(x) from (values (1), (2)) v(x)"),
        vec![r(&["1.5000000000000000", "3", "1", "2"])]
    );
    assert_eq!(
        h.rows("select count(*), sum(x) from (values (1)) v(x) where x > 5"),
        vec![r(&["0", "NULL"])]
    );
    assert_eq!(
        h.rows("select x, count(*) from (values (1), (2), (1)) v(x) group by x order by 2 desc, 1"),
        vec![r(&["1", "2"]), r(&["2", "1"])]
    );
    assert_eq!(
        h.rows("select distinct x from (values (1), (2), (1)) v(x) order by x"),
        vec![r(&["1"]), r(&["2"])]
    );
    assert_eq!(
        h.rows("select 1 union select 1 union all select 2"),
        vec![r(&["1"]), r(&["2"])]
    );
    assert_eq!(h.rows("select case when 1 > 2 then 'a' else 'b' end, coalesce(null, 3), nullif(1, 1), greatest(1, 5, 3)"), vec![r(&["b", "3", "NULL", "5"])]);
    assert_eq!(
        h.rows("select 2 in (1, 2), 3 not in (1, null), exists (select 1), (select 7)"),
        vec![r(&["t", "NULL", "t", "7"])]
    );
    assert_eq!(
        h.rows("with t(a) as (select 5) select a + 1 from t"),
        vec![r(&["6"])]
    );
    assert_eq!(
        h.rows("select x from generate_series(1, 10) x order by x limit 2 offset 3"),
        vec![r(&["4"]), r(&["5"])]
    );
}

#[test]
fn joins_and_correlated_subqueries() {
    let mut h = Harness::new();
    h.create(
        "a",
        &[
            ("id", DataType::Int4, true, None),
            ("v", DataType::Text, false, None),
        ],
        &[0],
    );
    h.create(
        "b",
        &[
            ("id", DataType::Int4, true, None),
            ("a_id", DataType::Int4, false, None),
        ],
        &[0],
    );
    h.rows("insert into a values (1, 'x'), (2, 'y'), (3, null)");
    h.rows("insert into b values (10, 1), (11, 1), (12, 2), (13, 9)");
    assert_eq!(
        h.rows("select a.id, b.id from a join b on a.id = b.a_id order by 2"),
        vec![r(&["1", "10"]), r(&["1", "11"]), r(&["2", "12"])]
    );
    assert_eq!(h.rows("select a.id, count(b.id) from a left join b on a.id = b.a_id group by a.id order by a.id"), vec![r(&["1", "2"]), r(&["2", "1"]), r(&["3", "0"])]);
    assert_eq!(
        h.rows("select b.id from a right join b on a.id = b.a_id where a.id is null"),
        vec![r(&["13"])]
    );
    assert_eq!(
        h.rows("select count(*) from a full join b on a.id = b.a_id"),
        vec![r(&["5"])]
    );
    assert_eq!(
        h.rows("select count(*) from a, b where a.id = b.a_id"),
        vec![r(&["3"])]
    );
    assert_eq!(
        h.rows("select id, (select count(*) from b where b.a_id = a.id) from a order by id"),
        vec![r(&["1", "2"]), r(&["2", "1"]), r(&["3", "0"])]
    );
    assert_eq!(
        h.rows("select id from a where exists (select 1 from b where a_id = a.id) order by id"),
        vec![r(&["1"]), r(&["2"])]
    );
    assert_eq!(
        h.rows("select id from a where id in (select a_id from b) order by 1"),
        vec![r(&["1"]), r(&["2"])]
    );
    assert_eq!(h.rows("select a.id, s.n from a cross join lateral (select count(*) as n from b where b.a_id = a.id) s order by 1"), vec![r(&["1", "2"]), r(&["2", "1"]), r(&["3", "0"])]);
    let e = h.err("select (select id from a)");
    assert_eq!(
        e.message,
        "more than one row returned by a subquery used as an expression"
    );
}

#[test]
fn name_resolution_errors_match_postgres() {
    let mut h = Harness::new();
    h.create(
        "t",
        &[
            ("x", DataType::Int4, false, None),
            ("y", DataType::Int4, false, None),
        ],
        &[],
    );
    h.create("u", &[("x", DataType::Int4, false, None)], &[]);
    let e = h.err("select * from nope");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42P01", "relation \"nope\" does not exist")
    );
    let e = h.err("select z from t");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42703", "column \"z\" does not exist")
    );
    let e = h.err("select t.z from t");
    assert_eq!(e.message, "column t.z does not exist");
    let e = h.err("select x from t, u");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42702", "column reference \"x\" is ambiguous")
    );
    let e = h.err("select x, count(*) from t");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42803",
            "column \"t.x\" must appear in the GROUP BY clause or be used in an aggregate function"
        )
    );
    let e = h.err("select * from t where count(*) > 1");
    assert_eq!(e.message, "aggregate functions are not allowed in WHERE");
}

#[test]
fn insert_defaults_not_null_returning_and_delete() {
    let mut h = Harness::new();
    h.create(
        "items",
        &[
            ("id", DataType::Int4, true, None),
            ("name", DataType::Varchar(Some(5)), true, None),
            ("qty", DataType::Int4, false, Some("7")),
        ],
        &[0],
    );
    let o = h
        .run(
            "insert into items (id, name) values ($1, $2) returning *",
            vec![Value::Int4(1), Value::Text("ab".into())],
        )
        .unwrap();
    assert_eq!(o.params, vec![DataType::Int4, DataType::Varchar(None)]);
    assert_eq!(o.rows, vec![r(&["1", "ab", "7"])]);
    let e = h.err("insert into items (id) values (2)");
    assert_eq!(e.code.code(), "23502");
    assert_eq!(
        e.message,
        "null value in column \"name\" of relation \"items\" violates not-null constraint"
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Failing row contains (2, null, 7).")
    );
    h.rows("insert into items values (2, 'cd', default), (3, 'ef', 1)");
    h.rows("insert into items values (4, 'gh')");
    assert_eq!(
        h.rows("delete from items where id = 4 returning qty"),
        vec![r(&["7"])]
    );
    let o = h
        .run(
            "update items set qty = qty * 10 where id >= 2 returning id, qty",
            vec![],
        )
        .unwrap();
    assert_eq!(o.count, 2);
    assert_eq!(
        h.rows("select id, qty from items order by id"),
        vec![r(&["1", "7"]), r(&["2", "70"]), r(&["3", "10"])]
    );
    let o = h
        .run("update items set id = 30 where id = 3", vec![])
        .unwrap();
    assert_eq!(o.count, 1);
    let o = h
        .run("delete from items where id = 30 returning name", vec![])
        .unwrap();
    assert_eq!(o.rows, vec![r(&["ef"])]);
    assert_eq!(h.rows("select count(*) from items"), vec![r(&["2"])]);
    let e = h.err("insert into items (nope) values (1)");
    assert_eq!(
        e.message,
        "column \"nope\" of relation \"items\" does not exist"
    );
    let e = h.err("insert into items values (1, 'a') on conflict do update set id = 2");
    assert_eq!(e.code.code(), "42601");
    assert_eq!(
        e.locate(),
        Some(&tandem_types::Locate::Words("on conflict"))
    );
}

#[test]
fn psql_describe_queries_run() {
    let mut h = Harness::new();
    let oid = h.create("t", &[("id", DataType::Int4, true, None)], &[0]);
    h.commit();
    let o = h.run("SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as \"Type\", pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2", vec![]).unwrap();
    assert_eq!(o.rows, vec![r(&["public", "t", "table", "postgres"])]);
    let o = h.run("SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3", vec![]).unwrap();
    assert_eq!(o.rows, vec![r(&[&oid.0.to_string(), "public", "t"])]);
    let sql = format!("SELECT pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', '), CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid) WHERE c.oid = '{}'", oid.0);
    let o = h.run(&sql, vec![]).unwrap();
    assert_eq!(o.rows.len(), 1);
}

#[test]
fn composite_functions_in_from() {
    let mut h = Harness::new();
    let o = h
        .run(
            "select pg_control_version, system_identifier > 0 from pg_control_system()",
            vec![],
        )
        .unwrap();
    assert_eq!(o.plan.columns[0].name, "pg_control_version");
    assert_eq!(o.rows.len(), 1);
    assert_eq!(o.rows[0][1], "t");
    let o = h
        .run("select * from unnest(array[3, 1, 2]) u order by 1", vec![])
        .unwrap();
    assert_eq!(o.plan.columns[0].name, "u");
    assert_eq!(o.rows, vec![r(&["1"]), r(&["2"]), r(&["3"])]);
    let o = h
        .run(
            "select distinct on (x % 2) x from generate_series(1, 6) x order by x % 2, x desc",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["6"]), r(&["5"])]);
    let o = h
        .run(
            "select $1 = 'a', $2 + 1 limit $3",
            vec![Value::Text("a".into()), Value::Int4(1), Value::Int8(5)],
        )
        .unwrap();
    assert_eq!(
        o.params,
        vec![DataType::Text, DataType::Int4, DataType::Int8]
    );
    assert_eq!(o.rows, vec![r(&["t", "2"])]);
    let o = h.run("select string_agg(x::text, ',' order by x desc), array_agg(x), bool_and(x > 0), count(distinct x % 2) from generate_series(1, 3) x", vec![]).unwrap();
    assert_eq!(o.rows, vec![r(&["3,2,1", "{1,2,3}", "t", "2"])]);
}

#[test]
fn set_returning_functions_in_target_lists() {
    let mut h = Harness::new();
    h.create(
        "t",
        &[
            ("x", DataType::Int4, false, None),
            ("v", DataType::Int4, false, None),
        ],
        &[],
    );
    h.rows("insert into t values (1, 1), (2, 2), (3, null), (0, 5)");
    let o = h.run("select generate_series(1, 3)", vec![]).unwrap();
    assert_eq!(o.plan.columns[0].name, "generate_series");
    assert_eq!(o.plan.columns[0].data_type, DataType::Int4);
    assert_eq!(o.rows, vec![r(&["1"]), r(&["2"]), r(&["3"])]);
    assert_eq!(
        h.rows("select x, generate_series(1, x) from t order by 1, 2"),
        vec![
            r(&["1", "1"]),
            r(&["2", "1"]),
            r(&["2", "2"]),
            r(&["3", "1"]),
            r(&["3", "2"]),
            r(&["3", "3"])
        ]
    );
    let o = h.run("select unnest(array[1, 2, 3])", vec![]).unwrap();
    assert_eq!(o.plan.columns[0].name, "unnest");
    assert_eq!(o.rows, vec![r(&["1"]), r(&["2"]), r(&["3"])]);
    // lockstep, shorter calls padded with NULL
    assert_eq!(
        h.rows("select generate_series(1,3) a, generate_series(1,5) b, unnest(array['x','y']) c"),
        vec![
            r(&["1", "1", "x"]),
            r(&["2", "2", "y"]),
            r(&["3", "3", "NULL"]),
            r(&["NULL", "4", "NULL"]),
            r(&["NULL", "5", "NULL"])
        ]
    );
    let o = h.run("select generate_series(1,3) * 2", vec![]).unwrap();
    assert_eq!(o.plan.columns[0].name, "?column?");
    assert_eq!(o.rows, vec![r(&["2"]), r(&["4"]), r(&["6"])]);
    assert_eq!(
        h.rows("select abs(generate_series(-2, -1))"),
        vec![r(&["2"]), r(&["1"])]
    );
    assert!(h.rows("select generate_series(1, 0), 5").is_empty());
    assert!(h.rows("select x, unnest(null::int[]) from t").is_empty());
    assert_eq!(
        h.rows("select generate_series(1,3) as g order by g desc limit 2"),
        vec![r(&["3"]), r(&["2"])]
    );
    assert_eq!(
        h.rows("select distinct generate_series(1,3) % 2 order by 1"),
        vec![r(&["0"]), r(&["1"])]
    );
    // after grouping: arguments may use aggregates and grouped columns
    assert_eq!(
        h.rows("select count(*), generate_series(1, count(*)::int) from t"),
        vec![
            r(&["4", "1"]),
            r(&["4", "2"]),
            r(&["4", "3"]),
            r(&["4", "4"])
        ]
    );
    assert_eq!(
        h.rows("select x % 2, generate_series(1, 2) from t group by 1 order by 1, 2"),
        vec![
            r(&["0", "1"]),
            r(&["0", "2"]),
            r(&["1", "1"]),
            r(&["1", "2"])
        ]
    );
    // nested calls: the inner one runs in a lower ProjectSet
    assert_eq!(
        h.rows("select generate_series(1, generate_series(1, 3))"),
        vec![
            r(&["1"]),
            r(&["1"]),
            r(&["2"]),
            r(&["1"]),
            r(&["2"]),
            r(&["3"])
        ]
    );
    assert_eq!(
        h.rows("select generate_series(1,3), unnest(array[10,20]) from t where x = 1"),
        vec![r(&["1", "10"]), r(&["2", "20"]), r(&["3", "NULL"])]
    );
    assert_eq!(
        h.rows("select (select generate_series(1,3) limit 1)"),
        vec![r(&["1"])]
    );
    assert_eq!(
        h.rows("select x from t where x < 2 order by generate_series(1, 2), x"),
        vec![r(&["0"]), r(&["1"]), r(&["0"]), r(&["1"])]
    );
    assert_eq!(
        h.rows("select generate_series('2020-01-01'::timestamp, '2020-01-02', '12 hours')"),
        vec![
            r(&["2020-01-01 00:00:00"]),
            r(&["2020-01-01 12:00:00"]),
            r(&["2020-01-02 00:00:00"])
        ]
    );
    // where they are not allowed
    let cases = [
        (
            "select * from t where generate_series(1,2) = 1",
            "0A000",
            "set-returning functions are not allowed in WHERE",
        ),
        (
            "select count(generate_series(1,3))",
            "0A000",
            "aggregate function calls cannot contain set-returning function calls",
        ),
        (
            "select case when true then generate_series(1,3) end",
            "0A000",
            "set-returning functions are not allowed in CASE",
        ),
        (
            "select coalesce(generate_series(1,3), 0)",
            "0A000",
            "set-returning functions are not allowed in COALESCE",
        ),
        (
            "select 1 from t having generate_series(1,2) > 1",
            "0A000",
            "set-returning functions are not allowed in HAVING",
        ),
        (
            "update t set v = generate_series(1,2)",
            "0A000",
            "set-returning functions are not allowed in UPDATE",
        ),
        (
            "insert into t values (1, 2) returning generate_series(1,2)",
            "0A000",
            "set-returning functions are not allowed in RETURNING",
        ),
        (
            "select * from t join t t2 on generate_series(1,2) = 1",
            "0A000",
            "set-returning functions are not allowed in JOIN conditions",
        ),
        (
            "select 1 limit generate_series(1,2)",
            "0A000",
            "set-returning functions are not allowed in LIMIT",
        ),
        (
            "select generate_series(1,2) in (1)",
            "42804",
            "argument of IN must not return a set",
        ),
    ];
    for (sql, code, msg) in cases {
        let e = h.err(sql);
        assert_eq!((e.code.code(), e.message.as_str()), (code, msg), "{sql}");
    }
}

#[test]
fn aggregate_filter_clause() {
    let mut h = Harness::new();
    h.create(
        "t",
        &[
            ("x", DataType::Int4, false, None),
            ("v", DataType::Int4, false, None),
        ],
        &[],
    );
    h.rows("insert into t values (1, 1), (2, 2), (3, null), (0, 5)");
    assert_eq!(
        h.rows("select count(*) filter (where v > 1), sum(x) filter (where v is not null), count(*) filter (where x > 100) from t"),
        vec![r(&["2", "3", "0"])]
    );
    assert_eq!(
        h.rows("select x % 2, count(*) filter (where v > 1), array_agg(x order by x) filter (where x > 0) from t group by 1 order by 1"),
        vec![r(&["0", "2", "{2}"]), r(&["1", "0", "{1,3}"])]
    );
    let cases = [
        (
            "select sum(x) filter (where count(*) > 1) from t",
            "42803",
            "aggregate functions are not allowed in FILTER",
        ),
        (
            "select abs(x) filter (where x > 1) from t",
            "42809",
            "FILTER specified, but abs is not an aggregate function",
        ),
        (
            "select count(*) filter (where 1) from t",
            "42804",
            "argument of FILTER must be type boolean, not type integer",
        ),
    ];
    for (sql, code, msg) in cases {
        let e = h.err(sql);
        assert_eq!((e.code.code(), e.message.as_str()), (code, msg), "{sql}");
    }
}

#[test]
fn secondary_indexes_serve_equality_and_ranges() {
    let mut h = Harness::new();
    pgbench(&mut h);
    h.commit();
    let table = h
        .txn()
        .catalog()
        .table_by_name("public", "pgbench_accounts")
        .map(|t| t.oid);
    let table = table.expect("table");
    let txn = h.txn();
    let oid = txn.allocate_oid();
    txn.start_statement();
    txn.create_index(tandem_storage::IndexDef {
        oid,
        name: "accounts_bid_abalance".into(),
        table,
        columns: vec![1, 2],
        unique: false,
        constraint: false,
    })
    .expect("create index");
    h.commit();
    let plan_of = |o: &Outcome| format!("{:?}", o.plan);
    let o = h
        .run(
            "select count(*) from pgbench_accounts where bid = 1",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["1000"])]);
    assert!(plan_of(&o).contains("IndexScan"), "{}", plan_of(&o));
    let o = h
        .run(
            "update pgbench_accounts set abalance = aid where bid = $1 and aid <= 10",
            vec![Value::Int4(1)],
        )
        .unwrap();
    assert_eq!(o.count, 10);
    assert!(plan_of(&o).contains("IndexScan"));
    h.commit();
    // equality on the first column, a range on the second, the other
    // conjuncts checked on the rows found
    let o = h
        .run(
            "select aid from pgbench_accounts where bid = 1 and abalance > 7 and abalance <= 9.5 and aid > 0 order by aid",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["8"]), r(&["9"])]);
    assert!(plan_of(&o).contains("IndexScan"));
    // a bound the column cannot hold exactly bounds nothing
    let o = h
        .run(
            "select count(*) from pgbench_accounts where bid = 1 and abalance between 0.5 and 2.5",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["2"])]);
    let o = h
        .run(
            "select count(*) from pgbench_accounts where bid = 1.5",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["0"])]);
    let o = h
        .run(
            "select count(*) from pgbench_accounts where bid = null",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["0"])]);
    // no usable conjunct: a sequential scan
    let o = h
        .run(
            "select count(*) from pgbench_accounts where abalance = 3",
            vec![],
        )
        .unwrap();
    assert_eq!(o.rows, vec![r(&["1"])]);
    assert!(!plan_of(&o).contains("IndexScan"));
}

#[test]
fn primary_key_ranges_read_the_key_range() {
    let mut h = Harness::new();
    pgbench(&mut h);
    h.commit();
    let count = |h: &mut Harness, q: &str| {
        let o = h.run(q, vec![]).unwrap();
        assert!(format!("{:?}", o.plan).contains("IndexScan"), "{q}");
        o.rows
    };
    let q = "select count(*) from pgbench_accounts where aid between 10 and 20";
    assert_eq!(count(&mut h, q), vec![r(&["11"])]);
    let q = "select count(*) from pgbench_accounts where aid > 995";
    assert_eq!(count(&mut h, q), vec![r(&["5"])]);
    let q = "select count(*) from pgbench_accounts where 3 > aid";
    assert_eq!(count(&mut h, q), vec![r(&["2"])]);
    let q = "select aid from pgbench_accounts where aid > 10.5 and aid < 12.5";
    assert_eq!(count(&mut h, q), vec![r(&["11"]), r(&["12"])]);
    // rows this transaction wrote are in the range too
    h.run("delete from pgbench_accounts where aid = 15", vec![])
        .unwrap();
    h.run(
        "insert into pgbench_accounts(aid, bid, abalance, filler) values (1001, 1, 0, '')",
        vec![],
    )
    .unwrap();
    let q = "select count(*) from pgbench_accounts where aid >= 10 and aid <= 20";
    assert_eq!(count(&mut h, q), vec![r(&["10"])]);
    let q = "select count(*) from pgbench_accounts where aid > 999";
    assert_eq!(count(&mut h, q), vec![r(&["2"])]);
}

#[test]
fn order_by_the_primary_key_needs_no_sort() {
    let mut h = Harness::new();
    pgbench(&mut h);
    h.commit();
    let run = |h: &mut Harness, q: &str| {
        let o = h.run(q, vec![]).unwrap();
        (format!("{:?}", o.plan), o.rows)
    };
    // rows written by this transaction (in the overlay) come in key order too
    h.run("delete from pgbench_accounts where aid = 2", vec![])
        .unwrap();
    h.run(
        "insert into pgbench_accounts(aid, bid, abalance, filler) values (0, 1, 0, '')",
        vec![],
    )
    .unwrap();
    let (plan, rows) = run(
        &mut h,
        "select aid from pgbench_accounts order by aid limit 3",
    );
    assert!(!plan.contains("Sort"), "{plan}");
    assert_eq!(rows, vec![r(&["0"]), r(&["1"]), r(&["3"])]);
    let q = "select aid from pgbench_accounts where abalance = 0 order by 1 limit 2 offset 1";
    let (plan, rows) = run(&mut h, q);
    assert!(!plan.contains("Sort"), "{plan}");
    assert_eq!(rows, vec![r(&["1"]), r(&["3"])]);
    // another order still sorts
    let (plan, rows) = run(
        &mut h,
        "select aid from pgbench_accounts order by aid desc limit 1",
    );
    assert!(plan.contains("Sort"), "{plan}");
    assert_eq!(rows, vec![r(&["1000"])]);
    let (plan, _) = run(
        &mut h,
        "select aid from pgbench_accounts order by bid, aid limit 1",
    );
    assert!(plan.contains("Sort"), "{plan}");
}
