//! `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]` and `DROP
//! SCHEMA [IF EXISTS] name, ... [CASCADE | RESTRICT]` (PostgreSQL's
//! `commands/schemacmds.c`). A schema is a catalog entry
//! ([`tandem_storage::SchemaDef`]); tables, views and sequences name theirs,
//! and unqualified names are looked up along `search_path`
//! (`crate::types::RelName`).

use sqlparser::ast::{ObjectName, SchemaName};
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
        if schema.starts_with("pg_") {
            return Err(PgError::new(
                SqlState::RESERVED_NAME,
                format!("unacceptable schema name \"{schema}\""),
            )
            .with_detail("The prefix \"pg_\" is reserved for system schemas."));
        }
        let oid = ctx.txn.allocate_oid();
        ctx.txn.put_schema(SchemaDef {
            oid,
            name: schema.clone(),
            owner,
        })
    })?;
    Ok("CREATE SCHEMA".into())
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
                    .map(|m| format!("{} depends on schema {name}", m.described))
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    View,
    Sequence,
}

/// The tables, views and sequences of schema `name` (sequences owned by a
/// column go with their table), in creation (oid) order.
fn members(ctx: &ExecContext<'_>, name: &str) -> Vec<Member> {
    let cat = ctx.txn.catalog();
    let member = |oid: Oid, kind: Kind, word: &str, rel: &str| Member {
        oid,
        kind,
        described: format!("{word} {name}.{rel}"),
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
    out.sort_by_key(|m| m.oid);
    out
}

/// Drops a schema's members: views first (and the views of other schemas
/// that read its tables, as DROP VIEW ... CASCADE would), then tables with
/// their owned sequences, then sequences.
fn drop_members(ctx: &mut ExecContext<'_>, members: &[Member]) -> PgResult<()> {
    let of = |k: Kind| -> Vec<Oid> {
        members
            .iter()
            .filter(|m| m.kind == k)
            .map(|m| m.oid)
            .collect()
    };
    let (views, tables, sequences) = (of(Kind::View), of(Kind::Table), of(Kind::Sequence));
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
    Ok(())
}
