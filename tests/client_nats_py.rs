//! The nats-py client (`pip install nats-py`) works against the server: runs
//! `clients/smoke.py` (connect, pub/sub, request/reply, no responders, headers, queue
//! group, flush, drain/close), `clients/kv.py` (JetStream streams, KV, object put) and
//! `clients/consumers.py` (pull/push/ordered consumers, KV watch/keys/history).
//! Skipped with a notice if nats-py is missing, unless `CI` is set. The interpreter is
//! `$PYTHON` or `python3`.

use std::process::Command;
use std::time::Duration;

use jetcore_tests::*;

#[test]
fn nats_py_smoke_script_passes() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !command_succeeds(Command::new(&python).args(["-c", "import nats, nats.errors"])) {
        skip_unless_ci(&format!(
            "`{python}` cannot import nats (pip install nats-py)"
        ));
        return;
    }
    let server = ServerBuilder::new().cores(cores_under_test()).start();
    let mut cmd = Command::new(&python);
    cmd.arg(clients_dir().join("smoke.py"));
    let out = run_client_script(cmd, &server, Duration::from_secs(60));
    assert!(out.contains("all checks passed"), "{out}");
}

/// nats-py's JetStream API: streams, publish/PubAck, dedupe, KV put/get/create/
/// update/delete/purge and a multi-chunk object put (`clients/kv.py`).
#[test]
fn nats_py_jetstream_and_kv_script_passes() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !command_succeeds(Command::new(&python).args(["-c", "import nats.js.kv"])) {
        skip_unless_ci(&format!(
            "`{python}` cannot import nats (pip install nats-py)"
        ));
        return;
    }
    let server = ServerBuilder::new()
        .cores(cores_under_test())
        .jetstream()
        .start();
    let mut cmd = Command::new(&python);
    cmd.arg(clients_dir().join("kv.py"));
    let out = run_client_script(cmd, &server, Duration::from_secs(60));
    assert!(out.contains("all checks passed"), "{out}");
}

/// nats-py consumers (`clients/consumers.py`): pull_subscribe + fetch + ack/NAK, a durable
/// push subscription, an ordered consumer, KV watch/keys/history.
#[test]
fn nats_py_consumers_script_passes() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !command_succeeds(Command::new(&python).args(["-c", "import nats.js.kv"])) {
        skip_unless_ci(&format!(
            "`{python}` cannot import nats (pip install nats-py)"
        ));
        return;
    }
    let server = ServerBuilder::new()
        .cores(cores_under_test())
        .jetstream()
        .start();
    let mut cmd = Command::new(&python);
    cmd.arg(clients_dir().join("consumers.py"));
    let out = run_client_script(cmd, &server, Duration::from_secs(60));
    assert!(out.contains("all checks passed"), "{out}");
}
