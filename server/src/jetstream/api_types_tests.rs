//! Tests for `api_types` (and `headers`, end to end) against the replies of the
//! Go server 2.15.1 captured by `tests/clients/capture_api_shapes.py` into
//! `testdata/api/`: `<case>.json` raw reply bytes, `manifest.json` (what was
//! asked), `raw_msgs.json` (header-level exchanges).

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;
use crate::jetstream::headers::{self, HeaderBuilder};
use crate::jetstream::stream_info::StreamCreateResponse;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/jetstream/testdata/api")
}

fn capture(case: &str) -> Vec<u8> {
    let path = dir().join(format!("{case}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(serde::Deserialize)]
struct ManifestEntry {
    name: String,
    subject: String,
    request: String,
}

fn manifest() -> Vec<ManifestEntry> {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

#[derive(serde::Deserialize)]
struct RawCase {
    name: String,
    hdr: Option<String>,
    replies: Vec<RawReply>,
}

#[derive(serde::Deserialize)]
struct RawReply {
    hdr: String,
    data: String,
}

fn raw_cases() -> Vec<RawCase> {
    serde_json::from_slice(&std::fs::read(dir().join("raw_msgs.json")).unwrap()).unwrap()
}

fn raw(name: &str) -> RawCase {
    raw_cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no raw case {name}"))
}

fn round_trip<T: DeserializeOwned + serde::Serialize>(bytes: &[u8]) -> Vec<u8> {
    let v: T = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(bytes));
    });
    to_go_json(&v).unwrap()
}

fn err(code: u16, err_code: u16, description: &str) -> ApiError {
    ApiError {
        code,
        err_code,
        description: description.to_string(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---- responses ---------------------------------------------------------------------

/// Every captured JSON reply decodes into its type and encodes back to the very
/// same bytes (times, ids and counts survive the round trip, so nothing needs
/// normalising).
#[test]
fn every_capture_round_trips_byte_exact() {
    let mut seen = 0;
    for entry in manifest() {
        let bytes = capture(&entry.name);
        let kind = serde_json::from_slice::<Value>(&bytes).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_string();
        let kind = kind.trim_start_matches("io.nats.jetstream.api.v1.");
        let back = match kind {
            "account_info_response" => round_trip::<AccountInfoResponse>(&bytes),
            "stream_names_response" => round_trip::<StreamNamesResponse>(&bytes),
            "stream_list_response" => round_trip::<StreamListResponse>(&bytes),
            "stream_info_response" => round_trip::<StreamInfoResponse>(&bytes),
            "stream_update_response" => round_trip::<StreamUpdateResponse>(&bytes),
            "stream_delete_response" => round_trip::<StreamDeleteResponse>(&bytes),
            "stream_purge_response" => round_trip::<StreamPurgeResponse>(&bytes),
            "stream_msg_get_response" => round_trip::<MsgGetResponse>(&bytes),
            "stream_msg_delete_response" => round_trip::<MsgDeleteResponse>(&bytes),
            "stream_create_response" => round_trip::<StreamCreateResponse>(&bytes),
            other => panic!("{}: unexpected type {other}", entry.name),
        };
        assert_eq!(text(&back), text(&bytes), "{}", entry.name);
        seen += 1;
    }
    assert!(seen > 60, "only {seen} captures");
}

fn unlimited_stats(domain: &str) -> AccountStats {
    AccountStats {
        tier: JetStreamTier {
            limits: AccountLimits::unlimited(),
            ..Default::default()
        },
        domain: domain.to_string(),
        api: ApiStats {
            level: 5,
            ..Default::default()
        },
        tiers: Default::default(),
    }
}

/// Responses built from scratch by the constructors equal Go's bytes.
#[test]
fn constructors_produce_go_bytes() {
    let bad_request = err(400, 10003, "bad request");
    let not_found = err(404, 10059, "stream not found");
    let unknown_foo = ApiError::invalid_json("json: unknown field \"foo\"");
    let purged = |case: &str| -> u64 {
        serde_json::from_slice::<Value>(&capture(case)).unwrap()["purged"]
            .as_u64()
            .unwrap()
    };
    let table: Vec<(&str, Vec<u8>)> = vec![
        (
            "account_info_empty",
            go_json_bytes(&AccountInfoResponse::new(unlimited_stats(""))),
        ),
        (
            "domain_account_info",
            go_json_bytes(&AccountInfoResponse::new(unlimited_stats("HUB"))),
        ),
        (
            "stream_names_empty",
            go_json_bytes(&StreamNamesResponse::new(vec![], 0, 0)),
        ),
        (
            "stream_names",
            go_json_bytes(&StreamNamesResponse::new(
                vec!["S2".into(), "T".into()],
                2,
                0,
            )),
        ),
        (
            "stream_names_filtered",
            go_json_bytes(&StreamNamesResponse::new(vec!["T".into()], 1, 0)),
        ),
        (
            "stream_names_filter_no_match",
            go_json_bytes(&StreamNamesResponse::new(vec![], 0, 0)),
        ),
        (
            "stream_names_offset_past_end",
            go_json_bytes(&StreamNamesResponse::new(vec![], 2, 2)),
        ),
        (
            "stream_names_err_unknown_field",
            go_json_bytes(&StreamNamesResponse::error(unknown_foo.clone())),
        ),
        (
            "stream_list_empty",
            go_json_bytes(&StreamListResponse::new(vec![], 0, 0)),
        ),
        (
            "list_err_unknown_field",
            go_json_bytes(&StreamListResponse::error(unknown_foo)),
        ),
        (
            "stream_info_not_found",
            go_json_bytes(&StreamInfoResponse::error(not_found.clone())),
        ),
        (
            "stream_update_not_found",
            go_json_bytes(&StreamUpdateResponse::error(not_found.clone())),
        ),
        ("stream_delete", go_json_bytes(&StreamDeleteResponse::ok())),
        (
            "stream_delete_not_found",
            go_json_bytes(&StreamDeleteResponse::error(not_found.clone())),
        ),
        (
            "stream_delete_not_empty",
            go_json_bytes(&StreamDeleteResponse::error(err(
                400,
                10038,
                "expected an empty request payload",
            ))),
        ),
        (
            "purge_subject",
            go_json_bytes(&StreamPurgeResponse::ok(purged("purge_subject"))),
        ),
        (
            "purge_empty_stream",
            go_json_bytes(&StreamPurgeResponse::ok(0)),
        ),
        (
            "purge_seq_and_keep",
            go_json_bytes(&StreamPurgeResponse::error(bad_request.clone())),
        ),
        (
            "purge_not_found",
            go_json_bytes(&StreamPurgeResponse::error(not_found.clone())),
        ),
        ("msg_delete", go_json_bytes(&MsgDeleteResponse::ok())),
        (
            "msg_delete_again",
            go_json_bytes(&MsgDeleteResponse::error(err(
                400,
                10043,
                "sequence 4 not found",
            ))),
        ),
        (
            "msg_delete_empty_body",
            go_json_bytes(&MsgDeleteResponse::error(bad_request.clone())),
        ),
        (
            "msg_get_not_found",
            go_json_bytes(&MsgGetResponse::error(err(404, 10037, "no message found"))),
        ),
        (
            "msg_get_no_stream",
            go_json_bytes(&MsgGetResponse::error(not_found)),
        ),
        (
            "msg_get_empty_body",
            go_json_bytes(&MsgGetResponse::error(bad_request)),
        ),
    ];
    for (case, ours) in table {
        assert_eq!(text(&ours), text(&capture(case)), "{case}");
    }
}

/// The time of a captured message-get reply.
fn captured_time(case: &str) -> i64 {
    let v: Value = serde_json::from_slice(&capture(case)).unwrap();
    let t = GoTime::parse_rfc3339(v["message"]["time"].as_str().unwrap()).unwrap();
    i64::try_from(t.unix_nanos()).unwrap()
}

#[test]
fn msg_get_from_stored_parts() {
    // Seq 2 was published with this header block and payload.
    let published = raw("puback_with_headers");
    let hdr = Bytes::from(published.hdr.unwrap());
    let cases: Vec<(&str, StoredMsg)> = vec![
        (
            "msg_get_seq1",
            StoredMsg::new(b"t.1", 1, Bytes::new(), Bytes::from_static(b"one"), 0),
        ),
        (
            "msg_get_with_hdrs",
            StoredMsg::new(b"t.1", 2, hdr, Bytes::from_static(b"hdrs"), 0),
        ),
        (
            "msg_get_no_hdr",
            StoredMsg::new(b"t.1", 2, Bytes::new(), Bytes::from_static(b"hdrs"), 0),
        ),
        (
            // An empty payload and no headers: both fields left out.
            "msg_get_last_by_subj",
            StoredMsg::new(b"t.4", 11, Bytes::new(), Bytes::new(), 0),
        ),
    ];
    for (case, mut msg) in cases {
        msg.time = GoTime::from_unix_nanos(i128::from(captured_time(case)));
        let ours = go_json_bytes(&MsgGetResponse::new(msg));
        assert_eq!(text(&ours), text(&capture(case)), "{case}");
    }
}

#[test]
fn stream_info_paging_fields_sit_before_the_info() {
    for case in [
        "stream_info_subjects_filter",
        "stream_info_subjects_filter_offset",
    ] {
        let bytes = capture(case);
        let parsed: StreamInfoResponse = serde_json::from_slice(&bytes).unwrap();
        let (total, offset) = (parsed.total, parsed.offset);
        assert_eq!(parsed.limit, MAX_SUBJECT_DETAILS);
        let info = parsed.info.unwrap();
        let ours = StreamInfoResponse::with_subjects_page(info.clone(), total, offset);
        assert_eq!(text(&go_json_bytes(&ours)), text(&bytes), "{case}");
        // Without a filter the three zeros are still there.
        let plain = text(&go_json_bytes(&StreamInfoResponse::new(info)));
        assert!(plain.starts_with(
            "{\"type\":\"io.nats.jetstream.api.v1.stream_info_response\",\
             \"total\":0,\"offset\":0,\"limit\":0,\"config\":"
        ));
    }
}

#[test]
fn embedded_bodies_are_absent_on_errors() {
    let r: StreamInfoResponse = serde_json::from_slice(&capture("stream_info_not_found")).unwrap();
    assert!(r.info.is_none());
    assert_eq!(r.error.unwrap().err_code, 10059);
    let r: StreamUpdateResponse =
        serde_json::from_slice(&capture("stream_update_not_found")).unwrap();
    assert!(r.info.is_none());
    let r: AccountInfoResponse = serde_json::from_slice(&capture("account_info_empty")).unwrap();
    assert_eq!(r.stats.unwrap().tier.limits, AccountLimits::unlimited());
    let e = go_json_bytes(&AccountInfoResponse::error(err(503, 10039, "x")));
    assert_eq!(
        text(&e),
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","error":{"code":503,"err_code":10039,"description":"x"}}"#
    );
    let names: StreamNamesResponse =
        serde_json::from_slice(&capture("stream_names_empty")).unwrap();
    assert!(names.streams.is_empty());
}

// ---- Go's JSON text ------------------------------------------------------------------

#[test]
fn go_json_escapes_like_go() {
    // The description Go echoed back in create_escapes: the raw bytes between
    // `"description":` and `,"subjects"`.
    let bytes = capture("create_escapes");
    let s = text(&bytes);
    let start = s.find("\"description\":").unwrap() + "\"description\":".len();
    let end = s[start..].find(",\"subjects\"").unwrap() + start;
    let go = &s[start..end];
    let value: String = serde_json::from_str(go).unwrap();
    assert_eq!(text(&to_go_json(&value).unwrap()), go);
    assert_eq!(
        go,
        "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\\\u003c\\u003e\\u0026\\u2028\\u2029\u{7f}\u{e9}\u{1f600}\""
    );
    assert_eq!(text(&to_go_json("t.>").unwrap()), "\"t.\\u003e\"");
}

#[test]
fn base64_is_std_padded() {
    let table: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"hdrs", "aGRycw=="),
        (b"one", "b25l"),
        (&[0xfb, 0xff], "+/8="),
        (
            b"NATS/1.0\r\nA: 1\r\nB:  two  \r\n\r\n",
            "TkFUUy8xLjANCkE6IDENCkI6ICB0d28gIA0KDQo=",
        ),
    ];
    for (data, enc) in table {
        assert_eq!(base64_encode(data), *enc);
        assert_eq!(base64_decode(enc.as_bytes()).unwrap(), *data);
    }
    assert_eq!(base64_decode(b"Zm9v\r\nYg==").unwrap(), b"foob");
    for bad in [
        &b"Zg"[..],
        b"Zg=",
        b"Z===",
        b"Zm9v-A==",
        b"Zg==Zg==",
        b"====",
        b"Zm=v",
    ] {
        assert!(base64_decode(bad).is_err(), "{}", text(bad));
    }
    // Never panics.
    let mut x = 0x1234_5678_9abc_def1u64;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const SYMBOLS: &[u8] = b"AZaz09+/=\r\n-";
        let len = (x % 13) as usize;
        let b: Vec<u8> = (0..len)
            .map(|i| SYMBOLS[((x >> (i * 4)) % SYMBOLS.len() as u64) as usize])
            .collect();
        if let Ok(d) = base64_decode(&b) {
            let clean: Vec<u8> = b
                .iter()
                .copied()
                .filter(|c| *c != b'\r' && *c != b'\n')
                .collect();
            assert_eq!(base64_encode(&d).len(), clean.len());
        }
    }
}

#[test]
fn go_quote_table() {
    let table: &[(&str, &str)] = &[
        ("T", "\"T\""),
        ("a\"b\\c", "\"a\\\"b\\\\c\""),
        ("<&>", "\"<&>\""),
        ("\u{7}\u{8}\u{c}\n\r\t\u{b}", "\"\\a\\b\\f\\n\\r\\t\\v\""),
        ("\u{1}\u{7f}", "\"\\x01\\x7f\""),
        ("é😀", "\"é😀\""),
        (
            "\u{a0}\u{ad}\u{2028}\u{feff}",
            "\"\\u00a0\\u00ad\\u2028\\ufeff\"",
        ),
        ("\u{85}", "\"\\u0085\""),
        ("\u{e0001}", "\"\\U000e0001\""),
    ];
    for (s, want) in table {
        assert_eq!(go_quote(s), *want, "{s:?}");
    }
}

// ---- PubAck ----------------------------------------------------------------------------

#[test]
fn pub_acks_match_go_bytes() {
    let mut checked = 0;
    for case in raw_cases() {
        if !case.name.contains("puback") {
            continue;
        }
        let reply = &case.replies[0].data;
        let ours = if reply.contains("\"error\"") {
            let parsed: PubAckResponse = serde_json::from_str(reply).unwrap();
            let ack = parsed.ack.clone().unwrap();
            assert_eq!(ack.seq, 0);
            assert!(ack.domain.is_empty(), "errors carry no domain");
            let built = PubAckResponse::error(&ack.stream, parsed.error.clone().unwrap());
            assert_eq!(built, parsed);
            built.to_bytes()
        } else {
            let ack: PubAck = serde_json::from_str(reply).unwrap();
            ack.to_bytes()
        };
        assert_eq!(text(&ours), *reply, "{}", case.name);
        checked += 1;
    }
    assert!(checked >= 20);

    // The template forms, spelled out.
    let mut ack = PubAck::new("T", 3, "");
    assert_eq!(text(&ack.to_bytes()), r#"{"stream":"T","seq":3}"#);
    ack.duplicate = true;
    assert_eq!(
        text(&ack.to_bytes()),
        r#"{"stream":"T","seq":3,"duplicate": true}"#
    );
    let dup_domain = PubAck {
        duplicate: true,
        ..PubAck::new("D", 2, "HUB")
    };
    assert_eq!(
        text(&dup_domain.to_bytes()),
        r#"{"stream":"D","domain":"HUB","seq":2,"duplicate": true}"#
    );
    let counter = PubAck {
        val: Some(String::new()),
        ..PubAck::new("C", 1, "")
    };
    assert_eq!(
        text(&counter.to_bytes()),
        r#"{"stream":"C","seq":1,"val":""}"#
    );
    let batch = PubAck {
        batch: "b1".into(),
        count: 3,
        ..PubAck::new("B", 9, "")
    };
    assert_eq!(
        text(&batch.to_bytes()),
        r#"{"stream":"B","seq":9,"batch":"b1","count":3}"#
    );
    // The json.Marshal form (used inside error replies) has domain after seq.
    assert_eq!(
        text(&go_json_bytes(&dup_domain)),
        r#"{"stream":"D","seq":2,"domain":"HUB","duplicate":true}"#
    );
    let e = PubAckResponse::error("T", ApiError::stream_not_found());
    assert_eq!(
        text(&e.to_bytes()),
        r#"{"error":{"code":404,"err_code":10059,"description":"stream not found"},"stream":"T","seq":0}"#
    );
}

// ---- requests --------------------------------------------------------------------------

/// The captured replies' syntax errors carry Go's scanner texts, which
/// serde_json's do not match; only the error code is compared for these.
const SYNTAX_ERROR_CASES: &[&str] = &["msg_get_err_syntax", "msg_get_err_trailing_garbage"];

fn check_decode<T: ApiRequest>(name: &str, body: &str, reply: &Value) -> Result<T, ApiError> {
    let got = T::parse(body.as_bytes());
    let go_err = reply.get("error").filter(|e| e["err_code"] == 10025);
    match (&got, go_err) {
        (Ok(_), None) => {}
        (Err(e), Some(go)) => {
            assert_eq!(e.err_code, 10025, "{name}");
            if !SYNTAX_ERROR_CASES.contains(&name) {
                assert_eq!(e.description, go["description"].as_str().unwrap(), "{name}");
            }
        }
        (Ok(_), Some(go)) => panic!("{name}: decoded, Go said {go}"),
        (Err(e), None) => panic!("{name}: {e}, Go decoded it"),
    }
    got
}

/// Every captured request body that Go decoded (or refused as invalid JSON)
/// decodes (or fails with Go's text) here, with the handler's gatekeeping.
#[test]
fn requests_decode_like_go() {
    let mut checked = 0;
    for e in manifest() {
        let reply: Value = serde_json::from_slice(&capture(&e.name)).unwrap();
        let body = e.request.as_bytes();
        let s = e.subject.as_str();
        let error_code = reply["error"]["err_code"].as_u64();
        if s == "$JS.API.STREAM.NAMES" && is_json_object_or_array(body) {
            check_decode::<StreamNamesRequest>(&e.name, &e.request, &reply).ok();
        } else if s == "$JS.API.STREAM.LIST" && is_json_object_or_array(body) {
            check_decode::<StreamListRequest>(&e.name, &e.request, &reply).ok();
        } else if s.starts_with("$JS.API.STREAM.INFO.") && is_json_object_or_array(body) {
            check_decode::<StreamInfoRequest>(&e.name, &e.request, &reply).ok();
        } else if s.starts_with("$JS.API.STREAM.PURGE.") && is_json_object_or_array(body) {
            if let Ok(r) = check_decode::<StreamPurgeRequest>(&e.name, &e.request, &reply) {
                assert_eq!(
                    r.seq > 0 && r.keep > 0,
                    error_code == Some(10003),
                    "{}",
                    e.name
                );
            }
        } else if s.starts_with("$JS.API.STREAM.MSG.GET.") {
            if is_empty_request(body) {
                assert_eq!(error_code, Some(10003), "{}", e.name);
                continue;
            }
            if let Ok(r) = check_decode::<MsgGetRequest>(&e.name, &e.request, &reply) {
                let refused = r.batch > 0 || r.max_bytes > 0 || !r.options_valid();
                assert_eq!(refused, error_code == Some(10003), "{}", e.name);
                if let (Some(seq), true) = (reply["message"]["seq"].as_u64(), r.seq > 0) {
                    if r.next_by_subj.is_empty() {
                        assert_eq!(seq, r.seq, "{}", e.name);
                    }
                }
            }
        } else if s.starts_with("$JS.API.STREAM.MSG.DELETE.") {
            if is_empty_request(body) {
                assert_eq!(error_code, Some(10003), "{}", e.name);
                continue;
            }
            check_decode::<MsgDeleteRequest>(&e.name, &e.request, &reply).ok();
        } else if s.starts_with("$JS.API.STREAM.DELETE.") {
            assert_eq!(
                !is_empty_request(body),
                error_code == Some(10038),
                "{}",
                e.name
            );
        } else {
            continue;
        }
        checked += 1;
    }
    assert!(checked > 45, "only {checked}");
}

#[test]
fn request_values() {
    let r = MsgGetRequest::parse(br#"{"seq":1} {"seq":2}"#).unwrap();
    assert_eq!(r.seq, 2);
    let r = MsgGetRequest::parse(br#"{"SEQ":1,"Last_By_Subj":"a"} {"no_hdr":true}"#).unwrap();
    assert_eq!((r.seq, r.last_by_subj.as_str(), r.no_hdr), (1, "a", true));
    // A later null does not reset an earlier value (Go leaves the field alone).
    let r = MsgGetRequest::parse(br#"{"seq":5} {"seq":null}"#).unwrap();
    assert_eq!(r.seq, 5);
    // Exact name wins over a case-insensitive one; the last duplicate wins.
    let r = StreamNamesRequest::parse(br#"{"subject":"a","SUBJECT":"b","subject":"c"}"#).unwrap();
    assert_eq!(r.subject, "c");
    let r = MsgGetRequest::parse(
        br#"{"multi_last":["a",null],"batch":3,"max_bytes":10,"up_to_seq":4,
            "up_to_time":"2024-01-01T01:00:00+01:00","start_time":"2024-01-01T00:00:00,5Z"}"#,
    )
    .unwrap();
    assert_eq!(r.multi_last, vec!["a".to_string(), String::new()]);
    assert_eq!(r.up_to_time, GoTime::parse_rfc3339("2024-01-01T00:00:00Z"));
    assert_eq!(
        r.start_time,
        GoTime::parse_rfc3339("2024-01-01T00:00:00.5Z")
    );
    // Go's field order and omitempty when written back.
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"batch":3,"max_bytes":10,"start_time":"2024-01-01T00:00:00.5Z","multi_last":["a",""],"up_to_seq":4,"up_to_time":"2024-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        serde_json::to_string(&MsgDeleteRequest::default()).unwrap(),
        r#"{"seq":0}"#
    );
    assert_eq!(
        serde_json::to_string(&StreamInfoRequest::default()).unwrap(),
        r#"{"offset":0}"#
    );
    assert_eq!(
        serde_json::to_string(&StreamPurgeRequest::default()).unwrap(),
        "{}"
    );
    for empty in ["", "  \r\n", "null"] {
        assert_eq!(
            MsgGetRequest::parse(empty.as_bytes()).unwrap(),
            MsgGetRequest::default()
        );
    }
    assert_eq!(PagedRequest::parse(br#"{"offset":-3}"#).unwrap().offset, -3);
    assert_eq!(
        PagedRequest::parse(br#"{"offset":"1"}"#)
            .unwrap_err()
            .description,
        "invalid JSON: json: cannot unmarshal string into Go struct field \
         JSApiConsumersRequest.offset of type int"
    );
    assert_eq!(
        StreamInfoRequest::parse(b"7").unwrap_err().description,
        "invalid JSON: json: cannot unmarshal number into Go value of type \
         server.JSApiStreamInfoRequest"
    );
}

#[test]
fn body_gates() {
    for (body, object_or_array, empty) in [
        ("", false, true),
        ("{}", true, true),
        ("{ }", true, true),
        (" \n{}", true, true),
        (" ", false, false),
        ("null", false, false),
        ("[]", true, false),
        (" [1]", true, false),
        ("{\"a\":1}", true, false),
        ("garbage", false, false),
        ("\u{b}{}", false, false),
    ] {
        assert_eq!(
            is_json_object_or_array(body.as_bytes()),
            object_or_array,
            "{body:?}"
        );
        assert_eq!(is_empty_request(body.as_bytes()), empty, "{body:?}");
    }
}

#[test]
fn go_rfc3339_parsing() {
    let ok: &[(&str, &str)] = &[
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T5:06:07Z", "2024-01-01T05:06:07Z"),
        (
            "2024-01-01T00:00:00.123456789123Z",
            "2024-01-01T00:00:00.123456789Z",
        ),
        ("2024-01-01T00:00:00,25Z", "2024-01-01T00:00:00.25Z"),
        ("2024-01-02T00:00:00+24:00", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00-01:30", "2024-01-01T01:30:00Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
    ];
    for (input, want) in ok {
        assert_eq!(
            parse_go_rfc3339(input).map(|t| t.to_string()),
            Ok(want.to_string())
        );
    }
    let q = |s: &str| format!("parsing time \"{s}\" as \"2006-01-02T15:04:05Z07:00\"");
    let bad: &[(&str, String)] = &[
        ("2024-01-01T00:00:00z", format!("{}: cannot parse \"z\" as \"Z07:00\"", q("2024-01-01T00:00:00z"))),
        ("2024-1-01T00:00:00Z", format!("{}: cannot parse \"1-01T00:00:00Z\" as \"01\"", q("2024-1-01T00:00:00Z"))),
        ("2024-01-01T00:60:00Z", "parsing time \"2024-01-01T00:60:00Z\": minute out of range".into()),
        ("2024-01-01T00:00:60Z", "parsing time \"2024-01-01T00:00:60Z\": second out of range".into()),
        ("2024-01-01T00:00:00+01:61", "parsing time \"2024-01-01T00:00:00+01:61\": time zone offset minute out of range".into()),
        ("2024-01-01T00:00:00*01:00", format!("{}: cannot parse \"*01:00\" as \"Z07:00\"", q("2024-01-01T00:00:00*01:00"))),
        ("2023-02-29T00:00:00Z", "parsing time \"2023-02-29T00:00:00Z\": day out of range".into()),
        ("é", "parsing time \"\\xc3\\xa9\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\\xc3\\xa9\" as \"2006\"".into()),
    ];
    for (input, want) in bad {
        assert_eq!(parse_go_rfc3339(input).unwrap_err(), *want, "{input}");
    }
    // Never panics on odd input.
    for s in [
        "",
        "2",
        "2024-01-01T00:00:00+é:00",
        "2024-01-01T00:00:00+01é00",
        "-024-01-01T00:00:00Z",
        "+999-01-01T00:00:00Z",
        "2024-01-01T00:00:00.é",
    ] {
        let _ = parse_go_rfc3339(s);
    }
}

// ---- headers against the Go binary --------------------------------------------------------

/// Nats-Msg-Id dedupe as the Go server did it, explained by `headers::get`: a
/// publish was a duplicate exactly when `get` reads `m1` from its block.
#[test]
fn msg_id_lookup_matches_go_dedupe() {
    let mut checked = 0;
    for case in raw_cases() {
        if !case.name.starts_with("puback_msg_id_") || case.name == "puback_msg_id_first" {
            continue;
        }
        let hdr = case.hdr.as_deref().unwrap_or("").as_bytes();
        let duplicate = case.replies[0].data.contains("\"duplicate\"");
        assert_eq!(
            headers::get(hdr, headers::NATS_MSG_ID) == Some(&b"m1"[..]),
            duplicate,
            "{}",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 10);
}

/// Direct get and republish header blocks rebuilt with the builder,
/// `gen_header` and `append`, from what was stored and the values Go reported.
#[test]
fn direct_get_and_republish_blocks() {
    let stored = raw("puback_with_headers").hdr.unwrap();
    let value = |hdr: &str, key: &str| headers::get_str(hdr.as_bytes(), key).unwrap().to_string();

    let r = &raw("direct_get_no_hdrs").replies[0];
    let b = HeaderBuilder::new()
        .add(headers::NATS_STREAM, "T")
        .add(headers::NATS_SUBJECT, "t.1")
        .add_u64(headers::NATS_SEQUENCE, 1)
        .add(
            headers::NATS_TIME_STAMP,
            &value(&r.hdr, headers::NATS_TIME_STAMP),
        )
        .finish();
    assert_eq!(text(&b), r.hdr);
    assert_eq!(r.data, "one");

    let r = &raw("direct_get_with_hdrs").replies[0];
    let mut h = headers::gen_header(stored.as_bytes(), headers::NATS_STREAM, "T");
    h = headers::gen_header(&h, headers::NATS_SUBJECT, "t.1");
    h = headers::gen_header(&h, headers::NATS_SEQUENCE, "2");
    h = headers::gen_header(
        &h,
        headers::NATS_TIME_STAMP,
        &value(&r.hdr, headers::NATS_TIME_STAMP),
    );
    assert_eq!(text(&h), r.hdr);

    // Batch: each message gains Num-Pending and Last-Sequence; then the EOB.
    let batch = raw("direct_get_batch");
    assert_eq!(batch.replies.len(), 3);
    for r in &batch.replies[..2] {
        let key = |k: &str| value(&r.hdr, k);
        // Seq 1 was stored without headers (Go then uses its template, which
        // gen_header on an empty block reproduces), seq 2 with `stored`.
        let mut h = if key(headers::NATS_SEQUENCE) == "1" {
            Vec::new()
        } else {
            stored.as_bytes().to_vec()
        };
        for k in [
            headers::NATS_STREAM,
            headers::NATS_SUBJECT,
            headers::NATS_SEQUENCE,
            headers::NATS_TIME_STAMP,
            headers::NATS_NUM_PENDING,
            headers::NATS_LAST_SEQUENCE,
        ] {
            h = headers::gen_header(&h, k, &key(k));
        }
        assert_eq!(text(&h), r.hdr);
    }
    let eob = &batch.replies[2];
    let b = HeaderBuilder::new()
        .status(204, "EOB")
        .add(
            headers::NATS_NUM_PENDING,
            &value(&eob.hdr, headers::NATS_NUM_PENDING),
        )
        .add(
            headers::NATS_LAST_SEQUENCE,
            &value(&eob.hdr, headers::NATS_LAST_SEQUENCE),
        )
        .finish();
    assert_eq!(text(&b), eob.hdr);
    let multi = raw("direct_get_multi_last");
    let eobm = &multi.replies.last().unwrap().hdr;
    let b = HeaderBuilder::new()
        .status(204, "EOB")
        .add(
            headers::NATS_NUM_PENDING,
            &value(eobm, headers::NATS_NUM_PENDING),
        )
        .add(
            headers::NATS_LAST_SEQUENCE,
            &value(eobm, headers::NATS_LAST_SEQUENCE),
        )
        .add(
            headers::NATS_UP_TO_SEQUENCE,
            &value(eobm, headers::NATS_UP_TO_SEQUENCE),
        )
        .finish();
    assert_eq!(text(&b), *eobm);

    for (case, code, description) in [
        ("direct_get_not_found", 404, "Message Not Found"),
        ("direct_get_empty", 408, "Empty Request"),
    ] {
        let r = &raw(case).replies[0];
        assert_eq!(
            text(&HeaderBuilder::new().status(code, description).finish()),
            r.hdr
        );
        let st = headers::status(r.hdr.as_bytes()).unwrap().unwrap();
        assert_eq!((st.code, st.description), (code, description.as_bytes()));
    }
    assert_eq!(raw("direct_get_no_hdr_flag").replies[0].hdr, "");

    // Republish: appended to the stored block (or a fresh one).
    for case in ["republish_no_hdrs", "republish_with_hdrs"] {
        let c = raw(case);
        let r = &c.replies[0];
        let key = |k: &str| value(&r.hdr, k);
        let hs = [
            (headers::NATS_STREAM, key(headers::NATS_STREAM)),
            (headers::NATS_SUBJECT, key(headers::NATS_SUBJECT)),
            (headers::NATS_SEQUENCE, key(headers::NATS_SEQUENCE)),
            (headers::NATS_TIME_STAMP, key(headers::NATS_TIME_STAMP)),
            (
                headers::NATS_LAST_SEQUENCE,
                key(headers::NATS_LAST_SEQUENCE),
            ),
        ];
        let pairs: Vec<(&str, &str)> = hs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let block = headers::append(c.hdr.as_deref().unwrap_or("").as_bytes(), &pairs);
        assert_eq!(text(&block), r.hdr, "{case}");
        assert_eq!(key(headers::NATS_SUBJECT), "rp.in.a");
    }
}

/// Calls `f` with `rounds` mutations of the seeds, reproducible from `state`: up
/// to five bytes inserted, removed or replaced, JSON-ish bytes two rounds in three
/// and any byte in the third. The decoder "never panics" tests feed them.
pub(crate) fn for_each_mutation(
    seeds: &[&[u8]],
    mut state: u64,
    rounds: u32,
    mut f: impl FnMut(&[u8]),
) {
    const ALPHABET: &[u8] = b"{}[]\":,0123456789-+.eE \\tnulrsqTZ";
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..rounds {
        let mut b = seeds[(next() % seeds.len() as u64) as usize].to_vec();
        for _ in 0..(next() % 6) {
            let at = (next() % (b.len() as u64 + 1)) as usize;
            let c = if round % 3 == 0 {
                next() as u8
            } else {
                ALPHABET[(next() % ALPHABET.len() as u64) as usize]
            };
            match next() % 3 {
                0 => b.insert(at, c),
                1 if at < b.len() => {
                    b.remove(at);
                }
                _ if at < b.len() => b[at] = c,
                _ => b.push(c),
            }
        }
        f(&b);
    }
}

/// Random bytes and mutated requests through every decoder: errors are fine,
/// panics are not.
#[test]
fn decoders_never_panic() {
    let seeds: [&[u8]; 5] = [
        br#"{"seq":1,"last_by_subj":"a","multi_last":["x",null],"start_time":"2024-01-01T00:00:00Z"}"#,
        br#"{"offset":3,"subject":"t.>"} {"offset":1}"#,
        br#"{"deleted_details":true,"subjects_filter":">","offset":-1}"#,
        br#"{"seq":2,"filter":"a","keep":1}"#,
        br#"[{"seq":1e3,"no_erase":tru"#,
    ];
    for_each_mutation(&seeds, 0x9e37_79b9_7f4a_7c15, 20_000, |b| {
        let _ = MsgGetRequest::parse(b);
        let _ = MsgDeleteRequest::parse(b);
        let _ = StreamNamesRequest::parse(b);
        let _ = StreamListRequest::parse(b);
        let _ = StreamInfoRequest::parse(b);
        let _ = StreamPurgeRequest::parse(b);
        let _ = PagedRequest::parse(b);
        let _ = is_empty_request(b);
        let _ = is_json_object_or_array(b);
        let _ = base64_decode(b);
        let _ = parse_go_rfc3339(&String::from_utf8_lossy(b));
        let _ = serde_json::from_slice::<PubAckResponse>(b);
        let _ = serde_json::from_slice::<StreamInfoResponse>(b);
    });
}
