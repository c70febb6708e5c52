//! The `cog-node` addon: thin N-API glue over `cog-node-core`. Logic lives in the core crate.

mod cancel;
mod slots;
