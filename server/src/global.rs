//! The little that all shards share: counters and the stop flag.
//!
//! Everything else is per shard. These are atomics because they are process-wide
//! facts: a client id is unique across the server, and `max_connections` limits the
//! whole process, not one core.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use jetcore_router::shutdown::Shutdown;

/// Process-wide state shared by every shard.
#[derive(Default)]
pub struct Global {
    /// Next client id to hand out (Go's ids start at 1 and grow).
    next_cid: AtomicU64,
    /// Client connections open now, across all shards.
    connections: AtomicI64,
    /// Raised on SIGTERM/SIGINT.
    pub shutdown: Shutdown,
    /// Set by core 0 once JetStream has restored its streams and subscribed its API;
    /// until then no core accepts clients (Go restores JetStream before it listens).
    pub jetstream_ready: std::sync::atomic::AtomicBool,
}

impl Global {
    /// A fresh id for a new connection.
    pub fn next_client_id(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Count a new connection unless that would exceed `max`; false means refuse it.
    /// A negative `max` refuses every client, as Go does (`max_connections: 0` in a
    /// config file becomes -1 there).
    pub fn try_add_connection(&self, max: i64) -> bool {
        if max < 0 {
            return false;
        }
        let now = self.connections.fetch_add(1, Ordering::AcqRel) + 1;
        if max > 0 && now > max {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// A connection closed.
    pub fn remove_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// Connections open now.
    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }
}
