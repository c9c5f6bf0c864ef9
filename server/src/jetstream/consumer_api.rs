//! The consumer half of the JetStream vocabulary (`server/consumer.go`,
//! `server/jetstream_api.go`, `server/jetstream_events.go`, nats-server 2.15.1):
//! response shapes, the pull request, ack subjects and bodies, advisories and
//! the status frames a consumer sends. Shapes and parsers only; nothing here
//! holds consumer state.
//!
//! - **Responses**: [`ConsumerInfo`] and the CREATE / INFO / NAMES / LIST /
//!   DELETE / PAUSE bodies, field order and `omitempty` as Go writes them
//!   (checked against captured replies in `testdata/api/consumer_*.json`).
//! - **Requests**: [`ConsumersRequest`] (NAMES, LIST) and
//!   [`ConsumerPauseRequest`] decode with Go's strict API decoder;
//!   [`NextRequest::parse`] is Go's `nextReqFromMsg` (lenient `json.Unmarshal`).
//! - **Acks**: [`ack_reply_v1`] / [`ack_reply_v2`] build the reply subject of a
//!   delivery, [`parse_ack_reply`] is Go's `ackReplyInfo`, [`AckKind::parse`]
//!   is the body dispatch of `processAck` (and `processNak`'s delay).
//! - **Advisories**: the `$JS.EVENT.ADVISORY.CONSUMER.*` and ack-metric events.
//! - **Status frames** ([`status`]): the exact `NATS/1.0 ...` header blocks.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::api_types::{go_json_bytes, is_json_object_or_array};
use super::consumer_config::go_json::{decode_request, decode_single};
use super::consumer_config::{ConsumerConfig, Decoding, Shape, Ty};
use super::errors::ApiError;
use super::gotime::GoTime;
use super::stream_info::ClusterInfo;
use crate::shard::Shard;

pub use super::stream_config::go_duration_string as go_duration;

// ---- response types ------------------------------------------------------------

/// `JSApiConsumerCreateResponseType`.
pub const CONSUMER_CREATE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
/// `JSApiConsumerInfoResponseType`.
pub const CONSUMER_INFO_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_info_response";
/// `JSApiConsumerNamesResponseType`.
pub const CONSUMER_NAMES_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_names_response";
/// `JSApiConsumerListResponseType`.
pub const CONSUMER_LIST_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_list_response";
/// `JSApiConsumerDeleteResponseType`.
pub const CONSUMER_DELETE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
/// `JSApiConsumerPauseResponseType`.
pub const CONSUMER_PAUSE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";

/// `JSApiNamesLimit`: at most this many names per NAMES page.
pub const CONSUMER_NAMES_LIMIT: usize = 1024;
/// `JSApiListLimit`: at most this many infos per LIST page.
pub const CONSUMER_LIST_LIMIT: usize = 256;

/// `JSApiRequestNextT`: the subject a pull consumer takes requests on.
pub fn next_subject(stream: &str, consumer: &str) -> String {
    format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}")
}

fn is_false(v: &bool) -> bool {
    !*v
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

// ---- ConsumerInfo ----------------------------------------------------------------

/// `SequenceInfo`: a consumer and stream sequence pair and when it last moved.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<GoTime>,
}

/// `PriorityGroupState`: Go reports the first priority group only. `pinned_ts`
/// is always written (the zero time when nobody is pinned).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PriorityGroupState {
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    pub pinned_ts: GoTime,
}

/// `ConsumerInfo`. Go leaves `cluster` out on a single server.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerInfo {
    pub stream_name: String,
    pub name: String,
    pub created: GoTime,
    pub config: ConsumerConfig,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: i64,
    pub num_redelivered: i64,
    pub num_waiting: i64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "is_false")]
    pub push_bound: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Nanoseconds; left out when 0.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// When the info was gathered.
    pub ts: GoTime,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

/// A response's `type`, its `error`, and the other fields.
type Parts = (String, Option<ApiError>, Map<String, Value>);

/// Splits a response object into `type`, `error` and the rest (for the
/// responses that embed `*ConsumerInfo`).
fn split<'de, D: Deserializer<'de>>(d: D) -> Result<Parts, D::Error> {
    let mut rest = Map::<String, Value>::deserialize(d)?;
    let kind = match rest.remove("type") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let error = take(&mut rest, "error")?;
    Ok((kind, error, rest))
}

fn take<T: DeserializeOwned, E: serde::de::Error>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, E> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(E::custom),
    }
}

fn body<T: DeserializeOwned, E: serde::de::Error>(
    rest: Map<String, Value>,
) -> Result<Option<T>, E> {
    if rest.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(Value::Object(rest))
        .map(Some)
        .map_err(E::custom)
}

macro_rules! info_response {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize)]
        pub struct $name {
            #[serde(rename = "type")]
            pub kind: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub error: Option<ApiError>,
            #[serde(flatten, skip_serializing_if = "Option::is_none")]
            pub info: Option<ConsumerInfo>,
        }

        impl $name {
            /// A successful reply. The caller gives the config its dynamic
            /// metadata first ([`ConsumerConfig::with_dynamic_metadata`]).
            pub fn new(info: ConsumerInfo) -> Self {
                $name {
                    kind: $kind.to_string(),
                    error: None,
                    info: Some(info),
                }
            }

            /// `{"type":...,"error":{...}}`.
            pub fn error(err: ApiError) -> Self {
                $name {
                    kind: $kind.to_string(),
                    error: Some(err),
                    info: None,
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (kind, error, rest) = split(d)?;
                Ok($name {
                    kind,
                    error,
                    info: body(rest)?,
                })
            }
        }
    };
}

info_response!(
    /// `JSApiConsumerCreateResponse`: `type`, then the `ConsumerInfo` fields.
    ConsumerCreateResponse,
    CONSUMER_CREATE_RESPONSE_TYPE
);

info_response!(
    /// `JSApiConsumerInfoResponse`: the same shape as the create response.
    ConsumerInfoResponse,
    CONSUMER_INFO_RESPONSE_TYPE
);

// ---- NAMES / LIST ----------------------------------------------------------------

/// `JSApiConsumerNamesResponse`. Go starts from an empty list, so no names is
/// `"consumers":[]` (unlike stream NAMES' `null`), errors included.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerNamesResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub consumers: Vec<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl ConsumerNamesResponse {
    /// One page of all the stream's (non-direct) consumer names: sorted,
    /// `offset` clamped to the count, at most [`CONSUMER_NAMES_LIMIT`] names.
    pub fn page(mut names: Vec<String>, offset: usize) -> Self {
        names.sort();
        let total = names.len();
        let offset = offset.min(total);
        let consumers = names
            .into_iter()
            .skip(offset)
            .take(CONSUMER_NAMES_LIMIT)
            .collect();
        ConsumerNamesResponse {
            kind: CONSUMER_NAMES_RESPONSE_TYPE.to_string(),
            error: None,
            total,
            offset,
            limit: CONSUMER_NAMES_LIMIT,
            consumers,
        }
    }

    /// `{"type":...,"error":{...},"total":0,"offset":0,"limit":0,"consumers":[]}`.
    pub fn error(err: ApiError) -> Self {
        ConsumerNamesResponse {
            kind: CONSUMER_NAMES_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

/// `JSApiConsumerListResponse`: `consumers` always a list; `missing` and
/// `offline` (consumer name to reason) left out when empty. Go's LIST carries
/// the stored configs (only `_nats.req.level` metadata).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumerListResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub consumers: Vec<ConsumerInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

impl ConsumerListResponse {
    /// A page: `infos` already sorted by name, skipped by `offset` and cut to
    /// [`CONSUMER_LIST_LIMIT`]; `total` the count of all consumers. The offset
    /// reported is clamped to `total`, as in Go.
    pub fn page(infos: Vec<ConsumerInfo>, total: usize, offset: usize) -> Self {
        ConsumerListResponse {
            kind: CONSUMER_LIST_RESPONSE_TYPE.to_string(),
            error: None,
            total,
            offset: offset.min(total),
            limit: CONSUMER_LIST_LIMIT,
            consumers: infos,
            missing: Vec::new(),
            offline: BTreeMap::new(),
        }
    }

    /// `{"type":...,"error":{...},"total":0,"offset":0,"limit":0,"consumers":[]}`.
    pub fn error(err: ApiError) -> Self {
        ConsumerListResponse {
            kind: CONSUMER_LIST_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

/// Go's `JSApiConsumersRequest` (`{"offset":N}`), the body of NAMES and LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumersRequest {
    /// Go's `max(offset, 0)`.
    pub offset: usize,
}

static CONSUMERS_REQUEST_SHAPE: Shape = Shape {
    go_type: "server.JSApiConsumersRequest",
    fields: &[("offset", Ty::Int)],
};
static CONSUMERS_REQUEST: Decoding = Decoding {
    shape: &CONSUMERS_REQUEST_SHAPE,
    root: "JSApiConsumersRequest",
    strict: true,
};

impl ConsumersRequest {
    /// Go decodes the body only when it starts (after whitespace) with `{` or
    /// `[`; anything else is offset 0. Errors are 10025 with Go's text.
    pub fn parse(body: &[u8]) -> Result<ConsumersRequest, ApiError> {
        if !is_json_object_or_array(body) {
            return Ok(ConsumersRequest::default());
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            offset: i64,
        }
        let raw: Raw = decode_request(body, &CONSUMERS_REQUEST).map_err(ApiError::invalid_json)?;
        Ok(ConsumersRequest {
            offset: usize::try_from(raw.offset.max(0)).unwrap_or(usize::MAX),
        })
    }
}

// ---- DELETE / PAUSE --------------------------------------------------------------

/// `JSApiConsumerDeleteResponse`: `success` is left out when false.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerDeleteResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ConsumerDeleteResponse {
    pub fn success() -> Self {
        ConsumerDeleteResponse {
            kind: CONSUMER_DELETE_RESPONSE_TYPE.to_string(),
            error: None,
            success: true,
        }
    }

    pub fn error(err: ApiError) -> Self {
        ConsumerDeleteResponse {
            kind: CONSUMER_DELETE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            success: false,
        }
    }
}

/// `JSApiConsumerUnpinRequest`: `{"group":"G"}`, decoded as Go's `json.Unmarshal`
/// (unknown fields ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerUnpinRequest {
    pub group: String,
}

static UNPIN_REQUEST_SHAPE: Shape = Shape {
    go_type: "server.JSApiConsumerUnpinRequest",
    fields: &[("group", Ty::Str)],
};
static UNPIN_REQUEST: Decoding = Decoding {
    shape: &UNPIN_REQUEST_SHAPE,
    root: "JSApiConsumerUnpinRequest",
    strict: false,
};

impl ConsumerUnpinRequest {
    /// Go's checks, in order: valid JSON (an empty body is not), a group, a valid
    /// group name.
    pub fn parse(body: &[u8]) -> Result<ConsumerUnpinRequest, ApiError> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            group: String,
        }
        let raw: Raw = decode_single(body, &UNPIN_REQUEST).map_err(ApiError::invalid_json)?;
        if raw.group.is_empty() {
            return Err(ApiError::invalid_json("consumer group not specified"));
        }
        if !super::consumer_config::is_valid_group_name(&raw.group) {
            return Err(ApiError::consumer_invalid_group_name());
        }
        Ok(ConsumerUnpinRequest { group: raw.group })
    }
}

/// `JSApiConsumerUnpinResponse`: only its type on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerUnpinResponse {
    #[serde(rename = "type")]
    pub kind: String,
}

impl ConsumerUnpinResponse {
    pub fn success() -> Self {
        ConsumerUnpinResponse {
            kind: super::api::CONSUMER_UNPIN.to_string(),
        }
    }
}

/// `JSApiConsumerResetRequest`: `{"seq":N}`; an empty body or 0 means the ack
/// floor + 1. Decoded as Go's `json.Unmarshal` (unknown fields ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerResetRequest {
    pub seq: u64,
}

static RESET_REQUEST_SHAPE: Shape = Shape {
    go_type: "server.JSApiConsumerResetRequest",
    fields: &[("seq", Ty::Uint64)],
};
static RESET_REQUEST: Decoding = Decoding {
    shape: &RESET_REQUEST_SHAPE,
    root: "JSApiConsumerResetRequest",
    strict: false,
};

impl ConsumerResetRequest {
    pub fn parse(body: &[u8]) -> Result<ConsumerResetRequest, ApiError> {
        if body.is_empty() {
            return Ok(ConsumerResetRequest::default());
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            seq: u64,
        }
        let raw: Raw = decode_single(body, &RESET_REQUEST).map_err(ApiError::invalid_json)?;
        Ok(ConsumerResetRequest { seq: raw.seq })
    }
}

/// `JSApiConsumerResetResponse`: the consumer's info after the reset, inline, and
/// `reset_seq` (always written, 0 with an error).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerResetResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<ConsumerInfo>,
    pub reset_seq: u64,
}

impl ConsumerResetResponse {
    pub fn new(info: ConsumerInfo, reset_seq: u64) -> Self {
        ConsumerResetResponse {
            kind: super::api::CONSUMER_RESET.to_string(),
            error: None,
            info: Some(info),
            reset_seq,
        }
    }

    pub fn error(err: ApiError) -> Self {
        ConsumerResetResponse {
            kind: super::api::CONSUMER_RESET.to_string(),
            error: Some(err),
            info: None,
            reset_seq: 0,
        }
    }
}

/// `JSApiConsumerPauseRequest`: `{"pause_until":"<RFC 3339>"}`. No time (or
/// Go's zero time) resumes the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerPauseRequest {
    pub pause_until: Option<GoTime>,
}

static PAUSE_REQUEST_SHAPE: Shape = Shape {
    go_type: "server.JSApiConsumerPauseRequest",
    fields: &[("pause_until", Ty::Time)],
};
static PAUSE_REQUEST: Decoding = Decoding {
    shape: &PAUSE_REQUEST_SHAPE,
    root: "JSApiConsumerPauseRequest",
    strict: true,
};

impl ConsumerPauseRequest {
    /// Go decodes only a body starting with `{` or `[` (anything else resumes).
    /// Errors are 10025 with Go's text.
    pub fn parse(body: &[u8]) -> Result<ConsumerPauseRequest, ApiError> {
        if !is_json_object_or_array(body) {
            return Ok(ConsumerPauseRequest::default());
        }
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            pause_until: Option<GoTime>,
        }
        let raw: Raw = decode_request(body, &PAUSE_REQUEST).map_err(ApiError::invalid_json)?;
        Ok(ConsumerPauseRequest {
            pause_until: raw.pause_until.filter(|t| !t.is_zero()),
        })
    }
}

/// `JSApiConsumerPauseResponse`: `paused` and `pause_until` always written
/// (errors too: `false` and the zero time), `pause_remaining` when non-zero.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerPauseResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub pause_until: GoTime,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
}

impl ConsumerPauseResponse {
    /// The reply to a pause until `until` (`None`: resumed), now.
    pub fn new(until: Option<GoTime>) -> Self {
        Self::at(until, GoTime::now())
    }

    /// The reply as of `now`: paused while `now` is before `until`.
    pub fn at(until: Option<GoTime>, now: GoTime) -> Self {
        let until = until.unwrap_or_default();
        let remaining = until.unix_nanos() - now.unix_nanos();
        let paused = !until.is_zero() && remaining > 0;
        ConsumerPauseResponse {
            kind: CONSUMER_PAUSE_RESPONSE_TYPE.to_string(),
            error: None,
            paused,
            pause_until: until,
            pause_remaining: if paused {
                i64::try_from(remaining).unwrap_or(i64::MAX)
            } else {
                0
            },
        }
    }

    pub fn error(err: ApiError) -> Self {
        ConsumerPauseResponse {
            kind: CONSUMER_PAUSE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

// ---- pull requests ---------------------------------------------------------------

/// A pull request (`JSApiConsumerGetNextRequest` with its `PriorityGroup`), as
/// Go's `nextReqFromMsg` reads it. Durations are nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NextRequest {
    /// As sent: 0 or negative still delivers one message in Go (its count
    /// goes to zero or below after the first delivery).
    pub batch: i64,
    /// How long the request waits (0: until the batch is filled).
    pub expires: i64,
    pub max_bytes: i64,
    pub no_wait: bool,
    pub idle_heartbeat: i64,
    pub group: String,
    pub min_pending: i64,
    pub min_ack_pending: i64,
    /// The pin id of a pinned-client consumer.
    pub id: String,
    pub priority: i64,
    /// The body was a JSON object. Only then does Go have a priority group to
    /// check (an empty or numeric body skips the priority rules).
    pub json: bool,
}

static NEXT_REQUEST_SHAPE: Shape = Shape {
    go_type: "*server.JSApiConsumerGetNextRequest",
    fields: &[
        ("expires", Ty::Duration),
        ("batch", Ty::Int),
        ("max_bytes", Ty::Int),
        ("no_wait", Ty::Bool),
        ("idle_heartbeat", Ty::Duration),
        ("group", Ty::Str),
        ("min_pending", Ty::Int64),
        ("min_ack_pending", Ty::Int64),
        ("id", Ty::Str),
        ("priority", Ty::Int),
    ],
};
static NEXT_REQUEST: Decoding = Decoding {
    shape: &NEXT_REQUEST_SHAPE,
    // Go unmarshals into a pointer to a pointer: its field errors read
    // "Go struct field .batch".
    root: "",
    strict: false,
};

#[derive(Deserialize, Default)]
#[serde(default)]
struct NextRequestJson {
    expires: i64,
    batch: i64,
    max_bytes: i64,
    no_wait: bool,
    idle_heartbeat: i64,
    group: String,
    min_pending: i64,
    min_ack_pending: i64,
    id: String,
    priority: i64,
}

/// Go's `strconv.Atoi` (decimal, optional sign).
fn atoi(s: &[u8]) -> Option<i64> {
    let digits = s
        .strip_prefix(b"+")
        .or_else(|| s.strip_prefix(b"-"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Go's `bytes.TrimSpace`: ASCII whitespace, and Unicode white space where the
/// edges are valid UTF-8.
pub fn go_trim_space(b: &[u8]) -> &[u8] {
    fn is_space(c: char) -> bool {
        c.is_whitespace()
    }
    let mut start = 0;
    while start < b.len() {
        let rest = &b[start..];
        let Some(c) = first_char(rest) else { break };
        if !is_space(c) {
            break;
        }
        start += c.len_utf8();
    }
    let mut end = b.len();
    while end > start {
        let Some(c) = last_char(&b[start..end]) else {
            break;
        };
        if !is_space(c) {
            break;
        }
        end -= c.len_utf8();
    }
    &b[start..end]
}

fn first_char(b: &[u8]) -> Option<char> {
    let n = match b.first()? {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    std::str::from_utf8(b.get(..n)?).ok()?.chars().next()
}

fn last_char(b: &[u8]) -> Option<char> {
    (1..=4.min(b.len())).find_map(|n| {
        std::str::from_utf8(&b[b.len() - n..])
            .ok()
            .and_then(|s| s.chars().next().filter(|c| c.len_utf8() == n))
    })
}

impl NextRequest {
    /// Go's `nextReqFromMsg`: after trimming white space, an empty body is a
    /// batch of 1; a body starting with `{` is decoded with `json.Unmarshal`
    /// (unknown fields ignored, names case-insensitive); a decimal integer is
    /// the batch (any sign); anything else is a batch of 1. The error is the
    /// text Go puts after `400 Bad Request - `: a JSON error, or `heartbeat
    /// value too large` when `idle_heartbeat * 2 > expires`.
    pub fn parse(body: &[u8]) -> Result<NextRequest, String> {
        let req = go_trim_space(body);
        if req.is_empty() {
            return Ok(NextRequest {
                batch: 1,
                ..Default::default()
            });
        }
        if req[0] == b'{' {
            let r: NextRequestJson = decode_single(req, &NEXT_REQUEST)?;
            if r.idle_heartbeat > 0 && r.idle_heartbeat.wrapping_mul(2) > r.expires {
                return Err("heartbeat value too large".to_string());
            }
            return Ok(NextRequest {
                batch: r.batch,
                expires: r.expires,
                max_bytes: r.max_bytes,
                no_wait: r.no_wait,
                idle_heartbeat: r.idle_heartbeat,
                group: r.group,
                min_pending: r.min_pending,
                min_ack_pending: r.min_ack_pending,
                id: r.id,
                priority: r.priority,
                json: true,
            });
        }
        Ok(NextRequest {
            batch: atoi(req).unwrap_or(1),
            ..Default::default()
        })
    }

    /// The checks `processNextMsgRequest` makes after parsing, in Go's order,
    /// that need only the config: request limits (409) and the priority-group
    /// rules (400). Returns the status frame to answer with. Not included: the
    /// pinned-id mismatch (423, needs the current pin) and the wait-queue checks.
    pub fn check(&self, cfg: &ConsumerConfig) -> Option<Vec<u8>> {
        use super::consumer_config::PriorityPolicy;
        if cfg.max_batch > 0 && self.batch > cfg.max_batch {
            return Some(status::exceeded_max_request_batch(cfg.max_batch));
        }
        if self.expires > 0 && cfg.max_expires > 0 && self.expires > cfg.max_expires {
            return Some(status::exceeded_max_request_expires(cfg.max_expires));
        }
        if self.max_bytes > 0 && cfg.max_bytes > 0 && self.max_bytes > cfg.max_bytes {
            return Some(status::exceeded_max_request_max_bytes(cfg.max_bytes));
        }
        if !self.json {
            return None;
        }
        if (self.min_pending != 0 || self.min_ack_pending != 0)
            && cfg.priority_policy != PriorityPolicy::Overflow
        {
            return Some(status::bad_request("Not a Overflow Priority consumer"));
        }
        if !self.id.is_empty() && cfg.priority_policy != PriorityPolicy::PinnedClient {
            return Some(status::bad_request("Not a Pinned Client Priority consumer"));
        }
        if !(0..=9).contains(&self.priority) {
            return Some(status::bad_request("Priority must be between 0 and 9"));
        }
        if cfg.priority_policy != PriorityPolicy::None {
            if self.group.is_empty() {
                return Some(status::bad_request("Priority Group missing"));
            }
            if !cfg.priority_groups.contains(&self.group) {
                return Some(status::bad_request("Invalid Priority Group"));
            }
        }
        None
    }
}

// ---- acks ------------------------------------------------------------------------------

/// `jsAckPre`.
pub const ACK_PREFIX: &str = "$JS.ACK.";
/// `jsFlowControlPre`.
pub const FLOW_CONTROL_PREFIX: &str = "$JS.FC.";

/// The v1 reply subject of a delivery:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts ns>.<pending>`.
pub fn ack_reply_v1(
    stream: &str,
    consumer: &str,
    delivery_count: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp_ns: i64,
    pending: u64,
) -> String {
    // Built by hand: this runs for every delivered message, and `format!` was a
    // tenth of a pull consumer's CPU.
    let mut out = String::with_capacity(ACK_PREFIX.len() + stream.len() + consumer.len() + 64);
    let mut num = itoa::Buffer::new();
    out.push_str(ACK_PREFIX);
    out.push_str(stream);
    out.push('.');
    out.push_str(consumer);
    for n in [delivery_count, stream_seq, consumer_seq] {
        out.push('.');
        out.push_str(num.format(n));
    }
    out.push('.');
    out.push_str(num.format(timestamp_ns));
    out.push('.');
    out.push_str(num.format(pending));
    out
}

/// The v2 reply subject (feature flag `js_ack_fc_v2` in Go):
/// `$JS.ACK.<domain or _>.<account hash>.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
#[allow(clippy::too_many_arguments)]
pub fn ack_reply_v2(
    domain: &str,
    account: &str,
    stream: &str,
    consumer: &str,
    delivery_count: u64,
    stream_seq: u64,
    consumer_seq: u64,
    timestamp_ns: i64,
    pending: u64,
) -> String {
    let domain = if domain.is_empty() { "_" } else { domain };
    let hash = super::consumer_config::account_hash(account);
    format!(
        "{ACK_PREFIX}{domain}.{hash}.{stream}.{consumer}.{delivery_count}.{stream_seq}.{consumer_seq}.{timestamp_ns}.{pending}"
    )
}

/// Go's `fcReply` (v1): `$JS.FC.<stream>.<consumer>.<4 random base-62 chars>`,
/// the reply subject of a flow-control request.
pub fn flow_control_reply_v1(stream: &str, consumer: &str) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n: u64 = rand::random::<u64>() >> 1;
    let mut tail = String::with_capacity(4);
    for _ in 0..4 {
        tail.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
    format!("{FLOW_CONTROL_PREFIX}{stream}.{consumer}.{tail}")
}

/// What an ack subject says about the delivery it acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckReply<'a> {
    /// v2 only: the domain token (`_` for none).
    pub domain: Option<&'a str>,
    /// v2 only: the account hash token.
    pub account_hash: Option<&'a str>,
    pub stream: &'a str,
    pub consumer: &'a str,
    pub delivery_count: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub timestamp: i64,
    pub pending: u64,
}

/// Go's `parseAckReplyNum`: digits only, else -1 (no overflow check).
fn ack_num(token: &str) -> i64 {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return -1;
    }
    token.bytes().fold(0i64, |n, d| {
        n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'))
    })
}

/// Go's `ackReplyInfo`: a v1 subject (exactly 9 tokens) or v2 (11 or more),
/// both starting `$JS.ACK`; anything else is `None` (Go's all-zero answer).
/// Numbers are read as Go reads them: a token that is not all digits is -1,
/// which for the unsigned fields is `u64::MAX`.
pub fn parse_ack_reply(subject: &[u8]) -> Option<AckReply<'_>> {
    let subject = std::str::from_utf8(subject).ok()?;
    // Every ack goes through here: split into a fixed array, no allocation. Only
    // the first 11 tokens are ever read; `n` counts them all.
    let mut tokens: [&str; 11] = [""; 11];
    let mut n = 0;
    for t in subject.split('.') {
        if let Some(slot) = tokens.get_mut(n) {
            *slot = t;
        }
        n += 1;
    }
    if (n != 9 && n < 11) || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    let (offset, domain, account_hash) = if n >= 11 {
        (4, Some(tokens[2]), Some(tokens[3]))
    } else {
        (2, None, None)
    };
    Some(AckReply {
        domain,
        account_hash,
        stream: tokens[offset],
        consumer: tokens[offset + 1],
        delivery_count: ack_num(tokens[offset + 2]) as u64,
        stream_seq: ack_num(tokens[offset + 3]) as u64,
        consumer_seq: ack_num(tokens[offset + 4]) as u64,
        timestamp: ack_num(tokens[offset + 5]),
        pending: ack_num(tokens[offset + 6]) as u64,
    })
}

/// What an ack message asks for, as Go's `processAck` dispatches on its body
/// (headers excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckKind {
    /// Empty, `+ACK` or `+OK` (exactly).
    Ack,
    /// `-NAK...`: redeliver; with a delay when the rest (trimmed) is a Go
    /// duration (`-NAK 5s`) or a JSON object (`-NAK {"delay":5000000000}`).
    /// A delay that does not parse is a plain NAK. Some(0) and negative
    /// delays are kept: Go schedules those for now, not via the redelivery queue.
    Nak { delay: Option<i64> },
    /// `+WPI` (exactly): still working, restart the ack wait.
    Progress,
    /// `+NXT...`: ack, then treat the rest (untrimmed) as a pull request.
    Next(Bytes),
    /// `+TERM...`: stop redelivering; the rest, trimmed, is the reason.
    Term { reason: String },
    /// Anything else. Go ignores it, but still answers an ack that asked for
    /// a reply (with an empty message).
    Other,
}

/// `ConsumerNakOptions`.
static NAK_OPTIONS_SHAPE: Shape = Shape {
    go_type: "server.ConsumerNakOptions",
    fields: &[("delay", Ty::Duration)],
};
static NAK_OPTIONS: Decoding = Decoding {
    shape: &NAK_OPTIONS_SHAPE,
    root: "ConsumerNakOptions",
    strict: false,
};

impl AckKind {
    /// Go's order: ack first, then prefix `+NXT`, prefix `-NAK`, exact `+WPI`,
    /// prefix `+TERM`.
    pub fn parse(body: &[u8]) -> AckKind {
        if body.is_empty() || body == b"+ACK" || body == b"+OK" {
            return AckKind::Ack;
        }
        if let Some(rest) = body.strip_prefix(b"+NXT") {
            return AckKind::Next(Bytes::copy_from_slice(rest));
        }
        if let Some(rest) = body.strip_prefix(b"-NAK") {
            return AckKind::Nak {
                delay: nak_delay(rest),
            };
        }
        if body == b"+WPI" {
            return AckKind::Progress;
        }
        if let Some(rest) = body.strip_prefix(b"+TERM") {
            return AckKind::Term {
                reason: String::from_utf8_lossy(go_trim_space(rest)).into_owned(),
            };
        }
        AckKind::Other
    }
}

fn nak_delay(rest: &[u8]) -> Option<i64> {
    let arg = go_trim_space(rest);
    if arg.is_empty() {
        return None;
    }
    if arg[0] == b'{' {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Raw {
            delay: i64,
        }
        return decode_single::<Raw>(arg, &NAK_OPTIONS)
            .ok()
            .map(|r| r.delay);
    }
    parse_go_duration(std::str::from_utf8(arg).ok()?)
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units
/// `ns us µs μs ms s m h`, or a bare `0`. `None` where Go returns an error.
pub fn parse_go_duration(text: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let mut s = text;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        // Whole part.
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &d in &b[..int_len] {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(d - b'0');
            if v > LIMIT {
                return None;
            }
        }
        s = &s[int_len..];
        let pre = int_len > 0;
        // Fraction.
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let flen = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for &d in &rest.as_bytes()[..flen] {
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(d - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            post = flen > 0;
            s = &rest[flen..];
        }
        if !pre && !post {
            return None;
        }
        // Unit: up to the next '.' or digit.
        let ulen = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if ulen == 0 {
            return None;
        }
        let unit: u64 = match &s[..ulen] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        s = &s[ulen..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total += v;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return None;
    }
    Some(total as i64)
}

// ---- advisories ------------------------------------------------------------------

/// `JSAdvisoryConsumerCreatedPre`.
pub const ADVISORY_CREATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.CREATED";
/// `JSAdvisoryConsumerDeletedPre`.
pub const ADVISORY_DELETED: &str = "$JS.EVENT.ADVISORY.CONSUMER.DELETED";
/// `JSAdvisoryConsumerPausePre`.
pub const ADVISORY_PAUSE: &str = "$JS.EVENT.ADVISORY.CONSUMER.PAUSE";
/// `JSAdvisoryConsumerMaxDeliveryExceedPre`.
pub const ADVISORY_MAX_DELIVERIES: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES";
/// `JSAdvisoryConsumerMsgNakPre`.
pub const ADVISORY_NAK: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED";
/// `JSAdvisoryConsumerMsgTerminatedPre`.
pub const ADVISORY_TERMINATED: &str = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED";
/// `JSAdvisoryConsumerPinnedPre`.
pub const ADVISORY_PINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.PINNED";
/// `JSAdvisoryConsumerUnpinnedPre`.
pub const ADVISORY_UNPINNED: &str = "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED";
/// `JSMetricConsumerAckPre`.
pub const METRIC_ACK: &str = "$JS.EVENT.METRIC.CONSUMER.ACK";

/// `JSConsumerActionAdvisoryType`.
pub const ACTION_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_action";
/// `JSConsumerPauseAdvisoryType`.
pub const PAUSE_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_pause";
/// `JSConsumerDeliveryExceededAdvisoryType`.
pub const MAX_DELIVER_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.max_deliver";
/// `JSConsumerDeliveryNakAdvisoryType`.
pub const NAK_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.nak";
/// `JSConsumerDeliveryTerminatedAdvisoryType`.
pub const TERMINATED_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.terminated";
/// `JSConsumerGroupPinnedAdvisoryType`.
pub const PINNED_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_group_pinned";
/// `JSConsumerGroupUnpinnedAdvisoryType`.
pub const UNPINNED_ADVISORY_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_group_unpinned";
/// `JSConsumerAckMetricType`.
pub const ACK_METRIC_TYPE: &str = "io.nats.jetstream.metric.v1.consumer_ack";

/// `<prefix>.<stream>.<consumer>`: where Go publishes a consumer's events.
pub fn event_subject(prefix: &str, stream: &str, consumer: &str) -> String {
    format!("{prefix}.{stream}.{consumer}")
}

/// What happened to a consumer (Go's `ActionAdvisoryType`; consumers are never
/// "modify").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerAction {
    #[serde(rename = "create")]
    Created,
    #[serde(rename = "delete")]
    Deleted,
}

/// `JSConsumerActionAdvisory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerActionAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub action: ConsumerAction,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerPauseAdvisory`: `pause_until` is always written (the zero time
/// on resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerPauseAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub paused: bool,
    pub pause_until: GoTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerAckMetric`: sent for sampled acks (`sample_freq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerAckMetric {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub consumer_seq: u64,
    pub stream_seq: u64,
    /// Nanoseconds from delivery to ack.
    pub ack_time: i64,
    pub deliveries: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerDeliveryExceededAdvisory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMaxDeliveriesAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub stream_seq: u64,
    pub deliveries: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerDeliveryNakAdvisory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerNakAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub deliveries: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerDeliveryTerminatedAdvisory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerTerminatedAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    pub stream: String,
    pub consumer: String,
    pub consumer_seq: u64,
    pub stream_seq: u64,
    pub deliveries: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// `JSConsumerGroupPinnedAdvisory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerPinnedAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    pub stream: String,
    pub consumer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub group: String,
    pub pinned_id: String,
}

/// `JSConsumerGroupUnpinnedAdvisory` (`reason`: `"admin"` or `"timeout"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerUnpinnedAdvisory {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub timestamp: GoTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    pub stream: String,
    pub consumer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub group: String,
    pub reason: String,
}

/// Publishes an event if anyone listens (Go skips the encoding otherwise).
fn publish_event<T: Serialize>(shard: &Shard, subject: String, event: impl FnOnce() -> T) {
    if !shard.has_interest(subject.as_bytes()) {
        return;
    }
    let body = Bytes::from(go_json_bytes(&event()));
    shard.publish_internal(&Bytes::from(subject), None, None, &body);
}

/// The consumer created/deleted advisory.
pub fn publish_consumer_action(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    action: ConsumerAction,
    domain: &str,
) {
    let prefix = match action {
        ConsumerAction::Created => ADVISORY_CREATED,
        ConsumerAction::Deleted => ADVISORY_DELETED,
    };
    publish_event(shard, event_subject(prefix, stream, consumer), || {
        ConsumerActionAdvisory {
            kind: ACTION_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            action,
            domain: domain.to_string(),
        }
    });
}

/// The pause advisory: paused while `until` is in the future.
pub fn publish_pause_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    until: Option<GoTime>,
    domain: &str,
) {
    publish_event(
        shard,
        event_subject(ADVISORY_PAUSE, stream, consumer),
        || {
            let now = GoTime::now();
            let pause_until = until.unwrap_or_default();
            ConsumerPauseAdvisory {
                kind: PAUSE_ADVISORY_TYPE.to_string(),
                id: super::advisory::nuid(),
                timestamp: now,
                stream: stream.to_string(),
                consumer: consumer.to_string(),
                paused: until.is_some() && now < pause_until,
                pause_until,
                domain: domain.to_string(),
            }
        },
    );
}

/// The PINNED advisory: a pinned-client consumer gave its pin to a new client.
pub fn publish_pinned_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    group: &str,
    pinned_id: &str,
    domain: &str,
) {
    publish_event(
        shard,
        event_subject(ADVISORY_PINNED, stream, consumer),
        || ConsumerPinnedAdvisory {
            kind: PINNED_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            account: crate::client::GLOBAL_ACCOUNT.to_string(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            domain: domain.to_string(),
            group: group.to_string(),
            pinned_id: pinned_id.to_string(),
        },
    );
}

/// The UNPINNED advisory (`reason`: `timeout` or `admin`).
pub fn publish_unpinned_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    group: &str,
    reason: &str,
    domain: &str,
) {
    publish_event(
        shard,
        event_subject(ADVISORY_UNPINNED, stream, consumer),
        || ConsumerUnpinnedAdvisory {
            kind: UNPINNED_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            account: crate::client::GLOBAL_ACCOUNT.to_string(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            domain: domain.to_string(),
            group: group.to_string(),
            reason: reason.to_string(),
        },
    );
}

/// The NAK advisory.
pub fn publish_nak_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    stream_seq: u64,
    consumer_seq: u64,
    deliveries: u64,
    domain: &str,
) {
    publish_event(shard, event_subject(ADVISORY_NAK, stream, consumer), || {
        ConsumerNakAdvisory {
            kind: NAK_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            consumer_seq,
            stream_seq,
            deliveries,
            domain: domain.to_string(),
        }
    });
}

/// The TERM advisory.
#[allow(clippy::too_many_arguments)]
pub fn publish_term_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    stream_seq: u64,
    consumer_seq: u64,
    deliveries: u64,
    reason: &str,
    domain: &str,
) {
    publish_event(
        shard,
        event_subject(ADVISORY_TERMINATED, stream, consumer),
        || ConsumerTerminatedAdvisory {
            kind: TERMINATED_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            consumer_seq,
            stream_seq,
            deliveries,
            reason: reason.to_string(),
            domain: domain.to_string(),
        },
    );
}

/// The max-deliveries advisory.
pub fn publish_max_deliveries_advisory(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    stream_seq: u64,
    deliveries: u64,
    domain: &str,
) {
    publish_event(
        shard,
        event_subject(ADVISORY_MAX_DELIVERIES, stream, consumer),
        || ConsumerMaxDeliveriesAdvisory {
            kind: MAX_DELIVER_ADVISORY_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            stream_seq,
            deliveries,
            domain: domain.to_string(),
        },
    );
}

/// The ack metric of a sampled ack (`ack_time`: ns since the delivery).
#[allow(clippy::too_many_arguments)]
pub fn publish_ack_metric(
    shard: &Shard,
    stream: &str,
    consumer: &str,
    stream_seq: u64,
    consumer_seq: u64,
    deliveries: u64,
    ack_time: i64,
    domain: &str,
) {
    publish_event(shard, event_subject(METRIC_ACK, stream, consumer), || {
        ConsumerAckMetric {
            kind: ACK_METRIC_TYPE.to_string(),
            id: super::advisory::nuid(),
            timestamp: GoTime::now(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            consumer_seq,
            stream_seq,
            ack_time,
            deliveries,
            domain: domain.to_string(),
        }
    });
}

/// Go's `shouldSample` input: the `sample_freq` percentage (`"N%"` or `"N"`),
/// 0 when unset or unreadable. Go samples always at 100 or more, never at 0,
/// else when a random 0..100 is at most N.
pub fn sample_frequency(sample_freq: &str) -> i32 {
    let s = sample_freq.strip_suffix('%').unwrap_or(sample_freq);
    s.parse::<i32>().unwrap_or(0)
}

// ---- status frames ---------------------------------------------------------------

/// The header-only messages a consumer sends: to a pull request's reply
/// subject (404, 408, 409, 400, 423, 100 heartbeats) or to a push consumer's
/// deliver subject (100 heartbeats and flow control). Byte for byte Go's.
pub mod status {
    use super::go_duration;

    /// `Nats-Pending-Messages` (`JSPullRequestPendingMsgs`).
    pub const PENDING_MESSAGES: &str = "Nats-Pending-Messages";
    /// `Nats-Pending-Bytes` (`JSPullRequestPendingBytes`).
    pub const PENDING_BYTES: &str = "Nats-Pending-Bytes";
    /// `Nats-Pin-Id` (`JSPullRequestNatsPinId`): the pin a pinned client gets.
    pub const PIN_ID: &str = "Nats-Pin-Id";
    /// `Nats-Last-Consumer` (`JSLastConsumerSeq`).
    pub const LAST_CONSUMER: &str = "Nats-Last-Consumer";
    /// `Nats-Last-Stream` (`JSLastStreamSeq`).
    pub const LAST_STREAM: &str = "Nats-Last-Stream";
    /// `Nats-Consumer-Stalled` (`JSConsumerStalled`).
    pub const CONSUMER_STALLED: &str = "Nats-Consumer-Stalled";

    /// `404 No Messages`: a `no_wait` request found nothing.
    pub const NO_MESSAGES: &[u8] = b"NATS/1.0 404 No Messages\r\n\r\n";
    /// `408 Requests Pending`: a `no_wait` request that other requests got ahead of.
    pub const REQUESTS_PENDING: &[u8] = b"NATS/1.0 408 Requests Pending\r\n\r\n";
    /// `409 Exceeded MaxWaiting` (not sent when the request has a heartbeat).
    pub const EXCEEDED_MAX_WAITING: &[u8] = b"NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n";
    /// `409 Consumer Deleted`: to every waiting request when the consumer goes.
    pub const CONSUMER_DELETED: &[u8] = b"NATS/1.0 409 Consumer Deleted\r\n\r\n";
    /// `409 Consumer is push based`: a pull request to a push consumer.
    pub const CONSUMER_IS_PUSH_BASED: &[u8] = b"NATS/1.0 409 Consumer is push based\r\n\r\n";
    /// `409 Leadership Change` (clustered).
    pub const LEADERSHIP_CHANGE: &[u8] = b"NATS/1.0 409 Leadership Change\r\n\r\n";
    /// `412 Required Api Level`: the request's `Nats-Required-Api-Level` is too high.
    pub const REQUIRED_API_LEVEL: &[u8] = b"NATS/1.0 412 Required Api Level\r\n\r\n";
    /// `423 Nats-Pin-Id mismatch`: a request with another client's pin id.
    pub const PIN_ID_MISMATCH: &[u8] = b"NATS/1.0 423 Nats-Pin-Id mismatch\r\n\r\n";
    /// `100 FlowControl Request`, sent to the deliver subject with a `$JS.FC.` reply.
    pub const FLOW_CONTROL_REQUEST: &[u8] = b"NATS/1.0 100 FlowControl Request\r\n\r\n";

    /// `NATS/1.0 <code> <text>` with no headers (Go's `sendErr`).
    pub fn simple(code: u16, text: &str) -> Vec<u8> {
        format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()
    }

    /// A status with the request's unfilled messages and bytes.
    pub fn with_pending(code: u16, text: &str, messages: i64, bytes: i64) -> Vec<u8> {
        format!(
            "NATS/1.0 {code} {text}\r\n{PENDING_MESSAGES}: {messages}\r\n{PENDING_BYTES}: {bytes}\r\n\r\n"
        )
        .into_bytes()
    }

    /// `400 Bad Request - <detail>`.
    pub fn bad_request(detail: &str) -> Vec<u8> {
        simple(400, &format!("Bad Request - {detail}"))
    }

    /// `408 Request Timeout` with the pending counts: the request expired.
    pub fn request_timeout(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending(408, "Request Timeout", messages, bytes)
    }

    /// `408 Interest Expired` with the pending counts (requests through an import).
    pub fn interest_expired(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending(408, "Interest Expired", messages, bytes)
    }

    /// `409 Batch Completed` with the pending counts: the batch is full but
    /// `max_bytes` is not used up.
    pub fn batch_completed(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending(409, "Batch Completed", messages, bytes)
    }

    /// `409 Message Size Exceeds MaxBytes` with the pending counts.
    pub fn message_size_exceeds_max_bytes(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending(409, "Message Size Exceeds MaxBytes", messages, bytes)
    }

    /// `423 Nats-Wrong-Pin-Id` with the pending counts.
    pub fn wrong_pin_id(messages: i64, bytes: i64) -> Vec<u8> {
        with_pending(423, "Nats-Wrong-Pin-Id", messages, bytes)
    }

    /// `409 Exceeded MaxRequestBatch of <n>`.
    pub fn exceeded_max_request_batch(max: i64) -> Vec<u8> {
        simple(409, &format!("Exceeded MaxRequestBatch of {max}"))
    }

    /// `409 Exceeded MaxRequestExpires of <Go duration>` (e.g. `2s`).
    pub fn exceeded_max_request_expires(max_ns: i64) -> Vec<u8> {
        simple(
            409,
            &format!("Exceeded MaxRequestExpires of {}", go_duration(max_ns)),
        )
    }

    /// `409 Exceeded MaxRequestMaxBytes of <n>`.
    pub fn exceeded_max_request_max_bytes(max: i64) -> Vec<u8> {
        simple(409, &format!("Exceeded MaxRequestMaxBytes of {max}"))
    }

    /// `100 Idle Heartbeat` with the last delivered consumer and stream
    /// sequences, and the pending flow-control reply when stalled on it.
    pub fn idle_heartbeat(last_consumer: u64, last_stream: u64, stalled: Option<&str>) -> Vec<u8> {
        let mut out = format!(
            "NATS/1.0 100 Idle Heartbeat\r\n{LAST_CONSUMER}: {last_consumer}\r\n{LAST_STREAM}: {last_stream}\r\n"
        );
        if let Some(fc) = stalled {
            out.push_str(&format!("{CONSUMER_STALLED}: {fc}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

#[cfg(test)]
#[path = "consumer_api_tests.rs"]
mod tests;
