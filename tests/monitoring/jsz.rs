//! `/jsz`, `/healthz` and the `jetstream` section of `/varz` against Go's.
//!
//! Both servers get the same JetStream work (a file stream and a memory stream,
//! messages, durable pull consumers, a fetch with acks, API calls of which one
//! fails); then the documents must have Go's shape and agree on every count.
//! Health answers must agree byte for byte, except where jetcore deliberately
//! answers differently (memory streams, see `healthz_memory_streams_count`).

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use futures::StreamExt;
use jetcore_tests::{client, Server, ServerBuilder};
use serde_json::Value;

use crate::common::{assert_same_shape, both};

/// Paths that differ by design, with the reason:
/// - `sync_always`: jetcore's default durability is a sync per write (README,
///   "deliberate difference"); Go's default is a 2-minute background sync, so
///   only jetcore reports `sync_always: true`;
/// - `default_max_consumers`: Go 2.15.1 caps a stream at 1000 consumers unless
///   told otherwise and reports that limit; jetcore has no default cap, so it
///   reports none (differences.md).
const JS_OWN: &[&str] = &[".config.sync_always", ".limits.default_max_consumers"];

/// [`JS_OWN`] for the `jetstream` section of `/varz`.
const VARZ_JS_OWN: &[&str] = &[
    ".jetstream.config.sync_always",
    ".jetstream.limits.default_max_consumers",
];

/// Every bit of work a test does, the same on both servers.
async fn populate(s: &Server) -> async_nats::Client {
    let nc = client(s).await;
    let js = jetstream::new(nc.clone());
    js.create_stream(stream::Config {
        name: "FILE".into(),
        subjects: vec!["f.>".into()],
        storage: stream::StorageType::File,
        max_bytes: 10 << 20,
        ..Default::default()
    })
    .await
    .expect("create FILE");
    js.create_stream(stream::Config {
        name: "MEM".into(),
        subjects: vec!["m.>".into()],
        storage: stream::StorageType::Memory,
        max_bytes: 1 << 20,
        ..Default::default()
    })
    .await
    .expect("create MEM");
    for i in 0..5 {
        js.publish(format!("f.{}", i % 2), format!("file message {i}").into())
            .await
            .expect("publish")
            .await
            .expect("file ack");
    }
    for i in 0..3 {
        js.publish("m.x", format!("memory {i}").into())
            .await
            .expect("publish")
            .await
            .expect("memory ack");
    }
    for (stream, durable) in [("FILE", "FD"), ("FILE", "FD2"), ("MEM", "MD")] {
        js.get_stream(stream)
            .await
            .expect("stream")
            .create_consumer(pull::Config {
                durable_name: Some(durable.into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .expect("create consumer");
    }
    // Three delivered, two of them acknowledged: pending and ack floor differ.
    let consumer: jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream("FD", "FILE")
        .await
        .expect("consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(3)
        .messages()
        .await
        .expect("fetch");
    let mut n = 0;
    while let Some(m) = batch.next().await {
        let m = m.expect("message");
        n += 1;
        if n <= 2 {
            m.double_ack().await.expect("ack");
        }
    }
    assert_eq!(n, 3, "fetched");
    // One API call that fails: a stream that does not exist.
    assert!(js.get_stream("NOPE").await.is_err());
    nc
}

/// Stream and consumer details in name order (Go lists them in map order).
/// Only existing keys are touched: indexing a `Value` mutably would add nulls.
fn sorted(mut v: Value) -> Value {
    let by_name = |x: &Value| x["name"].as_str().unwrap_or("").to_string();
    let accounts = v.get_mut("account_details").and_then(Value::as_array_mut);
    for a in accounts.into_iter().flatten() {
        if let Some(streams) = a.get_mut("stream_detail").and_then(Value::as_array_mut) {
            streams.sort_by_key(by_name);
            for s in streams {
                if let Some(cs) = s.get_mut("consumer_detail").and_then(Value::as_array_mut) {
                    cs.sort_by_key(by_name);
                }
            }
        }
    }
    v
}

/// `/jsz` with `query` from both servers, name-sorted.
fn jsz(ours: &Server, go: &Server, query: &str) -> (Value, Value) {
    let path = format!("/jsz{query}");
    (
        sorted(ours.monitor_json(&path)),
        sorted(go.monitor_json(&path)),
    )
}

/// Assert `a` and `b` agree at every path of `paths` (`/`-separated pointers).
fn assert_agree(what: &str, a: &Value, b: &Value, paths: &[&str]) {
    for p in paths {
        assert_eq!(a.pointer(p), b.pointer(p), "{what}: {p} differs (ours, Go)");
    }
}

/// The counts both servers must agree on after [`populate`].
const TOTALS: &[&str] = &[
    "/memory",
    "/storage",
    "/reserved_memory",
    "/reserved_storage",
    "/accounts",
    "/ha_assets",
    "/api/level",
    "/api/total",
    "/api/errors",
    "/streams",
    "/consumers",
    "/messages",
    "/bytes",
    "/total",
    "/disabled",
    "/config/max_memory",
    "/config/strict",
    "/config/compress_ok",
    "/config/domain",
];

#[tokio::test]
async fn jsz_matches_go_after_the_same_work() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    let (_a, _b) = (populate(&ours).await, populate(&go).await);
    let (a, b) = jsz(&ours, &go, "");
    assert_same_shape("/jsz", &b, &a, JS_OWN);
    assert_agree("/jsz", &a, &b, TOTALS);
    assert_eq!(a["streams"], 2);
    assert_eq!(a["consumers"], 3);
    assert_eq!(a["messages"], 8);
    assert_eq!(a["api"]["errors"], 1);
    assert_eq!(a["reserved_storage"], 10 << 20);
    assert_eq!(a["reserved_memory"], 1 << 20);
    assert_eq!(a["server_id"], ours.monitor_json("/varz")["server_id"]);
    assert!(a.get("account_details").is_none());
    // The store directory is each server's own; where it is must agree.
    let dir = format!("{}/store/jetstream", ours.dir().display());
    assert_eq!(a["config"]["store_dir"], dir.as_str());
    if !ours.is_go() {
        // jetcore syncs every write by default, and says so the way Go does for
        // `sync_interval: always`.
        assert_eq!(a["config"]["sync_always"], true);
        assert_eq!(a["config"]["sync_interval"], 120_000_000_000u64);
    }
    // Go sizes the file limit from the free disk space at start: both servers
    // read the same file system, moments apart.
    let (sa, sb) = (
        a["config"]["max_storage"].as_f64().unwrap(),
        b["config"]["max_storage"].as_f64().unwrap(),
    );
    assert!((sa - sb).abs() <= sb * 0.05, "max_storage {sa} vs Go {sb}");
}

#[tokio::test]
async fn jsz_details_match_go() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    let (_a, _b) = (populate(&ours).await, populate(&go).await);
    for query in [
        "?accounts=true",
        "?streams=true",
        "?consumers=true",
        "?config=true&consumers=true",
        "?accounts=true&streams=true&consumers=true&config=true",
        "?acc=$G",
        "?acc=%24G&streams=1",
        "?accounts=true&offset=1",
        "?accounts=true&limit=1",
        "?accounts=true&limit=-1",
        "?accounts=true&offset=-5",
        "?acc=NOPE",
        "?raft=true&streams=true",
        "?leader-only=true",
        "?stream-leader-only=true&streams=true",
        "?direct-consumers=true&consumers=true",
    ] {
        let (a, b) = jsz(&ours, &go, query);
        let what = format!("/jsz{query}");
        assert_same_shape(&what, &b, &a, JS_OWN);
        assert_agree(&what, &a, &b, TOTALS);
        assert_agree(
            &what,
            &a,
            &b,
            &[
                "/streams_leader",
                "/consumers_leader",
                "/account_details/0/name",
            ],
        );
        let (da, db) = (&a["account_details"], &b["account_details"]);
        assert_eq!(
            da.as_array().map(Vec::len),
            db.as_array().map(Vec::len),
            "{what}: accounts listed"
        );
        if da.is_null() {
            continue;
        }
        let account = &da[0];
        assert_agree(
            &what,
            account,
            &db[0],
            &[
                "/id",
                "/memory",
                "/storage",
                "/reserved_memory",
                "/reserved_storage",
                "/api",
            ],
        );
        let streams = account["stream_detail"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            streams.len(),
            db[0]["stream_detail"].as_array().map_or(0, Vec::len),
            "{what}: streams listed"
        );
        for (i, s) in streams.iter().enumerate() {
            let gs = &db[0]["stream_detail"][i];
            assert_agree(
                &what,
                s,
                gs,
                &[
                    "/name",
                    "/state/messages",
                    "/state/bytes",
                    "/state/first_seq",
                    "/state/last_seq",
                    "/state/num_subjects",
                    "/state/consumer_count",
                    "/config/name",
                    "/config/subjects",
                    "/config/storage",
                    "/config/max_bytes",
                    "/config/metadata",
                ],
            );
            // Each server names itself the leader; without a name, by its id.
            assert_eq!(s["cluster"]["leader"], a["server_id"], "{what}: leader");
            assert_eq!(
                gs["cluster"]["leader"], b["server_id"],
                "{what}: Go's leader"
            );
            let consumers = s["consumer_detail"].as_array().cloned().unwrap_or_default();
            assert_eq!(
                consumers.len(),
                gs["consumer_detail"].as_array().map_or(0, Vec::len),
                "{what}: consumers of {}",
                s["name"]
            );
            for (j, c) in consumers.iter().enumerate() {
                assert_agree(
                    &what,
                    c,
                    &gs["consumer_detail"][j],
                    &[
                        "/stream_name",
                        "/name",
                        "/config",
                        "/delivered/consumer_seq",
                        "/delivered/stream_seq",
                        "/ack_floor/consumer_seq",
                        "/ack_floor/stream_seq",
                        "/num_ack_pending",
                        "/num_redelivered",
                        "/num_pending",
                    ],
                );
            }
        }
    }
    // The one fetched-and-acked consumer, in numbers.
    let (a, _) = jsz(&ours, &go, "?consumers=true");
    let fd = &a["account_details"][0]["stream_detail"][0]["consumer_detail"][0];
    assert_eq!(fd["name"], "FD");
    assert_eq!(fd["delivered"]["stream_seq"], 3);
    assert_eq!(fd["ack_floor"]["stream_seq"], 2);
    assert_eq!(fd["num_ack_pending"], 1);
    assert_eq!(fd["num_pending"], 2);
    assert!(fd.get("config").is_none(), "config only with config=true");
}

#[tokio::test]
async fn jsz_api_counters_count_like_go() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    for s in [&ours, &go] {
        let nc = populate(s).await;
        let before = s.monitor_json("/jsz")["api"].clone();
        // Three requests, one of them answered with an error.
        for (subject, fails) in [
            ("$JS.API.STREAM.INFO.FILE", false),
            ("$JS.API.STREAM.INFO.NOPE", true),
            ("$JS.API.INFO", false),
        ] {
            let r = nc.request(subject, "".into()).await.expect("API answer");
            let body: Value = serde_json::from_slice(&r.payload).unwrap();
            assert_eq!(body.get("error").is_some(), fails, "{subject}: {body}");
        }
        let after = s.monitor_json("/jsz")["api"].clone();
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
        let who = s.implementation();
        assert_eq!(n(&after, "total"), n(&before, "total") + 3, "{who:?}");
        assert_eq!(n(&after, "errors"), n(&before, "errors") + 1);
        // /varz and the account's own counters say the same.
        let varz = s.monitor_json("/varz");
        assert_eq!(varz["jetstream"]["stats"]["api"], after);
        let acc = &s.monitor_json("/jsz?acc=$G")["account_details"][0]["api"];
        assert_eq!(acc["total"], after["total"]);
        assert_eq!(acc["errors"], after["errors"]);
    }
    let (a, b) = jsz(&ours, &go, "");
    assert_agree("/jsz", &a, &b, &["/api"]);
}

#[test]
fn jsz_bad_parameters_are_go_400s() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    for query in [
        "?accounts=maybe",
        "?offset=x",
        "?limit=1.5",
        "?consumers=2&offset=x",
        "?raft=yes",
        "?stream-leader-only=?",
        "?direct-consumers=nope",
    ] {
        let (a, b) = (
            ours.http_get(&format!("/jsz{query}")),
            go.http_get(&format!("/jsz{query}")),
        );
        assert_eq!(a.status, 400, "{query}");
        assert_eq!((a.status, a.text()), (b.status, b.text()), "{query}");
    }
}

#[tokio::test]
async fn varz_jetstream_section_matches_go() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    let (_a, _b) = (populate(&ours).await, populate(&go).await);
    let (a, b) = (ours.monitor_json("/varz"), go.monitor_json("/varz"));
    let (ja, jb) = (
        serde_json::json!({"jetstream": a["jetstream"]}),
        serde_json::json!({"jetstream": b["jetstream"]}),
    );
    assert_same_shape("/varz jetstream", &jb, &ja, VARZ_JS_OWN);
    let (sa, sb) = (&a["jetstream"]["stats"], &b["jetstream"]["stats"]);
    assert_agree(
        "/varz jetstream.stats",
        sa,
        sb,
        &[
            "/memory",
            "/storage",
            "/reserved_memory",
            "/reserved_storage",
            "/accounts",
            "/ha_assets",
            "/api",
        ],
    );
    assert_eq!(
        a["jetstream"]["config"]["max_memory"], b["jetstream"]["config"]["max_memory"],
        "75% of the same machine's RAM"
    );
    // /varz and /jsz report the same figures.
    let j = ours.monitor_json("/jsz");
    for k in ["memory", "storage", "reserved_memory", "reserved_storage"] {
        assert_eq!(a["jetstream"]["stats"][k], j[k], "{k}");
    }
    assert_eq!(a["jetstream"]["config"], j["config"]);
}

/// Configured limits and `sync_interval: always`: the same settings on both
/// servers, so the `config` and `limits` objects must be equal (but the path).
#[test]
fn configured_jetstream_settings_are_reported_like_go() {
    let conf = "jetstream {\n  store_dir: \"{{dir}}/store\"\n  max_mem: 64MB\n  max_file: 1GB\n  \
                sync_interval: always\n  limits {\n    max_ack_pending: 5000\n    \
                max_request_batch: 100\n    duplicate_window: \"1m\"\n  }\n}\n";
    let (ours, go) = both(ServerBuilder::new().config(conf));
    let (a, b) = (ours.monitor_json("/jsz"), go.monitor_json("/jsz"));
    assert_same_shape("/jsz", &b, &a, &[".limits.default_max_consumers"]);
    let strip = |mut c: Value| {
        c.as_object_mut().unwrap().remove("store_dir");
        c
    };
    assert_eq!(strip(a["config"].clone()), strip(b["config"].clone()));
    assert_eq!(a["config"]["max_memory"], 64 << 20);
    assert_eq!(a["config"]["sync_always"], true);
    assert_eq!(a["config"]["compress_ok"], true);
    // Go's default consumer cap aside (see JS_OWN), the limits are the same.
    let without_cap = |mut l: Value| {
        l.as_object_mut().unwrap().remove("default_max_consumers");
        l
    };
    assert_eq!(
        without_cap(a["limits"].clone()),
        without_cap(b["limits"].clone())
    );
    assert_eq!(a["limits"]["max_duplicate_window"], 60_000_000_000u64);
    let v = ours.monitor_json("/varz");
    assert_eq!(v["jetstream"]["config"], a["config"]);
    assert_eq!(v["jetstream"]["limits"], a["limits"]);
}

#[test]
fn jetstream_off_matches_go() {
    let (ours, go) = both(ServerBuilder::new());
    let (a, b) = (ours.monitor_json("/jsz"), go.monitor_json("/jsz"));
    assert_same_shape("/jsz (off)", &b, &a, &[]);
    let mut a2 = a.clone();
    let mut b2 = b.clone();
    for v in [&mut a2, &mut b2] {
        let o = v.as_object_mut().unwrap();
        o.remove("server_id");
        o.remove("now");
    }
    assert_eq!(a2, b2, "everything but the id and the time");
    assert_eq!(a["disabled"], true);
    for query in ["?accounts=true&streams=true", "?acc=$G"] {
        let (a, b) = (
            ours.monitor_json(&format!("/jsz{query}")),
            go.monitor_json(&format!("/jsz{query}")),
        );
        assert_same_shape(query, &b, &a, &[]);
        assert!(a.get("account_details").is_none());
    }
    let (a, b) = (
        ours.http_get("/jsz?leader-only=true"),
        go.http_get("/jsz?leader-only=true"),
    );
    assert_eq!(
        (a.status, a.text()),
        (400, "filtered response: not leader".into())
    );
    assert_eq!((b.status, b.text()), (a.status, a.text()));
    assert_eq!(
        ours.monitor_json("/varz")["jetstream"],
        serde_json::json!({})
    );
    // Health: nothing JetStream to check, whatever is asked.
    for q in [
        "",
        "?js-enabled-only=true",
        "?js-server-only=1",
        "?account=$G&stream=S",
        "?account=x&details=1",
        "?js-enabled=true",
    ] {
        assert_same_health(&ours, &go, q);
    }
}

/// `/healthz{query}`: status, content type and body equal on both servers.
fn assert_same_health(ours: &Server, go: &Server, query: &str) -> (u16, String) {
    let path = format!("/healthz{query}");
    let (a, b) = (ours.http_get(&path), go.http_get(&path));
    assert_eq!(
        (a.status, a.text()),
        (b.status, b.text()),
        "{path}: (ours) vs (Go)"
    );
    assert_eq!(a.header("content-type"), b.header("content-type"), "{path}");
    (a.status, a.text())
}

#[tokio::test]
async fn healthz_matches_go_byte_for_byte() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    let (_a, _b) = (populate(&ours).await, populate(&go).await);
    let ok = (200, r#"{"status":"ok"}"#.to_string());
    for q in [
        "",
        "?js-enabled-only=true",
        "?js-server-only=true",
        "?js-meta-only=true",
        "?js-enabled=true",
        "?details=true",
        "?account=$G",
        "?account=%24G&stream=FILE",
        "?account=$G&stream=FILE&consumer=FD",
        "?account=$G&stream=FILE&consumer=FD2&details=1",
    ] {
        assert_eq!(assert_same_health(&ours, &go, q), ok, "{q}");
    }
    let cases: &[(&str, u16, &str)] = &[
        (
            "?account=$G&stream=NOPE",
            404,
            r#"{"status":"unavailable","error":"JetStream stream \"NOPE\" not found on account \"$G\""}"#,
        ),
        (
            "?account=$G&stream=FILE&consumer=NOPE",
            404,
            r#"{"status":"unavailable","error":"JetStream consumer \"NOPE\" not found for stream \"FILE\" on account \"$G\""}"#,
        ),
        (
            "?account=$G&stream=FILE&consumer=MD&details=true",
            404,
            r#"{"status":"error","errors":[{"type":"CONSUMER","account":"$G","stream":"FILE","consumer":"MD","error":"JetStream consumer \"MD\" not found for stream \"FILE\" on account \"$G\""}]}"#,
        ),
        (
            "?account=NOPE",
            404,
            r#"{"status":"unavailable","error":"JetStream account \"NOPE\" not found"}"#,
        ),
        (
            "?account=NOPE&details=true",
            404,
            r#"{"status":"error","errors":[{"type":"ACCOUNT","account":"NOPE","error":"JetStream account \"NOPE\" not found"}]}"#,
        ),
        (
            "?stream=FILE",
            400,
            r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#,
        ),
        (
            "?consumer=FD&details=true",
            400,
            r#"{"status":"error","errors":[{"type":"BAD_REQUEST","error":"\"stream\" must not be empty when checking consumer health"}]}"#,
        ),
    ];
    for (q, code, body) in cases {
        assert_eq!(
            assert_same_health(&ours, &go, q),
            (*code, body.to_string()),
            "{q}"
        );
    }
    // js-server-only stops before the JetStream checks.
    assert_eq!(
        assert_same_health(&ours, &go, "?js-server-only=1&account=NOPE"),
        ok
    );
    // Bad booleans: Go's plain-text 400.
    for q in [
        "?js-enabled-only=maybe",
        "?details=2",
        "?js-server-only=x&details=y",
    ] {
        let (code, text) = assert_same_health(&ours, &go, q);
        assert_eq!(code, 400, "{q}: {text}");
        assert!(text.starts_with("Error decoding boolean for '"), "{text}");
    }
}

/// Go finds streams for `/healthz` by listing the store directory, where memory
/// streams leave nothing: it answers "not found" for a memory stream that exists,
/// and "account not found" before the first file stream. jetcore asks its stream
/// directory, which knows every stream (differences.md, "/healthz").
#[tokio::test]
async fn healthz_memory_streams_count() {
    let (ours, go) = both(ServerBuilder::new().jetstream());
    let check = |s: &Server, q: &str| {
        let r = s.http_get(&format!("/healthz{q}"));
        (r.status, r.text())
    };
    let go_account_404 = (
        404,
        r#"{"status":"unavailable","error":"JetStream account \"$G\" not found"}"#.to_string(),
    );
    assert_eq!(check(&go, "?account=$G"), go_account_404);
    let fresh = check(&ours, "?account=$G");
    if ours.is_go() {
        assert_eq!(fresh, go_account_404);
    } else {
        assert_eq!(fresh, (200, r#"{"status":"ok"}"#.to_string()));
    }
    for s in [&ours, &go] {
        let nc = client(s).await;
        jetstream::new(nc)
            .create_stream(stream::Config {
                name: "MEM".into(),
                subjects: vec!["m.>".into()],
                storage: stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .expect("create MEM");
    }
    let go_mem = check(&go, "?account=$G&stream=MEM");
    assert_eq!(go_mem.0, 404, "{}", go_mem.1);
    let ours_mem = check(&ours, "?account=$G&stream=MEM");
    if ours.is_go() {
        assert_eq!(ours_mem, go_mem);
    } else {
        assert_eq!(ours_mem, (200, r#"{"status":"ok"}"#.to_string()));
    }
}

/// Every core answers the health check: with several cores and streams spread
/// over them, the plain probe is OK and quick.
#[tokio::test]
async fn healthz_asks_every_core() {
    let s = ServerBuilder::new()
        .jetstream()
        .cores(4)
        .monitoring()
        .start();
    let nc = client(&s).await;
    let js = jetstream::new(nc);
    for i in 0..4 {
        js.create_stream(stream::Config {
            name: format!("S{i}"),
            subjects: vec![format!("s{i}.>")],
            ..Default::default()
        })
        .await
        .expect("create");
    }
    for q in ["", "?details=true", "?account=$G&stream=S3"] {
        let t0 = std::time::Instant::now();
        let r = s.http_get(&format!("/healthz{q}"));
        assert_eq!(
            (r.status, r.text()),
            (200, r#"{"status":"ok"}"#.into()),
            "{q}"
        );
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{q}: {:?}",
            t0.elapsed()
        );
    }
    let j = s.monitor_json("/jsz?streams=true");
    assert_eq!(j["streams"], 4);
    assert_eq!(
        j["account_details"][0]["stream_detail"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
}

/// A stream whose stored metadata is damaged is not restored at start; like Go,
/// `/healthz` then fails for it (and only for it), with Go's text.
#[tokio::test]
async fn healthz_reports_streams_that_could_not_be_recovered() {
    let (mut ours, mut go) = both(ServerBuilder::new().jetstream());
    for s in [&ours, &go] {
        let js = jetstream::new(client(s).await);
        for name in ["BAD", "GOOD"] {
            js.create_stream(stream::Config {
                name: name.into(),
                subjects: vec![format!("{}.>", name.to_lowercase())],
                ..Default::default()
            })
            .await
            .expect("create");
        }
    }
    for s in [&mut ours, &mut go] {
        s.stop_graceful();
        let dir = s.dir().join("store/jetstream/$G/streams/BAD");
        // jetcore's metadata file, and Go's.
        let mut damaged = 0;
        for file in ["meta.json", "meta.inf"] {
            if dir.join(file).exists() {
                std::fs::write(dir.join(file), b"{ not json").expect("damage");
                damaged += 1;
            }
        }
        assert_eq!(
            damaged,
            1,
            "{:?}: one metadata file in {}",
            s.implementation(),
            dir.display()
        );
        s.restart();
    }
    let bad = r#"{"status":"unavailable","error":"JetStream stream '$G \u003e BAD' could not be recovered"}"#;
    assert_eq!(assert_same_health(&ours, &go, ""), (503, bad.to_string()));
    assert_eq!(
        assert_same_health(&ours, &go, "?account=$G&stream=BAD"),
        (503, bad.to_string())
    );
    assert_eq!(
        assert_same_health(&ours, &go, "?details=true"),
        (
            503,
            r#"{"status":"error","errors":[{"type":"STREAM","account":"$G","stream":"BAD","error":"JetStream stream '$G \u003e BAD' could not be recovered"}]}"#
                .to_string()
        )
    );
    let ok = (200, r#"{"status":"ok"}"#.to_string());
    assert_eq!(
        assert_same_health(&ours, &go, "?account=$G&stream=GOOD"),
        ok
    );
    assert_eq!(assert_same_health(&ours, &go, "?js-enabled-only=true"), ok);
    // /jsz lists what runs.
    let (a, b) = jsz(&ours, &go, "");
    assert_agree("/jsz", &a, &b, &["/streams"]);
    assert_eq!(a["streams"], 1);
}
