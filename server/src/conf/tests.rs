//! Tests of the config parser: every syntax form, positions in errors, variables,
//! includes, configs seen in the wild, and garbage input that must not panic.
//! Expected behaviour was checked against nats-server 2.15.1 (`nats-server -t`).

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use super::*;

/// Parses `text` as if read from `test.conf`.
fn parse(text: &str) -> Result<Map, ConfError> {
    parse_str(text, Path::new("test.conf"))
}

/// Renders a value compactly so tables can state expectations as strings:
/// strings quoted, `dt(...)` for datetimes, `[a, b]` and `{k: v}`.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::DateTime(s) => format!("dt({s})"),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| render(&i.value)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => render_map(map),
    }
}

/// Renders a map as `{k: v, ...}` in entry order.
fn render_map(map: &Map) -> String {
    let entries: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}: {}", render(&v.value)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// Parses and renders, or renders the error.
fn outcome(text: &str) -> String {
    match parse(text) {
        Ok(map) => render_map(&map),
        Err(e) => format!("error: {e}"),
    }
}

/// Checks a table of (input, expected rendering).
fn check_table(cases: &[(&str, &str)]) {
    for (input, expected) in cases {
        assert_eq!(outcome(input), *expected, "input: {input:?}");
    }
}

#[test]
fn key_value_separators_and_statement_ends() {
    check_table(&[
        ("a: 1", "{a: 1}"),
        ("a = 1", "{a: 1}"),
        ("a 1", "{a: 1}"),
        ("a:1", "{a: 1}"),
        ("a=1", "{a: 1}"),
        ("a\t=\t1", "{a: 1}"),
        ("a: 1; b: 2", "{a: 1, b: 2}"),
        ("a: 1, b: 2", "{a: 1, b: 2}"),
        ("a: 1\nb: 2\n", "{a: 1, b: 2}"),
        ("a: 1\r\nb: 2\r\n", "{a: 1, b: 2}"),
        ("  a: 1\n\n\n  b: 2", "{a: 1, b: 2}"),
        ("\"a b\": 1", "{a b: 1}"),
        ("'a': 1", "{a: 1}"),
        // A newline between key and value is allowed without a separator only.
        ("a\n1", "{a: 1}"),
        // An empty value at the end of input is an empty string, as in Go.
        ("a:", "{a: \"\"}"),
        ("", "{}"),
        ("   \n\t\n", "{}"),
        // Later keys replace earlier ones and move to the end.
        ("a: 1\nb: 2\na: 3", "{b: 2, a: 3}"),
        // Keys keep their case.
        ("Port: 1", "{Port: 1}"),
    ]);
}

#[test]
fn comments() {
    check_table(&[
        ("# only a comment", "{}"),
        ("// only a comment", "{}"),
        ("a: 1 # trailing", "{a: 1}"),
        ("a: 1 // trailing", "{a: 1}"),
        ("# c\na: 1\n// c\nb: 2", "{a: 1, b: 2}"),
        ("a: 1 #c\n", "{a: 1}"),
        ("m { # c\n a: 1 // c\n # c\n}", "{m: {a: 1}}"),
        ("l [ # c\n 1 // c\n # c\n 2 ]", "{l: [1, 2]}"),
        // '#' inside an unquoted word is part of it.
        ("a: b#c", "{a: \"b#c\"}"),
        // A lone '/' after a value is skipped, as in Go.
        ("a: 1 / \n", "{a: 1}"),
    ]);
}

#[test]
fn json_style_top_level_braces() {
    check_table(&[
        ("{a: 1}", "{a: 1}"),
        ("{a: 1,}", "{a: 1}"),
        ("{\"a\": 1, \"b\": true}", "{a: 1, b: true}"),
        ("{\n  a: 1\n  b: 2\n}\n", "{a: 1, b: 2}"),
        ("{ { a: 1 } , b: 2 }", "{a: 1, b: 2}"),
        ("{ { a: 1 } # c\n b: 2 }", "{a: 1, b: 2}"),
        ("{ a: 1 } b: 2", "{a: 1, b: 2}"),
        // Go accepts extra closing braces and an unclosed block at the end.
        ("a: 1 }}", "{a: 1}"),
        ("{ a: 1\n", "{a: 1}"),
    ]);
}

#[test]
fn strings() {
    check_table(&[
        ("s: \"double\"", "{s: \"double\"}"),
        ("s: 'single'", "{s: \"single\"}"),
        ("s: \"\"", "{s: \"\"}"),
        (
            "s: \"a\\tb\\nc\\rd\\\"e\\\\f\"",
            "{s: \"a\\tb\\nc\\rd\\\"e\\\\f\"}",
        ),
        ("s: \"\\x41\\x42\"", "{s: \"AB\"}"),
        ("s: \"caf\\xc3\\xa9\"", "{s: \"café\"}"),
        ("s: \"multi\nline\"", "{s: \"multi\\nline\"}"),
        ("s: 'no \\t escapes'", "{s: \"no \\\\t escapes\"}"),
        ("s: \"has # and // inside\"", "{s: \"has # and // inside\"}"),
        // Unquoted strings: subjects, paths, URLs, hosts.
        ("s: A.>", "{s: \"A.>\"}"),
        ("s = foo.*.bar", "{s: \"foo.*.bar\"}"),
        ("s: /var/lib/nats", "{s: \"/var/lib/nats\"}"),
        ("s: \"./data/js\"", "{s: \"./data/js\"}"),
        // As in Go, an unquoted value may not start with '.'.
        (
            "s: ./data/js",
            "error: test.conf:1:4: Floats must start with a digit",
        ),
        ("s: nats://host:4222", "{s: \"nats://host:4222\"}"),
        (
            "s: nats://user:pass@host:4222",
            "{s: \"nats://user:pass@host:4222\"}",
        ),
        ("s: localhost:4222", "{s: \"localhost:4222\"}"),
        ("s: foo$bar", "{s: \"foo$bar\"}"),
        ("s: a{b", "{s: \"a{b\"}"),
        // Escapes work in unquoted strings too and make them plain strings.
        ("s: a\\tb", "{s: \"a\\tb\"}"),
        ("s: tru\\x65", "{s: \"true\"}"),
        // A single quote ends an unquoted word.
        ("s: ab'", "{s: \"ab\"}"),
        // Unicode passes through.
        ("s: \"ünïcödé ✓\"", "{s: \"ünïcödé ✓\"}"),
    ]);
}

#[test]
fn block_strings() {
    check_table(&[
        (
            "s: (\nline one\nline two\n)\n",
            "{s: \"\\nline one\\nline two\\n\"}",
        ),
        ("s: (\nkeeps ) inside\n)", "{s: \"\\nkeeps ) inside\\n\"}"),
        ("s: (\n)\nb: 1", "{s: \"\\n\", b: 1}"),
        (
            "s: (abc)",
            "error: test.conf:1:9: Unexpected EOF processing block.",
        ),
    ]);
}

#[test]
fn integers_and_sizes() {
    check_table(&[
        ("n: 0", "{n: 0}"),
        ("n: 4222", "{n: 4222}"),
        ("n: -1", "{n: -1}"),
        ("n: 007", "{n: 7}"),
        ("n: 9223372036854775807", "{n: 9223372036854775807}"),
        ("n: -9223372036854775808", "{n: -9223372036854775808}"),
        ("n: 1k", "{n: 1000}"),
        ("n: 1K", "{n: 1000}"),
        ("n: 1kb", "{n: 1024}"),
        ("n: 1KB", "{n: 1024}"),
        ("n: 1ki", "{n: 1024}"),
        ("n: 1KiB", "{n: 1024}"),
        ("n: 128KB", "{n: 131072}"),
        ("n: 2m", "{n: 2000000}"),
        ("n: 2mb", "{n: 2097152}"),
        ("n: 64MiB", "{n: 67108864}"),
        ("n: 1G", "{n: 1000000000}"),
        ("n: 1Gb", "{n: 1073741824}"),
        ("n: 10G", "{n: 10000000000}"),
        ("n: 1gib", "{n: 1073741824}"),
        ("n: 1t", "{n: 1000000000000}"),
        ("n: 1tb", "{n: 1099511627776}"),
        ("n: 1p", "{n: 1000000000000000}"),
        ("n: 1pib", "{n: 1125899906842624}"),
        ("n: 1e", "{n: 1000000000000000000}"),
        ("n: 1EB", "{n: 1152921504606846976}"),
        ("n: -1k", "{n: -1000}"),
        ("n: -2MB", "{n: -2097152}"),
        ("n: 1k; m: 2", "{n: 1000, m: 2}"),
        ("m { n: 1k }", "{m: {n: 1000}}"),
        // A digit run that goes on with other characters is a string.
        ("n: 4abc", "{n: \"4abc\"}"),
        ("n: 1kx", "{n: \"1kx\"}"),
        ("n: 1k5", "{n: \"1k5\"}"),
        ("n: 1e5", "{n: \"1e5\"}"),
        ("n: 0x10", "{n: \"0x10\"}"),
        ("n: 1_000", "{n: \"1_000\"}"),
        ("n: 12\\t", "{n: \"12\\\\t\"}"),
        // Out of range and unknown suffixes.
        (
            "n: 9223372036854775808",
            "error: test.conf:1:4: integer '9223372036854775808' is out of the range",
        ),
        (
            "n: 10e",
            "error: test.conf:1:4: integer '10e' is out of the range",
        ),
        (
            "n: 1kbb",
            "error: test.conf:1:4: invalid integer suffix 'kbb' in '1kbb'",
        ),
        (
            "n: 1KiBi",
            "error: test.conf:1:4: invalid integer suffix 'KiBi' in '1KiBi'",
        ),
        // Negative numbers never become strings.
        (
            "n: -12abc",
            "error: test.conf:1:7: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'a' instead.",
        ),
        (
            "n: -x",
            "error: test.conf:1:5: Expected a digit but got 'x'.",
        ),
        (
            "n: -.5",
            "error: test.conf:1:5: Floats must start with a digit, not '.'.",
        ),
        (
            "n: 10 MB",
            "error: test.conf:1:7: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'M' instead.",
        ),
    ]);
}

#[test]
fn floats_ips_and_datetimes() {
    check_table(&[
        ("f: 1.5", "{f: 1.5}"),
        ("f: -0.25", "{f: -0.25}"),
        ("f: 3.0", "{f: 3.0}"),
        ("ip: 127.0.0.1", "{ip: \"127.0.0.1\"}"),
        ("ip: 127.0.0.1:4222", "{ip: \"127.0.0.1:4222\"}"),
        ("ip: 0.0.0.0", "{ip: \"0.0.0.0\"}"),
        ("d: 2024-01-31T12:30:59Z", "{d: dt(2024-01-31T12:30:59Z)}"),
        ("d: 2024-02-29T00:00:00Z", "{d: dt(2024-02-29T00:00:00Z)}"),
        (
            "d: 2023-02-29T00:00:00Z",
            "error: test.conf:1:4: expected Zulu formatted DateTime, but got '2023-02-29T00:00:00Z'",
        ),
        (
            "d: 2024-13-01T00:00:00Z",
            "error: test.conf:1:4: expected Zulu formatted DateTime, but got '2024-13-01T00:00:00Z'",
        ),
        (
            "d: 2024-01-01",
            "error: test.conf:1:14: Expected 'T' in ISO8601 datetime, but found EOF instead.",
        ),
        ("d: 12-1", "error: test.conf:1:6: All ISO8601 dates must be in full Zulu form."),
        ("f: .5", "error: test.conf:1:4: Floats must start with a digit"),
        (
            "f: 1.",
            "error: test.conf:1:6: Floats must have a digit after the '.', but got EOF instead.",
        ),
        (
            "f: 1.5k",
            "error: test.conf:1:7: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'k' instead.",
        ),
    ]);
}

#[test]
fn booleans() {
    let words = [
        ("true", true),
        ("TRUE", true),
        ("tRuE", true),
        ("yes", true),
        ("Yes", true),
        ("on", true),
        ("ON", true),
        ("false", false),
        ("False", false),
        ("no", false),
        ("NO", false),
        ("off", false),
        ("Off", false),
    ];
    for (word, expected) in words {
        let map = parse(&format!("b: {word}")).expect(word);
        assert_eq!(
            map.get("b").map(|v| &v.value),
            Some(&Value::Bool(expected)),
            "{word}"
        );
    }
    // Quoted or longer words are strings.
    check_table(&[
        ("b: \"true\"", "{b: \"true\"}"),
        ("b: true1", "{b: \"true1\"}"),
        ("b: yess", "{b: \"yess\"}"),
    ]);
}

#[test]
fn arrays() {
    check_table(&[
        ("a: []", "{a: []}"),
        ("a: [a, b, c]", "{a: [\"a\", \"b\", \"c\"]}"),
        ("a: [a, b, c,]", "{a: [\"a\", \"b\", \"c\"]}"),
        ("a = [\n  \"x\"\n  \"y\"\n]", "{a: [\"x\", \"y\"]}"),
        ("a = [\n  x,\n  y,\n]", "{a: [\"x\", \"y\"]}"),
        (
            "a: [nats://a:4222, nats://b:4222]",
            "{a: [\"nats://a:4222\", \"nats://b:4222\"]}",
        ),
        ("a: [1\n2\n  # c\n3\n]", "{a: [1, 2, 3]}"),
        ("a: [[1, 2], [3]]", "{a: [[1, 2], [3]]}"),
        ("a: [{x: 1}, {y: 2}]", "{a: [{x: 1}, {y: 2}]}"),
        ("a: [true, 1.5, \"s\", 1k]", "{a: [true, 1.5, \"s\", 1000]}"),
        // Go rejects a number right before ']'; jetcore accepts it (see mod.rs).
        ("a: [1, 2, 3]", "{a: [1, 2, 3]}"),
        ("a: [1k]", "{a: [1000]}"),
        // Outside arrays, Go's reading of `1]` as a string is kept.
        ("a: 1]", "{a: \"1]\"}"),
        ("a: [\"x\" / \"y\"]", "{a: [\"x\", \"y\"]}"),
        (
            "a: [1 2]",
            "error: test.conf:1:7: Expected an array value terminator \",\" or an array \
             terminator \"]\", but got '2' instead.",
        ),
        (
            "a: [,1]",
            "error: test.conf:1:5: Unexpected array value terminator ','.",
        ),
        (
            "a: [1,,2]",
            "error: test.conf:1:7: Unexpected array value terminator ','.",
        ),
        (
            "a: [1",
            "error: test.conf:1:6: Expected an array value terminator \",\" or an array \
             terminator \"]\", but got EOF instead.",
        ),
    ]);
}

#[test]
fn maps() {
    check_table(&[
        ("m {}", "{m: {}}"),
        ("m: {}", "{m: {}}"),
        ("m = { a: 1, b: 2 }", "{m: {a: 1, b: 2}}"),
        ("m { a = 1; b = 2 }", "{m: {a: 1, b: 2}}"),
        ("m {\n  a: 1\n  b: 2\n}\n", "{m: {a: 1, b: 2}}"),
        ("m { a: 1, b: 2, }", "{m: {a: 1, b: 2}}"),
        ("m {\n a:\n 1\n}", "{m: {a: 1}}"),
        ("m { a 1 }", "{m: {a: 1}}"),
        ("m { \"x y\": 1, 'z': 2 }", "{m: {x y: 1, z: 2}}"),
        ("m { n { o { p: deep } } }", "{m: {n: {o: {p: \"deep\"}}}}"),
        ("m: { a: 1 }}", "{m: {a: 1}}"),
        ("m { a: 1 / b: 2 }", "{m: {a: 1, b: 2}}"),
        ("m { /a: 1 }", "{m: {a: 1}}"),
        (
            "m { a: 1 b: 2 }",
            "error: test.conf:1:10: Expected a map value terminator \",\" or a map \
             terminator \"}\", but got 'b' instead.",
        ),
        (
            "m { a: }",
            "error: test.conf:1:5: Expected a value for key 'a'",
        ),
        (
            "m { a: , }",
            "error: test.conf:1:8: Unexpected map value terminator ','.",
        ),
        (
            "m { : 1 }",
            "error: test.conf:1:5: Unexpected key separator ':'.",
        ),
        (
            "m { ] }",
            "error: test.conf:1:5: Unexpected array end ']' processing map.",
        ),
        (
            "m {",
            "error: test.conf:1:4: Unexpected EOF processing map.",
        ),
        (
            "m { abc",
            "error: test.conf:1:8: Unexpected EOF processing map key.",
        ),
        (
            "m { 'abc",
            "error: test.conf:1:9: Unexpected EOF processing quoted map key.",
        ),
        (
            "m { \"abc",
            "error: test.conf:1:9: Unexpected EOF processing double quoted map key.",
        ),
    ]);
}

#[test]
fn syntax_errors_have_positions() {
    check_table(&[
        ("port", "error: test.conf:1:1: config is invalid: key 'port' has no value"),
        ("a: 1\nport  \n", "error: test.conf:2:1: config is invalid: key 'port' has no value"),
        ("a:\n1", "error: test.conf:1:3: Expected value but found new line"),
        ("= 1", "error: test.conf:1:1: Unexpected key separator '='"),
        ("a: 1\n  : 2", "error: test.conf:2:3: Unexpected key separator ':'"),
        ("a: \"open", "error: test.conf:1:9: Unexpected EOF."),
        ("a: 'open", "error: test.conf:1:9: Unexpected EOF."),
        ("\"open: 1", "error: test.conf:1:9: Unexpected EOF."),
        (
            "a: \"bad\\q\"",
            "error: test.conf:1:9: Invalid escape character 'q'. Only the following escape \
             characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
        ),
        (
            "a: \"\\xzz\"",
            "error: test.conf:1:7: Expected two hexadecimal digits after '\\x', but got 'zz'",
        ),
        (
            "a: \"\\x4\n\"",
            "error: test.conf:1:8: Expected two hexadecimal digits after '\\x', but hit end of line",
        ),
        (
            "a: b c",
            "error: test.conf:1:6: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'c' instead.",
        ),
        (
            "server_name: a b",
            "error: test.conf:1:16: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'b' instead.",
        ),
        (
            "a: 1 /x",
            "error: test.conf:1:7: Expected a top-level value to end with a new line, \
             comment or EOF, but got 'x' instead.",
        ),
        ("a: 1\n/x", "error: test.conf:2:1: Unexpected '/': comments start with '//' or '#'"),
        (
            "{ a: 1 x",
            "error: test.conf:1:8: Expected a block-level value to end with a new line, \
             comment or EOF, but got 'x' instead.",
        ),
        (
            "{ { a: 1 } x }",
            "error: test.conf:1:12: Expected a block-level to end with a '}', but got 'x' instead.",
        ),
        ("a: 1\n\n   b: [1,\n  ,]", "error: test.conf:4:3: Unexpected array value terminator ','."),
    ]);
}

#[test]
fn value_positions() {
    let map = parse("a: 1\n  b = \"x\"\nm {\n\tc: [1,\n  2]\n}").expect("parse");
    let pos = |s: &Spanned| (s.pos.line, s.pos.col);
    let a = map.get_entry("a").expect("a");
    assert_eq!((a.key_pos.line, a.key_pos.col), (1, 1));
    assert_eq!(pos(&a.value), (1, 4));
    let b = map.get_entry("b").expect("b");
    assert_eq!((b.key_pos.line, b.key_pos.col), (2, 3));
    assert_eq!(pos(&b.value), (2, 7));
    let m = map.get("m").expect("m");
    assert_eq!(pos(m), (3, 3));
    let inner = m.value.as_map().expect("map");
    let c = inner.get_entry("c").expect("c");
    assert_eq!((c.key_pos.line, c.key_pos.col), (4, 2));
    let items = c.value.value.as_array().expect("array");
    assert_eq!(pos(&items[0]), (4, 6));
    assert_eq!(pos(&items[1]), (5, 3));
    assert_eq!(a.value.pos.to_string(), "test.conf:1:4");
}

#[test]
fn map_api() {
    let map = parse("Port: 1\nport: 2\nname: x").expect("parse");
    assert_eq!(map.len(), 3);
    assert!(!map.is_empty());
    // Case-insensitive lookup takes the last spelling written.
    assert_eq!(map.get("PORT").and_then(|v| v.value.as_i64()), Some(2));
    assert_eq!(map.get("NAME").and_then(|v| v.value.as_str()), Some("x"));
    assert!(map.get("missing").is_none());
    let keys: Vec<&str> = map.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["Port", "port", "name"]);
    assert_eq!(Value::Integer(1).type_name(), "integer");
    assert!(Map::new().is_empty());
}

/// Environment variables the tests read, set once before any test looks one up
/// (setting variables while other threads read them is not safe).
fn init_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let vars = [
            ("JETCORE_CONF_TEST_PORT", "4333"),
            ("JETCORE_CONF_TEST_STR", "hello"),
            ("JETCORE_CONF_TEST_LIST", "[a, b]"),
            ("JETCORE_CONF_TEST_SIZE", "2MB"),
            ("JETCORE_CONF_TEST_CYCLE", "$JETCORE_CONF_TEST_CYCLE"),
            ("JETCORE_CONF_TEST_CHAIN", "$JETCORE_CONF_TEST_PORT"),
            ("JETCORE_CONF_TEST_BAD", "a b"),
            ("JETCORE_CONF_TEST_EMPTY", ""),
        ];
        for (name, value) in vars {
            std::env::set_var(name, value);
        }
        std::env::remove_var("JETCORE_CONF_TEST_UNSET");
    });
}

#[test]
fn variables_resolve_in_block_scope() {
    init_env();
    check_table(&[
        ("v: 1\na: $v", "{v: 1, a: 1}"),
        ("v: \"s\"\nm { a: $v }", "{v: \"s\", m: {a: \"s\"}}"),
        // The innermost definition wins.
        (
            "v: 1\nm { v: 2, a: $v }\nb: $v",
            "{v: 1, m: {v: 2, a: 2}, b: 1}",
        ),
        // Arrays are not scopes; the enclosing maps are.
        (
            "v: 1\na: [$v, {w: 2, x: $w, y: $v}]",
            "{v: 1, a: [1, {w: 2, x: 2, y: 1}]}",
        ),
        // Whole maps and arrays can be referenced.
        ("v { a: 1 }\nw: $v", "{v: {a: 1}, w: {a: 1}}"),
        ("v: [1, 2]\nw: $v", "{v: [1, 2], w: [1, 2]}"),
        // The latest definition before the reference counts.
        ("v: 1\nv: 2\na: $v", "{v: 2, a: 2}"),
        // Variables inside quotes are text.
        ("v: 1\na: \"$v\"", "{v: 1, a: \"$v\"}"),
        // bcrypt hashes are not references.
        (
            "p: $2a$11$W2zko751KUvVy59mUTWmpOdWXaW5fe8K2VVd8Iyxbb0pmhDb6eVXi",
            "{p: \"$2a$11$W2zko751KUvVy59mUTWmpOdWXaW5fe8K2VVd8Iyxbb0pmhDb6eVXi\"}",
        ),
    ]);
}

#[test]
fn variables_from_environment() {
    init_env();
    check_table(&[
        ("p: $JETCORE_CONF_TEST_PORT", "{p: 4333}"),
        ("p: $JETCORE_CONF_TEST_STR", "{p: \"hello\"}"),
        ("p: $JETCORE_CONF_TEST_LIST", "{p: [\"a\", \"b\"]}"),
        ("p: $JETCORE_CONF_TEST_SIZE", "{p: 2097152}"),
        ("p: $JETCORE_CONF_TEST_CHAIN", "{p: 4333}"),
        ("p: $JETCORE_CONF_TEST_EMPTY", "{p: \"\"}"),
        // A config definition shadows the environment.
        (
            "JETCORE_CONF_TEST_PORT: 1\np: $JETCORE_CONF_TEST_PORT",
            "{JETCORE_CONF_TEST_PORT: 1, p: 1}",
        ),
    ]);
    let map = parse("a: 1\n  p: $JETCORE_CONF_TEST_LIST").expect("parse");
    let p = map.get("p").expect("p");
    assert_eq!((p.pos.line, p.pos.col), (2, 6));
    let items = p.value.as_array().expect("array");
    assert_eq!((items[1].pos.line, items[1].pos.col), (2, 6));
}

#[test]
fn variable_errors() {
    init_env();
    check_table(&[
        (
            "a: 1\n  p: $JETCORE_CONF_TEST_UNSET",
            "error: test.conf:2:6: variable reference for 'JETCORE_CONF_TEST_UNSET' can not be found",
        ),
        ("p: $", "error: test.conf:1:4: variable reference for '' can not be found"),
        // Variables are case-sensitive (unlike option keys).
        ("A: 1\np: $a", "error: test.conf:2:4: variable reference for 'a' can not be found"),
        // A variable inside a closed block is out of scope.
        ("m { a: 2 }\np: $a", "error: test.conf:2:4: variable reference for 'a' can not be found"),
        // Only earlier definitions are visible.
        ("p: $a\na: 1", "error: test.conf:1:4: variable reference for 'a' can not be found"),
        (
            "p: $2b$11$abc",
            "error: test.conf:1:4: variable reference for '2b$11$abc' can not be found",
        ),
        (
            "p: $JETCORE_CONF_TEST_CYCLE",
            "error: test.conf:1:4: variable reference for 'JETCORE_CONF_TEST_CYCLE' could not \
             be parsed: variable reference for 'JETCORE_CONF_TEST_CYCLE' could not be parsed: \
             variable reference cycle for 'JETCORE_CONF_TEST_CYCLE'",
        ),
        (
            "p: $JETCORE_CONF_TEST_BAD",
            "error: test.conf:1:4: variable reference for 'JETCORE_CONF_TEST_BAD' could not be \
             parsed: Expected a top-level value to end with a new line, comment or EOF, but got \
             'b' instead.",
        ),
    ]);
}

#[test]
fn used_variables_are_marked() {
    let map = parse("v: 1\nw: 2\nm { x: 3, y: $x }\na: $v").expect("parse");
    let used = |key: &str| map.get_entry(key).expect(key).used_as_variable;
    assert!(used("v"));
    assert!(!used("w"));
    assert!(!used("m"));
    assert!(!used("a"));
    let inner = map.get("m").and_then(|m| m.value.as_map()).expect("m");
    assert!(inner.get_entry("x").expect("x").used_as_variable);
}

/// A fresh directory for one test's files, removed by `cleanup`.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jetcore-conf-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("create scratch dir");
    dir
}

/// Writes `text` to `dir/name`.
fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write test file");
}

#[test]
fn includes() {
    let dir = scratch_dir("includes");
    write(&dir, "sub/one.conf", "b: 2\ninclude \"deeper.conf\"\n");
    write(&dir, "sub/deeper.conf", "c: 3\n");
    write(&dir, "sub/two.conf", "x: 1; y: [1, 2]\n");
    write(&dir, "vars.conf", "from_vars: 9\n");
    write(
        &dir,
        "main.conf",
        "a: 1\ninclude sub/one.conf\nm { include 'sub/two.conf' }\ninclude vars.conf\nz: $from_vars\n",
    );
    let map = parse_file(&dir.join("main.conf")).expect("parse");
    assert_eq!(
        render_map(&map),
        "{a: 1, b: 2, c: 3, m: {x: 1, y: [1, 2]}, from_vars: 9, z: 9}"
    );
    // Values from an include carry that file's position.
    let c = map.get("c").expect("c");
    assert_eq!(c.pos.file.as_path(), dir.join("sub/deeper.conf"));
    assert_eq!((c.pos.line, c.pos.col), (1, 4));
    // A variable defined by an include and used after it is marked used.
    assert!(map.get_entry("from_vars").expect("var").used_as_variable);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_errors() {
    let dir = scratch_dir("include-errors");
    write(&dir, "loop.conf", "include loop.conf\n");
    write(&dir, "bad.conf", "a: 1\nb: [\n");
    write(&dir, "scoped.conf", "p: $outer\n");
    write(&dir, "main.conf", "include missing.conf\n");
    let err = parse_file(&dir.join("main.conf")).expect_err("missing include");
    let text = err.to_string();
    assert!(
        text.contains("main.conf:1:1: error parsing include file 'missing.conf', open "),
        "{text}"
    );
    assert!(text.contains("missing.conf"), "{text}");

    let err = parse_file(&dir.join("loop.conf")).expect_err("cycle");
    assert!(err.to_string().contains("include cycle"), "{err}");

    write(&dir, "main.conf", "x: 1\ninclude bad.conf\n");
    let err = parse_file(&dir.join("main.conf")).expect_err("bad include");
    let pos = err.pos().expect("position");
    assert_eq!(pos.file.as_path(), dir.join("bad.conf"));
    assert_eq!(pos.line, 3);

    // An included file does not see the includer's variables (as in Go).
    write(&dir, "main.conf", "outer: 1\ninclude scoped.conf\n");
    let err = parse_file(&dir.join("main.conf")).expect_err("scope");
    assert!(
        err.to_string()
            .contains("variable reference for 'outer' can not be found"),
        "{err}"
    );

    for (text, message) in [
        (
            "include\n x.conf",
            "Expected include value but found new line",
        ),
        (
            "include [x]",
            "Expected include value but found start of an array",
        ),
        (
            "include {x}",
            "Expected include value but found start of a map",
        ),
        (
            "include 5.conf",
            "Expected include value but found start of a number",
        ),
        ("include 'x.conf", "Unexpected EOF in quoted include"),
        (
            "include \"x.conf",
            "Unexpected EOF in double quoted include",
        ),
    ] {
        let err = parse(text).expect_err(text);
        assert!(err.to_string().ends_with(message), "{text:?}: {err}");
    }

    let err = parse_file(&dir.join("nope.conf")).expect_err("no file");
    assert!(matches!(err, ConfError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("error opening config file "),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_paths_join_like_go() {
    // Go's filepath.Join keeps an absolute include path under the including file's
    // directory; `include:` with a separator is an ordinary key.
    let dir = scratch_dir("include-abs");
    std::fs::create_dir_all(dir.join("etc")).expect("mkdir");
    write(&dir, "etc/abs.conf", "abs: true\n");
    write(&dir, "main.conf", "include /etc/abs.conf\ninclude: plain\n");
    let map = parse_file(&dir.join("main.conf")).expect("parse");
    assert_eq!(render_map(&map), "{abs: true, include: \"plain\"}");
    assert_eq!(
        parser_go_join_cases(),
        [
            "a/b.conf",
            "/x/b.conf",
            "/x/etc/b.conf",
            "../b.conf",
            "/b.conf",
            "."
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Resolves include paths the way the parser does, for `include_paths_join_like_go`.
fn parser_go_join_cases() -> Vec<String> {
    let cases = [
        ("test.conf", "a/b.conf"),
        ("/x/test.conf", "b.conf"),
        ("/x/test.conf", "/etc/b.conf"),
        ("test.conf", "../b.conf"),
        ("/test.conf", "../b.conf"),
        ("test.conf", ""),
    ];
    cases
        .iter()
        .map(|(origin, rel)| {
            let dir = parser::go_dir(Path::new(origin));
            parser::go_join(&dir, rel).display().to_string()
        })
        .collect()
}

#[test]
fn configs_from_the_wild() {
    let text = r#"
# NATS server with JetStream
server_name: n1-c1
listen: 0.0.0.0:4222
http: 8222
max_payload: 64MiB
max_pending: 1Gb
max_control_line: 128KB
jetstream {
    store_dir: /data/jetstream
    strict: true
    max_mem_store: 1G
    max_file_store: 10G
}
jetstream { strict: true, max_mem_store: 1G, max_file_store: 10G }
accounts {
    SYS { users = [ { user: sys, password: $2a$11$W2zko751KUvVy59mUTWmpOdWXaW5fe8K2VVd8Iyxbb0pmhDb6eVXi } ] }
    APP {
        jetstream: enabled
        users: [
            { user: a, password: a, permissions: { publish: "A.>", subscribe: [A.>, "_INBOX.>"] } }
            { user: b, password: b }
        ]
        exports [
            { stream: A.> }
        ]
    }
}
system_account: SYS
cluster {
  name: c1
  listen: 0.0.0.0:6222
  routes = [
    nats://n2:6222
    nats://n3:6222
  ]
}
leafnodes {}
websocket {
  port: 8080
  no_tls: true
}
authorization {
  timeout: 2.5
}
"#;
    let map = parse(text).expect("wild config parses");
    assert_eq!(
        map.get("max_payload").and_then(|v| v.value.as_i64()),
        Some(64 << 20)
    );
    assert_eq!(
        map.get("max_pending").and_then(|v| v.value.as_i64()),
        Some(1 << 30)
    );
    assert_eq!(
        map.get("max_control_line").and_then(|v| v.value.as_i64()),
        Some(128 << 10)
    );
    assert_eq!(
        render(&map.get("jetstream").expect("js").value),
        "{strict: true, max_mem_store: 1000000000, max_file_store: 10000000000}"
    );
    let routes = map
        .get("cluster")
        .and_then(|c| c.value.as_map())
        .and_then(|c| c.get("routes"))
        .expect("routes");
    assert_eq!(
        render(&routes.value),
        "[\"nats://n2:6222\", \"nats://n3:6222\"]"
    );
    let app = map
        .get("accounts")
        .and_then(|a| a.value.as_map())
        .and_then(|a| a.get("APP"))
        .expect("APP");
    assert_eq!(
        render(&app.value),
        "{jetstream: \"enabled\", users: [{user: \"a\", password: \"a\", permissions: \
         {publish: \"A.>\", subscribe: [\"A.>\", \"_INBOX.>\"]}}, {user: \"b\", password: \"b\"}], \
         exports: [{stream: \"A.>\"}]}"
    );
    assert_eq!(render(&map.get("leafnodes").expect("leaf").value), "{}");
    assert_eq!(
        render(&map.get("websocket").expect("ws").value),
        "{port: 8080, no_tls: true}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("a: {}{}", "[".repeat(5000), "]".repeat(5000));
    let err = parse(&deep).expect_err("too deep");
    assert!(err.to_string().contains("nesting is too deep"), "{err}");
    let deep = format!("a {}", "{ b ".repeat(5000));
    assert!(parse(&deep).is_err());
    let deep = "{".repeat(5000);
    assert!(parse(&deep).is_err());
}

#[test]
fn byte_order_mark_is_skipped() {
    assert_eq!(outcome("\u{feff}port: 1"), "{port: 1}");
}

#[test]
fn garbage_never_panics() {
    init_env();
    let seeds = [
        "port: 4222\nserver_name: \"n1\" # c\n",
        "m { a: [1, 2k, \"x\\x41\"], b: { c: $v } }\nv: 1\n",
        "{ a: 2024-01-01T00:00:00Z; b: 1.5; c: 127.0.0.1:4222 }",
        "s: (\nblock\n)\ninclude x.conf\n",
        "a = [\n 'q'\n // c\n nats://h:1\n]\n",
    ];
    let alphabet: Vec<char> = "{}[]()\"'#/\\$:=;,\n\r\t -.0129kKbBiIeExaT Z\u{e9}\u{feff}"
        .chars()
        .collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64: deterministic and dependency-free.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..(1 + next() % 6) {
            let at = (next() as usize) % (chars.len() + 1);
            let c = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 => chars.insert(at, c),
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ if at < chars.len() => chars[at] = c,
                _ => chars.push(c),
            }
        }
        let text: String = chars.into_iter().collect();
        let _ = parse(&text);
        let truncated: String = text
            .chars()
            .take((next() as usize) % (text.len() + 1))
            .collect();
        let _ = parse(&truncated);
    }
}

#[test]
fn durations_parse_like_go() {
    let ok = [
        ("0", Duration::ZERO),
        ("-0", Duration::ZERO),
        ("+5s", Duration::from_secs(5)),
        ("2m", Duration::from_secs(120)),
        ("500ms", Duration::from_millis(500)),
        ("1h30m", Duration::from_secs(5400)),
        ("1.5s", Duration::from_millis(1500)),
        (".5s", Duration::from_millis(500)),
        ("5.s", Duration::from_secs(5)),
        ("10us", Duration::from_micros(10)),
        ("10\u{b5}s", Duration::from_micros(10)),
        ("10\u{3bc}s", Duration::from_micros(10)),
        ("100ns", Duration::from_nanos(100)),
        ("1h2m3.5s", Duration::from_millis(3_723_500)),
        ("0s", Duration::ZERO),
        ("1.000000001s", Duration::from_nanos(1_000_000_001)),
        ("2562047h", Duration::from_secs(2_562_047 * 3600)),
    ];
    for (text, expected) in ok {
        assert_eq!(parse_duration(text), Ok(expected), "{text}");
    }
    let bad = [
        ("", "time: invalid duration \"\""),
        ("5", "time: missing unit in duration \"5\""),
        ("5x", "time: unknown unit \"x\" in duration \"5x\""),
        ("s", "time: invalid duration \"s\""),
        (".s", "time: invalid duration \".s\""),
        ("-", "time: invalid duration \"-\""),
        ("1h-2m", "time: unknown unit \"h-\" in duration \"1h-2m\""),
        (
            "9999999999999999999h",
            "time: invalid duration \"9999999999999999999h\"",
        ),
        ("2562048h", "time: invalid duration \"2562048h\""),
        ("-5s", "negative duration \"-5s\" is not allowed"),
    ];
    for (text, expected) in bad {
        assert_eq!(parse_duration(text), Err(expected.to_string()), "{text}");
    }
}

#[test]
fn durations_format_like_go() {
    let cases = [
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(5), "5ns"),
        (Duration::from_nanos(1500), "1.5\u{b5}s"),
        (Duration::from_millis(250), "250ms"),
        (Duration::from_secs(10), "10s"),
        (Duration::from_millis(1500), "1.5s"),
        (Duration::from_secs(60), "1m0s"),
        (Duration::from_secs(90), "1m30s"),
        (Duration::from_secs(3600), "1h0m0s"),
        (Duration::from_millis(3_723_500), "1h2m3.5s"),
    ];
    for (d, expected) in cases {
        assert_eq!(format_duration(d), expected);
    }
}
