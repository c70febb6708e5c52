use std::time::Duration;

use cog_node_core::{CancelToken as CoreToken, TokenRegistry};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A prediction's cancellation token. Lives in Rust, so every thread of the process (worker
/// threads included) and any Rust work started for the prediction sees the same flag.
#[napi]
pub struct CancelToken {
    id: u32,
    token: CoreToken,
}

#[napi]
impl CancelToken {
    /// A new token, registered so that other threads can find it by `id`.
    #[napi(constructor)]
    pub fn new() -> Self {
        let token = CoreToken::new();
        let id = TokenRegistry::global().register(token.clone());
        Self { id, token }
    }

    /// The token with this id, as registered by another thread.
    #[napi(factory)]
    pub fn from_id(id: u32) -> Result<Self> {
        TokenRegistry::global()
            .get(id)
            .map(|token| Self { id, token })
            .ok_or_else(|| Error::new(Status::InvalidArg, format!("no cancel token with id {id}")))
    }

    /// The core token, for other glue (an output channel) that obeys it.
    pub(crate) fn core(&self) -> &CoreToken {
        &self.token
    }

    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// True once cancellation was requested; a plain atomic read, cheap inside a busy loop.
    #[napi(getter)]
    pub fn canceled(&self) -> bool {
        self.token.is_canceled()
    }

    /// Requests cancellation; returns true for the call that actually cancelled.
    #[napi]
    pub fn cancel(&self) -> bool {
        self.token.cancel()
    }

    /// Forgets the token's id so the registry does not grow; clones already taken keep working.
    #[napi]
    pub fn release(&self) {
        TokenRegistry::global().remove(self.id);
    }

    /// Sleeps on a Rust thread for `ms` milliseconds, ending early with a `CancelationError`
    /// when the token is cancelled: the model of how Rust work started for a prediction obeys it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn sleep(&self, ms: u32) -> AsyncTask<CancelableSleep> {
        AsyncTask::new(CancelableSleep {
            token: self.token.clone(),
            duration: Duration::from_millis(u64::from(ms)),
        })
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

/// A new registered token, known by its id only: no JS object (making and collecting one, with
/// its finalizer, cost ~1.8 µs a prediction; `CancelToken.fromId` makes one when asked).
#[napi]
pub fn cancel_token_new() -> u32 {
    TokenRegistry::global().register(CoreToken::new())
}

/// Cancels the registered token `id`; true for the call that cancelled, false when it was
/// cancelled already or is not registered (released).
#[napi]
pub fn cancel_token_cancel(id: u32) -> bool {
    TokenRegistry::global()
        .get(id)
        .is_some_and(|token| token.cancel())
}

/// Whether the registered token `id` is cancelled; false when it is not registered (released).
#[napi]
pub fn cancel_token_canceled(id: u32) -> bool {
    TokenRegistry::global()
        .get(id)
        .is_some_and(|token| token.is_canceled())
}

/// Forgets the id (as `CancelToken.release`); tokens made from it keep working.
#[napi]
pub fn cancel_token_release(id: u32) {
    TokenRegistry::global().remove(id);
}

/// The number of tokens currently registered (a leak check for tests and health reports).
#[napi]
pub fn registered_cancel_tokens() -> u32 {
    u32::try_from(TokenRegistry::global().len()).unwrap_or(u32::MAX)
}

pub struct CancelableSleep {
    token: CoreToken,
    duration: Duration,
}

impl Task for CancelableSleep {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.token
            .sleep(self.duration)
            .map_err(|canceled| Error::new(Status::Cancelled, canceled.to_string()))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
