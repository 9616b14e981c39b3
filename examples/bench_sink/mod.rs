//! Shared by the benchmark examples (`bench_hot_path`, `bench_throughput`, `bench_shutdown`,
//! `bench_spool`):
//! a minimal loopback HTTP/1.1 sink and small helpers around the C ABI. Not an example itself
//! (no `main`), pulled in with `mod bench_sink;`.
#![allow(dead_code)]

use raindrop_dspy::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the sink answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Reads each request and answers `200` at once (keep-alive).
    Healthy,
    /// Accepts the connection and never reads or answers.
    Hanging,
    /// Reads each request and answers `429` with `Retry-After: 1`.
    TooManyRequests,
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    /// Items of `events/track` bodies (each carries exactly one `"event_id":` key).
    pub events: AtomicU64,
    /// Spans in `traces` bodies (each carries exactly one `"spanId":` key).
    pub spans: AtomicU64,
    pub body_bytes: AtomicU64,
}

pub struct Sink {
    pub port: u16,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

/// At most this many connections are served or held at once (bounded resources).
const MAX_CONNECTIONS: usize = 32;

impl Sink {
    pub fn start(mode: Mode) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (counters, stop, held) = (counters.clone(), stop.clone(), held.clone());
            std::thread::Builder::new()
                .name("bench-sink".into())
                .spawn(move || {
                    let live = Arc::new(AtomicU64::new(0));
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let _ = stream.set_nodelay(true);
                        if mode == Mode::Hanging {
                            // Held open, never read, never answered (bounded in count).
                            let mut held_now = held.lock().unwrap();
                            if held_now.len() < MAX_CONNECTIONS {
                                held_now.push(stream);
                            }
                            continue;
                        }
                        if live.load(Ordering::SeqCst) as usize >= MAX_CONNECTIONS {
                            continue; // dropped: bounded
                        }
                        let (counters, stop, live) = (counters.clone(), stop.clone(), live.clone());
                        live.fetch_add(1, Ordering::SeqCst);
                        let _ = std::thread::Builder::new().name("bench-sink-conn".into()).spawn(move || {
                            serve(stream, mode, &counters, &stop);
                            live.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                })
                .expect("spawn sink")
        };
        Sink { port, counters, stop, accept: Some(accept), held }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1/", self.port)
    }

    pub fn events(&self) -> u64 {
        self.counters.events.load(Ordering::SeqCst)
    }

    pub fn spans(&self) -> u64 {
        self.counters.spans.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Closes every connection and stops the accept thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.held.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept()
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// A port on which nothing listens: connecting gives "connection refused".
pub fn refused_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1/")
}

fn serve(stream: TcpStream, mode: Mode, counters: &Counters, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    let mut line = String::new();
    let mut body = Vec::with_capacity(1 << 20);
    let answer: &[u8] = match mode {
        Mode::TooManyRequests => b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
        _ => b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    };
    loop {
        // Request line (idle keep-alive connections just wait here).
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut content_length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let name = name.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding")
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    chunked = true;
                }
            }
        }
        body.clear();
        if chunked {
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
                let start = body.len();
                body.resize(start + size + 2, 0);
                if reader.read_exact(&mut body[start..]).is_err() {
                    return;
                }
                body.truncate(start + size);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = content_length {
            body.resize(n, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        counters.requests.fetch_add(1, Ordering::Relaxed);
        counters.body_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if mode == Mode::Healthy {
            if let Ok(text) = std::str::from_utf8(&body) {
                if path.ends_with("events/track") {
                    counters.events.fetch_add(text.matches("\"event_id\":").count() as u64, Ordering::Relaxed);
                } else if path.ends_with("traces") {
                    counters.spans.fetch_add(text.matches("\"spanId\":").count() as u64, Ordering::Relaxed);
                }
            }
        }
        if writer.write_all(answer).is_err() {
            return;
        }
    }
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
