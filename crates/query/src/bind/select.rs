//! Binding queries: `SELECT`, `VALUES`, set operations, `WITH`, and the FROM
//! clause, producing executor nodes.
//!
//! The FROM clause is first bound into a [`FromTree`] whose leaves own contiguous
//! column ranges of the query level's row. WHERE conjuncts are then pushed down:
//! to a leaf when they read only its columns (a stored table leaf whose filters
//! pin every primary-key column to a value becomes a point lookup), to an inner
//! join's condition when they span its sides, else they stay above the joins.
//! Equality conjuncts between the two sides of a join make it a hash join.
//!
//! A grouped query becomes `Aggregate` (output: group keys ++ aggregate results);
//! target list, HAVING and ORDER BY are rewritten onto that row, and a column
//! neither grouped nor aggregated is the 42803 error. ORDER BY items that are not
//! in the target list ride along as hidden trailing columns, dropped at the end.
//! Set-returning functions in the target list (and ORDER BY / DISTINCT ON) run in
//! `ProjectSet` nodes between the grouping and the final projection.
//!
//! Corresponds to PostgreSQL's `parser/analyze.c` (transformSelectStmt,
//! transformSetOperationStmt, transformValuesClause), `parse_clause.c`
//! (transformFromClause, transformSortClause, transformGroupClause),
//! `parse_agg.c` (check_ungrouped_columns), `optimizer/util/tlist.c`
//! (split_pathtarget_at_srfs) and the pushdown half of
//! `optimizer/plan/initsplan.c`.

use std::sync::Arc;

use sqlparser::ast::{
    self, Distinct, GroupByExpr, JoinConstraint, JoinOperator, LimitClause, OrderByKind,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, SetOperator, SetQuantifier, Spanned,
    TableAlias, TableFactor, TableWithJoins,
};
use tandem_storage::TableDef;
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use super::expr::figure_colname;
use super::scope::{Level, ScopeColumn};
use super::{ident_name, object_parts, Binder, CteDef, OutCol};
use crate::plan::{Expr, JoinKind, Node, SetOpKind, SortKey, SrfCall};
use crate::sqltype::common_type;
use crate::table_functions::{self, TableFunc};

/// The FROM clause while binding.
pub enum FromTree {
    Leaf {
        start: usize,
        width: usize,
        src: LeafSrc,
        filters: Vec<Expr>,
    },
    Join {
        kind: JoinKind,
        left: Box<FromTree>,
        right: Box<FromTree>,
        /// Conditions over the level's row (global column numbers).
        on: Vec<Expr>,
        lateral: bool,
        start: usize,
        width: usize,
    },
}

pub enum LeafSrc {
    /// A stored table, with its secondary indexes.
    Table(Arc<TableDef>, Vec<Arc<tandem_storage::IndexDef>>),
    Node(Box<Node>),
}

impl FromTree {
    fn range(&self) -> (usize, usize) {
        match self {
            FromTree::Leaf { start, width, .. } | FromTree::Join { start, width, .. } => {
                (*start, *width)
            }
        }
    }
}

/// Splits a condition into its AND-ed parts.
pub fn split_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(l, r) => {
            split_and(*l, out);
            split_and(*r, out);
        }
        other => out.push(other),
    }
}

pub fn and_all(mut v: Vec<Expr>) -> Option<Expr> {
    let first = if v.is_empty() {
        return None;
    } else {
        v.remove(0)
    };
    Some(
        v.into_iter()
            .fold(first, |acc, e| Expr::And(acc.boxed(), e.boxed())),
    )
}

/// Whether an expression contains a subquery (such conjuncts are not pushed down:
/// a correlated subquery addresses the full row of its level).
pub fn has_subplan(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(
            x,
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::ScalarSub(_) | Expr::ArraySub(_)
        ) {
            found = true;
        }
    });
    found
}

/// `col = value` with `value` free of this row's columns.
pub(crate) fn eq_column_value(e: &Expr) -> Option<(usize, &Expr)> {
    if let Expr::Binary {
        op: tandem_expr::BinOp::Eq,
        l,
        r,
    } = e
    {
        let free = |x: &Expr| {
            let mut cols = Vec::new();
            x.columns(&mut cols);
            cols.is_empty() && !has_subplan(x)
        };
        match (l.as_ref(), r.as_ref()) {
            (Expr::Column(c), v) if free(v) => return Some((*c, v)),
            (v, Expr::Column(c)) if free(v) => return Some((*c, v)),
            _ => {}
        }
    }
    None
}

/// Access path for a stored table with filters (table-local columns): a
/// primary-key lookup when every key column is pinned, else a secondary
/// index scan when a conjunct pins or bounds an index's first column, else
/// a sequential scan.
pub fn scan_node(
    def: &TableDef,
    indexes: &[Arc<tandem_storage::IndexDef>],
    filters: Vec<Expr>,
) -> Node {
    if let Some(pk) = &def.primary_key {
        let mut key: Vec<Option<Expr>> = vec![None; pk.columns.len()];
        let mut rest = Vec::new();
        for f in &filters {
            if let Some((col, v)) = eq_column_value(f) {
                if let Some(pos) = pk.columns.iter().position(|c| *c == col) {
                    if key[pos].is_none() {
                        key[pos] = Some(v.clone());
                        continue;
                    }
                }
            }
            rest.push(f.clone());
        }
        if key.iter().all(Option::is_some) && !pk.columns.is_empty() {
            let key = key
                .into_iter()
                .zip(&pk.columns)
                .filter_map(|(k, c)| Some((k?, def.columns[*c].data_type.clone())))
                .collect();
            return Node::PkLookup {
                table: def.oid,
                key,
                filter: and_all(rest),
            };
        }
    }
    if let Some(node) = crate::index_path::index_scan(def, indexes, &filters) {
        return node;
    }
    let filter = and_all(filters);
    let pure_filter = filter.as_ref().map(Expr::is_pure).unwrap_or(true);
    Node::SeqScan {
        table: def.oid,
        filter,
        pure_filter,
    }
}

/// Converts the bound FROM tree into executor nodes.
pub fn build_from(tree: FromTree) -> Node {
    match tree {
        FromTree::Leaf {
            src: LeafSrc::Table(def, indexes),
            filters,
            ..
        } => scan_node(&def, &indexes, filters),
        FromTree::Leaf {
            src: LeafSrc::Node(n),
            filters,
            ..
        } => match and_all(filters) {
            Some(pred) => Node::Filter { input: n, pred },
            None => *n,
        },
        FromTree::Join {
            kind,
            left,
            right,
            on,
            lateral,
            start,
            ..
        } => {
            let (_, lw) = left.range();
            let (_, rw) = right.range();
            let left = build_from(*left);
            let right = build_from(*right);
            let mut equi = Vec::new();
            let mut rest = Vec::new();
            for c in on {
                let c = c.shift_columns(start);
                if !lateral && !has_subplan(&c) {
                    if let Expr::Binary {
                        op: tandem_expr::BinOp::Eq,
                        l,
                        r,
                    } = &c
                    {
                        let side = |x: &Expr| {
                            let mut cols = Vec::new();
                            x.columns(&mut cols);
                            if cols.is_empty() {
                                0
                            } else if cols.iter().all(|i| *i < lw) {
                                1
                            } else if cols.iter().all(|i| *i >= lw) {
                                2
                            } else {
                                0
                            }
                        };
                        match (side(l), side(r)) {
                            (1, 2) => {
                                equi.push(((**l).clone(), (**r).clone().shift_columns(lw)));
                                continue;
                            }
                            (2, 1) => {
                                equi.push(((**r).clone(), (**l).clone().shift_columns(lw)));
                                continue;
                            }
                            _ => {}
                        }
                    }
                }
                rest.push(c);
            }
            Node::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind,
                equi,
                cond: and_all(rest),
                lateral,
                left_width: lw,
                right_width: rw,
            }
        }
    }
}

/// Pushes a WHERE conjunct (global columns `cols`) as deep as it may go.
fn push_down(tree: &mut FromTree, conj: Expr, cols: &[usize]) -> Result<(), Expr> {
    let within = |t: &FromTree| {
        let (s, w) = t.range();
        cols.iter().all(|c| *c >= s && *c < s + w)
    };
    match tree {
        FromTree::Leaf { start, filters, .. } => {
            filters.push(conj.shift_columns(*start));
            Ok(())
        }
        FromTree::Join {
            kind,
            left,
            right,
            on,
            ..
        } => {
            if within(left) && matches!(kind, JoinKind::Inner | JoinKind::Left) {
                return push_down(left, conj, cols);
            }
            if within(right) && matches!(kind, JoinKind::Inner | JoinKind::Right) {
                return push_down(right, conj, cols);
            }
            if *kind == JoinKind::Inner {
                on.push(conj);
                return Ok(());
            }
            Err(conj)
        }
    }
}

fn unsupported_if<T>(cond: bool, what: &str) -> PgResult<Option<T>> {
    if cond {
        Err(PgError::unsupported(what))
    } else {
        Ok(None)
    }
}

fn ordinal(e: &ast::Expr) -> Option<i64> {
    if let ast::Expr::Value(v) = e {
        if let ast::Value::Number(s, _) = &v.value {
            return s.parse().ok();
        }
    }
    None
}

/// The INSERT, UPDATE or DELETE a query body is (a data-modifying CTE, or
/// the statement after `WITH ...`).
pub fn dml_body(body: &SetExpr) -> Option<&ast::Statement> {
    match body {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

/// Grouping sets, each the positions of the group keys it groups by.
type GroupingSets = Vec<Vec<usize>>;

/// The number of the grouping set a branch being appended to `out` is.
fn branch_id(out: &Option<Node>) -> i32 {
    let mut n = 0;
    let mut at = out.as_ref();
    while let Some(node) = at {
        n += 1;
        at = match node {
            Node::SetOp { left, .. } => Some(left.as_ref()),
            _ => None,
        };
    }
    n
}

/// GROUPING()'s arguments must be group keys (PostgreSQL's check, before
/// the "must appear in the GROUP BY clause" one).
fn check_grouping_args(e: &Expr, keys: &[String]) -> PgResult<()> {
    let mut bad = false;
    e.walk(&mut |x| {
        if let Expr::Func { sig, args } = x {
            if sig.name == "grouping" {
                bad |= args.iter().any(|a| !keys.contains(&debug_key(a)));
            }
        }
    });
    if bad {
        return Err(PgError::new(
            SqlState::GROUPING_ERROR,
            "arguments to GROUPING must be grouping expressions of the associated query level",
        ));
    }
    Ok(())
}

/// GROUPING(a, b, ...) of a grouped query's row: a bit per argument, the
/// first the highest, set where the row's grouping set leaves that key
/// out. The arguments are group keys (rewritten to their columns, `nkeys`
/// of them; the hidden grouping-set column after them).
fn grouping_calls(e: Expr, nkeys: usize, sets: Option<&[Vec<usize>]>) -> PgResult<Expr> {
    let mut bad = false;
    let out = e.rewrite(&mut |x| {
        let Expr::Func { sig, args } = x else {
            return None;
        };
        if sig.name != "grouping" {
            return None;
        }
        let mut keys = Vec::new();
        for a in args {
            match a {
                Expr::Column(k) if *k < nkeys => keys.push(*k),
                _ => bad = true,
            }
        }
        let mask = |set: &[usize]| {
            keys.iter()
                .fold(0i32, |m, k| (m << 1) | i32::from(!set.contains(k)))
        };
        Some(match sets {
            None => Expr::Const(Value::Int4(0)),
            Some(sets) => Expr::Case {
                operand: None,
                whens: sets
                    .iter()
                    .enumerate()
                    .map(|(i, set)| {
                        let is_set = Expr::Binary {
                            op: tandem_expr::BinOp::Eq,
                            l: Box::new(Expr::Column(nkeys)),
                            r: Box::new(Expr::Const(Value::Int4(i as i32))),
                        };
                        (is_set, Expr::Const(Value::Int4(mask(set))))
                    })
                    .collect(),
                otherwise: None,
            },
        })
    });
    if bad {
        return Err(PgError::new(
            SqlState::GROUPING_ERROR,
            "arguments to GROUPING must be grouping expressions of the associated query level",
        ));
    }
    Ok(out)
}

fn debug_key(e: &Expr) -> String {
    format!("{e:?}")
}

impl Binder<'_> {
    /// Binds a query in the current (innermost) level.
    pub fn bind_query(&mut self, q: &ast::Query) -> PgResult<(Node, Vec<OutCol>)> {
        let saved = self.ctes.len();
        if let Some(with) = &q.with {
            if let Err(e) = self.push_ctes(with) {
                self.ctes.truncate(saved);
                return Err(e);
            }
        }
        let res = self.bind_query_body(q);
        self.ctes.truncate(saved);
        res
    }

    /// Makes a WITH clause's CTEs visible (the caller truncates them
    /// after). A data-modifying one is bound here, once: it runs before the
    /// statement whether it is read or not (PostgreSQL's rule), only in
    /// the statement's top-level WITH.
    pub fn push_ctes(&mut self, with: &ast::With) -> PgResult<()> {
        for cte in &with.cte_tables {
            let name = ident_name(&cte.alias.name);
            let columns: Vec<String> = cte
                .alias
                .columns
                .iter()
                .map(|c| ident_name(&c.name))
                .collect();
            let dml = match dml_body(&cte.query.body) {
                Some(stmt) => {
                    if self.levels.len() > 1 || self.check_as.is_some() {
                        let at = cte.alias.name.span.start;
                        return Err(PgError::new(
                            SqlState::FEATURE_NOT_SUPPORTED,
                            "WITH clause containing a data-modifying statement must be at the top level",
                        )
                        .with_locate(tandem_types::Locate::LineColumn(at.line, at.column)));
                    }
                    self.levels.push(super::scope::Level::new());
                    let r = crate::bind_dml(self, stmt, None);
                    self.levels.pop();
                    let (_, body, cols) = r?;
                    let id = self.next_worktable;
                    self.next_worktable += 1;
                    self.dml_ctes.push((id, body));
                    Some((id, cols))
                }
                None => None,
            };
            self.ctes.push(CteDef {
                recursive: with.recursive,
                state: super::CteState::Idle,
                name,
                // a data-modifying CTE is read from its work table, not this
                query: (*cte.query).clone(),
                columns,
                dml,
            });
        }
        Ok(())
    }

    fn bind_query_body(&mut self, q: &ast::Query) -> PgResult<(Node, Vec<OutCol>)> {
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(PgError::unsupported(format!("query {q}")));
        }
        if let SetExpr::Select(s) = q.body.as_ref() {
            return self.bind_select(s, q);
        }
        if !q.locks.is_empty() {
            return Err(PgError::unsupported(
                "FOR UPDATE with UNION/INTERSECT/EXCEPT or VALUES",
            ));
        }
        let (mut node, cols) = self.bind_set_expr(&q.body)?;
        if let Some(ob) = &q.order_by {
            let OrderByKind::Expressions(items) = &ob.kind else {
                return Err(PgError::unsupported("ORDER BY ALL"));
            };
            let mut keys = Vec::new();
            for o in items {
                let idx =
                    match (&o.expr, ordinal(&o.expr)) {
                        (_, Some(n)) if n >= 1 && (n as usize) <= cols.len() => n as usize - 1,
                        (_, Some(n)) => {
                            return Err(PgError::new(
                                SqlState::INVALID_COLUMN_REFERENCE,
                                format!("ORDER BY position {n} is not in select list"),
                            ))
                        }
                        (ast::Expr::Identifier(id), None)
                            if cols.iter().any(|c| c.name == ident_name(id)) =>
                        {
                            cols.iter()
                                .position(|c| c.name == ident_name(id))
                                .unwrap_or(0)
                        }
                        _ => return Err(PgError::new(
                            SqlState::FEATURE_NOT_SUPPORTED,
                            "invalid UNION/INTERSECT/EXCEPT ORDER BY clause",
                        )
                        .with_detail(
                            "Only result column names can be used, not expressions or functions.",
                        )),
                    };
                keys.push(sort_key(Expr::Column(idx), &o.options));
            }
            node = Node::Sort {
                input: Box::new(node),
                keys,
            };
        }
        node = self.bind_limit(node, q)?;
        Ok((node, cols))
    }

    /// Whether `node`, a projection of one table's sequential scan, yields
    /// its rows in the order `keys` ask for already: they name leading
    /// columns of the table's primary key, ascending (a scan visits rows
    /// in key order), so ORDER BY needs no sort and a LIMIT stops the scan
    /// early.
    fn in_primary_key_order(&self, node: &Node, keys: &[SortKey]) -> bool {
        let Node::Project { input, exprs } = node else {
            return false;
        };
        let Node::SeqScan { table, .. } = input.as_ref() else {
            return false;
        };
        let Some(pk) = self
            .catalog
            .tables
            .get(table)
            .and_then(|t| t.primary_key.as_ref().map(|pk| (t, pk)))
        else {
            return false;
        };
        let (def, pk) = pk;
        keys.len() <= pk.columns.len()
            && keys.iter().zip(&pk.columns).all(|(k, &c)| {
                let projected = match &k.expr {
                    Expr::Column(i) => exprs.get(*i),
                    _ => None,
                };
                !k.desc
                    && !k.nulls_first
                    && matches!(projected, Some(Expr::Column(x)) if *x == c)
                    && def
                        .columns
                        .get(c)
                        .is_some_and(|col| crate::index_path::indexable(&col.data_type))
            })
    }

    /// `node`, a projection of one table's sequential scan, reading the
    /// table through a secondary index whose leading columns are `keys`
    /// (ascending, NULLs last: the index's order), so ORDER BY needs no
    /// sort; only when `limited` (without a LIMIT, reading every row
    /// through the index costs more than sorting). `None`: no such index.
    fn in_index_order(&self, node: &Node, keys: &[SortKey], limited: bool) -> Option<Node> {
        let Node::Project { input, exprs } = node else {
            return None;
        };
        // an index scan the WHERE clause chose: its order, after the
        // columns its prefix pins, may be the one asked for
        if let Node::IndexScan {
            table,
            index,
            prefix,
            range,
            filter,
            for_order: false,
        } = input.as_ref()
        {
            let columns = match self.catalog.indexes.get(index) {
                Some(idx) => idx.columns.clone(),
                None => match self
                    .catalog
                    .tables
                    .get(index)
                    .and_then(|t| t.primary_key.as_ref())
                {
                    Some(pk) => pk.columns.clone(),
                    None => return None,
                },
            };
            let pinned = &columns[..prefix.len().min(columns.len())];
            let mut wanted = Vec::new();
            for k in keys {
                match (&k.expr, k.desc || k.nulls_first) {
                    (Expr::Column(i), false) => match exprs.get(*i) {
                        Some(Expr::Column(c)) => wanted.push(*c),
                        _ => return None,
                    },
                    _ => return None,
                }
            }
            // pinned columns may appear anywhere in ORDER BY: they are constant
            let rest: Vec<usize> = wanted.into_iter().filter(|c| !pinned.contains(c)).collect();
            let def = self.catalog.tables.get(table);
            let follows = columns[pinned.len()..]
                .iter()
                .zip(&rest)
                .all(|(a, b)| a == b)
                && rest.len() <= columns.len() - pinned.len()
                && rest.iter().all(|&c| {
                    def.and_then(|d| d.columns.get(c))
                        .is_some_and(|col| crate::index_path::indexable(&col.data_type))
                });
            if !follows || !limited {
                return None;
            }
            let scan = Node::IndexScan {
                table: *table,
                index: *index,
                prefix: prefix.clone(),
                range: range.clone(),
                filter: filter.clone(),
                for_order: true,
            };
            return Some(Node::Project {
                input: Box::new(scan),
                exprs: exprs.clone(),
            });
        }
        let (true, Node::SeqScan { table, filter, .. }) = (limited, input.as_ref()) else {
            return None;
        };
        let def = self.catalog.tables.get(table)?;
        let wanted: Option<Vec<usize>> = keys
            .iter()
            .map(|k| match &k.expr {
                Expr::Column(i) if !k.desc && !k.nulls_first => match exprs.get(*i) {
                    Some(Expr::Column(c)) => Some(*c),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let wanted = wanted?;
        let index = self.catalog.indexes_of(*table).into_iter().find(|idx| {
            idx.columns.len() >= wanted.len()
                && idx.columns.iter().zip(&wanted).all(|(a, b)| a == b)
                && wanted.iter().all(|&c| {
                    def.columns
                        .get(c)
                        .is_some_and(|col| crate::index_path::indexable(&col.data_type))
                })
        });
        let index = index?;
        let scan = Node::IndexScan {
            table: *table,
            index: index.oid,
            prefix: Vec::new(),
            range: None,
            filter: filter.clone(),
            for_order: true,
        };
        Some(Node::Project {
            input: Box::new(scan),
            exprs: exprs.clone(),
        })
    }

    fn bind_limit(&mut self, node: Node, q: &ast::Query) -> PgResult<Node> {
        let (mut limit, mut offset) = (None, None);
        match &q.limit_clause {
            Some(LimitClause::LimitOffset {
                limit: l,
                offset: o,
                limit_by,
            }) => {
                unsupported_if::<()>(!limit_by.is_empty(), "LIMIT BY")?;
                if let Some(l) = l {
                    limit = Some(self.bind_count(l, "LIMIT")?);
                }
                if let Some(o) = o {
                    offset = Some(self.bind_count(&o.value, "OFFSET")?);
                }
            }
            Some(LimitClause::OffsetCommaLimit { .. }) => {
                return Err(PgError::unsupported("LIMIT offset, count"))
            }
            None => {}
        }
        if let Some(f) = &q.fetch {
            if f.percent || f.with_ties {
                return Err(PgError::unsupported("FETCH ... PERCENT/WITH TIES"));
            }
            limit = Some(match &f.quantity {
                Some(e) => self.bind_count(e, "LIMIT")?,
                None => Expr::Const(Value::Int8(1)),
            });
        }
        if limit.is_none() && offset.is_none() {
            return Ok(node);
        }
        Ok(Node::Limit {
            input: Box::new(node),
            limit,
            offset,
        })
    }

    fn bind_count(&mut self, e: &ast::Expr, clause: &'static str) -> PgResult<Expr> {
        let saved = self.level().agg_forbidden.replace(clause);
        let r = self.bind_expr(e);
        self.level().agg_forbidden = saved;
        let (x, t) = r?;
        self.coerce(x, &t, &DataType::Int8)
    }

    pub fn bind_set_expr(&mut self, body: &SetExpr) -> PgResult<(Node, Vec<OutCol>)> {
        match body {
            SetExpr::Select(s) => {
                let q = super::recursive::query_of(body);
                self.bind_select(s, &q)
            }
            SetExpr::Query(q) => self.bind_query(q),
            SetExpr::Values(v) => self.bind_values(&v.rows, None),
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (ln, lc) = self.bind_set_expr(left)?;
                let (rn, rc) = self.bind_set_expr(right)?;
                let opname = match op {
                    SetOperator::Union => "UNION",
                    SetOperator::Intersect => "INTERSECT",
                    SetOperator::Except | SetOperator::Minus => "EXCEPT",
                };
                if lc.len() != rc.len() {
                    return Err(PgError::syntax(format!(
                        "each {opname} query must have the same number of columns"
                    )));
                }
                let mut cols = Vec::new();
                let (mut lcast, mut rcast) = (Vec::new(), Vec::new());
                for (i, (l, r)) in lc.iter().zip(&rc).enumerate() {
                    let ty = common_type(&[l.ty.clone(), r.ty.clone()]).map_err(|e| PgError {
                        message: format!("{opname} {}", e.message),
                        ..e
                    })?;
                    let ty = if ty == DataType::Unknown {
                        DataType::Text
                    } else {
                        ty
                    };
                    lcast.push(if l.ty == ty {
                        Expr::Column(i)
                    } else {
                        Expr::Cast {
                            e: Expr::Column(i).boxed(),
                            ty: ty.clone(),
                        }
                    });
                    rcast.push(if r.ty == ty {
                        Expr::Column(i)
                    } else {
                        Expr::Cast {
                            e: Expr::Column(i).boxed(),
                            ty: ty.clone(),
                        }
                    });
                    cols.push(OutCol {
                        name: l.name.clone(),
                        ty,
                        table_oid: Oid(0),
                        attnum: 0,
                    });
                }
                let wrap = |n: Node, casts: Vec<Expr>| {
                    if casts.iter().all(|c| matches!(c, Expr::Column(_))) {
                        n
                    } else {
                        Node::Project {
                            input: Box::new(n),
                            exprs: casts,
                        }
                    }
                };
                let kind = match op {
                    SetOperator::Union => SetOpKind::Union,
                    SetOperator::Intersect => SetOpKind::Intersect,
                    _ => SetOpKind::Except,
                };
                let all = matches!(set_quantifier, SetQuantifier::All);
                Ok((
                    Node::SetOp {
                        left: Box::new(wrap(ln, lcast)),
                        right: Box::new(wrap(rn, rcast)),
                        op: kind,
                        all,
                    },
                    cols,
                ))
            }
            SetExpr::Table(_) => Err(PgError::unsupported("TABLE command")),
            _ => Err(PgError::unsupported(
                "data-modifying statements in WITH or subqueries",
            )),
        }
    }

    /// `VALUES (...), (...)`; `targets` gives the column types wanted (INSERT).
    pub fn bind_values(
        &mut self,
        rows: &[ast::Parens<Vec<ast::Expr>>],
        targets: Option<&[DataType]>,
    ) -> PgResult<(Node, Vec<OutCol>)> {
        let width = rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut bound = Vec::new();
        for r in rows {
            if r.content.len() != width {
                return Err(PgError::syntax("VALUES lists must all be the same length"));
            }
            let mut row = Vec::new();
            for e in &r.content {
                row.push(self.bind_expr(e)?);
            }
            bound.push(row);
        }
        let mut types = Vec::new();
        for c in 0..width {
            let ty = match targets.and_then(|t| t.get(c)) {
                Some(t) => t.clone(),
                None => {
                    let col: Vec<DataType> = bound.iter().map(|r| r[c].1.clone()).collect();
                    let t = common_type(&col).map_err(|e| PgError {
                        message: format!("VALUES {}", e.message),
                        ..e
                    })?;
                    if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    }
                }
            };
            types.push(ty);
        }
        let mut out = Vec::new();
        for row in bound {
            let mut r = Vec::new();
            for (c, (x, t)) in row.into_iter().enumerate() {
                let want = &types[c];
                // INSERT targets: unknowns take the column type, the rest is
                // assignment-cast at insert time.
                if targets.is_some() && t != DataType::Unknown && !matches!(x, Expr::Param(_)) {
                    r.push(x);
                } else {
                    r.push(self.coerce(x, &t, want)?);
                }
            }
            out.push(r);
        }
        let cols = types
            .iter()
            .enumerate()
            .map(|(i, t)| OutCol {
                name: format!("column{}", i + 1),
                ty: t.clone(),
                table_oid: Oid(0),
                attnum: 0,
            })
            .collect();
        Ok((Node::Values { rows: out }, cols))
    }

    fn reset_level(&mut self) {
        let l = self.level();
        let correlated = l.correlated;
        *l = Level::new();
        l.correlated = correlated;
    }

    /// Runs `f` for a FROM item: LATERAL items see the level's columns so far as
    /// an outer level; others see only the enclosing queries.
    pub(super) fn item_level<T>(
        &mut self,
        lateral: bool,
        f: impl FnOnce(&mut Self) -> PgResult<T>,
    ) -> PgResult<T> {
        if lateral {
            return f(self);
        }
        let cur = self.levels.pop().unwrap_or_default();
        let res = f(self);
        let mut cur = cur;
        if let Some(inner_correlated) = self.last_subquery_correlated.take() {
            cur.correlated |= inner_correlated;
        }
        self.levels.push(cur);
        res
    }

    fn add_columns(
        &mut self,
        alias: &str,
        cols: Vec<(String, DataType, Oid, i16)>,
        rename: Option<&TableAlias>,
    ) -> PgResult<(usize, usize)> {
        let level = self.level();
        let start = level.columns.len();
        let names: Vec<String> = rename
            .map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect())
            .unwrap_or_default();
        if names.len() > cols.len() {
            return Err(PgError::syntax(format!(
                "table \"{alias}\" has {} columns available but {} columns specified",
                cols.len(),
                names.len()
            )));
        }
        let width = cols.len();
        for (i, (name, ty, table_oid, attnum)) in cols.into_iter().enumerate() {
            let hidden = name.starts_with('\0');
            let name = names.get(i).cloned().unwrap_or(name);
            level.columns.push(ScopeColumn {
                table: Some(alias.to_string()),
                name,
                ty,
                table_oid,
                attnum,
                using_hidden: hidden,
            });
        }
        if level.tables.iter().any(|t| t == alias) && !alias.is_empty() {
            return Err(PgError::new(
                SqlState::DUPLICATE_OBJECT,
                format!("table name \"{alias}\" specified more than once"),
            ));
        }
        level.tables.push(alias.to_string());
        Ok((start, width))
    }

    /// A CTE's rows as a FROM item: its query's output columns, renamed by
    /// the CTE's column list (`WITH t(a, b) AS ...`).
    /// A view in FROM: its stored query bound in place, as a subquery
    /// whose columns have the view's names (it sees none of the reading
    /// query's CTEs).
    fn bind_view(
        &mut self,
        view: &tandem_storage::ViewDef,
        alias_name: &str,
        alias: Option<&TableAlias>,
    ) -> PgResult<FromTree> {
        let query = crate::dml::parse_query(&view.query)?;
        if !self.views_used.contains(&view.oid) {
            self.views_used.push(view.oid);
        }
        // the view is read as the reader; what it reads, as its owner
        self.require(view.oid, tandem_storage::acl::SELECT);
        let hidden = std::mem::take(&mut self.ctes);
        // the notes are of the statement's own text: positions in the
        // view's would be taken for positions in it
        let notes = self.notes.take();
        let reader = self.check_as.replace(view.owner);
        // its names are read in its own schema, then public
        let path = std::mem::replace(
            &mut self.search_path,
            Arc::from(vec![view.schema.clone(), "public".to_string()]),
        );
        let res = self.item_level(false, |b| b.bind_from_subquery(&query));
        self.search_path = path;
        self.check_as = reader;
        self.notes = notes;
        self.ctes = hidden;
        let (mut node, mut cols) = res?;
        let width = view.columns.len();
        if cols.len() > width {
            // the view's `*` was expanded when it was made: columns added
            // to its tables since are not its own
            cols.truncate(width);
            node = Node::Project {
                input: Box::new(node),
                exprs: (0..width).map(Expr::Column).collect(),
            };
        }
        let names: Vec<String> = view.columns.iter().map(|c| c.0.clone()).collect();
        self.cte_leaf(alias_name, alias, &names, node, cols)
    }

    pub(super) fn cte_leaf(
        &mut self,
        alias_name: &str,
        alias: Option<&TableAlias>,
        names: &[String],
        node: Node,
        cols: Vec<OutCol>,
    ) -> PgResult<FromTree> {
        let mut cols: Vec<(String, DataType, Oid, i16)> = cols
            .into_iter()
            .map(|c| (c.name, c.ty, Oid(0), 0))
            .collect();
        for (c, n) in cols.iter_mut().zip(names) {
            c.0 = n.clone();
        }
        self.leaf(alias_name, cols, alias, LeafSrc::Node(Box::new(node)))
    }

    pub(super) fn leaf(
        &mut self,
        alias: &str,
        cols: Vec<(String, DataType, Oid, i16)>,
        rename: Option<&TableAlias>,
        src: LeafSrc,
    ) -> PgResult<FromTree> {
        let (start, width) = self.add_columns(alias, cols, rename)?;
        Ok(FromTree::Leaf {
            start,
            width,
            src,
            filters: Vec::new(),
        })
    }

    /// Binds one FROM item; returns it and whether it is LATERAL.
    fn bind_table_factor(
        &mut self,
        tf: &TableFactor,
        has_left: bool,
    ) -> PgResult<(FromTree, bool)> {
        match tf {
            TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                let parts = object_parts(name)?;
                if let Some(args) = args {
                    let fargs: Vec<ast::FunctionArg> = args.args.clone();
                    let alias = alias.as_ref();
                    return self.bind_from_function(
                        &parts,
                        &fargs,
                        alias,
                        has_left,
                        *with_ordinality,
                    );
                }
                if *with_ordinality {
                    return Err(PgError::syntax("syntax error at or near \"WITH\""));
                }
                self.bind_relation(&parts, alias.as_ref())
                    .map(|t| (t, false))
                    .map_err(|e| at_name(e, name))
            }
            TableFactor::Function {
                lateral,
                name,
                args,
                with_ordinality,
                alias,
            } => {
                let parts = object_parts(name)?;
                let lateral = has_left || *lateral;
                self.bind_from_function(&parts, args, alias.as_ref(), lateral, *with_ordinality)
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset,
                with_ordinality,
                ..
            } => {
                if *with_offset || array_exprs.len() != 1 {
                    return Err(PgError::unsupported("this form of UNNEST"));
                }
                let args = vec![ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(
                    array_exprs[0].clone(),
                ))];
                let unnest = ["unnest".to_string()];
                self.bind_from_function(&unnest, &args, alias.as_ref(), has_left, *with_ordinality)
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let lateral = *lateral && has_left;
                let (node, cols) = self.item_level(lateral, |b| b.bind_from_subquery(subquery))?;
                let name = alias
                    .as_ref()
                    .map(|a| ident_name(&a.name))
                    .unwrap_or_default();
                let cols = cols
                    .into_iter()
                    .map(|c| (c.name, c.ty, Oid(0), 0))
                    .collect();
                Ok((
                    self.leaf(&name, cols, alias.as_ref(), LeafSrc::Node(Box::new(node)))?,
                    lateral,
                ))
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    return Err(PgError::unsupported("alias on a parenthesized join"));
                }
                let tree = self.bind_from_item(table_with_joins, None)?;
                Ok((tree, false))
            }
            other => Err(PgError::unsupported(format!("FROM item {other}"))),
        }
    }

    /// A subquery in FROM: its own level; records correlation for `item_level`.
    pub(super) fn bind_from_subquery(&mut self, q: &ast::Query) -> PgResult<(Node, Vec<OutCol>)> {
        let (sub, cols) = self.bind_subquery(q)?;
        self.last_subquery_correlated = Some(sub.correlated);
        Ok((sub.node, cols))
    }

    fn bind_relation(
        &mut self,
        parts: &[String],
        alias: Option<&TableAlias>,
    ) -> PgResult<FromTree> {
        let (schema, name) = match parts {
            [n] => (None, n.clone()),
            [s, n] => (Some(s.clone()), n.clone()),
            [_, s, n] => (Some(s.clone()), n.clone()),
            _ => return Err(PgError::syntax("improper qualified name")),
        };
        let alias_name = alias
            .map(|a| ident_name(&a.name))
            .unwrap_or_else(|| name.clone());
        if schema.is_none() {
            let nearest = self.ctes.iter().rposition(|c| c.name == name);
            let dml = nearest.and_then(|p| self.ctes[p].dml.clone());
            if let Some(pos) = nearest.filter(|p| self.ctes[*p].recursive && dml.is_none()) {
                return self.bind_recursive_cte(pos, &alias_name, alias);
            }
            if let Some(cte) = self.ctes.iter().rev().find(|c| c.name == name).cloned() {
                if let Some((id, cols)) = dml {
                    self.dml_ctes_read.push(id);
                    if cols.is_empty() {
                        return Err(PgError::new(
                            SqlState::FEATURE_NOT_SUPPORTED,
                            format!("WITH query \"{name}\" does not have a RETURNING clause"),
                        ));
                    }
                    return self.cte_leaf(
                        &alias_name,
                        alias,
                        &cte.columns,
                        Node::WorkTable { id },
                        cols,
                    );
                }
                let saved = self.ctes.len();
                // A CTE sees only the CTEs defined before it.
                let pos = self.ctes.iter().rposition(|c| c.name == name).unwrap_or(0);
                let hidden: Vec<CteDef> = self.ctes.drain(pos..).collect();
                let res = self.item_level(false, |b| b.bind_from_subquery(&cte.query));
                self.ctes.extend(hidden);
                self.ctes.truncate(saved);
                let (node, cols) = res?;
                return self.cte_leaf(&alias_name, alias, &cte.columns, node, cols);
            }
        }
        let in_schema = self.relation_schema(schema.as_deref(), &name)?;
        if let Some(def) = self.catalog.table_by_name(&in_schema, &name).cloned() {
            let cols = def
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let n = if c.dropped {
                        format!("\0dropped{i}")
                    } else {
                        c.name.clone()
                    };
                    (n, c.data_type.clone(), def.oid, (i + 1) as i16)
                })
                .collect();
            self.require(def.oid, tandem_storage::acl::SELECT);
            let indexes = self.catalog.indexes_of(def.oid);
            return self.leaf(&alias_name, cols, alias, LeafSrc::Table(def, indexes));
        }
        if let Some(view) = self.catalog.view_by_name(&in_schema, &name).cloned() {
            return self.bind_view(&view, &alias_name, alias);
        }
        if let Some(vt) = tandem_expr::virtual_table(schema.as_deref(), &name) {
            let cols = vt
                .columns
                .iter()
                .map(|(n, t)| (n.clone(), t.clone(), Oid(0), 0))
                .collect();
            return self.leaf(
                &alias_name,
                cols,
                alias,
                LeafSrc::Node(Box::new(Node::Virtual {
                    schema: vt.schema,
                    name: vt.name,
                })),
            );
        }
        let shown = match &schema {
            Some(s) => format!("{s}.{name}"),
            None => name,
        };
        Err(PgError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{shown}\" does not exist"),
        ))
    }

    fn bind_from_function(
        &mut self,
        parts: &[String],
        args: &[ast::FunctionArg],
        alias: Option<&TableAlias>,
        lateral: bool,
        ordinality: bool,
    ) -> PgResult<(FromTree, bool)> {
        let name = match parts {
            [n] => n.clone(),
            [s, n] if s == "pg_catalog" => n.clone(),
            _ => {
                return Err(PgError::unsupported(format!(
                    "function {}",
                    parts.join(".")
                )))
            }
        };
        let bound = self.item_level(lateral, |b| {
            b.levels.push(Level::new());
            let mut out = Vec::new();
            let mut res = Ok(());
            for a in args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        match b.bind_expr(e) {
                            Ok(x) => out.push(x),
                            Err(e) => {
                                res = Err(e);
                                break;
                            }
                        }
                    }
                    other => {
                        res = Err(PgError::unsupported(format!("function argument {other}")));
                        break;
                    }
                }
            }
            let level = b.levels.pop();
            b.last_subquery_correlated = level.map(|l| l.correlated);
            res.map(|_| out)
        })?;
        let types: Vec<DataType> = bound.iter().map(|a| a.1.clone()).collect();
        let alias_name = alias
            .map(|a| ident_name(&a.name))
            .unwrap_or_else(|| name.clone());
        // A scalar result column is named after the alias (PostgreSQL: `FROM
        // generate_series(1, 10) AS bid` has column `bid`), else the function.
        // (functions with an OUT parameter name it: `value`)
        let col_name = match alias {
            Some(a) if a.columns.is_empty() => ident_name(&a.name),
            _ if name.ends_with("array_elements") || name.ends_with("array_elements_text") => {
                "value".to_string()
            }
            _ => name.clone(),
        };
        let (func, arg_types, ret) = match table_functions::resolve(&name, &types)? {
            Some(r) => r,
            None => {
                if args.is_empty() {
                    if let Some(vt) = tandem_expr::virtual_table(Some("pg_catalog"), &name) {
                        let cols = vt
                            .columns
                            .iter()
                            .map(|(n, t)| (n.clone(), t.clone(), Oid(0), 0))
                            .collect();
                        let node = Node::Virtual {
                            schema: vt.schema,
                            name: vt.name,
                        };
                        return Ok((
                            self.leaf(&alias_name, cols, alias, LeafSrc::Node(Box::new(node)))?,
                            false,
                        ));
                    }
                }
                let sig = tandem_expr::resolve_function(&name, &types)?;
                if sig.ret == DataType::Record {
                    let Some(cols) = tandem_expr::function_columns(&name) else {
                        return Err(PgError::unsupported(format!(
                            "record-returning function {name} in FROM"
                        )));
                    };
                    let mut args_out = Vec::new();
                    for (i, (x, t)) in bound.into_iter().enumerate() {
                        let to = sig.arg_types.get(i).cloned().unwrap_or(t.clone());
                        args_out.push(self.coerce(x, &t, &to)?);
                    }
                    let width = cols.len();
                    let node = Node::TableFunc {
                        func: TableFunc::Composite(sig, width),
                        args: args_out,
                        ordinality,
                    };
                    let mut cols: Vec<_> =
                        cols.into_iter().map(|(n, t)| (n, t, Oid(0), 0)).collect();
                    if ordinality {
                        cols.push(("ordinality".to_string(), DataType::Int8, Oid(0), 0));
                    }
                    let tree =
                        self.leaf(&alias_name, cols, alias, LeafSrc::Node(Box::new(node)))?;
                    return Ok((tree, lateral));
                }
                let ret = sig.ret.clone();
                let at = sig.arg_types.clone();
                (TableFunc::Scalar(sig), at, ret)
            }
        };
        let mut args_out = Vec::new();
        for (i, (x, t)) in bound.into_iter().enumerate() {
            let to = arg_types.get(i).cloned().unwrap_or(t.clone());
            args_out.push(self.coerce(x, &t, &to)?);
        }
        let node = Node::TableFunc {
            func,
            args: args_out,
            ordinality,
        };
        let mut cols = vec![(col_name, ret, Oid(0), 0)];
        if ordinality {
            cols.push(("ordinality".to_string(), DataType::Int8, Oid(0), 0));
        }
        let tree = self.leaf(&alias_name, cols, alias, LeafSrc::Node(Box::new(node)))?;
        Ok((tree, lateral))
    }

    /// Binds `relation JOIN ... JOIN ...`, joined onto `left` if given.
    pub(crate) fn bind_from_item(
        &mut self,
        twj: &TableWithJoins,
        left: Option<FromTree>,
    ) -> PgResult<FromTree> {
        let (first, lateral) = self.bind_table_factor(&twj.relation, left.is_some())?;
        let mut tree = match left {
            None => first,
            Some(l) => join_trees(JoinKind::Inner, l, first, Vec::new(), lateral),
        };
        for j in &twj.joins {
            let (kind, constraint) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => {
                    (JoinKind::Inner, c)
                }
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
                JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                other => return Err(PgError::unsupported(format!("join {other:?}"))),
            };
            let (lstart, lwidth) = tree.range();
            let (right, lateral) = self.bind_table_factor(&j.relation, true)?;
            if lateral && matches!(kind, JoinKind::Right | JoinKind::Full) {
                return Err(
                    PgError::syntax("invalid reference to FROM-clause entry for table").with_hint(
                        "The combining JOIN type must be INNER or LEFT for a LATERAL reference.",
                    ),
                );
            }
            let mut on = Vec::new();
            match constraint {
                JoinConstraint::On(e) => {
                    let saved = self.level().agg_forbidden.replace("JOIN conditions");
                    let r = self.bind_condition(e, "JOIN/ON");
                    self.level().agg_forbidden = saved;
                    split_and(r?, &mut on);
                }
                JoinConstraint::Using(names) => {
                    let (rstart, rwidth) = right.range();
                    for n in names {
                        let col = object_parts(n)?.pop().unwrap_or_default();
                        let level = self.level();
                        let find = |from: usize, width: usize| {
                            level.columns[from..from + width]
                                .iter()
                                .position(|c| c.name == col && !c.using_hidden)
                                .map(|p| p + from)
                        };
                        let (Some(l), Some(r)) = (find(lstart, lwidth), find(rstart, rwidth))
                        else {
                            return Err(PgError::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!("column \"{col}\" specified in USING clause does not exist in left table"),
                            ));
                        };
                        level.columns[r].using_hidden = true;
                        on.push(Expr::Binary {
                            op: tandem_expr::BinOp::Eq,
                            l: Expr::Column(l).boxed(),
                            r: Expr::Column(r).boxed(),
                        });
                    }
                }
                JoinConstraint::Natural => return Err(PgError::unsupported("NATURAL JOIN")),
                JoinConstraint::None => {}
            }
            tree = join_trees(kind, tree, right, on, lateral);
        }
        Ok(tree)
    }

    /// Binds `SELECT` with the ORDER BY / LIMIT / locking of its query.
    pub fn bind_select(
        &mut self,
        s: &ast::Select,
        q: &ast::Query,
    ) -> PgResult<(Node, Vec<OutCol>)> {
        if s.into.is_some() {
            return Err(PgError::unsupported("SELECT INTO"));
        }
        if s.top.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || s.qualify.is_some()
            || !s.connect_by.is_empty()
        {
            return Err(PgError::unsupported(format!("SELECT clause in {s}")));
        }
        self.reset_level();
        for ast::NamedWindowDefinition(name, def) in &s.named_window {
            let ast::NamedWindowExpr::WindowSpec(spec) = def else {
                return Err(PgError::unsupported("a window defined as another window"));
            };
            let name = ident_name(name);
            if self.level().named_windows.iter().any(|(n, _)| *n == name) {
                return Err(PgError::new(
                    SqlState("42P20"),
                    format!("window \"{name}\" is already defined"),
                ));
            }
            self.level().named_windows.push((name, spec.clone()));
        }
        // FROM
        let mut tree: Option<FromTree> = None;
        for twj in &s.from {
            tree = Some(self.bind_from_item(twj, tree.take())?);
        }
        // WHERE
        let mut conjuncts = Vec::new();
        if let Some(w) = &s.selection {
            self.level().agg_forbidden = Some("WHERE");
            let r = self.bind_condition(w, "WHERE");
            self.level().agg_forbidden = None;
            split_and(r?, &mut conjuncts);
        }
        // target list
        let mut items: Vec<(Expr, OutCol)> = Vec::new();
        self.level().srf_allowed = true;
        for item in &s.projection {
            let r = self.bind_select_item(item, s.from.is_empty(), &mut items);
            if r.is_err() {
                self.level().srf_allowed = false;
            }
            r?;
        }
        self.level().srf_allowed = false;
        let nvisible = items.len();
        // GROUP BY
        let mut groups;
        let grouping_sets;
        match &s.group_by {
            GroupByExpr::Expressions(exprs, mods) => {
                if !mods.is_empty() {
                    return Err(PgError::unsupported("GROUP BY modifiers"));
                }
                self.level().agg_forbidden = Some("GROUP BY");
                let r = self.bind_group_by(exprs, &items);
                self.level().agg_forbidden = None;
                (groups, grouping_sets) = r?;
            }
            GroupByExpr::All(_) => return Err(PgError::unsupported("GROUP BY ALL")),
        }
        let having = match &s.having {
            Some(h) => {
                self.level().srf_clause = Some("HAVING");
                let r = self.bind_condition(h, "HAVING");
                self.level().srf_clause = None;
                Some(r?)
            }
            None => None,
        };
        // ORDER BY and DISTINCT ON items join the target list: SRFs allowed.
        self.level().srf_allowed = true;
        let res = self.bind_select_sorting(s, q, &mut items, nvisible);
        self.level().srf_allowed = false;
        let (order_keys, distinct_on) = res?;
        // Build: FROM + WHERE
        let mut node = self.build_from_where(tree, conjuncts, !q.locks.is_empty())?;
        // GROUP BY / aggregates
        let level = self.level();
        let aggs = std::mem::take(&mut level.aggs);
        level.agg_types.clear();
        let mut exprs: Vec<Expr> = items.iter().map(|(e, _)| e.clone()).collect();
        let mut srfs: Vec<SrfCall> = std::mem::take(&mut level.srfs)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        // Width of the row the target list is evaluated on.
        let mut width = level.columns.len();
        let mut having = having;
        // the group keys and their count, once grouped
        let mut grouped: Option<(Vec<String>, usize)> = None;
        if !groups.is_empty() && grouping_sets.is_none() {
            let mut used: Vec<&Expr> = exprs.iter().chain(having.as_ref()).collect();
            used.extend(srfs.iter().flat_map(|c| c.args.iter()));
            let windows = std::mem::take(&mut self.level().windows);
            for w in &windows {
                used.extend(w.args.iter().chain(&w.partition).chain(w.filter.as_ref()));
                used.extend(w.order.iter().map(|k| &k.expr));
            }
            let dependent = self.dependent_group_keys(&groups, &used);
            self.level().windows = windows;
            groups.extend(dependent);
        }
        if !groups.is_empty() || !aggs.is_empty() || having.is_some() {
            let mut keys: Vec<String> = groups.iter().map(debug_key).collect();
            let nkeys = groups.len();
            for e in exprs.iter().chain(having.as_ref()) {
                check_grouping_args(e, &keys).map_err(|e| at_grouping_call(e, s))?;
            }
            if grouping_sets.is_some() {
                // a last, hidden key: which grouping set a row is of (read
                // by GROUPING())
                keys.push("\0grouping set".into());
            }
            let ngroups = keys.len();
            width = ngroups + aggs.len();
            for call in srfs.iter_mut() {
                let args = std::mem::take(&mut call.args);
                for a in args {
                    call.args.push(self.group_rewrite(a, &keys, ngroups)?);
                }
            }
            node = match &grouping_sets {
                None => Node::Aggregate {
                    input: Box::new(node),
                    groups,
                    aggs,
                },
                // one aggregation per grouping set, the keys it leaves out
                // NULL, their rows appended
                Some(sets) => {
                    let mut out: Option<Node> = None;
                    for set in sets {
                        let set_id = Expr::Const(Value::Int4(branch_id(&out)));
                        let branch = if set.is_empty() {
                            // the grand total: one row even of no input
                            let total = Node::Aggregate {
                                input: Box::new(node.clone()),
                                groups: Vec::new(),
                                aggs: aggs.clone(),
                            };
                            Node::Project {
                                input: Box::new(total),
                                exprs: std::iter::repeat_n(Expr::Const(Value::Null), groups.len())
                                    .chain(std::iter::once(set_id))
                                    .chain((0..aggs.len()).map(Expr::Column))
                                    .collect(),
                            }
                        } else {
                            Node::Aggregate {
                                input: Box::new(node.clone()),
                                groups: groups
                                    .iter()
                                    .enumerate()
                                    .map(|(i, g)| match set.contains(&i) {
                                        true => g.clone(),
                                        false => Expr::Const(Value::Null),
                                    })
                                    .chain(std::iter::once(set_id))
                                    .collect(),
                                aggs: aggs.clone(),
                            }
                        };
                        out = Some(match out {
                            None => branch,
                            Some(left) => Node::SetOp {
                                left: Box::new(left),
                                right: Box::new(branch),
                                op: SetOpKind::Union,
                                all: true,
                            },
                        });
                    }
                    out.ok_or_else(|| PgError::internal("no grouping set"))?
                }
            };
            let mut rewritten = Vec::new();
            for e in exprs {
                rewritten.push(
                    self.group_rewrite(e, &keys, ngroups)
                        .map_err(|e| at_ungrouped(e, s))?,
                );
            }
            exprs = rewritten;
            if let Some(h) = having.take() {
                having = Some(
                    self.group_rewrite(h, &keys, ngroups)
                        .map_err(|e| at_ungrouped(e, s))?,
                );
            }
            let sets = grouping_sets.as_deref();
            exprs = exprs
                .into_iter()
                .map(|e| grouping_calls(e, nkeys, sets))
                .collect::<PgResult<_>>()?;
            having = having.map(|h| grouping_calls(h, nkeys, sets)).transpose()?;
            grouped = Some((keys, ngroups));
        } else {
            // GROUPING() of a query that does not group
            exprs = exprs
                .into_iter()
                .map(|e| grouping_calls(e, 0, None).map_err(|e| at_grouping_call(e, s)))
                .collect::<PgResult<_>>()?;
        }
        if let Some(h) = having {
            node = Node::Filter {
                input: Box::new(node),
                pred: h,
            };
        }
        let windows = std::mem::take(&mut self.level().windows);
        if !windows.is_empty() {
            let mut calls = Vec::with_capacity(windows.len());
            for mut call in windows {
                if let Some((keys, ngroups)) = &grouped {
                    let mut rw = |e: Expr| self.group_rewrite(e, keys, *ngroups);
                    call.args = call
                        .args
                        .into_iter()
                        .map(&mut rw)
                        .collect::<PgResult<_>>()?;
                    call.filter = call.filter.map(&mut rw).transpose()?;
                    call.partition = call
                        .partition
                        .into_iter()
                        .map(&mut rw)
                        .collect::<PgResult<_>>()?;
                    for k in &mut call.order {
                        k.expr = rw(std::mem::replace(&mut k.expr, Expr::Const(Value::Null)))?;
                    }
                }
                calls.push(call);
            }
            let base = width;
            width += calls.len();
            node = Node::Window {
                input: Box::new(node),
                calls,
            };
            let to_columns = |e: Expr| {
                e.rewrite(&mut |x| match x {
                    Expr::WinRef(k) => Some(Expr::Column(base + k)),
                    _ => None,
                })
            };
            exprs = exprs.into_iter().map(to_columns).collect();
            for call in srfs.iter_mut() {
                call.args = std::mem::take(&mut call.args)
                    .into_iter()
                    .map(to_columns)
                    .collect();
            }
        }
        if !srfs.is_empty() {
            (node, exprs) = project_set(node, srfs, exprs, width);
        }
        node = Node::Project {
            input: Box::new(node),
            exprs,
        };
        match (&s.distinct, distinct_on) {
            (_, Some(on)) => {
                let mut keys: Vec<SortKey> = on
                    .iter()
                    .map(|i| SortKey {
                        expr: Expr::Column(*i),
                        desc: false,
                        nulls_first: false,
                    })
                    .collect();
                // ORDER BY must start with the DISTINCT ON keys; its direction wins.
                for (k, ok) in keys.iter_mut().zip(&order_keys) {
                    if debug_key(&k.expr) == debug_key(&ok.expr) {
                        *k = ok.clone();
                    }
                }
                keys.extend(order_keys.iter().skip(on.len()).cloned());
                node = Node::Sort {
                    input: Box::new(node),
                    keys,
                };
                let on_exprs = on.iter().map(|i| Expr::Column(*i)).collect();
                node = Node::Distinct {
                    input: Box::new(node),
                    on: Some(on_exprs),
                };
            }
            (Some(Distinct::Distinct), None) => {
                node = Node::Distinct {
                    input: Box::new(node),
                    on: None,
                };
                if !order_keys.is_empty() {
                    node = Node::Sort {
                        input: Box::new(node),
                        keys: order_keys,
                    };
                }
            }
            _ => {
                if !order_keys.is_empty() && !self.in_primary_key_order(&node, &order_keys) {
                    // with a LIMIT, an index in that order beats reading
                    // and sorting every row
                    let limited = matches!(
                        &q.limit_clause,
                        Some(LimitClause::LimitOffset { limit: Some(_), .. })
                    );
                    node = match self.in_index_order(&node, &order_keys, limited) {
                        Some(ordered) => ordered,
                        None => Node::Sort {
                            input: Box::new(node),
                            keys: order_keys,
                        },
                    };
                }
            }
        }
        node = self.bind_limit(node, q)?;
        if items.len() > nvisible {
            node = Node::Project {
                input: Box::new(node),
                exprs: (0..nvisible).map(Expr::Column).collect(),
            };
        }
        let cols = items.into_iter().take(nvisible).map(|(_, c)| c).collect();
        Ok((node, cols))
    }

    /// ORDER BY and DISTINCT ON of a SELECT: sort keys as indexes into the
    /// projection (hidden items appended), and the DISTINCT ON indexes.
    #[allow(clippy::type_complexity)]
    fn bind_select_sorting(
        &mut self,
        s: &ast::Select,
        q: &ast::Query,
        items: &mut Vec<(Expr, OutCol)>,
        nvisible: usize,
    ) -> PgResult<(Vec<SortKey>, Option<Vec<usize>>)> {
        // ORDER BY: indexes into the projection, hidden items appended.
        let mut order_keys = Vec::new();
        if let Some(ob) = &q.order_by {
            let OrderByKind::Expressions(obs) = &ob.kind else {
                return Err(PgError::unsupported("ORDER BY ALL"));
            };
            for o in obs {
                let idx = self.bind_sort_target(&o.expr, items, nvisible, "ORDER BY")?;
                order_keys.push(sort_key(Expr::Column(idx), &o.options));
            }
        }
        let mut distinct_on = None;
        match &s.distinct {
            Some(Distinct::On(exprs)) => {
                let mut idx = Vec::new();
                for e in exprs {
                    idx.push(self.bind_sort_target(e, items, nvisible, "DISTINCT ON")?);
                }
                distinct_on = Some(idx);
            }
            Some(Distinct::Distinct) if items.len() > nvisible => {
                return Err(PgError::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                ))
            }
            _ => {}
        }
        Ok((order_keys, distinct_on))
    }

    fn build_from_where(
        &mut self,
        tree: Option<FromTree>,
        conjuncts: Vec<Expr>,
        lock: bool,
    ) -> PgResult<Node> {
        let Some(mut tree) = tree else {
            let node = Node::Values { rows: vec![vec![]] };
            return Ok(match and_all(conjuncts) {
                Some(pred) => Node::Filter {
                    input: Box::new(node),
                    pred,
                },
                None => node,
            });
        };
        let mut top = Vec::new();
        for c in conjuncts {
            let mut cols = Vec::new();
            c.columns(&mut cols);
            if cols.is_empty() || has_subplan(&c) {
                top.push(c);
                continue;
            }
            if let Err(c) = push_down(&mut tree, c, &cols) {
                top.push(c);
            }
        }
        let lock_target = match &tree {
            FromTree::Leaf {
                src: LeafSrc::Table(def, _),
                ..
            } if lock => def
                .primary_key
                .as_ref()
                .map(|pk| (def.oid, pk.columns.clone())),
            _ => None,
        };
        let mut node = build_from(tree);
        if let Some(pred) = and_all(top) {
            node = Node::Filter {
                input: Box::new(node),
                pred,
            };
        }
        if let Some((table, key_cols)) = lock_target {
            node = Node::LockRows {
                input: Box::new(node),
                table,
                key_cols,
            };
        }
        Ok(node)
    }

    /// Binds one target-list item (RETURNING uses this too).
    pub fn bind_select_item_pub(
        &mut self,
        item: &SelectItem,
        items: &mut Vec<(Expr, OutCol)>,
    ) -> PgResult<()> {
        let saved = self.level().srf_clause.replace("RETURNING");
        let r = self.bind_select_item(item, false, items);
        self.level().srf_clause = saved;
        r
    }

    fn bind_select_item(
        &mut self,
        item: &SelectItem,
        no_from: bool,
        items: &mut Vec<(Expr, OutCol)>,
    ) -> PgResult<()> {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let (x, ty) = self.bind_resolved(e)?;
                let name = match item {
                    SelectItem::ExprWithAlias { alias, .. } => ident_name(alias),
                    _ => figure_colname(e),
                };
                let (table_oid, attnum) = match (&x, e) {
                    (
                        Expr::Column(i),
                        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_),
                    ) => {
                        let c = &self.level().columns[*i];
                        (c.table_oid, c.attnum)
                    }
                    _ => (Oid(0), 0),
                };
                items.push((
                    x,
                    OutCol {
                        name,
                        ty,
                        table_oid,
                        attnum,
                    },
                ));
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let qualifier = match item {
                    SelectItem::QualifiedWildcard(
                        SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => object_parts(n)?.pop(),
                    SelectItem::QualifiedWildcard(..) => {
                        return Err(PgError::unsupported("expression.*"))
                    }
                    _ => None,
                };
                if no_from && qualifier.is_none() {
                    return Err(PgError::syntax(
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                let expanded = super::scope::wildcard(self.level(), qualifier.as_deref())?;
                if let Some(notes) = self.notes.as_mut() {
                    notes.stars.insert(
                        item.span(),
                        expanded
                            .iter()
                            .map(|(_, c)| (c.table.clone(), c.name.clone()))
                            .collect(),
                    );
                }
                for (i, c) in expanded {
                    items.push((
                        Expr::Column(i),
                        OutCol {
                            name: c.name,
                            ty: c.ty,
                            table_oid: c.table_oid,
                            attnum: c.attnum,
                        },
                    ));
                }
            }
            SelectItem::ExprWithAliases { .. } => {
                return Err(PgError::unsupported("multiple aliases"))
            }
        }
        Ok(())
    }

    /// GROUP BY: the group keys, and for ROLLUP / CUBE / GROUPING SETS the
    /// grouping sets (each the positions of the keys it groups by; the
    /// others read as NULL in its rows). Items combine as PostgreSQL
    /// combines them: each set of one item with each of the next.
    fn bind_group_by(
        &mut self,
        exprs: &[ast::Expr],
        items: &[(Expr, OutCol)],
    ) -> PgResult<(Vec<Expr>, Option<GroupingSets>)> {
        let mut keys: Vec<Expr> = Vec::new();
        let key_of = |b: &mut Self, e: &ast::Expr, keys: &mut Vec<Expr>| -> PgResult<usize> {
            let x = b.bind_group_items(std::slice::from_ref(e), items)?.pop();
            let x = x.ok_or_else(|| PgError::internal("empty group key"))?;
            let k = debug_key(&x);
            Ok(match keys.iter().position(|g| debug_key(g) == k) {
                Some(p) => p,
                None => {
                    keys.push(x);
                    keys.len() - 1
                }
            })
        };
        let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
        let mut grouping = false;
        for g in exprs {
            let item_sets: Vec<Vec<usize>> = match g {
                ast::Expr::Rollup(lists)
                | ast::Expr::Cube(lists)
                | ast::Expr::GroupingSets(lists) => {
                    grouping = true;
                    let mut elems = Vec::new();
                    for list in lists {
                        let mut set = Vec::new();
                        for e in list {
                            set.push(key_of(self, e, &mut keys)?);
                        }
                        elems.push(set);
                    }
                    match g {
                        // (a, b), (a), ()
                        ast::Expr::Rollup(_) => (0..=elems.len())
                            .rev()
                            .map(|n| elems[..n].concat())
                            .collect(),
                        // every subset, the largest first
                        ast::Expr::Cube(_) => {
                            let n = elems.len().min(12);
                            let mut subsets: Vec<Vec<usize>> = (0..1u32 << n)
                                .rev()
                                .map(|mask| {
                                    (0..n)
                                        .filter(|i| mask & (1 << (n - 1 - i)) != 0)
                                        .flat_map(|i| elems[i].clone())
                                        .collect()
                                })
                                .collect();
                            subsets.sort_by_key(|s| std::cmp::Reverse(s.len()));
                            subsets
                        }
                        _ => elems,
                    }
                }
                e => vec![vec![key_of(self, e, &mut keys)?]],
            };
            sets = sets
                .iter()
                .flat_map(|s| {
                    item_sets.iter().map(move |t| {
                        let mut u = s.clone();
                        u.extend(t.iter().filter(|k| !s.contains(k)));
                        u
                    })
                })
                .collect();
        }
        Ok((keys, grouping.then_some(sets)))
    }

    /// Plain GROUP BY items: an output column position, an expression, or
    /// the name of an output column.
    fn bind_group_items(
        &mut self,
        exprs: &[ast::Expr],
        items: &[(Expr, OutCol)],
    ) -> PgResult<Vec<Expr>> {
        let mut groups = Vec::new();
        for g in exprs {
            if let Some(n) = ordinal(g) {
                if n < 1 || n as usize > items.len() {
                    return Err(PgError::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!("GROUP BY position {n} is not in select list"),
                    ));
                }
                let e = items[n as usize - 1].0.clone();
                let mut agg = false;
                e.walk(&mut |x| agg |= matches!(x, Expr::AggRef(_)));
                if agg {
                    return Err(PgError::new(
                        SqlState::GROUPING_ERROR,
                        "aggregate functions are not allowed in GROUP BY",
                    ));
                }
                groups.push(e);
                continue;
            }
            match self.bind_resolved(g) {
                Ok((x, _)) => groups.push(x),
                Err(err) if err.code == SqlState::UNDEFINED_COLUMN => {
                    let ast::Expr::Identifier(id) = g else {
                        return Err(err);
                    };
                    match items.iter().find(|(_, c)| c.name == ident_name(id)) {
                        Some((e, _)) => groups.push(e.clone()),
                        None => return Err(err),
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok(groups)
    }

    /// Resolves an ORDER BY / DISTINCT ON item to a projection index, adding a
    /// hidden item when it is not in the target list.
    fn bind_sort_target(
        &mut self,
        e: &ast::Expr,
        items: &mut Vec<(Expr, OutCol)>,
        nvisible: usize,
        clause: &str,
    ) -> PgResult<usize> {
        if let Some(n) = ordinal(e) {
            if n < 1 || n as usize > nvisible {
                return Err(PgError::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    format!("{clause} position {n} is not in select list"),
                ));
            }
            return Ok(n as usize - 1);
        }
        if let ast::Expr::Identifier(id) = e {
            let name = ident_name(id);
            let hits: Vec<usize> = items[..nvisible]
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| c.name == name)
                .map(|(i, _)| i)
                .collect();
            if hits.len() == 1 {
                return Ok(hits[0]);
            }
            if hits.len() > 1 {
                let first = debug_key(&items[hits[0]].0);
                if hits.iter().all(|h| debug_key(&items[*h].0) == first) {
                    return Ok(hits[0]);
                }
                return Err(PgError::new(
                    SqlState::AMBIGUOUS_COLUMN,
                    format!("{clause} \"{name}\" is ambiguous"),
                ));
            }
        }
        let (x, ty) = self.bind_resolved(e)?;
        let key = debug_key(&x);
        if let Some(i) = items.iter().position(|(ie, _)| debug_key(ie) == key) {
            return Ok(i);
        }
        items.push((
            x,
            OutCol {
                name: "?column?".into(),
                ty,
                table_oid: Oid(0),
                attnum: 0,
            },
        ));
        Ok(items.len() - 1)
    }

    /// PostgreSQL's functional dependency on a primary key: grouping by
    /// every primary key column of a table groups by its other columns
    /// too. The columns of such tables that `used` reads outside
    /// aggregates, as more group keys (they split no group).
    fn dependent_group_keys(&mut self, groups: &[Expr], used: &[&Expr]) -> Vec<Expr> {
        let mut read: Vec<usize> = Vec::new();
        for e in used {
            e.walk(&mut |x| {
                if let Expr::Column(i) = x {
                    if !read.contains(i) {
                        read.push(*i);
                    }
                }
            });
        }
        let grouped: Vec<usize> = groups
            .iter()
            .filter_map(|g| match g {
                Expr::Column(i) => Some(*i),
                _ => None,
            })
            .collect();
        let catalog = self.catalog.clone();
        let level = self.level();
        let mut out = Vec::new();
        for i in read {
            let Some(c) = level.columns.get(i) else {
                continue;
            };
            if grouped.contains(&i) || c.attnum <= 0 {
                continue;
            }
            let Some(pk) = catalog
                .tables
                .get(&c.table_oid)
                .and_then(|t| t.primary_key.as_ref())
            else {
                continue;
            };
            let covered = pk.columns.iter().all(|&p| {
                grouped.iter().any(|&g| {
                    let gc = &level.columns[g];
                    gc.table == c.table
                        && gc.table_oid == c.table_oid
                        && usize::try_from(gc.attnum).is_ok_and(|a| a == p + 1)
                })
            });
            if covered {
                out.push(Expr::Column(i));
            }
        }
        out
    }

    /// Rewrites an expression of a grouped query onto the Aggregate node's row.
    fn group_rewrite(&mut self, e: Expr, keys: &[String], ngroups: usize) -> PgResult<Expr> {
        let mut bad: Option<usize> = None;
        let out = e.rewrite(&mut |x| {
            if matches!(x, Expr::Const(_) | Expr::Param(_)) {
                return None;
            }
            let k = debug_key(x);
            if let Some(i) = keys.iter().position(|g| *g == k) {
                return Some(Expr::Column(i));
            }
            match x {
                Expr::AggRef(j) => Some(Expr::Column(ngroups + j)),
                Expr::Column(i) => {
                    bad.get_or_insert(*i);
                    Some(Expr::Const(Value::Null))
                }
                _ => None,
            }
        });
        if let Some(i) = bad {
            let c = &self.level().columns[i];
            let name = match &c.table {
                Some(t) if !t.is_empty() => format!("{t}.{}", c.name),
                _ => c.name.clone(),
            };
            return Err(PgError::new(
                SqlState::GROUPING_ERROR,
                format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
            ));
        }
        Ok(out)
    }
}

/// Plans the set-returning functions of a target list as PostgreSQL does: one
/// `ProjectSet` per nesting depth (`generate_series(1, generate_series(1, 3))`
/// runs the inner call below the outer), calls of equal depth in lockstep. Each
/// call's value becomes a column appended to the `width`-wide input row; the
/// `SrfRef`s of the target list and of the calls' arguments are rewritten to
/// those columns.
fn project_set(
    mut node: Node,
    srfs: Vec<SrfCall>,
    exprs: Vec<Expr>,
    width: usize,
) -> (Node, Vec<Expr>) {
    // A call's arguments reference only calls bound before it (lower indexes).
    let mut depth = vec![0usize; srfs.len()];
    for (j, call) in srfs.iter().enumerate() {
        let mut d = 0;
        for a in &call.args {
            a.walk(&mut |x| {
                if let Expr::SrfRef(k) = x {
                    d = d.max(depth.get(*k).copied().unwrap_or(0) + 1);
                }
            });
        }
        depth[j] = d;
    }
    let mut order: Vec<usize> = (0..srfs.len()).collect();
    order.sort_by_key(|j| (depth[*j], *j));
    let mut pos = vec![0usize; srfs.len()];
    for (rank, j) in order.iter().enumerate() {
        pos[*j] = width + rank;
    }
    let to_columns = |e: Expr| {
        e.rewrite(&mut |x| match x {
            Expr::SrfRef(k) => Some(Expr::Column(pos[*k])),
            _ => None,
        })
    };
    let max_depth = depth.iter().copied().max().unwrap_or(0);
    let mut calls: Vec<Option<SrfCall>> = srfs.into_iter().map(Some).collect();
    for d in 0..=max_depth {
        let mut level_calls = Vec::new();
        for j in order.iter().copied().filter(|j| depth[*j] == d) {
            if let Some(call) = calls[j].take() {
                level_calls.push(SrfCall {
                    func: call.func,
                    args: call.args.into_iter().map(to_columns).collect(),
                });
            }
        }
        node = Node::ProjectSet {
            input: Box::new(node),
            srfs: level_calls,
        };
    }
    (node, exprs.into_iter().map(to_columns).collect())
}

fn join_trees(
    kind: JoinKind,
    left: FromTree,
    right: FromTree,
    on: Vec<Expr>,
    lateral: bool,
) -> FromTree {
    let (start, lw) = left.range();
    let (_, rw) = right.range();
    FromTree::Join {
        kind,
        left: Box::new(left),
        right: Box::new(right),
        on,
        lateral,
        start,
        width: lw + rw,
    }
}

pub(crate) fn sort_key(expr: Expr, o: &ast::OrderByOptions) -> SortKey {
    let desc = matches!(o.sort, Some(ast::OrderBySort::Desc));
    // PostgreSQL: NULLS LAST by default for ASC, NULLS FIRST for DESC.
    SortKey {
        expr,
        desc,
        nulls_first: o.nulls_first.unwrap_or(desc),
    }
}

/// Points an error about a relation at its name in the statement (as
/// PostgreSQL's `parser_errposition` does), unless it points elsewhere.
/// Points a "must appear in the GROUP BY clause" error at the first
/// reference to the column in the target list or HAVING.
fn at_ungrouped(e: PgError, s: &ast::Select) -> PgError {
    if e.code != SqlState::GROUPING_ERROR || e.locate().is_some() || e.position.is_some() {
        return e;
    }
    let Some(column) = e.message.split('"').nth(1).map(str::to_string) else {
        return e;
    };
    let (table, name) = match column.rsplit_once('.') {
        Some((t, n)) => (Some(t), n),
        None => (None, column.as_str()),
    };
    locate_in_select(e, s, |x| find_column(x, table, name))
}

/// Points `e` at the first place `find` finds in the target list or
/// HAVING of `s`.
fn locate_in_select(
    e: PgError,
    s: &ast::Select,
    find: impl Fn(&ast::Expr) -> Option<sqlparser::tokenizer::Span>,
) -> PgError {
    let exprs = s
        .projection
        .iter()
        .filter_map(|i| match i {
            SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => Some(x),
            _ => None,
        })
        .chain(s.having.as_ref());
    for x in exprs {
        if let Some(span) = find(x) {
            return e.with_locate(tandem_types::Locate::LineColumn(
                span.start.line,
                span.start.column,
            ));
        }
    }
    e
}

/// Points an error about GROUPING()'s arguments at the first argument of
/// the first GROUPING() call of the target list or HAVING.
fn at_grouping_call(e: PgError, s: &ast::Select) -> PgError {
    fn find(x: &ast::Expr) -> Option<sqlparser::tokenizer::Span> {
        use ast::Expr as E;
        match x {
            E::Function(f) => {
                let ast::FunctionArguments::List(list) = &f.args else {
                    return None;
                };
                let args = list.args.iter().filter_map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                });
                let is_grouping = object_parts(&f.name)
                    .ok()
                    .and_then(|mut p| p.pop())
                    .is_some_and(|n| n == "grouping");
                if is_grouping {
                    return list.args.first().map(|a| a.span());
                }
                args.clone().find_map(find)
            }
            E::BinaryOp { left, right, .. } => find(left).or_else(|| find(right)),
            E::UnaryOp { expr, .. } | E::Nested(expr) | E::Cast { expr, .. } => find(expr),
            E::Case {
                conditions,
                else_result,
                ..
            } => conditions
                .iter()
                .find_map(|c| find(&c.condition).or_else(|| find(&c.result)))
                .or_else(|| else_result.as_deref().and_then(find)),
            _ => None,
        }
    }
    if e.locate().is_some() || e.position.is_some() {
        return e;
    }
    locate_in_select(e, s, find)
}

/// Where `x` first names column `name` (of `table`), for the common shapes
/// of expressions.
fn find_column(
    x: &ast::Expr,
    table: Option<&str>,
    name: &str,
) -> Option<sqlparser::tokenizer::Span> {
    use ast::Expr as E;
    match x {
        E::Identifier(id) if ident_name(id) == name => Some(id.span),
        E::CompoundIdentifier(ids) => match ids.as_slice() {
            [.., t, c] if ident_name(c) == name && table.is_none_or(|q| ident_name(t) == q) => {
                Some(t.span)
            }
            _ => None,
        },
        E::BinaryOp { left, right, .. } => {
            find_column(left, table, name).or_else(|| find_column(right, table, name))
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr) => find_column(expr, table, name),
        E::Function(f) => match &f.args {
            ast::FunctionArguments::List(list) => list.args.iter().find_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    find_column(e, table, name)
                }
                _ => None,
            }),
            _ => None,
        },
        _ => None,
    }
}

fn at_name(e: PgError, name: &ast::ObjectName) -> PgError {
    match name.0.first().and_then(|p| p.as_ident()) {
        Some(id) if e.locate().is_none() && e.position.is_none() && id.span.start.line > 0 => e
            .with_locate(tandem_types::Locate::LineColumn(
                id.span.start.line,
                id.span.start.column,
            )),
        _ => e,
    }
}
