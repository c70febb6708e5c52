//! `loadSafetensors(path, device)`: a safetensors file straight into tensors, copying each byte
//! at most once. On the CPU the tensors are views of one private, copy-on-write mapping of the
//! file that libtorch owns (`at::from_file`, as Python's safetensors does): no copy at all, pages
//! read on first use, freed with the last tensor. `copy: true` reads eagerly instead, with
//! `pread` into libtorch's memory from a few threads. On a GPU, each tensor is copied from the
//! mapping to the device.

use std::sync::atomic::{AtomicUsize, Ordering};

use cog_node_core::safetensors::{SafetensorsFile, TensorEntry};
use cog_node_napi_shared::OrderedObject;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use tch::{Device, Kind};

use crate::device::parse_device;
use crate::error::{TorchError, TorchResult};
use crate::kind::kind_of_safetensors;
use crate::tensor::Tensor;
use crate::worker;

/// Reads every tensor of a safetensors file onto `device`; resolves to them by name, in file
/// order. Rejects with the file's problem for a missing, truncated or malformed file.
#[napi(ts_return_type = "Promise<Record<string, Tensor>>")]
pub fn load_safetensors(
    env: &Env,
    path: String,
    device: String,
    copy: Option<bool>,
) -> Result<Object<'_>> {
    let device = parse_device(&device).map_err(TorchError::Invalid)?;
    let copy = copy.unwrap_or(false);
    worker::run_detached(
        env,
        move || load(&path, device, copy),
        |_env, tensors| {
            Ok(OrderedObject(
                tensors
                    .into_iter()
                    .map(|(name, tensor)| (name, Tensor::new(tensor)))
                    .collect(),
            ))
        },
    )
}

pub fn load(path: &str, device: Device, copy: bool) -> TorchResult<Vec<(String, tch::Tensor)>> {
    let file = SafetensorsFile::open(path).map_err(|e| TorchError::Invalid(e.to_string()))?;
    let kinds = file
        .tensors()
        .iter()
        .map(|entry| kind_for(&file, entry))
        .collect::<TorchResult<Vec<_>>>()?;
    let tensors = if copy && device == Device::Cpu {
        read_eagerly(&file, &kinds)?
    } else {
        let mapped = map_file(&file, &kinds)?;
        if device == Device::Cpu {
            mapped
        } else {
            mapped
                .iter()
                .map(|t| Ok(t.f_to_device(device)?))
                .collect::<TorchResult<_>>()?
        }
    };
    Ok(file
        .tensors()
        .iter()
        .map(|e| e.name.clone())
        .zip(tensors)
        .collect())
}

fn kind_for(file: &SafetensorsFile, entry: &TensorEntry) -> TorchResult<Kind> {
    kind_of_safetensors(entry.dtype).ok_or_else(|| {
        TorchError::Invalid(format!(
            "{}: tensor `{}` has dtype {}, which libtorch cannot hold",
            file.path().display(),
            entry.name,
            entry.dtype
        ))
    })
}

fn shape_of(entry: &TensorEntry) -> Vec<i64> {
    entry.shape.iter().map(|&d| d as i64).collect()
}

/// Views of one mapping of the whole file (a uint8 tensor that owns it).
fn map_file(file: &SafetensorsFile, kinds: &[Kind]) -> TorchResult<Vec<tch::Tensor>> {
    let path = file.path().to_str().ok_or_else(|| {
        TorchError::Invalid(format!(
            "{}: the path is not valid UTF-8",
            file.path().display()
        ))
    })?;
    let whole = tch::Tensor::f_from_file(
        path,
        false,
        file.mapping().len() as i64,
        (Kind::Uint8, Device::Cpu),
    )?;
    file.tensors()
        .iter()
        .zip(kinds)
        .map(|(entry, &kind)| {
            let bytes = whole.f_narrow(0, entry.range.start as i64, entry.byte_len() as i64)?;
            // A typed view must start at a multiple of its element size; copy the rare tensor
            // that does not (safetensors writers align them).
            let bytes = if entry.range.start.is_multiple_of(kind.elt_size_in_bytes()) {
                bytes
            } else {
                let mut aligned =
                    tch::Tensor::f_empty([entry.byte_len() as i64], (Kind::Uint8, Device::Cpu))?;
                aligned.f_copy_(&bytes)?;
                aligned
            };
            Ok(bytes.f_view_dtype(kind)?.f_reshape(shape_of(entry))?)
        })
        .collect()
}

/// Bytes copied per `pread`: small enough to spread a file over the threads.
const CHUNK: usize = 8 << 20;

/// Fresh tensors filled with `pread`, the chunks shared out among a few threads (page faults on
/// fresh memory, not the copy, bound this on one thread).
fn read_eagerly(file: &SafetensorsFile, kinds: &[Kind]) -> TorchResult<Vec<tch::Tensor>> {
    let tensors = file
        .tensors()
        .iter()
        .zip(kinds)
        .map(|(entry, &kind)| {
            Ok(tch::Tensor::f_empty(
                shape_of(entry).as_slice(),
                (kind, Device::Cpu),
            )?)
        })
        .collect::<TorchResult<Vec<_>>>()?;
    // (destination address, file offset, length) for every chunk.
    let mut chunks = Vec::new();
    for (entry, tensor) in file.tensors().iter().zip(&tensors) {
        let base = tensor.data_ptr() as usize;
        let mut done = 0;
        while done < entry.byte_len() {
            let len = CHUNK.min(entry.byte_len() - done);
            chunks.push((base + done, entry.range.start + done, len));
            done += len;
        }
    }
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(chunks.len().max(1));
    let results: Vec<TorchResult<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> TorchResult<()> {
                    loop {
                        let Some(&(dst, offset, len)) =
                            chunks.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            return Ok(());
                        };
                        // SAFETY: each chunk is a distinct range inside a tensor allocated above,
                        // which outlives this scope.
                        let dst = unsafe { std::slice::from_raw_parts_mut(dst as *mut u8, len) };
                        file.read_at(offset, dst)
                            .map_err(|e| TorchError::Invalid(e.to_string()))?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|p| Err(crate::error::from_panic(p)))
            })
            .collect()
    });
    results.into_iter().collect::<TorchResult<()>>()?;
    Ok(tensors)
}
