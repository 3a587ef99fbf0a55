//! Enum types: CREATE TYPE ... AS ENUM, ALTER TYPE ... ADD VALUE / RENAME
//! TO, DROP TYPE (PostgreSQL's `commands/typecmds.c` and
//! `catalog/pg_enum.c`).
//!
//! A type is a `tandem_types::EnumType` in the catalog; columns of the type
//! share it (`DataType::Enum`), and ADD VALUE gives them the new label
//! through the catalog op (`tandem_storage::catalog::apply_op`).

use sqlparser::ast::{
    AlterType, AlterTypeAddValuePosition, AlterTypeOperation, Ident, ObjectName,
    UserDefinedTypeRepresentation,
};
use std::sync::Arc;
use tandem_expr::ExecContext;

use tandem_storage::{Catalog, TableDef};
use tandem_types::{EnumLabel, EnumType, Oid, PgError, PgResult, SqlState};

use super::skipping;
use crate::session::Session;
use crate::types::{ident, relation_name};

/// PostgreSQL's `NAMEDATALEN - 1`: the longest label, in bytes.
const MAX_LABEL_BYTES: usize = 63;

fn undefined_type(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("type \"{name}\" does not exist"),
    )
}

fn duplicate_type(name: &str) -> PgError {
    PgError::new(
        SqlState::DUPLICATE_OBJECT,
        format!("type \"{name}\" already exists"),
    )
}

/// A label as written: a string literal (or, as sqlparser also takes, a name).
fn label_text(i: &Ident) -> String {
    match i.quote_style {
        Some('\'') => i.value.clone(),
        _ => ident(i),
    }
}

fn check_label(label: &str) -> PgResult<()> {
    if label.is_empty() || label.len() > MAX_LABEL_BYTES {
        return Err(PgError::new(
            SqlState::INVALID_NAME,
            format!("invalid enum label \"{label}\""),
        )
        .with_detail("Labels must be 63 bytes or less."));
    }
    Ok(())
}

/// Whether a type or a relation with a row type (in PostgreSQL every table
/// and view has one, of its name) is named `name` in `schema`.
fn type_name_taken(cat: &Catalog, schema: &str, name: &str) -> bool {
    cat.type_in(schema, name).is_some()
        || cat.table_by_name(schema, name).is_some()
        || cat.view_by_name(schema, name).is_some()
}

/// Before creating table, view or sequence `name` in `schema`: `42710` when
/// a type has the name (PostgreSQL checks the name of the row type it would
/// make).
pub(crate) fn check_row_type_free(ctx: &ExecContext<'_>, schema: &str, name: &str) -> PgResult<()> {
    if ctx.txn.catalog().type_in(schema, name).is_none() {
        return Ok(());
    }
    Err(duplicate_type(name).with_hint(
        "A relation has an associated type of the same name, so you must use a name that doesn't conflict with any existing type.",
    ))
}

fn check_owner(ctx: &ExecContext<'_>, t: &EnumType) -> PgResult<()> {
    if ctx
        .txn
        .catalog()
        .has_privs_of_role(Oid(ctx.session.user_oid), Oid(t.owner))
    {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("must be owner of type {}", t.name),
    ))
}

/// `CREATE TYPE name AS ENUM ('label', ...)`.
pub(crate) fn create(
    s: &mut Session,
    name: &ObjectName,
    representation: Option<&UserDefinedTypeRepresentation>,
) -> PgResult<String> {
    let Some(UserDefinedTypeRepresentation::Enum { labels }) = representation else {
        return Err(PgError::unsupported("CREATE TYPE other than AS ENUM"));
    };
    s.check_writable("CREATE TYPE")?;
    // PostgreSQL points at no place for a type's missing schema
    let rel = crate::types::RelName {
        at: None,
        ..relation_name(name)?
    };
    let name = rel.name.clone();
    let labels: Vec<String> = labels.iter().map(label_text).collect();
    for l in &labels {
        check_label(l)?;
    }
    s.with_ctx(&[], |ctx| {
        let schema = rel.create_in(ctx)?;
        let cat = ctx.txn.catalog();
        if type_name_taken(&cat, &schema, &name) {
            return Err(duplicate_type(&name));
        }
        // PostgreSQL gives the array type its OID first
        let array_oid = ctx.txn.allocate_oid().0;
        let oid = ctx.txn.allocate_oid().0;
        let mut t = EnumType {
            oid,
            array_oid,
            schema,
            name: name.clone(),
            owner: ctx.session.user_oid,
            labels: Vec::with_capacity(labels.len()),
        };
        for (i, l) in labels.iter().enumerate() {
            if t.label(l).is_some() {
                return Err(PgError::new(
                    SqlState::UNIQUE_VIOLATION,
                    "duplicate key value violates unique constraint \"pg_enum_typid_label_index\"",
                )
                .with_detail(format!(
                    "Key (enumtypid, enumlabel)=({oid}, {l}) already exists."
                )));
            }
            t.labels.push(EnumLabel {
                oid: ctx.txn.allocate_oid().0,
                sort_order: (i + 1) as f32,
                name: l.clone(),
            });
        }
        ctx.txn.put_type(t)
    })?;
    Ok("CREATE TYPE".into())
}

/// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'label' [BEFORE|AFTER 'label']`
/// and `ALTER TYPE name RENAME TO new`.
pub(crate) fn alter(s: &mut Session, at: &AlterType) -> PgResult<String> {
    s.check_writable("ALTER TYPE")?;
    let rel = relation_name(&at.name)?;
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let Some(old) = rel.enum_type(ctx) else {
            return Err(undefined_type(&rel.shown()));
        };
        check_owner(ctx, &old)?;
        let mut t = (*old).clone();
        match &at.operation {
            AlterTypeOperation::AddValue(add) => {
                let label = label_text(&add.value);
                check_label(&label)?;
                if t.label(&label).is_some() {
                    let message = format!("enum label \"{label}\" already exists");
                    if add.if_not_exists {
                        ctx.notices.push(skipping(
                            SqlState::DUPLICATE_OBJECT,
                            format!("{message}, skipping"),
                        ));
                        return Ok(());
                    }
                    return Err(PgError::new(SqlState::DUPLICATE_OBJECT, message));
                }
                let (pos, sort_order) = placement(&t, add.position.as_ref())?;
                let oid = ctx.txn.allocate_oid().0;
                t.labels.insert(
                    pos,
                    EnumLabel {
                        oid,
                        sort_order,
                        name: label,
                    },
                );
            }
            AlterTypeOperation::Rename(r) => {
                let new = ident(&r.new_name);
                if type_name_taken(&cat, &t.schema, &new) {
                    return Err(duplicate_type(&new));
                }
                let before = t.display_name();
                t.name = new;
                retype_defaults(ctx, &cat, &before, &t.display_name())?;
            }
            AlterTypeOperation::RenameValue(_) => {
                return Err(PgError::unsupported("ALTER TYPE ... RENAME VALUE"));
            }
        }
        ctx.txn.put_type(t)
    })?;
    Ok("ALTER TYPE".into())
}

/// Column defaults cast to a renamed type (`'ok'::mood`, kept as text)
/// name it by its new name, as PostgreSQL prints them from the tree.
fn retype_defaults(ctx: &mut ExecContext<'_>, cat: &Catalog, old: &str, new: &str) -> PgResult<()> {
    let cast = format!("::{old}");
    let renamed = |d: &str| {
        let at = d.rfind(&cast)?;
        let rest = &d[at + cast.len()..];
        matches!(rest, "" | "[]").then(|| format!("{}::{new}{rest}", &d[..at]))
    };
    for t in cat.tables.values() {
        if !t
            .columns
            .iter()
            .any(|c| c.default.as_deref().and_then(renamed).is_some())
        {
            continue;
        }
        let mut def = (**t).clone();
        for c in &mut def.columns {
            if let Some(d) = c.default.as_deref().and_then(renamed) {
                c.default = Some(d);
            }
        }
        ctx.txn.put_table(def, None)?;
    }
    Ok(())
}

/// Where a new label goes (its index in sort order) and its sort order: one
/// past the last, or halfway between the neighbour named and the label on
/// its other side (one below the first, one above the last), as PostgreSQL's
/// `AddEnumLabel` places it.
fn placement(t: &EnumType, position: Option<&AlterTypeAddValuePosition>) -> PgResult<(usize, f32)> {
    let Some(position) = position else {
        let last = t.labels.last().map_or(0.0, |l| l.sort_order);
        return Ok((t.labels.len(), last + 1.0));
    };
    let (neighbour, before) = match position {
        AlterTypeAddValuePosition::Before(n) => (label_text(n), true),
        AlterTypeAddValuePosition::After(n) => (label_text(n), false),
    };
    let Some(i) = t.labels.iter().position(|l| l.name == neighbour) else {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("\"{neighbour}\" is not an existing enum label"),
        ));
    };
    let here = t.labels[i].sort_order;
    let (pos, other) = if before {
        (i, i.checked_sub(1).map(|j| t.labels[j].sort_order))
    } else {
        (i + 1, t.labels.get(i + 1).map(|l| l.sort_order))
    };
    let sort_order = match other {
        Some(o) => (here + o) / 2.0,
        None if before => here - 1.0,
        None => here + 1.0,
    };
    // PostgreSQL renumbers the labels when a float4 cannot tell them apart;
    // tandem keeps every stored value's sort order, so it refuses instead.
    if other.is_some_and(|o| sort_order == o || sort_order == here) {
        return Err(PgError::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("no room for a new enum label next to \"{neighbour}\""),
        )
        .with_hint("Recreate the type with its labels in the order wanted."));
    }
    Ok((pos, sort_order))
}

/// `DROP TYPE [IF EXISTS] name, ... [CASCADE]`: refused while a column has
/// the type, unless CASCADE drops those columns too.
pub(crate) fn drop(
    s: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> PgResult<String> {
    let names = super::drop_names(s, "DROP TYPE", names)?;
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let mut oids = Vec::new();
        for rel in &names {
            if super::schema_missing(ctx, rel, if_exists)? {
                continue;
            }
            let name = rel.shown();
            let Some(t) = rel.enum_type(ctx) else {
                if if_exists {
                    ctx.notices.push(skipping(
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!("type \"{name}\" does not exist, skipping"),
                    ));
                    continue;
                }
                return Err(undefined_type(&name));
            };
            check_owner(ctx, &t)?;
            let users = columns_of_type(&cat, &crate::types::search_path(ctx), t.oid);
            if !users.is_empty() && !cascade {
                let lines: Vec<String> = users
                    .iter()
                    .map(|u| format!("{} depends on type {}", u.described, u.type_name))
                    .collect();
                return Err(super::foreign_key::has_dependents(
                    &format!("type {}", t.display_name()),
                    &lines,
                ));
            }
            oids.push((Oid(t.oid), users));
        }
        for (oid, users) in oids {
            if !users.is_empty() {
                let objects: Vec<String> = users.iter().map(|u| u.described.clone()).collect();
                ctx.notices.push(super::cascade_notice(&objects));
                for u in &users {
                    super::table::drop_column(ctx, &u.table, &u.column)?;
                }
            }
            ctx.txn.drop_type(oid)?;
        }
        Ok(())
    })?;
    Ok("DROP TYPE".into())
}

/// A column of an enum type or of an array of one.
pub(crate) struct TypeUser {
    pub table: Arc<TableDef>,
    pub column: String,
    /// `column m of table app.person` (the table qualified where the
    /// `search_path` does not find it by its name alone).
    pub described: String,
    /// The column's type as PostgreSQL names it.
    pub type_name: String,
}

/// The columns of type `oid` or its array: those of the array first (its
/// OID is the lower), each in table and column order.
pub(crate) fn columns_of_type(cat: &Catalog, path: &[String], oid: u32) -> Vec<TypeUser> {
    let mut out = Vec::new();
    for direct in [false, true] {
        for t in cat.tables.values() {
            for c in t.columns.iter().filter(|c| !c.dropped) {
                let hit = match &c.data_type {
                    tandem_types::DataType::Enum(e) => direct && e.oid == oid,
                    ty => !direct && tandem_storage::catalog::uses_type(ty, oid),
                };
                if hit {
                    let table = tandem_expr::reg::regclass_name(t.oid.0, cat, Some(path))
                        .unwrap_or_else(|| t.name.clone());
                    out.push(TypeUser {
                        table: t.clone(),
                        column: c.name.clone(),
                        described: format!("column {} of table {table}", c.name),
                        type_name: c.data_type.display_name(),
                    });
                }
            }
        }
    }
    out
}
