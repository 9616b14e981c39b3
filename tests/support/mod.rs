//! Test support: the loopback capture + fault HTTP/1.1 server (`sink.rs`, also the program
//! `examples/sink.rs` that the Python, Go and C++ tests use), thin helpers around the crate's
//! C ABI (`capi.rs`) and small checks.

#![allow(dead_code)]

pub mod capi;
mod sink;

pub use sink::*;

use serde_json::Value;
use std::sync::atomic::Ordering;

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
