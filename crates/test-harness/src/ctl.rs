//! Running patronictl (ours or Patroni's) from tests.

use std::path::Path;
use std::process::Command;

/// Runs `program -c config args...`: whether it succeeded, and stdout followed by stderr.
pub fn run_patronictl(program: &Path, config: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("run patronictl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Our patronictl, built next to the running test.
pub fn patronictl(config: &Path, args: &[&str]) -> (bool, String) {
    run_patronictl(&crate::sibling_binary("patronictl"), config, args)
}

/// A reference Patroni program (from `var`, else `default`); fails the test with a hint when
/// it is not installed. `ci/setup.sh` installs them.
pub fn reference_program(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: run ci/setup.sh (or set {var})"
    );
    path
}
