//! A view's query printed back as PostgreSQL prints it (`pg_get_viewdef`,
//! `pg_views.definition`, `information_schema.views.view_definition`,
//! psql's `\d+` of a view): one clause per line, indented as ruleutils
//! lays it out, the implicit casts and typed constants of parse analysis
//! shown, columns qualified where more than one relation is in scope.
//!
//! The view's SELECT is bound once with [`Notes`] kept (each expression's
//! type, the range-table alias of each column it names, the argument types
//! of each function it calls), then printed from its AST. This file lays
//! out the clauses (WITH, SELECT list, FROM and joins, WHERE, GROUP BY,
//! HAVING, set operations, ORDER BY, OFFSET, LIMIT); `expr.rs` lowers an
//! expression to the node PostgreSQL's parse analysis makes of it (`IN` as
//! `= ANY (ARRAY[...])`, `BETWEEN` as two comparisons, literals typed by
//! context, `varchar` operands cast to `text`) and prints that node.
//!
//! A construct not printed here leaves the definition as written.
//!
//! Corresponds to PostgreSQL's `utils/adt/ruleutils.c`.

mod expr;

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{self, SelectItem, SetExpr, Spanned, TableFactor};
use sqlparser::tokenizer::Span;
use tandem_expr::ExecContext;
use tandem_storage::{Catalog, ViewDef};
use tandem_types::ident::quote_identifier;
use tandem_types::{DataType, PgError, PgResult};

use crate::bind::{ident_name, object_parts, Binder};

/// Identifies an expression of the AST across the copies the binder makes
/// of it (CTE bodies are bound from copies): its variant and its place in
/// the text.
pub type ExprKey = (std::mem::Discriminant<ast::Expr>, Span);

pub fn expr_key(e: &ast::Expr) -> ExprKey {
    (std::mem::discriminant(e), e.span())
}

/// What binding learnt about the expressions of the statement.
#[derive(Debug, Default)]
pub struct Notes {
    /// The type each expression has before its context casts it.
    pub types: HashMap<ExprKey, DataType>,
    /// A column reference: the alias of its range-table entry, its name,
    /// and how many query levels out its relation is.
    pub columns: HashMap<ExprKey, (Option<String>, String, usize)>,
    /// A function call: the types its arguments are cast to.
    pub funcs: HashMap<ExprKey, Vec<DataType>>,
    /// A `*` or `t.*`: the columns it expands to.
    pub stars: HashMap<Span, Vec<(Option<String>, String)>>,
}

/// ruleutils' indentation steps.
const INDENT_STD: i32 = 8;
const INDENT_JOIN: i32 = 4;
const INDENT_VAR: i32 = 4;
const INDENT_LIMIT: i32 = 40;

/// `pg_get_viewdef(view, pretty)`: the definition PostgreSQL prints, or
/// the SELECT as written where this printer does not reach.
pub fn view_definition(view: &ViewDef, ctx: &ExecContext<'_>, pretty: bool) -> String {
    render(view, ctx, pretty).unwrap_or_else(|_| view.query.clone())
}

fn render(view: &ViewDef, ctx: &ExecContext<'_>, pretty: bool) -> PgResult<String> {
    let query = crate::dml::parse_query(&view.query)?;
    let catalog = ctx.txn.catalog();
    let view_path: Arc<[String]> = Arc::from(vec![view.schema.clone(), "public".to_string()]);
    let mut params = Vec::new();
    let mut b = Binder::new(catalog.clone(), &mut params);
    b.search_path = view_path.clone();
    b.check_as = Some(view.owner);
    b.notes = Some(Box::default());
    b.bind_query(&query)?;
    let notes = b.notes.take().unwrap_or_default();
    drop(b);
    let names: Vec<String> = view.columns.iter().map(|c| c.0.clone()).collect();
    let mut d = Deparser {
        buf: String::new(),
        paren: pretty,
        notes: &notes,
        catalog: &catalog,
        view_path: &view_path,
        caller_path: tandem_expr::reg::session_search_path(ctx),
        ctes: Vec::new(),
        scopes: Vec::new(),
    };
    d.query(&query, false, Some(&names), true, 0)?;
    d.buf.push(';');
    Ok(d.buf)
}

fn unsupported(what: &str) -> PgError {
    PgError::unsupported(format!("printing {what}"))
}

pub(crate) struct Deparser<'a> {
    buf: String,
    /// ruleutils' PRETTYFLAG_PAREN: only the parentheses precedence needs.
    paren: bool,
    notes: &'a Notes,
    catalog: &'a Catalog,
    /// Where the view's own names are looked up.
    view_path: &'a [String],
    /// The reading session's search_path: relations it does not find by
    /// name alone are printed qualified.
    caller_path: Arc<[String]>,
    /// Names of the CTEs in scope (a FROM item naming one is no relation).
    ctes: Vec<String>,
    /// Per query level being printed, outermost first: its FROM items'
    /// names as written and as shown.
    scopes: Vec<Vec<(String, String)>>,
}

/// One query level being printed (ruleutils' `deparse_context`).
pub(crate) struct Level<'n> {
    indent: i32,
    /// Columns are printed with their relation's alias.
    varprefix: bool,
    /// The view's column names (top level and set operation arms).
    names: Option<&'n [String]>,
    /// Output column names matter (`AS` is printed for every expression).
    visible: bool,
}

/// A target list entry: an expression, or a column a `*` expands to.
enum Target<'q> {
    Expr(&'q ast::Expr, String),
    Column(Option<String>, String),
}

impl Target<'_> {
    fn name(&self) -> &str {
        match self {
            Target::Expr(_, n) | Target::Column(_, n) => n,
        }
    }
}

impl<'a> Deparser<'a> {
    /// ruleutils' appendContextKeyword: a new line at the level's
    /// indentation, then `text`.
    fn keyword(&mut self, lv: &mut Level<'_>, text: &str, before: i32, after: i32, plus: i32) {
        lv.indent += before;
        self.trim_spaces();
        self.buf.push('\n');
        let amount = if lv.indent < INDENT_LIMIT {
            lv.indent.max(0) + plus
        } else {
            let wrapped = INDENT_LIMIT + (lv.indent - INDENT_LIMIT) / (INDENT_STD / 2);
            wrapped % INDENT_LIMIT + plus
        };
        self.buf
            .extend(std::iter::repeat_n(' ', amount.max(0) as usize));
        self.buf.push_str(text);
        lv.indent = (lv.indent + after).max(0);
    }

    fn trim_spaces(&mut self) {
        let kept = self.buf.trim_end_matches(' ').len();
        self.buf.truncate(kept);
    }

    /// Prints into a buffer of its own (to decide on line breaks after).
    fn capture<T>(&mut self, f: impl FnOnce(&mut Self) -> PgResult<T>) -> PgResult<(String, T)> {
        let saved = std::mem::take(&mut self.buf);
        let r = f(self);
        let text = std::mem::replace(&mut self.buf, saved);
        Ok((text, r?))
    }

    /// ruleutils' get_query_def.
    fn query(
        &mut self,
        q: &ast::Query,
        nested: bool,
        names: Option<&[String]>,
        visible: bool,
        indent: i32,
    ) -> PgResult<()> {
        if q.fetch.is_some()
            || !q.locks.is_empty()
            || q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(unsupported("query clause"));
        }
        let mut lv = Level {
            indent,
            varprefix: nested || range_table_len(&q.body) != 1,
            names,
            visible,
        };
        let scope = self.ctes.len();
        self.name_level(&q.body);
        let r = self.query_in(q, &mut lv);
        self.scopes.pop();
        self.ctes.truncate(scope);
        r
    }

    fn query_in(&mut self, q: &ast::Query, lv: &mut Level<'_>) -> PgResult<()> {
        if let Some(with) = &q.with {
            self.with_clause(with, lv)?;
        }
        let targets = match q.body.as_ref() {
            SetExpr::Select(s) => Some(self.select(s, lv)?),
            SetExpr::SetOperation { .. } => {
                self.set_operation(&q.body, lv)?;
                None
            }
            SetExpr::Values(v) => {
                lv.indent += INDENT_STD;
                self.buf.push(' ');
                self.values(v, lv)?;
                None
            }
            _ => return Err(unsupported("query body")),
        };
        if let Some(ob) = &q.order_by {
            let ast::OrderByKind::Expressions(items) = &ob.kind else {
                return Err(unsupported("ORDER BY ALL"));
            };
            self.keyword(lv, " ORDER BY ", -INDENT_STD, INDENT_STD, 1);
            for (i, o) in items.iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if o.with_fill.is_some() {
                    return Err(unsupported("WITH FILL"));
                }
                match &targets {
                    Some(t) => self.sort_group_item(&o.expr, t, lv, true)?,
                    None => {
                        // a set operation's ORDER BY names output columns
                        let n = output_position(&o.expr, leftmost_names(&q.body, self.notes)?)?;
                        self.buf.push_str(&n.to_string());
                    }
                }
                self.sort_options(&o.options)?;
            }
        }
        match &q.limit_clause {
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                if let Some(o) = offset {
                    self.keyword(lv, " OFFSET ", -INDENT_STD, INDENT_STD, 0);
                    self.plain_expr(&o.value, lv)?;
                }
                if let Some(l) = limit {
                    self.keyword(lv, " LIMIT ", -INDENT_STD, INDENT_STD, 0);
                    match l {
                        ast::Expr::Value(v) if matches!(v.value, ast::Value::Null) => {
                            self.buf.push_str("ALL")
                        }
                        l => self.plain_expr(l, lv)?,
                    }
                }
            }
            None => {}
            Some(_) => return Err(unsupported("LIMIT")),
        }
        Ok(())
    }

    /// ruleutils' get_with_clause.
    fn with_clause(&mut self, with: &ast::With, lv: &mut Level<'_>) -> PgResult<()> {
        lv.indent += INDENT_STD;
        self.buf.push(' ');
        let mut sep = if with.recursive {
            "WITH RECURSIVE "
        } else {
            "WITH "
        };
        for cte in &with.cte_tables {
            let name = ident_name(&cte.alias.name);
            self.buf.push_str(sep);
            self.buf.push_str(&quote_identifier(&name));
            if !cte.alias.columns.is_empty() {
                self.buf.push('(');
                let cols: Vec<String> = cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| quote_identifier(&ident_name(&c.name)))
                    .collect();
                self.buf.push_str(&cols.join(", "));
                self.buf.push(')');
            }
            self.buf.push_str(" AS ");
            match cte.materialized {
                Some(ast::CteAsMaterialized::Materialized) => self.buf.push_str("MATERIALIZED "),
                Some(ast::CteAsMaterialized::NotMaterialized) => {
                    self.buf.push_str("NOT MATERIALIZED ")
                }
                None => {}
            }
            self.buf.push('(');
            self.keyword(lv, "", 0, 0, 0);
            // a recursive CTE sees itself; each sees the ones before it
            if with.recursive {
                self.ctes.push(name.clone());
            }
            self.query(&cte.query, true, None, true, lv.indent)?;
            if !with.recursive {
                self.ctes.push(name);
            }
            self.keyword(lv, "", 0, 0, 0);
            self.buf.push(')');
            sep = ", ";
        }
        lv.indent -= INDENT_STD;
        self.keyword(lv, "", 0, 0, 0);
        Ok(())
    }

    /// ruleutils' get_basic_select_query; the target list, for ORDER BY.
    fn select<'q>(&mut self, s: &'q ast::Select, lv: &mut Level<'_>) -> PgResult<Vec<Target<'q>>> {
        if s.top.is_some()
            || s.into.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || s.qualify.is_some()
            || s.exclude.is_some()
            || s.value_table_mode.is_some()
        {
            return Err(unsupported("SELECT clause"));
        }
        lv.indent += INDENT_STD;
        self.buf.push_str(" SELECT");
        let targets = self.targets(s)?;
        match &s.distinct {
            None | Some(ast::Distinct::All) => {}
            Some(ast::Distinct::Distinct) => self.buf.push_str(" DISTINCT"),
            Some(ast::Distinct::On(exprs)) => {
                self.buf.push_str(" DISTINCT ON (");
                for (i, e) in exprs.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(", ");
                    }
                    self.sort_group_item(e, &targets, lv, true)?;
                }
                self.buf.push(')');
            }
        }
        self.target_list(&targets, lv)?;
        self.print_from(&s.from, lv)?;
        if let Some(w) = &s.selection {
            self.keyword(lv, " WHERE ", -INDENT_STD, INDENT_STD, 1);
            self.plain_expr(w, lv)?;
        }
        match &s.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                if !exprs.is_empty() {
                    self.keyword(lv, " GROUP BY ", -INDENT_STD, INDENT_STD, 1);
                    for (i, e) in exprs.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.sort_group_item(e, &targets, lv, false)?;
                    }
                }
            }
            _ => return Err(unsupported("GROUP BY")),
        }
        if let Some(h) = &s.having {
            self.keyword(lv, " HAVING ", -INDENT_STD, INDENT_STD, 0);
            self.plain_expr(h, lv)?;
        }
        for (i, ast::NamedWindowDefinition(name, def)) in s.named_window.iter().enumerate() {
            let ast::NamedWindowExpr::WindowSpec(spec) = def else {
                return Err(unsupported("WINDOW"));
            };
            if i == 0 {
                self.keyword(lv, " WINDOW ", -INDENT_STD, INDENT_STD, 1);
            } else {
                self.buf.push_str(", ");
            }
            self.buf.push_str(&quote_identifier(&ident_name(name)));
            self.buf.push_str(" AS ");
            self.window_spec(spec, lv)?;
        }
        Ok(targets)
    }

    /// ruleutils' get_values_def: each column's items read as the type
    /// the column resolves to.
    fn values(&mut self, v: &ast::Values, lv: &mut Level<'_>) -> PgResult<()> {
        let width = v.rows.first().map_or(0, |r| r.len());
        let mut types = Vec::with_capacity(width);
        for c in 0..width {
            let column: Vec<DataType> = v
                .rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|e| {
                    self.notes
                        .types
                        .get(&expr_key(e))
                        .cloned()
                        .unwrap_or(DataType::Unknown)
                })
                .collect();
            types.push(match crate::sqltype::common_type(&column)? {
                DataType::Unknown => DataType::Text,
                t => t,
            });
        }
        self.buf.push_str("VALUES ");
        for (i, row) in v.rows.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(", ");
            }
            self.buf.push('(');
            for (c, (e, ty)) in row.iter().zip(&types).enumerate() {
                if c > 0 {
                    self.buf.push(',');
                }
                self.value_item(e, ty, lv)?;
            }
            self.buf.push(')');
        }
        Ok(())
    }

    /// The target list with each `*` expanded (as the view stored it).
    fn targets<'q>(&self, s: &'q ast::Select) -> PgResult<Vec<Target<'q>>> {
        let mut out = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    out.push(Target::Expr(e, crate::bind::expr::figure_colname(e)))
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    out.push(Target::Expr(expr, ident_name(alias)))
                }
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    let cols = self
                        .notes
                        .stars
                        .get(&item.span())
                        .ok_or_else(|| unsupported("*"))?;
                    out.extend(
                        cols.iter()
                            .map(|(q, n)| Target::Column(q.clone(), n.clone())),
                    );
                }
                SelectItem::ExprWithAliases { .. } => return Err(unsupported("aliases")),
            }
        }
        Ok(out)
    }

    /// ruleutils' get_target_list (a new line for every column after the
    /// first: pg_get_viewdef's wrap column is 0).
    fn target_list(&mut self, targets: &[Target<'_>], lv: &mut Level<'_>) -> PgResult<()> {
        // a view's `*` was expanded when it was made: later columns are
        // not its own
        let count = lv
            .names
            .map_or(targets.len(), |n| targets.len().min(n.len()));
        for (i, t) in targets.iter().take(count).enumerate() {
            self.buf.push_str(if i == 0 { " " } else { ", " });
            let (field, ()) = self.capture(|d| {
                let attname = match t {
                    Target::Column(q, n) => {
                        d.variable(q.as_deref(), n, 0, lv);
                        Some(n.clone())
                    }
                    Target::Expr(e, _) => match d.column_of(e) {
                        Some((q, n, depth)) => {
                            d.variable(q.as_deref(), &n, depth, lv);
                            Some(n)
                        }
                        None => {
                            d.target_expr(e, lv)?;
                            (!lv.visible).then(|| "?column?".to_string())
                        }
                    },
                };
                let colname = lv
                    .names
                    .and_then(|n| n.get(i))
                    .map_or(t.name(), String::as_str);
                if attname.as_deref() != Some(colname) {
                    d.buf.push_str(" AS ");
                    d.buf.push_str(&quote_identifier(colname));
                }
                Ok(())
            })?;
            if field.starts_with('\n') {
                self.trim_spaces();
            } else if i > 0 {
                // every field after the first starts a line (wrap column 0)
                self.keyword(lv, "", -INDENT_STD, INDENT_STD, INDENT_VAR);
            }
            self.buf.push_str(&field);
        }
        Ok(())
    }

    /// ruleutils' get_from_clause.
    fn print_from(&mut self, from: &[ast::TableWithJoins], lv: &mut Level<'_>) -> PgResult<()> {
        for (i, twj) in from.iter().enumerate() {
            if i == 0 {
                self.keyword(lv, " FROM ", -INDENT_STD, INDENT_STD, 2);
                self.join_chain(twj, twj.joins.len(), lv)?;
                continue;
            }
            self.buf.push_str(", ");
            let (item, ()) = self.capture(|d| d.join_chain(twj, twj.joins.len(), lv))?;
            if item.starts_with('\n') {
                self.trim_spaces();
            } else {
                self.keyword(lv, "", -INDENT_STD, INDENT_STD, INDENT_VAR);
            }
            self.buf.push_str(&item);
        }
        Ok(())
    }

    /// The first `n` joins of `twj`, nested to the left as PostgreSQL's
    /// join tree is (ruleutils' get_from_clause_item for a JoinExpr).
    fn join_chain(
        &mut self,
        twj: &ast::TableWithJoins,
        n: usize,
        lv: &mut Level<'_>,
    ) -> PgResult<()> {
        if n == 0 {
            return self.table_factor(&twj.relation, lv);
        }
        let j = &twj.joins[n - 1];
        use ast::JoinOperator as J;
        let (word, constraint) = match &j.join_operator {
            J::Join(c) | J::Inner(c) => (
                if matches!(c, ast::JoinConstraint::None) {
                    " CROSS JOIN "
                } else {
                    " JOIN "
                },
                c,
            ),
            J::CrossJoin(c) => (" CROSS JOIN ", c),
            J::Left(c) | J::LeftOuter(c) => (" LEFT JOIN ", c),
            J::Right(c) | J::RightOuter(c) => (" RIGHT JOIN ", c),
            J::FullOuter(c) => (" FULL JOIN ", c),
            _ => return Err(unsupported("join")),
        };
        if !self.paren {
            self.buf.push('(');
        }
        self.join_chain(twj, n - 1, lv)?;
        self.keyword(lv, word, -INDENT_STD, INDENT_STD, INDENT_JOIN);
        if matches!(j.relation, TableFactor::NestedJoin { .. }) {
            return Err(unsupported("nested join"));
        }
        self.table_factor(&j.relation, lv)?;
        match constraint {
            ast::JoinConstraint::Using(names) => {
                let cols: PgResult<Vec<String>> = names
                    .iter()
                    .map(|n| {
                        Ok(quote_identifier(
                            &object_parts(n)?.pop().unwrap_or_default(),
                        ))
                    })
                    .collect();
                self.buf.push_str(" USING (");
                self.buf.push_str(&cols?.join(", "));
                self.buf.push(')');
            }
            ast::JoinConstraint::On(e) => {
                self.buf.push_str(" ON ");
                if !self.paren {
                    self.buf.push('(');
                }
                self.plain_expr(e, lv)?;
                if !self.paren {
                    self.buf.push(')');
                }
            }
            ast::JoinConstraint::None if word != " CROSS JOIN " => self.buf.push_str(" ON TRUE"),
            ast::JoinConstraint::None => {}
            ast::JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN")),
        }
        if !self.paren {
            self.buf.push(')');
        }
        Ok(())
    }

    fn table_factor(&mut self, t: &TableFactor, lv: &mut Level<'_>) -> PgResult<()> {
        match t {
            TableFactor::Table {
                name,
                alias,
                args: None,
                with_hints,
                version: None,
                with_ordinality: false,
                partitions,
                json_path: None,
                sample: None,
                index_hints,
            } if with_hints.is_empty() && partitions.is_empty() && index_hints.is_empty() => {
                let mut parts = object_parts(name)?;
                let rel = parts.pop().unwrap_or_default();
                let schema = parts.pop();
                if schema.is_none() && self.ctes.contains(&rel) {
                    self.buf.push_str(&quote_identifier(&rel));
                } else {
                    let schema =
                        self.catalog
                            .lookup_schema(self.view_path, schema.as_deref(), &rel);
                    if self.catalog.relation_schema(&self.caller_path, &rel) != Some(&schema) {
                        self.buf.push_str(&quote_identifier(&schema));
                        self.buf.push('.');
                    }
                    self.buf.push_str(&quote_identifier(&rel));
                }
                let written = alias.as_ref().map_or(rel.clone(), |a| ident_name(&a.name));
                let shown = self.shown_name(&written).to_string();
                if shown != rel || alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
                    self.buf.push(' ');
                    self.buf.push_str(&quote_identifier(&shown));
                }
                if let Some(a) = alias {
                    self.alias_columns(a);
                }
                Ok(())
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample: None,
            } => {
                if *lateral {
                    self.buf.push_str("LATERAL ");
                }
                self.buf.push('(');
                self.query(subquery, true, None, true, lv.indent)?;
                self.buf.push(')');
                if let Some(a) = alias {
                    let shown = self.shown_name(&ident_name(&a.name)).to_string();
                    self.buf.push(' ');
                    self.buf.push_str(&quote_identifier(&shown));
                    self.alias_columns(a);
                }
                Ok(())
            }
            _ => Err(unsupported("FROM item")),
        }
    }

    fn alias_columns(&mut self, a: &ast::TableAlias) {
        if a.columns.is_empty() {
            return;
        }
        let cols: Vec<String> = a
            .columns
            .iter()
            .map(|c| quote_identifier(&ident_name(&c.name)))
            .collect();
        self.buf.push('(');
        self.buf.push_str(&cols.join(", "));
        self.buf.push(')');
    }

    /// ruleutils' get_setop_query.
    fn set_operation(&mut self, body: &SetExpr, lv: &mut Level<'_>) -> PgResult<()> {
        match body {
            SetExpr::Select(s) => {
                let mut leaf = Level {
                    indent: lv.indent,
                    varprefix: true,
                    names: lv.names,
                    visible: lv.visible,
                };
                self.name_level(body);
                let r = self.select(s, &mut leaf).map(drop);
                self.scopes.pop();
                r
            }
            SetExpr::Query(q) => {
                let paren = q.with.is_some()
                    || q.order_by.is_some()
                    || q.limit_clause.is_some()
                    || !matches!(q.body.as_ref(), SetExpr::Select(_));
                if paren {
                    self.buf.push('(');
                }
                self.query(q, true, lv.names, lv.visible, lv.indent)?;
                if paren {
                    self.buf.push(')');
                }
                Ok(())
            }
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    _ => return Err(unsupported("set quantifier")),
                };
                let word = match op {
                    ast::SetOperator::Union => "UNION ",
                    ast::SetOperator::Intersect => "INTERSECT ",
                    ast::SetOperator::Except | ast::SetOperator::Minus => "EXCEPT ",
                };
                let left = strip_query(left);
                let right = strip_query(right);
                let left_paren = match left {
                    SetExpr::SetOperation {
                        op: lop,
                        set_quantifier: lq,
                        ..
                    } => lop != op || matches!(lq, ast::SetQuantifier::All) != all,
                    _ => false,
                };
                let sub = if left_paren {
                    self.buf.push('(');
                    self.keyword(lv, "", INDENT_STD, 0, 0);
                    INDENT_STD
                } else {
                    0
                };
                self.set_operation(left, lv)?;
                if left_paren {
                    self.keyword(lv, ") ", -sub, 0, 0);
                } else {
                    self.keyword(lv, "", -sub, 0, 0);
                }
                self.buf.push_str(word);
                if all {
                    self.buf.push_str("ALL ");
                }
                let right_paren = matches!(right, SetExpr::SetOperation { .. });
                let sub = if right_paren {
                    self.buf.push('(');
                    INDENT_STD
                } else {
                    0
                };
                self.keyword(lv, "", sub, 0, 0);
                let visible = std::mem::replace(&mut lv.visible, false);
                let r = self.set_operation(right, lv);
                lv.visible = visible;
                r?;
                lv.indent -= sub;
                if right_paren {
                    self.keyword(lv, ")", 0, 0, 0);
                }
                Ok(())
            }
            _ => Err(unsupported("set operation arm")),
        }
    }

    /// ruleutils' get_rule_sortgroupclause: an ORDER BY / GROUP BY /
    /// DISTINCT ON item, printed as the target it names.
    fn sort_group_item(
        &mut self,
        e: &ast::Expr,
        targets: &[Target<'_>],
        lv: &mut Level<'_>,
        output_first: bool,
    ) -> PgResult<()> {
        let target = match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => n
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|n| targets.get(n)),
                _ => None,
            },
            ast::Expr::Identifier(id) if output_first || self.column_of(e).is_none() => {
                let name = ident_name(id);
                targets.iter().find(|t| t.name() == name)
            }
            _ => None,
        };
        match target {
            Some(Target::Column(q, n)) => {
                self.variable(q.as_deref(), n, 0, lv);
                Ok(())
            }
            Some(Target::Expr(te, _)) => self.sort_expr(te, lv),
            None => self.sort_expr(e, lv),
        }
    }

    /// Prints a column reference as ruleutils' get_variable does: its
    /// relation's name as this printing names it (`depth` levels out).
    fn variable(&mut self, qualifier: Option<&str>, name: &str, depth: usize, lv: &Level<'_>) {
        if let (true, Some(q)) = (lv.varprefix, qualifier) {
            let shown = self
                .scopes
                .len()
                .checked_sub(1 + depth)
                .and_then(|l| self.scopes[l].iter().find(|(orig, _)| orig == q))
                .map_or(q, |(_, shown)| shown.as_str());
            self.buf.push_str(&quote_identifier(shown));
            self.buf.push('.');
        }
        self.buf.push_str(&quote_identifier(name));
    }

    /// The name a FROM item of the level being printed is shown with.
    fn shown_name<'s>(&'s self, refname: &'s str) -> &'s str {
        self.scopes
            .last()
            .and_then(|s| s.iter().find(|(orig, _)| orig == refname))
            .map_or(refname, |(_, shown)| shown.as_str())
    }

    /// The names of a query level's FROM items, each made unique against
    /// the enclosing levels' (ruleutils' set_rtable_names: a clash gets
    /// `_1`, `_2` ...).
    fn name_level(&mut self, body: &SetExpr) {
        let mut mine: Vec<(String, String)> = Vec::new();
        if let SetExpr::Select(s) = body {
            let mut wanted = Vec::new();
            for twj in &s.from {
                for t in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation))
                {
                    wanted.extend(refname(t));
                }
            }
            for w in wanted {
                let taken = |n: &str, mine: &[(String, String)]| {
                    self.scopes
                        .iter()
                        .flatten()
                        .chain(mine)
                        .any(|(_, s)| s == n)
                };
                let mut shown = w.clone();
                let mut i = 0;
                while taken(&shown, &mine) {
                    i += 1;
                    shown = format!("{w}_{i}");
                }
                mine.push((w, shown));
            }
        }
        self.scopes.push(mine);
    }

    /// The alias and name of the column `e` names, if it is a column, and
    /// how many levels out its relation is.
    fn column_of(&self, e: &ast::Expr) -> Option<(Option<String>, String, usize)> {
        let e = expr::strip_nested(e);
        self.notes.columns.get(&expr_key(e)).cloned()
    }
}

/// The name a FROM item is referred to by: its alias, else its relation's
/// (or CTE's) name.
fn refname(t: &TableFactor) -> Option<String> {
    match t {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            Some(ident_name(&a.name))
        }
        TableFactor::Table { name, .. } => object_parts(name).ok()?.pop(),
        _ => None,
    }
}

/// How many range-table entries a query level has, as far as whether its
/// columns need their relation's name goes (a join counts its own).
fn range_table_len(body: &SetExpr) -> usize {
    match body {
        SetExpr::Select(s) => s.from.iter().map(|t| 1 + 2 * t.joins.len()).sum(),
        _ => 2,
    }
}

/// `(SELECT ...)` as a set operation arm is the SELECT itself when it has
/// nothing of a query of its own.
fn strip_query(e: &SetExpr) -> &SetExpr {
    match e {
        SetExpr::Query(q)
            if q.with.is_none()
                && q.order_by.is_none()
                && q.limit_clause.is_none()
                && q.fetch.is_none()
                && q.locks.is_empty() =>
        {
            strip_query(&q.body)
        }
        other => other,
    }
}

/// Output column names of a set operation: those of its leftmost arm.
fn leftmost_names(body: &SetExpr, notes: &Notes) -> PgResult<Vec<String>> {
    match body {
        SetExpr::Select(s) => {
            let mut out = Vec::new();
            for item in &s.projection {
                match item {
                    SelectItem::UnnamedExpr(e) => out.push(crate::bind::expr::figure_colname(e)),
                    SelectItem::ExprWithAlias { alias, .. } => out.push(ident_name(alias)),
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => out.extend(
                        notes
                            .stars
                            .get(&item.span())
                            .into_iter()
                            .flatten()
                            .map(|(_, n)| n.clone()),
                    ),
                    SelectItem::ExprWithAliases { .. } => return Err(unsupported("aliases")),
                }
            }
            Ok(out)
        }
        SetExpr::Query(q) => leftmost_names(&q.body, notes),
        SetExpr::SetOperation { left, .. } => leftmost_names(left, notes),
        _ => Err(unsupported("set operation arm")),
    }
}

/// The 1-based output column an ORDER BY item of a set operation names.
fn output_position(e: &ast::Expr, names: Vec<String>) -> PgResult<usize> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse().map_err(|_| unsupported("ORDER BY")),
            _ => Err(unsupported("ORDER BY")),
        },
        ast::Expr::Identifier(id) => {
            let name = ident_name(id);
            names
                .iter()
                .position(|n| *n == name)
                .map(|p| p + 1)
                .ok_or_else(|| unsupported("ORDER BY"))
        }
        _ => Err(unsupported("ORDER BY")),
    }
}
