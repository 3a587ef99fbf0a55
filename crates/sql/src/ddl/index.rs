//! CREATE [UNIQUE] INDEX, DROP INDEX, and the UNIQUE constraints of CREATE
//! TABLE and ALTER TABLE (PostgreSQL's `commands/indexcmds.c`,
//! `catalog/index.c`). The index itself, its entries and their upkeep are
//! the storage crate's (`tandem_storage::index`); this module names,
//! checks and records them.
//!
//! Indexes are btree over plain columns in ascending order; expressions,
//! partial indexes, INCLUDE, other access methods and sort options are
//! refused (0A000) rather than built differently.

use sqlparser::ast::{CreateIndex, Expr, IndexColumn, ObjectName};
use tandem_expr::ExecContext;
use tandem_storage::{IndexDef, TableDef};
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::sequence::{duplicate_relation, relation_exists, relation_taken};
use super::{skipping, undefined_relation};
use crate::session::Session;
use crate::types::{ident, relation_name};

/// PostgreSQL's `NAMEDATALEN - 1`: the longest identifier.
const MAX_NAME: usize = 63;

/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON t (a, b)`.
pub(crate) fn create(s: &mut Session, ci: &CreateIndex) -> PgResult<String> {
    s.check_writable("CREATE INDEX")?;
    if let Some(using) = &ci.using {
        let am = using.to_string().to_lowercase();
        if am != "btree" {
            return Err(PgError::unsupported(format!("access method \"{am}\"")));
        }
    }
    if ci.predicate.is_some() {
        return Err(PgError::unsupported("partial indexes"));
    }
    if !ci.include.is_empty() {
        return Err(PgError::unsupported("INCLUDE"));
    }
    if ci.nulls_distinct == Some(false) {
        return Err(PgError::unsupported("NULLS NOT DISTINCT"));
    }
    if !ci.with.is_empty() {
        return Err(PgError::unsupported("index storage parameters"));
    }
    let table = relation_name(&ci.table_name)?;
    let name = ci.name.as_ref().map(relation_name).transpose()?;
    let columns = index_column_names(&ci.columns)?;
    let (unique, if_not_exists) = (ci.unique, ci.if_not_exists);
    s.with_ctx(&[], |ctx| {
        let def = table
            .table(ctx)
            .map(|t| (*t).clone())
            .ok_or_else(|| undefined_relation(&table.shown()))?;
        super::table::check_owner(ctx, &def)?;
        let positions = column_positions(&def, &columns, |c| {
            PgError::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{c}\" does not exist"),
            )
        })?;
        if let Some(n) = &name {
            if relation_taken(ctx, &def.schema, &n.name, if_not_exists)? {
                return Ok(());
            }
        }
        let name = match name {
            Some(n) => n.name,
            None => choose_name(ctx, &def, &columns, "idx"),
        };
        build(ctx, &def, name, positions, unique, false)
    })?;
    Ok("CREATE INDEX".into())
}

/// Records and builds an index of `def` (a UNIQUE constraint's when
/// `constraint`).
fn build(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    name: String,
    columns: Vec<usize>,
    unique: bool,
    constraint: bool,
) -> PgResult<()> {
    let oid = ctx.txn.allocate_oid();
    ctx.txn.create_index(IndexDef {
        oid,
        name,
        table: def.oid,
        columns,
        unique,
        constraint,
    })
}

/// A UNIQUE constraint on `columns` of `def` (CREATE TABLE, ALTER TABLE
/// ADD): named `name` or `t_a_b_key`.
pub(crate) fn add_unique(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    name: Option<String>,
    columns: &[String],
) -> PgResult<()> {
    let positions = column_positions(def, columns, |c| {
        PgError::new(
            SqlState::UNDEFINED_COLUMN,
            format!("column \"{c}\" named in key does not exist"),
        )
    })?;
    let name = match name {
        Some(n) => {
            if relation_exists(ctx, &def.schema, &n) {
                return Err(duplicate_relation(&n));
            }
            n
        }
        None => choose_name(ctx, def, columns, "key"),
    };
    build(ctx, def, name, positions, true, true)
}

/// `ALTER TABLE t DROP CONSTRAINT name` of a UNIQUE constraint: true if
/// `name` is one of `def`'s (dropped with its index).
pub(crate) fn drop_unique(ctx: &mut ExecContext<'_>, def: &TableDef, name: &str) -> PgResult<bool> {
    let found = ctx
        .txn
        .indexes_of(def.oid)
        .into_iter()
        .find(|i| i.constraint && i.name == name);
    match found {
        Some(i) => {
            let what = format!("constraint {name} on table {}", def.name);
            super::foreign_key::check_index_unused(ctx, i.oid, name, &what)?;
            ctx.txn.drop_index(i.oid).map(|_| true)
        }
        None => Ok(false),
    }
}

/// `DROP INDEX [IF EXISTS] a, b`.
pub(crate) fn drop(s: &mut Session, names: &[ObjectName], if_exists: bool) -> PgResult<String> {
    let names = super::drop_names(s, "DROP INDEX", names)?;
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let mut oids = Vec::new();
        for rel in &names {
            if super::schema_missing(ctx, rel, if_exists)? {
                continue;
            }
            let schema = rel.lookup(ctx);
            let (name, shown) = (&rel.name, &rel.name);
            let pk_of = cat.tables.values().find(|t| {
                t.schema == schema && t.primary_key.as_ref().is_some_and(|pk| &pk.name == name)
            });
            if let Some(t) = pk_of {
                return Err(required_by_constraint(name, &t.name));
            }
            match cat.index_by_name(&schema, name) {
                Some(i) => {
                    let table = cat
                        .tables
                        .get(&i.table)
                        .ok_or_else(|| undefined_relation(name))?;
                    if i.constraint {
                        return Err(required_by_constraint(name, &table.name));
                    }
                    super::table::check_owner(ctx, table)?;
                    let what = format!("index {name}");
                    super::foreign_key::check_index_unused(ctx, i.oid, name, &what)?;
                    oids.push(i.oid);
                }
                None if relation_exists(ctx, &schema, name) => {
                    return Err(PgError::new(
                        SqlState::WRONG_OBJECT_TYPE,
                        format!("\"{name}\" is not an index"),
                    ))
                }
                None if if_exists => ctx.notices.push(skipping(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("index \"{shown}\" does not exist, skipping"),
                )),
                None => {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("index \"{shown}\" does not exist"),
                    ))
                }
            }
        }
        for oid in oids {
            ctx.txn.drop_index(oid)?;
        }
        Ok(())
    })?;
    Ok("DROP INDEX".into())
}

/// Drops the indexes of `table` that cover column `column` (ALTER TABLE
/// DROP COLUMN takes them with it, as PostgreSQL does).
pub(crate) fn drop_covering(ctx: &mut ExecContext<'_>, table: Oid, column: usize) -> PgResult<()> {
    for i in ctx.txn.indexes_of(table) {
        if i.columns.contains(&column) {
            ctx.txn.drop_index(i.oid)?;
        }
    }
    Ok(())
}

fn required_by_constraint(index: &str, table: &str) -> PgError {
    PgError::new(
        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
        format!(
            "cannot drop index {index} because constraint {index} on table {table} requires it"
        ),
    )
    .with_hint(format!(
        "You can drop constraint {index} on table {table} instead."
    ))
}

/// The column names of an index's or a constraint's column list: plain
/// columns, ascending.
pub(crate) fn index_column_names(cols: &[IndexColumn]) -> PgResult<Vec<String>> {
    cols.iter()
        .map(|c| {
            if c.operator_class.is_some() {
                return Err(PgError::unsupported("operator classes"));
            }
            let o = &c.column.options;
            let asc = matches!(o.sort, None | Some(sqlparser::ast::OrderBySort::Asc));
            if !asc || o.nulls_first.is_some() {
                return Err(PgError::unsupported("index sort options"));
            }
            match &c.column.expr {
                Expr::Identifier(i) => Ok(ident(i)),
                _ => Err(PgError::unsupported("index expressions")),
            }
        })
        .collect()
}

/// The positions of `columns` in `def`; `missing` makes the error for a
/// name it lacks.
fn column_positions(
    def: &TableDef,
    columns: &[String],
    missing: impl Fn(&str) -> PgError,
) -> PgResult<Vec<usize>> {
    columns
        .iter()
        .map(|c| {
            def.columns
                .iter()
                .position(|col| !col.dropped && &col.name == c)
                .ok_or_else(|| missing(c))
        })
        .collect()
}

/// PostgreSQL's `ChooseRelationName`: `table_col1_col2_label`, clipped to
/// 63 bytes, with a number after the label until the name is free.
fn choose_name(ctx: &ExecContext<'_>, table: &TableDef, columns: &[String], label: &str) -> String {
    choose_name_where(&table.name, columns, label, |n| {
        relation_exists(ctx, &table.schema, n)
    })
}

/// [`choose_name`] among names `taken` tells are in use (constraint names
/// for a constraint without an index: PostgreSQL's ChooseConstraintName).
pub(crate) fn choose_name_where(
    table: &str,
    columns: &[String],
    label: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let cols = columns.join("_");
    let mut pass = 0;
    loop {
        let label = match pass {
            0 => label.to_string(),
            n => format!("{label}{n}"),
        };
        let name = object_name(table, &cols, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
    }
}

/// PostgreSQL's `makeObjectName`: `name1_name2_label`, the longer of the
/// two names clipped first so that the whole fits in 63 bytes.
fn object_name(name1: &str, name2: &str, label: &str) -> String {
    let overhead = label.len() + 1 + usize::from(!name2.is_empty());
    let avail = MAX_NAME.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let n1 = clip(name1, n1);
    let n2 = clip(name2, n2);
    match n2.is_empty() {
        true => format!("{n1}_{label}"),
        false => format!("{n1}_{n2}_{label}"),
    }
}

/// The longest prefix of `s` of at most `len` bytes that ends on a
/// character boundary.
fn clip(s: &str, mut len: usize) -> &str {
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    &s[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_clip_like_postgres() {
        assert_eq!(object_name("users", "team", "idx"), "users_team_idx");
        let long = "a".repeat(60);
        let name = object_name(&long, "b", "key");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_b_key"));
        let name = object_name(&long, &"c".repeat(60), "idx");
        assert_eq!(name.len(), 63);
        assert_eq!(name, format!("{}_{}_idx", "a".repeat(29), "c".repeat(29)));
    }
}
