//! The durable spool's sending side. With `spool_dir`, the sender thread only appends batches to
//! the spool (a disk write, never the network), so it keeps draining the queue whatever the sink
//! does; this module's thread (`raindrop-spool`) sends the spooled batches in order, first what
//! an earlier client left, acknowledges each after a final answer, and retries the oldest with
//! backoff. The two threads share the spool behind a mutex that is never held during network I/O
//! and that the hot path never touches.

use crate::lifecycle::ClientShared;
use crate::queue::Ack;
use crate::retry::{Backoff, Outcome};
use crate::spool::{Record, Spool};
use crate::stats::Stats;
use crate::transport::{Route, Transport};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a pump waiting at shutdown looks for an abort.
const ABORT_POLL: Duration = Duration::from_millis(20);

struct Link {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    spool: Spool,
    /// Flushes waiting for the batches appended before them: (`Spool::appended` then, ack).
    flushes: Vec<(u64, Arc<Ack>)>,
    /// The oldest batch failed and waits for its next attempt.
    failing: bool,
    /// The sender appended its last batch (shutdown): send until the deadline, then stop.
    stop: bool,
    /// The spool's thread has ended: flushes complete at once.
    gone: bool,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sender thread's handle on the spool and its thread.
pub struct Pump {
    link: Arc<Link>,
    shared: Arc<ClientShared>,
    thread: Option<JoinHandle<()>>,
}

impl Pump {
    /// Opens `spool_dir` (if configured) and starts the spool's thread; None (after one warning)
    /// when the directory cannot be used: the client then delivers without the spool.
    pub fn start(shared: &Arc<ClientShared>) -> Option<Pump> {
        let config = &shared.config;
        let dir = config.spool_dir.as_ref()?;
        let logger = &shared.logger;
        let (spool, recovered) = match Spool::open(dir, config.spool_max_bytes) {
            Ok(opened) => opened,
            Err(error) => {
                logger.warn("spool_open", || {
                    format!("cannot use spool_dir {}: {error}; going on without the spool", dir.display())
                });
                return None;
            }
        };
        if recovered.damaged > 0 {
            logger.warn("spool_damaged", || {
                format!(
                    "spool {}: skipped {} damaged stretch(es) of spool files; every valid batch is kept",
                    dir.display(),
                    recovered.damaged
                )
            });
        }
        if recovered.batches > 0 {
            logger.debug(|| {
                format!("spool {}: replaying {} items left by an earlier client", dir.display(), recovered.items)
            });
        }
        shared.stats.spool_pending.store(spool.items() as u64, Ordering::Relaxed);
        let link = Arc::new(Link {
            state: Mutex::new(State { spool, flushes: Vec::new(), failing: false, stop: false, gone: false }),
            changed: Condvar::new(),
        });
        let sending = Sending {
            link: link.clone(),
            shared: shared.clone(),
            transport: Transport::new(config),
            retry: 0,
            next: None,
        };
        let thread = std::thread::Builder::new().name("raindrop-spool".into()).spawn(move || sending.run());
        match thread {
            Ok(thread) => {
                shared.stats.spool_open.store(true, Ordering::Relaxed);
                Some(Pump { link, shared: shared.clone(), thread: Some(thread) })
            }
            Err(error) => {
                logger.warn("spool_open", || {
                    format!("cannot start the spool thread: {error}; going on without the spool")
                });
                None
            }
        }
    }

    /// Appends a batch for the spool's thread to send. False (after one warning) when it could
    /// not be written: the caller sends it itself.
    pub fn append(&self, route: Route, body: &[u8], count: usize) -> bool {
        let (stats, logger) = (&self.shared.stats, &self.shared.logger);
        let mut state = self.link.lock();
        match state.spool.append(route, body, count) {
            Ok(evicted) => {
                Stats::add(&stats.spooled, count);
                stats.spool_pending.store(state.spool.items() as u64, Ordering::Relaxed);
                drop(state);
                self.link.changed.notify_all();
                if evicted.items > 0 {
                    Stats::add(&stats.spool_dropped, evicted.items);
                    Stats::add(&stats.spool_dropped_own, evicted.own_items);
                    logger.warn("spool_budget", || {
                        format!("the spool is over spool_max_bytes: dropped its oldest {} items", evicted.items)
                    });
                }
                true
            }
            Err(error) => {
                drop(state);
                logger.warn("spool_write", || format!("cannot write to the spool: {error}; sending without it"));
                false
            }
        }
    }

    /// Completes `ack` once every batch appended so far reached a final state, or at once while
    /// the sink is failing (the batches are safe in the spool).
    pub fn flush(&self, ack: Arc<Ack>) {
        let mut state = self.link.lock();
        if state.gone {
            return ack.complete();
        }
        let appended = state.spool.appended();
        state.flushes.push((appended, ack));
        complete_flushes(&mut state);
        drop(state);
        self.link.changed.notify_all();
    }

    /// The sender appended its last batch: the spool's thread sends until the spool is empty or
    /// the shutdown deadline (at once when aborted), then this returns. What is left stays in the
    /// spool for the next client.
    pub fn stop(mut self) {
        self.link.lock().stop = true;
        self.link.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Flushes complete when the head batch was appended after them (everything before it is final),
/// when the spool is empty, or while the sink fails.
fn complete_flushes(state: &mut State) {
    let State { spool, flushes, failing, .. } = state;
    let head = spool.head().map(|record| if record.replayed { 0 } else { record.seq });
    flushes.retain(|(appended, ack)| {
        let done = *failing || head.is_none_or(|seq| seq > *appended);
        if done {
            ack.complete();
        }
        !done
    });
}

/// The spool's thread.
struct Sending {
    link: Arc<Link>,
    shared: Arc<ClientShared>,
    transport: Transport,
    /// Failed attempts at the head batch, and when to try it again.
    retry: u32,
    next: Option<Instant>,
}

impl Sending {
    fn run(mut self) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_loop()));
        if outcome.is_err() {
            self.shared.logger.error(|| "the spool thread failed; spooled batches wait for the next client".into());
        }
        // No flush waits for a thread that is gone.
        let mut state = self.link.lock();
        state.gone = true;
        for (_, ack) in state.flushes.drain(..) {
            ack.complete();
        }
    }

    fn run_loop(&mut self) {
        let shared = self.shared.clone();
        let shutdown = &shared.shutdown;
        let mut state = self.link.lock();
        loop {
            // The gauge first: a flush completed here already sees it.
            self.shared.stats.spool_pending.store(state.spool.items() as u64, Ordering::Relaxed);
            complete_flushes(&mut state);
            if shutdown.aborted() {
                return;
            }
            let now = Instant::now();
            let deadline = shutdown.shutdown_deadline();
            if state.stop && deadline.is_some_and(|deadline| now >= deadline) {
                return;
            }
            // While stopping, wake up now and then to notice an abort.
            let cap = if state.stop { ABORT_POLL } else { Duration::from_secs(3600) };
            let Some(head) = state.spool.head().cloned() else {
                if state.stop {
                    return;
                }
                state = self.wait(state, cap);
                continue;
            };
            if let Some(next) = self.next.filter(|next| *next > now) {
                if state.stop && deadline.is_none_or(|deadline| next >= deadline) {
                    // The next attempt would come after the shutdown deadline (or, stopping
                    // without one, the sink is failing): the rest waits for the next client.
                    return;
                }
                state = self.wait(state, (next - now).min(cap));
                continue;
            }
            let body = match state.spool.read_head() {
                Ok(body) => body,
                Err(error) => {
                    self.shared.logger.warn("spool_read", || format!("cannot read a spooled batch back: {error}"));
                    state.spool.ack_head();
                    self.count_dropped(&head);
                    continue;
                }
            };
            drop(state);
            let outcome = self.attempt(&head, &body);
            state = self.link.lock();
            match outcome {
                None => {
                    if !state.spool.ack(&head) {
                        // The byte budget dropped it during the request (counted then): it
                        // reached its final state after all.
                        let stats = &self.shared.stats;
                        stats.spool_dropped.fetch_sub(head.count as u64, Ordering::Relaxed);
                        if !head.replayed {
                            stats.spool_dropped_own.fetch_sub(head.count as u64, Ordering::Relaxed);
                        }
                    }
                    (self.retry, self.next, state.failing) = (0, None, false);
                }
                Some(delay) => {
                    self.next = Some(Instant::now() + delay);
                    self.retry = self.retry.saturating_add(1);
                    state.failing = true;
                }
            }
        }
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>, timeout: Duration) -> MutexGuard<'a, State> {
        self.link.changed.wait_timeout(state, timeout).unwrap_or_else(|p| p.into_inner()).0
    }

    fn count_dropped(&self, record: &Record) {
        let stats = &self.shared.stats;
        Stats::add(&stats.spool_dropped, record.count);
        if !record.replayed {
            Stats::add(&stats.spool_dropped_own, record.count);
        }
    }

    /// One attempt at a spooled batch: None when it reached a final state (delivered or
    /// rejected), or the wait before the next attempt.
    fn attempt(&mut self, record: &Record, body: &[u8]) -> Option<Duration> {
        let shared = self.shared.clone();
        let (config, stats, logger) = (&shared.config, &shared.stats, &shared.logger);
        let (route, count) = (record.route, record.count);
        let mut timeout = config.request_timeout;
        if let Some(deadline) = shared.shutdown.shutdown_deadline() {
            timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
            if timeout.is_zero() {
                return Some(config.retry_max_backoff); // left in the spool for the next client
            }
        }
        Stats::add(&stats.requests, 1);
        let started = Instant::now();
        match self.transport.post(route, body, timeout) {
            Outcome::Delivered(status) => {
                stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                Stats::add(if record.replayed { &stats.replayed } else { &stats.delivered }, count);
                Stats::add(&stats.bytes_sent, body.len());
                logger.debug(|| {
                    format!(
                        "sent {count} spooled items ({} bytes) to {}: HTTP {status} in {:?}",
                        body.len(),
                        self.transport.describe(route),
                        started.elapsed()
                    )
                });
                None
            }
            Outcome::Rejected(status) => {
                stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                if record.replayed {
                    Stats::add(&stats.spool_dropped, count);
                } else {
                    Stats::add(&stats.dropped_rejected, count);
                }
                logger.warn("rejected", || {
                    format!(
                        "{} rejected a batch of {count} with HTTP {status}; dropped, not retried",
                        self.transport.describe(route)
                    )
                });
                None
            }
            Outcome::Retry { status, retry_after, why } => {
                if let Some(status) = status {
                    stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                }
                logger.debug(|| {
                    format!(
                        "spooled batch of {count} to {} failed: {why} (attempt {})",
                        self.transport.describe(route),
                        self.retry + 1
                    )
                });
                if status.is_none() {
                    logger.warn("transport", || {
                        format!("cannot deliver to {}: {why}; kept in the spool", self.transport.describe(route))
                    });
                }
                let backoff = Backoff {
                    initial: config.retry_initial_backoff,
                    max: config.retry_max_backoff,
                    retry_after_cap: config.retry_after_cap,
                };
                Stats::add(&stats.retries, 1);
                Some(backoff.delay(self.retry, retry_after, crate::ids::next_u64()))
            }
        }
    }
}
