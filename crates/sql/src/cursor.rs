//! SQL cursors: DECLARE ... CURSOR FOR a query, FETCH and MOVE forward, CLOSE
//! (PostgreSQL's `commands/portalcmds.c`).
//!
//! A cursor runs its query at DECLARE, in the transaction's snapshot, and
//! keeps the rows; FETCH hands them on in order. That is what a cursor
//! returns in PostgreSQL too (the rows as of DECLARE), at the cost of
//! holding the whole result in memory. A cursor ends with its transaction
//! unless declared WITH HOLD (then with COMMIT it outlives it; an abort of
//! the declaring transaction still drops it). Only forward fetching is
//! there: NEXT, a count, FORWARD [n | ALL], ALL.

use std::collections::VecDeque;

use sqlparser::ast::{CloseCursor, Declare, FetchDirection, Ident, Value as AstValue};
use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use crate::dispatch::{plan_fields, Output};
use crate::session::Session;
use crate::types::ident;
use crate::FieldDescription;

/// One open cursor.
pub(crate) struct Cursor {
    fields: Vec<FieldDescription>,
    /// The rows not fetched yet.
    rows: VecDeque<Vec<Value>>,
    /// Declared WITH HOLD.
    hold: bool,
    /// Its declaring transaction committed (it survives later aborts).
    committed: bool,
}

fn missing(name: &str) -> PgError {
    PgError::new(
        SqlState::INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

/// `DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query`,
/// with the values of the query's `$n` when it came through Bind (typed as
/// Parse said: a `$n` of no type there takes the one the query gives it).
pub(crate) fn declare(
    s: &mut Session,
    d: &Declare,
    params: &[Value],
    param_types: &[DataType],
) -> PgResult<String> {
    let (Some(query), [name]) = (&d.for_query, d.names.as_slice()) else {
        return Err(PgError::unsupported("DECLARE of anything but a cursor"));
    };
    if d.binary == Some(true) {
        return Err(PgError::unsupported("DECLARE BINARY CURSOR"));
    }
    if d.scroll == Some(true) {
        return Err(PgError::unsupported("SCROLL cursors"));
    }
    let hold = d.hold == Some(true);
    if !hold && !s.in_block() {
        return Err(PgError::new(
            SqlState::NO_ACTIVE_SQL_TRANSACTION,
            "DECLARE CURSOR can only be used in transaction blocks",
        ));
    }
    let name = ident(name);
    if s.cursors.contains_key(&name) {
        return Err(PgError::new(
            SqlState::DUPLICATE_CURSOR,
            format!("cursor \"{name}\" already exists"),
        ));
    }
    let stmt = sqlparser::ast::Statement::Query(query.clone());
    let mut types = param_types.to_vec();
    let plan = s.with_ctx(&[], |ctx| tandem_query::plan(&stmt, &mut types, ctx))?;
    if plan.writes() {
        return Err(PgError::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "DECLARE CURSOR must not contain data-modifying statements in WITH",
        ));
    }
    let params = params
        .iter()
        .zip(&types)
        .map(|(v, ty)| tandem_expr::cast(v.clone(), ty))
        .collect::<PgResult<Vec<_>>>()?;
    let rows = s.with_ctx(&params, |ctx| {
        let mut rows = VecDeque::new();
        tandem_query::execute(&plan, ctx, &mut |row| {
            rows.push_back(row);
            Ok(())
        })?;
        Ok(rows)
    })?;
    let fields = plan_fields(&plan.columns, &[]);
    s.cursors.insert(
        name,
        Cursor {
            fields,
            rows,
            hold,
            committed: false,
        },
    );
    Ok("DECLARE CURSOR".into())
}

/// How many rows a FETCH direction asks for (`None`: all).
fn count(direction: &FetchDirection) -> PgResult<Option<u64>> {
    let number = |v: &sqlparser::ast::ValueWithSpan| match &v.value {
        AstValue::Number(n, _) => n.parse::<i64>().ok(),
        _ => None,
    };
    let n = match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Some(1),
        FetchDirection::All | FetchDirection::ForwardAll => return Ok(None),
        FetchDirection::Count { limit } | FetchDirection::Forward { limit: Some(limit) } => {
            number(limit)
        }
        _ => None,
    };
    match n {
        Some(n) if n >= 0 => Ok(Some(n as u64)),
        _ => Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "cursor can only scan forward",
        )
        .with_hint("Declare it with SCROLL option to enable backward scan.")),
    }
}

/// The columns FETCH from cursor `name` (as folded) returns
/// (extended-protocol Describe of the FETCH, or of the cursor as a portal).
pub(crate) fn fields(s: &Session, name: &str) -> PgResult<Vec<FieldDescription>> {
    s.cursors
        .get(name)
        .map(|c| c.fields.clone())
        .ok_or_else(|| missing(name))
}

/// `FETCH [direction] [FROM | IN] name`.
pub(crate) fn fetch(
    s: &mut Session,
    name: &Ident,
    direction: &FetchDirection,
    out: &mut Output<'_, '_>,
) -> PgResult<String> {
    let (fields, rows) = advance(s, name, direction)?;
    let n = rows.len();
    out.describe(&fields)?;
    for row in rows {
        out.row(row)?;
    }
    Ok(format!("FETCH {n}"))
}

/// `MOVE [direction] [FROM | IN] name`: skips the rows FETCH would return.
pub(crate) fn move_forward(
    s: &mut Session,
    name: &Ident,
    direction: &FetchDirection,
) -> PgResult<String> {
    let (_, rows) = advance(s, name, direction)?;
    Ok(format!("MOVE {}", rows.len()))
}

/// Takes the rows `direction` asks for off cursor `name`, with its columns.
fn advance(
    s: &mut Session,
    name: &Ident,
    direction: &FetchDirection,
) -> PgResult<(Vec<FieldDescription>, Vec<Vec<Value>>)> {
    let wanted = count(direction)?;
    let name = ident(name);
    let cursor = s.cursors.get_mut(&name).ok_or_else(|| missing(&name))?;
    let n = wanted.map_or(cursor.rows.len(), |w| {
        usize::try_from(w)
            .unwrap_or(usize::MAX)
            .min(cursor.rows.len())
    });
    Ok((cursor.fields.clone(), cursor.rows.drain(..n).collect()))
}

/// `CLOSE name | ALL`.
pub(crate) fn close(s: &mut Session, cursor: &CloseCursor) -> PgResult<String> {
    match cursor {
        CloseCursor::All => {
            s.cursors.clear();
            Ok("CLOSE CURSOR ALL".into())
        }
        CloseCursor::Specific { name } => {
            let name = ident(name);
            if s.cursors.remove(&name).is_none() {
                return Err(missing(&name));
            }
            Ok("CLOSE CURSOR".into())
        }
    }
}

/// At the end of a transaction: its cursors go, but for those WITH HOLD
/// when it committed.
pub(crate) fn end_transaction(s: &mut Session, committed: bool) {
    s.cursors.retain(|_, c| {
        if committed && c.hold {
            c.committed = true;
        }
        c.committed
    });
}
