//! GRANT / REVOKE: privileges on tables and databases, and role membership
//! (PostgreSQL's `catalog/aclchk.c` `ExecuteGrantStmt` and `commands/user.c`
//! `GrantRole`). The ACL rules (grantor choice, merging, cascading revoke)
//! live in `tandem_storage::acl`; this module resolves names, checks who may
//! grant, emits PostgreSQL's warnings, and writes the catalog.

use tandem_expr::ExecContext;
use tandem_storage::acl::{
    self, acl_update, grant_option_for, option_to_privs, select_best_grantor, AclItem, AclMode,
    AuthMember, DropBehavior, PUBLIC,
};
use tandem_storage::catalog::BOOTSTRAP_SUPERUSER_OID;
use tandem_storage::Catalog;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::undefined_relation;
use crate::front_parser::{GrantObjects, GrantStmt, RoleSpec};
use crate::session::Session;
use crate::types::split_qualified;

/// `0LP01 invalid_grant_operation`.
const INVALID_GRANT_OPERATION: SqlState = SqlState("0LP01");
/// `01007 privilege_not_granted` / `01006 privilege_not_revoked`.
const PRIVILEGE_NOT_GRANTED: SqlState = SqlState("01007");
const PRIVILEGE_NOT_REVOKED: SqlState = SqlState("01006");

pub(crate) fn execute(s: &mut Session, g: &GrantStmt) -> PgResult<String> {
    let (grant, roles) = match g {
        GrantStmt::Privileges { grant, .. } => (*grant, false),
        GrantStmt::Roles { grant, .. } => (*grant, true),
    };
    s.check_writable(if grant { "GRANT" } else { "REVOKE" })?;
    s.with_ctx(&[], |ctx| match g {
        GrantStmt::Privileges { .. } => privileges(ctx, g),
        GrantStmt::Roles { .. } => membership(ctx, g),
    })?;
    Ok(match (grant, roles) {
        (true, false) => "GRANT",
        (false, false) => "REVOKE",
        (true, true) => "GRANT ROLE",
        (false, true) => "REVOKE ROLE",
    }
    .into())
}

/// `role "x" does not exist` (42704).
pub(crate) fn role_missing(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

/// The acting role: the session's user.
pub(crate) fn current_role(ctx: &ExecContext<'_>) -> Oid {
    Oid(ctx.session.user_oid)
}

/// A role by name (42704 when unknown).
pub(crate) fn role_oid(cat: &Catalog, name: &str) -> PgResult<Oid> {
    cat.role_by_name(name)
        .map(|r| r.oid)
        .ok_or_else(|| role_missing(name))
}

fn resolve_spec(ctx: &ExecContext<'_>, cat: &Catalog, spec: &RoleSpec) -> PgResult<Oid> {
    match spec {
        RoleSpec::Name(n) => role_oid(cat, n),
        RoleSpec::Public => Ok(PUBLIC),
        RoleSpec::CurrentUser | RoleSpec::SessionUser => Ok(current_role(ctx)),
    }
}

fn role_name(cat: &Catalog, oid: Oid) -> String {
    cat.roles
        .get(&oid)
        .map(|r| r.name.clone())
        .unwrap_or_else(|| oid.0.to_string())
}

/// One object a privilege statement names: its oid, name, owner and kind.
struct Target {
    oid: Oid,
    name: String,
    owner: Oid,
    kind: Kind,
}

/// The kinds of object privileges are granted on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    Database,
    Schema,
}

impl Kind {
    /// Everything the kind can be granted, and its word in messages.
    fn rights(self) -> (AclMode, &'static str) {
        match self {
            Kind::Table => (acl::ALL_RIGHTS_RELATION, "table"),
            Kind::Database => (acl::ALL_RIGHTS_DATABASE, "database"),
            Kind::Schema => (acl::ALL_RIGHTS_SCHEMA, "schema"),
        }
    }
}

fn targets(cat: &Catalog, path: &[String], objects: &GrantObjects) -> PgResult<Vec<Target>> {
    let table = |t: &tandem_storage::TableDef| Target {
        oid: t.oid,
        name: t.name.clone(),
        owner: t.owner,
        kind: Kind::Table,
    };
    let view = |v: &tandem_storage::ViewDef| Target {
        oid: v.oid,
        name: v.name.clone(),
        owner: v.owner,
        kind: Kind::Table,
    };
    match objects {
        GrantObjects::Tables(names) => names
            .iter()
            .map(|n| {
                let parts: Vec<String> = n.split('.').map(str::to_string).collect();
                let name = split_qualified(&parts)?;
                let schema = cat.lookup_schema(path, name.schema.as_deref(), &name.name);
                cat.table_by_name(&schema, &name.name)
                    .map(|t| table(t))
                    .or_else(|| cat.view_by_name(&schema, &name.name).map(|v| view(v)))
                    .ok_or_else(|| undefined_relation(&name.shown()))
            })
            .collect(),
        GrantObjects::AllTablesInSchema(schemas) => {
            let mut out = Vec::new();
            for s in schemas {
                if cat.schema_oid(s).is_none() {
                    return Err(PgError::new(
                        SqlState::INVALID_SCHEMA_NAME,
                        format!("schema \"{s}\" does not exist"),
                    ));
                }
                out.extend(
                    cat.tables
                        .values()
                        .filter(|t| t.schema == *s)
                        .map(|t| table(t)),
                );
                out.extend(
                    cat.views
                        .values()
                        .filter(|v| v.schema == *s)
                        .map(|v| view(v)),
                );
            }
            Ok(out)
        }
        GrantObjects::Databases(names) => names
            .iter()
            .map(|n| {
                cat.database_by_name(n)
                    .map(|d| Target {
                        oid: d.oid,
                        name: d.name.clone(),
                        owner: d.owner,
                        kind: Kind::Database,
                    })
                    .ok_or_else(|| {
                        PgError::new(
                            SqlState::UNDEFINED_DATABASE,
                            format!("database \"{n}\" does not exist"),
                        )
                    })
            })
            .collect(),
        GrantObjects::Schemas(names) => names
            .iter()
            .map(|n| {
                let oid = cat.schema_oid(n).ok_or_else(|| {
                    PgError::new(
                        SqlState::INVALID_SCHEMA_NAME,
                        format!("schema \"{n}\" does not exist"),
                    )
                })?;
                Ok(Target {
                    oid,
                    name: n.clone(),
                    owner: cat.schema_owner(oid).unwrap_or(oid),
                    kind: Kind::Schema,
                })
            })
            .collect(),
        GrantObjects::Unsupported(what) => Err(PgError::unsupported(what.clone())),
    }
}

/// The privilege bits a GRANT/REVOKE names for an object kind; `None` for ALL.
fn privilege_mask(
    names: Option<&Vec<String>>,
    all_rights: AclMode,
    kind: &str,
) -> PgResult<AclMode> {
    let Some(names) = names else {
        return Ok(all_rights);
    };
    let mut mask = 0;
    for n in names {
        let bit = acl::privilege_by_name(n)
            .ok_or_else(|| PgError::syntax(format!("unrecognized privilege type \"{n}\"")))?;
        if bit & all_rights == 0 {
            return Err(PgError::new(
                INVALID_GRANT_OPERATION,
                format!(
                    "invalid privilege type {} for {kind}",
                    acl::privilege_name(bit)
                ),
            ));
        }
        mask |= bit;
    }
    Ok(mask)
}

fn privileges(ctx: &mut ExecContext<'_>, g: &GrantStmt) -> PgResult<()> {
    let GrantStmt::Privileges {
        grant,
        grant_option,
        privileges,
        columns,
        objects,
        grantees,
        granted_by,
        cascade,
    } = g
    else {
        return Ok(());
    };
    if *columns {
        return Err(PgError::unsupported("column privileges"));
    }
    if granted_by.is_some() {
        return Err(PgError::unsupported("GRANTED BY"));
    }
    let cat = ctx.txn.catalog();
    let me = current_role(ctx);
    let grantee_oids = grantees
        .iter()
        .map(|spec| resolve_spec(ctx, &cat, spec))
        .collect::<PgResult<Vec<_>>>()?;
    let behavior = if *cascade {
        DropBehavior::Cascade
    } else {
        DropBehavior::Restrict
    };
    for target in targets(&cat, &crate::types::search_path(ctx), objects)? {
        // Each step sees the previous ones (a table named twice).
        let cat = ctx.txn.catalog();
        let (all_rights, kind) = target.kind.rights();
        let wanted = privilege_mask(privileges.as_ref(), all_rights, kind)?;
        let mut acl = match target.kind {
            Kind::Database => cat.database_acl(target.oid),
            Kind::Schema => cat.schema_acl(target.oid),
            Kind::Table => cat.table_acl(target.oid),
        };
        let (grantor, avail) = select_best_grantor(&cat, me, wanted, &acl, target.owner);
        if avail == 0 {
            let any = all_rights | grant_option_for(all_rights);
            let held = match target.kind {
                Kind::Database => cat.database_aclmask(target.oid, me, any),
                Kind::Schema => cat.schema_aclmask(target.oid, me, any),
                Kind::Table => cat.table_aclmask(target.oid, me, any),
            };
            if held == 0 {
                return Err(PgError::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    format!("permission denied for {kind} {}", target.name),
                ));
            }
        }
        let this = wanted & option_to_privs(avail);
        let (none, some, code) = if *grant {
            (
                "no privileges were granted",
                "not all privileges were granted",
                PRIVILEGE_NOT_GRANTED,
            )
        } else {
            (
                "no privileges could be revoked",
                "not all privileges could be revoked",
                PRIVILEGE_NOT_REVOKED,
            )
        };
        if this == 0 {
            ctx.notices.push(PgError {
                code,
                ..PgError::warning(format!("{none} for \"{}\"", target.name))
            });
        } else if privileges.is_some() && this != wanted {
            ctx.notices.push(PgError {
                code,
                ..PgError::warning(format!("{some} for \"{}\"", target.name))
            });
        }
        let mode = if *grant {
            this | if *grant_option {
                grant_option_for(this)
            } else {
                0
            }
        } else {
            // REVOKE takes the grant option along; GRANT OPTION FOR only it.
            grant_option_for(this) | if *grant_option { 0 } else { this }
        };
        for &grantee in &grantee_oids {
            acl_update(
                &cat,
                &mut acl,
                AclItem {
                    grantee,
                    grantor,
                    mode,
                },
                *grant,
                target.owner,
                behavior,
            )?;
        }
        ctx.txn.set_acl(target.oid, Some(acl))?;
    }
    Ok(())
}

fn permission_denied_role(grant: bool, role: &str, detail: String) -> PgError {
    let verb = if grant { "grant" } else { "revoke" };
    PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied to {verb} role \"{role}\""),
    )
    .with_detail(detail)
}

fn membership(ctx: &mut ExecContext<'_>, g: &GrantStmt) -> PgResult<()> {
    let GrantStmt::Roles {
        grant,
        roles,
        members,
        options,
        granted_by,
        cascade,
    } = g
    else {
        return Ok(());
    };
    let grant = *grant;
    let (mut admin, mut inherit, mut set) = (None, None, None);
    for (name, value) in options {
        match name.as_str() {
            "admin" => admin = Some(*value),
            "inherit" => inherit = Some(*value),
            "set" => set = Some(*value),
            other => {
                return Err(PgError::syntax(format!(
                    "unrecognized role option \"{other}\""
                )))
            }
        }
    }
    let me = current_role(ctx);
    let verb = if grant { "grant" } else { "revoke" };
    for role_name_text in roles {
        let cat = ctx.txn.catalog();
        let role = role_oid(&cat, role_name_text)?;
        if role == acl::PG_DATABASE_OWNER {
            return Err(PgError::new(
                INVALID_GRANT_OPERATION,
                format!("role \"{role_name_text}\" cannot have explicit members"),
            ));
        }
        // Who may grant (check_role_membership_authorization).
        let superuser = cat.is_superuser(me);
        if cat.is_superuser(role) && !superuser {
            return Err(permission_denied_role(
                grant,
                role_name_text,
                format!("Only roles with the SUPERUSER attribute may {verb} roles with the SUPERUSER attribute."),
            ));
        }
        if !superuser && !cat.is_admin_of_role(me, role) {
            return Err(permission_denied_role(
                grant,
                role_name_text,
                format!("Only roles with the ADMIN option on role \"{role_name_text}\" may {verb} this role."),
            ));
        }
        let grantor = match granted_by {
            Some(spec) => {
                let g = resolve_spec(ctx, &cat, spec)?;
                let gname = role_name(&cat, g);
                if !cat.has_privs_of_role(me, g) {
                    return Err(PgError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        format!("permission denied to {verb} privileges as role \"{gname}\""),
                    )
                    .with_detail(format!(
                        "Only roles with privileges of role \"{gname}\" may {verb} privileges as this role."
                    )));
                }
                if g != BOOTSTRAP_SUPERUSER_OID && !cat.is_admin_of_role(g, role) {
                    return Err(PgError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        format!("permission denied to {verb} privileges as role \"{gname}\""),
                    )
                    .with_detail(format!(
                        "The grantor must have the ADMIN option on role \"{role_name_text}\"."
                    )));
                }
                g
            }
            None if superuser => BOOTSTRAP_SUPERUSER_OID,
            None => cat.admin_through(me, role).unwrap_or(me),
        };
        for spec in members {
            let cat = ctx.txn.catalog();
            let member = match spec {
                RoleSpec::Public => return Err(role_missing("public")),
                other => resolve_spec(ctx, &cat, other)?,
            };
            let member_name = role_name(&cat, member);
            let existing = cat
                .auth_members
                .values()
                .find(|m| m.role == role && m.member == member && m.grantor == grantor)
                .cloned();
            let grantor_name = role_name(&cat, grantor);
            if grant {
                // A role may not end up a member of itself.
                if member == role
                    || cat
                        .roles_member_of(role, acl::Recurse::Members)
                        .contains(&member)
                {
                    return Err(PgError::new(
                        INVALID_GRANT_OPERATION,
                        format!("role \"{role_name_text}\" is a member of role \"{member_name}\""),
                    ));
                }
                match existing {
                    Some(mut m) => {
                        let unchanged = admin.is_none_or(|v| v == m.admin)
                            && inherit.is_none_or(|v| v == m.inherit)
                            && set.is_none_or(|v| v == m.set);
                        if unchanged {
                            ctx.notices.push(PgError::notice(format!(
                                "role \"{member_name}\" has already been granted membership in role \"{role_name_text}\" by role \"{grantor_name}\""
                            )));
                            continue;
                        }
                        if admin == Some(false) && m.admin {
                            check_dependent_grants(&cat, role, member, false)?;
                        }
                        m.admin = admin.unwrap_or(m.admin);
                        m.inherit = inherit.unwrap_or(m.inherit);
                        m.set = set.unwrap_or(m.set);
                        ctx.txn.put_auth_member(m)?;
                    }
                    None => {
                        let member_inherits = cat.roles.get(&member).is_none_or(|r| r.inherit);
                        let oid = ctx.txn.allocate_oid();
                        ctx.txn.put_auth_member(AuthMember {
                            oid,
                            role,
                            member,
                            grantor,
                            admin: admin.unwrap_or(false),
                            inherit: inherit.unwrap_or(member_inherits),
                            set: set.unwrap_or(true),
                        })?;
                    }
                }
            } else {
                let Some(mut m) = existing else {
                    ctx.notices.push(PgError::warning(format!(
                        "role \"{member_name}\" has not been granted membership in role \"{role_name_text}\" by role \"{grantor_name}\""
                    )));
                    continue;
                };
                let whole = options.is_empty();
                if (whole || admin.is_some()) && m.admin {
                    for dep in check_dependent_grants(&cat, role, member, *cascade)? {
                        ctx.txn.drop_auth_member(dep)?;
                    }
                }
                if whole {
                    ctx.txn.drop_auth_member(m.oid)?;
                } else {
                    if admin.is_some() {
                        m.admin = false;
                    }
                    if inherit.is_some() {
                        m.inherit = false;
                    }
                    if set.is_some() {
                        m.set = false;
                    }
                    ctx.txn.put_auth_member(m)?;
                }
            }
        }
    }
    Ok(())
}

/// Grants of `role` that `member` made with its ADMIN OPTION: an error
/// unless `cascade`, in which case their oids (to be removed) are returned.
fn check_dependent_grants(
    cat: &Catalog,
    role: Oid,
    member: Oid,
    cascade: bool,
) -> PgResult<Vec<Oid>> {
    let deps: Vec<Oid> = cat
        .auth_members
        .values()
        .filter(|m| m.role == role && m.grantor == member)
        .map(|m| m.oid)
        .collect();
    if !deps.is_empty() && !cascade {
        return Err(PgError::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            "dependent privileges exist",
        )
        .with_hint("Use CASCADE to revoke them too."));
    }
    Ok(deps)
}
