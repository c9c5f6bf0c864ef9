//! The request headers a stream acts on when a message is published to it, read
//! once per message.
//!
//! Go reads each header with its own scan of the header block; here one pass over
//! the names the stream cares about collects them all, and the stream then applies
//! Go's checks in Go's order (see `Stream::check_publish`).

use super::headers;

/// `Nats-Msg-Id`.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// `Nats-Expected-Stream`.
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// `Nats-Expected-Last-Sequence`.
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
/// `Nats-Expected-Last-Subject-Sequence`.
pub const EXPECTED_LAST_SUBJ_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
/// `Nats-Expected-Last-Subject-Sequence-Subject`.
pub const EXPECTED_LAST_SUBJ_SEQ_SUBJ: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
/// `Nats-Expected-Last-Msg-Id`.
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `Nats-Rollup`.
pub const ROLLUP: &str = "Nats-Rollup";
/// `Nats-TTL`.
pub const TTL: &str = "Nats-TTL";
/// `Nats-Incr` (counters, not supported yet: refused as disabled).
pub const INCR: &str = "Nats-Incr";
/// `Nats-Batch-Id` (atomic batch publish, not supported: refused as disabled).
pub const BATCH_ID: &str = "Nats-Batch-Id";
/// `Nats-Schedule` (message schedules, not supported: refused as disabled).
pub const SCHEDULE: &str = "Nats-Schedule";
/// `Nats-Stream-Source` (only sourcing may set it).
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";

/// `Nats-Rollup: sub`.
pub const ROLLUP_SUBJECT: &str = "sub";
/// `Nats-Rollup: all`.
pub const ROLLUP_ALL: &str = "all";

/// What a published message's headers ask of the stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishHeaders {
    /// `Nats-Msg-Id` (empty = none).
    pub msg_id: String,
    /// `Nats-Expected-Stream`.
    pub expected_stream: String,
    /// `Nats-Expected-Last-Sequence`; an unparsable value never matches (Go's
    /// `parseInt64` gives -1, which as a `uint64` no sequence equals).
    pub expected_last_seq: Option<u64>,
    /// `Nats-Expected-Last-Subject-Sequence`.
    pub expected_last_subject_seq: Option<u64>,
    /// `Nats-Expected-Last-Subject-Sequence-Subject`.
    pub expected_last_subject_seq_subject: String,
    /// `Nats-Expected-Last-Msg-Id`.
    pub expected_last_msg_id: String,
    /// `Nats-Rollup`.
    pub rollup: String,
    /// `Nats-TTL`, unparsed.
    pub ttl: String,
    /// `Nats-Incr`: `None` when absent, `Some(Err)` when not an integer.
    pub incr: Option<Result<i128, InvalidIncr>>,
    /// `Nats-Batch-Id` is present (atomic batch publish).
    pub batch_id: bool,
    /// `Nats-Schedule` is present (message schedules).
    pub schedule: bool,
    /// `Nats-Stream-Source` is present.
    pub stream_source: bool,
}

impl PublishHeaders {
    /// Read the headers from a message's header block (`None` or empty = none).
    pub fn parse(block: Option<&[u8]>) -> PublishHeaders {
        let Some(block) = block.filter(|b| !b.is_empty()) else {
            return PublishHeaders::default();
        };
        let text = |key: &str| {
            headers::get(block, key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let seq = |key: &str| {
            headers::get(block, key)
                .filter(|v| !v.is_empty())
                .map(parse_seq)
        };
        PublishHeaders {
            msg_id: text(MSG_ID),
            expected_stream: text(EXPECTED_STREAM),
            expected_last_seq: seq(EXPECTED_LAST_SEQ),
            expected_last_subject_seq: seq(EXPECTED_LAST_SUBJ_SEQ),
            expected_last_subject_seq_subject: text(EXPECTED_LAST_SUBJ_SEQ_SUBJ),
            expected_last_msg_id: text(EXPECTED_LAST_MSG_ID),
            rollup: text(ROLLUP),
            ttl: text(TTL),
            incr: headers::get(block, INCR)
                .filter(|v| !v.is_empty())
                .map(parse_incr),
            batch_id: headers::get(block, BATCH_ID).is_some_and(|v| !v.is_empty()),
            schedule: headers::get(block, SCHEDULE).is_some_and(|v| !v.is_empty()),
            stream_source: headers::get(block, STREAM_SOURCE).is_some_and(|v| !v.is_empty()),
        }
    }
}

/// A sequence number as Go's `parseInt64` reads it: digits only, else "no match".
fn parse_seq(v: &[u8]) -> u64 {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return u64::MAX;
    }
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A `Nats-Incr` value that is not a base-10 integer (or does not fit 128 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidIncr;

/// `Nats-Incr` as Go's `big.Int.SetString(v, 10)` reads it: an optional sign and
/// digits. Go's integers are unbounded; jetcore's counters are 128-bit.
pub fn parse_incr(v: &[u8]) -> Result<i128, InvalidIncr> {
    let text = std::str::from_utf8(v).map_err(|_| InvalidIncr)?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidIncr);
    }
    text.parse::<i128>().map_err(|_| InvalidIncr)
}

/// A `Nats-TTL` value Go would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTtl;

/// A per-message TTL as Go's `parseMessageTTL` reads `Nats-TTL`: `never` is -1, a
/// Go duration of at least one second or a plain number of seconds is that many
/// seconds. `Ok(0)` means no TTL; `Err` is an invalid value (Go's 10165).
pub fn parse_ttl(v: &str) -> Result<i64, InvalidTtl> {
    if v.is_empty() {
        return Ok(0);
    }
    if v.eq_ignore_ascii_case("never") {
        return Ok(-1);
    }
    if let Ok(d) = crate::conf::parse_duration(v) {
        if d.as_secs() < 1 {
            return Err(InvalidTtl);
        }
        return Ok(d.as_secs().min(i64::MAX as u64) as i64);
    }
    if v.starts_with('-') {
        return Err(InvalidTtl);
    }
    match parse_seq(v.as_bytes()) {
        u64::MAX => Err(InvalidTtl),
        n => Ok(n.min(i64::MAX as u64) as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_header_in_one_block() {
        let block = b"NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Expected-Stream: S\r\n\
Nats-Expected-Last-Sequence: 7\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\
Nats-Rollup: sub\r\nNats-TTL: 5s\r\n\r\n";
        let h = PublishHeaders::parse(Some(block));
        assert_eq!(h.msg_id, "m1");
        assert_eq!(h.expected_stream, "S");
        assert_eq!(h.expected_last_seq, Some(7));
        assert_eq!(h.expected_last_subject_seq, Some(0));
        assert_eq!(h.rollup, "sub");
        assert_eq!(h.ttl, "5s");
        assert!(h.incr.is_none());
    }

    #[test]
    fn an_unparsable_sequence_never_matches() {
        let h = PublishHeaders::parse(Some(b"NATS/1.0\r\nNats-Expected-Last-Sequence: x\r\n\r\n"));
        assert_eq!(h.expected_last_seq, Some(u64::MAX));
        assert_eq!(PublishHeaders::parse(None), PublishHeaders::default());
    }

    #[test]
    fn increments_as_go_reads_them() {
        assert_eq!(parse_incr(b"5"), Ok(5));
        assert_eq!(parse_incr(b"-12"), Ok(-12));
        assert_eq!(parse_incr(b"+3"), Ok(3));
        for bad in [&b"abc"[..], b"", b"-", b"1.5", b"1_000", b" 1"] {
            assert_eq!(parse_incr(bad), Err(InvalidIncr), "{bad:?}");
        }
    }

    #[test]
    fn ttl_values_as_go_reads_them() {
        let cases: &[(&str, Result<i64, InvalidTtl>)] = &[
            ("", Ok(0)),
            ("never", Ok(-1)),
            ("NEVER", Ok(-1)),
            ("1s", Ok(1)),
            ("1m30s", Ok(90)),
            ("1500ms", Ok(1)),
            ("999ms", Err(InvalidTtl)),
            ("0", Err(InvalidTtl)),
            ("5", Ok(5)),
            ("-5", Err(InvalidTtl)),
            ("abc", Err(InvalidTtl)),
        ];
        for (v, want) in cases {
            assert_eq!(parse_ttl(v), *want, "{v:?}");
        }
    }
}
