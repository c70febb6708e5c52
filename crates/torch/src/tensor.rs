//! `Tensor`: a libtorch tensor held by JavaScript. Data crosses the boundary by copying exactly
//! once each way (`fromTypedArray`, `toTypedArray`): a JS typed array may be moved or mutated by
//! the VM, so libtorch never keeps a pointer into one.

use std::ptr;

use cog_node_core::typed_array::TypedArrayKind;
use cog_node_napi_shared::{kind_of_napi_type, JsTypedArray};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use tch::{Device, Kind};

use crate::device::{device_name, parse_device};
use crate::error::{guarded, TorchError, TorchResult};
use crate::kind::{dtype_name, parse_dtype};

#[napi]
pub struct Tensor {
    pub(crate) inner: tch::Tensor,
}

impl Tensor {
    pub fn new(inner: tch::Tensor) -> Self {
        Self { inner }
    }
}

#[napi]
impl Tensor {
    /// Copies a typed array into a new CPU tensor of `shape`. The dtype follows the array
    /// (Float32Array: float32, BigInt64Array: int64, ...); `dtype` reads the same bytes as another
    /// type of that element size: `bool` from a Uint8Array, `float16`/`bfloat16` from a Uint16Array.
    #[napi(
        factory,
        catch_unwind,
        ts_args_type = "data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | BigInt64Array, shape: number[], dtype?: string | undefined | null"
    )]
    pub fn from_typed_array(
        env: Env,
        data: Unknown,
        shape: Vec<i64>,
        dtype: Option<String>,
    ) -> Result<Tensor> {
        let array = TypedArrayInfo::read(env.raw(), data.raw())?;
        let kind = match dtype.as_deref() {
            None => array.default_kind()?,
            Some(name) => {
                let kind = parse_dtype(name).ok_or_else(|| {
                    TorchError::Invalid(format!(
                        "dtype: expected one of uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, bool; got {name:?}"
                    ))
                })?;
                if kind.elt_size_in_bytes() != array.kind.element_size() {
                    return Err(TorchError::Invalid(format!(
                        "dtype: {name} has {}-byte elements but the data is a {} ({}-byte elements)",
                        kind.elt_size_in_bytes(),
                        array.kind.name(),
                        array.kind.element_size()
                    ))
                    .into());
                }
                kind
            }
        };
        check_shape(&shape, array.length)?;
        // SAFETY: napi_get_typedarray_info's pointer covers `length` elements of the array, which
        // stays alive (and unmoved) for the duration of this synchronous call.
        let bytes = if array.length == 0 {
            &[][..]
        } else {
            unsafe {
                std::slice::from_raw_parts(
                    array.data.cast::<u8>(),
                    array.length * array.kind.element_size(),
                )
            }
        };
        let inner = tch::Tensor::f_from_data_size(bytes, &shape, kind).map_err(TorchError::from)?;
        Ok(Tensor { inner })
    }

    #[napi(getter, catch_unwind)]
    pub fn shape(&self) -> Vec<i64> {
        self.inner.size()
    }

    /// torch's name of the element type: float32, int64, bool, ...
    #[napi(getter, catch_unwind)]
    pub fn dtype(&self) -> Result<String> {
        Ok(dtype_name(self.inner.f_kind().map_err(TorchError::from)?).to_owned())
    }

    /// `cpu` or `cuda:N`.
    #[napi(getter, catch_unwind)]
    pub fn device(&self) -> String {
        device_name(self.inner.device())
    }

    /// A copy on `device` (`cpu`, `cuda`, `cuda:N`); the same tensor if it is there already.
    #[napi(catch_unwind)]
    pub fn to(&self, device: String) -> Result<Tensor> {
        let device = parse_device(&device).map_err(TorchError::Invalid)?;
        let inner = self.inner.f_to_device(device).map_err(TorchError::from)?;
        Ok(Tensor { inner })
    }

    /// The elements, copied into a new typed array of the tensor's dtype (from the GPU first if
    /// needed). float16/bfloat16 come back widened to a Float32Array, bool as a Uint8Array.
    #[napi(
        catch_unwind,
        ts_return_type = "Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array"
    )]
    pub fn to_typed_array(&self, env: Env) -> Result<JsTypedArray> {
        let tensor = guarded(|| host_copy(&self.inner))?;
        let array_kind = typed_array_for(tensor.f_kind().map_err(TorchError::from)?)?;
        let element_size = array_kind.element_size();
        let numel = tensor.numel();
        let byte_len = numel * element_size;
        let mut buffer = ptr::null_mut();
        let mut data = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_arraybuffer(env.raw(), byte_len, &mut data, &mut buffer)
        })?;
        if byte_len > 0 {
            // SAFETY: the new ArrayBuffer has exactly `byte_len` writable bytes.
            let dst = unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), byte_len) };
            tensor
                .f_copy_data_u8(dst, numel)
                .map_err(TorchError::from)?;
        }
        // SAFETY: `env` is this call's and `buffer` the ArrayBuffer made above.
        unsafe { JsTypedArray::new(env.raw(), array_kind, numel, buffer, 0) }
    }

    #[napi(js_name = "toString", catch_unwind)]
    pub fn describe(&self) -> String {
        let kind = self.inner.f_kind().map(dtype_name).unwrap_or("undefined");
        format!(
            "Tensor({:?}, {}, {})",
            self.inner.size(),
            kind,
            device_name(self.inner.device())
        )
    }
}

/// A contiguous CPU tensor holding the values, with half floats widened to float32.
fn host_copy(tensor: &tch::Tensor) -> TorchResult<tch::Tensor> {
    let mut host = tensor.f_to_device(Device::Cpu)?;
    if matches!(host.f_kind()?, Kind::Half | Kind::BFloat16) {
        host = host.f_to_kind(Kind::Float)?;
    }
    Ok(host.f_contiguous()?)
}

fn typed_array_for(kind: Kind) -> TorchResult<TypedArrayKind> {
    Ok(match kind {
        Kind::Uint8 | Kind::Bool => TypedArrayKind::Uint8,
        Kind::Int8 => TypedArrayKind::Int8,
        Kind::Int16 => TypedArrayKind::Int16,
        Kind::Int => TypedArrayKind::Int32,
        Kind::Int64 => TypedArrayKind::BigInt64,
        Kind::Float => TypedArrayKind::Float32,
        Kind::Double => TypedArrayKind::Float64,
        other => {
            return Err(TorchError::Invalid(format!(
                "toTypedArray: a {} tensor has no typed array; convert it first",
                dtype_name(other)
            )))
        }
    })
}

fn check_shape(shape: &[i64], length: usize) -> TorchResult<()> {
    if let Some(bad) = shape.iter().find(|&&d| d < 0) {
        return Err(TorchError::Invalid(format!(
            "shape: dimensions must be >= 0, got {bad} in {shape:?}"
        )));
    }
    let elements = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .ok_or_else(|| TorchError::Invalid(format!("shape: {shape:?} is too large")))?;
    if elements != length {
        return Err(TorchError::Invalid(format!(
            "shape: {shape:?} holds {elements} elements but the data has {length}"
        )));
    }
    Ok(())
}

struct TypedArrayInfo {
    kind: TypedArrayKind,
    length: usize,
    data: *mut std::ffi::c_void,
}

impl TypedArrayInfo {
    fn read(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut is_typed_array = false;
        check_status!(unsafe { sys::napi_is_typedarray(env, value, &mut is_typed_array) })?;
        if !is_typed_array {
            return Err(not_a_typed_array());
        }
        let mut array_type = 0;
        let mut length = 0;
        let mut data = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_get_typedarray_info(
                env,
                value,
                &mut array_type,
                &mut length,
                &mut data,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        // A typed-array type newer than this N-API names (Float16Array) is refused like a
        // non-array, rather than read with a guessed element size.
        let kind = kind_of_napi_type(array_type).ok_or_else(not_a_typed_array)?;
        Ok(Self { kind, length, data })
    }

    fn default_kind(&self) -> Result<Kind> {
        Ok(match self.kind {
            TypedArrayKind::Int8 => Kind::Int8,
            TypedArrayKind::Uint8 | TypedArrayKind::Uint8Clamped => Kind::Uint8,
            TypedArrayKind::Int16 => Kind::Int16,
            TypedArrayKind::Int32 => Kind::Int,
            TypedArrayKind::Float32 => Kind::Float,
            TypedArrayKind::Float64 => Kind::Double,
            TypedArrayKind::BigInt64 => Kind::Int64,
            TypedArrayKind::Uint16 | TypedArrayKind::Uint32 | TypedArrayKind::BigUint64 => {
                return Err(TorchError::Invalid(format!(
                    "data: libtorch has no unsigned {}-bit type for a {}; pass dtype (e.g. float16 for a Uint16Array of half floats)",
                    self.kind.element_size() * 8,
                    self.kind.name()
                ))
                .into())
            }
        })
    }
}

fn not_a_typed_array() -> Error {
    TorchError::Invalid("data: expected a typed array (Float32Array, BigInt64Array, ...)".into())
        .into()
}
