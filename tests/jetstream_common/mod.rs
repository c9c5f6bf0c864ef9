//! Helpers shared by the JetStream test targets (`jetstream_streams`, `jetstream_kv`):
//! a JetStream-enabled server, raw `$JS.API.*` requests returning `serde_json::Value`,
//! and assertions on Go's error shape `{"error":{"code","err_code","description"}}`.
#![allow(dead_code)] // each test target uses a different subset

use std::time::Duration;

use async_nats::HeaderMap;
use jetcore_tests::*;
use serde_json::{json, Value};

pub const T: Duration = Duration::from_secs(3);

/// A server with JetStream on (`-js -sd {{dir}}/store`).
pub fn js_server() -> Server {
    ServerBuilder::new().jetstream().start()
}

/// Parses a reply body as JSON, with the text in the panic message.
pub fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {}", show(body)))
}

/// `subject` as a request with a JSON `body` (`Value::Null` sends an empty body);
/// returns the parsed reply.
pub async fn api(nc: &async_nats::Client, subject: &str, body: Value) -> Value {
    let payload = if body.is_null() {
        bytes::Bytes::new()
    } else {
        body.to_string().into()
    };
    api_raw(nc, subject, payload).await
}

/// Like `api` with the body bytes as given.
pub async fn api_raw(nc: &async_nats::Client, subject: &str, payload: bytes::Bytes) -> Value {
    let m = nc
        .request(subject.to_string(), payload)
        .await
        .unwrap_or_else(|e| panic!("request {subject}: {e:?}"));
    parse(&m.payload)
}

/// Asserts `v` has no `error` and returns it.
pub fn ok(v: Value) -> Value {
    assert!(v.get("error").is_none(), "unexpected error response: {v}");
    v
}

/// Asserts `v.error` is exactly `{code, err_code, description}`.
#[track_caller]
pub fn assert_err(v: &Value, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        v["error"],
        json!({"code": code, "err_code": err_code, "description": description}),
        "whole response: {v}"
    );
}

/// `STREAM.CREATE` with `config` (its `name` picks the subject); asserts success and
/// returns the response.
pub async fn create_stream(nc: &async_nats::Client, config: Value) -> Value {
    let name = config["name"].as_str().expect("config.name").to_string();
    ok(api(nc, &format!("$JS.API.STREAM.CREATE.{name}"), config).await)
}

/// `STREAM.INFO.<name>` (with an optional request body); asserts success.
pub async fn stream_info(nc: &async_nats::Client, name: &str, body: Value) -> Value {
    ok(api(nc, &format!("$JS.API.STREAM.INFO.{name}"), body).await)
}

/// The `state` object of `STREAM.INFO.<name>`.
pub async fn stream_state(nc: &async_nats::Client, name: &str) -> Value {
    stream_info(nc, name, Value::Null).await["state"].clone()
}

/// Publishes with a reply inbox and returns the parsed PubAck (or error) JSON.
pub async fn publish_req(
    nc: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Value {
    let m = publish_req_raw(nc, subject, headers, payload).await;
    parse(&m.payload)
}

/// Publishes with a reply inbox and returns the reply message as received.
pub async fn publish_req_raw(
    nc: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> async_nats::Message {
    let payload = bytes::Bytes::copy_from_slice(payload);
    let r = if headers.is_empty() {
        nc.request(subject.to_string(), payload).await
    } else {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, *v);
        }
        nc.request_with_headers(subject.to_string(), h, payload)
            .await
    };
    r.unwrap_or_else(|e| panic!("publish request to {subject}: {e:?}"))
}

/// Asserts a PubAck is exactly `{"stream":stream,"seq":seq}`.
#[track_caller]
pub fn assert_ack(v: &Value, stream: &str, seq: u64) {
    assert_eq!(*v, json!({"stream": stream, "seq": seq}), "PubAck");
}

/// Asserts a refused publish: `{"error":{...},"stream":stream,"seq":0}`.
#[track_caller]
pub fn assert_pub_err(v: &Value, stream: &str, code: u64, err_code: u64, description: &str) {
    assert_eq!(
        *v,
        json!({
            "error": {"code": code, "err_code": err_code, "description": description},
            "stream": stream,
            "seq": 0
        }),
        "refused PubAck"
    );
}

/// The JetStream context used by the tests (3 s API timeout).
pub fn js(nc: &async_nats::Client) -> async_nats::jetstream::Context {
    let mut ctx = async_nats::jetstream::new(nc.clone());
    ctx.set_timeout(T);
    ctx
}
