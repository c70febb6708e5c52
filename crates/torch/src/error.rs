//! Errors of Rust work on the inference thread, turned into JS errors when the promise settles.

use napi::{Error, Status};

#[derive(Debug)]
pub enum TorchError {
    /// libtorch's own message, as tch reports it.
    Torch(String),
    /// Bad input from the caller: names what is wrong.
    Invalid(String),
    /// The prediction's token was cancelled; JS turns the `Cancelled` code into `CancelationError`.
    Canceled,
}

pub type TorchResult<T> = std::result::Result<T, TorchError>;

impl From<tch::TchError> for TorchError {
    fn from(error: tch::TchError) -> Self {
        TorchError::Torch(without_backtrace(&error.to_string()))
    }
}

/// libtorch's message without the C++ frames it appends (kept by libtorch's own logs).
fn without_backtrace(message: &str) -> String {
    let message = message
        .strip_prefix("Internal torch error: ")
        .unwrap_or(message);
    let end = message
        .find("\nException raised from")
        .unwrap_or(message.len());
    message[..end].trim_end().to_owned()
}

impl From<TorchError> for Error {
    fn from(error: TorchError) -> Self {
        match error {
            TorchError::Torch(message) => Error::new(Status::GenericFailure, message),
            TorchError::Invalid(message) => Error::new(Status::InvalidArg, message),
            TorchError::Canceled => Error::new(Status::Cancelled, "prediction was canceled"),
        }
    }
}

/// Turns a panic caught on the inference thread into an error instead of unwinding into libtorch
/// or N-API.
pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> TorchError {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned());
    TorchError::Torch(message)
}

/// Runs `f`, catching a panic (tch's non-`f_` helpers panic on libtorch errors).
pub fn guarded<T>(f: impl FnOnce() -> TorchResult<T>) -> TorchResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(from_panic(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_libtorch_message_and_drops_the_backtrace() {
        let raw = "Internal torch error: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x8)\nException raised from meta at /pytorch/aten/src/ATen/native/LinearAlgebra.cpp:190\nframe #0: ...";
        assert_eq!(
            without_backtrace(raw),
            "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x8)"
        );
        assert_eq!(without_backtrace("plain"), "plain");
    }
}
