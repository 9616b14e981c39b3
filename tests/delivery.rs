//! Contract §3 (delivery) and the wire scenarios for batching, retries, hangs, shutdown,
//! headers and event shape, all through the C ABI against the loopback capture sink.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::capi::*;
use support::*;

const WAIT: Duration = Duration::from_secs(10);

/// Config that only sends on flush / shutdown (no timer-driven batches).
fn no_timer() -> Value {
    json!({"flush_interval_ms": 600000})
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["event_id"].as_str().expect("event_id").to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// track-* shapes

#[test]
fn track_plain_single_has_no_ai_data() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let id = c.track(&Ev::new().user_id("u-42").event("signup").props(&json!({"plan": "team"}))).unwrap();
    c.flush(5000).unwrap();

    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 1, "one events/track request");
    let items = reqs[0].items();
    assert_eq!(items.len(), 1);
    let it = &items[0];
    assert_eq!(it["event_id"], json!(id));
    assert!(is_uuid_v4(&id), "generated id is UUID v4: {id}");
    assert_eq!(it["user_id"], "u-42");
    assert_eq!(it["event"], "signup");
    assert!(parse_ts_ms(it["timestamp"].as_str().unwrap()).is_some(), "timestamp: {}", it["timestamp"]);
    assert_eq!(it["properties"]["plan"], "team");
    assert!(it.get("ai_data").is_none() || it["ai_data"].is_null(), "plain track carries no ai_data: {it}");
    for k in ["input", "output", "model", "convo_id"] {
        assert!(it.get(k).is_none(), "no top-level {k}: {it}");
    }
}

#[test]
fn track_single_ai_fields_nested_not_toplevel() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let id = c
        .track_ai(
            &Ev::new()
                .user_id("u-1")
                .event("chat")
                .input("Where is my order?")
                .output("It ships today.")
                .model("gpt-4o-mini")
                .convo_id("thread-9"),
        )
        .unwrap();
    c.flush(5000).unwrap();

    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 1);
    let items = reqs[0].items();
    assert_eq!(items.len(), 1, "a 1-element array");
    let it = &items[0];
    assert_eq!(it["event_id"], json!(id));
    assert_eq!(
        it["ai_data"],
        json!({"model": "gpt-4o-mini", "input": "Where is my order?", "output": "It ships today.", "convo_id": "thread-9"})
    );
    for k in ["input", "output", "model", "convo_id"] {
        assert!(it.get(k).is_none(), "ai field {k} must not be top-level: {it}");
    }
    // $context names this library and its version.
    let ctx = &it["properties"]["$context"];
    assert_eq!(ctx["library"]["version"], json!(version()), "$context: {ctx}");
    assert!(ctx["library"]["name"].as_str().map(|s| !s.is_empty()).unwrap_or(false), "$context: {ctx}");
}

#[test]
fn track_ai_custom_event_name_and_defaults() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.track_ai(&Ev::new().user_id("u").event("support_reply").input("q").output("a")).unwrap();
    // No event name and no user: client defaults `ai_generation` and `unknown`.
    c.track_ai(&Ev::new().input("q2").output("a2")).unwrap();
    c.flush(5000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["event"], "support_reply", "custom name is not forced to ai_generation");
    assert_eq!(items[1]["event"], "ai_generation");
    assert_eq!(items[1]["user_id"], "unknown");
}

#[test]
fn client_defaults_user_convo_and_event_name() {
    let sink = Sink::start();
    let c = client(&sink, json!({"user_id": "cfg-user", "convo_id": "cfg-convo", "event_name": "cfg_event"}));
    c.track_ai(&Ev::new().input("i").output("o")).unwrap();
    // Per-event values override the client defaults.
    c.track_ai(&Ev::new().user_id("u2").event("e2").convo_id("c2").input("i").output("o")).unwrap();
    c.flush(5000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["user_id"].as_str(), items[0]["event"].as_str()), (Some("cfg-user"), Some("cfg_event")));
    assert_eq!(items[0]["ai_data"]["convo_id"], "cfg-convo");
    assert_eq!((items[1]["user_id"].as_str(), items[1]["event"].as_str()), (Some("u2"), Some("e2")));
    assert_eq!(items[1]["ai_data"]["convo_id"], "c2");
}

#[test]
fn track_attachments_round_trip() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let atts = json!([
        {"type": "code", "role": "input", "name": "query.sql", "value": "select 1;", "language": "sql"},
        {"type": "text", "role": "output", "value": "plain text"},
        {"type": "image", "role": "output", "name": "pic", "value": "https://example.com/a.png"},
        {"type": "iframe", "role": "input", "value": "https://example.com/frame", "attachment_id": "att-1"}
    ]);
    c.track(&Ev::new().user_id("u").event("with_files").attachments(atts.to_string())).unwrap();
    c.flush(5000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1);
    let got = items[0]["attachments"].as_array().expect("attachments array");
    let want = atts.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        for (k, v) in w.as_object().unwrap() {
            assert_eq!(&g[k], v, "attachment field {k}: got {g}");
        }
    }
}

#[test]
fn track_nested_properties_kept() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let props = json!({
        "order": {"id": 811, "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "gift": false, "note": null},
        "tags": ["x", "y", 3, 4.5, true],
        "score": 0.25
    });
    c.track(&Ev::new().user_id("u").event("nested").props(&props)).unwrap();
    c.flush(5000).unwrap();
    let items = sink.events();
    let p = &items[0]["properties"];
    for (k, v) in props.as_object().unwrap() {
        assert_eq!(&p[k], v, "property {k} kept as-is (not flattened or stringified)");
    }
}

#[test]
fn track_batch_array_one_post() {
    let sink = Sink::start();
    let c = client(&sink, no_timer());
    let mut want = Vec::new();
    for i in 0..5 {
        want.push(c.track(&Ev::new().user_id("u").event(format!("e{i}"))).unwrap());
    }
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 1, "several tracks then flush -> one POST");
    assert_eq!(ids(&reqs[0].items()), want, "all of them, in order");
}

#[test]
fn batch_size_cap_and_order() {
    let sink = Sink::start();
    let c = client(&sink, json!({"flush_interval_ms": 600000, "max_batch_events": 3}));
    let want: Vec<String> = (0..7).map(|i| c.track(&Ev::new().user_id("u").event(format!("e{i}"))).unwrap()).collect();
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    let sizes: Vec<usize> = reqs.iter().map(|r| r.items().len()).collect();
    assert!(sizes.iter().all(|n| *n <= 3), "max_batch_events respected: {sizes:?}");
    assert_eq!(ids(&sink.events()), want, "order of queueing kept across batches");
}

#[test]
fn timer_flush_sends_without_explicit_flush() {
    let sink = Sink::start();
    let c = client(&sink, json!({"flush_interval_ms": 50}));
    let id = c.track(&Ev::new().user_id("u").event("timer")).unwrap();
    assert!(sink.wait_items(EVENTS, 1, WAIT), "the flush interval sends queued events");
    assert_eq!(ids(&sink.events()), vec![id]);
}

#[test]
fn batching_close_drains_without_flush() {
    let sink = Sink::start();
    let mut c = client(&sink, no_timer());
    let want: Vec<String> = (0..6).map(|i| c.track(&Ev::new().user_id("u").event(format!("e{i}"))).unwrap()).collect();
    c.shutdown(5000).unwrap();
    assert_eq!(ids(&sink.events()), want, "shutdown drains everything queued");
}

#[test]
fn batching_double_flush_no_duplicate() {
    let sink = Sink::start();
    let c = client(&sink, no_timer());
    let want: Vec<String> = (0..3).map(|_| c.track_ai(&Ev::ai("q", "a")).unwrap()).collect();
    c.flush(5000).unwrap();
    let after_first = sink.attempts().len();
    c.flush(5000).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.attempts().len(), after_first, "second flush sends nothing");
    assert_eq!(ids(&sink.events()), want);
}

#[test]
fn batching_flush_cycle_resets_queue() {
    let sink = Sink::start();
    let c = client(&sink, no_timer());
    let a = c.track(&Ev::new().user_id("u").event("A")).unwrap();
    c.flush(5000).unwrap();
    let b = c.track(&Ev::new().user_id("u").event("B")).unwrap();
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 2);
    assert_eq!(ids(&reqs[0].items()), vec![a]);
    assert_eq!(ids(&reqs[1].items()), vec![b], "second request holds only B");
}

// ---------------------------------------------------------------------------------------------
// Headers, ids, timestamps

#[test]
fn headers_on_every_route_with_valid_project_id() {
    let sink = Sink::start();
    let c = client(&sink, json!({"project_id": "my-proj-1"}));
    let id = c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.identify(Some(b"u-1"), Some(br#"{"plan":"team"}"#)).unwrap();
    c.signal(&Sig::new(&id, "thumbs_up")).unwrap();
    c.flush(5000).unwrap();
    for route in [EVENTS, IDENTIFY, SIGNALS] {
        let reqs = sink.attempts_on(route);
        assert!(!reqs.is_empty(), "a request on {route}");
        for r in reqs {
            assert_eq!(r.method, "POST");
            assert_eq!(r.header("authorization"), Some("Bearer test-key-123"), "{route}");
            assert!(r.header("content-type").unwrap_or("").starts_with("application/json"), "{route}");
            assert_eq!(r.header("x-raindrop-project-id"), Some("my-proj-1"), "{route}");
            assert!(r.path.starts_with("/v1/"), "base path kept: {}", r.path);
        }
    }
}

#[test]
fn project_id_header_absent_for_invalid_slug() {
    for bad in ["Bad_Slug", "-lead", "trail-", "has space", &"a".repeat(64)] {
        let sink = Sink::start();
        let c = client(&sink, json!({"project_id": bad}));
        c.track_ai(&Ev::ai("q", "a")).unwrap();
        c.flush(5000).unwrap();
        let reqs = sink.attempts_on(EVENTS);
        assert_eq!(reqs.len(), 1, "invalid slug {bad:?} is ignored, ingestion continues");
        assert_eq!(reqs[0].header("x-raindrop-project-id"), None, "no header for {bad:?}");
    }
    // No project id at all: no header either.
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.attempts_on(EVENTS)[0].header("x-raindrop-project-id"), None);
}

#[test]
fn project_id_trimmed_and_double_dash_allowed() {
    let sink = Sink::start();
    let c = client(&sink, json!({"project_id": "  a--b9  "}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.attempts_on(EVENTS)[0].header("x-raindrop-project-id"), Some("a--b9"));
}

#[test]
fn event_ids_uuid_v4_unique_or_given() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let generated: Vec<String> = (0..50).map(|_| c.track_ai(&Ev::ai("q", "a")).unwrap()).collect();
    let given = c.track_ai(&Ev::ai("q", "a").event_id("my-own-id-1")).unwrap();
    assert_eq!(given, "my-own-id-1", "a given id is used and echoed");
    c.flush(5000).unwrap();
    assert!(generated.iter().all(|i| is_uuid_v4(i)), "{generated:?}");
    assert_eq!(generated.iter().collect::<HashSet<_>>().len(), 50, "ids are unique");
    let mut want = generated.clone();
    want.push(given);
    assert_eq!(ids(&sink.events()), want, "event_id_out matches what is delivered");
}

#[test]
fn timestamp_taken_at_call_time_not_send_time() {
    let sink = Sink::start();
    // The sink is "down" for the first attempt and asks for a 2 s pause.
    sink.script(EVENTS, Reply::status(503, "down").with_header("Retry-After", "2"));
    let c = client(&sink, json!({}));
    let before = now_unix_ms();
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    let after = now_unix_ms();
    assert!(sink.wait_items(EVENTS, 1, WAIT), "delivered after the retry");
    let reqs = sink.attempts_on(EVENTS);
    let ok = reqs.iter().find(|r| r.succeeded()).unwrap();
    let ts_str = ok.items()[0]["timestamp"].as_str().unwrap().to_string();
    let ts = parse_ts_ms(&ts_str).unwrap_or_else(|| panic!("RFC 3339 UTC ms Z: {ts_str}"));
    assert!(ts >= before - 1 && ts <= after + 1, "timestamp {ts} within the call [{before}, {after}]");
    assert!(
        ok.wall_ms - ts >= 1500,
        "delivered {} ms after the stamp, stamp was not taken at send time",
        ok.wall_ms - ts
    );
}

#[test]
fn given_timestamp_is_kept() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.track(&Ev::new().user_id("u").event("old").timestamp("2024-01-02T03:04:05.678Z")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.events()[0]["timestamp"], "2024-01-02T03:04:05.678Z");
}

// ---------------------------------------------------------------------------------------------
// Retries and non-retries

/// One event against a scripted first reply; returns the sink after the client reached a
/// final state (flush succeeded) plus the stats read right then.
fn one_event_with_first_reply(reply: Reply) -> (Sink, rd_stats_copy::Stats, String) {
    let sink = Sink::start();
    sink.script(EVENTS, reply);
    let c = client(&sink, json!({}));
    let id = c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(10000).expect("flush reaches a final state and returns success even on drops");
    // Give a wrongly scheduled retry time to show up.
    std::thread::sleep(Duration::from_millis(300));
    let s = rd_stats_copy::Stats::from(c.stats().unwrap());
    (sink, s, id)
}

/// rd_stats copied into a Debug-able struct for messages.
mod rd_stats_copy {
    #[derive(Debug, Clone, Copy)]
    #[allow(dead_code)] // read through Debug in assertion messages
    pub struct Stats {
        pub queued: u64,
        pub delivered: u64,
        pub dropped_rejected: u64,
        pub dropped_retry_budget: u64,
        pub retries: u64,
        pub requests: u64,
        pub last_http_status: i32,
    }
    impl From<raindrop_dspy::rd_stats> for Stats {
        fn from(s: raindrop_dspy::rd_stats) -> Self {
            Stats {
                queued: s.queued,
                delivered: s.delivered,
                dropped_rejected: s.dropped_rejected,
                dropped_retry_budget: s.dropped_retry_budget,
                retries: s.retries,
                requests: s.requests,
                last_http_status: s.last_http_status,
            }
        }
    }
}

#[test]
fn negative_path_4xx_no_retry() {
    // 400, 401, 403, 404, 413 (and other 4xx but 408/429): exactly one attempt, dropped, counted.
    for status in [400u16, 401, 403, 404, 413, 422] {
        let (sink, s, _) = one_event_with_first_reply(Reply::status(status, r#"{"error":"no"}"#));
        assert_eq!(sink.count_on(EVENTS), 1, "{status}: exactly 1 attempt");
        assert_eq!(s.dropped_rejected, 1, "{status}: counted as rejected: {s:?}");
        assert_eq!(s.delivered, 0, "{status}: {s:?}");
        assert_eq!(s.last_http_status, status as i32, "{status}: {s:?}");
    }
}

#[test]
fn negative_path_client_keeps_working_after_rejection() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::status(400, "bad"));
    let c = client(&sink, json!({}));
    c.track_ai(&Ev::ai("rejected", "x")).unwrap();
    c.flush(5000).unwrap();
    let id = c.track_ai(&Ev::ai("accepted", "y")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(ids(&sink.events()), vec![id], "the rejected event is never resent, the next one lands");
    assert_eq!(sink.count_on(EVENTS), 2);
}

#[test]
fn negative_path_malformed_2xx_response_is_success() {
    for (status, body) in
        [(200u16, "not json at all"), (200, "{\"ok\":tru"), (200, ""), (202, "[1,2"), (201, "<html>ok</html>")]
    {
        let (sink, s, id) = one_event_with_first_reply(Reply::status(status, body));
        assert_eq!(sink.count_on(EVENTS), 1, "{status} {body:?}: no retry, no duplicate");
        assert_eq!(ids(&sink.events()), vec![id]);
        assert_eq!((s.delivered, s.dropped_rejected, s.retries), (1, 0, 0), "{status} {body:?}: {s:?}");
    }
}

#[test]
fn retry_500_then_200_exactly_two_attempts() {
    let (sink, s, id) = one_event_with_first_reply(Reply::status(500, "oops"));
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 2, "exactly 2 attempts");
    assert_eq!(reqs[0].body, reqs[1].body, "the retry is byte-identical");
    assert_eq!(ids(&sink.events()), vec![id], "lands once");
    assert_eq!(s.delivered, 1, "{s:?}");
    assert!(s.retries >= 1, "{s:?}");
    assert_eq!(s.last_http_status, 200, "{s:?}");
}

#[test]
fn retried_statuses_408_429_5xx() {
    for status in [408u16, 429, 502, 503, 504] {
        let (sink, _, id) = one_event_with_first_reply(Reply::status(status, "retry me"));
        assert_eq!(sink.count_on(EVENTS), 2, "{status} is retried once then succeeds");
        assert_eq!(ids(&sink.events()), vec![id], "{status}");
    }
}

#[test]
fn backoff_exponential_and_capped() {
    let sink = Sink::start();
    for _ in 0..4 {
        sink.script(EVENTS, Reply::status(503, "x"));
    }
    // initial 100 ms doubling, capped at 400 ms, "with jitter": waits never shorter than half.
    let c = client(&sink, json!({"retry_initial_backoff_ms": 100, "retry_max_backoff_ms": 400}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(10000).unwrap();
    let at: Vec<Instant> = sink.attempts_on(EVENTS).iter().map(|a| a.at).collect();
    assert_eq!(at.len(), 5);
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, min_ms) in gaps.iter().zip([50u64, 100, 200, 200]) {
        assert!(*gap >= Duration::from_millis(min_ms - 5), "gaps grow exponentially: {gaps:?}");
    }
    assert!(gaps[3] < Duration::from_millis(1500), "capped near 400 ms: {gaps:?}");
    assert_eq!(sink.events().len(), 1);
}

#[test]
fn reconnect_identical_body_after_reset() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::Reset);
    let c = client(&sink, json!({}));
    let id = c.track_ai(&Ev::ai("q", "a").convo_id("c1")).unwrap();
    c.flush(10000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 2, "reset is a transport error: retried once");
    assert_eq!(reqs[0].body, reqs[1].body, "byte-identical retry (same ids and timestamps)");
    assert_eq!(ids(&sink.events()), vec![id]);
}

#[test]
fn retry_after_attempt_timeout_is_identical() {
    let sink = Sink::start();
    // The first attempt answers far too late: the client must give up and resend the same bytes.
    sink.script(EVENTS, Reply::ok().delayed(Duration::from_secs(3)));
    let c = client(&sink, json!({"request_timeout_ms": 300}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    assert!(sink.wait_attempts(EVENTS, 2, WAIT), "retried after the request deadline");
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs[0].body, reqs[1].body);
    assert!(reqs[1].at - reqs[0].at < Duration::from_millis(2500), "the deadline cut the first attempt short");
}

#[test]
fn order_kept_across_retries() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::status(500, "x"));
    sink.script(EVENTS, Reply::Reset);
    let c = client(&sink, json!({"flush_interval_ms": 600000, "max_batch_events": 1}));
    let want: Vec<String> = (0..4).map(|i| c.track(&Ev::new().user_id("u").event(format!("e{i}"))).unwrap()).collect();
    c.flush(10000).unwrap();
    assert_eq!(ids(&sink.events()), want, "delivered in queue order, retries included");
}

#[test]
fn retry_429_hot_path_and_retry_after_honoured() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::status(429, "slow").with_header("Retry-After", "1"));
    let c = client(&sink, json!({}));
    let t = Instant::now();
    let id = c.track_ai(&Ev::ai("q", "a")).unwrap();
    assert!(t.elapsed() < Duration::from_millis(900), "track_ai does not wait for the retry");
    assert!(sink.wait_items(EVENTS, 1, WAIT), "a background retry delivers it");
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(900), "Retry-After: 1 honoured (gap {gap:?}, backoff alone is 20 ms)");
    assert_eq!(ids(&sink.events()), vec![id]);
}

#[test]
fn retry_after_http_date_honoured() {
    let sink = Sink::start();
    let when = now_unix_ms() / 1000 + 3;
    sink.script(EVENTS, Reply::status(503, "later").with_header("Retry-After", &http_date(when)));
    let c = client(&sink, json!({}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    assert!(sink.wait_items(EVENTS, 1, WAIT));
    let reqs = sink.attempts_on(EVENTS);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(1000), "HTTP-date Retry-After honoured (gap {gap:?})");
}

#[test]
fn retry_after_cap_seconds_and_far_date() {
    for value in ["3600".to_string(), "Fri, 01 Jan 2100 00:00:00 GMT".to_string()] {
        let sink = Sink::start();
        sink.script(EVENTS, Reply::status(429, "wait").with_header("Retry-After", &value));
        let c = client(&sink, json!({"retry_after_cap_ms": 300}));
        let t = Instant::now();
        let id = c.track_ai(&Ev::ai("q", "a")).unwrap();
        assert!(sink.wait_items(EVENTS, 1, Duration::from_secs(8)), "Retry-After {value:?} capped: delivered soon");
        assert!(t.elapsed() < Duration::from_secs(8));
        assert_eq!(ids(&sink.events()), vec![id]);
    }
}

#[test]
fn retry_budget_exhausted_drops_and_counts() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::status(500, "always"));
    let c = client(&sink, json!({"retry_budget_ms": 400, "retry_max_backoff_ms": 50}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(10000).expect("a budget drop is a final state: flush succeeds");
    let s = c.stats().unwrap();
    assert_eq!(s.dropped_retry_budget, 1, "dropped_retry_budget={} retries={}", s.dropped_retry_budget, s.retries);
    assert!(sink.count_on(EVENTS) >= 2, "retried before giving up");
    let n = sink.count_on(EVENTS);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(sink.count_on(EVENTS), n, "never resent after the drop");
    // A later event still goes through.
    sink.set_fallback(EVENTS, Reply::ok());
    let id = c.track_ai(&Ev::ai("q", "b")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(ids(&sink.events()), vec![id]);
}

// ---------------------------------------------------------------------------------------------
// Hangs, flush / shutdown deadlines, hot path

#[test]
fn hang_request_deadline() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let mut c = client(&sink, json!({"request_timeout_ms": 300}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    // Each attempt is cut at the request deadline and retried.
    assert!(sink.wait_attempts(EVENTS, 2, WAIT), "attempts are aborted at the deadline and retried");
    let t = Instant::now();
    let r = c.flush(800);
    let took = t.elapsed();
    assert_eq!(r.map_err(|e| e.code), Err(ERR_TIMEOUT), "flush times out while the sink hangs");
    assert!(took < Duration::from_millis(800 + 2000), "flush returned in {took:?}");
    let t = Instant::now();
    c.shutdown(500).ok();
    assert!(t.elapsed() < Duration::from_millis(500 + 2000), "shutdown returned in {:?}", t.elapsed());
}

#[test]
fn flush_negative_timeout_uses_configured_default() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let c = client(&sink, json!({"flush_timeout_ms": 400, "request_timeout_ms": 10000}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    let t = Instant::now();
    let r = c.flush(-1);
    assert_eq!(r.map_err(|e| e.code), Err(ERR_TIMEOUT));
    assert!(t.elapsed() < Duration::from_millis(400 + 2000), "took {:?}", t.elapsed());
}

#[test]
fn flush_with_nothing_queued_is_ok() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.flush(1000).unwrap();
    c.flush(0).unwrap();
    assert_eq!(sink.attempts().len(), 0);
}

#[test]
fn shutdown_drain_hang_deadline() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    // The per-attempt deadline is longer than the shutdown deadline: shutdown must still return.
    let mut c = client(&sink, json!({"request_timeout_ms": 20000, "max_batch_events": 5}));
    for _ in 0..20 {
        c.track_ai(&Ev::ai("q", "a")).unwrap();
    }
    assert!(sink.wait_attempts(EVENTS, 1, WAIT), "the sender is stuck in an attempt");
    let h = c.h;
    let t = Instant::now();
    let r = c.shutdown(1000);
    let took = t.elapsed();
    assert!(took < Duration::from_millis(1000 + 2500), "shutdown returned in {took:?}");
    assert!(matches!(r.as_ref().map_err(|e| e.code), Ok(()) | Err(ERR_TIMEOUT)), "{r:?}");
    // The handle is gone: stats and calls are refused; a second shutdown is harmless.
    let dead = Client::raw(h);
    assert_err(dead.stats(), ERR_INVALID_HANDLE, "client");
    assert_err(dead.track_ai(&Ev::ai("q", "a")), ERR_INVALID_HANDLE, "client");
    let mut again = Client::raw(h);
    let r2 = again.shutdown(100);
    assert!(matches!(r2.map_err(|e| e.code), Ok(()) | Err(ERR_INVALID_HANDLE)));
    // Nothing was delivered (all attempts hung) and the queue was not re-sent in a loop.
    assert_eq!(sink.delivered(EVENTS).len(), 0);
    assert!(sink.count_on(EVENTS) <= 4, "{} attempts", sink.count_on(EVENTS));
}

#[test]
fn shutdown_negative_timeout_uses_configured_default() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let mut c = client(&sink, json!({"shutdown_timeout_ms": 500, "request_timeout_ms": 20000}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    assert!(sink.wait_attempts(EVENTS, 1, WAIT));
    let t = Instant::now();
    let _ = c.shutdown(-1);
    assert!(t.elapsed() < Duration::from_millis(500 + 2500), "took {:?}", t.elapsed());
}

#[test]
fn flush_timeout_leaves_items_pending_in_stats() {
    // dropped_shutdown cannot be read after shutdown frees the handle; before it, a flush
    // timeout leaves the items queued and undelivered, visible in the stats.
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let c = client(&sink, json!({"request_timeout_ms": 20000}));
    for _ in 0..3 {
        c.track_ai(&Ev::ai("q", "a")).unwrap();
    }
    let _ = c.flush(200);
    let s = c.stats().unwrap();
    assert_eq!(s.queued, 3);
    assert_eq!(s.delivered, 0);
    assert!(s.requests >= 1);
}

#[test]
fn hot_path_track_nonblocking_while_sink_hangs() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let c = client(&sink, json!({"request_timeout_ms": 20000}));
    c.track(&Ev::new().user_id("u").event("first")).unwrap();
    assert!(sink.wait_attempts(EVENTS, 1, WAIT), "the sender is now blocked in I/O");
    let t = Instant::now();
    c.track(&Ev::new().user_id("u").event("second")).unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "track returned in {:?}", t.elapsed());
    let s = c.stats().unwrap();
    assert_eq!(s.queued, 2, "the item is queued");
}

#[test]
fn hot_path_sustained_track_ai_against_slow_sink() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::ok().delayed(Duration::from_millis(200)));
    let c = client(&sink, json!({}));
    let t = Instant::now();
    let mut worst = Duration::ZERO;
    for i in 0..300 {
        let s = Instant::now();
        c.track_ai(&Ev::ai(&format!("q{i}"), "a")).unwrap();
        worst = worst.max(s.elapsed());
    }
    assert!(t.elapsed() < Duration::from_secs(3), "300 calls took {:?}", t.elapsed());
    assert!(worst < Duration::from_secs(1), "slowest call {worst:?}");
    assert_eq!(c.stats().unwrap().queued, 300);
    c.flush(30000).unwrap();
    assert_eq!(sink.events().len(), 300, "all delivered eventually");
}

#[test]
fn queue_full_drops_new_item_and_counts() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    // One event per batch: the first one hangs in flight, so the sender stops taking items.
    let c = client(&sink, json!({"max_queue_items": 5, "max_batch_events": 1, "request_timeout_ms": 20000}));
    let mut full = 0u64;
    for _ in 0..30 {
        match c.track_ai(&Ev::ai("q", "a")) {
            Ok(_) => {}
            Err(e) if e.code == ERR_QUEUE_FULL => full += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(full >= 20, "at most 5 queued (+ one in-flight batch): {full} drops");
    let s = c.stats().unwrap();
    assert_eq!(s.dropped_queue_full, full);
}

#[test]
fn queue_bytes_bound() {
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let c = client(&sink, json!({"max_queue_bytes": 20000, "request_timeout_ms": 20000}));
    let big = "x".repeat(5000);
    let mut full = 0u64;
    for _ in 0..20 {
        match c.track_ai(&Ev::ai(&big, "a")) {
            Ok(_) => {}
            Err(e) if e.code == ERR_QUEUE_FULL => full += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(full >= 10, "20 x 5 KB against a 20 KB bound: {full} drops");
    assert_eq!(c.stats().unwrap().dropped_queue_full, full);
}

// ---------------------------------------------------------------------------------------------
// file:// sink

#[test]
fn file_sink_writes_json_lines() {
    let path = temp_path("filesink");
    let endpoint = format!("file://{}", path.display());
    let mut c = new_client(&config_for(&endpoint, json!({}))).unwrap();
    let id = c.track_ai(&Ev::ai("hello", "world")).unwrap();
    c.identify(Some(b"u-1"), Some(br#"{"plan":"pro"}"#)).unwrap();
    c.signal(&Sig::new(&id, "thumbs_up")).unwrap();
    c.flush(5000).unwrap();
    c.shutdown(5000).unwrap();
    let text = std::fs::read_to_string(&path).expect("file sink wrote the file");
    let _ = std::fs::remove_file(&path);
    let mut routes = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line is JSON ({e}): {line}"));
        let route = v["route"].as_str().expect("route").to_string();
        // body is the JSON body itself (or, tolerated, its text).
        let body = match &v["body"] {
            Value::String(s) => serde_json::from_str::<Value>(s).expect("body text is JSON"),
            other => other.clone(),
        };
        if route.ends_with(EVENTS) {
            assert_eq!(body[0]["event_id"], json!(id));
            assert_eq!(body[0]["ai_data"]["input"], "hello");
        }
        if route.ends_with(IDENTIFY) {
            assert_eq!(body[0]["traits"]["plan"], "pro");
        }
        routes.push(route);
    }
    for r in [EVENTS, IDENTIFY, SIGNALS] {
        assert!(routes.iter().any(|x| x.ends_with(r)), "a line for {r}: {routes:?}");
    }
}
