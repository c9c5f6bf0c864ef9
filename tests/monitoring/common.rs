//! Shared by the monitoring tests: both servers side by side, shape comparison.

use jetcore_tests::{server_binary, Impl, Server, ServerBuilder};
use serde_json::Value;

/// The implementation under test and the Go reference, both started from `builder`
/// with the monitoring port on. Returns (under test, reference).
pub fn both(builder: ServerBuilder) -> (Server, Server) {
    // Fail early and clearly when the reference is not installed.
    let _ = server_binary(Impl::Go);
    let ours = builder.clone().monitoring().start();
    let go = builder.monitoring().start_as(Impl::Go);
    (ours, go)
}

/// JSON type names; integers and floats are one type (Go writes `2` for 2.0).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in shape between `reference` and `ours`, as readable lines: keys the
/// reference has and we lack, keys we add, and values of another type. Arrays are
/// compared element by element up to the shorter length. Paths in `ignore` (like
/// `.jetcore` or `.connections[].rtt`) are skipped with everything below them;
/// `[]` in a path stands for any index.
pub fn shape_diff(reference: &Value, ours: &Value, ignore: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    walk("", reference, ours, ignore, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, ignore: &[&str], out: &mut Vec<String>) {
    if ignore.contains(&path) {
        return;
    }
    if kind(a) != kind(b) {
        out.push(format!("{path}: reference {} vs ours {}", kind(a), kind(b)));
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(vb) => walk(&p, va, vb, ignore, out),
                    None if ignore.contains(&p.as_str()) => {}
                    None => out.push(format!("{p}: missing in ours")),
                }
            }
            for k in y.keys() {
                let p = format!("{path}.{k}");
                if !x.contains_key(k) && !ignore.contains(&p.as_str()) {
                    out.push(format!("{p}: only in ours"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            let p = format!("{path}[]");
            for (va, vb) in x.iter().zip(y) {
                walk(&p, va, vb, ignore, out);
            }
        }
        _ => {}
    }
}

/// Panic with every difference when the shapes differ.
pub fn assert_same_shape(what: &str, reference: &Value, ours: &Value, ignore: &[&str]) {
    let diff = shape_diff(reference, ours, ignore);
    assert!(
        diff.is_empty(),
        "{what}: shape differs from the Go server's:\n  {}\n--- ours ---\n{}\n--- Go ---\n{}",
        diff.join("\n  "),
        serde_json::to_string_pretty(ours).unwrap_or_default(),
        serde_json::to_string_pretty(reference).unwrap_or_default()
    );
}

#[test]
fn shape_diff_reports_missing_extra_and_type_changes() {
    let a = serde_json::json!({"a": 1, "b": {"c": "x"}, "l": [{"k": 1}], "skip": {"z": 1}});
    let b = serde_json::json!({"a": 2.5, "b": {"c": 3}, "l": [{"k": 1, "n": true}], "e": 0});
    let diff = shape_diff(&a, &b, &[".skip"]);
    assert_eq!(
        diff,
        vec![
            ".b.c: reference string vs ours number",
            ".l[].n: only in ours",
            ".e: only in ours"
        ]
    );
}
