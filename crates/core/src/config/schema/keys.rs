//! The vocabulary of the key tables: what a key is (leaf, section, nested table), what
//! patroni-rs does with it, and which values count as "off" (asking for nothing).

use serde_json::{Map, Value};

use super::super::value::{as_bool, as_int};

/// One upstream configuration key, by its dotted path relative to the table it is in.
#[derive(Clone, Copy)]
pub struct Key {
    /// Dotted path; a `*` segment matches any name its parent section accepts.
    pub path: &'static str,
    /// How the walker treats what is below the key.
    pub kind: Kind,
    /// What patroni-rs does with it.
    pub status: Status,
}

/// What is below a key.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Its value is read as a whole (scalar, list, or free-form mapping).
    Leaf,
    /// A mapping whose children are keys of the same table.
    Section,
    /// A mapping whose known children are keys of the same table and whose other children are
    /// free-form (`tags`: custom tags are published as they are).
    Open,
    /// A mapping whose children are looked up in another table (`bootstrap.dcs`, DCS sections).
    Table(&'static [Key]),
}

/// What patroni-rs does with a key.
#[derive(Clone, Copy)]
pub enum Status {
    /// Implemented as upstream implements it.
    Supported,
    /// Only means something together with its parent or a sibling, which decides (e.g.
    /// `watchdog.device`, the `standby_cluster` sub-keys, TLS files when `use_ssl` is off).
    Part,
    /// Not implemented, harmless to ignore: accepted with a warning unless its value is off.
    Warned {
        /// What happens instead.
        effect: &'static str,
        /// Values that ask for nothing.
        off: Off,
    },
    /// Upstream ignores it at this place too (a dynamic setting in the local file, a local
    /// setting in the dynamic configuration, a key removed in 4.0): accepted with a warning.
    Ignored(&'static str),
    /// Not implemented, and ignoring it would change safety, durability or security: refused
    /// unless its value is off.
    Refused {
        /// What would happen if patroni-rs ran anyway.
        consequence: &'static str,
        /// Values that ask for nothing.
        off: Off,
        /// Whether patronictl refuses it too (it changes patronictl's own connections).
        ctl: bool,
    },
}

/// Which values of a key ask for nothing. `null` and `""` always do (they mean "not set").
#[derive(Clone, Copy)]
pub enum Off {
    /// Every other value asks for the feature.
    Never,
    /// A false boolean (any spelling Patroni accepts).
    False,
    /// An empty mapping or list.
    Empty,
    /// One of these strings (case-insensitive), or an integer equal to one of them.
    Is(&'static [&'static str]),
    /// A check on the value and the mapping it sits in, and how to turn the feature off.
    Check(fn(&Value, &Map<String, Value>) -> bool, &'static str),
}

impl Off {
    /// Whether `value` (found in `parent`) asks for nothing.
    pub fn is_off(&self, value: &Value, parent: &Map<String, Value>) -> bool {
        if is_unset(value) {
            return true;
        }
        match self {
            Off::Never => false,
            Off::False => as_bool(value) == Some(false),
            Off::Empty => match value {
                Value::Array(items) => items.is_empty(),
                Value::Object(map) => map.is_empty(),
                _ => false,
            },
            Off::Is(values) => {
                let text = match value {
                    Value::String(s) => s.trim().to_ascii_lowercase(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return false,
                };
                values.iter().any(|v| v.eq_ignore_ascii_case(&text))
            }
            Off::Check(check, _) => check(value, parent),
        }
    }

    /// How to make the key acceptable, for the refusal message.
    pub fn fix(&self) -> String {
        match self {
            Off::Never => "remove it".into(),
            Off::False => "remove it or set it to false".into(),
            Off::Empty => "remove it or leave it empty".into(),
            Off::Is([first, ..]) => format!("remove it or set it to {first}"),
            Off::Is([]) => "remove it".into(),
            Off::Check(_, fix) => (*fix).into(),
        }
    }
}

/// `null` or an empty string: the key is as good as absent.
pub fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// Unset, an empty list, or a mapping whose values are all empty (`callbacks: {on_start: }`).
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_empty),
        other => is_unset(other),
    }
}

impl Key {
    /// A supported leaf.
    pub const fn ok(path: &'static str) -> Key {
        Key {
            path,
            kind: Kind::Leaf,
            status: Status::Supported,
        }
    }

    /// A supported section whose children are in the same table.
    pub const fn section(path: &'static str) -> Key {
        Key {
            path,
            kind: Kind::Section,
            status: Status::Supported,
        }
    }

    /// A leaf that belongs to its parent's feature.
    pub const fn part(path: &'static str) -> Key {
        Key {
            path,
            kind: Kind::Leaf,
            status: Status::Part,
        }
    }

    /// A harmless, unimplemented key: warned about unless off.
    pub const fn warned(path: &'static str, off: Off, effect: &'static str) -> Key {
        Key {
            path,
            kind: Kind::Leaf,
            status: Status::Warned { effect, off },
        }
    }

    /// A key upstream ignores here too.
    pub const fn ignored(path: &'static str, why: &'static str) -> Key {
        Key {
            path,
            kind: Kind::Leaf,
            status: Status::Ignored(why),
        }
    }

    /// An unimplemented key the daemon refuses unless off.
    pub const fn refused(path: &'static str, off: Off, consequence: &'static str) -> Key {
        Key::refusal(path, off, consequence, false)
    }

    /// An unimplemented key both the daemon and patronictl refuse unless off.
    pub const fn refused_ctl(path: &'static str, off: Off, consequence: &'static str) -> Key {
        Key::refusal(path, off, consequence, true)
    }

    const fn refusal(path: &'static str, off: Off, consequence: &'static str, ctl: bool) -> Key {
        Key {
            path,
            kind: Kind::Leaf,
            status: Status::Refused {
                consequence,
                off,
                ctl,
            },
        }
    }

    /// The same key, walked as a section of this table.
    pub const fn with_children(self) -> Key {
        Key {
            kind: Kind::Section,
            ..self
        }
    }

    /// The same key, walked as a section whose unknown children are free-form.
    pub const fn with_free_children(self) -> Key {
        Key {
            kind: Kind::Open,
            ..self
        }
    }

    /// The same key, walked with another table.
    pub const fn with_table(self, table: &'static [Key]) -> Key {
        Key {
            kind: Kind::Table(table),
            ..self
        }
    }
}

/// One flat table made of the given tables in order, built at compile time, so that entries
/// two tables share (the `postgresql` keys of the local and the dynamic configuration) are
/// written once: `joined!(&[A, B])` is a `&'static [Key]` holding A's entries, then B's.
macro_rules! joined {
    ($parts:expr) => {{
        use $crate::config::schema::keys::{concat, total, Key};
        const PARTS: &[&[Key]] = $parts;
        static TABLE: [Key; total(PARTS)] = concat(PARTS);
        &TABLE
    }};
}
pub(super) use joined;

/// The entries of `parts` in order, as an array; `N` must be [`total`] of the same parts
/// (checked when the table is built). Used through [`joined!`].
pub const fn concat<const N: usize>(parts: &[&[Key]]) -> [Key; N] {
    let mut out = [Key::ok(""); N];
    let mut n = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N, "concat: N is not the total length of the parts");
    out
}

/// The number of entries in `parts`: the length of their [`concat`].
pub const fn total(parts: &[&[Key]]) -> usize {
    let mut n = 0;
    let mut p = 0;
    while p < parts.len() {
        n += parts[p].len();
        p += 1;
    }
    n
}

/// Keys that only belong to their parent's feature ([`Key::part`]), from their paths.
pub const fn parts<const N: usize>(paths: [&'static str; N]) -> [Key; N] {
    let mut out = [Key::ok(""); N];
    let mut i = 0;
    while i < N {
        out[i] = Key::part(paths[i]);
        i += 1;
    }
    out
}

/// `callbacks` with no command in it (`{on_start: }` asks for nothing).
pub fn no_commands(value: &Value, _: &Map<String, Value>) -> bool {
    is_empty(value)
}

/// `maximum_lag_on_syncnode` ≤ 0: Patroni never swaps a lagging synchronous standby.
pub fn not_positive(value: &Value, _: &Map<String, Value>) -> bool {
    as_int(value).is_some_and(|v| v <= 0)
}

/// `synchronous_node_count: 1`, the default.
pub fn is_one(value: &Value, _: &Map<String, Value>) -> bool {
    as_int(value) == Some(1)
}

/// `max_timelines_history: 0`: keep the whole history, which patroni-rs does.
pub fn is_zero(value: &Value, _: &Map<String, Value>) -> bool {
    as_int(value) == Some(0)
}

/// `member_slots_ttl: 0` (with or without a unit) turns retention off.
pub fn zero_duration(value: &Value, _: &Map<String, Value>) -> bool {
    match value {
        Value::String(s) => {
            let digits = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
            digits.trim().parse::<f64>().is_ok_and(|n| n == 0.0)
        }
        other => as_int(other) == Some(0),
    }
}

/// `standby_cluster` is active when any of `host`, `port` or `restore_command` is set, as
/// upstream's `is_standby_cluster` decides.
pub fn standby_cluster_off(value: &Value, _: &Map<String, Value>) -> bool {
    match value {
        Value::Object(m) => ["host", "port", "restore_command"]
            .iter()
            .all(|k| m.get(*k).is_none_or(is_falsy)),
        other => is_falsy(other),
    }
}

/// Python truthiness of a configuration value.
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        other => is_empty(other),
    }
}

/// `watchdog` asks for nothing only with an explicit `mode: off` (or as an empty section):
/// upstream's default mode is `automatic`.
pub fn watchdog_off(value: &Value, _: &Map<String, Value>) -> bool {
    match value {
        Value::Object(m) if m.is_empty() => true,
        Value::Object(m) => m.get("mode").is_some_and(|mode| {
            as_bool(mode) == Some(false)
                || mode.as_str().is_some_and(|s| {
                    matches!(
                        s.trim().to_ascii_lowercase().as_str(),
                        "disable" | "disabled"
                    )
                })
        }),
        other => is_empty(other),
    }
}

/// `create_replica_methods` asks for nothing new when it lists `basebackup` alone (or nothing,
/// which upstream reads as `basebackup`).
pub fn basebackup_only(value: &Value, _: &Map<String, Value>) -> bool {
    let methods: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or("").trim().to_string())
            .collect(),
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        _ => return false,
    };
    methods.iter().all(|m| m == "basebackup")
}

/// `bootstrap.method` runs a custom command only when it names a section of `bootstrap` with a
/// `command`; otherwise upstream runs initdb, as patroni-rs does.
pub fn bootstrap_method_off(value: &Value, bootstrap: &Map<String, Value>) -> bool {
    let Some(method) = value.as_str() else {
        return false;
    };
    method == "initdb"
        || !bootstrap
            .get(method)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key("command"))
}

/// An etcd endpoint list or URL without an `https://` scheme.
pub fn no_https(value: &Value, _: &Map<String, Value>) -> bool {
    let https = |s: &str| s.trim().to_ascii_lowercase().starts_with("https://");
    match value {
        Value::String(s) => !s.split(',').any(https),
        Value::Array(items) => !items.iter().filter_map(Value::as_str).any(https),
        _ => true,
    }
}
