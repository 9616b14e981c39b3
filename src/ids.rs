//! Random ids: UUID v4 event ids and OTLP trace / span ids, from a fast per-thread generator that
//! is reseeded in a forked child (so parent and child never hand out the same ids).

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Called in a forked child (`process`): every thread's generator reseeds before its next id.
/// Registered with the other fork handlers, not lazily here: a `Once` that a fork catches
/// mid-initialisation waits forever in the child (the first forked child hung in `next_u64`).
#[cfg_attr(not(unix), allow(dead_code))] // Windows has no fork
pub fn reseed_after_fork() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

thread_local! {
    // (state, fork generation the state was seeded in)
    static STATE: Cell<(u64, u64)> = const { Cell::new((0, u64::MAX)) };
}

fn fresh_seed() -> u64 {
    // RandomState is seeded from the OS once per thread and varies per instance.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(crate::time::unix_nanos() as u128);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A wyrand step: fast, and good enough for ids that only need to be unique.
pub fn next_u64() -> u64 {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    STATE.with(|cell| {
        let (mut state, seeded_in) = cell.get();
        if seeded_in != generation {
            state = fresh_seed();
        }
        state = state.wrapping_add(0xa076_1d64_78bd_642f);
        cell.set((state, generation));
        let product = u128::from(state) * u128::from(state ^ 0xe703_7ed1_a0b4_28db);
        ((product >> 64) as u64) ^ (product as u64)
    })
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    for chunk in bytes.chunks_mut(8) {
        let word = next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    bytes
}

/// A random UUID v4 as its 16 bytes (version and variant bits set).
fn uuid_v4() -> [u8; 16] {
    let mut bytes: [u8; 16] = random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

/// A UUID's 36 ASCII characters, formatted on the stack (a byte-to-two-digits table, no
/// per-character pushes).
fn uuid_ascii(bytes: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const PAIRS: [[u8; 2]; 256] = {
        let mut pairs = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            pairs[i] = [HEX[i >> 4], HEX[i & 0xf]];
            i += 1;
        }
        pairs
    };
    // Where each of the 16 bytes' two digits go in 8-4-4-4-12.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut text = [b'-'; 36];
    for (byte, at) in bytes.iter().zip(AT) {
        let pair = PAIRS[usize::from(*byte)];
        text[at] = pair[0];
        text[at + 1] = pair[1];
    }
    text
}

/// A call's event id, shared by every span under it: a new UUID is held inline as its 16 bytes
/// (no allocation, copied into each nested call) and formatted only when read (`text`: on the
/// sender thread, or when the caller asks for the id); one given by the caller is shared text.
#[derive(Clone, Debug)]
pub enum EventId {
    None,
    Uuid([u8; 16]),
    Given(std::sync::Arc<str>),
}

impl EventId {
    pub fn new_uuid() -> Self {
        EventId::Uuid(uuid_v4())
    }

    /// The length of its text ("" for a span with no event).
    pub fn len(&self) -> usize {
        match self {
            EventId::None => 0,
            EventId::Uuid(_) => 36,
            EventId::Given(text) => text.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id as text.
    pub fn text(&self) -> IdText<'_> {
        match self {
            EventId::None => IdText::Borrowed(""),
            EventId::Uuid(bytes) => IdText::Uuid(uuid_ascii(bytes)),
            EventId::Given(text) => IdText::Borrowed(text),
        }
    }
}

/// An event id's text (reads as a `str`).
pub enum IdText<'a> {
    Borrowed(&'a str),
    Uuid([u8; 36]),
}

impl std::ops::Deref for IdText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            IdText::Borrowed(text) => text,
            // SAFETY: uuid_ascii writes only ASCII hex digits and dashes.
            IdText::Uuid(text) => unsafe { std::str::from_utf8_unchecked(text) },
        }
    }
}

pub fn trace_id() -> [u8; 16] {
    loop {
        let id = random_bytes();
        if id != [0; 16] {
            return id;
        }
    }
}

/// A non-zero 8-byte OTLP span id.
pub fn span_id() -> [u8; 8] {
    loop {
        let id = random_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_4() {
        let uuid = EventId::new_uuid();
        let id = uuid.text();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(&*EventId::new_uuid().text(), &*EventId::new_uuid().text());
        assert_eq!(EventId::new_uuid().len(), 36);
        let shared_id = EventId::new_uuid();
        let shared = shared_id.text();
        assert_eq!(shared.len(), 36);
        assert!(shared.bytes().enumerate().all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) {
            b == b'-'
        } else {
            b.is_ascii_hexdigit() && !b.is_ascii_uppercase()
        }));
        assert_eq!(&shared[14..15], "4");
    }
}
