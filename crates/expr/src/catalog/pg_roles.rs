//! Roles: `pg_catalog.pg_authid` (superusers only, with the SCRAM verifier),
//! `pg_roles` (password masked as `********`) and `pg_user` (login roles).

use tandem_storage::Catalog;
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::*;

use DataType as T;

pub static PG_AUTHID: View = View {
    schema: "pg_catalog",
    name: "pg_authid",
    oid: 1260,
    relkind: b'r',
    columns: authid_cols,
    rows: authid_rows,
};
pub static PG_ROLES: View = View {
    schema: "pg_catalog",
    name: "pg_roles",
    oid: 12_001,
    relkind: b'v',
    columns: roles_cols,
    rows: roles_rows,
};
pub static PG_USER: View = View {
    schema: "pg_catalog",
    name: "pg_user",
    oid: 12_002,
    relkind: b'v',
    columns: user_cols,
    rows: user_rows,
};

const MASK: &str = "********";

fn authid_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("rolname", T::Name),
        ("rolsuper", T::Bool),
        ("rolinherit", T::Bool),
        ("rolcreaterole", T::Bool),
        ("rolcreatedb", T::Bool),
        ("rolcanlogin", T::Bool),
        ("rolreplication", T::Bool),
        ("rolbypassrls", T::Bool),
        ("rolconnlimit", T::Int4),
        ("rolpassword", T::Text),
        ("rolvaliduntil", T::TimestampTz),
    ]
}

fn roles_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("rolname", T::Name),
        ("rolsuper", T::Bool),
        ("rolinherit", T::Bool),
        ("rolcreaterole", T::Bool),
        ("rolcreatedb", T::Bool),
        ("rolcanlogin", T::Bool),
        ("rolreplication", T::Bool),
        ("rolconnlimit", T::Int4),
        ("rolpassword", T::Text),
        ("rolvaliduntil", T::TimestampTz),
        ("rolbypassrls", T::Bool),
        ("rolconfig", T::Array(Box::new(T::Text))),
        ("oid", T::Oid),
    ]
}

fn user_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("usename", T::Name),
        ("usesysid", T::Oid),
        ("usecreatedb", T::Bool),
        ("usesuper", T::Bool),
        ("userepl", T::Bool),
        ("usebypassrls", T::Bool),
        ("passwd", T::Text),
        ("valuntil", T::TimestampTz),
        ("useconfig", T::Array(Box::new(T::Text))),
    ]
}

pub fn build_authid(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.roles
        .values()
        .map(|r| {
            vec![
                oid(r.oid.0),
                name(&r.name),
                b(r.superuser),
                b(r.inherit),
                b(r.createrole),
                b(r.createdb),
                b(r.login),
                b(r.replication),
                b(r.bypassrls),
                i4(r.connection_limit),
                opt_text(r.password.as_deref()),
                Value::Null,
            ]
        })
        .collect()
}

pub fn build_roles(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.roles
        .values()
        .map(|r| {
            vec![
                name(&r.name),
                b(r.superuser),
                b(r.inherit),
                b(r.createrole),
                b(r.createdb),
                b(r.login),
                b(r.replication),
                i4(r.connection_limit),
                text(MASK),
                Value::Null,
                b(r.bypassrls),
                Value::Null,
                oid(r.oid.0),
            ]
        })
        .collect()
}

pub fn build_user(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.roles
        .values()
        .filter(|r| r.login)
        .map(|r| {
            vec![
                name(&r.name),
                oid(r.oid.0),
                b(r.createdb),
                b(r.superuser),
                b(r.replication),
                b(r.bypassrls),
                text(MASK),
                Value::Null,
                Value::Null,
            ]
        })
        .collect()
}

fn authid_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    if !ctx.session.superuser {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied for table pg_authid",
        ));
    }
    Ok(build_authid(&ctx.txn.catalog()))
}

fn roles_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_roles(&ctx.txn.catalog()))
}

fn user_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_user(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_outside_pg_authid() {
        let cat = testing::sample();
        assert_eq!(build_roles(&cat)[0][8], Value::Text("********".into()));
        assert_eq!(build_user(&cat)[0][6], Value::Text("********".into()));
        assert_eq!(
            build_authid(&cat)[0][10],
            Value::Text("SCRAM-SHA-256$4096:x$y:z".into())
        );
        assert_eq!(build_roles(&cat)[0].len(), roles_cols().len());
    }
}
