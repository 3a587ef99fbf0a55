//! `tandem check-failover`: is a standby ready to take over a primary's
//! logical replication? The failover-readiness steps of PostgreSQL 17's
//! "Logical Replication Failover" (`logical-replication.sgml`), run as one
//! command against a standby and its primary's subscribers.
//!
//! On each subscriber it lists the slots a failover needs: the slots of the
//! subscriptions with `failover = true`, and the table synchronization slots
//! of their tables between copy and catch-up (`srsubstate = 'f'`, named
//! `pg_<subid>_sync_<relid>_<system identifier>`). With no subscriber it
//! checks every logical failover slot the standby has.
//!
//! On the standby each slot must exist, be `synced`, not `temporary`, not
//! `conflicting`, and have no `invalidation_reason` (the documented query
//! looks at `conflicting` only, which a `wal_removed` invalidation leaves
//! false). Where the standby has the `pg_failover_readiness` view, its verdict
//! and reason count as well. The standby itself must be in recovery, stream
//! from its primary (`pg_stat_wal_receiver`) and run with
//! `hot_standby_feedback`; `sync_replication_slots = off` is a warning only
//! (slots may be synchronized by calling `pg_sync_replication_slots()`).
//!
//! Output: a table and a verdict line, or with `--json` one JSON document
//! (written here, one escaping function). Exit status: 0 when everything is
//! ready, 1 when something is not, 2 when a server cannot be reached or
//! queried (command-line errors also exit 2, from clap).
//!
//! It owns no state; SQL goes through the demo's sessions (`demo::sql`).
//! `tandem switchover` runs the same check ([`check`]) as a precondition,
//! and shares the session helpers below.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use tandem_client::ConnInfo;

use crate::demo::sql::Sql;

/// How long one query may take before the check gives up.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(clap::Args)]
pub struct CheckFailoverArgs {
    /// Connection string of the standby to check.
    #[arg(long, value_name = "CONNINFO")]
    standby: String,
    /// Connection string of a subscriber of the primary (repeatable).
    #[arg(long = "subscriber", value_name = "CONNINFO")]
    subscribers: Vec<String>,
    /// Print a JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

/// What the standby says about itself.
#[derive(Debug, Default)]
struct StandbyState {
    server: String,
    in_recovery: bool,
    sync_replication_slots: String,
    hot_standby_feedback: String,
    walreceiver_status: Option<String>,
    readiness_view: bool,
}

/// One logical slot as the standby's `pg_replication_slots` shows it.
#[derive(Debug, Clone, Default)]
struct StandbySlot {
    synced: bool,
    temporary: bool,
    conflicting: bool,
    invalidation_reason: Option<String>,
    confirmed_flush_lsn: Option<String>,
    failover: bool,
}

/// One row of `pg_failover_readiness`.
#[derive(Debug, Clone, Default)]
struct ViewRow {
    ready: bool,
    reason: Option<String>,
    lag_bytes: Option<u64>,
    last_sync: Option<String>,
}

/// A slot a failover needs, as a subscriber names it.
#[derive(Debug, Clone)]
struct Wanted {
    subscriber: String,
    subscription: String,
    slot: String,
    kind: &'static str,
    /// The subscription's replication origin position on the subscriber.
    subscriber_lsn: Option<String>,
}

/// The outcome for one slot.
#[derive(Debug)]
pub(crate) struct SlotReport {
    wanted: Wanted,
    pub ready: bool,
    pub reason: Option<String>,
    confirmed_flush_lsn: Option<String>,
    lag_bytes: Option<u64>,
    last_sync: Option<String>,
}

/// The whole outcome.
#[derive(Debug)]
pub(crate) struct Report {
    standby: StandbyState,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub slots: Vec<SlotReport>,
}

impl SlotReport {
    /// The slot's name.
    pub fn slot(&self) -> &str {
        &self.wanted.slot
    }
}

impl Report {
    pub fn ready(&self) -> bool {
        self.problems.is_empty() && self.slots.iter().all(|s| s.ready)
    }
}

/// A failure to reach or query a server: exit status 2.
pub(crate) struct Fatal(pub String);

pub fn run(args: CheckFailoverArgs) -> ExitCode {
    match check(&args.standby, &args.subscribers, &[]) {
        Ok(report) => {
            if args.json {
                println!("{}", render_json(&report));
            } else {
                print!("{}", render_table(&report));
            }
            if report.ready() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(Fatal(msg)) => {
            eprintln!("tandem check-failover: error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `host:port` of the first server `conninfo` names (never its password).
pub(crate) fn server_label(conninfo: &str) -> String {
    ConnInfo::parse(conninfo)
        .ok()
        .and_then(|c| c.targets().ok())
        .and_then(|t| t.into_iter().next())
        .map(|t| format!("{}:{}", t.hostaddr.unwrap_or(t.host), t.port))
        .unwrap_or_else(|| "?".to_string())
}

fn open(conninfo: &str) -> Result<Sql, Fatal> {
    open_as(conninfo, "tandem_check_failover")
}

/// A session on `conninfo` with application name `app` (unless the
/// connection string sets one).
pub(crate) fn open_as(conninfo: &str, app: &str) -> Result<Sql, Fatal> {
    let info = tandem_client::with_application_name(conninfo, app);
    Sql::open(&info, QUERY_TIMEOUT).map_err(|e| Fatal(e.message))
}

/// Runs `sql` on `server`; an error names the server.
pub(crate) fn rows(
    sql: &mut Sql,
    server: &str,
    text: &str,
) -> Result<Vec<Vec<Option<String>>>, Fatal> {
    sql.exec(text)
        .map_err(|e| Fatal(format!("query failed on {server}: {e:#}")))
}

pub(crate) fn is_true(v: &Option<String>) -> bool {
    v.as_deref() == Some("t")
}

pub(crate) fn col(row: &[Option<String>], i: usize) -> Option<String> {
    row.get(i).cloned().flatten()
}

/// The readiness of `standby` for the failover slots of `subscribers`
/// (every failover slot it has when there is none) and for the slots named
/// in `also`.
pub(crate) fn check(
    standby: &str,
    subscribers: &[String],
    also: &[String],
) -> Result<Report, Fatal> {
    let server = server_label(standby);
    let mut sb = open(standby)?;
    let state_rows = rows(
        &mut sb,
        &server,
        "SELECT pg_catalog.pg_is_in_recovery(), \
         pg_catalog.current_setting('sync_replication_slots', true), \
         pg_catalog.current_setting('hot_standby_feedback', true), \
         (SELECT status FROM pg_catalog.pg_stat_wal_receiver LIMIT 1), \
         pg_catalog.to_regclass('pg_catalog.pg_failover_readiness') IS NOT NULL",
    )?;
    let row = state_rows.first().cloned().unwrap_or_default();
    let standby = StandbyState {
        server: server.clone(),
        in_recovery: is_true(&col(&row, 0)),
        sync_replication_slots: col(&row, 1).unwrap_or_default(),
        hot_standby_feedback: col(&row, 2).unwrap_or_default(),
        walreceiver_status: col(&row, 3),
        readiness_view: is_true(&col(&row, 4)),
    };
    let mut standby_slots = BTreeMap::new();
    for r in rows(
        &mut sb,
        &server,
        "SELECT slot_name, synced, temporary, conflicting, invalidation_reason, \
         confirmed_flush_lsn, failover FROM pg_catalog.pg_replication_slots \
         WHERE slot_type = 'logical'",
    )? {
        let Some(name) = col(&r, 0) else { continue };
        standby_slots.insert(
            name,
            StandbySlot {
                synced: is_true(&col(&r, 1)),
                temporary: is_true(&col(&r, 2)),
                conflicting: is_true(&col(&r, 3)),
                invalidation_reason: col(&r, 4),
                confirmed_flush_lsn: col(&r, 5),
                failover: is_true(&col(&r, 6)),
            },
        );
    }
    let mut view = BTreeMap::new();
    if standby.readiness_view {
        for r in rows(
            &mut sb,
            &server,
            "SELECT slot_name, ready, reason, lag_bytes, last_sync \
             FROM pg_catalog.pg_failover_readiness",
        )? {
            let Some(name) = col(&r, 0) else { continue };
            view.insert(
                name,
                ViewRow {
                    ready: is_true(&col(&r, 1)),
                    reason: col(&r, 2).filter(|s| !s.is_empty()),
                    lag_bytes: col(&r, 3).and_then(|v| v.parse().ok()),
                    last_sync: col(&r, 4),
                },
            );
        }
    }
    sb.close();

    let mut wanted = Vec::new();
    if subscribers.is_empty() {
        for (name, s) in &standby_slots {
            if s.failover {
                wanted.push(Wanted {
                    subscriber: String::new(),
                    subscription: String::new(),
                    slot: name.clone(),
                    kind: "slot",
                    subscriber_lsn: None,
                });
            }
        }
    }
    for conninfo in subscribers {
        wanted.extend(subscriber_slots(conninfo)?);
    }
    for name in also {
        if !wanted.iter().any(|w| &w.slot == name) {
            wanted.push(Wanted {
                subscriber: String::new(),
                subscription: String::new(),
                slot: name.clone(),
                kind: "slot",
                subscriber_lsn: None,
            });
        }
    }

    let (problems, warnings) = standby_findings(&standby);
    let slots = wanted
        .into_iter()
        .map(|w| judge(w, &standby_slots, &view, &standby.sync_replication_slots))
        .collect();
    Ok(Report {
        standby,
        problems,
        warnings,
        slots,
    })
}

/// The failover slots one subscriber needs.
fn subscriber_slots(conninfo: &str) -> Result<Vec<Wanted>, Fatal> {
    let server = server_label(conninfo);
    let mut sub = open(conninfo)?;
    let mut origins = BTreeMap::new();
    for r in rows(
        &mut sub,
        &server,
        "SELECT external_id, remote_lsn FROM pg_catalog.pg_replication_origin_status",
    )? {
        if let (Some(id), Some(lsn)) = (col(&r, 0), col(&r, 1)) {
            origins.insert(id, lsn);
        }
    }
    let mut out = Vec::new();
    for r in rows(
        &mut sub,
        &server,
        "SELECT s.oid, s.subname, s.subslotname FROM pg_catalog.pg_subscription s \
         WHERE s.subfailover AND s.subslotname IS NOT NULL ORDER BY s.subname",
    )? {
        let oid = col(&r, 0).unwrap_or_default();
        out.push(Wanted {
            subscriber: server.clone(),
            subscription: col(&r, 1).unwrap_or_default(),
            slot: col(&r, 2).unwrap_or_default(),
            kind: "subscription",
            subscriber_lsn: origins.get(&format!("pg_{oid}")).cloned(),
        });
    }
    for r in rows(
        &mut sub,
        &server,
        "SELECT s.subname, CONCAT('pg_', r.srsubid, '_sync_', r.srrelid, '_', \
         ctl.system_identifier) FROM pg_catalog.pg_control_system() ctl, \
         pg_catalog.pg_subscription_rel r, pg_catalog.pg_subscription s \
         WHERE r.srsubstate = 'f' AND s.oid = r.srsubid AND s.subfailover \
         ORDER BY 1, 2",
    )? {
        out.push(Wanted {
            subscriber: server.clone(),
            subscription: col(&r, 0).unwrap_or_default(),
            slot: col(&r, 1).unwrap_or_default(),
            kind: "tablesync",
            subscriber_lsn: None,
        });
    }
    sub.close();
    Ok(out)
}

/// What is wrong with the standby itself (failures, then warnings).
fn standby_findings(s: &StandbyState) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if !s.in_recovery {
        problems.push("not in recovery: the server is not a standby".to_string());
    } else {
        match s.walreceiver_status.as_deref() {
            Some("streaming") => {}
            Some(other) => problems.push(format!("walreceiver not streaming (status {other})")),
            None => problems.push("no walreceiver: not streaming from a primary".to_string()),
        }
    }
    if s.hot_standby_feedback != "on" {
        problems.push("hot_standby_feedback is off".to_string());
    }
    if s.sync_replication_slots != "on" {
        warnings.push(
            "slot sync not enabled (sync_replication_slots is off): slots are synchronized \
             only by pg_sync_replication_slots()"
                .to_string(),
        );
    }
    (problems, warnings)
}

/// The checks of one slot on the standby; the first failing one is the
/// reason.
fn slot_reason(slot: Option<&StandbySlot>, sync_setting: &str) -> Option<String> {
    let Some(s) = slot else {
        return Some(if sync_setting == "on" {
            "not on the standby".to_string()
        } else {
            "not on the standby (slot sync not enabled)".to_string()
        });
    };
    if let Some(r) = &s.invalidation_reason {
        return Some(format!("invalidated ({r})"));
    }
    if s.conflicting {
        return Some("conflicting".to_string());
    }
    if !s.synced {
        return Some("not synced: a slot created on this server".to_string());
    }
    if s.temporary {
        return Some("temporary: not yet sync-ready".to_string());
    }
    None
}

fn judge(
    w: Wanted,
    slots: &BTreeMap<String, StandbySlot>,
    view: &BTreeMap<String, ViewRow>,
    sync_setting: &str,
) -> SlotReport {
    let slot = slots.get(&w.slot);
    let own = slot_reason(slot, sync_setting);
    let row = view.get(&w.slot);
    let confirmed_flush_lsn = slot.and_then(|s| s.confirmed_flush_lsn.clone());
    // the view's verdict counts too; its reason is the one shown
    let reason = match row {
        Some(v) if !v.ready => Some(
            v.reason
                .clone()
                .or(own)
                .unwrap_or_else(|| "not ready".to_string()),
        ),
        _ => own,
    };
    // without the view: how far the standby's copy is behind what the
    // subscriber has applied (information, not a verdict)
    let lag_bytes = row.and_then(|v| v.lag_bytes).or_else(|| {
        let sub = parse_lsn(w.subscriber_lsn.as_deref()?)?;
        let cf = parse_lsn(confirmed_flush_lsn.as_deref()?)?;
        Some(sub.saturating_sub(cf))
    });
    SlotReport {
        ready: reason.is_none(),
        reason,
        confirmed_flush_lsn,
        lag_bytes,
        last_sync: row.and_then(|v| v.last_sync.clone()),
        wanted: w,
    }
}

/// `X/Y` (hexadecimal halves) as a 64-bit position.
pub(crate) fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn verdict(r: &Report) -> String {
    let total = r.slots.len();
    let not_ready = r.slots.iter().filter(|s| !s.ready).count();
    if r.ready() {
        format!(
            "failover ready: {total} of {total} slot{} ready on standby {}",
            if total == 1 { "" } else { "s" },
            r.standby.server
        )
    } else {
        let mut parts = Vec::new();
        if not_ready > 0 {
            parts.push(format!("{not_ready} of {total} slots not ready"));
        }
        if !r.problems.is_empty() {
            parts.push(format!("standby: {}", r.problems.join("; ")));
        }
        format!(
            "NOT failover ready on standby {}: {}",
            r.standby.server,
            parts.join("; ")
        )
    }
}

/// The table for people: one row per slot, then warnings and the verdict.
pub(crate) fn render_table(r: &Report) -> String {
    let header = ["subscriber", "subscription", "slot", "ready", "reason"];
    let body: Vec<[String; 5]> = r
        .slots
        .iter()
        .map(|s| {
            [
                s.wanted.subscriber.clone(),
                s.wanted.subscription.clone(),
                s.wanted.slot.clone(),
                if s.ready { "yes" } else { "no" }.to_string(),
                s.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &body {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, " {}", text.join(" | ").trim_end());
    };
    line(&mut out, &header);
    let _ = writeln!(
        out,
        "{}",
        width
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    for row in &body {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    let _ = writeln!(
        out,
        "({} row{})",
        body.len(),
        if body.len() == 1 { "" } else { "s" }
    );
    for p in &r.problems {
        let _ = writeln!(out, "standby problem: {p}");
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "{}", verdict(r));
    out
}

/// `s` as a JSON string literal (the workspace's one escaping rule).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    tandem_types::ident::quote_json_string(s, &mut out);
    out
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_string(), json_str)
}

fn json_list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// The JSON document for scripts.
fn render_json(r: &Report) -> String {
    let s = &r.standby;
    let slots: Vec<String> = r
        .slots
        .iter()
        .map(|x| {
            format!(
                "    {{\"subscriber\": {}, \"subscription\": {}, \"slot\": {}, \"kind\": {}, \
                 \"ready\": {}, \"reason\": {}, \"confirmed_flush_lsn\": {}, \
                 \"subscriber_lsn\": {}, \"lag_bytes\": {}, \"last_sync\": {}}}",
                json_opt(
                    Some(&x.wanted.subscriber)
                        .filter(|v| !v.is_empty())
                        .map(|v| v.as_str())
                ),
                json_opt(
                    Some(&x.wanted.subscription)
                        .filter(|v| !v.is_empty())
                        .map(|v| v.as_str())
                ),
                json_str(&x.wanted.slot),
                json_str(x.wanted.kind),
                x.ready,
                json_opt(x.reason.as_deref()),
                json_opt(x.confirmed_flush_lsn.as_deref()),
                json_opt(x.wanted.subscriber_lsn.as_deref()),
                x.lag_bytes
                    .map_or_else(|| "null".to_string(), |v| v.to_string()),
                json_opt(x.last_sync.as_deref()),
            )
        })
        .collect();
    format!(
        "{{\n  \"ready\": {},\n  \"verdict\": {},\n  \"standby\": {{\"server\": {}, \
         \"in_recovery\": {}, \"sync_replication_slots\": {}, \"hot_standby_feedback\": {}, \
         \"walreceiver_status\": {}, \"readiness_view\": {}}},\n  \"problems\": {},\n  \
         \"warnings\": {},\n  \"slots\": [\n{}\n  ]\n}}",
        r.ready(),
        json_str(&verdict(r)),
        json_str(&s.server),
        s.in_recovery,
        json_str(&s.sync_replication_slots),
        json_str(&s.hot_standby_feedback),
        json_opt(s.walreceiver_status.as_deref()),
        s.readiness_view,
        json_list(&r.problems),
        json_list(&r.warnings),
        slots.join(",\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn lsns_parse() {
        assert_eq!(parse_lsn("1/10"), Some((1 << 32) | 0x10));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("x"), None);
    }

    #[test]
    fn first_failing_check_is_the_reason() {
        let ok = StandbySlot {
            synced: true,
            failover: true,
            ..Default::default()
        };
        assert_eq!(slot_reason(Some(&ok), "on"), None);
        let inval = StandbySlot {
            invalidation_reason: Some("wal_removed".into()),
            ..ok.clone()
        };
        assert_eq!(
            slot_reason(Some(&inval), "on").as_deref(),
            Some("invalidated (wal_removed)")
        );
        let temp = StandbySlot {
            temporary: true,
            ..ok.clone()
        };
        assert_eq!(
            slot_reason(Some(&temp), "on").as_deref(),
            Some("temporary: not yet sync-ready")
        );
        assert_eq!(
            slot_reason(None, "off").as_deref(),
            Some("not on the standby (slot sync not enabled)")
        );
    }

    #[test]
    fn the_views_verdict_counts_and_its_reason_is_shown() {
        let wanted = Wanted {
            subscriber: "sub:5432".into(),
            subscription: "s".into(),
            slot: "s".into(),
            kind: "subscription",
            subscriber_lsn: Some("0/200".into()),
        };
        let mut slots = BTreeMap::new();
        slots.insert(
            "s".to_string(),
            StandbySlot {
                synced: true,
                failover: true,
                confirmed_flush_lsn: Some("0/100".into()),
                ..Default::default()
            },
        );
        // no view: the own checks pass; the lag is the subscriber's lead
        let r = judge(wanted.clone(), &slots, &BTreeMap::new(), "on");
        assert!(r.ready);
        assert_eq!(r.lag_bytes, Some(0x100));
        // the view says not ready: its reason and lag are reported
        let mut view = BTreeMap::new();
        view.insert(
            "s".to_string(),
            ViewRow {
                ready: false,
                reason: Some("lagging".into()),
                lag_bytes: Some(7),
                last_sync: None,
            },
        );
        let r = judge(wanted, &slots, &view, "on");
        assert!(!r.ready);
        assert_eq!(r.reason.as_deref(), Some("lagging"));
        assert_eq!(r.lag_bytes, Some(7));
    }
}
