//! Replication origin functions (PostgreSQL's `replication/logical/origin.c`,
//! SQL interface): `pg_replication_origin_create(text) -> oid`,
//! `pg_replication_origin_drop(text)`, `pg_replication_origin_oid(text) -> oid`,
//! `pg_replication_origin_advance(text, pg_lsn)` and
//! `pg_replication_origin_progress(text, boolean) -> pg_lsn`.
//!
//! Names are catalog rows: create and drop change the session's transaction
//! (committed or rolled back with it), as PostgreSQL's catalog inserts do.
//! Advance is not transactional: it commits its own WAL-logged empty
//! transaction carrying the origin (`Database::advance_origin`) and flushes it.
//! Progress is read from storage's in-memory map. All five are
//! superuser-only (PostgreSQL revokes them from PUBLIC): `42501 permission
//! denied for function <name>`, checked before NULL arguments give NULL.

use tandem_storage::origin::undefined_origin;
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, Value};

use super::{arg_bool, arg_text, r, t, Def, FunctionSig};
use crate::ExecContext;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    vec![
        Def::ctx(
            "pg_replication_origin_create",
            vec![t(T::Text)],
            r(T::Oid),
            create,
        )
        .lax(),
        Def::ctx(
            "pg_replication_origin_drop",
            vec![t(T::Text)],
            r(T::Void),
            drop_origin,
        )
        .lax(),
        Def::ctx(
            "pg_replication_origin_oid",
            vec![t(T::Text)],
            r(T::Oid),
            oid,
        )
        .lax()
        .stable(),
        Def::ctx(
            "pg_replication_origin_advance",
            vec![t(T::Text), t(T::PgLsn)],
            r(T::Void),
            advance,
        )
        .lax(),
        Def::ctx(
            "pg_replication_origin_progress",
            vec![t(T::Text), t(T::Bool)],
            r(T::PgLsn),
            progress,
        )
        .lax(),
    ]
}

/// Superuser check, then `None` (the call yields NULL) when an argument is
/// NULL: the functions are strict in PostgreSQL, but its permission check
/// comes first.
fn prologue(a: &[Value], sig: &FunctionSig, c: &ExecContext<'_>) -> PgResult<Option<()>> {
    if !c.session.superuser {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            format!("permission denied for function {}", sig.name),
        ));
    }
    Ok((!a.iter().any(|v| v.is_null())).then_some(()))
}

/// `replorigin_check_prerequisites(.., recoveryOK = false)`.
fn not_in_recovery(c: &ExecContext<'_>) -> PgResult<()> {
    if c.db.in_recovery() {
        return Err(PgError::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            "cannot manipulate replication origins during recovery",
        ));
    }
    Ok(())
}

/// The id of origin `name` as this transaction sees the catalog.
fn lookup(c: &ExecContext<'_>, name: &str) -> PgResult<u16> {
    c.txn
        .catalog()
        .origin_id(name)
        .ok_or_else(|| undefined_origin(name))
}

/// `pg_replication_origin_create`: "any", "none" (any case) and names
/// starting with `pg_` are reserved (`42939`).
fn create(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if prologue(a, sig, c)?.is_none() {
        return Ok(Value::Null);
    }
    not_in_recovery(c)?;
    let name = arg_text(a, 0);
    if name.starts_with("pg_")
        || name.eq_ignore_ascii_case("any")
        || name.eq_ignore_ascii_case("none")
    {
        return Err(PgError::new(
            SqlState("42939"),
            format!("replication origin name \"{name}\" is reserved"),
        )
        .with_detail(
            "Origin names \"any\", \"none\", and names starting with \"pg_\" are reserved.",
        ));
    }
    let id = c.txn.create_origin(&name)?;
    Ok(Value::Oid(u32::from(id)))
}

fn drop_origin(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if prologue(a, sig, c)?.is_none() {
        return Ok(Value::Null);
    }
    not_in_recovery(c)?;
    let id = lookup(c, &arg_text(a, 0))?;
    c.txn.drop_origin(id)?;
    Ok(Value::Null)
}

fn oid(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if prologue(a, sig, c)?.is_none() {
        return Ok(Value::Null);
    }
    Ok(c.txn
        .catalog()
        .origin_id(&arg_text(a, 0))
        .map_or(Value::Null, |id| Value::Oid(u32::from(id))))
}

/// Moves the origin to the given remote LSN (also backwards), durably.
fn advance(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if prologue(a, sig, c)?.is_none() {
        return Ok(Value::Null);
    }
    not_in_recovery(c)?;
    let id = lookup(c, &arg_text(a, 0))?;
    let Value::PgLsn(lsn) = a[1] else {
        return Err(PgError::internal("pg_lsn argument expected"));
    };
    let end = c.db.advance_origin(id, lsn)?;
    c.db.wal().flush(end)?;
    Ok(Value::Null)
}

/// The origin's remote LSN, NULL when it has none (or 0/0); with `flush`,
/// WAL is flushed up to the origin's local commit first.
fn progress(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if prologue(a, sig, c)?.is_none() {
        return Ok(Value::Null);
    }
    let id = lookup(c, &arg_text(a, 0))?;
    let progress = c.db.origin_progress(id);
    if let Some(p) = progress.filter(|_| arg_bool(a, 1) && !c.db.in_recovery()) {
        // PostgreSQL flushes WAL up to the local commit first.
        c.db.wal().flush(p.local_lsn)?;
    }
    let remote = progress.map(|p| p.remote_lsn);
    Ok(match remote {
        Some(l) if l != Lsn::INVALID => Value::PgLsn(l),
        _ => Value::Null,
    })
}
