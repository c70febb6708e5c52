//! cog-node's runtime core, free of N-API so it can be unit-tested with `cargo test` and reused
//! by every addon: cancellation tokens that running Rust work obeys (and the C ABI table through
//! which another addon reaches them), concurrency slots, the admission line that waits for
//! them, and the batch former.

pub mod abi;
pub mod batch;
pub mod cancel;
pub mod channel;
pub mod queue;
pub mod registry;
pub mod safetensors;
pub mod slots;
#[cfg(test)]
mod test_waker;
pub mod typed_array;

pub use batch::{BatchFormer, BatchKey};
pub use cancel::{CancelToken, Canceled};
pub use channel::{
    ChannelOptions, Consumer, Delivery, Item, OutputChannel, SendError, Start, TryRecv,
    TrySendError,
};
pub use queue::{retry_after_secs, Admission, Admitted, MeanRunTime, Ticket};
pub use registry::TokenRegistry;
pub use slots::{SlotPermit, Slots};
