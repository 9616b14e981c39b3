//! The core's one error type: a kind and a message naming what is wrong. The C ABI maps each
//! kind to its result code (`ffi::rd_result`); nothing here knows the C types.

use std::fmt;

/// What kind of failure an [`Error`] is: one kind per failure code of the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The handle is unknown, stale, already ended, or its client was shut down.
    InvalidHandle,
    /// A required argument was absent (NULL).
    NullArgument,
    /// A JSON argument did not parse, or had the wrong shape.
    InvalidJson,
    /// Any other bad argument value.
    InvalidArgument,
    /// A signal type other than `default`, `feedback` or `edit`.
    InvalidSignalType,
    /// A sentiment other than `POSITIVE` or `NEGATIVE`.
    InvalidSentiment,
    /// A timestamp that is not RFC 3339.
    InvalidTimestamp,
    /// An unknown configuration key, or a value of the wrong type.
    InvalidConfig,
    /// The queue is full: the item was dropped and counted.
    QueueFull,
    /// A flush or shutdown deadline came before the queue drained.
    Timeout,
    /// Too many calls or spans are open (`max_open_calls`, `max_open_call_bytes`).
    TooManyOpenCalls,
    /// A shutdown drained the queue, but items were dropped on the way.
    ItemsDropped,
    /// A bug in the library, or a resource the system refused (a thread).
    Internal,
}

/// The library's error: a kind and a message naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
    pub fn null(argument: &str) -> Self {
        Error::new(ErrorKind::NullArgument, format!("{argument} is NULL but required"))
    }
    pub fn invalid(argument: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidArgument, format!("{argument}: {why}"))
    }
    pub fn json(argument: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidJson, format!("{argument} is not valid JSON: {why}"))
    }
    pub fn handle(what: &str) -> Self {
        Error::new(
            ErrorKind::InvalidHandle,
            format!("{what} is not a live handle (unknown, stale, ended or shut down)"),
        )
    }
    pub fn config(why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidConfig, format!("config_json: {why}"))
    }
    pub fn queue_full() -> Self {
        Error::new(ErrorKind::QueueFull, "queue full: the item was dropped and counted")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}
