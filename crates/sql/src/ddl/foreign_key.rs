//! FOREIGN KEY constraints: `REFERENCES` in CREATE TABLE, ALTER TABLE ADD
//! [CONSTRAINT name] FOREIGN KEY, and what dropping or truncating a
//! referenced object must respect (PostgreSQL's `tablecmds.c`,
//! ATAddForeignKeyConstraint, and the dependency errors of `dependency.c`).
//!
//! The checks themselves are the storage transaction's
//! (`tandem_storage`'s `mvcc/txn/fk.rs`): every row write queues them, the
//! end of each statement runs them.

use sqlparser::ast::{ConstraintReferenceMatchKind, ForeignKeyConstraint, ReferentialAction};
use tandem_expr::ExecContext;
use tandem_storage::{Catalog, ConstraintDef, ConstraintKind, FkAction, ForeignKey, TableDef};
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState};

use super::index::choose_name_where;
use super::undefined_relation;
use crate::types::{ident, relation_name};

/// A FOREIGN KEY as written, before its names are resolved.
pub(crate) struct NewForeignKey {
    name: Option<String>,
    columns: Vec<String>,
    ref_table: crate::types::RelName,
    ref_columns: Vec<String>,
    on_update: FkAction,
    on_delete: FkAction,
    match_full: bool,
}

fn action(a: Option<ReferentialAction>) -> PgResult<FkAction> {
    Ok(match a {
        None | Some(ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ReferentialAction::SetDefault) => {
            return Err(PgError::unsupported("ON DELETE/UPDATE SET DEFAULT"))
        }
    })
}

/// A FOREIGN KEY table constraint, or a column's REFERENCES (`column`;
/// `name` is then the column constraint's name).
pub(crate) fn from_ast(
    fk: &ForeignKeyConstraint,
    name: Option<String>,
    column: Option<&str>,
) -> PgResult<NewForeignKey> {
    if fk.characteristics.is_some() {
        return Err(PgError::unsupported("deferrable constraints"));
    }
    let match_full = match fk.match_kind {
        None | Some(ConstraintReferenceMatchKind::Simple) => false,
        Some(ConstraintReferenceMatchKind::Full) => true,
        Some(ConstraintReferenceMatchKind::Partial) => {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "MATCH PARTIAL not yet implemented",
            ))
        }
    };
    Ok(NewForeignKey {
        name: name.or_else(|| fk.name.as_ref().map(ident)),
        columns: match column {
            Some(c) => vec![c.to_string()],
            None => fk.columns.iter().map(ident).collect(),
        },
        ref_table: relation_name(&fk.foreign_table)?,
        ref_columns: fk.referred_columns.iter().map(ident).collect(),
        on_update: action(fk.on_update)?,
        on_delete: action(fk.on_delete)?,
        match_full,
    })
}

/// `42830`: the referenced columns are no unique key.
fn invalid_foreign_key(message: String) -> PgError {
    PgError::new(SqlState::INVALID_FOREIGN_KEY, message)
}

fn missing_column(c: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{c}\" referenced in foreign key constraint does not exist"),
    )
}

fn positions(def: &TableDef, names: &[String]) -> PgResult<Vec<usize>> {
    names
        .iter()
        .map(|n| {
            def.columns
                .iter()
                .position(|c| !c.dropped && &c.name == n)
                .ok_or_else(|| missing_column(n))
        })
        .collect()
}

fn same_set(a: &[usize], b: &[usize]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Whether a key of type `referencing` can be looked up among keys of
/// type `referenced`: the same type (any length or precision), integers
/// of any width, text and varchar.
fn comparable(referencing: &DataType, referenced: &DataType) -> bool {
    use DataType as T;
    let int = |t: &T| matches!(t, T::Int2 | T::Int4 | T::Int8);
    let string = |t: &T| matches!(t, T::Text | T::Varchar(_));
    type_name(referencing) == type_name(referenced)
        || int(referencing) && int(referenced)
        || string(referencing) && string(referenced)
}

/// A type's name as `format_type_be` prints it (no length).
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Bpchar(_) => DataType::Bpchar(None),
        DataType::Numeric(_) => DataType::Numeric(None),
        other => other.clone(),
    }
    .display_name()
}

/// Is `name` the name of a constraint of any table (PostgreSQL's
/// ConstraintNameExists, within the schema)?
pub(crate) fn constraint_name_taken(ctx: &ExecContext<'_>, name: &str) -> bool {
    let cat = ctx.txn.catalog();
    cat.constraints.values().any(|c| c.name == name)
        || cat.indexes.values().any(|i| i.constraint && i.name == name)
        || cat
            .tables
            .values()
            .any(|t| t.primary_key.as_ref().is_some_and(|pk| pk.name == name))
}

/// The name of a new constraint of `def` without an index: `given`
/// (`42710` when `def` has a constraint of that name already), or
/// PostgreSQL's ChooseConstraintName of the table, `columns` and `label`.
pub(crate) fn constraint_name(
    ctx: &ExecContext<'_>,
    def: &TableDef,
    given: Option<&str>,
    columns: &[String],
    label: &str,
) -> PgResult<String> {
    match given {
        Some(n) if constraint_of_table(ctx, def, n) => Err(PgError::new(
            SqlState::DUPLICATE_OBJECT,
            format!(
                "constraint \"{n}\" for relation \"{}\" already exists",
                def.name
            ),
        )),
        Some(n) => Ok(n.to_string()),
        None => Ok(choose_name_where(&def.name, columns, label, |n| {
            constraint_name_taken(ctx, n)
        })),
    }
}

/// Is `name` a constraint of table `def`?
pub(crate) fn constraint_of_table(ctx: &ExecContext<'_>, def: &TableDef, name: &str) -> bool {
    let cat = ctx.txn.catalog();
    def.primary_key.as_ref().is_some_and(|pk| pk.name == name)
        || cat
            .indexes_of(def.oid)
            .iter()
            .any(|i| i.constraint && i.name == name)
        || cat.constraints_of(def.oid).iter().any(|c| c.name == name)
}

/// Adds foreign key `nf` to table `def` (checking its rows).
pub(crate) fn add(ctx: &mut ExecContext<'_>, def: &TableDef, nf: &NewForeignKey) -> PgResult<()> {
    let columns = positions(def, &nf.columns)?;
    let cat = ctx.txn.catalog();
    let parent = nf
        .ref_table
        .table(ctx)
        .ok_or_else(|| undefined_relation(&nf.ref_table.shown()))?;
    let ref_columns = if nf.ref_columns.is_empty() {
        match &parent.primary_key {
            Some(pk) => pk.columns.clone(),
            None => {
                return Err(invalid_foreign_key(format!(
                    "there is no primary key for referenced table \"{}\"",
                    parent.name
                )))
            }
        }
    } else {
        positions(&parent, &nf.ref_columns)?
    };
    if ref_columns.len() != columns.len() {
        return Err(invalid_foreign_key(
            "number of referencing and referenced columns for foreign key disagree".into(),
        ));
    }
    let ref_index = if parent
        .primary_key
        .as_ref()
        .is_some_and(|pk| same_set(&pk.columns, &ref_columns))
    {
        None
    } else {
        let idx = cat
            .indexes_of(parent.oid)
            .into_iter()
            .find(|i| i.unique && same_set(&i.columns, &ref_columns));
        match idx {
            Some(i) => Some(i.oid),
            None => {
                return Err(invalid_foreign_key(format!(
                    "there is no unique constraint matching given keys for referenced table \"{}\"",
                    parent.name
                )))
            }
        }
    };
    let name = constraint_name(ctx, def, nf.name.as_deref(), &nf.columns, "fkey")?;
    for (&c, &r) in columns.iter().zip(&ref_columns) {
        let (ct, rt) = (&def.columns[c].data_type, &parent.columns[r].data_type);
        if !comparable(ct, rt) {
            return Err(PgError::new(
                SqlState::DATATYPE_MISMATCH,
                format!("foreign key constraint \"{name}\" cannot be implemented"),
            )
            .with_detail(format!(
                "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                def.columns[c].name,
                parent.columns[r].name,
                type_name(ct),
                type_name(rt)
            )));
        }
    }
    let oid = ctx.txn.allocate_oid();
    ctx.txn.add_foreign_key(ConstraintDef {
        oid,
        name,
        table: def.oid,
        kind: ConstraintKind::ForeignKey(ForeignKey {
            columns,
            ref_table: parent.oid,
            ref_columns,
            ref_index,
            on_update: nf.on_update,
            on_delete: nf.on_delete,
            match_full: nf.match_full,
        }),
    })
}

/// `ALTER TABLE t DROP CONSTRAINT name` of a foreign key or CHECK of
/// `def`: true if it was one.
pub(crate) fn drop_named(ctx: &mut ExecContext<'_>, def: &TableDef, name: &str) -> PgResult<bool> {
    let found = ctx
        .txn
        .catalog()
        .constraints_of(def.oid)
        .into_iter()
        .find(|c| c.name == name);
    match found {
        Some(c) => ctx.txn.drop_constraint(c.oid).map(|_| true),
        None => Ok(false),
    }
}

/// `constraint x on table y` (a dependent object, as DETAIL lines name it).
pub(crate) fn describe_constraint(cat: &Catalog, c: &ConstraintDef) -> String {
    let table = cat.tables.get(&c.table).map_or("?", |t| t.name.as_str());
    format!("constraint {} on table {table}", c.name)
}

fn describe(ctx: &ExecContext<'_>, c: &ConstraintDef) -> String {
    describe_constraint(&ctx.txn.catalog(), c)
}

/// `2BP01`: `what` has dependents (`lines`: one per dependent).
pub(crate) fn has_dependents(what: &str, lines: &[String]) -> PgError {
    PgError::new(
        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
        format!("cannot drop {what} because other objects depend on it"),
    )
    .with_detail(lines.join("\n"))
    .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
}

/// Before DROP INDEX or DROP CONSTRAINT of unique index `index` (named
/// `what`: `index x`, `constraint x on table t`): refused while a foreign
/// key of another table is checked against it.
pub(crate) fn check_index_unused(
    ctx: &ExecContext<'_>,
    index: Oid,
    index_name: &str,
    what: &str,
) -> PgResult<()> {
    let users: Vec<String> = ctx
        .txn
        .catalog()
        .constraints
        .values()
        .filter(|c| {
            c.foreign_key()
                .is_some_and(|fk| fk.ref_index == Some(index))
        })
        .map(|c| format!("{} depends on index {index_name}", describe(ctx, c)))
        .collect();
    match users.is_empty() {
        true => Ok(()),
        false => Err(has_dependents(what, &users)),
    }
}

/// Before ALTER TABLE DROP COLUMN: a foreign key of another table that
/// references the column refuses it; the table's own foreign keys on it
/// go with it.
pub(crate) fn drop_column(
    ctx: &mut ExecContext<'_>,
    def: &TableDef,
    column: usize,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let col = &def.columns[column].name;
    let users: Vec<String> = cat
        .foreign_keys_to(def.oid)
        .iter()
        .filter(|c| c.table != def.oid)
        .filter(|c| {
            c.foreign_key()
                .is_some_and(|fk| fk.ref_columns.contains(&column))
        })
        .map(|c| {
            format!(
                "{} depends on column {col} of table {}",
                describe(ctx, c),
                def.name
            )
        })
        .collect();
    if !users.is_empty() {
        return Err(has_dependents(
            &format!("column {col} of table {}", def.name),
            &users,
        ));
    }
    let own = cat.constraints_of(def.oid).into_iter().filter(|c| {
        c.foreign_key().is_some_and(|fk| {
            fk.columns.contains(&column)
                || (fk.ref_table == def.oid && fk.ref_columns.contains(&column))
        })
    });
    for c in own {
        ctx.txn.drop_constraint(c.oid)?;
    }
    Ok(())
}

/// TRUNCATE of `tables`: a table that references one of them must be
/// truncated too; CASCADE adds them (a NOTICE each), else `0A000`.
pub(crate) fn truncate_set(
    ctx: &mut ExecContext<'_>,
    tables: &mut Vec<Oid>,
    cascade: bool,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    if cat.constraints.is_empty() {
        return Ok(());
    }
    let mut i = 0;
    while i < tables.len() {
        let t = tables[i];
        for c in cat.foreign_keys_to(t) {
            if tables.contains(&c.table) {
                continue;
            }
            let name = |o: Oid| cat.tables.get(&o).map_or("?", |d| d.name.as_str());
            if !cascade {
                return Err(PgError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cannot truncate a table referenced in a foreign key constraint",
                )
                .with_detail(format!(
                    "Table \"{}\" references \"{}\".",
                    name(c.table),
                    name(t)
                ))
                .with_hint(format!(
                    "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                    name(c.table)
                )));
            }
            ctx.notices.push(PgError::notice(format!(
                "truncate cascades to table \"{}\"",
                name(c.table)
            )));
            tables.push(c.table);
        }
        i += 1;
    }
    Ok(())
}
