//! Test-only simulation (cargo feature `sim`; never enabled by the server).
//!
//! - [`disk`] — the simulated disk: durable image, pending writes, directory
//!   entries durable only after a directory fsync, power loss with torn and
//!   reordered writes, process kills, injected I/O errors. A store runs on it
//!   through [`crate::Disk::Sim`].
//! - [`crash`] — the crash harness behind `scripts/sim-crash`: random
//!   workloads, power losses at random operations, recovery, checks.
//! - [`corrupt`] — the corruption matrix behind `scripts/corrupt`: one
//!   seeded damage to one file of a stopped store, reopen, classification.
//! - [`Break`] — switches that break the store on purpose, so a test can show
//!   that the harness notices.
//! - [`rng`] — the deterministic generator every decision comes from.

pub mod corrupt;
pub mod crash;
pub mod disk;
pub mod rng;

use std::cell::Cell;

/// A deliberate bug, switched on per thread by [`set_break`] (tests only: the
/// checks compile to nothing without the `sim` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The writer publishes a batch as durable after its write, before the
    /// fdatasync.
    AckBeforeSync,
    /// A new block file's directory is not fsynced after it is created.
    SkipNewBlockDirSync,
    /// Frames are accepted without checking their CRC (at open and on reads).
    SkipChecksum,
    /// Recovery ignores removal echoes: a damaged frame's removal records
    /// are lost with it and nothing notices.
    IgnoreRemovalEcho,
    /// A consumer's first record is written to one slot only.
    OneConsumerCopy,
}

thread_local! {
    /// The deliberate bug active on this thread, if any.
    static BROKEN: Cell<Option<Break>> = const { Cell::new(None) };
}

/// Switches a deliberate bug on (or off with `None`) for stores on this thread.
pub fn set_break(b: Option<Break>) {
    BROKEN.with(|c| c.set(b));
}

/// Whether `b` is switched on for this thread.
pub(crate) fn is_broken(b: Break) -> bool {
    BROKEN.with(|c| c.get()) == Some(b)
}
