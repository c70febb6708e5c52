//! `readSafetensors(path)`: every tensor of the file as a typed array over one memory mapping,
//! without copying. The views share one external ArrayBuffer whose finalizer holds the mapping,
//! so the file stays mapped exactly as long as JavaScript references any view.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use cog_node_core::safetensors::{Mapping, SafetensorsFile, TensorEntry};
use cog_node_core::typed_array::TypedArrayKind;
use cog_node_napi_shared::{JsTypedArray, OrderedObject};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

/// One tensor of a safetensors file.
#[napi(object, object_from_js = false)]
pub struct SafetensorsView {
    /// The safetensors dtype name: F32, F16, BF16, I64, BOOL, ...
    pub dtype: String,
    pub shape: Vec<i64>,
    /// The tensor's bytes, as the typed array of its dtype (F16/BF16 as raw Uint16Array bits,
    /// BOOL and 8-bit floats as Uint8Array, C64 as interleaved Float32Array). A view over the
    /// mapped file, except for a tensor whose offset is not a multiple of its element size,
    /// which is copied.
    #[napi(
        ts_type = "Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array"
    )]
    pub data: JsTypedArray,
    /// False when the data had to be copied (misaligned in the file).
    pub zero_copy: bool,
}

/// A safetensors file's tensors (by name, in file order) and its `__metadata__`.
#[napi(object, object_from_js = false)]
pub struct SafetensorsViews {
    pub metadata: BTreeMap<String, String>,
    #[napi(ts_type = "Record<string, SafetensorsView>")]
    pub tensors: OrderedObject<SafetensorsView>,
}

/// Reads a safetensors file as zero-copy typed-array views over a private, copy-on-write mapping:
/// writing into a view never changes the file. Throws on a missing, truncated or malformed file.
#[napi]
pub fn read_safetensors(env: Env, path: String) -> Result<SafetensorsViews> {
    let file =
        SafetensorsFile::open(&path).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
    let raw_env = env.raw();
    let (buffer, external) = external_buffer(raw_env, file.mapping())?;
    let mut tensors = Vec::with_capacity(file.tensors().len());
    for entry in file.tensors() {
        let (data, zero_copy) = view(raw_env, buffer, external, entry)?;
        tensors.push((
            entry.name.clone(),
            SafetensorsView {
                dtype: entry.dtype.to_string(),
                shape: entry.shape.iter().map(|&d| d as i64).collect(),
                data,
                zero_copy,
            },
        ));
    }
    Ok(SafetensorsViews {
        metadata: file.metadata().clone(),
        tensors: OrderedObject(tensors),
    })
}

unsafe extern "C" fn release_mapping(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box<Arc<Mapping>> leaked in `external_buffer`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<Arc<Mapping>>()) });
}

/// One ArrayBuffer over the whole mapping; `external` is false where the runtime forbids
/// external buffers and the bytes were copied instead.
fn external_buffer(env: sys::napi_env, mapping: Arc<Mapping>) -> Result<(sys::napi_value, bool)> {
    let (data, len) = (mapping.as_ptr(), mapping.len());
    let hint = Box::into_raw(Box::new(mapping));
    let mut buffer = ptr::null_mut();
    // SAFETY: the mapping lives until `release_mapping` drops the Arc that `hint` owns.
    let status = unsafe {
        sys::napi_create_external_arraybuffer(
            env,
            data.cast(),
            len,
            Some(release_mapping),
            hint.cast(),
            &mut buffer,
        )
    };
    if status == sys::Status::napi_ok {
        return Ok((buffer, true));
    }
    // SAFETY: not handed to the runtime, so still ours to free.
    let mapping = unsafe { Box::from_raw(hint) };
    if status != sys::Status::napi_no_external_buffers_allowed {
        check_status!(
            status,
            "cannot create an ArrayBuffer over the safetensors file"
        )?;
    }
    let mut copy = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_arraybuffer(env, len, &mut copy, &mut buffer) })?;
    // SAFETY: both regions are `len` bytes and distinct.
    unsafe { ptr::copy_nonoverlapping(mapping.as_ptr(), copy.cast::<u8>(), len) };
    Ok((buffer, false))
}

fn view(
    env: sys::napi_env,
    buffer: sys::napi_value,
    external: bool,
    entry: &TensorEntry,
) -> Result<(JsTypedArray, bool)> {
    let kind = TypedArrayKind::of_safetensors(entry.dtype);
    let size = kind.element_size();
    let length = entry.byte_len() / size;
    let mut source = buffer;
    let mut offset = entry.range.start;
    let zero_copy = external && offset.is_multiple_of(size);
    if !offset.is_multiple_of(size) {
        // A typed array must start at a multiple of its element size: copy this one tensor.
        let mut copy = ptr::null_mut();
        let mut data = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_arraybuffer(env, entry.byte_len(), &mut data, &mut copy)
        })?;
        let mut base = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_get_arraybuffer_info(env, buffer, &mut base, ptr::null_mut())
        })?;
        // SAFETY: the range was validated against the file's length when it was opened.
        unsafe {
            ptr::copy_nonoverlapping(
                base.cast::<u8>().add(offset),
                data.cast::<u8>(),
                entry.byte_len(),
            )
        };
        source = copy;
        offset = 0;
    }
    // SAFETY: `env` is this call's and `source` an ArrayBuffer made in it.
    let array = unsafe { JsTypedArray::new(env, kind, length, source, offset) }.map_err(|e| {
        Error::new(
            e.status,
            format!("cannot create a view of tensor `{}`", entry.name),
        )
    })?;
    Ok((array, zero_copy))
}
