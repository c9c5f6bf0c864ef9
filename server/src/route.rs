//! What shards say to each other on the data plane.
//!
//! Interest changes, barriers and messages travel on the **same** channel between two
//! shards, in order — like `RS+`/`RMSG` share one route connection in the Go server.
//! If interest travelled on a separate plane, a request could overtake the requester's
//! `SUB` for its reply inbox and the reply would be dropped for lack of interest.

use bytes::Bytes;

/// One item on the data plane between two shards.
#[derive(Debug)]
pub enum DataItem {
    /// A client message for the receiving shard's local subscribers.
    Msg(RoutedMsg),
    /// The sending shard's interest in (subject, queue) changed by `delta` (+1 when its
    /// first local subscription on that key appears, -1 when its last goes away).
    Interest {
        /// Subject filter of the subscriptions.
        subject: Bytes,
        /// Queue group, if the subscriptions are queue subscriptions.
        queue: Option<Bytes>,
        /// +1 or -1.
        delta: i32,
    },
    /// "Reply when everything I sent before this is applied" — lets a client's PONG
    /// promise that its subscriptions are visible on every shard.
    Barrier {
        /// Chosen by the sender, echoed in the ack.
        id: u64,
    },
    /// Answer to a [`DataItem::Barrier`].
    BarrierAck {
        /// The barrier's id.
        id: u64,
    },
}

/// Fixed cost counted per item on top of its bytes (the item itself and its `Bytes`
/// handles), so a stream of tiny items is bounded too.
const ITEM_OVERHEAD: usize = std::mem::size_of::<DataItem>();

impl crate::outbox::Weighed for DataItem {
    fn weight(&self) -> usize {
        ITEM_OVERHEAD
            + match self {
                DataItem::Msg(m) => {
                    m.subject.len()
                        + m.reply.as_ref().map_or(0, Bytes::len)
                        + m.headers.as_ref().map_or(0, Bytes::len)
                        + m.payload.len()
                }
                DataItem::Interest { subject, queue, .. } => {
                    subject.len() + queue.as_ref().map_or(0, Bytes::len)
                }
                DataItem::Barrier { .. } | DataItem::BarrierAck { .. } => 0,
            }
    }
}

/// A published message forwarded to another shard.
#[derive(Debug, Clone)]
pub struct RoutedMsg {
    /// The literal subject it was published to.
    pub subject: Bytes,
    /// Reply subject, if any.
    pub reply: Option<Bytes>,
    /// Header block (`NATS/1.0...\r\n\r\n`) for HPUB, `None` for PUB.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
    /// Deliver to the receiving shard's plain (non-queue) subscribers.
    pub plain: bool,
    /// Queue groups for which the origin chose the receiving shard: deliver to one
    /// local member of each.
    pub queues: Vec<Bytes>,
    /// Times this message was passed on because the chosen shard's queue members had
    /// left meanwhile (bounded, see `Shard::deliver_routed`).
    pub hops: u8,
    /// Who published it, for `$JS.` subjects (the JetStream API needs the requester).
    pub origin: Option<std::sync::Arc<crate::client::RequestInfo>>,
    /// The subject receivers see when it differs from `subject` (consumer
    /// deliveries: routed by deliver subject, shown with the stored subject).
    pub shown: Option<Bytes>,
}

/// Work sent to another shard: run there, on its thread, with its `Shard`.
pub type ShardJob = Box<dyn FnOnce(&std::rc::Rc<crate::shard::Shard>) + Send>;

/// The control plane: shard-level coordination that must not queue behind client data.
pub enum ControlItem {
    /// A shard is stopping (sent during graceful shutdown).
    Stopping,
    /// Run this on the receiving shard (see [`crate::shard::Shard::call_on`]): how the
    /// JetStream meta layer on core 0 creates, inspects and deletes streams that
    /// another core owns.
    Call(ShardJob),
}

impl std::fmt::Debug for ControlItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlItem::Stopping => f.write_str("Stopping"),
            ControlItem::Call(_) => f.write_str("Call(..)"),
        }
    }
}
