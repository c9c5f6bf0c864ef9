//! Tests for `stream_config.rs`. The `go_*` tests replay what the Go server
//! (2.15.1) answered to real create requests, captured by
//! `tests/clients/capture_stream_defaults.py` into `testdata/`.

use super::*;
use crate::jetstream::stream_info::{StreamCreateResponse, STREAM_CREATE_RESPONSE_TYPE};

const GO_MINIMAL: &str = include_str!("testdata/go_stream_create_response.json");
const GO_CASES: &str = include_str!("testdata/go_stream_create_cases.json");
const GO_VERSION: &str = "2.15.1";

/// A change made to a config in a table-driven test.
type Tweak = fn(&mut StreamConfig);

fn go_cases() -> Vec<(String, String, serde_json::Value)> {
    let cases: Vec<serde_json::Value> = serde_json::from_str(GO_CASES).unwrap();
    cases
        .into_iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["request"].as_str().unwrap().to_string(),
                c["response"].clone(),
            )
        })
        .collect()
}

/// The stream name the capture script put in the request subject.
fn subject_name(case: &str, request: &str) -> String {
    match case {
        "err_name_mismatch" => "OTHER".to_string(),
        "err_empty_body" => "EB".to_string(),
        "case_insensitive_keys" => "CI".to_string(),
        _ => {
            let v: serde_json::Value = serde_json::from_str(request).unwrap_or_default();
            match v.get("name").and_then(|n| n.as_str()) {
                Some(n) => n.to_string(),
                None => "IJ".to_string(), // the truncated-JSON case
            }
        }
    }
}

/// What jetcore answers to the same request, as a create response would carry it.
fn our_answer(case: &str, request: &str) -> Result<StreamConfig, ApiError> {
    let req = parse_create_request(request.as_bytes())?;
    let cfg = check_create(
        &subject_name(case, request),
        &req,
        false,
        &CheckLimits::default(),
    )?;
    Ok(cfg.with_dynamic_metadata(GO_VERSION))
}

#[test]
fn go_cases_match_field_by_field() {
    let cases = go_cases();
    assert!(cases.len() >= 40, "capture has {} cases", cases.len());
    for (case, request, response) in cases {
        // Every captured response must decode into our response type.
        let decoded: StreamCreateResponse = serde_json::from_value(response.clone())
            .unwrap_or_else(|e| panic!("{case}: cannot decode Go response: {e}"));
        assert_eq!(decoded.kind, STREAM_CREATE_RESPONSE_TYPE);
        match (our_answer(&case, &request), response.get("error")) {
            (Err(ours), Some(go_err)) => {
                let go_err: ApiError = serde_json::from_value(go_err.clone()).unwrap();
                assert_eq!(ours, go_err, "{case}");
                assert_eq!(decoded.error.as_ref(), Some(&go_err), "{case}");
            }
            (Ok(ours), None) => {
                let go_cfg = response["config"].as_object().unwrap();
                let our_cfg = serde_json::to_value(&ours).unwrap();
                let our_cfg = our_cfg.as_object().unwrap();
                for (key, go_val) in go_cfg {
                    assert_eq!(our_cfg.get(key), Some(go_val), "{case}: field {key}");
                }
                for key in our_cfg.keys() {
                    assert!(go_cfg.contains_key(key), "{case}: extra field {key}");
                }
                // And Go's config decodes back to exactly what we computed.
                let info = decoded.info.as_ref().unwrap();
                assert_eq!(info.config, ours, "{case}");
                assert!(decoded.did_create, "{case}");
            }
            (ours, go) => panic!("{case}: jetcore {ours:?}, Go {go:?}"),
        }
    }
}

#[test]
fn go_minimal_response_key_order() {
    // Our serialization writes the config keys in the order Go wrote them.
    let resp: StreamCreateResponse = serde_json::from_str(GO_MINIMAL).unwrap();
    let info = resp.info.unwrap();
    let ours = StreamConfig {
        name: "ORDERS".into(),
        ..Default::default()
    };
    let ours = check_create(
        "ORDERS",
        &StreamConfigRequest {
            config: ours,
            pedantic: false,
        },
        false,
        &CheckLimits::default(),
    )
    .unwrap()
    .with_dynamic_metadata(GO_VERSION);
    assert_eq!(info.config, ours);
    let text = serde_json::to_string(&ours).unwrap();
    let keys: Vec<&str> = text
        .split('"')
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[1].starts_with(':'))
        .map(|w| w[0])
        .filter(|k| !k.starts_with("_nats"))
        .collect();
    let mut last = 0;
    for key in keys {
        let at = GO_MINIMAL
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} not in Go output"));
        assert!(at > last, "{key} out of Go's order");
        last = at;
    }
    // created / ts / state decode as RFC 3339 nano and the zero time.
    assert!(!info.created.is_zero());
    assert!(info.ts >= info.created);
    assert!(info.state.first_ts.is_zero());
    assert_eq!(
        serde_json::to_value(&info.state).unwrap(),
        serde_json::from_str::<serde_json::Value>(GO_MINIMAL).unwrap()["state"]
    );
}

fn cfg(name: &str) -> StreamConfig {
    StreamConfig {
        name: name.to_string(),
        ..Default::default()
    }
}

#[test]
fn defaults_applied_on_check() {
    let c = cfg("S").validate().unwrap();
    assert_eq!(c.subjects, vec!["S".to_string()]);
    assert_eq!(c.retention, RetentionPolicy::Limits);
    assert_eq!(
        (
            c.max_consumers,
            c.max_msgs,
            c.max_bytes,
            c.max_msgs_per_subject,
            c.max_msg_size
        ),
        (-1, -1, -1, -1, -1)
    );
    assert_eq!(c.max_age, 0);
    assert_eq!(c.discard, DiscardPolicy::Old);
    assert_eq!(c.storage, StorageType::File);
    assert_eq!(c.num_replicas, 1);
    assert_eq!(c.duplicate_window, DEFAULT_DUPLICATE_WINDOW);
    assert_eq!(c.compression, StoreCompression::None);
    assert!(c.metadata.is_empty(), "validate() alone adds no metadata");

    // (input tweak, expected tweak) pairs.
    let table: &[(&str, Tweak, Tweak)] = &[
        (
            "max_age below 2m clamps the window",
            |c| c.max_age = SECOND,
            |c| {
                c.max_age = SECOND;
                c.duplicate_window = SECOND
            },
        ),
        (
            "explicit window kept",
            |c| c.duplicate_window = 5 * SECOND,
            |c| c.duplicate_window = 5 * SECOND,
        ),
        (
            "limits below -1 become -1",
            |c| {
                c.max_msgs = -7;
                c.max_bytes = -2;
                c.max_msg_size = -100;
            },
            |_| {},
        ),
        (
            "mirror gets no window and no subjects",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                })
            },
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.duplicate_window = 0;
                c.subjects.clear();
            },
        ),
        (
            "marker TTL turns on TTLs and rollups",
            |c| {
                c.subject_delete_marker_ttl = 5 * SECOND;
                c.deny_purge = false;
            },
            |c| {
                c.subject_delete_marker_ttl = 5 * SECOND;
                c.allow_msg_ttl = true;
                c.allow_rollup_hdrs = true;
            },
        ),
        (
            "schedules turn on rollups",
            |c| c.allow_msg_schedules = true,
            |c| {
                c.allow_msg_schedules = true;
                c.allow_rollup_hdrs = true;
            },
        ),
        (
            "empty placement dropped",
            |c| c.placement = Some(Placement::default()),
            |_| {},
        ),
        (
            "empty republish source is all",
            |c| {
                c.republish = Some(RePublish {
                    dest: "out.>".into(),
                    ..Default::default()
                })
            },
            |c| {
                c.republish = Some(RePublish {
                    src: ">".into(),
                    dest: "out.>".into(),
                    headers_only: false,
                })
            },
        ),
    ];
    let base = cfg("S").validate().unwrap();
    for (what, input, expect) in table {
        let mut c = cfg("S");
        input(&mut c);
        let mut want = base.clone();
        expect(&mut want);
        assert_eq!(c.validate().unwrap(), want, "{what}");
    }

    // A server duplicate-window limit lowers the default.
    let lim = CheckLimits {
        max_duplicate_window: 30 * SECOND,
    };
    assert_eq!(
        cfg("S").check(false, &lim).unwrap().duplicate_window,
        30 * SECOND
    );
}

#[test]
fn validation_errors() {
    let table: &[(&str, Tweak, u16, u16, &str)] = &[
        (
            "empty name",
            |c| c.name.clear(),
            500,
            10052,
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ),
        (
            "dot in name",
            |c| c.name = "a.b".into(),
            500,
            10052,
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ),
        (
            "space in name",
            |c| c.name = "a b".into(),
            500,
            10052,
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        ),
        (
            "name too long",
            |c| c.name = "x".repeat(256),
            500,
            10052,
            "stream name is too long, maximum allowed is 255",
        ),
        (
            "description too long",
            |c| c.description = "x".repeat(4097),
            500,
            10052,
            "stream description is too long, maximum allowed is 4096",
        ),
        (
            "metadata too big",
            |c| {
                c.metadata.insert("k".into(), "v".repeat(128 * 1024));
            },
            500,
            10052,
            "stream metadata exceeds maximum size of 131072 bytes",
        ),
        (
            "replicas 6",
            |c| c.num_replicas = 6,
            500,
            10052,
            "maximum replicas is 5",
        ),
        (
            "replicas -1",
            |c| c.num_replicas = -1,
            400,
            10133,
            "replicas count cannot be negative",
        ),
        (
            "max_age negative",
            |c| c.max_age = -1,
            500,
            10052,
            "max age can not be negative",
        ),
        (
            "max_age 99ms",
            |c| c.max_age = MS_100 - 1,
            500,
            10052,
            "max age needs to be >= 100ms",
        ),
        (
            "window negative",
            |c| c.duplicate_window = -1,
            500,
            10052,
            "duplicates window can not be negative",
        ),
        (
            "window > max_age",
            |c| {
                c.max_age = SECOND;
                c.duplicate_window = 2 * SECOND;
            },
            500,
            10052,
            "duplicates window can not be larger then max age",
        ),
        (
            "window 1us",
            |c| c.duplicate_window = 1000,
            500,
            10052,
            "duplicates window needs to be >= 100ms",
        ),
        (
            "rollup without purge",
            |c| {
                c.allow_rollup_hdrs = true;
                c.deny_purge = true;
            },
            500,
            10052,
            "roll-ups require the purge permission",
        ),
        (
            "counter discard new",
            |c| {
                c.allow_msg_counter = true;
                c.discard = DiscardPolicy::New;
            },
            500,
            10052,
            "counter stream cannot use discard new",
        ),
        (
            "counter ttl",
            |c| {
                c.allow_msg_counter = true;
                c.allow_msg_ttl = true;
            },
            500,
            10052,
            "counter stream cannot use message TTLs",
        ),
        (
            "counter schedules",
            |c| {
                c.allow_msg_counter = true;
                c.allow_msg_schedules = true;
            },
            500,
            10052,
            "counter stream cannot use message schedules",
        ),
        (
            "counter interest",
            |c| {
                c.allow_msg_counter = true;
                c.retention = RetentionPolicy::Interest;
            },
            500,
            10052,
            "counter stream can only use limits retention",
        ),
        (
            "discard new per without new",
            |c| {
                c.discard_new_per_subject = true;
                c.max_msgs_per_subject = 1;
            },
            500,
            10052,
            "discard new per subject requires discard new policy to be set",
        ),
        (
            "discard new per without limit",
            |c| {
                c.discard_new_per_subject = true;
                c.discard = DiscardPolicy::New;
            },
            500,
            10052,
            "discard new per subject requires max msgs per subject > 0",
        ),
        (
            "marker ttl 500ms",
            |c| c.subject_delete_marker_ttl = SECOND / 2,
            500,
            10052,
            "subject delete marker TTL must be at least 1 second",
        ),
        (
            "marker ttl negative",
            |c| c.subject_delete_marker_ttl = -1,
            500,
            10052,
            "subject delete marker TTL must not be negative",
        ),
        (
            "schedules discard new",
            |c| {
                c.allow_msg_schedules = true;
                c.discard = DiscardPolicy::New;
            },
            500,
            10052,
            "message scheduling cannot use discard new",
        ),
        (
            "async memory",
            |c| {
                c.persist_mode = PersistMode::Async;
                c.storage = StorageType::Memory;
            },
            500,
            10052,
            "async persist mode is only supported on file storage",
        ),
        (
            "async replicated",
            |c| {
                c.persist_mode = PersistMode::Async;
                c.num_replicas = 3;
            },
            500,
            10052,
            "async persist mode is not supported on replicated streams",
        ),
        (
            "async atomic",
            |c| {
                c.persist_mode = PersistMode::Async;
                c.allow_atomic = true;
            },
            500,
            10052,
            "async persist mode is not supported with atomic batch publish",
        ),
        (
            "mirror first_seq",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.first_seq = 5;
            },
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        ),
        (
            "mirror subjects",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.subjects = vec!["x".into()];
            },
            400,
            10034,
            "stream mirrors can not contain subjects",
        ),
        (
            "mirror sources",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    ..Default::default()
                }];
            },
            400,
            10031,
            "stream mirrors can not also contain other sources",
        ),
        (
            "mirror counters",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.allow_msg_counter = true;
            },
            400,
            10173,
            "stream mirrors can not also calculate counters",
        ),
        (
            "mirror atomic",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.allow_atomic = true;
            },
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        ),
        (
            "mirror batched",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.allow_batched = true;
            },
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        ),
        (
            "mirror consumer bad deliver",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    consumer: Some(StreamConsumerSource {
                        name: "C".into(),
                        deliver_subject: "d.*".into(),
                    }),
                    ..Default::default()
                });
            },
            400,
            10213,
            "stream mirror consumer config is invalid",
        ),
        (
            "mirror filter and transforms",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    filter_subject: "a".into(),
                    subject_transforms: vec![SubjectTransformConfig {
                        src: "b".into(),
                        dest: "c".into(),
                    }],
                    ..Default::default()
                });
            },
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        ),
        (
            "mirror marker ttl",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    ..Default::default()
                });
                c.subject_delete_marker_ttl = 5 * SECOND;
            },
            500,
            10052,
            "subject delete markers forbidden on mirrors",
        ),
        (
            "mirror bad transform source",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    subject_transforms: vec![SubjectTransformConfig {
                        src: "a..b".into(),
                        dest: "c".into(),
                    }],
                    ..Default::default()
                });
            },
            400,
            10151,
            "mirror transform source: invalid subject a..b",
        ),
        (
            "mirror overlapping transforms",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "O".into(),
                    subject_transforms: vec![
                        SubjectTransformConfig {
                            src: "a.*".into(),
                            dest: "".into(),
                        },
                        SubjectTransformConfig {
                            src: "a.b".into(),
                            dest: "".into(),
                        },
                    ],
                    ..Default::default()
                });
            },
            400,
            10152,
            "mirror subject filters can not overlap",
        ),
        (
            "mirror bad name",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "a.b".into(),
                    ..Default::default()
                });
            },
            400,
            10142,
            "mirrored stream name is invalid",
        ),
        (
            "mirror of itself",
            |c| {
                c.mirror = Some(StreamSource {
                    name: "S".into(),
                    ..Default::default()
                });
            },
            500,
            10052,
            "detected cycle",
        ),
        (
            "source schedules",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    ..Default::default()
                }];
                c.allow_msg_schedules = true;
            },
            400,
            10187,
            "stream source can not also schedule messages",
        ),
        (
            "source bad name",
            |c| {
                c.sources = vec![StreamSource {
                    name: "".into(),
                    ..Default::default()
                }];
            },
            400,
            10141,
            "sourced stream name is invalid",
        ),
        (
            "source duplicate",
            |c| {
                c.sources = vec![
                    StreamSource {
                        name: "P".into(),
                        ..Default::default()
                    },
                    StreamSource {
                        name: "P".into(),
                        filter_subject: ">".into(),
                        ..Default::default()
                    },
                ];
            },
            400,
            10140,
            "duplicate source configuration detected",
        ),
        (
            "source filter and transforms",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    filter_subject: "a".into(),
                    subject_transforms: vec![SubjectTransformConfig {
                        src: "b".into(),
                        dest: "c".into(),
                    }],
                    ..Default::default()
                }];
            },
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        ),
        (
            "source bad transform source",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    subject_transforms: vec![SubjectTransformConfig {
                        src: "a b".into(),
                        dest: "c".into(),
                    }],
                    ..Default::default()
                }];
            },
            400,
            10145,
            "source transform source: invalid subject a b",
        ),
        (
            "source overlapping transforms",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    subject_transforms: vec![
                        SubjectTransformConfig {
                            src: "a.b".into(),
                            dest: "".into(),
                        },
                        SubjectTransformConfig {
                            src: "a.*".into(),
                            dest: "".into(),
                        },
                    ],
                    ..Default::default()
                }];
            },
            400,
            10147,
            "source filters can not overlap",
        ),
        (
            "source consumer with start seq",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    opt_start_seq: 3,
                    consumer: Some(StreamConsumerSource {
                        name: "C".into(),
                        deliver_subject: "d".into(),
                    }),
                    ..Default::default()
                }];
            },
            400,
            10215,
            "stream source consumer config is invalid",
        ),
        (
            "source consumer reused",
            |c| {
                let consumer = Some(StreamConsumerSource {
                    name: "C".into(),
                    deliver_subject: "d".into(),
                });
                c.sources = vec![
                    StreamSource {
                        name: "P".into(),
                        subject_transforms: vec![SubjectTransformConfig {
                            src: "a".into(),
                            dest: "".into(),
                        }],
                        consumer: consumer.clone(),
                        ..Default::default()
                    },
                    StreamSource {
                        name: "P".into(),
                        subject_transforms: vec![SubjectTransformConfig {
                            src: "b".into(),
                            dest: "".into(),
                        }],
                        consumer,
                        ..Default::default()
                    },
                ];
            },
            400,
            10216,
            "duplicate stream source consumer detected",
        ),
        (
            "external deliver wildcard",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    external: Some(ExternalStream {
                        api_prefix: "".into(),
                        deliver_prefix: "d.*".into(),
                    }),
                    ..Default::default()
                }];
            },
            400,
            10024,
            "stream external delivery prefix d.* must not contain wildcards",
        ),
        (
            "external api wildcard",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    external: Some(ExternalStream {
                        api_prefix: "x.>".into(),
                        deliver_prefix: "".into(),
                    }),
                    ..Default::default()
                }];
            },
            500,
            10052,
            "stream external api prefix \"x.>\" must be a valid subject without wildcards",
        ),
        (
            "external api overlaps",
            |c| {
                c.sources = vec![StreamSource {
                    name: "P".into(),
                    external: Some(ExternalStream {
                        api_prefix: "$JS.API".into(),
                        deliver_prefix: "".into(),
                    }),
                    ..Default::default()
                }];
            },
            400,
            10021,
            "stream external api prefix $JS.API must not overlap with $JS.API",
        ),
        (
            "source of itself",
            |c| {
                c.sources = vec![StreamSource {
                    name: "S".into(),
                    ..Default::default()
                }];
            },
            500,
            10052,
            "detected cycle",
        ),
        (
            "bad subject",
            |c| c.subjects = vec!["a..b".into()],
            500,
            10052,
            "invalid subject",
        ),
        (
            "empty subject",
            |c| c.subjects = vec!["".into()],
            500,
            10052,
            "invalid subject",
        ),
        (
            "same subject twice",
            |c| c.subjects = vec!["a".into(), "a".into()],
            500,
            10052,
            "subject \"a\" overlaps with \"a\"",
        ),
        (
            "overlapping subjects",
            |c| c.subjects = vec!["foo.*".into(), "foo.bar".into()],
            500,
            10052,
            "subject \"foo.*\" overlaps with \"foo.bar\"",
        ),
        (
            "capture all",
            |c| c.subjects = vec![">".into()],
            500,
            10052,
            "capturing all subjects requires no-ack to be true",
        ),
        (
            "capture all R3",
            |c| {
                c.subjects = vec![">".into()];
                c.no_ack = true;
                c.num_replicas = 3;
            },
            500,
            10052,
            "capturing all subjects requires replicas of 1",
        ),
        (
            "js api",
            |c| c.subjects = vec!["$JS.API.>".into()],
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "nrg",
            |c| c.subjects = vec!["$NRG.x".into()],
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            "sys",
            |c| c.subjects = vec!["$SYS.REQ.x".into()],
            500,
            10052,
            "subjects that overlap with system api require no-ack to be true",
        ),
        (
            "transform bad source",
            |c| {
                c.subject_transform = Some(SubjectTransformConfig {
                    src: "a..".into(),
                    dest: "b".into(),
                })
            },
            400,
            10155,
            "stream transform source: invalid subject a..",
        ),
        (
            "republish cycle",
            |c| {
                c.subjects = vec!["in.>".into()];
                c.republish = Some(RePublish {
                    src: ">".into(),
                    dest: "in.x".into(),
                    headers_only: false,
                });
            },
            500,
            10052,
            "stream configuration for republish destination forms a cycle",
        ),
        (
            "preferred placement",
            |c| {
                c.placement = Some(Placement {
                    preferred: "s1".into(),
                    ..Default::default()
                })
            },
            500,
            10052,
            "preferred server not permitted in placement",
        ),
    ];
    for (what, tweak, code, err_code, description) in table {
        let mut c = cfg("S");
        tweak(&mut c);
        let err = c.validate().expect_err(what);
        assert_eq!(
            (err.code, err.err_code, err.description.as_str()),
            (*code, *err_code, *description),
            "{what}"
        );
    }
}

#[test]
fn allowed_subjects_with_exceptions() {
    for (subjects, no_ack) in [
        (vec!["$JS.EVENT.ADVISORY.>"], false),
        (vec!["$SYS.ACCOUNT.x.CONNECT"], false),
        (vec!["$JS.API.>"], true),
        (vec![">"], true),
        (vec!["a.*", "b.>", "c"], false),
    ] {
        let mut c = cfg("S");
        c.subjects = subjects.iter().map(|s| s.to_string()).collect();
        c.no_ack = no_ack;
        assert!(c.validate().is_ok(), "{subjects:?}");
    }
}

#[test]
fn pedantic_mode() {
    let lim = CheckLimits::default();
    let table: &[(Tweak, &str)] = &[
        (
            |c| c.max_msgs = -2,
            "pedantic mode: max_msgs must be set to -1",
        ),
        (
            |c| c.max_bytes = -2,
            "pedantic mode: max_bytes must be set to -1",
        ),
        (
            |c| c.max_msgs_per_subject = -2,
            "pedantic mode: max_msgs_per_subject must be set to -1",
        ),
        (
            |c| c.max_msg_size = -2,
            "pedantic mode: max_msg_size must be set to -1",
        ),
        (
            |c| c.max_consumers = -2,
            "pedantic mode: max_consumers must be set to -1",
        ),
        (
            |c| c.max_age = SECOND,
            "pedantic mode: duplicate window cannot be bigger than max age",
        ),
        (
            |c| {
                // `>` (the implied source) needs a destination with `>` too.
                c.republish = Some(RePublish {
                    dest: "o.>".into(),
                    ..Default::default()
                })
            },
            "pedantic mode: republish source can not be empty",
        ),
    ];
    for (tweak, text) in table {
        let mut c = cfg("S");
        tweak(&mut c);
        assert!(c.validate().is_ok(), "{text} is fine without pedantic");
        let err = c.check(true, &lim).unwrap_err();
        assert_eq!(
            (err.code, err.err_code, err.description.as_str()),
            (400, 10157, *text)
        );
    }
    // Marker-TTL conflicts in pedantic mode are 10052, not 10157 (as in Go).
    let mut c = cfg("S");
    c.subject_delete_marker_ttl = 5 * SECOND;
    let err = c.check(true, &lim).unwrap_err();
    assert_eq!(
        (err.err_code, err.description.as_str()),
        (
            10052,
            "subject delete marker cannot be set if message TTLs are disabled"
        )
    );
    let lim = CheckLimits {
        max_duplicate_window: SECOND,
    };
    assert_eq!(
        cfg("S").check(true, &lim).unwrap_err().description,
        "pedantic mode: duplicate window limits are higher than current limits"
    );
    let mut c = cfg("S");
    c.duplicate_window = 2 * SECOND;
    assert_eq!(
        c.check(false, &lim).unwrap_err().description,
        "duplicates window can not be larger then server limit of 1s"
    );
}

#[test]
fn create_request_checks() {
    let lim = CheckLimits::default();
    let req = |body: &str| parse_create_request(body.as_bytes()).unwrap();
    let table: &[(&str, &str, bool, u16, u16, &str)] = &[
        (
            "S",
            r#"{"name":"T"}"#,
            false,
            400,
            10056,
            "stream name in subject does not match request",
        ),
        (
            "a/b",
            r#"{"name":"a/b"}"#,
            false,
            400,
            10128,
            "Stream name can not contain path separators",
        ),
        (
            "S",
            r#"{"name":"S","sealed":true}"#,
            false,
            500,
            10052,
            "stream configuration for create can not be sealed",
        ),
        (
            "S",
            r#"{"name":"S","mirror_direct":true}"#,
            false,
            500,
            10052,
            "stream has no mirror but does have mirror direct",
        ),
        (
            "S",
            r#"{"name":"S","num_replicas":3}"#,
            false,
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        ),
    ];
    for (subject, body, clustered, code, err_code, description) in table {
        let err = check_create(subject, &req(body), *clustered, &lim).unwrap_err();
        assert_eq!(
            (err.code, err.err_code, err.description.as_str()),
            (*code, *err_code, *description),
            "{body}"
        );
    }
    let ok = check_create("S", &req(r#"{"name":"S","num_replicas":3}"#), true, &lim).unwrap();
    assert_eq!(ok.num_replicas, 3);
    assert_eq!(
        ok.metadata.get(META_REQUIRED_LEVEL).map(String::as_str),
        Some("0")
    );
}

#[test]
fn request_decoding_like_go() {
    // (body, Ok(check) or Err(description))
    let ok = |body: &str| parse_create_request(body.as_bytes()).unwrap();
    let err = |body: &str| parse_create_request(body.as_bytes()).unwrap_err();

    assert_eq!(ok(""), StreamConfigRequest::default());
    assert_eq!(ok(" \n"), StreamConfigRequest::default());
    let r = ok(r#"{"NAME":"X","Max_Msgs":7,"pedantic":true}"#);
    assert_eq!(
        (r.config.name.as_str(), r.config.max_msgs, r.pedantic),
        ("X", 7, true)
    );
    let r = ok(r#"{"name":"X","name":"Y"}"#);
    assert_eq!(r.config.name, "Y", "last duplicate key wins");
    let r = ok(
        r#"{"name":"X","max_msgs":null,"subjects":null,"placement":null,"mirror":{"NAME":"m","External":{"API":"a","deliver":"d"}}}"#,
    );
    assert_eq!(r.config.max_msgs, 0);
    let m = r.config.mirror.unwrap();
    assert_eq!(
        (m.name.as_str(), m.external.unwrap().api_prefix.as_str()),
        ("m", "a")
    );
    assert_eq!(
        ok(r#"{"discard":"NEW"}"#).config.discard,
        DiscardPolicy::New
    );
    assert_eq!(
        ok(r#"{"persist_mode":"async"}"#).config.persist_mode,
        PersistMode::Async
    );

    let table: &[(&str, u16, &str)] = &[
        (r#"{"name":"X","foo":1}"#, 10025, "invalid JSON: json: unknown field \"foo\""),
        (r#"{"placement":{"zone":"a"}}"#, 10025, "invalid JSON: json: unknown field \"zone\""),
        (r#"{"sources":[{"name":"a","x":1}]}"#, 10025, "invalid JSON: json: unknown field \"x\""),
        (r#"{"name":"IJ","#, 10025, "invalid JSON: unexpected EOF"),
        (r#"{"retention":"forever"}"#, 10025, r#"invalid JSON: can not unmarshal "\"forever\"""#),
        (r#"{"retention":null}"#, 10025, r#"invalid JSON: can not unmarshal "null""#),
        (r#"{"storage":"disk"}"#, 10025, r#"invalid JSON: can not unmarshal "\"disk\"""#),
        (r#"{"discard":5}"#, 10025, r#"invalid JSON: can not unmarshal "5""#),
        (r#"{"compression":"gzip"}"#, 10025, "invalid JSON: unknown compression algorithm"),
        (r#"{"max_msg_size":3000000000}"#, 10025,
         "invalid JSON: json: cannot unmarshal number 3000000000 into Go struct field StreamConfigRequest.max_msg_size of type int32"),
        (r#"{"max_msgs":"5"}"#, 10025,
         "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64"),
        (r#"{"mirror":{"opt_start_seq":-1}}"#, 10025,
         "invalid JSON: json: cannot unmarshal number -1 into Go struct field StreamConfigRequest.mirror.opt_start_seq of type uint64"),
        (r#"{"sealed":1}"#, 10025,
         "invalid JSON: json: cannot unmarshal number 1 into Go struct field StreamConfigRequest.sealed of type bool"),
        (r#"[1]"#, 10025,
         "invalid JSON: json: cannot unmarshal array into Go value of type server.StreamConfigRequest"),
    ];
    for (body, err_code, description) in table {
        let e = err(body);
        assert_eq!(
            (e.code, e.err_code, e.description.as_str()),
            (400, *err_code, *description),
            "{body}"
        );
    }
}

fn full_config() -> StreamConfig {
    StreamConfig {
        name: "FULL".into(),
        description: "all fields".into(),
        subjects: vec!["a.>".into(), "b".into()],
        retention: RetentionPolicy::WorkQueue,
        max_consumers: 10,
        max_msgs: 100,
        max_bytes: 1 << 20,
        max_age: 3_600 * SECOND,
        max_msgs_per_subject: 5,
        max_msg_size: 1024,
        discard: DiscardPolicy::New,
        storage: StorageType::Memory,
        num_replicas: 3,
        no_ack: true,
        duplicate_window: 60 * SECOND,
        placement: Some(Placement {
            cluster: "c1".into(),
            tags: vec!["t1".into()],
            preferred: "".into(),
        }),
        mirror: None,
        sources: vec![StreamSource {
            name: "SRC".into(),
            opt_start_seq: 0,
            opt_start_time: Some(GoTime::from_unix_nanos(1_700_000_000_000_000_000)),
            filter_subject: "".into(),
            subject_transforms: vec![SubjectTransformConfig {
                src: "x.*".into(),
                dest: "y.{{wildcard(1)}}".into(),
            }],
            external: Some(ExternalStream {
                api_prefix: "$JS.hub.API".into(),
                deliver_prefix: "deliver.hub".into(),
            }),
            consumer: None,
        }],
        compression: StoreCompression::S2,
        first_seq: 42,
        subject_transform: Some(SubjectTransformConfig {
            src: "a.>".into(),
            dest: "z.>".into(),
        }),
        republish: Some(RePublish {
            src: "b".into(),
            dest: "rp.b".into(),
            headers_only: true,
        }),
        allow_direct: true,
        mirror_direct: false,
        discard_new_per_subject: true,
        sealed: false,
        deny_delete: true,
        deny_purge: false,
        allow_rollup_hdrs: true,
        consumer_limits: StreamConsumerLimits {
            inactive_threshold: 30 * SECOND,
            max_ack_pending: 1000,
        },
        allow_msg_ttl: true,
        subject_delete_marker_ttl: 10 * SECOND,
        allow_msg_counter: false,
        allow_atomic: true,
        allow_msg_schedules: false,
        persist_mode: PersistMode::Default,
        allow_batched: true,
        metadata: [("owner".to_string(), "team".to_string())].into(),
    }
}

#[test]
fn round_trips() {
    let table = vec![
        ("zero", StreamConfig::default()),
        ("defaults", cfg("D").validate().unwrap()),
        ("full", full_config()),
        ("mirror", {
            let mut c = cfg("M");
            c.mirror = Some(StreamSource {
                name: "O".into(),
                opt_start_seq: 9,
                filter_subject: "f.>".into(),
                consumer: Some(StreamConsumerSource {
                    name: "dur".into(),
                    deliver_subject: "dl".into(),
                }),
                ..Default::default()
            });
            c.mirror_direct = true;
            c.persist_mode = PersistMode::Async;
            c.allow_msg_counter = true;
            c.allow_msg_schedules = true;
            c
        }),
    ];
    for (what, c) in table {
        let json = serde_json::to_string(&c).unwrap();
        let back: StreamConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c, "{what}: {json}");
        // Through the request decoder too.
        let req = parse_create_request(json.as_bytes()).unwrap();
        assert_eq!(req.config, c, "{what} via request decoder");
    }
    // The full config passes validation unchanged (it is already normalised).
    assert_eq!(
        check_create(
            "FULL",
            &StreamConfigRequest {
                config: full_config(),
                pedantic: true
            },
            true,
            &CheckLimits::default()
        )
        .map(|mut c| {
            c.metadata.remove(META_REQUIRED_LEVEL);
            c
        }),
        Ok(full_config())
    );
}

#[test]
fn zero_config_json_shape() {
    // Go's omitempty: what the zero value writes, in Go's order.
    assert_eq!(
        serde_json::to_string(&StreamConfig::default()).unwrap(),
        concat!(
            r#"{"name":"","retention":"limits","max_consumers":0,"max_msgs":0,"max_bytes":0,"#,
            r#""max_age":0,"max_msgs_per_subject":0,"discard":"old","storage":"file","#,
            r#""num_replicas":0,"compression":"none","allow_direct":false,"mirror_direct":false,"#,
            r#""sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"#,
            r#""consumer_limits":{},"allow_msg_ttl":false}"#
        )
    );
    // The request decoder knows exactly the keys we write (full_config leaves
    // out the ones listed here), plus `pedantic`.
    let v = serde_json::to_value(full_config()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.extend([
        "mirror",
        "allow_msg_counter",
        "allow_msg_schedules",
        "persist_mode",
        "pedantic",
    ]);
    keys.sort_unstable();
    let mut known = CONFIG_FIELDS.to_vec();
    known.sort_unstable();
    assert_eq!(keys, known);
}

#[test]
fn api_level_metadata() {
    let table: &[(Tweak, &str)] = &[
        (|_| {}, "0"),
        (|c| c.allow_msg_ttl = true, "1"),
        (|c| c.subject_delete_marker_ttl = SECOND, "1"),
        (|c| c.allow_msg_counter = true, "2"),
        (|c| c.allow_atomic = true, "2"),
        (|c| c.allow_msg_schedules = true, "2"),
        (|c| c.persist_mode = PersistMode::Async, "2"),
        (|c| c.allow_batched = true, "4"),
    ];
    for (tweak, level) in table {
        let mut c = cfg("S");
        c.metadata.insert(META_SERVER_VERSION.into(), "old".into());
        tweak(&mut c);
        c.set_static_metadata();
        assert_eq!(
            c.metadata.get(META_REQUIRED_LEVEL).map(String::as_str),
            Some(*level)
        );
        assert!(!c.metadata.contains_key(META_SERVER_VERSION));
        let shown = c.with_dynamic_metadata("9.9.9");
        assert_eq!(shown.metadata[META_SERVER_VERSION], "9.9.9");
        assert_eq!(shown.metadata[META_SERVER_LEVEL], "5");
    }
}

#[test]
fn duration_strings_like_go() {
    for (nanos, text) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (100_000_000, "100ms"),
        (SECOND, "1s"),
        (1_500_000_000, "1.5s"),
        (120 * SECOND, "2m0s"),
        (3_600 * SECOND + 1, "1h0m0.000000001s"),
    ] {
        assert_eq!(go_duration_string(nanos), text);
    }
}
