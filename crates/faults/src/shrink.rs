//! Shrinking a failing run: the same seed run again with fewer of its
//! faults, to find a smaller schedule that still fails. Pure: the re-run is
//! a function given by the caller (`main.rs` runs the cluster; the unit
//! tests give a fake), so the search is tested without servers.
//!
//! The search, within a budget of re-runs:
//!
//! 1. the shortest failing prefix, by bisection over its length (the whole
//!    schedule is known to fail; a prefix of length 0 is a run with no
//!    fault at all);
//! 2. if no shorter prefix failed, the whole schedule once more: a failure
//!    that does not come back is reported as such ("did not fail again"),
//!    not shrunk;
//! 3. then each fault of the smallest failing schedule left out in turn
//!    (first to last), keeping every removal after which the run still
//!    fails.
//!
//! A schedule that passed is never run again. A pass says little about an
//! intermittent failure: the result is the smallest schedule seen failing,
//! not a proof that every fault in it is needed.

use std::collections::HashSet;

/// What the search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// The smallest schedule seen failing: positions in the schedule shrunk
    /// (the whole schedule if no re-run failed).
    pub faults: Vec<usize>,
    /// Re-runs made.
    pub reruns: usize,
    /// Some re-run failed. If not, the failure did not come back in
    /// `reruns` re-runs.
    pub reproduced: bool,
}

/// Shrinks a failing schedule of `n` faults with at most `budget` calls of
/// `fails` (given the positions to keep, in order; true if that run fails
/// as the original did).
pub fn shrink(n: usize, budget: usize, mut fails: impl FnMut(&[usize]) -> bool) -> Shrunk {
    let mut reruns = 0;
    let mut reproduced = false;
    let mut passed: HashSet<Vec<usize>> = HashSet::new();
    let mut try_run = |faults: &[usize], reruns: &mut usize| -> Option<bool> {
        if *reruns >= budget {
            return None;
        }
        if passed.contains(faults) {
            return Some(false);
        }
        *reruns += 1;
        let failed = fails(faults);
        if !failed {
            passed.insert(faults.to_vec());
        }
        Some(failed)
    };
    // 1. the shortest failing prefix: lengths below `lo` passed, `hi` fails
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let prefix: Vec<usize> = (0..mid).collect();
        match try_run(&prefix, &mut reruns) {
            None => break,
            Some(true) => {
                hi = mid;
                reproduced = true;
            }
            Some(false) => lo = mid + 1,
        }
    }
    let mut best: Vec<usize> = (0..hi).collect();
    // 2. nothing shorter failed: does the whole schedule fail again?
    if !reproduced {
        match try_run(&best, &mut reruns) {
            Some(true) => reproduced = true,
            _ => {
                return Shrunk {
                    faults: best,
                    reruns,
                    reproduced: false,
                }
            }
        }
    }
    // 3. leave out one fault at a time
    let mut i = 0;
    while i < best.len() {
        let mut without = best.clone();
        without.remove(i);
        match try_run(&without, &mut reruns) {
            None => break,
            Some(true) => best = without,
            Some(false) => i += 1,
        }
    }
    Shrunk {
        faults: best,
        reruns,
        reproduced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake run that fails when every fault of `needed` is kept; records
    /// what it was asked to run.
    fn needs<'a>(
        needed: &'a [usize],
        log: &'a mut Vec<Vec<usize>>,
    ) -> impl FnMut(&[usize]) -> bool + 'a {
        move |kept: &[usize]| {
            log.push(kept.to_vec());
            needed.iter().all(|f| kept.contains(f))
        }
    }

    #[test]
    fn finds_the_faults_a_failure_needs() {
        let mut log = Vec::new();
        let r = shrink(6, 8, needs(&[1, 3], &mut log));
        assert_eq!(r.faults, vec![1, 3]);
        assert!(r.reproduced);
        assert_eq!(r.reruns, log.len());
        assert!(r.reruns <= 8);
        // the prefix came first: 0..3 passes, 0..4 fails
        assert_eq!(log[0], vec![0, 1, 2]);
        // no schedule was run twice
        let mut seen = log.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), log.len());
    }

    #[test]
    fn a_failure_without_faults_shrinks_to_none() {
        let mut log = Vec::new();
        let r = shrink(5, 8, needs(&[], &mut log));
        assert_eq!(r.faults, Vec::<usize>::new());
        assert!(r.reproduced);
    }

    #[test]
    fn the_last_fault_alone() {
        let mut log = Vec::new();
        let r = shrink(4, 8, needs(&[3], &mut log));
        assert_eq!(r.faults, vec![3]);
        // prefixes 0..2 and 0..3 pass, the whole schedule fails again, 0,
        // 1 and 2 are left out one by one, then 3 (no fault: passes)
        assert_eq!(r.reruns, 7);
        assert_eq!(log[2], vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_failure_that_does_not_come_back_is_reported_so() {
        let mut calls = 0;
        let r = shrink(6, 8, |_| {
            calls += 1;
            false
        });
        assert!(!r.reproduced);
        assert_eq!(r.faults, (0..6).collect::<Vec<_>>());
        // bisection (0..3, 0..5, 0..6 is known) then the whole schedule once
        assert_eq!(calls, r.reruns);
        assert!(r.reruns <= 4);
    }

    #[test]
    fn the_budget_is_kept() {
        for budget in 0..6 {
            let mut calls = 0;
            let r = shrink(6, budget, |kept| {
                calls += 1;
                kept.contains(&5) && kept.contains(&0)
            });
            assert!(calls <= budget, "budget {budget}: {calls} runs");
            assert_eq!(r.reruns, calls);
            // whatever was found still fails
            assert!(r.faults.contains(&5) && r.faults.contains(&0));
        }
        let mut log = Vec::new();
        let r = shrink(6, 0, needs(&[2], &mut log));
        assert!(!r.reproduced && log.is_empty());
    }

    #[test]
    fn an_empty_schedule_is_only_run_again() {
        let mut calls = 0;
        let r = shrink(0, 8, |_| {
            calls += 1;
            true
        });
        // the only schedule is the one that already failed
        assert_eq!(calls, 1);
        assert!(r.reproduced && r.faults.is_empty());
    }
}
