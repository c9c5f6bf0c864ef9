//! A pull consumer's waiting requests and which one receives the next message
//! (Go's `waitQueue` and `nextWaiting`), with the priority-group policies:
//!
//! - **overflow**: a request with `min_pending` / `min_ack_pending` is served only
//!   while the consumer has at least that many messages pending / awaiting acks;
//! - **pinned_client**: one client (one pin id) is served at a time; the pin goes to
//!   the first request that asks without an id when a message is ready, and lapses
//!   after `priority_timeout` without a new request carrying it;
//! - **prioritized**: lower `priority` first, first come first served within one.
//!
//! No I/O and no clock: the caller passes the time and the consumer's counts and
//! carries out the [`Effect`]s (status frames, advisories). Requests that are held
//! back stay queued (they still get heartbeats and expire as usual).

use std::collections::VecDeque;

use bytes::Bytes;

use super::consumer_api::status;
use super::consumer_config::PriorityPolicy;
use super::gotime::GoTime;

/// A pull request waiting for messages (Go's `waitingRequest`).
#[derive(Debug, Clone)]
pub(super) struct PullRequest {
    /// Where messages and status frames go.
    pub reply: Bytes,
    /// Messages still wanted.
    pub batch: u64,
    /// Bytes still allowed (0 = no limit).
    pub max_bytes: u64,
    /// When the request ends with 408 (None: never).
    pub expires_at: Option<i64>,
    /// Return as soon as nothing is left (404/408 rather than waiting).
    pub no_wait: bool,
    /// Idle heartbeat interval (0 = none).
    pub heartbeat: i64,
    /// When the next idle heartbeat is due.
    pub next_heartbeat: i64,
    /// Messages delivered to it so far.
    pub delivered: u64,
    /// Its priority-group fields; `None` when the body was not JSON (Go has no
    /// priority group then: such a request passes every priority rule, is never
    /// pinned and ranks last among prioritized requests).
    pub priority: Option<PriorityAsk>,
}

/// What a JSON pull request asked of the priority groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PriorityAsk {
    /// The group it pulls for.
    pub group: String,
    /// Overflow: serve only while at least this many messages are pending (≤ 0: unset).
    pub min_pending: i64,
    /// Overflow: serve only while at least this many acks are pending (≤ 0: unset).
    pub min_ack_pending: i64,
    /// Pinned client: the pin id it holds (empty: none yet). Set when it wins the pin.
    pub id: String,
    /// Prioritized: 0 (first) to 9.
    pub priority: i64,
}

impl PullRequest {
    /// A status frame carrying what the request still wanted
    /// (`Nats-Pending-Messages`, `Nats-Pending-Bytes`).
    pub fn status(&self, frame: fn(i64, i64) -> Vec<u8>) -> Vec<u8> {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        frame(clamp(self.batch), clamp(self.max_bytes))
    }

    /// Prioritized order: lower first; requests without a priority group last.
    fn rank(&self) -> i64 {
        self.priority
            .as_ref()
            .map_or(i64::from(i32::MAX), |p| p.priority)
    }

    /// The pin id it carries, if any.
    fn pin_id(&self) -> Option<&str> {
        self.priority
            .as_ref()
            .map(|p| p.id.as_str())
            .filter(|id| !id.is_empty())
    }

    /// Overflow: whether its thresholds let it take a message now.
    fn overflow_allows(&self, counts: Counts) -> bool {
        let Some(p) = &self.priority else {
            return true;
        };
        let wants_pending = p.min_pending > 0;
        let wants_acks = p.min_ack_pending > 0;
        if !wants_pending && !wants_acks {
            return true;
        }
        (wants_pending && p.min_pending as u64 <= counts.pending)
            || (wants_acks && p.min_ack_pending as u64 <= counts.ack_pending)
    }
}

/// The consumer's current pin (pinned_client): one per consumer, whatever the
/// group it was won through. Kept in memory only, as Go does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pin {
    /// The id requests must carry (`Nats-Pin-Id`).
    pub id: String,
    /// When it was assigned (ConsumerInfo `pinned_ts`).
    pub since: GoTime,
    /// The group of the request that won it (named by the timeout advisory).
    pub group: String,
    /// When it lapses unless a request carrying it arrives (Unix ns).
    pub expires_at: i64,
}

/// The consumer's counts the overflow rule compares against.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    /// Messages pending, counting the one being placed (Go's `npc+1`; for a
    /// redelivery Go does not take it off first, so it counts one more).
    pub pending: u64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: u64,
}

/// Something the caller must do for the queue: answer a request, announce a pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Effect {
    /// Send this header-only status frame to `to`.
    Frame {
        /// The request's reply subject.
        to: Bytes,
        /// The frame.
        frame: Vec<u8>,
    },
    /// A new pin was assigned (the PINNED advisory).
    Pinned {
        /// The group it was won through.
        group: String,
        /// The new pin id.
        id: String,
    },
}

/// The request chosen for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chosen {
    /// Where the message goes.
    pub reply: Bytes,
    /// Messages the request still wants after this one.
    pub batch_left: u64,
    /// Bytes it still allows after this one (0 = no limit or exhausted).
    pub bytes_left: u64,
    /// The `Nats-Pin-Id` header value, on pinned-client consumers (empty while
    /// nobody is pinned: a non-JSON request was served).
    pub pin_header: Option<String>,
}

/// What the choice depends on besides the queue.
pub(super) struct Placing<'a> {
    /// The consumer's priority policy.
    pub policy: PriorityPolicy,
    /// The message's size as counted against `max_bytes`.
    pub size: u64,
    /// Now (Unix ns).
    pub now: i64,
    /// Counts for the overflow rule.
    pub counts: Counts,
    /// `priority_timeout` (ns): how long a new pin lasts.
    pub pin_ttl: i64,
    /// Whether anyone still listens on a reply subject.
    pub has_interest: &'a dyn Fn(&Bytes) -> bool,
    /// A new pin id.
    pub new_pin_id: &'a dyn Fn() -> String,
}

/// The waiting requests and the pin.
#[derive(Debug, Default)]
pub(super) struct PullQueue {
    /// Waiting requests in serving order.
    pub requests: VecDeque<PullRequest>,
    /// The current pin (pinned_client only).
    pub pin: Option<Pin>,
}

impl PullQueue {
    /// Requests waiting now.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when nobody waits.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Queue a new request: prioritized requests go behind every request of the
    /// same or a better priority, others to the end (Go's `addPrioritized`/`add`).
    pub fn add(&mut self, req: PullRequest, policy: PriorityPolicy) {
        if policy == PriorityPolicy::Prioritized {
            let rank = req.rank();
            let at = self
                .requests
                .iter()
                .position(|w| w.rank() > rank)
                .unwrap_or(self.requests.len());
            self.requests.insert(at, req);
        } else {
            self.requests.push_back(req);
        }
    }

    /// Go's `nextWaiting`: the request that receives a message, updated as if it
    /// had. On the way, expired requests end (408), requests the message cannot fit
    /// end (409), requests holding a stale pin end (423), and requests the policy
    /// holds back are passed over and stay queued. `None`: nobody may take it now.
    pub fn choose(&mut self, at: &Placing<'_>, effects: &mut Vec<Effect>) -> Option<Chosen> {
        let pinned_policy = at.policy == PriorityPolicy::PinnedClient;
        let needs_new_pin = pinned_policy && self.pin.is_none();
        let mut passed_over = 0usize;
        loop {
            let wr = self.requests.front_mut()?;
            if wr.expires_at.is_some_and(|t| at.now >= t) {
                let wr = self.requests.pop_front()?;
                effects.push(frame(&wr, status::request_timeout));
                continue;
            }
            let mut pinned_now = false;
            if pinned_policy {
                if needs_new_pin {
                    if wr.pin_id().is_some() {
                        // It holds a pin that is gone (lapsed, unpinned, restart).
                        let wr = self.requests.pop_front()?;
                        effects.push(frame(&wr, status::wrong_pin_id));
                        continue;
                    }
                    if let Some(ask) = wr.priority.as_mut().filter(|p| !p.group.is_empty()) {
                        let id = (at.new_pin_id)();
                        ask.id = id.clone();
                        self.pin = Some(Pin {
                            id: id.clone(),
                            since: GoTime::now(),
                            group: ask.group.clone(),
                            expires_at: at.now.saturating_add(at.pin_ttl),
                        });
                        effects.push(Effect::Pinned {
                            group: ask.group.clone(),
                            id,
                        });
                        pinned_now = true;
                    }
                } else if let Some(pin) = &self.pin {
                    match wr.pin_id() {
                        Some(id) if id == pin.id => {}
                        Some(_) => {
                            let wr = self.requests.pop_front()?;
                            effects.push(frame(&wr, status::wrong_pin_id));
                            continue;
                        }
                        None => {
                            if self.pass_over(&mut passed_over) {
                                return None;
                            }
                            continue;
                        }
                    }
                }
            }
            if at.policy == PriorityPolicy::Overflow && !wr.overflow_allows(at.counts) {
                if self.pass_over(&mut passed_over) {
                    return None;
                }
                continue;
            }
            let wr = self.requests.front_mut()?;
            if wr.max_bytes > 0 {
                if at.size <= wr.max_bytes {
                    wr.max_bytes -= at.size;
                    if wr.max_bytes == 0 {
                        wr.batch = 1;
                    }
                } else {
                    let wr = self.requests.pop_front()?;
                    effects.push(frame(&wr, status::message_size_exceeds_max_bytes));
                    if pinned_now {
                        // Go takes the pin back, without an advisory.
                        self.pin = None;
                        effects.retain(|e| !matches!(e, Effect::Pinned { .. }));
                    }
                    continue;
                }
            }
            if !(at.has_interest)(&wr.reply) {
                self.requests.pop_front();
                continue;
            }
            wr.batch = wr.batch.saturating_sub(1);
            wr.delivered += 1;
            let chosen = Chosen {
                reply: wr.reply.clone(),
                batch_left: wr.batch,
                bytes_left: wr.max_bytes,
                pin_header: pinned_policy
                    .then(|| self.pin.as_ref().map(|p| p.id.clone()).unwrap_or_default()),
            };
            if wr.batch == 0 {
                self.requests.pop_front();
            } else {
                if wr.heartbeat > 0 {
                    wr.next_heartbeat = at.now.saturating_add(wr.heartbeat);
                }
                // A request that wants more goes behind the others (behind its
                // equals when prioritized), so concurrent pulls share the messages.
                if self.requests.len() > 1 {
                    if let Some(wr) = self.requests.pop_front() {
                        self.add(wr, at.policy);
                    }
                }
            }
            return Some(chosen);
        }
    }

    /// Move the head request to the back, held back for now. True when every
    /// request has been passed over once (nobody may take the message).
    fn pass_over(&mut self, passed_over: &mut usize) -> bool {
        if let Some(wr) = self.requests.pop_front() {
            self.requests.push_back(wr);
        }
        *passed_over += 1;
        *passed_over >= self.requests.len()
    }

    /// A request arrived carrying `id` on a pinned-client consumer: true when it
    /// may queue. The current pin's own id renews it; another id while someone is
    /// pinned is refused (Go's `423 Nats-Pin-Id mismatch`). With no pin, any id may
    /// queue (it is told `Nats-Wrong-Pin-Id` when a message is ready).
    pub fn admit_pin_id(&mut self, id: &str, now: i64, pin_ttl: i64) -> bool {
        match &mut self.pin {
            Some(pin) if pin.id == id => {
                pin.expires_at = now.saturating_add(pin_ttl);
                true
            }
            Some(_) => id.is_empty(),
            None => true,
        }
    }

    /// Drop the pin (UNPIN, or its time ran out). Returns the lapsed pin.
    pub fn unpin(&mut self) -> Option<Pin> {
        self.pin.take()
    }
}

fn frame(wr: &PullRequest, status: fn(i64, i64) -> Vec<u8>) -> Effect {
    Effect::Frame {
        to: wr.reply.clone(),
        frame: wr.status(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(reply: &str, batch: u64, ask: Option<PriorityAsk>) -> PullRequest {
        PullRequest {
            reply: Bytes::from(reply.to_string()),
            batch,
            max_bytes: 0,
            expires_at: None,
            no_wait: false,
            heartbeat: 0,
            next_heartbeat: 0,
            delivered: 0,
            priority: ask,
        }
    }

    fn ask(group: &str) -> PriorityAsk {
        PriorityAsk {
            group: group.into(),
            ..PriorityAsk::default()
        }
    }

    /// Choose for `n` messages; the reply subjects that got them.
    fn serve(q: &mut PullQueue, policy: PriorityPolicy, counts: Counts, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        let mut pins = 0;
        for _ in 0..n {
            let next_pin = std::cell::Cell::new(pins);
            let at = Placing {
                policy,
                size: 10,
                now: 1_000,
                counts,
                pin_ttl: 500,
                has_interest: &|_| true,
                new_pin_id: &|| {
                    next_pin.set(next_pin.get() + 1);
                    format!("pin{}", next_pin.get())
                },
            };
            let mut effects = Vec::new();
            match q.choose(&at, &mut effects) {
                Some(c) => got.push(String::from_utf8_lossy(&c.reply).into_owned()),
                None => got.push("-".into()),
            }
            pins = next_pin.get();
        }
        got
    }

    #[test]
    fn overflow_thresholds_are_either_or_and_inclusive() {
        // (min_pending, min_ack_pending, pending, ack_pending, served)
        let table = [
            (0, 0, 0, 0, true),
            (2, 0, 2, 0, true),
            (3, 0, 2, 0, false),
            (0, 2, 0, 1, false),
            (0, 1, 0, 1, true),
            (10, 2, 1, 2, true),
            (-1, 0, 0, 0, true),
        ];
        for (min_pending, min_ack_pending, pending, ack_pending, served) in table {
            let mut q = PullQueue::default();
            let a = PriorityAsk {
                min_pending,
                min_ack_pending,
                ..ask("A")
            };
            q.add(req("r", 1, Some(a)), PriorityPolicy::Overflow);
            let counts = Counts {
                pending,
                ack_pending,
            };
            let got = serve(&mut q, PriorityPolicy::Overflow, counts, 1);
            assert_eq!(
                got == ["r"],
                served,
                "{min_pending} {min_ack_pending} {pending} {ack_pending}"
            );
            assert_eq!(
                q.len(),
                usize::from(!served),
                "held back requests stay queued"
            );
        }
    }

    #[test]
    fn prioritized_order_and_turns_among_equals() {
        let mut q = PullQueue::default();
        let p = |n| {
            Some(PriorityAsk {
                priority: n,
                ..ask("A")
            })
        };
        for (reply, ask) in [
            ("p5", p(5)),
            ("p1a", p(1)),
            ("plain", None),
            ("p1b", p(1)),
            ("p0", p(0)),
        ] {
            q.add(req(reply, 2, ask), PriorityPolicy::Prioritized);
        }
        let got = serve(&mut q, PriorityPolicy::Prioritized, Counts::default(), 11);
        assert_eq!(
            got,
            ["p0", "p0", "p1a", "p1b", "p1a", "p1b", "p5", "p5", "plain", "plain", "-"]
        );
    }

    #[test]
    fn a_pin_goes_to_the_first_json_request_without_an_id() {
        let mut q = PullQueue::default();
        let stale = PriorityAsk {
            id: "old".into(),
            ..ask("A")
        };
        q.add(req("stale", 3, Some(stale)), PriorityPolicy::PinnedClient);
        q.add(
            req("first", 1, Some(ask("A"))),
            PriorityPolicy::PinnedClient,
        );
        q.add(
            req("second", 1, Some(ask("A"))),
            PriorityPolicy::PinnedClient,
        );
        let mut effects = Vec::new();
        let at = Placing {
            policy: PriorityPolicy::PinnedClient,
            size: 10,
            now: 1_000,
            counts: Counts::default(),
            pin_ttl: 500,
            has_interest: &|_| true,
            new_pin_id: &|| "pin1".to_string(),
        };
        let chosen = q.choose(&at, &mut effects).expect("served");
        assert_eq!(chosen.pin_header.as_deref(), Some("pin1"));
        assert_eq!(&chosen.reply[..], b"first");
        assert_eq!(
            effects,
            [
                Effect::Frame {
                    to: Bytes::from_static(b"stale"),
                    frame: status::wrong_pin_id(3, 0),
                },
                Effect::Pinned {
                    group: "A".into(),
                    id: "pin1".into(),
                },
            ]
        );
        assert_eq!(q.pin.as_ref().map(|p| p.expires_at), Some(1_500));
        // The other client waits while someone is pinned.
        assert!(q.choose(&at, &mut Vec::new()).is_none());
        assert_eq!(q.len(), 1);
        // Renewed by a request with the pin, refused with another id.
        assert!(q.admit_pin_id("pin1", 1_200, 500));
        assert_eq!(q.pin.as_ref().map(|p| p.expires_at), Some(1_700));
        assert!(!q.admit_pin_id("other", 1_200, 500));
        assert!(q.admit_pin_id("", 1_200, 500));
        assert_eq!(q.unpin().map(|p| p.id), Some("pin1".to_string()));
        assert!(q.admit_pin_id("other", 1_200, 500));
    }

    #[test]
    fn a_message_too_big_for_the_new_pin_holder_takes_the_pin_back() {
        let mut q = PullQueue::default();
        let mut small = req("small", 1, Some(ask("A")));
        small.max_bytes = 5;
        q.add(small, PriorityPolicy::PinnedClient);
        q.add(req("plain", 1, None), PriorityPolicy::PinnedClient);
        let got = serve(&mut q, PriorityPolicy::PinnedClient, Counts::default(), 1);
        // The plain request is served without a pin; no PINNED advisory is left.
        assert_eq!(got, ["plain"]);
        assert!(q.pin.is_none());
    }
}
