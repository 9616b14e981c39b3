//! The conformance driver (examples/conformance_driver.rs), run as the harness runs it: protocol
//! 1 over stdin/stdout, against the loopback capture server.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::*;

/// `cargo test` builds the examples next to the test binaries.
fn driver() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    let path = dir.join("examples").join("conformance_driver");
    assert!(
        path.exists(),
        "build the driver first: cargo build --release --example conformance_driver ({})",
        path.display()
    );
    path
}

fn run(sink: Option<&Sink>, steps: &Value) -> Output {
    let mut command = Command::new(driver());
    command.env_remove("RAINDROP_SINK_URL").env_remove("RAINDROP_PROJECT_ID").env("RAINDROP_WRITE_KEY", "driver-key");
    if let Some(sink) = sink {
        command.env("RAINDROP_SINK_URL", format!("http://127.0.0.1:{}", sink.port()));
    }
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run driver");
    child.stdin.take().expect("stdin").write_all(steps.to_string().as_bytes()).expect("write steps");
    child.wait_with_output().expect("driver exits")
}

fn run_text(sink: &Sink, steps: &str) -> Output {
    let mut child = Command::new(driver())
        .env("RAINDROP_SINK_URL", format!("http://127.0.0.1:{}", sink.port()))
        .env("RAINDROP_WRITE_KEY", "driver-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run driver");
    child.stdin.take().expect("stdin").write_all(steps.as_bytes()).expect("write steps");
    child.wait_with_output().expect("driver exits")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn describe_lists_protocol_and_capabilities() {
    let output = Command::new(driver()).arg("--describe").output().expect("run driver");
    assert!(output.status.success());
    let describe: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(describe["protocol"], 1);
    assert_eq!(describe["sdk_name"], "raindrop-dspy");
    let capabilities: Vec<&str> =
        describe["capabilities"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for capability in ["events.track", "events.track_ai", "identify", "signal"] {
        assert!(capabilities.contains(&capability), "{capability} in {capabilities:?}");
    }
}

#[test]
fn every_step_runs_and_lands_on_the_batched_routes() {
    let sink = Sink::start();
    let steps = json!([
        {"init": {}},
        {"track": {"user_id": "u1", "event": "signup", "properties": {"plan": {"tier": "pro"}}, "max_ms": 100}},
        {"track_ai": {"user_id": "u1", "event": "chat", "input": "hi", "output": "hello", "model": "m", "convo_id": "c1"}},
        {"begin": {"event_id": "evt-driver", "user_id": "u1", "event": "agent_run", "input": "summarise", "properties": {"stage": "a"}}},
        {"patch": {"model": "gpt-x", "properties": {"step": 2}, "attachments": [{"type": "text", "role": "input", "value": "ctx"}]}},
        {"finish": {"output": "summary", "attachments": [{"type": "code", "role": "output", "value": "x = 1", "language": "python"}]}},
        {"identify": {"user_id": "u1", "traits": {"plan": "pro"}}},
        {"signal": {"event_id": "evt-driver", "name": "rating", "signal_type": "feedback", "comment": "good", "sentiment": "POSITIVE"}},
        {"flush": {}},
        {"close": {}}
    ]);
    let output = run(Some(&sink), &steps);
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 10, "one timing line per step: {lines:?}");
    for (index, line) in lines.iter().enumerate() {
        let timing: Value = serde_json::from_str(line).expect("timing line is JSON");
        assert_eq!(timing["step"], index);
        assert!(timing["ms"].as_f64().is_some());
    }
    let events = sink.delivered(EVENTS);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].get("ai_data").is_none(), "plain track has no ai_data");
    assert_eq!(events[0]["properties"]["plan"], json!({"tier": "pro"}));
    assert_eq!(events[1]["ai_data"], json!({"input": "hi", "output": "hello", "model": "m", "convo_id": "c1"}));
    let run = &events[2];
    assert_eq!(run["event_id"], "evt-driver");
    assert_eq!(run["event"], "agent_run");
    assert_eq!(run["ai_data"]["input"], "summarise");
    assert_eq!(run["ai_data"]["output"], "summary");
    assert_eq!(run["ai_data"]["model"], "gpt-x");
    assert_eq!(run["properties"]["stage"], "a");
    assert_eq!(run["properties"]["step"], 2);
    assert_eq!(run["attachments"].as_array().map(Vec::len), Some(2), "attachments appended across patch and finish");
    assert_eq!(sink.delivered(IDENTIFY)[0]["traits"], json!({"plan": "pro"}));
    let signal = &sink.delivered(SIGNALS)[0];
    assert_eq!(signal["properties"]["comment"], "good");
    assert_eq!(signal["sentiment"], "POSITIVE");
}

#[test]
fn retry_429_does_not_hold_the_step() {
    let sink = Sink::start();
    sink.script(EVENTS, Reply::status(429, "slow down").with_header("Retry-After", "1"));
    let steps = json!([{"init": {}}, {"track_ai": {"user_id": "u", "event": "e", "input": "q"}}, {"close": {}}]);
    let output = run(Some(&sink), &steps);
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let timing: Value = serde_json::from_str(&stdout_lines(&output)[1]).unwrap();
    // Generous bound: the step only enqueues (the official SDK blocks ~2 s here).
    assert!(timing["ms"].as_f64().unwrap() < 1000.0, "{timing}");
    assert!(sink.wait_items(EVENTS, 1, Duration::from_secs(5)));
    assert_eq!(sink.count_on(EVENTS), 2, "one 429, then the retry delivered it");
}

#[test]
fn unsupported_and_failing_steps_use_their_exit_codes() {
    let sink = Sink::start();
    let output = run(Some(&sink), &json!([{"init": {}}, {"teleport": {}}]));
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(stdout_lines(&output).last().map(String::as_str), Some("unsupported:teleport"));

    for steps in [
        json!([{"track": {"user_id": "u", "event": "e"}}]), // before init
        json!([{"init": {}}, {"track": {"event": "e"}}]),   // missing user_id
        json!([{"init": {}}, {"begin": {"user_id": "u", "event": "e"}}]), // left open
        json!([{"init": {}}, {"signal": {"event_id": "e", "name": "n", "signal_type": "bogus"}}]),
        json!({"init": {}}), // not an array
    ] {
        let output = run(Some(&sink), &steps);
        assert_eq!(output.status.code(), Some(1), "{steps}: {}", String::from_utf8_lossy(&output.stderr));
    }
    // Without RAINDROP_SINK_URL the driver refuses to run rather than reach production.
    let output = run(None, &json!([{"init": {}}]));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn deep_json_arguments_reach_the_core() {
    // serde_json's Value stops at 128 levels; the driver must hand any valid JSON to the core.
    for depth in [1_000, 10_000] {
        let sink = Sink::start();
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let steps = format!(
            r#"[{{"init": {{}}}},
                {{"track": {{"user_id": "u", "event": "deep", "properties": {{"d": {deep}}}}}}},
                {{"begin": {{"user_id": "u", "event": "e", "properties": {{"d": {deep}}}}}}},
                {{"patch": {{"properties": {{"p": {deep}}}}}}},
                {{"finish": {{"output": "o"}}}},
                {{"identify": {{"user_id": "u", "traits": {{"d": {deep}}}}}}},
                {{"close": {{}}}}]"#
        );
        let output = run_text(&sink, &steps);
        assert!(output.status.success(), "depth {depth}: {}", String::from_utf8_lossy(&output.stderr));
        let events = sink.delivered(EVENTS);
        assert_eq!(events.len(), 2, "depth {depth}");
        assert!(events[1]["properties"].get("d").is_some() && events[1]["properties"].get("p").is_some());
        assert_eq!(sink.delivered(IDENTIFY).len(), 1);
    }
}
