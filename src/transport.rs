//! Where a request body goes: HTTP through one reused ureq agent (rustls, no OpenSSL), or one JSON
//! line per request in a file (`file://`).

use crate::config::{Config, Sink, TlsRoots};
use crate::retry::{classify, parse_retry_after, Outcome};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

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

/// Where requests go: the Raindrop API (or a file), and optionally a separate OTLP collector
/// for the `traces` route.
pub struct Transport {
    main: Destination,
    traces: Option<Destination>,
}

enum Destination {
    /// `url` + the route path, or exactly `url` when `full_url` (a collector endpoint).
    Http {
        agent: ureq::Agent,
        url: String,
        full_url: bool,
        headers: Vec<(&'static str, String)>,
    },
    File {
        path: String,
        file: Option<File>,
    },
}

impl Transport {
    pub fn new(config: &Config) -> Self {
        // Certificates are always verified; only which roots are trusted can be chosen.
        let roots = match &config.tls_roots {
            TlsRoots::WebPki => RootCerts::WebPki,
            TlsRoots::Platform => RootCerts::PlatformVerifier,
            TlsRoots::Bundle(certificates) => RootCerts::new_with_certs(
                &certificates.iter().map(|der| Certificate::from_der(der).to_owned()).collect::<Vec<_>>(),
            ),
        };
        let tls = TlsConfig::builder().root_certs(roots).build();
        let agent = || -> ureq::Agent {
            ureq::Agent::config_builder()
                .tls_config(tls.clone())
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_connect(Some(config.connect_timeout))
                .timeout_global(Some(config.request_timeout))
                .user_agent(format!("raindrop-dspy/{}", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        let main = match &config.sink {
            Sink::File(path) => Destination::File { path: path.clone(), file: None },
            Sink::Http(base) => {
                let mut headers = Vec::new();
                if let Some(key) = &config.api_key {
                    headers.push(("Authorization", format!("Bearer {key}")));
                }
                if let Some(slug) = &config.project_id {
                    headers.push(("X-Raindrop-Project-Id", slug.clone()));
                }
                Destination::Http { agent: agent(), url: base.clone(), full_url: false, headers }
            }
        };
        // A separate traces endpoint is someone else's collector: it never gets the Raindrop key
        // or project.
        let traces = config.traces_endpoint.as_ref().map(|url| Destination::Http {
            agent: agent(),
            url: url.clone(),
            full_url: true,
            headers: Vec::new(),
        });
        Transport { main, traces }
    }

    fn destination(&mut self, route: Route) -> &mut Destination {
        match (route, self.traces.as_mut()) {
            (Route::Traces, Some(traces)) => traces,
            _ => &mut self.main,
        }
    }

    /// Where a route goes, without credentials, for log lines.
    pub fn describe(&self, route: Route) -> String {
        let destination = match (route, self.traces.as_ref()) {
            (Route::Traces, Some(traces)) => traces,
            _ => &self.main,
        };
        match destination {
            Destination::File { path, .. } => format!("file://{path} ({})", route.path()),
            Destination::Http { url, full_url: true, .. } => crate::log::redact_url(url),
            Destination::Http { url, .. } => crate::log::redact_url(&format!("{url}{}", route.path())),
        }
    }

    /// One attempt, bounded by `timeout`.
    pub fn post(&mut self, route: Route, body: &[u8], timeout: Duration) -> Outcome {
        match self.destination(route) {
            Destination::File { path, file } => write_line(path, file, route, body),
            Destination::Http { agent, url, full_url, headers } => {
                let url = if *full_url { url.clone() } else { format!("{url}{}", route.path()) };
                let mut request = agent.post(&url).header("Content-Type", "application/json");
                for (name, value) in headers.iter() {
                    request = request.header(*name, value.as_str());
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
                    Err(error) => Outcome::Retry {
                        status: None,
                        retry_after: None,
                        why: crate::log::redact_url(&error.to_string()),
                    },
                }
            }
        }
    }
}

/// The sink file holds what would go to the API: readable by its owner only (0600 when created),
/// and never reached through a symlink at its last component (O_NOFOLLOW), so another user cannot
/// plant a link to redirect or read it.
#[cfg(unix)]
fn open_sink_file(path: &str) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Windows has neither modes nor O_NOFOLLOW: the file gets its folder's permissions.
#[cfg(not(unix))]
fn open_sink_file(path: &str) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The `file://` sink: one JSON line `{"route": ..., "body": ...}` per request.
fn write_line(path: &str, file: &mut Option<File>, route: Route, body: &[u8]) -> Outcome {
    let written = (|| -> std::io::Result<()> {
        if file.is_none() {
            *file = Some(open_sink_file(path)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rd-transport-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn file_sink_is_created_owner_only() {
        let dir = temp_dir("mode");
        let path = dir.join("sink.jsonl");
        let mut file = None;
        assert_eq!(write_line(path.to_str().unwrap(), &mut file, Route::Events, b"[]"), Outcome::Delivered(200));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_sink_never_follows_a_symlink_at_its_path() {
        let dir = temp_dir("symlink");
        let target = dir.join("victim");
        std::fs::write(&target, "untouched").unwrap();
        let link = dir.join("sink.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut file = None;
        let outcome = write_line(link.to_str().unwrap(), &mut file, Route::Events, b"[]");
        assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
