//! An in-memory DCS with the rules of a real one: sessions that expire after their TTL and
//! take their keys with them, a modification counter per key for compare-and-set, watches,
//! and a switch that makes the store unreachable. It is the first backend the conformance
//! suite runs on, so a failure there is a bug in the suite, not in a network client.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patroni_core::cluster::{Cluster, KeyValue};
use patroni_core::dcs::{Dcs, DcsError, StatusKey};
use tokio::sync::Notify;

#[derive(Default)]
struct Data {
    keys: BTreeMap<String, Entry>,
    /// Session id → when it expires, and its ttl.
    sessions: HashMap<u64, (Instant, u32)>,
    revision: i64,
    next_session: u64,
    down: bool,
}

struct Entry {
    value: String,
    version: i64,
    session: Option<u64>,
}

/// One store ("server"), shared by every client made from it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
    changed: Arc<Notify>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A poisoned lock only means a test panicked mid-update; the data is still usable.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every operation fail as an unreachable server would (`false`) or work again.
    pub fn set_reachable(&self, reachable: bool) {
        self.lock().down = !reachable;
    }

    /// A client for member `name` under `prefix`.
    pub fn client(&self, prefix: &str, name: &str, ttl: u32) -> MemoryDcs {
        MemoryDcs {
            store: self.clone(),
            prefix: prefix.to_string(),
            name: name.to_string(),
            state: Mutex::new(ClientState {
                ttl,
                session: None,
                mine: Vec::new(),
                seen: None,
            }),
            status: StatusKey,
        }
    }

    /// Runs `f` on the data after expiring sessions; `Unavailable` while the store is down.
    fn with<T>(&self, f: impl FnOnce(&mut Data) -> T) -> Result<T, DcsError> {
        let mut data = self.lock();
        if data.down {
            return Err(DcsError::Unavailable("the in-memory store is down".into()));
        }
        let now = Instant::now();
        let expired: Vec<u64> = data
            .sessions
            .iter()
            .filter(|(_, (until, _))| *until <= now)
            .map(|(id, _)| *id)
            .collect();
        if !expired.is_empty() {
            for id in &expired {
                data.sessions.remove(id);
            }
            data.keys
                .retain(|_, e| !e.session.is_some_and(|s| expired.contains(&s)));
            self.changed.notify_waiters();
        }
        let before = data.revision;
        let out = f(&mut data);
        if data.revision != before {
            self.changed.notify_waiters();
        }
        Ok(out)
    }
}

impl Data {
    fn put(&mut self, key: String, value: &str, session: Option<u64>) {
        self.revision += 1;
        let version = self.revision;
        self.keys.insert(
            key,
            Entry {
                value: value.to_string(),
                version,
                session,
            },
        );
    }

    fn delete(&mut self, key: &str) -> bool {
        let gone = self.keys.remove(key).is_some();
        if gone {
            self.revision += 1;
        }
        gone
    }
}

struct ClientState {
    ttl: u32,
    session: Option<u64>,
    /// Every session this client opened (a ttl change opens a new one).
    mine: Vec<u64>,
    /// Versions of `leader` and `config` at our last read: a watch wakes on any change since.
    seen: Option<Watched>,
}

type Watched = (Option<i64>, Option<i64>);

/// One node's client of a [`MemoryStore`]; its ephemeral keys hang on one session.
pub struct MemoryDcs {
    store: MemoryStore,
    prefix: String,
    name: String,
    state: Mutex<ClientState>,
    status: StatusKey,
}

impl MemoryDcs {
    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    fn state(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watched(&self, d: &Data) -> Watched {
        let version = |k: &str| d.keys.get(&self.key(k)).map(|e| e.version);
        (version("leader"), version("config"))
    }

    /// Our live session, opening a new one when the old one expired.
    fn session(&self, data: &mut Data) -> u64 {
        let (ttl, current) = {
            let s = self.state();
            (s.ttl, s.session)
        };
        if let Some(id) = current.filter(|id| data.sessions.contains_key(id)) {
            return id;
        }
        data.next_session += 1;
        let id = data.next_session;
        data.sessions.insert(
            id,
            (Instant::now() + Duration::from_secs(u64::from(ttl)), ttl),
        );
        let mut s = self.state();
        s.session = Some(id);
        s.mine.push(id);
        id
    }

    /// Refreshes our live session (opening one if needed) and checks that `leader` holds our
    /// name on it, moving it there from an older session of ours: the ttl it now lives for.
    fn prove_leader(&self, d: &mut Data) -> Option<u32> {
        let id = self.session(d);
        let ttl = d.sessions.get(&id).map(|(_, t)| *t)?;
        d.sessions.insert(
            id,
            (Instant::now() + Duration::from_secs(u64::from(ttl)), ttl),
        );
        let key = self.key("leader");
        let entry = d.keys.get(&key)?;
        if entry.value != self.name {
            return None;
        }
        match entry.session {
            Some(s) if s == id => Some(ttl),
            Some(s) if self.state().mine.contains(&s) => {
                d.put(key, &self.name, Some(id));
                Some(ttl)
            }
            _ => None,
        }
    }

    fn cas(&self, key: &str, value: &str, version: Option<i64>) -> Result<bool, DcsError> {
        let key = self.key(key);
        self.store.with(|d| {
            let current = d.keys.get(&key).map(|e| e.version);
            if version.is_some() && current != version {
                return false;
            }
            d.put(key, value, None);
            true
        })
    }
}

#[async_trait]
impl Dcs for MemoryDcs {
    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        let keys = self.store.with(|d| {
            d.keys
                .iter()
                .filter_map(|(k, e)| {
                    Some(KeyValue {
                        key: k.strip_prefix(self.prefix.as_str())?.to_string(),
                        value: e.value.clone(),
                        version: e.version,
                        session: e.session.map(|s| s.to_string()),
                    })
                })
                .collect::<Vec<_>>()
        })?;
        let seen = self.store.with(|d| self.watched(d))?;
        self.state().seen = Some(seen);
        Ok(Cluster::from_keys(&keys))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<Option<u32>, DcsError> {
        let key = self.key("leader");
        self.store.with(|d| {
            if d.keys.contains_key(&key) {
                return None;
            }
            let session = self.session(d);
            d.put(key, &self.name, Some(session));
            d.sessions.get(&session).map(|(_, ttl)| *ttl)
        })
    }

    async fn update_leader(
        &self,
        cluster: &Cluster,
        last_lsn: Option<u64>,
    ) -> Result<Option<u32>, DcsError> {
        let held = self.store.with(|d| self.prove_leader(d))?;
        self.status
            .after_renewal(self, cluster, held, last_lsn)
            .await;
        Ok(held)
    }

    async fn renew_lock(&self) -> Result<Option<u32>, DcsError> {
        self.store.with(|d| self.prove_leader(d))
    }

    async fn keepalive(&self) -> Result<(), DcsError> {
        let Some(id) = self.state().session else {
            return Ok(());
        };
        self.store.with(|d| {
            if let Some((until, ttl)) = d.sessions.get_mut(&id) {
                *until = Instant::now() + Duration::from_secs(u64::from(*ttl));
            }
        })
    }

    async fn delete_leader(&self, last_lsn: Option<u64>) -> Result<(), DcsError> {
        if let Some(lsn) = last_lsn {
            self.status.write(self, lsn).await?;
        }
        let key = self.key("leader");
        self.store.with(|d| {
            if d.keys.get(&key).is_some_and(|e| e.value == self.name) {
                d.delete(&key);
            }
        })
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        let key = self.key("initialize");
        self.store.with(|d| {
            if create_new && d.keys.contains_key(&key) {
                return false;
            }
            d.put(key, sysid, None);
            true
        })
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        let key = self.key("initialize");
        self.store.with(|d| {
            d.delete(&key);
        })
    }

    async fn touch_member(&self, data: &str) -> Result<(), DcsError> {
        let key = self.key(&format!("members/{}", self.name));
        self.store.with(|d| {
            let session = self.session(d);
            d.put(key, data, Some(session));
        })
    }

    async fn write_key(
        &self,
        key: &str,
        value: &str,
        version: Option<i64>,
    ) -> Result<bool, DcsError> {
        self.cas(key, value, version)
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        self.store.with(|d| {
            let before = d.keys.len();
            d.keys.retain(|k, _| !k.starts_with(self.prefix.as_str()));
            if d.keys.len() != before {
                d.revision += 1;
            }
        })
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        let snapshot = |d: &mut Data| self.watched(d);
        let before = match self.state().seen {
            Some(seen) => seen,
            None => self.store.with(snapshot)?,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.store.changed.notified();
            // Sessions expire lazily: look again at least every 100 ms.
            let step = tokio::time::Instant::now() + Duration::from_millis(100);
            let woke = tokio::time::timeout_at(step.min(deadline), notified).await;
            let now = self.store.with(snapshot).unwrap_or(before);
            if now != before {
                self.state().seen = Some(now);
                return Ok(true);
            }
            if woke.is_err() && tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    fn set_ttl(&self, ttl: u32) {
        let mut s = self.state();
        if s.ttl != ttl {
            s.ttl = ttl;
            s.session = None;
        }
    }

    fn set_retry_timeout(&self, _retry_timeout: u32) {}
}
