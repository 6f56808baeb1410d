//! Faults the tests inject into a debug build, to show what the daemon does when its own code
//! fails: `PATRONIRS_TEST_FAULT_FILE` names a file whose content, read at the start of every
//! HA cycle, is `panic` (the loop panics) or `stall` (the loop hangs while the file says so).
//! Release builds contain none of this.

/// Acts on the fault file, if the test set one.
#[cfg(debug_assertions)]
pub async fn at_cycle_start() {
    let Some(path) = std::env::var_os("PATRONIRS_TEST_FAULT_FILE") else {
        return;
    };
    let read = || std::fs::read_to_string(&path).unwrap_or_default();
    match read().trim() {
        "panic" => panic!("fault injected by a test: panic in the HA loop"),
        "stall" => {
            tracing::warn!("fault injected by a test: the HA loop stalls");
            while read().trim() == "stall" {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        _ => {}
    }
}

/// Release builds: no faults.
#[cfg(not(debug_assertions))]
pub async fn at_cycle_start() {}
