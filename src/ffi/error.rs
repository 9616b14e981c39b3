//! Errors on the C side: the result codes, the caller-owned `rd_error`, the thread's last error
//! and the codes' names. The core's `ErrorKind` becomes a code here and nowhere else.

use super::LAST_ERROR;
use crate::error::ErrorKind;
use std::ffi::{c_char, CStr};
use std::panic::catch_unwind;

/// Result code of every fallible `rd_*` function. `RD_OK` is zero; every failure has its own code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rd_result {
    /// Success.
    RD_OK = 0,
    /// The handle is unknown, stale, already ended, or its client was shut down.
    RD_ERR_INVALID_HANDLE = 1,
    /// A required pointer argument was NULL.
    RD_ERR_NULL_ARGUMENT = 2,
    /// A JSON argument did not parse, or had the wrong shape (e.g. properties not an object).
    RD_ERR_INVALID_JSON = 3,
    /// Any other bad argument value (an empty required string, an over-long event id, ...).
    RD_ERR_INVALID_ARGUMENT = 4,
    /// A signal type other than `default`, `feedback` or `edit`.
    RD_ERR_INVALID_SIGNAL_TYPE = 5,
    /// A sentiment other than `POSITIVE` or `NEGATIVE`.
    RD_ERR_INVALID_SENTIMENT = 6,
    /// A timestamp that is not RFC 3339.
    RD_ERR_INVALID_TIMESTAMP = 7,
    /// An unknown configuration key, or a configuration value of the wrong type.
    RD_ERR_INVALID_CONFIG = 8,
    /// The queue is full: the item was dropped and counted in the statistics.
    RD_ERR_QUEUE_FULL = 9,
    /// The flush or shutdown timeout elapsed before the queue drained.
    RD_ERR_TIMEOUT = 10,
    /// Too many calls or spans are begun and not ended, or they hold too many bytes (see
    /// `max_open_calls` and `max_open_call_bytes`); counted in `calls_refused`.
    RD_ERR_TOO_MANY_OPEN_CALLS = 11,
    /// `rd_shutdown` drained the queue, but some items were dropped on the way (rejected, past
    /// the retry budget or the deadline): the counts are in its `stats_out`.
    RD_ERR_ITEMS_DROPPED = 12,
    /// A bug in the library (a panic caught at the boundary).
    RD_ERR_INTERNAL = 99,
}

impl rd_result {
    const ALL: [rd_result; 14] = [
        rd_result::RD_OK,
        rd_result::RD_ERR_INVALID_HANDLE,
        rd_result::RD_ERR_NULL_ARGUMENT,
        rd_result::RD_ERR_INVALID_JSON,
        rd_result::RD_ERR_INVALID_ARGUMENT,
        rd_result::RD_ERR_INVALID_SIGNAL_TYPE,
        rd_result::RD_ERR_INVALID_SENTIMENT,
        rd_result::RD_ERR_INVALID_TIMESTAMP,
        rd_result::RD_ERR_INVALID_CONFIG,
        rd_result::RD_ERR_QUEUE_FULL,
        rd_result::RD_ERR_TIMEOUT,
        rd_result::RD_ERR_TOO_MANY_OPEN_CALLS,
        rd_result::RD_ERR_ITEMS_DROPPED,
        rd_result::RD_ERR_INTERNAL,
    ];

    /// The code with this value, if any.
    pub fn from_code(code: i32) -> Option<rd_result> {
        Self::ALL.into_iter().find(|c| *c as i32 == code)
    }

    /// The code's name as in the header.
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            rd_result::RD_OK => c"RD_OK",
            rd_result::RD_ERR_INVALID_HANDLE => c"RD_ERR_INVALID_HANDLE",
            rd_result::RD_ERR_NULL_ARGUMENT => c"RD_ERR_NULL_ARGUMENT",
            rd_result::RD_ERR_INVALID_JSON => c"RD_ERR_INVALID_JSON",
            rd_result::RD_ERR_INVALID_ARGUMENT => c"RD_ERR_INVALID_ARGUMENT",
            rd_result::RD_ERR_INVALID_SIGNAL_TYPE => c"RD_ERR_INVALID_SIGNAL_TYPE",
            rd_result::RD_ERR_INVALID_SENTIMENT => c"RD_ERR_INVALID_SENTIMENT",
            rd_result::RD_ERR_INVALID_TIMESTAMP => c"RD_ERR_INVALID_TIMESTAMP",
            rd_result::RD_ERR_INVALID_CONFIG => c"RD_ERR_INVALID_CONFIG",
            rd_result::RD_ERR_QUEUE_FULL => c"RD_ERR_QUEUE_FULL",
            rd_result::RD_ERR_TIMEOUT => c"RD_ERR_TIMEOUT",
            rd_result::RD_ERR_TOO_MANY_OPEN_CALLS => c"RD_ERR_TOO_MANY_OPEN_CALLS",
            rd_result::RD_ERR_ITEMS_DROPPED => c"RD_ERR_ITEMS_DROPPED",
            rd_result::RD_ERR_INTERNAL => c"RD_ERR_INTERNAL",
        }
    }
}

impl From<ErrorKind> for rd_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidHandle => rd_result::RD_ERR_INVALID_HANDLE,
            ErrorKind::NullArgument => rd_result::RD_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidJson => rd_result::RD_ERR_INVALID_JSON,
            ErrorKind::InvalidArgument => rd_result::RD_ERR_INVALID_ARGUMENT,
            ErrorKind::InvalidSignalType => rd_result::RD_ERR_INVALID_SIGNAL_TYPE,
            ErrorKind::InvalidSentiment => rd_result::RD_ERR_INVALID_SENTIMENT,
            ErrorKind::InvalidTimestamp => rd_result::RD_ERR_INVALID_TIMESTAMP,
            ErrorKind::InvalidConfig => rd_result::RD_ERR_INVALID_CONFIG,
            ErrorKind::QueueFull => rd_result::RD_ERR_QUEUE_FULL,
            ErrorKind::Timeout => rd_result::RD_ERR_TIMEOUT,
            ErrorKind::TooManyOpenCalls => rd_result::RD_ERR_TOO_MANY_OPEN_CALLS,
            ErrorKind::ItemsDropped => rd_result::RD_ERR_ITEMS_DROPPED,
            ErrorKind::Internal => rd_result::RD_ERR_INTERNAL,
        }
    }
}

/// Length of the message buffer in `rd_error`, NUL terminator included.
pub const RD_ERROR_MESSAGE_LEN: usize = 256;

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
                // SAFETY: not NULL, so valid for writes of `buf_len` bytes for the duration of
                // the call (this function's contract).
                let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), buf_len) };
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

/// Copies `message` into a fixed buffer, NUL-terminated, cut on a character boundary.
pub(super) fn copy_message(message: &str, buffer: &mut [u8]) -> usize {
    if buffer.is_empty() {
        return message.len();
    }
    let mut end = message.len().min(buffer.len() - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    buffer[..end].copy_from_slice(&message.as_bytes()[..end]);
    buffer[end] = 0;
    message.len()
}
