//! NATS message header blocks: `NATS/1.0[ <status>[ <description>]]\r\n`, then
//! `Key: Value\r\n` lines, then `\r\n`.
//!
//! The lookups and edits are ports of what the Go server does to header blocks
//! (nats-server 2.15.1, `server/client.go`), with Go's exact byte rules:
//!
//! - [`get`] is `sliceHeader`: the key matches **case-sensitively**, byte for
//!   byte; it must start a line (be preceded by `\r\n`, so never on the status
//!   line and never in a block without one) and be followed directly by `:`
//!   (`Key : v` is not `Key`). Leading spaces of the value are skipped (spaces
//!   only, not tabs); trailing whitespace is kept. The value ends at the next
//!   `\r\n`, or at the end of the block. The first occurrence wins. The status
//!   line is not checked at all. (All verified against the Go binary with
//!   `Nats-Msg-Id` dedupe, see `testdata/api/raw_msgs.json`.) Go's quirk is kept
//!   too: if the key's first occurrence anywhere in the block is at byte 0 or 1,
//!   Go reports the key absent, so keys that prefix `NATS/1.0` or `ATS/1.0`
//!   (`N`, `A`, `AT`, ...) are never found in a block that starts with `NATS/1.0`.
//! - [`remove`] is `removeHeaderIfPresent`, [`remove_prefix`] is
//!   `removeHeaderIfPrefixPresent`, [`remove_status`] is
//!   `removeHeaderStatusIfPresent`: each returns an empty block where Go returns
//!   `nil` ("no headers left").
//! - [`gen_header`] is `genHeader` (how direct get, sourcing and the TTL/rollup
//!   paths add a header), [`set`] is the package-level `setHeader`, and
//!   [`append`] is the republish form (`fmt.Appendf(hdr[:len-2], ...)`).
//!
//! [`status`] reads the status line the way the Go client does (three
//! characters of code, the rest trimmed is the description), [`iter`] walks the
//! `Key: Value` lines with the same value rules as [`get`], and
//! [`HeaderBuilder`] writes server-generated blocks.
//!
//! Nothing here panics or indexes out of bounds on any input.

use bytes::Bytes;

/// The first line of a block without a status.
pub const HDR_LINE: &[u8] = b"NATS/1.0\r\n";
/// A block with no status and no headers; Go treats anything this short or
/// shorter as "no headers" after a removal.
pub const EMPTY_HDR_BLOCK: &[u8] = b"NATS/1.0\r\n\r\n";
/// The version token every block starts with.
pub const VERSION: &[u8] = b"NATS/1.0";

const CRLF: &[u8] = b"\r\n";

// ---- header names the server reads or writes (Go's constants) -----------------

/// `JSMsgId`.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
/// `JSExpectedStream`.
pub const NATS_EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// `JSExpectedLastSeq`.
pub const NATS_EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
/// `JSExpectedLastSubjSeq`.
pub const NATS_EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
/// `JSExpectedLastSubjSeqSubj`.
pub const NATS_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str =
    "Nats-Expected-Last-Subject-Sequence-Subject";
/// `JSExpectedLastMsgId`.
pub const NATS_EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `JSStream`: set on republished messages and direct get replies.
pub const NATS_STREAM: &str = "Nats-Stream";
/// `JSSubject`.
pub const NATS_SUBJECT: &str = "Nats-Subject";
/// `JSSequence`.
pub const NATS_SEQUENCE: &str = "Nats-Sequence";
/// `JSTimeStamp` (RFC 3339 with nanoseconds, UTC).
pub const NATS_TIME_STAMP: &str = "Nats-Time-Stamp";
/// `JSLastSequence`.
pub const NATS_LAST_SEQUENCE: &str = "Nats-Last-Sequence";
/// `JSNumPending` (batched direct get).
pub const NATS_NUM_PENDING: &str = "Nats-Num-Pending";
/// `JSUpToSequence` (multi-last direct get EOB).
pub const NATS_UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";
/// `JSMsgSize` (headers-only republish).
pub const NATS_MSG_SIZE: &str = "Nats-Msg-Size";
/// `JSStreamSource`.
pub const NATS_STREAM_SOURCE: &str = "Nats-Stream-Source";
/// `JSMsgRollup`.
pub const NATS_ROLLUP: &str = "Nats-Rollup";
/// `JSMessageTTL`.
pub const NATS_TTL: &str = "Nats-TTL";
/// `JSMarkerReason`.
pub const NATS_MARKER_REASON: &str = "Nats-Marker-Reason";
/// `JSRequiredApiLevel`.
pub const NATS_REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";
/// The prefix Go strips from sourced and scheduled messages.
pub const NATS_EXPECTED_PREFIX: &str = "Nats-Expected-";
/// The prefix Go strips from sourced messages.
pub const NATS_BATCH_PREFIX: &str = "Nats-Batch-";

// ---- reading -------------------------------------------------------------------

/// Go's `getHeaderKeyIndex`: where `key` starts in `block`, if it starts a line
/// (preceded by `\r\n`) and is directly followed by `:`. Case-sensitive.
///
/// A literal port, including Go's early exit when a later occurrence of the key
/// falls fewer than two bytes past the previous one (only reachable with keys
/// that end in `\r` or `\r\n`, which no real header has).
pub fn key_index(block: &[u8], key: &str) -> Option<usize> {
    let key = key.as_bytes();
    let (key_len, hdr_len) = (key.len(), block.len());
    let mut offset = 0usize;
    loop {
        let rel = memchr::memmem::find(block.get(offset..)?, key)?;
        if rel < 2 {
            return None;
        }
        let index = offset + rel;
        if index + 1 >= hdr_len || block[index - 1] != b'\n' || block[index - 2] != b'\r' {
            offset = index + key_len;
            continue;
        }
        if index + key_len >= hdr_len {
            return None;
        }
        if block[index + key_len] != b':' {
            offset = index + key_len;
            continue;
        }
        return Some(index);
    }
}

/// The value of the first `key` header (Go's `sliceHeader`): see the module
/// docs for the exact rules. `None` when absent; `Some(b"")` when present and
/// empty.
pub fn get<'a>(block: &'a [u8], key: &str) -> Option<&'a [u8]> {
    if block.is_empty() {
        return None;
    }
    let mut index = key_index(block, key)? + key.len() + 1;
    let len = block.len();
    while index < len && block[index] == b' ' {
        index += 1;
    }
    let start = index;
    while index < len {
        if block[index] == b'\r' && index + 1 < len && block[index + 1] == b'\n' {
            break;
        }
        index += 1;
    }
    block.get(start..index)
}

/// [`get`] as UTF-8 text; `None` when absent or not valid UTF-8.
pub fn get_str<'a>(block: &'a [u8], key: &str) -> Option<&'a str> {
    get(block, key).and_then(|v| std::str::from_utf8(v).ok())
}

/// A status line's code and description: `NATS/1.0 404 Message Not Found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status<'a> {
    pub code: u16,
    /// The text after the code, trimmed; may be empty.
    pub description: &'a [u8],
}

/// Why a block's first line is not a valid status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusError {
    /// The block does not start with `NATS/1.0`.
    NotNats,
    /// There is text after `NATS/1.0` but it does not start with a three-digit code.
    BadCode,
}

/// The status of a block, read as the Go client (`nats.go`) reads it: the first
/// line must start with `NATS/1.0`; the rest of it, trimmed, is empty (no
/// status: `Ok(None)`) or a three-digit code optionally followed by a
/// description, itself trimmed. The line ends at the first `\r\n` (or at the
/// end of the block when there is none).
///
/// The Go server itself never parses a status; it only tests prefixes such as
/// `NATS/1.0 100 ` (flow control and heartbeats), which [`has_status`] does.
pub fn status(block: &[u8]) -> Result<Option<Status<'_>>, StatusError> {
    let line = first_line(block);
    let rest = line.strip_prefix(VERSION).ok_or(StatusError::NotNats)?;
    let rest = trim(rest);
    if rest.is_empty() {
        return Ok(None);
    }
    // nats.go takes the first three characters as the status when there is more,
    // and the whole text when it is exactly three long.
    let (code, description) = match (rest.get(..3), rest.get(3..)) {
        (Some(code), Some(tail)) => (code, tail),
        _ => return Err(StatusError::BadCode),
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(StatusError::BadCode);
    }
    let code = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    Ok(Some(Status {
        code,
        description: trim(description),
    }))
}

/// Whether [`status`] reads `code` from the block's status line.
pub fn has_status(block: &[u8], code: u16) -> bool {
    matches!(status(block), Ok(Some(s)) if s.code == code)
}

/// Go's `isControlHdr`: the block starts with `NATS/1.0 100 ` (flow control
/// requests and idle heartbeats), a plain prefix test.
pub fn is_control(block: &[u8]) -> bool {
    block.starts_with(b"NATS/1.0 100 ")
}

fn first_line(block: &[u8]) -> &[u8] {
    match memchr::memmem::find(block, CRLF) {
        Some(i) => &block[..i],
        None => block,
    }
}

/// ASCII whitespace trim (Go's `strings.TrimSpace` on ASCII input).
fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() || *first == 0x0b {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() || *last == 0x0b {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// The `Key: Value` lines of a block, after the status line, in order.
///
/// Lines are split on `\r\n`; the block's terminating empty line ends the walk.
/// A line without `:` is skipped. The key is the bytes before the first `:` (as
/// is: no trimming, no case folding), the value follows [`get`]'s rules (leading
/// spaces skipped, the rest kept), so `get(b, k)` is the value of the first item
/// whose key equals `k` — except for Go's corner cases that `get` keeps (see
/// the module docs: keys such as `A` or `N` that `get` never finds). A key on
/// the very first line (a block without a status line) is found by neither.
pub fn iter(block: &[u8]) -> HeaderIter<'_> {
    let rest = match memchr::memmem::find(block, CRLF) {
        Some(i) => &block[i + 2..],
        None => &[],
    };
    HeaderIter { rest }
}

/// The iterator [`iter`] returns.
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match memchr::memmem::find(self.rest, CRLF) {
                Some(i) => (&self.rest[..i], &self.rest[i + 2..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            if line.is_empty() {
                // The blank line that ends the block.
                self.rest = &[];
                return None;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let key = &line[..colon];
            let mut value = &line[colon + 1..];
            while let [b' ', tail @ ..] = value {
                value = tail;
            }
            return Some((key, value));
        }
    }
}

// ---- editing -------------------------------------------------------------------

/// Go's `removeHeaderIfPresent`: removes every `key` line (as [`key_index`]
/// finds them, first to last). When what is left is no longer than
/// `NATS/1.0\r\n\r\n`, the block becomes empty (Go's `nil`: no headers).
pub fn remove(block: &mut Vec<u8>, key: &str) {
    loop {
        let Some(start) = key_index(block, key) else {
            return;
        };
        // key_index guarantees start >= 2, a '\n' before and a ':' after.
        let Some(end) = memchr::memmem::find(&block[start..], CRLF) else {
            return;
        };
        block.drain(start..start + end + CRLF.len());
        if block.len() <= EMPTY_HDR_BLOCK.len() {
            block.clear();
            return;
        }
    }
}

/// [`remove`] for each key in turn.
pub fn remove_all(block: &mut Vec<u8>, keys: &[&str]) {
    for key in keys {
        if block.is_empty() {
            return;
        }
        remove(block, key);
    }
}

/// Go's `removeHeaderIfPrefixPresent`: removes every line that starts with
/// `prefix` (a line start is any byte after `\n`). Empties the block like
/// [`remove`]. An empty prefix removes nothing (Go would loop forever).
pub fn remove_prefix(block: &mut Vec<u8>, prefix: &str) {
    let prefix = prefix.as_bytes();
    if prefix.is_empty() {
        return;
    }
    let mut index = 0usize;
    loop {
        if index >= block.len() {
            return;
        }
        let Some(start) = memchr::memmem::find(&block[index..], prefix) else {
            return;
        };
        index += start;
        if index < 1 || block[index - 1] != b'\n' {
            index += prefix.len();
            continue;
        }
        let after = index + prefix.len();
        let Some(end) = block
            .get(after..)
            .and_then(|tail| memchr::memmem::find(tail, CRLF))
        else {
            return;
        };
        block.drain(index..after + end + CRLF.len());
        if block.len() <= EMPTY_HDR_BLOCK.len() {
            block.clear();
            return;
        }
    }
}

/// Go's `removeHeaderStatusIfPresent`: `NATS/1.0 503 x\r\n...` becomes
/// `NATS/1.0\r\n...`; a block left as `NATS/1.0\r\n\r\n` becomes empty. A block
/// that does not start with `NATS/1.0`, or has nothing between it and the first
/// `\r`, is left as is.
pub fn remove_status(block: &mut Vec<u8>) {
    let kl = VERSION.len();
    let Some(i) = memchr::memchr(b'\r', block) else {
        return;
    };
    if !block.starts_with(VERSION) || i <= kl {
        return;
    }
    block.drain(kl..i);
    if block.len() == EMPTY_HDR_BLOCK.len() {
        block.clear();
    }
}

/// Go's `genHeader`: a copy of `block` without its last two bytes (the
/// terminating `\r\n`; Go does not check what they are), or `NATS/1.0\r\n` when
/// `block` is at most two bytes long, then `key: value\r\n\r\n`.
///
/// The line is written as Go's `http.Header.Write` writes it: `\r` and `\n` in
/// the value become spaces and the value is trimmed of spaces, tabs, `\r`, `\n`.
/// The key is written as given.
pub fn gen_header(block: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + key.len() + value.len() + 16);
    if block.len() > 2 {
        out.extend_from_slice(&block[..block.len() - 2]);
    } else {
        out.extend_from_slice(HDR_LINE);
    }
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    push_http_value(&mut out, value);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// `headerNewlineToSpace` then `textproto.TrimString`.
fn push_http_value(out: &mut Vec<u8>, value: &str) {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let bytes = value.as_bytes();
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    out.extend(
        bytes[start..end]
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// The republish form of appending (`fmt.Appendf(hdr[:len-2], ...)` in Go's
/// `processJetStreamMsg`): `block` without its terminating `\r\n`, each
/// `Key: Value\r\n` as given, then `\r\n`. An empty `block` starts a new one
/// with `NATS/1.0\r\n`. Unlike [`gen_header`] values are not sanitised (Go
/// writes them with `%s`); the caller passes subjects, numbers and times.
pub fn append(block: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let extra: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(block.len() + extra + HDR_LINE.len() + 2);
    if block.is_empty() {
        out.extend_from_slice(HDR_LINE);
    } else {
        out.extend_from_slice(&block[..block.len().saturating_sub(2)]);
    }
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(CRLF);
    out
}

/// Go's package-level `setHeader`: replaces the value of the first `key` header
/// (keeping one space after the colon if there was one; the old value ends at
/// the next `\r`, and without one the block is returned unchanged), or, when
/// there is none, appends `key: value\r\n` — before the final `\r\n` if the
/// block ends with one, so a well-formed block stays well-formed.
pub fn set(block: &[u8], key: &str, value: &str) -> Vec<u8> {
    if let Some(start) = key_index(block, key) {
        let mut val_start = start + key.len() + 1;
        if block.get(val_start) == Some(&b' ') {
            val_start += 1;
        }
        let Some(val_end) = block
            .get(val_start..)
            .and_then(|tail| memchr::memchr(b'\r', tail))
        else {
            return block.to_vec();
        };
        let val_end = val_start + val_end;
        let mut out = Vec::with_capacity(block.len() + value.len());
        out.extend_from_slice(&block[..val_start]);
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&block[val_end..]);
        return out;
    }
    let mut out = Vec::with_capacity(block.len() + key.len() + value.len() + 6);
    let terminated = !block.is_empty() && block.ends_with(CRLF);
    out.extend_from_slice(if terminated {
        &block[..block.len() - 2]
    } else {
        block
    });
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    if terminated {
        out.extend_from_slice(CRLF);
    }
    out.extend_from_slice(CRLF);
    out
}

// ---- building ------------------------------------------------------------------

/// Writes a header block the way the Go server's templates do:
/// `NATS/1.0[ <code>[ <description>]]\r\n`, one `Key: Value\r\n` per
/// [`add`](HeaderBuilder::add) in call order, then `\r\n`.
///
/// ```
/// # use jetcore_server::jetstream::headers::HeaderBuilder;
/// let b = HeaderBuilder::new().status(404, "Message Not Found").finish();
/// assert_eq!(&b[..], b"NATS/1.0 404 Message Not Found\r\n\r\n");
/// ```
///
/// Keys and values are written as given except that `\r` and `\n` become
/// spaces, so a value can never end the block early (Go's templates would
/// write them raw; no value the server generates contains them).
#[derive(Debug, Clone, Default)]
pub struct HeaderBuilder {
    status: Option<(u16, String)>,
    lines: Vec<u8>,
}

impl HeaderBuilder {
    pub fn new() -> Self {
        HeaderBuilder::default()
    }

    /// Sets the status line's code and description (an empty description writes
    /// `NATS/1.0 <code>`). May be called at any point; the last call wins.
    pub fn status(mut self, code: u16, description: &str) -> Self {
        self.status = Some((code, description.to_string()));
        self
    }

    /// Adds a `key: value` line.
    pub fn add(mut self, key: &str, value: &str) -> Self {
        self.push(key, value.as_bytes());
        self
    }

    /// Adds a `key: value` line with a byte value (e.g. one read by [`get`]).
    pub fn add_bytes(mut self, key: &str, value: &[u8]) -> Self {
        self.push(key, value);
        self
    }

    /// Adds a `key: <n>` line.
    pub fn add_u64(mut self, key: &str, value: u64) -> Self {
        self.push(key, value.to_string().as_bytes());
        self
    }

    fn push(&mut self, key: &str, value: &[u8]) {
        push_sanitized(&mut self.lines, key.as_bytes());
        self.lines.extend_from_slice(b": ");
        push_sanitized(&mut self.lines, value);
        self.lines.extend_from_slice(CRLF);
    }

    /// The block as a `Vec`.
    pub fn finish_vec(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.len() + 48);
        out.extend_from_slice(VERSION);
        if let Some((code, description)) = &self.status {
            out.push(b' ');
            out.extend_from_slice(code.to_string().as_bytes());
            if !description.is_empty() {
                out.push(b' ');
                push_sanitized(&mut out, description.as_bytes());
            }
        }
        out.extend_from_slice(CRLF);
        out.extend_from_slice(&self.lines);
        out.extend_from_slice(CRLF);
        out
    }

    /// The block.
    pub fn finish(self) -> Bytes {
        Bytes::from(self.finish_vec())
    }
}

fn push_sanitized(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(
        bytes
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_follows_go_slice_header() {
        // (block, key, expected value) — each row checked against Go's rules; the
        // Nats-Msg-Id rows were also observed on the Go binary (raw_msgs.json).
        type Row<'a> = (&'a [u8], &'a str, Option<&'a [u8]>);
        let table: &[Row<'_>] = &[
            (
                b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"m1"),
            ),
            (b"NATS/1.0\r\nnats-msg-id: m1\r\n\r\n", "Nats-Msg-Id", None),
            (
                b"NATS/1.0\r\nNats-Msg-Id:m1  \r\n\r\n",
                "Nats-Msg-Id",
                Some(b"m1  "),
            ),
            (
                b"NATS/1.0\r\nNats-Msg-Id:    m1\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"m1"),
            ),
            (
                b"NATS/1.0\r\nNats-Msg-Id:\tm1\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"\tm1"),
            ),
            (b"NATS/1.0\r\nNats-Msg-Id : m1\r\n\r\n", "Nats-Msg-Id", None),
            (
                b"NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Msg-Id: zz\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"m1"),
            ),
            (
                b"NATS/1.0\r\nX-Nats-Msg-Id: m1\r\n\r\n",
                "Nats-Msg-Id",
                None,
            ),
            (
                b"NATS/1.0\r\nX-Nats-Msg-Id: a\r\nNats-Msg-Id: b\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"b"),
            ),
            (b"NATS/1.0\nNats-Msg-Id: m1\n\n", "Nats-Msg-Id", None),
            (b"Nats-Msg-Id: m1\r\n\r\n", "Nats-Msg-Id", None),
            (b"NATS/1.0\r\nNats-Msg-Id: m1", "Nats-Msg-Id", Some(b"m1")),
            (b"NATS/1.0\r\nNats-Msg-Id:", "Nats-Msg-Id", Some(b"")),
            (
                b"NATS/1.0\r\nNats-Msg-Id:\r\n\r\n",
                "Nats-Msg-Id",
                Some(b""),
            ),
            (
                b"NATS/1.0\r\nNats-Msg-Id: a\rb\nc\r\n\r\n",
                "Nats-Msg-Id",
                Some(b"a\rb\nc"),
            ),
            (b"NATS/1.0 503\r\nK: 1\r\n\r\n", "K", Some(b"1")),
            (b"NATS/1.0\r\nK: x\r\nKB: y\r\n\r\n", "KB", Some(b"y")),
            (b"NATS/1.0\r\nKB: y\r\nK: x\r\n\r\n", "K", Some(b"x")),
            (b"NATS/1.0\r\nK: 1\r\n\r\n", "", None),
            (b"", "K", None),
            (b"\r\nK: 1", "K", Some(b"1")),
            (b"\r\nK:", "K", Some(b"")),
            // Go's quirk: the first match of the key in the whole block is at
            // index 1 (the "A" of "NATS"), fewer than two bytes in, so Go gives
            // up. Only keys that prefix "ATS/1.0..." or "NATS/1.0..." hit this.
            (b"NATS/1.0\r\nA: 1\r\n\r\n", "A", None),
            (b"NATS/1.0\r\nN: 1\r\n\r\n", "N", None),
            (b"NATS/1.0\r\nT: 1\r\n\r\n", "T", Some(b"1")),
        ];
        for (block, key, want) in table {
            assert_eq!(
                get(block, key),
                *want,
                "{:?} {key}",
                String::from_utf8_lossy(block)
            );
        }
    }

    #[test]
    fn status_lines() {
        let ok = |code, d: &'static [u8]| {
            Ok(Some(Status {
                code,
                description: d,
            }))
        };
        type Row<'a> = (&'a [u8], Result<Option<Status<'a>>, StatusError>);
        let table: &[Row<'_>] = &[
            (b"NATS/1.0\r\n\r\n", Ok(None)),
            (b"NATS/1.0   \r\n\r\n", Ok(None)),
            (
                b"NATS/1.0 404 Message Not Found\r\n\r\n",
                ok(404, b"Message Not Found"),
            ),
            (
                b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\n\r\n",
                ok(204, b"EOB"),
            ),
            (b"NATS/1.0 503\r\n\r\n", ok(503, b"")),
            (
                b"NATS/1.0 100 Idle Heartbeat  \r\n",
                ok(100, b"Idle Heartbeat"),
            ),
            (b"NATS/1.0 408", ok(408, b"")),
            (b"NATS/1.0 40\r\n", Err(StatusError::BadCode)),
            (b"NATS/1.0 abc\r\n", Err(StatusError::BadCode)),
            (b"NATS/2.0 404\r\n", Err(StatusError::NotNats)),
            (b"", Err(StatusError::NotNats)),
        ];
        for (block, want) in table {
            assert_eq!(status(block), *want, "{:?}", String::from_utf8_lossy(block));
        }
        assert!(has_status(b"NATS/1.0 100 FlowControl Request\r\n\r\n", 100));
        assert!(!has_status(b"NATS/1.0\r\n\r\n", 100));
        assert!(is_control(b"NATS/1.0 100 Idle Heartbeat\r\n\r\n"));
        assert!(!is_control(b"NATS/1.0 100\r\n\r\n"));
    }

    #[test]
    fn iterates_lines() {
        let block = b"NATS/1.0 503\r\nA: 1\r\nnot a header\r\nB:  two  \r\nC:\r\n\r\nD: after";
        let got: Vec<(&[u8], &[u8])> = iter(block).collect();
        assert_eq!(
            got,
            vec![
                (&b"A"[..], &b"1"[..]),
                (&b"B"[..], &b"two  "[..]),
                (&b"C"[..], &b""[..]),
            ]
        );
        assert_eq!(iter(b"NATS/1.0").count(), 0);
        assert_eq!(iter(b"").count(), 0);
    }

    #[test]
    fn remove_follows_go() {
        let table: &[(&[u8], &str, &[u8])] = &[
            (
                b"NATS/1.0\r\nX: 1\r\nY: 2\r\n\r\n",
                "X",
                b"NATS/1.0\r\nY: 2\r\n\r\n",
            ),
            (
                b"NATS/1.0\r\nX: 1\r\nY: 2\r\nX: 3\r\n\r\n",
                "X",
                b"NATS/1.0\r\nY: 2\r\n\r\n",
            ),
            (b"NATS/1.0\r\nX: 1\r\n\r\n", "X", b""),
            (
                b"NATS/1.0 503\r\nX: 1\r\n\r\n",
                "X",
                b"NATS/1.0 503\r\n\r\n",
            ),
            (
                b"NATS/1.0\r\nXY: 1\r\n\r\n",
                "X",
                b"NATS/1.0\r\nXY: 1\r\n\r\n",
            ),
            (b"NATS/1.0\r\nX: 1", "X", b"NATS/1.0\r\nX: 1"),
            (b"", "X", b""),
        ];
        for (block, key, want) in table {
            let mut b = block.to_vec();
            remove(&mut b, key);
            assert_eq!(b, *want, "{:?}", String::from_utf8_lossy(block));
        }
        let mut b = b"NATS/1.0\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n".to_vec();
        remove_all(&mut b, &["X", "Z"]);
        assert_eq!(b, b"NATS/1.0\r\nY: 2\r\n\r\n");
    }

    #[test]
    fn remove_prefix_follows_go() {
        let table: &[(&[u8], &str, &[u8])] = &[
            (
                b"NATS/1.0\r\nNats-Expected-Stream: S\r\nX: 1\r\nNats-Expected-Last-Sequence: 2\r\n\r\n",
                "Nats-Expected-",
                b"NATS/1.0\r\nX: 1\r\n\r\n",
            ),
            (b"NATS/1.0\r\nNats-Batch-Id: b\r\n\r\n", "Nats-Batch-", b""),
            (b"NATS/1.0\r\nX: Nats-Batch-Id\r\n\r\n", "Nats-Batch-", b"NATS/1.0\r\nX: Nats-Batch-Id\r\n\r\n"),
            (b"NATS/1.0\r\nNats-Batch-Id", "Nats-Batch-", b"NATS/1.0\r\nNats-Batch-Id"),
            (b"NATS/1.0\r\nA: 1\r\n\r\n", "", b"NATS/1.0\r\nA: 1\r\n\r\n"),
        ];
        for (block, prefix, want) in table {
            let mut b = block.to_vec();
            remove_prefix(&mut b, prefix);
            assert_eq!(b, *want, "{:?}", String::from_utf8_lossy(block));
        }
    }

    #[test]
    fn remove_status_follows_go() {
        let table: &[(&[u8], &[u8])] = &[
            (
                b"NATS/1.0 503 No Responders\r\nA: 1\r\n\r\n",
                b"NATS/1.0\r\nA: 1\r\n\r\n",
            ),
            (b"NATS/1.0 503\r\n\r\n", b""),
            (b"NATS/1.0\r\nA: 1\r\n\r\n", b"NATS/1.0\r\nA: 1\r\n\r\n"),
            (b"HTTP/1.1 200\r\n\r\n", b"HTTP/1.1 200\r\n\r\n"),
            (b"NATS/1.0 503", b"NATS/1.0 503"),
        ];
        for (block, want) in table {
            let mut b = block.to_vec();
            remove_status(&mut b);
            assert_eq!(b, *want, "{:?}", String::from_utf8_lossy(block));
        }
    }

    #[test]
    fn gen_header_matches_direct_get_capture() {
        // From raw_msgs.json (direct_get_with_hdrs): the stored block, then Go's
        // four genHeader calls.
        let stored = b"NATS/1.0\r\nA: 1\r\nB:  two  \r\n\r\n";
        let mut h = gen_header(stored, NATS_STREAM, "T");
        h = gen_header(&h, NATS_SUBJECT, "t.1");
        h = gen_header(&h, NATS_SEQUENCE, "2");
        h = gen_header(&h, NATS_TIME_STAMP, "2026-11-26T17:13:41.805160012Z");
        assert_eq!(
            h,
            b"NATS/1.0\r\nA: 1\r\nB:  two  \r\nNats-Stream: T\r\nNats-Subject: t.1\r\n\
Nats-Sequence: 2\r\nNats-Time-Stamp: 2026-11-26T17:13:41.805160012Z\r\n\r\n"
        );
        assert_eq!(gen_header(b"", "K", "v"), b"NATS/1.0\r\nK: v\r\n\r\n");
        assert_eq!(gen_header(b"\r\n", "K", "v"), b"NATS/1.0\r\nK: v\r\n\r\n");
        // http.Header.Write: newlines to spaces, then trimmed.
        assert_eq!(
            gen_header(b"", "K", " \ta\r\nb \n"),
            b"NATS/1.0\r\nK: a  b\r\n\r\n"
        );
    }

    #[test]
    fn append_is_the_republish_form() {
        let hs = [(NATS_STREAM, "RP"), (NATS_LAST_SEQUENCE, "1")];
        assert_eq!(
            append(b"NATS/1.0\r\nX-App: v\r\n\r\n", &hs),
            b"NATS/1.0\r\nX-App: v\r\nNats-Stream: RP\r\nNats-Last-Sequence: 1\r\n\r\n"
        );
        assert_eq!(
            append(b"", &hs),
            b"NATS/1.0\r\nNats-Stream: RP\r\nNats-Last-Sequence: 1\r\n\r\n"
        );
        assert_eq!(append(b"", &[]), EMPTY_HDR_BLOCK);
        assert_eq!(append(b"x", &[("K", "v")]), b"K: v\r\n\r\n");
    }

    #[test]
    fn set_follows_go() {
        let table: &[(&[u8], &str, &str, &[u8])] = &[
            (
                b"NATS/1.0\r\nX: 1\r\nY: 2\r\n\r\n",
                "X",
                "xyz",
                b"NATS/1.0\r\nX: xyz\r\nY: 2\r\n\r\n",
            ),
            (
                b"NATS/1.0\r\nX:1\r\n\r\n",
                "X",
                "2",
                b"NATS/1.0\r\nX:2\r\n\r\n",
            ),
            (
                b"NATS/1.0\r\nX:  1\r\n\r\n",
                "X",
                "2",
                b"NATS/1.0\r\nX: 2\r\n\r\n",
            ),
            (
                b"NATS/1.0\r\nX: 1\r\n\r\n",
                "Y",
                "2",
                b"NATS/1.0\r\nX: 1\r\nY: 2\r\n\r\n",
            ),
            (b"NATS/1.0\r\nX: 1", "X", "2", b"NATS/1.0\r\nX: 1"),
            (b"", "Y", "2", b"Y: 2\r\n"),
        ];
        for (block, key, value, want) in table {
            assert_eq!(
                set(block, key, value),
                *want,
                "{:?}",
                String::from_utf8_lossy(block)
            );
        }
    }

    #[test]
    fn builder_writes_go_templates() {
        // Go's `dg` template for direct get, and its status-only replies.
        let b = HeaderBuilder::new()
            .add(NATS_STREAM, "T")
            .add(NATS_SUBJECT, "t.1")
            .add_u64(NATS_SEQUENCE, 1)
            .add(NATS_TIME_STAMP, "2026-11-26T17:13:41.804467076Z")
            .finish();
        assert_eq!(
            &b[..],
            b"NATS/1.0\r\nNats-Stream: T\r\nNats-Subject: t.1\r\nNats-Sequence: 1\r\n\
Nats-Time-Stamp: 2026-11-26T17:13:41.804467076Z\r\n\r\n"
        );
        let eob = HeaderBuilder::new()
            .add_u64(NATS_NUM_PENDING, 6)
            .status(204, "EOB")
            .add_u64(NATS_LAST_SEQUENCE, 2)
            .finish();
        assert_eq!(
            &eob[..],
            b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 6\r\nNats-Last-Sequence: 2\r\n\r\n"
        );
        assert_eq!(&HeaderBuilder::new().finish()[..], EMPTY_HDR_BLOCK);
        assert_eq!(
            &HeaderBuilder::new().status(503, "").finish()[..],
            b"NATS/1.0 503\r\n\r\n"
        );
        let injected = HeaderBuilder::new().add("K", "a\r\nB: x").finish();
        assert_eq!(&injected[..], b"NATS/1.0\r\nK: a  B: x\r\n\r\n");
        assert_eq!(get(&injected, "B"), None);
    }

    /// A small deterministic xorshift generator, so the test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    /// Random and mutated blocks through every function: nothing may panic, and
    /// a few invariants must hold.
    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut rng = Rng(0x6a65_7463_6f72_6521);
        const ALPHABET: &[u8] = b"NATS/1.0 \r\n:AaBb-\t404xy";
        let seeds: [&[u8]; 4] = [
            b"NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n",
            b"NATS/1.0 404 Not Found\r\n\r\n",
            b"NATS/1.0\r\nNats-Expected-X: 1\r\n\r\n",
            b"",
        ];
        let keys = ["A", "B", "A:", "\r", "\r\n", "", "Nats-Expected-", ":"];
        for round in 0..20_000u32 {
            let block: Vec<u8> = if round % 2 == 0 {
                let len = rng.below(40);
                (0..len)
                    .map(|_| {
                        if rng.chance(80) {
                            ALPHABET[rng.below(ALPHABET.len())]
                        } else {
                            rng.next() as u8
                        }
                    })
                    .collect()
            } else {
                let mut b = seeds[rng.below(seeds.len())].to_vec();
                for _ in 0..rng.below(4) {
                    if b.is_empty() || rng.chance(30) {
                        let at = rng.below(b.len() + 1);
                        b.insert(at, ALPHABET[rng.below(ALPHABET.len())]);
                    } else {
                        let at = rng.below(b.len());
                        if rng.chance(50) {
                            b.remove(at);
                        } else {
                            b[at] = rng.next() as u8;
                        }
                    }
                }
                b
            };
            let key = keys[rng.below(keys.len())];
            if let Some(v) = get(&block, key) {
                // The value is a sub-slice of the block.
                let base = block.as_ptr() as usize;
                let at = v.as_ptr() as usize;
                assert!(at >= base && at + v.len() <= base + block.len());
            }
            let _ = get_str(&block, key);
            let _ = status(&block);
            let _ = iter(&block).count();
            let mut b = block.clone();
            remove(&mut b, key);
            // Go stops only when the key is gone or its line has no CRLF.
            if let Some(i) = key_index(&b, key) {
                assert!(memchr::memmem::find(&b[i..], CRLF).is_none());
            }
            let mut b = block.clone();
            remove_prefix(&mut b, key);
            let mut b = block.clone();
            remove_status(&mut b);
            let _ = gen_header(&block, key, "v\r\n");
            let _ = set(&block, key, "value");
            let _ = append(&block, &[(key, "v")]);
            let _ = HeaderBuilder::new().add(key, "v").finish();
        }
    }
}
