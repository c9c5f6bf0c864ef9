//! Subject interning and per-subject state.
//!
//! Each live subject gets a small id (a slot stores 4 bytes instead of the
//! subject); its entry counts live messages and remembers the first and last
//! sequence. Removing a subject's first (or last) message when more remain
//! only marks the bound stale; it is recomputed by a scan when asked for —
//! Go's `firstNeedsUpdate` trick, which keeps removals O(1).

use std::collections::HashMap;

use bytes::Bytes;

/// Per-subject state.
#[derive(Debug, Clone)]
pub(crate) struct SubjectEntry {
    /// The subject itself (shared with every message that carries it).
    pub subject: Bytes,
    /// Live messages.
    pub msgs: u64,
    /// First live sequence (maybe stale, see `first_stale`).
    pub first: u64,
    /// Last live sequence (maybe stale).
    pub last: u64,
    /// `first` is a lower bound, not exact.
    pub first_stale: bool,
    /// `last` is an upper bound, not exact.
    pub last_stale: bool,
}

/// The table. Ids of subjects whose count dropped to zero are reused.
#[derive(Default)]
pub(crate) struct SubjectTable {
    ids: HashMap<Bytes, u32, foldhash::fast::RandomState>,
    entries: Vec<Option<SubjectEntry>>,
    free: Vec<u32>,
}

impl SubjectTable {
    pub(crate) fn id(&self, subject: &[u8]) -> Option<u32> {
        self.ids.get(subject).copied()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&SubjectEntry> {
        self.entries.get(id as usize).and_then(|e| e.as_ref())
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut SubjectEntry> {
        self.entries.get_mut(id as usize).and_then(|e| e.as_mut())
    }

    /// Counts a new message with sequence `seq` on `subject`; returns its id.
    pub(crate) fn add(&mut self, subject: &Bytes, seq: u64) -> u32 {
        if let Some(&id) = self.ids.get(subject.as_ref()) {
            if let Some(e) = self.get_mut(id) {
                e.msgs += 1;
                if e.msgs == 1 {
                    e.first = seq;
                    e.first_stale = false;
                }
                e.last = seq;
                e.last_stale = false;
                return id;
            }
        }
        // A copy, not a slice: a slice would keep the whole buffer it came
        // from alive (a client read buffer, or a block read at recovery).
        let subject = Bytes::copy_from_slice(subject);
        let entry = SubjectEntry {
            subject: subject.clone(),
            msgs: 1,
            first: seq,
            last: seq,
            first_stale: false,
            last_stale: false,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.ids.insert(subject, id);
        id
    }

    /// Uncounts the message `seq` of subject `id`. Returns the subject's
    /// remaining message count.
    pub(crate) fn remove(&mut self, id: u32, seq: u64) -> u64 {
        let Some(e) = self.get_mut(id) else { return 0 };
        e.msgs = e.msgs.saturating_sub(1);
        let left = e.msgs;
        if left == 0 {
            let subject = e.subject.clone();
            self.entries[id as usize] = None;
            self.ids.remove(&subject);
            self.free.push(id);
            return 0;
        }
        if seq == e.first {
            e.first = seq + 1;
            e.first_stale = true;
        }
        if seq == e.last {
            e.last = seq.saturating_sub(1);
            e.last_stale = true;
        }
        if left == 1 {
            // One message left: it is both first and last, whichever is exact.
            if !e.first_stale {
                e.last = e.first;
                e.last_stale = false;
            } else if !e.last_stale {
                e.first = e.last;
                e.first_stale = false;
            }
        }
        left
    }

    /// Live subjects.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Every live `(id, entry)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &SubjectEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }

    /// Number of id slots (for match memo vectors).
    pub(crate) fn capacity(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.entries.clear();
        self.free.clear();
    }
}
