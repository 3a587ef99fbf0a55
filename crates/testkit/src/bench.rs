//! Small pieces the benchmark programs (`examples/*_bench.rs`) share: the
//! failover topology they measure on either system ([`Topology::build`]),
//! the first value of a query over an open connection, polling it until it
//! reads a given text, and the median of a sample. Tests use the
//! psql-based waits of `cluster.rs` instead; benchmarks keep one open
//! connection so that a poll costs one round trip.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::{Kind, Node};

/// The standby's physical slot, listed in the primary's
/// `synchronized_standby_slots`.
pub const PHYS_SLOT: &str = "sb1_slot";

/// Lines for the primary's `postgresql.conf`.
pub const PRIMARY_CONF: &str = "wal_level = logical\nmax_wal_senders = 10\n\
                                max_replication_slots = 32\nwal_sender_timeout = 60s";

/// Lines for the standby's `postgresql.conf` (beside what the base backup
/// with `-R` wrote): the slot sync worker on.
pub const STANDBY_CONF: &str = "hot_standby_feedback = on\nwal_level = logical\n\
                                sync_replication_slots = on\nmax_replication_slots = 32\n\
                                wal_retrieve_retry_interval = 200ms";

/// A primary, its standby streaming through [`PHYS_SLOT`] with the slot
/// sync worker on, and a subscriber with failover subscription `sub1` to
/// the primary's publication `pub`; all of one kind.
pub struct Topology {
    pub kind: Kind,
    pub primary: Node,
    pub standby: Node,
    pub subscriber: Node,
}

impl Topology {
    /// Builds and starts the nodes `{tag}-primary`, `{tag}-standby` (tandem:
    /// `tandem basebackup`, PostgreSQL 17: `pg_basebackup`, both `-R -C -S`
    /// [`PHYS_SLOT`]) and `{tag}-subscriber`: the primary with
    /// [`PRIMARY_CONF`] and `primary_conf`, then `synchronized_standby_slots`
    /// = [`PHYS_SLOT`]; the standby with [`STANDBY_CONF`]; the subscriber
    /// with `wal_retrieve_retry_interval = 'RETRY_MSms'`. Then `primary_sql`
    /// runs on the primary (it makes publication `pub`), `subscriber_sql` on
    /// the subscriber, and the subscriber creates `sub1` with `failover =
    /// true`. Waiting for it to be ready is left to the caller.
    pub fn build(
        kind: Kind,
        tag: &str,
        primary_conf: &str,
        retry_ms: u64,
        primary_sql: &str,
        subscriber_sql: &str,
    ) -> Topology {
        let conf = if primary_conf.is_empty() {
            PRIMARY_CONF.to_string()
        } else {
            format!("{PRIMARY_CONF}\n{primary_conf}")
        };
        let (primary, mut standby, mut subscriber) = match kind {
            Kind::Tandem => {
                let mut p = Node::init_with(&format!("{tag}-primary"), &["--wal-segsize", "1"]);
                p.append_conf(&conf);
                p.start();
                let s = Node::basebackup(
                    &format!("{tag}-standby"),
                    &p,
                    &["-R", "-C", "-S", PHYS_SLOT, "-c", "fast"],
                );
                (p, s, Node::init(&format!("{tag}-subscriber")))
            }
            Kind::Postgres17 => {
                let mut p = Node::init_pg17(&format!("{tag}-primary"), &[]);
                p.append_conf(&conf);
                p.start();
                let s = Node::standby_pg17(&format!("{tag}-standby"), &p, PHYS_SLOT);
                (p, s, Node::init_pg17(&format!("{tag}-subscriber"), &[]))
            }
        };
        standby.append_conf(STANDBY_CONF);
        subscriber.append_conf(&format!("wal_retrieve_retry_interval = '{retry_ms}ms'"));
        standby.start();
        subscriber.start();
        primary.append_conf(&format!("synchronized_standby_slots = '{PHYS_SLOT}'"));
        primary.safe_psql("SELECT pg_reload_conf()");
        primary.safe_psql(primary_sql);
        subscriber.safe_psql(subscriber_sql);
        subscriber.safe_psql(&format!(
            "CREATE SUBSCRIPTION sub1 CONNECTION '{}' PUBLICATION pub WITH (failover = true)",
            primary.conninfo("postgres")
        ));
        Topology {
            kind,
            primary,
            standby,
            subscriber,
        }
    }
}

/// First column of the first row of `sql` (simple query protocol): "" when
/// there is no row, "NULL" for a null.
pub async fn first_value(c: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    for m in c.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(r) = m {
            return Ok(r.get(0).unwrap_or("NULL").to_string());
        }
    }
    Ok(String::new())
}

/// Runs `sql` until it returns `want` (then: the time it did) or `timeout`
/// passes (then: `None`), pausing `pause` between queries.
pub async fn poll_value(
    c: &Client,
    sql: &str,
    want: &str,
    timeout: Duration,
    pause: Duration,
) -> Result<Option<Instant>, tokio_postgres::Error> {
    let end = Instant::now() + timeout;
    loop {
        if first_value(c, sql).await? == want {
            return Ok(Some(Instant::now()));
        }
        if Instant::now() > end {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
    }
}

/// The median of `v` (the mean of the two middle values for an even
/// count), `None` for an empty sample.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_empty_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
