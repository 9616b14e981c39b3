//! The Raindrop Workshop mirror against loopback servers: same routes and bytes as the cloud,
//! never `Authorization`, mirror-only without a key, nothing over 1 MiB, and a mirror that
//! answers garbage, hangs or resets changes nothing on the cloud path. (The real Workshop:
//! tests/workshop/run-e2e.sh.)

mod support;

use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;
use support::capi::*;
use support::*;

const WAIT: Duration = Duration::from_secs(10);

fn mirrored(cloud: &Sink, mirror_url: &str, extra: serde_json::Value) -> Client {
    let mut cfg: serde_json::Value = serde_json::from_str(&config(cloud, extra)).unwrap();
    cfg["local_workshop_url"] = json!(mirror_url);
    new_client(&cfg.to_string()).expect("rd_new")
}

/// Sends one of each route: events, signals, identify, traces.
fn send_everything(c: &Client) {
    c.track_ai(&Ev::ai("what is 2+2?", "4").user_id("u-1").convo_id("c-1")).unwrap();
    let (call, _) = c.wrap_begin(0, Some("Predict"), Some(b"q"), None).unwrap();
    c.wrap_end(call, Some(&CallRes::new().output("a").tokens(3, 4))).unwrap();
    c.signal(&Sig::new("e-1", "thumbs_up").comment("nice")).unwrap();
    c.identify(Some(b"u-1"), Some(br#"{"plan":"pro"}"#)).unwrap();
    c.flush(10_000).unwrap();
}

#[test]
fn mirror_gets_the_same_routes_and_bytes_without_authorization() {
    let cloud = Sink::start();
    let mirror = Sink::start();
    let mut c = mirrored(&cloud, &mirror.url(), json!({"project_id": "my-proj"}));
    send_everything(&c);
    c.shutdown(10_000).unwrap(); // gives the mirror until the deadline
    let sent = cloud.attempts();
    assert!(sent.len() >= 4, "cloud got {} requests", sent.len());
    let got = mirror.attempts();
    let mut cloud_requests: Vec<(String, Vec<u8>)> = sent.iter().map(|a| (a.route.clone(), a.body.clone())).collect();
    let mut mirror_requests: Vec<(String, Vec<u8>)> = got.iter().map(|a| (a.route.clone(), a.body.clone())).collect();
    cloud_requests.sort();
    mirror_requests.sort();
    assert_eq!(mirror_requests, cloud_requests, "the mirror gets every request, same route, same bytes");
    for a in &got {
        assert_eq!(a.header("authorization"), None, "Authorization reached the mirror on {}", a.route);
        assert_eq!(a.header("x-raindrop-project-id"), Some("my-proj"));
        assert_eq!(a.header("content-type"), Some("application/json"));
    }
    for a in &sent {
        assert_eq!(a.header("authorization"), Some("Bearer test-key-123"));
    }
}

#[test]
fn statistics_count_mirror_sends_and_failures() {
    let cloud = Sink::start();
    let mirror = Sink::start();
    mirror.script(EVENTS, Reply::status(500, "no"));
    let c = mirrored(&cloud, &mirror.url(), json!({}));
    send_everything(&c);
    let s = c.wait_stats(WAIT, |s| s.mirror_sent + s.mirror_failed >= 4);
    assert_eq!(s.mirror_failed, 1, "{s:?}");
    assert!(s.mirror_sent >= 3, "{s:?}");
    assert_eq!(mirror.count_on(EVENTS), 1, "a failed mirror request is never retried");
    assert_eq!(s.retries, 0);
}

#[test]
fn without_a_key_a_resolved_mirror_gets_everything_and_the_cloud_nothing() {
    let cloud = Sink::start();
    let mirror = Sink::start();
    let mut c = mirrored(&cloud, &mirror.url(), json!({"api_key": null}));
    send_everything(&c);
    c.shutdown(10_000).unwrap();
    assert_eq!(cloud.attempts().len(), 0);
    let routes: Vec<String> = mirror.attempts().iter().map(|a| a.route.clone()).collect();
    for route in [EVENTS, SIGNALS, IDENTIFY, TRACES] {
        assert!(routes.iter().any(|r| r == route), "mirror missed {route}: {routes:?}");
    }
}

#[test]
fn nothing_over_one_mebibyte_goes_to_the_mirror() {
    let cloud = Sink::start();
    let mirror = Sink::start();
    let c = mirrored(&cloud, &mirror.url(), json!({"max_batch_bytes": 4 << 20}));
    c.track_ai(&Ev::ai(&"x".repeat(900_000), &"y".repeat(900_000))).unwrap();
    c.flush(10_000).unwrap();
    c.track_ai(&Ev::ai("small", "ok")).unwrap();
    c.flush(10_000).unwrap();
    let s = c.wait_stats(WAIT, |s| s.mirror_sent >= 1);
    assert_eq!(cloud.count_on(EVENTS), 2);
    assert_eq!(s.mirror_dropped, 1, "{s:?}");
    let bodies: Vec<usize> = mirror.attempts_on(EVENTS).iter().map(|a| a.body.len()).collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0] < 1 << 20);
}

/// A loopback port that answers every connection with bytes that are not HTTP.
fn garbage_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"\x00\xffnot http at all\r\n\r\n{{{");
        }
    });
    format!("http://127.0.0.1:{port}/v1/")
}

/// The cloud path with a broken mirror: everything delivered, nothing retried or dropped, the
/// same bytes as with no mirror at all; flush succeeds.
fn cloud_unaffected(mirror_url: &str) -> Client {
    let cloud = Sink::start();
    let c = mirrored(&cloud, mirror_url, json!({}));
    for i in 0..20 {
        c.track_ai(&Ev::ai(&format!("q{i}"), "a")).unwrap();
    }
    send_everything(&c);
    let s = c.stats().unwrap();
    assert_eq!(s.delivered, s.queued, "{s:?}");
    assert_eq!(s.retries + s.dropped_rejected + s.dropped_retry_budget + s.dropped_shutdown, 0, "{s:?}");
    let events: usize = cloud.attempts_on(EVENTS).iter().map(|a| a.items().len()).sum();
    assert_eq!(events, 22);
    c
}

#[test]
fn a_mirror_answering_garbage_changes_nothing_on_the_cloud_path() {
    let c = cloud_unaffected(&garbage_server());
    let s = c.wait_stats(WAIT, |s| s.mirror_failed >= 1);
    assert!(s.mirror_failed >= 1 && s.mirror_sent == 0, "{s:?}");
}

#[test]
fn a_resetting_mirror_changes_nothing_on_the_cloud_path() {
    let mirror = Sink::start();
    mirror.set_fallback(EVENTS, Reply::Reset);
    mirror.set_fallback(SIGNALS, Reply::Reset);
    mirror.set_fallback(IDENTIFY, Reply::Reset);
    mirror.set_fallback(TRACES, Reply::Reset);
    let c = cloud_unaffected(&mirror.url());
    let s = c.wait_stats(WAIT, |s| s.mirror_failed >= 1);
    assert!(s.mirror_failed >= 1 && s.mirror_sent == 0, "{s:?}");
}

#[test]
fn a_hanging_mirror_changes_nothing_and_shutdown_keeps_its_deadline() {
    let mirror = Sink::start();
    for route in [EVENTS, SIGNALS, IDENTIFY, TRACES] {
        mirror.set_fallback(route, Reply::Hang);
    }
    let mut c = cloud_unaffected(&mirror.url());
    // The mirror is still stuck on its first request (2 s timeout, then the next): shutdown
    // returns success, since the cloud part finished, and frees the handle.
    c.shutdown(500).unwrap();
    assert!(c.flush(0).is_err(), "the handle is freed");
}

#[test]
fn an_invalid_mirror_url_leaves_the_mirror_off() {
    for bad in ["ftp://127.0.0.1:1/", "not a url", "http://", "http://exa mple/"] {
        let cloud = Sink::start();
        let mut c = mirrored(&cloud, bad, json!({}));
        send_everything(&c);
        let s = c.stats().unwrap();
        assert_eq!((s.mirror_sent, s.mirror_failed, s.mirror_dropped), (0, 0, 0), "{bad}: {s:?}");
        assert_eq!(s.delivered, s.queued);
        c.shutdown(5000).unwrap();
    }
}

#[test]
fn opting_out_with_false_or_empty_string_wins_over_the_environment() {
    // The environment is process-wide: set once, only for this test's own values.
    let mirror = Sink::start();
    std::env::set_var("RAINDROP_LOCAL_DEBUGGER", mirror.url());
    for off in [json!(false), json!("")] {
        let cloud = Sink::start();
        let mut cfg: serde_json::Value = serde_json::from_str(&config(&cloud, json!({}))).unwrap();
        cfg["local_workshop_url"] = off;
        let mut c = new_client(&cfg.to_string()).unwrap();
        send_everything(&c);
        c.shutdown(5000).unwrap();
    }
    assert_eq!(mirror.attempts().len(), 0);
    // Absent: RAINDROP_LOCAL_DEBUGGER applies.
    let cloud = Sink::start();
    let mut c = client(&cloud, json!({}));
    send_everything(&c);
    c.shutdown(5000).unwrap();
    std::env::remove_var("RAINDROP_LOCAL_DEBUGGER");
    assert!(mirror.count_on(EVENTS) >= 1);
}

#[test]
fn local_workshop_url_true_is_refused() {
    let cloud = Sink::start();
    let cfg = config(&cloud, json!({"local_workshop_url": true}));
    assert!(new_client(&cfg).is_err());
}

#[test]
#[ignore = "runs as a child process of warnings_once_and_mirror_errors_never_above_debug"]
fn child_logging_client() {
    let cloud = Sink::start();
    // An invalid URL, used a lot: one warning.
    let mut c = mirrored(&cloud, "ftp://127.0.0.1:1/", json!({}));
    for _ in 0..3 {
        send_everything(&c);
    }
    c.shutdown(5000).unwrap();
    // A failing mirror without debug: nothing logged about it.
    let mut c = mirrored(&cloud, &garbage_server(), json!({}));
    send_everything(&c);
    c.wait_stats(WAIT, |s| s.mirror_failed >= 2);
    c.shutdown(5000).unwrap();
}

#[test]
fn warnings_once_and_mirror_errors_never_above_debug() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_logging_client", "--ignored", "--nocapture", "--test-threads=1"])
        .env_remove("RAINDROP_LOCAL_DEBUGGER")
        .env_remove("RAINDROP_WORKSHOP")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("1 passed"), "child failed:\n{stdout}\n{stderr}");
    assert_eq!(stderr.matches("local_workshop_url is not an http(s) URL").count(), 1, "{stderr}");
    assert!(!stderr.contains("Workshop mirror http"), "mirror errors are debug-only: {stderr}");
}
