//! Issue 13 #2: a call's cost follows the caps, not the raw input. A text argument is read only
//! as far as its cap can keep; a JSON argument over RD_MAX_JSON_BYTES is refused before it is
//! read. Shown without timing: each argument is a 256 MB mapping of which only the first pages
//! are readable, so reading further faults (the test process dies) where the whole input used to
//! be checked and repaired before it was capped. `cargo run --release --example bench_big_args`
//! measures the cost.

use raindrop_dspy::*;
use std::ffi::c_char;
use std::ptr;

const CLAIMED: usize = 256 << 20;
const PAGE: usize = 4096;

/// `CLAIMED` bytes of address space, only the first `readable` (rounded up to a page) mapped.
struct Guarded {
    base: *mut u8,
}

impl Guarded {
    fn new(readable: usize, fill: impl Fn(&mut [u8])) -> Guarded {
        let readable = readable.div_ceil(PAGE) * PAGE;
        // Safety: a fresh anonymous mapping; only its readable head is written.
        unsafe {
            let base = libc::mmap(
                ptr::null_mut(),
                CLAIMED,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            assert_eq!(libc::mprotect(base, readable, libc::PROT_READ | libc::PROT_WRITE), 0);
            fill(std::slice::from_raw_parts_mut(base.cast::<u8>(), readable));
            Guarded { base: base.cast() }
        }
    }
    /// The argument: the whole claimed length.
    fn arg(&self) -> (*const c_char, usize) {
        (self.base.cast_const().cast(), CLAIMED)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // Safety: the mapping made in `new`.
        unsafe { libc::munmap(self.base.cast(), CLAIMED) };
    }
}

/// Text of `readable` bytes: ASCII with a 4-byte character across every page boundary (no
/// help from alignment), and with `invalid`, one invalid byte early (the repair path).
fn text(readable: usize, invalid: bool) -> Guarded {
    Guarded::new(readable, |bytes| {
        bytes.fill(b'x');
        if invalid {
            bytes[3] = 0xff;
        }
        for at in (PAGE - 2..bytes.len().saturating_sub(4)).step_by(PAGE) {
            bytes[at..at + 4].copy_from_slice("😀".as_bytes());
        }
    })
}

fn new_error() -> rd_error {
    rd_error { code: rd_result::RD_OK, message: [0; RD_ERROR_MESSAGE_LEN] }
}

fn message(err: &rd_error) -> String {
    // Safety: the library NUL-terminates the message.
    unsafe { std::ffi::CStr::from_ptr(err.message.as_ptr()) }.to_string_lossy().into_owned()
}

fn client(max_chars: usize) -> rd_client {
    let config = format!(
        r#"{{"endpoint": "file:///dev/null", "api_key": "k", "max_text_field_chars": {max_chars}, "flush_interval_ms": 600000}}"#
    );
    let mut client = rd_client::default();
    let mut err = new_error();
    // Safety: config is borrowed for the call.
    let code = unsafe { rd_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut client, &mut err) };
    assert_eq!(code, rd_result::RD_OK, "{}", message(&err));
    client
}

fn shutdown(client: rd_client) {
    let mut stats = rd_stats::default();
    // Safety: stats is valid for the call.
    let code = unsafe { rd_shutdown(client, 10_000, &mut stats, ptr::null_mut()) };
    assert_eq!(code, rd_result::RD_OK);
}

fn empty_event() -> rd_event {
    // Safety: rd_event is pointers and lengths; all NULL / 0 is "every field absent".
    unsafe { std::mem::zeroed() }
}

fn empty_result() -> rd_call_result {
    // Safety: as empty_event; tokens are set to unknown below.
    let mut result: rd_call_result = unsafe { std::mem::zeroed() };
    result.prompt_tokens = RD_TOKENS_UNKNOWN;
    result.completion_tokens = RD_TOKENS_UNKNOWN;
    result
}

/// Every text argument of every hot-path call, 256 MB long (ids too long are refused, names cut), with the default cap (1,000,000
/// characters: 4 MB readable) and a small one.
#[test]
fn text_arguments_are_read_only_as_far_as_the_cap() {
    for (max_chars, invalid) in [(1_000_000, true), (1_000_000, false), (1_000, true), (1_000, false)] {
        let client = client(max_chars);
        // 4 bytes per kept character at most, plus the cut character: the library's window.
        let long = text(4 * (max_chars + 2), invalid);
        let (p, n) = long.arg();
        // Names, ids and enums are capped at 1,024 characters or less.
        let short = text(4 * (1024 + 2), invalid);
        let (sp, sn) = short.arg();
        let mut err = new_error();
        unsafe {
            let mut event = empty_event();
            (event.input, event.input_len, event.output, event.output_len) = (p, n, p, n);
            // Names are cut (src/args.rs).
            (event.model, event.model_len, event.event, event.event_len) = (sp, sn, sp, sn);
            let code = rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_track_ai: {}", message(&err));

            // Over-long ids are refused, without reading them through.
            for id in 0..3 {
                let mut bad = empty_event();
                (bad.input, bad.input_len) = (p, n);
                match id {
                    0 => (bad.event_id, bad.event_id_len) = (sp, sn),
                    1 => (bad.user_id, bad.user_id_len) = (sp, sn),
                    _ => (bad.convo_id, bad.convo_id_len) = (sp, sn),
                }
                let code = rd_track_ai(client, &bad, ptr::null_mut(), 0, &mut err);
                assert_eq!(code, rd_result::RD_ERR_INVALID_ARGUMENT, "id {id}: {}", message(&err));
            }
            let mut bad = empty_event();
            (bad.input, bad.input_len, bad.timestamp, bad.timestamp_len) = (p, n, sp, sn);
            let code = rd_track_ai(client, &bad, ptr::null_mut(), 0, &mut err);
            assert_eq!(code, rd_result::RD_ERR_INVALID_TIMESTAMP, "timestamp: {}", message(&err));

            let mut call = rd_call::default();
            let code = rd_wrap_begin(
                client,
                rd_call::default(),
                sp,
                sn,
                p,
                n,
                ptr::null(),
                &mut call,
                ptr::null_mut(),
                0,
                &mut err,
            );
            assert_eq!(code, rd_result::RD_OK, "rd_wrap_begin: {}", message(&err));
            let mut span = rd_call::default();
            let code = rd_span_begin(client, call, rd_span_kind::RD_SPAN_LM as i32, sp, sn, p, n, &mut span, &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_span_begin: {}", message(&err));
            let mut result = empty_result();
            (result.output, result.output_len, result.error_message, result.error_message_len) = (p, n, p, n);
            (result.model, result.model_len, result.finish_reason, result.finish_reason_len) = (sp, sn, sp, sn);
            (result.error_type, result.error_type_len, result.event_name, result.event_name_len) = (sp, sn, sp, sn);
            let mut bad = empty_result();
            (bad.user_id, bad.user_id_len) = (sp, sn);
            assert_eq!(rd_span_end(client, span, &bad, &mut err), rd_result::RD_ERR_INVALID_ARGUMENT);
            let mut bad = empty_result();
            (bad.convo_id, bad.convo_id_len) = (sp, sn);
            assert_eq!(rd_span_end(client, span, &bad, &mut err), rd_result::RD_ERR_INVALID_ARGUMENT);
            let code = rd_span_end(client, span, &result, &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_span_end: {}", message(&err));
            let code =
                rd_span_record(client, call, rd_span_kind::RD_SPAN_TOOL as i32, sp, sn, p, n, 1, 2, &result, &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_span_record: {}", message(&err));
            let code = rd_wrap_end(client, call, &result, &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_wrap_end: {}", message(&err));

            let code = rd_identify(client, sp, sn, ptr::null(), 0, &mut err);
            assert_eq!(code, rd_result::RD_ERR_INVALID_ARGUMENT, "rd_identify: {}", message(&err));

            let (feedback, edit) = ("feedback", "edit");
            let signal = |signal_type: &str| rd_signal {
                event_id: c"e-1".as_ptr(),
                event_id_len: 3,
                name: sp,
                name_len: sn,
                signal_type: signal_type.as_ptr().cast(),
                signal_type_len: signal_type.len(),
                timestamp: ptr::null(),
                timestamp_len: 0,
                properties_json: ptr::null(),
                properties_json_len: 0,
                attachment_id: ptr::null(),
                attachment_id_len: 0,
                comment: p,
                comment_len: n,
                after: p,
                after_len: n,
                sentiment: ptr::null(),
                sentiment_len: 0,
            };
            let code = rd_track_signal(client, &signal(feedback), &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_track_signal: {}", message(&err));
            let code = rd_track_signal(client, &signal(edit), &mut err);
            assert_eq!(code, rd_result::RD_OK, "rd_track_signal: {}", message(&err));
            let mut bad = signal(feedback);
            (bad.signal_type, bad.signal_type_len) = (sp, sn);
            assert_eq!(rd_track_signal(client, &bad, &mut err), rd_result::RD_ERR_INVALID_SIGNAL_TYPE);
            let mut bad = signal(feedback);
            (bad.sentiment, bad.sentiment_len) = (sp, sn);
            assert_eq!(rd_track_signal(client, &bad, &mut err), rd_result::RD_ERR_INVALID_SENTIMENT);
            let mut bad = signal(feedback);
            (bad.event_id, bad.event_id_len) = (sp, sn);
            assert_eq!(rd_track_signal(client, &bad, &mut err), rd_result::RD_ERR_INVALID_ARGUMENT);
            let mut bad = signal(feedback);
            (bad.attachment_id, bad.attachment_id_len) = (sp, sn);
            assert_eq!(rd_track_signal(client, &bad, &mut err), rd_result::RD_ERR_INVALID_ARGUMENT);
        }
        shutdown(client);
    }
}

/// A JSON argument over RD_MAX_JSON_BYTES is refused, naming the argument and the limit,
/// without being read; one at the limit is taken.
#[test]
fn json_arguments_over_the_byte_limit_are_refused_unread() {
    let client = client(1_000_000);
    let json = Guarded::new(PAGE, |bytes| {
        bytes.fill(b' ');
        bytes[0] = b'{';
    });
    let (p, n) = json.arg();
    let mut err = new_error();
    let check = |code: rd_result, err: &rd_error, argument: &str| {
        assert_eq!(code, rd_result::RD_ERR_INVALID_ARGUMENT, "{argument}: {}", message(err));
        let text = message(err);
        assert!(text.contains(argument), "names {argument}: {text}");
        assert!(text.contains(&RD_MAX_JSON_BYTES.to_string()), "states the limit: {text}");
    };
    unsafe {
        let mut event = empty_event();
        event.input = c"q".as_ptr();
        event.input_len = 1;
        (event.properties_json, event.properties_json_len) = (p, n);
        check(rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err), &err, "event.properties_json");
        let mut event = empty_event();
        event.input = c"q".as_ptr();
        event.input_len = 1;
        (event.attachments_json, event.attachments_json_len) = (p, n);
        check(rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err), &err, "event.attachments_json");
        check(rd_identify(client, c"u".as_ptr(), 1, p, n, &mut err), &err, "traits_json");

        let mut call = rd_call::default();
        let code = rd_wrap_begin(
            client,
            rd_call::default(),
            c"m".as_ptr(),
            1,
            ptr::null(),
            0,
            ptr::null(),
            &mut call,
            ptr::null_mut(),
            0,
            &mut err,
        );
        assert_eq!(code, rd_result::RD_OK);
        let mut result = empty_result();
        (result.properties_json, result.properties_json_len) = (p, n);
        check(rd_wrap_end(client, call, &result, &mut err), &err, "result.properties_json");
        let mut result = empty_result();
        (result.attachments_json, result.attachments_json_len) = (p, n);
        check(rd_wrap_end(client, call, &result, &mut err), &err, "result.attachments_json");
        assert_eq!(rd_wrap_end(client, call, ptr::null(), &mut err), rd_result::RD_OK, "the call stays open to end");

        let signal = rd_signal {
            event_id: c"e-1".as_ptr(),
            event_id_len: 3,
            name: c"thumbs_up".as_ptr(),
            name_len: 9,
            signal_type: ptr::null(),
            signal_type_len: 0,
            timestamp: ptr::null(),
            timestamp_len: 0,
            properties_json: p,
            properties_json_len: n,
            attachment_id: ptr::null(),
            attachment_id_len: 0,
            comment: ptr::null(),
            comment_len: 0,
            after: ptr::null(),
            after_len: 0,
            sentiment: ptr::null(),
            sentiment_len: 0,
        };
        check(rd_track_signal(client, &signal, &mut err), &err, "signal.properties_json");

        // At the limit exactly: taken (and shrunk to fit an event, as ever).
        let mut at_limit = vec![b' '; RD_MAX_JSON_BYTES];
        let body = format!(r#"{{"big": "{}"}}"#, "p".repeat(RD_MAX_JSON_BYTES - 20));
        at_limit[..body.len()].copy_from_slice(body.as_bytes());
        let mut event = empty_event();
        event.input = c"q".as_ptr();
        event.input_len = 1;
        (event.properties_json, event.properties_json_len) = (at_limit.as_ptr().cast(), at_limit.len());
        let code = rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err);
        assert_eq!(code, rd_result::RD_OK, "{}", message(&err));
        at_limit.push(b' ');
        (event.properties_json, event.properties_json_len) = (at_limit.as_ptr().cast(), at_limit.len());
        check(rd_track_ai(client, &event, ptr::null_mut(), 0, &mut err), &err, "event.properties_json");
    }
    shutdown(client);
}

/// The configuration JSON has the same byte limit: longer, `rd_new` refuses it unread, as a
/// configuration error that states the limit.
#[test]
fn config_json_over_the_byte_limit_is_refused_unread() {
    let json = Guarded::new(PAGE, |bytes| {
        bytes.fill(b' ');
        bytes[0] = b'{';
    });
    let (p, n) = json.arg();
    let mut err = new_error();
    let mut handle = rd_client::default();
    let code = unsafe { rd_new(p, n, ptr::null(), &mut handle, &mut err) };
    assert_eq!(code, rd_result::RD_ERR_INVALID_CONFIG, "{}", message(&err));
    let text = message(&err);
    assert!(text.contains("configuration JSON") && text.contains(&RD_MAX_JSON_BYTES.to_string()), "{text}");
}
