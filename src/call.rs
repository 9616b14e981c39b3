//! Open calls and spans: what `rd_wrap_begin` / `rd_span_begin` record until the matching end.
//! Nested calls share the top-level call's trace and event id; LM usage rolls up to the top.

use crate::error::{Error, ErrorKind};
use crate::ids::EventId;
use crate::registry::Registry;
use crate::text::{Name, RawText};
use crate::time::Timestamp;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// A DSPy-style module call (the top-level wrapped call is a workflow, nested ones are tasks).
    Module,
    /// A language-model call.
    Lm,
    /// A tool call.
    Tool,
}

/// How a call ended (every field optional). What most calls report sits inline; the rest is
/// boxed apart (`more`), so the common result is small to build, move and drop.
#[derive(Default, Debug)]
pub struct CallResult {
    pub output: Option<RawText>,
    pub model: Option<Name>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub finish_reason: Option<String>,
    /// None when none of its fields was given.
    pub more: Option<Box<MoreResult>>,
}

/// The fields of a call's result that calls rarely report.
#[derive(Default, Debug)]
pub struct MoreResult {
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub properties_json: Option<String>,
    pub user_id: Option<String>,
    pub convo_id: Option<String>,
    pub event_name: Option<String>,
    pub timestamp: Option<Timestamp>,
    pub attachments_json: Option<String>,
}

static NO_MORE: MoreResult = MoreResult {
    error_type: None,
    error_message: None,
    properties_json: None,
    user_id: None,
    convo_id: None,
    event_name: None,
    timestamp: None,
    attachments_json: None,
};

impl CallResult {
    /// The rarely reported fields (all None when none was given).
    pub fn more(&self) -> &MoreResult {
        self.more.as_deref().unwrap_or(&NO_MORE)
    }
}

/// LM results seen under a top-level call, used when the call does not report its own.
#[derive(Clone, Debug, Default)]
pub struct Rollup {
    pub prompt_tokens: TokenSum,
    pub completion_tokens: TokenSum,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
}

/// Token counts summed over the LM spans under a call: saturating, and unknown as soon as one
/// span's count is unknown (a partial sum would understate the usage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenSum {
    /// No LM span ended under the call.
    #[default]
    Nothing,
    Known(i64),
    Unknown,
}

impl TokenSum {
    pub fn add(self, tokens: Option<i64>) -> Self {
        match (self, tokens) {
            (TokenSum::Unknown, _) | (_, None) => TokenSum::Unknown,
            (TokenSum::Nothing, Some(n)) => TokenSum::Known(n),
            (TokenSum::Known(sum), Some(n)) => TokenSum::Known(sum.saturating_add(n)),
        }
    }
    /// The total, when every LM span reported its count.
    pub fn total(self) -> Option<i64> {
        match self {
            TokenSum::Known(n) => Some(n),
            TokenSum::Nothing | TokenSum::Unknown => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct OpenCall {
    pub kind: SpanKind,
    /// A top-level wrapped call: it sends one event when it ends.
    pub sends_event: bool,
    /// Nested under another call (a task rather than a workflow, for module spans).
    pub nested: bool,
    pub name: Name,
    pub input: Option<RawText>,
    pub start_nanos: u64,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    /// Handle of the top-level call this one rolls up to (0: itself or none).
    pub root: u64,
    pub event_id: EventId,
    /// Who the call is for: given when its top-level call began, shared by every span under it
    /// (None: the client's defaults, with no allocation).
    pub context: Option<Arc<CallContext>>,
    pub rollup: Rollup,
    /// What this open call holds, counted against `max_open_call_bytes` until it ends.
    pub held_bytes: usize,
}

/// Per-call user, conversation and event name (`rd_call_options`); absent = the client's.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    pub user_id: Option<String>,
    pub convo_id: Option<String>,
    pub event_name: Option<String>,
}

impl OpenCall {
    /// The call's user id, conversation id and event name when its top-level call was given them.
    pub fn context_field(&self, field: impl Fn(&CallContext) -> &Option<String>) -> Option<&str> {
        self.context.as_deref().and_then(|context| field(context).as_deref())
    }
}

/// A call or span that ended, queued as one item: the sender thread builds its event (a
/// top-level wrapped call) and its span (when traced) from it. An open call is held in the same
/// box from its begin on (its result still empty), so ending it fills the box in place and
/// queues the pointer: no allocation and no copy of the call at the end.
pub struct Ended {
    pub call: OpenCall,
    pub result: CallResult,
    pub end_nanos: u64,
    /// A top-level wrapped call: it becomes an event.
    pub event: bool,
    /// Traced: it becomes a span.
    pub span: bool,
}

impl Ended {
    /// How many items it becomes (event and span), for the queue's item budget and the stats.
    pub fn items(&self) -> usize {
        usize::from(self.event) + usize::from(self.span)
    }

    /// Rough size for the queue's byte bound: what the event and the span would each hold.
    pub fn approx_bytes(&self) -> usize {
        let len = |t: Option<&str>| t.map_or(0, str::len);
        let raw = |t: &Option<RawText>| t.as_ref().map_or(0, RawText::len);
        // The rare fields only when given (no read of the shared empty `MoreResult`).
        let (rare, attachments) = match self.result.more.as_deref() {
            None => (0, 0),
            Some(r) => (
                len(r.error_message.as_deref()) + len(r.properties_json.as_deref()),
                len(r.attachments_json.as_deref()),
            ),
        };
        let texts = self.call.name.len() + raw(&self.call.input) + raw(&self.result.output) + rare;
        let event = if self.event { 256 + self.call.event_id.len() + texts + attachments } else { 0 };
        let span = if self.span { 1024 + texts } else { 0 };
        event + span
    }
}

/// What an ending LM call reports, for the roll-up.
pub struct LmResult<'a> {
    /// Read only when an LM call ends (a `Name` is checked as UTF-8 when read).
    pub model: Option<&'a Name>,
    /// None: unknown.
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub finish_reason: Option<&'a str>,
}

pub struct Calls {
    table: Mutex<Registry<Box<Ended>>>,
    /// The sum of `held_bytes` of the open calls; changed only with `table` locked.
    bytes: AtomicUsize,
    max_open: usize,
    max_bytes: usize,
    ttl: Duration,
}

/// What a new call needs from its parent.
pub struct Begin<'a> {
    pub parent: u64,
    pub kind: SpanKind,
    pub sends_event_if_top_level: bool,
    pub name: Name,
    pub input: Option<RawText>,
    /// Top-level calls only: nested ones share their top-level call's.
    pub event_id: Option<&'a str>,
    /// Built by the caller in the `Arc` every span under the call shares: a `Begin` small enough
    /// to move without `memcpy`.
    pub context: Option<Arc<CallContext>>,
}

impl Calls {
    pub fn new(max_open: usize, max_bytes: usize, ttl: Duration) -> Self {
        Calls { table: Mutex::new(Registry::new()), bytes: AtomicUsize::new(0), max_open, max_bytes, ttl }
    }

    /// Removes the calls begun more than `ttl` before `now`; returns how many.
    fn remove_expired(&self, table: &mut Registry<Box<Ended>>, now: u64) -> usize {
        let ttl_nanos = self.ttl.as_nanos() as u64;
        let mut freed = 0;
        let removed = table.remove_where(|open| {
            let expired = now.saturating_sub(open.call.start_nanos) > ttl_nanos;
            if expired {
                freed += open.call.held_bytes;
            }
            expired
        });
        self.bytes.fetch_sub(freed, Relaxed);
        removed
    }

    /// Whether a new call of `size` bytes stays within both bounds.
    fn fits(&self, table: &Registry<Box<Ended>>, size: usize) -> bool {
        table.len() < self.max_open && self.bytes.load(Relaxed).saturating_add(size) <= self.max_bytes
    }

    /// Why a new call of `size` bytes does not fit (`fits` is false): out of line, so the
    /// message's formatting is not on the hot path's cache lines.
    #[cold]
    #[inline(never)]
    fn over(&self, table: &Registry<Box<Ended>>, size: usize) -> Error {
        let why = if table.len() >= self.max_open {
            format!("{} calls are begun and not ended (max_open_calls); end them or raise the limit", table.len())
        } else {
            format!(
                "the {} calls begun and not ended hold {} bytes; this one needs {size} more \
                 (max_open_call_bytes = {}); end them or raise the limit",
                table.len(),
                self.bytes.load(Relaxed),
                self.max_bytes
            )
        };
        Error::new(ErrorKind::TooManyOpenCalls, why)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry<Box<Ended>>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new call placed under its parent (sharing its trace and event id), not yet stored: built
    /// in its box, where it stays until it is queued.
    fn place(table: &Registry<Box<Ended>>, begin: Begin<'_>, start_nanos: u64) -> Result<Box<Ended>, Error> {
        // Allocated first and written once: the ~340-byte call is built in its box, not on the
        // stack and then copied in. (`Box::write` does this safely from Rust 1.87 on; the MSRV
        // is 1.82.)
        let mut slot = Box::<Ended>::new_uninit();
        let (trace_id, parent_span_id, root, event_id, context, nested) = if begin.parent == 0 {
            let event_id = match begin.event_id {
                Some(id) => EventId::Given(Arc::from(id)),
                None if begin.sends_event_if_top_level => EventId::new_uuid(),
                None => EventId::None,
            };
            // No shared lazily-initialised default either: a fork during its first initialisation
            // would leave the child's copy initialising forever (tests/fork hung 1 of 200).
            (crate::ids::trace_id(), None, 0, event_id, begin.context, false)
        } else {
            let parent = &table.get(begin.parent).ok_or_else(|| Error::handle("parent"))?.call;
            if begin.event_id.is_some() || begin.context.is_some() {
                return Err(Error::invalid("options", "only a top-level call takes options: nested calls share its"));
            }
            let root = if parent.root == 0 { begin.parent } else { parent.root };
            (parent.trace_id, Some(parent.span_id), root, parent.event_id.clone(), parent.context.clone(), true)
        };
        let held_bytes = std::mem::size_of::<OpenCall>()
            + begin.name.len()
            + begin.input.as_ref().map_or(0, RawText::len)
            + if nested { 0 } else { event_id.len() + context.as_deref().map_or(0, context_bytes) };
        let span_id = crate::ids::span_id();
        slot.write(Ended {
            call: OpenCall {
                kind: begin.kind,
                sends_event: begin.parent == 0 && begin.sends_event_if_top_level,
                nested,
                name: begin.name,
                input: begin.input,
                start_nanos,
                trace_id,
                span_id,
                parent_span_id,
                root,
                event_id,
                context,
                rollup: Rollup::default(),
                held_bytes,
            },
            result: CallResult::default(),
            end_nanos: 0,
            event: false,
            span: false,
        });
        // SAFETY: the box was written (initialised) just above.
        Ok(unsafe { slot.assume_init() })
    }

    /// Opens a call; returns its handle, its event id and how many forgotten calls expired.
    pub fn begin(&self, begin: Begin<'_>) -> Result<(u64, EventId, usize), Error> {
        let start_nanos = crate::time::unix_nanos();
        let mut table = self.lock();
        let open = Self::place(&table, begin, start_nanos)?;
        let held_bytes = open.call.held_bytes;
        let mut expired = 0;
        if !self.fits(&table, held_bytes) {
            expired = self.remove_expired(&mut table, start_nanos);
            if !self.fits(&table, held_bytes) {
                return Err(self.over(&table, held_bytes));
            }
        }
        self.bytes.fetch_add(held_bytes, Relaxed);
        let event_id = open.call.event_id.clone();
        Ok((table.insert(open), event_id, expired))
    }

    /// Closes a call. An LM call's usage, model and finish reason roll up to its top-level call.
    /// `argument` names the handle in an error ("call" or "span"). Returns the call's box, for
    /// the caller to fill in its result.
    pub fn end(&self, handle: u64, argument: &str, lm: LmResult<'_>) -> Result<Box<Ended>, Error> {
        let mut table = self.lock();
        let open = table.remove(handle).ok_or_else(|| Error::handle(argument))?;
        self.bytes.fetch_sub(open.call.held_bytes, Relaxed);
        Self::roll_up(&mut table, &open.call, lm);
        Ok(open)
    }

    /// A call that already happened (start given), placed and closed at once: one FFI call for
    /// an LM or tool span whose times the binding measured itself.
    pub fn record(&self, begin: Begin<'_>, start_nanos: u64, lm: LmResult<'_>) -> Result<Box<Ended>, Error> {
        let mut table = self.lock();
        let open = Self::place(&table, begin, start_nanos)?;
        Self::roll_up(&mut table, &open.call, lm);
        Ok(open)
    }

    fn roll_up(table: &mut Registry<Box<Ended>>, call: &OpenCall, lm: LmResult<'_>) {
        if call.kind != SpanKind::Lm {
            return;
        }
        if let Some(root) = table.get_mut(call.root) {
            let rollup = &mut root.call.rollup;
            rollup.prompt_tokens = rollup.prompt_tokens.add(lm.prompt_tokens);
            rollup.completion_tokens = rollup.completion_tokens.add(lm.completion_tokens);
            if rollup.model.is_none() {
                rollup.model = lm.model.map(|model| model.to_string());
            }
            if let Some(finish) = lm.finish_reason {
                rollup.finish_reason = Some(finish.to_owned());
            }
        }
    }

    /// The expiry sweep, also run from time to time so forgotten calls never pile up.
    pub fn expire(&self) -> usize {
        let now = crate::time::unix_nanos();
        let mut table = self.lock();
        self.remove_expired(&mut table, now)
    }
}

fn context_bytes(context: &CallContext) -> usize {
    [&context.user_id, &context.convo_id, &context.event_name].iter().map(|s| s.as_deref().map_or(0, str::len)).sum()
}

#[cfg(test)]
mod tests {
    use super::TokenSum;

    #[test]
    fn token_sums_saturate_and_unknown_wins() {
        let max = TokenSum::Nothing.add(Some(i64::MAX)).add(Some(i64::MAX));
        assert_eq!(max.total(), Some(i64::MAX));
        assert_eq!(TokenSum::Nothing.add(Some(3)).add(None).add(Some(4)).total(), None);
        assert_eq!(TokenSum::Nothing.total(), None);
        assert_eq!(TokenSum::Nothing.add(Some(3)).add(Some(4)).total(), Some(7));
    }
}
