//! Tokens by number. A predictor running in a worker thread cannot receive a message while it
//! spins in a synchronous loop, so the worker looks its prediction's token up by id in this
//! process-wide table and reads the same atomic flag the server's thread sets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::CancelToken;

#[derive(Default)]
pub struct TokenRegistry {
    next_id: AtomicU32,
    tokens: Mutex<HashMap<u32, CancelToken>>,
}

impl TokenRegistry {
    /// The table shared by every thread of the process (every Node worker included).
    pub fn global() -> &'static TokenRegistry {
        static GLOBAL: OnceLock<TokenRegistry> = OnceLock::new();
        GLOBAL.get_or_init(TokenRegistry::default)
    }

    pub fn register(&self, token: CancelToken) -> u32 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        self.lock().insert(id, token);
        id
    }

    pub fn get(&self, id: u32) -> Option<CancelToken> {
        self.lock().get(&id).cloned()
    }

    pub fn remove(&self, id: u32) -> Option<CancelToken> {
        self.lock().remove(&id)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, CancelToken>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_returns_the_same_token() {
        let registry = TokenRegistry::default();
        let token = CancelToken::new();
        let id = registry.register(token.clone());
        let found = registry.get(id).expect("registered");
        found.cancel();
        assert!(token.is_canceled());
    }

    #[test]
    fn ids_are_distinct_and_removal_forgets() {
        let registry = TokenRegistry::default();
        let a = registry.register(CancelToken::new());
        let b = registry.register(CancelToken::new());
        assert_ne!(a, b);
        assert_eq!(registry.len(), 2);
        assert!(registry.remove(a).is_some());
        assert!(registry.get(a).is_none());
        assert!(registry.remove(a).is_none());
        assert_eq!(registry.len(), 1);
    }
}
