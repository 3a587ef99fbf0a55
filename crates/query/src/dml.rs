//! INSERT, UPDATE and DELETE: binding and execution.
//!
//! INSERT evaluates its source (VALUES or a query) row by row, fills the other
//! columns from their DEFAULT expressions (`ColumnDef.default`, parsed and bound
//! at plan time), applies assignment casts, checks NOT NULL and inserts.
//!
//! UPDATE and DELETE find their target rows through the same access paths as
//! SELECT (a primary-key lookup when the WHERE pins the key), then for each row:
//!
//! ```text
//!   lock_row ── Unchanged ──────────────────────────────┐
//!       ├──── Updated(newer) ── WHERE still true? ─ yes ┤── apply SET / delete
//!       │                                     └─ no: skip
//!       └──── Deleted: skip
//! ```
//!
//! which is PostgreSQL's READ COMMITTED EvalPlanQual: a concurrent committed
//! update is not lost, the SET is applied to the latest version.
//!
//! `INSERT ... ON CONFLICT` arbitrates on the primary key (a table's only
//! unique index): before each row, `Transaction::conflicting_row` locks the
//! key (waiting out a concurrent writer of it) and returns the row there,
//! which DO NOTHING skips and DO UPDATE updates with its SET and WHERE
//! evaluated over that row followed by the proposed one (`excluded`).
//!
//! Corresponds to PostgreSQL's `parser/analyze.c` (transformInsertStmt,
//! transformUpdateStmt, transformDeleteStmt) and `executor/nodeModifyTable.c`.

use std::sync::Arc;

use sqlparser::ast::{
    self, AssignmentTarget, FromTable, SelectItem, SetExpr, TableFactor, TableObject,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tandem_storage::{acl, LockResult, TableDef};
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use crate::bind::scope::Level;
use crate::bind::select::{and_all, scan_node, split_and};
use crate::bind::{ident_name, object_parts, Binder, OutCol};
use crate::checks::RowChecks;
use crate::exec::eval::{eval_full, truthy};
use crate::exec::scan::for_each_target;
use crate::exec::{run, Exec};
use crate::plan::{Expr, Node};

/// Where an inserted column's value comes from.
#[derive(Clone, Debug)]
pub enum Fill {
    Source(usize),
    Default(Expr),
    Null,
}

#[derive(Clone, Debug)]
pub struct InsertPlan {
    pub table: Arc<TableDef>,
    pub source: Node,
    pub fill: Vec<Fill>,
    pub returning: Option<Vec<Expr>>,
    pub on_conflict: Option<OnConflict>,
    /// The unique keys whose conflicts ON CONFLICT handles.
    pub arbiters: Vec<Arbiter>,
    /// The table's CHECK constraints, checked on every row written.
    pub checks: RowChecks,
}

/// A unique key `INSERT ... ON CONFLICT` checks a row against (PostgreSQL's
/// arbiter indexes): the primary key, or a unique secondary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arbiter {
    PrimaryKey,
    Index(Oid),
}

/// What `INSERT ... ON CONFLICT` does with a row whose arbiter key is taken.
#[derive(Clone, Debug)]
pub enum OnConflict {
    Nothing,
    /// `DO UPDATE SET ... [WHERE ...]`: the SET and WHERE expressions read
    /// the existing row followed by the proposed one (`excluded`).
    Update {
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

#[derive(Clone, Debug)]
pub struct UpdatePlan {
    pub table: Arc<TableDef>,
    pub scan: Node,
    /// The WHERE clause, re-checked on a concurrently updated row (with
    /// `from`: its conjuncts on the target alone).
    pub recheck: Option<Expr>,
    /// SET and RETURNING read the target row (padded to the table's width),
    /// followed by the `from` row when there is one.
    pub sets: Vec<(usize, Expr)>,
    pub returning: Option<Vec<Expr>>,
    pub from: Option<DmlFrom>,
    pub checks: RowChecks,
}

#[derive(Clone, Debug)]
pub struct DeletePlan {
    pub table: Arc<TableDef>,
    pub scan: Node,
    pub recheck: Option<Expr>,
    pub returning: Option<Vec<Expr>>,
    pub from: Option<DmlFrom>,
}

/// `UPDATE ... FROM` / `DELETE ... USING`: the other tables (read once per
/// statement) and the WHERE conjuncts that involve them, evaluated over the
/// target row followed by one of their rows. A target row is changed once,
/// with the first of their rows that matches (PostgreSQL leaves which one
/// unspecified), and not at all when none does.
#[derive(Clone, Debug)]
pub struct DmlFrom {
    pub node: Node,
    pub pred: Option<Expr>,
}

fn target_table(b: &Binder, parts: &[String]) -> PgResult<Arc<TableDef>> {
    let (written, name) = match parts {
        [n] => (None, n.as_str()),
        [s, n] => (Some(s.as_str()), n.as_str()),
        _ => return Err(PgError::syntax("improper qualified name")),
    };
    let schema = &b.relation_schema(written, name)?;
    if let Some(t) = b.catalog.table_by_name(schema, name) {
        return Ok(t.clone());
    }
    if b.catalog.view_by_name(schema, name).is_some() {
        // PostgreSQL makes simple views updatable; tandem's views are read
        // only
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("cannot change view \"{name}\""),
        )
        .with_detail("Views are not updatable in tandem.")
        .with_hint("Change the tables the view reads instead."));
    }
    if tandem_expr::virtual_table(Some(schema), name).is_some()
        || tandem_expr::virtual_table(None, name).is_some()
    {
        return Err(PgError::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("cannot change relation \"{name}\""),
        ));
    }
    let shown = if parts.len() == 2 {
        format!("{schema}.{name}")
    } else {
        name.to_string()
    };
    Err(PgError::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{shown}\" does not exist"),
    ))
}

fn column_index(def: &TableDef, name: &str) -> PgResult<usize> {
    def.columns
        .iter()
        .position(|c| !c.dropped && c.name == name)
        .ok_or_else(|| {
            PgError::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    def.name
                ),
            )
        })
}

/// Parses and binds a column's DEFAULT expression.
pub fn default_expr(b: &mut Binder, def: &TableDef, col: usize) -> PgResult<Option<Expr>> {
    let Some(text) = &def.columns[col].default else {
        return Ok(None);
    };
    let ast = parse_expr(text)?;
    b.levels.push(Level::new());
    let r = b.bind_expr(&ast);
    b.levels.pop();
    let (e, t) = r?;
    Ok(Some(b.coerce(
        e,
        &t,
        &crate::sqltype::base_type(&def.columns[col].data_type),
    )?))
}

pub fn parse_query(text: &str) -> PgResult<Box<ast::Query>> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| PgError::syntax(e.to_string()))
}

pub fn parse_expr(text: &str) -> PgResult<ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| PgError::syntax(e.to_string()))
}

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// Makes the top level show the target table's columns (WHERE, SET, RETURNING).
fn table_level(b: &mut Binder, def: &TableDef, alias: Option<&str>) {
    *b.level() = Level::new();
    push_table_columns(b.level(), def, alias.unwrap_or(&def.name));
}

/// Adds a table's columns to a level under `name`, dropped ones hidden.
pub(crate) fn push_table_columns(level: &mut Level, def: &TableDef, name: &str) {
    let name = name.to_string();
    for (i, c) in def.columns.iter().enumerate() {
        level.columns.push(crate::bind::scope::ScopeColumn {
            table: Some(name.clone()),
            name: if c.dropped {
                format!("\0dropped{i}")
            } else {
                c.name.clone()
            },
            ty: c.data_type.clone(),
            table_oid: def.oid,
            attnum: (i + 1) as i16,
            using_hidden: c.dropped,
        });
    }
    level.tables.push(name);
}

fn bind_returning(
    b: &mut Binder,
    items: &Option<Vec<SelectItem>>,
) -> PgResult<(Option<Vec<Expr>>, Vec<OutCol>)> {
    let Some(items) = items else {
        return Ok((None, Vec::new()));
    };
    let mut bound = Vec::new();
    for it in items {
        b.bind_select_item_pub(it, &mut bound)?;
    }
    let exprs = bound.iter().map(|(e, _)| e.clone()).collect();
    let cols = bound.into_iter().map(|(_, c)| c).collect();
    Ok((Some(exprs), cols))
}

pub fn bind_insert(
    b: &mut Binder,
    ins: &ast::Insert,
    overriding: Option<crate::Overriding>,
) -> PgResult<(InsertPlan, Vec<OutCol>)> {
    if ins.or.is_some()
        || ins.ignore
        || ins.replace_into
        || ins.overwrite
        || !ins.assignments.is_empty()
        || ins.partitioned.is_some()
    {
        return Err(PgError::unsupported("this form of INSERT"));
    }
    let TableObject::TableName(name) = &ins.table else {
        return Err(PgError::unsupported("INSERT into a table function"));
    };
    let def = target_table(b, &object_parts(name)?)?;
    b.require(def.oid, acl::INSERT);
    if ins.returning.is_some() {
        b.require(def.oid, acl::SELECT);
    }
    let mut targets: Vec<usize> = if ins.columns.is_empty() {
        (0..def.columns.len())
            .filter(|i| !def.columns[*i].dropped)
            .collect()
    } else {
        let mut t = Vec::new();
        for c in &ins.columns {
            let n = object_parts(c)?.pop().unwrap_or_default();
            let i = column_index(&def, &n).map_err(|e| at_ident(e, c))?;
            if t.contains(&i) {
                return Err(at_ident(
                    PgError::new(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{n}\" specified more than once"),
                    ),
                    c,
                ));
            }
            t.push(i);
        }
        t
    };
    // Without a column list, a shorter VALUES row fills the leading columns.
    if ins.columns.is_empty() {
        if let Some(q) = &ins.source {
            if let SetExpr::Values(v) = q.body.as_ref() {
                let width = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
                if width < targets.len() {
                    targets.truncate(width);
                }
            }
        }
    }
    let target_types: Vec<DataType> = targets
        .iter()
        .map(|i| def.columns[*i].data_type.clone())
        .collect();
    // GENERATED ALWAYS identity columns take DEFAULT only, unless
    // OVERRIDING SYSTEM VALUE; OVERRIDING USER VALUE ignores what any
    // identity column is given
    let always: Vec<usize> = targets
        .iter()
        .copied()
        .filter(|&c| b.catalog.identity(def.oid, c) == Some(true) && overriding.is_none())
        .collect();
    let ignored: Vec<usize> = match overriding {
        Some(crate::Overriding::User) => targets
            .iter()
            .copied()
            .filter(|&c| b.catalog.identity(def.oid, c).is_some())
            .collect(),
        _ => Vec::new(),
    };
    let mut query_width = None;
    let source = match &ins.source {
        None => Node::Values { rows: vec![vec![]] },
        Some(q) => match q.body.as_ref() {
            SetExpr::Values(v)
                if q.with.is_none() && q.order_by.is_none() && q.limit_clause.is_none() =>
            {
                let mut rows = Vec::new();
                for r in &v.rows {
                    if r.content.len() > targets.len() {
                        return Err(PgError::syntax(
                            "INSERT has more expressions than target columns",
                        ));
                    }
                    if r.content.len() < targets.len() {
                        return Err(PgError::syntax(
                            "INSERT has more target columns than expressions",
                        ));
                    }
                    let mut row = Vec::new();
                    for (j, e) in r.content.iter().enumerate() {
                        if always.contains(&targets[j]) && !is_default_keyword(e) {
                            return Err(identity_always_insert(&def, targets[j]));
                        }
                        if is_default_keyword(e) || ignored.contains(&targets[j]) {
                            row.push(
                                default_expr(b, &def, targets[j])?
                                    .unwrap_or(Expr::Const(Value::Null)),
                            );
                            continue;
                        }
                        let (x, t) = b.bind_expr(e)?;
                        let want = crate::sqltype::base_type(&target_types[j]);
                        row.push(
                            assignment_source(b, x, &t, &want)
                                .map_err(|err| crate::bind::expr::at_literal(err, e))?,
                        );
                    }
                    rows.push(row);
                }
                Node::Values { rows }
            }
            _ => {
                if let Some(&c) = always.first() {
                    return Err(identity_always_insert(&def, c));
                }
                if !ignored.is_empty() {
                    return Err(PgError::unsupported(
                        "OVERRIDING USER VALUE with a query source",
                    ));
                }
                let (node, cols) = b.bind_query(q)?;
                if cols.len() > targets.len() {
                    return Err(PgError::syntax(
                        "INSERT has more expressions than target columns",
                    ));
                }
                if cols.len() < targets.len() && !ins.columns.is_empty() {
                    return Err(PgError::syntax(
                        "INSERT has more target columns than expressions",
                    ));
                }
                query_width = Some(cols.len());
                node
            }
        },
    };
    if let Some(w) = query_width {
        targets.truncate(w);
    }
    let source_width = match &ins.source {
        None => 0,
        Some(_) => targets.len(),
    };
    let mut fill = Vec::with_capacity(def.columns.len());
    for i in 0..def.columns.len() {
        match targets.iter().position(|t| *t == i) {
            Some(j) if j < source_width => fill.push(Fill::Source(j)),
            _ => fill.push(match default_expr(b, &def, i)? {
                Some(e) => Fill::Default(e),
                None => Fill::Null,
            }),
        }
    }
    let alias = ins.table_alias.as_ref().map(|a| ident_name(&a.alias));
    table_level(b, &def, alias.as_deref());
    let (returning, cols) = bind_returning(b, &ins.returning)?;
    let (on_conflict, arbiters) = match &ins.on {
        None => (None, Vec::new()),
        Some(ast::OnInsert::OnConflict(oc)) => {
            let (action, arbiters) = bind_on_conflict(b, &def, oc)?;
            (Some(action), arbiters)
        }
        Some(_) => return Err(PgError::unsupported("ON DUPLICATE KEY UPDATE")),
    };
    let checks = RowChecks::bind(b, &def)?;
    Ok((
        InsertPlan {
            table: def,
            source,
            fill,
            returning,
            on_conflict,
            arbiters,
            checks,
        },
        cols,
    ))
}

/// `428C9`: a value for a GENERATED ALWAYS identity column.
fn identity_always_insert(def: &TableDef, column: usize) -> PgError {
    let name = &def.columns[column].name;
    PgError::new(
        SqlState("428C9"),
        format!("cannot insert a non-DEFAULT value into column \"{name}\""),
    )
    .with_detail(format!(
        "Column \"{name}\" is an identity column defined as GENERATED ALWAYS."
    ))
    .with_hint("Use OVERRIDING SYSTEM VALUE to override.")
}

fn no_matching_constraint() -> PgError {
    PgError::new(
        SqlState::INVALID_COLUMN_REFERENCE,
        "there is no unique or exclusion constraint matching the ON CONFLICT specification",
    )
}

/// Binds `ON CONFLICT [target] DO ...` after the target table's level (and
/// RETURNING) were bound: the target must name the primary key, and DO
/// UPDATE's expressions see the table's columns then `excluded`'s.
fn bind_on_conflict(
    b: &mut Binder,
    def: &TableDef,
    oc: &ast::OnConflict,
) -> PgResult<(OnConflict, Vec<Arbiter>)> {
    let indexes: Vec<_> = b
        .catalog
        .indexes_of(def.oid)
        .into_iter()
        .filter(|i| i.unique)
        .collect();
    let arbiters = match &oc.conflict_target {
        // every unique key
        None => def
            .primary_key
            .iter()
            .map(|_| Arbiter::PrimaryKey)
            .chain(indexes.iter().map(|i| Arbiter::Index(i.oid)))
            .collect(),
        Some(ast::ConflictTarget::Columns(cols)) => {
            let mut wanted = Vec::new();
            for c in cols {
                // bound as an expression over the target, as PostgreSQL does
                let name = ident_name(c);
                let i = column_index(def, &name).map_err(|_| {
                    let e = PgError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{name}\" does not exist"),
                    );
                    let e = crate::bind::scope::with_column_hint(e, &b.levels, None, &name);
                    // PostgreSQL points at the target's parenthesis
                    e.pointed_at(tandem_types::Locate::ParenBefore(
                        c.span.start.line,
                        c.span.start.column,
                    ))
                })?;
                wanted.push(i);
            }
            wanted.sort_unstable();
            wanted.dedup();
            let sorted = |c: &[usize]| {
                let mut c = c.to_vec();
                c.sort_unstable();
                c
            };
            b.require(def.oid, acl::SELECT);
            let pk = def
                .primary_key
                .as_ref()
                .filter(|pk| sorted(&pk.columns) == wanted)
                .map(|_| Arbiter::PrimaryKey);
            let by_index = indexes
                .iter()
                .filter(|i| sorted(&i.columns) == wanted)
                .map(|i| Arbiter::Index(i.oid));
            let found: Vec<Arbiter> = pk.into_iter().chain(by_index).collect();
            if found.is_empty() {
                return Err(no_matching_constraint());
            }
            found
        }
        Some(ast::ConflictTarget::OnConstraint(name)) => {
            let name = object_parts(name)?.pop().unwrap_or_default();
            b.require(def.oid, acl::SELECT);
            if def.primary_key.as_ref().is_some_and(|pk| pk.name == name) {
                vec![Arbiter::PrimaryKey]
            } else if let Some(i) = indexes.iter().find(|i| i.constraint && i.name == name) {
                vec![Arbiter::Index(i.oid)]
            } else {
                return Err(PgError::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!(
                        "constraint \"{name}\" for table \"{}\" does not exist",
                        def.name
                    ),
                ));
            }
        }
    };
    let ast::OnConflictAction::DoUpdate(up) = &oc.action else {
        return Ok((OnConflict::Nothing, arbiters));
    };
    if oc.conflict_target.is_none() {
        return Err(PgError::syntax(
            "ON CONFLICT DO UPDATE requires inference specification or constraint name",
        )
        .with_hint("For example, ON CONFLICT (column_name).")
        .with_locate(tandem_types::Locate::Words("on conflict")));
    }
    b.require(def.oid, acl::UPDATE);
    push_table_columns(b.level(), def, "excluded");
    let sets = bind_sets(b, def, &up.assignments)?;
    let filter = and_all(bind_where(b, &up.selection)?);
    Ok((OnConflict::Update { sets, filter }, arbiters))
}

fn bind_where(b: &mut Binder, selection: &Option<ast::Expr>) -> PgResult<Vec<Expr>> {
    let mut conj = Vec::new();
    if let Some(w) = selection {
        b.level().agg_forbidden = Some("WHERE");
        let r = b.bind_condition(w, "WHERE");
        b.level().agg_forbidden = None;
        split_and(r?, &mut conj);
    }
    Ok(conj)
}

fn single_table(b: &Binder, rel: &TableFactor) -> PgResult<(Arc<TableDef>, Option<String>)> {
    match rel {
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            let def = target_table(b, &object_parts(name)?)?;
            Ok((def, alias.as_ref().map(|a| ident_name(&a.name))))
        }
        other => Err(PgError::unsupported(format!("DML target {other}"))),
    }
}

pub fn bind_update(b: &mut Binder, u: &ast::Update) -> PgResult<(UpdatePlan, Vec<OutCol>)> {
    if !u.table.joins.is_empty() || u.or.is_some() || !u.order_by.is_empty() || u.limit.is_some() {
        return Err(PgError::unsupported("this form of UPDATE"));
    }
    let (def, alias) = single_table(b, &u.table.relation)?;
    b.require(def.oid, acl::UPDATE);
    if u.returning.is_some() {
        b.require(def.oid, acl::SELECT);
    }
    table_level(b, &def, alias.as_deref());
    let items = match &u.from {
        None => &[][..],
        Some(ast::UpdateTableFromKind::AfterSet(items)) => items.as_slice(),
        Some(ast::UpdateTableFromKind::BeforeSet(_)) => {
            return Err(PgError::unsupported("UPDATE FROM before SET"))
        }
    };
    let (scan, recheck, from) = bind_dml_from(b, &def, items, &u.selection)?;
    let sets = bind_sets(b, &def, &u.assignments)?;
    let (returning, cols) = bind_returning(b, &u.returning)?;
    let checks = RowChecks::bind(b, &def)?;
    Ok((
        UpdatePlan {
            table: def,
            scan,
            recheck,
            sets,
            returning,
            from,
            checks,
        },
        cols,
    ))
}

/// The FROM (USING) items of an UPDATE (DELETE) after the target's columns
/// in the level, and its WHERE: the target's scan (with the conjuncts on
/// the target alone), those conjuncts for the recheck, and the other items
/// with the conjuncts that read them.
fn bind_dml_from(
    b: &mut Binder,
    def: &TableDef,
    items: &[ast::TableWithJoins],
    selection: &Option<ast::Expr>,
) -> PgResult<(Node, Option<Expr>, Option<DmlFrom>)> {
    let mut tree = None;
    for twj in items {
        tree = Some(b.bind_from_item(twj, tree.take())?);
    }
    let conj = bind_where(b, selection)?;
    let Some(tree) = tree else {
        let indexes = b.catalog.indexes_of(def.oid);
        return Ok((scan_node(def, &indexes, conj.clone()), and_all(conj), None));
    };
    let width = def.columns.len();
    let (mine, theirs): (Vec<Expr>, Vec<Expr>) = conj.into_iter().partition(|c| {
        let mut cols = Vec::new();
        c.columns(&mut cols);
        !crate::bind::select::has_subplan(c) && cols.iter().all(|i| *i < width)
    });
    let from = DmlFrom {
        node: crate::bind::select::build_from(tree),
        pred: and_all(theirs),
    };
    let indexes = b.catalog.indexes_of(def.oid);
    Ok((
        scan_node(def, &indexes, mine.clone()),
        and_all(mine),
        Some(from),
    ))
}

/// A value assigned to a column of type `want`: an unknown literal takes
/// that type now, and `character(n)` going into another type loses its
/// padding; other values get their assignment cast when the row is stored.
fn assignment_source(b: &mut Binder, x: Expr, t: &DataType, want: &DataType) -> PgResult<Expr> {
    let unpad = matches!(t, DataType::Bpchar(_)) && !matches!(want, DataType::Bpchar(_));
    if *t == DataType::Unknown || unpad {
        b.coerce(x, t, want)
    } else {
        Ok(x)
    }
}

/// The `SET column = expression` list of an UPDATE (or of ON CONFLICT DO
/// UPDATE), each expression cast to its column's type.
fn bind_sets(
    b: &mut Binder,
    def: &TableDef,
    assignments: &[ast::Assignment],
) -> PgResult<Vec<(usize, Expr)>> {
    let mut pairs: Vec<(&ast::ObjectName, std::borrow::Cow<'_, ast::Expr>)> = Vec::new();
    for a in assignments {
        match &a.target {
            AssignmentTarget::ColumnName(n) => {
                pairs.push((n, std::borrow::Cow::Borrowed(&a.value)))
            }
            AssignmentTarget::Tuple(names) => {
                for (n, v) in names
                    .iter()
                    .zip(multiple_column_source(names.len(), &a.value)?)
                {
                    pairs.push((n, std::borrow::Cow::Owned(v)));
                }
            }
        }
    }
    let mut sets = Vec::new();
    for (n, value) in pairs {
        let parts = object_parts(n)?;
        let col = column_index(def, parts.last().map(String::as_str).unwrap_or(""))
            .map_err(|e| at_ident(e, n))?;
        if sets.iter().any(|(c, _)| *c == col) {
            return Err(PgError::syntax(format!(
                "multiple assignments to same column \"{}\"",
                def.columns[col].name
            )));
        }
        let e = if is_default_keyword(&value) {
            default_expr(b, def, col)?.unwrap_or(Expr::Const(Value::Null))
        } else if b.catalog.identity(def.oid, col) == Some(true) {
            let name = &def.columns[col].name;
            return Err(PgError::new(
                SqlState("428C9"),
                format!("column \"{name}\" can only be updated to DEFAULT"),
            )
            .with_detail(format!(
                "Column \"{name}\" is an identity column defined as GENERATED ALWAYS."
            )));
        } else {
            b.level().agg_forbidden = Some("UPDATE");
            let r = b.bind_expr(&value);
            b.level().agg_forbidden = None;
            let (x, t) = r?;
            let want = crate::sqltype::base_type(&def.columns[col].data_type);
            assignment_source(b, x, &t, &want)?
        };
        sets.push((col, e));
    }
    Ok(sets)
}

/// The `n` values of `SET (a, b, ...) = source`: a row constructor's items,
/// or one scalar sub-SELECT per column of a sub-SELECT (each returning
/// that column).
fn multiple_column_source(n: usize, source: &ast::Expr) -> PgResult<Vec<ast::Expr>> {
    let mismatch = || PgError::syntax("number of columns does not match number of values");
    let values: Vec<ast::Expr> = match source {
        ast::Expr::Tuple(items) => items.clone(),
        ast::Expr::Function(f) if object_parts(&f.name)?.last().is_some_and(|x| x == "row") => {
            let ast::FunctionArguments::List(list) = &f.args else {
                return Err(mismatch());
            };
            let mut out = Vec::new();
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e.clone()),
                    _ => return Err(PgError::unsupported(format!("ROW item {a}"))),
                }
            }
            out
        }
        ast::Expr::Subquery(q) => {
            let SetExpr::Select(sel) = q.body.as_ref() else {
                return Err(PgError::unsupported(
                    "a multiple-column UPDATE from this query",
                ));
            };
            if sel.projection.iter().any(|i| {
                !matches!(
                    i,
                    SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
                )
            }) {
                return Err(PgError::unsupported(
                    "a multiple-column UPDATE from this query",
                ));
            }
            if sel.projection.len() != n {
                return Err(mismatch());
            }
            (0..n)
                .map(|i| {
                    let mut one = (**q).clone();
                    if let SetExpr::Select(s1) = one.body.as_mut() {
                        s1.projection = vec![sel.projection[i].clone()];
                    }
                    ast::Expr::Subquery(Box::new(one))
                })
                .collect()
        }
        _ => {
            return Err(PgError::syntax(
                "source for a multiple-column UPDATE item must be a sub-SELECT or ROW() expression",
            )
            .with_locate(tandem_types::Locate::Words("set")))
        }
    };
    if values.len() != n {
        return Err(mismatch());
    }
    Ok(values)
}

/// Points an error at a column name in the statement.
fn at_ident(e: PgError, n: &ast::ObjectName) -> PgError {
    match n.0.last().and_then(|p| p.as_ident()) {
        Some(id) => e.pointed_at(tandem_types::Locate::LineColumn(
            id.span.start.line,
            id.span.start.column,
        )),
        None => e,
    }
}

pub fn bind_delete(b: &mut Binder, d: &ast::Delete) -> PgResult<(DeletePlan, Vec<OutCol>)> {
    if !d.tables.is_empty() || !d.order_by.is_empty() || d.limit.is_some() {
        return Err(PgError::unsupported("this form of DELETE"));
    }
    let from = match &d.from {
        FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
    };
    let [twj] = from.as_slice() else {
        return Err(PgError::unsupported("DELETE from several tables"));
    };
    if !twj.joins.is_empty() {
        return Err(PgError::unsupported("DELETE with joins"));
    }
    let (def, alias) = single_table(b, &twj.relation)?;
    b.require(def.oid, acl::DELETE);
    if d.returning.is_some() {
        b.require(def.oid, acl::SELECT);
    }
    table_level(b, &def, alias.as_deref());
    let using = d.using.as_deref().unwrap_or(&[]);
    let (scan, recheck, from) = bind_dml_from(b, &def, using, &d.selection)?;
    let (returning, cols) = bind_returning(b, &d.returning)?;
    Ok((
        DeletePlan {
            table: def,
            scan,
            recheck,
            returning,
            from,
        },
        cols,
    ))
}

/// Assignment casts, dropped columns to NULL, and the NOT NULL check.
fn finalize_row(def: &TableDef, row: &mut [Value], cast: &dyn Fn(usize) -> bool) -> PgResult<()> {
    for (i, col) in def.columns.iter().enumerate() {
        if col.dropped {
            row[i] = Value::Null;
            continue;
        }
        if !row[i].is_null() && cast(i) {
            let v = std::mem::replace(&mut row[i], Value::Null);
            row[i] = tandem_expr::assign_cast(v, &col.data_type)?;
        }
        let in_pk = def
            .primary_key
            .as_ref()
            .map(|pk| pk.columns.contains(&i))
            .unwrap_or(false);
        if row[i].is_null() && (col.not_null || in_pk) {
            let shown: Vec<String> = def
                .columns
                .iter()
                .zip(row.iter())
                .filter(|(c, _)| !c.dropped)
                .map(|(_, v)| {
                    if v.is_null() {
                        "null".to_string()
                    } else {
                        let mut s = String::new();
                        tandem_expr::text_out(v, &mut s);
                        s
                    }
                })
                .collect();
            return Err(PgError::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    col.name, def.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", shown.join(", ")))
            .with_column(&def.schema, &def.name, &col.name));
        }
    }
    Ok(())
}

fn emit_returning(
    ex: &mut Exec,
    returning: &Option<Vec<Expr>>,
    row: &[Value],
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<()> {
    if let Some(exprs) = returning {
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            out.push(eval_full(ex, e, row, None)?);
        }
        emit(out)?;
    }
    Ok(())
}

pub fn exec_insert(
    ex: &mut Exec,
    p: &InsertPlan,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    let mut count = 0u64;
    let oid = p.table.oid;
    // keys this command inserted or updated: DO UPDATE must not reach them
    let mut touched: std::collections::HashSet<tandem_storage::RowKey> = Default::default();
    run(ex, &p.source, None, &mut |ex, src| {
        ex.tick()?;
        let mut row = Vec::with_capacity(p.fill.len());
        for f in &p.fill {
            row.push(match f {
                Fill::Source(i) => src.get(*i).cloned().unwrap_or(Value::Null),
                Fill::Default(e) => eval_full(ex, e, &[], None)?,
                Fill::Null => Value::Null,
            });
        }
        finalize_row(&p.table, &mut row, &|_| true)?;
        p.checks.check(ex, &p.table, &row)?;
        if let Some(action) = &p.on_conflict {
            if let Some((key, existing)) = conflicting(ex, oid, &p.arbiters, &row)? {
                if let OnConflict::Update { sets, filter } = action {
                    if let Some(new) =
                        conflict_update(ex, p, sets, filter, &key, existing, row, &touched)?
                    {
                        touched.insert(ex.ctx.txn.update(oid, &key, new.clone())?);
                        emit_returning(ex, &p.returning, &new, emit)?;
                        count += 1;
                    }
                }
                return Ok(true);
            }
            if matches!(action, OnConflict::Update { .. }) {
                if let Some(pk) = &p.table.primary_key {
                    let vals: Vec<Value> = pk.columns.iter().map(|&c| row[c].clone()).collect();
                    touched.insert(ex.ctx.txn.encode_key(oid, &vals)?);
                }
            }
        }
        if p.returning.is_some() {
            ex.ctx.txn.insert(oid, row.clone())?;
            emit_returning(ex, &p.returning, &row, emit)?;
        } else {
            ex.ctx.txn.insert(oid, row)?;
        }
        count += 1;
        Ok(true)
    })?;
    // foreign key checks and actions, at the end of the statement
    ex.ctx.txn.finish_statement()?;
    Ok(count)
}

/// The row an arbiter key of `row` is taken by, locked, with its key.
fn conflicting(
    ex: &mut Exec,
    table: Oid,
    arbiters: &[Arbiter],
    row: &[Value],
) -> PgResult<Option<(tandem_storage::RowKey, Vec<Value>)>> {
    for a in arbiters {
        let found = match a {
            Arbiter::PrimaryKey => ex.ctx.txn.conflicting_row(table, row)?,
            Arbiter::Index(index) => ex.ctx.txn.conflicting_row_in(table, *index, row)?,
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// ON CONFLICT DO UPDATE of the row `existing` at `key` with the proposed
/// row `excluded`: the new row, or None when the WHERE rejects it.
#[allow(clippy::too_many_arguments)]
fn conflict_update(
    ex: &mut Exec,
    p: &InsertPlan,
    sets: &[(usize, Expr)],
    filter: &Option<Expr>,
    key: &tandem_storage::RowKey,
    existing: Vec<Value>,
    excluded: Vec<Value>,
    touched: &std::collections::HashSet<tandem_storage::RowKey>,
) -> PgResult<Option<Vec<Value>>> {
    if touched.contains(key) {
        return Err(PgError::new(
            SqlState::CARDINALITY_VIOLATION,
            "ON CONFLICT DO UPDATE command cannot affect row a second time",
        )
        .with_hint(
            "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
        ));
    }
    let width = p.table.columns.len();
    let mut both = existing;
    both.resize(width, Value::Null);
    both.extend(excluded);
    if let Some(f) = filter {
        if !truthy(&eval_full(ex, f, &both, None)?) {
            return Ok(None);
        }
    }
    let mut new = both[..width].to_vec();
    for (c, e) in sets {
        new[*c] = eval_full(ex, e, &both, None)?;
    }
    finalize_row(&p.table, &mut new, &|i| sets.iter().any(|(c, _)| *c == i))?;
    p.checks.check(ex, &p.table, &new)?;
    Ok(Some(new))
}

/// Locks a target row; returns the version to modify, or None to skip it.
fn lock_target(
    ex: &mut Exec,
    table: &TableDef,
    recheck: &Option<Expr>,
    key: tandem_storage::RowKey,
    row: Vec<Value>,
) -> PgResult<Option<(tandem_storage::RowKey, Vec<Value>)>> {
    match ex.ctx.txn.lock_row(table.oid, &key, Some(&row))? {
        LockResult::Unchanged => Ok(Some((key, row))),
        LockResult::Updated(newer_key, newer) => {
            if let Some(r) = recheck {
                if !truthy(&eval_full(ex, r, &newer, None)?) {
                    return Ok(None);
                }
            }
            Ok(Some((newer_key, newer)))
        }
        LockResult::Deleted => Ok(None),
    }
}

pub fn exec_update(
    ex: &mut Exec,
    p: &UpdatePlan,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    // keys stay where they are (no key column set) and nothing evaluated
    // reads tables: the targets can be taken a batch at a time
    let key_set = p
        .table
        .primary_key
        .as_ref()
        .is_some_and(|pk| p.sets.iter().any(|(c, _)| pk.columns.contains(c)));
    let stream = !key_set
        && !p.sets.iter().any(|(_, e)| e.has_subquery())
        && !returning_reads_tables(&p.returning);
    let rows = from_rows(ex, &p.from)?;
    let width = p.table.columns.len();
    let mut count = 0u64;
    for_each_target(ex, &p.scan, stream, &mut |ex, key, row| {
        ex.tick()?;
        if p.from.is_some() && joined(ex, &p.from, &rows, row.clone(), width)?.is_none() {
            return Ok(None);
        }
        let Some((key, row)) = lock_target(ex, &p.table, &p.recheck, key, row)? else {
            return Ok(None);
        };
        let Some(both) = joined(ex, &p.from, &rows, row, width)? else {
            return Ok(None);
        };
        let mut new = both[..width].to_vec();
        for (c, e) in &p.sets {
            new[*c] = eval_full(ex, e, &both, None)?;
        }
        finalize_row(&p.table, &mut new, &|i| p.sets.iter().any(|(c, _)| *c == i))?;
        p.checks.check(ex, &p.table, &new)?;
        let shown = p.returning.as_ref().map(|_| {
            let mut r = new.clone();
            r.extend_from_slice(&both[width..]);
            r
        });
        let written = ex.ctx.txn.update(p.table.oid, &key, new)?;
        if let Some(r) = shown {
            emit_returning(ex, &p.returning, &r, emit)?;
        }
        count += 1;
        Ok(Some(written))
    })?;
    ex.ctx.txn.finish_statement()?;
    Ok(count)
}

/// The rows of a DML statement's FROM (USING) items, read once.
fn from_rows(ex: &mut Exec, from: &Option<DmlFrom>) -> PgResult<Option<Vec<Vec<Value>>>> {
    match from {
        Some(f) => Ok(Some(crate::exec::collect(ex, &f.node, None)?)),
        None => Ok(None),
    }
}

/// `row` padded to `width`, followed (with FROM items) by the first of
/// their `rows` that the FROM conjuncts accept with it; None when none does.
/// Without FROM items, the row itself (no copy).
fn joined(
    ex: &mut Exec,
    from: &Option<DmlFrom>,
    rows: &Option<Vec<Vec<Value>>>,
    row: Vec<Value>,
    width: usize,
) -> PgResult<Option<Vec<Value>>> {
    let mut both = row;
    both.resize(width, Value::Null);
    let (Some(from), Some(rows)) = (from, rows) else {
        return Ok(Some(both));
    };
    for r in rows {
        both.truncate(width);
        both.extend_from_slice(r);
        let ok = match &from.pred {
            Some(pred) => truthy(&eval_full(ex, pred, &both, None)?),
            None => true,
        };
        if ok {
            return Ok(Some(both));
        }
    }
    Ok(None)
}

fn returning_reads_tables(returning: &Option<Vec<Expr>>) -> bool {
    returning
        .as_ref()
        .is_some_and(|r| r.iter().any(Expr::has_subquery))
}

pub fn exec_delete(
    ex: &mut Exec,
    p: &DeletePlan,
    emit: &mut dyn FnMut(Vec<Value>) -> PgResult<()>,
) -> PgResult<u64> {
    let stream = !returning_reads_tables(&p.returning);
    let rows = from_rows(ex, &p.from)?;
    let width = p.table.columns.len();
    let mut count = 0u64;
    for_each_target(ex, &p.scan, stream, &mut |ex, key, row| {
        ex.tick()?;
        if p.from.is_some() && joined(ex, &p.from, &rows, row.clone(), width)?.is_none() {
            return Ok(None);
        }
        let Some((key, row)) = lock_target(ex, &p.table, &p.recheck, key, row)? else {
            return Ok(None);
        };
        let Some(both) = joined(ex, &p.from, &rows, row, width)? else {
            return Ok(None);
        };
        ex.ctx.txn.delete(p.table.oid, &key)?;
        emit_returning(ex, &p.returning, &both, emit)?;
        count += 1;
        Ok(Some(key))
    })?;
    ex.ctx.txn.finish_statement()?;
    Ok(count)
}
