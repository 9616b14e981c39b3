//! Delivery statistics: counters the hot path and the sender bump without locks.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Stats {
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub dropped_retry_budget: AtomicU64,
    pub dropped_shutdown: AtomicU64,
    pub dropped_invalid: AtomicU64,
    pub calls_expired: AtomicU64,
    pub calls_refused: AtomicU64,
    pub retries: AtomicU64,
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub last_http_status: AtomicI32,
    pub mirror_sent: AtomicU64,
    pub mirror_failed: AtomicU64,
    pub mirror_dropped: AtomicU64,
    pub spooled: AtomicU64,
    pub replayed: AtomicU64,
    pub spool_dropped: AtomicU64,
    /// Of `spool_dropped`, items this client queued (a final state for `outstanding`).
    pub spool_dropped_own: AtomicU64,
    /// Items in this client's spool not yet delivered (a gauge the sender sets).
    pub spool_pending: AtomicU64,
    /// The sender opened the spool: what it holds at a shutdown timeout is kept, not dropped.
    pub spool_open: AtomicBool,
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

impl Stats {
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Relaxed);
    }

    /// Items accepted onto the queue that have not reached a final state (delivered or dropped).
    pub fn outstanding(&self) -> u64 {
        let finished = self.delivered.load(Relaxed)
            + self.dropped_rejected.load(Relaxed)
            + self.dropped_retry_budget.load(Relaxed)
            + self.dropped_shutdown.load(Relaxed)
            + self.dropped_invalid.load(Relaxed)
            + self.spool_dropped_own.load(Relaxed);
        self.queued.load(Relaxed).saturating_sub(finished)
    }

    /// Items accepted onto the queue and dropped since (not counting queue-full drops).
    pub fn dropped_after_queueing(&self) -> u64 {
        self.dropped_rejected.load(Relaxed)
            + self.dropped_retry_budget.load(Relaxed)
            + self.dropped_shutdown.load(Relaxed)
            + self.dropped_invalid.load(Relaxed)
            + self.spool_dropped_own.load(Relaxed)
    }

    pub fn snapshot(&self, queue_depth: usize) -> rd_stats {
        rd_stats {
            queued: self.queued.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_rejected: self.dropped_rejected.load(Relaxed),
            dropped_retry_budget: self.dropped_retry_budget.load(Relaxed),
            dropped_shutdown: self.dropped_shutdown.load(Relaxed),
            dropped_invalid: self.dropped_invalid.load(Relaxed),
            calls_expired: self.calls_expired.load(Relaxed),
            retries: self.retries.load(Relaxed),
            requests: self.requests.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            queue_depth: queue_depth as u64,
            last_http_status: self.last_http_status.load(Relaxed),
            mirror_sent: self.mirror_sent.load(Relaxed),
            mirror_failed: self.mirror_failed.load(Relaxed),
            mirror_dropped: self.mirror_dropped.load(Relaxed),
            spooled: self.spooled.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            spool_dropped: self.spool_dropped.load(Relaxed),
            spool_pending: self.spool_pending.load(Relaxed),
            calls_refused: self.calls_refused.load(Relaxed),
        }
    }
}
