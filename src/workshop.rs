//! Where the Workshop mirror goes (raindrop-wire.md §1.3): the `local_workshop_url` setting,
//! resolved against the environment at `rd_new` and, last, by probing the Workshop's port. The
//! mirroring itself is `mirror`.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://localhost:5899/v1/";
const PROBE_PORT: u16 = 5899;
const PROBE_BUDGET: Duration = Duration::from_millis(100);

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
