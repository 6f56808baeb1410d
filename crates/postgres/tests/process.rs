//! Process control on a real PostgreSQL 15: what the lease guard and the HA loop rely on when
//! they start, stop, fence and checkpoint. PostgreSQL refuses to run as root, so the test
//! process becomes the `postgres` user first (each integration test file is its own process).

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use patroni_core::config::{Config, DynamicConfig, Strictness};
use patroni_postgres::{Postgresql, StopMode};
use patroni_test_harness::{free_port, freeze, pg_bin_dir, postgres_ids, wait_for, TempDir};

fn become_postgres() {
    let (uid, gid) = postgres_ids();
    if nix::unistd::getuid().as_raw() != uid {
        nix::unistd::setgid(gid.into()).expect("setgid postgres");
        nix::unistd::setuid(uid.into()).expect("setuid postgres");
    }
}

/// A fresh, initialized (not started) instance in its own temp dir.
async fn instance(dir: &TempDir, scope: &str) -> Arc<Postgresql> {
    instance_in(dir, scope, dir.path().join("data")).await
}

/// The same with the data directory at `data_dir`.
async fn instance_in(dir: &TempDir, scope: &str, data_dir: std::path::PathBuf) -> Arc<Postgresql> {
    let port = free_port();
    let tree = serde_json::json!({
        "name": "pg0", "scope": scope,
        "restapi": {"listen": "127.0.0.1:1", "connect_address": "127.0.0.1:1"},
        "etcd3": {"hosts": "127.0.0.1:2379"},
        "postgresql": {
            "listen": format!("127.0.0.1:{port}"), "connect_address": format!("127.0.0.1:{port}"),
            "data_dir": data_dir, "bin_dir": pg_bin_dir(),
            "pgpass": dir.path().join("pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": "secret"},
                "replication": {"username": "replicator", "password": "rep"}
            },
            "parameters": {"unix_socket_directories": dir.path(), "fsync": "off"}
        }
    });
    let config = Config::from_tree(tree, Strictness::Daemon).expect("config");
    let pg = Arc::new(Postgresql::new(Arc::new(config)));
    pg.initdb().await.expect("initdb");
    pg
}

async fn started(pg: &Postgresql) -> i32 {
    pg.start(&DynamicConfig::default(), None)
        .await
        .expect("start");
    pg.wait_ready(Duration::from_secs(60)).await.expect("ready");
    pg.postmaster_pid().expect("a postmaster runs")
}

/// Whether `sig` is pending for `pid` (queued while the process is stopped).
fn pending(pid: i32, sig: Signal) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .any(|mask| mask & (1 << (sig as i32 - 1)) != 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_leaves_the_shared_connection_with_its_statement_timeout() {
    become_postgres();
    let dir = TempDir::new("pg-checkpoint");
    let pg = instance(&dir, "checkpoint-test").await;
    started(&pg).await;
    pg.status().await.expect("status on the shared connection");
    pg.checkpoint(Duration::from_secs(30))
        .await
        .expect("checkpoint");
    // The HA loop's connection keeps its 2 s limit: a 3 s statement is cancelled.
    let slow = pg.execute("SELECT pg_catalog.pg_sleep(3)").await;
    pg.stop(StopMode::Immediate, Duration::from_secs(10))
        .await
        .expect("stop");
    assert!(
        slow.is_err(),
        "a 3 s query ran on the shared connection after CHECKPOINT: statement_timeout was lifted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_waits_for_a_stop_in_progress() {
    become_postgres();
    let dir = TempDir::new("pg-overlap");
    let pg = instance(&dir, "overlap-test").await;
    let old = started(&pg).await;
    // Freeze the postmaster so its stop cannot finish, and stop it.
    freeze(old).await;
    let stopping = {
        let pg = Arc::clone(&pg);
        tokio::spawn(async move { pg.stop(StopMode::Immediate, Duration::from_secs(30)).await })
    };
    wait_for(
        "the stop signal to be sent",
        Duration::from_secs(10),
        || async { pending(old, Signal::SIGQUIT).then_some(()) },
    )
    .await;
    // A start while the old postmaster still stops must wait for it, not report success.
    let starting = {
        let pg = Arc::clone(&pg);
        tokio::spawn(async move { pg.start(&DynamicConfig::default(), None).await })
    };
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !starting.is_finished(),
        "the start did not wait for the stop in progress"
    );
    kill(Pid::from_raw(old), Signal::SIGCONT).expect("SIGCONT");
    stopping.await.expect("stop task").expect("stop");
    starting.await.expect("start task").expect("start");
    pg.wait_ready(Duration::from_secs(60))
        .await
        .expect("the new postmaster is ready");
    let new = pg.postmaster_pid().expect("a postmaster runs");
    assert_ne!(new, old);
    assert!(pg.status().await.is_ok());
    pg.stop(StopMode::Immediate, Duration::from_secs(10))
        .await
        .expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_a_frozen_postmaster_kills_its_backends_too() {
    become_postgres();
    let dir = TempDir::new("pg-fence");
    let pg = instance(&dir, "fence-test").await;
    let pid = started(&pg).await;
    assert!(
        pg.may_be_writable(),
        "a primary we started is armed for the guard"
    );
    freeze(pid).await;
    let fenced = {
        let pg = Arc::clone(&pg);
        tokio::task::spawn_blocking(move || pg.fence())
    };
    fenced.await.expect("fence");
    assert_eq!(
        pg.postmaster_pid(),
        None,
        "the frozen postmaster survived fencing"
    );
    assert!(!pg.may_be_writable());
    let orphans: Vec<i32> = std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("fence-test"))
        })
        .collect();
    assert!(
        orphans.is_empty(),
        "PostgreSQL processes left behind: {orphans:?}"
    );
}

/// A dynamic configuration carried over from an older cluster, with a name PostgreSQL 15 does
/// not know and values it refuses, must not keep the node down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_this_postgres_refuses_are_translated_reset_or_dropped() {
    become_postgres();
    let dir = TempDir::new("pg-parameters");
    let pg = instance(&dir, "parameters-test").await;
    let (dynamic, _) =
        DynamicConfig::from_value(&serde_json::json!({"postgresql": {"parameters": {
            "wal_keep_segments": 100,
            "no_such_parameter": 1,
            "work_mem": "lots",
            "shared_buffers": 1,
            "max_wal_senders": 1,
            "max_connections": 1000000000,
            "my_extension.setting": "kept",
            "log_min_duration_statement": "250ms"
        }}}));
    let params = pg.parameters(&dynamic).await;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("wal_keep_size"), Some("1600MB"));
    for gone in [
        "wal_keep_segments",
        "no_such_parameter",
        "work_mem",
        "shared_buffers",
    ] {
        assert_eq!(get(gone), None, "{gone} should be dropped: {params:?}");
    }
    assert_eq!(
        get("max_wal_senders"),
        Some("10"),
        "below upstream's minimum"
    );
    assert_eq!(
        get("max_connections"),
        Some("100"),
        "outside PostgreSQL's range"
    );
    assert_eq!(get("my_extension.setting"), Some("kept"));
    assert_eq!(get("log_min_duration_statement"), Some("250ms"));

    pg.start(&dynamic, None).await.expect("start");
    let ready = pg.wait_ready(Duration::from_secs(60)).await;
    let check = pg
        .execute(
            "DO $$ BEGIN IF current_setting('wal_keep_size') <> '1600MB' \
             OR current_setting('max_connections') <> '100' \
             OR current_setting('log_min_duration_statement') <> '250ms' \
             THEN RAISE EXCEPTION 'unexpected settings'; END IF; END $$",
        )
        .await;
    pg.stop(StopMode::Immediate, Duration::from_secs(10))
        .await
        .expect("stop");
    ready.expect("PostgreSQL 15 starts with the fitted parameters");
    check.expect("the fitted values are in force");
}

/// Moves the process's working directory and moves it back when dropped.
struct WorkingDirectory(std::path::PathBuf);

impl WorkingDirectory {
    fn moved_to(dir: &std::path::Path) -> WorkingDirectory {
        let original = std::env::current_dir().expect("current directory");
        std::env::set_current_dir(dir).expect("chdir");
        WorkingDirectory(original)
    }
}

impl Drop for WorkingDirectory {
    fn drop(&mut self) {
        // A drop must not panic; the next test fails loudly if this did not work.
        let _ = std::env::set_current_dir(&self.0);
    }
}

/// Patroni's own example configurations use a relative `data_dir`: a reload must not make
/// `hba_file` and `ident_file` look changed (they were "pending restart" on every member).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_data_dir_leaves_nothing_pending_after_a_reload() {
    become_postgres();
    let dir = TempDir::new("pg-relative");
    // Other tests in this process use absolute paths only, so moving the working directory
    // does not touch them while this one runs; it is moved back before the directory goes
    // (a deleted working directory breaks every program started afterwards).
    let _back = WorkingDirectory::moved_to(dir.path());
    let pg = instance_in(&dir, "relative-test", "data/postgresql0".into()).await;
    started(&pg).await;
    pg.write_postgresql_conf(&DynamicConfig::default(), None)
        .await
        .expect("rewrite postgresql.conf");
    pg.execute("CREATE TABLE loaded AS SELECT pg_catalog.pg_conf_load_time() AS at")
        .await
        .expect("note the load time");
    pg.reload().expect("reload");
    // A reload is asynchronous: wait until the server has read the files again.
    wait_for("the reload", Duration::from_secs(10), || async {
        pg.execute(
            "DO $$ BEGIN IF pg_catalog.pg_conf_load_time() <= (SELECT at FROM loaded) \
             THEN RAISE EXCEPTION 'not reloaded yet'; END IF; END $$",
        )
        .await
        .ok()
    })
    .await;
    let pending = pg.pending_restart().await;
    pg.stop(StopMode::Immediate, Duration::from_secs(10))
        .await
        .expect("stop");
    assert_eq!(
        pending.expect("pending_restart"),
        Vec::<(String, String)>::new()
    );
}
