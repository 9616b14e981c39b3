//! Logging: debug lines when asked for, warnings rate-limited per kind, never the api key or URL
//! credentials. Lines go to the binding's log callback when it gave one, else to stderr.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

const WARNING_INTERVAL: Duration = Duration::from_secs(30);
/// Keys at least this long are also scrubbed where they appear bare (Raindrop keys are longer).
const MIN_BARE_SECRET_LEN: usize = 16;

/// How severe a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Warn,
    /// Telemetry stops for the client.
    Error,
}

/// Where a binding wants log lines: called from any thread, the sender's included.
pub type LogSink = Box<dyn Fn(Level, &str) + Send + Sync>;

enum Output {
    Stderr,
    Sink(LogSink),
    /// The client was shut down: its callback may no longer be called.
    Detached,
}

/// A client's logger: knows its secret so it can scrub it from every line.
pub struct Logger {
    debug: bool,
    secret: Option<String>,
    last_warning: Mutex<HashMap<&'static str, Instant>>,
    output: RwLock<Output>,
}

impl Logger {
    pub fn new(debug: bool, secret: Option<String>, sink: Option<LogSink>) -> Self {
        let output = sink.map_or(Output::Stderr, Output::Sink);
        Logger { debug, secret, last_warning: Mutex::new(HashMap::new()), output: RwLock::new(output) }
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
            self.write(Level::Debug, &self.scrub(&message()));
        }
    }

    /// At most one warning of each kind per 30 s.
    pub fn warn(&self, kind: &'static str, message: impl FnOnce() -> String) {
        let now = Instant::now();
        {
            let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
            if last.get(kind).is_some_and(|at| now.duration_since(*at) < WARNING_INTERVAL) {
                return;
            }
            last.insert(kind, now);
        }
        self.write(Level::Warn, &self.scrub(&message()));
    }

    /// Not rate-limited: for what happens at most once per client.
    pub fn error(&self, message: impl FnOnce() -> String) {
        self.write(Level::Error, &self.scrub(&message()));
    }

    /// Stops calling the binding's callback: once this returns, no call is running and none will
    /// start (the callback's user data may be freed after `rd_shutdown`). Stderr stays as is.
    pub fn detach(&self) {
        let mut output = self.output.write().unwrap_or_else(|p| p.into_inner());
        if matches!(*output, Output::Sink(_)) {
            *output = Output::Detached;
        }
    }

    fn write(&self, level: Level, message: &str) {
        // The read lock is held during the callback, so `detach` waits for a running one.
        match &*self.output.read().unwrap_or_else(|p| p.into_inner()) {
            Output::Stderr => write_line(level, message),
            Output::Sink(sink) => sink(level, message),
            Output::Detached => {}
        }
    }
}

/// One write per line, so lines never interleave with other output on stderr.
fn write_line(level: Level, message: &str) {
    use std::io::Write;
    let level = match level {
        Level::Debug => "DEBUG",
        Level::Warn => "WARNING",
        Level::Error => "ERROR",
    };
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
    use std::sync::Arc;

    #[test]
    fn redacts_userinfo_and_secret() {
        assert_eq!(redact_url("https://u:p@host:1/v1/"), "https://***@host:1/v1/");
        assert_eq!(redact_url("http://host/v1/"), "http://host/v1/");
        let logger = Logger::new(true, Some("rk_secret_0123456789".into()), None);
        assert_eq!(logger.scrub("key rk_secret_0123456789 leaked"), "key [redacted] leaked");
    }

    #[test]
    fn scrubs_the_header_value_not_every_substring() {
        let logger = Logger::new(true, Some("k".into()), None);
        assert_eq!(logger.scrub("POST http://h/v1/events/track: 503"), "POST http://h/v1/events/track: 503");
        assert_eq!(logger.scrub("Authorization: Bearer k"), "Authorization: Bearer [redacted]");
    }

    #[test]
    fn sink_gets_lines_until_detached() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink: LogSink = Box::new(move |level, line| seen.lock().unwrap().push((level, line.to_owned())));
        let logger = Logger::new(true, Some("rk_secret_0123456789".into()), Some(sink));
        logger.debug(|| "hello rk_secret_0123456789".into());
        logger.warn("kind", || "first".into());
        logger.warn("kind", || "rate-limited".into());
        logger.detach();
        logger.warn("other", || "after detach".into());
        let lines = lines.lock().unwrap();
        assert_eq!(*lines, vec![(Level::Debug, "hello [redacted]".to_owned()), (Level::Warn, "first".to_owned())]);
    }
}
