//! The JetStream API's subjects: which request a `$JS.API.*` subject is.

/// A parsed API subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `$JS.API.INFO`.
    AccountInfo,
    /// `$JS.API.STREAM.CREATE.<stream>`.
    StreamCreate(String),
    /// `$JS.API.STREAM.UPDATE.<stream>`.
    StreamUpdate(String),
    /// `$JS.API.STREAM.DELETE.<stream>`.
    StreamDelete(String),
    /// `$JS.API.STREAM.INFO.<stream>`.
    StreamInfo(String),
    /// `$JS.API.STREAM.NAMES`.
    StreamNames,
    /// `$JS.API.STREAM.LIST`.
    StreamList,
    /// `$JS.API.STREAM.PURGE.<stream>`.
    StreamPurge(String),
    /// `$JS.API.STREAM.MSG.GET.<stream>`.
    StreamMsgGet(String),
    /// `$JS.API.STREAM.MSG.DELETE.<stream>`.
    StreamMsgDelete(String),
    /// `$JS.API.CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]` and
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    ConsumerCreate(super::consumer_config::ConsumerCreateSubject),
    /// `$JS.API.CONSUMER.INFO.<stream>.<consumer>`.
    ConsumerInfo(String, String),
    /// `$JS.API.CONSUMER.NAMES.<stream>`.
    ConsumerNames(String),
    /// `$JS.API.CONSUMER.LIST.<stream>`.
    ConsumerList(String),
    /// `$JS.API.CONSUMER.DELETE.<stream>.<consumer>`.
    ConsumerDelete(String, String),
    /// `$JS.API.CONSUMER.PAUSE.<stream>.<consumer>`.
    ConsumerPause(String, String),
    /// `$JS.API.CONSUMER.UNPIN.<stream>.<consumer>`.
    ConsumerUnpin(String, String),
    /// A request that only a clustered server can carry out (leader stepdown, peer
    /// removal or evacuation, cancelling a move): Go's standalone server answers
    /// `503/10010` whatever the stream. `kind` is the response type.
    ClusterOnly {
        /// Response type to answer with.
        kind: &'static str,
    },
}

/// A response ready to send: Go-style JSON, and whether it reports an error (for
/// the `api.errors` counter).
#[derive(Debug, Clone)]
pub struct Response {
    /// The JSON body.
    pub json: Vec<u8>,
    /// It carries an `error`.
    pub is_error: bool,
}

impl Response {
    /// A successful response.
    pub fn ok<T: serde::Serialize>(body: &T) -> Response {
        Response {
            json: super::api_types::go_json_bytes(body),
            is_error: false,
        }
    }

    /// An error response.
    pub fn err<T: serde::Serialize>(body: &T) -> Response {
        Response {
            json: super::api_types::go_json_bytes(body),
            is_error: true,
        }
    }

    /// `{"type":kind,"error":{...}}` for responses without a richer error shape.
    pub fn error(kind: &str, e: super::errors::ApiError) -> Response {
        Response::err(&super::api_types::ApiResponse::error(kind, e))
    }
}

/// Go's `errorOnRequiredApiLevel`: whether a request must be refused for its
/// `Nats-Required-Api-Level` header — present, not empty, and either not a
/// number (Go's `strconv.Atoi`) or above this server's API level. Every API
/// request, direct get and pull request is checked before anything else.
pub fn requires_newer_api(headers: Option<&[u8]>) -> bool {
    let Some(level) =
        headers.and_then(|h| super::headers::get(h, super::headers::NATS_REQUIRED_API_LEVEL))
    else {
        return false;
    };
    if level.is_empty() {
        return false;
    }
    std::str::from_utf8(level)
        .ok()
        .and_then(|l| l.parse::<i64>().ok())
        .is_none_or(|l| l > i64::from(super::stream_config::JS_API_LEVEL))
}

/// Consumer response types (the consumer API arrives with consumers; until then
/// these name the error responses).
pub const CONSUMER_CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_PAUSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_UNPIN: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";
/// `JSApiConsumerResetResponseType`.
pub const CONSUMER_RESET: &str = "io.nats.jetstream.api.v1.consumer_reset_response";
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_LEADER_STEPDOWN: &str =
    "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";
/// Response type of `STREAM.LEADER.STEPDOWN`.
pub const STREAM_LEADER_STEPDOWN: &str = "io.nats.jetstream.api.v1.stream_leader_stepdown_response";
/// Response type of `STREAM.PEER.REMOVE`.
pub const STREAM_REMOVE_PEER: &str = "io.nats.jetstream.api.v1.stream_remove_peer_response";
/// Response type of `STREAM.PEER.EVACUATE`.
pub const STREAM_EVACUATE_PEER: &str = "io.nats.jetstream.api.v1.stream_evacuate_peer_response";
/// Response type of `STREAM.CANCEL_MOVE`.
pub const STREAM_CANCEL_MOVE: &str = "io.nats.jetstream.api.v1.stream_cancel_move_response";

impl Request {
    /// Which request `subject` is; `None` for subjects core 0 must not answer:
    /// direct get belongs to the streams, system-account subjects are not ours, and
    /// Go does not answer an unknown or malformed API subject at all.
    pub fn parse(subject: &str) -> Option<Request> {
        let rest = subject.strip_prefix("$JS.API.")?;
        let tokens: Vec<&str> = rest.split('.').collect();
        let one = |kind: fn(String) -> Request| -> Option<Request> {
            match tokens.len() {
                3 if !tokens[2].is_empty() => Some(kind(tokens[2].to_string())),
                _ => None,
            }
        };
        match tokens.as_slice() {
            ["INFO"] => Some(Request::AccountInfo),
            ["DIRECT", ..] => None,
            ["META", ..] | ["SERVER", ..] | ["ACCOUNT", ..] => None,
            ["STREAM", "CREATE", ..] => one(Request::StreamCreate),
            ["STREAM", "UPDATE", ..] => one(Request::StreamUpdate),
            ["STREAM", "DELETE", ..] => one(Request::StreamDelete),
            ["STREAM", "INFO", ..] => one(Request::StreamInfo),
            ["STREAM", "PURGE", ..] => one(Request::StreamPurge),
            ["STREAM", "NAMES"] => Some(Request::StreamNames),
            ["STREAM", "LIST"] => Some(Request::StreamList),
            ["STREAM", "MSG", "GET", name] => Some(Request::StreamMsgGet(name.to_string())),
            ["STREAM", "MSG", "DELETE", name] => Some(Request::StreamMsgDelete(name.to_string())),
            ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
                super::consumer_config::ConsumerCreateSubject::parse(subject)
                    .map(Request::ConsumerCreate)
            }
            ["CONSUMER", "INFO", stream, consumer] => Some(Request::ConsumerInfo(
                stream.to_string(),
                consumer.to_string(),
            )),
            ["CONSUMER", "DELETE", stream, consumer] => Some(Request::ConsumerDelete(
                stream.to_string(),
                consumer.to_string(),
            )),
            ["CONSUMER", "PAUSE", stream, consumer] => Some(Request::ConsumerPause(
                stream.to_string(),
                consumer.to_string(),
            )),
            ["CONSUMER", "NAMES", stream] => Some(Request::ConsumerNames(stream.to_string())),
            ["CONSUMER", "LIST", stream] => Some(Request::ConsumerList(stream.to_string())),
            ["CONSUMER", "UNPIN", stream, consumer] => Some(Request::ConsumerUnpin(
                stream.to_string(),
                consumer.to_string(),
            )),
            ["CONSUMER", "LEADER", "STEPDOWN", _, _] => Some(Request::ClusterOnly {
                kind: CONSUMER_LEADER_STEPDOWN,
            }),
            ["STREAM", "LEADER", "STEPDOWN", _] => Some(Request::ClusterOnly {
                kind: STREAM_LEADER_STEPDOWN,
            }),
            ["STREAM", "PEER", "REMOVE", _] => Some(Request::ClusterOnly {
                kind: STREAM_REMOVE_PEER,
            }),
            ["STREAM", "PEER", "EVACUATE", _] => Some(Request::ClusterOnly {
                kind: STREAM_EVACUATE_PEER,
            }),
            ["STREAM", "CANCEL_MOVE", _] => Some(Request::ClusterOnly {
                kind: STREAM_CANCEL_MOVE,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::consumer_config::ConsumerCreateSubject;
    use super::*;

    #[test]
    fn required_api_level_is_checked_as_go_does() {
        let level = super::super::stream_config::JS_API_LEVEL;
        let cases: &[(&str, bool)] = &[
            ("NATS/1.0\r\n\r\n", false),
            ("NATS/1.0\r\nNats-Required-Api-Level:\r\n\r\n", false),
            ("NATS/1.0\r\nNats-Required-Api-Level: 0\r\n\r\n", false),
            ("NATS/1.0\r\nNats-Required-Api-Level: -3\r\n\r\n", false),
            ("NATS/1.0\r\nNats-Required-Api-Level: +1\r\n\r\n", false),
            ("NATS/1.0\r\nNats-Required-Api-Level: 1000\r\n\r\n", true),
            ("NATS/1.0\r\nNats-Required-Api-Level: x\r\n\r\n", true),
            ("NATS/1.0\r\nNats-Required-Api-Level: 1 \r\n\r\n", true),
            // Go's header lookup is case-sensitive.
            ("NATS/1.0\r\nnats-required-api-level: 1000\r\n\r\n", false),
        ];
        for (block, refused) in cases {
            assert_eq!(
                requires_newer_api(Some(block.as_bytes())),
                *refused,
                "{block:?}"
            );
        }
        let at = format!("NATS/1.0\r\nNats-Required-Api-Level: {level}\r\n\r\n");
        assert!(!requires_newer_api(Some(at.as_bytes())));
        let above = format!("NATS/1.0\r\nNats-Required-Api-Level: {}\r\n\r\n", level + 1);
        assert!(requires_newer_api(Some(above.as_bytes())));
        assert!(!requires_newer_api(None));
    }

    #[test]
    fn subjects_map_to_requests() {
        let cases: &[(&str, Option<Request>)] = &[
            ("$JS.API.INFO", Some(Request::AccountInfo)),
            (
                "$JS.API.STREAM.CREATE.S",
                Some(Request::StreamCreate("S".into())),
            ),
            (
                "$JS.API.STREAM.UPDATE.S",
                Some(Request::StreamUpdate("S".into())),
            ),
            (
                "$JS.API.STREAM.DELETE.S",
                Some(Request::StreamDelete("S".into())),
            ),
            (
                "$JS.API.STREAM.INFO.S",
                Some(Request::StreamInfo("S".into())),
            ),
            ("$JS.API.STREAM.NAMES", Some(Request::StreamNames)),
            ("$JS.API.STREAM.LIST", Some(Request::StreamList)),
            (
                "$JS.API.STREAM.PURGE.S",
                Some(Request::StreamPurge("S".into())),
            ),
            (
                "$JS.API.STREAM.MSG.GET.S",
                Some(Request::StreamMsgGet("S".into())),
            ),
            (
                "$JS.API.STREAM.MSG.DELETE.S",
                Some(Request::StreamMsgDelete("S".into())),
            ),
            ("$JS.API.DIRECT.GET.S", None),
            ("$JS.API.DIRECT.GET.S.a.b", None),
            ("$JS.API.META.LEADER.STEPDOWN", None),
            ("$JS.API.STREAM.INFO", None),
            ("$JS.API.STREAM.INFO.S.x", None),
            ("$JS.API.STREAM.CREATE.a.b", None),
            ("$JS.API.NOPE", None),
            (
                "$JS.API.CONSUMER.INFO.S.C",
                Some(Request::ConsumerInfo("S".into(), "C".into())),
            ),
            (
                "$JS.API.CONSUMER.DURABLE.CREATE.S.C",
                ConsumerCreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.C")
                    .map(Request::ConsumerCreate),
            ),
            ("$JS.API.CONSUMER.MSG.NEXT.S.C", None),
            (
                "$JS.API.CONSUMER.LEADER.STEPDOWN.S.C",
                Some(Request::ClusterOnly {
                    kind: CONSUMER_LEADER_STEPDOWN,
                }),
            ),
            (
                "$JS.API.STREAM.LEADER.STEPDOWN.S",
                Some(Request::ClusterOnly {
                    kind: STREAM_LEADER_STEPDOWN,
                }),
            ),
            (
                "$JS.API.STREAM.PEER.EVACUATE.S",
                Some(Request::ClusterOnly {
                    kind: STREAM_EVACUATE_PEER,
                }),
            ),
            (
                "$JS.API.STREAM.CANCEL_MOVE.S",
                Some(Request::ClusterOnly {
                    kind: STREAM_CANCEL_MOVE,
                }),
            ),
            ("$JS.API.STREAM.LEADER.STEPDOWN.S.x", None),
            (
                "$JS.API.CONSUMER.NAMES.S",
                Some(Request::ConsumerNames("S".into())),
            ),
            ("foo", None),
        ];
        for (subject, want) in cases {
            assert_eq!(&Request::parse(subject), want, "{subject}");
        }
    }
}
