//! Traffic counters for monitoring (`/varz`, `/connz`).
//!
//! Every counter is a plain `Cell` owned by one core: a message is counted once, on
//! its connection, and a closing connection's counts move to its shard's totals.
//! Nothing is shared between cores, so counting costs two additions per message and
//! no atomic traffic; `/varz` adds up each shard's open connections and totals
//! through cross-core calls when someone asks.
//!
//! What is counted follows the Go server: a message a client publishes counts as
//! *in* on that client and its server, a message written to a client counts as *out*.
//! Sizes are header block plus payload (Go's `len(msg) - CRLF`). Internal subscribers
//! (streams, the JetStream API) are not clients and count nothing themselves.

use std::cell::Cell;

/// Messages and bytes in one direction.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Messages.
    msgs: Cell<u64>,
    /// Header plus payload bytes of those messages.
    bytes: Cell<u64>,
}

impl Traffic {
    /// Count one message of `bytes` bytes.
    #[inline]
    pub fn add(&self, bytes: usize) {
        self.msgs.set(self.msgs.get().wrapping_add(1));
        self.bytes.set(self.bytes.get().wrapping_add(bytes as u64));
    }

    /// Add `other`'s counts to these (a closed connection's, kept in its shard's).
    pub fn absorb(&self, other: &Traffic) {
        self.msgs.set(self.msgs.get().wrapping_add(other.msgs()));
        self.bytes.set(self.bytes.get().wrapping_add(other.bytes()));
    }

    /// Messages so far.
    pub fn msgs(&self) -> u64 {
        self.msgs.get()
    }

    /// Bytes so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }
}

/// One connection's traffic.
#[derive(Debug, Default)]
pub struct ConnStats {
    /// What the client published.
    pub inbound: Traffic,
    /// What was delivered to the client.
    pub outbound: Traffic,
    /// Times a publisher was held back because this client was slow to read (Go's
    /// per-client `stalls` in `/connz`).
    pub stalls: Cell<u64>,
}

/// One shard's running totals. They outlive the connections, so closed clients'
/// traffic stays in `/varz` as in Go.
#[derive(Debug, Default)]
pub struct ShardStats {
    /// Messages published by this shard's clients that have closed (a client's
    /// counts move here when it closes; open clients keep their own, so a message
    /// is counted once, on its connection).
    pub inbound: Traffic,
    /// Messages delivered to this shard's clients that have closed.
    pub outbound: Traffic,
    /// Connections accepted by this shard since start (Go's `total_connections`).
    pub total_connections: Cell<u64>,
    /// Clients closed as slow consumers (pending bytes or write deadline).
    pub slow_consumers: Cell<u64>,
    /// Clients closed for unanswered PINGs.
    pub stale_connections: Cell<u64>,
    /// Times a fast producer was held back for a slow subscriber (Go's
    /// `stalled_clients`).
    pub stalls: Cell<u64>,
}

impl ShardStats {
    /// Add one to a counter.
    #[inline]
    pub fn bump(counter: &Cell<u64>) {
        counter.set(counter.get().wrapping_add(1));
    }
}

/// A copy of one shard's figures, sent across cores to the monitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardSnapshot {
    /// Shard index.
    pub shard: usize,
    /// Open client connections.
    pub connections: u64,
    /// Client subscriptions (not the server's internal ones).
    pub subscriptions: u64,
    /// Messages published by its clients, open and closed.
    pub in_msgs: u64,
    /// Bytes of those.
    pub in_bytes: u64,
    /// Messages delivered to its clients, open and closed.
    pub out_msgs: u64,
    /// Bytes of those.
    pub out_bytes: u64,
    /// `ShardStats::total_connections`.
    pub total_connections: u64,
    /// `ShardStats::slow_consumers`.
    pub slow_consumers: u64,
    /// `ShardStats::stale_connections`.
    pub stale_connections: u64,
    /// `ShardStats::stalls`.
    pub stalls: u64,
    /// Entries in the shard's subject index (clients' and internal subscriptions).
    pub sublist_entries: u64,
    /// Items waiting in the shard's outboxes to other cores (channel depth).
    pub outbox_depth: u64,
    /// Streams this shard owns.
    pub streams: u64,
}

impl ShardSnapshot {
    /// Sum of many shards' figures (`shard` is left 0).
    pub fn total(shards: &[ShardSnapshot]) -> ShardSnapshot {
        shards
            .iter()
            .fold(ShardSnapshot::default(), |a, s| ShardSnapshot {
                shard: 0,
                connections: a.connections + s.connections,
                subscriptions: a.subscriptions + s.subscriptions,
                in_msgs: a.in_msgs + s.in_msgs,
                in_bytes: a.in_bytes + s.in_bytes,
                out_msgs: a.out_msgs + s.out_msgs,
                out_bytes: a.out_bytes + s.out_bytes,
                total_connections: a.total_connections + s.total_connections,
                slow_consumers: a.slow_consumers + s.slow_consumers,
                stale_connections: a.stale_connections + s.stale_connections,
                stalls: a.stalls + s.stalls,
                sublist_entries: a.sublist_entries + s.sublist_entries,
                outbox_depth: a.outbox_depth + s.outbox_depth,
                streams: a.streams + s.streams,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_counts_messages_and_bytes() {
        let t = Traffic::default();
        t.add(10);
        t.add(0);
        assert_eq!((t.msgs(), t.bytes()), (2, 10));
    }

    #[test]
    fn totals_add_every_field() {
        let a = ShardSnapshot {
            shard: 1,
            connections: 1,
            in_msgs: 2,
            out_bytes: 3,
            streams: 1,
            ..Default::default()
        };
        let t = ShardSnapshot::total(&[a, a]);
        assert_eq!(
            (t.shard, t.connections, t.in_msgs, t.out_bytes, t.streams),
            (0, 2, 4, 6, 2)
        );
    }
}
