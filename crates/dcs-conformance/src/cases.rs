//! The cases of the suite. Each takes a fresh backend and panics with what broke. Times are
//! bounds polled with a deadline, never sleeps that stand in for synchronization.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use patroni_core::cluster::Cluster;
use patroni_core::dcs::Dcs;
use patroni_test_harness::wait_for as eventually;

use crate::{Backend, TEST_TTL};

async fn cluster(dcs: &dyn Dcs) -> Cluster {
    match dcs.get_cluster().await {
        Ok(c) => c,
        Err(e) => panic!("get_cluster failed: {e}"),
    }
}

fn leader_of(c: &Cluster) -> Option<String> {
    c.leader_name().map(str::to_string)
}

async fn clients(b: &dyn Backend, n: usize, ttl: u32) -> Vec<Arc<dyn Dcs>> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(b.client(&format!("node{i}"), ttl).await);
    }
    out
}

/// Many nodes race to create `initialize`: one wins, the key holds its value; cancelling
/// removes it, and a later overwrite works unconditionally.
pub async fn initialize_race(b: &dyn Backend) {
    let nodes = clients(b, 5, TEST_TTL).await;
    let results = join_all(
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| async move { n.initialize(true, &format!("sysid{i}")).await }),
    )
    .await;
    let winners: Vec<usize> = (0..5).filter(|&i| matches!(results[i], Ok(true))).collect();
    assert_eq!(winners.len(), 1, "initialize race results: {results:?}");
    let c = cluster(&*nodes[0]).await;
    assert_eq!(c.initialize, Some(format!("sysid{}", winners[0])));
    nodes[1].cancel_initialization().await.expect("cancel");
    assert_eq!(cluster(&*nodes[0]).await.initialize, None);
    assert!(matches!(nodes[2].initialize(false, "7").await, Ok(true)));
    assert!(matches!(nodes[3].initialize(false, "8").await, Ok(true)));
    assert_eq!(cluster(&*nodes[0]).await.initialize.as_deref(), Some("8"));
}

/// Eight contenders take the lock at once, round after round: exactly one wins each time,
/// and the view names it.
pub async fn leader_race_has_one_winner(b: &dyn Backend) {
    let nodes = clients(b, 8, TEST_TTL).await;
    for round in 0..10 {
        let results = join_all(
            nodes
                .iter()
                .map(|n| async move { n.attempt_to_acquire_leader().await }),
        )
        .await;
        let winners: Vec<usize> = (0..nodes.len())
            .filter(|&i| matches!(results[i], Ok(Some(_))))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let w = winners[0];
        assert_eq!(
            leader_of(&cluster(&*nodes[0]).await),
            Some(format!("node{w}")),
            "round {round}"
        );
        nodes[w].delete_leader(None).await.expect("delete leader");
        eventually("the lock is free again", Duration::from_secs(5), || async {
            leader_of(&cluster(&*nodes[0]).await)
                .is_none()
                .then_some(())
        })
        .await;
    }
}

/// Only the holder renews or deletes the lock; a renewal writes the leader's optime.
pub async fn only_the_holder_renews_or_deletes(b: &dyn Backend) {
    let nodes = clients(b, 2, TEST_TTL).await;
    let (a, other) = (&nodes[0], &nodes[1]);
    assert!(matches!(a.attempt_to_acquire_leader().await, Ok(Some(_))));
    assert!(matches!(other.attempt_to_acquire_leader().await, Ok(None)));
    let c = cluster(&**a).await;
    assert!(matches!(
        a.update_leader(&c, Some(12345)).await,
        Ok(Some(_))
    ));
    assert!(
        matches!(other.update_leader(&c, Some(1)).await, Ok(None)),
        "a node that does not hold the lock renewed it"
    );
    other
        .delete_leader(None)
        .await
        .expect("delete by another node");
    let c = cluster(&**a).await;
    assert_eq!(
        leader_of(&c).as_deref(),
        Some("node0"),
        "another node deleted the lock"
    );
    assert_eq!(c.status.last_lsn, 12345, "update_leader wrote no optime");
    a.delete_leader(Some(23456)).await.expect("delete leader");
    let c = cluster(&**other).await;
    assert_eq!(leader_of(&c), None);
    assert_eq!(c.status.last_lsn, 23456, "delete_leader wrote no optime");
}

/// A holder that keeps renewing keeps the lock well past its TTL.
pub async fn lock_is_kept_while_renewed(b: &dyn Backend) {
    let nodes = clients(b, 2, TEST_TTL).await;
    assert!(matches!(
        nodes[0].attempt_to_acquire_leader().await,
        Ok(Some(_))
    ));
    let until = Instant::now() + Duration::from_secs(u64::from(TEST_TTL) * 5 / 2);
    while Instant::now() < until {
        let c = cluster(&*nodes[0]).await;
        assert!(
            matches!(nodes[0].update_leader(&c, None).await, Ok(Some(_))),
            "a renewal failed"
        );
        assert!(matches!(
            nodes[1].attempt_to_acquire_leader().await,
            Ok(None)
        ));
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(
        leader_of(&cluster(&*nodes[1]).await).as_deref(),
        Some("node0")
    );
}

/// A holder that stops renewing (killed) loses the lock within its TTL (plus the store's
/// own slack), and another node can then take it.
pub async fn lock_expires_when_the_holder_stops(b: &dyn Backend) {
    let holder = b.client("holder", TEST_TTL).await;
    let other = b.client("other", TEST_TTL).await;
    assert!(matches!(
        holder.attempt_to_acquire_leader().await,
        Ok(Some(_))
    ));
    let stopped = Instant::now();
    b.abandon(holder).await;
    let bound = Duration::from_secs(u64::from(TEST_TTL) * 2 + 2);
    eventually("the abandoned lock expires", bound, || async {
        matches!(other.attempt_to_acquire_leader().await, Ok(Some(_))).then_some(())
    })
    .await;
    let took = stopped.elapsed();
    assert!(
        took >= Duration::from_millis(u64::from(TEST_TTL) * 1000 / 2),
        "the lock went after {took:?}, well before its ttl of {TEST_TTL} s"
    );
    assert_eq!(leader_of(&cluster(&*other).await).as_deref(), Some("other"));
}

/// `config` and `failover` writes with a version succeed only on that version.
pub async fn config_and_failover_are_compare_and_set(b: &dyn Backend) {
    let nodes = clients(b, 2, TEST_TTL).await;
    let (a, c2) = (&nodes[0], &nodes[1]);
    assert!(matches!(
        a.set_config_value(r#"{"ttl":30}"#, None).await,
        Ok(true)
    ));
    let v1 = cluster(&**a).await.config.expect("config").version;
    assert!(matches!(
        c2.set_config_value(r#"{"ttl":31}"#, Some(v1)).await,
        Ok(true)
    ));
    assert!(
        matches!(
            a.set_config_value(r#"{"ttl":32}"#, Some(v1)).await,
            Ok(false)
        ),
        "a config write on a stale version succeeded"
    );
    let config = cluster(&**a).await.config.expect("config");
    assert_eq!(config.data["ttl"], 31);
    assert_ne!(config.version, v1);

    assert!(matches!(
        a.set_failover_value(r#"{"leader":"node0"}"#, None).await,
        Ok(true)
    ));
    let f1 = cluster(&**a).await.failover.expect("failover").version;
    assert!(matches!(
        c2.set_failover_value(r#"{"leader":"node0","member":"node1"}"#, Some(f1))
            .await,
        Ok(true)
    ));
    assert!(matches!(
        a.set_failover_value("{}", Some(f1)).await,
        Ok(false)
    ));
    let failover = cluster(&**a).await.failover.expect("failover");
    assert_eq!(failover.candidate.as_deref(), Some("node1"));
    assert!(matches!(
        a.set_history_value("[[1,100,\"no recovery target specified\"]]")
            .await,
        Ok(true)
    ));
    assert!(cluster(&**a).await.history.is_some());
}

/// Member keys are listed while their holder lives and go with it; others stay.
pub async fn member_keys_go_with_their_holder(b: &dyn Backend) {
    let gone = b.client("gone", TEST_TTL).await;
    let stays = b.client("stays", TEST_TTL).await;
    gone.touch_member(r#"{"role":"replica","state":"running"}"#)
        .await
        .expect("touch");
    stays
        .touch_member(r#"{"role":"replica","state":"running"}"#)
        .await
        .expect("touch");
    let c = cluster(&*stays).await;
    let names: Vec<&str> = c.members.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.contains(&"gone") && names.contains(&"stays"),
        "{names:?}"
    );
    assert_eq!(
        c.members
            .iter()
            .find(|m| m.name == "stays")
            .map(|m| m.data["role"].clone()),
        Some("replica".into())
    );
    b.abandon(gone).await;
    let bound = Duration::from_secs(u64::from(TEST_TTL) * 2 + 2);
    eventually("the abandoned member key goes", bound, || async {
        // An error only means this round did not refresh; the next poll tries again.
        let _ = stays.keepalive().await;
        let c = cluster(&*stays).await;
        let names: Vec<String> = c.members.iter().map(|m| m.name.clone()).collect();
        (!names.contains(&"gone".to_string())).then_some(names)
    })
    .await;
    let c = cluster(&*stays).await;
    assert!(
        c.members.iter().any(|m| m.name == "stays"),
        "a live member's key went too"
    );
}

/// A watching node wakes at once when the leader key or the config changed since its last
/// read, and sleeps its whole timeout when nothing did.
pub async fn watch_wakes_on_leader_and_config_changes(b: &dyn Backend) {
    let watcher = b.client("watcher", TEST_TTL).await;
    let actor = b.client("actor", TEST_TTL).await;
    cluster(&*watcher).await;
    let quiet = Instant::now();
    let woke = watcher
        .watch(Duration::from_millis(1500))
        .await
        .expect("watch");
    assert!(!woke, "a watch woke with nothing changed");
    assert!(quiet.elapsed() >= Duration::from_millis(1400));

    for (what, change) in [
        ("taking the lock", 0),
        ("a config write", 1),
        ("deleting the lock", 2),
    ] {
        cluster(&*watcher).await;
        let w = Arc::clone(&watcher);
        let waiting = tokio::spawn(async move {
            let start = Instant::now();
            (w.watch(Duration::from_secs(20)).await, start.elapsed())
        });
        // No pause here: a change made after the last read must wake the watch even if it
        // lands before the watch call starts.
        let done = match change {
            0 => actor.attempt_to_acquire_leader().await.map(|t| t.is_some()),
            1 => actor.set_config_value(r#"{"loop_wait":3}"#, None).await,
            _ => actor.delete_leader(None).await.map(|_| true),
        };
        assert!(matches!(done, Ok(true)), "{what}: {done:?}");
        let (woke, after) = waiting.await.expect("watch task");
        assert!(matches!(woke, Ok(true)), "{what} did not wake the watch");
        assert!(
            after < Duration::from_secs(5),
            "{what} woke the watch only after {after:?}"
        );
    }
}

/// With the server stopped, calls fail (within the retry budget, not hanging); once it is
/// back the same client works again and keeps or retakes the lock, without a restart.
pub async fn server_restart_errors_then_recovers(b: &dyn Backend) {
    let node = b.client("node", 10).await;
    node.set_retry_timeout(2);
    assert!(matches!(
        node.attempt_to_acquire_leader().await,
        Ok(Some(_))
    ));
    b.stop().await;
    let started = Instant::now();
    let result = node.get_cluster().await;
    assert!(
        result.is_err(),
        "get_cluster succeeded with the server stopped"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a call to a stopped server took {:?}",
        started.elapsed()
    );
    let c = Cluster::default();
    assert!(
        !matches!(node.update_leader(&c, None).await, Ok(Some(_))),
        "renewed the lock with the server stopped"
    );
    b.start().await;
    eventually(
        "the client works again",
        Duration::from_secs(30),
        || async {
            let c = node.get_cluster().await.ok()?;
            let held = match leader_of(&c).as_deref() {
                Some("node") => node.update_leader(&c, None).await.ok()?,
                Some(_) => None,
                None => node.attempt_to_acquire_leader().await.ok()?,
            };
            held.map(|_| ())
        },
    )
    .await;
    node.touch_member(r#"{"state":"running"}"#)
        .await
        .expect("touch after the restart");
    let c = cluster(&*node).await;
    assert_eq!(leader_of(&c).as_deref(), Some("node"));
    assert!(c.members.iter().any(|m| m.name == "node"));
}

/// `delete_cluster` (patronictl remove) leaves nothing of the cluster.
pub async fn delete_cluster_removes_every_key(b: &dyn Backend) {
    let node = b.client("node", TEST_TTL).await;
    assert!(matches!(node.initialize(true, "1").await, Ok(true)));
    assert!(matches!(node.set_config_value("{}", None).await, Ok(true)));
    assert!(matches!(
        node.attempt_to_acquire_leader().await,
        Ok(Some(_))
    ));
    node.touch_member("{}").await.expect("touch");
    node.delete_cluster().await.expect("delete cluster");
    let c = cluster(&*node).await;
    assert!(
        c.initialize.is_none() && c.config.is_none() && c.leader.is_none() && c.members.is_empty(),
        "keys left after delete_cluster: {c:?}"
    );
}

/// A ttl lowered while a node leads applies to its lock at the next renewal: the ttl the
/// renewal reports (what the lease guard counts with) is never the old, longer one.
pub async fn a_lowered_ttl_applies_to_the_held_lock(b: &dyn Backend) {
    let node = b.client("node", TEST_TTL * 2).await;
    let taken = node.attempt_to_acquire_leader().await;
    assert!(
        matches!(taken, Ok(Some(t)) if t <= TEST_TTL * 2),
        "acquire: {taken:?}"
    );
    node.set_ttl(TEST_TTL);
    // The renewal timer may fire before the loop's next renewal: the lock is still ours.
    let timer = node.renew_lock().await;
    assert!(
        matches!(timer, Ok(Some(t)) if t <= TEST_TTL),
        "the renewal timer right after lowering the ttl got {timer:?}"
    );
    let c = cluster(&*node).await;
    let renewed = node.update_leader(&c, None).await;
    assert!(
        matches!(renewed, Ok(Some(t)) if t <= TEST_TTL),
        "the renewal after lowering the ttl counts with {renewed:?}"
    );
    let timer = node.renew_lock().await;
    assert!(
        matches!(timer, Ok(Some(t)) if t <= TEST_TTL),
        "the renewal timer after lowering the ttl counts with {timer:?}"
    );
    assert_eq!(leader_of(&cluster(&*node).await).as_deref(), Some("node"));
}

/// The renewal timer proves the leader key itself, not only the lease or session it hung
/// on: once the key was deleted and taken by another node, renewing fails even though our
/// session is alive.
pub async fn renewing_proves_the_key_not_only_the_session(b: &dyn Backend) {
    let nodes = clients(b, 2, TEST_TTL * 2).await;
    let (a, other) = (&nodes[0], &nodes[1]);
    assert!(matches!(a.attempt_to_acquire_leader().await, Ok(Some(_))));
    assert!(matches!(a.renew_lock().await, Ok(Some(_))));
    other.delete_cluster().await.expect("delete the keys");
    assert!(matches!(
        other.attempt_to_acquire_leader().await,
        Ok(Some(_))
    ));
    let renewed = a.renew_lock().await;
    assert!(
        matches!(renewed, Ok(None)),
        "renewed a lock another node holds: {renewed:?}"
    );
    assert_eq!(leader_of(&cluster(&**a).await).as_deref(), Some("node1"));
}
