//! A C ABI over the token registry, for other native addons (the libtorch one) that are separate
//! shared objects with their own copy of any Rust static. They get this table's address from
//! `cancelTokenAbi()` and call through it, so every addon obeys the one token of a prediction.

use std::ffi::c_void;

use cog_node_core::{CancelToken, TokenRegistry};
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// Version 1 of the table. Fields are only ever appended.
#[repr(C)]
pub struct CancelTokenAbi {
    pub version: u32,
    /// A strong handle to token `id`, or null when there is none. Free it with `release`.
    pub acquire: extern "C" fn(id: u32) -> *const c_void,
    pub is_canceled: extern "C" fn(handle: *const c_void) -> bool,
    pub release: extern "C" fn(handle: *const c_void),
}

extern "C" fn acquire(id: u32) -> *const c_void {
    match TokenRegistry::global().get(id) {
        Some(token) => Box::into_raw(Box::new(token)).cast_const().cast(),
        None => std::ptr::null(),
    }
}

extern "C" fn is_canceled(handle: *const c_void) -> bool {
    // SAFETY: a non-null handle came from `acquire` and has not been released yet.
    match unsafe { handle.cast::<CancelToken>().as_ref() } {
        Some(token) => token.is_canceled(),
        None => false,
    }
}

extern "C" fn release(handle: *const c_void) {
    if !handle.is_null() {
        // SAFETY: the handle came from `acquire` (a leaked Box) and is released exactly once.
        drop(unsafe { Box::from_raw(handle.cast::<CancelToken>().cast_mut()) });
    }
}

static ABI: CancelTokenAbi = CancelTokenAbi {
    version: 1,
    acquire,
    is_canceled,
    release,
};

/// The address of the cancel-token C ABI table (`CancelTokenAbi`, version 1) for other addons.
#[napi]
pub fn cancel_token_abi() -> BigInt {
    BigInt::from(std::ptr::addr_of!(ABI) as usize as u64)
}
