//! The fuzz harnesses' bodies, shared by the libFuzzer targets (`fuzz/fuzz_targets/`) and by the
//! corpus replay on stable (`tests/fuzz_corpus.rs`), so an input that crashed once stays fixed.
//!
//! Every harness goes through the C ABI, as a binding would. Inputs with several arguments are
//! split at NUL bytes: field i is argument i, an empty field is NULL. Clients write to
//! `file:///dev/null`, and each input is flushed, so the sender thread serialises it (events,
//! signals, OTLP spans) before the next input: a panic anywhere aborts under libFuzzer.

#![allow(dead_code)]

use raindrop_dspy::*;
use std::ffi::c_char;
use std::ptr;
use std::sync::OnceLock;

fn new_error() -> rd_error {
    rd_error { code: rd_result::RD_OK, message: [0; RD_ERROR_MESSAGE_LEN] }
}

/// The three calls whose signatures the C ABI is changing: kept here, in one place.
fn new_client(config: &[u8], out: &mut rd_client) -> rd_result {
    let mut err = new_error();
    // Safety: config is borrowed for the call; out and err are valid.
    unsafe { rd_new(config.as_ptr().cast(), config.len(), ptr::null(), out, &mut err) }
}
fn shutdown(client: rd_client, timeout_ms: i64) -> rd_result {
    let mut err = new_error();
    unsafe { rd_shutdown(client, timeout_ms, ptr::null_mut(), &mut err) }
}
fn begin(client: rd_client, name: Arg, input: Arg, event_id: Arg, out: &mut rd_call) -> rd_result {
    let mut err = new_error();
    // Safety: every pointer is valid (or NULL with length 0) for the call.
    unsafe {
        let options = rd_call_options {
            event_id: event_id.0,
            event_id_len: event_id.1,
            user_id: ptr::null(),
            user_id_len: 0,
            convo_id: ptr::null(),
            convo_id_len: 0,
            event_name: ptr::null(),
            event_name_len: 0,
        };
        rd_wrap_begin(
            client,
            rd_call::default(),
            name.0,
            name.1,
            input.0,
            input.1,
            &options,
            out,
            ptr::null_mut(),
            0,
            &mut err,
        )
    }
}

type Arg = (*const c_char, usize);

/// Field `index` of `data` split at NUL bytes: (pointer, length), NULL when empty or missing.
fn field(data: &[u8], index: usize) -> Arg {
    match data.split(|b| *b == 0).nth(index) {
        Some(bytes) if !bytes.is_empty() => (bytes.as_ptr().cast(), bytes.len()),
        _ => (ptr::null(), 0),
    }
}

/// Two long-lived clients: the default limits, and tight ones (tiny text cap, smallest batch)
/// so that capping and shrinking paths run on small inputs.
fn clients() -> [rd_client; 2] {
    static CLIENTS: OnceLock<[rd_client; 2]> = OnceLock::new();
    *CLIENTS.get_or_init(|| {
        let make = |config: &str| {
            let mut client = rd_client::default();
            assert_eq!(new_client(config.as_bytes(), &mut client), rd_result::RD_OK, "{config}");
            client
        };
        [
            make(r#"{"endpoint": "file:///dev/null", "api_key": "k"}"#),
            make(
                r#"{"endpoint": "file:///dev/null", "api_key": "k", "max_text_field_chars": 40,
                    "max_batch_bytes": 4096, "max_batch_events": 3}"#,
            ),
        ]
    })
}

fn flush(client: rd_client) {
    let mut err = new_error();
    let code = unsafe { rd_flush(client, 10_000, &mut err) };
    assert_eq!(code, rd_result::RD_OK, "flush to /dev/null");
}

/// The `rd_new` config JSON. Only clients that never send are made (a `file://` sink is opened
/// at the first request, so a fuzzed path is never created). A config naming a `spool_dir` is
/// skipped: the sender creates that directory as it starts.
pub fn config(data: &[u8]) {
    let spool = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|config| config.get("spool_dir").cloned())
        .is_some_and(|dir| !dir.is_null());
    if spool {
        return;
    }
    let mut client = rd_client::default();
    if new_client(data, &mut client) == rd_result::RD_OK {
        // Nothing is queued: OK, or TIMEOUT should the sender not answer within 100 ms.
        let code = shutdown(client, 100);
        assert!(matches!(code, rd_result::RD_OK | rd_result::RD_ERR_TIMEOUT), "{code:?}");
    }
}

/// Properties, attachments and metadata JSON on events and wrapped calls.
pub fn properties(data: &[u8]) {
    let props = field(data, 0);
    let attachments = field(data, 1);
    for client in clients() {
        let mut event = empty_event();
        event.user_id = c"u".as_ptr();
        event.user_id_len = 1;
        event.input = c"q".as_ptr();
        event.input_len = 1;
        (event.properties_json, event.properties_json_len) = props;
        (event.attachments_json, event.attachments_json_len) = attachments;
        let mut err = new_error();
        // Safety: the event's pointers live in `data` for the call.
        unsafe { rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err) };
        unsafe { rd_identify(client, c"u".as_ptr(), 1, props.0, props.1, &mut err) };
        let mut call = rd_call::default();
        if begin(client, (c"m".as_ptr(), 1), (c"q".as_ptr(), 1), (ptr::null(), 0), &mut call) == rd_result::RD_OK {
            let mut result = empty_result();
            (result.properties_json, result.properties_json_len) = props;
            (result.attachments_json, result.attachments_json_len) = attachments;
            // Safety: as above.
            if unsafe { rd_wrap_end(client, call, &result, &mut err) } != rd_result::RD_OK {
                unsafe { rd_wrap_end(client, call, ptr::null(), &mut err) };
            }
        }
        flush(client);
    }
}

/// Text fields from C: any bytes (invalid UTF-8 repaired), capped in characters.
pub fn text(data: &[u8]) {
    for client in clients() {
        let mut event = empty_event();
        (event.user_id, event.user_id_len) = field(data, 0);
        (event.event, event.event_len) = field(data, 1);
        (event.input, event.input_len) = field(data, 2);
        (event.output, event.output_len) = field(data, 3);
        (event.model, event.model_len) = field(data, 4);
        (event.convo_id, event.convo_id_len) = field(data, 5);
        (event.event_id, event.event_id_len) = field(data, 6);
        (event.timestamp, event.timestamp_len) = field(data, 7);
        let mut err = new_error();
        // Safety: the event's pointers live in `data` for the call.
        unsafe { rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err) };
        event.input = data.as_ptr().cast();
        event.input_len = data.len();
        unsafe { rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err) };
        flush(client);
    }
}

/// `rd_track_signal`'s arguments.
pub fn signal(data: &[u8]) {
    for client in clients() {
        let (event_id, event_id_len) = field(data, 0);
        let (name, name_len) = field(data, 1);
        let (signal_type, signal_type_len) = field(data, 2);
        let (timestamp, timestamp_len) = field(data, 3);
        let (properties_json, properties_json_len) = field(data, 4);
        let (attachment_id, attachment_id_len) = field(data, 5);
        let (comment, comment_len) = field(data, 6);
        let (after, after_len) = field(data, 7);
        let (sentiment, sentiment_len) = field(data, 8);
        let signal = rd_signal {
            event_id,
            event_id_len,
            name,
            name_len,
            signal_type,
            signal_type_len,
            timestamp,
            timestamp_len,
            properties_json,
            properties_json_len,
            attachment_id,
            attachment_id_len,
            comment,
            comment_len,
            after,
            after_len,
            sentiment,
            sentiment_len,
        };
        let mut err = new_error();
        // Safety: the signal's pointers live in `data` for the call.
        unsafe { rd_track_signal(client, &signal, &mut err) };
        flush(client);
    }
}

/// The OTLP span builder: a wrapped call with a nested module span and LM and tool spans, every
/// field fuzzed (the first byte picks token counts and times).
pub fn span(data: &[u8]) {
    let knobs = data.first().copied().unwrap_or(0);
    let tokens = |shift: u8| -> i64 {
        match (knobs >> shift) & 3 {
            0 => RD_TOKENS_UNKNOWN,
            1 => 0,
            2 => i64::MAX,
            _ => i64::from(knobs),
        }
    };
    for client in clients() {
        let mut err = new_error();
        let mut call = rd_call::default();
        if begin(client, field(data, 1), field(data, 2), field(data, 3), &mut call) != rd_result::RD_OK {
            begin(client, (c"m".as_ptr(), 1), (ptr::null(), 0), (ptr::null(), 0), &mut call);
        }
        let mut result = empty_result();
        (result.output, result.output_len) = field(data, 4);
        (result.model, result.model_len) = field(data, 5);
        (result.finish_reason, result.finish_reason_len) = field(data, 6);
        (result.error_type, result.error_type_len) = field(data, 7);
        (result.error_message, result.error_message_len) = field(data, 8);
        (result.properties_json, result.properties_json_len) = field(data, 9);
        result.prompt_tokens = tokens(0);
        result.completion_tokens = tokens(2);
        let (name, name_len) = field(data, 1);
        let (input, input_len) = field(data, 2);
        let (start, end) =
            if knobs & 16 != 0 { (u64::MAX, 0) } else { (1_700_000_000_000_000_000, 1_700_000_001_000_000_000) };
        for kind in [rd_span_kind::RD_SPAN_MODULE, rd_span_kind::RD_SPAN_LM, rd_span_kind::RD_SPAN_TOOL] {
            // Safety: pointers live in `data` for the calls.
            unsafe {
                rd_span_record(
                    client,
                    call,
                    kind as i32,
                    name,
                    name_len,
                    input,
                    input_len,
                    start,
                    end,
                    &result,
                    &mut err,
                );
                let mut span = rd_call::default();
                if rd_span_begin(client, call, kind as i32, name, name_len, input, input_len, &mut span, &mut err)
                    == rd_result::RD_OK
                    && rd_span_end(client, span, &result, &mut err) != rd_result::RD_OK
                {
                    rd_span_end(client, span, ptr::null(), &mut err);
                }
                // A standalone span (a trace of its own), as tool spans go with tracing off.
                rd_span_record(
                    client,
                    rd_call::default(),
                    kind as i32,
                    name,
                    name_len,
                    input,
                    input_len,
                    start,
                    end,
                    &result,
                    &mut err,
                );
            }
        }
        // Safety: as above.
        if unsafe { rd_wrap_end(client, call, &result, &mut err) } != rd_result::RD_OK {
            unsafe { rd_wrap_end(client, call, ptr::null(), &mut err) };
        }
        flush(client);
    }
}

fn empty_event() -> rd_event {
    rd_event {
        event_id: ptr::null(),
        event_id_len: 0,
        user_id: ptr::null(),
        user_id_len: 0,
        event: ptr::null(),
        event_len: 0,
        timestamp: ptr::null(),
        timestamp_len: 0,
        input: ptr::null(),
        input_len: 0,
        output: ptr::null(),
        output_len: 0,
        model: ptr::null(),
        model_len: 0,
        convo_id: ptr::null(),
        convo_id_len: 0,
        properties_json: ptr::null(),
        properties_json_len: 0,
        attachments_json: ptr::null(),
        attachments_json_len: 0,
    }
}

fn empty_result() -> rd_call_result {
    rd_call_result {
        output: ptr::null(),
        output_len: 0,
        model: ptr::null(),
        model_len: 0,
        prompt_tokens: RD_TOKENS_UNKNOWN,
        completion_tokens: RD_TOKENS_UNKNOWN,
        finish_reason: ptr::null(),
        finish_reason_len: 0,
        error_type: ptr::null(),
        error_type_len: 0,
        error_message: ptr::null(),
        error_message_len: 0,
        properties_json: ptr::null(),
        properties_json_len: 0,
        user_id: ptr::null(),
        user_id_len: 0,
        convo_id: ptr::null(),
        convo_id_len: 0,
        event_name: ptr::null(),
        event_name_len: 0,
        timestamp: ptr::null(),
        timestamp_len: 0,
        attachments_json: ptr::null(),
        attachments_json_len: 0,
    }
}

/// The harness for a corpus folder name.
pub fn by_name(name: &str) -> Option<fn(&[u8])> {
    Some(match name {
        "config" => config,
        "properties" => properties,
        "text" => text,
        "signal" => signal,
        "span" => span,
        _ => return None,
    })
}
