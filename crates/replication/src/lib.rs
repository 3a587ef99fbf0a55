//! Replication: the walsender's command grammar, replication slots, the physical
//! walsender's decisions, WAL retention and synchronous replication. Pure logic
//! and state, no sockets: the walsender, walreceiver and apply worker loops that
//! use it are in the server crate, logical decoding is the decoding crate.
//!
//! Read `command.rs` (the replication command language of a `replication=...`
//! connection, PostgreSQL's repl_gram.y), `slot.rs` (the slot registry and its
//! on-disk state, PostgreSQL's slot.c), `physical.rs` (what a physical walsender
//! sends when, keepalives, timeouts, lag tracking: walsender.c),
//! `retention.rs` (what WAL slots and `wal_keep_size` keep, invalidation past
//! `max_slot_wal_keep_size`, `wal_status`: xlog.c) and `syncrep.rs`
//! (`synchronous_standby_names`, which standbys are synchronous, the wait point
//! of committing sessions: syncrep.c). The socket loop that uses them is
//! `server::walsender`. `origin.rs` names the replication origins of
//! subscriptions (worker.c). `slotsync.rs` decides what one failover slot
//! synchronization cycle on a standby does (logical/slotsync.c).
//! `standby_slots.rs` is `synchronized_standby_slots` on a primary: the
//! physical slots whose standbys must have flushed WAL before failover slots'
//! consumers receive it (slot.c).

pub mod command;
pub mod origin;
pub mod physical;
pub mod retention;
pub mod slot;
pub mod slotsync;
pub mod standby_slots;
pub mod syncrep;
