//! Replication slot functions: `pg_create_physical_replication_slot(slot_name
//! name, immediately_reserve boolean DEFAULT false, temporary boolean DEFAULT
//! false)` returning `(slot_name name, lsn pg_lsn)`, and
//! `pg_drop_replication_slot(name)`, `pg_sync_replication_slots()`,
//! `pg_stat_reset_replication_slot(text)`. The slot registry is the server's; these
//! check permissions and reach it through `ServerHooks`.
//! Corresponds to PostgreSQL's `replication/slotfuncs.c`.

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{arg_bool, arg_text, r, t, Arg, Def, FunctionSig};
use crate::context::{ChangeStream, ChangesRequest, CopySlotRequest, LogicalSlotRequest};
use crate::ExecContext;

use DataType as T;

pub(super) fn defs() -> Vec<Def> {
    let mut defs = logical_defs();
    defs.extend(vec![
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
    ]);
    defs
}

/// Logical slot functions (`replication/logical/logicalfuncs.c`, `slotfuncs.c`).
fn logical_defs() -> Vec<Def> {
    let mut defs = Vec::new();
    for n in 2..=5 {
        let mut args = vec![t(T::Name), t(T::Name)];
        args.extend(std::iter::repeat_n(t(T::Bool), n - 2));
        defs.push(Def::ctx(
            "pg_create_logical_replication_slot",
            args,
            r(T::Record),
            create_logical,
        ));
    }
    for name in CHANGES_FUNCTIONS {
        defs.push(
            Def::ctx(
                name,
                vec![t(T::Name), t(T::PgLsn), t(T::Int4), Arg::VarAny],
                r(T::Record),
                changes,
            )
            .lax(),
        );
    }
    defs.push(Def::ctx(
        "pg_replication_slot_advance",
        vec![t(T::Name), t(T::PgLsn)],
        r(T::Record),
        advance,
    ));
    for n in 2..=4 {
        let mut args = vec![t(T::Name), t(T::Name)];
        if n >= 3 {
            args.push(t(T::Bool));
        }
        if n == 4 {
            args.push(t(T::Name));
        }
        defs.push(Def::ctx(
            "pg_copy_logical_replication_slot",
            args,
            r(T::Record),
            copy_logical,
        ));
    }
    for n in 2..=3 {
        let mut args = vec![t(T::Name), t(T::Name)];
        if n == 3 {
            args.push(t(T::Bool));
        }
        defs.push(Def::ctx(
            "pg_copy_physical_replication_slot",
            args,
            r(T::Record),
            copy_physical,
        ));
    }
    for content in [T::Text, T::Bytea] {
        defs.push(Def::ctx(
            "pg_logical_emit_message",
            vec![t(T::Bool), t(T::Text), t(content.clone())],
            r(T::PgLsn),
            emit_message,
        ));
        defs.push(Def::ctx(
            "pg_logical_emit_message",
            vec![t(T::Bool), t(T::Text), t(content), t(T::Bool)],
            r(T::PgLsn),
            emit_message,
        ));
    }
    defs.push(Def::ctx(
        "pg_sync_replication_slots",
        vec![],
        r(T::Void),
        |_, _, c| {
            check_slot_permissions(c)?;
            c.hooks.sync_replication_slots(c.session.pid)?;
            Ok(Value::Null)
        },
    ));
    // `pg_stat_reset_replication_slot(text)`: NULL resets every slot
    // (`pgstatfuncs.c`); EXECUTE is revoked from PUBLIC in PostgreSQL.
    defs.push(
        Def::ctx(
            "pg_stat_reset_replication_slot",
            vec![t(T::Text)],
            r(T::Void),
            |a, _, c| {
                super::system::require_superuser(c, "pg_stat_reset_replication_slot")?;
                let name = (!a[0].is_null()).then(|| arg_text(a, 0));
                c.hooks.reset_replication_slot_stats(name.as_deref())?;
                Ok(Value::Null)
            },
        )
        .lax(),
    );
    defs.push(Def::ctx(
        "pg_log_standby_snapshot",
        vec![],
        r(T::PgLsn),
        |_, _, c| {
            if c.hooks.in_recovery() {
                return Err(PgError::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "recovery is in progress",
                )
                .with_hint("pg_log_standby_snapshot() cannot be executed during recovery."));
            }
            // tandem's WAL needs no running-xacts record for decoding on a
            // standby to reach a consistent point; report where WAL stands.
            Ok(Value::PgLsn(c.db.wal().insert_lsn()))
        },
    ));
    defs
}

/// Columns of the composite-returning functions in this file.
pub(super) fn composite_columns(name: &str) -> Option<Vec<(&'static str, DataType)>> {
    match name {
        "pg_create_physical_replication_slot"
        | "pg_create_logical_replication_slot"
        | "pg_copy_logical_replication_slot"
        | "pg_copy_physical_replication_slot" => {
            Some(vec![("slot_name", T::Name), ("lsn", T::PgLsn)])
        }
        "pg_replication_slot_advance" => Some(vec![("slot_name", T::Name), ("end_lsn", T::PgLsn)]),
        "pg_logical_slot_get_changes" | "pg_logical_slot_peek_changes" => {
            Some(vec![("lsn", T::PgLsn), ("xid", T::Xid), ("data", T::Text)])
        }
        "pg_logical_slot_get_binary_changes" | "pg_logical_slot_peek_binary_changes" => {
            Some(vec![("lsn", T::PgLsn), ("xid", T::Xid), ("data", T::Bytea)])
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

/// Oid of the session's database (slots remember where they were created).
fn session_database(c: &ExecContext<'_>) -> u32 {
    c.txn
        .catalog()
        .database_by_name(&c.session.database)
        .map(|d| d.oid.0)
        .unwrap_or(5)
}

fn allowed_plugins(c: &ExecContext<'_>) -> String {
    c.config
        .show("output_plugin_libraries")
        .unwrap_or_else(|_| "pgoutput, test_decoding".into())
}

fn create_logical(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    check_slot_permissions(c)?;
    // The consistent point must not fall inside this session's own writes.
    if c.txn.has_writes() {
        return Err(PgError::new(
            SqlState::ACTIVE_SQL_TRANSACTION,
            "cannot create logical replication slot in transaction that has performed writes",
        ));
    }
    let req = LogicalSlotRequest {
        name: arg_text(a, 0),
        plugin: arg_text(a, 1),
        temporary: a.len() > 2 && arg_bool(a, 2),
        two_phase: a.len() > 3 && arg_bool(a, 3),
        failover: a.len() > 4 && arg_bool(a, 4),
        database: session_database(c),
        allowed_plugins: allowed_plugins(c),
    };
    let lsn = c.hooks.create_logical_slot(c.session.pid, &req)?;
    Ok(Value::Record(vec![
        Value::Text(req.name),
        Value::PgLsn(lsn),
    ]))
}

/// The logical decoding functions, whose rows can be taken one at a time
/// ([`open_changes`]).
const CHANGES_FUNCTIONS: [&str; 4] = [
    "pg_logical_slot_get_changes",
    "pg_logical_slot_peek_changes",
    "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_peek_binary_changes",
];

/// Whether `name` is one of [`CHANGES_FUNCTIONS`].
pub(super) fn is_changes_function(name: &str) -> bool {
    CHANGES_FUNCTIONS.contains(&name)
}

/// The rows of a logical decoding function, `(lsn, xid, data)`, as they are
/// decoded (a table function in FROM takes them one by one, so a large
/// transaction is never held whole).
pub struct ChangeRows {
    stream: Box<dyn ChangeStream>,
    binary: bool,
}

impl ChangeRows {
    /// The next row's values; `None` at the end (the slot is then confirmed,
    /// unless peeking).
    pub fn next_values(&mut self) -> PgResult<Option<Vec<Value>>> {
        let Some(row) = self.stream.next_row()? else {
            return Ok(None);
        };
        let data = if self.binary {
            Value::Bytea(row.data)
        } else {
            Value::Text(String::from_utf8(row.data).map_err(|_| {
                PgError::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?)
        };
        Ok(Some(vec![Value::PgLsn(row.lsn), Value::Xid(row.xid), data]))
    }
}

/// `pg_logical_slot_{get,peek}_[binary_]changes(slot_name, upto_lsn,
/// upto_nchanges, VARIADIC options)` as a set of `(lsn, xid, data)` records
/// collected into an array (a call in a target list or expression; table
/// functions take the rows one by one through [`open_changes`]).
fn changes(a: &[Value], sig: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let mut rows = open_changes(a, sig, c)?;
    let mut out = Vec::new();
    while let Some(values) = rows.next_values()? {
        out.push(Value::Record(values));
    }
    Ok(Value::Array(out))
}

/// Checks the arguments of a decoding function and starts decoding.
pub(super) fn open_changes(
    a: &[Value],
    sig: &FunctionSig,
    c: &mut ExecContext<'_>,
) -> PgResult<ChangeRows> {
    check_slot_permissions(c)?;
    if a[0].is_null() {
        return Err(PgError::new(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            "slot name must not be null",
        ));
    }
    let binary = sig.name.contains("binary");
    let peek = sig.name.contains("peek");
    let upto_lsn = match &a[1] {
        Value::PgLsn(l) => Some(*l),
        _ => None,
    };
    let upto_nchanges = match &a[2] {
        Value::Null => None,
        v => Some(super::arg_i64(std::slice::from_ref(v), 0)?),
    };
    let rest = &a[3..];
    if !rest.len().is_multiple_of(2) {
        return Err(PgError::new(
            SqlState::ARRAY_SUBSCRIPT_ERROR,
            "array must have even number of elements",
        ));
    }
    let mut options = Vec::new();
    for pair in rest.chunks(2) {
        if pair[0].is_null() {
            return Err(PgError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "parameter name must not be null",
            ));
        }
        if pair[1].is_null() {
            return Err(PgError::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "array must not contain nulls",
            ));
        }
        options.push((arg_text(pair, 0), Some(arg_text(pair, 1))));
    }
    let req = ChangesRequest {
        name: arg_text(a, 0),
        upto_lsn,
        upto_nchanges,
        options,
        peek,
        binary,
        database: session_database(c),
        allowed_plugins: allowed_plugins(c),
    };
    let stream = c.hooks.logical_slot_changes(c.session.pid, &req)?;
    Ok(ChangeRows { stream, binary })
}

fn advance(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    check_slot_permissions(c)?;
    let name = arg_text(a, 0);
    let Value::PgLsn(upto) = a[1] else {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "invalid target WAL LSN",
        ));
    };
    let end = c.hooks.advance_slot(c.session.pid, &name, upto)?;
    Ok(Value::Record(vec![Value::Text(name), Value::PgLsn(end)]))
}

fn copy_slot(a: &[Value], c: &mut ExecContext<'_>, logical: bool) -> PgResult<Value> {
    check_slot_permissions(c)?;
    let req = CopySlotRequest {
        src: arg_text(a, 0),
        dst: arg_text(a, 1),
        temporary: (a.len() > 2).then(|| arg_bool(a, 2)),
        plugin: (a.len() > 3).then(|| arg_text(a, 3)),
        logical,
    };
    let lsn = c.hooks.copy_slot(c.session.pid, &req)?;
    Ok(Value::Record(vec![
        Value::Text(req.dst),
        if lsn.is_valid() {
            Value::PgLsn(lsn)
        } else {
            Value::Null
        },
    ]))
}

fn copy_logical(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    copy_slot(a, c, true)
}

fn copy_physical(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    copy_slot(a, c, false)
}

/// `pg_logical_emit_message(transactional, prefix, content [, flush])`.
fn emit_message(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let transactional = arg_bool(a, 0);
    let prefix = arg_text(a, 1);
    let content = match &a[2] {
        Value::Bytea(b) => b.clone(),
        v => crate::io_text::to_text(v).into_bytes(),
    };
    if transactional {
        // PostgreSQL returns the record's end; tandem writes the record at
        // commit, so this is the WAL position when it was queued (a lower bound).
        let lsn = c.txn.emit_message(&prefix, &content)?;
        return Ok(Value::PgLsn(lsn));
    }
    let flush = a.len() > 3 && arg_bool(a, 3);
    let xid = c.txn.xid();
    let lsn =
        c.db.emit_message_nontransactional(&prefix, &content, xid, flush)?;
    Ok(Value::PgLsn(lsn))
}
