//! `/varz` against Go's: the same fields with the same types, the same settings, and
//! the same traffic counts for the same client traffic.

use jetcore_tests::{raw, Server, ServerBuilder};
use serde_json::Value;

use crate::common::{assert_same_shape, both};

/// Fields that differ by design, with the reason:
/// - `git_commit`, `go`: build facts of each binary (jetcore has no git stamp);
/// - `feature_flags`: Go's internal feature switches, none in jetcore;
/// - `system_account`: jetcore has no accounts yet, so no system account
///   (differences.md "Accounts");
/// - `disk_io_wait_stats`: Go's file-store I/O semaphore; jetcore's store has no
///   such semaphore (io_uring queues per core);
/// - `jetcore`: jetcore's own per-core figures;
/// - `jetstream`: compared in `jsz.rs` with JetStream on.
const VARZ_OWN: &[&str] = &[
    ".git_commit",
    ".feature_flags",
    ".system_account",
    ".disk_io_wait_stats",
    ".jetcore",
    ".jetstream",
];

/// Settings that must be equal between servers started the same way.
const SETTINGS: &[&str] = &[
    "proto",
    "host",
    "max_connections",
    "ping_interval",
    "ping_max",
    "http_host",
    "http_base_path",
    "https_port",
    "auth_timeout",
    "max_control_line",
    "max_payload",
    "max_pending",
    "tls_timeout",
    "write_deadline",
    "cluster",
    "gateway",
    "leaf",
    "mqtt",
    "websocket",
    "connections",
    "total_connections",
    "routes",
    "remotes",
    "leafnodes",
    "slow_consumers",
    "stale_connections",
];

fn assert_settings_equal(ours: &Value, go: &Value, keys: &[&str]) {
    for k in keys {
        assert_eq!(ours[k], go[k], "/varz {k}");
    }
}

#[test]
fn varz_has_go_fields_and_settings() {
    let (ours, go) = both(ServerBuilder::new());
    let (a, b) = (ours.monitor_json("/varz"), go.monitor_json("/varz"));
    assert_same_shape("/varz", &b, &a, VARZ_OWN);
    assert_settings_equal(&a, &b, SETTINGS);
    assert_eq!(
        a["jetstream"], b["jetstream"],
        "JetStream off: an empty object"
    );
    assert_eq!(a["port"], ours.port());
    // Both report the configured `-1`, not the port bound.
    assert_eq!(a["http_port"], -1);
    assert_eq!(a["http_port"], b["http_port"]);
    assert_eq!(a["server_id"], a["server_name"]);
    assert!(a["mem"].as_i64().unwrap() > 0);
    assert!(a["cores"].as_u64().unwrap() >= 1);
    // The second request sees the first counted, as Go counts it.
    let (a, b) = (ours.monitor_json("/varz"), go.monitor_json("/varz"));
    assert_eq!(a["http_req_stats"], b["http_req_stats"]);
    assert_eq!(a["http_req_stats"]["/varz"], 2);
    if !ours.is_go() {
        let per_core = a["jetcore"]["cores"].as_array().unwrap();
        assert_eq!(
            per_core.len(),
            a["jetcore"]["shards"].as_u64().unwrap() as usize
        );
    }
}

#[test]
fn varz_reports_configured_settings() {
    let conf = "max_payload: 65536\nmax_connections: 100\nping_interval: \"30s\"\n\
                ping_max: 5\nwrite_deadline: \"3s\"\nmax_pending: 1000000\n\
                max_control_line: 2048\nmax_subscriptions: 7\nserver_name: mon-test\n";
    let (ours, go) = both(ServerBuilder::new().config(conf));
    let (a, b) = (ours.monitor_json("/varz"), go.monitor_json("/varz"));
    assert_same_shape("/varz", &b, &a, VARZ_OWN);
    assert_settings_equal(&a, &b, SETTINGS);
    for k in ["max_subscriptions", "server_name", "config_digest"] {
        assert_eq!(a[k], b[k], "/varz {k}");
    }
    assert_eq!(a["max_payload"], 65536);
}

/// Three 5-byte messages published by one raw client and delivered back to it:
/// 3 in, 3 out, 15 bytes each way, on both servers; closed clients stay counted.
async fn traffic(s: &Server) -> Value {
    let mut c = raw(s).await;
    c.send(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nHPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\nPUB foo 5\r\nhello\r\n")
        .await;
    for _ in 0..3 {
        c.read_frame().await.expect("a delivered message");
    }
    c.ping_pong().await;
    drop(c);
    // Let the server notice the close.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    s.monitor_json("/varz")
}

#[tokio::test]
async fn varz_counts_client_traffic_like_go() {
    let (ours, go) = both(ServerBuilder::new());
    let (a, b) = (traffic(&ours).await, traffic(&go).await);
    for k in [
        "in_msgs",
        "in_bytes",
        "out_msgs",
        "out_bytes",
        "in_client_msgs",
        "in_client_bytes",
        "out_client_msgs",
        "out_client_bytes",
        "connections",
        "total_connections",
    ] {
        assert_eq!(a[k], b[k], "/varz {k}");
    }
    assert_eq!(a["in_msgs"], 3);
    assert_eq!(a["in_bytes"], 27);
    assert_eq!(a["total_connections"], 1);
    assert_eq!(a["connections"], 0);
}

/// After a SIGHUP reload, `/varz` shows the new settings and a later
/// `config_load_time`, on both servers.
#[test]
fn varz_follows_a_config_reload() {
    let (ours, go) = both(ServerBuilder::new().config("max_payload: 1000\n"));
    for s in [&ours, &go] {
        let before = s.monitor_json("/varz");
        assert_eq!(before["max_payload"], 1000);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(s.dir().join("server.conf"), "max_payload: 2000\n").unwrap();
        // SAFETY: kill sends a signal to the child we started.
        unsafe { libc::kill(s.pid().unwrap() as i32, libc::SIGHUP) };
        assert!(
            s.wait_for_log(
                "Reloaded server configuration",
                std::time::Duration::from_secs(5)
            ),
            "{:?}: no reload",
            s.implementation()
        );
        let after = s.monitor_json("/varz");
        assert_eq!(after["max_payload"], 2000, "{:?}", s.implementation());
        let (t0, t1) = (
            before["config_load_time"].as_str().unwrap().to_string(),
            after["config_load_time"].as_str().unwrap().to_string(),
        );
        // RFC 3339 in UTC with the same layout: text order is time order.
        assert!(t1 > t0, "{:?}: {t0} then {t1}", s.implementation());
    }
}
