//! Replication slots in the running server. The slot itself (state file, ordering
//! rules, positions) is `tandem_replication::slot`; this module is what the server
//! does with slots.
//!
//! Read `registry.rs` first (the slots at startup, WAL retention and
//! invalidation, physical slots, `pg_replication_slots`), then `logical.rs`
//! (logical slots: creation, decoding for the SQL functions, advance, copy),
//! then `slotsync.rs` (failover slots copied from the primary on a standby),
//! `push.rs` (a primary writing its failover slots' state into the WAL for
//! the standbys) and `synced.rs` (what a synced slot refuses on a standby).

pub(crate) mod logical;
pub(crate) mod push;
mod registry;
pub(crate) mod slotsync;
pub(crate) mod synced;
#[cfg(test)]
mod tests;

pub(crate) use registry::{
    create_physical, drop_slot, floors_on_disk, install_retention, open, rows,
};
