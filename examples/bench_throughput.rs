//! Sustained delivery rate and memory bound, through the C ABI.
//!
//!     cargo run --release --example bench_throughput [-- EVENTS [memory|throughput]]
//!
//! Throughput: one caller thread offers EVENTS events (default 300,000) as fast as it can to a
//! loopback HTTP/1.1 keep-alive sink that answers 200 at once; on RD_ERR_QUEUE_FULL it yields and
//! offers the same event again, so every event is eventually delivered. The rate is delivered
//! events / (first offer .. rd_flush returned), counted both by the sink (items in the
//! `events/track` bodies) and by rd_get_stats.
//!
//! Memory (run first): offers 1,000,000 events (1 KB input + 1 KB output) to a sink that is down (connection
//! refused) with the default queue bound (10,000 items / 64 MiB), and reports the peak RSS
//! (VmHWM) before and after and the drop count; then 100,000 events with a 64 KB output, where
//! the 64 MiB byte bound is the one that binds.
//!
//! A benchmark, not a test: it prints tables and asserts nothing about time.

mod bench_sink;

use bench_sink::*;
use raindrop_dspy::*;
use std::time::Instant;

fn wrap(client: rd_client, input: &str, output: &str, model: &str) -> rd_result {
    unsafe {
        let module = "qa.Predict";
        let mut call = rd_call::default();
        let rc = rd_wrap_begin(
            client,
            rd_call::default(),
            module.as_ptr().cast(),
            module.len(),
            input.as_ptr().cast(),
            input.len(),
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
        r.output = output.as_ptr().cast();
        r.output_len = output.len();
        r.model = model.as_ptr().cast();
        r.model_len = model.len();
        rd_wrap_end(client, call, &r, std::ptr::null_mut())
    }
}

#[derive(Clone, Copy)]
enum Op {
    TrackAi,
    /// rd_wrap_begin + rd_wrap_end with tracing on: each call queues an event and a span.
    WrapTraced,
}

/// CPU time (user + system) of this process's live `raindrop-sender` threads, in seconds.
fn sender_cpu_secs() -> f64 {
    let ticks = 100.0; // USER_HZ
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "raindrop-sender" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        total += (field(14) + field(15)) / ticks;
    }
    total
}

fn sustained(name: &str, op: Op, events: usize, text_bytes: usize) {
    if std::env::var("BENCH_ONLY").is_ok_and(|only| !name.contains(&only)) {
        return;
    }
    let sink = Sink::start(Mode::Healthy);
    let tracing = matches!(op, Op::WrapTraced);
    let config = format!(r#"{{"api_key":"bench-key","endpoint":"{}","tracing_enabled":{tracing}}}"#, sink.endpoint());
    let client = new_client(&config);
    let (input, output, model) = (text_of(text_bytes, 1), text_of(text_bytes, 5), "openai/gpt-4o-mini".to_owned());
    let mut full_retries = 0u64;
    let started = Instant::now();
    let mut wrap_drops = 0u64;
    for i in 0..events {
        // Keep the queue under 90 % so wrapped calls are not dropped: yield while it is that full.
        if i % 64 == 0 {
            while stats(client).queue_depth > 9_000 {
                std::thread::yield_now();
            }
        }
        loop {
            let rc = match op {
                Op::TrackAi => track_ai(client, &input, &output, &model),
                Op::WrapTraced => wrap(client, &input, &output, &model),
            };
            match rc {
                rd_result::RD_OK => break,
                // A one-shot event is offered again until it goes in.
                rd_result::RD_ERR_QUEUE_FULL if matches!(op, Op::TrackAi) => {
                    full_retries += 1;
                    std::thread::yield_now();
                }
                // A wrapped call is not (its event may be in and only its span dropped).
                rd_result::RD_ERR_QUEUE_FULL => {
                    wrap_drops += 1;
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let offered = started.elapsed();
    let rc = unsafe { rd_flush(client, 60_000, std::ptr::null_mut()) };
    let elapsed = started.elapsed();
    let s = stats(client);
    let sender_cpu = sender_cpu_secs();
    let secs = elapsed.as_secs_f64();
    let server_events = sink.events();
    println!(
        "| {:<44} | {:>7} | {:>6.2} | {:>6.2} | {:>10.0} | {:>10.0} | {:>10.0} | {:>8} | {:>8} | {:>7.1} | {:>8.2} | {:>8} |",
        name,
        events,
        offered.as_secs_f64(),
        secs,
        server_events as f64 / secs,
        s.delivered as f64 / secs,
        sink.spans() as f64 / secs,
        s.requests,
        full_retries + wrap_drops,
        sink.body_bytes() as f64 / secs / 1e6,
        sender_cpu * 1e6 / s.delivered.max(1) as f64,
        if rc == rd_result::RD_OK { "ok" } else { "TIMEOUT" },
    );
    if server_events != events as u64 {
        println!("|   note: the sink counted {server_events} events for {events} offered (stats: delivered {}, dropped_queue_full {})", s.delivered, s.dropped_queue_full);
    }
    unsafe { rd_shutdown(client, 5_000, std::ptr::null_mut(), std::ptr::null_mut()) };
    sink.stop();
}

fn memory(name: &str, offers: usize, input_bytes: usize, output_bytes: usize) {
    let endpoint = refused_endpoint();
    let config = format!(r#"{{"api_key":"bench-key","endpoint":"{endpoint}"}}"#);
    let (hwm_before, _) = rss_kib();
    let client = new_client(&config);
    let (input, output, model) = (text_of(input_bytes, 2), text_of(output_bytes, 3), "openai/gpt-4o-mini".to_owned());
    let mut codes = [0u64; 3];
    let started = Instant::now();
    for _ in 0..offers {
        let rc = track_ai(client, &input, &output, &model);
        codes[match rc {
            rd_result::RD_OK => 0,
            rd_result::RD_ERR_QUEUE_FULL => 1,
            _ => 2,
        }] += 1;
    }
    let took = started.elapsed();
    let (hwm_after, rss_after) = rss_kib();
    let s = stats(client);
    println!(
        "| {:<34} | {:>9} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>9} | {:>11} | {:>6} | {:>6.0} |",
        name,
        offers,
        hwm_before / 1024,
        hwm_after / 1024,
        (hwm_after.saturating_sub(hwm_before)) / 1024,
        rss_after / 1024,
        s.queued,
        s.queue_depth,
        s.dropped_queue_full,
        codes[2],
        took.as_nanos() as f64 / offers as f64,
    );
    unsafe { rd_shutdown(client, 1_000, std::ptr::null_mut(), std::ptr::null_mut()) };
}

fn main() {
    let events: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    println!(
        "bench_throughput: {}; raindrop_dspy {}",
        machine(),
        unsafe { std::ffi::CStr::from_ptr(rd_version()) }.to_string_lossy()
    );
    let which = std::env::args().nth(2).unwrap_or_default();
    if which != "throughput" {
        println!("\nMemory (run first, so the peak RSS is this part's): with the sink down (connection refused), default queue bound 10,000 items / 64 MiB\n");
        println!(
            "| {:<34} | {:>9} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>9} | {:>11} | {:>6} | {:>6} |",
            "offered rd_track_ai events",
            "offers",
            "HWM0 MiB",
            "HWM1 MiB",
            "+MiB",
            "RSS MiB",
            "queued",
            "depth",
            "dropped_full",
            "other",
            "ns/op"
        );
        println!(
            "|{:-<36}|{:->11}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|{:->11}|{:->13}|{:->8}|{:->8}|",
            "", "", "", "", "", "", "", "", "", "", ""
        );
        memory("1 KB input + 1 KB output", 1_000_000, 1024, 1024);
        memory("1 KB input + 64 KB output", 100_000, 1024, 64 * 1024);
    }
    if which != "memory" {
        println!("\nThroughput: sustained delivery to a loopback keep-alive sink (default config: batches of 100, queue 10,000)\n");
        println!(
            "| {:<44} | {:>7} | {:>6} | {:>6} | {:>10} | {:>10} | {:>10} | {:>8} | {:>8} | {:>7} | {:>8} | {:>8} |",
            "workload",
            "events",
            "offer s",
            "total s",
            "sink ev/s",
            "items/s",
            "spans/s",
            "requests",
            "q-full",
            "MB/s",
            "sender us/item",
            "flush"
        );
        println!(
            "|{:-<46}|{:->9}|{:->8}|{:->8}|{:->12}|{:->12}|{:->12}|{:->10}|{:->10}|{:->9}|{:->10}|{:->10}|",
            "", "", "", "", "", "", "", "", "", "", "", ""
        );
        sustained("rd_track_ai, 100 B input + 100 B output", Op::TrackAi, events, 100);
        sustained("rd_track_ai, 1 KB input + 1 KB output", Op::TrackAi, events / 3, 1024);
        sustained("wrap begin+end (tracing on), 100 B + 100 B", Op::WrapTraced, events / 3, 100);
    }
}
