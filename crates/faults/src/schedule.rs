//! The fault schedule of one run, drawn from its seed before the run starts
//! (ChaCha8, so the same seed gives the same schedule on every machine and
//! build). Faults name roles (the primary, the first or second standby by
//! node name, a subscriber), not nodes, so a schedule means the same thing
//! whichever node is primary when it is reached. Faults are applied one at a
//! time: applied, held, healed, then a pause of normal operation.
//!
//! The topology of a run (flat, or with `n2` cascading from `n1`) and the
//! per-fault choice of promoting the cascade come from a second stream of
//! the same seed ([`topology`]), so adding them left every seed's faults as
//! they were.

use std::fmt;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A node by its role at the time the fault is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// The standbys in node-name order: 0 or 1.
    Standby(usize),
    /// The subscribers in the order made: 0 is tandem, 1 PostgreSQL 17.
    Subscriber(usize),
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Primary => write!(f, "primary"),
            Role::Standby(i) => write!(f, "standby#{i}"),
            Role::Subscriber(i) => write!(f, "subscriber#{i}"),
        }
    }
}

/// What happens to a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkFault {
    /// The open connections are closed; new ones go through.
    Break,
    /// Nothing gets through while the fault is held; connections stay open.
    Stall,
    /// Each chunk is delayed by this many milliseconds.
    Slow(u32),
}

/// How the subscriber learns of a new primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repoint {
    /// Nothing: its multi-host CONNECTION follows the primary.
    Follow,
    /// `ALTER SUBSCRIPTION ... CONNECTION` naming the new primary only.
    AlterSingle,
    /// `ALTER SUBSCRIPTION ... CONNECTION` naming every node, the new
    /// primary first.
    AlterMulti,
}

/// One fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, then a start once the fault is healed (the primary restarts
    /// as the primary: crash recovery, no failover).
    Kill(Role),
    /// The link from `from` (a standby or subscriber) to the primary.
    Link { from: Role, fault: LinkFault },
    /// The primary is killed, the most advanced standby promoted
    /// (`pg_promote()`), the old primary rejoins as its standby.
    Failover(Repoint),
    /// Planned: the primary stops (fast), the standby that caught up is
    /// promoted, the old primary rejoins as a standby.
    Switchover(Repoint),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(r) => write!(f, "kill -9 {r}"),
            Fault::Link { from, fault } => {
                let what = match fault {
                    LinkFault::Break => "break".to_string(),
                    LinkFault::Stall => "stall".to_string(),
                    LinkFault::Slow(ms) => format!("slow ({ms} ms/chunk)"),
                };
                write!(f, "{what} link {from} -> upstream")
            }
            Fault::Failover(r) => write!(f, "failover ({r:?})"),
            Fault::Switchover(r) => write!(f, "switchover ({r:?})"),
        }
    }
}

/// A fault with its timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub fault: Fault,
    /// How long the fault is held before it is healed.
    pub hold_ms: u64,
    /// Normal operation after the heal.
    pub gap_ms: u64,
}

/// What a schedule may contain.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Number of faults; `None`: 3 to 6, drawn.
    pub faults: Option<usize>,
    /// Subscribers (1 or 2).
    pub subscribers: usize,
    /// Shorter holds and gaps (CI).
    pub short: bool,
}

/// How the standbys are connected in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// `n2` streams from `n1` (its own physical slot there) instead of from
    /// the primary, whenever neither of them is the primary.
    pub cascade: bool,
    /// Per fault of the schedule: a failover or switchover while `n2`
    /// cascades promotes `n2` (after it replayed what `n1` has) instead of
    /// the most advanced standby.
    pub promote_cascade: Vec<bool>,
}

/// The topology of `seed`'s run with `faults` faults (the schedule's
/// length), from the seed's second ChaCha8 stream.
pub fn topology(seed: u64, faults: usize) -> Topology {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    let cascade = rng.gen_bool(0.5);
    Topology {
        cascade,
        promote_cascade: (0..faults).map(|_| rng.gen_bool(0.5)).collect(),
    }
}

/// The schedule for `seed`.
pub fn schedule(seed: u64, p: &Params) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = p.faults.unwrap_or_else(|| rng.gen_range(3..=6));
    let scale = if p.short { 2 } else { 1 };
    (0..n)
        .map(|_| {
            let role = |rng: &mut ChaCha8Rng, primary: bool| -> Role {
                let x = rng.gen_range(0..if primary { 4 } else { 3 });
                match x {
                    0 | 1 => Role::Standby(x),
                    2 => Role::Subscriber(rng.gen_range(0..p.subscribers)),
                    _ => Role::Primary,
                }
            };
            let repoint = |rng: &mut ChaCha8Rng| match rng.gen_range(0..4) {
                0 => Repoint::AlterSingle,
                1 => Repoint::AlterMulti,
                _ => Repoint::Follow,
            };
            let fault = match rng.gen_range(0..100) {
                0..=24 => Fault::Kill(role(&mut rng, true)),
                25..=54 => {
                    let from = role(&mut rng, false);
                    let fault = match rng.gen_range(0..3) {
                        0 => LinkFault::Break,
                        1 => LinkFault::Stall,
                        _ => LinkFault::Slow(rng.gen_range(5..=50)),
                    };
                    Fault::Link { from, fault }
                }
                55..=84 => Fault::Failover(repoint(&mut rng)),
                _ => Fault::Switchover(repoint(&mut rng)),
            };
            Step {
                fault,
                hold_ms: rng.gen_range(300..=2500) / scale,
                gap_ms: rng.gen_range(300..=1500) / scale,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Params = Params {
        faults: None,
        subscribers: 2,
        short: false,
    };

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        assert_eq!(schedule(7, &P), schedule(7, &P));
        assert_ne!(schedule(7, &P), schedule(8, &P));
    }

    #[test]
    fn both_topologies_are_drawn_and_the_schedule_is_unchanged_by_them() {
        let t: Vec<bool> = (0..40).map(|s| topology(s, 4).cascade).collect();
        assert!(t.contains(&true) && t.contains(&false));
        assert_eq!(topology(9, 5), topology(9, 5));
        assert_eq!(topology(9, 5).promote_cascade.len(), 5);
        // seed 1's schedule as it was before topologies were drawn
        let one = schedule(
            1,
            &Params {
                faults: Some(3),
                subscribers: 1,
                short: true,
            },
        );
        assert_eq!(one.len(), 3);
        assert!(matches!(
            one[1].fault,
            Fault::Failover(Repoint::AlterSingle)
        ));
    }

    #[test]
    fn every_kind_of_fault_is_drawn() {
        let all: Vec<Step> = (0..200).flat_map(|s| schedule(s, &P)).collect();
        let has = |f: fn(&Fault) -> bool| all.iter().any(|s| f(&s.fault));
        assert!(has(|f| matches!(f, Fault::Kill(Role::Primary))));
        assert!(has(|f| matches!(f, Fault::Kill(Role::Subscriber(1)))));
        assert!(has(|f| matches!(
            f,
            Fault::Link {
                fault: LinkFault::Stall,
                ..
            }
        )));
        assert!(has(|f| matches!(f, Fault::Failover(Repoint::AlterSingle))));
        assert!(has(|f| matches!(f, Fault::Switchover(Repoint::Follow))));
        let one_sub = Params {
            subscribers: 1,
            ..P
        };
        assert!((0..200)
            .flat_map(|s| schedule(s, &one_sub))
            .all(|s| !matches!(
                s.fault,
                Fault::Kill(Role::Subscriber(1))
                    | Fault::Link {
                        from: Role::Subscriber(1),
                        ..
                    }
            )));
    }
}
