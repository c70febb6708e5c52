//! `Tensor`: a libtorch tensor held by JavaScript. Data crosses the boundary by copying exactly
//! once each way (`fromTypedArray`, `toTypedArray`): a JS typed array may be moved or mutated by
//! the VM, so libtorch never keeps a pointer into one.

use std::ptr;

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
                if kind.elt_size_in_bytes() != array.element_size {
                    return Err(TorchError::Invalid(format!(
                        "dtype: {name} has {}-byte elements but the data is a {} ({}-byte elements)",
                        kind.elt_size_in_bytes(),
                        array.type_name(),
                        array.element_size
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
                    array.length * array.element_size,
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
        let (array_type, element_size) =
            typed_array_for(tensor.f_kind().map_err(TorchError::from)?)?;
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
        let mut array = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_typedarray(env.raw(), array_type, numel, buffer, 0, &mut array)
        })?;
        Ok(JsTypedArray(array))
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

fn typed_array_for(kind: Kind) -> TorchResult<(sys::napi_typedarray_type, usize)> {
    use sys::TypedarrayType as T;
    Ok(match kind {
        Kind::Uint8 | Kind::Bool => (T::uint8_array, 1),
        Kind::Int8 => (T::int8_array, 1),
        Kind::Int16 => (T::int16_array, 2),
        Kind::Int => (T::int32_array, 4),
        Kind::Int64 => (T::bigint64_array, 8),
        Kind::Float => (T::float32_array, 4),
        Kind::Double => (T::float64_array, 8),
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

/// A typed array made in this call.
pub struct JsTypedArray(pub(crate) sys::napi_value);

impl ToNapiValue for JsTypedArray {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl TypeName for JsTypedArray {
    fn type_name() -> &'static str {
        "TypedArray"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

struct TypedArrayInfo {
    array_type: sys::napi_typedarray_type,
    length: usize,
    element_size: usize,
    data: *mut std::ffi::c_void,
}

impl TypedArrayInfo {
    fn read(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut is_typed_array = false;
        check_status!(unsafe { sys::napi_is_typedarray(env, value, &mut is_typed_array) })?;
        if !is_typed_array {
            return Err(TorchError::Invalid(
                "data: expected a typed array (Float32Array, BigInt64Array, ...)".into(),
            )
            .into());
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
        let element_size = match array_type {
            sys::TypedarrayType::int8_array
            | sys::TypedarrayType::uint8_array
            | sys::TypedarrayType::uint8_clamped_array => 1,
            sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array => 2,
            sys::TypedarrayType::int32_array
            | sys::TypedarrayType::uint32_array
            | sys::TypedarrayType::float32_array => 4,
            _ => 8,
        };
        Ok(Self {
            array_type,
            length,
            element_size,
            data,
        })
    }

    fn type_name(&self) -> &'static str {
        use sys::TypedarrayType as T;
        match self.array_type {
            T::int8_array => "Int8Array",
            T::uint8_array => "Uint8Array",
            T::uint8_clamped_array => "Uint8ClampedArray",
            T::int16_array => "Int16Array",
            T::uint16_array => "Uint16Array",
            T::int32_array => "Int32Array",
            T::uint32_array => "Uint32Array",
            T::float32_array => "Float32Array",
            T::float64_array => "Float64Array",
            T::bigint64_array => "BigInt64Array",
            T::biguint64_array => "BigUint64Array",
            _ => "typed array",
        }
    }

    fn default_kind(&self) -> Result<Kind> {
        use sys::TypedarrayType as T;
        Ok(match self.array_type {
            T::int8_array => Kind::Int8,
            T::uint8_array | T::uint8_clamped_array => Kind::Uint8,
            T::int16_array => Kind::Int16,
            T::int32_array => Kind::Int,
            T::float32_array => Kind::Float,
            T::float64_array => Kind::Double,
            T::bigint64_array => Kind::Int64,
            _ => {
                return Err(TorchError::Invalid(format!(
                    "data: libtorch has no unsigned {}-bit type for a {}; pass dtype (e.g. float16 for a Uint16Array of half floats)",
                    self.element_size * 8,
                    self.type_name()
                ))
                .into())
            }
        })
    }
}
