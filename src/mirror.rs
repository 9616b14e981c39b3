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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BODY: usize = 1 << 20;
/// Bodies waiting for the mirror; more are dropped and counted (`mirror_dropped`).
const QUEUE: usize = 64;

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
