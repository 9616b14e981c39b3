//! Shared by the benchmark examples (`bench_hot_path`, `bench_throughput`, `bench_shutdown`,
//! `bench_spool`): the repository's loopback test sink (`tests/support/sink.rs`, tests/README.md)
//! in a counting mode that keeps no request, and small helpers around the C ABI. Not an example
//! itself (no `main`), pulled in with `mod bench_sink;`.
#![allow(dead_code)]

#[path = "../../tests/support/sink.rs"]
mod sink;

use raindrop_dspy::*;
use sink::{Reply, ANY_ROUTE};
use std::net::TcpListener;

/// How the sink answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers `200` at once (keep-alive).
    Healthy,
    /// Reads each request and never answers (until the sink stops).
    Hanging,
    /// Answers `429` with `Retry-After: 1`.
    TooManyRequests,
}

/// The test sink, counting what it receives and keeping nothing.
pub struct Sink {
    inner: sink::Sink,
}

impl Sink {
    pub fn start(mode: Mode) -> Sink {
        let inner = sink::Sink::start_on(0, None, false).expect("start the sink");
        match mode {
            Mode::Healthy => {}
            Mode::Hanging => inner.set_fallback(ANY_ROUTE, Reply::Hang),
            Mode::TooManyRequests => {
                inner.set_fallback(ANY_ROUTE, Reply::status(429, "").with_header("Retry-After", "1"))
            }
        }
        Sink { inner }
    }

    pub fn endpoint(&self) -> String {
        self.inner.url()
    }

    /// Items of the `events/track` bodies received.
    pub fn events(&self) -> u64 {
        self.inner.tally().events
    }

    /// Spans of the `traces` bodies received.
    pub fn spans(&self) -> u64 {
        self.inner.tally().spans
    }

    pub fn requests(&self) -> u64 {
        self.inner.tally().requests
    }

    pub fn body_bytes(&self) -> u64 {
        self.inner.tally().body_bytes
    }

    /// Closes every connection and stops the sink.
    pub fn stop(self) {
        drop(self.inner)
    }
}

/// A port on which nothing listens: connecting gives "connection refused".
pub fn refused_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1/")
}

// ---- helpers around the C ABI ----

pub fn new_client(config: &str) -> rd_client {
    let mut client = rd_client::default();
    let rc =
        unsafe { rd_new(config.as_ptr().cast(), config.len(), std::ptr::null(), &mut client, std::ptr::null_mut()) };
    assert_eq!(rc, rd_result::RD_OK, "rd_new({config})");
    client
}

pub fn stats(client: rd_client) -> rd_stats {
    let mut s: rd_stats = unsafe { std::mem::zeroed() };
    let rc = unsafe { rd_get_stats(client, &mut s, std::ptr::null_mut()) };
    assert_eq!(rc, rd_result::RD_OK);
    s
}

/// One `rd_track_ai` with input, output and model, no properties or attachments.
pub fn track_ai(client: rd_client, input: &str, output: &str, model: &str) -> rd_result {
    unsafe {
        let mut e: rd_event = std::mem::zeroed();
        e.input = input.as_ptr().cast();
        e.input_len = input.len();
        e.output = output.as_ptr().cast();
        e.output_len = output.len();
        e.model = model.as_ptr().cast();
        e.model_len = model.len();
        rd_track_ai(client, &e, std::ptr::null_mut(), 0, std::ptr::null_mut())
    }
}

/// An all-absent call result (token counts unknown).
pub fn empty_result() -> rd_call_result {
    let mut r: rd_call_result = unsafe { std::mem::zeroed() };
    r.prompt_tokens = RD_TOKENS_UNKNOWN;
    r.completion_tokens = RD_TOKENS_UNKNOWN;
    r
}

/// Peak and current resident set size of this process, in KiB (VmHWM, VmRSS).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Text of exactly `n` ASCII bytes.
pub fn text_of(n: usize, seed: u8) -> String {
    (0..n).map(|i| (b'a' + ((i as u8).wrapping_add(seed)) % 26) as char).collect()
}

/// Percentile (nearest rank) of sorted samples.
pub fn pct(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} logical CPUs, {cpu}")
}
