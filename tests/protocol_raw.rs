//! Raw-TCP client protocol edge cases, with the exact bytes the Go server sends
//! (captured from nats-server 2.15.1 with a Python socket client). Server PINGs (sent
//! ~2 s after connect) are answered and skipped by `RawConn`.

use std::time::Duration;

use jetcore_tests::*;

/// What happens after the expected bytes.
#[derive(Clone, Copy, Debug)]
enum End {
    /// The connection stays open: a following `PING` gets `PONG`.
    Open,
    /// The server closes the connection (EOF) with nothing more sent.
    Closed,
}
use End::*;

/// (name, bytes sent right after INFO, exact bytes expected back, what happens then)
type Case = (&'static str, &'static [u8], &'static [u8], End);

// captured from nats-server 2.15.1
const CASES: &[Case] = &[
    // --- CONNECT, verbose, PING
    (
        "verbose defaults to true when absent: +OK after each op (not after PING)",
        b"CONNECT {}\r\nPING\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\n",
        b"+OK\r\nPONG\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\n",
        Open,
    ),
    (
        "verbose false: no +OK",
        b"CONNECT {\"verbose\":false}\r\nPING\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\n",
        b"PONG\r\nMSG foo 1 2\r\nhi\r\n",
        Open,
    ),
    ("PING gets PONG", b"CONNECT {\"verbose\":false}\r\nPING\r\n", b"PONG\r\n", Open),
    ("PING with an argument gets PONG", b"CONNECT {\"verbose\":false}\r\nPING foo\r\n", b"PONG\r\n", Open),
    ("PONG from the client is accepted silently", b"CONNECT {\"verbose\":false}\r\nPONG\r\n", b"", Open),
    ("+OK from the client is accepted silently", b"CONNECT {\"verbose\":false}\r\n+OK\r\n", b"", Open),
    ("INFO from the client is accepted silently", b"CONNECT {\"verbose\":false}\r\nINFO {}\r\n", b"", Open),
    (
        "a second CONNECT is accepted",
        b"CONNECT {\"verbose\":false}\r\nCONNECT {\"verbose\":false}\r\n",
        b"",
        Open,
    ),
    ("unknown CONNECT fields are ignored", b"CONNECT {\"verbose\":false,\"whatever\":1}\r\n", b"", Open),
    ("CONNECT without JSON: closed, no -ERR", b"CONNECT\r\n", b"", Closed),
    ("CONNECT with broken JSON: closed, no -ERR", b"CONNECT {bad\r\n", b"", Closed),
    ("CONNECT with a wrongly typed field: closed, no -ERR", b"CONNECT {\"verbose\":\"yes\"}\r\n", b"", Closed),
    // --- before CONNECT: Go's defaults are verbose (and pedantic) until CONNECT arrives
    ("PING before CONNECT gets PONG", b"PING\r\n", b"PONG\r\n", Open),
    (
        "SUB/PUB before CONNECT are accepted (verbose +OK)",
        b"SUB foo 1\r\nPUB foo 1\r\na\r\nCONNECT {\"verbose\":false}\r\n",
        b"+OK\r\n+OK\r\nMSG foo 1 1\r\na\r\n",
        Open,
    ),
    // --- framing
    (
        "lowercase operations",
        b"connect {\"verbose\":false}\r\nsub foo 1\r\npub foo 2\r\nhi\r\nping\r\n",
        b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
        Open,
    ),
    (
        "bare LF line endings",
        b"CONNECT {\"verbose\":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n",
        b"MSG foo 1 2\r\nhi\r\nPONG\r\n",
        Open,
    ),
    (
        "a payload must end with CRLF, not a bare LF",
        b"CONNECT {\"verbose\":false}\nSUB foo 1\nPUB foo 2\nhi\nPING\n",
        b"-ERR 'Unknown Protocol Operation'\r\n",
        Closed,
    ),
    (
        "tabs and repeated spaces separate arguments",
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB\tfoo\t1\r\nPUB\tfoo  2\r\nhi\r\nHPUB\tfoo  12   14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"MSG foo 1 2\r\nhi\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        Open,
    ),
    (
        "empty payload",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\n",
        b"MSG foo 1 0\r\n\r\n",
        Open,
    ),
    (
        "payload made of CRLFs",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 4\r\n\r\n\r\n\r\n",
        b"MSG foo 1 4\r\n\r\n\r\n\r\n",
        Open,
    ),
    (
        "reply subject and queue group (the queue name is not in MSG)",
        b"CONNECT {\"verbose\":false}\r\nSUB foo grp 9\r\nPUB foo r.1 2\r\nhi\r\n",
        b"MSG foo 9 r.1 2\r\nhi\r\n",
        Open,
    ),
    (
        "a non-numeric sid is accepted and echoed",
        b"CONNECT {\"verbose\":false}\r\nSUB foo abc\r\nPUB foo 1\r\na\r\n",
        b"MSG foo abc 1\r\na\r\n",
        Open,
    ),
    (
        "a second SUB reusing a sid is ignored",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n",
        b"MSG foo 1 1\r\na\r\n",
        Open,
    ),
    // --- protocol errors that close the connection
    (
        "unknown operation",
        b"CONNECT {\"verbose\":false}\r\nFOO bar\r\n",
        b"-ERR 'Unknown Protocol Operation'\r\n",
        Closed,
    ),
    ("empty line", b"CONNECT {\"verbose\":false}\r\n\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", Closed),
    (
        "MSG sent by a client",
        b"CONNECT {\"verbose\":false}\r\nMSG foo 1 2\r\nhi\r\n",
        b"-ERR 'Unknown Protocol Operation'\r\n",
        Closed,
    ),
    (
        "payload longer than its declared size",
        b"CONNECT {\"verbose\":false}\r\nPUB foo 2\r\nhello\r\n",
        b"-ERR 'Unknown Protocol Operation'\r\n",
        Closed,
    ),
    (
        "PUB of size 0 without the payload's CRLF",
        b"CONNECT {\"verbose\":false}\r\nPUB foo 0\r\nPING\r\n",
        b"-ERR 'Unknown Protocol Operation'\r\n",
        Closed,
    ),
    ("PUB with a non-numeric size: closed, no -ERR", b"CONNECT {\"verbose\":false}\r\nPUB foo abc\r\n", b"", Closed),
    ("PUB with a negative size: closed, no -ERR", b"CONNECT {\"verbose\":false}\r\nPUB foo -1\r\n", b"", Closed),
    ("PUB without a size: closed, no -ERR", b"CONNECT {\"verbose\":false}\r\nPUB foo\r\n", b"", Closed),
    (
        "PUB with too many arguments: closed, no -ERR",
        b"CONNECT {\"verbose\":false}\r\nPUB foo bar baz 2\r\nhi\r\n",
        b"",
        Closed,
    ),
    ("SUB with too many arguments: closed, no -ERR", b"CONNECT {\"verbose\":false}\r\nSUB foo q 1 2\r\n", b"", Closed),
    (
        "PUB over the default max_payload (1 MB)",
        b"CONNECT {\"verbose\":false}\r\nPUB foo 2000000\r\n",
        b"-ERR 'Maximum Payload Violation'\r\n",
        Closed,
    ),
    // --- headers
    (
        "HPUB without headers:true in CONNECT: closed, no -ERR",
        b"CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"",
        Closed,
    ),
    (
        "HPUB with headers:false: closed, no -ERR",
        b"CONNECT {\"verbose\":false,\"headers\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"",
        Closed,
    ),
    (
        "HPUB with header size > total size: closed, no -ERR",
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 12 10\r\n",
        b"",
        Closed,
    ),
    (
        "HPUB verbose: one +OK",
        b"CONNECT {\"verbose\":true,\"headers\":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
        b"+OK\r\n+OK\r\n",
        Open,
    ),
    (
        "header block content is not validated",
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo 5 7\r\nHELLOhi\r\n",
        b"HMSG foo 1 5 7\r\nHELLOhi\r\n",
        Open,
    ),
    (
        "no_responders without headers",
        b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n",
        b"-ERR 'no responders requires headers support'\r\n",
        Closed,
    ),
    // --- subjects
    (
        "SUB with an empty token: -ERR, stays open",
        b"CONNECT {\"verbose\":false}\r\nSUB foo..bar 1\r\n",
        b"-ERR 'Invalid Subject'\r\n",
        Open,
    ),
    (
        "SUB invalid subjects, verbose: -ERR instead of +OK",
        b"CONNECT {\"verbose\":true}\r\nSUB foo. 1\r\nSUB .foo 1\r\nSUB foo.>.bar 1\r\n",
        b"+OK\r\n-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\n",
        Open,
    ),
    (
        "a wildcard inside a token is a literal character",
        b"CONNECT {\"verbose\":false}\r\nSUB fo*o 1\r\nPUB fo*o 1\r\na\r\n",
        b"MSG fo*o 1 1\r\na\r\n",
        Open,
    ),
    (
        "queue names are not validated as subjects",
        b"CONNECT {\"verbose\":true}\r\nSUB foo q.* 1\r\nSUB foo q..x 2\r\n",
        b"+OK\r\n+OK\r\n+OK\r\n",
        Open,
    ),
    (
        "pedantic (the default when CONNECT omits it): PUB to an invalid subject gets -ERR, \
         yet a wildcard subject is still delivered, matched literally",
        b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..bar 2\r\nhi\r\n",
        b"-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n-ERR 'Invalid Publish Subject'\r\n",
        Open,
    ),
    (
        "pedantic false: no -ERR for invalid publish subjects; an empty-token subject matches nothing",
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB > 1\r\nPUB foo.* 2\r\nhi\r\nPUB foo..bar 2\r\nhi\r\n",
        b"MSG foo.* 1 2\r\nhi\r\n",
        Open,
    ),
    (
        "SUB with an invalid subject, pedantic false: -ERR all the same",
        b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo. 1\r\n",
        b"-ERR 'Invalid Subject'\r\n",
        Open,
    ),
    (
        "PUB to a wildcard subject, pedantic by default, verbose: -ERR then +OK",
        b"CONNECT {\"verbose\":true}\r\nPUB foo.* 2\r\nhi\r\n",
        b"+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n",
        Open,
    ),
    // --- UNSUB
    (
        "UNSUB of an unknown sid is fine",
        b"CONNECT {\"verbose\":true}\r\nUNSUB 99\r\n",
        b"+OK\r\n+OK\r\n",
        Open,
    ),
    (
        "UNSUB sid max: delivers max messages then unsubscribes",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n",
        b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n",
        Open,
    ),
    (
        "UNSUB sid max below the delivered count unsubscribes at once",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nUNSUB 1 2\r\nPUB foo 1\r\nd\r\n",
        b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nMSG foo 1 1\r\nc\r\n",
        Open,
    ),
    (
        "UNSUB sid 0 unsubscribes at once",
        b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\nd\r\n",
        b"",
        Open,
    ),
    // --- no responders (a requester with headers + no_responders that is subscribed to
    // the reply subject gets a 503 status; the request's own headers are not copied)
    (
        "no responders: HMSG 503 with Nats-Subject",
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.x 1\r\nPUB nobody _INBOX.x 2\r\nhi\r\n",
        b"HMSG _INBOX.x 1 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\n",
        Open,
    ),
    (
        "no responders for an HPUB request",
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.y 7\r\nHPUB nobody.x _INBOX.y 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
        b"HMSG _INBOX.y 7 40 40\r\nNATS/1.0 503\r\nNats-Subject: nobody.x\r\n\r\n\r\n",
        Open,
    ),
    (
        "no responders, verbose",
        b"CONNECT {\"verbose\":true,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.y 7\r\nPUB nobody.x _INBOX.y 0\r\n\r\n",
        b"+OK\r\n+OK\r\n+OK\r\nHMSG _INBOX.y 7 40 40\r\nNATS/1.0 503\r\nNats-Subject: nobody.x\r\n\r\n\r\n",
        Open,
    ),
    (
        "no 503 without no_responders in CONNECT",
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB _INBOX.x 1\r\nPUB nobody _INBOX.x 2\r\nhi\r\n",
        b"",
        Open,
    ),
];

async fn run_case(case: Case) {
    let (name, send, expect, end) = case;
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let mut c = RawConn::connect_no_info(&server.addr()).await;
    c.read_info().await;
    c.send(send).await;
    if !expect.is_empty() {
        c.expect_bytes(expect).await;
    }
    match end {
        Open => {
            c.send(b"PING\r\n").await;
            match c.read_raw_frame().await {
                // verbose connections don't +OK a PING
                Ok(f) => assert_eq!(
                    show(&f),
                    show(b"PONG\r\n"),
                    "{name}: after the expected bytes"
                ),
                Err(e) => panic!("{name}: no PONG after the expected bytes: {e:?}"),
            }
        }
        Closed => {
            let rest = c.expect_closed(Duration::from_secs(2)).await;
            assert!(rest.is_empty(), "{name}: got {rest:?} before close");
        }
    }
}

/// Runs every row of `CASES` on its own server (a few at a time) and reports all failing
/// rows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_table_matches_go_bytes() {
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = Vec::new();
    for case in CASES {
        let limit = limit.clone();
        tasks.push((
            case.0,
            tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                run_case(*case).await
            }),
        ));
    }
    let mut failed = Vec::new();
    for (name, t) in tasks {
        if let Err(e) = t.await {
            let msg = e
                .try_into_panic()
                .ok()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            failed.push(format!("[{name}] {msg}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
}

#[tokio::test]
async fn info_is_the_first_line_with_required_fields() {
    let s = Server::start();
    let c = RawConn::connect(&s).await;
    let line = &c.info_line;
    assert!(line.starts_with(b"INFO {"), "{}", show(line));
    assert!(
        line.ends_with(b"} \r\n"),
        "INFO ends with a space before CRLF: {}",
        show(line)
    );
    assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
    let info = c.info.as_object().expect("INFO JSON object");
    for key in ["server_id", "server_name", "version", "host", "client_ip"] {
        assert!(
            info.get(key).is_some_and(|v| v.is_string()),
            "{key} string: {info:?}"
        );
    }
    for key in ["proto", "port", "max_payload", "client_id"] {
        assert!(
            info.get(key).is_some_and(|v| v.is_u64()),
            "{key} unsigned: {info:?}"
        );
    }
    assert!(info["headers"].as_bool() == Some(true));
    assert_eq!(info["proto"], 1);
    assert_eq!(info["port"], s.port());
    assert_eq!(info["host"], "127.0.0.1");
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert_eq!(info["max_payload"], 1024 * 1024);
    let id = info["server_id"].as_str().unwrap();
    assert!(
        id.len() == 56 && id.starts_with('N'),
        "server_id is an nkey: {id}"
    );
    // client ids differ per connection
    let c2 = RawConn::connect(&s).await;
    assert_ne!(c2.info["client_id"], c.info["client_id"]);
}

/// Clients that send `"protocol":1` (as all modern clients do) get, right after the PONG
/// of their first PING, an async INFO with `connect_info: true` and their account.
#[tokio::test]
async fn first_pong_is_followed_by_connect_info_for_protocol_1_clients() {
    let s = Server::start();
    let mut c = RawConn::connect(&s).await;
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\nPING\r\n")
        .await;
    c.expect(Frame::Pong).await;
    match c.read_frame().await.unwrap() {
        Frame::Info(v) => {
            assert_eq!(v["connect_info"], true, "{v}");
            assert_eq!(v["remote_account"], "$G", "{v}");
            assert_eq!(v["client_id"], c.info["client_id"]);
        }
        f => panic!("expected INFO after the first PONG, got {f:?}"),
    }
    c.expect(Frame::Pong).await; // second PING: no INFO any more
    c.ping_pong().await;
    c.expect_nothing(Duration::from_millis(100)).await;

    // protocol 0 (absent): no such INFO
    let mut c = RawConn::connect(&s).await;
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    c.expect(Frame::Pong).await;
    c.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn commands_split_into_one_byte_writes() {
    let s = Server::start();
    let mut c = RawConn::connect(&s).await;
    let mut conv =
        b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB x.* 1\r\nPUB x.a r 5\r\nhello\r\n"
            .to_vec();
    conv.extend(hpub("x.b", b"NATS/1.0\r\nK: v\r\n\r\n", b"yo"));
    conv.extend_from_slice(b"UNSUB 1\r\nPUB x.c 1\r\nz\r\nPING\r\n");
    c.send_bytewise(&conv).await;
    c.expect_bytes(
        b"MSG x.a 1 r 5\r\nhello\r\nHMSG x.b 1 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nyo\r\nPONG\r\n",
    )
    .await;
}

#[tokio::test]
async fn many_commands_in_one_write_are_all_processed_in_order() {
    let s = Server::start();
    let mut c = RawConn::connect(&s).await;
    let mut batch = b"CONNECT {\"verbose\":false}\r\nSUB many 1\r\n".to_vec();
    let mut want = Vec::new();
    for i in 0..2000 {
        let p = format!("payload-{i}");
        batch.extend(format!("PUB many {}\r\n{p}\r\n", p.len()).as_bytes());
        want.extend(format!("MSG many 1 {}\r\n{p}\r\n", p.len()).as_bytes());
    }
    batch.extend_from_slice(b"PING\r\n");
    want.extend_from_slice(b"PONG\r\n");
    c.send(&batch).await;
    c.expect_bytes(&want).await;
}

/// Go's default max_control_line is 4096, but it only checks at the end of a read
/// buffer, so lines a little over 4096 pass; far over is always rejected.
#[tokio::test]
async fn control_line_limit() {
    let s = Server::start();
    // ~4000 bytes: accepted
    let subject = "a".repeat(4000);
    let mut c = raw(&s).await;
    c.send(format!("SUB {subject} 1\r\nPUB {subject} 1\r\nx\r\n").as_bytes())
        .await;
    c.expect(msg(&subject, "1", b"x")).await;

    // far over, complete line
    let mut c = raw(&s).await;
    c.send(format!("SUB {} 1\r\n", "a".repeat(10_000)).as_bytes())
        .await;
    c.expect_err_and_close("maximum control line exceeded")
        .await;

    // far over, no line end yet
    let mut c = raw(&s).await;
    c.send(format!("PUB {}", "a".repeat(10_000)).as_bytes())
        .await;
    c.expect_err_and_close("maximum control line exceeded")
        .await;
}

/// A subscriber that did not announce header support gets HPUB messages as MSG with the
/// header block stripped; a header-capable one gets the HMSG bytes unchanged.
#[tokio::test]
async fn headers_are_stripped_for_clients_without_header_support() {
    let s = Server::start();
    let mut plain = RawConn::connect(&s).await;
    plain
        .handshake(r#"{"verbose":false,"headers":false}"#)
        .await;
    plain.send(b"SUB foo 1\r\n").await;
    plain.ping_pong().await;
    let mut hdrs = raw(&s).await;
    hdrs.send(b"SUB foo 1\r\n").await;
    hdrs.ping_pong().await;

    let mut p = raw(&s).await;
    let block = b"NATS/1.0\r\nA: b\r\nA: c\r\nX-Y: z\r\n\r\n";
    let mut send = b"HPUB foo reply 32 34\r\n".to_vec();
    send.extend_from_slice(block);
    send.extend_from_slice(b"hi\r\n");
    send.extend(hpub("foo", b"NATS/1.0\r\nA: b\r\n\r\n", b"")); // headers only
    send.extend_from_slice(b"PUB foo 2\r\nyo\r\n");
    p.send(&send).await;
    p.ping_pong().await;

    plain
        .expect_bytes(b"MSG foo 1 reply 2\r\nhi\r\nMSG foo 1 0\r\n\r\nMSG foo 1 2\r\nyo\r\n")
        .await;
    hdrs.expect_bytes(
        b"HMSG foo 1 reply 32 34\r\nNATS/1.0\r\nA: b\r\nA: c\r\nX-Y: z\r\n\r\nhi\r\n\
          HMSG foo 1 18 18\r\nNATS/1.0\r\nA: b\r\n\r\n\r\n\
          MSG foo 1 2\r\nyo\r\n",
    )
    .await;
}

/// Messages from one connection to another, exact bytes (the cross-connection path).
#[tokio::test]
async fn msg_frames_between_connections() {
    let s = ServerBuilder::new().cores(cores_under_test()).start();
    let mut sub = raw(&s).await;
    sub.send(b"SUB a.> 5\r\nSUB a.b q 6\r\n").await;
    sub.ping_pong().await;
    let mut p = raw(&s).await;
    p.send(b"PUB a.b 3\r\none\r\nPUB a.c _INBOX.1 3\r\ntwo\r\n")
        .await;
    p.ping_pong().await;
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(sub.read_raw_frame().await.unwrap());
    }
    // one message matching two subs of the same connection: both MSGs, any order
    let mut first_two = frames[..2].to_vec();
    first_two.sort();
    assert_eq!(
        first_two.iter().map(|f| show(f)).collect::<Vec<_>>(),
        [
            show(b"MSG a.b 5 3\r\none\r\n"),
            show(b"MSG a.b 6 3\r\none\r\n")
        ]
    );
    assert_eq!(show(&frames[2]), show(b"MSG a.c 5 _INBOX.1 3\r\ntwo\r\n"));
}

/// The 503 is sent when the request was delivered to nobody, to ONE subscription of the
/// requester matching the reply subject (Go's `subForReply`), even when a requester with
/// echo off is itself subscribed to the request subject (a match that is not a delivery).
#[tokio::test]
async fn no_responders_status_goes_to_one_reply_subscription() {
    let s = Server::start();
    let mut c = RawConn::connect(&s).await;
    c.handshake(r#"{"verbose":false,"headers":true,"no_responders":true,"echo":false}"#)
        .await;
    c.send(b"SUB _INBOX.x 1\r\nSUB > 2\r\nPUB nobody _INBOX.x 2\r\nhi\r\nPING\r\n")
        .await;
    let mut frames = Vec::new();
    loop {
        match c.read_frame().await.unwrap() {
            Frame::Pong => break,
            f => frames.push(f),
        }
    }
    assert_eq!(frames.len(), 1, "exactly one 503: {frames:?}");
    match &frames[0] {
        Frame::HMsg {
            subject,
            sid,
            reply: None,
            headers,
            payload,
        } => {
            assert_eq!(subject, "_INBOX.x");
            assert!(sid == "1" || sid == "2", "{sid}");
            assert_eq!(
                show(headers),
                show(b"NATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n")
            );
            assert!(payload.is_empty());
        }
        f => panic!("expected a 503 HMSG, got {f:?}"),
    }
}
