//! CREATE / ALTER / DROP SUBSCRIPTION (PostgreSQL's
//! `commands/subscriptioncmds.c`): option rules and errors, and the catalog
//! state (`Catalog.subscriptions`: `pg_subscription` plus its
//! `pg_subscription_rel` rows) the apply worker reads. Every change is a whole
//! new [`SubscriptionDef`] written through the session's storage transaction
//! (transactional, WAL-logged, replayed like other DDL).
//!
//! What needs the publisher (creating, dropping and altering the remote
//! logical slot; listing the published tables) goes through
//! [`tandem_expr::ServerHooks::subscription_remote`]: this crate opens no
//! connections. Remote actions run before the catalog change, so a failed one
//! leaves the catalog untouched. The apply workers (one per enabled
//! subscription, started by the launcher; each copies its subscription's new
//! tables before streaming) live in the server crate and follow this catalog
//! state.

use std::collections::{BTreeMap, BTreeSet};

use tandem_client::check_conninfo;
use tandem_expr::{
    ExecContext, SubscriptionRemoteAction, SubscriptionRemoteRequest, SubscriptionRemoteResult,
};
use tandem_replication::origin::origin_name;
use tandem_replication::slot::validate_name as validate_slot_name;
use tandem_storage::{SubscriptionDef, SubscriptionRelState};
use tandem_types::{Lsn, Oid, PgError, PgResult, SqlState};

use super::{acting, skipping};
use crate::front_parser::{AlterSubAction, PubOption, SubscriptionStmt};
use crate::session::Session;

pub(crate) fn execute(s: &mut Session, stmt: &SubscriptionStmt) -> PgResult<String> {
    // PreventInTransactionBlock is decided per statement and option, inside.
    let in_block = s.prevent_in_block("x").is_err();
    match stmt {
        SubscriptionStmt::Create {
            name,
            conninfo,
            publications,
            options,
        } => {
            s.check_writable("CREATE SUBSCRIPTION")?;
            s.with_ctx(&[], |ctx| {
                create(ctx, in_block, name, conninfo, publications, options)
            })?;
            Ok("CREATE SUBSCRIPTION".into())
        }
        SubscriptionStmt::Alter { name, action } => {
            s.check_writable("ALTER SUBSCRIPTION")?;
            s.with_ctx(&[], |ctx| alter(ctx, in_block, name, action))?;
            Ok("ALTER SUBSCRIPTION".into())
        }
        SubscriptionStmt::Drop { name, if_exists } => {
            s.check_writable("DROP SUBSCRIPTION")?;
            s.with_ctx(&[], |ctx| drop(ctx, in_block, name, *if_exists))?;
            Ok("DROP SUBSCRIPTION".into())
        }
    }
}

// ---- errors ----

fn syntax(message: impl Into<String>) -> PgError {
    PgError::new(SqlState::SYNTAX_ERROR, message)
}

fn prerequisite(message: impl Into<String>) -> PgError {
    PgError::new(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE, message)
}

fn undefined_subscription(name: &str) -> PgError {
    PgError::new(
        SqlState::UNDEFINED_OBJECT,
        format!("subscription \"{name}\" does not exist"),
    )
}

fn duplicate_subscription(name: &str) -> PgError {
    PgError::new(
        SqlState::DUPLICATE_OBJECT,
        format!("subscription \"{name}\" already exists"),
    )
}

fn denied(message: impl Into<String>) -> PgError {
    PgError::new(SqlState::INSUFFICIENT_PRIVILEGE, message)
}

/// `PreventInTransactionBlock`'s error.
fn in_block_error(what: &str) -> PgError {
    PgError::new(
        SqlState::ACTIVE_SQL_TRANSACTION,
        format!("{what} cannot run inside a transaction block"),
    )
}

fn password_superuser_only() -> PgError {
    denied("password_required=false is superuser-only").with_hint(
        "Subscriptions with the password_required option set to false may only be created or modified by the superuser.",
    )
}

// ---- options ----

/// Which options a statement accepts (PostgreSQL's `SUBOPT_*` sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OptionSet {
    Create,
    /// `ALTER ... SET (...)`
    AlterSet,
    /// `SET / ADD / DROP PUBLICATION ... WITH (...)`
    Publication,
    /// `REFRESH PUBLICATION WITH (...)`
    Refresh,
    /// `SKIP (...)`
    Skip,
}

impl OptionSet {
    fn accepts(self, name: &str) -> bool {
        match self {
            OptionSet::Create => matches!(
                name,
                "connect"
                    | "enabled"
                    | "create_slot"
                    | "slot_name"
                    | "copy_data"
                    | "synchronous_commit"
                    | "binary"
                    | "streaming"
                    | "two_phase"
                    | "disable_on_error"
                    | "password_required"
                    | "run_as_owner"
                    | "origin"
                    | "failover"
            ),
            OptionSet::AlterSet => matches!(
                name,
                "slot_name"
                    | "synchronous_commit"
                    | "binary"
                    | "streaming"
                    | "disable_on_error"
                    | "password_required"
                    | "run_as_owner"
                    | "origin"
                    | "failover"
            ),
            OptionSet::Publication => matches!(name, "refresh" | "copy_data"),
            OptionSet::Refresh => name == "copy_data",
            OptionSet::Skip => name == "lsn",
        }
    }
}

/// The options given (`Some`) in a `WITH (...)` / `SET (...)` list.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SubOptions {
    pub connect: Option<bool>,
    pub enabled: Option<bool>,
    pub create_slot: Option<bool>,
    /// `Some(None)` is `slot_name = NONE`.
    pub slot_name: Option<Option<String>>,
    pub copy_data: Option<bool>,
    pub synchronous_commit: Option<String>,
    pub binary: Option<bool>,
    /// `f`, `t` or `p`
    pub streaming: Option<u8>,
    pub two_phase: Option<bool>,
    pub disable_on_error: Option<bool>,
    pub password_required: Option<bool>,
    pub run_as_owner: Option<bool>,
    pub origin: Option<String>,
    pub failover: Option<bool>,
    pub refresh: Option<bool>,
    /// `Some(Lsn(0))` is `lsn = NONE`.
    pub lsn: Option<Lsn>,
}

/// `defGetBoolean`: a missing value is true.
fn boolean(o: &PubOption) -> PgResult<bool> {
    match o.value.as_deref() {
        None => Ok(true),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "on" | "1" => Ok(true),
            "false" | "off" | "0" => Ok(false),
            _ => Err(syntax(format!("{} requires a Boolean value", o.name))),
        },
    }
}

fn string_value(o: &PubOption) -> PgResult<String> {
    o.value
        .clone()
        .ok_or_else(|| syntax(format!("{} requires a parameter", o.name)))
}

/// PostgreSQL's `parse_subscription_options`, including the connect /
/// slot_name = NONE consistency rules of CREATE.
pub(crate) fn parse_options(opts: &[PubOption], set: OptionSet) -> PgResult<SubOptions> {
    let mut out = SubOptions::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for o in opts {
        let name = o.name.as_str();
        if !set.accepts(name) {
            return Err(syntax(format!(
                "unrecognized subscription parameter: \"{name}\""
            )));
        }
        if !seen.insert(name) {
            return Err(syntax("conflicting or redundant options").with_position(o.position));
        }
        match name {
            "connect" => out.connect = Some(boolean(o)?),
            "enabled" => out.enabled = Some(boolean(o)?),
            "create_slot" => out.create_slot = Some(boolean(o)?),
            "copy_data" => out.copy_data = Some(boolean(o)?),
            "binary" => out.binary = Some(boolean(o)?),
            "two_phase" => out.two_phase = Some(boolean(o)?),
            "disable_on_error" => out.disable_on_error = Some(boolean(o)?),
            "password_required" => out.password_required = Some(boolean(o)?),
            "run_as_owner" => out.run_as_owner = Some(boolean(o)?),
            "failover" => out.failover = Some(boolean(o)?),
            "refresh" => out.refresh = Some(boolean(o)?),
            "slot_name" => {
                let v = string_value(o)?;
                out.slot_name = Some(if v == "none" {
                    None
                } else {
                    validate_slot_name(&v)?;
                    Some(v)
                });
            }
            "synchronous_commit" => {
                let v = string_value(o)?;
                let ok = matches!(
                    v.to_ascii_lowercase().as_str(),
                    "local"
                        | "remote_write"
                        | "remote_apply"
                        | "on"
                        | "off"
                        | "true"
                        | "false"
                        | "yes"
                        | "no"
                        | "1"
                        | "0"
                );
                if !ok {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"synchronous_commit\": \"{v}\""),
                    )
                    .with_hint("Available values: local, remote_write, remote_apply, on, off."));
                }
                out.synchronous_commit = Some(v);
            }
            "streaming" => {
                out.streaming = Some(match o.value.as_deref().map(str::to_ascii_lowercase) {
                    None => b't',
                    Some(v) => match v.as_str() {
                        "true" | "on" | "1" => b't',
                        "false" | "off" | "0" => b'f',
                        "parallel" => b'p',
                        _ => {
                            return Err(syntax(
                                "streaming requires a Boolean value or \"parallel\"",
                            ))
                        }
                    },
                });
            }
            "origin" => {
                let v = string_value(o)?;
                let lower = v.to_ascii_lowercase();
                if lower != "any" && lower != "none" {
                    return Err(PgError::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("unrecognized origin value: \"{v}\""),
                    ));
                }
                out.origin = Some(lower);
            }
            "lsn" => {
                let v = string_value(o)?;
                out.lsn = Some(if v.eq_ignore_ascii_case("none") {
                    Lsn(0)
                } else {
                    let lsn: Lsn = v.parse().map_err(|_| {
                        PgError::new(
                            SqlState::INVALID_TEXT_REPRESENTATION,
                            format!("invalid input syntax for type pg_lsn: \"{v}\""),
                        )
                    })?;
                    if lsn == Lsn(0) {
                        return Err(PgError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("invalid WAL location (LSN): {lsn}"),
                        ));
                    }
                    lsn
                });
            }
            _ => {}
        }
    }
    if set == OptionSet::Create {
        check_create_rules(&mut out)?;
    }
    Ok(out)
}

/// The consistency rules of CREATE: `connect = false` turns off enabled,
/// create_slot and copy_data (refusing them explicitly on); `slot_name = NONE`
/// needs enabled and create_slot off.
fn check_create_rules(o: &mut SubOptions) -> PgResult<()> {
    if o.connect == Some(false) {
        for (name, v) in [
            ("enabled", o.enabled),
            ("create_slot", o.create_slot),
            ("copy_data", o.copy_data),
        ] {
            if v == Some(true) {
                return Err(syntax(format!(
                    "connect = false and {name} = true are mutually exclusive options"
                )));
            }
        }
        o.enabled = Some(false);
        o.create_slot = Some(false);
        o.copy_data = Some(false);
    }
    if o.slot_name == Some(None) {
        for (name, v) in [("enabled", o.enabled), ("create_slot", o.create_slot)] {
            if v == Some(true) {
                return Err(syntax(format!(
                    "slot_name = NONE and {name} = true are mutually exclusive options"
                )));
            }
        }
        for (name, v) in [("enabled", o.enabled), ("create_slot", o.create_slot)] {
            if v.is_none() {
                return Err(syntax(format!(
                    "subscription with slot_name = NONE must also set {name} = false"
                )));
            }
        }
    }
    Ok(())
}

// ---- privileges ----

/// A non-superuser's subscription must carry its password in the
/// connection string (`libpqrcv_check_conninfo` with `must_use_password`).
fn check_password_given(conninfo: &str, must_use_password: bool) -> PgResult<()> {
    if !must_use_password {
        return Ok(());
    }
    let given = tandem_client::ConnInfo::parse(conninfo)
        .ok()
        .and_then(|c| c.get("password").map(|p| !p.is_empty()))
        .unwrap_or(false);
    if given {
        return Ok(());
    }
    Err(PgError::new(SqlState("2F003"), "password is required")
        .with_detail("Non-superusers must provide a password in the connection string."))
}

fn check_owner(ctx: &ExecContext<'_>, sub: &SubscriptionDef) -> PgResult<()> {
    let (me, superuser) = acting(ctx);
    if superuser || sub.owner == me {
        Ok(())
    } else {
        Err(denied(format!(
            "must be owner of subscription {}",
            sub.name
        )))
    }
}

// ---- the publisher ----

fn remote(
    ctx: &ExecContext<'_>,
    sub: &SubscriptionDef,
    action: SubscriptionRemoteAction,
) -> PgResult<SubscriptionRemoteResult> {
    ctx.hooks.subscription_remote(&SubscriptionRemoteRequest {
        conninfo: sub.conninfo.clone(),
        subscription: sub.name.clone(),
        action,
        must_use_password: sub.password_required && !ctx.txn.catalog().is_superuser(sub.owner),
    })
}

/// The local tables the publisher publishes for `sub` (`fetch_table_list`),
/// warning about publications the publisher lacks (`check_publications`).
fn published_local_tables(
    ctx: &mut ExecContext<'_>,
    sub: &SubscriptionDef,
    publications: &[String],
) -> PgResult<Vec<Oid>> {
    let action = SubscriptionRemoteAction::PublishedTables {
        publications: publications.to_vec(),
    };
    let (tables, existing) = match remote(ctx, sub, action)? {
        SubscriptionRemoteResult::Tables {
            tables,
            existing_publications,
        } => (tables, existing_publications),
        _ => (Vec::new(), publications.to_vec()),
    };
    let missing: Vec<&String> = publications
        .iter()
        .filter(|p| !existing.contains(p))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let message = if missing.len() == 1 {
            format!("publication {list} does not exist on the publisher")
        } else {
            format!("publications {list} do not exist on the publisher")
        };
        ctx.notices.push(PgError {
            code: SqlState::UNDEFINED_OBJECT,
            ..PgError::warning(message)
        });
    }
    let cat = ctx.txn.catalog();
    let mut out = Vec::new();
    for (schema, table) in tables {
        match cat.table_by_name(&schema, &table) {
            Some(t) => {
                if !out.contains(&t.oid) {
                    out.push(t.oid)
                }
            }
            None => {
                return Err(super::undefined_relation(&format!("{schema}.{table}")));
            }
        }
    }
    Ok(out)
}

/// `AlterSubscription_refresh`: adds newly published tables (state `i` with
/// copy_data, else `r`) and forgets tables no longer published.
fn refresh(ctx: &mut ExecContext<'_>, sub: &mut SubscriptionDef, copy_data: bool) -> PgResult<()> {
    let publications = sub.publications.clone();
    let tables = published_local_tables(ctx, sub, &publications)?;
    let mut relations = BTreeMap::new();
    for oid in tables {
        let rel = sub
            .relations
            .get(&oid)
            .cloned()
            .unwrap_or(SubscriptionRelState {
                relid: oid,
                state: if copy_data { b'i' } else { b'r' },
                lsn: None,
            });
        relations.insert(oid, rel);
    }
    sub.relations = relations;
    Ok(())
}

// ---- statements ----

fn create(
    ctx: &mut ExecContext<'_>,
    in_block: bool,
    name: &str,
    conninfo: &str,
    publications: &[String],
    options: &[PubOption],
) -> PgResult<()> {
    let opts = parse_options(options, OptionSet::Create)?;
    let connect = opts.connect.unwrap_or(true);
    let create_slot = opts.create_slot.unwrap_or(true);
    if create_slot && in_block {
        return Err(in_block_error(
            "CREATE SUBSCRIPTION ... WITH (create_slot = true)",
        ));
    }
    let (me, superuser) = acting(ctx);
    let cat = ctx.txn.catalog();
    if !superuser && !cat.has_privs_of_role(me, tandem_storage::acl::PG_CREATE_SUBSCRIPTION) {
        return Err(
            denied("permission denied to create subscription").with_detail(
                "Only roles with privileges of the \"pg_create_subscription\" role may create subscriptions.",
            ),
        );
    }
    // A subscription is a database object: CREATE on the database too.
    let database = cat
        .database_by_name(&ctx.session.database)
        .map(|d| d.oid)
        .unwrap_or(Oid(tandem_expr::catalog::DATABASE_OID));
    if !superuser {
        super::check_database_create(ctx, me)?;
    }
    let password_required = opts.password_required.unwrap_or(true);
    if !password_required && !superuser {
        return Err(password_superuser_only());
    }
    if cat.subscription_by_name(name).is_some() {
        return Err(duplicate_subscription(name));
    }
    let slot_name = match &opts.slot_name {
        Some(s) => s.clone(),
        None => Some(name.to_string()),
    };
    check_conninfo(conninfo)?;
    check_password_given(conninfo, password_required && !superuser)?;
    let mut seen = BTreeSet::new();
    for p in publications {
        if !seen.insert(p) {
            return Err(PgError::new(
                SqlState::DUPLICATE_OBJECT,
                format!("publication name \"{p}\" used more than once"),
            ));
        }
    }
    let two_phase = opts.two_phase.unwrap_or(false);
    let copy_data = opts.copy_data.unwrap_or(true);
    let failover = opts.failover.unwrap_or(false);
    let mut sub = SubscriptionDef {
        oid: Oid(0),
        database,
        name: name.to_string(),
        owner: me,
        enabled: opts.enabled.unwrap_or(true),
        conninfo: conninfo.to_string(),
        slot_name,
        publications: publications.to_vec(),
        binary: opts.binary.unwrap_or(false),
        streaming: opts.streaming.unwrap_or(b'f'),
        two_phase: if two_phase { b'p' } else { b'd' },
        disable_on_error: opts.disable_on_error.unwrap_or(false),
        failover,
        synchronous_commit: opts
            .synchronous_commit
            .clone()
            .unwrap_or_else(|| "off".into()),
        origin: opts.origin.clone().unwrap_or_else(|| "any".into()),
        password_required,
        run_as_owner: opts.run_as_owner.unwrap_or(false),
        skip_lsn: Lsn(0),
        relations: BTreeMap::new(),
    };
    if connect {
        refresh(ctx, &mut sub, copy_data)?;
        if create_slot {
            if let Some(slot) = sub.slot_name.clone() {
                let two_phase_now = two_phase && !copy_data && !sub.relations.is_empty();
                remote(
                    ctx,
                    &sub,
                    SubscriptionRemoteAction::CreateSlot {
                        slot: slot.clone(),
                        two_phase: two_phase_now,
                        failover,
                    },
                )?;
                if two_phase_now {
                    sub.two_phase = b'e';
                }
                ctx.notices.push(PgError::notice(format!(
                    "created replication slot \"{slot}\" on publisher"
                )));
            }
        }
    } else {
        ctx.notices.push(
            PgError::warning("subscription was created, but is not connected").with_hint(
                "To initiate replication, you must manually create the replication slot, enable the subscription, and refresh the subscription.",
            ),
        );
    }
    sub.oid = ctx.txn.allocate_oid();
    // The apply worker's replication origin, "pg_<subscription oid>" as in
    // PostgreSQL; committed (or rolled back) with the subscription.
    ctx.txn.create_origin(&origin_name(sub.oid))?;
    ctx.txn.put_subscription(sub)
}

fn alter(
    ctx: &mut ExecContext<'_>,
    in_block: bool,
    name: &str,
    action: &AlterSubAction,
) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let mut sub = cat
        .subscription_by_name(name)
        .cloned()
        .ok_or_else(|| undefined_subscription(name))?;
    check_owner(ctx, &sub)?;
    let (me, superuser) = acting(ctx);
    match action {
        AlterSubAction::Connection(conninfo) => {
            check_conninfo(conninfo)?;
            check_password_given(conninfo, sub.password_required && !superuser)?;
            sub.conninfo = conninfo.clone();
        }
        AlterSubAction::Enable => {
            if sub.slot_name.is_none() {
                return Err(prerequisite(
                    "cannot enable subscription that does not have a slot name",
                ));
            }
            sub.enabled = true;
        }
        AlterSubAction::Disable => sub.enabled = false,
        AlterSubAction::Options(opts) => {
            let o = parse_options(opts, OptionSet::AlterSet)?;
            if let Some(slot) = &o.slot_name {
                if sub.enabled && slot.is_none() {
                    return Err(prerequisite(
                        "cannot set slot_name = NONE for enabled subscription",
                    ));
                }
                sub.slot_name = slot.clone();
            }
            if let Some(v) = &o.synchronous_commit {
                sub.synchronous_commit = v.clone();
            }
            if let Some(v) = o.binary {
                sub.binary = v;
            }
            if let Some(v) = o.streaming {
                sub.streaming = v;
            }
            if let Some(v) = o.disable_on_error {
                sub.disable_on_error = v;
            }
            if let Some(v) = o.password_required {
                if !v && !superuser {
                    return Err(password_superuser_only());
                }
                sub.password_required = v;
            }
            if let Some(v) = o.run_as_owner {
                sub.run_as_owner = v;
            }
            if let Some(v) = &o.origin {
                sub.origin = v.clone();
            }
            if let Some(v) = o.failover {
                let Some(slot) = sub.slot_name.clone() else {
                    return Err(prerequisite(
                        "cannot set failover for a subscription that does not have a slot name",
                    ));
                };
                if sub.enabled {
                    return Err(prerequisite("cannot set failover for enabled subscription"));
                }
                if in_block {
                    return Err(in_block_error("ALTER SUBSCRIPTION ... SET (failover)"));
                }
                sub.failover = v;
                remote(
                    ctx,
                    &sub,
                    SubscriptionRemoteAction::AlterSlot { slot, failover: v },
                )?;
            }
        }
        AlterSubAction::SetPublication(names, opts)
        | AlterSubAction::AddPublication(names, opts)
        | AlterSubAction::DropPublication(names, opts) => {
            let o = parse_options(opts, OptionSet::Publication)?;
            let mut seen = BTreeSet::new();
            for p in names {
                if !seen.insert(p) {
                    return Err(PgError::new(
                        SqlState::DUPLICATE_OBJECT,
                        format!("publication name \"{p}\" used more than once"),
                    ));
                }
            }
            let (verb, list) = match action {
                AlterSubAction::SetPublication(..) => ("SET", names.clone()),
                AlterSubAction::AddPublication(..) => {
                    let mut list = sub.publications.clone();
                    for p in names {
                        if list.contains(p) {
                            return Err(PgError::new(
                                SqlState::DUPLICATE_OBJECT,
                                format!(
                                    "publication \"{p}\" is already in subscription \"{name}\""
                                ),
                            ));
                        }
                        list.push(p.clone());
                    }
                    ("ADD", list)
                }
                _ => {
                    let mut list = sub.publications.clone();
                    for p in names {
                        match list.iter().position(|x| x == p) {
                            Some(i) => {
                                list.remove(i);
                            }
                            None => {
                                return Err(PgError::new(
                                    SqlState("42P17"),
                                    format!(
                                        "publication \"{p}\" is not in subscription \"{name}\""
                                    ),
                                ))
                            }
                        }
                    }
                    if list.is_empty() {
                        return Err(PgError::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "cannot drop all the publications from a subscription",
                        ));
                    }
                    ("DROP", list)
                }
            };
            sub.publications = list;
            if o.refresh.unwrap_or(true) {
                if !sub.enabled {
                    let hint = if verb == "SET" {
                        "Use ALTER SUBSCRIPTION ... SET PUBLICATION ... WITH (refresh = false)."
                            .to_string()
                    } else {
                        format!(
                            "Use ALTER SUBSCRIPTION ... {verb} PUBLICATION ... WITH (refresh = false) instead."
                        )
                    };
                    return Err(prerequisite(
                        "ALTER SUBSCRIPTION with refresh is not allowed for disabled subscriptions",
                    )
                    .with_hint(hint));
                }
                if in_block {
                    return Err(in_block_error("ALTER SUBSCRIPTION with refresh"));
                }
                refresh(ctx, &mut sub, o.copy_data.unwrap_or(true))?;
            }
        }
        AlterSubAction::Refresh(opts) => {
            let o = parse_options(opts, OptionSet::Refresh)?;
            if !sub.enabled {
                return Err(prerequisite(
                    "ALTER SUBSCRIPTION ... REFRESH is not allowed for disabled subscriptions",
                ));
            }
            if in_block {
                return Err(in_block_error("ALTER SUBSCRIPTION ... REFRESH"));
            }
            refresh(ctx, &mut sub, o.copy_data.unwrap_or(true))?;
        }
        AlterSubAction::Skip(opts) => {
            let o = parse_options(opts, OptionSet::Skip)?;
            if let Some(lsn) = o.lsn {
                sub.skip_lsn = lsn;
            }
        }
        AlterSubAction::Owner(role) => {
            let new_owner = match role {
                None => me,
                Some(r) => cat.role_by_name(r).map(|r| r.oid).ok_or_else(|| {
                    PgError::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("role \"{r}\" does not exist"),
                    )
                })?,
            };
            if new_owner == sub.owner {
                return Ok(());
            }
            let new_is_super = cat.roles.get(&new_owner).is_some_and(|r| r.superuser);
            if !superuser && !cat.member_can_set_role(me, new_owner) {
                let rname = role.clone().unwrap_or_default();
                return Err(denied(format!("must be able to SET ROLE \"{rname}\"")));
            }
            if !sub.password_required && !new_is_super {
                return Err(password_superuser_only());
            }
            sub.owner = new_owner;
        }
        AlterSubAction::Rename(new) => {
            if cat.subscription_by_name(new).is_some() {
                return Err(duplicate_subscription(new));
            }
            sub.name = new.clone();
        }
    }
    ctx.txn.put_subscription(sub)
}

fn drop(ctx: &mut ExecContext<'_>, in_block: bool, name: &str, if_exists: bool) -> PgResult<()> {
    let cat = ctx.txn.catalog();
    let Some(sub) = cat.subscription_by_name(name).cloned() else {
        if if_exists {
            ctx.notices.push(skipping(
                SqlState::SUCCESSFUL_COMPLETION,
                format!("subscription \"{name}\" does not exist, skipping"),
            ));
            return Ok(());
        }
        return Err(undefined_subscription(name));
    };
    check_owner(ctx, &sub)?;
    if let Some(slot) = sub.slot_name.clone() {
        if in_block {
            return Err(in_block_error("DROP SUBSCRIPTION"));
        }
        // The apply worker's walsender holds the slot: stop the workers first.
        ctx.hooks.stop_subscription_workers(sub.oid);
        remote(
            ctx,
            &sub,
            SubscriptionRemoteAction::DropSlot { slot: slot.clone() },
        )?;
        ctx.notices.push(PgError::notice(format!(
            "dropped replication slot \"{slot}\" on publisher"
        )));
    }
    // Its replication origins go with it (missing ones are fine, as
    // PostgreSQL's `replorigin_drop_by_name(.., missing_ok)`): the apply
    // worker's "pg_<oid>" and table sync ones, "pg_<oid>_<relid>".
    let apply_origin = origin_name(sub.oid);
    let sync_prefix = format!("{apply_origin}_");
    let origins: Vec<u16> = cat
        .origins
        .iter()
        .filter(|(_, n)| {
            **n == apply_origin
                || n.strip_prefix(&sync_prefix)
                    .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(id, _)| *id)
        .collect();
    for id in origins {
        ctx.txn.drop_origin(id)?;
    }
    ctx.txn.drop_subscription(sub.oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str, value: Option<&str>) -> PubOption {
        PubOption {
            name: name.into(),
            value: value.map(str::to_string),
            position: 9,
        }
    }

    fn create_err(opts: &[PubOption]) -> PgError {
        match parse_options(opts, OptionSet::Create) {
            Ok(o) => panic!("expected an error, got {o:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn connect_false_rules() {
        let o =
            parse_options(&[opt("connect", Some("false"))], OptionSet::Create).unwrap_or_default();
        assert_eq!(
            (o.enabled, o.create_slot, o.copy_data),
            (Some(false), Some(false), Some(false))
        );
        for name in ["enabled", "create_slot", "copy_data"] {
            let e = create_err(&[opt("connect", Some("false")), opt(name, Some("true"))]);
            assert_eq!(e.code, SqlState::SYNTAX_ERROR);
            assert_eq!(
                e.message,
                format!("connect = false and {name} = true are mutually exclusive options")
            );
        }
    }

    #[test]
    fn slot_name_none_rules() {
        let e = create_err(&[opt("slot_name", Some("none"))]);
        assert_eq!(
            e.message,
            "subscription with slot_name = NONE must also set enabled = false"
        );
        let e = create_err(&[
            opt("slot_name", Some("none")),
            opt("enabled", Some("false")),
        ]);
        assert_eq!(
            e.message,
            "subscription with slot_name = NONE must also set create_slot = false"
        );
        let e = create_err(&[opt("slot_name", Some("none")), opt("enabled", None)]);
        assert_eq!(
            e.message,
            "slot_name = NONE and enabled = true are mutually exclusive options"
        );
        let o = parse_options(
            &[
                opt("slot_name", Some("none")),
                opt("enabled", Some("false")),
                opt("create_slot", Some("off")),
            ],
            OptionSet::Create,
        );
        assert_eq!(o.map(|o| o.slot_name), Ok(Some(None)));
        // connect = false switches both off, so NONE is then fine
        assert!(parse_options(
            &[
                opt("slot_name", Some("none")),
                opt("connect", Some("false"))
            ],
            OptionSet::Create
        )
        .is_ok());
    }

    #[test]
    fn option_values_and_sets() {
        let e = create_err(&[opt("foo", Some("1"))]);
        assert_eq!(e.message, "unrecognized subscription parameter: \"foo\"");
        let e = parse_options(&[opt("two_phase", Some("on"))], OptionSet::AlterSet).unwrap_err();
        assert_eq!(
            e.message,
            "unrecognized subscription parameter: \"two_phase\""
        );
        let e = create_err(&[opt("binary", None), opt("binary", None)]);
        assert_eq!(
            (e.message.as_str(), e.position),
            ("conflicting or redundant options", Some(9))
        );
        assert_eq!(
            create_err(&[opt("binary", Some("maybe"))]).message,
            "binary requires a Boolean value"
        );
        assert_eq!(
            create_err(&[opt("streaming", Some("maybe"))]).message,
            "streaming requires a Boolean value or \"parallel\""
        );
        let e = create_err(&[opt("origin", Some("foo"))]);
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState::INVALID_PARAMETER_VALUE,
                "unrecognized origin value: \"foo\""
            )
        );
        let e = create_err(&[opt("synchronous_commit", Some("foo"))]);
        assert_eq!(
            e.message,
            "invalid value for parameter \"synchronous_commit\": \"foo\""
        );
        let e = create_err(&[opt("slot_name", Some("A b"))]);
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                SqlState("42602"),
                "replication slot name \"A b\" contains invalid character"
            )
        );
        assert_eq!(
            create_err(&[opt("slot_name", Some(""))]).message,
            "replication slot name \"\" is too short"
        );
        let o = parse_options(
            &[
                opt("streaming", Some("parallel")),
                opt("origin", Some("NONE")),
            ],
            OptionSet::Create,
        )
        .unwrap_or_default();
        assert_eq!(
            (o.streaming, o.origin.as_deref()),
            (Some(b'p'), Some("none"))
        );
        let skip = |v: &str| parse_options(&[opt("lsn", Some(v))], OptionSet::Skip);
        assert_eq!(skip("0/10").map(|o| o.lsn), Ok(Some(Lsn(0x10))));
        assert_eq!(skip("none").map(|o| o.lsn), Ok(Some(Lsn(0))));
        assert_eq!(
            skip("0/0").map_err(|e| e.message),
            Err("invalid WAL location (LSN): 0/0".to_string())
        );
        assert_eq!(
            parse_options(&[opt("copy_data", Some("false"))], OptionSet::Refresh)
                .map(|o| o.copy_data),
            Ok(Some(false))
        );
    }

    #[test]
    fn conninfo_checks() {
        assert!(check_conninfo("host=127.0.0.1 port=5432 dbname='a b' user=x").is_ok());
        assert!(check_conninfo("postgresql://h/db").is_ok());
        assert!(check_conninfo("").is_ok());
        let e = check_conninfo("foo").unwrap_err();
        assert_eq!(e.code, SqlState::SYNTAX_ERROR);
        assert_eq!(
            e.message,
            "invalid connection string syntax: missing \"=\" after \"foo\" in connection info string\n"
        );
        assert_eq!(
            check_conninfo("hots=x").map_err(|e| e.message),
            Err("invalid connection string syntax: invalid connection option \"hots\"\n".into())
        );
        assert!(check_conninfo("host='x").is_err());
    }
}
