//! `tandem demo`, the README's first command, run as a newcomer runs it:
//!
//! - piped, it sets up primary, synchronous standby and subscriber, kills the
//!   primary under load, fails over, and reports transactions written, lost 0
//!   and duplicated 0, with exit status 0; it leaves no node and no directory
//!   behind;
//! - with `--keep` the nodes it names keep running, answer on the ports it
//!   prints (the subscriber holds the demo's rows), and stop with the
//!   commands it prints.

use std::path::PathBuf;
use std::process::{Command, Output};

use tandem_testkit::tandem_bin;

fn demo(args: &[&str]) -> (Output, String) {
    let out = Command::new(tandem_bin())
        .arg("demo")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run tandem demo: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// The value of report line `key:` (e.g. `lost:`), up to the first space.
fn report_value<'a>(stdout: &'a str, key: &str) -> &'a str {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no report line {key:?} in:\n{stdout}"));
    line.trim_start()[key.len()..]
        .split_whitespace()
        .next()
        .unwrap_or("")
}

/// The data directory the demo announces on its first line.
fn demo_dir(stdout: &str) -> PathBuf {
    let first = stdout.lines().next().unwrap_or("");
    let dir = first
        .rsplit_once("data in ")
        .unwrap_or_else(|| panic!("no directory in the first line: {first:?}"))
        .1;
    PathBuf::from(dir.trim())
}

#[test]
fn demo_fails_over_and_loses_nothing() {
    let (out, stdout) = demo(&["--duration", "3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tandem demo failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let transactions: u32 = report_value(&stdout, "transactions:")
        .parse()
        .unwrap_or_else(|e| panic!("transaction count: {e}\n{stdout}"));
    assert!(transactions > 0, "{stdout}");
    assert_eq!(report_value(&stdout, "lost:"), "0", "{stdout}");
    assert_eq!(report_value(&stdout, "duplicated:"), "0", "{stdout}");
    assert_eq!(report_value(&stdout, "out of order:"), "0", "{stdout}");
    assert!(stdout.contains("result:       PASS"), "{stdout}");
    // piped: plain timestamped lines, no terminal control sequences
    assert!(!stdout.contains('\x1b'), "escape sequences in piped output");
    assert!(
        stdout.contains("] SIGKILL     primary"),
        "no kill line:\n{stdout}"
    );
    // the acknowledged count is a number the report states, and what the
    // standby had at the kill covers it (synchronous commit)
    let acked: u32 = report_value(&stdout, "acknowledged:")
        .parse()
        .unwrap_or_else(|e| panic!("acknowledged count: {e}\n{stdout}"));
    assert!(acked > 0 && acked < transactions, "{stdout}");
    // nothing left behind
    let dir = demo_dir(&stdout);
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

/// Stops what a `--keep` run left, even when the test fails.
struct Kept {
    stop: Vec<Vec<String>>,
    dir: PathBuf,
}

impl Drop for Kept {
    fn drop(&mut self) {
        for cmd in &self.stop {
            let _ = Command::new(&cmd[0]).args(&cmd[1..]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn demo_keep_leaves_nodes_that_answer_and_stop() {
    let (out, stdout) = demo(&["--duration", "1", "--keep", "--seed", "1"]);
    let dir = demo_dir(&stdout);
    let bin = tandem_bin().display().to_string();
    let kept = Kept {
        stop: stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with(&format!("{bin} stop -D ")))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect(),
        dir: dir.clone(),
    };
    assert!(
        out.status.success(),
        "tandem demo --keep failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the promoted standby and the subscriber run; the killed primary does not
    assert_eq!(kept.stop.len(), 2, "stop commands:\n{stdout}");
    let port = |name: &str| -> u16 {
        let line = stdout
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(name) && l.contains("psql -h 127.0.0.1 -p "))
            .unwrap_or_else(|| panic!("no psql line for {name}:\n{stdout}"));
        line.split(" -p ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    };
    let transactions: i64 = report_value(&stdout, "transactions:")
        .parse()
        .unwrap_or_else(|e| panic!("transaction count: {e}\n{stdout}"));
    for node in ["standby", "subscriber"] {
        let conninfo = format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            port(node)
        );
        let client = tandem_testkit::connect(&conninfo)
            .await
            .unwrap_or_else(|e| panic!("connect to the kept {node}: {e}"));
        let row = client
            .query_one("SELECT count(*) FROM log", &[])
            .await
            .unwrap_or_else(|e| panic!("count on the {node}: {e}"));
        assert_eq!(row.get::<_, i64>(0), transactions, "log rows on the {node}");
    }
    // the printed stop commands stop them
    for cmd in &kept.stop {
        let out = Command::new(&cmd[0])
            .args(&cmd[1..])
            .output()
            .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.join("standby").exists());
    drop(kept);
    assert!(!dir.exists());
}
