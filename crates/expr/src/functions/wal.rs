//! WAL position and control-data functions: `pg_current_wal_lsn()` and its
//! insert/flush variants, `pg_switch_wal()`, `pg_wal_lsn_diff()`,
//! `pg_walfile_name()`, `pg_last_wal_receive_lsn()`/`pg_last_wal_replay_lsn()`,
//! and the composites `pg_control_system()` / `pg_control_checkpoint()`.
//!
//! On a standby (`ServerHooks::in_recovery`) the WAL control functions fail as in
//! PostgreSQL: `55000 recovery is in progress` with the hint
//! `WAL control functions cannot be executed during recovery.`
//! Corresponds to PostgreSQL's `access/transam/xlogfuncs.c` and
//! `utils/misc/pg_controldata.c`.

use rust_decimal::Decimal;
use tandem_types::{DataType, Lsn, PgError, PgResult, SqlState, Value};

use super::{r, t, Def, FunctionSig};
use crate::ExecContext;

use DataType as T;

/// `PG_CONTROL_VERSION` of PostgreSQL 17.
pub const PG_CONTROL_VERSION: i32 = 1300;
/// `CATALOG_VERSION_NO` of PostgreSQL 17.0.
pub const CATALOG_VERSION_NO: i32 = 202_406_281;

pub(super) fn defs() -> Vec<Def> {
    vec![
        Def::ctx("pg_current_wal_lsn", vec![], r(T::PgLsn), |_, _, c| {
            not_in_recovery(c)?;
            Ok(Value::PgLsn(c.db.wal().write_lsn()))
        }),
        Def::ctx(
            "pg_current_wal_insert_lsn",
            vec![],
            r(T::PgLsn),
            |_, _, c| {
                not_in_recovery(c)?;
                Ok(Value::PgLsn(c.db.wal().insert_lsn()))
            },
        ),
        Def::ctx(
            "pg_current_wal_flush_lsn",
            vec![],
            r(T::PgLsn),
            |_, _, c| {
                not_in_recovery(c)?;
                Ok(Value::PgLsn(c.db.wal().flush_lsn()))
            },
        ),
        Def::ctx("pg_switch_wal", vec![], r(T::PgLsn), |_, _, c| {
            if !c.session.superuser {
                return Err(PgError::new(
                    SqlState::INSUFFICIENT_PRIVILEGE,
                    "permission denied for function pg_switch_wal",
                ));
            }
            not_in_recovery(c)?;
            Ok(Value::PgLsn(c.db.wal().switch_segment()?))
        }),
        Def::ctx("pg_last_wal_receive_lsn", vec![], r(T::PgLsn), |_, _, c| {
            Ok(if c.hooks.in_recovery() {
                Value::PgLsn(c.db.wal().flush_lsn())
            } else {
                Value::Null
            })
        }),
        Def::ctx("pg_last_wal_replay_lsn", vec![], r(T::PgLsn), |_, _, c| {
            Ok(if c.hooks.in_recovery() {
                Value::PgLsn(c.db.replay_lsn())
            } else {
                Value::Null
            })
        }),
        Def::ctx(
            "pg_last_xact_replay_timestamp",
            vec![],
            r(T::TimestampTz),
            |_, _, c| {
                Ok(match c.db.last_replay_commit_time() {
                    Some(t) if c.hooks.in_recovery() => Value::TimestampTz(t),
                    _ => Value::Null,
                })
            },
        ),
        Def::pure(
            "pg_wal_lsn_diff",
            vec![t(T::PgLsn), t(T::PgLsn)],
            r(T::Numeric(None)),
            |a| match (&a[0], &a[1]) {
                (Value::PgLsn(x), Value::PgLsn(y)) => {
                    Ok(Value::Numeric(Decimal::from_i128_with_scale(x.diff(*y), 0)))
                }
                _ => Ok(Value::Null),
            },
        ),
        Def::ctx(
            "pg_walfile_name",
            vec![t(T::PgLsn)],
            r(T::Text),
            |a, _, c| {
                not_in_recovery(c)?;
                let Value::PgLsn(lsn) = a[0] else {
                    return Ok(Value::Null);
                };
                Ok(Value::Text(walfile_name(
                    c.db.wal().timeline().0,
                    lsn,
                    c.db.wal().segment_size(),
                    true,
                )))
            },
        ),
        Def::ctx("pg_promote", vec![], r(T::Bool), pg_promote),
        Def::ctx("pg_promote", vec![t(T::Bool)], r(T::Bool), pg_promote),
        Def::ctx(
            "pg_promote",
            vec![t(T::Bool), t(T::Int4)],
            r(T::Bool),
            pg_promote,
        ),
        Def::ctx("pg_control_system", vec![], r(T::Record), control_system).stable(),
        Def::ctx(
            "pg_control_checkpoint",
            vec![],
            r(T::Record),
            control_checkpoint,
        )
        .stable(),
    ]
}

/// `pg_promote(wait boolean DEFAULT true, wait_seconds integer DEFAULT 60)`:
/// asks the standby's startup thread to promote; with `wait`, sleeps until
/// recovery ended (woken at once) or `wait_seconds` passed.
fn pg_promote(a: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if !c.session.superuser {
        return Err(PgError::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied for function pg_promote",
        ));
    }
    let wait = !matches!(a.first(), Some(Value::Bool(false)));
    let secs = match a.get(1) {
        Some(Value::Int4(n)) => i64::from(*n),
        _ => 60,
    };
    if secs <= 0 {
        return Err(PgError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "\"wait_seconds\" must not be negative or zero",
        ));
    }
    if !c.hooks.in_recovery() || !c.db.request_promote() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "recovery is not in progress",
        )
        .with_hint("Recovery control functions can only be executed during recovery."));
    }
    if !wait {
        return Ok(Value::Bool(true));
    }
    // woken when recovery ends; a cancel is noticed within 100 ms, as
    // PostgreSQL's ten checks a second
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs as u64);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if c.db
            .wait_recovery_end(left.min(std::time::Duration::from_millis(100)))
        {
            return Ok(Value::Bool(true));
        }
        if c.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PgError::new(
                SqlState("57014"),
                "canceling statement due to user request",
            ));
        }
        if left.is_zero() {
            return Ok(Value::Bool(false));
        }
    }
}

fn not_in_recovery(c: &ExecContext<'_>) -> PgResult<()> {
    if c.hooks.in_recovery() {
        return Err(PgError::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            "recovery is in progress",
        )
        .with_hint("WAL control functions cannot be executed during recovery."));
    }
    Ok(())
}

/// WAL segment file name (`000000010000000000000001`); `prev` names the segment
/// holding the byte before `lsn`, as `pg_walfile_name` does.
pub fn walfile_name(timeline: u32, lsn: Lsn, segment_size: u64, prev: bool) -> String {
    let seg_size = segment_size.max(1);
    let segno = if prev {
        lsn.0.saturating_sub(1) / seg_size
    } else {
        lsn.0 / seg_size
    };
    let per_id = 0x1_0000_0000u64 / seg_size;
    format!("{timeline:08X}{:08X}{:08X}", segno / per_id, segno % per_id)
}

/// Columns of the composite-returning functions in this file.
pub(super) fn composite_columns(name: &str) -> Option<Vec<(&'static str, DataType)>> {
    Some(match name {
        "pg_control_system" => vec![
            ("pg_control_version", T::Int4),
            ("catalog_version_no", T::Int4),
            ("system_identifier", T::Int8),
            ("pg_control_last_modified", T::TimestampTz),
        ],
        "pg_control_checkpoint" => vec![
            ("checkpoint_lsn", T::PgLsn),
            ("redo_lsn", T::PgLsn),
            ("redo_wal_file", T::Text),
            ("timeline_id", T::Int4),
            ("prev_timeline_id", T::Int4),
            ("full_page_writes", T::Bool),
            ("next_xid", T::Text),
            ("next_oid", T::Oid),
            ("next_multixact_id", T::Xid),
            ("next_multi_offset", T::Xid),
            ("oldest_xid", T::Xid),
            ("oldest_xid_dbid", T::Oid),
            ("oldest_active_xid", T::Xid),
            ("oldest_multi_xid", T::Xid),
            ("oldest_multi_dbid", T::Oid),
            ("oldest_commit_ts_xid", T::Xid),
            ("newest_commit_ts_xid", T::Xid),
            ("checkpoint_time", T::TimestampTz),
        ],
        _ => return None,
    })
}

fn control_system(_: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let ctl = c.db.control();
    Ok(Value::Record(vec![
        Value::Int4(PG_CONTROL_VERSION),
        Value::Int4(CATALOG_VERSION_NO),
        Value::Int8(ctl.system_identifier as i64),
        Value::TimestampTz(ctl.checkpoint_time),
    ]))
}

fn control_checkpoint(_: &[Value], _: &FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let ctl = c.db.control();
    let seg = c.db.wal().segment_size();
    Ok(Value::Record(vec![
        Value::PgLsn(ctl.checkpoint_lsn),
        Value::PgLsn(ctl.redo_lsn),
        Value::Text(walfile_name(ctl.timeline.0, ctl.redo_lsn, seg, false)),
        Value::Int4(ctl.timeline.0 as i32),
        Value::Int4(ctl.timeline.0 as i32),
        Value::Bool(true),
        Value::Text(format!("0:{}", ctl.next_xid.0)),
        Value::Oid(ctl.next_oid.0),
        Value::Xid(1),
        Value::Xid(0),
        Value::Xid(3),
        Value::Oid(1),
        Value::Xid(0),
        Value::Xid(1),
        Value::Oid(1),
        Value::Xid(0),
        Value::Xid(0),
        Value::TimestampTz(ctl.checkpoint_time),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walfile_names_match_postgres() {
        let seg = 16 * 1024 * 1024;
        assert_eq!(
            walfile_name(1, Lsn(0x16B3748), seg, true),
            "000000010000000000000001"
        );
        assert_eq!(
            walfile_name(1, Lsn(0x1_0000_0000), seg, true),
            "0000000100000000000000FF"
        );
        assert_eq!(
            walfile_name(1, Lsn(0x1_0000_0000), seg, false),
            "000000010000000100000000"
        );
        assert_eq!(
            walfile_name(2, Lsn(0x153F898), seg, false),
            "000000020000000000000001"
        );
    }

    #[test]
    fn lsn_diff() {
        let v = crate::functions::call_pure(
            "pg_wal_lsn_diff",
            vec![Value::PgLsn(Lsn(0x16B3748)), Value::PgLsn(Lsn(0x16B3700))],
        )
        .unwrap();
        assert_eq!(crate::to_text(&v), "72");
    }
}
