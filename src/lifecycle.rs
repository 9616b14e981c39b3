//! A client's lifecycle: what the client handle and its sender thread share (`ClientShared`),
//! and how a shutdown is coordinated between them (`Shutdown`: deadline, abort, finished).

use crate::config::Config;
use crate::log::Logger;
use crate::stats::Stats;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the client handle and the sender thread share.
pub struct ClientShared {
    pub config: Config,
    pub stats: Stats,
    pub logger: Logger,
    pub shutdown: Shutdown,
}

/// Shutdown coordination: a deadline the sender must respect, an abort that stops it at once,
/// and whether the sender thread has finished.
#[derive(Default)]
pub struct Shutdown {
    state: Mutex<ShutdownState>,
    changed: Condvar,
}

#[derive(Default)]
struct ShutdownState {
    shutdown_deadline: Option<Instant>,
    abort: bool,
    finished: bool,
}

impl Shutdown {
    fn lock(&self) -> std::sync::MutexGuard<'_, ShutdownState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn begin_shutdown(&self, deadline: Instant) {
        self.lock().shutdown_deadline = Some(deadline);
        self.changed.notify_all();
    }
    /// Wakes a napping sender: a flush or shutdown marker is waiting.
    pub fn wake(&self) {
        self.changed.notify_all();
    }
    /// A short sleep that a flush, shutdown or abort cuts short.
    pub(crate) fn nap(&self, duration: Duration) {
        let state = self.lock();
        if !state.abort {
            let _ = self.changed.wait_timeout(state, duration);
        }
    }
    pub fn abort(&self) {
        self.lock().abort = true;
        self.changed.notify_all();
    }
    pub(crate) fn finish(&self) {
        self.lock().finished = true;
        self.changed.notify_all();
    }
    pub(crate) fn aborted(&self) -> bool {
        self.lock().abort
    }
    pub(crate) fn shutdown_deadline(&self) -> Option<Instant> {
        self.lock().shutdown_deadline
    }
    /// Waits until the sender thread has finished, or `deadline`.
    pub fn wait_finished(&self, deadline: Instant) -> bool {
        let mut state = self.lock();
        while !state.finished {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
    /// Sleeps `duration` unless aborted, or unless the wait would pass the shutdown deadline.
    /// Returns false when the caller should give up instead.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let mut state = self.lock();
        loop {
            if state.abort || state.shutdown_deadline.is_some_and(|deadline| until > deadline) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            state = self.changed.wait_timeout(state, until - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}
