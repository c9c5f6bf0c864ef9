//! The ledger: a store's in-memory state machine, shared by MemStore and FileStore.
//!
//! It knows every live message by sequence (timestamp, accounted size, subject
//! id and the store's own `E` — the bytes for MemStore, the frame position for
//! FileStore), the per-subject counts, the TTL index and the limits. Every
//! operation is synchronous and pure bookkeeping; it returns what it removed so
//! the store can log the removals (FileStore) or drop the bytes (MemStore).
//! Keeping one copy of the limit, purge and expiry rules means the two stores
//! cannot drift apart, and the FileStore's recovery replays its log through the
//! very same code (`apply_*`), without enforcing limits again: every removal was
//! logged explicitly when it happened.
//!
//! Invariant after every operation: `msgs` and `bytes` equal the live slots;
//! `first_seq` is the first live sequence, or `last_seq + 1` when empty.

pub(crate) mod seqindex;
pub(crate) mod subjects;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use crate::config::{DiscardPolicy, StoreLimits};
use crate::error::{StoreError, StoreResult};
use crate::message::UnixNanos;
use crate::state::{PurgeRequest, StoreState, SubjectState};
use crate::subject::{is_literal, matches_filter};
use seqindex::{SeqIndex, Slot, FLAG_NEVER_EXPIRE, FLAG_TTL};
use subjects::SubjectTable;

/// A message the ledger removed.
#[derive(Debug)]
pub(crate) struct Removed<E> {
    pub seq: u64,
    pub subject: Bytes,
    /// Accounted size (a FileStore needs it for block bookkeeping).
    #[allow(dead_code)]
    pub size: u32,
    pub data: E,
    /// It was the subject's last live message.
    pub was_last_for_subject: bool,
}

impl<E> Removed<E> {
    /// What [`crate::StreamStore::expire`] reports for it.
    pub(crate) fn expired(&self) -> crate::state::Expired {
        crate::state::Expired {
            seq: self.seq,
            subject: self.subject.clone(),
            was_last_for_subject: self.was_last_for_subject,
        }
    }
}

/// What a purge or compact did, so a FileStore can log it compactly.
#[derive(Debug)]
pub(crate) struct Purged<E> {
    pub removed: Vec<Removed<E>>,
    /// Set when the purge removed a whole prefix: everything below this
    /// sequence is gone and `first_seq` may have moved here even past
    /// `last_seq` (logged as one record instead of one per message).
    pub new_floor: Option<u64>,
}

/// A new message for [`Ledger::append`].
pub(crate) struct Entry<'a, E> {
    pub subject: &'a Bytes,
    pub ts: UnixNanos,
    pub ttl: i64,
    pub size: u32,
    pub data: E,
}

/// The state machine (see the module docs).
pub(crate) struct Ledger<E> {
    slots: SeqIndex<E>,
    subjects: SubjectTable,
    first_seq: u64,
    last_seq: u64,
    last_ts: UnixNanos,
    msgs: u64,
    bytes: u64,
    /// `(expires_at, seq)` of messages with a positive TTL.
    ttl_queue: BTreeSet<(UnixNanos, u64)>,
    /// `seq → expires_at` for the same messages (to unqueue on removal).
    ttl_of: HashMap<u64, UnixNanos>,
    limits: StoreLimits,
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Does the header block carry `Nats-Rollup`? (Go lets rollups through the
/// per-subject discard-new check because they purge the subject anyway.)
fn has_rollup_header(headers: &[u8]) -> bool {
    memchr::memmem::find(headers, b"\r\nNats-Rollup:").is_some()
}

impl<E: Default + Clone> Ledger<E> {
    pub(crate) fn new(limits: StoreLimits) -> Self {
        Ledger {
            slots: SeqIndex::new(),
            subjects: SubjectTable::default(),
            first_seq: 1,
            last_seq: 0,
            last_ts: 0,
            msgs: 0,
            bytes: 0,
            ttl_queue: BTreeSet::new(),
            ttl_of: HashMap::new(),
            limits,
        }
    }

    // Not used by the stores yet (kept for the FileStore); unused code
    // would fail `clippy -D warnings`.
    #[allow(dead_code)]
    pub(crate) fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    pub(crate) fn set_limits_only(&mut self, limits: StoreLimits) {
        self.limits = limits;
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.last_seq + 1
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn last_ts(&self) -> UnixNanos {
        self.last_ts
    }

    // Not used by the stores yet (kept for the FileStore); unused code
    // would fail `clippy -D warnings`.
    #[allow(dead_code)]
    pub(crate) fn first_seq(&self) -> u64 {
        self.first_seq
    }

    pub(crate) fn slot(&self, seq: u64) -> Option<&Slot<E>> {
        self.slots.get(seq)
    }

    pub(crate) fn subject_of(&self, slot: &Slot<E>) -> Bytes {
        self.subjects
            .get(slot.subject)
            .map(|e| e.subject.clone())
            .unwrap_or_default()
    }

    /// Everything an append must pass before anything changes: the accounted
    /// `size` fits a slot, the sequence space is not exhausted, and Go's
    /// discard-new limits. Returns the size as a slot stores it.
    pub(crate) fn admit(&self, subject: &[u8], headers: &[u8], size: u64) -> StoreResult<u32> {
        let size = u32::try_from(size)
            .ok()
            .filter(|&s| s <= seqindex::MAX_SIZE)
            .ok_or(StoreError::Invalid("message larger than 1 GiB"))?;
        if self.last_seq == u64::MAX {
            return Err(StoreError::Invalid("sequence space exhausted"));
        }
        self.check_discard_new(subject, headers, size)?;
        Ok(size)
    }

    /// Go's discard-new checks, made before anything changes.
    pub(crate) fn check_discard_new(
        &self,
        subject: &[u8],
        headers: &[u8],
        size: u32,
    ) -> StoreResult<()> {
        let l = &self.limits;
        if l.discard != DiscardPolicy::New {
            return Ok(());
        }
        let subj_entry = self
            .subjects
            .id(subject)
            .and_then(|id| self.subjects.get(id));
        let at_subject_limit = l.max_msgs_per_subject > 0
            && subj_entry.is_some_and(|e| e.msgs >= l.max_msgs_per_subject as u64);
        if at_subject_limit && l.discard_new_per_subject && !has_rollup_header(headers) {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        if l.max_msgs > 0 && self.msgs >= l.max_msgs as u64 && !at_subject_limit {
            return Err(StoreError::MaxMsgs);
        }
        if l.max_bytes > 0 && self.bytes + u64::from(size) > l.max_bytes as u64 {
            if !at_subject_limit {
                return Err(StoreError::MaxBytes);
            }
            // At the subject limit the subject's oldest message goes; that must
            // free at least as much as the new one needs.
            let oldest = subj_entry.and_then(|e| self.first_of_subject_exact(e.first, subject));
            match oldest.and_then(|seq| self.slots.get(seq)) {
                Some(s) if s.size() >= size => {}
                _ => return Err(StoreError::MaxBytes),
            }
        }
        Ok(())
    }

    fn first_of_subject_exact(&self, from: u64, subject: &[u8]) -> Option<u64> {
        let id = self.subjects.id(subject)?;
        self.slots
            .iter_from(from)
            .find(|(_, s)| s.subject == id)
            .map(|(seq, _)| seq)
    }

    /// Appends at `next_seq()` and enforces `discard: old` limits; returns the
    /// sequence and what the limits removed.
    pub(crate) fn append(&mut self, entry: Entry<'_, E>) -> (u64, Vec<Removed<E>>) {
        let seq = self.next_seq();
        let subject = entry.subject.clone();
        self.apply_msg(seq, entry);
        let mut removed = Vec::new();
        self.enforce_subject_limit(&subject, &mut removed);
        self.enforce_msgs_and_bytes(&mut removed);
        (seq, removed)
    }

    /// Stores a message at `seq` with no limit enforcement (recovery replay,
    /// and the first half of [`Ledger::append`]). `seq` must be above
    /// `last_seq`; a gap in between counts as deleted sequences.
    pub(crate) fn apply_msg(&mut self, seq: u64, entry: Entry<'_, E>) {
        debug_assert!(seq > self.last_seq);
        let id = self.subjects.add(entry.subject, seq);
        let mut flags = 0;
        if entry.ttl > 0 {
            flags |= FLAG_TTL;
            let expires = entry
                .ts
                .saturating_add(entry.ttl.saturating_mul(NANOS_PER_SEC));
            self.ttl_queue.insert((expires, seq));
            self.ttl_of.insert(seq, expires);
        } else if entry.ttl < 0 {
            flags |= FLAG_NEVER_EXPIRE;
        }
        self.slots
            .insert(seq, Slot::new(entry.ts, entry.size, flags, id, entry.data));
        if self.msgs == 0 {
            self.first_seq = seq;
        }
        self.msgs += 1;
        self.bytes += u64::from(entry.size);
        self.last_seq = seq;
        self.last_ts = entry.ts;
    }

    fn enforce_subject_limit(&mut self, subject: &[u8], removed: &mut Vec<Removed<E>>) {
        let max = self.limits.max_msgs_per_subject;
        if max <= 0 {
            return;
        }
        loop {
            let Some(id) = self.subjects.id(subject) else {
                return;
            };
            let Some(e) = self.subjects.get(id) else {
                return;
            };
            if e.msgs <= max as u64 {
                return;
            }
            let from = e.first;
            let Some(seq) = self
                .slots
                .iter_from(from)
                .find(|(_, s)| s.subject == id)
                .map(|(q, _)| q)
            else {
                return;
            };
            match self.remove(seq) {
                Some(r) => removed.push(r),
                None => return,
            }
        }
    }

    fn enforce_msgs_and_bytes(&mut self, removed: &mut Vec<Removed<E>>) {
        if self.limits.discard != DiscardPolicy::Old {
            return;
        }
        let max_msgs = self.limits.max_msgs;
        let max_bytes = self.limits.max_bytes;
        while (max_msgs > 0 && self.msgs > max_msgs as u64)
            || (max_bytes > 0 && self.bytes > max_bytes as u64)
        {
            match self.remove(self.first_seq) {
                Some(r) => removed.push(r),
                None => break,
            }
        }
    }

    /// Enforces the current limits now (after a config change).
    ///
    /// Go's order (memstore and filestore `UpdateConfig`): `max_msgs` and
    /// `max_bytes` first, then `max_msgs_per_subject`. The order matters: with
    /// `1 a, 2 b, 3 b, 4 c` and `max_msgs: 3, max_msgs_per_subject: 1`, Go
    /// drops 1 (max_msgs) and then 2 (b's oldest), leaving `3, 4`; per-subject
    /// first would leave `1, 3, 4`.
    pub(crate) fn enforce_all(&mut self) -> Vec<Removed<E>> {
        let mut removed = Vec::new();
        self.enforce_msgs_and_bytes(&mut removed);
        if self.limits.max_msgs_per_subject > 0 {
            let over: Vec<Bytes> = self
                .subjects
                .iter()
                .filter(|(_, e)| e.msgs > self.limits.max_msgs_per_subject as u64)
                .map(|(_, e)| e.subject.clone())
                .collect();
            for s in over {
                self.enforce_subject_limit(&s, &mut removed);
            }
        }
        removed
    }

    /// Removes one live message.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Removed<E>> {
        let slot = self.slots.take(seq)?;
        let subject = self
            .subjects
            .get(slot.subject)
            .map(|e| e.subject.clone())
            .unwrap_or_default();
        let left = self.subjects.remove(slot.subject, seq);
        self.msgs -= 1;
        self.bytes -= u64::from(slot.size());
        if slot.flags() & FLAG_TTL != 0 {
            if let Some(exp) = self.ttl_of.remove(&seq) {
                self.ttl_queue.remove(&(exp, seq));
            }
        }
        if seq == self.first_seq {
            self.first_seq = if self.msgs == 0 {
                self.last_seq + 1
            } else {
                self.slots.next_live(seq + 1).unwrap_or(self.last_seq + 1)
            };
        }
        Some(Removed {
            seq,
            subject,
            size: slot.size(),
            data: slot.data,
            was_last_for_subject: left == 0,
        })
    }

    /// Go's `PurgeEx`, refusing both a sequence and a keep.
    pub(crate) fn purge(&mut self, req: &PurgeRequest) -> StoreResult<Purged<E>> {
        let seq = req.up_to_seq.unwrap_or(0);
        let keep = req.keep.unwrap_or(0);
        // Go refuses this in the purge API handler (`req.Sequence > 0 &&
        // req.Keep > 0`), before `PurgeEx`; our contract makes it the store's
        // check. It lives here so both stores refuse it alike, and tests `> 0`
        // (not `> 1`) so that `seq: 1` with a keep is refused as in Go rather
        // than being a silent no-op.
        if seq > 0 && keep > 0 {
            return Err(StoreError::Invalid("purge with both seq and keep"));
        }
        let none = Purged {
            removed: Vec::new(),
            new_floor: None,
        };
        if seq == 1 {
            return Ok(none);
        }
        let filter: &[u8] = match &req.filter {
            Some(f) if !f.is_empty() => f,
            _ => b">",
        };
        if filter == b">" {
            if keep == 0 && seq == 0 {
                return Ok(self.compact(self.last_seq + 1));
            }
            if seq > 1 {
                return Ok(self.compact(seq));
            }
        }
        let (count, first, last) = self.filtered(filter, 1);
        if count == 0 {
            return Ok(none);
        }
        let max_purge = if keep > 0 {
            if keep >= count {
                return Ok(none);
            }
            count - keep
        } else {
            u64::MAX
        };
        let last = if seq >= 1 { seq - 1 } else { last };
        let memo = self.match_memo(filter);
        let victims: Vec<u64> = self
            .slots
            .iter_from(first)
            .take_while(|(s, _)| *s <= last)
            .filter(|(_, slot)| memo.get(slot.subject as usize).copied().unwrap_or(false))
            .map(|(s, _)| s)
            .take(max_purge.min(usize::MAX as u64) as usize)
            .collect();
        let removed = victims.into_iter().filter_map(|s| self.remove(s)).collect();
        Ok(Purged {
            removed,
            new_floor: None,
        })
    }

    /// Removes everything below `seq` (Go's `Compact`); past the end it also
    /// moves the sequence space so the next message gets `seq`.
    pub(crate) fn compact(&mut self, seq: u64) -> Purged<E> {
        let mut removed = Vec::new();
        if seq == 0 || seq <= self.first_seq && seq <= self.last_seq {
            // Nothing below `seq` is live (or `seq` 0, which Go treats as a
            // full purge through Purge(); callers pass last+1 for that).
            if seq == 0 {
                return self.compact(self.last_seq + 1);
            }
            return Purged {
                removed,
                new_floor: None,
            };
        }
        let end = seq.min(self.last_seq + 1);
        while self.msgs > 0 && self.first_seq < end {
            match self.remove(self.first_seq) {
                Some(r) => removed.push(r),
                None => break,
            }
        }
        if seq > self.last_seq {
            // Past the end: the store is empty now and restarts at `seq`.
            self.last_seq = seq - 1;
            self.first_seq = seq;
        }
        Purged {
            removed,
            new_floor: Some(seq),
        }
    }

    /// Applies a logged floor (recovery): everything below `seq` is gone.
    pub(crate) fn apply_floor(&mut self, seq: u64) {
        let _ = self.compact(seq);
    }

    /// Go's `Truncate`: removes everything above `seq`; `seq` becomes the
    /// last sequence. 0 resets the store to empty at sequence 0.
    pub(crate) fn truncate(&mut self, seq: u64) -> Vec<Removed<E>> {
        let mut removed = Vec::new();
        let new_last_ts =
            self.slots
                .get(seq)
                .map(|s| s.ts)
                .unwrap_or(if seq == 0 { 0 } else { self.last_ts });
        while let Some(s) = self.slots.prev_live(self.last_seq) {
            if s <= seq {
                break;
            }
            match self.remove(s) {
                Some(r) => removed.push(r),
                None => break,
            }
        }
        self.last_seq = seq;
        self.last_ts = new_last_ts;
        if self.msgs == 0 {
            self.first_seq = seq + 1;
        }
        removed
    }

    /// Applies a logged truncate (recovery).
    pub(crate) fn apply_truncate(&mut self, seq: u64, last_ts: UnixNanos) {
        let _ = self.truncate(seq);
        self.last_ts = last_ts;
    }

    /// Sets the sequence space of an empty ledger (a FileStore's first block
    /// says where the store stood when it was created).
    pub(crate) fn start_at(&mut self, last_seq: u64, last_ts: UnixNanos) {
        debug_assert_eq!(self.msgs, 0);
        self.last_seq = last_seq;
        self.last_ts = last_ts;
        self.first_seq = last_seq + 1;
    }

    /// Removes what `max_age` and TTLs expired by `now`, in the order of
    /// [`Ledger::due_seqs`].
    pub(crate) fn expire(&mut self, now: UnixNanos) -> Vec<Removed<E>> {
        let due = self.due_seqs(now);
        while let Some(&(exp, seq)) = self.ttl_queue.first() {
            if exp > now {
                break;
            }
            self.ttl_queue.pop_first();
            self.ttl_of.remove(&seq);
        }
        due.into_iter().filter_map(|q| self.remove(q)).collect()
    }

    /// What [`Ledger::expire`] would remove at `now`, removing nothing: each with
    /// whether it would leave its subject empty, given the ones before it.
    pub(crate) fn due(&self, now: UnixNanos) -> Vec<crate::state::Expired> {
        let mut taken: HashMap<u32, u64> = HashMap::new();
        let mut out = Vec::new();
        for seq in self.due_seqs(now) {
            let Some(slot) = self.slots.get(seq) else {
                continue;
            };
            let Some(entry) = self.subjects.get(slot.subject) else {
                continue;
            };
            let gone = taken.entry(slot.subject).or_default();
            *gone += 1;
            out.push(crate::state::Expired {
                seq,
                subject: entry.subject.clone(),
                was_last_for_subject: entry.msgs <= *gone,
            });
        }
        out
    }

    /// The live messages `max_age` and TTLs expired by `now`, once each, in removal
    /// order: `max_age` first (ascending), then TTLs by deadline.
    fn due_seqs(&self, now: UnixNanos) -> Vec<u64> {
        let mut due = Vec::new();
        let max_age = i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX);
        if max_age > 0 {
            let cutoff = now.saturating_sub(max_age);
            due.extend(
                self.slots
                    .iter_from(self.first_seq)
                    .take_while(|(_, s)| s.ts <= cutoff)
                    .filter(|(_, s)| s.flags() & FLAG_NEVER_EXPIRE == 0)
                    .map(|(q, _)| q),
            );
        }
        let aged = due.len();
        for &(exp, seq) in &self.ttl_queue {
            if exp > now {
                break;
            }
            let aged_already = due[..aged].binary_search(&seq).is_ok();
            if !aged_already && self.slots.get(seq).is_some() {
                due.push(seq);
            }
        }
        due
    }

    /// When [`Ledger::expire`] next has work.
    pub(crate) fn next_expiry(&self) -> Option<UnixNanos> {
        let ttl = self.ttl_queue.first().map(|&(e, _)| e);
        let max_age = i64::try_from(self.limits.max_age.as_nanos()).unwrap_or(i64::MAX);
        let age = if max_age > 0 {
            self.slots
                .iter_from(self.first_seq)
                .find(|(_, s)| s.flags() & FLAG_NEVER_EXPIRE == 0)
                .map(|(_, s)| s.ts.saturating_add(max_age))
        } else {
            None
        };
        match (ttl, age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn state(&self) -> StoreState {
        let first_ts = if self.msgs > 0 {
            self.slots.get(self.first_seq).map(|s| s.ts).unwrap_or(0)
        } else {
            0
        };
        let span = if self.msgs > 0 {
            self.last_seq - self.first_seq + 1
        } else {
            0
        };
        StoreState {
            messages: self.msgs,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: self.subjects.len() as u64,
            num_deleted: span - self.msgs,
        }
    }

    pub(crate) fn deleted(&self) -> Vec<u64> {
        let mut out = Vec::new();
        if self.msgs == 0 {
            return out;
        }
        let mut expect = self.first_seq;
        for (seq, _) in self.slots.iter_from(self.first_seq) {
            out.extend(expect..seq);
            expect = seq + 1;
        }
        // Sequences after the last live message up to `last_seq` (the newest
        // messages were removed) are deleted too: `num_deleted` counts them and
        // Go's `State().Deleted` lists them (its dmap holds every removed
        // sequence between first and last).
        out.extend(expect..=self.last_seq);
        out
    }

    /// For each subject id: does it match `filter`? (Computed once per query
    /// so a scan compares a bool, not tokens.)
    fn match_memo(&self, filter: &[u8]) -> Vec<bool> {
        let mut memo = vec![false; self.subjects.capacity()];
        for (id, e) in self.subjects.iter() {
            memo[id as usize] = filter == b">" || matches_filter(&e.subject, filter);
        }
        memo
    }

    /// Exact first sequence of a subject id, fixing a stale bound.
    fn exact_first(&self, id: u32) -> Option<u64> {
        let e = self.subjects.get(id)?;
        if !e.first_stale {
            return Some(e.first);
        }
        self.slots
            .iter_from(e.first)
            .find(|(_, s)| s.subject == id)
            .map(|(q, _)| q)
    }

    /// Exact last sequence of a subject id, fixing a stale bound.
    fn exact_last(&self, id: u32) -> Option<u64> {
        let e = self.subjects.get(id)?;
        if !e.last_stale {
            return Some(e.last);
        }
        self.slots
            .iter_rev_from(e.last)
            .find(|(_, s)| s.subject == id)
            .map(|(q, _)| q)
    }

    /// `(count, first, last)` of live messages matching `filter` at or after `start`.
    pub(crate) fn filtered(&self, filter: &[u8], start: u64) -> (u64, u64, u64) {
        let start = start.max(self.first_seq);
        if filter == b">" && start <= self.first_seq {
            return (self.msgs, self.first_seq, self.last_seq);
        }
        let memo = self.match_memo(filter);
        let (mut n, mut first, mut last) = (0, 0, 0);
        for (seq, slot) in self.slots.iter_from(start) {
            if memo.get(slot.subject as usize).copied().unwrap_or(false) {
                if n == 0 {
                    first = seq;
                }
                n += 1;
                last = seq;
            }
        }
        (n, first, last)
    }

    /// The newest live sequence whose subject matches `filter`.
    pub(crate) fn last_matching(&self, filter: &[u8]) -> Option<u64> {
        // An empty filter means everything, as in `next_matching`,
        // `subjects_state` and Go's `LoadLastMsg`; as a "literal" it would
        // look up the subject "" and find nothing.
        let filter: &[u8] = if filter.is_empty() { b">" } else { filter };
        if is_literal(filter) {
            let id = self.subjects.id(filter)?;
            return self.exact_last(id);
        }
        let mut best = None;
        for (id, e) in self.subjects.iter() {
            if matches_filter(&e.subject, filter) {
                let last = self.exact_last(id);
                best = best.max(last);
            }
        }
        best
    }

    /// The first live sequence at or after `start` whose subject matches `filter`.
    pub(crate) fn next_matching(&self, filter: &[u8], start: u64) -> Option<u64> {
        let start = start.max(self.first_seq);
        if filter == b">" || filter.is_empty() {
            return self.slots.next_live(start).filter(|&s| s <= self.last_seq);
        }
        if is_literal(filter) {
            let id = self.subjects.id(filter)?;
            let from = start.max(self.exact_first(id)?);
            let last = self.exact_last(id)?;
            return self
                .slots
                .iter_from(from)
                .take_while(|(s, _)| *s <= last)
                .find(|(_, sl)| sl.subject == id)
                .map(|(s, _)| s);
        }
        let memo = self.match_memo(filter);
        self.slots
            .iter_from(start)
            .find(|(_, sl)| memo.get(sl.subject as usize).copied().unwrap_or(false))
            .map(|(s, _)| s)
    }

    pub(crate) fn subjects_state(&self, filter: &[u8]) -> BTreeMap<Bytes, SubjectState> {
        let mut out = BTreeMap::new();
        for (id, e) in self.subjects.iter() {
            if filter.is_empty() || filter == b">" || matches_filter(&e.subject, filter) {
                let first = self.exact_first(id).unwrap_or(e.first);
                let last = self.exact_last(id).unwrap_or(e.last);
                out.insert(
                    e.subject.clone(),
                    SubjectState {
                        messages: e.msgs,
                        first_seq: first,
                        last_seq: last,
                    },
                );
            }
        }
        out
    }

    /// Live `(seq, slot)` from `start` (FileStore block bookkeeping).
    pub(crate) fn iter_from(&self, start: u64) -> impl Iterator<Item = (u64, &Slot<E>)> + '_ {
        self.slots.iter_from(start)
    }

    /// Approximate bytes this ledger holds per message, for the docs and tests.
    pub(crate) fn index_bytes(&self) -> usize {
        self.slots.chunk_count() * seqindex::CHUNK as usize * std::mem::size_of::<Slot<E>>()
    }

    /// Drops everything and clears the TTL index (used by a full reset).
    #[allow(dead_code)]
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.subjects.clear();
        self.ttl_queue.clear();
        self.ttl_of.clear();
        self.msgs = 0;
        self.bytes = 0;
        self.first_seq = self.last_seq + 1;
    }
}
