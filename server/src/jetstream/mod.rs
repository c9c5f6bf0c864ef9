//! JetStream: streams on the core that owns them, and the API on core 0.
//!
//! Runtime:
//! - [`runtime`] — one core's JetStream: shared settings, the streams it owns.
//! - [`meta`] — core 0's meta layer: stream directory, placement, recovery at start,
//!   the API request loop.
//! - [`advisory`] — stream created/updated/deleted events.
//! - [`api`] — which request an `$JS.API.*` subject is; response shapes.
//! - [`stream`] — one stream: store, subscriptions, the publish path, direct get.
//! - [`publish`] — the headers a publish carries (`Nats-Msg-Id`, `Nats-Expected-*`...).
//! - [`dedupe`] — the `Nats-Msg-Id` window.
//! - [`store`] — memory or file store behind one type.
//! - [`transform`] — subject transforms (`subject_transform`, republish, mappings).
//! - [`consumer`] — one consumer on its stream's core: pull requests, acks, the
//!   delivery task, persistence (with `stream_consumers.rs`, what a stream does for
//!   its consumers, and `meta_consumers.rs`, the consumer API).
//! - [`consumer_state`] — a consumer's delivery/ack state machine (pure, simulated
//!   time): pending, redelivery, backoff, max_deliver, ack floor, its encoding.
//!
//! Vocabulary (Go's JSON shapes, checked against captured 2.15.1 responses):
//! - [`errors`] — `ApiError` and the errors.json constructors.
//! - [`gotime`] — Go's `time.Time` JSON (RFC 3339 nano, zero value).
//! - [`stream_config`] — `StreamConfig`, create-request decoding, `checkStreamCfg`.
//! - [`stream_info`] — `StreamInfo`, `StreamState`, the create response.
//! - [`api_types`] — the other `$JS.API` request/response bodies, PubAck, Go's JSON encoding.
//! - [`consumer_config`] — `ConsumerConfig`, its defaults and checks, the create request.
//! - [`consumer_api`] — `ConsumerInfo` and the consumer API bodies, pull requests, ack
//!   subjects and bodies, consumer advisories, status frames.
//! - [`headers`] — NATS header blocks: Go's lookup, removal, append; a builder.

pub mod advisory;
pub mod api;
pub mod api_types;
pub mod consumer;
pub mod consumer_api;
pub mod consumer_config;
pub mod consumer_state;
pub mod dedupe;
pub mod errors;
pub mod gotime;
pub mod headers;
pub mod meta;
pub mod publish;
pub mod pull_queue;
pub mod runtime;
pub mod store;
pub mod stream;
pub mod stream_config;
pub mod stream_info;
pub mod transform;
