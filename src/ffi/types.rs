//! The handles and the limits every concept shares.

use crate::args;

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
