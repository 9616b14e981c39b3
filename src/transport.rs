//! Where a request body goes: HTTP through one reused ureq agent (rustls, no OpenSSL), or one JSON
//! line per request in a file (`file://`).

use crate::config::{Config, Sink};
use crate::retry::{classify, parse_retry_after, Outcome};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Events,
    Signals,
    Identify,
    Traces,
}

impl Route {
    pub fn path(self) -> &'static str {
        match self {
            Route::Events => "events/track",
            Route::Signals => "signals/track",
            Route::Identify => "users/identify",
            Route::Traces => "traces",
        }
    }
}

pub enum Transport {
    Http { agent: ureq::Agent, base: String, traces_url: Option<String>, authorization: Option<String>, project_id: Option<String> },
    File { path: String, file: Option<File> },
}

impl Transport {
    pub fn new(config: &Config) -> Self {
        match &config.sink {
            Sink::File(path) => Transport::File { path: path.clone(), file: None },
            Sink::Http(base) => {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .timeout_connect(Some(config.connect_timeout))
                    .timeout_global(Some(config.request_timeout))
                    .user_agent(format!("raindrop-dspy/{}", env!("CARGO_PKG_VERSION")))
                    .build()
                    .into();
                Transport::Http {
                    agent,
                    base: base.clone(),
                    traces_url: config.traces_endpoint.clone(),
                    authorization: config.api_key.as_ref().map(|key| format!("Bearer {key}")),
                    project_id: config.project_id.clone(),
                }
            }
        }
    }

    /// Where a route goes, without credentials, for log lines.
    pub fn describe(&self, route: Route) -> String {
        match self {
            Transport::File { path, .. } => format!("file://{path} ({})", route.path()),
            Transport::Http { base, traces_url, .. } => {
                let url = match (route, traces_url) {
                    (Route::Traces, Some(url)) => url.clone(),
                    _ => format!("{base}{}", route.path()),
                };
                crate::log::redact_url(&url)
            }
        }
    }

    /// One attempt, bounded by `timeout`.
    pub fn post(&mut self, route: Route, body: &[u8], timeout: Duration) -> Outcome {
        match self {
            Transport::File { path, file } => {
                let written = (|| -> std::io::Result<()> {
                    if file.is_none() {
                        *file = Some(OpenOptions::new().create(true).append(true).open(&*path)?);
                    }
                    let mut line = Vec::with_capacity(body.len() + 40);
                    line.extend_from_slice(br#"{"route":""#);
                    line.extend_from_slice(route.path().as_bytes());
                    line.extend_from_slice(br#"","body":"#);
                    line.extend_from_slice(body);
                    line.extend_from_slice(b"}\n");
                    let f = file.as_mut().ok_or_else(|| std::io::Error::other("file not open"))?;
                    f.write_all(&line)?;
                    f.flush()
                })();
                match written {
                    Ok(()) => Outcome::Delivered(200),
                    Err(error) => {
                        *file = None;
                        Outcome::Retry { status: None, retry_after: None, why: format!("writing {path}: {error}") }
                    }
                }
            }
            Transport::Http { agent, base, traces_url, authorization, project_id } => {
                // A separate traces endpoint is someone else's collector: it never gets the
                // Raindrop key or project.
                let (url, raindrop) = match (route, traces_url.as_ref()) {
                    (Route::Traces, Some(url)) => (url.clone(), false),
                    _ => (format!("{base}{}", route.path()), true),
                };
                let mut request = agent.post(&url).header("Content-Type", "application/json");
                if let (Some(value), true) = (authorization.as_ref(), raindrop) {
                    request = request.header("Authorization", value.as_str());
                }
                if let (Some(slug), true) = (project_id.as_ref(), raindrop) {
                    request = request.header("X-Raindrop-Project-Id", slug.as_str());
                }
                let request = request.config().timeout_global(Some(timeout)).build();
                match request.send(body) {
                    Ok(mut response) => {
                        let status = response.status().as_u16();
                        let now = (crate::time::unix_nanos() / 1_000_000_000) as i64;
                        let retry_after = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, now));
                        // Read (and ignore) the body so the connection can be reused.
                        let mut sink = Vec::new();
                        let _ = response.body_mut().as_reader().take(64 * 1024).read_to_end(&mut sink);
                        classify(status, retry_after)
                    }
                    Err(error) => Outcome::Retry { status: None, retry_after: None, why: crate::log::redact_url(&error.to_string()) },
                }
            }
        }
    }
}
