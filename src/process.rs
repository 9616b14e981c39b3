//! Process-wide state and hooks: the registry of live clients, fork safety, and the drain at
//! process exit.
//!
//! Fork safety. A process may fork while other threads are inside `rd_*` calls; in the child only
//! the forking thread lives on, and a lock another thread held stays locked there forever. So
//! around `fork()` the forking thread takes the process-wide locks the core uses (the handle
//! registry, then stderr) and releases them on both sides (`pthread_atfork`).
//!
//! In the child every client of the parent is forgotten: its sender thread does not exist there
//! and its own locks may be held by threads that are gone, so its handle turns invalid
//! (`RD_ERR_INVALID_HANDLE`), its memory is leaked rather than dropped, and `rd_new` works as in
//! a fresh process. The id generator reseeds in the child (`ids`); the allocator (mimalloc)
//! keeps per-thread heaps and lock-free shared state.
//!
//! No lazily initialised global may block: a `Once` or `OnceLock` that a fork catches
//! mid-initialisation stays "running" in the child, and its next user waits forever. So these
//! hooks are registered when the library is loaded, before any thread can call in, and the other
//! process-wide values initialise without blocking (`once_cell::race`).

// Windows has no fork, and a DLL's exit handlers run after the process's other threads are gone
// (a drain there could only wait for its deadline): the hooks are unix only, and on Windows
// rd_shutdown alone drains.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use crate::client::Client;
use crate::registry::Registry;
use std::cell::RefCell;
use std::io::StderrLock;
use std::sync::{Arc, Once, RwLock, RwLockWriteGuard};

/// Every live client, by handle.
pub static CLIENTS: RwLock<Registry<Arc<Client>>> = RwLock::new(Registry::new());

type Held = (RwLockWriteGuard<'static, Registry<Arc<Client>>>, StderrLock<'static>);

thread_local! {
    /// The locks the forking thread holds from `prepare` until `parent` or `child`.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

#[cfg(unix)]
extern "C" {
    // C11, in glibc and musl; not bound by the libc crate on Linux.
    fn at_quick_exit(function: extern "C" fn()) -> libc::c_int;
}

// Registers the handlers when the library is loaded (ELF constructors run for a shared library
// at load and for a static one at program start), so no `rd_new` is still inside `install` when
// another thread forks. `rd_new` calls `install` too, for platforms without this section.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static INSTALL_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        install();
    }
    at_load
};

/// Registers the fork and exit handlers, once per process (before the first client exists).
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: plain functions without arguments, valid for the life of the process (a
        // library's atexit handlers also run when it is unloaded).
        #[cfg(unix)]
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
            libc::atexit(drain_at_exit);
            at_quick_exit(drain_at_exit);
        }
    });
}

/// Exit without `rd_shutdown` (returning from C's `main`, `exit()`, `quick_exit()`): every live
/// client drains within its shutdown deadline, one after another, as `rd_shutdown` would. Paths
/// that run no handler at all (`_exit`, Go's `os.Exit`, a signal) keep only what was delivered.
extern "C" fn drain_at_exit() {
    // A panic must not unwind out of a C handler; there is no one left to report it to.
    let _ = std::panic::catch_unwind(|| {
        let clients = CLIENTS.write().unwrap_or_else(|p| p.into_inner()).take_all();
        for client in clients {
            let _ = client.shutdown(None);
        }
    });
}

extern "C" fn prepare() {
    let clients = CLIENTS.write().unwrap_or_else(|p| p.into_inner());
    let stderr = std::io::stderr().lock();
    HELD.with(|held| *held.borrow_mut() = Some((clients, stderr)));
}

extern "C" fn parent() {
    HELD.with(|held| drop(held.borrow_mut().take()));
}

extern "C" fn child() {
    HELD.with(|held| {
        crate::ids::reseed_after_fork();
        if let Some((mut clients, stderr)) = held.borrow_mut().take() {
            clients.forget_all();
            drop(clients);
            drop(stderr);
        }
    });
}
