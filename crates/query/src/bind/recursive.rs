//! `WITH RECURSIVE`: a CTE of the form `non-recursive-term UNION [ALL]
//! recursive-term` whose recursive term refers to the CTE itself becomes a
//! `RecursiveUnion` node; inside the recursive term that reference reads
//! the node's work table (the rows the previous round produced). A CTE of a
//! `WITH RECURSIVE` list that never refers to itself is an ordinary one.
//!
//! Corresponds to PostgreSQL's `parser/parse_cte.c` (checkWellFormedRecursion)
//! and `executor/nodeRecursiveunion.c`.

use sqlparser::ast::{self, SetExpr, SetOperator, SetQuantifier, Spanned, TableAlias};
use tandem_types::{DataType, Locate, Oid, PgError, PgResult, SqlState};

use super::select::{FromTree, LeafSrc};
use super::{Binder, CteDef, CteState, OutCol};
use crate::plan::Node;

fn invalid_recursion(message: String) -> PgError {
    PgError::new(SqlState("42P19"), message)
}

/// A query made of `body` alone (a term of a set operation, a SELECT).
pub(super) fn query_of(body: &SetExpr) -> ast::Query {
    ast::Query {
        with: None,
        body: Box::new(body.clone()),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: vec![],
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: vec![],
    }
}

impl Binder<'_> {
    /// A reference to `self.ctes[pos]`, a CTE of a `WITH RECURSIVE` list.
    pub(super) fn bind_recursive_cte(
        &mut self,
        pos: usize,
        alias_name: &str,
        alias: Option<&TableAlias>,
    ) -> PgResult<FromTree> {
        let cte = self.ctes[pos].clone();
        match cte.state {
            CteState::Binding => {
                return Err(invalid_recursion(format!(
                "recursive reference to query \"{}\" must not appear within its non-recursive term",
                cte.name
            )))
            }
            CteState::Recursing { id, columns, .. } => {
                if let CteState::Recursing { used, .. } = &mut self.ctes[pos].state {
                    *used = true;
                }
                let cols = columns
                    .into_iter()
                    .map(|(n, t)| (n, t, Oid(0), 0))
                    .collect();
                return self.leaf(
                    alias_name,
                    cols,
                    alias,
                    LeafSrc::Node(Box::new(Node::WorkTable { id })),
                );
            }
            CteState::Idle => {}
        }
        // The CTE sees the CTEs before it, and itself.
        let saved = self.ctes.len();
        let hidden: Vec<CteDef> = self.ctes.drain(pos + 1..).collect();
        let res = self.item_level(false, |b| b.bind_recursive_query(pos));
        self.ctes.truncate(pos + 1);
        self.ctes[pos].state = CteState::Idle;
        self.ctes.extend(hidden);
        self.ctes.truncate(saved);
        let (node, cols) = res?;
        self.cte_leaf(alias_name, alias, &cte.columns, node, cols)
    }

    /// The query of `self.ctes[pos]`, as a recursive union when its
    /// recursive term refers to it.
    fn bind_recursive_query(&mut self, pos: usize) -> PgResult<(Node, Vec<OutCol>)> {
        let cte = self.ctes[pos].clone();
        let q = &cte.query;
        let SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier,
            left,
            right,
        } = q.body.as_ref()
        else {
            self.ctes[pos].state = CteState::Binding;
            return self.bind_from_subquery(q).map_err(|e| {
                if e.code.0 == "42P19" {
                    invalid_recursion(format!(
                        "recursive query \"{}\" does not have the form non-recursive-term UNION [ALL] recursive-term",
                        cte.name
                    ))
                } else {
                    e
                }
            });
        };
        let all = match set_quantifier {
            SetQuantifier::All => true,
            SetQuantifier::None | SetQuantifier::Distinct => false,
            other => return Err(PgError::unsupported(format!("UNION {other}"))),
        };
        self.ctes[pos].state = CteState::Binding;
        let (base, base_cols) = self.bind_from_subquery(&query_of(left))?;
        let base_correlated = self.last_subquery_correlated.unwrap_or(false);
        let id = self.next_worktable;
        self.next_worktable += 1;
        let columns: Vec<(String, DataType)> = base_cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ty = match &c.ty {
                    DataType::Unknown => DataType::Text,
                    t => t.clone(),
                };
                (cte.columns.get(i).cloned().unwrap_or(c.name.clone()), ty)
            })
            .collect();
        self.ctes[pos].state = CteState::Recursing {
            id,
            columns: columns.clone(),
            used: false,
        };
        let (step, step_cols) = self.bind_from_subquery(&query_of(right))?;
        let used = matches!(self.ctes[pos].state, CteState::Recursing { used: true, .. });
        self.ctes[pos].state = CteState::Idle;
        if !used {
            // no reference to itself: an ordinary query
            return self.bind_from_subquery(q);
        }
        if let Some(ob) = &q.order_by {
            let e = PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "ORDER BY in a recursive query is not implemented",
            );
            // PostgreSQL points at the first sort expression
            let first = match &ob.kind {
                ast::OrderByKind::Expressions(items) => items.first().map(|o| o.expr.span()),
                _ => None,
            };
            return Err(match first {
                Some(sp) if sp.start.line > 0 => {
                    e.with_locate(Locate::LineColumn(sp.start.line, sp.start.column))
                }
                _ => e.with_locate(Locate::Words("order by")),
            });
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "LIMIT in a recursive query is not implemented",
            ));
        }
        if step_cols.len() != columns.len() {
            return Err(PgError::syntax(
                "each UNION query must have the same number of columns",
            ));
        }
        for (i, (c, (_, ty))) in step_cols.iter().zip(&columns).enumerate() {
            if c.ty != *ty && c.ty != DataType::Unknown {
                return Err(PgError::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "recursive query \"{}\" column {} has type {} in non-recursive term but type {} overall",
                        cte.name,
                        i + 1,
                        ty.display_name(),
                        c.ty.display_name()
                    ),
                )
                .with_hint("Cast the output of the non-recursive term to the correct type."));
            }
        }
        let step_correlated = self.last_subquery_correlated.unwrap_or(false);
        self.last_subquery_correlated = Some(base_correlated || step_correlated);
        let cols = columns
            .into_iter()
            .map(|(name, ty)| OutCol {
                name,
                ty,
                table_oid: Oid(0),
                attnum: 0,
            })
            .collect();
        Ok((
            Node::RecursiveUnion {
                id,
                base: Box::new(base),
                step: Box::new(step),
                all,
            },
            cols,
        ))
    }
}
