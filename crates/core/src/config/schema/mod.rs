//! Which of upstream Patroni 4.1's configuration keys patroni-rs honours.
//!
//! The rule (docs/configuration-keys.md): a key either works as upstream's does, or is refused
//! by `--validate-config` and at start with a message naming it; a key whose absence of effect
//! is harmless is accepted with a warning; a key upstream does not know gets a warning.
//! A refused key set to its "off" value (`synchronous_mode: false`) is accepted.

mod dcs_keys;
mod dynamic_keys;
mod keys;
mod local_keys;
mod postgresql_keys;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use super::dcs::KNOWN_DCS;
use dynamic_keys::DYNAMIC;
use keys::{is_unset, Key, Kind, Status};
use local_keys::LOCAL;

/// What a configuration asks for that patroni-rs does not do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyReport {
    /// Keys that must not be ignored, one message each, naming the dotted key.
    pub refused: Vec<String>,
    /// Keys that are accepted and have no effect, one message each, naming the dotted key.
    pub warnings: Vec<String>,
}

/// The whole local configuration tree (YAML merged with PATRONI_* variables).
pub fn check_local(tree: &Value) -> KeyReport {
    check_root(tree, Mode::Daemon)
}

/// The same tree as read by patronictl: only what changes patronictl's own connections is
/// refused (TLS to the REST API and to the DCS), and nothing is warned about.
pub fn check_ctl(tree: &Value) -> KeyReport {
    check_root(tree, Mode::Ctl)
}

/// What a change of the dynamic configuration from `before` to `after` newly asks for that
/// patroni-rs cannot honour (one message per key). Keys already refused in `before` are not
/// repeated: they were written by someone else and the daemons warn about them.
pub fn newly_refused(before: &Value, after: &Value) -> Vec<String> {
    let already = check_dynamic(before).refused;
    check_dynamic(after)
        .refused
        .into_iter()
        .filter(|r| !already.contains(r))
        .collect()
}

/// The dynamic configuration as stored in the DCS `/config` key (or bootstrap.dcs), keys
/// reported relative to it (e.g. "synchronous_mode", "postgresql.recovery_conf").
pub fn check_dynamic(config: &Value) -> KeyReport {
    let mut walker = Walker {
        mode: Mode::Daemon,
        report: KeyReport::default(),
    };
    if let Some(map) = config.as_object() {
        walker.walk(DYNAMIC, "", "", map, false);
    }
    walker.report
}

/// Whether `name` is a top-level key upstream knows (local or dynamic).
pub fn is_known_top_level(name: &str) -> bool {
    lookup(LOCAL, name).is_some() || lookup(DYNAMIC, name).is_some()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Daemon,
    Ctl,
}

fn check_root(tree: &Value, mode: Mode) -> KeyReport {
    let mut walker = Walker {
        mode,
        report: KeyReport::default(),
    };
    let Some(root) = tree.as_object() else {
        return walker.report;
    };
    // Only the DCS section upstream would pick (the first present, in its order) is read.
    let in_use = KNOWN_DCS
        .iter()
        .find(|k| root.get(**k).is_some_and(|v| !v.is_null()));
    for (name, value) in root {
        if KNOWN_DCS.contains(&name.as_str()) && Some(&name.as_str()) != in_use {
            continue;
        }
        match (lookup(LOCAL, name), lookup(DYNAMIC, name)) {
            (Some(key), _) => walker.visit(LOCAL, key, name, name, value, root),
            (None, Some(key)) => walker.dynamic_in_local(key, name, value, root),
            (None, None) => walker.unknown(name),
        }
    }
    walker.report
}

struct Walker {
    mode: Mode,
    report: KeyReport,
}

impl Walker {
    /// Checks the children of `map`, found at `rel` in `table` and at `abs` in the whole tree.
    fn walk(
        &mut self,
        table: &'static [Key],
        rel: &str,
        abs: &str,
        map: &Map<String, Value>,
        free: bool,
    ) {
        for (name, value) in map {
            let rel_path = join(rel, name);
            let abs_path = join(abs, name);
            match lookup(table, &rel_path) {
                Some(key) => self.visit(table, key, &rel_path, &abs_path, value, map),
                None if free || is_method_section(rel, name, map) => {}
                None => self.unknown(&abs_path),
            }
        }
    }

    fn visit(
        &mut self,
        table: &'static [Key],
        key: &Key,
        rel: &str,
        abs: &str,
        value: &Value,
        parent: &Map<String, Value>,
    ) {
        match key.status {
            Status::Supported | Status::Part => {}
            Status::Warned { effect, off } => {
                if !off.is_off(value, parent) {
                    self.warn(format!("{abs}: has no effect yet in patroni-rs ({effect})"));
                    return;
                }
            }
            Status::Ignored(why) => {
                if !is_unset(value) {
                    self.warn(format!("{abs}: ignored ({why})"));
                }
                return;
            }
            Status::Refused {
                consequence,
                off,
                ctl,
            } => {
                if !off.is_off(value, parent) {
                    if self.mode == Mode::Daemon || ctl {
                        self.report.refused.push(format!(
                            "{abs}: not supported yet by patroni-rs ({consequence}); {}",
                            off.fix()
                        ));
                    }
                    return;
                }
            }
        }
        let Some(map) = value.as_object() else {
            return;
        };
        match key.kind {
            Kind::Leaf => {}
            Kind::Section => self.walk(table, rel, abs, map, false),
            Kind::Open => self.walk(table, rel, abs, map, true),
            Kind::Table(inner) => self.walk(inner, "", abs, map, false),
        }
    }

    /// A dynamic key written at the top of the local file, where upstream never reads it.
    fn dynamic_in_local(
        &mut self,
        key: &Key,
        name: &str,
        value: &Value,
        root: &Map<String, Value>,
    ) {
        if let Status::Refused { off, .. } = key.status {
            if !off.is_off(value, root) {
                // Refused here too: whoever wrote it expects the feature, which they would
                // get from neither Patroni (ignored at this level) nor patroni-rs.
                self.visit(DYNAMIC, key, name, name, value, root);
                return;
            }
        }
        if !is_unset(value) {
            self.warn(format!(
                "{name}: ignored (a dynamic setting, which Patroni too ignores in the local configuration: put it under bootstrap.dcs or change it with patronictl edit-config)"
            ));
        }
    }

    fn unknown(&mut self, abs: &str) {
        self.warn(format!(
            "{abs}: unknown setting (not in Patroni 4.1's configuration), ignored"
        ));
    }

    fn warn(&mut self, message: String) {
        if self.mode == Mode::Daemon {
            self.report.warnings.push(message);
        }
    }
}

/// A custom method's own section: `bootstrap.<method>` named by `bootstrap.method`, or
/// `postgresql.<method>` named by `create_replica_methods`. Its keys are the method's
/// arguments (free-form); the method itself is judged by the key that names it.
fn is_method_section(rel: &str, name: &str, map: &Map<String, Value>) -> bool {
    match rel {
        "bootstrap" => map.get("method").and_then(Value::as_str) == Some(name),
        "postgresql" => ["create_replica_methods", "create_replica_method"]
            .iter()
            .filter_map(|k| map.get(*k))
            .any(|methods| match methods {
                Value::Array(items) => items.iter().any(|m| m.as_str() == Some(name)),
                Value::String(s) => s.split(',').any(|m| m.trim() == name),
                _ => false,
            }),
        _ => false,
    }
}

/// The entry for `path` in `table`, where a `*` segment matches any one segment.
fn lookup(table: &'static [Key], path: &str) -> Option<&'static Key> {
    table.iter().find(|key| {
        let mut want = key.path.split('.');
        let mut have = path.split('.');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some(w), Some(h)) if w == "*" || w == h => {}
                _ => return false,
            }
        }
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Every key of the tables, as dotted paths from the root of the local (`local`) or dynamic
/// (`dynamic`) configuration, with DCS keys under each section name, for the documentation test.
#[cfg(test)]
fn all_paths() -> Vec<(String, &'static Key)> {
    fn add(out: &mut Vec<(String, &'static Key)>, table: &'static [Key], prefix: &str) {
        for key in table {
            let path = join(prefix, key.path);
            out.push((path.clone(), key));
            // bootstrap.dcs holds the dynamic keys, listed on their own.
            if let (Kind::Table(inner), false) = (key.kind, path == "bootstrap.dcs") {
                add(out, inner, &path);
            }
        }
    }
    let mut out = Vec::new();
    add(&mut out, LOCAL, "");
    add(&mut out, DYNAMIC, "");
    out
}
