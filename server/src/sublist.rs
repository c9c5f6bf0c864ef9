//! The subject index ("sublist"): subscription filters → interested items,
//! with a bounded match cache in front.
//!
//! Every publish asks "who is interested in this subject?", so this is the
//! hottest data structure in the server. Each core owns one `Sublist` per
//! account for its own connections (single-threaded: no locks, `Rc` not
//! `Arc`). The semantics mirror Go's `server/sublist.go`:
//!
//! * A token trie. Each level maps literal tokens to child nodes and has two
//!   extra slots for the `*` (pwc) and `>` (fwc) children, so a match walks
//!   one path per literal token plus one branch per `*` level.
//! * Results keep plain subscribers apart from queue subscribers; queue
//!   members are grouped **by queue name across all matching filters**
//!   (members of `q` on `foo.*` and on `foo.bar` form one group for
//!   `foo.bar`, as in Go's `addNodeToResults`/`findQSlot`), and empty groups
//!   never appear.
//! * A cache of up to [`CACHE_MAX`] published subjects → shared results,
//!   including empty results (publishing with no subscribers is common).
//!   When it overflows it is swept down to [`CACHE_SWEEP`] entries, entries
//!   not hit since the previous sweep going first (Go drops at random).
//!   Inserts and removes patch the affected entries in place (copy-on-write
//!   if a caller still holds the old `Rc`) instead of clearing the cache:
//!   a literal filter touches at most one entry, a wildcard filter scans the
//!   entries like Go's `addToCache`/`removeFromCache`.
//!
//! Items are any `T: Clone + PartialEq` (e.g. a pointer-equality wrapper
//! around `Rc<Subscription>`, or a peer core id). Inserting an item equal to
//! one already stored under the same subject and queue is *counted*: it
//! still appears once in results and must be removed as many times as it was
//! inserted (so per-core interest can be refcounted by the caller for free).
//! The same item under two overlapping filters appears once per filter, as
//! two Go subscriptions would.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use bytes::Bytes;
use foldhash::fast::RandomState;

use crate::subject::{self, TokenKind, TSEP};

/// Subjects that are unique per message (a consumer's ack subject carries the
/// message's sequences and timestamp): caching them would only evict useful
/// entries and allocate on every ack.
const NEVER_REPEATED: &[u8] = b"$JS.ACK.";

/// Most cached subjects before a sweep (Go's `slCacheMax`).
pub const CACHE_MAX: usize = 1024;
/// Entries left after a sweep (Go's `slCacheSweep`).
pub const CACHE_SWEEP: usize = 256;

/// Why an insert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SublistError {
    /// Empty subject, empty token, or a token after `>` (Go's
    /// `ErrInvalidSubject`; the client gets `-ERR 'Invalid Subject'`).
    #[error("sublist: invalid subject")]
    InvalidSubject,
    /// `Some(b"")` as queue name (the wire protocol cannot produce it).
    #[error("sublist: invalid queue name")]
    InvalidQueue,
}

/// The members of one queue group that match a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueGroup<T> {
    /// Queue name, shared with the index (cloning is a refcount bump).
    pub name: Bytes,
    /// Members from every matching filter; never empty.
    pub members: Vec<T>,
}

/// Everything interested in one published subject.
#[derive(Debug, Clone)]
pub struct MatchResult<T> {
    /// Plain subscribers: each gets a copy of the message.
    pub plain: Vec<T>,
    /// Queue groups, one per distinct name: one member of each gets it.
    pub queues: Vec<QueueGroup<T>>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> MatchResult<T> {
    /// True when nobody is interested.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Adds one member, into the group named `queue` if given.
    fn add(&mut self, queue: Option<&Bytes>, item: T) {
        match queue {
            None => self.plain.push(item),
            Some(name) => self.group_mut(name).members.push(item),
        }
    }

    /// The group called `name`, created empty if missing (callers fill it).
    fn group_mut(&mut self, name: &Bytes) -> &mut QueueGroup<T> {
        // Linear like Go's findQSlot: few groups per subject, and a Vec
        // iterates fastest when delivering.
        let i = match self.queues.iter().position(|g| g.name == *name) {
            Some(i) => i,
            None => {
                self.queues.push(QueueGroup {
                    name: name.clone(),
                    members: Vec::new(),
                });
                self.queues.len() - 1
            }
        };
        &mut self.queues[i]
    }

    /// Appends everything stored on `node`.
    fn add_node(&mut self, node: &Node<T>) {
        self.plain.extend_from_slice(&node.plain.items);
        for q in &node.queues {
            self.group_mut(&q.name)
                .members
                .extend_from_slice(&q.members.items);
        }
    }

    /// Removes one occurrence of `item` (the multiset of (filter, item)
    /// pairs lost exactly one), dropping a queue group that becomes empty.
    fn remove_one(&mut self, queue: Option<&[u8]>, item: &T) {
        let Some(q) = queue else {
            swap_remove_eq(&mut self.plain, item);
            return;
        };
        if let Some(gi) = self.queues.iter().position(|g| g.name == q) {
            swap_remove_eq(&mut self.queues[gi].members, item);
            if self.queues[gi].members.is_empty() {
                self.queues.swap_remove(gi);
            }
        }
    }
}

/// Removes the first element equal to `item`; order is not meaningful.
fn swap_remove_eq<T: PartialEq>(v: &mut Vec<T>, item: &T) {
    if let Some(i) = v.iter().position(|x| x == item) {
        v.swap_remove(i);
    }
}

/// A set of items with per-item insert counts (see module doc).
#[derive(Debug)]
struct Members<T> {
    /// Distinct items, contiguous so matching copies them as one slice.
    items: Vec<T>,
    /// `refs[i]` = how many times `items[i]` was inserted (≥ 1).
    refs: Vec<u32>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members {
            items: Vec::new(),
            refs: Vec::new(),
        }
    }
}

impl<T: PartialEq> Members<T> {
    /// Adds a reference; true if `item` was not present before.
    fn add(&mut self, item: T) -> bool {
        if let Some(i) = self.items.iter().position(|x| *x == item) {
            self.refs[i] = self.refs[i].saturating_add(1);
            return false;
        }
        self.items.push(item);
        self.refs.push(1);
        true
    }

    /// Drops a reference: `None` if absent, `Some(true)` if it was the last.
    fn remove(&mut self, item: &T) -> Option<bool> {
        let i = self.items.iter().position(|x| x == item)?;
        if self.refs[i] > 1 {
            self.refs[i] -= 1;
            return Some(false);
        }
        self.items.swap_remove(i);
        self.refs.swap_remove(i);
        Some(true)
    }

    /// True when no item is stored.
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Queue subscribers of one name on one node.
#[derive(Debug)]
struct QueueMembers<T> {
    /// Queue name; cloned into results.
    name: Bytes,
    /// The members; never empty while the entry exists.
    members: Members<T>,
}

/// What [`Node::add`] did, so the cache can mirror it.
enum Added {
    /// Same item, subject and queue already present: only counted.
    Counted,
    /// A new plain subscriber.
    Plain,
    /// A new member of the queue group with this name.
    Queue(Bytes),
}

/// The filter ending at this trie position, and the next level.
#[derive(Debug)]
struct Node<T> {
    /// Longer filters sharing this prefix. Inline rather than boxed: a cold
    /// walk is bound by cache misses and this saves one per token.
    next: Level<T>,
    /// Plain subscribers of exactly this filter.
    plain: Members<T>,
    /// Queue subscribers of this filter, one entry per queue name.
    queues: Vec<QueueMembers<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            next: Level::default(),
            plain: Members::default(),
            queues: Vec::new(),
        }
    }
}

impl<T: PartialEq> Node<T> {
    /// True if any subscriber is stored on this node itself.
    fn has_subs(&self) -> bool {
        !self.plain.is_empty() || !self.queues.is_empty()
    }

    /// True if the node carries nothing and can be unlinked.
    fn is_prunable(&self) -> bool {
        !self.has_subs() && self.next.is_empty()
    }

    /// Stores a reference to `item` (see [`Added`]).
    fn add(&mut self, queue: Option<&[u8]>, item: T) -> Added {
        let Some(q) = queue else {
            return if self.plain.add(item) {
                Added::Plain
            } else {
                Added::Counted
            };
        };
        if let Some(g) = self.queues.iter_mut().find(|g| g.name == q) {
            return if g.members.add(item) {
                Added::Queue(g.name.clone())
            } else {
                Added::Counted
            };
        }
        let name = Bytes::copy_from_slice(q);
        let mut members = Members::default();
        members.add(item);
        self.queues.push(QueueMembers {
            name: name.clone(),
            members,
        });
        Added::Queue(name)
    }

    /// Drops a reference: `None` if absent, `Some(true)` if it was the last.
    fn remove(&mut self, queue: Option<&[u8]>, item: &T) -> Option<bool> {
        let Some(q) = queue else {
            return self.plain.remove(item);
        };
        let gi = self.queues.iter().position(|g| g.name == q)?;
        let last = self.queues[gi].members.remove(item)?;
        if self.queues[gi].members.is_empty() {
            self.queues.swap_remove(gi);
        }
        Some(last)
    }
}

/// Longest literal token stored inline in a [`TokenKey`].
const INLINE_TOKEN: usize = 22;

/// A literal token as a trie key. Short tokens live inside the hash
/// bucket, so checking a probe hit reads no other cache line (the boxed
/// key's `memcmp` was ~17% of a cold walk); long ones are boxed.
#[derive(Debug, Clone)]
enum TokenKey {
    /// Length and bytes (zero padded) of a token of ≤ 22 bytes.
    Inline(u8, [u8; INLINE_TOKEN]),
    /// A longer token.
    Heap(Box<[u8]>),
}

impl TokenKey {
    /// Copies `tok` into a key.
    fn new(tok: &[u8]) -> Self {
        let mut buf = [0; INLINE_TOKEN];
        match (buf.get_mut(..tok.len()), u8::try_from(tok.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(tok);
                TokenKey::Inline(len, buf)
            }
            _ => TokenKey::Heap(Box::from(tok)),
        }
    }

    /// The token bytes.
    fn as_bytes(&self) -> &[u8] {
        match self {
            TokenKey::Inline(len, buf) => buf.get(..usize::from(*len)).unwrap_or_default(),
            TokenKey::Heap(b) => b,
        }
    }
}

// Hash and equality must agree with `[u8]`'s for `Borrow` lookups.
impl Borrow<[u8]> for TokenKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for TokenKey {}

/// One trie level: the children of a node (or of the root).
#[derive(Debug)]
struct Level<T> {
    /// Children for literal tokens.
    literals: HashMap<TokenKey, Node<T>, RandomState>,
    /// Child for the `*` token.
    pwc: Option<Box<Node<T>>>,
    /// Child for the `>` token (never has a `next`).
    fwc: Option<Box<Node<T>>>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            literals: HashMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<T> Drop for Level<T> {
    /// Frees the subtree iteratively: the default recursive drop would
    /// overflow the stack on a filter with hundreds of thousands of tokens.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.detach_children(&mut stack);
        while let Some(mut level) = stack.pop() {
            level.detach_children(&mut stack);
        }
    }
}

impl<T> Level<T> {
    /// Moves the non-empty next-levels of all children onto `stack`.
    fn detach_children(&mut self, stack: &mut Vec<Level<T>>) {
        let wild = self.pwc.iter_mut().chain(self.fwc.iter_mut());
        let nodes = self.literals.values_mut().chain(wild.map(|n| &mut **n));
        let deeper = nodes.filter(|n| !n.next.is_empty());
        stack.extend(deeper.map(|n| std::mem::take(&mut n.next)));
    }

    /// Number of children.
    fn len(&self) -> usize {
        self.literals.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    /// True if there are no children.
    fn is_empty(&self) -> bool {
        self.literals.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

/// Where a match walk must still go: (level, byte offset of its token).
/// Up to 8 pending `*` branches live on the stack; deeper ones spill, so
/// even absurd subjects cannot overflow the call stack (no recursion).
struct Pending<'a, T> {
    /// First pending branches, no allocation.
    inline: [Option<(&'a Level<T>, usize)>; 8],
    /// How many of `inline` are in use.
    len: usize,
    /// Overflow beyond `inline`.
    spill: Vec<(&'a Level<T>, usize)>,
}

impl<'a, T> Pending<'a, T> {
    /// Starts with the walk from `root` at offset 0.
    fn new(root: &'a Level<T>) -> Self {
        let mut inline = [None; 8];
        inline[0] = Some((root, 0));
        Pending {
            inline,
            len: 1,
            spill: Vec::new(),
        }
    }

    /// Schedules a walk from `level` at byte offset `start`.
    fn push(&mut self, level: &'a Level<T>, start: usize) {
        if self.len < self.inline.len() {
            self.inline[self.len] = Some((level, start));
            self.len += 1;
        } else {
            self.spill.push((level, start));
        }
    }

    /// Takes any pending walk (order does not matter for results).
    fn pop(&mut self) -> Option<(&'a Level<T>, usize)> {
        if let Some(p) = self.spill.pop() {
            return Some(p);
        }
        self.len = self.len.checked_sub(1)?;
        self.inline[self.len].take()
    }
}

impl<T: PartialEq> Level<T> {
    /// The child for a filter token.
    fn child(&self, tok: &[u8]) -> Option<&Node<T>> {
        match subject::token_kind(tok) {
            TokenKind::Pwc => self.pwc.as_deref(),
            TokenKind::Fwc => self.fwc.as_deref(),
            TokenKind::Literal => self.literals.get(tok),
        }
    }

    /// The child for a filter token, mutably.
    fn child_mut(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match subject::token_kind(tok) {
            TokenKind::Pwc => self.pwc.as_deref_mut(),
            TokenKind::Fwc => self.fwc.as_deref_mut(),
            TokenKind::Literal => self.literals.get_mut(tok),
        }
    }

    /// The child for a filter token, created if missing. Always `Some`; the
    /// `Option` only avoids allocating a key on a hit (std's `entry` wants
    /// an owned key and the get-or-insert idiom trips the borrow checker).
    fn child_or_insert(&mut self, tok: &[u8]) -> Option<&mut Node<T>> {
        match subject::token_kind(tok) {
            TokenKind::Pwc => Some(self.pwc.get_or_insert_with(Box::default)),
            TokenKind::Fwc => Some(self.fwc.get_or_insert_with(Box::default)),
            TokenKind::Literal => {
                if !self.literals.contains_key(tok) {
                    self.literals.insert(TokenKey::new(tok), Node::default());
                }
                self.literals.get_mut(tok)
            }
        }
    }

    /// Unlinks the child for a filter token with its subtree.
    fn remove_child(&mut self, tok: &[u8]) {
        match subject::token_kind(tok) {
            TokenKind::Pwc => self.pwc = None,
            TokenKind::Fwc => self.fwc = None,
            TokenKind::Literal => {
                self.literals.remove(tok);
                // Hash maps never shrink by themselves; without this a level
                // that once had many children would keep their table.
                let len = self.literals.len();
                if len == 0 || self.literals.capacity() > 4 * len.max(4) {
                    self.literals.shrink_to_fit();
                }
            }
        }
    }

    /// The node for a (valid) filter, created with its path if missing.
    fn node_or_create(&mut self, filter: &[u8]) -> Option<&mut Node<T>> {
        let mut tokens = subject::tokenize(filter);
        let mut tok = tokens.next()?;
        let mut level = self;
        loop {
            let node = level.child_or_insert(tok)?;
            match tokens.next() {
                None => return Some(node),
                Some(t) => {
                    tok = t;
                    level = &mut node.next;
                }
            }
        }
    }

    /// The node for a filter, if present.
    fn node_mut(&mut self, filter: &[u8]) -> Option<&mut Node<T>> {
        let mut tokens = subject::tokenize(filter);
        let mut node = self.child_mut(tokens.next()?)?;
        for tok in tokens {
            node = node.next.child_mut(tok)?;
        }
        Some(node)
    }

    /// After the node for `filter` became prunable: unlinks the shallowest
    /// node on its path whose subtree holds nothing but that path, so no
    /// empty node or level survives (Go prunes bottom-up the same way).
    fn prune(&mut self, filter: &[u8]) {
        let Some(cut) = self.prune_depth(filter) else {
            return;
        };
        let Some(cut_tok) = subject::tokenize(filter).nth(cut) else {
            return;
        };
        if cut == 0 {
            self.remove_child(cut_tok);
            return;
        }
        let mut tokens = subject::tokenize(filter).take(cut);
        let Some(first) = tokens.next() else { return };
        let Some(mut parent) = self.child_mut(first) else {
            return;
        };
        for tok in tokens {
            let Some(n) = parent.next.child_mut(tok) else {
                return;
            };
            parent = n;
        }
        parent.next.remove_child(cut_tok);
    }

    /// Depth (0 = child of this level) of the node [`Level::prune`] cuts:
    /// the top of the trailing run of nodes that have no subscribers and a
    /// single child, ending at the (prunable) last node.
    fn prune_depth(&self, filter: &[u8]) -> Option<usize> {
        let mut cut = None;
        let mut level = self;
        let mut tokens = subject::tokenize(filter).enumerate().peekable();
        while let Some((depth, tok)) = tokens.next() {
            let node = level.child(tok)?;
            if tokens.peek().is_none() {
                return node.is_prunable().then(|| cut.unwrap_or(depth));
            }
            if node.has_subs() || node.next.len() != 1 {
                cut = None;
            } else if cut.is_none() {
                cut = Some(depth);
            }
            level = &node.next;
        }
        None
    }

    /// Calls `visit` on every node whose filter matches the (validated)
    /// published `subject`, stopping early once `visit` returns true.
    fn visit_matches<'a>(
        &'a self,
        subject: &[u8],
        mut visit: impl FnMut(&'a Node<T>) -> bool,
    ) -> bool {
        let mut pending = Pending::new(self);
        while let Some((level, start)) = pending.pop() {
            if level.walk(subject, start, &mut visit, &mut pending) {
                return true;
            }
        }
        false
    }

    /// Follows literal children from `self` for the tokens at `start..`,
    /// visiting `>` children and queueing `*` branches on the way.
    fn walk<'a>(
        &'a self,
        subject: &[u8],
        mut start: usize,
        visit: &mut impl FnMut(&'a Node<T>) -> bool,
        pending: &mut Pending<'a, T>,
    ) -> bool {
        let mut level = self;
        loop {
            let rest = subject.get(start..).unwrap_or_default();
            let sep = rest.iter().position(|&b| b == TSEP);
            let tok = sep.map_or(rest, |i| &rest[..i]);
            if let Some(f) = level.fwc.as_deref() {
                if visit(f) {
                    return true;
                }
            }
            let Some(i) = sep else {
                // Last token: the `*` child and the literal child match.
                if level.pwc.as_deref().is_some_and(&mut *visit) {
                    return true;
                }
                return level.literals.get(tok).is_some_and(visit);
            };
            start += i + 1;
            if let Some(p) = level.pwc.as_deref().filter(|p| !p.next.is_empty()) {
                pending.push(&p.next, start);
            }
            match level.literals.get(tok).filter(|n| !n.next.is_empty()) {
                Some(n) => level = &n.next,
                None => return false,
            }
        }
    }
}

/// True if the published subject has no empty token (Go's `match` returns
/// the empty result for those without caching them).
fn is_matchable(subject: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (subject.first(), subject.last()) else {
        return false;
    };
    first != TSEP && last != TSEP && !subject.windows(2).any(|w| w == [TSEP, TSEP])
}

/// One cached match.
#[derive(Debug)]
struct CacheEntry<T> {
    /// The result handed out (shared) on hits.
    result: Rc<MatchResult<T>>,
    /// Hit since the last sweep; cold entries are evicted first.
    hot: bool,
}

/// Counters for monitoring (Go's `SublistStats` before it is turned into rates).
///
/// Inserts, removes, matches and hits are counters bumped by the operations
/// themselves; the fan-out figures are computed when asked, by walking the
/// cache as Go's `Sublist.Stats` does, so publishing pays nothing for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SublistStats {
    /// Stored references, see [`Sublist::len`].
    pub subscriptions: usize,
    /// Cached subjects.
    pub cache_entries: usize,
    /// Successful inserts since creation (Go's `inserts`).
    pub inserts: u64,
    /// Successful removes since creation (Go's `removes`).
    pub removes: u64,
    /// Calls to [`Sublist::matches`].
    pub matches: u64,
    /// Of those, answered from the cache.
    pub cache_hits: u64,
    /// Sum over cached results of their fan-out: plain subscribers plus queue
    /// groups (a group receives one copy), Go's `len(psubs) + len(qsubs)`.
    pub total_fanout: u64,
    /// The largest fan-out of one cached result.
    pub max_fanout: usize,
}

/// A subject index for one core; see the module documentation.
#[derive(Debug)]
pub struct Sublist<T> {
    /// Trie root (never pruned itself).
    root: Level<T>,
    /// Published subject → result; at most `cache_max` entries.
    cache: HashMap<Box<[u8]>, CacheEntry<T>, RandomState>,
    /// Sweep when the cache grows beyond this; 0 disables caching.
    cache_max: usize,
    /// Entries kept by a sweep.
    cache_sweep: usize,
    /// The shared empty result (one allocation for every miss).
    empty: Rc<MatchResult<T>>,
    /// Stored references (inserts minus successful removes).
    count: usize,
    /// Successful inserts so far (for monitoring).
    inserts: u64,
    /// Successful removes so far (for monitoring).
    removes: u64,
    /// Calls to `matches`.
    matches: u64,
    /// Calls to `matches` answered from the cache.
    cache_hits: u64,
}

impl<T: Clone + PartialEq> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + PartialEq> Sublist<T> {
    /// An empty index with Go's cache sizes.
    pub fn new() -> Self {
        Self::with_cache_limits(CACHE_MAX, CACHE_SWEEP)
    }

    /// An empty index whose cache holds up to `max` subjects and keeps
    /// `sweep` (clamped to `max`) when swept; `max == 0` disables it (Go's
    /// `NoSublistCache`).
    pub fn with_cache_limits(max: usize, sweep: usize) -> Self {
        Sublist {
            root: Level::default(),
            cache: HashMap::default(),
            cache_max: max,
            cache_sweep: sweep.min(max),
            empty: Rc::new(MatchResult::default()),
            count: 0,
            inserts: 0,
            removes: 0,
            matches: 0,
            cache_hits: 0,
        }
    }

    /// Adds `item` under the filter `subject`, in queue group `queue` if
    /// given. Validation is Go's `Sublist.Insert` (see
    /// [`subject::is_valid_sublist_subject`]). An equal item already under
    /// the same subject and queue is counted, not duplicated.
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        item: T,
    ) -> Result<(), SublistError> {
        if !subject::is_valid_sublist_subject(subject) {
            return Err(SublistError::InvalidSubject);
        }
        if queue.is_some_and(<[u8]>::is_empty) {
            return Err(SublistError::InvalidQueue);
        }
        let node = self
            .root
            .node_or_create(subject)
            .ok_or(SublistError::InvalidSubject)?;
        let added = node.add(queue, item.clone());
        self.count += 1;
        self.inserts += 1;
        match added {
            Added::Counted => {}
            Added::Plain => self.cache_add(subject, None, &item),
            Added::Queue(name) => self.cache_add(subject, Some(&name), &item),
        }
        Ok(())
    }

    /// Removes one reference to `item` under `subject`/`queue`; false if
    /// there was none (including for invalid subjects).
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        if !subject::is_valid_sublist_subject(subject) {
            return false;
        }
        let Some(node) = self.root.node_mut(subject) else {
            return false;
        };
        let Some(last) = node.remove(queue, item) else {
            return false;
        };
        let prunable = node.is_prunable();
        self.count -= 1;
        self.removes += 1;
        if prunable {
            self.root.prune(subject);
        }
        if last {
            self.cache_remove(subject, queue, item);
        }
        true
    }

    /// Removes many references at once (a closing connection): like Go's
    /// `RemoveBatch` it empties the cache first instead of patching it once
    /// per removal, which for wildcard filters would scan it every time.
    /// Returns how many references were found and removed.
    pub fn remove_batch<'a, I>(&mut self, subs: I) -> usize
    where
        I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>, &'a T)>,
        T: 'a,
    {
        self.cache.clear();
        let mut removed = 0;
        for (subject, queue, item) in subs {
            removed += usize::from(self.remove(subject, queue, item));
        }
        removed
    }

    /// Everything interested in the published `subject`. Served from the
    /// cache when possible (no allocation: one hash lookup and an `Rc`
    /// clone); otherwise walks the trie and caches the result. Subjects with
    /// empty tokens match nothing and are not cached.
    pub fn matches(&mut self, subject: &[u8]) -> Rc<MatchResult<T>> {
        self.matches += 1;
        if let Some(entry) = self.cache.get_mut(subject) {
            entry.hot = true;
            self.cache_hits += 1;
            return Rc::clone(&entry.result);
        }
        if !is_matchable(subject) {
            return Rc::clone(&self.empty);
        }
        let mut result = MatchResult::default();
        self.root.visit_matches(subject, |node| {
            result.add_node(node);
            false
        });
        let result = if result.is_empty() {
            Rc::clone(&self.empty)
        } else {
            Rc::new(result)
        };
        if !subject.starts_with(NEVER_REPEATED) {
            self.cache_store(subject, &result);
        }
        result
    }

    /// True if anything is interested in `subject`; cheaper than
    /// [`Sublist::matches`] on a miss (stops at the first subscriber, builds
    /// and caches nothing).
    pub fn has_interest(&mut self, subject: &[u8]) -> bool {
        if let Some(entry) = self.cache.get_mut(subject) {
            entry.hot = true;
            return !entry.result.is_empty();
        }
        is_matchable(subject) && self.root.visit_matches(subject, Node::has_subs)
    }

    /// Stored references: successful inserts minus successful removes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of cached subjects.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Monitoring counters. Walks the cache for the fan-out figures (at most
    /// [`CACHE_MAX`] entries); meant for a monitoring request, not a hot path.
    pub fn stats(&self) -> SublistStats {
        let mut total_fanout = 0u64;
        let mut max_fanout = 0usize;
        for e in self.cache.values() {
            let fanout = e.result.plain.len() + e.result.queues.len();
            total_fanout += fanout as u64;
            max_fanout = max_fanout.max(fanout);
        }
        SublistStats {
            subscriptions: self.count,
            cache_entries: self.cache.len(),
            inserts: self.inserts,
            removes: self.removes,
            matches: self.matches,
            cache_hits: self.cache_hits,
            total_fanout,
            max_fanout,
        }
    }

    /// Caches a fresh result, sweeping if the cache overflows.
    fn cache_store(&mut self, subject: &[u8], result: &Rc<MatchResult<T>>) {
        if self.cache_max == 0 {
            return;
        }
        let entry = CacheEntry {
            result: Rc::clone(result),
            hot: false,
        };
        self.cache.insert(Box::from(subject), entry);
        if self.cache.len() > self.cache_max {
            self.sweep();
        }
    }

    /// Shrinks the cache to `cache_sweep` entries: first those not hit
    /// since the last sweep (new entries start cold, so one-off subjects
    /// such as reply inboxes go first), then arbitrary ones (hash order,
    /// like Go's random map iteration). Survivors start cold again.
    fn sweep(&mut self) {
        let mut excess = self.cache.len().saturating_sub(self.cache_sweep);
        self.cache.retain(|_, e| {
            let keep = e.hot || excess == 0;
            if !keep {
                excess -= 1;
            }
            e.hot = false;
            keep
        });
        self.cache.retain(|_, _| {
            let keep = excess == 0;
            excess = excess.saturating_sub(1);
            keep
        });
    }

    /// Adds a new (filter, item) pair to every cached result it matches.
    fn cache_add(&mut self, filter: &[u8], queue: Option<&Bytes>, item: &T) {
        if subject::is_literal(filter) {
            // A literal filter matches exactly one published subject.
            if let Some(e) = self.cache.get_mut(filter) {
                Rc::make_mut(&mut e.result).add(queue, item.clone());
            }
            return;
        }
        for (key, e) in self.cache.iter_mut() {
            if subject::matches_filter(key, filter) {
                Rc::make_mut(&mut e.result).add(queue, item.clone());
            }
        }
    }

    /// Removes a vanished (filter, item) pair from every cached result it
    /// matches; results that become empty share the empty result again.
    fn cache_remove(&mut self, filter: &[u8], queue: Option<&[u8]>, item: &T) {
        let empty = &self.empty;
        let patch = |e: &mut CacheEntry<T>| {
            Rc::make_mut(&mut e.result).remove_one(queue, item);
            if e.result.is_empty() {
                e.result = Rc::clone(empty);
            }
        };
        if subject::is_literal(filter) {
            if let Some(e) = self.cache.get_mut(filter) {
                patch(e);
            }
            return;
        }
        self.cache
            .iter_mut()
            .filter(|(key, _)| subject::matches_filter(key, filter))
            .for_each(|(_, e)| patch(e));
    }
}

#[cfg(test)]
impl<T: Clone + PartialEq> Sublist<T> {
    /// Trie nodes below the root (0 once everything is removed).
    pub(crate) fn node_count(&self) -> usize {
        fn count<T>(level: &Level<T>) -> usize {
            let wild = level.pwc.iter().chain(level.fwc.iter()).map(|n| &**n);
            level
                .literals
                .values()
                .chain(wild)
                .map(|n| 1 + count(&n.next))
                .sum()
        }
        count(&self.root)
    }

    /// Panics if a node carries nothing or a level keeps an oversized table.
    pub(crate) fn check_pruned(&self) {
        fn check<T: PartialEq>(level: &Level<T>) {
            let (len, cap) = (level.literals.len(), level.literals.capacity());
            assert!(len > 0 || cap == 0, "empty level keeps its hash table");
            assert!(
                cap <= 4 * len.max(4),
                "level keeps a table of {cap} for {len}"
            );
            let wild = level.pwc.iter().chain(level.fwc.iter()).map(|n| &**n);
            for node in level.literals.values().chain(wild) {
                assert!(!node.is_prunable(), "prunable node left in trie");
                check(&node.next);
            }
        }
        check(&self.root);
    }

    /// A fresh trie walk for `subject`, bypassing and not filling the cache.
    pub(crate) fn match_uncached(&self, subject: &[u8]) -> MatchResult<T> {
        let mut result = MatchResult::default();
        if is_matchable(subject) {
            self.root.visit_matches(subject, |node| {
                result.add_node(node);
                false
            });
        }
        result
    }

    /// Every cached subject with its cached result.
    pub(crate) fn cached(&self) -> Vec<(Vec<u8>, Rc<MatchResult<T>>)> {
        let entries = self.cache.iter();
        entries
            .map(|(k, e)| (k.to_vec(), Rc::clone(&e.result)))
            .collect()
    }

    /// True if `result` is the shared empty result.
    pub(crate) fn is_shared_empty(&self, result: &Rc<MatchResult<T>>) -> bool {
        Rc::ptr_eq(result, &self.empty)
    }
}

#[cfg(test)]
#[path = "sublist_tests.rs"]
mod tests;
