//! `pg_catalog.pg_replication_slots` (every PostgreSQL 17 column, in order) and
//! `pg_catalog.pg_stat_replication`. Rows come from the server
//! (`ServerHooks::replication_slots` / `stat_replication`), which owns the slot
//! registry and the walsenders; this file fixes the columns and fills
//! `usesysid` from the role name. PostgreSQL: `system_views.sql`,
//! `slotfuncs.c` (`pg_get_replication_slots`), `walsender.c` (`pg_stat_get_wal_senders`),
//! `walreceiver.c` (`pg_stat_get_wal_receiver`, for `pg_stat_wal_receiver`).

use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static SLOTS: View = View {
    schema: "pg_catalog",
    name: "pg_replication_slots",
    oid: 12_020,
    relkind: b'v',
    columns: slot_columns,
    rows: slot_rows,
};

pub static STAT_REPLICATION: View = View {
    schema: "pg_catalog",
    name: "pg_stat_replication",
    oid: 12_021,
    relkind: b'v',
    columns: stat_columns,
    rows: stat_rows,
};

pub static STAT_WAL_RECEIVER: View = View {
    schema: "pg_catalog",
    name: "pg_stat_wal_receiver",
    oid: 12_022,
    relkind: b'v',
    columns: wal_receiver_columns,
    rows: wal_receiver_rows,
};

/// PostgreSQL 17's `pg_stat_wal_receiver` columns.
pub fn wal_receiver_columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("pid", T::Int4),
        ("status", T::Text),
        ("receive_start_lsn", T::PgLsn),
        ("receive_start_tli", T::Int4),
        ("written_lsn", T::PgLsn),
        ("flushed_lsn", T::PgLsn),
        ("received_tli", T::Int4),
        ("last_msg_send_time", T::TimestampTz),
        ("last_msg_receipt_time", T::TimestampTz),
        ("latest_end_lsn", T::PgLsn),
        ("latest_end_time", T::TimestampTz),
        ("slot_name", T::Text),
        ("sender_host", T::Text),
        ("sender_port", T::Int4),
        ("conninfo", T::Text),
    ]
}

fn wal_receiver_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx.hooks.stat_wal_receiver())
}

pub fn slot_columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("slot_name", T::Name),
        ("plugin", T::Name),
        ("slot_type", T::Text),
        ("datoid", T::Oid),
        ("database", T::Name),
        ("temporary", T::Bool),
        ("active", T::Bool),
        ("active_pid", T::Int4),
        ("xmin", T::Xid),
        ("catalog_xmin", T::Xid),
        ("restart_lsn", T::PgLsn),
        ("confirmed_flush_lsn", T::PgLsn),
        ("wal_status", T::Text),
        ("safe_wal_size", T::Int8),
        ("two_phase", T::Bool),
        ("inactive_since", T::TimestampTz),
        ("conflicting", T::Bool),
        ("invalidation_reason", T::Text),
        ("failover", T::Bool),
        ("synced", T::Bool),
    ]
}

fn slot_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(ctx.hooks.replication_slots())
}

pub fn stat_columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("pid", T::Int4),
        ("usesysid", T::Oid),
        ("usename", T::Name),
        ("application_name", T::Text),
        ("client_addr", T::Text),
        ("client_hostname", T::Text),
        ("client_port", T::Int4),
        ("backend_start", T::TimestampTz),
        ("backend_xmin", T::Xid),
        ("state", T::Text),
        ("sent_lsn", T::PgLsn),
        ("write_lsn", T::PgLsn),
        ("flush_lsn", T::PgLsn),
        ("replay_lsn", T::PgLsn),
        ("write_lag", T::Interval),
        ("flush_lag", T::Interval),
        ("replay_lag", T::Interval),
        ("sync_priority", T::Int4),
        ("sync_state", T::Text),
        ("reply_time", T::TimestampTz),
    ]
}

fn stat_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    let cat = ctx.txn.catalog();
    let mut rows = ctx.hooks.stat_replication();
    for row in &mut rows {
        if row.len() > 2 && row[1].is_null() {
            if let Value::Text(user) = &row[2] {
                if let Some(r) = cat.role_by_name(user) {
                    row[1] = oid(r.oid.0);
                }
            }
        }
    }
    Ok(rows)
}
