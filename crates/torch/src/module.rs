//! TorchScript modules: loaded and called on the inference thread. A call made for a prediction
//! carries its cancel token: checked before the call starts (it may have waited in the queue),
//! after it ends, and between the steps of `runSteps`, the multi-step loop that runs in Rust.

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
        let token = token(cancel_token_id)?;
        let module = Arc::clone(&self.module);
        worker::run(
            env,
            move || {
                let inputs = to_ivalues(inputs);
                check(token.as_ref())?;
                let output = call(&module, &method, &inputs)?;
                check(token.as_ref())?;
                Output::from_ivalue(output)
            },
            |_env, output| Ok(output),
        )
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
        let module = Arc::clone(&self.module);
        worker::run(
            env,
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
            },
            |_env, output| Ok(output),
        )
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
