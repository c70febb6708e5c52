//! The prediction's cancel token, reached through the core addon's C ABI table
//! (`cancelTokenAbi()` in the `cog-node` addon). This addon is a separate shared object with its
//! own statics, so it cannot see the core's token registry directly; the table is the one way both
//! addons obey the same token.

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

use crate::error::{TorchError, TorchResult};

/// Mirror of `CancelTokenAbi` in crates/node/src/abi.rs (version 1; fields are only appended).
#[repr(C)]
struct CancelTokenAbi {
    version: u32,
    acquire: extern "C" fn(id: u32) -> *const c_void,
    is_canceled: extern "C" fn(handle: *const c_void) -> bool,
    release: extern "C" fn(handle: *const c_void),
}

static ABI: AtomicPtr<CancelTokenAbi> = AtomicPtr::new(std::ptr::null_mut());

/// Hands this addon the address that the core addon's `cancelTokenAbi()` returned.
#[napi]
pub fn set_cancel_token_abi(address: BigInt) -> napi::Result<()> {
    let (negative, value, lossless) = address.get_u64();
    if negative || !lossless || value == 0 {
        return Err(TorchError::Invalid(
            "cancelTokenAbi: expected the address from cog-node's cancelTokenAbi()".into(),
        )
        .into());
    }
    let table = value as usize as *mut CancelTokenAbi;
    // SAFETY: the address is that of a `static` in the core addon, which is never unloaded.
    let version = unsafe { (*table).version };
    if version < 1 {
        return Err(
            TorchError::Invalid(format!("cancelTokenAbi: unsupported version {version}")).into(),
        );
    }
    ABI.store(table, Ordering::Release);
    Ok(())
}

/// A strong handle on one token; released on drop.
pub struct TokenHandle {
    abi: &'static CancelTokenAbi,
    handle: *const c_void,
}

// SAFETY: the handle is a boxed clone of the core's `CancelToken` (an `Arc` of atomics), which the
// ABI functions only read or free.
unsafe impl Send for TokenHandle {}

impl TokenHandle {
    /// The token registered under `id` by the core addon.
    pub fn acquire(id: u32) -> TorchResult<Self> {
        let table = ABI.load(Ordering::Acquire);
        // SAFETY: only ever set to the address of the core addon's static table.
        let abi = unsafe { table.as_ref() }.ok_or_else(|| {
            TorchError::Invalid("cancel token given before setCancelTokenAbi() was called".into())
        })?;
        let handle = (abi.acquire)(id);
        if handle.is_null() {
            return Err(TorchError::Invalid(format!(
                "cancelToken: no cancel token with id {id}"
            )));
        }
        Ok(Self { abi, handle })
    }

    pub fn is_canceled(&self) -> bool {
        (self.abi.is_canceled)(self.handle)
    }
}

impl Drop for TokenHandle {
    fn drop(&mut self) {
        (self.abi.release)(self.handle);
    }
}

/// Fails with `Canceled` once the (optional) token is cancelled: called between module calls and
/// between the steps of a loop.
pub fn check(token: Option<&TokenHandle>) -> TorchResult<()> {
    match token {
        Some(token) if token.is_canceled() => Err(TorchError::Canceled),
        _ => Ok(()),
    }
}
