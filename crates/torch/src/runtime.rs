//! Process-wide libtorch settings: CUDA presence and the intra-op thread count.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::TorchError;
use crate::worker;

/// True when libtorch can use at least one CUDA device.
#[napi(catch_unwind)]
pub fn cuda_is_available() -> bool {
    tch::Cuda::is_available()
}

#[napi(catch_unwind)]
pub fn cuda_device_count() -> i64 {
    tch::Cuda::device_count()
}

/// Waits until all work queued on CUDA device `index` is done (for timing: module calls return
/// once their kernels are queued). Blocks the calling thread.
#[napi(catch_unwind)]
pub fn cuda_synchronize(index: Option<u32>) -> Result<()> {
    if !tch::Cuda::is_available() {
        return Err(TorchError::Invalid("cuda.synchronize: no CUDA device".into()).into());
    }
    tch::Cuda::synchronize(i64::from(index.unwrap_or(0)));
    Ok(())
}

/// Sets how many threads libtorch uses inside one op (intra-op), for the inference thread's
/// next call. Like `torch.set_num_threads`.
#[napi]
pub fn set_num_threads(count: u32) -> Result<()> {
    if count == 0 || count > 1024 {
        return Err(
            TorchError::Invalid(format!("threads: expected 1 to 1024, got {count}")).into(),
        );
    }
    worker::set_threads(count as i32);
    Ok(())
}

/// The intra-op thread count the inference thread uses.
#[napi]
pub fn get_num_threads() -> Result<i32> {
    Ok(worker::threads()?)
}
