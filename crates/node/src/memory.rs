//! Giving memory back to the system once a server is ready and idle: V8's low-memory collection
//! of the calling thread's isolate, and the C allocator's free pages.
//!
//! Loading a predictor leaves each thread's isolate with grown semi-spaces and old-space pages
//! full of loading's garbage; V8's memory reducer gives them back by itself 8-20 s after a
//! thread goes idle, glibc never gives back the arena pages loading freed. benches/startup
//! (echo server, worker thread, 0.5 s after READY): 78.9 MiB, 71.1 MiB 25 s later; with both
//! released at once, 70 MiB at 0.5 s (the semi-spaces of the two isolates are ~7 of the ~8.5 MiB).

use std::ffi::c_void;
use std::sync::OnceLock;

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

type GetCurrentIsolate = unsafe extern "C" fn() -> *mut c_void;
type IsolateCall = unsafe extern "C" fn(*mut c_void);

/// The two V8 API calls this needs, found in the running process.
struct V8Calls {
    /// `v8::Isolate::GetCurrent()`: the calling thread's isolate, or null.
    get_current: GetCurrentIsolate,
    /// `v8::Isolate::LowMemoryNotification()`, a member function: the isolate is its 1st argument.
    low_memory_notification: IsolateCall,
}

/// The Itanium C++ ABI names (Linux, macOS) of the calls, as Node exports V8's API for addons.
const GET_CURRENT: &str = "_ZN2v87Isolate10GetCurrentEv";
const LOW_MEMORY_NOTIFICATION: &str = "_ZN2v87Isolate21LowMemoryNotificationEv";

/// Looked up once per process at run time, not linked: a runtime that exports no V8 API (or
/// Windows, whose names differ) loads the addon as before and only skips the collection.
fn v8_calls() -> Option<&'static V8Calls> {
    static CALLS: OnceLock<Option<V8Calls>> = OnceLock::new();
    CALLS
        .get_or_init(|| {
            let get_current = symbol(GET_CURRENT)?;
            let low_memory_notification = symbol(LOW_MEMORY_NOTIFICATION)?;
            // SAFETY: these exported symbols are the V8 functions their mangled names spell, whose
            // C++ signatures (`static Isolate* ()` and `void (Isolate* this)`) these types match.
            Some(unsafe {
                V8Calls {
                    get_current: std::mem::transmute::<*mut c_void, GetCurrentIsolate>(get_current),
                    low_memory_notification: std::mem::transmute::<*mut c_void, IsolateCall>(
                        low_memory_notification,
                    ),
                }
            })
        })
        .as_ref()
}

/// The address of `name` among the process's exported symbols, if it is there.
#[cfg(unix)]
fn symbol(name: &str) -> Option<*mut c_void> {
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
    }
    #[cfg(target_os = "macos")]
    const RTLD_DEFAULT: *mut c_void = -2isize as *mut c_void;
    #[cfg(not(target_os = "macos"))]
    const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: dlsym reads a NUL-terminated name and returns an address or null.
    let address = unsafe { dlsym(RTLD_DEFAULT, name.as_ptr()) };
    (!address.is_null()).then_some(address)
}

#[cfg(not(unix))]
fn symbol(_name: &str) -> Option<*mut c_void> {
    None
}

/// V8's low-memory collection of the calling thread's isolate (full collections that compact,
/// shrink the young generation and give the freed pages back: what its memory reducer does on its
/// own 8-20 s after the thread goes idle; it blocks the thread while it runs, ~2 ms per MiB of
/// live heap), then the C heap's trim (`trimNativeHeap`). Returns whether V8 was reached (false
/// outside Node's V8, or on a thread without an isolate).
#[napi]
pub fn release_memory() -> bool {
    let reached = match v8_calls() {
        Some(calls) => {
            // SAFETY: GetCurrent only reads the thread's current isolate (null when none).
            let isolate = unsafe { (calls.get_current)() };
            if !isolate.is_null() {
                // SAFETY: called on the isolate's own thread (the one that called us, inside a
                // JS call, so the isolate is entered and locked), as V8 requires.
                unsafe { (calls.low_memory_notification)(isolate) };
            }
            !isolate.is_null()
        }
        None => false,
    };
    trim_native_heap();
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_node_there_is_no_v8_to_reach() {
        // A test binary exports no V8: the lookup finds nothing, and the call only trims.
        assert!(symbol(GET_CURRENT).is_none());
        assert!(v8_calls().is_none());
        assert!(!release_memory());
    }

    #[test]
    fn the_process_own_symbols_are_found() {
        // The lookup itself works: libc's malloc is among the process's exported symbols.
        #[cfg(unix)]
        assert!(symbol("malloc").is_some());
        assert!(symbol("no_such_symbol_in_this_process").is_none());
    }
}
