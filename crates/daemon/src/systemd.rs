//! systemd's readiness notifications (`sd_notify`), sent when systemd started us with
//! `NOTIFY_SOCKET` (a `Type=notify` unit), at the moments upstream 4.1 sends them
//! (docs/systemd.md): `READY=1` once the REST API listens and before the first HA cycle,
//! `RELOADING=1` on SIGHUP and `READY=1` when the reload is done, `STOPPING=1` when shutdown
//! starts.
//!
//! Written here rather than with the `sd-notify` crate, because the socket must be taken out
//! of the environment when the daemon starts: every program we run (the postmaster above all)
//! would inherit it otherwise, and Debian's PostgreSQL sends its own `READY=1` and
//! `STOPPING=1` on it, telling systemd the daemon stopped when only PostgreSQL did. The crate
//! reads the variable at every call; the protocol is one datagram per message.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;

/// Where systemd listens, taken from the environment once.
static SOCKET: OnceLock<Option<SocketAddr>> = OnceLock::new();

/// Takes `NOTIFY_SOCKET` out of the environment and remembers it. Call first thing in `main`,
/// while the process has one thread: changing the environment is only sound then.
pub fn take_notify_socket() {
    let path = std::env::var_os("NOTIFY_SOCKET");
    std::env::remove_var("NOTIFY_SOCKET");
    let addr = path.and_then(|p| {
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
        match bytes.strip_prefix(b"@") {
            // A name in Linux's abstract namespace.
            Some(name) => <SocketAddr as SocketAddrExt>::from_abstract_name(name).ok(),
            None => SocketAddr::from_pathname(&p).ok(),
        }
    });
    // Set once, before anything reads it; a second call keeps the first value.
    let _ = SOCKET.set(addr);
}

/// Sends `message` (`KEY=value` lines) to systemd, when it listens. A failure is logged and
/// otherwise ignored: readiness notifications never change what the daemon does.
fn notify(message: &str) {
    let Some(Some(addr)) = SOCKET.get() else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(message.as_bytes(), addr));
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd ({message:?}): {e}");
    }
}

/// Started, or done reloading.
pub fn ready() {
    notify("READY=1");
}

/// A SIGHUP reload begins; systemd wants the monotonic time it began at.
pub fn reloading() {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as i128 * 1_000_000 + t.tv_nsec() as i128 / 1_000)
        .unwrap_or(0);
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={now}"));
}

/// Shutdown begins.
pub fn stopping() {
    notify("STOPPING=1");
}
