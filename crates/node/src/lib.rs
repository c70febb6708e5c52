//! The `cog-node` addon: thin N-API glue over `cog-node-core`. Logic lives in the core crate.

// #[napi] items are registered with Node only outside `cfg(test)`, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod abi;
mod admission;
mod cancel;
mod channel;
mod memory;
mod safetensors;
mod slots;
