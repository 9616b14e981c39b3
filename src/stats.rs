//! Delivery statistics: counters the hot path and the sender bump without locks.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::Relaxed};

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
    pub retries: AtomicU64,
    pub requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub last_http_status: AtomicI32,
}

/// A consistent-enough copy of the counters (each read on its own).
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
            + self.dropped_invalid.load(Relaxed);
        self.queued.load(Relaxed).saturating_sub(finished)
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
        }
    }
}
