//! Store configuration: limits (shared by both stores) and FileStore options.

use std::path::PathBuf;
use std::time::Duration;

/// What happens when a limit is reached (Go's `DiscardPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscardPolicy {
    /// Remove the oldest messages to make room (Go's default).
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// The retention limits a store enforces itself. A value ≤ 0 (or a zero
/// duration) means unlimited, as in Go's `StreamConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// `max_msgs`.
    pub max_msgs: i64,
    /// `max_bytes`, counted with Go's per-message size formula of the store type.
    pub max_bytes: i64,
    /// `max_age`; messages older than this are removed by [`crate::StreamStore::expire`].
    pub max_age: Duration,
    /// `max_msgs_per_subject`; the oldest message of the subject is removed
    /// (always, whatever `discard` says, unless `discard_new_per_subject`).
    pub max_msgs_per_subject: i64,
    /// `discard`.
    pub discard: DiscardPolicy,
    /// `discard_new_per_subject`: with `discard: new`, refuse a message whose
    /// subject is at `max_msgs_per_subject`.
    pub discard_new_per_subject: bool,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_msgs: -1,
            max_bytes: -1,
            max_age: Duration::ZERO,
            max_msgs_per_subject: -1,
            discard: DiscardPolicy::Old,
            discard_new_per_subject: false,
        }
    }
}

/// When an append counts as done (FileStore only; MemStore is always done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// After the write and an `fdatasync` that covers it — jetcore's default.
    /// Concurrent appends share one write and one `fdatasync` (group commit).
    #[default]
    Always,
    /// After the write reached the file; an `fdatasync` runs every interval
    /// (Go's default behaviour, `sync_interval`).
    Interval(Duration),
    /// After the write reached the file; never `fdatasync` on the write path
    /// (the OS or a later close does it).
    Never,
}

/// Per-block compression (FileStore).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as written.
    #[default]
    None,
    /// lz4 (lz4_flex block format).
    Lz4,
}

/// Encryption at rest (FileStore).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cipher {
    /// Plain text on disk.
    #[default]
    None,
    /// AES-256-GCM with a per-block key derived from this 32-byte key.
    Aes256Gcm([u8; 32]),
    /// ChaCha20-Poly1305 with a per-block key derived from this 32-byte key.
    ChaCha20Poly1305([u8; 32]),
}

/// Everything needed to open a FileStore.
#[derive(Debug, Clone)]
pub struct FileStoreConfig {
    /// The stream's directory; block files go to `<dir>/msgs/`.
    pub dir: PathBuf,
    /// Block files roll when the next write would pass this size. Every block
    /// file is created at this size, zero-filled, so appends never grow a file
    /// (an extending O_DIRECT append + fdatasync costs ~4 ms here, a write into
    /// a zeroed file ~0.15 ms: glommio-notes pitfall 2).
    pub block_size: u64,
    /// When appends are acknowledged.
    pub sync: SyncPolicy,
    /// Compression of sealed blocks.
    pub compression: Compression,
    /// Encryption at rest.
    pub cipher: Cipher,
    /// Byte budget of the decoded-frame read cache.
    pub read_cache_bytes: usize,
}

impl FileStoreConfig {
    /// Defaults for a stream directory: 8 MiB blocks (Go's default block size
    /// for limits streams), `sync: always`, no compression or encryption.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStoreConfig {
            dir: dir.into(),
            block_size: DEFAULT_BLOCK_SIZE,
            sync: SyncPolicy::Always,
            compression: Compression::None,
            cipher: Cipher::None,
            read_cache_bytes: DEFAULT_READ_CACHE_BYTES,
        }
    }
}

/// 8 MiB: Go's `defaultLargeBlockSize`; big enough that block rolls (a file
/// create + zero fill) are rare, small enough to zero-fill in a few ms.
pub const DEFAULT_BLOCK_SIZE: u64 = 8 << 20;
/// Smallest accepted block size: one header sector plus room for frames.
pub const MIN_BLOCK_SIZE: u64 = 64 << 10;
/// 4 MiB of decoded frames per store: a few hundred recent frames, enough for
/// consumers that trail the publishers closely.
pub const DEFAULT_READ_CACHE_BYTES: usize = 4 << 20;
