//! The cancel-token C ABI: a `#[repr(C)]` table of function pointers over the token registry.
//!
//! Every native addon is a separate shared object with its own copy of every Rust static, the
//! token registry included, so another addon (the libtorch one) cannot look a prediction's token
//! up itself. The core addon hands out the address of its table (`cancelTokenAbi()`), the other
//! addon calls through it, and so every addon obeys the one token of a prediction. The table is
//! declared only here and both addons use this type, so their layouts cannot disagree.

use std::ffi::c_void;

use crate::{CancelToken, TokenRegistry};

/// The version of the table this crate builds and reads. Fields are only ever appended, so a
/// table of a later version serves a reader of an earlier one.
pub const CANCEL_TOKEN_ABI_VERSION: u32 = 1;

/// Version 1 of the table. Fields are only ever appended.
#[repr(C)]
pub struct CancelTokenAbi {
    pub version: u32,
    /// A strong handle to token `id`, or null when there is none. Free it with `release`.
    pub acquire: extern "C" fn(id: u32) -> *const c_void,
    pub is_canceled: extern "C" fn(handle: *const c_void) -> bool,
    pub release: extern "C" fn(handle: *const c_void),
}

// A reader checks `version` before anything else, so it must stay the first field.
const _: () = assert!(std::mem::offset_of!(CancelTokenAbi, version) == 0);

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

static GLOBAL: CancelTokenAbi = CancelTokenAbi {
    version: CANCEL_TOKEN_ABI_VERSION,
    acquire,
    is_canceled,
    release,
};

impl CancelTokenAbi {
    /// The table over this shared object's `TokenRegistry::global()`. Only the core addon hands
    /// its address out: in any other addon that registry is a second, empty copy.
    pub fn global() -> &'static CancelTokenAbi {
        &GLOBAL
    }

    /// Whether this table (maybe another addon's) has every field this crate calls.
    pub fn is_supported(&self) -> bool {
        self.version >= CANCEL_TOKEN_ABI_VERSION
    }

    /// A strong handle on token `id` through the table, or `None` when there is no such token.
    pub fn token(&'static self, id: u32) -> Option<AbiToken> {
        let handle = (self.acquire)(id);
        (!handle.is_null()).then_some(AbiToken { abi: self, handle })
    }
}

/// A strong handle on one token, acquired through a table; released on drop.
pub struct AbiToken {
    abi: &'static CancelTokenAbi,
    handle: *const c_void,
}

// SAFETY: the handle is a boxed clone of the table owner's `CancelToken` (an `Arc` of atomics),
// which the table's functions only read or free.
unsafe impl Send for AbiToken {}

impl AbiToken {
    pub fn is_canceled(&self) -> bool {
        (self.abi.is_canceled)(self.handle)
    }
}

impl Drop for AbiToken {
    fn drop(&mut self) {
        (self.abi.release)(self.handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_table_is_this_version() {
        let abi = CancelTokenAbi::global();
        assert_eq!(abi.version, CANCEL_TOKEN_ABI_VERSION);
        assert!(abi.is_supported());
    }

    #[test]
    fn a_handle_reads_the_registered_token_and_releases_its_clone() {
        let token = CancelToken::new();
        let id = TokenRegistry::global().register(token.clone());
        let abi = CancelTokenAbi::global();

        let handle = abi.token(id).expect("registered");
        assert_eq!(token.clones(), 3, "caller, registry and handle");
        assert!(!handle.is_canceled());
        token.cancel();
        assert!(handle.is_canceled());

        drop(handle);
        assert_eq!(token.clones(), 2, "the handle's clone is freed on release");
        assert!(TokenRegistry::global().remove(id).is_some());
    }

    #[test]
    fn an_unknown_id_gives_no_handle() {
        let id = TokenRegistry::global().register(CancelToken::new());
        TokenRegistry::global().remove(id);
        assert!(CancelTokenAbi::global().token(id).is_none());
    }

    #[test]
    fn the_raw_functions_accept_a_null_handle() {
        let abi = CancelTokenAbi::global();
        assert!(!(abi.is_canceled)(std::ptr::null()));
        (abi.release)(std::ptr::null());
    }

    #[test]
    fn a_table_of_an_earlier_version_is_refused() {
        let old = CancelTokenAbi {
            version: CANCEL_TOKEN_ABI_VERSION - 1,
            acquire,
            is_canceled,
            release,
        };
        assert!(!old.is_supported());
    }
}
