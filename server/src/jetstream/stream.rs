//! One stream on the core that owns it: its store, its subscriptions, and the
//! publish path.
//!
//! A stream is an internal subscriber of its subjects. Publishes reach its inbox
//! (from any core, through the router) and one task applies them in arrival
//! order: Go's checks first (`check_publish`, nothing written if one fails), then
//! one append. A batch of appends shares one durability wait: the PubAcks of the
//! batch go out when the store says everything in it is durable (with the default
//! `sync: always`, after the fdatasync that covers it).
//!
//! Everything else (info, purge, get, delete, update) is called by the meta layer
//! through [`crate::shard::Shard::call_on`] and runs here, between publishes, so a
//! stream's state is only ever touched by its own core.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use jetcore_router::notify::Notify;
use jetcore_storage::{
    FileStore, FileStoreConfig, MemStore, NewMessage, PurgeRequest, StoreError, StoreLimits,
    StoredMessage,
};
use serde::{Deserialize, Serialize};

use super::api_types::{go_quote, MsgGetRequest, PubAck, PubAckResponse, MAX_SUBJECT_DETAILS};
use super::dedupe::Dedupe;
use super::errors::ApiError;
use super::gotime::GoTime;
use super::headers;
use super::publish::{self, PublishHeaders};
use super::runtime::JsConfig;
use super::store::Store;
use super::stream_config::{DiscardPolicy, StorageType, StoreCompression, StreamConfig};
use super::stream_info::{StreamInfo, StreamState};
use super::transform::SubjectTransform;
use crate::client::{InboxLimit, InternalInbox, InternalMsg, Subscription};
use crate::shard::Shard;

#[path = "direct.rs"]
mod direct;

#[path = "stream_consumers.rs"]
mod consumers;

/// What a stream keeps on disk beside its messages (`meta.json`): enough to bring
/// it back, on the same core, after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamMeta {
    /// The stream's configuration as last accepted.
    pub config: StreamConfig,
    /// When it was created.
    pub created: GoTime,
    /// The core that owns it.
    pub core: usize,
}

/// Name of the metadata file in a stream's directory.
pub const META_FILE: &str = "meta.json";

/// The longest the expiry timer sleeps before looking at the store again; it is
/// woken earlier when a message with a TTL arrives.
const EXPIRY_MAX_WAIT: Duration = Duration::from_secs(60);

/// A stream's ingest queue: Go's `streamDefaultMaxQueueMsgs`/`Bytes`. Past it,
/// publishes are refused with 429 (10167).
const STREAM_INBOX_LIMIT: InboxLimit = InboxLimit {
    msgs: 100_000,
    bytes: 128 * 1024 * 1024,
};

/// How far appends may run ahead of the disk before the publish task waits for it.
/// 32 MiB is a few group commits at full speed, so acked publishers never notice.
const MAX_UNDURABLE_BYTES: usize = 32 * 1024 * 1024;

/// Most payload + header bytes the publish task takes from its inbox at once. The
/// task holds a batch until it is appended, and may then wait for the disk while the
/// inbox fills again; small batches keep that from doubling what the stream holds.
/// 4 MiB is still thousands of typical messages per batch, one PubAck flush each.
const MAX_PUBLISH_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Go's header-size limit for a stored message (`math.MaxUint16`).
const MAX_HEADER_BYTES: usize = u16::MAX as usize;

/// Queue group of the direct-get subscriptions (Go's `dgetGroup`).
const DIRECT_GET_GROUP: &str = "_zz_";

/// A stream owned by this core.
pub struct Stream {
    /// Its name (immutable).
    pub name: String,
    /// Its current configuration.
    config: RefCell<StreamConfig>,
    /// When it was created.
    created: GoTime,
    /// Its messages.
    store: Store,
    /// Its directory (file streams; memory streams keep nothing on disk, as in Go).
    dir: Option<PathBuf>,
    /// The shard it lives on (to publish PubAcks and subscribe).
    shard: Rc<Shard>,
    /// Publishes to its subjects.
    inbox: Rc<InternalInbox>,
    /// Direct-get requests.
    direct_inbox: Rc<InternalInbox>,
    /// Subscriptions on its subjects (and direct-get subjects), to undo on delete.
    subs: RefCell<Vec<Rc<Subscription>>>,
    /// `Nats-Msg-Id`s within the duplicate window.
    dedupe: RefCell<Dedupe>,
    /// The `Nats-Msg-Id` of the last stored message (for `Nats-Expected-Last-Msg-Id`).
    last_msg_id: RefCell<String>,
    /// The JetStream domain (empty for none), for the domain API prefix.
    domain: String,
    /// `{"stream":"<name>",["domain":"<d>",]"seq":` — the start of every PubAck.
    pub_ack_prefix: Vec<u8>,
    /// Set on delete/shutdown: publishes are no longer applied.
    closed: Cell<bool>,
    /// Wakes the expiry timer (a message with a TTL arrived, or the config changed).
    expiry_wake: Notify,
    /// Compiled `subject_transform` and `republish` of the current config.
    transforms: RefCell<Transforms>,
    /// Server-wide usage and limit of this stream's storage type.
    usage: Arc<super::runtime::StorageUsage>,
    /// The server limit for this storage type (`max_mem`/`max_file`), if set.
    usage_limit: Option<i64>,
    /// The bytes this stream last added to `usage`.
    reported_bytes: Cell<u64>,
    /// The deadline the expiry timer sleeps until (None while it runs).
    expiry_target: Cell<Option<i64>>,
    /// Its consumers, by name (sorted, as Go lists them).
    consumers: RefCell<std::collections::BTreeMap<String, Rc<super::consumer::Consumer>>>,
    /// Consumers found on disk that could not be restored (damaged metadata or
    /// state), by directory name. While any is missing, interest and work-queue
    /// retention remove nothing on the grounds that no consumer needs it: the
    /// missing one might, and its files are kept for the operator to repair.
    unrestored_consumers: RefCell<std::collections::BTreeSet<String>>,
}

/// A config's transforms, compiled once per config.
#[derive(Default)]
struct Transforms {
    /// `subject_transform`: rewrites the subject a message is stored under.
    input: Option<SubjectTransform>,
    /// `republish`: where a stored message is published again.
    republish: Option<SubjectTransform>,
    /// `republish.headers_only`.
    headers_only: bool,
}

impl Transforms {
    /// Compile the transforms of `cfg` (validated at create/update, so an error
    /// here only means "no transform").
    fn of(cfg: &StreamConfig) -> Transforms {
        let input = cfg
            .subject_transform
            .as_ref()
            .and_then(|t| SubjectTransform::new(&t.src, &t.dest).ok().flatten());
        let republish = cfg
            .republish
            .as_ref()
            .and_then(|r| SubjectTransform::new(&r.src, &r.dest).ok().flatten());
        Transforms {
            input,
            republish,
            headers_only: cfg.republish.as_ref().is_some_and(|r| r.headers_only),
        }
    }
}

/// How one publish ended.
enum Applied {
    /// Stored at this sequence.
    Stored(u64),
    /// A `Nats-Msg-Id` seen within the window; the original's sequence.
    Duplicate(u64),
    /// A counter increment stored at this sequence, with the counter's new value.
    Counted(u64, String),
}

/// A stream's directory under the JetStream root (Go's layout).
pub fn stream_dir(root: &Path, account: &str, name: &str) -> PathBuf {
    root.join(account).join("streams").join(name)
}

/// The store limits a configuration asks for.
fn store_limits(cfg: &StreamConfig) -> StoreLimits {
    StoreLimits {
        max_msgs: cfg.max_msgs,
        max_bytes: cfg.max_bytes,
        max_age: Duration::from_nanos(cfg.max_age.max(0) as u64),
        max_msgs_per_subject: cfg.max_msgs_per_subject,
        discard: match cfg.discard {
            DiscardPolicy::Old => jetcore_storage::DiscardPolicy::Old,
            DiscardPolicy::New => jetcore_storage::DiscardPolicy::New,
        },
        discard_new_per_subject: cfg.discard_new_per_subject,
    }
}

/// Go's time for a Unix-nanosecond timestamp, zero time for 0.
pub(super) fn go_time(nanos: i64) -> GoTime {
    if nanos == 0 {
        GoTime::ZERO
    } else {
        GoTime::from_unix_nanos(i128::from(nanos))
    }
}

impl Stream {
    /// Open (or create) a stream's store, subscribe its subjects and start its tasks.
    /// `dir` is the stream's directory for file storage.
    /// `persist`: write `meta.json` (on `meta.core`) before the stream subscribes, so
    /// no message can be stored in a directory without its metadata.
    pub async fn open(
        shard: &Rc<Shard>,
        js: &JsConfig,
        meta: StreamMeta,
        dir: PathBuf,
        persist: bool,
    ) -> Result<Rc<Stream>, ApiError> {
        let core = meta.core;
        let cfg = meta.config;
        let cfg_is_memory = cfg.storage == StorageType::Memory;
        let limits = store_limits(&cfg);
        let (store, dir) = match cfg.storage {
            StorageType::Memory => (Store::Mem(MemStore::new(limits)), None),
            StorageType::File => {
                let mut fc = FileStoreConfig::new(&dir);
                fc.sync = js.sync;
                fc.cipher = js.cipher.clone();
                fc.block_size =
                    block_size_for(&cfg, !matches!(fc.cipher, jetcore_storage::Cipher::None));
                if cfg.compression == StoreCompression::S2 {
                    fc.compression = jetcore_storage::Compression::Lz4;
                }
                let fs = FileStore::open(fc, limits)
                    .await
                    .map_err(ApiError::stream_create)?;
                (Store::File(fs), Some(dir))
            }
        };
        if cfg.first_seq > 0 && store.state().last_seq == 0 {
            store
                .compact(cfg.first_seq)
                .map_err(ApiError::stream_create)?;
        }
        let mut prefix = format!("{{\"stream\":{}", go_quote(&cfg.name));
        if !js.domain.is_empty() {
            prefix.push_str(&format!(",\"domain\":{}", go_quote(&js.domain)));
        }
        prefix.push_str(",\"seq\":");
        let stream = Rc::new(Stream {
            name: cfg.name.clone(),
            dedupe: RefCell::new(Dedupe::new(cfg.duplicate_window)),
            config: RefCell::new(cfg),
            created: meta.created,
            store,
            dir,
            shard: shard.clone(),
            inbox: InternalInbox::with_limit(STREAM_INBOX_LIMIT),
            direct_inbox: InternalInbox::with_limit(STREAM_INBOX_LIMIT),
            subs: RefCell::new(Vec::new()),
            last_msg_id: RefCell::new(String::new()),
            pub_ack_prefix: prefix.into_bytes(),
            domain: js.domain.clone(),
            closed: Cell::new(false),
            expiry_wake: Notify::new(),
            transforms: RefCell::new(Transforms::default()),
            usage: js.usage.clone(),
            usage_limit: js.limit(cfg_is_memory),
            reported_bytes: Cell::new(0),
            expiry_target: Cell::new(None),
            consumers: RefCell::new(std::collections::BTreeMap::new()),
            unrestored_consumers: RefCell::new(std::collections::BTreeSet::new()),
        });
        *stream.transforms.borrow_mut() = Transforms::of(&stream.config.borrow());
        stream.report_usage();
        stream.rebuild_dedupe().await;
        if persist {
            if let Err(e) = stream.persist_meta(core).await {
                stream.close(true).await;
                return Err(ApiError::stream_create(e));
            }
        }
        stream.subscribe()?;
        stream.restore_consumers(js).await;
        // Messages every consumer had acked may have outlived a crash (the acks were
        // durable, the removal not yet), or a hold on a consumer that could not be
        // restored: look once, in the background (Go's `checkInterestState`).
        let s = stream.clone();
        jetcore_router::spawn(async move { s.drop_uninterested().await });
        jetcore_router::spawn(stream.clone().run_publishes());
        jetcore_router::spawn(stream.clone().run_direct_gets());
        jetcore_router::spawn(stream.clone().run_expiry());
        Ok(stream)
    }

    /// Subscribe the stream's subjects (and direct-get subjects when allowed).
    fn subscribe(&self) -> Result<(), ApiError> {
        let wanted = self.wanted_subscriptions();
        let mut mine = self.subs.borrow_mut();
        // Keep what stays, add what is new, then drop what went: a subject kept across
        // an update never leaves the other cores' view, even for a moment.
        let mut keep = Vec::with_capacity(wanted.len());
        let mut added = Vec::new();
        for (subject, direct) in wanted {
            let found = mine
                .iter()
                .position(|s| s.subject == subject && s.queue.is_some() == direct);
            match found {
                Some(i) => keep.push(mine.swap_remove(i)),
                None => {
                    let (queue, inbox) = if direct {
                        (
                            Some(Bytes::from_static(DIRECT_GET_GROUP.as_bytes())),
                            self.direct_inbox.clone(),
                        )
                    } else {
                        (None, self.inbox.clone())
                    };
                    let sub = Rc::new(Subscription::internal(subject, queue, inbox));
                    if self.shard.add_sub(&sub).is_err() {
                        // Roll back what this call added; keep the rest as it was.
                        for s in &added {
                            self.shard.remove_sub(s);
                        }
                        keep.retain(|k| !added.iter().any(|a| Rc::ptr_eq(a, k)));
                        mine.extend(keep);
                        return Err(ApiError::stream_create("invalid subject"));
                    }
                    added.push(sub.clone());
                    keep.push(sub);
                }
            }
        }
        for gone in mine.drain(..) {
            self.shard.remove_sub(&gone);
        }
        *mine = keep;
        Ok(())
    }

    /// The subjects the current config captures (`false`), and the direct-get
    /// subjects when allowed (`true`).
    fn wanted_subscriptions(&self) -> Vec<(Bytes, bool)> {
        let cfg = self.config.borrow();
        let mut out: Vec<(Bytes, bool)> = if cfg.subjects.is_empty() && cfg.mirror.is_none() {
            vec![(Bytes::from(cfg.name.clone()), false)]
        } else {
            cfg.subjects
                .iter()
                .map(|s| (Bytes::from(s.clone()), false))
                .collect()
        };
        if cfg.allow_direct {
            let mut prefixes = vec!["$JS.API".to_string()];
            if !self.domain.is_empty() {
                prefixes.push(format!("$JS.{}.API", self.domain));
            }
            for p in prefixes {
                out.push((Bytes::from(format!("{p}.DIRECT.GET.{}", cfg.name)), true));
                out.push((Bytes::from(format!("{p}.DIRECT.GET.{}.>", cfg.name)), true));
            }
        }
        out
    }

    /// Drop every subscription of the stream.
    fn unsubscribe(&self) {
        for s in self.subs.borrow_mut().drain(..) {
            self.shard.remove_sub(&s);
        }
    }

    /// The current configuration.
    pub fn config(&self) -> StreamConfig {
        self.config.borrow().clone()
    }

    /// When the stream was created.
    pub fn created(&self) -> GoTime {
        self.created
    }

    /// True for a memory stream.
    pub fn is_memory(&self) -> bool {
        self.store.is_memory()
    }

    /// The last sequence stored (0 when nothing ever was).
    pub(super) fn last_seq(&self) -> u64 {
        self.store.state().last_seq
    }

    /// Bytes stored (for account usage).
    pub fn bytes(&self) -> u64 {
        self.store.state().bytes
    }

    // ---- publish path ----------------------------------------------------------

    async fn run_publishes(self: Rc<Self>) {
        // Bytes appended since the store last confirmed durability.
        let mut undurable = 0usize;
        while let Some(batch) = self.inbox.next_batch_up_to(MAX_PUBLISH_BATCH_BYTES).await {
            if self.closed.get() {
                break;
            }
            let no_ack = self.config.borrow().no_ack;
            if !no_ack {
                let busy = ApiError::stream_too_many_requests();
                for reply in self.inbox.take_refused() {
                    let body = self.pub_ack_error(&busy);
                    self.shard.publish_internal(&reply, None, None, &body);
                }
            }
            let mut acks: Vec<(Bytes, Bytes)> = Vec::new();
            for m in batch {
                undurable += m.size();
                let counter = if self.config.borrow().allow_msg_counter && m.headers.is_some() {
                    Some(self.counter_base(&m).await)
                } else {
                    None
                };
                let outcome = self.apply_publish(&m, counter);
                let Some(reply) = m.reply.filter(|r| !r.is_empty() && !no_ack) else {
                    continue;
                };
                match outcome {
                    Ok(Applied::Stored(seq)) => acks.push((reply, self.pub_ack(seq, false))),
                    Ok(Applied::Duplicate(seq)) => acks.push((reply, self.pub_ack(seq, true))),
                    Ok(Applied::Counted(seq, value)) => {
                        let mut ack = PubAck::new(&self.name, seq, &self.domain);
                        ack.val = Some(value);
                        acks.push((reply, Bytes::from(ack.to_bytes())))
                    }
                    Err(e) => {
                        let body = self.pub_ack_error(&e);
                        self.shard.publish_internal(&reply, None, None, &body);
                    }
                }
            }
            if !acks.is_empty() {
                let mut durable = self.store.durable();
                // Already durable (a memory store, `sync: never`, or nothing new to
                // write): answer now, without a task switch per batch.
                if let Some(result) = futures_lite::future::poll_once(&mut durable).await {
                    for (reply, ack) in acks {
                        let body = match &result {
                            Ok(()) => ack,
                            Err(e) => self.pub_ack_error(&ApiError::stream_store_failed(e)),
                        };
                        self.shard.publish_internal(&reply, None, None, &body);
                    }
                    self.report_usage();
                    jetcore_router::yield_if_needed().await;
                    continue;
                }
                let stream = self.clone();
                jetcore_router::spawn(async move {
                    let result = durable.await;
                    for (reply, ack) in acks {
                        let body = match &result {
                            Ok(()) => ack,
                            Err(e) => stream.pub_ack_error(&ApiError::stream_store_failed(e)),
                        };
                        stream.shard.publish_internal(&reply, None, None, &body);
                    }
                });
            }
            self.report_usage();
            // Publishers that never wait for PubAcks would otherwise let appends run
            // arbitrarily far ahead of the disk (each one holding its bytes in the
            // writer's queue). Past the lag, wait for the disk: the inbox then fills,
            // local publishers wait and remote ones get 429s.
            if undurable > MAX_UNDURABLE_BYTES {
                self.durable().await;
                undurable = 0;
            }
            jetcore_router::yield_if_needed().await;
        }
    }

    /// `{"stream":"S","seq":N}` (Go writes the duplicate flag with a space).
    fn pub_ack(&self, seq: u64, duplicate: bool) -> Bytes {
        let mut b = BytesMut::with_capacity(self.pub_ack_prefix.len() + 32);
        b.extend_from_slice(&self.pub_ack_prefix);
        b.extend_from_slice(seq.to_string().as_bytes());
        if duplicate {
            b.extend_from_slice(b",\"duplicate\": true}");
        } else {
            b.extend_from_slice(b"}");
        }
        b.freeze()
    }

    /// `{"error":{...},"stream":"S","seq":0}`.
    fn pub_ack_error(&self, err: &ApiError) -> Bytes {
        Bytes::from(PubAckResponse::error(&self.name, err.clone()).to_bytes())
    }

    /// Go's checks for one publish, in Go's order, then the append. An error
    /// changes nothing.
    fn apply_publish(
        &self,
        m: &InternalMsg,
        counter: Option<Result<i128, ApiError>>,
    ) -> Result<Applied, ApiError> {
        let cfg = self.config.borrow();
        if cfg.sealed {
            return Err(ApiError::stream_sealed());
        }
        let transforms = self.transforms.borrow();
        // `subject_transform` first: every check below sees the stored subject.
        let subject: Bytes = match transforms
            .input
            .as_ref()
            .and_then(|t| t.apply_bytes(&m.subject))
        {
            Some(t) => Bytes::from(t),
            None => m.subject.clone(),
        };
        let hdr = m.headers.as_deref().unwrap_or_default();
        let h = PublishHeaders::parse(Some(hdr));
        if h.batch_id {
            // Atomic batches are not supported (streams cannot enable them), so every
            // batch message meets a stream with atomic publish disabled.
            return Err(ApiError::atomic_publish_disabled());
        }
        let ttl = publish::parse_ttl(&h.ttl);
        let mut rollup_subject = false;
        let mut rollup_all = false;
        if !hdr.is_empty() {
            match h.incr {
                Some(Err(_)) => return Err(ApiError::message_incr_invalid()),
                Some(Ok(_)) if !cfg.allow_msg_counter => {
                    return Err(ApiError::message_incr_disabled())
                }
                Some(Ok(_)) if !m.payload.is_empty() => {
                    return Err(ApiError::message_incr_payload())
                }
                Some(Ok(_))
                    if !h.rollup.is_empty()
                        || !h.expected_stream.is_empty()
                        || !h.expected_last_msg_id.is_empty()
                        || !h.expected_last_subject_seq_subject.is_empty()
                        || h.expected_last_seq.is_some()
                        || h.expected_last_subject_seq.is_some() =>
                {
                    return Err(ApiError::message_incr_invalid())
                }
                _ => {}
            }
            if !h.expected_stream.is_empty() && h.expected_stream != cfg.name {
                return Err(ApiError::stream_not_match());
            }
            if matches!(ttl, Ok(t) if t != 0) && !cfg.allow_msg_ttl {
                return Err(ApiError::message_ttl_disabled());
            }
            if let Some(want) = h.expected_last_subject_seq {
                let subject: &[u8] = if h.expected_last_subject_seq_subject.is_empty() {
                    &subject
                } else {
                    h.expected_last_subject_seq_subject.as_bytes()
                };
                let last = self.last_seq_for(subject);
                if last != want {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            } else if !h.expected_last_subject_seq_subject.is_empty() {
                return Err(ApiError::stream_expected_last_seq_per_subject_invalid());
            }
            if let Some(want) = h.expected_last_seq {
                let last = self.store.state().last_seq;
                if want != last {
                    return Err(ApiError::stream_wrong_last_sequence(last));
                }
            }
            if h.schedule {
                return Err(ApiError::message_schedules_disabled());
            }
            if h.stream_source {
                return Err(ApiError::message_source_hdr_not_allowed());
            }
            if !h.msg_id.is_empty() {
                let now = jetcore_storage::now_nanos();
                if let Some(seq) = self.dedupe.borrow_mut().seen(&h.msg_id, now) {
                    return Ok(Applied::Duplicate(seq));
                }
            }
            if !h.expected_last_msg_id.is_empty() {
                let last = self.last_msg_id.borrow();
                if *last != h.expected_last_msg_id {
                    return Err(ApiError::stream_wrong_last_msg_id(&last));
                }
            }
            if !h.rollup.is_empty() {
                if !cfg.allow_rollup_hdrs || cfg.deny_purge {
                    return Err(ApiError::stream_rollup_failed("rollup not permitted"));
                }
                match h.rollup.to_ascii_lowercase().as_str() {
                    publish::ROLLUP_SUBJECT => rollup_subject = true,
                    publish::ROLLUP_ALL => rollup_all = true,
                    other => {
                        return Err(ApiError::stream_rollup_failed(format!(
                            "rollup value invalid: {}",
                            go_quote(other)
                        )))
                    }
                }
            }
        }
        let mut payload = m.payload.clone();
        let mut counter_value = None;
        if cfg.allow_msg_counter {
            let Some(Ok(incr)) = h.incr else {
                return Err(ApiError::message_incr_missing());
            };
            let base = match counter {
                Some(Ok(v)) => v,
                Some(Err(e)) => return Err(e),
                None => 0,
            };
            let value = base
                .checked_add(incr)
                .ok_or_else(ApiError::message_counter_broken)?
                .to_string();
            payload = Bytes::from(format!("{{\"val\":{}}}", go_quote(&value)));
            counter_value = Some(value);
        }
        let max = cfg.max_msg_size;
        if max >= 0 {
            let max = max as usize;
            if hdr.len() > max || payload.len() > max - hdr.len().min(max) {
                return Err(ApiError::stream_message_exceeds_maximum());
            }
        }
        if hdr.len() > MAX_HEADER_BYTES {
            return Err(ApiError::stream_header_exceeds_maximum());
        }
        let ttl = ttl.map_err(|_| ApiError::message_ttl_invalid())?;
        if let Some(limit) = self.usage_limit {
            // Go's `limitsExceeded`: the server's storage of this type is full.
            self.report_usage();
            let used = self
                .usage
                .of(self.store.is_memory())
                .load(std::sync::atomic::Ordering::Relaxed);
            if used + (subject.len() + hdr.len() + payload.len()) as i64 > limit {
                return Err(ApiError::insufficient_resources());
            }
        }
        let republish = transforms.republish.as_ref().and_then(|t| {
            t.apply_bytes(&subject)
                .filter(|d| crate::subject::is_valid_publish_subject(d))
                .map(|dest| (Bytes::from(dest), self.last_seq_for(&subject)))
        });
        let headers_only = transforms.headers_only;
        drop(transforms);
        drop(cfg);
        let appended = self
            .store
            .append(NewMessage {
                subject: subject.clone(),
                headers: m.headers.clone().unwrap_or_default(),
                payload: payload.clone(),
                timestamp: None,
                ttl,
            })
            .map_err(ApiError::stream_store_failed)?;
        let seq = appended.seq;
        self.after_store(seq, &subject);
        *self.last_msg_id.borrow_mut() = h.msg_id.clone();
        if !h.msg_id.is_empty() {
            let now = jetcore_storage::now_nanos();
            self.dedupe
                .borrow_mut()
                .insert(&h.msg_id, seq, appended.timestamp, now);
        }
        if rollup_subject || rollup_all {
            let req = PurgeRequest {
                filter: rollup_subject.then(|| subject.clone()),
                up_to_seq: None,
                keep: Some(1),
            };
            match self.store.purge(&req) {
                Ok(n) if n > 0 => self.after_removal(),
                Ok(_) => {}
                Err(e) => tracing::warn!("stream {}: rollup purge failed: {e}", self.name),
            }
        }
        self.check_expiry_timer();
        if let Some((dest, last_seq)) = republish {
            let republished = Republished {
                stream: &self.name,
                subject: &subject,
                seq,
                timestamp: appended.timestamp,
                last_seq,
            };
            let (h, p) = republished.message(hdr, &payload, headers_only);
            self.shard.publish_internal(&dest, None, Some(&h), &p);
        }
        match counter_value {
            Some(v) => Ok(Applied::Counted(seq, v)),
            None => Ok(Applied::Stored(seq)),
        }
    }

    /// The current value of the counter on `m`'s subject, read before the publish is
    /// applied (a read may wait for the disk; the publish path never does). Re-read
    /// when the subject changed meanwhile, so the value and the append that uses it
    /// meet with no wait in between.
    async fn counter_base(&self, m: &InternalMsg) -> Result<i128, ApiError> {
        let subject = {
            let transforms = self.transforms.borrow();
            match transforms
                .input
                .as_ref()
                .and_then(|t| t.apply_bytes(&m.subject))
            {
                Some(t) => Bytes::from(t),
                None => m.subject.clone(),
            }
        };
        loop {
            let last = self.last_seq_for(&subject);
            if last == 0 {
                return Ok(0);
            }
            let loaded = self.store.load(last).await;
            if self.last_seq_for(&subject) != last {
                continue;
            }
            let stored = loaded.map_err(|_| ApiError::message_counter_broken())?;
            #[derive(serde::Deserialize)]
            struct Value {
                val: String,
            }
            let v: Value = serde_json::from_slice(&stored.payload)
                .map_err(|_| ApiError::message_counter_broken())?;
            return publish::parse_incr(v.val.as_bytes())
                .map_err(|_| ApiError::message_counter_broken());
        }
    }

    /// Bring the server-wide usage up to date with this stream's bytes.
    pub fn report_usage(&self) {
        let now = self.store.state().bytes;
        let before = self.reported_bytes.replace(now);
        if now != before {
            let delta = now as i64 - before as i64;
            self.usage
                .of(self.store.is_memory())
                .fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The last sequence stored on `subject` (wildcards allowed), 0 for none.
    fn last_seq_for(&self, subject: &[u8]) -> u64 {
        self.store
            .subjects_state(subject)
            .values()
            .map(|s| s.last_seq)
            .max()
            .unwrap_or(0)
    }

    /// After a restart, remember the `Nats-Msg-Id`s of messages still inside the
    /// duplicate window, newest first, as Go's `rebuildDedupe` does.
    async fn rebuild_dedupe(&self) {
        let window = self.config.borrow().duplicate_window;
        let state = self.store.state();
        if window <= 0 || state.messages == 0 {
            return;
        }
        let now = jetcore_storage::now_nanos();
        let oldest = now.saturating_sub(window);
        let mut seq = state.last_seq;
        let mut found: Vec<(String, u64, i64)> = Vec::new();
        while seq >= state.first_seq && seq > 0 {
            match self.store.load(seq).await {
                Ok(m) => {
                    if m.timestamp < oldest {
                        break;
                    }
                    if let Some(id) = super::headers::get(&m.headers, publish::MSG_ID) {
                        found.push((String::from_utf8_lossy(id).into_owned(), m.seq, m.timestamp));
                    }
                    if seq == state.last_seq {
                        if let Some(id) = super::headers::get(&m.headers, publish::MSG_ID) {
                            *self.last_msg_id.borrow_mut() =
                                String::from_utf8_lossy(id).into_owned();
                        }
                    }
                }
                Err(StoreError::NotFound) | Err(StoreError::Corrupt { .. }) => {}
                Err(_) => break,
            }
            seq -= 1;
            jetcore_router::yield_if_needed().await;
        }
        let mut d = self.dedupe.borrow_mut();
        for (id, seq, ts) in found.into_iter().rev() {
            d.insert(&id, seq, ts, now);
        }
    }

    // ---- expiry ------------------------------------------------------------------

    async fn run_expiry(self: Rc<Self>) {
        loop {
            if self.closed.get() {
                return;
            }
            let now = jetcore_storage::now_nanos();
            let next = self.store.next_expiry();
            let wait = match next {
                Some(at) if at <= now => Duration::ZERO,
                Some(at) => Duration::from_nanos((at - now) as u64).min(EXPIRY_MAX_WAIT),
                None => EXPIRY_MAX_WAIT,
            };
            if !wait.is_zero() {
                self.expiry_target
                    .set(Some(now.saturating_add(wait.as_nanos() as i64)));
                futures_lite::future::or(jetcore_router::time::sleep(wait), async {
                    self.expiry_wake.notified().await
                })
                .await;
                self.expiry_target.set(None);
                continue;
            }
            if self.closed.get() {
                return;
            }
            let now = jetcore_storage::now_nanos();
            let markers = self.delete_markers_due(now).await;
            match self.store.expire(now) {
                Ok(expired) => {
                    self.place_delete_markers(&expired, &markers);
                    self.report_usage();
                    if !expired.is_empty() {
                        self.after_removal();
                    }
                }
                Err(e) => {
                    tracing::error!("stream {}: expiring messages failed: {e}", self.name);
                    jetcore_router::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// After an append: wake the expiry timer if the store's next deadline is now
    /// earlier than what the timer sleeps until (a first message under `max_age`,
    /// or a short `Nats-TTL`).
    fn check_expiry_timer(&self) {
        if let (Some(next), Some(target)) = (self.store.next_expiry(), self.expiry_target.get()) {
            if next < target {
                self.expiry_wake.notify();
            }
        }
    }

    /// Which of the messages that expire at `now` and leave their subject empty are
    /// delete markers themselves (read from their headers before they go, so the
    /// answer survives restarts). Only asked with `subject_delete_marker_ttl`.
    async fn delete_markers_due(&self, now: i64) -> HashSet<u64> {
        let mut markers = HashSet::new();
        if self.config.borrow().subject_delete_marker_ttl <= 0 {
            return markers;
        }
        for e in self.store.due(now) {
            if !e.was_last_for_subject {
                continue;
            }
            if let Ok(sm) = self.store.load(e.seq).await {
                if is_delete_marker(&sm.headers) {
                    markers.insert(e.seq);
                }
            }
        }
        markers
    }

    /// `subject_delete_marker_ttl`: when expiry removed a subject's last message,
    /// store a marker on that subject (Go's headers: reason, the marker's own TTL,
    /// and a subject rollup). A marker that expires (`markers`: see
    /// [`Stream::delete_markers_due`]) leaves no marker behind.
    fn place_delete_markers(&self, expired: &[jetcore_storage::Expired], markers: &HashSet<u64>) {
        let sdm_ttl = self.config.borrow().subject_delete_marker_ttl;
        if sdm_ttl <= 0 {
            return;
        }
        let secs = (sdm_ttl / 1_000_000_000).max(1);
        let headers = Bytes::from(format!(
            "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: {}\r\nNats-Rollup: sub\r\n\r\n",
            super::stream_config::go_duration_string(secs * 1_000_000_000)
        ));
        for e in expired {
            if markers.contains(&e.seq) || !e.was_last_for_subject {
                continue;
            }
            let marker = NewMessage {
                subject: e.subject.clone(),
                headers: headers.clone(),
                payload: Bytes::new(),
                timestamp: None,
                ttl: secs,
            };
            if let Err(err) = self.store.append(marker) {
                tracing::warn!(
                    "stream {}: subject delete marker not stored: {err}",
                    self.name
                );
            }
        }
    }

    // ---- requests from the meta layer ---------------------------------------------

    /// The stream's info. `subjects_filter` fills `state.subjects` (from `offset`
    /// into the sorted list, at most Go's page size); the second value is how many
    /// subjects matched.
    pub fn info(
        &self,
        deleted_details: bool,
        subjects_filter: Option<&str>,
        offset: usize,
    ) -> (StreamInfo, usize) {
        let st = self.store.state();
        // Go reports an empty stream that never held a message as 0/0; the store
        // says where the next message would go (1).
        let never_held = st.last_seq == 0 && st.messages == 0;
        let first_seq = if never_held && self.config.borrow().first_seq == 0 {
            0
        } else {
            st.first_seq
        };
        let mut state = StreamState {
            messages: st.messages,
            bytes: st.bytes,
            first_seq,
            first_ts: go_time(st.first_ts),
            last_seq: st.last_seq,
            last_ts: go_time(st.last_ts),
            num_subjects: st.num_subjects as i64,
            num_deleted: st.num_deleted as i64,
            consumer_count: self.consumer_count() as i64,
            ..StreamState::default()
        };
        if deleted_details {
            state.deleted = self.store.deleted();
        }
        let mut total = 0;
        if let Some(filter) = subjects_filter.filter(|f| !f.is_empty()) {
            let all = self.store.subjects_state(filter.as_bytes());
            total = all.len();
            state.subjects = all
                .into_iter()
                .skip(offset)
                .take(MAX_SUBJECT_DETAILS)
                .map(|(s, ss)| (String::from_utf8_lossy(&s).into_owned(), ss.messages))
                .collect();
        }
        let info = StreamInfo {
            config: self.config(),
            created: self.created,
            state,
            ts: GoTime::now(),
            ..StreamInfo::default()
        };
        (info, total)
    }

    /// The error that stopped the store writing, if any (Go's `getWriteErr`, for
    /// `/healthz`). Never waits: the durability ticket is polled once, as the
    /// publish path does; a failed store answers it at once with its error. A
    /// ticket still pending leaves a no-op waker with the store until its next
    /// sync, which wakes nothing.
    pub fn write_error(&self) -> Option<String> {
        let mut durable = self.store.durable();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::future::Future::poll(std::pin::Pin::new(&mut durable), &mut cx) {
            std::task::Poll::Ready(Err(e)) => Some(e.to_string()),
            _ => None,
        }
    }

    /// Wait until every mutation so far is durable (errors are logged: the store
    /// poisons itself and later calls report it).
    pub async fn durable(&self) {
        if let Err(e) = self.store.durable().await {
            tracing::error!("stream {}: store failed: {e}", self.name);
        }
    }

    /// `STREAM.PURGE`: how many messages went.
    pub fn purge(&self, req: &PurgeRequest) -> Result<u64, ApiError> {
        {
            let cfg = self.config.borrow();
            if cfg.sealed {
                return Err(ApiError::stream_sealed());
            }
            if cfg.deny_purge {
                return Err(ApiError::stream_purge_failed("stream purge not permitted"));
            }
        }
        let purged = self.store.purge(req).map_err(ApiError::stream_general)?;
        self.report_usage();
        self.after_removal();
        Ok(purged)
    }

    /// `STREAM.MSG.DELETE`.
    pub fn delete_msg(&self, seq: u64, no_erase: bool) -> Result<(), ApiError> {
        {
            let cfg = self.config.borrow();
            if cfg.sealed {
                return Err(ApiError::stream_sealed());
            }
            if cfg.deny_delete {
                return Err(ApiError::stream_msg_delete_failed(
                    "message delete not permitted",
                ));
            }
        }
        let st = self.store.state();
        if seq > st.last_seq {
            // Go's store answers a sequence past the end with ErrStoreEOF...
            return Err(ApiError::stream_msg_delete_failed("stream store EOF"));
        }
        if seq < st.first_seq {
            // ...and one below the first with ErrStoreMsgNotFound.
            return Err(ApiError::stream_msg_delete_failed("no message found"));
        }
        let removed = self.store.remove(seq, !no_erase);
        self.report_usage();
        self.after_removal();
        match removed {
            Ok(true) => Ok(()),
            Ok(false) | Err(StoreError::NotFound) => Err(ApiError::sequence_not_found(seq)),
            Err(e) => Err(ApiError::stream_msg_delete_failed(e)),
        }
    }

    /// `STREAM.MSG.GET` by sequence, next-by-subject or last-by-subject.
    pub async fn get_msg(&self, q: &MsgGetRequest) -> Result<StoredMessage, ApiError> {
        // `start_time` stands for the first sequence stored at or after that time.
        let seq = match &q.start_time {
            Some(t) => self
                .seq_at_or_after(t)
                .await
                .ok_or_else(ApiError::no_message_found)?,
            None => q.seq,
        };
        let found = if !q.next_by_subj.is_empty() {
            self.store
                .load_next(q.next_by_subj.as_bytes(), seq.max(1))
                .await
                .ok()
                .flatten()
        } else if seq > 0 {
            self.store.load(seq).await.ok()
        } else {
            self.store.load_last(q.last_by_subj.as_bytes()).await.ok()
        };
        found.ok_or_else(ApiError::no_message_found)
    }

    /// [`Stream::seq_from_time`] for a request's time (times before 1970 count as
    /// 1970).
    pub(super) async fn seq_at_or_after(&self, t: &GoTime) -> Option<u64> {
        let nanos = t.unix_nanos().clamp(0, i128::from(i64::MAX)) as i64;
        self.seq_from_time(nanos).await
    }

    /// The first sequence whose message was stored at or after `nanos` (Go's
    /// `GetSeqFromTime`): a binary search over sequences, timestamps growing with them.
    async fn seq_from_time(&self, nanos: i64) -> Option<u64> {
        let st = self.store.state();
        if st.messages == 0 || st.last_ts < nanos {
            return None;
        }
        let (mut lo, mut hi) = (st.first_seq, st.last_seq);
        let mut best = None;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            match self.store.load_next(b">", mid).await {
                Ok(Some(m)) if m.seq <= hi => {
                    if m.timestamp >= nanos {
                        best = Some(m.seq);
                        if mid == 0 {
                            break;
                        }
                        hi = mid - 1;
                    } else {
                        lo = m.seq + 1;
                    }
                }
                // Nothing stored in [mid, hi]: look below.
                _ => {
                    if mid == 0 {
                        break;
                    }
                    hi = mid - 1;
                }
            }
        }
        best
    }

    /// Apply an accepted configuration change (the caller validated it).
    /// The new config is written to `meta.json` first, so a failure leaves the
    /// stream, the directory and the disk all on the old config.
    pub async fn update(&self, cfg: StreamConfig, core: usize) -> Result<(), ApiError> {
        self.write_meta_for(&cfg, core)
            .await
            .map_err(ApiError::stream_update)?;
        self.store
            .set_limits(store_limits(&cfg))
            .map_err(ApiError::stream_update)?;
        self.dedupe.borrow_mut().set_window(cfg.duplicate_window);
        *self.transforms.borrow_mut() = Transforms::of(&cfg);
        *self.config.borrow_mut() = cfg;
        self.subscribe()?;
        self.report_usage();
        self.expiry_wake.notify();
        Ok(())
    }

    /// Stop taking publishes and close the store. `remove` also deletes its files.
    pub async fn close(&self, remove: bool) {
        self.closed.set(true);
        self.close_consumers(remove).await;
        // The stream's bytes leave the server's usage (a restart counts them again).
        let gone = self.reported_bytes.replace(0) as i64;
        self.usage
            .of(self.store.is_memory())
            .fetch_sub(gone, std::sync::atomic::Ordering::Relaxed);
        self.unsubscribe();
        self.inbox.close();
        self.direct_inbox.close();
        self.expiry_wake.notify();
        // Let publishes already applied be acknowledged before the store goes.
        let _ = self.store.durable().await;
        if let Err(e) = self.store.close().await {
            tracing::warn!("stream {}: closing its store failed: {e}", self.name);
        }
        if remove {
            if let Some(dir) = self.dir.clone() {
                // Thousands of block files for a big stream: unlinking them on the
                // shard would stall every connection of this core meanwhile.
                let removed = jetcore_router::blocking({
                    let dir = dir.clone();
                    move || remove_stream_dir(&dir)
                })
                .await;
                if let Err(e) = removed {
                    tracing::warn!(
                        "stream {}: removing {} failed: {e}",
                        self.name,
                        dir.display()
                    );
                }
            }
        }
    }

    /// Write `meta.json` (file streams only), atomically.
    pub async fn persist_meta(&self, core: usize) -> std::io::Result<()> {
        self.write_meta_for(&self.config(), core).await
    }

    async fn write_meta_for(&self, config: &StreamConfig, core: usize) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let meta = StreamMeta {
            config: config.clone(),
            created: self.created,
            core,
        };
        write_meta(dir, &meta).await
    }
}

/// What a republished message says about the stored one.
struct Republished<'a> {
    /// The stream.
    stream: &'a str,
    /// The subject it was stored under.
    subject: &'a [u8],
    /// Its sequence.
    seq: u64,
    /// Its timestamp (Unix nanoseconds).
    timestamp: i64,
    /// The previous sequence on the same subject (0 for none), for gap detection.
    last_seq: u64,
}

impl Republished<'_> {
    /// The republished message: the stored headers with Go's `Nats-Stream`,
    /// `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Last-Sequence`
    /// (and `Nats-Msg-Size` for headers-only) added before the final CRLF.
    fn message(&self, stored_hdr: &[u8], payload: &Bytes, headers_only: bool) -> (Bytes, Bytes) {
        let subject = String::from_utf8_lossy(self.subject);
        let (seq, ts, last) = (
            self.seq.to_string(),
            go_time(self.timestamp).to_string(),
            self.last_seq.to_string(),
        );
        let size = payload.len().to_string();
        let mut added = vec![
            (headers::NATS_STREAM, self.stream),
            (headers::NATS_SUBJECT, &*subject),
            (headers::NATS_SEQUENCE, &*seq),
            (headers::NATS_TIME_STAMP, &*ts),
            (headers::NATS_LAST_SEQUENCE, &*last),
        ];
        if headers_only {
            added.push((headers::NATS_MSG_SIZE, &*size));
        }
        let body = if headers_only {
            Bytes::new()
        } else {
            payload.clone()
        };
        (Bytes::from(headers::append(stored_hdr, &added)), body)
    }
}

/// Go's `isSubjectDeleteMarker`: a message with a `Nats-Marker-Reason` (a marker
/// the server placed) or a KV purge (`KV-Operation: PURGE`) marks its subject
/// deleted; its own expiry places no further marker.
fn is_delete_marker(block: &[u8]) -> bool {
    let reason = headers::get(block, headers::NATS_MARKER_REASON);
    reason.is_some_and(|r| !r.is_empty())
        || headers::get(block, "KV-Operation") == Some(&b"PURGE"[..])
}

/// A status-only reply (`NATS/1.0 404 Message Not Found`).
pub(super) fn status(code: u16, text: &str) -> (Bytes, Bytes) {
    (
        Bytes::from(format!("NATS/1.0 {code} {text}\r\n\r\n")),
        Bytes::new(),
    )
}

/// Write a stream's `meta.json` atomically, on the blocking pool (two fsyncs the
/// shard need not wait out).
pub async fn write_meta(dir: &Path, meta: &StreamMeta) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    let dir = dir.to_path_buf();
    jetcore_router::blocking(move || write_bytes_durably(&dir, META_FILE, &body)).await
}

/// The block size of a file stream, by Go's rule (`dynBlkSize`): a stream
/// whose `max_bytes` is small gets the smallest blocks (so the limit removes
/// whole blocks instead of keeping one block far larger than the stream), any
/// other `max_bytes` 4 MiB; without one, limits streams 8 MiB and the others
/// 4 MiB; encrypted blocks are capped at 2 MiB (each is sealed whole).
/// Go's smallest block is 32,000 bytes; jetcore's is 64 KiB (blocks are whole
/// 4 KiB pages for O_DIRECT, and 64 KiB keeps the file count sane).
fn block_size_for(cfg: &StreamConfig, encrypted: bool) -> u64 {
    /// Go's `FileStoreMinBlkSize`: a quarter of `max_bytes` at or below it
    /// gets the smallest block.
    const GO_MIN_BLOCK: i64 = 32_000;
    const MEDIUM: u64 = 4 << 20;
    const LARGE: u64 = jetcore_storage::DEFAULT_BLOCK_SIZE;
    const ENCRYPTED_MAX: u64 = 2 << 20;
    let size = if cfg.max_bytes > 0 {
        if cfg.max_bytes / 4 < GO_MIN_BLOCK {
            jetcore_storage::MIN_BLOCK_SIZE
        } else {
            MEDIUM
        }
    } else if cfg.retention == super::stream_config::RetentionPolicy::Limits {
        LARGE
    } else {
        MEDIUM
    };
    if encrypted {
        size.min(ENCRYPTED_MAX)
    } else {
        size
    }
}

/// Write `body` to `dir/name` so that a crash leaves the old file or the new one,
/// never a mix: temp file, fsync, rename, fsync the directory (created if needed).
/// Used for stream and consumer metadata. Blocking: run it on the blocking pool.
pub fn write_bytes_durably(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<()> {
    create_dir_all_durably(dir)?;
    replace_file_durably(dir, name, body)
}

/// [`write_bytes_durably`] into a directory that must already exist: a missing
/// one is an error (`NotFound`), never created again.
pub fn replace_file_durably(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

/// `mkdir -p` whose new entries survive a power loss: the parent of every
/// directory it creates is fsynced, top down. A new stream's or consumer's
/// directory is otherwise only a pending entry in `streams/` or `obs/`, and a
/// power loss could take an acknowledged stream or consumer away whole (found
/// by `scripts/power-loss`).
pub fn create_dir_all_durably(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(p) = at.filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
        missing.push(p);
        at = p.parent();
    }
    std::fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

/// Prefix of a deleted stream's directory while its files are being removed.
/// Stream names cannot contain `.`, so no live stream can have this name; recovery
/// finishes removing any it finds.
pub const DELETED_PREFIX: &str = ".deleted.";

/// Delete a stream's files so that a crash at any point never brings it back: the
/// directory is first renamed out of the way (and the rename made durable), then
/// removed.
pub fn remove_stream_dir(dir: &Path) -> std::io::Result<()> {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return std::fs::remove_dir_all(dir);
    };
    let tomb = parent.join(format!(
        "{DELETED_PREFIX}{}.{}",
        name.to_string_lossy(),
        jetcore_storage::now_nanos()
    ));
    std::fs::rename(dir, &tomb)?;
    std::fs::File::open(parent)?.sync_all()?;
    std::fs::remove_dir_all(&tomb)
}

/// Read a stream's `meta.json`.
pub fn read_meta(dir: &Path) -> std::io::Result<StreamMeta> {
    let body = std::fs::read(dir.join(META_FILE))?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

#[cfg(test)]
mod block_size_tests {
    use super::block_size_for;
    use crate::jetstream::stream_config::{RetentionPolicy, StreamConfig};

    #[test]
    fn block_size_follows_go_rule() {
        // (max_bytes, retention, encrypted) → block size; Go's dynBlkSize
        // with jetcore's 64 KiB floor.
        let table = [
            (0, RetentionPolicy::Limits, false, 8 << 20),
            (0, RetentionPolicy::WorkQueue, false, 4 << 20),
            (0, RetentionPolicy::Interest, true, 2 << 20),
            (0, RetentionPolicy::Limits, true, 2 << 20),
            (100_000, RetentionPolicy::Limits, false, 64 << 10),
            (127_996, RetentionPolicy::Limits, false, 64 << 10),
            (128_000, RetentionPolicy::Limits, false, 4 << 20),
            (1 << 30, RetentionPolicy::Limits, false, 4 << 20),
            (1 << 30, RetentionPolicy::Limits, true, 2 << 20),
        ];
        for (max_bytes, retention, encrypted, want) in table {
            let cfg = StreamConfig {
                max_bytes,
                retention,
                ..StreamConfig::default()
            };
            assert_eq!(
                block_size_for(&cfg, encrypted),
                want,
                "max_bytes {max_bytes} {retention:?} encrypted {encrypted}"
            );
        }
    }
}
