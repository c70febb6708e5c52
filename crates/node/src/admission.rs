//! The admission line and the batch former, for JS: `PredictionAdmission` (a slot now, a
//! `WaitingTicket`, or `AdmissionFull` for the 409/429) and `PredictionBatches` (the batch former
//! over the runtime's u32 keys, on this process's monotonic clock). Logic lives in the core.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use cog_node_core::{
    Admission, Admitted, BatchFormer, BatchKey, MeanRunTime, SlotPermit, Slots, Ticket,
};
use napi::bindgen_prelude::Either3;
use napi_derive::napi;

use crate::slots::PredictionSlot;

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Every slot runs and `max` predictions already wait (`max` 0: Cog's 409 at capacity).
#[napi(object)]
pub struct AdmissionFull {
    pub waiting: u32,
    pub max: u32,
    /// Whole seconds (at least 1) a refused client should wait before trying again.
    pub retry_after: u32,
}

/// The slots `admitNow` took, by handle, until `releaseHandle`, of one admission.
struct Held {
    admission: Admission,
    permits: HashMap<u32, SlotPermit>,
    last_handle: u32,
}

/// Every admission's `Held`, by the admission's id: what a prediction takes and gives back on
/// the hot path goes through plain functions (`admissionAdmitNow`, `admissionReleaseHandle`,
/// ~40 ns each), where a method call on the object cost ~450 ns (napi-rs unwraps `this`).
fn held_table() -> MutexGuard<'static, HashMap<u32, Held>> {
    static TABLE: OnceLock<Mutex<HashMap<u32, Held>>> = OnceLock::new();
    TABLE
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

static NEXT_ADMISSION: AtomicU32 = AtomicU32::new(0);

/// A slot now for admission `id`, as a handle for `admissionReleaseHandle`, when one is free and
/// nobody waits; null otherwise (and for an admission no longer alive).
#[napi]
pub fn admission_admit_now(id: u32) -> Option<u32> {
    let mut table = held_table();
    let held = table.get_mut(&id)?;
    let permit = held.admission.admit_now()?;
    // A handle still held (after 2^32 admissions) is skipped, never reused.
    loop {
        held.last_handle = held.last_handle.wrapping_add(1);
        if !held.permits.contains_key(&held.last_handle) {
            break;
        }
    }
    held.permits.insert(held.last_handle, permit);
    Some(held.last_handle)
}

/// Frees the slot `admissionAdmitNow` gave as `handle`; false when it holds none (freed already).
#[napi]
pub fn admission_release_handle(id: u32, handle: u32) -> bool {
    // Dropped after the table's lock: freeing a slot may hand it to a waiting ticket.
    let permit = held_table()
        .get_mut(&id)
        .and_then(|held| held.permits.remove(&handle));
    permit.is_some()
}

/// Slots with a first-in-first-out line in front: `admit(id)` answers a `PredictionSlot` at
/// once, a `WaitingTicket` to await, or `AdmissionFull`.
#[napi]
pub struct PredictionAdmission {
    admission: Admission,
    mean: MeanRunTime,
    /// Its key in the table of `Held` slots (`admissionAdmitNow`).
    id: u32,
}

impl Drop for PredictionAdmission {
    fn drop(&mut self) {
        // Its held slots go with it, as when they were its own field.
        let held = held_table().remove(&self.id);
        drop(held);
    }
}

#[napi]
impl PredictionAdmission {
    /// `capacity` slots (at least 1) and at most `max_waiting` predictions in the line.
    #[napi(constructor)]
    pub fn new(capacity: u32, max_waiting: u32) -> Self {
        let slots = Slots::new(capacity.max(1) as usize);
        let admission = Admission::new(slots, max_waiting as usize);
        let id = NEXT_ADMISSION
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        held_table().insert(
            id,
            Held {
                admission: admission.clone(),
                permits: HashMap::new(),
                last_handle: 0,
            },
        );
        Self {
            admission,
            mean: MeanRunTime::new(),
            id,
        }
    }

    /// Its id for `admissionAdmitNow` and `admissionReleaseHandle`.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// A slot now, as a number for `releaseHandle`, when one is free and nobody waits; null
    /// otherwise (then `admit` answers, with the line). `admit` and `release` of a
    /// `PredictionSlot` object took 5–10 µs a prediction in a loop, most of it making the object
    /// and collecting it (its finalizer): ~4% of the server thread per echo request.
    #[napi]
    pub fn admit_now(&self) -> Option<u32> {
        admission_admit_now(self.id)
    }

    /// Frees the slot `admitNow` gave as `handle`; false when it holds none (freed already).
    #[napi]
    pub fn release_handle(&self, handle: u32) -> bool {
        admission_release_handle(self.id, handle)
    }

    #[napi]
    pub fn admit(&self, id: String) -> Either3<PredictionSlot, WaitingTicket, AdmissionFull> {
        match self.admission.admit(id) {
            Admitted::Now(permit) => Either3::A(PredictionSlot::from_permit(permit)),
            Admitted::Waiting(ticket) => Either3::B(WaitingTicket {
                ticket: Mutex::new(Some(ticket)),
            }),
            Admitted::Full { waiting, max } => Either3::C(AdmissionFull {
                waiting: to_u32(waiting),
                max: to_u32(max),
                retry_after: self.retry_after(),
            }),
        }
    }

    /// Takes the prediction out of the line (its ticket's `wait()` resolves null). False when it
    /// was not waiting.
    #[napi]
    pub fn cancel(&self, id: String) -> bool {
        self.admission.cancel(&id)
    }

    /// How many wait ahead of the prediction (0: it is next); null when it does not wait.
    #[napi]
    pub fn position_of(&self, id: String) -> Option<u32> {
        self.admission.position_of(&id).map(to_u32)
    }

    /// A prediction ran this long: the mean feeds `Retry-After`.
    #[napi]
    pub fn record_run(&self, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            self.mean.record(Duration::from_secs_f64(seconds));
        }
    }

    /// `Retry-After` for a client refused now, from the mean run time, the line and the slots.
    #[napi(getter)]
    pub fn retry_after(&self) -> u32 {
        u32::try_from(self.admission.retry_after_secs(self.mean.mean_secs())).unwrap_or(u32::MAX)
    }

    #[napi(getter)]
    pub fn waiting(&self) -> u32 {
        to_u32(self.admission.waiting())
    }

    #[napi(getter)]
    pub fn max_waiting(&self) -> u32 {
        to_u32(self.admission.max_waiting())
    }

    #[napi(getter)]
    pub fn capacity(&self) -> u32 {
        to_u32(self.admission.slots().capacity())
    }

    #[napi(getter)]
    pub fn in_use(&self) -> u32 {
        to_u32(self.admission.slots().in_use())
    }

    /// Every slot runs a prediction.
    #[napi(getter)]
    pub fn full(&self) -> bool {
        self.admission.slots().is_full()
    }

    /// A free slot, when one is free and nobody waits (a batch takes its slot so).
    #[napi]
    pub fn try_acquire(&self) -> Option<PredictionSlot> {
        if self.admission.waiting() > 0 {
            return None;
        }
        self.admission
            .slots()
            .try_acquire()
            .map(PredictionSlot::from_permit)
    }
}

/// A place in the line. `wait()` resolves with the slot, or null once the prediction left the
/// line (`PredictionAdmission.cancel`, `leave()`).
#[napi]
pub struct WaitingTicket {
    ticket: Mutex<Option<Ticket>>,
}

impl WaitingTicket {
    fn take(&self) -> Option<Ticket> {
        // Only `take` touches it, and it cannot panic while holding the lock.
        self.ticket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

#[napi]
impl WaitingTicket {
    /// The slot, when it is this prediction's turn; null when it left the line. Call it once.
    #[napi]
    pub async fn wait(&self) -> Option<PredictionSlot> {
        let ticket = self.take()?;
        ticket.await.ok().map(PredictionSlot::from_permit)
    }

    /// Leaves the line (before `wait()`); a slot already handed over passes on.
    #[napi]
    pub fn leave(&self) {
        drop(self.take());
    }
}

/// Items (the runtime's u32 keys) waiting to be batched: a batch is due when `max_size` wait or
/// the oldest has waited `max_delay_ms`. See the core's `BatchFormer`.
#[napi]
pub struct PredictionBatches {
    former: BatchFormer<u32>,
    keys: HashMap<u32, BatchKey>,
}

#[napi]
impl PredictionBatches {
    #[napi(constructor)]
    pub fn new(max_size: u32, max_delay_ms: f64) -> Self {
        let delay = if max_delay_ms.is_finite() && max_delay_ms > 0.0 {
            Duration::from_secs_f64(max_delay_ms / 1000.0)
        } else {
            Duration::ZERO
        };
        Self {
            former: BatchFormer::new(max_size as usize, delay),
            keys: HashMap::new(),
        }
    }

    /// Adds an item that arrives now. A key already waiting is left where it is.
    #[napi]
    pub fn push(&mut self, key: u32) {
        if self.keys.contains_key(&key) {
            return;
        }
        let batch_key = self.former.push(key, Instant::now());
        self.keys.insert(key, batch_key);
    }

    /// Takes the item out before its batch forms; false when it was not waiting.
    #[napi]
    pub fn remove(&mut self, key: u32) -> bool {
        match self.keys.remove(&key) {
            Some(batch_key) => self.former.remove(batch_key).is_some(),
            None => false,
        }
    }

    /// The due batch, oldest first; null while none is due.
    #[napi]
    pub fn take_ready(&mut self) -> Option<Vec<u32>> {
        let batch = self.former.take_ready(Instant::now())?;
        self.forget(&batch);
        Some(batch)
    }

    /// The oldest `max_size` at most, due or not; null when nothing waits.
    #[napi]
    pub fn flush(&mut self) -> Option<Vec<u32>> {
        let batch = self.former.flush()?;
        self.forget(&batch);
        Some(batch)
    }

    /// Milliseconds until the next batch is due (0: due now); null when nothing waits.
    #[napi]
    pub fn ms_until_deadline(&self) -> Option<f64> {
        let deadline = self.former.next_deadline()?;
        Some(
            deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                * 1000.0,
        )
    }

    #[napi(getter)]
    pub fn length(&self) -> u32 {
        to_u32(self.former.len())
    }

    #[napi(getter)]
    pub fn max_size(&self) -> u32 {
        to_u32(self.former.max_size())
    }

    fn forget(&mut self, batch: &[u32]) {
        for key in batch {
            self.keys.remove(key);
        }
    }
}
