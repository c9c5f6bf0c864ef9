//! Frames in memory: the one being filled, decoded ones, and the read cache.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;

use crate::error::StoreError;
use crate::message::StoredMessage;

use super::format::{decode_record, Record, REC_MSG};

/// Where a message's frame is: block number and byte offset of the frame.
/// Eight bytes in every ledger slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct FrameRef {
    pub block: u32,
    pub offset: u32,
}

/// A frame whose body is known: sealed and waiting for the writer, or read
/// back from disk. `msgs` indexes its message records by sequence.
#[derive(Debug)]
pub(crate) struct DecodedFrame {
    pub body: Bytes,
    /// `(seq, record offset)` of message records, in body order.
    pub msgs: Vec<(u64, u32)>,
    /// `msgs` is strictly increasing (false only after a truncate reused sequences).
    pub sorted: bool,
}

impl DecodedFrame {
    /// Indexes `body` (a valid frame body).
    pub(crate) fn index(body: Bytes) -> Result<DecodedFrame, &'static str> {
        let mut msgs = Vec::new();
        let mut sorted = true;
        let mut pos = 0;
        while pos < body.len() {
            let at = pos;
            let kind = body[pos];
            let (rec, next) =
                decode_record(&body, pos).map_err(|_| "undecodable record in a valid frame")?;
            if kind == REC_MSG {
                if let Record::Msg { seq, .. } = rec {
                    if msgs.last().is_some_and(|&(last, _)| last >= seq) {
                        sorted = false;
                    }
                    msgs.push((seq, at as u32));
                }
            }
            pos = next;
        }
        Ok(DecodedFrame { body, msgs, sorted })
    }

    /// The message `seq` in this frame (the last record with it, if a
    /// truncate made it appear twice).
    pub(crate) fn message(&self, seq: u64) -> Option<StoredMessage> {
        let at = if self.sorted {
            let i = self.msgs.binary_search_by_key(&seq, |&(s, _)| s).ok()?;
            self.msgs[i].1
        } else {
            self.msgs.iter().rev().find(|&&(s, _)| s == seq)?.1
        };
        message_at(&self.body, at as usize)
    }

    pub(crate) fn cost(&self) -> usize {
        self.body.len() + self.msgs.len() * 16 + 64
    }
}

/// Decodes the message record at `pos` of `body`.
pub(crate) fn message_at(body: &Bytes, pos: usize) -> Option<StoredMessage> {
    match decode_record(body, pos) {
        Ok((
            Record::Msg {
                seq,
                ts,
                subject,
                headers,
                payload,
                ..
            },
            _,
        )) => Some(StoredMessage {
            seq,
            timestamp: ts,
            subject,
            headers,
            payload,
        }),
        _ => None,
    }
}

/// The frame being filled by mutations until the writer takes it.
#[derive(Debug)]
pub(crate) struct OpenFrame {
    pub at: FrameRef,
    pub body: Vec<u8>,
    /// `(seq, record offset)` of message records so far.
    pub msgs: Vec<(u64, u32)>,
    /// The store's last sequence before the frame's first record.
    pub prev_last_seq: u64,
    /// The store's last sequence after its latest record.
    pub last_seq: u64,
    /// The highest mutation epoch with a record here.
    pub epoch: u64,
    /// A copy of this frame's removal records, for the next frame's echo.
    pub removals: Vec<u8>,
    /// How many removal records `removals` holds.
    pub removal_count: u32,
    /// Bytes of the echo record the body starts with (0: none). A frame
    /// holding only its echo carries nothing and is not written.
    pub echo_len: usize,
}

impl OpenFrame {
    /// Appends a removal record written by `put`, keeping a copy for the
    /// echo in the next frame.
    pub(crate) fn put_removal(&mut self, put: impl FnOnce(&mut Vec<u8>)) {
        let start = self.body.len();
        put(&mut self.body);
        self.removals.extend_from_slice(&self.body[start..]);
        self.removal_count += 1;
    }

    /// Reads a message straight out of the frame being filled.
    pub(crate) fn message(&self, seq: u64) -> Option<StoredMessage> {
        let &(_, at) = self.msgs.iter().rev().find(|&&(s, _)| s == seq)?;
        // Copy: the body keeps growing, and reads of unwritten messages are rare
        // (a consumer right behind its publishers usually hits the sealed copy).
        let rec_len = self.body.len() - at as usize;
        let body = Bytes::copy_from_slice(&self.body[at as usize..at as usize + rec_len]);
        message_at(&body, 0)
    }
}

/// A least-recently-used cache of decoded frames with a byte budget.
pub(crate) struct FrameCache {
    budget: usize,
    used: usize,
    tick: u64,
    /// foldhash, not SipHash: looked up once per message read (keys are
    /// block and offset, not attacker-chosen strings).
    frames: HashMap<FrameRef, (Rc<DecodedFrame>, u64), foldhash::fast::RandomState>,
}

impl FrameCache {
    pub(crate) fn new(budget: usize) -> Self {
        FrameCache {
            budget,
            used: 0,
            tick: 0,
            frames: HashMap::default(),
        }
    }

    pub(crate) fn get(&mut self, at: FrameRef) -> Option<Rc<DecodedFrame>> {
        self.tick += 1;
        let tick = self.tick;
        self.frames.get_mut(&at).map(|(f, t)| {
            *t = tick;
            f.clone()
        })
    }

    /// Whether the frame at `at` is cached (without counting as a use).
    pub(crate) fn contains(&self, at: FrameRef) -> bool {
        self.frames.contains_key(&at)
    }

    pub(crate) fn insert(&mut self, at: FrameRef, frame: Rc<DecodedFrame>) {
        self.tick += 1;
        self.used += frame.cost();
        if let Some((old, _)) = self.frames.insert(at, (frame, self.tick)) {
            self.used -= old.cost();
        }
        while self.used > self.budget && self.frames.len() > 1 {
            let Some((&victim, _)) = self.frames.iter().min_by_key(|(_, (_, t))| *t) else {
                break;
            };
            if let Some((f, _)) = self.frames.remove(&victim) {
                self.used -= f.cost();
            }
        }
    }

    /// Forgets every frame of a block (it was removed).
    pub(crate) fn drop_block(&mut self, block: u32) {
        let mut freed = 0;
        self.frames.retain(|at, (f, _)| {
            let keep = at.block != block;
            if !keep {
                freed += f.cost();
            }
            keep
        });
        self.used -= freed;
    }
}

/// A frame found damaged while serving a read (it passed at open, so the
/// medium changed under us): never served, reported with its place.
pub(crate) fn damaged(seq: u64, path: &std::path::Path) -> StoreError {
    StoreError::Corrupt {
        seq,
        path: path.to_path_buf(),
    }
}
