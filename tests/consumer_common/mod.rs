//! Helpers shared by the consumer test targets (`jetstream_consumers`, `jetstream_pull`,
//! `jetstream_push`, `jetstream_consumer_restart`, `jetstream_kv_watch`): consumer API
//! calls, raw pull requests on a `RawConn` (messages and status frames on `_INBOX.x`,
//! sid 1), `$JS.ACK` reply-subject parsing and polling of consumer info.
//!
//! Needs `mod jetstream_common;` declared before it in the test crate.
#![allow(dead_code)] // each test target uses a different subset

use std::time::Duration;

use jetcore_tests::*;
use serde_json::{json, Value};

use super::jetstream_common::*;

/// `CONSUMER.CREATE.<stream>.<name>` with `{"stream_name", "config"}`; the name is
/// `config.name` or else `config.durable_name`. Returns the raw response.
pub async fn try_create_consumer(nc: &async_nats::Client, stream: &str, config: Value) -> Value {
    let name = config["name"]
        .as_str()
        .or_else(|| config["durable_name"].as_str())
        .expect("config.name or config.durable_name")
        .to_string();
    api(
        nc,
        &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
        json!({"stream_name": stream, "config": config}),
    )
    .await
}

/// Like `try_create_consumer`, asserting success.
pub async fn create_consumer(nc: &async_nats::Client, stream: &str, config: Value) -> Value {
    ok(try_create_consumer(nc, stream, config).await)
}

/// `CONSUMER.INFO.<stream>.<consumer>`, asserting success.
pub async fn consumer_info(nc: &async_nats::Client, stream: &str, consumer: &str) -> Value {
    ok(api(
        nc,
        &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
        Value::Null,
    )
    .await)
}

/// The counters of a ConsumerInfo, as one comparable object: `delivered` and
/// `ack_floor` without `last_active`, `num_ack_pending`, `num_redelivered`,
/// `num_waiting`, `num_pending`.
pub fn counters(info: &Value) -> Value {
    let seqs =
        |v: &Value| json!({"consumer_seq": v["consumer_seq"], "stream_seq": v["stream_seq"]});
    json!({
        "delivered": seqs(&info["delivered"]),
        "ack_floor": seqs(&info["ack_floor"]),
        "num_ack_pending": info["num_ack_pending"],
        "num_redelivered": info["num_redelivered"],
        "num_waiting": info["num_waiting"],
        "num_pending": info["num_pending"],
    })
}

/// `counters` as expected: `(dseq, sseq)` delivered, `(dseq, sseq)` ack floor, ack
/// pending, redelivered, waiting, pending.
pub fn want_counters(
    delivered: (u64, u64),
    ack_floor: (u64, u64),
    ack_pending: u64,
    redelivered: u64,
    waiting: u64,
    pending: u64,
) -> Value {
    json!({
        "delivered": {"consumer_seq": delivered.0, "stream_seq": delivered.1},
        "ack_floor": {"consumer_seq": ack_floor.0, "stream_seq": ack_floor.1},
        "num_ack_pending": ack_pending,
        "num_redelivered": redelivered,
        "num_waiting": waiting,
        "num_pending": pending,
    })
}

/// Polls consumer info every 25 ms until `pred` holds; panics with the last info after
/// `timeout`.
pub async fn wait_for_consumer(
    nc: &async_nats::Client,
    stream: &str,
    consumer: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let info = consumer_info(nc, stream, consumer).await;
        if pred(&info) {
            return info;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("consumer {stream}/{consumer}: info still {info} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Publishes `n` messages `<prefix>1`.. to `subject` (each acked by the stream).
pub async fn publish_n(nc: &async_nats::Client, subject: &str, n: usize) {
    for i in 1..=n {
        let v = publish_req(nc, subject, &[], format!("m{i}").as_bytes()).await;
        assert!(v.get("error").is_none(), "publish: {v}");
    }
}

// ---------------------------------------------------------------- $JS.ACK subjects

/// The tokens of a v1 ack reply subject
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckInfo {
    pub subject: String,
    pub stream: String,
    pub consumer: String,
    pub delivered: u64,
    pub sseq: u64,
    pub dseq: u64,
    pub ts: u64,
    pub pending: u64,
}

/// Parses a v1 `$JS.ACK` subject (9 tokens), panicking on anything else.
#[track_caller]
pub fn parse_ack(subject: &str) -> AckInfo {
    let t: Vec<&str> = subject.split('.').collect();
    assert!(
        t.len() == 9 && t[0] == "$JS" && t[1] == "ACK",
        "not a v1 ack subject: {subject}"
    );
    let n = |i: usize| -> u64 {
        t[i].parse()
            .unwrap_or_else(|_| panic!("token {i} of {subject} is not a number"))
    };
    AckInfo {
        subject: subject.to_string(),
        stream: t[2].to_string(),
        consumer: t[3].to_string(),
        delivered: n(4),
        sseq: n(5),
        dseq: n(6),
        ts: n(7),
        pending: n(8),
    }
}

// ---------------------------------------------------------------- raw pull requests

/// A delivered message as read on a raw connection.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub subject: String,
    pub headers: Vec<u8>,
    pub payload: Vec<u8>,
    pub ack: AckInfo,
}

/// Sends `PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> _INBOX.x <body>`.
pub async fn pull(c: &mut RawConn, stream: &str, consumer: &str, body: &str) {
    c.send(&pub_x(
        &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
        body.as_bytes(),
    ))
    .await;
}

/// The exact bytes of a status frame delivered to `_INBOX.x` (sid 1) with the status
/// line `NATS/1.0 <status>` and the given header lines (each without `\r\n`).
pub fn status_frame(status: &str, header_lines: &[&str]) -> Vec<u8> {
    let mut h = format!("NATS/1.0 {status}\r\n");
    for l in header_lines {
        h.push_str(l);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    format!("HMSG _INBOX.x 1 {0} {0}\r\n{h}\r\n", h.len()).into_bytes()
}

/// Reads the next frame and asserts it is exactly this status frame.
pub async fn expect_status(c: &mut RawConn, status: &str, header_lines: &[&str]) {
    let want = status_frame(status, header_lines);
    match c.read_raw_frame().await {
        Ok(got) => assert_eq!(show(&got), show(&want), "status frame"),
        Err(e) => panic!("expected status {status:?}, got {e:?}"),
    }
}

/// Reads the next frame and returns it as a delivered message (with a `$JS.ACK` reply);
/// panics on a status frame or anything else.
pub async fn read_delivered(c: &mut RawConn) -> Delivered {
    let raw = match c.read_raw_frame().await {
        Ok(f) => f,
        Err(e) => panic!("expected a delivered message, got {e:?}"),
    };
    match parse_frame(&raw) {
        Frame::Msg {
            subject,
            reply: Some(reply),
            payload,
            ..
        } => Delivered {
            subject,
            headers: vec![],
            payload,
            ack: parse_ack(&reply),
        },
        Frame::HMsg {
            subject,
            reply: Some(reply),
            headers,
            payload,
            ..
        } => Delivered {
            subject,
            headers,
            payload,
            ack: parse_ack(&reply),
        },
        _ => panic!("expected a delivered message, got {}", show(&raw)),
    }
}

/// Reads `n` delivered messages.
pub async fn read_n(c: &mut RawConn, n: usize) -> Vec<Delivered> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(read_delivered(c).await);
    }
    v
}

/// Publishes `body` to the ack subject of `d` (no reply).
pub async fn ack_raw(c: &mut RawConn, d: &Delivered, body: &str) {
    let mut v = format!("PUB {} {}\r\n", d.ack.subject, body.len()).into_bytes();
    v.extend_from_slice(body.as_bytes());
    v.extend_from_slice(b"\r\n");
    c.send(&v).await;
}

/// Publishes `body` to the ack subject of `d` with reply `_INBOX.x` (a double ack) and
/// asserts the server's confirmation, an empty message, arrives.
pub async fn double_ack_raw(c: &mut RawConn, d: &Delivered, body: &str) {
    let mut v = format!("PUB {} _INBOX.x {}\r\n", d.ack.subject, body.len()).into_bytes();
    v.extend_from_slice(body.as_bytes());
    v.extend_from_slice(b"\r\n");
    c.send(&v).await;
    c.expect_bytes(b"MSG _INBOX.x 1 0\r\n\r\n").await;
}

/// Payloads of delivered messages, as strings.
pub fn payloads(v: &[Delivered]) -> Vec<String> {
    v.iter()
        .map(|d| String::from_utf8_lossy(&d.payload).to_string())
        .collect()
}

/// `SystemTime::now() + ahead` as RFC 3339 UTC with nanoseconds, as Go prints times (the
/// last digit is forced to 1, since Go drops trailing zeros of the fraction).
pub fn rfc3339_in(ahead: Duration) -> String {
    let t = std::time::SystemTime::now() + ahead;
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    let d = Duration::new(d.as_secs(), d.subsec_nanos() / 10 * 10 + 1);
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}
