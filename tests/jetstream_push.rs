//! JetStream push consumers, black-box: delivery to `deliver_subject` (raw frames),
//! `deliver_group` queue delivery, `push_bound`, no delivery without interest, idle
//! heartbeats and flow control (`100 Idle Heartbeat` with `Nats-Last-Consumer`/
//! `Nats-Last-Stream`/`Nats-Consumer-Stalled`, `100 FlowControl Request` answered by the
//! client), and async-nats push, push-ordered and pull-ordered consumers (the latter
//! recreating itself after a consumer delete).
//!
//! Every expectation was captured from the Go reference nats-server 2.15.1
//! (`-js -sd <dir>`). Each test runs its own server.

mod consumer_common;
mod jetstream_common;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, push, AckPolicy};
use consumer_common::*;
use futures::StreamExt;
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

async fn setup() -> (Server, async_nats::Client) {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    (s, nc)
}

/// A raw connection subscribed to `subject` as sid 2 (and `_INBOX.x` as sid 1).
async fn raw_sub(s: &Server, subject: &str, queue: Option<&str>) -> RawConn {
    let mut c = raw_js(s).await;
    let q = queue.map(|q| format!("{q} ")).unwrap_or_default();
    c.send(format!("SUB {subject} {q}2\r\n").as_bytes()).await;
    c.ping_pong().await;
    c
}

/// The exact bytes of a status frame delivered on `subject` (sid 2) without reply.
fn push_status(subject: &str, status: &str, lines: &[&str]) -> Vec<u8> {
    let mut h = format!("NATS/1.0 {status}\r\n");
    for l in lines {
        h.push_str(l);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    format!("HMSG {subject} 2 {0} {0}\r\n{h}\r\n", h.len()).into_bytes()
}

#[tokio::test]
async fn push_delivers_to_the_deliver_subject() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 3).await;
    let mut c = raw_sub(&s, "d.p", None).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "deliver_subject": "d.p", "ack_policy": "explicit"}),
    )
    .await;
    let mut got = Vec::new();
    for i in 1..=3u64 {
        let raw = c.read_raw_frame().await.expect("frame");
        let text = show(&raw);
        // MSG s.a 2 $JS.ACK.S.C.1.<i>.<i>.<ts>.<pending> 2
        match parse_frame(&raw) {
            Frame::Msg {
                subject,
                sid,
                reply: Some(reply),
                payload,
            } => {
                assert_eq!((subject.as_str(), sid.as_str()), ("s.a", "2"), "{text}");
                assert_eq!(payload, format!("m{i}").into_bytes());
                let a = parse_ack(&reply);
                assert_eq!(
                    (
                        a.stream.as_str(),
                        a.consumer.as_str(),
                        a.delivered,
                        a.sseq,
                        a.dseq,
                        a.pending
                    ),
                    ("S", "C", 1, i, i, 3 - i)
                );
                got.push(Delivered {
                    subject,
                    headers: vec![],
                    payload,
                    ack: a,
                });
            }
            _ => panic!("expected a MSG, got {text}"),
        }
    }
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((3, 3), (0, 0), 3, 0, 0, 0));
    assert_eq!(info["push_bound"], true);
    for d in &got {
        double_ack_raw(&mut c, d, "").await;
    }
    // New messages flow as they are stored.
    publish_n(&nc, "s.b", 1).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.subject.as_str(), d.ack.sseq, d.ack.dseq), ("s.b", 4, 4));
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (3, 3), 1, 0, 0, 0));
}

#[tokio::test]
async fn push_bound_follows_the_subscriber() {
    let (s, nc) = setup().await;
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "deliver_subject": "d.p"}),
    )
    .await;
    assert!(v.get("push_bound").is_none(), "{v}");
    let mut c = raw_sub(&s, "d.p", None).await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["push_bound"] == true).await;
    c.send(b"UNSUB 2\r\n").await;
    c.ping_pong().await;
    wait_for_consumer(&nc, "S", "C", T, |i| i.get("push_bound").is_none()).await;
}

#[tokio::test]
async fn no_delivery_without_interest() {
    let (s, nc) = setup().await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "deliver_subject": "d.p", "ack_policy": "explicit"}),
    )
    .await;
    publish_n(&nc, "s.a", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((0, 0), (0, 0), 0, 0, 0, 3));
    // A subscriber appears: everything comes, delivered once. (No PING after the SUB:
    // the messages may come before the PONG.)
    let mut c = raw_js(&s).await;
    c.send(b"SUB d.p 2\r\n").await;
    let got = read_n(&mut c, 3).await;
    assert_eq!(
        got.iter()
            .map(|d| (d.ack.sseq, d.ack.delivered))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 1), (3, 1)]
    );
    c.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn deliver_group_sends_each_message_to_one_member() {
    let (s, nc) = setup().await;
    let mut a = raw_sub(&s, "d.q", Some("grp")).await;
    let mut b = raw_sub(&s, "d.q", Some("grp")).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "deliver_subject": "d.q", "deliver_group": "grp",
               "ack_policy": "none"}),
    )
    .await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["push_bound"] == true).await;
    publish_n(&nc, "s.a", 20).await;
    wait_for_consumer(&nc, "S", "C", T, |i| i["delivered"]["stream_seq"] == 20).await;
    let mut seqs = Vec::new();
    for c in [&mut a, &mut b] {
        loop {
            let saved = c.timeout;
            c.timeout = Duration::from_millis(200);
            let f = c.read_raw_frame().await;
            c.timeout = saved;
            match f {
                Ok(raw) => match parse_frame(&raw) {
                    Frame::Msg { reply: Some(r), .. } => seqs.push(parse_ack(&r).sseq),
                    other => panic!("unexpected {other:?}"),
                },
                Err(_) => break,
            }
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>(), "each exactly once");
}

#[tokio::test]
async fn idle_heartbeats_and_flow_control() {
    let (s, nc) = setup().await;
    let mut c = raw_sub(&s, "d.f", None).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "deliver_subject": "d.f", "ack_policy": "none",
               "flow_control": true, "idle_heartbeat": 200 * MS}),
    )
    .await;
    // Idle: heartbeats with the last sequences (0 before any delivery).
    let t0 = tokio::time::Instant::now();
    c.expect_bytes(&push_status(
        "d.f",
        "100 Idle Heartbeat",
        &["Nats-Last-Consumer: 0", "Nats-Last-Stream: 0"],
    ))
    .await;
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );

    // 40 messages of 64 KiB: Go asks for flow control past 1 MiB in flight and stops
    // delivering past 2 MiB until the request is answered.
    let body = vec![b'z'; 64 * 1024];
    for _ in 0..40 {
        publish_req(&nc, "s.a", &[], &body).await;
    }
    let mut delivered = 0u64;
    let mut fc_reply = None;
    let mut stalled = false;
    loop {
        let saved = c.timeout;
        c.timeout = Duration::from_millis(400);
        let f = c.read_raw_frame().await;
        c.timeout = saved;
        let raw = match f {
            Ok(raw) => raw,
            Err(_) => break,
        };
        match parse_frame(&raw) {
            Frame::Msg { reply: Some(r), .. } => {
                delivered += 1;
                assert_eq!(parse_ack(&r).sseq, delivered);
            }
            Frame::HMsg {
                subject,
                reply,
                headers,
                payload,
                ..
            } => {
                let (status, lines) = split_headers(&headers);
                assert_eq!(subject, "d.f");
                assert!(payload.is_empty());
                if status == "NATS/1.0 100 FlowControl Request" {
                    assert!(lines.is_empty(), "{lines:?}");
                    let r = reply.expect("flow control has a reply subject");
                    assert!(r.starts_with("$JS.FC.S.C."), "{r}");
                    assert!(fc_reply.is_none(), "one request at a time");
                    assert!(delivered >= 15, "asked after {delivered} messages");
                    fc_reply = Some(r);
                } else {
                    assert_eq!(status, "NATS/1.0 100 Idle Heartbeat", "{}", show(&raw));
                    // Stalled: the heartbeat names the unanswered request.
                    let fc = fc_reply.clone().expect("stalled only after a request");
                    assert_eq!(
                        lines,
                        [
                            format!("Nats-Last-Consumer: {delivered}"),
                            format!("Nats-Last-Stream: {delivered}"),
                            format!("Nats-Consumer-Stalled: {fc}"),
                        ]
                    );
                    stalled = true;
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let fc = fc_reply.expect("a flow control request");
    assert!(stalled, "a stalled heartbeat after {delivered} messages");
    assert!(delivered < 40, "stalled before the end: {delivered}");
    // Answering it lets the rest through (answering later requests as they come).
    c.send(format!("PUB {fc} 0\r\n\r\n").as_bytes()).await;
    while delivered < 40 {
        let raw = c.read_raw_frame().await.expect("frame");
        match parse_frame(&raw) {
            Frame::Msg { reply: Some(r), .. } => {
                delivered += 1;
                assert_eq!(parse_ack(&r).sseq, delivered);
            }
            Frame::HMsg {
                reply: Some(r),
                headers,
                ..
            } => {
                assert_eq!(
                    split_headers(&headers).0,
                    "NATS/1.0 100 FlowControl Request"
                );
                c.send(format!("PUB {r} 0\r\n\r\n").as_bytes()).await;
            }
            Frame::HMsg { headers, .. } => {
                assert_eq!(split_headers(&headers).0, "NATS/1.0 100 Idle Heartbeat");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        counters(&info),
        want_counters((40, 40), (40, 40), 0, 0, 0, 0)
    );
}

#[tokio::test]
async fn async_nats_push_consumer() {
    let (_s, nc) = setup().await;
    publish_n(&nc, "s.a", 3).await;
    let stream = js(&nc).get_stream("S").await.unwrap();
    let consumer = stream
        .create_consumer(push::Config {
            durable_name: Some("C".into()),
            deliver_subject: "d.push".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    for want in 1..=3u64 {
        let m = tokio::time::timeout(T, msgs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, want);
        m.double_ack().await.unwrap();
    }
    publish_n(&nc, "s.b", 1).await;
    let m = tokio::time::timeout(T, msgs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((&m.subject[..], &m.payload[..]), ("s.b", &b"m1"[..]));
    m.double_ack().await.unwrap();
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((4, 4), (4, 4), 0, 0, 0, 0));
}

#[tokio::test]
async fn async_nats_push_ordered_consumer_with_flow_control() {
    let (_s, nc) = setup().await;
    // Over 1 MiB, so that the server asks for flow control and the client answers.
    let body = vec![b'o'; 64 * 1024];
    for _ in 0..30 {
        publish_req(&nc, "s.a", &[], &body).await;
    }
    publish_req(&nc, "s.b", &[], b"last").await;
    let stream = js(&nc).get_stream("S").await.unwrap();
    let ordered = stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: nc.new_inbox(),
            ..Default::default()
        })
        .await
        .unwrap();
    // What the server made of it: an ephemeral push consumer, ack none, flow control.
    let names = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    let name = names["consumers"][0].as_str().unwrap().to_string();
    let info = consumer_info(&nc, "S", &name).await;
    let c = &info["config"];
    assert_eq!(
        (
            &c["ack_policy"],
            &c["flow_control"],
            &c["idle_heartbeat"],
            &c["mem_storage"]
        ),
        (
            &json!("none"),
            &json!(true),
            &json!(5_000_000_000u64),
            &json!(true)
        ),
        "{info}"
    );
    assert!(c.get("durable_name").is_none());

    let mut msgs = ordered.messages().await.unwrap();
    for want in 1..=31u64 {
        let m = tokio::time::timeout(T, msgs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let i = m.info().unwrap();
        assert_eq!((i.stream_sequence, i.consumer_sequence), (want, want));
    }
    publish_req(&nc, "s.c", &[], b"more").await;
    let m = tokio::time::timeout(T, msgs.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"more");
}

#[tokio::test]
async fn async_nats_pull_ordered_consumer_recreates_after_delete() {
    let (_s, nc) = setup().await;
    publish_n(&nc, "s.a", 3).await;
    let stream = js(&nc).get_stream("S").await.unwrap();
    let ordered = stream
        .create_consumer(pull::OrderedConfig {
            name: Some("ord".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = ordered.messages().await.unwrap();
    for want in 1..=3u64 {
        let m = tokio::time::timeout(T, msgs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, want);
    }
    // Delete it under the client's feet: its waiting pull gets `409 Consumer Deleted`
    // and the client makes a new consumer starting after what it saw.
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.S.ord", Value::Null).await);
    publish_n(&nc, "s.b", 2).await;
    let mut seen = BTreeSet::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(5), msgs.next())
            .await
            .expect("message after recreate")
            .unwrap()
            .unwrap();
        let i = m.info().unwrap();
        seen.insert(i.stream_sequence);
        assert_eq!(&m.subject[..], "s.b");
    }
    assert_eq!(seen, [4, 5].into_iter().collect());
    let names = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(names["consumers"], json!(["ord_1"]), "{names}");
    let info = consumer_info(&nc, "S", "ord_1").await;
    assert_eq!(info["config"]["deliver_policy"], "by_start_sequence");
    assert_eq!(info["config"]["opt_start_seq"], 4);
}

/// `rate_limit_bps` paces a push consumer (Go's token bucket: a burst of the
/// stream's `max_msg_size`, then the rate): 20 deliveries of about 480 bytes at
/// 10,000 bytes a second take most of a second, instead of arriving at once.
#[tokio::test]
async fn rate_limit_bps_paces_deliveries() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "R", "subjects": ["r.>"], "max_msg_size": 1000}),
    )
    .await;
    for _ in 0..20 {
        nc.publish("r.a", bytes::Bytes::from(vec![b'x'; 400]))
            .await
            .unwrap();
    }
    sync(&nc).await;
    let mut sub = nc.subscribe("d.rate").await.unwrap();
    sync(&nc).await;
    let started = tokio::time::Instant::now();
    create_consumer(
        &nc,
        "R",
        json!({"durable_name": "C", "deliver_subject": "d.rate", "ack_policy": "none",
               "rate_limit_bps": 80_000}),
    )
    .await;
    for i in 0..20 {
        let m = next_msg(&mut sub, Duration::from_secs(5)).await;
        assert_eq!(m.payload.len(), 400, "message {i}");
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took <= Duration::from_secs(4),
        "20 × ~480 B at 10 kB/s with a 1000 B burst took {took:?}"
    );
}
