//! Replication slot functions: `pg_create_physical_replication_slot(slot_name
//! name, immediately_reserve boolean DEFAULT false, temporary boolean DEFAULT
//! false)` returning `(slot_name name, lsn pg_lsn)`, and
//! `pg_drop_replication_slot(name)`. The slot registry is the server's; these
//! check permissions and reach it through `ServerHooks`.
//! Corresponds to PostgreSQL's `replication/slotfuncs.c`.

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{arg_bool, arg_text, r, t, Def, FunctionSig};
use crate::ExecContext;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    vec![
        Def::ctx(
            "pg_create_physical_replication_slot",
            vec![t(T::Name)],
            r(T::Record),
            create_physical,
        ),
        Def::ctx(
            "pg_create_physical_replication_slot",
            vec![t(T::Name), t(T::Bool)],
            r(T::Record),
            create_physical,
        ),
        Def::ctx(
            "pg_create_physical_replication_slot",
            vec![t(T::Name), t(T::Bool), t(T::Bool)],
            r(T::Record),
            create_physical,
        ),
        Def::ctx(
            "pg_drop_replication_slot",
            vec![t(T::Name)],
            r(T::Void),
            |a, _, c| {
                check_slot_permissions(c)?;
                c.hooks
                    .drop_replication_slot(c.session.pid, &arg_text(a, 0))?;
                Ok(Value::Null)
            },
        ),
    ]
}

/// Columns of the composite-returning functions in this file.
pub(super) fn composite_columns(name: &str) -> Option<Vec<(&'static str, DataType)>> {
    match name {
        "pg_create_physical_replication_slot" => {
            Some(vec![("slot_name", T::Name), ("lsn", T::PgLsn)])
        }
        _ => None,
    }
}

/// `CheckSlotPermissions`: superuser or a role with REPLICATION.
fn check_slot_permissions(c: &ExecContext<'_>) -> PgResult<()> {
    if c.session.superuser {
        return Ok(());
    }
    let cat = c.txn.catalog();
    if cat
        .role_by_name(&c.session.user)
        .is_some_and(|r| r.replication)
    {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        "permission denied to use replication slots",
    )
    .with_detail("Only roles with the REPLICATION attribute may use replication slots."))
}

fn create_physical(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    check_slot_permissions(c)?;
    let name = arg_text(a, 0);
    let reserve = a.len() > 1 && arg_bool(a, 1);
    let temporary = a.len() > 2 && arg_bool(a, 2);
    let (slot, lsn) = c
        .hooks
        .create_physical_slot(c.session.pid, &name, reserve, temporary)?;
    Ok(Value::Record(vec![
        Value::Text(slot),
        lsn.map(Value::PgLsn).unwrap_or(Value::Null),
    ]))
}
