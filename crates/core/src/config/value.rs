//! Typed reads from the untyped configuration tree, with errors that name the key.
//!
//! Patroni keeps its configuration as nested dicts and casts on use; we do the same with a
//! `serde_json::Value` tree so that deep merges (file ← environment, dynamic ← local) stay
//! simple, and convert to typed structs in one place where every error carries its key path.

use serde_json::{Map, Value};

use super::ConfigError;

/// A view of one object in the tree together with its dotted path, for error messages.
#[derive(Clone)]
pub struct Section<'a> {
    path: String,
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Section<'a> {
    /// The root of a configuration tree; an error if the document is not a mapping.
    pub fn root(value: &'a Value) -> Result<Section<'a>, ConfigError> {
        match value {
            Value::Object(map) => Ok(Section {
                path: String::new(),
                map: Some(map),
            }),
            Value::Null => Ok(Section {
                path: String::new(),
                map: None,
            }),
            _ => Err(ConfigError::invalid(
                "",
                "the configuration must be a mapping",
            )),
        }
    }

    /// The dotted key of `key` inside this section.
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value of `key`, treating YAML `null` as absent.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    /// Whether `key` is present and not null.
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    /// A nested section; absent and `null` give an empty section, a scalar is an error.
    pub fn section(&self, key: &str) -> Result<Section<'a>, ConfigError> {
        let path = self.key_path(key);
        match self.raw(key) {
            None => Ok(Section { path, map: None }),
            Some(Value::Object(map)) => Ok(Section {
                path,
                map: Some(map),
            }),
            Some(other) => {
                let message = format!("expected a mapping, got {}", describe(other));
                Err(ConfigError::invalid(&path, message))
            }
        }
    }

    /// Whether this section exists at all.
    pub fn exists(&self) -> bool {
        self.map.is_some()
    }

    /// The keys of this section.
    pub fn keys(&self) -> Vec<&'a String> {
        self.map.map(|m| m.keys().collect()).unwrap_or_default()
    }

    /// A string value (numbers and booleans are accepted and printed, as Python would).
    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(ConfigError::invalid(
                &self.key_path(key),
                format!("expected a string, got {}", describe(other)),
            )),
        }
    }

    /// A string that must be present and non-empty.
    pub fn required_string(&self, key: &str) -> Result<String, ConfigError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(ConfigError::invalid(
                &self.key_path(key),
                "is required but missing",
            )),
        }
    }

    /// An integer; numeric strings are accepted because environment variables are strings.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => as_int(v).map(Some).ok_or_else(|| {
                ConfigError::invalid(
                    &self.key_path(key),
                    format!("expected an integer, got {}", describe(v)),
                )
            }),
        }
    }

    /// A boolean, accepting the spellings Patroni accepts (`on`, `yes`, `1`, ...).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => as_bool(v).map(Some).ok_or_else(|| {
                ConfigError::invalid(
                    &self.key_path(key),
                    format!("expected a boolean, got {}", describe(v)),
                )
            }),
        }
    }

    /// A list of strings; a single string is split on commas (Patroni's `hosts: a,b`).
    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(ConfigError::invalid(
                        &format!("{}[{i}]", self.key_path(key)),
                        format!("expected a string, got {}", describe(other)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(ConfigError::invalid(
                &self.key_path(key),
                format!("expected a list, got {}", describe(other)),
            )),
        }
    }

    /// A mapping as raw JSON.
    pub fn map(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, ConfigError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(ConfigError::invalid(
                &self.key_path(key),
                format!("expected a mapping, got {}", describe(other)),
            )),
        }
    }
}

/// Reads an integer the way Python's `int()` would from a YAML or environment value.
pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a boolean the way Patroni's `parse_bool` does.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().and_then(|i| match i {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Some(true),
            "off" | "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A short description of a value for error messages: `"abc" (a string)`.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b} (a boolean)"),
        Value::Number(n) => format!("{n} (a number)"),
        Value::String(s) => format!("{s:?} (a string)"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// Deep-merges `overlay` into `base`: nested mappings merge, `null` deletes, anything else replaces.
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(existing) = b.get_mut(k) {
                    if existing.is_object() && v.is_object() {
                        deep_merge(existing, v);
                    } else {
                        *existing = v.clone();
                    }
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_deletes_on_null_and_merges_nested() {
        let mut base = json!({"a": 1, "p": {"x": 1, "y": 2}});
        deep_merge(&mut base, &json!({"a": null, "p": {"y": 3, "z": 4}}));
        assert_eq!(base, json!({"p": {"x": 1, "y": 3, "z": 4}}));
    }

    #[test]
    fn bools_and_ints_accept_patroni_spellings() {
        assert_eq!(as_bool(&json!("on")), Some(true));
        assert_eq!(as_bool(&json!("No")), Some(false));
        assert_eq!(as_bool(&json!("maybe")), None);
        assert_eq!(as_int(&json!("30")), Some(30));
        assert_eq!(as_int(&json!("abc")), None);
    }
}
