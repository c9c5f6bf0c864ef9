//! Direct get (`$JS.API.DIRECT.GET.<stream>[.<subject>]`), answered by the stream
//! itself on its own core: one message, a batch from a sequence, or the last message
//! of each subject matching `multi_last`.
//!
//! Replies are raw messages with Go's headers. A batch adds `Nats-Num-Pending` (how
//! many matching messages are left after this one) and `Nats-Last-Sequence` (the
//! previous sequence of this reply, 0 for the first) to each message, and ends with a
//! `204 EOB` status carrying the same two counters (and `Nats-UpTo-Sequence` for
//! `multi_last`). Nothing to send is a single 404 status.

use std::collections::BTreeSet;
use std::rc::Rc;

use bytes::Bytes;
use jetcore_storage::StoredMessage;

use super::super::api_types::{ApiRequest, MsgGetRequest};
use super::super::headers;
use super::{go_time, status, Stream};
use crate::client::InternalMsg;

/// One reply: header block and payload.
type Reply = (Bytes, Bytes);

/// Most messages one batch or multi-last request returns (Go's
/// `maxAllowedDirectGetBatch`-style cap keeps one request from tying up the core).
const MAX_BATCH: usize = 1024;

impl Stream {
    pub(super) async fn run_direct_gets(self: Rc<Self>) {
        while let Some(batch) = self.direct_inbox.next_batch().await {
            // Requests refused past the queue limit go unanswered, as in Go.
            let _ = self.direct_inbox.take_refused();
            for m in batch {
                let Some(reply) = m.reply.clone().filter(|r| !r.is_empty()) else {
                    continue;
                };
                for (headers, payload) in self.direct_get(&m).await {
                    self.shard
                        .publish_internal(&reply, None, Some(&headers), &payload);
                }
                jetcore_router::yield_if_needed().await;
            }
        }
    }

    /// Answer one direct-get request.
    async fn direct_get(&self, m: &InternalMsg) -> Vec<Reply> {
        let prefix = format!("$JS.API.DIRECT.GET.{}.", self.name);
        let domain_prefix = format!("$JS.{}.API.DIRECT.GET.{}.", self.domain, self.name);
        let by_subject = m.subject.strip_prefix(prefix.as_bytes()).or_else(|| {
            (!self.domain.is_empty())
                .then(|| m.subject.strip_prefix(domain_prefix.as_bytes()))
                .flatten()
        });
        let query = if let Some(subject) = by_subject {
            if !m.payload.is_empty() {
                return vec![status(408, "Bad Request")];
            }
            MsgGetRequest {
                last_by_subj: String::from_utf8_lossy(subject).into_owned(),
                ..MsgGetRequest::default()
            }
        } else {
            if m.payload.is_empty() {
                return vec![status(408, "Empty Request")];
            }
            match MsgGetRequest::parse(&m.payload) {
                Ok(q) => q,
                Err(_) => return vec![status(408, "Malformed Request")],
            }
        };
        if !query.multi_last.is_empty() {
            return self.multi_last(&query).await;
        }
        if query.batch > 0 {
            if !query.last_by_subj.is_empty() || query.start_time.is_some() {
                return vec![status(408, "Bad Request")];
            }
            return self.batch(&query).await;
        }
        if query.max_bytes > 0 || !query.options_valid() {
            return vec![status(408, "Bad Request")];
        }
        match self.get_msg(&query).await {
            Ok(mut sm) => {
                if query.no_hdr {
                    sm.headers = Bytes::new();
                }
                vec![(self.direct_headers(&sm, &[]), sm.payload)]
            }
            Err(_) => vec![status(404, "Message Not Found")],
        }
    }

    /// `{"batch":N,"seq":S[,"next_by_subj":F]}`: up to N messages from S on.
    async fn batch(&self, q: &MsgGetRequest) -> Vec<Reply> {
        let filter = if q.next_by_subj.is_empty() {
            ">"
        } else {
            q.next_by_subj.as_str()
        };
        let want = (q.batch as usize).min(MAX_BATCH);
        let mut found = Vec::new();
        let mut next = q.seq.max(1);
        let mut bytes = 0usize;
        while found.len() < want {
            let Ok(Some(sm)) = self.store.load_next(filter.as_bytes(), next).await else {
                break;
            };
            let size = sm.subject.len() + sm.headers.len() + sm.payload.len();
            if q.max_bytes > 0 && !found.is_empty() && bytes + size > q.max_bytes as usize {
                break;
            }
            bytes += size;
            next = sm.seq + 1;
            found.push(sm);
        }
        let Some(last) = found.last() else {
            return vec![status(404, "Message Not Found")];
        };
        let left = self.count_after(filter, last.seq).await;
        let n = found.len() as u64;
        self.batch_replies(found, q.no_hdr, |i| left + n - 1 - i as u64, None)
    }

    /// `{"multi_last":[F...][,"up_to_seq":U][,"batch":N]}`: the last message of every
    /// subject matching a filter (at or below U), in sequence order.
    async fn multi_last(&self, q: &MsgGetRequest) -> Vec<Reply> {
        let up_to = if q.up_to_seq > 0 {
            q.up_to_seq
        } else {
            self.store.state().last_seq
        };
        let mut seqs = BTreeSet::new();
        for filter in &q.multi_last {
            for (subject, ss) in self.store.subjects_state(filter.as_bytes()) {
                if ss.first_seq > up_to {
                    continue;
                }
                if ss.last_seq <= up_to {
                    seqs.insert(ss.last_seq);
                    continue;
                }
                // The subject's last message is past `up_to`: walk it to find the last
                // one at or below.
                let mut last = 0;
                let mut next = ss.first_seq;
                while let Ok(Some(sm)) = self.store.load_next(&subject, next).await {
                    if sm.seq > up_to {
                        break;
                    }
                    last = sm.seq;
                    next = sm.seq + 1;
                }
                if last > 0 {
                    seqs.insert(last);
                }
            }
        }
        if seqs.is_empty() {
            return vec![status(404, "No Results")];
        }
        let total = seqs.len();
        let take = if q.batch > 0 {
            (q.batch as usize).min(MAX_BATCH)
        } else {
            MAX_BATCH
        };
        let mut found = Vec::new();
        for seq in seqs.into_iter().take(take) {
            if let Ok(sm) = self.store.load(seq).await {
                found.push(sm);
            }
        }
        let left_after = (total - found.len()) as u64;
        let n = found.len() as u64;
        self.batch_replies(
            found,
            q.no_hdr,
            |i| left_after + n - 1 - i as u64,
            Some(up_to),
        )
    }

    /// The messages of a batch with their counters, then the EOB status.
    fn batch_replies(
        &self,
        found: Vec<StoredMessage>,
        no_hdr: bool,
        pending: impl Fn(usize) -> u64,
        up_to: Option<u64>,
    ) -> Vec<Reply> {
        let mut out = Vec::with_capacity(found.len() + 1);
        let mut previous = 0;
        let count = found.len();
        for (i, mut sm) in found.into_iter().enumerate() {
            if no_hdr {
                sm.headers = Bytes::new();
            }
            let (num_pending, last) = (pending(i).to_string(), previous.to_string());
            let extra = [
                (headers::NATS_NUM_PENDING, num_pending.as_str()),
                (headers::NATS_LAST_SEQUENCE, last.as_str()),
            ];
            previous = sm.seq;
            out.push((self.direct_headers(&sm, &extra), sm.payload));
        }
        let mut eob = format!(
            "NATS/1.0 204 EOB\r\nNats-Num-Pending: {}\r\nNats-Last-Sequence: {previous}\r\n",
            if count == 0 { 0 } else { pending(count - 1) }
        );
        if let Some(u) = up_to {
            eob.push_str(&format!("Nats-UpTo-Sequence: {u}\r\n"));
        }
        eob.push_str("\r\n");
        out.push((Bytes::from(eob), Bytes::new()));
        out
    }

    /// Messages matching `filter` with a sequence above `after`.
    async fn count_after(&self, filter: &str, after: u64) -> u64 {
        let st = self.store.state();
        if after >= st.last_seq {
            return 0;
        }
        if filter == ">" {
            let from = (after + 1).max(st.first_seq);
            let span = st.last_seq + 1 - from;
            let deleted = self
                .store
                .deleted()
                .iter()
                .filter(|d| **d >= from && **d <= st.last_seq)
                .count() as u64;
            return span.saturating_sub(deleted);
        }
        let mut n = 0;
        for (subject, ss) in self.store.subjects_state(filter.as_bytes()) {
            if ss.first_seq > after {
                n += ss.messages;
            } else if ss.last_seq > after {
                let mut next = after + 1;
                while let Ok(Some(sm)) = self.store.load_next(&subject, next).await {
                    n += 1;
                    next = sm.seq + 1;
                }
            }
        }
        n
    }

    /// The stored headers plus Go's `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`,
    /// `Nats-Time-Stamp` (and the batch counters in `extra`).
    fn direct_headers(&self, sm: &StoredMessage, extra: &[(&str, &str)]) -> Bytes {
        let subject = String::from_utf8_lossy(&sm.subject);
        let (seq, ts) = (sm.seq.to_string(), go_time(sm.timestamp).to_string());
        let mut added = vec![
            (headers::NATS_STREAM, self.name.as_str()),
            (headers::NATS_SUBJECT, &*subject),
            (headers::NATS_SEQUENCE, &*seq),
            (headers::NATS_TIME_STAMP, &*ts),
        ];
        added.extend_from_slice(extra);
        Bytes::from(headers::append(&sm.headers, &added))
    }
}
