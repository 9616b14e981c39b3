//! Text fields: repaired from any bytes, capped in characters with the truncation marker.

use std::borrow::Cow;

/// A text field as the sender builds events and spans from it: valid UTF-8.
pub type Text = Box<str>;

/// A text field as the hot path copies it: the caller's bytes, capped, and checked as UTF-8 only
/// on the sender thread (contract §2: the hot path copies, the sender serialises). Exactly its
/// bytes, no header, so a text of up to 1,024 bytes is one small-object allocation (mimalloc's
/// fast path; an `Arc<str>` of the same text is 16 bytes longer and took its generic path, ~200
/// instructions more).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawText(Box<[u8]>);

impl RawText {
    /// `bytes` capped at `max_chars` characters: the text `repair_capped` gives, once repaired.
    /// Repairing never makes more characters than there are bytes, so bytes that fit the cap
    /// are copied as they are, unread (the sender repairs them); only a longer text is scanned
    /// here, to find where to cut it.
    pub fn capped(bytes: &[u8], max_chars: usize) -> RawText {
        if bytes.len() <= max_chars {
            return RawText(bytes.into());
        }
        RawText(repair_capped(bytes, max_chars).into_owned().into_bytes().into_boxed_slice())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Empty once repaired too (every byte becomes at least one character).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text, invalid UTF-8 repaired (U+FFFD); borrowed when valid.
    pub fn to_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The text, invalid UTF-8 repaired (U+FFFD); valid text keeps its allocation.
    pub fn into_text(self) -> Text {
        match String::from_utf8(self.0.into_vec()) {
            Ok(text) => text.into_boxed_str(),
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into(),
        }
    }
}

/// A name or a model as the hot path keeps it: up to `NAME_INLINE` bytes inline (module and
/// model names are short: no allocation, ~40 instructions less each), longer ones on the heap.
/// Already cut by `args`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(NameRepr);

/// With its length byte and the enum's tag, as large as a `String`.
const NAME_INLINE: usize = 22;

#[derive(Clone, Debug, PartialEq, Eq)]
enum NameRepr {
    Inline(u8, [u8; NAME_INLINE]),
    Heap(Box<str>),
}

impl Name {
    pub fn len(&self) -> usize {
        match &self.0 {
            NameRepr::Inline(len, _) => usize::from(*len),
            NameRepr::Heap(text) => text.len(),
        }
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        if text.len() > NAME_INLINE {
            return Name(NameRepr::Heap(text.into()));
        }
        let mut bytes = [0; NAME_INLINE];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Name(NameRepr::Inline(text.len() as u8, bytes))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        match &self.0 {
            // Whole `str`s are copied in, so this never fails (checked again, off the hot path).
            NameRepr::Inline(len, bytes) => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            NameRepr::Heap(text) => text,
        }
    }
}

impl From<&str> for RawText {
    fn from(text: &str) -> Self {
        RawText(text.as_bytes().into())
    }
}

pub const TRUNCATION_MARKER: &str = "...[truncated by raindrop]";
const MARKER_CHARS: usize = 26;

/// Whether `bytes` is all ASCII: most texts are, and then no UTF-8 decoding is needed. On x86_64
/// 128 bytes per step (eight SSE2 loads ORed together, one mask test), about 6x fewer
/// instructions than `std::str::from_utf8` on ASCII text (`scripts/bench-callgrind.sh`).
pub fn is_ascii(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // SSE2 is part of x86_64.
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
        const STEP: usize = 128;
        let steps = bytes.len() / STEP;
        let p = bytes.as_ptr().cast::<__m128i>();
        for step in 0..steps {
            // SAFETY: step < len / 128, so the 8 unaligned 16-byte loads stay within `bytes`.
            let high = unsafe {
                let q = p.add(step * 8);
                let a = _mm_or_si128(_mm_loadu_si128(q), _mm_loadu_si128(q.add(1)));
                let b = _mm_or_si128(_mm_loadu_si128(q.add(2)), _mm_loadu_si128(q.add(3)));
                let c = _mm_or_si128(_mm_loadu_si128(q.add(4)), _mm_loadu_si128(q.add(5)));
                let d = _mm_or_si128(_mm_loadu_si128(q.add(6)), _mm_loadu_si128(q.add(7)));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)))
            };
            if high != 0 {
                return false;
            }
        }
        is_ascii_words(&bytes[steps * STEP..])
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes.is_ascii()
    }
}

/// `is_ascii` 8 bytes per step: names and models are short, and `<[u8]>::is_ascii` checks a
/// slice of under 16 bytes one byte at a time.
fn is_ascii_words(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut high = 0u64;
    for word in &mut words {
        high |= u64::from_le_bytes(word.try_into().unwrap_or_default());
    }
    for byte in words.remainder() {
        high |= u64::from(*byte);
    }
    high & 0x8080_8080_8080_8080 == 0
}

/// Bytes from C as text: invalid UTF-8 becomes U+FFFD, never an error. The reference that
/// `repair_capped` is tested against; the library itself always caps first.
#[cfg(test)]
pub fn repair_utf8(bytes: &[u8]) -> Cow<'_, str> {
    // The strict check is several times faster on valid text, the common case.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Bytes from C as text capped at `limit` characters: the same as `cap(&repair_utf8(bytes),
/// limit)`, but only the bytes that can be kept are checked and repaired, so the cost follows
/// the cap, not the input (a 256 MB argument costs what its capped prefix costs).
pub fn repair_capped(bytes: &[u8], limit: usize) -> Cow<'_, str> {
    // `limit` characters to keep, one more to know whether there are more.
    match repaired_head(bytes, limit.saturating_add(1)) {
        Cow::Borrowed(text) => cap(text, limit),
        Cow::Owned(text) => Cow::Owned(cap(&text, limit).into_owned()),
    }
}

/// The first `chars` characters of `bytes` repaired as text (all of it when shorter), without
/// a marker: for names and ids, which are then cut in bytes or refused when too long. Reads
/// only what `repair_capped` reads.
#[inline]
pub fn repair_prefix(bytes: &[u8], chars: usize) -> Cow<'_, str> {
    // Names and models are short and ASCII: nothing to cut or repair.
    if bytes.len() <= chars && is_ascii_words(bytes) {
        // SAFETY: ASCII is valid UTF-8.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    repair_prefix_slow(bytes, chars)
}

#[inline(never)]
fn repair_prefix_slow(bytes: &[u8], chars: usize) -> Cow<'_, str> {
    let head = repaired_head(bytes, chars);
    if head.len() <= chars {
        return head; // no more characters than bytes: nothing to cut, no need to count
    }
    match head.char_indices().nth(chars) {
        None => head,
        Some((cut, _)) => match head {
            Cow::Borrowed(text) => Cow::Borrowed(&text[..cut]),
            Cow::Owned(mut text) => {
                text.truncate(cut);
                Cow::Owned(text)
            }
        },
    }
}

/// The start of `bytes` repaired as text: the same characters the whole input's repair starts
/// with, at least `chars` of them (all of them when there are fewer), perhaps some more.
///
/// Every character of the repaired text comes from 1 to 4 input bytes (a U+FFFD stands for 1 to
/// 3 invalid ones), so the first 4 × (chars + 1) bytes hold at least `chars` + 1 whole
/// characters, the same ones the whole input starts with; only the last character of that
/// prefix can differ (a sequence cut in two), and it is never needed.
fn repaired_head(bytes: &[u8], chars: usize) -> Cow<'_, str> {
    let window = chars.saturating_add(1).saturating_mul(4);
    let whole = bytes.len() <= window;
    let head = if whole { bytes } else { &bytes[..window] };
    if is_ascii(head) {
        // SAFETY: ASCII is valid UTF-8.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(head) });
    }
    match std::str::from_utf8(head) {
        Ok(text) => Cow::Borrowed(text),
        // Valid up to a character the window cut in two: the whole characters are enough.
        Err(e) if !whole && e.error_len().is_none() => {
            Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default())
        }
        Err(_) => Cow::Owned(repair_lossy(head, chars.saturating_add(1))),
    }
}

/// `String::from_utf8_lossy` of `bytes`, stopped once `max_chars` characters are out: checked a
/// block at a time with the fast validator, so only about as much input as the output needs is
/// read, copied and counted.
fn repair_lossy(bytes: &[u8], max_chars: usize) -> String {
    const BLOCK: usize = 64 << 10;
    let mut out = String::new();
    let mut chars = 0;
    let mut at = 0;
    while at < bytes.len() && chars < max_chars {
        let end = bytes.len().min(at + BLOCK);
        let block = &bytes[at..end];
        let (valid, advance, invalid) = match std::str::from_utf8(block) {
            Ok(text) => (text, block.len(), false),
            Err(e) => {
                let valid = std::str::from_utf8(&block[..e.valid_up_to()]).unwrap_or_default();
                match e.error_len() {
                    Some(len) => (valid, e.valid_up_to() + len, true),
                    // A character the block cut in two: the next block starts with it.
                    None if end < bytes.len() => (valid, e.valid_up_to(), false),
                    None => (valid, block.len(), true),
                }
            }
        };
        let room = max_chars - chars;
        match valid.char_indices().nth(room) {
            Some((cut, _)) => {
                out.push_str(&valid[..cut]);
                chars = max_chars;
            }
            None => {
                out.push_str(valid);
                chars += valid.chars().count();
            }
        }
        if invalid && chars < max_chars {
            out.push(char::REPLACEMENT_CHARACTER);
            chars += 1;
        }
        at += advance;
    }
    out
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
    fn ascii_check_finds_a_high_byte_anywhere() {
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 255, 256, 257, 1024, 1100] {
            let text = vec![b'a'; len];
            assert!(is_ascii(&text), "{len}");
            for at in 0..len {
                let mut bad = text.clone();
                bad[at] = 0x80;
                assert!(!is_ascii(&bad), "{len} at {at}");
            }
        }
        let mixed = "héllo wörld".repeat(20);
        assert_eq!(repair_capped(mixed.as_bytes(), 1000), mixed);
    }

    #[test]
    fn repair_capped_and_prefix_equal_repair_then_cut() {
        // Pseudo-random bytes biased to UTF-8 lead and continuation bytes, cut at every length.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 8] =
            [b"a", "é".as_bytes(), "€".as_bytes(), "😀".as_bytes(), b"\xff", b"\xf0\x9f", b"\xe2\x82", b"\x80"];
        for _ in 0..100 {
            let mut bytes = Vec::new();
            for _ in 0..(next() % 120) {
                bytes.extend_from_slice(pieces[(next() % 8) as usize]);
            }
            for limit in [0, 1, 2, 5, 25, 26, 27, 28, 30, 40, 60, 200] {
                for len in 0..=bytes.len() {
                    let input = &bytes[..len];
                    let repaired = repair_utf8(input);
                    assert_eq!(repair_capped(input, limit), cap(&repaired, limit), "{input:?} limit {limit}");
                    let prefix: String = repaired.chars().take(limit).collect();
                    assert_eq!(repair_prefix(input, limit), prefix, "{input:?} prefix {limit}");
                }
            }
        }
    }

    #[test]
    fn repair_capped_reads_only_its_window() {
        // A text far longer than the window; the bytes past it are never looked at, so any
        // content there (here: invalid UTF-8 that would change nothing) gives the same result.
        let limit = 30;
        let window = 4 * (limit + 2);
        let mut bytes = "é".repeat(200).into_bytes();
        let expected = repair_capped(&bytes, limit).into_owned();
        for byte in &mut bytes[window..] {
            *byte = 0xff;
        }
        assert_eq!(repair_capped(&bytes, limit), expected);
        assert_eq!(expected.chars().count(), limit);
    }

    #[test]
    fn raw_text_repaired_on_the_sender_equals_repair_capped() {
        let pieces: [&[u8]; 6] = [b"a", "\u{e9}".as_bytes(), "\u{1f600}".as_bytes(), b"\xff", b"\xf0\x9f", b"\x80"];
        let mut bytes = Vec::new();
        for i in 0..200 {
            bytes.extend_from_slice(pieces[(i * 7 + i / 3) % 6]);
            for limit in [1, 26, 27, 40, 100, 1000] {
                let raw = RawText::capped(&bytes, limit);
                let expected = repair_capped(&bytes, limit);
                assert_eq!(raw.to_str(), expected, "{bytes:?} limit {limit}");
                assert_eq!(raw.is_empty(), expected.is_empty());
                assert_eq!(&*raw.into_text(), &*expected);
            }
        }
    }

    #[test]
    fn names_inline_or_on_the_heap() {
        for text in ["", "m", "qa.ChainOfThought", &"é".repeat(11), &"x".repeat(22), &"x".repeat(23), &"é".repeat(600)]
        {
            let name = Name::from(text);
            assert_eq!(&*name, text);
            assert_eq!(name.len(), text.len());
        }
    }

    #[test]
    fn repairs_invalid_utf8() {
        assert_eq!(repair_utf8(b"a\xffb"), "a\u{fffd}b");
    }
}
