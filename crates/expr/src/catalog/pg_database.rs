//! `pg_catalog.pg_database`: `postgres` (the database tandem serves, or the
//! session's database name), `template1` and `template0`.

use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static VIEW: View = View {
    schema: "pg_catalog",
    name: "pg_database",
    oid: 1262,
    relkind: b'r',
    columns,
    rows,
};

fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("datname", T::Name),
        ("datdba", T::Oid),
        ("encoding", T::Int4),
        ("datlocprovider", T::Char),
        ("datistemplate", T::Bool),
        ("datallowconn", T::Bool),
        ("dathasloginevt", T::Bool),
        ("datconnlimit", T::Int4),
        ("datfrozenxid", T::Xid),
        ("datminmxid", T::Xid),
        ("dattablespace", T::Oid),
        ("datcollate", T::Text),
        ("datctype", T::Text),
        ("datlocale", T::Text),
        ("daticurules", T::Text),
        ("datcollversion", T::Text),
        ("datacl", T::Array(Box::new(T::Text))),
    ]
}

fn db_row(o: u32, n: &str, template: bool, allow: bool, acl: Value) -> Vec<Value> {
    vec![
        oid(o),
        name(n),
        oid(BOOTSTRAP_SUPERUSER),
        i4(6),
        ch(b'c'),
        b(template),
        b(allow),
        b(false),
        i4(-1),
        Value::Xid(3),
        Value::Xid(1),
        oid(DEFAULT_TABLESPACE),
        text("C.UTF-8"),
        text("C.UTF-8"),
        Value::Null,
        Value::Null,
        Value::Null,
        acl,
    ]
}

pub fn build(session_db: &str, cat: &tandem_storage::Catalog) -> Vec<Vec<Value>> {
    let acl = |o: u32| acl_value(cat, tandem_types::Oid(o));
    let mut out = vec![db_row(
        DATABASE_OID,
        "postgres",
        false,
        true,
        acl(DATABASE_OID),
    )];
    if session_db != "postgres" && session_db != "template1" && session_db != "template0" {
        out.push(db_row(16_383, session_db, false, true, Value::Null));
    }
    // initdb's grants on the templates: everyone CONNECT, the owner all
    let template_acl = |o: u32| match acl(o) {
        Value::Null => {
            let owner = role_name(cat, BOOTSTRAP_SUPERUSER);
            Value::Array(vec![
                text(&format!("=c/{owner}")),
                text(&format!("{owner}=CTc/{owner}")),
            ])
        }
        set => set,
    };
    out.push(db_row(1, "template1", true, true, template_acl(1)));
    out.push(db_row(4, "template0", true, false, template_acl(4)));
    out
}

fn rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build(&ctx.session.database, &ctx.txn.catalog()))
}
