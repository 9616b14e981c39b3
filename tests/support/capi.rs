//! Thin, safe-ish wrappers around the crate's exported C ABI (`rd_*`).
//!
//! Every call goes through the real `extern "C"` functions with `#[repr(C)]` structs and raw
//! pointer + length strings, exactly as a C caller would. Owned byte buffers (`Vec<u8>`) let the
//! tests pass invalid UTF-8 or strings without NUL terminators.

use super::Sink;
use raindrop_dspy::*;
use serde_json::{json, Value};
use std::os::raw::c_char;
use std::ptr;

// Result codes from docs/c-api.md, as plain integers so tests compare with `code()`.
pub const OK: i32 = 0;
pub const ERR_INVALID_HANDLE: i32 = 1;
pub const ERR_NULL_ARGUMENT: i32 = 2;
pub const ERR_INVALID_JSON: i32 = 3;
pub const ERR_INVALID_ARGUMENT: i32 = 4;
pub const ERR_INVALID_SIGNAL_TYPE: i32 = 5;
pub const ERR_INVALID_SENTIMENT: i32 = 6;
pub const ERR_INVALID_TIMESTAMP: i32 = 7;
pub const ERR_INVALID_CONFIG: i32 = 8;
pub const ERR_QUEUE_FULL: i32 = 9;
pub const ERR_TIMEOUT: i32 = 10;
pub const ERR_TOO_MANY_OPEN_CALLS: i32 = 11;
pub const ERR_ITEMS_DROPPED: i32 = 12;
pub const ERR_INTERNAL: i32 = 99;

pub const SPAN_MODULE: rd_span_kind = rd_span_kind::RD_SPAN_MODULE;
pub const SPAN_LM: rd_span_kind = rd_span_kind::RD_SPAN_LM;
pub const SPAN_TOOL: rd_span_kind = rd_span_kind::RD_SPAN_TOOL;

pub const TRUNC_MARKER: &str = "...[truncated by raindrop]";

pub fn code(r: rd_result) -> i32 {
    r as i32
}

/// A failed call: its code plus the message from the `err_out` struct.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub code: i32,
    pub message: String,
}

pub fn new_err() -> rd_error {
    // SAFETY: rd_error is a plain C struct; all-zero is a valid value (code RD_OK, empty message).
    unsafe { std::mem::zeroed() }
}

fn err_message(e: &rd_error) -> String {
    let bytes: Vec<u8> = e.message.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Turn a result code + filled `rd_error` into Result, checking the struct is consistent.
pub fn check(r: rd_result, e: &rd_error) -> Result<(), CallError> {
    let c = code(r);
    if c == OK {
        return Ok(());
    }
    let message = err_message(e);
    assert_eq!(code(e.code), c, "err_out.code must equal the returned code (message: {message})");
    Err(CallError { code: c, message })
}

/// Thread-local last error message (C convenience).
pub fn last_error_message() -> String {
    let mut buf = vec![0 as c_char; 1024];
    let n = unsafe { rd_last_error_message(buf.as_mut_ptr(), buf.len()) };
    let bytes: Vec<u8> = buf.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    assert!(n >= bytes.len(), "rd_last_error_message returned {n} < copied {}", bytes.len());
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn version() -> String {
    let p = rd_version();
    assert!(!p.is_null());
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn opt(s: &Option<Vec<u8>>) -> (*const c_char, usize) {
    match s {
        Some(v) => (v.as_ptr() as *const c_char, v.len()),
        None => (ptr::null(), 0),
    }
}

fn b(s: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    Some(s.as_ref().to_vec())
}

fn id_from_buf(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8(bytes).expect("event id out is UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Argument builders (owned bytes; `to_c()` borrows them for the duration of one call).

/// Fields of `rd_event` (used by rd_track_ai and rd_track).
#[derive(Default, Clone, Debug)]
pub struct Ev {
    pub event_id: Option<Vec<u8>>,
    pub user_id: Option<Vec<u8>>,
    pub event: Option<Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub input: Option<Vec<u8>>,
    pub output: Option<Vec<u8>>,
    pub model: Option<Vec<u8>>,
    pub convo_id: Option<Vec<u8>>,
    pub properties_json: Option<Vec<u8>>,
    pub attachments_json: Option<Vec<u8>>,
}

impl Ev {
    pub fn new() -> Ev {
        Ev::default()
    }
    /// A typical AI event: user, input, output, model.
    pub fn ai(input: &str, output: &str) -> Ev {
        Ev::new().user_id("u-1").input(input).output(output).model("test-model")
    }
    pub fn event_id(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.event_id = b(v);
        self
    }
    pub fn user_id(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.user_id = b(v);
        self
    }
    pub fn event(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.event = b(v);
        self
    }
    pub fn timestamp(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.timestamp = b(v);
        self
    }
    pub fn input(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.input = b(v);
        self
    }
    pub fn output(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.output = b(v);
        self
    }
    pub fn model(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.model = b(v);
        self
    }
    pub fn convo_id(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.convo_id = b(v);
        self
    }
    pub fn properties(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.properties_json = b(v);
        self
    }
    pub fn props(self, v: &Value) -> Ev {
        self.properties(v.to_string())
    }
    pub fn attachments(mut self, v: impl AsRef<[u8]>) -> Ev {
        self.attachments_json = b(v);
        self
    }

    pub fn to_c(&self) -> rd_event {
        let (event_id, event_id_len) = opt(&self.event_id);
        let (user_id, user_id_len) = opt(&self.user_id);
        let (event, event_len) = opt(&self.event);
        let (timestamp, timestamp_len) = opt(&self.timestamp);
        let (input, input_len) = opt(&self.input);
        let (output, output_len) = opt(&self.output);
        let (model, model_len) = opt(&self.model);
        let (convo_id, convo_id_len) = opt(&self.convo_id);
        let (properties_json, properties_json_len) = opt(&self.properties_json);
        let (attachments_json, attachments_json_len) = opt(&self.attachments_json);
        rd_event {
            event_id,
            event_id_len,
            user_id,
            user_id_len,
            event,
            event_len,
            timestamp,
            timestamp_len,
            input,
            input_len,
            output,
            output_len,
            model,
            model_len,
            convo_id,
            convo_id_len,
            properties_json,
            properties_json_len,
            attachments_json,
            attachments_json_len,
        }
    }
}

/// Fields of `rd_signal`.
#[derive(Default, Clone, Debug)]
pub struct Sig {
    pub event_id: Option<Vec<u8>>,
    pub name: Option<Vec<u8>>,
    pub signal_type: Option<Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub properties_json: Option<Vec<u8>>,
    pub attachment_id: Option<Vec<u8>>,
    pub comment: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
    pub sentiment: Option<Vec<u8>>,
}

impl Sig {
    pub fn new(event_id: &str, name: &str) -> Sig {
        Sig { event_id: b(event_id), name: b(name), ..Default::default() }
    }
    pub fn event_id_opt(mut self, v: Option<&str>) -> Sig {
        self.event_id = v.map(|s| s.as_bytes().to_vec());
        self
    }
    pub fn name_opt(mut self, v: Option<&str>) -> Sig {
        self.name = v.map(|s| s.as_bytes().to_vec());
        self
    }
    pub fn signal_type(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.signal_type = b(v);
        self
    }
    pub fn timestamp(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.timestamp = b(v);
        self
    }
    pub fn properties(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.properties_json = b(v);
        self
    }
    pub fn attachment_id(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.attachment_id = b(v);
        self
    }
    pub fn comment(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.comment = b(v);
        self
    }
    pub fn after(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.after = b(v);
        self
    }
    pub fn sentiment(mut self, v: impl AsRef<[u8]>) -> Sig {
        self.sentiment = b(v);
        self
    }

    pub fn to_c(&self) -> rd_signal {
        let (event_id, event_id_len) = opt(&self.event_id);
        let (name, name_len) = opt(&self.name);
        let (signal_type, signal_type_len) = opt(&self.signal_type);
        let (timestamp, timestamp_len) = opt(&self.timestamp);
        let (properties_json, properties_json_len) = opt(&self.properties_json);
        let (attachment_id, attachment_id_len) = opt(&self.attachment_id);
        let (comment, comment_len) = opt(&self.comment);
        let (after, after_len) = opt(&self.after);
        let (sentiment, sentiment_len) = opt(&self.sentiment);
        rd_signal {
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
        }
    }
}

/// Fields of `rd_call_result` (for rd_wrap_end / rd_span_end). Tokens default to unknown (-1).
#[derive(Clone, Debug)]
pub struct CallRes {
    pub output: Option<Vec<u8>>,
    pub model: Option<Vec<u8>>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub finish_reason: Option<Vec<u8>>,
    pub error_type: Option<Vec<u8>>,
    pub error_message: Option<Vec<u8>>,
    pub properties_json: Option<Vec<u8>>,
    pub user_id: Option<Vec<u8>>,
    pub convo_id: Option<Vec<u8>>,
    pub event_name: Option<Vec<u8>>,
    pub timestamp: Option<Vec<u8>>,
    pub attachments_json: Option<Vec<u8>>,
}

impl Default for CallRes {
    fn default() -> Self {
        CallRes {
            output: None,
            model: None,
            prompt_tokens: -1,
            completion_tokens: -1,
            finish_reason: None,
            error_type: None,
            error_message: None,
            properties_json: None,
            user_id: None,
            convo_id: None,
            event_name: None,
            timestamp: None,
            attachments_json: None,
        }
    }
}

impl CallRes {
    pub fn new() -> CallRes {
        CallRes::default()
    }
    pub fn output(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.output = b(v);
        self
    }
    pub fn model(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.model = b(v);
        self
    }
    pub fn tokens(mut self, prompt: i64, completion: i64) -> CallRes {
        self.prompt_tokens = prompt;
        self.completion_tokens = completion;
        self
    }
    pub fn finish_reason(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.finish_reason = b(v);
        self
    }
    pub fn error(mut self, ty: &str, msg: &str) -> CallRes {
        self.error_type = b(ty);
        self.error_message = b(msg);
        self
    }
    pub fn properties(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.properties_json = b(v);
        self
    }
    pub fn user_id(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.user_id = b(v);
        self
    }
    pub fn convo_id(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.convo_id = b(v);
        self
    }
    pub fn event_name(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.event_name = b(v);
        self
    }
    pub fn timestamp(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.timestamp = b(v);
        self
    }
    pub fn attachments(mut self, v: impl AsRef<[u8]>) -> CallRes {
        self.attachments_json = b(v);
        self
    }

    pub fn to_c(&self) -> rd_call_result {
        let (output, output_len) = opt(&self.output);
        let (model, model_len) = opt(&self.model);
        let (finish_reason, finish_reason_len) = opt(&self.finish_reason);
        let (error_type, error_type_len) = opt(&self.error_type);
        let (error_message, error_message_len) = opt(&self.error_message);
        let (properties_json, properties_json_len) = opt(&self.properties_json);
        let (user_id, user_id_len) = opt(&self.user_id);
        let (convo_id, convo_id_len) = opt(&self.convo_id);
        let (event_name, event_name_len) = opt(&self.event_name);
        let (timestamp, timestamp_len) = opt(&self.timestamp);
        let (attachments_json, attachments_json_len) = opt(&self.attachments_json);
        rd_call_result {
            output,
            output_len,
            model,
            model_len,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            finish_reason,
            finish_reason_len,
            error_type,
            error_type_len,
            error_message,
            error_message_len,
            properties_json,
            properties_json_len,
            user_id,
            user_id_len,
            convo_id,
            convo_id_len,
            event_name,
            event_name_len,
            timestamp,
            timestamp_len,
            attachments_json,
            attachments_json_len,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration.

/// A test config pointing at `sink` with small knobs; `extra` keys override / add.
pub fn config(sink: &Sink, extra: Value) -> String {
    config_for(&sink.url(), extra)
}

pub fn config_for(endpoint: &str, extra: Value) -> String {
    let mut cfg = json!({
        "api_key": "test-key-123",
        "endpoint": endpoint,
        "flush_interval_ms": 50,
        "retry_initial_backoff_ms": 20,
        "retry_max_backoff_ms": 200,
        "request_timeout_ms": 3000,
        "connect_timeout_ms": 1000,
        "shutdown_timeout_ms": 3000,
        "flush_timeout_ms": 10000,
    });
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            cfg[k] = v;
        }
    }
    cfg.to_string()
}

// ---------------------------------------------------------------------------------------------
// The client.

/// An `rd_client` handle. Dropping an owned client shuts it down (short timeout, result ignored).
pub struct Client {
    pub h: u64,
    owned: bool,
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.owned {
            unsafe { rd_shutdown(self.handle(), 1000, ptr::null_mut(), ptr::null_mut()) };
        }
    }
}

pub fn new_client(cfg: &str) -> Result<Client, CallError> {
    let mut h = rd_client::default();
    let mut e = new_err();
    let r = unsafe { rd_new(cfg.as_ptr() as *const c_char, cfg.len(), ptr::null(), &mut h, &mut e) };
    check(r, &e)?;
    assert_ne!(h.id, 0, "rd_new returned handle 0");
    Ok(Client { h: h.id, owned: true })
}

/// A client for `sink` with the default small test knobs plus `extra`.
pub fn client(sink: &Sink, extra: Value) -> Client {
    new_client(&config(sink, extra)).expect("rd_new")
}

impl Client {
    /// A handle value not created by rd_new (made-up / stale), never shut down on drop.
    pub fn raw(h: u64) -> Client {
        Client { h, owned: false }
    }
    /// The handle as the C ABI takes it.
    pub fn handle(&self) -> rd_client {
        rd_client { id: self.h }
    }
    /// Stop shutting this handle down on drop (after an explicit rd_shutdown).
    pub fn disown(&mut self) {
        self.owned = false;
    }

    pub fn track_ai(&self, ev: &Ev) -> Result<String, CallError> {
        let c = ev.to_c();
        let mut buf = vec![0 as c_char; RD_EVENT_ID_BUF_LEN];
        let mut e = new_err();
        let r = unsafe { rd_track_ai(self.handle(), &c, buf.as_mut_ptr(), buf.len(), &mut e) };
        check(r, &e)?;
        Ok(id_from_buf(&buf))
    }
    pub fn track(&self, ev: &Ev) -> Result<String, CallError> {
        let c = ev.to_c();
        let mut buf = vec![0 as c_char; RD_EVENT_ID_BUF_LEN];
        let mut e = new_err();
        let r = unsafe { rd_track(self.handle(), &c, buf.as_mut_ptr(), buf.len(), &mut e) };
        check(r, &e)?;
        Ok(id_from_buf(&buf))
    }
    pub fn identify(&self, user_id: Option<&[u8]>, traits: Option<&[u8]>) -> Result<(), CallError> {
        let (u, ul) = user_id.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let (t, tl) = traits.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let mut e = new_err();
        let r = unsafe { rd_identify(self.handle(), u, ul, t, tl, &mut e) };
        check(r, &e)
    }
    pub fn signal(&self, s: &Sig) -> Result<(), CallError> {
        let c = s.to_c();
        let mut e = new_err();
        let r = unsafe { rd_track_signal(self.handle(), &c, &mut e) };
        check(r, &e)
    }
    pub fn flush(&self, timeout_ms: i64) -> Result<(), CallError> {
        let mut e = new_err();
        let r = unsafe { rd_flush(self.handle(), timeout_ms, &mut e) };
        check(r, &e)
    }
    /// rd_shutdown; afterwards the handle is not shut down again on drop.
    pub fn shutdown(&mut self, timeout_ms: i64) -> Result<(), CallError> {
        self.shutdown_with_stats(timeout_ms).0
    }
    /// rd_shutdown with its final statistics (all zero when none were written).
    pub fn shutdown_with_stats(&mut self, timeout_ms: i64) -> (Result<(), CallError>, rd_stats) {
        let mut stats = rd_stats::default();
        let mut e = new_err();
        let r = unsafe { rd_shutdown(self.handle(), timeout_ms, &mut stats, &mut e) };
        self.owned = false;
        (check(r, &e), stats)
    }
    pub fn stats(&self) -> Result<rd_stats, CallError> {
        // SAFETY: rd_stats is plain integers.
        let mut s: rd_stats = unsafe { std::mem::zeroed() };
        let mut e = new_err();
        let r = unsafe { rd_get_stats(self.handle(), &mut s, &mut e) };
        check(r, &e)?;
        Ok(s)
    }
    /// Poll stats until `pred` holds (or timeout); returns the last stats seen.
    pub fn wait_stats<F: Fn(&rd_stats) -> bool>(&self, timeout: std::time::Duration, pred: F) -> rd_stats {
        let end = std::time::Instant::now() + timeout;
        loop {
            let s = self.stats().expect("rd_get_stats");
            if pred(&s) || std::time::Instant::now() >= end {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// rd_wrap_begin: returns (call handle, event id).
    pub fn wrap_begin(
        &self,
        parent: u64,
        module: Option<&str>,
        input: Option<&[u8]>,
        event_id: Option<&str>,
    ) -> Result<(u64, String), CallError> {
        let options = event_id.map(|id| Opts::new().event_id(id));
        self.wrap_begin_with(parent, module, input, options.as_ref())
    }
    /// rd_wrap_begin with per-call options: returns (call handle, event id).
    pub fn wrap_begin_with(
        &self,
        parent: u64,
        module: Option<&str>,
        input: Option<&[u8]>,
        options: Option<&Opts>,
    ) -> Result<(u64, String), CallError> {
        let (m, ml) = module.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let (i, il) = input.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let options = options.map(Opts::to_c);
        let o = options.as_ref().map_or(ptr::null(), |o| o as *const rd_call_options);
        let mut call = rd_call::default();
        let mut buf = vec![0 as c_char; RD_EVENT_ID_BUF_LEN];
        let mut e = new_err();
        let r = unsafe {
            rd_wrap_begin(
                self.handle(),
                call_of(parent),
                m,
                ml,
                i,
                il,
                o,
                &mut call,
                buf.as_mut_ptr(),
                buf.len(),
                &mut e,
            )
        };
        check(r, &e)?;
        assert_ne!(call.id, 0, "rd_wrap_begin returned call handle 0");
        Ok((call.id, id_from_buf(&buf)))
    }
    pub fn wrap_end(&self, call: u64, res: Option<&CallRes>) -> Result<(), CallError> {
        let c = res.map(|r| r.to_c());
        let p = c.as_ref().map(|c| c as *const rd_call_result).unwrap_or(ptr::null());
        let mut e = new_err();
        let r = unsafe { rd_wrap_end(self.handle(), call_of(call), p, &mut e) };
        check(r, &e)
    }
    pub fn span_begin(
        &self,
        parent: u64,
        kind: rd_span_kind,
        name: &str,
        input: Option<&[u8]>,
    ) -> Result<u64, CallError> {
        let (i, il) = input.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let mut span = rd_call::default();
        let mut e = new_err();
        let r = unsafe {
            rd_span_begin(
                self.handle(),
                call_of(parent),
                kind as i32,
                name.as_ptr() as *const c_char,
                name.len(),
                i,
                il,
                &mut span,
                &mut e,
            )
        };
        check(r, &e)?;
        Ok(span.id)
    }
    /// rd_span_record: a span that already happened, with the caller's start and end times.
    #[allow(clippy::too_many_arguments)] // the C function's arguments, one to one
    pub fn span_record(
        &self,
        parent: u64,
        kind: rd_span_kind,
        name: &str,
        input: Option<&[u8]>,
        start_ns: u64,
        end_ns: u64,
        res: Option<&CallRes>,
    ) -> Result<(), CallError> {
        let (i, il) = input.map(|s| (s.as_ptr() as *const c_char, s.len())).unwrap_or((ptr::null(), 0));
        let c = res.map(|r| r.to_c());
        let p = c.as_ref().map(|c| c as *const rd_call_result).unwrap_or(ptr::null());
        let mut e = new_err();
        let r = unsafe {
            rd_span_record(
                self.handle(),
                call_of(parent),
                kind as i32,
                name.as_ptr() as *const c_char,
                name.len(),
                i,
                il,
                start_ns,
                end_ns,
                p,
                &mut e,
            )
        };
        check(r, &e)
    }
    pub fn span_end(&self, span: u64, res: Option<&CallRes>) -> Result<(), CallError> {
        let c = res.map(|r| r.to_c());
        let p = c.as_ref().map(|c| c as *const rd_call_result).unwrap_or(ptr::null());
        let mut e = new_err();
        let r = unsafe { rd_span_end(self.handle(), call_of(span), p, &mut e) };
        check(r, &e)
    }
}

/// A call handle from the tests' plain id.
pub fn call_of(id: u64) -> rd_call {
    rd_call { id }
}

/// Fields of `rd_call_options` (for a top-level rd_wrap_begin).
#[derive(Default, Clone, Debug)]
pub struct Opts {
    pub event_id: Option<Vec<u8>>,
    pub user_id: Option<Vec<u8>>,
    pub convo_id: Option<Vec<u8>>,
    pub event_name: Option<Vec<u8>>,
}

impl Opts {
    pub fn new() -> Opts {
        Opts::default()
    }
    pub fn event_id(mut self, v: impl AsRef<[u8]>) -> Opts {
        self.event_id = b(v);
        self
    }
    pub fn user_id(mut self, v: impl AsRef<[u8]>) -> Opts {
        self.user_id = b(v);
        self
    }
    pub fn convo_id(mut self, v: impl AsRef<[u8]>) -> Opts {
        self.convo_id = b(v);
        self
    }
    pub fn event_name(mut self, v: impl AsRef<[u8]>) -> Opts {
        self.event_name = b(v);
        self
    }
    pub fn to_c(&self) -> rd_call_options {
        let (event_id, event_id_len) = opt(&self.event_id);
        let (user_id, user_id_len) = opt(&self.user_id);
        let (convo_id, convo_id_len) = opt(&self.convo_id);
        let (event_name, event_name_len) = opt(&self.event_name);
        rd_call_options {
            event_id,
            event_id_len,
            user_id,
            user_id_len,
            convo_id,
            convo_id_len,
            event_name,
            event_name_len,
        }
    }
}

/// Assert a call failed with `want` and a message naming `arg`.
#[track_caller]
pub fn assert_err<T>(r: Result<T, CallError>, want: i32, arg: &str) {
    match r {
        Ok(_) => panic!("expected error code {want} naming `{arg}`, got Ok"),
        Err(e) => {
            assert_eq!(e.code, want, "wrong code; message: {}", e.message);
            assert!(
                e.message.to_lowercase().contains(&arg.to_lowercase()),
                "error message should name `{arg}`: {:?}",
                e.message
            );
        }
    }
}
