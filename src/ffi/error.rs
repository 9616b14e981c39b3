//! Errors on the C side: the caller-owned `rd_error`, the thread's last error, code names.

use super::LAST_ERROR;
use crate::error::{copy_message, rd_result, RD_ERROR_MESSAGE_LEN};
use std::ffi::{c_char, CStr};
use std::panic::catch_unwind;

/// An error handed back in the same call: the caller owns this struct (typically on its stack).
/// Written only when the call fails. `message` is NUL-terminated UTF-8 naming the argument at fault.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_error {
    /// The same code the function returned.
    pub code: rd_result,
    /// What went wrong, NUL-terminated, cut on a character boundary.
    pub message: [c_char; RD_ERROR_MESSAGE_LEN],
}

/// Copies the message of the last error on the calling thread into `buf` (NUL-terminated,
/// truncated to `buf_len`) and returns its full length in bytes (0: no error yet).
/// `buf` is borrowed for the duration of the call and may be NULL (then only the length is
/// returned). A C convenience: Go and other runtimes that move between threads use `err_out`.
#[no_mangle]
pub unsafe extern "C" fn rd_last_error_message(buf: *mut c_char, buf_len: usize) -> usize {
    catch_unwind(|| {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            if !buf.is_null() && buf_len > 0 {
                // Safety: the caller passes a buffer valid for buf_len bytes.
                let out = std::slice::from_raw_parts_mut(buf.cast::<u8>(), buf_len);
                copy_message(&last, out);
            }
            last.len()
        })
    })
    .unwrap_or(0)
}

/// The name of a result code, e.g. "RD_ERR_QUEUE_FULL"; "RD_ERR_UNKNOWN" for a value that is no
/// code. The string is static and NUL-terminated: never free it. Takes an `int32_t` so that any
/// value is defined. Thread-safe; cannot fail.
#[no_mangle]
pub extern "C" fn rd_result_name(code: i32) -> *const c_char {
    let name: &'static CStr = match rd_result::from_code(code) {
        Some(code) => code.name(),
        None => c"RD_ERR_UNKNOWN",
    };
    name.as_ptr()
}
