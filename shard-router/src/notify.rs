//! A wake-up flag for tasks on one shard.
//!
//! A connection's writer task sleeps on one of these; whoever appends to the
//! connection's outbound buffer calls [`Notify::notify`]. It is single-threaded (no
//! atomics) because both sides always live on the same shard. A notification sent while
//! nobody waits is remembered, so a wake-up is never lost between a check and a wait.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// See the module documentation.
#[derive(Default)]
pub struct Notify {
    /// Set by `notify`, consumed by the next `notified` that completes.
    pending: Cell<bool>,
    /// The task waiting, if any. One waiter is enough: each flag has one owner task.
    waiter: RefCell<Option<Waker>>,
}

impl Notify {
    /// A new flag with no pending notification.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wake the waiter, or remember the notification for the next wait.
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(w) = self.waiter.borrow_mut().take() {
            w.wake();
        }
    }

    /// Wait until notified (returns at once if a notification is pending).
    pub fn notified(&self) -> Notified<'_> {
        Notified { notify: self }
    }
}

/// Future returned by [`Notify::notified`].
pub struct Notified<'a> {
    /// The flag being waited on.
    notify: &'a Notify,
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.pending.replace(false) {
            return Poll::Ready(());
        }
        *self.notify.waiter.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A broadcast wake-up for several tasks on one shard: every task waiting when
/// [`Event::notify_all`] runs is woken. Used where many readers wait for one flusher.
#[derive(Default)]
pub struct Event {
    /// Bumped by each `notify_all`; a waiter completes once it changes.
    generation: Cell<u64>,
    /// Wakers of the tasks waiting now.
    waiters: RefCell<Vec<Waker>>,
}

impl Event {
    /// A new event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wake everyone waiting now.
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Wait for the next `notify_all`.
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            seen: self.generation.get(),
        }
    }
}

/// Future returned by [`Event::wait`].
pub struct EventWait<'a> {
    /// The event.
    event: &'a Event,
    /// Generation when the wait began.
    seen: u64,
}

impl Future for EventWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.event.generation.get() != self.seen {
            return Poll::Ready(());
        }
        let mut w = self.event.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
