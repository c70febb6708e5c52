use cog_node_core::SlotPermit;
use napi_derive::napi;

/// One held slot, from `PredictionAdmission` (admission.rs). `release()` frees it (or hands it to
/// the first waiter); releasing twice is harmless.
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
