//! Choosing a secondary index for a table scan: the planner's side of
//! `tandem_storage::index`.
//!
//! A conjunct `col = value` (value free of the row) pins a column, `col <
//! value` and the like bound it. The primary key counts as an index (the
//! storage reads the table's own keys for it). An index is usable when its first column is
//! pinned or bounded; it answers equality on its pinned leading columns and
//! a range on the column after them. Among usable indexes the one that
//! pins the most columns wins (a unique index pinned whole first), then one
//! with a range. Every conjunct stays in the scan's filter, so the index
//! only has to find a superset of the rows: columns whose type compares
//! other than by key bytes (`character(n)` ignores trailing blanks, json,
//! arrays, records) are never used.

use std::sync::Arc;

use tandem_expr::BinOp;
use tandem_storage::{IndexDef, TableDef};
use tandem_types::DataType;

use crate::bind::select::{and_all, eq_column_value, has_subplan};
use crate::plan::{Expr, IndexRange, Node};

/// Whether the key bytes of values of `ty` order and compare them as SQL
/// does (so that an index over them finds every row a predicate selects).
pub(crate) fn indexable(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Numeric(_)
            | DataType::Float4
            | DataType::Float8
            | DataType::Text
            | DataType::Varchar(_)
            | DataType::Name
            | DataType::Bool
            | DataType::Date
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Uuid
            | DataType::Oid
            | DataType::Bytea
    )
}

/// `col <op> value` or `value <op> col` with a range operator, as (column,
/// value, is the value a lower bound, inclusive).
fn range_column_value(e: &Expr) -> Option<(usize, &Expr, bool, bool)> {
    let Expr::Binary { op, l, r } = e else {
        return None;
    };
    let free = |x: &Expr| {
        let mut cols = Vec::new();
        x.columns(&mut cols);
        cols.is_empty() && !has_subplan(x)
    };
    // (value is a lower bound, inclusive) for `col op value`
    let (lower, inclusive) = match op {
        BinOp::Gt => (true, false),
        BinOp::GtEq => (true, true),
        BinOp::Lt => (false, false),
        BinOp::LtEq => (false, true),
        _ => return None,
    };
    match (l.as_ref(), r.as_ref()) {
        (Expr::Column(c), v) if free(v) => Some((*c, v, lower, inclusive)),
        // `value op col` bounds the other way
        (v, Expr::Column(c)) if free(v) => Some((*c, v, !lower, inclusive)),
        _ => None,
    }
}

/// The conjuncts of `filters`, `AND`s taken apart.
fn conjuncts<'a>(filters: &'a [Expr], out: &mut Vec<&'a Expr>) {
    fn split<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::And(a, b) => {
                split(a, out);
                split(b, out);
            }
            e => out.push(e),
        }
    }
    for f in filters {
        split(f, out);
    }
}

/// An index scan of `def` for `filters`, if an index serves them.
pub fn index_scan(def: &TableDef, indexes: &[Arc<IndexDef>], filters: &[Expr]) -> Option<Node> {
    if (indexes.is_empty() && def.primary_key.is_none()) || filters.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    conjuncts(filters, &mut parts);
    let ty = |c: usize| def.columns.get(c).map(|c| &c.data_type);
    let mut best: Option<(u32, Node)> = None;
    // the primary key serves ranges and prefixes as an index would (the
    // caller has taken a full pin of it as a point lookup)
    let pk = def.primary_key.as_ref().map(|pk| IndexDef {
        oid: def.oid,
        name: pk.name.clone(),
        table: def.oid,
        columns: pk.columns.clone(),
        unique: true,
        constraint: true,
    });
    for idx in indexes.iter().map(|i| i.as_ref()).chain(pk.as_ref()) {
        let mut prefix = Vec::new();
        for &col in &idx.columns {
            let Some(t) = ty(col).filter(|t| indexable(t)) else {
                break;
            };
            let pinned = parts
                .iter()
                .find_map(|p| eq_column_value(p).filter(|(c, _)| *c == col));
            match pinned {
                Some((_, v)) => prefix.push((v.clone(), t.clone())),
                None => break,
            }
        }
        let range = idx
            .columns
            .get(prefix.len())
            .and_then(|&col| Some((col, ty(col).filter(|t| indexable(t))?)))
            .and_then(|(col, t)| {
                let mut r = IndexRange {
                    ty: t.clone(),
                    lower: None,
                    upper: None,
                };
                for p in &parts {
                    if let Some((c, v, lower, inclusive)) = range_column_value(p) {
                        let slot = if lower { &mut r.lower } else { &mut r.upper };
                        if c == col && slot.is_none() {
                            *slot = Some((v.clone(), inclusive));
                        }
                    }
                }
                (r.lower.is_some() || r.upper.is_some()).then_some(r)
            });
        if prefix.is_empty() && range.is_none() {
            continue;
        }
        let whole = prefix.len() == idx.columns.len() && idx.unique;
        let score =
            if whole { 1000 } else { 0 } + prefix.len() as u32 * 10 + u32::from(range.is_some());
        if best.as_ref().is_some_and(|(s, _)| *s >= score) {
            continue;
        }
        let node = Node::IndexScan {
            table: def.oid,
            index: idx.oid,
            prefix,
            range,
            filter: and_all(filters.to_vec()),
            for_order: false,
        };
        best = Some((score, node));
    }
    best.map(|(_, n)| n)
}
