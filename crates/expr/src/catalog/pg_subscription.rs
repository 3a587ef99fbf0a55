//! Subscriptions: the catalogs `pg_catalog.pg_subscription` and
//! `pg_subscription_rel`, and the view `pg_stat_subscription`, computed from
//! `Catalog.subscriptions`. `pg_stat_subscription` has one row per
//! subscription with NULL worker columns while no apply worker runs (as in
//! PostgreSQL, whose view left-joins the workers to `pg_subscription`).
//! PostgreSQL: `catalog/pg_subscription.h`, `pg_subscription_rel.h`,
//! `system_views.sql` (`pg_stat_subscription`).

use tandem_storage::Catalog;
use tandem_types::{DataType, PgResult, Value};

use super::*;

use DataType as T;

pub static PG_SUBSCRIPTION: View = View {
    schema: "pg_catalog",
    name: "pg_subscription",
    oid: 6100,
    relkind: b'r',
    columns: sub_cols,
    rows: sub_rows,
};

pub static PG_SUBSCRIPTION_REL: View = View {
    schema: "pg_catalog",
    name: "pg_subscription_rel",
    oid: 6102,
    relkind: b'r',
    columns: rel_cols,
    rows: rel_rows,
};

pub static PG_STAT_SUBSCRIPTION: View = View {
    schema: "pg_catalog",
    name: "pg_stat_subscription",
    oid: 12_150,
    relkind: b'v',
    columns: stat_cols,
    rows: stat_rows,
};

fn sub_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("oid", T::Oid),
        ("subdbid", T::Oid),
        ("subskiplsn", T::PgLsn),
        ("subname", T::Name),
        ("subowner", T::Oid),
        ("subenabled", T::Bool),
        ("subbinary", T::Bool),
        ("substream", T::Char),
        ("subtwophasestate", T::Char),
        ("subdisableonerr", T::Bool),
        ("subpasswordrequired", T::Bool),
        ("subrunasowner", T::Bool),
        ("subfailover", T::Bool),
        ("subconninfo", T::Text),
        ("subslotname", T::Name),
        ("subsynccommit", T::Text),
        ("subpublications", T::Array(Box::new(T::Text))),
        ("suborigin", T::Text),
    ]
}

fn rel_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("srsubid", T::Oid),
        ("srrelid", T::Oid),
        ("srsubstate", T::Char),
        ("srsublsn", T::PgLsn),
    ]
}

pub fn build_subscription(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.subscriptions
        .values()
        .map(|s| {
            vec![
                oid(s.oid.0),
                oid(s.database.0),
                Value::PgLsn(s.skip_lsn),
                name(&s.name),
                oid(s.owner.0),
                b(s.enabled),
                b(s.binary),
                ch(s.streaming),
                ch(s.two_phase),
                b(s.disable_on_error),
                b(s.password_required),
                b(s.run_as_owner),
                b(s.failover),
                text(&s.conninfo),
                s.slot_name.as_deref().map(name).unwrap_or(Value::Null),
                text(&s.synchronous_commit),
                Value::Array(s.publications.iter().map(|p| text(p)).collect()),
                text(&s.origin),
            ]
        })
        .collect()
}

pub fn build_subscription_rel(cat: &Catalog) -> Vec<Vec<Value>> {
    cat.subscriptions
        .values()
        .flat_map(|s| {
            s.relations.values().map(move |r| {
                vec![
                    oid(s.oid.0),
                    oid(r.relid.0),
                    ch(r.state),
                    r.lsn.map(Value::PgLsn).unwrap_or(Value::Null),
                ]
            })
        })
        .collect()
}

/// A `pg_stat_subscription` row: a subscription and one of its running
/// workers, or `None` (NULL worker columns) for a subscription without workers.
struct SubscriptionStat {
    subid: tandem_types::Oid,
    subname: String,
    worker: Option<crate::SubscriptionWorkerStat>,
}

type StatRow = SubscriptionStat;

/// The value of a worker column (NULL without a worker).
fn worker(r: &StatRow, f: impl Fn(&crate::SubscriptionWorkerStat) -> Value) -> Value {
    r.worker.as_ref().map(f).unwrap_or(Value::Null)
}

fn stat_lsn(l: Option<tandem_types::Lsn>) -> Value {
    l.map(Value::PgLsn).unwrap_or(Value::Null)
}

/// `pg_stat_subscription`'s columns, in PostgreSQL 17's order, and where each
/// value comes from.
static STAT_COLUMNS: &[Column<StatRow>] = &[
    Column {
        name: "subid",
        ty: T::Oid,
        value: |r: &StatRow| oid(r.subid.0),
    },
    Column {
        name: "subname",
        ty: T::Name,
        value: |r: &StatRow| name(&r.subname),
    },
    Column {
        name: "worker_type",
        ty: T::Text,
        value: |r: &StatRow| worker(r, |w| text(w.worker_type)),
    },
    Column {
        name: "pid",
        ty: T::Int4,
        value: |r: &StatRow| worker(r, |w| i4(w.pid)),
    },
    Column {
        name: "leader_pid",
        ty: T::Int4,
        value: |_: &StatRow| Value::Null,
    },
    Column {
        name: "relid",
        ty: T::Oid,
        value: |r: &StatRow| worker(r, |w| w.relid.map(|o| oid(o.0)).unwrap_or(Value::Null)),
    },
    Column {
        name: "received_lsn",
        ty: T::PgLsn,
        value: |r: &StatRow| worker(r, |w| stat_lsn(w.received_lsn)),
    },
    Column {
        name: "last_msg_send_time",
        ty: T::TimestampTz,
        value: |r: &StatRow| worker(r, |w| opt_ts(w.last_msg_send_time)),
    },
    Column {
        name: "last_msg_receipt_time",
        ty: T::TimestampTz,
        value: |r: &StatRow| worker(r, |w| opt_ts(w.last_msg_receipt_time)),
    },
    Column {
        name: "latest_end_lsn",
        ty: T::PgLsn,
        value: |r: &StatRow| worker(r, |w| stat_lsn(w.latest_end_lsn)),
    },
    Column {
        name: "latest_end_time",
        ty: T::TimestampTz,
        value: |r: &StatRow| worker(r, |w| opt_ts(w.latest_end_time)),
    },
];

fn stat_cols() -> Vec<(&'static str, DataType)> {
    column_list(STAT_COLUMNS)
}

/// One row per running worker of each subscription (`workers`), or one row
/// with NULL worker columns for a subscription without workers (PostgreSQL's
/// view left-joins the workers to `pg_subscription`).
pub fn build_stat_subscription(
    cat: &Catalog,
    workers: &[crate::SubscriptionWorkerStat],
) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for s in cat.subscriptions.values() {
        let mut mine = workers.iter().filter(|w| w.subid == s.oid).peekable();
        let stats: Vec<StatRow> = if mine.peek().is_none() {
            vec![SubscriptionStat {
                subid: s.oid,
                subname: s.name.clone(),
                worker: None,
            }]
        } else {
            mine.map(|w| SubscriptionStat {
                subid: s.oid,
                subname: s.name.clone(),
                worker: Some(w.clone()),
            })
            .collect()
        };
        rows.extend(stats.iter().map(|r| row_values(STAT_COLUMNS, r)));
    }
    rows
}

fn sub_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_subscription(&ctx.txn.catalog()))
}

fn rel_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_subscription_rel(&ctx.txn.catalog()))
}

fn stat_rows(ctx: &mut ExecContext<'_>) -> PgResult<Vec<Vec<Value>>> {
    Ok(build_stat_subscription(
        &ctx.txn.catalog(),
        &ctx.hooks.subscription_workers(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::sample;
    use tandem_storage::{SubscriptionDef, SubscriptionRelState};
    use tandem_types::{Lsn, Oid};

    fn with_subscription() -> Catalog {
        let mut cat = sample();
        let rel = |relid: u32, state: u8, lsn: Option<Lsn>| SubscriptionRelState {
            relid: Oid(relid),
            state,
            lsn,
        };
        let sub = SubscriptionDef {
            oid: Oid(16600),
            database: Oid(5),
            name: "s1".into(),
            owner: Oid(10),
            enabled: false,
            conninfo: "host=h dbname=postgres".into(),
            slot_name: None,
            publications: vec!["p".into(), "q".into()],
            binary: true,
            streaming: b'p',
            two_phase: b'd',
            disable_on_error: false,
            failover: true,
            synchronous_commit: "off".into(),
            origin: "none".into(),
            password_required: true,
            run_as_owner: false,
            skip_lsn: Lsn(0),
            relations: [
                rel(16384, b'r', Some(Lsn(0x14B1358))),
                rel(16390, b'i', None),
            ]
            .into_iter()
            .map(|r| (r.relid, r))
            .collect(),
        };
        cat.subscriptions.insert(sub.oid, sub);
        cat
    }

    #[test]
    fn subscription_rows_follow_the_catalog() {
        let cat = with_subscription();
        let rows = build_subscription(&cat);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), sub_cols().len());
        assert_eq!(rows[0][0], oid(16600));
        assert_eq!(rows[0][2], Value::PgLsn(Lsn(0)));
        assert_eq!(rows[0][3], name("s1"));
        assert_eq!(rows[0][7], ch(b'p'));
        assert_eq!(rows[0][12], b(true));
        assert_eq!(rows[0][14], Value::Null);
        assert_eq!(rows[0][16], Value::Array(vec![text("p"), text("q")]));
        assert_eq!(rows[0][17], text("none"));
    }

    #[test]
    fn rel_and_stat_rows() {
        let cat = with_subscription();
        let rels = build_subscription_rel(&cat);
        assert_eq!(
            rels,
            vec![
                vec![
                    oid(16600),
                    oid(16384),
                    ch(b'r'),
                    Value::PgLsn(Lsn(0x14B1358))
                ],
                vec![oid(16600), oid(16390), ch(b'i'), Value::Null],
            ]
        );
        let stat = build_stat_subscription(&cat, &[]);
        assert_eq!(stat.len(), 1);
        assert_eq!(stat[0].len(), stat_cols().len());
        assert_eq!(stat[0][1], name("s1"));
        assert!(stat[0][2..].iter().all(|v| *v == Value::Null));
    }

    /// PostgreSQL 17's `pg_stat_subscription` (`system_views.sql`).
    const STAT_PG17: &[&str] = &[
        "subid",
        "subname",
        "worker_type",
        "pid",
        "leader_pid",
        "relid",
        "received_lsn",
        "last_msg_send_time",
        "last_msg_receipt_time",
        "latest_end_lsn",
        "latest_end_time",
    ];

    fn stat_col(name: &str) -> usize {
        STAT_PG17
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn stat_columns_are_postgresql_17s() {
        let names: Vec<&str> = stat_cols().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, STAT_PG17);
    }

    #[test]
    fn stat_worker_fields_land_in_their_columns() {
        let cat = with_subscription();
        let apply = crate::SubscriptionWorkerStat {
            subid: Oid(16600),
            worker_type: "apply",
            pid: 3131,
            relid: None,
            received_lsn: Some(Lsn(0x0200_0010)),
            last_msg_send_time: Some(7),
            last_msg_receipt_time: Some(8),
            latest_end_lsn: Some(Lsn(0x0200_0000)),
            latest_end_time: None,
        };
        let sync = crate::SubscriptionWorkerStat {
            worker_type: "table synchronization",
            relid: Some(Oid(16384)),
            received_lsn: None,
            last_msg_send_time: None,
            last_msg_receipt_time: None,
            latest_end_lsn: None,
            ..apply.clone()
        };
        let other = crate::SubscriptionWorkerStat {
            subid: Oid(1),
            ..apply.clone()
        };
        let stat = build_stat_subscription(&cat, &[apply, other, sync]);
        assert_eq!(stat.len(), 2);
        let v = &stat[0];
        assert_eq!(v.len(), STAT_PG17.len());
        assert_eq!(v[stat_col("subid")], oid(16600));
        assert_eq!(v[stat_col("subname")], name("s1"));
        assert_eq!(v[stat_col("worker_type")], text("apply"));
        assert_eq!(v[stat_col("pid")], Value::Int4(3131));
        assert_eq!(v[stat_col("leader_pid")], Value::Null);
        assert_eq!(v[stat_col("relid")], Value::Null);
        assert_eq!(v[stat_col("received_lsn")], Value::PgLsn(Lsn(0x0200_0010)));
        assert_eq!(v[stat_col("last_msg_send_time")], Value::TimestampTz(7));
        assert_eq!(v[stat_col("last_msg_receipt_time")], Value::TimestampTz(8));
        assert_eq!(
            v[stat_col("latest_end_lsn")],
            Value::PgLsn(Lsn(0x0200_0000))
        );
        assert_eq!(v[stat_col("latest_end_time")], Value::Null);
        let v = &stat[1];
        assert_eq!(v[stat_col("worker_type")], text("table synchronization"));
        assert_eq!(v[stat_col("relid")], oid(16384));
        assert_eq!(v[stat_col("received_lsn")], Value::Null);
    }
}
