//! Session tests of CREATE / ALTER / DROP PUBLICATION and the publication
//! catalogs, against PostgreSQL 17's outputs and error texts.

use std::sync::Arc;

use tandem_types::SqlState;

use super::{err, fixture, info, run, session};
use crate::Session;

fn setup(s: &mut Session) {
    run(s, "create table t1 (a int primary key, b text)");
    run(s, "create table t2 (x int)");
    run(s, "create sequence s1");
}

#[test]
fn create_and_catalog_views() {
    let f = fixture();
    let mut s = session(&f);
    setup(&mut s);
    assert_eq!(
        run(&mut s, "create publication p1 for table t1"),
        vec!["C CREATE PUBLICATION"]
    );
    run(&mut s, "create publication p2 for all tables");
    run(&mut s, "create publication p3");
    run(
        &mut s,
        "create publication p4 for table t1, t2 with (publish = 'insert, update', \
         publish_via_partition_root = true)",
    );
    assert_eq!(
        run(
            &mut s,
            "select pubname, pubowner, puballtables, pubinsert, pubupdate, pubdelete, \
             pubtruncate, pubviaroot from pg_publication order by pubname"
        )[1..5],
        [
            "D p1|10|f|t|t|t|t|f",
            "D p2|10|t|t|t|t|t|f",
            "D p3|10|f|t|t|t|t|f",
            "D p4|10|f|t|t|f|f|t",
        ]
    );
    assert_eq!(
        run(
            &mut s,
            "select p.pubname, c.relname, r.prqual is null from pg_publication_rel r \
             join pg_publication p on p.oid = r.prpubid join pg_class c on c.oid = r.prrelid \
             order by 1, 2"
        )[1..4],
        ["D p1|t1|t", "D p4|t1|t", "D p4|t2|t"]
    );
    assert_eq!(
        run(
            &mut s,
            "select * from pg_publication_tables order by 1, 2, 3"
        ),
        vec![
            "T pubname,schemaname,tablename,attnames,rowfilter",
            "D p1|public|t1|{a,b}|NULL",
            "D p2|public|t1|{a,b}|NULL",
            "D p2|public|t2|{x}|NULL",
            "D p4|public|t1|{a,b}|NULL",
            "D p4|public|t2|{x}|NULL",
            "C SELECT 5",
        ]
    );
}

#[test]
fn create_errors() {
    let f = fixture();
    let mut s = session(&f);
    setup(&mut s);
    run(&mut s, "create publication p1");
    let cases: &[(&str, SqlState, &str)] = &[
        (
            "create publication p1 for table t1",
            SqlState::DUPLICATE_OBJECT,
            "publication \"p1\" already exists",
        ),
        (
            "create publication q for table nosuch",
            SqlState::UNDEFINED_TABLE,
            "relation \"nosuch\" does not exist",
        ),
        (
            "create publication q for table s1",
            SqlState::INVALID_PARAMETER_VALUE,
            "cannot add relation \"s1\" to publication",
        ),
        (
            "create publication q for table pg_class",
            SqlState::INVALID_PARAMETER_VALUE,
            "cannot add relation \"pg_class\" to publication",
        ),
        (
            "create publication q with (publish = 'foo')",
            SqlState::SYNTAX_ERROR,
            "unrecognized value for publication option \"publish\": \"foo\"",
        ),
        (
            "create publication q with (foo = 1)",
            SqlState::SYNTAX_ERROR,
            "unrecognized publication parameter: \"foo\"",
        ),
        (
            "create publication q for table t1 (a)",
            SqlState::FEATURE_NOT_SUPPORTED,
            "column lists in publications is not supported",
        ),
    ];
    for (sql, code, message) in cases {
        let e = err(&mut s, sql);
        assert_eq!((&e.code, e.message.as_str()), (code, *message), "{sql}");
    }
    let e = err(&mut s, "create publication q for table s1");
    assert_eq!(
        e.detail.as_deref(),
        Some("This operation is not supported for sequences.")
    );
    let e = err(
        &mut s,
        "create publication q with (publish = 'insert', publish = 'update')",
    );
    assert_eq!(
        (e.message.as_str(), e.position),
        ("conflicting or redundant options", Some(48))
    );
    // Duplicates in one list collapse; an empty publish list publishes nothing.
    run(
        &mut s,
        "create publication q for table t2, t2 with (publish = '')",
    );
    assert_eq!(
        run(
            &mut s,
            "select pubinsert, pubupdate, pubdelete, pubtruncate from pg_publication \
             where pubname = 'q'"
        )[1],
        "D f|f|f|f"
    );
}

#[test]
fn alter_forms_and_errors() {
    let f = fixture();
    let mut s = session(&f);
    setup(&mut s);
    run(&mut s, "create publication p1 for table t1");
    run(&mut s, "create publication pall for all tables");
    let e = err(&mut s, "alter publication p1 add table t1");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::DUPLICATE_OBJECT,
            "relation \"t1\" is already member of publication \"p1\""
        )
    );
    for sql in [
        "alter publication pall add table t1",
        "alter publication pall drop table t1",
        "alter publication pall set table t1",
    ] {
        let e = err(&mut s, sql);
        assert_eq!(e.code, SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE);
        assert_eq!(
            e.message,
            "publication \"pall\" is defined as FOR ALL TABLES"
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("Tables cannot be added to or dropped from FOR ALL TABLES publications.")
        );
    }
    assert_eq!(
        run(&mut s, "alter publication p1 add table t2"),
        vec!["C ALTER PUBLICATION"]
    );
    run(&mut s, "alter publication p1 drop table t2");
    let e = err(&mut s, "alter publication p1 drop table t2");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::UNDEFINED_OBJECT,
            "relation \"t2\" is not part of the publication"
        )
    );
    run(&mut s, "alter publication p1 set table t2");
    run(&mut s, "alter publication p1 set (publish = 'delete')");
    run(
        &mut s,
        "alter publication p1 set (publish_via_partition_root)",
    );
    let e = err(&mut s, "alter publication nosuch add table t1");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::UNDEFINED_OBJECT,
            "publication \"nosuch\" does not exist"
        )
    );
    let e = err(&mut s, "alter publication p1 rename to pall");
    assert_eq!(e.message, "publication \"pall\" already exists");
    run(&mut s, "alter publication p1 rename to p1b");
    let e = err(&mut s, "alter publication p1b owner to nosuchrole");
    assert_eq!(e.message, "role \"nosuchrole\" does not exist");
    run(&mut s, "create role r1");
    run(&mut s, "alter publication p1b owner to r1");
    let e = err(&mut s, "alter publication pall owner to r1");
    assert_eq!(
        e.message,
        "permission denied to change owner of publication \"pall\""
    );
    assert_eq!(
        run(
            &mut s,
            "select pubname, r.rolname, pubinsert, pubupdate, pubdelete, pubtruncate, \
             pubviaroot from pg_publication p join pg_roles r on r.oid = p.pubowner \
             where pubname = 'p1b'"
        )[1],
        "D p1b|r1|f|f|t|f|t"
    );
    assert_eq!(
        run(
            &mut s,
            "select tablename from pg_publication_tables where pubname = 'p1b'"
        )[1],
        "D t2"
    );
}

#[test]
fn drop_publication_and_dropped_tables() {
    let f = fixture();
    let mut s = session(&f);
    setup(&mut s);
    run(&mut s, "create publication p1 for table t1, t2");
    run(&mut s, "create publication p2 for table t1");
    run(&mut s, "drop table t1");
    assert_eq!(
        run(
            &mut s,
            "select pubname, tablename from pg_publication_tables order by 1"
        ),
        vec!["T pubname,tablename", "D p1|t2", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut s, "select count(*) from pg_publication_rel"),
        vec!["T count", "D 1", "C SELECT 1"]
    );
    let e = err(&mut s, "drop publication nosuch");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::UNDEFINED_OBJECT,
            "publication \"nosuch\" does not exist"
        )
    );
    let log = run(&mut s, "drop publication if exists nosuch, p2");
    assert_eq!(log.last().map(String::as_str), Some("C DROP PUBLICATION"));
    run(&mut s, "drop publication p1, p1");
    assert_eq!(
        run(&mut s, "select count(*) from pg_publication"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
    // Transactional: a rolled-back CREATE leaves nothing.
    run(&mut s, "begin");
    run(&mut s, "create publication px");
    run(&mut s, "rollback");
    assert_eq!(
        run(&mut s, "select count(*) from pg_publication"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
}

#[test]
fn privileges() {
    let f = fixture();
    let mut s = session(&f);
    setup(&mut s);
    run(&mut s, "create role bob login");
    run(&mut s, "create publication padmin");
    let mut bob = Session::new(Arc::clone(&f.engine), info("bob", false), &[]).expect("session");
    let e = err(&mut bob, "create publication pb");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied for database postgres"
        )
    );
    let e = err(&mut bob, "drop publication padmin");
    assert_eq!(e.message, "must be owner of publication padmin");
    let e = err(
        &mut bob,
        "alter publication padmin set (publish = 'insert')",
    );
    assert_eq!(e.message, "must be owner of publication padmin");
    let e = err(&mut bob, "alter publication padmin owner to bob");
    assert_eq!(e.message, "must be owner of publication padmin");
}
