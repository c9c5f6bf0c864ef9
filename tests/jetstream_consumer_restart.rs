//! JetStream consumers across server restarts, black-box: a durable consumer's config,
//! delivered/ack state and redeliveries survive a graceful stop (SIGTERM) exactly; after
//! a SIGKILL, delivery stays at-least-once (nothing unacked is lost, nothing is acked
//! that was not), and confirmed acks older than Go's consumer-state flush delay are
//! kept; a deleted consumer stays deleted.
//!
//! Go writes consumer state asynchronously (its consumer file store flushes at most every
//! 100 ms after an update), so acks confirmed just before a SIGKILL can be forgotten by
//! Go; the SIGKILL tests accept that (redelivery) and check only what Go guarantees.
//!
//! Every expectation was captured from the Go reference nats-server 2.15.1
//! (`-js -sd <dir>`, file storage). Each test runs its own server.

mod consumer_common;
mod jetstream_common;

use std::collections::BTreeMap;
use std::time::Duration;

use consumer_common::*;
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// Stream `S` with 6 messages; pull consumer `C` (explicit, ack_wait 500 ms) that got
/// 1..4 of them and has confirmed acks for 1, 2 and 4; push consumer `P` and filtered
/// pull consumer `F` untouched. Returns the INFO of C, P and F.
async fn fill(s: &Server, nc: &async_nats::Client) -> BTreeMap<&'static str, Value> {
    create_stream(nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    publish_n(nc, "s.a", 6).await;
    create_consumer(
        nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit", "ack_wait": 500 * MS,
               "description": "pull", "max_ack_pending": 50}),
    )
    .await;
    create_consumer(
        nc,
        "S",
        json!({"durable_name": "P", "deliver_subject": "d.p", "ack_policy": "explicit"}),
    )
    .await;
    create_consumer(
        nc,
        "S",
        json!({"durable_name": "F", "filter_subject": "s.b", "ack_policy": "all"}),
    )
    .await;
    let mut c = raw_js(s).await;
    pull(&mut c, "S", "C", r#"{"batch":4}"#).await;
    let got = read_n(&mut c, 4).await;
    for k in [0, 1, 3] {
        double_ack_raw(&mut c, &got[k], "").await;
    }
    let mut out = BTreeMap::new();
    for name in ["C", "P", "F"] {
        out.insert(name, consumer_info(nc, "S", name).await);
    }
    assert_eq!(
        counters(&out["C"]),
        want_counters((4, 4), (2, 2), 1, 0, 0, 2)
    );
    out
}

/// Everything but `ts` and `last_active` must be as before.
fn comparable(info: &Value) -> Value {
    let mut v = info.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("ts");
    for k in ["delivered", "ack_floor"] {
        o.get_mut(k)
            .and_then(|x| x.as_object_mut())
            .map(|x| x.remove("last_active"));
    }
    v
}

async fn check_after_restart(
    s: &Server,
    nc: &async_nats::Client,
    before: &BTreeMap<&'static str, Value>,
) {
    for (name, info) in before {
        let now = consumer_info(nc, "S", name).await;
        assert_eq!(comparable(&now), comparable(info), "consumer {name}");
    }
    // C: the rest comes at once; the unacked 3 comes back once its ack wait is over.
    let mut c = raw_js(s).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":3,"expires":{}}}"#, 4000 * MS),
    )
    .await;
    let got = read_n(&mut c, 3).await;
    let mut seen: Vec<(u64, u64)> = got.iter().map(|d| (d.ack.sseq, d.ack.delivered)).collect();
    seen.sort_unstable();
    assert_eq!(seen, [(3, 2), (5, 1), (6, 1)], "nothing acked comes again");
    for d in &got {
        double_ack_raw(&mut c, d, "").await;
    }
    let info = consumer_info(nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((7, 6), (7, 6), 0, 0, 0, 0));
    // P delivers everything from the start once someone listens.
    c.send(b"SUB d.p 2\r\n").await;
    let got = read_n(&mut c, 6).await;
    assert_eq!(
        got.iter().map(|d| d.ack.sseq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
}

#[tokio::test]
async fn graceful_restart_keeps_consumer_state() {
    let mut s = js_server();
    let nc = client(&s).await;
    let before = fill(&s, &nc).await;
    drop(nc);
    assert!(s.stop_graceful().success());
    s.restart();
    let nc = client(&s).await;
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 3);
    check_after_restart(&s, &nc, &before).await;
}

#[tokio::test]
async fn sigkill_restart_is_at_least_once() {
    let mut s = js_server();
    let nc = client(&s).await;
    let before = fill(&s, &nc).await;
    s.kill();
    drop(nc);
    s.restart();
    let nc = client(&s).await;
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 3);
    // Configs are as they were; P and F had no activity, so all of their info is.
    for name in ["P", "F"] {
        let now = consumer_info(&nc, "S", name).await;
        assert_eq!(
            comparable(&now),
            comparable(&before[name]),
            "consumer {name}"
        );
    }
    let now = consumer_info(&nc, "S", "C").await;
    for k in ["config", "created"] {
        assert_eq!(now[k], before["C"][k], "C {k}");
    }
    // State may be older than at the kill, never newer.
    assert!(
        now["delivered"]["stream_seq"].as_u64().unwrap() <= 4,
        "{now}"
    );
    assert!(
        now["ack_floor"]["stream_seq"].as_u64().unwrap() <= 2,
        "{now}"
    );

    // Every message that was not acked comes (again); acked ones may come again.
    let mut c = raw_js(&s).await;
    let mut seen = std::collections::BTreeSet::new();
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":20,"expires":{}}}"#, 1500 * MS),
    )
    .await;
    let (mut acks, mut confirmed) = (0, 0);
    loop {
        let raw = c.read_raw_frame().await.expect("frame");
        match parse_frame(&raw) {
            Frame::Msg { reply: Some(r), .. } => {
                let a = parse_ack(&r);
                assert!(seen.insert(a.sseq), "{} delivered twice", a.sseq);
                // Double ack; the confirmations come between the deliveries.
                c.send(format!("PUB {r} _INBOX.x 0\r\n\r\n").as_bytes())
                    .await;
                acks += 1;
            }
            Frame::Msg {
                subject,
                reply: None,
                payload,
                ..
            } if subject == "_INBOX.x" && payload.is_empty() => confirmed += 1,
            _ => {
                assert!(show(&raw).contains("408 Request Timeout"), "{}", show(&raw));
                break;
            }
        }
    }
    while confirmed < acks {
        c.expect_bytes(b"MSG _INBOX.x 1 0\r\n\r\n").await;
        confirmed += 1;
    }
    for seq in [3, 5, 6] {
        assert!(seen.contains(&seq), "unacked {seq} redelivered: {seen:?}");
    }
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(info["num_ack_pending"], 0, "{info}");
    assert_eq!(info["num_pending"], 0, "{info}");
    assert_eq!(info["ack_floor"]["stream_seq"], 6, "{info}");
}

#[tokio::test]
async fn confirmed_acks_survive_sigkill_after_the_flush_delay() {
    // 50 messages, every other one acked with confirmation, then SIGKILL at once.
    let mut s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    publish_n(&nc, "s.a", 50).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit", "ack_wait": 30_000 * MS}),
    )
    .await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":50}"#).await;
    let got = read_n(&mut c, 50).await;
    for d in got.iter().filter(|d| d.ack.sseq % 2 == 0) {
        double_ack_raw(&mut c, d, "").await;
    }
    // Go flushes consumer state asynchronously, at most 100 ms after an update; acks
    // confirmed longer ago than that must survive a SIGKILL. (No observable condition
    // to wait for: this sleep is the point of the test.)
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.kill();
    drop(nc);
    s.restart();
    let nc = client(&s).await;
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        counters(&info),
        want_counters((50, 50), (0, 0), 25, 0, 0, 0)
    );
    // Acking the odd ones now clears everything.
    let mut c = raw_js(&s).await;
    for d in got.iter().filter(|d| d.ack.sseq % 2 == 1) {
        double_ack_raw(&mut c, d, "").await;
    }
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        counters(&info),
        want_counters((50, 50), (50, 50), 0, 0, 0, 0)
    );
}

#[tokio::test]
async fn deleted_consumer_stays_deleted() {
    for graceful in [true, false] {
        let mut s = js_server();
        let nc = client(&s).await;
        create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
        for n in ["A", "B"] {
            create_consumer(&nc, "S", json!({"durable_name": n})).await;
        }
        ok(api(&nc, "$JS.API.CONSUMER.DELETE.S.A", Value::Null).await);
        if graceful {
            assert!(s.stop_graceful().success());
        } else {
            s.kill();
        }
        drop(nc);
        s.restart();
        let nc = client(&s).await;
        let e = api(&nc, "$JS.API.CONSUMER.INFO.S.A", Value::Null).await;
        assert_err(&e, 404, 10014, "consumer not found");
        let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
        assert_eq!(v["consumers"], json!(["B"]), "graceful={graceful}: {v}");
        assert_eq!(stream_state(&nc, "S").await["consumer_count"], 1);
    }
}

/// A consumer removal interrupted by a crash leaves `obs/.<name>.removed` (jetcore's
/// store renames a consumer's directory before removing it). On restart that
/// directory is finished off, never restored as a consumer. jetcore only: the file
/// layout inside the store is its own.
#[tokio::test]
async fn interrupted_consumer_removal_is_finished_on_restart() {
    let mut s = js_server();
    if s.is_go() {
        return;
    }
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    for n in ["A", "B"] {
        create_consumer(&nc, "S", json!({"durable_name": n})).await;
    }
    drop(nc);
    assert!(s.stop_graceful().success());
    // What a crash between the rename and the removal leaves behind.
    let obs = s.dir().join("store/jetstream/$G/streams/S/obs");
    std::fs::rename(obs.join("A"), obs.join(".A.removed")).unwrap();
    s.restart();
    let nc = client(&s).await;
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(v["consumers"], json!(["B"]), "{v}");
    assert!(!obs.join(".A.removed").exists(), "leftover not removed");
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 1);
}

/// Streams placed on four cores come back when the server restarts with fewer (one)
/// and then more (two): every stream, its messages and its consumers' state, and
/// publishing to each works. (Go has no cores; it runs the same sequence.)
#[tokio::test]
async fn streams_and_consumers_survive_a_change_in_cores() {
    let mut s = ServerBuilder::new().jetstream().cores(4).start();
    let nc = client(&s).await;
    let before = fill(&s, &nc).await;
    let names: Vec<String> = (0..6).map(|i| format!("T{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        create_stream(&nc, json!({"name": name, "subjects": [format!("t{i}.>")]})).await;
        publish_n(&nc, &format!("t{i}.x"), i + 1).await;
    }
    drop(nc);
    assert!(s.stop_graceful().success());

    s.restart_with_cores(1);
    let nc = client(&s).await;
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            stream_state(&nc, name).await["messages"],
            i as u64 + 1,
            "{name}"
        );
    }
    check_after_restart(&s, &nc, &before).await;
    drop(nc);
    assert!(s.stop_graceful().success());

    s.restart_with_cores(2);
    let nc = client(&s).await;
    for (i, name) in names.iter().enumerate() {
        let ack = publish_req(&nc, &format!("t{i}.y"), &[], b"after").await;
        assert_ack(&ack, name, i as u64 + 2);
    }
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 3);
    let info = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&info), want_counters((7, 6), (7, 6), 0, 0, 0, 0));
}

/// A consumer deleted right after acks (its state still being written) stays
/// deleted: the state writer must not bring its directory back.
#[tokio::test]
async fn a_consumer_deleted_right_after_acks_stays_deleted() {
    let mut s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    publish_n(&nc, "s.a", 3).await;
    for n in ["A", "B"] {
        create_consumer(
            &nc,
            "S",
            json!({"durable_name": n, "ack_policy": "explicit"}),
        )
        .await;
    }
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "A", r#"{"batch":3}"#).await;
    let got = read_n(&mut c, 3).await;
    double_ack_raw(&mut c, &got[0], "+ACK").await;
    for d in &got[1..] {
        ack_raw(&mut c, d, "+ACK").await;
    }
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.S.A", Value::Null).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(nc);
    assert!(s.stop_graceful().success());
    s.restart();
    let nc = client(&s).await;
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(v["consumers"], json!(["B"]), "{v}");
}
