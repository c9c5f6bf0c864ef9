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

    /// `JSNotEnabledErr` (10076): JetStream is configured but not running.
    pub fn not_enabled() -> Self {
        ApiError::new(503, 10076, "JetStream not enabled")
    }

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

    /// `JSMemoryResourcesExceededErr` (10028): a memory stream's `max_bytes` does
    /// not fit in what `max_mem` leaves after the other streams' reservations.
    pub fn memory_resources_exceeded() -> Self {
        ApiError::new(500, 10028, "insufficient memory resources available")
    }

    /// `JSStorageResourcesExceededErr` (10047): the same for a file stream and
    /// `max_file`.
    pub fn storage_resources_exceeded() -> Self {
        ApiError::new(500, 10047, "insufficient storage resources available")
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

    /// `JSClusterRequiredErr` (10010): a cluster operation on a standalone server.
    pub fn cluster_required() -> Self {
        ApiError::new(503, 10010, "JetStream clustering support required")
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

    // ---- consumers -------------------------------------------------------------
    // Every errors.json entry named JSConsumer*, plus the stream/account errors the
    // consumer create path returns (10026, 10096, 10118, 10120, 10194).

    /// `JSConsumerCreateErrF` (10012).
    pub fn consumer_create(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(500, 10012, "{err}", &[("{err}", &err)])
    }

    /// `JSConsumerNameExistErr` (10013).
    pub fn consumer_name_exist() -> Self {
        ApiError::new(400, 10013, "consumer name already in use")
    }

    /// `JSConsumerNotFoundErr` (10014).
    pub fn consumer_not_found() -> Self {
        ApiError::new(404, 10014, "consumer not found")
    }

    /// `JSConsumerDurableNameNotInSubjectErr` (10016).
    pub fn consumer_durable_name_not_in_subject() -> Self {
        ApiError::new(
            400,
            10016,
            "consumer expected to be durable but no durable name set in subject",
        )
    }

    /// `JSConsumerDurableNameNotMatchSubjectErr` (10017).
    pub fn consumer_durable_name_not_match_subject() -> Self {
        ApiError::new(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        )
    }

    /// `JSConsumerDurableNameNotSetErr` (10018).
    pub fn consumer_durable_name_not_set() -> Self {
        ApiError::new(
            400,
            10018,
            "consumer expected to be durable but a durable name was not set",
        )
    }

    /// `JSConsumerEphemeralWithDurableInSubjectErr` (10019).
    pub fn consumer_ephemeral_with_durable_in_subject() -> Self {
        ApiError::new(
            400,
            10019,
            "consumer expected to be ephemeral but detected a durable name set in subject",
        )
    }

    /// `JSConsumerEphemeralWithDurableNameErr` (10020).
    pub fn consumer_ephemeral_with_durable_name() -> Self {
        ApiError::new(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        )
    }

    /// `JSMaximumConsumersLimitErr` (10026).
    pub fn maximum_consumers_limit() -> Self {
        ApiError::new(400, 10026, "maximum consumers limit reached")
    }

    /// `JSConsumerConfigRequiredErr` (10078).
    pub fn consumer_config_required() -> Self {
        ApiError::new(400, 10078, "consumer config required")
    }

    /// `JSConsumerDeliverToWildcardsErr` (10079).
    pub fn consumer_deliver_to_wildcards() -> Self {
        ApiError::new(400, 10079, "consumer deliver subject has wildcards")
    }

    /// `JSConsumerPushMaxWaitingErr` (10080).
    pub fn consumer_push_max_waiting() -> Self {
        ApiError::new(400, 10080, "consumer in push mode can not set max waiting")
    }

    /// `JSConsumerDeliverCycleErr` (10081).
    pub fn consumer_deliver_cycle() -> Self {
        ApiError::new(400, 10081, "consumer deliver subject forms a cycle")
    }

    /// `JSConsumerMaxPendingAckPolicyRequiredErr` (10082).
    pub fn consumer_max_pending_ack_policy_required() -> Self {
        ApiError::new(
            400,
            10082,
            "consumer requires ack policy for max ack pending",
        )
    }

    /// `JSConsumerSmallHeartbeatErr` (10083).
    pub fn consumer_small_heartbeat() -> Self {
        ApiError::new(400, 10083, "consumer idle heartbeat needs to be >= 100ms")
    }

    /// `JSConsumerPullRequiresAckErr` (10084).
    pub fn consumer_pull_requires_ack() -> Self {
        ApiError::new(
            400,
            10084,
            "consumer in pull mode requires explicit ack policy on workqueue stream",
        )
    }

    /// `JSConsumerPullNotDurableErr` (10085).
    pub fn consumer_pull_not_durable() -> Self {
        ApiError::new(400, 10085, "consumer in pull mode requires a durable name")
    }

    /// `JSConsumerPullWithRateLimitErr` (10086).
    pub fn consumer_pull_with_rate_limit() -> Self {
        ApiError::new(
            400,
            10086,
            "consumer in pull mode can not have rate limit set",
        )
    }

    /// `JSConsumerMaxWaitingNegativeErr` (10087).
    pub fn consumer_max_waiting_negative() -> Self {
        ApiError::new(400, 10087, "consumer max waiting needs to be positive")
    }

    /// `JSConsumerHBRequiresPushErr` (10088).
    pub fn consumer_hb_requires_push() -> Self {
        ApiError::new(
            400,
            10088,
            "consumer idle heartbeat requires a push based consumer",
        )
    }

    /// `JSConsumerFCRequiresPushErr` (10089).
    pub fn consumer_fc_requires_push() -> Self {
        ApiError::new(
            400,
            10089,
            "consumer flow control requires a push based consumer",
        )
    }

    /// `JSConsumerDirectRequiresPushErr` (10090).
    pub fn consumer_direct_requires_push() -> Self {
        ApiError::new(400, 10090, "consumer direct requires a push based consumer")
    }

    /// `JSConsumerDirectRequiresEphemeralErr` (10091).
    pub fn consumer_direct_requires_ephemeral() -> Self {
        ApiError::new(400, 10091, "consumer direct requires an ephemeral consumer")
    }

    /// `JSConsumerOnMappedErr` (10092).
    pub fn consumer_on_mapped() -> Self {
        ApiError::new(400, 10092, "consumer direct on a mapped consumer")
    }

    /// `JSConsumerFilterNotSubsetErr` (10093).
    pub fn consumer_filter_not_subset() -> Self {
        ApiError::new(
            400,
            10093,
            "consumer filter subject is not a valid subset of the interest subjects",
        )
    }

    /// `JSConsumerInvalidPolicyErrF` (10094).
    pub fn consumer_invalid_policy(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(400, 10094, "{err}", &[("{err}", &err)])
    }

    /// `JSConsumerInvalidSamplingErrF` (10095).
    pub fn consumer_invalid_sampling(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(
            400,
            10095,
            "failed to parse consumer sampling configuration: {err}",
            &[("{err}", &err)],
        )
    }

    /// `JSStreamInvalidErr` (10096).
    pub fn stream_invalid() -> Self {
        ApiError::new(500, 10096, "stream not valid")
    }

    /// `JSConsumerWQRequiresExplicitAckErr` (10098).
    pub fn consumer_wq_requires_explicit_ack() -> Self {
        ApiError::new(400, 10098, "workqueue stream requires explicit ack")
    }

    /// `JSConsumerWQMultipleUnfilteredErr` (10099).
    pub fn consumer_wq_multiple_unfiltered() -> Self {
        ApiError::new(
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        )
    }

    /// `JSConsumerWQConsumerNotUniqueErr` (10100).
    pub fn consumer_wq_consumer_not_unique() -> Self {
        ApiError::new(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        )
    }

    /// `JSConsumerWQConsumerNotDeliverAllErr` (10101).
    pub fn consumer_wq_consumer_not_deliver_all() -> Self {
        ApiError::new(
            400,
            10101,
            "consumer must be deliver all on workqueue stream",
        )
    }

    /// `JSConsumerNameTooLongErrF` (10102).
    pub fn consumer_name_too_long(max: impl fmt::Display) -> Self {
        let max = max.to_string();
        ApiError::templated(
            400,
            10102,
            "consumer name is too long, maximum allowed is {max}",
            &[("{max}", &max)],
        )
    }

    /// `JSConsumerBadDurableNameErr` (10103).
    pub fn consumer_bad_durable_name() -> Self {
        ApiError::new(400, 10103, "durable name can not contain '.', '*', '>'")
    }

    /// `JSConsumerStoreFailedErrF` (10104).
    pub fn consumer_store_failed(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(
            500,
            10104,
            "error creating store for consumer: {err}",
            &[("{err}", &err)],
        )
    }

    /// `JSConsumerExistingActiveErr` (10105).
    pub fn consumer_existing_active() -> Self {
        ApiError::new(400, 10105, "consumer already exists and is still active")
    }

    /// `JSConsumerReplacementWithDifferentNameErr` (10106).
    pub fn consumer_replacement_with_different_name() -> Self {
        ApiError::new(
            400,
            10106,
            "consumer replacement durable config not the same",
        )
    }

    /// `JSConsumerDescriptionTooLongErrF` (10107).
    pub fn consumer_description_too_long(max: impl fmt::Display) -> Self {
        let max = max.to_string();
        ApiError::templated(
            400,
            10107,
            "consumer description is too long, maximum allowed is {max}",
            &[("{max}", &max)],
        )
    }

    /// `JSConsumerWithFlowControlNeedsHeartbeats` (10108).
    pub fn consumer_with_flow_control_needs_heartbeats() -> Self {
        ApiError::new(
            400,
            10108,
            "consumer with flow control also needs heartbeats",
        )
    }

    /// `JSConsumerInvalidDeliverSubject` (10112).
    pub fn consumer_invalid_deliver_subject() -> Self {
        ApiError::new(400, 10112, "invalid push consumer deliver subject")
    }

    /// `JSConsumerMaxRequestBatchNegativeErr` (10114).
    pub fn consumer_max_request_batch_negative() -> Self {
        ApiError::new(400, 10114, "consumer max request batch needs to be > 0")
    }

    /// `JSConsumerMaxRequestExpiresTooSmall` (10115).
    pub fn consumer_max_request_expires_too_small() -> Self {
        ApiError::new(
            400,
            10115,
            "consumer max request expires needs to be >= 1ms",
        )
    }

    /// `JSConsumerMaxDeliverBackoffErr` (10116).
    pub fn consumer_max_deliver_backoff() -> Self {
        ApiError::new(
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        )
    }

    /// `JSStreamOfflineErr` (10118).
    pub fn stream_offline() -> Self {
        ApiError::new(500, 10118, "stream is offline")
    }

    /// `JSConsumerOfflineErr` (10119).
    pub fn consumer_offline() -> Self {
        ApiError::new(500, 10119, "consumer is offline")
    }

    /// `JSNoLimitsErr` (10120).
    pub fn no_limits() -> Self {
        ApiError::new(
            400,
            10120,
            "no JetStream default or applicable tiered limit present",
        )
    }

    /// `JSConsumerMaxPendingAckExcessErrF` (10121).
    pub fn consumer_max_pending_ack_excess(limit: impl fmt::Display) -> Self {
        let limit = limit.to_string();
        ApiError::templated(
            400,
            10121,
            "consumer max ack pending exceeds system limit of {limit}",
            &[("{limit}", &limit)],
        )
    }

    /// `JSConsumerMaxRequestBatchExceededF` (10125).
    pub fn consumer_max_request_batch_exceeded(limit: impl fmt::Display) -> Self {
        let limit = limit.to_string();
        ApiError::templated(
            400,
            10125,
            "consumer max request batch exceeds server limit of {limit}",
            &[("{limit}", &limit)],
        )
    }

    /// `JSConsumerReplicasExceedsStream` (10126).
    pub fn consumer_replicas_exceeds_stream() -> Self {
        ApiError::new(
            400,
            10126,
            "consumer config replica count exceeds parent stream",
        )
    }

    /// `JSConsumerNameContainsPathSeparatorsErr` (10127).
    pub fn consumer_name_contains_path_separators() -> Self {
        ApiError::new(400, 10127, "Consumer name can not contain path separators")
    }

    /// `JSConsumerCreateFilterSubjectMismatchErr` (10131).
    pub fn consumer_create_filter_subject_mismatch() -> Self {
        ApiError::new(
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        )
    }

    /// `JSConsumerCreateDurableAndNameMismatch` (10132).
    pub fn consumer_create_durable_and_name_mismatch() -> Self {
        ApiError::new(
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided",
        )
    }

    /// `JSConsumerReplicasShouldMatchStream` (10134).
    pub fn consumer_replicas_should_match_stream() -> Self {
        ApiError::new(
            400,
            10134,
            "consumer config replicas must match interest retention stream's replicas",
        )
    }

    /// `JSConsumerMetadataLengthErrF` (10135).
    pub fn consumer_metadata_length(limit: impl fmt::Display) -> Self {
        let limit = limit.to_string();
        ApiError::templated(
            400,
            10135,
            "consumer metadata exceeds maximum size of {limit}",
            &[("{limit}", &limit)],
        )
    }

    /// `JSConsumerDuplicateFilterSubjects` (10136).
    pub fn consumer_duplicate_filter_subjects() -> Self {
        ApiError::new(
            400,
            10136,
            "consumer cannot have both FilterSubject and FilterSubjects specified",
        )
    }

    /// `JSConsumerMultipleFiltersNotAllowed` (10137).
    pub fn consumer_multiple_filters_not_allowed() -> Self {
        ApiError::new(
            400,
            10137,
            "consumer with multiple subject filters cannot use subject based API",
        )
    }

    /// `JSConsumerOverlappingSubjectFilters` (10138).
    pub fn consumer_overlapping_subject_filters() -> Self {
        ApiError::new(400, 10138, "consumer subject filters cannot overlap")
    }

    /// `JSConsumerEmptyFilter` (10139).
    pub fn consumer_empty_filter() -> Self {
        ApiError::new(
            400,
            10139,
            "consumer filter in FilterSubjects cannot be empty",
        )
    }

    /// `JSConsumerAlreadyExists` (10148).
    pub fn consumer_already_exists() -> Self {
        ApiError::new(400, 10148, "consumer already exists")
    }

    /// `JSConsumerDoesNotExist` (10149).
    pub fn consumer_does_not_exist() -> Self {
        ApiError::new(400, 10149, "consumer does not exist")
    }

    /// `JSConsumerInactiveThresholdExcess` (10153).
    pub fn consumer_inactive_threshold_excess(limit: impl fmt::Display) -> Self {
        let limit = limit.to_string();
        ApiError::templated(
            400,
            10153,
            "consumer inactive threshold exceeds system limit of {limit}",
            &[("{limit}", &limit)],
        )
    }

    /// `JSConsumerPriorityPolicyWithoutGroup` (10159).
    pub fn consumer_priority_policy_without_group() -> Self {
        ApiError::new(
            400,
            10159,
            "Setting PriorityPolicy requires at least one PriorityGroup to be set",
        )
    }

    /// `JSConsumerInvalidPriorityGroupErr` (10160).
    pub fn consumer_invalid_priority_group() -> Self {
        ApiError::new(
            400,
            10160,
            "Provided priority group does not exist for this consumer",
        )
    }

    /// `JSConsumerEmptyGroupName` (10161).
    pub fn consumer_empty_group_name() -> Self {
        ApiError::new(400, 10161, "Group name cannot be an empty string")
    }

    /// `JSConsumerInvalidGroupNameErr` (10162).
    pub fn consumer_invalid_group_name() -> Self {
        ApiError::new(400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters")
    }

    /// `JSConsumerPushWithPriorityGroupErr` (10178).
    pub fn consumer_push_with_priority_group() -> Self {
        ApiError::new(
            400,
            10178,
            "priority groups can not be used with push consumers",
        )
    }

    /// `JSConsumerAckPolicyInvalidErr` (10181).
    pub fn consumer_ack_policy_invalid() -> Self {
        ApiError::new(400, 10181, "consumer ack policy invalid")
    }

    /// `JSConsumerReplayPolicyInvalidErr` (10182).
    pub fn consumer_replay_policy_invalid() -> Self {
        ApiError::new(400, 10182, "consumer replay policy invalid")
    }

    /// `JSConsumerAckWaitNegativeErr` (10183).
    pub fn consumer_ack_wait_negative() -> Self {
        ApiError::new(400, 10183, "consumer ack wait needs to be positive")
    }

    /// `JSConsumerBackOffNegativeErr` (10184).
    pub fn consumer_backoff_negative() -> Self {
        ApiError::new(400, 10184, "consumer backoff needs to be positive")
    }

    /// `JSStreamOfflineReasonErrF` (10194).
    pub fn stream_offline_reason(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(500, 10194, "stream is offline: {err}", &[("{err}", &err)])
    }

    /// `JSConsumerOfflineReasonErrF` (10195).
    pub fn consumer_offline_reason(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(500, 10195, "consumer is offline: {err}", &[("{err}", &err)])
    }

    /// `JSConsumerPriorityGroupWithPolicyNone` (10196).
    pub fn consumer_priority_group_with_policy_none() -> Self {
        ApiError::new(
            400,
            10196,
            "consumer can not have priority groups when policy is none",
        )
    }

    /// `JSConsumerPinnedTTLWithoutPriorityPolicyNone` (10197).
    pub fn consumer_pinned_ttl_without_priority_policy_none() -> Self {
        ApiError::new(
            400,
            10197,
            "PinnedTTL cannot be set when PriorityPolicy is none",
        )
    }

    /// `JSConsumerInvalidResetErr` (10204).
    pub fn consumer_invalid_reset(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::templated(400, 10204, "invalid reset: {err}", &[("{err}", &err)])
    }

    /// `JSConsumerAckFCRequiresPushErr` (10218).
    pub fn consumer_ack_fc_requires_push() -> Self {
        ApiError::new(
            400,
            10218,
            "flow control ack policy requires a push based consumer",
        )
    }

    /// `JSConsumerAckFCRequiresFCErr` (10219).
    pub fn consumer_ack_fc_requires_fc() -> Self {
        ApiError::new(400, 10219, "flow control ack policy requires flow control")
    }

    /// `JSConsumerAckFCRequiresMaxAckPendingErr` (10220).
    pub fn consumer_ack_fc_requires_max_ack_pending() -> Self {
        ApiError::new(
            400,
            10220,
            "flow control ack policy requires max ack pending",
        )
    }

    /// `JSConsumerAckFCRequiresNoAckWaitErr` (10221).
    pub fn consumer_ack_fc_requires_no_ack_wait() -> Self {
        ApiError::new(
            400,
            10221,
            "flow control ack policy requires unset ack wait",
        )
    }

    /// `JSConsumerAckFCRequiresNoMaxDeliverErr` (10222).
    pub fn consumer_ack_fc_requires_no_max_deliver() -> Self {
        ApiError::new(
            400,
            10222,
            "flow control ack policy requires unset max deliver",
        )
    }

    /// `JSConsumerStreamIdentityMismatchF` (10225).
    pub fn consumer_stream_identity_mismatch(msg: impl fmt::Display) -> Self {
        let msg = msg.to_string();
        ApiError::templated(
            400,
            10225,
            "consumer's stream identity does not match: {msg}",
            &[("{msg}", &msg)],
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
            // consumers
            (ApiError::consumer_create("X"), 500, 10012, "X"),
            (ApiError::consumer_name_exist(), 400, 10013, "consumer name already in use"),
            (ApiError::consumer_not_found(), 404, 10014, "consumer not found"),
            (ApiError::consumer_durable_name_not_in_subject(), 400, 10016, "consumer expected to be durable but no durable name set in subject"),
            (ApiError::consumer_durable_name_not_match_subject(), 400, 10017, "consumer name in subject does not match durable name in request"),
            (ApiError::consumer_durable_name_not_set(), 400, 10018, "consumer expected to be durable but a durable name was not set"),
            (ApiError::consumer_ephemeral_with_durable_in_subject(), 400, 10019, "consumer expected to be ephemeral but detected a durable name set in subject"),
            (ApiError::consumer_ephemeral_with_durable_name(), 400, 10020, "consumer expected to be ephemeral but a durable name was set in request"),
            (ApiError::maximum_consumers_limit(), 400, 10026, "maximum consumers limit reached"),
            (ApiError::consumer_config_required(), 400, 10078, "consumer config required"),
            (ApiError::consumer_deliver_to_wildcards(), 400, 10079, "consumer deliver subject has wildcards"),
            (ApiError::consumer_push_max_waiting(), 400, 10080, "consumer in push mode can not set max waiting"),
            (ApiError::consumer_deliver_cycle(), 400, 10081, "consumer deliver subject forms a cycle"),
            (ApiError::consumer_max_pending_ack_policy_required(), 400, 10082, "consumer requires ack policy for max ack pending"),
            (ApiError::consumer_small_heartbeat(), 400, 10083, "consumer idle heartbeat needs to be >= 100ms"),
            (ApiError::consumer_pull_requires_ack(), 400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream"),
            (ApiError::consumer_pull_not_durable(), 400, 10085, "consumer in pull mode requires a durable name"),
            (ApiError::consumer_pull_with_rate_limit(), 400, 10086, "consumer in pull mode can not have rate limit set"),
            (ApiError::consumer_max_waiting_negative(), 400, 10087, "consumer max waiting needs to be positive"),
            (ApiError::consumer_hb_requires_push(), 400, 10088, "consumer idle heartbeat requires a push based consumer"),
            (ApiError::consumer_fc_requires_push(), 400, 10089, "consumer flow control requires a push based consumer"),
            (ApiError::consumer_direct_requires_push(), 400, 10090, "consumer direct requires a push based consumer"),
            (ApiError::consumer_direct_requires_ephemeral(), 400, 10091, "consumer direct requires an ephemeral consumer"),
            (ApiError::consumer_on_mapped(), 400, 10092, "consumer direct on a mapped consumer"),
            (ApiError::consumer_filter_not_subset(), 400, 10093, "consumer filter subject is not a valid subset of the interest subjects"),
            (ApiError::consumer_invalid_policy("X"), 400, 10094, "X"),
            (ApiError::consumer_invalid_sampling("X"), 400, 10095, "failed to parse consumer sampling configuration: X"),
            (ApiError::stream_invalid(), 500, 10096, "stream not valid"),
            (ApiError::consumer_wq_requires_explicit_ack(), 400, 10098, "workqueue stream requires explicit ack"),
            (ApiError::consumer_wq_multiple_unfiltered(), 400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"),
            (ApiError::consumer_wq_consumer_not_unique(), 400, 10100, "filtered consumer not unique on workqueue stream"),
            (ApiError::consumer_wq_consumer_not_deliver_all(), 400, 10101, "consumer must be deliver all on workqueue stream"),
            (ApiError::consumer_name_too_long("X"), 400, 10102, "consumer name is too long, maximum allowed is X"),
            (ApiError::consumer_bad_durable_name(), 400, 10103, "durable name can not contain '.', '*', '>'"),
            (ApiError::consumer_store_failed("X"), 500, 10104, "error creating store for consumer: X"),
            (ApiError::consumer_existing_active(), 400, 10105, "consumer already exists and is still active"),
            (ApiError::consumer_replacement_with_different_name(), 400, 10106, "consumer replacement durable config not the same"),
            (ApiError::consumer_description_too_long("X"), 400, 10107, "consumer description is too long, maximum allowed is X"),
            (ApiError::consumer_with_flow_control_needs_heartbeats(), 400, 10108, "consumer with flow control also needs heartbeats"),
            (ApiError::consumer_invalid_deliver_subject(), 400, 10112, "invalid push consumer deliver subject"),
            (ApiError::consumer_max_request_batch_negative(), 400, 10114, "consumer max request batch needs to be > 0"),
            (ApiError::consumer_max_request_expires_too_small(), 400, 10115, "consumer max request expires needs to be >= 1ms"),
            (ApiError::consumer_max_deliver_backoff(), 400, 10116, "max deliver is required to be > length of backoff values"),
            (ApiError::stream_offline(), 500, 10118, "stream is offline"),
            (ApiError::consumer_offline(), 500, 10119, "consumer is offline"),
            (ApiError::no_limits(), 400, 10120, "no JetStream default or applicable tiered limit present"),
            (ApiError::consumer_max_pending_ack_excess("X"), 400, 10121, "consumer max ack pending exceeds system limit of X"),
            (ApiError::consumer_max_request_batch_exceeded("X"), 400, 10125, "consumer max request batch exceeds server limit of X"),
            (ApiError::consumer_replicas_exceeds_stream(), 400, 10126, "consumer config replica count exceeds parent stream"),
            (ApiError::consumer_name_contains_path_separators(), 400, 10127, "Consumer name can not contain path separators"),
            (ApiError::consumer_create_filter_subject_mismatch(), 400, 10131, "Consumer create request did not match filtered subject from create subject"),
            (ApiError::consumer_create_durable_and_name_mismatch(), 400, 10132, "Consumer Durable and Name have to be equal if both are provided"),
            (ApiError::consumer_replicas_should_match_stream(), 400, 10134, "consumer config replicas must match interest retention stream's replicas"),
            (ApiError::consumer_metadata_length("X"), 400, 10135, "consumer metadata exceeds maximum size of X"),
            (ApiError::consumer_duplicate_filter_subjects(), 400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"),
            (ApiError::consumer_multiple_filters_not_allowed(), 400, 10137, "consumer with multiple subject filters cannot use subject based API"),
            (ApiError::consumer_overlapping_subject_filters(), 400, 10138, "consumer subject filters cannot overlap"),
            (ApiError::consumer_empty_filter(), 400, 10139, "consumer filter in FilterSubjects cannot be empty"),
            (ApiError::consumer_already_exists(), 400, 10148, "consumer already exists"),
            (ApiError::consumer_does_not_exist(), 400, 10149, "consumer does not exist"),
            (ApiError::consumer_inactive_threshold_excess("X"), 400, 10153, "consumer inactive threshold exceeds system limit of X"),
            (ApiError::consumer_priority_policy_without_group(), 400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"),
            (ApiError::consumer_invalid_priority_group(), 400, 10160, "Provided priority group does not exist for this consumer"),
            (ApiError::consumer_empty_group_name(), 400, 10161, "Group name cannot be an empty string"),
            (ApiError::consumer_invalid_group_name(), 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
            (ApiError::consumer_push_with_priority_group(), 400, 10178, "priority groups can not be used with push consumers"),
            (ApiError::consumer_ack_policy_invalid(), 400, 10181, "consumer ack policy invalid"),
            (ApiError::consumer_replay_policy_invalid(), 400, 10182, "consumer replay policy invalid"),
            (ApiError::consumer_ack_wait_negative(), 400, 10183, "consumer ack wait needs to be positive"),
            (ApiError::consumer_backoff_negative(), 400, 10184, "consumer backoff needs to be positive"),
            (ApiError::stream_offline_reason("X"), 500, 10194, "stream is offline: X"),
            (ApiError::consumer_offline_reason("X"), 500, 10195, "consumer is offline: X"),
            (ApiError::consumer_priority_group_with_policy_none(), 400, 10196, "consumer can not have priority groups when policy is none"),
            (ApiError::consumer_pinned_ttl_without_priority_policy_none(), 400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"),
            (ApiError::consumer_invalid_reset("X"), 400, 10204, "invalid reset: X"),
            (ApiError::consumer_ack_fc_requires_push(), 400, 10218, "flow control ack policy requires a push based consumer"),
            (ApiError::consumer_ack_fc_requires_fc(), 400, 10219, "flow control ack policy requires flow control"),
            (ApiError::consumer_ack_fc_requires_max_ack_pending(), 400, 10220, "flow control ack policy requires max ack pending"),
            (ApiError::consumer_ack_fc_requires_no_ack_wait(), 400, 10221, "flow control ack policy requires unset ack wait"),
            (ApiError::consumer_ack_fc_requires_no_max_deliver(), 400, 10222, "flow control ack policy requires unset max deliver"),
            (ApiError::consumer_stream_identity_mismatch("X"), 400, 10225, "consumer's stream identity does not match: X"),
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
