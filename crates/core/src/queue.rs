//! The admission line: predictions that find every slot busy wait for one, first in first out,
//! instead of being refused with Cog's 409.
//!
//! [`Admission`] owns the line in front of a [`Slots`]; [`Slots`] keep owning the count of what
//! runs. `admit` answers one of three ways:
//!
//! * [`Admitted::Now`]: a slot was free and nobody waited, so the caller runs at once;
//! * [`Admitted::Waiting`]: a [`Ticket`], a future that resolves to a [`SlotPermit`] when a slot
//!   is handed to it. Tickets are served in arrival order;
//! * [`Admitted::Full`]: `max_waiting` already wait (the caller answers 429 with `Retry-After`,
//!   see [`retry_after_secs`]). With `max_waiting = 0` nobody ever waits, which is Cog's
//!   behaviour: `Full { waiting: 0, max: 0 }` at capacity, and the caller answers 409.
//!
//! The contract, and the transitions that cannot happen:
//!
//! * **A newcomer never overtakes a waiter.** While anyone waits, `admit` does not even look for
//!   a free slot. A dropped permit does not free its slot when someone waits: the line hands the
//!   slot straight to the first waiter, under the line's one mutex, so the slot is never free in
//!   between and `in_use` stays at capacity for as long as the line is not empty.
//! * **A waiter is never stranded.** `admit` decides to wait and a permit decides to free its slot
//!   under the same mutex, so a slot cannot be freed between "nobody waits" and "the newcomer
//!   joins the line".
//! * **A ticket leaves the line at once when dropped or cancelled** ([`Ticket::cancel`], dropping
//!   it, or [`Admission::cancel`] by prediction id, which resolves it to `Err(Canceled)` and wakes
//!   it). A slot handed to a ticket that has not yet been polled is not lost when the ticket then
//!   goes: it passes on to the next waiter, or back to the slots.
//! * A ticket resolves once: a permit or `Canceled`, never both, never two permits (polled again
//!   after resolving, it answers `Canceled`).
//!
//! Every admission over the same [`Slots`] shares one line (each with its own `max_waiting`), so
//! FIFO holds across them; even `Slots::try_acquire` called directly, beside the line, cannot
//! take a slot out of turn, since a slot is never free while anyone waits. Retry-After estimates
//! come from [`retry_after_secs`] and a [`MeanRunTime`].

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::cancel::Canceled;
use crate::slots::{SlotPermit, Slots};

/// What `admit` answered.
#[derive(Debug)]
#[must_use = "dropping an admission gives its slot or its place in the line back"]
pub enum Admitted {
    /// A slot, at once.
    Now(SlotPermit),
    /// A place in the line; await it (or `wait_blocking`) for the slot.
    Waiting(Ticket),
    /// `max` already wait (`waiting` now). With `max == 0`, this is Cog's 409 at capacity.
    Full { waiting: usize, max: usize },
}

#[derive(Debug)]
struct Waiter {
    seq: u64,
    id: Arc<str>,
    waker: Option<Waker>,
}

/// How a ticket that left the line left it, until the ticket sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A released slot was handed to it; it is still counted in use.
    Granted,
    Canceled,
}

#[derive(Debug, Default)]
struct LineState {
    waiting: VecDeque<Waiter>,
    /// Tickets that left the line but have not been polled or dropped since.
    outcomes: HashMap<u64, (Arc<str>, Outcome)>,
    next_seq: u64,
}

impl LineState {
    /// A held slot is released: it goes to the first waiter, or is freed when nobody waits.
    /// Returns the waker to call once the lock is let go.
    fn hand_on(&mut self, slots: &Slots) -> Option<Waker> {
        match self.waiting.pop_front() {
            Some(next) => {
                self.outcomes.insert(next.seq, (next.id, Outcome::Granted));
                next.waker
            }
            None => {
                slots.inner().free_one();
                None
            }
        }
    }

    fn index_of(&self, seq: u64) -> Option<usize> {
        self.waiting.iter().position(|waiter| waiter.seq == seq)
    }
}

/// The line itself, shared by every admission over one `Slots` and by its tickets. The slots
/// hold it weakly and call `release` when a permit drops.
#[derive(Debug)]
pub(crate) struct Line {
    slots: Slots,
    state: Mutex<LineState>,
}

impl Line {
    fn lock(&self) -> MutexGuard<'_, LineState> {
        // Every update is a push, a removal or a map insert, and no permit is dropped while the
        // lock is held: a panic elsewhere cannot leave the line half-updated, so carry on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A permit of these slots dropped.
    pub(crate) fn release(&self) {
        let waker = self.lock().hand_on(&self.slots);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The admission line in front of a set of slots. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admission {
    line: Arc<Line>,
    max_waiting: usize,
}

impl Admission {
    /// At most `max_waiting` predictions wait for one of `slots`; 0 keeps Cog's behaviour.
    pub fn new(slots: Slots, max_waiting: usize) -> Self {
        let line = slots.line_or_attach(|slots| {
            Arc::new(Line {
                slots,
                state: Mutex::new(LineState::default()),
            })
        });
        Self { line, max_waiting }
    }

    /// A slot now, a place in the line, or `Full`. `id` is the prediction's, for
    /// [`Admission::position_of`] and [`Admission::cancel`].
    pub fn admit(&self, id: impl Into<Arc<str>>) -> Admitted {
        let mut state = self.line.lock();
        if state.waiting.is_empty() {
            if let Some(permit) = self.line.slots.try_acquire() {
                return Admitted::Now(permit);
            }
        }
        let waiting = state.waiting.len();
        if waiting >= self.max_waiting {
            return Admitted::Full {
                waiting,
                max: self.max_waiting,
            };
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let id = id.into();
        state.waiting.push_back(Waiter {
            seq,
            id: id.clone(),
            waker: None,
        });
        Admitted::Waiting(Ticket {
            line: self.line.clone(),
            seq,
            id,
            resolved: false,
        })
    }

    /// A slot now when one is free and nobody waits (as [`Admission::admit`] would answer
    /// [`Admitted::Now`]); `None` otherwise, with nothing changed: then `admit` says the rest.
    pub fn admit_now(&self) -> Option<SlotPermit> {
        let state = self.line.lock();
        if !state.waiting.is_empty() {
            return None;
        }
        self.line.slots.try_acquire()
    }

    /// Takes the prediction `id` out of the line: its ticket resolves to `Err(Canceled)` (and is
    /// woken), and a slot already handed to it but not yet taken passes on. Returns whether a
    /// ticket with that id was still waiting for its slot.
    pub fn cancel(&self, id: &str) -> bool {
        let mut wakers = Vec::new();
        let mut found = false;
        {
            let mut state = self.line.lock();
            let mut index = 0;
            while index < state.waiting.len() {
                if &*state.waiting[index].id == id {
                    if let Some(waiter) = state.waiting.remove(index) {
                        state
                            .outcomes
                            .insert(waiter.seq, (waiter.id, Outcome::Canceled));
                        wakers.extend(waiter.waker);
                        found = true;
                    }
                } else {
                    index += 1;
                }
            }
            let granted: Vec<u64> = state
                .outcomes
                .iter()
                .filter(|(_, (owner, outcome))| &**owner == id && *outcome == Outcome::Granted)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in granted {
                if let Some(entry) = state.outcomes.get_mut(&seq) {
                    entry.1 = Outcome::Canceled;
                }
                found = true;
                wakers.extend(state.hand_on(&self.line.slots));
            }
        }
        // The cancelled waiters (a granted one was woken when its slot was handed over, and sees
        // `Canceled` when polled) and whoever received a slot passed on.
        for waker in wakers {
            waker.wake();
        }
        found
    }

    /// How many wait ahead of the prediction `id` (0: it is next), while it waits.
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.line
            .lock()
            .waiting
            .iter()
            .position(|waiter| &*waiter.id == id)
    }

    /// How many wait now.
    pub fn waiting(&self) -> usize {
        self.line.lock().waiting.len()
    }

    pub fn max_waiting(&self) -> usize {
        self.max_waiting
    }

    pub fn slots(&self) -> &Slots {
        &self.line.slots
    }

    /// `Retry-After` for a newcomer refused now: it would have waited behind everyone waiting.
    pub fn retry_after_secs(&self, mean_run_secs: f64) -> u64 {
        retry_after_secs(self.waiting(), self.slots().capacity(), mean_run_secs)
    }
}

/// A place in the line. Await it for the slot; drop it (or `cancel`) to leave the line.
#[derive(Debug)]
#[must_use = "dropping a ticket leaves the line"]
pub struct Ticket {
    line: Arc<Line>,
    seq: u64,
    id: Arc<str>,
    resolved: bool,
}

impl Ticket {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many wait ahead of this ticket (0: it is next); `None` once it has left the line
    /// (a slot was handed to it, or it was cancelled).
    pub fn position(&self) -> Option<usize> {
        self.line.lock().index_of(self.seq)
    }

    /// Leaves the line (the same as dropping the ticket).
    pub fn cancel(self) {}

    /// Waits on this thread for the slot.
    pub fn wait_blocking(self) -> Result<SlotPermit, Canceled> {
        futures_executor::block_on(self)
    }
}

impl Future for Ticket {
    type Output = Result<SlotPermit, Canceled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.resolved {
            return Poll::Ready(Err(Canceled));
        }
        let seq = self.seq;
        let line = self.line.clone();
        let mut state = line.lock();
        let outcome = state.outcomes.remove(&seq).map(|(_, outcome)| outcome);
        let answer = match outcome {
            Some(Outcome::Granted) => Ok(SlotPermit::handed_over(line.slots.inner().clone())),
            Some(Outcome::Canceled) => Err(Canceled),
            None => match state.index_of(seq) {
                Some(index) => {
                    let waiter = &mut state.waiting[index];
                    if !waiter
                        .waker
                        .as_ref()
                        .is_some_and(|waker| waker.will_wake(cx.waker()))
                    {
                        waiter.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                // Not waiting and no outcome: cannot happen while unresolved (leaving the line
                // always records an outcome); answer as cancelled rather than wait forever.
                None => Err(Canceled),
            },
        };
        drop(state);
        self.resolved = true;
        Poll::Ready(answer)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.resolved {
            return;
        }
        let waker = {
            let mut state = self.line.lock();
            match state.index_of(self.seq) {
                Some(index) => {
                    state.waiting.remove(index);
                    None
                }
                None => match state.outcomes.remove(&self.seq) {
                    Some((_, Outcome::Granted)) => state.hand_on(&self.line.slots),
                    _ => None,
                },
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// `Retry-After` in whole seconds (at least 1) for a prediction with `position` waiting ahead of
/// it, `slots` running at once and runs taking `mean_run_secs` on average: it would start after
/// `position + 1` runs finish, `slots` at a time. A mean that is unknown (0), negative or not a
/// number counts as 0, so the answer is 1.
pub fn retry_after_secs(position: usize, slots: usize, mean_run_secs: f64) -> u64 {
    let mean = if mean_run_secs.is_finite() && mean_run_secs > 0.0 {
        mean_run_secs
    } else {
        0.0
    };
    let runs_ahead = position as f64 + 1.0;
    let estimate = (runs_ahead * mean / slots.max(1) as f64).ceil();
    // `as` saturates for estimates beyond u64.
    (estimate as u64).max(1)
}

/// The measured mean run time of predictions, for `Retry-After`: the plain mean of the first
/// `WINDOW` runs, then a moving average in which each new run weighs `1 / WINDOW`, so it follows
/// a model whose speed changes (warm-up, other load). Shared between threads.
#[derive(Debug, Default)]
pub struct MeanRunTime {
    state: Mutex<(u64, f64)>,
}

impl MeanRunTime {
    /// How many recent runs the moving average spans.
    pub const WINDOW: u64 = 32;

    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, (u64, f64)> {
        // Two numbers updated together: a panic cannot happen between the two writes.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, run: Duration) {
        let mut state = self.lock();
        let (count, mean) = &mut *state;
        *count = count.saturating_add(1);
        let weight = (*count).min(Self::WINDOW) as f64;
        *mean += (run.as_secs_f64() - *mean) / weight;
    }

    /// Seconds, 0 before the first run.
    pub fn mean_secs(&self) -> f64 {
        self.lock().1
    }

    /// The mean, once a run was recorded.
    pub fn mean(&self) -> Option<Duration> {
        let (count, mean) = *self.lock();
        (count > 0).then(|| Duration::from_secs_f64(mean.max(0.0)))
    }

    /// Runs recorded.
    pub fn samples(&self) -> u64 {
        self.lock().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_waker::{poll, CountingWaker};
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;

    fn now(admitted: Admitted) -> SlotPermit {
        match admitted {
            Admitted::Now(permit) => permit,
            other => panic!("expected a slot at once, got {other:?}"),
        }
    }

    fn ticket(admitted: Admitted) -> Ticket {
        match admitted {
            Admitted::Waiting(ticket) => ticket,
            other => panic!("expected a ticket, got {other:?}"),
        }
    }

    #[test]
    fn admit_now_takes_a_free_slot_only_while_nobody_waits() {
        let admission = Admission::new(Slots::new(1), 2);
        let held = admission.admit_now().expect("a free slot");
        assert!(admission.admit_now().is_none());
        let waiter = ticket(admission.admit("w"));
        drop(held);
        // The freed slot is handed to the waiter: a newcomer does not jump the line.
        assert!(admission.admit_now().is_none());
        assert_eq!(admission.slots().in_use(), 1);
        drop(waiter);
        assert!(admission.admit_now().is_some());
    }

    /// A ticket polled once (so it has a waker), with the waker that counts its wake-ups.
    fn polled(admitted: Admitted) -> (Ticket, Arc<CountingWaker>) {
        let mut ticket = ticket(admitted);
        let waker = Arc::new(CountingWaker::default());
        assert!(poll(Pin::new(&mut ticket), &waker).is_pending());
        (ticket, waker)
    }

    fn served(ticket: &mut Ticket, waker: &Arc<CountingWaker>) -> SlotPermit {
        match poll(Pin::new(ticket), waker) {
            Poll::Ready(Ok(permit)) => permit,
            other => panic!("expected a slot, got {other:?}"),
        }
    }

    /// Whether polling the ticket now answers `Canceled`.
    fn canceled(ticket: &mut Ticket, waker: &Arc<CountingWaker>) -> bool {
        matches!(poll(Pin::new(ticket), waker), Poll::Ready(Err(Canceled)))
    }

    #[test]
    fn a_free_slot_with_nobody_waiting_admits_at_once() {
        let admission = Admission::new(Slots::new(2), 4);
        let _a = now(admission.admit("a"));
        let _b = now(admission.admit("b"));
        assert_eq!(admission.slots().in_use(), 2);
        assert_eq!(admission.waiting(), 0);
    }

    #[test]
    fn a_newcomer_never_overtakes_a_waiter() {
        let admission = Admission::new(Slots::new(2), 4);
        let first = now(admission.admit("first"));
        let _second = now(admission.admit("second"));
        let (mut waiter, waker) = polled(admission.admit("waiter"));
        drop(first);
        assert_eq!(waker.wakes(), 1, "the freed slot is handed to the waiter");
        assert_eq!(
            admission.slots().in_use(),
            2,
            "the slot never became free in between"
        );
        // The waiter has not taken its slot yet; a newcomer still cannot have it.
        let (late, _late_waker) = polled(admission.admit("late"));
        assert_eq!(late.position(), Some(0));
        let _permit = served(&mut waiter, &waker);
        assert_eq!(admission.slots().in_use(), 2);
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        let admission = Admission::new(Slots::new(1), 8);
        let running = now(admission.admit("running"));
        let mut line: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|id| polled(admission.admit(id)))
            .collect();
        assert_eq!(admission.position_of("c"), Some(2));
        drop(running);
        assert_eq!(
            line.iter()
                .map(|(_, waker)| waker.wakes())
                .collect::<Vec<_>>(),
            [1, 0, 0],
            "only the first is woken"
        );
        let (b_ticket, b_waker) = &mut line[1];
        assert!(poll(Pin::new(b_ticket), b_waker).is_pending());
        let (a_ticket, a_waker) = &mut line[0];
        let a = served(a_ticket, a_waker);
        assert_eq!(a_ticket.position(), None);
        assert_eq!(admission.position_of("b"), Some(0));
        drop(a);
        let (b_ticket, b_waker) = &mut line[1];
        let b = served(b_ticket, b_waker);
        assert_eq!(line[2].1.wakes(), 0);
        drop(b);
        let (c_ticket, c_waker) = &mut line[2];
        let _c = served(c_ticket, c_waker);
        assert_eq!(admission.waiting(), 0);
        assert_eq!(admission.slots().in_use(), 1);
    }

    #[test]
    fn full_when_max_waiting_wait() {
        let admission = Admission::new(Slots::new(1), 2);
        let _running = now(admission.admit("running"));
        let first = ticket(admission.admit("first"));
        let _second = ticket(admission.admit("second"));
        assert!(matches!(
            admission.admit("third"),
            Admitted::Full { waiting: 2, max: 2 }
        ));
        drop(first);
        assert_eq!(admission.waiting(), 1);
        let again = ticket(admission.admit("third"));
        assert_eq!(again.position(), Some(1));
    }

    #[test]
    fn zero_max_waiting_is_cogs_409() {
        let admission = Admission::new(Slots::new(1), 0);
        let running = now(admission.admit("running"));
        assert!(matches!(
            admission.admit("refused"),
            Admitted::Full { waiting: 0, max: 0 }
        ));
        drop(running);
        let _next = now(admission.admit("next"));
    }

    #[test]
    fn a_dropped_ticket_leaves_the_line_and_its_permit_goes_to_the_next() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let (granted, granted_waker) = polled(admission.admit("granted"));
        let (mut next, next_waker) = polled(admission.admit("next"));
        drop(running);
        assert_eq!(granted_waker.wakes(), 1);
        assert_eq!(next_waker.wakes(), 0);
        // Dropped just as its slot was handed to it, before it took it.
        drop(granted);
        assert_eq!(next_waker.wakes(), 1, "the slot passes on");
        assert_eq!(admission.slots().in_use(), 1);
        let permit = served(&mut next, &next_waker);
        drop(permit);
        assert_eq!(
            admission.slots().in_use(),
            0,
            "nobody waits: the slot is freed"
        );
    }

    #[test]
    fn a_granted_ticket_dropped_with_nobody_behind_frees_its_slot() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let (granted, _waker) = polled(admission.admit("granted"));
        drop(running);
        assert_eq!(admission.slots().in_use(), 1);
        drop(granted);
        assert_eq!(admission.slots().in_use(), 0);
        let _again = now(admission.admit("again"));
    }

    #[test]
    fn a_ticket_dropped_before_its_turn_leaves_at_once() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let ahead = ticket(admission.admit("ahead"));
        let (mut behind, behind_waker) = polled(admission.admit("behind"));
        assert_eq!(behind.position(), Some(1));
        ahead.cancel();
        assert_eq!(admission.waiting(), 1);
        assert_eq!(behind.position(), Some(0));
        drop(running);
        assert_eq!(behind_waker.wakes(), 1);
        let _permit = served(&mut behind, &behind_waker);
    }

    #[test]
    fn cancelling_by_id_resolves_the_ticket_as_canceled() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let (mut gone, waker) = polled(admission.admit("canceled"));
        let (mut other, other_waker) = polled(admission.admit("other"));
        assert!(admission.cancel("canceled"));
        assert!(!admission.cancel("canceled"), "it is no longer waiting");
        assert!(!admission.cancel("unknown"));
        assert_eq!(waker.wakes(), 1);
        assert!(canceled(&mut gone, &waker));
        assert!(
            canceled(&mut gone, &waker),
            "a resolved ticket never gives a permit"
        );
        assert_eq!(other.position(), Some(0));
        drop(running);
        let _permit = served(&mut other, &other_waker);
    }

    #[test]
    fn cancelling_a_ticket_whose_slot_was_just_handed_over_passes_the_slot_on() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let (mut granted, granted_waker) = polled(admission.admit("granted"));
        let (mut next, next_waker) = polled(admission.admit("next"));
        drop(running);
        assert!(admission.cancel("granted"));
        assert_eq!(next_waker.wakes(), 1);
        assert!(canceled(&mut granted, &granted_waker));
        let _permit = served(&mut next, &next_waker);
        assert_eq!(admission.slots().in_use(), 1);
    }

    #[test]
    fn admissions_over_the_same_slots_share_one_line() {
        let slots = Slots::new(1);
        let queueing = Admission::new(slots.clone(), 4);
        let refusing = Admission::new(slots.clone(), 0);
        let running = now(queueing.admit("running"));
        let (mut waiter, waker) = polled(queueing.admit("waiter"));
        assert_eq!(refusing.waiting(), 1);
        drop(running);
        // The freed slot went to the waiter: the other admission finds none free.
        assert!(matches!(refusing.admit("newcomer"), Admitted::Full { .. }));
        let _permit = served(&mut waiter, &waker);
    }

    #[test]
    fn try_acquire_beside_the_line_cannot_overtake_a_waiter() {
        let slots = Slots::new(1);
        let admission = Admission::new(slots.clone(), 4);
        let running = now(admission.admit("running"));
        let (mut waiter, waker) = polled(admission.admit("waiter"));
        drop(running);
        assert!(slots.try_acquire().is_none(), "the slot went to the waiter");
        let permit = served(&mut waiter, &waker);
        drop(permit);
        assert!(
            slots.try_acquire().is_some(),
            "nobody waits: the slot is free"
        );
    }

    #[test]
    fn a_permit_outliving_its_admission_frees_its_slot() {
        let slots = Slots::new(1);
        let permit = now(Admission::new(slots.clone(), 4).admit("alone"));
        assert_eq!(slots.in_use(), 1);
        drop(permit);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn a_ticket_can_be_awaited_from_another_thread() {
        let admission = Admission::new(Slots::new(1), 4);
        let running = now(admission.admit("running"));
        let waiter = ticket(admission.admit("waiter"));
        let served = thread::spawn(move || waiter.wait_blocking().map(|_| ()));
        drop(running);
        assert_eq!(served.join().expect("waiter"), Ok(()));
        assert_eq!(admission.slots().in_use(), 0);
        let mut pinned = pin!(ticket_or_now(&admission));
        assert!(poll(pinned.as_mut(), &Arc::new(CountingWaker::default())).is_ready());
    }

    /// `admit` as a future that is ready at once when a slot is free.
    async fn ticket_or_now(admission: &Admission) -> Result<SlotPermit, Canceled> {
        match admission.admit("async") {
            Admitted::Now(permit) => Ok(permit),
            Admitted::Waiting(ticket) => ticket.await,
            Admitted::Full { .. } => Err(Canceled),
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after_secs(0, 1, 0.0), 1, "unknown mean");
        assert_eq!(retry_after_secs(0, 4, 0.2), 1);
        assert_eq!(retry_after_secs(9, 1, 2.0), 20);
        assert_eq!(retry_after_secs(9, 4, 2.0), 5);
        assert_eq!(retry_after_secs(10, 4, 2.0), 6, "rounded up");
        assert_eq!(retry_after_secs(3, 0, 1.0), 4, "0 slots count as 1");
        assert_eq!(retry_after_secs(3, 2, f64::NAN), 1);
        assert_eq!(retry_after_secs(3, 2, -5.0), 1);
        assert_eq!(retry_after_secs(usize::MAX, 1, f64::MAX), u64::MAX);
        let admission = Admission::new(Slots::new(2), 8);
        let _held: Vec<_> = (0..2)
            .map(|n| now(admission.admit(n.to_string())))
            .collect();
        let _line: Vec<_> = (0..3)
            .map(|n| ticket(admission.admit(n.to_string())))
            .collect();
        assert_eq!(admission.retry_after_secs(10.0), 20);
    }

    #[test]
    fn the_mean_run_time_follows_recent_runs() {
        let mean = MeanRunTime::new();
        assert_eq!(mean.mean(), None);
        assert_eq!(mean.mean_secs(), 0.0);
        mean.record(Duration::from_secs(1));
        mean.record(Duration::from_secs(3));
        assert_eq!(mean.mean(), Some(Duration::from_secs(2)));
        for _ in 0..1000 {
            mean.record(Duration::from_secs(10));
        }
        assert!((mean.mean_secs() - 10.0).abs() < 1e-6);
        assert_eq!(mean.samples(), 1002);
    }

    #[test]
    fn under_contention_no_permit_is_lost_and_none_oversubscribed() {
        const THREADS: usize = 8;
        const ADMISSIONS: usize = 1000;
        const SLOTS: usize = 3;
        let admission = Admission::new(Slots::new(SLOTS), THREADS);
        let alive = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (done, finished) = mpsc::channel();
        for thread_index in 0..THREADS {
            let admission = admission.clone();
            let alive = alive.clone();
            let peak = peak.clone();
            let done = done.clone();
            thread::spawn(move || {
                let (mut ran, mut left, mut full) = (0usize, 0usize, 0usize);
                for n in 0..ADMISSIONS {
                    let permit = match admission.admit(format!("{thread_index}-{n}")) {
                        Admitted::Now(permit) => permit,
                        // Every seventh waiter hangs up, racing the hand-over of a slot.
                        Admitted::Waiting(ticket) if n % 7 == 0 => {
                            thread::yield_now();
                            ticket.cancel();
                            left += 1;
                            continue;
                        }
                        Admitted::Waiting(ticket) => match ticket.wait_blocking() {
                            Ok(permit) => permit,
                            Err(Canceled) => panic!("nobody cancels by id here"),
                        },
                        Admitted::Full { .. } => {
                            full += 1;
                            continue;
                        }
                    };
                    let running = alive.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(running, Ordering::SeqCst);
                    thread::yield_now();
                    alive.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                    ran += 1;
                }
                let _ = done.send((ran, left, full));
            });
        }
        drop(done);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut totals = (0, 0, 0);
        for _ in 0..THREADS {
            let left_to_wait = deadline.saturating_duration_since(std::time::Instant::now());
            let (ran, left, full) = finished
                .recv_timeout(left_to_wait)
                .expect("every thread finishes within a minute: no waiter is stranded");
            totals = (totals.0 + ran, totals.1 + left, totals.2 + full);
        }
        assert_eq!(totals.0 + totals.1 + totals.2, THREADS * ADMISSIONS);
        assert_eq!(totals.2, 0, "each thread waits at most once at a time");
        assert!(totals.0 > 0);
        assert!(totals.1 > 0, "the line was used: some waiters hung up");
        assert!(peak.load(Ordering::SeqCst) <= SLOTS);
        assert_eq!(admission.slots().in_use(), 0, "every slot came back");
        assert_eq!(admission.waiting(), 0);
    }
}
