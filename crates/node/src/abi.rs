//! Hands other native addons (the libtorch one) the address of the cancel-token C ABI table
//! (`cog_node_core::abi`). They are separate shared objects with their own copy of any Rust
//! static, so they call through this addon's table, and every addon obeys the one token of a
//! prediction.

use cog_node_core::abi::CancelTokenAbi;
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

/// The address of the cancel-token C ABI table (`CancelTokenAbi`, version 1) for other addons.
#[napi]
pub fn cancel_token_abi() -> BigInt {
    BigInt::from(std::ptr::from_ref(CancelTokenAbi::global()) as usize as u64)
}
