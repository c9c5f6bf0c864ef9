//! The channel mesh: one bounded channel for every ordered pair of shards, per plane.
//!
//! All channels are created on the main thread before the shards start (glommio's
//! `MeshBuilder` shares an `Rc` across threads, so we build our own from
//! `shared_channel` pairs), then each shard connects all of its ends *concurrently*:
//! connecting them one by one deadlocks, because each `connect` waits for its peer
//! (glommio pitfall 7).
//!
//! Channels are bounded: a full channel makes the sender wait, which is how
//! backpressure reaches a publishing connection. Capacity is counted in batches
//! (callers send `Vec`s of messages), so a few hundred slots hold a lot of traffic
//! while keeping memory bounded.

use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};

/// Batches a channel holds before its sender waits. glommio rounds capacity up to a
/// power of two; small capacities collapse throughput when the peer is parked
/// (measured: cap 8 → 76k msg/s, cap 1024 → 6.6M msg/s), so stay large.
pub const CHANNEL_CAPACITY: usize = 1024;

/// The unconnected ends one shard owns, moved into its thread at start.
pub struct MeshEnds<T: Send + 'static> {
    /// `senders[j]` sends to shard j (`None` at our own index).
    senders: Vec<Option<SharedSender<T>>>,
    /// Receivers from each other shard, with the sender's index.
    receivers: Vec<(usize, SharedReceiver<T>)>,
}

/// Create the unconnected mesh for `shards` shards: element i belongs to shard i.
pub fn build<T: Send + 'static>(shards: usize) -> Vec<MeshEnds<T>> {
    let mut ends: Vec<MeshEnds<T>> = (0..shards)
        .map(|_| MeshEnds {
            senders: (0..shards).map(|_| None).collect(),
            receivers: Vec::new(),
        })
        .collect();
    for from in 0..shards {
        for to in 0..shards {
            if from == to {
                continue;
            }
            let (tx, rx) = shared_channel::new_bounded(CHANNEL_CAPACITY);
            ends[from].senders[to] = Some(tx);
            ends[to].receivers.push((from, rx));
        }
    }
    ends
}

/// Send side of the channel to one peer shard.
pub struct PeerSender<T: Send + 'static> {
    /// glommio's connected sender.
    inner: ConnectedSender<T>,
}

/// The peer is gone (its shard has stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("peer shard is gone")]
pub struct PeerGone;

impl<T: Send + 'static> PeerSender<T> {
    /// Send, waiting while the channel is full.
    pub async fn send(&self, item: T) -> Result<(), PeerGone> {
        self.inner.send(item).await.map_err(|_| PeerGone)
    }

    /// Send without waiting. A full channel gives the item back; a gone peer drops it
    /// (nobody is left to receive it).
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        match self.inner.try_send(item) {
            Ok(()) => Ok(()),
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(v))) => {
                Err(TrySendError::Full(v))
            }
            Err(_) => Err(TrySendError::Gone),
        }
    }
}

/// Why [`PeerSender::try_send`] did not send.
#[derive(Debug)]
pub enum TrySendError<T> {
    /// The channel is full; here is the item back.
    Full(T),
    /// The peer shard has stopped.
    Gone,
}

/// Receive side of the channel from one peer shard.
pub struct PeerReceiver<T: Send + 'static> {
    /// Which shard sends on this channel.
    pub from: usize,
    /// glommio's connected receiver.
    inner: ConnectedReceiver<T>,
}

impl<T: Send + 'static> PeerReceiver<T> {
    /// The next item, or `None` once the peer has dropped its sender.
    pub async fn recv(&self) -> Option<T> {
        self.inner.recv().await
    }
}

/// One shard's connected view of a plane of the mesh.
pub struct Mesh<T: Send + 'static> {
    /// `senders[j]` sends to shard j; `None` at our own index.
    pub senders: Vec<Option<PeerSender<T>>>,
    /// One receiver per other shard.
    pub receivers: Vec<PeerReceiver<T>>,
}

impl<T: Send + 'static> MeshEnds<T> {
    /// Connect every end at once (see the module docs for why not one by one).
    pub async fn connect(self) -> Mesh<T> {
        let send_futs = self
            .senders
            .into_iter()
            .map(|s| async move {
                match s {
                    Some(s) => Some(PeerSender {
                        inner: s.connect().await,
                    }),
                    None => None,
                }
            })
            .collect::<Vec<_>>();
        let recv_futs = self
            .receivers
            .into_iter()
            .map(|(from, r)| async move {
                PeerReceiver {
                    from,
                    inner: r.connect().await,
                }
            })
            .collect::<Vec<_>>();
        let (senders, receivers) =
            futures_lite::future::zip(join_all(send_futs), join_all(recv_futs)).await;
        Mesh { senders, receivers }
    }
}

/// Await all futures concurrently, keeping their order.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let tasks: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out = Vec::with_capacity(tasks.len());
    let mut slots: Vec<Option<F::Output>> = (0..tasks.len()).map(|_| None).collect();
    let mut tasks: Vec<Option<_>> = tasks.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, t) in tasks.iter_mut().enumerate() {
            if let Some(fut) = t {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        slots[i] = Some(v);
                        *t = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(slots.into_iter().flatten());
    out
}
