//! Sort, DISTINCT [ON], LIMIT/OFFSET and UNION/INTERSECT/EXCEPT [ALL].
//!
//! Sorting follows PostgreSQL's defaults: ascending with NULLs last, descending
//! with NULLs first, unless NULLS FIRST/LAST says otherwise.
//!
//! Corresponds to PostgreSQL's `nodeSort.c`, `nodeUnique.c`, `nodeLimit.c`,
//! `nodeSetOp.c` and `nodeAppend.c`.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use tandem_types::{PgError, PgResult, SqlState, Value};

use super::eval::eval_full;
use super::hashkey::{values_equal, HashKey};
use super::{collect, run, Env, Exec, Sink};
use crate::plan::{Expr, Node, SetOpKind, SortKey};

/// Orders two rows' sort-key values.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = tandem_expr::compare(x, y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

pub fn sort(
    ex: &mut Exec,
    input: &Node,
    keys: &[SortKey],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let mut rows: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
    run(ex, input, env, &mut |ex, row| {
        ex.tick()?;
        let mut k = Vec::with_capacity(keys.len());
        for key in keys {
            k.push(eval_full(ex, &key.expr, row, env)?);
        }
        rows.push((k, row.to_vec()));
        Ok(true)
    })?;
    rows.sort_by(|a, b| compare_keys(&a.0, &b.0, keys));
    for (_, r) in rows {
        if !sink(ex, &r)? {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn distinct(
    ex: &mut Exec,
    input: &Node,
    on: Option<&[Expr]>,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    match on {
        None => {
            let mut seen: HashSet<HashKey> = HashSet::new();
            run(ex, input, env, &mut |ex, row| {
                if seen.insert(HashKey(row.to_vec())) {
                    sink(ex, row)
                } else {
                    Ok(true)
                }
            })
        }
        Some(exprs) => {
            let mut last: Option<Vec<Value>> = None;
            run(ex, input, env, &mut |ex, row| {
                let mut k = Vec::with_capacity(exprs.len());
                for e in exprs {
                    k.push(eval_full(ex, e, row, env)?);
                }
                let same = last
                    .as_ref()
                    .map(|l| l.iter().zip(&k).all(|(a, b)| values_equal(a, b)))
                    .unwrap_or(false);
                if same {
                    return Ok(true);
                }
                last = Some(k);
                sink(ex, row)
            })
        }
    }
}

fn count_value(
    ex: &mut Exec,
    e: Option<&Expr>,
    env: Option<&Env>,
    what: &str,
    code: SqlState,
) -> PgResult<Option<i64>> {
    let Some(e) = e else { return Ok(None) };
    match eval_full(ex, e, &[], env)? {
        Value::Null => Ok(None),
        Value::Int8(n) if n < 0 => Err(PgError::new(code, format!("{what} must not be negative"))),
        Value::Int8(n) => Ok(Some(n)),
        other => Err(PgError::internal(format!(
            "{what} value {other:?} is not bigint"
        ))),
    }
}

pub fn limit(
    ex: &mut Exec,
    input: &Node,
    limit: Option<&Expr>,
    offset: Option<&Expr>,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let lim = count_value(
        ex,
        limit,
        env,
        "LIMIT",
        SqlState::INVALID_ROW_COUNT_IN_LIMIT,
    )?;
    let mut skip = count_value(
        ex,
        offset,
        env,
        "OFFSET",
        SqlState::INVALID_ROW_COUNT_IN_RESULT_OFFSET,
    )?
    .unwrap_or(0);
    if lim == Some(0) {
        return Ok(true);
    }
    let mut left = lim.unwrap_or(i64::MAX);
    let mut parent_stopped = false;
    run(ex, input, env, &mut |ex, row| {
        if skip > 0 {
            skip -= 1;
            return Ok(true);
        }
        if !sink(ex, row)? {
            parent_stopped = true;
            return Ok(false);
        }
        left -= 1;
        Ok(left > 0)
    })?;
    Ok(!parent_stopped)
}

#[allow(clippy::too_many_arguments)]
pub fn set_op(
    ex: &mut Exec,
    left: &Node,
    right: &Node,
    op: SetOpKind,
    all: bool,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    match (op, all) {
        (SetOpKind::Union, true) => {
            if !run(ex, left, env, sink)? {
                return Ok(false);
            }
            run(ex, right, env, sink)
        }
        (SetOpKind::Union, false) => {
            let mut seen: HashSet<HashKey> = HashSet::new();
            let mut f = |ex: &mut Exec, row: &[Value]| {
                if seen.insert(HashKey(row.to_vec())) {
                    sink(ex, row)
                } else {
                    Ok(true)
                }
            };
            if !run(ex, left, env, &mut f)? {
                return Ok(false);
            }
            run(ex, right, env, &mut f)
        }
        (kind, all) => {
            let mut counts: HashMap<HashKey, usize> = HashMap::new();
            for r in collect(ex, right, env)? {
                *counts.entry(HashKey(r)).or_default() += 1;
            }
            let mut emitted: HashSet<HashKey> = HashSet::new();
            run(ex, left, env, &mut |ex, row| {
                let k = HashKey(row.to_vec());
                let in_right = counts.get(&k).copied().unwrap_or(0);
                let emit = match (kind, all) {
                    (SetOpKind::Intersect, true) => {
                        if in_right > 0 {
                            counts.insert(k, in_right - 1);
                            true
                        } else {
                            false
                        }
                    }
                    (SetOpKind::Intersect, false) => in_right > 0 && emitted.insert(k),
                    (_, true) => {
                        if in_right > 0 {
                            counts.insert(k, in_right - 1);
                            false
                        } else {
                            true
                        }
                    }
                    (_, false) => in_right == 0 && emitted.insert(k),
                };
                if emit {
                    sink(ex, row)
                } else {
                    Ok(true)
                }
            })
        }
    }
}

/// `WITH RECURSIVE`'s union: `base`'s rows, then `step`'s, run again over
/// the rows of the round before (work table `id`) until a round adds none.
/// Without `all`, rows seen before are dropped (which also ends a cycle).
#[allow(clippy::too_many_arguments)]
pub fn recursive_union(
    ex: &mut Exec,
    id: usize,
    base: &Node,
    step: &Node,
    all: bool,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let mut seen: HashSet<HashKey> = HashSet::new();
    let mut round: Vec<Vec<Value>> = Vec::new();
    let mut emit = |ex: &mut Exec, row: &[Value], round: &mut Vec<Vec<Value>>| {
        ex.tick()?;
        if !all && !seen.insert(HashKey(row.to_vec())) {
            return Ok(true);
        }
        round.push(row.to_vec());
        sink(ex, row)
    };
    let mut go_on = run(ex, base, env, &mut |ex, row| emit(ex, row, &mut round))?;
    while go_on && !round.is_empty() {
        ex.work_tables
            .insert(id, std::sync::Arc::new(std::mem::take(&mut round)));
        let mut next = Vec::new();
        let r = run(ex, step, env, &mut |ex, row| emit(ex, row, &mut next));
        round = next;
        match r {
            Ok(more) => go_on = more,
            Err(e) => {
                ex.work_tables.remove(&id);
                return Err(e);
            }
        }
    }
    ex.work_tables.remove(&id);
    Ok(go_on)
}
