//! Per-peer outboxes: where a shard collects items for another shard until the peer's
//! flusher task sends them as one batch.
//!
//! One flusher task per peer owns the channel's send side, so items reach the peer in
//! the order they were pushed (two tasks racing to send on a full channel could swap
//! batches). Readers push and move on; when an outbox grows past [`HIGH_WATER`] items,
//! readers wait for the flusher before reading more from their sockets — that is how a
//! full channel slows down the publishing connection instead of dropping messages.

use std::cell::RefCell;

use jetcore_router::notify::{Event, Notify};
use jetcore_router::PeerSender;

/// Items an outbox may hold before readers wait. Large enough to batch well, small
/// enough that a stalled peer costs bounded memory (a few MB of typical messages).
pub const HIGH_WATER: usize = 4096;

/// Most items sent as one batch. The channel's capacity counts batches, so this bounds
/// what can sit in a channel (1024 × 256 items) and how much a receiver delivers
/// between two chances to slow down for a lagging subscriber.
pub const MAX_BATCH: usize = 256;

/// Items queued for one peer.
pub struct Outbox<T> {
    /// What is waiting to be sent.
    items: RefCell<Vec<T>>,
    /// Wakes the flusher when the outbox goes from empty to non-empty.
    wake_flusher: Notify,
    /// Fired by the flusher after each batch is handed to the channel.
    drained: Event,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox {
            items: RefCell::new(Vec::new()),
            wake_flusher: Notify::new(),
            drained: Event::new(),
        }
    }
}

impl<T: Send + 'static> Outbox<T> {
    /// Queue an item for the peer.
    pub fn push(&self, item: T) {
        let mut items = self.items.borrow_mut();
        items.push(item);
        if items.len() == 1 {
            self.wake_flusher.notify();
        }
    }

    /// Items waiting now.
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wait while the outbox is over the high-water mark.
    pub async fn wait_below_high_water(&self) {
        while self.len() > HIGH_WATER {
            self.drained.wait().await;
        }
    }

    /// The flusher: forever take everything queued and send it as one batch.
    /// Returns when the peer is gone.
    pub async fn run_flusher(&self, sender: PeerSender<Vec<T>>) {
        loop {
            let batch = {
                let mut items = self.items.borrow_mut();
                if items.len() <= MAX_BATCH {
                    std::mem::take(&mut *items)
                } else {
                    items.drain(..MAX_BATCH).collect()
                }
            };
            if batch.is_empty() {
                self.wake_flusher.notified().await;
                continue;
            }
            if sender.send(batch).await.is_err() {
                return;
            }
            self.drained.notify_all();
        }
    }
}
