//! `tandem switchover`: a planned switchover with zero loss, from
//! connection strings only (the nodes may be on other machines). The
//! primary and one of its standbys swap roles; the failover subscriptions
//! of the given subscribers follow; the former primary becomes a standby of
//! the new one whose failover slots are synced copies again.
//!
//! Steps (`docs/switchover.md` has the reasoning):
//!
//! 1. Preconditions, each a refusal with its reason when it does not hold,
//!    before anything is changed: the primary is not in recovery; the
//!    standby is in recovery, has the primary's system identifier and
//!    timeline, streams from it (`pg_stat_wal_receiver`: port, and the slot
//!    active on the primary); slot sync is on there and every failover slot
//!    of the primary and of the subscribers is ready on it (the check of
//!    `tandem check-failover`, [`crate::check_failover::check`]); each
//!    subscriber is reachable and each of its failover subscriptions
//!    connects to the primary (or names both servers).
//! 2. A physical slot on the standby for the former primary (created unless
//!    an inactive physical slot of that name exists; dropped again if the
//!    demote is refused).
//! 3. `tandem_demote(standby conninfo, slot)` on the primary: a fast
//!    shutdown in PostgreSQL's order (the standby gets the shutdown
//!    checkpoint, failover slots' last state before it), then the primary
//!    restarts as a cascading standby of the standby (server `demote.rs`).
//!    Writes are refused from here.
//! 4. The former primary is back in recovery: its shutdown checkpoint is
//!    read from its control data; the standby must have replayed past it and
//!    hold each failover slot at least at the former primary's final
//!    position. Then `pg_promote()`.
//! 5. `synchronized_standby_slots` of the new primary names the former
//!    primary's slot if the primary had the setting; subscriptions are
//!    re-pointed (`ALTER SUBSCRIPTION ... CONNECTION`), and their slots
//!    must become active on the new primary.
//! 6. The former primary streams from the new primary, and its leftover
//!    failover slots are replaced by synced copies; with
//!    `synchronized_standby_slots` moved in step 5, it is asked to reload
//!    (its slot sync worker then runs a cycle against the new primary at
//!    once; the setting itself arrives with the WAL) and must
//!    report every failover slot ready in `pg_failover_readiness`, so a
//!    switchover back can start right away.
//!
//! Exit status: 0 done, 1 refused (nothing changed), 2 failed after the
//! demote started (the message says what state each node is in and what
//! to run next).

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tandem_client::ConnInfo;
use tandem_types::ident::{quote_identifier, quote_literal};

use crate::check_failover::{self, col, is_true, open_as, parse_lsn, rows, server_label, Fatal};
use crate::demo::sql::Sql;

/// Application name of the tool's sessions.
const APP: &str = "tandem_switchover";

/// Poll interval of the waits.
const POLL: Duration = Duration::from_millis(10);

/// The physical slot for the former primary when none is named and the
/// primary has no `primary_slot_name` of its own.
const DEFAULT_SLOT: &str = "tandem_former_primary";

#[derive(clap::Args)]
pub struct SwitchoverArgs {
    /// Connection string of the primary (becomes a standby).
    #[arg(long, value_name = "CONNINFO")]
    primary: String,
    /// Connection string of its standby (becomes the primary); the former
    /// primary streams from it with this connection string.
    #[arg(long, value_name = "CONNINFO")]
    standby: String,
    /// Connection string of a subscriber whose failover subscriptions
    /// follow (repeatable).
    #[arg(long = "subscriber", value_name = "CONNINFO")]
    subscribers: Vec<String>,
    /// Physical slot on the standby for the former primary (default: the
    /// primary's own primary_slot_name if set, else tandem_former_primary).
    #[arg(long, value_name = "NAME")]
    slot: Option<String>,
    /// Seconds each wait may take.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    timeout: u64,
}

/// What the preconditions found, for the steps that follow.
struct Plan {
    primary: String,
    standby: String,
    slot: String,
    /// The slot was created by the switchover (dropped again on refusal).
    slot_created: bool,
    /// The primary's `synchronized_standby_slots` was set.
    had_standby_slots: bool,
    /// The primary's failover slots (logical, persistent).
    failover_slots: Vec<String>,
    /// Per subscriber: its label and the subscriptions to re-point
    /// (name, slot), and those that already name the new primary.
    subscribers: Vec<Subscriber>,
}

struct Subscriber {
    conninfo: String,
    label: String,
    repoint: Vec<(String, String)>,
    multi_host: Vec<(String, String)>,
}

/// How far a switchover got: what to tell when it fails.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Stage {
    Demoting,
    Promoting,
    Promoted,
    Repointed,
}

/// A failure: before the demote a refusal (nothing changed), after it a
/// failure at a stage.
enum Failure {
    Refused(String),
    Failed(Stage, String),
}

fn refuse<T>(msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Refused(msg.into()))
}

impl From<Fatal> for Failure {
    fn from(f: Fatal) -> Failure {
        Failure::Refused(f.0)
    }
}

pub fn run(args: SwitchoverArgs) -> ExitCode {
    match switchover(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(reason)) => {
            eprintln!("tandem switchover: refused: {reason}");
            eprintln!("nothing was changed");
            ExitCode::from(1)
        }
        Err(Failure::Failed(stage, msg)) => {
            eprintln!("tandem switchover: failed: {msg}");
            eprint!("{}", guidance(stage, &args));
            ExitCode::from(2)
        }
    }
}

/// Milliseconds since `t`.
fn ms(t: Instant) -> u128 {
    t.elapsed().as_millis()
}

/// One step, as it happens.
fn step(t0: Option<Instant>, text: &str) {
    match t0 {
        Some(t) => println!("[{:>5} ms] {text}", ms(t)),
        None => println!("{text}"),
    }
}

/// The first value of the first row.
fn value(sql: &mut Sql, server: &str, text: &str) -> Result<Option<String>, Fatal> {
    Ok(rows(sql, server, text)?.first().and_then(|r| col(r, 0)))
}

/// The socket addresses a connection string names (every host).
fn addrs(conninfo: &str) -> Vec<SocketAddr> {
    let Ok(targets) = ConnInfo::parse(conninfo).and_then(|c| c.targets()) else {
        return Vec::new();
    };
    targets
        .into_iter()
        .flat_map(|t| {
            let host = t.hostaddr.unwrap_or(t.host);
            (host.as_str(), t.port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

/// Whether two connection strings share a server address.
fn same_server(a: &[SocketAddr], b: &[SocketAddr]) -> bool {
    a.iter().any(|x| b.contains(x))
}

fn switchover(args: &SwitchoverArgs) -> Result<(), Failure> {
    let plabel = server_label(&args.primary);
    let slabel = server_label(&args.standby);
    step(
        None,
        &format!("switchover: primary {plabel} -> standby {slabel}"),
    );
    let plan = preconditions(args, &plabel, &slabel)?;
    let deadline = Duration::from_secs(args.timeout);

    // the former primary's slot on the standby
    let mut sb = open_as(&args.standby, APP)?;
    let mut plan = plan;
    let exists = value(
        &mut sb,
        &slabel,
        &format!(
            "SELECT slot_type || ':' || active FROM pg_catalog.pg_replication_slots \
             WHERE slot_name = {}",
            quote_literal(&plan.slot)
        ),
    )?;
    match exists.as_deref() {
        None => {
            rows(
                &mut sb,
                &slabel,
                &format!(
                    "SELECT pg_catalog.pg_create_physical_replication_slot({}, true)",
                    quote_literal(&plan.slot)
                ),
            )?;
            plan.slot_created = true;
            step(
                None,
                &format!(
                    "created physical slot \"{}\" on the standby for the former primary",
                    plan.slot
                ),
            );
        }
        Some("physical:f" | "physical:false") => step(
            None,
            &format!(
                "the former primary will stream through the existing slot \"{}\" on the standby",
                plan.slot
            ),
        ),
        Some(other) => {
            return refuse(format!(
                "slot \"{}\" on the standby {slabel} is in use or not physical ({other}); \
                 name another with --slot",
                plan.slot
            ))
        }
    }

    // the demote: writes are refused from here
    let t0 = Instant::now();
    let mut p = open_as(&args.primary, APP)?;
    let call = format!(
        "SELECT pg_catalog.tandem_demote({}, {})",
        quote_literal(&args.standby),
        quote_literal(&plan.slot)
    );
    if let Err(e) = p.exec(&call) {
        // the server answers before the shutdown ends this session; a
        // connection lost instead (the network) is taken as a success too:
        // the next step checks that the server comes back as a standby
        let text = format!("{e:#}");
        let terminated = e
            .downcast_ref::<tandem_types::PgError>()
            .is_some_and(|pe| pe.code.0 == "57P01" || pe.code.0 == "08006")
            || text.contains("terminating connection")
            || text.contains("server closed the connection unexpectedly");
        if !terminated {
            if plan.slot_created {
                let _ = sb.exec(&format!(
                    "SELECT pg_catalog.pg_drop_replication_slot({})",
                    quote_literal(&plan.slot)
                ));
            }
            return refuse(format!("the primary {plabel} refused to demote: {e:#}"));
        }
    }
    step(
        Some(t0),
        &format!("primary {plabel} demoting: fast shutdown, writes refused from now on"),
    );
    sb.close();
    finish(args, &plan, t0, deadline).map(|summary| println!("{summary}"))
}

/// Every check before anything is changed.
fn preconditions(args: &SwitchoverArgs, plabel: &str, slabel: &str) -> Result<Plan, Failure> {
    let mut p = open_as(&args.primary, APP)?;
    let r = rows(
        &mut p,
        plabel,
        "SELECT pg_catalog.pg_is_in_recovery(), \
         (SELECT system_identifier FROM pg_catalog.pg_control_system()), \
         (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()), \
         pg_catalog.current_setting('port'), \
         pg_catalog.current_setting('synchronized_standby_slots', true), \
         pg_catalog.current_setting('primary_slot_name', true)",
    )?;
    let row = r.first().cloned().unwrap_or_default();
    if is_true(&col(&row, 0)) {
        return refuse(format!("{plabel} is in recovery: it is not a primary"));
    }
    let (psys, ptli, pport) = (col(&row, 1), col(&row, 2), col(&row, 3));
    let had_standby_slots = col(&row, 4).is_some_and(|v| !v.trim().is_empty());
    let own_slot = col(&row, 5).filter(|v| !v.is_empty());
    let failover_slots: Vec<String> = rows(
        &mut p,
        plabel,
        "SELECT slot_name FROM pg_catalog.pg_replication_slots \
         WHERE slot_type = 'logical' AND failover AND NOT temporary ORDER BY 1",
    )?
    .iter()
    .filter_map(|r| col(r, 0))
    .collect();

    let mut s = open_as(&args.standby, APP)?;
    let r = rows(
        &mut s,
        slabel,
        "SELECT pg_catalog.pg_is_in_recovery(), \
         (SELECT system_identifier FROM pg_catalog.pg_control_system()), \
         w.status, w.received_tli, w.sender_port, w.slot_name \
         FROM (SELECT 1) one LEFT JOIN pg_catalog.pg_stat_wal_receiver w ON true",
    )?;
    let row = r.first().cloned().unwrap_or_default();
    if !is_true(&col(&row, 0)) {
        return refuse(format!("{slabel} is not in recovery: it is not a standby"));
    }
    if col(&row, 1) != psys {
        return refuse(format!(
            "{slabel} is not a standby of {plabel}: system identifier {} differs from {}",
            col(&row, 1).unwrap_or_default(),
            psys.unwrap_or_default()
        ));
    }
    if col(&row, 2).as_deref() != Some("streaming") {
        return refuse(format!(
            "{slabel} is not streaming (walreceiver status {})",
            col(&row, 2).unwrap_or_else(|| "none".into())
        ));
    }
    if col(&row, 4) != pport {
        return refuse(format!(
            "{slabel} is not streaming from {plabel}: its walreceiver is connected to port {}",
            col(&row, 4).unwrap_or_default()
        ));
    }
    if col(&row, 3) != ptli {
        return refuse(format!(
            "{slabel} streams timeline {}, the primary is on timeline {}",
            col(&row, 3).unwrap_or_default(),
            ptli.unwrap_or_default()
        ));
    }
    if let Some(slot) = col(&row, 5).filter(|v| !v.is_empty()) {
        let active = value(
            &mut p,
            plabel,
            &format!(
                "SELECT active FROM pg_catalog.pg_replication_slots \
                 WHERE slot_name = {} AND slot_type = 'physical'",
                quote_literal(&slot)
            ),
        )?;
        if active.as_deref() != Some("t") {
            return refuse(format!(
                "{slabel} is not streaming from {plabel}: slot \"{slot}\" is not active there"
            ));
        }
    }
    s.close();
    p.close();

    let paddrs = addrs(&args.primary);
    let saddrs = addrs(&args.standby);
    let mut subscribers = Vec::new();
    for conninfo in &args.subscribers {
        let label = server_label(conninfo);
        let mut sub = open_as(conninfo, APP)?;
        let mut repoint = Vec::new();
        let mut multi_host = Vec::new();
        for r in rows(
            &mut sub,
            &label,
            "SELECT subname, subconninfo, subslotname, subfailover \
             FROM pg_catalog.pg_subscription ORDER BY subname",
        )? {
            let (name, info, slot) = (
                col(&r, 0).unwrap_or_default(),
                col(&r, 1).unwrap_or_default(),
                col(&r, 2).unwrap_or_default(),
            );
            let to = addrs(&info);
            if !same_server(&to, &paddrs) {
                if is_true(&col(&r, 3)) {
                    return refuse(format!(
                        "subscription \"{name}\" on {label} does not connect to the primary \
                         {plabel} (it connects to {})",
                        server_label(&info)
                    ));
                }
                continue;
            }
            if !is_true(&col(&r, 3)) {
                step(
                    None,
                    &format!(
                        "warning: subscription \"{name}\" on {label} is not a failover \
                         subscription: its slot stays behind, the subscription is left as is"
                    ),
                );
                continue;
            }
            if same_server(&to, &saddrs) {
                multi_host.push((name, slot));
            } else {
                repoint.push((name, slot));
            }
        }
        sub.close();
        step(
            None,
            &format!(
                "checked: subscriber {label}: {} failover subscription{} on the primary",
                repoint.len() + multi_host.len(),
                if repoint.len() + multi_host.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
        );
        subscribers.push(Subscriber {
            conninfo: conninfo.clone(),
            label,
            repoint,
            multi_host,
        });
    }
    let report = check_failover::check(&args.standby, &args.subscribers, &failover_slots)?;
    let sync_off = report
        .warnings
        .iter()
        .find(|w| w.contains("sync_replication_slots"));
    if !report.ready() || sync_off.is_some() {
        let mut reasons: Vec<String> = report
            .problems
            .iter()
            .map(|p| format!("standby: {p}"))
            .collect();
        reasons.extend(sync_off.cloned());
        reasons.extend(report.slots.iter().filter(|s| !s.ready).map(|s| {
            format!(
                "failover slot \"{}\" not ready on the standby: {}",
                s.slot(),
                s.reason.clone().unwrap_or_default()
            )
        }));
        return refuse(format!(
            "{slabel} is not ready to take over:\n  {}",
            reasons.join("\n  ")
        ));
    }
    step(
        None,
        &format!(
            "checked: {slabel} streams from {plabel} (timeline {}), slot sync on, \
             {} failover slot{} ready",
            ptli.unwrap_or_default(),
            report.slots.len(),
            if report.slots.len() == 1 { "" } else { "s" }
        ),
    );

    Ok(Plan {
        primary: plabel.to_string(),
        standby: slabel.to_string(),
        slot: args
            .slot
            .clone()
            .or(own_slot)
            .unwrap_or_else(|| DEFAULT_SLOT.to_string()),
        slot_created: false,
        had_standby_slots,
        failover_slots,
        subscribers,
    })
}

/// Polls `f` every [`POLL`] until it returns `Some`, or fails at `stage`
/// after `deadline` with "timed out waiting for WHAT" and the last error.
fn wait<T>(
    stage: Stage,
    what: &str,
    deadline: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, Failure> {
    let end = Instant::now() + deadline;
    let mut last = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = e,
        }
        if Instant::now() > end {
            let tail = if last.is_empty() {
                String::new()
            } else {
                format!(" (last error: {last})")
            };
            return Err(Failure::Failed(
                stage,
                format!("timed out after {deadline:?} waiting for {what}{tail}"),
            ));
        }
        std::thread::sleep(POLL);
    }
}

/// A session on `conninfo`, opened again when the last one broke.
struct Session {
    conninfo: String,
    label: String,
    sql: Option<Sql>,
}

impl Session {
    fn new(conninfo: &str) -> Session {
        Session {
            conninfo: conninfo.to_string(),
            label: server_label(conninfo),
            sql: None,
        }
    }

    fn query(&mut self, text: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        if self.sql.is_none() {
            self.sql = Some(open_as(&self.conninfo, APP).map_err(|f| f.0)?);
        }
        let Some(sql) = self.sql.as_mut() else {
            return Err("no session".into());
        };
        match rows(sql, &self.label, text) {
            Ok(r) => Ok(r),
            Err(f) => {
                self.sql = None;
                Err(f.0)
            }
        }
    }

    fn value(&mut self, text: &str) -> Result<Option<String>, String> {
        Ok(self.query(text)?.first().and_then(|r| col(r, 0)))
    }
}

/// Steps 4 to 6; the summary line.
fn finish(
    args: &SwitchoverArgs,
    plan: &Plan,
    t0: Instant,
    deadline: Duration,
) -> Result<String, Failure> {
    let mut p = Session::new(&args.primary);
    let mut s = Session::new(&args.standby);

    // the former primary back, in recovery: its shutdown checkpoint
    let ckpt = wait(
        Stage::Demoting,
        "the former primary to restart as a standby",
        deadline,
        || {
            let r = p.query(
                "SELECT pg_catalog.pg_is_in_recovery(), \
                 (SELECT checkpoint_lsn FROM pg_catalog.pg_control_checkpoint())",
            )?;
            let row = r.first().cloned().unwrap_or_default();
            Ok(is_true(&col(&row, 0)).then(|| col(&row, 1)).flatten())
        },
    )?;
    step(
        Some(t0),
        &format!(
            "former primary {} restarted as a standby; its shutdown checkpoint is at {ckpt}",
            plan.primary
        ),
    );
    // the standby has all of it, and the failover slots at their final
    // positions: those the former primary still holds as its own (its slot
    // sync may already have replaced them by copies of the standby's; the
    // standby got their final state in the last SLOT_STATE record before
    // the checkpoint it replayed)
    let finals: BTreeMap<String, String> = p
        .query(
            "SELECT slot_name, confirmed_flush_lsn FROM pg_catalog.pg_replication_slots \
             WHERE slot_type = 'logical' AND failover AND NOT synced",
        )
        .map_err(|e| Failure::Failed(Stage::Demoting, e))?
        .iter()
        .filter_map(|r| Some((col(r, 0)?, col(r, 1)?)))
        .filter(|(name, _)| plan.failover_slots.contains(name))
        .collect();
    wait(
        Stage::Demoting,
        "the standby to replay the former primary's shutdown checkpoint",
        deadline,
        || {
            let v = s.value(&format!(
                "SELECT pg_catalog.pg_last_wal_replay_lsn() > {}::pg_lsn",
                quote_literal(&ckpt)
            ))?;
            Ok((v.as_deref() == Some("t")).then_some(()))
        },
    )?;
    let have = wait(
        Stage::Demoting,
        "the standby's failover slots to reach the former primary's final positions",
        deadline,
        || {
            let have: BTreeMap<String, String> = s
                .query(
                    "SELECT slot_name, confirmed_flush_lsn FROM pg_catalog.pg_replication_slots \
                     WHERE slot_type = 'logical' AND synced AND NOT temporary",
                )?
                .iter()
                .filter_map(|r| Some((col(r, 0)?, col(r, 1)?)))
                .collect();
            if let Some(missing) = plan.failover_slots.iter().find(|n| !have.contains_key(*n)) {
                return Err(format!("slot \"{missing}\" is not synced on the standby"));
            }
            let behind = finals.iter().find(|(name, lsn)| {
                let got = have.get(*name).and_then(|v| parse_lsn(v));
                got < parse_lsn(lsn)
            });
            match behind {
                None => Ok(Some(have)),
                Some((name, lsn)) => Err(format!(
                    "slot \"{name}\" at {} on the standby, {lsn} on the former primary",
                    have.get(name).map_or("(missing)", String::as_str)
                )),
            }
        },
    )?;
    step(
        Some(t0),
        &format!(
            "standby {} replayed it; {} failover slot{} synced at the final position{}",
            plan.standby,
            plan.failover_slots.len(),
            if plan.failover_slots.len() == 1 {
                ""
            } else {
                "s"
            },
            if plan.failover_slots.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    plan.failover_slots
                        .iter()
                        .map(|n| format!("{n} {}", have.get(n).map_or("?", String::as_str)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
    );

    // promotion
    let promoted = s
        .value("SELECT pg_catalog.pg_promote(true, 60)")
        .map_err(|e| Failure::Failed(Stage::Promoting, format!("pg_promote() failed: {e}")))?;
    if promoted.as_deref() != Some("t") {
        return Err(Failure::Failed(
            Stage::Promoting,
            "pg_promote() did not complete within 60 s".into(),
        ));
    }
    let refused_ms = ms(t0);
    step(
        Some(t0),
        &format!("standby {} promoted: it accepts writes", plan.standby),
    );
    if plan.had_standby_slots {
        s.query(&format!(
            "ALTER SYSTEM SET synchronized_standby_slots = {}",
            quote_literal(&plan.slot)
        ))
        .and_then(|_| s.query("SELECT pg_catalog.pg_reload_conf()"))
        .map_err(|e| Failure::Failed(Stage::Promoted, e))?;
        step(
            Some(t0),
            &format!(
                "new primary: synchronized_standby_slots = '{}' (the former primary's slot)",
                plan.slot
            ),
        );
    }

    // subscribers
    let mut slots_to_activate = Vec::new();
    for sub in &plan.subscribers {
        let mut conn = Session::new(&sub.conninfo);
        for (name, slot) in &sub.repoint {
            conn.query(&format!(
                "ALTER SUBSCRIPTION {} CONNECTION {}",
                quote_identifier(name),
                quote_literal(&args.standby)
            ))
            .map_err(|e| Failure::Failed(Stage::Promoted, e))?;
            step(
                Some(t0),
                &format!(
                    "subscriber {}: subscription \"{name}\" re-pointed to {}",
                    sub.label, plan.standby
                ),
            );
            slots_to_activate.push(slot.clone());
        }
        for (name, slot) in &sub.multi_host {
            step(
                Some(t0),
                &format!(
                    "subscriber {}: subscription \"{name}\" already names {} among its hosts",
                    sub.label, plan.standby
                ),
            );
            slots_to_activate.push(slot.clone());
        }
    }
    let applying_ms = if slots_to_activate.is_empty() {
        None
    } else {
        let list = slots_to_activate
            .iter()
            .map(|s| quote_literal(s))
            .collect::<Vec<_>>()
            .join(", ");
        let want = slots_to_activate.len().to_string();
        wait(
            Stage::Repointed,
            "the subscriptions to stream from the new primary",
            deadline,
            || {
                let n = s.value(&format!(
                    "SELECT count(*) FROM pg_catalog.pg_replication_slots r \
                     JOIN pg_catalog.pg_stat_replication w ON w.pid = r.active_pid \
                     WHERE r.slot_name IN ({list}) AND w.state = 'streaming'"
                ))?;
                Ok((n.as_deref() == Some(want.as_str())).then_some(()))
            },
        )?;
        let at = ms(t0);
        step(
            Some(t0),
            &format!(
                "subscriptions streaming from the new primary {}",
                plan.standby
            ),
        );
        Some(at)
    };

    // the former primary follows the new one, with synced slots
    wait(
        Stage::Repointed,
        "the former primary to stream from the new primary",
        deadline,
        || {
            let active = s.value(&format!(
                "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
                quote_literal(&plan.slot)
            ))?;
            let status = p.value("SELECT status FROM pg_catalog.pg_stat_wal_receiver")?;
            Ok(
                (active.as_deref() == Some("t") && status.as_deref() == Some("streaming"))
                    .then_some(()),
            )
        },
    )?;
    step(
        Some(t0),
        &format!(
            "former primary {} streams from the new primary through slot \"{}\"",
            plan.primary, plan.slot
        ),
    );
    if !plan.failover_slots.is_empty() {
        let names = plan
            .failover_slots
            .iter()
            .map(|s| quote_literal(s))
            .collect::<Vec<_>>()
            .join(", ");
        let want = plan.failover_slots.len().to_string();
        // waits until every failover slot is a row of `view` meeting `cond`
        // on the former primary
        let all_slots = |p: &mut Session, what: &str, view: &str, cond: &str| {
            wait(Stage::Repointed, what, deadline, || {
                let n = p.value(&format!(
                    "SELECT count(*) FROM pg_catalog.{view} WHERE slot_name IN ({names}) AND {cond}"
                ))?;
                Ok((n.as_deref() == Some(want.as_str())).then_some(()))
            })
        };
        all_slots(
            &mut p,
            "the former primary's failover slots to be replaced by synced copies",
            "pg_replication_slots",
            "synced AND NOT temporary",
        )?;
        step(
            Some(t0),
            &format!(
                "former primary: {} failover slot{} replaced by synced copies",
                plan.failover_slots.len(),
                if plan.failover_slots.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
        );
        if plan.had_standby_slots {
            // The new primary's synchronized_standby_slots reaches the
            // former primary with its WAL (SLOT_STATE records), but the
            // rest of pg_failover_readiness there is as of the last
            // connection cycle, which ran while the new primary was still
            // a standby, and cycles nap up to 30 s when nothing moves: a
            // reload wakes the worker for a cycle now, so the view (and a
            // switchover back) judges against the new primary.
            p.query("SELECT pg_catalog.pg_reload_conf()")
                .map_err(|e| Failure::Failed(Stage::Repointed, e))?;
            all_slots(
                &mut p,
                "the former primary's failover slots to be ready to take over",
                "pg_failover_readiness",
                "ready",
            )?;
            step(
                Some(t0),
                "former primary: failover-ready (pg_failover_readiness)",
            );
        }
    }
    Ok(match applying_ms {
        Some(a) => format!(
            "switchover complete: writes refused for {refused_ms} ms, subscribers applying again after {a} ms"
        ),
        None => format!("switchover complete: writes refused for {refused_ms} ms"),
    })
}

/// What each node is in after a failure at `stage`, and what to run next.
fn guidance(stage: Stage, args: &SwitchoverArgs) -> String {
    let p = server_label(&args.primary);
    let s = server_label(&args.standby);
    match stage {
        Stage::Demoting => format!(
            "state: the primary {p} was asked to demote: it shuts down and restarts as a \
             standby of {s} (standby.signal and primary_conninfo are written; see its log). \
             The standby {s} is still a standby, not promoted; subscribers are unchanged.\n\
             next: once {p} runs as a standby and {s} has replayed its WAL \
             (pg_last_wal_replay_lsn() on {s} past pg_control_checkpoint().checkpoint_lsn \
             of {p}), promote {s} with SELECT pg_promote() and re-point the subscriptions \
             (ALTER SUBSCRIPTION ... CONNECTION); or, to keep {p} as the primary, \
             run SELECT pg_promote() on {p}.\n"
        ),
        Stage::Promoting => format!(
            "state: the former primary {p} is a standby of {s}; {s} was asked to promote \
             and may still be in recovery; subscribers are unchanged.\n\
             next: check SELECT pg_is_in_recovery() on {s}; promote it with \
             SELECT pg_promote() if needed, then re-point the subscriptions \
             (ALTER SUBSCRIPTION ... CONNECTION).\n"
        ),
        Stage::Promoted => format!(
            "state: {s} is the new primary and accepts writes; {p} is its standby; some \
             subscriptions may still connect to {p}.\n\
             next: on each subscriber, ALTER SUBSCRIPTION ... CONNECTION to {s} for the \
             failover subscriptions not yet re-pointed.\n"
        ),
        Stage::Repointed => format!(
            "state: {s} is the new primary, the subscriptions were re-pointed to it; {p} \
             is a standby of {s} that is not yet streaming or syncing its slots.\n\
             next: check pg_stat_wal_receiver and the log of {p}, and \
             tandem check-failover --standby '<conninfo of {p}>'.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_compare_by_address() {
        let p = addrs("host=127.0.0.1 port=5432");
        let p2 = addrs("host=localhost port=5432 dbname=x");
        let s = addrs("host=127.0.0.1 port=5433");
        let both = addrs("host=127.0.0.1,127.0.0.1 port=5432,5433");
        assert!(same_server(&p, &p2) || p2.iter().all(|a| !a.ip().is_loopback() || a.is_ipv6()));
        assert!(!same_server(&p, &s));
        assert!(same_server(&both, &p) && same_server(&both, &s));
        assert!(addrs("port=notanumber").is_empty());
    }
}
