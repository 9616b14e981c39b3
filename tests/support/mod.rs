//! Test support: a loopback capture + fault HTTP/1.1 server (std only) and thin helpers
//! around the crate's C ABI.
//!
//! The server listens on 127.0.0.1:0, runs one thread per connection (keep-alive aware,
//! because ureq reuses connections), reads Content-Length (or chunked) bodies, records every
//! attempt and answers from a per-route script. Dropping the server stops every thread.

#![allow(dead_code)]

pub mod capi;

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
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

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status, extra headers and body.
    Respond { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Wait, then give the inner reply.
    Delay(Duration, Box<Reply>),
    /// Never answer (the connection stays open until the server is dropped).
    Hang,
    /// Close the socket without answering.
    Reset,
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
    /// Status the server answered with; `None` for Hang / Reset.
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
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    /// Used when a route's script queue is empty (default: 200 {"ok":true}).
    fallbacks: HashMap<String, Reply>,
    attempts: Vec<Attempt>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// The capture + fault server. Dropping it stops it (hanging connections included).
pub struct Sink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name("sink-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if sh.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
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
            })
            .expect("spawn acceptor");
        Sink { addr, shared, acceptor: Some(acceptor) }
    }

    /// Base URL the client should use as `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}/v1/", self.addr)
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Queue a scripted reply for the next attempt on `route`.
    pub fn script(&self, route: &str, reply: Reply) {
        let mut st = self.shared.state.lock().unwrap();
        st.scripts.entry(route.to_string()).or_default().push_back(reply);
    }
    /// Reply used on `route` whenever its script queue is empty.
    pub fn set_fallback(&self, route: &str, reply: Reply) {
        self.shared.state.lock().unwrap().fallbacks.insert(route.to_string(), reply);
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

fn serve_connection(stream: TcpStream, sh: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
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
        let route = route_of(&req.path);
        // Pick the reply and record the attempt under one lock, so the order is exact.
        let (reply, idx) = {
            let mut st = sh.state.lock().unwrap();
            let reply = st
                .scripts
                .get_mut(&route)
                .and_then(|q| q.pop_front())
                .or_else(|| st.fallbacks.get(&route).cloned())
                .unwrap_or_else(Reply::ok);
            st.attempts.push(Attempt {
                route: route.clone(),
                method: req.method.clone(),
                path: req.path.clone(),
                headers: req.headers.clone(),
                body: req.body,
                at: Instant::now(),
                wall_ms: now_unix_ms(),
                answered: None,
            });
            (reply, st.attempts.len() - 1)
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
                    while !sh.stopping.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    return;
                }
                Reply::Reset => {
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                Reply::Respond { status, headers, body } => {
                    let mut head = format!("HTTP/1.1 {} {}\r\n", status, reason(status));
                    let has_ct = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                    if !has_ct {
                        head.push_str("Content-Type: application/json\r\n");
                    }
                    for (k, v) in &headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                    {
                        let mut st = sh.state.lock().unwrap();
                        st.attempts[idx].answered = Some(status);
                    }
                    sh.changed.notify_all();
                    // One write for head + body: two small writes would meet Nagle + delayed ACK.
                    let mut out = head.into_bytes();
                    out.extend_from_slice(&body);
                    let ok = writer.write_all(&out).is_ok() && writer.flush().is_ok();
                    if !ok {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small checks shared by the tests.

/// Lowercase hyphenated UUID v4 (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`).
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c, b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC, milliseconds) into Unix ms.
pub fn parse_ts_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // days from civil (Howard Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(((days * 86400 + h * 3600 + mi * 60 + se) * 1000) + ms)
}

pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A unique scratch path under the system temp dir.
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("rd-test-{}-{}-{}-{}", tag, std::process::id(), n, now_unix_ms()))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for a Unix time in seconds.
pub fn http_date(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86400);
    let secs = unix_secs.rem_euclid(86400);
    // civil from days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][(m - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Checks `bytes` is one well-formed JSON value without recursion (so any depth works) and
/// returns its maximum nesting depth; Err describes the first problem.
pub fn json_depth(bytes: &[u8]) -> Result<usize, String> {
    let s = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let b = s.as_bytes();
    let mut i = 0;
    let mut stack: Vec<u8> = Vec::new(); // b'[' or b'{'
    let mut max = 0;
    // expect: 0 = value, 1 = after value (',' or close), 2 = object key (or '}' if empty allowed)
    let mut expect = 0u8;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    let string = |i: &mut usize| -> Result<(), String> {
        // at '"'
        *i += 1;
        while *i < b.len() {
            match b[*i] {
                b'"' => {
                    *i += 1;
                    return Ok(());
                }
                b'\\' => *i += 2,
                c if c < 0x20 => return Err(format!("control char in string at {}", *i)),
                _ => *i += 1,
            }
        }
        Err("unterminated string".into())
    };
    loop {
        ws(&mut i);
        if i >= b.len() {
            return if stack.is_empty() && expect == 1 { Ok(max) } else { Err("unexpected end".into()) };
        }
        let c = b[i];
        match expect {
            0 => match c {
                b'[' | b'{' => {
                    stack.push(c);
                    max = max.max(stack.len());
                    i += 1;
                    ws(&mut i);
                    if i < b.len() && (b[i] == b']' || b[i] == b'}') {
                        let open = stack.pop().unwrap();
                        if (open == b'[') != (b[i] == b']') {
                            return Err(format!("mismatched close at {i}"));
                        }
                        i += 1;
                        expect = 1;
                    } else {
                        expect = if c == b'{' { 2 } else { 0 };
                    }
                }
                b'"' => {
                    string(&mut i)?;
                    expect = 1;
                }
                _ => {
                    let start = i;
                    while i < b.len() && !matches!(b[i], b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                        i += 1;
                    }
                    let tok = &s[start..i];
                    let ok = matches!(tok, "true" | "false" | "null") || tok.parse::<f64>().is_ok();
                    if !ok {
                        return Err(format!("bad token {tok:?} at {start}"));
                    }
                    expect = 1;
                }
            },
            1 => {
                if stack.is_empty() {
                    return Err(format!("trailing data at {i}"));
                }
                match c {
                    b',' => {
                        i += 1;
                        expect = if *stack.last().unwrap() == b'{' { 2 } else { 0 };
                    }
                    b']' | b'}' => {
                        let open = stack.pop().unwrap();
                        if (open == b'[') != (c == b']') {
                            return Err(format!("mismatched close at {i}"));
                        }
                        i += 1;
                    }
                    _ => return Err(format!("expected , or close at {i}")),
                }
            }
            _ => {
                if c != b'"' {
                    return Err(format!("expected key at {i}"));
                }
                string(&mut i)?;
                ws(&mut i);
                if i >= b.len() || b[i] != b':' {
                    return Err(format!("expected : at {i}"));
                }
                i += 1;
                expect = 0;
            }
        }
    }
}

/// An event property by flat key (`"ai.usage.prompt_tokens"`), falling back to a nested path.
pub fn prop<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    let props = item.get("properties")?;
    if let Some(v) = props.get(key) {
        return Some(v);
    }
    let mut cur = props;
    for part in key.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Integer value of a JSON number or numeric string.
pub fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}
