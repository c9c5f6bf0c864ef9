//! JetStream advisories: the events Go publishes on `$JS.EVENT.ADVISORY.>` when
//! streams are created, changed or deleted.
//!
//! They are ordinary internal publishes: without a subscriber they cost one
//! subject-index lookup and go nowhere, as in Go (which skips encoding when
//! nobody listens).

use bytes::Bytes;
use serde::Serialize;

use super::api_types::go_json_bytes;
use super::gotime::GoTime;
use crate::shard::Shard;

/// `JSAdvisoryStreamCreatedPre`.
pub const STREAM_CREATED: &str = "$JS.EVENT.ADVISORY.STREAM.CREATED";
/// `JSAdvisoryStreamUpdatedPre`.
pub const STREAM_UPDATED: &str = "$JS.EVENT.ADVISORY.STREAM.UPDATED";
/// `JSAdvisoryStreamDeletedPre`.
pub const STREAM_DELETED: &str = "$JS.EVENT.ADVISORY.STREAM.DELETED";
/// `JSStreamActionAdvisoryType`.
pub const STREAM_ACTION_TYPE: &str = "io.nats.jetstream.advisory.v1.stream_action";

/// `JSAuditAdvisory` subject: one event per JetStream API request.
pub const API_AUDIT: &str = "$JS.EVENT.ADVISORY.API";
/// `JSAPIAuditType`.
pub const API_AUDIT_TYPE: &str = "io.nats.jetstream.advisory.v1.api_audit";

/// `JSAPIAudit`: who asked what, and the exact answer.
#[derive(Debug, Serialize)]
pub struct ApiAudit {
    /// [`API_AUDIT_TYPE`].
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A unique id.
    pub id: String,
    /// When.
    pub timestamp: GoTime,
    /// This server's id.
    pub server: String,
    /// The requester (`None` for the server's own requests).
    pub client: Option<crate::client::RequestInfo>,
    /// The API subject.
    pub subject: String,
    /// The request body (left out when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request: String,
    /// The reply body.
    pub response: String,
    /// The JetStream domain, when configured.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
}

/// What happened to a stream (Go's `ActionAdvisoryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Created.
    Create,
    /// Deleted.
    Delete,
    /// Updated.
    Modify,
}

/// `JSStreamActionAdvisory` (with Go's `TypedEvent` fields first).
#[derive(Debug, Serialize)]
struct StreamAction<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: GoTime,
    stream: &'a str,
    action: Action,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// Publish a stream action advisory on `<prefix>.<stream>`.
pub fn stream_action(shard: &Shard, stream: &str, action: Action, domain: &str) {
    let prefix = match action {
        Action::Create => STREAM_CREATED,
        Action::Modify => STREAM_UPDATED,
        Action::Delete => STREAM_DELETED,
    };
    let body = StreamAction {
        kind: STREAM_ACTION_TYPE,
        id: nuid(),
        timestamp: GoTime::now(),
        stream,
        action,
        domain,
    };
    let subject = Bytes::from(format!("{prefix}.{stream}"));
    shard.publish_internal(&subject, None, None, &Bytes::from(go_json_bytes(&body)));
}

/// A 22-character base-62 id in the shape of Go's `nuid.Next()`.
pub fn nuid() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_shape_matches_go_field_order() {
        let body = StreamAction {
            kind: STREAM_ACTION_TYPE,
            id: "ID".into(),
            timestamp: GoTime::from_unix_nanos(1_700_000_000_000_000_001),
            stream: "S",
            action: Action::Modify,
            domain: "",
        };
        assert_eq!(
            String::from_utf8(go_json_bytes(&body)).unwrap(),
            r#"{"type":"io.nats.jetstream.advisory.v1.stream_action","id":"ID","timestamp":"2023-11-14T22:13:20.000000001Z","stream":"S","action":"modify"}"#
        );
        assert_eq!(nuid().len(), 22);
    }
}
