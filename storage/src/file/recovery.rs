//! Opening a FileStore: read every block, verify every frame, replay the
//! records into a fresh ledger, and make the tail safe to append to.
//!
//! Decisions, in order of what the scan meets:
//! - a block whose header is unreadable and that is the last block was being
//!   created when the process stopped (its header is written before any frame
//!   goes in): it is removed if nothing else is in it;
//! - a frame that fails verification with a valid frame somewhere after it is
//!   *corruption*: the sequences between are reported with the file and
//!   marked lost (never served), and the scan continues after them;
//! - a frame that fails with nothing valid after it in the last block is a
//!   *torn tail* (a write that never completed, so never acknowledged): it is
//!   zeroed and appends continue there;
//! - the same in an earlier block is corruption up to the next block's start.
//!
//! The ledger is rebuilt from the records alone (no index file yet), so what
//! the store reports always matches what the blocks hold.
//!
//! What recovery read becomes durable before the store accepts work: it may
//! come from a page or device cache that a power loss would empty — a process
//! killed between a write and its sync, a block created and then killed before
//! its directory sync, or an fdatasync that failed (Linux then drops the data
//! but still serves it from cache; a later fdatasync reports success without
//! writing it). So recovery writes the last block's header page and its last
//! write (from the last frame's `batch_start`) again, byte for byte,
//! fdatasyncs every block, and fsyncs the directory (and creates `msgs/`
//! durably in its parent). Without this, appends acknowledged after a restart
//! could sit behind bytes that vanish at the next power loss.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use crate::config::{FileStoreConfig, StoreLimits};
use crate::durable::CommitTracker;
use crate::error::{StoreError, StoreResult};
use crate::ledger::{Entry, Ledger};

use super::codec::{BlockCodec, CodecError};
use super::erase::EraseJob;
use super::format::{self, Bad, BlockHeader, Record, FRAMES_START, FRAME_MAGIC, SECTOR, TORN_UNIT};
use super::frames::{FrameCache, FrameRef};
use super::io::{self, BlockFile, Disk};
use super::writer::Tail;
use super::{round_up, Block, CorruptRange, Inner};

/// Bytes at the end of a damaged last frame that, all zero, leave open
/// whether a zeroed range went on over frames after it. One byte: a zeroed
/// range that wiped later frames always zeroes the frame's last byte (the
/// matrix found one that zeroed only its last four); a frame that really
/// ends in a zero byte is refused rather than guessed about.
const ZEROED_END_PROBE: usize = 1;

/// The close mark in `msgs/`: written by a clean [`super::FileStore::close`]
/// once everything else is durable (replaced at every clean close, never
/// removed). It records the store's last sequence at that close.
pub(crate) const CLOSED_FILE: &str = "closed";
/// The close mark's magic.
const CLOSED_MAGIC: &[u8; 8] = b"JCCLOSED";

/// The close mark's bytes: magic, the store's last sequence, a CRC-32 of both.
pub(crate) fn encode_close_mark(last_seq: u64) -> Vec<u8> {
    let mut out = CLOSED_MAGIC.to_vec();
    out.extend_from_slice(&last_seq.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The last sequence a close mark records, if it is intact.
fn decode_close_mark(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != 20 || &bytes[..8] != CLOSED_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    if crc != crc32fast::hash(&bytes[..16]) {
        return None;
    }
    Some(u64::from_le_bytes(bytes[8..16].try_into().ok()?))
}

/// Reads a whole block file.
async fn read_all(file: &BlockFile, size: u64) -> StoreResult<Bytes> {
    const CHUNK: u64 = 4 << 20;
    if size <= CHUNK {
        return file.read(0, size as usize).await;
    }
    let mut out = Vec::with_capacity(size as usize);
    let mut pos = 0;
    while pos < size {
        let len = (size - pos).min(CHUNK) as usize;
        let part = file.read(pos, len).await?;
        if part.is_empty() {
            break;
        }
        out.extend_from_slice(&part);
        pos += part.len() as u64;
        glommio::yield_if_needed().await;
    }
    Ok(Bytes::from(out))
}

/// The first position at or after `from` holding a frame that verifies
/// (with the block's CRC seed).
fn next_valid_frame(data: &[u8], from: usize, seed: u32) -> Option<usize> {
    let magic = FRAME_MAGIC.to_le_bytes();
    let mut p = from;
    while p + format::FRAME_HEADER_LEN <= data.len() {
        let rel = data[p..].windows(4).position(|w| w == magic)?;
        p += rel;
        if format::decode_frame(&data[p..], seed).is_ok() {
            return Some(p);
        }
        p += 1;
    }
    None
}

/// Evidence that the bytes in `[from, to)` are a write that did not finish:
/// the block was zero-filled, so a write that never reached the disk leaves a
/// whole zero 512-byte sector (or a zero frame header). Without it, a bad
/// frame is damage, not a torn write, even inside the last write.
fn shows_unwritten_sector(data: &[u8], from: usize, to: usize) -> bool {
    let unit = TORN_UNIT as usize;
    if data
        .get(from..from + format::FRAME_HEADER_LEN)
        .is_some_and(format::is_zero)
    {
        return true;
    }
    let mut s = from.div_ceil(unit) * unit;
    while s + unit <= to.min(data.len()) {
        if format::is_zero(&data[s..s + unit]) {
            return true;
        }
        s += unit;
    }
    false
}

/// Every verifying frame after `from`: `(offset, batch start, prev_last_seq)`.
fn valid_frames_after(data: &[u8], from: usize, seed: u32) -> Vec<(usize, u32, u64)> {
    let mut out = Vec::new();
    let mut p = from;
    while let Some(at) = next_valid_frame(data, p, seed) {
        match format::decode_frame(&data[at..], seed) {
            Ok((h, _)) => {
                out.push((at, h.batch_start, h.prev_last_seq));
                p = at + h.total_len();
            }
            Err(_) => p = at + 1,
        }
    }
    out
}

/// Zeroes a torn tail from `pos` to the last non-zero byte of the block.
async fn cut_torn_tail(file: &BlockFile, data: &[u8], pos: usize, path: &Path) -> StoreResult<()> {
    let end = pos
        + data[pos..]
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |r| r + 1);
    tracing::warn!(
        path = %path.display(),
        offset = pos,
        bytes = end - pos,
        "truncating a torn write at the end of the store"
    );
    zero_range(file, data, pos as u64, end as u64).await
}

/// A torn write into a zero-filled block leaves whole zero sectors where the
/// frame should be (the sectors that never reached the disk). A frame with a
/// sane header none of whose later sectors is all zero was written completely
/// and changed afterwards: damage, not a torn tail. A frame inside a single
/// sector cannot tear (sector writes are atomic), so a bad one is damage.
/// Known blind spot: a damaged last frame whose payload holds a whole zero
/// sector is taken for a torn write and cut.
fn looks_damaged_not_torn(at: &[u8], file_pos: usize) -> bool {
    if at.len() < format::FRAME_HEADER_LEN || at[..4] != FRAME_MAGIC.to_le_bytes() {
        return false;
    }
    let (_, _, total) = frame_extent(at);
    if total < format::FRAME_HEADER_LEN || total > at.len() {
        return false;
    }
    let sector = TORN_UNIT as usize;
    let first_sector_end = (file_pos / sector + 1) * sector;
    let extent_end = file_pos + total;
    let mut s = first_sector_end;
    while s < extent_end {
        let from = s - file_pos;
        let to = (from + sector).min(at.len());
        if format::is_zero(&at[from..to]) {
            return false;
        }
        s += sector;
    }
    true
}

/// `(prev_last_seq, last_seq, total length)` claimed by a frame header that
/// may be damaged.
fn frame_extent(at: &[u8]) -> (u64, u64, usize) {
    if at.len() < format::FRAME_HEADER_LEN {
        return (0, 0, 0);
    }
    let len = u32::from_le_bytes([at[4], at[5], at[6], at[7]]) as usize;
    let mut prev = [0u8; 8];
    prev.copy_from_slice(&at[16..24]);
    let mut last = [0u8; 8];
    last.copy_from_slice(&at[24..32]);
    (
        u64::from_le_bytes(prev),
        u64::from_le_bytes(last),
        format::FRAME_HEADER_LEN.saturating_add(len),
    )
}

/// A last block whose header is unreadable and that holds no valid frame was
/// being created when the process stopped (a block's header is durable before
/// any frame goes in): remove it so the block before is the last one again.
/// A last block left by a creation that did not finish: taken off `list`
/// (not replayed); the caller removes it once the close mark agrees.
async fn unfinished_last_block(
    disk: &Disk,
    list: &mut Vec<(u32, PathBuf)>,
) -> StoreResult<Option<PathBuf>> {
    let Some((index, path)) = list.last().cloned() else {
        return Ok(None);
    };
    let file = disk.open(&path).await?;
    let size = file.size().await?;
    let data = read_all(&file, size).await?;
    file.close().await;
    let header_ok = matches!(BlockHeader::decode(&data), Ok(h) if h.index == index);
    // Without a readable header the frames cannot be verified (their CRC seed
    // is in it); any frame magic at all means data was written, so the block
    // is kept and reported rather than removed.
    let magic = FRAME_MAGIC.to_le_bytes();
    let has_frame_bytes = data
        .get(FRAMES_START as usize..)
        .is_some_and(|d| d.windows(4).any(|w| w == magic));
    if header_ok || has_frame_bytes {
        return Ok(None);
    }
    list.pop();
    Ok(Some(path))
}

/// What recovery hands to the store.
pub(crate) async fn recover(
    disk: Disk,
    cfg: FileStoreConfig,
    limits: StoreLimits,
) -> StoreResult<(Inner, Tail)> {
    let msgs_dir = cfg.dir.join("msgs");
    disk.create_dir_durable(&msgs_dir).await?;
    disk.prime(&msgs_dir).await?;
    let mut ledger: Ledger<FrameRef> = Ledger::new(limits);
    let mut erase_jobs: Vec<EraseJob> = Vec::new();
    let mut blocks = BTreeMap::new();
    let mut corrupt = Vec::new();
    let mut tail = None;
    let mut next_offset = FRAMES_START;
    // A damaged range that runs to the end of a block: it ends where the next
    // block starts.
    let mut open_loss: Option<(u64, PathBuf)> = None;
    super::erase::finish_interrupted(&disk, &msgs_dir).await?;
    let mut list = disk.list_blocks(&msgs_dir)?;
    let unfinished = unfinished_last_block(&disk, &mut list).await?;
    let count = list.len();
    // The highest last sequence the store is seen to have reached: a block's
    // base, a valid frame's `prev_last_seq`, the ledger after each frame (a
    // later truncate lowers the ledger, not this).
    let mut high_water = 0u64;
    // The block replayed before the current one: `(index, path)`.
    let mut prev_block: Option<(u32, PathBuf)> = None;
    let mut echo = EchoCheck::default();
    for (k, (index, path)) in list.into_iter().enumerate() {
        let is_last = k + 1 == count;
        let prev_block = prev_block.replace((index, path.clone()));
        echo.paths.insert(index, path.clone());
        let file = disk.open(&path).await?;
        let size = file.size().await?;
        let data = read_all(&file, size).await?;
        let header = match BlockHeader::decode(&data) {
            Ok(h) if h.index == index => h,
            other => {
                let reason = match other {
                    Ok(_) => "block number does not match its file name",
                    Err(Bad::Zero) => "empty block header",
                    Err(Bad::Invalid(r)) => r,
                };
                return Err(StoreError::Format {
                    path,
                    reason: reason.to_string(),
                });
            }
        };
        let codec = match BlockCodec::for_existing_block(&header, &cfg.cipher) {
            Ok(c) => Rc::new(c),
            Err(CodecError::WrongKey) => return Err(StoreError::WrongKey { path }),
            Err(CodecError::NoKey) => {
                return Err(StoreError::Format {
                    path,
                    reason: "the block is encrypted with a cipher for which no key is configured".into(),
                })
            }
            Err(CodecError::Unknown) => {
                return Err(StoreError::Format {
                    path,
                    reason: "unknown compression or cipher in the block header (written by a newer version?)".into(),
                })
            }
        };
        if blocks.is_empty() {
            ledger.start_at(header.base_last_seq, header.base_last_ts);
        } else if header.base_last_seq > ledger.last_seq() {
            // Sequences between the previous block's end and this block's
            // start are missing: damage that ran to the end of the previous
            // block, or a block that is gone.
            // Those sequences were written after the previous block's last
            // replayed frame: into that block, when it is the one just
            // before (its data ended early), else into a block that is gone.
            let gap_at = match &prev_block {
                Some((i, p)) if *i + 1 == index => p.clone(),
                _ => path.clone(),
            };
            let (first, at) = open_loss.take().unwrap_or((ledger.last_seq() + 1, gap_at));
            report_loss(&mut corrupt, first, header.base_last_seq, &at);
            ledger.apply_truncate(header.base_last_seq, header.base_last_ts);
            echo.damaged();
        }
        open_loss = None;
        high_water = high_water.max(ledger.last_seq());

        if (data.len() as u64) < FRAMES_START {
            return Err(StoreError::Format {
                path,
                reason: "block file shorter than its header page".into(),
            });
        }
        let seed = codec.crc_seed();
        let mut pos = FRAMES_START as usize;
        // Where the write that carried the last valid frame started.
        let mut last_batch_start = None;
        // A damaged frame at the end of the last block was skipped: what
        // follows it is no longer told apart from damage.
        let mut damaged_at_end = false;
        loop {
            match format::decode_frame(&data[pos..], seed) {
                Ok((fh, body)) => {
                    let stored = data.slice_ref(body);
                    let head = &data[pos..pos + format::FRAME_HEADER_LEN];
                    let body = match codec.decode(head, fh.flags, fh.raw_len, stored) {
                        Ok(b) => b,
                        Err(reason) => {
                            // CRC fine but authentication or decompression
                            // fails: altered on purpose or by a bug, not by
                            // the medium. Never serve it.
                            return Err(StoreError::Format {
                                path,
                                reason: format!("frame at offset {pos}: {reason}"),
                            });
                        }
                    };
                    replay_frame(
                        &mut ledger,
                        &mut erase_jobs,
                        &mut echo,
                        &body,
                        FrameRef {
                            block: index,
                            offset: pos as u32,
                        },
                        &path,
                    )?;
                    last_batch_start = Some(fh.batch_start as usize);
                    high_water = high_water.max(fh.prev_last_seq).max(ledger.last_seq());
                    pos += fh.total_len();
                }
                Err(bad) => {
                    let rest_zero = format::is_zero(&data[pos..]);
                    if bad == Bad::Zero && rest_zero {
                        break; // the normal end of the data
                    }
                    let later = valid_frames_after(&data, pos + 1, seed);
                    if is_last
                        && !later.is_empty()
                        && later.iter().all(|&(_, bs, _)| bs as usize <= pos)
                        && shows_unwritten_sector(&data, pos, later[0].0)
                    {
                        // Every valid frame after the bad spot came in the same
                        // write as the bad spot: the last write tore (sectors
                        // of one write can persist out of order). It never
                        // completed, so nothing in it was acknowledged.
                        cut_torn_tail(&file, &data, pos, &path).await?;
                        break;
                    }
                    match later.first() {
                        Some(&(next, _, resume)) => {
                            report_loss(&mut corrupt, ledger.last_seq() + 1, resume, &path);
                            echo.damaged();
                            if resume > ledger.last_seq() {
                                let ts = ledger.last_ts();
                                ledger.apply_truncate(resume, ts);
                            }
                            pos = next;
                        }
                        None if is_last && looks_damaged_not_torn(&data[pos..], pos) => {
                            // A whole frame is there but fails its checksum:
                            // bytes changed after they were written. Keep them
                            // (evidence), report, and append after them. Its
                            // header is unverified, so its last sequence is
                            // believed only when it is plausible.
                            let (prev_last, claimed_last, total) = frame_extent(&data[pos..]);
                            // A zeroed range can run past the frame's end and
                            // wipe whole frames after it, leaving what reads
                            // as the normal end of the data. A frame ending in
                            // zero leaves that open: refuse.
                            let tail_end = pos + total;
                            let tail = &data[tail_end.saturating_sub(ZEROED_END_PROBE)..tail_end];
                            if format::is_zero(tail) {
                                return Err(StoreError::Format {
                                    path,
                                    reason: format!(
                                        "damaged frame at offset {pos} at the end of the store ends in zeros; whether messages after sequence {} followed it is unknown",
                                        ledger.last_seq()
                                    ),
                                });
                            }
                            let max_msgs = (total / format::MSG_RECORD_FIXED) as u64 + 1;
                            let last = ledger.last_seq();
                            if prev_last == last
                                && claimed_last > last
                                && claimed_last - last <= max_msgs
                            {
                                report_loss(&mut corrupt, last + 1, claimed_last, &path);
                                echo.damaged();
                                let ts = ledger.last_ts();
                                ledger.apply_truncate(claimed_last, ts);
                            } else {
                                // Appending after it would reuse sequences
                                // it may have held (acknowledged ones). The
                                // count is unknown: refuse, naming the file.
                                return Err(StoreError::Format {
                                    path,
                                    reason: format!(
                                        "damaged frame at offset {pos} at the end of the store; how many messages after sequence {last} it held is unknown"
                                    ),
                                });
                            }
                            pos += total;
                            damaged_at_end = true;
                        }
                        None if is_last && damaged_at_end => {
                            // After a frame that was written whole and
                            // damaged, more bad bytes: whether they are a
                            // torn write or damage too cannot be told, nor
                            // how many messages they held.
                            return Err(StoreError::Format {
                                path,
                                reason: format!(
                                    "damaged data at offset {pos} after a damaged frame at the end of the store; messages after sequence {} may be lost",
                                    ledger.last_seq()
                                ),
                            });
                        }
                        None if is_last => {
                            cut_torn_tail(&file, &data, pos, &path).await?;
                            break;
                        }
                        None => {
                            open_loss = Some((ledger.last_seq() + 1, path.clone()));
                            echo.damaged();
                            break;
                        }
                    }
                }
            }
        }
        if is_last {
            // What a failed fdatasync of the previous process lost is still
            // readable here (fsyncgate): the block's header page (if its
            // creation's sync failed) and the last write. Write them again
            // before anything is appended after them.
            rewrite_last_write(&file, &data, last_batch_start, pos).await?;
            tail = Some(Tail::at_end(index, pos as u64, &data));
            next_offset = pos as u64;
        }
        // Whatever the previous process wrote without syncing (a SIGKILL
        // under `sync: never`/`interval`, or between a write and its sync) is
        // served from now on, so it must survive a power loss from now on.
        file.sync().await?;
        blocks.insert(
            index,
            Block {
                path,
                file: Some(Rc::new(file)),
                capacity: size,
                live: 0,
                dead_epoch: 0,
                removals: echo.seen.get(&index).copied().unwrap_or(0),
                codec,
                header,
            },
        );
    }
    // A clean close left a mark with its last sequence. Data that never
    // reaches it was damaged while the store was stopped: a last block cut
    // short or zeroed at its tail reads just like a torn write, and one
    // whose header went too like an unfinished creation. The open is
    // refused, naming the block; nothing is changed, so every open answers
    // the same. An open that goes ahead removes the mark (made durable by
    // the directory sync below, before anything is appended): it speaks only
    // for the data as that close left it — a later truncate, and dead blocks
    // removed after it, could leave the store legitimately below it.
    let high_water = high_water.max(ledger.last_seq());
    let closed_path = msgs_dir.join(CLOSED_FILE);
    if disk.exists(&closed_path)? {
        match decode_close_mark(&disk.read_small(&closed_path).await?) {
            Some(closed_last) if closed_last > high_water => {
                let path = unfinished.clone().unwrap_or_else(|| {
                    blocks
                        .values()
                        .next_back()
                        .map_or_else(|| msgs_dir.clone(), |b: &Block| b.path.clone())
                });
                return Err(StoreError::Format {
                    path,
                    reason: format!(
                        "the store was closed cleanly at sequence {closed_last} but its data ends at {high_water}: the end of its last block was damaged while it was stopped (truncated or zeroed); sequences {}..={closed_last} are missing",
                        high_water + 1
                    ),
                });
            }
            Some(_) => {}
            None => tracing::warn!(
                path = %closed_path.display(),
                "unreadable close mark ignored"
            ),
        }
        disk.remove_file(&closed_path)?;
    }
    if let Some(path) = &unfinished {
        tracing::warn!(path = %path.display(), "removing a block whose creation did not finish");
        disk.remove_file(path)?;
    }

    // The names of the blocks just read may not be durable yet: a process
    // killed between creating a block and syncing the directory, or one that
    // removed dead blocks (removals are synced lazily). From here on the
    // store builds on exactly these files.
    disk.sync_dir(&msgs_dir).await?;
    if let Some((first, path)) = open_loss {
        // Damage ran to the end of the last readable block; we cannot know
        // how far it went, so it is reported as open-ended.
        tracing::error!(path = %path.display(), first, "damaged data at the end of a block; later sequences unknown");
    }

    let (tail, cur_block) = match (tail, blocks.keys().next_back().copied()) {
        (Some(t), Some(last)) => (t, last),
        _ => {
            let index = 1;
            let path = io::block_path(&msgs_dir, index);
            let (codec, compression, cipher, salt, key_check) =
                BlockCodec::for_new_block(index, cfg.compression, &cfg.cipher);
            let header = BlockHeader {
                index,
                base_last_seq: ledger.last_seq(),
                base_last_ts: ledger.last_ts(),
                compression,
                cipher,
                salt,
                key_check,
            };
            // No block file at all: a new store (create_new refuses to
            // overwrite anything that is there).
            let file = disk
                .create_zeroed(&path, cfg.block_size, &header.encode())
                .await?;
            disk.sync_dir(&msgs_dir).await?;
            blocks.insert(
                index,
                Block {
                    path,
                    file: Some(Rc::new(file)),
                    capacity: cfg.block_size,
                    live: 0,
                    dead_epoch: 0,
                    removals: 0,
                    codec: Rc::new(codec),
                    header,
                },
            );
            next_offset = FRAMES_START;
            (
                Tail {
                    block: index,
                    pos: FRAMES_START,
                    bytes: Vec::new(),
                },
                index,
            )
        }
    };

    let mut live: HashMap<u32, u64> = HashMap::new();
    for (_, slot) in ledger.iter_from(0) {
        *live.entry(slot.data.block).or_default() += 1;
    }
    for (index, b) in blocks.iter_mut() {
        b.live = live.get(index).copied().unwrap_or(0);
    }
    for c in &corrupt {
        tracing::error!(
            path = %c.path.display(),
            first_seq = c.first,
            last_seq = c.last,
            "stream store has a damaged range; those messages will not be served"
        );
    }

    let cache = FrameCache::new(cfg.read_cache_bytes);
    let inner = Inner {
        disk,
        msgs_dir,
        ledger,
        blocks,
        cur_block,
        next_offset,
        open: None,
        queued: VecDeque::new(),
        inflight: HashMap::default(),
        cache,
        epoch: 0,
        tracker: CommitTracker::new(),
        poisoned: None,
        writer_waker: None,
        closing: false,
        corrupt,
        dirty: BTreeSet::new(),
        stats: Default::default(),
        batch_start: None,
        erase_jobs,
        written_epoch: 0,
        erase_generation: 0,
        erasing: false,
        erase_waiters: Vec::new(),
        echo: echo.source(),
        read_end: None,
        read_ahead: None,
        read_ahead_trigger: None,
        cfg,
    };
    Ok((inner, tail))
}

/// Writes the header page and the last write (`[batch_start, end)`) of the
/// last block again, byte for byte as read, so that a write the previous
/// process saw fail to sync is durable before the store builds on it. (A sync
/// alone does not do it: Linux reports a writeback error once and then
/// considers the pages clean.)
async fn rewrite_last_write(
    file: &BlockFile,
    data: &[u8],
    batch_start: Option<usize>,
    end: usize,
) -> StoreResult<()> {
    let page = SECTOR as usize;
    if let Some(header) = data.get(..page) {
        file.write_aligned(0, header).await?;
    }
    let Some(start) = batch_start else {
        return Ok(());
    };
    let from = (start / page * page).max(page);
    // A file cut short at an unaligned size (damage) still gets whole
    // sectors: O_DIRECT writes nothing else.
    let to =
        (round_up(end as u64, SECTOR) as usize).min(round_up(data.len() as u64, SECTOR) as usize);
    if from >= to || end > data.len() {
        return Ok(());
    }
    file.write_with(from as u64, to - from, |buf| {
        let keep = end.saturating_sub(from).min(buf.len());
        buf[..keep].copy_from_slice(&data[from..from + keep]);
        buf[keep..].fill(0);
    })
    .await
}

fn report_loss(corrupt: &mut Vec<CorruptRange>, first: u64, last: u64, path: &Path) {
    if last >= first {
        corrupt.push(CorruptRange {
            first,
            last,
            path: path.to_path_buf(),
        });
    } else {
        // Damage that held no message (only removal records): the removals are
        // lost, which can only bring back messages; say so.
        tracing::warn!(path = %path.display(), "damaged frame without messages skipped");
    }
}

/// Recovery's side of removal echoes (`format::REC_ECHO`): a damaged frame's
/// removal records are lost with it, and the messages they removed would be
/// served again (the corruption matrix's blind spot b). The frame after it
/// starts with a copy of them and the count its block held up to it; the
/// copy is applied only right after damage, and a count that still falls
/// short means more damaged frames held removals: the open is refused.
#[derive(Default)]
struct EchoCheck {
    /// Removal records read per block: from verified frames, and from echoes
    /// applied after damage.
    seen: HashMap<u32, u32>,
    /// Paths of the blocks read so far (to name the one that lost removals).
    paths: HashMap<u32, PathBuf>,
    /// Damage was skipped since the last verified frame that carries records.
    after_damage: bool,
    /// The last verified frame's block and removal records: what the first
    /// frame written after the open echoes.
    last: Option<(u32, Vec<u8>)>,
}

impl EchoCheck {
    /// A damaged range was skipped: the next frame's echo is needed.
    fn damaged(&mut self) {
        self.after_damage = true;
        if let Some((_, records)) = self.last.as_mut() {
            records.clear();
        }
    }

    /// What the store's first new frame echoes.
    fn source(&self) -> super::EchoSource {
        match &self.last {
            Some((block, records)) => super::EchoSource {
                block: *block,
                through: self.seen.get(block).copied().unwrap_or(0),
                records: records.clone(),
            },
            None => super::EchoSource::default(),
        }
    }
}

/// Applies one removal record.
fn apply_removal(ledger: &mut Ledger<FrameRef>, erase_jobs: &mut Vec<EraseJob>, rec: Record) {
    match rec {
        Record::Del { seq } => {
            let _ = ledger.remove(seq);
        }
        Record::Floor { seq } => ledger.apply_floor(seq),
        Record::Truncate { seq, last_ts } => ledger.apply_truncate(seq, last_ts),
        Record::DelErase { seq, block, offset } => {
            let at = FrameRef { block, offset };
            // The message was replayed un-erased from that frame: the
            // overwrite never happened; do it again.
            if ledger.slot(seq).is_some_and(|s| s.data == at) {
                erase_jobs.push(EraseJob { at, seq, epoch: 0 });
            }
            let _ = ledger.remove(seq);
        }
        _ => {}
    }
}

/// Applies an echo found right after damage: the damaged frame's removal
/// records, then the count check for its block.
fn apply_echo(
    ledger: &mut Ledger<FrameRef>,
    erase_jobs: &mut Vec<EraseJob>,
    echo: &mut EchoCheck,
    (block, through, records): (u32, u32, &Bytes),
    path: &Path,
) -> StoreResult<()> {
    let bad = |reason: String| StoreError::Format {
        path: echo
            .paths
            .get(&block)
            .cloned()
            .unwrap_or_else(|| path.to_path_buf()),
        reason,
    };
    let mut pos = 0;
    let mut n = 0u32;
    while pos < records.len() {
        let (rec, next) = format::decode_record(records, pos)
            .map_err(|_| bad("undecodable record in a removal echo".into()))?;
        if !rec.is_removal() {
            return Err(bad(
                "a removal echo holds a record that is not a removal".into()
            ));
        }
        apply_removal(ledger, erase_jobs, rec);
        n += 1;
        pos = next;
    }
    let seen = echo.seen.entry(block).or_default();
    *seen = seen.saturating_add(n);
    let seen = *seen;
    tracing::warn!(
        path = %path.display(),
        block,
        records = n,
        "removal records of a damaged frame restored from the frame after it"
    );
    if echo.paths.contains_key(&block) && seen < through {
        return Err(bad(format!(
            "damaged frames held {} removal records that are lost (the frame after them counts {through} in the block, {seen} were read); the messages they removed would be served again",
            through - seen
        )));
    }
    Ok(())
}

/// Applies one verified frame's records.
fn replay_frame(
    ledger: &mut Ledger<FrameRef>,
    erase_jobs: &mut Vec<EraseJob>,
    echo: &mut EchoCheck,
    body: &Bytes,
    at: FrameRef,
    path: &Path,
) -> StoreResult<()> {
    let mut pos = 0;
    let mut removals = Vec::new();
    let mut removal_count = 0u32;
    // Only padding: an erase's filler frame or an old close marker, which
    // carry no echo; damage before them is still waiting for one.
    let mut pad_only = true;
    while pos < body.len() {
        let (rec, next) = format::decode_record(body, pos).map_err(|_| StoreError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "undecodable record in a verified frame at offset {}",
                at.offset
            ),
        })?;
        if !matches!(rec, Record::Pad) {
            pad_only = false;
        }
        if rec.is_removal() {
            removals.extend_from_slice(&body[pos..next]);
            removal_count += 1;
        }
        match rec {
            Record::Msg {
                seq,
                ts,
                ttl,
                subject,
                headers,
                payload,
            } => {
                if seq <= ledger.last_seq() {
                    tracing::warn!(path = %path.display(), seq, "out-of-order message record skipped");
                } else {
                    let size =
                        format::file_msg_size(subject.len(), headers.len(), payload.len()) as u32;
                    ledger.apply_msg(
                        seq,
                        Entry {
                            subject: &subject,
                            ts,
                            ttl,
                            size,
                            data: at,
                        },
                    );
                }
            }
            // An erased message still took its sequence.
            Record::Erased { seq, ts } => {
                if seq > ledger.last_seq() {
                    ledger.apply_truncate(seq, ts);
                }
            }
            Record::Pad => {}
            Record::Echo {
                block,
                through,
                records,
            } => {
                if echo.after_damage && !broken!(IgnoreRemovalEcho) {
                    apply_echo(ledger, erase_jobs, echo, (block, through, &records), path)?;
                }
            }
            removal => apply_removal(ledger, erase_jobs, removal),
        }
        pos = next;
    }
    if !pad_only {
        echo.after_damage = false;
        let seen = echo.seen.entry(at.block).or_default();
        *seen = seen.saturating_add(removal_count);
        echo.last = Some((at.block, removals));
    }
    Ok(())
}

/// Zeroes `[from, to)` of a block, keeping the bytes before `from` in its
/// sector, and syncs.
async fn zero_range(file: &BlockFile, data: &[u8], from: u64, to: u64) -> StoreResult<()> {
    let start = from / SECTOR * SECTOR;
    // Whole sectors even when damage cut the file at an unaligned size.
    let end = round_up(to.max(from + 1), SECTOR).min(round_up(data.len() as u64, SECTOR));
    if end <= start {
        return Ok(());
    }
    let mut buf = vec![0u8; (end - start) as usize];
    buf[..(from - start) as usize].copy_from_slice(&data[start as usize..from as usize]);
    file.write_aligned(start, &buf).await?;
    file.sync().await
}
