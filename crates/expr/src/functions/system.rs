//! Session and server functions: `version()`, `current_user`, `current_schemas`,
//! `pg_backend_pid()`, `txid_current()`, `current_setting`/`set_config`,
//! `pg_reload_conf()`, `pg_cancel_backend`/`pg_terminate_backend`, `pg_sleep`,
//! `pg_is_in_recovery()`, `pg_postmaster_start_time()`, size helpers, the
//! advisory lock functions.
//!
//! Anything that acts on the server goes through `ExecContext::hooks`; settings
//! go through the session's `SessionConfig`. Corresponds to PostgreSQL's
//! `utils/adt/misc.c`, `utils/misc/guc_funcs.c`, `storage/ipc/signalfuncs.c`,
//! `utils/adt/dbsize.c`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tandem_types::{DataType, PgError, PgResult, SqlState, Value};

use super::{arg_bool, arg_f64, arg_i64, arg_text, r, t, Def};
use crate::ExecContext;

use DataType as T;

/// What `version()` prints.
pub const VERSION: &str =
    "PostgreSQL 17.0 (tandem 0.1.0) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit";

fn name_arr() -> DataType {
    T::Array(Box::new(T::Name))
}

pub(super) fn defs() -> Vec<Def> {
    let mut d = system_defs();
    // the advisory lock functions, each on a bigint or on two ints
    for (name, ret) in [
        ("pg_advisory_lock", T::Void),
        ("pg_advisory_lock_shared", T::Void),
        ("pg_advisory_xact_lock", T::Void),
        ("pg_advisory_xact_lock_shared", T::Void),
        ("pg_try_advisory_lock", T::Bool),
        ("pg_try_advisory_lock_shared", T::Bool),
        ("pg_try_advisory_xact_lock", T::Bool),
        ("pg_try_advisory_xact_lock_shared", T::Bool),
        ("pg_advisory_unlock", T::Bool),
        ("pg_advisory_unlock_shared", T::Bool),
    ] {
        d.push(Def::ctx(name, vec![t(T::Int8)], r(ret.clone()), advisory));
        d.push(Def::ctx(
            name,
            vec![t(T::Int4), t(T::Int4)],
            r(ret),
            advisory,
        ));
    }
    d
}

/// `pg_[try_]advisory_[xact_]lock[_shared]` and `pg_advisory_unlock[_shared]`
/// (`crate::advisory`).
fn advisory(a: &[Value], sig: &super::FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    use crate::advisory::AdvisoryKey;
    let key = if a.len() == 1 {
        AdvisoryKey::Big(arg_i64(a, 0)?)
    } else {
        AdvisoryKey::Pair(arg_i64(a, 0)? as i32, arg_i64(a, 1)? as i32)
    };
    let name = sig.name.as_str();
    let shared = name.ends_with("_shared");
    let xact = name.contains("_xact_");
    if name.starts_with("pg_advisory_unlock") {
        let released = c.advisory.unlock(key, shared);
        if !released {
            let mode = if shared { "ShareLock" } else { "ExclusiveLock" };
            c.notices.push(PgError::warning(format!(
                "you don't own a lock of type {mode}"
            )));
        }
        return Ok(Value::Bool(released));
    }
    if name.starts_with("pg_try_") {
        return Ok(Value::Bool(c.advisory.try_lock(key, shared, xact)));
    }
    c.advisory.lock(key, shared, xact, c.cancel)?;
    Ok(Value::Null)
}

fn system_defs() -> Vec<Def> {
    let text = || t(T::Text);
    vec![
        Def::pure("version", vec![], r(T::Text), |_| {
            Ok(Value::Text(VERSION.to_string()))
        }),
        Def::ctx("current_database", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.database.clone()))
        })
        .stable(),
        Def::ctx("current_catalog", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.database.clone()))
        })
        .stable(),
        Def::ctx("current_user", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.user.clone()))
        })
        .stable(),
        Def::ctx("current_role", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.user.clone()))
        })
        .stable(),
        Def::ctx("session_user", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.user.clone()))
        })
        .stable(),
        Def::ctx("user", vec![], r(T::Name), |_, _, c| {
            Ok(Value::Text(c.session.user.clone()))
        })
        .stable(),
        // the schemas of search_path that exist
        Def::ctx("current_schema", vec![], r(T::Name), |_, _, c| {
            Ok(existing_schemas(c)
                .into_iter()
                .next()
                .map_or(Value::Null, Value::Text))
        })
        .stable(),
        Def::ctx(
            "current_schemas",
            vec![t(T::Bool)],
            r(name_arr()),
            |a, _, c| {
                let mut v = Vec::new();
                let path = existing_schemas(c);
                if arg_bool(a, 0) && !path.iter().any(|s| s == "pg_catalog") {
                    v.push(Value::Text("pg_catalog".into()));
                }
                v.extend(path.into_iter().map(Value::Text));
                Ok(Value::Array(v))
            },
        )
        .stable(),
        Def::ctx("pg_backend_pid", vec![], r(T::Int4), |_, _, c| {
            Ok(Value::Int4(c.session.pid))
        })
        .stable(),
        Def::ctx("txid_current", vec![], r(T::Int8), |_, _, c| {
            Ok(Value::Int8(c.txn.assign_xid().0 as i64))
        }),
        Def::ctx("pg_current_xact_id", vec![], r(T::Int8), |_, _, c| {
            Ok(Value::Int8(c.txn.assign_xid().0 as i64))
        }),
        Def::ctx("txid_current_if_assigned", vec![], r(T::Int8), |_, _, c| {
            Ok(c.txn
                .xid()
                .map(|x| Value::Int8(x.0 as i64))
                .unwrap_or(Value::Null))
        }),
        Def::ctx(
            "pg_current_xact_id_if_assigned",
            vec![],
            r(T::Int8),
            |_, _, c| {
                Ok(c.txn
                    .xid()
                    .map(|x| Value::Int8(x.0 as i64))
                    .unwrap_or(Value::Null))
            },
        ),
        Def::ctx("current_setting", vec![text()], r(T::Text), current_setting).stable(),
        Def::ctx(
            "current_setting",
            vec![text(), t(T::Bool)],
            r(T::Text),
            current_setting,
        )
        .stable(),
        Def::ctx(
            "set_config",
            vec![text(), text(), t(T::Bool)],
            r(T::Text),
            set_config,
        )
        .lax(),
        Def::ctx("pg_notify", vec![text(), text()], r(T::Void), |a, _, c| {
            if c.hooks.in_recovery() {
                return Err(PgError::new(
                    SqlState::READ_ONLY_SQL_TRANSACTION,
                    "cannot execute NOTIFY during recovery",
                ));
            }
            // NULL channel: empty (refused); NULL payload: empty
            let channel = if a[0].is_null() {
                String::new()
            } else {
                arg_text(a, 0)
            };
            let payload = if a[1].is_null() {
                String::new()
            } else {
                arg_text(a, 1)
            };
            c.notify.notify(&channel, &payload)?;
            Ok(Value::Null)
        })
        .lax(),
        Def::ctx("pg_advisory_unlock_all", vec![], r(T::Void), |_, _, c| {
            c.advisory.unlock_all();
            Ok(Value::Null)
        }),
        Def::ctx(
            "pg_notification_queue_usage",
            vec![],
            r(T::Float8),
            |_, _, c| Ok(Value::Float8(c.notify.queue_usage())),
        ),
        Def::ctx("pg_reload_conf", vec![], r(T::Bool), |_, _, c| {
            require_superuser(c, "pg_reload_conf")?;
            Ok(Value::Bool(c.hooks.reload_conf()))
        }),
        // tandem's own: a primary becomes a standby of another server in
        // place (the server's `demote.rs`)
        Def::ctx(
            "tandem_demote",
            vec![t(T::Text), t(T::Text)],
            r(T::Bool),
            |a, _, c| {
                require_superuser(c, "tandem_demote")?;
                let (Some(Value::Text(conninfo)), Some(Value::Text(slot))) = (a.first(), a.get(1))
                else {
                    return Ok(Value::Null);
                };
                c.hooks.demote(c.session.pid, conninfo, slot)?;
                Ok(Value::Bool(true))
            },
        ),
        Def::ctx(
            "pg_cancel_backend",
            vec![t(T::Int4)],
            r(T::Bool),
            |a, _, c| signal(a, c, false),
        ),
        Def::ctx(
            "pg_terminate_backend",
            vec![t(T::Int4)],
            r(T::Bool),
            |a, _, c| signal(a, c, true),
        ),
        Def::ctx(
            "pg_terminate_backend",
            vec![t(T::Int4), t(T::Int8)],
            r(T::Bool),
            |a, _, c| signal(a, c, true),
        ),
        Def::ctx("pg_sleep", vec![t(T::Float8)], r(T::Void), pg_sleep),
        Def::ctx("pg_is_in_recovery", vec![], r(T::Bool), |_, _, c| {
            Ok(Value::Bool(c.hooks.in_recovery()))
        }),
        Def::ctx(
            "pg_postmaster_start_time",
            vec![],
            r(T::TimestampTz),
            |_, _, c| Ok(Value::TimestampTz(c.hooks.postmaster_start_time())),
        )
        .stable(),
        Def::ctx("pg_conf_load_time", vec![], r(T::TimestampTz), |_, _, c| {
            Ok(Value::TimestampTz(c.hooks.conf_load_time()))
        })
        .stable(),
        Def::ctx("inet_client_addr", vec![], r(T::Text), |_, _, c| {
            Ok(c.session
                .client_addr
                .clone()
                .map(Value::Text)
                .unwrap_or(Value::Null))
        })
        .stable(),
        Def::pure("inet_client_port", vec![], r(T::Int4), |_| Ok(Value::Null)),
        Def::pure("inet_server_addr", vec![], r(T::Text), |_| Ok(Value::Null)),
        Def::pure("inet_server_port", vec![], r(T::Int4), |_| Ok(Value::Null)),
        Def::pure("gen_random_uuid", vec![], r(T::Uuid), |_| {
            let mut b: [u8; 16] = rand::random();
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            Ok(Value::Text(crate::io_text::format_uuid(&b)))
        })
        .volatile(),
        Def::pure("pg_size_pretty", vec![t(T::Int8)], r(T::Text), |a| {
            Ok(Value::Text(size_pretty(arg_i64(a, 0)? as i128)))
        }),
        Def::pure(
            "pg_size_pretty",
            vec![t(T::Numeric(None))],
            r(T::Text),
            |a| Ok(Value::Text(size_pretty(arg_f64(a, 0)?.round() as i128))),
        ),
        Def::pure("pg_database_size", vec![t(T::Name)], r(T::Int8), |_| {
            Ok(Value::Int8(8 * 1024 * 1024))
        }),
        Def::pure("pg_database_size", vec![t(T::Oid)], r(T::Int8), |_| {
            Ok(Value::Int8(8 * 1024 * 1024))
        }),
        Def::ctx(
            "pg_relation_size",
            vec![t(T::RegClass)],
            r(T::Int8),
            relation_size,
        ),
        Def::ctx(
            "pg_table_size",
            vec![t(T::RegClass)],
            r(T::Int8),
            relation_size,
        ),
        Def::pure("pg_indexes_size", vec![t(T::RegClass)], r(T::Int8), |_| {
            Ok(Value::Int8(0))
        }),
        Def::ctx(
            "pg_total_relation_size",
            vec![t(T::RegClass)],
            r(T::Int8),
            relation_size,
        ),
    ]
}

/// A relation's size as psql's `+` lists show it: one page for anything
/// stored (the store's files are shared, not per relation), nothing for a
/// view.
fn relation_size(a: &[Value], _: &super::FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if a.first().is_none_or(Value::is_null) {
        return Ok(Value::Null);
    }
    let oid = tandem_types::Oid(arg_i64(a, 0)? as u32);
    let view = c.txn.catalog().views.contains_key(&oid);
    Ok(Value::Int8(if view { 0 } else { 8192 }))
}

/// Composite-returning functions of this file (none yet).
pub(super) fn composite_columns(_name: &str) -> Option<Vec<(&'static str, DataType)>> {
    None
}

pub(super) fn require_superuser(c: &ExecContext<'_>, func: &str) -> PgResult<()> {
    if c.session.superuser {
        return Ok(());
    }
    Err(PgError::new(
        SqlState::INSUFFICIENT_PRIVILEGE,
        format!("permission denied for function {func}"),
    ))
}

fn current_setting(
    a: &[Value],
    _: &super::FunctionSig,
    c: &mut ExecContext<'_>,
) -> PgResult<Value> {
    let name = arg_text(a, 0);
    match c.config.show(&name) {
        Ok(v) => Ok(Value::Text(v)),
        Err(e) if a.len() > 1 && arg_bool(a, 1) && e.code == SqlState::UNDEFINED_OBJECT => {
            Ok(Value::Null)
        }
        Err(e) => Err(e),
    }
}

fn set_config(a: &[Value], _: &super::FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    if a[0].is_null() {
        return Err(PgError::new(
            SqlState("22004"),
            "SET requires parameter name",
        ));
    }
    let name = arg_text(a, 0);
    let value = if a[1].is_null() {
        None
    } else {
        Some(arg_text(a, 1))
    };
    let local = arg_bool(a, 2);
    c.config
        .set(&name, value.as_deref(), local, c.session.superuser)?;
    Ok(Value::Text(c.config.show(&name)?))
}

fn signal(a: &[Value], c: &mut ExecContext<'_>, terminate: bool) -> PgResult<Value> {
    let pid = arg_i64(a, 0)? as i32;
    let ok = c.hooks.signal_backend(pid, terminate);
    if !ok {
        c.notices.push(PgError::warning(format!(
            "PID {pid} is not a PostgreSQL backend process"
        )));
    }
    Ok(Value::Bool(ok))
}

/// `57014 canceling statement due to user request`.
pub fn query_canceled() -> PgError {
    PgError::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}

fn pg_sleep(a: &[Value], _: &super::FunctionSig, c: &mut ExecContext<'_>) -> PgResult<Value> {
    let secs = arg_f64(a, 0)?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs.clamp(0.0, 1e9));
    loop {
        if c.cancel.load(Ordering::Relaxed) {
            return Err(query_canceled());
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Value::Null);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

/// `pg_size_pretty`: bytes below 10 kB, then kB/MB/GB/TB/PB, each used below
/// 20479 half-units and rounded half away from zero (PostgreSQL's `dbsize.c`).
pub fn size_pretty(bytes: i128) -> String {
    if bytes.abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let half_rounded = |x: i128| (x + if x < 0 { -1 } else { 1 }) / 2;
    let units = ["kB", "MB", "GB", "TB", "PB"];
    let mut half = bytes / 512;
    for (i, unit) in units.iter().enumerate() {
        if half.abs() < 20 * 1024 - 1 || i + 1 == units.len() {
            return format!("{} {unit}", half_rounded(half));
        }
        half /= 1024;
    }
    format!("{bytes} bytes")
}

/// The schemas of the session's `search_path` that exist, in order.
fn existing_schemas(c: &ExecContext<'_>) -> Vec<String> {
    let cat = c.txn.catalog();
    crate::reg::session_search_path(c)
        .iter()
        .filter(|s| cat.schema_oid(s).is_some())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_pretty_matches_postgres() {
        assert_eq!(size_pretty(100), "100 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_pretty(1_500_000_000), "1431 MB");
        assert_eq!(size_pretty(10239), "10239 bytes");
        assert_eq!(size_pretty(10_485_759), "10 MB");
        assert_eq!(size_pretty(-10240), "-10 kB");
    }

    #[test]
    fn version_string() {
        assert_eq!(
            crate::to_text(&crate::functions::call_pure("version", vec![]).unwrap()),
            "PostgreSQL 17.0 (tandem 0.1.0) on x86_64-pc-linux-gnu, compiled by rustc, 64-bit"
        );
    }
}
