//! The nats.js v2 client (npm `nats`, pinned in `clients/package.json`) works against the
//! server: runs `clients/smoke.mjs` (connect, pub/sub, request/reply, no responders,
//! headers, queue group, flush, drain/close) and `clients/consumers.mjs` (JetStream
//! consumers, ordered consumer, KV watch). Skipped with a notice if node or
//! `clients/node_modules/nats` is missing (`cd tests/clients && npm ci`), unless `CI` is set.

use std::process::Command;
use std::time::Duration;

use jetcore_tests::*;

#[test]
fn nats_js_smoke_script_passes() {
    let dir = clients_dir();
    if !command_succeeds(Command::new("node").arg("--version")) {
        skip_unless_ci("`node` is not installed");
        return;
    }
    if !dir.join("node_modules/nats/package.json").is_file() {
        skip_unless_ci("tests/clients/node_modules/nats is missing (cd tests/clients && npm ci)");
        return;
    }
    let server = ServerBuilder::new().cores(cores_under_test()).start();
    let mut cmd = Command::new("node");
    cmd.arg("smoke.mjs").current_dir(&dir);
    let out = run_client_script(cmd, &server, Duration::from_secs(60));
    assert!(out.contains("all checks passed"), "{out}");
}

/// nats.js consumers (`clients/consumers.mjs`): consumers.get + fetch/consume with acks
/// and a NAK, an ordered consumer, KV watch/keys/history.
#[test]
fn nats_js_consumers_script_passes() {
    let dir = clients_dir();
    if !command_succeeds(Command::new("node").arg("--version")) {
        skip_unless_ci("`node` is not installed");
        return;
    }
    if !dir.join("node_modules/nats/package.json").is_file() {
        skip_unless_ci("tests/clients/node_modules/nats is missing (cd tests/clients && npm ci)");
        return;
    }
    let server = ServerBuilder::new()
        .cores(cores_under_test())
        .jetstream()
        .start();
    let mut cmd = Command::new("node");
    cmd.arg("consumers.mjs").current_dir(&dir);
    let out = run_client_script(cmd, &server, Duration::from_secs(60));
    assert!(out.contains("all checks passed"), "{out}");
}
