//! The executor: runs [`Node`] trees push-style.
//!
//! `run(node, env, sink)` produces the node's rows and hands each to `sink`, which
//! returns `Ok(false)` to stop early (LIMIT, EXISTS). Rows are borrowed slices:
//! a filter passes its input row on without copying. `env` carries the rows of
//! enclosing query levels for correlated subqueries and LATERAL.
//!
//! Blocking nodes (sort, aggregate, hash join build side, set operations)
//! materialize what they need. Stored-table scans collect the matching rows while
//! the transaction is borrowed by the scan callback, then pass them on.
//!
//! - `scan.rs`: sequential scans, primary-key lookups, virtual tables, table
//!   functions (also in target lists: ProjectSet), row locks
//! - `join.rs`: hash and nested-loop joins, LATERAL
//! - `agg.rs`: grouping and aggregates
//! - `sort.rs`: sort, distinct, limit, set operations, recursive unions
//! - `window.rs`: window functions
//! - `eval.rs`: expressions
//!
//! Corresponds to PostgreSQL's `executor/` (execProcnode.c and the node files).

pub mod agg;
pub mod eval;
pub mod hashkey;
pub mod join;
pub mod scan;
pub mod sort;
pub mod window;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tandem_expr::ExecContext;
use tandem_types::{PgError, PgResult, SqlState, Value};

use crate::plan::Node;

/// Rows of enclosing query levels: `row` is depth 1, `parent` depth 2, ...
pub struct Env<'r> {
    pub row: &'r [Value],
    pub parent: Option<&'r Env<'r>>,
}

/// Execution state of one statement run.
pub struct Exec<'e, 'c> {
    pub ctx: &'e mut ExecContext<'c>,
    /// Results of uncorrelated subqueries, by (subplan id, row limit).
    pub cache: HashMap<(usize, usize), Arc<Vec<Vec<Value>>>>,
    /// Sequential scans hand their rows on a batch at a time instead of
    /// reading the whole table first: only for a statement that writes no
    /// rows, or an INSERT whose source does not read its target (a scan of
    /// a table being written, taken up again, would see the statement's own
    /// writes).
    pub stream_scans: bool,
    /// The rows each running `RecursiveUnion` produced last, by work table id.
    pub work_tables: HashMap<usize, Arc<Vec<Vec<Value>>>>,
    ticks: u32,
}

pub type Sink<'s> = dyn FnMut(&mut Exec<'_, '_>, &[Value]) -> PgResult<bool> + 's;

impl<'e, 'c> Exec<'e, 'c> {
    pub fn new(ctx: &'e mut ExecContext<'c>) -> Exec<'e, 'c> {
        Exec {
            ctx,
            cache: HashMap::new(),
            stream_scans: false,
            work_tables: HashMap::new(),
            ticks: 0,
        }
    }

    /// 57014 when the client asked to cancel; checked every few hundred rows.
    pub fn tick(&mut self) -> PgResult<()> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(256) {
            check_cancel(self.ctx)?;
        }
        Ok(())
    }
}

pub fn check_cancel(ctx: &ExecContext<'_>) -> PgResult<()> {
    if ctx.cancel.load(Ordering::Relaxed) {
        return Err(PgError::new(
            SqlState::QUERY_CANCELED,
            "canceling statement due to user request",
        ));
    }
    Ok(())
}

/// Runs `node`; returns false if `sink` stopped it.
pub fn run(ex: &mut Exec, node: &Node, env: Option<&Env>, sink: &mut Sink) -> PgResult<bool> {
    match node {
        Node::Values { rows } => {
            for r in rows {
                let mut out = Vec::with_capacity(r.len());
                for e in r {
                    out.push(eval::eval_full(ex, e, &[], env)?);
                }
                if !sink(ex, &out)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Node::SeqScan {
            table,
            filter,
            pure_filter,
        } => scan::seq_scan(ex, *table, filter.as_ref(), *pure_filter, env, sink),
        Node::PkLookup { table, key, filter } => {
            scan::pk_lookup(ex, *table, key, filter.as_ref(), env, sink)
        }
        Node::IndexScan { .. } => scan::index_scan(ex, node, env, sink),
        Node::Virtual { schema, name } => scan::virtual_scan(ex, schema, name, sink),
        Node::TableFunc {
            func,
            args,
            ordinality: false,
        } => scan::table_function(ex, func, args, env, sink),
        Node::TableFunc { func, args, .. } => {
            let mut n = 0i64;
            scan::table_function(ex, func, args, env, &mut |ex, row| {
                n += 1;
                let mut numbered = Vec::with_capacity(row.len() + 1);
                numbered.extend_from_slice(row);
                numbered.push(Value::Int8(n));
                sink(ex, &numbered)
            })
        }
        Node::Filter { input, pred } => run(ex, input, env, &mut |ex, row| {
            if eval::truthy(&eval::eval_full(ex, pred, row, env)?) {
                sink(ex, row)
            } else {
                Ok(true)
            }
        }),
        Node::Project { input, exprs } => run(ex, input, env, &mut |ex, row| {
            let mut out = Vec::with_capacity(exprs.len());
            for e in exprs {
                out.push(eval::eval_full(ex, e, row, env)?);
            }
            sink(ex, &out)
        }),
        Node::Join {
            left,
            right,
            kind,
            equi,
            cond,
            lateral,
            left_width,
            right_width,
        } => {
            let j = join::JoinSpec {
                kind: *kind,
                equi,
                cond: cond.as_ref(),
                left_width: *left_width,
                right_width: *right_width,
            };
            if *lateral {
                join::lateral_join(ex, left, right, &j, env, sink)
            } else {
                join::join(ex, left, right, &j, env, sink)
            }
        }
        Node::Aggregate {
            input,
            groups,
            aggs,
        } => agg::aggregate(ex, input, groups, aggs, env, sink),
        Node::Sort { input, keys } => sort::sort(ex, input, keys, env, sink),
        Node::Distinct { input, on } => sort::distinct(ex, input, on.as_deref(), env, sink),
        Node::Limit {
            input,
            limit,
            offset,
        } => sort::limit(ex, input, limit.as_ref(), offset.as_ref(), env, sink),
        Node::SetOp {
            left,
            right,
            op,
            all,
        } => sort::set_op(ex, left, right, *op, *all, env, sink),
        Node::ProjectSet { input, srfs } => scan::project_set(ex, input, srfs, env, sink),
        Node::Window { input, calls } => window::window(ex, input, calls, env, sink),
        Node::RecursiveUnion {
            id,
            base,
            step,
            all,
        } => sort::recursive_union(ex, *id, base, step, *all, env, sink),
        Node::WorkTable { id } => {
            let rows = ex.work_tables.get(id).cloned().unwrap_or_default();
            for r in rows.iter() {
                if !sink(ex, r)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Node::LockRows {
            input,
            table,
            key_cols,
        } => scan::lock_rows(ex, input, *table, key_cols, env, sink),
    }
}

/// Runs `node` and collects its rows.
pub fn collect(ex: &mut Exec, node: &Node, env: Option<&Env>) -> PgResult<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    run(ex, node, env, &mut |ex, r| {
        ex.tick()?;
        out.push(r.to_vec());
        Ok(true)
    })?;
    Ok(out)
}
