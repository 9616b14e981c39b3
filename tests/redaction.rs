//! The PII redaction corpus: per category, texts that must be redacted (with the exact result)
//! and look-alikes that must be left alone; Unicode; text at the size cap; adversarial inputs.

mod support;

use raindrop_dspy::redact::redact;
use serde_json::json;
use support::capi::*;
use support::*;

fn check(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (input, expected) in cases {
        let got = redact(input);
        if got != *expected {
            failures.push(format!("\n  input:    {input:?}\n  expected: {expected:?}\n  got:      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:{}", failures.len(), cases.len(), failures.concat());
}

fn untouched(cases: &[&str]) {
    let pairs: Vec<(&str, &str)> = cases.iter().map(|c| (*c, *c)).collect();
    check(&pairs);
}

#[test]
fn credentials() {
    check(&[
        ("api_key=sk_live_abc123", "<REDACTED_CREDENTIALS>"),
        ("my API-KEY: 'abc-123-def'", "my <REDACTED_CREDENTIALS>'"),
        (r#"{"api_key": "abcdef123456"}"#, r#"{"<REDACTED_CREDENTIALS>"}"#),
        ("Authorization: Bearer eyJhbGciOi.abc", "<REDACTED_CREDENTIALS>"),
        ("curl -H 'Bearer abcdefgh12345678'", "curl -H '<REDACTED_CREDENTIALS>'"),
        ("access_token=ya29.a0AfH6SM", "<REDACTED_CREDENTIALS>"),
        ("key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx used", "key <REDACTED_CREDENTIALS> used"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "aws <REDACTED_CREDENTIALS> here"),
        ("ghp_0123456789abcdefghijklmnopqrstuvwxyz", "<REDACTED_CREDENTIALS>"),
        ("slack xoxb-1234-5678-abcdefgh", "slack <REDACTED_CREDENTIALS>"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "jwt <REDACTED_CREDENTIALS>"),
        (
            "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY----- done",
            "k=<REDACTED_CREDENTIALS> done",
        ),
        ("cut: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "cut: <REDACTED_CREDENTIALS>"),
    ]);
    untouched(&[
        "max_tokens=100 and prompt_tokens: 20",
        "the token count was high",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "sk-short",
    ]);
}

#[test]
fn credit_cards() {
    check(&[
        ("card 4111 1111 1111 1111 ok", "card <REDACTED_CREDIT_CARD> ok"),
        ("4111-1111-1111-1111", "<REDACTED_CREDIT_CARD>"),
        ("amex 378282246310005.", "amex <REDACTED_CREDIT_CARD>."),
        ("mc:5555555555554444", "mc:<REDACTED_CREDIT_CARD>"),
        ("visa 4012888888881881 and 6011111111111117", "visa <REDACTED_CREDIT_CARD> and <REDACTED_CREDIT_CARD>"),
    ]);
    untouched(&[
        // 13-19 digits that fail the Luhn check: timestamps, order numbers.
        "ts 1732900000001",
        "order 4111 1111 1111 1112",
        "id 12345678901234567",
        "v1.2.3 build 20261129",
    ]);
}

#[test]
fn emails() {
    check(&[
        ("mail jane.doe+tag@example.co.uk now", "mail <REDACTED_EMAIL> now"),
        ("<a@b.io>", "<<REDACTED_EMAIL>>"),
        ("用户 josé@correo.es 已注册", "用户 <REDACTED_EMAIL> 已注册"),
        ("ünïcödé@bücher.de", "<REDACTED_EMAIL>"),
        ("x@y.museum,", "<REDACTED_EMAIL>,"),
    ]);
    untouched(&["an @ sign alone", "user@localhost", "a@b.c", "decorator @property", "email@"]);
}

#[test]
fn phones() {
    check(&[
        ("call 555-123-4567 today", "call <REDACTED_PHONE> today"),
        ("(555) 123-4567", "<REDACTED_PHONE>"),
        ("+1 (555) 123-4567", "<REDACTED_PHONE>"),
        ("+1-555-123-4567.", "<REDACTED_PHONE>."),
        ("555.123.4567", "<REDACTED_PHONE>"),
        ("uk +44 20 7946 0958 office", "uk <REDACTED_PHONE> office"),
        ("fr +33 1 23 45 67 89", "fr <REDACTED_PHONE>"),
        ("电话 415-555-2671。", "电话 <REDACTED_PHONE>。"),
    ]);
    untouched(&["version 12.345", "+1 2 3", "pi is 3.14159265", "12345 apples", "x12345678901"]);
}

#[test]
fn ssns() {
    check(&[
        ("ssn 123-45-6789", "ssn <REDACTED_SSN>"),
        ("SSN: 078 05 1120.", "SSN: <REDACTED_SSN>."),
        ("123456789", "<REDACTED_SSN>"),
    ]);
    untouched(&[
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
        "123-45 6789",
        "zip 94107-1234",
    ]);
}

#[test]
fn secrets() {
    check(&[
        ("password: hunter2", "<REDACTED_SECRET>"),
        ("Password=hunter2 and more", "<REDACTED_SECRET> and more"),
        (r#"{"password": "p@ss w"}"#, r#"{"<REDACTED_SECRET> w"}"#),
        ("my passphrase is correct-horse", "my <REDACTED_SECRET>"),
        ("pwd:abc;next", "<REDACTED_SECRET>;next"),
        ("secret = 's3cr3t'", "<REDACTED_SECRET>'"),
    ]);
    untouched(&["forgot my password again", "passwords must be long", "the secret sauce"]);
}

#[test]
fn addresses() {
    check(&[
        ("ship to 123 Main Street please", "ship to <REDACTED_ADDRESS> please"),
        ("1600 Pennsylvania Avenue NW", "<REDACTED_ADDRESS> NW"),
        ("221B Baker St.", "<REDACTED_ADDRESS>"),
        ("42 West 5th Ave, Apt 3B, NYC", "<REDACTED_ADDRESS>, NYC"),
        ("at 10 Downing St", "at <REDACTED_ADDRESS>"),
        ("PO Box 1234", "<REDACTED_ADDRESS>"),
        ("P.O. Box 77", "<REDACTED_ADDRESS>"),
        ("7 Königsallee Road", "<REDACTED_ADDRESS>"),
    ]);
    untouched(&["I have 3 cats on the way", "in 2024 we drove down the road", "step 5 of the loop"]);
}

#[test]
fn names() {
    check(&[
        ("Dear Alice Wonder,\nthanks", "Dear <REDACTED_NAME>,\nthanks"),
        ("Hi Bob, how are you?", "Hi <REDACTED_NAME>, how are you?"),
        ("Done. Hello Zoë!", "Done. Hello <REDACTED_NAME>!"),
        ("Thanks,\nMaximilian Quux", "Thanks,\n<REDACTED_NAME>"),
        ("Best regards,\nÁlvaro Ñúñez", "Best regards,\n<REDACTED_NAME>"),
        ("ask john paul about it", "ask <REDACTED_NAME> about it"),
        ("JOHN was here", "<REDACTED_NAME> was here"),
        ("Mary, Peter and Sarah", "<REDACTED_NAME>, <REDACTED_NAME> and <REDACTED_NAME>"),
    ]);
    untouched(&[
        "Hello world",
        "hi there",
        "Thanks for the help.\nThe answer is 4.",
        "johnnycakes and maryxq", // a name glued to a word is not a whole word
        "johnson_and_johnson",
        "Hiking in the Alps",
        "Question: What is 2+2?\nAnswer: 4",
    ]);
}

/// LM prompts are JSON (a messages array): redacting every category inside a message keeps it
/// valid JSON, with the placeholder inside the string.
#[test]
fn redacted_json_stays_json() {
    let contents = [
        "api_key=sk_live_abc123",
        r#"config {"api_key": "abc123", "password": "hunter2"}"#,
        "Authorization: Bearer abc.def.ghi",
        "password: 'hunter2' and secret=\"x\"",
        "card 4111-1111-1111-1111, ssn 123-45-6789, call (555) 123-4567",
        "mail \"jane@example.com\"",
        "Dear Alice,\nship to 123 Main Street\nThanks,\nBob Stone",
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
        "cut short: -----BEGIN RSA PRIVATE KEY-----\nMIIE",
    ];
    for content in contents {
        let messages = serde_json::to_string(&json!([{"role": "user", "content": content}])).unwrap();
        let redacted = redact(&messages);
        assert_ne!(redacted, messages, "nothing redacted in {content:?}");
        let parsed: serde_json::Value =
            serde_json::from_str(&redacted).unwrap_or_else(|e| panic!("{e}: {messages} became {redacted}"));
        assert!(parsed[0]["content"].as_str().unwrap().contains("<REDACTED_"), "{redacted}");
    }
}

#[test]
fn placeholders_are_not_redacted_again() {
    let once = redact("john@example.com, 555-123-4567, Dear Mary").into_owned();
    assert_eq!(once, "<REDACTED_EMAIL>, <REDACTED_PHONE>, Dear <REDACTED_NAME>");
    assert_eq!(redact(&once), once);
}

#[test]
fn mixed_unicode_text_keeps_everything_else() {
    let input = "🙂 Ünïcode héllo — call 555-123-4567 — 日本語のテキスト — mail a@b.io 🎉";
    assert_eq!(redact(input), "🙂 Ünïcode héllo — call <REDACTED_PHONE> — 日本語のテキスト — mail <REDACTED_EMAIL> 🎉");
}

/// A text at the 1,000,000-character cap, multi-byte, with PII at both ends and the middle.
#[test]
fn text_at_the_size_cap() {
    let filler = "é日🙂 ".repeat(200_000); // 800,000 chars
    let mut input = String::from("a@b.io ");
    input.push_str(&filler);
    input.push_str("555-123-4567 ");
    input.push_str(&"x".repeat(1_000_000 - input.chars().count() - 12));
    input.push_str(" 123-45-6789");
    assert_eq!(input.chars().count(), 1_000_000);
    let out = redact(&input);
    assert!(out.starts_with("<REDACTED_EMAIL> é日🙂"));
    assert!(out.ends_with(" <REDACTED_SSN>"));
    assert!(out.contains("<REDACTED_PHONE> xxx"));
    assert_eq!(out.matches("<REDACTED_").count(), 3);
}

/// Inputs built to make a backtracking engine or a naive iterator go quadratic. They must
/// finish (the regex crate is linear per search; these check the iteration stays linear too).
#[test]
fn adversarial_inputs_finish_and_are_correct() {
    const N: usize = 1 << 20;
    let digits = "1".repeat(N);
    assert_eq!(redact(&digits), digits);
    let at_signs = "a@".repeat(N / 2);
    assert_eq!(redact(&at_signs), at_signs);
    let spaced = "1 ".repeat(N / 2);
    assert!(redact(&spaced).contains("<REDACTED_CREDIT_CARD>") || redact(&spaced) == spaced);
    let capitals = format!("Thanks,\n{}x", "Abc ".repeat(N / 4));
    assert_eq!(redact(&capitals), capitals);
    // An unterminated PEM header before many matches: each later search must not rescan it.
    let pem_then_emails = format!("-----BEGIN X-----{}", " a@b.io".repeat(N / 8));
    assert_eq!(redact(&pem_then_emails).matches("<REDACTED_EMAIL>").count(), N / 8);
    let many_begins = "-----BEGIN PRIVATE KEY----- ".repeat(N / 32);
    assert_eq!(redact(&many_begins), "<REDACTED_CREDENTIALS>");
    let greetings = "Hi Ab. ".repeat(N / 8);
    assert_eq!(redact(&greetings).matches("<REDACTED_NAME>").count(), N / 8);
    let passwords = "password:".repeat(N / 9);
    let out = redact(&passwords);
    assert!(out.starts_with("<REDACTED_SECRET>"));
}

/// With `redact_pii`, every text that leaves the process is redacted on the sender thread:
/// event input, output and error message; LM prompt and completion; tool input and output;
/// signal comment and `after`. Without it, nothing is.
#[test]
fn redact_pii_covers_every_text_that_leaves_the_process() {
    const PII: [&str; 6] =
        ["jane@example.com", "555-123-4567", "4111 1111 1111 1111", "123-45-6789", "hunter2", "Dear Zelda"];
    for redact_pii in [true, false] {
        let sink = Sink::start();
        let mut c = client(&sink, json!({"redact_pii": redact_pii}));
        c.track_ai(&Ev::ai("mail jane@example.com", "call 555-123-4567")).unwrap();
        let (call, _) = c.wrap_begin(0, Some("Agent"), Some(b"card 4111 1111 1111 1111"), None).unwrap();
        let lm = c.span_begin(call, SPAN_LM, "lm", Some(b"ssn 123-45-6789")).unwrap();
        c.span_end(lm, Some(&CallRes::new().output("password: hunter2"))).unwrap();
        let tool = c.span_begin(call, SPAN_TOOL, "search", Some(b"jane@example.com")).unwrap();
        c.span_end(tool, Some(&CallRes::new().output("555-123-4567"))).unwrap();
        c.wrap_end(
            call,
            Some(&CallRes::new().output("Dear Zelda,").error("ValueError", "bad card 4111 1111 1111 1111")),
        )
        .unwrap();
        c.signal(&Sig::new("e-1", "feedback").comment("from jane@example.com").after("Dear Zelda")).unwrap();
        c.shutdown(10_000).unwrap();
        let sent: String = sink.attempts().iter().map(|a| String::from_utf8_lossy(&a.body).into_owned()).collect();
        for text in PII {
            assert_eq!(sent.contains(text), !redact_pii, "redact_pii={redact_pii}: {text:?} in {sent}");
        }
        if redact_pii {
            for placeholder in ["EMAIL", "PHONE", "CREDIT_CARD", "SSN", "SECRET", "NAME"] {
                assert!(sent.contains(&format!("<REDACTED_{placeholder}>")), "{placeholder} missing: {sent}");
            }
        }
    }
}
