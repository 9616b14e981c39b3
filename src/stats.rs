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

/// The counters at one moment, as `rd_get_stats` and `rd_shutdown` hand them out (the C ABI's
/// `rd_stats` has the same fields, each documented there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub queued: u64,
    pub delivered: u64,
    pub dropped_queue_full: u64,
    pub dropped_rejected: u64,
    pub dropped_retry_budget: u64,
    pub dropped_shutdown: u64,
    pub dropped_invalid: u64,
    pub calls_expired: u64,
    pub retries: u64,
    pub requests: u64,
    pub bytes_sent: u64,
    pub queue_depth: u64,
    pub last_http_status: i32,
    pub mirror_sent: u64,
    pub mirror_failed: u64,
    pub mirror_dropped: u64,
    pub spooled: u64,
    pub replayed: u64,
    pub spool_dropped: u64,
    pub spool_pending: u64,
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

    pub fn snapshot(&self, queue_depth: usize) -> Snapshot {
        Snapshot {
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
