//! JetStream `ConsumerConfig` with Go's JSON shape (`server/consumer.go`,
//! nats-server 2.15.1), the defaults Go fills in (`setConsumerConfigDefaults`),
//! Go's validation (`checkConsumerCfg`), the rules for updating an existing
//! consumer (`checkNewConsumerConfig`), and the subject-versus-body checks of a
//! `$JS.API.CONSUMER.CREATE` request (`jsConsumerCreateRequest`). Pure: no stream
//! state beyond what the caller passes in.
//!
//! - [`ConsumerConfig`] serializes byte for byte like Go (field order,
//!   `omitempty`, durations as integer nanoseconds) and deserializes leniently
//!   (unknown fields ignored), as Go reads a stored config.
//! - [`CreateConsumerRequest::parse`] decodes a create body as Go's strict API
//!   decoder does: unknown fields rejected, names matched exactly or else
//!   case-insensitively, concatenated JSON values decoded into the same request,
//!   and the first error in document order reported with Go's text.
//! - The create path, in Go's order: [`resolve_create`] (subject vs body), then
//!   [`prepare`] (or its parts: [`apply_defaults`], [`check`], [`check_update`],
//!   [`same_for_create`], [`check_workqueue`], [`check_name`],
//!   [`apply_ephemeral_threshold`]).
//!
//! Not ported: clustered placement, direct sourcing consumers (Go rewrites their
//! names and ack policy on create), the `Nats-Stream-Identity` header check, and
//! the `Nats-Required-Api-Level` header (the API layer's job).
//!
//! One known difference: Go keeps the zone offset of `opt_start_time` and
//! `pause_until` as sent (`"2020-01-01T02:00:00+02:00"` is stored and echoed
//! as such); [`GoTime`] holds UTC only, so they come back as the same instant
//! in UTC. A zero `pause_until` sent explicitly is kept (and written) as Go does.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::errors::{ApiError, ERR_BAD_SUBJECT};
use super::gotime::GoTime;
use super::stream_config::{
    go_duration_string, is_valid_asset_name, RetentionPolicy, StreamConfig, JS_API_LEVEL,
    MAX_DESCRIPTION_LEN, MAX_METADATA_LEN, MAX_NAME_LEN, META_REQUIRED_LEVEL, META_SERVER_LEVEL,
    META_SERVER_VERSION,
};
use crate::subject::{is_literal, is_subset_match, is_valid_subject, subjects_collide};

const MS: i64 = 1_000_000;
const SECOND: i64 = 1_000_000_000;

/// `JsAckWaitDefault`: explicit and all ack policies wait 30s by default.
pub const DEFAULT_ACK_WAIT: i64 = 30 * SECOND;
/// `JsDefaultMaxAckPending`.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// `JSWaitQueueDefaultMax`: the default `max_waiting` of a pull consumer.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// `JsDeleteWaitTimeDefault`: what an ephemeral's `inactive_threshold` becomes
/// when none is set (Go adds 0.1s to 1s of jitter to the timer, not the config).
pub const DEFAULT_INACTIVE_THRESHOLD: i64 = 5 * SECOND;
/// `JsDefaultPinnedTTL`: the default `priority_timeout` of a pinned consumer.
pub const DEFAULT_PINNED_TTL: i64 = 120 * SECOND;
/// `sourceHealthHB`: the heartbeat a `flow_control` ack policy requires.
pub const FLOW_CONTROL_ACK_HEARTBEAT: i64 = SECOND;

// ---- enums -------------------------------------------------------------------

/// Go's `fmt.Errorf("can not unmarshal %q", data)`: the raw JSON bytes quoted.
fn can_not_unmarshal(raw: &str) -> String {
    format!("can not unmarshal {}", super::api_types::go_quote(raw))
}

macro_rules! policy_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }
     $(aliases { $($alias:literal => $avariant:ident),* })?
     error $err:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// The JSON string Go writes.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Go's `UnmarshalJSON`: `raw` is the JSON value as written.
            pub fn from_go_json(raw: &str) -> Result<Self, String> {
                $(if raw == concat!("\"", $text, "\"") {
                    return Ok($name::$variant);
                })+
                $($(if raw == concat!("\"", $alias, "\"") {
                    return Ok($name::$avariant);
                })*)?
                Err(($err)(raw))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = Value::deserialize(d)?;
                $name::from_go_json(&raw.to_string()).map_err(serde::de::Error::custom)
            }
        }
    };
}

policy_enum!(
    /// `DeliverPolicy`: where a new consumer starts. Go also reads `"undefined"`
    /// (what it writes for an out-of-range value) as `all`.
    DeliverPolicy {
        #[default]
        All = "all",
        Last = "last",
        New = "new",
        ByStartSequence = "by_start_sequence",
        ByStartTime = "by_start_time",
        LastPerSubject = "last_per_subject",
    }
    aliases { "undefined" => All }
    error can_not_unmarshal
);

policy_enum!(
    /// `AckPolicy`. Go's zero value is `none`: a config without `ack_policy` does
    /// not ack. `flow_control` (2.14) acks through push flow-control replies.
    AckPolicy {
        #[default]
        None = "none",
        All = "all",
        Explicit = "explicit",
        FlowControl = "flow_control",
    }
    error can_not_unmarshal
);

policy_enum!(
    /// `ReplayPolicy`.
    ReplayPolicy {
        #[default]
        Instant = "instant",
        Original = "original",
    }
    error can_not_unmarshal
);

policy_enum!(
    /// `PriorityPolicy` (2.11, `prioritized` 2.12). Omitted from JSON when `none`.
    PriorityPolicy {
        #[default]
        None = "none",
        Overflow = "overflow",
        PinnedClient = "pinned_client",
        Prioritized = "prioritized",
    }
    error |raw: &str| format!("unknown priority policy: {raw}")
);

impl PriorityPolicy {
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

policy_enum!(
    /// `ConsumerAction` of a create request: `""` creates or updates, `"create"`
    /// fails if a different consumer exists (10148), `"update"` fails if none
    /// does (10149).
    ConsumerAction {
        #[default]
        CreateOrUpdate = "",
        Update = "update",
        Create = "create",
    }
    error |raw: &str| format!("unknown consumer action: {raw}")
);

// ---- ConsumerConfig ----------------------------------------------------------

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// Go's `ConsumerConfig`, field for field and in Go's (JSON) order. `Default`
/// is Go's zero value; [`apply_defaults`] turns it into what Go stores.
/// Durations are `i64` nanoseconds, Go `int`s are `i64`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub durable_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<GoTime>,
    pub ack_policy: AckPolicy,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    /// -1 is unlimited (Go's default).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    pub replay_policy: ReplayPolicy,
    /// Bits per second.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    /// `"N%"` or `"N"`: the share of acks reported as ack metrics.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    /// Pull: the largest `batch` a request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_batch: i64,
    /// Pull: the longest `expires` a request may ask for (ns).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_expires: i64,
    /// Pull: the largest `max_bytes` a request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    /// Push: where messages go. Empty means a pull consumer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub idle_heartbeat: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    /// 0 inherits the stream's replicas. Always written, even when 0.
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub sourcing: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<GoTime>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    #[serde(skip_serializing_if = "PriorityPolicy::is_none")]
    pub priority_policy: PriorityPolicy,
    /// Pinned-client TTL (ns).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub priority_timeout: i64,
}

impl ConsumerConfig {
    /// Go's `isDurableConsumer`: a durable name is set. A consumer with only a
    /// `name` is ephemeral (deleted after `inactive_threshold`).
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    /// A push consumer (has a deliver subject).
    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// The name the consumer is known by: the durable name, else `name`
    /// (empty for a legacy ephemeral before the server names it).
    pub fn consumer_name(&self) -> &str {
        if self.is_durable() {
            &self.durable_name
        } else {
            &self.name
        }
    }

    /// Go's `gatherSubjectFilters`: `filter_subjects` plus `filter_subject`.
    pub fn filters(&self) -> Vec<String> {
        let mut out = self.filter_subjects.clone();
        if !self.filter_subject.is_empty() {
            out.push(self.filter_subject.clone());
        }
        out
    }

    /// Go's `ConsumerConfig.replicas`: the replica count the consumer really has
    /// on a stream with this config.
    pub fn replicas(&self, stream: &StreamConfig) -> i64 {
        if self.num_replicas == 0 || self.num_replicas > stream.num_replicas {
            if !self.is_durable()
                && stream.retention == RetentionPolicy::Limits
                && self.num_replicas == 0
            {
                return 1;
            }
            return stream.num_replicas;
        }
        self.num_replicas
    }

    /// Go's `setStaticConsumerMetadata`: drops the dynamic keys and records the
    /// lowest API level the config's features need under `_nats.req.level`
    /// (pause or priority groups: 1; `flow_control` ack policy: 4).
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_SERVER_VERSION);
        self.metadata.remove(META_SERVER_LEVEL);
        let mut level = 0;
        if self.pause_until.is_some_and(|t| !t.is_zero()) {
            level = level.max(1);
        }
        if !self.priority_policy.is_none()
            || self.priority_timeout != 0
            || !self.priority_groups.is_empty()
        {
            level = level.max(1);
        }
        if self.ack_policy == AckPolicy::FlowControl {
            level = level.max(4);
        }
        self.metadata
            .insert(META_REQUIRED_LEVEL.to_string(), level.to_string());
    }

    /// Go's `setDynamicConsumerMetadata`: a copy for a response (create, info),
    /// with the server version and API level added.
    pub fn with_dynamic_metadata(&self, server_version: &str) -> ConsumerConfig {
        let mut cfg = self.clone();
        cfg.metadata
            .insert(META_SERVER_VERSION.to_string(), server_version.to_string());
        cfg.metadata
            .insert(META_SERVER_LEVEL.to_string(), JS_API_LEVEL.to_string());
        cfg
    }
}

// ---- defaults and validation -------------------------------------------------------

/// Server and account limits the consumer checks consult. 0 means no limit
/// (the `Default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerLimits {
    /// Server `jetstream.limits.max_ack_pending` (`JSLimitOpts.MaxAckPending`).
    pub max_ack_pending: i64,
    /// Server `jetstream.limits.max_request_batch` (`JSLimitOpts.MaxRequestBatch`).
    pub max_request_batch: i64,
    /// The account tier's `max_ack_pending`.
    pub account_max_ack_pending: i64,
    /// The account tier's `max_consumers` (per stream).
    pub account_max_consumers: i64,
}

/// Go's `setConsumerConfigDefaults`, in Go's order. In pedantic mode the values
/// Go would silently change are errors (10157).
pub fn apply_defaults(
    cfg: &mut ConsumerConfig,
    stream: &StreamConfig,
    limits: &ConsumerLimits,
    pedantic: bool,
) -> Result<(), ApiError> {
    let pedantic_err = |msg: &str| Err(ApiError::pedantic(msg));
    if cfg.max_deliver == 0 || cfg.max_deliver < -1 {
        if pedantic && cfg.max_deliver < -1 {
            return pedantic_err("max_deliver must be set to -1");
        }
        cfg.max_deliver = -1;
    }
    if cfg.max_waiting < 0 {
        if pedantic {
            return pedantic_err("max_waiting must not be negative");
        }
        cfg.max_waiting = 0;
    }
    if cfg.max_ack_pending < -1 {
        if pedantic {
            return pedantic_err("max_ack_pending must be set to -1");
        }
        cfg.max_ack_pending = -1;
    }
    for (value, field) in [
        (&mut cfg.max_batch, "max_batch"),
        (&mut cfg.max_expires, "max_expires"),
        (&mut cfg.max_bytes, "max_bytes"),
        (&mut cfg.idle_heartbeat, "idle_heartbeat"),
        (&mut cfg.inactive_threshold, "inactive_threshold"),
        (&mut cfg.priority_timeout, "priority_timeout"),
    ] {
        if *value < 0 {
            if pedantic {
                return Err(ApiError::pedantic(format!("{field} must not be negative")));
            }
            *value = 0;
        }
    }

    if cfg.deliver_subject.is_empty() && cfg.max_waiting == 0 {
        cfg.max_waiting = DEFAULT_MAX_WAITING;
    }
    if cfg.ack_wait == 0 && matches!(cfg.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
        cfg.ack_wait = DEFAULT_ACK_WAIT;
    }
    if let Some(&first) = cfg.backoff.first() {
        if pedantic && cfg.ack_wait != first {
            return pedantic_err("first backoff value has to equal batch AckWait");
        }
        cfg.ack_wait = first;
    }
    let stream_limits = &stream.consumer_limits;
    if cfg.max_ack_pending == 0 {
        if pedantic && stream_limits.max_ack_pending > 0 {
            return pedantic_err("max_ack_pending must be set if it's configured in stream limits");
        }
        cfg.max_ack_pending = stream_limits.max_ack_pending;
    }
    if cfg.inactive_threshold == 0 {
        if pedantic && stream_limits.inactive_threshold > 0 {
            return pedantic_err(
                "inactive_threshold must be set if it's configured in stream limits",
            );
        }
        cfg.inactive_threshold = stream_limits.inactive_threshold;
    }
    if cfg.max_ack_pending == 0 && cfg.ack_policy != AckPolicy::None {
        let mut pending = DEFAULT_MAX_ACK_PENDING;
        if limits.max_ack_pending > 0 && limits.max_ack_pending < pending {
            pending = limits.max_ack_pending;
        }
        if limits.account_max_ack_pending > 0 && limits.account_max_ack_pending < pending {
            pending = limits.account_max_ack_pending;
        }
        cfg.max_ack_pending = pending;
    }
    if cfg.deliver_subject.is_empty() && cfg.max_batch == 0 && limits.max_request_batch > 0 {
        if pedantic {
            return pedantic_err("max_request_batch must be set if it's JetStream limits are set");
        }
        cfg.max_batch = limits.max_request_batch;
    }
    if cfg.priority_policy == PriorityPolicy::PinnedClient && cfg.priority_timeout == 0 {
        cfg.priority_timeout = DEFAULT_PINNED_TTL;
    }
    if cfg.ack_policy == AckPolicy::FlowControl && !pedantic {
        cfg.flow_control = true;
        cfg.idle_heartbeat = FLOW_CONTROL_ACK_HEARTBEAT;
    }
    Ok(())
}

/// Go's `validGroupName`: `^[a-zA-Z0-9/_=-]{1,16}$`.
pub(super) fn is_valid_group_name(group: &str) -> bool {
    (1..=16).contains(&group.len())
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

/// Go's `strconv.Atoi` error text, for the sampling error.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            super::api_types::go_quote(s)
        ));
    }
    s.parse::<i64>().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            super::api_types::go_quote(s)
        )
    })
}

/// `checkConsumerCfg` for a new config (not recovering). See [`check_with`].
pub fn check(
    cfg: &ConsumerConfig,
    stream: &StreamConfig,
    limits: &ConsumerLimits,
) -> Result<(), ApiError> {
    check_with(cfg, stream, limits, false)
}

/// Go's `checkConsumerCfg`: the first error Go reports, in Go's order, for a
/// config that has been through [`apply_defaults`]. `recovering` skips the
/// replicas-must-match check for interest and work-queue streams.
pub fn check_with(
    cfg: &ConsumerConfig,
    stream: &StreamConfig,
    limits: &ConsumerLimits,
    recovering: bool,
) -> Result<(), ApiError> {
    let invalid = ApiError::stream_invalid_config;
    if !cfg.name.is_empty() && !is_valid_asset_name(&cfg.name) {
        return Err(invalid(
            "consumer name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if !cfg.durable_name.is_empty() && !is_valid_asset_name(&cfg.durable_name) {
        return Err(invalid(
            "consumer durable name can not contain '.', '*', '>', '\\', '/'",
        ));
    }
    if cfg.num_replicas > 0 && cfg.num_replicas > stream.num_replicas {
        return Err(ApiError::consumer_replicas_exceeds_stream());
    }
    if cfg.num_replicas < 0 {
        return Err(ApiError::replicas_count_cannot_be_negative());
    }
    if matches!(
        stream.retention,
        RetentionPolicy::Interest | RetentionPolicy::WorkQueue
    ) && !recovering
        && cfg.num_replicas != 0
        && cfg.num_replicas != stream.num_replicas
    {
        return Err(ApiError::consumer_replicas_should_match_stream());
    }
    // Go re-marshals ack and replay policies here; both enums only hold valid values.
    if cfg.backoff.iter().any(|b| *b < 0) {
        return Err(ApiError::consumer_backoff_negative());
    }
    if cfg.ack_wait < 0 {
        return Err(ApiError::consumer_ack_wait_negative());
    }

    if cfg.ack_policy == AckPolicy::FlowControl {
        if cfg.deliver_subject.is_empty() {
            return Err(ApiError::consumer_ack_fc_requires_push());
        }
        if !cfg.flow_control {
            return Err(ApiError::consumer_ack_fc_requires_fc());
        }
        if cfg.idle_heartbeat != FLOW_CONTROL_ACK_HEARTBEAT {
            return Err(invalid("flow control ack policy heartbeat needs to be 1s"));
        }
        if cfg.max_ack_pending <= 0 {
            return Err(ApiError::consumer_ack_fc_requires_max_ack_pending());
        }
        if cfg.ack_wait != 0 || !cfg.backoff.is_empty() {
            return Err(ApiError::consumer_ack_fc_requires_no_ack_wait());
        }
        if cfg.max_deliver > 0 {
            return Err(ApiError::consumer_ack_fc_requires_no_max_deliver());
        }
    }

    let backoffs = cfg.backoff.len() as i64;
    if backoffs > 0 && cfg.max_deliver != -1 && backoffs > cfg.max_deliver {
        return Err(ApiError::consumer_max_deliver_backoff());
    }
    if cfg.description.len() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::consumer_description_too_long(MAX_DESCRIPTION_LEN));
    }

    if !cfg.deliver_subject.is_empty() {
        let ds = cfg.deliver_subject.as_bytes();
        if !is_literal(ds) {
            return Err(ApiError::consumer_deliver_to_wildcards());
        }
        if !is_valid_subject(ds) {
            return Err(ApiError::consumer_invalid_deliver_subject());
        }
        // Go's deliveryFormsCycle.
        if stream
            .subjects
            .iter()
            .any(|s| is_subset_match(ds, s.as_bytes()))
        {
            return Err(ApiError::consumer_deliver_cycle());
        }
        if cfg.max_waiting != 0 {
            return Err(ApiError::consumer_push_max_waiting());
        }
        if cfg.max_ack_pending > 0 && cfg.ack_policy == AckPolicy::None {
            return Err(ApiError::consumer_max_pending_ack_policy_required());
        }
        if cfg.idle_heartbeat > 0 && cfg.idle_heartbeat < 100 * MS {
            return Err(ApiError::consumer_small_heartbeat());
        }
    } else {
        if cfg.ack_policy == AckPolicy::None && stream.retention == RetentionPolicy::WorkQueue {
            return Err(ApiError::consumer_pull_requires_ack());
        }
        if cfg.rate_limit_bps > 0 {
            return Err(ApiError::consumer_pull_with_rate_limit());
        }
        if cfg.max_waiting < 0 {
            return Err(ApiError::consumer_max_waiting_negative());
        }
        if cfg.idle_heartbeat > 0 {
            return Err(ApiError::consumer_hb_requires_push());
        }
        if cfg.flow_control {
            return Err(ApiError::consumer_fc_requires_push());
        }
        if cfg.max_batch < 0 {
            return Err(ApiError::consumer_max_request_batch_negative());
        }
        if cfg.max_expires != 0 && cfg.max_expires < MS {
            return Err(ApiError::consumer_max_request_expires_too_small());
        }
        if limits.max_request_batch > 0 && cfg.max_batch > limits.max_request_batch {
            return Err(ApiError::consumer_max_request_batch_exceeded(
                limits.max_request_batch,
            ));
        }
    }
    if limits.max_ack_pending > 0 && cfg.max_ack_pending > limits.max_ack_pending {
        return Err(ApiError::consumer_max_pending_ack_excess(
            limits.max_ack_pending,
        ));
    }
    if limits.account_max_ack_pending > 0 && cfg.max_ack_pending > limits.account_max_ack_pending {
        return Err(ApiError::consumer_max_pending_ack_excess(
            limits.account_max_ack_pending,
        ));
    }
    let stream_limits = &stream.consumer_limits;
    if stream_limits.max_ack_pending > 0 && cfg.max_ack_pending > stream_limits.max_ack_pending {
        return Err(ApiError::consumer_max_pending_ack_excess(
            stream_limits.max_ack_pending,
        ));
    }
    if stream_limits.inactive_threshold > 0
        && cfg.inactive_threshold > stream_limits.inactive_threshold
    {
        return Err(ApiError::consumer_inactive_threshold_excess(
            go_duration_string(stream_limits.inactive_threshold),
        ));
    }

    if cfg.direct {
        if cfg.deliver_subject.is_empty() {
            return Err(ApiError::consumer_direct_requires_push());
        }
        if cfg.is_durable() {
            return Err(ApiError::consumer_direct_requires_ephemeral());
        }
    }

    if !cfg.filter_subject.is_empty() && !cfg.filter_subjects.is_empty() {
        return Err(ApiError::consumer_duplicate_filter_subjects());
    }
    if !cfg.filter_subject.is_empty() && !is_valid_subject(cfg.filter_subject.as_bytes()) {
        return Err(invalid(ERR_BAD_SUBJECT));
    }
    if cfg.filter_subjects.iter().any(String::is_empty) {
        return Err(ApiError::consumer_empty_filter());
    }
    let filters = cfg.filters();
    for (outer, subject) in filters.iter().enumerate() {
        if !is_valid_subject(subject.as_bytes()) {
            return Err(invalid(ERR_BAD_SUBJECT));
        }
        for (inner, other) in filters.iter().enumerate() {
            if inner != outer && is_subset_match(subject.as_bytes(), other.as_bytes()) {
                return Err(ApiError::consumer_overlapping_subject_filters());
            }
        }
    }

    check_start_position(cfg)?;

    if !cfg.sample_freq.is_empty() {
        let freq = cfg
            .sample_freq
            .strip_suffix('%')
            .unwrap_or(&cfg.sample_freq);
        match atoi(freq) {
            Err(e) => return Err(ApiError::consumer_invalid_sampling(e)),
            // Go formats the nil error of a negative value as "<nil>".
            Ok(n) if n < 0 => return Err(ApiError::consumer_invalid_sampling("<nil>")),
            Ok(_) => {}
        }
    }

    if cfg.flow_control && cfg.idle_heartbeat == 0 {
        return Err(ApiError::consumer_with_flow_control_needs_heartbeats());
    }
    if cfg.is_durable() && !cfg.name.is_empty() && cfg.name != cfg.durable_name {
        return Err(ApiError::consumer_create_durable_and_name_mismatch());
    }
    let metadata_len: usize = cfg.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if metadata_len > MAX_METADATA_LEN {
        return Err(ApiError::consumer_metadata_length(format!(
            "{}KB",
            MAX_METADATA_LEN / 1024
        )));
    }

    if !cfg.priority_policy.is_none() {
        if !cfg.deliver_subject.is_empty() {
            return Err(ApiError::consumer_push_with_priority_group());
        }
        if cfg.priority_groups.is_empty() {
            return Err(ApiError::consumer_priority_policy_without_group());
        }
        for group in &cfg.priority_groups {
            if group.is_empty() {
                return Err(ApiError::consumer_empty_group_name());
            }
            if !is_valid_group_name(group) {
                return Err(ApiError::consumer_invalid_group_name());
            }
        }
    } else {
        if !cfg.priority_groups.is_empty() {
            return Err(ApiError::consumer_priority_group_with_policy_none());
        }
        if cfg.priority_timeout > 0 {
            return Err(ApiError::consumer_pinned_ttl_without_priority_policy_none());
        }
    }

    if stream
        .placement
        .as_ref()
        .is_some_and(|p| !p.preferred.is_empty())
    {
        return Err(invalid("preferred server not permitted in placement"));
    }
    Ok(())
}

/// The deliver-policy / start-position conflicts of `checkConsumerCfg` (10094).
fn check_start_position(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    let bad_start = |dp: &str, start: &str| {
        Err(ApiError::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
        )))
    };
    let not_set = |dp: &str, what: &str| {
        Err(ApiError::consumer_invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional {what} is not set"
        )))
    };
    let (seq, time) = (cfg.opt_start_seq > 0, cfg.opt_start_time.is_some());
    let plain = |dp: &str| {
        if seq {
            return bad_start(dp, "sequence");
        }
        if time {
            return bad_start(dp, "time");
        }
        Ok(())
    };
    match cfg.deliver_policy {
        DeliverPolicy::All => plain("all"),
        DeliverPolicy::Last => plain("last"),
        DeliverPolicy::New => plain("new"),
        DeliverPolicy::LastPerSubject => {
            plain("last per subject")?;
            if cfg.filter_subject.is_empty() && cfg.filter_subjects.is_empty() {
                return not_set("last per subject", "filter subject");
            }
            Ok(())
        }
        DeliverPolicy::ByStartSequence => {
            if !seq {
                return not_set("by start sequence", "start sequence");
            }
            if time {
                return bad_start("by start sequence", "time");
            }
            Ok(())
        }
        DeliverPolicy::ByStartTime => {
            if !time {
                return not_set("by start time", "start time");
            }
            if cfg.opt_start_seq != 0 {
                return bad_start("by start time", "start sequence");
            }
            Ok(())
        }
    }
}

/// Go's `checkNewConsumerConfig` as `updateConfig` reports it: which changes an
/// existing consumer accepts. `new` has been through [`apply_defaults`] and
/// [`check`]. A push consumer's deliver subject may only change while nobody
/// listens on the old one; this assumes nobody does (see
/// [`check_update_with_interest`]).
pub fn check_update(old: &ConsumerConfig, new: &ConsumerConfig) -> Result<(), ApiError> {
    check_update_with_interest(old, new, false)
}

/// [`check_update`] with `old_deliver_has_interest`: whether the old deliver
/// subject has subscribers (then changing it is 10013). Plain Go errors come
/// back as `JSConsumerCreateErrF` (500, 10012), as `jsConsumerCreateRequest`
/// wraps them.
pub fn check_update_with_interest(
    old: &ConsumerConfig,
    new: &ConsumerConfig,
    old_deliver_has_interest: bool,
) -> Result<(), ApiError> {
    if old == new {
        return Ok(());
    }
    let fail = |msg: &str| Err(ApiError::consumer_create(msg));
    if old.deliver_policy != new.deliver_policy {
        return fail("deliver policy can not be updated");
    }
    if old.mem_storage != new.mem_storage {
        return fail("storage type can not be updated");
    }
    if old.direct != new.direct {
        return fail("direct can not be updated");
    }
    if old.sourcing != new.sourcing {
        return fail("sourcing can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return fail("start sequence can not be updated");
    }
    if old.opt_start_time != new.opt_start_time {
        return fail("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return fail("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return fail("replay policy can not be updated");
    }
    if old.idle_heartbeat != new.idle_heartbeat {
        return fail("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return fail("flow control can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return fail("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return fail("can not update push consumer to pull based");
        }
        if old_deliver_has_interest {
            return Err(ApiError::consumer_name_exist());
        }
    }
    if old.max_waiting != new.max_waiting {
        return fail("max waiting can not be updated");
    }
    let backoffs = new.backoff.len() as i64;
    if backoffs > 0 && new.max_deliver != -1 && backoffs > new.max_deliver {
        return Err(ApiError::consumer_max_deliver_backoff());
    }
    Ok(())
}

/// Whether a create with `"action":"create"` of an existing consumer succeeds:
/// Go compares the configs after giving `new` the existing `_nats.req.level`
/// (`copyConsumerMetadata`); any other difference is 10148.
pub fn same_for_create(new: &ConsumerConfig, existing: &ConsumerConfig) -> bool {
    let mut new = new.clone();
    new.metadata.remove(META_SERVER_VERSION);
    new.metadata.remove(META_SERVER_LEVEL);
    match existing.metadata.get(META_REQUIRED_LEVEL) {
        Some(level) => {
            new.metadata
                .insert(META_REQUIRED_LEVEL.to_string(), level.clone());
        }
        None => {
            new.metadata.remove(META_REQUIRED_LEVEL);
        }
    }
    new == *existing
}

/// Go's `partitionUnique`: none of `filters` collides with a filter of another
/// consumer (`others`: the stream's consumers other than the one being
/// checked; direct and sourcing ones are ignored). An unfiltered other
/// consumer collides with everything.
pub fn partition_unique(filters: &[String], others: &[&ConsumerConfig]) -> bool {
    filters.iter().all(|partition| {
        others.iter().filter(|o| !o.direct && !o.sourcing).all(|o| {
            let theirs = o.filters();
            !theirs.is_empty()
                && !theirs
                    .iter()
                    .any(|f| subjects_collide(partition.as_bytes(), f.as_bytes()))
        })
    })
}

/// The work-queue checks of `addConsumerWithAssignment` for a new consumer:
/// explicit (or flow-control) acks (10098), deliver all (10101), and when the
/// stream already has consumers (`others`, not counting sourcing ones),
/// a filter (10099) that no other consumer's filter overlaps (10100).
pub fn check_workqueue(
    cfg: &ConsumerConfig,
    stream: &StreamConfig,
    others: &[&ConsumerConfig],
) -> Result<(), ApiError> {
    if stream.retention != RetentionPolicy::WorkQueue || cfg.direct || cfg.sourcing {
        return Ok(());
    }
    if !matches!(cfg.ack_policy, AckPolicy::Explicit | AckPolicy::FlowControl) {
        return Err(ApiError::consumer_wq_requires_explicit_ack());
    }
    if cfg.deliver_policy != DeliverPolicy::All {
        return Err(ApiError::consumer_wq_consumer_not_deliver_all());
    }
    if others.iter().any(|o| !o.sourcing) {
        let filters = cfg.filters();
        if filters.is_empty() {
            return Err(ApiError::consumer_wq_multiple_unfiltered());
        }
        if !partition_unique(&filters, others) {
            return Err(ApiError::consumer_wq_consumer_not_unique());
        }
    }
    Ok(())
}

/// The name checks Go makes after the config checks: a durable name longer than
/// 255 bytes (10102), and a name that is not a valid asset name (10103; the
/// config check catches these first, so only for completeness). An empty
/// name (a legacy ephemeral) passes: the server names it.
pub fn check_name(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    if cfg.is_durable() && cfg.durable_name.len() > MAX_NAME_LEN {
        return Err(ApiError::consumer_name_too_long(MAX_NAME_LEN));
    }
    let name = cfg.consumer_name();
    if !name.is_empty() && !is_valid_asset_name(name) {
        return Err(ApiError::consumer_bad_durable_name());
    }
    Ok(())
}

/// Go's `updateInactiveThreshold`, as far as the config goes: an ephemeral
/// without a threshold gets [`DEFAULT_INACTIVE_THRESHOLD`]. (Go adds 0.1-1s of
/// jitter to the timer itself, and for pull consumers to any threshold.)
pub fn apply_ephemeral_threshold(cfg: &mut ConsumerConfig) {
    if !cfg.is_durable() && cfg.inactive_threshold <= 0 {
        cfg.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
    }
}

/// What [`prepare`] needs to know about the stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamContext<'a> {
    pub config: &'a StreamConfig,
    pub limits: ConsumerLimits,
    /// Every consumer the stream has now (including one with the same name).
    pub consumers: &'a [&'a ConsumerConfig],
    /// Whether the existing consumer's deliver subject has subscribers.
    pub deliver_subject_has_interest: bool,
}

/// The outcome of [`prepare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// A new consumer with this config. An empty [`ConsumerConfig::consumer_name`]
    /// means the server picks a name ([`ephemeral_name`]); Go's stored config
    /// (and so every info) keeps `name` empty then.
    Create(ConsumerConfig),
    /// The existing consumer of that name takes this config.
    Update(ConsumerConfig),
}

/// Everything Go does with a create request's config between resolving the
/// subject ([`resolve_create`]) and building the consumer, in Go's order: keep
/// an existing consumer's `pause_until`, static metadata, defaults, checks, then
/// either the update rules for an existing consumer (or 10148 for
/// `"action":"create"`) or, for a new one, 10149 for `"action":"update"`, the
/// consumer limit (10026), the work-queue rules and the name checks.
pub fn prepare(
    ctx: &StreamContext<'_>,
    mut cfg: ConsumerConfig,
    action: ConsumerAction,
    pedantic: bool,
) -> Result<Prepared, ApiError> {
    let name = cfg.consumer_name().to_string();
    let find = |n: &str| {
        ctx.consumers
            .iter()
            .copied()
            .find(|c| !n.is_empty() && c.consumer_name() == n)
    };
    if let Some(existing) = find(&name) {
        cfg.pause_until = existing.pause_until;
    }
    cfg.set_static_metadata();
    apply_defaults(&mut cfg, ctx.config, &ctx.limits, pedantic)?;
    check(&cfg, ctx.config, &ctx.limits)?;

    let others: Vec<&ConsumerConfig> = ctx
        .consumers
        .iter()
        .copied()
        .filter(|c| name.is_empty() || c.consumer_name() != name)
        .collect();
    if let Some(existing) = find(&name) {
        if action == ConsumerAction::Create && !same_for_create(&cfg, existing) {
            return Err(ApiError::consumer_already_exists());
        }
        if ctx.config.retention == RetentionPolicy::WorkQueue
            && !partition_unique(&cfg.filters(), &others)
        {
            return Err(ApiError::consumer_wq_consumer_not_unique());
        }
        check_update_with_interest(existing, &cfg, ctx.deliver_subject_has_interest)?;
        // Go's updateConfig re-stamps an ephemeral's default threshold.
        apply_ephemeral_threshold(&mut cfg);
        return Ok(Prepared::Update(cfg));
    }
    if action == ConsumerAction::Update {
        return Err(ApiError::consumer_does_not_exist());
    }
    let mut max = ctx.config.max_consumers;
    let account_max = ctx.limits.account_max_consumers;
    if max <= 0 || (account_max > 0 && account_max < max) {
        max = account_max;
    }
    let limitable = ctx.consumers.iter().filter(|c| !c.sourcing).count() as i64;
    if max > 0 && limitable >= max {
        return Err(ApiError::maximum_consumers_limit());
    }
    check_workqueue(&cfg, ctx.config, &others)?;
    check_name(&cfg)?;
    apply_ephemeral_threshold(&mut cfg);
    Ok(Prepared::Create(cfg))
}

// ---- the create request ----------------------------------------------------------

/// Go's `CreateConsumerRequest`: the body of every `CONSUMER.CREATE` form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateConsumerRequest {
    pub stream_name: String,
    pub config: ConsumerConfig,
    pub action: ConsumerAction,
    #[serde(skip_serializing_if = "is_false")]
    pub pedantic: bool,
}

/// How a create subject names the consumer (Go's `ccReqType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// `$JS.API.CONSUMER.CREATE.<stream>`: the body may name it, else the server does.
    LegacyEphemeral,
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    LegacyDurable,
    /// `$JS.API.CONSUMER.CREATE.<stream>.<consumer>[.<filter>]`.
    New,
}

/// The parts of a consumer create subject, as `jsConsumerCreateRequest` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerCreateSubject {
    pub kind: CreateKind,
    pub stream: String,
    /// Empty for [`CreateKind::LegacyEphemeral`] (the body's `name` is used).
    pub consumer: String,
    /// The filter subject tail of the new form (`""` if none).
    pub filter: String,
    /// Number of tokens (the durable form needs exactly 7, else 10016).
    pub tokens: usize,
}

impl ConsumerCreateSubject {
    /// Splits a subject under `$JS.API.CONSUMER.`. `None` for fewer than five
    /// tokens, which Go ignores without a reply.
    pub fn parse(subject: &str) -> Option<ConsumerCreateSubject> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let n = tokens.len();
        let at = |i: usize| tokens.get(i - 1).copied().unwrap_or("").to_string();
        if n < 5 {
            return None;
        }
        let (kind, stream, consumer, filter) = if n == 5 {
            (
                CreateKind::LegacyEphemeral,
                at(5),
                String::new(),
                String::new(),
            )
        } else if tokens[3] == "DURABLE" {
            (CreateKind::LegacyDurable, at(6), at(7), String::new())
        } else {
            let filter = if n > 6 {
                tokens[6..].join(".")
            } else {
                String::new()
            };
            (CreateKind::New, at(5), at(6), filter)
        };
        Some(ConsumerCreateSubject {
            kind,
            stream,
            consumer,
            filter,
            tokens: n,
        })
    }
}

/// A create request after the subject checks: the consumer's name (empty: the
/// server picks one) and the config to go on with (`prepare`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCreate {
    pub name: String,
    pub config: ConsumerConfig,
    pub action: ConsumerAction,
    pub pedantic: bool,
}

impl CreateConsumerRequest {
    /// Decodes a create body as Go's `unmarshalRequest` does in strict mode
    /// (the default). An empty body is the zero request (which then fails the
    /// stream name check, 10056). Errors are `JSInvalidJSONErr` (10025) with
    /// Go's text.
    pub fn parse(body: &[u8]) -> Result<CreateConsumerRequest, ApiError> {
        go_json::decode_request(body, &CREATE_REQUEST).map_err(ApiError::invalid_json)
    }
}

/// The subject-versus-body checks of `jsConsumerCreateRequest`, in Go's order,
/// for a single server (replicas > 1 is 10074). The name is the durable or
/// new-form subject token (which also becomes the config's `name`), or for the
/// legacy ephemeral form the body's `name`.
pub fn resolve_create(
    req: &CreateConsumerRequest,
    subject: &ConsumerCreateSubject,
) -> Result<ResolvedCreate, ApiError> {
    let mut cfg = req.config.clone();
    if subject.kind == CreateKind::LegacyDurable && subject.tokens != 7 {
        return Err(ApiError::consumer_durable_name_not_in_subject());
    }
    let consumer = match subject.kind {
        CreateKind::LegacyEphemeral => cfg.name.clone(),
        _ => subject.consumer.clone(),
    };
    if subject.stream != req.stream_name {
        return Err(ApiError::stream_mismatch());
    }
    if consumer.contains(['\\', '/']) {
        return Err(ApiError::consumer_name_contains_path_separators());
    }
    match subject.kind {
        CreateKind::LegacyDurable => {
            if cfg.durable_name.is_empty() {
                return Err(ApiError::consumer_durable_name_not_set());
            }
            if consumer != cfg.durable_name {
                return Err(ApiError::consumer_durable_name_not_match_subject());
            }
            cfg.name = consumer.clone();
        }
        CreateKind::New => {
            if cfg.is_durable() && consumer != cfg.durable_name {
                return Err(ApiError::consumer_durable_name_not_match_subject());
            }
            cfg.name = consumer.clone();
        }
        CreateKind::LegacyEphemeral => {
            if cfg.is_durable() {
                return Err(ApiError::consumer_ephemeral_with_durable_name());
            }
        }
    }
    if !subject.filter.is_empty() && !cfg.filter_subjects.is_empty() {
        return Err(ApiError::consumer_multiple_filters_not_allowed());
    }
    if !subject.filter.is_empty() && cfg.filter_subject != subject.filter {
        return Err(ApiError::consumer_create_filter_subject_mismatch());
    }
    if cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    Ok(ResolvedCreate {
        name: consumer,
        config: cfg,
        action: req.action,
        pedantic: req.pedantic,
    })
}

/// Go's `digits`/`base` for hashed names.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Go's `getHashSize`: the first `size` bytes of SHA-256(`name`), each mapped
/// to a base-62 digit (`b % 62`).
pub fn go_hash(name: &str, size: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    digest
        .iter()
        .take(size)
        .map(|b| BASE62[usize::from(*b) % BASE62.len()] as char)
        .collect()
}

/// Go's `getHash` (8 characters): the account hash in v2 ack subjects.
pub fn account_hash(account: &str) -> String {
    go_hash(account, 8)
}

/// Go's `createConsumerName`: the hash of a fresh nuid, 8 base-62 characters.
pub fn ephemeral_name() -> String {
    go_hash(&super::advisory::nuid(), 8)
}

// ---- Go's JSON decoding ------------------------------------------------------------

/// The field types of the request shapes, with Go's type names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bool,
    /// Go `int`.
    Int,
    Int64,
    Uint64,
    Duration,
    /// `time.Time` or `*time.Time`.
    Time,
    StrList,
    DurationList,
    StrMap,
    /// A type with its own `UnmarshalJSON` (it sees the raw JSON, `null` too).
    Enum(fn(&str) -> Result<&'static str, String>),
    Struct(&'static Shape),
}

/// A Go struct: its name in error texts and its JSON fields.
#[derive(Debug)]
pub(crate) struct Shape {
    /// `"server.ConsumerConfig"`: how Go names the type in a mismatch error.
    pub go_type: &'static str,
    pub fields: &'static [(&'static str, Ty)],
}

/// How a request is decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoding {
    /// The top-level struct.
    pub shape: &'static Shape,
    /// The root of field paths in errors (`"CreateConsumerRequest"`; Go prints
    /// `""` for the pull request, decoded through a pointer to a pointer).
    pub root: &'static str,
    /// Reject unknown fields (the API's strict decoder) or skip them (`json.Unmarshal`).
    pub strict: bool,
}

fn enum_deliver(raw: &str) -> Result<&'static str, String> {
    DeliverPolicy::from_go_json(raw).map(|p| p.as_str())
}
fn enum_ack(raw: &str) -> Result<&'static str, String> {
    AckPolicy::from_go_json(raw).map(|p| p.as_str())
}
fn enum_replay(raw: &str) -> Result<&'static str, String> {
    ReplayPolicy::from_go_json(raw).map(|p| p.as_str())
}
fn enum_priority(raw: &str) -> Result<&'static str, String> {
    PriorityPolicy::from_go_json(raw).map(|p| p.as_str())
}
fn enum_action(raw: &str) -> Result<&'static str, String> {
    ConsumerAction::from_go_json(raw).map(|p| p.as_str())
}

pub(crate) static CONSUMER_CONFIG: Shape = Shape {
    go_type: "server.ConsumerConfig",
    fields: &[
        ("durable_name", Ty::Str),
        ("name", Ty::Str),
        ("description", Ty::Str),
        ("deliver_policy", Ty::Enum(enum_deliver)),
        ("opt_start_seq", Ty::Uint64),
        ("opt_start_time", Ty::Time),
        ("ack_policy", Ty::Enum(enum_ack)),
        ("ack_wait", Ty::Duration),
        ("max_deliver", Ty::Int),
        ("backoff", Ty::DurationList),
        ("filter_subject", Ty::Str),
        ("filter_subjects", Ty::StrList),
        ("replay_policy", Ty::Enum(enum_replay)),
        ("rate_limit_bps", Ty::Uint64),
        ("sample_freq", Ty::Str),
        ("max_waiting", Ty::Int),
        ("max_ack_pending", Ty::Int),
        ("flow_control", Ty::Bool),
        ("headers_only", Ty::Bool),
        ("max_batch", Ty::Int),
        ("max_expires", Ty::Duration),
        ("max_bytes", Ty::Int),
        ("deliver_subject", Ty::Str),
        ("deliver_group", Ty::Str),
        ("idle_heartbeat", Ty::Duration),
        ("inactive_threshold", Ty::Duration),
        ("num_replicas", Ty::Int),
        ("mem_storage", Ty::Bool),
        ("direct", Ty::Bool),
        ("sourcing", Ty::Bool),
        ("metadata", Ty::StrMap),
        ("pause_until", Ty::Time),
        ("priority_groups", Ty::StrList),
        ("priority_policy", Ty::Enum(enum_priority)),
        ("priority_timeout", Ty::Duration),
    ],
};

static CREATE_REQUEST_SHAPE: Shape = Shape {
    go_type: "server.CreateConsumerRequest",
    fields: &[
        ("stream_name", Ty::Str),
        ("config", Ty::Struct(&CONSUMER_CONFIG)),
        ("action", Ty::Enum(enum_action)),
        ("pedantic", Ty::Bool),
    ],
};

static CREATE_REQUEST: Decoding = Decoding {
    shape: &CREATE_REQUEST_SHAPE,
    root: "CreateConsumerRequest",
    strict: true,
};

/// A small JSON reader that keeps what Go's `encoding/json` needs for its exact
/// behaviour and texts: keys in document order (the first error in order wins;
/// a repeated key is applied again), the raw text of every value (for numbers
/// in errors and for `UnmarshalJSON` methods), several concatenated values,
/// and Go's scanner messages for syntax errors.
pub(crate) mod go_json {
    use super::*;

    /// A parsed value and the bytes it was written as.
    #[derive(Debug)]
    pub struct Node<'a> {
        pub raw: &'a [u8],
        pub kind: Kind<'a>,
    }

    #[derive(Debug)]
    pub enum Kind<'a> {
        Null,
        Bool(bool),
        Number,
        String(String),
        Array(Vec<Node<'a>>),
        Object(Vec<(String, Node<'a>)>),
    }

    impl Node<'_> {
        fn raw_str(&self) -> String {
            String::from_utf8_lossy(self.raw).into_owned()
        }

        /// The word Go's `UnmarshalTypeError` uses for this value.
        fn kind_word(&self, with_number: bool) -> String {
            match &self.kind {
                Kind::Null => "null".into(),
                Kind::Bool(_) => "bool".into(),
                Kind::Number if with_number => format!("number {}", self.raw_str()),
                Kind::Number => "number".into(),
                Kind::String(_) => "string".into(),
                Kind::Array(_) => "array".into(),
                Kind::Object(_) => "object".into(),
            }
        }
    }

    enum Fail {
        /// A scanner error at this byte index.
        Syntax(String, usize),
        /// The input ended inside a value.
        Eof,
    }

    /// Go's `quoteChar`: how the scanner shows the offending byte.
    fn quote_char(c: u8) -> String {
        match c {
            b'\'' => "'\\''".to_string(),
            b'"' => "'\"'".to_string(),
            _ => {
                let q = super::super::api_types::go_quote(&char::from(c).to_string());
                format!("'{}'", &q[1..q.len() - 1])
            }
        }
    }

    /// Go's (1.25+) message for a bad escape: the sequence in backquotes, the
    /// offset just past it.
    fn bad_escape(seq: &[u8], last: usize) -> Fail {
        Fail::Syntax(
            format!(
                "invalid escape sequence `{}` in string",
                String::from_utf8_lossy(seq)
            ),
            last,
        )
    }

    struct Reader<'a> {
        b: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.pos).copied()
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
        }

        fn err(&self, what: &str) -> Fail {
            match self.peek() {
                None => Fail::Eof,
                Some(c) => Fail::Syntax(
                    format!("invalid character {} {what}", quote_char(c)),
                    self.pos,
                ),
            }
        }

        fn value(&mut self) -> Result<Node<'a>, Fail> {
            self.skip_ws();
            let start = self.pos;
            let kind = match self.peek() {
                None => return Err(Fail::Eof),
                Some(b'{') => self.object()?,
                Some(b'[') => self.array()?,
                Some(b'"') => Kind::String(self.string()?),
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                    Kind::Number
                }
                Some(b't') => {
                    self.literal(b"true")?;
                    Kind::Bool(true)
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    Kind::Bool(false)
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    Kind::Null
                }
                Some(_) => return Err(self.err("looking for beginning of value")),
            };
            Ok(Node {
                raw: &self.b[start..self.pos],
                kind,
            })
        }

        fn literal(&mut self, word: &'static [u8]) -> Result<(), Fail> {
            let name = std::str::from_utf8(word).unwrap_or_default();
            for (i, &expected) in word.iter().enumerate() {
                match self.peek() {
                    Some(c) if c == expected => self.pos += 1,
                    None => return Err(Fail::Eof),
                    Some(_) => {
                        debug_assert!(i > 0);
                        return Err(self.err(&format!(
                            "in literal {name} (expecting {})",
                            quote_char(expected)
                        )));
                    }
                }
            }
            Ok(())
        }

        fn digits(&mut self) {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
        }

        fn number(&mut self) -> Result<(), Fail> {
            if self.peek() == Some(b'-') {
                self.pos += 1;
                if !matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.err("in numeric literal"));
                }
            }
            if self.peek() == Some(b'0') {
                self.pos += 1;
            } else {
                self.digits();
            }
            if self.peek() == Some(b'.') {
                self.pos += 1;
                if !matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.err("in numeric literal"));
                }
                self.digits();
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                if !matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.err("in numeric literal"));
                }
                self.digits();
            }
            Ok(())
        }

        /// Four hex digits after `\u` (at `self.pos`); `start` is the backslash.
        fn hex4(&mut self, start: usize) -> Result<u32, Fail> {
            let digits = self.b.get(self.pos..self.pos + 4).ok_or(Fail::Eof)?;
            let text = std::str::from_utf8(digits).unwrap_or("");
            match u32::from_str_radix(text, 16) {
                Ok(v) if text.bytes().all(|c| c.is_ascii_hexdigit()) => {
                    self.pos += 4;
                    Ok(v)
                }
                _ => Err(bad_escape(&self.b[start..self.pos + 4], self.pos + 3)),
            }
        }

        /// A string literal (at its opening quote), decoded as Go does: bad
        /// UTF-8 and lone surrogates become U+FFFD.
        fn string(&mut self) -> Result<String, Fail> {
            self.pos += 1;
            let mut out: Vec<u8> = Vec::new();
            loop {
                match self.peek() {
                    None => return Err(Fail::Eof),
                    Some(b'"') => {
                        self.pos += 1;
                        return Ok(String::from_utf8_lossy(&out).into_owned());
                    }
                    Some(b'\\') => {
                        let start = self.pos;
                        self.pos += 1;
                        let c = self.peek().ok_or(Fail::Eof)?;
                        let simple = match c {
                            b'"' => Some(b'"'),
                            b'\\' => Some(b'\\'),
                            b'/' => Some(b'/'),
                            b'b' => Some(8),
                            b'f' => Some(12),
                            b'n' => Some(b'\n'),
                            b'r' => Some(b'\r'),
                            b't' => Some(b'\t'),
                            b'u' => None,
                            _ => return Err(bad_escape(&self.b[start..=self.pos], self.pos)),
                        };
                        self.pos += 1;
                        if let Some(s) = simple {
                            out.push(s);
                            continue;
                        }
                        let hi = self.hex4(start)?;
                        let ch = if (0xD800..0xDC00).contains(&hi)
                            && self.b[self.pos..].starts_with(b"\\u")
                        {
                            // A surrogate pair, when the next escape completes it.
                            let save = self.pos;
                            self.pos += 2;
                            let lo = self.hex4(save)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                self.pos = save;
                                None
                            }
                        } else {
                            char::from_u32(hi)
                        };
                        let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    Some(c) if c < 0x20 => return Err(self.err("in string")),
                    Some(c) => {
                        out.push(c);
                        self.pos += 1;
                    }
                }
            }
        }

        fn object(&mut self) -> Result<Kind<'a>, Fail> {
            self.pos += 1;
            let mut members = Vec::new();
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Kind::Object(members));
            }
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("looking for beginning of object key string"));
                }
                let key = self.string()?;
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.err("after object key"));
                }
                self.pos += 1;
                let v = self.value()?;
                members.push((key, v));
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(Kind::Object(members));
                    }
                    _ => return Err(self.err("after object key:value pair")),
                }
            }
        }

        fn array(&mut self) -> Result<Kind<'a>, Fail> {
            self.pos += 1;
            let mut items = Vec::new();
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Kind::Array(items));
            }
            loop {
                items.push(self.value()?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        return Ok(Kind::Array(items));
                    }
                    _ => return Err(self.err("after array element")),
                }
            }
        }
    }

    /// `json.Unmarshal`'s view: exactly one value, else Go's error text
    /// (`unexpected end of JSON input`, `... after top-level value`).
    pub fn parse_single(b: &[u8]) -> Result<Node<'_>, String> {
        let mut r = Reader { b, pos: 0 };
        let node = r.value().map_err(|f| match f {
            Fail::Syntax(msg, _) => msg,
            Fail::Eof => "unexpected end of JSON input".to_string(),
        })?;
        r.skip_ws();
        if r.peek().is_some() {
            return Err(match r.err("after top-level value") {
                Fail::Syntax(msg, _) => msg,
                Fail::Eof => unreachable!(),
            });
        }
        Ok(node)
    }

    /// Decodes a request as the API's `unmarshalRequest` does: each
    /// concatenated value in turn into the same request, `null` values
    /// skipped, the first error returned (syntax errors end in ` at offset N`,
    /// truncation is `unexpected EOF`). An empty body is the zero value.
    pub fn decode_request<T: serde::de::DeserializeOwned>(
        body: &[u8],
        how: &Decoding,
    ) -> Result<T, String> {
        let mut acc = Value::Object(Map::new());
        let mut r = Reader { b: body, pos: 0 };
        loop {
            r.skip_ws();
            if r.peek().is_none() {
                break;
            }
            let node = r.value().map_err(|f| match f {
                Fail::Syntax(msg, at) => format!("{msg} at offset {}", at + 1),
                Fail::Eof => "unexpected EOF".to_string(),
            })?;
            apply_top(&node, how, &mut acc)?;
        }
        finish(acc)
    }

    /// Decodes one value as `json.Unmarshal` into the shape.
    pub fn decode_single<T: serde::de::DeserializeOwned>(
        body: &[u8],
        how: &Decoding,
    ) -> Result<T, String> {
        let node = parse_single(body)?;
        let mut acc = Value::Object(Map::new());
        apply_top(&node, how, &mut acc)?;
        finish(acc)
    }

    fn finish<T: serde::de::DeserializeOwned>(acc: Value) -> Result<T, String> {
        serde_json::from_value(acc).map_err(|e| e.to_string())
    }

    fn apply_top(node: &Node<'_>, how: &Decoding, acc: &mut Value) -> Result<(), String> {
        match &node.kind {
            Kind::Null => Ok(()),
            Kind::Object(_) => apply(node, Ty::Struct(how.shape), how, how.root, acc),
            _ => Err(format!(
                "json: cannot unmarshal {} into Go value of type {}",
                node.kind_word(false),
                how.shape.go_type
            )),
        }
    }

    fn go_type_name(ty: Ty) -> &'static str {
        match ty {
            Ty::Str => "string",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Int64 => "int64",
            Ty::Uint64 => "uint64",
            Ty::Duration => "time.Duration",
            Ty::Time => "time.Time",
            Ty::StrList => "[]string",
            Ty::DurationList => "[]time.Duration",
            Ty::StrMap => "map[string]string",
            Ty::Enum(_) => "enum",
            Ty::Struct(s) => s.go_type,
        }
    }

    fn mismatch(node: &Node<'_>, ty: Ty, path: &str, with_number: bool) -> String {
        format!(
            "json: cannot unmarshal {} into Go struct field {path} of type {}",
            node.kind_word(with_number),
            go_type_name(ty)
        )
    }

    fn integer(node: &Node<'_>, ty: Ty, path: &str, unsigned: bool) -> Result<Value, String> {
        if !matches!(node.kind, Kind::Number) {
            return Err(mismatch(node, ty, path, false));
        }
        let text = node.raw_str();
        let v = if unsigned {
            text.parse::<u64>().ok().map(Value::from)
        } else {
            text.parse::<i64>().ok().map(Value::from)
        };
        // Go's ParseInt/ParseUint: plain decimal only ("1e3", "1.0" fail).
        let plain = text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        match v {
            Some(v) if plain => Ok(v),
            _ => Err(mismatch(node, ty, path, true)),
        }
    }

    /// Decodes `node` as a value of type `ty` into `slot` (which holds what
    /// earlier values put there: Go decodes into the existing value).
    fn apply(
        node: &Node<'_>,
        ty: Ty,
        how: &Decoding,
        path: &str,
        slot: &mut Value,
    ) -> Result<(), String> {
        if let Ty::Enum(from_raw) = ty {
            *slot = Value::from(from_raw(&node.raw_str())?);
            return Ok(());
        }
        if matches!(node.kind, Kind::Null) {
            // Go: null clears pointers, slices and maps, and leaves the rest.
            if matches!(ty, Ty::Time | Ty::StrList | Ty::DurationList | Ty::StrMap) {
                *slot = Value::Null;
            }
            return Ok(());
        }
        match ty {
            Ty::Str => match &node.kind {
                Kind::String(s) => *slot = Value::from(s.clone()),
                _ => return Err(mismatch(node, ty, path, false)),
            },
            Ty::Bool => match node.kind {
                Kind::Bool(b) => *slot = Value::from(b),
                _ => return Err(mismatch(node, ty, path, false)),
            },
            Ty::Int | Ty::Int64 | Ty::Duration => *slot = integer(node, ty, path, false)?,
            Ty::Uint64 => *slot = integer(node, ty, path, true)?,
            Ty::Time => match &node.kind {
                Kind::String(s) => {
                    let t = super::super::api_types::parse_go_rfc3339(s)?;
                    *slot = Value::from(t.to_string());
                }
                _ => return Err(mismatch(node, ty, path, false)),
            },
            Ty::StrList | Ty::DurationList => {
                let Kind::Array(items) = &node.kind else {
                    return Err(mismatch(node, ty, path, false));
                };
                let (elem, elem_name) = match ty {
                    Ty::StrList => (Ty::Str, "string"),
                    _ => (Ty::Duration, "time.Duration"),
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let mut v = match elem {
                        Ty::Str => Value::from(""),
                        _ => Value::from(0),
                    };
                    apply(item, elem, how, path, &mut v).map_err(|_| {
                        format!(
                            "json: cannot unmarshal {} into {path}.{i} of type {elem_name}",
                            item.kind_word(!matches!(elem, Ty::Str))
                        )
                    })?;
                    out.push(v);
                }
                *slot = Value::Array(out);
            }
            Ty::StrMap => {
                let Kind::Object(members) = &node.kind else {
                    return Err(mismatch(node, ty, path, false));
                };
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let Some(map) = slot.as_object_mut() else {
                    return Err(mismatch(node, ty, path, false));
                };
                for (key, v) in members {
                    let value = match &v.kind {
                        Kind::String(s) => s.clone(),
                        Kind::Null => String::new(),
                        _ => {
                            return Err(mismatch(v, Ty::Str, &format!("{path}.{key}"), false));
                        }
                    };
                    map.insert(key.clone(), Value::from(value));
                }
            }
            Ty::Struct(shape) => {
                let Kind::Object(members) = &node.kind else {
                    return Err(mismatch(node, ty, path, false));
                };
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                for (key, v) in members {
                    let field = shape.fields.iter().find(|(f, _)| f == key).or_else(|| {
                        shape
                            .fields
                            .iter()
                            .find(|(f, _)| f.eq_ignore_ascii_case(key))
                    });
                    let Some(&(name, fty)) = field else {
                        if how.strict {
                            return Err(format!("json: unknown field {key:?}"));
                        }
                        continue;
                    };
                    let Some(map) = slot.as_object_mut() else {
                        return Err(mismatch(node, ty, path, false));
                    };
                    let entry = map.entry(name.to_string()).or_insert(Value::Null);
                    apply(v, fty, how, &format!("{path}.{name}"), entry)?;
                    if entry.is_null() {
                        map.remove(name);
                    }
                }
            }
            // Enums are decoded before this match; never a panic on input.
            Ty::Enum(_) => return Err(mismatch(node, ty, path, false)),
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "consumer_config_tests.rs"]
mod tests;
