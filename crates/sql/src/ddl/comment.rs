//! `COMMENT ON TABLE | VIEW | INDEX | SEQUENCE | COLUMN | SCHEMA ... IS 'text' | NULL`
//! (PostgreSQL's `commands/comment.c`): the comment is kept in the catalog
//! (`Catalog::comments`) and shown by `pg_description`, `obj_description`
//! and `col_description`, so psql's `+` commands print it.

use sqlparser::ast::{CommentObject, ObjectName};
use tandem_expr::catalog::pkey_index_oid;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::undefined_relation;
use crate::session::Session;
use crate::types::{ident, split_qualified};

/// `pg_class`'s oid: the catalog of relations (and their columns).
pub(crate) const PG_CLASS: u32 = tandem_expr::catalog::PG_CLASS_OID;
/// `pg_namespace`'s oid: the catalog of schemas.
const PG_NAMESPACE: u32 = 2615;

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
        if matches!(object_type, CommentObject::Schema) {
            let name = parts.last().cloned().unwrap_or_default();
            let Some(oid) = cat.schema_oid(&name) else {
                return Err(PgError::new(
                    SqlState::INVALID_SCHEMA_NAME,
                    format!("schema \"{name}\" does not exist"),
                ));
            };
            return ctx.txn.set_comment(oid, PG_NAMESPACE, 0, text);
        }
        // the relation: every part but a column's name
        let rel_parts = match object_type {
            CommentObject::Column if parts.len() < 2 => {
                return Err(PgError::syntax("column name must be qualified"));
            }
            CommentObject::Column => &parts[..parts.len() - 1],
            _ => &parts[..],
        };
        let rel = split_qualified(rel_parts)?;
        let schema = rel.lookup(ctx);
        let relation = |name: &str| -> Option<(Oid, usize)> {
            if let Some(t) = cat.table_by_name(&schema, name) {
                return Some((t.oid, t.columns.len()));
            }
            cat.view_by_name(&schema, name)
                .map(|v| (v.oid, v.columns.len()))
        };
        let last = rel.name.clone();
        let (object, sub) = match object_type {
            CommentObject::Table => match cat.table_by_name(&schema, &last) {
                Some(t) => (t.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a table")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::View => match cat.view_by_name(&schema, &last) {
                Some(v) => (v.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a view")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::Sequence => match cat.sequence_by_name(&schema, &last) {
                Some(q) => (q.oid, 0),
                None if relation(&last).is_some() => return Err(not_a(&last, "a sequence")),
                None => return Err(undefined_relation(&last)),
            },
            CommentObject::Index => {
                let pk_of = cat.tables.values().find(|t| {
                    t.schema == schema && t.primary_key.as_ref().is_some_and(|pk| pk.name == last)
                });
                match (cat.index_by_name(&schema, &last), pk_of) {
                    (Some(i), _) => (i.oid, 0),
                    (None, Some(t)) => (Oid(pkey_index_oid(t.oid.0)), 0),
                    _ if relation(&last).is_some() => return Err(not_a(&last, "an index")),
                    _ => return Err(undefined_relation(&last)),
                }
            }
            CommentObject::Column => {
                let (table, column) = (&last, parts.last().cloned().unwrap_or_default());
                let Some((oid, _)) = relation(table) else {
                    return Err(undefined_relation(table));
                };
                let position = match cat.tables.get(&oid) {
                    Some(t) => t
                        .columns
                        .iter()
                        .position(|c| !c.dropped && c.name == column),
                    None => cat
                        .views
                        .get(&oid)
                        .and_then(|v| v.columns.iter().position(|c| c.0 == column)),
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
