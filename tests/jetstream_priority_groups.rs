//! Pull consumers with priority groups, black-box: `overflow` (`min_pending`,
//! `min_ack_pending`), `pinned_client` (`Nats-Pin-Id`, 423s, `priority_timeout`,
//! `$JS.API.CONSUMER.UNPIN`, the PINNED/UNPINNED advisories, ConsumerInfo
//! `priority_groups`), `prioritized` (`priority` 0–9), how concurrent pull
//! requests share messages, and `$JS.API.CONSUMER.RESET`. Several requests wait at once, so each gets its own
//! reply subject (and subscription id) on one raw connection.
//!
//! Every expectation was first probed against nats-server 2.15.1; the tests run
//! against it too (`JETCORE_TEST_SERVER=go`).

mod consumer_common;
mod jetstream_common;

use std::time::Duration;

use consumer_common::*;
use futures::StreamExt;
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// A server with stream `S` on `s.>`, a pull consumer `C` with explicit acks and
/// `extra` config, an async-nats client and a raw connection.
async fn setup(extra: Value) -> (Server, async_nats::Client, RawConn) {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    let mut cfg = json!({"durable_name": "C", "ack_policy": "explicit"});
    for (k, v) in extra.as_object().expect("object") {
        cfg[k] = v.clone();
    }
    create_consumer(&nc, "S", cfg).await;
    let c = raw_js(&s).await;
    (s, nc, c)
}

/// Subscribe the raw connection to `_INBOX.<name>` with subscription id `sid`.
async fn inbox(c: &mut RawConn, name: &str, sid: u32) {
    c.send(format!("SUB _INBOX.{name} {sid}\r\n").as_bytes())
        .await;
    c.ping_pong().await;
}

/// A pull request for `C` answered on `_INBOX.<name>`.
async fn pull_to(c: &mut RawConn, name: &str, body: &str) {
    let subject = "$JS.API.CONSUMER.MSG.NEXT.S.C";
    let mut v = format!("PUB {subject} _INBOX.{name} {}\r\n", body.len()).into_bytes();
    v.extend_from_slice(body.as_bytes());
    v.extend_from_slice(b"\r\n");
    c.send(&v).await;
}

/// Publish one message to `s.a` with this payload (acknowledged).
async fn publish(nc: &async_nats::Client, payload: &str) {
    let ack = publish_req(nc, "s.a", &[], payload.as_bytes()).await;
    assert!(ack["seq"].is_u64(), "{ack}");
}

/// One frame delivered to the raw connection: its subscription id, header block and
/// payload.
struct Got {
    sid: String,
    headers: String,
    payload: String,
}

async fn next(c: &mut RawConn) -> Got {
    let raw = c.read_raw_frame().await.expect("a frame");
    match parse_frame(&raw) {
        Frame::Msg { sid, payload, .. } => Got {
            sid,
            headers: String::new(),
            payload: String::from_utf8_lossy(&payload).into(),
        },
        Frame::HMsg {
            sid,
            headers,
            payload,
            ..
        } => Got {
            sid,
            headers: String::from_utf8_lossy(&headers).into(),
            payload: String::from_utf8_lossy(&payload).into(),
        },
        _ => panic!("unexpected frame {}", show(&raw)),
    }
}

/// The value of header `name` in a header block, if present.
fn header<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

async fn wait_waiting(nc: &async_nats::Client, n: u64) {
    for _ in 0..100 {
        if consumer_info(nc, "S", "C").await["num_waiting"] == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("num_waiting never reached {n}");
}

/// The next advisory on `sub`, parsed.
async fn next_advisory(sub: &mut async_nats::Subscriber) -> Value {
    let m = tokio::time::timeout(Duration::from_secs(3), sub.next())
        .await
        .expect("an advisory in time")
        .expect("subscription open");
    parse(&m.payload)
}

async fn unpin(nc: &async_nats::Client, stream: &str, consumer: &str, body: &[u8]) -> Value {
    api_raw(
        nc,
        &format!("$JS.API.CONSUMER.UNPIN.{stream}.{consumer}"),
        bytes::Bytes::copy_from_slice(body),
    )
    .await
}

// ---------------------------------------------------------------- overflow

#[tokio::test]
async fn overflow_serves_a_request_only_while_its_thresholds_are_met() {
    let (_s, nc, mut c) =
        setup(json!({"priority_policy": "overflow", "priority_groups": ["A"]})).await;
    inbox(&mut c, "a", 11).await;
    publish_n(&nc, "s.a", 2).await;

    // Two pending: `min_pending: 2` is met for the first message only (Go counts the
    // message being placed), so the batch of 5 ends with 408 and 4 still wanted.
    pull_to(
        &mut c,
        "a",
        r#"{"batch":5,"group":"A","min_pending":2,"expires":500000000}"#,
    )
    .await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("11", "m1"));
    let t = next(&mut c).await;
    assert_eq!(
        t.headers,
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );

    // One message awaits its ack: `min_ack_pending: 1` takes the second message.
    pull_to(
        &mut c,
        "a",
        r#"{"batch":1,"group":"A","min_ack_pending":1,"expires":500000000}"#,
    )
    .await;
    assert_eq!(next(&mut c).await.payload, "m2");

    // A request held back by its threshold stays queued; a later one that qualifies
    // (a plain batch has no priority group) takes the message.
    inbox(&mut c, "b", 12).await;
    pull_to(
        &mut c,
        "a",
        r#"{"batch":1,"group":"A","min_pending":10,"expires":800000000}"#,
    )
    .await;
    pull_to(&mut c, "b", "1").await;
    wait_waiting(&nc, 2).await;
    publish_n(&nc, "s.b", 1).await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("12", "m1"));
    let t = next(&mut c).await;
    assert_eq!(t.sid, "11");
    assert!(
        t.headers.starts_with("NATS/1.0 408 Request Timeout\r\n"),
        "{}",
        t.headers
    );

    // A held-back no_wait request without expires ends with 404 at once.
    publish_n(&nc, "s.c", 1).await;
    pull_to(
        &mut c,
        "a",
        r#"{"batch":1,"group":"A","min_pending":5,"no_wait":true}"#,
    )
    .await;
    assert_eq!(
        next(&mut c).await.headers,
        "NATS/1.0 404 No Messages\r\n\r\n"
    );

    // The request's group and fields are checked against the policy.
    for (body, why) in [
        (r#"{"batch":1}"#, "Priority Group missing"),
        (r#"{"batch":1,"group":"B"}"#, "Invalid Priority Group"),
        (
            r#"{"batch":1,"group":"A","id":"x"}"#,
            "Not a Pinned Client Priority consumer",
        ),
        (
            r#"{"batch":1,"group":"A","priority":10}"#,
            "Priority must be between 0 and 9",
        ),
    ] {
        pull_to(&mut c, "a", body).await;
        let t = next(&mut c).await;
        assert_eq!(
            t.headers,
            format!("NATS/1.0 400 Bad Request - {why}\r\n\r\n"),
            "{body}"
        );
    }
    c.expect_nothing(Duration::from_millis(100)).await;
}

// ---------------------------------------------------------------- pinned client

#[tokio::test]
async fn pinned_client_serves_one_client_until_unpinned() {
    let (_s, nc, mut c) =
        setup(json!({"priority_policy": "pinned_client", "priority_groups": ["A", "B"]})).await;
    let mut pinned = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.PINNED.S.C")
        .await
        .unwrap();
    let mut unpinned = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.C")
        .await
        .unwrap();
    nc.flush().await.unwrap();
    inbox(&mut c, "a", 11).await;
    inbox(&mut c, "b", 12).await;

    // Nobody is pinned while no message flows.
    pull_to(
        &mut c,
        "a",
        r#"{"batch":2,"group":"A","expires":10000000000}"#,
    )
    .await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        info["priority_groups"],
        json!([{"group": "A", "pinned_ts": "0001-01-01T00:00:00Z"}])
    );

    // The first message pins the waiting client; every delivery names the pin.
    publish(&nc, "p1").await;
    let m = next(&mut c).await;
    assert_eq!(m.sid, "11");
    let pin = header(&m.headers, "Nats-Pin-Id")
        .expect("pin header")
        .to_string();
    assert_eq!(pin.len(), 22, "a NUID");
    let adv = next_advisory(&mut pinned).await;
    assert_eq!(
        (
            &adv["type"],
            &adv["account"],
            &adv["group"],
            &adv["pinned_id"]
        ),
        (
            &json!("io.nats.jetstream.advisory.v1.consumer_group_pinned"),
            &json!("$G"),
            &json!("A"),
            &json!(pin)
        )
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(info["priority_groups"][0]["pinned_client_id"], json!(pin));

    // Another client without the id waits; with a wrong id it is refused at once.
    pull_to(
        &mut c,
        "b",
        r#"{"batch":1,"group":"B","expires":10000000000}"#,
    )
    .await;
    pull_to(&mut c, "b", r#"{"batch":1,"group":"A","id":"not-the-pin"}"#).await;
    let t = next(&mut c).await;
    assert_eq!(
        (t.sid.as_str(), t.headers.as_str()),
        ("12", "NATS/1.0 423 Nats-Pin-Id mismatch\r\n\r\n")
    );
    publish(&nc, "p2").await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("11", "p2"));
    assert_eq!(header(&m.headers, "Nats-Pin-Id"), Some(pin.as_str()));

    // The pinned client asks again with its id, through the other group.
    pull_to(
        &mut c,
        "a",
        &format!(r#"{{"batch":5,"group":"B","id":"{pin}","expires":10000000000}}"#),
    )
    .await;
    publish(&nc, "p3").await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("11", "p3"));

    // UNPIN: the next message pins the client that waited without an id (it was
    // ahead in the queue); the request still holding the old id is told at the next
    // message after that.
    assert_eq!(
        unpin(&nc, "S", "C", br#"{"group":"B"}"#).await,
        json!({"type": "io.nats.jetstream.api.v1.consumer_unpin_response"})
    );
    let adv = next_advisory(&mut unpinned).await;
    assert_eq!(
        (&adv["group"], &adv["reason"]),
        (&json!("B"), &json!("admin"))
    );
    publish(&nc, "p4").await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("12", "p4"));
    let new_pin = header(&m.headers, "Nats-Pin-Id").expect("pin").to_string();
    assert_ne!(new_pin, pin);
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        info["priority_groups"][0]["pinned_client_id"],
        json!(new_pin)
    );
    publish(&nc, "p5").await;
    let t = next(&mut c).await;
    assert_eq!(
        (t.sid.as_str(), t.headers.as_str()),
        (
            "11",
            "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: 0\r\n\r\n"
        )
    );
    pull_to(
        &mut c,
        "b",
        &format!(r#"{{"batch":1,"group":"A","id":"{new_pin}"}}"#),
    )
    .await;
    let m = next(&mut c).await;
    assert_eq!((m.sid.as_str(), m.payload.as_str()), ("12", "p5"));
    c.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_pin_lapses_after_priority_timeout_without_a_request() {
    let (_s, nc, mut c) = setup(json!({"priority_policy": "pinned_client",
        "priority_groups": ["A"], "priority_timeout": 500 * MS}))
    .await;
    let mut unpinned = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.S.C")
        .await
        .unwrap();
    nc.flush().await.unwrap();
    inbox(&mut c, "a", 11).await;
    publish_n(&nc, "s.a", 1).await;
    pull_to(
        &mut c,
        "a",
        r#"{"batch":1,"group":"A","expires":2000000000}"#,
    )
    .await;
    let pin = header(&next(&mut c).await.headers, "Nats-Pin-Id")
        .expect("pin")
        .to_string();
    let adv = next_advisory(&mut unpinned).await;
    assert_eq!(
        (&adv["group"], &adv["reason"]),
        (&json!("A"), &json!("timeout"))
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        info["priority_groups"],
        json!([{"group": "A", "pinned_ts": "0001-01-01T00:00:00Z"}])
    );
    // The lapsed id is queued, then refused when a message is ready.
    pull_to(
        &mut c,
        "a",
        &format!(r#"{{"batch":2,"group":"A","id":"{pin}"}}"#),
    )
    .await;
    publish_n(&nc, "s.a", 1).await;
    assert_eq!(
        next(&mut c).await.headers,
        "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: 2\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );
}

#[tokio::test]
async fn unpin_checks_the_request_then_the_consumer() {
    let (_s, nc, _c) =
        setup(json!({"priority_policy": "overflow", "priority_groups": ["A"]})).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "P", "ack_policy": "explicit"}),
    )
    .await;
    let kind = "io.nats.jetstream.api.v1.consumer_unpin_response";
    for (stream, consumer, body, code, err_code, description) in [
        ("S", "C", &b""[..], 400, 10025, "invalid JSON: unexpected end of JSON input"),
        ("S", "C", b"{}", 400, 10025, "invalid JSON: consumer group not specified"),
        ("X", "C", br#"{"group":""}"#, 400, 10025, "invalid JSON: consumer group not specified"),
        ("S", "C", br#"{"group":"bad name!"}"#, 400, 10162,
            "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
        ("X", "C", br#"{"group":"A"}"#, 404, 10059, "stream not found"),
        ("S", "Z", br#"{"group":"A"}"#, 404, 10014, "consumer not found"),
        ("S", "C", br#"{"group":"B"}"#, 400, 10160,
            "Provided priority group does not exist for this consumer"),
        ("S", "P", br#"{"group":"A"}"#, 400, 10160,
            "Provided priority group does not exist for this consumer"),
    ] {
        let v = unpin(&nc, stream, consumer, body).await;
        assert_eq!(v["type"], kind);
        assert_err(&v, code, err_code, description);
    }
    // Any policy with the group will do, pinned or not.
    assert_eq!(
        unpin(&nc, "S", "C", br#"{"group":"A"}"#).await,
        json!({"type": kind})
    );
}

// ---------------------------------------------------------------- prioritized

#[tokio::test]
async fn prioritized_serves_lower_priorities_first_and_equals_in_turn() {
    let (_s, nc, mut c) =
        setup(json!({"priority_policy": "prioritized", "priority_groups": ["A"]})).await;
    // sid: request (batch 2 each), queued in this order.
    let requests = [
        (21, r#"{"batch":2,"group":"A","priority":5}"#),
        (22, r#"{"batch":2,"group":"A","priority":1}"#),
        (23, "2"),
        (24, r#"{"batch":2,"group":"A","priority":1}"#),
        (25, r#"{"batch":2,"group":"A"}"#),
        (26, r#"{"batch":2,"group":"A","priority":9}"#),
    ];
    for (sid, body) in requests {
        let name = format!("p{sid}");
        inbox(&mut c, &name, sid).await;
        pull_to(&mut c, &name, body).await;
    }
    wait_waiting(&nc, 6).await;
    publish_n(&nc, "s.a", 12).await;
    let mut order = Vec::new();
    for _ in 0..12 {
        order.push(next(&mut c).await.sid);
    }
    assert_eq!(
        order,
        ["25", "25", "22", "24", "22", "24", "21", "21", "26", "26", "23", "23"]
    );
}

// ---------------------------------------------------------------- no policy

#[tokio::test]
async fn concurrent_pull_requests_take_messages_in_turn() {
    let (_s, nc, mut c) = setup(json!({})).await;
    inbox(&mut c, "a", 11).await;
    inbox(&mut c, "b", 12).await;
    pull_to(&mut c, "a", r#"{"batch":2}"#).await;
    pull_to(&mut c, "b", r#"{"batch":3}"#).await;
    wait_waiting(&nc, 2).await;
    publish_n(&nc, "s.a", 5).await;
    let mut order = Vec::new();
    for _ in 0..5 {
        order.push(next(&mut c).await.sid);
    }
    assert_eq!(order, ["11", "12", "11", "12", "12"]);
    // Group fields on a consumer without a policy are ignored, but checked.
    pull_to(
        &mut c,
        "a",
        r#"{"batch":1,"group":"whatever","priority":3,"no_wait":true}"#,
    )
    .await;
    assert_eq!(
        next(&mut c).await.headers,
        "NATS/1.0 404 No Messages\r\n\r\n"
    );
    pull_to(&mut c, "a", r#"{"batch":1,"min_pending":3}"#).await;
    assert_eq!(
        next(&mut c).await.headers,
        "NATS/1.0 400 Bad Request - Not a Overflow Priority consumer\r\n\r\n"
    );
}

// ---------------------------------------------------------------- reset

async fn reset(nc: &async_nats::Client, consumer: &str, body: &str) -> Value {
    api_raw(
        nc,
        &format!("$JS.API.CONSUMER.RESET.S.{consumer}"),
        bytes::Bytes::copy_from_slice(body.as_bytes()),
    )
    .await
}

#[tokio::test]
async fn reset_moves_a_consumer_to_a_sequence_and_forgets_pending_acks() {
    let (_s, nc, mut c) = setup(json!({})).await;
    inbox(&mut c, "a", 11).await;
    publish_n(&nc, "s.a", 10).await;
    pull_to(&mut c, "a", r#"{"batch":5}"#).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(read_delivered(&mut c).await);
    }
    for d in &got[..3] {
        double_ack_raw(&mut c, d, "+ACK").await;
    }

    // No sequence: back to the ack floor + 1; the unacked 4 and 5 come again as new.
    let v = reset(&nc, "C", "").await;
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.consumer_reset_response"
    );
    assert_eq!(v["reset_seq"], 4);
    assert_eq!(v["name"], "C");
    assert_eq!(v["config"]["durable_name"], "C");
    assert_eq!(
        (&v["delivered"], &v["ack_floor"]),
        (
            &json!({"consumer_seq": 0, "stream_seq": 3}),
            &json!({"consumer_seq": 0, "stream_seq": 3})
        )
    );
    assert_eq!(
        (
            &v["num_ack_pending"],
            &v["num_redelivered"],
            &v["num_pending"]
        ),
        (&json!(0), &json!(0), &json!(7))
    );
    pull_to(&mut c, "a", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    assert_eq!((d.ack.sseq, d.ack.dseq, d.ack.delivered), (4, 1, 1));

    // Past the end is allowed: nothing pending.
    let v = reset(&nc, "C", r#"{"seq":1000}"#).await;
    assert_eq!(
        (&v["reset_seq"], &v["num_pending"]),
        (&json!(1000), &json!(0))
    );
    assert_eq!(v["delivered"]["stream_seq"], 999);

    // Bad requests: the error and a zero reset_seq, no info.
    let v = reset(&nc, "C", "bad").await;
    assert_eq!(v["reset_seq"], 0);
    assert_eq!(v.get("config"), None);
    assert_err(
        &v,
        400,
        10025,
        "invalid JSON: invalid character 'b' looking for beginning of value",
    );
    let v = reset(&nc, "C", r#"{"seq":-1}"#).await;
    assert_err(
        &v,
        400,
        10025,
        "invalid JSON: json: cannot unmarshal number -1 into Go struct field \
         JSApiConsumerResetRequest.seq of type uint64",
    );

    // The deliver policy bounds an explicit sequence.
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "N", "deliver_policy": "new"}),
    )
    .await;
    assert_err(
        &reset(&nc, "N", r#"{"seq":5}"#).await,
        400,
        10204,
        "invalid reset: not allowed",
    );
    assert_eq!(reset(&nc, "N", "").await["reset_seq"], 11);
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "Q", "deliver_policy": "by_start_sequence", "opt_start_seq": 5}),
    )
    .await;
    assert_err(
        &reset(&nc, "Q", r#"{"seq":3}"#).await,
        400,
        10204,
        "invalid reset: below start seq",
    );
    assert_eq!(reset(&nc, "Q", r#"{"seq":6}"#).await["num_pending"], 5);

    // A missing consumer does not answer (the subject is each consumer's own).
    c.send(b"PUB $JS.API.CONSUMER.RESET.S.NOPE _INBOX.a 0\r\n\r\n")
        .await;
    c.expect_nothing(Duration::from_millis(300)).await;
}

/// A reset is answered once durable: a SIGKILL right after it keeps it.
#[tokio::test]
async fn a_reset_survives_a_sigkill() {
    let (mut s, nc, mut c) = setup(json!({})).await;
    inbox(&mut c, "a", 11).await;
    publish_n(&nc, "s.a", 6).await;
    pull_to(&mut c, "a", r#"{"batch":4}"#).await;
    for d in read_n(&mut c, 4).await {
        double_ack_raw(&mut c, &d, "+ACK").await;
    }
    assert_eq!(reset(&nc, "C", r#"{"seq":2}"#).await["reset_seq"], 2);
    s.kill();
    s.restart();
    let nc = client(&s).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        (&info["delivered"], &info["ack_floor"], &info["num_pending"]),
        (
            &json!({"consumer_seq": 0, "stream_seq": 1}),
            &json!({"consumer_seq": 0, "stream_seq": 1}),
            &json!(5)
        )
    );
}

/// On an interest stream, messages a reset skips that no other consumer needs go.
#[tokio::test]
async fn a_reset_forward_on_an_interest_stream_drops_skipped_messages() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "S", "subjects": ["s.>"], "retention": "interest"}),
    )
    .await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit"}),
    )
    .await;
    publish_n(&nc, "s.a", 5).await;
    assert_eq!(stream_state(&nc, "S").await["messages"], 5);
    assert_eq!(reset(&nc, "C", r#"{"seq":4}"#).await["reset_seq"], 4);
    let st = wait_for_state(&nc, "S", Duration::from_secs(2), |st| st["messages"] == 2).await;
    assert_eq!(st["first_seq"], 4);
}

// ---------------------------------------------------------------- a real client

/// async-nats's pinned-client consume: the first consumer keeps the pin (its pulls
/// carry the id), a second one gets nothing until the pin is released.
#[tokio::test]
async fn async_nats_pinned_consumers_take_turns() {
    use async_nats::jetstream::consumer::{pull, AckPolicy, PriorityPolicy};
    let s = js_server();
    let nc = client(&s).await;
    let js = js(&nc);
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    let stream = js.get_stream("S").await.expect("stream");
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("P".into()),
            ack_policy: AckPolicy::Explicit,
            priority_policy: PriorityPolicy::PinnedClient,
            priority_groups: vec!["A".into()],
            ..Default::default()
        })
        .await
        .expect("consumer");

    let mut first = consumer
        .stream()
        .group("A")
        .max_messages_per_batch(5)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("first");
    for i in 0..8 {
        publish(&nc, &format!("a{i}")).await;
    }
    let mut pin = None;
    for i in 0..8 {
        let m = tokio::time::timeout(Duration::from_secs(5), first.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("a message");
        assert_eq!(&m.payload[..], format!("a{i}").as_bytes());
        let id = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Pin-Id"))
            .map(|v| v.to_string());
        assert!(id.is_some());
        if pin.is_none() {
            pin = id.clone();
        }
        assert_eq!(id, pin, "one pin for the whole consume");
        m.ack().await.expect("ack");
    }

    // A second client waits while the first holds the pin.
    let mut second = consumer
        .stream()
        .group("A")
        .max_messages_per_batch(5)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("second");
    publish(&nc, "b0").await;
    let m = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a message");
    assert_eq!(&m.payload[..], b"b0");
    m.ack().await.expect("ack");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), second.next())
            .await
            .is_err(),
        "the second client got a message while the first was pinned"
    );

    // The first goes away and the pin is released: the second takes over.
    drop(first);
    let v = unpin(&nc, "S", "P", br#"{"group":"A"}"#).await;
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.consumer_unpin_response"
    );
    publish(&nc, "c0").await;
    let m = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("a message");
    assert_eq!(&m.payload[..], b"c0");
    let id = m
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Pin-Id"))
        .map(|v| v.to_string());
    assert!(id.is_some() && id != pin, "a new pin: {id:?}");
}

/// A plain (non-JSON) pull on a pinned-client consumer with nobody pinned is served
/// without taking the pin; its message says so with an empty `Nats-Pin-Id`.
#[tokio::test]
async fn a_plain_pull_is_served_without_a_pin() {
    let (_s, nc, mut c) =
        setup(json!({"priority_policy": "pinned_client", "priority_groups": ["A"]})).await;
    inbox(&mut c, "a", 11).await;
    publish(&nc, "x").await;
    pull_to(&mut c, "a", "1").await;
    let m = next(&mut c).await;
    assert_eq!(
        (m.headers.as_str(), m.payload.as_str()),
        ("NATS/1.0\r\nNats-Pin-Id: \r\n\r\n", "x")
    );
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(info["priority_groups"][0].get("pinned_client_id"), None);
}
