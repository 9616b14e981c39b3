//! One enum of result codes, one error type, and the caller-owned error struct of the C ABI.

use std::fmt;

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

/// Length of the message buffer in `rd_error`, NUL terminator included.
pub const RD_ERROR_MESSAGE_LEN: usize = 256;

/// The library's error: a code and a message naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: rd_result,
    pub message: String,
}

impl Error {
    pub fn new(code: rd_result, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
    pub fn null(argument: &str) -> Self {
        Error::new(rd_result::RD_ERR_NULL_ARGUMENT, format!("{argument} is NULL but required"))
    }
    pub fn invalid(argument: &str, why: impl fmt::Display) -> Self {
        Error::new(rd_result::RD_ERR_INVALID_ARGUMENT, format!("{argument}: {why}"))
    }
    pub fn json(argument: &str, why: impl fmt::Display) -> Self {
        Error::new(rd_result::RD_ERR_INVALID_JSON, format!("{argument} is not valid JSON: {why}"))
    }
    pub fn handle(what: &str) -> Self {
        Error::new(
            rd_result::RD_ERR_INVALID_HANDLE,
            format!("{what} is not a live handle (unknown, stale, ended or shut down)"),
        )
    }
    pub fn config(why: impl fmt::Display) -> Self {
        Error::new(rd_result::RD_ERR_INVALID_CONFIG, format!("config_json: {why}"))
    }
    pub fn queue_full() -> Self {
        Error::new(rd_result::RD_ERR_QUEUE_FULL, "queue full: the item was dropped and counted")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// Copies `message` into a fixed buffer, NUL-terminated, cut on a character boundary.
pub fn copy_message(message: &str, buffer: &mut [u8]) -> usize {
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
