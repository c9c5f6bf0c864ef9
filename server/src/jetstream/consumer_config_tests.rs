//! Tests for `consumer_config` against the replies of the Go server 2.15.1
//! captured by `tests/clients/capture_api_shapes.py --consumers` into
//! `testdata/api/consumer_*.json` (`consumer_manifest.json` lists what was
//! asked, in order).
//!
//! The main test replays every consumer create of the capture session through
//! [`CreateConsumerRequest::parse`], [`resolve_create`] and [`prepare`], with
//! the streams and consumers Go had at that moment, and compares the outcome
//! with Go's reply: the same error (code, err_code, description), or the same
//! stored config.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::jetstream::api_types::go_json_bytes;
use crate::jetstream::consumer_api::{ConsumerCreateResponse, ConsumerInfoResponse};
use crate::jetstream::stream_config::StreamConfig;
use crate::jetstream::stream_info::StreamCreateResponse;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/jetstream/testdata/api")
}

#[derive(serde::Deserialize)]
struct Entry {
    name: String,
    subject: String,
    request: String,
}

fn manifest() -> Vec<Entry> {
    let bytes = std::fs::read(dir().join("consumer_manifest.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn capture(name: &str) -> Vec<u8> {
    let path = dir().join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stored(mut cfg: ConsumerConfig) -> ConsumerConfig {
    cfg.metadata.remove(META_SERVER_VERSION);
    cfg.metadata.remove(META_SERVER_LEVEL);
    cfg
}

/// What Go had: stream configs and each stream's consumers (stored configs).
#[derive(Default)]
struct Model {
    streams: HashMap<String, StreamConfig>,
    consumers: HashMap<String, BTreeMap<String, ConsumerConfig>>,
}

impl Model {
    /// Our answer to a create request, as Go's `jsConsumerCreateRequest` on a
    /// single server would give it.
    fn create(&self, subject: &str, body: &[u8]) -> Result<ConsumerConfig, ApiError> {
        let tail = subject.strip_prefix("$JS.API.CONSUMER.").unwrap();
        let subj = ConsumerCreateSubject::parse(subject).expect("create subject");
        assert!(tail.starts_with("CREATE.") || tail.starts_with("DURABLE.CREATE."));
        let req = CreateConsumerRequest::parse(body)?;
        let resolved = resolve_create(&req, &subj)?;
        let stream = self
            .streams
            .get(&subj.stream)
            .ok_or_else(ApiError::stream_not_found)?;
        let consumers: Vec<&ConsumerConfig> = self
            .consumers
            .get(&subj.stream)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        let ctx = StreamContext {
            config: stream,
            limits: ConsumerLimits::default(),
            consumers: &consumers,
            deliver_subject_has_interest: false,
        };
        match prepare(&ctx, resolved.config, resolved.action, resolved.pedantic)? {
            Prepared::Create(cfg) | Prepared::Update(cfg) => Ok(cfg),
        }
    }
}

#[test]
fn replay_of_go_create_requests_gives_go_results() {
    let mut model = Model::default();
    let (mut ok, mut errors) = (0, 0);
    for e in manifest() {
        let bytes = capture(&e.name);
        let tail = e.subject.trim_start_matches("$JS.API.");
        if let Some(name) = tail.strip_prefix("STREAM.CREATE.") {
            let r: StreamCreateResponse = serde_json::from_slice(&bytes).unwrap();
            let cfg = r.info.expect("stream created").config;
            model.streams.insert(cfg.name.clone(), cfg);
            model.consumers.entry(name.to_string()).or_default();
            continue;
        }
        if let Some(names) = tail.strip_prefix("CONSUMER.DELETE.") {
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            if v["success"] == Value::Bool(true) {
                let mut parts = names.splitn(2, '.');
                let (s, c) = (parts.next().unwrap(), parts.next().unwrap());
                model.consumers.get_mut(s).unwrap().remove(c);
            }
            continue;
        }
        if let Some(names) = tail.strip_prefix("CONSUMER.PAUSE.") {
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            if v.get("error").is_none() {
                let mut parts = names.splitn(2, '.');
                let (s, c) = (parts.next().unwrap(), parts.next().unwrap());
                let cfg = model.consumers.get_mut(s).unwrap().get_mut(c).unwrap();
                let until: GoTime = serde_json::from_value(v["pause_until"].clone()).unwrap();
                cfg.pause_until = (!until.is_zero()).then_some(until);
                cfg.set_static_metadata();
            }
            continue;
        }
        if !(tail.starts_with("CONSUMER.CREATE.") || tail.starts_with("CONSUMER.DURABLE.CREATE.")) {
            continue;
        }
        let go: ConsumerCreateResponse =
            serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        let ours = model.create(&e.subject, e.request.as_bytes());
        match (go.error, go.info) {
            (Some(go_err), _) => {
                assert_eq!(ours, Err(go_err), "{}: {}", e.name, e.request);
                errors += 1;
            }
            (None, Some(info)) => {
                let go_cfg = stored(info.config.clone());
                let ours = ours.unwrap_or_else(|err| panic!("{}: {err}", e.name));
                if ours.consumer_name().is_empty() {
                    // A legacy ephemeral: Go named it, but its stored config
                    // keeps the empty name.
                    assert_eq!(info.name.len(), 8, "{}", e.name);
                }
                assert_eq!(ours, go_cfg, "{}", e.name);
                model
                    .consumers
                    .get_mut(&info.stream_name)
                    .unwrap()
                    .insert(info.name.clone(), go_cfg);
                ok += 1;
            }
            (None, None) => panic!("{}: empty reply", e.name),
        }
    }
    assert!(ok >= 30, "only {ok} successful creates");
    eprintln!("{ok} creates and {errors} failed creates replayed");
    assert!(errors >= 140, "only {errors} failed creates");
}

/// The consumers Go reported in responses carry the dynamic metadata on top of
/// the stored config, as `with_dynamic_metadata` adds it.
#[test]
fn responses_add_dynamic_metadata() {
    for name in [
        "consumer_create_d1",
        "consumer_create_pz",
        "consumer_create_fc1",
    ] {
        let r: ConsumerCreateResponse = serde_json::from_slice(&capture(name)).unwrap();
        let cfg = r.info.unwrap().config;
        assert_eq!(stored(cfg.clone()).with_dynamic_metadata("2.15.1"), cfg);
    }
    let r: ConsumerInfoResponse = serde_json::from_slice(&capture("consumer_info_pinned")).unwrap();
    let cfg = r.info.unwrap().config;
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "1");
    assert_eq!(cfg.metadata[META_SERVER_LEVEL], "5");
}

#[test]
fn static_metadata_levels() {
    let mut cfg = ConsumerConfig::default();
    cfg.set_static_metadata();
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "0");
    cfg.pause_until = Some(GoTime::ZERO);
    cfg.set_static_metadata();
    assert_eq!(
        cfg.metadata[META_REQUIRED_LEVEL], "0",
        "zero time is no pause"
    );
    cfg.pause_until = Some(GoTime::from_unix_nanos(1));
    cfg.set_static_metadata();
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "1");
    let mut cfg = ConsumerConfig {
        priority_timeout: 1,
        ..Default::default()
    };
    cfg.metadata.insert(META_SERVER_VERSION.into(), "x".into());
    cfg.set_static_metadata();
    assert_eq!(cfg.metadata.len(), 1);
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "1");
    cfg.ack_policy = AckPolicy::FlowControl;
    cfg.set_static_metadata();
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "4");
}

/// Serialization of a config Go produced is byte for byte Go's.
#[test]
fn config_serializes_like_go() {
    for name in [
        "consumer_create_full",
        "consumer_create_t1",
        "consumer_create_p1",
        "consumer_create_o1",
        "consumer_create_pz",
        "consumer_create_fc1",
        "consumer_create_legacy_durable_d2",
    ] {
        let v: Value = serde_json::from_slice(&capture(name)).unwrap();
        let go = serde_json::to_vec(&v["config"]).unwrap();
        let cfg: ConsumerConfig = serde_json::from_value(v["config"].clone()).unwrap();
        // serde_json::Value sorts keys; compare parsed, then check our order.
        let ours = go_json_bytes(&cfg);
        let back: Value = serde_json::from_slice(&ours).unwrap();
        assert_eq!(back, v["config"], "{name}");
        let text = String::from_utf8(capture(name)).unwrap();
        let ours_text = String::from_utf8(ours).unwrap();
        assert!(text.contains(&ours_text), "{name}:\n{ours_text}\n{text}");
        assert!(!go.is_empty());
    }
    let full: ConsumerCreateResponse =
        serde_json::from_slice(&capture("consumer_create_full")).unwrap();
    let cfg = full.info.unwrap().config;
    assert_eq!(cfg.description, "a<b>&c");
    assert_eq!(cfg.backoff, vec![1_000_000_000, 2_000_000_000]);
    assert_eq!(cfg.replay_policy, ReplayPolicy::Original);
    assert_eq!(cfg.ack_policy, AckPolicy::All);
}

#[test]
fn zero_config_json() {
    assert_eq!(
        serde_json::to_string(&ConsumerConfig::default()).unwrap(),
        r#"{"deliver_policy":"all","ack_policy":"none","replay_policy":"instant","num_replicas":0}"#
    );
    // Lenient for stored configs: unknown fields are ignored.
    let cfg: ConsumerConfig =
        serde_json::from_str(r#"{"name":"A","future_field":1,"deliver_policy":"undefined"}"#)
            .unwrap();
    assert_eq!(cfg.name, "A");
    assert_eq!(cfg.deliver_policy, DeliverPolicy::All);
    assert!(serde_json::from_str::<ConsumerConfig>(r#"{"ack_policy":"x"}"#).is_err());
}

#[test]
fn enum_errors_are_go_texts() {
    assert_eq!(
        AckPolicy::from_go_json("\"EXPLICIT\""),
        Err(r#"can not unmarshal "\"EXPLICIT\"""#.to_string())
    );
    assert_eq!(
        DeliverPolicy::from_go_json("5"),
        Err(r#"can not unmarshal "5""#.to_string())
    );
    assert_eq!(
        PriorityPolicy::from_go_json("null"),
        Err("unknown priority policy: null".to_string())
    );
    assert_eq!(
        ConsumerAction::from_go_json("\"x\""),
        Err("unknown consumer action: \"x\"".to_string())
    );
    assert_eq!(
        ConsumerAction::from_go_json("\"\""),
        Ok(ConsumerAction::CreateOrUpdate)
    );
    assert_eq!(
        DeliverPolicy::from_go_json("\"last_per_subject\""),
        Ok(DeliverPolicy::LastPerSubject)
    );
}

#[test]
fn defaults_follow_go() {
    let stream = StreamConfig {
        name: "S".into(),
        num_replicas: 1,
        ..Default::default()
    };
    let lim = ConsumerLimits::default();
    let mut pull = ConsumerConfig {
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    };
    apply_defaults(&mut pull, &stream, &lim, false).unwrap();
    assert_eq!(
        (
            pull.ack_wait,
            pull.max_deliver,
            pull.max_waiting,
            pull.max_ack_pending
        ),
        (30_000_000_000, -1, 512, 1000)
    );
    let mut push = ConsumerConfig {
        deliver_subject: "d".into(),
        ..Default::default()
    };
    apply_defaults(&mut push, &stream, &lim, false).unwrap();
    assert_eq!(
        (push.ack_wait, push.max_waiting, push.max_ack_pending),
        (0, 0, 0)
    );
    // Server and account limits lower the default max ack pending; a server
    // batch limit becomes the pull consumer's max_batch.
    let lim = ConsumerLimits {
        max_ack_pending: 500,
        account_max_ack_pending: 200,
        max_request_batch: 7,
        ..Default::default()
    };
    let mut cfg = ConsumerConfig {
        ack_policy: AckPolicy::All,
        ..Default::default()
    };
    apply_defaults(&mut cfg, &stream, &lim, false).unwrap();
    assert_eq!((cfg.max_ack_pending, cfg.max_batch), (200, 7));
    let mut cfg = ConsumerConfig::default();
    assert_eq!(
        apply_defaults(&mut cfg, &stream, &lim, true),
        Err(ApiError::pedantic(
            "max_request_batch must be set if it's JetStream limits are set"
        ))
    );
    // Pinned clients get a 2m TTL.
    let mut cfg = ConsumerConfig {
        priority_policy: PriorityPolicy::PinnedClient,
        ..Default::default()
    };
    apply_defaults(&mut cfg, &stream, &ConsumerLimits::default(), false).unwrap();
    assert_eq!(cfg.priority_timeout, 120_000_000_000);
    // Ephemeral threshold.
    let mut cfg = ConsumerConfig {
        name: "E".into(),
        ..Default::default()
    };
    apply_ephemeral_threshold(&mut cfg);
    assert_eq!(cfg.inactive_threshold, 5_000_000_000);
    let mut cfg = ConsumerConfig {
        durable_name: "D".into(),
        ..Default::default()
    };
    apply_ephemeral_threshold(&mut cfg);
    assert_eq!(cfg.inactive_threshold, 0);
}

#[test]
fn server_limits_in_check() {
    let stream = StreamConfig {
        name: "S".into(),
        num_replicas: 1,
        ..Default::default()
    };
    let lim = ConsumerLimits {
        max_ack_pending: 10,
        max_request_batch: 5,
        ..Default::default()
    };
    let cfg = ConsumerConfig {
        max_ack_pending: 11,
        ..Default::default()
    };
    assert_eq!(
        check(&cfg, &stream, &lim),
        Err(ApiError::consumer_max_pending_ack_excess(10))
    );
    let cfg = ConsumerConfig {
        max_batch: 6,
        ..Default::default()
    };
    assert_eq!(
        check(&cfg, &stream, &lim),
        Err(ApiError::consumer_max_request_batch_exceeded(5))
    );
    let mut stream = stream;
    stream.placement = Some(crate::jetstream::stream_config::Placement {
        preferred: "x".into(),
        ..Default::default()
    });
    assert_eq!(
        check(
            &ConsumerConfig::default(),
            &stream,
            &ConsumerLimits::default()
        ),
        Err(ApiError::stream_invalid_config(
            "preferred server not permitted in placement"
        ))
    );
}

#[test]
fn max_consumers_limit() {
    let stream = StreamConfig {
        name: "S".into(),
        num_replicas: 1,
        max_consumers: 1,
        ..Default::default()
    };
    let none: [&ConsumerConfig; 0] = [];
    let first = StreamContext {
        config: &stream,
        limits: ConsumerLimits::default(),
        consumers: &none,
        deliver_subject_has_interest: false,
    };
    let a = ConsumerConfig {
        durable_name: "A".into(),
        ..Default::default()
    };
    let Ok(Prepared::Create(existing)) = prepare(&first, a, ConsumerAction::Create, false) else {
        panic!("first consumer");
    };
    let consumers = [&existing];
    let ctx = StreamContext {
        config: &stream,
        limits: ConsumerLimits::default(),
        consumers: &consumers,
        deliver_subject_has_interest: false,
    };
    let new = ConsumerConfig {
        durable_name: "B".into(),
        ..Default::default()
    };
    assert_eq!(
        prepare(&ctx, new, ConsumerAction::CreateOrUpdate, false),
        Err(ApiError::maximum_consumers_limit())
    );
    // The same name is an update, not a new consumer.
    let mut again = existing.clone();
    again.description = "x".into();
    assert!(matches!(
        prepare(&ctx, again, ConsumerAction::CreateOrUpdate, false),
        Ok(Prepared::Update(_))
    ));
}

#[test]
fn update_with_interest_on_old_deliver_subject() {
    let old = ConsumerConfig {
        durable_name: "A".into(),
        deliver_subject: "a".into(),
        ..Default::default()
    };
    let mut new = old.clone();
    new.deliver_subject = "b".into();
    assert_eq!(check_update(&old, &new), Ok(()));
    assert_eq!(
        check_update_with_interest(&old, &new, true),
        Err(ApiError::consumer_name_exist())
    );
}

#[test]
fn create_subject_forms() {
    let s = ConsumerCreateSubject::parse("$JS.API.CONSUMER.CREATE.S").unwrap();
    assert_eq!(
        (s.kind, s.stream.as_str()),
        (CreateKind::LegacyEphemeral, "S")
    );
    let s = ConsumerCreateSubject::parse("$JS.API.CONSUMER.CREATE.S.C.a.b.>").unwrap();
    assert_eq!(
        (
            s.kind,
            s.stream.as_str(),
            s.consumer.as_str(),
            s.filter.as_str()
        ),
        (CreateKind::New, "S", "C", "a.b.>")
    );
    let s = ConsumerCreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.D").unwrap();
    assert_eq!(
        (s.kind, s.stream.as_str(), s.consumer.as_str()),
        (CreateKind::LegacyDurable, "S", "D")
    );
    assert!(ConsumerCreateSubject::parse("$JS.API.CONSUMER.CREATE").is_none());
    // The durable form with a filter tail: Go answers 10016 after decoding.
    let s = ConsumerCreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.D.x").unwrap();
    let req = CreateConsumerRequest {
        stream_name: "S".into(),
        ..Default::default()
    };
    assert_eq!(
        resolve_create(&req, &s),
        Err(ApiError::consumer_durable_name_not_in_subject())
    );
}

#[test]
fn names_and_hashes() {
    // Go's getHash("$G"), as seen in a v2 ack subject of the capture.
    assert_eq!(account_hash("$G"), "szMpdrwD");
    let n = ephemeral_name();
    assert_eq!(n.len(), 8);
    assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(ephemeral_name(), ephemeral_name());
}

#[test]
fn request_decoding_details() {
    // Keys case-insensitive, the exact spelling preferred; later values win.
    let r = CreateConsumerRequest::parse(
        br#"{"stream_name":"S","STREAM_NAME":"T","config":{"Max_Deliver":3,"max_deliver":4}}"#,
    )
    .unwrap();
    assert_eq!((r.stream_name.as_str(), r.config.max_deliver), ("T", 4));
    // Two values: the second is decoded into the first; maps merge; null clears slices.
    let r = CreateConsumerRequest::parse(
        br#"{"config":{"metadata":{"a":"1"},"filter_subjects":["x"]}}
            {"config":{"metadata":{"b":"2"},"filter_subjects":null}} null"#,
    )
    .unwrap();
    assert_eq!(r.config.metadata.len(), 2);
    assert!(r.config.filter_subjects.is_empty());
    // Whitespace only is the zero request.
    assert_eq!(
        CreateConsumerRequest::parse(b" \n").unwrap(),
        CreateConsumerRequest::default()
    );
    // Escapes, surrogate pairs, lone surrogates.
    let r =
        CreateConsumerRequest::parse(br#"{"stream_name":"a\u0041\ud83d\ude00\ud800\n"}"#).unwrap();
    assert_eq!(r.stream_name, "aA\u{1F600}\u{FFFD}\n");
    let err = |body: &[u8]| CreateConsumerRequest::parse(body).unwrap_err().description;
    assert_eq!(
        err(br#"{"stream_name":"C\u12x4"}"#),
        "invalid JSON: invalid escape sequence `\\u12x4` in string at offset 23"
    );
    assert_eq!(
        err(b"{\"a\" : tx}"),
        "invalid JSON: invalid character 'x' in literal true (expecting 'r') at offset 9"
    );
    assert_eq!(
        err(b"{\"stream_name\":\"C\"} {\"pedantic\":nul"),
        "invalid JSON: unexpected EOF"
    );
}

#[test]
fn explicit_zero_pause_until_is_kept() {
    // Go stores and echoes "pause_until":"0001-01-01T00:00:00Z" at level 0.
    let req = CreateConsumerRequest::parse(
        br#"{"stream_name":"C","config":{"durable_name":"Z2","pause_until":"0001-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    let mut cfg = req.config;
    assert_eq!(cfg.pause_until, Some(GoTime::ZERO));
    cfg.set_static_metadata();
    assert_eq!(cfg.metadata[META_REQUIRED_LEVEL], "0");
    let json = String::from_utf8(go_json_bytes(&cfg)).unwrap();
    assert!(
        json.ends_with(
            r#""metadata":{"_nats.req.level":"0"},"pause_until":"0001-01-01T00:00:00Z"}"#
        ),
        "{json}"
    );
}

#[test]
fn updating_an_ephemeral_restamps_its_threshold() {
    let stream = StreamConfig {
        name: "S".into(),
        num_replicas: 1,
        ..Default::default()
    };
    let none: [&ConsumerConfig; 0] = [];
    let ctx = StreamContext {
        config: &stream,
        limits: ConsumerLimits::default(),
        consumers: &none,
        deliver_subject_has_interest: false,
    };
    let e = ConsumerConfig {
        name: "E".into(),
        ..Default::default()
    };
    let Ok(Prepared::Create(existing)) = prepare(&ctx, e.clone(), ConsumerAction::Create, false)
    else {
        panic!("create");
    };
    assert_eq!(existing.inactive_threshold, 5_000_000_000);
    let consumers = [&existing];
    let ctx = StreamContext {
        consumers: &consumers,
        ..ctx
    };
    // Unchanged but without the stamped threshold: "create" refuses (Go
    // compares before stamping), create-or-update accepts and re-stamps.
    assert_eq!(
        prepare(&ctx, e.clone(), ConsumerAction::Create, false),
        Err(ApiError::consumer_already_exists())
    );
    assert_eq!(
        prepare(&ctx, e, ConsumerAction::CreateOrUpdate, false),
        Ok(Prepared::Update(existing.clone()))
    );
}
