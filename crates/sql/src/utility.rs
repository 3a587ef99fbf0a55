//! Utility statements: SET / SET LOCAL / SET TRANSACTION / RESET / SHOW,
//! ALTER SYSTEM, CHECKPOINT, VACUUM, ANALYZE, DISCARD, and SQL-level
//! PREPARE / EXECUTE / DEALLOCATE (PostgreSQL's `utils/misc/guc_funcs.c`,
//! `commands/variable.c`, `commands/vacuum.c`, `commands/discard.c`,
//! `commands/prepare.c`).
//!
//! Settings live in `tandem-config`'s `SessionConfig`; this module turns
//! statements into its calls and reports GUC_REPORT changes with ParameterStatus.
//! `transaction_isolation` / `transaction_read_only` belong to the current
//! transaction and are answered from [`crate::transaction::Xact`].

use std::sync::Arc;

use sqlparser::ast::{
    DiscardObject, Expr, Ident, ObjectName, Reset, ResetStatement, Set, Statement,
    TransactionAccessMode, TransactionMode, UnaryOperator, Value as AstValue,
};
use tandem_types::{PgError, PgResult, SqlState, Value};

use crate::dispatch::{isolation_from_ast, Output};
use crate::front_parser::{ParsedStmt, StmtKind};
use crate::session::Session;
use crate::transaction::{isolation_name, parse_isolation, BlockState};
use crate::types::{ident, parse_type_name_in};
use crate::FieldDescription;
use crate::QuerySink;

/// Applies `ISOLATION LEVEL ...` / `READ ONLY|WRITE` to the current transaction.
pub(crate) fn apply_transaction_modes(s: &mut Session, modes: &[TransactionMode]) -> PgResult<()> {
    for m in modes {
        match m {
            TransactionMode::IsolationLevel(l) => s.xact.set_isolation(isolation_from_ast(l)?)?,
            TransactionMode::AccessMode(a) => s
                .xact
                .set_read_only(*a == TransactionAccessMode::ReadOnly)?,
        }
    }
    Ok(())
}

/// A SET value as the setting's text (`'1MB'` -> `1MB`, `-1`, identifiers folded).
fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            AstValue::SingleQuotedString(s) | AstValue::EscapedStringLiteral(s) => s.clone(),
            AstValue::DollarQuotedString(d) => d.value.clone(),
            AstValue::Number(n, _) => n.to_string(),
            AstValue::Boolean(b) => if *b { "on" } else { "off" }.into(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => ident(i),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => format!("-{}", expr_text(expr)),
        other => other.to_string(),
    }
}

fn object_name_text(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|p| match p.as_ident() {
            Some(i) => ident(i),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn report(sink: &mut dyn QuerySink, change: Option<(String, String)>) -> PgResult<()> {
    match change {
        Some((n, v)) => sink.parameter_status(&n, &v),
        None => Ok(()),
    }
}

/// `SET [LOCAL|SESSION] name {TO|=} value|DEFAULT`, `SET TIME ZONE`,
/// `SET NAMES`, `SET [SESSION CHARACTERISTICS AS] TRANSACTION ...`.
pub(crate) fn set(s: &mut Session, set: &Set, sink: &mut dyn QuerySink) -> PgResult<String> {
    match set {
        Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => {
            let local = matches!(scope, Some(sqlparser::ast::ContextModifier::Local));
            let name = object_name_text(variable);
            let is_default = matches!(values.as_slice(), [Expr::Identifier(Ident { value, quote_style: None, .. })] if value.eq_ignore_ascii_case("default"));
            let value =
                (!is_default).then(|| values.iter().map(expr_text).collect::<Vec<_>>().join(", "));
            set_variable(s, &name, value.as_deref(), local, sink)
        }
        Set::SetTimeZone { local, value } => {
            let v = expr_text(value);
            let v = (!v.eq_ignore_ascii_case("default") && !v.eq_ignore_ascii_case("local"))
                .then_some(v);
            set_variable(s, "timezone", v.as_deref(), *local, sink)
        }
        Set::SetNames { charset_name, .. } => {
            set_variable(s, "client_encoding", Some(&charset_name.value), false, sink)
        }
        Set::SetNamesDefault {} => set_variable(s, "client_encoding", None, false, sink),
        Set::SetTransaction {
            modes,
            snapshot: None,
            session: false,
        } => {
            if s.xact.state != BlockState::InBlock {
                s.notices.push(PgError {
                    code: SqlState::NO_ACTIVE_SQL_TRANSACTION,
                    ..PgError::warning("SET TRANSACTION can only be used in transaction blocks")
                });
            }
            apply_transaction_modes(s, modes)?;
            Ok("SET".into())
        }
        Set::SetTransaction {
            modes,
            snapshot: None,
            session: true,
        } => {
            for m in modes {
                match m {
                    TransactionMode::IsolationLevel(l) => {
                        let level = isolation_name(isolation_from_ast(l)?);
                        s.config.set(
                            "default_transaction_isolation",
                            Some(level),
                            false,
                            s.info.superuser,
                        )?;
                    }
                    TransactionMode::AccessMode(a) => {
                        let v = if *a == TransactionAccessMode::ReadOnly {
                            "on"
                        } else {
                            "off"
                        };
                        s.config.set(
                            "default_transaction_read_only",
                            Some(v),
                            false,
                            s.info.superuser,
                        )?;
                    }
                }
            }
            Ok("SET".into())
        }
        Set::SetTransaction { .. } => Err(PgError::unsupported("SET TRANSACTION SNAPSHOT")),
        Set::SetRole { .. } => Err(PgError::unsupported("SET ROLE")),
        Set::SetSessionAuthorization(_) => Err(PgError::unsupported("SET SESSION AUTHORIZATION")),
        _ => Err(PgError::unsupported("this form of SET")),
    }
}

fn set_variable(
    s: &mut Session,
    name: &str,
    value: Option<&str>,
    local: bool,
    sink: &mut dyn QuerySink,
) -> PgResult<String> {
    match name {
        "transaction_isolation" => {
            let level = match value {
                Some(v) => parse_isolation(v).ok_or_else(|| invalid_value(name, v))?,
                None => s.xact.isolation,
            };
            s.xact.set_isolation(level)?;
            return Ok("SET".into());
        }
        "transaction_read_only" => {
            if let Some(v) = value {
                let ro = parse_bool(v).ok_or_else(|| invalid_value(name, v))?;
                s.xact.set_read_only(ro)?;
            }
            return Ok("SET".into());
        }
        _ => {}
    }
    if local && s.xact.state != BlockState::InBlock {
        s.notices.push(PgError {
            code: SqlState::NO_ACTIVE_SQL_TRANSACTION,
            ..PgError::warning("SET LOCAL can only be used in transaction blocks")
        });
    }
    let superuser = s.is_superuser();
    let change = s.config.set(name, value, local, superuser)?;
    report(sink, change)?;
    Ok("SET".into())
}

fn invalid_value(name: &str, v: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{v}\""),
    )
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" => Some(true),
        "off" | "false" | "no" | "0" | "f" => Some(false),
        _ => None,
    }
}

/// `RESET name` / `RESET ALL`.
pub(crate) fn reset(
    s: &mut Session,
    r: &ResetStatement,
    sink: &mut dyn QuerySink,
) -> PgResult<String> {
    let name = match &r.reset {
        Reset::ALL => "all".to_string(),
        Reset::ConfigurationParameter(n) => object_name_text(n),
        Reset::SessionAuthorization => {
            return Err(PgError::unsupported("RESET SESSION AUTHORIZATION"))
        }
    };
    if name == "transaction_isolation" || name == "transaction_read_only" {
        return Ok("RESET".into());
    }
    let change = s.config.reset(&name)?;
    report(sink, change)?;
    Ok("RESET".into())
}

/// The canonical name of a setting for SHOW's column (`timezone` -> `TimeZone`).
fn canonical_name(s: &Session, name: &str) -> String {
    s.config
        .settings_rows()
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
        .map(|r| r.name)
        .unwrap_or_else(|| name.to_string())
}

/// SHOW's setting name from its words (`TRANSACTION ISOLATION LEVEL`, `TIME ZONE`).
pub(crate) fn show_name(variable: &[Ident]) -> String {
    let words: Vec<String> = variable.iter().map(ident).collect();
    match words.join(" ").as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        _ => words.join("."),
    }
}

/// RowDescription of `SHOW name` (for Describe).
pub(crate) fn show_fields(s: &Session, variable: &[Ident]) -> Vec<crate::FieldDescription> {
    let name = show_name(variable);
    if name == "all" {
        return vec![
            FieldDescription::text("name"),
            FieldDescription::text("setting"),
            FieldDescription::text("description"),
        ];
    }
    vec![FieldDescription::text(&canonical_name(s, &name))]
}

/// `SHOW name` / `SHOW ALL`.
pub(crate) fn show(
    s: &mut Session,
    variable: &[Ident],
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    let name = show_name(variable);
    if name == "all" {
        out.describe(&show_fields(s, variable))?;
        for (n, v, d) in s.config.show_all() {
            out.row(vec![Value::Text(n), Value::Text(v), Value::Text(d)])?;
        }
        return Ok("SHOW".into());
    }
    let value = match name.as_str() {
        "transaction_isolation" => isolation_name(s.xact.isolation).to_string(),
        "transaction_read_only" => if s.xact.read_only { "on" } else { "off" }.to_string(),
        "is_superuser" => if s.info.superuser { "on" } else { "off" }.to_string(),
        "session_authorization" => s.info.user.clone(),
        _ => s.config.show(&name)?,
    };
    out.describe(&show_fields(s, variable))?;
    out.row(vec![Value::Text(value)])?;
    Ok("SHOW".into())
}

/// `ALTER SYSTEM SET/RESET`: superuser only, never inside a transaction block.
pub(crate) fn alter_system(s: &mut Session, name: &str, value: Option<&str>) -> PgResult<String> {
    if !s.is_superuser() {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "must be superuser to execute ALTER SYSTEM command",
        ));
    }
    s.prevent_in_block("ALTER SYSTEM")?;
    s.engine.config.alter_system(name, value)?;
    Ok("ALTER SYSTEM".into())
}

pub(crate) fn checkpoint(s: &mut Session) -> PgResult<String> {
    if !s.is_superuser() {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied to execute CHECKPOINT command",
        )
        .with_detail(
            "Only roles with privileges of the \"pg_checkpoint\" role may execute this command.",
        ));
    }
    s.engine.db.checkpoint("immediate force wait")?;
    Ok("CHECKPOINT".into())
}

fn check_tables_exist(s: &mut Session, tables: &[String]) -> PgResult<()> {
    if tables.is_empty() {
        return Ok(());
    }
    s.with_ctx(&[], |ctx| {
        for t in tables {
            if crate::types::front_relation_name(t)?.table(ctx).is_none() {
                return Err(PgError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{t}\" does not exist"),
                ));
            }
        }
        Ok(())
    })
}

/// VACUUM: nothing to reclaim in tandem's heap, but PostgreSQL's checks apply.
pub(crate) fn vacuum(s: &mut Session, tables: &[String]) -> PgResult<String> {
    s.prevent_in_block("VACUUM")?;
    check_tables_exist(s, tables)?;
    Ok("VACUUM".into())
}

pub(crate) fn analyze(s: &mut Session, tables: &[String]) -> PgResult<String> {
    check_tables_exist(s, tables)?;
    Ok("ANALYZE".into())
}

pub(crate) fn discard(s: &mut Session, what: &DiscardObject) -> PgResult<String> {
    match what {
        DiscardObject::ALL => {
            s.prevent_in_block("DISCARD ALL")?;
            s.prepared.clear();
            s.portals.clear();
            s.config.reset("all")?;
            s.notify.unlisten(None);
            s.cursors.clear();
            Ok("DISCARD ALL".into())
        }
        DiscardObject::PLANS => {
            for p in s.prepared.values() {
                p.forget_plan();
            }
            Ok("DISCARD PLANS".into())
        }
        DiscardObject::SEQUENCES => Ok("DISCARD SEQUENCES".into()),
        DiscardObject::TEMP => Ok("DISCARD TEMP".into()),
    }
}

/// `LISTEN channel` (PostgreSQL's `Async_Listen`): takes effect at commit.
pub(crate) fn listen(s: &mut Session, channel: &Ident) -> PgResult<String> {
    prevent_during_recovery(s, "LISTEN")?;
    s.notify.listen(&ident(channel));
    Ok("LISTEN".into())
}

/// `UNLISTEN channel | *` (at commit; allowed on a standby).
pub(crate) fn unlisten(s: &mut Session, channel: &Ident) -> PgResult<String> {
    if channel.quote_style.is_none() && channel.value == "*" {
        s.notify.unlisten(None);
    } else {
        s.notify.unlisten(Some(&ident(channel)));
    }
    Ok("UNLISTEN".into())
}

/// `NOTIFY channel [, 'payload']`: sent at commit.
pub(crate) fn notify(s: &mut Session, channel: &Ident, payload: Option<&str>) -> PgResult<String> {
    prevent_during_recovery(s, "NOTIFY")?;
    s.notify.notify(&ident(channel), payload.unwrap_or(""))?;
    Ok("NOTIFY".into())
}

/// PostgreSQL's `PreventCommandDuringRecovery`.
fn prevent_during_recovery(s: &Session, command: &str) -> PgResult<()> {
    if s.engine.db.in_recovery() {
        return Err(PgError::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            format!("cannot execute {command} during recovery"),
        ));
    }
    Ok(())
}

pub(crate) fn deallocate(s: &mut Session, name: &Ident) -> PgResult<String> {
    if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
        s.prepared.clear();
        return Ok("DEALLOCATE ALL".into());
    }
    let n = ident(name);
    if s.prepared.remove(&n).is_none() {
        return Err(PgError::new(
            SqlState::INVALID_SQL_STATEMENT_NAME,
            format!("prepared statement \"{n}\" does not exist"),
        ));
    }
    Ok("DEALLOCATE".into())
}

/// SQL-level `PREPARE name [(types)] AS statement`.
pub(crate) fn prepare(
    s: &mut Session,
    name: &Ident,
    data_types: &[sqlparser::ast::DataType],
    statement: &Statement,
    text: &str,
) -> PgResult<String> {
    let n = ident(name);
    if s.prepared.contains_key(&n) {
        return Err(PgError::new(
            SqlState::DUPLICATE_PREPARED_STATEMENT,
            format!("prepared statement \"{n}\" already exists"),
        ));
    }
    let (cat, path) = s.with_ctx(&[], |ctx| {
        Ok((
            ctx.txn.catalog(),
            tandem_expr::reg::session_search_path(ctx),
        ))
    })?;
    let types = data_types
        .iter()
        .map(|t| parse_type_name_in(&t.to_string(), &cat, &path).map(|(t, _)| t))
        .collect::<PgResult<Vec<_>>>()?;
    let inner = ParsedStmt {
        kind: StmtKind::Sql {
            stmt: Box::new(statement.clone()),
            create_user: false,
            overriding: None,
        },
        text: statement.to_string(),
        base: None,
    };
    let prepared = s.prepare_statement(Some(inner), types, text)?;
    s.prepared.insert(n, Arc::new(prepared));
    Ok("PREPARE".into())
}

/// SQL-level `EXECUTE name [(params)]`: parameters are expressions evaluated now.
pub(crate) fn execute(
    s: &mut Session,
    name: &ObjectName,
    params: &[Expr],
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    let n = object_name_text(name);
    let prepared = s.prepared.get(&n).cloned().ok_or_else(|| {
        PgError::new(
            SqlState::INVALID_SQL_STATEMENT_NAME,
            format!("prepared statement \"{n}\" does not exist"),
        )
    })?;
    let types = prepared.param_types.clone();
    if params.len() != types.len() {
        return Err(PgError::new(
            SqlState::SYNTAX_ERROR,
            format!("wrong number of parameters for prepared statement \"{n}\""),
        )
        .with_detail(format!(
            "Expected {} parameters but got {}.",
            types.len(),
            params.len()
        )));
    }
    let mut values = Vec::with_capacity(params.len());
    for (e, ty) in params.iter().zip(&types) {
        let text = e.to_string();
        let v = s.with_ctx(&[], |ctx| {
            tandem_query::eval_expr_text(&text, Some(ty), ctx)
        })?;
        values.push(v);
    }
    s.run_prepared(&prepared, &values, out)
}

/// `EXPLAIN`'s one column.
pub(crate) fn explain_fields() -> Vec<crate::FieldDescription> {
    vec![crate::FieldDescription::text("QUERY PLAN")]
}

/// `EXPLAIN [(COSTS OFF)] stmt`: the plan's lines
/// (`tandem_query::Plan::explain`, which prints no costs), one row each.
/// The statement is planned, not run; ANALYZE and the other options are
/// refused.
pub(crate) fn explain(
    s: &mut Session,
    analyze: bool,
    options: Option<&[sqlparser::ast::UtilityOption]>,
    stmt: &sqlparser::ast::Statement,
    out: &mut crate::dispatch::Output<'_, '_>,
) -> PgResult<String> {
    let costs_off = |o: &sqlparser::ast::UtilityOption| {
        o.name.value.eq_ignore_ascii_case("costs")
            && o.arg.as_ref().is_some_and(|a| {
                let a = a.to_string().to_lowercase();
                a == "off" || a == "false" || a == "0"
            })
    };
    if analyze {
        return Err(PgError::unsupported("EXPLAIN ANALYZE"));
    }
    if let Some(o) = options.unwrap_or_default().iter().find(|o| !costs_off(o)) {
        return Err(PgError::unsupported(format!("EXPLAIN option {}", o.name)));
    }
    if !tandem_query::is_plannable(stmt) {
        return Err(PgError::unsupported("EXPLAIN of this statement"));
    }
    let lines = s.with_ctx(&[], |ctx| {
        let mut types = Vec::new();
        let plan = tandem_query::plan(stmt, &mut types, ctx)?;
        Ok(plan.explain(&ctx.txn.catalog()))
    })?;
    out.describe(&explain_fields())?;
    for l in lines {
        out.row(vec![Value::Text(l)])?;
    }
    Ok("EXPLAIN".into())
}
