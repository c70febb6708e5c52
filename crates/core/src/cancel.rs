//! A cancellation token: one per prediction. Cancelling is a single atomic store, so it works
//! from any thread, and checking it is a single atomic load, so a hot loop can afford to poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The error Rust work returns when it stops because its prediction was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("prediction was canceled")]
pub struct Canceled;

type Callback = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Inner {
    canceled: AtomicBool,
    // Guards the callbacks and lets waiters sleep until cancellation instead of polling.
    waiters: Mutex<Vec<Callback>>,
    wake: Condvar,
}

/// Cheap to clone: every clone observes the same cancellation.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("canceled", &self.is_canceled())
            .finish()
    }
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation. Returns true for the call that actually cancelled, so callers
    /// can do once-only work (such as emitting one event) without a lock of their own.
    pub fn cancel(&self) -> bool {
        let mut waiters = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.inner.canceled.swap(true, Ordering::SeqCst) {
            return false;
        }
        let callbacks = std::mem::take(&mut *waiters);
        drop(waiters);
        self.inner.wake.notify_all();
        for callback in callbacks {
            callback();
        }
        true
    }

    pub fn is_canceled(&self) -> bool {
        self.inner.canceled.load(Ordering::SeqCst)
    }

    /// How many clones of this token are alive (tests of code that hands clones out).
    #[cfg(test)]
    pub(crate) fn clones(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The check Rust work calls between steps: `token.check()?`.
    pub fn check(&self) -> Result<(), Canceled> {
        if self.is_canceled() {
            Err(Canceled)
        } else {
            Ok(())
        }
    }

    /// Runs `callback` once when the token is cancelled (at once if it already is).
    pub fn on_cancel(&self, callback: impl FnOnce() + Send + 'static) {
        let mut waiters = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_canceled() {
            drop(waiters);
            callback();
        } else {
            waiters.push(Box::new(callback));
        }
    }

    /// Sleeps for `duration` unless cancelled first; returns `Err(Canceled)` in that case.
    pub fn sleep(&self, duration: Duration) -> Result<(), Canceled> {
        let deadline = Instant::now() + duration;
        let mut guard = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if self.is_canceled() {
                return Err(Canceled);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            guard = self
                .inner
                .wake
                .wait_timeout(guard, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    #[test]
    fn starts_uncanceled_and_cancels_once() {
        let token = CancelToken::new();
        assert!(!token.is_canceled());
        assert_eq!(token.check(), Ok(()));
        assert!(token.cancel());
        assert!(!token.cancel(), "second cancel reports no change");
        assert!(token.is_canceled());
        assert_eq!(token.check(), Err(Canceled));
    }

    #[test]
    fn clones_share_cancellation_across_threads() {
        let token = CancelToken::new();
        let seen_by_worker = token.clone();
        let worker = thread::spawn(move || {
            let mut steps = 0u64;
            while seen_by_worker.check().is_ok() {
                steps += 1;
                std::hint::spin_loop();
            }
            steps
        });
        thread::sleep(Duration::from_millis(20));
        token.cancel();
        let steps = worker.join().expect("worker thread");
        assert!(steps > 0);
    }

    #[test]
    fn callbacks_run_once_on_cancel_and_immediately_after() {
        let token = CancelToken::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        token.on_cancel(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        token.cancel();
        token.cancel();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let c = calls.clone();
        token.on_cancel(move || {
            c.fetch_add(10, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 11);
    }

    #[test]
    fn sleep_wakes_early_on_cancel() {
        let token = CancelToken::new();
        let sleeper = token.clone();
        let started = Instant::now();
        let handle = thread::spawn(move || sleeper.sleep(Duration::from_secs(30)));
        thread::sleep(Duration::from_millis(30));
        token.cancel();
        assert_eq!(handle.join().expect("sleeper"), Err(Canceled));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn sleep_completes_when_not_canceled() {
        let token = CancelToken::new();
        assert_eq!(token.sleep(Duration::from_millis(5)), Ok(()));
    }
}
