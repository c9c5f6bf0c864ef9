//! Tests for `consumer_api` against the Go server 2.15.1's replies captured by
//! `tests/clients/capture_api_shapes.py --consumers` into `testdata/api/`:
//! `consumer_<case>.json` (JSON API replies, listed in `consumer_manifest.json`),
//! `consumer_raw_msgs.json` (pull requests, acks and the messages and status
//! frames that came back) and `consumer_advisories.json` (every consumer event
//! published meanwhile).

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;
use crate::jetstream::consumer_config::{AckPolicy, PriorityPolicy};
use crate::jetstream::stream_info::StreamCreateResponse;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/jetstream/testdata/api")
}

fn read(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn capture(case: &str) -> Vec<u8> {
    read(&format!("{case}.json"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[derive(serde::Deserialize)]
struct Entry {
    name: String,
    subject: String,
    request: String,
}

fn manifest() -> Vec<Entry> {
    serde_json::from_slice(&read("consumer_manifest.json")).unwrap()
}

#[derive(serde::Deserialize)]
struct RawCase {
    name: String,
    data: String,
    replies: Vec<RawReply>,
}

#[derive(serde::Deserialize)]
struct RawReply {
    reply: Option<String>,
    hdr: String,
}

fn raw_cases() -> Vec<RawCase> {
    serde_json::from_slice(&read("consumer_raw_msgs.json")).unwrap()
}

fn raw(name: &str) -> RawCase {
    raw_cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no raw case {name}"))
}

fn round_trip<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Vec<u8> {
    let v: T = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
    go_json_bytes(&v)
}

fn error_of(bytes: &[u8]) -> Option<ApiError> {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    v.get("error")
        .map(|e| serde_json::from_value(e.clone()).unwrap())
}

/// The stored config of a consumer Go created in the capture session.
fn created_config(case: &str) -> ConsumerConfig {
    let r: ConsumerCreateResponse = serde_json::from_slice(&capture(case)).unwrap();
    r.info.unwrap().config
}

// ---- responses ---------------------------------------------------------------------

#[test]
fn every_capture_round_trips_byte_exact() {
    let mut seen = 0;
    for e in manifest() {
        let bytes = capture(&e.name);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let kind = v["type"].as_str().unwrap();
        let back = match kind.trim_start_matches("io.nats.jetstream.api.v1.") {
            "consumer_create_response" => round_trip::<ConsumerCreateResponse>(&bytes),
            "consumer_info_response" => round_trip::<ConsumerInfoResponse>(&bytes),
            "consumer_names_response" => round_trip::<ConsumerNamesResponse>(&bytes),
            "consumer_list_response" => round_trip::<ConsumerListResponse>(&bytes),
            "consumer_delete_response" => round_trip::<ConsumerDeleteResponse>(&bytes),
            "consumer_pause_response" => round_trip::<ConsumerPauseResponse>(&bytes),
            "stream_create_response" => round_trip::<StreamCreateResponse>(&bytes),
            other => panic!("{}: unexpected type {other}", e.name),
        };
        assert_eq!(text(&back), text(&bytes), "{}", e.name);
        seen += 1;
    }
    assert!(seen > 200, "only {seen} captures");
}

/// Every error reply of the consumer API equals the `error` constructor's bytes.
#[test]
fn error_constructors_produce_go_bytes() {
    let mut seen = 0;
    for e in manifest() {
        let bytes = capture(&e.name);
        let Some(err) = error_of(&bytes) else {
            continue;
        };
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let ours = match v["type"].as_str().unwrap() {
            CONSUMER_CREATE_RESPONSE_TYPE => go_json_bytes(&ConsumerCreateResponse::error(err)),
            CONSUMER_INFO_RESPONSE_TYPE => go_json_bytes(&ConsumerInfoResponse::error(err)),
            CONSUMER_NAMES_RESPONSE_TYPE => go_json_bytes(&ConsumerNamesResponse::error(err)),
            CONSUMER_LIST_RESPONSE_TYPE => go_json_bytes(&ConsumerListResponse::error(err)),
            CONSUMER_DELETE_RESPONSE_TYPE => go_json_bytes(&ConsumerDeleteResponse::error(err)),
            CONSUMER_PAUSE_RESPONSE_TYPE => go_json_bytes(&ConsumerPauseResponse::error(err)),
            _ => continue,
        };
        assert_eq!(text(&ours), text(&bytes), "{}", e.name);
        seen += 1;
    }
    assert!(seen > 150, "only {seen} error replies");
}

#[test]
fn success_constructors_produce_go_bytes() {
    let names = |case: &str| -> Vec<String> {
        let r: ConsumerNamesResponse = serde_json::from_slice(&capture(case)).unwrap();
        r.consumers
    };
    let all = names("consumer_names");
    assert_eq!(all.len(), 14);
    let mut shuffled = all.clone();
    shuffled.reverse();
    for (case, offset) in [
        ("consumer_names", 0),
        ("consumer_names_offset", 2),
        ("consumer_names_offset_past_end", 99),
    ] {
        assert_eq!(
            text(&go_json_bytes(&ConsumerNamesResponse::page(
                shuffled.clone(),
                offset
            ))),
            text(&capture(case)),
            "{case}"
        );
    }
    for case in ["consumer_names_empty", "consumer_names_ignores_non_json"] {
        assert_eq!(
            text(&go_json_bytes(&ConsumerNamesResponse::page(vec![], 0))),
            text(&capture(case))
        );
    }
    assert_eq!(
        text(&go_json_bytes(&ConsumerListResponse::page(vec![], 0, 0))),
        text(&capture("consumer_list_empty"))
    );
    assert_eq!(
        text(&go_json_bytes(&ConsumerListResponse::page(vec![], 1, 5))),
        text(&capture("consumer_list_offset_past_end"))
    );
    let list: ConsumerListResponse = serde_json::from_slice(&capture("consumer_list_lim")).unwrap();
    assert_eq!(
        text(&go_json_bytes(&ConsumerListResponse::page(
            list.consumers.clone(),
            1,
            0
        ))),
        text(&capture("consumer_list_lim"))
    );
    // LIST carries the stored config: no dynamic metadata.
    assert!(!list.consumers[0].config.metadata.contains_key("_nats.ver"));
    for case in ["consumer_delete_e1", "consumer_delete_del"] {
        assert_eq!(
            text(&go_json_bytes(&ConsumerDeleteResponse::success())),
            text(&capture(case))
        );
    }
    // Pause replies: `now` is recovered from Go's remaining time.
    for case in [
        "consumer_pause_d1",
        "consumer_pause_past",
        "consumer_pause_offset_zone",
        "consumer_pause_resume_empty",
        "consumer_pause_resume_object",
    ] {
        let go: ConsumerPauseResponse = serde_json::from_slice(&capture(case)).unwrap();
        let until = (!go.pause_until.is_zero()).then_some(go.pause_until);
        let now = if go.paused {
            GoTime::from_unix_nanos(go.pause_until.unix_nanos() - i128::from(go.pause_remaining))
        } else {
            GoTime::now()
        };
        assert_eq!(
            text(&go_json_bytes(&ConsumerPauseResponse::at(until, now))),
            text(&capture(case)),
            "{case}"
        );
    }
    // Create and info replies rebuild from their ConsumerInfo.
    for case in [
        "consumer_create_full",
        "consumer_info_d1",
        "consumer_info_paused",
    ] {
        let bytes = capture(case);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let ours = if v["type"] == CONSUMER_CREATE_RESPONSE_TYPE {
            let r: ConsumerCreateResponse = serde_json::from_slice(&bytes).unwrap();
            go_json_bytes(&ConsumerCreateResponse::new(r.info.unwrap()))
        } else {
            let r: ConsumerInfoResponse = serde_json::from_slice(&bytes).unwrap();
            go_json_bytes(&ConsumerInfoResponse::new(r.info.unwrap()))
        };
        assert_eq!(text(&ours), text(&bytes), "{case}");
    }
}

#[test]
fn info_shapes() {
    let r: ConsumerInfoResponse = serde_json::from_slice(&capture("consumer_info_pinned")).unwrap();
    let info = r.info.unwrap();
    assert_eq!(
        info.priority_groups,
        vec![PriorityGroupState {
            group: "g1".into(),
            pinned_client_id: String::new(),
            pinned_ts: GoTime::ZERO,
        }]
    );
    assert_eq!(info.config.priority_policy, PriorityPolicy::PinnedClient);
    assert_eq!(info.config.priority_timeout, 120_000_000_000);
    let r: ConsumerInfoResponse = serde_json::from_slice(&capture("consumer_info_paused")).unwrap();
    let info = r.info.unwrap();
    assert!(info.paused && info.pause_remaining > 0);
    assert!(info.cluster.is_none());
    let minimal = ConsumerInfo::default();
    assert_eq!(
        text(&go_json_bytes(&minimal)),
        r#"{"stream_name":"","name":"","created":"0001-01-01T00:00:00Z","config":{"deliver_policy":"all","ack_policy":"none","replay_policy":"instant","num_replicas":0},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"0001-01-01T00:00:00Z"}"#
    );
}

// ---- requests ----------------------------------------------------------------------

/// NAMES, LIST and PAUSE bodies decode as Go's did: the same error, or none.
#[test]
fn names_list_pause_requests_decode_like_go() {
    let mut seen = 0;
    for e in manifest() {
        let tail = e.subject.trim_start_matches("$JS.API.CONSUMER.");
        let body = e.request.as_bytes();
        let ours = if tail.starts_with("NAMES.") || tail.starts_with("LIST.") {
            ConsumersRequest::parse(body).map(|_| ())
        } else if tail.starts_with("PAUSE.") {
            ConsumerPauseRequest::parse(body).map(|_| ())
        } else {
            continue;
        };
        let go = error_of(&capture(&e.name)).filter(|err| err.err_code == 10025);
        assert_eq!(ours.err(), go, "{}", e.name);
        seen += 1;
    }
    assert!(seen >= 20, "{seen}");
    assert_eq!(
        ConsumersRequest::parse(br#"{"offset":-5}"#).unwrap().offset,
        0
    );
    assert_eq!(
        ConsumersRequest::parse(b" {\"offset\":3}").unwrap().offset,
        3
    );
    assert_eq!(ConsumersRequest::parse(b"3").unwrap().offset, 0);
    let p = ConsumerPauseRequest::parse(br#"{"pause_until":"2099-01-01T02:00:00+02:00"}"#).unwrap();
    assert_eq!(p.pause_until.unwrap().to_string(), "2099-01-01T00:00:00Z");
    let p = ConsumerPauseRequest::parse(br#"{"pause_until":"0001-01-01T00:00:00Z"}"#).unwrap();
    assert_eq!(p.pause_until, None);
}

#[test]
fn next_request_parse() {
    let ok = |body: &[u8]| NextRequest::parse(body).unwrap();
    assert_eq!(ok(b"").batch, 1);
    assert_eq!(ok(b" \r\n").batch, 1);
    assert!(!ok(b"").json);
    assert_eq!(ok(b"5").batch, 5);
    assert_eq!(ok(b" 2 ").batch, 2);
    assert_eq!(ok(b"+3").batch, 3);
    assert_eq!(ok(b"-3").batch, -3);
    assert_eq!(ok(b"0").batch, 0);
    assert_eq!(ok(b"1.5").batch, 1);
    assert_eq!(ok(b"99999999999999999999").batch, 1);
    assert_eq!(ok(b"[1]").batch, 1);
    assert_eq!(ok(b"garbage").batch, 1);
    // Go trims Unicode white space too.
    assert_eq!(ok("\u{a0}7\u{2003}".as_bytes()).batch, 7);
    let r = ok(br#"{"batch":3,"expires":2000000000,"max_bytes":100,"no_wait":true,"idle_heartbeat":500000000,"group":"g","min_pending":4,"min_ack_pending":5,"id":"pin","priority":2}"#);
    assert_eq!(
        r,
        NextRequest {
            batch: 3,
            expires: 2_000_000_000,
            max_bytes: 100,
            no_wait: true,
            idle_heartbeat: 500_000_000,
            group: "g".into(),
            min_pending: 4,
            min_ack_pending: 5,
            id: "pin".into(),
            priority: 2,
            json: true,
        }
    );
    // A JSON request without batch asks for 0 (Go still delivers one).
    let r = ok(br#"{"expires":1000}"#);
    assert_eq!((r.batch, r.json), (0, true));
    // Lenient: unknown fields ignored, names case-insensitive, null leaves zero.
    let r = ok(br#"{"BATCH":4,"zz":[1],"no_wait":null}"#);
    assert_eq!((r.batch, r.no_wait), (4, false));
    let err = |body: &[u8]| NextRequest::parse(body).unwrap_err();
    assert_eq!(
        err(br#"{"idle_heartbeat":1,"expires":1}"#),
        "heartbeat value too large"
    );
    assert!(NextRequest::parse(br#"{"idle_heartbeat":1,"expires":2}"#).is_ok());
    assert_eq!(
        err(br#"{"batch":"1"}"#),
        "json: cannot unmarshal string into Go struct field .batch of type int"
    );
    assert_eq!(
        err(br#"{"batch":1,"id":"\x"}"#),
        "invalid escape sequence `\\x` in string"
    );
    assert_eq!(err(br#"{"batch":1"#), "unexpected end of JSON input");
}

/// Every pull request of the capture that Go refused: our parse/check gives
/// Go's status frame.
#[test]
fn pull_request_errors_match_go() {
    let pull = created_config("consumer_create_pull");
    let lims = created_config("consumer_create_lims");
    let pr = created_config("consumer_create_pr");
    let cases: &[(&str, &ConsumerConfig)] = &[
        ("pull_bad_type", &pull),
        ("pull_bad_group_type", &pull),
        ("pull_bad_min_pending", &pull),
        ("pull_bad_no_wait", &pull),
        ("pull_bad_expires_float", &pull),
        ("pull_truncated", &pull),
        ("pull_trailing", &pull),
        ("pull_syntax", &pull),
        ("pull_hb_too_large", &pull),
        ("pull_min_pending_not_overflow", &pull),
        ("pull_id_not_pinned", &pull),
        ("pull_priority_range", &pull),
        ("pull_exceeds_batch", &lims),
        ("pull_exceeds_expires", &lims),
        ("pull_exceeds_max_bytes", &lims),
        ("pull_priority_group_missing", &pr),
        ("pull_priority_group_invalid", &pr),
    ];
    for (name, cfg) in cases {
        let c = raw(name);
        let ours = match NextRequest::parse(c.data.as_bytes()) {
            Err(e) => status::bad_request(&e),
            Ok(req) => req.check(cfg).unwrap_or_else(|| panic!("{name}: accepted")),
        };
        assert_eq!(text(&ours), c.replies[0].hdr, "{name}");
    }
    // Accepted requests pass the checks.
    for body in [
        &b""[..],
        b"2",
        br#"{"batch":5,"expires":2000000000,"max_bytes":1000}"#,
    ] {
        assert_eq!(NextRequest::parse(body).unwrap().check(&lims), None);
    }
    // An empty or numeric body skips the priority rules (Go has no group then).
    assert_eq!(NextRequest::parse(b"1").unwrap().check(&pr), None);
}

/// The other status frames, byte for byte as Go sent them.
#[test]
fn status_frames_match_go() {
    let first = |name: &str| raw(name).replies[0].hdr.clone();
    let nth = |name: &str, i: usize| raw(name).replies[i].hdr.clone();
    let table: Vec<(String, Vec<u8>)> = vec![
        (
            first("pull_no_wait_none_left"),
            status::NO_MESSAGES.to_vec(),
        ),
        (first("pull_expires"), status::request_timeout(1, 0)),
        (
            first("pull_expires_max_bytes"),
            status::request_timeout(2, 500),
        ),
        (first("pull_heartbeat"), status::idle_heartbeat(3, 3, None)),
        (nth("pull_heartbeat", 2), status::request_timeout(1, 0)),
        (
            first("pull_push_consumer"),
            status::CONSUMER_IS_PUSH_BASED.to_vec(),
        ),
        (
            first("pull_message_exceeds_max_bytes"),
            status::message_size_exceeds_max_bytes(1, 10),
        ),
        (
            nth("pull_batch_completed", 1),
            status::batch_completed(0, 99955),
        ),
        (
            first("pull_exceeded_max_waiting"),
            status::EXCEEDED_MAX_WAITING.to_vec(),
        ),
        (
            first("pull_consumer_deleted"),
            status::CONSUMER_DELETED.to_vec(),
        ),
        (nth("push_heartbeat", 1), status::idle_heartbeat(1, 4, None)),
    ];
    for (go, ours) in table {
        assert_eq!(text(&ours), go);
    }
    assert_eq!(
        text(&status::idle_heartbeat(5, 9, Some("$JS.FC.S.C.ab12"))),
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 5\r\nNats-Last-Stream: 9\r\nNats-Consumer-Stalled: $JS.FC.S.C.ab12\r\n\r\n"
    );
    assert_eq!(
        text(&status::wrong_pin_id(3, 0)),
        "NATS/1.0 423 Nats-Wrong-Pin-Id\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );
    assert_eq!(
        text(&status::exceeded_max_request_expires(1_500_000_000)),
        "NATS/1.0 409 Exceeded MaxRequestExpires of 1.5s\r\n\r\n"
    );
}

// ---- acks ---------------------------------------------------------------------------

/// Every delivery's reply subject (v1, and v2 from the server with the
/// `js_ack_fc_v2` flag and domain HUB) parses, and re-emits to the same string.
#[test]
fn ack_subjects_of_go_deliveries() {
    let mut v1 = 0;
    let mut v2 = 0;
    for c in raw_cases() {
        for r in &c.replies {
            let Some(reply) = r.reply.as_deref() else {
                continue;
            };
            if !reply.starts_with("$JS.ACK.") {
                continue;
            }
            let a = parse_ack_reply(reply.as_bytes()).unwrap_or_else(|| panic!("{reply}"));
            let again = match (a.domain, a.account_hash) {
                (None, None) => {
                    v1 += 1;
                    ack_reply_v1(
                        a.stream,
                        a.consumer,
                        a.delivery_count,
                        a.stream_seq,
                        a.consumer_seq,
                        a.timestamp,
                        a.pending,
                    )
                }
                (Some(domain), Some(hash)) => {
                    v2 += 1;
                    assert_eq!((domain, hash), ("HUB", "szMpdrwD"));
                    ack_reply_v2(
                        domain,
                        "$G",
                        a.stream,
                        a.consumer,
                        a.delivery_count,
                        a.stream_seq,
                        a.consumer_seq,
                        a.timestamp,
                        a.pending,
                    )
                }
                _ => unreachable!(),
            };
            assert_eq!(again, reply, "{}", c.name);
        }
    }
    assert!(v1 >= 10 && v2 == 2, "{v1} {v2}");
    // The redelivery after a NAK: delivery count 2, consumer sequence 4.
    let redelivered = raw("ack_next_after_nak").replies[0].reply.clone().unwrap();
    let a = parse_ack_reply(redelivered.as_bytes()).unwrap();
    assert_eq!(
        (a.delivery_count, a.stream_seq, a.consumer_seq, a.pending),
        (2, 3, 4, 0)
    );
}

#[test]
fn ack_reply_forms() {
    let s = ack_reply_v1("S", "C", 1, 22, 3, 1_700_000_000_000_000_000, 9);
    assert_eq!(s, "$JS.ACK.S.C.1.22.3.1700000000000000000.9");
    let a = parse_ack_reply(s.as_bytes()).unwrap();
    assert_eq!(
        a,
        AckReply {
            domain: None,
            account_hash: None,
            stream: "S",
            consumer: "C",
            delivery_count: 1,
            stream_seq: 22,
            consumer_seq: 3,
            timestamp: 1_700_000_000_000_000_000,
            pending: 9,
        }
    );
    let s = ack_reply_v2("", "ACC", "S", "C", 2, 5, 6, 7, 0);
    assert!(s.starts_with("$JS.ACK._."), "{s}");
    let a = parse_ack_reply(s.as_bytes()).unwrap();
    assert_eq!((a.domain, a.stream, a.consumer), (Some("_"), "S", "C"));
    // v2 allows extra tokens after the eleventh.
    let a = parse_ack_reply(b"$JS.ACK.D.H.S.C.1.2.3.4.5.rand.more").unwrap();
    assert_eq!((a.stream_seq, a.pending), (2, 5));
    // Ten tokens, eight tokens, another prefix: not an ack subject.
    assert_eq!(parse_ack_reply(b"$JS.ACK.X.S.C.1.2.3.4.5"), None);
    assert_eq!(parse_ack_reply(b"$JS.ACK.S.C.1.2.3.4"), None);
    assert_eq!(parse_ack_reply(b"$JS.ACX.S.C.1.2.3.4.5"), None);
    // Go's number reader: a non-digit token is -1.
    let a = parse_ack_reply(b"$JS.ACK.S.C.1.x.3..5").unwrap();
    assert_eq!((a.stream_seq, a.timestamp), (u64::MAX, -1));
    assert_eq!(account_hash_of_default(), "szMpdrwD");
    let fc = flow_control_reply_v1("S", "C");
    assert!(fc.starts_with("$JS.FC.S.C.") && fc.len() == "$JS.FC.S.C.".len() + 4);
}

fn account_hash_of_default() -> String {
    super::super::consumer_config::account_hash("$G")
}

#[test]
fn ack_kind_parse() {
    let table: Vec<(&[u8], AckKind)> = vec![
        (b"", AckKind::Ack),
        (b"+ACK", AckKind::Ack),
        (b"+OK", AckKind::Ack),
        (b"+ACK ", AckKind::Other),
        (b"+ack", AckKind::Other),
        (b"hello", AckKind::Other),
        (b"-NAK", AckKind::Nak { delay: None }),
        (b"-NAK ", AckKind::Nak { delay: None }),
        (
            b"-NAK 1.5s",
            AckKind::Nak {
                delay: Some(1_500_000_000),
            },
        ),
        (
            b"-NAK\t2m\n",
            AckKind::Nak {
                delay: Some(120_000_000_000),
            },
        ),
        (
            b"-NAK -1s",
            AckKind::Nak {
                delay: Some(-1_000_000_000),
            },
        ),
        (b"-NAK 0", AckKind::Nak { delay: Some(0) }),
        (b"-NAK soon", AckKind::Nak { delay: None }),
        (b"-NAKED", AckKind::Nak { delay: None }),
        (
            br#"-NAK {"delay":5000000000}"#,
            AckKind::Nak {
                delay: Some(5_000_000_000),
            },
        ),
        (
            br#"-NAK {"Delay":7,"other":true}"#,
            AckKind::Nak { delay: Some(7) },
        ),
        (br#"-NAK {}"#, AckKind::Nak { delay: Some(0) }),
        (br#"-NAK {"delay":"5s"}"#, AckKind::Nak { delay: None }),
        (br#"-NAK {"delay":5} x"#, AckKind::Nak { delay: None }),
        (b"+WPI", AckKind::Progress),
        (b"+WPI ", AckKind::Other),
        (b"+NXT", AckKind::Next(Bytes::new())),
        (b"+NXT 5", AckKind::Next(Bytes::from_static(b" 5"))),
        (
            b"+TERM",
            AckKind::Term {
                reason: String::new(),
            },
        ),
        (
            b"+TERM  no thanks \r\n",
            AckKind::Term {
                reason: "no thanks".into(),
            },
        ),
        (
            b"+TERMINATE",
            AckKind::Term {
                reason: "INATE".into(),
            },
        ),
    ];
    for (body, want) in table {
        assert_eq!(AckKind::parse(body), want, "{}", text(body));
    }
    // The captured +NXT body is a pull request once the prefix is gone.
    let AckKind::Next(rest) = AckKind::parse(raw("ack_next").data.as_bytes()) else {
        panic!("+NXT");
    };
    let req = NextRequest::parse(&rest).unwrap();
    assert_eq!((req.batch, req.no_wait), (2, true));
    // Go answered the unknown body (an empty reply), as it does every ack.
    assert_eq!(raw("ack_unknown_body").replies.len(), 1);
}

#[test]
fn go_durations() {
    let table: &[(&str, Option<i64>)] = &[
        ("0", Some(0)),
        ("-0", Some(0)),
        ("1ns", Some(1)),
        ("1us", Some(1_000)),
        ("1\u{b5}s", Some(1_000)),
        ("1\u{3bc}s", Some(1_000)),
        ("1.5ms", Some(1_500_000)),
        (".5s", Some(500_000_000)),
        ("1.s", Some(1_000_000_000)),
        ("1h2m3s", Some(3_723_000_000_000)),
        ("+5s", Some(5_000_000_000)),
        ("-1.5h", Some(-5_400_000_000_000)),
        ("2562047h47m16.854775807s", Some(i64::MAX)),
        ("2562047h47m16.854775808s", None),
        ("-2562047h47m16.854775808s", Some(i64::MIN)),
        ("", None),
        ("1", None),
        ("s", None),
        (".s", None),
        ("1x", None),
        ("1 s", None),
        ("1s ", None),
    ];
    for (text, want) in table {
        assert_eq!(parse_go_duration(text), *want, "{text:?}");
    }
}

#[test]
fn trim_space_like_go() {
    assert_eq!(go_trim_space(b" \t\x0b\x0c\r\nx y\n"), b"x y");
    assert_eq!(go_trim_space("\u{85}x\u{3000}".as_bytes()), b"x");
    // Invalid UTF-8 at an edge stops the trimming.
    assert_eq!(go_trim_space(b"\xffx \xff"), b"\xffx \xff");
    assert_eq!(go_trim_space(b"   "), b"");
}

// ---- advisories ----------------------------------------------------------------------

#[test]
fn advisories_round_trip_byte_exact() {
    #[derive(serde::Deserialize)]
    struct Adv {
        subject: String,
        data: String,
    }
    let all: Vec<Adv> = serde_json::from_slice(&read("consumer_advisories.json")).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for a in &all {
        let v: Value = serde_json::from_str(&a.data).unwrap();
        let kind = v["type"].as_str().unwrap().to_string();
        let b = a.data.as_bytes();
        let (back, prefix) = match kind.as_str() {
            ACTION_ADVISORY_TYPE => {
                let e: ConsumerActionAdvisory = serde_json::from_slice(b).unwrap();
                let prefix = match e.action {
                    ConsumerAction::Created => ADVISORY_CREATED,
                    ConsumerAction::Deleted => ADVISORY_DELETED,
                };
                (go_json_bytes(&e), prefix)
            }
            PAUSE_ADVISORY_TYPE => (round_trip::<ConsumerPauseAdvisory>(b), ADVISORY_PAUSE),
            NAK_ADVISORY_TYPE => (round_trip::<ConsumerNakAdvisory>(b), ADVISORY_NAK),
            TERMINATED_ADVISORY_TYPE => (
                round_trip::<ConsumerTerminatedAdvisory>(b),
                ADVISORY_TERMINATED,
            ),
            MAX_DELIVER_ADVISORY_TYPE => (
                round_trip::<ConsumerMaxDeliveriesAdvisory>(b),
                ADVISORY_MAX_DELIVERIES,
            ),
            ACK_METRIC_TYPE => (round_trip::<ConsumerAckMetric>(b), METRIC_ACK),
            other => panic!("unexpected advisory {other}"),
        };
        assert_eq!(text(&back), a.data);
        let stream = v["stream"].as_str().unwrap();
        let consumer = v["consumer"].as_str().unwrap();
        assert_eq!(event_subject(prefix, stream, consumer), a.subject);
        kinds.insert(kind);
    }
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

#[test]
fn pinned_advisory_shapes() {
    let e = ConsumerPinnedAdvisory {
        kind: PINNED_ADVISORY_TYPE.into(),
        id: "ID".into(),
        timestamp: GoTime::from_unix_nanos(1_700_000_000_000_000_000),
        account: "$G".into(),
        stream: "S".into(),
        consumer: "C".into(),
        domain: String::new(),
        group: "g".into(),
        pinned_id: "P".into(),
    };
    assert_eq!(
        text(&go_json_bytes(&e)),
        r#"{"type":"io.nats.jetstream.advisory.v1.consumer_group_pinned","id":"ID","timestamp":"2023-11-14T22:13:20Z","account":"$G","stream":"S","consumer":"C","group":"g","pinned_id":"P"}"#
    );
    assert_eq!(sample_frequency("50%"), 50);
    assert_eq!(sample_frequency("100"), 100);
    assert_eq!(sample_frequency(""), 0);
    assert_eq!(
        created_config("consumer_create_sample").ack_policy,
        AckPolicy::Explicit
    );
}

/// Random bytes and mutated requests through the consumer request decoders (pull,
/// UNPIN, RESET, PAUSE, NAMES/LIST): errors are fine, panics are not.
#[test]
fn consumer_request_decoders_never_panic() {
    let seeds: [&[u8]; 5] = [
        br#"{"batch":3,"expires":2000000000,"max_bytes":100,"no_wait":true,"idle_heartbeat":500000000}"#,
        br#"{"group":"A","min_pending":4,"min_ack_pending":5,"id":"pin","priority":2}"#,
        br#"{"seq":18446744073709551615} {"seq":-1}"#,
        br#"{"pause_until":"2024-01-01T00:00:00Z","offset":3}"#,
        b" 12 ",
    ];
    crate::jetstream::api_types::tests::for_each_mutation(
        &seeds,
        0x2545_f491_4f6c_dd1d,
        20_000,
        |b| {
            let _ = NextRequest::parse(b);
            let _ = ConsumerUnpinRequest::parse(b);
            let _ = ConsumerResetRequest::parse(b);
            let _ = ConsumerPauseRequest::parse(b);
            let _ = ConsumersRequest::parse(b);
        },
    );
}
