//! One client connection: its reader, writer and ping tasks, and its subscriptions.
//!
//! Three tasks serve a connection, all on the shard that accepted it:
//! - the **reader** reads the socket, parses complete operations and acts on them;
//! - the **writer** sleeps until something is queued in the outbound buffer, then
//!   writes it out (under the write deadline);
//! - the **pinger** sends PING every `ping_interval` and closes a stale connection.
//!
//! Publishers on the same shard append frames directly into a subscriber's outbound
//! buffer and wake its writer: no per-message channel, no copy of the payload besides
//! the one into the socket buffer. A subscriber whose pending bytes exceed
//! `max_pending` is closed as a slow consumer, so a fast producer is never held back
//! by a slow reader.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use jetcore_router::net::{Connection, ReadHalf, WriteHalf};
use jetcore_router::notify::{Event, Notify};
use jetcore_router::time;

use crate::protocol::info::ConnectOptions;
use crate::protocol::parser::{ClientOp, Parser, ParserLimits};
use crate::protocol::write;
use crate::shard::Shard;
use crate::subject;

/// The account every client is in until accounts exist (Go's global account).
pub const GLOBAL_ACCOUNT: &str = "$G";

/// Why a connection was closed (logged, and later shown in /connz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the socket (end of stream).
    ClientClosed,
    /// A socket read failed (a reset, for one): Go's `ReadError`.
    ReadError,
    /// The client sent `-ERR`: Go's `ParseError`.
    ParseError,
    /// A protocol error.
    ProtocolViolation,
    /// `max_payload` exceeded.
    MaxPayloadExceeded,
    /// Outbound bytes over `max_pending`.
    SlowConsumerPendingBytes,
    /// A write blocked longer than `write_deadline`.
    SlowConsumerWriteDeadline,
    /// Too many unanswered PINGs.
    StaleConnection,
    /// `max_connections` reached.
    MaxConnectionsExceeded,
    /// `no_responders` without `headers` in CONNECT.
    NoRespondersRequiresHeaders,
    /// The server is shutting down.
    ServerShutdown,
    /// A socket write failed.
    WriteError,
}

/// Where a subscription's messages go.
pub enum Sink {
    /// A client connection, under the client's subscription id (echoed in MSG).
    Client {
        /// The client that owns it.
        client: Rc<Client>,
        /// The client's id for it.
        sid: Bytes,
    },
    /// A server-internal subscriber (a stream, the JetStream API): messages are
    /// queued for its task, never handled inside the publisher's call.
    Internal(Rc<InternalInbox>),
}

/// A subscription: a subject filter, an optional queue group, and where matching
/// messages go.
pub struct Subscription {
    /// Who receives the messages.
    pub sink: Sink,
    /// Subject filter.
    pub subject: Bytes,
    /// Queue group, if any.
    pub queue: Option<Bytes>,
    /// Auto-unsubscribe after this many messages; 0 = never.
    pub max: Cell<u64>,
    /// Messages delivered so far.
    pub delivered: Cell<u64>,
}

impl Subscription {
    /// A subscription of the server itself (no client, no auto-unsubscribe).
    pub fn internal(subject: Bytes, queue: Option<Bytes>, inbox: Rc<InternalInbox>) -> Self {
        Subscription {
            sink: Sink::Internal(inbox),
            subject,
            queue,
            max: Cell::new(0),
            delivered: Cell::new(0),
        }
    }

    /// The client's id for this subscription; `None` for internal ones.
    pub fn sid(&self) -> Option<&Bytes> {
        match &self.sink {
            Sink::Client { sid, .. } => Some(sid),
            Sink::Internal(_) => None,
        }
    }

    /// The id of the client that owns this subscription; `None` for internal ones.
    pub fn owner(&self) -> Option<u64> {
        match &self.sink {
            Sink::Client { client, .. } => Some(client.cid),
            Sink::Internal(_) => None,
        }
    }

    /// Queue a message for this subscription's client. Returns false if the message
    /// was not accepted (client closing, or the subscription is used up).
    pub fn deliver(
        self: &Rc<Self>,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        let shown = shown_subject();
        let subject = shown.as_ref().unwrap_or(subject);
        let c = match &self.sink {
            Sink::Client { client, .. } => client,
            Sink::Internal(inbox) => return inbox.push(subject, reply, headers, payload),
        };
        if c.is_closing() {
            return false;
        }
        let max = self.max.get();
        let n = self.delivered.get() + 1;
        if max > 0 && n > max {
            return false;
        }
        self.delivered.set(n);
        let Sink::Client { sid, .. } = &self.sink else {
            return false;
        };
        c.queue_msg(subject, sid, reply.map(|r| &r[..]), headers, payload);
        if max > 0 && n == max {
            c.remove_subscription(sid);
        }
        true
    }
}

/// A message delivered to an internal subscriber.
#[derive(Debug, Clone)]
pub struct InternalMsg {
    /// The subject it was published to.
    pub subject: Bytes,
    /// Its reply subject.
    pub reply: Option<Bytes>,
    /// Its header block, if any.
    pub headers: Option<Bytes>,
    /// Its payload.
    pub payload: Bytes,
    /// Who published it, for `$JS.` subjects.
    pub origin: Option<std::sync::Arc<RequestInfo>>,
}

/// Messages an internal inbox may hold before the publishers feeding it wait (the
/// reader of a local connection, or the receiver of a peer core's batches). A stream
/// applies a batch of this size in a few milliseconds; the bound keeps a publisher
/// that ignores its PubAcks from growing the queue without limit when the disk is
/// slower than the network. Nothing is dropped: the publisher is slowed down.
pub const INBOX_HIGH_WATER: usize = 16 * 1024;

/// Payload + header bytes an internal inbox may hold before the publishers feeding it
/// wait: the message bound alone would let 16k large messages pile up.
pub const INBOX_HIGH_WATER_BYTES: usize = 32 * 1024 * 1024;

thread_local! {
    /// An internal inbox that went over its high-water mark during the operation
    /// being processed on this thread's shard; the reader (or peer receiver) takes it
    /// and waits for it to drain (see [`take_inbox_stall`]).
    static INBOX_STALL: RefCell<Option<Rc<InternalInbox>>> = const { RefCell::new(None) };
}

/// The inbox the current publisher should wait for, if any.
pub fn take_inbox_stall() -> Option<Rc<InternalInbox>> {
    INBOX_STALL.with(|s| s.borrow_mut().take())
}

/// Who published a request to the JetStream API (Go's `ClientInfo`, as it appears in
/// the API audit advisory). Built only for `$JS.` subjects, and carried with the
/// message across cores, so the meta layer on core 0 knows the requester.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestInfo {
    /// When the connection was accepted.
    pub start: crate::jetstream::gotime::GoTime,
    /// The client's IP address.
    pub host: String,
    /// The connection id.
    pub id: u64,
    /// The account.
    pub acc: String,
    /// The client's name from CONNECT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The client library language from CONNECT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// The client library version from CONNECT.
    #[serde(rename = "ver", skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The server the client is connected to.
    pub server: String,
    /// Always `Client` here.
    pub kind: &'static str,
    /// Always `nats` here.
    pub client_type: &'static str,
}

/// Subjects whose publishes carry a [`RequestInfo`] to internal subscribers.
pub const REQUEST_INFO_PREFIX: &[u8] = b"$JS.";

/// `$JS.` subjects that are not API requests (acks, flow-control replies): they
/// are the hot path of every consumer and nobody audits them.
const NO_REQUEST_INFO: [&[u8]; 2] = [b"$JS.ACK.", b"$JS.FC."];

/// Whether a publish on `subject` carries its requester (JetStream API requests,
/// with or without a domain).
pub fn needs_request_info(subject: &[u8]) -> bool {
    subject.starts_with(REQUEST_INFO_PREFIX)
        && !NO_REQUEST_INFO.iter().any(|p| subject.starts_with(p))
}

thread_local! {
    /// The requester of the message being delivered right now on this thread (set
    /// by the shard around one delivery, read by [`InternalInbox::push`]).
    static DELIVERING_FOR: RefCell<Option<std::sync::Arc<RequestInfo>>> = const { RefCell::new(None) };
}

/// Run `f` with `info` as the requester of the message it delivers.
pub fn delivering_for<T>(info: Option<std::sync::Arc<RequestInfo>>, f: impl FnOnce() -> T) -> T {
    if info.is_none() {
        return f();
    }
    let previous = DELIVERING_FOR.with(|d| d.replace(info));
    let out = f();
    DELIVERING_FOR.with(|d| *d.borrow_mut() = previous);
    out
}

thread_local! {
    /// The subject clients see on the message being delivered right now on this
    /// thread, when it differs from the subject it is routed by (see
    /// [`delivering_as`]).
    static SHOWN_SUBJECT: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// Run `f` with `shown` as the subject receivers see on the message it delivers.
///
/// A consumer routes a message by its deliver subject (or a pull request's reply
/// subject) but, as in Go, the `MSG` line carries the subject the message was
/// stored under. Internal subscribers see the shown subject too.
pub fn delivering_as<T>(shown: Option<Bytes>, f: impl FnOnce() -> T) -> T {
    if shown.is_none() {
        return f();
    }
    let previous = SHOWN_SUBJECT.with(|d| d.replace(shown));
    let out = f();
    SHOWN_SUBJECT.with(|d| *d.borrow_mut() = previous);
    out
}

/// The subject set by [`delivering_as`] for the delivery in progress, if any.
pub fn shown_subject() -> Option<Bytes> {
    SHOWN_SUBJECT.with(|d| d.borrow().clone())
}

/// Bytes a queued message counts against an inbox's bounds.
fn msg_size(headers: Option<&Bytes>, payload: &Bytes) -> usize {
    payload.len() + headers.map_or(0, |h| h.len())
}

impl InternalMsg {
    /// Payload + header bytes (what inbox bounds count).
    pub fn size(&self) -> usize {
        msg_size(self.headers.as_ref(), &self.payload)
    }
}

/// The queue between publishers and an internal subscriber's task. Publishers only
/// push (delivery stays synchronous and cannot re-enter the subscriber); the task
/// drains in arrival order, which is the order the stream must apply publishes in.
#[derive(Default)]
pub struct InternalInbox {
    /// Messages not yet taken by the task.
    queue: RefCell<std::collections::VecDeque<InternalMsg>>,
    /// Payload + header bytes in `queue`.
    queued_bytes: Cell<usize>,
    /// Past this, messages are refused (Go's per-stream ingest limit); `None`: never.
    limit: Option<InboxLimit>,
    /// Reply subjects of refused messages, for the task to answer (429).
    refused: RefCell<Vec<Bytes>>,
    /// Wakes the task when the queue becomes non-empty.
    wake: Notify,
    /// Fired each time the task takes a batch (stalled publishers wait on it).
    drained: Event,
    /// Set when the subscriber is gone; later deliveries are refused.
    closed: Cell<bool>,
}

/// How much an internal inbox holds before it refuses messages. Local publishers are
/// slowed down well before this (see [`INBOX_HIGH_WATER`]); the limit is for traffic
/// from other cores, whose receivers never wait on an inbox (a receiver that waited
/// could hold up the interest barrier the inbox's own task is waiting for).
#[derive(Debug, Clone, Copy)]
pub struct InboxLimit {
    /// Most queued messages.
    pub msgs: usize,
    /// Most queued payload + header bytes.
    pub bytes: usize,
}

/// Most refusals remembered between two batches (each is answered with a 429; past
/// this, a refused message with a reply subject goes unanswered, as Go's do).
const MAX_REFUSALS_PENDING: usize = 64 * 1024;

impl InternalInbox {
    /// A new, empty inbox without a limit.
    pub fn new() -> Rc<Self> {
        Rc::new(InternalInbox::default())
    }

    /// Whether publishers feeding a queue of `len` messages should wait.
    fn over_high_water(&self, len: usize) -> bool {
        len > INBOX_HIGH_WATER || self.queued_bytes.get() > INBOX_HIGH_WATER_BYTES
    }

    /// A new, empty inbox that refuses messages past `limit`.
    pub fn with_limit(limit: InboxLimit) -> Rc<Self> {
        Rc::new(InternalInbox {
            limit: Some(limit),
            ..InternalInbox::default()
        })
    }

    /// Reply subjects of messages refused since the last call.
    pub fn take_refused(&self) -> Vec<Bytes> {
        std::mem::take(&mut *self.refused.borrow_mut())
    }

    fn push(
        self: &Rc<Self>,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        if self.closed.get() {
            return false;
        }
        let size = msg_size(headers, payload);
        if let Some(limit) = self.limit {
            let len = self.queue.borrow().len();
            if len >= limit.msgs || self.queued_bytes.get() + size > limit.bytes {
                let mut refused = self.refused.borrow_mut();
                if let Some(r) = reply.filter(|r| !r.is_empty()) {
                    if refused.len() < MAX_REFUSALS_PENDING {
                        refused.push(r.clone());
                    }
                }
                return true;
            }
        }
        self.queued_bytes.set(self.queued_bytes.get() + size);
        let mut q = self.queue.borrow_mut();
        q.push_back(InternalMsg {
            subject: subject.clone(),
            reply: reply.cloned(),
            headers: headers.cloned(),
            payload: payload.clone(),
            origin: DELIVERING_FOR.with(|d| d.borrow().clone()),
        });
        if q.len() == 1 {
            self.wake.notify();
        }
        if self.over_high_water(q.len()) {
            INBOX_STALL.with(|s| {
                s.borrow_mut().get_or_insert_with(|| self.clone());
            });
        }
        true
    }

    /// Wait until the queue is at or below its high-water mark (or closed).
    pub async fn wait_below_high_water(&self) {
        while self.over_high_water(self.len()) && !self.closed.get() {
            self.drained.wait().await;
        }
    }

    /// Everything queued now, oldest first; waits while the queue is empty. `None`
    /// once the inbox is closed and drained.
    pub async fn next_batch(&self) -> Option<Vec<InternalMsg>> {
        self.next_batch_up_to(usize::MAX).await
    }

    /// The oldest queued messages, up to and including the one that reaches
    /// `max_bytes` of payload + headers (so at least one); waits while the queue is
    /// empty. `None` once the inbox is closed and drained. A task that holds what it
    /// took until it is done (a stream waiting for its disk) takes bounded batches, so
    /// the inbox refilling meanwhile does not double what is held.
    pub async fn next_batch_up_to(&self, max_bytes: usize) -> Option<Vec<InternalMsg>> {
        loop {
            let batch = {
                let mut queue = self.queue.borrow_mut();
                if self.queued_bytes.get() <= max_bytes {
                    // All of it fits: no need to count.
                    self.queued_bytes.set(0);
                    queue.drain(..).collect::<Vec<InternalMsg>>()
                } else {
                    let mut taken = 0usize;
                    let mut count = 0usize;
                    for m in queue.iter() {
                        count += 1;
                        taken += m.size();
                        if taken >= max_bytes {
                            break;
                        }
                    }
                    self.queued_bytes
                        .set(self.queued_bytes.get().saturating_sub(taken));
                    queue.drain(..count).collect::<Vec<InternalMsg>>()
                }
            };
            if !batch.is_empty() {
                self.drained.notify_all();
                return Some(batch);
            }
            if self.closed.get() {
                return None;
            }
            self.wake.notified().await;
        }
    }

    /// Messages waiting now.
    pub fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuse further messages and let the task finish what is queued.
    pub fn close(&self) {
        self.closed.set(true);
        self.wake.notify();
        self.drained.notify_all();
    }
}

/// Flags a client set in CONNECT (Go's defaults until it does).
#[derive(Debug, Clone, Copy)]
struct Flags {
    /// +OK after each operation.
    verbose: bool,
    /// Strict subject checks.
    pedantic: bool,
    /// Receive own publishes.
    echo: bool,
    /// HPUB/HMSG allowed.
    headers: bool,
    /// Wants 503 on requests without responders.
    no_responders: bool,
}

/// A client connection.
pub struct Client {
    /// Server-wide connection id.
    pub cid: u64,
    /// The shard this connection lives on.
    shard: Rc<Shard>,
    /// Remote address.
    peer: SocketAddr,
    /// Frames waiting for the writer.
    out: RefCell<BytesMut>,
    /// Bytes handed to the socket but not yet confirmed written; they count as pending.
    in_flight: Cell<usize>,
    /// Wakes the writer task.
    writer_wake: Notify,
    /// Set once closing starts; never cleared.
    closing: Cell<Option<CloseReason>>,
    /// CONNECT flags.
    flags: Cell<Flags>,
    /// CONNECT received.
    connected: Cell<bool>,
    /// Protocol level from CONNECT (1 = understands async INFO).
    protocol: Cell<i32>,
    /// PONGs sent so far; the first one is followed by the connect-info INFO.
    pongs_sent: Cell<u64>,
    /// Subscriptions by sid.
    subs: RefCell<HashMap<Bytes, Rc<Subscription>>>,
    /// PINGs sent without a PONG back.
    pings_out: Cell<u32>,
    /// When we last read anything from the client.
    last_in: Cell<Instant>,
    /// A SUB in the current read batch added interest that the other shards must learn
    /// before this client observes anything more (see `run_reader`).
    interest_dirty: Cell<bool>,
    /// While set, the writer holds this client's output (an interest barrier is in
    /// flight).
    output_held: Cell<bool>,
    /// Fired by the writer after each completed socket write: a stalled fast producer
    /// waits on it (see [`stall_for`]).
    drained: Event,
    /// When the connection was accepted (for `ClientInfo.start`).
    started: crate::jetstream::gotime::GoTime,
    /// `name`, `lang` and `version` from CONNECT (for `ClientInfo`).
    identity: RefCell<(String, String, String)>,
    /// [`Client::request_info`], built once (it only changes with `identity`).
    request_info: RefCell<Option<std::sync::Arc<RequestInfo>>>,
    /// Messages and bytes in and out (for `/connz`).
    pub stats: crate::stats::ConnStats,
    /// When the connection was accepted, on the monotonic clock (`started`'s twin,
    /// for uptimes and the CONNECT round-trip estimate).
    accepted: Instant,
    /// Last activity as Go counts it (`/connz` `last_activity`, `idle`): CONNECT, a
    /// read batch with a PUB, SUB or UNSUB, a write batch that carried messages.
    /// Set once per batch, never per message.
    last_activity: Cell<Instant>,
    /// A SUB or UNSUB was processed in the current read batch (activity, as in Go).
    sub_activity: Cell<bool>,
    /// Round-trip time (Go's `rtt`): estimated at CONNECT from the time since
    /// accept, then measured by each PING we send; zero until CONNECT.
    rtt: Cell<Duration>,
    /// When our last PING went out (the start of the next `rtt` measurement).
    rtt_start: Cell<Option<Instant>>,
}

impl Client {
    fn new(cid: u64, shard: Rc<Shard>, peer: SocketAddr) -> Client {
        let now = Instant::now();
        Client {
            cid,
            shard,
            peer,
            out: RefCell::new(BytesMut::with_capacity(4096)),
            in_flight: Cell::new(0),
            writer_wake: Notify::new(),
            closing: Cell::new(None),
            // Until CONNECT arrives Go applies its CONNECT defaults: verbose and pedantic.
            flags: Cell::new(Flags {
                verbose: true,
                pedantic: true,
                echo: true,
                headers: false,
                no_responders: false,
            }),
            protocol: Cell::new(0),
            pongs_sent: Cell::new(0),
            connected: Cell::new(false),
            subs: RefCell::new(HashMap::new()),
            pings_out: Cell::new(0),
            last_in: Cell::new(Instant::now()),
            interest_dirty: Cell::new(false),
            output_held: Cell::new(false),
            drained: Event::new(),
            started: crate::jetstream::gotime::GoTime::now(),
            identity: RefCell::new(Default::default()),
            request_info: RefCell::new(None),
            stats: crate::stats::ConnStats::default(),
            accepted: now,
            last_activity: Cell::new(now),
            sub_activity: Cell::new(false),
            rtt: Cell::new(Duration::ZERO),
            rtt_start: Cell::new(None),
        }
    }

    /// The remote address (`/connz` `ip`, `port`).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// When the connection was accepted: wall clock and monotonic clock.
    pub fn accepted(&self) -> (crate::jetstream::gotime::GoTime, Instant) {
        (self.started, self.accepted)
    }

    /// `name`, `lang` and `version` from CONNECT (empty before it).
    pub fn identity(&self) -> (String, String, String) {
        self.identity.borrow().clone()
    }

    /// Bytes queued for the client or being written (`/connz` `pending_bytes`).
    pub fn pending_bytes(&self) -> usize {
        self.pending()
    }

    /// The last round-trip time; zero before CONNECT.
    pub fn rtt(&self) -> Duration {
        self.rtt.get()
    }

    /// When the client was last active (see the `last_activity` field).
    pub fn last_activity(&self) -> Instant {
        self.last_activity.get()
    }

    /// The client's subscriptions now.
    pub fn subscriptions(&self) -> Vec<Rc<Subscription>> {
        self.subs.borrow().values().cloned().collect()
    }

    /// Subscriptions the client holds now.
    pub fn subscription_count(&self) -> usize {
        self.subs.borrow().len()
    }

    /// This client as the requester of a JetStream API call.
    /// The requester as the JetStream API sees it, shared by every request of this
    /// connection.
    pub fn request_info_shared(&self) -> std::sync::Arc<RequestInfo> {
        if let Some(info) = self.request_info.borrow().as_ref() {
            return info.clone();
        }
        let info = std::sync::Arc::new(self.request_info());
        *self.request_info.borrow_mut() = Some(info.clone());
        info
    }

    /// The requester as the JetStream API sees it (a fresh copy).
    pub fn request_info(&self) -> RequestInfo {
        let (name, lang, version) = self.identity.borrow().clone();
        RequestInfo {
            start: self.started,
            host: self.peer.ip().to_string(),
            id: self.cid,
            acc: GLOBAL_ACCOUNT.to_string(),
            name,
            lang,
            version,
            server: self.shard.info.server_id.clone(),
            kind: "Client",
            client_type: "nats",
        }
    }

    /// Whether this client receives its own publishes.
    pub fn echo(&self) -> bool {
        self.flags.get().echo
    }

    /// True once closing started.
    pub fn is_closing(&self) -> bool {
        self.closing.get().is_some()
    }

    /// Queue raw protocol bytes.
    fn queue_bytes(&self, b: &[u8]) {
        if self.is_closing() {
            return;
        }
        self.out.borrow_mut().extend_from_slice(b);
        self.after_queue();
    }

    /// Queue `-ERR '<text>'`.
    pub fn send_err(&self, text: &str) {
        if self.is_closing() {
            return;
        }
        write::err(&mut self.out.borrow_mut(), text);
        self.after_queue();
    }

    /// Queue a message frame for one of our subscriptions.
    fn queue_msg(
        &self,
        subject: &[u8],
        sid: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&Bytes>,
        payload: &[u8],
    ) {
        let size = headers.map_or(0, |h| h.len()) + payload.len();
        self.stats.outbound.add(size);
        {
            let mut out = self.out.borrow_mut();
            match headers {
                Some(h) if self.flags.get().headers => {
                    write::hmsg(&mut out, subject, sid, reply, h, payload)
                }
                // A client without header support gets the message without them.
                _ => write::msg(&mut out, subject, sid, reply, payload),
            }
        }
        self.after_queue();
    }

    /// After queueing: enforce max_pending, wake the writer.
    fn after_queue(&self) {
        let pending = self.out.borrow().len() + self.in_flight.get();
        if pending as i64 > self.shard.opts.max_pending {
            tracing::info!(
                "{} - cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                self.peer,
                self.cid,
                self.shard.opts.max_pending
            );
            // Pending data is dropped: flushing it to a reader this slow could take
            // minutes and is exactly what the limit exists to prevent.
            self.out.borrow_mut().clear();
            crate::stats::ShardStats::bump(&self.shard.stats.slow_consumers);
            self.close(CloseReason::SlowConsumerPendingBytes);
            return;
        }
        // Over 3/4 of max_pending: the publisher feeding us should slow down (Go's
        // fast-producer stall).
        if pending as i64 > self.shard.opts.max_pending / 4 * 3 {
            self.shard.request_stall(self);
        }
        self.writer_wake.notify();
    }

    /// Bytes queued or being written.
    fn pending(&self) -> usize {
        self.out.borrow().len() + self.in_flight.get()
    }

    /// Start closing: drop subscriptions, let the writer flush and shut the socket.
    pub fn close(&self, reason: CloseReason) {
        if self.is_closing() {
            return;
        }
        self.closing.set(Some(reason));
        // Before the subscriptions go: `/connz?state=closed` lists them.
        crate::monitor::connz::record_closed(&self.shard, self, reason);
        let subs: Vec<Rc<Subscription>> = self.subs.borrow_mut().drain().map(|(_, s)| s).collect();
        for s in &subs {
            self.shard.remove_sub(s);
        }
        self.shard.unregister(self.cid);
        // Keep this client's traffic in the shard's totals (`/varz`).
        self.shard.stats.inbound.absorb(&self.stats.inbound);
        self.shard.stats.outbound.absorb(&self.stats.outbound);
        self.shard.global.remove_connection();
        tracing::debug!(
            "{} - cid:{} - Client connection closed: {:?}",
            self.peer,
            self.cid,
            reason
        );
        self.writer_wake.notify();
    }

    /// Lame duck mode: tell a client that handles async INFO that this server is going
    /// away (Go's `sendLDMToClients`: protocol 1, and only once its first PONG went
    /// out, like every async INFO).
    pub fn send_lame_duck_info(&self) {
        if self.protocol.get() < 1 || self.pongs_sent.get() == 0 {
            return;
        }
        let ip = self.peer.ip().to_string();
        let line =
            self.shard
                .info
                .lame_duck_line(self.cid, &ip, self.shard.global.live.max_payload());
        self.queue_bytes(&line);
    }

    /// A reload lowered `max_connections` below the connections open: close this one
    /// as Go's `maxConnExceeded` does.
    pub fn close_max_connections_exceeded(&self) {
        tracing::error!(
            "{} - cid:{} - maximum connections exceeded",
            self.peer,
            self.cid
        );
        self.send_err("maximum connections exceeded");
        self.close(CloseReason::MaxConnectionsExceeded);
    }

    /// Remove a subscription by sid (UNSUB, or auto-unsubscribe reached).
    fn remove_subscription(&self, sid: &[u8]) {
        let removed = self.subs.borrow_mut().remove(sid);
        if let Some(s) = removed {
            // Withdrawn interest needs no barrier: the local subscription is gone at
            // once, so late messages from other shards find nobody to deliver to.
            self.shard.remove_sub(&s);
        }
    }

    /// Send +OK if the client asked for verbose mode.
    fn ok(&self) {
        if self.flags.get().verbose {
            self.queue_bytes(b"+OK\r\n");
        }
    }
}

/// Serve one accepted connection until it closes.
pub async fn serve(shard: Rc<Shard>, conn: Connection) {
    let peer = match conn.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let cid = shard.global.next_client_id();
    let (rd, wr) = conn.split();
    let client = Rc::new(Client::new(cid, shard.clone(), peer));
    let live = &shard.global.live;
    let info = shard
        .info
        .line_for(cid, &peer.ip().to_string(), live.max_payload());
    client.out.borrow_mut().extend_from_slice(&info);
    client.writer_wake.notify();
    if !shard.global.try_add_connection(live.max_connections()) {
        tracing::error!("{peer} - cid:{cid} - maximum connections exceeded");
        client.send_err("maximum connections exceeded");
        client
            .closing
            .set(Some(CloseReason::MaxConnectionsExceeded));
        // Go lists refused connections among the closed ones too.
        crate::monitor::connz::record_closed(&shard, &client, CloseReason::MaxConnectionsExceeded);
        run_writer(client, wr).await;
        return;
    }
    tracing::debug!("{peer} - cid:{cid} - Client connection created");
    crate::stats::ShardStats::bump(&shard.stats.total_connections);
    shard.register(client.clone());
    jetcore_router::spawn(run_writer(client.clone(), wr));
    jetcore_router::spawn(run_pinger(client.clone()));
    run_reader(client, rd).await;
}

/// How long a closing connection's writer may spend flushing its last bytes.
const CLOSE_FLUSH_DEADLINE: Duration = Duration::from_secs(1);

async fn run_writer(client: Rc<Client>, mut wr: WriteHalf) {
    let mut spare = BytesMut::with_capacity(4096);
    // Messages counted out at the previous write: a write that carried more is
    // delivery activity (Go sets `last` when it flushes deliveries), while a write of
    // only PONGs or +OKs is not.
    let mut msgs_seen = client.stats.outbound.msgs();
    loop {
        let held = client.output_held.get() && !client.is_closing();
        if client.out.borrow().is_empty() || held {
            if client.is_closing() && client.out.borrow().is_empty() {
                break;
            }
            client.writer_wake.notified().await;
            continue;
        }
        std::mem::swap(&mut *client.out.borrow_mut(), &mut spare);
        client.in_flight.set(spare.len());
        let deadline = if client.is_closing() {
            CLOSE_FLUSH_DEADLINE
        } else {
            client.shard.global.live.write_deadline()
        };
        let res = time::timeout(deadline, wr.write_all(&spare)).await;
        client.in_flight.set(0);
        spare.clear();
        // Don't keep a huge buffer around after a burst.
        if spare.capacity() > 1 << 20 {
            spare = BytesMut::with_capacity(4096);
        }
        client.drained.notify_all();
        match res {
            Ok(Ok(())) => {
                let msgs = client.stats.outbound.msgs();
                if msgs != msgs_seen {
                    msgs_seen = msgs;
                    client.last_activity.set(Instant::now());
                }
            }
            Ok(Err(_)) => {
                client.close(CloseReason::WriteError);
                break;
            }
            Err(_) => {
                if !client.is_closing() {
                    tracing::info!(
                        "{} - cid:{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                        client.peer,
                        client.cid,
                        deadline
                    );
                    crate::stats::ShardStats::bump(&client.shard.stats.slow_consumers);
                }
                client.close(CloseReason::SlowConsumerWriteDeadline);
                break;
            }
        }
    }
    wr.shutdown();
}

/// Go sends the first PING sooner than `ping_interval` (2 s) so dead connections are
/// found quickly after connect.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// How old a round-trip measurement may get before a PING is sent for a fresh one
/// even to a busy client (Go's `DEFAULT_RTT_MEASUREMENT_INTERVAL`).
const RTT_MEASUREMENT_INTERVAL: Duration = Duration::from_secs(3600);

async fn run_pinger(client: Rc<Client>) {
    // Read each round: a reload may change ping_interval and ping_max (as in Go).
    let live = &client.shard.global.live;
    let mut wait = live.ping_interval().min(FIRST_PING_INTERVAL);
    loop {
        time::sleep(wait).await;
        let interval = live.ping_interval();
        wait = interval;
        if client.is_closing() {
            return;
        }
        // Skip the PING while the client is visibly alive, as Go does, unless the
        // round-trip time needs measuring (never measured, or over an hour old: Go's
        // `needRTT`, which makes the first PING after CONNECT always go out).
        let need_rtt = client.rtt.get().is_zero()
            || client
                .rtt_start
                .get()
                .is_none_or(|t| t.elapsed() > RTT_MEASUREMENT_INTERVAL);
        if client.last_in.get().elapsed() < interval && client.pings_out.get() == 0 && !need_rtt {
            continue;
        }
        if client.pings_out.get() + 1 > live.ping_max() {
            client.send_err("Stale Connection");
            crate::stats::ShardStats::bump(&client.shard.stats.stale_connections);
            client.close(CloseReason::StaleConnection);
            return;
        }
        client.pings_out.set(client.pings_out.get() + 1);
        client.rtt_start.set(Some(Instant::now()));
        client.queue_bytes(b"PING\r\n");
    }
}

/// Initial read size; grows while reads fill it.
const INITIAL_READ: usize = 4096;
/// Largest read size.
const MAX_READ: usize = 256 * 1024;

/// The parser limits in force now (a reload may change them for every connection).
fn live_limits(client: &Client) -> ParserLimits {
    let live = &client.shard.global.live;
    ParserLimits {
        max_control_line: live.max_control_line() as usize,
        max_payload: live.max_payload() as usize,
    }
}

async fn run_reader(client: Rc<Client>, mut rd: ReadHalf) {
    let mut limits_seen = client.shard.global.live.generation();
    let mut parser = Parser::new(live_limits(&client));
    let mut buf = BytesMut::with_capacity(INITIAL_READ);
    let mut want = INITIAL_READ;
    'conn: loop {
        if client.is_closing() {
            break;
        }
        let n = match rd.read_into(&mut buf, want).await {
            Ok(0) => {
                client.close(CloseReason::ClientClosed);
                break;
            }
            Err(_) => {
                client.close(CloseReason::ReadError);
                break;
            }
            Ok(n) => n,
        };
        want = if n >= want {
            (want * 2).min(MAX_READ)
        } else {
            want
        };
        // A reload may have changed the limits while we waited for these bytes.
        let generation = client.shard.global.live.generation();
        if generation != limits_seen {
            limits_seen = generation;
            parser.set_limits(live_limits(&client));
        }
        let read_at = Instant::now();
        client.last_in.set(read_at);
        // Messages published before this batch: more after it is activity.
        let msgs_before = client.stats.inbound.msgs();
        // Time this read's producer spent stalled on slow subscribers.
        let mut stalled = Duration::ZERO;
        loop {
            if client.is_closing() {
                break 'conn;
            }
            match parser.next_op(&mut buf) {
                Ok(Some(op)) => {
                    if process(&client, &mut parser, op).await.is_err() {
                        break 'conn;
                    }
                    if let Some(slow) = client.shard.take_stall() {
                        stalled += stall_for(&slow, stalled).await;
                    }
                    if let Some(inbox) = take_inbox_stall() {
                        inbox.wait_below_high_water().await;
                    }
                }
                Ok(None) => {
                    // Go's `last` moves once per read batch with messages or
                    // (un)subscriptions in it; a batch of PINGs leaves it alone.
                    if client.sub_activity.replace(false)
                        || client.stats.inbound.msgs() != msgs_before
                    {
                        client.last_activity.set(read_at);
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!("{} - cid:{} - protocol error: {e}", client.peer, client.cid);
                    if let Some(text) = e.client_error() {
                        client.send_err(text);
                    }
                    let reason = if e.client_error() == Some("Maximum Payload Violation") {
                        CloseReason::MaxPayloadExceeded
                    } else {
                        CloseReason::ProtocolViolation
                    };
                    client.close(reason);
                    break 'conn;
                }
            }
        }
        if client.interest_dirty.replace(false) {
            // This batch subscribed. Before the client sees any answer to it (a PONG,
            // a +OK, a no-responders status...), every shard must know the new
            // interest; otherwise a publisher on another core, acting on that answer,
            // could miss the subscription. Go gives this for free by processing one
            // connection sequentially; here the output waits for a barrier round trip.
            client.output_held.set(true);
            client.shard.interest_barrier().await;
            client.output_held.set(false);
            client.writer_wake.notify();
        }
        // Backpressure: don't read more while peers are behind.
        client.shard.wait_outboxes().await;
        // Let the writers (ours and our subscribers') run before the next read. A
        // socket that always has data never returns Pending, so without this a fast
        // publisher kept the core to itself: its subscribers' writers never ran and
        // were closed as slow consumers (seen with --cores 1 under the load generator).
        jetcore_router::yield_now().await;
    }
}

/// A fast producer waits this long for a subscriber over 3/4 of `max_pending`...
const STALL_MIN: Duration = Duration::from_millis(2);
/// ...or this long when the subscriber is at `max_pending`...
const STALL_MAX: Duration = Duration::from_millis(5);
/// ...and at most this long in total per socket read. Go's values: a short damping
/// that lets a subscriber catch up on a burst, never a hard block.
const STALL_TOTAL: Duration = Duration::from_millis(10);

/// Wait (bounded, see above) for `slow` to write something out. Returns the time spent.
pub async fn stall_for(slow: &Client, already: Duration) -> Duration {
    if already >= STALL_TOTAL || slow.is_closing() {
        return Duration::ZERO;
    }
    let full = slow.pending() as i64 >= slow.shard.opts.max_pending;
    let ttl = if full { STALL_MAX } else { STALL_MIN }.min(STALL_TOTAL - already);
    crate::stats::ShardStats::bump(&slow.shard.stats.stalls);
    crate::stats::ShardStats::bump(&slow.stats.stalls);
    let start = Instant::now();
    let _ = time::timeout(ttl, slow.drained.wait()).await;
    start.elapsed()
}

/// The connection must close (the reason is already recorded).
struct Closed;

async fn process(client: &Rc<Client>, parser: &mut Parser, op: ClientOp) -> Result<(), Closed> {
    if client.shard.global.live.trace() {
        trace_op(client, &op);
    }
    match op {
        ClientOp::Connect(json) => {
            on_connect(client, &json)?;
            // HPUB is only accepted once the client has announced header support.
            parser.set_headers(client.flags.get().headers);
            Ok(())
        }
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => on_pub(client, subject, reply, None, payload),
        ClientOp::HPub {
            subject,
            reply,
            headers,
            payload,
        } => on_pub(client, subject, reply, Some(headers), payload),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            on_sub(client, subject, queue, sid);
            Ok(())
        }
        ClientOp::Unsub { sid, max } => {
            on_unsub(client, sid, max);
            Ok(())
        }
        ClientOp::Ping => {
            client.queue_bytes(b"PONG\r\n");
            let n = client.pongs_sent.get();
            client.pongs_sent.set(n + 1);
            if n == 0 && client.protocol.get() >= 1 {
                // Go 2.12+: tell a protocol-1 client its account after its first PONG.
                let ip = client.peer.ip().to_string();
                let line = client.shard.info.connect_info_line(
                    client.cid,
                    &ip,
                    GLOBAL_ACCOUNT,
                    client.shard.global.live.max_payload(),
                );
                client.queue_bytes(&line);
            }
            Ok(())
        }
        ClientOp::Pong => {
            // The answer to our PING: its round trip is the client's RTT (Go's
            // `processPong`). An unsolicited PONG measures nothing.
            if client.pings_out.replace(0) > 0 {
                if let Some(sent) = client.rtt_start.get() {
                    client.rtt.set(sent.elapsed().max(Duration::from_nanos(1)));
                }
            }
            Ok(())
        }
        ClientOp::Info(json) => {
            // Go ignores a client's INFO but closes (silently) when it is not JSON.
            if serde_json::from_slice::<serde_json::Value>(&json).is_err() {
                client.close(CloseReason::ProtocolViolation);
                return Err(Closed);
            }
            Ok(())
        }
        ClientOp::Ok => Ok(()),
        ClientOp::Err(_) => {
            // A client sending -ERR is closed without a reply, as Go does.
            client.close(CloseReason::ParseError);
            Err(Closed)
        }
    }
}

/// `-V`: log each operation the way Go traces it (`<<- [PUB foo 5]`).
fn trace_op(client: &Client, op: &ClientOp) {
    let l = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let o = |b: &Option<Bytes>| b.as_ref().map(|r| format!(" {}", l(r))).unwrap_or_default();
    let text = match op {
        ClientOp::Connect(j) => format!("CONNECT {}", l(j)),
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => format!("PUB {}{} {}", l(subject), o(reply), payload.len()),
        ClientOp::HPub {
            subject,
            reply,
            headers,
            payload,
        } => format!(
            "HPUB {}{} {} {}",
            l(subject),
            o(reply),
            headers.len(),
            headers.len() + payload.len()
        ),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => format!("SUB {}{} {}", l(subject), o(queue), l(sid)),
        ClientOp::Unsub { sid, max } => match max {
            Some(m) => format!("UNSUB {} {m}", l(sid)),
            None => format!("UNSUB {}", l(sid)),
        },
        ClientOp::Ping => "PING".into(),
        ClientOp::Pong => "PONG".into(),
        ClientOp::Info(j) => format!("INFO {}", l(j)),
        ClientOp::Ok => "+OK".into(),
        ClientOp::Err(e) => format!("-ERR {}", l(e)),
    };
    tracing::trace!("{} - cid:{} - <<- [{text}]", client.peer, client.cid);
}

fn on_connect(client: &Rc<Client>, json: &[u8]) -> Result<(), Closed> {
    let opts: ConnectOptions = match serde_json::from_slice(json) {
        Ok(o) => o,
        Err(e) => {
            // Go closes on a CONNECT it cannot unmarshal without sending -ERR.
            tracing::debug!("{} - cid:{} - bad CONNECT: {e}", client.peer, client.cid);
            client.close(CloseReason::ProtocolViolation);
            return Err(Closed);
        }
    };
    // Go's first RTT estimate: accept to CONNECT (the INFO and the client's answer).
    client
        .rtt
        .set(client.accepted.elapsed().max(Duration::from_nanos(1)));
    client.last_activity.set(Instant::now());
    // Go keeps the CONNECT options before checking them, so even a connection refused
    // below shows its name in `/connz?state=closed`.
    *client.request_info.borrow_mut() = None;
    *client.identity.borrow_mut() = (
        opts.name.clone().unwrap_or_default(),
        opts.lang.clone().unwrap_or_default(),
        opts.version.clone().unwrap_or_default(),
    );
    let headers = opts.headers && !client.shard.opts.no_header_support;
    if opts.no_responders && !headers {
        client.send_err("no responders requires headers support");
        client.close(CloseReason::NoRespondersRequiresHeaders);
        return Err(Closed);
    }
    client.flags.set(Flags {
        verbose: opts.verbose,
        pedantic: opts.pedantic,
        echo: opts.echo,
        headers,
        no_responders: opts.no_responders,
    });
    client.protocol.set(opts.protocol);
    client.connected.set(true);
    client.ok();
    Ok(())
}

fn on_pub(
    client: &Rc<Client>,
    subject: Bytes,
    reply: Option<Bytes>,
    headers: Option<Bytes>,
    payload: Bytes,
) -> Result<(), Closed> {
    let size = headers.as_ref().map_or(0, |h| h.len()) + payload.len();
    client.stats.inbound.add(size);
    let flags = client.flags.get();
    // Go checks a publish subject only for pedantic clients, and even then it reports
    // the error and still delivers (a wildcard token is matched as plain text).
    if flags.pedantic && !subject::is_valid_literal_subject(&subject) {
        client.send_err("Invalid Publish Subject");
    }
    // Go acknowledges a verbose PUB before delivering it (even to the publisher).
    client.ok();
    let shard = &client.shard;
    let delivered = shard.publish(client, &subject, reply.as_ref(), headers.as_ref(), &payload);
    if !delivered && flags.no_responders {
        if let Some(r) = &reply {
            shard.no_responders(client, &subject, r);
        }
    }
    Ok(())
}

fn on_sub(client: &Rc<Client>, subject: Bytes, queue: Option<Bytes>, sid: Bytes) {
    client.sub_activity.set(true);
    // Go's only check on a client's SUB subject is the sublist's own validity rule.
    if !subject::is_valid_sublist_subject(&subject) {
        client.send_err("Invalid Subject");
        return;
    }
    let max_subs = client.shard.opts.max_subscriptions as usize;
    if max_subs > 0 && client.subs.borrow().len() >= max_subs {
        tracing::error!(
            "{} - cid:{} - maximum subscriptions exceeded",
            client.peer,
            client.cid
        );
        client.send_err("maximum subscriptions exceeded");
        return;
    }
    if client.subs.borrow().contains_key(&sid) {
        // Go ignores a SUB that reuses a live sid.
        client.ok();
        return;
    }
    // Copy out of the read buffer: a subscription lives long, and a slice would pin
    // the whole (up to 256 KiB) buffer it came from.
    let sid = Bytes::copy_from_slice(&sid);
    let sub = Rc::new(Subscription {
        sink: Sink::Client {
            client: client.clone(),
            sid: sid.clone(),
        },
        subject: Bytes::copy_from_slice(&subject),
        queue: queue.map(|q| Bytes::copy_from_slice(&q)),
        max: Cell::new(0),
        delivered: Cell::new(0),
    });
    if client.shard.add_sub(&sub).is_err() {
        client.send_err("Invalid Subject");
        return;
    }
    client.subs.borrow_mut().insert(sid, sub);
    if client.shard.shards > 1 {
        client.interest_dirty.set(true);
    }
    client.ok();
}

fn on_unsub(client: &Rc<Client>, sid: Bytes, max: Option<u64>) {
    client.sub_activity.set(true);
    let sub = client.subs.borrow().get(&sid).cloned();
    if let Some(sub) = sub {
        match max {
            Some(m) if m > sub.delivered.get() => sub.max.set(m),
            _ => client.remove_subscription(&sid),
        }
    }
    client.ok();
}

/// Close every connection of the shard for shutdown, letting writers flush.
pub fn close_all(shard: &Shard) {
    for c in shard.clients() {
        c.close(CloseReason::ServerShutdown);
    }
}

#[cfg(test)]
mod inbox_tests {
    use super::*;

    fn push(inbox: &Rc<InternalInbox>, size: usize) -> bool {
        let subject = Bytes::from_static(b"s");
        inbox.push(&subject, None, None, &Bytes::from(vec![b'x'; size]))
    }

    fn sizes(batch: &[InternalMsg]) -> Vec<usize> {
        batch.iter().map(InternalMsg::size).collect()
    }

    #[test]
    fn bounded_batches_end_with_the_message_that_reaches_the_bound() {
        let inbox = InternalInbox::new();
        for size in [10, 20, 30, 40, 50] {
            push(&inbox, size);
        }
        let next = |max| futures_lite::future::block_on(inbox.next_batch_up_to(max));
        assert_eq!(sizes(&next(25).expect("batch")), [10, 20]);
        assert_eq!(inbox.queued_bytes.get(), 120);
        // A message larger than the bound still comes out, alone.
        assert_eq!(sizes(&next(1).expect("batch")), [30]);
        assert_eq!(sizes(&next(usize::MAX).expect("batch")), [40, 50]);
        assert_eq!(inbox.queued_bytes.get(), 0);
        inbox.close();
        assert!(next(usize::MAX).is_none());
    }

    #[test]
    fn the_limit_counts_only_what_is_still_queued() {
        let inbox = InternalInbox::with_limit(InboxLimit {
            msgs: 10,
            bytes: 100,
        });
        for _ in 0..4 {
            push(&inbox, 25);
        }
        push(&inbox, 25); // refused: 125 > 100
        assert_eq!(inbox.len(), 4);
        let batch = futures_lite::future::block_on(inbox.next_batch_up_to(50)).expect("batch");
        assert_eq!(batch.len(), 2);
        push(&inbox, 25);
        push(&inbox, 25);
        push(&inbox, 25); // refused again
        assert_eq!(inbox.len(), 4);
    }

    #[test]
    fn large_messages_reach_the_high_water_mark_by_bytes() {
        let inbox = InternalInbox::new();
        let _ = take_inbox_stall();
        for _ in 0..INBOX_HIGH_WATER_BYTES / (1 << 20) {
            push(&inbox, 1 << 20);
        }
        assert!(take_inbox_stall().is_none(), "at the mark, not over it");
        push(&inbox, 1);
        assert!(take_inbox_stall().is_some());
        assert!(inbox.over_high_water(inbox.len()));
    }
}
