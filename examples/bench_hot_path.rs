//! Hot-path latency through the C ABI: `rd_wrap_begin` + `rd_wrap_end` (1 KB input, 1 KB
//! output) and `rd_track_ai`, with 1 and 2 calling threads, against a loopback sink that is
//! healthy (answers 200 at once), hanging (accepts, never answers) or answering 429 with
//! `Retry-After: 1`; plus the cost of a call once the queue is full (RD_ERR_QUEUE_FULL).
//!
//!     cargo run --release --example bench_hot_path [-- SAMPLES_PER_THREAD]
//!
//! A benchmark, not a test: it prints a table and asserts nothing about time.
//! Each thread makes one call every PACE_US (spinning in between), which leaves the sender
//! thread and the sink CPU on this small machine and keeps the healthy sink's queue from filling;
//! every sample is one call timed with `Instant::now()` (~25 ns of that is the clock).
//! Environment: BENCH_ONLY=substring runs only the scenarios whose name contains it;
//! BENCH_NOPACE=1 makes the calls back to back, BENCH_PACE_US=N one call every N us instead of
//! 100; BENCH_EVICT_KB=N writes one byte per cache line of an N KiB buffer before each call
//! (cold caches on demand: 2048 evicts this CPU's 1 MiB L2); BENCH_TEXT_BYTES=N makes the
//! input and the output N bytes instead of 1,024; BENCH_EVICT_PAGES=N touches one line in each
//! of N 4 KiB pages before each call (TLB entries evicted, few lines: see EvictPages);
//! BENCH_MARKS=1 prints the addresses of the two markers read around each timed call (see
//! MARK_BEGIN).

mod bench_sink;

use bench_sink::*;
use raindrop_dspy::*;
use std::time::{Duration, Instant};

const PACE_US: u64 = 100;
const WARMUP: usize = 1_000;
/// Read (volatile) just before and just after each timed call: in a memory trace
/// (`valgrind --tool=lackey --trace-mem=yes`) the loads of these two addresses, printed with
/// BENCH_MARKS=1, bracket exactly what one call touches.
static mut MARK_BEGIN: u64 = 0;
static mut MARK_END: u64 = 0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// rd_wrap_begin + rd_wrap_end, one sample for the pair.
    Wrap,
    TrackAi,
}

struct Row {
    name: String,
    samples: Vec<u64>,
    codes: [u64; 3], // ok, queue full, other
}

struct Payload {
    module: String,
    input: String,
    output: String,
    model: String,
}

fn payload() -> Payload {
    Payload {
        module: "qa.ChainOfThought".into(),
        input: text_of(text_bytes(), 1),
        output: text_of(text_bytes(), 7),
        model: "openai/gpt-4o-mini".into(),
    }
}

/// BENCH_EVICT_PAGES=N: one byte written in each of N pages of 4 KiB (BENCH_EVICT_STRIDE bytes
/// apart, 4096 by default) before each call, in a mapping kept off huge pages: with the default
/// stride this evicts TLB entries while touching only N cache lines; with a stride of 64 the
/// same N lines lie in a few pages (the cache effect alone, for comparison).
struct EvictPages {
    map: *mut u8,
    pages: usize,
    stride: usize,
}

impl EvictPages {
    fn new() -> Self {
        let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        let (pages, stride) = (env("BENCH_EVICT_PAGES", 0), env("BENCH_EVICT_STRIDE", 4096).max(1));
        if pages == 0 || cfg!(not(unix)) {
            return EvictPages { map: std::ptr::null_mut(), pages: 0, stride };
        }
        Self::map(pages, stride)
    }

    #[cfg(not(unix))]
    fn map(_: usize, _: usize) -> Self {
        unreachable!("unix only")
    }

    #[cfg(unix)]
    fn map(pages: usize, stride: usize) -> Self {
        let len = pages * stride;
        // SAFETY: a new private anonymous mapping (no file, no fixed address).
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap");
        // SAFETY: `map` is the mapping of `len` bytes made just above.
        unsafe { libc::madvise(map, len, libc::MADV_NOHUGEPAGE) };
        EvictPages { map: map.cast(), pages, stride }
    }

    fn touch(&mut self) {
        for i in 0..self.pages {
            // SAFETY: i * stride < pages * stride, the length of the mapping (never unmapped).
            unsafe {
                let byte = self.map.add(i * self.stride);
                byte.write_volatile(byte.read_volatile().wrapping_add(1));
            }
        }
    }
}

/// Bytes of the input and of the output: 1,024, or BENCH_TEXT_BYTES.
fn text_bytes() -> usize {
    std::env::var("BENCH_TEXT_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1024)
}

/// One call; returns the result code (of rd_wrap_end for Wrap).
fn call(client: rd_client, op: Op, p: &Payload) -> rd_result {
    unsafe {
        match op {
            Op::Wrap => {
                let mut call = rd_call::default();
                let rc = rd_wrap_begin(
                    client,
                    rd_call::default(),
                    p.module.as_ptr().cast(),
                    p.module.len(),
                    p.input.as_ptr().cast(),
                    p.input.len(),
                    std::ptr::null(),
                    &mut call,
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null_mut(),
                );
                if rc != rd_result::RD_OK {
                    return rc;
                }
                let mut r = empty_result();
                r.output = p.output.as_ptr().cast();
                r.output_len = p.output.len();
                r.model = p.model.as_ptr().cast();
                r.model_len = p.model.len();
                r.prompt_tokens = 250;
                r.completion_tokens = 250;
                rd_wrap_end(client, call, &r, std::ptr::null_mut())
            }
            Op::TrackAi => {
                let mut e: rd_event = std::mem::zeroed();
                e.input = p.input.as_ptr().cast();
                e.input_len = p.input.len();
                e.output = p.output.as_ptr().cast();
                e.output_len = p.output.len();
                e.model = p.model.as_ptr().cast();
                e.model_len = p.model.len();
                rd_track_ai(client, &e, std::ptr::null_mut(), 0, std::ptr::null_mut())
            }
        }
    }
}

/// Runs `threads` callers of `samples` timed calls each (after WARMUP untimed ones).
fn run(name: &str, config: &str, threads: usize, samples: usize, op: Op, pace: bool) -> Row {
    if std::env::var("BENCH_ONLY").is_ok_and(|only| !name.contains(&only)) {
        return Row { name: String::new(), samples: Vec::new(), codes: [0; 3] };
    }
    let client = new_client(config);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let p = payload();
                for _ in 0..WARMUP {
                    call(client, op, &p);
                }
                if std::env::var_os("BENCH_MARKS").is_some() {
                    eprintln!("marks {:p} {:p}", &raw const MARK_BEGIN, &raw const MARK_END);
                }
                let mut times = Vec::with_capacity(samples);
                let mut codes = [0u64; 3];
                let mut next = Instant::now();
                let pace = pace && std::env::var_os("BENCH_NOPACE").is_none();
                let pace_us: u64 = std::env::var("BENCH_PACE_US").ok().and_then(|v| v.parse().ok()).unwrap_or(PACE_US);
                let evict_kb: usize = std::env::var("BENCH_EVICT_KB").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
                let mut evict = vec![0u8; evict_kb * 1024];
                let mut pages = EvictPages::new();
                for _ in 0..samples {
                    if pace {
                        next += Duration::from_micros(pace_us);
                        while Instant::now() < next {
                            std::hint::spin_loop();
                        }
                    }
                    // Evicts this CPU's caches by writing one byte per line of a larger buffer.
                    for line in evict.chunks_mut(64) {
                        line[0] = line[0].wrapping_add(1);
                    }
                    pages.touch();
                    // The evictions' stores complete before the clock starts (or the call's first
                    // locked instruction would wait for them).
                    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
                    let t = Instant::now();
                    // SAFETY: reads of two statics that nothing writes (markers for a memory trace).
                    unsafe { std::ptr::read_volatile(&raw const MARK_BEGIN) };
                    let rc = call(client, op, &p);
                    // SAFETY: as above.
                    unsafe { std::ptr::read_volatile(&raw const MARK_END) };
                    times.push(t.elapsed().as_nanos() as u64);
                    codes[match rc {
                        rd_result::RD_OK => 0,
                        rd_result::RD_ERR_QUEUE_FULL => 1,
                        _ => 2,
                    }] += 1;
                }
                (times, codes)
            })
        })
        .collect();
    let mut samples_all = Vec::new();
    let mut codes = [0u64; 3];
    for h in handles {
        let (t, c) = h.join().expect("caller thread");
        samples_all.extend(t);
        for i in 0..3 {
            codes[i] += c[i];
        }
    }
    // Shut down briefly: a hanging sink's leftovers are dropped (not what is measured here).
    unsafe { rd_shutdown(client, 300, std::ptr::null_mut(), std::ptr::null_mut()) };
    samples_all.sort_unstable();
    Row { name: name.to_owned(), samples: samples_all, codes }
}

fn print_header() {
    println!(
        "| {:<66} | {:>7} | {:>8} | {:>8} | {:>8} | {:>9} | {:>9} | {:>7} | {:>9} |",
        "scenario", "samples", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "mean ns", "OK", "QUEUE_FULL"
    );
    println!(
        "|{:-<68}|{:->9}|{:->10}|{:->10}|{:->10}|{:->11}|{:->11}|{:->9}|{:->11}|",
        "", "", "", "", "", "", "", "", ""
    );
}

fn print_row(r: &Row) {
    if r.name.is_empty() {
        return;
    }
    let s = &r.samples;
    let mean = if s.is_empty() { 0 } else { s.iter().sum::<u64>() / s.len() as u64 };
    println!(
        "| {:<66} | {:>7} | {:>8} | {:>8} | {:>8} | {:>9} | {:>9} | {:>7} | {:>10} |",
        r.name,
        s.len(),
        pct(s, 0.50),
        pct(s, 0.99),
        pct(s, 0.999),
        s.last().copied().unwrap_or(0),
        mean,
        r.codes[0],
        r.codes[1]
    );
    if r.codes[2] > 0 {
        println!("|   !! {} calls returned another error", r.codes[2]);
    }
}

fn main() {
    let samples: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    println!(
        "bench_hot_path: {}; raindrop_dspy {}",
        machine(),
        unsafe { std::ffi::CStr::from_ptr(rd_version()) }.to_string_lossy()
    );
    println!(
        "{samples} timed calls per thread after {WARMUP} warm-up calls, one call per {PACE_US} us per thread; 1 KB input + 1 KB output; default config (tracing on: a wrapped call queues an event and a span)\n"
    );

    let healthy = Sink::start(Mode::Healthy);
    let hanging = Sink::start(Mode::Hanging);
    let too_many = Sink::start(Mode::TooManyRequests);
    // Room for every item of the run, so the hanging sink measures the enqueue path, not drops:
    // per call at most 2 items (event + span) of ~2.5 KB.
    let room = 2 * 2 * (samples + WARMUP) + 1_000;
    let cfg = |endpoint: String, extra: &str| {
        format!(
            r#"{{"api_key":"bench-key","endpoint":"{endpoint}","max_queue_items":{room},"max_queue_bytes":{}{extra}}}"#,
            1u64 << 31
        )
    };

    print_header();
    let mut rows = Vec::new();
    for (op, op_name) in [(Op::Wrap, "wrap_begin+wrap_end"), (Op::TrackAi, "rd_track_ai")] {
        for threads in [1, 2] {
            for (sink_name, endpoint) in [("healthy", healthy.endpoint()), ("hanging", hanging.endpoint())] {
                let row = run(
                    &format!("{op_name}, {threads} thread(s), sink {sink_name}"),
                    &cfg(endpoint, ""),
                    threads,
                    samples,
                    op,
                    true,
                );
                print_row(&row);
                rows.push(row);
            }
        }
    }
    // Tracing off: a wrapped call queues only its event.
    let row = run(
        "wrap_begin+wrap_end, 1 thread, healthy, tracing off",
        &cfg(healthy.endpoint(), r#","tracing_enabled":false"#),
        1,
        samples,
        Op::Wrap,
        true,
    );
    print_row(&row);
    // A sink answering 429 with Retry-After: 1 (the official Rust SDK 0.0.8 blocks ~2 s here).
    let row = run(
        "rd_track_ai, 1 thread, sink 429 + Retry-After: 1",
        &cfg(too_many.endpoint(), ""),
        1,
        samples,
        Op::TrackAi,
        true,
    );
    print_row(&row);
    let row = run(
        "wrap_begin+wrap_end, 1 thread, sink 429 + Retry-After: 1",
        &cfg(too_many.endpoint(), ""),
        1,
        samples,
        Op::Wrap,
        true,
    );
    print_row(&row);

    // Queue full: a small queue (1,000 items) filled by the warm-up against the hanging sink; every
    // timed call is then dropped and returns RD_ERR_QUEUE_FULL. Unpaced.
    let full_cfg = format!(r#"{{"api_key":"bench-key","endpoint":"{}","max_queue_items":1000}}"#, hanging.endpoint());
    for (op, op_name) in [(Op::Wrap, "wrap_begin+wrap_end"), (Op::TrackAi, "rd_track_ai")] {
        for threads in [1, 2] {
            let row = run(
                &format!("{op_name}, {threads} thread(s), QUEUE FULL (hanging, 1000 items)"),
                &full_cfg,
                threads,
                samples,
                op,
                false,
            );
            print_row(&row);
        }
    }
    println!();
    println!(
        "sink requests: healthy {}, 429 {}; hanging connections never answered",
        healthy.requests(),
        too_many.requests()
    );
    healthy.stop();
    hanging.stop();
    too_many.stop();
}
