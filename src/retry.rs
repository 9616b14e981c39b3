//! When to retry and how long to wait: capped exponential backoff with jitter, and Retry-After
//! (seconds or HTTP date) honoured up to a cap.

use std::time::Duration;

/// What one attempt came to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// 2xx: delivered (the body, even malformed, is ignored).
    Delivered(u16),
    /// Any other 4xx (and 3xx): dropped at once, never resent.
    Rejected(u16),
    /// Transport error, 408, 429 or 5xx: retried. `status` is None for transport errors.
    Retry { status: Option<u16>, retry_after: Option<Duration>, why: String },
}

pub fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered(status),
        408 | 429 | 500..=599 => Outcome::Retry { status: Some(status), retry_after, why: format!("HTTP {status}") },
        _ => Outcome::Rejected(status),
    }
}

/// `Retry-After` as seconds or an IMF-fixdate; a date in the past means no wait.
pub fn parse_retry_after(value: &str, now_unix_seconds: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = crate::time::parse_http_date(value)?;
    Some(Duration::from_secs(at.saturating_sub(now_unix_seconds).max(0) as u64))
}

pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub retry_after_cap: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (0-based): initial × 2^retry capped at max, with
    /// "equal jitter" (between half and all of it), or Retry-After (capped) when that is longer.
    /// Never shorter than the backoff: `Retry-After: 0`, or a date in the past (a client clock
    /// running ahead sees every date as past), would otherwise retry as fast as the server answers.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        let exponential = self.initial.saturating_mul(1u32 << retry.min(20)).min(self.max);
        let half = exponential / 2;
        let jitter = (random % 1_000) as u32;
        let backoff = half + half * jitter / 1_000;
        match retry_after {
            Some(wait) => wait.min(self.retry_after_cap).max(backoff),
            None => backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(204, None), Outcome::Delivered(204));
        assert_eq!(classify(400, None), Outcome::Rejected(400));
        assert_eq!(classify(413, None), Outcome::Rejected(413));
        assert!(matches!(classify(408, None), Outcome::Retry { .. }));
        assert!(matches!(classify(429, None), Outcome::Retry { .. }));
        assert!(matches!(classify(503, None), Outcome::Retry { .. }));
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let backoff = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(30),
        };
        let d0 = backoff.delay(0, None, 999);
        assert!(d0 >= Duration::from_millis(250) && d0 <= Duration::from_millis(500));
        assert!(backoff.delay(1, None, 0) == Duration::from_millis(500));
        assert!(backoff.delay(30, None, 999) <= Duration::from_secs(30));
        assert_eq!(backoff.delay(0, Some(Duration::from_secs(3600)), 0), Duration::from_secs(30));
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 900_000_000), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("later", 0), None);
    }

    #[test]
    fn retry_after_zero_or_past_still_backs_off() {
        let backoff = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(30),
        };
        for retry in 0..10 {
            let plain = backoff.delay(retry, None, 0);
            assert!(plain >= Duration::from_millis(250));
            assert_eq!(backoff.delay(retry, Some(Duration::ZERO), 0), plain, "Retry-After: 0");
            let past = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 900_000_000);
            assert_eq!(backoff.delay(retry, past, 0), plain, "a date in the past");
        }
        // A longer Retry-After still wins over a short backoff.
        assert_eq!(backoff.delay(0, Some(Duration::from_secs(7)), 0), Duration::from_secs(7));
    }
}
