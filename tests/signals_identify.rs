//! users/identify and signals/track: array bodies, field names and placement
//! (`traits`, `signal_name`, comment / after under properties), timestamps and omissions.

mod support;

use serde_json::json;
use support::capi::*;
use support::*;

#[test]
fn identify_sends_array_with_traits() {
    let sink = Sink::start();
    let c = client(&sink, json!({"flush_interval_ms": 600000}));
    c.identify(Some(b"u-42"), Some(br#"{"plan":"team","seats":12,"org":{"name":"acme"}}"#)).unwrap();
    c.identify(Some(b"u-43"), None).unwrap(); // no traits -> {}
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(IDENTIFY);
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert!(r.json().is_array(), "users/identify body is an array");
        assert_eq!(r.header("authorization"), Some("Bearer test-key-123"));
    }
    let items = sink.delivered(IDENTIFY);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["user_id"], "u-42");
    assert_eq!(items[0]["traits"], json!({"plan": "team", "seats": 12, "org": {"name": "acme"}}));
    assert!(items[0].get("properties").is_none(), "the field is traits, not properties");
    assert_eq!(items[1]["user_id"], "u-43");
    assert_eq!(items[1]["traits"], json!({}), "traits is always an object");
    // Identify never goes to events/track.
    assert_eq!(sink.count_on(EVENTS), 0);
}

#[test]
fn signal_default_kind() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let before = now_unix_ms();
    c.signal(&Sig::new("evt-1", "thumbs_up")).unwrap();
    let after = now_unix_ms();
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(SIGNALS);
    assert!(reqs.iter().all(|r| r.json().is_array()), "signals/track body is an array");
    let s = &sink.delivered(SIGNALS)[0];
    assert_eq!(s["event_id"], "evt-1");
    assert_eq!(s["signal_name"], "thumbs_up");
    assert_eq!(s["signal_type"], "default", "absent type -> default");
    assert!(s["properties"].is_object(), "properties always an object: {s}");
    // Absent optionals are omitted rather than sent as "" (the backend rejects empty strings).
    for k in ["sentiment", "attachment_id"] {
        assert!(s.get(k).map(|v| v.is_null()).unwrap_or(true), "{k} omitted when unset: {s}");
    }
    let ts = parse_ts_ms(s["timestamp"].as_str().expect("timestamp")).expect("RFC 3339 UTC ms Z");
    assert!(ts >= before - 1 && ts <= after + 1, "stamped at call time");
}

#[test]
fn signal_feedback_with_comment_and_sentiment() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.signal(
        &Sig::new("evt-2", "user_feedback")
            .signal_type("feedback")
            .comment("Missed the refund policy")
            .sentiment("NEGATIVE")
            .properties(r#"{"channel":"chat"}"#)
            .attachment_id("att-9")
            .timestamp("2026-03-02T08:20:00.000Z"),
    )
    .unwrap();
    c.signal(&Sig::new("evt-2", "liked").signal_type("feedback").comment("great").sentiment("POSITIVE")).unwrap();
    c.flush(5000).unwrap();
    let sigs = sink.delivered(SIGNALS);
    assert_eq!(sigs.len(), 2);
    let s = &sigs[0];
    assert_eq!(s["signal_type"], "feedback");
    assert_eq!(s["sentiment"], "NEGATIVE");
    assert_eq!(s["properties"]["comment"], "Missed the refund policy", "comment lives under properties");
    assert_eq!(s["properties"]["channel"], "chat", "caller properties merged");
    assert!(s.get("comment").is_none(), "never top-level: {s}");
    assert_eq!(s["attachment_id"], "att-9");
    assert_eq!(s["timestamp"], "2026-03-02T08:20:00.000Z");
    assert_eq!(sigs[1]["sentiment"], "POSITIVE");
}

#[test]
fn signal_edit_with_after() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.signal(&Sig::new("evt-3", "user_edit").signal_type("edit").after("the corrected answer")).unwrap();
    c.flush(5000).unwrap();
    let s = &sink.delivered(SIGNALS)[0];
    assert_eq!(s["signal_type"], "edit");
    assert_eq!(s["properties"]["after"], "the corrected answer", "after lives under properties");
    assert!(s.get("after").is_none(), "never top-level: {s}");
}

#[test]
fn signals_and_identify_retry_like_events() {
    let sink = Sink::start();
    sink.script(SIGNALS, Reply::status(500, "x"));
    sink.script(IDENTIFY, Reply::Reset);
    let c = client(&sink, json!({}));
    c.signal(&Sig::new("evt-4", "s")).unwrap();
    c.identify(Some(b"u"), Some(b"{}")).unwrap();
    c.flush(10000).unwrap();
    let s = sink.attempts_on(SIGNALS);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].body, s[1].body, "byte-identical retry");
    let i = sink.attempts_on(IDENTIFY);
    assert_eq!(i.len(), 2);
    assert_eq!(i[0].body, i[1].body);
    assert_eq!(sink.delivered(SIGNALS).len(), 1);
    assert_eq!(sink.delivered(IDENTIFY).len(), 1);
}

#[test]
fn signal_rejected_with_400_not_retried() {
    let sink = Sink::start();
    sink.script(SIGNALS, Reply::status(400, "bad"));
    let c = client(&sink, json!({}));
    c.signal(&Sig::new("evt-5", "s")).unwrap();
    c.flush(5000).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(sink.count_on(SIGNALS), 1);
    assert_eq!(c.stats().unwrap().dropped_rejected, 1);
}
