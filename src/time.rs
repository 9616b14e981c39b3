//! Time: `Timestamp` (taken at call time or given by the caller), formatted as RFC 3339 UTC with
//! milliseconds; RFC 3339 and HTTP-date parsing for caller timestamps and Retry-After.

use crate::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

/// When an event or signal happened: captured at call time, or given by the caller.
#[derive(Clone, Debug)]
pub enum Timestamp {
    UnixNanos(u64),
    Given(String),
}

impl Timestamp {
    pub fn now() -> Self {
        Timestamp::UnixNanos(unix_nanos())
    }
    pub fn to_text(&self) -> String {
        match self {
            Timestamp::UnixNanos(nanos) => format_rfc3339_millis(*nanos),
            Timestamp::Given(text) => text.clone(),
        }
    }
    /// A caller timestamp, checked as RFC 3339.
    pub fn given(argument: &str, text: &str) -> Result<Self, Error> {
        if is_rfc3339(text) {
            Ok(Timestamp::Given(text.to_owned()))
        } else {
            Err(Error::new(
                crate::error::ErrorKind::InvalidTimestamp,
                format!("{argument} is not an RFC 3339 timestamp: {:?}", crate::text::cap(text, 64)),
            ))
        }
    }
}

pub fn unix_nanos() -> u64 {
    #[cfg(unix)]
    {
        // One clock_gettime (vDSO on Linux), without SystemTime's Result and Duration arithmetic:
        // about half the instructions, and a wrapped call reads the clock twice.
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `now` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } == 0 && now.tv_sec >= 0 {
            return (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64);
        }
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-03-02T08:15:00.123Z` for a time in nanoseconds since the epoch.
pub fn format_rfc3339_millis(unix_nanos: u64) -> String {
    let millis = unix_nanos / 1_000_000;
    let seconds = (millis / 1000) as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        millis % 1000
    )
}

fn digits(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    let slice = bytes.get(at..at + count)?;
    slice.iter().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// Checks RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`, `T` or space, `z` allowed).
pub fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let fields = (|| {
        let (_year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
        let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
        let separators =
            b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' && b[16] == b':';
        let ranges = (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second <= 60;
        (separators && ranges).then_some(())
    })();
    if fields.is_none() {
        return false;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return false;
        }
    }
    match b.get(at) {
        Some(b'Z' | b'z') => at + 1 == b.len(),
        Some(b'+' | b'-') => {
            at + 6 == b.len()
                && digits(b, at + 1, 2).is_some_and(|h| h < 24)
                && b[at + 3] == b':'
                && digits(b, at + 4, 2).is_some_and(|m| m < 60)
        }
        _ => false,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into seconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u32 = parts[1].parse().ok()?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == parts[2])? as u32 + 1;
    let year: i64 = parts[3].parse().ok()?;
    let clock: Vec<u32> = parts[4].split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if clock.len() != 3 || !(1..=31).contains(&day) {
        return None;
    }
    let seconds = i64::from(clock[0] * 3600 + clock[1] * 60 + clock[2]);
    Some(days_from_civil(year, month, day) * 86_400 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(1_772_439_300_123_000_000), "2026-03-02T08:15:00.123Z");
        assert!(is_rfc3339("2026-03-02T08:15:00Z"));
        assert!(is_rfc3339("2026-03-02T08:15:00.4811207+05:30"));
        assert!(!is_rfc3339("2026-03-02"));
        assert!(!is_rfc3339("yesterday"));
        assert!(!is_rfc3339("2026-13-02T08:15:00Z"));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date("soon"), None);
    }
}
