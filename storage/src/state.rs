//! What a store reports about itself.

use crate::message::UnixNanos;

/// Go's `StreamState` as far as a store knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreState {
    /// Live messages.
    pub messages: u64,
    /// Their size, counted with Go's formula for this store type.
    pub bytes: u64,
    /// Sequence of the oldest live message; `last_seq + 1` when empty.
    pub first_seq: u64,
    /// Its timestamp; 0 when empty.
    pub first_ts: UnixNanos,
    /// The highest sequence ever assigned (kept after purges).
    pub last_seq: u64,
    /// Its timestamp; 0 when nothing was stored.
    pub last_ts: UnixNanos,
    /// Distinct subjects among live messages.
    pub num_subjects: u64,
    /// Sequences between `first_seq` and `last_seq` with no live message.
    pub num_deleted: u64,
}

/// Go's `SimpleState` for one subject (or a filter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// Live messages on the subject.
    pub messages: u64,
    /// Its first live sequence.
    pub first_seq: u64,
    /// Its last live sequence.
    pub last_seq: u64,
}

/// Go's `PurgeEx(subject, seq, keep)` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeRequest {
    /// Only messages whose subject matches this filter (wildcards allowed);
    /// `None` = all.
    pub filter: Option<bytes::Bytes>,
    /// Purge messages with a sequence *below* this one.
    pub up_to_seq: Option<u64>,
    /// Keep this many of the newest messages (per the filter).
    pub keep: Option<u64>,
}

/// A message removed by [`crate::StreamStore::expire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Its sequence.
    pub seq: u64,
    /// Its subject.
    pub subject: bytes::Bytes,
    /// True when it was the subject's last live message (the stream layer
    /// then writes a subject delete marker when configured to).
    pub was_last_for_subject: bool,
}
