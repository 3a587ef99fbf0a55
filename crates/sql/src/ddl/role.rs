//! CREATE ROLE / CREATE USER, ALTER ROLE / ALTER USER, DROP ROLE / DROP USER
//! (PostgreSQL's `commands/user.c`). Passwords are stored as SCRAM-SHA-256
//! verifiers made by `tandem_protocol::scram::make_verifier`; a value that already
//! is a verifier is stored as given, as PostgreSQL does.

use sqlparser::ast::{
    AlterRoleOperation, CreateRole, Expr, Ident, ObjectName, Password, RoleOption,
    Value as AstValue,
};
use tandem_expr::ExecContext;
use tandem_storage::acl::AuthMember;
use tandem_storage::catalog::BOOTSTRAP_SUPERUSER_OID;
use tandem_storage::RoleDef;
use tandem_types::{Oid, PgError, PgResult, SqlState};

use super::skipping;
use crate::session::Session;
use crate::types::ident;

fn role_missing(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("role \"{name}\" does not exist"),
    )
}

fn object_ident(name: &ObjectName) -> PgResult<String> {
    match name.0.as_slice() {
        [p] => p
            .as_ident()
            .map(ident)
            .ok_or_else(|| PgError::syntax(format!("syntax error at or near \"{name}\""))),
        _ => Err(PgError::syntax(format!(
            "syntax error at or near \"{name}\""
        ))),
    }
}

fn password_value(p: &Password) -> PgResult<Option<String>> {
    match p {
        Password::NullPassword => Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            AstValue::SingleQuotedString(s) | AstValue::EscapedStringLiteral(s) => {
                if s.starts_with("SCRAM-SHA-256$") {
                    Ok(Some(s.clone()))
                } else {
                    Ok(Some(tandem_protocol::scram::make_verifier(s)))
                }
            }
            AstValue::Null => Ok(None),
            other => Err(PgError::syntax(format!(
                "syntax error at or near \"{other}\""
            ))),
        },
        Password::Password(other) => Err(PgError::syntax(format!(
            "syntax error at or near \"{other}\""
        ))),
    }
}

fn connection_limit(e: &Expr) -> PgResult<i32> {
    let text = e.to_string().replace(' ', "");
    let v: i32 = text
        .parse()
        .map_err(|_| PgError::syntax(format!("syntax error at or near \"{text}\"")))?;
    if v < -1 {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid connection limit: {v}"),
        ));
    }
    Ok(v)
}

/// The acting role (session user) from the catalog.
fn acting_role(ctx: &ExecContext<'_>) -> Option<RoleDef> {
    ctx.txn.catalog().role_by_name(&ctx.session.user).cloned()
}

fn may_create_roles(ctx: &ExecContext<'_>) -> (bool, bool) {
    let me = acting_role(ctx);
    let superuser = ctx.session.superuser || me.as_ref().is_some_and(|r| r.superuser);
    (superuser, superuser || me.is_some_and(|r| r.createrole))
}

pub(crate) fn create(s: &mut Session, cr: &CreateRole, create_user: bool) -> PgResult<String> {
    s.check_writable("CREATE ROLE")?;
    if !cr.in_role.is_empty()
        || !cr.in_group.is_empty()
        || !cr.role.is_empty()
        || !cr.user.is_empty()
        || !cr.admin.is_empty()
    {
        return Err(PgError::unsupported("role membership options"));
    }
    if cr.valid_until.is_some() {
        return Err(PgError::unsupported("VALID UNTIL"));
    }
    let names = cr
        .names
        .iter()
        .map(object_ident)
        .collect::<PgResult<Vec<_>>>()?;
    let password = cr
        .password
        .as_ref()
        .map(password_value)
        .transpose()?
        .flatten();
    let limit = cr
        .connection_limit
        .as_ref()
        .map(connection_limit)
        .transpose()?
        .unwrap_or(-1);
    s.with_ctx(&[], |ctx| {
        let (superuser, can_create) = may_create_roles(ctx);
        if !can_create {
            return Err(PgError::new(SqlState::INSUFFICIENT_PRIVILEGE, "permission denied to create role"));
        }
        let wants_privileged = cr.superuser == Some(true) || cr.replication == Some(true) || cr.bypassrls == Some(true);
        if wants_privileged && !superuser {
            return Err(PgError::new(SqlState::INSUFFICIENT_PRIVILEGE, "permission denied to create role")
                .with_detail("Only roles with the SUPERUSER attribute may create roles with the SUPERUSER, REPLICATION or BYPASSRLS attribute."));
        }
        for name in &names {
            if name.starts_with("pg_") {
                return Err(PgError::new(SqlState("42939"), format!("role name \"{name}\" is reserved"))
                    .with_detail("Role names starting with \"pg_\" are reserved."));
            }
            if ctx.txn.catalog().role_by_name(name).is_some() {
                return Err(PgError::new(SqlState::DUPLICATE_OBJECT, format!("role \"{name}\" already exists")));
            }
            let oid = ctx.txn.allocate_oid();
            ctx.txn.put_role(RoleDef {
                oid,
                name: name.clone(),
                superuser: cr.superuser.unwrap_or(false),
                inherit: cr.inherit.unwrap_or(true),
                createrole: cr.create_role.unwrap_or(false),
                createdb: cr.create_db.unwrap_or(false),
                login: cr.login.unwrap_or(create_user),
                replication: cr.replication.unwrap_or(false),
                bypassrls: cr.bypassrls.unwrap_or(false),
                connection_limit: limit,
                password: password.clone(),
            })?;
            // A non-superuser creator gets ADMIN OPTION on the new role
            // (PostgreSQL 16+, with createrole_self_grant empty).
            if !superuser {
                let grant_oid = ctx.txn.allocate_oid();
                ctx.txn.put_auth_member(AuthMember {
                    oid: grant_oid,
                    role: oid,
                    member: Oid(ctx.session.user_oid),
                    grantor: BOOTSTRAP_SUPERUSER_OID,
                    admin: true,
                    inherit: false,
                    set: false,
                })?;
            }
        }
        Ok(())
    })?;
    Ok("CREATE ROLE".into())
}

pub(crate) fn alter(s: &mut Session, name: &Ident, op: &AlterRoleOperation) -> PgResult<String> {
    s.check_writable("ALTER ROLE")?;
    let name = ident(name);
    s.with_ctx(&[], |ctx| {
        let mut role = ctx
            .txn
            .catalog()
            .role_by_name(&name)
            .cloned()
            .ok_or_else(|| role_missing(&name))?;
        let (superuser, createrole) = may_create_roles(ctx);
        let is_self = role.name == ctx.session.user;
        match op {
            AlterRoleOperation::RenameRole { role_name } => {
                let new = ident(role_name);
                if is_self {
                    return Err(PgError::unsupported("renaming the session user"));
                }
                if !(superuser || (createrole && !role.superuser)) {
                    return Err(PgError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "permission denied to rename role",
                    ));
                }
                if ctx.txn.catalog().role_by_name(&new).is_some() {
                    return Err(PgError::new(
                        SqlState::DUPLICATE_OBJECT,
                        format!("role \"{new}\" already exists"),
                    ));
                }
                role.name = new;
            }
            AlterRoleOperation::WithOptions { options } => {
                let only_password = options.iter().all(|o| matches!(o, RoleOption::Password(_)));
                let allowed =
                    superuser || (createrole && !role.superuser) || (is_self && only_password);
                let privileged = options.iter().any(|o| {
                    matches!(
                        o,
                        RoleOption::SuperUser(_)
                            | RoleOption::Replication(_)
                            | RoleOption::BypassRLS(_)
                    )
                });
                if !allowed || (privileged && !superuser) {
                    return Err(PgError::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "permission denied to alter role",
                    ));
                }
                for o in options {
                    match o {
                        RoleOption::BypassRLS(b) => role.bypassrls = *b,
                        RoleOption::ConnectionLimit(e) => {
                            role.connection_limit = connection_limit(e)?
                        }
                        RoleOption::CreateDB(b) => role.createdb = *b,
                        RoleOption::CreateRole(b) => role.createrole = *b,
                        RoleOption::Inherit(b) => role.inherit = *b,
                        RoleOption::Login(b) => role.login = *b,
                        RoleOption::Password(p) => role.password = password_value(p)?,
                        RoleOption::Replication(b) => role.replication = *b,
                        RoleOption::SuperUser(b) => role.superuser = *b,
                        RoleOption::ValidUntil(_) => {
                            return Err(PgError::unsupported("VALID UNTIL"))
                        }
                    }
                }
            }
            AlterRoleOperation::Set { .. } | AlterRoleOperation::Reset { .. } => {
                return Err(PgError::unsupported("ALTER ROLE ... SET"))
            }
            _ => return Err(PgError::unsupported("this form of ALTER ROLE")),
        }
        ctx.txn.put_role(role)
    })?;
    Ok("ALTER ROLE".into())
}

pub(crate) fn drop(s: &mut Session, names: &[ObjectName], if_exists: bool) -> PgResult<String> {
    s.check_writable("DROP ROLE")?;
    let names = names
        .iter()
        .map(object_ident)
        .collect::<PgResult<Vec<_>>>()?;
    s.with_ctx(&[], |ctx| {
        let (superuser, createrole) = may_create_roles(ctx);
        if !createrole {
            return Err(PgError::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "permission denied to drop role",
            ));
        }
        for name in &names {
            let Some(role) = ctx.txn.catalog().role_by_name(name).cloned() else {
                if if_exists {
                    ctx.notices.push(skipping(
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!("role \"{name}\" does not exist, skipping"),
                    ));
                    continue;
                }
                return Err(role_missing(name));
            };
            if role.name == ctx.session.user {
                return Err(PgError::new(
                    SqlState::OBJECT_IN_USE,
                    "current user cannot be dropped",
                ));
            }
            if role.oid.0 == 10 {
                return Err(PgError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop role {name} because it is required by the database system"
                    ),
                ));
            }
            if role.superuser && !superuser {
                return Err(PgError::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    "permission denied to drop role",
                ));
            }
            let cat = ctx.txn.catalog();
            let mut depends: Vec<String> = cat
                .tables
                .values()
                .filter(|t| t.owner == role.oid)
                .map(|t| format!("owner of table {}", t.name))
                .collect();
            for (oid, acl) in &cat.acls {
                if !acl
                    .iter()
                    .any(|i| i.grantee == role.oid || i.grantor == role.oid)
                {
                    continue;
                }
                if let Some(t) = cat.tables.get(oid) {
                    depends.push(format!("privileges for table {}", t.name));
                } else if let Some(d) = cat.databases.get(oid) {
                    depends.push(format!("privileges for database {}", d.name));
                }
            }
            if !depends.is_empty() {
                return Err(PgError::new(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!("role \"{name}\" cannot be dropped because some objects depend on it"),
                )
                .with_detail(depends.join("\n")));
            }
            ctx.txn.drop_role(role.oid)?;
        }
        Ok(())
    })?;
    Ok("DROP ROLE".into())
}
