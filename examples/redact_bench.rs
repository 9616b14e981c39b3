//! Throughput of PII redaction on one core (docs/benchmarks.md).
//!   cargo run --release --example redact_bench
//! Prints MB/s for prose with some PII, for PII-dense text, for non-ASCII text, and for the
//! adversarial inputs of tests/redaction.rs at two sizes (linear time: equal MB/s at both).

use raindrop_dspy::redact::redact;
use std::hint::black_box;
use std::time::Instant;

fn mb_per_s(text: &str, rounds: usize) -> f64 {
    black_box(redact(text)); // compiles the patterns outside the timing
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(redact(black_box(text)));
    }
    (text.len() * rounds) as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn repeat_to(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len() + 1)
}

fn main() {
    const SIZE: usize = 8 << 20;
    let prose = repeat_to(
        "Question: Which retrieval step failed for the user's request?\n\
         Reasoning: The module called the search tool with the query about quarterly revenue, \
         then the LM summarised 3 passages; the second passage was empty, so the answer relied on \
         the first one. We should retry with k=5 and a stricter filter on dates like 2026-11-29.\n\
         Answer: the second passage was empty.\n",
        SIZE,
    );
    let dense = repeat_to(
        "Dear Mary, your card 4111 1111 1111 1111 is on file; call 555-123-4567 or mail \
         mary.jones@example.com. Ship to 123 Main Street. password: hunter2 api_key=abc123.\n",
        SIZE,
    );
    let unicode = repeat_to("日本語のテキストと émojis 🙂 — ünïcödé prose without personal data. ", SIZE);
    let json = repeat_to(
        r#"{"messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"4"}],"max_tokens":256}"#,
        SIZE,
    );
    println!("{:<28} {:>10}", "input (8 MiB)", "MB/s");
    for (name, text) in
        [("prose, a little PII", &prose), ("PII-dense", &dense), ("non-ASCII", &unicode), ("JSON", &json)]
    {
        println!("{name:<28} {:>10.0}", mb_per_s(text, 4));
    }
    println!("\nadversarial (1 MiB vs 4 MiB: linear time keeps MB/s equal)");
    let adversarial: [(&str, &str); 6] = [
        ("digits", "1"),
        ("'a@' repeated", "a@"),
        ("'1 ' repeated", "1 "),
        ("capitalised words", "Abc "),
        ("'password:' repeated", "password:"),
        ("PEM header then emails", " a@b.io"),
    ];
    for (name, unit) in adversarial {
        let rates: Vec<f64> = [1usize << 20, 4 << 20]
            .iter()
            .map(|size| {
                let mut text = if name.starts_with("PEM") { String::from("-----BEGIN X-----") } else { String::new() };
                text.push_str(&repeat_to(unit, *size));
                mb_per_s(&text, 2)
            })
            .collect();
        println!("{name:<28} {:>10.0} {:>10.0}", rates[0], rates[1]);
    }
}
