//! Sequence → slot, in fixed chunks.
//!
//! A dense array indexed by `seq - first` would cost a slot per sequence even
//! when a few old messages pin `first` while millions after them were removed
//! (a KV bucket with one key never updated). Chunks of [`CHUNK`] slots are
//! allocated on first use and freed when their last live slot goes, so memory
//! is bounded by `live_chunks × CHUNK × size_of::<Slot>()`: dense streams pay
//! one slot per sequence, sparse ones at most one chunk per live message.

use std::collections::BTreeMap;

/// Slots per chunk: 1024 keeps a chunk of 24-byte slots at 24 KiB.
pub(crate) const CHUNK: u64 = 1024;

/// What the index keeps per live message. `data` is the store's own part
/// (MemStore: the bytes; FileStore: where the frame is).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot<E> {
    /// Store timestamp (max_age, first/last times, time lookups).
    pub ts: i64,
    /// Accounted size (Go's formula, below [`MAX_SIZE`]) in the low 30 bits —
    /// needed when the message goes — and the flags (see the consts below) in
    /// the top 2, which keeps a slot at 24 bytes.
    size_flags: u32,
    /// Subject id in the subject table; [`EMPTY`] means no message.
    pub subject: u32,
    /// Store-specific data.
    pub data: E,
}

/// Subject id of an empty slot.
pub(crate) const EMPTY: u32 = u32::MAX;
/// The message has a positive TTL (an entry in the TTL index).
pub(crate) const FLAG_TTL: u8 = 1;
/// The message has a negative TTL: never expires, not even by max_age.
pub(crate) const FLAG_NEVER_EXPIRE: u8 = 2;

/// Largest accounted size a slot holds (1 GiB; NATS payloads are at most 64 MiB).
pub(crate) const MAX_SIZE: u32 = (1 << 30) - 1;

impl<E> Slot<E> {
    /// A live slot. `size` must not exceed [`MAX_SIZE`] (the stores refuse
    /// bigger messages before they get here).
    pub(crate) fn new(ts: i64, size: u32, flags: u8, subject: u32, data: E) -> Self {
        debug_assert!(size <= MAX_SIZE);
        let size_flags = (size & MAX_SIZE) | (u32::from(flags & 3) << 30);
        Slot {
            ts,
            size_flags,
            subject,
            data,
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.subject != EMPTY
    }

    /// Accounted size.
    pub(crate) fn size(&self) -> u32 {
        self.size_flags & MAX_SIZE
    }

    /// Flags.
    pub(crate) fn flags(&self) -> u8 {
        (self.size_flags >> 30) as u8
    }
}

struct Chunk<E> {
    live: u32,
    slots: Box<[Slot<E>]>,
}

/// The chunked index.
pub(crate) struct SeqIndex<E> {
    chunks: BTreeMap<u64, Chunk<E>>,
}

impl<E: Default + Clone> SeqIndex<E> {
    pub(crate) fn new() -> Self {
        SeqIndex {
            chunks: BTreeMap::new(),
        }
    }

    fn split(seq: u64) -> (u64, usize) {
        (seq / CHUNK, (seq % CHUNK) as usize)
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&Slot<E>> {
        let (c, i) = Self::split(seq);
        self.chunks
            .get(&c)
            .map(|ch| &ch.slots[i])
            .filter(|s| s.is_live())
    }

    /// Stores a live slot at `seq` (which must be empty).
    pub(crate) fn insert(&mut self, seq: u64, slot: Slot<E>) {
        debug_assert!(slot.is_live());
        let (c, i) = Self::split(seq);
        let chunk = self.chunks.entry(c).or_insert_with(|| Chunk {
            live: 0,
            slots: vec![
                Slot {
                    subject: EMPTY,
                    ..Slot::default()
                };
                CHUNK as usize
            ]
            .into_boxed_slice(),
        });
        if !chunk.slots[i].is_live() {
            chunk.live += 1;
        }
        chunk.slots[i] = slot;
    }

    /// Takes the live slot at `seq` out, if any.
    pub(crate) fn take(&mut self, seq: u64) -> Option<Slot<E>> {
        let (c, i) = Self::split(seq);
        let chunk = self.chunks.get_mut(&c)?;
        if !chunk.slots[i].is_live() {
            return None;
        }
        let slot = std::mem::replace(
            &mut chunk.slots[i],
            Slot {
                subject: EMPTY,
                ..Slot::default()
            },
        );
        chunk.live -= 1;
        if chunk.live == 0 {
            self.chunks.remove(&c);
        }
        Some(slot)
    }

    /// The first live sequence at or after `seq`.
    pub(crate) fn next_live(&self, seq: u64) -> Option<u64> {
        let (c0, i0) = Self::split(seq);
        for (&c, chunk) in self.chunks.range(c0..) {
            let start = if c == c0 { i0 } else { 0 };
            if let Some(off) = chunk.slots[start..].iter().position(|s| s.is_live()) {
                return Some(c * CHUNK + (start + off) as u64);
            }
        }
        None
    }

    /// The last live sequence at or before `seq`.
    pub(crate) fn prev_live(&self, seq: u64) -> Option<u64> {
        let (c0, i0) = Self::split(seq);
        for (&c, chunk) in self.chunks.range(..=c0).rev() {
            let end = if c == c0 { i0 + 1 } else { CHUNK as usize };
            if let Some(off) = chunk.slots[..end].iter().rposition(|s| s.is_live()) {
                return Some(c * CHUNK + off as u64);
            }
        }
        None
    }

    /// Live `(seq, slot)` pairs from `start` upward, in order.
    pub(crate) fn iter_from(&self, start: u64) -> impl Iterator<Item = (u64, &Slot<E>)> + '_ {
        let (c0, i0) = Self::split(start);
        self.chunks.range(c0..).flat_map(move |(&c, chunk)| {
            let skip = if c == c0 { i0 } else { 0 };
            chunk
                .slots
                .iter()
                .enumerate()
                .skip(skip)
                .filter(|(_, s)| s.is_live())
                .map(move |(i, s)| (c * CHUNK + i as u64, s))
        })
    }

    /// Live `(seq, slot)` pairs from `end` downward, in order.
    pub(crate) fn iter_rev_from(&self, end: u64) -> impl Iterator<Item = (u64, &Slot<E>)> + '_ {
        let (c0, i0) = Self::split(end);
        self.chunks.range(..=c0).rev().flat_map(move |(&c, chunk)| {
            let take = if c == c0 { i0 + 1 } else { CHUNK as usize };
            chunk
                .slots
                .iter()
                .enumerate()
                .take(take)
                .rev()
                .filter(|(_, s)| s.is_live())
                .map(move |(i, s)| (c * CHUNK + i as u64, s))
        })
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Chunks allocated (for the memory figure).
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ts: i64) -> Slot<()> {
        Slot::new(ts, 1, 0, 0, ())
    }

    #[test]
    fn a_slot_costs_24_bytes() {
        // FileStore's data is a frame reference (two u32), MemStore's a box.
        assert_eq!(std::mem::size_of::<Slot<[u32; 2]>>(), 24);
        assert_eq!(std::mem::size_of::<Slot<Option<Box<u8>>>>(), 24);
        let s = Slot::new(5, MAX_SIZE, 3, 1, ());
        assert_eq!((s.size(), s.flags()), (MAX_SIZE, 3));
    }

    #[test]
    fn insert_take_and_walk_across_chunks() {
        let mut ix = SeqIndex::new();
        for seq in [1u64, 2, 1023, 1024, 5000] {
            ix.insert(seq, live(seq as i64));
        }
        assert_eq!(ix.chunk_count(), 3);
        assert_eq!(ix.next_live(3), Some(1023));
        assert_eq!(ix.next_live(1025), Some(5000));
        assert_eq!(ix.prev_live(4999), Some(1024));
        assert_eq!(ix.prev_live(0), None);
        let fwd: Vec<u64> = ix.iter_from(2).map(|(s, _)| s).collect();
        assert_eq!(fwd, vec![2, 1023, 1024, 5000]);
        let back: Vec<u64> = ix.iter_rev_from(1024).map(|(s, _)| s).collect();
        assert_eq!(back, vec![1024, 1023, 2, 1]);
        assert_eq!(ix.take(5000).map(|s| s.ts), Some(5000));
        assert!(ix.take(5000).is_none());
        assert_eq!(ix.chunk_count(), 2, "an emptied chunk is freed");
        assert!(ix.get(1023).is_some());
        assert!(ix.get(1022).is_none());
    }
}
