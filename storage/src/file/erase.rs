//! Secure erase: overwriting a removed message's bytes inside its block.
//!
//! The message's record becomes an *erased* record of the same length
//! (subject, headers and payload zeroed; kind 5 keeps its sequence), and its
//! frame is re-encoded to exactly its old length (a new nonce when sealed; for
//! lz4 frames a padding record or a filler frame makes up the difference), so
//! no other frame moves. The block is then overwritten in place — the old
//! bytes are really gone from the file — crash-safely:
//!
//! 1. the new bytes of the rewritten frames are written as patches
//!    `(offset, bytes)` to `<n>.blk.tmp`, synced, and renamed to
//!    `<n>.blk.redo` (directory synced);
//! 2. the changed pages are written over `<n>.blk` and synced;
//! 3. the redo file is removed and the directory synced.
//!
//! Recovery applies any `.redo` it finds before reading the blocks (so a torn
//! step 2 is repaired) — after making the redo durable (a fresh copy renamed
//! over it, directory synced: its name may not have been) — and deletes
//! `.tmp` leftovers (step 1 did not finish; the block was never touched). Patches only rewrite frames with their
//! erased versions, which never change again, so applying a stale redo is
//! harmless. The removal is logged as a DEL_ERASE record; at open, a
//! DEL_ERASE whose message was replayed un-erased becomes an erase job again,
//! so a crash before the overwrite does not leave the bytes behind. The
//! writer runs jobs between batches once their removal is written, and holds
//! back the durability of the removing mutation until the overwrite is done.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use crate::error::StoreResult;

use super::codec::BlockCodec;
use super::format::{self, SECTOR};
use super::frames::{DecodedFrame, FrameRef};
use super::io::Disk;
use super::writer::Tail;
use super::{round_up, Inner};

/// A message to overwrite: where its frame is, its sequence, and the
/// mutation epoch that removed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EraseJob {
    pub at: FrameRef,
    pub seq: u64,
    pub epoch: u64,
}

/// What [`rewrite_frame`] found.
pub(crate) enum Rewrite {
    /// The frame with the message erased, same length as before.
    Done(Vec<u8>),
    /// No un-erased record of that message in the frame (already erased).
    NothingToDo,
    /// The frame could not be re-encoded to its old length.
    CannotFit,
}

fn redo_path(block: &Path) -> PathBuf {
    block.with_extension("blk.redo")
}

fn tmp_path(block: &Path) -> PathBuf {
    block.with_extension("blk.tmp")
}

/// The frame at the start of `at` with message `seq` erased, re-encoded to
/// the same total length.
pub(crate) fn rewrite_frame(codec: &BlockCodec, at: &[u8], seq: u64) -> Rewrite {
    let seed = codec.crc_seed();
    let Ok((h, stored)) = format::decode_frame(at, seed) else {
        return Rewrite::CannotFit;
    };
    let old_total = h.total_len();
    let head = &at[..format::FRAME_HEADER_LEN];
    let Ok(body) = codec.decode(head, h.flags, h.raw_len, Bytes::copy_from_slice(stored)) else {
        return Rewrite::CannotFit;
    };
    let Ok(index) = DecodedFrame::index(body.clone()) else {
        return Rewrite::CannotFit;
    };
    let Some(&(_, pos)) = index.msgs.iter().rev().find(|&&(s, _)| s == seq) else {
        return Rewrite::NothingToDo;
    };
    let mut body = body.to_vec();
    if !format::scrub_message(&mut body, pos as usize) {
        return Rewrite::NothingToDo;
    }
    let encode = |b: &[u8], allow_lz4: bool, prev: u64| {
        codec.encode_with(b, prev, h.last_seq, allow_lz4, h.batch_start)
    };
    for extra in std::iter::once(None).chain((0..64).map(Some)) {
        let mut b = body.clone();
        if let Some(n) = extra {
            format::put_pad(&mut b, n);
        }
        let mut f = encode(&b, true, h.prev_last_seq);
        if f.len() == old_total {
            return Rewrite::Done(f);
        }
        if f.len() < old_total && old_total - f.len() >= codec.min_filler_len() {
            let gap = old_total - f.len();
            let mut pad = Vec::new();
            format::put_pad(&mut pad, gap - codec.min_filler_len());
            let filler = encode(&pad, false, h.last_seq);
            if filler.len() == gap {
                f.extend_from_slice(&filler);
                return Rewrite::Done(f);
            }
        }
        if !codec.compresses() {
            break; // plain and sealed frames keep their length; nothing to try
        }
    }
    Rewrite::CannotFit
}

/// Runs erase jobs (writer context: nothing in flight, removals durable).
pub(crate) async fn run(
    inner: &Rc<RefCell<Inner>>,
    tail: &mut Tail,
    jobs: Vec<EraseJob>,
) -> StoreResult<()> {
    let mut by_block: BTreeMap<u32, Vec<EraseJob>> = BTreeMap::new();
    for j in jobs {
        by_block.entry(j.at.block).or_default().push(j);
    }
    for (block, jobs) in by_block {
        erase_in_block(inner, tail, block, &jobs).await?;
    }
    Ok(())
}

async fn erase_in_block(
    inner: &Rc<RefCell<Inner>>,
    tail: &mut Tail,
    block: u32,
    jobs: &[EraseJob],
) -> StoreResult<()> {
    let (path, file, codec, capacity, dir, disk) = {
        let i = inner.borrow();
        let Some(b) = i.blocks.get(&block) else {
            return Ok(()); // the block is gone: nothing left to erase
        };
        (
            b.path.clone(),
            b.file.clone(),
            b.codec.clone(),
            b.capacity,
            i.msgs_dir.clone(),
            i.disk.clone(),
        )
    };
    let file = match file {
        Some(f) => f,
        None => Rc::new(disk.open(&path).await?),
    };
    let mut data = file.read(0, capacity as usize).await?.to_vec();
    let mut patches: Vec<(usize, usize)> = Vec::new();
    for job in jobs {
        let off = job.at.offset as usize;
        let Some(at) = data.get(off..) else { continue };
        match rewrite_frame(&codec, at, job.seq) {
            Rewrite::Done(new) => {
                data[off..off + new.len()].copy_from_slice(&new);
                patches.push((off, off + new.len()));
            }
            Rewrite::NothingToDo => {}
            Rewrite::CannotFit => tracing::warn!(
                path = %path.display(),
                seq = job.seq,
                "could not erase a removed message in place; its bytes stay until the block is removed"
            ),
        }
    }
    if patches.is_empty() {
        return Ok(());
    }
    // 1. A redo file of patches.
    let tmp = tmp_path(&path);
    let redo = redo_path(&path);
    let image = encode_patches(&data, &patches);
    disk.write_small_synced(&tmp, &image).await?;
    disk.rename(&tmp, &redo)?;
    disk.sync_dir(&dir).await?;
    // 2. Overwrite the changed pages in place: one write per run of
    // touching pages (patches of adjacent frames share a page; a write per
    // patch would leave the later frame half rewritten in between).
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &(start, end) in &patches {
        let a = start as u64 / SECTOR * SECTOR;
        let b = round_up(end as u64, SECTOR).min(data.len() as u64);
        match runs.iter_mut().find(|r| a <= r.1 && r.0 <= b) {
            Some(r) => *r = (r.0.min(a), r.1.max(b)),
            None => runs.push((a, b)),
        }
    }
    runs.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in runs {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    for (a, b) in merged {
        file.write_aligned(a, &data[a as usize..b as usize]).await?;
    }
    file.sync().await?;
    // 3. Done: the redo is no longer needed.
    disk.remove_file(&redo)?;
    disk.sync_dir(&dir).await?;
    if tail.block == block {
        let end = (tail.pos as usize + tail.bytes.len()).min(data.len());
        tail.bytes = data[tail.pos as usize..end].to_vec();
    }
    let mut i = inner.borrow_mut();
    i.cache.drop_block(block);
    i.erase_generation += 1;
    i.stats.erased += patches.len() as u64;
    Ok(())
}

const REDO_MAGIC: &[u8; 4] = b"JCRD";

/// `JCRD`, count u32, then per patch `offset u64, len u32, bytes`, then a
/// CRC-32 of everything before it.
fn encode_patches(data: &[u8], patches: &[(usize, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(REDO_MAGIC);
    out.extend_from_slice(&(patches.len() as u32).to_le_bytes());
    for &(a, b) in patches {
        out.extend_from_slice(&(a as u64).to_le_bytes());
        out.extend_from_slice(&((b - a) as u32).to_le_bytes());
        out.extend_from_slice(&data[a..b]);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode_patches(buf: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let (body, crc) = buf.split_at(buf.len().checked_sub(4)?);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?)
        || body.get(..4)? != REDO_MAGIC
    {
        return None;
    }
    let count = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?) as usize;
    let mut at = 8;
    let mut out = Vec::new();
    for _ in 0..count {
        let off = u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?);
        let len = u32::from_le_bytes(body.get(at + 8..at + 12)?.try_into().ok()?) as usize;
        out.push((off, body.get(at + 12..at + 12 + len)?));
        at += 12 + len;
    }
    Some(out)
}

/// Recovery: finish interrupted erases (apply `.redo` patches) and drop
/// unfinished ones (`.tmp`), before any block is read.
pub(crate) async fn finish_interrupted(disk: &Disk, msgs_dir: &Path) -> StoreResult<()> {
    let mut touched = false;
    for tmp in disk.list_suffix(msgs_dir, ".blk.tmp")? {
        disk.remove_file(&tmp)?;
        touched = true;
    }
    for redo in disk.list_suffix(msgs_dir, ".blk.redo")? {
        touched = true;
        let target = redo.with_extension(""); // "<n>.blk.redo" -> "<n>.blk"
        let buf = disk.read_small(&redo).await?;
        let Some(patches) = decode_patches(&buf) else {
            // Renamed into place only after it was synced, so this is damage;
            // the block was not touched by it.
            tracing::error!(path = %redo.display(), "ignoring a damaged erase redo file");
            disk.remove_file(&redo)?;
            continue;
        };
        if !disk.exists(&target)? {
            disk.remove_file(&redo)?;
            continue;
        }
        tracing::warn!(path = %target.display(), "finishing an interrupted secure erase");
        // The redo's name (and even its bytes) may not be durable: the
        // process may have been killed after the rename, or the directory
        // sync after it failed. Patching the block before they are would let
        // a power loss tear a page with nothing left to repair it
        // (regression: sim-crash seed 13777). A fresh copy renamed over it —
        // never a rewrite in place, which a crash could leave empty after an
        // earlier recovery already tore a page — then the directory sync.
        let tmp = redo.with_extension("tmp"); // "<n>.blk.redo" -> "<n>.blk.tmp"
        disk.write_small_synced(&tmp, &buf).await?;
        disk.rename(&tmp, &redo)?;
        disk.sync_dir(msgs_dir).await?;
        let file = disk.open(&target).await?;
        let size = file.size().await?;
        for (off, bytes) in patches {
            let end = off + bytes.len() as u64;
            if end > size {
                continue;
            }
            let a = off / SECTOR * SECTOR;
            let b = round_up(end, SECTOR).min(size);
            let mut page = file.read(a, (b - a) as usize).await?.to_vec();
            let from = (off - a) as usize;
            page[from..from + bytes.len()].copy_from_slice(bytes);
            file.write_aligned(a, &page).await?;
        }
        file.sync().await?;
        file.close().await;
        disk.remove_file(&redo)?;
    }
    if touched {
        disk.sync_dir(msgs_dir).await?;
    }
    Ok(())
}
