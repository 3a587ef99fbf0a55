//! Access privilege inquiry functions: `has_table_privilege`,
//! `has_schema_privilege`, `has_database_privilege` and `pg_has_role`, each
//! with an optional leading user (name or OID; the session user otherwise),
//! answering from the catalog's ACLs and role memberships
//! (`tandem_storage::acl`). Other `has_*_privilege` functions stay in `info.rs`.
//!
//! A privilege string is a comma-separated list of privilege names, each
//! optionally followed by `WITH GRANT OPTION` (`WITH ADMIN OPTION` for
//! roles); the answer is true if the user holds any of them. Corresponds to
//! PostgreSQL's `utils/adt/acl.c` (`has_table_privilege_*`,
//! `convert_any_priv_string`, `pg_role_aclcheck`).

use tandem_storage::acl::{self, grant_option_for, AclMode};
use tandem_storage::Catalog;
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use super::{arg_i64, arg_text, r, Arg, Def, FunctionSig};
use crate::reg::{lookup_relation, RelKind};
use crate::ExecContext;

type Check = fn(&[Value], &FunctionSig, &mut ExecContext<'_>) -> PgResult<Value>;

pub(super) fn defs() -> Vec<Def> {
    let mut d = Vec::new();
    let funcs: [(&'static str, Check); 4] = [
        ("has_table_privilege", table_privilege),
        ("has_schema_privilege", schema_privilege),
        ("has_database_privilege", database_privilege),
        ("pg_has_role", role_privilege),
    ];
    for (name, f) in funcs {
        d.push(Def::ctx(
            name,
            vec![Arg::Any, Arg::Any],
            r(DataType::Bool),
            f,
        ));
        d.push(Def::ctx(
            name,
            vec![Arg::Any, Arg::Any, Arg::Any],
            r(DataType::Bool),
            f,
        ));
    }
    d
}

/// An argument naming an object: its text, or its OID.
enum Named {
    Name(String),
    Oid(u32),
}

fn named(args: &[Value], i: usize) -> PgResult<Named> {
    Ok(match args.get(i) {
        Some(Value::Text(s)) => Named::Name(s.clone()),
        Some(Value::Oid(o)) => Named::Oid(*o),
        _ => Named::Oid(arg_i64(args, i)? as u32),
    })
}

/// The user (first of three arguments) and the remaining argument index.
fn user_and_rest(args: &[Value], cat: &Catalog, ctx: &ExecContext<'_>) -> PgResult<(Oid, usize)> {
    if args.len() < 3 {
        return Ok((Oid(ctx.session.user_oid), 0));
    }
    let user = match named(args, 0)? {
        Named::Name(n) => cat.role_by_name(&n).map(|r| r.oid).ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("role \"{n}\" does not exist"),
            )
        })?,
        Named::Oid(o) => Oid(o),
    };
    Ok((user, 1))
}

/// Parses a privilege string against the names an object kind accepts
/// (`convert_any_priv_string`); `grant_word` is GRANT (or ADMIN for roles).
fn privilege_string(
    text: &str,
    allowed: &[(&str, AclMode)],
    grant_word: &str,
) -> PgResult<AclMode> {
    let mut mask = 0;
    for part in text.split(',') {
        let p = part.trim().to_lowercase();
        let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
        let suffix = format!(" with {grant_word} option");
        let (name, goption) = match p.strip_suffix(&suffix) {
            Some(n) => (n.to_string(), true),
            None => (p.clone(), false),
        };
        let bit = allowed
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                PgError::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("unrecognized privilege type: \"{}\"", part.trim()),
                )
            })?;
        mask |= if goption { grant_option_for(bit) } else { bit };
    }
    Ok(mask)
}

const TABLE_PRIVS: &[(&str, AclMode)] = &[
    ("select", acl::SELECT),
    ("insert", acl::INSERT),
    ("update", acl::UPDATE),
    ("delete", acl::DELETE),
    ("truncate", acl::TRUNCATE),
    ("references", acl::REFERENCES),
    ("trigger", acl::TRIGGER),
    ("maintain", acl::MAINTAIN),
];

fn table_privilege(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let (user, i) = user_and_rest(a, &cat, c)?;
    let mask = privilege_string(&arg_text(a, i + 1), TABLE_PRIVS, "grant")?;
    let (oid, kind) = match named(a, i)? {
        Named::Name(n) => lookup_relation(&n, &cat, &crate::reg::session_search_path(c))
            .ok_or_else(|| {
                PgError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{n}\" does not exist"),
                )
            })?,
        Named::Oid(o) => {
            if cat.tables.contains_key(&Oid(o)) {
                (o, RelKind::Table)
            } else if cat.sequences.contains_key(&Oid(o)) {
                (o, RelKind::Sequence)
            } else if crate::catalog::view_by_oid(o).is_some() {
                (o, RelKind::View)
            } else {
                return Ok(Value::Null);
            }
        }
    };
    let held = match kind {
        RelKind::Table => cat.table_aclmask(Oid(oid), user, mask),
        // System catalogs and views: SELECT for PUBLIC, the rest for
        // superusers. Sequences and indexes have no ACLs yet.
        RelKind::View if !cat.is_superuser(user) => mask & acl::SELECT,
        _ => mask,
    };
    Ok(Value::Bool(held != 0))
}

fn schema_privilege(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let (user, i) = user_and_rest(a, &cat, c)?;
    let mask = privilege_string(
        &arg_text(a, i + 1),
        &[("usage", acl::USAGE), ("create", acl::CREATE)],
        "grant",
    )?;
    let (schema, oid) = match named(a, i)? {
        Named::Name(n) => match crate::catalog::namespace_oid(&cat, &n) {
            Some(o) => (n, o),
            None => {
                return Err(PgError::new(
                    SqlState::INVALID_SCHEMA_NAME,
                    format!("schema \"{n}\" does not exist"),
                ))
            }
        },
        Named::Oid(o) => match crate::catalog::namespace_name(&cat, o) {
            Some(s) => (s, o),
            None => return Ok(Value::Null),
        },
    };
    // PostgreSQL 15+: `public` belongs to pg_database_owner (USAGE for
    // PUBLIC, CREATE for the database owner); the others answer by their
    // ACL (the system schemas grant USAGE to PUBLIC)
    let db_owner = cat
        .databases
        .get(&tandem_storage::catalog::POSTGRES_DB_OID)
        .map(|d| d.owner)
        .unwrap_or(tandem_storage::catalog::BOOTSTRAP_SUPERUSER_OID);
    let held = if schema == "public" && cat.has_privs_of_role(user, db_owner) {
        mask
    } else {
        cat.schema_aclmask(Oid(oid), user, mask)
    };
    Ok(Value::Bool(held != 0))
}

fn database_privilege(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let (user, i) = user_and_rest(a, &cat, c)?;
    let mask = privilege_string(
        &arg_text(a, i + 1),
        &[
            ("create", acl::CREATE),
            ("temporary", acl::CREATE_TEMP),
            ("temp", acl::CREATE_TEMP),
            ("connect", acl::CONNECT),
        ],
        "grant",
    )?;
    let db = match named(a, i)? {
        Named::Name(n) => cat.database_by_name(&n).map(|d| d.oid).ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_DATABASE,
                format!("database \"{n}\" does not exist"),
            )
        })?,
        Named::Oid(o) if cat.databases.contains_key(&Oid(o)) => Oid(o),
        Named::Oid(_) => return Ok(Value::Null),
    };
    Ok(Value::Bool(cat.database_aclmask(db, user, mask) != 0))
}

fn role_privilege(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let (user, i) = user_and_rest(a, &cat, c)?;
    // MEMBER is ACL_CREATE in PostgreSQL's encoding.
    let mask = privilege_string(
        &arg_text(a, i + 1),
        &[
            ("member", acl::CREATE),
            ("usage", acl::USAGE),
            ("set", acl::SET),
        ],
        "admin",
    )
    .or_else(|_| {
        privilege_string(
            &arg_text(a, i + 1),
            &[
                ("member", acl::CREATE),
                ("usage", acl::USAGE),
                ("set", acl::SET),
            ],
            "grant",
        )
    })?;
    let role = match named(a, i)? {
        Named::Name(n) => cat.role_by_name(&n).map(|r| r.oid).ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("role \"{n}\" does not exist"),
            )
        })?,
        Named::Oid(o) => Oid(o),
    };
    Ok(Value::Bool(role_aclcheck(&cat, user, role, mask)))
}

/// `pg_role_aclcheck`: ADMIN for any grant option, then MEMBER, USAGE, SET.
fn role_aclcheck(cat: &Catalog, user: Oid, role: Oid, mask: AclMode) -> bool {
    let options = grant_option_for(acl::CREATE | acl::USAGE | acl::SET);
    (mask & options != 0 && cat.is_admin_of_role(user, role))
        || (mask & acl::CREATE != 0 && cat.is_member_of_role(user, role))
        || (mask & acl::USAGE != 0 && cat.has_privs_of_role(user, role))
        || (mask & acl::SET != 0 && cat.member_can_set_role(user, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_strings_parse_like_postgres() {
        assert_eq!(
            privilege_string("SELECT, insert WITH GRANT OPTION", TABLE_PRIVS, "grant").unwrap(),
            acl::SELECT | grant_option_for(acl::INSERT)
        );
        let e = privilege_string("bogus", TABLE_PRIVS, "grant").unwrap_err();
        assert_eq!(e.message, "unrecognized privilege type: \"bogus\"");
        assert_eq!(e.code, SqlState::INVALID_PARAMETER_VALUE);
    }
}
