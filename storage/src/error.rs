//! Errors of the stream store.
//!
//! Every variant says what the caller can do about it. The JetStream layer maps
//! the limit variants to Go's API errors (`ErrMaxMsgs` → 10077 etc.); the rest
//! are storage failures that the stream reports and, when state may be unknown,
//! treats as fatal for the store (see [`StoreError::Poisoned`]).

use std::path::PathBuf;

/// What went wrong in a store operation.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// `discard: new` and the stream holds `max_msgs` messages (Go: `ErrMaxMsgs`).
    #[error("maximum messages exceeded")]
    MaxMsgs,
    /// `discard: new` and the message would exceed `max_bytes` (Go: `ErrMaxBytes`).
    #[error("maximum bytes exceeded")]
    MaxBytes,
    /// `discard: new` with `discard_new_per_subject` and the subject is full
    /// (Go: `ErrMaxMsgsPerSubject`).
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    /// The sequence was never stored, was removed, or lies outside the store.
    #[error("no message found")]
    NotFound,
    /// A request that makes no sense for the store's state (e.g. truncate to a
    /// sequence that holds no message, or purge with both `seq` and `keep`).
    #[error("invalid sequence or request: {0}")]
    Invalid(&'static str),
    /// The message lies in a range that failed its checksum at open; it is not
    /// served rather than served wrong.
    #[error("message {seq} lies in a corrupt range of {path}")]
    Corrupt {
        /// The sequence that was asked for.
        seq: u64,
        /// The block file holding the damaged range.
        path: PathBuf,
    },
    /// The store was closed.
    #[error("store is closed")]
    Closed,
    /// A write or sync failed earlier; the in-memory state may be ahead of the
    /// disk, so the store refuses every further operation, reads included,
    /// until it is reopened (reopening recovers what the files hold and makes
    /// it durable before accepting work).
    #[error("store failed earlier and must be reopened: {0}")]
    Poisoned(String),
    /// An I/O error with the file it happened on.
    #[error("{op} {path}: {message}")]
    Io {
        /// What was being done (`write`, `fdatasync`, `open`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error text (kept as text so the error stays `Clone`).
        message: String,
        /// The raw OS error number when there is one (ENOSPC = 28).
        errno: Option<i32>,
    },
    /// A file's content is not what this version writes (bad magic, unknown
    /// format version, header checksum mismatch).
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The encryption key does not open the store.
    #[error("{path}: wrong encryption key or cipher")]
    WrongKey {
        /// The first file the key failed on.
        path: PathBuf,
    },
}

impl StoreError {
    /// Builds [`StoreError::Io`] from an OS error.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            message: err.to_string(),
            errno: err.raw_os_error(),
        }
    }

    /// True for "the disk is full" — the append failed and nothing was acknowledged.
    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::Io { errno: Some(e), .. } if *e == libc::ENOSPC)
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
