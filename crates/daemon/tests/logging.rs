//! `log:` as upstream 4.1 (issue 12 acceptance 4): JSON lines with upstream's field names and
//! the static fields, written to `log.dir/patroni.log`, rotated before a line would pass
//! `file_size`, keeping `file_num` old files, created with `mode`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use patroni_test_harness::{wait_for, NodeOptions, TestCluster};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_in_a_rotated_log_dir() {
    let opts = NodeOptions {
        scope: "logging".into(),
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 1, &opts);
    let node = &cluster.nodes[0];
    let dir = node.config_path.parent().expect("node dir").join("log");
    let mut config = std::fs::read_to_string(&node.config_path).expect("read config");
    config.push_str(&format!(
        "log:\n  level: DEBUG\n  type: json\n  dir: {}\n  file_size: 1200\n  file_num: 2\n  \
         mode: 0640\n  static_fields:\n    app: patroni-test\n",
        dir.display()
    ));
    std::fs::write(&node.config_path, config).expect("write config");
    cluster.start_all();
    cluster.wait_healthy(0, Duration::from_secs(60)).await;

    // Enough lines for several rotations: the oldest files must be gone by then.
    let log = |n: &str| dir.join(n);
    wait_for("two rotations", Duration::from_secs(60), || async {
        log("patroni.log.2").exists().then_some(())
    })
    .await;
    let before = std::fs::read_to_string(log("patroni.log.2")).expect("read .2");
    wait_for("a third rotation", Duration::from_secs(60), || async {
        let now = std::fs::read_to_string(log("patroni.log.2")).ok()?;
        (now != before).then_some(())
    })
    .await;

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["patroni.log", "patroni.log.1", "patroni.log.2"]);
    for name in &names {
        let path = log(name);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{name}");
        let text = std::fs::read_to_string(&path).expect("read log");
        if name != "patroni.log" {
            assert!(text.len() <= 1200, "{name} is {} bytes", text.len());
        }
        for line in text.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
            let keys: Vec<&str> = v
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["asctime", "levelname", "message", "app"], "{line}");
            assert_eq!(v["app"], "patroni-test");
        }
    }
}
