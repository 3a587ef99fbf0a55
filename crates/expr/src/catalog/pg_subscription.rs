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

fn stat_cols() -> Vec<(&'static str, DataType)> {
    vec![
        ("subid", T::Oid),
        ("subname", T::Name),
        ("worker_type", T::Text),
        ("pid", T::Int4),
        ("leader_pid", T::Int4),
        ("relid", T::Oid),
        ("received_lsn", T::PgLsn),
        ("last_msg_send_time", T::TimestampTz),
        ("last_msg_receipt_time", T::TimestampTz),
        ("latest_end_lsn", T::PgLsn),
        ("latest_end_time", T::TimestampTz),
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

/// One row per running worker of each subscription (`workers`), or one row
/// with NULL worker columns for a subscription without workers (PostgreSQL's
/// view left-joins the workers to `pg_subscription`).
pub fn build_stat_subscription(
    cat: &Catalog,
    workers: &[crate::SubscriptionWorkerStat],
) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for s in cat.subscriptions.values() {
        let mut any = false;
        for w in workers.iter().filter(|w| w.subid == s.oid) {
            any = true;
            let lsn = |l: Option<tandem_types::Lsn>| l.map(Value::PgLsn).unwrap_or(Value::Null);
            let ts = |t: Option<i64>| t.map(Value::TimestampTz).unwrap_or(Value::Null);
            rows.push(vec![
                oid(s.oid.0),
                name(&s.name),
                text(w.worker_type),
                Value::Int4(w.pid),
                Value::Null,
                w.relid.map(|r| oid(r.0)).unwrap_or(Value::Null),
                lsn(w.received_lsn),
                ts(w.last_msg_send_time),
                ts(w.last_msg_receipt_time),
                lsn(w.latest_end_lsn),
                ts(w.latest_end_time),
            ]);
        }
        if !any {
            let mut row = vec![oid(s.oid.0), name(&s.name)];
            row.resize(stat_cols().len(), Value::Null);
            rows.push(row);
        }
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
}
