//! A prediction's output channel: what a generator predictor yields travels from its one producer
//! to any number of consumers, with bounded memory.
//!
//! The channel keeps the most recent items in one buffer of at most `capacity` items and
//! `max_bytes` bytes (an item larger than `max_bytes` still fits into an empty buffer, so nothing
//! can wedge). Consumers read from the buffer at their own cursor, and are of two kinds:
//!
//! * **lossless** consumers (the SSE response of the request that created the prediction, an
//!   embedding caller's async iterator) see every item sent after they subscribed. The oldest
//!   item is only evicted once every lossless consumer has read it, so when the buffer is full
//!   and the slowest lossless consumer has not read the oldest item, the producer waits: that is
//!   the backpressure that makes a generator's next `yield` wait.
//! * **lossy** consumers (late SSE subscribers, observers) never slow the producer. When they fall
//!   so far behind that items they had not read were evicted, they skip to the oldest item still
//!   held and the number skipped is added to their `missed` count.
//!
//! With no lossless consumer the buffer is simply the last `capacity` items (the replay history
//! for late subscribers), and sending never waits. Dropping a consumer unsubscribes it, so a
//! lossless consumer that disconnects stops holding the producer back.
//!
//! Everything is one mutex and lists of wakers: async callers (N-API promises on tokio) and
//! blocking callers (Rust threads, through the `*_blocking` methods) share the same code path.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use crate::cancel::CancelToken;

/// One item: JSON text, shared between consumers without copying.
pub type Item = Arc<str>;

/// Bounds of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Most items held at once. 0 is treated as 1.
    pub capacity: usize,
    /// Most bytes held at once (sum of item lengths); a single larger item is still accepted
    /// when the buffer is empty.
    pub max_bytes: usize,
}

impl Default for ChannelOptions {
    /// 1024 items, as Cog's `COG_STREAM_HISTORY_CAPACITY`, and 16 MiB.
    fn default() -> Self {
        Self {
            capacity: 1024,
            max_bytes: 16 << 20,
        }
    }
}

/// Why an item could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("output channel is closed")]
    Closed,
    #[error("prediction was canceled")]
    Canceled,
}

/// Why `try_send` did not take an item. `Full` hands the item back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySendError {
    Full(Item),
    Stopped(SendError),
}

/// Whether a consumer must see every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sees every item sent after subscribing; the producer waits for it.
    Lossless,
    /// Never slows the producer; skips items that were evicted before it read them.
    Lossy,
}

/// Where a new consumer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With the next item sent.
    Now,
    /// With the oldest item still held; items already evicted count as `missed`.
    Replay,
}

/// What a non-waiting receive found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryRecv {
    Items(Vec<Item>),
    /// Nothing to read yet; the channel is still open.
    Empty,
    /// The channel is closed and this consumer has read everything.
    Ended,
}

#[derive(Debug)]
struct Cursor {
    /// Sequence number of the next item this consumer reads.
    next: u64,
    lossless: bool,
    missed: u64,
    waiters: Vec<Waker>,
}

#[derive(Debug)]
struct State {
    options: ChannelOptions,
    /// The held items; `items[0]` has sequence number `head`.
    items: VecDeque<Item>,
    head: u64,
    bytes: usize,
    consumers: HashMap<u64, Cursor>,
    next_consumer_id: u64,
    producer_waiters: Vec<Waker>,
    closed: bool,
    final_state: Option<Item>,
}

impl State {
    /// Sequence number the next sent item gets (= number of items sent so far).
    fn tail(&self) -> u64 {
        self.head + self.items.len() as u64
    }

    /// The lowest cursor among lossless consumers: nothing at or after it may be evicted.
    fn lossless_floor(&self) -> u64 {
        self.consumers
            .values()
            .filter(|cursor| cursor.lossless)
            .map(|cursor| cursor.next)
            .min()
            .unwrap_or(u64::MAX)
    }

    fn fits(&self, len: usize) -> bool {
        self.items.is_empty()
            || (self.items.len() < self.options.capacity
                && self.bytes.saturating_add(len) <= self.options.max_bytes)
    }

    /// Evicts items every lossless consumer has read until `len` more bytes fit.
    fn make_room(&mut self, len: usize) -> bool {
        let floor = self.lossless_floor();
        while !self.fits(len) {
            if self.head >= floor {
                return false;
            }
            if let Some(oldest) = self.items.pop_front() {
                self.bytes -= oldest.len();
                self.head += 1;
            }
        }
        true
    }

    fn push(&mut self, item: Item) {
        self.bytes += item.len();
        self.items.push_back(item);
    }

    fn wake_consumers(&mut self) {
        for cursor in self.consumers.values_mut() {
            wake_all(&mut cursor.waiters);
        }
    }

    /// Room may have appeared: let a waiting producer look again.
    fn wake_producer(&mut self) {
        if !self.producer_waiters.is_empty() && self.head < self.lossless_floor() {
            wake_all(&mut self.producer_waiters);
        }
    }
}

fn wake_all(waiters: &mut Vec<Waker>) {
    for waker in waiters.drain(..) {
        waker.wake();
    }
}

fn register(waiters: &mut Vec<Waker>, cx: &Context<'_>) {
    if !waiters.iter().any(|waker| waker.will_wake(cx.waker())) {
        waiters.push(cx.waker().clone());
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    cancel: Option<CancelToken>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way later
        // calls would misread (every update is a push, pop or counter change), so carry on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Only closing stops sends outright. Cancellation stops *waiting*: a send that finds room
    /// still goes through, so the events that end a cancelled prediction reach its consumers.
    fn stopped(&self, state: &State) -> Option<SendError> {
        state.closed.then_some(SendError::Closed)
    }

    fn canceled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_canceled)
    }
}

/// The producer's end, and the place consumers subscribe. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutputChannel {
    shared: Arc<Shared>,
}

impl OutputChannel {
    /// A channel; when `cancel` is given, its cancellation ends a send's wait for room (with
    /// `Canceled`), so a cancelled predictor is never stuck behind a slow consumer.
    pub fn new(options: ChannelOptions, cancel: Option<CancelToken>) -> Self {
        let options = ChannelOptions {
            capacity: options.capacity.max(1),
            ..options
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                options,
                items: VecDeque::with_capacity(options.capacity.min(1024)),
                head: 0,
                bytes: 0,
                consumers: HashMap::new(),
                next_consumer_id: 0,
                producer_waiters: Vec::new(),
                closed: false,
                final_state: None,
            }),
            cancel,
        });
        if let Some(token) = &shared.cancel {
            // Weak, so a long-lived token does not keep finished channels alive.
            let weak: Weak<Shared> = Arc::downgrade(&shared);
            token.on_cancel(move || {
                if let Some(shared) = weak.upgrade() {
                    wake_all(&mut shared.lock().producer_waiters);
                }
            });
        }
        Self { shared }
    }

    /// Sends without waiting: `Full` hands the item back when a lossless consumer holds it up.
    pub fn try_send(&self, item: Item) -> Result<(), TrySendError> {
        let mut state = self.shared.lock();
        if let Some(stopped) = self.shared.stopped(&state) {
            return Err(TrySendError::Stopped(stopped));
        }
        if !state.make_room(item.len()) {
            return Err(TrySendError::Full(item));
        }
        state.push(item);
        state.wake_consumers();
        Ok(())
    }

    /// Sends as many items from the front of `items` as fit now, under one lock; returns how
    /// many were taken (the rest stay in `items`).
    pub fn try_send_many(&self, items: &mut VecDeque<Item>) -> Result<usize, SendError> {
        let mut state = self.shared.lock();
        if let Some(stopped) = self.shared.stopped(&state) {
            return Err(stopped);
        }
        let mut sent = 0;
        while let Some(item) = items.front() {
            if !state.make_room(item.len()) {
                break;
            }
            if let Some(item) = items.pop_front() {
                state.push(item);
                sent += 1;
            }
        }
        if sent > 0 {
            state.wake_consumers();
        }
        Ok(sent)
    }

    /// Sends, waiting while the buffer is full of items a lossless consumer has not read.
    pub async fn send(&self, item: Item) -> Result<(), SendError> {
        let mut item = Some(item);
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            if let Some(stopped) = self.shared.stopped(&state) {
                return Poll::Ready(Err(stopped));
            }
            let len = item.as_ref().map_or(0, |item| item.len());
            if state.make_room(len) {
                if let Some(item) = item.take() {
                    state.push(item);
                    state.wake_consumers();
                }
                Poll::Ready(Ok(()))
            } else if self.shared.canceled() {
                Poll::Ready(Err(SendError::Canceled))
            } else {
                register(&mut state.producer_waiters, cx);
                Poll::Pending
            }
        })
        .await
    }

    /// `send` for a Rust thread: blocks the thread instead of yielding.
    pub fn send_blocking(&self, item: Item) -> Result<(), SendError> {
        futures_executor::block_on(self.send(item))
    }

    /// Closes the channel with an optional final state (the prediction's terminal snapshot).
    /// Consumers read what is left and then see the end; sends fail with `Closed`. Returns true
    /// for the call that actually closed it.
    pub fn close(&self, final_state: Option<Item>) -> bool {
        let mut state = self.shared.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        state.final_state = final_state;
        wake_all(&mut state.producer_waiters);
        state.wake_consumers();
        true
    }

    /// A new consumer. Dropping it unsubscribes.
    pub fn subscribe(&self, delivery: Delivery, start: Start) -> Consumer {
        let mut state = self.shared.lock();
        let id = state.next_consumer_id;
        state.next_consumer_id += 1;
        let (next, missed) = match start {
            Start::Now => (state.tail(), 0),
            Start::Replay => (state.head, state.head),
        };
        state.consumers.insert(
            id,
            Cursor {
                next,
                lossless: delivery == Delivery::Lossless,
                missed,
                waiters: Vec::new(),
            },
        );
        Consumer {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Items held in the buffer now.
    pub fn queued(&self) -> usize {
        self.shared.lock().items.len()
    }

    /// Bytes held in the buffer now.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().bytes
    }

    pub fn options(&self) -> ChannelOptions {
        self.shared.lock().options
    }

    /// Items sent so far; also the index the next item gets.
    pub fn sent(&self) -> u64 {
        self.shared.lock().tail()
    }

    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    pub fn final_state(&self) -> Option<Item> {
        self.shared.lock().final_state.clone()
    }

    /// Consumers subscribed now.
    pub fn consumers(&self) -> usize {
        self.shared.lock().consumers.len()
    }
}

/// A subscriber's end. Dropping it (or `unsubscribe`) releases any backpressure it exerted.
#[derive(Debug)]
pub struct Consumer {
    shared: Arc<Shared>,
    id: u64,
}

impl Consumer {
    /// Takes up to `max` items (at least 1) without waiting.
    pub fn try_recv_many(&self, max: usize) -> TryRecv {
        let mut state = self.shared.lock();
        Self::take(&mut state, self.id, max.max(1))
    }

    /// Waits for at least one item and takes up to `max` (at least 1) of those available;
    /// `None` once the channel is closed and drained, or after unsubscribing.
    pub async fn recv_many(&self, max: usize) -> Option<Vec<Item>> {
        poll_fn(|cx| {
            let mut state = self.shared.lock();
            match Self::take(&mut state, self.id, max.max(1)) {
                TryRecv::Items(items) => Poll::Ready(Some(items)),
                TryRecv::Ended => Poll::Ready(None),
                TryRecv::Empty => {
                    if let Some(cursor) = state.consumers.get_mut(&self.id) {
                        register(&mut cursor.waiters, cx);
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// `recv_many` for a Rust thread: blocks the thread instead of yielding.
    pub fn recv_many_blocking(&self, max: usize) -> Option<Vec<Item>> {
        futures_executor::block_on(self.recv_many(max))
    }

    fn take(state: &mut State, id: u64, max: usize) -> TryRecv {
        let head = state.head;
        let tail = state.tail();
        let closed = state.closed;
        let Some(cursor) = state.consumers.get_mut(&id) else {
            return TryRecv::Ended;
        };
        if cursor.next < head {
            // Only lossy cursors fall behind the head: eviction waits for lossless ones.
            cursor.missed += head - cursor.next;
            cursor.next = head;
        }
        if cursor.next == tail {
            return if closed {
                TryRecv::Ended
            } else {
                TryRecv::Empty
            };
        }
        let from = usize::try_from(cursor.next - head).unwrap_or(usize::MAX);
        let count = max.min(state.items.len() - from);
        let items: Vec<Item> = state.items.range(from..from + count).cloned().collect();
        cursor.next += count as u64;
        if cursor.lossless {
            state.wake_producer();
        }
        TryRecv::Items(items)
    }

    /// Stops receiving (later receives see the end) and stops exerting backpressure.
    pub fn unsubscribe(&self) {
        let mut state = self.shared.lock();
        if let Some(mut cursor) = state.consumers.remove(&self.id) {
            wake_all(&mut cursor.waiters);
            if cursor.lossless {
                state.wake_producer();
            }
        }
    }

    /// Items this consumer will never see: evicted before a lossy consumer read them, or
    /// already gone when a replaying consumer subscribed.
    pub fn missed(&self) -> u64 {
        self.shared
            .lock()
            .consumers
            .get(&self.id)
            .map_or(0, |cursor| cursor.missed)
    }

    /// Items sent that this consumer has not read yet (including ones it will miss).
    pub fn pending(&self) -> u64 {
        let state = self.shared.lock();
        let tail = state.tail();
        state
            .consumers
            .get(&self.id)
            .map_or(0, |cursor| tail - cursor.next)
    }

    /// The index (0-based, over all items ever sent) of the next item this consumer reads, so
    /// after a receive of `n` items the first of them had index `position() - n`.
    pub fn position(&self) -> u64 {
        let state = self.shared.lock();
        let head = state.head;
        state
            .consumers
            .get(&self.id)
            .map_or(state.tail(), |cursor| cursor.next.max(head))
    }

    pub fn is_lossless(&self) -> bool {
        self.shared
            .lock()
            .consumers
            .get(&self.id)
            .is_some_and(|cursor| cursor.lossless)
    }

    /// The final state given to `close`, once closed.
    pub fn final_state(&self) -> Option<Item> {
        self.shared.lock().final_state.clone()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::{poll, CountingWaker};
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use std::time::Duration;

    fn item(text: &str) -> Item {
        Item::from(text)
    }

    fn numbered(n: u64) -> Item {
        Item::from(n.to_string())
    }

    fn channel(capacity: usize) -> OutputChannel {
        OutputChannel::new(
            ChannelOptions {
                capacity,
                ..ChannelOptions::default()
            },
            None,
        )
    }

    fn texts(items: &[Item]) -> Vec<&str> {
        items.iter().map(|item| &**item).collect()
    }

    #[test]
    fn delivers_in_order_then_ends_with_the_final_state() {
        let channel = channel(16);
        let consumer = channel.subscribe(Delivery::Lossless, Start::Now);
        for n in 0..10 {
            channel.try_send(numbered(n)).expect("room");
        }
        assert!(channel.close(Some(item(r#"{"status":"succeeded"}"#))));
        assert!(!channel.close(None), "second close reports no change");
        let mut seen = Vec::new();
        while let Some(batch) = consumer.recv_many_blocking(3) {
            assert!(batch.len() <= 3);
            seen.extend(batch);
        }
        let expected: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        assert_eq!(texts(&seen), expected);
        assert_eq!(consumer.try_recv_many(1), TryRecv::Ended);
        assert_eq!(
            consumer.final_state().as_deref(),
            Some(r#"{"status":"succeeded"}"#)
        );
        assert_eq!(
            channel.try_send(item("late")),
            Err(TrySendError::Stopped(SendError::Closed))
        );
    }

    #[test]
    fn a_lagging_lossless_consumer_holds_the_producer_back() {
        let channel = channel(4);
        let consumer = channel.subscribe(Delivery::Lossless, Start::Now);
        for n in 0..4 {
            channel.try_send(numbered(n)).expect("room");
        }
        assert_eq!(
            channel.try_send(item("4")),
            Err(TrySendError::Full(item("4")))
        );
        assert_eq!(channel.queued(), 4);

        let waker = Arc::new(CountingWaker::default());
        let mut send = pin!(channel.send(item("4")));
        assert!(poll(send.as_mut(), &waker).is_pending());
        assert_eq!(waker.wakes(), 0);

        assert_eq!(consumer.try_recv_many(1), TryRecv::Items(vec![item("0")]));
        assert_eq!(
            waker.wakes(),
            1,
            "reading the oldest item wakes the producer"
        );
        assert_eq!(poll(send.as_mut(), &waker), Poll::Ready(Ok(())));
        assert_eq!(
            channel.queued(),
            4,
            "the read item made way for the new one"
        );
        match consumer.try_recv_many(10) {
            TryRecv::Items(items) => assert_eq!(texts(&items), ["1", "2", "3", "4"]),
            other => panic!("expected items, got {other:?}"),
        }
        assert_eq!(consumer.missed(), 0);
    }

    #[test]
    fn lossy_consumers_never_block_and_count_what_they_missed() {
        let channel = channel(4);
        let lossy = channel.subscribe(Delivery::Lossy, Start::Now);
        for n in 0..100 {
            channel
                .try_send(numbered(n))
                .expect("a lossy consumer never blocks");
        }
        assert_eq!(channel.queued(), 4);
        assert_eq!(lossy.pending(), 100);
        match lossy.try_recv_many(100) {
            TryRecv::Items(items) => assert_eq!(texts(&items), ["96", "97", "98", "99"]),
            other => panic!("expected items, got {other:?}"),
        }
        assert_eq!(lossy.missed(), 96);
        assert_eq!(lossy.position(), 100);
    }

    #[test]
    fn a_lossy_consumer_lags_while_a_lossless_one_sees_everything() {
        let channel = channel(2);
        let lossless = channel.subscribe(Delivery::Lossless, Start::Now);
        let lossy = channel.subscribe(Delivery::Lossy, Start::Now);
        let mut seen = Vec::new();
        for n in 0..10 {
            if let Err(TrySendError::Full(back)) = channel.try_send(numbered(n)) {
                match lossless.try_recv_many(1) {
                    TryRecv::Items(items) => seen.extend(items),
                    other => panic!("expected items, got {other:?}"),
                }
                channel.try_send(back).expect("room after the read");
            }
        }
        while let TryRecv::Items(items) = lossless.try_recv_many(8) {
            seen.extend(items);
        }
        let expected: Vec<String> = (0..10).map(|n| n.to_string()).collect();
        assert_eq!(texts(&seen), expected);
        match lossy.try_recv_many(8) {
            TryRecv::Items(items) => assert_eq!(texts(&items), ["8", "9"]),
            other => panic!("expected items, got {other:?}"),
        }
        assert_eq!(lossy.missed(), 8);
    }

    #[test]
    fn byte_capacity_bounds_the_buffer_but_one_large_item_still_fits() {
        let channel = OutputChannel::new(
            ChannelOptions {
                capacity: 100,
                max_bytes: 10,
            },
            None,
        );
        let consumer = channel.subscribe(Delivery::Lossless, Start::Now);
        channel.try_send(item("aaaa")).expect("fits");
        channel.try_send(item("bbbb")).expect("fits");
        assert!(matches!(
            channel.try_send(item("cccc")),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(channel.queued_bytes(), 8);
        assert!(matches!(consumer.try_recv_many(2), TryRecv::Items(items) if items.len() == 2));
        channel
            .try_send(item("a very long item, longer than max_bytes"))
            .expect("an empty buffer takes any item");
        assert!(matches!(
            channel.try_send(item("x")),
            Err(TrySendError::Full(_))
        ));
    }

    #[test]
    fn try_send_many_takes_what_fits_and_leaves_the_rest() {
        let channel = channel(3);
        let consumer = channel.subscribe(Delivery::Lossless, Start::Now);
        let mut batch: VecDeque<Item> = (0..5).map(numbered).collect();
        assert_eq!(channel.try_send_many(&mut batch), Ok(3));
        assert_eq!(texts(batch.make_contiguous()), ["3", "4"]);
        assert_eq!(channel.try_send_many(&mut batch), Ok(0));
        assert!(matches!(consumer.try_recv_many(2), TryRecv::Items(_)));
        assert_eq!(channel.try_send_many(&mut batch), Ok(2));
        assert!(batch.is_empty());
        assert_eq!(channel.sent(), 5);
    }

    #[test]
    fn close_wakes_a_waiting_producer_and_waiting_consumers() {
        let channel = channel(1);
        let slow = channel.subscribe(Delivery::Lossless, Start::Now);
        let caught_up = channel.subscribe(Delivery::Lossless, Start::Now);
        channel.try_send(item("only")).expect("room");
        assert_eq!(
            caught_up.try_recv_many(1),
            TryRecv::Items(vec![item("only")])
        );

        let producer_waker = Arc::new(CountingWaker::default());
        let mut send = pin!(channel.send(item("blocked")));
        assert!(poll(send.as_mut(), &producer_waker).is_pending());
        let consumer_waker = Arc::new(CountingWaker::default());
        let mut recv = pin!(caught_up.recv_many(4));
        assert!(poll(recv.as_mut(), &consumer_waker).is_pending());
        assert_eq!(producer_waker.wakes(), 0);
        assert_eq!(consumer_waker.wakes(), 0);

        channel.close(None);
        assert_eq!(producer_waker.wakes(), 1);
        assert_eq!(consumer_waker.wakes(), 1);
        assert_eq!(
            poll(send.as_mut(), &producer_waker),
            Poll::Ready(Err(SendError::Closed))
        );
        assert_eq!(poll(recv.as_mut(), &consumer_waker), Poll::Ready(None));
        // A consumer that is behind still reads what is held before it sees the end.
        assert_eq!(slow.try_recv_many(4), TryRecv::Items(vec![item("only")]));
        assert_eq!(slow.try_recv_many(4), TryRecv::Ended);
    }

    #[test]
    fn cancel_wakes_a_blocked_producer_with_canceled() {
        let token = CancelToken::new();
        let channel = OutputChannel::new(
            ChannelOptions {
                capacity: 1,
                ..ChannelOptions::default()
            },
            Some(token.clone()),
        );
        let _slow = channel.subscribe(Delivery::Lossless, Start::Now);
        channel.try_send(item("first")).expect("room");
        let blocked = {
            let channel = channel.clone();
            thread::spawn(move || channel.send_blocking(item("second")))
        };
        thread::sleep(Duration::from_millis(30));
        assert!(
            !blocked.is_finished(),
            "the producer waits for the slow consumer"
        );
        token.cancel();
        assert_eq!(blocked.join().expect("producer"), Err(SendError::Canceled));
        // Still full: a later send does not wait either.
        assert_eq!(
            futures_executor::block_on(channel.send(item("third"))),
            Err(SendError::Canceled)
        );
        // Once there is room, the events that end the prediction still go through.
        drop(_slow);
        assert_eq!(channel.try_send(item("completed")), Ok(()));
    }

    #[test]
    fn dropping_a_lossless_consumer_releases_the_producer() {
        let channel = channel(2);
        let slow = channel.subscribe(Delivery::Lossless, Start::Now);
        channel.try_send(item("a")).expect("room");
        channel.try_send(item("b")).expect("room");

        let waker = Arc::new(CountingWaker::default());
        let mut send = pin!(channel.send(item("c")));
        assert!(poll(send.as_mut(), &waker).is_pending());
        assert_eq!(channel.consumers(), 1);
        drop(slow);
        assert_eq!(channel.consumers(), 0);
        assert_eq!(waker.wakes(), 1);
        assert_eq!(poll(send.as_mut(), &waker), Poll::Ready(Ok(())));
    }

    #[test]
    fn an_unsubscribed_consumer_sees_the_end() {
        let channel = channel(2);
        let consumer = channel.subscribe(Delivery::Lossless, Start::Now);
        channel.try_send(item("a")).expect("room");
        consumer.unsubscribe();
        assert_eq!(consumer.try_recv_many(1), TryRecv::Ended);
        assert_eq!(consumer.recv_many_blocking(1), None);
        channel
            .try_send(item("b"))
            .expect("no one holds the producer back");
        channel
            .try_send(item("c"))
            .expect("no one holds the producer back");
    }

    #[test]
    fn replay_starts_at_the_oldest_held_item_and_reports_what_is_gone() {
        let channel = channel(4);
        for n in 0..10 {
            channel.try_send(numbered(n)).expect("no lossless consumer");
        }
        let replay = channel.subscribe(Delivery::Lossy, Start::Replay);
        let live = channel.subscribe(Delivery::Lossy, Start::Now);
        assert_eq!(replay.missed(), 6);
        assert_eq!(replay.position(), 6);
        assert_eq!(live.position(), 10);
        match replay.try_recv_many(10) {
            TryRecv::Items(items) => assert_eq!(texts(&items), ["6", "7", "8", "9"]),
            other => panic!("expected items, got {other:?}"),
        }
        assert_eq!(live.try_recv_many(10), TryRecv::Empty);
        channel.try_send(item("10")).expect("room");
        assert_eq!(live.try_recv_many(10), TryRecv::Items(vec![item("10")]));
    }

    /// Reads to the end, asserting items are 0, 1, 2, ...; `pause` sleeps now and then to lag.
    fn read_in_order(consumer: &Consumer, batch: usize, pause: bool) -> u64 {
        let mut expected = 0u64;
        while let Some(items) = consumer.recv_many_blocking(batch) {
            for got in items {
                assert_eq!(&*got, expected.to_string());
                expected += 1;
            }
            if pause && expected % 10_000 < batch as u64 {
                thread::sleep(Duration::from_millis(2));
            }
        }
        expected
    }

    #[test]
    fn many_items_across_threads_arrive_in_order_with_bounded_memory() {
        const TOTAL: u64 = 100_000;
        const CAPACITY: usize = 16;
        let channel = channel(CAPACITY);
        let fast = channel.subscribe(Delivery::Lossless, Start::Now);
        let slow = channel.subscribe(Delivery::Lossless, Start::Now);
        let lossy = channel.subscribe(Delivery::Lossy, Start::Now);
        let peak = AtomicUsize::new(0);

        thread::scope(|scope| {
            scope.spawn(|| {
                for n in 0..TOTAL {
                    channel.send_blocking(numbered(n)).expect("open");
                    peak.fetch_max(channel.queued(), Ordering::Relaxed);
                }
                channel.close(None);
            });
            let fast_reader = scope.spawn(|| read_in_order(&fast, 64, false));
            let slow_reader = scope.spawn(|| read_in_order(&slow, 3, true));
            let lossy_reader = scope.spawn(|| {
                let mut received = 0u64;
                let mut last: Option<u64> = None;
                while let Some(items) = lossy.recv_many_blocking(5) {
                    for got in items {
                        let n: u64 = got.parse().expect("a number");
                        assert!(last.is_none_or(|last| n > last), "lossy order kept");
                        last = Some(n);
                        received += 1;
                    }
                    thread::sleep(Duration::from_micros(50));
                }
                (received, lossy.missed())
            });
            assert_eq!(fast_reader.join().expect("fast"), TOTAL);
            assert_eq!(slow_reader.join().expect("slow"), TOTAL);
            let (received, missed) = lossy_reader.join().expect("lossy");
            assert_eq!(received + missed, TOTAL);
        });
        assert!(peak.load(Ordering::Relaxed) <= CAPACITY);
    }
}
