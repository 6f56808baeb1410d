//! The rest of patronictl against a real cluster (issue 3 acceptance 9): `history`, `dsn`,
//! `version`, `flush`, `topology`, and prompts answered through a pseudo-terminal (`script`
//! from util-linux gives patronictl a real terminal and types our answers into it).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use patroni_test_harness::{
    http_request, patronictl, sibling_binary, wait_for, NodeOptions, TestCluster,
};

/// Runs patronictl on a pseudo-terminal, typing `input`; returns what the terminal showed.
fn on_terminal(config: &Path, args: &str, input: &str) -> String {
    let command = format!(
        "{} -c {} {args}",
        sibling_binary("patronictl").display(),
        config.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("PAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in input.split_inclusive('\n') {
        // One answer at a time, as a person types.
        std::thread::sleep(Duration::from_millis(300));
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.flush();
    }
    drop(stdin);
    let out = child.wait_with_output().expect("script");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patronictl_commands() {
    let mut cluster = TestCluster::new(
        Path::new(env!("CARGO_BIN_EXE_patroni")),
        2,
        &NodeOptions::default(),
    );
    cluster.start_all();
    let leader = cluster.wait_healthy(1, Duration::from_secs(40)).await;
    let replica = 1 - leader;
    let config = cluster.nodes[0].config_path.clone();
    let name = |i: usize| cluster.nodes[i].name.clone();

    let (ok, out) = patronictl(&config, &["history", "-f", "json"]);
    assert!(ok && out == "[]\n", "{out}");
    let (ok, out) = patronictl(&config, &["history"]);
    assert!(ok && out == "+----+-----+--------+-----------+------------+\n| TL | LSN | Reason | Timestamp | New Leader |\n+----+-----+--------+-----------+------------+\n+----+-----+--------+-----------+------------+\n", "{out}");

    let (ok, out) = patronictl(&config, &["dsn"]);
    assert!(
        ok && out == format!("host=127.0.0.1 port={}\n", cluster.nodes[leader].pg_port),
        "{out}"
    );
    let (ok, out) = patronictl(&config, &["dsn", "-r", "replica"]);
    assert!(
        ok && out == format!("host=127.0.0.1 port={}\n", cluster.nodes[replica].pg_port),
        "{out}"
    );
    let (ok, out) = patronictl(&config, &["dsn", "-r", "replica", "-m", "pg0"]);
    assert!(
        !ok && out.contains("Error: --role and --member are mutually exclusive options"),
        "{out}"
    );

    let out = Command::new(sibling_binary("patronictl"))
        .arg("-c")
        .arg(&config)
        .args([
            "query",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT 1 AS one, pg_is_in_recovery() AS standby",
        ])
        .env("PGPASSWORD", "zalando")
        .output()
        .expect("query");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "one\tstandby\n1\tf\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(sibling_binary("patronictl"))
        .arg("-c")
        .arg(&config)
        .args([
            "query",
            "-r",
            "replica",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT pg_is_in_recovery()",
        ])
        .env("PGPASSWORD", "zalando")
        .output()
        .expect("query");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pg_is_in_recovery\nt\n"
    );

    let (ok, out) = patronictl(&config, &["version", "batman"]);
    assert!(
        ok && out.contains(&format!("{}: Patroni 4.1.4 PostgreSQL 15.", name(leader))),
        "{out}"
    );

    let (ok, out) = patronictl(&config, &["topology"]);
    assert!(
        ok && out.contains(&format!("| + {} ", name(replica))),
        "{out}"
    );

    // flush restart / switchover.
    let (code, _) = http_request(
        cluster.nodes[replica].api_port,
        "POST",
        "/restart",
        Some(r#"{"schedule":"2099-01-01T00:00:00+00:00"}"#),
    )
    .await
    .expect("POST");
    assert_eq!(code, 202);
    let node = &cluster.nodes[replica];
    wait_for(
        "the schedule in the member key",
        Duration::from_secs(10),
        || async {
            let (_, out) = patronictl(&config, &["list", "-f", "json"]);
            out.contains("2099-01-01T00:00:00+00:00").then_some(())
        },
    )
    .await;
    let (ok, out) = patronictl(&config, &["flush", "batman", "restart", "--force"]);
    assert!(
        ok && out.contains(&format!(
            "Success: flush scheduled restart for member {}",
            node.name
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("No scheduled restart for member {}", name(leader))),
        "{out}"
    );
    let (ok, out) = patronictl(&config, &["flush", "batman", "switchover", "--force"]);
    assert!(ok && out == "No pending scheduled switchover\n", "{out}");
    let (ok, out) = patronictl(
        &config,
        &[
            "switchover",
            "--leader",
            &name(leader),
            "--candidate",
            &name(replica),
            "--scheduled",
            "2099-01-01T00:00+00:00",
            "--force",
        ],
    );
    assert!(ok && out.contains("Switchover scheduled"), "{out}");
    let (ok, out) = patronictl(&config, &["flush", "batman", "switchover", "--force"]);
    assert!(
        ok && out == "Success: scheduled switchover deleted\n",
        "{out}"
    );

    // Interactive switchover: every question answered on a terminal.
    let shown = on_terminal(&config, "switchover", &format!("\n{}\n\ny", name(replica)));
    assert!(
        shown.contains("Primary") && shown.contains(&format!("Candidate ['{}']", name(replica))),
        "{shown}"
    );
    assert!(
        shown.contains("When should the switchover take place"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "Are you sure you want to switchover cluster batman, demoting current leader {}?",
            name(leader)
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "Successfully switched over to \"{}\"",
            name(replica)
        )),
        "{shown}"
    );
    // The new leader publishes /history in its first cycle as a primary, which may come a
    // moment after patronictl saw it take the lock.
    let new_leader = name(replica);
    wait_for(
        "the switchover in the history",
        Duration::from_secs(15),
        || {
            let config = config.clone();
            let new_leader = new_leader.clone();
            async move {
                let (ok, out) = patronictl(&config, &["history", "-f", "tsv"]);
                (ok && out.lines().nth(1).is_some_and(|l| {
                    l.starts_with("1\t") && l.ends_with(&format!("\t{new_leader}"))
                }))
                .then_some(())
            }
        },
    )
    .await;

    // Interactive failover: Enter at the candidate prompt takes the healthiest, offered as
    // the default; `--force` without a candidate still fails as upstream's does.
    let back = cluster.wait_healthy(1, Duration::from_secs(30)).await;
    assert_eq!(back, replica);
    let (ok, out) = patronictl(&config, &["failover", "--force"]);
    assert!(
        !ok && out.ends_with("Error: Failover could be performed only to a specific candidate\n"),
        "{out}"
    );
    let shown = on_terminal(&config, "failover", "\ny\n");
    assert!(
        shown.contains(&format!("Candidate ['{0}'] [{0}]:", name(leader)))
            && shown.contains(&format!("Successfully failed over to \"{}\"", name(leader))),
        "{shown}"
    );

    // edit-config on a terminal: the diff coloured as upstream's, through the pager.
    let shown = on_terminal(&config, "edit-config -s loop_wait=3", "y\n");
    assert!(
        shown.contains("\x1b[1;31m-loop_wait: 2\x1b[0m")
            && shown.contains("\x1b[32m+loop_wait: 3\x1b[0m")
            && shown.contains("Apply these changes?")
            && shown.contains("Configuration changed"),
        "{shown}"
    );

    // remove: three confirmations on a terminal, then the cluster is gone from the DCS.
    for n in &mut cluster.nodes {
        n.terminate();
    }
    let shown = on_terminal(&config, "remove batman", "batman\nYes I am aware\n");
    assert!(
        shown.contains("Please confirm the cluster name to remove"),
        "{shown}"
    );
    let (_, out) = patronictl(&config, &["list", "-f", "json"]);
    let (_, pretty) = patronictl(&config, &["list"]);
    assert!(
        out.trim() == "[]" && pretty.starts_with("+ Cluster: batman (uninitialized)"),
        "{out}{pretty}"
    );
}
