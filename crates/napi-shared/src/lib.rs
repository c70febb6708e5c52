//! N-API conversions shared by cog-node's two addons, `cog-node` (crates/node) and
//! `cog-node/torch` (crates/torch): how a typed array and an object of named values cross into
//! JavaScript, written once. A plain library that each addon links into its own shared object;
//! only N-API types live here, and the plain facts they rest on (typed-array element sizes and
//! names) are in `cog_node_core::typed_array`.

use std::ptr;

use cog_node_core::typed_array::TypedArrayKind;
use napi::bindgen_prelude::{check_status, Result, ToNapiValue, TypeName, ValueType};
use napi::sys;

/// N-API's code for a typed-array type.
pub fn napi_type(kind: TypedArrayKind) -> sys::napi_typedarray_type {
    use sys::TypedarrayType as T;
    match kind {
        TypedArrayKind::Int8 => T::int8_array,
        TypedArrayKind::Uint8 => T::uint8_array,
        TypedArrayKind::Uint8Clamped => T::uint8_clamped_array,
        TypedArrayKind::Int16 => T::int16_array,
        TypedArrayKind::Uint16 => T::uint16_array,
        TypedArrayKind::Int32 => T::int32_array,
        TypedArrayKind::Uint32 => T::uint32_array,
        TypedArrayKind::Float32 => T::float32_array,
        TypedArrayKind::Float64 => T::float64_array,
        TypedArrayKind::BigInt64 => T::bigint64_array,
        TypedArrayKind::BigUint64 => T::biguint64_array,
    }
}

/// The typed-array type of an N-API code; `None` for a code this N-API version does not name.
pub fn kind_of_napi_type(code: sys::napi_typedarray_type) -> Option<TypedArrayKind> {
    TypedArrayKind::ALL
        .into_iter()
        .find(|&kind| napi_type(kind) == code)
}

/// A typed array made in this call, returned to JavaScript as it is.
pub struct JsTypedArray(sys::napi_value);

impl JsTypedArray {
    /// A new typed array of `length` elements of `kind` over `buffer` (an ArrayBuffer) from byte
    /// `offset`, which must be a multiple of the element size.
    ///
    /// # Safety
    /// `env` is the environment of the current call and `buffer` a value made in it.
    pub unsafe fn new(
        env: sys::napi_env,
        kind: TypedArrayKind,
        length: usize,
        buffer: sys::napi_value,
        offset: usize,
    ) -> Result<Self> {
        let mut array = ptr::null_mut();
        // SAFETY: as the caller promises; N-API checks that `buffer` is an ArrayBuffer.
        check_status!(unsafe {
            sys::napi_create_typedarray(env, napi_type(kind), length, buffer, offset, &mut array)
        })?;
        Ok(Self(array))
    }
}

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

/// Named values as a plain object whose keys keep the pairs' order (a safetensors file's order of
/// tensors), which a `HashMap` would lose.
pub struct OrderedObject<V>(pub Vec<(String, V)>);

impl<V: ToNapiValue> ToNapiValue for OrderedObject<V> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut object = ptr::null_mut();
        check_status!(unsafe { sys::napi_create_object(env, &mut object) })?;
        for (name, value) in val.0 {
            let key = unsafe { String::to_napi_value(env, name) }?;
            let value = unsafe { V::to_napi_value(env, value) }?;
            check_status!(unsafe { sys::napi_set_property(env, object, key, value) })?;
        }
        Ok(object)
    }
}

impl<V> TypeName for OrderedObject<V> {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_napi_code_and_back() {
        for kind in TypedArrayKind::ALL {
            assert_eq!(kind_of_napi_type(napi_type(kind)), Some(kind), "{kind:?}");
        }
        assert_eq!(kind_of_napi_type(-1), None);
        assert_eq!(kind_of_napi_type(11), None);
    }
}
