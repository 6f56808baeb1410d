//! The ZooKeeper backend (the `zookeeper:` and `exhibitor:` sections, docs/dcs.md) on
//! the zookeeper-client crate.
//!
//! `leader` and `members/<name>` are ephemeral znodes of this node's session, so the session
//! is the lock's lease: when it expires (the server has not heard from us for the session
//! timeout, which is `ttl`), ZooKeeper deletes both and the lock is free. Every conditional
//! write carries the znode version. A lost session is replaced by a new one on the next call;
//! the old one's lock is gone with it, so a leader whose session expired demotes.

mod exhibitor;
mod keys;
mod watch;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use patroni_core::config::{ExhibitorConfig, ZooKeeperConfig};
use patroni_core::dcs::{DcsError, StatusKey};
use tokio::sync::Notify;
use zookeeper_client as zk;

pub use exhibitor::Exhibitor;

/// Where the ZooKeeper servers come from.
enum Hosts {
    Fixed(String),
    Exhibitor(Arc<Exhibitor>),
}

/// A node's (or patronictl's) ZooKeeper session and what it knows of the cluster's znodes.
pub struct ZooKeeperDcs {
    hosts: Hosts,
    auth: Vec<(String, String)>,
    /// `/service/<scope>/`.
    prefix: String,
    name: String,
    /// Leave sessions open on drop, as a killed process does (tests of expiry).
    detached: bool,
    state: Mutex<State>,
    status: StatusKey,
    /// The current session; replaced when it expires or is closed.
    session: tokio::sync::Mutex<Option<zk::Client>>,
    wake: Arc<Notify>,
    /// The watch task and the session it watches with.
    watcher: Mutex<Option<(i64, tokio::task::JoinHandle<()>)>>,
}

struct State {
    ttl: u32,
    retry_timeout: u32,
    /// The session timeout the server granted, in seconds.
    negotiated: Option<u32>,
    /// A new ttl waits for a new session: set until then.
    ttl_changed: bool,
    leading: bool,
    /// Our member znode's value and session at the last read: unchanged, it is not rewritten.
    member_read: Option<(String, String)>,
}

fn unavailable(e: impl std::fmt::Display) -> DcsError {
    DcsError::Unavailable(format!("ZooKeeper: {e}"))
}

impl ZooKeeperDcs {
    /// A client of the servers in `config`; the session opens on first use.
    pub fn new(
        config: &ZooKeeperConfig,
        prefix: &str,
        name: &str,
        ttl: u32,
        retry: u32,
    ) -> Result<ZooKeeperDcs, DcsError> {
        if config.use_ssl {
            return Err(DcsError::Protocol(
                "zookeeper.use_ssl: TLS to ZooKeeper is not supported by this build of patroni-rs"
                    .into(),
            ));
        }
        let hosts = config.hosts.join(",");
        Ok(Self::with_hosts(
            Hosts::Fixed(hosts),
            config.auth_data.clone(),
            prefix,
            name,
            ttl,
            retry,
        ))
    }

    /// A client of the servers Exhibitor lists, polled every `poll_interval`.
    pub async fn with_exhibitor(
        config: &ExhibitorConfig,
        prefix: &str,
        name: &str,
        ttl: u32,
        retry: u32,
    ) -> Result<ZooKeeperDcs, DcsError> {
        let exhibitor = Exhibitor::start(config).await?;
        Ok(Self::with_hosts(
            Hosts::Exhibitor(exhibitor),
            Vec::new(),
            prefix,
            name,
            ttl,
            retry,
        ))
    }

    fn with_hosts(
        hosts: Hosts,
        auth: Vec<(String, String)>,
        prefix: &str,
        name: &str,
        ttl: u32,
        retry_timeout: u32,
    ) -> ZooKeeperDcs {
        ZooKeeperDcs {
            hosts,
            auth,
            prefix: prefix.to_string(),
            name: name.to_string(),
            detached: false,
            state: Mutex::new(State {
                ttl,
                retry_timeout,
                negotiated: None,
                ttl_changed: false,
                leading: false,
                member_read: None,
            }),
            status: StatusKey,
            session: tokio::sync::Mutex::new(None),
            wake: Arc::new(Notify::new()),
            watcher: Mutex::new(None),
        }
    }

    /// Sessions are not closed when this client is dropped, so its ephemeral znodes stay
    /// until the session times out, as after a kill -9 (for tests).
    pub fn with_detached_sessions(mut self) -> ZooKeeperDcs {
        self.detached = true;
        self
    }

    /// The ttl our lock counts with: the session timeout ZooKeeper granted, or the configured
    /// ttl if shorter (a ttl lowered while we lead applies before our next session).
    fn lock_ttl(&self) -> u32 {
        let s = self.state();
        match s.negotiated {
            Some(n) => s.ttl.min(n),
            None => s.ttl,
        }
    }

    /// The current session if it has not ended (without opening a new one).
    async fn live_session(&self) -> Option<zk::Client> {
        match self.session.lock().await.as_ref() {
            Some(c) if !c.state().is_terminated() => Some(c.clone()),
            _ => None,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.state().retry_timeout.max(1)))
    }

    /// The znode of key `k` (`leader`, `members/pg0`...).
    fn path(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    /// The cluster's directory znode (the prefix without its trailing `/`).
    fn dir(&self) -> &str {
        self.prefix.trim_end_matches('/')
    }

    /// The live session, opening a new one when there is none or the last one ended.
    async fn client(&self) -> Result<zk::Client, DcsError> {
        let mut slot = self.session.lock().await;
        if let Some(c) = slot.as_ref() {
            let restart = self.state().ttl_changed && !self.state().leading;
            if !c.state().is_terminated() && !restart {
                return Ok(c.clone());
            }
            if restart {
                tracing::info!("opening a new ZooKeeper session for the new ttl");
            } else {
                tracing::warn!(
                    "ZooKeeper session {} ended: opening a new one",
                    c.session_id()
                );
            }
            *slot = None;
            self.state().leading = false;
        }
        let (ttl, timeout) = {
            let s = self.state();
            (
                s.ttl,
                Duration::from_secs(u64::from(s.retry_timeout.max(1))),
            )
        };
        let hosts = match &self.hosts {
            Hosts::Fixed(h) => h.clone(),
            Hosts::Exhibitor(e) => e.hosts(),
        };
        let mut connector = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(u64::from(ttl.max(1))))
            .with_connection_timeout(timeout);
        for (scheme, cred) in &self.auth {
            connector = connector.with_auth(scheme, cred.as_bytes());
        }
        if self.detached {
            connector = connector.with_detached();
        }
        let client = tokio::time::timeout(timeout, connector.connect(&hosts))
            .await
            .map_err(|_| unavailable(format!("no session with {hosts} within {timeout:?}")))?
            .map_err(unavailable)?;
        let negotiated = client.session_timeout().as_secs() as u32;
        if negotiated < ttl {
            tracing::warn!(
                "ZooKeeper granted a session timeout of {negotiated} s, shorter than ttl {ttl} s: the lock counts with {negotiated} s"
            );
        }
        {
            let mut s = self.state();
            s.negotiated = Some(negotiated);
            s.ttl_changed = false;
        }
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Runs one request within the retry budget. The outer error is the store being out of
    /// reach; the inner one is ZooKeeper's answer that callers expect (no node, node exists,
    /// bad version). A session that ended is dropped so the next call opens a new one.
    async fn attempt<T, F>(&self, fut: F) -> Result<Result<T, zk::Error>, DcsError>
    where
        F: std::future::Future<Output = Result<T, zk::Error>>,
    {
        match tokio::time::timeout(self.timeout(), fut).await {
            Err(_) => Err(unavailable("request timed out")),
            Ok(Err(e @ (zk::Error::NoNode | zk::Error::NodeExists | zk::Error::BadVersion))) => {
                Ok(Err(e))
            }
            Ok(Err(e)) => {
                if matches!(e, zk::Error::SessionExpired | zk::Error::ClientClosed) {
                    self.session.lock().await.take();
                }
                Err(unavailable(e))
            }
            Ok(Ok(v)) => Ok(Ok(v)),
        }
    }

    /// [`Self::attempt`] for requests where any ZooKeeper error is a failure.
    async fn run<T, F>(&self, fut: F) -> Result<T, DcsError>
    where
        F: std::future::Future<Output = Result<T, zk::Error>>,
    {
        self.attempt(fut).await?.map_err(unavailable)
    }
}

impl Drop for ZooKeeperDcs {
    fn drop(&mut self) {
        let slot = self.watcher.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((_, handle)) = slot.take() {
            handle.abort();
        }
    }
}
