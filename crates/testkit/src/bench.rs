//! Small pieces the benchmark programs (`examples/*_bench.rs`) share: the
//! first value of a query over an open connection, polling it until it
//! reads a given text, and the median of a sample. Tests use the
//! psql-based waits of `cluster.rs` instead; benchmarks keep one open
//! connection so that a poll costs one round trip.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, SimpleQueryMessage};

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
