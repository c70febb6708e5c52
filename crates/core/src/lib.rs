//! cog-node's runtime core, free of N-API so it can be unit-tested with `cargo test` and reused
//! by every addon: cancellation tokens that running Rust work obeys, and concurrency slots.

pub mod cancel;
pub mod registry;
pub mod slots;

pub use cancel::{CancelToken, Canceled};
pub use registry::TokenRegistry;
pub use slots::{SlotPermit, Slots};
