//! How long `rd_shutdown` takes against a sink that accepts connections and never answers.
//!
//!     cargo run --release --example bench_shutdown
//!
//! For each timeout, a fresh client queues 250 events (two full batches go out at once and the
//! first POST hangs), waits 300 ms so that request is in flight, then times `rd_shutdown`.
//! Goal (contract §3): returns within the deadline + 100 ms. A benchmark: it asserts nothing.

mod bench_sink;

use bench_sink::*;
use raindrop_dspy::*;
use std::time::{Duration, Instant};

fn main() {
    println!(
        "bench_shutdown: {}; raindrop_dspy {}",
        machine(),
        unsafe { std::ffi::CStr::from_ptr(rd_version()) }.to_string_lossy()
    );
    println!("\nrd_shutdown against a hanging sink (accepts, never answers), 250 events queued, a POST in flight\n");
    println!(
        "| {:<50} | {:>11} | {:>9} | {:>9} | {:<22} | {:>9} | {:>16} | {:>4} |",
        "timeout", "deadline ms", "took ms", "over ms", "result", "requests", "queued", "goal"
    );
    println!("|{:-<52}|{:->13}|{:->11}|{:->11}|{:-<24}|{:->11}|{:->18}|{:->6}|", "", "", "", "", "", "", "", "");
    let hanging = Sink::start(Mode::Hanging);
    let cases: [(&str, i64, &str, i64); 4] = [
        ("rd_shutdown(client, 2000)", 2000, "", 2000),
        ("rd_shutdown(client, 5000)", 5000, "", 5000),
        ("rd_shutdown(client, -1), default 10 s", -1, "", 10_000),
        ("rd_shutdown(client, -1), shutdown_timeout_ms 3000", -1, r#","shutdown_timeout_ms":3000"#, 3000),
    ];
    let input = text_of(1024, 1);
    for (name, timeout, extra, deadline) in cases {
        let config = format!(r#"{{"api_key":"bench-key","endpoint":"{}"{extra}}}"#, hanging.endpoint());
        let client = new_client(&config);
        for _ in 0..250 {
            let mut e: rd_event = unsafe { std::mem::zeroed() };
            e.input = input.as_ptr().cast();
            e.input_len = input.len();
            unsafe { rd_track_ai(client, &e, std::ptr::null_mut(), 0, std::ptr::null_mut()) };
        }
        std::thread::sleep(Duration::from_millis(300));
        let before = stats(client);
        let started = Instant::now();
        let rc = unsafe { rd_shutdown(client, timeout, std::ptr::null_mut(), std::ptr::null_mut()) };
        let took = started.elapsed().as_secs_f64() * 1000.0;
        // The handle is freed: stats are no longer readable (RD_ERR_INVALID_HANDLE), so report
        // what was known just before, plus the result code.
        let mut after: rd_stats = Default::default();
        let freed =
            unsafe { rd_get_stats(client, &mut after, std::ptr::null_mut()) } == rd_result::RD_ERR_INVALID_HANDLE;
        let over = took - deadline as f64;
        println!(
            "| {:<50} | {:>11} | {:>9.1} | {:>9.1} | {:<22} | {:>9} | {:>16} | {:>4} |",
            name,
            deadline,
            took,
            over,
            format!("{rc:?}{}", if freed { ", freed" } else { "" }),
            before.requests,
            before.queued,
            if over <= 100.0 { "met" } else { "MISS" }
        );
    }
    hanging.stop();
}
