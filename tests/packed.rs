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
