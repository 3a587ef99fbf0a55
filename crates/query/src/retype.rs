//! ALTER COLUMN TYPE's conversion of a column's values: the `USING`
//! expression (or the column itself) bound over the table's row as it is
//! before the change and cast to the new type as an assignment is, with
//! PostgreSQL's checks on both (`ATPrepAlterColumnType`). The DDL that
//! reads the rows and rewrites those whose value changes is the sql crate's
//! `ddl/table.rs`.

use std::sync::Arc;

use sqlparser::ast;
use tandem_expr::{can_assign_cast, ExecContext};
use tandem_storage::{Catalog, TableDef};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::bind::Binder;
use crate::checks::bind_ast_over_row;
use crate::exec::eval::eval_full;
use crate::exec::Exec;
use crate::plan::Expr;

/// How one column's value of a row becomes a value of its new type.
pub struct Conversion {
    expr: Expr,
    to: DataType,
}

impl Conversion {
    /// Binds the conversion of column `column` of `def` to `to`: `using`
    /// (bound over the row as it is now) or the column, either of which
    /// must have an assignment cast to `to` (42804 otherwise, as
    /// PostgreSQL says it).
    pub fn bind(
        cat: Arc<Catalog>,
        def: &TableDef,
        column: usize,
        using: Option<&ast::Expr>,
        to: &DataType,
    ) -> PgResult<Conversion> {
        let name = &def.columns[column].name;
        let from = &def.columns[column].data_type;
        let Some(using) = using else {
            if from != to && !can_assign_cast(from, to) {
                return Err(PgError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "column \"{name}\" cannot be cast automatically to type {}",
                        to.display_name()
                    ),
                )
                .with_hint(format!(
                    "You might need to specify \"USING {name}::{}\".",
                    to.display_name()
                )));
            }
            return Ok(Conversion {
                expr: Expr::Column(column),
                to: to.clone(),
            });
        };
        let mut params = Vec::new();
        let mut b = Binder::new(cat, &mut params);
        let (expr, ty) = bind_ast_over_row(&mut b, def, using, Some("transform expressions"))?;
        let expr = match ty {
            DataType::Unknown => b.coerce(expr, &ty, to)?,
            ref t if t == to || can_assign_cast(t, to) => expr,
            _ => {
                return Err(PgError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "result of USING clause for column \"{name}\" cannot be cast automatically to type {}",
                        to.display_name()
                    ),
                )
                .with_hint("You might need to add an explicit cast."))
            }
        };
        Ok(Conversion {
            expr,
            to: to.clone(),
        })
    }

    /// The new value of the column for `row` (a row of the table as it is
    /// before the change).
    pub fn convert(&self, ctx: &mut ExecContext<'_>, row: &[Value]) -> PgResult<Value> {
        let mut ex = Exec::new(ctx);
        let v = eval_full(&mut ex, &self.expr, row, None)?;
        tandem_expr::assign_cast(v, &self.to)
    }
}

/// Checks that column `column`'s default (text `default`) can be cast to
/// `to` as an assignment (42804 otherwise, as PostgreSQL says it); the
/// default keeps its text, which an INSERT casts to the column's type.
pub fn check_default(
    cat: Arc<Catalog>,
    def: &TableDef,
    column: usize,
    default: &str,
    to: &DataType,
) -> PgResult<()> {
    let ast = crate::dml::parse_expr(default)?;
    let mut params = Vec::new();
    let mut b = Binder::new(cat, &mut params);
    let (_, ty) = bind_ast_over_row(&mut b, def, &ast, None)?;
    if ty == DataType::Unknown || ty == *to || can_assign_cast(&ty, to) {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::DATATYPE_MISMATCH,
        format!(
            "default for column \"{}\" cannot be cast automatically to type {}",
            def.columns[column].name,
            to.display_name()
        ),
    ))
}
