//! Replays the committed fuzz corpus (fuzz/corpus/<harness>/*) through the harnesses on stable,
//! without libFuzzer, so that an input that crashed once stays fixed. The fuzzing itself is
//! `fuzz/run.sh` (cargo-fuzz, nightly); see docs/fuzzing.md.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Panics on any thread, also those the C boundary turns into RD_ERR_INTERNAL (libFuzzer aborts
/// on them too).
static PANICS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn fuzz_corpus_replays_clean() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).expect("fuzz/corpus") {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let run = harness::by_name(&name).unwrap_or_else(|| panic!("no harness for fuzz/corpus/{name}"));
        let mut inputs: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        inputs.sort();
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok() && PANICS.load(Ordering::SeqCst) == 0, "{} panicked", input.display());
            replayed += 1;
        }
    }
    assert!(replayed >= 5, "the seed corpus is committed ({replayed} inputs)");
}
