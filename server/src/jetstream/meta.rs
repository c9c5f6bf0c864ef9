//! The meta layer, on core 0: the stream directory, placement, recovery at start,
//! and the JetStream API.
//!
//! Core 0 subscribes the API subjects and handles one request at a time, in arrival
//! order (Go runs a worker pool; one task keeps create/update/delete of the same
//! stream trivially serialized). Requests about a stream run on the core that owns
//! it through [`Shard::call_on`]; the directory here says which core that is. The
//! directory is only changed by this task, after the owning core confirmed.
//!
//! Direct get is not handled here: each stream with `allow_direct` subscribes its
//! own `$JS.API.DIRECT.GET.<stream>[.>]` subjects, so a request for a stream that
//! does not exist (or does not allow it) finds no responder, as in Go.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use jetcore_storage::PurgeRequest;

use super::advisory::{self, Action};
use super::api::{self, Response};
use super::api_types::{
    is_empty_request, is_json_object_or_array, AccountInfoResponse, AccountLimits, AccountStats,
    ApiRequest, ApiStats, JetStreamTier, MsgDeleteRequest, MsgDeleteResponse, MsgGetRequest,
    MsgGetResponse, StoredMsg, StreamDeleteResponse, StreamInfoRequest, StreamInfoResponse,
    StreamListRequest, StreamListResponse, StreamNamesRequest, StreamNamesResponse,
    StreamPurgeRequest, StreamPurgeResponse, StreamUpdateResponse, LIST_LIMIT, NAMES_LIMIT,
};
use super::errors::ApiError;
use super::gotime::GoTime;
use super::runtime::{self, CoreUsage, JsConfig};
use super::stream::{read_meta, Stream, StreamMeta};
use super::stream_config::{
    check_create_config, check_create_request, parse_create_request, StorageType, StreamConfig,
    JS_API_LEVEL,
};
use super::stream_info::{
    ClusterInfo, StreamCreateResponse, StreamInfo, STREAM_CREATE_RESPONSE_TYPE,
};
use crate::client::{InternalInbox, InternalMsg, Subscription};
use crate::shard::Shard;
use crate::subject;

/// What the directory knows about one stream.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The core that owns it.
    pub core: usize,
    /// Its configuration (kept here for overlap checks and listings).
    pub config: StreamConfig,
}

/// The meta layer (one, on core 0).
pub struct Meta {
    /// Core 0.
    shard: Rc<Shard>,
    /// Shared settings.
    pub config: Arc<JsConfig>,
    /// Every stream, by name (sorted, as Go's listings are).
    streams: RefCell<BTreeMap<String, Entry>>,
    /// API requests handled (`api.total`).
    api_total: Cell<u64>,
    /// API requests answered with an error (`api.errors`).
    api_errors: Cell<u64>,
    /// API requests taken from the queue and not answered yet (`api.inflight`).
    api_inflight: Cell<u64>,
    /// Streams found on disk at start that could not be restored, with the reason
    /// (`/healthz` reports them, as Go reports streams it could not recover).
    unrecovered: RefCell<BTreeMap<String, String>>,
    /// Where API requests arrive.
    inbox: Rc<InternalInbox>,
    /// The API subscriptions.
    subs: RefCell<Vec<Rc<Subscription>>>,
}

/// Requests waiting for the meta layer before new ones are dropped (Go's
/// `JSDefaultRequestQueueLimit`, 10k; Go drops them without a reply too).
const API_QUEUE_LIMIT: crate::client::InboxLimit = crate::client::InboxLimit {
    msgs: 10_000,
    bytes: 256 * 1024 * 1024,
};

#[path = "meta_consumers.rs"]
mod consumers;

/// The API subjects core 0 subscribes. `$JS.API.>` would also catch the
/// direct-get subjects that only a stream may answer, so the families are listed.
const API_SUBJECTS: &[&str] = &[
    "$JS.API.*",
    "$JS.API.STREAM.>",
    // Consumer requests, listed so MSG.NEXT (each consumer's own subscription)
    // is not caught: a pull request to a missing consumer gets no responders.
    "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.>",
    "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.NAMES.*",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.DELETE.*.*",
    "$JS.API.CONSUMER.PAUSE.*.*",
    "$JS.API.CONSUMER.UNPIN.*.*",
    // RESET is answered by the consumer itself (its own subscription); core 0
    // only listens so that a missing consumer's RESET goes unanswered, as in Go,
    // instead of getting no responders.
    "$JS.API.CONSUMER.RESET.*.*",
    "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*",
    "$JS.API.ACCOUNT.>",
    "$JS.API.META.>",
    "$JS.API.SERVER.>",
];

impl Meta {
    /// Start the meta layer on core 0: recover the streams on disk (each on its
    /// core), then subscribe the API.
    pub async fn start(shard: &Rc<Shard>, config: Arc<JsConfig>) -> Rc<Meta> {
        let meta = Rc::new(Meta {
            shard: shard.clone(),
            config,
            streams: RefCell::new(BTreeMap::new()),
            api_total: Cell::new(0),
            api_errors: Cell::new(0),
            api_inflight: Cell::new(0),
            unrecovered: RefCell::new(BTreeMap::new()),
            inbox: InternalInbox::with_limit(API_QUEUE_LIMIT),
            subs: RefCell::new(Vec::new()),
        });
        meta.recover().await;
        let domain = meta.config.domain.clone();
        for s in API_SUBJECTS {
            let mut subjects = vec![s.to_string()];
            if !domain.is_empty() {
                // `$JS.<domain>.API.>` is the same API, reachable by domain-aware clients.
                subjects.push(s.replacen("$JS.API.", &format!("$JS.{domain}.API."), 1));
            }
            for subject in subjects {
                let sub = Rc::new(Subscription::internal(
                    Bytes::from(subject),
                    None,
                    meta.inbox.clone(),
                ));
                if shard.add_sub(&sub).is_ok() {
                    meta.subs.borrow_mut().push(sub);
                }
            }
        }
        shard.interest_barrier().await;
        jetcore_router::spawn(meta.clone().run());
        meta
    }

    /// Bring back every file stream found under the store directory.
    async fn recover(&self) {
        let dir = self.config.streams_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::error!("JetStream: cannot read {}: {e}", dir.display());
                return;
            }
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(super::stream::DELETED_PREFIX)
            {
                // A delete interrupted by a crash: finish it.
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::warn!("JetStream: cannot remove {}: {e}", path.display());
                }
                continue;
            }
            // A stream whose metadata is missing or damaged is not loaded and
            // its files are left exactly as they are (never removed: Go
            // deletes a stream whose metadata does not read, losing its
            // messages). An operator can restore the file and restart.
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let meta_path = path.join(super::stream::META_FILE);
            let refused = match read_meta(&path) {
                Ok(m) if m.config.name == dir_name => {
                    found.push(m);
                    None
                }
                // Damage that still parses can change the name: restoring it
                // would start an empty stream under the other name and leave
                // these messages unreachable.
                Ok(m) => Some(format!(
                    "its metadata names stream '{}', not '{dir_name}' (damaged?)",
                    m.config.name
                )),
                Err(e) => Some(format!("no readable metadata: {e}")),
            };
            if let Some(why) = refused {
                tracing::error!(
                    "JetStream: stream '{dir_name}' not loaded: {} {why}; its files are left untouched",
                    meta_path.display()
                );
                self.unrecovered.borrow_mut().insert(dir_name, why);
            }
        }
        found.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        for mut m in found {
            let name = m.config.name.clone();
            // Fewer cores than when it was created: place it again.
            let persist = m.core >= self.shard.shards;
            if persist {
                m.core = self.place(&name);
            }
            let core = m.core;
            let config = m.config.clone();
            match self.open_on(core, m, persist, false).await {
                Ok(_) => {
                    self.streams
                        .borrow_mut()
                        .insert(name.clone(), Entry { core, config });
                    tracing::info!("  Restored stream '{name}' on core {core}");
                }
                Err(e) => {
                    tracing::error!("JetStream: restoring stream '{name}' failed: {e}");
                    self.unrecovered.borrow_mut().insert(name, e.to_string());
                }
            }
        }
    }

    /// Least-loaded core; ties broken by a hash of account and name.
    fn place(&self, name: &str) -> usize {
        let cores = self.shard.shards;
        let mut load = vec![0usize; cores];
        for e in self.streams.borrow().values() {
            if let Some(l) = load.get_mut(e.core) {
                *l += 1;
            }
        }
        let min = load.iter().copied().min().unwrap_or(0);
        let candidates: Vec<usize> = (0..cores).filter(|c| load[*c] == min).collect();
        let hash = fnv1a(format!("{}.{name}", crate::client::GLOBAL_ACCOUNT).as_bytes());
        candidates
            .get((hash % candidates.len().max(1) as u64) as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Open a stream on `core`, writing its metadata when `persist`;
    /// `creating`: a new stream (STREAM.CREATE), not one restored at start.
    async fn open_on(
        &self,
        core: usize,
        meta: StreamMeta,
        persist: bool,
        creating: bool,
    ) -> Result<(), ApiError> {
        let result = self
            .shard
            .call_on(core, move |shard| async move {
                let js = runtime::of(&shard)?;
                js.open_stream(&shard, meta, persist, creating).await?;
                // Every core must know the new subscriptions before the client hears
                // the stream exists, or its first publish could find no interest.
                shard.interest_barrier().await;
                Ok::<(), ApiError>(())
            })
            .await;
        result.map_err(|_| ApiError::stream_create("core unavailable"))?
    }

    async fn run(self: Rc<Self>) {
        while let Some(batch) = self.inbox.next_batch().await {
            let dropped = self.inbox.take_refused().len();
            if dropped > 0 {
                tracing::warn!("JetStream API queue limit reached, dropped {dropped} requests");
            }
            let mut left = batch.len() as u64;
            for m in batch {
                self.api_inflight.set(left);
                self.handle(m).await;
                left -= 1;
                jetcore_router::yield_if_needed().await;
            }
            self.api_inflight.set(0);
        }
    }

    /// Answer one API request.
    async fn handle(&self, m: InternalMsg) {
        // Go handles (and audits) a request without a reply subject too: a create
        // sent with a plain publish creates the stream.
        let reply = m.reply.clone().filter(|r| !r.is_empty());
        let mut subject = String::from_utf8_lossy(&m.subject).into_owned();
        if !self.config.domain.is_empty() {
            let with_domain = format!("$JS.{}.API.", self.config.domain);
            if let Some(rest) = subject.strip_prefix(&with_domain) {
                subject = format!("$JS.API.{rest}");
            }
        }
        let Some(req) = api::Request::parse(&subject) else {
            return;
        };
        let body = self.respond(req, &m).await;
        self.api_total.set(self.api_total.get() + 1);
        if body.is_error {
            self.api_errors.set(self.api_errors.get() + 1);
        }
        let json = Bytes::from(body.json);
        self.audit(&m, &json);
        if let Some(reply) = reply {
            self.shard.publish_internal(&reply, None, None, &json);
        }
    }

    /// The `$JS.EVENT.ADVISORY.API` audit of one request (built only when someone
    /// listens).
    fn audit(&self, m: &InternalMsg, response: &[u8]) {
        let subject = Bytes::from_static(advisory::API_AUDIT.as_bytes());
        if !self.shard.has_interest(&subject) {
            return;
        }
        let audit = advisory::ApiAudit {
            kind: advisory::API_AUDIT_TYPE,
            id: advisory::nuid(),
            timestamp: GoTime::now(),
            server: self.shard.info.server_id.clone(),
            client: m.origin.as_deref().cloned(),
            subject: String::from_utf8_lossy(&m.subject).into_owned(),
            request: String::from_utf8_lossy(&m.payload).into_owned(),
            response: String::from_utf8_lossy(response).into_owned(),
            domain: self.config.domain.clone(),
        };
        let body = Bytes::from(super::api_types::go_json_bytes(&audit));
        self.shard.publish_internal(&subject, None, None, &body);
    }

    async fn respond(&self, req: api::Request, m: &InternalMsg) -> Response {
        use api::Request as R;
        // Go checks the required API level before anything else, the body included
        // (a standalone server refuses cluster operations even before that).
        let cluster_only = matches!(req, R::ClusterOnly { .. });
        if !cluster_only && api::requires_newer_api(m.headers.as_deref()) {
            return refusal(&req, ApiError::required_api_level());
        }
        let payload = &m.payload;
        match req {
            R::AccountInfo => self.account_info().await,
            R::StreamCreate(name) => self.create(&name, payload).await,
            R::StreamUpdate(name) => self.update(&name, payload).await,
            R::StreamDelete(name) => self.delete(&name, payload).await,
            R::StreamInfo(name) => self.info(&name, payload).await,
            R::StreamNames => self.names(payload),
            R::StreamList => self.list(payload).await,
            R::StreamPurge(name) => self.purge(&name, payload).await,
            R::StreamMsgGet(name) => self.msg_get(&name, payload).await,
            R::StreamMsgDelete(name) => self.msg_delete(&name, payload).await,
            R::ConsumerCreate(subject) => self.consumer_create(subject, payload).await,
            R::ConsumerInfo(stream, name) => self.consumer_info(&stream, &name, payload).await,
            R::ConsumerNames(stream) => self.consumer_names(&stream, payload).await,
            R::ConsumerList(stream) => self.consumer_list(&stream, payload).await,
            R::ConsumerDelete(stream, name) => self.consumer_delete(&stream, &name, payload).await,
            R::ConsumerPause(stream, name) => self.consumer_pause(&stream, &name, payload).await,
            R::ClusterOnly { kind } => Response::error(kind, ApiError::cluster_required()),
            R::ConsumerUnpin(stream, name) => self.consumer_unpin(&stream, &name, payload).await,
        }
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        self.streams.borrow().get(name).cloned()
    }

    /// Run `job` with the stream `name` on its core `core` (Go's "stream not found"
    /// when it is gone there, or the core is).
    async fn on_stream<T, J, F>(&self, name: &str, core: usize, job: J) -> Result<T, ApiError>
    where
        T: Send + 'static,
        J: FnOnce(Rc<Shard>, Rc<Stream>) -> F + Send + 'static,
        F: std::future::Future<Output = Result<T, ApiError>> + 'static,
    {
        let name = name.to_string();
        self.shard
            .call_on(core, move |shard| async move {
                let js = runtime::of(&shard)?;
                let stream = js.stream(&name).ok_or_else(ApiError::stream_not_found)?;
                job(shard, stream).await
            })
            .await
            .map_err(|_| ApiError::stream_not_found())?
    }

    /// A stream's info, gathered on its core. `response_config` adds the dynamic
    /// metadata Go puts in CREATE/UPDATE/INFO responses (LIST shows the stored
    /// config).
    async fn stream_info(
        &self,
        name: &str,
        core: usize,
        opts: InfoOptions,
    ) -> Result<(StreamInfo, usize), ApiError> {
        let version = crate::server::GO_COMPAT_VERSION;
        let domain = self.config.domain.clone();
        let leader = self.config.leader.clone();
        self.on_stream(name, core, move |_, s| async move {
            let filter =
                (!opts.subjects_filter.is_empty()).then_some(opts.subjects_filter.as_str());
            let (mut info, total) = s.info(opts.deleted_details, filter, opts.offset);
            if opts.response_config {
                info.config = info.config.with_dynamic_metadata(version);
            }
            info.domain = domain;
            info.cluster = Some(ClusterInfo {
                leader,
                ..ClusterInfo::default()
            });
            Ok((info, total))
        })
        .await
    }

    async fn create(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&StreamCreateResponse::error(e));
        let req = match parse_create_request(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        // Go checks the server's limits against the request as sent, before the
        // configuration is validated and before looking for a stream of that name:
        // an identical create is refused too while the limit is fully reserved.
        let cfg = check_create_request(name, &req).and_then(|raw| {
            // A stream without `max_bytes` asks for one byte, so a server whose
            // limit is fully reserved takes no new stream of that storage type.
            self.check_reservation(raw.storage, raw.max_bytes.max(1))?;
            check_create_config(raw, req.pedantic, false, &self.config.check)
        });
        let cfg = match cfg {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        if let Err(e) = unsupported(&cfg) {
            return fail(e);
        }
        let core = match self.entry(name) {
            // Go answers an identical create like the first one (did_create again).
            Some(existing) if existing.config == cfg => existing.core,
            Some(_) => return fail(ApiError::stream_name_exist()),
            None => {
                if let Err(e) = self.check_overlap(name, &cfg) {
                    return fail(e);
                }
                let core = self.place(name);
                let meta = StreamMeta {
                    config: cfg.clone(),
                    created: GoTime::now(),
                    core,
                };
                if let Err(e) = self.open_on(core, meta, true, true).await {
                    return fail(e);
                }
                self.streams
                    .borrow_mut()
                    .insert(name.to_string(), Entry { core, config: cfg });
                // A stream of that name that failed to restore was replaced.
                self.unrecovered.borrow_mut().remove(name);
                advisory::stream_action(&self.shard, name, Action::Create, &self.config.domain);
                core
            }
        };
        match self.stream_info(name, core, InfoOptions::response()).await {
            Ok((mut info, _)) => Response::ok(&StreamCreateResponse {
                kind: STREAM_CREATE_RESPONSE_TYPE.to_string(),
                error: None,
                // Go's create reply leaves out the domain (update and info have it).
                info: Some({
                    info.domain.clear();
                    info
                }),
                did_create: true,
            }),
            Err(e) => fail(e),
        }
    }

    /// Go's server check of a stream's reservation (`checkBytesLimits` with
    /// `checkServer`): each stream reserves its `max_bytes` against `max_mem` or
    /// `max_file` (as configured, or as sized from the machine at start — the
    /// figures `/varz` reports); `add` is the bytes asked for. Checked only where
    /// streams are created or grown: the directory here holds every stream's
    /// configuration, so no core is asked. (Go counts one replica against the
    /// server; [`Meta::reserved`] multiplies by replicas, which are always 1 here.)
    fn check_reservation(&self, storage: StorageType, add: i64) -> Result<(), ApiError> {
        let (memory, file) = self.reserved();
        let (limit, reserved, exceeded): (i64, u64, fn() -> ApiError) = match storage {
            StorageType::Memory => (
                self.config.reported.max_memory,
                memory,
                ApiError::memory_resources_exceeded,
            ),
            StorageType::File => (
                self.config.reported.max_store,
                file,
                ApiError::storage_resources_exceeded,
            ),
        };
        let reserved = i64::try_from(reserved).unwrap_or(i64::MAX);
        if reserved > limit || add > limit - reserved {
            return Err(exceeded());
        }
        Ok(())
    }

    /// Go's subject-overlap rule: no two streams may capture the same subject.
    fn check_overlap(&self, name: &str, cfg: &StreamConfig) -> Result<(), ApiError> {
        let ours = capture_subjects(cfg);
        for (other_name, other) in self.streams.borrow().iter() {
            if other_name == name {
                continue;
            }
            let theirs = capture_subjects(&other.config);
            let collide = ours.iter().any(|a| {
                theirs
                    .iter()
                    .any(|b| subject::subjects_collide(a.as_bytes(), b.as_bytes()))
            });
            if collide {
                return Err(ApiError::stream_subject_overlap());
            }
        }
        Ok(())
    }

    async fn update(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&StreamUpdateResponse::error(e));
        let req = match parse_create_request(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let mut cfg = match req.config.check(req.pedantic, &self.config.check) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        if name != cfg.name {
            return fail(ApiError::stream_mismatch());
        }
        let Some(existing) = self.entry(name) else {
            return fail(ApiError::stream_not_found());
        };
        cfg.set_static_metadata();
        if let Err(e) = update_check(&existing.config, &mut cfg).and_then(|()| unsupported(&cfg)) {
            return fail(e);
        }
        // Only growth needs room: the old `max_bytes` is reserved already.
        let growth = (cfg.max_bytes.max(0) - existing.config.max_bytes.max(0)).max(0);
        if let Err(e) = self.check_reservation(cfg.storage, growth) {
            return fail(e);
        }
        if let Err(e) = self.check_overlap(name, &cfg) {
            return fail(e);
        }
        let core = existing.core;
        let new_cfg = cfg.clone();
        let updated = self
            .on_stream(name, core, move |shard, s| async move {
                s.update(new_cfg, core).await?;
                shard.interest_barrier().await;
                Ok(())
            })
            .await;
        if let Err(e) = updated {
            return fail(e);
        }
        if let Some(e) = self.streams.borrow_mut().get_mut(name) {
            e.config = cfg;
        }
        advisory::stream_action(&self.shard, name, Action::Modify, &self.config.domain);
        match self.stream_info(name, core, InfoOptions::response()).await {
            Ok((info, _)) => Response::ok(&StreamUpdateResponse::new(info)),
            Err(e) => fail(e),
        }
    }

    async fn delete(&self, name: &str, body: &[u8]) -> Response {
        if !is_empty_request(body) {
            return Response::err(&StreamDeleteResponse::error(ApiError::not_empty_request()));
        }
        let Some(existing) = self.entry(name) else {
            return Response::err(&StreamDeleteResponse::error(ApiError::stream_not_found()));
        };
        let n = name.to_string();
        let r = self
            .shard
            .call_on(existing.core, move |shard| async move {
                if let Ok(js) = runtime::of(&shard) {
                    js.close_stream(&n, true).await;
                }
                // Until every core dropped the stream's interest, they would keep
                // forwarding its subjects here, where nothing answers any more.
                shard.interest_barrier().await;
            })
            .await;
        if r.is_err() {
            let e = ApiError::stream_delete("core unavailable");
            return Response::err(&StreamDeleteResponse::error(e));
        }
        self.streams.borrow_mut().remove(name);
        advisory::stream_action(&self.shard, name, Action::Delete, &self.config.domain);
        Response::ok(&StreamDeleteResponse::ok())
    }

    async fn info(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&StreamInfoResponse::error(e));
        let req = if is_json_object_or_array(body) {
            match StreamInfoRequest::parse(body) {
                Ok(r) => r,
                Err(e) => return fail(e),
            }
        } else {
            StreamInfoRequest::default()
        };
        let Some(existing) = self.entry(name) else {
            return fail(ApiError::stream_not_found());
        };
        let opts = InfoOptions {
            deleted_details: req.deleted_details,
            offset: req.offset.max(0) as usize,
            subjects_filter: req.subjects_filter,
            response_config: true,
        };
        let paged = !opts.subjects_filter.is_empty();
        let offset = opts.offset;
        match self.stream_info(name, existing.core, opts).await {
            Ok((info, total)) if paged && total > 0 => {
                Response::ok(&StreamInfoResponse::with_subjects_page(info, total, offset))
            }
            Ok((info, _)) => Response::ok(&StreamInfoResponse::new(info)),
            Err(e) => fail(e),
        }
    }

    /// Streams that could store `filter` (all when empty), sorted by name.
    fn matching(&self, filter: &str) -> Vec<(String, Entry)> {
        self.streams
            .borrow()
            .iter()
            .filter(|(_, e)| {
                filter.is_empty()
                    || capture_subjects(&e.config)
                        .iter()
                        .any(|s| subject::subjects_collide(filter.as_bytes(), s.as_bytes()))
            })
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect()
    }

    fn names(&self, body: &[u8]) -> Response {
        let req = if is_json_object_or_array(body) {
            match StreamNamesRequest::parse(body) {
                Ok(r) => r,
                Err(e) => return Response::err(&StreamNamesResponse::error(e)),
            }
        } else {
            StreamNamesRequest::default()
        };
        let all = self.matching(&req.subject);
        let total = all.len();
        let offset = (req.offset.max(0) as usize).min(total);
        let names: Vec<String> = all
            .into_iter()
            .skip(offset)
            .take(NAMES_LIMIT)
            .map(|(n, _)| n)
            .collect();
        Response::ok(&StreamNamesResponse::new(names, total, offset))
    }

    async fn list(&self, body: &[u8]) -> Response {
        let req = if is_json_object_or_array(body) {
            match StreamListRequest::parse(body) {
                Ok(r) => r,
                Err(e) => return Response::err(&StreamListResponse::error(e)),
            }
        } else {
            StreamListRequest::default()
        };
        let all = self.matching(&req.subject);
        let total = all.len();
        let offset = (req.offset.max(0) as usize).min(total);
        let mut infos = Vec::new();
        let mut missing = Vec::new();
        for (name, e) in all.into_iter().skip(offset).take(LIST_LIMIT) {
            match self
                .stream_info(&name, e.core, InfoOptions::default())
                .await
            {
                Ok((info, _)) => infos.push(info),
                Err(_) => missing.push(name),
            }
        }
        let mut resp = StreamListResponse::new(infos, total, offset);
        resp.missing = missing;
        Response::ok(&resp)
    }

    async fn purge(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&StreamPurgeResponse::error(e));
        let req = if is_json_object_or_array(body) {
            match StreamPurgeRequest::parse(body) {
                Ok(r) => r,
                Err(e) => return fail(e),
            }
        } else {
            StreamPurgeRequest::default()
        };
        if req.seq > 0 && req.keep > 0 {
            return fail(ApiError::bad_request());
        }
        let Some(existing) = self.entry(name) else {
            return fail(ApiError::stream_not_found());
        };
        let store_req = PurgeRequest {
            filter: (!req.filter.is_empty()).then(|| Bytes::from(req.filter.clone())),
            up_to_seq: (req.seq > 0).then_some(req.seq),
            keep: (req.keep > 0).then_some(req.keep),
        };
        let purged = self
            .on_stream(name, existing.core, move |_, s| async move {
                let purged = s.purge(&store_req)?;
                s.durable().await;
                Ok(purged)
            })
            .await;
        match purged {
            Ok(purged) => Response::ok(&StreamPurgeResponse::ok(purged)),
            Err(e) => fail(e),
        }
    }

    async fn msg_get(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&MsgGetResponse::error(e));
        if is_empty_request(body) {
            return fail(ApiError::bad_request());
        }
        let q = match MsgGetRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        if q.batch > 0 || q.max_bytes > 0 || !q.options_valid() {
            return fail(ApiError::bad_request());
        }
        let Some(existing) = self.entry(name) else {
            return fail(ApiError::stream_not_found());
        };
        let got = self
            .on_stream(name, existing.core, move |_, s| async move {
                let m = s.get_msg(&q).await?;
                let hdrs = if q.no_hdr { Bytes::new() } else { m.headers };
                Ok(StoredMsg::new(
                    &m.subject,
                    m.seq,
                    hdrs,
                    m.payload,
                    m.timestamp,
                ))
            })
            .await;
        match got {
            Ok(m) => Response::ok(&MsgGetResponse::new(m)),
            Err(e) => fail(e),
        }
    }

    async fn msg_delete(&self, name: &str, body: &[u8]) -> Response {
        let fail = |e| Response::err(&MsgDeleteResponse::error(e));
        if is_empty_request(body) {
            return fail(ApiError::bad_request());
        }
        let req = match MsgDeleteRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let Some(existing) = self.entry(name) else {
            return fail(ApiError::stream_not_found());
        };
        let deleted = self
            .on_stream(name, existing.core, move |_, s| async move {
                s.delete_msg(req.seq, req.no_erase)?;
                s.durable().await;
                Ok(())
            })
            .await;
        match deleted {
            Ok(()) => Response::ok(&MsgDeleteResponse::ok()),
            Err(e) => fail(e),
        }
    }

    async fn account_info(&self) -> Response {
        let mut usage = CoreUsage::default();
        for core in 0..self.shard.shards {
            let r = self
                .shard
                .call_on(core, |shard| async move {
                    runtime::of(&shard).map(|js| js.usage()).unwrap_or_default()
                })
                .await;
            if let Ok(u) = r {
                usage.memory += u.memory;
                usage.storage += u.storage;
                usage.consumers += u.consumers;
            }
        }
        let (reserved_memory, reserved_storage) = self.reserved();
        let stats = AccountStats {
            tier: JetStreamTier {
                memory: usage.memory,
                storage: usage.storage,
                reserved_memory,
                reserved_storage,
                streams: self.streams.borrow().len(),
                consumers: usage.consumers,
                limits: AccountLimits::unlimited(),
            },
            domain: self.config.domain.clone(),
            api: ApiStats {
                inflight: 0,
                ..self.api_stats()
            },
            tiers: Default::default(),
        };
        Response::ok(&AccountInfoResponse::new(stats))
    }
}

/// What the monitoring endpoints (`/jsz`, `/varz`, `/healthz`) read, on core 0.
impl Meta {
    /// The API counters (Go's `JetStreamAPIStats` of the server): every request
    /// answered counts in `total`, error answers also in `errors`, as Go's
    /// `sendAPIResponse`/`sendAPIErrResponse` count them.
    pub fn api_stats(&self) -> ApiStats {
        ApiStats {
            level: JS_API_LEVEL,
            total: self.api_total.get(),
            errors: self.api_errors.get(),
            inflight: self.api_inflight.get(),
        }
    }

    /// Every stream with the core that owns it, sorted by name.
    pub fn stream_cores(&self) -> Vec<(String, usize)> {
        self.streams
            .borrow()
            .iter()
            .map(|(n, e)| (n.clone(), e.core))
            .collect()
    }

    /// Bytes reserved in memory and in files: Go reserves each stream's `max_bytes`
    /// (times replicas) against its storage type.
    pub fn reserved(&self) -> (u64, u64) {
        let (mut memory, mut storage) = (0u64, 0u64);
        for e in self.streams.borrow().values() {
            let c = &e.config;
            if c.max_bytes > 0 {
                let bytes = (c.max_bytes as u64).saturating_mul(c.num_replicas.max(1) as u64);
                match c.storage {
                    StorageType::Memory => memory = memory.saturating_add(bytes),
                    StorageType::File => storage = storage.saturating_add(bytes),
                }
            }
        }
        (memory, storage)
    }

    /// Streams found on disk at start that could not be restored, by name, with why.
    pub fn unrecovered(&self) -> Vec<(String, String)> {
        self.unrecovered
            .borrow()
            .iter()
            .map(|(n, why)| (n.clone(), why.clone()))
            .collect()
    }
}

/// What to gather for a stream's info.
#[derive(Debug, Clone, Default)]
struct InfoOptions {
    /// Fill `state.deleted`.
    deleted_details: bool,
    /// Fill `state.subjects` for these subjects (empty = no).
    subjects_filter: String,
    /// Into the sorted subject list.
    offset: usize,
    /// Add `_nats.ver`/`_nats.level` to the config (CREATE/UPDATE/INFO responses).
    response_config: bool,
}

impl InfoOptions {
    fn response() -> Self {
        InfoOptions {
            response_config: true,
            ..InfoOptions::default()
        }
    }
}

/// The subjects a stream captures: its `subjects`, or its name when it has none
/// (and is not a mirror).
fn capture_subjects(cfg: &StreamConfig) -> Vec<String> {
    if cfg.subjects.is_empty() && cfg.mirror.is_none() {
        vec![cfg.name.clone()]
    } else {
        cfg.subjects.clone()
    }
}

/// Go's `configUpdateCheck`: what an update may not change. Adjusts `cfg` for a
/// sealed stream as Go does.
fn update_check(old: &StreamConfig, cfg: &mut StreamConfig) -> Result<(), ApiError> {
    use super::stream_config::{DiscardPolicy, RetentionPolicy};
    let invalid = ApiError::stream_invalid_config;
    if cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    if cfg.storage != old.storage {
        return Err(invalid(
            "stream configuration update can not change storage type",
        ));
    }
    if cfg.retention != old.retention
        && (old.retention == RetentionPolicy::WorkQueue
            || cfg.retention == RetentionPolicy::WorkQueue)
    {
        return Err(invalid(
            "stream configuration update can not change retention policy to/from workqueue",
        ));
    }
    if !cfg.sealed && old.sealed {
        return Err(invalid(
            "stream configuration update can not unseal a sealed stream",
        ));
    }
    if !cfg.deny_delete && old.deny_delete {
        return Err(invalid(
            "stream configuration update can not cancel deny message deletes",
        ));
    }
    if !cfg.deny_purge && old.deny_purge {
        return Err(invalid(
            "stream configuration update can not cancel deny purge",
        ));
    }
    if cfg.discard_new_per_subject {
        if cfg.discard != DiscardPolicy::New {
            return Err(invalid(
                "discard new per subject requires discard new policy to be set",
            ));
        }
        if cfg.max_msgs_per_subject <= 0 {
            return Err(invalid(
                "discard new per subject requires max msgs per subject > 0",
            ));
        }
    }
    if old.allow_msg_ttl && !cfg.allow_msg_ttl {
        return Err(invalid("message TTL status can not be disabled"));
    }
    if cfg.allow_msg_counter != old.allow_msg_counter {
        return Err(invalid(
            "stream configuration update can not change message counter setting",
        ));
    }
    if old.allow_msg_schedules && !cfg.allow_msg_schedules {
        return Err(invalid("message schedules can not be disabled"));
    }
    if old.persist_mode != cfg.persist_mode {
        return Err(invalid(
            "stream configuration update can not change persist mode",
        ));
    }
    if cfg.sealed {
        cfg.max_age = 0;
        cfg.discard = DiscardPolicy::New;
        cfg.deny_delete = true;
        cfg.deny_purge = true;
        cfg.allow_rollup_hdrs = false;
    }
    Ok(())
}

/// Stream features Go has and jetcore does not yet: refused at create and update
/// rather than accepted and silently ignored (a client relying on them would
/// otherwise lose its guarantees without knowing).
fn unsupported(cfg: &StreamConfig) -> Result<(), ApiError> {
    let missing = [
        (cfg.allow_atomic, "atomic batch publish (allow_atomic)"),
        (cfg.allow_batched, "fast batch publish (allow_batched)"),
        (
            cfg.allow_msg_schedules,
            "message schedules (allow_msg_schedules)",
        ),
        (cfg.mirror.is_some(), "mirrors"),
        (!cfg.sources.is_empty(), "sources"),
    ];
    match missing.iter().find(|(set, _)| *set) {
        Some((_, what)) => Err(ApiError::stream_invalid_config(format!(
            "{what} not supported by this server"
        ))),
        None => Ok(()),
    }
}

/// `e` as the error response of `req`'s own type (each has its own error shape:
/// the paged listings, for one, carry their zeroed counters).
fn refusal(req: &api::Request, e: ApiError) -> Response {
    use super::consumer_api as capi;
    use api::Request as R;
    match req {
        R::AccountInfo => Response::err(&AccountInfoResponse::error(e)),
        R::StreamCreate(_) => Response::err(&StreamCreateResponse::error(e)),
        R::StreamUpdate(_) => Response::err(&StreamUpdateResponse::error(e)),
        R::StreamDelete(_) => Response::err(&StreamDeleteResponse::error(e)),
        R::StreamInfo(_) => Response::err(&StreamInfoResponse::error(e)),
        R::StreamNames => Response::err(&StreamNamesResponse::error(e)),
        R::StreamList => Response::err(&StreamListResponse::error(e)),
        R::StreamPurge(_) => Response::err(&StreamPurgeResponse::error(e)),
        R::StreamMsgGet(_) => Response::err(&MsgGetResponse::error(e)),
        R::StreamMsgDelete(_) => Response::err(&MsgDeleteResponse::error(e)),
        R::ConsumerCreate(_) => Response::err(&capi::ConsumerCreateResponse::error(e)),
        R::ConsumerInfo(..) => Response::err(&capi::ConsumerInfoResponse::error(e)),
        R::ConsumerNames(_) => Response::err(&capi::ConsumerNamesResponse::error(e)),
        R::ConsumerList(_) => Response::err(&capi::ConsumerListResponse::error(e)),
        R::ConsumerDelete(..) => Response::err(&capi::ConsumerDeleteResponse::error(e)),
        R::ConsumerPause(..) => Response::err(&capi::ConsumerPauseResponse::error(e)),
        R::ConsumerUnpin(..) => Response::error(api::CONSUMER_UNPIN, e),
        R::ClusterOnly { kind } => Response::error(kind, e),
    }
}

/// FNV-1a: a stable hash for placement ties (the same on every run and build).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
