//! Contract §4 sizes: text caps with the truncation marker, the 1 MiB body bound, deep and
//! wide properties, oversized attachments. Oversized events land truncated, never dropped.

mod support;

use serde_json::{json, Value};
use support::capi::*;
use support::*;

const MIB: usize = 1_048_576;
const CAP: usize = 1_000_000;

fn no_timer(extra: Value) -> Value {
    let mut v = json!({"flush_interval_ms": 600000});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// Every events/track body the sink saw fits in 1 MiB.
fn assert_bodies_fit(sink: &Sink) {
    for a in sink.attempts_on(EVENTS) {
        assert!(a.body.len() <= MIB, "events/track body of {} bytes exceeds 1 MiB", a.body.len());
    }
}

/// `s` was cut: ends with the marker, has at most `cap` chars and keeps `original`'s start.
fn assert_truncated(s: &str, original: &str, cap: usize, what: &str) {
    let n = s.chars().count();
    assert!(n <= cap, "{what}: {n} chars > cap {cap}");
    assert!(s.ends_with(TRUNC_MARKER), "{what}: ends with the marker (tail: {:?})", &s[s.len().saturating_sub(40)..]);
    let kept = &s[..s.len() - TRUNC_MARKER.len()];
    assert!(original.starts_with(kept), "{what}: the kept part is a prefix of the original");
}

#[test]
fn large_text_field_truncated_exactly_at_cap() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let input = "a".repeat(1_500_000);
    let id = c.track_ai(&Ev::ai(&input, "short answer")).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1, "lands, not dropped");
    assert_eq!(items[0]["event_id"], json!(id));
    let got = items[0]["ai_data"]["input"].as_str().unwrap();
    assert_eq!(got.chars().count(), CAP, "exactly the cap, marker included");
    assert_truncated(got, &input, CAP, "input");
    assert_eq!(items[0]["ai_data"]["output"], "short answer", "short fields untouched");
    assert_bodies_fit(&sink);
    assert_eq!(sink.count_on(EVENTS), 1, "no 413 / retry dance");
}

#[test]
fn two_capped_fields_still_over_1mib_are_shrunk_to_fit() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let input = "i".repeat(1_200_000);
    let output = "o".repeat(1_200_000);
    let id = c.track_ai(&Ev::ai(&input, &output)).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1, "lands truncated, never dropped for its size");
    assert_eq!(items[0]["event_id"], json!(id));
    assert_truncated(items[0]["ai_data"]["input"].as_str().unwrap(), &input, CAP, "input");
    assert_truncated(items[0]["ai_data"]["output"].as_str().unwrap(), &output, CAP, "output");
    assert_bodies_fit(&sink);
}

#[test]
fn multibyte_text_cut_on_char_boundary_and_fits() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    // 600,000 emoji = 2.4 MB of UTF-8, under the char cap but far over 1 MiB.
    let input = "😀".repeat(600_000);
    c.track_ai(&Ev::ai(&input, "ok")).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1);
    let got = items[0]["ai_data"]["input"].as_str().unwrap();
    assert_truncated(got, &input, CAP, "emoji input");
    assert!(got[..got.len() - TRUNC_MARKER.len()].chars().all(|c| c == '😀'), "no split character");
    assert_bodies_fit(&sink);
}

#[test]
fn configured_small_cap_applies_to_every_text_field() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({"max_text_field_chars": 100})));
    let long = "é".repeat(500);
    let att = json!([{"type": "text", "role": "input", "value": long}]);
    c.track_ai(
        &Ev::ai(&long, &long)
            .props(&json!({"p": long, "nested": {"q": long}, "short": "kept"}))
            .attachments(att.to_string()),
    )
    .unwrap();
    c.flush(5000).unwrap();
    let it = &sink.events()[0];
    for (what, v) in [
        ("input", &it["ai_data"]["input"]),
        ("output", &it["ai_data"]["output"]),
        ("property", &it["properties"]["p"]),
        ("nested property", &it["properties"]["nested"]["q"]),
        ("attachment value", &it["attachments"][0]["value"]),
    ] {
        let s = v.as_str().unwrap_or_else(|| panic!("{what} present: {it}"));
        assert_eq!(s.chars().count(), 100, "{what}: exactly the cap");
        assert_truncated(s, &long, 100, what);
    }
    assert_eq!(it["properties"]["short"], "kept");
}

#[test]
fn cap_at_or_below_marker_length_hard_slices() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({"max_text_field_chars": 10})));
    c.track_ai(&Ev::ai("abcdefghijklmnopqrstuvwxyz0123456789", "ok")).unwrap();
    c.flush(5000).unwrap();
    let got = sink.events()[0]["ai_data"]["input"].as_str().unwrap().to_string();
    assert!(got.chars().count() <= 10, "never longer than the cap: {got:?}");
    assert!("abcdefghijklmnopqrstuvwxyz0123456789".starts_with(&got) && !got.is_empty(), "a plain prefix: {got:?}");
}

#[test]
fn size_limit_large_property_string() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let big = "p".repeat(1_200_000);
    c.track(&Ev::new().user_id("u").event("big_prop").props(&json!({"big": big, "small": 1}))).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1);
    assert_truncated(items[0]["properties"]["big"].as_str().unwrap(), &big, CAP, "property");
    assert_eq!(items[0]["properties"]["small"], 1);
    assert_bodies_fit(&sink);
}

#[test]
fn size_limit_oversized_attachment() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    // 3 MB of JSON: far over the 1 MiB event, under RD_MAX_JSON_BYTES (4 MiB; above it the
    // call is refused, tests/hot_path_bounds.rs).
    let value = "v".repeat(1_500_000);
    let atts = json!([
        {"type": "text", "role": "input", "name": "huge", "value": value},
        {"type": "text", "role": "output", "name": "huge2", "value": value}
    ]);
    let id = c.track_ai(&Ev::ai("q", "a").attachments(atts.to_string())).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1, "handled cleanly: lands");
    assert_eq!(items[0]["event_id"], json!(id));
    // Every attachment item stays a valid attachment object (the backend validates `type` and
    // `value`): shrinking may cut values, but must not put bare markers in the array.
    let atts = items[0]["attachments"].as_array().expect("attachments kept");
    assert!(!atts.is_empty());
    for (i, a) in atts.iter().enumerate() {
        assert!(
            a.is_object(),
            "attachment item {i} is an object, got {}",
            a.to_string().chars().take(80).collect::<String>()
        );
        assert!(["text", "code", "image", "iframe"].contains(&a["type"].as_str().unwrap_or("")), "item {i} type");
        let v = a["value"].as_str().unwrap_or_else(|| panic!("item {i} value is a string"));
        assert_truncated(v, &value, CAP, "attachment value");
    }
    assert_bodies_fit(&sink);
}

/// `{"level":{"level":...{"leaf":"bottom"}...}}` with `depth` objects, built without recursion.
fn deep_object(depth: usize) -> String {
    let mut s = String::with_capacity(depth * 12);
    for _ in 0..depth - 1 {
        s.push_str(r#"{"level":"#);
    }
    s.push_str(r#"{"leaf":"bottom"}"#);
    for _ in 0..depth - 1 {
        s.push('}');
    }
    s
}

fn deep_case(depth: usize) {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let props = format!(r#"{{"shallow":"yes","deep":{}}}"#, deep_object(depth));
    let id = c
        .track(&Ev::new().user_id("u").event("deep").properties(&props))
        .unwrap_or_else(|e| panic!("depth {depth}: a deep (but small) property object is accepted: {e:?}"));
    c.flush(10000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    let req = reqs
        .iter()
        .find(|a| a.succeeded() && String::from_utf8_lossy(&a.body).contains(&id))
        .unwrap_or_else(|| panic!("depth {depth}: the event lands"));
    // Valid JSON at any depth (checked without recursion), bounded size.
    let d = json_depth(&req.body).unwrap_or_else(|e| panic!("depth {depth}: body is valid JSON: {e}"));
    assert!(d >= 3, "properties kept as an object");
    assert!(req.body.len() <= MIB);
    assert!(String::from_utf8_lossy(&req.body).contains(r#""shallow":"yes""#), "shallow keys survive");
    // The client keeps working.
    let id2 = c.track(&Ev::new().user_id("u").event("after")).unwrap();
    c.flush(5000).unwrap();
    assert!(sink.attempts_on(EVENTS).iter().any(|a| String::from_utf8_lossy(&a.body).contains(&id2)));
}

#[test]
fn size_limit_deep_properties_200() {
    deep_case(200);
}

#[test]
fn size_limit_deep_properties_5000() {
    deep_case(5000);
}

#[test]
fn size_limit_deep_and_huge_properties_pruned() {
    // Deep *and* over 1 MiB: must be shrunk (pruned by depth / budget) until it fits.
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    // 30 × 100 KB: 3 MB, under RD_MAX_JSON_BYTES.
    let leaf = "z".repeat(100_000);
    let mut props = String::new();
    for _ in 0..30 {
        props.push_str(&format!(r#"{{"pad":"{leaf}","next":"#));
    }
    props.push_str("null");
    for _ in 0..30 {
        props.push('}');
    }
    let id = c.track(&Ev::new().user_id("u").event("deep_huge").properties(&props)).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1, "lands");
    assert_eq!(items[0]["event_id"], json!(id));
    assert_bodies_fit(&sink);
}

#[test]
fn size_limit_wide_properties_fit_kept_whole() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let mut props = serde_json::Map::new();
    for i in 0..20_000 {
        props.insert(format!("k{i:05}"), json!(i));
    }
    c.track(&Ev::new().user_id("u").event("wide").props(&Value::Object(props))).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1);
    let p = items[0]["properties"].as_object().unwrap();
    assert!((0..20_000).all(|i| p.contains_key(&format!("k{i:05}"))), "all 20,000 keys kept when it fits");
    assert_bodies_fit(&sink);
}

#[test]
fn size_limit_wide_properties_over_1mib_bounded() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let mut props = serde_json::Map::new();
    let v = "w".repeat(100);
    for i in 0..20_000 {
        props.insert(format!("k{i:05}"), json!(v));
    }
    let id = c.track(&Ev::new().user_id("u").event("wide_big").props(&Value::Object(props))).unwrap();
    c.flush(30000).unwrap();
    let items = sink.events();
    assert_eq!(items.len(), 1, "lands bounded, no 413, no drop");
    assert_eq!(items[0]["event_id"], json!(id));
    assert_bodies_fit(&sink);
    assert_eq!(sink.count_on(EVENTS), 1);
}

#[test]
fn batches_split_by_body_bytes() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({})));
    let input = "b".repeat(400_000);
    let ids: Vec<String> = (0..5).map(|_| c.track_ai(&Ev::ai(&input, "o")).unwrap()).collect();
    c.flush(30000).unwrap();
    assert_bodies_fit(&sink);
    assert!(sink.count_on(EVENTS) >= 3, "5 x 400 KB cannot share fewer than 3 bodies of 1 MiB");
    let got: Vec<String> = sink.events().iter().map(|i| i["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, ids, "all land, in order");
}

#[test]
fn configured_max_batch_bytes_respected() {
    let sink = Sink::start();
    let c = client(&sink, no_timer(json!({"max_batch_bytes": 8000})));
    let input = "s".repeat(1000);
    for _ in 0..20 {
        c.track_ai(&Ev::ai(&input, "o")).unwrap();
    }
    c.flush(10000).unwrap();
    assert_eq!(sink.events().len(), 20);
    for a in sink.attempts_on(EVENTS) {
        assert!(a.body.len() <= 8000, "body {} > max_batch_bytes", a.body.len());
    }
}
