//! raindrop-dspy: a native Raindrop client for DSPy-style programs, behind a C ABI.
//!
//! The hot path (`rd_wrap_begin` / `rd_wrap_end`, `rd_track_*`, spans) only copies its
//! arguments onto a bounded queue; one sender thread per client batches, retries and delivers.
//! `ffi` is the only module that touches raw pointers.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod args;
mod call;
mod client;
mod config;
mod error;
mod event;
mod ffi;
mod identify;
mod ids;
mod json_bound;
mod lifecycle;
mod log;
mod mirror;
mod process;
mod queue;
#[doc(hidden)] // public for tests/redaction.rs and examples/redact_bench.rs only
pub mod redact;
mod registry;
mod retry;
mod sender;
mod signal;
mod span;
mod spool;
mod spool_pump;
mod stats;
mod text;
mod time;
mod transport;
mod workshop;

pub use ffi::*;
pub use text::TRUNCATION_MARKER;
// The hot path allocates a few small strings per call that the sender thread frees; mimalloc
// handles that cross-thread pattern far better than glibc malloc (docs/benchmarks.md). The
// `system-allocator` feature keeps the system's malloc, so ASan and valgrind see the core's heap.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

/// mimalloc for every allocation, through its plain `mi_malloc` whenever the layout asks for no
/// more than a word's alignment (nearly always). `mimalloc::MiMalloc` calls `mi_malloc_aligned`
/// for everything, and for blocks over 1 KiB (a 1 KB input or output) that takes mimalloc's
/// generic over-allocating path: about 500 instructions per allocation instead of ~50
/// (`scripts/bench-callgrind.sh`).
#[cfg(not(feature = "system-allocator"))]
mod allocator {
    use std::alloc::{GlobalAlloc, Layout};
    use std::ffi::c_void;

    // Linked from libmimalloc-sys through the mimalloc crate.
    extern "C" {
        fn mi_malloc(size: usize) -> *mut c_void;
        fn mi_zalloc(size: usize) -> *mut c_void;
        fn mi_realloc(p: *mut c_void, new_size: usize) -> *mut c_void;
    }

    /// Every mimalloc block is at least word-aligned (block sizes are multiples of a word).
    const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

    pub struct Mimalloc;

    // SAFETY: every block comes from mimalloc with at least the layout's size and alignment (the
    // plain path only for alignments a mimalloc block always has), and goes back to it.
    unsafe impl GlobalAlloc for Mimalloc {
        #[inline]
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() <= PLAIN_ALIGN {
                // SAFETY: mi_malloc takes any size; its blocks are word-aligned, enough for
                // `layout` (align <= PLAIN_ALIGN).
                unsafe { mi_malloc(layout.size()).cast() }
            } else {
                // SAFETY: our caller's contract (a non-zero-size layout) is MiMalloc's.
                unsafe { mimalloc::MiMalloc.alloc(layout) }
            }
        }

        #[inline]
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if layout.align() <= PLAIN_ALIGN {
                // SAFETY: as in `alloc`.
                unsafe { mi_zalloc(layout.size()).cast() }
            } else {
                // SAFETY: our caller's contract is MiMalloc's.
                unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
            }
        }

        #[inline]
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from this allocator (our caller's contract), so from mimalloc;
            // MiMalloc.dealloc is mi_free, whatever the alignment.
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        }

        #[inline]
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if layout.align() <= PLAIN_ALIGN {
                // SAFETY: `ptr` is a live mimalloc block (our caller's contract); the new block
                // is word-aligned, enough for `layout`'s alignment.
                unsafe { mi_realloc(ptr.cast(), new_size).cast() }
            } else {
                // SAFETY: our caller's contract is MiMalloc's.
                unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_layout_gets_its_alignment() {
            for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
                for size in [1, 7, 8, 24, 1000, 1040, 5000, 70_000] {
                    let layout = Layout::from_size_align(size.max(align), align).unwrap();
                    // SAFETY: a non-zero-size layout; each block is written and read within its
                    // size, reallocated and freed with the layout it has, and freed once.
                    unsafe {
                        let p = Mimalloc.alloc(layout);
                        assert!(!p.is_null() && p as usize % align == 0, "size {size} align {align}");
                        p.write_bytes(0xab, layout.size());
                        let q = Mimalloc.realloc(p, layout, layout.size() * 2);
                        assert!(!q.is_null() && q as usize % align == 0 && *q == 0xab);
                        Mimalloc.dealloc(q, Layout::from_size_align(layout.size() * 2, align).unwrap());
                        let z = Mimalloc.alloc_zeroed(layout);
                        assert!(z as usize % align == 0 && (0..layout.size()).all(|i| *z.add(i) == 0));
                        Mimalloc.dealloc(z, layout);
                    }
                }
            }
        }
    }
}
