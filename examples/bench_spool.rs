//! The durable spool's cost and the window a SIGKILL can still lose, through the C ABI.
//!
//!     cargo run --release --example bench_spool [-- EVENTS [throughput|latency|kill]]
//!
//! Throughput: one caller thread offers EVENTS `rd_track_ai` events (default 200,000) as fast as
//! it can to a loopback keep-alive sink that answers 200 at once, re-offering on
//! RD_ERR_QUEUE_FULL; rate = delivered / (first offer .. rd_flush returned), spool off and on.
//! "threads CPU µs/item" is the CPU time of the sender and spool threads per delivered event.
//!
//! Latency: `rd_track_ai` (1 KB input + 1 KB output) timed one call every 100 µs, 20,000 calls
//! after 1,000 warm-up calls, spool off and on, with a healthy sink and with a sink that is down.
//!
//! Kill: a child process (this binary) tracks events at a fixed rate into a spool with the sink
//! down (connection refused) and writes how many calls returned RD_OK to a counter file; the
//! parent SIGKILLs it at a random moment, then a client with a `file://` sink replays the spool,
//! and the events offered but not replayed are counted: the loss window, in events and in ms of
//! production.
//!
//! The spool directory is under the system temp dir (`BENCH_SPOOL_DIR` to change it). A
//! benchmark, not a test: it prints tables and asserts nothing about time.

mod bench_sink;

use bench_sink::*;
use raindrop_dspy::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "openai/gpt-4o-mini";

fn spool_root() -> PathBuf {
    std::env::var_os("BENCH_SPOOL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("rd-bench-spool-{}", std::process::id())))
}

fn spool_key(dir: Option<&Path>) -> String {
    dir.map_or(String::new(), |dir| format!(r#","spool_dir":"{}""#, dir.display()))
}

/// CPU seconds of this process's threads with one of these names.
fn threads_cpu_secs(names: &[&str]) -> f64 {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !names.contains(&comm.trim()) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        total += (field(14) + field(15)) / 100.0;
    }
    total
}

fn throughput(events: usize, text_bytes: usize, dir: Option<&Path>) {
    let sink = Sink::start(Mode::Healthy);
    let config = format!(r#"{{"api_key":"bench-key","endpoint":"{}"{}}}"#, sink.endpoint(), spool_key(dir));
    let client = new_client(&config);
    let (input, output) = (text_of(text_bytes, 1), text_of(text_bytes, 5));
    let started = Instant::now();
    for i in 0..events {
        if i % 64 == 0 {
            while stats(client).queue_depth > 9_000 {
                std::thread::yield_now();
            }
        }
        while track_ai(client, &input, &output, MODEL) == rd_result::RD_ERR_QUEUE_FULL {
            std::thread::yield_now();
        }
    }
    let rc = unsafe { rd_flush(client, 60_000, std::ptr::null_mut()) };
    let secs = started.elapsed().as_secs_f64();
    let s = stats(client);
    let cpu = threads_cpu_secs(&["raindrop-sender", "raindrop-spool"]);
    println!(
        "| {:<32} | {:<5} | {:>7} | {:>6.2} | {:>10.0} | {:>9} | {:>8.2} | {:>7} |",
        format!("rd_track_ai, {text_bytes} B in + {text_bytes} B out"),
        if dir.is_some() { "on" } else { "off" },
        events,
        secs,
        sink.events() as f64 / secs,
        s.spooled,
        cpu * 1e6 / s.delivered.max(1) as f64,
        if rc == rd_result::RD_OK { "ok" } else { "TIMEOUT" },
    );
    unsafe { rd_shutdown(client, 5_000, std::ptr::null_mut(), std::ptr::null_mut()) };
    sink.stop();
}

fn latency(name: &str, endpoint: &str, dir: Option<&Path>) {
    const WARMUP: usize = 1_000;
    const SAMPLES: usize = 20_000;
    let config = format!(
        r#"{{"api_key":"bench-key","endpoint":"{endpoint}","max_queue_items":100000,"max_queue_bytes":1073741824{}}}"#,
        spool_key(dir)
    );
    let client = new_client(&config);
    let (input, output) = (text_of(1024, 1), text_of(1024, 5));
    let mut samples = Vec::with_capacity(SAMPLES);
    let mut full = 0;
    for i in 0..WARMUP + SAMPLES {
        let next = Instant::now() + Duration::from_micros(100);
        let t = Instant::now();
        let rc = track_ai(client, &input, &output, MODEL);
        let took = t.elapsed().as_nanos() as u64;
        if i >= WARMUP {
            samples.push(took);
            full += u64::from(rc == rd_result::RD_ERR_QUEUE_FULL);
        }
        while Instant::now() < next {
            std::hint::spin_loop();
        }
    }
    samples.sort_unstable();
    let s = stats(client);
    println!(
        "| {:<28} | {:<5} | {:>7} | {:>7} | {:>8} | {:>9} | {:>8} | {:>6} |",
        name,
        if dir.is_some() { "on" } else { "off" },
        pct(&samples, 0.50),
        pct(&samples, 0.99),
        pct(&samples, 0.999),
        samples[samples.len() - 1],
        s.spooled,
        full
    );
    unsafe { rd_shutdown(client, 1_000, std::ptr::null_mut(), std::ptr::null_mut()) };
}

/// The child of `kill`: tracks at `rate` events/s into the spool with the sink down and stores
/// the number of accepted calls in the counter file after each call.
fn kill_child(dir: &str, counter: &str, rate: u64, flush_ms: u64) {
    let config = format!(
        r#"{{"api_key":"bench-key","endpoint":"{}","spool_dir":"{dir}","flush_interval_ms":{flush_ms}}}"#,
        refused_endpoint()
    );
    let client = new_client(&config);
    let counter = std::fs::OpenOptions::new().write(true).open(counter).expect("counter file");
    let output = text_of(200, 5);
    println!("started");
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let mut next = Instant::now();
    let mut accepted = 0u64;
    loop {
        let input = format!("n={accepted} ");
        if track_ai(client, &input, &output, MODEL) == rd_result::RD_OK {
            accepted += 1;
            counter.write_all_at(&accepted.to_le_bytes(), 0).expect("counter write");
        }
        next += period;
        while Instant::now() < next {
            std::hint::spin_loop();
        }
    }
}

/// One kill: returns (accepted, replayed, lost indices are all at the end).
fn kill_once(dir: &Path, rate: u64, flush_ms: u64, after: Duration) -> (u64, u64, bool) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let counter = dir.with_extension("counter");
    std::fs::write(&counter, [0u8; 8]).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["kill-child", &dir.display().to_string(), &counter.display().to_string()])
        .args([rate.to_string(), flush_ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    std::thread::sleep(after);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let accepted = u64::from_le_bytes(std::fs::read(&counter).unwrap()[..8].try_into().unwrap());

    let out = dir.with_extension("jsonl");
    let _ = std::fs::remove_file(&out);
    let config =
        format!(r#"{{"api_key":"bench-key","endpoint":"file://{}","spool_dir":"{}"}}"#, out.display(), dir.display());
    let client = new_client(&config);
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats(client).spool_pending > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { rd_shutdown(client, 5_000, std::ptr::null_mut(), std::ptr::null_mut()) };
    let mut seen = Vec::new();
    for line in std::fs::read_to_string(&out).unwrap_or_default().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for event in v["body"].as_array().into_iter().flatten() {
            let input = event["ai_data"]["input"].as_str().unwrap_or_default();
            if let Some(n) =
                input.strip_prefix("n=").and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok())
            {
                seen.push(n);
            }
        }
    }
    seen.sort_unstable();
    let replayed = seen.len() as u64;
    // Exactly once, and what is missing is the newest events only.
    let prefix = seen.iter().enumerate().all(|(i, n)| *n == i as u64);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&counter);
    (accepted, replayed, prefix)
}

fn kill(root: &Path) {
    println!("\nSIGKILL loss window: a child tracks at a fixed rate into the spool (sink down), is killed at a random moment 1-3 s in; a new client replays the spool\n");
    println!(
        "| {:>8} | {:>9} | {:>5} | {:>10} | {:>10} | {:>9} | {:>9} | {:>12} | {:>10} |",
        "events/s", "flush ms", "kills", "accepted", "replayed", "lost max", "lost mean", "max lost ms", "once+prefix"
    );
    println!(
        "|{:->10}|{:->11}|{:->7}|{:->12}|{:->12}|{:->11}|{:->11}|{:->14}|{:->12}|",
        "", "", "", "", "", "", "", "", ""
    );
    let mut seed = std::process::id() as u64 | 1;
    for (rate, flush_ms) in [(100u64, 1000u64), (1_000, 1000), (10_000, 1000), (1_000, 100)] {
        let kills = 5;
        let (mut total_accepted, mut total_replayed, mut max_lost, mut all_prefix) = (0, 0, 0, true);
        for k in 0..kills {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let after = Duration::from_millis(1_000 + seed % 2_000);
            let (accepted, replayed, prefix) =
                kill_once(&root.join(format!("kill-{rate}-{flush_ms}-{k}")), rate, flush_ms, after);
            total_accepted += accepted;
            total_replayed += replayed;
            max_lost = max_lost.max(accepted.saturating_sub(replayed));
            all_prefix &= prefix && replayed <= accepted;
        }
        let mean = (total_accepted - total_replayed.min(total_accepted)) as f64 / kills as f64;
        println!(
            "| {:>8} | {:>9} | {:>5} | {:>10} | {:>10} | {:>9} | {:>9.1} | {:>12.0} | {:>10} |",
            rate,
            flush_ms,
            kills,
            total_accepted,
            total_replayed,
            max_lost,
            mean,
            max_lost as f64 * 1000.0 / rate as f64,
            if all_prefix { "yes" } else { "NO" }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("kill-child") {
        let rate = args[4].parse().unwrap();
        let flush_ms = args[5].parse().unwrap();
        return kill_child(&args[2], &args[3], rate, flush_ms);
    }
    let events: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let which = args.get(2).cloned().unwrap_or_default();
    let root = spool_root();
    std::fs::create_dir_all(&root).unwrap();
    println!(
        "bench_spool: {}; raindrop_dspy {}; spool under {}",
        machine(),
        unsafe { std::ffi::CStr::from_ptr(rd_version()) }.to_string_lossy(),
        root.display()
    );
    if which.is_empty() || which == "throughput" {
        println!("\nThroughput to a healthy loopback sink (default config: batches of 100, queue 10,000)\n");
        println!(
            "| {:<32} | {:<5} | {:>7} | {:>6} | {:>10} | {:>9} | {:>8} | {:>7} |",
            "workload", "spool", "events", "s", "sink ev/s", "spooled", "CPU us/ev", "flush"
        );
        println!("|{:-<34}|{:-<7}|{:->9}|{:->8}|{:->12}|{:->11}|{:->10}|{:->9}|", "", "", "", "", "", "", "", "");
        for bytes in [100, 1024] {
            let n = if bytes == 100 { events } else { events / 3 };
            throughput(n, bytes, None);
            throughput(n, bytes, Some(&root.join(format!("tp-{bytes}"))));
        }
    }
    if which.is_empty() || which == "latency" {
        println!("\nrd_track_ai latency, ns (1 KB in + 1 KB out, one call per 100 us, 20,000 timed calls)\n");
        println!(
            "| {:<28} | {:<5} | {:>7} | {:>7} | {:>8} | {:>9} | {:>8} | {:>6} |",
            "sink", "spool", "p50", "p99", "p99.9", "max", "spooled", "q-full"
        );
        println!("|{:-<30}|{:-<7}|{:->9}|{:->9}|{:->10}|{:->11}|{:->10}|{:->8}|", "", "", "", "", "", "", "", "");
        let healthy = Sink::start(Mode::Healthy);
        let down = refused_endpoint();
        for (name, endpoint) in [("healthy", healthy.endpoint()), ("down (connection refused)", down)] {
            latency(name, &endpoint, None);
            let dir = root.join(format!("lat-{}", name.len()));
            latency(name, &endpoint, Some(&dir));
            let _ = std::fs::remove_dir_all(&dir);
        }
        healthy.stop();
    }
    if which.is_empty() || which == "kill" {
        kill(&root);
    }
    let _ = std::fs::remove_dir_all(&root);
}
