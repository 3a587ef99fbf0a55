//! GRANT / REVOKE and the privilege checks, as PostgreSQL 17 answers them:
//! command tags, `aclitem` text, 42501 refusals, warnings for grants that
//! grant nothing, role membership with ADMIN OPTION and INHERIT.

use super::*;

/// A session as `user` (its OID looked up in the catalog).
fn session_as(f: &Fixture, user: &str) -> Session {
    let cat = f.engine.db.catalog();
    let role = cat.role_by_name(user).expect("role");
    let mut i = info(user, role.superuser);
    i.user_oid = role.oid.0;
    Session::new(Arc::clone(&f.engine), i, &[]).expect("session")
}

fn relacl(s: &mut Session, table: &str) -> Vec<String> {
    run(
        s,
        &format!("select relacl from pg_class where relname = '{table}'"),
    )
}

#[test]
fn table_privileges_are_checked_and_granted() {
    let f = fixture();
    let mut su = session(&f);
    run(&mut su, "create role bob login");
    run(&mut su, "create table t (a int primary key, b text)");
    run(&mut su, "insert into t values (1, 'x')");
    let mut bob = session_as(&f, "bob");
    for sql in [
        "select * from t",
        "insert into t values (2, 'y')",
        "update t set b = 'z'",
        "delete from t",
        "truncate t",
        "copy t to stdout",
        "copy t from stdin",
    ] {
        let e = err(&mut bob, sql);
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::INSUFFICIENT_PRIVILEGE,
                "permission denied for table t"
            ),
            "{sql}"
        );
    }
    assert_eq!(
        run(&mut su, "grant select, insert on table t to bob"),
        vec!["C GRANT"]
    );
    assert_eq!(
        relacl(&mut su, "t")[1],
        "D {postgres=arwdDxtm/postgres,bob=ar/postgres}"
    );
    assert_eq!(
        run(&mut bob, "select b from t"),
        vec!["T b", "D x", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut bob, "insert into t values (2, 'y')"),
        vec!["C INSERT 0 1"]
    );
    // UPDATE without reading a column needs only UPDATE; with WHERE, SELECT too.
    run(&mut su, "revoke select on t from bob");
    run(&mut su, "grant update on t to bob");
    assert_eq!(run(&mut bob, "update t set b = 'u'"), vec!["C UPDATE 2"]);
    assert_eq!(
        err(&mut bob, "update t set b = 'v' where a = 1").message,
        "permission denied for table t"
    );
    assert_eq!(
        run(&mut bob, "select has_table_privilege('t', 'select'), has_table_privilege('t', 'SELECT, update'), has_table_privilege('postgres', 't', 'delete')"),
        vec!["T has_table_privilege,has_table_privilege,has_table_privilege", "D f|t|t", "C SELECT 1"]
    );
    // Non-owners cannot grant without a grant option, nor alter or drop.
    run(&mut su, "create role carol");
    // (bob holds some privileges on t, so PostgreSQL only warns)
    assert_eq!(
        run(&mut bob, "grant delete on t to carol"),
        vec![
            "N WARNING 01007 no privileges were granted for \"t\"",
            "C GRANT"
        ]
    );
    run(&mut su, "create table v (a int)");
    assert_eq!(
        err(&mut bob, "grant delete on v to carol").message,
        "permission denied for table v"
    );
    assert_eq!(
        err(&mut bob, "drop table t").message,
        "must be owner of table t"
    );
    // Grants to PUBLIC, REVOKE ALL, and the text of the ACL.
    run(&mut su, "grant all on t to public");
    run(&mut su, "revoke all on t from bob");
    assert_eq!(
        relacl(&mut su, "t")[1],
        "D {postgres=arwdDxtm/postgres,=arwdDxtm/postgres}"
    );
    assert_eq!(
        run(&mut bob, "delete from t where a = 2"),
        vec!["C DELETE 1"]
    );
}

#[test]
fn grant_options_warnings_and_cascade() {
    let f = fixture();
    let mut su = session(&f);
    run(
        &mut su,
        "create role bob; create role carol; create table u (a int)",
    );
    run(&mut su, "grant select on u to bob with grant option");
    let mut bob = session_as(&f, "bob");
    assert_eq!(run(&mut bob, "grant select on u to carol"), vec!["C GRANT"]);
    assert_eq!(
        run(&mut bob, "grant insert on u to carol"),
        vec![
            "N WARNING 01007 no privileges were granted for \"u\"",
            "C GRANT"
        ]
    );
    assert_eq!(
        run(&mut bob, "grant select, insert on u to carol"),
        vec![
            "N WARNING 01007 not all privileges were granted for \"u\"",
            "C GRANT"
        ]
    );
    assert_eq!(
        relacl(&mut su, "u")[1],
        "D {postgres=arwdDxtm/postgres,bob=r*/postgres,carol=r/bob}"
    );
    let e = err(&mut su, "revoke grant option for select on u from bob");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("2BP01", "dependent privileges exist")
    );
    run(
        &mut su,
        "revoke grant option for select on u from bob cascade",
    );
    assert_eq!(
        relacl(&mut su, "u")[1],
        "D {postgres=arwdDxtm/postgres,bob=r/postgres}"
    );
    let e = err(&mut su, "grant foo on u to bob");
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            SqlState::SYNTAX_ERROR,
            "unrecognized privilege type \"foo\""
        )
    );
    assert_eq!(
        err(&mut su, "grant select on u to nobody").message,
        "role \"nobody\" does not exist"
    );
    // The owner changes; the ACL follows.
    assert_eq!(
        run(&mut su, "alter table u owner to carol"),
        vec!["C ALTER TABLE"]
    );
    assert_eq!(
        relacl(&mut su, "u")[1],
        "D {carol=arwdDxtm/carol,bob=r/carol}"
    );
    let e = err(&mut su, "drop role bob");
    assert_eq!(e.detail.as_deref(), Some("privileges for table u"));
}

#[test]
fn role_membership_admin_and_inherit() {
    let f = fixture();
    let mut su = session(&f);
    run(
        &mut su,
        "create role bob; create role grp; create role carol; create table g (a int)",
    );
    run(&mut su, "grant select on g to grp");
    assert_eq!(run(&mut su, "grant grp to bob"), vec!["C GRANT ROLE"]);
    assert_eq!(
        run(&mut su, "grant grp to bob"),
        vec![
            "N NOTICE 00000 role \"bob\" has already been granted membership in role \"grp\" by role \"postgres\"",
            "C GRANT ROLE"
        ]
    );
    let e = err(&mut su, "grant bob to grp");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("0LP01", "role \"bob\" is a member of role \"grp\"")
    );
    let mut bob = session_as(&f, "bob");
    assert_eq!(
        run(&mut bob, "select count(*) from g"),
        vec!["T count", "D 0", "C SELECT 1"]
    );
    assert_eq!(
        run(&mut bob, "select pg_has_role('grp', 'member'), pg_has_role('grp', 'usage'), pg_has_role('grp', 'member with admin option')"),
        vec!["T pg_has_role,pg_has_role,pg_has_role", "D t|t|f", "C SELECT 1"]
    );
    let e = err(&mut bob, "grant grp to carol");
    assert_eq!(e.message, "permission denied to grant role \"grp\"");
    assert_eq!(
        e.detail.as_deref(),
        Some("Only roles with the ADMIN option on role \"grp\" may grant this role.")
    );
    // Without INHERIT the privileges do not flow.
    run(&mut su, "grant grp to bob with inherit false");
    assert_eq!(
        err(&mut bob, "select * from g").message,
        "permission denied for table g"
    );
    run(&mut su, "grant grp to bob with admin option, inherit true");
    assert_eq!(run(&mut bob, "grant grp to carol"), vec!["C GRANT ROLE"]);
    assert_eq!(
        run(&mut su, "select r.rolname, m.rolname, g.rolname, admin_option, inherit_option, set_option from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member join pg_roles g on g.oid = a.grantor where r.rolname = 'grp' order by 2"),
        vec![
            "T rolname,rolname,rolname,admin_option,inherit_option,set_option",
            "D grp|bob|postgres|t|t|t",
            "D grp|carol|bob|f|t|t",
            "C SELECT 2"
        ]
    );
    assert_eq!(
        err(&mut su, "revoke admin option for grp from bob").message,
        "dependent privileges exist"
    );
    assert_eq!(
        run(&mut su, "revoke grp from bob cascade"),
        vec!["C REVOKE ROLE"]
    );
    assert_eq!(
        run(&mut su, "revoke grp from bob"),
        vec![
            "N WARNING 01000 role \"bob\" has not been granted membership in role \"grp\" by role \"postgres\"",
            "C REVOKE ROLE"
        ]
    );
    assert_eq!(
        run(&mut su, "select rolname from pg_roles where oid = 6304"),
        vec!["T rolname", "D pg_create_subscription", "C SELECT 1"]
    );
}
