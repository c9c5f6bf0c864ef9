//! One consumer, on the core that owns its stream.
//!
//! A consumer is three internal subscriptions and one delivery task:
//! - `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`: pull requests, queued in
//!   `waiting` (Go's waiting queue: batch, max_bytes, expires, no_wait, heartbeats);
//! - `$JS.ACK.<stream>.<consumer>.>` (v1, and the v2 form): acks, naks, progress,
//!   terms and `+NXT`, applied to the [`Tracker`] (the pure ack state machine);
//! - `$JS.FC.<stream>.<consumer>.*`: flow-control replies of push consumers.
//!
//! The delivery task loops: expire what is due (ack waits, pull requests), pick
//! the next message (a due redelivery first, then the next new stream message
//! that matches the filters), and send it to the pull request at the head of the
//! queue or to the deliver subject. It sleeps on one [`Notify`] (new message,
//! request, ack, interest) or until the earliest deadline.
//!
//! Everything runs on the stream's core, so the tracker and the store are only
//! touched by one thread. The tracker's state is written through a
//! [`ConsumerStateFile`] after every change; an ack that asked for a reply (double
//! ack) is answered only once the state that contains it is durable.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::Duration;

use bytes::Bytes;
use jetcore_router::notify::Notify;
use jetcore_storage::{now_nanos, ConsumerFileConfig, ConsumerStateFile, StoredMessage};
use serde::{Deserialize, Serialize};

use super::consumer_api::{self as capi, AckKind, NextRequest};
use super::consumer_config::{
    AckPolicy, ConsumerConfig, DeliverPolicy, PriorityPolicy, ReplayPolicy,
};
use super::consumer_state::{self as cstate, AckMode, Tracker};
use super::errors::ApiError;
use super::gotime::GoTime;
use super::pull_queue::{self as pq, PriorityAsk, PullQueue, PullRequest};
use super::runtime::JsConfig;
use super::stream::Stream;
use crate::client::{InboxLimit, InternalInbox, InternalMsg, Subscription};
use crate::shard::Shard;

/// Name of a consumer's metadata file in its directory.
pub const CONSUMER_META_FILE: &str = "meta.json";

/// Subdirectory of a stream's directory holding its consumers (Go's layout).
pub const CONSUMERS_DIR: &str = "obs";

/// Pull requests and acks waiting for the consumer's task. Past it, publishers of
/// acks wait (local) or the router holds them (remote); nothing is dropped.
const CONSUMER_INBOX_LIMIT: InboxLimit = InboxLimit {
    msgs: 1_000_000,
    bytes: 256 * 1024 * 1024,
};

/// Messages delivered in one turn of the delivery task before it lets other tasks
/// run: long enough to amortise the wake-up, short enough to keep acks flowing.
const DELIVERY_BURST: usize = 256;

/// How often a push consumer without interest looks again (Go is told by the
/// subscription layer; polling keeps the router free of callbacks).
const INTEREST_POLL: Duration = Duration::from_millis(50);

/// The flow-control window a push consumer starts with and the most it grows to
/// (Go: `JsFlowControlMaxPending`, starting at 1/16 of it and doubling on every
/// answered request).
const FLOW_CONTROL_MAX_PENDING: u64 = 32 * 1024 * 1024;

/// How long state changes may wait before they are written (acks without a reply
/// and deliveries). A crash within it redelivers, which NATS allows; an ack that
/// asked for a reply is written and made durable before it is answered.
const STATE_FLUSH_INTERVAL: Duration = Duration::from_millis(25);

/// What a consumer keeps on disk beside its state: enough to bring it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerMeta {
    /// Its name.
    pub name: String,
    /// Its configuration as last accepted.
    pub config: ConsumerConfig,
    /// When it was created.
    pub created: GoTime,
}

/// The consumer's settings derived from its config, so the hot path does not
/// re-read JSON-shaped fields.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// Filter subjects; empty = every subject of the stream.
    filters: Rc<[Bytes]>,
    /// Deliver subject of a push consumer.
    deliver_subject: Option<Bytes>,
    /// Strip payloads, add `Nats-Msg-Size`.
    headers_only: bool,
    /// Replay with the original timing.
    replay_original: bool,
    /// Push rate limit in bits per second (0 = none).
    rate_limit_bps: u64,
    /// Push flow control.
    flow_control: bool,
    /// Push idle heartbeat (ns, 0 = none).
    idle_heartbeat: i64,
    /// Pull: most waiting requests.
    max_waiting: usize,
    /// Delete after this long without interest (ns, 0 = never).
    inactive_threshold: i64,
    /// Ack policy none.
    ack_none: bool,
    /// Deliveries wait until then (Unix ns, 0 = not paused).
    pause_until: i64,
    /// Percentage of explicit acks reported on the ack metric subject (Go's
    /// `sample_freq`; 0 = none).
    sample_freq: i32,
    /// Ack policy explicit (the only one Go samples).
    ack_explicit: bool,
    /// Pull: the priority-group policy.
    priority_policy: PriorityPolicy,
    /// Pinned client: how long a pin lasts without a request renewing it (ns).
    pin_ttl: i64,
}

impl Plan {
    fn of(cfg: &ConsumerConfig) -> Plan {
        let mut filters: Vec<Bytes> = cfg
            .filters()
            .into_iter()
            .filter(|f| !f.is_empty())
            .map(Bytes::from)
            .collect();
        // `>` filters nothing.
        if filters.iter().any(|f| &f[..] == b">") {
            filters.clear();
        }
        Plan {
            filters: filters.into(),
            deliver_subject: (!cfg.deliver_subject.is_empty())
                .then(|| Bytes::from(cfg.deliver_subject.clone())),
            headers_only: cfg.headers_only,
            replay_original: cfg.replay_policy == ReplayPolicy::Original,
            rate_limit_bps: cfg.rate_limit_bps,
            flow_control: cfg.flow_control,
            idle_heartbeat: cfg.idle_heartbeat,
            max_waiting: cfg.max_waiting.max(0) as usize,
            inactive_threshold: cfg.inactive_threshold,
            ack_none: cfg.ack_policy == AckPolicy::None,
            sample_freq: capi::sample_frequency(&cfg.sample_freq),
            ack_explicit: cfg.ack_policy == AckPolicy::Explicit,
            priority_policy: cfg.priority_policy,
            pin_ttl: cfg.priority_timeout,
            pause_until: cfg
                .pause_until
                .map_or(0, |t| t.unix_nanos().clamp(0, i64::MAX as i128) as i64),
        }
    }

    fn is_push(&self) -> bool {
        self.deliver_subject.is_some()
    }

    fn matches(&self, subject: &[u8]) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| jetcore_storage::subject::matches_filter(subject, f))
    }
}

/// Push flow control (Go's `maxpb`/`pbytes`/`fcid`).
#[derive(Debug, Default)]
struct FlowControl {
    /// The current window: deliveries stop past it.
    window: u64,
    /// Bytes sent since the last answered request.
    pending: u64,
    /// Reply subject of the outstanding request (empty = none).
    outstanding: String,
    /// `pending` when the outstanding request was sent.
    at_request: u64,
}

/// A consumer of a stream owned by this core.
pub struct Consumer {
    /// Its name.
    pub name: String,
    /// Its stream's name.
    stream_name: String,
    /// The stream (the stream owns its consumers, so this is weak).
    stream: Weak<Stream>,
    /// The shard it runs on.
    shard: Rc<Shard>,
    /// Its configuration.
    config: RefCell<ConsumerConfig>,
    /// Settings derived from the configuration.
    plan: RefCell<Plan>,
    /// When it was created.
    created: GoTime,
    /// Delivered/ack/redelivery state.
    tracker: RefCell<Tracker>,
    /// `last_per_subject`: the sequences still to deliver first, ascending.
    initial: RefCell<VecDeque<u64>>,
    /// Waiting pull requests in serving order, and the pinned client.
    waiting: RefCell<PullQueue>,
    /// Pull: the waiting requests were all passed over for the last message (priority
    /// rules held them back); nothing is tried again until something changes (a
    /// request, a stored message, an ack, the pin). Keeps the delivery task from
    /// spinning on a message nobody may take.
    held_back: Cell<bool>,
    /// Bumped by every RESET: a delivery that was being prepared across one (its
    /// message loaded or paced before the reset) is dropped, not sent.
    reset_epoch: Cell<u64>,
    /// Matching messages after the delivered stream sequence (Go's `npc`).
    num_pending: Cell<u64>,
    /// Wakes the delivery task.
    wake: Notify,
    /// Pull requests.
    next_inbox: Rc<InternalInbox>,
    /// Acks and flow-control replies.
    ack_inbox: Rc<InternalInbox>,
    /// Its subscriptions.
    subs: RefCell<Vec<Rc<Subscription>>>,
    /// Where its state is persisted (file streams, unless `mem_storage`).
    state_file: Option<ConsumerStateFile>,
    /// Its directory (persisted consumers).
    dir: Option<PathBuf>,
    /// Set when it is deleted or its stream closes.
    closed: Cell<bool>,
    /// The tracker generation last written (see [`Tracker::generation`]); `None`
    /// forces a write.
    written: Cell<Option<u64>>,
    /// `last_per_subject`: where new messages start once `initial` is done (0: no
    /// initial phase).
    resume: Cell<u64>,
    /// Wakes the state flusher.
    flush_wake: Notify,
    /// The end of the current pause was announced (Go's PAUSE advisory with
    /// `paused: false` when `pause_until` passes).
    pause_end_announced: Cell<bool>,
    /// Last time someone showed interest (a pull request, a push subscriber).
    last_active: Cell<i64>,
    /// Last time something was sent to the deliver subject (push heartbeats).
    last_push: Cell<i64>,
    /// Push flow control.
    flow: RefCell<FlowControl>,
    /// Timestamp of the last message delivered (replay original).
    replay_last_ts: Cell<i64>,
    /// Wall clock of that delivery.
    replay_last_at: Cell<i64>,
    /// The rate limiter's tokens in bytes (Go's `rate.Limiter`: starts full at
    /// the burst, may go negative, which is the wait).
    rate_tokens: Cell<f64>,
    /// When the tokens were last refilled.
    rate_refilled: Cell<i64>,
    /// The limiter's burst in bytes: the stream's `max_msg_size`, else the
    /// server's `max_payload` (Go's choice).
    rate_burst: f64,
    /// The JetStream domain, for advisories.
    domain: String,
}

/// Where a message to deliver came from (to put it back if it cannot go out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The redelivery queue.
    Redelivery,
    /// The `last_per_subject` start list.
    Initial,
    /// The scan for new messages (found again by the next scan).
    New,
}

/// What the delivery task does next.
enum Next {
    /// Deliver this message.
    Message {
        /// The message.
        msg: StoredMessage,
        /// Where it came from.
        source: Source,
    },
    /// Nothing to deliver now.
    Idle,
    /// A redelivery candidate vanished from the stream, or something was skipped;
    /// look again at once.
    Again,
}

impl Consumer {
    /// Create a new consumer or bring back a persisted one. `state` is the
    /// persisted state (None for a new consumer).
    pub(super) async fn open(
        stream: &Rc<Stream>,
        js: &JsConfig,
        meta: ConsumerMeta,
        stream_dir: Option<&Path>,
        persist: bool,
    ) -> Result<Rc<Consumer>, ApiError> {
        let cfg = meta.config.clone();
        let plan = Plan::of(&cfg);
        let dir = match stream_dir {
            Some(d) if !cfg.mem_storage => Some(consumer_dir(d, &meta.name)),
            _ => None,
        };
        let (state_file, restored) = match &dir {
            Some(d) => {
                if persist {
                    write_consumer_meta(d, &meta, MetaWrite::Create)
                        .await
                        .map_err(ApiError::consumer_create)?;
                }
                let (file, snapshot) = ConsumerStateFile::open(ConsumerFileConfig {
                    dir: d.clone(),
                    sync: js.sync,
                    cipher: js.cipher.clone(),
                })
                .await
                .map_err(ApiError::consumer_create)?;
                let restored = match snapshot {
                    Some(bytes) => match cstate::decode(&bytes) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            tracing::error!(
                                "consumer {} > {}: state unreadable ({e}); starting from its config",
                                stream.name,
                                meta.name
                            );
                            None
                        }
                    },
                    None => None,
                };
                (Some(file), restored)
            }
            None => (None, None),
        };
        let settings = tracker_settings(&cfg);
        let mut initial = VecDeque::new();
        let mut resume = 0;
        let tracker = match restored {
            Some(state) => Tracker::restore(settings, state),
            None => {
                let (start, list) = stream.start_position(&cfg, &plan.filters).await;
                // `last_per_subject` delivers its list first, as ordinary new
                // messages (tracked, acked), then continues at `start`.
                let first = list.first().copied();
                initial = list.into();
                match first {
                    Some(f) => {
                        resume = start;
                        Tracker::new(settings, f)
                    }
                    None => Tracker::new(settings, start),
                }
            }
        };
        let now = now_nanos();
        let max_msg_size = stream.config().max_msg_size;
        let rate_burst = if max_msg_size > 0 {
            max_msg_size as f64
        } else {
            f64::from(stream.shard().opts.max_payload)
        };
        let consumer = Rc::new(Consumer {
            name: meta.name.clone(),
            stream_name: stream.name.clone(),
            stream: Rc::downgrade(stream),
            shard: stream.shard().clone(),
            config: RefCell::new(cfg),
            plan: RefCell::new(plan),
            created: meta.created,
            tracker: RefCell::new(tracker),
            initial: RefCell::new(initial),
            waiting: RefCell::new(PullQueue::default()),
            held_back: Cell::new(false),
            reset_epoch: Cell::new(0),
            num_pending: Cell::new(0),
            wake: Notify::new(),
            next_inbox: InternalInbox::with_limit(CONSUMER_INBOX_LIMIT),
            ack_inbox: InternalInbox::with_limit(CONSUMER_INBOX_LIMIT),
            subs: RefCell::new(Vec::new()),
            state_file,
            dir,
            closed: Cell::new(false),
            written: Cell::new(None),
            resume: Cell::new(resume),
            flush_wake: Notify::new(),
            pause_end_announced: Cell::new(false),
            last_active: Cell::new(now),
            last_push: Cell::new(now),
            flow: RefCell::new(FlowControl {
                window: FLOW_CONTROL_MAX_PENDING / 16,
                ..FlowControl::default()
            }),
            replay_last_ts: Cell::new(0),
            replay_last_at: Cell::new(0),
            rate_tokens: Cell::new(rate_burst),
            rate_refilled: Cell::new(now),
            rate_burst,
            domain: js.domain.clone(),
        });
        consumer.resync_pending(stream);
        if let Err(e) = consumer.subscribe() {
            consumer.unsubscribe();
            return Err(e);
        }
        if persist {
            // Like a new stream: every core routes the consumer's pull and ack
            // subjects before the client hears that it exists.
            consumer.shard.interest_barrier().await;
        }
        consumer.persist();
        jetcore_router::spawn(consumer.clone().run_requests());
        jetcore_router::spawn(consumer.clone().run_acks());
        jetcore_router::spawn(consumer.clone().run_deliveries());
        if consumer.state_file.is_some() {
            jetcore_router::spawn(consumer.clone().run_flusher());
        }
        Ok(consumer)
    }

    /// The subjects it listens on.
    fn subscribe(&self) -> Result<(), ApiError> {
        let (s, c) = (&self.stream_name, &self.name);
        let mut prefixes = vec!["$JS.API".to_string()];
        if !self.domain.is_empty() {
            prefixes.push(format!("$JS.{}.API", self.domain));
        }
        // RESET is the consumer's own, as in Go: a missing consumer gets no reply.
        let mut wanted: Vec<(String, &Rc<InternalInbox>)> = prefixes
            .iter()
            .flat_map(|p| {
                [
                    format!("{p}.CONSUMER.MSG.NEXT.{s}.{c}"),
                    format!("{p}.{RESET_INFIX}{s}.{c}"),
                ]
            })
            .map(|subject| (subject, &self.next_inbox))
            .collect();
        wanted.push((format!("$JS.ACK.{s}.{c}.>"), &self.ack_inbox));
        wanted.push((format!("$JS.ACK.*.*.{s}.{c}.>"), &self.ack_inbox));
        if self.plan.borrow().flow_control {
            wanted.push((format!("$JS.FC.{s}.{c}.*"), &self.ack_inbox));
            wanted.push((format!("$JS.FC.*.*.{s}.{c}.*"), &self.ack_inbox));
        }
        let mut subs = self.subs.borrow_mut();
        for (subject, inbox) in wanted {
            let sub = Rc::new(Subscription::internal(
                Bytes::from(subject),
                None,
                inbox.clone(),
            ));
            self.shard
                .add_sub(&sub)
                .map_err(|_| ApiError::consumer_create("invalid consumer subjects"))?;
            subs.push(sub);
        }
        Ok(())
    }

    fn unsubscribe(&self) {
        for s in self.subs.borrow_mut().drain(..) {
            self.shard.remove_sub(&s);
        }
    }

    /// Its configuration.
    pub fn config(&self) -> ConsumerConfig {
        self.config.borrow().clone()
    }

    /// When it was created.
    pub fn created(&self) -> GoTime {
        self.created
    }

    /// Whether it is a push consumer.
    pub fn is_push(&self) -> bool {
        self.plan.borrow().is_push()
    }

    /// Whether a push consumer's deliver subject has subscribers.
    pub fn push_bound(&self) -> bool {
        self.plan
            .borrow()
            .deliver_subject
            .as_ref()
            .is_some_and(|ds| self.shard.has_interest(ds))
    }

    /// Wake the delivery task (a message was stored, a config changed). Whatever
    /// woke it may let a held-back request take a message: try again.
    pub fn wake(&self) {
        self.held_back.set(false);
        self.wake.notify();
    }

    // ---- stream events -------------------------------------------------------

    /// A message was stored: count it when it matches.
    pub(super) fn on_stored(&self, seq: u64, subject: &[u8]) {
        if seq >= self.tracker.borrow().next_new_stream_seq() && self.plan.borrow().matches(subject)
        {
            self.num_pending.set(self.num_pending.get() + 1);
            self.wake();
        }
    }

    /// Messages were removed from the stream (purge, delete, expiry): recount and
    /// move the start past the stream's first sequence.
    pub(super) fn on_removed(&self, stream: &Stream) {
        let first = stream.store_state().first_seq;
        self.tracker.borrow_mut().purged(first, now_nanos());
        self.initial.borrow_mut().retain(|&s| s >= first);
        self.resync_pending(stream);
        self.wake();
    }

    /// Go's `streamNumPending`: count the matching messages not yet delivered.
    fn resync_pending(&self, stream: &Stream) {
        let start = self
            .tracker
            .borrow()
            .next_new_stream_seq()
            .max(self.resume.get());
        let plan = self.plan.borrow();
        let mut n = 0;
        if plan.filters.is_empty() {
            n = stream.filtered_state(b">", start).messages;
        } else {
            for f in plan.filters.iter() {
                n += stream.filtered_state(f, start).messages;
            }
        }
        n += self.initial.borrow().len() as u64;
        self.num_pending.set(n);
    }

    /// Whether this consumer still needs stream sequence `seq` whose subject is
    /// `subject` (interest retention).
    pub(super) fn needs(&self, seq: u64, subject: &[u8]) -> bool {
        self.plan.borrow().matches(subject) && self.tracker.borrow().needs(seq)
    }

    /// Whether this consumer's filters could ever select `subject`.
    pub(super) fn filter_matches(&self, subject: &[u8]) -> bool {
        self.plan.borrow().matches(subject)
    }

    // ---- pull requests ---------------------------------------------------------

    async fn run_requests(self: Rc<Self>) {
        while let Some(batch) = self.next_inbox.next_batch().await {
            if self.closed.get() {
                break;
            }
            for m in batch {
                let Some(reply) = m.reply.clone().filter(|r| !r.is_empty()) else {
                    continue;
                };
                if is_reset_subject(&m.subject) {
                    self.on_reset_request(reply, m.headers.as_deref(), &m.payload)
                        .await;
                } else {
                    self.on_pull_request(reply, m.headers.as_deref(), &m.payload);
                }
            }
            self.wake();
        }
    }

    /// Go's `processNextMsgRequest`.
    fn on_pull_request(&self, reply: Bytes, headers: Option<&[u8]>, body: &[u8]) {
        let now = now_nanos();
        self.last_active.set(now);
        let (is_push, max_waiting) = {
            let p = self.plan.borrow();
            (p.is_push(), p.max_waiting)
        };
        if is_push {
            self.frame(&reply, capi::status::CONSUMER_IS_PUSH_BASED.to_vec());
            return;
        }
        if super::api::requires_newer_api(headers) {
            self.frame(&reply, capi::status::REQUIRED_API_LEVEL.to_vec());
            return;
        }
        let req = match NextRequest::parse(body) {
            Ok(r) => r,
            Err(e) => {
                self.frame(&reply, capi::status::bad_request(&e));
                return;
            }
        };
        // The request caps (and priority rules) of the config: Go's 409/400 frames.
        let refused = req.check(&self.config.borrow());
        if let Some(frame) = refused {
            self.frame(&reply, frame);
            return;
        }
        let (policy, pin_ttl) = {
            let p = self.plan.borrow();
            (p.priority_policy, p.pin_ttl)
        };
        if req.json
            && policy == PriorityPolicy::PinnedClient
            && !self
                .waiting
                .borrow_mut()
                .admit_pin_id(&req.id, now, pin_ttl)
        {
            self.frame(&reply, capi::status::PIN_ID_MISMATCH.to_vec());
            return;
        }
        if req.no_wait {
            let available =
                self.num_pending.get() + self.tracker.borrow().num_redeliveries() as u64;
            if available == 0 && req.expires == 0 {
                self.frame(&reply, capi::status::NO_MESSAGES.to_vec());
                return;
            }
            if available > 0 {
                self.expire_requests(now);
                let wanted: u64 = self.waiting.borrow().requests.iter().map(|w| w.batch).sum();
                if available < wanted {
                    self.frame(&reply, capi::status::REQUESTS_PENDING.to_vec());
                    return;
                }
            }
        }
        if self.waiting.borrow().len() >= max_waiting.max(1) {
            self.expire_requests(now);
        }
        if self.waiting.borrow().len() >= max_waiting.max(1) {
            if req.idle_heartbeat == 0 {
                self.frame(&reply, capi::status::EXCEEDED_MAX_WAITING.to_vec());
            }
            return;
        }
        let batch = req.batch.max(1) as u64;
        let priority = req.json.then(|| PriorityAsk {
            group: req.group.clone(),
            min_pending: req.min_pending,
            min_ack_pending: req.min_ack_pending,
            id: req.id.clone(),
            priority: req.priority,
        });
        let request = PullRequest {
            reply,
            batch,
            max_bytes: req.max_bytes.max(0) as u64,
            expires_at: (req.expires > 0).then(|| now.saturating_add(req.expires)),
            no_wait: req.no_wait,
            heartbeat: req.idle_heartbeat.max(0),
            next_heartbeat: now.saturating_add(req.idle_heartbeat.max(0)),
            delivered: 0,
            priority,
        };
        self.waiting.borrow_mut().add(request, policy);
        self.held_back.set(false);
    }

    /// `CONSUMER.RESET` (Go's `processResetReq`): move the consumer to a stream
    /// sequence (0: its ack floor + 1), forgetting pending acks and redelivery
    /// counts; waiting pull requests and the pin stay. Answered once the new state
    /// is durable, with the consumer's info.
    async fn on_reset_request(&self, reply: Bytes, headers: Option<&[u8]>, body: &[u8]) {
        let response = match self.reset(headers, body).await {
            Ok((info, seq)) => capi::ConsumerResetResponse::new(info, seq),
            Err(e) => capi::ConsumerResetResponse::error(e),
        };
        let body = Bytes::from(super::api_types::go_json_bytes(&response));
        self.shard.publish_internal(&reply, None, None, &body);
    }

    async fn reset(
        &self,
        headers: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(capi::ConsumerInfo, u64), ApiError> {
        if super::api::requires_newer_api(headers) {
            return Err(ApiError::required_api_level());
        }
        let req = capi::ConsumerResetRequest::parse(body)?;
        let stream = self
            .stream
            .upgrade()
            .ok_or_else(ApiError::consumer_not_found)?;
        let seq = if req.seq == 0 {
            self.tracker.borrow().ack_floor().stream_seq + 1
        } else {
            self.check_reset_seq(&stream, req.seq).await?;
            req.seq
        };
        self.tracker.borrow_mut().reset_to(seq);
        self.reset_epoch.set(self.reset_epoch.get() + 1);
        self.initial.borrow_mut().clear();
        self.resume.set(0);
        self.resync_pending(&stream);
        if let Some(durable) = self.persist_now() {
            if let Err(e) = durable.await {
                tracing::error!("consumer {}: reset state not durable: {e}", self.name);
                return Err(ApiError::stream_store_failed(&e));
            }
        }
        stream.drop_uninterested().await;
        self.wake();
        let mut info = self.info(&stream);
        info.config = info
            .config
            .with_dynamic_metadata(crate::server::GO_COMPAT_VERSION);
        Ok((info, seq))
    }

    /// Go's `resetStartingSeqLocked`: an explicit sequence may not go below where
    /// the deliver policy starts, and policies that start at the end take none.
    async fn check_reset_seq(&self, stream: &Stream, seq: u64) -> Result<(), ApiError> {
        let cfg = self.config();
        match cfg.deliver_policy {
            DeliverPolicy::All => Ok(()),
            DeliverPolicy::ByStartSequence if seq < cfg.opt_start_seq => {
                Err(ApiError::consumer_invalid_reset("below start seq"))
            }
            DeliverPolicy::ByStartSequence => Ok(()),
            DeliverPolicy::ByStartTime => {
                let start = match &cfg.opt_start_time {
                    Some(t) => stream.seq_at_or_after(t).await,
                    None => None,
                };
                let start = start.unwrap_or_else(|| stream.last_seq() + 1);
                if seq < start {
                    Err(ApiError::consumer_invalid_reset("below start time"))
                } else {
                    Ok(())
                }
            }
            DeliverPolicy::Last | DeliverPolicy::New | DeliverPolicy::LastPerSubject => {
                Err(ApiError::consumer_invalid_reset("not allowed"))
            }
        }
    }

    /// Go's `processWaiting`: end expired requests (408), end no-wait requests at
    /// the end of the stream when `end_of_stream` (404), drop requests nobody
    /// listens to any more, send due heartbeats. Returns the earliest deadline.
    fn expire_requests_at(&self, now: i64, end_of_stream: bool) -> Option<i64> {
        let mut earliest: Option<i64> = None;
        let mut keep = VecDeque::new();
        let requests: Vec<PullRequest> = self.waiting.borrow_mut().requests.drain(..).collect();
        for mut wr in requests {
            let expired = wr.expires_at.is_some_and(|at| now >= at);
            if expired {
                self.frame(&wr.reply, wr.status(capi::status::request_timeout));
                continue;
            }
            if end_of_stream && wr.no_wait && (wr.expires_at.is_none() || wr.delivered > 0) {
                self.frame(&wr.reply, capi::status::NO_MESSAGES.to_vec());
                continue;
            }
            if !self.shard.has_interest(&wr.reply) {
                continue;
            }
            if wr.heartbeat > 0 {
                if now >= wr.next_heartbeat {
                    self.idle_heartbeat(&wr.reply);
                    wr.next_heartbeat = now.saturating_add(wr.heartbeat);
                }
                earliest = min_deadline(earliest, Some(wr.next_heartbeat));
            }
            earliest = min_deadline(earliest, wr.expires_at);
            keep.push_back(wr);
        }
        // Requests that arrived while this ran (none can: this never awaits) stay.
        let mut waiting = self.waiting.borrow_mut();
        keep.extend(waiting.requests.drain(..));
        waiting.requests = keep;
        if !waiting.is_empty() {
            self.last_active.set(now);
        }
        earliest
    }

    fn expire_requests(&self, now: i64) -> Option<i64> {
        self.expire_requests_at(now, false)
    }

    /// Go's `nextWaiting`: the request that receives a message of `size` bytes
    /// (see [`PullQueue::choose`]), with the frames and advisories on the way sent.
    fn take_request_for(&self, size: u64, now: i64, redelivery: bool) -> Option<pq::Chosen> {
        let (policy, pin_ttl) = {
            let p = self.plan.borrow();
            (p.priority_policy, p.pin_ttl)
        };
        // Go compares with its pending count plus one: the message being placed was
        // already taken off for a first delivery, not for a redelivery.
        let pending = self.num_pending.get() + u64::from(redelivery);
        let counts = pq::Counts {
            pending,
            ack_pending: self.tracker.borrow().num_ack_pending() as u64,
        };
        let has_interest = |reply: &Bytes| self.shard.has_interest(reply);
        let placing = pq::Placing {
            policy,
            size,
            now,
            counts,
            pin_ttl,
            has_interest: &has_interest,
            new_pin_id: &super::advisory::nuid,
        };
        let mut effects = Vec::new();
        let chosen = self.waiting.borrow_mut().choose(&placing, &mut effects);
        for effect in effects {
            match effect {
                pq::Effect::Frame { to, frame } => self.frame(&to, frame),
                pq::Effect::Pinned { group, id } => self.advisory_pinned(&group, &id),
            }
        }
        if chosen.is_none() && !self.waiting.borrow().is_empty() {
            self.held_back.set(true);
        }
        chosen
    }

    /// Send a header-only status frame (one of `capi::status`) to `to`.
    fn frame(&self, to: &Bytes, frame: Vec<u8>) {
        self.shard
            .publish_internal(to, None, Some(&Bytes::from(frame)), &Bytes::new());
    }

    /// Go's idle heartbeat: the last delivered consumer and stream sequences, and
    /// the outstanding flow-control request when stalled on one.
    fn idle_heartbeat(&self, to: &Bytes) {
        let (dseq, sseq) = {
            let t = self.tracker.borrow();
            (t.delivered().consumer_seq, t.last_delivered_stream_seq())
        };
        let fc = self.flow.borrow().outstanding.clone();
        let stalled = (!fc.is_empty()).then_some(fc.as_str());
        self.frame(to, capi::status::idle_heartbeat(dseq, sseq, stalled));
    }

    // ---- acks --------------------------------------------------------------------

    async fn run_acks(self: Rc<Self>) {
        while let Some(batch) = self.ack_inbox.next_batch().await {
            if self.closed.get() {
                break;
            }
            let mut replies = Vec::new();
            let mut acked = Vec::new();
            for m in batch {
                if m.subject.starts_with(b"$JS.FC.") {
                    self.on_flow_control_reply(&m);
                    continue;
                }
                if let Some(reply) = self.on_ack(&m, &mut acked) {
                    replies.push(reply);
                }
            }
            if !acked.is_empty() {
                if let Some(stream) = self.stream.upgrade() {
                    stream.on_acked(&acked);
                }
            }
            self.wake();
            if replies.is_empty() {
                self.flush_wake.notify();
            } else {
                let durable = self.persist_now();
                let shard = self.shard.clone();
                jetcore_router::spawn(async move {
                    if let Some(d) = durable {
                        if let Err(e) = d.await {
                            tracing::error!("consumer state not durable, acks unanswered: {e}");
                            return;
                        }
                    }
                    for r in replies {
                        shard.publish_internal(&r, None, None, &Bytes::new());
                    }
                });
            }
        }
    }

    /// Apply one ack message; returns the reply subject to answer once durable.
    fn on_ack(&self, m: &InternalMsg, acked: &mut Vec<u64>) -> Option<Bytes> {
        let info = capi::parse_ack_reply(&m.subject)?;
        if info.stream != self.stream_name || info.consumer != self.name {
            return None;
        }
        let now = now_nanos();
        let (sseq, dseq) = (info.stream_seq, info.consumer_seq);
        let reply = m.reply.clone().filter(|r| !r.is_empty());
        match AckKind::parse(&m.payload) {
            AckKind::Ack => {
                self.sample_ack(sseq, dseq, info.delivery_count, now);
                let out = self.tracker.borrow_mut().ack(sseq, dseq, now);
                acked.extend(out.acked);
                return reply.filter(|_| self.answers(out.status));
            }
            AckKind::Nak { delay } => {
                if self.tracker.borrow_mut().nak(sseq, dseq, delay, now) {
                    self.advisory_nak(sseq, dseq, info.delivery_count);
                }
            }
            AckKind::Progress => {
                self.tracker.borrow_mut().progress(sseq, now);
            }
            AckKind::Term { reason } => {
                let out = self.tracker.borrow_mut().term(sseq, dseq, now);
                acked.extend(out.acked);
                self.advisory_term(sseq, dseq, info.delivery_count, &reason);
                return reply.filter(|_| self.answers(out.status));
            }
            // Go ignores an unknown body but still answers a reply.
            AckKind::Other => {}
            AckKind::Next(body) => {
                let out = self.tracker.borrow_mut().ack(sseq, dseq, now);
                acked.extend(out.acked);
                if let Some(r) = reply {
                    // Go hands +NXT's body straight to the request logic: no header
                    // checks.
                    self.on_pull_request(r, None, &body);
                }
                return None;
            }
        }
        reply
    }

    /// Go's `sampleAck`: with `sample_freq`, report how long an explicit ack of a
    /// pending message took, on `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>`.
    fn sample_ack(&self, sseq: u64, dseq: u64, deliveries: u64, now: i64) {
        let (freq, explicit) = {
            let p = self.plan.borrow();
            (p.sample_freq, p.ack_explicit)
        };
        if freq <= 0 || !explicit {
            return;
        }
        let Some(since) = self.tracker.borrow().pending_since(sseq) else {
            return;
        };
        if freq < 100 && rand::random_range(0..100) > freq {
            return;
        }
        capi::publish_ack_metric(
            &self.shard,
            &self.stream_name,
            &self.name,
            sseq,
            dseq,
            deliveries,
            now - since,
            &self.domain,
        );
    }

    /// Whether Go answers a double ack that ended this way.
    fn answers(&self, status: cstate::AckStatus) -> bool {
        match status {
            cstate::AckStatus::Acked | cstate::AckStatus::NotPending => true,
            cstate::AckStatus::NotDelivered => false,
            cstate::AckStatus::NoAck => self.stream.upgrade().is_some_and(|s| {
                s.config().retention != super::stream_config::RetentionPolicy::Limits
            }),
        }
    }

    /// A flow-control request was answered: open the window (Go's
    /// `processFlowControl`).
    fn on_flow_control_reply(&self, m: &InternalMsg) {
        let mut fc = self.flow.borrow_mut();
        if fc.outstanding.as_bytes() != &m.subject[..] {
            return;
        }
        fc.window = (fc.window * 2).min(FLOW_CONTROL_MAX_PENDING);
        fc.pending = fc.pending.saturating_sub(fc.at_request);
        fc.outstanding.clear();
        fc.at_request = 0;
    }

    /// Writes the state at most every [`STATE_FLUSH_INTERVAL`] while it changes.
    async fn run_flusher(self: Rc<Self>) {
        loop {
            self.flush_wake.notified().await;
            if self.closed.get() {
                return;
            }
            jetcore_router::time::sleep(STATE_FLUSH_INTERVAL).await;
            if self.closed.get() {
                return;
            }
            self.persist();
        }
    }

    /// Write the state now if it changed; the future resolves once everything
    /// written so far (this state included) is durable. None for consumers that
    /// keep no state on disk.
    fn persist_now(&self) -> Option<jetcore_storage::Durable> {
        let file = self.state_file.as_ref()?;
        Some(self.persist().unwrap_or_else(|| file.durable()))
    }

    /// Write the state when it changed; the returned future resolves once it is
    /// durable (None: nothing to write or nowhere to write it).
    fn persist(&self) -> Option<jetcore_storage::Durable> {
        let file = self.state_file.as_ref()?;
        let t = self.tracker.borrow();
        if self.written.get() == Some(t.generation()) {
            return None;
        }
        self.written.set(Some(t.generation()));
        Some(file.write(Bytes::from(t.encoded())))
    }

    // ---- delivery ----------------------------------------------------------------

    async fn run_deliveries(self: Rc<Self>) {
        loop {
            if self.closed.get() {
                return;
            }
            let now = now_nanos();
            // Ack waits run out while deliveries keep the task busy too.
            if self
                .tracker
                .borrow()
                .next_deadline()
                .is_some_and(|at| at <= now)
            {
                self.expire_acks(now);
            }
            // A pin lapses on time also while messages keep flowing.
            self.expire_pin(now);
            let mut sent = 0;
            let mut idle = false;
            while sent < DELIVERY_BURST && !self.closed.get() {
                if !self.can_send(now) {
                    idle = true;
                    break;
                }
                let epoch = self.reset_epoch.get();
                match self.next_message(now).await {
                    Next::Message { msg, source } => {
                        if self.closed.get() {
                            return;
                        }
                        self.pace(&msg).await;
                        if self.reset_epoch.get() != epoch {
                            // The consumer moved while this was loaded: the reset
                            // decides what comes next.
                            continue;
                        }
                        if self.send(msg, source, now_nanos()) {
                            sent += 1;
                        } else {
                            idle = true;
                            break;
                        }
                    }
                    Next::Again => continue,
                    Next::Idle => {
                        idle = true;
                        break;
                    }
                }
            }
            if sent > 0 {
                // Deliveries need no durability wait: a crash redelivers them.
                self.flush_wake.notify();
            }
            if !idle {
                jetcore_router::yield_if_needed().await;
                continue;
            }
            let wait = self.housekeeping(now_nanos());
            if self.closed.get() {
                return;
            }
            match wait {
                Some(d) if d.is_zero() => jetcore_router::yield_now().await,
                Some(d) => {
                    futures_lite::future::or(jetcore_router::time::sleep(d), async {
                        self.wake.notified().await
                    })
                    .await
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// Whether a message could go out now (someone to send it to, not paused, not
    /// stalled on flow control).
    fn can_send(&self, now: i64) -> bool {
        let plan = self.plan.borrow();
        if plan.pause_until > now {
            return false;
        }
        match &plan.deliver_subject {
            Some(ds) => {
                let fc = self.flow.borrow();
                if plan.flow_control && fc.pending > fc.window {
                    return false;
                }
                self.shard.has_interest(ds)
            }
            None => !self.waiting.borrow().is_empty() && !self.held_back.get(),
        }
    }

    /// The next message to deliver: a due redelivery first, then the next new one.
    async fn next_message(&self, now: i64) -> Next {
        let stream = match self.stream.upgrade() {
            Some(s) => s,
            None => return Next::Idle,
        };
        let popped = self.tracker.borrow_mut().pop_redelivery(now);
        match popped {
            Some(cstate::Redelivery::Due { stream_seq }) => {
                return match stream.load(stream_seq).await {
                    Some(msg) => Next::Message {
                        msg,
                        source: Source::Redelivery,
                    },
                    None => {
                        self.message_vanished(&stream, stream_seq);
                        Next::Again
                    }
                };
            }
            Some(cstate::Redelivery::Exceeded {
                stream_seq,
                deliveries,
            }) => {
                self.advisory_max_deliveries(stream_seq, deliveries);
                return Next::Again;
            }
            None => {}
        }
        if !self.tracker.borrow().can_deliver() {
            return Next::Idle;
        }
        // `last_per_subject` starts with each subject's last message.
        let first = self.initial.borrow_mut().pop_front();
        if first.is_none() && self.resume.get() > 0 {
            self.tracker.borrow_mut().skip_to(self.resume.replace(0));
        }
        if let Some(seq) = first {
            return match stream.load(seq).await {
                Some(msg) => Next::Message {
                    msg,
                    source: Source::Initial,
                },
                None => {
                    self.num_pending
                        .set(self.num_pending.get().saturating_sub(1));
                    Next::Again
                }
            };
        }
        let from = self.tracker.borrow().next_new_stream_seq();
        let filters = self.plan.borrow().filters.clone();
        let found = stream.load_next_matching(&filters, from).await;
        match found {
            Some(msg) => {
                if msg.seq < self.tracker.borrow().next_new_stream_seq() {
                    // Something else moved the start meanwhile (a purge).
                    return Next::Again;
                }
                Next::Message {
                    msg,
                    source: Source::New,
                }
            }
            None => {
                // End of the stream: make the count exact again (Go's
                // `checkNumPendingOnEOF`).
                if self.num_pending.get() != 0 && self.initial.borrow().is_empty() {
                    self.num_pending.set(0);
                }
                Next::Idle
            }
        }
    }

    /// A pending message is gone from the stream: Go terminates it.
    fn message_vanished(&self, stream: &Stream, seq: u64) {
        let gone = self.tracker.borrow_mut().stream_removed(seq, now_nanos());
        if let Some(t) = gone {
            let reason = "Unacknowledged message was deleted";
            self.advisory_term(seq, t.consumer_seq, t.deliveries, reason);
            if !t.acked.is_empty() {
                stream.on_acked(&t.acked);
            }
        }
    }

    /// Sleep for `d`, or until the consumer is closed (a replay gap can be hours).
    async fn sleep_unless_closed(&self, d: Duration) {
        futures_lite::future::or(jetcore_router::time::sleep(d), async {
            while !self.closed.get() {
                self.wake.notified().await;
            }
        })
        .await;
    }

    /// Replay-original timing and the push rate limit.
    async fn pace(&self, msg: &StoredMessage) {
        let (replay, bps) = {
            let p = self.plan.borrow();
            (p.replay_original, p.rate_limit_bps)
        };
        if replay {
            let last_ts = self.replay_last_ts.get();
            if last_ts > 0 && msg.timestamp > last_ts {
                let due = self.replay_last_at.get() + (msg.timestamp - last_ts);
                let now = now_nanos();
                if due - now > 1_000_000 {
                    self.sleep_unless_closed(Duration::from_nanos((due - now) as u64))
                        .await;
                }
            }
            self.replay_last_ts.set(msg.timestamp);
            self.replay_last_at.set(now_nanos());
        }
        if bps > 0 {
            // Go's token bucket (`rate.Limiter` with `ReserveN`): refill at bps/8
            // bytes a second up to the burst, take the message's size (subject, ack
            // reply, headers, payload), and wait for any debt.
            let rate = bps as f64 / 8.0;
            let ack_len = 48 + self.stream_name.len() + self.name.len();
            let size = (msg.subject.len() + ack_len + msg.headers.len() + msg.payload.len()) as f64;
            let now = now_nanos();
            let elapsed = (now - self.rate_refilled.get()).max(0) as f64 / 1e9;
            let tokens = (self.rate_tokens.get() + elapsed * rate).min(self.rate_burst) - size;
            self.rate_tokens.set(tokens);
            self.rate_refilled.set(now);
            if tokens < 0.0 {
                let wait = Duration::from_secs_f64(-tokens / rate);
                self.sleep_unless_closed(wait).await;
            }
        }
    }

    /// Deliver `msg`; false when there was nowhere to send it (it is put back).
    fn send(&self, msg: StoredMessage, source: Source, now: i64) -> bool {
        let redelivery = source == Source::Redelivery;
        let (headers_only, deliver_subject, flow_control, ack_none) = {
            let p = self.plan.borrow();
            (
                p.headers_only,
                p.deliver_subject.clone(),
                p.flow_control,
                p.ack_none,
            )
        };
        let (headers, payload) = if headers_only {
            let size = msg.payload.len().to_string();
            let h = super::headers::append(&msg.headers, &[("Nats-Msg-Size", &size)]);
            (Bytes::from(h), Bytes::new())
        } else {
            (msg.headers.clone(), msg.payload.clone())
        };
        let pending_after = if redelivery {
            self.num_pending.get()
        } else {
            self.num_pending.get().saturating_sub(1)
        };
        // The ack reply needs the consumer sequence the delivery will get.
        let peek = self.tracker.borrow().peek_delivery(msg.seq, redelivery);
        let (dseq, dc) = (peek.consumer_seq, peek.delivery_count);
        let ack = capi::ack_reply_v1(
            &self.stream_name,
            &self.name,
            dc,
            msg.seq,
            dseq,
            msg.timestamp,
            pending_after,
        );
        let size = (msg.subject.len() + ack.len() + headers.len() + payload.len()) as u64;
        let mut batch_completed = None;
        let mut pin_header = None;
        let target = match &deliver_subject {
            Some(ds) => ds.clone(),
            None => match self.take_request_for(size, now, redelivery) {
                Some(chosen) => {
                    if chosen.batch_left == 0 && chosen.bytes_left > 0 {
                        batch_completed = Some(chosen.bytes_left);
                    }
                    pin_header = chosen.pin_header;
                    chosen.reply
                }
                None => {
                    match source {
                        Source::Redelivery => self.tracker.borrow_mut().requeue(msg.seq),
                        Source::Initial => self.initial.borrow_mut().push_front(msg.seq),
                        Source::New => {}
                    }
                    return false;
                }
            },
        };
        let delivered = self.tracker.borrow_mut().deliver(msg.seq, now, redelivery);
        debug_assert_eq!(delivered.consumer_seq, dseq);
        debug_assert_eq!(delivered.delivery_count, dc);
        if !redelivery {
            self.num_pending.set(pending_after);
        }
        // Pinned-client deliveries say who holds the pin (after the size check, as Go).
        let headers = match pin_header {
            Some(id) => Bytes::from(super::headers::append(
                &headers,
                &[(capi::status::PIN_ID, &id)],
            )),
            None => headers,
        };
        let hdrs = (!headers.is_empty()).then_some(&headers);
        let ack = Bytes::from(ack);
        self.shard
            .publish_internal_as(&target, &msg.subject, Some(&ack), hdrs, &payload);
        if let Some(bytes_left) = batch_completed {
            // After the message, as Go: the request ended with bytes to spare.
            self.after_batch_completed(&target, bytes_left);
        }
        self.last_active.set(now);
        if deliver_subject.is_some() {
            self.last_push.set(now);
            if flow_control {
                self.after_push(size, &target);
            }
        }
        if ack_none {
            if let Some(stream) = self.stream.upgrade() {
                stream.on_acked(&[msg.seq]);
            }
        }
        true
    }

    /// Go sends `409 Batch Completed` when a batch ends with max_bytes to spare.
    fn after_batch_completed(&self, reply: &Bytes, bytes_left: u64) {
        let left = i64::try_from(bytes_left).unwrap_or(i64::MAX);
        self.frame(reply, capi::status::batch_completed(0, left));
    }

    /// Flow control after a push delivery (Go's `needFlowControl`).
    fn after_push(&self, size: u64, deliver_subject: &Bytes) {
        let request = {
            let mut fc = self.flow.borrow_mut();
            fc.pending += size;
            if fc.outstanding.is_empty() && fc.pending > fc.window / 2 {
                fc.outstanding = capi::flow_control_reply_v1(&self.stream_name, &self.name);
                fc.at_request = fc.pending;
                Some(Bytes::from(fc.outstanding.clone()))
            } else {
                None
            }
        };
        if let Some(reply) = request {
            let h = Bytes::from_static(capi::status::FLOW_CONTROL_REQUEST);
            self.shard
                .publish_internal(deliver_subject, Some(&reply), Some(&h), &Bytes::new());
        }
    }

    /// Timers between deliveries: ack waits, pull requests, push heartbeats, the
    /// inactivity threshold. Returns how long the task may sleep.
    fn housekeeping(self: &Rc<Self>, now: i64) -> Option<Duration> {
        self.expire_acks(now);
        let mut next = {
            let t = self.tracker.borrow();
            if t.num_redeliveries() > 0 && self.can_send(now) {
                Some(now)
            } else {
                t.next_deadline()
            }
        };
        let plan = self.plan.borrow().clone();
        if plan.is_push() {
            let ds = plan.deliver_subject.clone().unwrap_or_default();
            let active = self.shard.has_interest(&ds);
            if active {
                self.last_active.set(now);
                if plan.idle_heartbeat > 0 {
                    let due = self.last_push.get() + plan.idle_heartbeat;
                    if now >= due {
                        self.idle_heartbeat(&ds);
                        self.last_push.set(now);
                    }
                    next = min_deadline(next, Some(self.last_push.get() + plan.idle_heartbeat));
                }
            } else {
                next = min_deadline(next, Some(now + INTEREST_POLL.as_nanos() as i64));
            }
        } else {
            next = min_deadline(next, self.expire_requests_at(now, true));
            next = min_deadline(next, self.expire_pin(now));
        }
        if plan.pause_until > now {
            next = min_deadline(next, Some(plan.pause_until));
        } else if plan.pause_until > 0 && !self.pause_end_announced.replace(true) {
            let until = self.config.borrow().pause_until;
            capi::publish_pause_advisory(
                &self.shard,
                &self.stream_name,
                &self.name,
                until,
                &self.domain,
            );
        }
        if plan.inactive_threshold > 0 {
            let idle_since = self.last_active.get();
            if now - idle_since >= plan.inactive_threshold {
                self.delete_inactive();
                return None;
            }
            next = min_deadline(next, Some(idle_since + plan.inactive_threshold));
        }
        next.map(|at| Duration::from_nanos((at - now).max(0) as u64))
    }

    /// Pinned client: drop the pin when no request renewed it within
    /// `priority_timeout` (UNPINNED advisory, reason `timeout`); the next message
    /// pins the first request that asks without an id. Returns when it lapses.
    fn expire_pin(&self, now: i64) -> Option<i64> {
        let lapsed = {
            let mut waiting = self.waiting.borrow_mut();
            match waiting.pin.as_ref() {
                None => return None,
                Some(pin) if now < pin.expires_at => return Some(pin.expires_at),
                Some(_) => waiting.unpin(),
            }
        };
        if let Some(pin) = lapsed {
            self.advisory_unpinned(&pin.group, "timeout");
            self.wake();
        }
        None
    }

    /// `CONSUMER.UNPIN`: drop the pin (there is one per consumer, whatever the
    /// group) and announce it with reason `admin`, pinned or not, as Go does.
    pub(super) fn unpin(&self, group: &str) {
        self.waiting.borrow_mut().unpin();
        self.advisory_unpinned(group, "admin");
        self.wake();
    }

    /// Ack waits that ran out: queue the redeliveries, announce the messages that
    /// reached `max_deliver`.
    fn expire_acks(&self, now: i64) {
        let before = self.tracker.borrow().num_redeliveries();
        let exceeded = self.tracker.borrow_mut().expire(now);
        if self.tracker.borrow().num_redeliveries() > before {
            // Go's overflow rule counts a redelivery one higher than a new message,
            // so a held-back request may take it.
            self.held_back.set(false);
        }
        for e in exceeded {
            self.advisory_max_deliveries(e.stream_seq, e.deliveries);
        }
    }

    /// The inactivity threshold passed: delete this consumer.
    fn delete_inactive(self: &Rc<Self>) {
        if let Some(stream) = self.stream.upgrade() {
            let name = self.name.clone();
            jetcore_router::spawn(async move {
                stream.delete_consumer(&name).await;
            });
        }
    }

    // ---- lifecycle -----------------------------------------------------------------

    /// Apply an accepted configuration change.
    pub(super) async fn update(&self, cfg: ConsumerConfig) -> Result<(), ApiError> {
        if let Some(d) = &self.dir {
            let meta = ConsumerMeta {
                name: self.name.clone(),
                config: cfg.clone(),
                created: self.created,
            };
            let written = write_consumer_meta(d, &meta, MetaWrite::Replace).await;
            if self.closed.get() {
                return Err(ApiError::consumer_not_found());
            }
            written.map_err(ApiError::consumer_create)?;
        }
        self.tracker
            .borrow_mut()
            .set_settings(tracker_settings(&cfg));
        *self.plan.borrow_mut() = Plan::of(&cfg);
        *self.config.borrow_mut() = cfg;
        self.wake();
        Ok(())
    }

    /// Pause until `until` (Unix ns; 0 resumes). Returns the new config.
    pub(super) async fn pause(&self, until: Option<GoTime>) -> Result<ConsumerConfig, ApiError> {
        let mut cfg = self.config();
        cfg.pause_until = until;
        // A pause already over is announced by the API's own advisory.
        let now = i128::from(now_nanos());
        self.pause_end_announced
            .set(until.is_none_or(|t| t.unix_nanos() <= now));
        // The required API level depends on the pause.
        cfg.set_static_metadata();
        self.update(cfg.clone()).await?;
        Ok(cfg)
    }

    /// Stop: no more deliveries, waiting requests get `409 Consumer Deleted` when
    /// `deleted`; `remove` deletes its directory.
    pub(super) async fn close(&self, deleted: bool, remove: bool) {
        if self.closed.replace(true) {
            return;
        }
        self.unsubscribe();
        if deleted {
            let waiting: Vec<PullRequest> = self.waiting.borrow_mut().requests.drain(..).collect();
            let deleted = Bytes::from_static(capi::status::CONSUMER_DELETED);
            for wr in waiting {
                self.shard
                    .publish_internal(&wr.reply, None, Some(&deleted), &Bytes::new());
            }
        } else {
            self.waiting.borrow_mut().requests.clear();
        }
        self.next_inbox.close();
        self.ack_inbox.close();
        // Every task of the consumer sees `closed` and ends (each holds an Rc).
        self.wake();
        self.flush_wake.notify();
        if let Some(f) = &self.state_file {
            if !remove {
                if let Some(d) = self.persist() {
                    let _ = d.await;
                }
            }
            if let Err(e) = f.close().await {
                tracing::warn!("consumer {}: closing state file: {e}", self.name);
            }
        }
        if remove {
            if let Some(d) = &self.dir {
                if let Err(e) = jetcore_storage::consumer_file::remove_consumer_dir(d).await {
                    tracing::warn!("consumer {}: removing {}: {e}", self.name, d.display());
                }
            }
        }
    }

    /// Go's `ConsumerInfo` numbers.
    pub fn info(&self, stream: &Stream) -> capi::ConsumerInfo {
        self.resync_pending(stream);
        let t = self.tracker.borrow();
        let cfg = self.config.borrow().clone();
        let plan = self.plan.borrow();
        let now = now_nanos();
        let push_bound = plan
            .deliver_subject
            .as_ref()
            .is_some_and(|ds| self.shard.has_interest(ds));
        let paused = plan.pause_until > now;
        capi::ConsumerInfo {
            stream_name: self.stream_name.clone(),
            name: self.name.clone(),
            created: self.created,
            config: cfg,
            delivered: capi::SequenceInfo {
                consumer_seq: t.delivered().consumer_seq,
                stream_seq: t.delivered().stream_seq,
                last_active: t.last_delivered_at().map(super::stream::go_time),
            },
            ack_floor: capi::SequenceInfo {
                consumer_seq: t.ack_floor().consumer_seq,
                stream_seq: t.ack_floor().stream_seq,
                last_active: t.last_acked_at().map(super::stream::go_time),
            },
            num_ack_pending: t.num_ack_pending() as i64,
            num_redelivered: t.num_redelivered() as i64,
            num_waiting: self.waiting.borrow().len() as i64,
            num_pending: self.num_pending.get(),
            push_bound,
            paused,
            pause_remaining: if paused { plan.pause_until - now } else { 0 },
            ts: GoTime::now(),
            priority_groups: self.priority_group_state(),
            ..capi::ConsumerInfo::default()
        }
    }

    /// ConsumerInfo `priority_groups`: Go reports the first configured group only,
    /// with the consumer's pin (one per consumer).
    fn priority_group_state(&self) -> Vec<capi::PriorityGroupState> {
        let cfg = self.config.borrow();
        let Some(group) = cfg.priority_groups.first() else {
            return Vec::new();
        };
        let waiting = self.waiting.borrow();
        vec![capi::PriorityGroupState {
            group: group.clone(),
            pinned_client_id: waiting
                .pin
                .as_ref()
                .map(|p| p.id.clone())
                .unwrap_or_default(),
            pinned_ts: waiting.pin.as_ref().map(|p| p.since).unwrap_or_default(),
        }]
    }

    // ---- advisories --------------------------------------------------------------

    fn advisory_nak(&self, sseq: u64, dseq: u64, deliveries: u64) {
        capi::publish_nak_advisory(
            &self.shard,
            &self.stream_name,
            &self.name,
            sseq,
            dseq,
            deliveries,
            &self.domain,
        );
    }

    fn advisory_term(&self, sseq: u64, dseq: u64, deliveries: u64, reason: &str) {
        capi::publish_term_advisory(
            &self.shard,
            &self.stream_name,
            &self.name,
            sseq,
            dseq,
            deliveries,
            reason,
            &self.domain,
        );
    }

    fn advisory_pinned(&self, group: &str, pinned_id: &str) {
        capi::publish_pinned_advisory(
            &self.shard,
            &self.stream_name,
            &self.name,
            group,
            pinned_id,
            &self.domain,
        );
    }

    fn advisory_unpinned(&self, group: &str, reason: &str) {
        capi::publish_unpinned_advisory(
            &self.shard,
            &self.stream_name,
            &self.name,
            group,
            reason,
            &self.domain,
        );
    }

    fn advisory_max_deliveries(&self, sseq: u64, deliveries: u64) {
        capi::publish_max_deliveries_advisory(
            &self.shard,
            &self.stream_name,
            &self.name,
            sseq,
            deliveries,
            &self.domain,
        );
    }
}

/// `CONSUMER.RESET.` as it appears after the API prefix of a reset subject.
const RESET_INFIX: &str = "CONSUMER.RESET.";

/// Whether a subject the consumer's request inbox received is a RESET (the others
/// are pull requests).
fn is_reset_subject(subject: &[u8]) -> bool {
    memchr::memmem::find(subject, RESET_INFIX.as_bytes()).is_some()
}

/// The tracker settings a config asks for.
fn tracker_settings(cfg: &ConsumerConfig) -> cstate::Settings {
    cstate::Settings {
        mode: match cfg.ack_policy {
            AckPolicy::None => AckMode::None,
            AckPolicy::All => AckMode::All,
            _ => AckMode::Explicit,
        },
        ack_wait_ns: cfg.ack_wait,
        backoff_ns: cfg.backoff.clone(),
        max_deliver: cfg.max_deliver,
        max_ack_pending: cfg.max_ack_pending,
    }
}

/// The earlier of two optional deadlines.
fn min_deadline(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A consumer's directory inside its stream's.
pub fn consumer_dir(stream_dir: &Path, name: &str) -> PathBuf {
    stream_dir.join(CONSUMERS_DIR).join(name)
}

/// Whether writing a consumer's metadata may create its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaWrite {
    /// A new consumer: create the directory (and make its entry in `obs/` durable).
    Create,
    /// An update: the directory must exist. A consumer deleted meanwhile (its
    /// inactivity threshold runs outside the API's order) must not come back.
    Replace,
}

/// Write a consumer's `meta.json` atomically. On the blocking pool: the fsyncs
/// would stall every connection of the shard (clients create a consumer per KV
/// watch).
pub async fn write_consumer_meta(
    dir: &Path,
    meta: &ConsumerMeta,
    how: MetaWrite,
) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    let dir = dir.to_path_buf();
    jetcore_router::blocking(move || match how {
        MetaWrite::Create => {
            super::stream::write_bytes_durably(&dir, CONSUMER_META_FILE, &body)?;
            if let Some(parent) = dir.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        }
        MetaWrite::Replace => super::stream::replace_file_durably(&dir, CONSUMER_META_FILE, &body),
    })
    .await
}

/// Read a consumer's `meta.json`.
pub fn read_consumer_meta(dir: &Path) -> std::io::Result<ConsumerMeta> {
    let bytes = std::fs::read(dir.join(CONSUMER_META_FILE))?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

/// Where a new consumer starts (Go's `selectStartingSeqNo`): the first stream
/// sequence to look at, and for `last_per_subject` the sequences to deliver first.
pub(super) fn start_for(
    policy: DeliverPolicy,
    first_seq: u64,
    last_seq: u64,
    opt_start_seq: u64,
) -> u64 {
    match policy {
        DeliverPolicy::All => first_seq.max(1),
        DeliverPolicy::New => last_seq + 1,
        DeliverPolicy::ByStartSequence => opt_start_seq.max(1),
        // The others need the store (the caller handles them).
        _ => first_seq.max(1),
    }
}
