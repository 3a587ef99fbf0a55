//! `COMMENT ON TABLE | VIEW | INDEX | SEQUENCE | COLUMN ... IS 'text' | NULL`
//! (PostgreSQL's `commands/comment.c`): the comment is kept in the catalog
//! (`Catalog::comments`) and shown by `pg_description`, `obj_description`
//! and `col_description`, so psql's `+` commands print it.

use sqlparser::ast::{CommentObject, ObjectName};
use tandem_expr::catalog::pkey_index_oid;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::undefined_relation;
use crate::session::Session;
use crate::types::ident;

/// `pg_class`'s oid: the catalog of relations (and their columns).
pub(crate) const PG_CLASS: u32 = tandem_expr::catalog::PG_CLASS_OID;

fn not_a(name: &str, what: &str) -> PgError {
    PgError::new(
        SqlState::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not {what}"),
    )
}

pub(crate) fn comment(
    s: &mut Session,
    object_type: &CommentObject,
    object_name: &ObjectName,
    comment: &Option<String>,
) -> PgResult<String> {
    s.check_writable("COMMENT")?;
    let parts: Vec<String> = object_name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(ident))
        .collect();
    // an empty comment removes it, as NULL does
    let text = comment.clone().filter(|t| !t.is_empty());
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let relation = |name: &str| -> Option<(Oid, usize)> {
            if let Some(t) = cat.table_by_name("public", name) {
                return Some((t.oid, t.columns.len()));
            }
            cat.view_by_name("public", name)
                .map(|v| (v.oid, v.columns.len()))
        };
        let last = parts.last().cloned().unwrap_or_default();
        let (object, sub) = match object_type {
            CommentObject::Table => match cat.table_by_name("public", &last) {
                Some(t) => (t.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a table")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::View => match cat.view_by_name("public", &last) {
                Some(v) => (v.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a view")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::Sequence => match cat.sequence_by_name("public", &last) {
                Some(q) => (q.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a sequence")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::Index => {
                let pk_of = cat
                    .tables
                    .values()
                    .find(|t| t.primary_key.as_ref().is_some_and(|pk| pk.name == last));
                match (cat.index_by_name("public", &last), pk_of) {
                    (Some(i), _) => (i.oid, 0),
                    (None, Some(t)) => (Oid(pkey_index_oid(t.oid.0)), 0),
                    _ if relation(&last).is_some() => return Err(not_a(&last, "an index")),
                    _ => return Err(undefined_relation(&last)),
                }
            }
            CommentObject::Column => {
                let [.., table, column] = parts.as_slice() else {
                    return Err(PgError::syntax("column name must be qualified"));
                };
                let Some((oid, _)) = relation(table) else {
                    return Err(undefined_relation(table));
                };
                let position = match cat.tables.get(&oid) {
                    Some(t) => t
                        .columns
                        .iter()
                        .position(|c| !c.dropped && &c.name == column),
                    None => cat
                        .views
                        .get(&oid)
                        .and_then(|v| v.columns.iter().position(|c| &c.0 == column)),
                };
                let Some(position) = position else {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{column}\" of relation \"{table}\" does not exist"),
                    ));
                };
                (oid, position as i32 + 1)
            }
            _ => return Err(PgError::unsupported(format!("COMMENT ON {object_type}"))),
        };
        ctx.txn.set_comment(object, PG_CLASS, sub, text)
    })?;
    Ok("COMMENT".into())
}
