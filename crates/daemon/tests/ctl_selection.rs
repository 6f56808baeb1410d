//! patronictl's member selection, confirmation and per-member result lines, side by side with
//! Patroni 4.1's patronictl on the same cluster: for each command line that stops before it
//! changes anything (or changes nothing), both print the same and exit alike.

use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{
    patronictl, reference_program, run_patronictl, NodeOptions, TestCluster,
};

/// The output without the cluster listing's table lines, which hold LSNs and lags that may
/// move between the two runs; whether a listing was printed is kept as one marker line.
fn without_table(out: &str) -> String {
    let mut kept = Vec::new();
    let mut in_table = false;
    for line in out.lines() {
        let table = line.starts_with('+') || line.starts_with('|');
        if table && !in_table {
            kept.push("<listing>");
        }
        in_table = table;
        if !table {
            kept.push(line);
        }
    }
    kept.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_and_result_lines_match_upstream() {
    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        2,
        &NodeOptions::default(),
    );
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let replica = 1 - leader;
    let config = cluster.nodes[0].config_path.clone();
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let (l, r) = (
        cluster.nodes[leader].name.clone(),
        cluster.nodes[replica].name.clone(),
    );

    let cases: Vec<Vec<&str>> = vec![
        // A name that is no member.
        vec!["restart", "batman", "pg9", "--force"],
        // A role nobody has, with and without names.
        vec!["restart", "batman", "-r", "standby-leader", "--force"],
        vec!["reload", "batman", &l, "-r", "standby-leader", "--force"],
        // reinit only takes replicas; without names and with --force it does nothing.
        vec!["reinit", "batman", &l, "--force"],
        vec!["reinit", "batman", "--force"],
        // --pending with nothing pending restarts nobody.
        vec!["restart", "batman", "--pending", "--force"],
        // Checks made after selection, before any request.
        vec!["restart", "batman", &r, "--pg-version", "9.6", "--force"],
        vec!["restart", "batman", &r, "--pg-version", "a.b", "--force"],
        vec!["restart", "batman", &r, "--scheduled", "garbage", "--force"],
        // Per-member lines for a flush with nothing scheduled.
        vec!["flush", "batman", "restart", "--force"],
        vec!["flush", "batman", &r, "restart", "--force"],
        vec!["flush", "batman", "switchover", "--force"],
        // One member for dsn.
        vec!["dsn", "-r", "standby-leader"],
        vec!["dsn", "-m", &r],
        vec!["dsn", "-r", "replica", "-m", &r],
        // Each member's versions (the first line names the program, which differs).
        vec!["version", "batman"],
        vec!["version", "batman", &r],
        // Questions without a terminal fail on both (with different words: click aborts on
        // end of input, ours names the option), and nothing is done.
        vec!["reload", "batman"],
    ];
    for args in &cases {
        let (ok, ours) = patronictl(&config, args);
        let (ok41, theirs) = run_patronictl(Path::new(&ctl41), &config, args);
        assert_eq!(ok, ok41, "exit status of {args:?}:\n{ours}\n---\n{theirs}");
        if args == &["reload", "batman"] {
            continue;
        }
        let (ours, theirs) = if args[0] == "version" {
            let after_first = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
            (after_first(&ours), after_first(&theirs))
        } else {
            (without_table(&ours), without_table(&theirs))
        };
        assert_eq!(ours, theirs, "output of {args:?}");
    }
}
