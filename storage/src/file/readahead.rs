//! Reading ahead of a sequential reader.
//!
//! A consumer replaying a stream reads frames in file order. Each cache miss
//! would make it wait for one O_DIRECT read ([`SEQUENTIAL_READ_AHEAD`] bytes,
//! ~1.4 ms on the VMs we measure on) while it has nothing else to do. So once a
//! sequential read is done, the next window is read in the background, and a
//! reader reaching the first frame of a window read ahead starts the window
//! after it: the disk works one window ahead of the reader.
//!
//! One read-ahead runs per store. It only fills the frame cache: a reader that
//! arrives before it finished waits for it rather than reading the same bytes
//! twice, and a read-ahead that overlapped anything that changes frames on disk
//! (an in-place erase, a removed block, a failed write) caches nothing.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use super::codec::BlockCodec;
use super::format::FRAMES_START;
use super::frames::FrameRef;
use super::io::BlockFile;
use super::{read_frames, Inner, READ_AHEAD, SEQUENTIAL_READ_AHEAD};

/// The read-ahead in flight.
pub(crate) struct ReadAhead {
    /// The frame its window starts at.
    pub at: FrameRef,
    /// Reads of that frame waiting for it.
    pub waiters: Vec<Waker>,
}

/// A read-ahead to start once the caller let go of the store's state: glommio
/// runs a task it spawns right away, up to its first wait, and the task
/// borrows that state.
#[must_use = "a read-ahead does nothing until spawned"]
pub(crate) struct Job(std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);

impl Job {
    /// Runs the read-ahead in the background.
    pub(crate) fn spawn(self) {
        glommio::spawn_local(self.0).detach();
    }
}

/// Prepares reading the window at `from` in the background — unless one is
/// running, the frame cache is too small to hold it next to the window being
/// read, or `from` is in memory already or not written yet. The read-ahead
/// counts as running from here: spawn the returned job.
pub(crate) fn start(shared: &Rc<RefCell<Inner>>, inner: &mut Inner, from: FrameRef) -> Option<Job> {
    if inner.read_ahead.is_some()
        || inner.cfg.read_cache_bytes < 2 * SEQUENTIAL_READ_AHEAD
        || inner.cache.contains(from)
        || inner.inflight.contains_key(&from)
        || inner.open.as_ref().is_some_and(|o| o.at == from)
        || (from.block == inner.cur_block && u64::from(from.offset) >= inner.next_offset)
    {
        return None;
    }
    let block = inner.blocks.get(&from.block)?;
    let file = block.file.clone()?;
    if u64::from(from.offset) >= block.capacity {
        return None;
    }
    let task = run(
        Rc::downgrade(shared),
        file,
        block.codec.clone(),
        from,
        inner.erase_generation,
    );
    inner.read_ahead = Some(ReadAhead {
        at: from,
        waiters: Vec::new(),
    });
    inner.read_ahead_trigger = Some(from);
    inner.stats.reads_ahead += 1;
    Some(Job(Box::pin(task)))
}

/// A reader got to `at`: when that is where the latest read-ahead began, read
/// the window after it (spawn the returned job).
pub(crate) fn reached(shared: &Rc<RefCell<Inner>>, inner: &mut Inner, at: FrameRef) -> Option<Job> {
    if inner.read_ahead_trigger != Some(at) {
        return None;
    }
    inner.read_ahead_trigger = None;
    let end = inner.read_end?;
    start(shared, inner, end)
}

/// Where a sequential reader goes after a window read from `at` whose last
/// complete frame ended at `end`: on in the same block, or — when the window
/// held less than a full window's frames in a block no longer written — to the
/// first frame of the next block.
pub(crate) fn after_window(inner: &Inner, at: FrameRef, end: u32) -> FrameRef {
    let short = (end as usize) + READ_AHEAD < (at.offset as usize) + SEQUENTIAL_READ_AHEAD;
    if short && at.block != inner.cur_block {
        if let Some((&next, _)) = inner.blocks.range(at.block + 1..).next() {
            return FrameRef {
                block: next,
                offset: FRAMES_START as u32,
            };
        }
    }
    FrameRef {
        block: at.block,
        offset: end,
    }
}

/// Whether a read-ahead starting at `at` is in flight (a reader of `at` should
/// wait for it: see [`finished`]).
pub(crate) fn in_flight(inner: &Inner, at: FrameRef) -> bool {
    inner.read_ahead.as_ref().is_some_and(|r| r.at == at)
}

/// Resolves once no read-ahead starting at `at` is in flight.
pub(crate) async fn finished(shared: &RefCell<Inner>, at: FrameRef) {
    std::future::poll_fn(|cx| {
        let mut inner = shared.borrow_mut();
        match inner.read_ahead.as_mut() {
            Some(r) if r.at == at => {
                if !r.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    r.waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    })
    .await
}

/// The background read: verify and decode the window, cache its frames if
/// nothing changed frames on disk meanwhile, wake the readers waiting for it.
async fn run(
    shared: Weak<RefCell<Inner>>,
    file: Rc<BlockFile>,
    codec: Rc<BlockCodec>,
    at: FrameRef,
    generation: u64,
) {
    let read = read_frames(&file, &codec, u64::from(at.offset), SEQUENTIAL_READ_AHEAD).await;
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let mut inner = shared.borrow_mut();
    let waiters = inner
        .read_ahead
        .take()
        .map(|r| r.waiters)
        .unwrap_or_default();
    let unchanged = inner.erase_generation == generation
        && !inner.erasing
        && inner.poisoned.is_none()
        && !inner.closing
        && inner.blocks.contains_key(&at.block);
    // A failed read is not reported here: the reader that needs the frame reads
    // it again and reports what it finds.
    if let (true, Ok((frames, end))) = (unchanged, read) {
        inner.read_end = Some(after_window(&inner, at, end));
        for (offset, frame) in frames {
            let key = FrameRef {
                block: at.block,
                offset,
            };
            inner.cache.insert(key, Rc::new(frame));
        }
    }
    drop(inner);
    for w in waiters {
        w.wake();
    }
}
