//! Values passed to and returned from TorchScript methods.
//!
//! In: a `Tensor`; a number (an integer becomes `int`, otherwise `float`); a bigint (`int`);
//! a boolean; a string; null (`None`); an array (all tensors: `List[Tensor]`, all integers:
//! `List[int]`, all numbers: `List[float]`, all booleans: `List[bool]`, all strings:
//! `List[str]`, otherwise a tuple); a plain object (`Dict[str, ...]`).
//! Out: tensors as `Tensor`, tuples and lists as arrays, dicts as objects, scalars as numbers,
//! booleans and strings, `None` as null.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use tch::IValue;

use crate::device::device_name;
use crate::error::{TorchError, TorchResult};
use crate::tensor::Tensor;

pub enum Input {
    Tensor(tch::Tensor),
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
    None,
    List(Vec<Input>),
    Dict(Vec<(String, Input)>),
}

impl Input {
    pub fn into_ivalue(self) -> IValue {
        match self {
            Input::Tensor(t) => IValue::Tensor(t),
            Input::Int(i) => IValue::Int(i),
            Input::Double(d) => IValue::Double(d),
            Input::Bool(b) => IValue::Bool(b),
            Input::Str(s) => IValue::String(s),
            Input::None => IValue::None,
            Input::Dict(entries) => IValue::GenericDict(
                entries
                    .into_iter()
                    .map(|(k, v)| (IValue::String(k), v.into_ivalue()))
                    .collect(),
            ),
            Input::List(items) => list(items),
        }
    }
}

/// An array as TorchScript's typed list when every item has one type, else a tuple.
fn list(items: Vec<Input>) -> IValue {
    let all = |f: fn(&Input) -> bool| !items.is_empty() && items.iter().all(f);
    fn each<T>(items: Vec<Input>, take: fn(Input) -> Option<T>) -> Vec<T> {
        items.into_iter().filter_map(take).collect()
    }
    if all(|i| matches!(i, Input::Tensor(_))) {
        IValue::TensorList(each(items, |i| match i {
            Input::Tensor(t) => Some(t),
            _ => None,
        }))
    } else if all(|i| matches!(i, Input::Int(_))) {
        IValue::IntList(each(items, |i| match i {
            Input::Int(v) => Some(v),
            _ => None,
        }))
    } else if all(|i| matches!(i, Input::Int(_) | Input::Double(_))) {
        IValue::DoubleList(each(items, |i| match i {
            Input::Int(v) => Some(v as f64),
            Input::Double(v) => Some(v),
            _ => None,
        }))
    } else if all(|i| matches!(i, Input::Bool(_))) {
        IValue::BoolList(each(items, |i| match i {
            Input::Bool(v) => Some(v),
            _ => None,
        }))
    } else if all(|i| matches!(i, Input::Str(_))) {
        IValue::StringList(each(items, |i| match i {
            Input::Str(v) => Some(v),
            _ => None,
        }))
    } else {
        IValue::Tuple(items.into_iter().map(Input::into_ivalue).collect())
    }
}

fn invalid(message: String) -> Error {
    TorchError::Invalid(message).into()
}

impl FromNapiValue for Input {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut value_type = 0;
        check_status!(unsafe { sys::napi_typeof(env, value, &mut value_type) })?;
        match value_type {
            sys::ValueType::napi_null | sys::ValueType::napi_undefined => Ok(Input::None),
            sys::ValueType::napi_boolean => Ok(Input::Bool(unsafe { bool::from_napi_value(env, value) }?)),
            sys::ValueType::napi_string => Ok(Input::Str(unsafe { String::from_napi_value(env, value) }?)),
            sys::ValueType::napi_number => {
                let number = unsafe { f64::from_napi_value(env, value) }?;
                let is_int = number.fract() == 0.0 && number.abs() < 9_007_199_254_740_992.0;
                Ok(if is_int { Input::Int(number as i64) } else { Input::Double(number) })
            }
            sys::ValueType::napi_bigint => {
                let big = unsafe { BigInt::from_napi_value(env, value) }?;
                let (int, lossless) = big.get_i64();
                if !lossless {
                    return Err(invalid(format!("inputs: bigint {big:?} does not fit in int64")));
                }
                Ok(Input::Int(int))
            }
            sys::ValueType::napi_object => unsafe { object_input(env, value) },
            _ => Err(invalid("inputs: expected a Tensor, number, bigint, boolean, string, null, array or plain object".into())),
        }
    }
}

unsafe fn object_input(env: sys::napi_env, value: sys::napi_value) -> Result<Input> {
    let env_ref = Env::from_raw(env);
    let unknown = unsafe { Unknown::from_napi_value(env, value) }?;
    if Tensor::instance_of(&env_ref, &unknown)? {
        let tensor = unsafe { ClassInstance::<Tensor>::from_napi_value(env, value) }?;
        return Ok(Input::Tensor(tensor.inner.shallow_clone()));
    }
    let mut is_array = false;
    check_status!(unsafe { sys::napi_is_array(env, value, &mut is_array) })?;
    if is_array {
        let items = unsafe { Vec::<Input>::from_napi_value(env, value) }?;
        return Ok(Input::List(items));
    }
    let mut is_typed = false;
    check_status!(unsafe { sys::napi_is_typedarray(env, value, &mut is_typed) })?;
    if is_typed {
        return Err(invalid("inputs: a typed array is not a tensor; wrap it with Tensor.fromTypedArray(data, shape)".into()));
    }
    let object = unsafe { Object::from_napi_value(env, value) }?;
    let keys = Object::keys(&object)?;
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let item: Input = object.get_named_property(&key)?;
        entries.push((key, item));
    }
    Ok(Input::Dict(entries))
}

impl TypeName for Input {
    fn type_name() -> &'static str {
        "TorchInput"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Input {}

pub enum Output {
    Tensor(tch::Tensor),
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
    None,
    List(Vec<Output>),
    Dict(Vec<(String, Output)>),
}

impl Output {
    pub fn from_ivalue(value: IValue) -> TorchResult<Self> {
        let list = |items: Vec<IValue>| {
            items
                .into_iter()
                .map(Output::from_ivalue)
                .collect::<TorchResult<Vec<_>>>()
        };
        Ok(match value {
            IValue::None => Output::None,
            IValue::Tensor(t) => Output::Tensor(t),
            IValue::Double(d) => Output::Double(d),
            IValue::Int(i) => Output::Int(i),
            IValue::Bool(b) => Output::Bool(b),
            IValue::String(s) => Output::Str(s),
            IValue::Device(d) => Output::Str(device_name(d)),
            IValue::Tuple(items) | IValue::GenericList(items) => Output::List(list(items)?),
            IValue::IntList(v) => Output::List(v.into_iter().map(Output::Int).collect()),
            IValue::DoubleList(v) => Output::List(v.into_iter().map(Output::Double).collect()),
            IValue::BoolList(v) => Output::List(v.into_iter().map(Output::Bool).collect()),
            IValue::StringList(v) => Output::List(v.into_iter().map(Output::Str).collect()),
            IValue::TensorList(v) => Output::List(v.into_iter().map(Output::Tensor).collect()),
            IValue::GenericDict(entries) => Output::Dict(
                entries
                    .into_iter()
                    .map(|(k, v)| Ok((key_string(k)?, Output::from_ivalue(v)?)))
                    .collect::<TorchResult<Vec<_>>>()?,
            ),
            _ => {
                return Err(TorchError::Invalid(
                    "the method returned a TorchScript object, which has no JavaScript value; return tensors, lists, tuples or dicts".into(),
                ))
            }
        })
    }

    /// The value as a list of method inputs (a tuple spreads), for multi-step loops.
    pub fn into_ivalues(value: IValue) -> Vec<IValue> {
        match value {
            IValue::Tuple(items) => items,
            other => vec![other],
        }
    }
}

fn key_string(key: IValue) -> TorchResult<String> {
    match key {
        IValue::String(s) => Ok(s),
        IValue::Int(i) => Ok(i.to_string()),
        IValue::Double(d) => Ok(d.to_string()),
        IValue::Bool(b) => Ok(b.to_string()),
        _ => Err(TorchError::Invalid(
            "the method returned a dict with tensor keys, which has no JavaScript value".into(),
        )),
    }
}

impl ToNapiValue for Output {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        unsafe {
            match val {
                Output::Tensor(t) => Tensor::to_napi_value(env, Tensor::new(t)),
                Output::Int(i) => f64::to_napi_value(env, i as f64),
                Output::Double(d) => f64::to_napi_value(env, d),
                Output::Bool(b) => bool::to_napi_value(env, b),
                Output::Str(s) => String::to_napi_value(env, s),
                Output::None => Null::to_napi_value(env, Null),
                Output::List(items) => Vec::<Output>::to_napi_value(env, items),
                Output::Dict(entries) => {
                    let mut object = ptr::null_mut();
                    check_status!(sys::napi_create_object(env, &mut object))?;
                    for (key, value) in entries {
                        let key = String::to_napi_value(env, key)?;
                        let value = Output::to_napi_value(env, value)?;
                        check_status!(sys::napi_set_property(env, object, key, value))?;
                    }
                    Ok(object)
                }
            }
        }
    }
}
