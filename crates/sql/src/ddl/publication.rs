//! CREATE / ALTER / DROP PUBLICATION (PostgreSQL's `commands/publicationcmds.c`
//! and the membership checks of `catalog/pg_publication.c`). A publication is
//! catalog state (`Catalog.publications`): the statements validate, then write a
//! whole new [`PublicationDef`] through the session's storage transaction, so
//! they are transactional, WAL-logged and replayed like other DDL. Logical
//! decoding (`pgoutput`) reads the definitions from its historic catalog.

use std::collections::BTreeSet;

use tandem_expr::ExecContext;
use tandem_storage::{Catalog, PublicationDef};
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::{acting, check_database_create, skipping};
use crate::front_parser::{AlterPubAction, PubObject, PubOption, PubTarget, PublicationStmt};
use crate::session::Session;
use crate::types::front_relation_name;

pub(crate) fn execute(s: &mut Session, stmt: &PublicationStmt) -> PgResult<String> {
    match stmt {
        PublicationStmt::Create {
            name,
            target,
            options,
        } => {
            s.check_writable("CREATE PUBLICATION")?;
            s.with_ctx(&[], |ctx| create(ctx, name, target, options))?;
            Ok("CREATE PUBLICATION".into())
        }
        PublicationStmt::Alter { name, action } => {
            s.check_writable("ALTER PUBLICATION")?;
            s.with_ctx(&[], |ctx| alter(ctx, name, action))?;
            Ok("ALTER PUBLICATION".into())
        }
        PublicationStmt::Drop { names, if_exists } => {
            s.check_writable("DROP PUBLICATION")?;
            s.with_ctx(&[], |ctx| drop(ctx, names, *if_exists))?;
            Ok("DROP PUBLICATION".into())
        }
    }
}

// ---- errors ----

fn undefined_publication(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("publication \"{name}\" does not exist"),
    )
}

fn duplicate_publication(name: &str) -> PgError {
    PgError::new(
        SqlState::DUPLICATE_OBJECT,
        format!("publication \"{name}\" already exists"),
    )
}

fn denied(message: String) -> PgError {
    PgError::new(SqlState::INSUFFICIENT_PRIVILEGE, message)
}

fn options_syntax(message: String) -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, message)
}

fn cannot_add(name: &str, what: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("cannot add relation \"{name}\" to publication"),
    )
    .with_detail(format!("This operation is not supported for {what}."))
}

fn all_tables_membership(name: &str) -> PgError {
    PgError::new(
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("publication \"{name}\" is defined as FOR ALL TABLES"),
    )
    .with_detail("Tables cannot be added to or dropped from FOR ALL TABLES publications.")
}

// ---- privileges ----

fn is_superuser_role(cat: &Catalog, role: Oid) -> bool {
    cat.roles.get(&role).is_some_and(|r| r.superuser)
}

fn check_owner(ctx: &ExecContext<'_>, p: &PublicationDef) -> PgResult<()> {
    let (me, superuser) = acting(ctx);
    if superuser || p.owner == me {
        Ok(())
    } else {
        Err(denied(format!("must be owner of publication {}", p.name)))
    }
}

// ---- options ----

/// The effect of a `WITH (...)` list: only the options given are `Some`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct PubOptions {
    /// insert, update, delete, truncate
    pub publish: Option<[bool; 4]>,
    pub via_root: Option<bool>,
}

/// PostgreSQL's `parse_publication_options`.
pub(crate) fn parse_options(opts: &[PubOption]) -> PgResult<PubOptions> {
    let mut out = PubOptions::default();
    for o in opts {
        match o.name.as_str() {
            "publish" => {
                if out.publish.is_some() {
                    return Err(redundant(o));
                }
                let value = o
                    .value
                    .as_deref()
                    .ok_or_else(|| options_syntax("publish requires a parameter".into()))?;
                out.publish = Some(parse_publish(value)?);
            }
            "publish_via_partition_root" => {
                if out.via_root.is_some() {
                    return Err(redundant(o));
                }
                out.via_root = Some(match o.value.as_deref() {
                    None => true,
                    Some(v) => parse_boolean(v).ok_or_else(|| {
                        options_syntax("publish_via_partition_root requires a Boolean value".into())
                    })?,
                });
            }
            other => {
                return Err(options_syntax(format!(
                    "unrecognized publication parameter: \"{other}\""
                )))
            }
        }
    }
    Ok(out)
}

fn redundant(o: &PubOption) -> PgError {
    options_syntax("conflicting or redundant options".into()).with_position(o.position)
}

/// `defGetBoolean`: true/false/on/off (any case), 1/0.
fn parse_boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Some(true),
        "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// The `publish` list: comma-separated operation names (an identifier list,
/// so case-folded and trimmed); empty publishes nothing.
pub(crate) fn parse_publish(value: &str) -> PgResult<[bool; 4]> {
    let mut flags = [false; 4];
    if value.trim().is_empty() {
        return Ok(flags);
    }
    for part in value.split(',') {
        let word = part.trim();
        let folded = match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            Some(quoted) => quoted.to_string(),
            None => word.to_lowercase(),
        };
        let i = match folded.as_str() {
            "insert" => 0,
            "update" => 1,
            "delete" => 2,
            "truncate" => 3,
            _ => {
                return Err(options_syntax(format!(
                    "unrecognized value for publication option \"publish\": \"{folded}\""
                )))
            }
        };
        flags[i] = true;
    }
    Ok(flags)
}

// ---- tables ----

/// Resolves the tables of a `TABLE ...` list (duplicates collapse), checking
/// that each may be published and that the acting role owns it.
fn resolve_tables(ctx: &ExecContext<'_>, objs: &[PubObject]) -> PgResult<Vec<(Oid, String)>> {
    let (me, superuser) = acting(ctx);
    let mut out: Vec<(Oid, String)> = Vec::new();
    for obj in objs {
        let written = match obj {
            PubObject::Table(n) => n,
            PubObject::Unsupported(what) => return Err(PgError::unsupported(what)),
        };
        let rel = front_relation_name(written)?;
        let name = rel.name.clone();
        let oid = match rel.table(ctx) {
            Some(t) => {
                if !superuser && t.owner != me {
                    return Err(denied(format!("must be owner of table {name}")));
                }
                t.oid
            }
            None if rel.sequence(ctx).is_some() => return Err(cannot_add(&name, "sequences")),
            None if !written.contains('.')
                && tandem_expr::catalog::view_by_name("pg_catalog", &name).is_some() =>
            {
                return Err(cannot_add(&name, "system tables"))
            }
            None => return Err(super::undefined_relation(written)),
        };
        if !out.iter().any(|(o, _)| *o == oid) {
            out.push((oid, name));
        }
    }
    Ok(out)
}

// ---- statements ----

fn create(
    ctx: &mut ExecContext<'_>,
    name: &str,
    target: &PubTarget,
    options: &[PubOption],
) -> PgResult<()> {
    let (me, superuser) = acting(ctx);
    check_database_create(ctx, me)?;
    if *target == PubTarget::AllTables && !superuser {
        return Err(denied(
            "must be superuser to create FOR ALL TABLES publication".into(),
        ));
    }
    if ctx.txn.catalog().publication_by_name(name).is_some() {
        return Err(duplicate_publication(name));
    }
    let opts = parse_options(options)?;
    let tables = match target {
        PubTarget::Objects(objs) => resolve_tables(ctx, objs)?,
        PubTarget::Empty | PubTarget::AllTables => Vec::new(),
    };
    let [pub_insert, pub_update, pub_delete, pub_truncate] = opts.publish.unwrap_or([true; 4]);
    let def = PublicationDef {
        oid: ctx.txn.allocate_oid(),
        name: name.to_string(),
        owner: me,
        all_tables: *target == PubTarget::AllTables,
        pub_insert,
        pub_update,
        pub_delete,
        pub_truncate,
        via_root: opts.via_root.unwrap_or(false),
        tables: tables.into_iter().map(|(o, _)| o).collect(),
    };
    ctx.txn.put_publication(def)
}

fn alter(ctx: &mut ExecContext<'_>, name: &str, action: &AlterPubAction) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let mut def = cat
        .publication_by_name(name)
        .cloned()
        .ok_or_else(|| undefined_publication(name))?;
    check_owner(ctx, &def)?;
    match action {
        AlterPubAction::Options(opts) => {
            let opts = parse_options(opts)?;
            if let Some([i, u, d, t]) = opts.publish {
                (
                    def.pub_insert,
                    def.pub_update,
                    def.pub_delete,
                    def.pub_truncate,
                ) = (i, u, d, t);
            }
            if let Some(v) = opts.via_root {
                def.via_root = v;
            }
        }
        AlterPubAction::Add(objs) | AlterPubAction::Set(objs) | AlterPubAction::Drop(objs) => {
            if def.all_tables {
                return Err(all_tables_membership(name));
            }
            let tables = resolve_tables(ctx, objs)?;
            match action {
                AlterPubAction::Add(_) => {
                    for (oid, tname) in &tables {
                        if def.tables.contains(oid) {
                            return Err(PgError::new(
                                SqlState::DUPLICATE_OBJECT,
                                format!(
                                    "relation \"{tname}\" is already member of publication \"{name}\""
                                ),
                            ));
                        }
                    }
                    def.tables.extend(tables.iter().map(|(o, _)| *o));
                }
                AlterPubAction::Drop(_) => {
                    for (oid, tname) in &tables {
                        if !def.tables.remove(oid) {
                            return Err(PgError::new(
                                SqlState::UNDEFINED_OBJECT,
                                format!("relation \"{tname}\" is not part of the publication"),
                            ));
                        }
                    }
                }
                _ => {
                    def.tables = tables.iter().map(|(o, _)| *o).collect::<BTreeSet<_>>();
                }
            }
        }
        AlterPubAction::Rename(new) => {
            if cat.publication_by_name(new).is_some() {
                return Err(duplicate_publication(new));
            }
            def.name = new.clone();
        }
        AlterPubAction::Owner(role) => {
            let (me, superuser) = acting(ctx);
            let new_owner = match role {
                None => me,
                Some(r) => cat.role_by_name(r).map(|r| r.oid).ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("role \"{r}\" does not exist"),
                    )
                })?,
            };
            if new_owner == def.owner {
                return Ok(());
            }
            if !superuser {
                if new_owner != me {
                    let rname = role.clone().unwrap_or_default();
                    return Err(denied(format!("must be able to SET ROLE \"{rname}\"")));
                }
                check_database_create(ctx, new_owner)?;
            }
            if def.all_tables && !is_superuser_role(&cat, new_owner) {
                return Err(denied(format!(
                    "permission denied to change owner of publication \"{name}\""
                ))
                .with_hint("The owner of a FOR ALL TABLES publication must be a superuser."));
            }
            def.owner = new_owner;
        }
    }
    ctx.txn.put_publication(def)
}

fn drop(ctx: &mut ExecContext<'_>, names: &[String], if_exists: bool) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let mut doomed: Vec<Oid> = Vec::new();
    for name in names {
        match cat.publication_by_name(name) {
            Some(p) => {
                check_owner(ctx, p)?;
                if !doomed.contains(&p.oid) {
                    doomed.push(p.oid);
                }
            }
            None if if_exists => ctx.notices.push(skipping(
                SqlState::SUCCESSFUL_COMPLETION,
                format!("publication \"{name}\" does not exist, skipping"),
            )),
            None => return Err(undefined_publication(name)),
        }
    }
    for oid in doomed {
        ctx.txn.drop_publication(oid)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str, value: Option<&str>) -> PubOption {
        PubOption {
            name: name.into(),
            value: value.map(str::to_string),
            position: 7,
        }
    }

    #[test]
    fn publish_lists() {
        assert_eq!(parse_publish(""), Ok([false; 4]));
        assert_eq!(
            parse_publish(" insert , TRUNCATE "),
            Ok([true, false, false, true])
        );
        let e = parse_publish("insert, foo").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(
            e.message,
            "unrecognized value for publication option \"publish\": \"foo\""
        );
    }

    #[test]
    fn option_lists() {
        let o = parse_options(&[
            opt("publish", Some("update")),
            opt("publish_via_partition_root", Some("on")),
        ])
        .unwrap_or_default();
        assert_eq!(o.publish, Some([false, true, false, false]));
        assert_eq!(o.via_root, Some(true));
        assert_eq!(
            parse_options(&[opt("publish_via_partition_root", None)]).map(|o| o.via_root),
            Ok(Some(true))
        );
        let e = parse_options(&[opt("publish", Some("insert")), opt("publish", Some("x"))])
            .unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.position),
            ("conflicting or redundant options", Some(7))
        );
        let e = parse_options(&[opt("foo", Some("1"))]).unwrap_err();
        assert_eq!(e.message, "unrecognized publication parameter: \"foo\"");
        let e = parse_options(&[opt("publish", None)]).unwrap_err();
        assert_eq!(e.message, "publish requires a parameter");
        let e = parse_options(&[opt("publish_via_partition_root", Some("maybe"))]).unwrap_err();
        assert_eq!(
            e.message,
            "publish_via_partition_root requires a Boolean value"
        );
    }
}
