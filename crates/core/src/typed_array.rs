//! JavaScript's typed-array types as plain Rust: their element sizes and names, and which one
//! holds a safetensors dtype. Both addons hand tensors' bytes to JavaScript as typed arrays; the
//! N-API side of the same types is in `cog-node-napi-shared`.

use crate::safetensors::Dtype;

/// One of JavaScript's typed-array types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedArrayKind {
    Int8,
    Uint8,
    Uint8Clamped,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Float32,
    Float64,
    BigInt64,
    BigUint64,
}

impl TypedArrayKind {
    pub const ALL: [TypedArrayKind; 11] = [
        Self::Int8,
        Self::Uint8,
        Self::Uint8Clamped,
        Self::Int16,
        Self::Uint16,
        Self::Int32,
        Self::Uint32,
        Self::Float32,
        Self::Float64,
        Self::BigInt64,
        Self::BigUint64,
    ];

    /// Bytes per element.
    pub fn element_size(self) -> usize {
        match self {
            Self::Int8 | Self::Uint8 | Self::Uint8Clamped => 1,
            Self::Int16 | Self::Uint16 => 2,
            Self::Int32 | Self::Uint32 | Self::Float32 => 4,
            Self::Float64 | Self::BigInt64 | Self::BigUint64 => 8,
        }
    }

    /// The JavaScript constructor's name: `Float32Array`, `BigInt64Array`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Int8 => "Int8Array",
            Self::Uint8 => "Uint8Array",
            Self::Uint8Clamped => "Uint8ClampedArray",
            Self::Int16 => "Int16Array",
            Self::Uint16 => "Uint16Array",
            Self::Int32 => "Int32Array",
            Self::Uint32 => "Uint32Array",
            Self::Float32 => "Float32Array",
            Self::Float64 => "Float64Array",
            Self::BigInt64 => "BigInt64Array",
            Self::BigUint64 => "BigUint64Array",
        }
    }

    /// The typed array that views a tensor of `dtype`: F16/BF16 as raw Uint16Array bits, C64 as
    /// interleaved Float32Array, and BOOL, U8, the 8-bit floats and sub-byte dtypes as raw bytes.
    pub fn of_safetensors(dtype: Dtype) -> Self {
        match dtype {
            Dtype::I8 => Self::Int8,
            Dtype::I16 => Self::Int16,
            Dtype::U16 | Dtype::F16 | Dtype::BF16 => Self::Uint16,
            Dtype::I32 => Self::Int32,
            Dtype::U32 => Self::Uint32,
            Dtype::F32 | Dtype::C64 => Self::Float32,
            Dtype::F64 => Self::Float64,
            Dtype::I64 => Self::BigInt64,
            Dtype::U64 => Self::BigUint64,
            _ => Self::Uint8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_constructors_and_sizes_their_bytes_per_element() {
        let sizes: Vec<_> = TypedArrayKind::ALL
            .iter()
            .map(|kind| (kind.name(), kind.element_size()))
            .collect();
        assert_eq!(
            sizes,
            [
                ("Int8Array", 1),
                ("Uint8Array", 1),
                ("Uint8ClampedArray", 1),
                ("Int16Array", 2),
                ("Uint16Array", 2),
                ("Int32Array", 4),
                ("Uint32Array", 4),
                ("Float32Array", 4),
                ("Float64Array", 8),
                ("BigInt64Array", 8),
                ("BigUint64Array", 8),
            ]
        );
    }

    #[test]
    fn a_whole_byte_dtype_is_viewed_with_elements_that_divide_its_own() {
        for dtype in [
            Dtype::BOOL,
            Dtype::U8,
            Dtype::I8,
            Dtype::F8_E5M2,
            Dtype::F8_E4M3,
            Dtype::I16,
            Dtype::U16,
            Dtype::F16,
            Dtype::BF16,
            Dtype::I32,
            Dtype::U32,
            Dtype::F32,
            Dtype::F64,
            Dtype::I64,
            Dtype::U64,
            Dtype::C64,
        ] {
            let bytes = dtype.bitsize() / 8;
            let size = TypedArrayKind::of_safetensors(dtype).element_size();
            assert_eq!(bytes % size, 0, "{dtype}");
        }
        assert_eq!(
            TypedArrayKind::of_safetensors(Dtype::BF16),
            TypedArrayKind::Uint16
        );
        assert_eq!(
            TypedArrayKind::of_safetensors(Dtype::C64),
            TypedArrayKind::Float32
        );
        assert_eq!(
            TypedArrayKind::of_safetensors(Dtype::F4),
            TypedArrayKind::Uint8
        );
    }
}
