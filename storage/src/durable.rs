//! Durability tickets: how an append learns that its bytes are safe.
//!
//! Mutations apply to the store's in-memory state at once (so a caller's
//! precondition check and the append it guards run with no await in between,
//! which makes them atomic on a shard). The bytes are queued for the writer,
//! which turns everything queued into one write and, under `sync: always`, one
//! `fdatasync` (group commit). Each mutation belongs to a numbered *commit
//! epoch*; the writer publishes the highest epoch that is durable, and a
//! [`Durable`] resolves when its epoch is reached — or with the writer's error.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::StoreError;

/// Shared between a store and its writer: which epochs are durable, and who
/// waits for which.
#[derive(Debug, Default)]
pub struct CommitTracker {
    /// Every epoch up to and including this one is durable.
    durable: Cell<u64>,
    /// Set once a write or sync failed; every waiter at or past the failed
    /// epoch gets this error, and so does every later ticket.
    failed: RefCell<Option<(u64, StoreError)>>,
    /// Tasks waiting for an epoch. Few at a time (one per in-flight append),
    /// so a vector scanned on each publish is cheaper than a heap.
    waiters: RefCell<Vec<(u64, Waker)>>,
}

impl CommitTracker {
    /// A tracker with nothing durable yet.
    pub fn new() -> Rc<Self> {
        Rc::new(CommitTracker::default())
    }

    /// The highest durable epoch.
    pub fn durable_epoch(&self) -> u64 {
        self.durable.get()
    }

    /// Marks every epoch up to `epoch` durable and wakes their waiters.
    pub fn publish(&self, epoch: u64) {
        if epoch <= self.durable.get() {
            return;
        }
        self.durable.set(epoch);
        self.wake_up_to(epoch);
    }

    /// Records a failure of `epoch` and everything after it — and of every
    /// epoch not durable yet: nothing is published after a failure, so an
    /// earlier epoch still waiting would wait forever (a frame carries the
    /// epoch of its last mutation, so the mutations before that one in the
    /// failed write have smaller epochs; a coalesced consumer snapshot's epoch
    /// is below the one that was written). Wakes everyone still waiting.
    pub fn fail(&self, epoch: u64, err: StoreError) {
        let epoch = epoch.min(self.durable.get() + 1);
        {
            let mut failed = self.failed.borrow_mut();
            if failed.is_none() {
                *failed = Some((epoch, err));
            }
        }
        self.wake_up_to(u64::MAX);
    }

    /// The failure, if any.
    pub fn failure(&self) -> Option<StoreError> {
        self.failed.borrow().as_ref().map(|(_, e)| e.clone())
    }

    fn wake_up_to(&self, epoch: u64) {
        let ready: Vec<Waker> = {
            let mut waiters = self.waiters.borrow_mut();
            let mut ready = Vec::new();
            waiters.retain(|(e, w)| {
                if *e <= epoch {
                    ready.push(w.clone());
                    false
                } else {
                    true
                }
            });
            ready
        };
        for w in ready {
            w.wake();
        }
    }

    /// Polls for `epoch`. `registered` is the waker this ticket already left
    /// in `waiters` (still there: entries leave only when their epoch is
    /// reached or the writer failed, and then this returns `Ready`).
    fn poll_epoch(
        &self,
        epoch: u64,
        registered: &mut Option<Waker>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), StoreError>> {
        if epoch <= self.durable.get() {
            return Poll::Ready(Ok(()));
        }
        if let Some((failed_epoch, err)) = self.failed.borrow().as_ref() {
            if epoch >= *failed_epoch {
                return Poll::Ready(Err(err.clone()));
            }
        }
        // Re-polled by the same task (a `select` with a timer polls its
        // branches on every wake-up): the entry already there will wake it.
        // Pushing a clone per poll grew the list without bound, and glommio
        // panics once a task has 32767 waker clones. No scan of the list
        // either: that made every append O(waiters).
        if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let waker = cx.waker().clone();
        *registered = Some(waker.clone());
        self.waiters.borrow_mut().push((epoch, waker));
        Poll::Pending
    }
}

/// A future that resolves when a mutation is durable under the store's sync
/// policy, or fails with the error that kept it from being written.
#[must_use = "an append is only safe to acknowledge after its Durable resolves"]
#[derive(Debug)]
pub struct Durable {
    state: DurableState,
}

#[derive(Debug)]
enum DurableState {
    /// Already decided (MemStore, or nothing to wait for).
    Done(Option<Result<(), StoreError>>),
    /// Waiting for an epoch of a FileStore writer.
    Epoch {
        tracker: Rc<CommitTracker>,
        epoch: u64,
        /// The waker this ticket registered with the tracker, if any.
        registered: Option<Waker>,
    },
}

impl Durable {
    /// A ticket that is already durable.
    pub fn ready() -> Self {
        Durable {
            state: DurableState::Done(Some(Ok(()))),
        }
    }

    /// A ticket that already failed.
    pub fn failed(err: StoreError) -> Self {
        Durable {
            state: DurableState::Done(Some(Err(err))),
        }
    }

    /// A ticket for `epoch` of `tracker`.
    pub fn epoch(tracker: Rc<CommitTracker>, epoch: u64) -> Self {
        Durable {
            state: DurableState::Epoch {
                tracker,
                epoch,
                registered: None,
            },
        }
    }
}

impl Future for Durable {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            DurableState::Done(result) => Poll::Ready(result.take().unwrap_or(Ok(()))),
            DurableState::Epoch {
                tracker,
                epoch,
                registered,
            } => tracker.poll_epoch(*epoch, registered, cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;

    #[test]
    fn resolves_in_epoch_order_and_fails_later_epochs() {
        let t = CommitTracker::new();
        let mut a = Durable::epoch(t.clone(), 1);
        let mut b = Durable::epoch(t.clone(), 2);
        let mut c = Durable::epoch(t.clone(), 3);
        assert!(future::block_on(future::poll_once(&mut a)).is_none());
        t.publish(1);
        assert_eq!(future::block_on(future::poll_once(&mut a)), Some(Ok(())));
        assert!(future::block_on(future::poll_once(&mut b)).is_none());
        t.fail(2, StoreError::Closed);
        assert_eq!(
            future::block_on(future::poll_once(&mut b)),
            Some(Err(StoreError::Closed))
        );
        assert_eq!(
            future::block_on(future::poll_once(&mut c)),
            Some(Err(StoreError::Closed))
        );
    }

    /// Regression: a failure reported for a later epoch left the tickets
    /// between the durable epoch and it waiting forever.
    #[test]
    fn failure_fails_every_epoch_not_yet_durable() {
        let t = CommitTracker::new();
        t.publish(4);
        let mut five = Durable::epoch(t.clone(), 5);
        assert!(future::block_on(future::poll_once(&mut five)).is_none());
        t.fail(7, StoreError::Closed);
        assert_eq!(future::block_on(five), Err(StoreError::Closed));
        assert_eq!(future::block_on(Durable::epoch(t.clone(), 4)), Ok(()));
    }

    /// Regression (found by sim-crash seed 3): a ticket polled over and over
    /// by one task (inside a select with a timer) left one waker clone per
    /// poll; glommio aborts the task at 32767 clones.
    #[test]
    fn repolling_a_ticket_registers_one_waker() {
        let t = CommitTracker::new();
        let mut a = Durable::epoch(t.clone(), 1);
        future::block_on(async {
            for _ in 0..100_000 {
                assert!(future::poll_once(&mut a).await.is_none());
            }
        });
        assert_eq!(t.waiters.borrow().len(), 1);
        t.publish(1);
        assert_eq!(future::block_on(a), Ok(()));
    }
}
