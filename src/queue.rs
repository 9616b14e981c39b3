//! The bounded queue between the hot path and the sender thread: a crossbeam channel bounded in
//! items, plus a byte budget, so a dead sink costs bounded memory. A full queue drops the new
//! item (counted) and never blocks the caller.

use crate::error::Error;
use crate::event::Event;
use crate::identify::Identify;
use crate::signal::Signal;
use crate::span::Span;
use crate::stats::Stats;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

pub enum Item {
    Event(Box<Event>),
    Signal(Box<Signal>),
    Identify(Box<Identify>),
    Span(Box<Span>),
    /// Everything queued before this marker reached a final state: complete the acknowledgement.
    Flush(Arc<Ack>),
    /// Drain and stop.
    Shutdown,
}

impl Item {
    pub fn approx_bytes(&self) -> usize {
        match self {
            Item::Event(e) => e.approx_bytes(),
            Item::Signal(s) => s.approx_bytes(),
            Item::Identify(i) => i.approx_bytes(),
            Item::Span(s) => s.approx_bytes(),
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
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The sender's end: it gives the byte budget back as it takes items off.
pub struct QueueReceiver {
    pub receiver: Receiver<Item>,
    bytes: Arc<AtomicUsize>,
}

impl QueueReceiver {
    pub fn taken(&self, item: &Item) {
        self.bytes.fetch_sub(item.approx_bytes(), Ordering::Relaxed);
    }
}

pub fn bounded(max_items: usize, max_bytes: usize) -> (Queue, QueueReceiver) {
    let (sender, receiver) = crossbeam_channel::bounded(max_items);
    let bytes = Arc::new(AtomicUsize::new(0));
    (Queue { sender, bytes: bytes.clone(), max_bytes }, QueueReceiver { receiver, bytes })
}

impl Queue {
    /// Enqueues without waiting; a full queue drops the item and counts it.
    pub fn push(&self, item: Item, stats: &Stats) -> Result<(), Error> {
        let size = item.approx_bytes();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > self.max_bytes {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            Stats::add(&stats.dropped_queue_full, 1);
            return Err(Error::queue_full());
        }
        // Counted before the send, so `queued` never lags behind what the sender finished.
        Stats::add(&stats.queued, 1);
        match self.sender.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                stats.queued.fetch_sub(1, Ordering::Relaxed);
                self.bytes.fetch_sub(size, Ordering::Relaxed);
                Stats::add(&stats.dropped_queue_full, 1);
                Err(Error::queue_full())
            }
        }
    }

    /// Enqueues a control marker, waiting for room until `deadline` (flush and shutdown may wait).
    pub fn push_marker(&self, item: Item, deadline: Instant) -> bool {
        self.sender.send_deadline(item, deadline).is_ok()
    }

    pub fn depth(&self) -> usize {
        self.sender.len()
    }
}
