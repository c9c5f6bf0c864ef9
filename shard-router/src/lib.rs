//! jetcore's cores: the thread-per-core runtime and the wiring between cores.
//!
//! Everything glommio-specific lives in this crate (and, later, `storage`), so the rest
//! of the server sees only the small types defined here and the runtime could be
//! replaced in two crates.
//!
//! Layout:
//! - [`runtime`]: starts one pinned glommio executor per shard with the settings the
//!   measurements in `docs/architecture.md` require (preempt timer, io_memory sized for
//!   the memlock limit, ring depth), and a watchdog thread that reports stalled shards.
//! - [`mesh`]: bounded channels between every ordered pair of shards, one set per
//!   plane, created on the main thread and connected concurrently inside the shards.
//! - [`net`]: the client listener (one `SO_REUSEPORT` socket per shard) and a TCP stream
//!   split into independently usable read and write halves.
//! - [`time`]: sleeps and timeouts.
//! - [`notify`]: a single-threaded wake-up primitive for tasks on one shard.
//! - [`shutdown`]: a process-wide stop signal that any thread may raise.

pub mod mesh;
pub mod net;
pub mod notify;
pub mod runtime;
pub mod shutdown;
pub mod time;

pub use mesh::{Mesh, PeerGone, PeerReceiver, PeerSender};
pub use runtime::{ShardContext, ShardId, ShardSettings};

/// Errors from starting or wiring the cores.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// An executor thread could not be created or configured.
    #[error("cannot start shard {shard}: {source}")]
    Executor {
        /// The shard that failed.
        shard: usize,
        /// glommio's reason.
        source: glommio::GlommioError<()>,
    },
    /// A shard thread panicked or returned an error.
    #[error("shard {shard} failed: {reason}")]
    ShardFailed {
        /// The shard that failed.
        shard: usize,
        /// What went wrong.
        reason: String,
    },
    /// A socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Run a future to completion on the current shard's executor, in the background.
pub fn spawn<T: 'static>(fut: impl std::future::Future<Output = T> + 'static) {
    glommio::spawn_local(fut).detach();
}

/// Run `work` on the shard's blocking-thread pool and wait for it without blocking
/// the shard: for file-system work that io_uring does not cover and whose time grows
/// with the data (unlinking a deleted stream's files). Not for parallelism.
pub async fn blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(work).await
}

/// Let every other runnable task on this shard run before this one continues.
pub async fn yield_now() {
    futures_lite::future::yield_now().await;
}

/// Let other tasks on this shard run if this one has used up its time slice. Long
/// loops call this so timers and I/O are not starved (glommio pitfall 3).
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await;
}
