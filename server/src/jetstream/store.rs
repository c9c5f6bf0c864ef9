//! A stream's store, memory or file, behind one concrete type.
//!
//! `StreamStore` has async methods, so it cannot be a trait object; a stream holds
//! this enum instead and every call is one `match`.

use std::collections::BTreeMap;

use bytes::Bytes;
use jetcore_storage::{
    Appended, Durable, Expired, FileStore, MemStore, NewMessage, PurgeRequest, StoreLimits,
    StoreResult, StoreState, StoredMessage, StreamStore, SubjectState, UnixNanos,
};

/// The store of one stream. One per stream, so the size difference between the
/// variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Store {
    /// `storage: memory`.
    Mem(MemStore),
    /// `storage: file`.
    File(FileStore),
}

/// Calls the same method on whichever store this is.
macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Mem($s) => $e,
            Store::File($s) => $e,
        }
    };
}

impl Store {
    /// See [`StreamStore::append`].
    pub fn append(&self, msg: NewMessage) -> StoreResult<Appended> {
        both!(self, s => s.append(msg))
    }

    /// See [`StreamStore::load`].
    pub async fn load(&self, seq: u64) -> StoreResult<StoredMessage> {
        both!(self, s => s.load(seq).await)
    }

    /// See [`StreamStore::load_last`].
    pub async fn load_last(&self, filter: &[u8]) -> StoreResult<StoredMessage> {
        both!(self, s => s.load_last(filter).await)
    }

    /// See [`StreamStore::load_next`].
    pub async fn load_next(&self, filter: &[u8], start: u64) -> StoreResult<Option<StoredMessage>> {
        both!(self, s => s.load_next(filter, start).await)
    }

    /// See [`StreamStore::remove`].
    pub fn remove(&self, seq: u64, erase: bool) -> StoreResult<bool> {
        both!(self, s => s.remove(seq, erase))
    }

    /// See [`StreamStore::purge`].
    pub fn purge(&self, req: &PurgeRequest) -> StoreResult<u64> {
        both!(self, s => s.purge(req))
    }

    /// See [`StreamStore::compact`].
    pub fn compact(&self, seq: u64) -> StoreResult<u64> {
        both!(self, s => s.compact(seq))
    }

    /// See [`StreamStore::set_limits`].
    pub fn set_limits(&self, limits: StoreLimits) -> StoreResult<()> {
        both!(self, s => s.set_limits(limits))
    }

    /// See [`StreamStore::expire`].
    pub fn expire(&self, now: UnixNanos) -> StoreResult<Vec<Expired>> {
        both!(self, s => s.expire(now))
    }

    /// See [`StreamStore::due`].
    pub fn due(&self, now: UnixNanos) -> Vec<Expired> {
        both!(self, s => s.due(now))
    }

    /// See [`StreamStore::next_expiry`].
    pub fn next_expiry(&self) -> Option<UnixNanos> {
        both!(self, s => s.next_expiry())
    }

    /// See [`StreamStore::state`].
    pub fn state(&self) -> StoreState {
        both!(self, s => s.state())
    }

    /// See [`StreamStore::deleted`].
    pub fn deleted(&self) -> Vec<u64> {
        both!(self, s => s.deleted())
    }

    /// See [`StreamStore::subjects_state`].
    pub fn subjects_state(&self, filter: &[u8]) -> BTreeMap<Bytes, SubjectState> {
        both!(self, s => s.subjects_state(filter))
    }

    /// See [`StreamStore::filtered_state`].
    pub fn filtered_state(&self, filter: &[u8], start: u64) -> SubjectState {
        both!(self, s => s.filtered_state(filter, start))
    }

    /// See [`StreamStore::subject_at`].
    pub fn subject_at(&self, seq: u64) -> Option<Bytes> {
        both!(self, s => s.subject_at(seq))
    }

    /// See [`StreamStore::durable`].
    pub fn durable(&self) -> Durable {
        both!(self, s => s.durable())
    }

    /// Flush and close (file stores); a memory store just goes away.
    pub async fn close(&self) -> StoreResult<()> {
        match self {
            Store::Mem(_) => Ok(()),
            Store::File(f) => f.close().await,
        }
    }

    /// True for a memory store (Go accounts memory and file usage separately).
    pub fn is_memory(&self) -> bool {
        matches!(self, Store::Mem(_))
    }
}
