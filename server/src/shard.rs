//! One shard: the state a core owns, and how a publish finds its subscribers.
//!
//! A shard holds its own connections' subscriptions in a [`Sublist`], plus a second
//! sublist of the *other* shards' interest, keyed by peer. Interest is exchanged as
//! deltas on the data plane (see `route.rs`). A publish is delivered to local matches
//! and forwarded once to each peer shard that has matching interest; for a queue group
//! the origin picks one member, preferring a local one, as Go prefers local members over
//! routes.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use jetcore_router::notify::Event;

use crate::client::{Client, Subscription};
use crate::global::Global;
use crate::options::Options;
use crate::outbox::Outbox;
use crate::protocol::info::ServerInfo;
use crate::route::{DataItem, RoutedMsg};
use crate::sublist::Sublist;

/// A local subscription as stored in the sublist: compared by identity.
#[derive(Clone)]
pub struct SubRef(pub Rc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Index of a peer shard in the remote-interest sublist.
pub type PeerId = u16;

/// (subject, queue) — the unit of interest exchanged between shards.
type InterestKey = (Bytes, Option<Bytes>);

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
    /// Interest of the other shards, items are peer ids.
    remote: RefCell<Sublist<PeerId>>,
    /// Per peer, how many announcements of each key are live (a peer announces a key
    /// once, but counting keeps us robust to repeated deltas).
    remote_counts: RefCell<HashMap<(PeerId, InterestKey), u32>>,
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
    /// xorshift state for picking queue members (cheap and per-shard; not security).
    rng: Cell<u64>,
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
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) << 32) ^ rand::random::<u64>()),
        }
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
        if *n == 1 {
            self.announce(&sub.subject, &sub.queue, 1);
        }
        Ok(())
    }

    /// Remove a local subscription and withdraw interest when it was the last.
    pub fn remove_sub(&self, sub: &Rc<Subscription>) {
        let removed = self.subs.borrow_mut().remove(
            &sub.subject,
            sub.queue.as_deref(),
            &SubRef(sub.clone()),
        );
        if !removed {
            return;
        }
        let key = (sub.subject.clone(), sub.queue.clone());
        let mut li = self.local_interest.borrow_mut();
        if let Some(n) = li.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                li.remove(&key);
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
        let before = counts.get(&key).copied().unwrap_or(0);
        let after = if delta > 0 {
            before.saturating_add(delta as u32)
        } else {
            before.saturating_sub(delta.unsigned_abs())
        };
        let (subject, queue) = &key.1;
        if before == 0 && after > 0 {
            // A peer only announces subjects its own sublist accepted; a failure here
            // would mean a corrupted delta, which we ignore rather than crash on.
            let _ = self
                .remote
                .borrow_mut()
                .insert(subject, queue.as_deref(), peer);
        } else if before > 0 && after == 0 {
            self.remote
                .borrow_mut()
                .remove(subject, queue.as_deref(), &peer);
        }
        if after == 0 {
            counts.remove(&key);
        } else {
            counts.insert(key, after);
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
        let local = self.subs.borrow_mut().matches(subject);
        let mut any = false;
        for s in &local.plain {
            if !from.echo() && s.0.client.cid == from.cid {
                continue;
            }
            any |= s.0.deliver(subject, reply, headers, payload);
        }
        let mut queues_done: Vec<&[u8]> = Vec::new();
        for qg in &local.queues {
            let members: Vec<&SubRef> = qg
                .members
                .iter()
                .filter(|s| from.echo() || s.0.client.cid != from.cid)
                .collect();
            if let Some(d) = self.deliver_to_one(&members, subject, reply, headers, payload) {
                any |= d;
                queues_done.push(&qg.name);
            }
        }
        if self.shards > 1 {
            any |= self.forward(subject, reply, headers, payload, &queues_done);
        }
        any
    }

    /// Try members in random order until one accepts. `None` when the group had no
    /// usable member here.
    fn deliver_to_one(
        &self,
        members: &[&SubRef],
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
    ) -> Option<bool> {
        if members.is_empty() {
            return None;
        }
        let start = self.pick(members.len());
        for i in 0..members.len() {
            let s = members[(start + i) % members.len()];
            if s.0.deliver(subject, reply, headers, payload) {
                return Some(true);
            }
        }
        None
    }

    /// Forward to peers with interest; queue groups already served locally are skipped.
    fn forward(
        &self,
        subject: &Bytes,
        reply: Option<&Bytes>,
        headers: Option<&Bytes>,
        payload: &Bytes,
        queues_done: &[&[u8]],
    ) -> bool {
        let remote = self.remote.borrow_mut().matches(subject);
        if remote.plain.is_empty() && remote.queues.is_empty() {
            return false;
        }
        let mut plain = vec![false; self.shards];
        for &p in &remote.plain {
            plain[p as usize] = true;
        }
        let mut queues: Vec<Vec<Bytes>> = vec![Vec::new(); self.shards];
        for qg in &remote.queues {
            if queues_done.contains(&&qg.name[..]) || qg.members.is_empty() {
                continue;
            }
            let peer = qg.members[self.pick(qg.members.len())];
            queues[peer as usize].push(qg.name.clone());
        }
        let mut any = false;
        for (peer, q) in queues.into_iter().enumerate() {
            if !plain[peer] && q.is_empty() {
                continue;
            }
            any = true;
            self.outboxes[peer].push(DataItem::Msg(RoutedMsg {
                subject: subject.clone(),
                reply: reply.cloned(),
                headers: headers.cloned(),
                payload: payload.clone(),
                plain: plain[peer],
                queues: q,
            }));
        }
        any
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
    fn deliver_routed(&self, m: RoutedMsg) {
        let local = self.subs.borrow_mut().matches(&m.subject);
        let reply = m.reply.as_ref();
        let headers = m.headers.as_ref();
        if m.plain {
            for s in &local.plain {
                s.0.deliver(&m.subject, reply, headers, &m.payload);
            }
        }
        for q in &m.queues {
            if let Some(qg) = local.queues.iter().find(|g| g.name == *q) {
                let members: Vec<&SubRef> = qg.members.iter().collect();
                self.deliver_to_one(&members, &m.subject, reply, headers, &m.payload);
            }
        }
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

    /// Deliver a no-responders status to the requester's own subscription on `reply`.
    pub fn no_responders(&self, from: &Client, subject: &Bytes, reply: &Bytes) {
        let local = self.subs.borrow_mut().matches(reply);
        let own = local
            .plain
            .iter()
            .chain(local.queues.iter().flat_map(|q| q.members.iter()))
            .find(|s| s.0.client.cid == from.cid);
        if let Some(s) = own {
            let hdr = Bytes::from(crate::protocol::write::no_responders_header(subject));
            s.0.deliver(reply, None, Some(&hdr), &Bytes::new());
        }
    }
}
