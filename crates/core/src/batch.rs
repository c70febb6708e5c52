//! The batch former: predictions of a batching predictor wait here to be run together.
//!
//! [`BatchFormer`] owns the items that wait for a batch, in arrival order, and decides when a
//! batch is due. It owns no clock and no thread: every method that depends on time takes `now`,
//! and [`BatchFormer::next_deadline`] says when to look again, so its owner (one batching loop,
//! holding it under its one lock) sets one timer and tests need no sleeps.
//!
//! The contract:
//!
//! * A batch is due when `max_size` items wait, or when the oldest waiting item has waited
//!   `max_delay`, whichever comes first. [`BatchFormer::take_ready`] then takes the oldest
//!   `max_size` at most; it takes nothing before.
//! * So a lone item never waits longer than `max_delay` for its batch (when the owner looks again
//!   at `next_deadline`), and an item that arrives later never postpones an older one's deadline.
//! * Batches keep arrival order: items are ordered by their arrival instant (ties in push order),
//!   and each batch is the front of that order.
//! * An item removed (its prediction cancelled, its client gone) before its batch forms is in no
//!   batch. An item is in at most one batch, and a key never names another item.
//!
//! Whether a slot is free to run the batch is not the former's business: an owner with every slot
//! busy simply takes later, and the batch it then takes is as full as what waited allows.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Names one pushed item, to remove it before its batch forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchKey(u64);

#[derive(Debug)]
struct Pending<T> {
    key: BatchKey,
    arrived: Instant,
    item: T,
}

/// Items waiting to be batched. See the module doc for when a batch forms.
#[derive(Debug)]
pub struct BatchFormer<T> {
    max_size: usize,
    max_delay: Duration,
    waiting: VecDeque<Pending<T>>,
    next_key: u64,
}

impl<T> BatchFormer<T> {
    /// Batches of at most `max_size` items (0 is treated as 1), waiting at most `max_delay` from
    /// their oldest item's arrival.
    pub fn new(max_size: usize, max_delay: Duration) -> Self {
        Self {
            max_size: max_size.max(1),
            max_delay,
            waiting: VecDeque::new(),
            next_key: 0,
        }
    }

    /// Adds an item that arrived at `arrived`.
    pub fn push(&mut self, item: T, arrived: Instant) -> BatchKey {
        let key = BatchKey(self.next_key);
        self.next_key += 1;
        // Arrivals come in order almost always; one stamped earlier (on another thread) goes
        // before the later ones, after those that arrived at the same instant or before.
        let index = self
            .waiting
            .iter()
            .rposition(|pending| pending.arrived <= arrived)
            .map_or(0, |index| index + 1);
        self.waiting.insert(index, Pending { key, arrived, item });
        key
    }

    /// Takes the item out before its batch forms; `None` if it is already batched or removed.
    pub fn remove(&mut self, key: BatchKey) -> Option<T> {
        let index = self.waiting.iter().position(|pending| pending.key == key)?;
        self.waiting.remove(index).map(|pending| pending.item)
    }

    /// Whether a batch is due at `now`: `max_size` items wait, or the oldest has waited
    /// `max_delay`.
    pub fn is_ready(&self, now: Instant) -> bool {
        self.waiting.len() >= self.max_size || self.timed_out_at().is_some_and(|due| due <= now)
    }

    /// When the oldest waiting item will have waited `max_delay`.
    fn timed_out_at(&self) -> Option<Instant> {
        self.waiting.front()?.arrived.checked_add(self.max_delay)
    }

    /// The due batch, oldest first, at most `max_size` items; `None` while none is due.
    pub fn take_ready(&mut self, now: Instant) -> Option<Vec<T>> {
        if self.is_ready(now) {
            self.flush()
        } else {
            None
        }
    }

    /// The oldest `max_size` items at most, due or not (a server shutting down, or a predictor
    /// run once from the command line); `None` when nothing waits.
    pub fn flush(&mut self) -> Option<Vec<T>> {
        if self.waiting.is_empty() {
            return None;
        }
        let count = self.max_size.min(self.waiting.len());
        Some(
            self.waiting
                .drain(..count)
                .map(|pending| pending.item)
                .collect(),
        )
    }

    /// When the next batch is due if nothing else arrives or leaves: the oldest item's arrival
    /// plus `max_delay`, or, when `max_size` items wait, the arrival that filled the batch if
    /// that came first (a full batch is due at any `now`). `None` when nothing waits, or when the
    /// delay reaches past what an `Instant` can hold and the batch is not full (then only a full
    /// batch forms).
    pub fn next_deadline(&self) -> Option<Instant> {
        let filled_at = self
            .waiting
            .get(self.max_size - 1)
            .map(|pending| pending.arrived);
        match (filled_at, self.timed_out_at()) {
            (Some(filled), Some(timed_out)) => Some(filled.min(timed_out)),
            (filled, timed_out) => filled.or(timed_out),
        }
    }

    /// Items waiting now.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn max_size(&self) -> usize {
        self.max_size
    }

    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_millis(5);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_batch_forms_at_once() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(3, DELAY);
        former.push("a", t0);
        former.push("b", t0);
        assert_eq!(former.take_ready(t0), None);
        former.push("c", t0 + ms(1));
        assert_eq!(former.next_deadline(), Some(t0 + ms(1)), "when it filled");
        assert_eq!(
            former.take_ready(t0),
            Some(vec!["a", "b", "c"]),
            "full: due at any now"
        );
        assert!(former.is_empty());
        assert_eq!(former.next_deadline(), None);
    }

    #[test]
    fn a_lone_item_waits_at_most_max_delay() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(32, DELAY);
        former.push("alone", t0);
        assert_eq!(former.next_deadline(), Some(t0 + DELAY));
        assert_eq!(
            former.take_ready(t0 + DELAY - Duration::from_nanos(1)),
            None
        );
        assert_eq!(former.take_ready(t0 + DELAY), Some(vec!["alone"]));
    }

    #[test]
    fn a_later_arrival_never_postpones_the_oldest() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(32, DELAY);
        former.push(1, t0);
        former.push(2, t0 + ms(4));
        assert_eq!(former.next_deadline(), Some(t0 + DELAY));
        assert_eq!(former.take_ready(t0 + DELAY), Some(vec![1, 2]));
    }

    #[test]
    fn cancelled_items_are_not_batched() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(3, DELAY);
        let oldest = former.push("oldest", t0);
        former.push("kept", t0 + ms(2));
        let gone = former.push("gone", t0 + ms(3));
        assert_eq!(former.remove(gone), Some("gone"));
        assert_eq!(former.remove(gone), None, "removed once");
        assert_eq!(former.remove(oldest), Some("oldest"));
        assert_eq!(
            former.next_deadline(),
            Some(t0 + ms(2) + DELAY),
            "the deadline is the oldest waiting item's"
        );
        former.push("late", t0 + ms(4));
        assert_eq!(former.take_ready(t0 + ms(6)), None);
        assert_eq!(former.take_ready(t0 + ms(7)), Some(vec!["kept", "late"]));
    }

    #[test]
    fn a_batched_item_cannot_be_removed() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(1, DELAY);
        let key = former.push("run", t0);
        assert_eq!(former.take_ready(t0), Some(vec!["run"]));
        assert_eq!(former.remove(key), None);
    }

    #[test]
    fn batches_keep_arrival_order() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(8, DELAY);
        former.push("second", t0 + ms(1));
        former.push("third", t0 + ms(1));
        former.push("first", t0);
        former.push("fourth", t0 + ms(2));
        assert_eq!(former.next_deadline(), Some(t0 + DELAY));
        assert_eq!(
            former.take_ready(t0 + DELAY),
            Some(vec!["first", "second", "third", "fourth"])
        );
    }

    #[test]
    fn more_than_max_size_waiting_forms_several_batches_oldest_first() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(4, DELAY);
        for n in 0..10 {
            former.push(n, t0 + ms(n));
        }
        assert_eq!(former.take_ready(t0), Some(vec![0, 1, 2, 3]));
        assert_eq!(former.take_ready(t0), Some(vec![4, 5, 6, 7]));
        assert_eq!(
            former.next_deadline(),
            Some(t0 + ms(8) + DELAY),
            "the rest wait for the oldest of them"
        );
        assert_eq!(former.take_ready(t0 + ms(12)), None);
        assert_eq!(former.take_ready(t0 + ms(13)), Some(vec![8, 9]));
    }

    #[test]
    fn zero_max_size_means_one_and_zero_delay_batches_at_once() {
        let t0 = Instant::now();
        let mut single = BatchFormer::new(0, DELAY);
        assert_eq!(single.max_size(), 1);
        single.push('a', t0);
        single.push('b', t0);
        assert_eq!(single.take_ready(t0), Some(vec!['a']));
        assert_eq!(single.take_ready(t0), Some(vec!['b']));

        let mut eager = BatchFormer::new(8, Duration::ZERO);
        eager.push('x', t0);
        assert_eq!(eager.take_ready(t0), Some(vec!['x']));
    }

    #[test]
    fn a_delay_beyond_any_instant_only_forms_full_batches() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(2, Duration::MAX);
        former.push(1, t0);
        assert_eq!(former.next_deadline(), None);
        assert_eq!(former.take_ready(t0 + Duration::from_secs(3600)), None);
        former.push(2, t0);
        assert_eq!(former.take_ready(t0), Some(vec![1, 2]));
    }

    #[test]
    fn flush_takes_what_waits_regardless_of_time() {
        let t0 = Instant::now();
        let mut former = BatchFormer::new(2, DELAY);
        assert_eq!(former.flush(), None::<Vec<u8>>);
        former.push(1, t0);
        former.push(2, t0);
        former.push(3, t0);
        assert_eq!(former.flush(), Some(vec![1, 2]));
        assert_eq!(former.flush(), Some(vec![3]));
        assert_eq!(former.len(), 0);
    }

    /// Checks a batch taken at `now` and notes its items.
    fn take(batch: Vec<(u64, Instant)>, now: Instant, batched: &mut Vec<u64>) {
        assert!(!batch.is_empty() && batch.len() <= 8);
        for (n, arrived) in batch {
            assert!(
                now - arrived <= DELAY,
                "item {n} waited {:?}",
                now - arrived
            );
            batched.push(n);
        }
    }

    /// A deterministic stream of arrivals and cancellations, driven the way a batching loop
    /// would: look again at each arrival and at each `next_deadline`.
    #[test]
    fn driven_at_its_deadlines_no_item_waits_longer_than_max_delay_and_none_is_lost() {
        const ITEMS: u64 = 5_000;
        let t0 = Instant::now();
        let mut former = BatchFormer::new(8, DELAY);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next_random = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        let mut arrival = t0;
        let mut keys = Vec::new();
        let mut batched = Vec::new();
        let mut removed = Vec::new();
        for n in 0..ITEMS {
            // Bursts and gaps: 0 to 3 ms apart, in microseconds.
            let next = arrival + Duration::from_micros(next_random() % 3_000);
            // The loop's timer fires at each deadline that comes before the next arrival.
            while let Some(deadline) = former.next_deadline().filter(|due| *due <= next) {
                let now = deadline.max(arrival);
                let batch = former.take_ready(now).expect("due at its deadline");
                take(batch, now, &mut batched);
            }
            arrival = next;
            keys.push(former.push((n, arrival), arrival));
            while let Some(batch) = former.take_ready(arrival) {
                take(batch, arrival, &mut batched);
            }
            if next_random() % 10 == 0 {
                let victim = keys[(next_random() as usize) % keys.len()];
                if let Some((gone, _)) = former.remove(victim) {
                    removed.push(gone);
                }
            }
        }
        while let Some(deadline) = former.next_deadline() {
            let now = deadline.max(arrival);
            let batch = former.take_ready(now).expect("due at its deadline");
            take(batch, now, &mut batched);
        }
        assert!(
            batched.windows(2).all(|pair| pair[0] < pair[1]),
            "arrival order"
        );
        assert!(!removed.is_empty());
        let mut all: Vec<u64> = batched.iter().chain(&removed).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..ITEMS).collect::<Vec<_>>(),
            "each item exactly once"
        );
    }
}
