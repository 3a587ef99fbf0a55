//! End-to-end session tests over an in-memory [`QuerySink`]: a fresh data
//! directory per test, the real storage, planner, expression and config crates.
//! Each test names the PostgreSQL behaviour it pins.

mod privileges;
mod publication;
mod shapes;
pub(crate) mod sink;

use std::sync::Arc;

use tandem_config::Config;
use tandem_expr::context::ServerHooks;
use tandem_expr::SessionInfo;
use tandem_storage::{BootstrapOptions, Database, OpenOptions};
use tandem_types::{PgError, SqlState};

use self::sink::MemSink;
use crate::{Engine, ExecuteOutcome, Session};

struct NoHooks;

impl ServerHooks for NoHooks {
    fn reload_conf(&self) -> bool {
        false
    }
    fn signal_backend(&self, _pid: i32, _terminate: bool) -> bool {
        false
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
}

fn fixture() -> Fixture {
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
    Fixture {
        _dir: dir,
        engine: Arc::new(Engine {
            db,
            config: Config::defaults(),
            hooks: Arc::new(NoHooks),
            syncrep: None,
            notify: Arc::new(tandem_expr::notify::NotifyHub::new()),
            advisory: Arc::new(tandem_expr::advisory::AdvisoryLocks::new()),
        }),
    }
}

fn info(user: &str, superuser: bool) -> SessionInfo {
    SessionInfo {
        pid: 4242,
        user: user.into(),
        user_oid: 10,
        superuser,
        database: "postgres".into(),
        application_name: String::new(),
        client_addr: None,
        backend_start: 0,
    }
}

fn session(f: &Fixture) -> Session {
    Session::new(
        Arc::clone(&f.engine),
        info("postgres", true),
        &[
            ("user".into(), "postgres".into()),
            ("database".into(), "postgres".into()),
        ],
    )
    .expect("session")
}

/// Runs `sql`, returns the sink log (an error appends `E code message`).
fn run(s: &mut Session, sql: &str) -> Vec<String> {
    let mut sink = MemSink::default();
    if let Err(e) = s.simple_query(sql, &mut sink) {
        sink.log.push(format!("E {} {}", e.code.code(), e.message));
    }
    sink.log
}

fn err(s: &mut Session, sql: &str) -> PgError {
    let mut sink = MemSink::default();
    s.simple_query(sql, &mut sink).expect_err(sql)
}

#[test]
fn unknown_database_is_fatal_3d000() {
    let f = fixture();
    let e = Session::new(
        Arc::clone(&f.engine),
        info("postgres", true),
        &[("database".into(), "nope".into())],
    )
    .err()
    .expect("must fail");
    assert!(e.is_fatal());
    assert_eq!(e.code, SqlState::UNDEFINED_DATABASE);
    assert_eq!(e.message, "database \"nope\" does not exist");
}

#[test]
fn empty_and_comment_only_queries_answer_empty_query() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(run(&mut s, ""), vec!["I"]);
    assert_eq!(run(&mut s, " -- nothing\n /* here */ ;"), vec!["I"]);
}

#[test]
fn error_in_block_gives_25p02_until_rollback_and_commit_answers_rollback() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int primary key, v text)");
    assert_eq!(run(&mut s, "begin"), vec!["C BEGIN"]);
    assert_eq!(s.transaction_status(), b'T');
    assert_eq!(
        run(&mut s, "insert into t values (1, 'a')"),
        vec!["C INSERT 0 1"]
    );
    let e = err(&mut s, "select * from missing");
    assert_eq!(e.code, SqlState::UNDEFINED_TABLE);
    assert_eq!(s.transaction_status(), b'E');
    let e = err(&mut s, "select 1");
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    assert_eq!(
        e.message,
        "current transaction is aborted, commands ignored until end of transaction block"
    );
    assert_eq!(run(&mut s, "commit"), vec!["C ROLLBACK"]);
    assert_eq!(s.transaction_status(), b'I');
    assert_eq!(
        run(&mut s, "select count(*) from t"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
}

#[test]
fn transaction_warnings_as_postgres() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(
        run(&mut s, "commit"),
        vec![
            "N WARNING 25P01 there is no transaction in progress",
            "C COMMIT"
        ]
    );
    run(&mut s, "begin");
    assert_eq!(
        run(&mut s, "begin"),
        vec![
            "N WARNING 25001 there is already a transaction in progress",
            "C BEGIN"
        ]
    );
    assert_eq!(run(&mut s, "rollback"), vec!["C ROLLBACK"]);
}

#[test]
fn multi_statement_query_is_one_implicit_transaction() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int primary key)");
    let log = run(&mut s, "insert into t values (1); insert into t values (1)");
    assert_eq!(log[0], "C INSERT 0 1");
    assert!(log[1].starts_with("E 23505"), "{log:?}");
    // the first insert was rolled back with the second
    assert_eq!(
        run(&mut s, "select count(*) from t"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
    // VACUUM refuses to run inside the implicit block of a multi-statement query
    let e = err(&mut s, "select 1; vacuum t");
    assert_eq!(e.message, "VACUUM cannot run inside a transaction block");
    assert_eq!(run(&mut s, "vacuum analyze t"), vec!["C VACUUM"]);
}

#[test]
fn read_only_transaction_refuses_writes_25006() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int)");
    run(&mut s, "begin transaction read only");
    let e = err(&mut s, "insert into t values (1)");
    assert_eq!(e.code, SqlState::READ_ONLY_SQL_TRANSACTION);
    assert_eq!(
        e.message,
        "cannot execute INSERT in a read-only transaction"
    );
    run(&mut s, "rollback");
    run(&mut s, "begin isolation level repeatable read");
    assert_eq!(
        run(&mut s, "show transaction isolation level"),
        vec!["T transaction_isolation", "D repeatable read", "C SHOW"]
    );
    run(&mut s, "commit");
}

#[test]
fn create_table_serial_defaults_and_errors() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(
        run(
            &mut s,
            "create table t (id serial primary key, name varchar(5) not null default 'x')"
        ),
        vec!["C CREATE TABLE"]
    );
    assert_eq!(
        run(&mut s, "insert into t (name) values ('a'), ('b')"),
        vec!["C INSERT 0 2"]
    );
    assert_eq!(
        run(&mut s, "select id, name from t order by id"),
        vec!["T id,name", "D 1|a", "D 2|b", "C SELECT 2"]
    );
    let e = err(&mut s, "create table t (a int)");
    assert_eq!(
        (e.code, e.message.as_str()),
        (SqlState::DUPLICATE_TABLE, "relation \"t\" already exists")
    );
    assert_eq!(
        run(&mut s, "create table if not exists t (a int)"),
        vec![
            "N NOTICE 42P07 relation \"t\" already exists, skipping",
            "C CREATE TABLE"
        ]
    );
    let e = err(&mut s, "create table u (a int unique deferrable)");
    assert_eq!(e.code, SqlState::FEATURE_NOT_SUPPORTED);
    assert_eq!(
        run(&mut s, "alter table t add column n int default 7"),
        vec!["C ALTER TABLE"]
    );
    assert_eq!(
        run(&mut s, "select n from t order by id"),
        vec!["T n", "D 7", "D 7", "C SELECT 2"]
    );
    assert_eq!(
        run(&mut s, "truncate t restart identity"),
        vec!["C TRUNCATE TABLE"]
    );
    assert_eq!(
        run(&mut s, "drop table t, u"),
        vec!["E 42P01 table \"u\" does not exist"]
    );
    assert_eq!(
        run(&mut s, "drop table if exists t, u"),
        vec![
            "N NOTICE 00000 table \"u\" does not exist, skipping",
            "C DROP TABLE"
        ]
    );
    // the owned sequence went with the table
    assert_eq!(
        run(&mut s, "create sequence t_id_seq"),
        vec!["C CREATE SEQUENCE"]
    );
}

#[test]
fn roles_create_alter_drop() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(
        run(&mut s, "create user bob password 'secret'"),
        vec!["C CREATE ROLE"]
    );
    let e = err(&mut s, "create role bob");
    assert_eq!(
        (e.code, e.message.as_str()),
        (SqlState::DUPLICATE_OBJECT, "role \"bob\" already exists")
    );
    assert_eq!(
        run(&mut s, "alter role bob with nologin replication"),
        vec!["C ALTER ROLE"]
    );
    let e = err(&mut s, "alter role nobody login");
    assert_eq!(e.message, "role \"nobody\" does not exist");
    assert_eq!(run(&mut s, "drop role bob"), vec!["C DROP ROLE"]);
    assert_eq!(
        run(&mut s, "drop role if exists bob"),
        vec![
            "N NOTICE 00000 role \"bob\" does not exist, skipping",
            "C DROP ROLE"
        ]
    );
}

#[test]
fn set_show_reset() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(
        run(&mut s, "set application_name = 'tester'"),
        vec!["S application_name=tester", "C SET"]
    );
    assert_eq!(
        run(&mut s, "show application_name"),
        vec!["T application_name", "D tester", "C SHOW"]
    );
    assert_eq!(run(&mut s, "reset application_name")[1], "C RESET");
    let e = err(&mut s, "show no_such_setting");
    assert_eq!(
        e.message,
        "unrecognized configuration parameter \"no_such_setting\""
    );
}

#[test]
fn copy_in_and_out_round_trip() {
    let f = fixture();
    let mut s = session(&f);
    run(
        &mut s,
        "create table t (id int primary key, v text, n numeric(5,2))",
    );
    let mut sink = MemSink {
        copy_in: vec![
            b"1\thello\t1.5\n2\t\\N\t".to_vec(),
            b"2.25\n3\ttab\\there\t\\N\n\\.\n".to_vec(),
        ],
        ..Default::default()
    };
    s.simple_query("copy t from stdin with (freeze on)", &mut sink)
        .expect("copy in");
    assert_eq!(sink.log, vec!["G 3", "C COPY 3"]);
    let mut sink = MemSink::default();
    s.simple_query("copy t to stdout", &mut sink)
        .expect("copy out");
    assert_eq!(
        String::from_utf8(sink.copy_out).expect("utf8"),
        "1\thello\t1.50\n2\t\\N\t2.25\n3\ttab\\there\t\\N\n"
    );
    let mut sink = MemSink::default();
    s.simple_query(
        "copy (select id, v from t where id < 3 order by id) to stdout with (format csv, header)",
        &mut sink,
    )
    .expect("copy out csv");
    assert_eq!(
        String::from_utf8(sink.copy_out).expect("utf8"),
        "id,v\n1,hello\n2,\n"
    );
    // a bad row aborts the COPY with the row count unchanged
    let mut sink = MemSink {
        copy_in: vec![b"9\tx\tnotanumber\n".to_vec()],
        ..Default::default()
    };
    let e = s
        .simple_query("copy t from stdin", &mut sink)
        .expect_err("bad data");
    assert_eq!(e.code, SqlState::INVALID_TEXT_REPRESENTATION);
    assert_eq!(
        run(&mut s, "select count(*) from t"),
        vec!["T count", "D 3", "C SELECT 1"]
    );
}

#[test]
fn extended_protocol_with_params_paging_and_errors() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int primary key, v text)");
    run(&mut s, "insert into t values (1, 'a'), (2, 'b'), (3, 'c')");
    s.parse("q", "select id, v from t where id >= $1 order by id", &[])
        .expect("parse");
    let e = s.parse("q", "select 1", &[]).expect_err("duplicate");
    assert_eq!(e.message, "prepared statement \"q\" already exists");
    s.sync().expect("sync");
    let mut sink = MemSink::default();
    s.describe_statement("q", &mut sink).expect("describe");
    assert_eq!(sink.log, vec!["t 23", "T id,v"]);
    let e = s.bind("", "q", &[], &[], &[]).expect_err("count");
    assert_eq!(e.code, SqlState::PROTOCOL_VIOLATION);
    assert_eq!(
        e.message,
        "bind message supplies 0 parameters, but prepared statement \"q\" requires 1"
    );
    s.sync().expect("sync");
    s.bind("", "q", &[], &[Some(b"2".to_vec())], &[])
        .expect("bind");
    let mut sink = MemSink::default();
    assert_eq!(
        s.execute("", 1, &mut sink).expect("exec"),
        ExecuteOutcome::Suspended
    );
    assert_eq!(
        s.execute("", 1, &mut sink).expect("exec"),
        ExecuteOutcome::Suspended
    );
    assert_eq!(
        s.execute("", 1, &mut sink).expect("exec"),
        ExecuteOutcome::Complete
    );
    assert_eq!(sink.log, vec!["D 2|b", "D 3|c", "C SELECT 0"]);
    s.sync().expect("sync");
    let e = s.execute("nope", 0, &mut sink).expect_err("no portal");
    assert_eq!(e.message, "portal \"nope\" does not exist");
    s.sync().expect("sync");
    // an explicit block across Syncs; an INSERT through a cached plan
    s.parse("ins", "insert into t values ($1, $2)", &[23, 25])
        .expect("parse");
    s.parse("", "begin", &[]).expect("parse");
    s.bind("", "", &[], &[], &[]).expect("bind");
    s.execute("", 0, &mut MemSink::default()).expect("begin");
    s.sync().expect("sync");
    assert_eq!(s.transaction_status(), b'T');
    for id in 10..13 {
        s.bind(
            "",
            "ins",
            &[],
            &[Some(id.to_string().into_bytes()), None],
            &[],
        )
        .expect("bind");
        let mut sink = MemSink::default();
        s.execute("", 0, &mut sink).expect("insert");
        assert_eq!(sink.log, vec!["C INSERT 0 1"]);
        s.sync().expect("sync");
    }
    assert_eq!(run(&mut s, "commit"), vec!["C COMMIT"]);
    assert_eq!(
        run(&mut s, "select count(*) from t"),
        vec!["T count", "D 6", "C SELECT 1"]
    );
}

#[test]
fn syntax_and_unsupported_errors() {
    let f = fixture();
    let mut s = session(&f);
    let e = err(&mut s, "selec 1");
    assert_eq!(
        (e.code, e.message.as_str(), e.position),
        (
            SqlState::SYNTAX_ERROR,
            "syntax error at or near \"selec\"",
            Some(1)
        )
    );
    let e = err(&mut s, "create index i on t using gin (a)");
    assert_eq!(e.code, SqlState::FEATURE_NOT_SUPPORTED);
    assert_eq!(e.message, "access method \"gin\" is not supported");
    let e = err(&mut s, "create subscription s connection 'x' publication p");
    assert_eq!(
        e.message,
        "invalid connection string syntax: missing \"=\" after \"x\" in connection info string\n"
    );
    // a syntax error anywhere means nothing of the message ran
    run(&mut s, "create table t (a int)");
    let e = err(&mut s, "insert into t values (1); selec");
    assert_eq!(e.code, SqlState::SYNTAX_ERROR);
    assert_eq!(
        run(&mut s, "select count(*) from t"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
}

#[test]
fn checkpoint_and_alter_system_checks() {
    let f = fixture();
    let mut s = session(&f);
    assert_eq!(run(&mut s, "checkpoint"), vec!["C CHECKPOINT"]);
    run(&mut s, "begin");
    let e = err(&mut s, "alter system set work_mem = '8MB'");
    assert_eq!(
        e.message,
        "ALTER SYSTEM cannot run inside a transaction block"
    );
    run(&mut s, "rollback");
    let mut user = Session::new(Arc::clone(&f.engine), info("bob", false), &[]).expect("session");
    let e = err(&mut user, "alter system set work_mem = '8MB'");
    assert_eq!(
        e.message,
        "must be superuser to execute ALTER SYSTEM command"
    );
    let e = err(&mut user, "create role x");
    assert_eq!(e.message, "permission denied to create role");
}

/// The server runs each session on its own thread: the session must be movable.
/// `CREATE_REPLICATION_SLOT ... (SNAPSHOT 'use')`: only a READ ONLY,
/// REPEATABLE READ block whose snapshot was not taken may adopt one, and it
/// then reads exactly what committed at or before the given LSN.
#[test]
fn snapshot_import_reads_as_of_the_given_lsn() {
    use crate::SnapshotRefusal;
    let f = fixture();
    let mut s1 = session(&f);
    let mut s2 = session(&f);
    run(&mut s2, "create table t (id int primary key)");
    run(&mut s2, "insert into t values (1)");
    assert_eq!(
        s1.prepare_snapshot_import(),
        Err(SnapshotRefusal::NotInBlock)
    );
    run(&mut s1, "begin read only");
    assert_eq!(
        s1.prepare_snapshot_import(),
        Err(SnapshotRefusal::NotRepeatableRead)
    );
    run(&mut s1, "rollback");
    run(&mut s1, "begin isolation level repeatable read");
    assert_eq!(
        s1.prepare_snapshot_import(),
        Err(SnapshotRefusal::NotReadOnly)
    );
    run(&mut s1, "rollback");
    run(&mut s1, "begin read only isolation level repeatable read");
    run(&mut s1, "select 1");
    assert_eq!(
        s1.prepare_snapshot_import(),
        Err(SnapshotRefusal::SnapshotTaken)
    );
    run(&mut s1, "rollback");

    run(&mut s1, "begin read only isolation level repeatable read");
    assert_eq!(s1.prepare_snapshot_import(), Ok(()));
    run(&mut s2, "insert into t values (2)");
    let point = f.engine.db.wal().insert_lsn();
    run(&mut s2, "insert into t values (3)");
    s1.set_snapshot_lsn(point).expect("set snapshot");
    assert_eq!(
        run(&mut s1, "select array_agg(id order by id) from t"),
        vec!["T array_agg", "D {1,2}", "C SELECT 1"]
    );
    assert_eq!(
        s1.prepare_snapshot_import(),
        Err(SnapshotRefusal::SnapshotTaken)
    );
    run(&mut s2, "insert into t values (4)");
    assert_eq!(
        run(&mut s1, "select count(*) from t"),
        vec!["T count", "D 2", "C SELECT 1"]
    );
    run(&mut s1, "commit");
    assert_eq!(
        run(&mut s1, "select count(*) from t"),
        vec!["T count", "D 4", "C SELECT 1"]
    );
}

#[test]
fn session_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Session>();
}

/// UPDATE and DELETE over more rows than one batch of their scan: every row
/// once, none twice (an UPDATE that keeps keys goes batch by batch, one that
/// moves keys collects its targets first).
#[test]
fn update_and_delete_across_scan_batches() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table big (id int primary key, v int)");
    run(&mut s, "create table nokey (id int, v int)");
    for t in ["big", "nokey"] {
        assert_eq!(
            run(
                &mut s,
                &format!("insert into {t} select g, 0 from generate_series(1, 10000) g")
            ),
            ["C INSERT 0 10000"]
        );
        assert_eq!(
            run(&mut s, &format!("update {t} set v = v + 1")),
            ["C UPDATE 10000"]
        );
        assert_eq!(
            run(&mut s, &format!("begin; update {t} set v = v + 1 where id > 5000; update {t} set v = v * 10; commit")),
            ["C BEGIN", "C UPDATE 5000", "C UPDATE 10000", "C COMMIT"]
        );
        assert_eq!(
            run(
                &mut s,
                &format!("select sum(v), count(*), min(v), max(v) from {t}")
            ),
            ["T sum,count,min,max", "D 150000|10000|10|20", "C SELECT 1"]
        );
        assert_eq!(
            run(&mut s, &format!("delete from {t} where id % 2 = 0")),
            ["C DELETE 5000"]
        );
        assert_eq!(
            run(&mut s, &format!("select count(*), sum(id) from {t}")),
            ["T count,sum", "D 5000|25000000", "C SELECT 1"]
        );
    }
    // keys moved forward: collected first, each row moved once
    assert_eq!(
        run(&mut s, "update big set id = id + 100000"),
        ["C UPDATE 5000"]
    );
    assert_eq!(
        run(&mut s, "select min(id), max(id), count(*) from big"),
        ["T min,max,count", "D 100001|109999|5000", "C SELECT 1"]
    );
}

#[test]
fn explain_tells_which_index_finds_the_rows() {
    let f = fixture();
    let mut s = session(&f);
    run(
        &mut s,
        "create table t (id int primary key, a int, b text unique)",
    );
    run(&mut s, "create index t_a on t (a)");
    let plan = |s: &mut Session, q: &str| -> Vec<String> {
        run(s, q)
            .into_iter()
            .filter_map(|l| l.strip_prefix("D ").map(str::to_string))
            .collect()
    };
    assert_eq!(
        plan(&mut s, "explain select * from t where a = 1 and b > 'x'"),
        vec!["Index Scan using t_a on t"]
    );
    assert_eq!(
        plan(&mut s, "explain (costs off) select * from t where b = 'x'"),
        vec!["Index Scan using t_b_key on t"]
    );
    assert_eq!(
        plan(&mut s, "explain select * from t where id = 1"),
        vec!["Index Scan using t_pkey on t"]
    );
    assert_eq!(
        plan(&mut s, "explain delete from t where b like 'x%'"),
        vec!["Delete on t", "  ->  Seq Scan on t"]
    );
    assert_eq!(
        plan(
            &mut s,
            "explain select count(*) from t join t u on t.a = u.id where u.a < 3"
        ),
        vec![
            "Aggregate",
            "  ->  Hash Join",
            "        ->  Seq Scan on t",
            "        ->  Index Scan using t_a on t"
        ]
    );
    let e = err(&mut s, "explain analyze select 1");
    assert_eq!(e.message, "EXPLAIN ANALYZE is not supported");
}
