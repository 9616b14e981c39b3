//! The C ABI: the only place that touches raw pointers. Every function runs inside one panic
//! boundary, turns its arguments into owned Rust values, and calls the safe core.
//!
//! Conventions for every function below:
//! - Strings are a pointer followed by its `size_t` length, UTF-8 (invalid bytes become U+FFFD),
//!   not necessarily NUL-terminated. For an optional string, NULL means absent. Every pointer
//!   argument is borrowed for the duration of the call only.
//! - Cap first: a text argument is read only as far as its cap can keep (4 bytes per character
//!   kept), so a call costs what its capped arguments cost, however long the input; a JSON
//!   argument longer than RD_MAX_JSON_BYTES is refused before it is read.
//! - `err_out` may be NULL; when the call fails it receives the code and a message naming the
//!   argument at fault. Outputs (`*_out`) are written only on success.
//! - Every function is safe to call from any thread at the same time.
//!
//! Safety, for every `unsafe extern "C"` function here: each pointer argument is NULL or valid
//! for the length given with it (structs: for their size) for the duration of the call.
#![allow(clippy::missing_safety_doc)] // stated once above, and in the header's preamble

use crate::args::{self, MAX_FINISH_REASON_BYTES, MAX_NAME_BYTES};
use crate::call::CallContext;
use crate::client::{CallResult, Client, EventArgs};
use crate::error::{copy_message, rd_result, Error, RD_ERROR_MESSAGE_LEN};
use crate::event::{self, AiData};
use crate::identify::Identify;
use crate::signal::{parse_sentiment, Signal, SignalType};
use crate::span::SpanKind;
use crate::stats::rd_stats;
use crate::text::{self, Text};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// A client handle, passed by value: a generation-checked id, never a pointer. `{0}` is never
/// valid. A distinct type from `rd_call`, so the compiler catches one passed for the other.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rd_client {
    /// The id; 0 means "none".
    pub id: u64,
}

/// A call or span handle, passed by value, valid with the client that made it until it is
/// ended. `{0}` means "none" (no parent).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rd_call {
    /// The id; 0 means "none".
    pub id: u64,
}

/// How severe a log line is.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rd_log_level {
    /// Diagnostics, only with the `debug` config key.
    RD_LOG_DEBUG = 0,
    /// Worth knowing, not a problem (not emitted yet; reserved).
    RD_LOG_INFO = 1,
    /// Something went wrong and the library coped (dropped items, unreachable sink, bad config).
    RD_LOG_WARN = 2,
    /// Something went wrong and telemetry stops.
    RD_LOG_ERROR = 3,
}

/// Where a client's log lines go, given to `rd_new` (NULL, or `log` NULL: stderr).
///
/// `log` is called from any thread, the caller's and the client's sender thread included, and
/// possibly from several at the same time. `message`
/// is UTF-8, NUL-terminated, `message_len` bytes without the NUL, borrowed for the duration of
/// the callback; it never holds the api key. The callback must be quick (it may run on the hot
/// path), must not unwind, and must not call `rd_*` functions on the same client. It is never
/// called after `rd_shutdown` of the client returned: `user_data` must stay valid until then.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_logger {
    /// Receives each line; NULL means stderr.
    pub log: Option<
        unsafe extern "C" fn(user_data: *mut c_void, level: rd_log_level, message: *const c_char, message_len: usize),
    >,
    /// Passed back to `log` untouched.
    pub user_data: *mut c_void,
}

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

/// Size of an event id output buffer that always suffices (event ids are at most 256 bytes).
pub const RD_EVENT_ID_BUF_LEN: usize = 257;

/// Pass as a token count to say "unknown".
pub const RD_TOKENS_UNKNOWN: i64 = -1;

/// Pass as a timeout to use the configured default (`flush_timeout_ms` / `shutdown_timeout_ms`).
pub const RD_TIMEOUT_DEFAULT: i64 = -1;

/// The longest event id, in bytes (given to `rd_wrap_begin` or `rd_track_*`, or in a signal).
/// Every id (event, user, convo, attachment) is used as given or refused with
/// RD_ERR_INVALID_ARGUMENT: never cut, never empty or blank, never holding a NUL byte.
pub const RD_MAX_EVENT_ID_BYTES: usize = 256;
/// The longest user id, convo id or attachment id, in bytes: a longer one is refused, never cut.
pub const RD_MAX_ID_BYTES: usize = 1024;
/// Model names, event names, module and span names, signal names and error types are cut to
/// this many bytes (on a character boundary). Event, module, span and signal names must not be
/// empty or blank.
pub const RD_MAX_NAME_BYTES: usize = 1024;
/// Finish reasons are cut to this many bytes.
pub const RD_MAX_FINISH_REASON_BYTES: usize = 256;

// The header's numbers are the core's rules.
const _: () = assert!(
    RD_MAX_EVENT_ID_BYTES == args::MAX_EVENT_ID_BYTES
        && RD_MAX_ID_BYTES == args::MAX_ID_BYTES
        && RD_MAX_NAME_BYTES == args::MAX_NAME_BYTES
        && RD_MAX_FINISH_REASON_BYTES == args::MAX_FINISH_REASON_BYTES
        && RD_EVENT_ID_BUF_LEN == RD_MAX_EVENT_ID_BYTES + 1
);

/// The most bytes a JSON argument (`properties_json`, `attachments_json`, `traits_json`) may
/// hold: 4 MiB, about what a capped text field can hold (1,000,000 characters of UTF-8). A
/// longer one is refused with RD_ERR_INVALID_ARGUMENT before it is read, so no call costs more
/// than its capped arguments; an event is shrunk to 1 MiB anyway.
pub const RD_MAX_JSON_BYTES: usize = 4_194_304;

/// Names, ids, timestamps and enum values are read up to this many characters, one more than
/// the longest of their limits (in bytes, so in at most as many characters): enough to cut a
/// name or to see that an id is too long, and their cost never follows a longer input.
const SHORT_CHARS: usize = 1025;
const _: () = assert!(
    SHORT_CHARS > args::MAX_EVENT_ID_BYTES
        && SHORT_CHARS > args::MAX_ID_BYTES
        && SHORT_CHARS > args::MAX_NAME_BYTES
        && SHORT_CHARS > args::MAX_FINISH_REASON_BYTES
);

/// An error handed back in the same call: the caller owns this struct (typically on its stack).
/// Written only when the call fails. `message` is NUL-terminated UTF-8 naming the argument at fault.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_error {
    /// The same code the function returned.
    pub code: rd_result,
    /// What went wrong, NUL-terminated, cut on a character boundary.
    pub message: [c_char; RD_ERROR_MESSAGE_LEN],
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

/// A one-shot event for `rd_track_ai` / `rd_track`. Every string is optional (NULL = absent).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_event {
    /// Event id (an id of at most RD_MAX_EVENT_ID_BYTES); default: a new UUID v4.
    pub event_id: *const c_char,
    /// Length of `event_id` in bytes.
    pub event_id_len: usize,
    /// User id (an id of at most RD_MAX_ID_BYTES); default: the client's user_id, then "unknown".
    pub user_id: *const c_char,
    /// Length of `user_id` in bytes.
    pub user_id_len: usize,
    /// Event name (not empty; cut to RD_MAX_NAME_BYTES); default: the client's event_name
    /// ("ai_generation"). Required by `rd_track`.
    pub event: *const c_char,
    /// Length of `event` in bytes.
    pub event_len: usize,
    /// RFC 3339; default: now.
    pub timestamp: *const c_char,
    /// Length of `timestamp` in bytes.
    pub timestamp_len: usize,
    /// AI fields (`rd_track_ai` only; `rd_track` rejects them).
    pub input: *const c_char,
    /// Length of `input` in bytes.
    pub input_len: usize,
    /// Output text (AI field).
    pub output: *const c_char,
    /// Length of `output` in bytes.
    pub output_len: usize,
    /// Model name (AI field; cut to RD_MAX_NAME_BYTES).
    pub model: *const c_char,
    /// Length of `model` in bytes.
    pub model_len: usize,
    /// Conversation id (AI field; an id of at most RD_MAX_ID_BYTES); default: the client's
    /// convo_id.
    pub convo_id: *const c_char,
    /// Length of `convo_id` in bytes.
    pub convo_id_len: usize,
    /// A JSON object of properties (nested values kept).
    pub properties_json: *const c_char,
    /// Length of `properties_json` in bytes.
    pub properties_json_len: usize,
    /// A JSON array of attachments.
    pub attachments_json: *const c_char,
    /// Length of `attachments_json` in bytes.
    pub attachments_json_len: usize,
}

/// A signal (user feedback on an event) for `rd_track_signal`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_signal {
    /// Required: the event the signal is about (an id of at most RD_MAX_EVENT_ID_BYTES).
    pub event_id: *const c_char,
    /// Length of `event_id` in bytes.
    pub event_id_len: usize,
    /// Required: e.g. "thumbs_up" (not empty; cut to RD_MAX_NAME_BYTES).
    pub name: *const c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// "default" (when NULL), "feedback" or "edit".
    pub signal_type: *const c_char,
    /// Length of `signal_type` in bytes.
    pub signal_type_len: usize,
    /// RFC 3339; default: now.
    pub timestamp: *const c_char,
    /// Length of `timestamp` in bytes.
    pub timestamp_len: usize,
    /// A JSON object of properties.
    pub properties_json: *const c_char,
    /// Length of `properties_json` in bytes.
    pub properties_json_len: usize,
    /// The id of an attachment of the event that the signal is about (an id of at most
    /// RD_MAX_ID_BYTES).
    pub attachment_id: *const c_char,
    /// Length of `attachment_id` in bytes.
    pub attachment_id_len: usize,
    /// Required for "feedback"; sent as properties.comment.
    pub comment: *const c_char,
    /// Length of `comment` in bytes.
    pub comment_len: usize,
    /// Required for "edit"; sent as properties.after.
    pub after: *const c_char,
    /// Length of `after` in bytes.
    pub after_len: usize,
    /// "POSITIVE" or "NEGATIVE".
    pub sentiment: *const c_char,
    /// Length of `sentiment` in bytes.
    pub sentiment_len: usize,
}

use crate::process::CLIENTS;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The one panic boundary: runs `body`, reports its error through `err_out` and the
/// thread-local last error, and never lets a panic unwind into C.
fn boundary(err_out: *mut rd_error, body: impl FnOnce() -> Result<(), Error>) -> rd_result {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return rd_result::RD_OK,
        Ok(Err(error)) => error,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Error::new(rd_result::RD_ERR_INTERNAL, format!("internal error (please report): {why}"))
        }
    };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|last| *last.borrow_mut() = error.message.clone());
        // Safety: the caller passes NULL or a valid, writable rd_error.
        if let Some(out) = unsafe { err_out.as_mut() } {
            out.code = error.code;
            let mut buffer = [0u8; RD_ERROR_MESSAGE_LEN];
            copy_message(&error.message, &mut buffer);
            for (dst, src) in out.message.iter_mut().zip(buffer) {
                *dst = src as c_char;
            }
        }
    }));
    error.code
}

/// An optional string argument, capped at `max_chars` characters. Cap first: only the bytes
/// the cap can keep are checked and repaired, so the cost follows the cap, not `len` (issue 13
/// #2). Safety: `ptr` is NULL or valid for `len` bytes.
unsafe fn optional<'a>(ptr: *const c_char, len: usize, max_chars: usize) -> Option<Cow<'a, str>> {
    if ptr.is_null() {
        return None;
    }
    let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    Some(text::repair_capped(bytes, max_chars))
}

/// An optional name, id, timestamp or enum value: its first SHORT_CHARS characters, unmarked,
/// for the argument rules (`args`) to cut or refuse. Safety: as `optional`.
unsafe fn short<'a>(ptr: *const c_char, len: usize) -> Option<Cow<'a, str>> {
    if ptr.is_null() {
        return None;
    }
    let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    Some(text::repair_prefix(bytes, SHORT_CHARS))
}

/// An optional text field, owned and capped at `max_chars`.
unsafe fn capped(ptr: *const c_char, len: usize, max_chars: usize) -> Option<String> {
    optional(ptr, len, max_chars).map(Cow::into_owned)
}

/// Like `capped`, as shared text (an event and its span keep one copy).
unsafe fn capped_text(ptr: *const c_char, len: usize, max_chars: usize) -> Option<Text> {
    optional(ptr, len, max_chars).map(|t| Text::from(t.as_ref()))
}

/// An optional JSON argument: refused above RD_MAX_JSON_BYTES before a byte of it is read.
unsafe fn json_text<'a>(ptr: *const c_char, len: usize, name: &str) -> Result<Option<Cow<'a, str>>, Error> {
    if !ptr.is_null() && len > RD_MAX_JSON_BYTES {
        return Err(Error::invalid(
            name,
            format!("{len} bytes, over the limit of {RD_MAX_JSON_BYTES} bytes for a JSON argument (RD_MAX_JSON_BYTES)"),
        ));
    }
    Ok(optional(ptr, len, usize::MAX))
}

/// A required struct argument. Safety: `ptr` is NULL or points to a valid `T`.
unsafe fn required_struct<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    ptr.as_ref().ok_or_else(|| Error::null(name))
}

fn client(handle: rd_client) -> Result<Arc<Client>, Error> {
    let clients = CLIENTS.read().unwrap_or_else(|p| p.into_inner());
    clients.get(handle.id).cloned().ok_or_else(|| Error::handle("client"))
}

fn timeout(ms: i64) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn check_event_id_buffer(out: *mut c_char, out_len: usize) -> Result<(), Error> {
    if !out.is_null() && out_len < RD_EVENT_ID_BUF_LEN {
        return Err(Error::invalid("event_id_out_len", "must be at least RD_EVENT_ID_BUF_LEN (257)"));
    }
    Ok(())
}

/// Safety: `out` is NULL or valid for RD_EVENT_ID_BUF_LEN bytes (checked by the caller).
unsafe fn write_event_id(out: *mut c_char, id: &str) {
    if out.is_null() {
        return;
    }
    let bytes = &id.as_bytes()[..id.len().min(RD_MAX_EVENT_ID_BYTES)];
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len());
    *out.add(bytes.len()) = 0;
}

unsafe fn timestamp_argument(ptr: *const c_char, len: usize, name: &str) -> Result<Option<Timestamp>, Error> {
    short(ptr, len).map(|t| Timestamp::given(name, &t)).transpose()
}

unsafe fn object_argument(
    ptr: *const c_char,
    len: usize,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>, Error> {
    json_text(ptr, len, name)?.map(|json| event::object_argument(name, &json, max_chars)).transpose()
}

unsafe fn attachments_argument(
    ptr: *const c_char,
    len: usize,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>, Error> {
    json_text(ptr, len, name)?.map(|json| event::attachments_argument(name, &json, max_chars)).transpose()
}

/// The library version, e.g. "0.1.0". The string is static: never free it.
/// Thread-safe; cannot fail.
#[no_mangle]
pub extern "C" fn rd_version() -> *const c_char {
    static VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}

/// Copies the message of the last error on the calling thread into `buf` (NUL-terminated,
/// truncated to `buf_len`) and returns its full length in bytes (0: no error yet).
/// `buf` is borrowed for the duration of the call and may be NULL (then only the length is
/// returned). A C convenience: Go and other runtimes that move between threads use `err_out`.
#[no_mangle]
pub unsafe extern "C" fn rd_last_error_message(buf: *mut c_char, buf_len: usize) -> usize {
    catch_unwind(|| {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            if !buf.is_null() && buf_len > 0 {
                // Safety: the caller passes a buffer valid for buf_len bytes.
                let out = std::slice::from_raw_parts_mut(buf.cast::<u8>(), buf_len);
                copy_message(&last, out);
            }
            last.len()
        })
    })
    .unwrap_or(0)
}

/// The name of a result code, e.g. "RD_ERR_QUEUE_FULL"; "RD_ERR_UNKNOWN" for a value that is no
/// code. The string is static and NUL-terminated: never free it. Takes an `int32_t` so that any
/// value is defined. Thread-safe; cannot fail.
#[no_mangle]
pub extern "C" fn rd_result_name(code: i32) -> *const c_char {
    let name: &'static CStr = match rd_result::from_code(code) {
        Some(code) => code.name(),
        None => c"RD_ERR_UNKNOWN",
    };
    name.as_ptr()
}

/// A C log callback as the core's log sink.
struct CLogger {
    log: unsafe extern "C" fn(*mut c_void, rd_log_level, *const c_char, usize),
    user_data: *mut c_void,
}

// SAFETY: rd_logger's documentation makes the caller promise that `log` may be called from any
// thread with `user_data` until rd_shutdown returns, which Logger::detach guarantees.
unsafe impl Send for CLogger {}
unsafe impl Sync for CLogger {}

impl CLogger {
    fn write(&self, level: crate::log::Level, message: &str) {
        let level = match level {
            crate::log::Level::Debug => rd_log_level::RD_LOG_DEBUG,
            crate::log::Level::Warn => rd_log_level::RD_LOG_WARN,
            crate::log::Level::Error => rd_log_level::RD_LOG_ERROR,
        };
        // NUL-terminated for C callers that ignore the length; an inner NUL cannot occur in our
        // messages' own text and is harmless in a caller's (the length is exact).
        let mut line = Vec::with_capacity(message.len() + 1);
        line.extend_from_slice(message.as_bytes());
        line.push(0);
        // SAFETY: `log` and `user_data` come from the caller's rd_logger (see the impl above);
        // the line is valid for message.len() + 1 bytes during the call.
        unsafe { (self.log)(self.user_data, level, line.as_ptr().cast(), message.len()) };
    }
}

/// Creates a client from configuration JSON (see docs/c-api.md for every key; NULL or empty
/// means all defaults). `api_key` falls back to `RAINDROP_WRITE_KEY` and `endpoint` to
/// `RAINDROP_ENDPOINT`; with no key at all telemetry is disabled (one warning) and every call
/// still succeeds. Starts one background sender thread.
///
/// `config_json` is borrowed for the duration of the call. `logger` may be NULL (log lines go
/// to stderr); its fields are copied, see `rd_logger` for how long `user_data` must live. On
/// success `*client_out` holds the new handle; release it with `rd_shutdown`. Thread-safe.
/// Errors: RD_ERR_NULL_ARGUMENT (client_out), RD_ERR_INVALID_CONFIG, RD_ERR_INTERNAL.
#[no_mangle]
pub unsafe extern "C" fn rd_new(
    config_json: *const c_char,
    config_json_len: usize,
    logger: *const rd_logger,
    client_out: *mut rd_client,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out, || {
        let out = client_out.as_mut().ok_or_else(|| Error::null("client_out"))?;
        let json = optional(config_json, config_json_len, usize::MAX);
        let config = crate::config::parse(json.as_deref(), |name| std::env::var(name).ok())?;
        crate::process::install();
        let sink = logger.as_ref().and_then(|l| l.log.map(|log| CLogger { log, user_data: l.user_data }));
        let sink = sink.map(|c| Box::new(move |level, message: &str| c.write(level, message)) as crate::log::LogSink);
        let client = Client::new(config, sink)?;
        let handle = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).insert(client);
        *out = rd_client { id: handle };
        Ok(())
    })
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
    boundary(err_out, || {
        let client = self::client(client)?;
        let max_chars = client.config().max_text_field_chars;
        let name = args::required_name("module_name", short(module_name, module_name_len).as_deref())?;
        let out = call_out.as_mut().ok_or_else(|| Error::null("call_out"))?;
        check_event_id_buffer(event_id_out, event_id_out_len)?;
        // Options with every field NULL are no options (a binding may always pass its struct).
        let options = options.as_ref().filter(|o| {
            !(o.event_id.is_null() && o.user_id.is_null() && o.convo_id.is_null() && o.event_name.is_null())
        });
        let (given_id, context) = match options {
            None => (None, None),
            Some(o) => (
                args::event_id("options.event_id", short(o.event_id, o.event_id_len).as_deref())?,
                Some(CallContext {
                    user_id: args::id("options.user_id", short(o.user_id, o.user_id_len).as_deref())?,
                    convo_id: args::id("options.convo_id", short(o.convo_id, o.convo_id_len).as_deref())?,
                    event_name: args::name(
                        "options.event_name",
                        short(o.event_name, o.event_name_len).as_deref(),
                        MAX_NAME_BYTES,
                        true,
                    )?,
                }),
            ),
        };
        let (handle, id) = client.wrap_begin(
            parent.id,
            name,
            capped_text(input, input_len, max_chars),
            given_id.as_deref(),
            context,
        )?;
        *out = rd_call { id: handle };
        write_event_id(event_id_out, &id);
        Ok(())
    })
}

/// Copies an `rd_call_result` into owned, checked values. Safety: every pointer in `result` is
/// NULL or valid for its length.
unsafe fn call_result(result: *const rd_call_result, max_chars: usize) -> Result<CallResult, Error> {
    let Some(r) = result.as_ref() else { return Ok(CallResult::default()) };
    let tokens = |n: i64| (n >= 0).then_some(n);
    Ok(CallResult {
        output: capped_text(r.output, r.output_len, max_chars),
        model: args::name("result.model", short(r.model, r.model_len).as_deref(), MAX_NAME_BYTES, false)?,
        prompt_tokens: tokens(r.prompt_tokens),
        completion_tokens: tokens(r.completion_tokens),
        finish_reason: args::name(
            "result.finish_reason",
            short(r.finish_reason, r.finish_reason_len).as_deref(),
            MAX_FINISH_REASON_BYTES,
            false,
        )?,
        error_type: args::name(
            "result.error_type",
            short(r.error_type, r.error_type_len).as_deref(),
            MAX_NAME_BYTES,
            false,
        )?,
        error_message: capped(r.error_message, r.error_message_len, max_chars),
        properties_json: object_argument(
            r.properties_json,
            r.properties_json_len,
            "result.properties_json",
            max_chars,
        )?,
        user_id: args::id("result.user_id", short(r.user_id, r.user_id_len).as_deref())?,
        convo_id: args::id("result.convo_id", short(r.convo_id, r.convo_id_len).as_deref())?,
        event_name: args::name(
            "result.event_name",
            short(r.event_name, r.event_name_len).as_deref(),
            MAX_NAME_BYTES,
            true,
        )?,
        timestamp: timestamp_argument(r.timestamp, r.timestamp_len, "result.timestamp")?,
        attachments_json: attachments_argument(
            r.attachments_json,
            r.attachments_json_len,
            "result.attachments_json",
            max_chars,
        )?,
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
    boundary(err_out, || end(client, call, "call", result))
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
    boundary(err_out, || {
        let client = self::client(client)?;
        // An integer, not the enum type, in the signature: a C caller may pass any value.
        let kind = span_kind(kind)?;
        let name = args::required_name("name", short(name, name_len).as_deref())?;
        let out = span_out.as_mut().ok_or_else(|| Error::null("span_out"))?;
        let max_chars = client.config().max_text_field_chars;
        let (handle, _) = client.span_begin(parent.id, kind, name, capped_text(input, input_len, max_chars))?;
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
    boundary(err_out, || end(client, span, "span", result))
}

/// `rd_wrap_end` and `rd_span_end`: `argument` names the handle in an error.
unsafe fn end(client: rd_client, call: rd_call, argument: &str, result: *const rd_call_result) -> Result<(), Error> {
    let client = self::client(client)?;
    let result = call_result(result, client.config().max_text_field_chars)?;
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
    boundary(err_out, || {
        let client = self::client(client)?;
        let kind = span_kind(kind)?;
        let name = args::required_name("name", short(name, name_len).as_deref())?;
        let max_chars = client.config().max_text_field_chars;
        let input = capped_text(input, input_len, max_chars);
        let result = call_result(result, max_chars)?;
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

unsafe fn event_args(client: &Client, event: &rd_event, with_ai: bool) -> Result<EventArgs, Error> {
    let max_chars = client.config().max_text_field_chars;
    let ai_given = [event.input, event.output, event.model, event.convo_id].iter().any(|p| !p.is_null());
    if ai_given && !with_ai {
        return Err(Error::invalid("event", "rd_track takes no input, output, model or convo_id: use rd_track_ai"));
    }
    let user_id = args::id("event.user_id", short(event.user_id, event.user_id_len).as_deref())?;
    let name = args::name("event.event", short(event.event, event.event_len).as_deref(), MAX_NAME_BYTES, true)?;
    if name.is_none() && !with_ai {
        // A plain event is its name and properties: without a name it would go out as an empty
        // `ai_generation` event.
        return Err(Error::null("event.event"));
    }
    Ok(EventArgs {
        event_id: args::event_id("event.event_id", short(event.event_id, event.event_id_len).as_deref())?,
        user_id,
        event: name,
        timestamp: timestamp_argument(event.timestamp, event.timestamp_len, "event.timestamp")?,
        ai: with_ai
            .then(|| -> Result<AiData, Error> {
                Ok(AiData {
                    model: args::name(
                        "event.model",
                        short(event.model, event.model_len).as_deref(),
                        MAX_NAME_BYTES,
                        false,
                    )?,
                    input: capped_text(event.input, event.input_len, max_chars),
                    output: capped_text(event.output, event.output_len, max_chars),
                    convo_id: args::id("event.convo_id", short(event.convo_id, event.convo_id_len).as_deref())?,
                })
            })
            .transpose()?,
        properties_json: object_argument(
            event.properties_json,
            event.properties_json_len,
            "event.properties_json",
            max_chars,
        )?,
        attachments_json: attachments_argument(
            event.attachments_json,
            event.attachments_json_len,
            "event.attachments_json",
            max_chars,
        )?,
    })
}

unsafe fn track_common(
    client: rd_client,
    event: *const rd_event,
    event_id_out: *mut c_char,
    event_id_out_len: usize,
    err_out: *mut rd_error,
    with_ai: bool,
) -> rd_result {
    boundary(err_out, || {
        let client = self::client(client)?;
        let event = required_struct(event, "event")?;
        check_event_id_buffer(event_id_out, event_id_out_len)?;
        let args = event_args(&client, event, with_ai)?;
        if with_ai
            && args.ai.as_ref().is_some_and(|ai| {
                ai.input.as_deref().is_none_or(str::is_empty) && ai.output.as_deref().is_none_or(str::is_empty)
            })
        {
            return Err(Error::invalid("event", "an AI event needs an input or an output"));
        }
        let id = client.track(args)?;
        write_event_id(event_id_out, &id);
        Ok(())
    })
}

/// Enqueues one complete AI event (`ai_data` with input, output, model, convo_id; at least one
/// of input / output). `event` and its strings are borrowed for the duration of the call. On
/// success the event id is written NUL-terminated to `event_id_out` when non-NULL
/// (`event_id_out_len` at least RD_EVENT_ID_BUF_LEN). Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_NULL_ARGUMENT (event), RD_ERR_INVALID_ARGUMENT,
/// RD_ERR_INVALID_JSON, RD_ERR_INVALID_TIMESTAMP, RD_ERR_QUEUE_FULL.
#[no_mangle]
pub unsafe extern "C" fn rd_track_ai(
    client: rd_client,
    event: *const rd_event,
    event_id_out: *mut c_char,
    event_id_out_len: usize,
    err_out: *mut rd_error,
) -> rd_result {
    track_common(client, event, event_id_out, event_id_out_len, err_out, true)
}

/// Enqueues one plain event (no `ai_data`; the AI fields of `event` must be NULL): its name,
/// `event.event`, is required. Ownership, output and thread-safety as `rd_track_ai`.
/// Errors: as `rd_track_ai`; RD_ERR_NULL_ARGUMENT (event.event).
#[no_mangle]
pub unsafe extern "C" fn rd_track(
    client: rd_client,
    event: *const rd_event,
    event_id_out: *mut c_char,
    event_id_out_len: usize,
    err_out: *mut rd_error,
) -> rd_result {
    track_common(client, event, event_id_out, event_id_out_len, err_out, false)
}

/// Enqueues user traits for `users/identify`. `user_id` is required and non-empty;
/// `traits_json` is an optional JSON object. Both are borrowed for the duration of the call.
/// Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_NULL_ARGUMENT (user_id), RD_ERR_INVALID_ARGUMENT
/// (empty user_id), RD_ERR_INVALID_JSON (traits_json), RD_ERR_QUEUE_FULL.
#[no_mangle]
pub unsafe extern "C" fn rd_identify(
    client: rd_client,
    user_id: *const c_char,
    user_id_len: usize,
    traits_json: *const c_char,
    traits_json_len: usize,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out, || {
        let client = self::client(client)?;
        let user_id = args::required_id("user_id", short(user_id, user_id_len).as_deref())?;
        let max_chars = client.config().max_text_field_chars;
        let traits_json = object_argument(traits_json, traits_json_len, "traits_json", max_chars)?;
        client.identify(Identify { user_id, traits_json })
    })
}

/// Enqueues a signal (feedback on an event) for `signals/track`. `signal` and its strings are
/// borrowed for the duration of the call. `comment` and `after` are sent under `properties`.
/// Never blocks on I/O. Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_NULL_ARGUMENT (signal, event_id, name),
/// RD_ERR_INVALID_ARGUMENT (empty event_id / name, feedback without comment, edit without after),
/// RD_ERR_INVALID_SIGNAL_TYPE, RD_ERR_INVALID_SENTIMENT, RD_ERR_INVALID_TIMESTAMP,
/// RD_ERR_INVALID_JSON (properties_json), RD_ERR_QUEUE_FULL.
#[no_mangle]
pub unsafe extern "C" fn rd_track_signal(
    client: rd_client,
    signal: *const rd_signal,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out, || {
        let client = self::client(client)?;
        let s = required_struct(signal, "signal")?;
        let max_chars = client.config().max_text_field_chars;
        let signal = Signal {
            event_id: args::required_event_id("signal.event_id", short(s.event_id, s.event_id_len).as_deref())?,
            name: args::required_name("signal.name", short(s.name, s.name_len).as_deref())?,
            signal_type: SignalType::parse(short(s.signal_type, s.signal_type_len).as_deref())?,
            timestamp: timestamp_argument(s.timestamp, s.timestamp_len, "signal.timestamp")?
                .unwrap_or_else(Timestamp::now),
            sentiment: parse_sentiment(short(s.sentiment, s.sentiment_len).as_deref())?,
            attachment_id: args::id("signal.attachment_id", short(s.attachment_id, s.attachment_id_len).as_deref())?,
            properties_json: object_argument(
                s.properties_json,
                s.properties_json_len,
                "signal.properties_json",
                max_chars,
            )?,
            comment: capped(s.comment, s.comment_len, max_chars),
            after: capped(s.after, s.after_len, max_chars),
        };
        client.track_signal(signal)
    })
}

/// Blocks until everything queued before this call was delivered or dropped (drops show in
/// `rd_get_stats`, not as an error), or until `timeout_ms` (negative: `flush_timeout_ms`).
/// Never sends anything twice. Thread-safe; may block, so not for the hot path.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_TIMEOUT (delivery goes on in the background).
#[no_mangle]
pub unsafe extern "C" fn rd_flush(client: rd_client, timeout_ms: i64, err_out: *mut rd_error) -> rd_result {
    boundary(err_out, || self::client(client)?.flush(timeout(timeout_ms)))
}

/// Drains the queue within `timeout_ms` (negative: `shutdown_timeout_ms`, 10 s by default),
/// stops the sender thread and frees the handle: later calls with it give
/// RD_ERR_INVALID_HANDLE, so calling it twice is harmless. Returns by the deadline whatever the
/// sink does; what could not be delivered by then is dropped, or, with `spool_dir`, left in the
/// spool for the next client (`spool_pending`), not dropped. Once it returns, the client's log
/// callback is never called again. Thread-safe.
///
/// `stats_out` may be NULL; when the handle was live it receives the client's final statistics
/// (caller-owned), on success and on RD_ERR_ITEMS_DROPPED or RD_ERR_TIMEOUT alike: the only way
/// to read them after the handle is freed. RD_OK means nothing queued was dropped while draining.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_ITEMS_DROPPED (drained, but items were dropped on the
/// way), RD_ERR_TIMEOUT (the deadline came first: what was left is counted in dropped_shutdown,
/// or stays in the spool with `spool_dir`).
/// The handle is freed in every case but RD_ERR_INVALID_HANDLE.
#[no_mangle]
pub unsafe extern "C" fn rd_shutdown(
    client: rd_client,
    timeout_ms: i64,
    stats_out: *mut rd_stats,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out, || {
        let removed = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).remove(client.id);
        let client = removed.ok_or_else(|| Error::handle("client"))?;
        let (outcome, stats) = client.shutdown(timeout(timeout_ms));
        if let Some(out) = stats_out.as_mut() {
            *out = stats;
        }
        outcome
    })
}

/// Copies the client's delivery statistics into `*stats_out` (caller-owned). Thread-safe.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_NULL_ARGUMENT (stats_out).
#[no_mangle]
pub unsafe extern "C" fn rd_get_stats(
    client: rd_client,
    stats_out: *mut rd_stats,
    err_out: *mut rd_error,
) -> rd_result {
    boundary(err_out, || {
        let client = self::client(client)?;
        let out = stats_out.as_mut().ok_or_else(|| Error::null("stats_out"))?;
        *out = client.stats();
        Ok(())
    })
}
