//! `PATRONI_*` environment variables, mapped onto the configuration tree as upstream does
//! (docs/configuration-keys.md), so deployments that configure Patroni through them keep working.

use serde_json::{Map, Value};

const DCS_KEYS: &[&str] = &[
    "HOST",
    "HOSTS",
    "PORT",
    "USE_PROXIES",
    "PROTOCOL",
    "SRV",
    "SRV_SUFFIX",
    "URL",
    "PROXY",
    "CACERT",
    "CERT",
    "KEY",
    "VERIFY",
    "TOKEN",
    "CHECKS",
    "DC",
    "CONSISTENCY",
    "REGISTER_SERVICE",
    "SERVICE_CHECK_INTERVAL",
    "SERVICE_CHECK_TLS_SERVER_NAME",
    "SERVICE_TAGS",
    "NAMESPACE",
    "CONTEXT",
    "USE_ENDPOINTS",
    "SCOPE_LABEL",
    "ROLE_LABEL",
    "POD_IP",
    "PORTS",
    "LABELS",
    "BYPASS_API_SERVICE",
    "RETRIABLE_HTTP_CODES",
    "KEY_PASSWORD",
    "USE_SSL",
    "SET_ACLS",
    "GROUP",
    "DATABASE",
    "LEADER_LABEL_VALUE",
    "FOLLOWER_LABEL_VALUE",
    "STANDBY_LEADER_LABEL_VALUE",
    "TMP_ROLE_LABEL",
    "AUTH_DATA",
    "BOOTSTRAP_LABELS",
];

const AUTH_KEYS: &[&str] = &[
    "USERNAME",
    "PASSWORD",
    "SSLMODE",
    "SSLKEY",
    "SSLPASSWORD",
    "SSLCERT",
    "SSLROOTCERT",
    "SSLCRL",
    "SSLCRLDIR",
    "GSSENCMODE",
    "CHANNEL_BINDING",
    "SSLNEGOTIATION",
];

const RESTAPI_KEYS: &[&str] = &[
    "LISTEN",
    "CONNECT_ADDRESS",
    "CERTFILE",
    "KEYFILE",
    "KEYFILE_PASSWORD",
    "CAFILE",
    "CIPHERS",
    "VERIFY_CLIENT",
    "ALLOWLIST",
    "ALLOWLIST_INCLUDE_MEMBERS",
    "HTTP_EXTRA_HEADERS",
    "HTTPS_EXTRA_HEADERS",
    "REQUEST_QUEUE_SIZE",
    "SERVER_TOKENS",
    "THREAD_POOL_SIZE",
];

const POSTGRESQL_KEYS: &[&str] = &[
    "LISTEN",
    "CONNECT_ADDRESS",
    "PROXY_ADDRESS",
    "CONFIG_DIR",
    "DATA_DIR",
    "PGPASS",
    "BIN_DIR",
];

const BIN_NAMES: &[&str] = &[
    "PG_CTL",
    "INITDB",
    "PG_CONTROLDATA",
    "PG_BASEBACKUP",
    "POSTGRES",
    "PG_ISREADY",
    "PG_REWIND",
];

/// Builds the tree that the environment describes, to be deep-merged over the file.
///
/// `vars` is the process environment (passed in so that tests need not touch the real one).
pub fn overrides<I>(vars: I) -> Value
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut root = Value::Object(Map::new());
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("PATRONI_") else {
            continue;
        };
        if let Some((path, parsed)) = map_variable(rest, &value) {
            set_path(&mut root, &path, parsed);
        }
    }
    root
}

fn map_variable(rest: &str, value: &str) -> Option<(Vec<String>, Value)> {
    let s = |v: &str| Value::String(v.to_string());
    let path = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    match rest {
        "NAME" | "NAMESPACE" | "SCOPE" => return Some((vec![rest.to_ascii_lowercase()], s(value))),
        "LOGLEVEL" => return Some((path(&["log", "level"]), s(value))),
        "LOGFORMAT" => return Some((path(&["log", "format"]), log_format(value))),
        "THREAD_POOL_SIZE" | "THREAD_STACK_SIZE" => {
            return Some((vec![rest.to_ascii_lowercase()], s(value)))
        }
        _ => {}
    }
    if let Some(key) = rest.strip_prefix("LOG_") {
        let (key, parsed) = match key {
            "DATEFMT" => ("dateformat".to_string(), s(value)),
            "FORMAT" => ("format".to_string(), log_format(value)),
            "STATIC_FIELDS" | "LOGGERS" => (key.to_ascii_lowercase(), parse_map(value)),
            other => (other.to_ascii_lowercase(), s(value)),
        };
        return Some((vec!["log".into(), key], parsed));
    }
    if let Some(key) = rest.strip_prefix("RESTAPI_") {
        return match key {
            "USERNAME" | "PASSWORD" => Some((
                vec![
                    "restapi".into(),
                    "authentication".into(),
                    key.to_ascii_lowercase(),
                ],
                s(value),
            )),
            k if RESTAPI_KEYS.contains(&k) => {
                let parsed = match k {
                    "ALLOWLIST" => parse_list(value),
                    "HTTP_EXTRA_HEADERS" | "HTTPS_EXTRA_HEADERS" => parse_map(value),
                    _ => s(value),
                };
                Some((vec!["restapi".into(), k.to_ascii_lowercase()], parsed))
            }
            _ => None,
        };
    }
    if let Some(key) = rest.strip_prefix("CTL_") {
        return match key {
            "USERNAME" | "PASSWORD" => Some((
                vec![
                    "ctl".into(),
                    "authentication".into(),
                    key.to_ascii_lowercase(),
                ],
                s(value),
            )),
            "INSECURE" | "CACERT" | "CERTFILE" | "KEYFILE" | "KEYFILE_PASSWORD" => {
                Some((vec!["ctl".into(), key.to_ascii_lowercase()], s(value)))
            }
            _ => None,
        };
    }
    if let Some(key) = rest.strip_prefix("POSTGRESQL_") {
        if let Some(bin) = key.strip_prefix("BIN_") {
            if BIN_NAMES.contains(&bin) {
                return Some((
                    vec![
                        "postgresql".into(),
                        "bin_name".into(),
                        bin.to_ascii_lowercase(),
                    ],
                    s(value),
                ));
            }
        }
        if POSTGRESQL_KEYS.contains(&key) {
            return Some((
                vec!["postgresql".into(), key.to_ascii_lowercase()],
                s(value),
            ));
        }
        return None;
    }
    for user in ["SUPERUSER", "REPLICATION", "REWIND"] {
        if let Some(key) = rest.strip_prefix(user).and_then(|k| k.strip_prefix('_')) {
            if AUTH_KEYS.contains(&key) {
                return Some((
                    vec![
                        "postgresql".into(),
                        "authentication".into(),
                        user.to_ascii_lowercase(),
                        key.to_ascii_lowercase(),
                    ],
                    s(value),
                ));
            }
        }
    }
    if let Some(key) = rest.strip_prefix("CITUS_") {
        return match key {
            "GROUP" | "DATABASE" => {
                Some((vec!["citus".into(), key.to_ascii_lowercase()], s(value)))
            }
            _ => None,
        };
    }
    for section in super::dcs::KNOWN_DCS {
        let upper = section.to_ascii_uppercase();
        let Some(key) = rest
            .strip_prefix(upper.as_str())
            .and_then(|k| k.strip_prefix('_'))
        else {
            continue;
        };
        // `PATRONI_ETCD3_*` must not be read as `etcd` + `3_*`.
        if section == "etcd" && key.starts_with('3') {
            continue;
        }
        let allowed = DCS_KEYS.contains(&key)
            || (matches!(section, "etcd" | "etcd3") && matches!(key, "USERNAME" | "PASSWORD"));
        if !allowed {
            return None;
        }
        let parsed = match key {
            "PORT" => value
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| s(value)),
            "HOSTS" | "PORTS" | "CHECKS" | "SERVICE_TAGS" | "RETRIABLE_HTTP_CODES" => {
                parse_list(value)
            }
            "LABELS" | "SET_ACLS" | "AUTH_DATA" | "BOOTSTRAP_LABELS" => parse_map(value),
            "USE_PROXIES" | "REGISTER_SERVICE" | "USE_ENDPOINTS" | "BYPASS_API_SERVICE"
            | "VERIFY" => super::value::as_bool(&s(value))
                .map(Value::Bool)
                .unwrap_or_else(|| s(value)),
            _ => s(value),
        };
        return Some((vec![section.to_string(), key.to_ascii_lowercase()], parsed));
    }
    None
}

/// Patroni's `_parse_list`: YAML flow or block list, or a bare comma list wrapped in `[...]`.
fn parse_list(value: &str) -> Value {
    let trimmed = value.trim();
    let text = if trimmed.starts_with('[') || trimmed.starts_with('-') {
        trimmed.to_string()
    } else {
        format!("[{trimmed}]")
    };
    match serde_saphyr::from_str::<Value>(&text) {
        Ok(v @ Value::Array(_)) => v,
        _ => Value::Array(
            trimmed
                .split(',')
                .map(|p| Value::String(p.trim().to_string()))
                .filter(|p| p.as_str() != Some(""))
                .collect(),
        ),
    }
}

/// `PATRONI_LOG_FORMAT`: a `%(field)s` format string, or else (as upstream reads it) a list of
/// JSON log fields, `[message, {levelname: level}]` or `message, module`.
fn log_format(value: &str) -> Value {
    if value.contains("%(") {
        Value::String(value.to_string())
    } else {
        parse_list(value)
    }
}

/// Patroni's `_parse_dict`: YAML `{k: v}` or bare `k: v` pairs.
fn parse_map(value: &str) -> Value {
    let trimmed = value.trim();
    let text = if trimmed.starts_with('{') {
        trimmed.to_string()
    } else {
        format!("{{{trimmed}}}")
    };
    match serde_saphyr::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(value.to_string()),
    }
}

fn set_path(root: &mut Value, path: &[String], value: Value) {
    let mut node = root;
    for (i, part) in path.iter().enumerate() {
        let Value::Object(map) = node else { return };
        if i + 1 == path.len() {
            map.insert(part.clone(), value);
            return;
        }
        node = map
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
    }
}

/// Whether a variable is one of those Patroni reads (and so must not reach PostgreSQL).
pub fn is_patroni_variable(name: &str) -> bool {
    name.starts_with("PATRONI_") || name.starts_with("KUBERNETES_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Value {
        overrides(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn maps_the_documented_variables() {
        let v = env(&[
            ("PATRONI_NAME", "pg1"),
            ("PATRONI_SCOPE", "demo"),
            ("PATRONI_ETCD3_HOSTS", "'127.0.0.1:2379','127.0.0.1:2380'"),
            ("PATRONI_ETCD3_HOST", "127.0.0.1:2379"),
            ("PATRONI_ETCD_PORT", "2379"),
            ("PATRONI_RESTAPI_USERNAME", "admin"),
            ("PATRONI_SUPERUSER_PASSWORD", "secret"),
            ("PATRONI_POSTGRESQL_DATA_DIR", "/data"),
            ("PATRONI_POSTGRESQL_BIN_PG_CTL", "pg_ctl15"),
            ("PATRONI_LOG_LEVEL", "DEBUG"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(v["name"], "pg1");
        assert_eq!(
            v["etcd3"]["hosts"],
            json!(["127.0.0.1:2379", "127.0.0.1:2380"])
        );
        assert_eq!(v["etcd3"]["host"], "127.0.0.1:2379");
        assert_eq!(v["etcd"]["port"], 2379);
        assert_eq!(v["restapi"]["authentication"]["username"], "admin");
        assert_eq!(
            v["postgresql"]["authentication"]["superuser"]["password"],
            "secret"
        );
        assert_eq!(v["postgresql"]["data_dir"], "/data");
        assert_eq!(v["postgresql"]["bin_name"]["pg_ctl"], "pg_ctl15");
        assert_eq!(v["log"]["level"], "DEBUG");
    }

    #[test]
    fn bare_comma_lists_are_lists() {
        assert_eq!(parse_list("a:1,b:2"), json!(["a:1", "b:2"]));
        assert_eq!(parse_list("[h1, h2]"), json!(["h1", "h2"]));
    }
}
