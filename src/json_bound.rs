//! Bounding JSON, in one place (contract §4). Two moments:
//! - as an argument comes in from C (`bound_argument`; `object_argument` for properties and
//!   traits, `attachments_argument` for attachments): checked and bounded without recursion,
//!   any depth or width read with an explicit stack, containers nested deeper than `max_depth`
//!   replaced by a placeholder string, every string capped. The output is valid JSON that serde
//!   can then parse safely.
//! - as the sender serialises an item too big for one request (`shrink_to_fit`): rendered again
//!   with ever shorter texts, its JSON values cut by a byte budget (`shrink_value`) or only in
//!   their strings (`cap_strings`); `shrink_serialised` does it to an already serialised item.
//!
//! Every text is cut by `text::cap` (characters, with the truncation marker).

use crate::error::Error;
use crate::text;
use serde_json::Value;

pub struct Bounds {
    pub max_depth: usize,
    pub max_string_chars: usize,
}

/// Contract §4: properties are pruned past depth 12.
pub(crate) const MAX_DEPTH: usize = 12;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }
    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            self.fail(&format!("expected '{}'", byte as char))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            self.fail("invalid literal")
        }
    }

    fn number(&mut self) -> Result<&[u8], String> {
        let start = self.at;
        let b = self.bytes;
        let mut at = self.at;
        if b.get(at) == Some(&b'-') {
            at += 1;
        }
        let int_start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == int_start || (b[int_start] == b'0' && at - int_start > 1) {
            return self.fail("invalid number");
        }
        if b.get(at) == Some(&b'.') {
            at += 1;
            let frac = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == frac {
                return self.fail("invalid number");
            }
        }
        if let Some(b'e' | b'E') = b.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = b.get(at) {
                at += 1;
            }
            let exp = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == exp {
                return self.fail("invalid number");
            }
        }
        self.at = at;
        Ok(&b[start..at])
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits =
            self.bytes.get(self.at..self.at + 4).ok_or_else(|| format!("short \\u escape at byte {}", self.at))?;
        let text = std::str::from_utf8(digits).map_err(|_| "invalid \\u escape".to_string())?;
        let value = u32::from_str_radix(text, 16).map_err(|_| format!("invalid \\u escape at byte {}", self.at))?;
        self.at += 4;
        Ok(value)
    }

    /// Reads a string (the opening quote is next) and decodes it; lone surrogates become U+FFFD.
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a &str, and we stop only on ASCII, so this slice is valid UTF-8.
            out.push_str(std::str::from_utf8(&self.bytes[start..self.at]).map_err(|e| e.to_string())?);
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escape = self.peek().ok_or_else(|| "unterminated escape".to_string())?;
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&first) && self.bytes[self.at..].starts_with(b"\\u")
                            {
                                let save = self.at;
                                self.at += 2;
                                let second = self.hex4()?;
                                if (0xdc00..0xe000).contains(&second) {
                                    0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                                } else {
                                    self.at = save;
                                    0xfffd
                                }
                            } else {
                                first
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return self.fail("invalid escape"),
                    }
                }
                Some(_) => return self.fail("control character in string"),
            }
        }
    }
}

fn push_string(out: &mut String, value: &str, bounds: &Bounds) {
    let capped = text::cap(value, bounds.max_string_chars);
    // serde_json's string escaping cannot fail for a &str.
    out.push_str(&serde_json::to_string(capped.as_ref()).unwrap_or_else(|_| "\"\"".into()));
}

/// Checks `input` as one JSON value and rewrites it within `bounds`. `Err` says what is wrong.
pub fn bound_argument(input: &str, bounds: &Bounds) -> Result<String, String> {
    let mut reader = Reader { bytes: input.as_bytes(), at: 0 };
    let mut out = String::with_capacity(input.len().min(1 << 20));
    let mut stack: Vec<u8> = Vec::new(); // b'{' or b'['
                                         // While Some(d), the container opened at stack depth d is being skipped (too deep).
    let mut skipping_from: Option<usize> = None;
    let emitting = |stack: &Vec<u8>, skipping_from: Option<usize>| skipping_from.is_none_or(|d| stack.len() < d);
    let mut expect_value = true;
    loop {
        reader.skip_whitespace();
        if expect_value {
            let Some(byte) = reader.peek() else { return reader.fail("unexpected end") };
            match byte {
                b'{' | b'[' => {
                    reader.at += 1;
                    if emitting(&stack, skipping_from) {
                        if stack.len() + 1 > bounds.max_depth {
                            let kind = if byte == b'{' { "object" } else { "array" };
                            out.push_str(&format!("\"<max depth: {kind}>\""));
                            skipping_from = Some(stack.len() + 1);
                        } else {
                            out.push(byte as char);
                        }
                    }
                    stack.push(byte);
                    reader.skip_whitespace();
                    let close = if byte == b'{' { b'}' } else { b']' };
                    if reader.peek() == Some(close) {
                        reader.at += 1;
                        let emit = emitting(&stack, skipping_from);
                        stack.pop();
                        if emit {
                            out.push(close as char);
                        }
                        if skipping_from.is_some_and(|d| stack.len() < d) {
                            skipping_from = None;
                        }
                        expect_value = false;
                        continue;
                    }
                    if byte == b'{' {
                        read_key(&mut reader, &mut out, emitting(&stack, skipping_from), bounds)?;
                    }
                    continue;
                }
                b'"' => {
                    let value = reader.string()?;
                    if emitting(&stack, skipping_from) {
                        push_string(&mut out, &value, bounds);
                    }
                }
                b't' | b'f' | b'n' => {
                    let word: &[u8] = match byte {
                        b't' => b"true",
                        b'f' => b"false",
                        _ => b"null",
                    };
                    reader.literal(word)?;
                    if emitting(&stack, skipping_from) {
                        out.push_str(std::str::from_utf8(word).unwrap_or("null"));
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let number = reader.number()?;
                    if emitting(&stack, skipping_from) {
                        out.push_str(std::str::from_utf8(number).map_err(|e| e.to_string())?);
                    }
                }
                _ => return reader.fail("unexpected character"),
            }
            expect_value = false;
        } else {
            let Some(&top) = stack.last() else {
                if reader.at != input.len() {
                    return reader.fail("trailing characters");
                }
                return Ok(out);
            };
            match (reader.peek(), top) {
                (Some(b','), _) => {
                    reader.at += 1;
                    let emit = emitting(&stack, skipping_from);
                    if emit {
                        out.push(',');
                    }
                    if top == b'{' {
                        reader.skip_whitespace();
                        read_key(&mut reader, &mut out, emit, bounds)?;
                    }
                    expect_value = true;
                }
                (Some(b'}'), b'{') | (Some(b']'), b'[') => {
                    let close = reader.peek().unwrap_or(b'}');
                    reader.at += 1;
                    let emit = emitting(&stack, skipping_from);
                    stack.pop();
                    if emit {
                        out.push(close as char);
                    }
                    if skipping_from.is_some_and(|d| stack.len() < d) {
                        skipping_from = None;
                    }
                }
                (None, _) => return reader.fail("unexpected end"),
                _ => return reader.fail("expected ',' or a closing bracket"),
            }
        }
    }
}

fn read_key(reader: &mut Reader<'_>, out: &mut String, emit: bool, bounds: &Bounds) -> Result<(), String> {
    reader.skip_whitespace();
    if reader.peek() != Some(b'"') {
        return reader.fail("expected a string key");
    }
    let key = reader.string()?;
    reader.expect(b':')?;
    if emit {
        push_string(out, &key, bounds);
        out.push(':');
    }
    Ok(())
}

/// Renders an item with ever shorter text limits (halving from the smaller of `max_chars` and
/// half the byte budget) until it fits `max_bytes`, or the limit is down to 16 characters.
pub fn shrink_to_fit(
    max_chars: usize,
    max_bytes: usize,
    mut render: impl FnMut(usize) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let mut limit = max_chars.min(max_bytes / 2);
    loop {
        limit /= 2;
        let bytes = render(limit)?;
        if bytes.len() <= max_bytes || limit <= 16 {
            return Some(bytes);
        }
    }
}

/// Cuts strings to `max_chars` and stops adding keys or items once `budget` bytes are spent,
/// leaving a marker where it stopped. Values here are at most 13 levels deep (`bound_argument`
/// bounded them as they came in), so the recursion is shallow.
pub fn shrink_value(value: &mut Value, max_chars: usize, budget: &mut usize) {
    match value {
        Value::String(text) => {
            let capped = text::cap(text, max_chars).into_owned();
            *budget = budget.saturating_sub(capped.len() + 2);
            *text = capped;
        }
        Value::Array(items) => {
            let mut keep = 0;
            for item in items.iter_mut() {
                if *budget == 0 {
                    break;
                }
                shrink_value(item, max_chars, budget);
                keep += 1;
            }
            if keep < items.len() {
                items.truncate(keep);
                items.push(Value::String(text::TRUNCATION_MARKER.into()));
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let mut cut = false;
            for key in keys {
                if *budget == 0 {
                    map.remove(&key);
                    cut = true;
                    continue;
                }
                *budget = budget.saturating_sub(key.len() + 4);
                if let Some(item) = map.get_mut(&key) {
                    shrink_value(item, max_chars, budget);
                }
            }
            if cut {
                map.insert("...".into(), Value::String(text::TRUNCATION_MARKER.into()));
            }
        }
        _ => *budget = budget.saturating_sub(8),
    }
}

/// Caps every string in `value` (at most a few levels deep here) at `max_chars`.
pub fn cap_strings(value: &mut Value, max_chars: usize) {
    match value {
        Value::String(text) => *text = text::cap(text, max_chars).into_owned(),
        Value::Array(items) => items.iter_mut().for_each(|item| cap_strings(item, max_chars)),
        Value::Object(map) => map.values_mut().for_each(|item| cap_strings(item, max_chars)),
        _ => {}
    }
}

/// A serialised signal or identify item is small unless the caller sent a huge object: then it
/// is shrunk until it fits `max_bytes`. None only when it cannot be serialised again.
pub fn shrink_serialised(bytes: Vec<u8>, max_chars: usize, max_bytes: usize) -> Option<Vec<u8>> {
    if bytes.len() <= max_bytes {
        return Some(bytes);
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else { return Some(bytes) };
    shrink_to_fit(max_chars, max_bytes, |limit| {
        let mut budget = max_bytes / 2;
        shrink_value(&mut value, limit.max(16), &mut budget);
        serde_json::to_vec(&value).ok()
    })
}

/// Checks and bounds a JSON object argument (properties, traits).
pub fn object_argument(argument: &str, json: &str, max_chars: usize) -> Result<String, Error> {
    if leading_byte(json) != Some(b'{') {
        return Err(Error::json(argument, "expected a JSON object"));
    }
    bound_argument(json, &Bounds { max_depth: MAX_DEPTH, max_string_chars: max_chars })
        .map_err(|why| Error::json(argument, why))
}

const ATTACHMENT_TYPES: [&str; 4] = ["text", "code", "image", "iframe"];

/// Checks an attachments argument: a JSON array of objects with a known `type` and a `value`.
pub fn attachments_argument(argument: &str, json: &str, max_chars: usize) -> Result<String, Error> {
    if leading_byte(json) != Some(b'[') {
        return Err(Error::json(argument, "expected a JSON array of attachment objects"));
    }
    let bounded = bound_argument(json, &Bounds { max_depth: 4, max_string_chars: max_chars })
        .map_err(|why| Error::json(argument, why))?;
    let items: Vec<Value> = serde_json::from_str(&bounded).map_err(|e| Error::json(argument, e))?;
    for (index, item) in items.iter().enumerate() {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        if !ATTACHMENT_TYPES.contains(&kind) {
            return Err(Error::invalid(
                argument,
                format!("item {index}: type must be one of text, code, image, iframe"),
            ));
        }
        // The backend refuses an attachment without a value, and with it the whole batch.
        if item.get("value").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(Error::invalid(argument, format!("item {index}: value must be a non-empty string")));
        }
    }
    Ok(bounded)
}

/// The first non-whitespace byte, to check a value's kind cheaply (`{` object, `[` array).
pub fn leading_byte(json: &str) -> Option<u8> {
    json.bytes().find(|b| !b" \t\r\n".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serialisation_failure_is_none_never_an_empty_item() {
        assert_eq!(shrink_to_fit(1_000, 100, |_| None), None);
        let mut calls = 0;
        let fits = shrink_to_fit(1_000, 100, |limit| {
            calls += 1;
            (calls < 3).then(|| vec![b'x'; limit])
        });
        assert_eq!(fits, Some(vec![b'x'; 25]), "the first rendering that fits");
    }

    fn bounds() -> Bounds {
        Bounds { max_depth: 3, max_string_chars: 40 }
    }

    #[test]
    fn keeps_valid_json() {
        let input = r#"{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00e9\ud83d\ude00"}, "e": {}, "f": []}"#;
        let out = bound_argument(input, &bounds()).unwrap();
        let reparsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        let original: serde_json::Value = serde_json::from_str(input).unwrap();
        assert_eq!(reparsed, original);
    }

    #[test]
    fn prunes_deep_values_without_recursion() {
        let depth = 100_000;
        let input = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let out = bound_argument(&format!("{{\"deep\": {input}, \"after\": 1}}"), &bounds()).unwrap();
        assert_eq!(out, r#"{"deep":[["<max depth: array>"]],"after":1}"#);
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "01", "tru", "\"abc", "{} x", "{'a':1}", "[1 2]"] {
            assert!(bound_argument(bad, &bounds()).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn caps_strings() {
        let out = bound_argument(&format!("[\"{}\"]", "x".repeat(100)), &bounds()).unwrap();
        let value: Vec<String> = serde_json::from_str(&out).unwrap();
        assert_eq!(value[0].chars().count(), 40);
        assert!(value[0].ends_with(crate::text::TRUNCATION_MARKER));
    }
}
