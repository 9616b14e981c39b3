//! The Raindrop Workshop mirror (raindrop-wire.md §1.3, §6.4): every request body the sender
//! delivers is also POSTed, same route and same bytes, to a local Workshop daemon.
//!
//! Unlike the official SDKs, which post to the mirror inline, it has its own thread behind a
//! small bounded queue: a dead, slow or hanging Workshop never delays the cloud path. Mirror
//! requests have a 2 s timeout, are never retried, never carry `Authorization` (the cloud key
//! must not reach a local port named by an environment variable), and log failures at debug
//! level only. Bodies over 1 MiB are not mirrored.

use crate::log::Logger;
use crate::stats::Stats;
use crate::transport::Route;
use crossbeam_channel::{Receiver, TrySendError};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const DEFAULT_URL: &str = "http://localhost:5899/v1/";
const PROBE_PORT: u16 = 5899;
const PROBE_BUDGET: Duration = Duration::from_millis(100);
pub const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BODY: usize = 1 << 20;
/// Bodies waiting for the mirror; more are dropped and counted (`mirror_dropped`).
const QUEUE: usize = 64;

/// What the configuration key `local_workshop_url` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Setting {
    /// Absent or null: the environment decides, then the probe.
    #[default]
    Inherit,
    /// `false` or `""`.
    Off,
    Url(String),
}

/// The mirror after resolution steps 1 to 4; `Probe` is step 5, left to `Client::new`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workshop {
    Off,
    Url(String),
    Probe,
}

/// An http(s) URL, trimmed, with one trailing `/`; None when it is not one.
pub fn normalize(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || url.parse::<ureq::http::Uri>().is_err() {
        return None;
    }
    Some(format!("{}/", url.trim_end_matches('/')))
}

/// Resolution steps 1 to 4 (explicit URL, explicit opt-out, `RAINDROP_LOCAL_DEBUGGER`,
/// `RAINDROP_WORKSHOP`), and the warning to give once when a URL was given but is not valid.
pub fn resolve(setting: &Setting, env: impl Fn(&str) -> Option<String>) -> (Workshop, Option<String>) {
    match setting {
        Setting::Url(url) => {
            return match normalize(url) {
                Some(url) => (Workshop::Url(url), None),
                None => {
                    (Workshop::Off, Some("local_workshop_url is not an http(s) URL; the Workshop mirror is off".into()))
                }
            };
        }
        Setting::Off => return (Workshop::Off, None),
        Setting::Inherit => {}
    }
    if let Some(url) = env("RAINDROP_LOCAL_DEBUGGER").as_deref().and_then(normalize) {
        return (Workshop::Url(url), None);
    }
    if let Some(value) = env("RAINDROP_WORKSHOP") {
        let value = value.trim();
        match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => return (Workshop::Url(DEFAULT_URL.into()), None),
            "0" | "false" | "no" | "off" => return (Workshop::Off, None),
            _ => {}
        }
        if let Some(url) = normalize(value) {
            return (Workshop::Url(url), None);
        }
        if value.contains("://") {
            return (Workshop::Off, Some("RAINDROP_WORKSHOP is not an http(s) URL; the Workshop mirror is off".into()));
        }
    }
    (Workshop::Probe, None)
}

/// Step 5: is a Workshop listening on 127.0.0.1:5899? A TCP connect within 100 ms, at `rd_new`
/// (a refused connection answers in microseconds), never on a hot-path call.
pub fn probe() -> Workshop {
    let address = SocketAddr::from(([127, 0, 0, 1], PROBE_PORT));
    match TcpStream::connect_timeout(&address, PROBE_BUDGET) {
        Ok(_) => Workshop::Url(DEFAULT_URL.into()),
        Err(_) => Workshop::Off,
    }
}

struct Job {
    route: Route,
    body: Vec<u8>,
}

/// Jobs handed over and not finished, so shutdown can give the mirror until its deadline.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Pending {
    fn add(&self, n: isize) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_add_signed(n);
        self.changed.notify_all();
    }
}

/// What the mirror thread needs from its client.
pub trait Host: Send + Sync + 'static {
    fn stats(&self) -> &Stats;
    fn logger(&self) -> &Logger;
}

impl Host for crate::lifecycle::ClientShared {
    fn stats(&self) -> &Stats {
        &self.stats
    }
    fn logger(&self) -> &Logger {
        &self.logger
    }
}

/// The sender's handle on the mirror thread. Dropping it stops the thread: jobs still queued
/// are dropped (counted), the one in flight ends within its 2 s timeout.
pub struct Mirror {
    jobs: crossbeam_channel::Sender<Job>,
    pending: Arc<Pending>,
    stop: Arc<AtomicBool>,
}

impl Mirror {
    /// Starts the mirror thread for `url` (normalised, ending in `/`).
    pub fn start<H: Host>(url: String, project_id: Option<String>, host: Arc<H>) -> Option<Self> {
        let (jobs, receiver) = crossbeam_channel::bounded(QUEUE);
        let pending = Arc::new(Pending::default());
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker { url, project_id, receiver, pending: pending.clone(), stop: stop.clone() };
        std::thread::Builder::new()
            .name("raindrop-mirror".into())
            .spawn(move || worker.run(host.stats(), host.logger()))
            .ok()?;
        Some(Mirror { jobs, pending, stop })
    }

    /// Hands a copy of `body` to the mirror thread without waiting; when its queue is full, or
    /// the body is over 1 MiB, the copy is dropped and counted.
    pub fn offer(&self, route: Route, body: &[u8], stats: &Stats) {
        if body.len() > MAX_BODY || self.jobs.is_full() {
            Stats::add(&stats.mirror_dropped, 1);
            return;
        }
        self.pending.add(1);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.jobs.try_send(Job { route, body: body.to_vec() })
        {
            self.pending.add(-1);
            Stats::add(&stats.mirror_dropped, 1);
        }
    }

    /// Waits until every body handed over was posted (or failed), or `deadline`.
    pub fn wait_idle(&self, deadline: Instant) -> bool {
        let mut count = self.pending.count.lock().unwrap_or_else(|p| p.into_inner());
        while *count > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            count = self.pending.changed.wait_timeout(count, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Worker {
    url: String,
    project_id: Option<String>,
    receiver: Receiver<Job>,
    pending: Arc<Pending>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self, stats: &Stats, logger: &Logger) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .user_agent(format!("raindrop-dspy/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        while let Ok(job) = self.receiver.recv() {
            if self.stop.load(Ordering::Relaxed) {
                Stats::add(&stats.mirror_dropped, 1);
            } else {
                self.post(&agent, &job, stats, logger);
            }
            self.pending.add(-1);
        }
    }

    fn post(&self, agent: &ureq::Agent, job: &Job, stats: &Stats, logger: &Logger) {
        let url = format!("{}{}", self.url, job.route.path());
        // Never `Authorization`: the project header only.
        let mut request = agent.post(&url).header("Content-Type", "application/json");
        if let Some(slug) = &self.project_id {
            request = request.header("X-Raindrop-Project-Id", slug.as_str());
        }
        let started = Instant::now();
        let result = request.send(&job.body[..]);
        match result {
            Ok(mut response) if response.status().is_success() => {
                let _ = response.body_mut().with_config().limit(64 * 1024).read_to_vec();
                Stats::add(&stats.mirror_sent, 1);
                logger.debug(|| format!("mirrored {} bytes to {url} in {:?}", job.body.len(), started.elapsed()));
            }
            Ok(response) => {
                Stats::add(&stats.mirror_failed, 1);
                logger.debug(|| format!("Workshop mirror {url} answered HTTP {}", response.status().as_u16()));
            }
            Err(error) => {
                Stats::add(&stats.mirror_failed, 1);
                logger
                    .debug(|| format!("Workshop mirror {url} failed: {}", crate::log::redact_url(&error.to_string())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn urls_are_trimmed_checked_and_get_one_trailing_slash() {
        assert_eq!(normalize("  http://localhost:5899/v1 ").as_deref(), Some("http://localhost:5899/v1/"));
        assert_eq!(normalize("https://h.example/v1//").as_deref(), Some("https://h.example/v1/"));
        assert_eq!(normalize("http://127.0.0.1:9").as_deref(), Some("http://127.0.0.1:9/"));
        for bad in ["", "ftp://h/", "localhost:5899", "http://", "https:///v1", "http://exa mple/", "not a url"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn resolution_order() {
        let url = |u: &str| Workshop::Url(u.into());
        let explicit = Setting::Url("http://explicit:1".into());
        let all = env_of(&[("RAINDROP_LOCAL_DEBUGGER", "http://debugger:2"), ("RAINDROP_WORKSHOP", "http://ws:3")]);
        // 1. explicit URL, over everything; invalid: off with a warning, no fall-through.
        assert_eq!(resolve(&explicit, &all), (url("http://explicit:1/"), None));
        let (bad, warning) = resolve(&Setting::Url("ftp://x".into()), &all);
        assert_eq!(bad, Workshop::Off);
        assert!(warning.is_some());
        // 2. opt-out, over the environment.
        assert_eq!(resolve(&Setting::Off, &all), (Workshop::Off, None));
        // 3. RAINDROP_LOCAL_DEBUGGER when valid, else on to 4.
        assert_eq!(resolve(&Setting::Inherit, &all).0, url("http://debugger:2/"));
        let invalid = env_of(&[("RAINDROP_LOCAL_DEBUGGER", "nope"), ("RAINDROP_WORKSHOP", "http://ws:3")]);
        assert_eq!(resolve(&Setting::Inherit, &invalid).0, url("http://ws:3/"));
        // 4. RAINDROP_WORKSHOP: a URL, a boolean, or ignored.
        for on in ["1", "true", "YES", " on "] {
            let env = move |name: &str| (name == "RAINDROP_WORKSHOP").then(|| on.to_string());
            assert_eq!(resolve(&Setting::Inherit, env).0, url(DEFAULT_URL), "{on:?}");
        }
        for off in ["0", "False", "no", "OFF"] {
            let env = move |name: &str| (name == "RAINDROP_WORKSHOP").then(|| off.to_string());
            assert_eq!(resolve(&Setting::Inherit, env).0, Workshop::Off, "{off:?}");
        }
        let maybe = env_of(&[("RAINDROP_WORKSHOP", "maybe")]);
        assert_eq!(resolve(&Setting::Inherit, maybe), (Workshop::Probe, None));
        let bad_url = env_of(&[("RAINDROP_WORKSHOP", "ftp://x")]);
        let (off, warning) = resolve(&Setting::Inherit, bad_url);
        assert_eq!(off, Workshop::Off);
        assert!(warning.is_some());
        // 5. nothing said: the probe decides.
        assert_eq!(resolve(&Setting::Inherit, env_of(&[])), (Workshop::Probe, None));
    }

    #[test]
    fn probe_finds_a_listener_on_5899() {
        // Skipped when something else (a developer's Workshop) holds the port.
        let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", PROBE_PORT)) else { return };
        assert_eq!(probe(), Workshop::Url(DEFAULT_URL.into()));
        drop(listener);
        assert_eq!(probe(), Workshop::Off);
    }
}
