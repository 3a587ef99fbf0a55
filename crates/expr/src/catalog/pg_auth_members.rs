//! `pg_catalog.pg_auth_members`: role memberships with PostgreSQL 16+'s
//! ADMIN, INHERIT and SET options, from the catalog (`tandem_storage::acl`).

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_auth_members",
    oid: 1261,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("roleid", T::Oid),
        ("member", T::Oid),
        ("grantor", T::Oid),
        ("admin_option", T::Bool),
        ("inherit_option", T::Bool),
        ("set_option", T::Bool),
    ]
}

pub fn build(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.auth_members
        .values()
        .map(|m| {
            vec![
                oid(m.oid.0),
                oid(m.role.0),
                oid(m.member.0),
                oid(m.grantor.0),
                b(m.admin),
                b(m.inherit),
                b(m.set),
            ]
        })
        .collect()
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.txn.catalog()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_memberships_are_listed() {
        let cat = tandem_storage::catalog::bootstrap_catalog("postgres", None);
        let rows = build(&cat);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            vec![
                Value::Oid(10226),
                Value::Oid(3374),
                Value::Oid(3373),
                Value::Oid(10),
                Value::Bool(false),
                Value::Bool(true),
                Value::Bool(true)
            ]
        );
        assert!(rows.iter().all(|r| r.len() == columns().len()));
    }
}
