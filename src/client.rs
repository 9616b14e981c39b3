//! A client: the configuration, the open calls, the queue and the sender thread, and every
//! operation of the C ABI in safe Rust.

use crate::call::{Begin, CallContext, CallResult, Calls, Ended, LmResult, SpanKind};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::event::{EventArgs, Tracked};
use crate::identify::Identify;
use crate::ids::EventId;
use crate::lifecycle::{ClientShared, Shutdown};
use crate::log::{LogSink, Logger};
use crate::queue::{Ack, Item, Queue};
use crate::sender::Sender;
use crate::signal::Signal;
use crate::stats::{Snapshot, Stats};
use crate::text::{Name, RawText};
use crate::time::Timestamp;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

fn lm_result(result: &CallResult) -> LmResult<'_> {
    LmResult {
        model: result.model.as_ref(),
        prompt_tokens: result.prompt_tokens,
        completion_tokens: result.completion_tokens,
        finish_reason: result.finish_reason.as_deref(),
    }
}

pub struct Client {
    shared: Arc<ClientShared>,
    calls: Calls,
    /// None when telemetry is disabled (no key): calls are checked, then discarded.
    queue: Option<Queue>,
    sender: std::sync::Mutex<Option<JoinHandle<()>>>,
    begins: std::sync::atomic::AtomicU64,
}

impl Client {
    pub fn new(mut config: Config, log_sink: Option<LogSink>) -> Result<Arc<Client>, Error> {
        let logger = Logger::new(config.debug, config.api_key.clone(), log_sink);
        if config.workshop == crate::workshop::Workshop::Probe {
            config.workshop = crate::workshop::probe();
        }
        if let Some(warning) = config.workshop_warning.clone() {
            logger.warn("workshop", || warning);
        }
        if !config.enabled() {
            logger.warn("disabled", || "no api key (api_key or RAINDROP_WRITE_KEY): telemetry is disabled".into());
        } else if let Some(url) = config.mirror_url() {
            logger.debug(|| format!("mirroring to the Raindrop Workshop at {url}"));
            if config.api_key.is_none() && matches!(config.sink, crate::config::Sink::Http(_)) {
                logger.warn("workshop_only", || format!("no api key: sending to the Workshop at {url} only"));
            }
        }
        if config.invalid_project_id.is_some() {
            // The value is not echoed: it may be a secret put in the wrong key.
            logger.warn("project_id", || {
                "project_id is not a valid slug (a-z, 0-9, '-', 1-63 chars); sending without it".into()
            });
        }
        let calls = Calls::new(config.max_open_calls, config.max_open_call_bytes, config.open_call_ttl);
        let enabled = config.enabled();
        let (max_items, max_bytes) = (config.max_queue_items, config.max_queue_bytes);
        let shared = Arc::new(ClientShared { config, stats: Stats::default(), logger, shutdown: Shutdown::default() });
        let (queue, sender) = if enabled {
            let (queue, receiver) = crate::queue::bounded(max_items, max_bytes);
            let sender = Sender::new(shared.clone(), receiver);
            let thread = std::thread::Builder::new()
                .name("raindrop-sender".into())
                .spawn(move || sender.run())
                .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start the sender thread: {e}")))?;
            (Some(queue), Some(thread))
        } else {
            (None, None)
        };
        Ok(Arc::new(Client { shared, calls, queue, sender: std::sync::Mutex::new(sender), begins: Default::default() }))
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    fn push(&self, item: Item) -> Result<(), Error> {
        match &self.queue {
            None => Ok(()),
            Some(queue) => queue.push(item, &self.shared.stats).inspect_err(|_| {
                self.shared.logger.warn("queue_full", || "queue full: dropping new items (see rd_get_stats)".into());
            }),
        }
    }

    fn begin(&self, begin: Begin<'_>) -> Result<(u64, EventId), Error> {
        // Now and then, forget calls begun long ago and never ended.
        if self.begins.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 65_536 == 65_535 {
            self.expire_calls();
        }
        let (handle, event_id, expired) = self.calls.begin(begin).inspect_err(|e| {
            if e.kind == ErrorKind::TooManyOpenCalls {
                Stats::add(&self.shared.stats.calls_refused, 1);
            }
        })?;
        if expired > 0 {
            Stats::add(&self.shared.stats.calls_expired, expired);
        }
        Ok((handle, event_id))
    }

    pub fn wrap_begin(
        &self,
        parent: u64,
        module: Name,
        input: Option<RawText>,
        event_id: Option<&str>,
        context: Option<Arc<CallContext>>,
    ) -> Result<(u64, EventId), Error> {
        self.begin(Begin {
            parent,
            kind: SpanKind::Module,
            sends_event_if_top_level: true,
            name: module,
            input,
            event_id,
            context,
        })
    }

    pub fn span_begin(
        &self,
        parent: u64,
        kind: SpanKind,
        name: Name,
        input: Option<RawText>,
    ) -> Result<(u64, EventId), Error> {
        self.begin(Begin { parent, kind, sends_event_if_top_level: false, name, input, event_id: None, context: None })
    }

    /// Ends a call or span: a top-level wrapped call becomes an event; any call becomes a span
    /// when tracing is on (tool spans also when `bypass_otel_for_tools`).
    /// `argument` names the handle in an error ("call" or "span").
    pub fn end(&self, handle: u64, argument: &str, result: CallResult) -> Result<(), Error> {
        let mut ended = self.calls.end(handle, argument, lm_result(&result))?;
        // The box's result is still the empty one `Calls::place` wrote (it owns no allocation):
        // forgotten rather than dropped, which would call the out-of-line drop glue of a
        // `CallResult` (another page of code on the hot path, ~20 instructions).
        let empty = std::mem::replace(&mut ended.result, result);
        debug_assert!(empty.output.is_none() && empty.model.is_none() && empty.finish_reason.is_none());
        debug_assert!(empty.more.is_none());
        std::mem::forget(empty);
        ended.end_nanos = crate::time::unix_nanos();
        self.finish(ended)
    }

    /// Records a span that already happened (`rd_span_record`), under `parent` or standalone.
    #[allow(clippy::too_many_arguments)] // mirrors the C function's parameters one to one
    pub fn record_span(
        &self,
        parent: u64,
        kind: SpanKind,
        name: Name,
        input: Option<RawText>,
        start_nanos: u64,
        end_nanos: u64,
        result: CallResult,
    ) -> Result<(), Error> {
        let begin = Begin { parent, kind, sends_event_if_top_level: false, name, input, event_id: None, context: None };
        let mut ended = self.calls.record(begin, start_nanos, lm_result(&result))?;
        ended.result = result;
        ended.end_nanos = end_nanos.max(start_nanos);
        self.finish(ended)
    }

    /// A call that ended goes to the sender as one item: its event (a top-level wrapped call)
    /// and its span (traced calls; tool spans also with `bypass_otel_for_tools`) are built there.
    fn finish(&self, mut ended: Box<Ended>) -> Result<(), Error> {
        let config = &self.shared.config;
        let call = &ended.call;
        ended.span = config.tracing_enabled || (call.kind == SpanKind::Tool && config.bypass_otel_for_tools);
        ended.event = call.sends_event;
        if !(ended.span || ended.event) || self.queue.is_none() {
            return Ok(());
        }
        self.push(Item::Call(ended))
    }

    /// `rd_track_ai` (ai = Some) and `rd_track` (ai = None). Returns the event id. Only the id
    /// and the timestamp are taken here; the sender builds the event, with the client's defaults.
    pub fn track(&self, mut args: EventArgs) -> Result<EventId, Error> {
        let (given_id, given_time) = match &mut args.more {
            Some(more) => (more.event_id.take(), more.timestamp.take()),
            None => (None, None),
        };
        let event_id = given_id.map_or_else(EventId::new_uuid, |id| EventId::Given(id.into()));
        let timestamp = given_time.unwrap_or_else(Timestamp::now);
        self.push(Item::Track(Box::new(Tracked { event_id: event_id.clone(), timestamp, args })))?;
        Ok(event_id)
    }

    pub fn identify(&self, identify: Identify) -> Result<(), Error> {
        self.push(Item::Identify(Box::new(identify)))
    }

    pub fn track_signal(&self, signal: Signal) -> Result<(), Error> {
        signal.validate()?;
        self.push(Item::Signal(Box::new(signal)))
    }

    fn deadline(&self, timeout: Option<Duration>, default: Duration) -> Instant {
        Instant::now() + timeout.unwrap_or(default)
    }

    /// Waits until everything queued before the call reached a final state, or the timeout.
    pub fn flush(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let Some(queue) = &self.queue else { return Ok(()) };
        if self.shared.stats.outstanding() == 0 {
            return Ok(()); // nothing queued is waiting for a final state
        }
        let deadline = self.deadline(timeout, self.shared.config.flush_timeout);
        let ack = Arc::new(Ack::default());
        let pushed = queue.push_marker(Item::Flush(ack.clone()), deadline);
        self.shared.shutdown.wake();
        if pushed && ack.wait_until(deadline) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Timeout,
            "flush timed out before the queue drained (delivery goes on in the background)",
        ))
    }

    /// Drains within the deadline, then stops the sender; what is left is dropped and counted.
    /// Returns the outcome and the final statistics (also on error). Afterwards the binding's log
    /// callback is never called again.
    pub fn shutdown(&self, timeout: Option<Duration>) -> (Result<(), Error>, Snapshot) {
        let outcome = self.drain(timeout);
        self.shared.logger.detach();
        outcome
    }

    fn drain(&self, timeout: Option<Duration>) -> (Result<(), Error>, Snapshot) {
        let Some(queue) = &self.queue else { return (Ok(()), self.stats()) };
        let dropped_before = self.shared.stats.dropped_after_queueing();
        let deadline = self.deadline(timeout, self.shared.config.shutdown_timeout);
        let shutdown = &self.shared.shutdown;
        shutdown.begin_shutdown(deadline);
        let pushed = queue.push_marker(Item::Shutdown, deadline);
        shutdown.wake();
        let drained = pushed && shutdown.wait_finished(deadline);
        if drained {
            if let Some(thread) = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = thread.join();
            }
            let stats = self.stats();
            let dropped = self.shared.stats.dropped_after_queueing() - dropped_before;
            if dropped > 0 {
                let message = format!("shutdown: {dropped} items were dropped while draining (see the statistics)");
                return (Err(Error::new(ErrorKind::ItemsDropped, message)), stats);
            }
            return (Ok(()), stats);
        }
        // Deadline reached: tell the sender to drop what is left and leave it to finish alone. Its
        // requests end by the deadline, so every item not final now is dropped: count it so.
        shutdown.abort();
        let mut stats = self.stats();
        if self.shared.stats.spool_open.load(std::sync::atomic::Ordering::Relaxed) {
            // The sender writes what it still holds to the spool instead of dropping it.
            let message = "shutdown deadline reached: undelivered items stay in the spool for the next client";
            return (Err(Error::new(ErrorKind::Timeout, message)), stats);
        }
        stats.dropped_shutdown += self.shared.stats.outstanding();
        let message = "shutdown deadline reached: undelivered items were dropped (see the statistics)";
        (Err(Error::new(ErrorKind::Timeout, message)), stats)
    }

    pub fn stats(&self) -> Snapshot {
        self.shared.stats.snapshot(self.queue.as_ref().map_or(0, Queue::depth))
    }

    pub fn expire_calls(&self) {
        let expired = self.calls.expire();
        Stats::add(&self.shared.stats.calls_expired, expired);
    }
}
