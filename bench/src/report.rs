//! Figures, the comparison table with the targets, and the JSON written per run.

use std::collections::BTreeMap;
// `writeln!` into a String cannot fail: the `let _ =` below drop an always-Ok `fmt::Result`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

/// Every value measured for each metric of one system, in the order measured.
#[derive(Default)]
pub struct Metrics(BTreeMap<String, Vec<f64>>);

impl Metrics {
    /// Records one value of `key`.
    pub fn add(&mut self, key: &str, value: f64) {
        self.0.entry(key.to_string()).or_default().push(value);
    }

    /// The values of `key`.
    pub fn get(&self, key: &str) -> &[f64] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// How a metric is compared: which way is better and what the issue asks of the ratio.
enum Target {
    /// Lower is better; ours must be at most `ratio` of Patroni's.
    Ratio(f64),
    /// Higher is better; ours must be at least `ratio` times Patroni's.
    AtLeast(f64),
    /// Lower is better; ours must be below Patroni's and at most `bound` (same unit).
    BelowAndAtMost(f64),
    /// Lower is better; ours must be below Patroni's.
    Below,
    /// Reported, no target.
    None,
}

/// (key, label, unit, target), in table order.
const ROWS: &[(&str, &str, &str, Target)] = &[
    (
        "failover_ttl30_s",
        "failover, ttl 30 / loop_wait 10",
        "s",
        Target::BelowAndAtMost(31.0),
    ),
    (
        "failover_ttl20_s",
        "failover, ttl 20 / loop_wait 2",
        "s",
        Target::BelowAndAtMost(21.0),
    ),
    (
        "switchover_gap_s",
        "switchover write gap",
        "s",
        Target::BelowAndAtMost(1.0),
    ),
    (
        "switchover_rejoin_s",
        "switchover: old primary streams",
        "s",
        Target::None,
    ),
    ("bootstrap_s", "bootstrap to 3 streaming", "s", Target::None),
    ("rss_kb", "daemon VmRSS", "kB", Target::Ratio(0.25)),
    ("hwm_kb", "daemon VmHWM", "kB", Target::None),
    (
        "idle_cpu_s_per_min",
        "daemon CPU idle, per minute",
        "s",
        Target::Ratio(0.1),
    ),
    (
        "rest_patroni_rps",
        "GET /patroni",
        "req/s",
        Target::AtLeast(5.0),
    ),
    (
        "rest_patroni_p50_ms",
        "GET /patroni p50",
        "ms",
        Target::None,
    ),
    (
        "rest_patroni_p99_ms",
        "GET /patroni p99",
        "ms",
        Target::Below,
    ),
    (
        "rest_primary_rps",
        "GET /primary",
        "req/s",
        Target::AtLeast(5.0),
    ),
    (
        "rest_primary_p50_ms",
        "GET /primary p50",
        "ms",
        Target::None,
    ),
    (
        "rest_primary_p99_ms",
        "GET /primary p99",
        "ms",
        Target::Below,
    ),
    ("ctl_list_s", "patronictl list", "s", Target::Ratio(0.1)),
];

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

fn max(values: &[f64]) -> Option<f64> {
    values.iter().copied().max_by(f64::total_cmp)
}

/// One system's cell: the median, and the max when trials varied.
fn cell(values: &[f64]) -> String {
    match (median(values), max(values)) {
        (Some(med), Some(mx)) if values.len() > 1 && mx > med => {
            format!("{} (max {})", num(med), num(mx))
        }
        (Some(med), _) => num(med),
        _ => "-".into(),
    }
}

fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Whether ours meets the target, given both medians.
fn verdict(target: &Target, theirs: f64, ours: f64) -> (&'static str, String) {
    let ratio = if theirs == 0.0 {
        f64::NAN
    } else {
        ours / theirs
    };
    match target {
        Target::Ratio(r) => (yes(ratio <= *r), format!("<= {r}x")),
        Target::AtLeast(r) => (yes(ratio >= *r), format!(">= {r}x")),
        Target::BelowAndAtMost(b) => (
            yes(ours < theirs && ours <= *b),
            format!("< Patroni, <= {b}"),
        ),
        Target::Below => (yes(ours < theirs), "< Patroni".into()),
        Target::None => ("", String::new()),
    }
}

fn yes(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// The comparison table (medians; ratio = ours / Patroni's).
pub fn table(results: &[(&str, Metrics)]) -> String {
    let find = |name: &str| results.iter().find(|(n, _)| *n == name).map(|(_, m)| m);
    let (theirs, ours) = (find("patroni"), find("patroni-rs"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>6} {:>20} {:>20} {:>8}  {:<20} result",
        "metric", "unit", "Patroni 4.1", "patroni-rs", "ratio", "target"
    );
    for (key, label, unit, target) in ROWS {
        let t = theirs.map(|m| m.get(key)).unwrap_or(&[]);
        let o = ours.map(|m| m.get(key)).unwrap_or(&[]);
        let (ratio, verdict) = match (median(t), median(o)) {
            (Some(a), Some(b)) => {
                let (v, goal) = verdict(target, a, b);
                (format!("{:.3}", b / a), format!("{goal:<20} {v}"))
            }
            _ => ("-".into(), String::new()),
        };
        let _ = writeln!(
            out,
            "{label:<34} {unit:>6} {:>20} {:>20} {ratio:>8}  {verdict}",
            cell(t),
            cell(o)
        );
    }
    out
}

/// Writes every value and the medians to `<dir>/<unix time>.json`; returns the path.
pub fn write_json(dir: &Path, quick: bool, results: &[(&str, Metrics)]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let systems: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|(name, m)| {
            let metrics: serde_json::Map<String, serde_json::Value> =
                m.0.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            json!({"values": v, "median": median(v), "max": max(v)}),
                        )
                    })
                    .collect();
            (name.to_string(), serde_json::Value::Object(metrics))
        })
        .collect();
    let doc = json!({"unix_time": now, "quick": quick, "systems": systems});
    let path = dir.join(format!("{now}{}.json", if quick { "-quick" } else { "" }));
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(super::median(&[]), None);
    }
}
