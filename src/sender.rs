//! The one background thread per client: takes items off the queue in order, serialises them,
//! batches them per route, and delivers each batch with retries, backoff and deadlines.

use crate::config::Config;
use crate::event::Event;
use crate::json_bound;
use crate::lifecycle::ClientShared;
use crate::queue::{Item, QueueReceiver};
use crate::retry::{Backoff, Outcome};
use crate::span::{self, Span};
use crate::stats::Stats;
use crate::transport::{Route, Transport};
use crossbeam_channel::{RecvTimeoutError, TryRecvError};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a busy sender looks at the queue (instead of parking on it).
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// How long without items before the sender parks on the queue again.
const IDLE_AFTER: Duration = Duration::from_secs(1);

struct Batch {
    route: Route,
    items: Vec<Vec<u8>>,
    bytes: usize,
    opened: Option<Instant>,
}

impl Batch {
    fn new(route: Route) -> Self {
        Batch { route, items: Vec::new(), bytes: 0, opened: None }
    }
}

pub struct Sender {
    shared: Arc<ClientShared>,
    queue: QueueReceiver,
    transport: Transport,
    /// `$context`, serialised once.
    context: Box<serde_json::value::RawValue>,
    traces_prefix: String,
    batches: [Batch; 4],
    /// The local Workshop mirror, when one was resolved.
    mirror: Option<crate::mirror::Mirror>,
    /// The durable spool (`spool_dir`), opened on this thread when the sender starts: this
    /// thread appends, the spool's own thread sends.
    spool: Option<crate::spool_pump::Pump>,
}

const SLOT: [Route; 4] = [Route::Events, Route::Signals, Route::Identify, Route::Traces];

fn slot(route: Route) -> usize {
    SLOT.iter().position(|r| *r == route).unwrap_or(0)
}

impl Sender {
    pub fn new(shared: Arc<ClientShared>, queue: QueueReceiver) -> Self {
        let config = &shared.config;
        let context = json!({
            "library": {"name": config.library_name, "version": config.library_version},
            "metadata": {"language": config.language, "core": "raindrop-dspy", "coreVersion": env!("CARGO_PKG_VERSION")},
        });
        let context = serde_json::value::to_raw_value(&context).unwrap_or_else(|_| Default::default());
        let traces_prefix = span::envelope_prefix(&config.service_name, &config.library_name, &config.library_version);
        let mirror = config
            .mirror_url()
            .and_then(|url| crate::mirror::Mirror::start(url.to_owned(), config.project_id.clone(), shared.clone()));
        Sender {
            mirror,
            transport: Transport::new(config),
            context,
            traces_prefix,
            batches: SLOT.map(Batch::new),
            spool: None,
            shared,
            queue,
        }
    }

    fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn run(mut self) {
        if self.config().redact_pii {
            crate::redact::prepare(); // compile the patterns before the first item, off the caller's thread
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.spool = crate::spool_pump::Pump::start(&self.shared);
            self.run_loop()
        }));
        if outcome.is_err() {
            self.shared.logger.error(|| "the sender thread failed; telemetry stops for this client".into());
        }
        if let Some(spool) = self.spool.take() {
            spool.stop(); // sends until the shutdown deadline at most (at once when aborted)
        }
        self.shared.shutdown.finish();
        // The cloud part is done (rd_shutdown sees it finished); give the mirror one request
        // timeout (2 s), within the shutdown deadline, then drop what it still holds: a hanging
        // Workshop delays shutdown by 2 s at most.
        if let (Some(mirror), Some(deadline)) = (&self.mirror, self.shared.shutdown.shutdown_deadline()) {
            if !self.shared.shutdown.aborted() {
                mirror.wait_idle(deadline.min(Instant::now() + crate::mirror::TIMEOUT));
            }
        }
    }

    fn run_loop(&mut self) {
        let mut last_item = Instant::now();
        loop {
            if self.shared.shutdown.aborted() {
                self.drop_everything();
                return;
            }
            let until_due =
                self.next_due().map_or(Duration::from_secs(3600), |due| due.saturating_duration_since(Instant::now()));
            // While items keep coming, poll instead of parking on the channel: a parked receiver
            // makes every producer pay a futex wake-up (microseconds) on the hot path. After a
            // quiet second, park, so an idle client costs no CPU.
            let received = if last_item.elapsed() < IDLE_AFTER {
                match self.queue.receiver.try_recv() {
                    Ok(item) => Ok(item),
                    Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                    Err(TryRecvError::Empty) => {
                        self.shared.shutdown.nap(until_due.min(POLL_INTERVAL));
                        Err(RecvTimeoutError::Timeout)
                    }
                }
            } else {
                self.queue.receiver.recv_timeout(until_due)
            };
            match received {
                Ok(Item::Shutdown) => {
                    // Take what is already queued, send it all, and stop. With a spool, it is
                    // all appended to it and the spool's thread sends until the deadline.
                    while let Ok(item) = self.queue.receiver.try_recv() {
                        self.accept(item);
                    }
                    self.send_all();
                    if let Some(spool) = self.spool.take() {
                        spool.stop();
                    }
                    if self.shared.shutdown.aborted() {
                        self.drop_everything();
                    }
                    return;
                }
                Ok(item) => {
                    last_item = Instant::now();
                    self.accept(item);
                }
                Err(RecvTimeoutError::Timeout) => self.send_due(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.send_all();
                    if let Some(spool) = self.spool.take() {
                        spool.stop();
                    }
                    return;
                }
            }
        }
    }

    fn accept(&mut self, item: Item) {
        self.queue.taken(&item);
        let max_chars = self.config().max_text_field_chars;
        let max_bytes = self.config().max_batch_bytes;
        let item = if self.config().redact_pii { crate::redact::item(item, max_chars) } else { item };
        let (route, bytes) = match item {
            Item::Flush(ack) => {
                self.send_all();
                match &self.spool {
                    // Completed by the spool's thread once the batches before it are done.
                    Some(spool) => spool.flush(ack),
                    None => ack.complete(),
                }
                return;
            }
            Item::Shutdown => return,
            Item::Call(ended) => {
                // The event first: it is what the span links to.
                let span = ended.span.then(|| Span::of_call(&ended, self.config()));
                if ended.event {
                    let event = Event::of_call(*ended, self.config());
                    self.add(Route::Events, event.to_json(&self.context, max_chars, max_bytes.saturating_sub(2)));
                }
                let Some(span) = span else { return };
                // Names are bounded in config, so this never saturates at the smallest batch size.
                let room = max_bytes.saturating_sub(self.wrapper_bytes(Route::Traces));
                // A separate collector endpoint speaks standard OTLP/JSON (hex ids).
                let ids = if self.config().traces_endpoint.is_some() {
                    span::IdEncoding::Hex
                } else {
                    span::IdEncoding::Base64
                };
                (Route::Traces, span.to_json(ids, max_chars, room))
            }
            Item::Track(tracked) => {
                let event = Event::of_track(*tracked, self.config());
                (Route::Events, event.to_json(&self.context, max_chars, max_bytes.saturating_sub(2)))
            }
            Item::Signal(signal) => (
                Route::Signals,
                signal
                    .to_json(max_chars)
                    .and_then(|b| json_bound::shrink_serialised(b, max_chars, max_bytes.saturating_sub(2))),
            ),
            Item::Identify(identify) => (
                Route::Identify,
                identify
                    .to_json(max_chars)
                    .and_then(|b| json_bound::shrink_serialised(b, max_chars, max_bytes.saturating_sub(2))),
            ),
        };
        self.add(route, bytes);
    }

    /// Adds one serialised item to its route's batch, sending the batch when full.
    fn add(&mut self, route: Route, bytes: Option<Vec<u8>>) {
        let max_bytes = self.config().max_batch_bytes;
        // An item that cannot be serialised is dropped and counted, never sent empty.
        let Some(bytes) = bytes else {
            Stats::add(&self.shared.stats.dropped_invalid, 1);
            self.shared
                .logger
                .warn("dropped_invalid", || "an item could not be serialised: dropped and counted".into());
            return;
        };
        let wrapper = self.wrapper_bytes(route);
        let index = slot(route);
        let batch = &self.batches[index];
        if !batch.items.is_empty() && batch.bytes + bytes.len() + 1 + wrapper > max_bytes {
            self.send(index);
        }
        let batch = &mut self.batches[index];
        batch.bytes += bytes.len() + 1;
        batch.items.push(bytes);
        batch.opened.get_or_insert_with(Instant::now);
        if batch.items.len() >= self.config().max_batch_events {
            self.send(index);
        }
    }

    fn wrapper_bytes(&self, route: Route) -> usize {
        match route {
            Route::Traces => self.traces_prefix.len() + span::ENVELOPE_SUFFIX.len(),
            _ => 2,
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.batches.iter().filter_map(|b| b.opened).min().map(|opened| opened + self.config().flush_interval)
    }

    fn send_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.batches.len() {
            if self.batches[index].opened.is_some_and(|opened| opened + self.config().flush_interval <= now) {
                self.send(index);
            }
        }
    }

    fn send_all(&mut self) {
        for index in 0..self.batches.len() {
            if !self.batches[index].items.is_empty() {
                self.send(index);
            }
        }
    }

    fn drop_everything(&mut self) {
        if self.spool.is_some() {
            // Aborted at the shutdown deadline: what is still in memory goes to the spool, unsent.
            while let Ok(item) = self.queue.receiver.try_recv() {
                self.accept(item);
            }
            return self.send_all();
        }
        let mut dropped: usize = self.batches.iter_mut().map(|b| std::mem::take(&mut b.items).len()).sum();
        while let Ok(item) = self.queue.receiver.try_recv() {
            self.queue.taken(&item);
            match item {
                Item::Flush(ack) => ack.complete(),
                Item::Shutdown => {}
                data => dropped += data.items(),
            }
        }
        Stats::add(&self.shared.stats.dropped_shutdown, dropped);
        if dropped > 0 {
            self.shared
                .logger
                .warn("shutdown_drop", || format!("shutdown deadline reached: dropped {dropped} unsent items"));
        }
    }

    /// Builds the body once and delivers it; retries resend exactly these bytes.
    fn send(&mut self, index: usize) {
        let batch = &mut self.batches[index];
        let route = batch.route;
        let items = std::mem::take(&mut batch.items);
        batch.bytes = 0;
        batch.opened = None;
        if items.is_empty() {
            return;
        }
        let (open, close) = match route {
            Route::Traces => (self.traces_prefix.as_str(), span::ENVELOPE_SUFFIX),
            _ => ("[", "]"),
        };
        let mut body = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + open.len() + close.len());
        body.extend_from_slice(open.as_bytes());
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item);
        }
        body.extend_from_slice(close.as_bytes());
        if self.spool.is_some() && !self.workshop_only(route) {
            if let Some(mirror) = &self.mirror {
                mirror.offer(route, &body, &self.shared.stats);
            }
            let Some(spool) = &self.spool else { return };
            if spool.append(route, &body, items.len()) {
                return;
            }
            // Not written (one warning was given): this batch goes out without the spool.
            let mirror = self.mirror.take(); // already offered
            self.deliver(route, &body, items.len());
            self.mirror = mirror;
            return;
        }
        self.deliver(route, &body, items.len());
    }

    fn deliver(&mut self, route: Route, body: &[u8], count: usize) {
        let shared = self.shared.clone();
        let (config, stats, logger) = (&shared.config, &shared.stats, &shared.logger);
        let backoff = Backoff {
            initial: config.retry_initial_backoff,
            max: config.retry_max_backoff,
            retry_after_cap: config.retry_after_cap,
        };
        // The Workshop mirror gets the same bytes, once (not per retry), without waiting.
        if let Some(mirror) = &self.mirror {
            mirror.offer(route, body, stats);
            let collector = route == Route::Traces && config.traces_endpoint.is_some();
            if config.api_key.is_none() && matches!(config.sink, crate::config::Sink::Http(_)) && !collector {
                // No api key: the Workshop only (raindrop-wire.md §1.3).
                Stats::add(&stats.delivered, count);
                return;
            }
        }
        let first_attempt = Instant::now();
        let mut retry = 0u32;
        loop {
            if shared.shutdown.aborted() {
                Stats::add(&stats.dropped_shutdown, count);
                return;
            }
            let mut timeout = config.request_timeout;
            if let Some(deadline) = shared.shutdown.shutdown_deadline() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Stats::add(&stats.dropped_shutdown, count);
                    logger.warn("shutdown_drop", || {
                        format!("shutdown deadline reached: dropped {count} items for {}", route.path())
                    });
                    return;
                }
                timeout = timeout.min(left);
            }
            Stats::add(&stats.requests, 1);
            let started = Instant::now();
            let outcome = self.transport.post(route, body, timeout);
            let took = started.elapsed();
            match outcome {
                Outcome::Delivered(status) => {
                    stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                    Stats::add(&stats.delivered, count);
                    Stats::add(&stats.bytes_sent, body.len());
                    logger.debug(|| {
                        format!(
                            "sent {count} items ({} bytes) to {}: HTTP {status} in {took:?}",
                            body.len(),
                            self.transport.describe(route)
                        )
                    });
                    return;
                }
                Outcome::Rejected(status) => {
                    stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                    Stats::add(&stats.dropped_rejected, count);
                    logger.debug(|| {
                        format!("batch of {count} rejected by {}: HTTP {status}", self.transport.describe(route))
                    });
                    logger.warn("rejected", || {
                        format!(
                            "{} rejected a batch of {count} with HTTP {status}; dropped, not retried",
                            self.transport.describe(route)
                        )
                    });
                    return;
                }
                Outcome::Retry { status, retry_after, why } => {
                    if let Some(status) = status {
                        stats.last_http_status.store(i32::from(status), Ordering::Relaxed);
                    }
                    logger.debug(|| {
                        format!(
                            "batch of {count} to {} failed: {why} (attempt {})",
                            self.transport.describe(route),
                            retry + 1
                        )
                    });
                    if status.is_none() {
                        logger.warn("transport", || {
                            format!("cannot deliver to {}: {why}; retrying", self.transport.describe(route))
                        });
                    }
                    let delay = backoff.delay(retry, retry_after, crate::ids::next_u64());
                    if first_attempt.elapsed() + delay > config.retry_budget {
                        Stats::add(&stats.dropped_retry_budget, count);
                        logger.warn("retry_budget", || {
                            format!(
                                "gave up on a batch of {count} for {} after {:?}: {why}",
                                route.path(),
                                first_attempt.elapsed()
                            )
                        });
                        return;
                    }
                    if !shared.shutdown.sleep(delay) {
                        Stats::add(&stats.dropped_shutdown, count);
                        logger.warn("shutdown_drop", || {
                            format!("shutdown deadline reached: dropped {count} items for {}", route.path())
                        });
                        return;
                    }
                    Stats::add(&stats.retries, 1);
                    retry += 1;
                }
            }
        }
    }
}

impl Sender {
    /// No api key, a Workshop mirror: the mirror is the only destination and needs no spool.
    fn workshop_only(&self, route: Route) -> bool {
        let config = self.config();
        let collector = route == Route::Traces && config.traces_endpoint.is_some();
        self.mirror.is_some()
            && config.api_key.is_none()
            && matches!(config.sink, crate::config::Sink::Http(_))
            && !collector
    }
}
