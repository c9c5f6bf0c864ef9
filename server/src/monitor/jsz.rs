//! `/jsz` and the `jetstream` section of `/varz`: Go's `JSInfo` and `JetStreamVarz`
//! (server/monitor.go, server/jetstream.go), for a single server.
//!
//! Where the figures come from:
//! - server totals, API counters, stream placement: the meta layer on core 0
//!   ([`Meta`]), read directly (the monitor runs on core 0 too);
//! - stream state, configs and consumers: the core that owns each stream, one
//!   cross-core call per core ([`Monitor::on_every_core`]), with the same
//!   `StreamInfo`/`ConsumerInfo` builders the JetStream API uses.
//!
//! jetcore has one JetStream account, the global account `$G` (no multi-account
//! configuration yet), so account listings hold at most that one.

use std::rc::Rc;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use super::{json, Monitor, Query, Response};
use crate::client::GLOBAL_ACCOUNT;
use crate::jetstream::api_types::{AccountLimits, ApiStats};
use crate::jetstream::consumer_api::ConsumerInfo;
use crate::jetstream::gotime::GoTime;
use crate::jetstream::meta::Meta;
use crate::jetstream::runtime::JsConfig;
use crate::jetstream::stream_config::StreamConfig;
use crate::jetstream::stream_info::{ClusterInfo, StreamState};
use crate::shard::Shard;

/// Go's `defaultSyncInterval` (2 minutes), in nanoseconds. Go reports it as
/// `sync_interval` next to `sync_always: true` when syncing every write.
const GO_DEFAULT_SYNC_INTERVAL_NANOS: i64 = 120_000_000_000;

/// Go's default `limit` for `/jsz` account listings.
const DEFAULT_ACCOUNT_LIMIT: i64 = 1024;

/// Go's `JetStreamConfig`: the settings JetStream runs with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JetStreamConfig {
    /// Bytes memory streams may hold (configured, or Go's computed default).
    pub max_memory: i64,
    /// Bytes file streams may hold (configured, or Go's computed default).
    pub max_storage: i64,
    /// `<store_dir>/jetstream`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub store_dir: String,
    /// Background sync period in nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub sync_interval: i64,
    /// Every write is synced before it is acknowledged.
    #[serde(skip_serializing_if = "is_false")]
    pub sync_always: bool,
    /// JetStream domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Go's `compress_ok` (see `ReportedLimits::compress_ok`).
    #[serde(skip_serializing_if = "is_false")]
    pub compress_ok: bool,
    /// Strict JSON parsing of API requests.
    #[serde(skip_serializing_if = "is_false")]
    pub strict: bool,
}

/// Go's `JSLimitOpts`: the server-wide JetStream limits that are configured
/// (each left out when not set, as Go's `omitempty` does). Go's other limits
/// (`max_ha_assets`, the batch-publish limits) belong to clustering and batch
/// publishing, which jetcore does not have, so they are never set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JsLimits {
    /// `limits { max_request_batch }`.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_request_batch: i64,
    /// `limits { max_ack_pending }`.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    /// `limits { duplicate_window }`, nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_duplicate_window: i64,
}

/// Go's `JetStreamStats`: usage and API counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JetStreamStats {
    /// Bytes in memory streams.
    pub memory: u64,
    /// Bytes in file streams.
    pub storage: u64,
    /// Bytes reserved by memory streams' `max_bytes`.
    pub reserved_memory: u64,
    /// Bytes reserved by file streams' `max_bytes`.
    pub reserved_storage: u64,
    /// JetStream-enabled accounts.
    pub accounts: usize,
    /// Replicated assets (Raft groups): none on a single server.
    pub ha_assets: usize,
    /// API counters.
    pub api: ApiStats,
}

/// Go's `JetStreamVarz`: an empty object when JetStream is off (Go's zero struct
/// with `omitempty` pointers).
#[derive(Debug, Default, Serialize)]
pub struct JetStreamVarz {
    /// The settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<JetStreamConfig>,
    /// Usage and API counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<JetStreamStats>,
    /// Configured limits. (Go's `meta`, the cluster's meta group, is absent on a
    /// single server.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
}

/// Go's `JSInfo`, the `/jsz` document.
#[derive(Debug, Serialize)]
pub struct JsInfo {
    /// The server's usage and API counters.
    #[serde(flatten)]
    pub stats: JetStreamStats,
    /// Server id.
    pub server_id: String,
    /// When the document was made.
    pub now: GoTime,
    /// JetStream is off.
    #[serde(skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// The settings (zero when off).
    pub config: JetStreamConfig,
    /// Configured limits (absent when off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<JsLimits>,
    /// Streams of all accounts.
    pub streams: usize,
    /// Streams this server leads (`raft=true`; every stream on a single server).
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub streams_leader: usize,
    /// Consumers of all streams.
    pub consumers: usize,
    /// Consumers this server leads (`raft=true`).
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub consumers_leader: usize,
    /// Messages in all streams.
    pub messages: u64,
    /// Bytes in all streams.
    pub bytes: u64,
    /// Accounts asked for (`accounts=true`, `acc=`, `streams=true`). Go's
    /// `meta_cluster` comes before it only in a cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_details: Vec<AccountDetail>,
    /// JetStream-enabled accounts.
    pub total: usize,
}

/// Go's `AccountDetail`.
#[derive(Debug, Serialize)]
pub struct AccountDetail {
    /// Account name.
    pub name: String,
    /// Account id (the name: jetcore has no nkey accounts).
    pub id: String,
    /// The account's usage and API counters.
    #[serde(flatten)]
    pub stats: JetStreamStats,
    /// Its streams (`streams=true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stream_detail: Vec<StreamDetail>,
}

/// Go's `StreamDetail`. Go's `mirror`/`sources` (jetcore refuses mirrors and
/// sources), `direct_consumer_detail` (no direct consumers) and the Raft group
/// names (single server) would always be empty, so they are left out as Go
/// leaves them out then.
#[derive(Debug, Serialize)]
pub struct StreamDetail {
    /// Stream name.
    pub name: String,
    /// When it was created.
    pub created: GoTime,
    /// Who leads it (this server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Its stored configuration (`config=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<StreamConfig>,
    /// Its state.
    pub state: StreamState,
    /// Its consumers (`consumers=true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consumer_detail: Vec<ConsumerDetail>,
}

/// A consumer as `/jsz` lists it: Go sets its `config` to nil unless
/// `config=true`, and `omitempty` then leaves the key out. The `ConsumerInfo` is
/// the API's own, serialized with or without that one field.
#[derive(Debug)]
pub struct ConsumerDetail {
    /// The consumer's info, built on its stream's core.
    pub info: ConsumerInfo,
    /// Write `config`.
    pub with_config: bool,
}

impl Serialize for ConsumerDetail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.with_config {
            self.info.serialize(s)
        } else {
            self.info.serialize(OmitField {
                inner: s,
                field: "config",
            })
        }
    }
}

/// `/jsz` query options (Go's `JSzOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JszOptions {
    /// `acc`: one account's details.
    pub account: String,
    /// `accounts`: every account's details.
    pub accounts: bool,
    /// `streams`: stream details.
    pub streams: bool,
    /// `consumers`: consumer details (implies `streams`).
    pub consumers: bool,
    /// `direct-consumers`: direct consumer details (jetcore has none).
    pub direct_consumers: bool,
    /// `config`: stream and consumer configurations.
    pub config: bool,
    /// `leader-only`: answer only as the meta leader.
    pub leader_only: bool,
    /// `offset` into the sorted account list.
    pub offset: i64,
    /// `limit`: accounts listed at most.
    pub limit: i64,
    /// `raft`: Raft group names and leader counts.
    pub raft: bool,
    /// `stream-leader-only`: only streams this server leads.
    pub stream_leader_only: bool,
}

impl JszOptions {
    /// Decode the query as Go's `HandleJsz` does, in its order (the first bad
    /// parameter answers), then apply Go's defaults (`Jsz`).
    pub fn parse(q: &Query) -> Result<JszOptions, Response> {
        let mut o = JszOptions {
            accounts: q.bool("accounts")?,
            streams: q.bool("streams")?,
            consumers: q.bool("consumers")?,
            direct_consumers: q.bool("direct-consumers")?,
            config: q.bool("config")?,
            offset: q.int("offset")?,
            limit: q.int("limit")?,
            leader_only: q.bool("leader-only")?,
            raft: q.bool("raft")?,
            stream_leader_only: q.bool("stream-leader-only")?,
            account: q.get("acc").to_string(),
        };
        o.offset = o.offset.max(0);
        if o.limit == 0 {
            o.limit = DEFAULT_ACCOUNT_LIMIT;
        }
        if o.consumers {
            o.streams = true;
        }
        if o.streams && o.account.is_empty() {
            o.accounts = true;
        }
        Ok(o)
    }
}

/// Which of `accounts` (names) get details: the one `acc` names if it is among
/// them, else all (sorted, from `offset`, at most `limit`; a negative limit
/// means all) when `accounts` is set, else none. Go's `Jsz` selection.
pub fn select_accounts(mut accounts: Vec<String>, o: &JszOptions) -> Vec<String> {
    if let Some(a) = accounts.iter().find(|a| **a == o.account) {
        return vec![a.clone()];
    }
    if !o.accounts {
        return Vec::new();
    }
    if o.limit > 0 {
        accounts.sort();
        let offset = (o.offset.max(0) as usize).min(accounts.len());
        accounts.drain(..offset);
        accounts.truncate(o.limit as usize);
    }
    accounts
}

/// One stream as its core reports it.
#[derive(Debug)]
struct StreamFacts {
    /// Stream name.
    name: String,
    /// A memory stream.
    memory: bool,
    /// When it was created.
    created: GoTime,
    /// Its state.
    state: StreamState,
    /// Its stored configuration (asked for only with `config=true`).
    config: Option<StreamConfig>,
    /// Its consumers (asked for only with `consumers=true`).
    consumers: Vec<ConsumerInfo>,
}

/// Every stream, from the cores that own them, sorted by name.
async fn gather(m: &Monitor, want_config: bool, want_consumers: bool) -> Vec<StreamFacts> {
    let per_core = m
        .on_every_core(move |shard: Rc<Shard>| async move {
            let Some(js) = shard.jetstream.get().cloned() else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for s in js.streams() {
                let (info, _) = s.info(false, None, 0);
                let consumers = if want_consumers {
                    s.consumer_list().iter().map(|c| c.info(&s)).collect()
                } else {
                    Vec::new()
                };
                out.push(StreamFacts {
                    name: s.name.clone(),
                    memory: s.is_memory(),
                    created: info.created,
                    state: info.state,
                    config: want_config.then_some(info.config),
                    consumers,
                });
                // Many streams on one core: let its clients run in between.
                jetcore_router::yield_if_needed().await;
            }
            out
        })
        .await;
    let mut all: Vec<StreamFacts> = per_core.into_iter().flatten().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The meta layer and settings, when JetStream runs.
fn running(m: &Monitor) -> Option<(Rc<Meta>, std::sync::Arc<JsConfig>)> {
    let js = m.shard.jetstream.get()?;
    let meta = js.meta.get()?.clone();
    Some((meta, js.config.clone()))
}

/// The JetStream-enabled accounts: the global account while JetStream runs.
fn js_accounts() -> Vec<String> {
    vec![GLOBAL_ACCOUNT.to_string()]
}

/// Go's `JetStreamConfig` as jetcore runs.
pub fn config_of(c: &JsConfig) -> JetStreamConfig {
    use jetcore_storage::SyncPolicy;
    let (sync_interval, sync_always) = match c.sync {
        // Go's `sync_interval: always` keeps the default interval next to the flag.
        SyncPolicy::Always => (GO_DEFAULT_SYNC_INTERVAL_NANOS, true),
        SyncPolicy::Interval(d) => (d.as_nanos().min(i64::MAX as u128) as i64, false),
        // No syncing at all: neither an interval nor per-write syncs.
        SyncPolicy::Never => (0, false),
    };
    JetStreamConfig {
        max_memory: c.reported.max_memory,
        max_storage: c.reported.max_store,
        store_dir: c.dir.display().to_string(),
        sync_interval,
        sync_always,
        domain: c.domain.clone(),
        compress_ok: c.reported.compress_ok,
        // jetcore always checks API requests strictly (unknown fields and wrong
        // types are refused), whatever `strict` says.
        strict: true,
    }
}

/// The configured limits.
fn limits_of(m: &Monitor) -> JsLimits {
    let js = &m.shard.opts.jetstream;
    JsLimits {
        max_request_batch: js.max_request_batch,
        max_ack_pending: js.max_ack_pending,
        max_duplicate_window: js
            .duplicate_window
            .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64),
    }
}

/// The server's stats from per-core usage.
fn stats_of(meta: &Meta, memory: u64, storage: u64) -> JetStreamStats {
    let (reserved_memory, reserved_storage) = meta.reserved();
    JetStreamStats {
        memory,
        storage,
        reserved_memory,
        reserved_storage,
        accounts: js_accounts().len(),
        ha_assets: 0,
        api: meta.api_stats(),
    }
}

/// The `jetstream` section of `/varz`.
pub async fn varz_section(m: &Monitor) -> JetStreamVarz {
    let Some((meta, c)) = running(m) else {
        return JetStreamVarz::default();
    };
    let usage = m
        .on_every_core(|shard: Rc<Shard>| async move {
            shard
                .jetstream
                .get()
                .map(|js| js.usage())
                .unwrap_or_default()
        })
        .await;
    let (memory, storage) = usage
        .iter()
        .fold((0, 0), |(m, s), u| (m + u.memory, s + u.storage));
    JetStreamVarz {
        config: Some(config_of(&c)),
        stats: Some(stats_of(&meta, memory, storage)),
        limits: Some(limits_of(m)),
    }
}

/// Go's answer to a `/jsz` it will not give: 400 with the text, no newline.
fn refuse(text: &str) -> Response {
    let mut r = Response::error(400, "");
    r.body = text.as_bytes().to_vec();
    r
}

/// `/jsz`.
pub async fn handle(m: &Monitor, query: &Query) -> Response {
    let o = match JszOptions::parse(query) {
        Ok(o) => o,
        Err(r) => return r,
    };
    match build(m, &o).await {
        Ok(info) => json::respond(&info),
        Err(text) => refuse(&text),
    }
}

/// The `/jsz` document for `o`, or Go's error text.
pub async fn build(m: &Monitor, o: &JszOptions) -> Result<JsInfo, String> {
    let mut info = JsInfo {
        stats: JetStreamStats::default(),
        server_id: m.server_id().to_string(),
        now: GoTime::now(),
        disabled: false,
        config: JetStreamConfig::default(),
        limits: None,
        streams: 0,
        streams_leader: 0,
        consumers: 0,
        consumers_leader: 0,
        messages: 0,
        bytes: 0,
        account_details: Vec::new(),
        total: 0,
    };
    let Some((meta, c)) = running(m) else {
        if o.leader_only {
            // Go's `errSkipZreq`: only a meta leader answers; there is none.
            return Err("filtered response: not leader".to_string());
        }
        info.disabled = true;
        return Ok(info);
    };
    // A single server is its own meta leader and leads every stream, so
    // `leader-only` and `stream-leader-only` change nothing, and there are no Raft
    // group names for `raft` to add.
    info.limits = Some(limits_of(m));
    info.config = config_of(&c);
    let accounts = js_accounts();
    info.total = accounts.len();
    let selected = select_accounts(accounts, o);
    let details = o.streams && !selected.is_empty();
    let facts = gather(m, details && o.config, details && o.consumers).await;
    let (mut memory, mut storage) = (0u64, 0u64);
    for f in &facts {
        info.messages += f.state.messages;
        info.bytes += f.state.bytes;
        info.consumers += f.state.consumer_count.max(0) as usize;
        if f.memory {
            memory += f.state.bytes;
        } else {
            storage += f.state.bytes;
        }
    }
    info.streams = facts.len();
    if o.raft {
        // Without Raft groups this server leads every stream and consumer.
        info.streams_leader = info.streams;
        info.consumers_leader = info.consumers;
    }
    info.stats = stats_of(&meta, memory, storage);
    let api = info.stats.api.clone();
    let mut facts = Some(facts);
    for name in selected {
        // Go fills an account's reserved figures from its limits (-1, unlimited,
        // written as an unsigned number) and leaves the API level unset.
        let limits = AccountLimits::unlimited();
        let mut detail = AccountDetail {
            id: name.clone(),
            name,
            stats: JetStreamStats {
                memory,
                storage,
                reserved_memory: limits.max_memory as u64,
                reserved_storage: limits.max_storage as u64,
                accounts: 0,
                ha_assets: 0,
                api: ApiStats {
                    level: 0,
                    total: api.total,
                    errors: api.errors,
                    inflight: 0,
                },
            },
            stream_detail: Vec::new(),
        };
        if o.streams {
            // Every stream is the global account's: the one account takes them all.
            let leader = c.leader.clone();
            detail.stream_detail = facts
                .take()
                .unwrap_or_default()
                .into_iter()
                .map(|f| stream_detail(f, &leader, o))
                .collect();
        }
        info.account_details.push(detail);
    }
    Ok(info)
}

/// One stream's detail; consumers only with `consumers=true`, configs only with
/// `config=true`.
fn stream_detail(f: StreamFacts, leader: &str, o: &JszOptions) -> StreamDetail {
    StreamDetail {
        name: f.name,
        created: f.created,
        cluster: Some(ClusterInfo {
            leader: leader.to_string(),
            ..ClusterInfo::default()
        }),
        config: f.config,
        state: f.state,
        consumer_detail: if o.consumers {
            f.consumers
                .into_iter()
                .map(|info| ConsumerDetail {
                    info,
                    with_config: o.config,
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

// ---- leaving one field out of a derived Serialize ---------------------------------

/// A serializer that passes everything through to `inner`, except that the
/// top-level struct's `field` is skipped: Go's nil pointer with `omitempty`, for a
/// struct whose Rust twin always has the field. Nested values go straight to
/// `inner`, so the layout (order, escapes, indentation) is the inner serializer's.
struct OmitField<S> {
    /// The real serializer.
    inner: S,
    /// The field to leave out.
    field: &'static str,
}

/// The struct half of [`OmitField`].
struct OmitStruct<T> {
    /// The real struct serializer.
    inner: T,
    /// The field to leave out.
    field: &'static str,
}

impl<T: SerializeStruct> SerializeStruct for OmitStruct<T> {
    type Ok = T::Ok;
    type Error = T::Error;

    fn serialize_field<V: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), T::Error> {
        if key == self.field {
            self.inner.skip_field(key)
        } else {
            self.inner.serialize_field(key, value)
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), T::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<T::Ok, T::Error> {
        self.inner.end()
    }
}

/// Forwards plain `serialize_*` methods to the inner serializer.
macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.inner.$method(v)
        })*
    };
}

impl<S: Serializer> Serializer for OmitField<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = S::SerializeSeq;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = OmitStruct<S::SerializeStruct>;
    type SerializeStructVariant = S::SerializeStructVariant;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(v)
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(name, v)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, v)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<S::SerializeSeq, S::Error> {
        self.inner.serialize_seq(len)
    }

    fn serialize_tuple(self, len: usize) -> Result<S::SerializeTuple, S::Error> {
        self.inner.serialize_tuple(len)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<S::SerializeTupleStruct, S::Error> {
        self.inner.serialize_tuple_struct(name, len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<S::SerializeTupleVariant, S::Error> {
        self.inner
            .serialize_tuple_variant(name, index, variant, len)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<S::SerializeMap, S::Error> {
        self.inner.serialize_map(len)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(OmitStruct {
            inner: self.inner.serialize_struct(name, len)?,
            field: self.field,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<S::SerializeStructVariant, S::Error> {
        self.inner
            .serialize_struct_variant(name, index, variant, len)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> JszOptions {
        JszOptions::parse(&Query::parse(q)).unwrap()
    }

    #[test]
    fn options_follow_go_defaults() {
        let o = opts("");
        assert_eq!((o.limit, o.offset, o.accounts), (1024, 0, false));
        let o = opts("consumers=1");
        assert!(o.streams && o.accounts);
        let o = opts("streams=true&acc=$G&offset=-3");
        assert!(o.streams && !o.accounts);
        assert_eq!(o.offset, 0);
        let bad = JszOptions::parse(&Query::parse("streams=x&offset=y")).unwrap_err();
        assert_eq!(bad.status, 400);
        assert_eq!(
            String::from_utf8(bad.body).unwrap(),
            "Error decoding boolean for 'streams': strconv.ParseBool: parsing \"x\": invalid syntax"
        );
        let bad = JszOptions::parse(&Query::parse("limit=1.5")).unwrap_err();
        assert_eq!(
            String::from_utf8(bad.body).unwrap(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"1.5\": invalid syntax"
        );
    }

    #[test]
    fn account_selection_pages_like_go() {
        let all = || vec!["b".to_string(), "a".to_string(), "c".to_string()];
        let sel = |q: &str| select_accounts(all(), &opts(q));
        assert!(sel("").is_empty());
        assert_eq!(sel("accounts=1"), ["a", "b", "c"]);
        assert_eq!(sel("accounts=1&offset=1&limit=1"), ["b"]);
        assert!(sel("accounts=1&offset=9").is_empty());
        // A negative limit lists everything, unsorted, as Go does.
        assert_eq!(sel("accounts=1&limit=-1&offset=2"), ["b", "a", "c"]);
        assert_eq!(sel("acc=c"), ["c"]);
        assert_eq!(sel("acc=c&accounts=1&offset=2"), ["c"]);
        // An unknown `acc` falls back to `accounts`.
        assert!(sel("acc=zz").is_empty());
        assert_eq!(sel("acc=zz&accounts=1&limit=2"), ["a", "b"]);
    }

    #[test]
    fn consumer_detail_leaves_config_out_unless_asked() {
        let info = ConsumerInfo {
            stream_name: "S".into(),
            name: "C".into(),
            ..ConsumerInfo::default()
        };
        let full = serde_json::to_string(&info).unwrap();
        let with = ConsumerDetail {
            info: info.clone(),
            with_config: true,
        };
        assert_eq!(serde_json::to_string(&with).unwrap(), full);
        let without = ConsumerDetail {
            info,
            with_config: false,
        };
        let text = String::from_utf8(json::to_go_json_pretty(&without)).unwrap();
        assert!(!text.contains("\"config\""), "{text}");
        // Everything else stays, in Go's order.
        assert!(
            text.starts_with("{\n  \"stream_name\": \"S\",\n  \"name\": \"C\",\n  \"created\":"),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut want: serde_json::Value = serde_json::from_str(&full).unwrap();
        want.as_object_mut().unwrap().remove("config");
        assert_eq!(v, want);
    }

    #[test]
    fn disabled_shapes_match_go() {
        assert_eq!(
            serde_json::to_string(&JetStreamVarz::default()).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&JetStreamConfig::default()).unwrap(),
            r#"{"max_memory":0,"max_storage":0}"#
        );
        assert_eq!(serde_json::to_string(&JsLimits::default()).unwrap(), "{}");
        let stats = serde_json::to_string(&JetStreamStats::default()).unwrap();
        assert_eq!(
            stats,
            r#"{"memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"accounts":0,"ha_assets":0,"api":{"level":0,"total":0,"errors":0}}"#
        );
    }
}
