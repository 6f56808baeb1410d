//! The outside measuring tools and /proc: wrk for REST throughput, hyperfine for
//! `patronictl list`, VmRSS/VmHWM and CPU ticks of a process.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

/// What wrk reported for one URL.
pub struct WrkResult {
    /// Requests per second over the run.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
}

/// `wrk -t2 -c4 --latency` for `duration` against `url`.
pub fn wrk(url: &str, duration: Duration) -> anyhow::Result<WrkResult> {
    let out = Command::new("wrk")
        .args(["-t2", "-c4", "--latency"])
        .arg(format!("-d{}s", duration.as_secs()))
        .arg(url)
        .output()
        .context("wrk (apt-get install wrk; bench/run.sh does)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => rps = v.parse().ok(),
            (Some("50%"), Some(v)) => p50 = millis(v),
            (Some("99%"), Some(v)) => p99 = millis(v),
            _ => {}
        }
    }
    Some(WrkResult {
        requests_per_sec: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
    })
}

/// wrk's `812.00us`, `1.23ms`, `2.01s` in milliseconds.
fn millis(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// Wall times of `runs` runs of `command` (after one warm-up), in seconds.
pub fn hyperfine(command: &str, runs: usize) -> anyhow::Result<Vec<f64>> {
    let json = std::env::temp_dir().join(format!("patroni-bench-{}.json", std::process::id()));
    let status = Command::new("hyperfine")
        .args(["-N", "--warmup", "1", "--style", "none", "--runs"])
        .arg(runs.to_string())
        .arg("--export-json")
        .arg(&json)
        .arg(command)
        .status()
        .context("hyperfine (apt-get install hyperfine; bench/run.sh does)")?;
    if !status.success() {
        bail!("hyperfine failed on {command}");
    }
    let text = std::fs::read_to_string(&json)?;
    // Its content is read; a leftover temporary file costs nothing.
    let _ = std::fs::remove_file(&json);
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let times = doc["results"][0]["times"]
        .as_array()
        .context("hyperfine JSON without times")?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    Ok(times)
}

/// VmRSS and VmHWM of `pid`, in kB.
pub fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU seconds `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of proc(5); counting from the state (field 3)
    // they are the 12th and 13th.
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_output_is_read() {
        let text = "  Latency Distribution\n     50%  812.00us\n     75%    1.10ms\n     99%    2.50ms\n  1000 requests in 1.00s\nRequests/sec:   1234.56\nTransfer/sec: 1.00MB\n";
        let r = super::parse_wrk(text).expect("parsed");
        assert_eq!(r.requests_per_sec, 1234.56);
        assert!((r.p50_ms - 0.812).abs() < 1e-9);
        assert_eq!(r.p99_ms, 2.5);
    }
}
