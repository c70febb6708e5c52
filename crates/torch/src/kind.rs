//! Element types: torch's names for them in JS (`float32`, `int64`, ...), and which safetensors
//! dtypes libtorch can hold.

use cog_node_core::safetensors::Dtype;
use tch::Kind;

pub fn dtype_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Uint8 => "uint8",
        Kind::Int8 => "int8",
        Kind::Int16 => "int16",
        Kind::Int => "int32",
        Kind::Int64 => "int64",
        Kind::Half => "float16",
        Kind::Float => "float32",
        Kind::Double => "float64",
        Kind::ComplexHalf => "complex32",
        Kind::ComplexFloat => "complex64",
        Kind::ComplexDouble => "complex128",
        Kind::Bool => "bool",
        Kind::QInt8 => "qint8",
        Kind::QUInt8 => "quint8",
        Kind::QInt32 => "qint32",
        Kind::BFloat16 => "bfloat16",
        Kind::Float8e5m2 => "float8_e5m2",
        Kind::Float8e4m3fn => "float8_e4m3fn",
        Kind::Float8e5m2fnuz => "float8_e5m2fnuz",
        Kind::Float8e4m3fnuz => "float8_e4m3fnuz",
    }
}

/// The kinds a typed array can be read as, by torch name.
pub fn parse_dtype(name: &str) -> Option<Kind> {
    Some(match name {
        "uint8" => Kind::Uint8,
        "int8" => Kind::Int8,
        "int16" => Kind::Int16,
        "int32" => Kind::Int,
        "int64" => Kind::Int64,
        "float16" => Kind::Half,
        "bfloat16" => Kind::BFloat16,
        "float32" => Kind::Float,
        "float64" => Kind::Double,
        "bool" => Kind::Bool,
        _ => return None,
    })
}

/// The libtorch kind of a safetensors dtype; `None` where libtorch (through tch) has none
/// (unsigned 16/32/64-bit, sub-byte floats, F8_E8M0).
pub fn kind_of_safetensors(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::BOOL => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::C64 => Kind::ComplexFloat,
        Dtype::F8_E5M2 => Kind::Float8e5m2,
        Dtype::F8_E4M3 => Kind::Float8e4m3fn,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in [
            Kind::Uint8,
            Kind::Int64,
            Kind::Half,
            Kind::BFloat16,
            Kind::Float,
            Kind::Bool,
        ] {
            assert_eq!(parse_dtype(dtype_name(kind)), Some(kind));
        }
        assert_eq!(parse_dtype("float"), None);
    }

    #[test]
    fn maps_safetensors_dtypes_with_matching_element_sizes() {
        for dtype in [
            Dtype::BOOL,
            Dtype::U8,
            Dtype::I16,
            Dtype::F16,
            Dtype::BF16,
            Dtype::F32,
            Dtype::F64,
            Dtype::I64,
        ] {
            let kind = kind_of_safetensors(dtype).expect("supported");
            assert_eq!(kind.elt_size_in_bytes() * 8, dtype.bitsize(), "{dtype}");
        }
        assert_eq!(kind_of_safetensors(Dtype::U16), None);
        assert_eq!(kind_of_safetensors(Dtype::F4), None);
    }
}
