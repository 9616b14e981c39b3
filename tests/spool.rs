//! The durable spool (`spool_dir`) through the C ABI: a SIGKILLed process with the sink down
//! loses nothing after a restart, and a full disk, an unusable directory or damaged spool files
//! each give one warning and lose nothing that was valid. The faulty clients run in child
//! processes (this test binary, running one ignored `child_*` test) so the parent can kill them
//! and read their stderr.

mod support;

use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::capi::*;
use support::*;

const N: usize = 300;

/// An endpoint nothing listens on: connections are refused (the sink is down).
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1/")
}

fn child(test: &str, dir: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--ignored", "--nocapture", "--test-threads=1"])
        .env("RD_SPOOL_TEST_DIR", dir)
        .env_remove("RAINDROP_WRITE_KEY");
    command
}

fn test_dir() -> PathBuf {
    PathBuf::from(std::env::var("RD_SPOOL_TEST_DIR").expect("run by the parent test"))
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "seg"))
                .collect()
        })
        .unwrap_or_default()
}

fn ids_delivered(sink: &Sink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for event in sink.events() {
        *seen.entry(event["event_id"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    seen
}

/// Tracks N events with the sink down, waits until the sender spooled them all, says so on
/// stdout (with every event id), and waits to be killed.
#[test]
#[ignore = "runs as a child process of sigkill_with_the_sink_down_loses_nothing"]
fn child_spool_then_wait_to_be_killed() {
    let config = config_for(&dead_endpoint(), json!({"spool_dir": test_dir(), "retry_max_backoff_ms": 100}));
    let c = new_client(&config).unwrap();
    for i in 0..N {
        let id = c.track_ai(&Ev::ai(&format!("question {i}"), "answer")).unwrap();
        println!("ID {id}");
    }
    let stats = c.wait_stats(Duration::from_secs(30), |s| s.spooled as usize == N);
    assert_eq!(stats.spooled as usize, N, "{stats:?}");
    assert_eq!(stats.delivered, 0);
    println!("SPOOLED");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn sigkill_with_the_sink_down_loses_nothing() {
    let dir = temp_path("spool-kill");
    let mut process =
        child("child_spool_then_wait_to_be_killed", &dir).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut ids = Vec::new();
    for line in BufReader::new(process.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest may print its "test … " prefix on the same line as the first output.
        if let Some(at) = line.find("ID ") {
            ids.push(line[at + 3..].to_owned());
        }
        if line == "SPOOLED" {
            break;
        }
    }
    assert_eq!(ids.len(), N, "the child did not spool its events");
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(process.id() as i32, libc::SIGKILL) }, 0);
    process.wait().unwrap();
    assert!(!segments(&dir).is_empty(), "the killed process left its spool");

    // Restart with the sink up: everything arrives once, before anything new.
    let sink = Sink::start();
    let mut c = client(&sink, json!({"spool_dir": dir}));
    let fresh = c.track_ai(&Ev::ai("after the restart", "a")).unwrap();
    assert!(sink.wait_items(EVENTS, N + 1, Duration::from_secs(30)), "got {}", sink.events().len());
    c.flush(10_000).unwrap();
    let stats = c.stats().unwrap();
    c.shutdown(5000).unwrap();
    let seen = ids_delivered(&sink);
    for id in &ids {
        assert_eq!(seen.get(id), Some(&1), "event {id} not delivered exactly once");
    }
    assert_eq!(seen.len(), N + 1);
    assert_eq!(sink.events().last().unwrap()["event_id"], fresh.as_str(), "replay goes before new data");
    assert_eq!(stats.replayed as usize, N, "{stats:?}");
    assert_eq!(stats.delivered, 1);
    assert!(segments(&dir).is_empty(), "delivered segments are deleted");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A spool directory that cannot be created (under a regular file: root ignores permission
/// bits, this fails for everyone): one warning, and the client delivers without the spool.
#[test]
#[ignore = "runs as a child process of an_unusable_directory_warns_once_and_delivers"]
fn child_unusable_directory() {
    let dir = test_dir();
    std::fs::write(&dir, b"a regular file").unwrap();
    let sink = Sink::start();
    let mut c = client(&sink, json!({"spool_dir": dir.join("spool")}));
    for i in 0..50 {
        c.track_ai(&Ev::ai(&format!("q{i}"), "a")).unwrap();
    }
    c.flush(10_000).unwrap();
    let stats = c.stats().unwrap();
    c.shutdown(5000).unwrap();
    assert_eq!(sink.events().len(), 50);
    assert_eq!((stats.delivered, stats.spooled), (50, 0), "{stats:?}");
    let _ = std::fs::remove_file(&dir);
}

#[test]
fn an_unusable_directory_warns_once_and_delivers() {
    let out = child("child_unusable_directory", &temp_path("spool-file")).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("cannot use spool_dir").count(), 1, "{stderr}");
}

/// A full disk (RLIMIT_FSIZE: writes past the limit fail with EFBIG): one warning, nothing lost.
#[test]
#[ignore = "runs as a child process of a_full_disk_warns_once_and_loses_nothing"]
fn child_full_disk() {
    // SAFETY: setting this process's own signal disposition and file size limit.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit { rlim_cur: 20_000, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::status(503, "down"));
    // The sink is down: batches pile up in the spool until the file size limit is reached.
    let mut c = client(
        &sink,
        json!({"spool_dir": test_dir(), "max_batch_events": 10, "retry_initial_backoff_ms": 5, "retry_max_backoff_ms": 20}),
    );
    for i in 0..N {
        c.track_ai(&Ev::ai(&format!("question {i} {}", "x".repeat(100)), "a")).unwrap();
    }
    let stats = c.wait_stats(Duration::from_secs(30), |s| s.spooled as usize == N || s.retries > 50);
    std::thread::sleep(Duration::from_millis(300));
    sink.set_fallback(EVENTS, Reply::ok());
    c.flush(30_000).unwrap();
    let stats_after = c.wait_stats(Duration::from_secs(30), |s| s.delivered as usize == N);
    c.shutdown(5000).unwrap();
    assert!((stats.spooled as usize) < N, "the limit was hit: {stats:?}");
    assert_eq!(stats_after.delivered as usize, N, "{stats_after:?}");
    let seen = ids_delivered(&sink);
    assert_eq!(seen.len(), N);
    assert!(seen.values().all(|n| *n == 1));
}

#[test]
fn a_full_disk_warns_once_and_loses_nothing() {
    let dir = temp_path("spool-full");
    let out = child("child_full_disk", &dir).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("cannot write to the spool").count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Damaged spool files (a flipped byte in one batch, garbage appended): one warning, and every
/// other batch is replayed.
#[test]
#[ignore = "runs as a child process of damaged_spool_files_warn_once_and_keep_the_valid_batches"]
fn child_damaged_files() {
    let dir = test_dir();
    let sink = Sink::start();
    let mut c = client(&sink, json!({"spool_dir": dir}));
    c.flush(10_000).unwrap();
    let stats = c.wait_stats(Duration::from_secs(30), |s| s.replayed > 0);
    c.flush(10_000).unwrap();
    c.shutdown(5000).unwrap();
    for event in sink.events() {
        println!("GOT {}", event["event_id"].as_str().unwrap());
    }
    println!("REPLAYED {}", stats.replayed);
}

#[test]
fn damaged_spool_files_warn_once_and_keep_the_valid_batches() {
    let dir = temp_path("spool-damaged");
    // Leave 30 batches of one event in the spool: the sink is down and the shutdown deadline short.
    let config = config_for(&dead_endpoint(), json!({"spool_dir": dir, "max_batch_events": 1}));
    let mut c = new_client(&config).unwrap();
    let ids: Vec<String> = (0..30).map(|i| c.track_ai(&Ev::ai(&format!("q{i}"), "a")).unwrap()).collect();
    c.wait_stats(Duration::from_secs(30), |s| s.spooled == 30);
    let _ = c.shutdown(200);
    let files = segments(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    // Damage the batch holding the 11th event (one byte of its id), and append a torn record.
    let victim = bytes.windows(ids[10].len()).position(|w| w == ids[10].as_bytes()).unwrap();
    bytes[victim] ^= 0x20;
    bytes.extend_from_slice(b"RDSP\x01\x01\0\0garbage");
    std::fs::write(&files[0], &bytes).unwrap();

    let out = child("child_damaged_files", &dir).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}\n{stderr}");
    let got: Vec<&str> = stdout.lines().filter_map(|l| l.find("GOT ").map(|at| &l[at + 4..])).collect();
    let want: Vec<&str> = ids.iter().enumerate().filter(|(i, _)| *i != 10).map(|(_, id)| id.as_str()).collect();
    assert_eq!(got, want, "every valid batch, in order, once");
    assert_eq!(stderr.matches("damaged stretch").count(), 1, "{stderr}");
    assert!(segments(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until no process holds a segment of `dir` (a client's threads let go of its segments
/// just after its shutdown returned).
fn wait_unlocked(dir: &Path) {
    use std::os::unix::io::AsRawFd;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    'again: while std::time::Instant::now() < deadline {
        for path in segments(dir) {
            let Ok(file) = std::fs::File::open(&path) else { continue };
            // SAFETY: flock on a descriptor this File owns; released when it is closed.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                std::thread::sleep(Duration::from_millis(10));
                continue 'again;
            }
        }
        return;
    }
    panic!("segments of {} still locked", dir.display());
}

fn track_n(c: &Client, n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| c.track_ai(&Ev::ai(&format!("{tag} {i}"), "answer")).unwrap()).collect()
}

fn assert_once(sink: &Sink, ids: &[String]) {
    let seen = ids_delivered(sink);
    for id in ids {
        assert_eq!(seen.get(id), Some(&1), "event {id} not delivered exactly once");
    }
    assert_eq!(seen.len(), ids.len(), "events nobody queued");
}

/// The sender only appends to the spool; the spool's own thread sends. A sink that accepts
/// connections and never answers does not stop the queue from draining: nothing is dropped for a
/// full queue, and what the hanging request held stays in the spool for the next client.
#[test]
fn a_hanging_sink_does_not_stop_the_queue_from_draining() {
    let dir = temp_path("spool-hang");
    let sink = Sink::start();
    sink.set_fallback(EVENTS, Reply::Hang);
    let extra = json!({"spool_dir": dir, "max_queue_items": 100, "max_batch_events": 10, "request_timeout_ms": 2000});
    let mut c = client(&sink, extra);
    let mut ids = Vec::new();
    for round in 0..20 {
        ids.extend(track_n(&c, 50, &format!("round {round}")));
        // Without the spool, the sender waits on the hanging request and the queue stays full.
        let stats = c.wait_stats(Duration::from_secs(30), |s| s.queue_depth == 0);
        assert_eq!(stats.queue_depth, 0, "round {round}: {stats:?}");
    }
    let stats = c.wait_stats(Duration::from_secs(30), |s| s.spooled == 1000);
    assert_eq!((stats.spooled, stats.dropped_queue_full, stats.delivered), (1000, 0, 0), "{stats:?}");
    assert!(sink.wait_attempts(EVENTS, 1, Duration::from_secs(30)), "the first batch is being sent");
    let (result, stats) = c.shutdown_with_stats(300);
    assert!(result.is_err(), "the deadline passed during the hanging request");
    assert_eq!(stats.dropped_shutdown, 0, "nothing is dropped: {stats:?}");
    drop(sink);

    wait_unlocked(&dir);
    let sink = Sink::start();
    let mut c = client(&sink, json!({"spool_dir": dir}));
    assert!(sink.wait_items(EVENTS, 1000, Duration::from_secs(30)), "got {}", sink.events().len());
    let stats = c.wait_stats(Duration::from_secs(30), |s| s.replayed == 1000);
    c.shutdown(5000).unwrap();
    assert_eq!(stats.replayed, 1000, "{stats:?}");
    assert_once(&sink, &ids);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two live clients on one directory: each sends its own batches and never the other's; what one
/// leaves at its shutdown deadline is sent, once, by the next client that opens the directory.
#[test]
fn two_clients_share_a_directory_and_each_batch_is_sent_once() {
    let dir = temp_path("spool-shared");
    let mut down = new_client(&config_for(&dead_endpoint(), json!({"spool_dir": dir}))).unwrap();
    let left = track_n(&down, 100, "down");
    down.wait_stats(Duration::from_secs(30), |s| s.spooled == 100);

    let sink = Sink::start();
    let mut up = client(&sink, json!({"spool_dir": dir}));
    let own = track_n(&up, 100, "up");
    up.flush(10_000).unwrap();
    let stats = up.stats().unwrap();
    assert_eq!((stats.delivered, stats.replayed), (100, 0), "the live client's batches are not taken: {stats:?}");
    assert_once(&sink, &own);

    // RD_OK (nothing dropped), or RD_ERR_TIMEOUT when the last refused attempt ended just past
    // the deadline: either way the batches stay in the spool.
    let (result, stats) = down.shutdown_with_stats(300);
    assert!(result.as_ref().map_or_else(|e| e.code == ERR_TIMEOUT, |_| true), "{result:?}");
    assert_eq!((stats.spool_pending, stats.delivered, stats.dropped_shutdown), (100, 0, 0), "{stats:?}");
    up.shutdown(5000).unwrap();

    wait_unlocked(&dir);
    let mut next = client(&sink, json!({"spool_dir": dir}));
    assert!(sink.wait_items(EVENTS, 200, Duration::from_secs(30)), "got {}", sink.events().len());
    // The sink records a request before it answers: wait for the client to see the answers.
    let stats = next.wait_stats(Duration::from_secs(30), |s| s.replayed == 100 && s.spool_pending == 0);
    next.shutdown(5000).unwrap();
    assert_eq!((stats.replayed, stats.spool_pending), (100, 0), "{stats:?}");
    assert_once(&sink, &[own, left].concat());
    assert!(segments(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Past `spool_max_bytes` the oldest batches go first, counted; the newest are replayed.
#[test]
fn the_byte_budget_drops_the_oldest_and_counts_them() {
    let dir = temp_path("spool-budget");
    let extra = json!({"spool_dir": dir, "spool_max_bytes": 40_000, "max_batch_events": 1});
    let mut c = new_client(&config_for(&dead_endpoint(), extra)).unwrap();
    let ids: Vec<String> =
        (0..200).map(|i| c.track_ai(&Ev::ai(&format!("q{i} {}", "x".repeat(300)), "a")).unwrap()).collect();
    c.wait_stats(Duration::from_secs(30), |s| s.spooled == 200);
    let (_, stats) = c.shutdown_with_stats(300);
    assert!(stats.spool_dropped > 0, "{stats:?}");
    assert_eq!(stats.spool_dropped + stats.spool_pending, 200, "{stats:?}");
    let kept = stats.spool_pending as usize;

    wait_unlocked(&dir);
    let sink = Sink::start();
    let mut next = client(&sink, json!({"spool_dir": dir}));
    assert!(sink.wait_items(EVENTS, kept, Duration::from_secs(30)), "got {}", sink.events().len());
    next.flush(10_000).unwrap();
    next.shutdown(5000).unwrap();
    assert_once(&sink, &ids[200 - kept..]);
    let _ = std::fs::remove_dir_all(&dir);
}
