//! CHECK constraints at run time: the constraints of a table bound once (per
//! plan, per COPY) over its row, and evaluated on every row INSERT, UPDATE,
//! `ON CONFLICT DO UPDATE` and COPY write (PostgreSQL's `ExecConstraints`).
//! A constraint is stored as the text `pg_get_constraintdef` prints
//! (`tandem_storage::ConstraintKind::Check`); the DDL that makes one is in
//! the sql crate (`ddl/check.rs`).

use tandem_expr::ExecContext;
use tandem_storage::{Catalog, ConstraintKind, TableDef};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::bind::scope::Level;
use crate::bind::Binder;
use crate::exec::eval::eval_full;
use crate::exec::Exec;
use crate::plan::Expr;

/// The CHECK constraints of one table, bound over its row.
#[derive(Clone, Debug, Default)]
pub struct RowChecks {
    checks: Vec<(String, Expr)>,
}

impl RowChecks {
    /// Binds the CHECK constraints of `def` (none: nothing to evaluate).
    pub fn bind(b: &mut Binder, def: &TableDef) -> PgResult<RowChecks> {
        let constraints = b.catalog.constraints_of(def.oid);
        let mut checks = Vec::new();
        for c in constraints {
            if let ConstraintKind::Check { expr, .. } = &c.kind {
                checks.push((c.name.clone(), bind_over_row(b, def, expr)?));
            }
        }
        Ok(RowChecks { checks })
    }

    /// Whether there is nothing to check (the table has no CHECK constraint).
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// [`RowChecks::bind`] with a binder of its own (COPY).
    pub fn for_table(cat: std::sync::Arc<Catalog>, def: &TableDef) -> PgResult<RowChecks> {
        let mut params = Vec::new();
        let mut b = Binder::new(cat, &mut params);
        RowChecks::bind(&mut b, def)
    }

    /// One constraint `name` of text `expr` (ALTER TABLE ADD CHECK checking
    /// the rows already there).
    pub fn single(
        cat: std::sync::Arc<Catalog>,
        def: &TableDef,
        name: &str,
        expr: &str,
    ) -> PgResult<RowChecks> {
        let mut params = Vec::new();
        let mut b = Binder::new(cat, &mut params);
        let e = bind_over_row(&mut b, def, expr)?;
        Ok(RowChecks {
            checks: vec![(name.to_string(), e)],
        })
    }

    /// Fails with `23514` unless every constraint holds for `row` (NULL,
    /// unknown, passes).
    pub fn check(&self, ex: &mut Exec, def: &TableDef, row: &[Value]) -> PgResult<()> {
        for (name, e) in &self.checks {
            if eval_full(ex, e, row, None)? == Value::Bool(false) {
                return Err(violation(def, name, row));
            }
        }
        Ok(())
    }

    /// [`RowChecks::check`] outside a statement's executor (COPY).
    pub fn check_in(
        &self,
        ctx: &mut ExecContext<'_>,
        def: &TableDef,
        row: &[Value],
    ) -> PgResult<()> {
        if self.checks.is_empty() {
            return Ok(());
        }
        let mut ex = Exec::new(ctx);
        self.check(&mut ex, def, row)
    }
}

/// Binds constraint text `expr` over the row of `def` (its columns by name).
pub fn bind_over_row(b: &mut Binder, def: &TableDef, expr: &str) -> PgResult<Expr> {
    let ast = crate::dml::parse_expr(expr)?;
    Ok(bind_ast_over_row(b, def, &ast, None)?.0)
}

/// Binds `ast` over the row of `def` (its columns by name); aggregates
/// and window functions refused as in `agg_forbidden` when given.
pub(crate) fn bind_ast_over_row(
    b: &mut Binder,
    def: &TableDef,
    ast: &sqlparser::ast::Expr,
    agg_forbidden: Option<&'static str>,
) -> PgResult<(Expr, DataType)> {
    b.levels.push(Level::new());
    crate::dml::push_table_columns(b.level(), def, &def.name);
    b.level().agg_forbidden = agg_forbidden;
    let bound = b.bind_expr(ast);
    b.levels.pop();
    bound
}

/// The type of a CHECK expression as written, bound over the row of `def`
/// (the binder's errors, an unknown column say, are the DDL's).
pub fn bind_type(
    cat: std::sync::Arc<Catalog>,
    def: &TableDef,
    ast: &sqlparser::ast::Expr,
) -> PgResult<DataType> {
    let mut params = Vec::new();
    let mut b = Binder::new(cat, &mut params);
    Ok(bind_ast_over_row(&mut b, def, ast, None)?.1)
}

/// `23514 new row for relation "t" violates check constraint "c"`.
pub fn violation(def: &TableDef, name: &str, row: &[Value]) -> PgError {
    let live: Vec<Value> = def
        .columns
        .iter()
        .zip(row)
        .filter(|(c, _)| !c.dropped)
        .map(|(_, v)| v.clone())
        .collect();
    PgError::new(
        SqlState::CHECK_VIOLATION,
        format!(
            "new row for relation \"{}\" violates check constraint \"{name}\"",
            def.name
        ),
    )
    .with_detail(format!(
        "Failing row contains ({}).",
        tandem_storage::display::values_text(&live)
    ))
    .with_constraint(&def.schema, &def.name, name)
}
