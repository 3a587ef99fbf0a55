//! The demo's SQL connections: ordinary sessions (`replication=false`) over
//! `tandem-client`'s blocking client, simple queries with rows as text. The
//! demo needs no extended protocol, so it brings no other driver;
//! `tandem check-failover` uses the same sessions.

use std::time::Duration;

use anyhow::Context;
use tandem_client::{ReplClient, TextRows};
use tandem_types::PgResult;

/// The connection string the demo uses for a node on 127.0.0.1.
pub fn conninfo(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres")
}

/// One session on a node.
pub struct Sql {
    client: ReplClient,
}

impl Sql {
    /// Connects as `postgres` to database `postgres` on `127.0.0.1:port`;
    /// a reply that takes longer than `timeout` fails the query.
    pub fn connect(port: u16, timeout: Duration) -> anyhow::Result<Sql> {
        let info = format!("{} application_name=tandem_demo", conninfo(port));
        Sql::open(&info, timeout).with_context(|| format!("could not connect to 127.0.0.1:{port}"))
    }

    /// Connects with the connection string `info` (an ordinary session);
    /// a reply that takes longer than `timeout` fails the query. The error
    /// is the client's, worded as libpq's.
    pub fn open(info: &str, timeout: Duration) -> PgResult<Sql> {
        let client = ReplClient::connect_mode(info, "false")?;
        client.set_read_timeout(Some(timeout));
        Ok(Sql { client })
    }

    /// Runs `sql` (one or more statements); the rows of its result, as text.
    pub fn exec(&mut self, sql: &str) -> anyhow::Result<TextRows> {
        Ok(self.client.query(sql)?)
    }

    /// The first column of the first row (`""` for NULL or no row).
    pub fn value(&mut self, sql: &str) -> anyhow::Result<String> {
        let rows = self.exec(sql)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
            .unwrap_or_default())
    }

    /// The first column of every row, parsed as transaction numbers.
    pub fn seqs(&mut self, sql: &str) -> anyhow::Result<Vec<u32>> {
        self.exec(sql)?
            .into_iter()
            .map(|r| {
                let v = r.into_iter().next().flatten().unwrap_or_default();
                v.parse()
                    .with_context(|| format!("{sql}: {v:?} is not a transaction number"))
            })
            .collect()
    }

    pub fn close(self) {
        self.client.close();
    }
}
