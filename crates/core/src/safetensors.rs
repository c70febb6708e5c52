//! Safetensors files, read without copying: the file is memory-mapped once, the header is parsed
//! and checked (offsets in bounds, sizes matching shape and dtype, the data covering the file), and
//! every tensor is then a byte range of the mapping. The N-API addon hands those ranges to
//! JavaScript as typed-array views; the torch addon reads them straight into tensors.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{MmapMut, MmapOptions};
use safetensors::{SafeTensorError, SafeTensors};

pub use safetensors::Dtype;

/// Why a safetensors file could not be read; the message names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    #[error("cannot read safetensors file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One tensor of the file: where its bytes are (absolute offsets in the file) and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub range: Range<usize>,
}

impl TensorEntry {
    pub fn byte_len(&self) -> usize {
        self.range.len()
    }

    /// Bytes per element, or `None` for sub-byte dtypes (F4, F6) that have no element view.
    pub fn element_size(&self) -> Option<usize> {
        let bits = self.dtype.bitsize();
        bits.is_multiple_of(8).then_some(bits / 8)
    }
}

/// A private, copy-on-write mapping of the whole file. Writes through a view change only this
/// process's pages, never the file, so JavaScript may write into a view without crashing.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
    _map: MmapMut,
}

// SAFETY: the mapping is plain memory owned by `_map`; `ptr` stays valid until it is dropped.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The start of the mapping. Valid for `len()` bytes for as long as this `Mapping` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An opened, validated safetensors file.
pub struct SafetensorsFile {
    path: PathBuf,
    file: File,
    mapping: Arc<Mapping>,
    tensors: Vec<TensorEntry>,
    metadata: BTreeMap<String, String>,
}

/// The 8-byte little-endian header length that starts every safetensors file.
const HEADER_LEN_BYTES: usize = 8;

impl SafetensorsFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SafetensorsError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| SafetensorsError::Io {
            path: path.clone(),
            source,
        };
        let invalid = |reason: String| SafetensorsError::Invalid {
            path: path.clone(),
            reason,
        };
        let file = File::open(&path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        if file_len < HEADER_LEN_BYTES as u64 {
            return Err(invalid(format!(
                "the file has {file_len} bytes, fewer than the 8-byte header length it must start with"
            )));
        }
        // SAFETY: a private mapping; if another process truncates the file meanwhile, reads of
        // the lost pages fault, as with any mmap-based loader (safetensors, PyTorch).
        let mut map = unsafe { MmapOptions::new().map_copy(&file) }.map_err(io)?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| invalid(describe(&e, &map)))?;
        let data_start = HEADER_LEN_BYTES + header_len;
        let mut tensors: Vec<TensorEntry> = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| TensorEntry {
                name,
                dtype: info.dtype,
                shape: info.shape.clone(),
                range: data_start + info.data_offsets.0..data_start + info.data_offsets.1,
            })
            .collect();
        tensors.sort_by(|a, b| (a.range.start, &a.name).cmp(&(b.range.start, &b.name)));
        let metadata = metadata
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mapping = Mapping {
            ptr: map.as_mut_ptr(),
            len: map.len(),
            _map: map,
        };
        Ok(Self {
            path,
            file,
            mapping: Arc::new(mapping),
            tensors,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensors in file order.
    pub fn tensors(&self) -> &[TensorEntry] {
        &self.tensors
    }

    /// The free-form `__metadata__` of the header.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The mapping, shared: views over it keep it alive for as long as they hold a clone.
    pub fn mapping(&self) -> Arc<Mapping> {
        Arc::clone(&self.mapping)
    }

    /// Reads `dst.len()` bytes at `offset` of the file (any part of a tensor) with `pread`.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), SafetensorsError> {
        if offset
            .checked_add(dst.len())
            .is_none_or(|end| end > self.mapping.len())
        {
            return Err(SafetensorsError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "bytes {offset}..+{} are past the end of the file",
                    dst.len()
                ),
            });
        }
        self.file
            .read_exact_at(dst, offset as u64)
            .map_err(|source| SafetensorsError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Reads a tensor's bytes into `dst` with `pread`: one copy, from the page cache, no page
    /// faults on the mapping. `dst` must be exactly `entry.byte_len()` bytes.
    pub fn read_into(&self, entry: &TensorEntry, dst: &mut [u8]) -> Result<(), SafetensorsError> {
        if dst.len() != entry.byte_len() {
            return Err(SafetensorsError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "tensor `{}` has {} bytes, the destination {}",
                    entry.name,
                    entry.byte_len(),
                    dst.len()
                ),
            });
        }
        self.file
            .read_exact_at(dst, entry.range.start as u64)
            .map_err(|source| SafetensorsError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// The crate's errors, reworded where they would not tell a user what is wrong with the file.
fn describe(error: &SafeTensorError, bytes: &[u8]) -> String {
    let declared = bytes
        .get(..HEADER_LEN_BYTES)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    match error {
        SafeTensorError::InvalidHeaderLength => format!(
            "the header claims {declared} bytes but the file has only {} after the length \
             (truncated, or not a safetensors file)",
            bytes.len() - HEADER_LEN_BYTES
        ),
        SafeTensorError::HeaderTooLarge => format!(
            "the header claims {declared} bytes, more than the 100 MB limit (not a safetensors file?)"
        ),
        SafeTensorError::MetadataIncompleteBuffer => {
            "the tensors' data does not end where the file ends (truncated, or extra bytes)".into()
        }
        SafeTensorError::InvalidHeaderDeserialization(e) => {
            format!("the header is not valid safetensors JSON ({e})")
        }
        SafeTensorError::TensorInvalidInfo => {
            "a tensor's byte range does not match its shape and dtype".into()
        }
        SafeTensorError::InvalidOffset(name) => format!(
            "tensor `{name}` has invalid data offsets (overlapping, out of order or out of bounds)"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_file(bytes: &[u8]) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("t.safetensors");
        let mut file = File::create(&path).expect("create");
        file.write_all(bytes).expect("write");
        (dir, path)
    }

    /// A minimal temporary directory, removed on drop (avoids a dev-dependency for two tests).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "cog-node-st-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).expect("mkdir");
                Self(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn file_bytes(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_tensors_in_file_order_with_metadata() {
        let header = r#"{"__metadata__":{"k":"v"},"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let data: Vec<u8> = [1.5f32.to_le_bytes(), 2.5f32.to_le_bytes()]
            .concat()
            .into_iter()
            .chain([7i32.to_le_bytes(), 9i32.to_le_bytes()].concat())
            .collect();
        let (_dir, path) = write_file(&file_bytes(header, &data));
        let file = SafetensorsFile::open(&path).expect("open");
        let names: Vec<_> = file.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(file.metadata().get("k").map(String::as_str), Some("v"));
        let b = &file.tensors()[1];
        assert_eq!(
            (b.dtype, b.shape.clone(), b.element_size()),
            (Dtype::I32, vec![2], Some(4))
        );
        let mut dst = vec![0u8; b.byte_len()];
        file.read_into(b, &mut dst).expect("read");
        assert_eq!(dst, [7i32.to_le_bytes(), 9i32.to_le_bytes()].concat());
        let mapping = file.mapping();
        // SAFETY: the range was validated against the mapping's length by `open`.
        let mapped = unsafe { std::slice::from_raw_parts(mapping.as_ptr().add(b.range.start), 8) };
        assert_eq!(mapped, dst.as_slice());
    }

    #[test]
    fn truncated_and_malformed_files_are_errors() {
        let header = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let good = file_bytes(header, &[0u8; 16]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 2, 3], "fewer than the 8-byte header length"),
            (good[..good.len() - 4].to_vec(), "truncated"),
            (file_bytes("{not json", &[]), "not valid safetensors JSON"),
            (
                file_bytes(
                    r#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#,
                    &[0],
                ),
                "not valid safetensors JSON",
            ),
            (
                file_bytes(
                    r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#,
                    &[0; 16],
                ),
                "does not match its shape and dtype",
            ),
            (u64::MAX.to_le_bytes().to_vec(), "header claims"),
        ];
        for (bytes, expected) in cases {
            let (_dir, path) = write_file(&bytes);
            let err = SafetensorsFile::open(&path)
                .err()
                .expect("must fail")
                .to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
            assert!(
                err.contains("t.safetensors"),
                "{err:?} should name the file"
            );
        }
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = SafetensorsFile::open("/nonexistent/x.safetensors")
            .err()
            .expect("must fail");
        assert!(err.to_string().contains("/nonexistent/x.safetensors"));
    }
}
