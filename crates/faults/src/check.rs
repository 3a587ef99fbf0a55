//! The checker: from what the clients were told and what each node holds at
//! the end of a run, the violations of the logical stream's promises. Pure:
//! no I/O, fed a [`History`], so its rules are unit-tested with histories
//! written by hand.
//!
//! The workload (`workload.rs`) makes every transaction observable: client
//! `c`'s transaction `s` on key `k` increments the counter `kv(k).v` (the
//! new value `v` is told to the client), appends the row `(c, s, k, v)` to
//! `log` (no primary key, REPLICA IDENTITY FULL: a duplicate shows as a
//! second row), inserts `items(c, s)` and deletes `items(c, s - 2)`. A
//! subscriber's `log` has one more column, `applied`, filled by a sequence in
//! apply order.
//!
//! The rules, for every node's final state (the primary's is the final
//! timeline; standbys and subscribers must match it):
//!
//! - **lost**: an acknowledged transaction is missing;
//! - **duplicated**: a transaction's row appears more than once;
//! - **phantom**: a transaction that failed (an error before COMMIT), or
//!   was never issued, appears;
//! - **reordered**: on a subscriber, two transactions on one key were
//!   applied in the opposite order of their counter values (the order the
//!   row lock made them commit in on the publisher);
//! - **diverged**: anything else that differs from the primary's history:
//!   an acknowledged transaction present with another counter value than
//!   the client was told, a transaction of unknown outcome present on the
//!   primary but not here (or the reverse), a counter or the `items` table
//!   not what the `log` rows imply;
//! - **ahead**: a sample of a standby's synced slot whose
//!   `confirmed_flush_lsn` was beyond what the standby had flushed.
//!
//! A transaction whose outcome is unknown (COMMIT sent, no reply) may be
//! present or not, but at most once and the same on every node.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// What a client was told about one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// COMMIT returned success.
    Acked,
    /// COMMIT was sent and no answer came (connection lost, timeout, error).
    Unknown,
    /// An error before COMMIT was sent: rolled back.
    Failed,
}

/// One transaction of the workload, as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub client: u32,
    pub seq: u32,
    pub key: u32,
    /// The counter value the UPDATE returned (known once the UPDATE ran).
    pub v: Option<i64>,
    pub outcome: Outcome,
    /// Milliseconds since the run started: BEGIN sent, outcome known.
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One `log` row on a node; `applied` is the apply order on a subscriber
/// (0 on the primary and standbys, which have no such column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub client: u32,
    pub seq: u32,
    pub key: u32,
    pub v: i64,
    pub applied: i64,
}

/// What one node holds at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    /// Whether `log` rows carry the apply order (a subscriber).
    pub ordered: bool,
    pub log: Vec<Row>,
    /// `kv`: key → counter.
    pub kv: BTreeMap<u32, i64>,
    /// `items`: (client, seq).
    pub items: BTreeSet<(u32, u32)>,
}

/// One sample of a synced slot on a standby.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSample {
    pub at_ms: u64,
    pub node: String,
    pub slot: String,
    pub confirmed_flush: u64,
    /// The most this standby had flushed by then (received or replayed).
    pub flushed: u64,
}

/// Something the runner did (a fault, a promotion, a heal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at_ms: u64,
    pub what: String,
}

/// Everything a run observed.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub txns: Vec<Txn>,
    /// The final primary.
    pub primary: NodeState,
    /// Standbys and subscribers, checked against the primary.
    pub others: Vec<NodeState>,
    pub samples: Vec<SlotSample>,
    pub events: Vec<Event>,
}

/// The kinds of violation, in the summary's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Lost,
    Duplicated,
    Reordered,
    Phantom,
    Diverged,
    Ahead,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Lost,
        Kind::Duplicated,
        Kind::Reordered,
        Kind::Phantom,
        Kind::Diverged,
        Kind::Ahead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Lost => "lost",
            Kind::Duplicated => "duplicated",
            Kind::Reordered => "reordered",
            Kind::Phantom => "phantom",
            Kind::Diverged => "diverged",
            Kind::Ahead => "ahead",
        }
    }
}

/// One broken promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: Kind,
    pub node: String,
    /// The transaction concerned, as (client, seq).
    pub txn: Option<(u32, u32)>,
    /// When it happened or became visible (ms since the run started).
    pub at_ms: Option<u64>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}: {}", self.kind.name(), self.node, self.detail)
    }
}

/// The verdict of one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub acked: u64,
    pub unknown: u64,
    pub failed: u64,
    pub violations: Vec<Violation>,
}

impl Report {
    pub fn count(&self, kind: Kind) -> u64 {
        self.violations.iter().filter(|v| v.kind == kind).count() as u64
    }

    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Applies every rule of the module header to `h`.
pub fn check(h: &History) -> Report {
    let mut r = Report::default();
    let mut told: HashMap<(u32, u32), &Txn> = HashMap::new();
    for t in &h.txns {
        match t.outcome {
            Outcome::Acked => r.acked += 1,
            Outcome::Unknown => r.unknown += 1,
            Outcome::Failed => r.failed += 1,
        }
        told.insert((t.client, t.seq), t);
    }
    let primary_rows: BTreeMap<(u32, u32), Row> = h
        .primary
        .log
        .iter()
        .map(|row| ((row.client, row.seq), *row))
        .collect();
    check_node(&h.primary, &told, None, &mut r);
    for n in &h.others {
        check_node(n, &told, Some(&primary_rows), &mut r);
    }
    for s in &h.samples {
        if s.confirmed_flush > s.flushed {
            r.violations.push(Violation {
                kind: Kind::Ahead,
                node: s.node.clone(),
                txn: None,
                at_ms: Some(s.at_ms),
                detail: format!(
                    "synced slot \"{}\" confirmed_flush_lsn {} beyond the standby's flushed {} at {} ms",
                    s.slot,
                    lsn_text(s.confirmed_flush),
                    lsn_text(s.flushed),
                    s.at_ms
                ),
            });
        }
    }
    r
}

/// `X/Y` as PostgreSQL prints an LSN.
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Parses `X/Y`.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn check_node(
    n: &NodeState,
    told: &HashMap<(u32, u32), &Txn>,
    primary: Option<&BTreeMap<(u32, u32), Row>>,
    r: &mut Report,
) {
    let mut v = |kind: Kind, txn: Option<(u32, u32)>, at_ms: Option<u64>, detail: String| {
        r.violations.push(Violation {
            kind,
            node: n.name.clone(),
            txn,
            at_ms,
            detail,
        })
    };
    let mut seen: BTreeMap<(u32, u32), Vec<Row>> = BTreeMap::new();
    for row in &n.log {
        seen.entry((row.client, row.seq)).or_default().push(*row);
    }
    for (id, rows) in &seen {
        let t = told.get(id);
        if rows.len() > 1 {
            v(
                Kind::Duplicated,
                Some(*id),
                t.map(|t| t.end_ms),
                format!("transaction {}:{} appears {} times", id.0, id.1, rows.len()),
            );
        }
        match t {
            None => v(
                Kind::Phantom,
                Some(*id),
                None,
                format!("transaction {}:{} was never issued", id.0, id.1),
            ),
            Some(t) if t.outcome == Outcome::Failed => v(
                Kind::Phantom,
                Some(*id),
                Some(t.end_ms),
                format!(
                    "transaction {}:{} failed before COMMIT but is present",
                    id.0, id.1
                ),
            ),
            Some(t) if t.outcome == Outcome::Acked && t.v != Some(rows[0].v) => v(
                Kind::Diverged,
                Some(*id),
                Some(t.end_ms),
                format!(
                    "transaction {}:{} on key {} has counter {} here, the client was told {:?}",
                    id.0, id.1, t.key, rows[0].v, t.v
                ),
            ),
            _ => {}
        }
    }
    for t in told.values() {
        let id = (t.client, t.seq);
        if t.outcome == Outcome::Acked && !seen.contains_key(&id) {
            v(
                Kind::Lost,
                Some(id),
                Some(t.end_ms),
                format!(
                    "acknowledged transaction {}:{} (key {}, counter {:?}, acknowledged at {} ms) is missing",
                    t.client, t.seq, t.key, t.v, t.end_ms
                ),
            );
        }
    }
    if let Some(p) = primary {
        for (id, row) in p {
            let acked = told.get(id).is_some_and(|t| t.outcome == Outcome::Acked);
            match seen.get(id) {
                // acknowledged and missing: already reported as lost
                None if !acked => v(
                    Kind::Diverged,
                    Some(*id),
                    told.get(id).map(|t| t.end_ms),
                    format!(
                        "transaction {}:{} (outcome unknown) is on the primary but not here",
                        id.0, id.1
                    ),
                ),
                Some(rows) if rows[0].key != row.key || rows[0].v != row.v => v(
                    Kind::Diverged,
                    Some(*id),
                    None,
                    format!(
                        "transaction {}:{} is key {} counter {} here, key {} counter {} on the primary",
                        id.0, id.1, rows[0].key, rows[0].v, row.key, row.v
                    ),
                ),
                _ => {}
            }
        }
        for id in seen.keys() {
            if !p.contains_key(id) && told.get(id).is_some_and(|t| t.outcome != Outcome::Failed) {
                v(
                    Kind::Diverged,
                    Some(*id),
                    None,
                    format!(
                        "transaction {}:{} is here but not on the primary (the final timeline)",
                        id.0, id.1
                    ),
                );
            }
        }
    }
    // per key: counters in apply order, and the final counter
    let mut by_key: BTreeMap<u32, Vec<Row>> = BTreeMap::new();
    for row in &n.log {
        by_key.entry(row.key).or_default().push(*row);
    }
    for (key, rows) in &mut by_key {
        if n.ordered {
            rows.sort_by_key(|row| row.applied);
            for w in rows.windows(2) {
                if w[1].v <= w[0].v {
                    v(
                        Kind::Reordered,
                        Some((w[1].client, w[1].seq)),
                        None,
                        format!(
                            "key {key}: transaction {}:{} (counter {}) applied after {}:{} (counter {})",
                            w[1].client, w[1].seq, w[1].v, w[0].client, w[0].seq, w[0].v
                        ),
                    );
                }
            }
        }
        let max = rows.iter().map(|row| row.v).max().unwrap_or(0);
        let distinct: BTreeSet<i64> = rows.iter().map(|row| row.v).collect();
        let got = n.kv.get(key).copied().unwrap_or(0);
        if got != max || distinct.len() as i64 != max {
            v(
                Kind::Diverged,
                None,
                None,
                format!(
                    "key {key}: counter {got}, log has {} distinct counters up to {max}",
                    distinct.len()
                ),
            );
        }
    }
    for (key, got) in &n.kv {
        if *got != 0 && !by_key.contains_key(key) {
            v(
                Kind::Diverged,
                None,
                None,
                format!("key {key}: counter {got} with no log row"),
            );
        }
    }
    // items: each present transaction s inserted (c, s) and deleted (c, s - 2)
    let want: BTreeSet<(u32, u32)> = seen
        .keys()
        .filter(|(c, s)| !seen.contains_key(&(*c, s + 2)))
        .copied()
        .collect();
    if want != n.items {
        let missing: Vec<_> = want.difference(&n.items).take(5).collect();
        let extra: Vec<_> = n.items.difference(&want).take(5).collect();
        v(
            Kind::Diverged,
            None,
            None,
            format!("items differ from what log implies: missing {missing:?}, extra {extra:?}"),
        );
    }
}

/// The shortest history that shows `violation`: the transaction concerned,
/// its neighbours on the same key on the final primary, and the runner's
/// events from a little before the transaction began to the first
/// promotion or restart after it ended (or, for a slot sample, the events
/// of the two seconds before it).
pub fn history_for(h: &History, violation: &Violation) -> Vec<String> {
    let mut out = Vec::new();
    let txn = violation
        .txn
        .and_then(|id| h.txns.iter().find(|t| (t.client, t.seq) == id));
    let (from, to) = match (txn, violation.at_ms) {
        (Some(t), _) => (t.start_ms.saturating_sub(1000), Some(t.end_ms)),
        (None, Some(at)) => (at.saturating_sub(2000), Some(at)),
        (None, None) => (0, None),
    };
    if let Some(t) = txn {
        out.push(format!(
            "{:>7} ms  client {} BEGIN transaction {} on key {}",
            t.start_ms, t.client, t.seq, t.key
        ));
        let mut on_key: Vec<&Row> = h.primary.log.iter().filter(|r| r.key == t.key).collect();
        on_key.sort_by_key(|r| r.v);
        let pos = on_key
            .iter()
            .position(|r| (r.client, r.seq) == (t.client, t.seq));
        let near: Vec<String> = match pos {
            Some(i) => on_key[i.saturating_sub(1)..(i + 2).min(on_key.len())]
                .iter()
                .map(|r| format!("{}:{}={}", r.client, r.seq, r.v))
                .collect(),
            None => on_key
                .iter()
                .rev()
                .take(2)
                .map(|r| format!("{}:{}={}", r.client, r.seq, r.v))
                .collect(),
        };
        out.push(format!(
            "          key {} on the final primary near it: {}",
            t.key,
            near.join(" ")
        ));
        out.push(format!(
            "{:>7} ms  client {} told {:?} (counter {:?})",
            t.end_ms, t.client, t.outcome, t.v
        ));
    }
    let mut after_end = false;
    for e in &h.events {
        if e.at_ms < from {
            continue;
        }
        if let Some(to) = to {
            if e.at_ms > to {
                if after_end {
                    break;
                }
                // up to the first node-changing event after the transaction
                if e.what.contains("promote")
                    || e.what.contains("kill")
                    || e.what.contains("start")
                    || e.what.contains("rejoin")
                {
                    after_end = true;
                } else {
                    continue;
                }
            }
        }
        out.push(format!("{:>7} ms  {}", e.at_ms, e.what));
    }
    out.sort_by_key(|l| {
        l.split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
    });
    out.push(format!("=> {violation}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(client: u32, seq: u32, key: u32, v: i64, outcome: Outcome) -> Txn {
        Txn {
            client,
            seq,
            key,
            v: Some(v),
            outcome,
            start_ms: u64::from(seq) * 10,
            end_ms: u64::from(seq) * 10 + 5,
        }
    }

    fn row(client: u32, seq: u32, key: u32, v: i64, applied: i64) -> Row {
        Row {
            client,
            seq,
            key,
            v,
            applied,
        }
    }

    /// The node state the rows imply (counters, items), as a correct node
    /// would hold it.
    fn node(name: &str, ordered: bool, log: Vec<Row>) -> NodeState {
        let mut kv = BTreeMap::new();
        for r in &log {
            let e = kv.entry(r.key).or_insert(0);
            *e = (*e).max(r.v);
        }
        let ids: BTreeSet<(u32, u32)> = log.iter().map(|r| (r.client, r.seq)).collect();
        let items = ids
            .iter()
            .filter(|(c, s)| !ids.contains(&(*c, s + 2)))
            .copied()
            .collect();
        NodeState {
            name: name.into(),
            ordered,
            log,
            kv,
            items,
        }
    }

    /// Client 1 wrote 1..=3 on key 0 and 4 on key 1 (all acknowledged),
    /// client 2 wrote 1 on key 0 (outcome unknown, committed: counter 4).
    fn base() -> (Vec<Txn>, Vec<Row>) {
        let txns = vec![
            txn(1, 1, 0, 1, Outcome::Acked),
            txn(1, 2, 0, 2, Outcome::Acked),
            txn(1, 3, 0, 3, Outcome::Acked),
            txn(1, 4, 1, 1, Outcome::Acked),
            txn(2, 1, 0, 4, Outcome::Unknown),
        ];
        let rows = vec![
            row(1, 1, 0, 1, 1),
            row(1, 2, 0, 2, 2),
            row(1, 3, 0, 3, 3),
            row(1, 4, 1, 1, 4),
            row(2, 1, 0, 4, 5),
        ];
        (txns, rows)
    }

    fn history(txns: Vec<Txn>, primary: Vec<Row>, sub: Vec<Row>) -> History {
        History {
            txns,
            primary: node("primary", false, primary),
            others: vec![node("sub", true, sub)],
            samples: vec![],
            events: vec![Event {
                at_ms: 12,
                what: "kill primary n0".into(),
            }],
        }
    }

    fn kinds(r: &Report) -> Vec<Kind> {
        r.violations.iter().map(|v| v.kind).collect()
    }

    #[test]
    fn a_correct_history_passes() {
        let (txns, rows) = base();
        let r = check(&history(txns, rows.clone(), rows));
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!((r.acked, r.unknown, r.failed), (4, 1, 0));
    }

    #[test]
    fn an_unknown_transaction_may_be_absent_everywhere() {
        let (txns, mut rows) = base();
        rows.pop();
        let r = check(&history(txns, rows.clone(), rows));
        assert!(r.ok(), "{:?}", r.violations);
    }

    #[test]
    fn a_lost_change_is_reported() {
        let (txns, rows) = base();
        let mut sub = rows.clone();
        sub.remove(3); // 1:4, the only one on key 1
        let h = history(txns, rows, sub);
        let r = check(&h);
        assert_eq!(r.count(Kind::Lost), 1, "{:?}", r.violations);
        let lost = &r.violations[0];
        assert_eq!((lost.node.as_str(), lost.txn), ("sub", Some((1, 4))));
        let story = history_for(&h, lost);
        assert!(
            story.iter().any(|l| l.contains("BEGIN transaction 4")),
            "{story:?}"
        );
        assert!(story
            .last()
            .is_some_and(|l| l.starts_with("=> lost on sub")));
    }

    #[test]
    fn a_lost_change_on_the_final_primary_is_reported() {
        let (txns, rows) = base();
        let mut p = rows;
        p.remove(0);
        let r = check(&history(txns, p.clone(), p));
        assert!(r.count(Kind::Lost) >= 2, "{:?}", r.violations);
    }

    #[test]
    fn a_duplicated_change_is_reported() {
        let (txns, rows) = base();
        let mut sub = rows.clone();
        sub.push(row(1, 2, 0, 2, 6)); // applied twice
        let r = check(&history(txns, rows, sub));
        assert_eq!(r.count(Kind::Duplicated), 1, "{:?}", r.violations);
        assert_eq!(r.violations[0].txn, Some((1, 2)));
    }

    #[test]
    fn a_reordered_change_is_reported() {
        let (txns, rows) = base();
        let mut sub = rows.clone();
        // 1:2 and 1:3 on key 0 applied the other way round
        sub[1].applied = 3;
        sub[2].applied = 2;
        let r = check(&history(txns, rows, sub));
        assert_eq!(kinds(&r), vec![Kind::Reordered], "{:?}", r.violations);
    }

    #[test]
    fn an_unknown_transaction_must_match_the_primary() {
        let (txns, rows) = base();
        let mut sub = rows.clone();
        sub.pop();
        let r = check(&history(txns, rows, sub));
        assert_eq!(kinds(&r), vec![Kind::Diverged], "{:?}", r.violations);
    }

    #[test]
    fn a_failed_transaction_must_not_appear() {
        let (mut txns, rows) = base();
        txns[4].outcome = Outcome::Failed;
        let r = check(&history(txns, rows.clone(), rows));
        assert_eq!(r.count(Kind::Phantom), 2, "{:?}", r.violations);
    }

    #[test]
    fn a_wrong_counter_is_reported() {
        let (txns, rows) = base();
        let mut sub = node("sub", true, rows.clone());
        sub.kv.insert(0, 7);
        let h = History {
            txns,
            primary: node("primary", false, rows),
            others: vec![sub],
            ..Default::default()
        };
        assert_eq!(kinds(&check(&h)), vec![Kind::Diverged]);
    }

    #[test]
    fn a_slot_ahead_of_its_standby_is_reported() {
        let (txns, rows) = base();
        let mut h = history(txns, rows.clone(), rows);
        h.samples.push(SlotSample {
            at_ms: 40,
            node: "n1".into(),
            slot: "s".into(),
            confirmed_flush: 0x3000100,
            flushed: 0x3000100,
        });
        assert!(check(&h).ok());
        h.samples.push(SlotSample {
            at_ms: 50,
            node: "n1".into(),
            slot: "s".into(),
            confirmed_flush: 0x3000200,
            flushed: 0x3000100,
        });
        let r = check(&h);
        assert_eq!(kinds(&r), vec![Kind::Ahead]);
        assert!(
            r.violations[0].detail.contains("0/3000200"),
            "{}",
            r.violations[0]
        );
    }

    #[test]
    fn lsns_round_trip() {
        assert_eq!(parse_lsn("1/3000200"), Some(0x1_0300_0200));
        assert_eq!(lsn_text(0x1_0300_0200), "1/3000200");
        assert_eq!(parse_lsn("x"), None);
    }
}
