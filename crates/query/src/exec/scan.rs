//! Leaf nodes: sequential scans and primary-key lookups of stored tables (with
//! the row keys UPDATE/DELETE need), virtual catalog tables, table functions (in
//! FROM, and in target lists: `ProjectSet`), and `FOR UPDATE` row locking.
//!
//! A scan's filter runs inside the storage callback when it is pure (no function
//! calls or subqueries), so only matching rows are copied out; otherwise every
//! row is copied and filtered afterwards with the full context.
//!
//! Corresponds to PostgreSQL's `nodeSeqscan.c`, `nodeIndexscan.c`,
//! `nodeFunctionscan.c`, `nodeProjectSet.c`, `nodeLockRows.c`.

use std::ops::Bound;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tandem_storage::{LockResult, RowKey};
use tandem_types::{DataType, Oid, PgError, PgResult, Value};

use super::eval::{eval, eval_full, truthy, Cx, PureCx};
use super::{check_cancel, Env, Exec, Sink};
use crate::plan::{Expr, Node, SrfCall};
use crate::table_functions::{self, TableFunc};

/// What a pure filter evaluated inside a storage callback may read.
fn pure_cx<'a>(ctx: &'a tandem_expr::ExecContext<'_>) -> PureCx<'a> {
    PureCx {
        params: ctx.params,
        txn_start: ctx.txn_start,
        stmt_start: ctx.stmt_start,
        user: &ctx.session.user,
    }
}

/// Rows of a stored table matching `filter`, with their keys.
pub fn scan_rows(
    ex: &mut Exec,
    table: Oid,
    filter: Option<&Expr>,
    pure: bool,
    env: Option<&Env>,
) -> PgResult<Targets> {
    Ok(scan_rows_after(ex, table, filter, pure, env, None, usize::MAX)?.0)
}

/// Rows a DML statement targets: each row's key and values.
pub type Targets = Vec<(RowKey, Vec<Value>)>;

/// What [`for_each_target`] calls with each target: returns the key written.
pub type TargetFn<'a> = dyn FnMut(&mut Exec, RowKey, Vec<Value>) -> PgResult<Option<RowKey>> + 'a;

/// [`scan_rows`] of the rows after key `after`, stopping once `limit` rows
/// were looked at; with the key to go on after when it stopped early.
pub fn scan_rows_after(
    ex: &mut Exec,
    table: Oid,
    filter: Option<&Expr>,
    pure: bool,
    env: Option<&Env>,
    after: Option<&RowKey>,
    limit: usize,
) -> PgResult<(Targets, Option<RowKey>)> {
    let mut out = Vec::new();
    // the `limit`-th key looked at, and whether a row came after it
    let mut last = None;
    let mut stopped = false;
    {
        let ctx = &*ex.ctx;
        let pcx = pure_cx(ctx);
        let mut n: usize = 0;
        ctx.txn.scan_after(table, after, &mut |key, row| {
            n += 1;
            if n.is_multiple_of(4096) {
                check_cancel(ctx)?;
            }
            if n > limit {
                stopped = true;
                return Ok(false);
            }
            if n == limit {
                last = Some(key.clone());
            }
            if let (Some(f), true) = (filter, pure) {
                if !truthy(&eval(&mut Cx::Pure(&pcx), f, row, env)?) {
                    return Ok(true);
                }
            }
            out.push((key.clone(), row.to_vec()));
            Ok(true)
        })?;
    }
    let resume = if stopped { last } else { None };
    if let (Some(f), false) = (filter, pure) {
        let mut kept = Vec::with_capacity(out.len());
        for (k, r) in out {
            ex.tick()?;
            if truthy(&eval_full(ex, f, &r, env)?) {
                kept.push((k, r));
            }
        }
        return Ok((kept, resume));
    }
    Ok((out, resume))
}

/// Converts a key value to the key column's type, or None when no row can
/// match (NULL, a fraction for an integer column, out of range).
pub fn key_value(v: Value, ty: &DataType) -> PgResult<Option<Value>> {
    let as_i64 = |v: &Value| -> Option<i64> {
        match v {
            Value::Int2(i) => Some(*i as i64),
            Value::Int4(i) => Some(*i as i64),
            Value::Int8(i) => Some(*i),
            Value::Numeric(d) if d.fract().is_zero() => d.to_i64(),
            Value::Float4(f) if f.fract() == 0.0 => Some(*f as i64),
            Value::Float8(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    };
    Ok(match (ty, v) {
        (_, Value::Null) => None,
        (DataType::Int2, v) => as_i64(&v)
            .and_then(|i| i16::try_from(i).ok())
            .map(Value::Int2),
        (DataType::Int4, v) => as_i64(&v)
            .and_then(|i| i32::try_from(i).ok())
            .map(Value::Int4),
        (DataType::Int8, v) => as_i64(&v).map(Value::Int8),
        (DataType::Numeric(None), v @ (Value::Numeric(_) | Value::NumericSpecial(_))) => Some(v),
        (DataType::Numeric(None), v) => as_i64(&v).map(|i| Value::Numeric(Decimal::from(i))),
        (DataType::Text | DataType::Varchar(_) | DataType::Name, Value::Text(s)) => {
            Some(Value::Text(s))
        }
        (ty, v) => Some(tandem_expr::cast(v, ty)?),
    })
}

/// Evaluates a point lookup's key; None when no row can match.
pub fn lookup_key(
    ex: &mut Exec,
    key: &[(Expr, DataType)],
    env: Option<&Env>,
) -> PgResult<Option<Vec<Value>>> {
    let mut vals = Vec::with_capacity(key.len());
    for (e, ty) in key {
        let v = eval_full(ex, e, &[], env)?;
        match key_value(v, ty)? {
            Some(v) => vals.push(v),
            None => return Ok(None),
        }
    }
    Ok(Some(vals))
}

/// Rows a streaming sequential scan reads per pass over the table.
const SCAN_PASS: usize = 1024;

pub fn seq_scan(
    ex: &mut Exec,
    table: Oid,
    filter: Option<&Expr>,
    pure: bool,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    if !ex.stream_scans {
        let rows = scan_rows(ex, table, filter, pure, env)?;
        for (_, r) in rows {
            if !sink(ex, &r)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    // A pass reads up to SCAN_PASS rows while the transaction is borrowed,
    // then hands them on; the next pass starts after the last key read.
    let mut after: Option<RowKey> = None;
    let mut rows: Vec<tandem_storage::heap::Row> = Vec::with_capacity(SCAN_PASS);
    loop {
        rows.clear();
        let mut resume = None;
        {
            let ctx = &*ex.ctx;
            let pcx = pure_cx(ctx);
            let mut read = 0usize;
            ctx.txn.scan_after(table, after.as_ref(), &mut |key, row| {
                read += 1;
                let keep = match (filter, pure) {
                    (Some(f), true) => truthy(&eval(&mut Cx::Pure(&pcx), f, row, env)?),
                    _ => true,
                };
                if keep {
                    rows.push(row.clone());
                }
                if read == SCAN_PASS {
                    resume = Some(key.clone());
                    return Ok(false);
                }
                Ok(true)
            })?;
        }
        check_cancel(ex.ctx)?;
        for r in &rows {
            if let (Some(f), false) = (filter, pure) {
                ex.tick()?;
                if !truthy(&eval_full(ex, f, r, env)?) {
                    continue;
                }
            }
            if !sink(ex, r)? {
                return Ok(false);
            }
        }
        match resume {
            Some(k) => after = Some(k),
            None => return Ok(true),
        }
    }
}

/// The row (with key) a primary-key lookup finds, if it passes `filter`.
pub fn pk_row(
    ex: &mut Exec,
    table: Oid,
    key: &[(Expr, DataType)],
    filter: Option<&Expr>,
    env: Option<&Env>,
) -> PgResult<Option<(RowKey, Vec<Value>)>> {
    let Some(vals) = lookup_key(ex, key, env)? else {
        return Ok(None);
    };
    let Some((k, row)) = ex.ctx.txn.get_by_pk(table, &vals)? else {
        return Ok(None);
    };
    if let Some(f) = filter {
        if !truthy(&eval_full(ex, f, &row, env)?) {
            return Ok(None);
        }
    }
    Ok(Some((k, row)))
}

pub fn pk_lookup(
    ex: &mut Exec,
    table: Oid,
    key: &[(Expr, DataType)],
    filter: Option<&Expr>,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    match pk_row(ex, table, key, filter, env)? {
        Some((_, row)) => sink(ex, &row),
        None => Ok(true),
    }
}

/// Rows looked at per batch of a DML statement's sequential scan
/// ([`for_each_target`]).
const TARGET_BATCH: usize = 4096;

/// Hands each target row of an UPDATE or DELETE to `f`, which returns the
/// key it wrote. With `stream` (the statement writes only the keys it
/// scanned, and nothing it evaluates reads tables), a sequential scan goes
/// a batch at a time: what the statement wrote lies behind the scan, which
/// merges the transaction's writes, so the rows after it are as the
/// statement's snapshot has them. A key written ahead of the scan (a
/// concurrent update moved the row there) is skipped when the scan reaches
/// it. Otherwise every target is collected first, so that the statement
/// never sees its own writes.
pub fn for_each_target(
    ex: &mut Exec,
    node: &Node,
    stream: bool,
    f: &mut TargetFn<'_>,
) -> PgResult<()> {
    let (
        Node::SeqScan {
            table,
            filter,
            pure_filter: true,
        },
        true,
    ) = (node, stream)
    else {
        for (key, row) in target_rows(ex, node)? {
            f(ex, key, row)?;
        }
        return Ok(());
    };
    let mut after: Option<RowKey> = None;
    let mut ahead: std::collections::HashSet<RowKey> = std::collections::HashSet::new();
    loop {
        let (rows, resume) = scan_rows_after(
            ex,
            *table,
            filter.as_ref(),
            true,
            None,
            after.as_ref(),
            TARGET_BATCH,
        )?;
        for (key, row) in rows {
            if ahead.remove(&key) {
                continue;
            }
            if let Some(written) = f(ex, key.clone(), row)? {
                if written > key {
                    ahead.insert(written);
                }
            }
        }
        match resume {
            Some(k) => after = Some(k),
            None => return Ok(()),
        }
    }
}

/// The rows (with their keys) an [`Node::IndexScan`] finds that pass its
/// filter. None when a bound can match no row (NULL, or an equality value
/// the column cannot hold).
pub fn index_rows(ex: &mut Exec, node: &Node, env: Option<&Env>) -> PgResult<Targets> {
    index_rows_window(ex, node, env, 0, usize::MAX).map(|(rows, _)| rows)
}

/// An [`Node::IndexScan`] into `sink`, in index order, read in windows that
/// grow fourfold (16 rows, then 64, ...), so that a LIMIT that stops the
/// sink early reads little of a large index. Each window reads the index
/// again from its start and skips what earlier windows gave (the
/// statement's snapshot keeps the order fixed); the growth keeps that
/// re-reading below a third of the rows a whole read would visit.
pub fn index_scan(
    ex: &mut Exec,
    node: &Node,
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let for_order = matches!(
        node,
        Node::IndexScan {
            for_order: true,
            ..
        }
    );
    // a scan for its rows, not their order, reads once
    let (mut skip, mut window) = (0usize, if for_order { 16 } else { usize::MAX });
    loop {
        let (rows, visited) = index_rows_window(ex, node, env, skip, window)?;
        for (_, row) in rows {
            if !sink(ex, &row)? {
                return Ok(false);
            }
        }
        if visited < skip.saturating_add(window) {
            return Ok(true);
        }
        skip += window;
        window = window.saturating_mul(4);
    }
}

/// [`index_rows`] of the index entries after the first `skip` (counted
/// before the filter), at most `window` of them; also how many entries
/// the scan visited (fewer than `skip + window`: the index has no more).
fn index_rows_window(
    ex: &mut Exec,
    node: &Node,
    env: Option<&Env>,
    skip: usize,
    window: usize,
) -> PgResult<(Targets, usize)> {
    let Node::IndexScan {
        index,
        prefix,
        range,
        filter,
        ..
    } = node
    else {
        return Err(PgError::internal("not an index scan"));
    };
    let Some(prefix) = lookup_key(ex, prefix, env)? else {
        return Ok((Vec::new(), 0));
    };
    let range = match range {
        None => None,
        Some(r) => {
            let mut bound = |b: &Option<(Expr, bool)>| -> PgResult<Option<Bound<Value>>> {
                let Some((e, inclusive)) = b else {
                    return Ok(Some(Bound::Unbounded));
                };
                let v = eval_full(ex, e, &[], env)?;
                if v.is_null() {
                    return Ok(None);
                }
                // a value the column cannot hold exactly (1.5 for an
                // integer) bounds nothing: the filter decides
                Ok(Some(match key_value(v, &r.ty).ok().flatten() {
                    Some(v) if *inclusive => Bound::Included(v),
                    Some(v) => Bound::Excluded(v),
                    None => Bound::Unbounded,
                }))
            };
            let (Some(lower), Some(upper)) = (bound(&r.lower)?, bound(&r.upper)?) else {
                return Ok((Vec::new(), 0));
            };
            Some((lower, upper))
        }
    };
    let scan = tandem_storage::IndexScan { prefix, range };
    let mut found = Vec::new();
    let end = skip.saturating_add(window);
    let mut visited = 0usize;
    ex.ctx.txn.index_scan(*index, &scan, &mut |key, row| {
        visited += 1;
        if visited > skip {
            found.push((key.clone(), row.to_vec()));
        }
        Ok(visited < end)
    })?;
    let mut out = Vec::with_capacity(found.len());
    for (key, row) in found {
        check_cancel(ex.ctx)?;
        if let Some(f) = filter {
            if !truthy(&eval_full(ex, f, &row, env)?) {
                continue;
            }
        }
        out.push((key, row));
    }
    Ok((out, visited))
}

/// Rows and keys of a DML target node (a `SeqScan`, `PkLookup` or
/// `IndexScan`).
pub fn target_rows(ex: &mut Exec, node: &Node) -> PgResult<Targets> {
    match node {
        Node::SeqScan {
            table,
            filter,
            pure_filter,
        } => scan_rows(ex, *table, filter.as_ref(), *pure_filter, None),
        Node::PkLookup { table, key, filter } => {
            Ok(pk_row(ex, *table, key, filter.as_ref(), None)?
                .into_iter()
                .collect())
        }
        Node::IndexScan { .. } => index_rows(ex, node, None),
        _ => Err(PgError::internal("DML target must be a table scan")),
    }
}

pub fn virtual_scan(ex: &mut Exec, schema: &str, name: &str, sink: &mut Sink) -> PgResult<bool> {
    let vt = tandem_expr::virtual_table(Some(schema), name)
        .ok_or_else(|| PgError::internal(format!("virtual table {schema}.{name} vanished")))?;
    let rows = tandem_expr::virtual_rows(&vt, ex.ctx)?;
    for r in rows {
        if !sink(ex, &r)? {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn table_function(
    ex: &mut Exec,
    func: &TableFunc,
    args: &[Expr],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(eval_full(ex, a, &[], env)?);
    }
    if let TableFunc::Composite(sig, _) = func {
        if tandem_expr::functions::streams_rows(sig) {
            let rows = tandem_expr::functions::call_rows(sig, vals, ex.ctx)?;
            return stream_rows(ex, rows, sink);
        }
    }
    let out = function_values(ex, func, vals)?;
    for v in out {
        let cont = match (func, v) {
            (TableFunc::Composite(..), Value::Record(fields)) => sink(ex, &fields)?,
            // A set-returning composite function (pg_logical_slot_get_changes)
            // yields its rows as an array of records.
            (TableFunc::Composite(_, width), Value::Array(rows)) => {
                let mut cont = true;
                for row in rows {
                    cont = match row {
                        Value::Record(fields) => sink(ex, &fields)?,
                        _ => sink(ex, &vec![Value::Null; *width])?,
                    };
                    if !cont {
                        break;
                    }
                }
                cont
            }
            (TableFunc::Composite(_, width), _) => sink(ex, &vec![Value::Null; *width])?,
            (_, v) => sink(ex, std::slice::from_ref(&v))?,
        };
        if !cont {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Hands the rows of a function that produces them one at a time (logical
/// decoding) to `sink` as they come. A sink that stops early (LIMIT) does not
/// stop the function: as PostgreSQL, which fills the whole result before the
/// first row is read, decoding runs to its end, so the slot is confirmed up
/// to the same point; the rest is dropped as it comes.
fn stream_rows(
    ex: &mut Exec,
    mut rows: tandem_expr::functions::ChangeRows,
    sink: &mut Sink,
) -> PgResult<bool> {
    let mut wanted = true;
    while let Some(values) = rows.next_values()? {
        check_cancel(ex.ctx)?;
        if wanted {
            wanted = sink(ex, &values)?;
        }
    }
    Ok(wanted)
}

/// Runs a table function to completion and collects its values (checking for
/// cancellation every few thousand values).
pub fn function_values(ex: &mut Exec, func: &TableFunc, args: Vec<Value>) -> PgResult<Vec<Value>> {
    let mut out = Vec::new();
    let cancel = ex.ctx.cancel.clone();
    let mut n: u32 = 0;
    table_functions::run(func, args, ex.ctx, &mut |v| {
        n = n.wrapping_add(1);
        if n.is_multiple_of(4096) && cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PgError::new(
                tandem_types::SqlState::QUERY_CANCELED,
                "canceling statement due to user request",
            ));
        }
        out.push(v);
        Ok(true)
    })?;
    Ok(out)
}

/// `ProjectSet`: per input row, every set-returning call in lockstep; output
/// rows are the input row followed by one value per call, NULL once a call is
/// exhausted, as many as the longest call yields.
pub fn project_set(
    ex: &mut Exec,
    input: &Node,
    srfs: &[SrfCall],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    super::run(ex, input, env, &mut |ex, row| {
        let mut results = Vec::with_capacity(srfs.len());
        for call in srfs {
            let mut vals = Vec::with_capacity(call.args.len());
            for a in &call.args {
                vals.push(eval_full(ex, a, row, env)?);
            }
            results.push(function_values(ex, &call.func, vals)?.into_iter());
        }
        loop {
            ex.tick()?;
            let mut out = Vec::with_capacity(row.len() + results.len());
            out.extend_from_slice(row);
            let mut any = false;
            for r in results.iter_mut() {
                match r.next() {
                    Some(v) => {
                        any = true;
                        out.push(v);
                    }
                    None => out.push(Value::Null),
                }
            }
            if !any {
                return Ok(true);
            }
            if !sink(ex, &out)? {
                return Ok(false);
            }
        }
    })
}

/// `FOR UPDATE`: locks each row of the (single-table) input before passing it on;
/// a row changed meanwhile is passed on in its latest version, a deleted one is
/// skipped.
pub fn lock_rows(
    ex: &mut Exec,
    input: &Node,
    table: Oid,
    key_cols: &[usize],
    env: Option<&Env>,
    sink: &mut Sink,
) -> PgResult<bool> {
    let rows = super::collect(ex, input, env)?;
    for row in rows {
        let pk: Vec<Value> = key_cols
            .iter()
            .map(|c| row.get(*c).cloned().unwrap_or(Value::Null))
            .collect();
        let key = ex.ctx.txn.encode_key(table, &pk)?;
        let latest = match ex.ctx.txn.lock_row(table, &key, None)? {
            LockResult::Unchanged => row,
            LockResult::Updated(_, newer) => newer,
            LockResult::Deleted => continue,
        };
        if !sink(ex, &latest)? {
            return Ok(false);
        }
    }
    Ok(true)
}
