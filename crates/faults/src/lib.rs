//! `tandem-faults`: a seeded, replayable fault runner for the logical
//! stream across failover, and the checker of what it observed
//! (`docs/faults.md`).
//!
//! | module | what it owns |
//! |---|---|
//! | [`schedule`] | the faults of a run, drawn from its seed |
//! | [`workload`] | the clients, their transactions and what they were told |
//! | [`run`] | one run: topology, faults, slot samples, final states |
//! | [`check`] | the verdict (pure, unit-tested) |
//! | [`shrink`] | a failing schedule cut down by re-runs (pure, unit-tested) |

pub mod check;
pub mod run;
pub mod schedule;
pub mod shrink;
pub mod workload;
