//! Server process lifecycle as seen from outside: the startup log lines the harness
//! relies on, and a graceful stop (SIGTERM) closing clients and exiting 0.

use std::time::Duration;

use jetcore_tests::*;

#[tokio::test]
async fn startup_log_announces_listen_address_and_readiness() {
    let s = Server::start();
    let log = s.log_lines();
    let listen = format!("Listening for client connections on 127.0.0.1:{}", s.port());
    let i = log
        .iter()
        .position(|l| l.contains(&listen))
        .expect("listen line");
    let j = log
        .iter()
        .position(|l| l.contains("Server is ready"))
        .expect("ready line");
    assert!(i < j, "listen line comes before ready: {log:#?}");
}

/// SIGTERM: connected clients see the connection closed (Go sends no -ERR), and the
/// process exits with status 0.
#[tokio::test]
async fn sigterm_closes_clients_and_exits_zero() {
    let mut s = Server::start();
    let mut c = raw(&s).await;
    c.send(b"SUB foo 1\r\n").await;
    c.ping_pong().await;
    let status = s.stop_graceful(); // blocking is fine: nothing else runs meanwhile
    assert!(status.success(), "exit status {status:?}");
    let rest = c.expect_closed(Duration::from_secs(2)).await;
    assert!(rest.is_empty(), "frames before close: {rest:?}");
}
