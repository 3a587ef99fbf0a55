//! Views: CREATE [OR REPLACE] VIEW, DROP VIEW, and the dependencies that
//! keep a relation a view reads (or a foreign key references) from being
//! dropped (PostgreSQL's `commands/view.c` and the dependency errors of
//! `catalog/dependency.c`).
//!
//! A view is its SELECT as written plus its output columns
//! (`tandem_storage::ViewDef`); the binder reads it in place of a relation
//! (`tandem_query`'s `bind/select.rs`).

use sqlparser::ast::{CreateView, ObjectName};
use tandem_expr::ExecContext;
use tandem_storage::{Catalog, ViewDef};
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState};

use super::foreign_key::{describe_constraint, has_dependents};
use super::sequence::{duplicate_relation, relation_exists};
use super::skipping;
use crate::session::Session;
use crate::types::{ident, relation_name};

fn view_column_error(message: String) -> PgError {
    PgError::new(SqlState::INVALID_TABLE_DEFINITION, message)
}

pub(crate) fn create(s: &mut Session, cv: &CreateView) -> PgResult<String> {
    s.check_writable("CREATE VIEW")?;
    if cv.materialized {
        return Err(PgError::unsupported("CREATE MATERIALIZED VIEW"));
    }
    if cv.temporary {
        return Err(PgError::unsupported("temporary views"));
    }
    let rel = relation_name(&cv.name)?;
    s.with_ctx(&[], |ctx| {
        let schema = rel.create_in(ctx)?;
        let name = rel.name.clone();
        let (cols, deps) = tandem_query::describe_query(&cv.query, ctx)?;
        if cv.columns.len() > cols.len() {
            return Err(PgError::syntax(
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        let mut columns: Vec<(String, DataType)> = cols
            .into_iter()
            .map(|c| {
                // a constant of no type yet is text, as PostgreSQL makes it
                let ty = match c.data_type {
                    DataType::Unknown => DataType::Text,
                    t => t,
                };
                (c.name, ty)
            })
            .collect();
        for (c, n) in columns.iter_mut().zip(&cv.columns) {
            c.0 = ident(&n.name);
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|o| o.0 == c.0) {
                return Err(PgError::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{}\" specified more than once", c.0),
                ));
            }
        }
        let cat = ctx.txn.catalog();
        let oid = match cat.view_by_name(&schema, &name) {
            Some(old) if cv.or_replace => {
                super::table::check_owner_of(ctx, old.owner, &name)?;
                replaceable(old, &columns)?;
                old.oid
            }
            _ if relation_exists(ctx, &schema, &name) => return Err(duplicate_relation(&name)),
            _ => {
                super::enum_type::check_row_type_free(ctx, &schema, &name)?;
                ctx.txn.allocate_oid()
            }
        };
        let mut depends_on = deps;
        depends_on.retain(|&d| d != oid);
        depends_on.sort_unstable();
        depends_on.dedup();
        ctx.txn.put_view(ViewDef {
            oid,
            schema,
            name: name.clone(),
            query: cv.query.to_string(),
            columns,
            depends_on,
            owner: Oid(ctx.session.user_oid),
        })
    })?;
    Ok("CREATE VIEW".into())
}

/// CREATE OR REPLACE VIEW may add columns at the end, not drop, rename or
/// retype the ones there.
fn replaceable(old: &ViewDef, new: &[(String, DataType)]) -> PgResult<()> {
    if new.len() < old.columns.len() {
        return Err(view_column_error("cannot drop columns from view".into()));
    }
    for ((on, ot), (nn, nt)) in old.columns.iter().zip(new) {
        if on != nn {
            return Err(view_column_error(format!(
                "cannot change name of view column \"{on}\" to \"{nn}\""
            ))
            .with_hint(
                "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.",
            ));
        }
        if ot != nt {
            return Err(view_column_error(format!(
                "cannot change data type of view column \"{on}\" from {} to {}",
                ot.display_name(),
                nt.display_name()
            )));
        }
    }
    Ok(())
}

/// `"x" is not a view` / `"x" is not a table`, with the DROP to use.
pub(crate) fn wrong_kind(name: &str, wanted: &str, instead: &str) -> PgError {
    PgError::new(
        SqlState::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not a {wanted}"),
    )
    .with_hint(format!(
        "Use DROP {instead} to remove a {}.",
        instead.to_lowercase()
    ))
}

/// `DROP VIEW [IF EXISTS] a, b [CASCADE]`.
pub(crate) fn drop(
    s: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> PgResult<String> {
    let names = super::drop_names(s, "DROP VIEW", names)?;
    s.with_ctx(&[], |ctx| {
        let mut oids = Vec::new();
        for rel in &names {
            if super::schema_missing(ctx, rel, if_exists)? {
                continue;
            }
            let name = &rel.name;
            match rel.view(ctx) {
                Some(v) => {
                    super::table::check_owner_of(ctx, v.owner, &v.name)?;
                    oids.push(v.oid);
                }
                None if rel.table(ctx).is_some() => {
                    return Err(wrong_kind(&rel.name, "view", "TABLE"))
                }
                None if if_exists => ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("view \"{name}\" does not exist, skipping"),
                )),
                None => {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("view \"{name}\" does not exist"),
                    ))
                }
            }
        }
        drop_dependents(ctx, &oids, cascade)?;
        for oid in oids {
            ctx.txn.drop_view(oid)?;
        }
        Ok(())
    })?;
    Ok("DROP VIEW".into())
}

/// `table x` / `view x`, as dependency messages name a relation.
/// `table t` / `view v`, qualified when `path` does not find it by name.
fn relation_label(cat: &Catalog, oid: Oid, path: &[String]) -> String {
    let kind = match (cat.tables.get(&oid), cat.views.get(&oid)) {
        (Some(_), _) => "table",
        (_, Some(_)) => "view",
        _ => return format!("relation {oid}"),
    };
    let name =
        tandem_expr::reg::regclass_name(oid.0, cat, Some(path)).unwrap_or_else(|| oid.to_string());
    format!("{kind} {name}")
}

/// The views that read `oid`, and the views that read those, depth
/// first (each once), leaving out `skip`.
fn dependent_views(cat: &Catalog, oid: Oid, skip: &[Oid], out: &mut Vec<(Oid, Oid)>) {
    for v in cat.views_reading(oid) {
        if skip.contains(&v.oid) || out.iter().any(|(d, _)| *d == v.oid) {
            continue;
        }
        out.push((v.oid, oid));
        dependent_views(cat, v.oid, skip, out);
    }
}

/// Before DROP TABLE / DROP VIEW of `oids`: the objects that depend on
/// them (foreign keys of other tables that reference them, views that read
/// them). Without CASCADE they refuse the drop (`2BP01`, a DETAIL line
/// each); with it they are dropped first, with one NOTICE naming them all:
/// an object that depends on two of them once, with the first; the last
/// one's first, as PostgreSQL lists them.
pub(crate) fn drop_dependents(
    ctx: &mut ExecContext<'_>,
    oids: &[Oid],
    cascade: bool,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let path = tandem_expr::reg::session_search_path(ctx);
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut all_fks = Vec::new();
    let mut views = Vec::new();
    for &rel in oids {
        let fks: Vec<_> = cat
            .foreign_keys_to(rel)
            .into_iter()
            .filter(|c| !oids.contains(&c.table))
            .collect();
        let seen = views.len();
        dependent_views(&cat, rel, oids, &mut views);
        let new_views = &views[seen..];
        if fks.is_empty() && new_views.is_empty() {
            continue;
        }
        let label = relation_label(&cat, rel, &path);
        let mut objects: Vec<String> = fks.iter().map(|c| describe_constraint(&cat, c)).collect();
        let mut lines: Vec<String> = objects
            .iter()
            .map(|o| format!("{o} depends on {label}"))
            .collect();
        for (v, on) in new_views {
            let view = relation_label(&cat, *v, &path);
            let on = relation_label(&cat, *on, &path);
            lines.push(format!("{view} depends on {on}"));
            objects.push(view);
        }
        if !cascade {
            return Err(has_dependents(&label, &lines));
        }
        all_fks.extend(fks);
        groups.push(objects);
    }
    if groups.is_empty() {
        return Ok(());
    }
    let objects: Vec<String> = groups.into_iter().rev().flatten().collect();
    ctx.notices.push(super::cascade_notice(&objects));
    for c in all_fks {
        ctx.txn.drop_constraint(c.oid)?;
    }
    // the views that read others first
    for (v, _) in views.iter().rev() {
        ctx.txn.drop_view(*v)?;
    }
    Ok(())
}
