//! Server limits and connection health: max_payload, max_connections, max_subscriptions,
//! slow consumers (by max_pending and by write deadline), stale connections, many
//! connections at once.

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

/// Connects and does CONNECT + PING; `true` on PONG, `false` if the server answered
/// `-ERR 'maximum connections exceeded'` and closed.
async fn try_connect_under_max_connections(s: &Server) -> bool {
    let mut c = RawConn::connect(s).await;
    // a refused connection may already be closed: a failed write or a reset means refused
    if c.try_send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .is_err()
    {
        return false;
    }
    match c.read_frame().await {
        Ok(Frame::Pong) => true,
        Ok(Frame::Err(e)) if e == "maximum connections exceeded" => false,
        Err(ReadError::Closed(_)) => false,
        other => panic!("unexpected answer {other:?}"),
    }
}

/// `max_connections: 2`: a 3rd connection gets the INFO line, then exactly
/// `-ERR 'maximum connections exceeded'\r\n`, then the server closes it (Go sends the
/// INFO first because the check happens once the client is registered). Several extra
/// connections (with jetcore spread over the cores) are all refused, the two admitted ones
/// keep working, and closing one frees a slot.
#[tokio::test]
async fn max_connections_refuses_extra_connections_and_frees_slots_on_close() {
    let s = ServerBuilder::new().config("max_connections: 2\n").start();
    let mut a = raw(&s).await;
    let mut b = raw(&s).await;
    for _ in 0..4 {
        let mut c = RawConn::connect_no_info(&s.addr()).await;
        c.auto_pong = false;
        let info = c.read_raw_frame().await.expect("INFO before the -ERR");
        assert!(info.starts_with(b"INFO {"), "{}", show(&info));
        c.expect_line("-ERR 'maximum connections exceeded'").await;
        let rest = c.expect_closed(Duration::from_secs(2)).await;
        assert!(rest.is_empty(), "frames after the -ERR: {rest:?}");
    }
    a.send(b"SUB mc 1\r\n").await;
    a.ping_pong().await;
    b.send(b"PUB mc 2\r\nhi\r\n").await;
    b.ping_pong().await;
    a.expect(msg("mc", "1", b"hi")).await;

    // a slot frees once the server has seen `a` close (asynchronously: retry a little)
    drop(a);
    let deadline = Instant::now() + T;
    while !try_connect_under_max_connections(&s).await {
        assert!(Instant::now() < deadline, "no slot freed after a close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.ping_pong().await;
}

/// Go logs each refused connection: `[ERR] 127.0.0.1:<port> - cid:<n> - maximum
/// connections exceeded` (and likewise `maximum subscriptions exceeded`).
#[tokio::test]
async fn go_exact_limit_violations_are_logged() {
    let s = ServerBuilder::new()
        .config("max_connections: 1\nmax_subs: 1\n")
        .start();
    let mut a = raw(&s).await;
    a.send(b"SUB x 1\r\nSUB y 2\r\n").await;
    a.expect(Frame::Err("maximum subscriptions exceeded".into()))
        .await;
    let mut c = RawConn::connect(&s).await;
    c.expect_err_and_close("maximum connections exceeded").await;
    for what in [
        "maximum subscriptions exceeded",
        "maximum connections exceeded",
    ] {
        let suffix = format!(" - {what}");
        s.wait_for_log(&suffix, T);
        let log = s.log_lines();
        assert!(
            log.iter().any(|l| l.contains("[ERR] 127.0.0.1:")
                && l.contains(" - cid:")
                && l.ends_with(&suffix)),
            "no `[ERR] <addr> - cid:<n>{suffix}` line: {log:#?}"
        );
    }
}

/// `max_subs: 2` (Go also accepts the spelling `max_subscriptions`), verbose client:
/// the 3rd SUB gets exactly `-ERR 'maximum subscriptions exceeded'\r\n` instead of `+OK`,
/// the connection stays open, the refused SUB gets no messages, and after an UNSUB there
/// is room again. The limit is per connection.
#[tokio::test]
async fn max_subscriptions_refuses_extra_subs_and_keeps_the_connection() {
    for key in ["max_subs", "max_subscriptions"] {
        let s = ServerBuilder::new().config(&format!("{key}: 2\n")).start();
        let mut c = RawConn::connect(&s).await;
        c.handshake(r#"{"verbose":true}"#).await;
        c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n").await;
        c.expect_bytes(b"+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n")
            .await;
        // sid 4 is refused, so `d` has no subscriber; sid 3 now fits
        c.send(b"UNSUB 1\r\nSUB c 3\r\nSUB d 4\r\nPUB d 2\r\nhi\r\nPUB c 2\r\nhi\r\nPING\r\n")
            .await;
        c.expect_bytes(
            b"+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n+OK\r\n+OK\r\n\
              MSG c 3 2\r\nhi\r\nPONG\r\n",
        )
        .await;
        // queue subscriptions count too; UNSUB of an unknown sid is still +OK
        c.send(b"SUB e q 5\r\nUNSUB 99\r\nPING\r\n").await;
        c.expect_bytes(b"-ERR 'maximum subscriptions exceeded'\r\n+OK\r\nPONG\r\n")
            .await;
        // another connection has its own 2
        let mut other = RawConn::connect(&s).await;
        other.handshake(r#"{"verbose":true}"#).await;
        other.send(b"SUB a 1\r\nSUB b 2\r\nPING\r\n").await;
        other.expect_bytes(b"+OK\r\n+OK\r\nPONG\r\n").await;
        c.ping_pong().await;
    }
}

/// `write_deadline: "1s"`: a subscriber that stops reading while 8 MB are published to it
/// (under the default 64 MB `max_pending`, so that limit is not what trips) fills its
/// socket buffers (it asks for a 4 KB receive buffer; about 3 MB fit in the kernel), the
/// server's write then blocks for 1 s and the server closes it as a slow consumer. The
/// subscriber sees EOF after what the kernel held, within a few seconds, well before the
/// 10 s default deadline; the publisher is not affected. Both servers log
/// `Slow Consumer Detected: WriteDeadline of 1s exceeded` (Go adds `with N chunks of M
/// total bytes.`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_deadline_closes_a_subscriber_that_stops_reading() {
    let s = ServerBuilder::new()
        .config("write_deadline: \"1s\"\nmax_pending: 64MB\n")
        .start();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(s.addr().parse().unwrap()).await.unwrap();
    let mut slow = RawConn::from_stream(stream);
    slow.read_info().await;
    slow.handshake(r#"{"verbose":false}"#).await;
    slow.send(b"SUB wd 1\r\n").await;
    slow.ping_pong().await;

    let mut publisher = raw(&s).await;
    let mut one = b"PUB wd 65536\r\n".to_vec();
    one.extend_from_slice(&[b'x'; 65536]);
    one.extend_from_slice(b"\r\n");
    let t0 = Instant::now();
    let mut sent = 0;
    for _ in 0..128 {
        publisher.send(&one).await;
        sent += one.len();
    }
    publisher.ping_pong().await;
    // the subscriber reads nothing until the deadline has passed
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        use tokio::io::AsyncReadExt;
        let left = Duration::from_secs(8).saturating_sub(t0.elapsed());
        match tokio::time::timeout(left, slow.stream().read(&mut buf)).await {
            Err(_) => panic!(
                "subscriber still connected {:?} after the publish ({got} of {sent} bytes read)",
                t0.elapsed()
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
        }
    }
    assert!(
        got < sent,
        "subscriber got all {sent} bytes: it was not cut off"
    );
    publisher.ping_pong().await;
    assert!(
        s.wait_for_log("Slow Consumer Detected: WriteDeadline of 1s exceeded", T),
        "no write-deadline slow consumer log line"
    );
}
