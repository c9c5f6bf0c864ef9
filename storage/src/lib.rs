//! jetcore-storage: the stream store every JetStream stream (and later every
//! raft log) stands on.
//!
//! Layout:
//! - [`store`] — the [`StreamStore`] trait and its contract.
//! - [`mem`] — [`MemStore`], messages in memory.
//! - [`file`] — [`FileStore`], blocks of checksummed frames on io_uring
//!   (glommio DMA files), group commit, recovery. Byte layout in
//!   `docs/storage-format.md`.
//! - `ledger` — the in-memory state machine both stores share: sequences,
//!   subjects, limits, purge, expiry. One copy of those rules, so the stores
//!   cannot disagree.
//! - [`consumer_file`] — a consumer's state file: two alternating checksummed slots.
//! - [`durable`] — tickets that resolve when a mutation is durable.
//! - [`expiry`] — driving `max_age`/TTL expiry from the store's next deadline.
//! - [`config`], [`state`], [`message`], [`error`] — the vocabulary.
//! - [`subject`] — subject syntax and wildcard matching (shared with the server).
//! - `sim` (cargo feature `sim`, tests only) — the simulated disk, the
//!   switches that break the store on purpose, and the crash harness behind
//!   `scripts/sim-crash`.
//!
//! A store lives on the core that owns its stream and is not `Send`.

/// `true` when the deliberate bug `crate::sim::Break::$b` is switched on for
/// this thread; a constant `false` in builds without the `sim` feature, so a
/// server build carries no trace of the switches. Defined before the modules
/// so that every one of them can use it.
macro_rules! broken {
    ($b:ident) => {{
        #[cfg(feature = "sim")]
        {
            $crate::sim::is_broken($crate::sim::Break::$b)
        }
        #[cfg(not(feature = "sim"))]
        {
            false
        }
    }};
}

pub mod config;
pub mod consumer_file;
pub mod durable;
pub mod error;
pub mod expiry;
pub mod file;
pub(crate) mod ledger;
pub mod mem;
pub mod message;
#[cfg(feature = "sim")]
pub mod sim;
pub mod state;
pub mod store;
pub mod subject;

pub use config::{
    Cipher, Compression, DiscardPolicy, FileStoreConfig, StoreLimits, SyncPolicy,
    DEFAULT_BLOCK_SIZE, MIN_BLOCK_SIZE,
};
pub use consumer_file::{
    remove_consumer_dir, remove_consumer_leftovers, ConsumerFileConfig, ConsumerFileStats,
    ConsumerStateFile,
};
pub use durable::Durable;
pub use error::{StoreError, StoreResult};
pub use file::{Disk, FileStore, IoStats};
pub use mem::MemStore;
pub use message::{now_nanos, NewMessage, StoredMessage, UnixNanos};
pub use state::{Expired, PurgeRequest, StoreState, SubjectState};
pub use store::{Appended, StreamStore};
