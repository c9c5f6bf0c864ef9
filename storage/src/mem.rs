//! MemStore: the ledger with the message bytes in memory.

use std::cell::RefCell;
use std::collections::BTreeMap;

use bytes::Bytes;

use crate::config::StoreLimits;
use crate::durable::Durable;
use crate::error::{StoreError, StoreResult};
use crate::ledger::{Entry, Ledger};
use crate::message::{now_nanos, NewMessage, StoredMessage, UnixNanos};
use crate::state::{Expired, PurgeRequest, StoreState, SubjectState};
use crate::store::{Appended, StreamStore};

/// Go's `memStoreMsgSize`: subject + headers + payload + 16 (sequence and
/// timestamp), so `bytes` and `max_bytes` agree with the Go server.
pub fn mem_msg_size(subject: usize, headers: usize, payload: usize) -> u64 {
    (subject + headers + payload + 16) as u64
}

/// Header and payload of one message; the subject lives in the ledger's table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Body {
    headers: Bytes,
    payload: Bytes,
}

/// A store that keeps everything in memory (`storage: memory` streams).
pub struct MemStore {
    ledger: RefCell<Ledger<Option<Box<Body>>>>,
}

impl MemStore {
    /// An empty store with these limits.
    pub fn new(limits: StoreLimits) -> Self {
        MemStore {
            ledger: RefCell::new(Ledger::new(limits)),
        }
    }

    fn load_seq(&self, seq: u64) -> StoreResult<StoredMessage> {
        let ledger = self.ledger.borrow();
        let slot = ledger.slot(seq).ok_or(StoreError::NotFound)?;
        let body = slot.data.as_deref().cloned().unwrap_or_default();
        Ok(StoredMessage {
            seq,
            timestamp: slot.ts,
            subject: ledger.subject_of(slot),
            headers: body.headers,
            payload: body.payload,
        })
    }
}

impl StreamStore for MemStore {
    fn append(&self, msg: NewMessage) -> StoreResult<Appended> {
        let size = mem_msg_size(msg.subject.len(), msg.headers.len(), msg.payload.len());
        let mut ledger = self.ledger.borrow_mut();
        let size = ledger.admit(&msg.subject, &msg.headers, size)?;
        let ts = msg.timestamp.unwrap_or_else(now_nanos);
        let body = Body {
            headers: msg.headers,
            payload: msg.payload,
        };
        let (seq, _removed) = ledger.append(Entry {
            subject: &msg.subject,
            ts,
            ttl: msg.ttl,
            size,
            data: Some(Box::new(body)),
        });
        Ok(Appended {
            seq,
            timestamp: ts,
            durable: Durable::ready(),
        })
    }

    async fn load(&self, seq: u64) -> StoreResult<StoredMessage> {
        self.load_seq(seq)
    }

    async fn load_last(&self, filter: &[u8]) -> StoreResult<StoredMessage> {
        let seq = self
            .ledger
            .borrow()
            .last_matching(filter)
            .ok_or(StoreError::NotFound)?;
        self.load_seq(seq)
    }

    async fn load_next(&self, filter: &[u8], start: u64) -> StoreResult<Option<StoredMessage>> {
        let next = self.ledger.borrow().next_matching(filter, start);
        next.map(|seq| self.load_seq(seq)).transpose()
    }

    fn remove(&self, seq: u64, _erase: bool) -> StoreResult<bool> {
        // Erasing memory means dropping the bytes, which removal does.
        Ok(self.ledger.borrow_mut().remove(seq).is_some())
    }

    fn purge(&self, req: &PurgeRequest) -> StoreResult<u64> {
        // The ledger refuses `up_to_seq` together with `keep` (Go's API rule).
        Ok(self.ledger.borrow_mut().purge(req)?.removed.len() as u64)
    }

    fn compact(&self, seq: u64) -> StoreResult<u64> {
        Ok(self.ledger.borrow_mut().compact(seq).removed.len() as u64)
    }

    fn truncate(&self, seq: u64) -> StoreResult<()> {
        self.ledger.borrow_mut().truncate(seq);
        Ok(())
    }

    fn set_limits(&self, limits: StoreLimits) -> StoreResult<()> {
        let mut ledger = self.ledger.borrow_mut();
        ledger.set_limits_only(limits);
        ledger.enforce_all();
        Ok(())
    }

    fn expire(&self, now: UnixNanos) -> StoreResult<Vec<Expired>> {
        Ok(self
            .ledger
            .borrow_mut()
            .expire(now)
            .iter()
            .map(|r| r.expired())
            .collect())
    }

    fn due(&self, now: UnixNanos) -> Vec<Expired> {
        self.ledger.borrow().due(now)
    }

    fn next_expiry(&self) -> Option<UnixNanos> {
        self.ledger.borrow().next_expiry()
    }

    fn state(&self) -> StoreState {
        self.ledger.borrow().state()
    }

    fn deleted(&self) -> Vec<u64> {
        self.ledger.borrow().deleted()
    }

    fn subjects_state(&self, filter: &[u8]) -> BTreeMap<Bytes, SubjectState> {
        self.ledger.borrow().subjects_state(filter)
    }

    fn filtered_state(&self, filter: &[u8], start: u64) -> SubjectState {
        let filter: &[u8] = if filter.is_empty() { b">" } else { filter };
        let (messages, first_seq, last_seq) = self.ledger.borrow().filtered(filter, start);
        SubjectState {
            messages,
            first_seq,
            last_seq,
        }
    }

    fn subject_at(&self, seq: u64) -> Option<Bytes> {
        let l = &self.ledger.borrow();
        let slot = l.slot(seq)?;
        slot.is_live().then(|| l.subject_of(slot))
    }

    fn durable(&self) -> Durable {
        Durable::ready()
    }
}
