//! `tandem-faults --seed N --runs M`: runs M seeded fault runs (seeds N,
//! N+1, ...), one line per run and a summary line last; exit status 1 if
//! any run found a violation or could not finish. A failing run prints its
//! seed and, per violation, the shortest history that shows it.
//! `docs/faults.md` describes the faults and the checker's rules.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use tandem_faults::check::{history_for, Kind};
use tandem_faults::run::{run, Config};

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
        let counts: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{}={}", k.name(), out.report.count(*k)))
            .collect();
        let verdict = match (&out.error, out.report.ok()) {
            (Some(_), _) => "ERROR",
            (None, true) => "ok",
            (None, false) => "FAIL",
        };
        println!(
            "run {run_no}/{} seed={s} {verdict} {:.1}s faults={} skipped={} acked={} unknown={} failed={} {}",
            args.runs,
            out.secs,
            out.faults,
            out.skipped,
            out.report.acked,
            out.report.unknown,
            out.report.failed,
            counts.join(" ")
        );
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
                "  seed {s} failed; replay: tandem-faults --seed {s} --runs 1{}{}",
                if args.short { " --short" } else { "" },
                if args.pg17 { " --pg17" } else { "" }
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
