//! Simple queries run by their shape's plan ([`crate::shapes`]): each answers
//! what its own text means, whatever ran before with the same shape.

use super::{err, fixture, run, session};
use crate::shapes::Known;
use tandem_types::SqlState;

fn planned(s: &crate::Session, key: &str) -> bool {
    matches!(s.shapes.get(key), Some(Known::Plan(_)))
}

#[test]
fn same_shape_with_other_numbers_answers_each_text() {
    let f = fixture();
    let mut s = session(&f);
    run(
        &mut s,
        "create table t (id int primary key, v text, n int8)",
    );
    run(&mut s, "insert into t values (1, 'a', 10)");
    assert_eq!(
        run(&mut s, "insert into t values (2, 'b', 20), (3, 'c', -30)"),
        ["C INSERT 0 2"]
    );
    assert_eq!(
        run(&mut s, "select v from t where id = 1"),
        ["T v", "D a", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut s, "select v from t where id = 2"),
        ["T v", "D b", "C SELECT 1"]
    );
    assert!(planned(&s, "select v from t where id = $1"));
    assert_eq!(
        run(&mut s, "update t set n = n + 5 where id = 3"),
        ["C UPDATE 1"]
    );
    assert_eq!(
        run(&mut s, "update t set n = n + 1 where id = 1"),
        ["C UPDATE 1"]
    );
    assert_eq!(
        run(&mut s, "select id, n from t where id in (1, 3) order by 1"),
        ["T id,n", "D 1|11", "D 3|-25", "C SELECT 2"]
    );
    // Positions stay positions: ORDER BY 2 is not ORDER BY 1.
    assert_eq!(
        run(&mut s, "select id, v from t order by 2 desc limit 1"),
        ["T id,v", "D 3|c", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut s, "select id, n from t order by 2 limit 1"),
        ["T id,n", "D 3|-25", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut s, "select id, n from t order by 1 limit 1"),
        ["T id,n", "D 1|11", "C SELECT 1"]
    );
    // The literal's type and its errors, not a parameter's.
    assert_eq!(
        run(
            &mut s,
            "select id + 1, pg_typeof(id + 1) from t where id = 1"
        ),
        ["T ?column?,pg_typeof", "D 2|integer", "C SELECT 1"]
    );
    let e = err(&mut s, "select id + 2147483647 from t where id = 1");
    assert_eq!(e.code, SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
    assert_eq!(e.message, "integer out of range");
}

#[test]
fn shapes_follow_the_catalog() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int primary key, v text)");
    run(&mut s, "insert into t values (1, 'a')");
    assert_eq!(
        run(&mut s, "select * from t where id = 1"),
        ["T id,v", "D 1|a", "C SELECT 1"]
    );
    run(&mut s, "alter table t add column w int default 7");
    assert_eq!(
        run(&mut s, "select * from t where id = 1"),
        ["T id,v,w", "D 1|a|7", "C SELECT 1"]
    );
    // Fails to plan while the table is missing; plans once it exists.
    let e = err(&mut s, "select x from u where x = 1");
    assert_eq!(e.code, SqlState::UNDEFINED_TABLE);
    let e = err(&mut s, "select x from u where x = 2");
    assert_eq!(e.code, SqlState::UNDEFINED_TABLE);
    assert!(!planned(&s, "select x from u where x = $1"));
    run(&mut s, "create table u (x int)");
    run(&mut s, "insert into u values (2)");
    assert_eq!(
        run(&mut s, "select x from u where x = 2"),
        ["T x", "D 2", "C SELECT 1"]
    );
    assert!(planned(&s, "select x from u where x = $1"));
    run(&mut s, "drop table u");
    run(&mut s, "create table u (x text)");
    run(&mut s, "insert into u values ('2')");
    // Re-planned against the new table: text = integer has no operator.
    let e = err(&mut s, "select x from u where x = 2");
    assert_eq!(e.code, SqlState::UNDEFINED_FUNCTION);
}

#[test]
fn a_failed_block_refuses_shaped_statements_too() {
    let f = fixture();
    let mut s = session(&f);
    run(&mut s, "create table t (id int primary key)");
    run(&mut s, "select id from t where id = 1");
    assert!(planned(&s, "select id from t where id = $1"));
    run(&mut s, "begin");
    err(&mut s, "select * from missing");
    let e = err(&mut s, "select id from t where id = 2");
    assert_eq!(e.code, SqlState::IN_FAILED_SQL_TRANSACTION);
    assert_eq!(run(&mut s, "rollback"), ["C ROLLBACK"]);
    assert_eq!(
        run(&mut s, "select id from t where id = 3"),
        ["T id", "C SELECT 0"]
    );
}
