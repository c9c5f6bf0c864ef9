//! A process-wide stop signal.
//!
//! Raised from any thread (the signal-handling thread on SIGTERM/SIGINT, or a fatal
//! error in one shard); every shard awaits it in its accept loop and starts a graceful
//! shutdown. glommio wakers are `Send`, so a plain mutex-protected waker list works
//! across executors without a glommio channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Cloneable handle to the shared stop flag.
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Shared state.
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// True once shutdown was requested; never goes back.
    raised: AtomicBool,
    /// Tasks waiting for the flag, woken when it is raised.
    waiters: Mutex<Vec<Waker>>,
}

impl Shutdown {
    /// A new, lowered flag.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask every shard to stop. Idempotent.
    pub fn raise(&self) {
        self.inner.raised.store(true, Ordering::SeqCst);
        let waiters = match self.inner.waiters.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for w in waiters {
            w.wake();
        }
    }

    /// True once [`Shutdown::raise`] was called.
    pub fn is_raised(&self) -> bool {
        self.inner.raised.load(Ordering::SeqCst)
    }

    /// Completes when the flag is raised.
    pub fn wait(&self) -> Wait<'_> {
        Wait { shutdown: self }
    }
}

/// Future returned by [`Shutdown::wait`].
pub struct Wait<'a> {
    /// The flag being waited on.
    shutdown: &'a Shutdown,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutdown.is_raised() {
            return Poll::Ready(());
        }
        if let Ok(mut w) = self.shutdown.inner.waiters.lock() {
            // A select loop polls this repeatedly; keep one entry per task.
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
        }
        // Re-check: `raise` may have run between the first check and the push.
        if self.shutdown.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
