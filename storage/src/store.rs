//! The [`StreamStore`] trait: what a stream needs from its storage.
//!
//! Contract shared by every implementation (and checked by the conformance
//! suite in `tests/conformance/mod.rs` against MemStore and FileStore alike):
//!
//! * Sequences start at 1 (or at the `first_seq` set with [`StreamStore::compact`]
//!   on an empty store) and grow by one per append; they are never reused,
//!   except after [`StreamStore::truncate`], which exists for raft.
//! * Mutations (`append`, `remove`, `purge`, `compact`, `truncate`,
//!   `set_limits`, `expire`) change the in-memory state before they return and
//!   never await, so a caller's checks and the mutation they guard are atomic on
//!   a shard. Their durability is a separate future: [`Appended::durable`] or
//!   [`StreamStore::durable`]. A refused mutation (an `Err`) changes nothing.
//! * Durability is per mutation and in order: a ticket covers its mutation
//!   and every one before it. After a crash the store shows the state after
//!   some mutation at or past the last acknowledged one — never a mutation
//!   in part (its records go to disk in one frame, or its removals are
//!   re-derived from the limits at open), never a later one without an
//!   earlier one. What a reopened store shows is durable from then on.
//! * After a failed write or fdatasync, the failed batch's tickets and every
//!   later one fail with the error (nothing is acknowledged after a failed
//!   sync, and the sync is not retried: Linux reports a writeback error once
//!   and then calls the pages clean). The store then *fences itself
//!   completely*: every call — reads too — fails with
//!   [`crate::StoreError::Poisoned`] until it is reopened, because its
//!   in-memory state is ahead of the disk and would serve messages that were
//!   never acknowledged and may be gone after a restart. Reopening recovers
//!   what the files hold and makes it durable before accepting work
//!   (`file/recovery.rs`).
//! * Reads are async because a FileStore may have to go to disk; they never
//!   return a message whose checksum failed.
//! * Nothing here panics on any input.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::config::StoreLimits;
use crate::durable::Durable;
use crate::error::StoreResult;
use crate::message::{NewMessage, StoredMessage, UnixNanos};
use crate::state::{Expired, PurgeRequest, StoreState, SubjectState};

/// The result of an append.
#[derive(Debug)]
pub struct Appended {
    /// The sequence the message got.
    pub seq: u64,
    /// The timestamp it was stored with.
    pub timestamp: UnixNanos,
    /// Resolves when the message (and everything before it) is durable.
    pub durable: Durable,
}

/// A stream's message store. Not `Send`: a store lives on the core that owns
/// its stream.
#[allow(async_fn_in_trait)]
pub trait StreamStore {
    /// Appends a message. Limits are enforced first for `discard: new` (an
    /// error changes nothing) and after the append for `discard: old`
    /// (removing the oldest messages, or the subject's oldest for
    /// `max_msgs_per_subject`).
    fn append(&self, msg: NewMessage) -> StoreResult<Appended>;

    /// The message with this sequence.
    async fn load(&self, seq: u64) -> StoreResult<StoredMessage>;

    /// The newest message whose subject matches `filter` (wildcards allowed).
    async fn load_last(&self, filter: &[u8]) -> StoreResult<StoredMessage>;

    /// The first message at or after `start` whose subject matches `filter`
    /// (`>` matches everything); `None` when there is none.
    async fn load_next(&self, filter: &[u8], start: u64) -> StoreResult<Option<StoredMessage>>;

    /// Removes one message; `erase` also overwrites its bytes on disk (the
    /// FileStore does that in place once the removal is durable, crash-safely;
    /// see `file/erase.rs`). Returns false when there was no such live message.
    fn remove(&self, seq: u64, erase: bool) -> StoreResult<bool>;

    /// Go's `PurgeEx`: removes messages matching the request; returns how many.
    fn purge(&self, req: &PurgeRequest) -> StoreResult<u64>;

    /// Removes every message below `seq`; on a store whose last sequence is
    /// below `seq` this also moves `first_seq` to `seq` (how a stream's
    /// `first_seq` is set). Returns how many were removed.
    fn compact(&self, seq: u64) -> StoreResult<u64>;

    /// Removes every message above `seq` and makes `seq` the last sequence
    /// (raft log truncation). As in Go, `seq` need not hold a message, and a
    /// `seq` above the last sequence raises it; 0 empties the store, which then
    /// continues at 1.
    fn truncate(&self, seq: u64) -> StoreResult<()>;

    /// Replaces the limits and enforces them at once (`discard: old` removals
    /// happen now; a `max_age` cut waits for the next [`StreamStore::expire`]).
    fn set_limits(&self, limits: StoreLimits) -> StoreResult<()>;

    /// Removes messages whose `max_age` or TTL passed by `now`, in the order
    /// they were removed (`max_age` first, then TTLs by deadline).
    fn expire(&self, now: UnixNanos) -> StoreResult<Vec<Expired>>;

    /// What [`StreamStore::expire`] would remove at `now`, in the same order and
    /// with the same `was_last_for_subject`, removing nothing — so a caller can look
    /// at those messages first (the stream layer reads their headers).
    fn due(&self, now: UnixNanos) -> Vec<Expired>;

    /// When [`StreamStore::expire`] next has something to do (a timer target).
    fn next_expiry(&self) -> Option<UnixNanos>;

    /// The counters.
    fn state(&self) -> StoreState;

    /// Deleted sequences between first and last, ascending.
    fn deleted(&self) -> Vec<u64>;

    /// Per-subject state of live subjects matching `filter`.
    fn subjects_state(&self, filter: &[u8]) -> BTreeMap<Bytes, SubjectState>;

    /// Live messages at or after `start` whose subject matches `filter` (`>` or
    /// empty = all): their count and first/last sequences (0 when none). What a
    /// consumer reports as `num_pending`; linear in the messages after `start`
    /// unless the filter is `>` and `start` is at or below the first sequence.
    fn filtered_state(&self, filter: &[u8], start: u64) -> SubjectState;

    /// The subject of the live message at `seq` (from the index: no disk read).
    fn subject_at(&self, seq: u64) -> Option<Bytes>;

    /// Resolves when every mutation made so far is durable.
    fn durable(&self) -> Durable;
}
