//! How the demo shows itself. On a terminal: a live panel (phase,
//! transactions per second, rows at the subscriber, replication lag in bytes
//! and milliseconds, the failover slot's `pg_replication_slots` row on the
//! primary and on the standby side by side) redrawn in place below the
//! scrolling list of events, drawn with `indicatif`. Piped: plain lines,
//! each stamped with the seconds since the start, a status line a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::monitor::{SlotRow, Snapshot};
use super::SLOT;

/// The live panel's lines.
struct Panel {
    multi: MultiProgress,
    lines: Vec<ProgressBar>,
}

pub struct View {
    started: Instant,
    panel: Option<Panel>,
    /// Plain mode: when the last status line was printed.
    last_status: Mutex<Option<Instant>>,
}

/// `1.2 kB`-style sizes.
fn bytes(n: Option<u64>) -> String {
    match n {
        None => "-".into(),
        Some(n) if n < 1024 => format!("{n} B"),
        Some(n) if n < 1024 * 1024 => format!("{:.1} kB", n as f64 / 1024.0),
        Some(n) => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
    }
}

fn millis(ms: Option<f64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) => format!("{ms:.0} ms"),
    }
}

fn slot_cols(r: Option<&SlotRow>) -> [String; 4] {
    match r {
        None => ["-".into(), "-".into(), "-".into(), "-".into()],
        Some(r) => [
            r.confirmed_flush_lsn.clone(),
            r.restart_lsn.clone(),
            r.synced.clone(),
            r.temporary.clone(),
        ],
    }
}

impl View {
    /// A live panel when `live`, plain lines otherwise.
    pub fn new(live: bool, started: Instant) -> View {
        let panel = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(10));
            let first = ProgressStyle::with_template("{spinner:.cyan} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let rest = ProgressStyle::with_template("  {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let lines = (0..5)
                .map(|i| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(if i == 0 { first.clone() } else { rest.clone() });
                    bar
                })
                .collect::<Vec<_>>();
            if let Some(b) = lines.first() {
                b.enable_steady_tick(Duration::from_millis(100));
                b.set_message("setting up");
            }
            Panel { multi, lines }
        });
        View {
            started,
            panel,
            last_status: Mutex::new(None),
        }
    }

    fn stamp(&self) -> String {
        format!("{:7.3}s", self.started.elapsed().as_secs_f64())
    }

    /// One thing that happened, above the panel or as a line.
    pub fn event(&self, msg: &str) {
        match &self.panel {
            Some(p) => {
                let line = format!("{} {msg}", style(self.stamp()).dim());
                if p.multi.println(&line).is_err() {
                    println!("{line}");
                }
            }
            None => println!("[{}] {msg}", self.stamp()),
        }
    }

    /// The latest state: redraws the panel, or (plain) prints a status line
    /// at most once a second.
    pub fn status(&self, s: &Snapshot) {
        let slots = [
            slot_cols(s.slot_primary.as_ref()),
            slot_cols(s.slot_standby.as_ref()),
        ];
        let rows = s.sub_rows.map_or_else(|| "-".into(), |n| n.to_string());
        let primary_label = if s.primary_up {
            "primary"
        } else {
            "primary (killed)"
        };
        let standby_label = if s.standby_promoted {
            "standby (promoted)"
        } else {
            "standby"
        };
        let Some(p) = &self.panel else {
            let Ok(mut last) = self.last_status.lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return;
            }
            *last = Some(Instant::now());
            let slot = |label: &str, c: &[String; 4]| {
                format!(
                    "{label} confirmed_flush_lsn={} restart_lsn={} synced={} temporary={}",
                    c[0], c[1], c[2], c[3]
                )
            };
            let stamp = self.stamp();
            println!(
                "[{stamp}] {}: {} tx acknowledged ({:.0} tx/s), {rows} rows at the subscriber; \
                 lag: standby {} / {}, subscriber {} / {}",
                s.phase,
                s.acked,
                s.tps,
                bytes(s.standby_lag_bytes),
                millis(s.standby_lag_ms),
                bytes(s.sub_lag_bytes),
                millis(s.sub_lag_ms),
            );
            println!(
                "[{stamp}]   slot {SLOT}: {} | {}",
                slot(primary_label, &slots[0]),
                slot(standby_label, &slots[1]),
            );
            return;
        };
        let phase = style(format!("{:<8}", s.phase)).bold().yellow();
        let lines = [
            format!(
                "{phase} {:>5.1}s  {} tx acknowledged, {} tx/s, {} rows at the subscriber",
                s.started.elapsed().as_secs_f64(),
                style(s.acked).bold(),
                style(format!("{:.0}", s.tps)).bold(),
                style(rows).bold(),
            ),
            format!(
                "lag   standby {:>9} {:>7}    subscriber {:>9} {:>7}",
                bytes(s.standby_lag_bytes),
                millis(s.standby_lag_ms),
                bytes(s.sub_lag_bytes),
                millis(s.sub_lag_ms),
            ),
            style(format!(
                "slot {SLOT:<15} {:<19} {:<12} {:<6} {:<9}",
                "confirmed_flush_lsn", "restart_lsn", "synced", "temporary"
            ))
            .underlined()
            .to_string(),
            {
                let c = &slots[0];
                let line = format!(
                    "  {primary_label:<18} {:<19} {:<12} {:<6} {:<9}",
                    c[0], c[1], c[2], c[3]
                );
                if s.primary_up {
                    line
                } else {
                    style(line).dim().strikethrough().to_string()
                }
            },
            {
                let c = &slots[1];
                let line = format!(
                    "  {standby_label:<18} {:<19} {:<12} {:<6} {:<9}",
                    c[0], c[1], c[2], c[3]
                );
                if s.standby_promoted {
                    style(line).green().to_string()
                } else {
                    line
                }
            },
        ];
        for (bar, line) in p.lines.iter().zip(lines) {
            bar.set_message(line);
        }
    }

    /// Removes the panel; what follows is printed as plain lines.
    pub fn finish(&self) {
        if let Some(p) = &self.panel {
            for b in &p.lines {
                b.finish_and_clear();
            }
            let _ = p.multi.clear();
        }
    }

    /// Whether the panel is drawn (output is a terminal).
    pub fn live(&self) -> bool {
        self.panel.is_some()
    }
}
