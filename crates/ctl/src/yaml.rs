//! YAML as PyYAML's `safe_dump(default_flow_style=False, sort_keys=True)` writes it, for
//! `show-config` and the diff of `edit-config`: users compare these texts with upstream's.

use serde_json::Value;

/// Whether PyYAML would quote this plain string.
pub fn needs_quotes(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    let special = [
        "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n",
    ];
    s.parse::<f64>().is_ok()
        || special.contains(&lower.as_str())
        || s.starts_with(|c: char| "!&*-?:,[]{}#|>@`\"'% ".contains(c))
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || (s.len() >= 10
            && s.as_bytes()[4] == b'-'
            && s.as_bytes()[7] == b'-'
            && s[..4].chars().all(|c| c.is_ascii_digit()))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if needs_quotes(s) => format!("'{}'", s.replace('\'', "''")),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        _ => String::new(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) if !o.is_empty() => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for k in keys {
                let child = &o[k];
                let key = if needs_quotes(k) {
                    format!("'{k}'")
                } else {
                    k.clone()
                };
                if is_block(child) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    // PyYAML does not indent a list under a mapping key.
                    let child_indent = if child.is_array() { indent } else { indent + 2 };
                    emit(child, child_indent, out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(child)));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if is_block(item) {
                    let mut inner = String::new();
                    emit(item, indent + 2, &mut inner);
                    let trimmed = inner
                        .strip_prefix(&" ".repeat(indent + 2))
                        .unwrap_or(&inner);
                    out.push_str(&format!("{pad}- {trimmed}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// The whole document.
pub fn dump(v: &Value) -> String {
    let mut out = String::new();
    emit(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn like_pyyaml() {
        let v = json!({"ttl": 30, "postgresql": {"use_slots": true, "parameters": {"wal_keep_size": "128MB", "hot_standby": "on"}, "pg_hba": ["host all all 0.0.0.0/0 md5"]}, "loop_wait": 10});
        assert_eq!(
            super::dump(&v),
            "loop_wait: 10\npostgresql:\n  parameters:\n    hot_standby: 'on'\n    wal_keep_size: 128MB\n  pg_hba:\n  - host all all 0.0.0.0/0 md5\n  use_slots: true\nttl: 30\n"
        );
    }
}
