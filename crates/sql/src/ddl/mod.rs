//! DDL: schemas, tables, roles, privileges, sequences, enum types, publications and subscriptions (PostgreSQL's
//! `commands/tablecmds.c`, `commands/user.c`, `commands/sequence.c`,
//! `commands/publicationcmds.c`). Catalog changes go through the
//! session's storage transaction, so DDL inside a transaction block is
//! transactional and invisible to others until COMMIT.

pub(crate) mod check;
pub(crate) mod comment;
pub(crate) mod enum_type;
pub(crate) mod foreign_key;
pub(crate) mod grant;
pub(crate) mod index;
pub(crate) mod publication;
pub(crate) mod role;
pub(crate) mod schema;
pub(crate) mod sequence;
pub(crate) mod subscription;
pub(crate) mod table;
pub(crate) mod table_like;
pub(crate) mod view;

use sqlparser::ast::{ObjectName, ObjectType};
use tandem_expr::ExecContext;
use tandem_types::{PgError, PgResult, SqlState};

use crate::session::Session;

/// `DROP TABLE|INDEX|VIEW|SEQUENCE|TYPE|SCHEMA|ROLE|USER ...`
pub(crate) fn drop(
    s: &mut Session,
    object_type: &ObjectType,
    if_exists: bool,
    names: &[ObjectName],
    cascade: bool,
    text: &str,
) -> PgResult<String> {
    match object_type {
        ObjectType::Table => table::drop(s, names, if_exists, cascade),
        ObjectType::Index => index::drop(s, names, if_exists),
        ObjectType::View => view::drop(s, names, if_exists, cascade),
        ObjectType::Sequence => sequence::drop(s, names, if_exists),
        ObjectType::Type => enum_type::drop(s, names, if_exists, cascade),
        ObjectType::Schema => schema::drop(s, names, if_exists, cascade),
        ObjectType::Role | ObjectType::User => role::drop(s, names, if_exists),
        _ => Err(PgError::unsupported(crate::dispatch::construct_name(text))),
    }
}

/// The start of every `DROP kind a, b, ...` (`verb`: `DROP TABLE`, ...): a
/// write, refused on a standby; the names, each `[schema.]name`.
pub(crate) fn drop_names(
    s: &Session,
    verb: &str,
    names: &[ObjectName],
) -> PgResult<Vec<crate::types::RelName>> {
    s.check_writable(verb)?;
    names.iter().map(crate::types::relation_name).collect()
}

/// Before dropping `name`: when it names a schema that does not exist,
/// `true` (skip it) after PostgreSQL's NOTICE under IF EXISTS, else its
/// error.
pub(crate) fn schema_missing(
    ctx: &mut ExecContext<'_>,
    name: &crate::types::RelName,
    if_exists: bool,
) -> PgResult<bool> {
    let Some(schema) = name.schema.as_deref() else {
        return Ok(false);
    };
    if ctx.txn.catalog().schema_oid(schema).is_some() {
        return Ok(false);
    }
    let message = format!("schema \"{schema}\" does not exist");
    if if_exists {
        ctx.notices.push(skipping(
            SqlState::SUCCESSFUL_COMPLETION,
            format!("{message}, skipping"),
        ));
        return Ok(true);
    }
    Err(PgError::new(SqlState::INVALID_SCHEMA_NAME, message))
}

/// The NOTICE of a DROP ... CASCADE naming what goes with the object
/// (`drop cascades to view v`, or a count and a DETAIL line each).
pub(crate) fn cascade_notice(objects: &[String]) -> PgError {
    match objects {
        [one] => PgError::notice(format!("drop cascades to {one}")),
        many => PgError::notice(format!("drop cascades to {} other objects", many.len()))
            .with_detail(
                many.iter()
                    .map(|o| format!("drop cascades to {o}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
    }
}

/// A token of a view's stored query as the checks on what it names read
/// it: the words of the text folded as identifiers are.
pub(crate) enum QueryToken {
    Word(String),
    Star,
    Period,
    Other,
}

/// The tokens of a stored query (whitespace left out); `None` when the
/// text does not tokenize (the checks then assume the worst).
pub(crate) fn query_tokens(query: &str) -> Option<Vec<QueryToken>> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, query).tokenize().ok()?;
    Some(
        tokens
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .map(|t| match t {
                Token::Word(w) if w.quote_style.is_some() => QueryToken::Word(w.value),
                Token::Word(w) => QueryToken::Word(w.value.to_lowercase()),
                Token::Mul => QueryToken::Star,
                Token::Period => QueryToken::Period,
                _ => QueryToken::Other,
            })
            .collect(),
    )
}

/// The acting role's OID and whether it is a superuser.
pub(crate) fn acting(ctx: &ExecContext<'_>) -> (tandem_types::Oid, bool) {
    let cat = ctx.txn.catalog();
    let me = cat.role_by_name(&ctx.session.user);
    let oid = me
        .map(|r| r.oid)
        .unwrap_or(tandem_types::Oid(ctx.session.user_oid));
    (
        oid,
        ctx.session.superuser || me.is_some_and(|r| r.superuser),
    )
}

/// CREATE on the current database, which `role` needs to make a schema,
/// publication or subscription: superusers, and roles the database's ACL
/// grants it (its owner by default; PUBLIC has only CONNECT and TEMP).
pub(crate) fn check_database_create(
    ctx: &ExecContext<'_>,
    role: tandem_types::Oid,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let superuser = cat.roles.get(&role).is_some_and(|r| r.superuser);
    let database = cat
        .database_by_name(&ctx.session.database)
        .map(|d| d.oid)
        .unwrap_or(tandem_types::Oid(tandem_expr::catalog::DATABASE_OID));
    if superuser || cat.database_aclmask(database, role, tandem_storage::acl::CREATE) != 0 {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for database {}", ctx.session.database),
    ))
}

/// May `me` act as `role` (a superuser, or a member with SET)? Else
/// PostgreSQL's `must be able to SET ROLE "r"` (its `check_can_set_role`:
/// making a role own an object).
pub(crate) fn check_can_set_role(
    cat: &tandem_storage::Catalog,
    me: tandem_types::Oid,
    role: tandem_types::Oid,
) -> PgResult<()> {
    if cat.is_superuser(me) || cat.member_can_set_role(me, role) {
        return Ok(());
    }
    let name = cat.roles.get(&role).map(|r| r.name.as_str()).unwrap_or("");
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("must be able to SET ROLE \"{name}\""),
    ))
}

/// `relation "x" does not exist` (42P01).
pub(crate) fn undefined_relation(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

/// `NOTICE: ... skipping` for IF [NOT] EXISTS.
pub(crate) fn skipping(code: SqlState, message: String) -> PgError {
    PgError {
        code,
        ..PgError::notice(message)
    }
}
