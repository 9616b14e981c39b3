//! Checks the test sink itself (no core involved), so a failure elsewhere can be trusted to
//! be the core's and not the harness's.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

fn post(stream: &mut TcpStream, path: &str, body: &str) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
}

/// Reads one response (head + Content-Length body); None on EOF.
fn read_response(stream: &mut TcpStream) -> Option<(u16, String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    Some((status, head, String::from_utf8(body).unwrap()))
}

#[test]
fn keep_alive_script_and_default() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::status(429, "slow down").with_header("Retry-After", "7"));
    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    // Two requests on one connection: scripted, then the default.
    post(&mut s, "/v1/events/track", r#"[{"a":1}]"#);
    let (st, head, body) = read_response(&mut s).unwrap();
    assert_eq!(st, 429);
    assert!(head.contains("Retry-After: 7"));
    assert_eq!(body, "slow down");
    post(&mut s, "/v1/events/track", r#"[{"a":2}]"#);
    let (st, _, body) = read_response(&mut s).unwrap();
    assert_eq!((st, body.as_str()), (200, r#"{"ok":true}"#));
    // events/track_partial must not count as events/track.
    post(&mut s, "/v1/events/track_partial", "{}");
    read_response(&mut s).unwrap();

    let a = sink.attempts_on(EVENTS);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].header("authorization"), Some("Bearer k"));
    assert_eq!(a[0].answered, Some(429));
    assert_eq!(sink.delivered(EVENTS), vec![serde_json::json!({"a":2})]);
    assert_eq!(sink.attempts().len(), 3);
}

#[test]
fn reset_delay_and_hang() {
    let sink = Sink::start();
    sink.script(SIGNALS, Reply::Reset);
    sink.script(SIGNALS, Reply::ok().delayed(Duration::from_millis(200)));
    sink.script(SIGNALS, Reply::Hang);

    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    post(&mut s, "/v1/signals/track", "[]");
    assert!(read_response(&mut s).is_none(), "reset closes without answering");

    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    let t = Instant::now();
    post(&mut s, "/v1/signals/track", "[]");
    assert_eq!(read_response(&mut s).unwrap().0, 200);
    assert!(t.elapsed() >= Duration::from_millis(190));

    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    post(&mut s, "/v1/signals/track", "[]");
    assert!(read_response(&mut s).is_none(), "hang never answers");
    assert!(sink.wait_attempts(SIGNALS, 3, Duration::from_secs(1)));

    // Dropping the server with a hanging connection must return promptly.
    let t = Instant::now();
    drop(sink);
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn helpers() {
    assert!(is_uuid_v4("0b7d2f4e-1c3a-4e55-9a61-2f0c7d1e9a10"));
    assert!(!is_uuid_v4("0b7d2f4e-1c3a-1e55-9a61-2f0c7d1e9a10"));
    assert!(!is_uuid_v4("0B7D2F4E-1C3A-4E55-9A61-2F0C7D1E9A10"));
    assert_eq!(parse_ts_ms("1970-01-01T00:00:01.500Z"), Some(1500));
    assert_eq!(parse_ts_ms("2026-03-02T08:15:00.000Z"), Some(1772439300000));
    assert_eq!(parse_ts_ms("2026-03-02T08:15:00Z"), None);
    assert_eq!(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(json_depth(br#"{"a":[1,{"b":null}],"c":"x\"]"}"#), Ok(3));
    assert!(json_depth(b"{\"a\":1").is_err());
    assert!(json_depth(b"[1,]").is_err());
    let deep = format!("{}1{}", "[".repeat(10000), "]".repeat(10000));
    assert_eq!(json_depth(deep.as_bytes()), Ok(10000));
}

/// What the Python, Go and C++ tests drive through the program (examples/sink.rs): the control
/// endpoint, the dump file, release of hanging requests, garbage replies and reset.
#[test]
fn control_endpoint_dump_release_garbage_reset() {
    let dump = temp_path("sink-dump");
    let sink = Sink::start_on(0, Some(dump.clone()), true).unwrap();
    let control = |path: &str, body: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
        post(&mut s, path, body);
        read_response(&mut s).unwrap()
    };
    let script = r#"{"route":"events/track","replies":[{"status":503,"headers":{"Retry-After":"2"},"body":"busy"},{"garbage":true}]}"#;
    assert_eq!(control("/_sink/script", script).0, 200);
    assert_eq!(control("/_sink/script", r#"{"fallback":{"hang":true}}"#).0, 200);
    assert_eq!(control("/_sink/nonsense", "{}").0, 400);
    assert_eq!(control("/_sink/script", r#"{"replies":[{"status":"x"}]}"#).0, 400);

    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    post(&mut s, "/v1/events/track", r#"[{"n":1}]"#);
    let (st, head, body) = read_response(&mut s).unwrap();
    assert_eq!((st, body.as_str()), (503, "busy"));
    assert!(head.contains("Retry-After: 2"));
    post(&mut s, "/v1/events/track", r#"[{"n":2}]"#);
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(!rest.starts_with(b"HTTP/"), "garbage is not HTTP: {rest:?}");

    // The "*" fallback hangs every route until a release answers 200.
    let mut hung = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    post(&mut hung, "/v1/traces", "{}");
    assert!(sink.wait_attempts(TRACES, 1, Duration::from_secs(10)));
    assert_eq!(control("/_sink/release", "").0, 200);
    assert_eq!(read_response(&mut hung).unwrap().0, 200);

    // Control requests are not recorded; the dump has one JSON line per request, in order.
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&dump).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["route"], "events/track");
    assert_eq!(lines[0]["path"], "/v1/events/track");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["headers"]["authorization"], "Bearer k");
    assert_eq!(lines[1]["body"], r#"[{"n":2}]"#);
    assert_eq!(lines[2]["route"], "traces");

    assert_eq!(control("/_sink/reset", "").0, 200);
    assert!(sink.attempts().is_empty());
    assert_eq!(std::fs::read_to_string(&dump).unwrap(), "");
    drop(sink);
    let _ = std::fs::remove_file(dump);
}

/// The counting mode the benchmarks use: nothing kept, everything counted.
#[test]
fn tally_without_keeping_requests() {
    let sink = Sink::start_on(0, None, false).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    let events = r#"[{"event_id":"a"},{"event_id":"b"}]"#;
    let traces = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"1"}]}]}]}"#;
    post(&mut s, "/v1/events/track", events);
    assert_eq!(read_response(&mut s).unwrap().0, 200);
    post(&mut s, "/v1/traces", traces);
    assert_eq!(read_response(&mut s).unwrap().0, 200);
    assert!(sink.attempts().is_empty());
    let body_bytes = (events.len() + traces.len()) as u64;
    assert_eq!(sink.tally(), Tally { requests: 2, body_bytes, events: 2, spans: 1 });
}
