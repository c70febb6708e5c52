use cog_node_core::{SlotPermit, Slots};
use napi_derive::napi;

/// Concurrency slots: `tryAcquire()` gives a permit or null at capacity (Cog answers 409).
#[napi]
pub struct PredictionSlots {
    slots: Slots,
}

#[napi]
impl PredictionSlots {
    #[napi(constructor)]
    pub fn new(capacity: u32) -> Self {
        Self {
            slots: Slots::new(capacity as usize),
        }
    }

    #[napi]
    pub fn try_acquire(&self) -> Option<PredictionSlot> {
        self.slots.try_acquire().map(|permit| PredictionSlot {
            permit: Some(permit),
        })
    }

    #[napi(getter)]
    pub fn capacity(&self) -> u32 {
        u32::try_from(self.slots.capacity()).unwrap_or(u32::MAX)
    }

    #[napi(getter)]
    pub fn in_use(&self) -> u32 {
        u32::try_from(self.slots.in_use()).unwrap_or(u32::MAX)
    }

    #[napi(getter)]
    pub fn full(&self) -> bool {
        self.slots.is_full()
    }
}

/// One held slot. `release()` frees it; releasing twice is harmless.
#[napi]
pub struct PredictionSlot {
    permit: Option<SlotPermit>,
}

impl PredictionSlot {
    pub(crate) fn from_permit(permit: SlotPermit) -> Self {
        Self {
            permit: Some(permit),
        }
    }
}

#[napi]
impl PredictionSlot {
    #[napi]
    pub fn release(&mut self) {
        self.permit.take();
    }
}
