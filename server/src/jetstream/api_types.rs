//! `$JS.API` request and response bodies beyond stream create, with Go's exact
//! JSON (`server/jetstream_api.go`, `server/jetstream.go`, `server/stream.go`,
//! nats-server 2.15.1), and the PubAck a publish into a stream is answered with.
//!
//! Every shape here was checked byte for byte against replies of the Go server,
//! captured by `tests/clients/capture_api_shapes.py` into `testdata/api/`.
//!
//! - **Encoding**: [`to_go_json`] writes JSON as Go's `json.Marshal` does, which
//!   serde_json alone does not: `<`, `>`, `&`, U+2028 and U+2029 are escaped
//!   (`"t.>"` goes out as `"t.\u003e"`). Use it for every API response.
//! - **Requests** ([`ApiRequest::parse`]) decode like Go's `unmarshalRequest` in
//!   strict mode (the default): unknown fields are errors, names match exactly
//!   or else ASCII case-insensitively, `null` leaves the zero value, several
//!   concatenated JSON values are decoded into the same struct in turn, and the
//!   first error in document order is reported with Go's text.
//! - **Responses**: field order and `omitempty` as Go emits them; each has an
//!   `error(ApiError)` constructor that produces Go's error shape, which for
//!   several of them still carries zero-valued fields (`"total":0,...`,
//!   `"purged":0`, `"streams":null`).
//! - **PubAck** ([`PubAck::to_bytes`]): Go writes successful acks from a
//!   per-stream template, not `json.Marshal`: `domain` comes *before* `seq`, a
//!   duplicate ends in `,"duplicate": true}` (with a space), and names are
//!   quoted with `%q`. Failed acks are `json.Marshal`ed ([`PubAckResponse`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::gotime::GoTime;
use super::stream_info::StreamInfo;

// ---- response types and limits -----------------------------------------------------

/// `JSApiAccountInfoResponseType`.
pub const ACCOUNT_INFO_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.account_info_response";
/// `JSApiStreamNamesResponseType`.
pub const STREAM_NAMES_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_names_response";
/// `JSApiStreamListResponseType`.
pub const STREAM_LIST_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_list_response";
/// `JSApiStreamInfoResponseType` (also in `stream_info`).
pub const STREAM_INFO_RESPONSE_TYPE: &str = super::stream_info::STREAM_INFO_RESPONSE_TYPE;
/// `JSApiStreamCreateResponseType`: Go answers a forwarded duplicate create with
/// a [`StreamInfoResponse`] of this type.
pub const STREAM_CREATE_RESPONSE_TYPE: &str = super::stream_info::STREAM_CREATE_RESPONSE_TYPE;
/// `JSApiStreamUpdateResponseType`.
pub const STREAM_UPDATE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_update_response";
/// `JSApiStreamDeleteResponseType`.
pub const STREAM_DELETE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
/// `JSApiStreamPurgeResponseType`.
pub const STREAM_PURGE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
/// `JSApiMsgGetResponseType`.
pub const MSG_GET_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
/// `JSApiMsgDeleteResponseType`.
pub const MSG_DELETE_RESPONSE_TYPE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";

/// `JSApiNamesLimit`: the `limit` of NAMES responses.
pub const NAMES_LIMIT: usize = 1024;
/// `JSApiListLimit`: the `limit` of LIST responses.
pub const LIST_LIMIT: usize = 256;
/// `JSMaxSubjectDetails`: the `limit` of a stream info with `subjects_filter`.
pub const MAX_SUBJECT_DETAILS: usize = 100_000;

// ---- Go's JSON encoding --------------------------------------------------------------

/// serde_json's compact output with Go's extra escapes (`json.Marshal` sets
/// `escapeHTML`): `<` `>` `&` as `\u003c` `\u003e` `\u0026`, and U+2028/U+2029
/// as `\u2028`/`\u2029`. Control characters already match Go (`\b \f \n \r \t`,
/// else `\u00xx` in lower case); DEL and other non-ASCII text stay raw.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(esc)?;
            start = i + c.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }
}

/// `value` as Go's `json.Marshal` writes it (see [`GoFormatter`]).
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// [`to_go_json`], or an empty body if serialization fails — what Go's
/// `jsonResponse` sends then. None of this module's types can fail.
pub fn go_json_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    to_go_json(value).unwrap_or_default()
}

/// Go's `strconv.Quote` (`%q`), as the PubAck template uses it: `"` and `\`
/// escaped, printable characters kept, `\a \b \f \n \r \t \v`, other ASCII
/// controls and DEL as `\xhh`, non-printable non-ASCII as `\uhhhh`/`\Uhhhhhhhh`.
///
/// "Printable" follows Go's `unicode.IsPrint` for controls, separators
/// (other than the ASCII space), format characters and private use; code points
/// unassigned in Go's Unicode tables are treated as printable.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn go_is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    const NOT_PRINT: &[(u32, u32)] = &[
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xd800, 0xf8ff),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0xfffe, 0xffff),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
        (0xf0000, 0x10ffff),
    ];
    !NOT_PRINT.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

// ---- base64 (Go's []byte in JSON) ----------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (`base64.StdEncoding`), how Go's
/// `encoding/json` writes a `[]byte`.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Decodes `base64.StdEncoding` as Go does for a JSON `[]byte`: `\r` and `\n`
/// are skipped, padding is required, non-zero trailing bits are accepted.
/// The error is Go's `illegal base64 data at input byte N`.
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let symbols: Vec<(usize, u8)> = text
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, c)| c != b'\r' && c != b'\n')
        .collect();
    let bad = |i: usize| format!("illegal base64 data at input byte {i}");
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    for (q, quad) in symbols.chunks(4).enumerate() {
        let last = (q + 1) * 4 >= symbols.len();
        if quad.len() < 4 {
            // A truncated quantum: Go reports the position after the input.
            return Err(bad(text.len()));
        }
        let pad = quad.iter().rev().take_while(|&&(_, c)| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            let first_pad = quad.len() - pad;
            return Err(bad(quad[first_pad.min(3)].0));
        }
        let mut n = 0u32;
        for (k, &(i, c)) in quad.iter().enumerate() {
            let v = if k >= 4 - pad {
                0
            } else {
                val(c).ok_or_else(|| bad(i))?
            };
            n = (n << 6) | v;
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

/// serde adapter: `Bytes` as a base64 string; `null` reads as empty.
mod base64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64_encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Bytes::new()),
            Some(s) => base64_decode(s.as_bytes())
                .map(Bytes::from)
                .map_err(de::Error::custom),
        }
    }
}

// ---- Go's RFC 3339 parsing (time.Time in requests) --------------------------------

const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// The `time` package's `quote`: printable ASCII kept (with `"` and `\`
/// escaped), every other byte as `\xhh`.
fn time_quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        if !(0x20..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

/// Go's `getnum(s, fixed)`: one or two leading digits (exactly two if fixed).
fn getnum(v: &[u8], fixed: bool) -> Option<(i64, usize)> {
    let digit = |i: usize| {
        v.get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| i64::from(b - b'0'))
    };
    let d0 = digit(0)?;
    match digit(1) {
        Some(d1) => Some((d0 * 10 + d1, 2)),
        None if fixed => None,
        None => Some((d0, 1)),
    }
}

/// Parses `s` as Go's `time.Parse(time.RFC3339, s)` does (what
/// `Time.UnmarshalJSON` falls back to, its strict checks being disabled in
/// Go): one- or two-digit hour, a fraction after the seconds with `.` or `,`
/// and any number of digits (beyond nine ignored), `Z` or `±hh:mm` with hours
/// up to 24 and minutes up to 60. The error is Go's `ParseError` text, with
/// Go's precedence (a range error of an element before its syntax error).
pub fn parse_go_rfc3339(s: &str) -> Result<GoTime, String> {
    let whole = s.as_bytes();
    let cannot = |rest: &[u8], elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(whole),
            time_quote(RFC3339_LAYOUT.as_bytes()),
            time_quote(rest),
            time_quote(elem.as_bytes())
        )
    };
    let range = |what: &str| format!("parsing time {}: {what} out of range", time_quote(whole));
    let lit = |v: &mut &[u8], p: u8| -> Result<(), String> {
        match v.split_first() {
            Some((&b, rest)) if b == p => {
                *v = rest;
                Ok(())
            }
            _ => Err(cannot(v, &char::from(p).to_string())),
        }
    };
    let num = |v: &mut &[u8], fixed: bool, elem: &str| -> Result<i64, String> {
        let (n, used) = getnum(v, fixed).ok_or_else(|| cannot(v, elem))?;
        *v = &v[used..];
        Ok(n)
    };

    let mut v = whole;
    // 2006: four bytes through the time package's atoi (optional sign).
    let year = {
        let p = v.get(..4).ok_or_else(|| cannot(v, "2006"))?;
        let (neg, digits) = match p.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, p),
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(cannot(v, "2006"));
        }
        let n = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        v = &v[4..];
        if neg {
            -n
        } else {
            n
        }
    };
    lit(&mut v, b'-')?;
    let month = num(&mut v, true, "01")?;
    if !(1..=12).contains(&month) {
        return Err(range("month"));
    }
    lit(&mut v, b'-')?;
    let day = num(&mut v, true, "02")?;
    lit(&mut v, b'T')?;
    let hour = num(&mut v, false, "15")?;
    if hour >= 24 {
        return Err(range("hour"));
    }
    lit(&mut v, b':')?;
    let min = num(&mut v, true, "04")?;
    if min >= 60 {
        return Err(range("minute"));
    }
    lit(&mut v, b':')?;
    let sec = num(&mut v, true, "05")?;
    if sec >= 60 {
        return Err(range("second"));
    }
    let mut nanos: i64 = 0;
    if v.len() >= 2 && (v[0] == b'.' || v[0] == b',') && v[1].is_ascii_digit() {
        let n = 1 + v[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let used = &v[1..n.min(10)];
        nanos = used
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        for _ in used.len()..9 {
            nanos *= 10;
        }
        v = &v[n..];
    }
    // Z07:00
    let offset_secs = if let Some(rest) = v.strip_prefix(b"Z") {
        v = rest;
        0
    } else {
        if v.len() < 6 || v[3] != b':' {
            return Err(cannot(v, "Z07:00"));
        }
        let hr = getnum(&v[1..3], true).map(|(n, _)| n);
        let mm = hr.and(getnum(&v[4..6], true).map(|(n, _)| n));
        // Go assigns the range error for the hour, then the minute; either
        // wins over a bad sign or an unparsable minute.
        if mm.is_some_and(|m| m > 60) {
            return Err(range("time zone offset minute"));
        }
        if hr.is_some_and(|h| h > 24) {
            return Err(range("time zone offset hour"));
        }
        let (Some(hr), Some(mm)) = (hr, mm) else {
            return Err(cannot(v, "Z07:00"));
        };
        let off = (hr * 60 + mm) * 60;
        let signed = match v[0] {
            b'+' => off,
            b'-' => -off,
            _ => return Err(cannot(v, "Z07:00")),
        };
        v = &v[6..];
        signed
    };
    if !v.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            time_quote(whole),
            time_quote(v)
        ));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(range("day"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Ok(GoTime::from_unix_nanos(
        i128::from(secs) * 1_000_000_000 + i128::from(nanos),
    ))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// serde adapter for `*time.Time` request fields: absent/`null` is `None`, a
/// string goes through [`parse_go_rfc3339`].
mod opt_go_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<GoTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => t.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GoTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => parse_go_rfc3339(&s).map(Some).map_err(de::Error::custom),
        }
    }
}

// ---- request decoding ----------------------------------------------------------------

/// The Go type of a request field, for type checks and Go's error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoKind {
    /// `int`.
    Int,
    /// `uint64`.
    Uint64,
    /// `bool`.
    Bool,
    /// `string`.
    Str,
    /// `[]string`.
    StrList,
    /// `*time.Time`.
    Time,
}

impl GoKind {
    fn go_name(self) -> &'static str {
        match self {
            GoKind::Int => "int",
            GoKind::Uint64 => "uint64",
            GoKind::Bool => "bool",
            GoKind::Str => "string",
            GoKind::StrList => "[]string",
            GoKind::Time => "time.Time",
        }
    }
}

/// A JSON request body type with Go's decoding rules.
pub trait ApiRequest: Sized + Default + DeserializeOwned {
    /// The Go struct name, as in Go's error texts (`JSApiMsgGetRequest`).
    const GO_TYPE: &'static str;
    /// Every JSON field Go knows, with its Go type.
    const FIELDS: &'static [(&'static str, GoKind)];

    /// Decodes `body` as Go's `unmarshalRequest` does (strict mode). An empty or
    /// all-whitespace body gives the zero value. Errors are `JSInvalidJSONErr`
    /// (10025) with Go's text, except for JSON syntax errors, which carry
    /// serde_json's wording (Go's is `invalid character 'x' ... at offset N`) —
    /// and `unexpected EOF` for truncated input, as in Go.
    ///
    /// Whether to decode at all is the handler's call, as in Go: see
    /// [`is_json_object_or_array`] and [`is_empty_request`].
    fn parse(body: &[u8]) -> Result<Self, ApiError> {
        decode_request::<Self>(body).map_err(ApiError::invalid_json)
    }
}

/// A top-level JSON value, keeping an object's keys in document order (Go
/// reports the first error in that order; `serde_json::Map` sorts keys).
enum Doc {
    Object(Vec<(String, Value)>),
    Null,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Doc;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    pairs.push((k, v));
                }
                Ok(Doc::Object(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Doc::Other("array"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Doc, E> {
                Ok(Doc::Other("string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Doc, E> {
                Ok(Doc::Other("bool"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Doc, E> {
                Ok(Doc::Other("number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Doc, E> {
                Ok(Doc::Other("number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Doc, E> {
                Ok(Doc::Other("number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Doc, E> {
                Ok(Doc::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Doc, E> {
                Ok(Doc::Null)
            }
        }
        d.deserialize_any(V)
    }
}

/// Strips serde_json's ` at line L column C` suffix, which Go's texts lack.
fn serde_message(err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "unexpected EOF".to_string();
    }
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Go's `UnmarshalTypeError` kind word for a JSON value going into `kind`:
/// a number that could not become an integer carries its text.
fn value_kind(v: &Value, kind: GoKind) -> String {
    match v {
        Value::Number(n) if matches!(kind, GoKind::Int | GoKind::Uint64) => format!("number {n}"),
        Value::Number(_) => "number".to_string(),
        Value::String(_) => "string".to_string(),
        Value::Bool(_) => "bool".to_string(),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
        Value::Null => "null".to_string(),
    }
}

/// Checks one field's value against its Go type; returns the value to decode
/// (with `null` array elements as `""`, as Go leaves them) or Go's error text.
fn check_field(go_type: &str, name: &str, kind: GoKind, v: Value) -> Result<Value, String> {
    let mismatch = |v: &Value| {
        format!(
            "json: cannot unmarshal {} into Go struct field {go_type}.{name} of type {}",
            value_kind(v, kind),
            kind.go_name()
        )
    };
    let ok = match (kind, &v) {
        (GoKind::Int, Value::Number(n)) => n.as_i64().is_some(),
        (GoKind::Uint64, Value::Number(n)) => n.as_u64().is_some(),
        (GoKind::Bool, Value::Bool(_)) | (GoKind::Str, Value::String(_)) => true,
        (GoKind::Time, Value::String(s)) => {
            parse_go_rfc3339(s)?;
            true
        }
        (GoKind::StrList, Value::Array(_)) => {
            let Value::Array(items) = v else {
                return Err(mismatch(&v));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::String(_) => out.push(item),
                    Value::Null => out.push(Value::String(String::new())),
                    other => {
                        return Err(format!(
                            "json: cannot unmarshal {} into {go_type}.{name}.{i} of type string",
                            value_kind(&other, GoKind::Str)
                        ))
                    }
                }
            }
            return Ok(Value::Array(out));
        }
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(mismatch(&v))
    }
}

/// The body of [`ApiRequest::parse`], with the bare error text.
pub fn decode_request<T: ApiRequest>(body: &[u8]) -> Result<T, String> {
    let mut merged = Map::new();
    let stream = serde_json::Deserializer::from_slice(body).into_iter::<Doc>();
    for doc in stream {
        let doc = doc.map_err(|e| serde_message(&e))?;
        merge_doc::<T>(doc, UnknownFields::Refuse, &mut merged)?;
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| serde_message(&e))
}

/// Go's plain `json.Unmarshal` into `T`, which direct get uses instead of
/// `unmarshalRequest`: exactly one JSON value (an empty or all-whitespace body is an
/// error), unknown fields ignored, `null` the zero value.
pub fn unmarshal<T: ApiRequest>(body: &[u8]) -> Result<T, String> {
    let doc: Doc = serde_json::from_slice(body).map_err(|e| serde_message(&e))?;
    let mut merged = Map::new();
    merge_doc::<T>(doc, UnknownFields::Ignore, &mut merged)?;
    serde_json::from_value(Value::Object(merged)).map_err(|e| serde_message(&e))
}

/// What decoding does with a field `T` does not have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UnknownFields {
    /// Go's `DisallowUnknownFields` (the API's strict decoding).
    Refuse,
    /// Go's default.
    Ignore,
}

/// Adds one decoded JSON document's fields to `merged`, checking each value against
/// its Go type (Go matches field names case-insensitively when no exact match).
fn merge_doc<T: ApiRequest>(
    doc: Doc,
    unknown: UnknownFields,
    merged: &mut Map<String, Value>,
) -> Result<(), String> {
    let pairs = match doc {
        Doc::Null => return Ok(()),
        Doc::Other(kind) => {
            return Err(format!(
                "json: cannot unmarshal {kind} into Go value of type server.{}",
                T::GO_TYPE
            ))
        }
        Doc::Object(pairs) => pairs,
    };
    for (key, value) in pairs {
        let field = T::FIELDS
            .iter()
            .find(|(f, _)| *f == key)
            .or_else(|| T::FIELDS.iter().find(|(f, _)| f.eq_ignore_ascii_case(&key)));
        let Some(&(name, kind)) = field else {
            if unknown == UnknownFields::Ignore {
                continue;
            }
            return Err(format!("json: unknown field {key:?}"));
        };
        if value.is_null() {
            continue;
        }
        let value = check_field(T::GO_TYPE, name, kind, value)?;
        merged.insert(name.to_string(), value);
    }
    Ok(())
}

/// Go's `isJSONObjectOrArray`: after JSON whitespace, `{` or `[`. INFO, NAMES,
/// LIST, STREAM.INFO and PURGE only decode a body for which this holds (any
/// other body is ignored).
pub fn is_json_object_or_array(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

/// Go's `isEmptyRequest`: empty, or a JSON object with no members (`{ }` too).
/// Whitespace alone or `null` is *not* empty. STREAM.DELETE requires this
/// (10038 otherwise); MSG.GET and MSG.DELETE refuse it (10003).
pub fn is_empty_request(body: &[u8]) -> bool {
    if body.is_empty() || body == b"{}" {
        return true;
    }
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(m)) if m.is_empty()
    )
}

// ---- request types ---------------------------------------------------------------------

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `ApiPagedRequest` as consumer NAMES and LIST take it (Go's
/// `JSApiConsumersRequest`): `{"offset":N}`. A negative offset is the handler's
/// to clamp (`max(offset, 0)`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PagedRequest {
    pub offset: i64,
}

impl ApiRequest for PagedRequest {
    const GO_TYPE: &'static str = "JSApiConsumersRequest";
    const FIELDS: &'static [(&'static str, GoKind)] = &[("offset", GoKind::Int)];
}

/// `JSApiStreamNamesRequest`: `{"offset":N,"subject":"filter"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamNamesRequest {
    pub offset: i64,
    /// Only streams whose subjects collide with this one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

impl ApiRequest for StreamNamesRequest {
    const GO_TYPE: &'static str = "JSApiStreamNamesRequest";
    const FIELDS: &'static [(&'static str, GoKind)] =
        &[("offset", GoKind::Int), ("subject", GoKind::Str)];
}

/// `JSApiStreamListRequest`: the same fields as [`StreamNamesRequest`], its own
/// Go name in error texts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamListRequest {
    pub offset: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

impl ApiRequest for StreamListRequest {
    const GO_TYPE: &'static str = "JSApiStreamListRequest";
    const FIELDS: &'static [(&'static str, GoKind)] =
        &[("offset", GoKind::Int), ("subject", GoKind::Str)];
}

/// `JSApiStreamInfoRequest`: `{"offset":N,"deleted_details":b,"subjects_filter":s}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamInfoRequest {
    /// Into the sorted subject list, when `subjects_filter` is set.
    pub offset: i64,
    /// Fill `state.deleted` with the interior deleted sequences.
    #[serde(skip_serializing_if = "is_false")]
    pub deleted_details: bool,
    /// Fill `state.subjects` with the counts of the matching subjects.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subjects_filter: String,
}

impl ApiRequest for StreamInfoRequest {
    const GO_TYPE: &'static str = "JSApiStreamInfoRequest";
    const FIELDS: &'static [(&'static str, GoKind)] = &[
        ("offset", GoKind::Int),
        ("deleted_details", GoKind::Bool),
        ("subjects_filter", GoKind::Str),
    ];
}

/// `JSApiStreamPurgeRequest`: `{"seq":N,"filter":s,"keep":N}`. `seq` purges up
/// to but not including it; `seq` and `keep` together are a 10003 bad request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamPurgeRequest {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub keep: u64,
}

impl ApiRequest for StreamPurgeRequest {
    const GO_TYPE: &'static str = "JSApiStreamPurgeRequest";
    const FIELDS: &'static [(&'static str, GoKind)] = &[
        ("seq", GoKind::Uint64),
        ("filter", GoKind::Str),
        ("keep", GoKind::Uint64),
    ];
}

/// `JSApiMsgGetRequest`, for `STREAM.MSG.GET` and `DIRECT.GET` alike.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgGetRequest {
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub seq: u64,
    #[serde(rename = "last_by_subj", skip_serializing_if = "String::is_empty")]
    pub last_by_subj: String,
    #[serde(rename = "next_by_subj", skip_serializing_if = "String::is_empty")]
    pub next_by_subj: String,
    /// Direct get only; MSG.GET refuses `batch > 0` (10003).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub batch: i64,
    /// Direct get only; MSG.GET refuses `max_bytes > 0` (10003).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_bytes: i64,
    #[serde(with = "opt_go_time", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<GoTime>,
    #[serde(rename = "multi_last", skip_serializing_if = "Vec::is_empty")]
    pub multi_last: Vec<String>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub up_to_seq: u64,
    #[serde(with = "opt_go_time", skip_serializing_if = "Option::is_none")]
    pub up_to_time: Option<GoTime>,
    #[serde(rename = "no_hdr", skip_serializing_if = "is_false")]
    pub no_hdr: bool,
}

impl ApiRequest for MsgGetRequest {
    const GO_TYPE: &'static str = "JSApiMsgGetRequest";
    const FIELDS: &'static [(&'static str, GoKind)] = &[
        ("seq", GoKind::Uint64),
        ("last_by_subj", GoKind::Str),
        ("next_by_subj", GoKind::Str),
        ("batch", GoKind::Int),
        ("max_bytes", GoKind::Int),
        ("start_time", GoKind::Time),
        ("multi_last", GoKind::StrList),
        ("up_to_seq", GoKind::Uint64),
        ("up_to_time", GoKind::Time),
        ("no_hdr", GoKind::Bool),
    ];
}

impl MsgGetRequest {
    /// Go's option check in `jsMsgGetRequest` (after the batch check):
    /// `seq`, `last_by_subj` and `start_time` are mutually exclusive, one of
    /// them or `next_by_subj` is required, and `last_by_subj` excludes
    /// `next_by_subj`. `false` means 10003 bad request.
    pub fn options_valid(&self) -> bool {
        let (seq, last, next, start) = (
            self.seq > 0,
            !self.last_by_subj.is_empty(),
            !self.next_by_subj.is_empty(),
            self.start_time.is_some(),
        );
        !((seq && last)
            || (!seq && !last && !next && !start)
            || (seq && start)
            || (start && last)
            || (last && next))
    }
}

/// `JSApiMsgDeleteRequest`: `{"seq":N,"no_erase":b}`; `no_erase` false means
/// the message is overwritten, not just removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgDeleteRequest {
    pub seq: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_erase: bool,
}

impl ApiRequest for MsgDeleteRequest {
    const GO_TYPE: &'static str = "JSApiMsgDeleteRequest";
    const FIELDS: &'static [(&'static str, GoKind)] =
        &[("seq", GoKind::Uint64), ("no_erase", GoKind::Bool)];
}

// ---- responses: helpers for Go's embedded pointer structs -----------------------

/// Splits a response object into `type`, `error` and the rest, for the
/// responses where Go embeds a pointer struct (present or absent as a whole).
struct Split {
    kind: String,
    error: Option<ApiError>,
    rest: Map<String, Value>,
}

impl Split {
    fn new<'de, D: Deserializer<'de>>(d: D, has_type: bool) -> Result<Self, D::Error> {
        let mut rest = Map::<String, Value>::deserialize(d)?;
        let kind = if has_type {
            match rest.remove("type") {
                Some(Value::String(s)) => s,
                _ => String::new(),
            }
        } else {
            String::new()
        };
        let error = take(&mut rest, "error")?;
        Ok(Split { kind, error, rest })
    }

    fn field<T: DeserializeOwned + Default, E: de::Error>(&mut self, key: &str) -> Result<T, E> {
        Ok(take(&mut self.rest, key)?.unwrap_or_default())
    }

    fn body<T: DeserializeOwned, E: de::Error>(self) -> Result<Option<T>, E> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        serde_json::from_value(Value::Object(self.rest))
            .map(Some)
            .map_err(E::custom)
    }
}

fn take<T: DeserializeOwned, E: de::Error>(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<T>, E> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(E::custom),
    }
}

/// `ApiResponse`: `{"type":...,"error":{...}}`, for errors of requests that
/// have no richer response shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl ApiResponse {
    pub fn error(kind: &str, err: ApiError) -> Self {
        ApiResponse {
            kind: kind.to_string(),
            error: Some(err),
        }
    }
}

// ---- $JS.API.INFO ---------------------------------------------------------------------

/// `JetStreamAccountLimits`. Go's "no limit" is -1 ([`AccountLimits::unlimited`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl AccountLimits {
    /// What a single server with default account limits reports: every limit
    /// -1, `max_bytes_required` false.
    pub fn unlimited() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// `JetStreamTier`: usage and limits of one tier (or of the account, when
/// embedded in [`AccountStats`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JetStreamTier {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: AccountLimits,
}

/// `JetStreamAPIStats`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiStats {
    /// The API level this server implements (`JSApiLevel`, 5 in 2.15).
    pub level: u32,
    /// API requests received since start.
    pub total: u64,
    /// API requests answered with an error.
    pub errors: u64,
    /// Requests being served right now (omitted when 0).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub inflight: u64,
}

/// `JetStreamAccountStats`: the tier fields inline, then `domain` (omitted when
/// empty), `api`, and `tiers` (omitted when empty — a single server with
/// default limits has none).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountStats {
    #[serde(flatten)]
    pub tier: JetStreamTier,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub api: ApiStats,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tiers: BTreeMap<String, JetStreamTier>,
}

/// `JSApiAccountInfoResponse`: `{"type":..., <AccountStats fields>}` or
/// `{"type":...,"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AccountInfoResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stats: Option<AccountStats>,
}

impl AccountInfoResponse {
    pub fn new(stats: AccountStats) -> Self {
        AccountInfoResponse {
            kind: ACCOUNT_INFO_RESPONSE_TYPE.to_string(),
            error: None,
            stats: Some(stats),
        }
    }

    pub fn error(err: ApiError) -> Self {
        AccountInfoResponse {
            kind: ACCOUNT_INFO_RESPONSE_TYPE.to_string(),
            error: Some(err),
            stats: None,
        }
    }
}

impl<'de> Deserialize<'de> for AccountInfoResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = Split::new(d, true)?;
        Ok(AccountInfoResponse {
            kind: std::mem::take(&mut s.kind),
            error: s.error.take(),
            stats: s.body()?,
        })
    }
}

// ---- STREAM.NAMES / STREAM.LIST -----------------------------------------------------

/// An empty list as `null`, as Go marshals a nil slice.
fn empty_as_null<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// `JSApiStreamNamesResponse`. Go never fills `streams` with an empty list: no
/// names (none exist, none match the filter, or the offset is past the end)
/// is `"streams":null`, so an empty `streams` here serializes as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamNamesResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(
        default,
        serialize_with = "empty_as_null",
        deserialize_with = "null_as_empty"
    )]
    pub streams: Vec<String>,
}

impl StreamNamesResponse {
    /// A page of sorted names: `total` is the count before paging, `offset`
    /// the one used (Go clamps it to `total`), `limit` is [`NAMES_LIMIT`].
    pub fn new(streams: Vec<String>, total: usize, offset: usize) -> Self {
        StreamNamesResponse {
            kind: STREAM_NAMES_RESPONSE_TYPE.to_string(),
            error: None,
            total,
            offset,
            limit: NAMES_LIMIT,
            streams,
        }
    }

    /// `{"type":...,"error":{...},"total":0,"offset":0,"limit":0,"streams":null}`.
    pub fn error(err: ApiError) -> Self {
        StreamNamesResponse {
            kind: STREAM_NAMES_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

/// `JSApiStreamListResponse`. `streams` is always a list (`[]` when empty, Go
/// initialises it); `missing` and `offline` are omitted when empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamListResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default)]
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: usize,
    #[serde(default, deserialize_with = "null_as_empty_infos")]
    pub streams: Vec<StreamInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Stream name to the reason it is offline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

fn null_as_empty_infos<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<StreamInfo>, D::Error> {
    Ok(Option::<Vec<StreamInfo>>::deserialize(d)?.unwrap_or_default())
}

impl StreamListResponse {
    /// A page of infos sorted by name; `limit` is [`LIST_LIMIT`]. Note that Go
    /// puts the stored config in LIST (only `_nats.req.level` metadata), not the
    /// one with `_nats.ver`/`_nats.level` that STREAM.INFO reports.
    pub fn new(streams: Vec<StreamInfo>, total: usize, offset: usize) -> Self {
        StreamListResponse {
            kind: STREAM_LIST_RESPONSE_TYPE.to_string(),
            error: None,
            total,
            offset,
            limit: LIST_LIMIT,
            streams,
            missing: Vec::new(),
            offline: BTreeMap::new(),
        }
    }

    /// `{"type":...,"error":{...},"total":0,"offset":0,"limit":0,"streams":[]}`.
    pub fn error(err: ApiError) -> Self {
        StreamListResponse {
            kind: STREAM_LIST_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

// ---- STREAM.INFO / STREAM.UPDATE --------------------------------------------------------

/// `JSApiStreamInfoResponse`: `type`, `error`, then **always** `total`,
/// `offset`, `limit` (all 0 unless `subjects_filter` matched something: then
/// the match count, the offset used and [`MAX_SUBJECT_DETAILS`]), then the
/// StreamInfo fields. Errors keep the three zeros.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StreamInfoResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StreamInfo>,
}

impl StreamInfoResponse {
    /// Without subject paging (`total`/`offset`/`limit` 0).
    pub fn new(info: StreamInfo) -> Self {
        StreamInfoResponse {
            kind: STREAM_INFO_RESPONSE_TYPE.to_string(),
            error: None,
            total: 0,
            offset: 0,
            limit: 0,
            info: Some(info),
        }
    }

    /// With subject paging: `total` matching subjects, from `offset`.
    pub fn with_subjects_page(info: StreamInfo, total: usize, offset: usize) -> Self {
        StreamInfoResponse {
            total,
            offset,
            limit: MAX_SUBJECT_DETAILS,
            ..StreamInfoResponse::new(info)
        }
    }

    /// `{"type":...,"error":{...},"total":0,"offset":0,"limit":0}`.
    pub fn error(err: ApiError) -> Self {
        StreamInfoResponse {
            kind: STREAM_INFO_RESPONSE_TYPE.to_string(),
            error: Some(err),
            ..Default::default()
        }
    }
}

impl<'de> Deserialize<'de> for StreamInfoResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = Split::new(d, true)?;
        let (total, offset, limit) = (s.field("total")?, s.field("offset")?, s.field("limit")?);
        Ok(StreamInfoResponse {
            kind: std::mem::take(&mut s.kind),
            error: s.error.take(),
            total,
            offset,
            limit,
            info: s.body()?,
        })
    }
}

/// `JSApiStreamUpdateResponse`: `{"type":..., <StreamInfo fields>}` (no paging,
/// no `did_create`) or `{"type":...,"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct StreamUpdateResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StreamInfo>,
}

impl StreamUpdateResponse {
    pub fn new(info: StreamInfo) -> Self {
        StreamUpdateResponse {
            kind: STREAM_UPDATE_RESPONSE_TYPE.to_string(),
            error: None,
            info: Some(info),
        }
    }

    pub fn error(err: ApiError) -> Self {
        StreamUpdateResponse {
            kind: STREAM_UPDATE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            info: None,
        }
    }
}

impl<'de> Deserialize<'de> for StreamUpdateResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = Split::new(d, true)?;
        Ok(StreamUpdateResponse {
            kind: std::mem::take(&mut s.kind),
            error: s.error.take(),
            info: s.body()?,
        })
    }
}

// ---- STREAM.DELETE / STREAM.PURGE / STREAM.MSG.DELETE -----------------------------------

/// `JSApiStreamDeleteResponse`: `{"type":...,"success":true}`; `success` is
/// omitted when false, so an error is `{"type":...,"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamDeleteResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl StreamDeleteResponse {
    pub fn ok() -> Self {
        StreamDeleteResponse {
            kind: STREAM_DELETE_RESPONSE_TYPE.to_string(),
            error: None,
            success: true,
        }
    }

    pub fn error(err: ApiError) -> Self {
        StreamDeleteResponse {
            kind: STREAM_DELETE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            success: false,
        }
    }
}

/// `JSApiStreamPurgeResponse`: `{"type":...,"success":true,"purged":N}`;
/// `purged` is always there, so an error is `{..., "error":{...},"purged":0}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamPurgeResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
    #[serde(default)]
    pub purged: u64,
}

impl StreamPurgeResponse {
    pub fn ok(purged: u64) -> Self {
        StreamPurgeResponse {
            kind: STREAM_PURGE_RESPONSE_TYPE.to_string(),
            error: None,
            success: true,
            purged,
        }
    }

    pub fn error(err: ApiError) -> Self {
        StreamPurgeResponse {
            kind: STREAM_PURGE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            success: false,
            purged: 0,
        }
    }
}

/// `JSApiMsgDeleteResponse`: `{"type":...,"success":true}` or the error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MsgDeleteResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub success: bool,
}

impl MsgDeleteResponse {
    pub fn ok() -> Self {
        MsgDeleteResponse {
            kind: MSG_DELETE_RESPONSE_TYPE.to_string(),
            error: None,
            success: true,
        }
    }

    pub fn error(err: ApiError) -> Self {
        MsgDeleteResponse {
            kind: MSG_DELETE_RESPONSE_TYPE.to_string(),
            error: Some(err),
            success: false,
        }
    }
}

// ---- STREAM.MSG.GET -------------------------------------------------------------------------

/// `StoredMsg`: `{"subject","seq","hdrs","data","time"}`. `hdrs` (the raw
/// `NATS/1.0` block) and `data` are standard padded base64 and omitted when
/// empty; `time` is RFC 3339 with nanoseconds in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    #[serde(with = "base64_bytes", skip_serializing_if = "Bytes::is_empty")]
    pub hdrs: Bytes,
    #[serde(with = "base64_bytes", skip_serializing_if = "Bytes::is_empty")]
    pub data: Bytes,
    pub time: GoTime,
}

impl StoredMsg {
    /// From a stored message. A subject that is not UTF-8 gets U+FFFD
    /// replacements, as Go's JSON encoder would write it. Pass empty `hdrs`
    /// for `no_hdr` requests.
    pub fn new(subject: &[u8], seq: u64, hdrs: Bytes, data: Bytes, unix_nanos: i64) -> Self {
        StoredMsg {
            subject: String::from_utf8_lossy(subject).into_owned(),
            seq,
            hdrs,
            data,
            time: GoTime::from_unix_nanos(i128::from(unix_nanos)),
        }
    }
}

/// `JSApiMsgGetResponse`: `{"type":...,"message":{...}}` or the error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MsgGetResponse {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMsg>,
}

impl MsgGetResponse {
    pub fn new(message: StoredMsg) -> Self {
        MsgGetResponse {
            kind: MSG_GET_RESPONSE_TYPE.to_string(),
            error: None,
            message: Some(message),
        }
    }

    pub fn error(err: ApiError) -> Self {
        MsgGetResponse {
            kind: MSG_GET_RESPONSE_TYPE.to_string(),
            error: Some(err),
            message: None,
        }
    }
}

// ---- PubAck ---------------------------------------------------------------------------------

/// `PubAck`. Its serde form is Go's `json.Marshal` (field order `stream`,
/// `seq`, `domain`, `duplicate`, `val`, `batch`, `count`, the last five
/// omitted when empty), used inside [`PubAckResponse`] for failures; a
/// successful ack is written by [`PubAck::to_bytes`] instead.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PubAck {
    pub stream: String,
    pub seq: u64,
    /// The server's JetStream domain, when configured.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "is_false")]
    pub duplicate: bool,
    /// A counter stream's new value. `Some` on counter streams (Go writes
    /// `"val"` there even when empty), `None` otherwise.
    #[serde(skip_serializing_if = "val_is_empty")]
    pub val: Option<String>,
    /// The atomic/fast batch id of a committed batch.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub batch: String,
    /// The batch's message count.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub count: u64,
}

fn val_is_empty(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(str::is_empty)
}

impl PubAck {
    /// An ack for `seq` in `stream` (`domain` empty when none is configured).
    pub fn new(stream: &str, seq: u64, domain: &str) -> Self {
        PubAck {
            stream: stream.to_string(),
            seq,
            domain: domain.to_string(),
            ..Default::default()
        }
    }

    /// The success reply exactly as Go writes it from its per-stream template:
    /// `{"stream":<%q>[,"domain":<%q>],"seq":N` then one of
    /// `,"duplicate": true}` (note the space), `,"batch":<%q>,"count":N}`,
    /// `,"val":<%q>}` or `}` — checked in that order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(48 + self.stream.len() + self.domain.len());
        out.push_str("{\"stream\":");
        out.push_str(&go_quote(&self.stream));
        if !self.domain.is_empty() {
            out.push_str(",\"domain\":");
            out.push_str(&go_quote(&self.domain));
        }
        out.push_str(",\"seq\":");
        out.push_str(&self.seq.to_string());
        if self.duplicate {
            out.push_str(",\"duplicate\": true}");
        } else if !self.batch.is_empty() {
            out.push_str(",\"batch\":");
            out.push_str(&go_quote(&self.batch));
            out.push_str(",\"count\":");
            out.push_str(&self.count.to_string());
            out.push('}');
        } else if let Some(val) = &self.val {
            out.push_str(",\"val\":");
            out.push_str(&go_quote(val));
            out.push('}');
        } else {
            out.push('}');
        }
        out.into_bytes()
    }
}

/// `JSPubAckResponse`: `error` first, then the PubAck fields. Go's failures
/// carry `PubAck{Stream: name}` only — no domain, `seq` 0:
/// `{"error":{...},"stream":"T","seq":0}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PubAckResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ack: Option<PubAck>,
}

impl PubAckResponse {
    /// The failure reply for a publish into `stream`.
    pub fn error(stream: &str, err: ApiError) -> Self {
        PubAckResponse {
            error: Some(err),
            ack: Some(PubAck {
                stream: stream.to_string(),
                ..Default::default()
            }),
        }
    }

    /// The bytes Go sends (`json.Marshal`).
    pub fn to_bytes(&self) -> Vec<u8> {
        go_json_bytes(self)
    }
}

impl<'de> Deserialize<'de> for PubAckResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = Split::new(d, false)?;
        Ok(PubAckResponse {
            error: s.error.take(),
            ack: s.body()?,
        })
    }
}

#[cfg(test)]
#[path = "api_types_tests.rs"]
pub(crate) mod tests;
