//! Giving the C allocator's free memory back to the system once a server is ready.
//!
//! Loading a predictor mallocs and frees a lot (V8's parser and compiler zones, in each thread's
//! own glibc arena); glibc keeps the freed pages, so a just-ready server's RSS holds ~5.5 MiB it
//! no longer uses (benches/startup: 84 → 78.6 MiB with the worker thread after `malloc_trim(0)`).

use napi_derive::napi;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn malloc_trim(pad: usize) -> std::os::raw::c_int;
}

/// Returns the C allocator's free memory to the system (glibc's `malloc_trim(0)`, every arena);
/// true if some was released. Elsewhere (musl, macOS, Windows) it does nothing and returns false.
#[napi]
pub fn trim_native_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes no pointers and may be called from any thread at any time.
        unsafe { malloc_trim(0) != 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
