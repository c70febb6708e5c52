//! TorchScript modules: loaded on the inference thread, called there (`run`, `runSteps`: a
//! promise) or on the calling thread (`runSync`, `runStepsSync`). A call made for a prediction
//! carries its cancel token: checked before the call starts (it may have waited its turn), after
//! it ends, and between the steps of `runSteps`, the multi-step loop that runs in Rust.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use tch::{CModule, Device, IValue};

use crate::cancel::{check, TokenHandle};
use crate::device::{device_name, parse_device};
use crate::error::{TorchError, TorchResult};
use crate::values::{Input, Output};
use crate::worker;

#[napi]
pub struct TorchModule {
    module: Arc<Mutex<CModule>>,
    device: Device,
    path: String,
}

/// Loads a TorchScript file (`torch.jit.save`) onto `device`, in eval mode.
#[napi(ts_return_type = "Promise<TorchModule>")]
pub fn load_torch_script(env: &Env, path: String, device: String) -> Result<Object<'_>> {
    let device = parse_device(&device).map_err(TorchError::Invalid)?;
    worker::run(
        env,
        move || {
            let load = || -> TorchResult<CModule> {
                let mut module = CModule::load_on_device(&path, device)?;
                module.f_set_eval()?;
                Ok(module)
            };
            let module = load().map_err(|e| match e {
                TorchError::Torch(message) => {
                    TorchError::Torch(format!("cannot load TorchScript module {path}: {message}"))
                }
                other => other,
            })?;
            Ok(TorchModule {
                module: Arc::new(Mutex::new(module)),
                device,
                path,
            })
        },
        |_env, module| Ok(module),
    )
}

fn token(cancel_token_id: Option<u32>) -> Result<Option<TokenHandle>> {
    Ok(cancel_token_id.map(TokenHandle::acquire).transpose()?)
}

fn to_ivalues(inputs: Vec<Input>) -> Vec<IValue> {
    inputs.into_iter().map(Input::into_ivalue).collect()
}

#[napi]
impl TorchModule {
    /// Where the module's parameters were loaded: `cpu` or `cuda:N`.
    #[napi(getter)]
    pub fn device(&self) -> String {
        device_name(self.device)
    }

    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// Calls `method` (e.g. `forward`) with `inputs`; resolves to its output.
    #[napi(
        ts_args_type = "method: string, inputs: unknown[], cancelTokenId?: number | undefined | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn run<'env>(
        &self,
        env: &'env Env,
        method: String,
        inputs: Vec<Input>,
        cancel_token_id: Option<u32>,
    ) -> Result<Object<'env>> {
        let job = call_job(&self.module, method, inputs, token(cancel_token_id)?);
        worker::run(env, job, |_env, output| Ok(output))
    }

    /// `run` on the calling thread, which it blocks until the call is done: no hop to the
    /// inference thread and back (22-30 µs of a 1-element call's 25, benches/torch/overhead.ts).
    #[napi(
        catch_unwind,
        ts_args_type = "method: string, inputs: unknown[], cancelTokenId?: number | undefined | null",
        ts_return_type = "unknown"
    )]
    pub fn run_sync(
        &self,
        method: String,
        inputs: Vec<Input>,
        cancel_token_id: Option<u32>,
    ) -> Result<Output> {
        let job = call_job(&self.module, method, inputs, token(cancel_token_id)?);
        Ok(worker::run_sync(job)?)
    }

    /// Calls `method` `steps` times, each step's output (a tuple spread) being the next step's
    /// inputs, with the step index appended as a last `int` argument when `withStepIndex`.
    /// The token is checked between steps, so a cancelled prediction stops within one step.
    #[napi(
        ts_args_type = "method: string, steps: number, inputs: unknown[], withStepIndex: boolean, cancelTokenId?: number | undefined | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn run_steps<'env>(
        &self,
        env: &'env Env,
        method: String,
        steps: u32,
        inputs: Vec<Input>,
        with_step_index: bool,
        cancel_token_id: Option<u32>,
    ) -> Result<Object<'env>> {
        let token = token(cancel_token_id)?;
        let job = steps_job(&self.module, method, steps, inputs, with_step_index, token);
        worker::run(env, job, |_env, output| Ok(output))
    }

    /// `runSteps` on the calling thread, which it blocks until the loop ends or is cancelled
    /// (the token is cancelled from another thread: the runtime's, on the main thread).
    #[napi(
        catch_unwind,
        ts_args_type = "method: string, steps: number, inputs: unknown[], withStepIndex: boolean, cancelTokenId?: number | undefined | null",
        ts_return_type = "unknown"
    )]
    pub fn run_steps_sync(
        &self,
        method: String,
        steps: u32,
        inputs: Vec<Input>,
        with_step_index: bool,
        cancel_token_id: Option<u32>,
    ) -> Result<Output> {
        let token = token(cancel_token_id)?;
        let job = steps_job(&self.module, method, steps, inputs, with_step_index, token);
        Ok(worker::run_sync(job)?)
    }
}

/// One call of `method`, between two checks of the token.
fn call_job(
    module: &Arc<Mutex<CModule>>,
    method: String,
    inputs: Vec<Input>,
    token: Option<TokenHandle>,
) -> impl FnOnce() -> TorchResult<Output> + Send + 'static {
    let module = Arc::clone(module);
    move || {
        let inputs = to_ivalues(inputs);
        check(token.as_ref())?;
        let output = call(&module, &method, &inputs)?;
        check(token.as_ref())?;
        Output::from_ivalue(output)
    }
}

/// The multi-step loop of `runSteps`, checking the token before each step and after the last.
fn steps_job(
    module: &Arc<Mutex<CModule>>,
    method: String,
    steps: u32,
    inputs: Vec<Input>,
    with_step_index: bool,
    token: Option<TokenHandle>,
) -> impl FnOnce() -> TorchResult<Output> + Send + 'static {
    let module = Arc::clone(module);
    move || {
        let mut state = to_ivalues(inputs);
        for step in 0..steps {
            check(token.as_ref())?;
            let mut args: Vec<&IValue> = state.iter().collect();
            let index = IValue::Int(i64::from(step));
            if with_step_index {
                args.push(&index);
            }
            state = Output::into_ivalues(call(&module, &method, &args)?);
        }
        check(token.as_ref())?;
        let output = match state.len() {
            1 => state.pop().unwrap_or(IValue::None),
            _ => IValue::Tuple(state),
        };
        Output::from_ivalue(output)
    }
}

fn call<T: std::borrow::Borrow<IValue>>(
    module: &Mutex<CModule>,
    method: &str,
    inputs: &[T],
) -> TorchResult<IValue> {
    let module = module
        .lock()
        .map_err(|_| TorchError::Torch("the module is unusable after an earlier panic".into()))?;
    Ok(module.method_is(method, inputs)?)
}
