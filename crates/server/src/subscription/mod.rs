//! Logical replication on the subscriber: the launcher keeps one apply worker
//! per enabled subscription; each worker streams from the publisher's slot with
//! pgoutput and applies every remote transaction exactly once, copying tables
//! first where needed. PostgreSQL counterparts: `replication/logical/launcher.c`,
//! `worker.c`, `tablesync.c`, `relation.c`.
//!
//! Read in this order: `launcher.rs` (when workers run), `worker.rs` (one
//! subscription's apply loop and the exactly-once argument; the positions it
//! reports are `tandem_replication::apply_feedback`; `libpqwalreceiver.rs`
//! connects and starts streaming; `follow.rs` picks the host of a
//! multi-host connection), `changes.rs` (rows onto
//! local tables, with `defaults.rs` for missing columns), `tablesync.rs`
//! (initial copy), `worker_internal.rs` (what they share), `remote.rs` (the
//! publisher-side calls of CREATE/ALTER/DROP SUBSCRIPTION).

mod changes;
mod defaults;
pub(crate) mod follow;
mod launcher;
mod libpqwalreceiver;
pub(crate) mod remote;
mod tablesync;
mod worker;
mod worker_internal;

pub(crate) use launcher::Launcher;
