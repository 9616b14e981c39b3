//! A client's life: created with a configuration and a logger, flushed, shut down; its statistics.

use super::{boundary, live_client, optional, rd_client, rd_error, rd_result, timeout, RD_MAX_JSON_BYTES};
use crate::client::Client;
use crate::error::Error;
use crate::process::CLIENTS;
use crate::stats::Snapshot;
use std::ffi::{c_char, c_void};

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

/// Delivery statistics of one client (`rd_get_stats`). Counts are items (events, signals,
/// identifies, spans) unless named otherwise.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct rd_stats {
    /// Accepted onto the queue.
    pub queued: u64,
    /// Delivered (2xx, or written to the file sink; with no api key but a Workshop mirror,
    /// handed to the mirror).
    pub delivered: u64,
    /// Dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Dropped because the sink answered a non-retryable 4xx.
    pub dropped_rejected: u64,
    /// Dropped because retries ran past the retry budget.
    pub dropped_retry_budget: u64,
    /// Dropped because the shutdown deadline came first.
    pub dropped_shutdown: u64,
    /// Dropped because they could not be serialised (should stay 0).
    pub dropped_invalid: u64,
    /// Calls begun and never ended, forgotten after `open_call_ttl_ms`.
    pub calls_expired: u64,
    /// Retried attempts.
    pub retries: u64,
    /// HTTP requests (or file writes) attempted.
    pub requests: u64,
    /// Body bytes delivered.
    pub bytes_sent: u64,
    /// Items waiting in the queue now.
    pub queue_depth: u64,
    /// Status of the last HTTP answer; 0 before any.
    pub last_http_status: i32,
    /// Requests the local Workshop mirror accepted (2xx).
    pub mirror_sent: u64,
    /// Mirror requests that failed (an error status, refused, reset or timed out); never retried.
    pub mirror_failed: u64,
    /// Bodies not mirrored: over 1 MiB, the mirror's queue full, or left at shutdown.
    pub mirror_dropped: u64,
    /// Items written to the durable spool (`spool_dir`) before being sent.
    pub spooled: u64,
    /// Items an earlier client left in the spool, delivered by this one.
    pub replayed: u64,
    /// Items dropped from the spool: its byte budget (oldest first), or a replayed batch the sink
    /// rejected or that could not be read back.
    pub spool_dropped: u64,
    /// Items in the spool not yet delivered (this client's and those replayed from an earlier
    /// one): after `rd_shutdown`, what the next client opening the directory will send.
    pub spool_pending: u64,
    /// Calls and spans refused at begin (RD_ERR_TOO_MANY_OPEN_CALLS): `max_open_calls` or
    /// `max_open_call_bytes` was reached.
    pub calls_refused: u64,
}

impl From<Snapshot> for rd_stats {
    fn from(snapshot: Snapshot) -> Self {
        // Both lists are exhaustive (no `..`): a counter added to one and not the other does not
        // compile.
        let Snapshot {
            queued,
            delivered,
            dropped_queue_full,
            dropped_rejected,
            dropped_retry_budget,
            dropped_shutdown,
            dropped_invalid,
            calls_expired,
            retries,
            requests,
            bytes_sent,
            queue_depth,
            last_http_status,
            mirror_sent,
            mirror_failed,
            mirror_dropped,
            spooled,
            replayed,
            spool_dropped,
            spool_pending,
            calls_refused,
        } = snapshot;
        rd_stats {
            queued,
            delivered,
            dropped_queue_full,
            dropped_rejected,
            dropped_retry_budget,
            dropped_shutdown,
            dropped_invalid,
            calls_expired,
            retries,
            requests,
            bytes_sent,
            queue_depth,
            last_http_status,
            mirror_sent,
            mirror_failed,
            mirror_dropped,
            spooled,
            replayed,
            spool_dropped,
            spool_pending,
            calls_refused,
        }
    }
}

/// A C log callback as the core's log sink.
struct CLogger {
    log: unsafe extern "C" fn(*mut c_void, rd_log_level, *const c_char, usize),
    user_data: *mut c_void,
}

// SAFETY: rd_logger's documentation makes the caller promise that `log` may be called from any
// thread with `user_data` until rd_shutdown returns, which Logger::detach guarantees.
unsafe impl Send for CLogger {}
// SAFETY: as for Send: the same promise covers calls from several threads at the same time.
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
/// `config_json` is borrowed for the duration of the call; longer than `RD_MAX_JSON_BYTES` it
/// is refused unread (RD_ERR_INVALID_CONFIG). `logger` may be NULL (log lines go
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
    boundary(err_out!(err_out), || {
        // SAFETY: `client_out` is NULL or valid for writes of an rd_client (the contract).
        let out = unsafe { client_out.as_mut() }.ok_or_else(|| Error::null("client_out"))?;
        if !config_json.is_null() && config_json_len > RD_MAX_JSON_BYTES {
            return Err(Error::config(format_args!(
                "the configuration JSON is {config_json_len} bytes, over the limit of {RD_MAX_JSON_BYTES} (RD_MAX_JSON_BYTES)"
            )));
        }
        let json = optional(arg!(config_json, config_json_len), usize::MAX);
        let config = crate::config::parse(json.as_deref(), |name| std::env::var(name).ok())?;
        crate::process::install();
        // SAFETY: `logger` is NULL or points to a valid rd_logger (the contract); its fields are
        // copied here.
        let sink = unsafe { logger.as_ref() }.and_then(|l| l.log.map(|log| CLogger { log, user_data: l.user_data }));
        let sink = sink.map(|c| Box::new(move |level, message: &str| c.write(level, message)) as crate::log::LogSink);
        let client = Client::new(config, sink)?;
        let handle = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).insert(client);
        *out = rd_client { id: handle };
        Ok(())
    })
}

/// Blocks until everything queued before this call was delivered or dropped (drops show in
/// `rd_get_stats`, not as an error), or until `timeout_ms` (negative: `flush_timeout_ms`).
/// Never sends anything twice. Thread-safe; may block, so not for the hot path.
/// Errors: RD_ERR_INVALID_HANDLE, RD_ERR_TIMEOUT (delivery goes on in the background).
#[no_mangle]
pub unsafe extern "C" fn rd_flush(client: rd_client, timeout_ms: i64, err_out: *mut rd_error) -> rd_result {
    boundary(err_out!(err_out), || live_client(client)?.flush(timeout(timeout_ms)))
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
    boundary(err_out!(err_out), || {
        let removed = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).remove(client.id);
        let client = removed.ok_or_else(|| Error::handle("client"))?;
        let (outcome, stats) = client.shutdown(timeout(timeout_ms));
        // SAFETY: `stats_out` is NULL or valid for writes of an rd_stats (the contract).
        if let Some(out) = unsafe { stats_out.as_mut() } {
            *out = stats.into();
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
    boundary(err_out!(err_out), || {
        let client = live_client(client)?;
        // SAFETY: `stats_out` is NULL or valid for writes of an rd_stats (the contract).
        let out = unsafe { stats_out.as_mut() }.ok_or_else(|| Error::null("stats_out"))?;
        *out = client.stats().into();
        Ok(())
    })
}
