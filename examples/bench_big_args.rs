//! What one hot-path call costs with a huge argument (issue 13 #2): the cost must follow the
//! caps (1,000,000 characters of text, RD_MAX_JSON_BYTES of JSON), not the raw input.
//!
//!     cargo run --release --example bench_big_args [-- RUNS]     (BENCH_ONLY=substring: some rows)
//!
//! A benchmark, not a test: it prints a table and asserts nothing about time. Each row is one
//! call (`rd_track_ai` to a `file:///dev/null` sink, whose sender is kept idle by a long flush
//! interval), the median and the worst of RUNS runs (default 5), and how much the process's peak
//! RSS grew during the first call (the input itself is allocated and touched before).

use raindrop_dspy::*;
use std::ffi::c_char;
use std::ptr;
use std::time::Instant;

const MB: usize = 1 << 20;

fn peak_rss_kb() -> i64 {
    // Safety: getrusage fills the struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss
}

fn client() -> rd_client {
    let config = r#"{"endpoint": "file:///dev/null", "api_key": "k", "flush_interval_ms": 600000,
                     "max_queue_bytes": 1073741824}"#;
    let mut client = rd_client::default();
    // Safety: config is borrowed for the call.
    let code = unsafe { rd_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut client, ptr::null_mut()) };
    assert_eq!(code, rd_result::RD_OK);
    client
}

enum Field {
    Input,
    Properties,
}

fn call(client: rd_client, field: &Field, data: &[u8]) -> rd_result {
    // Safety: rd_event is pointers and lengths; all NULL / 0 is "absent".
    let mut event: rd_event = unsafe { std::mem::zeroed() };
    let (p, n) = (data.as_ptr().cast::<c_char>(), data.len());
    match field {
        Field::Input => (event.input, event.input_len) = (p, n),
        Field::Properties => {
            (event.input, event.input_len) = (c"q".as_ptr(), 1);
            (event.properties_json, event.properties_json_len) = (p, n);
        }
    }
    // Safety: `data` outlives the call.
    unsafe { rd_track_ai(client, &event, ptr::null_mut(), 0, ptr::null_mut()) }
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let client = client();
    // Each input is made (and touched) just before its row and freed after it.
    type Make = Box<dyn Fn() -> Vec<u8>>;
    let json = |size: usize| {
        let mut json = format!(r#"{{"big": "{}"}}"#, "p".repeat(size - 12)).into_bytes();
        json.resize(size, b' ');
        json
    };
    let cases: Vec<(String, Field, Make)> = vec![
        (
            "input 256 MB, one invalid byte".into(),
            Field::Input,
            Box::new(|| {
                let mut data = vec![b'x'; 256 * MB];
                data[17] = 0xff;
                data
            }),
        ),
        ("input 256 MB, valid".into(), Field::Input, Box::new(|| vec![b'x'; 256 * MB])),
        ("input 64 MB, valid".into(), Field::Input, Box::new(|| vec![b'x'; 64 * MB])),
        ("input 1 MB, valid".into(), Field::Input, Box::new(|| vec![b'x'; MB])),
        ("properties_json 256 MB (over the limit)".into(), Field::Properties, Box::new(move || json(256 * MB))),
        (
            format!("properties_json {RD_MAX_JSON_BYTES} B (at the limit)"),
            Field::Properties,
            Box::new(move || json(RD_MAX_JSON_BYTES)),
        ),
        ("properties_json 1 MB".into(), Field::Properties, Box::new(move || json(MB))),
    ];
    println!("| call (rd_track_ai) | result | median ms | max ms | peak RSS growth, first call |");
    println!("|---|---|---|---|---|");
    // BENCH_ONLY=substring runs only the rows whose name contains it.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (name, field, make) in cases.iter().filter(|(name, _, _)| name.contains(&only)) {
        let data = make();
        let before = peak_rss_kb();
        let mut times = Vec::new();
        let mut code = rd_result::RD_OK;
        let mut growth = 0;
        for run in 0..runs {
            let start = Instant::now();
            code = call(client, field, &data);
            times.push(start.elapsed().as_secs_f64() * 1e3);
            if run == 0 {
                growth = (peak_rss_kb() - before) / 1024;
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.2} | {:.2} | {growth} MB |",
            rd_result_name_str(code),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    // Safety: a live handle.
    unsafe { rd_shutdown(client, 10_000, ptr::null_mut(), ptr::null_mut()) };
}

fn rd_result_name_str(code: rd_result) -> String {
    // Safety: rd_result_name returns a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(rd_result_name(code as i32)) }.to_string_lossy().into_owned()
}
