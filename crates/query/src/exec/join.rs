//! Joins: hash join when the condition has equalities between the two sides,
//! nested loop otherwise, and LATERAL (the right side re-run per left row with the
//! left row as its outer row). Inner, left, right and full outer joins.
//!
//! The right side is materialized (the hash table's build side); the left side
//! streams. Right/full joins remember which right rows matched and emit the rest,
//! NULL-padded, at the end.
//!
//! Corresponds to PostgreSQL's `nodeHashjoin.c` and `nodeNestloop.c`.

use std::collections::HashMap;

use tandem_types::{PgResult, Value};

use super::eval::{eval_full, truthy};
use super::hashkey::HashKey;
use super::{collect, run, Env, Exec, Sink};
use crate::plan::{Expr, JoinKind, Node};

pub struct JoinSpec<'a> {
    pub kind: JoinKind,
    /// (left key over the left row, right key over the right row)
    pub equi: &'a [(Expr, Expr)],
    pub cond: Option<&'a Expr>,
    pub left_width: usize,
    pub right_width: usize,
}

fn combine(l: &[Value], r: &[Value]) -> Vec<Value> {
    let mut out = Vec::with_capacity(l.len() + r.len());
    out.extend_from_slice(l);
    out.extend_from_slice(r);
    out
}

fn nulls(n: usize) -> Vec<Value> {
    vec![Value::Null; n]
}

/// Key of a row for the given side's expressions; None if any part is NULL.
fn key_of(
    ex: &mut Exec,
    exprs: &mut dyn Iterator<Item = &Expr>,
    row: &[Value],
    env: Option<&Env>,
) -> PgResult<Option<HashKey>> {
    let mut k = Vec::new();
    for e in exprs {
        let v = eval_full(ex, e, row, env)?;
        if v.is_null() {
            return Ok(None);
        }
        k.push(v);
    }
    Ok(Some(HashKey(k)))
}

pub fn join(
    ex: &mut Exec,
    left: &Node,
    right: &Node,
    j: &JoinSpec,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let right_rows = collect(ex, right, env)?;
    let mut table: HashMap<HashKey, Vec<usize>> = HashMap::new();
    if !j.equi.is_empty() {
        for (i, r) in right_rows.iter().enumerate() {
            // Right key expressions address the right row alone.
            if let Some(k) = key_of(ex, &mut j.equi.iter().map(|(_, r)| r), r, env)? {
                table.entry(k).or_default().push(i);
            }
        }
    }
    let mut matched = vec![
        false;
        if matches!(j.kind, JoinKind::Right | JoinKind::Full) {
            right_rows.len()
        } else {
            0
        }
    ];
    let all: Vec<usize> = if j.equi.is_empty() {
        (0..right_rows.len()).collect()
    } else {
        Vec::new()
    };
    let empty: Vec<usize> = Vec::new();
    let cont = run(ex, left, env, &mut |ex, lrow| {
        ex.tick()?;
        let candidates: &Vec<usize> = if j.equi.is_empty() {
            &all
        } else {
            match key_of(ex, &mut j.equi.iter().map(|(l, _)| l), lrow, env)? {
                Some(k) => table.get(&k).unwrap_or(&empty),
                None => &empty,
            }
        };
        let mut any = false;
        for &i in candidates {
            let row = combine(lrow, &right_rows[i]);
            if let Some(c) = j.cond {
                if !truthy(&eval_full(ex, c, &row, env)?) {
                    continue;
                }
            }
            any = true;
            if let Some(m) = matched.get_mut(i) {
                *m = true;
            }
            if !sink(ex, &row)? {
                return Ok(false);
            }
        }
        if !any && matches!(j.kind, JoinKind::Left | JoinKind::Full) {
            return sink(ex, &combine(lrow, &nulls(j.right_width)));
        }
        Ok(true)
    })?;
    if !cont {
        return Ok(false);
    }
    if matches!(j.kind, JoinKind::Right | JoinKind::Full) {
        for (i, m) in matched.iter().enumerate() {
            if !m && !sink(ex, &combine(&nulls(j.left_width), &right_rows[i]))? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

pub fn lateral_join(
    ex: &mut Exec,
    left: &Node,
    right: &Node,
    j: &JoinSpec,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    run(ex, left, env, &mut |ex, lrow| {
        ex.tick()?;
        let inner_env = Env {
            row: lrow,
            parent: env,
        };
        let right_rows = collect(ex, right, Some(&inner_env))?;
        let mut any = false;
        for r in &right_rows {
            let row = combine(lrow, r);
            if let Some(c) = j.cond {
                if !truthy(&eval_full(ex, c, &row, env)?) {
                    continue;
                }
            }
            any = true;
            if !sink(ex, &row)? {
                return Ok(false);
            }
        }
        if !any && j.kind == JoinKind::Left {
            return sink(ex, &combine(lrow, &nulls(j.right_width)));
        }
        Ok(true)
    })
}
