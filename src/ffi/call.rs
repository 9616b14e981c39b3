//! Wrapped calls and spans: begun, ended, or recorded after the fact.

use super::{
    attachments_argument, boundary, capped, capped_text, check_event_id_buffer, live_client, object_argument, rd_call,
    rd_client, rd_error, rd_result, short, timestamp_argument, write_event_id,
};
use crate::args;
use crate::call::CallContext;
use crate::call::SpanKind;
use crate::call::{CallResult, MoreResult};
use crate::error::Error;
use std::ffi::c_char;
use std::sync::Arc;

/// Per-call options for a top-level `rd_wrap_begin`. Every string is optional (NULL = the
/// client's default); zero-initialise the struct. Every span under the call (sub-modules, LM and
/// tool calls) carries the call's user, convo and event name, not only its event.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_call_options {
    /// The event id (an id of at most RD_MAX_EVENT_ID_BYTES); default: a new UUID v4.
    pub event_id: *const c_char,
    /// Length of `event_id` in bytes.
    pub event_id_len: usize,
    /// The user id (an id of at most RD_MAX_ID_BYTES); default: the client's `user_id`, then
    /// "unknown".
    pub user_id: *const c_char,
    /// Length of `user_id` in bytes.
    pub user_id_len: usize,
    /// The conversation id (an id of at most RD_MAX_ID_BYTES); default: the client's `convo_id`.
    pub convo_id: *const c_char,
    /// Length of `convo_id` in bytes.
    pub convo_id_len: usize,
    /// The event name (not empty; cut to RD_MAX_NAME_BYTES); default: the client's `event_name`
    /// ("ai_generation").
    pub event_name: *const c_char,
    /// Length of `event_name` in bytes.
    pub event_name_len: usize,
}

/// What kind of span `rd_span_begin` opens.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rd_span_kind {
    /// A sub-module call (a task span).
    RD_SPAN_MODULE = 0,
    /// A language-model call (an llm span): its model, tokens and finish reason roll up to the
    /// top-level call's event when that call reports none of its own.
    RD_SPAN_LM = 1,
    /// A tool call (a tool span, shipped even with tracing off when `bypass_otel_for_tools`).
    RD_SPAN_TOOL = 2,
}

/// How a call or span ended. Every string is optional (NULL = absent); zero-initialise the
/// struct and set token counts to `RD_TOKENS_UNKNOWN` unless known.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_call_result {
    /// Output text (event `ai_data.output`, span output).
    pub output: *const c_char,
    /// Length of `output` in bytes.
    pub output_len: usize,
    /// Model name (cut to RD_MAX_NAME_BYTES).
    pub model: *const c_char,
    /// Length of `model` in bytes.
    pub model_len: usize,
    /// Prompt tokens; negative = unknown (then summed from LM spans under the call).
    pub prompt_tokens: i64,
    /// Completion tokens; negative = unknown (then summed from LM spans under the call).
    pub completion_tokens: i64,
    /// Finish reason (`stop`, `length`, ...; cut to RD_MAX_FINISH_REASON_BYTES).
    pub finish_reason: *const c_char,
    /// Length of `finish_reason` in bytes.
    pub finish_reason_len: usize,
    /// Exception / error type (cut to RD_MAX_NAME_BYTES); setting it (or error_message) marks
    /// the call failed.
    pub error_type: *const c_char,
    /// Length of `error_type` in bytes.
    pub error_type_len: usize,
    /// Error message.
    pub error_message: *const c_char,
    /// Length of `error_message` in bytes.
    pub error_message_len: usize,
    /// A JSON object merged into the event's properties (span attributes for spans).
    pub properties_json: *const c_char,
    /// Length of `properties_json` in bytes.
    pub properties_json_len: usize,
    /// Overrides the client's user id for this event (an id of at most RD_MAX_ID_BYTES).
    pub user_id: *const c_char,
    /// Length of `user_id` in bytes.
    pub user_id_len: usize,
    /// Overrides the client's convo id for this event (an id of at most RD_MAX_ID_BYTES).
    pub convo_id: *const c_char,
    /// Length of `convo_id` in bytes.
    pub convo_id_len: usize,
    /// Overrides the client's event name for this event (not empty; cut to RD_MAX_NAME_BYTES).
    pub event_name: *const c_char,
    /// Length of `event_name` in bytes.
    pub event_name_len: usize,
    /// RFC 3339 timestamp of the event; default: when the call began.
    pub timestamp: *const c_char,
    /// Length of `timestamp` in bytes.
    pub timestamp_len: usize,
    /// A JSON array of attachments (`type` text/code/image/iframe, `value`, optional `role`,
    /// `name`, `language`, `attachment_id`).
    pub attachments_json: *const c_char,
    /// Length of `attachments_json` in bytes.
    pub attachments_json_len: usize,
}

/// Begins one wrapped module call. With `parent` = `{0}` it is a top-level call, which sends
/// one event when it ends; `options` (may be NULL) gives its event id (else a new UUID v4), user,
/// convo and event name, which every span under it carries too. With a `parent` call it is a
/// nested call: a child span of the parent's trace sharing its event id and options, sending no
/// event; `options` must then be NULL or have every field NULL. `module_name` is required (not
/// empty; cut to RD_MAX_NAME_BYTES); `input` is optional.
///
/// All strings are borrowed for the duration of the call. On success `*call_out` holds the call
/// handle (end it with `rd_wrap_end`) and, when `event_id_out` is non-NULL, the call's event id
/// is written there NUL-terminated (`event_id_out_len` must be at least RD_EVENT_ID_BUF_LEN).
/// Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE (client, parent), RD_ERR_NULL_ARGUMENT (module_name,
/// call_out), RD_ERR_INVALID_ARGUMENT (options, event_id_out_len), RD_ERR_TOO_MANY_OPEN_CALLS.
#[no_mangle]
pub unsafe extern "C" fn rd_wrap_begin(
    client: rd_client,
    parent: rd_call,
    module_name: *const c_char,
    module_name_len: usize,
    input: *const c_char,
    input_len: usize,
    options: *const rd_call_options,
    call_out: *mut rd_call,
    event_id_out: *mut c_char,
    event_id_out_len: usize,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        let max_chars = client.config().max_text_field_chars;
        let name = args::required_name("module_name", short(arg!(module_name, module_name_len)).as_deref())?;
        // SAFETY: `call_out` is NULL or valid for writes of an rd_call (the contract).
        let out = unsafe { call_out.as_mut() }.ok_or_else(|| Error::null("call_out"))?;
        check_event_id_buffer(event_id_out, event_id_out_len)?;
        // Options with every field NULL are no options (a binding may always pass its struct).
        // SAFETY: `options` is NULL or points to a valid rd_call_options (the contract).
        let options = unsafe { options.as_ref() }.filter(|o| {
            !(o.event_id.is_null() && o.user_id.is_null() && o.convo_id.is_null() && o.event_name.is_null())
        });
        let (given_id, context) = match options {
            None => (None, None),
            // SAFETY: the options' pointers are NULL or valid for their lengths (the contract).
            Some(o) => unsafe { call_options(o) }?,
        };
        let (handle, id) = client.wrap_begin(
            parent.id,
            name,
            capped_text(arg!(input, input_len), max_chars),
            given_id.as_deref(),
            context,
        )?;
        *out = rd_call { id: handle };
        // A new UUID is formatted only when the caller asks for it.
        if !event_id_out.is_null() {
            // SAFETY: `event_id_out` is valid for `event_id_out_len` bytes (the contract), at
            // least RD_EVENT_ID_BUF_LEN (check_event_id_buffer above).
            unsafe { write_event_id(event_id_out, &id.text()) };
        }
        Ok(())
    })
}

/// The given id and the context of a call's options (some field not NULL). Out of line: most
/// calls have none, and their hot code stays on fewer cache lines.
///
/// # Safety
/// The options' pointers are NULL or valid for their lengths.
#[inline(never)]
unsafe fn call_options(o: &rd_call_options) -> Result<(Option<String>, Option<Arc<CallContext>>), Error> {
    Ok((
        args::event_id("options.event_id", short(arg!(o.event_id, o.event_id_len)).as_deref())?,
        Some(Arc::new(CallContext {
            user_id: args::id("options.user_id", short(arg!(o.user_id, o.user_id_len)).as_deref())?,
            convo_id: args::id("options.convo_id", short(arg!(o.convo_id, o.convo_id_len)).as_deref())?,
            event_name: args::event_name("options.event_name", short(arg!(o.event_name, o.event_name_len)).as_deref())?,
        })),
    ))
}

/// Copies an `rd_call_result` into owned, checked values.
///
/// # Safety
/// `result` is NULL or points to a valid rd_call_result whose pointers are NULL or valid for
/// their lengths.
unsafe fn call_result(result: *const rd_call_result, max_chars: usize) -> Result<CallResult, Error> {
    // SAFETY: `result` is NULL or points to a valid rd_call_result (this function's contract).
    let Some(r) = (unsafe { result.as_ref() }) else { return Ok(CallResult::default()) };
    let tokens = |n: i64| (n >= 0).then_some(n);
    // Most results are an output, a model and token counts: with every other field NULL, their
    // checks (and the plumbing of nine absent values, ~300 instructions) are skipped.
    let rare = [
        r.finish_reason,
        r.error_type,
        r.error_message,
        r.properties_json,
        r.user_id,
        r.convo_id,
        r.event_name,
        r.timestamp,
        r.attachments_json,
    ];
    if rare.iter().all(|p| p.is_null()) {
        return Ok(CallResult {
            output: capped_text(arg!(r.output, r.output_len), max_chars),
            model: args::label("result.model", short(arg!(r.model, r.model_len)).as_deref())?,
            prompt_tokens: tokens(r.prompt_tokens),
            completion_tokens: tokens(r.completion_tokens),
            ..CallResult::default()
        });
    }
    // SAFETY: the result's pointers are NULL or valid for their lengths (this function's contract).
    unsafe { full_call_result(r, max_chars) }
}

/// `call_result` for a result with some rarely given field: out of line, so the common
/// result's code stays on fewer cache lines.
///
/// # Safety
/// The result's pointers are NULL or valid for their lengths.
#[inline(never)]
unsafe fn full_call_result(r: &rd_call_result, max_chars: usize) -> Result<CallResult, Error> {
    let tokens = |n: i64| (n >= 0).then_some(n);
    Ok(CallResult {
        output: capped_text(arg!(r.output, r.output_len), max_chars),
        model: args::label("result.model", short(arg!(r.model, r.model_len)).as_deref())?,
        prompt_tokens: tokens(r.prompt_tokens),
        completion_tokens: tokens(r.completion_tokens),
        finish_reason: args::finish_reason(
            "result.finish_reason",
            short(arg!(r.finish_reason, r.finish_reason_len)).as_deref(),
        )?,
        more: Some(Box::new(MoreResult {
            error_type: args::label("result.error_type", short(arg!(r.error_type, r.error_type_len)).as_deref())?,
            error_message: capped(arg!(r.error_message, r.error_message_len), max_chars),
            properties_json: object_argument(
                arg!(r.properties_json, r.properties_json_len),
                "result.properties_json",
                max_chars,
            )?,
            user_id: args::id("result.user_id", short(arg!(r.user_id, r.user_id_len)).as_deref())?,
            convo_id: args::id("result.convo_id", short(arg!(r.convo_id, r.convo_id_len)).as_deref())?,
            event_name: args::event_name("result.event_name", short(arg!(r.event_name, r.event_name_len)).as_deref())?,
            timestamp: timestamp_argument(arg!(r.timestamp, r.timestamp_len), "result.timestamp")?,
            attachments_json: attachments_argument(
                arg!(r.attachments_json, r.attachments_json_len),
                "result.attachments_json",
                max_chars,
            )?,
        })),
    })
}

/// Ends a call begun with `rd_wrap_begin` (or a span begun with `rd_span_begin`). A top-level
/// call enqueues its event; with tracing on, the call also becomes a span. `result` may be NULL
/// (nothing to add) and is borrowed for the duration of the call. The call handle is invalid
/// afterwards; but when `result` holds a bad argument the call stays open, so it can be ended
/// again with a corrected result.
/// Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE (client, call: unknown or already ended), RD_ERR_INVALID_JSON
/// (properties_json, attachments_json), RD_ERR_INVALID_ARGUMENT, RD_ERR_INVALID_TIMESTAMP,
/// RD_ERR_QUEUE_FULL (the call ended but its event or span was dropped and counted).
#[no_mangle]
pub unsafe extern "C" fn rd_wrap_end(
    client: rd_client,
    call: rd_call,
    result: *const rd_call_result,
    err_out: *mut rd_error,
) -> rd_result {
    // SAFETY: `result` is NULL or a valid rd_call_result whose pointers are valid for their
    // lengths (this function's contract, passed on).
    boundary(err_out!(err_out), || unsafe { end(client, call, "call", result) })
}

/// Begins a span inside a call: `kind` is one of `rd_span_kind`, a sub-module (RD_SPAN_MODULE),
/// an LM call (RD_SPAN_LM) or a tool call (RD_SPAN_TOOL). `parent` is a call or span of this client, or 0 for a standalone span
/// with a trace of its own. `name` is required (not empty; cut to RD_MAX_NAME_BYTES); `input` optional (for LM spans a JSON array of
/// `{role, content}` messages becomes the prompt messages). All strings are borrowed for the
/// duration of the call. On success `*span_out` holds the span handle; end it with
/// `rd_span_end`. Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE (client, parent), RD_ERR_NULL_ARGUMENT (name, span_out),
/// RD_ERR_INVALID_ARGUMENT (kind, empty name), RD_ERR_TOO_MANY_OPEN_CALLS.
#[no_mangle]
pub unsafe extern "C" fn rd_span_begin(
    client: rd_client,
    parent: rd_call,
    kind: i32,
    name: *const c_char,
    name_len: usize,
    input: *const c_char,
    input_len: usize,
    span_out: *mut rd_call,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        // An integer, not the enum type, in the signature: a C caller may pass any value.
        let kind = span_kind(kind)?;
        let name = args::required_name("name", short(arg!(name, name_len)).as_deref())?;
        // SAFETY: `span_out` is NULL or valid for writes of an rd_call (the contract).
        let out = unsafe { span_out.as_mut() }.ok_or_else(|| Error::null("span_out"))?;
        let max_chars = client.config().max_text_field_chars;
        let (handle, _) = client.span_begin(parent.id, kind, name, capped_text(arg!(input, input_len), max_chars))?;
        *out = rd_call { id: handle };
        Ok(())
    })
}

/// Ends a span begun with `rd_span_begin` (the same as `rd_wrap_end`; both accept either).
/// `result` may be NULL and is borrowed for the duration of the call. An LM span's model,
/// tokens and finish reason roll up to its top-level call. Thread-safe.
/// Errors: as `rd_wrap_end`.
#[no_mangle]
pub unsafe extern "C" fn rd_span_end(
    client: rd_client,
    span: rd_call,
    result: *const rd_call_result,
    err_out: *mut rd_error,
) -> rd_result {
    // SAFETY: as in rd_wrap_end.
    boundary(err_out!(err_out), || unsafe { end(client, span, "span", result) })
}

/// `rd_wrap_end` and `rd_span_end`: `argument` names the handle in an error.
///
/// # Safety
/// As `call_result`.
unsafe fn end(client: rd_client, call: rd_call, argument: &str, result: *const rd_call_result) -> Result<(), Error> {
    let client = live_client(client)?;
    // SAFETY: `result` as this function's contract says.
    let result = unsafe { call_result(result, client.config().max_text_field_chars) }?;
    client.end(call.id, argument, result)
}

/// Records, in one call, a span that already happened: the binding measured its start and end
/// (nanoseconds since the Unix epoch; an end before the start is clamped to the start).
/// `parent`, `kind`, `name` and `input` as `rd_span_begin`, `result` as `rd_span_end` (may be
/// NULL). An LM span's model, tokens and finish reason roll up to the top-level call. All
/// pointers are borrowed for the duration of the call. Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE (client, parent), RD_ERR_NULL_ARGUMENT (name),
/// RD_ERR_INVALID_ARGUMENT (kind), RD_ERR_INVALID_JSON, RD_ERR_INVALID_TIMESTAMP,
/// RD_ERR_QUEUE_FULL.
#[no_mangle]
pub unsafe extern "C" fn rd_span_record(
    client: rd_client,
    parent: rd_call,
    kind: i32,
    name: *const c_char,
    name_len: usize,
    input: *const c_char,
    input_len: usize,
    start_unix_nanos: u64,
    end_unix_nanos: u64,
    result: *const rd_call_result,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        let kind = span_kind(kind)?;
        let name = args::required_name("name", short(arg!(name, name_len)).as_deref())?;
        let max_chars = client.config().max_text_field_chars;
        let input = capped_text(arg!(input, input_len), max_chars);
        // SAFETY: `result` is NULL or a valid rd_call_result whose pointers are valid for their
        // lengths (the contract).
        let result = unsafe { call_result(result, max_chars) }?;
        client.record_span(parent.id, kind, name, input, start_unix_nanos, end_unix_nanos, result)
    })
}

fn span_kind(kind: i32) -> Result<SpanKind, Error> {
    match kind {
        0 => Ok(SpanKind::Module),
        1 => Ok(SpanKind::Lm),
        2 => Ok(SpanKind::Tool),
        other => Err(Error::invalid("kind", format!("unknown span kind {other}"))),
    }
}
