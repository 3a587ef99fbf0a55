//! tandem's client library: what a tandem process uses to talk to another
//! server as a client. The standby's walreceiver, a subscription's apply
//! worker and table copies, the publisher-side subscription commands and
//! `tandem basebackup` all connect through it; the server crate and the
//! command-line tool stay free of connection strings and client-side
//! protocol.
//!
//! | module | what it owns | PostgreSQL |
//! |---|---|---|
//! | [`conninfo`] | the one connection-string parser (keyword/value and URI forms, multi-host targets), quoting, the default `application_name`, the CREATE SUBSCRIPTION check | `interfaces/libpq/fe-connect.c` (`conninfo_parse`, `conninfo_uri_parse_options`, `connectOptions2`), `libpqrcv_check_conninfo` |
//! | [`connection`] | [`ReplClient`]: a blocking connection (hosts tried in order, `sslmode` negotiation, `connect_timeout`, `target_session_attrs`, startup, authentication, simple queries, COPY messages) | `replication/libpqwalreceiver/libpqwalreceiver.c` over `interfaces/libpq/fe-connect.c` |
//! | [`tls`] | TLS: `sslmode`, root and client certificates, revocation lists, SNI, the chain check and libpq's host-name check | `interfaces/libpq/fe-secure-openssl.c`, `fe-secure-common.c` |
//! | [`basebackup`] | BASE_BACKUP's client half: start, and the archive stream decoded into events | `bin/pg_basebackup` (protocol side) |
//!
//! PostgreSQL reaches libpq from the server through the `libpqwalreceiver`
//! loadable module, so the backend itself never links libpq; here the crate
//! boundary plays that part. The crate depends only on `tandem-types`,
//! `tandem-protocol` (message encoding, SCRAM) and rustls: it knows nothing about
//! storage, WAL files or SQL, and callers decide what to do with what they
//! receive (`tandem basebackup` writes the files and WAL itself).
//!
//! Limits: connections are blocking; no GSS encryption (`gssencmode` is
//! read but never used) and no `sslnegotiation=direct`; `load_balance_hosts`
//! is ignored (hosts are tried in order); authentication by trust, password
//! or SCRAM-SHA-256.

pub mod basebackup;
pub mod connection;
pub mod conninfo;
pub mod tls;

pub use connection::{
    quote_literal, quote_repl_ident, Interrupter, ReplClient, SessionAttrs, TextRows,
};
pub use conninfo::{
    check_conninfo, parse_conninfo, quote_conninfo_value, with_application_name, ConnInfo,
    ConnInfoError, Target,
};
