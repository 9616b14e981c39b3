//! Logging to stderr: debug lines when asked for, warnings rate-limited per kind, and never the
//! api key or URL credentials.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WARNING_INTERVAL: Duration = Duration::from_secs(30);
/// Keys at least this long are also scrubbed where they appear bare (Raindrop keys are longer).
const MIN_BARE_SECRET_LEN: usize = 16;

/// A client's logger: knows its secret so it can scrub it from every line.
pub struct Logger {
    debug: bool,
    secret: Option<String>,
    last_warning: Mutex<HashMap<&'static str, Instant>>,
}

impl Logger {
    pub fn new(debug: bool, secret: Option<String>) -> Self {
        Logger { debug, secret, last_warning: Mutex::new(HashMap::new()) }
    }

    /// Scrubs the header value `Bearer <key>`, and the bare key only when it is long enough that
    /// a match is the key itself: replacing a short key everywhere would turn `events/track` into
    /// `events/trac[redacted]` and so reveal it.
    fn scrub(&self, message: &str) -> String {
        let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty()) else { return message.to_owned() };
        let scrubbed = message.replace(&format!("Bearer {secret}"), "Bearer [redacted]");
        if secret.len() >= MIN_BARE_SECRET_LEN {
            scrubbed.replace(secret, "[redacted]")
        } else {
            scrubbed
        }
    }

    pub fn debug(&self, message: impl FnOnce() -> String) {
        if self.debug {
            write_line("DEBUG", &self.scrub(&message()));
        }
    }

    /// At most one warning of each kind per 30 s.
    pub fn warn(&self, kind: &'static str, message: impl FnOnce() -> String) {
        let now = Instant::now();
        {
            let mut last = match self.last_warning.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if last.get(kind).is_some_and(|at| now.duration_since(*at) < WARNING_INTERVAL) {
                return;
            }
            last.insert(kind, now);
        }
        write_line("WARNING", &self.scrub(&message()));
    }
}

/// One write per line, so lines never interleave with other output on stderr.
fn write_line(level: &str, message: &str) {
    use std::io::Write;
    let line = format!("[raindrop_dspy] {level} {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `https://user:pass@host/x` → `https://***@host/x`, for log lines and error messages.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_secret() {
        assert_eq!(redact_url("https://u:p@host:1/v1/"), "https://***@host:1/v1/");
        assert_eq!(redact_url("http://host/v1/"), "http://host/v1/");
        let logger = Logger::new(true, Some("rk_secret_0123456789".into()));
        assert_eq!(logger.scrub("key rk_secret_0123456789 leaked"), "key [redacted] leaked");
    }

    #[test]
    fn scrubs_the_header_value_not_every_substring() {
        let logger = Logger::new(true, Some("k".into()));
        assert_eq!(logger.scrub("POST http://h/v1/events/track: 503"), "POST http://h/v1/events/track: 503");
        assert_eq!(logger.scrub("Authorization: Bearer k"), "Authorization: Bearer [redacted]");
    }
}
