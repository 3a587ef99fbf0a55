//! The query engine: binds sqlparser ASTs against the catalog, plans, and executes
//! SELECT (joins, subqueries, grouping, aggregates, DISTINCT, ORDER BY, LIMIT,
//! table functions) and INSERT / UPDATE / DELETE (with RETURNING, ON CONFLICT not
//! yet).
//!
//! INTERFACE STUB (written by the lead): the query helper owns this crate and
//! replaces the bodies; keep the signatures (extend freely).

use sqlparser::ast::Statement;
use tandem_expr::ExecContext;
use tandem_types::{DataType, Oid, PgResult, Value};

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

/// A planned statement: immutable, reusable across executions with different
/// parameters (prepared statements), valid while the catalog is unchanged.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: CommandKind,
    /// Empty for INSERT/UPDATE/DELETE without RETURNING.
    pub columns: Vec<OutputColumn>,
    _private: (),
}

/// Can this crate plan the statement? (Query, Insert, Update, Delete.)
pub fn is_plannable(stmt: &Statement) -> bool {
    matches!(
        stmt,
        Statement::Query(_) | Statement::Insert(_) | Statement::Update { .. } | Statement::Delete(_)
    )
}

/// Binds and plans. `param_types` holds the types given by Parse (0-OID/unknown
/// entries as `DataType::Unknown`); planning fills in inferred types for every
/// `$n` referenced (and extends the vector), as PostgreSQL's parse analysis does.
pub fn plan(stmt: &Statement, param_types: &mut Vec<DataType>, ctx: &mut ExecContext<'_>) -> PgResult<Plan> {
    let _ = (stmt, param_types, ctx);
    todo!()
}

/// Executes a plan, handing each output row to `emit`. Returns the row count for
/// the command tag (rows returned for SELECT, rows affected otherwise).
pub fn execute(
    plan: &Plan,
    ctx: &mut ExecContext<'_>,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    let _ = (plan, ctx, emit);
    todo!()
}

/// Evaluates a standalone SQL expression text with no row context (column
/// DEFAULTs at ALTER TABLE ADD COLUMN, `SET x = expr`). Result cast to `ty` if given.
pub fn eval_expr_text(sql: &str, ty: Option<&DataType>, ctx: &mut ExecContext<'_>) -> PgResult<Value> {
    let _ = (sql, ty, ctx);
    todo!()
}
