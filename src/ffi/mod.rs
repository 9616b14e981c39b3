//! The C ABI: the only place that touches raw pointers. Every function runs inside one panic
//! boundary, turns its arguments into owned Rust values, and calls the safe core.
//!
//! Conventions for every function in this module and its submodules:
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
//! The crate denies `unsafe_op_in_unsafe_fn` and undocumented unsafe blocks: each unsafe
//! operation sits in its own block under a `// SAFETY:` comment. A string argument becomes an
//! `Arg` through `arg!`, `err_out` a reference through `err_out!` (the two places that rely on
//! that contract for every function); the helpers that read an `Arg` are safe.
//!
//! One file per C concept (cbindgen reads them in the order of the `mod` lines below, which is
//! the order of the header's functions):
//! - `mod.rs` (this file): the panic boundary, the thread's last error, `Arg` and the helpers that
//!   turn a pointer and a length into an owned, capped Rust value; `rd_version`.
//! - `types.rs`: the handles (`rd_client`, `rd_call`) and the limits (`RD_MAX_*`, ...).
//! - `error.rs`: `rd_error`, `rd_last_error_message`, `rd_result_name`.
//! - `client.rs`: a client's life: `rd_logger`, `rd_new`, `rd_flush`, `rd_shutdown`,
//!   `rd_get_stats`.
//! - `call.rs`: wrapped calls and spans: `rd_call_options`, `rd_call_result`, `rd_span_kind`,
//!   `rd_wrap_begin` / `rd_wrap_end`, `rd_span_begin` / `rd_span_end`, `rd_span_record`.
//! - `packed.rs`: `rd_wrap_begin_packed`, `rd_span_record_packed`, `rd_wrap_end_packed`: the hot
//!   path's functions with their arguments in one struct (for bindings that pay per argument).
//! - `track.rs`: one-shot items: `rd_event`, `rd_signal`, `rd_track_ai`, `rd_track`,
//!   `rd_identify`, `rd_track_signal`.
#![allow(clippy::missing_safety_doc)] // stated once above, and in the header's preamble

// The two macros come before the modules so that every module sees them.
/// `Arg::new` for a pointer argument and its length, or a pointer field of a struct argument and
/// its length: every `rd_*` function requires each of them to be NULL or valid for the length
/// given with it for the duration of the call (module docs, header preamble).
macro_rules! arg {
    ($ptr:expr, $len:expr) => {
        // SAFETY: `arg!` is used only on an rd_* function's pointer-and-length pairs, which its
        // contract makes NULL or valid for that length for the duration of the call.
        unsafe { $crate::ffi::Arg::new($ptr, $len) }
    };
}

/// The `err_out` argument of an rd_* function as a reference (None for NULL).
macro_rules! err_out {
    ($ptr:expr) => {
        // SAFETY: every rd_* function requires `err_out` to be NULL or valid for writes of an
        // rd_error for the duration of the call, and nothing else refers to it meanwhile.
        unsafe { $ptr.as_mut() }
    };
}

// In the header's order (cbindgen reads the modules in the order of these lines; rustfmt keeps
// them, one group each).
mod types;

mod error;

mod client;

mod call;

mod packed;

mod messages;

mod track;

pub use call::*;
pub use client::*;
pub use error::*;
pub use messages::*;
pub use packed::*;
pub use track::*;
pub use types::*;

use error::copy_message;

use crate::args;
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::json_bound;
use crate::process::CLIENTS;
use crate::text::{self, RawText};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The one panic boundary: runs `body`, reports its error through `err_out` and the
/// thread-local last error, and never lets a panic unwind into C. Each entry point turns its
/// `err_out` pointer into the reference (`err_out!`).
fn boundary(err_out: Option<&mut rd_error>, body: impl FnOnce() -> Result<(), Error>) -> rd_result {
    // The failing paths are out of line (`fail`, `panic_error`): each entry point's hot code is
    // then only its body and this match, on fewer cache lines.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => rd_result::RD_OK,
        Ok(Err(error)) => fail(err_out, error),
        Err(panic) => fail(err_out, panic_error(panic)),
    }
}

/// The error a panic becomes.
#[cold]
#[inline(never)]
fn panic_error(panic: Box<dyn std::any::Any + Send>) -> Error {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::new(ErrorKind::Internal, format!("internal error (please report): {why}"))
}

/// Reports `error` through `err_out` and the thread's last error; returns its code.
#[cold]
#[inline(never)]
fn fail(err_out: Option<&mut rd_error>, error: Error) -> rd_result {
    let code = rd_result::from(error.kind);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|last| *last.borrow_mut() = error.message.clone());
        if let Some(out) = err_out {
            out.code = code;
            let mut buffer = [0u8; RD_ERROR_MESSAGE_LEN];
            copy_message(&error.message, &mut buffer);
            for (dst, src) in out.message.iter_mut().zip(buffer) {
                *dst = src as c_char;
            }
        }
    }));
    code
}

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

/// A string argument as C passed it: a pointer and its length. Made only by `Arg::new` (through
/// `arg!`), whose caller promises that the pointer is NULL or valid for `len` bytes for `'a`; so
/// reading it is safe, and a length is checked before a byte is read.
#[derive(Clone, Copy)]
struct Arg<'a> {
    ptr: *const c_char,
    len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> Arg<'a> {
    /// # Safety
    /// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
    unsafe fn new(ptr: *const c_char, len: usize) -> Self {
        Arg { ptr, len, _borrow: PhantomData }
    }

    /// The bytes, or None for NULL.
    fn bytes(self) -> Option<&'a [u8]> {
        if self.ptr.is_null() {
            return None;
        }
        if self.len == 0 {
            return Some(&[]);
        }
        // SAFETY: not NULL, so valid for `len` bytes for `'a` (`Arg::new`'s contract).
        Some(unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) })
    }
}

/// An optional string argument, capped at `max_chars` characters. Cap first: only the bytes
/// the cap can keep are checked and repaired, so the cost follows the cap, not `len` (issue 13
/// #2).
fn optional(arg: Arg<'_>, max_chars: usize) -> Option<Cow<'_, str>> {
    arg.bytes().map(|bytes| text::repair_capped(bytes, max_chars))
}

/// An optional name, id, timestamp or enum value: its first SHORT_CHARS characters, unmarked,
/// for the argument rules (`args`) to cut or refuse.
fn short(arg: Arg<'_>) -> Option<Cow<'_, str>> {
    arg.bytes().map(|bytes| text::repair_prefix(bytes, SHORT_CHARS))
}

/// An optional text field, owned and capped at `max_chars`.
fn capped(arg: Arg<'_>, max_chars: usize) -> Option<String> {
    optional(arg, max_chars).map(Cow::into_owned)
}

/// Like `capped`, for the long texts (inputs, outputs): copied as given when the cap cannot
/// cut them, and checked as UTF-8 on the sender thread (`RawText`).
fn capped_text(arg: Arg<'_>, max_chars: usize) -> Option<RawText> {
    arg.bytes().map(|bytes| RawText::capped(bytes, max_chars))
}

/// An optional JSON argument: refused above RD_MAX_JSON_BYTES before a byte of it is read.
fn json_text<'a>(arg: Arg<'a>, name: &str) -> Result<Option<Cow<'a, str>>, Error> {
    if !arg.ptr.is_null() && arg.len > RD_MAX_JSON_BYTES {
        let len = arg.len;
        return Err(Error::invalid(
            name,
            format!("{len} bytes, over the limit of {RD_MAX_JSON_BYTES} bytes for a JSON argument (RD_MAX_JSON_BYTES)"),
        ));
    }
    Ok(optional(arg, usize::MAX))
}

/// A required struct argument.
///
/// # Safety
/// `ptr` is NULL or points to a valid `T` for `'a`.
unsafe fn required_struct<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or valid for `'a` (this function's contract).
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null(name))
}

fn live_client(handle: rd_client) -> Result<Arc<Client>, Error> {
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

/// Writes an event id, NUL-terminated, to `out` unless it is NULL.
///
/// # Safety
/// `out` is NULL or valid for writes of RD_EVENT_ID_BUF_LEN bytes (`check_event_id_buffer`).
unsafe fn write_event_id(out: *mut c_char, id: &str) {
    if out.is_null() {
        return;
    }
    let bytes = &id.as_bytes()[..id.len().min(RD_MAX_EVENT_ID_BYTES)];
    // SAFETY: `out` is valid for RD_EVENT_ID_BUF_LEN = RD_MAX_EVENT_ID_BYTES + 1 bytes and
    // `bytes` holds at most RD_MAX_EVENT_ID_BYTES; a caller's buffer cannot overlap our string.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len()) };
    // SAFETY: `bytes.len()` <= RD_MAX_EVENT_ID_BYTES, inside the same buffer.
    unsafe { *out.add(bytes.len()) = 0 };
}

fn timestamp_argument(arg: Arg<'_>, name: &str) -> Result<Option<Timestamp>, Error> {
    short(arg).map(|t| Timestamp::given(name, &t)).transpose()
}

fn object_argument(arg: Arg<'_>, name: &str, max_chars: usize) -> Result<Option<String>, Error> {
    json_text(arg, name)?.map(|json| json_bound::object_argument(name, &json, max_chars)).transpose()
}

fn attachments_argument(arg: Arg<'_>, name: &str, max_chars: usize) -> Result<Option<String>, Error> {
    json_text(arg, name)?.map(|json| json_bound::attachments_argument(name, &json, max_chars)).transpose()
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
