//! raindrop-dspy: a native Raindrop client for DSPy-style programs, behind a C ABI.
//!
//! The hot path (`rd_wrap_begin` / `rd_wrap_end`, `rd_track_*`, spans) only copies its
//! arguments onto a bounded queue; one sender thread per client batches, retries and delivers.
//! `ffi` is the only module that touches raw pointers.

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

pub use error::{rd_result, RD_ERROR_MESSAGE_LEN};
pub use ffi::*;
pub use stats::rd_stats;
pub use text::TRUNCATION_MARKER;
// The hot path allocates a few small strings per call that the sender thread frees; mimalloc
// handles that cross-thread pattern far better than glibc malloc (docs/benchmarks.md). The
// `system-allocator` feature keeps the system's malloc, so ASan and valgrind see the core's heap.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
