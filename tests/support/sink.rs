//! The one loopback test sink: a capture + fault HTTP/1.1 server (std + serde_json only).
//!
//! Used in process by the Rust tests (`tests/support`, `Sink::start()`) and, as the program
//! `examples/sink.rs` (`target/release/examples/sink`), by the Python, Go and C++ tests. How to
//! run it by hand and its control interface: tests/README.md.
//!
//! It listens on 127.0.0.1, runs one thread per connection (keep-alive aware, because ureq
//! reuses connections; TCP_NODELAY on every socket), reads Content-Length (or chunked) bodies,
//! records every request (and appends it to the dump file, one JSON line, when there is one)
//! before answering, and answers from a per-route script. Paths under `/_sink/` are its control
//! endpoint, never recorded. Dropping the server stops every thread.

#![allow(dead_code)]

use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The routes the core posts to (relative to the `/v1/` base).
pub const EVENTS: &str = "events/track";
pub const SIGNALS: &str = "signals/track";
pub const IDENTIFY: &str = "users/identify";
pub const TRACES: &str = "traces";
const KNOWN_ROUTES: [&str; 4] = [EVENTS, SIGNALS, IDENTIFY, TRACES];
/// Script key that applies to every route (after the route's own script).
pub const ANY_ROUTE: &str = "*";

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status, extra headers and body.
    Respond { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Wait, then give the inner reply.
    Delay(Duration, Box<Reply>),
    /// Never answer, until a release (`Sink::release`, `POST /_sink/release`) answers 200, or
    /// the server stops.
    Hang,
    /// Close the socket without answering.
    Reset,
    /// Answer bytes that are not HTTP, then close.
    Garbage,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200, r#"{"ok":true}"#)
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Respond { status, headers: vec![], body: body.as_bytes().to_vec() }
    }
    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Respond { status, mut headers, body } => {
                headers.push((name.to_string(), value.to_string()));
                Reply::Respond { status, headers, body }
            }
            other => other,
        }
    }
    pub fn delayed(self, d: Duration) -> Reply {
        Reply::Delay(d, Box::new(self))
    }

    /// A reply from its JSON form (the control endpoint's):
    /// `{"status":429,"headers":{"Retry-After":"1"},"body":"..."}` (status defaults to 200, body
    /// to `{"ok":true}`), `{"hang":true}`, `{"close":true}`, `{"garbage":true}`; any of them with
    /// `"delay_ms":N` waits first.
    pub fn from_json(v: &Value) -> Result<Reply, String> {
        let o = v.as_object().ok_or("a reply is a JSON object")?;
        let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
        let reply = if flag("hang") {
            Reply::Hang
        } else if flag("close") {
            Reply::Reset
        } else if flag("garbage") {
            Reply::Garbage
        } else {
            let status = match o.get("status") {
                None => 200,
                Some(s) => s.as_u64().filter(|s| (100..1000).contains(s)).ok_or("status: 100..999")? as u16,
            };
            let body = match o.get("body") {
                None => br#"{"ok":true}"#.to_vec(),
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(other) => other.to_string().into_bytes(),
            };
            let mut headers = Vec::new();
            if let Some(h) = o.get("headers") {
                for (k, v) in h.as_object().ok_or("headers: an object")? {
                    let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                    headers.push((k.clone(), v));
                }
            }
            Reply::Respond { status, headers, body }
        };
        match o.get("delay_ms") {
            None => Ok(reply),
            Some(d) => Ok(reply.delayed(Duration::from_millis(d.as_u64().ok_or("delay_ms: a number")?))),
        }
    }
}

/// One request the server received (recorded as soon as its body is read, before answering).
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The matching known route (`events/track`, ...) or the raw path when none matched.
    pub route: String,
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// Wall clock (Unix ms) when the request was read.
    pub wall_ms: i64,
    /// Status the server answered with; `None` for Hang / Reset / Garbage.
    pub answered: Option<u16>,
}

impl Attempt {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body on {} is not JSON ({e}): {}", self.route, String::from_utf8_lossy(&self.body))
        })
    }
    /// The body's array items (panics if the body is not a JSON array).
    pub fn items(&self) -> Vec<Value> {
        match self.json() {
            Value::Array(v) => v,
            other => panic!("body on {} is not an array: {other}", self.route),
        }
    }
    pub fn succeeded(&self) -> bool {
        matches!(self.answered, Some(s) if (200..300).contains(&s))
    }
    /// The dump file's line for this request: method, path, route, headers (lower-case names;
    /// a repeated header keeps its last value), wall_ms and the body as text.
    pub fn dump_line(&self) -> String {
        let headers: Map<String, Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let line = json!({
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "headers": headers,
            "wall_ms": self.wall_ms,
            "body": String::from_utf8_lossy(&self.body),
        });
        format!("{line}\n")
    }
}

/// What the sink received, counted (kept even when the requests are not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub body_bytes: u64,
    /// Items of `events/track` bodies (each carries exactly one `"event_id":` key).
    pub events: u64,
    /// Spans of `traces` bodies (each carries exactly one `"spanId":` key).
    pub spans: u64,
}

fn occurrences(hay: &[u8], needle: &[u8]) -> u64 {
    hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    /// Used when a route's script queue is empty (default: 200 {"ok":true}).
    fallbacks: HashMap<String, Reply>,
    attempts: Vec<Attempt>,
    /// Bumped by every release: a hanging reply waits for it to change.
    releases: u64,
    /// Attempts forgotten by resets (an attempt's number minus this is its index).
    cleared: usize,
    /// Keep attempts in memory (the program keeps only the dump file, so it runs for ever).
    keep: bool,
    tally: Tally,
    dump: Option<File>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn script(&self, route: &str, reply: Reply) {
        let mut st = self.state.lock().unwrap();
        st.scripts.entry(route.to_string()).or_default().push_back(reply);
    }
    fn set_fallback(&self, route: &str, reply: Reply) {
        self.state.lock().unwrap().fallbacks.insert(route.to_string(), reply);
    }
    fn release(&self) {
        let mut st = self.state.lock().unwrap();
        st.fallbacks.clear();
        st.releases += 1;
        drop(st);
        self.changed.notify_all();
    }
    fn reset(&self) {
        let mut st = self.state.lock().unwrap();
        st.scripts.clear();
        st.fallbacks.clear();
        st.cleared += st.attempts.len();
        st.attempts.clear();
        st.tally = Tally::default();
        st.releases += 1;
        if let Some(f) = &st.dump {
            let _ = f.set_len(0);
        }
        drop(st);
        self.changed.notify_all();
    }
}

/// The capture + fault server. Dropping it stops it (hanging connections included).
pub struct Sink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sink {
    /// On an ephemeral loopback port, without a dump file.
    pub fn start() -> Sink {
        Sink::start_on(0, None, true).expect("start the sink")
    }

    /// On `port` (0: ephemeral), appending each request to `dump` as one JSON line when given;
    /// `keep`: also in memory (for `attempts()` and the waits).
    pub fn start_on(port: u16, dump: Option<PathBuf>, keep: bool) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let dump = match dump {
            Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State { dump, keep, ..State::default() }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let acceptor = std::thread::Builder::new().name("sink-accept".into()).spawn(move || {
            for conn in listener.incoming() {
                if sh.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let _ = stream.set_nodelay(true);
                if let Ok(c) = stream.try_clone() {
                    sh.conns.lock().unwrap().push(c);
                }
                let sh2 = sh.clone();
                let h = std::thread::Builder::new()
                    .name("sink-conn".into())
                    .spawn(move || serve_connection(stream, sh2))
                    .expect("spawn connection thread");
                sh.workers.lock().unwrap().push(h);
            }
        })?;
        Ok(Sink { addr, shared, acceptor: Some(acceptor) })
    }

    /// Base URL the client should use as `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}/v1/", self.addr)
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Queue a scripted reply for the next attempt on `route` (`ANY_ROUTE`: on any route whose
    /// own queue is empty).
    pub fn script(&self, route: &str, reply: Reply) {
        self.shared.script(route, reply)
    }
    /// Reply used on `route` (or `ANY_ROUTE`) whenever the scripts are empty.
    pub fn set_fallback(&self, route: &str, reply: Reply) {
        self.shared.set_fallback(route, reply)
    }
    /// Every fallback back to 200, and every hanging request answered 200.
    pub fn release(&self) {
        self.shared.release()
    }
    /// Forget scripts, fallbacks and recorded requests (the dump file is emptied); hanging
    /// requests are released.
    pub fn reset(&self) {
        self.shared.reset()
    }

    /// The counts of everything received (not forgotten by a reset).
    pub fn tally(&self) -> Tally {
        self.shared.state.lock().unwrap().tally
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.state.lock().unwrap().attempts.clone()
    }
    pub fn attempts_on(&self, route: &str) -> Vec<Attempt> {
        self.attempts().into_iter().filter(|a| a.route == route).collect()
    }
    pub fn count_on(&self, route: &str) -> usize {
        self.shared.state.lock().unwrap().attempts.iter().filter(|a| a.route == route).count()
    }

    /// Wait until `pred(attempts)` holds or the timeout passes; returns whether it held.
    pub fn wait_for<F: Fn(&[Attempt]) -> bool>(&self, timeout: Duration, pred: F) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state.lock().unwrap();
        loop {
            if pred(&st.attempts) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.shared.changed.wait_timeout(st, (deadline - now).min(Duration::from_millis(50))).unwrap().0;
        }
    }
    /// Wait until at least `n` attempts were made on `route`.
    pub fn wait_attempts(&self, route: &str, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |a| a.iter().filter(|x| x.route == route).count() >= n)
    }
    /// Wait until at least `n` items were accepted (2xx) on `route`.
    pub fn wait_items(&self, route: &str, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |a| {
            a.iter()
                .filter(|x| x.route == route && x.succeeded())
                .map(|x| match serde_json::from_slice::<Value>(&x.body) {
                    Ok(Value::Array(v)) => v.len(),
                    _ => 0,
                })
                .sum::<usize>()
                >= n
        })
    }

    /// Every array item the server accepted (answered 2xx) on `route`, in arrival order.
    pub fn delivered(&self, route: &str) -> Vec<Value> {
        self.attempts_on(route).iter().filter(|a| a.succeeded()).flat_map(|a| a.items()).collect()
    }
    /// Every events/track item accepted.
    pub fn events(&self) -> Vec<Value> {
        self.delivered(EVENTS)
    }
    /// Every array item sent on `route`, accepted or not (retries show up several times).
    pub fn all_items(&self, route: &str) -> Vec<Value> {
        self.attempts_on(route).iter().flat_map(|a| a.items()).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // Wake the acceptor with a throwaway connection, then unblock every connection thread.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for c in self.shared.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = self.shared.workers.lock().unwrap().drain(..).collect();
        for h in workers {
            let _ = h.join();
        }
    }
}

fn route_of(path: &str) -> String {
    let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    for r in KNOWN_ROUTES {
        // `events/track` must not match `events/track_partial`; ends_with on the full segment.
        if p.ends_with(&format!("/{r}")) {
            return r.to_string();
        }
    }
    p.to_string()
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    // Skip stray blank lines between keep-alive requests.
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = Vec::new();
    if get("transfer-encoding").map(|v| v.to_ascii_lowercase().contains("chunked")).unwrap_or(false) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                // trailers until blank line
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?; // CRLF after chunk
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, path, headers, body }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Sleep in small steps so a dropped server stops promptly. Returns false when stopping.
fn interruptible_sleep(sh: &Shared, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if sh.stopping.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(10)));
    }
    !sh.stopping.load(Ordering::SeqCst)
}

/// Head + body in one write: two small writes would meet Nagle + delayed ACK.
fn respond(w: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) -> bool {
    let mut head = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    w.write_all(&out).is_ok() && w.flush().is_ok()
}

/// The control endpoint (`/_sink/...`): see tests/README.md. Returns (status, JSON body).
fn control(sink: &Shared, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let run = || -> Result<(), String> {
        let v: Value =
            if body.is_empty() { json!({}) } else { serde_json::from_slice(body).map_err(|e| e.to_string())? };
        let route = v.get("route").and_then(Value::as_str).unwrap_or(ANY_ROUTE);
        match (method, path.split('?').next().unwrap_or(path)) {
            ("POST", "/_sink/script") => {
                if let Some(replies) = v.get("replies") {
                    for r in replies.as_array().ok_or("replies: an array")? {
                        sink.script(route, Reply::from_json(r)?);
                    }
                }
                if let Some(f) = v.get("fallback") {
                    sink.set_fallback(route, Reply::from_json(f)?);
                }
                Ok(())
            }
            ("POST", "/_sink/release") => {
                sink.release();
                Ok(())
            }
            ("POST", "/_sink/reset") => {
                sink.reset();
                Ok(())
            }
            _ => Err(format!("unknown control request {method} {path}")),
        }
    };
    match run() {
        Ok(()) => (200, r#"{"ok":true}"#.into()),
        Err(e) => (400, json!({ "error": e }).to_string()),
    }
}

fn serve_connection(stream: TcpStream, sh: Arc<Shared>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        if sh.stopping.load(Ordering::SeqCst) {
            return;
        }
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            _ => return,
        };
        if req.path.starts_with("/_sink/") {
            let (status, body) = control(&sh, &req.method, &req.path, &req.body);
            if !respond(&mut writer, status, &[], body.as_bytes()) {
                return;
            }
            continue;
        }
        let route = route_of(&req.path);
        let (events, spans) = match route.as_str() {
            EVENTS => (occurrences(&req.body, br#""event_id":"#), 0),
            TRACES => (0, occurrences(&req.body, br#""spanId":"#)),
            _ => (0, 0),
        };
        // Pick the reply and record the attempt under one lock, so the order is exact.
        let (reply, idx, releases) = {
            let mut st = sh.state.lock().unwrap();
            let reply = st
                .scripts
                .get_mut(&route)
                .and_then(|q| q.pop_front())
                .or_else(|| st.scripts.get_mut(ANY_ROUTE).and_then(|q| q.pop_front()))
                .or_else(|| st.fallbacks.get(&route).cloned())
                .or_else(|| st.fallbacks.get(ANY_ROUTE).cloned())
                .unwrap_or_else(Reply::ok);
            let attempt = Attempt {
                route: route.clone(),
                method: req.method,
                path: req.path,
                headers: req.headers,
                body: req.body,
                at: Instant::now(),
                wall_ms: now_unix_ms(),
                answered: None,
            };
            if let Some(f) = st.dump.as_mut() {
                // One write per line, so a reader never sees two lines interleaved.
                let _ = f.write_all(attempt.dump_line().as_bytes());
            }
            st.tally.requests += 1;
            st.tally.body_bytes += attempt.body.len() as u64;
            st.tally.events += events;
            st.tally.spans += spans;
            let idx = st.cleared + st.attempts.len();
            if st.keep {
                st.attempts.push(attempt);
            }
            (reply, idx, st.releases)
        };
        sh.changed.notify_all();
        let mut reply = reply;
        loop {
            match reply {
                Reply::Delay(d, inner) => {
                    if !interruptible_sleep(&sh, d) {
                        return;
                    }
                    reply = *inner;
                }
                Reply::Hang => {
                    let mut st = sh.state.lock().unwrap();
                    while st.releases == releases {
                        if sh.stopping.load(Ordering::SeqCst) {
                            return;
                        }
                        st = sh.changed.wait_timeout(st, Duration::from_millis(50)).unwrap().0;
                    }
                    drop(st);
                    reply = Reply::ok();
                }
                Reply::Reset => {
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                Reply::Garbage => {
                    let _ = writer.write_all(b"\x00\x17garbage, not HTTP\r\n\r\n");
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                Reply::Respond { status, headers, body } => {
                    {
                        let mut st = sh.state.lock().unwrap();
                        let i = idx.wrapping_sub(st.cleared);
                        if let Some(a) = st.attempts.get_mut(i) {
                            a.answered = Some(status);
                        }
                    }
                    sh.changed.notify_all();
                    if !respond(&mut writer, status, &headers, &body) {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
