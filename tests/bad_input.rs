//! Contract §4 bad input: every NULL / malformed / unknown / stale case returns its own code
//! with a message naming the argument (in err_out and in rd_last_error_message), and the client
//! keeps working afterwards (a following valid event is delivered).

mod support;

use raindrop_dspy::*;
use serde_json::json;
use std::os::raw::c_char;
use std::ptr;
use support::capi::*;
use support::*;

/// The client still delivers: track one event, flush, find it at the sink.
fn assert_still_works(sink: &Sink, c: &Client) {
    let id = c.track_ai(&Ev::ai("still", "working")).expect("a valid event after the bad calls");
    c.flush(5000).unwrap();
    assert!(sink.events().iter().any(|i| i["event_id"] == json!(id)), "the valid event after bad input is delivered");
}

fn cstr(s: &str) -> (*const c_char, usize) {
    (s.as_ptr() as *const c_char, s.len())
}

// ---------------------------------------------------------------------------------------------
// rd_new / configuration

#[test]
fn config_unknown_key() {
    let sink = Sink::start();
    let r = new_client(&config(&sink, json!({"flush_intervall_ms": 10})));
    assert_err(r.map(|_| ()), ERR_INVALID_CONFIG, "flush_intervall_ms");
}

#[test]
fn config_bad_values() {
    let sink = Sink::start();
    for (k, v) in [
        ("max_queue_items", json!("lots")),
        ("flush_interval_ms", json!(-5)),
        ("tracing_enabled", json!("yes")),
        ("endpoint", json!(42)),
        ("endpoint", json!("ftp://example.com/")),
        ("max_batch_events", json!(0)),
    ] {
        // The argument at fault is config_json (the key itself is a bonus).
        let r = new_client(&config(&sink, json!({ k: v })));
        assert_err(r.map(|_| ()), ERR_INVALID_CONFIG, "config_json");
    }
}

#[test]
fn config_malformed_json() {
    for bad in ["{\"api_key\": ", "not json", "[1,2]"] {
        let mut h = rd_client::default();
        let mut e = new_err();
        let (p, n) = cstr(bad);
        let r = unsafe { rd_new(p, n, ptr::null(), &mut h, &mut e) };
        let got = code(r);
        // The configuration argument is at fault: INVALID_CONFIG (or INVALID_JSON), naming config_json.
        assert!(got == ERR_INVALID_CONFIG || got == ERR_INVALID_JSON, "{bad:?}: code {got}");
        assert_eq!(h.id, 0, "client_out untouched on failure");
        assert!(check(r, &e).unwrap_err().message.contains("config_json"), "message names config_json");
    }
}

#[test]
fn config_null_value_means_absent() {
    let sink = Sink::start();
    let c = client(&sink, json!({"project_id": null, "user_id": null, "max_queue_items": null}));
    assert_still_works(&sink, &c);
}

#[test]
fn rd_new_null_client_out() {
    let sink = Sink::start();
    let cfg = config(&sink, json!({}));
    let mut e = new_err();
    let r = unsafe { rd_new(cfg.as_ptr() as *const c_char, cfg.len(), ptr::null(), ptr::null_mut(), &mut e) };
    assert_err(check(r, &e), ERR_NULL_ARGUMENT, "client_out");
}

// ---------------------------------------------------------------------------------------------
// Handles

#[test]
fn made_up_zero_stale_and_freed_handles() {
    let sink = Sink::start();
    let mut live = client(&sink, json!({}));
    // Values no concurrent test can own (tests in this binary share the process-wide registry).
    for h in [0u64, u64::MAX, 0xdead_beef_cafe_babe, live.h ^ (1 << 40), live.h ^ (1 << 63)] {
        if h == live.h {
            continue;
        }
        let c = Client::raw(h);
        assert_err(c.track_ai(&Ev::ai("q", "a")), ERR_INVALID_HANDLE, "client");
        assert_err(c.track(&Ev::new().user_id("u").event("e")), ERR_INVALID_HANDLE, "client");
        assert_err(c.identify(Some(b"u"), None), ERR_INVALID_HANDLE, "client");
        assert_err(c.signal(&Sig::new("e", "n")), ERR_INVALID_HANDLE, "client");
        assert_err(c.flush(100), ERR_INVALID_HANDLE, "client");
        assert_err(c.stats(), ERR_INVALID_HANDLE, "client");
        assert_err(c.wrap_begin(0, Some("m"), None, None), ERR_INVALID_HANDLE, "client");
        assert_err(c.span_begin(0, SPAN_TOOL, "t", None), ERR_INVALID_HANDLE, "client");
        let mut c2 = Client::raw(h);
        assert_err(c2.shutdown(100), ERR_INVALID_HANDLE, "client");
    }
    assert_still_works(&sink, &live);

    // A freed handle stays invalid even after new clients are created (generation check).
    let old = live.h;
    live.shutdown(2000).unwrap();
    let fresh: Vec<Client> = (0..3).map(|_| client(&sink, json!({}))).collect();
    assert!(fresh.iter().all(|f| f.h != old), "a freed id is not handed out again as-is");
    let stale = Client::raw(old);
    assert_err(stale.track_ai(&Ev::ai("q", "a")), ERR_INVALID_HANDLE, "client");
    assert_err(stale.stats(), ERR_INVALID_HANDLE, "client");
    let mut stale2 = Client::raw(old);
    assert_err(stale2.shutdown(100), ERR_INVALID_HANDLE, "client");
    assert_still_works(&sink, &fresh[0]);
}

#[test]
fn call_handles_from_another_client_or_made_up() {
    let sink = Sink::start();
    let a = client(&sink, json!({}));
    let b = client(&sink, json!({}));
    let (call_a, _) = a.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    // b does not know a's call.
    assert_err(b.wrap_end(call_a, None), ERR_INVALID_HANDLE, "call");
    assert_err(b.wrap_begin(call_a, Some("child"), None, None), ERR_INVALID_HANDLE, "parent");
    assert_err(a.wrap_end(0, None), ERR_INVALID_HANDLE, "call");
    assert_err(a.wrap_end(call_a ^ 0xdead_beef, None), ERR_INVALID_HANDLE, "call");
    assert_err(a.span_end(987654321, None), ERR_INVALID_HANDLE, "span");
    assert_err(a.span_begin(987654321, SPAN_LM, "lm", None), ERR_INVALID_HANDLE, "parent");
    // a's call is unaffected by all that.
    a.wrap_end(call_a, Some(&CallRes::new().output("out"))).unwrap();
    a.flush(5000).unwrap();
    assert_eq!(sink.events().len(), 1);
    assert_still_works(&sink, &b);
}

// ---------------------------------------------------------------------------------------------
// rd_track_ai / rd_track

#[test]
fn track_null_event_struct() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    for f in [rd_track_ai, rd_track] {
        let mut e = new_err();
        let r = unsafe { f(c.handle(), ptr::null(), ptr::null_mut(), 0, &mut e) };
        assert_err(check(r, &e), ERR_NULL_ARGUMENT, "event");
    }
    assert_still_works(&sink, &c);
}

#[test]
fn track_malformed_json_arguments() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    for bad in ["{\"a\":", "nope", "{'single':1}"] {
        assert_err(c.track_ai(&Ev::ai("q", "a").properties(bad)), ERR_INVALID_JSON, "properties");
        assert_err(c.track(&Ev::new().user_id("u").event("e").properties(bad)), ERR_INVALID_JSON, "properties");
        assert_err(c.track_ai(&Ev::ai("q", "a").attachments(bad)), ERR_INVALID_JSON, "attachments");
    }
    // Wrong shapes: properties must be an object, attachments an array of objects.
    assert_err(c.track_ai(&Ev::ai("q", "a").properties("[1,2]")), ERR_INVALID_JSON, "properties");
    assert_err(c.track_ai(&Ev::ai("q", "a").properties("\"str\"")), ERR_INVALID_JSON, "properties");
    assert_err(c.track_ai(&Ev::ai("q", "a").attachments("{\"type\":\"text\"}")), ERR_INVALID_JSON, "attachments");
    // Bad items inside a well-formed array: a distinct argument error naming attachments.
    for bad_items in ["[1]", r#"[{"type":"video","value":"x"}]"#, r#"[{"type":"text"}]"#] {
        let r = c.track_ai(&Ev::ai("q", "a").attachments(bad_items));
        let e = r.unwrap_err();
        assert!(e.code == ERR_INVALID_JSON || e.code == ERR_INVALID_ARGUMENT, "{bad_items}: {e:?}");
        assert!(e.message.contains("attachments"), "{e:?}");
    }
    c.flush(2000).unwrap();
    assert_eq!(sink.count_on(EVENTS), 0, "rejected calls enqueue nothing");
    assert_still_works(&sink, &c);
}

#[test]
fn track_bad_timestamp() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    for bad in ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00", "1700000000"] {
        assert_err(c.track_ai(&Ev::ai("q", "a").timestamp(bad)), ERR_INVALID_TIMESTAMP, "timestamp");
        assert_err(c.track(&Ev::new().user_id("u").event("e").timestamp(bad)), ERR_INVALID_TIMESTAMP, "timestamp");
    }
    // Valid RFC 3339 with an offset is accepted.
    c.track(&Ev::new().user_id("u").event("e").timestamp("2024-01-02T03:04:05+02:00")).unwrap();
    assert_still_works(&sink, &c);
}

#[test]
fn track_too_long_event_id() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    assert_err(c.track_ai(&Ev::ai("q", "a").event_id("x".repeat(300))), ERR_INVALID_ARGUMENT, "event_id");
    // 256 bytes is the documented maximum and still fits RD_EVENT_ID_BUF_LEN.
    let id256 = "y".repeat(256);
    assert_eq!(c.track_ai(&Ev::ai("q", "a").event_id(&id256)).unwrap(), id256);
    assert_still_works(&sink, &c);
}

#[test]
fn error_out_may_be_null_and_last_error_names_argument() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let ev = Ev::ai("q", "a").properties("{broken");
    let ce = ev.to_c();
    let r = unsafe { rd_track_ai(c.handle(), &ce, ptr::null_mut(), 0, ptr::null_mut()) };
    assert_eq!(code(r), ERR_INVALID_JSON, "err_out = NULL still returns the code");
    let msg = last_error_message();
    assert!(msg.contains("properties"), "rd_last_error_message names the argument: {msg:?}");
    // A short buffer gets a NUL-terminated prefix and the full length back.
    let mut small = [0x7f as c_char; 8];
    let n = unsafe { rd_last_error_message(small.as_mut_ptr(), small.len()) };
    assert_eq!(n, msg.len(), "returns the full length");
    assert_eq!(small[7], 0, "NUL-terminated within the buffer");
    assert_still_works(&sink, &c);
}

#[test]
fn err_out_message_fits_and_is_nul_terminated() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let ev = Ev::ai("q", "a").timestamp("x".repeat(5000));
    let ce = ev.to_c();
    let mut e = new_err();
    let r = unsafe { rd_track_ai(c.handle(), &ce, ptr::null_mut(), 0, &mut e) };
    assert_eq!(code(r), ERR_INVALID_TIMESTAMP);
    assert!(e.message.contains(&0), "message NUL-terminated inside its 256 bytes");
}

// ---------------------------------------------------------------------------------------------
// rd_identify

#[test]
fn identify_bad_input() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    assert_err(c.identify(None, Some(b"{}")), ERR_NULL_ARGUMENT, "user_id");
    assert_err(c.identify(Some(b""), Some(b"{}")), ERR_INVALID_ARGUMENT, "user_id");
    assert_err(c.identify(Some(b"u"), Some(b"{\"plan\":")), ERR_INVALID_JSON, "traits");
    assert_err(c.identify(Some(b"u"), Some(b"[\"not\",\"object\"]")), ERR_INVALID_JSON, "traits");
    c.flush(2000).unwrap();
    assert_eq!(sink.count_on(IDENTIFY), 0, "nothing sent for rejected identifies");
    assert_still_works(&sink, &c);
}

// ---------------------------------------------------------------------------------------------
// rd_track_signal

#[test]
fn signal_bad_input() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let mut e = new_err();
    let r = unsafe { rd_track_signal(c.handle(), ptr::null(), &mut e) };
    assert_err(check(r, &e), ERR_NULL_ARGUMENT, "signal");

    assert_err(c.signal(&Sig::new("e", "n").event_id_opt(None)), ERR_NULL_ARGUMENT, "event_id");
    assert_err(c.signal(&Sig::new("e", "n").name_opt(None)), ERR_NULL_ARGUMENT, "name");
    assert_err(c.signal(&Sig::new("", "n")), ERR_INVALID_ARGUMENT, "event_id");
    assert_err(c.signal(&Sig::new("e", "")), ERR_INVALID_ARGUMENT, "name");
    for t in ["thumbs", "DEFAULT", "standard ", "agent_internal"] {
        assert_err(c.signal(&Sig::new("e", "n").signal_type(t)), ERR_INVALID_SIGNAL_TYPE, "signal_type");
    }
    for s in ["MAYBE", "neutral", ""] {
        assert_err(c.signal(&Sig::new("e", "n").sentiment(s)), ERR_INVALID_SENTIMENT, "sentiment");
    }
    assert_err(c.signal(&Sig::new("e", "n").timestamp("soon")), ERR_INVALID_TIMESTAMP, "timestamp");
    assert_err(c.signal(&Sig::new("e", "n").properties("{")), ERR_INVALID_JSON, "properties");
    assert_err(c.signal(&Sig::new("e", "n").properties("[]")), ERR_INVALID_JSON, "properties");

    // feedback needs a comment, edit needs an after (required values: NULL or empty is refused).
    let fb = c.signal(&Sig::new("e", "n").signal_type("feedback"));
    assert!(matches!(fb.as_ref().map_err(|e| e.code), Err(ERR_NULL_ARGUMENT) | Err(ERR_INVALID_ARGUMENT)), "{fb:?}");
    assert!(fb.unwrap_err().message.contains("comment"));
    let ed = c.signal(&Sig::new("e", "n").signal_type("edit"));
    assert!(matches!(ed.as_ref().map_err(|e| e.code), Err(ERR_NULL_ARGUMENT) | Err(ERR_INVALID_ARGUMENT)), "{ed:?}");
    assert!(ed.unwrap_err().message.contains("after"));

    c.flush(2000).unwrap();
    assert_eq!(sink.count_on(SIGNALS), 0, "nothing sent for rejected signals");
    // A valid signal and a valid event still go out.
    c.signal(&Sig::new("e", "n").signal_type("feedback").comment("ok").sentiment("POSITIVE")).unwrap();
    assert_still_works(&sink, &c);
    assert_eq!(sink.delivered(SIGNALS).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Wrapped calls and spans

#[test]
fn wrap_bad_input() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    // NULL call_out.
    let (m, ml) = cstr("mod");
    let mut e = new_err();
    let r = unsafe {
        rd_wrap_begin(
            c.handle(),
            call_of(0),
            m,
            ml,
            ptr::null(),
            0,
            ptr::null(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            &mut e,
        )
    };
    assert_err(check(r, &e), ERR_NULL_ARGUMENT, "call_out");

    // Bad JSON / timestamp in the result: refused, named.
    let (call, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    assert_err(c.wrap_end(call, Some(&CallRes::new().properties("{x"))), ERR_INVALID_JSON, "properties");
    let (call2, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    assert_err(c.wrap_end(call2, Some(&CallRes::new().attachments("nope"))), ERR_INVALID_JSON, "attachments");
    let (call3, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    assert_err(c.wrap_end(call3, Some(&CallRes::new().timestamp("later"))), ERR_INVALID_TIMESTAMP, "timestamp");
    // Too long event id at begin.
    assert_err(c.wrap_begin(0, Some("m"), None, Some(&"z".repeat(300))), ERR_INVALID_ARGUMENT, "event_id");

    // Ending twice.
    let (ok_call, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    c.wrap_end(ok_call, Some(&CallRes::new().output("out"))).unwrap();
    assert_err(c.wrap_end(ok_call, None), ERR_INVALID_HANDLE, "call");
    assert_still_works(&sink, &c);
}

#[test]
fn span_bad_input() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let (call, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).unwrap();
    let mut e = new_err();
    let (n, nl) = cstr("lm");
    let r = unsafe {
        rd_span_begin(c.handle(), call_of(call), SPAN_LM as i32, n, nl, ptr::null(), 0, ptr::null_mut(), &mut e)
    };
    assert_err(check(r, &e), ERR_NULL_ARGUMENT, "span_out");
    let span = c.span_begin(call, SPAN_LM, "lm", None).unwrap();
    assert_err(c.span_end(span, Some(&CallRes::new().properties("]"))), ERR_INVALID_JSON, "properties");
    let span2 = c.span_begin(call, SPAN_TOOL, "tool", None).unwrap();
    c.span_end(span2, None).unwrap();
    assert_err(c.span_end(span2, None), ERR_INVALID_HANDLE, "span");
    c.wrap_end(call, Some(&CallRes::new().output("o"))).unwrap();
    assert_still_works(&sink, &c);
}

#[test]
fn flush_and_stats_null_out() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let mut e = new_err();
    let r = unsafe { rd_get_stats(c.handle(), ptr::null_mut(), &mut e) };
    assert_err(check(r, &e), ERR_NULL_ARGUMENT, "stats_out");
    assert_still_works(&sink, &c);
}

#[test]
fn errors_are_independent_across_threads() {
    // Each thread's rd_error / last error reflects its own call, not another thread's.
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let h = c.h;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let c = Client::raw(h);
                for _ in 0..200 {
                    if t % 2 == 0 {
                        assert_err(c.track_ai(&Ev::ai("q", "a").timestamp("bad")), ERR_INVALID_TIMESTAMP, "timestamp");
                        assert!(last_error_message().contains("timestamp"));
                    } else {
                        assert_err(c.identify(Some(b"u"), Some(b"{")), ERR_INVALID_JSON, "traits");
                        assert!(last_error_message().contains("traits"));
                    }
                }
            });
        }
    });
    assert_still_works(&sink, &c);
}

#[test]
fn track_field_rules() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    // rd_track takes no AI fields; an AI event needs an input or an output; empty names refused.
    assert_err(c.track(&Ev::new().user_id("u").event("e").input("q")), ERR_INVALID_ARGUMENT, "event");
    assert_err(c.track_ai(&Ev::new().user_id("u").model("m")), ERR_INVALID_ARGUMENT, "event");
    assert_err(c.track_ai(&Ev::ai("q", "a").user_id("  ")), ERR_INVALID_ARGUMENT, "user_id");
    assert_err(c.track(&Ev::new().user_id("u").event("")), ERR_INVALID_ARGUMENT, "event");
    assert_err(c.track_ai(&Ev::ai("q", "a").event_id("")), ERR_INVALID_ARGUMENT, "event_id");
    // An event id buffer shorter than RD_EVENT_ID_BUF_LEN is refused rather than overrun.
    let ev = Ev::ai("q", "a");
    let ce = ev.to_c();
    let mut small = [0 as c_char; 8];
    let mut e = new_err();
    let r = unsafe { rd_track_ai(c.handle(), &ce, small.as_mut_ptr(), small.len(), &mut e) };
    assert_err(check(r, &e), ERR_INVALID_ARGUMENT, "event_id_out");
    assert_still_works(&sink, &c);
}

#[test]
fn span_kind_out_of_range_from_c() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    // A C caller can pass any int for the enum: call through an int-typed pointer, as C would.
    type RawSpanBegin = unsafe extern "C" fn(
        u64,
        u64,
        i32,
        *const c_char,
        usize,
        *const c_char,
        usize,
        *mut u64,
        *mut rd_error,
    ) -> rd_result;
    let f: RawSpanBegin = unsafe { std::mem::transmute(rd_span_begin as *const ()) };
    let (n, nl) = cstr("weird");
    let mut out: u64 = 0;
    let mut e = new_err();
    let r = unsafe { f(c.h, 0, 7, n, nl, ptr::null(), 0, &mut out, &mut e) };
    assert_err(check(r, &e), ERR_INVALID_ARGUMENT, "kind");
    assert_still_works(&sink, &c);
}

#[test]
fn one_rule_for_event_ids_at_every_entry_point() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let long = "x".repeat(300);
    assert_err(c.signal(&Sig::new(&long, "thumbs_up")), ERR_INVALID_ARGUMENT, "signal.event_id");
    assert_err(c.track_ai(&Ev::ai("q", "a").event_id(&long)), ERR_INVALID_ARGUMENT, "event.event_id");
    assert_err(c.wrap_begin(0, Some("m"), None, Some(&long)), ERR_INVALID_ARGUMENT, "options.event_id");
    // A user id is refused past 1,024 bytes, never cut.
    assert_err(c.identify(Some("u".repeat(1025).as_bytes()), None), ERR_INVALID_ARGUMENT, "user_id");
    assert_err(c.track_ai(&Ev::ai("q", "a").user_id("u".repeat(1025))), ERR_INVALID_ARGUMENT, "event.user_id");
    assert_still_works(&sink, &c);
}

#[test]
fn nul_in_ids_is_refused_never_cut_short() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let err = c.track_ai(&Ev::ai("q", "a").event_id("abc\0def")).unwrap_err();
    assert!(err.code == ERR_INVALID_ARGUMENT && err.message.contains("NUL"), "{err:?}");
    assert_err(c.track_ai(&Ev::ai("q", "a").user_id("u\0v")), ERR_INVALID_ARGUMENT, "event.user_id");
    assert_err(c.signal(&Sig::new("e\0", "n")), ERR_INVALID_ARGUMENT, "signal.event_id");
    assert_still_works(&sink, &c);
}

#[test]
fn a_plain_event_needs_its_name() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    assert_err(c.track(&Ev::new().user_id("u")), ERR_NULL_ARGUMENT, "event.event");
    assert_still_works(&sink, &c);
}

#[test]
fn an_attachment_needs_a_value() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let empty = r#"[{"type": "text", "value": ""}]"#;
    assert_err(c.track_ai(&Ev::ai("q", "a").attachments(empty)), ERR_INVALID_ARGUMENT, "attachments");
    assert_still_works(&sink, &c);
}
