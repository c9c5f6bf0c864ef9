//! Per-peer outboxes: where a shard collects items for another shard until the peer's
//! flusher task sends them as one batch.
//!
//! One flusher task per peer owns the channel's send side, so items reach the peer in
//! the order they were pushed (two tasks racing to send on a full channel could swap
//! batches). Readers push and move on; when an outbox grows past [`HIGH_WATER`] items
//! or [`HIGH_WATER_BYTES`], readers wait for the flusher before reading more from their
//! sockets — that is how a slow peer slows down the publishing connection instead of
//! dropping messages.
//!
//! The channel counts batches, not bytes, so on its own it would hold up to
//! 1024 × [`MAX_BATCH`] messages of any size (a gigabyte of 4 KiB messages) when the
//! peer's core is busier than ours. Each batch therefore carries a [`Ticket`] for its
//! bytes, returned when the peer has handled the batch; the flusher sends nothing more
//! while [`MAX_IN_FLIGHT_BYTES`] are out.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use jetcore_router::notify::{Event, Notify};
use jetcore_router::PeerSender;

/// Items an outbox may hold before readers wait. Large enough to batch well, small
/// enough that a stalled peer costs bounded memory (a few MB of typical messages).
pub const HIGH_WATER: usize = 4096;

/// Bytes an outbox may hold before readers wait: the item bound alone would let 4096
/// large messages (up to `max_payload` each) pile up.
pub const HIGH_WATER_BYTES: usize = 8 << 20;

/// Most items sent as one batch. The channel's capacity counts batches, so this bounds
/// how many items can sit in a channel (1024 × 256) and how much a receiver delivers
/// between two chances to slow down for a lagging subscriber.
pub const MAX_BATCH: usize = 256;

/// Bytes sent to one peer and not yet handled there before the flusher waits. 8 MiB is
/// 2,000 messages of 4 KiB, milliseconds of traffic at full speed and far more than
/// travels during a cross-core wake-up (~50 µs), so a peer that keeps up never makes
/// the flusher wait; the budget only caps what a lagging peer's channel holds.
pub const MAX_IN_FLIGHT_BYTES: usize = 8 << 20;

/// What an outbox item costs in memory while it travels, for the byte bounds above.
pub trait Weighed {
    /// Approximate bytes the item keeps alive.
    fn weight(&self) -> usize;
}

/// A batch on its way to a peer, with the ticket for its bytes. The receiver keeps the
/// ticket until it has handled the items (dropping the batch, or the `ticket` field
/// after moving `items` out, returns the bytes to the sender's budget).
pub struct Batch<T> {
    /// The items, in the order they were pushed.
    pub items: Vec<T>,
    /// Returns the batch's bytes to the sender's in-flight budget when dropped.
    pub ticket: Ticket,
}

/// Bytes one sender has in flight to one peer, shared by the sender's flusher and the
/// tickets of its batches (which are dropped on the peer's thread).
#[derive(Default)]
struct InFlight {
    /// Sum of the weights of batches sent and not yet handled.
    bytes: AtomicUsize,
    /// The flusher, while it waits for `bytes` to fall to the budget.
    flusher: Mutex<Option<Waker>>,
}

impl InFlight {
    /// Wait until at most `limit` bytes are in flight. The waker is registered before
    /// the second look, so a ticket dropped in between cannot be missed.
    async fn wait_at_most(&self, limit: usize) {
        std::future::poll_fn(|cx| {
            if self.bytes.load(Ordering::SeqCst) <= limit {
                return Poll::Ready(());
            }
            *self.flusher.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            if self.bytes.load(Ordering::SeqCst) <= limit {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// A batch's claim on its sender's in-flight budget; dropping it gives the bytes back
/// and wakes the sender's flusher if it waits (glommio wakers accept wakes from other
/// threads).
pub struct Ticket {
    /// The sender's counter.
    in_flight: Arc<InFlight>,
    /// The batch's weight.
    bytes: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let before = self.in_flight.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
        // Only a drop that brings the count back within the budget can end a wait
        // (the flusher waits only while over it, and adds nothing meanwhile), so
        // the usual drop touches no lock.
        if before > MAX_IN_FLIGHT_BYTES && before - self.bytes <= MAX_IN_FLIGHT_BYTES {
            let waiting = self
                .in_flight
                .flusher
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(waker) = waiting {
                waker.wake();
            }
        }
    }
}

/// Items queued for one peer.
pub struct Outbox<T> {
    /// What is waiting to be sent.
    items: RefCell<Vec<T>>,
    /// Sum of the weights of `items`.
    bytes: Cell<usize>,
    /// Bytes sent to the peer and not yet handled there.
    in_flight: Arc<InFlight>,
    /// Wakes the flusher when the outbox goes from empty to non-empty.
    wake_flusher: Notify,
    /// Fired by the flusher after each batch is handed to the channel.
    drained: Event,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox {
            items: RefCell::new(Vec::new()),
            bytes: Cell::new(0),
            in_flight: Arc::default(),
            wake_flusher: Notify::new(),
            drained: Event::new(),
        }
    }
}

impl<T: Weighed + Send + 'static> Outbox<T> {
    /// Queue an item for the peer.
    pub fn push(&self, item: T) {
        self.bytes.set(self.bytes.get() + item.weight());
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

    /// Whether readers should wait before queuing more.
    fn over_high_water(&self) -> bool {
        self.len() > HIGH_WATER || self.bytes.get() > HIGH_WATER_BYTES
    }

    /// Wait while the outbox is over a high-water mark.
    pub async fn wait_below_high_water(&self) {
        while self.over_high_water() {
            self.drained.wait().await;
        }
    }

    /// The flusher: forever take what is queued (at most [`MAX_BATCH`] items) and send
    /// it as one batch, once the peer has handled enough of what was sent before.
    /// Returns when the peer is gone.
    pub async fn run_flusher(&self, sender: PeerSender<Batch<T>>) {
        loop {
            // The taken items stay counted in `bytes` until sent, so readers keep
            // waiting while the flusher waits for the peer.
            let (items, bytes) = {
                let mut items = self.items.borrow_mut();
                if items.len() <= MAX_BATCH {
                    (std::mem::take(&mut *items), self.bytes.get())
                } else {
                    let taken: Vec<T> = items.drain(..MAX_BATCH).collect();
                    let bytes = taken.iter().map(Weighed::weight).sum();
                    (taken, bytes)
                }
            };
            if items.is_empty() {
                self.wake_flusher.notified().await;
                continue;
            }
            self.in_flight.wait_at_most(MAX_IN_FLIGHT_BYTES).await;
            self.in_flight.bytes.fetch_add(bytes, Ordering::SeqCst);
            let ticket = Ticket {
                in_flight: self.in_flight.clone(),
                bytes,
            };
            if sender.send(Batch { items, ticket }).await.is_err() {
                return;
            }
            self.bytes.set(self.bytes.get().saturating_sub(bytes));
            self.drained.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ticket(in_flight: &Arc<InFlight>, bytes: usize) -> Ticket {
        in_flight.bytes.fetch_add(bytes, Ordering::SeqCst);
        Ticket {
            in_flight: in_flight.clone(),
            bytes,
        }
    }

    #[test]
    fn the_flusher_waits_until_the_peer_has_handled_enough() {
        let in_flight = Arc::new(InFlight::default());
        let first = ticket(&in_flight, MAX_IN_FLIGHT_BYTES);
        let second = ticket(&in_flight, 1000);
        let mut wait = Box::pin(in_flight.wait_at_most(MAX_IN_FLIGHT_BYTES));
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut wait)).is_none()
        );
        // Handled on the peer's thread, while the flusher sleeps.
        let peer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(second);
        });
        futures_lite::future::block_on(wait);
        peer.join().expect("peer thread");
        assert_eq!(in_flight.bytes.load(Ordering::SeqCst), MAX_IN_FLIGHT_BYTES);
        drop(first);
        assert_eq!(in_flight.bytes.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_batch_larger_than_the_budget_still_goes_when_nothing_is_in_flight() {
        let in_flight = Arc::new(InFlight::default());
        futures_lite::future::block_on(in_flight.wait_at_most(MAX_IN_FLIGHT_BYTES));
        let big = ticket(&in_flight, 4 * MAX_IN_FLIGHT_BYTES);
        let mut wait = Box::pin(in_flight.wait_at_most(MAX_IN_FLIGHT_BYTES));
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut wait)).is_none()
        );
        drop(big);
        futures_lite::future::block_on(wait);
    }
}
