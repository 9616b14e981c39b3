//! The bounded queue between the hot path and the sender thread: a crossbeam channel with an item
//! budget and a byte budget, so a dead sink costs bounded memory. A full queue drops the new
//! item (counted) and never blocks the caller. The channel itself is unbounded (it allocates in
//! small blocks as items arrive): a bounded one would allocate every slot up front, and a large
//! `max_queue_items` would then cost its whole size at `rd_new`.

use crate::call::Ended;
use crate::error::Error;
use crate::event::Tracked;
use crate::identify::Identify;
use crate::signal::Signal;
use crate::stats::Stats;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub enum Item {
    /// A call or span that ended: its event and its span, built by the sender.
    Call(Box<Ended>),
    /// A one-shot event: the sender builds it.
    Track(Box<Tracked>),
    Signal(Box<Signal>),
    Identify(Box<Identify>),
    /// Everything queued before this marker reached a final state: complete the acknowledgement.
    Flush(Arc<Ack>),
    /// Drain and stop.
    Shutdown,
}

impl Item {
    pub fn approx_bytes(&self) -> usize {
        match self {
            Item::Call(c) => c.approx_bytes(),
            Item::Track(t) => t.approx_bytes(),
            Item::Signal(s) => s.approx_bytes(),
            Item::Identify(i) => i.approx_bytes(),
            Item::Flush(_) | Item::Shutdown => 0,
        }
    }

    /// How many data items it holds (an ended call: its event and its span), each counted
    /// against the item budget and in the statistics; control markers hold none.
    pub fn items(&self) -> usize {
        match self {
            Item::Call(c) => c.items(),
            Item::Track(_) | Item::Signal(_) | Item::Identify(_) => 1,
            Item::Flush(_) | Item::Shutdown => 0,
        }
    }
}

/// A one-shot completion a flush waits on.
#[derive(Default)]
pub struct Ack {
    done: Mutex<bool>,
    signal: Condvar,
}

impl Ack {
    pub fn complete(&self) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.signal.notify_all();
    }

    /// True when completed before `deadline`.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            done = self.signal.wait_timeout(done, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

pub struct Queue {
    sender: Sender<Item>,
    used: Arc<Used>,
    max_items: usize,
    max_bytes: usize,
}

/// What the queued data items hold, given back by the sender as it takes them off.
#[derive(Default)]
struct Used {
    items: AtomicUsize,
    bytes: AtomicUsize,
}

/// The sender's end: it gives the budgets back as it takes items off.
pub struct QueueReceiver {
    pub receiver: Receiver<Item>,
    used: Arc<Used>,
}

impl QueueReceiver {
    pub fn taken(&self, item: &Item) {
        let items = item.items();
        if items > 0 {
            self.used.items.fetch_sub(items, Ordering::Relaxed);
            self.used.bytes.fetch_sub(item.approx_bytes(), Ordering::Relaxed);
        }
    }
}

pub fn bounded(max_items: usize, max_bytes: usize) -> (Queue, QueueReceiver) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let used = Arc::new(Used::default());
    (Queue { sender, used: used.clone(), max_items, max_bytes }, QueueReceiver { receiver, used })
}

impl Queue {
    /// Enqueues without waiting; a full queue drops the item and counts it. An ended call with
    /// no room for both its event and its span goes with its event alone when that fits (the
    /// span is dropped and counted, and the call still reports the queue full).
    pub fn push(&self, mut item: Item, stats: &Stats) -> Result<(), Error> {
        let room = (item.items(), item.approx_bytes());
        if self.reserve(room) {
            return self.send(item, room, stats);
        }
        let Item::Call(ended) = &mut item else { return Err(self.refuse(room.0, stats)) };
        if !(ended.event && ended.span) {
            return Err(self.refuse(room.0, stats));
        }
        ended.span = false;
        let room = (item.items(), item.approx_bytes());
        if !self.reserve(room) {
            return Err(self.refuse(2, stats));
        }
        let error = self.refuse(1, stats);
        self.send(item, room, stats).and(Err(error))
    }

    /// Takes `(items, bytes)` of room in both budgets; false (and nothing taken) when it does
    /// not fit.
    fn reserve(&self, (items, size): (usize, usize)) -> bool {
        let over_items = self.used.items.fetch_add(items, Ordering::Relaxed).saturating_add(items) > self.max_items;
        let over_bytes = self.used.bytes.fetch_add(size, Ordering::Relaxed).saturating_add(size) > self.max_bytes;
        if over_items || over_bytes {
            self.give_back(items, size);
            return false;
        }
        true
    }

    fn refuse(&self, items: usize, stats: &Stats) -> Error {
        Stats::add(&stats.dropped_queue_full, items);
        Error::queue_full()
    }

    /// Sends an item the room `(items, bytes)` was reserved for.
    fn send(&self, item: Item, (items, size): (usize, usize), stats: &Stats) -> Result<(), Error> {
        // Counted before the send, so `queued` never lags behind what the sender finished.
        Stats::add(&stats.queued, items);
        match self.sender.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                stats.queued.fetch_sub(items as u64, Ordering::Relaxed);
                self.give_back(items, size);
                Err(self.refuse(items, stats))
            }
        }
    }

    fn give_back(&self, items: usize, size: usize) {
        self.used.items.fetch_sub(items, Ordering::Relaxed);
        self.used.bytes.fetch_sub(size, Ordering::Relaxed);
    }

    /// Enqueues a control marker (never refused for room: only blocking calls send them).
    pub fn push_marker(&self, item: Item, deadline: Instant) -> bool {
        self.sender.send_deadline(item, deadline).is_ok()
    }

    /// Data items waiting (an ended call counts its event and its span).
    pub fn depth(&self) -> usize {
        self.used.items.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal() -> Item {
        Item::Identify(Box::new(Identify { user_id: "u".into(), traits_json: None }))
    }

    #[test]
    fn a_huge_item_budget_costs_nothing_up_front_and_still_bounds() {
        // A bounded channel allocated every slot here: 24 bytes × usize::MAX aborts the process.
        let (queue, receiver) = bounded(usize::MAX, usize::MAX);
        let stats = Stats::default();
        assert!(queue.push(signal(), &stats).is_ok());
        let (queue, receiver2) = bounded(2, usize::MAX);
        assert!(queue.push(signal(), &stats).is_ok());
        assert!(queue.push(signal(), &stats).is_ok());
        assert!(queue.push(signal(), &stats).is_err(), "third item over max_items=2");
        assert!(queue.push_marker(Item::Shutdown, Instant::now()), "markers are not refused");
        let taken = receiver2.receiver.recv().unwrap();
        receiver2.taken(&taken);
        assert!(queue.push(signal(), &stats).is_ok(), "room again once the sender took one");
        drop(receiver);
    }

    fn ended_call() -> Item {
        let call = crate::call::OpenCall {
            kind: crate::call::SpanKind::Module,
            sends_event: true,
            nested: false,
            name: "m".into(),
            input: Some("in".into()),
            start_nanos: 1,
            trace_id: [1; 16],
            span_id: [1; 8],
            parent_span_id: None,
            root: 0,
            event_id: crate::ids::EventId::new_uuid(),
            context: None,
            rollup: Default::default(),
            held_bytes: 0,
        };
        let result = crate::call::CallResult::default();
        Item::Call(Box::new(Ended { call, result, end_nanos: 2, event: true, span: true }))
    }

    #[test]
    fn an_ended_call_counts_its_event_and_span_and_keeps_its_event_when_room_is_for_one() {
        let stats = Stats::default();
        let (queue, receiver) = bounded(3, usize::MAX);
        assert!(queue.push(ended_call(), &stats).is_ok());
        assert_eq!((queue.depth(), stats.queued.load(Ordering::Relaxed)), (2, 2));
        // Room for one more item: the event goes, the span is dropped and counted.
        assert!(queue.push(ended_call(), &stats).is_err());
        assert_eq!((queue.depth(), stats.queued.load(Ordering::Relaxed)), (3, 3));
        assert_eq!(stats.dropped_queue_full.load(Ordering::Relaxed), 1);
        // No room at all: both dropped.
        assert!(queue.push(ended_call(), &stats).is_err());
        assert_eq!(stats.dropped_queue_full.load(Ordering::Relaxed), 3);
        let first = receiver.receiver.recv().unwrap();
        let second = receiver.receiver.recv().unwrap();
        let (Item::Call(a), Item::Call(b)) = (&first, &second) else { panic!("two ended calls") };
        assert_eq!((a.event, a.span, b.event, b.span), (true, true, true, false));
        receiver.taken(&first);
        receiver.taken(&second);
        assert_eq!(queue.depth(), 0, "the sender gives back what each took");
    }
}
