//! Client-side PII redaction (`redact_pii`), run on the sender thread over every text that
//! leaves the process.
//!
//! Categories and placeholders are the official Python SDK's, so dashboards read the same.
//! Its patterns are improved where they leak or over-match (docs/redaction.md lists how):
//! one regex for all categories (the `regex` crate: linear time, compiled once), validation
//! in code where a regex cannot say it (Luhn for cards, SSN number ranges, phone digit counts),
//! and a word scanner for the well-known first names (the list of `redact-pii` 3.4.0, MIT, the
//! one the official SDKs load).

use crate::queue::Item;
use crate::text::RawText;
use once_cell::race::OnceBox;
use regex::Regex;
use std::borrow::Cow;
use std::collections::HashSet;

const CREDENTIALS: &str = "<REDACTED_CREDENTIALS>";
const CREDIT_CARD: &str = "<REDACTED_CREDIT_CARD>";
const EMAIL: &str = "<REDACTED_EMAIL>";
const PHONE: &str = "<REDACTED_PHONE>";
const SSN: &str = "<REDACTED_SSN>";
const SECRET: &str = "<REDACTED_SECRET>";
const ADDRESS: &str = "<REDACTED_ADDRESS>";
const NAME: &str = "<REDACTED_NAME>";

/// A match never takes a closing quote (nor a backslash-escaped one), so a redacted JSON text,
/// such as an LM prompt's messages, stays valid JSON.
/// The categories in priority order (at one position the first that matches wins), each an
/// `(?x)` pattern. ASCII word boundaries (`(?-u:\b)`) keep every search inside the lazy DFA on
/// any input: a Unicode `\b` would send non-ASCII text to the slow engine. Greeting and
/// closing patterns have one capture group, the name.
const CATEGORIES: [(Kind, &str); 9] = [
    (
        Kind::Credentials,
        r#"      (?-u:\b)(?i:api[_-]?key|x-api-key|auth[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token
          |token|bearer|authorization|secret[_-]?key|client[_-]?secret|private[_-]?key)
        \\?["']?[\ \t]*[:=][\ \t]*\\?["']?(?i:(?:bearer|basic|token)[\ \t]+)?[A-Za-z0-9_\-.~+/]+=*
    | (?-u:\b)(?i:bearer)[\ \t]+[A-Za-z0-9_\-.~+/]{8,}=*
    | (?-u:\b)sk-[A-Za-z0-9_-]{20,}
    | (?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)
    | (?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}
    | (?-u:\b)github_pat_[A-Za-z0-9_]{22,}
    | (?-u:\b)xox[abprs]-[A-Za-z0-9-]{10,}
    | (?-u:\b)AIza[0-9A-Za-z_-]{35}
    | (?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"#,
    ),
    (Kind::CreditCard, r#"(?-u:\b)[0-9](?:[\ -]?[0-9]){12,18}(?-u:\b)"#),
    (Kind::Email, r#"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}(?-u:\b)"#),
    (
        Kind::Phone,
        r#"      (?:\+1[-.\ \t]?)?(?:\([0-9]{3}\)|(?-u:\b)[0-9]{3})[-.\ \t]?[0-9]{3}[-.\ \t]?[0-9]{4}(?-u:\b)
    | \+[1-9][0-9]{0,2}(?:[-.\ \t]?\(?[0-9]{1,5}\)?){2,5}(?-u:\b)"#,
    ),
    (Kind::Ssn, r#"(?-u:\b)[0-9]{3}[-\ ]?[0-9]{2}[-\ ]?[0-9]{4}(?-u:\b)"#),
    (
        Kind::Secret,
        r#"(?-u:\b)(?i:pass(?:word|phrase|code)?|secret|pwd|passwd)\\?["']?
      (?:[\ \t]*[:=][\ \t]*|[\ \t]+(?i:is)[\ \t]+)\\?["']?[^\s"'\\,;]+"#,
    ),
    (
        Kind::Address,
        r#"      (?-u:\b)[0-9]{1,6}[A-Za-z]?[\ \t]+(?:\p{Lu}[\p{L}.'-]*|[0-9]{1,4}(?i:st|nd|rd|th))(?:[\ \t]+[\p{L}\p{N}.'-]+){0,3}
        [\ \t]+(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|plaza|plz|terrace|ter
          |place|pl|way|parkway|pkwy|circle|cir|highway|hwy|square|sq|loop)(?:\.|(?-u:\b))
        (?:,?[\ \t]+(?i:apt|apartment|suite|ste|unit|bldg|fl|floor|rm|room)\.?[\ \t]*\#?[A-Za-z0-9-]+)?
    | (?-u:\b)(?i:p\.?[\ \t]?o\.?[\ \t]*box)[\ \t]+[0-9]+"#,
    ),
    (
        Kind::Greeting,
        r#"(?m:^|[.!?][\ \t]+)[\ \t]*(?i:dear|hi|hello|greetings|hey(?:[\ \t]+there)?)[\ \t,-]+
      (\p{Lu}\p{Ll}+(?:[\ \t]+\p{Lu}\p{Ll}+)*)"#,
    ),
    (
        Kind::Closing,
        r#"(?m:^|[.!?][\ \t]+)[\ \t]*(?i:thx|thanks|thank[\ \t]+you|cheers|regards|best(?:[\ \t]+(?:regards|wishes))?
        |kind[\ \t]+regards|warm[\ \t]+regards|all[\ \t]+the[\ \t]+best|take[\ \t]+care|sincerely|cordially
        |respectfully|yours(?:[\ \t]+(?:truly|sincerely))?)
      [\ \t]*(?:[,!.]+[\ \t]*\r?\n?|\r?\n)[\ \t]*
      (\p{Lu}\p{Ll}+(?:[\ \t]+\p{Lu}\p{Ll}+)*)[\ \t]*[,.!]?[\ \t]*(?m:$)"#,
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Credentials,
    CreditCard,
    Email,
    Phone,
    Ssn,
    Secret,
    Address,
    Greeting,
    Closing,
}

struct Redactor {
    /// Every category as one alternation: finds matches at DFA speed.
    any: Regex,
    /// Each category alone, anchored to a whole match: says which one it was.
    each: Vec<(Kind, Regex)>,
    names: HashSet<&'static str>,
}

fn redactor() -> &'static Redactor {
    // Racing first callers may both compile (one result is kept), but none waits for another:
    // a fork during the compile leaves a child that compiles again instead of one that hangs.
    static REDACTOR: OnceBox<Redactor> = OnceBox::new();
    REDACTOR.get_or_init(|| {
        let compile = |pattern: String| Regex::new(&pattern).expect("the redaction patterns compile");
        let alternatives: Vec<String> = CATEGORIES.iter().map(|(_, p)| format!("(?:{p})")).collect();
        Box::new(Redactor {
            any: compile(format!("(?x){}", alternatives.join("|"))),
            each: CATEGORIES.iter().map(|(kind, p)| (*kind, compile(format!("(?x)\\A(?:{p})\\z")))).collect(),
            names: include_str!("redact/names.txt").lines().collect(),
        })
    })
}

/// Compiles the patterns now, so the first event does not pay for it.
pub fn prepare() {
    redactor();
}

/// `text` with every PII match replaced by its placeholder; borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let redactor = redactor();
    let keys = redact_private_keys(text);
    let patterns = match redact_patterns(redactor, &keys) {
        Cow::Borrowed(_) => keys,
        Cow::Owned(patterns) => Cow::Owned(patterns),
    };
    match redact_names(&redactor.names, &patterns) {
        Cow::Borrowed(_) => patterns,
        Cow::Owned(names) => Cow::Owned(names),
    }
}

/// PEM private key blocks, by literal search rather than a lazy `.*?` in the regex: a BEGIN
/// without its END would make every later regex search rescan to the end (quadratic). A block
/// cut short (no END) is redacted to the end of the text (or of its JSON string): it is still
/// a key.
fn redact_private_keys(text: &str) -> Cow<'_, str> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    const DASHES: &str = "-----";
    /// The label after BEGIN or END (`RSA PRIVATE KEY`), and what follows its closing dashes.
    fn label(after: &str) -> Option<(&str, &str)> {
        let len = after.bytes().take_while(|b| b.is_ascii_uppercase() || *b == b' ').count();
        after[len..].strip_prefix(DASHES).map(|rest| (&after[..len], rest))
    }
    if !text.contains(BEGIN) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(BEGIN) {
        let after = &rest[at + BEGIN.len()..];
        match label(after) {
            Some((name, body)) if name.ends_with("PRIVATE KEY") => {
                out.push_str(&rest[..at]);
                out.push_str(CREDENTIALS);
                // Without its END line, the key runs to the end of the text, or to a quote (the
                // end of a JSON string: a key's base64 has none).
                let cut = || body.find('"').map_or("", |quote| &body[quote..]);
                rest = match body.find(END).and_then(|end| label(&body[end + END.len()..])) {
                    Some((_, tail)) => tail,
                    None => cut(),
                };
            }
            _ => {
                out.push_str(&rest[..at + BEGIN.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Redacts every text of a queued item that leaves the process: event input, output and error
/// message; span input (prompts, tool input), output (completions, tool output) and error
/// message; signal comment and `after`. A placeholder can be longer than what it replaced, so
/// each changed text is capped again at `max_chars`.
pub(crate) fn item(mut item: Item, max_chars: usize) -> Item {
    let text = |field: &mut Option<RawText>| {
        let redacted = field.as_ref().and_then(|raw| match redact(&raw.to_str()) {
            Cow::Owned(redacted) => Some(RawText::from(&*crate::text::cap(&redacted, max_chars))),
            Cow::Borrowed(_) => None,
        });
        if redacted.is_some() {
            *field = redacted;
        }
    };
    let string = |field: &mut Option<String>| {
        if let Some(Cow::Owned(redacted)) = field.as_deref().map(redact) {
            *field = Some(crate::text::cap(&redacted, max_chars).into_owned());
        }
    };
    match &mut item {
        Item::Track(tracked) => {
            if let Some(ai) = &mut tracked.args.ai {
                text(&mut ai.input);
                text(&mut ai.output);
            }
        }
        // Its event and its span share these texts: redacted once for both.
        Item::Call(ended) => {
            text(&mut ended.call.input);
            text(&mut ended.result.output);
            if let Some(more) = &mut ended.result.more {
                string(&mut more.error_message);
            }
        }
        Item::Signal(signal) => {
            string(&mut signal.comment);
            string(&mut signal.after);
        }
        Item::Identify(_) | Item::Flush(_) | Item::Shutdown => {}
    }
    item
}

fn redact_patterns<'t>(redactor: &Redactor, text: &'t str) -> Cow<'t, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for found in redactor.any.find_iter(text) {
        let Some((start, end, placeholder)) = replacement(redactor, found.as_str()) else { continue };
        let (start, end) = (found.start() + start, found.start() + end);
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..start]);
        out.push_str(placeholder);
        copied = end;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Which part of a match to replace (offsets within it), with what; None when validation says
/// it is not PII after all.
fn replacement(redactor: &Redactor, found: &str) -> Option<(usize, usize, &'static str)> {
    let (kind, regex) = redactor.each.iter().find(|(_, regex)| regex.is_match(found))?;
    let whole = |placeholder| Some((0, found.len(), placeholder));
    match kind {
        Kind::Credentials => whole(CREDENTIALS),
        Kind::CreditCard => luhn_valid(found).then_some((0, found.len(), CREDIT_CARD)),
        Kind::Email => whole(EMAIL),
        Kind::Phone => {
            let digits = found.bytes().filter(u8::is_ascii_digit).count();
            (10..=15).contains(&digits).then_some((0, found.len(), PHONE))
        }
        Kind::Ssn => ssn_valid(found).then_some((0, found.len(), SSN)),
        Kind::Secret => whole(SECRET),
        Kind::Address => whole(ADDRESS),
        // Greetings and closings keep their words; only the name goes.
        Kind::Greeting | Kind::Closing => {
            let name = regex.captures(found)?.get(1)?;
            Some((name.start(), name.end(), NAME))
        }
    }
}

/// The Luhn checksum: random 13–19 digit ids (timestamps, order numbers) mostly fail it.
fn luhn_valid(text: &str) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).map(|b| u32::from(b - b'0'));
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Numbers the SSA never issues: area 000, 666 or 9xx, group 00, serial 0000; and mixed
/// separators (`123-45 6789`), which are not how anyone writes an SSN.
fn ssn_valid(text: &str) -> bool {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    let separators: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_digit()).collect();
    let area = &digits[0..3];
    area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && &digits[3..5] != b"00"
        && &digits[5..9] != b"0000"
        && (separators.is_empty() || (separators.len() == 2 && separators[0] == separators[1]))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replaces whole words found in the well-known names list (case-insensitive, as the official
/// SDK does); a run of names separated by blanks becomes one placeholder.
fn redact_names<'t>(names: &HashSet<&'static str>, text: &'t str) -> Cow<'t, str> {
    const LONGEST: usize = 16;
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut last_name_end: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let end = i;
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if end - start > LONGEST || before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
            continue;
        }
        let mut lower = [0u8; LONGEST];
        lower[..end - start].copy_from_slice(&bytes[start..end]);
        lower[..end - start].make_ascii_lowercase();
        let word = std::str::from_utf8(&lower[..end - start]).unwrap_or("");
        if !names.contains(word) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        let joins = last_name_end.is_some_and(|prev| bytes[prev..start].iter().all(|b| *b == b' ' || *b == b'\t'));
        if !joins {
            out.push_str(&text[copied..start]);
            out.push_str(NAME);
        }
        copied = end;
        last_name_end = Some(end);
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_compiles_and_names_load() {
        prepare();
        assert!(redactor().names.len() > 10_000);
        assert!(redactor().names.contains("john"));
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
    }

    #[test]
    fn untouched_text_is_borrowed() {
        assert!(matches!(redact("nothing personal here, 42 apples"), Cow::Borrowed(_)));
    }
}
