//! Replication: the walsender's command grammar, replication slots, the physical
//! walsender's decisions and WAL retention; (next issues) the walreceiver,
//! logical decoding and slot sync.
//!
//! Read `command.rs` (the replication command language of a `replication=...`
//! connection, PostgreSQL's repl_gram.y), `slot.rs` (the slot registry and its
//! on-disk state, PostgreSQL's slot.c), `physical.rs` (what a physical walsender
//! sends when, keepalives, timeouts, lag tracking: walsender.c) and
//! `retention.rs` (what WAL slots and `wal_keep_size` keep, invalidation past
//! `max_slot_wal_keep_size`, `wal_status`: xlog.c). The socket loop that uses them
//! is `server::walsender`. `origin.rs` names the replication origins of
//! subscriptions (worker.c).

pub mod command;
pub mod origin;
pub mod physical;
pub mod retention;
pub mod slot;
pub mod syncrep;
