//! The prediction's cancel token, reached through the core addon's C ABI table
//! (`cancelTokenAbi()` in the `cog-node` addon). This addon is a separate shared object with its
//! own statics, so it cannot see the core's token registry directly; the table is the one way both
//! addons obey the same token. The table's one declaration is `cog_node_core::abi::CancelTokenAbi`.

use std::sync::atomic::{AtomicPtr, Ordering};

use cog_node_core::abi::{AbiToken, CancelTokenAbi};
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

use crate::error::{TorchError, TorchResult};

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
    let abi = unsafe { &*table };
    if !abi.is_supported() {
        return Err(TorchError::Invalid(format!(
            "cancelTokenAbi: unsupported version {}",
            abi.version
        ))
        .into());
    }
    ABI.store(table, Ordering::Release);
    Ok(())
}

/// A strong handle on one of the core addon's tokens; released on drop.
pub struct TokenHandle(AbiToken);

impl TokenHandle {
    /// The token registered under `id` by the core addon.
    pub fn acquire(id: u32) -> TorchResult<Self> {
        let table = ABI.load(Ordering::Acquire);
        // SAFETY: only ever set to the address of the core addon's static table.
        let abi = unsafe { table.as_ref() }.ok_or_else(|| {
            TorchError::Invalid("cancel token given before setCancelTokenAbi() was called".into())
        })?;
        abi.token(id).map(Self).ok_or_else(|| {
            TorchError::Invalid(format!("cancelToken: no cancel token with id {id}"))
        })
    }

    pub fn is_canceled(&self) -> bool {
        self.0.is_canceled()
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
