//! systemd's readiness protocol (issue 12 acceptance 2): a test listens on a `NOTIFY_SOCKET`
//! with `SO_PASSCRED`, as systemd does, and sees from the daemon's own pid (systemd's
//! `NotifyAccess=main` ignores any other) `READY=1` once the REST API answers, `RELOADING=1`
//! with `MONOTONIC_USEC` and `READY=1` again on SIGHUP, `STOPPING=1` on SIGTERM; and nothing
//! from PostgreSQL, which Debian builds with systemd support and which would send its own
//! `READY=1` and `STOPPING=1` if it inherited the socket.

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use patroni_test_harness::{http_get, wait_for, NodeOptions, TempDir, TestCluster};

/// What arrived: sender pid and message.
type Received = Arc<Mutex<Vec<(i32, String)>>>;

/// Receives datagrams with their sender's credentials until `stop`.
fn listen(socket: UnixDatagram, received: Received, stop: Arc<AtomicBool>) {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    while !stop.load(Ordering::SeqCst) {
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        let Ok(msg) = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        ) else {
            continue;
        };
        let pid = msg
            .cmsgs()
            .ok()
            .and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
                    _ => None,
                })
            })
            .unwrap_or(-1);
        let len = msg.bytes;
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        received.lock().expect("lock").push((pid, text));
    }
}

fn messages(received: &Received) -> Vec<(i32, String)> {
    received.lock().expect("lock").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_reloading_and_stopping_from_the_daemon_only() {
    let dir = TempDir::new("notify");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    setsockopt(&socket, sockopt::PassCred, &true).expect("SO_PASSCRED");
    let received: Received = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = {
        let (received, stop) = (Arc::clone(&received), Arc::clone(&stop));
        std::thread::spawn(move || listen(socket, received, stop))
    };

    let opts = NodeOptions {
        scope: "notify".into(),
        ..NodeOptions::default()
    };
    let mut cluster = TestCluster::new(Path::new(env!("CARGO_BIN_EXE_patroni")), 1, &opts);
    cluster.nodes[0].env.extend([
        ("NOTIFY_SOCKET".into(), path.display().to_string()),
        // As upstream's unit file sets them: the limit is for the daemon only.
        ("MALLOC_ARENA_MAX".into(), "1".into()),
        ("PG_MALLOC_ARENA_MAX".into(), "4".into()),
    ]);
    cluster.start_all();
    let api = cluster.nodes[0].api_port;
    let daemon = cluster.nodes[0].daemon_pid().expect("daemon pid") as i32;

    wait_for("READY=1", Duration::from_secs(30), || async {
        messages(&received)
            .iter()
            .any(|(_, m)| m == "READY=1")
            .then_some(())
    })
    .await;
    assert!(
        http_get(api, "/patroni").await.is_some(),
        "READY=1 came before the REST API answers"
    );
    cluster.wait_healthy(0, Duration::from_secs(60)).await;
    let postmaster = cluster.nodes[0].postmaster_pid().expect("postmaster");
    let environ = std::fs::read(format!("/proc/{postmaster}/environ")).expect("environ");
    let environ: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        environ.iter().any(|v| v == "MALLOC_ARENA_MAX=4")
            && !environ
                .iter()
                .any(|v| v.starts_with("NOTIFY_SOCKET=") || v.starts_with("PG_MALLOC_ARENA_MAX=")),
        "the postmaster's environment: {environ:?}"
    );

    cluster.nodes[0].sighup();
    wait_for(
        "RELOADING=1 then READY=1",
        Duration::from_secs(30),
        || async { (messages(&received).len() >= 3).then_some(()) },
    )
    .await;

    cluster.nodes[0].signal_daemon(Signal::SIGTERM);
    wait_for("the daemon to exit", Duration::from_secs(60), || {
        let exited = cluster.nodes[0].daemon_exited().is_some();
        async move { exited.then_some(()) }
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    listener.join().expect("listener");

    let got = messages(&received);
    let texts: Vec<&str> = got.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(texts.len(), 4, "{got:?}");
    assert_eq!(texts[0], "READY=1", "{got:?}");
    let monotonic = texts[1]
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|us| us.parse::<u64>().ok());
    assert!(monotonic.is_some_and(|us| us > 0), "{got:?}");
    assert_eq!(&texts[2..], ["READY=1", "STOPPING=1"], "{got:?}");
    assert!(
        got.iter().all(|(pid, _)| *pid == daemon),
        "only the daemon ({daemon}) may speak: {got:?}"
    );
}
