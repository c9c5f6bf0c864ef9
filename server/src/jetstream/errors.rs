//! JetStream API errors: Go's `ApiError` (`server/jetstream_errors.go`) with the
//! codes and texts of `server/errors.json` (nats-server 2.15.1).
//!
//! Every constructor names the Go constant it stands for and its `err_code`.
//! Templated descriptions (`{err}`, `{prefix}`, ...) are filled in exactly as Go's
//! `strings.NewReplacer` does.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One JetStream API error, serialized as Go does:
/// `{"code":400,"err_code":10058,"description":"..."}`. Go tags `err_code` and
/// `description` with `omitempty`, so a zero `err_code` or empty text is left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP-like status code (400, 404, 500, 503, ...).
    pub code: u16,
    /// The JetStream error code (10002..=10227); clients match on this.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub err_code: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

impl fmt::Display for ApiError {
    /// Go's `ApiError.Error()`: `"<description> (<err_code>)"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(code: u16, err_code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// A templated error: every `{key}` in `template` replaced by its value in one
    /// pass, like Go's `strings.NewReplacer` (a value is never expanded again).
    fn templated(code: u16, err_code: u16, template: &str, args: &[(&str, &str)]) -> Self {
        let mut description = String::with_capacity(template.len());
        let mut rest = template;
        'scan: while let Some(c) = rest.chars().next() {
            for (key, value) in args {
                if let Some(after) = rest.strip_prefix(key) {
                    description.push_str(value);
                    rest = after;
                    continue 'scan;
                }
            }
            description.push(c);
            rest = &rest[c.len_utf8()..];
        }
        ApiError::new(code, err_code, description)
    }

    // ---- runtime: publish, API ------------------------------------------------

    /// `JSNotEnabledForAccountErr` (10039).
    pub fn not_enabled_for_account() -> Self {
        ApiError::new(503, 10039, "JetStream not enabled for account")
    }

    /// `JSStreamTooManyRequests` (10167).
    pub fn stream_too_many_requests() -> Self {
        ApiError::new(429, 10167, "too many requests")
    }

    /// `JSInsufficientResourcesErr` (10023).
    pub fn insufficient_resources() -> Self {
        ApiError::new(503, 10023, "insufficient resources")
    }

    /// `JSMessageIncrInvalidErr` (10171).
    pub fn message_incr_invalid() -> Self {
        ApiError::new(400, 10171, "message counter increment is invalid")
    }

    /// `JSMessageIncrMissingErr` (10169).
    pub fn message_incr_missing() -> Self {
        ApiError::new(400, 10169, "message counter increment is missing")
    }

    /// `JSMessageIncrPayloadErr` (10170).
    pub fn message_incr_payload() -> Self {
        ApiError::new(400, 10170, "message counter has payload")
    }

    /// `JSMessageCounterBrokenErr` (10172).
    pub fn message_counter_broken() -> Self {
        ApiError::new(400, 10172, "message counter is broken")
    }

    /// `JSAtomicPublishDisabledErr` (10174).
    pub fn atomic_publish_disabled() -> Self {
        ApiError::new(400, 10174, "atomic publish is disabled")
    }

    /// `JSMessageSchedulesDisabledErr` (10188).
    pub fn message_schedules_disabled() -> Self {
        ApiError::new(400, 10188, "message schedules is disabled")
    }

    /// `JSNotEmptyRequestErr` (10038).
    pub fn not_empty_request() -> Self {
        ApiError::new(400, 10038, "expected an empty request payload")
    }

    /// `JSStreamGeneralErrorF` (10051).
    pub fn stream_general(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10051, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamDeleteErrF` (10050).
    pub fn stream_delete(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10050, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamMessageExceedsMaximumErr` (10054).
    pub fn stream_message_exceeds_maximum() -> Self {
        ApiError::new(400, 10054, "message size exceeds maximum allowed")
    }

    /// `JSStreamMsgDeleteFailedF` (10057).
    pub fn stream_msg_delete_failed(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10057, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSNoMessageFoundErr` (10037).
    pub fn no_message_found() -> Self {
        ApiError::new(404, 10037, "no message found")
    }

    /// `JSSequenceNotFoundErrF` (10043).
    pub fn sequence_not_found(seq: u64) -> Self {
        let seq = seq.to_string();
        ApiError::templated(400, 10043, "sequence {seq} not found", &[("{seq}", &seq)])
    }

    /// `JSStreamNotMatchErr` (10060).
    pub fn stream_not_match() -> Self {
        ApiError::new(400, 10060, "expected stream does not match")
    }

    /// `JSStreamReplicasNotUpdatableErr` (10061).
    pub fn stream_replicas_not_updatable() -> Self {
        ApiError::new(400, 10061, "Replicas configuration can not be updated")
    }

    /// `JSStreamUpdateErrF` (10069).
    pub fn stream_update(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10069, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamWrongLastMsgIDErrF` (10070).
    pub fn stream_wrong_last_msg_id(id: &str) -> Self {
        ApiError::templated(400, 10070, "wrong last msg ID: {id}", &[("{id}", id)])
    }

    /// `JSStreamWrongLastSequenceErrF` (10071).
    pub fn stream_wrong_last_sequence(seq: u64) -> Self {
        let seq = seq.to_string();
        ApiError::templated(400, 10071, "wrong last sequence: {seq}", &[("{seq}", &seq)])
    }

    /// `JSStreamStoreFailedF` (10077).
    pub fn stream_store_failed(err: impl fmt::Display) -> Self {
        ApiError::templated(503, 10077, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamHeaderExceedsMaximumErr` (10097).
    pub fn stream_header_exceeds_maximum() -> Self {
        ApiError::new(400, 10097, "header size exceeds maximum allowed of 64k")
    }

    /// `JSStreamPurgeFailedF` (10110).
    pub fn stream_purge_failed(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10110, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamRollupFailedF` (10111).
    pub fn stream_rollup_failed(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10111, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamInfoMaxSubjectsErr` (10117).
    pub fn stream_info_max_subjects() -> Self {
        ApiError::new(500, 10117, "subject details would exceed maximum allowed")
    }

    /// `JSMessageTTLInvalidErr` (10165).
    pub fn message_ttl_invalid() -> Self {
        ApiError::new(400, 10165, "invalid per-message TTL")
    }

    /// `JSMessageTTLDisabledErr` (10166).
    pub fn message_ttl_disabled() -> Self {
        ApiError::new(400, 10166, "per-message TTL is disabled")
    }

    /// `JSMessageIncrDisabledErr` (10168).
    pub fn message_incr_disabled() -> Self {
        ApiError::new(400, 10168, "message counters is disabled")
    }

    /// `JSStreamExpectedLastSeqPerSubjectInvalid` (10193).
    pub fn stream_expected_last_seq_per_subject_invalid() -> Self {
        ApiError::new(
            400,
            10193,
            "missing sequence for expected last sequence per subject",
        )
    }

    /// `JSMessageSourceHdrNotAllowedErr` (10227).
    pub fn message_source_hdr_not_allowed() -> Self {
        ApiError::new(400, 10227, "message stream source header is not allowed")
    }

    // ---- request level -------------------------------------------------------

    /// `JSBadRequestErr` (10003).
    pub fn bad_request() -> Self {
        ApiError::new(400, 10003, "bad request")
    }

    /// `JSInvalidJSONErr` (10025): `invalid JSON: {err}`.
    pub fn invalid_json(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10025,
            "invalid JSON: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSPedanticErrF` (10157): `pedantic mode: {err}`.
    pub fn pedantic(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10157,
            "pedantic mode: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSRequiredApiLevelErr` (10185).
    pub fn required_api_level() -> Self {
        ApiError::new(412, 10185, "JetStream minimum api level required")
    }

    // ---- stream create / config ----------------------------------------------

    /// `JSStreamInvalidConfigF` (10052): `{err}`, code 500.
    pub fn stream_invalid_config(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10052, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamCreateErrF` (10049): `{err}`, code 500. Go passes an error that is
    /// already an `ApiError` through unchanged (`Unless(err)`); do that with
    /// [`ApiError::clone`] instead of calling this.
    pub fn stream_create(err: impl fmt::Display) -> Self {
        ApiError::templated(500, 10049, "{err}", &[("{err}", &err.to_string())])
    }

    /// `JSStreamMismatchErr` (10056).
    pub fn stream_mismatch() -> Self {
        ApiError::new(400, 10056, "stream name in subject does not match request")
    }

    /// `JSStreamNameContainsPathSeparatorsErr` (10128).
    pub fn stream_name_contains_path_separators() -> Self {
        ApiError::new(400, 10128, "Stream name can not contain path separators")
    }

    /// `JSStreamNameExistErr` (10058).
    pub fn stream_name_exist() -> Self {
        ApiError::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }

    /// `JSStreamNotFoundErr` (10059).
    pub fn stream_not_found() -> Self {
        ApiError::new(404, 10059, "stream not found")
    }

    /// `JSStreamSubjectOverlapErr` (10065).
    pub fn stream_subject_overlap() -> Self {
        ApiError::new(400, 10065, "subjects overlap with an existing stream")
    }

    /// `JSStreamReplicasNotSupportedErr` (10074).
    pub fn stream_replicas_not_supported() -> Self {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }

    /// `JSReplicasCountCannotBeNegative` (10133).
    pub fn replicas_count_cannot_be_negative() -> Self {
        ApiError::new(400, 10133, "replicas count cannot be negative")
    }

    /// `JSStreamSealedErr` (10109).
    pub fn stream_sealed() -> Self {
        ApiError::new(400, 10109, "invalid operation on sealed stream")
    }

    /// `JSStreamMaxBytesRequired` (10113).
    pub fn stream_max_bytes_required() -> Self {
        ApiError::new(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }

    /// `JSStreamMaxStreamBytesExceeded` (10122).
    pub fn stream_max_stream_bytes_exceeded() -> Self {
        ApiError::new(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }

    /// `JSMaximumStreamsLimitErr` (10027).
    pub fn maximum_streams_limit() -> Self {
        ApiError::new(400, 10027, "maximum number of streams reached")
    }

    /// `JSStreamTransformInvalidSource` (10155): `stream transform source: {err}`.
    pub fn stream_transform_invalid_source(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10155,
            "stream transform source: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSStreamTransformInvalidDestination` (10156): `stream transform: {err}`.
    pub fn stream_transform_invalid_destination(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10156,
            "stream transform: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSStreamInvalidExternalDeliverySubjErrF` (10024).
    pub fn stream_invalid_external_delivery_subj(prefix: &str) -> Self {
        ApiError::templated(
            400,
            10024,
            "stream external delivery prefix {prefix} must not contain wildcards",
            &[("{prefix}", prefix)],
        )
    }

    /// `JSStreamExternalDelPrefixOverlapsErrF` (10022).
    pub fn stream_external_del_prefix_overlaps(prefix: &str, subject: &str) -> Self {
        ApiError::templated(
            400,
            10022,
            "stream external delivery prefix {prefix} overlaps with stream subject {subject}",
            &[("{prefix}", prefix), ("{subject}", subject)],
        )
    }

    /// `JSStreamExternalApiOverlapErrF` (10021).
    pub fn stream_external_api_overlap(prefix: &str, subject: &str) -> Self {
        ApiError::templated(
            400,
            10021,
            "stream external api prefix {prefix} must not overlap with {subject}",
            &[("{prefix}", prefix), ("{subject}", subject)],
        )
    }

    // ---- mirrors ---------------------------------------------------------------

    /// `JSMirrorWithSubjectsErr` (10034).
    pub fn mirror_with_subjects() -> Self {
        ApiError::new(400, 10034, "stream mirrors can not contain subjects")
    }

    /// `JSMirrorWithSourcesErr` (10031).
    pub fn mirror_with_sources() -> Self {
        ApiError::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }

    /// `JSMirrorWithFirstSeqErr` (10143).
    pub fn mirror_with_first_seq() -> Self {
        ApiError::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }

    /// `JSMirrorWithCountersErr` (10173).
    pub fn mirror_with_counters() -> Self {
        ApiError::new(400, 10173, "stream mirrors can not also calculate counters")
    }

    /// `JSMirrorWithAtomicPublishErr` (10198).
    pub fn mirror_with_atomic_publish() -> Self {
        ApiError::new(
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        )
    }

    /// `JSMirrorWithBatchPublishErr` (10209).
    pub fn mirror_with_batch_publish() -> Self {
        ApiError::new(
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        )
    }

    /// `JSMirrorWithMsgSchedulesErr` (10186).
    pub fn mirror_with_msg_schedules() -> Self {
        ApiError::new(400, 10186, "stream mirrors can not also schedule messages")
    }

    /// `JSMirrorDurableConsumerCfgInvalid` (10213).
    pub fn mirror_durable_consumer_cfg_invalid() -> Self {
        ApiError::new(400, 10213, "stream mirror consumer config is invalid")
    }

    /// `JSMirrorMultipleFiltersNotAllowed` (10150).
    pub fn mirror_multiple_filters_not_allowed() -> Self {
        ApiError::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `JSMirrorInvalidSubjectFilter` (10151): `mirror transform source: {err}`.
    pub fn mirror_invalid_subject_filter(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10151,
            "mirror transform source: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSMirrorInvalidTransformDestination` (10154): `mirror transform: {err}`.
    pub fn mirror_invalid_transform_destination(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10154,
            "mirror transform: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSMirrorOverlappingSubjectFilters` (10152).
    pub fn mirror_overlapping_subject_filters() -> Self {
        ApiError::new(400, 10152, "mirror subject filters can not overlap")
    }

    /// `JSMirrorInvalidStreamName` (10142).
    pub fn mirror_invalid_stream_name() -> Self {
        ApiError::new(400, 10142, "mirrored stream name is invalid")
    }

    /// `JSMirrorMaxMessageSizeTooBigErr` (10030).
    pub fn mirror_max_message_size_too_big() -> Self {
        ApiError::new(
            400,
            10030,
            "stream mirror must have max message size >= source",
        )
    }

    // ---- sources ---------------------------------------------------------------

    /// `JSSourceWithMsgSchedulesErr` (10187).
    pub fn source_with_msg_schedules() -> Self {
        ApiError::new(400, 10187, "stream source can not also schedule messages")
    }

    /// `JSSourceInvalidStreamName` (10141).
    pub fn source_invalid_stream_name() -> Self {
        ApiError::new(400, 10141, "sourced stream name is invalid")
    }

    /// `JSSourceDuplicateDetected` (10140).
    pub fn source_duplicate_detected() -> Self {
        ApiError::new(400, 10140, "duplicate source configuration detected")
    }

    /// `JSSourceMultipleFiltersNotAllowed` (10144).
    pub fn source_multiple_filters_not_allowed() -> Self {
        ApiError::new(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `JSSourceInvalidSubjectFilter` (10145): `source transform source: {err}`.
    pub fn source_invalid_subject_filter(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10145,
            "source transform source: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSSourceInvalidTransformDestination` (10146): `source transform: {err}`.
    pub fn source_invalid_transform_destination(err: impl fmt::Display) -> Self {
        ApiError::templated(
            400,
            10146,
            "source transform: {err}",
            &[("{err}", &err.to_string())],
        )
    }

    /// `JSSourceOverlappingSubjectFilters` (10147).
    pub fn source_overlapping_subject_filters() -> Self {
        ApiError::new(400, 10147, "source filters can not overlap")
    }

    /// `JSSourceDurableConsumerCfgInvalid` (10215).
    pub fn source_durable_consumer_cfg_invalid() -> Self {
        ApiError::new(400, 10215, "stream source consumer config is invalid")
    }

    /// `JSSourceDurableConsumerDuplicateDetected` (10216).
    pub fn source_durable_consumer_duplicate_detected() -> Self {
        ApiError::new(400, 10216, "duplicate stream source consumer detected")
    }

    /// `JSSourceMaxMessageSizeTooBigErr` (10046).
    pub fn source_max_message_size_too_big() -> Self {
        ApiError::new(
            400,
            10046,
            "stream source must have max message size >= target",
        )
    }
}

/// Go's `ErrBadSubject` text, used inside the transform-source errors
/// (`fmt.Errorf("%w %s", ErrBadSubject, subject)`).
pub const ERR_BAD_SUBJECT: &str = "invalid subject";

#[cfg(test)]
mod tests {
    use super::*;

    /// (constructor result, code, err_code, description) — texts from errors.json.
    fn table() -> Vec<(ApiError, u16, u16, &'static str)> {
        vec![
            (ApiError::bad_request(), 400, 10003, "bad request"),
            (
                ApiError::invalid_json("unexpected EOF"),
                400,
                10025,
                "invalid JSON: unexpected EOF",
            ),
            (ApiError::pedantic("x"), 400, 10157, "pedantic mode: x"),
            (
                ApiError::required_api_level(),
                412,
                10185,
                "JetStream minimum api level required",
            ),
            (
                ApiError::stream_invalid_config("max age can not be negative"),
                500,
                10052,
                "max age can not be negative",
            ),
            (ApiError::stream_create("boom"), 500, 10049, "boom"),
            (
                ApiError::stream_mismatch(),
                400,
                10056,
                "stream name in subject does not match request",
            ),
            (
                ApiError::stream_name_contains_path_separators(),
                400,
                10128,
                "Stream name can not contain path separators",
            ),
            (
                ApiError::stream_name_exist(),
                400,
                10058,
                "stream name already in use with a different configuration",
            ),
            (ApiError::stream_not_found(), 404, 10059, "stream not found"),
            (
                ApiError::stream_subject_overlap(),
                400,
                10065,
                "subjects overlap with an existing stream",
            ),
            (
                ApiError::stream_replicas_not_supported(),
                500,
                10074,
                "replicas > 1 not supported in non-clustered mode",
            ),
            (
                ApiError::replicas_count_cannot_be_negative(),
                400,
                10133,
                "replicas count cannot be negative",
            ),
            (
                ApiError::stream_sealed(),
                400,
                10109,
                "invalid operation on sealed stream",
            ),
            (
                ApiError::stream_max_bytes_required(),
                400,
                10113,
                "account requires a stream config to have max bytes set",
            ),
            (
                ApiError::stream_max_stream_bytes_exceeded(),
                400,
                10122,
                "stream max bytes exceeds account limit max stream bytes",
            ),
            (
                ApiError::maximum_streams_limit(),
                400,
                10027,
                "maximum number of streams reached",
            ),
            (
                ApiError::stream_transform_invalid_source("invalid subject a..b"),
                400,
                10155,
                "stream transform source: invalid subject a..b",
            ),
            (
                ApiError::stream_transform_invalid_destination("e"),
                400,
                10156,
                "stream transform: e",
            ),
            (
                ApiError::stream_invalid_external_delivery_subj("d.*"),
                400,
                10024,
                "stream external delivery prefix d.* must not contain wildcards",
            ),
            (
                ApiError::stream_external_del_prefix_overlaps("p", "s"),
                400,
                10022,
                "stream external delivery prefix p overlaps with stream subject s",
            ),
            (
                ApiError::stream_external_api_overlap("$JS.API.x", "$JS.API"),
                400,
                10021,
                "stream external api prefix $JS.API.x must not overlap with $JS.API",
            ),
            (
                ApiError::mirror_with_subjects(),
                400,
                10034,
                "stream mirrors can not contain subjects",
            ),
            (
                ApiError::mirror_with_sources(),
                400,
                10031,
                "stream mirrors can not also contain other sources",
            ),
            (
                ApiError::mirror_with_first_seq(),
                400,
                10143,
                "stream mirrors can not have first sequence configured",
            ),
            (
                ApiError::mirror_with_counters(),
                400,
                10173,
                "stream mirrors can not also calculate counters",
            ),
            (
                ApiError::mirror_with_atomic_publish(),
                400,
                10198,
                "stream mirrors can not also use atomic publishing",
            ),
            (
                ApiError::mirror_with_batch_publish(),
                400,
                10209,
                "stream mirrors can not also use batch publishing",
            ),
            (
                ApiError::mirror_with_msg_schedules(),
                400,
                10186,
                "stream mirrors can not also schedule messages",
            ),
            (
                ApiError::mirror_durable_consumer_cfg_invalid(),
                400,
                10213,
                "stream mirror consumer config is invalid",
            ),
            (
                ApiError::mirror_multiple_filters_not_allowed(),
                400,
                10150,
                "mirror with multiple subject transforms cannot also have a single subject filter",
            ),
            (
                ApiError::mirror_invalid_subject_filter("e"),
                400,
                10151,
                "mirror transform source: e",
            ),
            (
                ApiError::mirror_invalid_transform_destination("e"),
                400,
                10154,
                "mirror transform: e",
            ),
            (
                ApiError::mirror_overlapping_subject_filters(),
                400,
                10152,
                "mirror subject filters can not overlap",
            ),
            (
                ApiError::mirror_invalid_stream_name(),
                400,
                10142,
                "mirrored stream name is invalid",
            ),
            (
                ApiError::mirror_max_message_size_too_big(),
                400,
                10030,
                "stream mirror must have max message size >= source",
            ),
            (
                ApiError::source_with_msg_schedules(),
                400,
                10187,
                "stream source can not also schedule messages",
            ),
            (
                ApiError::source_invalid_stream_name(),
                400,
                10141,
                "sourced stream name is invalid",
            ),
            (
                ApiError::source_duplicate_detected(),
                400,
                10140,
                "duplicate source configuration detected",
            ),
            (
                ApiError::source_multiple_filters_not_allowed(),
                400,
                10144,
                "source with multiple subject transforms cannot also have a single subject filter",
            ),
            (
                ApiError::source_invalid_subject_filter("e"),
                400,
                10145,
                "source transform source: e",
            ),
            (
                ApiError::source_invalid_transform_destination("e"),
                400,
                10146,
                "source transform: e",
            ),
            (
                ApiError::source_overlapping_subject_filters(),
                400,
                10147,
                "source filters can not overlap",
            ),
            (
                ApiError::source_durable_consumer_cfg_invalid(),
                400,
                10215,
                "stream source consumer config is invalid",
            ),
            (
                ApiError::source_durable_consumer_duplicate_detected(),
                400,
                10216,
                "duplicate stream source consumer detected",
            ),
            (
                ApiError::source_max_message_size_too_big(),
                400,
                10046,
                "stream source must have max message size >= target",
            ),
        ]
    }

    #[test]
    fn constructors_match_errors_json() {
        for (err, code, err_code, description) in table() {
            assert_eq!(
                (err.code, err.err_code, err.description.as_str()),
                (code, err_code, description)
            );
        }
    }

    #[test]
    fn serializes_like_go() {
        let e = ApiError::stream_name_exist();
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}"#
        );
        // Go's omitempty on err_code and description.
        let bare = ApiError::new(503, 0, "");
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"code":503}"#);
        let back: ApiError = serde_json::from_str(r#"{"code":503}"#).unwrap();
        assert_eq!(back, bare);
        assert_eq!(
            e.to_string(),
            "stream name already in use with a different configuration (10058)"
        );
    }

    #[test]
    fn template_values_are_not_reexpanded() {
        // strings.NewReplacer does one pass: a value containing "{err}" stays as is.
        let e = ApiError::invalid_json("{err}");
        assert_eq!(e.description, "invalid JSON: {err}");
        let e = ApiError::stream_external_del_prefix_overlaps("{subject}", "s");
        assert_eq!(
            e.description,
            "stream external delivery prefix {subject} overlaps with stream subject s"
        );
    }
}
