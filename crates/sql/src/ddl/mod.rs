//! DDL: tables, roles, privileges, sequences, enum types, publications and subscriptions (PostgreSQL's
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
pub(crate) mod sequence;
pub(crate) mod subscription;
pub(crate) mod table;
pub(crate) mod view;

use sqlparser::ast::{ObjectName, ObjectType};
use tandem_types::{PgError, PgResult, SqlState};

use crate::session::Session;

/// `DROP TABLE|INDEX|VIEW|SEQUENCE|TYPE|ROLE|USER ...`
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
        ObjectType::Role | ObjectType::User => role::drop(s, names, if_exists),
        _ => Err(PgError::unsupported(crate::dispatch::construct_name(text))),
    }
}

/// The start of every `DROP kind a, b, ...` (`verb`: `DROP TABLE`, ...): a
/// write, refused on a standby; the names, each `[public.]name`.
pub(crate) fn drop_names(s: &Session, verb: &str, names: &[ObjectName]) -> PgResult<Vec<String>> {
    s.check_writable(verb)?;
    names.iter().map(crate::types::relation_name).collect()
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
