//! The client against peers that misbehave in every way a forged `api_url` allows: each case
//! runs a fake server on a free loopback port that answers exactly as scripted. None may panic;
//! each must end in the right error (or the right answer) within the timeout.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use patroni_rest_client::{call, call_limited, get_json, Error};

/// Starts a server that reads each request head and then runs `script` on the connection;
/// returns its base URL and a channel with each connection's request head.
fn serve<F>(script: F) -> (String, mpsc::Receiver<Vec<u8>>)
where
    F: Fn(&mut TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    let script = std::sync::Arc::new(script);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let script = std::sync::Arc::clone(&script);
            let tx = tx.clone();
            std::thread::spawn(move || {
                let head = read_request(&mut stream);
                // The test may have stopped listening already.
                let _ = tx.send(head);
                script(&mut stream);
            });
        }
    });
    (url, rx)
}

/// The request as sent: the head and as much of the body as `Content-Length` announces.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return buf,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if stream.read_exact(&mut body).is_ok() {
        buf.extend_from_slice(&body);
    }
    buf
}

/// A server that writes `response` and closes.
fn answer(response: &'static [u8]) -> String {
    serve(move |s| {
        // The client may have hung up already: that is what some cases test.
        let _ = s.write_all(response);
    })
    .0
}

const T: Duration = Duration::from_secs(3);

async fn get(url: &str) -> Result<(u16, String), Error> {
    call("GET", &format!("{url}/patroni"), None, T, None).await
}

#[tokio::test]
async fn chunk_size_of_all_ones_ends_in_an_error() {
    // u64::MAX is a valid chunk size for the parser: the body ends short of it...
    let url = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc\r\n0\r\n\r\n");
    let e = get(&url).await.expect_err("short chunk");
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
    assert!(e.to_string().contains(&url), "{e}");
    // ...or goes on until the limit.
    static BLOCK: [u8; 65536] = [b'x'; 65536];
    let (url, _) = endless(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        &BLOCK,
    );
    let e = get(&url).await.expect_err("huge chunk");
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    // One more hex digit overflows the parser.
    let url = answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n");
    let e = get(&url).await.expect_err("overflowing chunk size");
    assert!(matches!(e, Error::InvalidHttp { .. }), "{e}");
}

#[tokio::test]
async fn negative_and_garbage_chunk_sizes_are_invalid_http() {
    for body in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabcde\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n\r\n",
    ] {
        let url = answer(body);
        let e = get(&url).await.expect_err("bad chunk size");
        assert!(
            matches!(e, Error::InvalidHttp { .. } | Error::Truncated { .. }),
            "{}: {e}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Writes `head` then the same block forever; reports how many bytes went out before the
/// client hung up.
fn endless(head: &'static [u8], block: &'static [u8]) -> (String, mpsc::Receiver<u64>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let (url, _) = serve(move |s| {
        let mut sent = 0u64;
        if s.write_all(head).is_ok() {
            while s.write_all(block).is_ok() {
                sent += block.len() as u64;
            }
        }
        // The test reads only the first connection's count.
        let _ = tx.lock().map(|t| t.send(sent));
    });
    (url, rx)
}

#[tokio::test]
async fn endless_body_stops_at_the_limit() {
    static BLOCK: [u8; 65536] = [b'x'; 65536];
    let (url, sent) = endless(
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
        &BLOCK,
    );
    let e = get(&url).await.expect_err("endless body");
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == patroni_rest_client::DEFAULT_BODY_LIMIT),
        "{e}"
    );
    // The client hung up soon after the limit: what the server got out is the limit plus
    // what the socket buffers hold, not gigabytes.
    let sent = sent
        .recv_timeout(Duration::from_secs(10))
        .expect("server noticed the hang-up");
    assert!(sent < 64 << 20, "server wrote {sent} bytes");
}

/// One 1 KiB chunk of a chunked body, to repeat.
fn chunk_block() -> &'static [u8] {
    let block = format!("400\r\n{}\r\n", "x".repeat(1024));
    Box::leak(block.into_bytes().into_boxed_slice())
}

#[tokio::test]
async fn endless_chunked_body_and_a_huge_content_length_stop_at_the_limit() {
    let (url, _) = endless(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        chunk_block(),
    );
    let e = call_limited("GET", &url, None, T, None, 100_000)
        .await
        .expect_err("endless chunks");
    assert!(matches!(e, Error::TooLarge { limit: 100_000, .. }), "{e}");

    static BLOCK: [u8; 4096] = [b'1'; 4096];
    let (url, _) = endless(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n",
        &BLOCK,
    );
    let e = get(&url).await.expect_err("10 GB announced");
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[tokio::test]
async fn content_length_past_u64_is_invalid_http() {
    let url = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{}");
    let e = get(&url).await.expect_err("content-length overflow");
    assert!(matches!(e, Error::InvalidHttp { .. }), "{e}");
}

/// A peer writing `head` and then one byte of `drip` a second.
fn dripping(head: &'static [u8], drip: &'static [u8]) -> String {
    serve(move |s| {
        if s.write_all(head).is_err() {
            return;
        }
        for b in drip.iter().cycle() {
            if s.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .0
}

#[tokio::test]
async fn a_slow_drip_times_out() {
    for url in [
        dripping(b"HTTP/1.0 200 OK\r\n\r\n", b"{\"a\": 1} "),
        dripping(b"", b"HTTP/1.0 200 OK\r\nX-Slow: yes\r\n"),
    ] {
        let started = Instant::now();
        let e = call("GET", &url, None, Duration::from_millis(1500), None)
            .await
            .expect_err("drip");
        assert!(matches!(e, Error::TimedOut { .. }), "{e}");
        assert!(e.is_timeout());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out() {
    let (url, _) = serve(|s| {
        let mut sink = [0u8; 16];
        // Holds the connection open until the client gives up.
        while s.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    let e = call("GET", &url, None, Duration::from_millis(500), None)
        .await
        .expect_err("silence");
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test]
async fn garbage_status_lines_are_invalid_http() {
    for resp in [
        &b"garbage\r\n\r\n"[..],
        b"HTTP/1.0 abc OK\r\n\r\n",
        b"HTTP/1.0 99999 OK\r\n\r\n",
        b"{\"role\": \"primary\"}",
        b"\x00\xff\xfe\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nno colon here\r\n\r\n",
    ] {
        let url = answer(resp);
        let e = get(&url).await.expect_err("garbage");
        assert!(
            matches!(e, Error::InvalidHttp { .. } | Error::Truncated { .. }),
            "{}: {e}",
            String::from_utf8_lossy(resp)
        );
    }
}

#[tokio::test]
async fn huge_headers_are_refused() {
    let (url, _) = serve(|s| {
        let mut head = b"HTTP/1.0 200 OK\r\n".to_vec();
        for i in 0..3000 {
            head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(40)).as_bytes());
        }
        head.extend_from_slice(b"\r\n{}");
        // The client hangs up once it has seen too much.
        let _ = s.write_all(&head);
    });
    let e = get(&url).await.expect_err("huge head");
    assert!(
        matches!(e, Error::InvalidHttp { .. } | Error::Truncated { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn truncated_responses_are_reported() {
    for resp in [
        &b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\""[..],
        b"HTTP/1.0 200 O",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        b"",
    ] {
        let url = answer(resp);
        let e = get(&url).await.expect_err("truncated");
        assert!(
            matches!(e, Error::Truncated { .. }),
            "{}: {e}",
            String::from_utf8_lossy(resp)
        );
    }
}

#[tokio::test]
async fn json_errors_and_wrong_shapes() {
    let url = answer(b"HTTP/1.0 200 OK\r\n\r\n{\"role\": \"primary\", ");
    let e = get_json(&format!("{url}/patroni"), T, None)
        .await
        .expect_err("invalid JSON");
    assert!(matches!(e, Error::InvalidJson { .. }), "{e}");
    assert!(e.to_string().contains("/patroni"), "{e}");

    for body in [
        &b"HTTP/1.0 200 OK\r\n\r\n[1, 2, 3]"[..],
        b"HTTP/1.0 200 OK\r\n\r\n{\"xlog\": \"x\", \"role\": 5}",
        b"HTTP/1.0 200 OK\r\n\r\n{\"xlog\": {\"location\": -5}, \"timeline\": 1e300}",
        b"HTTP/1.0 200 OK\r\n\r\n{\"xlog\": {\"location\": 99999999999999999999}, \"tags\": {\"failover_priority\": 1e300}}",
        b"HTTP/1.0 200 OK\r\n\r\nnull",
    ] {
        let url = answer(body);
        let (code, doc) = get_json(&url, T, None).await.expect("valid JSON");
        assert_eq!(code, 200);
        // Whatever the shape, reading it as a peer must not panic.
        let _peer = patroni_core::peer::PeerStatus::parse("fake", &doc);
    }
}

#[tokio::test]
async fn http_1_0_bodies_are_read_to_eof() {
    let url = answer(b"HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6 Python/3.11\r\nContent-Type: application/json\r\n\r\n{\"state\": \"running\", \"role\": \"primary\"}");
    let (code, doc) = get_json(&format!("{url}/patroni"), T, None)
        .await
        .expect("read to EOF");
    assert_eq!(code, 200);
    assert_eq!(doc["role"], "primary");
}

#[tokio::test]
async fn bare_status_lines_without_headers() {
    let url = answer(b"HTTP/1.0 503 Service Unavailable\r\n\r\n");
    for method in ["HEAD", "OPTIONS", "GET"] {
        let (code, body) = call(method, &format!("{url}/primary"), None, T, None)
            .await
            .expect("bare status line");
        assert_eq!((code, body.as_str()), (503, ""), "{method}");
    }
}

#[tokio::test]
async fn the_request_carries_path_host_auth_and_body() {
    let (url, requests) = serve(|s| {
        // The test checks the request, not the answer.
        let _ = s.write_all(b"HTTP/1.0 202 Accepted\r\n\r\nok");
    });
    let (code, body) = call(
        "POST",
        &format!("{url}/switchover?x=1"),
        Some("{\"leader\": \"pg0\"}"),
        T,
        Some("dXNlcjpwYXNz"),
    )
    .await
    .expect("post");
    assert_eq!((code, body.as_str()), (202, "ok"));
    let head = String::from_utf8(requests.recv().expect("request")).expect("utf-8");
    let lower = head.to_ascii_lowercase();
    assert!(
        head.starts_with("POST /switchover?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    let host = url.trim_start_matches("http://");
    assert!(lower.contains(&format!("host: {host}\r\n")), "{head}");
    assert!(
        lower.contains("authorization: basic dxnlcjpwyxnz\r\n"),
        "{head}"
    );
    assert!(lower.contains("content-length: 17\r\n"), "{head}");
    assert!(
        lower.contains("content-type: application/json\r\n"),
        "{head}"
    );
    assert!(head.ends_with("\r\n\r\n{\"leader\": \"pg0\"}"), "{head}");
}

#[tokio::test]
async fn unusable_urls_and_refused_connections() {
    let e = call("GET", "https://127.0.0.1:8008/patroni", None, T, None)
        .await
        .expect_err("https");
    assert!(matches!(e, Error::UnsupportedScheme { .. }), "{e}");
    for url in [
        "127.0.0.1:8008/patroni",
        "http://",
        "http:// bad/",
        "http://[::1/x",
    ] {
        let e = call("GET", url, None, T, None).await.expect_err(url);
        assert!(matches!(e, Error::InvalidUrl { .. }), "{url}: {e}");
    }
    let e = call("BAD METHOD", "http://127.0.0.1:1/", None, T, None)
        .await
        .expect_err("method");
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("http://127.0.0.1:{port}/patroni");
    let e = call("GET", &url, None, T, None).await.expect_err("refused");
    assert!(matches!(e, Error::Refused { .. }), "{e}");
    assert_eq!(e.url(), url);
}
