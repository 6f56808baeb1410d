//! Reloading the local configuration (issue 3): `patronictl reload`, `POST /reload` and
//! SIGHUP make a running daemon take a changed YAML file without a restart, and a broken or
//! disallowed change keeps the configuration in force. Also `edit-config` through `$EDITOR`,
//! which needs a cluster but no second node.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use patroni_test_harness::{
    http_get, patronictl, pg_connect, reference_program, run_patronictl, sibling_binary, wait_for,
    NodeOptions, TestCluster,
};

/// Rewrites the node's YAML file with `edit` applied to its text.
fn edit_file(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read config");
    std::fs::write(path, edit(text)).expect("write config");
}

async fn show(port: u16, name: &str) -> Option<String> {
    let c = pg_connect(port).await.ok()?;
    c.query_one(&format!("SHOW {name}"), &[]).await.ok()?.get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_the_changed_file_and_keeps_a_broken_one_out() {
    let opts = NodeOptions::default();
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 1, &opts);
    cluster.start_all();
    cluster.wait_healthy(0, Duration::from_secs(40)).await;
    let node = &cluster.nodes[0];
    let (config, pg_port, api_port) = (node.config_path.clone(), node.pg_port, node.api_port);
    let within = Duration::from_secs(u64::from(opts.loop_wait) + 2);

    // A local parameter and a tag, both only in the file.
    edit_file(&config, |t| {
        t.replace(
            "    fsync: 'off'\n",
            "    fsync: 'off'\n    work_mem: 7MB\n",
        )
        .replace("\ntags:\n", "\ntags:\n  datacenter: west\n")
    });
    let (ok, out) = patronictl(&config, &["reload", "batman", "--force"]);
    assert!(
        ok && out.ends_with(
            "Reload request received for member pg0 and will be processed within 2 seconds\n"
        ),
        "{out}"
    );
    wait_for("work_mem = 7MB after reload", within, || async move {
        (show(pg_port, "work_mem").await? == "7MB").then_some(())
    })
    .await;
    wait_for("the new tag in /patroni", within, || async move {
        let (_, body) = http_get(api_port, "/patroni").await?;
        body.contains("\"tags\": {\"datacenter\": \"west\"}")
            .then_some(())
    })
    .await;
    let tagged = http_get(api_port, "/primary?tag_datacenter=west").await;
    assert_eq!(tagged.map(|(c, _)| c), Some(200));

    // Upstream's patronictl sends the same request and reads the same answer.
    let ctl41 = reference_program("PATRONICTL_41", "/opt/patroni-rs-venv/bin/patronictl");
    let (ok, out) = run_patronictl(Path::new(&ctl41), &config, &["reload", "batman", "--force"]);
    assert!(
        ok && out.contains("Reload request received for member pg0"),
        "{out}"
    );

    // A file that no longer parses, then one that renames the member: both are refused on
    // SIGHUP and the daemon goes on with what it had.
    let good = std::fs::read_to_string(&config).expect("read config");
    std::fs::write(&config, "scope: [batman\n").expect("write config");
    let node = &cluster.nodes[0];
    node.sighup();
    wait_for("the refused reload in the log", within, || async {
        (node.logs().matches("Failed to reload config").count() == 1).then_some(())
    })
    .await;
    std::fs::write(&config, good.replace("name: pg0\n", "name: pg9\n")).expect("write config");
    node.sighup();
    wait_for("the refused rename in the log", within, || async {
        node.logs()
            .contains("Failed to reload config: name cannot change without a restart")
            .then_some(())
    })
    .await;
    let (code, body) = http_get(api_port, "/patroni").await.expect("/patroni");
    assert!(code == 200 && body.contains("\"name\": \"pg0\""), "{body}");
    assert_eq!(show(pg_port, "work_mem").await.as_deref(), Some("7MB"));

    // The file back without the parameter: SIGHUP alone takes it away again.
    std::fs::write(&config, good.replace("    work_mem: 7MB\n", "")).expect("write config");
    node.sighup();
    wait_for("work_mem back to its default", within, || async move {
        (show(pg_port, "work_mem").await? == "4MB").then_some(())
    })
    .await;

    // edit-config with no option opens $EDITOR on the YAML and applies what it saved.
    let run_with_editor = |editor: &str| {
        Command::new(sibling_binary("patronictl"))
            .arg("-c")
            .arg(&config)
            .args(["edit-config", "--force"])
            .env("EDITOR", editor)
            .output()
            .expect("run patronictl")
    };
    let out = run_with_editor("sed -i 's/^loop_wait: 2$/loop_wait: 3/'");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("-loop_wait: 2\n+loop_wait: 3\n"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, shown) = patronictl(&config, &["show-config"]);
    assert!(shown.contains("loop_wait: 3\n"), "{shown}");
    let out = run_with_editor("false");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: Editor exited with return code 1\n"
    );
    let (_, shown) = patronictl(&config, &["show-config"]);
    assert!(shown.contains("loop_wait: 3\n"), "{shown}");
}
