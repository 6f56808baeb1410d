//! What the key checks refuse, accept and warn about, on local, dynamic, environment-built
//! and patronictl trees; and that docs/configuration-keys.md lists every key with its status.

use serde_json::{json, Value};

use super::{all_paths, check_ctl, check_dynamic, check_local, Key, Status};
use crate::config::{load_tree, parse_yaml};

fn yaml(text: &str) -> Value {
    parse_yaml(text, "test").expect("test YAML parses")
}

/// The dotted keys named by each message (what comes before the first `: `).
fn keys(messages: &[String]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m.split(": ").next().unwrap_or(""))
        .collect()
}

#[test]
fn synchronous_mode_is_refused_with_the_message_upstream_users_need() {
    let report = check_local(&yaml("bootstrap:\n  dcs:\n    synchronous_mode: true\n"));
    assert_eq!(
        report.refused,
        vec!["bootstrap.dcs.synchronous_mode: not supported yet by patroni-rs (replication would stay asynchronous); remove it or set it to false"]
    );
    let dynamic = check_dynamic(&json!({"synchronous_mode": "quorum"}));
    assert_eq!(keys(&dynamic.refused), ["synchronous_mode"]);
}

#[test]
fn every_refused_key_is_reported() {
    let report = check_local(&yaml(
        "bootstrap:
  method: clone
  clone: {command: /bin/clone.sh, no_params: true}
  dcs:
    standby_cluster: {host: 10.0.0.1, port: 5432}
    failsafe_mode: true
    slots: {s1: {type: physical}}
    postgresql: {recovery_conf: {restore_command: 'cp %f %p'}}
restapi: {listen: ':8008', certfile: /c.pem, allowlist: [10.0.0.0/8]}
postgresql:
  callbacks: {on_role_change: /bin/cb.sh}
  create_replica_methods: [wal_e, basebackup]
  wal_e: {command: restore, no_master: 1}
  authentication: {replication: {username: r, sslmode: verify-full}}
watchdog: {mode: required}
tags: {nostream: true, replicatefrom: pg1, rack: r1}
",
    ));
    let mut refused = keys(&report.refused);
    refused.sort_unstable();
    assert_eq!(
        refused,
        [
            "bootstrap.dcs.failsafe_mode",
            "bootstrap.dcs.slots",
            "bootstrap.dcs.standby_cluster",
            "bootstrap.method",
            "postgresql.authentication.replication.sslmode",
            "postgresql.create_replica_methods",
            "restapi.allowlist",
            "restapi.certfile",
            "tags.nostream",
            "tags.replicatefrom",
            "watchdog",
        ]
    );
    // The method sections named by bootstrap.method and create_replica_methods, the dynamic
    // recovery_conf and the custom tag raise nothing of their own.
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn off_values_are_accepted() {
    let report = check_local(&yaml(
        "bootstrap:
  method: initdb
  dcs:
    synchronous_mode: 'off'
    synchronous_mode_strict: false
    synchronous_node_count: 1
    maximum_lag_on_syncnode: -1
    failsafe_mode: false
    standby_cluster: {host: '', port: '', restore_command: ''}
    slots: {}
    ignore_slots: []
    member_slots_ttl: 0min
    max_timelines_history: 0
restapi: {verify_client: none, allowlist_include_members: 'false', certfile: ''}
ctl: {insecure: false}
postgresql:
  callbacks: {on_start: null}
  create_replica_method: [basebackup]
  pg_ident: []
  authentication: {superuser: {username: p, sslmode: prefer, channel_binding: prefer}}
watchdog: {mode: off, device: /dev/watchdog}
tags: {nostream: false}
log: {type: plain, format: '%(asctime)s %(levelname)s: %(message)s'}
etcd3: {hosts: 'a:2379,b:2379', protocol: http}
",
    ));
    assert_eq!(report, super::KeyReport::default());
    for watchdog in ["watchdog: {mode: false}\n", "watchdog:\n", "watchdog: {}\n"] {
        assert_eq!(check_local(&yaml(watchdog)), super::KeyReport::default());
    }
}

#[test]
fn a_watchdog_that_would_be_used_is_refused() {
    for watchdog in [
        "watchdog: {mode: automatic}\n",
        "watchdog: {mode: required}\n",
        // upstream's default mode is automatic
        "watchdog: {device: /dev/watchdog1}\n",
    ] {
        assert_eq!(keys(&check_local(&yaml(watchdog)).refused), ["watchdog"]);
    }
}

#[test]
fn harmless_keys_are_warned_about_by_name() {
    let report = check_local(&yaml(
        "thread_pool_size: 10
log: {type: json, dir: /var/log/patroni, file_num: 4, level: DEBUG, max_queue_size: 5}
restapi: {server_tokens: Minimal}
postgresql: {use_unix_socket: true, bin_name: {pg_isready: pg_isready15}}
",
    ));
    assert!(report.refused.is_empty());
    assert_eq!(
        keys(&report.warnings),
        [
            "thread_pool_size",
            "log.max_queue_size",
            "restapi.server_tokens",
            "postgresql.use_unix_socket",
            "postgresql.bin_name.pg_isready",
        ]
    );
    assert!(report.warnings[0].contains("has no effect yet in patroni-rs"));
}

#[test]
fn unknown_keys_are_warned_about_with_their_full_path() {
    let report = check_local(&yaml(
        "colour: blue
postgresql:
  parameters: {anything_goes: 1}
  wal_e: {command: x}
  authentication: {superuser: {username: p, options: '-c x=1'}}
tags: {rack: r1, zone: {nested: true}}
bootstrap: {dcs: {primary_race_backoff: 5, postgresql: {parameters_primary: {}}}}
etcd3: {host: 'a:2379', timeout: 3}
",
    ));
    assert_eq!(
        keys(&report.warnings),
        [
            "colour",
            "postgresql.wal_e",
            "postgresql.authentication.superuser.options",
            "bootstrap.dcs.primary_race_backoff",
            "bootstrap.dcs.postgresql.parameters_primary",
            "etcd3.timeout",
        ]
    );
    assert!(report.warnings[0].contains("unknown setting"));
}

#[test]
fn aliases_are_judged_like_their_keys() {
    let ok = check_dynamic(&json!({"master_start_timeout": 30, "master_stop_timeout": 5}));
    assert_eq!(ok, super::KeyReport::default());
    let ok = check_local(&yaml("bootstrap: {post_init: /bin/setup.sh}\n"));
    assert_eq!(ok, super::KeyReport::default());
    let aliased = check_dynamic(&json!({
        "permanent_slots": {"s": null},
        "postgresql": {"create_replica_method": ["wal_g"], "wal_g": {"command": "x", "no_master": true}},
    }));
    assert_eq!(
        keys(&aliased.refused),
        ["permanent_slots", "postgresql.create_replica_method"]
    );
    assert!(aliased.warnings.is_empty(), "{:?}", aliased.warnings);
    let srv = check_local(&yaml("etcd: {discovery_srv: example.org}\n"));
    assert_eq!(keys(&srv.refused), ["etcd.discovery_srv"]);
}

#[test]
fn dynamic_keys_in_the_local_file_are_ignored_or_refused() {
    let report = check_local(&yaml(
        "ttl: 30\nsynchronous_mode: false\nsynchronous_mode_strict: true\n",
    ));
    assert_eq!(keys(&report.refused), ["synchronous_mode_strict"]);
    assert_eq!(keys(&report.warnings), ["ttl", "synchronous_mode"]);
    assert!(report.warnings[0].contains("bootstrap.dcs"));
}

#[test]
fn the_dynamic_configuration_is_judged_relative_to_config() {
    let report = check_dynamic(&json!({
        "ttl": 30,
        "pause": true,
        "postgresql": {
            "use_slots": true,
            "recovery_conf": {"restore_command": "cp %f %p"},
            "data_dir": "/elsewhere",
            "bin_dir": "/usr/lib/postgresql/16/bin",
            "callbacks": {"on_start": "/bin/x"},
        },
        "standby_cluster": {"host": "", "restore_command": "cp %f %p"},
        "member_slots_ttl": "30min",
        "whatever": 1,
    }));
    assert_eq!(
        keys(&report.refused),
        [
            "postgresql.callbacks",
            "standby_cluster",
            "member_slots_ttl"
        ]
    );
    assert_eq!(
        keys(&report.warnings),
        ["postgresql.data_dir", "postgresql.bin_dir", "whatever"]
    );
    assert_eq!(
        check_dynamic(&json!("not a mapping")),
        super::KeyReport::default()
    );
}

#[test]
fn only_the_dcs_section_in_use_is_judged() {
    // etcd3 comes before zookeeper in upstream's order: the zookeeper section is not read.
    let report = check_local(&yaml(
        "etcd3: {host: 'a:2379'}\nzookeeper: {hosts: [z], use_ssl: true, set_acls: {CN=x: [ALL]}}\n",
    ));
    assert_eq!(report, super::KeyReport::default());
    let report = check_local(&yaml(
        "zookeeper: {hosts: [z], use_ssl: true, cacert: /ca}\n",
    ));
    assert_eq!(keys(&report.refused), ["zookeeper.use_ssl"]);
    // consul comes first, and cannot be used.
    let report = check_local(&yaml("consul: {host: 'c:8500'}\netcd3: {host: 'a:2379'}\n"));
    assert_eq!(keys(&report.refused), ["consul"]);
    let report = check_local(&yaml("etcd3: {url: 'https://a:2379'}\n"));
    assert_eq!(keys(&report.refused), ["etcd3.url"]);
    let report = check_local(&yaml("etcd: {hosts: ['a:2379', 'https://b:2379']}\n"));
    assert_eq!(keys(&report.refused), ["etcd.hosts"]);
}

#[test]
fn environment_variables_are_judged_like_the_file() {
    let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let tree = load_tree(
        None,
        vars(&[
            ("PATRONI_RESTAPI_CERTFILE", "/etc/ssl/rest.pem"),
            ("PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "false"),
            ("PATRONI_REPLICATION_SSLMODE", "verify-full"),
            ("PATRONI_SUPERUSER_SSLMODE", ""),
            ("PATRONI_ZOOKEEPER_HOSTS", "z1:2181"),
            ("PATRONI_ZOOKEEPER_USE_SSL", "false"),
            ("PATRONI_CTL_INSECURE", "true"),
            ("PATRONI_LOG_MAX_QUEUE_SIZE", "100"),
        ]),
    )
    .expect("environment tree");
    let report = check_local(&tree);
    let mut refused = keys(&report.refused);
    refused.sort_unstable();
    assert_eq!(
        refused,
        [
            "ctl.insecure",
            "postgresql.authentication.replication.sslmode",
            "restapi.certfile",
        ]
    );
    assert_eq!(keys(&report.warnings), ["log.max_queue_size"]);
    // patronictl reading the same environment refuses only its own TLS setting.
    let ctl = check_ctl(&tree);
    assert_eq!(keys(&ctl.refused), ["ctl.insecure"]);
    assert!(ctl.warnings.is_empty());
}

#[test]
fn patronictl_refuses_only_its_own_tls_and_warns_about_nothing() {
    let tree = yaml(
        "bootstrap: {dcs: {synchronous_mode: true}}
watchdog: {mode: required}
colour: blue
ctl: {certfile: /c.pem}
etcd3: {hosts: ['a:2379'], protocol: https, cacert: /ca.pem}
",
    );
    let report = check_ctl(&tree);
    assert_eq!(
        keys(&report.refused),
        ["ctl.certfile", "etcd3.protocol", "etcd3.cacert"]
    );
    assert!(report.warnings.is_empty());
}

/// The status words docs/configuration-keys.md uses, per section of the page.
fn documented_statuses(section: &str) -> Vec<(String, String)> {
    let page = include_str!("../../../../../docs/configuration-keys.md");
    let body = page
        .split("\n## ")
        .find(|s| s.starts_with(section))
        .unwrap_or_else(|| panic!("docs/configuration-keys.md has no '## {section}' section"));
    let mut rows = Vec::new();
    for line in body.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (paths, status) = (cells[1], cells[2]);
        for path in paths.split(',').map(|p| p.trim().trim_matches('`')) {
            rows.push((path.to_string(), status.to_string()));
        }
    }
    rows
}

fn status_word(key: &Key) -> &'static str {
    match key.status {
        Status::Supported => "supported",
        Status::Part => "follows",
        Status::Warned { .. } => "warning",
        Status::Ignored(_) => "ignored",
        Status::Refused { .. } => "refused",
    }
}

#[test]
fn the_documentation_lists_every_key_with_its_status() {
    let local = documented_statuses("Local configuration");
    let dynamic = documented_statuses("Dynamic configuration");
    let dynamic_count = super::DYNAMIC.len();
    let paths = all_paths();
    let (local_keys, dynamic_keys) = paths.split_at(paths.len() - dynamic_count);
    for (documented, keys) in [(&local, local_keys), (&dynamic, dynamic_keys)] {
        for (path, key) in keys {
            let Some((_, status)) = documented.iter().find(|(p, _)| p == path) else {
                panic!("docs/configuration-keys.md does not list `{path}`");
            };
            assert!(
                status.starts_with(status_word(key)),
                "docs/configuration-keys.md says `{path}` is {status:?}, the table says {}",
                status_word(key)
            );
        }
        for (path, _) in documented {
            assert!(
                keys.iter().any(|(p, _)| p == path),
                "docs/configuration-keys.md lists `{path}`, which the tables do not know"
            );
        }
    }
}

#[test]
fn the_daemon_gets_one_error_naming_every_refused_key() {
    use crate::config::{Config, Strictness};
    let tree = yaml("bootstrap: {dcs: {synchronous_mode: on}}\nwatchdog: {mode: automatic}\n");
    let err = Config::from_tree(tree.clone(), Strictness::Daemon)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("2 settings are not supported yet by patroni-rs:\n  bootstrap.dcs.synchronous_mode: not supported yet"),
        "{err}"
    );
    assert!(err.contains("\n  watchdog: not supported yet"), "{err}");
    // patronictl reads the same file: neither key changes what it does.
    let ctl = Config::from_tree(tree, Strictness::Ctl).expect("patronictl accepts it");
    assert!(ctl.warnings.is_empty(), "{:?}", ctl.warnings);
    let one = Config::from_tree(
        yaml("citus: {group: 0, database: citus}\n"),
        Strictness::Daemon,
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        one.starts_with("citus: not supported yet by patroni-rs ("),
        "{one}"
    );
}
