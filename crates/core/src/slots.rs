//! Concurrency slots: at most `capacity` predictions in flight. Acquiring never waits, because
//! Cog answers 409 at capacity instead of queueing.
//!
//! Waiting for a slot is the admission line's business ([`crate::queue::Admission`]): once a
//! line is attached to these slots, a dropped permit does not simply free its slot but goes
//! through the line, which hands the slot straight to the first waiter (the slot never becomes
//! free in between, so nobody can take it out of turn) or frees it when nobody waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::queue::Line;

#[derive(Debug)]
pub(crate) struct Inner {
    capacity: usize,
    in_use: AtomicUsize,
    /// The admission line waiting on these slots, if one is alive.
    line: Mutex<Weak<Line>>,
}

impl Inner {
    fn line_slot(&self) -> MutexGuard<'_, Weak<Line>> {
        // Only a `Weak` is stored there: a panic elsewhere cannot leave it half-written.
        self.line
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Frees one held slot outright (the line calls this when nobody waits).
    pub(crate) fn free_one(&self) {
        self.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

/// Holding a permit holds a slot; dropping it frees the slot.
#[derive(Debug)]
pub struct SlotPermit {
    inner: Arc<Inner>,
}

impl Drop for SlotPermit {
    fn drop(&mut self) {
        let line = self.inner.line_slot().upgrade();
        match line {
            Some(line) => line.release(),
            None => self.inner.free_one(),
        }
    }
}

impl SlotPermit {
    /// A permit for a slot that is already counted in use: one the line handed over from a
    /// released permit to a waiter.
    pub(crate) fn handed_over(inner: Arc<Inner>) -> Self {
        Self { inner }
    }
}

impl Slots {
    /// A capacity of 0 is treated as 1, as Cog treats invalid concurrency values.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                in_use: AtomicUsize::new(0),
                line: Mutex::new(Weak::new()),
            }),
        }
    }

    pub fn try_acquire(&self) -> Option<SlotPermit> {
        self.inner
            .in_use
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < self.inner.capacity).then_some(used + 1)
            })
            .ok()
            .map(|_| SlotPermit {
                inner: self.inner.clone(),
            })
    }

    /// The line attached to these slots, or the one `create` makes and attaches when none is
    /// alive, so every admission over the same slots shares one line.
    pub(crate) fn line_or_attach(&self, create: impl FnOnce(Slots) -> Arc<Line>) -> Arc<Line> {
        let mut attached = self.inner.line_slot();
        if let Some(line) = attached.upgrade() {
            return line;
        }
        let line = create(self.clone());
        *attached = Arc::downgrade(&line);
        line
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    pub fn in_use(&self) -> usize {
        self.inner.in_use.load(Ordering::SeqCst)
    }

    pub fn is_full(&self) -> bool {
        self.in_use() >= self.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn acquire_up_to_capacity_then_refuse() {
        let slots = Slots::new(2);
        let a = slots.try_acquire().expect("first");
        let _b = slots.try_acquire().expect("second");
        assert!(slots.is_full());
        assert!(slots.try_acquire().is_none());
        drop(a);
        assert_eq!(slots.in_use(), 1);
        assert!(slots.try_acquire().is_some());
    }

    #[test]
    fn zero_capacity_means_one() {
        let slots = Slots::new(0);
        assert_eq!(slots.capacity(), 1);
        let _held = slots.try_acquire().expect("one slot");
        assert!(slots.try_acquire().is_none());
    }

    #[test]
    fn never_oversubscribed_under_contention() {
        let slots = Slots::new(3);
        let granted = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..2000 {
                        if let Some(permit) = slots.try_acquire() {
                            granted.fetch_add(1, Ordering::SeqCst);
                            peak.fetch_max(slots.in_use(), Ordering::SeqCst);
                            drop(permit);
                        }
                    }
                });
            }
        });
        assert!(granted.load(Ordering::SeqCst) > 0);
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(slots.in_use(), 0);
    }
}
