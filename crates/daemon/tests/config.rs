//! Bad configuration files (issue 2 acceptance 6): each gives one clear message naming the
//! key and exit code 1, before anything is touched.

use std::path::Path;
use std::process::Command;

const GOOD: &str = r#"scope: batman
name: pg0
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
etcd3:
  host: 127.0.0.1:2379
bootstrap:
  dcs:
    ttl: 30
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /nonexistent/data
  bin_dir: BIN_DIR
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
"#;

fn bin_dir() -> String {
    patroni_test_harness::pg_bin_dir().display().to_string()
}

/// Runs `patroni --validate-config` (or the daemon itself) on `yaml`; exit code and stderr.
fn run(yaml: &str, validate: bool) -> (i32, String) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "patroni-config-test-{}-{n}-{validate}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("patroni.yml");
    std::fs::write(&file, yaml.replace("BIN_DIR", &bin_dir())).unwrap();
    let mut cmd = Command::new(Path::new(env!("CARGO_BIN_EXE_patroni")));
    if validate {
        cmd.arg("--validate-config");
    }
    let out = cmd.arg(&file).env_clear().output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_rejected(yaml: &str, expected: &str) {
    for validate in [true, false] {
        let (code, stderr) = run(yaml, validate);
        assert_eq!(
            code, 1,
            "exit code for {expected:?} (validate={validate}); stderr: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "message should contain {expected:?}, got: {stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one clear message: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_good_file_validates() {
    let (code, stderr) = run(GOOD, true);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn missing_scope() {
    assert_rejected(
        &GOOD.replace("scope: batman\n", ""),
        "scope: is required but missing",
    );
}

#[test]
fn ttl_not_a_number() {
    assert_rejected(
        &GOOD.replace("ttl: 30", "ttl: thirty"),
        "bootstrap.dcs.ttl: expected an integer, got \"thirty\"",
    );
}

#[test]
fn unknown_dcs_section() {
    assert_rejected(&GOOD.replace("etcd3:", "etcd4:"), "no DCS section found: expected one of consul, etcd, etcd3, exhibitor, kubernetes, raft, zookeeper (unknown section etcd4)");
}

#[test]
fn wrong_bin_dir() {
    assert_rejected(
        &GOOD.replace("bin_dir: BIN_DIR", "bin_dir: /usr/lib/postgresql/nope/bin"),
        "postgresql.bin_dir: /usr/lib/postgresql/nope/bin is not a directory",
    );
    assert_rejected(
        &GOOD.replace("bin_dir: BIN_DIR", "bin_dir: /tmp"),
        "postgresql.bin_dir: cannot find the PostgreSQL program /tmp/postgres",
    );
}

#[test]
fn wrong_types_and_yaml_errors() {
    assert_rejected(
        &GOOD.replace("  listen: 127.0.0.1:8008", "  listen: [1, 2]"),
        "restapi.listen: expected a string",
    );
    assert_rejected(&format!("{GOOD}tags: 5\n"), "tags: expected a mapping");
    assert_rejected("scope: [unclosed\n", "cannot parse configuration file");
    assert_rejected(
        &GOOD.replace("      username: postgres\n", ""),
        "postgresql.authentication.superuser.username: is required but missing",
    );
}

#[test]
fn environment_fills_a_file_without_dcs_section() {
    let yaml = GOOD.replace("etcd3:\n  host: 127.0.0.1:2379\n", "");
    let dir = std::env::temp_dir().join(format!("patroni-config-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("patroni.yml");
    std::fs::write(&file, yaml.replace("BIN_DIR", &bin_dir())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patroni"))
        .arg("--validate-config")
        .arg(&file)
        .env_clear()
        .env("PATRONI_ETCD3_HOST", "127.0.0.1:2379")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_zookeeper_and_exhibitor_sections() {
    let zk = |section: &str| GOOD.replace("etcd3:\n  host: 127.0.0.1:2379\n", section);
    assert_rejected(
        &zk("zookeeper:\n  use_ssl: false\n"),
        "zookeeper.hosts: is required",
    );
    assert_rejected(
        &zk("zookeeper:\n  hosts: ['127.0.0.1:21x81']\n"),
        "zookeeper.hosts[0]: expected host or host:port",
    );
    assert_rejected(
        &zk("exhibitor:\n  hosts: [zk1]\n  port: nope\n"),
        "exhibitor.port: expected an integer",
    );
    assert_rejected(
        &zk("exhibitor:\n  hosts: [zk1]\n"),
        "exhibitor.port: is required",
    );
    let (code, out) = run(&zk("zookeeper:\n  hosts: 127.0.0.1:2181,127.0.0.2\n"), true);
    assert_eq!(code, 0, "a good zookeeper section validates: {out}");
}

/// `GOOD` with `extra` added to its `bootstrap.dcs`.
fn with_dcs(extra: &str) -> String {
    GOOD.replace("    ttl: 30\n", &format!("    ttl: 30\n{extra}"))
}

#[test]
fn synchronous_mode_is_refused_by_name() {
    assert_rejected(
        &with_dcs("    synchronous_mode: true\n"),
        "bootstrap.dcs.synchronous_mode: not supported yet by patroni-rs (replication would stay asynchronous); remove it or set it to false",
    );
}

#[test]
fn every_refused_key_is_named_in_one_error() {
    let yaml = format!(
        "{}watchdog:\n  mode: required\ntags:\n  replicatefrom: pg1\n",
        with_dcs("    failsafe_mode: true\n    standby_cluster:\n      host: 10.0.0.1\n").replace(
            "  connect_address: 127.0.0.1:8008\n",
            "  connect_address: 127.0.0.1:8008\n  certfile: /etc/ssl/rest.pem\n"
        )
    );
    for validate in [true, false] {
        let (code, stderr) = run(&yaml, validate);
        assert_eq!(code, 1, "validate={validate}: {stderr}");
        assert!(
            stderr.starts_with(
                "patroni: invalid configuration: 5 settings are not supported yet by patroni-rs:\n"
            ),
            "{stderr}"
        );
        for key in [
            "restapi.certfile",
            "bootstrap.dcs.failsafe_mode",
            "bootstrap.dcs.standby_cluster",
            "watchdog",
            "tags.replicatefrom",
        ] {
            assert!(
                stderr.contains(&format!("\n  {key}: not supported yet by patroni-rs (")),
                "{key} not named: {stderr}"
            );
        }
    }
}

#[test]
fn an_unknown_key_is_warned_about_and_the_file_stays_valid() {
    let (code, stderr) = run(&format!("{GOOD}colour: blue\n"), true);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "warning: colour: unknown setting (not in Patroni 4.1's configuration), ignored"
        ),
        "{stderr}"
    );
}

#[test]
fn synchronous_mode_false_passes() {
    let (code, stderr) = run(
        &format!(
            "{}watchdog:\n  mode: off\n",
            with_dcs("    synchronous_mode: false\n")
        ),
        true,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "no warning either: {stderr}");
}
