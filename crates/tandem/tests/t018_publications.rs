//! Publications end to end: psql runs CREATE / ALTER / DROP
//! PUBLICATION and reads `pg_publication` / `pg_publication_tables`; the
//! output, errors included, must equal what PostgreSQL 17 prints for the same
//! script (captured below). Publications are catalog state: they survive a
//! clean restart and a SIGKILL (WAL replay, then a checkpoint image).

use std::io::Write;
use std::process::{Command, Stdio};

use tandem_testkit::Node;

const SCRIPT: &str = r#"create table t1(a int primary key, b text);
create table t2(x int);
create publication p1 for table t1;
create publication p1;
create publication p2 for all tables;
create publication p3 for table t1, t2 with (publish = 'insert, update', publish_via_partition_root = true);
create publication p4 for table nosuch;
create publication p4 with (publish = 'foo');
alter publication p1 add table t1;
alter publication p2 add table t1;
alter publication p1 add table t2;
alter publication p1 drop table t2;
alter publication p1 drop table t2;
alter publication p3 set (publish = 'delete');
alter publication p3 rename to p3b;
alter publication nosuch rename to x;
select pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot from pg_publication order by 1;
select * from pg_publication_tables order by 1, 2, 3;
drop table t1;
select * from pg_publication_tables order by 1, 2, 3;
drop publication if exists nosuch, p2;
drop publication nosuch;
select pubname from pg_publication order by 1;
"#;

/// PostgreSQL 17.11's output of `psql -X -a -f - < SCRIPT` (stderr merged).
const EXPECTED: &str = r#"create table t1(a int primary key, b text);
CREATE TABLE
create table t2(x int);
CREATE TABLE
create publication p1 for table t1;
CREATE PUBLICATION
create publication p1;
psql:<stdin>:4: ERROR:  publication "p1" already exists
create publication p2 for all tables;
CREATE PUBLICATION
create publication p3 for table t1, t2 with (publish = 'insert, update', publish_via_partition_root = true);
CREATE PUBLICATION
create publication p4 for table nosuch;
psql:<stdin>:7: ERROR:  relation "nosuch" does not exist
create publication p4 with (publish = 'foo');
psql:<stdin>:8: ERROR:  unrecognized value for publication option "publish": "foo"
alter publication p1 add table t1;
psql:<stdin>:9: ERROR:  relation "t1" is already member of publication "p1"
alter publication p2 add table t1;
psql:<stdin>:10: ERROR:  publication "p2" is defined as FOR ALL TABLES
DETAIL:  Tables cannot be added to or dropped from FOR ALL TABLES publications.
alter publication p1 add table t2;
ALTER PUBLICATION
alter publication p1 drop table t2;
ALTER PUBLICATION
alter publication p1 drop table t2;
psql:<stdin>:13: ERROR:  relation "t2" is not part of the publication
alter publication p3 set (publish = 'delete');
ALTER PUBLICATION
alter publication p3 rename to p3b;
ALTER PUBLICATION
alter publication nosuch rename to x;
psql:<stdin>:16: ERROR:  publication "nosuch" does not exist
select pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot from pg_publication order by 1;
 pubname | puballtables | pubinsert | pubupdate | pubdelete | pubtruncate | pubviaroot 
---------+--------------+-----------+-----------+-----------+-------------+------------
 p1      | f            | t         | t         | t         | t           | f
 p2      | t            | t         | t         | t         | t           | f
 p3b     | f            | f         | f         | t         | f           | t
(3 rows)

select * from pg_publication_tables order by 1, 2, 3;
 pubname | schemaname | tablename | attnames | rowfilter 
---------+------------+-----------+----------+-----------
 p1      | public     | t1        | {a,b}    | 
 p2      | public     | t1        | {a,b}    | 
 p2      | public     | t2        | {x}      | 
 p3b     | public     | t1        | {a,b}    | 
 p3b     | public     | t2        | {x}      | 
(5 rows)

drop table t1;
DROP TABLE
select * from pg_publication_tables order by 1, 2, 3;
 pubname | schemaname | tablename | attnames | rowfilter 
---------+------------+-----------+----------+-----------
 p2      | public     | t2        | {x}      | 
 p3b     | public     | t2        | {x}      | 
(2 rows)

drop publication if exists nosuch, p2;
psql:<stdin>:21: NOTICE:  publication "nosuch" does not exist, skipping
DROP PUBLICATION
drop publication nosuch;
psql:<stdin>:22: ERROR:  publication "nosuch" does not exist
select pubname from pg_publication order by 1;
 pubname 
---------
 p1
 p3b
(2 rows)

"#;

/// `psql -X -a -f -` with the script on stdin, stderr into stdout.
fn psql_script(node: &Node, script: &str) -> String {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "psql -X -a -h 127.0.0.1 -p {} -U postgres -d postgres -f - 2>&1",
            node.port
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn psql");
    child
        .stdin
        .take()
        .expect("psql stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    let out = child.wait_with_output().expect("psql output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CATALOG: &str = "select pubname, puballtables, pubinsert, pubupdate, pubdelete, \
                       pubtruncate, pubviaroot from pg_publication order by 1";
const MEMBERS: &str = "select pubname, tablename from pg_publication_tables order by 1, 2";

#[test]
fn psql_output_matches_postgres() {
    let mut node = Node::init("t018_psql");
    node.start();
    let got = psql_script(&node, SCRIPT);
    assert_eq!(got, EXPECTED);
    node.stop();
}

#[test]
fn publications_survive_restart_and_crash() {
    let mut node = Node::init("t018_durable");
    node.start();
    node.safe_psql(
        "create table a (id int primary key); create table b (id int); \
         create table c (id int); \
         create publication pa for table a, b with (publish = 'insert, delete'); \
         create publication pall for all tables",
    );
    let catalog = node.safe_psql(CATALOG);
    let members = node.safe_psql(MEMBERS);
    assert_eq!(catalog, "pa|f|t|f|t|f|f\npall|t|t|t|t|t|f");
    assert_eq!(members, "pa|a\npa|b\npall|a\npall|b\npall|c");

    node.restart();
    assert_eq!(node.safe_psql(CATALOG), catalog);
    assert_eq!(node.safe_psql(MEMBERS), members);

    // Changes after the last checkpoint come back from WAL after SIGKILL.
    node.safe_psql(
        "alter publication pa drop table b; alter publication pa add table c; \
         alter publication pa set (publish = 'update'); drop table a; \
         create publication pnew; alter publication pnew rename to pnew2",
    );
    let catalog = node.safe_psql(CATALOG);
    let members = node.safe_psql(MEMBERS);
    assert_eq!(
        catalog,
        "pa|f|f|t|f|f|f\npall|t|t|t|t|t|f\npnew2|f|t|t|t|t|f"
    );
    assert_eq!(members, "pa|c\npall|b\npall|c");
    node.kill9();
    node.start();
    assert_eq!(node.safe_psql(CATALOG), catalog);
    assert_eq!(node.safe_psql(MEMBERS), members);

    // And from the checkpoint image after a CHECKPOINT and another crash.
    node.safe_psql("drop publication pall; checkpoint");
    node.kill9();
    node.start();
    assert_eq!(node.safe_psql(CATALOG), "pa|f|f|t|f|f|f\npnew2|f|t|t|t|t|f");
    assert_eq!(node.safe_psql(MEMBERS), "pa|c");
    node.stop();
}
