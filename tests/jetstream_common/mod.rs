//! Helpers shared by the JetStream test targets (`jetstream_streams`, `jetstream_kv`,
//! `jetstream_stream_features`):
//! a JetStream-enabled server, raw `$JS.API.*` requests returning `serde_json::Value`,
//! assertions on Go's error shape `{"error":{"code","err_code","description"}}`, raw
//! protocol helpers (`raw_js`, `pub_x`, `hpub_x`, `read_frames`, `split_headers`) and
//! state polling (`wait_for_state`).
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

// ---------------------------------------------------------------- raw-protocol helpers

/// A raw connection with headers and no_responders on, subscribed to `_INBOX.x` (sid 1).
pub async fn raw_js(s: &Server) -> RawConn {
    let mut c = RawConn::connect(s).await;
    c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#)
        .await;
    c.send(b"SUB _INBOX.x 1\r\n").await;
    c.ping_pong().await;
    c
}

/// `PUB <subject> _INBOX.x <body>`
pub fn pub_x(subject: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("PUB {subject} _INBOX.x {}\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n");
    v
}

/// `HPUB <subject> _INBOX.x` with the given header lines (without the `NATS/1.0` line).
pub fn hpub_x(subject: &str, header_lines: &str, body: &[u8]) -> Vec<u8> {
    let h = format!("NATS/1.0\r\n{header_lines}\r\n");
    let mut v = format!(
        "HPUB {subject} _INBOX.x {} {}\r\n{h}",
        h.len(),
        h.len() + body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n");
    v
}

/// Reads exactly `n` raw frames (server PINGs skipped), panicking on a timeout.
pub async fn read_frames(c: &mut RawConn, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match c.read_raw_frame().await {
            Ok(f) => out.push(f),
            Err(e) => panic!(
                "wanted {n} frames, got {}: {:?} then {e:?}",
                out.len(),
                out.iter().map(|f| show(f)).collect::<Vec<_>>()
            ),
        }
    }
    out
}

/// The status line and the header lines (without the empty last line) of an HMSG's
/// header block.
pub fn split_headers(headers: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8(headers.to_vec()).expect("headers are UTF-8");
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let status = lines.remove(0);
    lines.retain(|l| !l.is_empty());
    (status, lines)
}

// ---------------------------------------------------------------- JSON / state helpers

/// The keys of a JSON object, sorted.
pub fn key_set(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// `STREAM.MSG.GET.<stream>` with `body`; the raw response (success or error).
pub async fn msg_get(nc: &async_nats::Client, stream: &str, body: Value) -> Value {
    api(nc, &format!("$JS.API.STREAM.MSG.GET.{stream}"), body).await
}

/// Polls the state of stream `name` every 50 ms until `pred` holds; panics with the last
/// state after `timeout`.
pub async fn wait_for_state(
    nc: &async_nats::Client,
    name: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let st = stream_state(nc, name).await;
        if pred(&st) {
            return st;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("stream {name}: state still {st} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Standard base64 with padding (as in MSG.GET's `hdrs`/`data`).
pub fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
