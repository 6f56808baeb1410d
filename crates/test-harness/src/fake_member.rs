//! A fake Patroni REST API on a free loopback port that misbehaves as a test chooses, and
//! the member key that makes a test cluster poll it: what anyone able to write a
//! `members/<name>` key in the DCS can point the real members at.
//!
//! It runs on plain threads rather than the test's runtime so it keeps misbehaving (dripping,
//! flooding) while the test awaits something else, whatever runtime flavour the test uses.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{free_port, Etcd};

/// How the fake answers every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// A sane replica that is far behind: the control case.
    Healthy,
    /// Bytes that are not HTTP at all.
    Garbage,
    /// A status line and part of the headers, then the connection closes.
    Truncated,
    /// `Content-Length` of 10 GB and a body that never ends.
    Gigantic,
    /// An HTTP/1.0 body with no length that never ends.
    Endless,
    /// A valid-looking answer, one byte a second.
    Slow,
    /// Accepts the connection and never answers.
    Silent,
    /// A chunked body whose first chunk claims `ffffffffffffffff` bytes, then floods.
    ChunkedBomb,
    /// A body that is not JSON.
    InvalidJson,
    /// JSON whose fields have the wrong types (`"xlog": "x"`, `"role": 5`...).
    WrongTypes,
    /// JSON with numbers no WAL position or timeline can be (`1e300`, `99999999999999999999`).
    HugeNumbers,
    /// JSON with negative WAL positions and timeline.
    NegativeLsns,
}

impl Misbehaviour {
    /// Every kind, for tests that go through all of them.
    pub const ALL: [Misbehaviour; 12] = [
        Misbehaviour::Healthy,
        Misbehaviour::Garbage,
        Misbehaviour::Truncated,
        Misbehaviour::Gigantic,
        Misbehaviour::Endless,
        Misbehaviour::Slow,
        Misbehaviour::Silent,
        Misbehaviour::ChunkedBomb,
        Misbehaviour::InvalidJson,
        Misbehaviour::WrongTypes,
        Misbehaviour::HugeNumbers,
        Misbehaviour::NegativeLsns,
    ];
}

/// The fake REST API; it stops serving when dropped.
pub struct FakeMember {
    /// The member name it is registered under.
    pub name: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    behaviour: Arc<Mutex<Misbehaviour>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeMember {
    /// Starts serving as member `name` with `behaviour`.
    pub fn start(name: &str, behaviour: Misbehaviour) -> FakeMember {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the fake member");
        let fake = FakeMember {
            name: name.to_string(),
            port,
            behaviour: Arc::new(Mutex::new(behaviour)),
            requests: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (behaviour, requests, stop) = (
            Arc::clone(&fake.behaviour),
            Arc::clone(&fake.requests),
            Arc::clone(&fake.stop),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let how = *behaviour.lock().unwrap_or_else(|e| e.into_inner());
                requests.fetch_add(1, Ordering::SeqCst);
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || misbehave(conn, how, &stop));
            }
        });
        fake
    }

    /// Changes how it answers from the next connection on.
    pub fn set(&self, behaviour: Misbehaviour) {
        *self.behaviour.lock().unwrap_or_else(|e| e.into_inner()) = behaviour;
    }

    /// How many connections it accepted so far (to see that the cluster polled it).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:<port>/patroni`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/patroni", self.port)
    }

    /// The member key's value: a running replica whose REST API is this fake (its
    /// `conn_url` points at the fake too, which answers PostgreSQL with the same garbage).
    pub fn member_value(&self) -> String {
        serde_json::json!({
            "conn_url": format!("postgres://127.0.0.1:{}/postgres", self.port),
            "api_url": self.api_url(),
            "state": "running",
            "role": "replica",
            "version": "4.1.0",
            "xlog_location": 0,
            "timeline": 1,
        })
        .to_string()
    }

    /// Writes `/service/<scope>/members/<name>` (no lease, so it stays until removed).
    pub fn register(&self, etcd: &Etcd, scope: &str) {
        etcd.put(&self.key(scope), &self.member_value());
    }

    /// Removes the member key.
    pub fn unregister(&self, etcd: &Etcd, scope: &str) {
        etcd.delete(&self.key(scope));
    }

    fn key(&self, scope: &str) -> String {
        format!("/service/{scope}/members/{}", self.name)
    }
}

impl Drop for FakeMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag; if the connect fails it is gone already.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

const HEALTHY: &str = r#"{"state": "running", "role": "replica", "server_version": 150000, "xlog": {"received_location": 0, "replayed_location": 0, "paused": false}, "timeline": 1, "patroni": {"version": "4.1.0", "scope": "batman", "name": "fake"}}"#;
const WRONG_TYPES: &str = r#"{"state": 7, "role": 5, "xlog": "x", "timeline": "one", "tags": ["nofailover"], "watchdog_failed": "yes", "patroni": null}"#;
const HUGE_NUMBERS: &str = r#"{"state": "running", "role": "replica", "xlog": {"received_location": 99999999999999999999, "replayed_location": 1e300, "location": 1e300}, "timeline": 1e300, "tags": {"failover_priority": 99999999999999999999, "nofailover": 1e300}}"#;
const NEGATIVE: &str = r#"{"state": "running", "role": "replica", "xlog": {"received_location": -1, "replayed_location": -9223372036854775808}, "timeline": -1, "tags": {"failover_priority": -5}}"#;

/// Answers one connection as `how` says. Every write error means the client hung up, which
/// ends the connection: that is what the misbehaviours are meant to provoke, not a failure.
fn misbehave(mut conn: TcpStream, how: Misbehaviour, stop: &AtomicBool) {
    // A client that stops reading must not pin this thread forever; without the timeout the
    // fake still works, only less tidily.
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    read_head(&mut conn);
    let json =
        |body: &str| format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
    let (head, flood): (String, Option<u8>) = match how {
        Misbehaviour::Healthy => (json(HEALTHY), None),
        Misbehaviour::Garbage => ("\u{0}\u{7f}garbage\r\n\r\n{{{".into(), None),
        Misbehaviour::Truncated => (
            "HTTP/1.0 200 OK\r\nContent-Length: 1000\r\nContent-Ty".into(),
            None,
        ),
        Misbehaviour::Gigantic => (
            "HTTP/1.0 200 OK\r\nContent-Length: 10000000000\r\n\r\n{\"role\": \"".into(),
            Some(b'a'),
        ),
        Misbehaviour::Endless => ("HTTP/1.0 200 OK\r\n\r\n[".into(), Some(b'1')),
        Misbehaviour::ChunkedBomb => (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n".into(),
            Some(b'z'),
        ),
        Misbehaviour::Slow => return drip(&mut conn, json(HEALTHY).as_bytes(), stop),
        Misbehaviour::Silent => return hold(&mut conn, stop),
        Misbehaviour::InvalidJson => (json("{\"role\": \"replica\", \"xlog\": {"), None),
        Misbehaviour::WrongTypes => (json(WRONG_TYPES), None),
        Misbehaviour::HugeNumbers => (json(HUGE_NUMBERS), None),
        Misbehaviour::NegativeLsns => (json(NEGATIVE), None),
    };
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    if let Some(byte) = flood {
        let block = [byte; 65536];
        while !stop.load(Ordering::SeqCst) && conn.write_all(&block).is_ok() {}
    }
}

/// One byte a second until done, the client hangs up or the fake stops.
fn drip(conn: &mut TcpStream, bytes: &[u8], stop: &AtomicBool) {
    for b in bytes {
        if stop.load(Ordering::SeqCst) || conn.write_all(&[*b]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Keeps the connection open without a word until the client hangs up or the fake stops.
fn hold(conn: &mut TcpStream, stop: &AtomicBool) {
    if conn
        .set_read_timeout(Some(Duration::from_millis(500)))
        .is_err()
    {
        return;
    }
    let mut sink = [0u8; 64];
    while !stop.load(Ordering::SeqCst) {
        match conn.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// Reads the request head (up to 64 KiB or 5 s) so the client is not reset for unread data.
fn read_head(conn: &mut TcpStream) {
    // Without the timeout a client that sends nothing holds the thread until it hangs up.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match conn.read(&mut chunk) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}
