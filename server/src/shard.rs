//! One shard: the state a core owns, and how a publish finds its subscribers.
//!
//! A shard holds its own connections' subscriptions in a [`Sublist`], plus a second
//! sublist of the *other* shards' interest, keyed by peer. Interest is exchanged as
//! deltas on the data plane (see `route.rs`). A publish is delivered to local matches
//! and forwarded once to each peer shard that has matching interest.
//!
//! Queue groups: the origin picks the receiving member uniformly among *all* members
//! on all shards (peers announce how many members they have), so a queue group behaves
//! exactly as on one Go server. Preferring local members — what Go does across a
//! cluster's routes — would send all work to whichever worker happens to share the
//! publisher's core and starve the others, which a single-server user never sees.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use jetcore_router::notify::Event;
use jetcore_router::{PeerGone, PeerSender};

use crate::client::{Client, Subscription};
use crate::global::Global;
use crate::options::Options;
use crate::outbox::Outbox;
use crate::protocol::info::ServerInfo;
use crate::route::{ControlItem, DataItem, RoutedMsg};
use crate::sublist::Sublist;

/// A local subscription as stored in the sublist: compared by identity.
#[derive(Clone)]
pub struct SubRef(pub Rc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// The control plane's sending end to one peer.
type ControlSender = PeerSender<Vec<ControlItem>>;

/// Index of a peer shard.
pub type PeerId = u16;

/// How many times a queue message may be passed on after its chosen shard lost the
/// group's members (each hop follows a fresher view of interest; the bound stops a
/// message from circling while membership churns).
const MAX_QUEUE_HOPS: usize = 3;

/// One peer's interest in one (subject, queue) key, as stored in the remote sublist.
/// The count is shared with `remote_counts` and updated in place, so cached match
/// results always see the current number of members.
#[derive(Clone)]
pub struct RemoteInterest {
    /// The peer shard.
    peer: PeerId,
    /// Members (queue) or 1 (plain) the peer has for this key.
    count: Rc<Cell<u32>>,
}

impl PartialEq for RemoteInterest {
    fn eq(&self, other: &Self) -> bool {
        self.peer == other.peer && Rc::ptr_eq(&self.count, &other.count)
    }
}

/// (subject, queue) — the unit of interest exchanged between shards.
type InterestKey = (Bytes, Option<Bytes>);

/// The live member count behind each remote sublist item, by (peer, key).
type RemoteCounts = HashMap<(PeerId, InterestKey), Rc<Cell<u32>>>;

/// An outstanding interest barrier (see [`DataItem::Barrier`]).
struct Barrier {
    /// Peers that have not acknowledged yet.
    remaining: usize,
}

/// State owned by one core.
pub struct Shard {
    /// This shard's index.
    pub id: usize,
    /// Number of shards in the process.
    pub shards: usize,
    /// Server options (read-only after start).
    pub opts: Arc<Options>,
    /// INFO template sent to each client.
    pub info: Arc<ServerInfo>,
    /// Process-wide counters and the stop flag.
    pub global: Arc<Global>,
    /// Subscriptions of this shard's connections.
    subs: RefCell<Sublist<SubRef>>,
    /// Local subscriptions per (subject, queue): interest is announced to peers when a
    /// count leaves 0 and withdrawn when it returns to 0.
    local_interest: RefCell<HashMap<InterestKey, u32>>,
    /// Interest of the other shards.
    remote: RefCell<Sublist<RemoteInterest>>,
    /// The live count behind each remote sublist item.
    remote_counts: RefCell<RemoteCounts>,
    /// Items waiting for each peer (index = peer; our own slot stays empty).
    pub outboxes: Vec<Outbox<DataItem>>,
    /// Barriers this shard started and is waiting on.
    barriers: RefCell<HashMap<u64, Barrier>>,
    /// Next barrier id.
    next_barrier: Cell<u64>,
    /// Fired whenever a barrier completes.
    barrier_done: Event,
    /// Open connections on this shard, for shutdown.
    clients: RefCell<HashMap<u64, Rc<Client>>>,
    /// Senders of the control plane, by peer (set once the mesh is connected).
    control: RefCell<Vec<Option<Rc<ControlSender>>>>,
    /// This core's JetStream state, when JetStream is enabled.
    pub jetstream: std::cell::OnceCell<Rc<crate::jetstream::runtime::JetStream>>,
    /// xorshift state for picking queue members (cheap and per-shard; not security).
    rng: Cell<u64>,
    /// A subscriber that went over 3/4 of its `max_pending` during the operation being
    /// processed; the publishing reader takes it and stalls briefly.
    stall: RefCell<Option<Rc<Client>>>,
    /// Traffic and event counters of this shard's clients (for `/varz`).
    pub stats: crate::stats::ShardStats,
    /// Connections this shard closed lately, newest last (for `/connz?state=closed`).
    pub closed: RefCell<std::collections::VecDeque<crate::monitor::connz::ClosedConn>>,
}

impl Shard {
    /// A new shard with empty indexes.
    pub fn new(
        id: usize,
        shards: usize,
        opts: Arc<Options>,
        info: Arc<ServerInfo>,
        global: Arc<Global>,
    ) -> Shard {
        Shard {
            id,
            shards,
            opts,
            info,
            global,
            subs: RefCell::new(Sublist::new()),
            local_interest: RefCell::new(HashMap::new()),
            remote: RefCell::new(Sublist::new()),
            remote_counts: RefCell::new(HashMap::new()),
            outboxes: (0..shards).map(|_| Outbox::default()).collect(),
            barriers: RefCell::new(HashMap::new()),
            next_barrier: Cell::new(1),
            barrier_done: Event::new(),
            clients: RefCell::new(HashMap::new()),
            stall: RefCell::new(None),
            stats: crate::stats::ShardStats::default(),
            closed: RefCell::new(std::collections::VecDeque::new()),
            control: RefCell::new(Vec::new()),
            jetstream: std::cell::OnceCell::new(),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) << 32) ^ rand::random::<u64>()),
        }
    }

    /// This shard's figures for the monitor.
    pub fn snapshot(&self) -> crate::stats::ShardSnapshot {
        let st = &self.stats;
        let clients = self.clients.borrow();
        // Open clients' traffic plus what closed ones left in the totals.
        let sum = |f: fn(&Client) -> u64| clients.values().map(|c| f(c)).sum::<u64>();
        crate::stats::ShardSnapshot {
            shard: self.id,
            connections: clients.len() as u64,
            subscriptions: sum(|c| c.subscription_count() as u64),
            in_msgs: st.inbound.msgs() + sum(|c| c.stats.inbound.msgs()),
            in_bytes: st.inbound.bytes() + sum(|c| c.stats.inbound.bytes()),
            out_msgs: st.outbound.msgs() + sum(|c| c.stats.outbound.msgs()),
            out_bytes: st.outbound.bytes() + sum(|c| c.stats.outbound.bytes()),
            total_connections: st.total_connections.get(),
            slow_consumers: st.slow_consumers.get(),
            stale_connections: st.stale_connections.get(),
            stalls: st.stalls.get(),
            sublist_entries: self.subs.borrow().len() as u64,
            outbox_depth: self.outboxes.iter().map(|o| o.len() as u64).sum(),
            streams: self.jetstream.get().map_or(0, |j| j.stream_count() as u64),
        }
    }

    /// The subject index's counters (for `/subsz`).
    pub fn sublist_stats(&self) -> crate::sublist::SublistStats {
        self.subs.borrow().stats()
    }

    /// Note that `client` is falling behind (see `stall`).
    pub fn request_stall(&self, client: &Client) {
        if self.stall.borrow().is_none() {
            if let Some(c) = self.clients.borrow().get(&client.cid) {
                *self.stall.borrow_mut() = Some(c.clone());
            }
        }
    }

    /// The subscriber a publisher should wait for, if any.
    pub fn take_stall(&self) -> Option<Rc<Client>> {
        self.stall.borrow_mut().take()
    }

    /// Remember an open connection.
    pub fn register(&self, client: Rc<Client>) {
        self.clients.borrow_mut().insert(client.cid, client);
    }

    /// Forget a closed connection.
    pub fn unregister(&self, cid: u64) {
        self.clients.borrow_mut().remove(&cid);
    }

    /// Snapshot of the open connections.
    pub fn clients(&self) -> Vec<Rc<Client>> {
        self.clients.borrow().values().cloned().collect()
    }

    fn next_random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    fn pick(&self, n: usize) -> usize {
        (self.next_random() % n as u64) as usize
    }

    /// Add a local subscription to the index and announce new interest to peers.
    pub fn add_sub(&self, sub: &Rc<Subscription>) -> Result<(), crate::sublist::SublistError> {
        self.subs
            .borrow_mut()
            .insert(&sub.subject, sub.queue.as_deref(), SubRef(sub.clone()))?;
        let key = (sub.subject.clone(), sub.queue.clone());
        let mut li = self.local_interest.borrow_mut();
        let n = li.entry(key).or_insert(0);
        *n += 1;
        // Plain interest only matters as present/absent; queue interest is announced
        // per member so peers can weigh their choice.
        if *n == 1 || sub.queue.is_some() {
            self.announce(&sub.subject, &sub.queue, 1);
        }
        Ok(())
    }

    /// Remove a local subscription and withdraw interest when it was the last.
    pub fn remove_sub(&self, sub: &Rc<Subscription>) {
        let removed =
            self.subs
                .borrow_mut()
                .remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
        if !removed {
            return;
        }
        let key = (sub.subject.clone(), sub.queue.clone());
        let mut li = self.local_interest.borrow_mut();
        if let Some(n) = li.get_mut(&key) {
            *n -= 1;
            let last = *n == 0;
            if last {
                li.remove(&key);
            }
            if last || sub.queue.is_some() {
                self.announce(&sub.subject, &sub.queue, -1);
            }
        }
    }

    fn announce(&self, subject: &Bytes, queue: &Option<Bytes>, delta: i32) {
        for (peer, ob) in self.outboxes.iter().enumerate() {
            if peer != self.id {
                ob.push(DataItem::Interest {
                    subject: subject.clone(),
                    queue: queue.clone(),
                    delta,
                });
            }
        }
    }

    /// Apply a peer's interest delta to the remote index.
    fn apply_interest(&self, peer: PeerId, subject: Bytes, queue: Option<Bytes>, delta: i32) {
        let key = (peer, (subject, queue));
        let mut counts = self.remote_counts.borrow_mut();
        if let Some(cell) = counts.get(&key) {
            let after = cell.get().saturating_add_signed(delta);
            cell.set(after);
            if after == 0 {
                let item = RemoteInterest {
                    peer,
                    count: cell.clone(),
                };
                let (subject, queue) = &key.1;
                self.remote
                    .borrow_mut()
                    .remove(subject, queue.as_deref(), &item);
                counts.remove(&key);
            }
        } else if delta > 0 {
            let cell = Rc::new(Cell::new(delta as u32));
            let item = RemoteInterest {
                peer,
                count: cell.clone(),
            };
            let (subject, queue) = &key.1;
            // A peer only announces keys its own sublist accepted; should one still be
            // refused, ignoring it is safer than crashing a core on a peer's word.
            if self
                .remote
                .borrow_mut()
                .insert(subject, queue.as_deref(), item)
                .is_ok()
            {
                counts.insert(key, cell);
            }
        }
    }

    /// Deliver a client's publish everywhere it is wanted. Returns whether anyone at
    /// all (locally or on another shard) had interest.
    pub fn publish(
        &self,
        from: &Client,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        let origin = Origin {
            cid: Some(from.cid),
            echo: from.echo(),
            info: crate::client::needs_request_info(subject).then(|| from.request_info_shared()),
        };
        self.route(origin, subject, reply, headers, payload)
    }

    /// Publish on behalf of the server itself (PubAcks, API responses, advisories).
    /// Returns whether anyone had interest.
    pub fn publish_internal(
        &self,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        let origin = Origin {
            cid: None,
            echo: true,
            info: None,
        };
        let any = self.route(origin, subject, reply, headers, payload);
        // The server's own publishes never wait for an inbox; don't leave the mark for
        // an unrelated reader to find.
        let _ = crate::client::take_inbox_stall();
        any
    }

    /// Publish as the server, routed by `route_to` but shown to receivers as
    /// `shown` (how a consumer delivers a stored message to its deliver subject or a
    /// pull request's reply subject). Returns whether anyone received it.
    pub fn publish_internal_as(
        &self,
        route_to: &Bytes,
        shown: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        crate::client::delivering_as(Some(shown.clone()), || {
            self.publish_internal(route_to, reply, headers, payload)
        })
    }

    fn route(
        &self,
        origin: Origin,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        let info = origin.info.clone();
        crate::client::delivering_for(info, || {
            self.route_with(origin, subject, reply, headers, payload)
        })
    }

    fn route_with(
        &self,
        origin: Origin,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        let local = self.subs.borrow_mut().matches(subject);
        let remote = if self.shards > 1 {
            let r = self.remote.borrow_mut().matches(subject);
            (!r.is_empty()).then_some(r)
        } else {
            None
        };
        let eligible = |s: &&SubRef| origin.echo || s.0.owner() != origin.cid;
        let mut any = false;
        for s in local.plain.iter().filter(eligible) {
            any |= s.0.deliver(subject, reply, headers, payload);
        }
        if local.queues.is_empty() && remote.is_none() {
            return any;
        }
        let mut routes = Routes::new(self.shards);
        if let Some(r) = &remote {
            for item in &r.plain {
                routes.plain(item.peer);
            }
        }
        for qg in &local.queues {
            let remote_members = remote
                .as_ref()
                .and_then(|r| r.queues.iter().find(|g| g.name == qg.name))
                .map_or(&[][..], |g| &g.members[..]);
            let local_members: Vec<&SubRef> = qg.members.iter().filter(eligible).collect();
            match self.choose(local_members.len(), remote_members) {
                Choice::Local(i) => {
                    any |= self.deliver_from(&local_members, i, subject, reply, headers, payload)
                }
                Choice::Peer(p) => routes.queue(p, &qg.name),
                Choice::Nobody => {}
            }
        }
        if let Some(r) = &remote {
            for g in &r.queues {
                if local.queues.iter().any(|l| l.name == g.name) {
                    continue;
                }
                if let Choice::Peer(p) = self.choose(0, &g.members) {
                    routes.queue(p, &g.name);
                }
            }
        }
        any | routes.send(
            self,
            subject,
            reply,
            headers,
            payload,
            Forward {
                hops: 0,
                origin: origin.info,
            },
        )
    }

    /// Pick a queue member uniformly among `local` eligible local members and the
    /// members peers announced.
    fn choose(&self, local: usize, remote: &[RemoteInterest]) -> Choice {
        let remote_total: u64 = remote.iter().map(|r| r.count.get() as u64).sum();
        let total = local as u64 + remote_total;
        if total == 0 {
            return Choice::Nobody;
        }
        let mut r = self.next_random() % total;
        if r < local as u64 {
            return Choice::Local(r as usize);
        }
        r -= local as u64;
        for item in remote {
            let w = item.count.get() as u64;
            if r < w {
                return Choice::Peer(item.peer);
            }
            r -= w;
        }
        Choice::Nobody
    }

    /// Deliver to `members[start]`, or the next member that accepts (one may be
    /// closing). Returns whether one did.
    fn deliver_from(
        &self,
        members: &[&SubRef],
        start: usize,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> bool {
        (0..members.len())
            .map(|i| members[(start + i) % members.len()])
            .any(|s| s.0.deliver(subject, reply, headers, payload))
    }

    /// Handle one item a peer sent us.
    pub fn on_peer_item(&self, peer: usize, item: DataItem) {
        match item {
            DataItem::Msg(m) => self.deliver_routed(m),
            DataItem::Interest {
                subject,
                queue,
                delta,
            } => self.apply_interest(peer as PeerId, subject, queue, delta),
            DataItem::Barrier { id } => self.outboxes[peer].push(DataItem::BarrierAck { id }),
            DataItem::BarrierAck { id } => self.barrier_acked(id),
        }
    }

    /// Deliver a message forwarded by a peer to our local subscribers.
    ///
    /// A queue group the origin assigned to us may have lost its last local member
    /// while the message was in flight (the origin had not yet seen our `-1`). A single
    /// Go server never loses such a message, so we pass it on to another shard that
    /// still has members, a bounded number of times.
    fn deliver_routed(&self, m: RoutedMsg) {
        let info = m.origin.clone();
        let shown = m.shown.clone();
        crate::client::delivering_for(info, || {
            crate::client::delivering_as(shown, || self.deliver_routed_with(m))
        })
    }

    fn deliver_routed_with(&self, m: RoutedMsg) {
        let local = self.subs.borrow_mut().matches(&m.subject);
        let reply = m.reply.as_ref();
        let headers = m.headers.as_ref();
        if m.plain {
            for s in &local.plain {
                s.0.deliver(&m.subject, reply, headers, &m.payload);
            }
        }
        let mut orphans = Vec::new();
        for q in &m.queues {
            let delivered = local
                .queues
                .iter()
                .find(|g| g.name == *q)
                .is_some_and(|qg| {
                    let members: Vec<&SubRef> = qg.members.iter().collect();
                    let start = self.pick(members.len());
                    self.deliver_from(&members, start, &m.subject, reply, headers, &m.payload)
                });
            if !delivered {
                orphans.push(q.clone());
            }
        }
        if !orphans.is_empty() && (m.hops as usize) < MAX_QUEUE_HOPS.min(self.shards) {
            self.pass_on(&m, orphans);
        }
    }

    /// Forward queue groups that found no member here to shards that still have one.
    fn pass_on(&self, m: &RoutedMsg, groups: Vec<Bytes>) {
        let remote = self.remote.borrow_mut().matches(&m.subject);
        let mut routes = Routes::new(self.shards);
        for q in &groups {
            let members = remote
                .queues
                .iter()
                .find(|g| g.name == *q)
                .map_or(&[][..], |g| &g.members[..]);
            if let Choice::Peer(p) = self.choose(0, members) {
                routes.queue(p, q);
            }
        }
        routes.send(
            self,
            &m.subject,
            m.reply.as_ref(),
            m.headers.as_ref(),
            &m.payload,
            Forward {
                hops: m.hops + 1,
                origin: m.origin.clone(),
            },
        );
    }

    /// Send a barrier to every peer and wait until all have acknowledged it, so that
    /// every interest change pushed before now is applied on every shard.
    pub async fn interest_barrier(&self) {
        if self.shards < 2 {
            return;
        }
        let id = self.next_barrier.get();
        self.next_barrier.set(id + 1);
        self.barriers.borrow_mut().insert(
            id,
            Barrier {
                remaining: self.shards - 1,
            },
        );
        for (peer, ob) in self.outboxes.iter().enumerate() {
            if peer != self.id {
                ob.push(DataItem::Barrier { id });
            }
        }
        while self.barriers.borrow().contains_key(&id) {
            if self.global.shutdown.is_raised() {
                self.barriers.borrow_mut().remove(&id);
                return;
            }
            self.barrier_done.wait().await;
        }
    }

    fn barrier_acked(&self, id: u64) {
        let mut b = self.barriers.borrow_mut();
        if let Some(state) = b.get_mut(&id) {
            state.remaining -= 1;
            if state.remaining == 0 {
                b.remove(&id);
                drop(b);
                self.barrier_done.notify_all();
            }
        }
    }

    /// Wait until no peer outbox is over its high-water mark (backpressure).
    pub async fn wait_outboxes(&self) {
        for ob in &self.outboxes {
            ob.wait_below_high_water().await;
        }
    }

    /// Whether anyone, on any core, subscribes to `subject` (lets advisories skip
    /// building a body nobody will read).
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        let local = self.subs.borrow_mut().matches(subject);
        if !local.plain.is_empty() || !local.queues.is_empty() {
            return true;
        }
        self.shards > 1 && !self.remote.borrow_mut().matches(subject).is_empty()
    }

    /// Keep the control plane's senders (called once at start).
    pub fn set_control_senders(&self, senders: Vec<Option<PeerSender<Vec<ControlItem>>>>) {
        *self.control.borrow_mut() = senders.into_iter().map(|s| s.map(Rc::new)).collect();
    }

    /// Run `job` on shard `core` and return its result. On our own core the job runs
    /// here. The job is built on this thread and sent, so it may only capture `Send`
    /// data; it gets the target shard and returns a local future.
    pub async fn call_on<T, J, F>(self: &Rc<Self>, core: usize, job: J) -> Result<T, PeerGone>
    where
        T: Send + 'static,
        J: FnOnce(Rc<Shard>) -> F + Send + 'static,
        F: std::future::Future<Output = T> + 'static,
    {
        if core == self.id {
            return Ok(job(self.clone()).await);
        }
        let sender = self
            .control
            .borrow()
            .get(core)
            .cloned()
            .flatten()
            .ok_or(PeerGone)?;
        let (tx, rx) = futures_channel::oneshot::channel();
        let item = ControlItem::Call(Box::new(move |shard: &Rc<Shard>| {
            let fut = job(shard.clone());
            jetcore_router::spawn(async move {
                let _ = tx.send(fut.await);
            });
        }));
        sender.send(vec![item]).await?;
        rx.await.map_err(|_| PeerGone)
    }

    /// Handle one control item a peer sent us.
    pub fn on_control_item(self: &Rc<Self>, item: ControlItem) {
        match item {
            ControlItem::Stopping => {}
            ControlItem::Call(job) => job(self),
        }
    }

    /// Deliver a no-responders status to the requester's own subscription on `reply`.
    pub fn no_responders(&self, from: &Client, subject: &Bytes, reply: &Bytes) {
        let local = self.subs.borrow_mut().matches(reply);
        let own = local
            .plain
            .iter()
            .chain(local.queues.iter().flat_map(|q| q.members.iter()))
            .find(|s| s.0.owner() == Some(from.cid));
        if let Some(s) = own {
            let hdr = Bytes::from(crate::protocol::write::no_responders_header(subject));
            s.0.deliver(reply, None, Some(&hdr), &Bytes::new());
        }
    }
}

/// Who published a message: for the echo rule, and (JetStream API subjects only)
/// the requester's details.
#[derive(Clone)]
struct Origin {
    /// The publishing client; `None` for the server itself.
    cid: Option<u64>,
    /// Whether that client receives its own messages.
    echo: bool,
    /// The requester, for `$JS.` subjects.
    info: Option<Arc<crate::client::RequestInfo>>,
}

/// What travels with a forwarded message besides the message itself.
struct Forward {
    /// Times it was passed on already (0 from the origin).
    hops: u8,
    /// The requester, for `$JS.` subjects.
    origin: Option<Arc<crate::client::RequestInfo>>,
}

/// Where a queue group's message goes.
enum Choice {
    /// To the i-th eligible local member.
    Local(usize),
    /// To this peer shard, which picks one of its members.
    Peer(PeerId),
    /// No member anywhere.
    Nobody,
}

/// What to forward to each peer for one publish: plain delivery and/or queue groups.
/// Its vectors are sized on first use, so a publish that stays on this core (the
/// common single-core case with queue groups) allocates nothing for routing.
struct Routes {
    /// Number of shards (the size of both vectors once used).
    shards: usize,
    /// Per peer: deliver to its plain subscribers.
    plain: Vec<bool>,
    /// Per peer: queue groups the origin assigned to it.
    queues: Vec<Vec<Bytes>>,
}

impl Routes {
    fn new(shards: usize) -> Routes {
        Routes {
            shards,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }

    fn sized(&mut self) {
        if self.plain.is_empty() {
            self.plain = vec![false; self.shards];
            self.queues = vec![Vec::new(); self.shards];
        }
    }

    fn plain(&mut self, peer: PeerId) {
        self.sized();
        self.plain[peer as usize] = true;
    }

    fn queue(&mut self, peer: PeerId, name: &Bytes) {
        self.sized();
        self.queues[peer as usize].push(name.clone());
    }

    /// Push one message per peer that has something to receive; `hops` is how often
    /// the message was already passed on (0 from the origin).
    fn send(
        self,
        shard: &Shard,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
        forward: Forward,
    ) -> bool {
        let mut any = false;
        for (peer, queues) in self.queues.into_iter().enumerate() {
            let plain = self.plain[peer];
            if !plain && queues.is_empty() {
                continue;
            }
            any = true;
            shard.outboxes[peer].push(DataItem::Msg(RoutedMsg {
                subject: subject.clone(),
                reply: reply.cloned(),
                headers: headers.cloned(),
                payload: payload.clone(),
                plain,
                queues,
                hops: forward.hops,
                origin: forward.origin.clone(),
                shown: crate::client::shown_subject(),
            }));
        }
        any
    }
}
