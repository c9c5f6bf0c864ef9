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
//!
//! A store lives on the core that owns its stream and is not `Send`.

pub mod config;
pub mod consumer_file;
pub mod durable;
pub mod error;
pub mod expiry;
pub mod file;
pub(crate) mod ledger;
pub mod mem;
pub mod message;
pub mod state;
pub mod store;
pub mod subject;

pub use config::{Cipher, Compression, DiscardPolicy, FileStoreConfig, StoreLimits, SyncPolicy};
pub use consumer_file::{
    remove_consumer_dir, ConsumerFileConfig, ConsumerFileStats, ConsumerStateFile,
};
pub use durable::Durable;
pub use error::{StoreError, StoreResult};
pub use file::{FileStore, IoStats};
pub use mem::MemStore;
pub use message::{now_nanos, NewMessage, StoredMessage, UnixNanos};
pub use state::{Expired, PurgeRequest, StoreState, SubjectState};
pub use store::{Appended, StreamStore};
