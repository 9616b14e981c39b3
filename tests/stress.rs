//! Concurrency: many threads through one client, every event delivered exactly once, with and
//! without transient failures (concurrency-batch-all-land, concurrency-retry-preserves-all).

mod support;

use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::capi::*;
use support::*;

#[derive(Deserialize)]
struct IdOnly {
    event_id: String,
}

/// How many times each event id was accepted on events/track (parsing only the id keeps
/// memory small for 400k events).
fn delivered_counts(sink: &Sink) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    for a in sink.attempts_on(EVENTS).iter().filter(|a| a.succeeded()) {
        let items: Vec<IdOnly> = serde_json::from_slice(&a.body).expect("events/track body is an array of events");
        for it in items {
            *m.entry(it.event_id).or_insert(0) += 1;
        }
    }
    m
}

/// track_ai, retrying after a short sleep on RD_ERR_QUEUE_FULL; returns the number of retries.
fn track_until_queued(c: &Client, ev: &Ev) -> u64 {
    let mut full = 0;
    loop {
        match c.track_ai(ev) {
            Ok(_) => return full,
            Err(e) if e.code == ERR_QUEUE_FULL => {
                full += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("track_ai failed: {e:?}"),
        }
    }
}

#[test]
fn stress_8_threads_50k_events_each_exactly_once() {
    const THREADS: usize = 8;
    const PER: usize = 50_000;
    let sink = Sink::start();
    let c = client(
        &sink,
        json!({"max_queue_items": 500_000, "max_queue_bytes": 1_073_741_824u64, "flush_interval_ms": 50}),
    );
    let t0 = Instant::now();
    let h = c.h;
    let full: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let c = Client::raw(h);
                    let mut full = 0;
                    for i in 0..PER {
                        // Given ids for half, generated ids for the other half (checked via event_id_out).
                        let ev = if i % 2 == 0 {
                            Ev::ai("i", "o").user_id("s").event_id(format!("s{t}-{i}"))
                        } else {
                            Ev::ai("i", "o").user_id("s")
                        };
                        full += track_until_queued(&c, &ev);
                    }
                    full
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let enqueue_time = t0.elapsed();
    c.flush(120_000).expect("flush drains 400k events");
    let total = THREADS * PER;
    let counts = delivered_counts(&sink);
    let dup: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
    assert_eq!(counts.len(), total, "every event delivered (queue-full retries: {full})");
    for t in 0..THREADS {
        for i in (0..PER).step_by(2) {
            assert!(counts.contains_key(&format!("s{t}-{i}")), "given id s{t}-{i} delivered");
        }
    }
    let s = c.stats().unwrap();
    assert_eq!(s.delivered, total as u64);
    assert_eq!(s.queue_depth, 0);
    eprintln!(
        "stress: enqueue {enqueue_time:?}, total {:?}, {} requests, {full} queue-full retries",
        t0.elapsed(),
        sink.count_on(EVENTS)
    );
}

#[test]
fn concurrency_batch_all_land_mixed_kinds() {
    let sink = Sink::start();
    let c = client(&sink, json!({}));
    let h = c.h;
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                let c = Client::raw(h);
                for i in 0..200 {
                    match i % 4 {
                        0 => {
                            c.track_ai(&Ev::ai("q", "a").event_id(format!("ai-{t}-{i}"))).unwrap();
                        }
                        1 => {
                            c.track(&Ev::new().user_id("u").event("plain").event_id(format!("pl-{t}-{i}"))).unwrap();
                        }
                        2 => c.identify(Some(format!("user-{t}-{i}").as_bytes()), Some(b"{}")).unwrap(),
                        _ => c.signal(&Sig::new(&format!("sig-{t}-{i}"), "n")).unwrap(),
                    }
                }
            });
        }
    });
    c.flush(30_000).unwrap();
    let counts = delivered_counts(&sink);
    assert_eq!(counts.len(), 8 * 100, "all events land");
    assert!(counts.values().all(|n| *n == 1), "no duplicates");
    let idents = sink.delivered(IDENTIFY);
    assert_eq!(idents.len(), 8 * 50);
    let sigs = sink.delivered(SIGNALS);
    assert_eq!(sigs.len(), 8 * 50);
    // Batched: far fewer requests than events.
    assert!(sink.count_on(EVENTS) < 8 * 100);
    // Per-thread order is kept (one client delivers in queue order).
    let order: Vec<String> = sink.events().iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    for t in 0..8 {
        // ids look like `ai-<thread>-<i>` / `pl-<thread>-<i>`.
        let mine: Vec<usize> = order
            .iter()
            .map(|id| id.split('-').collect::<Vec<_>>())
            .filter(|p| p[1] == t.to_string())
            .map(|p| p[2].parse().unwrap())
            .collect();
        assert_eq!(mine.len(), 100);
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "thread {t} events in order");
    }
}

#[test]
fn concurrency_retry_preserves_all() {
    let sink = Sink::start();
    // Transient failures sprinkled over the first attempts.
    for r in [
        Reply::status(500, "x"),
        Reply::status(429, "x").with_header("Retry-After", "0"),
        Reply::Reset,
        Reply::status(503, "x"),
        Reply::status(502, "x"),
        Reply::Reset,
        Reply::status(500, "x"),
    ] {
        sink.script(EVENTS, r);
    }
    let c = client(&sink, json!({"max_batch_events": 20}));
    let h = c.h;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let c = Client::raw(h);
                for i in 0..500 {
                    c.track_ai(&Ev::ai("q", "a").event_id(format!("r{t}-{i}"))).unwrap();
                }
            });
        }
    });
    c.flush(60_000).unwrap();
    let counts = delivered_counts(&sink);
    assert_eq!(counts.len(), 2000, "every event delivered despite failures");
    assert!(counts.values().all(|n| *n == 1), "exactly once");
    let st = c.stats().unwrap();
    assert!(st.retries >= 7, "the 7 failures were retried: {}", st.retries);
    assert_eq!(st.delivered, 2000);
}

#[test]
fn concurrent_flush_and_shutdown_calls_are_safe() {
    let sink = Sink::start();
    let mut c = client(&sink, json!({}));
    let h = c.h;
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                let c = Client::raw(h);
                for i in 0..300 {
                    c.track_ai(&Ev::ai("q", "a").event_id(format!("f{t}-{i}"))).unwrap();
                    if i % 50 == 0 {
                        c.flush(10_000).unwrap();
                        c.stats().unwrap();
                    }
                }
            });
        }
    });
    c.shutdown(10_000).unwrap();
    let counts = delivered_counts(&sink);
    assert_eq!(counts.len(), 1200);
    assert!(counts.values().all(|n| *n == 1));
    // Two threads racing to shut down an already shut down client: harmless.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(move || {
                let mut c = Client::raw(h);
                let r = c.shutdown(100);
                assert!(matches!(r.map_err(|e| e.code), Ok(()) | Err(ERR_INVALID_HANDLE)));
            });
        }
    });
}
