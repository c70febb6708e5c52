//! cog-node's runtime core, free of N-API so it can be unit-tested with `cargo test` and reused
//! by every addon: cancellation tokens that running Rust work obeys (and the C ABI table through
//! which another addon reaches them), and concurrency slots.

pub mod abi;
pub mod cancel;
pub mod channel;
pub mod registry;
pub mod safetensors;
pub mod slots;
pub mod typed_array;

pub use cancel::{CancelToken, Canceled};
pub use channel::{
    ChannelOptions, Consumer, Delivery, Item, OutputChannel, SendError, Start, TryRecv,
    TrySendError,
};
pub use registry::TokenRegistry;
pub use slots::{SlotPermit, Slots};
