//! Messages going into and coming out of a store.

use bytes::Bytes;

/// Nanoseconds since the Unix epoch (Go's `time.UnixNano()`), the unit of every
/// timestamp in the store.
pub type UnixNanos = i64;

/// A message to append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    /// The subject it was published on (literal, never empty for streams).
    pub subject: Bytes,
    /// The raw `NATS/1.0` header block, empty when the message has none.
    pub headers: Bytes,
    /// The payload.
    pub payload: Bytes,
    /// The store time; `None` means "now" (the store reads the wall clock). A
    /// raft follower passes the leader's time so replicas agree.
    pub timestamp: Option<UnixNanos>,
    /// Per-message TTL in seconds as Go's `Nats-TTL`: 0 = none, > 0 = expire
    /// that many seconds after `timestamp`, < 0 = never expire (also exempt from
    /// `max_age`).
    pub ttl: i64,
}

/// A stored message as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its stream sequence.
    pub seq: u64,
    /// When it was stored.
    pub timestamp: UnixNanos,
    /// The subject.
    pub subject: Bytes,
    /// The header block (empty when none).
    pub headers: Bytes,
    /// The payload.
    pub payload: Bytes,
}

/// The current wall clock in [`UnixNanos`].
pub fn now_nanos() -> UnixNanos {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        // A clock before 1970 is a broken host; 0 keeps ordering sane.
        Err(_) => 0,
    }
}
