//! A consumer's delivery and ack state machine: pure, deterministic, with the time
//! always passed in (`now`, Unix nanoseconds).
//!
//! The consumer runtime owns one [`Tracker`] per consumer and calls it on every
//! delivery, ack, nak, progress, term and timer tick; it persists
//! [`Tracker::encoded`] (or [`encode`] of [`Tracker::snapshot`]) through the
//! consumer's state file and rebuilds the tracker with [`Tracker::restore`] after a
//! restart. Nothing here does I/O, reads a clock, draws a random number or depends on
//! hash-map order, so every behaviour can be replayed in a test.
//!
//! It follows nats-server 2.15.1 (`consumer.go`: `processAckMsg`, `processNak`,
//! `processTerm`, `progressUpdate`, `checkPending`, `hasMaxDeliveries`, the
//! redelivery queue of `getNextMsg`, `purge`, `decStreamPending`, `needAck`). Go keeps
//! two copies of this state: the leader's in-memory fields and the consumer store
//! (`consumerFileStore`/`consumerMemStore`), and `ConsumerInfo` reports the ack floor
//! and `delivered` **from the store**. Where the two disagree this module follows the
//! store, because that is what clients observe and what survives a restart:
//! - the ack floor does not move past a message that reached `max_deliver` (the
//!   in-memory floor does); it stays where it was until the pending set drains, then
//!   jumps to `delivered`;
//! - `delivered.stream_seq` is the last stream sequence actually delivered, not the
//!   scan position (a filtered consumer that scanned past non-matching messages still
//!   reports the last one it sent); the scan position is [`Tracker::next_new_stream_seq`].
//!
//! Both were checked against a real 2.15.1 server (see the tests' comments). Two
//! deliberate differences:
//! - pending timestamps are the delivery time in nanoseconds. Go's store keeps the
//!   message's publish time rounded to seconds, so after a restart Go redelivers a
//!   message as soon as `ack_wait` has passed since it was *published*; here it is
//!   since it was last delivered (or progressed/nak'd), as Go does while running;
//! - Go checks restored pending messages 0.5–1.5 s (random) after start; here they are
//!   due as soon as their deadline has passed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use thiserror::Error;

/// Which acknowledgements the consumer expects (Go's `AckPolicy`, with
/// `flow_control` folded into `All` as Go does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Nothing is acked: a delivery is final and the ack floor follows `delivered`.
    None,
    /// An ack acknowledges every pending message up to and including it.
    All,
    /// Each message is acked on its own.
    Explicit,
}

/// The consumer configuration the tracker needs, as plain values so that the
/// tracker does not depend on the config types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Ack policy.
    pub mode: AckMode,
    /// How long a delivery waits for its ack before it is redelivered (`ack_wait`,
    /// ns). With a backoff Go sets it to `backoff[0]`; naks with a delay are computed
    /// from it even then. `<= 0` (and no backoff) turns redelivery off.
    pub ack_wait_ns: i64,
    /// Redelivery waits by delivery count (`backoff`, ns): the wait after the n-th
    /// delivery is `backoff[min(n - 1, len - 1)]`; empty means `ack_wait` every time.
    pub backoff_ns: Vec<i64>,
    /// Deliveries a message gets at most; `<= 0` is unlimited.
    pub max_deliver: i64,
    /// Messages pending an ack at most before new deliveries stop; `<= 0` is
    /// unlimited. Redeliveries are never held back by it (as Go).
    pub max_ack_pending: i64,
}

/// A consumer sequence and the stream sequence it points at (Go's `SequencePair`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqPair {
    /// Consumer (delivery) sequence: every delivery, redeliveries included, gets the
    /// next one.
    pub consumer_seq: u64,
    /// Stream sequence.
    pub stream_seq: u64,
}

/// A delivered message waiting for its ack (Go's `Pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Consumer sequence of its *first* delivery; redeliveries keep it, and the ack
    /// floor is computed from it.
    pub consumer_seq: u64,
    /// When its ack wait started (Unix ns): the last delivery, `+WPI` or delayed nak.
    pub timestamp_ns: i64,
}

/// What survives a restart (Go's `ConsumerState`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistedState {
    /// The last delivery: its consumer sequence and the highest stream sequence
    /// delivered (start − 1 before the first delivery).
    pub delivered: SeqPair,
    /// Everything at or below it is acked (or was skipped by the start position).
    pub ack_floor: SeqPair,
    /// Delivered, not yet acked, by stream sequence.
    pub pending: BTreeMap<u64, Pending>,
    /// Stream sequence → times redelivered (deliveries − 1, Go's `rdc`), kept only
    /// when ≥ 1. A message that reached `max_deliver` stays here (not in `pending`)
    /// until it is acked or leaves the stream: interest retention keeps it meanwhile.
    pub redelivered: BTreeMap<u64, u64>,
}

/// A delivery about to be made or just recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The consumer sequence of this delivery (goes into the ack reply subject).
    pub consumer_seq: u64,
    /// How many times the message has now been delivered (the ack reply's count).
    pub delivery_count: u64,
}

/// The next entry of the redelivery queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// Deliver `stream_seq` again, with `redelivery = true`.
    Due {
        /// The message to redeliver.
        stream_seq: u64,
    },
    /// Redelivering it would exceed `max_deliver`: it left the pending set and will
    /// not be delivered again. Publish Go's `MAX_DELIVERIES` advisory.
    Exceeded {
        /// The message.
        stream_seq: u64,
        /// The advisory's `deliveries` (= `max_deliver`).
        deliveries: u64,
    },
}

/// A message that reached `max_deliver` while its ack wait expired; publish the
/// `MAX_DELIVERIES` advisory for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// The message.
    pub stream_seq: u64,
    /// The advisory's `deliveries`.
    pub deliveries: u64,
}

/// How an ack (or term) was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// The message (with `AckMode::All`: every pending one up to it) is now acked.
    Acked,
    /// Nothing pending there: already acked, below the floor, or past
    /// `max_deliver`. Go still answers a double ack.
    NotPending,
    /// The sequence is at or past the next new stream sequence: it was never
    /// delivered. Go ignores the ack and never answers it.
    NotDelivered,
    /// `AckMode::None`: there is nothing to ack. Go answers only on streams whose
    /// retention is not `limits`.
    NoAck,
}

/// The result of [`Tracker::ack`] / [`Tracker::term`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckOutcome {
    /// What happened.
    pub status: AckStatus,
    /// Stream sequences this consumer no longer needs because of this ack, ascending
    /// (interest and work-queue retention re-check them). May be non-empty with
    /// `NotPending`: acking a message past `max_deliver` releases it.
    pub acked: Vec<u64>,
}

impl AckOutcome {
    fn status(status: AckStatus) -> AckOutcome {
        AckOutcome {
            status,
            acked: Vec::new(),
        }
    }
}

/// A pending message that vanished from the stream ([`Tracker::stream_removed`]).
/// Go treats it as a `+TERM` and publishes a `MSG_TERMINATED` advisory with the
/// reason "Unacknowledged message was deleted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    /// Consumer sequence of its first delivery.
    pub consumer_seq: u64,
    /// Times it was delivered.
    pub deliveries: u64,
    /// Other stream sequences acked by it (`AckMode::All` acks everything below).
    pub acked: Vec<u64>,
}

/// One consumer's delivery and ack state.
#[derive(Debug, Clone)]
pub struct Tracker {
    /// The configuration in force.
    settings: Settings,
    /// Last delivery (persisted; what `ConsumerInfo.delivered` shows).
    delivered: SeqPair,
    /// Ack floor (persisted; what `ConsumerInfo.ack_floor` shows).
    ack_floor: SeqPair,
    /// Next stream sequence to scan for new messages (Go's `o.sseq`). Runtime only:
    /// after a restart it is `delivered.stream_seq + 1`, as in Go.
    next_seq: u64,
    /// Delivered, not acked (persisted).
    pending: BTreeMap<u64, Pending>,
    /// Times redelivered, ≥ 1 (persisted).
    redelivered: BTreeMap<u64, u64>,
    /// Pending messages due for redelivery, in Go's order (runtime only).
    queue: RedeliveryQueue,
    /// When each pending message not on the queue is due (runtime only).
    deadlines: Deadlines,
    /// Last delivery, progress or delayed nak (Go's `o.ldt`; not persisted).
    last_delivered_at: Option<i64>,
    /// Last ack processed (Go's `o.lat`; not persisted).
    last_acked_at: Option<i64>,
    /// Bumped on every change to the persisted state, so the runtime can tell
    /// whether there is something to write.
    generation: u64,
}

impl Tracker {
    /// A new consumer whose first new delivery is at or after `start_stream_seq`
    /// (from its deliver policy; 0 is taken as 1). `delivered` and the ack floor
    /// start at `(0, start - 1)`, as Go's `selectStartingSeqNo`.
    pub fn new(settings: Settings, start_stream_seq: u64) -> Tracker {
        let start = start_stream_seq.max(1);
        let origin = SeqPair {
            consumer_seq: 0,
            stream_seq: start - 1,
        };
        Tracker {
            settings,
            delivered: origin,
            ack_floor: origin,
            next_seq: start,
            pending: BTreeMap::new(),
            redelivered: BTreeMap::new(),
            queue: RedeliveryQueue::default(),
            deadlines: Deadlines::default(),
            last_delivered_at: None,
            last_acked_at: None,
            generation: 0,
        }
    }

    /// A consumer rebuilt from its persisted state (Go's `applyState`): new messages
    /// continue after `delivered.stream_seq`, the redelivery queue is empty and every
    /// pending message is due once its wait, counted from its stored timestamp,
    /// has passed. A state that breaks the invariants [`decode`] checks is
    /// normalised: the floor is capped at `delivered`, pending entries at or below
    /// the floor are dropped, `delivered` is raised over the highest pending one.
    pub fn restore(settings: Settings, state: PersistedState) -> Tracker {
        let PersistedState {
            mut delivered,
            mut ack_floor,
            mut pending,
            mut redelivered,
        } = state;
        if settings.mode == AckMode::None {
            pending.clear();
        }
        redelivered.retain(|_, n| *n > 0);
        ack_floor.consumer_seq = ack_floor.consumer_seq.min(delivered.consumer_seq);
        ack_floor.stream_seq = ack_floor.stream_seq.min(delivered.stream_seq);
        pending = pending.split_off(&(ack_floor.stream_seq.saturating_add(1)));
        if let Some((&last, _)) = pending.last_key_value() {
            delivered.stream_seq = delivered.stream_seq.max(last);
        }
        if let Some(max_cseq) = pending.values().map(|p| p.consumer_seq).max() {
            delivered.consumer_seq = delivered.consumer_seq.max(max_cseq);
        }
        let mut t = Tracker {
            settings,
            delivered,
            ack_floor,
            next_seq: delivered.stream_seq.saturating_add(1),
            pending,
            redelivered,
            queue: RedeliveryQueue::default(),
            deadlines: Deadlines::default(),
            last_delivered_at: None,
            last_acked_at: None,
            generation: 0,
        };
        t.reschedule_all();
        t
    }

    /// Apply a configuration change (ack wait, backoff, limits): deadlines are
    /// recomputed from the stored timestamps.
    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
        if self.settings.mode == AckMode::None && !self.pending.is_empty() {
            self.pending.clear();
            self.queue.clear();
            self.touch();
        }
        self.reschedule_all();
    }

    /// The configuration in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    // ---- new messages ------------------------------------------------------------

    /// The stream sequence to scan from for the next new message.
    pub fn next_new_stream_seq(&self) -> u64 {
        self.next_seq
    }

    /// Move the scan position forward to `stream_seq` (nothing matching below it, or
    /// the end of the stream was reached). Not persisted, as in Go for R1.
    pub fn skip_to(&mut self, stream_seq: u64) {
        self.next_seq = self.next_seq.max(stream_seq);
    }

    /// Whether a new message may be delivered: false while `max_ack_pending`
    /// messages are pending. Redeliveries are not subject to it.
    pub fn can_deliver(&self) -> bool {
        self.settings.mode == AckMode::None
            || self.settings.max_ack_pending <= 0
            || (self.pending.len() as u64) < self.settings.max_ack_pending as u64
    }

    // ---- deliveries --------------------------------------------------------------

    /// The next redelivery due, or a message that would exceed `max_deliver` (Go's
    /// `getNextMsg` redelivery loop). A `Due` message stays pending; deliver it with
    /// [`Tracker::deliver`] (`redelivery = true`) or put it back with
    /// [`Tracker::requeue`]. If neither happens it is redelivered again after its
    /// wait.
    pub fn pop_redelivery(&mut self, now: i64) -> Option<Redelivery> {
        while let Some(seq) = self.queue.pop_front() {
            if !self.pending.contains_key(&seq) {
                continue;
            }
            let redeliveries = self.redeliveries(seq);
            // The count this redelivery would get.
            let count = redeliveries.saturating_add(2);
            let max = self.max_deliver();
            if max > 0 && count > max {
                // Go counts the attempt, drops it from pending and leaves the floor
                // where it is (the store does; see the module docs).
                self.forget_pending(seq);
                self.redelivered.insert(seq, redeliveries.saturating_add(1));
                self.last_delivered_at = Some(now);
                self.touch();
                if count == max.saturating_add(1) {
                    return Some(Redelivery::Exceeded {
                        stream_seq: seq,
                        deliveries: count - 1,
                    });
                }
                continue;
            }
            // Back under a deadline until it is delivered, so it cannot get lost.
            self.reschedule(seq);
            return Some(Redelivery::Due { stream_seq: seq });
        }
        None
    }

    /// Put a redelivery that could not be sent back at the head of the queue; its
    /// delivery count is unchanged.
    pub fn requeue(&mut self, stream_seq: u64) {
        if self.pending.contains_key(&stream_seq) {
            self.queue.push_front(stream_seq);
            self.deadlines.remove(stream_seq);
        }
    }

    /// What [`Tracker::deliver`] would return for the same arguments, without
    /// recording anything (the ack reply subject is built before sending).
    pub fn peek_delivery(&self, stream_seq: u64, redelivery: bool) -> Delivered {
        Delivered {
            consumer_seq: self.delivered.consumer_seq.saturating_add(1),
            delivery_count: self.delivery_count_for(stream_seq, redelivery),
        }
    }

    /// Record a delivery of `stream_seq` at `now`: it gets the next consumer
    /// sequence (redeliveries too), starts (or restarts) its ack wait and, for a
    /// redelivery, counts one more delivery. A new message moves the scan position
    /// past it. With `AckMode::None` nothing becomes pending and the floor follows.
    /// `max_ack_pending` is the caller's to check ([`Tracker::can_deliver`]).
    /// A redelivery of a message acked meanwhile is not tracked again (Go's store
    /// does not either).
    pub fn deliver(&mut self, stream_seq: u64, now: i64, redelivery: bool) -> Delivered {
        let delivery_count = self.delivery_count_for(stream_seq, redelivery);
        let consumer_seq = self.delivered.consumer_seq.saturating_add(1);
        self.delivered.consumer_seq = consumer_seq;
        self.delivered.stream_seq = self.delivered.stream_seq.max(stream_seq);
        if !redelivery && stream_seq >= self.next_seq {
            self.next_seq = stream_seq.saturating_add(1);
        }
        self.last_delivered_at = Some(now);
        if self.settings.mode == AckMode::None {
            self.ack_floor = self.delivered;
        } else {
            self.queue.remove(stream_seq);
            if let Some(p) = self.pending.get_mut(&stream_seq) {
                // Keep the first delivery's consumer sequence: the floor uses it.
                p.timestamp_ns = now;
                if redelivery {
                    self.redelivered
                        .insert(stream_seq, delivery_count.saturating_sub(1));
                }
            } else if !redelivery && stream_seq > self.ack_floor.stream_seq {
                self.pending.insert(
                    stream_seq,
                    Pending {
                        consumer_seq,
                        timestamp_ns: now,
                    },
                );
            }
            self.reschedule(stream_seq);
        }
        self.touch();
        Delivered {
            consumer_seq,
            delivery_count,
        }
    }

    // ---- acks --------------------------------------------------------------------

    /// `+ACK` (also `+NXT`, and an empty or `+OK` body) for the delivery of
    /// `stream_seq` that had consumer sequence `consumer_seq` (Go's
    /// `processAckMsg`). An ack of an older delivery of a still-pending message acks
    /// it. With `AckMode::All` every pending message up to `stream_seq` is acked and
    /// the floor becomes `(consumer_seq, stream_seq)` exactly as the reply said.
    pub fn ack(&mut self, stream_seq: u64, consumer_seq: u64, now: i64) -> AckOutcome {
        // Go checks the sequence before the ack policy.
        if stream_seq >= self.next_seq {
            return AckOutcome::status(AckStatus::NotDelivered);
        }
        match self.settings.mode {
            AckMode::None => AckOutcome::status(AckStatus::NoAck),
            AckMode::Explicit => self.ack_explicit(stream_seq, now),
            AckMode::All => self.ack_all(stream_seq, consumer_seq, now),
        }
    }

    /// `+TERM`: taken exactly as an ack, so the message is never redelivered (Go's
    /// `processTerm`). Go publishes the `MSG_TERMINATED` advisory for every `+TERM`,
    /// whatever the outcome.
    pub fn term(&mut self, stream_seq: u64, consumer_seq: u64, now: i64) -> AckOutcome {
        self.ack(stream_seq, consumer_seq, now)
    }

    /// `-NAK` (Go's `processNak`): without a delay the message is due for
    /// redelivery now; with one (any parsed duration, 0 and negative included) it
    /// is due once `delay_ns` has passed *plus* whatever its wait exceeds
    /// `ack_wait` by (Go sets the timestamp to `now - ack_wait + delay`, so with a
    /// backoff the delay adds to `backoff[n] - backoff[0]`). False (and no NAK
    /// advisory in Go) when the consumer sequence is out of range or the message is
    /// not pending.
    pub fn nak(
        &mut self,
        stream_seq: u64,
        consumer_seq: u64,
        delay_ns: Option<i64>,
        now: i64,
    ) -> bool {
        if consumer_seq <= self.ack_floor.consumer_seq
            || consumer_seq > self.delivered.consumer_seq.saturating_add(1)
        {
            return false;
        }
        if !self.pending.contains_key(&stream_seq) {
            return false;
        }
        match delay_ns {
            Some(delay) => {
                self.queue.remove(stream_seq);
                let ts = now
                    .saturating_sub(self.settings.ack_wait_ns)
                    .saturating_add(delay);
                if let Some(p) = self.pending.get_mut(&stream_seq) {
                    p.timestamp_ns = ts;
                }
                self.last_delivered_at = Some(now);
                self.reschedule(stream_seq);
                self.touch();
            }
            None => {
                if self.queue.push_back(stream_seq) {
                    self.deadlines.remove(stream_seq);
                }
            }
        }
        true
    }

    /// `+WPI`: restart the ack wait of a pending message (Go's `progressUpdate`).
    /// A message already queued for redelivery stays queued, as in Go. False when it
    /// is not pending.
    pub fn progress(&mut self, stream_seq: u64, now: i64) -> bool {
        let Some(p) = self.pending.get_mut(&stream_seq) else {
            return false;
        };
        p.timestamp_ns = now;
        self.last_delivered_at = Some(now);
        self.reschedule(stream_seq);
        self.touch();
        true
    }

    // ---- timers ------------------------------------------------------------------

    /// Queue every pending message whose wait has passed for redelivery, in stream
    /// order (Go's `checkPending`). The wait after the n-th delivery is
    /// `backoff[min(n - 1, len - 1)]`, else `ack_wait`. A message found to have had
    /// its deliveries already (Go's `hasMaxDeliveries`; with `max_deliver = 1` this
    /// is where it happens) leaves the pending set without being queued and is
    /// returned for the `MAX_DELIVERIES` advisory. Like Go, the queued messages'
    /// timestamps are shifted so that the first becomes `now`, keeping their order.
    #[must_use = "publish a MAX_DELIVERIES advisory for each"]
    pub fn expire(&mut self, now: i64) -> Vec<Exceeded> {
        let mut due = Vec::new();
        let mut exceeded = Vec::new();
        while let Some((at, seq)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(seq);
            if let Some(e) = self.check_max_deliveries(seq, now) {
                exceeded.extend(e);
                continue;
            }
            due.push(seq);
        }
        if !due.is_empty() {
            due.sort_unstable();
            let first_ts = self.pending.get(&due[0]).map_or(now, |p| p.timestamp_ns);
            let offset = now.saturating_sub(first_ts);
            for &seq in &due {
                if let Some(p) = self.pending.get_mut(&seq) {
                    p.timestamp_ns = p.timestamp_ns.saturating_add(offset);
                }
                self.queue.push_back(seq);
            }
            self.touch();
        }
        exceeded.sort_unstable_by_key(|e| e.stream_seq);
        exceeded
    }

    /// The earliest ack deadline of a pending message not already queued for
    /// redelivery (call [`Tracker::expire`] then). Queued messages are due now: see
    /// [`Tracker::num_redeliveries`].
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|(at, _)| at)
    }

    /// The latest ack deadline of any pending message (Go waits for it before
    /// counting a pull consumer's inactivity threshold). O(pending).
    pub fn latest_deadline(&self) -> Option<i64> {
        self.pending
            .iter()
            .filter_map(|(&seq, p)| {
                self.wait_for(self.redeliveries(seq))
                    .map(|w| p.timestamp_ns.saturating_add(w))
            })
            .max()
    }

    // ---- the stream changed ----------------------------------------------------

    /// `stream_seq` is no longer in the stream (deleted, expired, or found missing
    /// when loading a redelivery; Go's `decStreamPending`). A pending message is
    /// terminated as by `+TERM` and returned for the advisory; otherwise only its
    /// redelivery count is forgotten.
    pub fn stream_removed(&mut self, stream_seq: u64, now: i64) -> Option<Terminated> {
        if let Some(p) = self.pending.get(&stream_seq).copied() {
            let deliveries = self.delivery_count(stream_seq);
            let out = self.ack(stream_seq, p.consumer_seq, now);
            if self.forget_pending(stream_seq).is_some() {
                // An `All` ack below the floor's consumer sequence (Go's quirk, see
                // `ack_all`) takes nothing; the message is gone all the same.
                self.redelivered.remove(&stream_seq);
                self.touch();
            }
            let acked = out.acked.into_iter().filter(|&s| s != stream_seq).collect();
            return Some(Terminated {
                consumer_seq: p.consumer_seq,
                deliveries,
                acked,
            });
        }
        self.queue.remove(stream_seq);
        if self.redelivered.remove(&stream_seq).is_some() {
            self.last_acked_at = Some(now);
            self.touch();
        }
        None
    }

    /// `CONSUMER.RESET` (Go's `resetLocalStartingSeq`): start over at `stream_seq`
    /// as a new consumer would — nothing pending, no redelivery counts, delivered
    /// and floor at `(0, stream_seq - 1)`, the next delivery is consumer sequence 1.
    pub fn reset_to(&mut self, stream_seq: u64) {
        let generation = self.generation;
        *self = Tracker::new(self.settings.clone(), stream_seq);
        self.generation = generation;
        self.touch();
    }

    /// The stream was purged and now starts at `first_seq` (last + 1 when empty;
    /// Go's `consumer.purge`): the scan moves up to it, pending messages below it
    /// are dropped with the floor moved over them, and when nothing is pending any
    /// more both floor and `delivered` move to the scan position − 1.
    pub fn purged(&mut self, first_seq: u64, now: i64) {
        let first = first_seq.max(1);
        let before = (
            self.delivered,
            self.ack_floor,
            self.pending.len(),
            self.redelivered.len(),
        );
        self.next_seq = self.next_seq.max(first);
        if self.ack_floor.stream_seq < first {
            self.ack_floor.stream_seq = first - 1;
            let keep = self.pending.split_off(&first);
            let gone = std::mem::replace(&mut self.pending, keep);
            for (seq, p) in gone {
                self.ack_floor.consumer_seq = self.ack_floor.consumer_seq.max(p.consumer_seq);
                self.deadlines.remove(seq);
                self.queue.remove(seq);
                self.last_acked_at = Some(now);
            }
        }
        // Go's checkRedelivered: counts of messages gone from the stream go too.
        let kept = self.redelivered.split_off(&first);
        self.redelivered = kept;
        self.delivered.stream_seq = self.delivered.stream_seq.max(self.next_seq - 1);
        if self.pending.is_empty() {
            self.ack_floor = SeqPair {
                consumer_seq: self.delivered.consumer_seq,
                stream_seq: self.next_seq - 1,
            };
        }
        let after = (
            self.delivered,
            self.ack_floor,
            self.pending.len(),
            self.redelivered.len(),
        );
        if after != before {
            self.touch();
        }
    }

    // ---- questions -------------------------------------------------------------

    /// Whether this consumer still needs `stream_seq` (interest and work-queue
    /// retention; Go's `needAck`, subject filtering left to the caller): above the
    /// floor and not acked (for `Explicit`: pending, or not delivered yet), or past
    /// `max_deliver` and never acked.
    pub fn needs(&self, stream_seq: u64) -> bool {
        let above = stream_seq > self.ack_floor.stream_seq;
        let need = match self.settings.mode {
            AckMode::None | AckMode::All => above,
            AckMode::Explicit => {
                above && (stream_seq >= self.next_seq || self.pending.contains_key(&stream_seq))
            }
        };
        need || self.redelivered.contains_key(&stream_seq)
    }

    /// The last delivery (`ConsumerInfo.delivered`).
    pub fn delivered(&self) -> SeqPair {
        self.delivered
    }

    /// `ConsumerInfo.ack_floor`.
    pub fn ack_floor(&self) -> SeqPair {
        self.ack_floor
    }

    /// The scan position − 1: the idle heartbeat's `Nats-Last-Stream`.
    pub fn last_delivered_stream_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// `ConsumerInfo.num_ack_pending`.
    pub fn num_ack_pending(&self) -> usize {
        self.pending.len()
    }

    /// `ConsumerInfo.num_redelivered`: messages delivered more than once that are
    /// not acked yet (past `max_deliver` included); Go reports 0 when
    /// `max_deliver` is 1.
    pub fn num_redelivered(&self) -> usize {
        if self.settings.max_deliver == 1 {
            0
        } else {
            self.redelivered.len()
        }
    }

    /// Messages queued for redelivery now (available to a `no_wait` pull).
    pub fn num_redeliveries(&self) -> usize {
        self.queue.len()
    }

    /// When the ack wait of a pending `stream_seq` started (its last delivery, or
    /// what a nak or `+WPI` set), for the ack metric's delay.
    pub fn pending_since(&self, stream_seq: u64) -> Option<i64> {
        self.pending.get(&stream_seq).map(|p| p.timestamp_ns)
    }

    /// Whether `stream_seq` is delivered and waiting for its ack.
    pub fn is_pending(&self, stream_seq: u64) -> bool {
        self.pending.contains_key(&stream_seq)
    }

    /// Times `stream_seq` has been delivered so far, as far as the tracker knows
    /// (1 for a message delivered once or never).
    pub fn delivery_count(&self, stream_seq: u64) -> u64 {
        self.redeliveries(stream_seq).saturating_add(1)
    }

    /// `ConsumerInfo.delivered.last_active` (Go's `ldt`; not persisted).
    pub fn last_delivered_at(&self) -> Option<i64> {
        self.last_delivered_at
    }

    /// `ConsumerInfo.ack_floor.last_active` (Go's `lat`; not persisted).
    pub fn last_acked_at(&self) -> Option<i64> {
        self.last_acked_at
    }

    /// Changes with every change to the persisted state: write the state when it
    /// differs from the generation last written.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A copy of the persisted state.
    pub fn snapshot(&self) -> PersistedState {
        PersistedState {
            delivered: self.delivered,
            ack_floor: self.ack_floor,
            pending: self.pending.clone(),
            redelivered: self.redelivered.clone(),
        }
    }

    /// `encode(&self.snapshot())` without the copy.
    pub fn encoded(&self) -> Vec<u8> {
        encode_parts(
            self.delivered,
            self.ack_floor,
            &self.pending,
            &self.redelivered,
        )
    }

    // ---- internals ---------------------------------------------------------------

    fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    fn max_deliver(&self) -> u64 {
        self.settings.max_deliver.max(0) as u64
    }

    fn redeliveries(&self, seq: u64) -> u64 {
        self.redelivered.get(&seq).copied().unwrap_or(0)
    }

    /// The delivery count [`Tracker::deliver`] gives, without recording it.
    fn delivery_count_for(&self, seq: u64, redelivery: bool) -> u64 {
        if self.settings.mode == AckMode::None {
            1
        } else if !self.pending.contains_key(&seq) {
            if redelivery {
                self.redeliveries(seq).saturating_add(1)
            } else {
                1
            }
        } else if redelivery {
            self.redeliveries(seq).saturating_add(2)
        } else {
            1
        }
    }

    /// How long a message redelivered `redeliveries` times waits for its ack; None
    /// when redelivery is off.
    fn wait_for(&self, redeliveries: u64) -> Option<i64> {
        if self.settings.mode == AckMode::None {
            return None;
        }
        let b = &self.settings.backoff_ns;
        if !b.is_empty() {
            let i = usize::try_from(redeliveries)
                .unwrap_or(usize::MAX)
                .min(b.len() - 1);
            return Some(b[i]);
        }
        (self.settings.ack_wait_ns > 0).then_some(self.settings.ack_wait_ns)
    }

    /// Put `seq` under the deadline it has now (pending, not queued), or under none.
    fn reschedule(&mut self, seq: u64) {
        self.deadlines.remove(seq);
        if self.queue.contains(seq) {
            return;
        }
        let Some(p) = self.pending.get(&seq) else {
            return;
        };
        if let Some(w) = self.wait_for(self.redeliveries(seq)) {
            let at = p.timestamp_ns.saturating_add(w);
            self.deadlines.insert(seq, at);
        }
    }

    fn reschedule_all(&mut self) {
        self.deadlines = Deadlines::default();
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        for seq in seqs {
            self.reschedule(seq);
        }
    }

    /// Drop `seq` from pending, the queue and the deadlines.
    fn forget_pending(&mut self, seq: u64) -> Option<Pending> {
        self.deadlines.remove(seq);
        self.queue.remove(seq);
        self.pending.remove(&seq)
    }

    /// Go's `hasMaxDeliveries`, run when a wait expires. Go compares `max(rdc, 1)`
    /// (redeliveries, not deliveries) with `max_deliver`, so for `max_deliver >= 2`
    /// this only fires after `max_deliver` was lowered; normally `pop_redelivery`
    /// catches it. Returns Some (with the advisory when Go sends one) when the
    /// message left the pending set.
    fn check_max_deliveries(&mut self, seq: u64, now: i64) -> Option<Option<Exceeded>> {
        let max = self.max_deliver();
        if max == 0 {
            return None;
        }
        let count = self.redeliveries(seq).max(1);
        if count < max {
            return None;
        }
        self.forget_pending(seq);
        self.redelivered.insert(seq, count);
        self.last_delivered_at = Some(now);
        self.touch();
        Some((count == max).then_some(Exceeded {
            stream_seq: seq,
            deliveries: count,
        }))
    }

    fn ack_explicit(&mut self, seq: u64, now: i64) -> AckOutcome {
        self.last_acked_at = Some(now);
        let Some(p) = self.forget_pending(seq) else {
            // Go deletes the redelivery count regardless: a message past
            // max_deliver is released by a late ack.
            if self.redelivered.remove(&seq).is_some() {
                self.touch();
                return AckOutcome {
                    status: AckStatus::NotPending,
                    acked: vec![seq],
                };
            }
            return AckOutcome::status(AckStatus::NotPending);
        };
        self.redelivered.remove(&seq);
        self.move_floor(p.consumer_seq, seq);
        self.touch();
        AckOutcome {
            status: AckStatus::Acked,
            acked: vec![seq],
        }
    }

    /// The store's `UpdateAcks` floor rule for an explicit ack of `(cseq, seq)`:
    /// nothing pending → the floor is `delivered`; the ack is the one right above
    /// the floor → the floor moves to just below the next pending message.
    fn move_floor(&mut self, cseq: u64, seq: u64) {
        if self.pending.is_empty() {
            self.ack_floor = self.delivered;
            return;
        }
        if cseq != self.ack_floor.consumer_seq.saturating_add(1) {
            return;
        }
        self.ack_floor = SeqPair {
            consumer_seq: cseq,
            stream_seq: seq,
        };
        if self.delivered.consumer_seq > cseq {
            let upper = self.delivered.stream_seq;
            if seq < upper {
                if let Some((&next, p)) = self.pending.range(seq + 1..=upper).next() {
                    if p.consumer_seq > 0 {
                        self.ack_floor = SeqPair {
                            consumer_seq: p.consumer_seq - 1,
                            stream_seq: next - 1,
                        };
                    }
                }
            }
        }
        // Never let the floor pass a pending message (only possible if deliveries
        // were made out of stream order).
        if let Some((&lowest, p)) = self.pending.first_key_value() {
            if self.ack_floor.stream_seq >= lowest {
                self.ack_floor = SeqPair {
                    consumer_seq: self
                        .ack_floor
                        .consumer_seq
                        .min(p.consumer_seq.saturating_sub(1)),
                    stream_seq: lowest - 1,
                };
            }
        }
    }

    fn ack_all(&mut self, seq: u64, cseq: u64, now: i64) -> AckOutcome {
        if cseq <= self.ack_floor.consumer_seq || seq <= self.ack_floor.stream_seq {
            return AckOutcome::status(AckStatus::NotPending);
        }
        if seq > self.delivered.stream_seq {
            // Scanned past but never delivered (a filtered consumer's gap): Go's
            // store ignores it.
            return AckOutcome::status(AckStatus::NotPending);
        }
        self.last_acked_at = Some(now);
        // Go takes the reply's consumer sequence as is (it may be a redelivery's,
        // above pending messages' first ones); capped so the floor never passes
        // `delivered`.
        self.ack_floor = SeqPair {
            consumer_seq: cseq.min(self.delivered.consumer_seq),
            stream_seq: seq,
        };
        let keep = self.pending.split_off(&(seq + 1));
        let gone = std::mem::replace(&mut self.pending, keep);
        let mut acked: BTreeSet<u64> = BTreeSet::new();
        acked.insert(seq);
        for s in gone.into_keys() {
            self.deadlines.remove(s);
            self.queue.remove(s);
            acked.insert(s);
        }
        let keep = self.redelivered.split_off(&(seq + 1));
        let gone = std::mem::replace(&mut self.redelivered, keep);
        acked.extend(gone.into_keys());
        self.touch();
        AckOutcome {
            status: AckStatus::Acked,
            acked: acked.into_iter().collect(),
        }
    }
}

/// The redelivery queue: Go's `rdq` (an ordered list) with its membership index.
/// Removal is lazy (a stale entry's token no longer matches) so that an ack in the
/// middle of a long queue is O(log n).
#[derive(Debug, Clone, Default)]
struct RedeliveryQueue {
    /// Entries in delivery order: (stream seq, token).
    order: VecDeque<(u64, u64)>,
    /// Stream seq → token of its live entry in `order`.
    live: BTreeMap<u64, u64>,
    /// Next token to hand out.
    next_token: u64,
}

impl RedeliveryQueue {
    fn contains(&self, seq: u64) -> bool {
        self.live.contains_key(&seq)
    }

    fn len(&self) -> usize {
        self.live.len()
    }

    fn token(&mut self) -> u64 {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    /// Append unless already queued; true when appended.
    fn push_back(&mut self, seq: u64) -> bool {
        if self.contains(seq) {
            return false;
        }
        let t = self.token();
        self.live.insert(seq, t);
        self.order.push_back((seq, t));
        true
    }

    /// Put at the head (moving it there if queued elsewhere).
    fn push_front(&mut self, seq: u64) {
        let t = self.token();
        self.live.insert(seq, t);
        self.order.push_front((seq, t));
        self.compact();
    }

    fn remove(&mut self, seq: u64) -> bool {
        let removed = self.live.remove(&seq).is_some();
        if removed {
            self.compact();
        }
        removed
    }

    fn pop_front(&mut self) -> Option<u64> {
        while let Some((seq, t)) = self.order.pop_front() {
            if self.live.get(&seq) == Some(&t) {
                self.live.remove(&seq);
                return Some(seq);
            }
        }
        None
    }

    fn clear(&mut self) {
        self.order.clear();
        self.live.clear();
    }

    /// Drop stale entries once they outnumber the live ones.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.live.len() + 64 {
            let live = &self.live;
            self.order.retain(|(s, t)| live.get(s) == Some(t));
        }
    }

    #[cfg(test)]
    fn live_in_order(&self) -> Vec<u64> {
        self.order
            .iter()
            .filter(|(s, t)| self.live.get(s) == Some(t))
            .map(|(s, _)| *s)
            .collect()
    }
}

/// Ack deadlines of the pending messages not on the redelivery queue, earliest
/// first.
#[derive(Debug, Clone, Default)]
struct Deadlines {
    /// (deadline, stream seq), ordered.
    by_time: BTreeSet<(i64, u64)>,
    /// Stream seq → its deadline, to find the entry again. Only looked up by key,
    /// so its iteration order never matters (determinism holds).
    of: std::collections::HashMap<u64, i64, foldhash::fast::FixedState>,
}

impl Deadlines {
    fn insert(&mut self, seq: u64, at: i64) {
        self.remove(seq);
        self.of.insert(seq, at);
        self.by_time.insert((at, seq));
    }

    fn remove(&mut self, seq: u64) {
        if let Some(at) = self.of.remove(&seq) {
            self.by_time.remove(&(at, seq));
        }
    }

    fn first(&self) -> Option<(i64, u64)> {
        self.by_time.first().copied()
    }
}

// ---- encoding ------------------------------------------------------------------

/// First byte of an encoded state (Go's consumer state uses 22; this format is
/// jetcore's own).
const MAGIC: u8 = 0xC5;

/// Format version.
const VERSION: u8 = 1;

/// Why a state could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Shorter than the header.
    #[error("consumer state too short")]
    TooShort,
    /// The first byte is not [`MAGIC`].
    #[error("not a consumer state (magic {0:#04x})")]
    BadMagic(u8),
    /// A version this build does not know.
    #[error("unsupported consumer state version {0}")]
    UnsupportedVersion(u8),
    /// Ended in the middle of a value.
    #[error("consumer state truncated")]
    Truncated,
    /// A varint longer than 64 bits.
    #[error("consumer state has an overlong number")]
    Overflow,
    /// Values that cannot belong together.
    #[error("consumer state inconsistent: {0}")]
    Inconsistent(&'static str),
    /// Bytes after the end of the state.
    #[error("consumer state has {0} trailing bytes")]
    Trailing(usize),
}

/// The compact binary form of a state:
///
/// ```text
/// MAGIC VERSION
/// uvarint ack_floor.consumer  uvarint ack_floor.stream
/// uvarint delivered.consumer - ack_floor.consumer
/// uvarint delivered.stream - ack_floor.stream
/// uvarint #pending, then per entry, by stream seq:
///     uvarint seq - previous seq (the first from ack_floor.stream)
///     uvarint consumer seq
///     zigzag varint timestamp - previous timestamp (the first from 0), ns
/// uvarint #redelivered, then per entry, by stream seq:
///     uvarint seq - previous seq (the first from 0)   uvarint count
/// ```
///
/// The storage layer adds the checksum.
pub fn encode(state: &PersistedState) -> Vec<u8> {
    encode_parts(
        state.delivered,
        state.ack_floor,
        &state.pending,
        &state.redelivered,
    )
}

fn encode_parts(
    delivered: SeqPair,
    floor: SeqPair,
    pending: &BTreeMap<u64, Pending>,
    redelivered: &BTreeMap<u64, u64>,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + pending.len() * 12 + redelivered.len() * 4);
    b.push(MAGIC);
    b.push(VERSION);
    put_uvarint(&mut b, floor.consumer_seq);
    put_uvarint(&mut b, floor.stream_seq);
    // The tracker keeps floor <= delivered; a hand-made state that does not is
    // written clamped rather than wrapped.
    put_uvarint(
        &mut b,
        delivered.consumer_seq.saturating_sub(floor.consumer_seq),
    );
    put_uvarint(
        &mut b,
        delivered.stream_seq.saturating_sub(floor.stream_seq),
    );
    put_uvarint(&mut b, pending.len() as u64);
    let mut prev_seq = floor.stream_seq;
    let mut prev_ts = 0i64;
    for (&seq, p) in pending {
        put_uvarint(&mut b, seq.wrapping_sub(prev_seq));
        put_uvarint(&mut b, p.consumer_seq);
        put_uvarint(&mut b, zigzag(p.timestamp_ns.wrapping_sub(prev_ts)));
        prev_seq = seq;
        prev_ts = p.timestamp_ns;
    }
    put_uvarint(&mut b, redelivered.len() as u64);
    let mut prev_seq = 0u64;
    for (&seq, &n) in redelivered {
        put_uvarint(&mut b, seq - prev_seq);
        put_uvarint(&mut b, n);
        prev_seq = seq;
    }
    b
}

/// Parse [`encode`]'s output. Rejects anything malformed or inconsistent (floor
/// above `delivered`, pending outside `(floor, delivered]`, consumer sequences
/// outside `1..=delivered`, zero counts, trailing bytes) without panicking.
pub fn decode(buf: &[u8]) -> Result<PersistedState, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::TooShort);
    }
    if buf[0] != MAGIC {
        return Err(DecodeError::BadMagic(buf[0]));
    }
    if buf[1] != VERSION {
        return Err(DecodeError::UnsupportedVersion(buf[1]));
    }
    let mut r = Reader { buf, pos: 2 };
    let floor = SeqPair {
        consumer_seq: r.uvarint()?,
        stream_seq: r.uvarint()?,
    };
    let delivered = SeqPair {
        consumer_seq: floor
            .consumer_seq
            .checked_add(r.uvarint()?)
            .ok_or(DecodeError::Inconsistent("delivered consumer sequence"))?,
        stream_seq: floor
            .stream_seq
            .checked_add(r.uvarint()?)
            .ok_or(DecodeError::Inconsistent("delivered stream sequence"))?,
    };
    let n = r.count()?;
    let mut pending = BTreeMap::new();
    let mut seq = floor.stream_seq;
    let mut ts = 0i64;
    for _ in 0..n {
        let d = r.uvarint()?;
        if d == 0 {
            return Err(DecodeError::Inconsistent("pending sequences not ascending"));
        }
        seq = seq
            .checked_add(d)
            .filter(|&s| s <= delivered.stream_seq)
            .ok_or(DecodeError::Inconsistent("pending above delivered"))?;
        let cseq = r.uvarint()?;
        if cseq == 0 || cseq > delivered.consumer_seq {
            return Err(DecodeError::Inconsistent("pending consumer sequence"));
        }
        ts = ts
            .checked_add(unzigzag(r.uvarint()?))
            .ok_or(DecodeError::Inconsistent("pending timestamp"))?;
        pending.insert(
            seq,
            Pending {
                consumer_seq: cseq,
                timestamp_ns: ts,
            },
        );
    }
    let n = r.count()?;
    let mut redelivered = BTreeMap::new();
    let mut seq = 0u64;
    for _ in 0..n {
        let d = r.uvarint()?;
        if d == 0 {
            return Err(DecodeError::Inconsistent(
                "redelivered sequences not ascending",
            ));
        }
        seq = seq
            .checked_add(d)
            .ok_or(DecodeError::Inconsistent("redelivered sequence"))?;
        let count = r.uvarint()?;
        if count == 0 {
            return Err(DecodeError::Inconsistent("redelivered count 0"));
        }
        redelivered.insert(seq, count);
    }
    if r.pos != buf.len() {
        return Err(DecodeError::Trailing(buf.len() - r.pos));
    }
    Ok(PersistedState {
        delivered,
        ack_floor: floor,
        pending,
        redelivered,
    })
}

fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A cursor over an encoded state.
struct Reader<'a> {
    /// The whole encoding.
    buf: &'a [u8],
    /// Next byte to read.
    pos: usize,
}

impl Reader<'_> {
    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(DecodeError::Truncated);
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(DecodeError::Overflow);
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Overflow)
    }

    /// An entry count; each entry takes at least two bytes, so a count the rest of
    /// the buffer cannot hold is rejected before looping over it.
    fn count(&mut self) -> Result<u64, DecodeError> {
        let n = self.uvarint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n > left / 2 {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }
}

#[cfg(test)]
#[path = "consumer_state_tests.rs"]
mod tests;
