//! JSON arguments from C, checked and bounded without recursion: any depth or width is read with
//! an explicit stack, containers nested deeper than `max_depth` become a placeholder string, and
//! every string is capped. The output is valid JSON that serde can then parse safely.

use crate::text;

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
pub fn bound_json(input: &str, bounds: &Bounds) -> Result<String, String> {
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

/// The first non-whitespace byte, to check a value's kind cheaply (`{` object, `[` array).
pub fn leading_byte(json: &str) -> Option<u8> {
    json.bytes().find(|b| !b" \t\r\n".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds { max_depth: 3, max_string_chars: 40 }
    }

    #[test]
    fn keeps_valid_json() {
        let input = r#"{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00e9\ud83d\ude00"}, "e": {}, "f": []}"#;
        let out = bound_json(input, &bounds()).unwrap();
        let reparsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        let original: serde_json::Value = serde_json::from_str(input).unwrap();
        assert_eq!(reparsed, original);
    }

    #[test]
    fn prunes_deep_values_without_recursion() {
        let depth = 100_000;
        let input = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let out = bound_json(&format!("{{\"deep\": {input}, \"after\": 1}}"), &bounds()).unwrap();
        assert_eq!(out, r#"{"deep":[["<max depth: array>"]],"after":1}"#);
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "01", "tru", "\"abc", "{} x", "{'a':1}", "[1 2]"] {
            assert!(bound_json(bad, &bounds()).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn caps_strings() {
        let out = bound_json(&format!("[\"{}\"]", "x".repeat(100)), &bounds()).unwrap();
        let value: Vec<String> = serde_json::from_str(&out).unwrap();
        assert_eq!(value[0].chars().count(), 40);
        assert!(value[0].ends_with(crate::text::TRUNCATION_MARKER));
    }
}
