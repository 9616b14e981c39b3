//! Unicode scenarios: multi-byte (CJK, accents), RTL / bidi controls and astral characters
//! arrive byte-exact; invalid UTF-8 from C is repaired with U+FFFD, never rejected.

mod support;

use serde_json::{json, Value};
use support::capi::*;
use support::*;

const CJK: &str = "你好，世界 こんにちは 안녕하세요 Ünïcödé àéîõü ß";
const RTL: &str = "مرحبا بالعالم שלום עולם \u{202E}reversed\u{202C} \u{200F}rlm \u{2067}isolate\u{2069} \u{061C}";
const ASTRAL: &str = "😀 👨‍👩‍👧‍👦 🇯🇵 𝄞 𠜎 🏳️‍🌈";

/// Sends one track_ai whose every text slot holds `text`, returns the delivered item and
/// the raw request body.
fn round_trip(text: &str) -> (Value, Vec<u8>) {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let id = format!("id-{text}");
    let ev = Ev::new()
        .event_id(&id)
        .user_id(format!("user-{text}"))
        .event(format!("event-{text}"))
        .input(text)
        .output(text)
        .model(format!("model-{text}"))
        .convo_id(format!("convo-{text}"))
        .props(&json!({ text: text, "nested": {"k": [text]} }))
        .attachments(json!([{"type": "text", "role": "input", "name": text, "value": text}]).to_string());
    let got_id = c.track_ai(&ev).unwrap();
    assert_eq!(got_id, id, "event_id_out is byte-exact");
    c.flush(5000).unwrap();
    let reqs = sink.attempts_on(EVENTS);
    assert_eq!(reqs.len(), 1);
    assert!(std::str::from_utf8(&reqs[0].body).is_ok(), "the body is valid UTF-8");
    // serde_json rejects lone surrogate escapes, so a successful parse also proves pairing.
    let item = reqs[0].items().remove(0);
    (item, reqs[0].body.clone())
}

fn assert_exact(item: &Value, text: &str) {
    assert_eq!(item["event_id"].as_str().unwrap(), format!("id-{text}"));
    assert_eq!(item["user_id"].as_str().unwrap(), format!("user-{text}"));
    assert_eq!(item["event"].as_str().unwrap(), format!("event-{text}"));
    assert_eq!(item["ai_data"]["input"].as_str().unwrap().as_bytes(), text.as_bytes());
    assert_eq!(item["ai_data"]["output"].as_str().unwrap(), text);
    assert_eq!(item["ai_data"]["model"].as_str().unwrap(), format!("model-{text}"));
    assert_eq!(item["ai_data"]["convo_id"].as_str().unwrap(), format!("convo-{text}"));
    assert_eq!(item["properties"][text].as_str().unwrap(), text, "unicode key and value");
    assert_eq!(item["properties"]["nested"]["k"][0].as_str().unwrap(), text);
    assert_eq!(item["attachments"][0]["value"].as_str().unwrap(), text);
    assert_eq!(item["attachments"][0]["name"].as_str().unwrap(), text);
}

#[test]
fn unicode_multibyte_fields() {
    let (item, _) = round_trip(CJK);
    assert_exact(&item, CJK);
}

#[test]
fn unicode_rtl_bidi_kept_verbatim() {
    let (item, body) = round_trip(RTL);
    assert_exact(&item, RTL);
    // The U+202E override is present (raw or escaped), not stripped.
    let raw = String::from_utf8(body).unwrap();
    assert!(raw.contains('\u{202E}') || raw.to_lowercase().contains("\\u202e"));
}

#[test]
fn unicode_surrogate_pairs() {
    let (item, body) = round_trip(ASTRAL);
    assert_exact(&item, ASTRAL);
    // If the encoder escapes astral characters, it must use proper pairs (serde parse above
    // would fail on a lone surrogate); check no lone high surrogate escape ends the body.
    let raw = String::from_utf8(body).unwrap().to_lowercase();
    for (i, _) in raw.match_indices("\\ud83d") {
        assert!(raw[i + 6..].starts_with("\\ud"), "paired surrogate escape at {i}");
    }
}

#[test]
fn unicode_in_signals_and_identify() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    c.identify(Some(CJK.as_bytes()), Some(json!({"name": RTL, "emoji": ASTRAL}).to_string().as_bytes())).unwrap();
    c.signal(&Sig::new(&format!("evt-{CJK}"), &format!("sig-{ASTRAL}")).signal_type("feedback").comment(RTL)).unwrap();
    c.flush(5000).unwrap();
    let ident = sink.delivered(IDENTIFY);
    assert_eq!(ident[0]["user_id"].as_str().unwrap(), CJK);
    assert_eq!(ident[0]["traits"]["name"].as_str().unwrap(), RTL);
    assert_eq!(ident[0]["traits"]["emoji"].as_str().unwrap(), ASTRAL);
    let sig = sink.delivered(SIGNALS);
    assert_eq!(sig[0]["event_id"].as_str().unwrap(), format!("evt-{CJK}"));
    assert_eq!(sig[0]["signal_name"].as_str().unwrap(), format!("sig-{ASTRAL}"));
    assert_eq!(sig[0]["properties"]["comment"].as_str().unwrap(), RTL);
}

#[test]
fn invalid_utf8_repaired_with_replacement_char() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    // Lone continuation byte, truncated 2-byte sequence, overlong encoding, surrogate (CESU).
    let bad_input: &[u8] = b"ab\x80cd\xc3";
    let bad_output: &[u8] = b"x\xc0\xafy";
    let bad_user: &[u8] = b"user\xed\xa0\x80!";
    let bad_props: &[u8] = b"{\"k\":\"v\xff\"}";
    let ev = Ev::new().user_id(bad_user).input(bad_input).output(bad_output).properties(bad_props);
    c.track_ai(&ev).expect("invalid UTF-8 is repaired, never rejected");
    c.flush(5000).unwrap();
    let it = &sink.events()[0];
    let want = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(it["ai_data"]["input"].as_str().unwrap(), want(bad_input));
    assert!(it["ai_data"]["input"].as_str().unwrap().contains('\u{FFFD}'));
    // Exact number of U+FFFD for overlong / surrogate sequences may differ between
    // decoders; what matters is valid text with replacement characters and the rest kept.
    let out = it["ai_data"]["output"].as_str().unwrap();
    assert!(out.starts_with('x') && out.ends_with('y') && out.contains('\u{FFFD}'), "{out:?}");
    let user = it["user_id"].as_str().unwrap();
    assert!(user.starts_with("user") && user.ends_with('!') && user.contains('\u{FFFD}'), "{user:?}");
    assert_eq!(it["properties"]["k"].as_str().unwrap(), "v\u{FFFD}");
}

#[test]
fn truncation_never_splits_astral_characters() {
    let sink = Sink::start();
    let c = client(&sink, json!({"max_text_field_chars": 30}));
    let input = "👨‍👩‍👧‍👦😀".repeat(50);
    c.track_ai(&Ev::ai(&input, "ok")).unwrap();
    c.flush(5000).unwrap();
    let got = sink.events()[0]["ai_data"]["input"].as_str().unwrap().to_string();
    assert_eq!(got.chars().count(), 30, "counted in characters (scalar values)");
    assert!(got.ends_with(TRUNC_MARKER));
    let kept = &got[..got.len() - TRUNC_MARKER.len()];
    assert_eq!(kept.chars().count(), 4);
    assert!(input.starts_with(kept), "kept part is a clean prefix: {kept:?}");
}
