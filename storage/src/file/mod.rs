//! FileStore: a stream's messages in block files on io_uring, durable by default.
//!
//! Parts:
//! - [`format`] — bytes on disk (block header, frames, records).
//! - [`io`] — the only code that touches files (glommio DMA).
//! - [`frames`] — frames in memory and the read cache.
//! - [`writer`] — the group-commit writer task.
//! - [`recovery`] — opening a store: scan, verify, truncate a torn tail.
//!
//! How an append works: the mutation is applied to the ledger at once and its
//! record is placed into the *open frame* at a position that is final (block
//! and offset are decided now, so the ledger can point at it). The writer task
//! takes the open frame whenever it is idle, so every append that arrives
//! while a write + `fdatasync` is in flight joins the next frame: one write and
//! one sync for all of them (group commit). Appends complete when the writer
//! publishes their epoch as durable.

pub(crate) mod codec;
mod erase;
pub(crate) mod format;
pub(crate) mod frames;
pub(crate) mod io;
mod readahead;
mod recovery;
mod writer;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::task::Waker;

use bytes::Bytes;

use crate::config::{FileStoreConfig, StoreLimits, MIN_BLOCK_SIZE};
use crate::durable::{CommitTracker, Durable};
use crate::error::{StoreError, StoreResult};
use crate::ledger::{Entry, Ledger, Removed};
use crate::message::{now_nanos, NewMessage, StoredMessage, UnixNanos};
use crate::state::{Expired, PurgeRequest, StoreState, SubjectState};
use crate::store::{Appended, StreamStore};

pub use format::file_msg_size;
use format::{FRAMES_START, FRAME_HEADER_LEN, MAX_FRAME_BODY, MSG_RECORD_FIXED, SECTOR};
use frames::{DecodedFrame, FrameCache, FrameRef, OpenFrame};
use io::BlockFile;
pub use io::Disk;

/// A block as the store tracks it.
pub(crate) struct Block {
    pub path: PathBuf,
    /// Open file; `None` until the writer created it (new block) or a read
    /// opened it.
    pub file: Option<Rc<BlockFile>>,
    /// File size (every block is created at full size).
    pub capacity: u64,
    /// Live messages whose record is here: 0 on a block before the current
    /// one means it can be removed.
    pub live: u64,
    /// The mutation epoch at which `live` last dropped to 0: the block may be
    /// removed only once that epoch is durable (the records that emptied it
    /// must survive its removal).
    pub dead_epoch: u64,
    /// Removal records in its frames so far (sealed ones; at open, the ones
    /// recovery read): what an echo of its latest frame says as `through`.
    pub removals: u32,
    /// How its frames are encoded.
    pub codec: Rc<codec::BlockCodec>,
    /// Its header (written by the writer when it creates the file).
    pub header: format::BlockHeader,
}

/// What the next frame echoes: the removal records of the frame sealed just
/// before it, and how many removal records that frame's block held up to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct EchoSource {
    pub block: u32,
    pub through: u32,
    pub records: Vec<u8>,
}

impl EchoSource {
    /// Bytes of the echo record a new frame starts with (0 when its block
    /// never held a removal: nothing to echo, nothing to count).
    fn record_len(&self) -> usize {
        if self.through == 0 {
            0
        } else {
            format::ECHO_RECORD_FIXED + self.records.len()
        }
    }
}

/// A sealed frame on its way to disk.
pub(crate) struct SealedFrame {
    pub at: FrameRef,
    pub bytes: Vec<u8>,
    pub epoch: u64,
}

/// A range of sequences that failed verification at open.
#[derive(Debug, Clone)]
pub(crate) struct CorruptRange {
    pub first: u64,
    pub last: u64,
    pub path: PathBuf,
}

/// Everything the store and its writer share (on one core, in a RefCell;
/// no borrow is held across an await).
pub(crate) struct Inner {
    pub cfg: FileStoreConfig,
    /// The file system the store's files are on.
    pub disk: Disk,
    pub msgs_dir: PathBuf,
    pub ledger: Ledger<FrameRef>,
    pub blocks: BTreeMap<u32, Block>,
    /// The block new frames go to.
    pub cur_block: u32,
    /// Where the next frame starts in `cur_block` (after the open frame, if any).
    pub next_offset: u64,
    pub open: Option<OpenFrame>,
    pub queued: VecDeque<SealedFrame>,
    /// Sealed frames not yet written, readable from memory.
    pub inflight: HashMap<FrameRef, Rc<DecodedFrame>, foldhash::fast::RandomState>,
    pub cache: FrameCache,
    /// Epoch of the latest mutation.
    pub epoch: u64,
    pub tracker: Rc<CommitTracker>,
    pub poisoned: Option<StoreError>,
    pub writer_waker: Option<Waker>,
    pub closing: bool,
    pub corrupt: Vec<CorruptRange>,
    /// First frame sealed since the writer last took the queue: the start of
    /// the write the next sealed frames go in (recorded in their headers).
    pub batch_start: Option<FrameRef>,
    /// Counters of what the writer did.
    pub stats: IoStats,
    /// Removed messages to overwrite once their removal is written.
    pub erase_jobs: Vec<erase::EraseJob>,
    /// Every epoch up to this one is written (and synced per policy); erase
    /// jobs up to it may run. Durability is published separately, held back
    /// by pending erases.
    pub written_epoch: u64,
    /// Bumped by every in-place erase: a read that overlapped one does not
    /// cache what it read.
    pub erase_generation: u64,
    /// An in-place erase is running: frames of its block may be half
    /// rewritten on disk.
    pub erasing: bool,
    /// Reads waiting for the running erase to finish (see `load_seq`).
    pub erase_waiters: Vec<Waker>,
    /// Blocks written since the last sync (`sync: interval`).
    pub dirty: std::collections::BTreeSet<u32>,
    /// What the next new frame echoes (the latest sealed frame's removals).
    pub echo: EchoSource,
    /// Where the frames of the last read from disk ended: a read that starts
    /// there is a sequential reader (a consumer replaying the stream) and
    /// reads further ahead.
    pub read_end: Option<FrameRef>,
    /// The read of the next window for a sequential reader, in the background
    /// (see [`readahead`]).
    pub read_ahead: Option<readahead::ReadAhead>,
    /// Where the latest read-ahead began: the reader getting there starts the
    /// next one.
    pub read_ahead_trigger: Option<FrameRef>,
}

/// What a FileStore's writer has done since open (group commit evidence).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Frames written (one per group commit, more when a batch spans blocks
    /// or exceeds the frame size limit).
    pub frames: u64,
    /// `write` calls.
    pub writes: u64,
    /// `fdatasync` calls on block files.
    pub syncs: u64,
    /// Block files created.
    pub blocks_created: u64,
    /// Block files removed because nothing in them was live.
    pub blocks_removed: u64,
    /// Messages overwritten in place by a secure erase.
    pub erased: u64,
    /// Reads of frames from disk a reader waited for (cache misses).
    pub reads: u64,
    /// Windows read ahead of a sequential reader, in the background.
    pub reads_ahead: u64,
}

/// A stream store in block files (see the module docs).
pub struct FileStore {
    inner: Rc<RefCell<Inner>>,
    writer: RefCell<Option<glommio::task::JoinHandle<()>>>,
}

impl FileStore {
    /// Opens (or creates) the store in `cfg.dir`, recovering whatever is
    /// there, and starts its writer on the current glommio executor.
    /// Under `sync: interval` (and `never`) block files go through the page cache
    /// ([`Disk::PageCache`]); under `sync: always` they are O_DIRECT.
    pub async fn open(cfg: FileStoreConfig, limits: StoreLimits) -> StoreResult<FileStore> {
        let disk = match cfg.sync {
            crate::config::SyncPolicy::Always => Disk::Real,
            crate::config::SyncPolicy::Interval(_) | crate::config::SyncPolicy::Never => {
                Disk::PageCache
            }
        };
        Self::open_on(disk, cfg, limits).await
    }

    /// [`FileStore::open`] on a given [`Disk`] (the simulated disk in tests).
    pub async fn open_on(
        disk: Disk,
        cfg: FileStoreConfig,
        limits: StoreLimits,
    ) -> StoreResult<FileStore> {
        if cfg.block_size < MIN_BLOCK_SIZE
            || !cfg.block_size.is_multiple_of(4096)
            || cfg.block_size > u32::MAX as u64
        {
            return Err(StoreError::Invalid(
                "block_size must be a multiple of 4 KiB between 64 KiB and 4 GiB",
            ));
        }
        let (inner, tail) = recovery::recover(disk, cfg, limits).await?;
        let inner = Rc::new(RefCell::new(inner));
        let writer = writer::spawn(inner.clone(), tail);
        let store = FileStore {
            inner,
            writer: RefCell::new(Some(writer)),
        };
        // Limits may be exceeded after recovery (a crash between a message and
        // the removals it caused); enforce them now, logged like any removal.
        store.set_limits(limits)?;
        Ok(store)
    }

    /// Writes everything pending, syncs, and stops the writer. The store
    /// refuses further calls.
    pub async fn close(&self) -> StoreResult<()> {
        let durable = self.durable();
        let mut res = durable.await;
        if res.is_ok() && self.inner.borrow_mut().queue_close_marker() {
            res = self.durable().await;
        }
        {
            let mut inner = self.inner.borrow_mut();
            inner.closing = true;
            if let Some(w) = inner.writer_waker.take() {
                w.wake();
            }
        }
        let handle = self.writer.borrow_mut().take();
        if let Some(h) = handle {
            h.await;
        }
        let files: Vec<Rc<BlockFile>> = self
            .inner
            .borrow_mut()
            .blocks
            .values_mut()
            .filter_map(|b| b.file.take())
            .collect();
        let mut sync_err = None;
        for f in files {
            if let Err(e) = f.sync().await {
                sync_err.get_or_insert(e);
            }
            if let Ok(f) = Rc::try_unwrap(f) {
                f.close().await;
            }
        }
        res?;
        if let Some(e) = sync_err {
            return Err(e);
        }
        self.write_close_mark().await;
        Ok(())
    }

    /// Leaves the close mark (`recovery::CLOSED_FILE`): the last sequence,
    /// now that everything is durable, so recovery tells a tail damaged
    /// while the store was stopped from a torn write. Best effort: without
    /// it recovery only knows less (a failure is logged, the close stands).
    async fn write_close_mark(&self) {
        let (disk, msgs_dir, last_seq) = {
            let i = self.inner.borrow();
            (i.disk.clone(), i.msgs_dir.clone(), i.ledger.last_seq())
        };
        let mark = msgs_dir.join(recovery::CLOSED_FILE);
        let tmp = msgs_dir.join(format!("{}.tmp", recovery::CLOSED_FILE));
        // Written aside and renamed: a crash leaves the old mark or the new.
        let written = async {
            disk.write_small_synced(&tmp, &recovery::encode_close_mark(last_seq))
                .await?;
            disk.rename(&tmp, &mark)?;
            disk.sync_dir(&msgs_dir).await
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, "could not write the store's close mark");
        }
    }

    /// The store's directory (`FileStoreConfig::dir`).
    pub fn dir(&self) -> PathBuf {
        self.inner.borrow().cfg.dir.clone()
    }

    /// What the writer has done since open.
    pub fn io_stats(&self) -> IoStats {
        self.inner.borrow().stats
    }

    /// Block files currently in use.
    pub fn block_count(&self) -> usize {
        self.inner.borrow().blocks.len()
    }

    /// Bytes of in-memory index per stored sequence range (for docs/tests).
    pub fn index_bytes(&self) -> usize {
        self.inner.borrow().ledger.index_bytes()
    }

    /// Sequence ranges that failed verification at open: `(first, last, file)`.
    pub fn corrupt_ranges(&self) -> Vec<(u64, u64, PathBuf)> {
        self.inner
            .borrow()
            .corrupt
            .iter()
            .map(|c| (c.first, c.last, c.path.clone()))
            .collect()
    }

    fn check_usable(inner: &Inner) -> StoreResult<()> {
        if let Some(e) = &inner.poisoned {
            return Err(StoreError::Poisoned(e.to_string()));
        }
        if inner.closing {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    async fn load_seq(&self, seq: u64) -> StoreResult<StoredMessage> {
        let (at, path, file, codec, generation, disk, read_len) = loop {
            let read_ahead_of = {
                let mut inner = self.inner.borrow_mut();
                Self::check_usable(&inner)?;
                let generation = inner.erase_generation;
                let Some(slot) = inner.ledger.slot(seq) else {
                    if let Some(c) = inner
                        .corrupt
                        .iter()
                        .find(|c| c.first <= seq && seq <= c.last)
                    {
                        return Err(StoreError::Corrupt {
                            seq,
                            path: c.path.clone(),
                        });
                    }
                    return Err(StoreError::NotFound);
                };
                let at = slot.data;
                if let Some(open) = inner.open.as_ref().filter(|o| o.at == at) {
                    return open.message(seq).ok_or(StoreError::NotFound);
                }
                if let Some(f) = inner
                    .inflight
                    .get(&at)
                    .cloned()
                    .or_else(|| inner.cache.get(at))
                {
                    let read_ahead = readahead::reached(&self.inner, &mut inner, at);
                    drop(inner);
                    if let Some(job) = read_ahead {
                        job.spawn();
                    }
                    return f.message(seq).ok_or(StoreError::NotFound);
                }
                if readahead::in_flight(&inner, at) {
                    at
                } else {
                    let block = inner.blocks.get(&at.block).ok_or(StoreError::NotFound)?;
                    let (path, file, codec) =
                        (block.path.clone(), block.file.clone(), block.codec.clone());
                    inner.stats.reads += 1;
                    let read_len = if inner.read_end == Some(at) {
                        SEQUENTIAL_READ_AHEAD
                    } else {
                        READ_AHEAD
                    };
                    break (
                        at,
                        path,
                        file,
                        codec,
                        generation,
                        inner.disk.clone(),
                        read_len,
                    );
                }
            };
            // The frame is being read ahead: wait for it, then look again.
            readahead::finished(&self.inner, read_ahead_of).await;
        };
        let file = match file {
            Some(f) => f,
            None => {
                let f = Rc::new(disk.open(&path).await?);
                if let Some(b) = self.inner.borrow_mut().blocks.get_mut(&at.block) {
                    b.file.get_or_insert_with(|| f.clone());
                }
                f
            }
        };
        // A secure erase rewrites frames in place, in one write per run of
        // pages, and O_DIRECT gives a concurrent read no atomicity: a read
        // during an erase can see a frame half old, half new. So a frame that
        // fails verification while an erase runs (or ran since the read
        // started) is read again once the erase is over. (Regression:
        // sim-crash seeds 6337, 9007, 9111 — a healthy store answered
        // `Corrupt`, which a consumer takes as a lost message.)
        let mut generation_before = generation;
        let mut attempts = 0;
        let frames = loop {
            let read = read_frames(&file, &codec, at.offset as u64, read_len).await;
            let erase_seen = {
                let i = self.inner.borrow();
                i.erasing || i.erase_generation != generation_before
            };
            match read {
                Err(StoreError::Format { .. }) if erase_seen && attempts < 8 => {
                    attempts += 1;
                    self.erase_finished().await;
                    generation_before = self.inner.borrow().erase_generation;
                }
                other => break other,
            }
        };
        if let Some(e) = &self.inner.borrow().poisoned {
            // A write failed meanwhile (an erase's in-place write, say): what
            // the disk holds is unknown now, so this is no damage report.
            if frames.is_err() {
                return Err(StoreError::Poisoned(e.to_string()));
            }
        }
        let frames = frames.map_err(|e| match e {
            StoreError::Format { reason, .. } => {
                tracing::error!(
                    path = %path.display(),
                    seq,
                    offset = at.offset,
                    reason,
                    "a frame that verified at open fails now; not serving it"
                );
                frames::damaged(seq, &path)
            }
            other => other,
        })?;
        let (frames, end) = frames;
        let mut wanted = None;
        let mut read_ahead = None;
        {
            let mut inner = self.inner.borrow_mut();
            let window_end = if read_len == SEQUENTIAL_READ_AHEAD {
                readahead::after_window(&inner, at, end)
            } else {
                FrameRef {
                    block: at.block,
                    offset: end,
                }
            };
            inner.read_end = Some(window_end);
            let overlapped_erase = inner.erase_generation != generation;
            for (offset, f) in frames {
                let f = Rc::new(f);
                let key = FrameRef {
                    block: at.block,
                    offset,
                };
                if key == at {
                    wanted = Some(f.clone());
                }
                if !overlapped_erase {
                    inner.cache.insert(key, f);
                }
            }
            // A sequential reader will want the window after this one.
            if read_len == SEQUENTIAL_READ_AHEAD && !overlapped_erase {
                read_ahead = readahead::start(&self.inner, &mut inner, window_end);
            }
        }
        if let Some(job) = read_ahead {
            job.spawn();
        }
        let frame = wanted.ok_or(StoreError::NotFound)?;
        frame.message(seq).ok_or(StoreError::NotFound)
    }
}

impl FileStore {
    /// Resolves when no in-place erase is running.
    async fn erase_finished(&self) {
        std::future::poll_fn(|cx| {
            let mut i = self.inner.borrow_mut();
            if !i.erasing || i.poisoned.is_some() {
                return std::task::Poll::Ready(());
            }
            if !i.erase_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                i.erase_waiters.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Bytes read for a frame that is not cached: one I/O covers any frame a
/// group commit builds, and the frames after it come along for free.
const READ_AHEAD: usize = FRAME_HEADER_LEN + MAX_FRAME_BODY + codec::SEAL_OVERHEAD;
/// Bytes read when the frame asked for starts where the previous read's
/// frames ended (a consumer replaying the stream): sixteen frame windows per
/// I/O, so a replay waits on the disk for one read per MiB instead of one per
/// 64 KiB, and the frames land in the cache before the reader gets there.
/// A quarter of the default frame cache, so the read does not evict itself.
const SEQUENTIAL_READ_AHEAD: usize = 1 << 20;

/// Reads `len` bytes at `offset` and verifies the frame there, plus the
/// complete frames that follow it in the same read (sequential readers then
/// hit the cache). Returns `(offset, frame)` pairs, the asked-for frame
/// first, and the offset where the last of them ends.
async fn read_frames(
    file: &BlockFile,
    codec: &codec::BlockCodec,
    offset: u64,
    len: usize,
) -> StoreResult<(Vec<(u32, DecodedFrame)>, u32)> {
    let bad = |reason: &str| StoreError::Format {
        path: file.path().to_path_buf(),
        reason: reason.to_string(),
    };
    let first = file.read(offset, len).await?;
    let buf = match format::decode_frame(&first, codec.crc_seed()) {
        Ok(_) => first,
        Err(format::Bad::Invalid("frame runs past the data"))
            if first.len() >= FRAME_HEADER_LEN =>
        {
            // A frame bigger than a group commit builds: one record alone.
            let len = u32::from_le_bytes([first[4], first[5], first[6], first[7]]) as usize;
            file.read(offset, FRAME_HEADER_LEN + len).await?
        }
        Err(_) => return Err(bad("frame header failed verification")),
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let (h, stored) = match format::decode_frame(&buf[pos..], codec.crc_seed()) {
            Ok(v) => v,
            Err(_) if pos == 0 => return Err(bad("frame failed verification")),
            Err(_) => break,
        };
        let total = h.total_len();
        let stored = buf.slice_ref(stored);
        let body = match codec.decode(
            &buf[pos..pos + FRAME_HEADER_LEN],
            h.flags,
            h.raw_len,
            stored,
        ) {
            Ok(b) => b,
            Err(reason) if pos == 0 => return Err(bad(reason)),
            Err(_) => break,
        };
        match DecodedFrame::index(body) {
            Ok(f) => out.push(((offset as usize + pos) as u32, f)),
            Err(reason) if pos == 0 => return Err(bad(reason)),
            Err(_) => break,
        }
        pos += total;
    }
    Ok((out, (offset as usize + pos) as u32))
}

impl Inner {
    /// Makes room for a record of `len` bytes in the open frame, sealing it or
    /// rolling to a new block as needed; returns the frame.
    fn frame_for(&mut self, len: usize) -> &mut OpenFrame {
        let fits = |o: &OpenFrame, cap: u64| {
            o.body.len() + len <= MAX_FRAME_BODY.max(len)
                && o.at.offset as u64
                    + (FRAME_HEADER_LEN + codec::SEAL_OVERHEAD + o.body.len() + len) as u64
                    <= cap
        };
        let cap = self
            .blocks
            .get(&self.cur_block)
            .map(|b| b.capacity)
            .unwrap_or(0);
        let need_new = match &self.open {
            Some(o) => !fits(o, cap),
            None => true,
        };
        if need_new {
            self.seal_open();
            let echo_len = self.echo.record_len();
            let frame_len = self.new_frame_len(len);
            if self.next_offset + frame_len > cap {
                self.roll_block(frame_len);
            }
            let last = self.ledger.last_seq();
            let mut body = Vec::with_capacity((echo_len + len).max(4096));
            if echo_len > 0 {
                format::put_echo(
                    &mut body,
                    self.echo.block,
                    self.echo.through,
                    &self.echo.records,
                );
            }
            self.open = Some(OpenFrame {
                at: FrameRef {
                    block: self.cur_block,
                    offset: self.next_offset as u32,
                },
                body,
                msgs: Vec::new(),
                prev_last_seq: last,
                last_seq: last,
                epoch: self.epoch,
                removals: Vec::new(),
                removal_count: 0,
                echo_len,
            });
        }
        // The open frame exists now.
        let epoch = self.epoch;
        let open = self.open.get_or_insert_with(unreachable_open);
        open.epoch = epoch;
        open
    }

    /// Bytes on disk, at most, of a new frame holding one `len`-byte record
    /// (after the echo it starts with).
    fn new_frame_len(&self, len: usize) -> u64 {
        (FRAME_HEADER_LEN + codec::SEAL_OVERHEAD + self.echo.record_len() + len) as u64
    }

    /// Moves the open frame to the writer's queue.
    pub(crate) fn seal_open(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.body.len() <= open.echo_len {
            return; // nothing but the echo: nothing to write
        }
        let through = match self.blocks.get_mut(&open.at.block) {
            Some(b) => {
                b.removals = b.removals.saturating_add(open.removal_count);
                b.removals
            }
            None => 0,
        };
        self.echo = EchoSource {
            block: open.at.block,
            through,
            records: open.removals,
        };
        // Frames sealed between two takes of the writer go out in one write
        // (per block): the first of them is the write's start.
        let batch_start = match self.batch_start {
            Some(first) if first.block == open.at.block => first.offset,
            _ => {
                self.batch_start = Some(open.at);
                open.at.offset
            }
        };
        let (prev, last) = (open.prev_last_seq, open.last_seq);
        let bytes = match self.blocks.get(&open.at.block) {
            Some(b) => b.codec.encode(&open.body, prev, last, batch_start),
            None => codec::BlockCodec::plain().encode(&open.body, prev, last, batch_start),
        };
        self.next_offset = open.at.offset as u64 + bytes.len() as u64;
        let sorted = open.msgs.windows(2).all(|w| w[0].0 < w[1].0);
        let body = Bytes::from(open.body);
        self.inflight.insert(
            open.at,
            Rc::new(DecodedFrame {
                body,
                msgs: open.msgs,
                sorted,
            }),
        );
        self.queued.push_back(SealedFrame {
            at: open.at,
            bytes,
            epoch: open.epoch,
        });
    }

    /// Starts a new block big enough for a frame of `frame_len` bytes.
    fn roll_block(&mut self, frame_len: u64) {
        let index = self.cur_block + 1;
        let capacity = self
            .cfg
            .block_size
            .max(round_up(FRAMES_START + frame_len, 4096));
        let (codec, compression, cipher, salt, key_check) =
            codec::BlockCodec::for_new_block(index, self.cfg.compression, &self.cfg.cipher);
        let header = format::BlockHeader {
            index,
            base_last_seq: self.ledger.last_seq(),
            base_last_ts: self.ledger.last_ts(),
            compression,
            cipher,
            salt,
            key_check,
        };
        self.blocks.insert(
            index,
            Block {
                path: io::block_path(&self.msgs_dir, index),
                file: None,
                capacity,
                live: 0,
                dead_epoch: 0,
                removals: 0,
                codec: Rc::new(codec),
                header,
            },
        );
        self.cur_block = index;
        self.next_offset = FRAMES_START;
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer_waker.take() {
            w.wake();
        }
    }

    /// Logs removals (one DEL record each) and updates block counts. All of
    /// a mutation's removals go into one frame (room for all of them is made
    /// first), so a crash keeps all or none of them: a purge by subject or an
    /// expiry is never recovered half done. (Record by record, the records
    /// could straddle a frame and even a block boundary, and the block before
    /// is synced before the next one is written.)
    fn log_removals(&mut self, removed: &[Removed<FrameRef>]) {
        if !removed.is_empty() {
            for r in removed {
                self.uncount(r.data);
            }
            let frame = self.frame_for(9 * removed.len());
            for r in removed {
                frame.put_removal(|b| format::put_del(b, r.seq));
            }
        }
        self.mark_last();
    }

    fn uncount(&mut self, at: FrameRef) {
        let epoch = self.epoch;
        if let Some(b) = self.blocks.get_mut(&at.block) {
            b.live = b.live.saturating_sub(1);
            if b.live == 0 {
                b.dead_epoch = epoch;
            }
        }
    }

    fn mark_last(&mut self) {
        let last = self.ledger.last_seq();
        if let Some(o) = self.open.as_mut() {
            o.last_seq = last;
        }
    }

    /// Starts a mutation: a new epoch.
    fn begin(&mut self) -> StoreResult<u64> {
        FileStore::check_usable(self)?;
        self.epoch += 1;
        // Wake the writer now, so an epoch is always published even when the
        // mutation fails or writes nothing (it runs after we return).
        self.wake_writer();
        Ok(self.epoch)
    }

    /// At a clean close, after everything else is durable: one more small
    /// write, a frame holding only an empty padding record. Recovery tells a
    /// damaged frame from a torn write by a valid frame of a *later* write
    /// after it (a later write starts only once the earlier one is synced);
    /// without this marker the store's last data write has none, and damage
    /// to it that left a whole zero sector would be cut as a torn write,
    /// losing acknowledged messages without a report (the corruption
    /// matrix's blind spot a). Skipped when this process wrote nothing or the
    /// block has no room (then no new block is made for it). Returns whether
    /// a marker was queued.
    fn queue_close_marker(&mut self) -> bool {
        const PAD_RECORD: usize = 5;
        if self.stats.frames == 0 || self.poisoned.is_some() {
            return false;
        }
        let cap = self
            .blocks
            .get(&self.cur_block)
            .map(|b| b.capacity)
            .unwrap_or(0);
        let frame_len = self.new_frame_len(PAD_RECORD);
        if self.open.is_some() || self.next_offset + frame_len > cap || self.begin().is_err() {
            return false;
        }
        let frame = self.frame_for(PAD_RECORD);
        format::put_pad(&mut frame.body, 0);
        self.mark_last();
        self.hand_off();
        true
    }

    /// Overwrites removed message `seq` whose record is in frame `at`: at once
    /// when that frame is still being filled (then a later record reusing the
    /// sequence after a truncate could join the same frame, so it cannot wait),
    /// otherwise by an erase job once the removal is durable (a sealed frame
    /// gets no new records, so the job finds the right record: the last one
    /// with that sequence).
    fn erase(&mut self, at: FrameRef, seq: u64) {
        if let Some(open) = self.open.as_mut().filter(|o| o.at == at) {
            if let Some(i) = open.msgs.iter().rposition(|&(s, _)| s == seq) {
                let (_, pos) = open.msgs.remove(i);
                format::scrub_message(&mut open.body, pos as usize);
            }
            return;
        }
        let epoch = self.epoch;
        self.erase_jobs.push(erase::EraseJob { at, seq, epoch });
    }

    /// Ends a mutation: hands its records to the writer.
    fn hand_off(&mut self) {
        self.wake_writer();
    }

    /// A ticket for everything mutated so far.
    fn ticket(&self) -> Durable {
        Durable::epoch(self.tracker.clone(), self.epoch)
    }
}

fn unreachable_open() -> OpenFrame {
    // frame_for always creates the frame first; this keeps the code free of
    // unwrap without a panic path.
    OpenFrame {
        at: FrameRef::default(),
        body: Vec::new(),
        msgs: Vec::new(),
        prev_last_seq: 0,
        last_seq: 0,
        epoch: 0,
        removals: Vec::new(),
        removal_count: 0,
        echo_len: 0,
    }
}

pub(crate) fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

impl StreamStore for FileStore {
    fn append(&self, msg: NewMessage) -> StoreResult<Appended> {
        let mut inner = self.inner.borrow_mut();
        FileStore::check_usable(&inner)?;
        if msg.subject.len() > u16::MAX as usize {
            return Err(StoreError::Invalid("subject longer than 65535 bytes"));
        }
        let size = file_msg_size(msg.subject.len(), msg.headers.len(), msg.payload.len());
        let size = inner.ledger.admit(&msg.subject, &msg.headers, size)?;
        inner.begin()?;
        let ts = msg.timestamp.unwrap_or_else(now_nanos);
        let seq = inner.ledger.next_seq();
        let rec_len = MSG_RECORD_FIXED + msg.subject.len() + msg.headers.len() + msg.payload.len();
        let frame = inner.frame_for(rec_len);
        let at = frame.at;
        let rec_off = frame.body.len() as u32;
        format::put_msg(
            &mut frame.body,
            seq,
            ts,
            msg.ttl,
            &msg.subject,
            &msg.headers,
            &msg.payload,
        );
        frame.msgs.push((seq, rec_off));
        if let Some(b) = inner.blocks.get_mut(&at.block) {
            b.live += 1;
        }
        let (got, removed) = inner.ledger.append(Entry {
            subject: &msg.subject,
            ts,
            ttl: msg.ttl,
            size,
            data: at,
        });
        debug_assert_eq!(got, seq);
        inner.mark_last();
        inner.log_removals(&removed);
        inner.hand_off();
        let durable = inner.ticket();
        Ok(Appended {
            seq,
            timestamp: ts,
            durable,
        })
    }

    async fn load(&self, seq: u64) -> StoreResult<StoredMessage> {
        self.load_seq(seq).await
    }

    async fn load_last(&self, filter: &[u8]) -> StoreResult<StoredMessage> {
        let seq = {
            let inner = self.inner.borrow();
            FileStore::check_usable(&inner)?;
            inner
                .ledger
                .last_matching(filter)
                .ok_or(StoreError::NotFound)?
        };
        self.load_seq(seq).await
    }

    async fn load_next(&self, filter: &[u8], start: u64) -> StoreResult<Option<StoredMessage>> {
        let next = {
            let inner = self.inner.borrow();
            FileStore::check_usable(&inner)?;
            inner.ledger.next_matching(filter, start)
        };
        match next {
            Some(seq) => self.load_seq(seq).await.map(Some),
            None => Ok(None),
        }
    }

    fn remove(&self, seq: u64, erase: bool) -> StoreResult<bool> {
        let mut inner = self.inner.borrow_mut();
        FileStore::check_usable(&inner)?;
        if inner.ledger.slot(seq).is_none() {
            return Ok(false);
        }
        inner.begin()?;
        let removed: Vec<_> = inner.ledger.remove(seq).into_iter().collect();
        if erase {
            for r in &removed {
                inner.uncount(r.data);
                let frame = inner.frame_for(17);
                frame.put_removal(|b| format::put_del_erase(b, r.seq, r.data.block, r.data.offset));
                inner.erase(r.data, r.seq);
            }
            inner.mark_last();
        } else {
            inner.log_removals(&removed);
        }
        inner.hand_off();
        Ok(!removed.is_empty())
    }

    fn purge(&self, req: &PurgeRequest) -> StoreResult<u64> {
        let mut inner = self.inner.borrow_mut();
        FileStore::check_usable(&inner)?;
        inner.begin()?;
        // A floor record goes into a frame opened before the ledger moves, so
        // a block rolled for it starts at the store's position before the purge.
        inner.frame_for(9);
        let purged = inner.ledger.purge(req)?;
        let n = purged.removed.len() as u64;
        inner.log_purge(purged);
        inner.hand_off();
        Ok(n)
    }

    fn compact(&self, seq: u64) -> StoreResult<u64> {
        let mut inner = self.inner.borrow_mut();
        inner.begin()?;
        inner.frame_for(9); // see purge
        let purged = inner.ledger.compact(seq);
        let n = purged.removed.len() as u64;
        inner.log_purge(purged);
        inner.hand_off();
        Ok(n)
    }

    fn truncate(&self, seq: u64) -> StoreResult<()> {
        let mut inner = self.inner.borrow_mut();
        inner.begin()?;
        let removed = inner.ledger.truncate(seq);
        for r in &removed {
            inner.uncount(r.data);
        }
        let last_ts = inner.ledger.last_ts();
        let frame = inner.frame_for(17);
        frame.put_removal(|b| format::put_truncate(b, seq, last_ts));
        inner.mark_last();
        inner.hand_off();
        Ok(())
    }

    fn set_limits(&self, limits: StoreLimits) -> StoreResult<()> {
        let mut inner = self.inner.borrow_mut();
        inner.begin()?;
        inner.ledger.set_limits_only(limits);
        let removed = inner.ledger.enforce_all();
        inner.log_removals(&removed);
        inner.hand_off();
        Ok(())
    }

    fn expire(&self, now: UnixNanos) -> StoreResult<Vec<Expired>> {
        let mut inner = self.inner.borrow_mut();
        inner.begin()?;
        let removed = inner.ledger.expire(now);
        inner.log_removals(&removed);
        inner.hand_off();
        Ok(removed.iter().map(|r| r.expired()).collect())
    }

    fn due(&self, now: UnixNanos) -> Vec<Expired> {
        self.inner.borrow().ledger.due(now)
    }

    fn next_expiry(&self) -> Option<UnixNanos> {
        self.inner.borrow().ledger.next_expiry()
    }

    fn state(&self) -> StoreState {
        self.inner.borrow().ledger.state()
    }

    fn deleted(&self) -> Vec<u64> {
        self.inner.borrow().ledger.deleted()
    }

    fn subjects_state(&self, filter: &[u8]) -> BTreeMap<Bytes, SubjectState> {
        self.inner.borrow().ledger.subjects_state(filter)
    }

    fn filtered_state(&self, filter: &[u8], start: u64) -> SubjectState {
        let filter: &[u8] = if filter.is_empty() { b">" } else { filter };
        let (messages, first_seq, last_seq) = self.inner.borrow().ledger.filtered(filter, start);
        SubjectState {
            messages,
            first_seq,
            last_seq,
        }
    }

    fn subject_at(&self, seq: u64) -> Option<Bytes> {
        let l = &self.inner.borrow().ledger;
        let slot = l.slot(seq)?;
        slot.is_live().then(|| l.subject_of(slot))
    }

    fn durable(&self) -> Durable {
        let inner = self.inner.borrow();
        if let Some(e) = &inner.poisoned {
            return Durable::failed(StoreError::Poisoned(e.to_string()));
        }
        Durable::epoch(inner.tracker.clone(), inner.epoch)
    }
}

impl Inner {
    /// Logs a purge: one FLOOR record for a prefix, else one DEL per message.
    fn log_purge(&mut self, purged: crate::ledger::Purged<FrameRef>) {
        match purged.new_floor {
            Some(floor) => {
                for r in &purged.removed {
                    self.uncount(r.data);
                }
                let frame = self.frame_for(9);
                frame.put_removal(|b| format::put_floor(b, floor));
                self.mark_last();
            }
            None => self.log_removals(&purged.removed),
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // Without close(): stop the writer after what is queued; nothing
        // acknowledged depends on this (acks wait for their epoch).
        let mut inner = self.inner.borrow_mut();
        inner.closing = true;
        inner.wake_writer();
    }
}

#[allow(dead_code)]
const _SECTOR_IS_POWER_OF_TWO: () = assert!(SECTOR.is_power_of_two());
