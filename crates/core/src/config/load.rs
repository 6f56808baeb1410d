//! Reading the configuration tree from files and the environment.

use std::path::Path;

use serde_json::{Map, Value};

use super::value::deep_merge;
use super::{env, ConfigError};

/// Parses one YAML document into a JSON tree; an empty document is an empty mapping.
pub fn parse_yaml(text: &str, origin: &str) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        // The parser adds a source snippet after the first line; the first line has it all.
        message: e
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .trim_start_matches("error: ")
            .to_string(),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        _ => Err(ConfigError::Parse {
            path: origin.to_string(),
            message: "invalid config file: not a mapping".into(),
        }),
    }
}

fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_yaml(&text, &path.display().to_string())
}

/// Builds the configuration tree: file or directory (if given and present), else
/// `PATRONI_CONFIGURATION`, else nothing; then the `PATRONI_*` variables over it
/// (except when `PATRONI_CONFIGURATION` was used, which disables them, as upstream).
pub fn load_tree<I>(path: Option<&Path>, vars: I) -> Result<Value, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let mut tree = Value::Object(Map::new());
    let mut use_env = true;
    match path {
        Some(p) if p.is_dir() => {
            let mut files: Vec<_> = std::fs::read_dir(p)
                .map_err(|source| ConfigError::Io {
                    path: p.display().to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && matches!(f.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                })
                .collect();
            files.sort();
            for f in files {
                deep_merge(&mut tree, &read_file(&f)?);
            }
        }
        Some(p) if p.exists() => tree = read_file(p)?,
        Some(p) if !vars.iter().any(|(k, _)| k == "PATRONI_CONFIGURATION") => {
            return Err(ConfigError::Io {
                path: p.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
        _ => {
            if let Some((_, text)) = vars.iter().find(|(k, _)| k == "PATRONI_CONFIGURATION") {
                tree = parse_yaml(text, "PATRONI_CONFIGURATION")?;
                use_env = false;
            }
        }
    }
    if use_env {
        deep_merge(&mut tree, &env::overrides(vars));
    }
    Ok(tree)
}
