//! The end check of `tandem demo`: did every transaction that survived the
//! failover reach the subscriber exactly once, in commit order, and did
//! every acknowledged commit survive?
//!
//! Pure: it compares lists of transaction numbers (`log.seq`) read from the
//! nodes; `mod.rs` reads them and prints the verdict. The table contents
//! (`kv`, `acc`) are compared separately against [`super::load::model`].

use std::collections::{BTreeMap, BTreeSet};

/// What the nodes hold at the end.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Transactions the writer saw acknowledged: 1..=`acked_before_kill` on
    /// the old primary, then `acked_after` on the promoted standby.
    pub acked_before_kill: u32,
    pub acked_after: &'a [u32],
    /// `log.seq` on the surviving timeline (the promoted standby), any order.
    pub timeline: &'a [u32],
    /// `log.seq` at the subscriber, in the order it applied them.
    pub applied: &'a [u32],
}

/// The outcome; [`Verdict::ok`] says whether the demo passes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Distinct transactions on the surviving timeline.
    pub committed: u32,
    /// Acknowledged to the writer, before the kill and after the promotion.
    pub acknowledged: u32,
    /// Acknowledged or on the surviving timeline, but not at the subscriber
    /// (an acknowledged commit the timeline lost is also counted here).
    pub lost: Vec<u32>,
    /// Acknowledged but not on the surviving timeline.
    pub lost_at_failover: Vec<u32>,
    /// Applied (or on the timeline) more than once: one entry per extra copy.
    pub duplicated: Vec<u32>,
    /// Applied after a transaction that committed later.
    pub out_of_order: Vec<u32>,
    /// At the subscriber but never committed on the surviving timeline.
    pub phantom: Vec<u32>,
}

impl Verdict {
    /// Nothing lost, duplicated, reordered or invented.
    pub fn ok(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.out_of_order.is_empty()
            && self.phantom.is_empty()
    }
}

/// Copies beyond the first of each number in `seqs`.
fn extra_copies(seqs: &[u32]) -> Vec<u32> {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for &s in seqs {
        *counts.entry(s).or_default() += 1;
    }
    counts
        .into_iter()
        .flat_map(|(s, n)| std::iter::repeat_n(s, n - 1))
        .collect()
}

/// Compares what the subscriber applied with what the surviving timeline
/// holds and what the writer saw acknowledged.
pub fn check(o: Observed<'_>) -> Verdict {
    let timeline: BTreeSet<u32> = o.timeline.iter().copied().collect();
    let applied: BTreeSet<u32> = o.applied.iter().copied().collect();
    let acknowledged: BTreeSet<u32> = (1..=o.acked_before_kill)
        .chain(o.acked_after.iter().copied())
        .collect();

    let lost_at_failover: Vec<u32> = acknowledged.difference(&timeline).copied().collect();
    let lost: Vec<u32> = acknowledged
        .union(&timeline)
        .filter(|s| !applied.contains(s))
        .copied()
        .collect();
    let phantom: Vec<u32> = applied.difference(&timeline).copied().collect();

    let mut duplicated = extra_copies(o.applied);
    duplicated.extend(extra_copies(o.timeline));
    duplicated.sort_unstable();

    // commit order is the numbering: each first copy must be above all before it
    let mut out_of_order = Vec::new();
    let mut seen = BTreeSet::new();
    let mut highest = 0;
    for &s in o.applied {
        if !seen.insert(s) {
            continue; // a repeat, counted as duplicated
        }
        if s < highest {
            out_of_order.push(s);
        }
        highest = highest.max(s);
    }

    Verdict {
        committed: timeline.len() as u32,
        acknowledged: acknowledged.len() as u32,
        lost,
        lost_at_failover,
        duplicated,
        out_of_order,
        phantom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(acked: u32, after: &[u32], timeline: &[u32], applied: &[u32]) -> Verdict {
        check(Observed {
            acked_before_kill: acked,
            acked_after: after,
            timeline,
            applied,
        })
    }

    #[test]
    fn everything_once_in_order_passes() {
        let v = run(4, &[6, 7], &[1, 2, 3, 4, 5, 6, 7], &[1, 2, 3, 4, 5, 6, 7]);
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.committed, 7);
        assert_eq!(v.acknowledged, 6);
    }

    #[test]
    fn unacknowledged_transaction_the_timeline_lacks_is_not_lost() {
        // 5 was in flight at the kill and never reached the standby
        let v = run(4, &[5, 6], &[1, 2, 3, 4, 5, 6], &[1, 2, 3, 4, 5, 6]);
        assert!(v.ok(), "{v:?}");
    }

    #[test]
    fn a_missing_transaction_fails() {
        let v = run(4, &[5], &[1, 2, 3, 4, 5], &[1, 2, 4, 5]);
        assert!(!v.ok());
        assert_eq!(v.lost, vec![3]);
        assert!(v.lost_at_failover.is_empty());
    }

    #[test]
    fn an_acknowledged_commit_missing_from_the_timeline_fails() {
        let v = run(4, &[], &[1, 2, 3], &[1, 2, 3]);
        assert!(!v.ok());
        assert_eq!(v.lost, vec![4]);
        assert_eq!(v.lost_at_failover, vec![4]);
    }

    #[test]
    fn a_duplicated_transaction_fails() {
        let v = run(3, &[4], &[1, 2, 3, 4], &[1, 2, 3, 3, 4]);
        assert!(!v.ok());
        assert_eq!(v.duplicated, vec![3]);
        assert!(v.lost.is_empty());
        assert!(
            v.out_of_order.is_empty(),
            "a repeat is not also out of order"
        );
    }

    #[test]
    fn a_transaction_twice_on_the_timeline_fails() {
        let v = run(2, &[], &[1, 2, 2], &[1, 2]);
        assert!(!v.ok());
        assert_eq!(v.duplicated, vec![2]);
    }

    #[test]
    fn an_out_of_order_transaction_fails() {
        let v = run(4, &[], &[1, 2, 3, 4], &[1, 3, 2, 4]);
        assert!(!v.ok());
        assert_eq!(v.out_of_order, vec![2]);
        assert!(v.lost.is_empty() && v.duplicated.is_empty());
    }

    #[test]
    fn a_transaction_the_timeline_never_had_fails() {
        let v = run(3, &[], &[1, 2, 3], &[1, 2, 3, 4]);
        assert!(!v.ok());
        assert_eq!(v.phantom, vec![4]);
    }
}
