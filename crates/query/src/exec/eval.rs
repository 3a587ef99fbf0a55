//! Expression evaluation with SQL's three-valued logic.
//!
//! Two modes ([`Cx`]): `Full` has the whole execution context (functions,
//! subqueries, catalog); `Pure` has only parameters and clock values, so filters
//! classified pure at plan time (`Expr::is_pure`) can run inside a storage scan
//! callback, which holds the transaction borrowed.
//!
//! Corresponds to PostgreSQL's `executor/execExprInterp.c` and `nodeSubplan.c`.

use std::cmp::Ordering;
use std::sync::Arc;

use tandem_types::{PgError, PgResult, SqlState, Value};

use super::hashkey::values_equal;
use super::{run, Env, Exec};
use crate::plan::{Expr, SubPlan};

/// What a pure evaluation may read.
pub struct PureCx<'p> {
    pub params: &'p [Value],
    pub txn_start: i64,
    pub stmt_start: i64,
    pub user: &'p str,
}

pub enum Cx<'a, 'e, 'c> {
    Full(&'a mut Exec<'e, 'c>),
    Pure(&'a PureCx<'a>),
}

impl<'a, 'e, 'c> Cx<'a, 'e, 'c> {
    fn params(&self) -> &[Value] {
        match self {
            Cx::Full(ex) => ex.ctx.params,
            Cx::Pure(p) => p.params,
        }
    }

    fn full(&mut self) -> PgResult<&mut Exec<'e, 'c>> {
        match self {
            Cx::Full(ex) => Ok(&mut **ex),
            Cx::Pure(_) => Err(PgError::internal("expression needs the execution context")),
        }
    }
}

pub fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn outer<'r>(env: Option<&'r Env<'r>>, depth: usize, index: usize) -> PgResult<&'r Value> {
    let mut e = env;
    for _ in 1..depth {
        e = e.and_then(|x| x.parent);
    }
    e.and_then(|x| x.row.get(index))
        .ok_or_else(|| PgError::internal("outer reference out of range"))
}

pub fn eval(cx: &mut Cx, e: &Expr, row: &[Value], env: Option<&Env>) -> PgResult<Value> {
    Ok(match e {
        Expr::Const(v) => v.clone(),
        Expr::Column(i) => row
            .get(*i)
            .cloned()
            .ok_or_else(|| PgError::internal(format!("column {i} out of range")))?,
        Expr::Outer { depth, index } => outer(env, *depth, *index)?.clone(),
        Expr::Param(n) => cx.params().get(*n).cloned().unwrap_or(Value::Null),
        Expr::Binary { op, l, r } => {
            let l = eval(cx, l, row, env)?;
            let r = eval(cx, r, row, env)?;
            tandem_expr::binary_op(*op, l, r)?
        }
        Expr::Unary { op, e } => tandem_expr::unary_op(*op, eval(cx, e, row, env)?)?,
        Expr::And(l, r) => {
            let a = eval(cx, l, row, env)?;
            if a == Value::Bool(false) {
                return Ok(a);
            }
            let b = eval(cx, r, row, env)?;
            match (a, b) {
                (_, Value::Bool(false)) => Value::Bool(false),
                (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                _ => Value::Null,
            }
        }
        Expr::Or(l, r) => {
            let a = eval(cx, l, row, env)?;
            if a == Value::Bool(true) {
                return Ok(a);
            }
            let b = eval(cx, r, row, env)?;
            match (a, b) {
                (_, Value::Bool(true)) => Value::Bool(true),
                (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                _ => Value::Null,
            }
        }
        Expr::Not(x) => match eval(cx, x, row, env)? {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        },
        Expr::IsNull { e, negated } => Value::Bool(eval(cx, e, row, env)?.is_null() != *negated),
        Expr::IsBool { e, value, negated } => {
            let v = eval(cx, e, row, env)?;
            Value::Bool((v == Value::Bool(*value)) != *negated)
        }
        Expr::IsDistinct { l, r, negated } => {
            let a = eval(cx, l, row, env)?;
            let b = eval(cx, r, row, env)?;
            Value::Bool(values_equal(&a, &b) == *negated)
        }
        Expr::InList { e, list, negated } => {
            let v = eval(cx, e, row, env)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            for item in list {
                let x = eval(cx, item, row, env)?;
                if x.is_null() {
                    saw_null = true;
                } else if values_equal(&v, &x) {
                    return Ok(Value::Bool(!negated));
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(*negated)
            }
        }
        Expr::InSubquery { e, sub, negated } => {
            let v = eval(cx, e, row, env)?;
            let rows = subplan_rows(cx.full()?, sub, row, env, usize::MAX)?;
            if v.is_null() {
                return Ok(if rows.is_empty() {
                    Value::Bool(*negated)
                } else {
                    Value::Null
                });
            }
            let mut saw_null = false;
            for r in rows.iter() {
                match r.first() {
                    Some(Value::Null) | None => saw_null = true,
                    Some(x) if values_equal(&v, x) => return Ok(Value::Bool(!negated)),
                    _ => {}
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(*negated)
            }
        }
        Expr::Exists { sub, negated } => {
            let rows = subplan_rows(cx.full()?, sub, row, env, 1)?;
            Value::Bool(rows.is_empty() == *negated)
        }
        Expr::ScalarSub(sub) => {
            let rows = subplan_rows(cx.full()?, sub, row, env, 2)?;
            if rows.len() > 1 {
                return Err(PgError::new(
                    SqlState::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                ));
            }
            rows.first()
                .and_then(|r| r.first().cloned())
                .unwrap_or(Value::Null)
        }
        Expr::ArraySub(sub) => {
            let rows = subplan_rows(cx.full()?, sub, row, env, usize::MAX)?;
            Value::Array(
                rows.iter()
                    .map(|r| r.first().cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        }
        Expr::AnyAll { l, op, r, all } => {
            let lv = eval(cx, l, row, env)?;
            let rv = eval(cx, r, row, env)?;
            let Value::Array(items) = rv else {
                return Ok(Value::Null);
            };
            let mut saw_null = false;
            for it in items {
                match tandem_expr::binary_op(*op, lv.clone(), it)? {
                    Value::Bool(b) if b != *all => return Ok(Value::Bool(b)),
                    Value::Bool(_) => {}
                    _ => saw_null = true,
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(*all)
            }
        }
        Expr::Case {
            operand: _,
            whens,
            otherwise,
        } => {
            for (w, t) in whens {
                if truthy(&eval(cx, w, row, env)?) {
                    return eval(cx, t, row, env);
                }
            }
            match otherwise {
                Some(o) => eval(cx, o, row, env)?,
                None => Value::Null,
            }
        }
        Expr::Coalesce(items) => {
            for it in items {
                let v = eval(cx, it, row, env)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Value::Null
        }
        Expr::NullIf(l, r) => {
            let a = eval(cx, l, row, env)?;
            let b = eval(cx, r, row, env)?;
            if !a.is_null() && !b.is_null() && values_equal(&a, &b) {
                Value::Null
            } else {
                a
            }
        }
        Expr::Greatest(items) | Expr::Least(items) => {
            let want = if matches!(e, Expr::Greatest(_)) {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            let mut best = Value::Null;
            for it in items {
                let v = eval(cx, it, row, env)?;
                if v.is_null() {
                    continue;
                }
                if best.is_null() || tandem_expr::compare(&v, &best) == want {
                    best = v;
                }
            }
            best
        }
        Expr::Cast { e, ty } => {
            let v = eval(cx, e, row, env)?;
            if v.is_null() {
                v
            } else {
                tandem_expr::cast(v, ty)?
            }
        }
        Expr::RegName { e, ty } => match eval(cx, e, row, env)? {
            Value::Oid(o) => {
                let ctx = &cx.full()?.ctx;
                let path = tandem_expr::reg::session_search_path(ctx);
                let catalog = ctx.txn.catalog();
                Value::Text(tandem_expr::reg::reg_name(o, ty, &catalog, Some(&path)))
            }
            other => other,
        },
        Expr::ToRegClass(e) => {
            let v = eval(cx, e, row, env)?;
            let Value::Text(name) = v else {
                return Ok(Value::Null);
            };
            let ex = cx.full()?;
            let catalog = ex.ctx.txn.catalog();
            let mut params = Vec::new();
            let b = crate::bind::Binder::new(catalog, &mut params);
            b.regclass_lookup(&name)?
        }
        Expr::Func { sig, args } => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(cx, a, row, env)?);
            }
            tandem_expr::call_function(sig, vals, cx.full()?.ctx)?
        }
        Expr::Array(items) => {
            let mut vals = Vec::with_capacity(items.len());
            for a in items {
                vals.push(eval(cx, a, row, env)?);
            }
            Value::Array(vals)
        }
        Expr::Subscript { e, index } => {
            let a = eval(cx, e, row, env)?;
            let i = eval(cx, index, row, env)?;
            match (a, i) {
                (Value::Array(items), Value::Int4(i)) if i >= 1 => {
                    items.into_iter().nth(i as usize - 1).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            }
        }
        Expr::TxnTimestamp => Value::TimestampTz(match cx {
            Cx::Full(ex) => ex.ctx.txn_start,
            Cx::Pure(p) => p.txn_start,
        }),
        Expr::StmtTimestamp => Value::TimestampTz(match cx {
            Cx::Full(ex) => ex.ctx.stmt_start,
            Cx::Pure(p) => p.stmt_start,
        }),
        Expr::CurrentUser => Value::Text(match cx {
            Cx::Full(ex) => ex.ctx.session.user.clone(),
            Cx::Pure(p) => p.user.to_string(),
        }),
        Expr::AggRef(_) => {
            return Err(PgError::internal(
                "aggregate reference outside of an aggregate",
            ))
        }
        Expr::WinRef(_) => {
            return Err(PgError::internal(
                "window function reference outside of a window",
            ))
        }
        Expr::SrfRef(_) => {
            return Err(PgError::internal(
                "set-returning function reference outside of a ProjectSet",
            ))
        }
    })
}

/// Runs a subplan (cached when uncorrelated), returning up to `max` rows.
fn subplan_rows(
    ex: &mut Exec,
    sub: &SubPlan,
    row: &[Value],
    env: Option<&Env>,
    max: usize,
) -> PgResult<Arc<Vec<Vec<Value>>>> {
    if !sub.correlated {
        if let Some(r) = ex.cache.get(&(sub.id, max)) {
            return Ok(r.clone());
        }
    }
    let env2 = Env { row, parent: env };
    let mut out = Vec::new();
    run(ex, &sub.node, Some(&env2), &mut |_, r| {
        out.push(r.to_vec());
        Ok(out.len() < max)
    })?;
    let out = Arc::new(out);
    if !sub.correlated {
        ex.cache.insert((sub.id, max), out.clone());
    }
    Ok(out)
}

/// Evaluates with the full context.
pub fn eval_full(ex: &mut Exec, e: &Expr, row: &[Value], env: Option<&Env>) -> PgResult<Value> {
    eval(&mut Cx::Full(ex), e, row, env)
}
