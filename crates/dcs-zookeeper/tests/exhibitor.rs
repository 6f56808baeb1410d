//! Exhibitor against a small HTTP endpoint that serves Exhibitor's server-list JSON: the
//! ZooKeeper servers come from it, the list is polled again, and a node works through it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patroni_core::config::ExhibitorConfig;
use patroni_core::dcs::Dcs;
use patroni_dcs_zookeeper::{Exhibitor, ZooKeeperDcs};
use patroni_test_harness::ZooKeeper;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `GET /exhibitor/v1/cluster/list` with whatever `body` holds; the port.
async fn exhibitor_endpoint(body: Arc<Mutex<String>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.lock().unwrap_or_else(|e| e.into_inner()).clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let reply = if request.starts_with("GET /exhibitor/v1/cluster/list ") {
                    format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}")
                } else {
                    "HTTP/1.0 404 Not Found\r\n\r\n{}".to_string()
                };
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

fn list(port: u16) -> String {
    format!(r#"{{"servers":["127.0.0.1"],"port":{port}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_list_is_read_and_polled_again() {
    let body = Arc::new(Mutex::new(list(2181)));
    let port = exhibitor_endpoint(Arc::clone(&body)).await;
    let config = ExhibitorConfig {
        hosts: vec!["127.0.0.1".into()],
        port,
        poll_interval: 1,
    };
    let exhibitor = Exhibitor::start(&config).await.expect("read the list");
    assert_eq!(exhibitor.hosts(), "127.0.0.1:2181");
    *body.lock().unwrap_or_else(|e| e.into_inner()) = list(2182);
    let deadline = Instant::now() + Duration::from_secs(10);
    while exhibitor.hosts() != "127.0.0.1:2182" {
        assert!(Instant::now() < deadline, "the new list was not polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reaches_zookeeper_through_exhibitor() {
    let zk = ZooKeeper::start();
    let port = exhibitor_endpoint(Arc::new(Mutex::new(list(zk.port)))).await;
    let config = ExhibitorConfig {
        hosts: vec!["127.0.0.1".into()],
        port,
        poll_interval: 300,
    };
    let dcs = ZooKeeperDcs::with_exhibitor(&config, "/service/ex/", "pg0", 10, 5)
        .await
        .expect("connect through exhibitor");
    assert!(matches!(dcs.attempt_to_acquire_leader().await, Ok(Some(_))));
    let cluster = dcs.get_cluster().await.expect("read");
    assert_eq!(cluster.leader_name(), Some("pg0"));

    let nobody = ExhibitorConfig {
        hosts: vec!["127.0.0.1".into()],
        port: patroni_test_harness::free_port(),
        poll_interval: 300,
    };
    let err = ZooKeeperDcs::with_exhibitor(&nobody, "/service/ex/", "pg1", 10, 5)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("cannot read the ZooKeeper servers from Exhibitor"),
        "{err}"
    );
}
