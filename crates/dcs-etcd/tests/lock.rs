//! The leader lock against a real etcd: many contenders race, round after round, and exactly
//! one wins each time; a holder that stops renewing loses the lock after its TTL.

use std::time::{Duration, Instant};

use patroni_core::config::EtcdConfig;
use patroni_core::dcs::Dcs;
use patroni_dcs_etcd::EtcdDcs;
use patroni_test_harness::Etcd;

async fn node(etcd: &Etcd, name: &str, ttl: u32) -> EtcdDcs {
    let cfg = EtcdConfig {
        hosts: vec![etcd.endpoint()],
        protocol: "http".into(),
        username: None,
        password: None,
    };
    EtcdDcs::connect(&cfg, "/service/race/", name, ttl, 5)
        .await
        .expect("connect to etcd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_contender_wins_every_round() {
    let etcd = Etcd::start();
    let mut nodes = Vec::new();
    for i in 0..8 {
        nodes.push(node(&etcd, &format!("n{i}"), 20).await);
    }
    for round in 0..50 {
        let results =
            futures::future::join_all(nodes.iter().map(|n| n.attempt_to_acquire_leader())).await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| matches!(r, Ok(true)).then_some(i))
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: winners {winners:?}, results {results:?}"
        );
        let cluster = nodes[0].get_cluster().await.expect("read");
        let winner = winners[0];
        assert_eq!(cluster.leader_name(), Some(format!("n{winner}").as_str()));
        // Only the holder can renew or delete it.
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(
                n.update_leader(&cluster, None).await.expect("update"),
                i == winner,
                "round {round}: node {i}"
            );
        }
        nodes[(winner + 1) % nodes.len()]
            .delete_leader(None)
            .await
            .expect("delete by other");
        assert!(
            nodes[0]
                .get_cluster()
                .await
                .expect("read")
                .leader_name()
                .is_some(),
            "someone else cannot delete the lock"
        );
        nodes[winner]
            .delete_leader(Some(round))
            .await
            .expect("delete");
        assert!(nodes[0].get_cluster().await.expect("read").is_unlocked());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_expires_with_the_lease_and_watchers_wake() {
    let etcd = Etcd::start();
    let holder = node(&etcd, "holder", 20).await;
    let other = node(&etcd, "other", 20).await;
    other.get_cluster().await.expect("read");
    assert!(holder.attempt_to_acquire_leader().await.expect("acquire"));
    let acquired = Instant::now();
    // The watch wakes the other node when the key changes; drain the wake-up of the acquire.
    let _ = other.watch(Duration::from_millis(200)).await;
    // The holder stops renewing: the lease (and the key) go after ttl.
    let woke = other.watch(Duration::from_secs(30)).await.expect("watch");
    assert!(woke, "woken by the leader key's expiry");
    let elapsed = acquired.elapsed();
    assert!(other.get_cluster().await.expect("read").is_unlocked());
    assert!(
        elapsed >= Duration::from_secs(19) && elapsed < Duration::from_secs(25),
        "expired after {elapsed:?}"
    );
    assert_eq!(
        holder
            .update_leader(&other.get_cluster().await.expect("read"), None)
            .await
            .map_err(|e| e.to_string()),
        Ok(false),
        "the old holder cannot renew"
    );
    assert!(other.attempt_to_acquire_leader().await.expect("acquire"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_writes_compare_and_set() {
    let etcd = Etcd::start();
    let a = node(&etcd, "a", 20).await;
    assert!(a
        .set_config_value("{\"ttl\":30}", None)
        .await
        .expect("write"));
    let version = a
        .get_cluster()
        .await
        .expect("read")
        .config
        .expect("config")
        .version;
    assert!(a
        .set_config_value("{\"ttl\":40}", Some(version))
        .await
        .expect("cas"));
    assert!(
        !a.set_config_value("{\"ttl\":50}", Some(version))
            .await
            .expect("stale cas"),
        "a stale version is refused"
    );
    assert!(a.initialize(true, "").await.expect("race"));
    assert!(
        !a.initialize(true, "").await.expect("race"),
        "initialize is created once"
    );
}
