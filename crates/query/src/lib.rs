//! The query engine: binds sqlparser ASTs against the catalog, plans, and executes
//! SELECT (joins, subqueries, grouping, aggregates, window functions, DISTINCT,
//! ORDER BY, LIMIT, table functions) and INSERT / UPDATE / DELETE (with
//! RETURNING; INSERT with ON CONFLICT on the primary key).
//!
//! Life of a statement:
//!
//! ```text
//!   plan(stmt, param_types, ctx)
//!     bind::Binder            names -> columns, literals/params typed by context
//!       bind/select.rs        FROM tree, WHERE pushdown, PK lookups, GROUP BY ...
//!       dml.rs                INSERT/UPDATE/DELETE targets, defaults, RETURNING
//!     -> Plan (immutable; reused by prepared statements)
//!   execute(plan, ctx, emit)
//!     exec::run               push-style nodes; rows handed to `emit`
//!     check_permissions       the privileges the binder recorded (Binder::perms)
//!     dml::exec_*             lock_row / EvalPlanQual / insert / update / delete
//! ```
//!
//! Modules: `plan.rs` (node and expression trees), `bind/` (binder), `exec/`
//! (executor), `aggregates.rs`, `table_functions.rs`, `dml.rs`, `sqltype.rs`
//! (type names), `deparse/` (a view's query printed back, `pg_get_viewdef`),
//! `checks.rs` (CHECK constraints), `retype.rs` (ALTER COLUMN TYPE's conversion).
//!
//! Corresponds to PostgreSQL's `parser/`, `optimizer/` (a small part) and
//! `executor/`.

pub mod aggregates;
pub mod bind;
pub mod checks;
pub mod deparse;
pub mod dml;
pub mod exec;
mod explain;
mod index_path;
pub mod plan;
pub mod retype;
pub mod sqltype;
pub mod table_functions;

use sqlparser::ast::Statement;
use tandem_expr::ExecContext;
use tandem_types::{DataType, Oid, PgResult, Value};

pub use sqltype::convert_type;

use bind::scope::Level;
use bind::{Binder, OutCol};

/// An output column of a plan (RowDescription field).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub data_type: DataType,
    /// Source table and attnum when the column is a plain table column (else 0, 0).
    pub table_oid: Oid,
    pub attnum: i16,
}

/// What kind of command a plan is, for the CommandComplete tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    Select,
    Insert,
    Update,
    Delete,
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Query(plan::Node),
    Insert(dml::InsertPlan),
    Update(dml::UpdatePlan),
    Delete(dml::DeletePlan),
}

/// A planned statement: immutable, reusable across executions with different
/// parameters (prepared statements), valid while the catalog is unchanged.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: CommandKind,
    /// Empty for INSERT/UPDATE/DELETE without RETURNING.
    pub columns: Vec<OutputColumn>,
    body: Body,
    /// The data-modifying statements of its WITH clause, each run once to
    /// completion, in order, their RETURNING rows kept as the work table
    /// the references to the CTE read: those a query of the statement reads
    /// (`pre_read`) before the body, the others after it, as PostgreSQL
    /// runs an unread one when the statement's own work is done.
    pre: Vec<(usize, Body)>,
    pre_read: Vec<usize>,
    /// Privileges checked at each execution: per relation, the role that
    /// must hold them (`None`: the session's) and the privileges.
    perms: Vec<((Oid, Option<Oid>), tandem_storage::acl::AclMode)>,
}

impl Plan {
    /// Whether the statement writes: DML, or a query with a
    /// data-modifying WITH.
    pub fn writes(&self) -> bool {
        self.kind != CommandKind::Select || !self.pre.is_empty()
    }

    /// Whether the statement returns rows (SELECT, or DML with RETURNING).
    pub fn returns_rows(&self) -> bool {
        match &self.body {
            Body::Query(_) => true,
            Body::Insert(p) => p.returning.is_some(),
            Body::Update(p) => p.returning.is_some(),
            Body::Delete(p) => p.returning.is_some(),
        }
    }
}

impl Plan {
    /// `EXPLAIN`'s lines for this plan (`explain.rs`).
    pub fn explain(&self, cat: &tandem_storage::Catalog) -> Vec<String> {
        explain::explain(self, cat)
    }
}

/// Can this crate plan the statement? (Query, Insert, Update, Delete.)
pub fn is_plannable(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Query(_)
            | Statement::Insert(_)
            | Statement::Update { .. }
            | Statement::Delete(_)
    )
}

fn output_columns(cols: Vec<OutCol>) -> Vec<OutputColumn> {
    cols.into_iter()
        .map(|c| OutputColumn {
            name: c.name,
            data_type: c.ty,
            table_oid: c.table_oid,
            attnum: c.attnum,
        })
        .collect()
}

/// `INSERT ... OVERRIDING SYSTEM VALUE` (values for GENERATED ALWAYS
/// identity columns are taken) or `OVERRIDING USER VALUE` (values for
/// identity columns are ignored: their sequences give them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overriding {
    System,
    User,
}

/// Binds and plans. `param_types` holds the types given by Parse (0-OID/unknown
/// entries as `DataType::Unknown`); planning fills in inferred types for every
/// `$n` referenced (and extends the vector), as PostgreSQL's parse analysis does.
/// Parameters no context typed become `text`.
pub fn plan(
    stmt: &Statement,
    param_types: &mut Vec<DataType>,
    ctx: &mut ExecContext<'_>,
) -> PgResult<Plan> {
    plan_with(stmt, param_types, ctx, None)
}

/// [`plan`] of an INSERT with an OVERRIDING clause (which the SQL parser
/// does not carry in the statement).
pub fn plan_with(
    stmt: &Statement,
    param_types: &mut Vec<DataType>,
    ctx: &mut ExecContext<'_>,
    overriding: Option<Overriding>,
) -> PgResult<Plan> {
    let mut b = Binder::for_session(ctx, param_types);
    b.levels.push(Level::new());
    let (kind, body, cols) = match stmt {
        // WITH ... INSERT / UPDATE / DELETE
        Statement::Query(q) if bind::select::dml_body(&q.body).is_some() => {
            let saved = b.ctes.len();
            if let Some(with) = &q.with {
                b.push_ctes(with)?;
            }
            let r = match bind::select::dml_body(&q.body) {
                Some(inner) => bind_dml(&mut b, inner, overriding),
                None => Err(tandem_types::PgError::internal("not a DML statement")),
            };
            b.ctes.truncate(saved);
            r?
        }
        Statement::Query(q) => {
            let (node, cols) = b.bind_query(q)?;
            (CommandKind::Select, Body::Query(node), cols)
        }
        stmt => bind_dml(&mut b, stmt, overriding)?,
    };
    b.finish_params();
    Ok(Plan {
        kind,
        columns: output_columns(cols),
        body,
        pre: std::mem::take(&mut b.dml_ctes),
        pre_read: std::mem::take(&mut b.dml_ctes_read),
        perms: b.perms.into_iter().collect(),
    })
}

/// Binds an INSERT, UPDATE or DELETE (a statement, or a data-modifying
/// CTE's).
pub(crate) fn bind_dml(
    b: &mut Binder,
    stmt: &Statement,
    overriding: Option<Overriding>,
) -> PgResult<(CommandKind, Body, Vec<OutCol>)> {
    Ok(match stmt {
        Statement::Insert(i) => {
            let (p, cols) = dml::bind_insert(b, i, overriding)?;
            (CommandKind::Insert, Body::Insert(p), cols)
        }
        Statement::Update(u) => {
            let (p, cols) = dml::bind_update(b, u)?;
            (CommandKind::Update, Body::Update(p), cols)
        }
        Statement::Delete(d) => {
            let (p, cols) = dml::bind_delete(b, d)?;
            (CommandKind::Delete, Body::Delete(p), cols)
        }
        other => {
            return Err(tandem_types::PgError::unsupported(format!(
                "statement {other}"
            )))
        }
    })
}

/// Runs one statement body; `emit` gets its rows (a query's, or the
/// RETURNING rows of DML).
fn run_body(
    plan: &Plan,
    body: &Body,
    ex: &mut exec::Exec,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    match body {
        Body::Query(node) => {
            ex.stream_scans = true;
            let mut n = 0u64;
            exec::run(ex, node, None, &mut |_, row| {
                emit(row.to_vec())?;
                n += 1;
                Ok(true)
            })?;
            Ok(n)
        }
        Body::Insert(p) => {
            // rows read from other tables can be inserted as the scans hand
            // them on: a scan of the target itself would see the
            // statement's own rows (reading a table needs SELECT on it)
            ex.stream_scans = !plan
                .perms
                .iter()
                .any(|&((t, _), m)| t == p.table.oid && m & tandem_storage::acl::SELECT != 0);
            dml::exec_insert(ex, p, emit)
        }
        Body::Update(p) => dml::exec_update(ex, p, emit),
        Body::Delete(p) => dml::exec_delete(ex, p, emit),
    }
}

/// What a CREATE VIEW needs of its query: the output columns, and the
/// tables and views it reads.
pub fn describe_query(
    q: &sqlparser::ast::Query,
    ctx: &mut ExecContext<'_>,
) -> PgResult<(Vec<OutputColumn>, Vec<Oid>)> {
    let mut params = Vec::new();
    let mut b = Binder::for_session(ctx, &mut params);
    let (_, cols) = b.bind_query(q)?;
    if !b.dml_ctes.is_empty() {
        return Err(tandem_types::PgError::new(
            tandem_types::SqlState::FEATURE_NOT_SUPPORTED,
            "views must not contain data-modifying statements in WITH",
        ));
    }
    let mut deps: Vec<Oid> = b
        .perms
        .keys()
        .map(|&(rel, _)| rel)
        .filter(|rel| !b.views_used.contains(rel))
        .collect();
    deps.extend(b.views_used.iter().copied());
    drop(b);
    if !params.is_empty() {
        return Err(tandem_types::PgError::new(
            tandem_types::SqlState("42P02"),
            "there is no parameter $1",
        ));
    }
    Ok((output_columns(cols), deps))
}

/// Executes a plan, handing each output row to `emit`. Returns the row count for
/// the command tag (rows returned for SELECT, rows affected otherwise): the
/// data-modifying CTEs run first, their rows kept for the body.
pub fn execute(
    plan: &Plan,
    ctx: &mut ExecContext<'_>,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    exec::check_cancel(ctx)?;
    check_permissions(plan, ctx)?;
    if plan.pre.is_empty() {
        let mut ex = exec::Exec::new(ctx);
        return run_body(plan, &plan.body, &mut ex, emit);
    }
    // the statement and its WITH queries read the tables those change as
    // they were before (one snapshot, as PostgreSQL's)
    let written: Vec<Oid> = plan
        .pre
        .iter()
        .filter_map(|(_, body)| match body {
            Body::Insert(p) => Some(p.table.oid),
            Body::Update(p) => Some(p.table.oid),
            Body::Delete(p) => Some(p.table.oid),
            Body::Query(_) => None,
        })
        .collect();
    ctx.txn.freeze_reads(&written);
    let r = (|| {
        let mut ex = exec::Exec::new(ctx);
        let run_ctes = |ex: &mut exec::Exec, read: bool| -> PgResult<()> {
            for (id, body) in plan
                .pre
                .iter()
                .filter(|p| plan.pre_read.contains(&p.0) == read)
            {
                let mut rows = Vec::new();
                run_body(plan, body, ex, &mut |r| {
                    rows.push(r);
                    Ok(())
                })?;
                ex.work_tables.insert(*id, std::sync::Arc::new(rows));
            }
            Ok(())
        };
        run_ctes(&mut ex, true)?;
        let n = run_body(plan, &plan.body, &mut ex, emit)?;
        run_ctes(&mut ex, false)?;
        Ok(n)
    })();
    ctx.txn.thaw_reads();
    r
}

/// Refuses the plan unless the session's role holds what it needs on every
/// table it names (PostgreSQL's `ExecCheckPermissions`, at executor start, so
/// a prepared statement is checked at each execution).
fn check_permissions(plan: &Plan, ctx: &ExecContext<'_>) -> PgResult<()> {
    if plan.perms.is_empty() {
        return Ok(());
    }
    let cat = ctx.txn.catalog();
    let role = Oid(ctx.session.user_oid);
    for &((table, as_role), mask) in &plan.perms {
        cat.check_table_privileges(table, as_role.unwrap_or(role), mask)?;
    }
    Ok(())
}

/// A scalar expression bound without any table (see [`bind_standalone_expr`]).
#[derive(Clone, Debug)]
pub struct StandaloneExpr {
    expr: plan::Expr,
    pub data_type: DataType,
}

/// Binds an expression with no row context (column DEFAULTs, `SET x = expr`,
/// CALL arguments). `$n` references extend `param_types`.
pub fn bind_standalone_expr(
    expr: &sqlparser::ast::Expr,
    param_types: &mut Vec<DataType>,
    ctx: &mut ExecContext<'_>,
) -> PgResult<StandaloneExpr> {
    let mut b = Binder::for_session(ctx, param_types);
    b.levels.push(Level::new());
    let (expr, data_type) = b.bind_resolved(expr)?;
    b.finish_params();
    Ok(StandaloneExpr { expr, data_type })
}

/// Evaluates a bound standalone expression.
pub fn eval_standalone(e: &StandaloneExpr, ctx: &mut ExecContext<'_>) -> PgResult<Value> {
    let mut ex = exec::Exec::new(ctx);
    exec::eval::eval_full(&mut ex, &e.expr, &[], None)
}

/// Evaluates a standalone SQL expression text with no row context (column
/// DEFAULTs at ALTER TABLE ADD COLUMN, `SET x = expr`). Result cast to `ty` if
/// given (assignment cast, as for a column default).
pub fn eval_expr_text(
    sql: &str,
    ty: Option<&DataType>,
    ctx: &mut ExecContext<'_>,
) -> PgResult<Value> {
    let ast = dml::parse_expr(sql)?;
    let mut params = Vec::new();
    let mut b = Binder::for_session(ctx, &mut params);
    b.levels.push(Level::new());
    let (mut expr, t) = b.bind_expr(&ast)?;
    if let Some(ty) = ty {
        if t == DataType::Unknown {
            expr = b.coerce(expr, &t, &sqltype::base_type(ty))?;
        }
    }
    let mut ex = exec::Exec::new(ctx);
    let v = exec::eval::eval_full(&mut ex, &expr, &[], None)?;
    match ty {
        Some(ty) if !v.is_null() => tandem_expr::assign_cast(v, ty),
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests;
