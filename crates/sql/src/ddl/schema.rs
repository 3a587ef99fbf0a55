//! `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]`, `ALTER SCHEMA
//! name RENAME TO new | OWNER TO role` and `DROP
//! SCHEMA [IF EXISTS] name, ... [CASCADE | RESTRICT]` (PostgreSQL's
//! `commands/schemacmds.c`). A schema is a catalog entry
//! ([`tandem_storage::SchemaDef`]); tables, views, sequences and enum types name theirs,
//! and unqualified names are looked up along `search_path`
//! (`crate::types::RelName`).

use sqlparser::ast::{AlterSchema, AlterSchemaOperation, ObjectName, Owner, SchemaName};
use tandem_expr::ExecContext;
use tandem_storage::SchemaDef;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::{cascade_notice, skipping};
use crate::session::Session;
use crate::types::{ident, relation_name};

pub(crate) fn create(s: &mut Session, name: &SchemaName, if_not_exists: bool) -> PgResult<String> {
    s.check_writable("CREATE SCHEMA")?;
    let (schema, role) = match name {
        SchemaName::Simple(n) => (schema_name(n)?, None),
        SchemaName::UnnamedAuthorization(r) => (ident(r), Some(ident(r))),
        SchemaName::NamedAuthorization(n, r) => (schema_name(n)?, Some(ident(r))),
    };
    s.with_ctx(&[], |ctx| {
        let (me, _) = super::acting(ctx);
        let cat = ctx.txn.catalog();
        let owner = match &role {
            Some(r) => super::grant::role_oid(&cat, r)?,
            None => me,
        };
        // as PostgreSQL's CreateSchemaCommand: CREATE on the database, then
        // acting as the owner named
        super::check_database_create(ctx, me)?;
        super::check_can_set_role(&cat, me, owner)?;
        if cat.schema_oid(&schema).is_some() {
            let message = format!("schema \"{schema}\" already exists");
            if if_not_exists {
                ctx.notices.push(skipping(
                    SqlState::DUPLICATE_SCHEMA,
                    format!("{message}, skipping"),
                ));
                return Ok(());
            }
            return Err(PgError::new(SqlState::DUPLICATE_SCHEMA, message));
        }
        check_reserved(&schema)?;
        let oid = ctx.txn.allocate_oid();
        ctx.txn.put_schema(SchemaDef {
            oid,
            name: schema.clone(),
            owner,
        })
    })?;
    Ok("CREATE SCHEMA".into())
}

/// `pg_` names are the system's (`IsReservedName`).
fn check_reserved(schema: &str) -> PgResult<()> {
    if schema.starts_with("pg_") {
        return Err(PgError::new(
            SqlState::RESERVED_NAME,
            format!("unacceptable schema name \"{schema}\""),
        )
        .with_detail("The prefix \"pg_\" is reserved for system schemas."));
    }
    Ok(())
}

/// `ALTER SCHEMA name RENAME TO new` / `OWNER TO role`, checked in
/// PostgreSQL's order (`RenameSchema`, `AlterSchemaOwner_internal`): the
/// schema, the new name free, its owner acting, CREATE on the database,
/// the new name not reserved; for a new owner, SET ROLE to it.
pub(crate) fn alter(s: &mut Session, a: &AlterSchema) -> PgResult<String> {
    s.check_writable("ALTER SCHEMA")?;
    let name = schema_name(&a.name)?;
    let [op] = a.operations.as_slice() else {
        return Err(PgError::unsupported("ALTER SCHEMA with several actions"));
    };
    s.with_ctx(&[], |ctx| {
        let cat = ctx.txn.catalog();
        let Some(oid) = cat.schema_oid(&name) else {
            return Err(PgError::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{name}\" does not exist"),
            ));
        };
        let Some(def) = cat.schemas.get(&oid).cloned() else {
            return Err(PgError::unsupported(format!(
                "ALTER SCHEMA of the built-in schema {name}"
            )));
        };
        let (me, superuser) = super::acting(ctx);
        let must_own = || {
            if superuser || cat.has_privs_of_role(me, def.owner) {
                Ok(())
            } else {
                Err(PgError::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("must be owner of schema {name}"),
                ))
            }
        };
        match op {
            AlterSchemaOperation::Rename { name: new } => {
                let new = schema_name(new)?;
                if cat.schema_oid(&new).is_some() {
                    return Err(PgError::new(
                        SqlState::DUPLICATE_SCHEMA,
                        format!("schema \"{new}\" already exists"),
                    ));
                }
                must_own()?;
                super::check_database_create(ctx, me)?;
                check_reserved(&new)?;
                rename(ctx, def, new)
            }
            AlterSchemaOperation::OwnerTo { owner } => {
                let new_owner = match owner {
                    Owner::Ident(i) => super::grant::role_oid(&cat, &ident(i))?,
                    Owner::CurrentRole | Owner::CurrentUser | Owner::SessionUser => me,
                };
                if new_owner == def.owner {
                    return Ok(());
                }
                must_own()?;
                super::check_can_set_role(&cat, me, new_owner)?;
                super::check_database_create(ctx, me)?;
                if let Some(acl) = cat.acls.get(&oid) {
                    let acl = tandem_storage::acl::acl_new_owner(acl, def.owner, new_owner);
                    ctx.txn.set_acl(oid, Some(acl))?;
                }
                ctx.txn.put_schema(SchemaDef {
                    owner: new_owner,
                    ..def
                })
            }
            other => Err(PgError::unsupported(format!("ALTER SCHEMA ... {other}"))),
        }
    })?;
    Ok("ALTER SCHEMA".into())
}

/// The schema and the tables, views, sequences and types in it take the
/// new name.
/// Relations name their schema, so each is written again; serial defaults
/// naming a sequence of the schema follow. A view naming the schema in its
/// query (kept as written) would no longer read: refused.
fn rename(ctx: &mut ExecContext<'_>, def: SchemaDef, new: String) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let old = def.name.clone();
    if let Some(v) = cat.views.values().find(|v| names_schema(&v.query, &old)) {
        return Err(PgError::unsupported(format!(
            "ALTER SCHEMA {old} RENAME while view {} names the schema in its query",
            v.name
        )));
    }
    let quoted = |s: &str| tandem_types::ident::quote_identifier(s);
    // what defaults say of the schema: a serial's sequence, an enum
    // type's constant (`'ok'::app.mood`)
    let renames = [
        (
            format!("nextval('{}.", quoted(&old)),
            format!("nextval('{}.", quoted(&new)),
        ),
        (
            format!("::{}.", quoted(&old)),
            format!("::{}.", quoted(&new)),
        ),
    ];
    for t in cat.tables.values() {
        let names_schema = t.columns.iter().any(|c| {
            c.default
                .as_deref()
                .is_some_and(|d| renames.iter().any(|(o, _)| d.contains(o)))
        });
        if t.schema != old && !names_schema {
            continue;
        }
        let mut t = (**t).clone();
        if t.schema == old {
            t.schema = new.clone();
        }
        for c in &mut t.columns {
            if let Some(d) = &mut c.default {
                for (o, n) in &renames {
                    *d = d.replace(o, n);
                }
            }
        }
        ctx.txn.put_table(t, None)?;
    }
    // an enum type's columns take its new schema with it
    for ty in cat.types.values().filter(|t| t.schema == old) {
        ctx.txn.put_type(tandem_types::EnumType {
            schema: new.clone(),
            ..(**ty).clone()
        })?;
    }
    for v in cat.views.values().filter(|v| v.schema == old) {
        ctx.txn.put_view(tandem_storage::ViewDef {
            schema: new.clone(),
            ..(**v).clone()
        })?;
    }
    for q in cat.sequences.values().filter(|q| q.schema == old) {
        ctx.txn.put_sequence(tandem_storage::SequenceDef {
            schema: new.clone(),
            ..(**q).clone()
        })?;
    }
    ctx.txn.put_schema(SchemaDef { name: new, ..def })
}

/// Whether a query's text names `schema` as a qualifier (`schema.` before
/// a name).
fn names_schema(query: &str, schema: &str) -> bool {
    use super::QueryToken as Q;
    super::query_tokens(query).is_none_or(|tokens| {
        tokens
            .windows(2)
            .any(|w| matches!((&w[0], &w[1]), (Q::Word(s), Q::Period) if s == schema))
    })
}

/// A schema's name: one identifier.
fn schema_name(n: &ObjectName) -> PgResult<String> {
    let rel = relation_name(n)?;
    match rel.schema {
        None => Ok(rel.name),
        Some(_) => Err(PgError::syntax(format!(
            "improper qualified name (too many dotted names): {n}"
        ))),
    }
}

/// `DROP SCHEMA [IF EXISTS] a, b [CASCADE]`: refused while a table, view or
/// sequence is in it, unless CASCADE drops them too.
pub(crate) fn drop(
    s: &mut Session,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> PgResult<String> {
    s.check_writable("DROP SCHEMA")?;
    let names = names
        .iter()
        .map(schema_name)
        .collect::<PgResult<Vec<_>>>()?;
    s.with_ctx(&[], |ctx| {
        let mut doomed = Vec::new();
        for name in &names {
            let cat = ctx.txn.catalog();
            let Some(oid) = cat.schema_oid(name) else {
                let message = format!("schema \"{name}\" does not exist");
                if if_exists {
                    ctx.notices.push(skipping(
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!("{message}, skipping"),
                    ));
                    continue;
                }
                return Err(PgError::new(SqlState::INVALID_SCHEMA_NAME, message));
            };
            let Some(def) = cat.schemas.get(&oid) else {
                return Err(PgError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop schema {name} because it is required by the database system"
                    ),
                ));
            };
            let (me, superuser) = super::acting(ctx);
            if !superuser && !cat.has_privs_of_role(me, def.owner) {
                return Err(PgError::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("must be owner of schema {name}"),
                ));
            }
            let members = members(ctx, name);
            if !members.is_empty() && !cascade {
                let lines: Vec<String> = members
                    .iter()
                    .flat_map(|m| {
                        std::iter::once(format!("{} depends on schema {name}", m.described))
                            .chain(m.dependents.iter().cloned())
                    })
                    .collect();
                return Err(super::foreign_key::has_dependents(
                    &format!("schema {name}"),
                    &lines,
                ));
            }
            doomed.push((oid, members));
        }
        let described: Vec<String> = doomed
            .iter()
            .flat_map(|(_, m)| m.iter().map(|m| m.described.clone()))
            .collect();
        if !described.is_empty() {
            ctx.notices.push(cascade_notice(&described));
        }
        for (oid, members) in doomed {
            drop_members(ctx, &members)?;
            ctx.txn.drop_schema(oid)?;
        }
        Ok(())
    })?;
    Ok("DROP SCHEMA".into())
}

/// What a schema holds, as DROP names it.
struct Member {
    oid: Oid,
    kind: Kind,
    /// `table app.t`
    described: String,
    /// What depends on it outside the schema, as DROP lists it: the
    /// columns of other schemas' tables of a type of the schema.
    dependents: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    View,
    Sequence,
    Type,
}

/// The tables, views, sequences and enum types of schema `name` (sequences
/// owned by a column go with their table), in creation (oid) order.
fn members(ctx: &ExecContext<'_>, name: &str) -> Vec<Member> {
    let cat = ctx.txn.catalog();
    let member = |oid: Oid, kind: Kind, word: &str, rel: &str| Member {
        oid,
        kind,
        described: format!("{word} {name}.{rel}"),
        dependents: Vec::new(),
    };
    let mut out: Vec<Member> = Vec::new();
    out.extend(
        cat.tables
            .values()
            .filter(|t| t.schema == name)
            .map(|t| member(t.oid, Kind::Table, "table", &t.name)),
    );
    out.extend(
        cat.views
            .values()
            .filter(|v| v.schema == name)
            .map(|v| member(v.oid, Kind::View, "view", &v.name)),
    );
    out.extend(
        cat.sequences
            .values()
            .filter(|q| q.schema == name && q.owned_by.is_none())
            .map(|q| member(q.oid, Kind::Sequence, "sequence", &q.name)),
    );
    out.extend(cat.types.values().filter(|t| t.schema == name).map(|t| {
        let path = crate::types::search_path(ctx);
        let users = super::enum_type::columns_of_type(&cat, &path, t.oid);
        Member {
            dependents: users
                .iter()
                .filter(|u| u.table.schema != name)
                .map(|u| format!("{} depends on type {}", u.described, u.type_name))
                .collect(),
            ..member(Oid(t.oid), Kind::Type, "type", &t.name)
        }
    }));
    out.sort_by_key(|m| m.oid);
    out
}

/// Drops a schema's members: views first (and the views of other schemas
/// that read its tables, as DROP VIEW ... CASCADE would), then tables with
/// their owned sequences, then sequences, then enum types.
fn drop_members(ctx: &mut ExecContext<'_>, members: &[Member]) -> PgResult<()> {
    let of = |k: Kind| -> Vec<Oid> {
        members
            .iter()
            .filter(|m| m.kind == k)
            .map(|m| m.oid)
            .collect()
    };
    let (views, tables, sequences) = (of(Kind::View), of(Kind::Table), of(Kind::Sequence));
    let types = of(Kind::Type);
    // a type a table outside the schema still uses would leave it a column
    // of no type
    let cat = ctx.txn.catalog();
    for &ty in &types {
        let outside = cat.tables.values().find(|t| {
            !tables.contains(&t.oid)
                && t.columns
                    .iter()
                    .any(|c| !c.dropped && tandem_storage::catalog::uses_type(&c.data_type, ty.0))
        });
        if let Some(t) = outside {
            return Err(PgError::unsupported(format!(
                "DROP SCHEMA CASCADE of a type table {} of another schema uses",
                t.name
            )));
        }
    }
    let mut relations = views.clone();
    relations.extend(&tables);
    super::view::drop_dependents(ctx, &relations, true)?;
    for oid in views {
        if ctx.txn.catalog().views.contains_key(&oid) {
            ctx.txn.drop_view(oid)?;
        }
    }
    for oid in tables {
        super::table::drop_owned_sequences(ctx, oid, None)?;
        ctx.txn.drop_table(oid)?;
    }
    for oid in sequences {
        ctx.txn.drop_sequence(oid)?;
    }
    for oid in types {
        ctx.txn.drop_type(oid)?;
    }
    Ok(())
}
