//! Disabled mode (no api key) and the api_key / endpoint precedence: argument, then
//! RAINDROP_WRITE_KEY / RAINDROP_ENDPOINT, then the default. One test in this binary, because
//! it changes process environment variables (other test binaries are separate processes).

mod support;

use serde_json::json;
use std::time::Duration;
use support::capi::*;
use support::*;

fn exercise_every_call(c: &Client) {
    let id = c.track_ai(&Ev::ai("q", "a")).expect("track_ai succeeds while disabled");
    c.track(&Ev::new().user_id("u").event("e")).expect("track");
    c.identify(Some(b"u"), Some(b"{}")).expect("identify");
    c.signal(&Sig::new(if id.is_empty() { "x" } else { &id }, "n")).expect("signal");
    let (call, _) = c.wrap_begin(0, Some("m"), Some(b"in"), None).expect("wrap_begin");
    let span = c.span_begin(call, SPAN_TOOL, "tool", None).expect("span_begin");
    c.span_end(span, None).expect("span_end");
    c.wrap_end(call, Some(&CallRes::new().output("o"))).expect("wrap_end");
    let tool = c.span_begin(0, SPAN_TOOL, "standalone", None).expect("standalone span");
    c.span_end(tool, None).unwrap();
    c.flush(2000).expect("flush");
    c.stats().expect("stats");
}

#[test]
fn disabled_mode_and_env_precedence() {
    std::env::remove_var("RAINDROP_WRITE_KEY");
    std::env::remove_var("RAINDROP_ENDPOINT");

    // 1. No key at all (explicit null = absent, and an empty key): disabled, every call succeeds,
    //    nothing reaches the sink.
    for key in [json!(null), json!(""), json!("   ")] {
        let sink = Sink::start();
        let mut c = client(&sink, json!({"api_key": key}));
        exercise_every_call(&c);
        c.shutdown(2000).expect("shutdown");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(sink.attempts().len(), 0, "disabled (api_key {key}) sends nothing");
    }

    // 2. The key from RAINDROP_WRITE_KEY when the argument is absent.
    std::env::set_var("RAINDROP_WRITE_KEY", "env-key-1");
    let sink = Sink::start();
    let c = client(&sink, json!({"api_key": null}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.attempts_on(EVENTS)[0].header("authorization"), Some("Bearer env-key-1"));
    drop(c);

    // 3. The argument wins over the environment.
    let sink = Sink::start();
    let c = client(&sink, json!({"api_key": "arg-key-2"}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.attempts_on(EVENTS)[0].header("authorization"), Some("Bearer arg-key-2"));
    drop(c);

    // 4. RAINDROP_ENDPOINT when the endpoint argument is absent; the argument wins when given.
    let env_sink = Sink::start();
    let arg_sink = Sink::start();
    std::env::set_var("RAINDROP_ENDPOINT", env_sink.url());
    let c = new_client(&json!({"api_key": "k", "flush_interval_ms": 50}).to_string()).unwrap();
    c.track_ai(&Ev::ai("via", "env")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(env_sink.events().len(), 1, "RAINDROP_ENDPOINT used");
    drop(c);
    let c = client(&arg_sink, json!({"api_key": "k"}));
    c.track_ai(&Ev::ai("via", "arg")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(arg_sink.events().len(), 1, "explicit endpoint wins");
    assert_eq!(env_sink.events().len(), 1, "nothing more went to the env endpoint");
    drop(c);

    // 5. Endpoint without a trailing slash is normalised (base + route).
    let sink = Sink::start();
    let c = client(&sink, json!({"endpoint": sink.url().trim_end_matches('/')}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    c.flush(5000).unwrap();
    assert_eq!(sink.attempts_on(EVENTS)[0].path, "/v1/events/track");

    std::env::remove_var("RAINDROP_WRITE_KEY");
    std::env::remove_var("RAINDROP_ENDPOINT");
}
