//! Where module calls run, one at a time in the process, with gradients off: on the inference
//! thread (one dedicated OS thread, for calls that return a promise; not libuv's pool, whose four
//! threads file system and DNS work share), or on the calling thread (`run_sync`: a predictor's
//! worker thread, which is off the main event loop already). One at a time, because libtorch
//! parallelises each op itself (intra-op threads); the inference lock keeps that true for both.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;

use crate::error::{guarded, TorchError, TorchResult};

type Job = Box<dyn FnOnce() + Send>;

static SENDER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
/// Intra-op threads wanted; 0 keeps libtorch's default. Applied on the inference thread, because
/// with OpenMP the setting belongs to the thread that starts the parallel regions.
static THREADS: AtomicI32 = AtomicI32::new(0);
/// libtorch's own intra-op count on the inference thread, recorded when the thread starts.
static DEFAULT_THREADS: AtomicI32 = AtomicI32::new(0);
/// Held while a job runs, on the inference thread or a caller's: calls never overlap.
static INFERENCE: Mutex<()> = Mutex::new(());

thread_local! {
    /// The intra-op count last applied on this thread (OpenMP's count is per thread).
    static APPLIED: Cell<i32> = const { Cell::new(0) };
}

fn inference_turn() -> MutexGuard<'static, ()> {
    // The lock guards no data: a panic while it was held (caught by `guarded`) broke nothing.
    INFERENCE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies the wanted intra-op count on this thread if it changed since this thread last did.
fn apply_threads() {
    let wanted = THREADS.load(Ordering::Acquire);
    if wanted > 0 && APPLIED.get() != wanted {
        tch::set_num_threads(wanted);
        APPLIED.set(wanted);
    }
}

fn sender() -> TorchResult<Sender<Job>> {
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("cog-node-torch".into())
            .spawn(move || {
                let _no_grad = tch::no_grad_guard();
                DEFAULT_THREADS.store(tch::get_num_threads().max(1), Ordering::Release);
                for job in rx {
                    let _turn = inference_turn();
                    apply_threads();
                    job();
                }
            });
        if let Err(error) = spawned {
            // Leaves a sender whose receiver is gone: every submit reports the spawn failure.
            eprintln!("cog-node/torch: cannot start the inference thread: {error}");
        }
        Mutex::new(tx)
    });
    sender
        .lock()
        .map(|s| s.clone())
        .map_err(|_| TorchError::Torch("the inference thread's queue is poisoned".into()))
}

/// Runs `work` on the inference thread and settles the returned promise with `to_js(result)`.
pub fn run<T, R>(
    env: &Env,
    work: impl FnOnce() -> TorchResult<T> + Send + 'static,
    to_js: impl FnOnce(Env, T) -> napi::Result<R> + Send + 'static,
) -> napi::Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
{
    run_on(env, sender()?, work, to_js)
}

/// Runs `work` on the calling thread, blocking it until the call is done (after the calls
/// running or queued before it on other threads that hold the inference lock first).
pub fn run_sync<T>(work: impl FnOnce() -> TorchResult<T>) -> TorchResult<T> {
    let _turn = inference_turn();
    apply_threads();
    let _no_grad = tch::no_grad_guard();
    guarded(work)
}

/// Runs `work` on a fresh thread (for file loading, which must not hold up inference).
pub fn run_detached<T, R>(
    env: &Env,
    work: impl FnOnce() -> TorchResult<T> + Send + 'static,
    to_js: impl FnOnce(Env, T) -> napi::Result<R> + Send + 'static,
) -> napi::Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    std::thread::Builder::new()
        .name("cog-node-torch-load".into())
        .spawn(move || match guarded(work) {
            Ok(value) => deferred.resolve(move |env| to_js(env, value)),
            Err(error) => deferred.reject(error.into()),
        })
        .map_err(|e| napi::Error::from_reason(format!("cannot start a loading thread: {e}")))?;
    Ok(promise)
}

fn run_on<T, R>(
    env: &Env,
    sender: Sender<Job>,
    work: impl FnOnce() -> TorchResult<T> + Send + 'static,
    to_js: impl FnOnce(Env, T) -> napi::Result<R> + Send + 'static,
) -> napi::Result<Object<'_>>
where
    T: Send + 'static,
    R: ToNapiValue + 'static,
{
    let (deferred, promise) = env.create_deferred()?;
    let job: Job = Box::new(move || match guarded(work) {
        Ok(value) => deferred.resolve(move |env| to_js(env, value)),
        Err(error) => deferred.reject(error.into()),
    });
    sender
        .send(job)
        .map_err(|_| napi::Error::from_reason("the inference thread is not running"))?;
    Ok(promise)
}

pub fn set_threads(count: i32) {
    THREADS.store(count, Ordering::Release);
}

/// The intra-op thread count the inference thread uses (starting it if need be; never waits
/// for a running call).
pub fn threads() -> TorchResult<i32> {
    let wanted = THREADS.load(Ordering::Acquire);
    if wanted > 0 {
        return Ok(wanted);
    }
    sender()?;
    for _ in 0..5000 {
        match DEFAULT_THREADS.load(Ordering::Acquire) {
            0 => std::thread::sleep(std::time::Duration::from_millis(1)),
            default => return Ok(default),
        }
    }
    Err(TorchError::Torch(
        "the inference thread did not start".into(),
    ))
}
