//! The ABI's own facts: result names, version macros equal to rd_version(), distinct handle
//! types, the log callback, and final statistics from rd_shutdown.

mod support;

use raindrop_dspy::*;
use serde_json::json;
use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;
use std::time::Duration;
use support::capi::*;
use support::*;

fn name_of(code: i32) -> String {
    unsafe { CStr::from_ptr(rd_result_name(code)) }.to_str().unwrap().to_owned()
}

#[test]
fn every_result_code_has_its_header_name() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/raindrop_dspy.h")).unwrap();
    let before_name = header.split("} rd_result;").next().unwrap();
    let enum_body = before_name.rsplit("typedef enum {").next().unwrap();
    let mut seen = 0;
    for line in enum_body.lines().map(str::trim).filter(|l| l.starts_with("RD_")) {
        let (name, value) = line.trim_end_matches(',').split_once(" = ").unwrap();
        assert_eq!(name_of(value.parse().unwrap()), name);
        seen += 1;
    }
    assert!(seen >= 14, "{seen} codes in the header");
    assert_eq!(name_of(13), "RD_ERR_UNKNOWN");
    assert_eq!(name_of(-1), "RD_ERR_UNKNOWN");
}

#[test]
fn version_macros_equal_rd_version() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/raindrop_dspy.h")).unwrap();
    let define = |name: &str| {
        let prefix = format!("#define {name} ");
        header.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("{name} missing")).to_owned()
    };
    let string = define("RD_VERSION_STRING");
    assert_eq!(string, format!("\"{}\"", version()));
    let numbers =
        format!("{}.{}.{}", define("RD_VERSION_MAJOR"), define("RD_VERSION_MINOR"), define("RD_VERSION_PATCH"));
    assert_eq!(numbers, version());
}

/// A C program that passes a call handle where a client handle goes must not compile.
#[test]
fn mixing_client_and_call_handles_does_not_compile() {
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let compile = |body: &str| {
        let source = format!("#include \"raindrop_dspy.h\"\nvoid f(rd_client c, rd_call k) {{ {body} }}\n");
        let mut child = std::process::Command::new("cc")
            .args(["-std=c99", "-fsyntax-only", "-I", include, "-x", "c", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("a C compiler (cc)");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(source.as_bytes()).unwrap();
        child.wait().unwrap().success()
    };
    assert!(compile("(void)rd_flush(c, 0, 0); (void)k;"), "the well-typed call compiles");
    assert!(!compile("(void)rd_flush(k, 0, 0); (void)c;"), "a call handle as the client must not compile");
    assert!(!compile("(void)rd_wrap_end(c, c, 0, 0); (void)k;"), "a client handle as the call must not compile");
    // The structs are named (docs/c-api.md writes `struct rd_error e;`), so they can be declared
    // with the struct keyword and forward-declared in a user's own header.
    assert!(
        compile(
            "struct rd_error e; struct rd_stats s; struct rd_event ev; struct rd_signal sig; \
             struct rd_call_result r; struct rd_call_options o; struct rd_logger l; \
             (void)e; (void)s; (void)ev; (void)sig; (void)r; (void)o; (void)l; (void)c; (void)k;"
        ),
        "every struct of the header can be named with `struct`"
    );
}

static LINES: Mutex<Vec<(i32, String, usize)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record(user_data: *mut c_void, level: rd_log_level, message: *const c_char, len: usize) {
    let text = std::str::from_utf8(std::slice::from_raw_parts(message.cast::<u8>(), len)).unwrap().to_owned();
    assert_eq!(*message.add(len), 0, "NUL-terminated");
    LINES.lock().unwrap().push((level as i32, text, user_data as usize));
}

#[test]
fn log_callback_gets_core_warnings_until_shutdown() {
    let sink = Sink::start();
    let cfg = config(&sink, json!({"max_queue_items": 1, "flush_interval_ms": 60000, "debug": true}));
    let logger = rd_logger { log: Some(record), user_data: 0x5eed as *mut c_void };
    let mut h = rd_client::default();
    let mut e = new_err();
    let r = unsafe { rd_new(cfg.as_ptr().cast(), cfg.len(), &logger, &mut h, &mut e) };
    check(r, &e).unwrap();
    let mut c = Client::raw(h.id);
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    assert_err(c.track_ai(&Ev::ai("q", "a")), ERR_QUEUE_FULL, "queue");
    let (result, stats) = c.shutdown_with_stats(5000);
    result.unwrap();
    assert_eq!((stats.delivered, stats.dropped_queue_full), (1, 1));
    let after_shutdown = LINES.lock().unwrap().len();
    let lines = LINES.lock().unwrap().clone();
    assert!(
        lines.iter().any(|(level, text, data)| *level == rd_log_level::RD_LOG_WARN as i32
            && text.contains("queue full")
            && *data == 0x5eed),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(level, _, _)| *level == rd_log_level::RD_LOG_DEBUG as i32), "debug lines: {lines:?}");
    assert!(!lines.iter().any(|(_, text, _)| text.contains("test-key-123")), "the api key never reaches the log");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(LINES.lock().unwrap().len(), after_shutdown, "no line after rd_shutdown returned");
}

#[test]
fn shutdown_hands_back_final_stats_and_reports_drops() {
    // Delivered: OK, with the final counts.
    let sink = Sink::start();
    let mut c = client(&sink, json!({}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    let h = c.h;
    let (result, stats) = c.shutdown_with_stats(5000);
    result.unwrap();
    assert_eq!((stats.queued, stats.delivered), (1, 1));
    assert_err(Client::raw(h).stats(), ERR_INVALID_HANDLE, "client");
    // A second shutdown: invalid handle, stats untouched.
    let mut stats = rd_stats { queued: 77, ..Default::default() };
    let mut e = new_err();
    let r = unsafe { rd_shutdown(rd_client { id: h }, 100, &mut stats, &mut e) };
    assert_err(check(r, &e), ERR_INVALID_HANDLE, "client");
    assert_eq!(stats.queued, 77);

    // Rejected while draining: never OK.
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::status(400, r#"{"error":"bad"}"#));
    let mut c = client(&sink, json!({"flush_interval_ms": 60000}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    let (result, stats) = c.shutdown_with_stats(5000);
    assert_err(result, ERR_ITEMS_DROPPED, "dropped");
    assert_eq!(stats.dropped_rejected, 1);

    // A Retry-After past the deadline: dropped at shutdown, never OK, counted.
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::status(429, "{}").with_header("Retry-After", "20"));
    let mut c = client(&sink, json!({"flush_interval_ms": 60000, "retry_after_cap_ms": 30000}));
    c.track_ai(&Ev::ai("q", "a")).unwrap();
    let (result, stats) = c.shutdown_with_stats(1000);
    let code = result.unwrap_err().code;
    assert!(code == ERR_ITEMS_DROPPED || code == ERR_TIMEOUT, "{code}");
    assert_eq!(stats.dropped_shutdown, 1, "{stats:?}");
    assert_eq!(stats.delivered, 0);
}
