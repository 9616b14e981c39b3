//! Fork safety. A process may fork while other threads are inside `rd_*` calls; in the child only
//! the forking thread lives on, and a lock another thread held stays locked there forever. So
//! around `fork()` the forking thread takes the process-wide locks the core uses (the handle
//! registry, then stderr) and releases them on both sides (`pthread_atfork`).
//!
//! In the child every client of the parent is forgotten: its sender thread does not exist there
//! and its own locks may be held by threads that are gone, so its handle turns invalid
//! (`RD_ERR_INVALID_HANDLE`), its memory is leaked rather than dropped, and `rd_new` works as in
//! a fresh process. The id generator reseeds itself in the child (`ids`); the allocator
//! (mimalloc) keeps per-thread heaps and lock-free shared state.

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

/// Registers the fork handlers, once per process (before the first client exists).
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Safety: plain functions without arguments, valid for the life of the process.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
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
        if let Some((mut clients, stderr)) = held.borrow_mut().take() {
            clients.forget_all();
            drop(clients);
            drop(stderr);
        }
    });
}
