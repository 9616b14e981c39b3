//! The hot-path functions with their arguments in one struct: `rd_wrap_begin_packed`,
//! `rd_span_record_packed`, `rd_wrap_end_packed`.
//!
//! Each behaves exactly as the function it is named after (same checks, same errors, same
//! effects: it calls it). They exist for bindings whose foreign calls cost per argument: Python's
//! ctypes converts each argument through a Python-level `from_param` (about 0.1 µs each, so
//! ~1 µs for the 11 arguments of `rd_wrap_begin`), while writing the same values into a
//! caller-owned struct costs a fraction of that. "Packed" means packed into one struct: the
//! structs have the natural C layout, no `#pragma pack`.

use super::boundary;
use super::{
    rd_call, rd_call_options, rd_call_result, rd_client, rd_error, rd_result, rd_span_record, rd_wrap_begin,
    rd_wrap_end,
};
use crate::error::Error;
use std::ffi::c_char;

/// The arguments of `rd_wrap_begin`, and its call handle output.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_wrap_begin_args {
    /// As `rd_wrap_begin`'s `client`.
    pub client: rd_client,
    /// As `parent`: `{0}` for a top-level call.
    pub parent: rd_call,
    /// As `module_name` (required).
    pub module_name: *const c_char,
    /// Length of `module_name` in bytes.
    pub module_name_len: usize,
    /// As `input` (optional).
    pub input: *const c_char,
    /// Length of `input` in bytes.
    pub input_len: usize,
    /// As `options` (NULL: none).
    pub options: *const rd_call_options,
    /// As `event_id_out` (NULL: not wanted).
    pub event_id_out: *mut c_char,
    /// As `event_id_out_len`.
    pub event_id_out_len: usize,
    /// Written on success: the call handle (as `*call_out`).
    pub call_out: rd_call,
}

/// The arguments of `rd_span_record`, its result inline.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_span_record_args {
    /// As `rd_span_record`'s `client`.
    pub client: rd_client,
    /// As `parent`.
    pub parent: rd_call,
    /// As `kind` (an `rd_span_kind`).
    pub kind: i32,
    /// As `name` (required).
    pub name: *const c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// As `input` (optional).
    pub input: *const c_char,
    /// Length of `input` in bytes.
    pub input_len: usize,
    /// As `start_unix_nanos`.
    pub start_unix_nanos: u64,
    /// As `end_unix_nanos`.
    pub end_unix_nanos: u64,
    /// As `*result`.
    pub result: rd_call_result,
}

/// The arguments of `rd_wrap_end`, its result inline.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_wrap_end_args {
    /// As `rd_wrap_end`'s `client`.
    pub client: rd_client,
    /// As `call` (a call or a span: `rd_span_end` is the same function).
    pub call: rd_call,
    /// As `*result`.
    pub result: rd_call_result,
}

/// `rd_wrap_begin` with its arguments in `*args`; on success the call handle is written to
/// `args->call_out`. `args` is borrowed for the duration of the call. Same errors as
/// `rd_wrap_begin`, and RD_ERR_NULL_ARGUMENT (args).
#[no_mangle]
pub unsafe extern "C" fn rd_wrap_begin_packed(args: *mut rd_wrap_begin_args, err_out: *mut rd_error) -> rd_result {
    // SAFETY: `args` is NULL or points to a valid struct (the contract).
    let Some(a) = (unsafe { args.as_mut() }) else { return boundary(err_out!(err_out), || Err(Error::null("args"))) };
    // SAFETY: the struct's fields are the arguments rd_wrap_begin takes, under the same contract.
    unsafe {
        rd_wrap_begin(
            a.client,
            a.parent,
            a.module_name,
            a.module_name_len,
            a.input,
            a.input_len,
            a.options,
            &mut a.call_out,
            a.event_id_out,
            a.event_id_out_len,
            err_out,
        )
    }
}

/// `rd_span_record` with its arguments in `*args`, borrowed for the duration of the call. Same
/// errors as `rd_span_record`, and RD_ERR_NULL_ARGUMENT (args).
#[no_mangle]
pub unsafe extern "C" fn rd_span_record_packed(args: *const rd_span_record_args, err_out: *mut rd_error) -> rd_result {
    // SAFETY: `args` is NULL or points to a valid struct (the contract).
    let Some(a) = (unsafe { args.as_ref() }) else { return boundary(err_out!(err_out), || Err(Error::null("args"))) };
    // SAFETY: the struct's fields are the arguments rd_span_record takes, under the same contract.
    unsafe {
        rd_span_record(
            a.client,
            a.parent,
            a.kind,
            a.name,
            a.name_len,
            a.input,
            a.input_len,
            a.start_unix_nanos,
            a.end_unix_nanos,
            &a.result,
            err_out,
        )
    }
}

/// `rd_wrap_end` (or `rd_span_end`) with its arguments in `*args`, borrowed for the duration of
/// the call. Same errors as `rd_wrap_end`, and RD_ERR_NULL_ARGUMENT (args).
#[no_mangle]
pub unsafe extern "C" fn rd_wrap_end_packed(args: *const rd_wrap_end_args, err_out: *mut rd_error) -> rd_result {
    // SAFETY: `args` is NULL or points to a valid struct (the contract).
    let Some(a) = (unsafe { args.as_ref() }) else { return boundary(err_out!(err_out), || Err(Error::null("args"))) };
    // SAFETY: the struct's fields are the arguments rd_wrap_end takes, under the same contract.
    unsafe { rd_wrap_end(a.client, a.call, &a.result, err_out) }
}
