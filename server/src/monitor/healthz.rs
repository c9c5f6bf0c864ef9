//! `/healthz`: Go's health probe (`HandleHealthz`/`healthz` in server/monitor.go)
//! for a single server, plus one check of jetcore's own.
//!
//! Go's checks, in Go's order: the parameters (400), readiness, then — unless
//! `js-server-only` — JetStream: configured but not running (503), then unless
//! `js-enabled-only` every stream of the asked account (or all) must have been
//! restored and have no write error, and the stream/consumer asked for must exist
//! (404). Go finds the streams by listing the store directory, which only file
//! streams create; jetcore asks its stream directory instead, so memory streams
//! count too (Go answers 404 for them; see differences.md), and streams that
//! failed to restore at start are remembered by the meta layer.
//!
//! jetcore's own check, in the place of Go's readiness check: every core must
//! answer a cross-core call within [`CORE_ANSWER_TIMEOUT`]. A core stuck in a
//! long task serves none of its clients and streams, which Go's probe (one
//! process, one scheduler) has no way to see; here it is a 503 naming the cores.
//!
//! The verdict ([`verdict`]) is a pure function of the options and what was
//! found, so its every branch is unit-tested.

use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;

use super::{CoreAnswer, Monitor, Query, Response};
use crate::client::GLOBAL_ACCOUNT;
use crate::jetstream::api_types::{go_json_bytes, go_quote};
use crate::jetstream::errors::ApiError;
use crate::shard::Shard;

/// How long a core may take to answer the health check. A healthy core answers
/// in microseconds; this is far above that and below the 1 s a Kubernetes probe
/// waits by default, so the probe gets the reason rather than a timeout.
pub const CORE_ANSWER_TIMEOUT: Duration = Duration::from_millis(500);

/// Go's status for JetStream problems.
const UNAVAILABLE: &str = "unavailable";

/// `/healthz` options (Go's `HealthzOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthzOptions {
    /// `js-enabled` (deprecated): as `js-enabled-only`.
    pub js_enabled: bool,
    /// `js-enabled-only`: stop after checking JetStream runs.
    pub js_enabled_only: bool,
    /// `js-server-only`: stop after the server checks.
    pub js_server_only: bool,
    /// `js-meta-only`: only the meta leader (clusters; a single server checks its
    /// streams as without it, as Go does).
    pub js_meta_only: bool,
    /// `account`: only this account's streams.
    pub account: String,
    /// `stream`: this stream must exist (needs `account`).
    pub stream: String,
    /// `consumer`: this consumer must exist (needs `stream`).
    pub consumer: String,
    /// `details`: every problem in `errors` instead of the first in `error`.
    pub details: bool,
}

impl HealthzOptions {
    /// Decode the query as Go's `HandleHealthz` does, in its order.
    pub fn parse(q: &Query) -> Result<HealthzOptions, Response> {
        Ok(HealthzOptions {
            js_enabled: q.bool("js-enabled")?,
            js_enabled_only: q.bool("js-enabled-only")?,
            js_server_only: q.bool("js-server-only")?,
            js_meta_only: q.bool("js-meta-only")?,
            details: q.bool("details")?,
            account: q.get("account").to_string(),
            stream: q.get("stream").to_string(),
            consumer: q.get("consumer").to_string(),
        })
    }

    /// A stream without an account, or a consumer without a stream (Go's 400).
    fn incomplete(&self) -> bool {
        self.account.is_empty() && !self.stream.is_empty()
            || self.stream.is_empty() && !self.consumer.is_empty()
    }
}

/// Go's `HealthStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthStatus {
    /// `ok`, `error` or `unavailable`.
    pub status: String,
    /// The HTTP status; Go clears it before writing the body over HTTP.
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub status_code: u16,
    /// The first problem (without `details`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Every problem (with `details`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthzError>,
}

/// Go's `HealthzError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthzError {
    /// What kind of problem.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// The account concerned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The stream concerned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// The consumer concerned.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consumer: String,
    /// The text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// Go's `HealthZErrorType`, written as Go's names. A core that does not answer
/// is reported as `CONNECTION`, Go's kind for "the server is not ready": Go's
/// decoder refuses any name it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// The server is not ready.
    #[serde(rename = "CONNECTION")]
    Connection,
    /// Bad parameters.
    #[serde(rename = "BAD_REQUEST")]
    BadRequest,
    /// JetStream is not running.
    #[serde(rename = "JETSTREAM")]
    JetStream,
    /// An account.
    #[serde(rename = "ACCOUNT")]
    Account,
    /// A stream.
    #[serde(rename = "STREAM")]
    Stream,
    /// A consumer.
    #[serde(rename = "CONSUMER")]
    Consumer,
}

impl HealthzError {
    /// An error about nothing in particular.
    fn new(kind: ErrorKind, error: String) -> HealthzError {
        HealthzError {
            kind,
            account: String::new(),
            stream: String::new(),
            consumer: String::new(),
            error,
        }
    }

    /// About an account.
    fn account(mut self, a: &str) -> HealthzError {
        self.account = a.to_string();
        self
    }

    /// About a stream.
    fn stream(mut self, s: &str) -> HealthzError {
        self.stream = s.to_string();
        self
    }

    /// About a consumer.
    fn consumer(mut self, c: &str) -> HealthzError {
        self.consumer = c.to_string();
        self
    }
}

/// A core that did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreProblem {
    /// No answer within the timeout.
    Late(usize, Duration),
    /// The core is gone (stopping).
    Gone(usize),
}

impl std::fmt::Display for CoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreProblem::Late(core, d) => write!(
                f,
                "jetcore core {core} did not answer within {}ms",
                d.as_millis()
            ),
            CoreProblem::Gone(core) => write!(f, "jetcore core {core} is not running"),
        }
    }
}

/// What is wrong with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamProblem {
    /// On disk but not restored at start.
    NotRecovered,
    /// Its store stopped writing.
    WriteError(String),
}

/// One stream of the global account as the checks found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFinding {
    /// Stream name.
    pub name: String,
    /// Its problem, if any.
    pub problem: Option<StreamProblem>,
    /// The consumer asked for (`consumer=`) exists on it.
    pub has_consumer: bool,
}

/// What the checks found, gathered before the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Cores that did not answer.
    pub cores: Vec<CoreProblem>,
    /// JetStream is configured.
    pub js_configured: bool,
    /// JetStream is running.
    pub js_running: bool,
    /// The JetStream accounts (the global account while JetStream runs).
    pub accounts: Vec<String>,
    /// The global account's streams, sorted by name.
    pub streams: Vec<StreamFinding>,
}

/// Go's way of recording a problem: without `details` the status and the one
/// `error`, with it one more entry in `errors`; the status code is set only where
/// Go sets one, and otherwise decided at the end.
struct Verdict {
    /// `details` was asked for.
    details: bool,
    /// The answer being built.
    health: HealthStatus,
}

impl Verdict {
    /// Record `e`, with `status` when there are no details.
    fn fail(&mut self, status: &str, e: HealthzError) {
        if self.details {
            self.health.errors.push(e);
        } else {
            self.health.status = status.to_string();
            self.health.error = e.error;
        }
    }

    /// Record `e` as the only problem (Go replaces `errors` for a 404).
    fn only(&mut self, code: u16, e: HealthzError) {
        self.health.status_code = code;
        if self.details {
            self.health.errors = vec![e];
        } else {
            self.health.status = UNAVAILABLE.to_string();
            self.health.error = e.error;
        }
    }

    /// Go's deferred ending: the status with details, and the status code.
    fn finish(mut self) -> HealthStatus {
        let failed = !self.health.error.is_empty() || !self.health.errors.is_empty();
        if self.details {
            self.health.status = if self.health.errors.is_empty() {
                "ok".to_string()
            } else {
                "error".to_string()
            };
        }
        if self.health.status_code == 0 {
            self.health.status_code = if failed { 503 } else { 200 };
        }
        self.health
    }
}

/// The health verdict for options `o` given findings `f` (Go's `healthz` for a
/// single server).
pub fn verdict(o: &HealthzOptions, f: &Findings) -> HealthStatus {
    let mut v = Verdict {
        details: o.details,
        health: HealthStatus {
            status: "ok".to_string(),
            ..HealthStatus::default()
        },
    };
    for (missing, what) in [
        (
            o.account.is_empty() && !o.stream.is_empty(),
            ("account", "stream"),
        ),
        (
            o.stream.is_empty() && !o.consumer.is_empty(),
            ("stream", "consumer"),
        ),
    ] {
        if missing {
            v.health.status_code = 400;
            let text = format!(
                "{} must not be empty when checking {} health",
                go_quote(what.0),
                what.1
            );
            v.fail("error", HealthzError::new(ErrorKind::BadRequest, text));
            return v.finish();
        }
    }
    if !f.cores.is_empty() {
        v.health.status_code = 503;
        if o.details {
            for c in &f.cores {
                v.fail(
                    UNAVAILABLE,
                    HealthzError::new(ErrorKind::Connection, c.to_string()),
                );
            }
        } else {
            let text = f
                .cores
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            v.fail(UNAVAILABLE, HealthzError::new(ErrorKind::Connection, text));
        }
        return v.finish();
    }
    if o.js_server_only || !f.js_configured {
        return v.finish();
    }
    if !f.js_running {
        v.health.status_code = 503;
        let text = ApiError::not_enabled().to_string();
        v.fail(UNAVAILABLE, HealthzError::new(ErrorKind::JetStream, text));
        return v.finish();
    }
    if o.js_enabled_only || o.js_enabled {
        return v.finish();
    }
    // A single server: every stream must have been restored and be writable.
    let (mut acc_found, mut stream_found, mut consumer_found) = (false, false, false);
    for acc in &f.accounts {
        if !o.account.is_empty() {
            if *acc != o.account {
                continue;
            }
            acc_found = true;
        }
        for s in &f.streams {
            if !o.stream.is_empty() {
                if s.name != o.stream {
                    continue;
                }
                stream_found = true;
            }
            let text = match &s.problem {
                Some(StreamProblem::NotRecovered) => Some(format!(
                    "JetStream stream '{acc} > {}' could not be recovered",
                    s.name
                )),
                Some(StreamProblem::WriteError(e)) => Some(format!(
                    "JetStream stream '{acc} > {}' write error: {e}",
                    s.name
                )),
                None => None,
            };
            if let Some(text) = text {
                let e = HealthzError::new(ErrorKind::Stream, text)
                    .account(acc)
                    .stream(&s.name);
                v.fail(UNAVAILABLE, e);
                if !o.details {
                    return v.finish();
                }
                continue;
            }
            if stream_found {
                consumer_found = !o.consumer.is_empty() && s.has_consumer;
                break;
            }
        }
        if acc_found {
            break;
        }
    }
    if !o.account.is_empty() && !acc_found {
        let text = format!("JetStream account {} not found", go_quote(&o.account));
        v.only(
            404,
            HealthzError::new(ErrorKind::Account, text).account(&o.account),
        );
        return v.finish();
    }
    if !o.stream.is_empty() && !stream_found {
        let text = format!(
            "JetStream stream {} not found on account {}",
            go_quote(&o.stream),
            go_quote(&o.account)
        );
        let e = HealthzError::new(ErrorKind::Stream, text)
            .account(&o.account)
            .stream(&o.stream);
        v.only(404, e);
        return v.finish();
    }
    if !o.consumer.is_empty() && !consumer_found {
        let text = format!(
            "JetStream consumer {} not found for stream {} on account {}",
            go_quote(&o.consumer),
            go_quote(&o.stream),
            go_quote(&o.account)
        );
        let e = HealthzError::new(ErrorKind::Consumer, text)
            .account(&o.account)
            .stream(&o.stream)
            .consumer(&o.consumer);
        v.only(404, e);
    }
    v.finish()
}

/// One stream as its core reports it.
struct CoreStream {
    /// Stream name.
    name: String,
    /// Its store's write error.
    write_error: Option<String>,
    /// The consumer asked for exists on it (only checked on the stream asked for).
    has_consumer: bool,
}

/// Ask every core (which is also the liveness check) and the meta layer.
async fn findings(m: &Monitor, o: &HealthzOptions) -> Findings {
    let (stream, consumer) = (o.stream.clone(), o.consumer.clone());
    let answers = m
        .ask_every_core(CORE_ANSWER_TIMEOUT, move |shard: Rc<Shard>| async move {
            let Some(js) = shard.jetstream.get().cloned() else {
                return Vec::new();
            };
            js.streams()
                .iter()
                .map(|s| CoreStream {
                    name: s.name.clone(),
                    write_error: s.write_error(),
                    has_consumer: !consumer.is_empty()
                        && s.name == stream
                        && s.consumer(&consumer).is_some(),
                })
                .collect::<Vec<_>>()
        })
        .await;
    let mut f = Findings {
        js_configured: m.shard.opts.jetstream.enabled,
        ..Findings::default()
    };
    let mut per_core = Vec::with_capacity(answers.len());
    for (core, a) in answers.into_iter().enumerate() {
        match a {
            CoreAnswer::Answer(streams) => per_core.push(streams),
            CoreAnswer::Late => {
                f.cores.push(CoreProblem::Late(core, CORE_ANSWER_TIMEOUT));
                per_core.push(Vec::new());
            }
            CoreAnswer::Gone => {
                f.cores.push(CoreProblem::Gone(core));
                per_core.push(Vec::new());
            }
        }
    }
    let Some(meta) = m
        .shard
        .jetstream
        .get()
        .and_then(|js| js.meta.get().cloned())
    else {
        return f;
    };
    f.js_running = true;
    f.accounts = vec![GLOBAL_ACCOUNT.to_string()];
    for (name, core) in meta.stream_cores() {
        // A stream its core no longer lists is being deleted: nothing to check.
        let found = per_core
            .get(core)
            .and_then(|streams| streams.iter().find(|s| s.name == name));
        f.streams.push(StreamFinding {
            problem: found
                .and_then(|s| s.write_error.clone())
                .map(StreamProblem::WriteError),
            has_consumer: found.is_some_and(|s| s.has_consumer),
            name,
        });
    }
    for (name, _why) in meta.unrecovered() {
        if !f.streams.iter().any(|s| s.name == name) {
            f.streams.push(StreamFinding {
                name,
                problem: Some(StreamProblem::NotRecovered),
                has_consumer: false,
            });
        }
    }
    f.streams.sort_by(|a, b| a.name.cmp(&b.name));
    f
}

/// The health of the server for `o`.
pub async fn check(m: &Monitor, o: &HealthzOptions) -> HealthStatus {
    // Bad parameters are answered without asking anyone.
    let f = if o.incomplete() {
        Findings::default()
    } else {
        findings(m, o).await
    };
    verdict(o, &f)
}

/// `/healthz`.
pub async fn handle(m: &Monitor, query: &Query) -> Response {
    let o = match HealthzOptions::parse(query) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if o.js_enabled {
        tracing::warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    }
    let mut h = check(m, &o).await;
    if !h.error.is_empty() {
        tracing::warn!("Healthcheck failed: {:?}", h.error);
    } else if !h.errors.is_empty() {
        tracing::warn!("Healthcheck failed: {} errors", h.errors.len());
    }
    // The code is the HTTP status; Go leaves it out of the body.
    let code = std::mem::take(&mut h.status_code);
    Response::json_status(code, go_json_bytes(&h))
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> HealthzOptions {
        HealthzOptions::parse(&Query::parse(q)).unwrap()
    }

    /// A running single server with streams `F` (with consumer `D`) and `M`.
    fn healthy() -> Findings {
        Findings {
            cores: Vec::new(),
            js_configured: true,
            js_running: true,
            accounts: vec!["$G".to_string()],
            streams: vec![
                StreamFinding {
                    name: "F".into(),
                    problem: None,
                    has_consumer: true,
                },
                StreamFinding {
                    name: "M".into(),
                    problem: None,
                    has_consumer: false,
                },
            ],
        }
    }

    /// The status code and the body as sent over HTTP. `has_consumer` in `f`
    /// stands for consumer `D`, the only one there is.
    fn answer(q: &str, f: &Findings) -> (u16, String) {
        let o = opts(q);
        let mut f = f.clone();
        for s in &mut f.streams {
            s.has_consumer &= o.consumer == "D";
        }
        let mut h = verdict(&o, &f);
        let code = std::mem::take(&mut h.status_code);
        (code, String::from_utf8(go_json_bytes(&h)).unwrap())
    }

    #[test]
    fn healthy_server_is_ok_for_every_check() {
        let f = healthy();
        for q in [
            "",
            "details=1",
            "js-enabled-only=1",
            "js-server-only=1",
            "js-enabled=true",
            "js-meta-only=1",
            "account=$G",
            "account=$G&stream=F",
            "account=$G&stream=F&consumer=D",
            "account=$G&stream=M",
        ] {
            assert_eq!(answer(q, &f), (200, r#"{"status":"ok"}"#.into()), "{q}");
        }
    }

    #[test]
    fn missing_parameters_are_go_400s() {
        let f = Findings::default();
        assert_eq!(
            answer("stream=F", &f),
            (
                400,
                r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#
                    .into()
            )
        );
        assert_eq!(
            answer("consumer=X&details=true", &f),
            (
                400,
                r#"{"status":"error","errors":[{"type":"BAD_REQUEST","error":"\"stream\" must not be empty when checking consumer health"}]}"#
                    .into()
            )
        );
    }

    #[test]
    fn missing_assets_are_go_404s() {
        let f = healthy();
        assert_eq!(
            answer("account=nope", &f),
            (
                404,
                r#"{"status":"unavailable","error":"JetStream account \"nope\" not found"}"#.into()
            )
        );
        assert_eq!(
            answer("account=$G&stream=X", &f),
            (
                404,
                r#"{"status":"unavailable","error":"JetStream stream \"X\" not found on account \"$G\""}"#
                    .into()
            )
        );
        assert_eq!(
            answer("account=$G&stream=F&consumer=X&details=1", &f),
            (
                404,
                r#"{"status":"error","errors":[{"type":"CONSUMER","account":"$G","stream":"F","consumer":"X","error":"JetStream consumer \"X\" not found for stream \"F\" on account \"$G\""}]}"#
                    .into()
            )
        );
        // A consumer of another stream does not count.
        assert_eq!(answer("account=$G&stream=M&consumer=D", &f).0, 404);
        // js-server-only skips the JetStream checks, as in Go.
        assert_eq!(answer("account=nope&js-server-only=1", &f).0, 200);
    }

    #[test]
    fn stream_problems_are_503s() {
        let mut f = healthy();
        f.streams[0].problem = Some(StreamProblem::WriteError("disk full".into()));
        f.streams[1].problem = Some(StreamProblem::NotRecovered);
        assert_eq!(
            answer("", &f),
            (
                503,
                r#"{"status":"unavailable","error":"JetStream stream '$G \u003e F' write error: disk full"}"#
                    .into()
            )
        );
        let (code, body) = answer("details=1", &f);
        assert_eq!(code, 503);
        assert_eq!(
            body,
            r#"{"status":"error","errors":[{"type":"STREAM","account":"$G","stream":"F","error":"JetStream stream '$G \u003e F' write error: disk full"},{"type":"STREAM","account":"$G","stream":"M","error":"JetStream stream '$G \u003e M' could not be recovered"}]}"#
        );
        // Only the stream asked for matters.
        assert_eq!(answer("account=$G&stream=M", &f).0, 503);
        // A broken stream is found but not healthy: its consumers are not looked at.
        let (code, body) = answer("account=$G&stream=F&consumer=D&details=1", &f);
        assert_eq!(code, 404, "{body}");
        // Stopping after the JetStream check leaves streams alone.
        assert_eq!(answer("js-enabled-only=true", &f).0, 200);
    }

    #[test]
    fn not_recovered_text_is_gos() {
        // Go's json.Marshal writes '>' as \u003e.
        let mut f = healthy();
        f.streams[0].problem = Some(StreamProblem::NotRecovered);
        let (_, body) = answer("", &f);
        assert_eq!(
            body,
            r#"{"status":"unavailable","error":"JetStream stream '$G \u003e F' could not be recovered"}"#
        );
    }

    #[test]
    fn jetstream_not_running_is_503() {
        let f = Findings {
            js_configured: true,
            ..Findings::default()
        };
        assert_eq!(
            answer("", &f),
            (
                503,
                r#"{"status":"unavailable","error":"JetStream not enabled (10076)"}"#.into()
            )
        );
        assert_eq!(answer("js-server-only=1", &f).0, 200);
        // JetStream not configured: nothing to check, whatever is asked.
        let off = Findings::default();
        for q in [
            "js-enabled-only=1",
            "account=$G&stream=S",
            "account=x&details=1",
        ] {
            assert_eq!(answer(q, &off), (200, r#"{"status":"ok"}"#.into()), "{q}");
        }
    }

    #[test]
    fn a_core_that_does_not_answer_fails_the_probe() {
        let mut f = healthy();
        f.cores = vec![
            CoreProblem::Late(1, Duration::from_millis(500)),
            CoreProblem::Gone(3),
        ];
        assert_eq!(
            answer("js-server-only=1", &f),
            (
                503,
                r#"{"status":"unavailable","error":"jetcore core 1 did not answer within 500ms; jetcore core 3 is not running"}"#
                    .into()
            )
        );
        assert_eq!(
            answer("details=1", &f),
            (
                503,
                r#"{"status":"error","errors":[{"type":"CONNECTION","error":"jetcore core 1 did not answer within 500ms"},{"type":"CONNECTION","error":"jetcore core 3 is not running"}]}"#
                    .into()
            )
        );
        // Bad parameters are still a 400 first.
        assert_eq!(answer("stream=F", &f).0, 400);
    }

    #[test]
    fn bad_bools_are_go_400s_in_go_order() {
        let r = HealthzOptions::parse(&Query::parse("details=nope&js-enabled-only=x")).unwrap_err();
        assert_eq!(r.status, 400);
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "Error decoding boolean for 'js-enabled-only': strconv.ParseBool: parsing \"x\": invalid syntax"
        );
    }
}
