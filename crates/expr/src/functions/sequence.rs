//! Sequence functions: `nextval`, `currval`, `setval`, `lastval`.
//!
//! Values come from the database (`Database::nextval`, non-transactional and
//! WAL-logged ahead by storage); what this session last saw is kept per backend
//! pid in [`SESSIONS`] for `currval`/`lastval`, as PostgreSQL keeps it per
//! backend; [`session_ended`] forgets a backend's state when it exits.
//! Corresponds to PostgreSQL's `commands/sequence.c` (SQL surface).

use tandem_storage::Catalog;
use tandem_types::{DataType, Oid, PgError, PgResult, SqlState, Value};

use std::collections::HashMap;
use std::sync::LazyLock;

use parking_lot::Mutex;

use super::{arg_bool, arg_i64, r, t, Def, FunctionSig};
use crate::context::SessionState;
use crate::reg::{lookup_relation, undefined_relation, RelKind};
use crate::ExecContext;

/// `currval`/`lastval` state of every live backend, by pid.
static SESSIONS: LazyLock<Mutex<HashMap<i32, SessionState>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Runs `f` on this backend's sequence state.
fn with_state<R>(pid: i32, f: impl FnOnce(&mut SessionState) -> R) -> R {
    let mut all = SESSIONS.lock();
    f(all.entry(pid).or_default())
}

/// Forgets a backend's `currval`/`lastval` state (call when the session ends).
pub fn session_ended(pid: i32) {
    SESSIONS.lock().remove(&pid);
}

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    vec![
        Def::ctx("nextval", vec![t(T::RegClass)], r(T::Int8), nextval),
        Def::ctx("currval", vec![t(T::RegClass)], r(T::Int8), currval),
        Def::ctx("lastval", vec![], r(T::Int8), |_, _, c| {
            with_state(c.session.pid, |s| s.lastval)
                .map(Value::Int8)
                .ok_or_else(|| {
                    PgError::new(
                        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "lastval is not yet defined in this session",
                    )
                })
        }),
        Def::ctx(
            "setval",
            vec![t(T::RegClass), t(T::Int8)],
            r(T::Int8),
            setval,
        ),
        Def::ctx(
            "setval",
            vec![t(T::RegClass), t(T::Int8), t(T::Bool)],
            r(T::Int8),
            setval,
        ),
        Def::ctx(
            "pg_get_serial_sequence",
            vec![t(T::Text), t(T::Text)],
            r(T::Text),
            |a, _, c| {
                let cat = c.txn.catalog();
                let table = super::arg_text(a, 0);
                let column = crate::reg::parse_qualified(&super::arg_text(a, 1)).1;
                let path = crate::reg::session_search_path(c);
                let (oid, _) = lookup_relation(&table, &cat, &path)
                    .ok_or_else(|| undefined_relation(&table))?;
                let Some(def) = cat.tables.get(&Oid(oid)) else {
                    return Ok(Value::Null);
                };
                let Some(pos) = def
                    .columns
                    .iter()
                    .position(|col| col.name == column && !col.dropped)
                else {
                    return Err(PgError::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{column}\" of relation \"{}\" does not exist",
                            def.name
                        ),
                    ));
                };
                Ok(cat
                    .sequences
                    .values()
                    .find(|s| s.owned_by == Some((Oid(oid), pos)))
                    .map(|s| Value::Text(format!("{}.{}", s.schema, s.name)))
                    .unwrap_or(Value::Null))
            },
        ),
    ]
}

/// The sequence an argument names (an OID or a not-yet-resolved name), failing
/// as PostgreSQL does for unknown relations and for relations that are not
/// sequences.
pub fn resolve_relation(arg: &Value, cat: &Catalog, path: &[String]) -> PgResult<u32> {
    let (oid, kind, label) = match arg {
        Value::Oid(o) => {
            let kind = if cat.sequences.contains_key(&Oid(*o)) {
                RelKind::Sequence
            } else {
                RelKind::Table
            };
            (
                *o,
                kind,
                crate::reg::regclass_name(*o, cat, Some(path)).unwrap_or_else(|| o.to_string()),
            )
        }
        v => {
            let name = crate::to_text(v);
            let (oid, kind) =
                lookup_relation(&name, cat, path).ok_or_else(|| undefined_relation(&name))?;
            (oid, kind, crate::reg::parse_qualified(&name).1)
        }
    };
    if kind != RelKind::Sequence {
        return Err(PgError::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("\"{label}\" is not a sequence"),
        ));
    }
    Ok(oid)
}

fn seq_name(oid: u32, cat: &Catalog) -> String {
    cat.sequences
        .get(&Oid(oid))
        .map(|s| s.name.clone())
        .unwrap_or_else(|| oid.to_string())
}

fn nextval(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let oid = resolve_relation(&a[0], &cat, &crate::reg::session_search_path(c))?;
    if c.txn.read_only() {
        return Err(PgError::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            "cannot execute nextval() in a read-only transaction",
        ));
    }
    let v = c.db.nextval(Oid(oid))?;
    with_state(c.session.pid, |s| {
        s.currval.insert(oid, v);
        s.lastval = Some(v);
    });
    Ok(Value::Int8(v))
}

fn currval(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let oid = resolve_relation(&a[0], &cat, &crate::reg::session_search_path(c))?;
    with_state(c.session.pid, |s| s.currval.get(&oid).copied())
        .map(Value::Int8)
        .ok_or_else(|| {
            PgError::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "currval of sequence \"{}\" is not yet defined in this session",
                    seq_name(oid, &cat)
                ),
            )
        })
}

fn setval(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let cat = c.txn.catalog();
    let oid = resolve_relation(&a[0], &cat, &crate::reg::session_search_path(c))?;
    let value = arg_i64(a, 1)?;
    let is_called = if a.len() > 2 { arg_bool(a, 2) } else { true };
    let v = c.db.setval(Oid(oid), value, is_called)?;
    if is_called {
        with_state(c.session.pid, |s| {
            s.currval.insert(oid, value);
            s.lastval = Some(value);
        });
    }
    Ok(Value::Int8(v))
}
