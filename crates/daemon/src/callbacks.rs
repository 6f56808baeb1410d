//! Runs callback scripts as upstream does (docs/callbacks.md): without waiting for them, one
//! at a time (a new one kills the one still running, with its children), `on_reload` in a slot
//! of its own; when a script exits, whatever it left running is killed too. Each runs in its
//! own process group, which is how "its children" are found.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A script started and not yet known to be gone with all its children.
struct Running {
    group: Pid,
    done: Arc<AtomicBool>,
}

/// The two slots scripts run in.
#[derive(Default)]
pub struct CallbackRunner {
    main: Mutex<Option<Running>>,
    reload: Mutex<Option<Running>>,
}

fn kill_group(group: Pid) {
    // ESRCH: the group is gone already, which is what we want.
    let _ = killpg(group, Signal::SIGKILL);
}

impl CallbackRunner {
    /// Starts `argv` in its slot, killing the script still running there.
    pub fn run(&self, argv: Vec<String>, reload_slot: bool) {
        let slot = if reload_slot {
            &self.reload
        } else {
            &self.main
        };
        // A poisoned lock only means a panic while swapping the entry: it is still whole.
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(previous) = slot.take() {
            if !previous.done.load(Ordering::SeqCst) {
                kill_group(previous.group);
            }
        }
        let Some((program, args)) = argv.split_first() else {
            return;
        };
        tracing::info!("calling {}", argv.join(" "));
        let spawned = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("callback {} failed: {e}", argv.join(" "));
                return;
            }
        };
        let Some(group) = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw)
        else {
            return;
        };
        let done = Arc::new(AtomicBool::new(false));
        *slot = Some(Running {
            group,
            done: Arc::clone(&done),
        });
        let name = argv.join(" ");
        tokio::spawn(async move {
            match child.wait().await {
                Ok(status) if !status.success() => {
                    tracing::debug!("callback {name} exited with {status}")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!("waiting for callback {name}: {e}"),
            }
            // As upstream: what the script left behind goes with it.
            kill_group(group);
            done.store(true, Ordering::SeqCst);
        });
    }
}
