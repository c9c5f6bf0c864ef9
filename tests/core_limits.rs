//! Server limits and connection health: max_payload, slow consumers, stale connections,
//! many connections at once.

use std::time::{Duration, Instant};

use jetcore_tests::*;

const T: Duration = Duration::from_secs(3);

#[tokio::test]
async fn max_payload_is_advertised_and_enforced_by_async_nats() {
    let s = ServerBuilder::new().config("max_payload: 1024\n").start();
    let nc = client(&s).await;
    assert_eq!(nc.server_info().max_payload, 1024);
    let mut sub = nc.subscribe("mp").await.unwrap();
    nc.publish("mp", vec![b'a'; 1024].into())
        .await
        .expect("exactly max_payload is fine");
    assert_eq!(next_msg(&mut sub, T).await.payload.len(), 1024);
    let err = nc.publish("mp", vec![b'a'; 1025].into()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::client::PublishErrorKind::MaxPayloadExceeded,
        "{err}"
    );
    // the connection is still usable
    nc.publish("mp", "small".into()).await.unwrap();
    assert_eq!(&next_msg(&mut sub, T).await.payload[..], b"small");
}

/// Raw clients bypass the client-side check: the server answers
/// `-ERR 'Maximum Payload Violation'` as soon as it reads the PUB/HPUB control line
/// (before the payload) and closes the connection.
#[tokio::test]
async fn max_payload_violation_on_raw_tcp_closes_connection() {
    let s = ServerBuilder::new().config("max_payload: 1024\n").start();
    let mut c = raw(&s).await;
    assert_eq!(c.info["max_payload"], 1024);
    let mut ok = b"PUB mp 1024\r\n".to_vec();
    ok.extend_from_slice(&[b'x'; 1024]);
    ok.extend_from_slice(b"\r\n");
    c.send(&ok).await;
    c.ping_pong().await;
    c.send(b"PUB mp 1025\r\n").await;
    c.expect_err_and_close("Maximum Payload Violation").await;

    // HPUB: the limit applies to the total size (headers + payload)
    let mut c = raw(&s).await;
    c.send(b"HPUB mp 12 1025\r\n").await;
    c.expect_err_and_close("Maximum Payload Violation").await;
}

/// A subscriber that never reads, with a small `max_pending`: the server disconnects it
/// (Go sends no -ERR for this, it just closes) while the publisher keeps publishing,
/// gets its PONGs in time and stays connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_disconnected_and_publisher_is_not_starved() {
    let s = ServerBuilder::new()
        .config("max_payload: 8KB\nmax_pending: 64KB\n")
        .start();
    // subscriber: a tiny receive buffer, and it never reads while the publisher runs
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(s.addr().parse().unwrap()).await.unwrap();
    let mut slow = RawConn::from_stream(stream);
    slow.read_info().await;
    slow.handshake(r#"{"verbose":false}"#).await;
    slow.send(b"SUB slow.subj 1\r\n").await;
    slow.ping_pong().await;

    let mut publisher = raw(&s).await;
    let mut batch = Vec::new();
    for _ in 0..16 {
        batch.extend_from_slice(b"PUB slow.subj 4096\r\n");
        batch.extend_from_slice(&[b'x'; 4096]);
        batch.extend_from_slice(b"\r\n");
    }
    // 64 batches of 64 KB = 4 MB per round, PING/PONG after each round: with a slow
    // consumer that stalled the publisher, the PONG would not come in time.
    let t0 = Instant::now();
    let mut sent: usize = 0;
    for round in 0..8 {
        for _ in 0..64 {
            if let Err(e) = publisher.try_send(&batch).await {
                panic!("round {round}: publisher starved or cut off after {sent} bytes: {e}");
            }
            sent += batch.len();
        }
        let t = Instant::now();
        publisher.ping_pong().await;
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "round {round}: PONG took {:?}",
            t.elapsed()
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(20));

    // now drain the subscriber: it must hit EOF (closed by the server) well before it
    // could have received everything that was published
    let mut got: usize = 0;
    let mut buf = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        use tokio::io::AsyncReadExt;
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, slow.stream().read(&mut buf)).await {
            Err(_) => panic!("slow consumer still connected after reading {got} of {sent} bytes"),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
        }
    }
    assert!(
        got < sent,
        "subscriber got all {sent} bytes: it was not cut off"
    );

    // the publisher is still connected and working
    publisher.send(&batch).await;
    publisher.ping_pong().await;
    if s.is_go() {
        assert!(s.wait_for_log("Slow Consumer Detected", Duration::from_secs(1)));
    }
}

/// `ping_interval: "1s"`, `ping_max: 1`: a client that never answers PING gets
/// `PING` (~1 s), then `-ERR 'Stale Connection'` (~2 s) and is closed.
#[tokio::test]
async fn stale_connection_is_closed_after_unanswered_pings() {
    let s = ServerBuilder::new()
        .config("ping_interval: \"1s\"\nping_max: 1\n")
        .start();
    let mut c = RawConn::connect(&s).await;
    c.auto_pong = false;
    c.send(b"CONNECT {\"verbose\":false}\r\n").await;
    let t0 = Instant::now();
    let frames = c.expect_closed(Duration::from_secs(6)).await;
    assert_eq!(
        frames,
        vec![Frame::Ping, Frame::Err("Stale Connection".into())],
        "after {:?}",
        t0.elapsed()
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "closed too early: {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn client_answering_pings_is_not_stale() {
    let s = ServerBuilder::new()
        .config("ping_interval: \"1s\"\nping_max: 1\n")
        .start();
    let mut c = raw(&s).await; // auto_pong answers the server's PINGs
    c.expect_nothing(Duration::from_millis(3500)).await;
    c.ping_pong().await;
}

/// 1,000 raw connections open at once, each CONNECT + SUB + PING/PONG; then a single
/// publish fans out to all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_connections_all_work() {
    const N: usize = 1000;
    raise_fd_limit(4 * N as u64);
    let s = ServerBuilder::new().cores(cores_under_test()).start();
    let addr = s.addr();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..N {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = RawConn::connect_no_info(&addr).await;
            c.timeout = Duration::from_secs(10);
            c.read_info().await;
            c.send(
                format!("CONNECT {{\"verbose\":false}}\r\nSUB fan.out {i}\r\nPING\r\n").as_bytes(),
            )
            .await;
            c.expect(Frame::Pong).await;
            c
        }));
    }
    let mut conns = Vec::new();
    for t in tasks {
        conns.push(t.await.unwrap());
    }
    let connected = t0.elapsed();
    let mut publisher = raw(&s).await;
    publisher.send(b"PUB fan.out 5\r\nhello\r\n").await;
    publisher.ping_pong().await;
    let mut tasks = Vec::new();
    for (i, mut c) in conns.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            c.timeout = Duration::from_secs(10);
            c.expect(msg("fan.out", &i.to_string(), b"hello")).await;
            c.ping_pong().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "connect {connected:?}, total {:?}",
        t0.elapsed()
    );
}
