//! Links libtorch so that CUDA works: torch-sys names `torch_cuda`, but the default
//! `--as-needed` drops it (nothing calls into it directly), which gives a CPU-only addon.
//! Linking `torch` and `torch_cuda` again with `--no-as-needed` keeps them as DT_NEEDED entries
//! (`readelf -d` shows them). No rpath: the JS loader preloads libtorch from where it finds it.

use std::path::PathBuf;

fn main() {
    napi_build::setup();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib_dir = PathBuf::from(lib_dir);
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-ltorch_cuda");
    }
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
}
