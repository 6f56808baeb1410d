//! Upstream Patroni's example configurations (tests/upstream-examples/README.md says where each
//! comes from) through the real `patroni --validate-config`: each is either valid, or refused
//! with a message naming every key patroni-rs does not support (docs/configuration-keys.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use patroni_core::config::{check_local, load_tree, parse_yaml, value::deep_merge};
use serde_json::{json, Value};

/// Where an example goes in a configuration.
#[derive(Clone, Copy)]
enum Place {
    /// A whole configuration file, run as it is.
    Whole,
    /// A part of the file's top level, merged onto upstream's postgres0.yml.
    Top,
    /// Keys of the dynamic configuration, merged under `bootstrap.dcs` of postgres0.yml.
    Dcs,
    /// Lines of `postgresql.parameters`, merged there in postgres0.yml.
    Parameters,
}

struct Example {
    file: &'static str,
    place: Place,
    /// An environment file read with it (as docker-compose's `env_file`).
    env: Option<&'static str>,
    /// Placeholders of the upstream text that are not YAML, and what stands in for them.
    replace: &'static [(&'static str, &'static str)],
    /// The keys patroni-rs must refuse, in the order the configuration has them.
    refused: &'static [&'static str],
}

const fn example(file: &'static str, place: Place, refused: &'static [&'static str]) -> Example {
    Example {
        file,
        place,
        env: None,
        replace: &[],
        refused,
    }
}

const BOOTSTRAP_METHOD: &[&str] = &["bootstrap.method"];
const REPLICA_METHODS: &[&str] = &["postgresql.create_replica_methods"];

const EXAMPLES: &[Example] = &[
    example("postgres0.yml", Place::Whole, &[]),
    example("postgres1.yml", Place::Whole, &[]),
    example("postgres2.yml", Place::Whole, &["tags.replicatefrom"]),
    Example {
        env: Some("docker-patroni.env"),
        ..example("postgres0.yml", Place::Whole, &[])
    },
    // Its callbacks are supported now.
    example("kubernetes-entrypoint.yml", Place::Top, &[]),
    example(
        "docs/replica_bootstrap-1-custom-bootstrap.yml",
        Place::Top,
        BOOTSTRAP_METHOD,
    ),
    example(
        "docs/replica_bootstrap-2-custom-bootstrap-arguments.yml",
        Place::Top,
        BOOTSTRAP_METHOD,
    ),
    example(
        "docs/replica_bootstrap-3-barman-bootstrap.yml",
        Place::Top,
        BOOTSTRAP_METHOD,
    ),
    example(
        "docs/replica_bootstrap-4-replica-method.yml",
        Place::Top,
        REPLICA_METHODS,
    ),
    Example {
        replace: &[("{{WALE_ENV_DIR}}", "/etc/wal-e.d/env")],
        ..example(
            "docs/replica_bootstrap-5-wal_e.yml",
            Place::Top,
            REPLICA_METHODS,
        )
    },
    example(
        "docs/replica_bootstrap-6-pgbackrest.yml",
        Place::Top,
        REPLICA_METHODS,
    ),
    example(
        "docs/replica_bootstrap-7-barman-replica.yml",
        Place::Top,
        REPLICA_METHODS,
    ),
    example(
        "docs/replica_bootstrap-8-basebackup-map.yml",
        Place::Top,
        &[],
    ),
    example(
        "docs/replica_bootstrap-9-basebackup-list.yml",
        Place::Top,
        &[],
    ),
    example(
        "docs/standby_cluster.yml",
        Place::Top,
        &["bootstrap.dcs.standby_cluster"],
    ),
    example(
        "docs/dynamic_configuration-1-slots.yml",
        Place::Dcs,
        &["bootstrap.dcs.slots", "bootstrap.dcs.ignore_slots"],
    ),
    example(
        "docs/dynamic_configuration-2-member-slots.yml",
        Place::Dcs,
        &["bootstrap.dcs.slots"],
    ),
    example("docs/citus.yml", Place::Top, &["citus"]),
    example("docs/replication_modes.yml", Place::Parameters, &[]),
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream-examples")
}

fn read(file: &str) -> String {
    std::fs::read_to_string(examples_dir().join(file)).expect("example file")
}

/// `KEY=VALUE` lines, as docker-compose reads an `env_file` (values taken literally).
fn env_file(file: &str) -> Vec<(String, String)> {
    read(file)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The file to give patroni: the example itself, or it merged onto postgres0.yml (as JSON,
/// which is YAML) in `work`.
fn configuration_file(ex: &Example, work: &Path) -> PathBuf {
    if let Place::Whole = ex.place {
        return examples_dir().join(ex.file);
    }
    let mut text = read(ex.file);
    for (placeholder, value) in ex.replace {
        text = text.replace(placeholder, value);
    }
    let snippet = parse_yaml(&text, ex.file).expect("the example is YAML");
    let snippet = match ex.place {
        Place::Dcs => json!({"bootstrap": {"dcs": snippet}}),
        Place::Parameters => json!({"postgresql": {"parameters": snippet}}),
        Place::Top | Place::Whole => snippet,
    };
    let mut tree = parse_yaml(&read("postgres0.yml"), "postgres0.yml").expect("base is YAML");
    deep_merge(&mut tree, &snippet);
    let file = work.join("patroni.json");
    std::fs::write(&file, tree.to_string()).expect("write merged configuration");
    file
}

/// Runs `patroni --validate-config` on one example: exit code, stdout, stderr.
fn validate(ex: &Example, work: &Path) -> (i32, String, String, Vec<String>) {
    let file = configuration_file(ex, work);
    let env = ex.env.map(env_file).unwrap_or_default();
    // The examples leave bin_dir empty: PostgreSQL is found in PATH, as upstream does.
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        patroni_test_harness::pg_bin_dir().display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_patroni"))
        .arg("--validate-config")
        .arg(&file)
        .current_dir(work)
        .env_clear()
        .env("PATH", &path)
        .envs(env.iter().cloned())
        .output()
        .expect("run patroni");
    let tree: Value = load_tree(Some(&file), env).expect("load the same configuration");
    let mut judged = check_local(&tree).refused;
    for message in &mut judged {
        *message = message.split(": ").next().unwrap_or("").to_string();
    }
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        judged,
    )
}

#[test]
fn upstream_examples_are_valid_or_refused_naming_each_unsupported_key() {
    let work =
        std::env::temp_dir().join(format!("patroni-upstream-examples-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    for ex in EXAMPLES {
        let (code, stdout, stderr, judged) = validate(ex, &work);
        let name = match ex.env {
            Some(env) => format!("{} with {env}", ex.file),
            None => ex.file.to_string(),
        };
        assert_eq!(
            judged, ex.refused,
            "{name}: the key table disagrees with the test"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        if ex.refused.is_empty() {
            assert_eq!(code, 0, "{name} should be valid: {stderr}");
            assert!(
                stdout.contains("configuration is valid"),
                "{name}: {stdout}"
            );
            continue;
        }
        assert_eq!(
            code, 1,
            "{name} should be refused; stdout {stdout} stderr {stderr}"
        );
        for key in ex.refused {
            assert!(
                stderr.contains(&format!("{key}: not supported yet by patroni-rs")),
                "{name}: {key} is not named: {stderr}"
            );
        }
        assert_eq!(
            stderr.matches("not supported yet by patroni-rs (").count(),
            ex.refused.len(),
            "{name}: exactly the expected keys are refused: {stderr}"
        );
    }
    // A temporary directory left behind on failure to remove it harms nothing.
    let _ = std::fs::remove_dir_all(&work);
}
