//! The group-commit writer: one task per store.
//!
//! It sleeps until a mutation wakes it, then seals the open frame and takes
//! every queued frame: one contiguous, sector-aligned write per block touched
//! (the partial last sector is kept in memory and rewritten with the new
//! bytes, so nothing is read back). Under `sync: always` the batch's
//! `fdatasync` then runs in a task of its own, which publishes the epochs of
//! those frames as durable when it succeeds, while the writer goes on with
//! the next batch: the next write overlaps this sync (at most
//! [`MAX_SYNCS_IN_FLIGHT`] syncs at once). Writes stay one at a time, in
//! order, because each rewrites the partial last sector of the one before.
//! Every mutation made while a write runs lands in the next batch. After a
//! durable write, blocks before the current one that hold no live message are
//! removed.
//!
//! What waits for the syncs in flight: a batch that starts a new block (a
//! torn write may only be in the last block), a secure erase (it rewrites
//! blocks in place), and going idle (mutations that wrote no record complete
//! only after every write before them is durable).
//!
//! On a write or sync error the store is poisoned: every waiter whose epoch is
//! not durable yet gets the error, and the store refuses all work, reads
//! included, until reopened (see the contract in `store.rs`). The failed sync
//! is never retried: after a failed `fdatasync` the kernel may already have
//! dropped the data while a retry would report success ("fsyncgate"), so only
//! a reopen — which writes the last write again and syncs it — can make those
//! bytes durable.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use glommio::task::JoinHandle;

use crate::config::SyncPolicy;
use crate::error::StoreResult;

use super::format::{FRAMES_START, SECTOR};
use super::frames::FrameRef;
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
    /// Wait for the oldest sync in flight (nothing else can go first).
    Drain,
}

/// Under `sync: always`, how many `fdatasync`s may be in flight at once.
///
/// A batch's sync runs in its own task while the writer writes the next
/// batch: the write (~150 µs on these machines) and the sync (~200 µs) of two
/// consecutive group commits overlap instead of adding up, which doubled what
/// one store's disk path can commit. Each sync covers every write that
/// completed before it was issued, so durability is published per sync, and
/// two in flight keep the disk busy without queueing syncs that would only
/// cover the same writes.
const MAX_SYNCS_IN_FLIGHT: usize = 2;

/// Starts the writer (and, for `sync: interval`, the syncer) on this executor.
pub(crate) fn spawn(inner: Rc<RefCell<Inner>>, tail: Tail) -> JoinHandle<()> {
    if let SyncPolicy::Interval(every) = inner.borrow().cfg.sync {
        glommio::spawn_local(syncer(Rc::downgrade(&inner), every)).detach();
    }
    glommio::spawn_local(run(inner, tail)).detach()
}

async fn run(inner: Rc<RefCell<Inner>>, mut tail: Tail) {
    // Sync tasks still running, oldest first (sync: always only).
    let mut syncs: VecDeque<JoinHandle<()>> = VecDeque::new();
    // Writes issued whose sync may not have finished: the last epoch each
    // carried and where it started, oldest first (see `cover_unsynced`).
    let mut unsynced: VecDeque<(u64, FrameRef)> = VecDeque::new();
    let order = Rc::new(RefCell::new(SyncOrder::default()));
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
                // An erase rewrites blocks in place: it starts with every
                // earlier write synced.
                if !syncs.is_empty() {
                    return Poll::Ready(Some(Work::Drain));
                }
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
            // Nothing to write. What is written becomes durable when its
            // syncs finish; only then can the mutations that wrote no record
            // complete (their epochs come after those writes).
            if !syncs.is_empty() {
                return Poll::Ready(Some(Work::Drain));
            }
            // Every mutation so far is written and synced.
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
            Some(Work::Drain) => {
                if let Some(oldest) = syncs.pop_front() {
                    oldest.await;
                }
                continue;
            }
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
        // Under sync: always a torn write may only be in the last block: a
        // batch that starts a new block waits until the earlier blocks' syncs
        // are done (write_frames does the same inside a batch).
        if frames.first().is_some_and(|f| f.at.block != tail.block) {
            while let Some(oldest) = syncs.pop_front() {
                oldest.await;
            }
        }
        if inner.borrow().poisoned.is_some() {
            // A sync that finished while we waited failed: its block's data
            // may be gone and only a reopen writes it again (recovery rewrites
            // the last write of the last block only), so nothing is written
            // after it, least of all a new block.
            break;
        }
        let mut frames = frames;
        cover_unsynced(&inner.borrow(), &mut unsynced, &mut frames);
        let write_start = frames.last().and_then(|last| {
            frames
                .iter()
                .find(|f| f.at.block == last.at.block)
                .map(|f| f.at)
        });
        match write_frames(&inner, &mut tail, &frames).await {
            Ok(touched) => {
                let (always, poisoned) = {
                    let mut i = inner.borrow_mut();
                    for f in &frames {
                        if let Some(decoded) = i.inflight.remove(&f.at) {
                            i.cache.insert(f.at, decoded);
                        }
                    }
                    (i.cfg.sync == SyncPolicy::Always, i.poisoned.is_some())
                };
                if always {
                    if poisoned {
                        // A sync in flight failed while this batch was written.
                        break;
                    }
                    if syncs.len() >= MAX_SYNCS_IN_FLIGHT {
                        if let Some(oldest) = syncs.pop_front() {
                            oldest.await;
                        }
                    }
                    if let Some(start) = write_start {
                        unsynced.push_back((last_epoch, start));
                    }
                    let batch = SyncedBatch {
                        first_epoch,
                        last_epoch,
                        block: tail.block,
                    };
                    let ticket = {
                        let mut o = order.borrow_mut();
                        o.issued += 1;
                        o.issued - 1
                    };
                    let task = glommio::spawn_local(sync_batch(
                        inner.clone(),
                        order.clone(),
                        ticket,
                        touched,
                        batch,
                    ));
                    syncs.push_back(task.detach());
                    continue;
                }
                let mut i = inner.borrow_mut();
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

/// Makes the frames about to be written name the oldest write before them
/// that is not known synced yet as the start of their write.
///
/// Recovery tells a torn tail (never acknowledged, cut) from damage (reported)
/// by `batch_start`: damage is a torn write only if every valid frame after
/// it says its write started at or before the damage. With a sync in flight
/// while the next write goes out, a power loss can keep sectors of the newer
/// write and lose sectors of the older one; both were unacknowledged, so the
/// newer frames must claim the older write's start. Writes whose sync already
/// finished are dropped from `unsynced` first, so no frame claims a write that
/// was acknowledged before it was issued.
fn cover_unsynced(i: &Inner, unsynced: &mut VecDeque<(u64, FrameRef)>, frames: &mut [SealedFrame]) {
    while unsynced
        .front()
        .is_some_and(|&(epoch, _)| epoch <= i.written_epoch)
    {
        unsynced.pop_front();
    }
    let Some(&(_, oldest)) = unsynced.front() else {
        return;
    };
    if broken!(NoUnsyncedCover) {
        return;
    }
    let Some(block) = i.blocks.get(&oldest.block) else {
        return;
    };
    let seed = block.codec.crc_seed();
    for f in frames.iter_mut().filter(|f| f.at.block == oldest.block) {
        super::format::restamp_batch_start(&mut f.bytes, oldest.offset, seed);
    }
}

/// What a sync task makes durable: the epochs of one written batch, and the
/// block it ended in.
#[derive(Debug, Clone, Copy)]
struct SyncedBatch {
    first_epoch: u64,
    last_epoch: u64,
    block: u32,
}

/// The syncs in flight, in the order they were issued. A sync's success is
/// published only once every sync issued before it has succeeded: syncs may
/// finish in any order, and after a failed `fdatasync` a later one may report
/// success for data the kernel already dropped ("fsyncgate"), so a success
/// that overlapped a failure proves nothing.
#[derive(Debug, Default)]
struct SyncOrder {
    /// Tickets handed out to sync tasks so far.
    issued: u64,
    /// Ticket of the oldest sync not yet published.
    next: u64,
    /// Syncs that succeeded before an older one finished, by ticket.
    finished: BTreeMap<u64, SyncedBatch>,
}

/// Syncs the files one batch wrote; then, in issue order (see [`SyncOrder`]),
/// publishes the batch as written and durable. A failed sync poisons the
/// store and fails every epoch not durable yet (see the module docs for why
/// it is not retried); nothing is published after it.
async fn sync_batch(
    inner: Rc<RefCell<Inner>>,
    order: Rc<RefCell<SyncOrder>>,
    ticket: u64,
    files: Vec<Rc<BlockFile>>,
    batch: SyncedBatch,
) {
    for f in &files {
        if let Err(e) = f.sync().await {
            tracing::error!(error = %e, "stream store sync failed; the store stops until reopened");
            let mut i = inner.borrow_mut();
            if i.poisoned.is_none() {
                i.poisoned = Some(e.clone());
            }
            i.tracker.fail(batch.first_epoch, e);
            return;
        }
        inner.borrow_mut().stats.syncs += 1;
    }
    let ready: Vec<SyncedBatch> = {
        let mut o = order.borrow_mut();
        o.finished.insert(ticket, batch);
        let mut ready = Vec::new();
        loop {
            let next = o.next;
            let Some(b) = o.finished.remove(&next) else {
                break;
            };
            o.next += 1;
            ready.push(b);
        }
        ready
    };
    for b in ready {
        let mut i = inner.borrow_mut();
        if i.poisoned.is_some() {
            // A sync failed meanwhile: nothing after it is published.
            return;
        }
        i.written_epoch = i.written_epoch.max(b.last_epoch);
        publish_up_to(&i, b.last_epoch);
        drop(i);
        remove_dead_blocks(&inner, b.block);
    }
}

/// Writes `frames` (in order, contiguous per block). Under `sync: always`, a
/// batch that spans blocks syncs each block before writing the next; the
/// files it wrote and did not sync are returned for the caller to sync.
async fn write_frames(
    inner: &Rc<RefCell<Inner>>,
    tail: &mut Tail,
    frames: &[SealedFrame],
) -> StoreResult<Vec<Rc<BlockFile>>> {
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
        if let Some(e) = &inner.borrow().poisoned {
            // A sync task failed while this batch was being written (see the
            // check in `run`): write nothing more, above all no new block.
            return Err(e.clone());
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
    debug_assert!(tail.end() >= FRAMES_START);
    Ok(touched)
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
