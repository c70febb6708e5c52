//! `cog-node/torch`: the libtorch backend, its own addon so that users who don't need libtorch
//! never load it. TorchScript modules run one call at a time, under no-grad, on the calling thread
//! or on one dedicated inference thread (not libuv's pool; see worker.rs); libtorch errors become
//! JS errors carrying libtorch's message, never panics.

// napi-derive registers the exported functions only outside `cfg(test)`; unit tests see them unused.
#![cfg_attr(test, allow(dead_code))]

mod cancel;
#[cfg(test)]
mod cuda_checks;
mod device;
mod error;
mod kind;
mod module;
mod runtime;
mod safetensors;
mod tensor;
mod values;
mod worker;
