//! Window functions (`Node::Window`): every input row is read first; then,
//! call by call, the rows are ordered by the call's PARTITION BY and ORDER BY
//! (a stable sort, so rows that tie keep their input order), and each
//! partition is walked to give every row its value. Rows go out followed by
//! their values, in the order of the last call's sort.
//!
//! Peers are rows of a partition with equal ORDER BY values (all of its rows
//! without ORDER BY): ranks are given per peer group, and a RANGE frame's
//! CURRENT ROW reaches to the row's last peer. An aggregate whose frame starts
//! at the partition's first row is computed incrementally; other frames are
//! computed afresh for each row.
//!
//! Corresponds to PostgreSQL's `executor/nodeWindowAgg.c` and
//! `utils/adt/windowfuncs.c`.

use std::cmp::Ordering;

use tandem_types::{PgError, PgResult, SqlState, Value};

use super::eval::{eval_full, truthy};
use super::sort::compare_keys;
use super::{run, Env, Exec, Sink};
use crate::aggregates::Accumulator;
use crate::plan::{Expr, FrameBound, Node, SortKey, WindowCall, WindowFunc};

/// One input row and the values of the calls computed so far.
struct Slot {
    row: Vec<Value>,
    values: Vec<Value>,
}

pub fn window(
    ex: &mut Exec,
    input: &Node,
    calls: &[WindowCall],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let mut slots: Vec<Slot> = Vec::new();
    run(ex, input, env, &mut |ex, row| {
        ex.tick()?;
        slots.push(Slot {
            row: row.to_vec(),
            values: Vec::with_capacity(calls.len()),
        });
        Ok(true)
    })?;
    let mut order: Vec<usize> = (0..slots.len()).collect();
    for call in calls {
        order = compute(ex, call, &mut slots, env)?;
    }
    for i in order {
        let slot = &mut slots[i];
        let mut out = std::mem::take(&mut slot.row);
        out.append(&mut slot.values);
        if !sink(ex, &out)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Evaluates `exprs` on every row.
fn eval_all(
    ex: &mut Exec,
    exprs: &[Expr],
    slots: &[Slot],
    env: Option<&Env>,
) -> PgResult<Vec<Vec<Value>>> {
    let mut out = Vec::with_capacity(slots.len());
    for s in slots {
        let mut v = Vec::with_capacity(exprs.len());
        for e in exprs {
            v.push(eval_full(ex, e, &s.row, env)?);
        }
        out.push(v);
    }
    Ok(out)
}

/// Appends `call`'s value to every slot; returns the rows in its sort order.
fn compute(
    ex: &mut Exec,
    call: &WindowCall,
    slots: &mut [Slot],
    env: Option<&Env>,
) -> PgResult<Vec<usize>> {
    let parts = eval_all(ex, &call.partition, slots, env)?;
    let order_exprs: Vec<Expr> = call.order.iter().map(|k| k.expr.clone()).collect();
    let keys = eval_all(ex, &order_exprs, slots, env)?;
    let args = eval_all(ex, &call.args, slots, env)?;
    let keep: Vec<bool> = match &call.filter {
        Some(f) => {
            let mut v = Vec::with_capacity(slots.len());
            for s in slots.iter() {
                v.push(truthy(&eval_full(ex, f, &s.row, env)?));
            }
            v
        }
        None => vec![true; slots.len()],
    };
    let part_keys: Vec<SortKey> = call
        .partition
        .iter()
        .map(|e| SortKey {
            expr: e.clone(),
            desc: false,
            nulls_first: false,
        })
        .collect();
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by(|&a, &b| {
        compare_keys(&parts[a], &parts[b], &part_keys)
            .then_with(|| compare_keys(&keys[a], &keys[b], &call.order))
    });
    let mut values = vec![Value::Null; slots.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len()
            && compare_keys(&parts[order[start]], &parts[order[end]], &part_keys) == Ordering::Equal
        {
            end += 1;
        }
        let part = Partition {
            rows: &order[start..end],
            keys: &keys,
            order: &call.order,
            args: &args,
            keep: &keep,
        };
        let first = &slots[order[start]].row;
        let out = part.values(ex, call, first, env)?;
        for (i, v) in part.rows.iter().zip(out) {
            values[*i] = v;
        }
        start = end;
    }
    for (slot, v) in slots.iter_mut().zip(values) {
        slot.values.push(v);
    }
    Ok(order)
}

/// One partition: its rows (indexes into the slots) in ORDER BY order.
struct Partition<'a> {
    rows: &'a [usize],
    keys: &'a [Vec<Value>],
    order: &'a [SortKey],
    args: &'a [Vec<Value>],
    keep: &'a [bool],
}

impl Partition<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn peers(&self, a: usize, b: usize) -> bool {
        compare_keys(
            &self.keys[self.rows[a]],
            &self.keys[self.rows[b]],
            self.order,
        ) == Ordering::Equal
    }

    /// For each position, the first and last position of its peer group.
    fn peer_groups(&self) -> Vec<(usize, usize)> {
        let n = self.len();
        let mut out = vec![(0, 0); n];
        let mut g = 0;
        while g < n {
            let mut e = g + 1;
            while e < n && self.peers(g, e) {
                e += 1;
            }
            for slot in out.iter_mut().take(e).skip(g) {
                *slot = (g, e - 1);
            }
            g = e;
        }
        out
    }

    fn arg(&self, pos: usize, i: usize) -> Value {
        self.args[self.rows[pos]]
            .get(i)
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn values(
        &self,
        ex: &mut Exec,
        call: &WindowCall,
        first: &[Value],
        env: Option<&Env>,
    ) -> PgResult<Vec<Value>> {
        let n = self.len();
        let groups = self.peer_groups();
        Ok(match &call.func {
            WindowFunc::RowNumber => (1..=n as i64).map(Value::Int8).collect(),
            WindowFunc::Rank => groups.iter().map(|g| Value::Int8(g.0 as i64 + 1)).collect(),
            WindowFunc::DenseRank => {
                let mut out = Vec::with_capacity(n);
                let mut rank = 0;
                for (pos, g) in groups.iter().enumerate() {
                    if g.0 == pos {
                        rank += 1;
                    }
                    out.push(Value::Int8(rank));
                }
                out
            }
            WindowFunc::PercentRank => groups
                .iter()
                .map(|g| {
                    Value::Float8(if n > 1 {
                        g.0 as f64 / (n - 1) as f64
                    } else {
                        0.0
                    })
                })
                .collect(),
            WindowFunc::CumeDist => groups
                .iter()
                .map(|g| Value::Float8((g.1 + 1) as f64 / n as f64))
                .collect(),
            WindowFunc::Ntile => {
                let buckets = match self.arg(0, 0) {
                    Value::Null => return Ok(vec![Value::Null; n]),
                    v => int_arg(&v)?,
                };
                if buckets <= 0 {
                    return Err(PgError::new(
                        SqlState("22014"),
                        "argument of ntile must be greater than zero",
                    ));
                }
                let buckets = buckets as usize;
                let (per, extra) = (n / buckets, n % buckets);
                let mut out = Vec::with_capacity(n);
                let mut bucket = 1;
                let mut left = per + usize::from(extra > 0);
                for _ in 0..n {
                    if left == 0 {
                        bucket += 1;
                        left = per + usize::from(bucket <= extra);
                    }
                    out.push(Value::Int4(bucket as i32));
                    left -= 1;
                }
                out
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let sign: i64 = if call.func == WindowFunc::Lag { -1 } else { 1 };
                let mut out = Vec::with_capacity(n);
                for pos in 0..n {
                    let offset = match call.args.len() {
                        1 => 1,
                        _ => match self.arg(pos, 1) {
                            Value::Null => {
                                out.push(Value::Null);
                                continue;
                            }
                            v => int_arg(&v)?,
                        },
                    };
                    let target = pos as i64 + sign * offset;
                    out.push(if target >= 0 && (target as usize) < n {
                        self.arg(target as usize, 0)
                    } else {
                        self.arg(pos, 2)
                    });
                }
                out
            }
            _ => self.framed(ex, call, &groups, first, env)?,
        })
    }

    /// The functions that read the frame: first/last/nth value, aggregates.
    fn framed(
        &self,
        ex: &mut Exec,
        call: &WindowCall,
        groups: &[(usize, usize)],
        first: &[Value],
        env: Option<&Env>,
    ) -> PgResult<Vec<Value>> {
        let n = self.len();
        let offset = |ex: &mut Exec, e: &Expr, what: &str| -> PgResult<i64> {
            match eval_full(ex, e, first, env)? {
                Value::Null => Err(PgError::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    format!("frame {what} offset must not be null"),
                )),
                v => {
                    let k = int_arg(&v)?;
                    if k < 0 {
                        return Err(PgError::new(
                            SqlState("22013"),
                            format!("frame {what} offset must not be negative"),
                        ));
                    }
                    Ok(k)
                }
            }
        };
        let rows = call.frame.rows;
        // a bound as a position relative to `pos` (may fall outside 0..n)
        let bound = |ex: &mut Exec, b: &FrameBound, what: &str| -> PgResult<Bound> {
            Ok(match b {
                FrameBound::UnboundedPreceding => Bound::First,
                FrameBound::UnboundedFollowing => Bound::Last,
                FrameBound::CurrentRow if rows => Bound::Offset(0),
                FrameBound::CurrentRow => Bound::Peer,
                FrameBound::Preceding(e) => Bound::Offset(-offset(ex, e, what)?),
                FrameBound::Following(e) => Bound::Offset(offset(ex, e, what)?),
            })
        };
        let start = bound(ex, &call.frame.start, "starting")?;
        let end = bound(ex, &call.frame.end, "ending")?;
        let frame = |pos: usize| -> (i64, i64) {
            let at = |b: &Bound, first_peer: bool| match b {
                Bound::First => 0,
                Bound::Last => n as i64 - 1,
                Bound::Offset(k) => pos as i64 + k,
                Bound::Peer if first_peer => groups[pos].0 as i64,
                Bound::Peer => groups[pos].1 as i64,
            };
            (at(&start, true).max(0), at(&end, false).min(n as i64 - 1))
        };
        let mut out = Vec::with_capacity(n);
        match &call.func {
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                for pos in 0..n {
                    let (a, b) = frame(pos);
                    let at = match call.func {
                        WindowFunc::FirstValue => a,
                        WindowFunc::LastValue => b,
                        _ => match self.arg(pos, 1) {
                            Value::Null => {
                                out.push(Value::Null);
                                continue;
                            }
                            v => {
                                let k = int_arg(&v)?;
                                if k <= 0 {
                                    return Err(PgError::new(
                                        SqlState("22016"),
                                        "argument of nth_value must be greater than zero",
                                    ));
                                }
                                a + k - 1
                            }
                        },
                    };
                    out.push(if a <= b && (a..=b).contains(&at) {
                        self.arg(at as usize, 0)
                    } else {
                        Value::Null
                    });
                }
            }
            WindowFunc::Agg(kind, arg_type) => {
                let add = |acc: &mut Accumulator, p: usize| -> PgResult<()> {
                    if self.keep[self.rows[p]] {
                        acc.add(&self.args[self.rows[p]])?;
                    }
                    Ok(())
                };
                if matches!(start, Bound::First) {
                    // the frame only grows: one accumulator for the partition
                    let mut acc = Accumulator::new(*kind, arg_type);
                    let mut added: i64 = -1;
                    for pos in 0..n {
                        let (_, b) = frame(pos);
                        while added < b {
                            added += 1;
                            add(&mut acc, added as usize)?;
                        }
                        out.push(acc.clone().finish()?);
                    }
                } else {
                    for pos in 0..n {
                        ex.tick()?;
                        let (a, b) = frame(pos);
                        let mut acc = Accumulator::new(*kind, arg_type);
                        for p in a.max(0)..=b {
                            add(&mut acc, p as usize)?;
                        }
                        out.push(acc.finish()?);
                    }
                }
            }
            _ => return Err(PgError::internal("window function without a frame")),
        }
        Ok(out)
    }
}

/// A frame bound resolved for a partition.
enum Bound {
    First,
    Last,
    /// Rows after (positive) or before (negative) the current one.
    Offset(i64),
    /// The current row's first peer (start) or last peer (end).
    Peer,
}

fn int_arg(v: &Value) -> PgResult<i64> {
    match v {
        Value::Int2(i) => Ok(*i as i64),
        Value::Int4(i) => Ok(*i as i64),
        Value::Int8(i) => Ok(*i),
        other => Err(PgError::internal(format!(
            "window function argument is not an integer: {other:?}"
        ))),
    }
}
