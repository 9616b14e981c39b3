//! The packed hot-path functions (`rd_wrap_begin_packed`, `rd_span_record_packed`,
//! `rd_wrap_end_packed`) behave as the functions they are named after: the same event, the
//! same LM roll-up, the same errors, and NULL `args` is refused.

mod support;

use raindrop_dspy::*;
use serde_json::json;
use std::ffi::c_char;
use std::ptr;
use support::capi::*;
use support::*;

fn s(text: &str) -> (*const c_char, usize) {
    (text.as_ptr().cast(), text.len())
}

fn result() -> rd_call_result {
    let mut r: rd_call_result = unsafe { std::mem::zeroed() };
    r.prompt_tokens = -1;
    r.completion_tokens = -1;
    r
}

#[test]
fn packed_calls_make_the_same_event_and_roll_up() {
    let sink = Sink::start();
    let c = client(&sink, json!({"user_id": "u-cfg"}));
    let (name, name_len) = s("qa.Predict");
    let (input, input_len) = s("What is 2+2?");
    let (user, user_len) = s("u-call");
    let mut options: rd_call_options = unsafe { std::mem::zeroed() };
    options.user_id = user;
    options.user_id_len = user_len;
    let mut id = [0 as c_char; RD_EVENT_ID_BUF_LEN];
    let mut begin = rd_wrap_begin_args {
        client: c.handle(),
        parent: rd_call { id: 0 },
        module_name: name,
        module_name_len: name_len,
        input,
        input_len,
        options: &options,
        event_id_out: id.as_mut_ptr(),
        event_id_out_len: id.len(),
        call_out: rd_call { id: 0 },
    };
    let mut err = new_err();
    let r = unsafe { rd_wrap_begin_packed(&mut begin, &mut err) };
    check(r, &err).unwrap();
    assert_ne!(begin.call_out.id, 0);
    let event_id = unsafe { std::ffi::CStr::from_ptr(id.as_ptr()) }.to_str().unwrap().to_owned();
    assert!(is_uuid_v4(&event_id), "{event_id}");

    for (p, c_tokens) in [(11, 7), (5, 2)] {
        let (model, model_len) = s("gpt-4o-mini");
        let (finish, finish_len) = s("length");
        let (lm, lm_len) = s("openai/gpt-4o-mini");
        let mut res = result();
        res.model = model;
        res.model_len = model_len;
        res.prompt_tokens = p;
        res.completion_tokens = c_tokens;
        res.finish_reason = finish;
        res.finish_reason_len = finish_len;
        let rec = rd_span_record_args {
            client: c.handle(),
            parent: begin.call_out,
            kind: rd_span_kind::RD_SPAN_LM as i32,
            name: lm,
            name_len: lm_len,
            input: ptr::null(),
            input_len: 0,
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            result: res,
        };
        let r = unsafe { rd_span_record_packed(&rec, &mut err) };
        check(r, &err).unwrap();
    }

    let (output, output_len) = s("4");
    let mut res = result();
    res.output = output;
    res.output_len = output_len;
    let end = rd_wrap_end_args { client: c.handle(), call: begin.call_out, result: res };
    let r = unsafe { rd_wrap_end_packed(&end, &mut err) };
    check(r, &err).unwrap();
    // Ended: the same call again is the handle error of rd_wrap_end.
    let r = unsafe { rd_wrap_end_packed(&end, &mut err) };
    assert_eq!(r, rd_result::RD_ERR_INVALID_HANDLE);

    c.flush(5000).unwrap();
    let evs = sink.events();
    assert_eq!(evs.len(), 1, "{evs:?}");
    let it = &evs[0];
    assert_eq!(it["event_id"], json!(event_id));
    assert_eq!(it["user_id"], "u-call");
    assert_eq!(it["ai_data"]["input"], "What is 2+2?");
    assert_eq!(it["ai_data"]["output"], "4");
    assert_eq!(it["ai_data"]["model"], "gpt-4o-mini");
    assert_eq!(prop(it, "ai.usage.prompt_tokens").and_then(as_i64), Some(16));
    assert_eq!(prop(it, "ai.usage.completion_tokens").and_then(as_i64), Some(9));
    assert_eq!(prop(it, "dspy.finish_reason"), Some(&json!("length")));
}

#[test]
fn packed_calls_refuse_null_args_and_bad_arguments_as_the_originals() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let mut err = new_err();
    for r in unsafe {
        [
            rd_wrap_begin_packed(ptr::null_mut(), &mut err),
            rd_span_record_packed(ptr::null(), &mut err),
            rd_wrap_end_packed(ptr::null(), &mut err),
        ]
    } {
        assert_eq!(r, rd_result::RD_ERR_NULL_ARGUMENT);
    }
    let e = check(unsafe { rd_wrap_end_packed(ptr::null(), &mut err) }, &err).unwrap_err();
    assert!(e.message.contains("args"), "{}", e.message);
    // A missing module name: rd_wrap_begin's own error, and nothing written.
    let mut begin = rd_wrap_begin_args {
        client: c.handle(),
        parent: rd_call { id: 0 },
        module_name: ptr::null(),
        module_name_len: 0,
        input: ptr::null(),
        input_len: 0,
        options: ptr::null(),
        event_id_out: ptr::null_mut(),
        event_id_out_len: 0,
        call_out: rd_call { id: 0 },
    };
    let e = check(unsafe { rd_wrap_begin_packed(&mut begin, &mut err) }, &err).unwrap_err();
    assert!(e.message.contains("module_name"), "{}", e.message);
    assert_eq!(begin.call_out.id, 0);
    // An unknown span kind: rd_span_record's error.
    let (name, name_len) = s("x");
    let rec = rd_span_record_args {
        client: c.handle(),
        parent: rd_call { id: 0 },
        kind: 7,
        name,
        name_len,
        input: ptr::null(),
        input_len: 0,
        start_unix_nanos: 0,
        end_unix_nanos: 0,
        result: result(),
    };
    let e = check(unsafe { rd_span_record_packed(&rec, &mut err) }, &err).unwrap_err();
    assert!(e.message.contains("kind"), "{}", e.message);
}

/// Every span in every accepted traces request.
fn all_spans(sink: &Sink) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for a in sink.attempts_on(TRACES).iter().filter(|a| a.succeeded()) {
        let v = a.json();
        for rs in v["resourceSpans"].as_array().expect("resourceSpans array") {
            for ss in rs["scopeSpans"].as_array().expect("scopeSpans array") {
                out.extend(ss["spans"].as_array().expect("spans array").iter().cloned());
            }
        }
    }
    out
}

fn attr<'a>(span: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    let a = span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?;
    a["value"].get("stringValue").or_else(|| a["value"].get("intValue"))
}

#[test]
fn lm_span_record_writes_the_messages_json_and_rolls_up() {
    let sink = Sink::start();
    let c = client(&sink, json!({"tracing_enabled": true}));
    let (top, _) = c.wrap_begin(0, Some("Predict"), Some(b"q"), None).unwrap();
    let msgs = [("system", "Answer \"briefly\".\n"), ("user", "caf\u{e9}\tq\u{1}")];
    let c_msgs: Vec<rd_message> = msgs
        .iter()
        .map(|(r, t)| rd_message {
            role: r.as_ptr().cast(),
            role_len: r.len(),
            content: t.as_ptr().cast(),
            content_len: t.len(),
        })
        .collect();
    let (lm, lm_len) = s("openai/gpt-4o-mini");
    let (model, model_len) = s("gpt-4o-mini");
    let (finish, finish_len) = s("length");
    let (props, props_len) = s(r#"{"gen_ai.system":"openai"}"#);
    let info = rd_lm_info {
        name: lm,
        name_len: lm_len,
        model,
        model_len,
        finish_reason: finish,
        finish_reason_len: finish_len,
        properties_json: props,
        properties_json_len: props_len,
    };
    let (out, out_len) = s("done");
    let (input, input_len) = s("this input is ignored");
    let args = rd_lm_span_args {
        client: c.handle(),
        parent: rd_call { id: top },
        info: &info,
        start_unix_nanos: 1,
        end_unix_nanos: 2,
        prompt_tokens: 9,
        completion_tokens: 4,
        output: out,
        output_len: out_len,
        messages: c_msgs.as_ptr(),
        messages_len: c_msgs.len(),
        input,
        input_len,
        error_type: ptr::null(),
        error_type_len: 0,
        error_message: ptr::null(),
        error_message_len: 0,
    };
    let mut err = new_err();
    check(unsafe { rd_lm_span_record(&args, &mut err) }, &err).unwrap();
    // No messages: the input is `input`, as rd_span_record's.
    let plain = rd_lm_span_args { messages: ptr::null(), messages_len: 0, ..args };
    check(unsafe { rd_lm_span_record(&plain, &mut err) }, &err).unwrap();
    // Messages announced but NULL, no info, NULL args: refused.
    let bad = rd_lm_span_args { messages: ptr::null(), messages_len: 1, ..plain };
    assert_eq!(unsafe { rd_lm_span_record(&bad, &mut err) }, rd_result::RD_ERR_NULL_ARGUMENT);
    let no_info = rd_lm_span_args { info: ptr::null(), ..plain };
    let e = check(unsafe { rd_lm_span_record(&no_info, &mut err) }, &err).unwrap_err();
    assert!(e.message.contains("info"), "{}", e.message);
    assert_eq!(unsafe { rd_lm_span_record(ptr::null(), &mut err) }, rd_result::RD_ERR_NULL_ARGUMENT);
    c.wrap_end(top, Some(&CallRes::new().output("a"))).unwrap();
    c.flush(5000).unwrap();

    let evs = sink.events();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(prop(&evs[0], "ai.usage.prompt_tokens").and_then(as_i64), Some(18), "both LM spans roll up");
    assert_eq!(evs[0]["ai_data"]["model"], "gpt-4o-mini");
    assert_eq!(prop(&evs[0], "dspy.finish_reason"), Some(&json!("length")));
    let lms: Vec<_> =
        all_spans(&sink).into_iter().filter(|s| attr(s, "traceloop.span.kind") == Some(&json!("llm"))).collect();
    assert_eq!(lms.len(), 2, "{lms:?}");
    let with_messages = lms.iter().find(|s| attr(s, "gen_ai.prompt.0.role") == Some(&json!("system"))).unwrap();
    let expected = json!([{"role": "system", "content": "Answer \"briefly\".\n"}, {"role": "user", "content": "caf\u{e9}\tq\u{1}"}]);
    let messages: serde_json::Value =
        serde_json::from_str(attr(with_messages, "ai.prompt.messages").and_then(|v| v.as_str()).unwrap()).unwrap();
    assert_eq!(messages, expected);
    assert_eq!(attr(with_messages, "gen_ai.prompt.1.content"), Some(&json!("caf\u{e9}\tq\u{1}")));
    assert_eq!(attr(with_messages, "gen_ai.system"), Some(&json!("openai")));
    assert_eq!(attr(with_messages, "gen_ai.response.model"), Some(&json!("gpt-4o-mini")));
    let other = lms.iter().find(|s| attr(s, "gen_ai.prompt.0.role") != Some(&json!("system"))).unwrap();
    assert_eq!(attr(other, "gen_ai.prompt.0.content"), Some(&json!("this input is ignored")));
}
