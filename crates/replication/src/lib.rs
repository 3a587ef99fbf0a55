//! Replication: the walsender's command grammar, replication slots, and (next
//! issues) the walsender/walreceiver loops, logical decoding and slot sync.
//!
//! Read `command.rs` (the replication command language of a `replication=...`
//! connection, PostgreSQL's repl_gram.y) and `slot.rs` (the slot registry and its
//! on-disk state, PostgreSQL's slot.c).

pub mod command;
pub mod slot;
