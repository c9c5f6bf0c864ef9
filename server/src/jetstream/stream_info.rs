//! `StreamInfo` and `StreamState` JSON shapes (`server/stream.go`, `server/store.go`,
//! nats-server 2.15.1), plus the create response that wraps them. Shapes only:
//! nothing here computes state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::gotime::GoTime;
use super::stream_config::{ExternalStream, StreamConfig, SubjectTransformConfig};

/// `JSApiStreamCreateResponseType`.
pub const STREAM_CREATE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_create_response";
/// `JSApiStreamInfoResponseType`.
pub const STREAM_INFO_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_info_response";

/// `LostStreamData`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LostStreamData {
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

/// `StreamState`. Times are Go's zero time (`0001-01-01T00:00:00Z`) when unset,
/// never omitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: GoTime,
    pub last_seq: u64,
    pub last_ts: GoTime,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub subjects: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    pub consumer_count: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `PeerInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PeerInfo {
    pub name: String,
    pub current: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// Nanoseconds since last activity.
    pub active: i64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub lag: u64,
    pub peer: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// `ClusterInfo` (without the 2.15 `desired` migration details, kept as raw JSON).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub raft_group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_since: Option<GoTime>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub system_account: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub traffic_account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<PeerInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<serde_json::Value>,
}

/// `StreamSourceInfo`: how a mirror or source is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSourceInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    pub lag: u64,
    /// Nanoseconds since last contact; Go reports -1 when never active.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransformConfig>,
}

/// `StreamAlternate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamAlternate {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub cluster: String,
}

/// `StreamInfo`: `created` and `ts` are RFC 3339 with nanoseconds, in UTC.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: GoTime,
    pub state: StreamState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternates: Vec<StreamAlternate>,
    /// When the info was gathered.
    pub ts: GoTime,
}

/// `JSApiStreamCreateResponse`: `{type, error}` or `{type, <StreamInfo fields>, did_create}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamCreateResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub did_create: bool,
}

impl StreamCreateResponse {
    /// The error response Go sends for a failed create.
    pub fn error(err: ApiError) -> Self {
        StreamCreateResponse {
            kind: STREAM_CREATE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            info: None,
            did_create: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_renders_like_go() {
        // From a live 2.15.1 create response.
        let go = r#"{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}"#;
        assert_eq!(serde_json::to_string(&StreamState::default()).unwrap(), go);
        assert_eq!(
            serde_json::from_str::<StreamState>(go).unwrap(),
            StreamState::default()
        );
    }

    #[test]
    fn state_round_trip_with_optional_fields() {
        let state = StreamState {
            messages: 3,
            bytes: 120,
            first_seq: 2,
            first_ts: GoTime::from_unix_nanos(1_700_000_000_000_000_001),
            last_seq: 5,
            last_ts: GoTime::from_unix_nanos(1_700_000_001_000_000_000),
            num_subjects: 2,
            subjects: [("a".to_string(), 1), ("b".to_string(), 2)].into(),
            num_deleted: 1,
            deleted: vec![4],
            lost: Some(LostStreamData {
                msgs: vec![9],
                bytes: 10,
            }),
            consumer_count: 1,
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"messages":3,"bytes":120,"first_seq":2,"first_ts":"2023-11-14T22:13:20.000000001Z","last_seq":5,"last_ts":"2023-11-14T22:13:21Z","num_subjects":2,"subjects":{"a":1,"b":2},"num_deleted":1,"deleted":[4],"lost":{"msgs":[9],"bytes":10},"consumer_count":1}"#
        );
        assert_eq!(serde_json::from_str::<StreamState>(&json).unwrap(), state);
    }

    #[test]
    fn info_field_order_and_omitempty() {
        let info = StreamInfo::default();
        let v: serde_json::Value = serde_json::to_value(&info).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec!["config", "created", "state", "ts"];
        expected.sort();
        assert_eq!(keys, expected);
        let text = serde_json::to_string(&info).unwrap();
        assert!(text.starts_with(r#"{"config":{"name":"#), "{text}");
        assert!(text.ends_with(r#""ts":"0001-01-01T00:00:00Z"}"#), "{text}");
    }

    #[test]
    fn error_response_shape() {
        let r = StreamCreateResponse::error(ApiError::stream_mismatch());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}}"#
        );
    }
}
