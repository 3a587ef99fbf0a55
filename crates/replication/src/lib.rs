//! Replication: the walsender's command grammar, replication slots, the physical
//! walsender's and the walreceiver's decisions, what an apply worker reports,
//! WAL retention and synchronous replication. Pure logic and state, no sockets:
//! the walsender, walreceiver and apply worker loops that use it are in the
//! server crate, logical decoding is the decoding crate.
//!
//! Read `command.rs` (the replication command language of a `replication=...`
//! connection, PostgreSQL's repl_gram.y), `slot.rs` (the slot registry and its
//! on-disk state, PostgreSQL's slot.c), `physical.rs` (what a physical walsender
//! sends when, keepalives, timeouts, lag tracking: walsender.c),
//! `retention.rs` (what WAL slots and `wal_keep_size` keep, invalidation past
//! `max_slot_wal_keep_size`, `wal_status`: xlog.c), `syncrep.rs`
//! (`synchronous_standby_names`, which standbys are synchronous, the wait point
//! of committing sessions: syncrep.c), `walreceiver.rs` (a standby's checks of
//! its primary, timeline following, when it replies and times out:
//! walreceiver.c), `apply_feedback.rs` (the positions a subscription's apply
//! worker reports, flushed only once durable: worker.c), `origin.rs` (the
//! replication origins of subscriptions), `slotsync.rs` (what one failover
//! slot synchronization cycle on a standby does: logical/slotsync.c) and
//! `standby_slots.rs` (`synchronized_standby_slots` on a primary: the physical
//! slots whose standbys must have flushed WAL before failover slots' consumers
//! receive it: slot.c), `readiness.rs` (whether a failover slot is ready for
//! failover, and why not). The socket
//! loops that use them are `server::walsender`, `server::walreceiver` and
//! `server::subscription`.

pub mod apply_feedback;
pub mod command;
pub mod origin;
pub mod physical;
pub mod readiness;
pub mod retention;
pub mod slot;
pub mod slot_stats;
pub mod slotsync;
pub mod standby_slots;
pub mod syncrep;
pub mod walreceiver;
