//! JetStream streams, black-box: the `$JS.API.*` stream API, publishing into streams
//! (PubAck, dedupe, expected-* headers, limits), MSG.GET/DELETE, PURGE, DIRECT.GET and
//! persistence across restarts. Nothing here needs a consumer.
//!
//! Every expectation (JSON shapes, `code`/`err_code`/`description`, raw frames) was
//! captured from the Go reference nats-server 2.15.1 (`-js -sd <dir>`). Each test runs its
//! own server with JetStream on (`ServerBuilder::jetstream()`).

mod jetstream_common;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use jetcore_tests::*;
use jetstream_common::*;
use serde_json::{json, Value};

/// A raw connection with headers and no_responders on, subscribed to `_INBOX.x` (sid 1).
async fn raw_js(s: &Server) -> RawConn {
    let mut c = RawConn::connect(s).await;
    c.handshake(r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#)
        .await;
    c.send(b"SUB _INBOX.x 1\r\n").await;
    c.ping_pong().await;
    c
}

/// `PUB <subject> _INBOX.x <body>`
fn pub_x(subject: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("PUB {subject} _INBOX.x {}\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n");
    v
}

/// `HPUB <subject> _INBOX.x` with the given header lines (without the `NATS/1.0` line).
fn hpub_x(subject: &str, header_lines: &str, body: &[u8]) -> Vec<u8> {
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

/// Core NATS's no-responders frame for a request to `subject`, as received on sid 1.
fn no_responders_frame(subject: &str) -> Vec<u8> {
    let h = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
    format!("HMSG _INBOX.x 1 {0} {0}\r\n{h}\r\n", h.len()).into_bytes()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The StreamConfig defaults Go 2.15.1 fills in for `{"name":N,"subjects":[S]}`
/// (without `metadata`, which is checked separately).
fn default_config(name: &str, subjects: &[&str]) -> Value {
    json!({
        "name": name,
        "subjects": subjects,
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "discard": "old",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": 120_000_000_000u64,
        "compression": "none",
        "allow_direct": false,
        "mirror_direct": false,
        "sealed": false,
        "deny_delete": false,
        "deny_purge": false,
        "allow_rollup_hdrs": false,
        "consumer_limits": {},
        "allow_msg_ttl": false
    })
}

const ZERO_TS: &str = "0001-01-01T00:00:00Z";

fn empty_state() -> Value {
    json!({
        "messages": 0, "bytes": 0,
        "first_seq": 0, "first_ts": ZERO_TS,
        "last_seq": 0, "last_ts": ZERO_TS,
        "consumer_count": 0
    })
}

/// Checks that the response's `config` is `want` plus `metadata`, and returns the metadata.
#[track_caller]
fn assert_config(resp: &Value, want: &Value) -> Value {
    let mut cfg = resp["config"].clone();
    let md = cfg
        .as_object_mut()
        .expect("config object")
        .remove("metadata")
        .expect("config.metadata");
    assert_eq!(cfg, *want, "config of {resp}");
    md
}

/// Names returned by STREAM.NAMES (`null` when there are none, as Go sends it).
fn names(v: &Value) -> Vec<String> {
    match &v["streams"] {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(|n| n.as_str().unwrap().to_string()).collect(),
        other => panic!("streams: {other}"),
    }
}

// ------------------------------------------------------------------ $JS.API.INFO

#[tokio::test]
async fn api_info_shape_and_jetstream_flag_in_info_line() {
    let s = js_server();
    let raw = RawConn::connect(&s).await;
    assert_eq!(raw.info["jetstream"], json!(true), "INFO: {}", raw.info);
    let nc = client(&s).await;

    let v = api(&nc, "$JS.API.INFO", Value::Null).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.account_info_response");
    for k in [
        "memory",
        "storage",
        "reserved_memory",
        "reserved_storage",
        "streams",
        "consumers",
    ] {
        assert_eq!(v[k], json!(0), "{k} in {v}");
    }
    assert_eq!(
        v["limits"],
        json!({
            "max_memory": -1, "max_storage": -1, "max_streams": -1, "max_consumers": -1,
            "max_ack_pending": -1, "memory_max_stream_bytes": -1,
            "storage_max_stream_bytes": -1, "max_bytes_required": false
        })
    );
    assert_eq!(keys(&v["api"]), set(&["level", "total", "errors"]));
    assert_eq!(
        v["api"]["level"], raw.info["api_lvl"],
        "api.level vs INFO api_lvl"
    );
    assert!(v["api"]["level"].as_u64().unwrap() >= 1);
    assert!(v.get("domain").is_none(), "no domain configured: {v}");

    // One stream holding one message; one API error.
    create_stream(
        &nc,
        json!({"name": "S", "subjects": ["s.>"], "max_bytes": 1000}),
    )
    .await;
    assert_ack(&publish_req(&nc, "s.a", &[], b"hello").await, "S", 1);
    let e = api(&nc, "$JS.API.STREAM.INFO.NOPE", Value::Null).await;
    assert_err(&e, 404, 10059, "stream not found");
    let v = api(&nc, "$JS.API.INFO", Value::Null).await;
    assert_eq!(v["streams"], 1);
    assert_eq!(
        v["storage"],
        3 + 5 + 30,
        "file store bytes: subject+payload+30"
    );
    assert_eq!(v["reserved_storage"], 1000, "max_bytes is reserved");
    assert_eq!(v["memory"], 0);
    assert!(v["api"]["total"].as_u64().unwrap() >= 2, "{v}");
    assert!(v["api"]["errors"].as_u64().unwrap() >= 1, "{v}");

    // async-nats agrees.
    let acc = js(&nc).query_account().await.expect("query_account");
    assert_eq!(acc.streams, 1);

    // Without -js: no `jetstream` key in INFO, and nobody answers $JS.API.INFO.
    let plain = Server::start();
    let raw = RawConn::connect(&plain).await;
    assert!(raw.info.get("jetstream").is_none(), "INFO: {}", raw.info);
    let nc = client(&plain).await;
    let err = nc
        .request("$JS.API.INFO", "".into())
        .await
        .expect_err("no JetStream");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    assert!(js(&nc).query_account().await.is_err());
}

#[tokio::test]
async fn unknown_api_subjects_get_no_reply_at_all() {
    // Go 2.15.1 answers nothing (no 10003, no 503) to a `$JS.API.` subject without a
    // handler, and to a valid verb with an extra token.
    let s = js_server();
    let mut c = raw_js(&s).await;
    for subject in [
        "$JS.API.FOO",
        "$JS.API.STREAM.INFO",
        "$JS.API.STREAM.CREATE.a.b",
    ] {
        c.send(&pub_x(subject, b"")).await;
        c.expect_nothing(Duration::from_millis(300)).await;
    }
    // The connection still works, and the API too.
    c.send(&pub_x("$JS.API.STREAM.NAMES", b"")).await;
    match c.read_frame().await.expect("NAMES reply") {
        Frame::Msg { payload, .. } => assert_eq!(
            parse(&payload),
            json!({"type": "io.nats.jetstream.api.v1.stream_names_response",
                   "total": 0, "offset": 0, "limit": 1024, "streams": null})
        ),
        f => panic!("expected MSG, got {f:?}"),
    }
}

// ------------------------------------------------------------------ STREAM.CREATE

#[tokio::test]
async fn stream_create_fills_in_go_defaults() {
    let s = js_server();
    let nc = client(&s).await;
    let v = create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_create_response");
    assert_eq!(v["did_create"], true);
    assert_eq!(v["state"], empty_state());
    assert!(v["created"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(v["ts"].is_string(), "{v}");
    let md = assert_config(&v, &default_config("S", &["s.>"]));
    let level = api(&nc, "$JS.API.INFO", Value::Null).await["api"]["level"].to_string();
    assert_eq!(
        md,
        json!({
            "_nats.level": level,
            "_nats.req.level": "0",
            "_nats.ver": nc.server_info().version
        })
    );

    // No subjects: the stream takes its name as its only subject. Memory storage is kept.
    let v = create_stream(&nc, json!({"name": "M", "storage": "memory"})).await;
    let mut want = default_config("M", &["M"]);
    want["storage"] = json!("memory");
    assert_config(&v, &want);
    assert_ack(&publish_req(&nc, "M", &[], b"x").await, "M", 1);

    // async-nats sees the same.
    let mut st = js(&nc).get_stream("S").await.expect("get_stream");
    let info = st.info().await.unwrap();
    assert_eq!(info.config.subjects, vec!["s.>".to_string()]);
    assert_eq!(info.config.max_messages, -1);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    assert_eq!(info.state.messages, 0);
}

#[tokio::test]
async fn stream_create_rejects_bad_requests() {
    let s = js_server();
    let nc = client(&s).await;
    let cases: &[(&str, Value, u64, u64, &str)] = &[
        (
            "a*b",
            json!({"name": "a*b"}),
            500,
            10052,
            r"stream name is required and can not contain '.', '*', '>', '\', '/'",
        ),
        (
            "A",
            json!({"name": "B"}),
            400,
            10056,
            "stream name in subject does not match request",
        ),
        (
            "A",
            Value::Null, // empty body: the name is missing, so it does not match
            400,
            10056,
            "stream name in subject does not match request",
        ),
        (
            "R",
            json!({"name": "R", "num_replicas": 3}),
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        ),
        (
            "Q",
            json!({"name": "Q", "subjects": ["q.*", "q.a"]}),
            500,
            10052,
            r#"subject "q.*" overlaps with "q.a""#,
        ),
        (
            "Q",
            json!({"name": "Q", "subjects": ["bad subject"]}),
            500,
            10052,
            "invalid subject",
        ),
        (
            "Q",
            json!({"name": "Q", "subjects": ["$JS.API.>"]}),
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "Q",
            json!({"name": "Q", "subjects": [">"]}),
            500,
            10052,
            "capturing all subjects requires no-ack to be true",
        ),
        (
            "D",
            json!({"name": "D", "discard_new_per_subject": true, "max_msgs_per_subject": 1}),
            500,
            10052,
            "discard new per subject requires discard new policy to be set",
        ),
    ];
    for (subj_name, body, code, err_code, desc) in cases {
        let v = api(
            &nc,
            &format!("$JS.API.STREAM.CREATE.{subj_name}"),
            body.clone(),
        )
        .await;
        assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_create_response");
        assert_err(&v, *code, *err_code, desc);
    }
    // 255 characters is the longest name.
    let long = "x".repeat(256);
    let v = api(
        &nc,
        &format!("$JS.API.STREAM.CREATE.{long}"),
        json!({"name": long}),
    )
    .await;
    assert_err(
        &v,
        500,
        10052,
        "stream name is too long, maximum allowed is 255",
    );
    let ok_name = "y".repeat(255);
    create_stream(&nc, json!({"name": ok_name})).await;

    // Bad JSON: 10025, "invalid JSON: " + the decoder's message (Go's own wording).
    for body in [&b"{bad"[..], br#"{"name":"J","storage":"disk"}"#] {
        let v = api_raw(&nc, "$JS.API.STREAM.CREATE.J", body.into()).await;
        assert_eq!(
            (&v["error"]["code"], &v["error"]["err_code"]),
            (&json!(400), &json!(10025))
        );
        let d = v["error"]["description"].as_str().unwrap();
        assert!(d.starts_with("invalid JSON: "), "{d}");
    }

    // Only the 255-character stream exists.
    let v = api(&nc, "$JS.API.STREAM.NAMES", Value::Null).await;
    assert_eq!(names(&v), vec![ok_name]);
}

#[tokio::test]
async fn stream_create_is_idempotent_only_with_the_same_config() {
    let s = js_server();
    let nc = client(&s).await;
    let cfg = json!({"name": "S", "subjects": ["s.>"]});
    let first = create_stream(&nc, cfg.clone()).await;
    assert_ack(&publish_req(&nc, "s.1", &[], b"x").await, "S", 1);
    let again = create_stream(&nc, cfg).await;
    // Go 2.15.1 says did_create:true again; the stream (and its message) is the same.
    assert_eq!(again["did_create"], true);
    assert_eq!(again["created"], first["created"]);
    assert_eq!(again["config"], first["config"]);
    assert_eq!(again["state"]["messages"], 1);

    let v = api(
        &nc,
        "$JS.API.STREAM.CREATE.S",
        json!({"name": "S", "subjects": ["s.>"], "max_msgs": 5}),
    )
    .await;
    assert_err(
        &v,
        400,
        10058,
        "stream name already in use with a different configuration",
    );
    // The same through async-nats.
    let err = js(&nc)
        .create_stream(stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            max_messages: 5,
            ..Default::default()
        })
        .await
        .expect_err("different config");
    match err.kind() {
        jetstream::context::CreateStreamErrorKind::JetStream(e) => {
            assert_eq!(e.error_code(), jetstream::ErrorCode::STREAM_NAME_EXIST)
        }
        k => panic!("unexpected kind {k:?}"),
    }
    // Unchanged.
    let info = stream_info(&nc, "S", Value::Null).await;
    assert_eq!(info["config"]["max_msgs"], -1);
    assert_eq!(info["state"]["messages"], 1);
}

#[tokio::test]
async fn stream_subjects_may_not_overlap_another_stream() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "A", "subjects": ["s.>", "e.*.x"]})).await;
    create_stream(&nc, json!({"name": "Z"})).await; // subject "Z"
    for subjects in [
        json!(["s.foo"]),
        json!(["s.*"]),
        json!(["e.>"]),
        json!(["e.a.*"]),
        json!(["Z"]),
    ] {
        let v = api(
            &nc,
            "$JS.API.STREAM.CREATE.B",
            json!({"name": "B", "subjects": subjects}),
        )
        .await;
        assert_err(&v, 400, 10065, "subjects overlap with an existing stream");
    }
    // Disjoint subjects are fine; an update may not add an overlapping one either.
    create_stream(&nc, json!({"name": "B", "subjects": ["t.>", "e.*.y"]})).await;
    let v = api(
        &nc,
        "$JS.API.STREAM.UPDATE.B",
        json!({"name": "B", "subjects": ["t.>", "s.x"]}),
    )
    .await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_update_response");
    assert_err(&v, 400, 10065, "subjects overlap with an existing stream");
    // Each subject goes to its own stream.
    assert_ack(&publish_req(&nc, "e.1.x", &[], b"").await, "A", 1);
    assert_ack(&publish_req(&nc, "e.1.y", &[], b"").await, "B", 1);
}

// ------------------------------------------------------------------ UPDATE / DELETE

#[tokio::test]
async fn stream_update_changes_limits_and_subjects_but_not_storage() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    let v = ok(api(
        &nc,
        "$JS.API.STREAM.UPDATE.S",
        json!({"name": "S", "subjects": ["s.>", "t.>"], "max_msgs": 10}),
    )
    .await);
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_update_response");
    assert!(v.get("did_create").is_none(), "{v}");
    let mut want = default_config("S", &["s.>", "t.>"]);
    want["max_msgs"] = json!(10);
    assert_config(&v, &want);
    assert_ack(&publish_req(&nc, "t.1", &[], b"x").await, "S", 1);

    let refused: &[(Value, u64, u64, &str)] = &[
        (
            json!({"name": "S", "subjects": ["s.>", "t.>"], "max_msgs": 10, "storage": "memory"}),
            500,
            10052,
            "stream configuration update can not change storage type",
        ),
        (
            json!({"name": "S", "subjects": ["s.>", "t.>"], "retention": "workqueue"}),
            500,
            10052,
            "stream configuration update can not change retention policy to/from workqueue",
        ),
        (
            json!({"name": "X", "subjects": ["s.>"]}),
            400,
            10056,
            "stream name in subject does not match request",
        ),
    ];
    for (body, code, err_code, desc) in refused {
        let v = api(&nc, "$JS.API.STREAM.UPDATE.S", body.clone()).await;
        assert_err(&v, *code, *err_code, desc);
    }
    let v = api(
        &nc,
        "$JS.API.STREAM.UPDATE.NOPE",
        json!({"name": "NOPE", "subjects": ["n.>"]}),
    )
    .await;
    assert_err(&v, 404, 10059, "stream not found");
    // The refused updates changed nothing.
    let info = stream_info(&nc, "S", Value::Null).await;
    assert_config(&info, &want);
    assert_eq!(info["state"]["messages"], 1);

    // async-nats update_stream.
    let mut cfg = js(&nc)
        .get_stream("S")
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    cfg.max_messages = 20;
    let info = js(&nc).update_stream(cfg).await.expect("update_stream");
    assert_eq!(info.config.max_messages, 20);
}

#[tokio::test]
async fn stream_delete_then_info_is_not_found() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    assert_ack(&publish_req(&nc, "s.a", &[], b"x").await, "S", 1);

    let v = api(&nc, "$JS.API.STREAM.DELETE.S", Value::Null).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.stream_delete_response", "success": true})
    );
    let v = api(&nc, "$JS.API.STREAM.DELETE.S", Value::Null).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_delete_response");
    assert_err(&v, 404, 10059, "stream not found");
    let v = api(&nc, "$JS.API.STREAM.INFO.S", Value::Null).await;
    assert_eq!(
        v,
        json!({
            "type": "io.nats.jetstream.api.v1.stream_info_response",
            "error": {"code": 404, "err_code": 10059, "description": "stream not found"},
            "total": 0, "offset": 0, "limit": 0
        })
    );
    // Its subjects are no longer captured.
    let err = nc.request("s.a", "x".into()).await.expect_err("no stream");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    // async-nats: get_stream fails with the JetStream error.
    match js(&nc).get_stream("S").await.expect_err("deleted").kind() {
        jetstream::context::GetStreamErrorKind::JetStream(e) => {
            assert_eq!(e.error_code(), jetstream::ErrorCode::STREAM_NOT_FOUND)
        }
        k => panic!("unexpected kind {k:?}"),
    }
    // The name can be used again, from scratch.
    let v = create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    assert_eq!(v["state"], empty_state());
}

// ------------------------------------------------------------------ NAMES / LIST

#[tokio::test]
async fn stream_names_and_list_with_subject_filter() {
    let s = js_server();
    let nc = client(&s).await;
    // Created out of order: both lists are sorted by name.
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>", "t.>"]})).await;
    create_stream(
        &nc,
        json!({"name": "B", "subjects": ["b.>"], "storage": "memory"}),
    )
    .await;
    create_stream(&nc, json!({"name": "C", "subjects": ["c.*"]})).await;

    let v = api(&nc, "$JS.API.STREAM.NAMES", Value::Null).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.stream_names_response",
               "total": 3, "offset": 0, "limit": 1024, "streams": ["B", "C", "S"]})
    );
    for (filter, want) in [
        ("b.x", vec!["B"]),
        ("t.*", vec!["S"]),
        ("c.1", vec!["C"]),
        (">", vec!["B", "C", "S"]),
        ("c.1.2", vec![]),
        ("zzz", vec![]),
    ] {
        let v = api(&nc, "$JS.API.STREAM.NAMES", json!({"subject": filter})).await;
        assert_eq!(names(&v), want, "filter {filter}: {v}");
        assert_eq!(v["total"], want.len(), "filter {filter}");
    }
    // No match: Go sends `"streams":null`.
    let v = api(&nc, "$JS.API.STREAM.NAMES", json!({"subject": "zzz"})).await;
    assert_eq!(v["streams"], Value::Null);

    let v = api(&nc, "$JS.API.STREAM.LIST", Value::Null).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_list_response");
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(3), &json!(0), &json!(256))
    );
    let listed: Vec<&str> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["config"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["B", "C", "S"]);
    let c = &v["streams"][1];
    // In LIST, Go's metadata holds only `_nats.req.level` (no `_nats.ver`/`_nats.level`).
    let md = assert_config(c, &default_config("C", &["c.*"]));
    assert_eq!(md, json!({"_nats.req.level": "0"}));
    assert_eq!(c["state"], empty_state());
    assert!(c["created"].is_string() && c["ts"].is_string(), "{c}");

    let v = api(&nc, "$JS.API.STREAM.LIST", json!({"subject": "c.1"})).await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["streams"][0]["config"]["name"], "C");
    let v = api(&nc, "$JS.API.STREAM.LIST", json!({"subject": "zzz"})).await;
    assert_eq!(v["total"], 0);

    // async-nats stream_names / streams.
    use futures::TryStreamExt;
    let mut all: Vec<String> = js(&nc).stream_names().try_collect().await.unwrap();
    all.sort();
    assert_eq!(all, ["B", "C", "S"]);
    let infos: Vec<stream::Info> = js(&nc).streams().try_collect().await.unwrap();
    assert_eq!(infos.len(), 3);
    let name = js(&nc)
        .stream_by_subject("t.x")
        .await
        .expect("stream_by_subject");
    assert_eq!(name, "S");
}

#[tokio::test]
async fn stream_names_and_list_paging() {
    let s = js_server();
    let nc = client(&s).await;
    for n in ["E", "D", "C", "B", "A"] {
        create_stream(&nc, json!({"name": n, "storage": "memory"})).await;
    }
    let v = api(&nc, "$JS.API.STREAM.NAMES", json!({"offset": 2})).await;
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(5), &json!(2), &json!(1024))
    );
    assert_eq!(names(&v), ["C", "D", "E"]);
    // Past the end: the offset is clamped to the total and `streams` is null.
    let v = api(&nc, "$JS.API.STREAM.NAMES", json!({"offset": 10})).await;
    assert_eq!(
        v,
        json!({"type": "io.nats.jetstream.api.v1.stream_names_response",
               "total": 5, "offset": 5, "limit": 1024, "streams": null})
    );
    let v = api(&nc, "$JS.API.STREAM.LIST", json!({"offset": 3})).await;
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(5), &json!(3), &json!(256))
    );
    let listed: Vec<&str> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["config"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["D", "E"]);
    // Offset and subject filter together.
    let v = api(
        &nc,
        "$JS.API.STREAM.NAMES",
        json!({"offset": 1, "subject": ">"}),
    )
    .await;
    assert_eq!(names(&v), ["B", "C", "D", "E"]);
}

// ------------------------------------------------------------------ publish

#[tokio::test]
async fn publish_ack_bytes_and_publish_without_reply_is_stored() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    let mut c = raw_js(&s).await;
    c.send(&pub_x("p.a", b"one")).await;
    c.expect_bytes(b"MSG _INBOX.x 1 22\r\n{\"stream\":\"P\",\"seq\":1}\r\n")
        .await;
    // No reply subject: stored, nothing sent back.
    c.send(b"PUB p.b 3\r\ntwo\r\n").await;
    c.expect_nothing(Duration::from_millis(200)).await;
    c.send(&hpub_x("p.c", "H: v\r\n", b"three")).await;
    c.expect_bytes(b"MSG _INBOX.x 1 22\r\n{\"stream\":\"P\",\"seq\":3}\r\n")
        .await;
    let st = stream_state(&nc, "P").await;
    assert_eq!((&st["messages"], &st["last_seq"]), (&json!(3), &json!(3)));
    let v = ok(api(&nc, "$JS.API.STREAM.MSG.GET.P", json!({"seq": 2})).await);
    assert_eq!(v["message"]["subject"], "p.b");
    assert_eq!(v["message"]["data"], "dHdv"); // base64("two")

    // async-nats publish: PubAckFuture -> PublishAck.
    let ack = js(&nc)
        .publish("p.d", "four".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.sequence, ack.duplicate),
        ("P", 4, false)
    );
}

#[tokio::test]
async fn publish_to_a_subject_without_stream_gets_no_responders() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    let err = nc
        .request("nostream.x", "x".into())
        .await
        .expect_err("no stream");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    let err = js(&nc)
        .publish("nostream.x", "x".into())
        .await
        .unwrap()
        .await
        .expect_err("no stream");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::StreamNotFound
    );
    // Raw: the 503 status frame of core NATS.
    let mut c = raw_js(&s).await;
    c.send(&pub_x("nostream.x", b"x")).await;
    c.expect_bytes(&no_responders_frame("nostream.x")).await;
    // `p` alone is not under `p.>`.
    c.send(&pub_x("p", b"x")).await;
    c.expect_bytes(&no_responders_frame("p")).await;
    assert_eq!(stream_state(&nc, "P").await["messages"], 0);
}

#[tokio::test]
async fn publish_msg_id_is_deduplicated() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    let mut c = raw_js(&s).await;
    c.send(&hpub_x("p.a", "Nats-Msg-Id: m1\r\n", b"first"))
        .await;
    c.expect_bytes(b"MSG _INBOX.x 1 22\r\n{\"stream\":\"P\",\"seq\":1}\r\n")
        .await;
    // The duplicate's ack names the original sequence. Note Go's space after the colon.
    c.send(&hpub_x("p.a", "Nats-Msg-Id: m1\r\n", b"second"))
        .await;
    c.expect_bytes(b"MSG _INBOX.x 1 40\r\n{\"stream\":\"P\",\"seq\":1,\"duplicate\": true}\r\n")
        .await;
    // Another subject, same id: still a duplicate (ids are per stream).
    c.send(&hpub_x("p.b", "Nats-Msg-Id: m1\r\n", b"third"))
        .await;
    c.expect_bytes(b"MSG _INBOX.x 1 40\r\n{\"stream\":\"P\",\"seq\":1,\"duplicate\": true}\r\n")
        .await;
    let st = stream_state(&nc, "P").await;
    assert_eq!((&st["messages"], &st["last_seq"]), (&json!(1), &json!(1)));
    let v = ok(api(&nc, "$JS.API.STREAM.MSG.GET.P", json!({"seq": 1})).await);
    assert_eq!(v["message"]["data"], "Zmlyc3Q="); // base64("first")

    // A new id is stored; async-nats reports `duplicate`.
    let ctx = js(&nc);
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", "m2");
    let ack = ctx
        .publish_with_headers("p.a", h.clone(), "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (2, false));
    let ack = ctx
        .publish_with_headers("p.a", h, "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((ack.sequence, ack.duplicate), (2, true));
    assert_eq!(stream_state(&nc, "P").await["messages"], 2);
}

#[tokio::test]
async fn publish_expected_stream() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Stream", "Q")], b"x").await;
    assert_pub_err(&v, "P", 400, 10060, "expected stream does not match");
    assert_eq!(stream_state(&nc, "P").await["messages"], 0);
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Stream", "P")], b"x").await;
    assert_ack(&v, "P", 1);
}

#[tokio::test]
async fn publish_expected_last_sequence() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    // 0 is a real expectation: "the stream is empty".
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Sequence", "0")], b"x").await;
    assert_ack(&v, "P", 1);
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Sequence", "0")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 1");
    assert_ack(&publish_req(&nc, "p.b", &[], b"x").await, "P", 2);
    assert_ack(&publish_req(&nc, "p.c", &[], b"x").await, "P", 3);
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Sequence", "1")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 3");
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Sequence", "9")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 3");
    let st = stream_state(&nc, "P").await;
    assert_eq!((&st["messages"], &st["last_seq"]), (&json!(3), &json!(3)));
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Sequence", "3")], b"x").await;
    assert_ack(&v, "P", 4);

    // async-nats maps 10071 to WrongLastSequence.
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Sequence", "1");
    let err = js(&nc)
        .publish_with_headers("p.a", h, "x".into())
        .await
        .unwrap()
        .await
        .expect_err("wrong last sequence");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::WrongLastSequence
    );
}

#[tokio::test]
async fn publish_expected_last_msg_id() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    assert_ack(
        &publish_req(&nc, "p.a", &[("Nats-Msg-Id", "m1")], b"x").await,
        "P",
        1,
    );
    // The description names the id of the stream's last message.
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Msg-Id", "zz")], b"x").await;
    assert_pub_err(&v, "P", 400, 10070, "wrong last msg ID: m1");
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Msg-Id", "m1")], b"x").await;
    assert_ack(&v, "P", 2);
    // Message 2 had no id, so the last id is now empty.
    let v = publish_req(&nc, "p.a", &[("Nats-Expected-Last-Msg-Id", "m1")], b"x").await;
    assert_pub_err(&v, "P", 400, 10070, "wrong last msg ID: ");
    assert_ack(
        &publish_req(&nc, "p.a", &[("Nats-Msg-Id", "m3")], b"x").await,
        "P",
        3,
    );
    let v = publish_req(
        &nc,
        "p.a",
        &[("Nats-Expected-Last-Msg-Id", "zz"), ("Nats-Msg-Id", "m4")],
        b"x",
    )
    .await;
    assert_pub_err(&v, "P", 400, 10070, "wrong last msg ID: m3");
    assert_eq!(stream_state(&nc, "P").await["messages"], 3);
    // A refused message's id was not recorded: m4 is not a duplicate.
    let v = publish_req(
        &nc,
        "p.a",
        &[("Nats-Expected-Last-Msg-Id", "m3"), ("Nats-Msg-Id", "m4")],
        b"x",
    )
    .await;
    assert_ack(&v, "P", 4);

    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Msg-Id", "nope");
    let err = js(&nc)
        .publish_with_headers("p.a", h, "x".into())
        .await
        .unwrap()
        .await
        .expect_err("wrong last msg id");
    assert_eq!(
        err.kind(),
        jetstream::context::PublishErrorKind::WrongLastMessageId
    );
}

#[tokio::test]
async fn publish_expected_last_subject_sequence() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    const H: &str = "Nats-Expected-Last-Subject-Sequence";
    // 0: the subject must have no message yet.
    assert_ack(&publish_req(&nc, "p.a", &[(H, "0")], b"x").await, "P", 1);
    assert_ack(&publish_req(&nc, "p.b", &[(H, "0")], b"x").await, "P", 2);
    let v = publish_req(&nc, "p.a", &[(H, "0")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 1");
    // The number is the subject's last sequence, not the stream's.
    let v = publish_req(&nc, "p.a", &[(H, "2")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 1");
    let v = publish_req(&nc, "p.new", &[(H, "2")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 0");
    assert_eq!(stream_state(&nc, "P").await["messages"], 2);
    assert_ack(&publish_req(&nc, "p.a", &[(H, "1")], b"x").await, "P", 3);
    assert_ack(&publish_req(&nc, "p.b", &[(H, "2")], b"x").await, "P", 4);
    let v = publish_req(&nc, "p.a", &[(H, "1")], b"x").await;
    assert_pub_err(&v, "P", 400, 10071, "wrong last sequence: 3");
}

#[tokio::test]
async fn max_msg_size_counts_headers_too() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "M", "subjects": ["m.>"], "max_msg_size": 10}),
    )
    .await;
    assert_ack(&publish_req(&nc, "m.a", &[], &[b'x'; 10]).await, "M", 1);
    let v = publish_req(&nc, "m.a", &[], &[b'x'; 11]).await;
    assert_pub_err(&v, "M", 400, 10054, "message size exceeds maximum allowed");
    // 1 byte of payload, but headers make it larger than 10.
    let v = publish_req(&nc, "m.a", &[("Nats-Msg-Id", "a")], b"x").await;
    assert_pub_err(&v, "M", 400, 10054, "message size exceeds maximum allowed");
    let st = stream_state(&nc, "M").await;
    assert_eq!((&st["messages"], &st["last_seq"]), (&json!(1), &json!(1)));
}

#[tokio::test]
async fn max_msgs_discard_old_drops_the_oldest() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "L", "subjects": ["l.>"], "max_msgs": 3}),
    )
    .await;
    for i in 1..=5u64 {
        let body = format!("{}", i - 1);
        assert_ack(&publish_req(&nc, "l.a", &[], body.as_bytes()).await, "L", i);
    }
    let st = stream_state(&nc, "L").await;
    assert_eq!(st["messages"], 3);
    assert_eq!((&st["first_seq"], &st["last_seq"]), (&json!(3), &json!(5)));
    assert_eq!(
        st["bytes"],
        3 * (3 + 1 + 30),
        "file store: subject+payload+30 each"
    );
    assert!(
        st.get("num_deleted").is_none(),
        "dropped from the front: {st}"
    );
    let v = api(&nc, "$JS.API.STREAM.MSG.GET.L", json!({"seq": 2})).await;
    assert_err(&v, 404, 10037, "no message found");
}

#[tokio::test]
async fn max_msgs_discard_new_refuses_and_changes_nothing() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "N", "subjects": ["n.>"], "max_msgs": 2, "discard": "new"}),
    )
    .await;
    assert_ack(&publish_req(&nc, "n.a", &[], b"0").await, "N", 1);
    assert_ack(&publish_req(&nc, "n.a", &[], b"1").await, "N", 2);
    let before = stream_state(&nc, "N").await;
    let v = publish_req(&nc, "n.a", &[], b"2").await;
    assert_pub_err(&v, "N", 503, 10077, "maximum messages exceeded");
    // A refused message with an id does not poison the id either.
    let v = publish_req(&nc, "n.b", &[("Nats-Msg-Id", "late")], b"2").await;
    assert_pub_err(&v, "N", 503, 10077, "maximum messages exceeded");
    assert_eq!(stream_state(&nc, "N").await, before);
    // After a purge there is room again; the sequence continues.
    ok(api(&nc, "$JS.API.STREAM.PURGE.N", Value::Null).await);
    assert_ack(
        &publish_req(&nc, "n.b", &[("Nats-Msg-Id", "late")], b"2").await,
        "N",
        3,
    );
}

#[tokio::test]
async fn max_msgs_per_subject_old_and_new() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "PS", "subjects": ["ps.>"], "max_msgs_per_subject": 2}),
    )
    .await;
    for (i, subj) in ["ps.a", "ps.a", "ps.a", "ps.b"].iter().enumerate() {
        assert_ack(&publish_req(&nc, subj, &[], b"x").await, "PS", i as u64 + 1);
    }
    let v = stream_info(&nc, "PS", json!({"subjects_filter": ">"})).await;
    assert_eq!(v["state"]["subjects"], json!({"ps.a": 2, "ps.b": 1}));
    assert_eq!(
        (&v["state"]["messages"], &v["state"]["first_seq"]),
        (&json!(3), &json!(2))
    );

    // discard new + discard_new_per_subject: refuse instead of dropping.
    create_stream(
        &nc,
        json!({"name": "PN", "subjects": ["pn.>"], "max_msgs_per_subject": 1,
               "discard": "new", "discard_new_per_subject": true}),
    )
    .await;
    assert_ack(&publish_req(&nc, "pn.a", &[], b"1").await, "PN", 1);
    let v = publish_req(&nc, "pn.a", &[], b"2").await;
    assert_pub_err(
        &v,
        "PN",
        503,
        10077,
        "maximum messages per subject exceeded",
    );
    assert_ack(&publish_req(&nc, "pn.b", &[], b"2").await, "PN", 2);
    assert_eq!(stream_state(&nc, "PN").await["messages"], 2);
}

#[tokio::test]
async fn max_bytes_old_and_new() {
    let s = js_server();
    let nc = client(&s).await;
    // Each message "bo.a" + 40 bytes costs 4 + 40 + 30 = 74 bytes: only one fits in 100.
    create_stream(
        &nc,
        json!({"name": "BO", "subjects": ["bo.>"], "max_bytes": 100}),
    )
    .await;
    for i in 1..=3 {
        assert_ack(&publish_req(&nc, "bo.a", &[], &[b'x'; 40]).await, "BO", i);
    }
    let st = stream_state(&nc, "BO").await;
    assert_eq!((&st["messages"], &st["bytes"]), (&json!(1), &json!(74)));
    assert_eq!(st["first_seq"], 3);

    create_stream(
        &nc,
        json!({"name": "BY", "subjects": ["by.>"], "max_bytes": 100, "discard": "new"}),
    )
    .await;
    assert_ack(&publish_req(&nc, "by.a", &[], &[b'x'; 40]).await, "BY", 1);
    let v = publish_req(&nc, "by.a", &[], &[b'x'; 40]).await;
    assert_pub_err(&v, "BY", 503, 10077, "maximum bytes exceeded");
    let st = stream_state(&nc, "BY").await;
    assert_eq!(
        (&st["messages"], &st["bytes"], &st["last_seq"]),
        (&json!(1), &json!(74), &json!(1))
    );
    // Any message would go over: 74 + (4 + 20 + 30) = 128 > 100.
    let v = publish_req(&nc, "by.a", &[], &[b'x'; 20]).await;
    assert_pub_err(&v, "BY", 503, 10077, "maximum bytes exceeded");
    assert_eq!(stream_state(&nc, "BY").await["messages"], 1);
}

// ------------------------------------------------------------------ STREAM.INFO / PURGE

#[tokio::test]
async fn stream_info_subjects_filter_and_deleted_details() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "I", "subjects": ["i.>"]})).await;
    for subj in ["i.a", "i.b", "i.a", "i.c.x", "i.a"] {
        publish_req(&nc, subj, &[], b"x").await;
    }
    ok(api(&nc, "$JS.API.STREAM.MSG.DELETE.I", json!({"seq": 2})).await);
    ok(api(&nc, "$JS.API.STREAM.MSG.DELETE.I", json!({"seq": 3})).await);

    // Plain INFO: no subjects map, no deleted list, but the counts.
    let v = stream_info(&nc, "I", Value::Null).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_info_response");
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(0), &json!(0), &json!(0))
    );
    let st = &v["state"];
    assert_eq!(st["messages"], 3);
    assert_eq!(st["num_subjects"], 2);
    assert_eq!(st["num_deleted"], 2);
    assert!(
        st.get("subjects").is_none() && st.get("deleted").is_none(),
        "{st}"
    );
    assert_eq!((&st["first_seq"], &st["last_seq"]), (&json!(1), &json!(5)));
    assert_ne!(st["first_ts"], ZERO_TS);

    let v = stream_info(
        &nc,
        "I",
        json!({"subjects_filter": ">", "deleted_details": true}),
    )
    .await;
    assert_eq!(v["state"]["subjects"], json!({"i.a": 2, "i.c.x": 1}));
    assert_eq!(v["state"]["deleted"], json!([2, 3]));
    assert_eq!(
        (&v["total"], &v["offset"], &v["limit"]),
        (&json!(2), &json!(0), &json!(100000))
    );
    let v = stream_info(&nc, "I", json!({"subjects_filter": "i.*"})).await;
    assert_eq!(v["state"]["subjects"], json!({"i.a": 2}));
    assert_eq!(v["total"], 1);
    // A filter matching nothing: no `subjects` key, total 0, limit 0.
    let v = stream_info(&nc, "I", json!({"subjects_filter": "zz"})).await;
    assert!(v["state"].get("subjects").is_none(), "{v}");
    assert_eq!((&v["total"], &v["limit"]), (&json!(0), &json!(0)));

    let v = api_raw(&nc, "$JS.API.STREAM.INFO.I", "{bad".into()).await;
    assert_eq!(
        (&v["error"]["code"], &v["error"]["err_code"]),
        (&json!(400), &json!(10025))
    );

    // async-nats info_with_subjects.
    use futures::TryStreamExt;
    let st = js(&nc).get_stream("I").await.unwrap();
    let subjects: std::collections::HashMap<String, usize> = st
        .info_with_subjects("i.>")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(subjects.len(), 2);
    assert_eq!(subjects["i.a"], 2);
}

#[tokio::test]
async fn purge_all_filter_seq_keep() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "U", "subjects": ["u.>"]})).await;
    let fill = || async {
        for subj in ["u.a", "u.b", "u.a", "u.c", "u.b", "u.a"] {
            publish_req(&nc, subj, &[], b"m1").await;
        }
    };
    fill().await; // 1..=6
    let purge = |body: Value| {
        let nc = nc.clone();
        async move { api(&nc, "$JS.API.STREAM.PURGE.U", body).await }
    };
    let purged = |n: u64| {
        json!({"type": "io.nats.jetstream.api.v1.stream_purge_response",
                                 "success": true, "purged": n})
    };

    assert_eq!(purge(json!({"filter": "u.a"})).await, purged(3));
    let v = stream_info(&nc, "U", json!({"subjects_filter": ">"})).await;
    assert_eq!(v["state"]["subjects"], json!({"u.b": 2, "u.c": 1}));
    assert_eq!(
        (&v["state"]["first_seq"], &v["state"]["num_deleted"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(purge(json!({"filter": "u.a", "keep": 1})).await, purged(0));
    // `seq`: everything below it.
    assert_eq!(purge(json!({"seq": 4})).await, purged(1));
    assert_eq!(stream_state(&nc, "U").await["first_seq"], 4);
    // `seq` and `keep` together: bad request, nothing purged.
    let v = purge(json!({"seq": 4, "keep": 1})).await;
    assert_eq!(v["type"], "io.nats.jetstream.api.v1.stream_purge_response");
    assert_err(&v, 400, 10003, "bad request");
    assert_eq!(v["purged"], 0);
    // Everything: the first sequence moves past the last one.
    assert_eq!(purge(Value::Null).await, purged(2));
    let st = stream_state(&nc, "U").await;
    assert_eq!(
        (
            &st["messages"],
            &st["bytes"],
            &st["first_seq"],
            &st["last_seq"],
            &st["first_ts"]
        ),
        (&json!(0), &json!(0), &json!(7), &json!(6), &json!(ZERO_TS))
    );
    assert_ne!(st["last_ts"], ZERO_TS);
    assert_eq!(purge(Value::Null).await, purged(0));

    fill().await; // 7..=12
    assert_eq!(purge(json!({"keep": 2})).await, purged(4));
    let st = stream_state(&nc, "U").await;
    assert_eq!(
        (&st["first_seq"], &st["last_seq"]),
        (&json!(11), &json!(12))
    );
    // filter + keep 0 = all of that subject; filter + seq.
    assert_eq!(purge(json!({"filter": "u.b", "keep": 0})).await, purged(1));
    assert_eq!(purge(json!({"filter": "u.*", "seq": 12})).await, purged(0));
    assert_eq!(stream_state(&nc, "U").await["messages"], 1);

    let v = api(&nc, "$JS.API.STREAM.PURGE.NOPE", Value::Null).await;
    assert_err(&v, 404, 10059, "stream not found");
    assert_eq!(v["purged"], 0);

    // async-nats purge builder.
    fill().await;
    let st = js(&nc).get_stream("U").await.unwrap();
    let r = st.purge().filter("u.a").await.unwrap();
    assert_eq!(r.purged, 4); // 3 new + the one left over
    let r = st.purge().await.unwrap();
    assert_eq!(r.purged, 3);
}

#[tokio::test]
async fn deny_delete_and_deny_purge_are_enforced_and_one_way() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "DD", "subjects": ["dd.>"], "deny_delete": true, "deny_purge": true}),
    )
    .await;
    assert_ack(&publish_req(&nc, "dd.a", &[], b"1").await, "DD", 1);
    let v = api(&nc, "$JS.API.STREAM.MSG.DELETE.DD", json!({"seq": 1})).await;
    assert_err(&v, 500, 10057, "message delete not permitted");
    let v = api(&nc, "$JS.API.STREAM.PURGE.DD", Value::Null).await;
    assert_err(&v, 500, 10110, "stream purge not permitted");
    assert_eq!(v["purged"], 0);
    assert_eq!(stream_state(&nc, "DD").await["messages"], 1);
    let v = api(
        &nc,
        "$JS.API.STREAM.UPDATE.DD",
        json!({"name": "DD", "subjects": ["dd.>"], "deny_delete": false, "deny_purge": true}),
    )
    .await;
    assert_err(
        &v,
        500,
        10052,
        "stream configuration update can not cancel deny message deletes",
    );
    let v = api(
        &nc,
        "$JS.API.STREAM.UPDATE.DD",
        json!({"name": "DD", "subjects": ["dd.>"], "deny_delete": true, "deny_purge": false}),
    )
    .await;
    assert_err(
        &v,
        500,
        10052,
        "stream configuration update can not cancel deny purge",
    );
    // Deleting the whole stream is still allowed.
    ok(api(&nc, "$JS.API.STREAM.DELETE.DD", Value::Null).await);
}

// ------------------------------------------------------------------ MSG.GET / MSG.DELETE

#[tokio::test]
async fn msg_get_by_seq_last_and_next_by_subject() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "G", "subjects": ["g.>"]})).await;
    let mut c = raw_js(&s).await;
    c.send(&hpub_x("g.a", "H: v\r\n", b"m1")).await;
    c.read_frame().await.unwrap();
    for (i, subj) in ["g.b", "g.a", "g.c", "g.b"].iter().enumerate() {
        assert_ack(
            &publish_req(&nc, subj, &[], format!("m{}", i + 2).as_bytes()).await,
            "G",
            i as u64 + 2,
        );
    }
    let get = |body: Value| {
        let nc = nc.clone();
        async move { api(&nc, "$JS.API.STREAM.MSG.GET.G", body).await }
    };
    let v = get(json!({"seq": 1})).await;
    assert_eq!(
        v["type"],
        "io.nats.jetstream.api.v1.stream_msg_get_response"
    );
    let m = &v["message"];
    assert_eq!(keys(m), set(&["subject", "seq", "hdrs", "data", "time"]));
    assert_eq!((&m["subject"], &m["seq"]), (&json!("g.a"), &json!(1)));
    assert_eq!(m["hdrs"], "TkFUUy8xLjANCkg6IHYNCg0K"); // base64("NATS/1.0\r\nH: v\r\n\r\n")
    assert_eq!(m["data"], "bTE="); // base64("m1")
                                   // No headers: no `hdrs` key.
    let v = get(json!({"seq": 2})).await;
    assert_eq!(
        keys(&v["message"]),
        set(&["subject", "seq", "data", "time"])
    );

    let v = get(json!({"last_by_subj": "g.a"})).await;
    assert_eq!(
        (&v["message"]["seq"], &v["message"]["data"]),
        (&json!(3), &json!("bTM="))
    );
    let v = get(json!({"last_by_subj": "g.*"})).await;
    assert_eq!(v["message"]["seq"], 5);
    let v = get(json!({"next_by_subj": "g.b", "seq": 3})).await;
    assert_eq!(v["message"]["seq"], 5);
    let v = get(json!({"next_by_subj": "g.b"})).await; // seq 0 = from the start
    assert_eq!(v["message"]["seq"], 2);

    for miss in [
        json!({"seq": 99}),
        json!({"last_by_subj": "g.zz"}),
        json!({"next_by_subj": "g.c", "seq": 5}),
    ] {
        let v = get(miss).await;
        assert_eq!(
            v,
            json!({"type": "io.nats.jetstream.api.v1.stream_msg_get_response",
                   "error": {"code": 404, "err_code": 10037, "description": "no message found"}})
        );
    }
    for bad in [
        json!({"seq": 1, "last_by_subj": "g.a"}),
        json!({}),
        Value::Null,
    ] {
        assert_err(&get(bad).await, 400, 10003, "bad request");
    }
    let v = api(&nc, "$JS.API.STREAM.MSG.GET.NOPE", json!({"seq": 1})).await;
    assert_err(&v, 404, 10059, "stream not found");

    // async-nats get_raw_message decodes the same message.
    let st = js(&nc).get_stream("G").await.unwrap();
    let m = st.get_raw_message(1).await.expect("get_raw_message");
    assert_eq!(
        (m.subject.as_str(), m.sequence, &m.payload[..]),
        ("g.a", 1, &b"m1"[..])
    );
    assert_eq!(m.headers.get("H").map(|v| v.as_str()), Some("v"));
    let m = st.get_last_raw_message_by_subject("g.b").await.unwrap();
    assert_eq!(m.sequence, 5);
    assert!(st.get_raw_message(99).await.is_err());
}

#[tokio::test]
async fn msg_delete_then_get_is_not_found() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "G", "subjects": ["g.>"]})).await;
    for _ in 0..4 {
        publish_req(&nc, "g.a", &[], b"x").await;
    }
    let del = |body: Value| {
        let nc = nc.clone();
        async move { api(&nc, "$JS.API.STREAM.MSG.DELETE.G", body).await }
    };
    assert_eq!(
        del(json!({"seq": 2})).await,
        json!({"type": "io.nats.jetstream.api.v1.stream_msg_delete_response", "success": true})
    );
    let v = api(&nc, "$JS.API.STREAM.MSG.GET.G", json!({"seq": 2})).await;
    assert_err(&v, 404, 10037, "no message found");
    // Again: the sequence is gone. Past the end: Go's store error.
    assert_err(
        &del(json!({"seq": 2})).await,
        400,
        10043,
        "sequence 2 not found",
    );
    assert_err(
        &del(json!({"seq": 99})).await,
        500,
        10057,
        "stream store EOF",
    );
    assert_eq!(
        del(json!({"seq": 3, "no_erase": true})).await["success"],
        true
    );
    let v = stream_info(&nc, "G", json!({"deleted_details": true})).await;
    assert_eq!(v["state"]["deleted"], json!([2, 3]));
    assert_eq!(v["state"]["messages"], 2);
    let v = api(&nc, "$JS.API.STREAM.MSG.DELETE.NOPE", json!({"seq": 1})).await;
    assert_err(&v, 404, 10059, "stream not found");

    // async-nats delete_message; deleting the first message moves first_seq.
    let st = js(&nc).get_stream("G").await.unwrap();
    assert!(st.delete_message(1).await.expect("delete_message"));
    assert!(st.delete_message(1).await.is_err());
    let state = stream_state(&nc, "G").await;
    assert_eq!(
        (&state["messages"], &state["first_seq"]),
        (&json!(1), &json!(4))
    );
}

// ------------------------------------------------------------------ DIRECT.GET

/// Header lines of an HMSG (after the `NATS/1.0` line).
fn header_lines(headers: &[u8]) -> Vec<String> {
    let text = String::from_utf8(headers.to_vec()).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    assert_eq!(lines.remove(0), "NATS/1.0", "status line of {text:?}");
    lines.retain(|l| !l.is_empty());
    lines
}

#[tokio::test]
async fn direct_get_by_seq_and_by_subject() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "G", "subjects": ["g.>"], "allow_direct": true}),
    )
    .await;
    let mut c = raw_js(&s).await;
    c.send(&hpub_x("g.a", "H: v\r\n", b"m1")).await;
    c.read_frame().await.unwrap();
    for subj in ["g.b", "g.a", "g.b"] {
        publish_req(&nc, subj, &[], b"mx").await;
    }
    let time1 = ok(api(&nc, "$JS.API.STREAM.MSG.GET.G", json!({"seq": 1})).await)["message"]
        ["time"]
        .as_str()
        .unwrap()
        .to_string();

    // By sequence: the message's own headers first, then Go's four.
    c.send(&pub_x("$JS.API.DIRECT.GET.G", br#"{"seq":1}"#))
        .await;
    match c.read_frame().await.unwrap() {
        Frame::HMsg {
            subject,
            headers,
            payload,
            ..
        } => {
            assert_eq!(subject, "_INBOX.x");
            assert_eq!(payload, b"m1");
            assert_eq!(
                header_lines(&headers),
                [
                    "H: v".to_string(),
                    "Nats-Stream: G".into(),
                    "Nats-Subject: g.a".into(),
                    "Nats-Sequence: 1".into(),
                    format!("Nats-Time-Stamp: {time1}"),
                ]
            );
        }
        f => panic!("expected HMSG, got {f:?}"),
    }
    // Last for subject, JSON form and subject-token form.
    for req in [
        pub_x("$JS.API.DIRECT.GET.G", br#"{"last_by_subj":"g.b"}"#),
        pub_x("$JS.API.DIRECT.GET.G.g.b", b""),
    ] {
        c.send(&req).await;
        match c.read_frame().await.unwrap() {
            Frame::HMsg {
                headers, payload, ..
            } => {
                assert_eq!(payload, b"mx");
                let lines = header_lines(&headers);
                assert_eq!(
                    lines[..3],
                    ["Nats-Stream: G", "Nats-Subject: g.b", "Nats-Sequence: 4"]
                );
                assert!(lines[3].starts_with("Nats-Time-Stamp: "), "{lines:?}");
                assert_eq!(lines.len(), 4);
            }
            f => panic!("expected HMSG, got {f:?}"),
        }
    }
    // Misses: a 404 status with no other headers.
    for req in [
        pub_x("$JS.API.DIRECT.GET.G", br#"{"seq":99}"#),
        pub_x("$JS.API.DIRECT.GET.G", br#"{"next_by_subj":"g.a","seq":4}"#),
        pub_x("$JS.API.DIRECT.GET.G.g.zz", b""),
    ] {
        c.send(&req).await;
        c.expect_bytes(b"HMSG _INBOX.x 1 34 34\r\nNATS/1.0 404 Message Not Found\r\n\r\n\r\n")
            .await;
    }
    // Bad requests: 408.
    c.send(&pub_x("$JS.API.DIRECT.GET.G", b"")).await;
    c.expect_bytes(b"HMSG _INBOX.x 1 30 30\r\nNATS/1.0 408 Empty Request\r\n\r\n\r\n")
        .await;
    c.send(&pub_x("$JS.API.DIRECT.GET.G", b"{bad")).await;
    c.expect_bytes(b"HMSG _INBOX.x 1 34 34\r\nNATS/1.0 408 Malformed Request\r\n\r\n\r\n")
        .await;

    // async-nats direct_get.
    let st = js(&nc).get_stream("G").await.unwrap();
    let m = st.direct_get(1).await.expect("direct_get");
    assert_eq!(
        (m.subject.as_str(), m.sequence, &m.payload[..]),
        ("g.a", 1, &b"m1"[..])
    );
    let m = st.direct_get_last_for_subject("g.a").await.unwrap();
    assert_eq!(m.sequence, 3);
    let err = st.direct_get(99).await.expect_err("not found");
    assert_eq!(err.kind(), jetstream::stream::DirectGetErrorKind::NotFound);
}

#[tokio::test]
async fn direct_get_needs_allow_direct() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "P", "subjects": ["p.>"]})).await;
    publish_req(&nc, "p.a", &[], b"x").await;
    let mut c = raw_js(&s).await;
    c.send(&pub_x("$JS.API.DIRECT.GET.P", br#"{"seq":1}"#))
        .await;
    c.expect_bytes(
        b"HMSG _INBOX.x 1 52 52\r\nNATS/1.0 503\r\nNats-Subject: $JS.API.DIRECT.GET.P\r\n\r\n\r\n",
    )
    .await;
    assert_eq!(
        no_responders_frame("$JS.API.DIRECT.GET.P"),
        b"HMSG _INBOX.x 1 52 52\r\nNATS/1.0 503\r\nNats-Subject: $JS.API.DIRECT.GET.P\r\n\r\n\r\n"
    );
    c.send(&pub_x("$JS.API.DIRECT.GET.NOPE.x", b"")).await;
    c.expect_bytes(&no_responders_frame("$JS.API.DIRECT.GET.NOPE.x"))
        .await;
    // Turned on by an update.
    ok(api(
        &nc,
        "$JS.API.STREAM.UPDATE.P",
        json!({"name": "P", "subjects": ["p.>"], "allow_direct": true}),
    )
    .await);
    c.send(&pub_x("$JS.API.DIRECT.GET.P", br#"{"seq":1}"#))
        .await;
    match c.read_frame().await.unwrap() {
        Frame::HMsg { payload, .. } => assert_eq!(payload, b"x"),
        f => panic!("expected HMSG, got {f:?}"),
    }
}

// ------------------------------------------------------------------ persistence

async fn fill_for_restart(nc: &async_nats::Client) -> Value {
    create_stream(
        nc,
        json!({"name": "R", "subjects": ["r.>"], "max_msgs": 100}),
    )
    .await;
    assert_ack(&publish_req(nc, "r.a", &[("H", "v")], b"one").await, "R", 1);
    assert_ack(&publish_req(nc, "r.b", &[], b"two").await, "R", 2);
    assert_ack(
        &publish_req(nc, "r.a", &[("Nats-Msg-Id", "d1")], b"three").await,
        "R",
        3,
    );
    ok(api(nc, "$JS.API.STREAM.MSG.DELETE.R", json!({"seq": 2})).await);
    stream_info(nc, "R", json!({"deleted_details": true})).await
}

async fn check_after_restart(nc: &async_nats::Client, before: &Value) {
    let after = stream_info(nc, "R", json!({"deleted_details": true})).await;
    assert_eq!(after["config"], before["config"]);
    assert_eq!(after["created"], before["created"]);
    assert_eq!(after["state"], before["state"]);
    assert_eq!(after["state"]["messages"], 2);
    assert_eq!(after["state"]["deleted"], json!([2]));
    let v = ok(api(nc, "$JS.API.STREAM.MSG.GET.R", json!({"seq": 1})).await);
    assert_eq!(v["message"]["hdrs"], "TkFUUy8xLjANCkg6IHYNCg0K");
    assert_eq!(v["message"]["data"], "b25l"); // "one"
    let v = api(nc, "$JS.API.STREAM.MSG.GET.R", json!({"seq": 2})).await;
    assert_err(&v, 404, 10037, "no message found");
    let v = ok(api(
        nc,
        "$JS.API.STREAM.MSG.GET.R",
        json!({"last_by_subj": "r.a"}),
    )
    .await);
    assert_eq!(v["message"]["seq"], 3);
    // The dedupe window was rebuilt from the store; the sequence continues.
    let v = publish_req(nc, "r.a", &[("Nats-Msg-Id", "d1")], b"three").await;
    assert_eq!(v, json!({"stream": "R", "seq": 3, "duplicate": true}));
    assert_ack(&publish_req(nc, "r.c", &[], b"four").await, "R", 4);
}

#[tokio::test]
async fn streams_survive_a_graceful_restart() {
    let mut s = js_server();
    let before = fill_for_restart(&client(&s).await).await;
    assert!(s.stop_graceful().success());
    s.restart();
    check_after_restart(&client(&s).await, &before).await;
}

#[tokio::test]
async fn streams_survive_sigkill() {
    let mut s = js_server();
    let before = fill_for_restart(&client(&s).await).await;
    s.kill();
    s.restart();
    check_after_restart(&client(&s).await, &before).await;
}

/// A publisher that never waits for PubAcks (no reply subject) outruns the disk; the
/// stream must slow it down, not drop messages: every one is stored, in order.
#[tokio::test]
async fn fire_and_forget_publishes_are_all_stored_in_order() {
    const N: u64 = 100_000;
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "FF", "subjects": ["ff.>"]})).await;
    let payload = bytes::Bytes::from(vec![b'x'; 128]);
    for i in 0..N {
        nc.publish(format!("ff.{}", i % 7), payload.clone())
            .await
            .expect("publish");
    }
    nc.flush().await.expect("flush");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st = stream_state(&nc, "FF").await;
        if st["messages"] == json!(N) {
            assert_eq!(st["last_seq"], json!(N), "{st}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not all stored: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Order: the last message is the last one published.
    let v = api(
        &nc,
        "$JS.API.STREAM.MSG.GET.FF",
        json!({"last_by_subj": format!("ff.{}", (N - 1) % 7)}),
    )
    .await;
    assert_eq!(v["message"]["seq"], json!(N), "{v}");
}

/// Every file under the store directory, concatenated (to look for plaintext).
fn store_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.extend_from_slice(&b);
            }
        }
    }
    out
}

/// `jetstream { key, cipher }`: messages are unreadable on disk and readable after a
/// restart with the same key, for both ciphers.
#[tokio::test]
async fn encrypted_store_hides_messages_on_disk_and_reads_them_after_restart() {
    const SECRET: &[u8] = b"the-plaintext-marker-0123456789";
    for cipher in ["aes", "chacha"] {
        let conf = format!(
            "jetstream {{ store_dir: \"{{{{dir}}}}/store\", key: \"s3cr3t-key\", cipher: {cipher} }}"
        );
        let mut s = ServerBuilder::new().config(&conf).start();
        let nc = client(&s).await;
        create_stream(&nc, json!({"name": "E", "subjects": ["e.>"]})).await;
        for i in 0..20u64 {
            assert_ack(&publish_req(&nc, "e.a", &[], SECRET).await, "E", i + 1);
        }
        drop(nc);
        assert!(s.stop_graceful().success());
        let disk = store_bytes(&s.dir().join("store"));
        assert!(!disk.is_empty(), "{cipher}: nothing on disk");
        assert!(
            !disk.windows(SECRET.len()).any(|w| w == SECRET),
            "{cipher}: plaintext found on disk"
        );
        s.restart();
        let nc = client(&s).await;
        assert_eq!(
            stream_state(&nc, "E").await["messages"],
            json!(20),
            "{cipher}"
        );
        let m = api(&nc, "$JS.API.STREAM.MSG.GET.E", json!({"seq": 20})).await;
        assert_eq!(m["message"]["data"], json!(b64(SECRET)), "{cipher}: {m}");
    }
}

/// Go sizes a file stream's blocks from its `max_bytes` (`dynBlkSize`): a
/// small limit gives small blocks, so the limit removes whole blocks. The
/// same data makes several block files under `max_bytes: 120000` and one
/// without a limit, on both servers.
#[tokio::test]
async fn small_max_bytes_gives_small_blocks() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "SMALL", "subjects": ["small"], "max_bytes": 120_000}),
    )
    .await;
    create_stream(&nc, json!({"name": "BIG", "subjects": ["big"]})).await;
    let js = jetstream::new(nc.clone());
    let payload = bytes::Bytes::from(vec![b'b'; 1000]);
    for _ in 0..100 {
        for subject in ["small", "big"] {
            js.publish(subject, payload.clone())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
    }
    let blocks = |stream: &str| {
        let dir = s
            .dir()
            .join(format!("store/jetstream/$G/streams/{stream}/msgs"));
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".blk"))
            .count()
    };
    assert!(
        blocks("SMALL") > 1,
        "SMALL has {} block files",
        blocks("SMALL")
    );
    assert_eq!(blocks("BIG"), 1);
}

// ------------------------------------------------------------------ API level, cluster-only requests

/// Sends `req` on `c` and returns the one reply frame's (header block, payload).
async fn raw_reply(c: &mut RawConn, req: &[u8]) -> (Vec<u8>, Vec<u8>) {
    c.send(req).await;
    match parse_frame(&read_frames(c, 1).await[0]) {
        Frame::Msg { payload, .. } => (Vec::new(), payload),
        Frame::HMsg {
            headers, payload, ..
        } => (headers, payload),
        f => panic!("expected a message, got {f:?}"),
    }
}

/// A request whose `Nats-Required-Api-Level` header names a level above the server's
/// (or is not a number) is refused before anything else — API requests with
/// 412/10185 in their own response shape, direct gets and pull requests with a `412
/// Required Api Level` status — and changes nothing; the server's own level passes.
#[tokio::test]
async fn required_api_level_above_the_servers_is_refused() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(
        &nc,
        json!({"name": "S", "subjects": ["s.>"], "allow_direct": true}),
    )
    .await;
    ok(api(
        &nc,
        "$JS.API.CONSUMER.CREATE.S.C",
        json!({"stream_name": "S", "config": {"durable_name": "C", "ack_policy": "explicit"}}),
    )
    .await);
    assert_ack(&publish_req(&nc, "s.a", &[], b"x").await, "S", 1);
    let level = api(&nc, "$JS.API.INFO", Value::Null).await["api"]["level"]
        .as_u64()
        .expect("api.level");
    let mut c = raw_js(&s).await;
    let too_high = format!("Nats-Required-Api-Level: {}\r\n", level + 1);
    let refused = json!({"code": 412, "err_code": 10185,
                         "description": "JetStream minimum api level required"});

    for (subject, body, kind) in [
        ("$JS.API.INFO", &b""[..], "account_info_response"),
        (
            "$JS.API.STREAM.CREATE.X",
            b"garbage",
            "stream_create_response",
        ),
        ("$JS.API.STREAM.DELETE.S", b"", "stream_delete_response"),
        (
            "$JS.API.STREAM.MSG.GET.S",
            br#"{"seq":1}"#,
            "stream_msg_get_response",
        ),
        (
            "$JS.API.CONSUMER.DELETE.S.C",
            b"",
            "consumer_delete_response",
        ),
    ] {
        let (_, payload) = raw_reply(&mut c, &hpub_x(subject, &too_high, body)).await;
        let v = parse(&payload);
        assert_eq!(
            v["type"],
            json!(format!("io.nats.jetstream.api.v1.{kind}")),
            "{v}"
        );
        assert_eq!(v["error"], refused, "{subject}: {v}");
    }
    // A paged listing keeps its counters in the error shape, as Go's does.
    let (_, payload) = raw_reply(
        &mut c,
        &hpub_x(
            "$JS.API.STREAM.NAMES",
            "Nats-Required-Api-Level: x\r\n",
            b"",
        ),
    )
    .await;
    assert_eq!(
        parse(&payload),
        json!({"type": "io.nats.jetstream.api.v1.stream_names_response", "error": refused,
               "total": 0, "offset": 0, "limit": 0, "streams": null})
    );
    for subject in ["$JS.API.DIRECT.GET.S.s.a", "$JS.API.CONSUMER.MSG.NEXT.S.C"] {
        let (headers, payload) = raw_reply(&mut c, &hpub_x(subject, &too_high, b"")).await;
        assert_eq!(
            (headers, payload),
            (
                b"NATS/1.0 412 Required Api Level\r\n\r\n".to_vec(),
                Vec::new()
            ),
            "{subject}"
        );
    }
    // Nothing changed; the server's own level (and an empty value) pass.
    let at = format!("Nats-Required-Api-Level: {level}\r\n");
    for header in [at.as_str(), "Nats-Required-Api-Level:\r\n"] {
        let (_, payload) = raw_reply(&mut c, &hpub_x("$JS.API.STREAM.NAMES", header, b"")).await;
        assert_eq!(parse(&payload)["streams"], json!(["S"]), "{header:?}");
    }
    let (_, payload) = raw_reply(&mut c, &hpub_x("$JS.API.CONSUMER.INFO.S.C", &at, b"")).await;
    assert_eq!(parse(&payload)["num_pending"], json!(1));
}

/// Operations only a cluster can carry out get Go's standalone answer, 503/10010, in
/// their own response type — whether the stream exists or not, and before the API
/// level is looked at.
#[tokio::test]
async fn cluster_only_requests_need_a_cluster() {
    let s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "S", "subjects": ["s.>"]})).await;
    let mut c = raw_js(&s).await;
    for (subject, kind) in [
        (
            "$JS.API.STREAM.LEADER.STEPDOWN.S",
            "stream_leader_stepdown_response",
        ),
        (
            "$JS.API.STREAM.LEADER.STEPDOWN.NOPE",
            "stream_leader_stepdown_response",
        ),
        (
            "$JS.API.CONSUMER.LEADER.STEPDOWN.S.C",
            "consumer_leader_stepdown_response",
        ),
        (
            "$JS.API.STREAM.PEER.REMOVE.S",
            "stream_remove_peer_response",
        ),
        (
            "$JS.API.STREAM.PEER.EVACUATE.S",
            "stream_evacuate_peer_response",
        ),
        (
            "$JS.API.STREAM.CANCEL_MOVE.S",
            "stream_cancel_move_response",
        ),
    ] {
        let req = hpub_x(subject, "Nats-Required-Api-Level: 1000\r\n", b"");
        let (_, payload) = raw_reply(&mut c, &req).await;
        assert_eq!(
            parse(&payload),
            json!({"type": format!("io.nats.jetstream.api.v1.{kind}"),
                   "error": {"code": 503, "err_code": 10010,
                             "description": "JetStream clustering support required"}}),
            "{subject}"
        );
    }
}

/// Deleting a file stream removes its files (also when it spans many block files)
/// and it stays deleted after a restart; another stream keeps working meanwhile.
#[tokio::test]
async fn a_deleted_stream_leaves_no_files_and_stays_deleted() {
    let mut s = js_server();
    let nc = client(&s).await;
    create_stream(&nc, json!({"name": "D", "subjects": ["d.>"]})).await;
    create_stream(&nc, json!({"name": "K", "subjects": ["k.>"]})).await;
    let js = jetstream::new(nc.clone());
    let payload = bytes::Bytes::from(vec![b'd'; 4000]);
    for _ in 0..500 {
        js.publish("d.x", payload.clone()).await.expect("publish");
    }
    assert_ack(&publish_req(&nc, "k.x", &[], b"k").await, "K", 1);
    let streams = s.dir().join("store/jetstream/$G/streams");
    let entries = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&streams)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let v = api(&nc, "$JS.API.STREAM.DELETE.D", Value::Null).await;
    assert_eq!(v["success"], true, "{v}");
    assert_ack(&publish_req(&nc, "k.x", &[], b"k").await, "K", 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while entries() != ["K"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on disk: {:?}",
            entries()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(nc);
    assert!(s.stop_graceful().success());
    s.restart();
    let nc = client(&s).await;
    let v = api(&nc, "$JS.API.STREAM.INFO.D", Value::Null).await;
    assert_err(&v, 404, 10059, "stream not found");
    assert_eq!(stream_state(&nc, "K").await["messages"], 2);
}
