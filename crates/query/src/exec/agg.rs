//! Grouping and aggregation (hash aggregate). Output rows are the group key values
//! followed by each aggregate's result, groups in first-seen order. Without GROUP
//! BY there is exactly one group, also over empty input (`count(*)` = 0).
//! `DISTINCT` inside an aggregate dedupes its inputs; `ORDER BY` inside it buffers
//! and sorts them.
//!
//! Corresponds to PostgreSQL's `executor/nodeAgg.c`.

use std::collections::{HashMap, HashSet};

use tandem_types::{PgResult, Value};

use super::eval::{eval_full, truthy};
use super::hashkey::HashKey;
use super::sort::compare_keys;
use super::{run, Env, Exec, Sink};
use crate::aggregates::Accumulator;
use crate::plan::{AggCall, Expr, Node};

struct AggState {
    acc: Accumulator,
    seen: Option<HashSet<HashKey>>,
    /// (sort key values, argument values) when the call has ORDER BY.
    buffered: Option<Vec<(Vec<Value>, Vec<Value>)>>,
}

fn new_states(aggs: &[AggCall]) -> Vec<AggState> {
    aggs.iter()
        .map(|a| AggState {
            acc: Accumulator::new(a.kind, &a.arg_type),
            seen: if a.distinct {
                Some(HashSet::new())
            } else {
                None
            },
            buffered: if a.order.is_empty() {
                None
            } else {
                Some(Vec::new())
            },
        })
        .collect()
}

fn advance(
    ex: &mut Exec,
    aggs: &[AggCall],
    states: &mut [AggState],
    row: &[Value],
    env: Option<&Env>,
) -> PgResult<()> {
    for (a, st) in aggs.iter().zip(states.iter_mut()) {
        if let Some(f) = &a.filter {
            if !truthy(&eval_full(ex, f, row, env)?) {
                continue;
            }
        }
        let mut args = Vec::with_capacity(a.args.len());
        for e in &a.args {
            args.push(eval_full(ex, e, row, env)?);
        }
        if let Some(seen) = &mut st.seen {
            if args.first().map(Value::is_null).unwrap_or(false)
                || !seen.insert(HashKey(args.clone()))
            {
                continue;
            }
        }
        if let Some(buf) = &mut st.buffered {
            let mut keys = Vec::with_capacity(a.order.len());
            for k in &a.order {
                keys.push(eval_full(ex, &k.expr, row, env)?);
            }
            buf.push((keys, args));
            continue;
        }
        st.acc.add(&args)?;
    }
    Ok(())
}

fn finish(aggs: &[AggCall], states: Vec<AggState>, out: &mut Vec<Value>) -> PgResult<()> {
    for (a, mut st) in aggs.iter().zip(states) {
        if let Some(mut buf) = st.buffered.take() {
            buf.sort_by(|x, y| compare_keys(&x.0, &y.0, &a.order));
            for (_, args) in buf {
                st.acc.add(&args)?;
            }
        }
        out.push(st.acc.finish()?);
    }
    Ok(())
}

pub fn aggregate(
    ex: &mut Exec,
    input: &Node,
    groups: &[Expr],
    aggs: &[AggCall],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    if groups.is_empty() {
        let mut states = new_states(aggs);
        run(ex, input, env, &mut |ex, row| {
            ex.tick()?;
            advance(ex, aggs, &mut states, row, env)?;
            Ok(true)
        })?;
        let mut out = Vec::with_capacity(aggs.len());
        finish(aggs, states, &mut out)?;
        return sink(ex, &out);
    }
    let mut index: HashMap<HashKey, usize> = HashMap::new();
    let mut table: Vec<(Vec<Value>, Vec<AggState>)> = Vec::new();
    run(ex, input, env, &mut |ex, row| {
        ex.tick()?;
        let mut key = Vec::with_capacity(groups.len());
        for g in groups {
            key.push(eval_full(ex, g, row, env)?);
        }
        let hk = HashKey(key);
        let slot = match index.get(&hk) {
            Some(i) => *i,
            None => {
                table.push((hk.0.clone(), new_states(aggs)));
                index.insert(hk, table.len() - 1);
                table.len() - 1
            }
        };
        advance(ex, aggs, &mut table[slot].1, row, env)?;
        Ok(true)
    })?;
    for (key, states) in table {
        let mut out = key;
        finish(aggs, states, &mut out)?;
        if !sink(ex, &out)? {
            return Ok(false);
        }
    }
    Ok(true)
}
