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
    /// A consumer request this server does not handle (unpin, leader stepdown):
    /// the stream's existence decides the error. `kind` is the response type.
    ForStream {
        /// Response type to answer with.
        kind: &'static str,
        /// The stream named in the subject.
        stream: String,
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
/// See [`CONSUMER_CREATE`].
pub const CONSUMER_LEADER_STEPDOWN: &str =
    "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";

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
            ["CONSUMER", "UNPIN", stream, _] => Some(Request::ForStream {
                kind: CONSUMER_UNPIN,
                stream: stream.to_string(),
            }),
            ["CONSUMER", "LEADER", "STEPDOWN", stream, _] => Some(Request::ForStream {
                kind: CONSUMER_LEADER_STEPDOWN,
                stream: stream.to_string(),
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
