//! `rd_lm_span_record`: `rd_span_record` of an LM span with its arguments in one struct, for a
//! binding whose foreign calls and own JSON encoding are slow (Python: ctypes converts each
//! argument, and its json module escapes ~30 instructions a character):
//!
//! * the input may be chat messages given as role and content strings: the core writes their
//!   JSON array (`[{"role":"…","content":"…"},…]`, the input the binding would otherwise build);
//! * what stays the same over the calls of one model (span name, model, finish reason,
//!   properties) is a separate struct the binding keeps and points to, not fields it fills on
//!   every call.

use super::{
    boundary, live_client, rd_call, rd_call_result, rd_client, rd_error, rd_result, rd_span_kind, rd_span_record,
};
use crate::error::Error;
use std::ffi::c_char;

/// One chat message: its role and content, UTF-8 (invalid bytes become U+FFFD), borrowed for
/// the duration of the call.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_message {
    /// The role (`system`, `user`, `assistant`...).
    pub role: *const c_char,
    /// Length of `role` in bytes.
    pub role_len: usize,
    /// The content.
    pub content: *const c_char,
    /// Length of `content` in bytes.
    pub content_len: usize,
}

/// What an LM span shares with the other calls of its model: the span name (required) and, as
/// in `rd_call_result`, the model, finish reason and properties (optional, NULL = absent).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_lm_info {
    /// The span name (as `rd_span_record`'s `name`).
    pub name: *const c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// As `rd_call_result.model`.
    pub model: *const c_char,
    /// Length of `model` in bytes.
    pub model_len: usize,
    /// As `rd_call_result.finish_reason`.
    pub finish_reason: *const c_char,
    /// Length of `finish_reason` in bytes.
    pub finish_reason_len: usize,
    /// As `rd_call_result.properties_json`.
    pub properties_json: *const c_char,
    /// Length of `properties_json` in bytes.
    pub properties_json_len: usize,
}

/// The arguments of `rd_lm_span_record`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_lm_span_args {
    /// As `rd_span_record`'s `client`.
    pub client: rd_client,
    /// As `parent`.
    pub parent: rd_call,
    /// Name, model, finish reason and properties (required).
    pub info: *const rd_lm_info,
    /// As `start_unix_nanos`.
    pub start_unix_nanos: u64,
    /// As `end_unix_nanos`.
    pub end_unix_nanos: u64,
    /// As `rd_call_result.prompt_tokens` (negative: unknown).
    pub prompt_tokens: i64,
    /// As `rd_call_result.completion_tokens` (negative: unknown).
    pub completion_tokens: i64,
    /// As `rd_call_result.output`.
    pub output: *const c_char,
    /// Length of `output` in bytes.
    pub output_len: usize,
    /// `messages_len` chat messages, the span's input (NULL when `messages_len` is 0).
    pub messages: *const rd_message,
    /// Number of messages; 0: the input is `input`.
    pub messages_len: usize,
    /// As `rd_span_record`'s `input`, when there are no messages.
    pub input: *const c_char,
    /// Length of `input` in bytes.
    pub input_len: usize,
    /// As `rd_call_result.error_type`.
    pub error_type: *const c_char,
    /// Length of `error_type` in bytes.
    pub error_type_len: usize,
    /// As `rd_call_result.error_message`.
    pub error_message: *const c_char,
    /// Length of `error_message` in bytes.
    pub error_message_len: usize,
}

/// `rd_span_record` of an LM span (`RD_SPAN_LM`) with its arguments in `*args`: name, model,
/// finish reason and properties from `*args->info`; the input is the JSON array of `messages`
/// (each `{"role":…,"content":…}`, strings escaped as JSON, capped like any input at
/// `max_text_field_chars` characters) when `messages_len` > 0, else `input`. `args` and
/// everything it points to are borrowed for the duration of the call. Same errors as
/// `rd_span_record`, and RD_ERR_NULL_ARGUMENT (args, info, messages).
#[no_mangle]
pub unsafe extern "C" fn rd_lm_span_record(args: *const rd_lm_span_args, err_out: *mut rd_error) -> rd_result {
    // SAFETY: `args` is NULL or points to a valid struct, and `info` is NULL or valid (the
    // contract).
    let Some(a) = (unsafe { args.as_ref() }) else { return boundary(err_out!(err_out), || Err(Error::null("args"))) };
    // SAFETY: as above.
    let Some(info) = (unsafe { a.info.as_ref() }) else {
        return boundary(err_out!(err_out), || Err(Error::null("info")));
    };
    let mut json = Vec::new();
    if a.messages_len > 0 {
        let rc = boundary(err_out!(err_out), || {
            if a.messages.is_null() {
                return Err(Error::null("messages"));
            }
            let max_chars = live_client(a.client)?.config().max_text_field_chars;
            // SAFETY: `messages` points to `messages_len` valid rd_message (the contract).
            let messages = unsafe { std::slice::from_raw_parts(a.messages, a.messages_len) };
            messages_json(messages, max_chars, &mut json);
            Ok(())
        });
        if rc != rd_result::RD_OK {
            return rc;
        }
    }
    let (input, input_len) =
        if a.messages_len > 0 { (json.as_ptr().cast(), json.len()) } else { (a.input, a.input_len) };
    let result = rd_call_result {
        output: a.output,
        output_len: a.output_len,
        model: info.model,
        model_len: info.model_len,
        prompt_tokens: a.prompt_tokens,
        completion_tokens: a.completion_tokens,
        finish_reason: info.finish_reason,
        finish_reason_len: info.finish_reason_len,
        error_type: a.error_type,
        error_type_len: a.error_type_len,
        error_message: a.error_message,
        error_message_len: a.error_message_len,
        properties_json: info.properties_json,
        properties_json_len: info.properties_json_len,
        user_id: std::ptr::null(),
        user_id_len: 0,
        convo_id: std::ptr::null(),
        convo_id_len: 0,
        event_name: std::ptr::null(),
        event_name_len: 0,
        timestamp: std::ptr::null(),
        timestamp_len: 0,
        attachments_json: std::ptr::null(),
        attachments_json_len: 0,
    };
    // SAFETY: the fields are rd_span_record's arguments under the same contract; `json` and
    // `result` live until the call returns.
    unsafe {
        rd_span_record(
            a.client,
            a.parent,
            rd_span_kind::RD_SPAN_LM as i32,
            info.name,
            info.name_len,
            input,
            input_len,
            a.start_unix_nanos,
            a.end_unix_nanos,
            &result,
            err_out,
        )
    }
}

/// The JSON array of `messages` into `out`, as bytes: strings are escaped as Python's `json`
/// does (`\"`, `\\`, `\b \f \n \r \t`, other control characters `\u00XX`), every other byte is
/// copied (invalid UTF-8 is repaired on the sender thread, as for any input). The cap is in
/// characters and a character has at most 4 bytes, so no more than `4 * (max_chars + 1)` bytes of
/// a content, nor of the whole array, can be kept: the rest is never read.
fn messages_json(messages: &[rd_message], max_chars: usize, out: &mut Vec<u8>) {
    let budget = max_chars.saturating_add(1).saturating_mul(4);
    out.reserve(messages.iter().fold(2, |n, m| n.saturating_add(m.content_len.min(budget)).saturating_add(32)));
    out.push(b'[');
    for (i, m) in messages.iter().enumerate() {
        if out.len() > budget {
            break; // the cap cuts before this message
        }
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"role\":");
        escaped(arg!(m.role, m.role_len).bytes().unwrap_or_default(), budget, out);
        out.extend_from_slice(b",\"content\":");
        escaped(arg!(m.content, m.content_len).bytes().unwrap_or_default(), budget, out);
        out.push(b'}');
    }
    out.push(b']');
}

/// `text` (at most `budget` bytes of it) as a JSON string: runs of bytes that need no escape are
/// found 16 bytes per step (SSE2) or 8 (elsewhere) and copied whole.
fn escaped(text: &[u8], budget: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let text = &text[..text.len().min(budget)];
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = next_escape(text, start);
        out.extend_from_slice(&text[start..i]);
        let Some(&b) = text.get(i) else { break };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
        start = i + 1;
    }
    out.push(b'"');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the first byte at or after `from` that needs an escape, or `text.len()`.
fn next_escape(text: &[u8], from: usize) -> usize {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of x86_64; each unaligned load reads 16 bytes inside `text`.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let max_control = _mm_set1_epi8(0x1f);
            while i + 16 <= text.len() {
                let v = _mm_loadu_si128(text.as_ptr().add(i).cast::<__m128i>());
                // v <= 0x1f (unsigned) exactly when max(v, 0x1f) == 0x1f
                let control = _mm_cmpeq_epi8(_mm_max_epu8(v, max_control), max_control);
                let hit = _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
                let mask = _mm_movemask_epi8(hit) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    while i + 8 <= text.len() && !word_needs_escape(u64::from_le_bytes(text[i..i + 8].try_into().unwrap_or([0; 8]))) {
        i += 8;
    }
    while i < text.len() && !needs_escape(text[i]) {
        i += 1;
    }
    i
}

/// Whether any of the 8 bytes of `w` needs an escape (a control byte, `"` or `\`): the
/// "has a byte less than n" and "has a zero byte" bit tricks, exact for any (not which) byte.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> rd_message {
        rd_message {
            role: role.as_ptr().cast(),
            role_len: role.len(),
            content: content.as_ptr().cast(),
            content_len: content.len(),
        }
    }

    #[test]
    fn messages_become_the_json_python_writes() {
        let mut out = Vec::new();
        let ms = [msg("system", "Be \"brief\".\n\tok\\"), msg("user", "caf\u{e9} \u{1}\u{1f}\u{7f} \u{8}\u{c}\r")];
        messages_json(&ms, 10_000, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "[{\"role\":\"system\",\"content\":\"Be \\\"brief\\\".\\n\\tok\\\\\"},\
             {\"role\":\"user\",\"content\":\"caf\u{e9} \\u0001\\u001f\u{7f} \\b\\f\\r\"}]"
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed[1]["content"], "caf\u{e9} \u{1}\u{1f}\u{7f} \u{8}\u{c}\r");
        out.clear();
        messages_json(&[], 10, &mut out);
        assert_eq!(out, b"[]");
    }

    #[test]
    fn the_word_test_agrees_with_the_byte_test() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = [b'a'; 8];
                w[pos] = b;
                assert_eq!(word_needs_escape(u64::from_le_bytes(w)), needs_escape(b), "byte {b} at {pos}");
            }
        }
        let text: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for from in 0..text.len() {
            let expected = (from..text.len()).find(|&i| needs_escape(text[i])).unwrap_or(text.len());
            assert_eq!(next_escape(&text, from), expected, "from {from}");
        }
        let plain = [b'a'; 100];
        for from in 0..=plain.len() {
            assert_eq!(next_escape(&plain, from), plain.len());
        }
        let mut out = Vec::new();
        escaped(&text, usize::MAX, &mut out);
        let back: serde_json::Value = serde_json::from_slice(&String::from_utf8_lossy(&out).into_owned().into_bytes())
            .expect("valid JSON once repaired");
        assert_eq!(back.as_str().unwrap(), String::from_utf8_lossy(&text));
    }

    #[test]
    fn only_what_the_cap_can_keep_is_read() {
        let long = "x".repeat(1000);
        let ms = [msg("user", &long), msg("user", &long)];
        let mut out = Vec::new();
        messages_json(&ms, 10, &mut out);
        // 44 bytes of the first content; the second message is past the cap
        assert_eq!(out.len(), "[{\"role\":\"user\",\"content\":\"\"}]".len() + 44);
    }
}
