//! JetStream `StreamConfig` with Go's JSON shape (`server/stream.go`, nats-server
//! 2.15.1), the defaults Go applies on create (`checkStreamCfgLocked`), and the
//! validations among them that need no other stream, account or cluster state.
//!
//! - [`StreamConfig`] (de)serializes with Go's field names, order and `omitempty`.
//!   Durations are `i64` nanoseconds, as Go's `time.Duration` is in JSON.
//! - [`parse_create_request`] decodes a `$JS.API.STREAM.CREATE` body as Go's
//!   strict decoder does: unknown fields are rejected, field names match
//!   case-insensitively, `null` leaves a field at its zero value.
//! - [`StreamConfig::check`] is `checkStreamCfgLocked` for one stream in
//!   isolation: it returns the config with Go's defaults filled in, or Go's error.
//! - [`check_create`] adds the checks of `jsStreamCreateRequest` and `addStream`.
//!
//! Not ported (they need state this pure module does not have, or the subject
//! transform engine): overlap with other streams' subjects (10065), account
//! limits (max bytes required 10113/10122, stream count), source/mirror checks
//! against the origin stream (max message size 10030/10046, inheriting
//! `mirror_direct`, cycles through other streams, delivery-prefix overlap with
//! origin subjects), and `ValidateMapping`/`NewSubjectTransform` validation of
//! subject transform and republish destinations.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::errors::{ApiError, ERR_BAD_SUBJECT};
use super::gotime::GoTime;
use super::transform::{validate_mapping, SubjectTransform};
use crate::subject::{
    is_literal, is_subset_match, is_valid_publish_subject, is_valid_subject, subjects_collide,
};

/// `JSMaxNameLen`.
pub const MAX_NAME_LEN: usize = 255;
/// `JSMaxDescriptionLen`.
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// `JSMaxMetadataLen`: the sum of key and value lengths.
pub const MAX_METADATA_LEN: usize = 128 * 1024;
/// `StreamMaxReplicas`.
pub const MAX_REPLICAS: i64 = 5;
/// `StreamDefaultDuplicatesWindow`: 2 minutes, in nanoseconds.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;
/// `JSApiPrefix`.
pub const JS_API_PREFIX: &str = "$JS.API";
/// `JSApiLevel`: the highest JetStream API level this server implements.
pub const JS_API_LEVEL: u32 = 5;
/// Metadata keys Go maintains (`jetstream_versioning.go`).
pub const META_REQUIRED_LEVEL: &str = "_nats.req.level";
pub const META_SERVER_VERSION: &str = "_nats.ver";
pub const META_SERVER_LEVEL: &str = "_nats.level";

const MS_100: i64 = 100_000_000;
const SECOND: i64 = 1_000_000_000;

// ---- enums -------------------------------------------------------------------

/// Go's error for an enum value it does not know: `can not unmarshal "<raw json>"`
/// (Go formats the raw bytes with `%q`).
fn unmarshal_error<E: serde::de::Error>(raw: &Value) -> E {
    E::custom(format!("can not unmarshal {:?}", raw.to_string()))
}

macro_rules! go_string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }
     lowercase $lower:literal) => {
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
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = Value::deserialize(d)?;
                if let Value::String(s) = &raw {
                    let s = if $lower { s.to_lowercase() } else { s.clone() };
                    $(if s == $text {
                        return Ok($name::$variant);
                    })+
                }
                Err(unmarshal_error(&raw))
            }
        }
    };
}

go_string_enum!(
    /// `RetentionPolicy`.
    RetentionPolicy {
        #[default]
        Limits = "limits",
        Interest = "interest",
        WorkQueue = "workqueue",
    } lowercase false
);

go_string_enum!(
    /// `DiscardPolicy`; Go accepts it in any letter case.
    DiscardPolicy {
        #[default]
        Old = "old",
        New = "new",
    } lowercase true
);

go_string_enum!(
    /// `StorageType`. Go's zero value is neither; `checkStreamCfg` makes it file,
    /// so file is the default here.
    StorageType {
        #[default]
        File = "file",
        Memory = "memory",
    } lowercase false
);

go_string_enum!(
    /// `PersistModeType`; Go also reads `""` as the default mode.
    PersistMode {
        #[default]
        Default = "default",
        Async = "async",
    } lowercase false
);

impl PersistMode {
    fn is_default(&self) -> bool {
        *self == PersistMode::Default
    }
}

/// `StoreCompression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StoreCompression {
    #[default]
    None,
    S2,
}

impl Serialize for StoreCompression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            StoreCompression::None => "none",
            StoreCompression::S2 => "s2",
        })
    }
}

impl<'de> Deserialize<'de> for StoreCompression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Go unmarshals into a string first, then matches it.
        match Option::<String>::deserialize(d)?.as_deref() {
            Some("none") => Ok(StoreCompression::None),
            Some("s2") => Ok(StoreCompression::S2),
            _ => Err(serde::de::Error::custom("unknown compression algorithm")),
        }
    }
}

// ---- sub-structs -------------------------------------------------------------

/// `Placement`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub preferred: String,
}

/// `ExternalStream`: another account's or domain's API and delivery prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalStream {
    #[serde(rename = "api")]
    pub api_prefix: String,
    #[serde(rename = "deliver")]
    pub deliver_prefix: String,
}

/// `StreamConsumerSource`: a durable consumer used for sourcing (2.14).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConsumerSource {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
}

/// `SubjectTransformConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectTransformConfig {
    pub src: String,
    pub dest: String,
}

/// `StreamSource`, used for `mirror` and `sources`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSource {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransformConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamConsumerSource>,
}

impl StreamSource {
    /// What Go's `composeIName` distinguishes sources by (Go hashes the API
    /// prefix and consumer name; equality is what matters).
    fn index_name(&self) -> String {
        let mut iname = self.name.clone();
        if let Some(ext) = &self.external {
            iname.push(':');
            iname.push_str(&ext.api_prefix);
        }
        if let Some(c) = &self.consumer {
            iname.push_str(":C=");
            iname.push_str(&c.name);
        }
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        let (src, dest) = if self.subject_transforms.is_empty() {
            (or_all(&self.filter_subject), ">".to_string())
        } else {
            let srcs: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.src))
                .collect();
            let dests: Vec<String> = self
                .subject_transforms
                .iter()
                .map(|t| or_all(&t.dest))
                .collect();
            (srcs.join("\x0c"), dests.join("\x0c"))
        };
        format!("{iname} {src} {dest}")
    }

    /// Go's `composeCName`.
    fn consumer_index_name(&self) -> String {
        let mut iname = self.name.clone();
        if let Some(ext) = &self.external {
            iname.push(':');
            iname.push_str(&ext.api_prefix);
        }
        let c = self
            .consumer
            .as_ref()
            .map(|c| c.name.as_str())
            .unwrap_or("");
        format!("{iname} {c}")
    }
}

/// `RePublish`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RePublish {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    pub dest: String,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// `StreamConsumerLimits`: defaults for the stream's consumers. Always present
/// in Go's output, `{}` when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConsumerLimits {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

// ---- StreamConfig ------------------------------------------------------------

/// Go's `StreamConfig`, field for field and in Go's order (which is the JSON
/// order). `Default` is Go's zero value (except `storage`, see [`StorageType`]);
/// [`StreamConfig::check`] turns it into what Go stores.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: RetentionPolicy,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    /// Nanoseconds; 0 is unlimited.
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    pub discard: DiscardPolicy,
    pub storage: StorageType,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    pub compression: StoreCompression,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransformConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: StreamConsumerLimits,
    pub allow_msg_ttl: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    #[serde(skip_serializing_if = "PersistMode::is_default")]
    pub persist_mode: PersistMode,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// `StreamConfigRequest`: a config plus the request-scoped `pedantic` flag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamConfigRequest {
    #[serde(flatten)]
    pub config: StreamConfig,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pedantic: bool,
}

/// Server-wide limits `checkStreamCfg` consults (`JetStreamLimits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckLimits {
    /// `max_duplicate_window` in nanoseconds; 0 is no limit.
    pub max_duplicate_window: i64,
}

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::stream_invalid_config(msg)
}

/// Go's `isValidAssetName`.
pub fn is_valid_asset_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([' ', '\t', '\r', '\n', '\x0c', '.', '*', '>', '\\', '/'])
}

impl StreamConfig {
    /// `checkStreamCfg` with no pedantic mode and no server limits.
    pub fn validate(&self) -> Result<StreamConfig, ApiError> {
        self.check(false, &CheckLimits::default())
    }

    /// Go's `checkStreamCfgLocked`, for this stream alone: the config with
    /// defaults applied, or the first error Go would report (same order).
    pub fn check(&self, pedantic: bool, lim: &CheckLimits) -> Result<StreamConfig, ApiError> {
        if !is_valid_asset_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(invalid(format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }

        let mut cfg = self.clone();

        if cfg.num_replicas == 0 {
            cfg.num_replicas = 1;
        }
        if cfg.num_replicas > MAX_REPLICAS {
            return Err(invalid(format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if cfg.num_replicas < 0 {
            return Err(ApiError::replicas_count_cannot_be_negative());
        }
        fn unlimited<T: PartialOrd + From<i8> + Copy>(
            v: &mut T,
            pedantic: bool,
            field: &str,
        ) -> Result<(), ApiError> {
            let (zero, minus_one) = (T::from(0), T::from(-1));
            if *v == zero || *v < minus_one {
                if pedantic && *v < minus_one {
                    return Err(ApiError::pedantic(format!("{field} must be set to -1")));
                }
                *v = minus_one;
            }
            Ok(())
        }
        unlimited(&mut cfg.max_msgs, pedantic, "max_msgs")?;
        unlimited(
            &mut cfg.max_msgs_per_subject,
            pedantic,
            "max_msgs_per_subject",
        )?;
        unlimited(&mut cfg.max_bytes, pedantic, "max_bytes")?;
        unlimited(&mut cfg.max_msg_size, pedantic, "max_msg_size")?;
        unlimited(&mut cfg.max_consumers, pedantic, "max_consumers")?;

        if cfg.max_age < 0 {
            return Err(invalid("max age can not be negative"));
        }
        if cfg.max_age != 0 && cfg.max_age < MS_100 {
            return Err(invalid("max age needs to be >= 100ms"));
        }

        if cfg.duplicate_window == 0 && cfg.mirror.is_none() && cfg.sources.is_empty() {
            let mut max_window = DEFAULT_DUPLICATE_WINDOW;
            if lim.max_duplicate_window > 0 && max_window > lim.max_duplicate_window {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "duplicate window limits are higher than current limits",
                    ));
                }
                max_window = lim.max_duplicate_window;
            }
            if cfg.max_age != 0 && cfg.max_age < max_window {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "duplicate window cannot be bigger than max age",
                    ));
                }
                cfg.duplicate_window = cfg.max_age;
            } else {
                cfg.duplicate_window = max_window;
            }
        }
        if cfg.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if cfg.max_age != 0 && cfg.duplicate_window > cfg.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if lim.max_duplicate_window > 0 && cfg.duplicate_window > lim.max_duplicate_window {
            return Err(invalid(format!(
                "duplicates window can not be larger then server limit of {}",
                go_duration_string(lim.max_duplicate_window)
            )));
        }
        if cfg.duplicate_window > 0 && cfg.duplicate_window < MS_100 {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }

        if cfg.deny_purge && cfg.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }

        if cfg.allow_msg_counter {
            if cfg.discard == DiscardPolicy::New {
                return Err(invalid("counter stream cannot use discard new"));
            }
            if cfg.allow_msg_ttl {
                return Err(invalid("counter stream cannot use message TTLs"));
            }
            if cfg.allow_msg_schedules {
                return Err(invalid("counter stream cannot use message schedules"));
            }
            if cfg.retention != RetentionPolicy::Limits {
                return Err(invalid("counter stream can only use limits retention"));
            }
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

        if cfg.subject_delete_marker_ttl > 0 {
            if cfg.subject_delete_marker_ttl < SECOND {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            if !cfg.allow_msg_ttl {
                if pedantic {
                    return Err(invalid(
                        "subject delete marker cannot be set if message TTLs are disabled",
                    ));
                }
                cfg.allow_msg_ttl = true;
            }
            if !cfg.allow_rollup_hdrs {
                if pedantic {
                    return Err(invalid(
                        "subject delete marker cannot be set if roll-ups are disabled",
                    ));
                }
                cfg.allow_rollup_hdrs = true;
                cfg.deny_purge = false;
            }
        } else if cfg.subject_delete_marker_ttl < 0 {
            return Err(invalid("subject delete marker TTL must not be negative"));
        }

        if cfg.allow_msg_schedules {
            if cfg.discard == DiscardPolicy::New {
                return Err(invalid("message scheduling cannot use discard new"));
            }
            if !cfg.allow_rollup_hdrs {
                if pedantic {
                    return Err(invalid(
                        "message scheduling cannot be set if roll-ups are disabled",
                    ));
                }
                cfg.allow_rollup_hdrs = true;
                cfg.deny_purge = false;
            }
        }

        if cfg.persist_mode == PersistMode::Async {
            if cfg.storage != StorageType::File {
                return Err(invalid(
                    "async persist mode is only supported on file storage",
                ));
            }
            if cfg.num_replicas > 1 {
                return Err(invalid(
                    "async persist mode is not supported on replicated streams",
                ));
            }
            if cfg.allow_atomic {
                return Err(invalid(
                    "async persist mode is not supported with atomic batch publish",
                ));
            }
        }

        let mut delivery_prefixes: Vec<&str> = Vec::new();
        let mut api_prefixes: Vec<&str> = Vec::new();

        if let Some(mirror) = &self.mirror {
            check_mirror(&cfg, mirror)?;
            if let Some(ext) = &mirror.external {
                if !ext.deliver_prefix.is_empty() {
                    delivery_prefixes.push(&ext.deliver_prefix);
                }
                if !ext.api_prefix.is_empty() {
                    api_prefixes.push(&ext.api_prefix);
                }
            }
        }

        if !cfg.sources.is_empty() && cfg.allow_msg_schedules {
            return Err(ApiError::source_with_msg_schedules());
        }
        let mut inames = std::collections::HashSet::new();
        let mut cnames = std::collections::HashSet::new();
        for src in &self.sources {
            check_source(src, &mut inames, &mut cnames)?;
            if let Some(ext) = &src.external {
                if !ext.deliver_prefix.is_empty() {
                    delivery_prefixes.push(&ext.deliver_prefix);
                }
                if !ext.api_prefix.is_empty() {
                    api_prefixes.push(&ext.api_prefix);
                }
            }
        }

        // Overlap of delivery prefixes with the origin streams' subjects needs the
        // origin streams; only the prefix itself is checked here.
        for pfx in delivery_prefixes {
            if !is_valid_publish_subject(pfx.as_bytes()) {
                return Err(ApiError::stream_invalid_external_delivery_subj(pfx));
            }
        }
        for pfx in api_prefixes {
            if !is_valid_publish_subject(pfx.as_bytes()) {
                return Err(invalid(format!(
                    "stream external api prefix {pfx:?} must be a valid subject without wildcards"
                )));
            }
            if subjects_collide(pfx.as_bytes(), JS_API_PREFIX.as_bytes()) {
                return Err(ApiError::stream_external_api_overlap(pfx, JS_API_PREFIX));
            }
        }

        // Go's cycle walk, first step only: a stream sourcing or mirroring itself.
        for src in &cfg.sources {
            if src.external.is_none()
                && src.name == cfg.name
                && (src.filter_subject.is_empty()
                    || cfg
                        .subjects
                        .iter()
                        .any(|s| subjects_collide(s.as_bytes(), src.filter_subject.as_bytes())))
            {
                return Err(invalid("detected cycle"));
            }
        }
        if let Some(m) = &cfg.mirror {
            if m.external.is_none() && m.name == cfg.name {
                return Err(invalid("detected cycle"));
            }
        }

        if cfg.subjects.is_empty() {
            if cfg.mirror.is_none() && cfg.sources.is_empty() {
                cfg.subjects.push(cfg.name.clone());
            }
        } else {
            if cfg.mirror.is_some() {
                return Err(ApiError::mirror_with_subjects());
            }
            check_subjects(&cfg)?;
        }

        if cfg.subjects.is_empty() && cfg.sources.is_empty() && cfg.mirror.is_none() {
            return Err(invalid(
                "stream needs at least one configured subject or be a source/mirror",
            ));
        }

        if let Some(tr) = &cfg.subject_transform {
            if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
                return Err(ApiError::stream_transform_invalid_source(format!(
                    "{ERR_BAD_SUBJECT} {}",
                    tr.src
                )));
            }
            validate_mapping(&tr.src, &tr.dest)
                .map_err(ApiError::stream_transform_invalid_destination)?;
        }

        if let Some(mut rp) = cfg.republish.take() {
            if rp.src.is_empty() {
                if pedantic {
                    return Err(ApiError::pedantic("republish source can not be empty"));
                }
                rp.src = ">".to_string();
            }
            if let Some(tr) = &cfg.subject_transform {
                if rp.dest == ">"
                    && rp.src == ">"
                    && cfg.subjects.len() == 1
                    && tr.src == cfg.subjects[0]
                {
                    if pedantic {
                        return Err(ApiError::pedantic(
                            "implicit republish based on subject transform",
                        ));
                    }
                    rp.src = tr.dest.clone();
                    rp.dest = tr.dest.clone();
                }
            }
            if cfg
                .subjects
                .iter()
                .any(|s| subjects_collide(rp.dest.as_bytes(), s.as_bytes()))
            {
                return Err(invalid(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
            if SubjectTransform::new(&rp.src, &rp.dest).is_err() {
                return Err(invalid(format!(
                    "stream configuration for republish with transform from '{}' to '{}' not valid",
                    rp.src, rp.dest
                )));
            }
            cfg.republish = Some(rp);
        }

        if cfg.placement.as_ref() == Some(&Placement::default()) {
            cfg.placement = None;
        }
        if cfg
            .placement
            .as_ref()
            .is_some_and(|p| !p.preferred.is_empty())
        {
            return Err(invalid("preferred server not permitted in placement"));
        }

        Ok(cfg)
    }

    /// Go's `setStaticStreamMetadata`: drops dynamic keys and records the lowest
    /// API level the stream's features need under `_nats.req.level`.
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_SERVER_VERSION);
        self.metadata.remove(META_SERVER_LEVEL);
        let mut level = 0;
        if self.allow_msg_ttl || self.subject_delete_marker_ttl > 0 {
            level = level.max(1);
        }
        if self.allow_msg_counter
            || self.allow_atomic
            || self.allow_msg_schedules
            || self.persist_mode == PersistMode::Async
        {
            level = level.max(2);
        }
        if self.allow_batched {
            level = level.max(4);
        }
        self.metadata
            .insert(META_REQUIRED_LEVEL.to_string(), level.to_string());
    }

    /// Go's `setDynamicStreamMetadata`: a copy for a response, with the server
    /// version and API level added.
    pub fn with_dynamic_metadata(&self, server_version: &str) -> StreamConfig {
        let mut cfg = self.clone();
        cfg.metadata
            .insert(META_SERVER_VERSION.to_string(), server_version.to_string());
        cfg.metadata
            .insert(META_SERVER_LEVEL.to_string(), JS_API_LEVEL.to_string());
        cfg
    }
}

fn check_mirror(cfg: &StreamConfig, mirror: &StreamSource) -> Result<(), ApiError> {
    if cfg.first_seq > 0 {
        return Err(ApiError::mirror_with_first_seq());
    }
    if !cfg.subjects.is_empty() {
        return Err(ApiError::mirror_with_subjects());
    }
    if !cfg.sources.is_empty() {
        return Err(ApiError::mirror_with_sources());
    }
    if cfg.allow_msg_counter {
        return Err(ApiError::mirror_with_counters());
    }
    if cfg.allow_atomic {
        return Err(ApiError::mirror_with_atomic_publish());
    }
    if cfg.allow_batched {
        return Err(ApiError::mirror_with_batch_publish());
    }
    if cfg.allow_msg_schedules {
        return Err(ApiError::mirror_with_msg_schedules());
    }
    if let Some(c) = &mirror.consumer {
        if !is_valid_asset_name(&c.name)
            || !is_literal(c.deliver_subject.as_bytes())
            || !is_valid_subject(c.deliver_subject.as_bytes())
            || mirror.opt_start_seq != 0
            || mirror.opt_start_time.is_some()
            || !mirror.filter_subject.is_empty()
        {
            return Err(ApiError::mirror_durable_consumer_cfg_invalid());
        }
    }
    if !mirror.filter_subject.is_empty() && !mirror.subject_transforms.is_empty() {
        return Err(ApiError::mirror_multiple_filters_not_allowed());
    }
    if cfg.subject_delete_marker_ttl > 0 {
        return Err(invalid("subject delete markers forbidden on mirrors"));
    }
    for (outer, tr) in mirror.subject_transforms.iter().enumerate() {
        if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
            return Err(ApiError::mirror_invalid_subject_filter(format!(
                "{ERR_BAD_SUBJECT} {}",
                tr.src
            )));
        }
        for (inner, other) in mirror.subject_transforms.iter().enumerate() {
            if inner != outer && subjects_collide(tr.src.as_bytes(), other.src.as_bytes()) {
                return Err(ApiError::mirror_overlapping_subject_filters());
            }
        }
    }
    if mirror.external.is_none() && !is_valid_asset_name(&mirror.name) {
        return Err(ApiError::mirror_invalid_stream_name());
    }
    Ok(())
}

fn check_source(
    src: &StreamSource,
    inames: &mut std::collections::HashSet<String>,
    cnames: &mut std::collections::HashSet<String>,
) -> Result<(), ApiError> {
    if !is_valid_asset_name(&src.name) {
        return Err(ApiError::source_invalid_stream_name());
    }
    if !inames.insert(src.index_name()) {
        return Err(ApiError::source_duplicate_detected());
    }
    if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
        return Err(ApiError::source_multiple_filters_not_allowed());
    }
    for tr in &src.subject_transforms {
        if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
            return Err(ApiError::source_invalid_subject_filter(format!(
                "{ERR_BAD_SUBJECT} {}",
                tr.src
            )));
        }
    }
    for (outer, tr) in src.subject_transforms.iter().enumerate() {
        for (inner, other) in src.subject_transforms.iter().enumerate() {
            if inner != outer && is_subset_match(tr.src.as_bytes(), other.src.as_bytes()) {
                return Err(ApiError::source_overlapping_subject_filters());
            }
        }
    }
    if let Some(c) = &src.consumer {
        if !is_valid_asset_name(&c.name)
            || !is_literal(c.deliver_subject.as_bytes())
            || !is_valid_subject(c.deliver_subject.as_bytes())
            || src.opt_start_seq != 0
            || src.opt_start_time.is_some()
            || !src.filter_subject.is_empty()
        {
            return Err(ApiError::source_durable_consumer_cfg_invalid());
        }
        if !cnames.insert(src.consumer_index_name()) {
            return Err(ApiError::source_durable_consumer_duplicate_detected());
        }
    }
    Ok(())
}

/// The subject checks of `checkStreamCfgLocked`, in Go's order per subject.
fn check_subjects(cfg: &StreamConfig) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for (i, subj) in cfg.subjects.iter().enumerate() {
        let s = subj.as_bytes();
        if !is_valid_subject(s) {
            return Err(invalid("invalid subject"));
        }
        if !seen.insert(subj.as_str()) {
            return Err(invalid("duplicate subjects detected"));
        }
        if subj == ">" {
            if !cfg.no_ack {
                return Err(invalid("capturing all subjects requires no-ack to be true"));
            }
            if cfg.num_replicas != 1 {
                return Err(invalid("capturing all subjects requires replicas of 1"));
            }
        }
        if !cfg.no_ack {
            for ns in ["$JS.>", "$JSC.>", "$NRG.>"] {
                if subjects_collide(s, ns.as_bytes()) && !is_subset_match(s, b"$JS.EVENT.>") {
                    return Err(invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
            }
            if subjects_collide(s, b"$SYS.>") && !is_subset_match(s, b"$SYS.ACCOUNT.>") {
                return Err(invalid(
                    "subjects that overlap with system api require no-ack to be true",
                ));
            }
        }
        for other in &cfg.subjects[i + 1..] {
            if subjects_collide(other.as_bytes(), s) {
                return Err(invalid(format!("subject {subj:?} overlaps with {other:?}")));
            }
        }
    }
    Ok(())
}

/// Go's `time.Duration.String()` for the positive durations used in messages
/// (e.g. `2m0s`, `1.5s`, `100ms`).
pub fn go_duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    let frac = |v: u64, unit: u64, digits: usize| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let f = format!("{rest:0digits$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000, 6));
    }
    let secs_total = u / 1_000_000_000;
    let sub = u % 1_000_000_000;
    let h = secs_total / 3600;
    let m = secs_total / 60 % 60;
    let s = secs_total % 60;
    let s_text = frac(s * 1_000_000_000 + sub, 1_000_000_000, 9);
    if h > 0 {
        format!("{sign}{h}h{m}m{s_text}s")
    } else if m > 0 {
        format!("{sign}{m}m{s_text}s")
    } else {
        format!("{sign}{s_text}s")
    }
}

// ---- requests ----------------------------------------------------------------

/// The fields Go knows for each object in a stream create request, used to
/// reject unknown fields and to match names case-insensitively.
#[derive(Clone, Copy)]
enum Shape {
    Request,
    Source,
    External,
    ConsumerSource,
    Transform,
    Placement,
    RePublish,
    ConsumerLimits,
}

const CONFIG_FIELDS: &[&str] = &[
    "name",
    "description",
    "subjects",
    "retention",
    "max_consumers",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msgs_per_subject",
    "max_msg_size",
    "discard",
    "storage",
    "num_replicas",
    "no_ack",
    "duplicate_window",
    "placement",
    "mirror",
    "sources",
    "compression",
    "first_seq",
    "subject_transform",
    "republish",
    "allow_direct",
    "mirror_direct",
    "discard_new_per_subject",
    "sealed",
    "deny_delete",
    "deny_purge",
    "allow_rollup_hdrs",
    "consumer_limits",
    "allow_msg_ttl",
    "subject_delete_marker_ttl",
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "persist_mode",
    "allow_batched",
    "metadata",
    "pedantic",
];

impl Shape {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Shape::Request => CONFIG_FIELDS,
            Shape::Source => &[
                "name",
                "opt_start_seq",
                "opt_start_time",
                "filter_subject",
                "subject_transforms",
                "external",
                "consumer",
            ],
            Shape::External => &["api", "deliver"],
            Shape::ConsumerSource => &["name", "deliver_subject"],
            Shape::Transform => &["src", "dest"],
            Shape::Placement => &["cluster", "tags", "preferred"],
            Shape::RePublish => &["src", "dest", "headers_only"],
            Shape::ConsumerLimits => &["inactive_threshold", "max_ack_pending"],
        }
    }

    /// The shape of a field's value (of each element, for arrays).
    fn child(self, field: &str) -> Option<Shape> {
        match (self, field) {
            (Shape::Request, "mirror" | "sources") => Some(Shape::Source),
            (Shape::Request, "placement") => Some(Shape::Placement),
            (Shape::Request, "subject_transform") => Some(Shape::Transform),
            (Shape::Request, "republish") => Some(Shape::RePublish),
            (Shape::Request, "consumer_limits") => Some(Shape::ConsumerLimits),
            (Shape::Source, "subject_transforms") => Some(Shape::Transform),
            (Shape::Source, "external") => Some(Shape::External),
            (Shape::Source, "consumer") => Some(Shape::ConsumerSource),
            _ => None,
        }
    }
}

/// The Go type of a scalar field, for Go's type-mismatch message.
fn go_type(shape: Shape, field: &str) -> Option<&'static str> {
    Some(match (shape, field) {
        (Shape::Request, "max_consumers" | "num_replicas") => "int",
        (Shape::Request, "max_msgs" | "max_bytes" | "max_msgs_per_subject") => "int64",
        (Shape::Request, "max_msg_size") => "int32",
        (Shape::Request, "max_age" | "duplicate_window" | "subject_delete_marker_ttl") => {
            "time.Duration"
        }
        (Shape::Request, "first_seq") | (Shape::Source, "opt_start_seq") => "uint64",
        (Shape::ConsumerLimits, "inactive_threshold") => "time.Duration",
        (Shape::ConsumerLimits, "max_ack_pending") => "int",
        (
            Shape::Request,
            "no_ack"
            | "allow_direct"
            | "mirror_direct"
            | "discard_new_per_subject"
            | "sealed"
            | "deny_delete"
            | "deny_purge"
            | "allow_rollup_hdrs"
            | "allow_msg_ttl"
            | "allow_msg_counter"
            | "allow_atomic"
            | "allow_msg_schedules"
            | "allow_batched"
            | "pedantic",
        )
        | (Shape::RePublish, "headers_only") => "bool",
        (Shape::Request, "name" | "description")
        | (Shape::Source, "name" | "filter_subject")
        | (Shape::External, "api" | "deliver")
        | (Shape::ConsumerSource, "name" | "deliver_subject")
        | (Shape::Transform, "src" | "dest")
        | (Shape::Placement, "cluster" | "preferred")
        | (Shape::RePublish, "src" | "dest") => "string",
        _ => return None,
    })
}

/// Go's `UnmarshalTypeError` text if `value` does not fit Go type `ty`.
fn type_mismatch(value: &Value, ty: &str, path: &str) -> Option<String> {
    let fits = match (ty, value) {
        ("string", Value::String(_)) | ("bool", Value::Bool(_)) => true,
        ("int" | "int64" | "time.Duration", Value::Number(n)) => n.as_i64().is_some(),
        ("int32", Value::Number(n)) => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        ("uint64", Value::Number(n)) => n.as_u64().is_some(),
        _ => false,
    };
    if fits {
        return None;
    }
    let kind = match value {
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".to_string(),
        Value::Bool(_) => "bool".to_string(),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
        Value::Null => return None,
    };
    Some(format!(
        "json: cannot unmarshal {kind} into Go struct field StreamConfigRequest.{path} of type {ty}"
    ))
}

/// Fields whose Go type has its own `UnmarshalJSON` that fails on `null`.
fn null_is_error(shape: Shape, field: &str) -> bool {
    matches!(shape, Shape::Request)
        && matches!(
            field,
            "retention" | "discard" | "storage" | "persist_mode" | "compression"
        )
}

/// Rewrites a decoded object the way Go's strict decoder sees it: keys matched
/// to Go's names (exact first, then ASCII case-insensitive), unknown keys an
/// error, `null` values dropped (Go leaves the zero value). The last duplicate
/// key wins, as in Go.
fn normalize(
    obj: Map<String, Value>,
    shape: Shape,
    prefix: &str,
) -> Result<Map<String, Value>, String> {
    let fields = shape.fields();
    let mut out = Map::new();
    for (key, value) in obj {
        let name = fields
            .iter()
            .find(|f| **f == key)
            .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(&key)))
            .ok_or_else(|| format!("json: unknown field {key:?}"))?;
        if value.is_null() && !null_is_error(shape, name) {
            out.remove(*name);
            continue;
        }
        let path = format!("{prefix}{name}");
        if let Some(msg) = go_type(shape, name).and_then(|ty| type_mismatch(&value, ty, &path)) {
            return Err(msg);
        }
        let nested = format!("{path}.");
        let value = match (shape.child(name), value) {
            (Some(child), Value::Object(o)) => Value::Object(normalize(o, child, &nested)?),
            (Some(child), Value::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::Object(o) => normalize(o, child, &nested).map(Value::Object),
                        other => Ok(other),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (_, v) => v,
        };
        out.insert((*name).to_string(), value);
    }
    Ok(out)
}

/// Strips serde_json's ` at line L column C` suffix, which Go's texts lack.
fn serde_message(err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "unexpected EOF".to_string();
    }
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Decodes a `$JS.API.STREAM.CREATE`/`UPDATE` body as Go's `unmarshalRequest`
/// does in strict mode. An empty body is an empty config. Errors are Go's
/// `JSInvalidJSONErr` (10025); the `{err}` text is Go's for unknown fields,
/// truncated input and bad enum values, and serde's wording otherwise.
pub fn parse_create_request(body: &[u8]) -> Result<StreamConfigRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(StreamConfigRequest::default());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(serde_message(&e)))?;
    let obj = match value {
        Value::Object(o) => o,
        // Go: "json: cannot unmarshal <kind> into Go value of type server.StreamConfigRequest"
        other => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => return Ok(StreamConfigRequest::default()),
            };
            return Err(ApiError::invalid_json(format!(
                "json: cannot unmarshal {kind} into Go value of type server.StreamConfigRequest"
            )));
        }
    };
    let obj = normalize(obj, Shape::Request, "").map_err(ApiError::invalid_json)?;
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::invalid_json(serde_message(&e)))
}

/// What `jsStreamCreateRequest` and `addStream` check before and after
/// `checkStreamCfg`, for a single server (`clustered == false`) or a cluster.
/// `subject_name` is the stream name taken from the request subject. Returns
/// the config Go would store (with `_nats.req.level` metadata).
pub fn check_create(
    subject_name: &str,
    req: &StreamConfigRequest,
    clustered: bool,
    lim: &CheckLimits,
) -> Result<StreamConfig, ApiError> {
    let cfg = check_create_request(subject_name, req)?;
    check_create_config(cfg, req.pedantic, clustered, lim)
}

/// The first half of [`check_create`]: what Go checks in the create handler before
/// the server's limits (the name, sealed, mirror direct). Returns the request's
/// configuration as sent, with the static metadata set.
pub fn check_create_request(
    subject_name: &str,
    req: &StreamConfigRequest,
) -> Result<StreamConfig, ApiError> {
    let mut cfg = req.config.clone();
    cfg.set_static_metadata();
    if subject_name != cfg.name {
        return Err(ApiError::stream_mismatch());
    }
    if subject_name.contains(['\\', '/']) {
        return Err(ApiError::stream_name_contains_path_separators());
    }
    if cfg.sealed {
        return Err(invalid("stream configuration for create can not be sealed"));
    }
    if cfg.mirror_direct && cfg.mirror.is_none() {
        return Err(invalid("stream has no mirror but does have mirror direct"));
    }
    Ok(cfg)
}

/// The second half of [`check_create`], after the server's limits: the
/// configuration itself, with Go's defaults filled in.
pub fn check_create_config(
    cfg: StreamConfig,
    pedantic: bool,
    clustered: bool,
    lim: &CheckLimits,
) -> Result<StreamConfig, ApiError> {
    let cfg = cfg.check(pedantic, lim)?;
    if !clustered && cfg.num_replicas > 1 {
        return Err(ApiError::stream_replicas_not_supported());
    }
    Ok(cfg)
}

#[cfg(test)]
#[path = "stream_config_tests.rs"]
mod tests;
