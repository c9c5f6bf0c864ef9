//! Direct get (`$JS.API.DIRECT.GET.<stream>[.<subject>]`), answered by the stream
//! itself on its own core: one message, a batch from a sequence or a time, or the last
//! message of each subject matching `multi_last` (at or below a sequence or a time).
//!
//! Replies are raw messages with Go's headers. A batch adds `Nats-Num-Pending` (how
//! many matching messages are left after this one) and `Nats-Last-Sequence` (the
//! previous sequence of this reply, 0 for the first) to each message, and ends with a
//! `204 EOB` status carrying the same two counters (and `Nats-UpTo-Sequence` for
//! `multi_last`). Nothing to send is a single 404 status; a request Go refuses is a
//! 408 status naming why.
//!
//! Every rule here was checked against nats-server 2.15.1, quirks included: a batch's
//! `max_bytes` stops *after* the message that reaches it, a batch with `no_hdr` sends
//! bare messages and an EOB whose pending count was never decremented, `multi_last`
//! ignores `no_hdr`, and a negative `batch` sends only the EOB.

use std::collections::BTreeSet;
use std::rc::Rc;

use bytes::Bytes;
use jetcore_storage::StoredMessage;

use super::super::api_types::{unmarshal, MsgGetRequest};
use super::super::headers;
use super::{go_time, status, Stream};
use crate::client::InternalMsg;

/// One reply: header block (empty: none, sent as a plain message) and payload.
type Reply = (Bytes, Bytes);

/// Most subjects one `multi_last` request may return; more is `413 Too Many Results`
/// (Go's `maxAllowedResponses`), so one request cannot make the core load every
/// subject's last message.
const MAX_MULTI_LAST: usize = 1024;

/// Messages a batch sends between two yields of the core: a batch is bounded only by
/// bytes (`max_bytes`, or the server's `max_pending`, as in Go), so a large one must
/// not hold the core for its whole length.
const BATCH_YIELD_EVERY: usize = 256;

impl Stream {
    pub(super) async fn run_direct_gets(self: Rc<Self>) {
        while let Some(batch) = self.direct_inbox.next_batch().await {
            // Requests refused past the queue limit go unanswered, as in Go.
            let _ = self.direct_inbox.take_refused();
            for m in batch {
                let Some(reply) = m.reply.clone().filter(|r| !r.is_empty()) else {
                    continue;
                };
                let mut send = |(headers, payload): Reply| {
                    let headers = (!headers.is_empty()).then_some(headers);
                    self.shard
                        .publish_internal(&reply, None, headers.as_ref(), &payload);
                };
                if super::super::api::requires_newer_api(m.headers.as_deref()) {
                    send(status(412, "Required Api Level"));
                    continue;
                }
                match self.direct_request(&m) {
                    Ok(q) => self.direct_get(&q, &mut send).await,
                    Err(why) => send(status(408, why)),
                }
                jetcore_router::yield_if_needed().await;
            }
        }
    }

    /// The request `m` carries, checked as Go checks it, or the text of the 408.
    fn direct_request(&self, m: &InternalMsg) -> Result<MsgGetRequest, &'static str> {
        let prefix = format!("$JS.API.DIRECT.GET.{}.", self.name);
        let domain_prefix = format!("$JS.{}.API.DIRECT.GET.{}.", self.domain, self.name);
        let by_subject = m.subject.strip_prefix(prefix.as_bytes()).or_else(|| {
            (!self.domain.is_empty())
                .then(|| m.subject.strip_prefix(domain_prefix.as_bytes()))
                .flatten()
        });
        check_request(by_subject, &m.payload)
    }

    /// Answer one valid request through `send`.
    async fn direct_get(&self, q: &MsgGetRequest, send: &mut impl FnMut(Reply)) {
        if !q.multi_last.is_empty() {
            self.multi_last(q, send).await;
        } else if q.batch != 0 {
            self.batch(q, send).await;
        } else {
            match self.get_msg(q).await {
                Ok(sm) if q.no_hdr => send((Bytes::new(), sm.payload)),
                Ok(sm) => send((self.direct_headers(&sm, &[]), sm.payload)),
                Err(_) => send(status(404, "Message Not Found")),
            }
        }
    }

    /// The largest reply Go sends before it stops a batch: `max_bytes`, or the
    /// server's `max_pending` when not given. Go stops once the bytes sent reach it,
    /// so a zero or negative `max_bytes` lets one message through.
    fn batch_bytes(&self, q: &MsgGetRequest) -> i64 {
        if q.max_bytes == 0 {
            self.shard.opts.max_pending
        } else {
            q.max_bytes
        }
    }

    /// `{"batch":N, "seq":S | "start_time":T [,"next_by_subj":F]}`: up to N messages
    /// from S (or the first message stored at or after T) on.
    async fn batch(&self, q: &MsgGetRequest, send: &mut impl FnMut(Reply)) {
        let filter = if q.next_by_subj.is_empty() {
            ">"
        } else {
            q.next_by_subj.as_str()
        };
        let mut next = match &q.start_time {
            Some(t) => match self.seq_at_or_after(t).await {
                Some(seq) => seq,
                None => self.store.state().last_seq + 1,
            },
            None => q.seq,
        }
        .max(1);
        let valid_through = self.store.state().last_seq;
        let mut pending = self.count_after(filter, next - 1).await;
        let (max_bytes, mut sent_bytes) = (self.batch_bytes(q), 0i64);
        let mut last = 0;
        for i in 0..q.batch.max(0) {
            let sm = match self.store.load_next(filter.as_bytes(), next).await {
                Ok(Some(sm)) => sm,
                // Past the first message a miss just ends the batch.
                _ if i > 0 => break,
                _ => return send(status(404, "Message Not Found")),
            };
            next = sm.seq + 1;
            sent_bytes += sent_size(&sm);
            if q.no_hdr {
                // Go skips the counters with the headers, the pending count included.
                send((Bytes::new(), sm.payload.clone()));
            } else {
                pending = pending.saturating_sub(1);
                send(self.batch_message(&sm, pending, last));
            }
            last = sm.seq;
            if sent_bytes >= max_bytes {
                break;
            }
            if (i as usize + 1).is_multiple_of(BATCH_YIELD_EVERY) {
                jetcore_router::yield_if_needed().await;
            }
        }
        // Messages stored meanwhile change what is left.
        if self.store.state().last_seq > valid_through {
            pending = self.count_after(filter, next - 1).await;
        }
        send(eob(pending, last, None));
    }

    /// `{"multi_last":[F...][,"up_to_seq":U | "up_to_time":T][,"seq":S][,"batch":N]}`:
    /// the last message of every subject matching a filter, at or below U (or stored
    /// before T), in sequence order; those below S are counted but not sent.
    async fn multi_last(&self, q: &MsgGetRequest, send: &mut impl FnMut(Reply)) {
        let st = self.store.state();
        let up_to = if let Some(t) = &q.up_to_time {
            // The first message at or after T bounds the answer from above.
            let first_at = self.seq_at_or_after(t).await.unwrap_or(st.last_seq + 1);
            if first_at <= st.first_seq {
                return send(status(404, "No Results"));
            }
            first_at - 1
        } else if q.up_to_seq > 0 {
            q.up_to_seq
        } else {
            st.last_seq
        };
        let seqs = match self.last_seqs(&q.multi_last, up_to).await {
            Some(seqs) => seqs,
            None => return send(status(413, "Too Many Results")),
        };
        if seqs.is_empty() {
            return send(status(404, "No Results"));
        }
        let (max_bytes, mut sent_bytes) = (self.batch_bytes(q), 0i64);
        let (mut pending, mut last, mut sent) = (seqs.len() as u64, 0, 0i64);
        for seq in seqs {
            pending -= 1;
            if seq < q.seq {
                continue;
            }
            let Ok(sm) = self.store.load(seq).await else {
                return send(status(404, "Message Not Found"));
            };
            send(self.batch_message(&sm, pending, last));
            last = sm.seq;
            sent_bytes += sent_size(&sm);
            sent += 1;
            if sent_bytes >= max_bytes || (q.batch > 0 && sent >= q.batch) {
                break;
            }
        }
        send(eob(pending, last, Some(up_to)));
    }

    /// The last sequence at or below `up_to` of every subject matching one of
    /// `filters`, sorted; `None` when there are more than [`MAX_MULTI_LAST`].
    async fn last_seqs(&self, filters: &[String], up_to: u64) -> Option<BTreeSet<u64>> {
        let mut seqs = BTreeSet::new();
        for filter in filters {
            for (subject, ss) in self.store.subjects_state(filter.as_bytes()) {
                if ss.first_seq > up_to {
                    continue;
                }
                if ss.last_seq <= up_to {
                    seqs.insert(ss.last_seq);
                } else if let Some(seq) = self.last_at_or_below(&subject, ss.first_seq, up_to).await
                {
                    seqs.insert(seq);
                }
            }
            if seqs.len() > MAX_MULTI_LAST {
                return None;
            }
        }
        Some(seqs)
    }

    /// The last message on `subject` at or below `up_to`, walking forward from its
    /// first (`first`).
    async fn last_at_or_below(&self, subject: &[u8], first: u64, up_to: u64) -> Option<u64> {
        let (mut last, mut next) = (None, first);
        while let Ok(Some(sm)) = self.store.load_next(subject, next).await {
            if sm.seq > up_to {
                break;
            }
            last = Some(sm.seq);
            next = sm.seq + 1;
        }
        last
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

    /// A message of a batch: its headers with the counters `Nats-Num-Pending`
    /// (matching messages left after it) and `Nats-Last-Sequence` (the previous
    /// message of this reply, 0 for the first).
    fn batch_message(&self, sm: &StoredMessage, pending: u64, last: u64) -> Reply {
        let (pending, last) = (pending.to_string(), last.to_string());
        let counters = [
            (headers::NATS_NUM_PENDING, pending.as_str()),
            (headers::NATS_LAST_SEQUENCE, last.as_str()),
        ];
        (self.direct_headers(sm, &counters), sm.payload.clone())
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

/// What a message counts against a batch's `max_bytes` (Go: subject, stored
/// headers and payload).
fn sent_size(sm: &StoredMessage) -> i64 {
    (sm.subject.len() + sm.headers.len() + sm.payload.len()) as i64
}

/// The `204 EOB` status that ends a batch (`up_to` for `multi_last`).
fn eob(pending: u64, last: u64, up_to: Option<u64>) -> Reply {
    let mut text = format!(
        "NATS/1.0 204 EOB\r\nNats-Num-Pending: {pending}\r\nNats-Last-Sequence: {last}\r\n"
    );
    if let Some(u) = up_to {
        text.push_str(&format!("Nats-UpTo-Sequence: {u}\r\n"));
    }
    text.push_str("\r\n");
    (Bytes::from(text), Bytes::new())
}

/// Go's checks of a direct-get request before any lookup (`processDirectGetRequest`
/// and, for the subject form, `processDirectGetLastBySubjectRequest`). `subject` is
/// the subject token(s) after the stream name in the subject form. Returns the
/// request to answer or the description of the 408 status.
fn check_request(subject: Option<&[u8]>, payload: &[u8]) -> Result<MsgGetRequest, &'static str> {
    if let Some(subject) = subject {
        // The subject form: the body is optional; it may only carry `no_hdr` and
        // `max_bytes` (which a single message never reaches).
        let q = if payload.is_empty() {
            MsgGetRequest::default()
        } else {
            unmarshal::<MsgGetRequest>(payload).map_err(|_| "Malformed Request")?
        };
        let chooses = q.seq != 0
            || q.batch != 0
            || !q.last_by_subj.is_empty()
            || !q.next_by_subj.is_empty()
            || !q.multi_last.is_empty()
            || q.start_time.is_some()
            || q.up_to_seq != 0
            || q.up_to_time.is_some();
        if subject.is_empty() || chooses {
            return Err("Bad Request");
        }
        return Ok(MsgGetRequest {
            last_by_subj: String::from_utf8_lossy(subject).into_owned(),
            ..q
        });
    }
    if payload.is_empty() {
        return Err("Empty Request");
    }
    let q = unmarshal::<MsgGetRequest>(payload).map_err(|_| "Malformed Request")?;
    let (seq, last, next, multi, start) = (
        q.seq > 0,
        !q.last_by_subj.is_empty(),
        !q.next_by_subj.is_empty(),
        !q.multi_last.is_empty(),
        q.start_time.is_some(),
    );
    if !seq && !last && !next && !multi && !start {
        return Err("Empty Request");
    }
    // `seq`, `last_by_subj` and `start_time` exclude each other; a last-by-subject
    // request takes no other selector and no batch; `multi_last` no `next_by_subj`.
    let starts = [seq, last, start].iter().filter(|set| **set).count();
    let conflict = starts > 1
        || (last && (next || multi || q.batch > 0))
        || (next && multi)
        || (q.up_to_seq > 0 && q.up_to_time.is_some());
    if conflict {
        return Err("Bad Request");
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::check_request;

    /// Every request shape with Go 2.15.1's verdict: `Ok` or the 408 description.
    #[test]
    fn requests_are_checked_as_go_checks_them() {
        let json_form: &[(&str, Result<(), &str>)] = &[
            ("", Err("Empty Request")),
            ("null", Err("Empty Request")),
            ("{}", Err("Empty Request")),
            (r#"{"batch":2}"#, Err("Empty Request")),
            (
                r#"{"up_to_time":"2026-01-01T00:00:00Z"}"#,
                Err("Empty Request"),
            ),
            ("  ", Err("Malformed Request")),
            ("[]", Err("Malformed Request")),
            ("{bad", Err("Malformed Request")),
            (r#"{"seq":"x"}"#, Err("Malformed Request")),
            (r#"{"seq":-1}"#, Err("Malformed Request")),
            (r#"{"seq":1.5}"#, Err("Malformed Request")),
            (r#"{"seq":1}{"seq":2}"#, Err("Malformed Request")),
            (r#"{"start_time":"bad","seq":1}"#, Err("Malformed Request")),
            (r#"{"seq":1,"foo":2}"#, Ok(())),
            (r#"{"SEQ":1}"#, Ok(())),
            (r#"{"seq":1,"last_by_subj":"a"}"#, Err("Bad Request")),
            (
                r#"{"seq":1,"start_time":"2026-01-01T00:00:00Z"}"#,
                Err("Bad Request"),
            ),
            (
                r#"{"last_by_subj":"a","start_time":"2026-01-01T00:00:00Z"}"#,
                Err("Bad Request"),
            ),
            (
                r#"{"last_by_subj":"a","next_by_subj":"a"}"#,
                Err("Bad Request"),
            ),
            (r#"{"last_by_subj":"a","batch":2}"#, Err("Bad Request")),
            (r#"{"last_by_subj":"a","batch":-2}"#, Ok(())),
            (
                r#"{"last_by_subj":"a","multi_last":["a"]}"#,
                Err("Bad Request"),
            ),
            (
                r#"{"next_by_subj":"a","multi_last":["a"]}"#,
                Err("Bad Request"),
            ),
            (
                r#"{"seq":1,"up_to_seq":3,"up_to_time":"2026-01-01T00:00:00Z"}"#,
                Err("Bad Request"),
            ),
            (r#"{"start_time":"2026-01-01T00:00:00Z","batch":3}"#, Ok(())),
            (
                r#"{"multi_last":["a"],"start_time":"2026-01-01T00:00:00Z"}"#,
                Ok(()),
            ),
            (r#"{"next_by_subj":"a"}"#, Ok(())),
        ];
        for (body, want) in json_form {
            let got = check_request(None, body.as_bytes()).map(|_| ());
            assert_eq!(got, *want, "JSON form {body:?}");
        }
        let subject_form: &[(&str, Result<(), &str>)] = &[
            ("", Ok(())),
            ("{}", Ok(())),
            ("null", Ok(())),
            (r#"{"no_hdr":true}"#, Ok(())),
            (r#"{"max_bytes":5}"#, Ok(())),
            (r#"{"seq":1}"#, Err("Bad Request")),
            (r#"{"batch":2}"#, Err("Bad Request")),
            (r#"{"up_to_seq":2}"#, Err("Bad Request")),
            ("bad", Err("Malformed Request")),
            ("[]", Err("Malformed Request")),
        ];
        for (body, want) in subject_form {
            let got = check_request(Some(b"s.a"), body.as_bytes());
            assert_eq!(
                got.as_ref().map(|_| ()).map_err(|e| *e),
                *want,
                "subject form {body:?}"
            );
            if let Ok(q) = got {
                assert_eq!(q.last_by_subj, "s.a");
            }
        }
    }
}
