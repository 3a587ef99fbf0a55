//! pgbench, the real client: initialization, then TPC-B with the simple and the
//! prepared protocol, no failed transaction, and the balance invariants after.

use tandem_testkit::{require_program, Node};

fn run_pgbench(node: &Node, args: &[&str]) -> String {
    let out = node.bin_command("pgbench").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "pgbench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn processed(stdout: &str) -> i64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no transaction count in:\n{stdout}"))
}

fn failed(stdout: &str) -> i64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_tpcb_simple_and_prepared() {
    if !require_program("pgbench") {
        return;
    }
    let mut node = Node::init("pgbench");
    node.start();
    run_pgbench(&node, &["-i", "-s", "1"]);
    let c = node.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM pgbench_accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 100_000);
    let seconds = std::env::var("TANDEM_PGBENCH_SECONDS").unwrap_or_else(|_| "20".into());
    let out = run_pgbench(&node, &["-c", "4", "-j", "2", "-T", &seconds]);
    assert!(processed(&out) > 0);
    assert_eq!(failed(&out), 0, "{out}");
    // -n: otherwise pgbench truncates pgbench_history, and the balance check
    // below must cover every transaction since initialization.
    let out = run_pgbench(
        &node,
        &["-c", "4", "-j", "2", "-T", &seconds, "-M", "prepared", "-n"],
    );
    assert!(processed(&out) > 0);
    assert_eq!(failed(&out), 0, "{out}");
    let history: i64 = c
        .query_one("SELECT count(*) FROM pgbench_history", &[])
        .await
        .unwrap()
        .get(0);
    assert!(history > 0);
    let r = c
        .query_one(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts)::bigint, (SELECT sum(tbalance) FROM pgbench_tellers)::bigint,
                    (SELECT sum(bbalance) FROM pgbench_branches)::bigint, (SELECT sum(delta) FROM pgbench_history)::bigint",
            &[],
        )
        .await
        .unwrap();
    let (a, t, b, h): (i64, i64, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
    assert_eq!(
        (a, t, b),
        (h, h, h),
        "balances must equal the sum of history deltas"
    );
    // select-only and the no-branch-update variant also run clean
    let out = run_pgbench(&node, &["-c", "2", "-T", "3", "-S", "-n"]);
    assert_eq!(failed(&out), 0);
    let out = run_pgbench(&node, &["-c", "2", "-T", "3", "-N", "-n"]);
    assert_eq!(failed(&out), 0);
    node.stop();
}
