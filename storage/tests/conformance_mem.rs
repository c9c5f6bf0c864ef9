//! The store conformance suite (tests/conformance/mod.rs) run against MemStore.

#[macro_use]
mod conformance;

use conformance::StoreFactory;
use jetcore_storage::mem::mem_msg_size;
use jetcore_storage::{MemStore, StoreLimits};

/// Opens MemStores; there is nothing to recover, so `reopen` keeps the store.
struct MemFactory;

impl StoreFactory for MemFactory {
    type Store = MemStore;

    async fn open(&mut self, limits: StoreLimits) -> MemStore {
        MemStore::new(limits)
    }

    fn msg_size(&self, subject: usize, headers: usize, payload: usize) -> u64 {
        mem_msg_size(subject, headers, payload)
    }
}

conformance_suite!(MemFactory, futures_lite::future::block_on);
