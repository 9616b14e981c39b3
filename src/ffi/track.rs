//! One-shot items: AI and plain events, user traits, signals.

use super::{
    attachments_argument, boundary, capped, capped_text, check_event_id_buffer, live_client, object_argument,
    rd_client, rd_error, rd_result, required_struct, short, timestamp_argument, write_event_id,
};
use crate::args;
use crate::client::Client;
use crate::error::Error;
use crate::event::AiArgs;
use crate::event::{EventArgs, MoreArgs};
use crate::identify::Identify;
use crate::signal::{parse_sentiment, Signal, SignalType};
use crate::text::RawText;
use crate::time::Timestamp;
use std::ffi::c_char;

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

/// Copies an `rd_event` into owned, checked values (`with_ai`: for `rd_track_ai`).
///
/// # Safety
/// The event's pointers are NULL or valid for their lengths.
unsafe fn event_args(client: &Client, event: &rd_event, with_ai: bool) -> Result<EventArgs, Error> {
    let max_chars = client.config().max_text_field_chars;
    let ai_given = [event.input, event.output, event.model, event.convo_id].iter().any(|p| !p.is_null());
    if ai_given && !with_ai {
        return Err(Error::invalid("event", "rd_track takes no input, output, model or convo_id: use rd_track_ai"));
    }
    // The common AI event is an input, an output and a model: with every other field NULL, their
    // checks (and the plumbing of seven absent values) are skipped.
    let rare = [
        event.event_id,
        event.user_id,
        event.event,
        event.timestamp,
        event.convo_id,
        event.properties_json,
        event.attachments_json,
    ];
    let ai_args = || -> Result<AiArgs, Error> {
        Ok(AiArgs {
            model: args::label("event.model", short(arg!(event.model, event.model_len)).as_deref())?,
            input: capped_text(arg!(event.input, event.input_len), max_chars),
            output: capped_text(arg!(event.output, event.output_len), max_chars),
        })
    };
    if with_ai && rare.iter().all(|p| p.is_null()) {
        return Ok(EventArgs { ai: Some(ai_args()?), more: None });
    }
    let user_id = args::id("event.user_id", short(arg!(event.user_id, event.user_id_len)).as_deref())?;
    let name = args::event_name("event.event", short(arg!(event.event, event.event_len)).as_deref())?;
    if name.is_none() && !with_ai {
        // A plain event is its name and properties: without a name it would go out as an empty
        // `ai_generation` event.
        return Err(Error::null("event.event"));
    }
    let event_id = args::event_id("event.event_id", short(arg!(event.event_id, event.event_id_len)).as_deref())?;
    let timestamp = timestamp_argument(arg!(event.timestamp, event.timestamp_len), "event.timestamp")?;
    let ai = with_ai.then(ai_args).transpose()?;
    // NULL for `rd_track` (refused above otherwise).
    let convo_id = args::id("event.convo_id", short(arg!(event.convo_id, event.convo_id_len)).as_deref())?;
    Ok(EventArgs {
        ai,
        more: Some(Box::new(MoreArgs {
            event_id,
            convo_id,
            user_id,
            event: name,
            timestamp,
            properties_json: object_argument(
                arg!(event.properties_json, event.properties_json_len),
                "event.properties_json",
                max_chars,
            )?,
            attachments_json: attachments_argument(
                arg!(event.attachments_json, event.attachments_json_len),
                "event.attachments_json",
                max_chars,
            )?,
        })),
    })
}

/// `rd_track_ai` and `rd_track`.
///
/// # Safety
/// Their contract: `event` NULL or a valid rd_event whose pointers are NULL or valid for their
/// lengths, `event_id_out` NULL or valid for `event_id_out_len` bytes, `err_out` NULL or valid.
unsafe fn track_common(
    client: rd_client,
    event: *const rd_event,
    event_id_out: *mut c_char,
    event_id_out_len: usize,
    err_out: *mut rd_error,
    with_ai: bool,
) -> rd_result {
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        // SAFETY: `event` is NULL or points to a valid rd_event (the contract).
        let event = unsafe { required_struct(event, "event") }?;
        check_event_id_buffer(event_id_out, event_id_out_len)?;
        // SAFETY: the event's pointers are NULL or valid for their lengths (the contract).
        let args = unsafe { event_args(&client, event, with_ai) }?;
        if with_ai
            && args.ai.as_ref().is_some_and(|ai| {
                ai.input.as_ref().is_none_or(RawText::is_empty) && ai.output.as_ref().is_none_or(RawText::is_empty)
            })
        {
            return Err(Error::invalid("event", "an AI event needs an input or an output"));
        }
        let id = client.track(args)?;
        // A new UUID is formatted only when the caller asks for it.
        if !event_id_out.is_null() {
            // SAFETY: `event_id_out` is valid for `event_id_out_len` bytes (the contract), at
            // least RD_EVENT_ID_BUF_LEN (check_event_id_buffer above).
            unsafe { write_event_id(event_id_out, &id.text()) };
        }
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
    // SAFETY: this function's contract is track_common's.
    unsafe { track_common(client, event, event_id_out, event_id_out_len, err_out, true) }
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
    // SAFETY: this function's contract is track_common's.
    unsafe { track_common(client, event, event_id_out, event_id_out_len, err_out, false) }
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
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        let user_id = args::required_id("user_id", short(arg!(user_id, user_id_len)).as_deref())?;
        let max_chars = client.config().max_text_field_chars;
        let traits_json = object_argument(arg!(traits_json, traits_json_len), "traits_json", max_chars)?;
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
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        // SAFETY: `signal` is NULL or points to a valid rd_signal (the contract).
        let s = unsafe { required_struct(signal, "signal") }?;
        let max_chars = client.config().max_text_field_chars;
        let signal = Signal {
            event_id: args::required_event_id("signal.event_id", short(arg!(s.event_id, s.event_id_len)).as_deref())?,
            name: args::required_name("signal.name", short(arg!(s.name, s.name_len)).as_deref())?,
            signal_type: SignalType::parse(short(arg!(s.signal_type, s.signal_type_len)).as_deref())?,
            timestamp: timestamp_argument(arg!(s.timestamp, s.timestamp_len), "signal.timestamp")?
                .unwrap_or_else(Timestamp::now),
            sentiment: parse_sentiment(short(arg!(s.sentiment, s.sentiment_len)).as_deref())?,
            attachment_id: args::id(
                "signal.attachment_id",
                short(arg!(s.attachment_id, s.attachment_id_len)).as_deref(),
            )?,
            properties_json: object_argument(
                arg!(s.properties_json, s.properties_json_len),
                "signal.properties_json",
                max_chars,
            )?,
            comment: capped(arg!(s.comment, s.comment_len), max_chars),
            after: capped(arg!(s.after, s.after_len), max_chars),
        };
        client.track_signal(signal)
    })
}
