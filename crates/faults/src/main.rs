//! `tandem-faults --seed N --runs M`: runs M seeded fault runs (seeds N,
//! N+1, ...), one line per run and a summary line last; exit status 1 if
//! any run found a violation or could not finish. A failing run prints its
//! seed and, per violation, the shortest history that shows it; then the
//! seed is run again with fewer faults (`shrink`) and the smallest failing
//! schedule is printed with the command that replays it (`--faults-only`).
//! `docs/faults.md` describes the faults and the checker's rules.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use tandem_faults::check::{history_for, Kind};
use tandem_faults::run::{run, Config, Outcome};
use tandem_faults::schedule::{schedule, Params};
use tandem_faults::shrink::shrink;

#[derive(Parser, Debug)]
#[command(
    name = "tandem-faults",
    about = "Seeded fault runs of the logical stream across failover"
)]
struct Args {
    /// Seed of the first run (run i uses seed + i); default from the clock.
    #[arg(long)]
    seed: Option<u64>,
    /// Number of runs.
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// Faults per run (default: 3 to 6, drawn from the seed).
    #[arg(long)]
    faults: Option<usize>,
    /// Shorter holds and gaps (CI).
    #[arg(long)]
    short: bool,
    /// Add a PostgreSQL 17 subscriber (needs PostgreSQL 17, see PG17_BIN).
    #[arg(long)]
    pg17: bool,
    /// Concurrent clients.
    #[arg(long, default_value_t = 3)]
    clients: u32,
    /// Keys of the counter table.
    #[arg(long, default_value_t = 8)]
    keys: u32,
    /// Command for a planned switchover instead of doing it by hand (run
    /// with `sh -c`; FAULTS_OLD_PRIMARY_PORT, FAULTS_NEW_PRIMARY_PORT and
    /// FAULTS_OLD_PRIMARY_DATADIR set).
    #[arg(long)]
    switchover_command: Option<String>,
    /// Copy the data directories (server logs included) of every node of a
    /// failing run to DIR/seed-<seed>/<node> before they are removed.
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
    /// The topology, whatever the seed draws: flat (both standbys stream
    /// from the primary) or cascade (n2 streams from n1).
    #[arg(long, value_parser = ["flat", "cascade"])]
    topology: Option<String>,
    /// Apply only these faults of the seed's schedule (0-based, as listed
    /// by a failing run): replays a shrunk schedule. Needs --runs 1.
    #[arg(long, value_name = "I,J,...", value_delimiter = ',')]
    faults_only: Option<Vec<usize>>,
    /// Do not re-run a failing seed with fewer faults.
    #[arg(long)]
    no_shrink: bool,
    /// Most re-runs spent shrinking one failing run.
    #[arg(long, default_value_t = 8)]
    shrink_runs: usize,
    /// Print every event of every run.
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    if args.keys == 0 || args.clients == 0 {
        eprintln!("tandem-faults: --keys and --clients must be at least 1");
        return ExitCode::from(2);
    }
    if let Some(only) = &args.faults_only {
        let n = schedule(seed, &params(&args)).len();
        if args.runs != 1 || only.iter().any(|i| *i >= n) {
            eprintln!(
                "tandem-faults: --faults-only needs --runs 1 and positions below {n} \
                 (the length of seed {seed}'s schedule)"
            );
            return ExitCode::from(2);
        }
    }
    let tty = std::io::stderr().is_terminal();
    let mut totals = [0u64; Kind::ALL.len()];
    let (mut faults, mut acked, mut unknown, mut errors, mut failed_runs) = (0, 0, 0, 0, 0);
    // panics inside a run are caught and reported; keep their default
    // message off the terminal unless asked
    if !args.verbose {
        std::panic::set_hook(Box::new(|_| {}));
    }
    for i in 0..args.runs {
        let s = seed.wrapping_add(i);
        let cfg = Config {
            seed: s,
            faults: args.faults,
            short: args.short,
            pg17: args.pg17,
            clients: args.clients,
            keys: args.keys,
            switchover_command: args.switchover_command.clone(),
            only: args.faults_only.clone(),
            cascade: args.topology.as_deref().map(|t| t == "cascade"),
            keep: args.keep.clone(),
        };
        let (run_no, runs, verbose) = (i + 1, args.runs, args.verbose);
        let progress: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |what: &str| {
            if verbose {
                eprintln!("run {run_no}/{runs} seed={s}: {what}");
            } else if tty {
                let mut line = format!("run {run_no}/{runs} seed={s}: {what}");
                line.truncate(110);
                eprint!("\r\x1b[K{line}");
                let _ = std::io::stderr().flush();
            }
        });
        let out = run(&cfg, progress);
        if tty && !verbose {
            eprint!("\r\x1b[K");
        }
        faults += out.faults;
        acked += out.report.acked;
        unknown += out.report.unknown;
        for (k, kind) in Kind::ALL.iter().enumerate() {
            totals[k] += out.report.count(*kind);
        }
        println!("run {run_no}/{} seed={s} {}", args.runs, result(&out));
        if let Some(e) = &out.error {
            errors += 1;
            failed_runs += 1;
            println!(
                "  seed {s} could not finish: {}",
                e.lines().next().unwrap_or("")
            );
            for e in out.history.events.iter().rev().take(8).rev() {
                println!("  {:>7} ms  {}", e.at_ms, e.what);
            }
        } else if !out.report.ok() {
            failed_runs += 1;
            println!(
                "  seed {s} failed; replay: {}",
                replay(&args, s, args.faults_only.as_deref())
            );
            // the first violation of each kind, with its history
            let mut shown = Vec::new();
            for v in &out.report.violations {
                if shown.contains(&v.kind) {
                    continue;
                }
                shown.push(v.kind);
                for line in history_for(&out.history, v) {
                    println!("  {line}");
                }
            }
        }
        if let Some(dir) = &out.kept {
            println!("  data directories kept in {}", dir.display());
        }
        let _ = std::io::stdout().flush();
        if out.error.is_none() && !out.report.ok() && !args.no_shrink && args.shrink_runs > 0 {
            shrink_run(&args, &cfg, &out);
        }
    }
    let counts: Vec<String> = Kind::ALL
        .iter()
        .zip(totals)
        .map(|(k, n)| format!("{}={n}", k.name()))
        .collect();
    println!(
        "runs={} faults={faults} acked={acked} unknown={unknown} {} errors={errors}",
        args.runs,
        counts.join(" ")
    );
    if failed_runs > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The schedule's parameters as the arguments give them.
fn params(args: &Args) -> Params {
    Params {
        faults: args.faults,
        subscribers: if args.pg17 { 2 } else { 1 },
        short: args.short,
    }
}

/// What a run's result line says after its seed.
fn result(out: &Outcome) -> String {
    let counts: Vec<String> = Kind::ALL
        .iter()
        .map(|k| format!("{}={}", k.name(), out.report.count(*k)))
        .collect();
    let verdict = match (&out.error, out.report.ok()) {
        (Some(_), _) => "ERROR",
        (None, true) => "ok",
        (None, false) => "FAIL",
    };
    format!(
        "{verdict} {:.1}s topo={} faults={} skipped={} acked={} unknown={} failed={} {}",
        out.secs,
        if out.cascade { "cascade" } else { "flat" },
        out.faults,
        out.skipped,
        out.report.acked,
        out.report.unknown,
        out.report.failed,
        counts.join(" ")
    )
}

/// The command that replays seed `s` (with `only`, those faults alone).
fn replay(args: &Args, s: u64, only: Option<&[usize]>) -> String {
    let mut cmd = format!("tandem-faults --seed {s} --runs 1");
    if let Some(n) = args.faults {
        cmd += &format!(" --faults {n}");
    }
    if args.short {
        cmd += " --short";
    }
    if args.pg17 {
        cmd += " --pg17";
    }
    if args.clients != 3 {
        cmd += &format!(" --clients {}", args.clients);
    }
    if args.keys != 8 {
        cmd += &format!(" --keys {}", args.keys);
    }
    if let Some(t) = &args.topology {
        cmd += &format!(" --topology {t}");
    }
    if let Some(only) = only {
        let list: Vec<String> = only.iter().map(|i| i.to_string()).collect();
        cmd += &format!(" --faults-only {}", list.join(","));
    }
    cmd
}

/// Runs the failing run's seed again with fewer faults (`shrink`): prints
/// each re-run and the smallest schedule that failed with the same kind of
/// violation, or that the failure did not come back.
fn shrink_run(args: &Args, cfg: &Config, out: &Outcome) {
    let s = cfg.seed;
    // positions in the seed's schedule of the faults the failing run had
    let base: Vec<usize> = match &cfg.only {
        Some(only) => only.clone(),
        None => (0..out.schedule.len()).collect(),
    };
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| out.report.count(*k) > 0)
        .collect();
    println!(
        "  shrinking seed {s}: at most {} re-runs with fewer of its {} faults",
        args.shrink_runs,
        base.len()
    );
    let _ = std::io::stdout().flush();
    let pick = |kept: &[usize]| -> Vec<usize> { kept.iter().map(|k| base[*k]).collect() };
    let shown = |faults: &[usize]| -> String {
        let list: Vec<String> = faults.iter().map(|i| i.to_string()).collect();
        format!("[{}]", list.join(","))
    };
    let mut n = 0;
    let r = shrink(base.len(), args.shrink_runs, |kept| {
        n += 1;
        let faults = pick(kept);
        let again = Config {
            only: Some(faults.clone()),
            keep: None,
            ..cfg.clone()
        };
        let o = run(&again, Arc::new(|_: &str| {}));
        let failed = o.error.is_none() && kinds.iter().any(|k| o.report.count(*k) > 0);
        println!(
            "  re-run {n}: faults {} {}{}",
            shown(&faults),
            result(&o),
            match (&o.error, failed) {
                (Some(e), _) => format!(" ({})", e.lines().next().unwrap_or("")),
                (None, true) => " (fails again)".to_string(),
                (None, false) => String::new(),
            }
        );
        let _ = std::io::stdout().flush();
        failed
    });
    let faults = pick(&r.faults);
    if !r.reproduced {
        println!(
            "  seed {s} did not fail again in {} re-runs (an intermittent failure?); \
             its schedule stays whole: {}",
            r.reruns,
            replay(args, s, cfg.only.as_deref())
        );
        return;
    }
    let names: Vec<String> = faults
        .iter()
        .filter_map(|i| out.schedule.get(*i).map(|st| format!("#{i} {}", st.fault)))
        .collect();
    println!(
        "  smallest failing schedule of seed {s} ({} of {} faults, {} re-runs): {}",
        faults.len(),
        base.len(),
        r.reruns,
        if names.is_empty() {
            "no fault at all".to_string()
        } else {
            names.join("; ")
        }
    );
    println!("  replay: {}", replay(args, s, Some(&faults)));
}
