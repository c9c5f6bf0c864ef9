//! Go's `json.MarshalIndent(v, "", "  ")`, which every monitoring endpoint uses:
//! two-space indentation, `"key": value`, and Go's HTML escapes in strings
//! (`>` as `\u003e`...), the same escapes the JetStream API uses.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::jetstream::api_types::GoFormatter;

/// serde_json's pretty layout (the same as Go's indent of two spaces) with
/// [`GoFormatter`]'s string escapes.
struct GoPretty<'a> {
    /// Indentation and separators.
    pretty: PrettyFormatter<'a>,
}

impl Formatter for GoPretty<'_> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        GoFormatter.write_string_fragment(w, fragment)
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }
}

/// `value` as Go's `json.MarshalIndent(value, "", "  ")` writes it. Serialization of
/// the monitor's own types cannot fail; if it ever did, the body is what Go sends
/// then: empty.
pub fn to_go_json_pretty<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        GoPretty {
            pretty: PrettyFormatter::with_indent(b"  "),
        },
    );
    match value.serialize(&mut ser) {
        Ok(()) => out,
        Err(e) => {
            tracing::error!("monitoring: cannot encode a response: {e}");
            Vec::new()
        }
    }
}

/// A float as Go's encoder writes it: whole numbers without a fraction (`2`, not
/// `2.0`), others in the shortest form. Use with `#[serde(serialize_with)]`.
pub fn go_f64<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    // Go switches to exponent form at 1e21; below it a whole float prints as digits.
    if v.fract() == 0.0 && v.abs() < 1e21 {
        s.serialize_i128(*v as i128)
    } else {
        s.serialize_f64(*v)
    }
}

/// A 200 JSON response of `value` in Go's layout.
pub fn respond<T: Serialize + ?Sized>(value: &T) -> super::Response {
    super::Response::json(to_go_json_pretty(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        #[derive(Serialize)]
        struct F {
            #[serde(serialize_with = "go_f64")]
            a: f64,
            #[serde(serialize_with = "go_f64")]
            b: f64,
        }
        let text = serde_json::to_string(&F { a: 2.0, b: 0.25 }).unwrap();
        assert_eq!(text, r#"{"a":2,"b":0.25}"#);
    }

    #[test]
    fn indents_and_escapes_like_go() {
        let v = serde_json::json!({"a": [1, {"b": "x>y"}], "e": [], "o": {}});
        let text = String::from_utf8(to_go_json_pretty(&v)).unwrap();
        assert_eq!(
            text,
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x\\u003ey\"\n    }\n  ],\n  \"e\": [],\n  \"o\": {}\n}"
        );
    }
}
