//! JetStream foundations. So far: the stream configuration and stream info JSON
//! types with Go's shape, defaults, validation and error codes (no runtime).
//!
//! - [`errors`] — `ApiError` and the errors.json constructors stream config uses.
//! - [`gotime`] — Go's `time.Time` JSON (RFC 3339 nano, zero value).
//! - [`stream_config`] — `StreamConfig`, create-request decoding, `checkStreamCfg`.
//! - [`stream_info`] — `StreamInfo`, `StreamState`, the create response.

pub mod errors;
pub mod gotime;
pub mod stream_config;
pub mod stream_info;
