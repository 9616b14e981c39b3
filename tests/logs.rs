//! The api key (Authorization header value) never shows up in any log line or error message.
//! Logs go to stderr, so the noisy part runs in a child process (this same test binary, running
//! only the ignored `child_noisy_client` test) whose stderr the parent inspects.

mod support;

use serde_json::json;
use std::process::Command;
use std::time::Duration;
use support::capi::*;
use support::*;

const SECRET: &str = "sk-SECRET-9f8e7d6c5b4a";

#[test]
#[ignore = "runs as a child process of authorization_never_logged"]
fn child_noisy_client() {
    let sink = Sink::start();
    // Failures of every kind, each of which may be logged; one echoes the header back.
    sink.script(EVENTS, Reply::status(401, &format!("{{\"error\":\"bad key Bearer {SECRET}\"}}")));
    sink.script(EVENTS, Reply::status(500, "boom"));
    sink.script(EVENTS, Reply::Reset);
    sink.script(EVENTS, Reply::status(429, "slow").with_header("Retry-After", "0"));
    sink.script(SIGNALS, Reply::status(400, "no"));
    let mut c = client(&sink, json!({"api_key": SECRET, "debug": true, "project_id": "Not_Valid"}));
    for i in 0..4 {
        c.track_ai(&Ev::ai(&format!("q{i}"), "a")).unwrap();
        c.flush(5000).unwrap();
    }
    c.signal(&Sig::new("e", "n")).unwrap();
    c.identify(Some(b"u"), None).unwrap();
    c.flush(5000).unwrap();
    // A hang + timeout path, and shutdown logging.
    sink.set_fallback(EVENTS, Reply::Hang);
    c.track_ai(&Ev::ai("hang", "a")).unwrap();
    let _ = c.flush(300);
    let _ = c.shutdown(300);
    // Disabled client: its one warning.
    std::env::remove_var("RAINDROP_WRITE_KEY");
    let mut d = client(&sink, json!({"api_key": null, "debug": true}));
    d.shutdown(1000).unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
fn authorization_never_logged() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", "child_noisy_client", "--ignored", "--nocapture", "--test-threads=1"])
        .env_remove("RAINDROP_WRITE_KEY")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test ran: {stdout}");
    assert!(stderr.contains("raindrop"), "debug logging produced output (otherwise this checks nothing): {stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(SECRET), "the api key leaked into the logs:\n{text}");
    }
}

#[test]
fn api_key_not_in_error_messages() {
    let sink = Sink::start();
    // A config error in a config that holds the key: the message must not quote it.
    for extra in [json!({"api_key": SECRET, "bogus_key": 1}), json!({"api_key": SECRET, "max_queue_items": "many"})] {
        let e = new_client(&config(&sink, extra)).err().expect("config error");
        assert!(!e.message.contains(SECRET), "{e:?}");
        assert!(!last_error_message().contains(SECRET));
    }
}
