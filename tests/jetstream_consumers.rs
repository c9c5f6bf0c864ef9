//! JetStream consumers, black-box: the `$JS.API.CONSUMER.*` API (create in all its forms,
//! actions, updates, invalid configs, INFO counters, NAMES/LIST, DELETE, PAUSE),
//! consumer advisories, ephemeral inactivity, and interest/workqueue retention.
//! Pull delivery and acks are in `jetstream_pull.rs`, push in `jetstream_push.rs`,
//! restarts in `jetstream_consumer_restart.rs`.
//!
//! Every expectation (JSON shapes, `code`/`err_code`/`description`) was captured from
//! the Go reference nats-server 2.15.1 (`-js -sd <dir>`). Each test runs its own server.

mod consumer_common;
mod jetstream_common;

use std::collections::BTreeSet;
use std::time::Duration;

use consumer_common::*;
use futures::StreamExt;
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn setup() -> (Server, async_nats::Client) {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    (s, nc)
}

/// The metadata Go adds to every stored consumer config (INFO/CREATE responses).
async fn go_metadata(nc: &async_nats::Client, req_level: &str) -> Value {
    let level = api(nc, "$JS.API.INFO", Value::Null).await["api"]["level"].to_string();
    json!({
        "_nats.level": level,
        "_nats.req.level": req_level,
        "_nats.ver": nc.server_info().version
    })
}

/// Removes and returns `config.metadata` of a ConsumerInfo.
fn take_metadata(info: &mut Value) -> Value {
    info["config"]
        .as_object_mut()
        .expect("config")
        .remove("metadata")
        .expect("config.metadata")
}

fn zero_counters() -> Value {
    want_counters((0, 0), (0, 0), 0, 0, 0, 0)
}

// ---------------------------------------------------------------- create

#[tokio::test]
async fn named_create_fills_in_go_defaults() {
    let (_s, nc) = setup().await;
    publish_n(&nc, "s.a", 2).await;
    let mut v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit"}),
    )
    .await;
    assert_eq!(
        key_set(&v),
        set(&[
            "type",
            "stream_name",
            "name",
            "created",
            "config",
            "delivered",
            "ack_floor",
            "num_ack_pending",
            "num_redelivered",
            "num_waiting",
            "num_pending",
            "ts"
        ]),
        "{v}"
    );
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.consumer_create_response"
    );
    assert_eq!((&v["stream_name"], &v["name"]), (&json!("S"), &json!("C")));
    assert!(v["created"].as_str().unwrap().ends_with('Z'), "{v}");
    assert_eq!(take_metadata(&mut v), go_metadata(&nc, "0").await);
    assert_eq!(
        v["config"],
        json!({
            "durable_name": "C", "name": "C", "deliver_policy": "all",
            "ack_policy": "explicit", "ack_wait": 30_000_000_000u64, "max_deliver": -1,
            "replay_policy": "instant", "max_waiting": 512, "max_ack_pending": 1000,
            "num_replicas": 0
        })
    );
    assert_eq!(counters(&v), want_counters((0, 0), (0, 0), 0, 0, 0, 2));
    // Before anything is delivered or acked, no `last_active`.
    assert_eq!(
        key_set(&v["delivered"]),
        set(&["consumer_seq", "stream_seq"])
    );

    // INFO says the same, with its own type.
    let mut i = consumer_info(&nc, "S", "C").await;
    assert_eq!(i["type"], "io.nats.jetstream.api.v1.consumer_info_response");
    assert_eq!(i["created"], v["created"]);
    take_metadata(&mut i);
    assert_eq!(i["config"], v["config"]);

    // Ack policy none: no ack_wait or max_ack_pending.
    let mut v = create_consumer(&nc, "S", json!({"durable_name": "N"})).await;
    take_metadata(&mut v);
    assert_eq!(
        v["config"],
        json!({
            "durable_name": "N", "name": "N", "deliver_policy": "all", "ack_policy": "none",
            "max_deliver": -1, "replay_policy": "instant", "max_waiting": 512,
            "num_replicas": 0
        })
    );

    // Push: deliver_subject, no max_waiting.
    let mut v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "P", "deliver_subject": "d.p", "deliver_group": "g"}),
    )
    .await;
    take_metadata(&mut v);
    assert_eq!(
        v["config"],
        json!({
            "durable_name": "P", "name": "P", "deliver_policy": "all", "ack_policy": "none",
            "max_deliver": -1, "replay_policy": "instant", "deliver_subject": "d.p",
            "deliver_group": "g", "num_replicas": 0
        })
    );
    assert_eq!(v["push_bound"], Value::Null, "nobody subscribed d.p: {v}");

    // `name` without `durable_name` on the named subject: an ephemeral, 5 s inactivity.
    let mut v = create_consumer(&nc, "S", json!({"name": "E"})).await;
    take_metadata(&mut v);
    assert_eq!(
        v["config"],
        json!({
            "name": "E", "deliver_policy": "all", "ack_policy": "none", "max_deliver": -1,
            "replay_policy": "instant", "max_waiting": 512,
            "inactive_threshold": 5_000_000_000u64, "num_replicas": 0
        })
    );
}

#[tokio::test]
async fn other_create_subjects() {
    let (_s, nc) = setup().await;
    publish_n(&nc, "s.a", 1).await;
    publish_n(&nc, "s.b", 1).await;

    // Filter tail: must equal config.filter_subject.
    let v = ok(api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.F.s.b",
        json!({"stream_name": "S", "config": {"durable_name": "F", "filter_subject": "s.b"}}),
    )
    .await);
    assert_eq!(
        (&v["config"]["filter_subject"], &v["num_pending"]),
        (&json!("s.b"), &json!(1))
    );
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.F2.s.a",
        json!({"stream_name": "S", "config": {"durable_name": "F2", "filter_subject": "s.b"}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10131,
        "Consumer create request did not match filtered subject from create subject",
    );
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.F3.s.a",
        json!({"stream_name": "S", "config": {"durable_name": "F3"}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10131,
        "Consumer create request did not match filtered subject from create subject",
    );

    // Legacy CREATE.<stream>: an ephemeral with a generated 8-character name.
    let v = ok(api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {}}),
    )
    .await);
    let name = v["name"].as_str().unwrap();
    assert_eq!(name.len(), 8, "{v}");
    assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{v}");
    assert!(v["config"].get("durable_name").is_none(), "{v}");
    assert!(v["config"].get("name").is_none(), "{v}");
    assert_eq!(v["config"]["inactive_threshold"], 5_000_000_000u64);
    assert_eq!(v["num_pending"], 2);
    consumer_info(&nc, "S", name).await;
    // ... which refuses a durable name.
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {"durable_name": "X"}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10020,
        "consumer expected to be ephemeral but a durable name was set in request",
    );
    // A request without `config` on the named subject still creates an ephemeral.
    let v = ok(api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.NC",
        json!({"stream_name": "S"}),
    )
    .await);
    assert_eq!(v["config"]["name"], "NC");
    assert_eq!(v["config"]["inactive_threshold"], 5_000_000_000u64);

    // Legacy DURABLE.CREATE.<stream>.<durable>.
    let v = ok(api(
        &nc,
        "$JS.API.CONSUMER.DURABLE.CREATE.S.DD",
        json!({"stream_name": "S", "config": {"durable_name": "DD", "ack_policy": "explicit"}}),
    )
    .await);
    assert_eq!(
        (&v["name"], &v["config"]["durable_name"]),
        (&json!("DD"), &json!("DD"))
    );
    let e = api(
        &nc,
        "$JS.API.CONSUMER.DURABLE.CREATE.S.DD2",
        json!({"stream_name": "S", "config": {}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10018,
        "consumer expected to be durable but a durable name was not set",
    );

    // The stream in the body must be the one in the subject.
    for body in [
        Value::Null,
        json!({"stream_name": "OTHER", "config": {"durable_name": "X"}}),
    ] {
        let e = api(&nc, "$JS.API.CONSUMER.CREATE.S.X", body).await;
        assert_err(
            &e,
            400,
            10056,
            "stream name in subject does not match request",
        );
    }
    // No such stream.
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.NOPE.C",
        json!({"stream_name": "NOPE", "config": {"durable_name": "C"}}),
    )
    .await;
    assert_err(&e, 404, 10059, "stream not found");

    // async-nats agrees with what was created.
    let ctx = js(&nc);
    let stream = ctx.get_stream("S").await.unwrap();
    let names: Vec<String> = stream
        .consumer_names()
        .map(|n| n.unwrap())
        .collect::<Vec<_>>()
        .await;
    assert!(names.contains(&"F".to_string()) && names.contains(&"DD".to_string()));
}

#[tokio::test]
async fn create_is_idempotent_and_actions_are_checked() {
    let (_s, nc) = setup().await;
    let cfg = json!({"durable_name": "C", "ack_policy": "explicit"});
    let a = create_consumer(&nc, "S", cfg.clone()).await;
    let b = create_consumer(&nc, "S", cfg.clone()).await;
    assert_eq!(a["created"], b["created"], "same consumer");
    // action create with the same config: fine; with another: 10148.
    let v = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": cfg, "action": "create"}),
    )
    .await;
    assert_eq!(ok(v)["created"], a["created"]);
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "action": "create",
               "config": {"durable_name": "C", "ack_policy": "explicit", "max_deliver": 5}}),
    )
    .await;
    assert_err(&e, 400, 10148, "consumer already exists");
    // action update on a missing consumer: 10149.
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.D",
        json!({"stream_name": "S", "action": "update", "config": {"durable_name": "D"}}),
    )
    .await;
    assert_err(&e, 400, 10149, "consumer does not exist");
    let e = api(&nc, "$JS.API.CONSUMER.INFO.S.D", Value::Null).await;
    assert_err(&e, 404, 10014, "consumer not found");
}

#[tokio::test]
async fn update_mutable_fields_and_refuse_immutable_ones() {
    let (_s, nc) = setup().await;
    publish_n(&nc, "s.a", 2).await;
    publish_n(&nc, "s.b", 1).await;
    let base = json!({
        "durable_name": "C", "ack_policy": "explicit", "description": "d1",
        "ack_wait": 1000 * MS, "max_deliver": 3, "max_ack_pending": 5,
        "metadata": {"k": "v"}
    });
    let mut v = create_consumer(&nc, "S", base.clone()).await;
    let md = take_metadata(&mut v);
    assert_eq!(md["k"], "v", "user metadata kept next to Go's: {md}");
    let created = v["created"].clone();

    // Mutable: description, ack_wait, max_deliver, max_ack_pending, filter, metadata.
    let upd = json!({
        "durable_name": "C", "ack_policy": "explicit", "description": "d2",
        "ack_wait": 2000 * MS, "max_deliver": 4, "max_ack_pending": 6,
        "filter_subject": "s.b", "metadata": {"k": "w"}
    });
    let v = ok(api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": upd, "action": "update"}),
    )
    .await);
    assert_eq!(v["created"], created, "an update keeps the consumer");
    let c = &v["config"];
    assert_eq!(
        (
            &c["description"],
            &c["ack_wait"],
            &c["max_deliver"],
            &c["max_ack_pending"],
            &c["filter_subject"],
            &c["metadata"]["k"]
        ),
        (
            &json!("d2"),
            &json!(2000 * MS),
            &json!(4),
            &json!(6),
            &json!("s.b"),
            &json!("w")
        )
    );
    assert_eq!(v["num_pending"], 1, "the new filter counts: {v}");
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(i["config"]["description"], "d2");

    // Immutable fields: 500/10012 with Go's sentence.
    let cases = [
        (
            json!({"ack_policy": "none"}),
            "ack policy can not be updated",
        ),
        (
            json!({"ack_policy": "all"}),
            "ack policy can not be updated",
        ),
        (
            json!({"deliver_policy": "last"}),
            "deliver policy can not be updated",
        ),
        (
            json!({"deliver_policy": "by_start_sequence", "opt_start_seq": 2}),
            "deliver policy can not be updated",
        ),
        (
            json!({"replay_policy": "original"}),
            "replay policy can not be updated",
        ),
        (
            json!({"mem_storage": true}),
            "storage type can not be updated",
        ),
        (json!({"max_waiting": 10}), "max waiting can not be updated"),
        (
            json!({"deliver_subject": "d.x"}),
            "can not update pull consumer to push based",
        ),
    ];
    for (change, desc) in cases {
        let mut cfg = json!({"durable_name": "C", "ack_policy": "explicit"});
        for (k, val) in change.as_object().unwrap() {
            cfg[k] = val.clone();
        }
        for action in [json!("update"), json!("")] {
            let e = api(
                &nc,
                "$JS.API.CONSUMER.CREATE.S.C",
                json!({"stream_name": "S", "config": cfg, "action": action}),
            )
            .await;
            assert_err(&e, 500, 10012, desc);
        }
    }
    // push -> pull
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "P", "deliver_subject": "d.p"}),
    )
    .await;
    let e = try_create_consumer(&nc, "S", json!({"durable_name": "P"})).await;
    assert_err(&e, 500, 10012, "can not update push consumer to pull based");
    // Nothing changed.
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        (&i["config"]["ack_policy"], &i["config"]["max_ack_pending"]),
        (&json!("explicit"), &json!(6))
    );
}

#[tokio::test]
async fn invalid_configs_get_go_errors() {
    let (_s, nc) = setup().await;
    let cases: Vec<(Value, u64, u64, &str)> = vec![
        (
            json!({"deliver_subject": "d.x", "max_waiting": 10}),
            400,
            10080,
            "consumer in push mode can not set max waiting",
        ),
        (
            json!({"deliver_subject": "d.x", "flow_control": true}),
            400,
            10108,
            "consumer with flow control also needs heartbeats",
        ),
        (
            json!({"ack_policy": "explicit", "backoff": [1000 * MS, 2000 * MS], "max_deliver": 1}),
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        ),
        (
            json!({"filter_subject": "s.a", "filter_subjects": ["s.b"]}),
            400,
            10136,
            "consumer cannot have both FilterSubject and FilterSubjects specified",
        ),
        (
            json!({"filter_subjects": ["s.a", "s.>"]}),
            400,
            10138,
            "consumer subject filters cannot overlap",
        ),
        (
            json!({"opt_start_seq": 5}),
            400,
            10094,
            "consumer delivery policy is deliver all, but optional start sequence is also set",
        ),
        (
            json!({"opt_start_time": "2020-01-01T00:00:00Z"}),
            400,
            10094,
            "consumer delivery policy is deliver all, but optional start time is also set",
        ),
        (
            json!({"deliver_policy": "by_start_sequence"}),
            400,
            10094,
            "consumer delivery policy is deliver by start sequence, but optional start sequence is not set",
        ),
        (
            json!({"deliver_policy": "by_start_time"}),
            400,
            10094,
            "consumer delivery policy is deliver by start time, but optional start time is not set",
        ),
        (
            json!({"deliver_policy": "last_per_subject"}),
            400,
            10094,
            "consumer delivery policy is deliver last per subject, but optional filter subject is not set",
        ),
        (
            json!({"deliver_subject": "d.x", "idle_heartbeat": 50 * MS}),
            400,
            10083,
            "consumer idle heartbeat needs to be >= 100ms",
        ),
        (
            json!({"idle_heartbeat": 1000 * MS}),
            400,
            10088,
            "consumer idle heartbeat requires a push based consumer",
        ),
        (
            json!({"deliver_subject": "d.*"}),
            400,
            10079,
            "consumer deliver subject has wildcards",
        ),
        (
            json!({"deliver_subject": "s.x"}),
            400,
            10081,
            "consumer deliver subject forms a cycle",
        ),
        (
            json!({"rate_limit_bps": 1000}),
            400,
            10086,
            "consumer in pull mode can not have rate limit set",
        ),
        (
            json!({"ack_policy": "bogus"}),
            400,
            10025,
            r#"invalid JSON: can not unmarshal "\"bogus\"""#,
        ),
    ];
    for (i, (extra, code, err_code, desc)) in cases.into_iter().enumerate() {
        let name = format!("V{i}");
        let mut cfg = json!({"durable_name": name});
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let e = try_create_consumer(&nc, "S", cfg.clone()).await;
        assert!(e.get("error").is_some(), "{cfg} was accepted: {e}");
        assert_err(&e, code, err_code, desc);
    }

    // Names.
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": {"durable_name": "other"}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10017,
        "consumer name in subject does not match durable name in request",
    );
    // `a.b` on the named subject reads as consumer `a` with filter `b`.
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.a.b",
        json!({"stream_name": "S", "config": {"durable_name": "a.b"}}),
    )
    .await;
    assert_err(
        &e,
        400,
        10017,
        "consumer name in subject does not match durable name in request",
    );
    let bad_name = r"consumer name can not contain '.', '*', '>', '\', '/'";
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {"name": "a.b"}}),
    )
    .await;
    assert_err(&e, 500, 10052, bad_name);
    let e = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.ab*",
        json!({"stream_name": "S", "config": {"durable_name": "ab*"}}),
    )
    .await;
    assert_err(&e, 500, 10052, bad_name);

    // None of them exists.
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(v["total"], 0, "{v}");
}

#[tokio::test]
async fn lenient_configs_go_accepts() {
    // Things one might expect to be refused, which Go 2.15.1 accepts.
    let (_s, nc) = setup().await;
    // A filter outside the stream's subjects.
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "A", "filter_subject": "t.a"}),
    )
    .await;
    assert_eq!(
        (&v["config"]["filter_subject"], &v["num_pending"]),
        (&json!("t.a"), &json!(0))
    );
    // max_ack_pending with ack policy none is kept.
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "B", "ack_policy": "none", "max_ack_pending": 10}),
    )
    .await;
    assert_eq!(v["config"]["max_ack_pending"], 10);
    // A negative max_waiting becomes the default 512.
    let v = create_consumer(&nc, "S", json!({"durable_name": "W", "max_waiting": -1})).await;
    assert_eq!(v["config"]["max_waiting"], 512);
    // backoff with ack policy none is kept, and ack_wait becomes the first backoff.
    // (max_deliver = len(backoff) is accepted too, despite the error's wording.)
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "K", "backoff": [1000 * MS, 2000 * MS], "max_deliver": 3}),
    )
    .await;
    assert_eq!(v["config"]["ack_wait"], 1000 * MS);
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "K2", "ack_policy": "explicit",
               "backoff": [1000 * MS, 2000 * MS], "max_deliver": 2}),
    )
    .await;
    assert_eq!(v["config"]["max_deliver"], 2);
    // max_batch -1 is dropped.
    let v = create_consumer(&nc, "S", json!({"durable_name": "M", "max_batch": -1})).await;
    assert!(v["config"].get("max_batch").is_none(), "{v}");
    // name and durable_name differing: the subject's name wins when it is the durable.
    let v = api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.D",
        json!({"stream_name": "S", "config": {"durable_name": "D", "name": "other"}}),
    )
    .await;
    let v = ok(v);
    assert_eq!(
        (&v["name"], &v["config"]["name"]),
        (&json!("D"), &json!("D"))
    );
}

// ---------------------------------------------------------------- info, names, list, delete

#[tokio::test]
async fn info_counters_after_deliveries_naks_and_acks() {
    let (s, nc) = setup().await;
    publish_n(&nc, "s.a", 8).await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit"}),
    )
    .await;
    let mut c = raw_js(&s).await;
    pull(&mut c, "S", "C", r#"{"batch":5}"#).await;
    let got = read_n(&mut c, 5).await;
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&i), want_counters((5, 5), (0, 0), 5, 0, 0, 3));
    assert_eq!(
        key_set(&i["delivered"]),
        set(&["consumer_seq", "stream_seq", "last_active"])
    );
    assert_eq!(
        key_set(&i["ack_floor"]),
        set(&["consumer_seq", "stream_seq"])
    );

    for k in [0, 1, 3] {
        double_ack_raw(&mut c, &got[k], "+ACK").await;
    }
    double_ack_raw(&mut c, &got[2], "-NAK").await;
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&i), want_counters((5, 5), (2, 2), 2, 0, 0, 3));
    assert_eq!(
        key_set(&i["ack_floor"]),
        set(&["consumer_seq", "stream_seq", "last_active"])
    );

    // The NAKed message comes first, redelivered.
    pull(&mut c, "S", "C", r#"{"batch":2}"#).await;
    let re = read_n(&mut c, 2).await;
    assert_eq!(
        re.iter()
            .map(|d| (d.ack.sseq, d.ack.dseq, d.ack.delivered))
            .collect::<Vec<_>>(),
        [(3, 6, 2), (6, 7, 1)]
    );
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(counters(&i), want_counters((7, 6), (2, 2), 3, 1, 0, 2));

    // A waiting request.
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":10,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    let _ = read_n(&mut c, 2).await;
    let i = wait_for_consumer(&nc, "S", "C", T, |i| i["num_waiting"] == 1).await;
    assert_eq!(counters(&i), want_counters((9, 8), (2, 2), 5, 1, 1, 0));
    // Acking everything moves the floor to the last delivery.
    for d in [&got[4], &re[0], &re[1]] {
        double_ack_raw(&mut c, d, "").await;
    }
    let i = consumer_info(&nc, "S", "C").await;
    assert_eq!(i["ack_floor"]["stream_seq"], 6);
    assert_eq!(i["num_ack_pending"], 2);
}

#[tokio::test]
async fn names_and_list_are_sorted_and_paged() {
    let (_s, nc) = setup().await;
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.consumer_names_response",
               "total": 0, "offset": 0, "limit": 1024, "consumers": []})
    );
    let v = api(&nc, "$JS.API.CONSUMER.LIST.S", Value::Null).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.consumer_list_response",
               "total": 0, "offset": 0, "limit": 256, "consumers": []})
    );
    for n in ["b", "C3", "a", "C10"] {
        create_consumer(&nc, "S", json!({"durable_name": n})).await;
    }
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"], &v["consumers"]),
        (
            &json!(4),
            &json!(0),
            &json!(1024),
            &json!(["C10", "C3", "a", "b"])
        )
    );
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", json!({"offset": 2})).await;
    assert_eq!(
        (&v["total"], &v["offset"], &v["consumers"]),
        (&json!(4), &json!(2), &json!(["a", "b"]))
    );
    let v = api(&nc, "$JS.API.CONSUMER.NAMES.S", json!({"offset": 9})).await;
    assert_eq!(
        (&v["total"], &v["consumers"]),
        (&json!(4), &json!([])),
        "{v}"
    );

    let v = api(&nc, "$JS.API.CONSUMER.LIST.S", json!({"offset": 1})).await;
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(4), &json!(1), &json!(256))
    );
    let items = v["consumers"].as_array().unwrap();
    assert_eq!(
        items.iter().map(|i| i["name"].clone()).collect::<Vec<_>>(),
        [json!("C3"), json!("a"), json!("b")]
    );
    // LIST items are ConsumerInfo without `type`; their metadata holds only
    // `_nats.req.level` (as in STREAM.LIST).
    let item = &items[1];
    assert!(item.get("type").is_none(), "{item}");
    assert_eq!(item["stream_name"], "S");
    assert_eq!(item["config"]["metadata"], json!({"_nats.req.level": "0"}));
    assert_eq!(counters(item), zero_counters());

    // Missing stream.
    for (what, limit) in [("NAMES", 0), ("LIST", 0)] {
        let v = api(&nc, &format!("$JS.API.CONSUMER.{what}.NOPE"), Value::Null).await;
        assert_err(&v, 404, 10059, "stream not found");
        assert_eq!(
            (&v["total"], &v["offset"], &v["limit"], &v["consumers"]),
            (&json!(0), &json!(0), &json!(limit), &json!([])),
            "{v}"
        );
    }
}

#[tokio::test]
async fn delete_consumer() {
    let (_s, nc) = setup().await;
    create_consumer(&nc, "S", json!({"durable_name": "C"})).await;
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 1);
    let v = api(&nc, "$JS.API.CONSUMER.DELETE.S.C", Value::Null).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.consumer_delete_response", "success": true})
    );
    let e = api(&nc, "$JS.API.CONSUMER.INFO.S.C", Value::Null).await;
    assert_err(&e, 404, 10014, "consumer not found");
    let e = api(&nc, "$JS.API.CONSUMER.DELETE.S.C", Value::Null).await;
    assert_err(&e, 404, 10014, "consumer not found");
    let e = api(&nc, "$JS.API.CONSUMER.DELETE.NOPE.C", Value::Null).await;
    assert_err(&e, 404, 10059, "stream not found");
    let e = api(&nc, "$JS.API.CONSUMER.INFO.NOPE.C", Value::Null).await;
    assert_err(&e, 404, 10059, "stream not found");
    assert_eq!(stream_state(&nc, "S").await["consumer_count"], 0);
    // Deleting the stream deletes its consumers.
    create_consumer(&nc, "S", json!({"durable_name": "D"})).await;
    ok(api(&nc, "$JS.API.STREAM.DELETE.S", Value::Null).await);
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    let e = api(&nc, "$JS.API.CONSUMER.INFO.S.D", Value::Null).await;
    assert_err(&e, 404, 10014, "consumer not found");
}

#[tokio::test]
async fn pause_and_resume() {
    let (s, nc) = setup().await;
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "C", "ack_policy": "explicit"}),
    )
    .await;
    let mut adv = nc
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.C")
        .await
        .unwrap();
    sync(&nc).await;
    let until = "2099-01-01T00:00:00Z";
    let v = api(
        &nc,
        "$JS.API.CONSUMER.PAUSE.S.C",
        json!({"pause_until": until}),
    )
    .await;
    assert_eq!(
        key_set(&v),
        set(&["type", "paused", "pause_until", "pause_remaining"])
    );
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.consumer_pause_response"
    );
    assert_eq!(
        (&v["paused"], &v["pause_until"]),
        (&json!(true), &json!(until))
    );
    assert!(v["pause_remaining"].as_u64().unwrap() > 2_000_000_000 * 1_000_000_000);
    let a = parse(&next_msg(&mut adv, T).await.payload);
    assert_eq!(
        key_set(&a),
        set(&[
            "type",
            "id",
            "timestamp",
            "stream",
            "consumer",
            "paused",
            "pause_until"
        ])
    );
    assert_eq!(
        (
            &a["type"],
            &a["stream"],
            &a["consumer"],
            &a["paused"],
            &a["pause_until"]
        ),
        (
            &json!("io.nats.jetstream.advisory.v1.consumer_pause"),
            &json!("S"),
            &json!("C"),
            &json!(true),
            &json!(until)
        )
    );

    let mut i = consumer_info(&nc, "S", "C").await;
    assert_eq!(
        (&i["paused"], &i["config"]["pause_until"]),
        (&json!(true), &json!(until))
    );
    assert!(i["pause_remaining"].as_u64().is_some(), "{i}");
    // A paused consumer's config carries API level 1 in _nats.req.level.
    assert_eq!(take_metadata(&mut i)["_nats.req.level"], "1");

    // While paused, a waiting request gets nothing.
    let mut c = raw_js(&s).await;
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    publish_n(&nc, "s.a", 1).await;
    c.expect_nothing(Duration::from_millis(300)).await;

    // Resume: an empty body (or a time in the past).
    let v = api(&nc, "$JS.API.CONSUMER.PAUSE.S.C", json!({})).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.consumer_pause_response",
               "paused": false, "pause_until": "0001-01-01T00:00:00Z"})
    );
    // Go can deliver the pause advisory late (seen once under CI load): the
    // resume advisory is the first with `paused: false`, within T.
    let deadline = std::time::Instant::now() + T;
    let mut a = parse(&next_msg(&mut adv, T).await.payload);
    while a["paused"] == true && std::time::Instant::now() < deadline {
        a = parse(&next_msg(&mut adv, T).await.payload);
    }
    assert_eq!(a["paused"], false);
    let i = consumer_info(&nc, "S", "C").await;
    assert!(
        i.get("paused").is_none() && i["config"].get("pause_until").is_none(),
        "{i}"
    );
    // Go does not wake the waiting request on an API resume; the next message does.
    // (Delivering at once would do too.)
    publish_n(&nc, "s.a", 1).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 1);

    // A pause that runs out resumes by itself, with an advisory.
    let soon = rfc3339_in(Duration::from_millis(700));
    let t0 = tokio::time::Instant::now();
    let v = api(
        &nc,
        "$JS.API.CONSUMER.PAUSE.S.C",
        json!({"pause_until": soon}),
    )
    .await;
    assert_eq!(v["paused"], true, "{v}");
    assert_eq!(parse(&next_msg(&mut adv, T).await.payload)["paused"], true);
    pull(
        &mut c,
        "S",
        "C",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    c.expect_nothing(Duration::from_millis(300)).await;
    assert_eq!(read_delivered(&mut c).await.ack.sseq, 2);
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t0.elapsed()
    );
    let a = parse(&next_msg(&mut adv, T).await.payload);
    assert_eq!(
        (&a["paused"], &a["pause_until"]),
        (&json!(false), &json!(soon))
    );

    let past = "2000-01-01T00:00:00Z";
    let v = api(
        &nc,
        "$JS.API.CONSUMER.PAUSE.S.C",
        json!({"pause_until": past}),
    )
    .await;
    assert_eq!(
        (&v["paused"], &v["pause_until"]),
        (&json!(false), &json!(past))
    );

    // Created paused.
    let v = create_consumer(
        &nc,
        "S",
        json!({"durable_name": "P", "ack_policy": "explicit", "pause_until": until}),
    )
    .await;
    assert_eq!(
        (&v["paused"], &v["config"]["pause_until"]),
        (&json!(true), &json!(until))
    );

    let e = api(&nc, "$JS.API.CONSUMER.PAUSE.S.NOPE", json!({})).await;
    assert_err(&e, 404, 10014, "consumer not found");
}

#[tokio::test]
async fn consumer_created_and_deleted_advisories() {
    let (_s, nc) = setup().await;
    let mut adv = nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.>").await.unwrap();
    sync(&nc).await;
    create_consumer(&nc, "S", json!({"durable_name": "C"})).await;
    // Creating it again changes nothing: no second advisory.
    create_consumer(&nc, "S", json!({"durable_name": "C"})).await;
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.S.C", Value::Null).await);
    for action in ["create", "delete"] {
        let m = next_msg(&mut adv, T).await;
        let kind = if action == "create" {
            "CREATED"
        } else {
            "DELETED"
        };
        assert_eq!(
            m.subject.as_str(),
            format!("$JS.EVENT.ADVISORY.CONSUMER.{kind}.S.C")
        );
        let v = parse(&m.payload);
        assert_eq!(
            key_set(&v),
            set(&["type", "id", "timestamp", "stream", "consumer", "action"])
        );
        assert_eq!(
            (&v["type"], &v["stream"], &v["consumer"], &v["action"]),
            (
                &json!("io.nats.jetstream.advisory.v1.consumer_action"),
                &json!("S"),
                &json!("C"),
                &json!(action)
            )
        );
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(!v["id"].as_str().unwrap().is_empty());
    }
    assert_no_msg(&mut adv, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn ephemeral_goes_away_after_inactive_threshold() {
    let (s, nc) = setup().await;
    let v = create_consumer(
        &nc,
        "S",
        json!({"name": "E", "inactive_threshold": 300 * MS}),
    )
    .await;
    assert_eq!(v["config"]["inactive_threshold"], 300 * MS);
    // A durable with an inactive threshold goes away too.
    create_consumer(
        &nc,
        "S",
        json!({"durable_name": "D", "inactive_threshold": 300 * MS}),
    )
    .await;
    // One that is waited on by a pull request stays.
    create_consumer(
        &nc,
        "S",
        json!({"name": "K", "inactive_threshold": 300 * MS}),
    )
    .await;
    let mut c = raw_js(&s).await;
    pull(
        &mut c,
        "S",
        "K",
        &format!(r#"{{"batch":1,"expires":{}}}"#, 5000 * MS),
    )
    .await;
    let t0 = tokio::time::Instant::now();
    loop {
        let names = api(&nc, "$JS.API.CONSUMER.NAMES.S", Value::Null).await;
        if names["consumers"] == json!(["K"]) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "still there: {names}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let e = api(&nc, "$JS.API.CONSUMER.INFO.S.E", Value::Null).await;
    assert_err(&e, 404, 10014, "consumer not found");
}

// ---------------------------------------------------------------- retention

#[tokio::test]
async fn interest_retention_keeps_messages_until_every_consumer_acked() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "I", "subjects": ["i.>"], "retention": "interest"}),
    )
    .await;
    // Without consumers nothing is kept.
    publish_req(&nc, "i.a", &[], b"x").await;
    let st = stream_state(&nc, "I").await;
    assert_eq!(
        (&st["messages"], &st["first_seq"], &st["last_seq"]),
        (&json!(0), &json!(2), &json!(1)),
        "{st}"
    );
    // A consumer created now starts after what is gone.
    let v = create_consumer(
        &nc,
        "I",
        json!({"durable_name": "A", "ack_policy": "explicit"}),
    )
    .await;
    assert_eq!(counters(&v), want_counters((0, 1), (0, 1), 0, 0, 0, 0));
    create_consumer(
        &nc,
        "I",
        json!({"durable_name": "B", "ack_policy": "explicit"}),
    )
    .await;
    for _ in 0..3 {
        publish_req(&nc, "i.a", &[], b"x").await;
    }
    assert_eq!(stream_state(&nc, "I").await["messages"], 3);

    let mut c = raw_js(&s).await;
    pull(&mut c, "I", "A", r#"{"batch":3}"#).await;
    for d in read_n(&mut c, 3).await {
        double_ack_raw(&mut c, &d, "").await;
    }
    // B has not acked: all kept.
    assert_eq!(stream_state(&nc, "I").await["messages"], 3);
    pull(&mut c, "I", "B", r#"{"batch":3}"#).await;
    let got = read_n(&mut c, 3).await;
    double_ack_raw(&mut c, &got[1], "").await;
    let st = wait_for_state(&nc, "I", T, |st| st["messages"] == 2).await;
    assert_eq!(st["first_seq"], 2);
    double_ack_raw(&mut c, &got[0], "").await;
    double_ack_raw(&mut c, &got[2], "").await;
    let st = wait_for_state(&nc, "I", T, |st| st["messages"] == 0).await;
    assert_eq!((&st["first_seq"], &st["last_seq"]), (&json!(5), &json!(4)));

    // A filtered consumer only holds its subjects; deleting a consumer drops its interest.
    create_consumer(
        &nc,
        "I",
        json!({"durable_name": "F", "ack_policy": "explicit", "filter_subject": "i.f"}),
    )
    .await;
    publish_req(&nc, "i.f", &[], b"x").await;
    pull(&mut c, "I", "A", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    double_ack_raw(&mut c, &d, "").await;
    pull(&mut c, "I", "B", r#"{"batch":1}"#).await;
    let d = read_delivered(&mut c).await;
    double_ack_raw(&mut c, &d, "").await;
    assert_eq!(
        stream_state(&nc, "I").await["messages"],
        1,
        "F has not acked"
    );
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.I.F", Value::Null).await);
    wait_for_state(&nc, "I", T, |st| st["messages"] == 0).await;
}

#[tokio::test]
async fn workqueue_retention_removes_on_ack_and_polices_consumers() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "Q", "subjects": ["q.>"], "retention": "workqueue"}),
    )
    .await;
    for subj in ["q.a", "q.b", "q.a"] {
        publish_req(&nc, subj, &[], b"x").await;
    }
    create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "W", "ack_policy": "explicit"}),
    )
    .await;
    let e = try_create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "W2", "ack_policy": "explicit"}),
    )
    .await;
    assert_err(
        &e,
        400,
        10099,
        "multiple non-filtered consumers not allowed on workqueue stream",
    );
    let e = try_create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WA", "ack_policy": "explicit", "filter_subject": "q.a"}),
    )
    .await;
    assert_err(
        &e,
        400,
        10100,
        "filtered consumer not unique on workqueue stream",
    );

    let mut c = raw_js(&s).await;
    pull(&mut c, "Q", "W", r#"{"batch":3}"#).await;
    let got = read_n(&mut c, 3).await;
    assert_eq!(
        stream_state(&nc, "Q").await["messages"],
        3,
        "delivered, not acked"
    );
    double_ack_raw(&mut c, &got[1], "").await;
    let st = wait_for_state(&nc, "Q", T, |st| st["messages"] == 2).await;
    assert_eq!(
        (&st["first_seq"], &st["num_deleted"]),
        (&json!(1), &json!(1)),
        "{st}"
    );
    double_ack_raw(&mut c, &got[0], "").await;
    double_ack_raw(&mut c, &got[2], "").await;
    wait_for_state(&nc, "Q", T, |st| st["messages"] == 0).await;

    // Filtered consumers must not overlap.
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.Q.W", Value::Null).await);
    create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WA", "ack_policy": "explicit", "filter_subject": "q.a"}),
    )
    .await;
    for (name, filter) in [("WA2", "q.a"), ("WS", "q.*"), ("WG", "q.>")] {
        let e = try_create_consumer(
            &nc,
            "Q",
            json!({"durable_name": name, "ack_policy": "explicit", "filter_subject": filter}),
        )
        .await;
        assert_err(
            &e,
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        );
    }
    create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WB", "ack_policy": "explicit", "filter_subject": "q.b"}),
    )
    .await;
    let e = try_create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WU", "ack_policy": "explicit"}),
    )
    .await;
    assert_err(
        &e,
        400,
        10099,
        "multiple non-filtered consumers not allowed on workqueue stream",
    );
    let e = try_create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WN", "ack_policy": "none", "filter_subject": "q.n"}),
    )
    .await;
    assert_err(
        &e,
        400,
        10084,
        "consumer in pull mode requires explicit ack policy on workqueue stream",
    );
    let e = try_create_consumer(
        &nc,
        "Q",
        json!({"durable_name": "WL", "ack_policy": "explicit", "deliver_policy": "last",
               "filter_subject": "q.l"}),
    )
    .await;
    assert_err(
        &e,
        400,
        10101,
        "consumer must be deliver all on workqueue stream",
    );
}

/// Deleting a work-queue stream's consumer leaves its messages for the next one (Go
/// cleans up after a deleted consumer only on interest streams).
#[tokio::test]
async fn deleting_a_work_queue_consumer_keeps_the_messages() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "W", "subjects": ["w.>"], "retention": "workqueue"}),
    )
    .await;
    create_consumer(
        &nc,
        "W",
        json!({"durable_name": "C", "ack_policy": "explicit"}),
    )
    .await;
    for i in 1..=3 {
        assert_ack(&publish_req(&nc, "w.x", &[], b"m").await, "W", i);
    }
    ok(api(&nc, "$JS.API.CONSUMER.DELETE.W.C", Value::Null).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(stream_state(&nc, "W").await["messages"], 3);
    create_consumer(
        &nc,
        "W",
        json!({"durable_name": "D", "ack_policy": "explicit"}),
    )
    .await;
    assert_eq!(consumer_info(&nc, "W", "D").await["num_pending"], 3);
}
