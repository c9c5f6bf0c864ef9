//! JetStream pull consumers, black-box: raw `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`
//! requests whose replies (messages and status frames) arrive on a plain `_INBOX.x`
//! subscription, the `$JS.ACK` reply subjects and the ack protocol (+ACK, -NAK, -NAK
//! with delay, +WPI, +TERM, double ack, AckAll, ack none), redelivery (ack_wait,
//! backoff, max_deliver), max_ack_pending, deliver policies, filters, headers_only,
//! replay original, and async-nats's `fetch()`, `batch()` and `messages()`.
//!
//! Every expectation (exact status frames, ack tokens, info counters) was captured from
//! the Go reference nats-server 2.15.1 (`-js -sd <dir>`). Each test runs its own server.

mod consumer_common;
mod jetstream_common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use consumer_common::*;
use futures::StreamExt;
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};
use tokio::time::Instant;

const MS: u64 = 1_000_000;

/// A server with stream `S` on `s.>` and an async-nats client.
async fn setup() -> (Server, async_nats::Client) {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    (s, nc)
}

/// A pull consumer `name` on `S` with explicit acks and `extra` config fields.
async fn pull_consumer(nc: &async_nats::Client, name: &str, extra: Value) -> Value {
    let mut cfg = json!({"durable_name": name, "ack_policy": "explicit"});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    create_consumer(nc, "S", cfg).await
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The size Go counts against a request's max_bytes: subject + ack reply + headers +
/// payload.
fn counted_size(d: &Delivered) -> usize {
    d.subject.len() + d.ack.subject.len() + d.headers.len() + d.payload.len()
}

// ---------------------------------------------------------------- requests and status frames

#[tokio::test]
async fn batch_delivers_messages_with_ack_subjects() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 3).await;
    publish_n(&nc, "s.b", 2).await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;

    let before = now_ns();
    pull(&mut c, "S", "C", r#"{"batch":3}"#).await;
    let got = read_n(&mut c, 3).await;
    assert_eq!(payloads(&got), ["m1", "m2", "m3"]);
    for (i, d) in got.iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!(d.subject, "s.a");
        assert_eq!(
            (
                d.ack.stream.as_str(),
                d.ack.consumer.as_str(),
                d.ack.delivered,
                d.ack.sseq,
                d.ack.dseq,
                d.ack.pending
            ),
            ("S", "C", 1, i, i, 5 - i),
            "{}",
            d.ack.subject
        );
        // The timestamp is the message's store time, in ns since the epoch.
        assert!(
            d.ack.ts > before - 60_000 * MS && d.ack.ts <= now_ns(),
            "ts {} of {}",
            d.ack.ts,
            d.ack.subject
        );
    }
    assert!(got[0].ack.ts <= got[1].ack.ts && got[1].ack.ts <= got[2].ack.ts);

    // A bare integer body is a batch size too.
    pull(&mut c, "S", "C", "2").await;
    let got = read_n(&mut c, 2).await;
    assert_eq!(payloads(&got), ["m1", "m2"]);
    assert_eq!(
        got.iter()
            .map(|d| (d.subject.as_str(), d.ack.sseq, d.ack.dseq, d.ack.pending))
            .collect::<Vec<_>>(),
        [("s.b", 4, 4, 1), ("s.b", 5, 5, 0)]
    );
    c.expect_nothing(Duration::from_millis(100)).await;

    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((5, 5), (0, 0), 5, 0, 0, 0));

    // An empty body asks for one message; it waits (no expiry) and shows in num_waiting.
    pull(&mut c, "S", "C", "").await;
    let info = wait_for_consumer(&nc, "S", "C", T, |i| i["num_waiting"] == 1).await;
    assert_eq!(info["num_pending"], 0);
    publish_n(&nc, "s.c", 1).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.subject.as_str(), d.ack.sseq, d.ack.dseq), ("s.c", 6, 6));
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((6, 6), (0, 0), 6, 0, 0, 0));
}

#[tokio::test]
async fn no_wait_returns_what_there_is_then_404() {
    let (s, nc) = setup().await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1,"no_wait":true}"#).await;
    c.expect_bytes(b"HMSG _INBOX.x 1 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n")
        .await;

    publish_n(&nc, "s.a", 2).await;
    pull(&mut c, "S", "C", r#"{"batch":5,"no_wait":true}"#).await;
    assert_eq!(payloads(&read_n(&mut c, 2).await), ["m1", "m2"]);
    expect_status(&mut c, "404 No Messages", &[]).await;
    c.expect_nothing(Duration::from_millis(100)).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((2, 2), (0, 0), 2, 0, 0, 0));
}

#[tokio::test]
async fn expires_elapsing_gives_408_with_pending_counts() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    let t0 = Instant::now();
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":3,"expires":{}}}"#, 300 * MS),
    )
    .await;
    assert_eq!(payloads(&read_n(&mut c, 1).await), ["m1"]);
    expect_status(
        &mut c,
        "408 Request Timeout",
        &["Nats-Pending-Messages: 2", "Nats-Pending-Bytes: 0"],
    )
    .await;
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(250), "408 after {took:?}");

    // With max_bytes the pending bytes are what is left of it.
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":4,"max_bytes":5000,"expires":{}}}"#, 200 * MS),
    )
    .await;
    expect_status(
        &mut c,
        "408 Request Timeout",
        &["Nats-Pending-Messages: 4", "Nats-Pending-Bytes: 5000"],
    )
    .await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(info["num_waiting"], 0, "expired requests are gone: {info}");
}

#[tokio::test]
async fn max_bytes_limits_a_request() {
    let (s, nc) = setup().await;
    let body = vec![b'x'; 100];
    for _ in 0..4 {
        publish_req(&nc, "s.a", &[], &body).await;
    }
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;

    // Smaller than the first message: nothing delivered.
    pull(&mut c, "S", "C", r#"{"batch":10,"max_bytes":50}"#).await;
    expect_status(
        &mut c,
        "409 Message Size Exceeds MaxBytes",
        &["Nats-Pending-Messages: 10", "Nats-Pending-Bytes: 50"],
    )
    .await;

    // Room for two: two, then the third does not fit.
    pull(&mut c, "S", "C", r#"{"batch":10,"max_bytes":300}"#).await;
    let got = read_n(&mut c, 2).await;
    assert_eq!(
        got.iter().map(|d| d.ack.sseq).collect::<Vec<_>>(),
        [1, 2],
        "sequences"
    );
    let used: usize = got.iter().map(counted_size).sum();
    assert!(used <= 300 && used > 200, "counted {used}");
    let left = format!("Nats-Pending-Bytes: {}", 300 - used);
    expect_status(
        &mut c,
        "409 Message Size Exceeds MaxBytes",
        &["Nats-Pending-Messages: 8", &left],
    )
    .await;

    // The batch fills before the bytes do: `409 Batch Completed` tells the bytes left.
    pull(&mut c, "S", "C", r#"{"batch":1,"max_bytes":10000}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!(d.ack.sseq, 3);
    let left = format!("Nats-Pending-Bytes: {}", 10000 - counted_size(&d));
    expect_status(
        &mut c,
        "409 Batch Completed",
        &["Nats-Pending-Messages: 0", &left],
    )
    .await;
    c.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn idle_heartbeat_in_a_pull_request() {
    let (s, nc) = setup().await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    let t0 = Instant::now();
    pull(
        &mut c,
        "S",
        "C",
        &format!(
            r#"{{"batch":1,"expires":{},"idle_heartbeat":{}}}"#,
            2000 * MS,
            200 * MS
        ),
    )
    .await;
    expect_status(
        &mut c,
        "100 Idle Heartbeat",
        &["Nats-Last-Consumer: 0", "Nats-Last-Stream: 0"],
    )
    .await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1500),
        "first heartbeat after {took:?}"
    );
    // A message, then heartbeats carry the last delivered sequences.
    publish_n(&nc, "s.a", 1).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 1);
    pull(
        &mut c,
        "S",
        "C",
        &format!(
            r#"{{"batch":1,"expires":{},"idle_heartbeat":{}}}"#,
            2000 * MS,
            200 * MS
        ),
    )
    .await;
    expect_status(
        &mut c,
        "100 Idle Heartbeat",
        &["Nats-Last-Consumer: 1", "Nats-Last-Stream: 1"],
    )
    .await;
    // A heartbeat larger than half the expiry is a bad request.
    pull(
        &mut c,
        "S",
        "C",
        &format!(
            r#"{{"batch":1,"expires":{},"idle_heartbeat":{}}}"#,
            300 * MS,
            200 * MS
        ),
    )
    .await;
    // The pending 2-s request may still heartbeat; skip those.
    let mut f = c.read_raw_frame().await.expect("frame");
    while show(&f).contains("100 Idle Heartbeat") {
        f = c.read_raw_frame().await.expect("frame");
    }
    assert_eq!(
        show(&f),
        show(&status_frame(
            "400 Bad Request - heartbeat value too large",
            &[]
        ))
    );
}

#[tokio::test]
async fn max_waiting_exceeded_is_409() {
    let (s, nc) = setup().await;
    pull_consumer(&nc, "C", json!({"max_waiting": 1})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", &format!(r#"{{"expires":{}}}"#, 5000 * MS)).await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["num_waiting"] == 1).await;
    pull(&mut c, "S", "C", &format!(r#"{{"expires":{}}}"#, 5000 * MS)).await;
    expect_status(&mut c, "409 Exceeded MaxWaiting", &[]).await;
    // The first request is still served.
    publish_n(&nc, "s.a", 1).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 1);
}

#[tokio::test]
async fn consumer_delete_ends_waiting_requests() {
    let (s, nc) = setup().await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":5,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["num_waiting"] == 1).await;
    let v = api(&nc, "$JS.API.CONSUMER.DELETE.S.C", Value::Null).await;
    assert_eq!(v["success"], true, "{v}");
    expect_status(&mut c, "409 Consumer Deleted", &[]).await;
}

#[tokio::test]
async fn request_caps_and_wrong_targets() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(
        &nc,
        "C",
        json!({"max_batch": 10, "max_expires": 2_000_000_000u64, "max_bytes": 1000}),
    )
    .await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        (
            &info["config"]["max_batch"],
            &info["config"]["max_expires"],
            &info["config"]["max_bytes"]
        ),
        (&json!(10), &json!(2_000_000_000u64), &json!(1000))
    );
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "PU", "deliver_subject": "dd"}),
    )
    .await;
    let mut c = raw_js(&s).await;

    pull(&mut c, "S", "C", r#"{"batch":11}"#).await;
    expect_status(&mut c, "409 Exceeded MaxRequestBatch of 10", &[]).await;
    pull(&mut c, "S", "C", &format!(r#"{{"expires":{}}}"#, 3000 * MS)).await;
    expect_status(&mut c, "409 Exceeded MaxRequestExpires of 2s", &[]).await;
    pull(&mut c, "S", "C", r#"{"batch":1,"max_bytes":2000}"#).await;
    expect_status(&mut c, "409 Exceeded MaxRequestMaxBytes of 1000", &[]).await;
    // Within the caps it works.
    pull(&mut c, "S", "C", r#"{"batch":10,"no_wait":true}"#).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 1);
    expect_status(&mut c, "404 No Messages", &[]).await;

    // A push consumer refuses pull requests.
    pull(&mut c, "S", "PU", r#"{"batch":1}"#).await;
    expect_status(&mut c, "409 Consumer is push based", &[]).await;
    // Nobody listens on a missing consumer's MSG.NEXT subject: no responders.
    pull(&mut c, "S", "NOPE", r#"{"batch":1}"#).await;
    let subj = "$JS.API.CONSUMER.MSG.NEXT.S.NOPE";
    expect_status(&mut c, "503", &[&format!("Nats-Subject: {subj}")]).await;
    // A request without a reply subject is ignored.
    c.send(b"PUB $JS.API.CONSUMER.MSG.NEXT.S.C 1\r\n1\r\n")
        .await;
    c.expect_nothing(Duration::from_millis(150)).await;
}

// ---------------------------------------------------------------- acks

#[tokio::test]
async fn explicit_acks_and_double_ack() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 4).await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":4}"#).await;
    let got = read_n(&mut c, 4).await;

    // Acking out of order: the floor waits for the first.
    double_ack_raw(&mut c, &got[1], "+ACK").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (0, 0), 3, 0, 0, 0));
    // An empty body is an ack too.
    double_ack_raw(&mut c, &got[0], "").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (2, 2), 2, 0, 0, 0));
    // Plain ack without reply: no answer.
    ack_raw(&mut c, &got[2], "+ACK").await;
    c.expect_nothing(Duration::from_millis(100)).await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["ack_floor"]["stream_seq"] == 3).await;
    // Acking an already acked message with a reply: still an empty confirmation.
    double_ack_raw(&mut c, &got[0], "+ACK").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (3, 3), 1, 0, 0, 0));
    double_ack_raw(&mut c, &got[3], "+ACK").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (4, 4), 0, 0, 0, 0));
}

#[tokio::test]
async fn nak_redelivers_at_once() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 2).await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.ack.sseq, d.ack.dseq, d.ack.delivered), (1, 1, 1));
    // Acks are processed apart from pull requests: wait for the NAK's confirmation
    // before pulling again (a NAK with a reply subject is confirmed like an ack).
    double_ack_raw(&mut c, &d, "-NAK").await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!(
        (d.ack.sseq, d.ack.dseq, d.ack.delivered, d.ack.pending),
        (1, 2, 2, 1),
        "{}",
        d.ack.subject
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((2, 1), (0, 0), 1, 1, 0, 1));
    double_ack_raw(&mut c, &d, "+ACK").await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.ack.sseq, d.ack.dseq, d.ack.delivered), (2, 3, 1));
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((3, 2), (2, 1), 1, 0, 0, 0));
}

#[tokio::test]
async fn nak_with_delay_redelivers_later() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(&nc, "C", json!({})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    let t0 = Instant::now();
    ack_raw(&mut c, &d, &format!(r#"-NAK {{"delay":{}}}"#, 600 * MS)).await;
    pull(&mut c, "S", "C", r#"{"batch":1,"no_wait":true}"#).await;
    expect_status(&mut c, "404 No Messages", &[]).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 3000 * MS),
    )
    .await;
    let d = read_delivered(&mut c).await;
    let took = t0.elapsed();
    assert_eq!((d.ack.sseq, d.ack.delivered), (1, 2));
    assert!(
        took >= Duration::from_millis(500),
        "redelivered after {took:?}"
    );
}

#[tokio::test]
async fn wpi_extends_the_ack_wait() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(&nc, "C", json!({"ack_wait": 800 * MS})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    let t0 = Instant::now();
    // A waiting request would get the redelivery; +WPI every 250 ms keeps it away.
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        double_ack_raw(&mut c, &d, "+WPI").await;
    }
    // 1 s in, past the 800 ms ack wait: not redelivered.
    c.expect_nothing(Duration::from_millis(100)).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((1, 1), (0, 0), 1, 0, 1, 0));
    // Without progress reports it comes back after the ack wait.
    let d2 = read_delivered(&mut c).await;
    let took = t0.elapsed();
    assert_eq!((d2.ack.sseq, d2.ack.delivered), (1, 2));
    assert!(
        took >= Duration::from_millis(1400),
        "redelivered after {took:?}"
    );
}

#[tokio::test]
async fn term_stops_redelivery_with_an_advisory() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 2).await;
    pull_consumer(&nc, "C", json!({"ack_wait": 300 * MS})).await;
    let mut adv = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C")
        .await
        .unwrap();
    sync(&nc).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    double_ack_raw(&mut c, &d, "+TERM too broken").await;
    let m = next_msg(&mut adv, T).await;
    let v = parse(&m.payload);
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.terminated");
    assert_eq!(
        (
            &v["stream"],
            &v["consumer"],
            &v["consumer_seq"],
            &v["stream_seq"],
            &v["deliveries"],
            &v["reason"]
        ),
        (
            &json!("S"),
            &json!("C"),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!("too broken")
        ),
        "{v}"
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((1, 1), (1, 1), 0, 0, 0, 1));
    // Well past the ack wait, the next request gets message 2, not 1 again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    pull(&mut c, "S", "C", r#"{"batch":2,"no_wait":true}"#).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 2);
    expect_status(&mut c, "404 No Messages", &[]).await;
}

/// `sample_freq: "100%"`: every explicit ack is reported on the ack metric subject
/// with the delivery's sequences and how long the ack took; other acks are not.
#[tokio::test]
async fn sample_freq_reports_acks_on_the_metric_subject() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 2).await;
    pull_consumer(&nc, "C", json!({"sample_freq": "100%"})).await;
    let mut metric = nc
        .subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.S.C")
        .await
        .unwrap();
    sync(&nc).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":2}"#).await;
    let d = read_n(&mut c, 2).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    double_ack_raw(&mut c, &d[1], "+ACK").await;
    let v = parse(&next_msg(&mut metric, T).await.payload);
    assert_eq!(v["type"], "io.nats.jetstream.metric.v1.consumer_ack", "{v}");
    assert_eq!(
        (
            &v["stream"],
            &v["consumer"],
            &v["consumer_seq"],
            &v["stream_seq"],
            &v["deliveries"]
        ),
        (&json!("S"), &json!("C"), &json!(2), &json!(2), &json!(1)),
        "{v}"
    );
    assert!(v["ack_time"].as_i64().unwrap() >= 20_000_000, "{v}");
    // A second ack of the same message is not pending any more: no metric.
    double_ack_raw(&mut c, &d[1], "+ACK").await;
    assert_no_msg(&mut metric, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn ack_wait_redelivers() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(&nc, "C", json!({"ack_wait": 300 * MS})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    let t0 = Instant::now();
    assert_eq!(d.ack.delivered, 1);
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 3000 * MS),
    )
    .await;
    let d = read_delivered(&mut c).await;
    let took = t0.elapsed();
    assert_eq!((d.ack.sseq, d.ack.dseq, d.ack.delivered), (1, 2, 2));
    assert!(
        took >= Duration::from_millis(200),
        "redelivered after {took:?}"
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((2, 1), (0, 0), 1, 1, 0, 0));
    double_ack_raw(&mut c, &d, "").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((2, 1), (2, 1), 0, 0, 0, 0));
}

#[tokio::test]
async fn backoff_and_max_deliver_advisory() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    let info = pull_consumer(
        &nc,
        "C",
        json!({"backoff": [200 * MS, 700 * MS], "max_deliver": 3}),
    )
    .await;
    // ack_wait becomes the first backoff value.
    assert_eq!(info["config"]["ack_wait"], 200 * MS);
    let mut adv = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.C")
        .await
        .unwrap();
    sync(&nc).await;
    let mut c = raw_js(&s).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":3,"expires":{}}}"#, 4000 * MS),
    )
    .await;
    let mut at = Vec::new();
    for dc in 1..=3 {
        let d = read_delivered(&mut c).await;
        at.push(Instant::now());
        assert_eq!((d.ack.sseq, d.ack.delivered), (1, dc));
    }
    // Go sends MAX_DELIVERIES (and stops counting the message as pending an ack) when it
    // would deliver the message a fourth time, which for a pull consumer needs a waiting
    // request: without one, the message stays in num_ack_pending.
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 2000 * MS),
    )
    .await;
    let gap1 = at[1] - at[0];
    let gap2 = at[2] - at[1];
    assert!(
        gap1 >= Duration::from_millis(150) && gap1 < Duration::from_millis(650),
        "first backoff {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(600),
        "second backoff {gap2:?}"
    );

    let m = next_msg(&mut adv, Duration::from_secs(3)).await;
    let v = parse(&m.payload);
    assert_eq!(
        key_set(&v),
        [
            "consumer",
            "deliveries",
            "id",
            "stream",
            "stream_seq",
            "timestamp",
            "type"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    assert_eq!(v["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(
        (
            &v["stream"],
            &v["consumer"],
            &v["stream_seq"],
            &v["deliveries"]
        ),
        (&json!("S"), &json!("C"), &json!(1), &json!(3))
    );
    let since_third = at[2].elapsed();
    assert!(
        since_third >= Duration::from_millis(600),
        "advisory after {since_third:?}"
    );
    // No fourth delivery. The message is no longer pending an ack, yet Go leaves the
    // ack floor where it was.
    c.expect_nothing(Duration::from_millis(300)).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((3, 1), (0, 0), 0, 1, 1, 0));
}

#[tokio::test]
async fn max_ack_pending_blocks_deliveries() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 4).await;
    pull_consumer(&nc, "C", json!({"max_ack_pending": 2})).await;
    let mut c = raw_js(&s).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":4,"expires":{}}}"#, 400 * MS),
    )
    .await;
    let got = read_n(&mut c, 2).await;
    assert_eq!(got.iter().map(|d| d.ack.sseq).collect::<Vec<_>>(), [1, 2]);
    expect_status(
        &mut c,
        "408 Request Timeout",
        &["Nats-Pending-Messages: 2", "Nats-Pending-Bytes: 0"],
    )
    .await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((2, 2), (0, 0), 2, 0, 0, 2));

    // A waiting request gets the next message as soon as one is acked.
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":4,"expires":{}}}"#, 3000 * MS),
    )
    .await;
    c.expect_nothing(Duration::from_millis(150)).await;
    ack_raw(&mut c, &got[0], "+ACK").await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 3);
    c.expect_nothing(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn ack_all_acks_everything_before() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 4).await;
    create_consumer(&nc, "S", json!({"durable_name": "C", "ack_policy": "all"})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":4}"#).await;
    let got = read_n(&mut c, 4).await;
    double_ack_raw(&mut c, &got[2], "+ACK").await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (3, 3), 1, 0, 0, 0));
    assert_eq!(info["config"]["ack_policy"], "all");
}

#[tokio::test]
async fn ack_none_needs_no_acks() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 3).await;
    let info = create_consumer(&nc, "S", json!({"durable_name": "C", "ack_policy": "none"})).await;
    assert!(info["config"].get("ack_wait").is_none(), "{info}");
    assert!(info["config"].get("max_ack_pending").is_none(), "{info}");
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":3}"#).await;
    let got = read_n(&mut c, 3).await;
    assert_eq!(
        got.iter().map(|d| d.ack.sseq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((3, 3), (3, 3), 0, 0, 0, 0));
}

// ---------------------------------------------------------------- what gets delivered

/// Pulls with no_wait until 404 and returns (subject, stream seq) of what came.
async fn drain(c: &mut RawConn, consumer: &str) -> Vec<(String, u64)> {
    pull(c, "S", consumer, r#"{"batch":100,"no_wait":true}"#).await;
    let mut out = Vec::new();
    loop {
        let raw = c.read_raw_frame().await.expect("frame");
        match parse_frame(&raw) {
            Frame::Msg {
                subject,
                reply: Some(r),
                ..
            }
            | Frame::HMsg {
                subject,
                reply: Some(r),
                ..
            } => out.push((subject, parse_ack(&r).sseq)),
            _ => {
                assert_eq!(show(&raw), show(&status_frame("404 No Messages", &[])));
                return out;
            }
        }
    }
}

fn seqs(v: &[(String, u64)]) -> Vec<u64> {
    v.iter().map(|(_, s)| *s).collect()
}

#[tokio::test]
async fn deliver_policies() {
    let (s, nc) = setup().await;
    for subj in ["s.a", "s.b", "s.a", "s.c", "s.b"] {
        publish_req(&nc, subj, &[], b"x").await;
    }
    // The store time of message 3, for by_start_time.
    let m3 = msg_get(&nc, "S", json!({"seq": 3})).await;
    let t3 = m3["message"]["time"].as_str().expect("time").to_string();

    let mut c = raw_js(&s).await;
    let cases: Vec<(&str, Value, Vec<u64>, u64)> = vec![
        (
            "ALL",
            json!({"deliver_policy": "all"}),
            vec![1, 2, 3, 4, 5],
            5,
        ),
        ("LAST", json!({"deliver_policy": "last"}), vec![5], 1),
        ("NEW", json!({"deliver_policy": "new"}), vec![], 0),
        (
            "SEQ",
            json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 3}),
            vec![3, 4, 5],
            3,
        ),
        (
            "TIME",
            json!({"deliver_policy": "by_start_time", "opt_start_time": t3}),
            vec![3, 4, 5],
            3,
        ),
        (
            "LPS",
            json!({"deliver_policy": "last_per_subject", "filter_subject": "s.>"}),
            vec![3, 4, 5],
            3,
        ),
        (
            "LPSA",
            json!({"deliver_policy": "last_per_subject", "filter_subject": "s.a"}),
            vec![3],
            1,
        ),
    ];
    for (name, extra, want, pending) in &cases {
        let info = pull_consumer(&nc, name, extra.clone()).await;
        assert_eq!(info["num_pending"], *pending, "{name}: {info}");
        assert_eq!(seqs(&drain(&mut c, name).await), *want, "{name}");
    }
    // `new` and `last` see what comes next.
    publish_req(&nc, "s.d", &[], b"x").await;
    assert_eq!(seqs(&drain(&mut c, "NEW").await), [6]);
    assert_eq!(seqs(&drain(&mut c, "LAST").await), [6]);
    assert_eq!(seqs(&drain(&mut c, "LPSA").await), Vec::<u64>::new());
    let info = consumer_info(&nc, "S", "NEW").await;
    assert_eq!(counters(&info), want_counters((1, 6), (0, 5), 1, 0, 0, 0));
}

#[tokio::test]
async fn filter_subject_and_filter_subjects() {
    let (s, nc) = setup().await;
    for subj in ["s.a", "s.b", "s.a", "s.c", "s.b.x"] {
        publish_req(&nc, subj, &[], b"x").await;
    }
    let mut c = raw_js(&s).await;
    let info = pull_consumer(&nc, "A", json!({"filter_subject": "s.a"})).await;
    assert_eq!(info["num_pending"], 2);
    let got = drain(&mut c, "A").await;
    assert_eq!(got, [("s.a".to_string(), 1), ("s.a".to_string(), 3)]);

    let info = pull_consumer(&nc, "AC", json!({"filter_subjects": ["s.a", "s.c"]})).await;
    assert_eq!(info["num_pending"], 3);
    assert_eq!(seqs(&drain(&mut c, "AC").await), [1, 3, 4]);

    let info = pull_consumer(&nc, "W", json!({"filter_subject": "s.b.*"})).await;
    assert_eq!(info["num_pending"], 1);
    assert_eq!(seqs(&drain(&mut c, "W").await), [5]);

    // The ack subject's pending count is the filtered count.
    publish_req(&nc, "s.a", &[], b"x").await;
    publish_req(&nc, "s.b", &[], b"x").await;
    publish_req(&nc, "s.a", &[], b"x").await;
    pull(&mut c, "S", "A", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.ack.sseq, d.ack.dseq, d.ack.pending), (6, 3, 1));
    let info = consumer_info(&nc, "S", "A").await;
    assert_eq!(counters(&info), want_counters((3, 6), (0, 0), 3, 0, 0, 1));
}

#[tokio::test]
async fn headers_only_sends_size_header_and_no_body() {
    let (s, nc) = setup().await;
    publish_req(&nc, "s.a", &[("X-Thing", "yes")], b"hello").await;
    publish_req(&nc, "s.b", &[], b"abc").await;
    pull_consumer(&nc, "C", json!({"headers_only": true})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":2}"#).await;
    let got = read_n(&mut c, 2).await;
    let (status, lines) = split_headers(&got[0].headers);
    assert_eq!(status, "NATS/1.0");
    assert_eq!(lines, ["X-Thing: yes", "Nats-Msg-Size: 5"]);
    assert!(got[0].payload.is_empty());
    let (status, lines) = split_headers(&got[1].headers);
    assert_eq!(status, "NATS/1.0");
    assert_eq!(lines, ["Nats-Msg-Size: 3"]);
    assert!(got[1].payload.is_empty());
}

#[tokio::test]
async fn replay_original_keeps_the_gaps() {
    let (s, nc) = setup().await;
    // The gaps between the stored messages are what is being replayed.
    publish_n(&nc, "s.a", 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    publish_n(&nc, "s.a", 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    publish_n(&nc, "s.a", 1).await;
    pull_consumer(&nc, "C", json!({"replay_policy": "original"})).await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":3}"#).await;
    let mut at = Vec::new();
    for _ in 0..3 {
        read_delivered(&mut c).await;
        at.push(Instant::now());
    }
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(250) && gap < Duration::from_millis(1500),
            "replayed gap {gap:?}"
        );
    }
}

// ---------------------------------------------------------------- async-nats

#[tokio::test]
async fn async_nats_fetch_batch_and_messages() {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    let (_s, nc) = setup().await;
    let ctx = js(&nc);
    publish_n(&nc, "s.a", 5).await;
    let stream = ctx.get_stream("S").await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();

    // fetch: what is there now, up to 3.
    let mut batch = consumer.fetch().max_messages(3).messages().await.unwrap();
    let mut n = 0;
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        n += 1;
        let info = m.info().unwrap();
        assert_eq!((info.stream_sequence, info.delivered), (n, 1));
        m.double_ack().await.unwrap();
    }
    assert_eq!(n, 3);

    // batch: waits up to `expires` for up to 10.
    let t0 = Instant::now();
    let mut batch = consumer
        .batch()
        .max_messages(10)
        .expires(Duration::from_millis(400))
        .messages()
        .await
        .unwrap();
    let mut seqs = Vec::new();
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        seqs.push(m.info().unwrap().stream_sequence);
        m.ack().await.unwrap();
    }
    assert_eq!(seqs, [4, 5]);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // messages(): a continuous stream, also of what is published later.
    let mut msgs = consumer.messages().await.unwrap();
    publish_n(&nc, "s.b", 4).await;
    for want in 6..=9u64 {
        let m = tokio::time::timeout(T, msgs.next())
            .await
            .expect("message in time")
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, want);
        assert_eq!(&m.subject[..], "s.b");
        m.double_ack().await.unwrap();
    }
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap().clone();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.ack_floor.stream_sequence, 9);
    assert_eq!(info.num_pending, 0);
}
