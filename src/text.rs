//! Text fields: repaired from any bytes, capped in characters with the truncation marker.

use std::borrow::Cow;

/// Text shared without copying: a call's event and its span hold the same input and output.
pub type Text = std::sync::Arc<str>;

pub const TRUNCATION_MARKER: &str = "...[truncated by raindrop]";
const MARKER_CHARS: usize = 26;

/// Bytes from C as text: invalid UTF-8 becomes U+FFFD, never an error.
pub fn repair_utf8(bytes: &[u8]) -> Cow<'_, str> {
    // The strict check is several times faster on valid text, the common case.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Caps `text` at `limit` characters, marker included; never splits a character.
/// With `limit` at or under the marker's length the text is cut hard, without marker.
pub fn cap(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text); // bytes >= chars, so it fits
    }
    let mut chars = text.char_indices();
    if limit <= MARKER_CHARS {
        // No room for the marker: cut hard at `limit` characters, if there are more.
        return match chars.nth(limit) {
            Some((cut_at, _)) => Cow::Owned(text[..cut_at].to_owned()),
            None => Cow::Borrowed(text),
        };
    }
    let keep = limit - MARKER_CHARS;
    let cut_at = match chars.nth(keep) {
        Some((index, _)) => index,
        None => return Cow::Borrowed(text),
    };
    // Is the text longer than `limit` characters at all? (`MARKER_CHARS - 1` more to skip.)
    if chars.nth(MARKER_CHARS - 1).is_none() {
        return Cow::Borrowed(text);
    }
    let mut capped = String::with_capacity(cut_at + TRUNCATION_MARKER.len());
    capped.push_str(&text[..cut_at]);
    capped.push_str(TRUNCATION_MARKER);
    Cow::Owned(capped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_with_marker_on_char_boundaries() {
        assert_eq!(cap("short", 100), "short");
        let long = "é".repeat(100);
        let capped = cap(&long, 50);
        assert_eq!(capped.chars().count(), 50);
        assert!(capped.ends_with(TRUNCATION_MARKER));
        // Exactly at the limit in characters but longer in bytes: untouched.
        assert_eq!(cap(&"é".repeat(50), 50), "é".repeat(50));
        assert_eq!(cap(&"x".repeat(51), 51).len(), 51);
        assert_eq!(cap("abcdefghij", 5), "abcde");
        assert_eq!(cap(&"😀".repeat(40), 30).chars().count(), 30);
    }

    #[test]
    fn cap_at_or_below_marker_length_hard_slices() {
        // Limits at or under the marker's length cut hard; in debug builds these subtractions
        // used to overflow.
        for limit in [0, 1, 5, MARKER_CHARS - 1, MARKER_CHARS] {
            let long = "é".repeat(100);
            assert_eq!(cap(&long, limit), "é".repeat(limit), "limit {limit}");
            assert_eq!(cap(&"é".repeat(limit), limit), "é".repeat(limit));
        }
        assert_eq!(cap(&"x".repeat(MARKER_CHARS + 1), MARKER_CHARS + 1).len(), MARKER_CHARS + 1);
        assert_eq!(cap(&"x".repeat(MARKER_CHARS + 2), MARKER_CHARS + 1), format!("x{TRUNCATION_MARKER}"));
    }

    #[test]
    fn repairs_invalid_utf8() {
        assert_eq!(repair_utf8(b"a\xffb"), "a\u{fffd}b");
    }
}
