//! Client configuration: JSON from `rd_new`, environment fallbacks, defaults and validation.

use crate::error::Error;
use serde::Deserialize;
use std::time::Duration;

pub const DEFAULT_ENDPOINT: &str = "https://api.raindrop.ai/v1/";
/// `spool_max_bytes` when not set: 256 MiB on disk.
pub(crate) const DEFAULT_SPOOL_MAX_BYTES: u64 = 256 << 20;
/// The longest `service_name`, `library_name`, `library_version` and `language`.
pub(crate) const MAX_NAME_BYTES: usize = 256;

/// The configuration JSON as the caller wrote it (every key optional; `null` means absent).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    api_key: Option<String>,
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    project_id: Option<String>,
    user_id: Option<String>,
    convo_id: Option<String>,
    event_name: Option<String>,
    tracing_enabled: Option<bool>,
    bypass_otel_for_tools: Option<bool>,
    debug: Option<bool>,
    max_queue_items: Option<u64>,
    max_queue_bytes: Option<u64>,
    max_batch_events: Option<u64>,
    max_batch_bytes: Option<u64>,
    flush_interval_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    retry_initial_backoff_ms: Option<u64>,
    retry_max_backoff_ms: Option<u64>,
    retry_after_cap_ms: Option<u64>,
    retry_budget_ms: Option<u64>,
    shutdown_timeout_ms: Option<u64>,
    flush_timeout_ms: Option<u64>,
    max_text_field_chars: Option<u64>,
    open_call_ttl_ms: Option<u64>,
    max_open_calls: Option<u64>,
    max_open_call_bytes: Option<u64>,
    service_name: Option<String>,
    ca_file: Option<String>,
    tls_roots: Option<String>,
    library_name: Option<String>,
    library_version: Option<String>,
    language: Option<String>,
    local_workshop_url: Option<UrlOrFalse>,
    redact_pii: Option<bool>,
    spool_dir: Option<String>,
    spool_max_bytes: Option<u64>,
}

/// `local_workshop_url`: a URL, or `false` to opt out.
#[derive(Deserialize)]
#[serde(untagged)]
enum UrlOrFalse {
    Url(String),
    Flag(bool),
}

/// Which certificate authorities HTTPS trusts. Verification itself is never switched off.
#[derive(Clone, Debug, PartialEq)]
pub enum TlsRoots {
    /// The Mozilla roots compiled in (`webpki-roots`): the default.
    WebPki,
    /// The operating system's verifier and roots (`rustls-platform-verifier`).
    Platform,
    /// The certificates of a PEM bundle (`ca_file`, else `SSL_CERT_FILE`), DER-encoded.
    Bundle(Vec<Vec<u8>>),
}

/// Where requests go.
#[derive(Clone, Debug, PartialEq)]
pub enum Sink {
    /// Base URL ending in `/`; routes are appended.
    Http(String),
    /// One JSON line per request, appended to this file.
    File(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    /// None: telemetry disabled (no key and no file sink).
    pub api_key: Option<String>,
    pub sink: Sink,
    pub traces_endpoint: Option<String>,
    /// Valid project slug, or None.
    pub project_id: Option<String>,
    pub invalid_project_id: Option<String>,
    pub user_id: Option<String>,
    pub convo_id: Option<String>,
    pub event_name: String,
    pub tracing_enabled: bool,
    pub bypass_otel_for_tools: bool,
    pub debug: bool,
    pub max_queue_items: usize,
    pub max_queue_bytes: usize,
    pub max_batch_events: usize,
    pub max_batch_bytes: usize,
    pub flush_interval: Duration,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_initial_backoff: Duration,
    pub retry_max_backoff: Duration,
    pub retry_after_cap: Duration,
    pub retry_budget: Duration,
    pub shutdown_timeout: Duration,
    pub flush_timeout: Duration,
    pub max_text_field_chars: usize,
    pub open_call_ttl: Duration,
    pub max_open_calls: usize,
    /// What begun and not yet ended calls may hold (their inputs and names), in bytes.
    pub max_open_call_bytes: usize,
    pub service_name: String,
    pub tls_roots: TlsRoots,
    pub library_name: String,
    pub library_version: String,
    pub language: String,
    /// The Workshop mirror after resolution (`Probe` until `Client::new` probes).
    pub workshop: crate::workshop::Workshop,
    /// Given once at `rd_new` when a Workshop URL was given but is not valid.
    pub workshop_warning: Option<String>,
    pub redact_pii: bool,
    /// The durable spool's directory (`spool_dir`), off when None.
    pub spool_dir: Option<std::path::PathBuf>,
    pub spool_max_bytes: u64,
}

impl Config {
    pub fn enabled(&self) -> bool {
        self.api_key.is_some() || matches!(self.sink, Sink::File(_)) || self.mirror_url().is_some()
    }

    pub fn mirror_url(&self) -> Option<&str> {
        match &self.workshop {
            crate::workshop::Workshop::Url(url) => Some(url),
            _ => None,
        }
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`
pub fn is_valid_project_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    (1..=63).contains(&bytes.len()) && bytes.iter().all(allowed) && bytes[0] != b'-' && bytes[bytes.len() - 1] != b'-'
}

/// Reads the JSON object key by key, so an error names the key without echoing its value
/// (which might be a secret in the wrong place).
fn read_raw(text: &str) -> Result<RawConfig, Error> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| Error::config(format!("not a valid JSON object ({e})")))?;
    for (key, value) in &object {
        let single = serde_json::Value::Object([(key.clone(), value.clone())].into_iter().collect());
        if let Err(error) = serde_json::from_value::<RawConfig>(single) {
            let unknown = error.to_string().starts_with("unknown field");
            return Err(Error::config(if unknown {
                format!("unknown key {:?}", crate::text::cap(key, 64))
            } else {
                format!("key {key:?} has a value of the wrong type")
            }));
        }
    }
    // serde's messages can quote a value: never echo one (it may be a secret in the wrong key).
    serde_json::from_value(serde_json::Value::Object(object)).map_err(|_| Error::config("invalid configuration"))
}

/// What an HTTP header value may hold: printable ASCII (the key goes out as `Bearer <key>`).
fn is_header_safe(value: &str) -> bool {
    value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `ca_file` (or `SSL_CERT_FILE`) wins over `tls_roots`; a bundle that cannot be read or holds
/// no certificate is refused here rather than failing every request later.
fn tls_roots(ca_file: Option<String>, roots: Option<&str>) -> Result<TlsRoots, Error> {
    // A wrong value is refused even when a bundle wins, so a typo never hides behind SSL_CERT_FILE.
    let named = match roots {
        None | Some("webpki") => TlsRoots::WebPki,
        Some("platform") => TlsRoots::Platform,
        Some(_) => return Err(Error::config("tls_roots must be \"webpki\" or \"platform\"")),
    };
    if let Some(path) = ca_file.filter(|p| !p.trim().is_empty()) {
        let pem = std::fs::read(path.trim())
            .map_err(|e| Error::config(format!("ca_file (or SSL_CERT_FILE) cannot be read: {}", e.kind())))?;
        let certificates: Vec<Vec<u8>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert.der().to_vec()),
                _ => None,
            })
            .collect();
        if certificates.is_empty() {
            return Err(Error::config("ca_file (or SSL_CERT_FILE) holds no PEM certificate"));
        }
        return Ok(TlsRoots::Bundle(certificates));
    }
    Ok(named)
}

fn millis(value: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(value.unwrap_or(default))
}

fn positive(name: &str, value: Option<u64>, default: u64) -> Result<usize, Error> {
    match value {
        Some(0) => Err(Error::config(format!("{name} must be at least 1"))),
        Some(v) => Ok(v as usize),
        None => Ok(default as usize),
    }
}

/// Parses the configuration; `env` looks up environment variables (injected for tests).
pub fn parse(json: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let raw: RawConfig = match json.map(str::trim).filter(|j| !j.is_empty()) {
        None => RawConfig::default(),
        Some(text) => {
            if crate::json_bound::leading_byte(text) != Some(b'{') {
                return Err(Error::config("must be a JSON object"));
            }
            read_raw(text)?
        }
    };
    // Explicit argument, then the environment, then the default (contract §3).
    let api_key = non_empty(raw.api_key.or_else(|| env("RAINDROP_WRITE_KEY")));
    if api_key.as_deref().is_some_and(|key| !is_header_safe(key)) {
        // Refused here, or every batch would fail locally for the whole retry budget.
        return Err(Error::config(
            "api_key (or RAINDROP_WRITE_KEY) has a character not allowed in an HTTP header \
             (only printable ASCII: no CR, LF or other control characters)",
        ));
    }
    let endpoint =
        non_empty(raw.endpoint.or_else(|| env("RAINDROP_ENDPOINT"))).unwrap_or_else(|| DEFAULT_ENDPOINT.into());
    let sink = if let Some(path) = endpoint.strip_prefix("file://") {
        if path.is_empty() {
            return Err(Error::config("endpoint file:// needs a path"));
        }
        Sink::File(path.to_owned())
    } else if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        // Exactly one slash before the route: `…/v1//` must not give `/v1//events/track`.
        Sink::Http(format!("{}/", endpoint.trim_end_matches('/')))
    } else {
        // Not echoed: a value in the wrong key may be a secret (an api key, `user:password@host`).
        return Err(Error::config("endpoint must start with http://, https:// or file://"));
    };
    let traces_endpoint = non_empty(raw.traces_endpoint);
    if let Some(url) = &traces_endpoint {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::config("traces_endpoint must start with http:// or https://"));
        }
    }
    let project = non_empty(raw.project_id);
    let (project_id, invalid_project_id) = match project {
        Some(slug) if is_valid_project_slug(&slug) => (Some(slug), None),
        Some(slug) => (None, Some(slug)),
        None => (None, None),
    };
    let max_text_field_chars = positive("max_text_field_chars", raw.max_text_field_chars, 1_000_000)?;
    let max_batch_bytes = positive("max_batch_bytes", raw.max_batch_bytes, 1 << 20)?;
    if max_batch_bytes < 4096 {
        return Err(Error::config("max_batch_bytes must be at least 4096"));
    }
    let tls_roots = tls_roots(raw.ca_file.or_else(|| env("SSL_CERT_FILE")), raw.tls_roots.as_deref())?;
    // Names that go into every batch (`$context`, the OTLP resource): bounded, so they always
    // leave room for the items inside the smallest `max_batch_bytes`.
    for (name, value) in [
        ("service_name", &raw.service_name),
        ("library_name", &raw.library_name),
        ("library_version", &raw.library_version),
        ("language", &raw.language),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > MAX_NAME_BYTES) {
            return Err(Error::config(format!("{name} is longer than {MAX_NAME_BYTES} bytes")));
        }
    }
    let workshop_setting = match raw.local_workshop_url {
        None => crate::workshop::Setting::Inherit,
        Some(UrlOrFalse::Flag(false)) => crate::workshop::Setting::Off,
        Some(UrlOrFalse::Flag(true)) => {
            return Err(Error::config("local_workshop_url must be a URL, false or null"));
        }
        Some(UrlOrFalse::Url(url)) if url.trim().is_empty() => crate::workshop::Setting::Off,
        Some(UrlOrFalse::Url(url)) => crate::workshop::Setting::Url(url),
    };
    let (workshop, workshop_warning) = crate::workshop::resolve(&workshop_setting, &env);
    Ok(Config {
        workshop,
        workshop_warning,
        redact_pii: raw.redact_pii.unwrap_or(false),
        spool_dir: non_empty(raw.spool_dir).map(Into::into),
        spool_max_bytes: positive("spool_max_bytes", raw.spool_max_bytes, DEFAULT_SPOOL_MAX_BYTES)? as u64,
        api_key,
        sink,
        traces_endpoint,
        project_id,
        invalid_project_id,
        user_id: non_empty(raw.user_id),
        convo_id: non_empty(raw.convo_id),
        event_name: non_empty(raw.event_name).unwrap_or_else(|| "ai_generation".into()),
        tracing_enabled: raw.tracing_enabled.unwrap_or(true),
        bypass_otel_for_tools: raw.bypass_otel_for_tools.unwrap_or(true),
        debug: raw.debug.unwrap_or(false),
        max_queue_items: positive("max_queue_items", raw.max_queue_items, 10_000)?,
        max_queue_bytes: positive("max_queue_bytes", raw.max_queue_bytes, 64 << 20)?,
        max_batch_events: positive("max_batch_events", raw.max_batch_events, 100)?,
        max_batch_bytes,
        flush_interval: millis(raw.flush_interval_ms, 1000),
        request_timeout: millis(raw.request_timeout_ms, 10_000),
        connect_timeout: millis(raw.connect_timeout_ms, 5_000),
        retry_initial_backoff: millis(raw.retry_initial_backoff_ms, 500),
        retry_max_backoff: millis(raw.retry_max_backoff_ms, 30_000),
        retry_after_cap: millis(raw.retry_after_cap_ms, 30_000),
        retry_budget: millis(raw.retry_budget_ms, 300_000),
        shutdown_timeout: millis(raw.shutdown_timeout_ms, 10_000),
        flush_timeout: millis(raw.flush_timeout_ms, 10_000),
        max_text_field_chars,
        open_call_ttl: millis(raw.open_call_ttl_ms, 3_600_000),
        max_open_calls: positive("max_open_calls", raw.max_open_calls, 100_000)?,
        max_open_call_bytes: positive("max_open_call_bytes", raw.max_open_call_bytes, 64 << 20)?,
        service_name: non_empty(raw.service_name).unwrap_or_else(|| "raindrop-dspy".into()),
        tls_roots,
        library_name: non_empty(raw.library_name).unwrap_or_else(|| "raindrop-dspy".into()),
        library_version: non_empty(raw.library_version).unwrap_or_else(|| env!("CARGO_PKG_VERSION").into()),
        language: non_empty(raw.language).unwrap_or_else(|| "c".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn precedence_argument_then_env_then_default() {
        let env = |name: &str| match name {
            "RAINDROP_WRITE_KEY" => Some("env-key".to_string()),
            "RAINDROP_ENDPOINT" => Some("http://env.example/v1".to_string()),
            _ => None,
        };
        let config = parse(Some(r#"{"api_key": "arg-key"}"#), env).unwrap();
        assert_eq!(config.api_key.as_deref(), Some("arg-key"));
        assert_eq!(config.sink, Sink::Http("http://env.example/v1/".into()));
        let config = parse(None, no_env).unwrap();
        assert_eq!(config.api_key, None);
        assert_eq!(config.sink, Sink::Http(DEFAULT_ENDPOINT.into()));
        assert!(!config.enabled());
    }

    #[test]
    fn a_wrong_tls_roots_is_refused_even_when_a_bundle_wins() {
        let pem = std::env::temp_dir().join(format!("rd-config-test-{}.pem", std::process::id()));
        std::fs::write(&pem, "not a certificate").unwrap();
        let env = |name: &str| (name == "SSL_CERT_FILE").then(|| pem.display().to_string());
        let error = parse(Some(r#"{"tls_roots": "plaform"}"#), env).unwrap_err();
        assert!(error.message.contains("tls_roots"), "{}", error.message);
        std::fs::remove_file(&pem).unwrap();
    }

    #[test]
    fn rejects_unknown_keys_and_bad_types() {
        assert!(parse(Some(r#"{"api_kye": "x"}"#), no_env).unwrap_err().message.contains("api_kye"));
        assert!(parse(Some(r#"{"debug": "yes"}"#), no_env).is_err());
        assert!(parse(Some("[1]"), no_env).is_err());
        assert!(parse(Some(r#"{"max_queue_items": 0}"#), no_env).is_err());
    }

    #[test]
    fn rejects_api_key_not_allowed_in_a_header_without_echoing_it() {
        for key in ["rk_abc\r\nX-Evil: 1", "rk_abc\ndef", "rk_\u{0}abc", "rk_clé", "rk_\u{7f}"] {
            let config = serde_json::json!({ "api_key": key }).to_string();
            let error = parse(Some(&config), no_env).unwrap_err();
            assert_eq!(error.kind, crate::error::ErrorKind::InvalidConfig);
            assert!(error.message.contains("api_key"), "{}", error.message);
            assert!(!error.message.contains("rk_"), "echoed the key: {}", error.message);
        }
        let env = |name: &str| (name == "RAINDROP_WRITE_KEY").then(|| "rk_env\r\n".to_string());
        // The environment value is trimmed; an inner newline is not.
        assert!(parse(None, env).is_ok());
        let env = |name: &str| (name == "RAINDROP_WRITE_KEY").then(|| "rk_a\nb".to_string());
        assert!(parse(None, env).is_err());
        assert!(parse(Some(r#"{"api_key": "rk_Abc-123_x.y~z+/="}"#), no_env).is_ok());
    }

    #[test]
    fn config_errors_never_echo_values() {
        for config in [
            r#"{"endpoint": "rk_secret_value"}"#,
            r#"{"endpoint": "admin:secret_value@host/v1"}"#,
            r#"{"traces_endpoint": "rk_secret_value"}"#,
            r#"{"max_queue_items": "rk_secret_value"}"#,
            r#"{"debug": "rk_secret_value"}"#,
            r#"{"api_key": ["rk_secret_value"]}"#,
        ] {
            let error = parse(Some(config), no_env).unwrap_err();
            assert!(!error.message.contains("secret"), "{config} → {}", error.message);
        }
        let env = |name: &str| (name == "RAINDROP_ENDPOINT").then(|| "rk_secret_value".to_string());
        assert!(!parse(None, env).unwrap_err().message.contains("secret"));
    }

    #[test]
    fn endpoint_gets_exactly_one_trailing_slash() {
        for (given, want) in [
            ("http://h/v1", "http://h/v1/"),
            ("http://h/v1/", "http://h/v1/"),
            ("http://h/v1//", "http://h/v1/"),
            ("http://h/v1///", "http://h/v1/"),
        ] {
            let config = serde_json::json!({ "endpoint": given }).to_string();
            assert_eq!(parse(Some(&config), no_env).unwrap().sink, Sink::Http(want.into()), "{given}");
        }
    }

    #[test]
    fn names_in_every_batch_are_bounded() {
        for name in ["service_name", "library_name", "library_version", "language"] {
            let config = serde_json::json!({ name: "s".repeat(MAX_NAME_BYTES) }).to_string();
            assert!(parse(Some(&config), no_env).is_ok(), "{name}");
            let config = serde_json::json!({ name: "s".repeat(5000) }).to_string();
            assert!(parse(Some(&config), no_env).unwrap_err().message.contains(name), "{name}");
        }
    }

    #[test]
    fn project_slugs() {
        for good in ["a", "prod", "my--project-2", &"a".repeat(63)] {
            assert!(is_valid_project_slug(good), "{good}");
        }
        for bad in ["", "-a", "a-", "Prod", "a_b", &"a".repeat(64), "a b"] {
            assert!(!is_valid_project_slug(bad), "{bad}");
        }
    }
}
