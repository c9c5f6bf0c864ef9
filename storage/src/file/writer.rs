//! The group-commit writer: one task per store.
//!
//! It sleeps until a mutation wakes it, then seals the open frame and takes
//! every queued frame: one contiguous, sector-aligned write per block touched
//! (the partial last sector is kept in memory and rewritten with the new
//! bytes, so nothing is read back), then under `sync: always` one `fdatasync`
//! per file, then the epochs of those frames are published as durable. Every
//! mutation made while this runs lands in the next batch. After a durable
//! write, blocks before the current one that hold no live message are removed.
//!
//! On a write or sync error the store is poisoned: every waiter whose epoch is
//! not durable yet gets the error, and the store refuses all work, reads
//! included, until reopened (see the contract in `store.rs`). The failed sync
//! is never retried: after a failed `fdatasync` the kernel may already have
//! dropped the data while a retry would report success ("fsyncgate"), so only
//! a reopen — which writes the last write again and syncs it — can make those
//! bytes durable.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use glommio::task::JoinHandle;

use crate::config::SyncPolicy;
use crate::error::StoreResult;

use super::format::{FRAMES_START, SECTOR};
use super::io::BlockFile;
use super::{round_up, Inner, SealedFrame};

/// The writer's view of the block being appended to: the sector-aligned
/// position of the partial last sector and the bytes in it so far.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    pub block: u32,
    pub pos: u64,
    pub bytes: Vec<u8>,
}

impl Tail {
    /// The tail of a block whose data ends at `end` (`data` holds the block
    /// from offset 0 at least up to `end`).
    pub(crate) fn at_end(block: u32, end: u64, data: &[u8]) -> Tail {
        let pos = end / SECTOR * SECTOR;
        let bytes = data
            .get(pos as usize..end as usize)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Tail { block, pos, bytes }
    }

    fn end(&self) -> u64 {
        self.pos + self.bytes.len() as u64
    }
}

/// Publishes durability up to `epoch`, but not past a mutation whose
/// secure erase is still pending (its caller waits for the overwrite).
fn publish_up_to(i: &Inner, epoch: u64) {
    let held = i
        .erase_jobs
        .iter()
        .map(|j| j.epoch.saturating_sub(1))
        .min()
        .unwrap_or(u64::MAX);
    i.tracker.publish(epoch.min(held));
}

/// What the writer does next.
enum Work {
    /// Write these frames (one batch).
    Frames(Vec<SealedFrame>),
    /// Overwrite these removed messages in place.
    Erase(Vec<super::erase::EraseJob>),
}

/// Starts the writer (and, for `sync: interval`, the syncer) on this executor.
pub(crate) fn spawn(inner: Rc<RefCell<Inner>>, tail: Tail) -> JoinHandle<()> {
    if let SyncPolicy::Interval(every) = inner.borrow().cfg.sync {
        glommio::spawn_local(syncer(Rc::downgrade(&inner), every)).detach();
    }
    glommio::spawn_local(run(inner, tail)).detach()
}

async fn run(inner: Rc<RefCell<Inner>>, mut tail: Tail) {
    loop {
        let work = poll_fn(|cx| {
            let mut i = inner.borrow_mut();
            if i.poisoned.is_some() {
                return Poll::Ready(None);
            }
            i.seal_open();
            // Erases whose removal is already written go first, between
            // batches, so steady appends cannot starve them.
            let written = i.written_epoch;
            if i.erase_jobs.iter().any(|j| j.epoch <= written) {
                let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut i.erase_jobs)
                    .into_iter()
                    .partition(|j| j.epoch <= written);
                i.erase_jobs = later;
                return Poll::Ready(Some(Work::Erase(ready)));
            }
            if !i.queued.is_empty() {
                i.batch_start = None;
                return Poll::Ready(Some(Work::Frames(i.queued.drain(..).collect())));
            }
            // Nothing pending: every mutation so far is written (mutations
            // that wrote no record complete here).
            i.written_epoch = i.epoch;
            if !i.erase_jobs.is_empty() {
                return Poll::Ready(Some(Work::Erase(std::mem::take(&mut i.erase_jobs))));
            }
            let epoch = i.epoch;
            publish_up_to(&i, epoch);
            if i.closing {
                return Poll::Ready(None);
            }
            i.writer_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let frames = match work {
            None => break,
            Some(Work::Frames(f)) => f,
            Some(Work::Erase(jobs)) => {
                inner.borrow_mut().erasing = true;
                let result = super::erase::run(&inner, &mut tail, jobs).await;
                {
                    // Reads that saw a half-rewritten frame read again now.
                    let mut i = inner.borrow_mut();
                    i.erasing = false;
                    for w in std::mem::take(&mut i.erase_waiters) {
                        w.wake();
                    }
                }
                if result.is_ok() {
                    let i = inner.borrow();
                    publish_up_to(&i, i.written_epoch);
                }
                if let Err(e) = result {
                    tracing::error!(error = %e, "secure erase failed; the store stops until reopened");
                    let mut i = inner.borrow_mut();
                    let epoch = i.epoch + 1;
                    i.poisoned = Some(e.clone());
                    i.tracker.fail(epoch, e);
                    break;
                }
                continue;
            }
        };
        let first_epoch = frames.first().map(|f| f.epoch).unwrap_or(0);
        let last_epoch = frames.last().map(|f| f.epoch).unwrap_or(0);
        match write_batch(&inner, &mut tail, &frames).await {
            Ok(()) => {
                let mut i = inner.borrow_mut();
                for f in &frames {
                    if let Some(decoded) = i.inflight.remove(&f.at) {
                        i.cache.insert(f.at, decoded);
                    }
                }
                i.written_epoch = i.written_epoch.max(last_epoch);
                publish_up_to(&i, last_epoch);
                drop(i);
                remove_dead_blocks(&inner, tail.block);
            }
            Err(e) => {
                tracing::error!(error = %e, "stream store write failed; the store stops until reopened");
                let mut i = inner.borrow_mut();
                i.poisoned = Some(e.clone());
                i.tracker.fail(first_epoch, e);
                break;
            }
        }
    }
}

/// Writes `frames` (in order, contiguous per block) and syncs per policy.
async fn write_batch(
    inner: &Rc<RefCell<Inner>>,
    tail: &mut Tail,
    frames: &[SealedFrame],
) -> StoreResult<()> {
    let policy = inner.borrow().cfg.sync;
    let mut touched: Vec<Rc<BlockFile>> = Vec::new();
    let mut start = 0;
    while start < frames.len() {
        let block = frames[start].at.block;
        let end = frames[start..]
            .iter()
            .position(|f| f.at.block != block)
            .map_or(frames.len(), |n| start + n);
        // Under sync: always, the blocks before are made durable before a
        // batch moves on to the next block: a torn write can then only be in
        // the last block, where recovery expects it.
        if policy == SyncPolicy::Always && !touched.is_empty() {
            for f in touched.drain(..) {
                f.sync().await?;
                inner.borrow_mut().stats.syncs += 1;
            }
        }
        let file = ensure_block_file(inner, block).await?;
        if tail.block != block {
            *tail = Tail {
                block,
                pos: FRAMES_START,
                bytes: Vec::new(),
            };
        }
        let mut data_len = tail.bytes.len();
        for f in &frames[start..end] {
            if f.at.offset as u64 != tail.pos + data_len as u64 {
                return Err(crate::error::StoreError::Poisoned(format!(
                    "frame placement bug: frame at {} but block {} ends at {}",
                    f.at.offset,
                    block,
                    tail.pos + data_len as u64
                )));
            }
            data_len += f.bytes.len();
        }
        let write_len = round_up(data_len as u64, SECTOR) as usize;
        let new_tail_pos = (tail.pos + data_len as u64) / SECTOR * SECTOR;
        let keep_from = (new_tail_pos - tail.pos) as usize;
        let mut new_tail = Vec::new();
        let parts = &frames[start..end];
        let old_tail = std::mem::take(&mut tail.bytes);
        file.write_with(tail.pos, write_len, |buf| {
            let mut at = 0;
            for part in
                std::iter::once(old_tail.as_slice()).chain(parts.iter().map(|f| f.bytes.as_slice()))
            {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            buf[at..].fill(0);
            new_tail.extend_from_slice(&buf[keep_from..data_len]);
        })
        .await?;
        {
            let mut i = inner.borrow_mut();
            i.stats.writes += 1;
            i.stats.frames += (end - start) as u64;
        }
        *tail = Tail {
            block,
            pos: new_tail_pos,
            bytes: new_tail,
        };
        if !touched.iter().any(|f| Rc::ptr_eq(f, &file)) {
            touched.push(file);
        }
        if matches!(policy, SyncPolicy::Interval(_)) {
            inner.borrow_mut().dirty.insert(block);
        }
        start = end;
    }
    if broken!(AckBeforeSync) {
        // Deliberate bug (tests only): acknowledge what is written but not synced.
        if let Some(last) = frames.last() {
            publish_up_to(&inner.borrow(), last.epoch);
        }
    }
    if policy == SyncPolicy::Always {
        for f in &touched {
            f.sync().await?;
            inner.borrow_mut().stats.syncs += 1;
        }
    }
    debug_assert!(tail.end() >= FRAMES_START);
    Ok(())
}

/// The open file of `block`, creating the block file (zero-filled, header,
/// synced, directory synced) the first time.
async fn ensure_block_file(inner: &Rc<RefCell<Inner>>, block: u32) -> StoreResult<Rc<BlockFile>> {
    let (path, capacity, header, dir) = {
        let i = inner.borrow();
        let Some(b) = i.blocks.get(&block) else {
            return Err(crate::error::StoreError::Poisoned(format!(
                "frame for unknown block {block}"
            )));
        };
        if let Some(f) = &b.file {
            return Ok(f.clone());
        }
        let header = b.header;
        (b.path.clone(), b.capacity, header, i.msgs_dir.clone())
    };
    let disk = inner.borrow().disk.clone();
    let file = Rc::new(
        disk.create_zeroed(&path, capacity, &header.encode())
            .await?,
    );
    if !broken!(SkipNewBlockDirSync) {
        disk.sync_dir(&dir).await?;
    }
    let mut i = inner.borrow_mut();
    i.stats.blocks_created += 1;
    if let Some(b) = i.blocks.get_mut(&block) {
        b.file = Some(file.clone());
    }
    Ok(file)
}

/// Removes blocks before the one being written that hold no live message.
/// Only the oldest blocks go (a later block may hold the removal records that
/// make an earlier one dead; removing front to back keeps those records).
fn remove_dead_blocks(inner: &Rc<RefCell<Inner>>, written_block: u32) {
    let mut i = inner.borrow_mut();
    loop {
        let Some((&first, b)) = i.blocks.iter().next() else {
            return;
        };
        let durable = i.tracker.durable_epoch();
        let erase_pending = i.erase_jobs.iter().any(|j| j.at.block == first);
        if first >= written_block
            || first >= i.cur_block
            || b.live > 0
            || b.dead_epoch > durable
            || erase_pending
        {
            return;
        }
        let Some(b) = i.blocks.remove(&first) else {
            return;
        };
        i.cache.drop_block(first);
        i.stats.blocks_removed += 1;
        if let Err(e) = i.disk.remove_file(&b.path) {
            tracing::warn!(error = %e, "could not remove an emptied block file");
        }
        // The file handle closes when the last reader drops it.
    }
}

/// `sync: interval`: fdatasync every block written since the last round.
async fn syncer(inner: std::rc::Weak<RefCell<Inner>>, every: std::time::Duration) {
    loop {
        glommio::timer::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let files: Vec<Rc<BlockFile>> = {
            let mut i = inner.borrow_mut();
            if i.closing || i.poisoned.is_some() {
                return;
            }
            let dirty = std::mem::take(&mut i.dirty);
            dirty
                .iter()
                .filter_map(|b| i.blocks.get(b).and_then(|b| b.file.clone()))
                .collect()
        };
        for f in files {
            if let Err(e) = f.sync().await {
                tracing::error!(error = %e, "periodic sync failed; the store stops until reopened");
                let mut i = inner.borrow_mut();
                let epoch = i.tracker.durable_epoch() + 1;
                i.poisoned = Some(e.clone());
                i.tracker.fail(epoch, e);
                return;
            }
        }
    }
}
