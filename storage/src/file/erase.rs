//! Secure erase: overwriting a removed message's bytes inside its block.
//!
//! The message's record becomes an *erased* record of the same length
//! (subject, headers and payload zeroed; kind 5 keeps its sequence), and its
//! frame is re-encoded to exactly its old length (a new nonce when sealed; for
//! lz4 frames a padding record or a filler frame makes up the difference), so
//! no other frame moves. The block is then overwritten in place — the old
//! bytes are really gone from the file — crash-safely:
//!
//! 1. the whole new block content is written to `<n>.blk.tmp`, synced, and
//!    renamed to `<n>.blk.redo` (directory synced): a complete redo image;
//! 2. the changed pages are written over `<n>.blk` and synced;
//! 3. the redo image is removed.
//!
//! Recovery applies any `.redo` image it finds before reading the blocks
//! (so a torn step 2 is repaired), and deletes `.tmp` leftovers (step 1 did
//! not finish; the block was never touched). The writer runs erase jobs only
//! when the removal records are durable and no frame is in flight.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use bytes::Bytes;

use crate::error::StoreResult;

use super::codec::BlockCodec;
use super::format::{self, SECTOR};
use super::frames::{DecodedFrame, FrameRef};
use super::io::{self, BlockFile};
use super::writer::Tail;
use super::{round_up, Inner};

/// A message to overwrite: where its frame is, and its sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EraseJob {
    pub at: FrameRef,
    pub seq: u64,
}

fn redo_path(block: &Path) -> PathBuf {
    block.with_extension("blk.redo")
}

fn tmp_path(block: &Path) -> PathBuf {
    block.with_extension("blk.tmp")
}

/// The frame at the start of `at` with message `seq` erased, re-encoded to
/// the same total length; `None` when that is not possible (the message is
/// not there, or an lz4 frame cannot be made to fit).
pub(crate) fn rewrite_frame(codec: &BlockCodec, at: &[u8], seq: u64) -> Option<Vec<u8>> {
    let seed = codec.crc_seed();
    let (h, stored) = format::decode_frame(at, seed).ok()?;
    let old_total = h.total_len();
    let head = &at[..format::FRAME_HEADER_LEN];
    let body = codec
        .decode(head, h.flags, h.raw_len, Bytes::copy_from_slice(stored))
        .ok()?;
    let index = DecodedFrame::index(body.clone()).ok()?;
    let pos = index.msgs.iter().rev().find(|&&(s, _)| s == seq)?.1 as usize;
    let mut body = body.to_vec();
    if !format::scrub_message(&mut body, pos) {
        return None;
    }
    let encode = |b: &[u8], allow_lz4: bool, prev: u64| {
        let mut f = codec.encode_with(b, prev, h.last_seq, allow_lz4);
        format::set_batch_start(&mut f, h.batch_start, seed);
        f
    };
    for extra in std::iter::once(None).chain((0..64).map(Some)) {
        let mut b = body.clone();
        if let Some(n) = extra {
            format::put_pad(&mut b, n);
        }
        let mut f = encode(&b, true, h.prev_last_seq);
        if f.len() == old_total {
            return Some(f);
        }
        if f.len() < old_total && old_total - f.len() >= codec.min_filler_len() {
            let gap = old_total - f.len();
            let mut pad = Vec::new();
            format::put_pad(&mut pad, gap - codec.min_filler_len());
            let filler = encode(&pad, false, h.last_seq);
            if filler.len() == gap {
                f.extend_from_slice(&filler);
                return Some(f);
            }
        }
        if !codec.compresses() {
            break; // plain and sealed frames keep their length; nothing to try
        }
    }
    None
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
    let (path, file, codec, capacity, dir) = {
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
        )
    };
    let file = match file {
        Some(f) => f,
        None => Rc::new(BlockFile::open(&path).await?),
    };
    let mut data = file.read(0, capacity as usize).await?.to_vec();
    let mut changed = Vec::new();
    for job in jobs {
        let off = job.at.offset as usize;
        let Some(at) = data.get(off..) else { continue };
        match rewrite_frame(&codec, at, job.seq) {
            Some(new) => {
                data[off..off + new.len()].copy_from_slice(&new);
                changed.push((off, off + new.len()));
            }
            None => tracing::warn!(
                path = %path.display(),
                seq = job.seq,
                "could not erase a removed message in place; its bytes stay until the block is removed"
            ),
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    // 1. A complete redo image.
    let tmp = tmp_path(&path);
    let redo = redo_path(&path);
    io::remove_file(&tmp)?;
    BlockFile::create_with(&tmp, &data).await?.close().await;
    io::rename(&tmp, &redo)?;
    io::sync_dir(&dir).await?;
    // 2. Overwrite the changed pages in place.
    for (start, end) in changed {
        let a = start as u64 / SECTOR * SECTOR;
        let b = round_up(end as u64, SECTOR).min(data.len() as u64);
        file.write_aligned(a, &data[a as usize..b as usize]).await?;
    }
    file.sync().await?;
    // 3. Done: the image is no longer needed.
    io::remove_file(&redo)?;
    if tail.block == block {
        let end = (tail.pos as usize + tail.bytes.len()).min(data.len());
        tail.bytes = data[tail.pos as usize..end].to_vec();
    }
    let mut i = inner.borrow_mut();
    i.cache.drop_block(block);
    i.stats.erased += jobs.len() as u64;
    Ok(())
}

/// Recovery: finish interrupted erases (apply `.redo` images) and drop
/// unfinished ones (`.tmp`), before any block is read.
pub(crate) async fn finish_interrupted(msgs_dir: &Path) -> StoreResult<()> {
    for tmp in io::list_suffix(msgs_dir, ".blk.tmp")? {
        io::remove_file(&tmp)?;
    }
    for redo in io::list_suffix(msgs_dir, ".blk.redo")? {
        let target = redo.with_extension(""); // "<n>.blk.redo" -> "<n>.blk"
        let image_file = BlockFile::open(&redo).await?;
        let size = image_file.size().await?;
        let image = image_file.read(0, size as usize).await?;
        image_file.close().await;
        tracing::warn!(path = %target.display(), "finishing an interrupted secure erase from its redo image");
        let file = BlockFile::open(&target).await?;
        file.write_aligned(0, &image).await?;
        file.sync().await?;
        file.close().await;
        io::remove_file(&redo)?;
    }
    Ok(())
}
